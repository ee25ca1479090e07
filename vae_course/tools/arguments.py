"""argparse types shared by the command line's subcommands: each says in plain words what it wanted."""

import argparse
import math


def _bounded(parse, accept, wanted, text):
    """``parse(text)`` if it succeeds and ``accept`` the value; else an argparse error saying ``wanted``."""
    try:
        value = parse(text)
    except (TypeError, ValueError):
        value = None
    if value is None or not accept(value):
        raise argparse.ArgumentTypeError(f"must be {wanted}, got {text!r}")
    return value


def _int(text):
    return int(text, 10)


def _finite_float(text):
    value = float(text)
    return value if math.isfinite(value) else None


def positive_int(text):
    """An integer of at least 1."""
    return _bounded(_int, lambda v: v >= 1, "a positive whole number", text)


def non_negative_int(text):
    """An integer of at least 0 (seeds, flow steps)."""
    return _bounded(_int, lambda v: v >= 0, "a whole number >= 0", text)


def positive_float(text):
    """A finite number > 0 (learning rates, seconds)."""
    return _bounded(_finite_float, lambda v: v > 0, "a finite number greater than 0", text)


def non_negative_float(text):
    """A finite number >= 0 (beta)."""
    return _bounded(_finite_float, lambda v: v >= 0, "a finite number, 0 or more", text)


def positive_int_list(text):
    """Positive whole numbers separated by commas, e.g. ``256,128`` -> (256, 128)."""
    parse = lambda t: tuple(_int(p.strip()) for p in str(t).split(","))  # noqa: E731
    return _bounded(parse, lambda v: len(v) > 0 and min(v) >= 1,
                    "positive whole numbers separated by commas, e.g. 256,128", text)
