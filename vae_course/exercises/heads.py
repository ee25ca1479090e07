"""Lesson 04's exercises: sigma from each kind of head, the KL the 2016 sampler really pays, its fix, and a
prediction of how much the 2016 loss undercharges the KL."""

import contextlib
import warnings

import numpy as np

from ..checks.asserts import call_learner, close, diagnose, expect_callable, expect_finite, expect_shape, to_array
from ..checks.core import Incorrect, Uncheckable, exercise
from ..checks.predict import judge_prediction

# Head outputs h (4 examples, 3 latent dimensions): negative, zero and positive values, all distinct.
H = np.array([[-4.0, -1.5, 0.0], [0.5, 2.0, 3.5], [-0.3, 1.0, -2.5], [4.0, -3.0, 0.2]], dtype=np.float32)
# A wide range for the softplus: exp(100) overflows float32, a stable softplus does not.
H_WIDE = np.array([-100.0, -30.0, 0.0, 30.0, 100.0], dtype=np.float32)
# Encoder outputs for the KL and sampler exercises; h is kept moderate so exp(2h) is harmless.
MU = np.array([[0.5, -1.0, 2.0], [0.0, 0.0, 0.0], [1.5, 0.3, -0.7], [-2.0, 1.0, 0.2]], dtype=np.float32)
LOG_SIGMA = np.array([[-0.7, 0.4, -0.2], [0.0, 0.0, 0.0], [0.6, -1.2, 0.2], [-0.4, -0.1, 1.1]], dtype=np.float32)
EPS = np.array([[0.3, -1.1, 0.8], [1.4, -0.2, 0.5], [-0.9, 0.7, 1.9], [0.1, -1.6, -0.4]], dtype=np.float32)
# One example with 5 latent dimensions, so a hard-coded K = 3 is caught.
MU_5 = np.array([[0.1, -0.4, 0.9, 1.3, -2.2]], dtype=np.float32)
LOG_SIGMA_5 = np.array([[-0.5, 0.1, -0.9, 0.9, -0.1]], dtype=np.float32)
EPS_5 = np.array([[0.6, -0.3, 1.2, -0.8, 0.05]], dtype=np.float32)
# Very confident dimensions: sigma = exp(-60) squares to 0 in float32, while 2h = -120 is fine.
MU_TINY = np.array([[0.3, -0.2]], dtype=np.float32)
LOG_SIGMA_TINY = np.array([[-60.0, -55.0]], dtype=np.float32)

HEAD_KINDS = ("log_sigma", "log_var", "softplus")


