"""Exercises of lesson 03: predict the ELBO at two special q's, then write a single-sample ELBO estimate.

The lesson's toy model (``vae_course.lessons.generative.ToyModel``, x = 2) gives the exact values the prediction
is judged against. The single-sample estimate log p(x | z) + log p(z) - log q(z | x) is deterministic once z is
given, so every typical mistake is recomputed on the checker's own inputs and named.
"""

import numpy as np

from ..checks.asserts import call_learner, describe, diagnose, expect_callable, to_array
from ..checks.core import Incorrect, NotAttempted, exercise
from ..checks.placeholder import is_placeholder


def _lesson():
    """Lesson 03's module, imported on first use: it loads Keras (through ``vae.maths``), and importing the
    checkers must not, so that lesson 00's checks run in a kernel that has not loaded TensorFlow."""
    from ..lessons import generative

    return generative


# ---- Exercise: predict, then check ----------------------------------------------------------

TOY_X = 2.0
PREDICTION_TOLERANCE = 0.01  # nats: a value rounded to two decimals passes


def _toy_values():
    """(log p(x), KL(prior || posterior)) of the lesson's toy model at x = TOY_X."""
    model = _lesson().ToyModel()
    return model.log_evidence(TOY_X), model.kl_to_posterior(TOY_X, 0.0, 1.0)


def _prediction(value, name):
    """The learner's committed number as a float, or a clear verdict."""
    if isinstance(value, str):
        raise Incorrect(f"`{name}` is the text {value!r}; write the number itself, without quotes.")
    if isinstance(value, (bool, np.bool_)):
        raise Incorrect(f"`{name}` is {value}, a yes/no value; write a number such as -1.5 or 0.")
    if not isinstance(value, (int, float, np.integer, np.floating)):
        array = to_array(value, name)
        if array.size != 1:
            raise Incorrect(f"`{name}` should be one number, but it is {describe(value)}.")
        value = array.ravel()[0]
    value = float(value)
    if not np.isfinite(value):
        raise Incorrect(f"`{name}` is {value}; commit to a finite number.")
    return value


def _judge_elbo(value, log_px, gap_at_prior):
    if abs(value - log_px) <= PREDICTION_TOLERANCE:
        return
    if abs(value) <= PREDICTION_TOLERANCE:
        raise Incorrect(
            "You predicted 0 for the ELBO when q is the posterior. 0 is the gap, log p(x) − ELBO = KL(q ‖ p(z | x)), "
            "at that q. What is the ELBO itself when the gap is 0?"
        )
    if value > log_px:
        raise Incorrect(
            f"You predicted {value:.3f}, above log p(x) = {log_px:.3f}. No q can do that: "
            "log p(x) = ELBO + KL(q ‖ p(z | x)) and a KL is never negative, so the ELBO is at most log p(x)."
        )
    if abs(value - (log_px - gap_at_prior)) <= PREDICTION_TOLERANCE:
        raise Incorrect(
            f"{value:.3f} is the ELBO when q is the prior. At the posterior the gap KL(q ‖ p(z | x)) is smaller: "
            "how small?"
        )
    raise Incorrect(
        f"You predicted {value:.3f}, below log p(x) = {log_px:.3f}: the ELBO falls short of log p(x) by "
        "KL(q ‖ p(z | x)). What is that KL when q is the posterior itself?"
    )


def _judge_kl(value, gap_at_prior):
    if abs(value) <= PREDICTION_TOLERANCE:
        return
    if value < 0:
        raise Incorrect(f"You predicted {value:.3f} for a KL divergence. A KL is never negative.")
    if abs(value - gap_at_prior) <= PREDICTION_TOLERANCE:
        raise Incorrect(
            f"{value:.3f} is KL(q ‖ p(z | x)), the gap, when q is the prior. The loss's KL term compares q with the "
            "prior p(z), not with the posterior. Which q is being compared with p(z)?"
        )
    raise Incorrect(
        f"You predicted {value:.3f} for KL(q ‖ p(z)) with q = p(z). What is the KL of a distribution from itself?"
    )


