"""Exercises on the reparameterization trick (lesson 02): z = mu + sigma * eps, sampling, gradients, and a
prediction of how much noisier the score-function gradient estimator is."""

import numpy as np

from ..checks.asserts import call_learner, close, describe, diagnose, expect_callable, expect_finite, to_array
from ..checks.core import Incorrect, NotAttempted, exercise
from ..checks.placeholder import is_placeholder
from ..checks.predict import judge_prediction

# reparameterize: one (mu, sigma) and a long eps; then a batch of 4 examples with 3 latent dimensions.
# No sigma equals 1, so sigma, sigma^2, sqrt(sigma) and exp(sigma) all give different answers.
MU_ONE, SIGMA_ONE = np.float32(1.5), np.float32(0.5)
EPS_LONG = np.random.default_rng(2).standard_normal(4000).astype(np.float32)
EPS_OTHER = np.random.default_rng(3).standard_normal(4000).astype(np.float32)
MU_VEC = np.array([0.5, -1.0, 2.0], dtype=np.float32)
SIGMA_VEC = np.array([0.5, 1.5, 3.0], dtype=np.float32)
EPS_BATCH = np.array(
    [[0.3, -1.2, 0.8], [1.5, 0.1, -0.6], [-0.9, 2.1, 0.4], [0.0, -0.5, -1.7]], dtype=np.float32
)
MU_BATCH = np.array([[0.5, -1.0, 2.0], [0.0, 0.3, -0.4], [1.2, 1.2, 0.0], [-2.0, 0.7, 0.1]], dtype=np.float32)
SIGMA_BATCH = np.array([[0.5, 1.5, 3.0], [0.2, 0.9, 1.1], [2.0, 0.4, 0.6], [1.3, 0.8, 2.5]], dtype=np.float32)

# sample_normal: enough draws to tell sigma from sigma^2 and a normal from a uniform.
N_DRAWS = 20_000
MU_SAMPLE, SIGMA_SAMPLE = 1.5, 0.5
MU_SECOND, SIGMA_SECOND = -2.0, 2.0
ONE_SIGMA_FRACTION = 0.6827  # P(|eps| < 1) for a standard normal

# reparam_gradients: five fixed draws (so the sample gradients differ from 2 mu and 2 sigma) ...
MU_GRAD, SIGMA_GRAD = 1.0, 0.5
EPS_FIVE = np.array([0.3, -1.2, 0.8, 1.5, -0.4], dtype=np.float32)
# ... then other numbers of draws, and many draws for the success message.
EPS_ONE = np.array([0.7], dtype=np.float32)
EPS_THOUSAND = np.random.default_rng(4).standard_normal(1000).astype(np.float32)
EPS_MANY = np.random.default_rng(0).standard_normal(100_000).astype(np.float32)

# mc_gradients: many draws so the estimates sit within a few standard errors of (2 mu, 2 sigma).
N_MC = 200_000
MC_CASES = ((1.0, 0.5), (-0.7, 1.3))


# ---- Exercise: reparameterize(mu, sigma, eps) -------------------------------------------------


def _reparam_mistakes(mu, sigma, eps):
    """(what a typical wrong reparameterize returns, why) for these inputs, in float64."""
    mu, sigma, eps = (np.asarray(a, dtype=np.float64) for a in (mu, sigma, eps))
    return [
        (mu + sigma**2 * eps,
         "You scaled eps by σ², the variance. The scale of an affine map is the standard deviation: "
         "z = μ + σ·ε has variance σ²·Var(ε) = σ², so multiply by `sigma` itself."),
        (sigma * eps + 0 * mu,
         "You forgot μ: `sigma * eps` is centred on 0. Add `mu` to shift the draws to mean μ."),
        (mu + eps + 0 * sigma,
         "You forgot σ: `mu + eps` always has standard deviation 1. Multiply eps by `sigma` before adding `mu`."),
        (sigma + mu * eps,
         "You swapped μ and σ: the mean is added (`mu + ...`) and the standard deviation multiplies eps "
         "(`sigma * eps`)."),
        ((mu + sigma) * eps,
         "Check the brackets: only σ multiplies eps. `(mu + sigma) * eps` is centred on 0; write `mu + sigma * eps`."),
        (mu + np.exp(sigma) * eps,
         "You took exp(σ). Here `sigma` is already the standard deviation; exp is only needed when a network "
         "outputs a log (log σ, or log σ² as in lesson 04), which this function does not receive."),
        (mu + np.sqrt(sigma) * eps,
         "You took the square root of σ. `sigma` is already the standard deviation (a square root turns a "
         "variance into one), so use it as it is."),
        (mu - sigma * eps,
         "You subtracted σ·ε. That is still N(μ, σ²), since −ε is standard normal too, but for the same eps it "
         "gives different z than `mu + sigma * eps`, the form every later lesson and layer uses. Add it instead."),
    ]


