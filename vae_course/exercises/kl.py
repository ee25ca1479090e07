"""Exercises on the latent loss: Equation 17-3 (from sigma) and Equation 17-4 (from gamma = log sigma^2)."""

import numpy as np

from ..checks.asserts import call_learner, diagnose, expect_callable, expect_finite, expect_shape, to_array
from ..checks.core import Incorrect, exercise

# Test inputs: 4 examples, 3 latent dimensions; the second row is the prior itself (KL = 0).
MU = np.array([[0.5, -1.0, 2.0], [0.0, 0.0, 0.0], [1.5, 0.3, -0.7], [-2.0, 1.0, 0.2]], dtype=np.float32)
SIGMA = np.array([[0.5, 1.5, 0.8], [1.0, 1.0, 1.0], [2.0, 0.3, 1.2], [0.7, 0.9, 3.0]], dtype=np.float32)
LOG_VAR = np.log(np.square(SIGMA.astype(np.float64))).astype(np.float32)
# One example with 5 latent dimensions, so a hard-coded K = 3 is caught.
MU_5 = np.array([[0.1, -0.4, 0.9, 1.3, -2.2]], dtype=np.float32)
SIGMA_5 = np.array([[0.6, 1.1, 0.4, 2.5, 0.9]], dtype=np.float32)
# Very confident dimensions: sigma^2 = exp(-120) underflows float32, gamma does not.
MU_TINY = np.array([[0.3, -0.2]], dtype=np.float32)
LOG_VAR_TINY = np.array([[-120.0, -110.0]], dtype=np.float32)


def _kl_terms(mu, log_var):
    """Per-dimension terms of Equations 17-3/17-4 in float64: 1 + log sigma^2 - sigma^2 - mu^2."""
    mu, log_var = np.float64(mu), np.float64(log_var)
    return 1.0 + log_var - np.exp(log_var) - np.square(mu)


def reference_kl(mu, log_var):
    """-1/2 sum_i (1 + gamma_i - exp(gamma_i) - mu_i^2), float64."""
    return -0.5 * _kl_terms(mu, log_var).sum(axis=-1)


def _sign_and_factor_mistakes(terms):
    total = terms.sum(axis=-1)
    return [
        (total, "You dropped the factor −1/2 in front of the sum: the bracket alone is negative (or zero), "
                "so your KL comes out −2 times too big. Multiply the sum by `-0.5`."),
        (0.5 * total, "Your KL has the wrong sign: it is −1/2 · sum, with a minus. A KL divergence is never negative."),
        (-total, "You kept the minus sign but dropped the 1/2: multiply the sum by `-0.5`, not `-1`."),
        (-0.5 * terms.mean(axis=-1), "You averaged over the latent dimensions (a mean) where Equation 17-3 sums "
                                     "them: use a sum over the last axis. The mean divides the KL by K and "
                                     "quietly weakens the latent loss (it acts like beta = 1/K)."),
    ]


def _check_shape(values, n, name):
    expect_shape(
        values, (n,), name,
        advice="Expected one KL value per example: sum over the last axis only (`axis=-1`). "
        + ("You returned one value per latent dimension, so the sum over dimensions is missing."
           if values.ndim == 2 else
           "You returned a single number, so you also summed (or averaged) over the examples."
           if values.ndim == 0 else ""),
    )


def _check_kl(fn, first_arg, second_arg, name, call_as, mistakes_for, context):
    expect_callable(fn, name, call_as)
    values = to_array(call_learner(fn, (first_arg, second_arg), name, call_as), name)
    _check_shape(values, len(first_arg), name)
    expect_finite(values, name, inputs=context)
    return values


@exercise(
    "kl_sigma",
    hints=[
        "Equation 17-3: KL = −1/2 · Σᵢ (1 + log σᵢ² − σᵢ² − μᵢ²). Work elementwise, then sum over the last axis.",
        "Square sigma once and reuse it: the bracket needs the log of the variance and the variance itself. "
        "`np.sum(..., axis=-1)` adds up the last axis only (`keras.ops` has `ops.log` and `ops.sum` too).",
    ],
    solution="""
def kl_sigma(mu, sigma):
    var = sigma ** 2
    return -0.5 * np.sum(1 + np.log(var) - var - mu ** 2, axis=-1)
""",
    explanation="Square sigma once, apply Equation 17-3 elementwise, and sum over the latent axis only.",
    success="Your function computes Equation 17-3: KL(N(μ, σ²) ‖ N(0, 1)) summed over the latent dimensions.",
)
def check_kl_sigma(fn):
    """fn(mu, sigma) -> KL per example (Equation 17-3)."""
    name, call_as = "kl_sigma", "kl_sigma(mu, sigma)"
    log_var = np.log(np.square(SIGMA.astype(np.float64)))
    terms = _kl_terms(MU, log_var)
    values = _check_kl(fn, MU, SIGMA, name, call_as, None, "the lesson's test values of mu and sigma")
    mu, sigma = MU.astype(np.float64), SIGMA.astype(np.float64)
    mistakes = _sign_and_factor_mistakes(terms) + [
        (-0.5 * (1 + log_var - sigma**2 + mu**2).sum(-1),
         "Check the sign of μ²: it is subtracted, −μᵢ². Moving the mean away from 0 must increase the KL."),
        (-0.5 * (1 + np.log(sigma) - sigma**2 - mu**2).sum(-1),
         "You used log σ where Equation 17-3 has log σ² (= 2 log σ). This is the 2016 snippet's mix-up in reverse."),
        (-0.5 * (1 + np.log(sigma) ** 2 - sigma**2 - mu**2).sum(-1),
         "You wrote (log σ)², the square of the log, where Equation 17-3 has log σ², the log of the square: "
         "log(σ²) = 2 log σ. Square sigma inside the log: `np.log(sigma ** 2)`."),
        (-0.5 * (1 + log_var - sigma - mu**2).sum(-1),
         "The third term is σ² (the variance), not σ: square sigma before subtracting it."),
        (-0.5 * (log_var - sigma**2 - mu**2).sum(-1),
         "The bracket starts with 1: (1 + log σ² − σ² − μ²). Without it the KL is not zero at the prior μ = 0, σ = 1."),
    ]
    diagnose(values, reference_kl(MU, log_var), mistakes, name, "the lesson's test values")
    _check_other_latent_size(fn, MU_5, SIGMA_5, np.log(np.square(SIGMA_5.astype(np.float64))), name, call_as)


