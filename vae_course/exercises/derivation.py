"""Exercises of lesson 05: Equation 17-3 (kl_sigma), and the KL of N(mu, sigma^2) from N(0, 1) by Monte Carlo
and by quadrature.

The closed form, 1/2 (mu^2 + sigma^2 - 1 - log sigma^2), is the reference for both. A Monte Carlo answer uses
its own random draws, so it is judged statistically: within a few standard errors of the truth, with the
spread that n draws allow. A quadrature answer is deterministic, so every typical mistake is recomputed on
the very grid the checker passes in.
"""

import numpy as np

from ..checks.asserts import (
    call_learner,
    describe,
    diagnose,
    expect_callable,
    expect_finite,
    expect_shape,
    to_array,
)
from ..checks.core import Incorrect, LearnerTimeout, exercise
from ..checks.predict import judge_prediction

HALF_LOG_TWO_PI = 0.5 * np.log(2.0 * np.pi)


def _kl(mu, sigma):
    """Closed form, elementwise (float64)."""
    mu, sigma = np.asarray(mu, dtype=np.float64), np.asarray(sigma, dtype=np.float64)
    return 0.5 * (mu**2 + sigma**2 - 1.0 - np.log(sigma**2))


def _log_ratio_std(mu, sigma):
    """Standard deviation of one draw of log q(z) - log p(z), z ~ q, in one dimension."""
    return float(np.sqrt((mu * sigma) ** 2 + 0.5 * (sigma**2 - 1.0) ** 2))


# ---- Exercise: Monte Carlo ------------------------------------------------------------------

MC_NAME, MC_CALL = "kl_mc", "kl_mc(mu, sigma, n, seed)"
MC_MU, MC_SIGMA, MC_N = 1.5, 0.7, 200_000  # every typical mistake lands at least 0.09 nats from the others
MC_MU_2, MC_SIGMA_2 = -0.5, 2.0  # a second case, where sigma > 1
SMALL_N, SMALL_SEEDS = 5, 400  # many small estimates: their average and their spread
VECTOR_MU = np.array([1.5, -0.5, 0.0])
VECTOR_SIGMA = np.array([0.7, 2.0, 1.0])
MISTAKE_TOLERANCE = 0.04  # nats; the mistaken estimators' own noise at n = MC_N stays below 0.01


def _mc_mistakes(mu, sigma):
    """(value a typical wrong estimator converges to, message) for one dimension."""
    kl = float(_kl(mu, sigma))
    cross_entropy = HALF_LOG_TWO_PI + 0.5 * (mu**2 + sigma**2)  # -E_q[log p(z)]
    return [
        (-HALF_LOG_TWO_PI - np.log(sigma) - 0.5,
         "Your estimate is the average of log q(z) alone (minus the entropy of q): the log p(z) term is missing. "
         "Average the difference log q(z) − log p(z)."),
        (-cross_entropy,
         "Your estimate is the average of log p(z) alone: the log q(z) term is missing. "
         "Average the difference log q(z) − log p(z)."),
        (cross_entropy,
         "Your estimate is the average of −log p(z) alone (the cross-entropy): the log q(z) term is missing. "
         "Average the difference log q(z) − log p(z)."),
        (-kl,
         "Your estimate has the wrong sign: you averaged log p(z) − log q(z). The KL is E_q[log q(z) − log p(z)], "
         "and it is never negative."),
        (kl + np.log(sigma),
         "Your log q(z) is missing its −log σ term. The density of N(μ, σ²) is divided by σ, so "
         "log q(z) = −½ log 2π − log σ − (z − μ)² / (2σ²). This term does not cancel: p has σ = 1."),
        (kl - np.log(sigma),
         "Your log q(z) subtracts log σ² where the density has log σ: N(μ, σ²) is divided by σ, not by σ²."),
        (kl + HALF_LOG_TWO_PI,
         "Your log q(z) is missing −½ log 2π while your log p(z) has it, so the two do not cancel and the "
         "estimate is off by ½ log 2π ≈ 0.919. Write both densities in full (or leave the constant out of both)."),
        (kl - HALF_LOG_TWO_PI,
         "Your log p(z) is missing −½ log 2π while your log q(z) has it, so the two do not cancel and the "
         "estimate is off by ½ log 2π ≈ 0.919. Write both densities in full (or leave the constant out of both)."),
        (-(np.log(sigma) + (1.0 + mu**2) / (2.0 * sigma**2) - 0.5),
         "You drew z from the prior N(0, 1) instead of from q = N(μ, σ²). The expectation is under q: draw "
         "eps ~ N(0, 1) and use z = mu + sigma * eps."),
        (-np.log(sigma) - 1.0 / (2.0 * sigma**2) + 0.5 * (mu**2 + 1.0),
         "Your draws are z = μ + ε, without σ, so they come from N(μ, 1) instead of q. Use z = mu + sigma * eps."),
    ]