def _check_reparam_shape(values, expected_shape, what, name):
    if values.shape == tuple(expected_shape):
        return
    if values.ndim == 0:
        raise Incorrect(
            f"`{name}` returned a single number for {what}; it should return one z per entry of eps, "
            f"shape {tuple(expected_shape)}. Did you average or sum the draws?"
        )
    if values.size == int(np.prod(expected_shape)):
        raise Incorrect(
            f"`{name}` returned the right number of values for {what} but in shape {values.shape}, expected "
            f"{tuple(expected_shape)}. Keep the shape of eps: no reshape, transpose or extra axis."
        )
    raise Incorrect(
        f"`{name}` returned shape {values.shape} for {what}, expected {tuple(expected_shape)}. Use elementwise "
        "`+` and `*` only, so NumPy or TensorFlow broadcast `mu` and `sigma` over eps."
    )


def _noise_is_ignored(fn, first, name, call_as):
    """Which way the learner's function ignores the given eps, or None if it uses it."""
    again = to_array(call_learner(fn, (MU_ONE, SIGMA_ONE, EPS_LONG), name, call_as), name)
    other = to_array(call_learner(fn, (MU_ONE, SIGMA_ONE, EPS_OTHER), name, call_as), name)
    if close(first, again) and not close(first, other):
        return None
    noise = (first - float(MU_ONE)) / float(SIGMA_ONE)
    if np.allclose(noise, noise.flat[0]):
        return (
            "Your function ignores the `eps` it is given: it returns the same value for every draw, so there is "
            "no noise at all. Return `mu + sigma * eps`."
        )
    if noise.min() >= -1e-3 and noise.max() <= 1 + 1e-3 and abs(noise.mean() - 0.5) < 0.05:
        return (
            "Your function ignores the `eps` it is given and draws uniform noise between 0 and 1 "
            "(`np.random.rand`, `rng.random`, `tf.random.uniform` ...). Uniform noise is not normal, and the "
            "point is to use the eps passed in: return `mu + sigma * eps`."
        )
    return (
        "Your function ignores the `eps` it is given and draws its own noise (for example "
        "`np.random.normal(mu, sigma)`). The trick is an affine map of a given standard normal eps, "
        "z = μ + σ·ε: drawing from N(μ, σ²) directly hides μ and σ inside the random number generator, "
        "where no gradient can reach them. Return `mu + sigma * eps`."
    )


