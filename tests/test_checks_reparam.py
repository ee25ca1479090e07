"""Lesson 02's checks: reparameterize, sample_normal, reparam_gradients and mc_gradients.

Every correct style passes, the placeholder is "not attempted", and each typical
mistake a checker claims to catch gets its own message.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from vae_course import reparam
from vae_course.checks import ____, check

from checker_helpers import assert_fails, assert_not_attempted, assert_passes

# ---- reparameterize(mu, sigma, eps) ------------------------------------------------------------


@pytest.mark.parametrize(
    "fn",
    [
        lambda mu, sigma, eps: mu + sigma * eps,
        lambda mu, sigma, eps: np.add(np.multiply(eps, sigma), mu),
        lambda mu, sigma, eps: ops.add(mu, ops.multiply(sigma, eps)),
        lambda mu, sigma, eps: tf.convert_to_tensor(mu) + tf.convert_to_tensor(sigma) * tf.convert_to_tensor(eps),
        lambda mu, sigma, eps: (eps * sigma + mu).tolist(),
        reparam.reparameterize,
    ],
    ids=["numpy-operators", "numpy-functions", "keras.ops", "tensorflow", "list", "package"],
)
def test_reparameterize_accepts_every_correct_style(fn):
    assert_passes(check.reparameterize(fn))


def _uniform_noise(mu, sigma, eps):
    return mu + sigma * np.random.default_rng().random(np.shape(eps))


@pytest.mark.parametrize(
    "fn, match",
    [
        (lambda mu, sigma, eps: mu + sigma**2 * eps, r"scaled eps by σ², the variance"),
        (lambda mu, sigma, eps: sigma * eps, r"forgot μ"),
        (lambda mu, sigma, eps: mu + eps, r"forgot σ"),
        (lambda mu, sigma, eps: sigma + mu * eps, r"swapped μ and σ"),
        (lambda mu, sigma, eps: (mu + sigma) * eps, r"brackets"),
        (lambda mu, sigma, eps: mu + np.exp(sigma) * eps, r"took exp\(σ\)"),
        (lambda mu, sigma, eps: mu + np.sqrt(sigma) * eps, r"square root of σ"),
        (lambda mu, sigma, eps: mu - sigma * eps, r"subtracted σ·ε"),
        (_uniform_noise, r"ignores the `eps`.*uniform noise"),
        (lambda mu, sigma, eps: mu + sigma * np.random.default_rng(1).random(np.shape(eps)), r"uniform noise"),
        (lambda mu, sigma, eps: np.random.normal(mu, sigma, np.shape(eps)), r"draws its own noise.*np\.random\.normal"),
        (lambda mu, sigma, eps: np.random.default_rng(0).normal(mu, sigma, np.shape(eps)), r"draws its own noise"),
        (lambda mu, sigma, eps: np.mean(mu + sigma * eps), r"single number.*average or sum"),
        (lambda mu, sigma, eps: (mu + sigma * eps).reshape(-1, 1), r"right number of values .* but in shape \(4000, "
            r"1\)"),
        (lambda mu, sigma, eps: (mu + sigma * eps)[:10], r"shape \(10,\).*expected \(4000,\)"),
        (lambda mu, sigma, eps: None, r"returned None.*return"),
        (lambda mu, sigma, eps: "z", r"should give numbers"),
        (lambda mu, sigma, eps: 1 / 0, r"raised ZeroDivisionError"),
        (lambda mu, sigma, eps: mu + np.sqrt(sigma - 10) * eps, r"contains NaN"),
        (lambda mu, sigma, eps: mu + sigma * eps if np.ndim(mu) == 0 else np.dot(sigma, eps.T) + mu,
         r"raised ValueError.*elementwise"),
        (lambda mu, sigma, eps: mu + sigma * eps if np.ndim(mu) == 0 else (mu + sigma * eps)[0],
         r"shape \(3,\).*broadcast"),
        (lambda mu, sigma, eps: mu + sigma * eps if np.ndim(mu) == 0 else mu + sigma * eps[:, ::-1],
         r"right for single numbers but not for mu and sigma of shape \(3,\)"),
        (lambda mu, sigma, eps: np.full(np.shape(eps), mu), r"same value for every draw"),
        (3.0, r"should be a function"),
        (None, r"should be a function.*None"),
        ([1.0, 2.0], r"should be a function.*list"),
    ],
)
def test_reparameterize_names_each_typical_mistake(fn, match):
    with np.errstate(all="ignore"):
        assert_fails(check.reparameterize(fn), match)


def test_reparameterize_broadcasting_mistake_is_named_on_a_batch():
    """A slip that only shows on the (4, 3) batch still gets its specific message."""

    def fn(mu, sigma, eps):
        return mu + sigma * eps if np.ndim(mu) == 0 else mu + sigma**2 * eps

    assert_fails(check.reparameterize(fn), r"scaled eps by σ²")


def test_reparameterize_placeholder_is_not_attempted():
    assert_not_attempted(check.reparameterize(____))
    assert_not_attempted(check.reparameterize(lambda mu, sigma, eps: ____))


# ---- sample_normal(mu, sigma, n, seed) ---------------------------------------------------------


@pytest.mark.parametrize(
    "fn",
    [
        lambda mu, sigma, n, seed: mu + sigma * np.random.default_rng(seed).standard_normal(n),
        lambda mu, sigma, n, seed: reparam.reparameterize(mu, sigma, np.random.default_rng(seed).normal(size=n)),
        lambda mu, sigma, n, seed: mu + sigma * keras.random.normal((n,), seed=seed),
        lambda mu, sigma, n, seed: mu + sigma * tf.random.stateless_normal((n,), seed=[seed, 0]),
        lambda mu, sigma, n, seed: list(mu + sigma * np.random.RandomState(seed).randn(n)),
        # NumPy's normal(loc, scale) is itself loc + scale * standard normal, so it passes as well.
        lambda mu, sigma, n, seed: np.random.default_rng(seed).normal(mu, sigma, n),
        reparam.sample_normal,
    ],
    ids=["numpy", "numpy-normal-size", "keras.random", "tf-stateless", "legacy-list", "numpy-loc-scale", "package"],
)
def test_sample_normal_accepts_every_correct_style(fn):
    assert_passes(check.sample_normal(fn))


def _rng(seed, n):
    return np.random.default_rng(seed).standard_normal(n)


@pytest.mark.parametrize(
    "fn, match",
    [
        (lambda mu, sigma, n, seed: mu + sigma**2 * _rng(seed, n), r"standard deviation 0\.2\d+ ≈ σ².*variance"),
        (lambda mu, sigma, n, seed: sigma * _rng(seed, n), r"centred on 0.*add `mu`"),
        (lambda mu, sigma, n, seed: mu + _rng(seed, n), r"≈ 1 whatever σ is"),
        (lambda mu, sigma, n, seed: sigma + mu * _rng(seed, n), r"swapped `mu` and `sigma`"),
        (lambda mu, sigma, n, seed: mu + np.sqrt(sigma) * _rng(seed, n), r"≈ √σ"),
        (lambda mu, sigma, n, seed: mu + sigma * np.random.default_rng(seed).random(n), r"uniform between 0 and 1"),
        (lambda mu, sigma, n, seed: mu + sigma * np.random.default_rng(seed).uniform(-np.sqrt(3), np.sqrt(3), n),
         r"not the shape of a normal"),
        (lambda mu, sigma, n, seed: mu + sigma * np.random.default_rng(seed).laplace(0, 1 / np.sqrt(2), n),
         r"not the shape of a normal"),
        (lambda mu, sigma, n, seed: (mu + sigma * _rng(seed, n)).reshape(n, 1), r"in shape \(20000, 1\).*flat"),
        (lambda mu, sigma, n, seed: mu + sigma * _rng(seed, 1000), r"1,000 values.*n = 20,000"),
        (lambda mu, sigma, n, seed: mu + sigma * _rng(seed, n) if n > 100 else mu + sigma * _rng(seed, 100),
         r"100 values for n = 7"),
        (lambda mu, sigma, n, seed: float(np.mean(mu + sigma * _rng(seed, n))), r"single number"),
        (lambda mu, sigma, n, seed: mu + sigma * np.random.standard_normal(n), r"same seed gave different draws"),
        (lambda mu, sigma, n, seed: mu + sigma * tf.random.normal((n,), seed=seed), r"same seed gave different"),
        (lambda mu, sigma, n, seed: mu + sigma * _rng(42, n), r"ignores `seed`"),
        (lambda mu, sigma, n, seed: mu + sigma * _rng(seed + int(10 * sigma), n), r"noise depends on μ or σ"),
        (lambda mu, sigma, n, seed: mu + 1.2 * sigma * _rng(seed, n), r"should have standard deviation 0\.5"),
        (lambda mu, sigma, n, seed: mu + 0.1 + sigma * _rng(seed, n), r"should average about 1\.5"),
        (lambda mu, sigma, n, seed: None, r"returned None"),
        (lambda mu, sigma, n, seed: np.log(mu - 10 + sigma * _rng(seed, n)), r"contains NaN"),
        (lambda mu, sigma, n, seed: _rng(seed), r"raised TypeError"),
        (lambda mu, sigma, n, seed: np.full(n, mu), r"same number \(1\.5\): there is no noise"),
        (None, r"should be a function.*None"),
        ([0.1, 0.2], r"should be a function.*list"),
    ],
)
def test_sample_normal_names_each_typical_mistake(fn, match):
    with np.errstate(all="ignore"):
        assert_fails(check.sample_normal(fn), match)


def test_sample_normal_placeholder_is_not_attempted():
    assert_not_attempted(check.sample_normal(____))
    assert_not_attempted(check.sample_normal(lambda mu, sigma, n, seed: ____))


# ---- reparam_gradients(mu, sigma, eps) ---------------------------------------------------------


def _tape(mu, sigma, eps, loss_of_z=lambda z: tf.reduce_mean(z**2), scale=lambda s: s):
    mu, sigma = tf.Variable(mu, dtype=tf.float32), tf.Variable(sigma, dtype=tf.float32)
    with tf.GradientTape() as tape:
        z = mu + scale(sigma) * eps
        loss = loss_of_z(z)
    return tape.gradient(loss, [mu, sigma])


def _watched_constants(mu, sigma, eps):
    mu, sigma = tf.constant(mu, tf.float32), tf.constant(sigma, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch([mu, sigma])
        loss = ops.mean(ops.square(mu + sigma * eps))
    d_mu, d_sigma = tape.gradient(loss, [mu, sigma])
    return d_mu.numpy(), d_sigma.numpy()


def _keras_variables(mu, sigma, eps):
    mu, sigma = keras.Variable(mu), keras.Variable(sigma)
    with tf.GradientTape() as tape:
        loss = ops.mean((mu + sigma * eps) ** 2)
    return tuple(tape.gradient(loss, [mu, sigma]))


@pytest.mark.parametrize(
    "fn",
    [
        lambda mu, sigma, eps: _tape(mu, sigma, eps),
        lambda mu, sigma, eps: tuple(_tape(mu, sigma, eps)),
        lambda mu, sigma, eps: tf.stack(_tape(mu, sigma, eps)),
        _watched_constants,
        _keras_variables,
        lambda mu, sigma, eps: [float(g) for g in _tape(mu, sigma, eps, loss_of_z=lambda z: ops.mean(ops.square(z)))],
        reparam.reparam_gradients,
    ],
    ids=["tape-list", "tape-tuple", "stacked-tensor", "watched-constants", "keras-variables", "floats", "package"],
)
def test_reparam_gradients_accepts_every_correct_style(fn):
    assert_passes(check.reparam_gradients(fn))


def _numpy_sampled(mu, sigma, eps):
    mu, sigma = tf.Variable(mu), tf.Variable(sigma)
    with tf.GradientTape() as tape:
        z = tf.constant(np.random.default_rng(0).normal(mu.numpy(), sigma.numpy(), len(eps)), tf.float32)
        loss = tf.reduce_mean(z**2)
    return tape.gradient(loss, [mu, sigma])


def _unwatched_constants(mu, sigma, eps):
    mu, sigma = tf.constant(mu), tf.constant(sigma)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean((mu + sigma * eps) ** 2)
    return tape.gradient(loss, [mu, sigma])


def _zero_gradients(mu, sigma, eps):
    mu, sigma = tf.Variable(mu), tf.Variable(sigma)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.constant(mu.numpy() + sigma.numpy() * eps) ** 2)
    return tape.gradient(loss, [mu, sigma], unconnected_gradients=tf.UnconnectedGradients.ZERO)


def _float64_mix(mu, sigma, eps):
    mu, sigma = tf.Variable(mu, dtype=tf.float32), tf.Variable(sigma, dtype=tf.float32)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean((mu + sigma * tf.constant(eps, tf.float64)) ** 2)
    return tape.gradient(loss, [mu, sigma])


def _only_mu_watched(mu, sigma, eps):
    mu, sigma = tf.Variable(mu), tf.constant(sigma)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean((mu + sigma * eps) ** 2)
    return tape.gradient(loss, [mu, sigma])


def _per_draw_mu(mu, sigma, eps):
    mu, sigma = tf.Variable(tf.fill([len(eps)], mu)), tf.Variable(sigma)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean((mu + sigma * eps) ** 2)
    return tape.gradient(loss, [mu, sigma])


@pytest.mark.parametrize(
    "fn, match",
    [
        (lambda mu, sigma, eps: _tape(mu, sigma, eps, loss_of_z=lambda z: tf.reduce_sum(z**2)), r"SUM of z²"),
        (lambda mu, sigma, eps: _tape(mu, sigma, eps)[::-1], r"wrong order"),
        (lambda mu, sigma, eps: (2 * mu, 2 * sigma), r"analytic values 2μ and 2σ"),
        (lambda mu, sigma, eps: _tape(mu, sigma, eps, scale=lambda s: s**2), r"σ² as the scale"),
        (lambda mu, sigma, eps: _tape(mu, sigma, eps, loss_of_z=tf.reduce_mean), r"Your loss is mean\(z\)"),
        (lambda mu, sigma, eps: _tape(mu, sigma, eps, loss_of_z=lambda z: tf.reduce_mean(z) ** 2),
         r"squared the mean"),
        (_numpy_sampled, r"None for `d_mu` and `d_sigma`.*NumPy"),
        (_unwatched_constants, r"None for `d_mu` and `d_sigma`.*tape\.watch"),
        (_only_mu_watched, r"None for `d_sigma`\."),
        (_zero_gradients, r"Both gradients are 0"),
        (_float64_mix, r"raised .*float32: keep mu and sigma float32"),
        (_per_draw_mu, r"`d_mu` has shape \(5,\); it should be one number"),
        (lambda mu, sigma, eps: _tape(mu, sigma, eps[:5]), r"right for 5 draws of eps but not for 1"),
        (lambda mu, sigma, eps: _tape(mu, sigma, eps)[0], r"should return two numbers"),
        (lambda mu, sigma, eps: {"d_mu": 1.0, "d_sigma": 2.0}, r"returned a dict"),
        (lambda mu, sigma, eps: None, r"returned None.*return"),
        (lambda mu, sigma, eps: (float("nan"), 1.0), r"contains NaN"),
        (lambda mu, sigma, eps: 1 / 0, r"raised ZeroDivisionError"),
        ("reparam_gradients", r"should be a function"),
        (None, r"should be a function.*None"),
        ([1.0, 2.0], r"should be a function.*list"),
    ],
)
def test_reparam_gradients_names_each_typical_mistake(fn, match):
    assert_fails(check.reparam_gradients(fn), match)


def test_reparam_gradients_success_reports_the_many_draw_gradients():
    result = check.reparam_gradients(reparam.reparam_gradients)
    assert "d_mu = 2.00 and d_sigma = 1.00" in result.message


def test_reparam_gradients_placeholder_is_not_attempted():
    assert_not_attempted(check.reparam_gradients(____))
    assert_not_attempted(check.reparam_gradients(lambda mu, sigma, eps: ____))
    assert_not_attempted(check.reparam_gradients(lambda mu, sigma, eps: (____, ____)))
    assert_not_attempted(check.reparam_gradients(lambda mu, sigma, eps: (1.0, ____)))


# ---- mc_gradients(mu, sigma, n, seed) ----------------------------------------------------------


def _mc(mu, sigma, n, seed, scale=lambda s: s):
    eps = np.random.default_rng(seed).standard_normal(n)
    return mu + scale(sigma) * eps, eps


def _mc_keras(mu, sigma, n, seed):
    eps = keras.random.normal((n,), seed=seed)
    z = mu + sigma * eps
    return ops.mean(2 * z), ops.mean(2 * z * eps)


@pytest.mark.parametrize(
    "fn",
    [
        reparam.mc_gradients,
        lambda mu, sigma, n, seed: [np.mean(2 * z * d) for z, eps in [_mc(mu, sigma, n, seed)] for d in (1, eps)],
        lambda mu, sigma, n, seed: reparam.reparam_gradients(
            mu, sigma, np.random.default_rng(seed).standard_normal(n).astype("float32")),
        _mc_keras,
    ],
    ids=["package", "list-of-numpy", "tape-on-drawn-eps", "keras.ops"],
)
def test_mc_gradients_accepts_every_correct_style(fn):
    assert_passes(check.mc_gradients(fn))


@pytest.mark.parametrize(
    "fn, match",
    [
        (lambda mu, sigma, n, seed: (np.mean(2 * _mc(mu, sigma, n, seed)[0]),) * 2, r"averaged 2z for both"),
        (lambda mu, sigma, n, seed: tuple(np.mean(z * d) for z, e in [_mc(mu, sigma, n, seed)] for d in (1, e)),
         r"half the exact values"),
        (lambda mu, sigma, n, seed: tuple(reparam.mc_gradients(mu, sigma, n, seed))[::-1], r"wrong order"),
        (lambda mu, sigma, n, seed: tuple(
            np.mean(2 * z * d) for z, e in [_mc(mu, sigma, n, seed, scale=np.square)] for d in (1, e)),
         r"about 2σ²"),
        (lambda mu, sigma, n, seed: (np.mean(_mc(mu, sigma, n, seed)[0] ** 2),) * 2, r"the loss itself"),
        (lambda mu, sigma, n, seed: (2 * mu, 2 * sigma), r"exact answer, not a Monte Carlo estimate"),
        (lambda mu, sigma, n, seed: reparam.mc_gradients(mu, sigma, n, None), r"same seed gave different"),
        (lambda mu, sigma, n, seed: reparam.mc_gradients(mu, sigma, n, 7), r"ignores `seed`"),
        (lambda mu, sigma, n, seed: (1.0, 1.0), r"should be within a few standard errors"),
        (lambda mu, sigma, n, seed: reparam.mc_gradients(mu, sigma, n, seed)[0], r"should return two numbers"),
        (lambda mu, sigma, n, seed: (None, 1.0), r"None for `g_mu`"),
        (lambda mu, sigma, n, seed: 1 / 0, r"raised ZeroDivisionError"),
        (lambda mu, sigma, n, seed: (float("nan"), 1.0), r"contains NaN"),
        (lambda mu, sigma, n, seed: [1.0, 2.0, 3.0], r"should return two numbers.*list of length 3"),
        (None, r"should be a function.*None"),
    ],
)
def test_mc_gradients_names_each_typical_mistake(fn, match):
    assert_fails(check.mc_gradients(fn), match)


def test_mc_gradients_placeholder_is_not_attempted():
    assert_not_attempted(check.mc_gradients(____))
    assert_not_attempted(check.mc_gradients(lambda mu, sigma, n, seed: ____))


# ---- predict_score_spread ---------------------------------------------------------------------------------------

def test_score_spread_closed_form_matches_a_simulation():
    from vae_course.exercises.reparam import one_draw_spreads

    eps = np.random.default_rng(0).standard_normal(1_000_000)
    for mu, sigma in [(1.0, 0.1), (1.0, 0.5), (-0.5, 2.0)]:
        z = mu + sigma * eps
        trick, score = one_draw_spreads(mu, sigma)
        assert abs(np.std(2 * z) - trick) < 0.01 * trick
        assert abs(np.std(z**2 * (z - mu) / sigma**2) - score) < 0.02 * score


@pytest.mark.parametrize("guess", [53, 30, 100, np.float64(60.0)])
def test_score_spread_predictions_within_a_factor_two_pass(guess):
    result = check.predict_score_spread(guess)
    assert_passes(result)
    assert "53.4" in result.message


@pytest.mark.parametrize(
    "guess, match",
    [
        (1, r"not equally noisy"),
        (0.2, r"not equally noisy"),
        (10, r"from 26.7 to 107 count as right"),
        (500, r"from 26.7 to 107 count as right"),
        (None, r"single number"),
    ],
)
def test_score_spread_wrong_predictions_are_named(guess, match):
    assert_fails(check.predict_score_spread(guess), match)


def test_score_spread_placeholder_is_not_attempted():
    assert_not_attempted(check.predict_score_spread(____))