def _check_other_latent_size(fn, mu, second, log_var, name, call_as):
    values = to_array(call_learner(fn, (mu, second), name, call_as), name)
    if values.shape != (1,) or not np.allclose(values, reference_kl(mu, log_var), rtol=1e-4, atol=1e-5):
        raise Incorrect(
            f"`{name}` is right for 3 latent dimensions but not for 5 (it gave {np.round(values, 4).tolist()}, "
            f"expected {np.round(reference_kl(mu, log_var), 4).tolist()}). Did you hard-code the number of dimensions?"
        )


@exercise(
    "kl_log_var",
    hints=[
        "Equation 17-4 replaces log σ² by γ and σ² by exp(γ): KL = −1/2 · Σᵢ (1 + γᵢ − exp(γᵢ) − μᵢ²).",
        "Do not go back to sigma: γ already is the log of the variance, and one exp turns it into the variance. "
        "Sum over the last axis only.",
    ],
    solution="""
def kl_log_var(mu, log_var):
    return -0.5 * np.sum(1 + log_var - np.exp(log_var) - mu ** 2, axis=-1)
""",
    explanation="Use gamma directly: it is log sigma^2, and exp(gamma) is sigma^2.",
    success="Your function computes Equation 17-4, and stays finite even where σ² underflows float32.",
)
def check_kl_log_var(fn):
    """fn(mu, log_var) -> KL per example (Equation 17-4)."""
    name, call_as = "kl_log_var", "kl_log_var(mu, log_var)"
    gamma = LOG_VAR.astype(np.float64)
    terms = _kl_terms(MU, gamma)
    values = _check_kl(fn, MU, LOG_VAR, name, call_as, None, "the lesson's test values of mu and log_var")
    mu = MU.astype(np.float64)
    mistakes = _sign_and_factor_mistakes(terms) + [
        (-0.5 * (1 + gamma - np.exp(gamma) + mu**2).sum(-1),
         "Check the sign of μ²: it is subtracted, −μᵢ². Moving the mean away from 0 must increase the KL."),
        (-0.5 * (1 + gamma - np.exp(gamma / 2) - mu**2).sum(-1),
         "You used exp(γ/2), which is σ, where Equation 17-4 needs exp(γ) = σ²."),
        (-0.5 * (1 + gamma - gamma**2 - mu**2).sum(-1),
         "You squared γ. γ is log σ², so σ² is exp(γ), not γ²."),
        (-0.5 * (1 + 2 * gamma - np.exp(2 * gamma) - mu**2).sum(-1),
         "You treated γ as log σ (writing 2γ and exp(2γ)). In Equation 17-4, γ = log σ², so use γ and exp(γ) as they are."),
        (-0.5 * (gamma - np.exp(gamma) - mu**2).sum(-1),
         "The bracket starts with 1: (1 + γ − exp(γ) − μ²). Without it the KL is not zero at the prior."),
    ]
    diagnose(values, reference_kl(MU, gamma), mistakes, name, "the lesson's test values")
    _check_other_latent_size(fn, MU_5, np.log(np.square(SIGMA_5)), np.log(np.square(SIGMA_5.astype(np.float64))),
                             name, call_as)
    tiny = to_array(call_learner(fn, (MU_TINY, LOG_VAR_TINY), name, call_as), name)
    if not np.all(np.isfinite(tiny)) or not np.allclose(tiny, reference_kl(MU_TINY, LOG_VAR_TINY), rtol=1e-4):
        raise Incorrect(
            "Your function is right for ordinary values but not for very confident dimensions "
            f"(γ = −120 gave {np.round(tiny, 3).tolist()}, expected {np.round(reference_kl(MU_TINY, LOG_VAR_TINY), 3).tolist()}). "
            "Computing σ² = exp(γ) and then log(σ²) underflows to log(0) = −inf in float32: use γ directly in the log term."
        )
