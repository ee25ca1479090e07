"""Lesson 00's warm-up: from a log-variance to a standard deviation."""

import numpy as np

from ..checks.asserts import diagnose, expect_attempted, expect_finite, expect_shape, to_array
from ..checks.core import exercise


@exercise(
    "welcome_sigma",
    hints=[
        "log_var is log σ². Undo the log with exp to get σ², then take the square root.",
        "`np.exp(log_var / 2)` is the same as `np.sqrt(np.exp(log_var))`: exp(γ/2) = σ.",
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