@exercise(
    "reparameterize",
    hints=[
        "An affine map of ε: shift by the mean, stretch by the standard deviation. Nothing random happens "
        "inside the function; the noise arrives as the argument `eps`.",
        "NumPy's and Keras's `+` and `*` broadcast: a `mu` of shape (3,) combines with an eps of shape (4, 3) row "
        "by row. So the formula written for single numbers already serves a batch; no loop is needed.",
    ],
    solution="""
def reparameterize(mu, sigma, eps):
    return mu + sigma * eps
""",
    explanation="z = μ + σ·ε: the given standard normal noise, stretched by σ and shifted by μ.",
    success="z = μ + σ·ε: your function shifts and stretches the eps it is given, for one value or a whole batch.",
)
def check_reparameterize(fn):
    """fn(mu, sigma, eps) -> mu + sigma * eps, with broadcasting."""
    name, call_as = "reparameterize", "reparameterize(mu, sigma, eps)"
    expect_callable(fn, name, call_as)
    what = f"mu = {MU_ONE:g}, sigma = {SIGMA_ONE:g} and eps of shape {EPS_LONG.shape}"
    call_one = f"{name}({MU_ONE:g}, {SIGMA_ONE:g}, eps)"
    first = to_array(call_learner(fn, (MU_ONE, SIGMA_ONE, EPS_LONG), name, call_one), name)
    _check_reparam_shape(first, EPS_LONG.shape, what, name)
    expect_finite(first, name, inputs=what)
    expected = reparameterize_reference(MU_ONE, SIGMA_ONE, EPS_LONG)
    if not close(first, expected):
        ignored = _noise_is_ignored(fn, first, name, call_one)
        if ignored:
            raise Incorrect(ignored)
    diagnose(first, expected, _reparam_mistakes(MU_ONE, SIGMA_ONE, EPS_LONG), name, what)

    batch_advice = ("Use elementwise `+` and `*` (no `np.dot`, no loop over a fixed size) so `mu` and `sigma` "
                    "broadcast over the batch.")
    for mu, sigma, label in ((MU_VEC, SIGMA_VEC, "shape (3,)"), (MU_BATCH, SIGMA_BATCH, "shape (4, 3)")):
        what = f"mu and sigma of {label} and a batch of eps of shape {EPS_BATCH.shape}"
        values = to_array(call_learner(fn, (mu, sigma, EPS_BATCH), name, call_as, batch_advice, context=f"with {what}"),
                          name)
        _check_reparam_shape(values, EPS_BATCH.shape, what, name)
        expect_finite(values, name, inputs=what)
        expected = reparameterize_reference(mu, sigma, EPS_BATCH)
        if not close(values, expected):
            for wrong, message in _reparam_mistakes(mu, sigma, EPS_BATCH):
                if close(values, wrong):
                    raise Incorrect(message)
            raise Incorrect(
                f"`{name}` is right for single numbers but not for {what}: it gave "
                f"{np.round(values[0], 3).tolist()} for the first example, expected "
                f"{np.round(expected[0], 3).tolist()}. {batch_advice}"
            )


def reparameterize_reference(mu, sigma, eps):
    """mu + sigma * eps in float64."""
    return np.float64(mu) + np.float64(sigma) * np.asarray(eps, dtype=np.float64)


# ---- Exercise: sample_normal(mu, sigma, n, seed) ----------------------------------------------


def _check_count(z, n, name, what):
    if z.shape == (n,):
        return
    if z.ndim == 0:
        raise Incorrect(f"`{name}` returned a single number for {what}; it should return all {n:,} draws "
                        f"as an array of shape ({n},).")
    if z.size == n:
        raise Incorrect(f"`{name}` returned {n:,} draws for {what} but in shape {z.shape}; return a flat "
                        f"array of shape ({n},), e.g. draw eps with `rng.standard_normal(n)`.")
    raise Incorrect(f"`{name}` returned {z.size:,} values for {what}; it should return n = {n:,} draws, "
                    f"shape ({n},). Use `n` for the number of draws rather than a fixed number.")