def _scalar_estimate(fn, args, call_text):
    """Call the learner's estimator and return one float, with a clear message for any other shape."""
    value = to_array(call_learner(fn, args, MC_NAME, call_text), MC_NAME)
    n = args[2]
    if value.size == n and n > 1:
        raise Incorrect(
            f"`{call_text}` returned {n} numbers, one per draw (shape {value.shape}). "
            "The estimate is their average: return the mean of log q(z) − log p(z)."
        )
    if value.size != 1:
        raise Incorrect(
            f"`{call_text}` should return one number (the KL estimate), but it returned shape {value.shape}."
        )
    expect_finite(value, MC_NAME, inputs=call_text)
    return float(value.ravel()[0])


def _check_large_n(fn, mu, sigma, before_giving_up=lambda: None):
    """One estimate with many draws. Before a generic "not the usual slip", ``before_giving_up`` may find the cause."""
    call_text = f"kl_mc({mu}, {sigma}, n={MC_N}, seed=0)"
    estimate = _scalar_estimate(fn, (mu, sigma, MC_N, 0), call_text)
    kl, stderr = float(_kl(mu, sigma)), _log_ratio_std(mu, sigma) / np.sqrt(MC_N)
    if abs(estimate - kl) <= 6 * stderr:
        return
    if abs(estimate / MC_N - kl) <= 0.05 * kl:
        raise Incorrect(
            f"`{call_text}` gave {estimate:.4g}, about n = {MC_N} times the KL ({kl:.4f}): you summed over the "
            "draws. Average them instead (np.mean)."
        )
    for value, message in _mc_mistakes(mu, sigma):
        if abs(estimate - value) <= MISTAKE_TOLERANCE:
            raise Incorrect(message)
    before_giving_up()
    raise Incorrect(
        f"`{call_text}` gave {estimate:.4f}, but the KL is {kl:.4f} and {MC_N} draws should land within "
        f"about {3 * stderr:.4f} of it. This is not one of the usual slips: compare log q(z) and log p(z) with "
        "the densities in the lesson, term by term."
    )


def _small_estimates(fn):
    """SMALL_SEEDS estimates with n = SMALL_N draws each, one seed each."""
    mu, sigma = MC_MU, MC_SIGMA
    return np.array([
        _scalar_estimate(fn, (mu, sigma, SMALL_N, seed), f"kl_mc({mu}, {sigma}, n={SMALL_N}, seed={seed})")
        for seed in range(SMALL_SEEDS)
    ])


def _check_spread(estimates):
    """Estimates with n = SMALL_N must change with the seed, by about the amount n draws allow."""
    mu, sigma = MC_MU, MC_SIGMA
    expected_spread = _log_ratio_std(mu, sigma) / np.sqrt(SMALL_N)
    spread = float(estimates.std(ddof=1))
    if spread < 1e-9 and abs(estimates[0] - float(_kl(mu, sigma))) < 1e-6:
        raise Incorrect(
            f"`kl_mc` returns the closed form, {estimates[0]:.4f}, whatever the seed. That is Exercise 1's "
            "answer; here the point is to estimate the same number from random draws: average "
            "log q(z) − log p(z) over n draws z = mu + sigma * eps."
        )
    if spread < 1e-9:
        raise Incorrect(
            f"`kl_mc({mu}, {sigma}, n={SMALL_N}, seed)` gave the same number, {estimates[0]:.4f}, for "
            f"{SMALL_SEEDS} different seeds. A Monte Carlo estimate must change with its draws: make the noise "
            "from the seed you are given, e.g. `np.random.default_rng(seed).standard_normal(n)`."
        )
    if spread < 0.5 * expected_spread:
        raise Incorrect(
            f"With n = {SMALL_N} draws your estimates vary too little across seeds (standard deviation "
            f"{spread:.3f}; {SMALL_N} draws give about {expected_spread:.3f}). Does your function draw exactly "
            "n values of eps?"
        )
    if spread > 2.0 * expected_spread:
        raise Incorrect(
            f"With n = {SMALL_N} draws your estimates vary too much across seeds (standard deviation "
            f"{spread:.3f}; {SMALL_N} draws give about {expected_spread:.3f}). Does your function draw exactly "
            "n values of eps and average over all of them?"
        )


