"""Named helpers that inspect a learner's answer and raise a verdict in plain words.

Every helper names the object in backticks and says what was expected and
what was found, so a check reads as a short list of expectations.
"""

import inspect

import numpy as np

from ..vae.arrays import to_numpy
from .core import Incorrect, LearnerTimeout, NotAttempted
from .placeholder import is_placeholder


def describe(value):
    """A short description of a value for messages: type, and shape for arrays."""
    if value is None:
        return "None"
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"a {type(value).__name__} of shape {tuple(shape)}"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of length {len(value)}"
    if inspect.isclass(value):
        return f"the class `{value.__name__}`"
    return f"a {type(value).__name__} ({value!r:.60})"


def expect_attempted(value, name):
    """NotAttempted if ``value`` is still the placeholder."""
    if is_placeholder(value):
        raise NotAttempted(
            f"`{name}` is still the `____` placeholder. Write your code in its place, run that cell, "
            "then run this check again."
        )


def expect_callable(fn, name, call_as):
    """The answer must be a function (not its result, not None)."""
    expect_attempted(fn, name)
    if not callable(fn) or inspect.isclass(fn):
        raise Incorrect(f"`{name}` should be a function to call as `{call_as}`, but it is {describe(fn)}.")


def try_call(fn, args, name):
    """``(result, None)``, or ``(None, exception)`` when the learner's code raises.

    The placeholder, returned or still inside the code (an error that mentions it), is NotAttempted.
    """
    try:
        result = fn(*args)
    except LearnerTimeout:
        raise
    except Exception as err:  # the learner's code failed: the caller turns this into a message
        if "Placeholder" in str(err) or "____" in str(err):
            raise NotAttempted(
                f"There is still a `____` placeholder inside `{name}`. Replace every `____` with your code, "
                "run that cell, then run this check again."
            ) from None
        return None, err
    if is_placeholder(result):
        raise NotAttempted(
            f"`{name}` still returns the `____` placeholder. Replace it with your code, run that cell, "
            "then run this check again."
        )
    return result, None


def call_learner(fn, args, name, call_text, advice="", when=(), context=""):
    """Call the learner's function; the placeholder is NotAttempted, an exception is Incorrect in words.

    The message names the call (followed by ``context``, e.g. "with a batch of 4") and ends with ``advice``;
    with ``when``, the advice is added only if the error message contains one of those words.
    """
    result, err = try_call(fn, args, name)
    if err is None:
        return result
    call = f"`{call_text}` {context}" if context else f"`{call_text}`"
    text = f"Calling {call} raised {type(err).__name__}: {error_text(err)}".rstrip()
    if advice and (not when or any(word in text.lower() for word in when)):
        text = f"{text}{'' if text.endswith(('.', '!', '?')) else '.'} {advice}"
    raise Incorrect(text)


def error_text(err):
    """The informative line of an exception's message, skipping Keras's "Exception encountered when calling" wrapper."""
    import re

    text = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", str(err))
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in text.splitlines()]
    lines = [line for line in lines if line and not line.startswith("Exception encountered when calling")]
    return lines[0][:300] if lines else "(no message)"


def to_array(value, name):
    """The learner's result as a float64 NumPy array (tensors, arrays, numbers and numeric lists accepted)."""
    if value is None:
        raise Incorrect(f"`{name}` returned None. Did you forget the `return` statement?")
    try:
        return to_numpy(value, np.float64)
    except Exception:  # any failure to convert (TypeError, ValueError, a backend's own error) means "not numbers"
        raise Incorrect(f"`{name}` should give numbers (an array or tensor), but it gave {describe(value)}.") from None


def expect_shape(array, shape, name, advice=""):
    """Exact shape match; ``advice`` explains the likely cause."""
    if tuple(array.shape) != tuple(shape):
        raise Incorrect(f"`{name}` has shape {tuple(array.shape)}, expected {tuple(shape)}. {advice}".strip())


def expect_finite(array, name, inputs=""):
    """No NaN or infinity."""
    bad = ~np.isfinite(array)
    if bad.any():
        kind = "NaN" if np.isnan(array).any() else "infinity"
        where = f" for {inputs}" if inputs else ""
        raise Incorrect(f"`{name}` contains {kind}{where}. Look for a log of zero or of a negative number, or an exp "
                        f"that overflows.")


def close(a, b, rtol=1e-4, atol=1e-5):
    """np.allclose with the course's default tolerance for float32 answers."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=atol))


def diagnose(actual, expected, mistakes, name, context, rtol=1e-4, atol=1e-5, mistake_atol=None, otherwise=None):
    """Correct if ``actual`` matches ``expected``; else name the first known mistake it matches.

    ``mistakes`` is a list of (values a typical wrong answer gives, message), matched with ``mistake_atol``
    (default ``atol``); ``otherwise`` replaces the message for an answer that matches none of them.
    """
    if close(actual, expected, rtol, atol):
        return
    for wrong_values, message in mistakes:
        if close(actual, wrong_values, rtol, atol if mistake_atol is None else mistake_atol):
            raise Incorrect(message)
    raise Incorrect(otherwise or (
        f"`{name}` gives {_fmt(actual)} for {context}; expected {_fmt(expected)}. "
        "This is not one of the usual slips, so compare your formula with the lesson term by term."
    ))


def _fmt(array):
    array = np.asarray(array, dtype=np.float64)
    return np.array2string(array, precision=4, separator=", ", threshold=8)
