"""check.welcome_sigma: the first check a learner meets."""

import numpy as np
import pytest
from keras import ops

from vae_course.checks import ____, check

from checker_helpers import assert_fails, assert_not_attempted, assert_passes

LOG_VAR = np.array([-2.0, 0.0, 2.0])


def _sqrt_with_nan(values):
    """sqrt of log-variances, NaN where they are negative: the mistake itself, without NumPy's warning."""
    with np.errstate(invalid="ignore"):
        return np.sqrt(values)


@pytest.mark.parametrize(
    "sigma",
    [np.exp(LOG_VAR / 2), np.sqrt(np.exp(LOG_VAR)), ops.exp(LOG_VAR / 2), list(np.exp(LOG_VAR / 2))],
    ids=["numpy", "sqrt", "keras.ops", "list"],
)
def test_correct_answers_pass(sigma):
    assert_passes(check.welcome_sigma(LOG_VAR, sigma))


@pytest.mark.parametrize(
    "sigma, match",
    [
        (np.exp(LOG_VAR), r"the variance"),
        (LOG_VAR / 2, r"still a logarithm"),
        (np.exp(LOG_VAR) / 2, r"Divide inside the exponential"),
        (np.exp(-LOG_VAR / 2), r"1/σ"),
        (_sqrt_with_nan(LOG_VAR), r"NaN"),
        (np.exp(LOG_VAR / 2)[:2], r"shape \(2,\), expected \(3,\)"),
        (1.0, r"shape \(\), expected \(3,\)"),
        (None, r"None"),
        ("sigma", r"should give numbers"),
        (LOG_VAR + 7, r"not one of the usual slips"),
    ],
)
def test_typical_mistakes_are_named(sigma, match):
    with np.errstate(all="ignore"):
        assert_fails(check.welcome_sigma(LOG_VAR, sigma), match)


def test_placeholder_is_not_attempted():
    assert_not_attempted(check.welcome_sigma(LOG_VAR, ____))


@pytest.mark.parametrize("guess", [7.39, 7, 8, 6.5, np.float32(7.4)])
def test_prediction_of_the_sigma_factor_passes_near_e_squared(guess):
    result = check.predict_sigma_factor(guess)
    assert_passes(result)
    assert "7.39" in result.message


@pytest.mark.parametrize(
    "guess, match",
    [
        (54.6, r"factor for the variance"),
        (2, r"does not grow by adding"),
        (4, r"does not grow by adding"),
        (3, r"does not grow by adding"),
        (100, r"from 6.28 to 8.5 count as right"),
        (1, r"true value is 7.39"),
        ("seven", r"single number"),
        ([7.4], r"single number"),
        (True, r"single number"),
        (float("inf"), r"finite number"),
    ],
)
def test_wrong_predictions_of_the_sigma_factor_are_named(guess, match):
    assert_fails(check.predict_sigma_factor(guess), match)


def test_prediction_placeholder_is_not_attempted():
    assert_not_attempted(check.predict_sigma_factor(____))
