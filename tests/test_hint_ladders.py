"""Hints are a ladder that stops one step short of the answer: no hint of lessons 00-06 quotes the solution's code.

(`solution.<name>()` is there for the answer itself.)
"""

import re

import pytest

from vae_course.checks import REGISTRY

# Lessons 00, 01, 02, 04, 05 and 06 (lesson 03 and lessons 07-09 keep their own conventions).
EXERCISES = [
    "welcome_sigma", "predict_sigma_factor",
    "which_head", "sampling_any_batch", "sample_from_concatenated", "compare_samplers", "predict_blocked_gradients",
    "reparameterize", "sample_normal", "reparam_gradients", "mc_gradients", "predict_score_spread",
    "sigma_from_head", "true_kl_2016", "consistent_sampler", "predict_kl_ratio",
    "kl_sigma", "kl_monte_carlo_estimate", "kl_quadrature_estimate", "predict_draws_needed",
    "kl_log_var", "first_gamma_where_17_3_breaks", "sampling_layer", "predict_kl_at_minus_120",
]


def _normalise(text):
    return re.sub(r"\s+", "", text.replace("`", "")).replace("**", "^")


def _solution_lines(code):
    """The solution's lines that carry an answer: not definitions, comments, scaffolding (a tape's `with` line,
    unpacking the arguments, returning a name) or short lines."""
    lines = []
    for line in code.splitlines():
        line = line.split("  #")[0].strip()
        if not line or line.startswith(("def ", "class ", "#", "super()", "self.seed = seed")):
            continue
        if len(_normalise(line)) < 12 or re.fullmatch(r"return [\w, ]+", line):
            continue
        if line.startswith("with ") or re.fullmatch(r"[\w, ]+ = (args|inputs)", line):
            continue
        lines.append(line)
        target, equals, value = line.partition(" = ")
        if equals and len(_normalise(value)) >= 12:
            lines.append(value)  # the right-hand side alone gives the answer away too
    return lines


@pytest.mark.parametrize("name", EXERCISES)
def test_no_hint_quotes_a_line_of_the_solution(name):
    exercise = REGISTRY[name]
    assert len(exercise.hints) >= 2, f"{name}: a ladder needs at least two hints"
    answer_lines = _solution_lines(exercise.solution)
    assert answer_lines, f"{name}: the solution has no answer line to compare with"
    for number, hint in enumerate(exercise.hints, start=1):
        for line in answer_lines:
            assert _normalise(line) not in _normalise(hint), f"{name}: hint {number} gives away {line!r}"


@pytest.mark.parametrize("name", EXERCISES)
def test_the_solution_is_still_shown_in_full(name):
    assert REGISTRY[name].solution.strip(), f"{name}: `solution.{name}()` must show the answer"