def _check_normal_statistics(z, mu, sigma, name):
    mean, std = float(z.mean()), float(z.std())
    if std < 1e-9:
        raise Incorrect(f"All your draws are the same number ({mean:.4g}): there is no noise. Draw "
                        "`eps = rng.standard_normal(n)` and return `mu + sigma * eps`.")
    noise = (z - mu) / sigma
    if noise.min() >= -1e-3 and noise.max() <= 1 + 1e-3:
        raise Incorrect(
            "Your eps is uniform between 0 and 1 (`rng.random`, `np.random.rand` or `uniform`): every draw "
            f"lies between μ = {mu:g} and μ + σ = {mu + sigma:g}. The trick needs standard normal noise: "
            "`rng.standard_normal(n)`."
        )
    mean_ok = abs(mean - mu) < 5 * sigma / np.sqrt(z.size)
    std_ok = abs(std - sigma) < 0.03 * sigma
    if not std_ok:
        if abs(std - sigma**2) < 0.05 * sigma**2:
            raise Incorrect(f"Your draws have standard deviation {std:.3f} ≈ σ² = {sigma**2:g}: you scaled eps by "
                            "the variance. Multiply by σ itself: `mu + sigma * eps`.")
        if abs(mean - sigma) < 0.05 and abs(std - mu) < 0.05 * mu:
            raise Incorrect("Your draws have mean σ and standard deviation μ: you swapped `mu` and `sigma`.")
        if abs(std - 1.0) < 0.03:
            raise Incorrect(f"Your draws have standard deviation {std:.3f} ≈ 1 whatever σ is: multiply eps by "
                            "`sigma`.")
        if abs(std - np.sqrt(sigma)) < 0.03 * np.sqrt(sigma):
            raise Incorrect(f"Your draws have standard deviation {std:.3f} ≈ √σ: `sigma` is already the standard "
                            "deviation, so use it without a square root.")
        raise Incorrect(f"With σ = {sigma:g} the draws should have standard deviation {sigma:g}, but yours have "
                        f"{std:.3f}. Draw eps from N(0, 1) and return `mu + sigma * eps`.")
    if not mean_ok:
        if abs(mean) < 5 * sigma / np.sqrt(z.size):
            raise Incorrect(f"Your draws are centred on 0, not on μ = {mu:g}: add `mu` to the scaled noise.")
        raise Incorrect(f"With μ = {mu:g} the draws should average about {mu:g}, but yours average {mean:.3f}.")
    inside = float(np.mean(np.abs(z - mean) < std))
    if abs(inside - ONE_SIGMA_FRACTION) > 0.02:
        raise Incorrect(
            f"Your draws have the right mean and spread but not the shape of a normal distribution: {inside:.0%} "
            f"lie within one standard deviation of the mean, where a normal has {ONE_SIGMA_FRACTION:.0%}. "
            "Draw eps with a standard normal generator such as `rng.standard_normal(n)`."
        )
    return mean, std


def _check_seed(fn, z, name, call_as):
    again = to_array(call_learner(fn, (MU_SAMPLE, SIGMA_SAMPLE, N_DRAWS, 0), name, call_as), name)
    if again.shape != z.shape or not close(again, z):
        raise Incorrect(
            "Two calls with the same seed gave different draws. Make the noise depend on `seed` only, e.g. "
            "`rng = np.random.default_rng(seed)` inside the function (TensorFlow's `tf.random.normal(..., "
            "seed=seed)` does not repeat between calls; `keras.random.normal(shape, seed=seed)` does)."
        )
    other = to_array(call_learner(fn, (MU_SAMPLE, SIGMA_SAMPLE, N_DRAWS, 1), name, call_as), name)
    if other.shape == z.shape and close(other, z):
        raise Incorrect("Seeds 0 and 1 gave exactly the same draws: your function ignores `seed`. Create the "
                        "generator from it, `np.random.default_rng(seed)`.")