@exercise(
    "predict_the_elbo",
    hints=[
        "Both answers follow from two facts of this lesson: log p(x) = ELBO + KL(q(z | x) ‖ p(z | x)), and a KL "
        "of two distributions is 0 exactly when they are the same.",
        "When q is the posterior, which of the two KLs in log p(x) = ELBO + KL(q ‖ p(z | x)) vanishes? "
        "When q is the prior, compare the two distributions inside KL(q ‖ p(z)).",
    ],
    solution="""
elbo_if_q_is_the_posterior = -2.124  # the gap KL(q ‖ p(z | x)) is 0, so the ELBO is log p(x)
kl_term_if_q_is_the_prior = 0.0      # KL(p(z) ‖ p(z)) = 0
""",
    explanation="The ELBO reaches log p(x) exactly when q is the posterior. At q = p(z) the KL term costs nothing, "
    "but the reconstruction term is poor: the ELBO there is about −4.92, 2.8 nats below log p(x).",
    success="Both predictions hold.",
)
def check_predict_the_elbo(elbo_if_q_is_the_posterior, kl_term_if_q_is_the_prior):
    """The ELBO at q = posterior is log p(x); the KL term at q = prior is 0."""
    names = ("elbo_if_q_is_the_posterior", "kl_term_if_q_is_the_prior")
    pending = [f"`{n}`" for n, v in zip(names, (elbo_if_q_is_the_posterior, kl_term_if_q_is_the_prior))
               if is_placeholder(v)]
    if pending:
        raise NotAttempted(
            f"{' and '.join(pending)} {'is' if len(pending) == 1 else 'are'} still the `____` placeholder. "
            "Commit to a number for each before you run the cells that show them."
        )
    log_px, gap_at_prior = _toy_values()
    elbo = _prediction(elbo_if_q_is_the_posterior, names[0])
    kl = _prediction(kl_term_if_q_is_the_prior, names[1])
    _judge_elbo(elbo, log_px, gap_at_prior)
    _judge_kl(kl, gap_at_prior)
    return (
        f"When q is the posterior, the gap KL(q ‖ p(z | x)) is 0 and the ELBO equals log p(x) = {log_px:.3f}. "
        "When q is the prior, KL(q ‖ p(z)) = 0, yet the ELBO is low: the reconstruction term pays "
        f"(the gap is {gap_at_prior:.3f} nats)."
    )


# ---- Exercise: a single-sample ELBO from three log-densities ---------------------------------

ELBO_NAME, ELBO_CALL = "elbo_one_sample", "elbo_one_sample(log_px_given_z, z, z_mean, z_log_var)"
CASES = [(4, 2, 1), (3, 5, 2)]  # (batch, latent_dim, seed): batch != latent_dim, so a missing sum cannot broadcast
ATOL = 1e-3  # nats; float32 inputs, values of a few hundred nats


def make_case(batch, latent_dim, seed):
    """float32 inputs like a VAE's: z drawn from q(z | x), log p(x | z) of a few hundred nats per image."""
    rng = np.random.default_rng(seed)
    z_mean = rng.normal(0.0, 1.2, (batch, latent_dim))
    z_log_var = rng.uniform(-2.5, 1.0, (batch, latent_dim))
    z = z_mean + np.exp(0.5 * z_log_var) * rng.standard_normal((batch, latent_dim))
    log_px_given_z = -rng.uniform(80.0, 300.0, batch)
    return tuple(a.astype(np.float32) for a in (log_px_given_z, z, z_mean, z_log_var))


def _parts(log_px_given_z, z, z_mean, z_log_var):
    """The pieces of the estimate, elementwise over the latent axis (float64)."""
    z, z_mean, z_log_var = (np.asarray(a, dtype=np.float64) for a in (z, z_mean, z_log_var))
    lesson = _lesson()
    log_p = lesson.log_normal(z, 0.0, 1.0)
    log_q = lesson.log_normal(z, z_mean, np.exp(0.5 * z_log_var))
    return np.asarray(log_px_given_z, dtype=np.float64), log_p, log_q, z, z_mean, z_log_var


def _elbo_mistakes(case):
    """(value a typical wrong answer gives, message), in the order they are tried."""
    log_px, log_p, log_q, z, z_mean, z_log_var = _parts(*case)
    right = log_px + log_p.sum(-1) - log_q.sum(-1)
    lesson = _lesson()
    as_log_sigma = lesson.log_normal(z, z_mean, np.exp(z_log_var)).sum(-1)
    log_var_as_log_sigma_term = (log_q - 0.5 * z_log_var).sum(-1)
    closed_kl = lesson.kl_to_standard_normal(z_mean, np.exp(0.5 * z_log_var)).sum(-1)
    half_log_two_pi = lesson.HALF_LOG_TWO_PI * z.shape[-1]
    return [
        (-right,
         "Your values are the ELBO with the opposite sign: you returned the loss, −ELBO. Return "
         "log p(x | z) + log p(z) − log q(z | x) itself; a loss is its negative."),
        (log_px - log_q.sum(-1),
         "The log p(z) term is missing. The ELBO compares q(z | x) with the prior: add log p(z), the log-density "
         "of z under N(0, I)."),
        (log_px + log_p.sum(-1),
         "The −log q(z | x) term is missing. Subtract the log-density of z under "
         "q(z | x) = N(z_mean, exp(z_log_var))."),
        (log_px + log_p.sum(-1) + log_q.sum(-1),
         "You added log q(z | x). It enters with a minus sign: log p(x | z) + log p(z) − log q(z | x)."),
        (log_px - log_p.sum(-1) + log_q.sum(-1),
         "The signs of log p(z) and log q(z | x) are swapped: you added the single-sample KL instead of "
         "subtracting it. The estimate is log p(x | z) + log p(z) − log q(z | x)."),
        (log_p.sum(-1) - log_q.sum(-1),
         "The log p(x | z) term is missing: what is left is minus a one-sample estimate of the KL. "
         "Start from `log_px_given_z`."),
        (log_px + log_p.mean(-1) - log_q.mean(-1),
         "You averaged log p(z) and log q(z | x) over the latent dimensions. The latent dimensions are independent, "
         "so their log-densities add: sum over the last axis."),
        (log_px + log_p.sum(-1) - as_log_sigma,
         "Your q(z | x) uses σ = exp(z_log_var), treating `z_log_var` as log σ. It is log σ²: σ = exp(z_log_var / 2)."),
        (log_px + log_p.sum(-1) - log_var_as_log_sigma_term,
         "Your log q(z | x) subtracts log σ² where the normal density has log σ: −log σ = −z_log_var / 2."),
        (log_px - closed_kl,
         "You subtracted the closed-form KL (Equation 17-3). That is the other estimate, the one this exercise is "
         "checked against; here, evaluate log p(z) − log q(z | x) at the z you are given."),
        (right - half_log_two_pi,
         "Your log p(z) has the −½ log 2π of each latent dimension but your log q(z | x) has not (or the other "
         "way round), so the two do not cancel. Write both densities in full, or leave the constant out of both."),
        (right + half_log_two_pi,
         "Your log q(z | x) has the −½ log 2π of each latent dimension but your log p(z) has not, so the two do not "
         "cancel. Write both densities in full, or leave the constant out of both."),
    ]