def _check_bias(estimates):
    """The average of many small-n estimates must be the KL: the estimator is unbiased at every n."""
    kl = float(_kl(MC_MU, MC_SIGMA))
    stderr = _log_ratio_std(MC_MU, MC_SIGMA) / np.sqrt(SMALL_N * SMALL_SEEDS)
    average = float(estimates.mean())
    if abs(average - kl) <= 6 * stderr:
        return
    raise Incorrect(
        f"Your estimates with n = {SMALL_N} draws are biased: averaged over {SMALL_SEEDS} seeds they give "
        f"{average:.3f}, but the KL is {kl:.3f} (with many draws you do get close to it). A plain average of "
        "log q(z) − log p(z) over draws from q is unbiased at every n. The usual causes: dividing the sum by "
        "n − 1 instead of n (use np.mean), or plugging the sample mean and spread of z into the closed form."
    )


def _check_vector(fn):
    """Optional: vectors of latent dimensions. Returns a note for the success message."""
    call_text = f"kl_mc(mu, sigma, n={MC_N}, seed=0) with mu and sigma of shape {VECTOR_MU.shape}"
    try:
        value = to_array(fn(VECTOR_MU, VECTOR_SIGMA, MC_N, 0), MC_NAME)
    except LearnerTimeout:
        raise
    except Exception:  # a one-dimensional answer is complete; the vector form is optional
        return ("(Optional: it handles one latent dimension. For vectors, draw eps of shape (n, K) and sum "
                "log q(z) − log p(z) over the last axis before averaging.)")
    per_dimension = _kl(VECTOR_MU, VECTOR_SIGMA)
    stderrs = np.array([_log_ratio_std(m, s) for m, s in zip(VECTOR_MU, VECTOR_SIGMA)]) / np.sqrt(MC_N)
    total, total_stderr = per_dimension.sum(), np.sqrt(np.sum(stderrs**2))
    if not np.all(np.isfinite(value)):
        raise Incorrect(f"`{call_text}` contains NaN or infinity.")
    if value.size == 1:
        estimate = float(value.ravel()[0])
        if abs(estimate - total) <= 6 * total_stderr:
            return "It also works for vectors, adding up the KLs of the latent dimensions as Equation 17-3 does."
        if abs(estimate - total / VECTOR_MU.size) <= 6 * total_stderr:
            raise Incorrect(
                f"For vectors, `{call_text}` gave {estimate:.4f}, the MEAN of the per-dimension KLs. Equation 17-3 "
                f"SUMS them ({total:.4f}): sum over the latent axis, then average over the draws."
            )
        raise Incorrect(f"For vectors, `{call_text}` gave {estimate:.4f}; the summed KL is {total:.4f}.")
    if value.shape == VECTOR_MU.shape and np.all(np.abs(value - per_dimension) <= 6 * stderrs):
        return ("For vectors it returns one KL per latent dimension; Equation 17-3 is their sum "
                f"({total:.3f} here).")
    raise Incorrect(
        f"For vectors, `{call_text}` returned {describe(value)}; expected one number, the summed KL {total:.4f}. "
        "Sum log q(z) − log p(z) over the latent axis, then average over the draws."
    )


@exercise(
    "kl_monte_carlo_estimate",
    hints=[
        "The KL is an expectation under q: KL = E_q[log q(z) − log p(z)]. Draw z from q with the "
        "reparameterization trick, evaluate both log densities at those z, and average the difference.",
        "Write both log densities from the formulas in 'Take the logarithms', with every term, including "
        "−½ log 2π. The estimate is one number: what do you do with the n differences?",
    ],
    solution="""
def kl_mc(mu, sigma, n, seed):
    eps = np.random.default_rng(seed).standard_normal((n,) + np.shape(mu))
    z = mu + sigma * eps
    log_q = -0.5 * np.log(2 * np.pi) - np.log(sigma) - 0.5 * ((z - mu) / sigma) ** 2
    log_p = -0.5 * np.log(2 * np.pi) - 0.5 * z**2
    return np.mean((log_q - log_p).reshape(n, -1).sum(axis=1))
""",
    explanation="Draw from q, not from the prior; average log q − log p over the draws. With vectors, sum "
    "over the latent axis first: independent dimensions add their KLs.",
    success="Your Monte Carlo estimate is unbiased and lands within a few standard errors of the closed form.",
    time_limit=60,
)
def check_kl_monte_carlo_estimate(fn):
    """fn(mu, sigma, n, seed) -> the average of log q(z) - log p(z) over n draws z ~ N(mu, sigma^2)."""
    expect_callable(fn, MC_NAME, MC_CALL)
    _check_large_n(fn, MC_MU, MC_SIGMA, before_giving_up=lambda: _check_spread(_small_estimates(fn)))
    estimates = _small_estimates(fn)
    _check_spread(estimates)
    _check_bias(estimates)
    _check_large_n(fn, MC_MU_2, MC_SIGMA_2)
    return _check_vector(fn)