@exercise(
    "sample_normal",
    hints=[
        "Two steps: draw n standard normal values from a generator made from `seed`, then shift and stretch "
        "them with your `reparameterize`.",
        "Make the generator from `seed`, ask it for n standard normal values, and hand them to the function you "
        "wrote in Exercise 1 as its `eps`.",
    ],
    solution="""
def sample_normal(mu, sigma, n, seed):
    eps = np.random.default_rng(seed).standard_normal(n)
    return reparameterize(mu, sigma, eps)
""",
    explanation="All the randomness is in eps ~ N(0, 1), fixed by the seed; μ and σ only shift and stretch it.",
    success="Your draws are N(μ, σ²), repeatable with a seed, and made from standard normal noise.",
)
def check_sample_normal(fn):
    """fn(mu, sigma, n, seed) -> n draws of N(mu, sigma^2) built as mu + sigma * eps."""
    name = "sample_normal"
    call_as = f"{name}({MU_SAMPLE:g}, {SIGMA_SAMPLE:g}, {N_DRAWS}, seed=0)"
    expect_callable(fn, name, "sample_normal(mu, sigma, n, seed)")
    what = f"mu = {MU_SAMPLE:g}, sigma = {SIGMA_SAMPLE:g}, n = {N_DRAWS:,}"
    z = to_array(call_learner(fn, (MU_SAMPLE, SIGMA_SAMPLE, N_DRAWS, 0), name, call_as), name)
    _check_count(z, N_DRAWS, name, what)
    expect_finite(z, name, inputs=what)
    mean, std = _check_normal_statistics(z, MU_SAMPLE, SIGMA_SAMPLE, name)
    _check_seed(fn, z, name, call_as)

    small = to_array(call_learner(fn, (0.0, 1.0, 7, 3), name, f"{name}(0, 1, 7, seed=3)"), name)
    _check_count(small, 7, name, "n = 7")

    second_call = f"{name}({MU_SECOND:g}, {SIGMA_SECOND:g}, {N_DRAWS}, seed=0)"
    second = to_array(call_learner(fn, (MU_SECOND, SIGMA_SECOND, N_DRAWS, 0), name, second_call), name)
    _check_count(second, N_DRAWS, name, f"mu = {MU_SECOND:g}, sigma = {SIGMA_SECOND:g}")
    if not close((second - MU_SECOND) / SIGMA_SECOND, (z - MU_SAMPLE) / SIGMA_SAMPLE, rtol=1e-4, atol=1e-4):
        raise Incorrect(
            f"With the same seed, `{call_as}` and `{second_call}` should be the same noise, only shifted and "
            "stretched: (z − μ)/σ should be identical. Yours differ, so your noise depends on μ or σ. "
            "Draw eps from the seed alone, then return `reparameterize(mu, sigma, eps)`."
        )
    return (f"Your {N_DRAWS:,} draws have mean {mean:.3f} and standard deviation {std:.3f} "
            f"(μ = {MU_SAMPLE:g}, σ = {SIGMA_SAMPLE:g}).")


# ---- Exercise: reparam_gradients(mu, sigma, eps) ----------------------------------------------


def _as_pair(result, name, first="d_mu", second="d_sigma", none_advice=""):
    """Two scalar gradients from whatever the learner returned, or a message saying what is wrong."""
    if result is None:
        raise Incorrect(f"`{name}` returned None. Did you forget the `return` statement?")
    if isinstance(result, dict):
        raise Incorrect(f"`{name}` returned a dict; return the two numbers as a pair: `return {first}, {second}`.")
    items = None
    if isinstance(result, (list, tuple)):
        items = list(result)
    else:
        shape = getattr(result, "shape", None)
        if shape is not None and tuple(shape) == (2,):
            items = [result[0], result[1]]
    if items is None or len(items) != 2:
        raise Incorrect(f"`{name}` should return two numbers, `{first}, {second}`, but it returned "
                        f"{describe(result)}.")
    if any(is_placeholder(item) for item in items):
        raise NotAttempted(f"`{name}` still returns the `____` placeholder for one of the two values. Replace it "
                           "with your code, run that cell, then run this check again.")
    missing = [label for label, item in zip((first, second), items) if item is None]
    if missing:
        raise Incorrect(f"`{name}` returned None for {' and '.join(f'`{m}`' for m in missing)}. {none_advice}".strip())
    values = []
    for label, item in zip((first, second), items):
        array = to_array(item, label)
        if array.size != 1:
            raise Incorrect(
                f"`{label}` has shape {array.shape}; it should be one number. Keep `mu` and `sigma` scalars and "
                "take the gradient of the scalar loss `mean(z**2)`, not of z itself."
            )
        values.append(float(array.reshape(())))
    return np.array(values)


DTYPE_ADVICE = ("eps arrives as float32: keep mu and sigma float32 too, e.g. `tf.Variable(mu, dtype=tf.float32)`, "
                "rather than converting anything to float64.")
NONE_GRADIENT = (
    "None means the tape saw no path from that input to the loss. Make `mu` and `sigma` `tf.Variable`s (or call "
    "`tape.watch` on them), and compute z = mu + sigma * eps and the loss inside the `with tf.GradientTape()` "
    "block with TensorFlow or `keras.ops`; NumPy (or `.numpy()`) leaves the graph and cuts the gradient."
)