@contextlib.contextmanager
def _quiet_numpy():
    """Keep NumPy's overflow and invalid-value warnings out of the learner's notebook while we probe."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _values(fn, args, name, call_text, shape, advice):
    with _quiet_numpy():
        result = call_learner(fn, args, name, call_text)
    values = to_array(result, name)
    expect_shape(values, shape, name, advice=advice)
    return values


def _same(actual, expected):
    """Equal within the course tolerance, NaN in the same places (so a NaN-making slip can be recognised)."""
    expected = np.asarray(expected, dtype=np.float64)
    return actual.shape == expected.shape and bool(np.allclose(actual, expected, rtol=1e-4, atol=1e-5, equal_nan=True))


def _judge(actual, expected, mistakes, name, context, inputs):
    """Correct, or the first typical mistake matched (NaN-aware), or NaN/inf named, or a plain mismatch."""
    if close(actual, expected):
        return
    for wrong, message in mistakes:
        if _same(actual, wrong):
            raise Incorrect(message)
    expect_finite(actual, name, inputs=inputs)
    diagnose(actual, expected, [], name, context)


def _softplus(h):
    """log(1 + exp(h)) without overflow, float64."""
    h = np.asarray(h, dtype=np.float64)
    return np.maximum(h, 0) + np.log1p(np.exp(-np.abs(h)))


# ---- exercise 1: sigma from each kind of head ----------------------------------------------


def _sigma_mistakes(kind, h):
    with _quiet_numpy():
        h = np.asarray(h, dtype=np.float64)
        quoted = f'For kind "{kind}"'
        if kind == "log_sigma":
            return [
                (np.exp(h / 2), f"{quoted}, h is log σ itself, so σ = exp(h). exp(h / 2) is the log-variance head's "
                    f"σ."),
                (h, f"{quoted} you returned h unchanged. h is log σ, a logarithm: undo it with exp, σ = exp(h)."),
                (np.exp(2 * h), f"{quoted} you returned exp(2h), which is σ², the variance. The standard deviation "
                                "is exp(h)."),
                (np.exp(-h), f"{quoted} you returned exp(−h), which is 1/σ: check the sign."),
                (np.log(h), f"{quoted} you took log(h). h already is a logarithm (log σ); its inverse is exp: σ = "
                    f"exp(h)."),
            ]
        if kind == "log_var":
            return [
                (np.exp(h), f"{quoted}, exp(h) is σ², the variance: the square root is missing. "
                            "σ = exp(h / 2) = sqrt(exp(h))."),
                (np.exp(h) / 2, f"{quoted}: divide inside the exponential, exp(h / 2), not exp(h) / 2."),
                (np.sqrt(h), f"{quoted} you took sqrt(h), the root of a logarithm. h is log σ², so undo the log "
                             "first: σ = sqrt(exp(h)) = exp(h / 2)."),
                (h / 2, f"{quoted} you returned h / 2, which is log σ, still a logarithm: σ = exp(h / 2)."),
                (h, f"{quoted} you returned h unchanged. h is log σ²: σ = exp(h / 2)."),
                (np.exp(2 * h), f"{quoted} you returned exp(2h), which would be the variance if h were log σ. "
                                "Here h = log σ², so σ = exp(h / 2)."),
                (np.exp(-h / 2), f"{quoted} you returned exp(−h / 2), which is 1/σ: check the sign."),
            ]
        return [
            (h, f"{quoted} you returned h, which is log(exp(h)): the 1 is missing. The softplus is log(1 + exp(h)); "
                "the 1 is what keeps σ positive when h is negative."),
            (np.maximum(h, 0), f"{quoted}: max(h, 0) is a ReLU, not a softplus. It gives σ = 0 for every negative h "
                               "(and no gradient there). The softplus is log(1 + exp(h))."),
            (1 / (1 + np.exp(-h)), f"{quoted}: that is the sigmoid 1 / (1 + exp(−h)), the derivative of the softplus. "
                                   "The softplus itself is log(1 + exp(h))."),
            (_softplus(-h), f"{quoted} you computed log(1 + exp(−h)) = softplus(−h), which falls as h grows. "
                            "Use log(1 + exp(h)), e.g. `ops.softplus(h)`."),
            (np.exp(h), f"{quoted}: exp(h) is the log σ head. The softplus is log(1 + exp(h)): it behaves like "
                        "exp(h) for very negative h and like h for large h."),
            (np.log(1 + h), f"{quoted} you computed log(1 + h), which is NaN for h < −1. Put the exp inside: "
                            "log(1 + exp(h))."),
            (np.log(1 + np.exp(h)) / 2, f"{quoted}: the softplus is σ itself; do not halve it."),
        ]


def _check_sigma_kind(fn, kind, got):
    context = f'h = the lesson\'s test values and kind = "{kind}"'
    h = np.float64(H)
    expected = {"log_sigma": np.exp(h), "log_var": np.exp(h / 2), "softplus": _softplus(H)}[kind]
    _judge(got, expected, _sigma_mistakes(kind, H), "sigma_from_head", context,
           inputs=f'kind = "{kind}" (h from −4 to 4)')


@exercise(
    "sigma_from_head",
    hints=[
        "Ask what h is the logarithm of. If h = log σ, undo the log: σ = exp(h). If h = log σ², "
        "exp(h) is σ², so σ is its square root. The softplus is log(1 + exp(h)).",
        "Write each answer with `ops` functions, elementwise. For the softplus, think of h = 100 before you write "
        "log(1 + exp(h)) literally: exp(100) overflows float32. Is there an `ops` function that computes the "
        "softplus for you?",
    ],
    solution="""