# ---- Exercise: quadrature on a grid ---------------------------------------------------------

GRID_NAME, GRID_CALL = "kl_grid", "kl_grid(mu, sigma, z)"
# Wide grids: q's mass beyond them is below 1e-9, and q stays above float32's smallest number on them.
GRID_CASES = [
    (1.5, 0.7, np.linspace(-4.0, 7.0, 2201)),
    (-0.5, 1.8, np.linspace(-12.0, 11.0, 3001)),
]
# A narrow grid (mu +/- 1 sigma): the right answer on it is NOT the KL, only the part of the area it covers.
NARROW_CASE = (1.5, 0.7, np.linspace(0.8, 2.2, 141))


def _densities(z, mu, sigma):
    log_q = -HALF_LOG_TWO_PI - np.log(sigma) - 0.5 * ((z - mu) / sigma) ** 2
    log_p = -HALF_LOG_TWO_PI - 0.5 * z**2
    return np.exp(log_q), np.exp(log_p), log_q, log_p


def reference_kl_grid(mu, sigma, z):
    """np.trapezoid(q log(q / p), z) on the grid z, float64."""
    q, _, log_q, log_p = _densities(z, mu, sigma)
    return float(np.trapezoid(q * (log_q - log_p), z))


def _grid_mistakes(mu, sigma, z):
    q, p, log_q, log_p = _densities(z, mu, sigma)
    integrand = q * (log_q - log_p)
    return [
        (np.trapezoid(log_q - log_p, z),
         "You integrated log(q(z)/p(z)) without the weight q(z). The KL is the integral of "
         "q(z) · log(q(z)/p(z)): multiply by q(z) before integrating."),
        (-np.trapezoid(integrand, z),
         "Your log ratio is upside down: you integrated q · log(p/q), which is −KL. Use log(q(z)/p(z))."),
        (np.trapezoid(p * (log_p - log_q), z),
         "You weighted by p(z) and took log(p/q): that is KL(p ‖ q), the divergence the other way round. "
         "Equation 17-3 is KL(q ‖ p) = ∫ q(z) log(q(z)/p(z)) dz."),
        (np.sum(integrand),
         "You added up the integrand without the grid spacing dz (np.sum, or np.trapezoid without z, which "
         "assumes a spacing of 1). Use np.trapezoid(values, z), which multiplies by the spacing of the grid."),
        (np.trapezoid(integrand),
         "You called np.trapezoid without the grid, so it assumed a spacing of 1 between points. "
         "Pass the grid as the second argument: np.trapezoid(values, z)."),
        (np.sum(integrand) * (z[1] - z[0]),
         "You used a Riemann sum (the sum of the values times dz). On a grid that holds all of q it agrees "
         "with the trapezoidal rule, but not where the integrand is not zero at the ends of the grid: use "
         "np.trapezoid(values, z)."),
        (np.trapezoid(z, integrand),
         "The arguments of np.trapezoid are swapped: it is np.trapezoid(y, x), the values first and the grid z "
         "second."),
        (np.sqrt(2 * np.pi) * np.trapezoid(integrand, z),
         "Your densities are missing the factor 1/√(2π): the log ratio is right (the constants cancel there) "
         "but the weight q(z) is too big by √(2π). Use the normalised density "
         "q(z) = exp(−(z − μ)²/(2σ²)) / (σ√(2π))."),
        (sigma * np.trapezoid(integrand, z),
         "Your q(z) is missing the factor 1/σ in front of the exponential, so it does not integrate to 1."),
    ]


def _grid_value(fn, mu, sigma, z):
    call_text = f"kl_grid({mu}, {sigma}, z) with z of shape {z.shape}"
    value = to_array(call_learner(fn, (mu, sigma, z.copy()), GRID_NAME, call_text), GRID_NAME)
    if value.shape == z.shape:
        raise Incorrect(
            f"`{call_text}` returned one value per grid point. That is the integrand; the KL is its area: "
            "return np.trapezoid(values, z)."
        )
    if value.size != 1:
        raise Incorrect(f"`{call_text}` should return one number, but it returned shape {value.shape}.")
    expect_finite(value, GRID_NAME, inputs=call_text)
    return float(value.ravel()[0])