def _exact_gradients(mu, sigma, eps):
    """(2 mean z, 2 mean z*eps): the gradients of mean(z^2) for this eps, float64."""
    eps = np.asarray(eps, dtype=np.float64)
    z = mu + sigma * eps
    return np.array([2 * z.mean(), 2 * (z * eps).mean()])


def _gradient_mistakes(mu, sigma, eps):
    eps = np.asarray(eps, dtype=np.float64)
    n = eps.size
    exact = _exact_gradients(mu, sigma, eps)
    z_var = mu + sigma**2 * eps
    z = mu + sigma * eps
    return [
        (n * exact, f"Your gradients are {n} times too big: you took the gradient of the SUM of z² over the "
                    f"{n} draws. The loss is the mean: `tf.reduce_mean(z**2)` or `ops.mean(z**2)`."),
        (exact[::-1], "You returned the two gradients in the wrong order: return `d_mu, d_sigma`."),
        (np.array([2 * mu, 2 * sigma]),
         "You returned the analytic values 2μ and 2σ. They are the gradients of the expectation E[z²] = μ² + σ²; "
         "the exercise asks the tape for the gradients of this sample's loss mean(z²), which only average "
         "to 2μ and 2σ. Compute them with `tf.GradientTape`."),
        (np.array([2 * z_var.mean(), 2 * (z_var * 2 * sigma * eps).mean()]),
         "Your z uses σ² as the scale (`mu + sigma**2 * eps`). Use `mu + sigma * eps`."),
        (np.array([1.0, eps.mean()]), "Your loss is mean(z); the exercise's loss is mean(z²): square z first."),
        (np.array([2 * z.mean(), 2 * z.mean() * eps.mean()]),
         "You squared the mean, mean(z)²; the loss is the mean of the squares: `mean(z**2)`."),
        (np.zeros(2), "Both gradients are 0: the tape did not see z depend on mu and sigma. " + NONE_GRADIENT),
    ]


@exercise(
    "reparam_gradients",
    hints=[
        "A tape differentiates with respect to `tf.Variable`s. Turn `mu` and `sigma` into variables first, "
        "float32 like eps (`dtype=tf.float32`).",
        "Compute z and the loss inside the `with tf.GradientTape() as tape:` block; after the block, "
        "`tape.gradient(loss, [...])` returns one gradient per variable in the list, in that order.",
    ],
    solution="""
def reparam_gradients(mu, sigma, eps):
    mu = tf.Variable(mu, dtype=tf.float32)
    sigma = tf.Variable(sigma, dtype=tf.float32)
    with tf.GradientTape() as tape:
        z = mu + sigma * eps
        loss = tf.reduce_mean(z**2)
    d_mu, d_sigma = tape.gradient(loss, [mu, sigma])
    return d_mu, d_sigma
""",
    explanation="For fixed eps, z = μ + σ·ε is an ordinary differentiable function of μ and σ, so the tape "
    "differentiates straight through the sample: dz/dμ = 1, dz/dσ = ε.",
    success="The tape differentiates straight through z = μ + σ·ε.",
)
def check_reparam_gradients(fn):
    """fn(mu, sigma, eps) -> (d_mu, d_sigma), the gradients of mean((mu + sigma * eps)**2)."""
    name = "reparam_gradients"
    expect_callable(fn, name, "reparam_gradients(mu, sigma, eps)")

    def gradients(eps):
        call_as, context = f"{name}({MU_GRAD:g}, {SIGMA_GRAD:g}, eps)", f"with {eps.size} draws of eps"
        result = call_learner(fn, (MU_GRAD, SIGMA_GRAD, eps), name, call_as, DTYPE_ADVICE, when=("float", "dtype"),
                       context=context)
        values = _as_pair(result, name, none_advice=NONE_GRADIENT)
        expect_finite(values, name, inputs=f"`{call_as}` {context}")
        return values

    what = f"mu = {MU_GRAD:g}, sigma = {SIGMA_GRAD:g} and eps = {EPS_FIVE.tolist()}"
    diagnose(gradients(EPS_FIVE), _exact_gradients(MU_GRAD, SIGMA_GRAD, EPS_FIVE),
             _gradient_mistakes(MU_GRAD, SIGMA_GRAD, EPS_FIVE), name, what)
    for eps in (EPS_ONE, EPS_THOUSAND):
        values, expected = gradients(eps), _exact_gradients(MU_GRAD, SIGMA_GRAD, eps)
        if not close(values, expected):
            raise Incorrect(
                f"`{name}` is right for 5 draws of eps but not for {eps.size} (it gave "
                f"{np.round(values, 4).tolist()}, expected {np.round(expected, 4).tolist()}). "
                "Did you hard-code the number of draws? Let the mean run over however many eps there are."
            )
    d_mu, d_sigma = gradients(EPS_MANY)
    return (f"With {EPS_MANY.size:,} draws of eps your gradients are d_mu = {d_mu:.2f} and d_sigma = {d_sigma:.2f}; "
            f"the gradients of E[z²] = μ² + σ² are 2μ = {2 * MU_GRAD:g} and 2σ = {2 * SIGMA_GRAD:g}.")