def sigma_from_head(h, kind):
    if kind == "raw":
        return h
    if kind == "log_sigma":
        return ops.exp(h)
    if kind == "log_var":
        return ops.exp(h / 2)
    if kind == "softplus":
        return ops.softplus(h)
    raise ValueError(f"unknown kind {kind!r}")
""",
    explanation="exp undoes a log: exp(log σ) = σ and exp(log σ² / 2) = σ. The softplus log(1 + exp(h)) is positive "
    "for every h; `ops.softplus` computes it without overflow.",
    success="σ = exp(h) for a log σ head, exp(h / 2) for a log σ² head, softplus(h) for a softplus head: "
    "all positive, for any h.",
)
def check_sigma_from_head(fn):
    """fn(h, kind) -> sigma, elementwise, for kind in "log_sigma", "log_var", "softplus"."""
    name = "sigma_from_head"
    expect_callable(fn, name, 'sigma_from_head(h, kind)')
    advice = "σ is computed elementwise: return one value per entry of h, with h's shape."
    got = {kind: _values(fn, (H, kind), name, f'sigma_from_head(h, "{kind}")', H.shape, advice) for kind in HEAD_KINDS}
    h = np.float64(H)
    if _same(got["log_sigma"], np.exp(h / 2)) and _same(got["log_var"], np.exp(h)):
        raise Incorrect(
            'You swapped the two exp heads. For "log_sigma", h = log σ, so σ = exp(h); for "log_var", '
            "h = log σ², so σ = exp(h / 2). Your function gives exp(h / 2) and exp(h) the other way round."
        )
    for kind in HEAD_KINDS:
        _check_sigma_kind(fn, kind, got[kind])
    wide = _values(fn, (H_WIDE, "softplus"), name, 'sigma_from_head(h, "softplus")', H_WIDE.shape, advice)
    if np.isposinf(wide).any():
        raise Incorrect(
            'For kind "softplus" and h = 100 your function returns inf: exp(100) overflows float32 (the largest '
            "float32 is about 3.4e38), so log(1 + exp(h)) is inf although the softplus is just about 100. Use a "
            "stable softplus: `ops.softplus(h)` or `np.logaddexp(0, h)`."
        )
    expect_finite(wide, name, inputs='kind = "softplus" and h from −100 to 100')
    if not np.allclose(wide, _softplus(H_WIDE), rtol=1e-4, atol=1e-6):
        raise Incorrect(
            f'For kind "softplus" and h = {H_WIDE.tolist()} your function gives {np.round(wide, 4).tolist()}, '
            f"expected about {np.round(_softplus(H_WIDE), 4).tolist()}. Is it exact for large |h|?"
        )
    line = _values(fn, (H[1], "log_var"), name, 'sigma_from_head(h, "log_var")', H[1].shape, advice)
    if not close(line, np.exp(np.float64(H[1]) / 2)):
        raise Incorrect("Your function is right for a 2-D array of h but not for a 1-D one. Work elementwise "
                        "with no assumption about the shape.")


# ---- exercise 2: the KL the 2016 sampler really pays ---------------------------------------


def _reference_true_kl(mu, h):
    """KL(N(mu, exp(h)^2) || N(0, 1)) summed over the last axis, float64: log sigma^2 = 2h, sigma^2 = exp(2h)."""
    mu, h = np.float64(mu), np.float64(h)
    return -0.5 * np.sum(1 + 2 * h - mu**2 - np.exp(2 * h), axis=-1)


def _kl_shape(values, n, name):
    if values.ndim == 2:
        why = "You returned one value per latent dimension, so the sum over dimensions is missing."
    elif values.ndim == 0:
        why = "You returned a single number, so you also summed (or averaged) over the examples."
    else:
        why = ""
    expect_shape(values, (n,), name, advice=f"Expected one KL value per example: sum over the last axis only "
                                            f"(`axis=-1`). {why}")


def _true_kl_mistakes(mu, h):
    mu, h = np.float64(mu), np.float64(h)
    terms = 1 + 2 * h - mu**2 - np.exp(2 * h)
    return [
        (-0.5 * np.sum(1 + h - mu**2 - np.exp(h), axis=-1),
         "That is the 2016 code's own KL term, which reads h as log σ². But its sampler draws with σ = exp(h), "
         "so for the distribution it really samples, log σ² = 2h and σ² = exp(2h)."),
        (-0.5 * np.sum(1 + 2 * h - mu**2 - np.exp(h), axis=-1),
         "log σ² = 2h is right, but the variance is σ² = exp(h)² = exp(2h), not exp(h)."),
        (-0.5 * np.sum(1 + h - mu**2 - np.exp(2 * h), axis=-1),
         "σ² = exp(2h) is right, but the log term is log σ² = 2 log σ = 2h, not h."),
        (-0.5 * np.mean(terms, axis=-1),
         "You averaged over the latent dimensions (the 2016 blog's `K.mean`). The KL of independent dimensions is "
         "their sum: use a sum over the last axis; the mean quietly divides the KL by K."),
        (np.sum(terms, axis=-1),
         "You dropped the factor −1/2 in front of the sum: the bracket alone is negative (or zero), so your KL "
         "comes out −2 times too big. Multiply the sum by `-0.5`."),
        (0.5 * np.sum(terms, axis=-1),
         "Your KL has the wrong sign: it is −1/2 · sum, with a minus. A KL divergence is never negative."),
        (-np.sum(terms, axis=-1),
         "You kept the minus sign but dropped the 1/2: multiply the sum by `-0.5`, not `-1`."),
        (-0.5 * np.sum(1 + 2 * h + mu**2 - np.exp(2 * h), axis=-1),
         "Check the sign of μ²: it is subtracted, −μᵢ². Moving the mean away from 0 must increase the KL."),
        (-0.5 * np.sum(2 * h - mu**2 - np.exp(2 * h), axis=-1),
         "The bracket starts with 1: (1 + 2h − μ² − exp(2h)). Without it the KL is not zero at the prior "
         "(μ = 0, h = 0)."),
    ]


@exercise(
    "true_kl_2016",
    hints=[
        "The 2016 sampler uses σ = exp(h). Write log σ² and σ² in terms of h, then put them into "
        "KL = −1/2 · Σᵢ (1 + log σᵢ² − σᵢ² − μᵢ²), summed over the last axis.",
        "log of a square is twice the log, and exp(h) squared is exp of what? Put both into the bracket directly; "
        "do not compute log(exp(h) ** 2), which is −inf once exp(h) ** 2 underflows.",
    ],
    solution="""