@exercise(
    "kl_quadrature_estimate",
    hints=[
        "Evaluate the integrand q(z) · log(q(z)/p(z)) at every point of the grid z you are given, then "
        "integrate it with the trapezoidal rule: np.trapezoid(values, z).",
        "Compute log q and log p on the grid first (the formulas of 'Take the logarithms'); q itself is exp of "
        "log q. The integrand is q times the log ratio, and its area over the grid is the answer.",
    ],
    solution="""
def kl_grid(mu, sigma, z):
    log_q = -0.5 * np.log(2 * np.pi) - np.log(sigma) - 0.5 * ((z - mu) / sigma) ** 2
    log_p = -0.5 * np.log(2 * np.pi) - 0.5 * z**2
    return np.trapezoid(np.exp(log_q) * (log_q - log_p), z)
""",
    explanation="The KL is the area under q log(q/p). Use the grid you are given: on a grid that covers q, "
    "the trapezoidal rule matches the closed form to many digits.",
    success="Your quadrature integrates q log(q/p) on the grid it is given and matches the closed form.",
)
def check_kl_quadrature_estimate(fn):
    """fn(mu, sigma, z) -> np.trapezoid(q(z) log(q(z) / p(z)), z) on the given grid z."""
    expect_callable(fn, GRID_NAME, GRID_CALL)
    mu, sigma, z = GRID_CASES[0]
    wide = _grid_value(fn, mu, sigma, z)
    n_mu, n_sigma, narrow_z = NARROW_CASE
    narrow = _grid_value(fn, n_mu, n_sigma, narrow_z)
    narrow_expected = reference_kl_grid(n_mu, n_sigma, narrow_z)
    if abs(narrow - narrow_expected) > 1e-4 * abs(narrow_expected) and abs(narrow - wide) <= 1e-6 * abs(wide):
        raise Incorrect(
            "Your `kl_grid` gives the same value on a narrow grid (μ ± σ) as on a wide one, so it does not "
            "integrate on the grid `z` it is given. Use z itself: the check passes its own grids, and a grid "
            "of your own may be too narrow to hold q (its mass lies within a few σ of μ)."
        )
    # The narrow grid first: there the integrand does not vanish at the ends, which tells apart mistakes
    # that coincide on a wide grid (np.trapezoid(z, values) equals -KL there, like an upside-down ratio).
    diagnose(np.array(narrow), np.array(narrow_expected), _grid_mistakes(n_mu, n_sigma, narrow_z), GRID_NAME,
             f"mu = {n_mu}, sigma = {n_sigma} on a narrow grid from {narrow_z[0]:g} to {narrow_z[-1]:g}")
    for mu, sigma, z in GRID_CASES:
        value = wide if z is GRID_CASES[0][2] else _grid_value(fn, mu, sigma, z)
        diagnose(np.array(value), np.array(reference_kl_grid(mu, sigma, z)), _grid_mistakes(mu, sigma, z),
                 GRID_NAME, f"mu = {mu}, sigma = {sigma} on the grid z")


# ---- Equation 17-3 in closed form: kl_sigma (its test values and mistakes are reused by lesson 06's kl_log_var)

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


# ---- predict_draws_needed: how many draws for a standard error of 0.001? -----------------------------------------

MU_PREDICT, SIGMA_PREDICT, TARGET_ERROR = 1.5, 0.7, 0.001


@exercise(
    "predict_draws_needed",
    hints=[
        "The standard error of the average of n draws is s/√n. Set it equal to 0.001 and solve for n.",
        "s² = μ²σ² + (σ² − 1)²/2 is a bit more than 1 here, and n = s² / 0.001².",
    ],
    solution="draws_needed_guess = 1_200_000  # n = s² / 0.001², s² ≈ 1.23",
    explanation="s/√n = 0.001 gives n = (s / 0.001)² = s² · 10⁶ ≈ 1.2 million draws.",
    success="Good prediction.",
)
def check_predict_draws_needed(draws_needed_guess):
    """A guess of s² / TARGET_ERROR² for the lesson's μ and σ, within a factor 2."""
    s = _log_ratio_std(MU_PREDICT, SIGMA_PREDICT)
    truth = (s / TARGET_ERROR) ** 2
    return judge_prediction(
        draws_needed_guess, truth, truth / 2, truth * 2, "draws_needed_guess",
        f"Here s = {s:.3f}, and the standard error s/√n reaches {TARGET_ERROR} at n = (s / {TARGET_ERROR})² "
        f"≈ {truth / 1e6:.2f} million draws. Each extra correct digit costs a hundred times more draws.",
        mistakes=[
            (lambda v: abs(v - s / TARGET_ERROR) <= 0.5 * s / TARGET_ERROR,
             "That is s / 0.001 without the square: the error falls like 1/√n, so n grows with the square of "
             "1/error."),
        ],
    )