# ---- Optional exercise: mc_gradients(mu, sigma, n, seed) --------------------------------------


def _mc_mistakes(mu, sigma):
    return [
        (np.array([2 * mu, 2 * mu]),
         "Your σ gradient estimates 2μ: you averaged 2z for both. By the chain rule d(z²)/dσ = 2z · dz/dσ "
         "and dz/dσ = ε, so average `2 * z * eps` for the σ gradient."),
        (np.array([mu, sigma]),
         "Your estimates are half the exact values: d(z²)/dz = 2z, so average `2 * z` and `2 * z * eps`."),
        (np.array([2 * sigma, 2 * mu]), "You returned the two estimates in the wrong order: return `g_mu, g_sigma`."),
        (np.array([2 * mu, 2 * sigma**2]),
         "Your σ estimate is about 2σ²: your z uses σ² as the scale. Use `z = mu + sigma * eps`."),
        (np.array([mu**2 + sigma**2, mu**2 + sigma**2]),
         "You returned E[z²] = μ² + σ², the loss itself; return its two gradients."),
    ]


def _within(values, target, errors, k=6.0):
    return bool(np.all(np.abs(values - target) <= k * errors + 1e-9))


@exercise(
    "mc_gradients",
    hints=[
        "Draw n values of ε from a generator made from `seed` and form z = μ + σε, as in Exercise 2.",
        "By the chain rule each draw's gradients are d(z²)/dμ = 2z · ∂z/∂μ and d(z²)/dσ = 2z · ∂z/∂σ. What are "
        "∂z/∂μ and ∂z/∂σ for z = μ + σε, and what do you do with the n values you get?",
    ],
    solution="""
def mc_gradients(mu, sigma, n, seed):
    eps = np.random.default_rng(seed).standard_normal(n)
    z = mu + sigma * eps
    return np.mean(2 * z), np.mean(2 * z * eps)
""",
    explanation="Each draw's gradient is 2z·(dz/dμ, dz/dσ) = 2z·(1, ε); their average is an unbiased estimate "
    "of (2μ, 2σ).",
    success="Your Monte Carlo estimates converge to 2μ and 2σ, at the rate 1/√n.",
)
def check_mc_gradients(fn):
    """fn(mu, sigma, n, seed) -> (g_mu, g_sigma), averages of 2z and 2z*eps over n draws."""
    from ..lessons.reparam import mc_standard_errors

    name = "mc_gradients"
    expect_callable(fn, name, "mc_gradients(mu, sigma, n, seed)")
    for mu, sigma in MC_CASES:
        call_as = f"{name}({mu:g}, {sigma:g}, {N_MC}, seed=0)"
        values = _as_pair(call_learner(fn, (mu, sigma, N_MC, 0), name, call_as), name, "g_mu", "g_sigma")
        expect_finite(values, name, inputs=call_as)
        errors = np.array(mc_standard_errors(mu, sigma, N_MC))
        exact = np.array([2 * mu, 2 * sigma])
        if _within(values, exact, errors):
            continue
        for wrong, message in _mc_mistakes(mu, sigma):
            if _within(values, wrong, errors):
                raise Incorrect(message)
        raise Incorrect(
            f"For μ = {mu:g}, σ = {sigma:g} and n = {N_MC:,} draws your estimates are {np.round(values, 3).tolist()}; "
            f"they should be within a few standard errors ({np.round(errors, 3).tolist()}) of 2μ = {2 * mu:g} and "
            f"2σ = {2 * sigma:g}."
        )
    small = [_as_pair(call_learner(fn, (1.0, 0.5, 10, seed), name, f"{name}(1, 0.5, 10, seed={seed})"), name,
                      "g_mu", "g_sigma") for seed in (0, 0, 1)]
    if np.allclose(small[0], [2.0, 1.0]) and np.allclose(small[2], [2.0, 1.0]):
        raise Incorrect("Your function returns exactly 2μ and 2σ even from 10 draws: that is the exact answer, "
                        "not a Monte Carlo estimate. Average the per-draw gradients 2z and 2z·ε.")
    if not np.allclose(small[0], small[1]):
        raise Incorrect("Two calls with the same seed gave different estimates: draw eps from "
                        "`np.random.default_rng(seed)`.")
    if np.allclose(small[0], small[2]):
        raise Incorrect("Seeds 0 and 1 gave the same estimates: your function ignores `seed`.")