def true_kl_2016(z_mean, z_log_sigma):
    log_var = 2 * z_log_sigma          # sigma = exp(h), so log sigma^2 = 2h
    return -0.5 * ops.sum(1 + log_var - ops.square(z_mean) - ops.exp(log_var), axis=-1)
""",
    explanation="The sampler decides which distribution q is; the KL must be that of q. With σ = exp(h), "
    "log σ² = 2h and σ² = exp(2h); this is also `kl_log_var(z_mean, 2 * z_log_sigma)`.",
    success="Your function gives the KL of the distribution the 2016 sampler really draws from: "
    "log σ² = 2h, σ² = exp(2h), summed over the latent dimensions.",
)
def check_true_kl_2016(fn):
    """fn(z_mean, z_log_sigma) -> KL(N(z_mean, exp(z_log_sigma)^2) || N(0, 1)) per example."""
    name, call_as = "true_kl_2016", "true_kl_2016(z_mean, z_log_sigma)"
    expect_callable(fn, name, call_as)
    with _quiet_numpy():
        values = to_array(call_learner(fn, (MU, LOG_SIGMA), name, call_as), name)
    _kl_shape(values, len(MU), name)
    _judge(values, _reference_true_kl(MU, LOG_SIGMA), _true_kl_mistakes(MU, LOG_SIGMA), name,
           "the lesson's test values", inputs="the lesson's test values of z_mean and z_log_sigma")
    with _quiet_numpy():
        five = to_array(call_learner(fn, (MU_5, LOG_SIGMA_5), name, call_as), name)
    if five.shape != (1,) or not close(five, _reference_true_kl(MU_5, LOG_SIGMA_5)):
        raise Incorrect(
            f"`{name}` is right for 3 latent dimensions but not for 5 (it gave {np.round(five, 4).tolist()}, "
            f"expected {np.round(_reference_true_kl(MU_5, LOG_SIGMA_5), 4).tolist()}). "
            "Did you hard-code the number of dimensions?"
        )
    with _quiet_numpy():
        tiny = to_array(call_learner(fn, (MU_TINY, LOG_SIGMA_TINY), name, call_as), name)
    expected = _reference_true_kl(MU_TINY, LOG_SIGMA_TINY)
    if tiny.shape != (1,) or not np.all(np.isfinite(tiny)) or not np.allclose(tiny, expected, rtol=1e-4):
        raise Incorrect(
            "Your function is right for ordinary values but not for very confident dimensions "
            f"(h = −60 gave {np.round(tiny, 3).tolist()}, expected {np.round(expected, 3).tolist()}). "
            "exp(−60)² underflows to 0 in float32, so log(σ²) computed from σ is −inf: write log σ² = 2h directly."
        )


# ---- exercise 3: the sampler that agrees with the 2016 KL term ------------------------------


def _sampler_mistakes(mu, h, eps):
    with _quiet_numpy():
        mu, h, eps = np.float64(mu), np.float64(h), np.float64(eps)
        return [
            (mu + np.exp(h) * eps,
             "That is the 2016 sampler unchanged: exp(h) reads h as log σ. The KL term reads h as log σ², "
             "so the matching standard deviation is σ = exp(h / 2)."),
            (mu + 0.01 * np.exp(h) * eps,
             "That is the 2016 line, epsilon_std = 0.01 included. Both are wrong for this KL term: σ = exp(h / 2), "
             "and eps must stay standard normal."),
            (mu + 0.01 * np.exp(h / 2) * eps,
             "σ = exp(h / 2) is right, but you kept the 2016 `epsilon_std = 0.01`. The KL term assumes eps ~ N(0, 1); "
             "shrinking the noise 100 times makes the reported loss look far better than the model is "
             "(keras-team/keras#4211)."),
            (mu + np.exp(h) / 2 * eps, "Divide inside the exponential: exp(h / 2), not exp(h) / 2."),
            (mu + np.exp(2 * h) * eps,
             "exp(2h) goes the wrong way. The KL term reads h as log σ², so σ = exp(h / 2)."),
            (mu + np.exp(-h / 2) * eps, "exp(−h / 2) is 1/σ: check the sign."),
            (mu + h / 2 * eps, "h / 2 is log σ, still a logarithm: exponentiate it, σ = exp(h / 2)."),
            (mu + h * eps, "You used h itself as σ; it is a logarithm (log σ²): σ = exp(h / 2)."),
            (mu + np.sqrt(h) * eps, "sqrt(h) takes the root of a logarithm: σ = sqrt(exp(h)) = exp(h / 2)."),
            (np.exp(h / 2) * eps, "Your samples are centred on 0: add `z_mean` to the scaled noise."),
            (mu + np.exp(h / 2), "The noise is missing: multiply σ = exp(h / 2) by `eps`, then add `z_mean`."),
            (h + np.exp(mu / 2) * eps,
             "You swapped z_mean and z_log_sigma: the function is called as (z_mean, z_log_sigma, eps)."),
        ]


def _sample(fn, args, name, call_as, shape):
    return _values(fn, args, name, call_as, shape,
                   "z has one entry per entry of z_mean: combine the three arrays elementwise.")


@exercise(
    "consistent_sampler",
    hints=[
        "Keep the KL term as it is: it reads h as log σ². Which σ does that mean? exp(h) would be σ², "
        "so σ is its square root.",
        "Lesson 02's trick: z = μ + σ · eps, with the σ from the first hint written in terms of h. Use the `eps` "
        "you are given; do not draw new noise, and do not multiply by an epsilon_std.",
    ],
    solution="""