def _call_case(fn, case):
    batch, latent_dim = case[1].shape
    call_text = f"{ELBO_CALL} with z of shape ({batch}, {latent_dim})"
    args = tuple(a.copy() for a in case)
    value = to_array(call_learner(fn, args, ELBO_NAME, call_text), ELBO_NAME)
    if value.shape == (batch, latent_dim):
        raise Incorrect(
            f"`{call_text}` returned shape {value.shape}, one value per latent dimension. The ELBO is one number per "
            "example: sum log p(z) and log q(z | x) over the last axis, shape (batch,)."
        )
    if value.size == 1 and batch > 1:
        raise Incorrect(
            f"`{call_text}` returned one number for the whole batch. Return one estimate per example, shape "
            f"({batch},): do not average over the batch (a training loss does that later)."
        )
    if value.shape != (batch,):
        raise Incorrect(f"`{call_text}` returned shape {value.shape}; expected ({batch},), one value per example.")
    if not np.all(np.isfinite(value)):
        raise Incorrect(
            f"`{call_text}` gave NaN or infinity. `z_log_var` is log σ² and is often negative: take "
            "σ = exp(z_log_var / 2) rather than a log or square root of `z_log_var` itself."
        )
    return value


@exercise(
    "elbo_one_sample",
    hints=[
        "For one draw z of each example, the estimate is log p(x | z) + log p(z) − log q(z | x). The first term "
        "is given. The other two are normal log-densities evaluated at z, each summed over the latent axis.",
        "log N(z; m, σ²) = −½ log 2π − log σ − (z − m)² / (2σ²). For p(z): m = 0, σ = 1. For q(z | x): "
        "m = z_mean and log σ = z_log_var / 2, so σ = exp(z_log_var / 2).",
        "Compute `log_p_z` and `log_q_z` with `np.sum(..., axis=-1)`, both of shape (batch,). Then combine them "
        "with `log_px_given_z` using the signs of the first hint.",
    ],
    solution="""
def elbo_one_sample(log_px_given_z, z, z_mean, z_log_var):
    log_p_z = np.sum(-0.5 * np.log(2 * np.pi) - 0.5 * z**2, axis=-1)
    log_q_z = np.sum(
        -0.5 * np.log(2 * np.pi) - 0.5 * z_log_var - 0.5 * (z - z_mean) ** 2 / np.exp(z_log_var), axis=-1
    )
    return log_px_given_z + log_p_z - log_q_z
""",
    explanation="log p(x | z) + log p(z) − log q(z | x) at one z ~ q(z | x) is an unbiased estimate of the ELBO. "
    "Averaged over draws it gives E_q[log p(x | z)] − KL(q(z | x) ‖ p(z)), the closed-form-KL version.",
    success="Your estimate is log p(x | z) + log p(z) − log q(z | x), one value per example.",
)
def check_elbo_one_sample(fn):
    """fn(log_px_given_z, z, z_mean, z_log_var) -> log p(x | z) + log p(z) - log q(z | x), shape (batch,)."""
    expect_callable(fn, ELBO_NAME, ELBO_CALL)
    for batch, latent_dim, seed in CASES:
        case = make_case(batch, latent_dim, seed)
        value = _call_case(fn, case)
        expected = _lesson().elbo_one_sample(*case)
        diagnose(value, expected, _elbo_mistakes(case), ELBO_NAME,
                 f"a batch of {batch} with {latent_dim} latent dimensions", rtol=1e-5, atol=ATOL)
