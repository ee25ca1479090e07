"""What a learner sees: results, hints and solutions, as rich HTML in Jupyter and plain text elsewhere."""

import html
import re

# One colour per outcome (learntools' convention: green, red, grey, amber; hints blue, solutions teal).
COLOURS = {
    "correct": "#1a7f37",
    "incorrect": "#cf222e",
    "not_attempted": "#6e7781",
    "uncheckable": "#9a6700",
    "hint": "#0969da",
    "solution": "#0e7c86",
    "notice": "#6e7781",
}
LABELS = {
    "correct": "Correct",
    "incorrect": "Not yet",
    "not_attempted": "Not attempted yet",
    "uncheckable": "Could not check",
}


def to_html(text):
    """Escape text, then show `code` spans as <code> and keep line breaks."""
    escaped = html.escape(text)
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    return escaped.replace("\n", "<br>")


def _box(colour, label, body_html):
    return (
        f'<div style="border-left: 4px solid {colour}; padding: 0.3em 0.8em; margin: 0.3em 0;">'
        f'<strong style="color: {colour};">{html.escape(label)}:</strong> {body_html}</div>'
    )


class Result:
    """The outcome of one check: ``passed`` (bool), ``status`` and a plain-words ``message``."""

    def __init__(self, exercise, status, message):
        if status not in LABELS:
            raise ValueError(f"unknown status {status!r}")
        self.exercise = exercise
        self.status = status
        self.message = message

    @property
    def passed(self):
        return self.status == "correct"

    @property
    def label(self):
        return LABELS[self.status]

    def __bool__(self):
        return self.passed

    def record(self):
        """The result as plain data (what a grader stores), never the rendered text."""
        return {"exercise": self.exercise, "status": self.status, "message": self.message}

    def __repr__(self):
        return f"{self.label}: {self.message}"

    def _repr_html_(self):
        return _box(COLOURS[self.status], self.label, to_html(self.message))


class Hint:
    """Hint number ``number`` of ``total`` for an exercise."""

    def __init__(self, exercise, number, total, text):
        self.exercise, self.number, self.total, self.text = exercise, number, total, text

    def _more(self):
        if self.number < self.total:
            return f"\n(For another hint, call `hint.{self.exercise}({self.number + 1})`.)"
        return ""

    def __repr__(self):
        return f"Hint {self.number}/{self.total}: {self.text}{self._more()}"

    def _repr_html_(self):
        return _box(COLOURS["hint"], f"Hint {self.number}/{self.total}", to_html(self.text + self._more()))


class SolutionText:
    """A worked solution: a sentence of explanation and the code."""

    def __init__(self, exercise, code, explanation=""):
        self.exercise, self.code, self.explanation = exercise, code.strip("\n"), explanation

    def __repr__(self):
        head = f"Solution: {self.explanation}\n" if self.explanation else "Solution:\n"
        return head + self.code

    def _repr_html_(self):
        body = to_html(self.explanation) if self.explanation else ""
        return _box(COLOURS["solution"], "Solution", f"{body}<pre>{html.escape(self.code)}</pre>")


class Notice:
    """A plain message from the course itself, such as "solutions are off in this course"."""

    def __init__(self, title, text):
        self.title, self.text = title, text

    def __repr__(self):
        return f"{self.title}: {self.text}"

    def _repr_html_(self):
        return _box(COLOURS["notice"], self.title, to_html(self.text))