def consistent_sampler(z_mean, z_log_sigma, eps):
    return z_mean + ops.exp(z_log_sigma / 2) * eps
""",
    explanation="The 2016 KL term is Equation 17-4 with γ = h, so h is log σ² and σ = exp(h / 2). This is the fix "
    "of keras-team/keras#3220, the sampler of every later version.",
    success="Your sampler and the 2016 KL term now agree: h is log σ², σ = exp(h / 2), eps ~ N(0, 1).",
)
def check_consistent_sampler(fn):
    """fn(z_mean, z_log_sigma, eps) -> z_mean + exp(z_log_sigma / 2) * eps."""
    name, call_as = "consistent_sampler", "consistent_sampler(z_mean, z_log_sigma, eps)"
    expect_callable(fn, name, call_as)
    z = _sample(fn, (MU, LOG_SIGMA, EPS), name, call_as, MU.shape)
    again = _sample(fn, (MU, LOG_SIGMA, EPS), name, call_as, MU.shape)
    expected = np.float64(MU) + np.exp(np.float64(LOG_SIGMA) / 2) * np.float64(EPS)
    if not _same(z, again) and not close(z, expected):
        raise Incorrect(
            "Two calls with the same inputs gave different z: your function draws its own noise. Use the `eps` "
            "argument (the check passes fixed noise so it can compare z with the expected value)."
        )
    _judge(z, expected, _sampler_mistakes(MU, LOG_SIGMA, EPS), name, "the lesson's test values",
           inputs="the lesson's test values")
    five = _sample(fn, (MU_5, LOG_SIGMA_5, EPS_5), name, call_as, MU_5.shape)
    if not close(five, np.float64(MU_5) + np.exp(np.float64(LOG_SIGMA_5) / 2) * np.float64(EPS_5)):
        raise Incorrect("Your sampler is right for 3 latent dimensions but not for 5. Work elementwise, "
                        "with no fixed shape.")


# ---- predict_kl_ratio: how much does the 2016 loss undercharge? --------------------------------------------------


@exercise(
    "predict_kl_ratio",
    hints=[
        "Per dimension, the KL's σ part is ½ f(log σ²) with f(x) = eˣ − 1 − x. The loss puts h into f; the "
        "sampler's true log σ² is 2h.",
        "For small h, f(x) ≈ x²/2, so f(2h) ≈ 4 f(h). For very negative h, f(x) ≈ −x, so f(2h) ≈ 2 f(h). The μ² "
        "part is charged correctly and pulls the ratio towards 1.",
    ],
    solution="kl_ratio_guess = 2  # between 1 and 4: the σ part is charged 2 to 4 times too little, μ² correctly",
    explanation="The σ part of the true KL is f(2h) against the reported f(h), 2 to 4 times as much for h < 0; the "
    "μ² part is the same in both, so the overall ratio lies between 1 and 4.",
    success="Good prediction.",
)
def check_predict_kl_ratio(kl_ratio_guess, terms):
    """A guess of mean true KL / mean reported KL for the trained 2016 model, within a factor 1.5."""
    try:
        true_kl = float(np.mean(terms["true_kl"]))
        reported_kl = float(np.mean(terms["reported_kl"]))
    except (KeyError, TypeError, IndexError):
        raise Uncheckable("Pass the dictionary the lesson computed: `check.predict_kl_ratio(kl_ratio_guess, "
                          "terms_2016)`, with `terms_2016 = heads.elbo_terms_2016(vae_2016, x_test)`.") from None
    if not reported_kl > 0:
        raise Uncheckable(f"The reported KL is {reported_kl:.3g}, so no ratio can be formed; train the model first.")
    ratio = true_kl / reported_kl
    return judge_prediction(
        kl_ratio_guess, ratio, ratio / 1.5, ratio * 1.5, "kl_ratio_guess",
        f"On the test split the true KL averages {true_kl:.2f} nats and the reported one {reported_kl:.2f}. "
        "For every confident dimension (h < 0) the σ part of the KL is charged 2 to 4 times too little, the μ² "
        "part correctly, so the ratio lands between 1 and 4.",
        mistakes=[
            (lambda v: v < 1, "The true KL is never smaller: f(x) = eˣ − 1 − x is convex with its minimum at 0, so "
                              "f(2h) ≥ f(h) for every h."),
            (lambda v: v > 4, "For a confident dimension (h < 0, σ < 1) even the σ part is at most 4 times too "
                              "small (f(2h) ≤ 4 f(h)), and the μ² part is charged correctly."),
        ],
    )
