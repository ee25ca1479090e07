"""Lesson 00's warm-up: from a log-variance to a standard deviation, and a first 'predict, then check'."""

import numpy as np

from ..checks.asserts import diagnose, expect_attempted, expect_finite, expect_shape, to_array
from ..checks.core import exercise
from ..checks.predict import judge_prediction, near


@exercise(
    "welcome_sigma",
    hints=[
        "log_var is log σ². Undo the log with exp to get σ², then take the square root.",
        "A square root halves a logarithm: log σ = (log σ²) / 2. Which NumPy function undoes a log, and what do "
        "you give it?",
    ],
    solution="sigma = np.exp(log_var / 2)",
    explanation="exp(log σ² / 2) = exp(log σ) = σ.",
    success="σ = exp(log_var / 2): you will meet this line again in every lesson.",
)
def check_welcome_sigma(log_var, sigma):
    """sigma == exp(log_var / 2), elementwise."""
    expect_attempted(sigma, "sigma")
    log_var = to_array(log_var, "log_var")
    sigma = to_array(sigma, "sigma")
    expect_shape(sigma, log_var.shape, "sigma", advice="Compute one σ per entry of `log_var`, elementwise.")
    expect_finite(sigma, "sigma", inputs="these values of log_var")
    diagnose(sigma, np.exp(log_var / 2), [
        (np.exp(log_var), "That is exp(log_var) = σ², the variance. The standard deviation is its square root: "
                          "exp(log_var / 2)."),
        (log_var / 2, "Half of log σ² is log σ, still a logarithm: apply exp to it."),
        (np.exp(log_var) / 2, "Divide inside the exponential: exp(log_var / 2), not exp(log_var) / 2."),
        (np.exp(-log_var / 2), "Check the sign: exp(−log_var / 2) is 1/σ."),
    ], "sigma", "log_var = " + np.array2string(log_var, precision=2, separator=", "))


GAMMA_STEP = 4.0  # lesson 00 asks: by what factor does σ grow when γ goes from 0 to 4?


@exercise(
    "predict_sigma_factor",
    hints=[
        "σ = exp(γ / 2). Write σ at γ = 0 and at γ = 4, then divide.",
        "Adding to γ multiplies σ: exp((γ + 4) / 2) = exp(γ / 2) · exp(4 / 2). About how big is e²?",
    ],
    solution="sigma_factor_guess = 7.4  # e² = exp(4 / 2)",
    explanation="σ = exp(γ / 2), so raising γ by 4 multiplies σ by exp(2) ≈ 7.39, whatever γ you start from.",
    success="Good prediction.",
)
def check_predict_sigma_factor(sigma_factor_guess):
    """A guess of exp(GAMMA_STEP / 2), within 15 %."""
    truth = float(np.exp(GAMMA_STEP / 2))
    return judge_prediction(
        sigma_factor_guess, truth, 0.85 * truth, 1.15 * truth, "sigma_factor_guess",
        "σ = exp(γ / 2), so adding 4 to γ multiplies σ by exp(4 / 2) = e² ≈ 7.39, from any starting γ: on the "
        "plot's log scale that is a straight line.",
        mistakes=[
            (near(float(np.exp(GAMMA_STEP))), "That is exp(4), the factor for the variance σ² = exp(γ); σ is its "
                                              "square root."),
            (near(GAMMA_STEP / 2), "σ does not grow by adding: exp turns the step of 4 in γ into a factor."),
            (near(GAMMA_STEP), "σ does not grow by adding: exp turns the step of 4 in γ into a factor."),
            (near(1.0 + GAMMA_STEP / 2), "σ does not grow by adding: exp turns the step of 4 in γ into a factor."),
        ],
    )
