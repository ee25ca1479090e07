"""Lesson 08's checks: interpolate, manifold_grid, decode_grid and latent_means.

Every correct style passes (NumPy, keras.ops, TensorFlow, the package's reference), the
placeholder is "not attempted", nothing crashes, and each typical mistake a checker claims
to catch gets its own message.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from vae_course import latent
from vae_course.checks import ____, check

from checker_helpers import assert_fails, assert_not_attempted, assert_passes


def _raises(*args):
    raise RuntimeError("boom inside the learner's code")


# ---- interpolate(z_a, z_b, n) ------------------------------------------------------------------


def _interpolate_loop(z_a, z_b, n):
    return np.array([z_a + (i / (n - 1)) * (z_b - z_a) for i in range(n)])


def _interpolate_two_coordinates(z_a, z_b, n):
    return np.stack([np.linspace(z_a[0], z_b[0], n), np.linspace(z_a[1], z_b[1], n)], axis=1)


def _slerp_like(z_a, z_b, n):
    t = np.linspace(0, 1, n)[:, None]
    return z_a + t * (z_b - z_a) + np.sin(np.pi * t) * 0.3


@pytest.mark.parametrize(
    "fn",
    [
        lambda z_a, z_b, n: z_a + np.linspace(0, 1, n)[:, None] * (z_b - z_a),
        lambda z_a, z_b, n: np.linspace(z_a, z_b, n),
        lambda z_a, z_b, n: (1 - np.linspace(0, 1, n)[:, None]) * z_a + np.linspace(0, 1, n)[:, None] * z_b,
        lambda z_a, z_b, n: ops.linspace(z_a, z_b, n),
        lambda z_a, z_b, n: z_a + ops.expand_dims(ops.linspace(0.0, 1.0, n), -1) * (z_b - z_a),
        lambda z_a, z_b, n: tf.linspace(z_a, z_b, n),
        lambda z_a, z_b, n: [z_a + t * (z_b - z_a) for t in np.linspace(0, 1, n)],
        _interpolate_loop,
        latent.interpolate,
    ],
    ids=["numpy-broadcast", "numpy-linspace", "weighted-sum", "keras.ops-linspace", "keras.ops-broadcast",
         "tensorflow", "list-of-points", "python-loop", "package"],
)
def test_interpolate_accepts_every_correct_style(fn):
    assert_passes(check.interpolate(fn))


@pytest.mark.parametrize(
    "fn, match",
    [
        (lambda z_a, z_b, n: np.linspace(z_b, z_a, n), r"runs backwards, from z_b to z_a"),
        (lambda z_a, z_b, n: np.linspace(z_a, z_b, n, endpoint=False), r"stops short of z_b.*endpoint=False"),
        (lambda z_a, z_b, n: z_a + (np.arange(n) / n)[:, None] * (z_b - z_a), r"stops short of z_b"),
        (lambda z_a, z_b, n: np.linspace(z_a, z_b, n + 2)[1:-1], r"leaves out both ends"),
        (lambda z_a, z_b, n: np.linspace(z_a, z_b, n + 1)[1:], r"first point is not z_a"),
        (lambda z_a, z_b, n: np.linspace(z_a, z_b, n).T, r"transposed"),
        (lambda z_a, z_b, n: np.linspace(z_a, z_b, n - 1), r"one point too few"),
        (lambda z_a, z_b, n: np.linspace(z_a, z_b, n + 1), r"one point too many"),
        (lambda z_a, z_b, n: np.tile((z_a + z_b) / 2, (n, 1)), r"midpoint.*average gives one point"),
        (lambda z_a, z_b, n: (z_a + z_b) / 2, r"single point"),
        (lambda z_a, z_b, n: z_a + np.linspace(0, 1, n)[:, None] * z_b, r"ends at z_a \+ z_b"),
        (lambda z_a, z_b, n: z_a + np.linspace(0, 1, n)[:, None] * (z_a - z_b), r"walks away from z_b"),
        (_slerp_like, r"not on the\s+straight line"),
        (lambda z_a, z_b, n: z_a + (np.linspace(0, 1, n) ** 2)[:, None] * (z_b - z_a), r"steps are uneven"),
        (_interpolate_two_coordinates, r"latent_dim 5.*hard-code"),
        (lambda z_a, z_b, n: np.linspace(z_a, z_b, 7), r"latent_dim 5 with n = 4.*hard-code"),
        (lambda z_a, z_b, n: np.linspace(z_a, z_b, n) * np.nan, r"contains NaN"),
        (lambda z_a, z_b, n: None, r"returned None.*return"),
        (lambda z_a, z_b, n: "path", r"should give numbers"),
        (_raises, r"raised RuntimeError: boom"),
        (np.linspace(0, 1, 5), r"should be a function"),
    ],
    ids=["reversed", "endpoint-false", "arange-over-n", "both-ends-excluded", "start-excluded", "transposed",
         "n-minus-1", "n-plus-1", "midpoint-repeated", "single-average", "plus-z_b", "wrong-direction",
         "curved", "uneven", "two-coordinates-only", "fixed-n", "nan", "none", "string", "exception",
         "not-a-function"],
)
def test_interpolate_diagnoses_typical_mistakes(fn, match):
    assert_fails(check.interpolate(fn), match)


def test_interpolate_placeholder_is_not_attempted():
    assert_not_attempted(check.interpolate(____))
    assert_not_attempted(check.interpolate(lambda z_a, z_b, n: ____))


# ---- manifold_grid(values) ---------------------------------------------------------------------


def _grid_loop(values):
    n = len(values)
    return [[values[c], values[n - 1 - r]] for r in range(n) for c in range(n)]


@pytest.mark.parametrize(
    "fn",
    [
        lambda v: np.stack([a.ravel() for a in np.meshgrid(v, v[::-1])], axis=1),
        lambda v: np.stack(np.meshgrid(v, v[::-1]), axis=-1).reshape(-1, 2),
        lambda v: np.array([(a, b) for b in v[::-1] for a in v]),
        lambda v: ops.reshape(ops.stack(ops.meshgrid(v, ops.flip(v, 0)), axis=-1), (-1, 2)),
        lambda v: tf.reshape(tf.stack(tf.meshgrid(v, tf.reverse(v, [0])), axis=-1), (-1, 2)),
        _grid_loop,
        latent.manifold_grid,
    ],
    ids=["numpy-meshgrid", "numpy-reshape", "comprehension", "keras.ops", "tensorflow", "list", "package"],
)
def test_manifold_grid_accepts_every_correct_style(fn):
    assert_passes(check.manifold_grid(fn))


@pytest.mark.parametrize(
    "fn, match",
    [
        (lambda v: np.stack([a.ravel() for a in np.meshgrid(v, v)], axis=1), r"upside down.*values\[::-1\]"),
        (lambda v: np.stack([a.ravel() for a in np.meshgrid(v, v[::-1], indexing="ij")], axis=1),
         r"rows and columns are swapped"),
        (lambda v: np.stack([a.ravel() for a in np.meshgrid(v, v[::-1])][::-1], axis=1),
         r"rows and columns are swapped"),
        (lambda v: np.stack([a.ravel() for a in np.meshgrid(v[::-1], v[::-1])], axis=1),
         r"mirrored left to right"),
        (lambda v: np.stack([a.ravel() for a in np.meshgrid(v[::-1], v)], axis=1), r"rotated by 180"),
        (lambda v: np.stack(np.meshgrid(v, v[::-1]), axis=-1), r"n x n block.*reshape\(-1, 2\)"),
        (lambda v: np.stack([a.ravel() for a in np.meshgrid(v, v[::-1])], axis=0), r"transposed"),
        (lambda v: np.stack([v, v[::-1]], axis=1), r"every pair"),
        (lambda v: latent.manifold_grid(np.linspace(-2, 2, len(v))), r"not among the values"),
        (lambda v: latent.manifold_grid(v[:4]) if len(v) >= 4 else np.zeros((16, 2)), r"works for 4 values but not "
            "for 3"),
        (lambda v: None, r"returned None"),
        (_raises, r"raised RuntimeError: boom"),
    ],
    ids=["upside-down", "indexing-ij", "columns-swapped", "mirrored", "rotated", "not-flattened", "transposed",
         "no-pairs", "own-values", "hard-coded-size", "none", "exception"],
)
def test_manifold_grid_diagnoses_typical_mistakes(fn, match):
    assert_fails(check.manifold_grid(fn), match)


def test_manifold_grid_placeholder_is_not_attempted():
    assert_not_attempted(check.manifold_grid(____))
    assert_not_attempted(check.manifold_grid(lambda values: ____))


# ---- decode_grid(decoder, grid) ----------------------------------------------------------------


def _decode_predict(decoder, grid):
    logits = decoder.predict(grid, verbose=0)
    return 1 / (1 + np.exp(-logits))


def _decode_per_point(decoder, grid):
    return np.concatenate([ops.convert_to_numpy(ops.sigmoid(decoder(grid[i : i + 1]))) for i in range(len(grid))])


def _decode_per_point_predict(decoder, grid):
    return np.stack([1 / (1 + np.exp(-decoder.predict(point[None], verbose=0)[0])) for point in grid])


def _decode_transposed(decoder, grid):
    return ops.sigmoid(decoder(grid.T))


@pytest.mark.parametrize(
    "fn",
    [
        lambda decoder, grid: ops.sigmoid(decoder(grid)),
        lambda decoder, grid: keras.activations.sigmoid(decoder(grid, training=False)),
        lambda decoder, grid: tf.sigmoid(decoder(tf.constant(grid))),
        _decode_predict,
        lambda decoder, grid: ops.sigmoid(decoder.predict_on_batch(grid)),
        lambda decoder, grid: ops.convert_to_numpy(ops.sigmoid(decoder(ops.convert_to_tensor(grid)))).tolist(),
        latent.decode_grid,
    ],
    ids=["keras.ops", "keras.activations", "tensorflow", "predict-numpy", "predict_on_batch", "list", "package"],
)
def test_decode_grid_accepts_every_correct_style(fn):
    assert_passes(check.decode_grid(fn))


@pytest.mark.parametrize(
    "fn, match",
    [
        (_decode_per_point, r"called the decoder 6 times, once per point.*ONE call"),
        (_decode_per_point_predict, r"once per point"),
        (lambda decoder, grid: decoder(grid), r"raw logits.*sigmoid"),
        (lambda decoder, grid: decoder(grid) * 2, r"values from .* between 0 and 1"),
        (lambda decoder, grid: ops.round(ops.sigmoid(decoder(grid))), r"only 0s and 1s"),
        (lambda decoder, grid: ops.sigmoid(decoder(grid[:, ::-1])), r"z\[0\] and z\[1\] swapped"),
        (lambda decoder, grid: ops.sigmoid(decoder(grid))[::-1], r"reverse order"),
        (lambda decoder, grid: ops.sigmoid(-decoder(grid)), r"negatives"),
        (lambda decoder, grid: ops.reshape(ops.sigmoid(decoder(grid)), (len(grid), -1)), r"flattened images"),
        (lambda decoder, grid: ops.transpose(ops.sigmoid(decoder(grid)), (1, 2, 0)), r"point axis moved"),
        (lambda decoder, grid: np.squeeze(ops.convert_to_numpy(ops.sigmoid(decoder(grid)))), r"squeeze"),
        (lambda decoder, grid: ops.reshape(ops.sigmoid(decoder(grid)), (-1, 8, 8)),
         r"not for another one.*hard-code"),
        (lambda decoder, grid: ops.sigmoid(decoder(grid[:, :2])), r"not for another one"),
        (_decode_transposed, r"transposed"),
        (lambda decoder, grid: latent.decode_grid(latent_decoder_elsewhere(), grid), r"never called the `decoder`"),
        (lambda decoder, grid: ops.sigmoid(decoder(grid)) * np.nan, r"contains NaN"),
        (lambda decoder, grid: None, r"returned None"),
        (_raises, r"raised RuntimeError: boom"),
    ],
    ids=["loop-call", "loop-predict", "no-sigmoid", "out-of-range", "rounded", "swapped-coordinates", "reversed",
         "negated", "flattened", "axis-moved", "squeezed", "hard-coded-8x8", "hard-coded-2-coordinates",
         "transposed-input", "global-decoder", "nan", "none", "exception"],
)
def test_decode_grid_diagnoses_typical_mistakes(fn, match):
    assert_fails(check.decode_grid(fn), match)


_ELSEWHERE = {}


def latent_decoder_elsewhere():
    """A decoder from 'the notebook' rather than the argument (a common slip)."""
    if "decoder" not in _ELSEWHERE:
        keras.utils.set_random_seed(1)
        _ELSEWHERE["decoder"] = keras.Sequential([keras.Input((2,)), keras.layers.Dense(64),
                                                  keras.layers.Reshape((8, 8))])
    return _ELSEWHERE["decoder"]


def test_decode_grid_placeholder_is_not_attempted():
    assert_not_attempted(check.decode_grid(____))
    assert_not_attempted(check.decode_grid(lambda decoder, grid: ____))


# ---- latent_means(encoder, x) ------------------------------------------------------------------


def _means_per_image(encoder, x):
    return np.stack([ops.convert_to_numpy(encoder(x[i : i + 1])[0])[0] for i in range(len(x))])


def _means_per_image_unstacked(encoder, x):
    return np.stack([ops.convert_to_numpy(encoder(x[i : i + 1])[0]) for i in range(len(x))])


def _sampled(encoder, x):
    z_mean, z_log_var = encoder(x)
    return z_mean + ops.exp(0.5 * z_log_var) * keras.random.normal(ops.shape(z_mean), seed=3)


def _batches_of_16(encoder, x):
    return np.concatenate([ops.convert_to_numpy(encoder(x[i : i + 16])[0]) for i in range(0, len(x), 16)])


@pytest.mark.parametrize(
    "fn",
    [
        lambda encoder, x: encoder(x)[0],
        lambda encoder, x: encoder.predict(x, verbose=0)[0],
        lambda encoder, x: encoder(tf.constant(x), training=False)[0].numpy(),
        _batches_of_16,
        lambda encoder, x: latent.latent_means(encoder, x),
    ],
    ids=["call", "predict", "tensorflow", "batches", "package"],
)
def test_latent_means_accepts_every_correct_style(fn):
    assert_passes(check.latent_means(fn))


@pytest.mark.parametrize(
    "fn, match",
    [
        (_means_per_image, r"called the encoder 40 times, once per image"),
        (lambda encoder, x: encoder(x), r"both outputs.*z_mean AND z_log_var"),
        (lambda encoder, x: encoder(x)[1], r"returned z_log_var"),
        (_sampled, r"SAMPLE z"),
        (lambda encoder, x: ops.expand_dims(encoder(x)[0], 1), r"stack of one-image batches"),
        (lambda encoder, x: encoder(x)[0][:10], r"shape \(10, 2\), expected \(40, 2\)"),
        (lambda encoder, x: encoder(x.reshape(len(x), -1).T)[0], r"raised|transposed"),
        (lambda encoder, x: latent.latent_means(latent_encoder_elsewhere(), x), r"never called the `encoder`"),
        (lambda encoder, x: encoder(x)[0] * 2, r"not one of the usual slips"),
        (lambda encoder, x: None, r"returned None"),
        (_raises, r"raised RuntimeError: boom"),
    ],
    ids=["loop", "both-outputs", "log-var", "sampled", "extra-axis", "too-few", "bad-input", "global-encoder",
         "scaled", "none", "exception"],
)
def test_latent_means_diagnoses_typical_mistakes(fn, match):
    assert_fails(check.latent_means(fn), match)


def latent_encoder_elsewhere():
    if "encoder" not in _ELSEWHERE:
        keras.utils.set_random_seed(2)
        x = keras.Input((8, 8))
        h = keras.layers.Flatten()(x)
        _ELSEWHERE["encoder"] = keras.Model(x, [keras.layers.Dense(2)(h), keras.layers.Dense(2)(h)])
    return _ELSEWHERE["encoder"]


def test_latent_means_placeholder_is_not_attempted():
    assert_not_attempted(check.latent_means(____))
    assert_not_attempted(check.latent_means(lambda encoder, x: ____))


# ---- the registry ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["interpolate", "manifold_grid", "decode_grid", "latent_means"])
def test_each_exercise_has_hints_and_a_solution(name):
    from vae_course.checks import REGISTRY, hint, solution

    assert len(REGISTRY[name].hints) >= 2
    assert "def " in REGISTRY[name].solution
    assert getattr(hint, name)().text
    assert getattr(solution, name)().exercise == name



# ---- predict, then check: the middle column's share of the prior -------------------------------------------------


def test_predicted_middle_column_right_guess_passes_and_reveals_the_share():
    result = check.predicted_middle_column(0.15)
    assert_passes(result)
    assert "17.0%" in result.message and "13.4%" in result.message


@pytest.mark.parametrize(
    "guess, match",
    [(17, r"looks like a percentage"), (1.5, r"between 0 and 1"), (1 / 15, r"spread its mass evenly"),
     (0.5, r"Guesses from 0.12 to 0.22"), ("0.17", r"text '0.17'"), ([0.1, 0.2], r"holds 2 values"),
     (float("nan"), r"NaN")],
    ids=["percent", "above-one", "even-share", "too-high", "text", "list", "nan"],
)
def test_predicted_middle_column_wrong_guesses_are_named(guess, match):
    assert_fails(check.predicted_middle_column(guess), match)


def test_predicted_middle_column_placeholder_is_not_attempted():
    assert_not_attempted(check.predicted_middle_column(____))
