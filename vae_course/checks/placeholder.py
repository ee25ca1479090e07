"""The placeholder a lesson leaves where the learner's code goes."""


class Placeholder:
    """A value that equals only itself and shows as nothing: "not written yet"."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __eq__(self, other):
        return other is self

    def __hash__(self):
        return id(self)

    def __repr__(self):
        return "____"

    def __bool__(self):
        return False


____ = Placeholder()


def is_placeholder(value):
    """True for the placeholder itself or a tuple/list made only of placeholders."""
    if isinstance(value, Placeholder):
        return True
    if isinstance(value, (tuple, list)) and value:
        return all(isinstance(v, Placeholder) for v in value)
    return False