# ---- predict_score_spread: the score-function estimator's spread against the trick's ---------------------------

MU_SCORE, SIGMA_SCORE = 1.0, 0.1  # lesson 02's prediction: f(z) = z², one draw per estimate


def one_draw_spreads(mu, sigma):
    """Standard deviations of the one-draw estimates of d/dμ E[z²], z ~ N(μ, σ²): (trick, score function).

    Trick: 2z, spread 2σ. Score function: z² (z − μ) / σ² = aε + bε² + cε³ with a = μ²/σ, b = 2μ, c = σ, whose
    variance follows from the normal moments E[ε²] = 1, E[ε⁴] = 3, E[ε⁶] = 15: a² + 2b² + 15c² + 6ac.
    """
    a, b, c = mu**2 / sigma, 2 * mu, sigma
    return 2 * sigma, float(np.sqrt(a**2 + 2 * b**2 + 15 * c**2 + 6 * a * c))


@exercise(
    "predict_score_spread",
    hints=[
        "The trick's one-draw estimate is 2z = 2μ + 2σε: its spread is 2σ, small when σ is small.",
        "The score function's estimate is z²(z − μ)/σ². Put z = μ + σε: its biggest term is (μ²/σ)·ε. How large "
        "is that for μ = 1, σ = 0.1, next to 2σ?",
    ],
    solution="score_spread_guess = 50  # about μ²/σ divided by 2σ",
    explanation="The score function's estimate carries a term (μ²/σ)·ε, so its spread grows like 1/σ, while "
    "the trick's spread 2σ shrinks with σ.",
    success="Good prediction.",
)
def check_predict_score_spread(score_spread_guess):
    """A guess of the ratio of one-draw spreads (score function / trick) at μ = 1, σ = 0.1, within a factor 2."""
    trick, score = one_draw_spreads(MU_SCORE, SIGMA_SCORE)
    ratio = score / trick
    return judge_prediction(
        score_spread_guess, ratio, ratio / 2, ratio * 2, "score_spread_guess",
        f"With one draw the trick's estimate 2z scatters by 2σ = {trick:.2g}; the score function's "
        f"z²(z − μ)/σ² scatters by {score:.3g}, mostly from its term (μ²/σ)·ε. The smaller σ, the worse the "
        "score function does, and a trained encoder's σ is small.",
        mistakes=[
            (lambda v: v <= 1, "Both estimators are unbiased, but they are not equally noisy: the score function "
                               "multiplies f(z) by (z − μ)/σ², which is large when σ is small."),
        ],
    )
