"""Exercises on exploring the latent space (lesson 08): a straight path, a manifold grid in picture order,
decoding many points in one call, and encoding a data set to z_mean.

The decoder and encoder checks wrap the model they pass in a ``Counting`` object that
records every call, so a loop with one call per point is told apart from one batched call.
"""

import math

import numpy as np

from ..checks.asserts import call_learner, describe, diagnose, expect_callable, expect_finite, expect_shape, to_array
from ..checks.core import Incorrect, exercise

# ---- shared helpers ------------------------------------------------------------------------


def _show(values):
    """Short, readable numbers for messages (float32 inputs printed without their binary noise)."""
    return np.round(np.float64(values), 4).tolist()


def _lerp(z_a, z_b, t):
    """Points z_a + t (z_b - z_a) for each t, in float64: shape (len(t), latent_dim)."""
    z_a, z_b = np.float64(z_a), np.float64(z_b)
    return z_a + np.asarray(t, dtype=np.float64)[:, None] * (z_b - z_a)


class Counting:
    """Stands in for a Keras model and records the input shape of every call (``__call__``, ``predict``...)."""

    def __init__(self, model):
        self._model = model
        self.shapes = []

    def _record(self, inputs):
        shape = getattr(inputs, "shape", None)
        if shape is None:
            try:
                shape = np.shape(inputs)
            except Exception:
                shape = ()
        self.shapes.append(tuple(int(d) if d is not None else -1 for d in shape))

    def __call__(self, inputs, *args, **kwargs):
        self._record(inputs)
        return self._model(inputs, *args, **kwargs)

    def predict(self, inputs, *args, **kwargs):
        self._record(inputs)
        return self._model.predict(inputs, *args, **kwargs)

    def predict_on_batch(self, inputs, *args, **kwargs):
        self._record(inputs)
        return self._model.predict_on_batch(inputs, *args, **kwargs)

    def __getattr__(self, name):  # inputs, outputs, layers, ... of the real model
        return getattr(self._model, name)

    @property
    def calls(self):
        return len(self.shapes)


def _call_with_model(fn, model, data, name, call_text, model_name):
    """Call fn(counting_model, data); a transposed input gets its own message."""
    counting = Counting(model)
    try:
        result = call_learner(fn, (counting, data.copy()), name, call_text)
    except Incorrect:
        transposed = tuple(reversed(data.shape))
        if transposed != data.shape and transposed in counting.shapes:
            raise Incorrect(
                f"Your function passed the {model_name} an array of shape {transposed}: that is the input "
                f"transposed. The input already has one row per item, shape {data.shape}; pass it as it is."
            ) from None
        raise
    return result, counting


def _expect_batched(counting, n_items, name, model_name, items, arg_name):
    """The model was called, and once (or in a few large batches), not once per item."""
    if counting.calls == 0:
        raise Incorrect(
            f"`{name}` never called the `{arg_name}` it was given. Did you use a model from the notebook "
            f"(such as `vae.{model_name}`) instead? Use the argument, so the function works for any {model_name}."
        )
    singles = sum(1 for shape in counting.shapes if shape and shape[0] == 1)
    if n_items > 1 and singles == counting.calls and counting.calls >= n_items:
        raise Incorrect(
            f"`{name}` called the {model_name} {counting.calls} times, once per {items[:-1]}, for {n_items} {items}. "
            f"Each call has a fixed cost, so a loop gets slow fast (keras.io's plot_latent_space makes 900 predict "
            f"calls for a 30 x 30 grid). Pass the whole array to the {model_name} in ONE call."
        )


# ---- Exercise: interpolate -------------------------------------------------------------------

Z_A = np.array([0.5, -1.0], dtype=np.float32)
Z_B = np.array([-1.5, 2.0], dtype=np.float32)
N_POINTS = 7
Z_A_5 = np.array([0.3, -0.7, 1.2, 0.0, -2.0], dtype=np.float32)
Z_B_5 = np.array([-1.1, 0.4, 0.9, 2.5, 1.0], dtype=np.float32)


def _interpolation_mistakes(z_a, z_b, n):
    t = np.linspace(0.0, 1.0, n)
    expected = _lerp(z_a, z_b, t)
    midpoint = np.tile((np.float64(z_a) + np.float64(z_b)) / 2, (n, 1))
    return expected, [
        (expected[::-1], "Your path runs backwards, from z_b to z_a. The first row must be z_a (t = 0) and the "
                         "last z_b (t = 1): z_a + t·(z_b − z_a)."),
        (_lerp(z_a, z_b, np.arange(n) / n),
         "Your last point stops short of z_b. `np.linspace(0, 1, n, endpoint=False)` (or `np.arange(n) / n`) "
         "leaves out t = 1; the default `np.linspace(0, 1, n)` includes both ends."),
        (_lerp(z_a, z_b, np.linspace(0.0, 1.0, n + 2)[1:-1]),
         "Your path leaves out both ends: neither z_a nor z_b is in it. The n points must include z_a (t = 0) "
         "and z_b (t = 1): `t = np.linspace(0, 1, n)`."),
        (_lerp(z_a, z_b, np.arange(1, n + 1) / n),
         "Your first point is not z_a: the path must start at t = 0. Use `t = np.linspace(0, 1, n)`."),
        (midpoint, "Every point is the midpoint (z_a + z_b) / 2. An average gives one point, not a path: walk "
                   "with a fraction t from 0 to 1, z_a + t·(z_b − z_a)."),
        (np.float64(z_a) + t[:, None] * np.float64(z_b),
         "Your path ends at z_a + z_b, not at z_b: the step is t·(z_b − z_a), not t·z_b."),
        (np.float64(z_a) + t[:, None] * (np.float64(z_a) - np.float64(z_b)),
         "Your path walks away from z_b: the direction is z_b − z_a, not z_a − z_b."),
    ]


def _check_path_shape(values, n, k, name):
    if values.shape == (n, k):
        return
    if values.shape == (k, n):
        raise Incorrect(f"`{name}` has shape {values.shape}, expected {(n, k)}: it is transposed. Return one "
                        f"row per point (n rows) and one column per latent dimension.")
    if values.ndim == 2 and values.shape[1] == k and values.shape[0] in (n - 1, n + 1):
        what = "one point too few" if values.shape[0] == n - 1 else "one point too many"
        raise Incorrect(f"`{name}` returned {values.shape[0]} points for n = {n}: {what}. The path has exactly n "
                        "points counting both ends; `np.linspace(0, 1, n)` gives the n fractions t, 0 and 1 "
                        "included.")
    if values.shape == (k,):
        raise Incorrect(f"`{name}` returned a single point of shape {values.shape}, not a path. Return all n "
                        f"points as an array of shape (n, latent_dim), here {(n, k)}.")
    expect_shape(values, (n, k), name, advice="Expected one row per point and one column per latent dimension.")


def _shape_of_path_problem(values, z_a, z_b, n, name):
    """After the usual slips: are the ends right, are the points on the line, are they evenly spaced?"""
    z_a, z_b = np.float64(z_a), np.float64(z_b)
    ends_right = np.allclose(values[0], z_a, atol=1e-4) and np.allclose(values[-1], z_b, atol=1e-4)
    direction = z_b - z_a
    t = (values - z_a) @ direction / (direction @ direction)
    off_line = np.abs(values - (z_a + t[:, None] * direction)).max()
    if ends_right and off_line > 1e-3:
        raise Incorrect(f"`{name}` starts at z_a and ends at z_b, but the points in between are not on the "
                        f"straight line joining them (one is {off_line:.3f} away from it). Walk along the line: "
                        "z_a + t·(z_b − z_a).")
    if ends_right and not np.allclose(np.diff(t), 1 / (n - 1), atol=1e-4):
        raise Incorrect(f"`{name}` stays on the line from z_a to z_b, but the steps are uneven (fractions t = "
                        f"{np.round(t, 3).tolist()}). Space them evenly with `np.linspace(0, 1, n)`.")


@exercise(
    "interpolate",
    hints=[
        "The points of the segment are z(t) = z_a + t·(z_b − z_a) for t between 0 and 1. You need n values of t, "
        "0 and 1 included.",
        "`np.linspace` gives the n values of t. Make them a column of shape (n, 1), and the formula broadcasts "
        "against the (latent_dim,) vectors to shape (n, latent_dim).",
    ],
    solution="""
def interpolate(z_a, z_b, n):
    t = np.linspace(0, 1, n)[:, None]
    return z_a + t * (z_b - z_a)
""",
    explanation="A column of n fractions t from 0 to 1 broadcast against the row z_b - z_a gives all n points at once.",
    success="Your path has n evenly spaced points on the straight line from z_a to z_b, ends included, "
    "for any latent_dim.",
)
def check_interpolate(fn):
    """fn(z_a, z_b, n) -> (n, latent_dim) points from z_a to z_b inclusive."""
    name, call_as = "interpolate", "interpolate(z_a, z_b, n)"
    expect_callable(fn, name, call_as)
    cases = ((Z_A, Z_B, N_POINTS), (Z_A_5, Z_B_5, 4), (Z_A, Z_B, 2))
    for index, (z_a, z_b, n) in enumerate(cases):
        k = len(z_a)
        try:
            values = to_array(call_learner(fn, (z_a.copy(), z_b.copy(), n), name, call_as), name)
        except Incorrect as verdict:
            if index == 0:
                raise
            raise Incorrect(f"`{name}` works for the first test (latent_dim 2, n = 7) but not for latent_dim {k} "
                            f"with n = {n}: {str(verdict).rstrip('.')}. Did you hard-code the number of latent "
                            "dimensions or of points?") from None
        expected, mistakes = _interpolation_mistakes(z_a, z_b, n)
        if index > 0 and not (values.shape == expected.shape and np.allclose(values, expected, atol=1e-4)):
            raise Incorrect(
                f"`{name}` works for the first test (latent_dim 2, n = 7) but not for latent_dim {k} with n = {n}: "
                f"it gave {describe(values)}, expected shape {expected.shape}. Did you hard-code the number of "
                "latent dimensions or of points? Use array operations on the whole vectors."
            )
        _check_path_shape(values, n, k, name)
        expect_finite(values, name, inputs=f"z_a = {_show(z_a)}, z_b = {_show(z_b)}, n = {n}")
        if not np.allclose(values, expected, atol=1e-4):
            for wrong, message in mistakes:
                if np.allclose(values, wrong, atol=1e-4):
                    raise Incorrect(message)
            _shape_of_path_problem(values, z_a, z_b, n, name)
            diagnose(values, expected, [], name, f"z_a = {_show(z_a)}, z_b = {_show(z_b)}, n = {n}", atol=1e-4)


# ---- Exercise: manifold_grid -----------------------------------------------------------------

GRID_VALUES = np.array([-1.2, -0.1, 0.4, 1.9], dtype=np.float32)  # uneven, so every flip shows
GRID_VALUES_3 = np.array([-0.8, 0.3, 1.1], dtype=np.float32)


def reference_grid(values):
    """Point r*n + c = (values[c], values[n-1-r]): rows of the picture from the top, z[1] largest first."""
    values = np.float64(values)
    n = len(values)
    rows, cols = np.divmod(np.arange(n * n), n)
    return np.stack([values[cols], values[n - 1 - rows]], axis=1)


def _grid_from(values, z0_index, z1_index):
    values = np.float64(values)
    n = len(values)
    rows, cols = np.divmod(np.arange(n * n), n)
    return np.stack([values[z0_index(rows, cols, n)], values[z1_index(rows, cols, n)]], axis=1)


ALONG_ROW = ("Along a row of the picture z[0] must change while z[1] stays fixed; in yours z[0] changes down "
             "the columns, so rows and columns are swapped and the picture would be transposed. "
             "`np.meshgrid(values, values[::-1])` (the default indexing='xy') puts z[0] along the rows.")


def _grid_mistakes(values):
    return [
        (_grid_from(values, lambda r, c, n: c, lambda r, c, n: r),
         "Your picture would be upside down. Row 0 is drawn at the TOP, so it must hold the LARGEST z[1]; yours "
         "starts with the smallest. Reverse the values used for z[1]: `values[::-1]`."),
        (_grid_from(values, lambda r, c, n: r, lambda r, c, n: c), ALONG_ROW),
        (_grid_from(values, lambda r, c, n: n - 1 - r, lambda r, c, n: c), ALONG_ROW),
        (_grid_from(values, lambda r, c, n: r, lambda r, c, n: n - 1 - c), ALONG_ROW),
        (_grid_from(values, lambda r, c, n: n - 1 - c, lambda r, c, n: n - 1 - r),
         "Your picture would be mirrored left to right: z[0] must GROW from the left column to the right one."),
        (_grid_from(values, lambda r, c, n: n - 1 - c, lambda r, c, n: r),
         "Your picture would be rotated by 180°: z[0] must grow from left to right and z[1] from bottom to top "
         "(so row 0, at the top, has the largest z[1])."),
    ]


def _check_grid_shape(values, n, name):
    if values.shape == (n * n, 2):
        return
    if values.shape == (n, n, 2):
        raise Incorrect(f"`{name}` has shape {values.shape}: the points are still in an n x n block. Flatten it "
                        f"to one point per row, shape {(n * n, 2)}, e.g. with `.reshape(-1, 2)`.")
    if values.shape == (2, n * n):
        raise Incorrect(f"`{name}` has shape {values.shape}, expected {(n * n, 2)}: it is transposed. Stack the "
                        "coordinates as columns (`np.stack([...], axis=1)`), one point per row.")
    if values.shape == (n, 2):
        raise Incorrect(f"`{name}` returned {n} points for {n} values; the grid needs every pair (z[0], z[1]), "
                        f"n·n = {n * n} points. `np.meshgrid` makes all the pairs.")
    expect_shape(values, (n * n, 2), name, advice="Expected n·n points, one per row, each (z[0], z[1]).")


@exercise(
    "manifold_grid",
    hints=[
        "`np.meshgrid(a, b)` returns two (len(b), len(a)) arrays: along each row the first changes, down each "
        "column the second. Row 0 is the top of the picture, so z[1] must start with its LARGEST value.",
        "Give `np.meshgrid` the values for z[0] and the reversed values for z[1]; then flatten both arrays and "
        "pair them up as the two columns of the result.",
    ],
    solution="""
def manifold_grid(values):
    z0, z1 = np.meshgrid(values, values[::-1])
    return np.stack([z0.ravel(), z1.ravel()], axis=1)
""",
    explanation="meshgrid's default 'xy' indexing puts the first array along the rows; reversing the second puts "
    "the largest z[1] in the top row, where imshow draws row 0.",
    success="Your grid lists every (z[0], z[1]) pair in picture order: z[0] grows to the right, z[1] upwards.",
)
def check_manifold_grid(fn):
    """fn(values) -> (n*n, 2) points; point r*n + c = (values[c], values[n-1-r])."""
    name, call_as = "manifold_grid", "manifold_grid(values)"
    expect_callable(fn, name, call_as)
    for index, values_in in enumerate((GRID_VALUES, GRID_VALUES_3)):
        n = len(values_in)
        try:
            values = to_array(call_learner(fn, (values_in.copy(),), name, call_as), name)
        except Incorrect as verdict:
            if index == 0:
                raise
            raise Incorrect(f"`{name}` works for 4 values but not for {n}: {str(verdict).rstrip('.')}. Did you "
                            "hard-code the size of the grid?") from None
        expected = reference_grid(values_in)
        if index > 0 and not (values.shape == expected.shape and np.allclose(values, expected, atol=1e-5)):
            raise Incorrect(
                f"`{name}` works for 4 values but not for {n} (it gave {describe(values)}, expected shape "
                f"{expected.shape}). Did you hard-code the size of the grid? Use `len(values)` or let meshgrid "
                "work it out."
            )
        _check_grid_shape(values, n, name)
        expect_finite(values, name, inputs=f"values = {_show(values_in)}")
        used = np.unique(np.round(values, 5))
        if not np.all(np.isin(used, np.round(np.float64(values_in), 5))):
            raise Incorrect(f"`{name}` contains coordinates that are not among the values it was given "
                            f"({_show(values_in)}). Build the grid from `values` only (no linspace of your own).")
        diagnose(values, expected, _grid_mistakes(values_in), name, f"values = {_show(values_in)}", atol=1e-5)


# ---- Exercise: decode_grid -------------------------------------------------------------------

GRID_POINTS = np.array([[-1.5, 1.2], [-0.3, 0.9], [0.0, 0.0], [0.8, -0.4], [1.7, -1.1], [0.4, 2.0]],
                       dtype=np.float32)
POINTS_3D = np.array([[0.2, -0.5, 1.0], [1.4, 0.3, -0.7], [-0.9, -1.2, 0.1], [0.0, 0.8, 0.6], [2.0, 0.0, -1.5]],
                     dtype=np.float32)
_MODELS = {}


def _seeded_dense_decoder(latent_dim, image_shape, seed, name):
    """A small fixed decoder z -> logits whose logits reach well beyond [-1, 1] (so a missing sigmoid shows)."""
    import keras

    z = keras.Input(shape=(latent_dim,))
    h = keras.layers.Dense(16, activation="tanh")(z)
    logits = keras.layers.Dense(math.prod(image_shape))(h)
    model = keras.Model(z, keras.layers.Reshape(image_shape)(logits), name=name)
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 1.0, w.shape).astype(np.float32) * (2.0 if w.ndim == 2 else 0.5)
                       for w in model.get_weights()])
    return model


def checker_decoder(which="lesson"):
    """The checks' decoders: ``lesson`` (z of size 2 -> 8x8 logits) and ``other`` (size 3 -> 4x6), built once."""
    if which not in _MODELS:
        if which == "lesson":
            _MODELS[which] = _seeded_dense_decoder(2, (8, 8), 7, "check_decoder")
        else:
            _MODELS[which] = _seeded_dense_decoder(3, (4, 6), 11, "check_decoder_3d")
    return _MODELS[which]


def _logits(decoder, z):
    from keras import ops

    return np.float64(ops.convert_to_numpy(decoder(np.float32(z), training=False)))


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _decoded(fn, decoder, points, name, call_as):
    result, counting = _call_with_model(fn, decoder, points, name, call_as, "decoder")
    values = to_array(result, name)
    _expect_batched(counting, len(points), name, "decoder", "points", "decoder")
    return values, counting


@exercise(
    "decode_grid",
    hints=[
        "Pass the whole (m, 2) array to the decoder at once: `decoder(grid)` returns logits of shape (m, 8, 8). "
        "The pixel probabilities are their sigmoid.",
        "One call of `decoder` on the whole grid gives every point's logits; a function of `keras.ops` turns logits "
        "into probabilities. No loop over the points.",
    ],
    solution="""
def decode_grid(decoder, grid):
    return ops.sigmoid(decoder(grid))
""",
    explanation="One call decodes every point; the decoder outputs logits, and sigmoid turns them into "
    "pixel probabilities.",
    success="One batched call of the decoder, then sigmoid: pixel probabilities in [0, 1] for every point.",
)
def check_decode_grid(fn):
    """fn(decoder, grid) -> sigmoid(decoder(grid)), in one call of the decoder."""
    name, call_as = "decode_grid", "decode_grid(decoder, grid)"
    expect_callable(fn, name, call_as)
    decoder = checker_decoder("lesson")
    values, _ = _decoded(fn, decoder, GRID_POINTS, name, call_as)
    m = len(GRID_POINTS)
    logits = _logits(decoder, GRID_POINTS)
    expected = _sigmoid(logits)
    if values.shape == (m, 64):
        raise Incorrect(f"`{name}` returned shape {values.shape}: flattened images. Keep the decoder's image "
                        f"shape, {expected.shape}: one (8, 8) image per point.")
    if values.shape == (8, 8, m) or values.shape == (8, m, 8):
        raise Incorrect(f"`{name}` returned shape {values.shape}: the point axis moved. Return the decoder's "
                        f"output order, {expected.shape}, one image per row of the grid.")
    expect_shape(values, expected.shape, name, advice="Expected one image per point, in the decoder's output shape.")
    expect_finite(values, name, inputs="the check's grid")
    if values.min() < -1e-6 or values.max() > 1 + 1e-6:
        if np.allclose(values, logits, rtol=1e-4, atol=1e-4):
            raise Incorrect(f"`{name}` returned the decoder's raw logits (values from {values.min():.2f} to "
                            f"{values.max():.2f}). The decoder outputs logits; the pixel probabilities are "
                            "`ops.sigmoid(logits)`, all between 0 and 1.")
        raise Incorrect(f"`{name}` returned values from {values.min():.2f} to {values.max():.2f}; pixel "
                        "probabilities lie between 0 and 1. Apply a sigmoid to the decoder's logits.")
    unique = np.unique(values)
    if len(unique) <= 2 and np.all(np.isin(unique, (0.0, 1.0))):
        raise Incorrect(f"`{name}` returned only 0s and 1s: rounded or sampled pixels. Return the "
                        "probabilities themselves, `ops.sigmoid(logits)`.")
    swapped = _sigmoid(_logits(decoder, GRID_POINTS[:, ::-1]))
    mistakes = [
        (swapped, "Your images belong to the points with z[0] and z[1] swapped. Column 0 of the grid is z[0] "
                  "(the x-axis) and column 1 is z[1] (the y-axis): pass the grid to the decoder as it is."),
        (expected[::-1], "Your images come in reverse order: image i must belong to row i of the grid."),
        (_sigmoid(-logits), "Your images are the negatives: sigmoid(−logits) = 1 − p. Use `ops.sigmoid(logits)`."),
    ]
    diagnose(values, expected, mistakes, name, "the check's grid", atol=1e-5)
    single, _ = _decoded(fn, decoder, GRID_POINTS[:1], name, call_as)
    if single.shape != (1, 8, 8):
        raise Incorrect(f"For a grid of one point `{name}` returned shape {single.shape}, expected (1, 8, 8). "
                        "Do not squeeze the point axis away; keep one image per row of the grid.")
    other = checker_decoder("other")
    general = ("`{name}` is right for the lesson's decoder but not for another one (latent_dim 3, 4x6 images): {what}. "
               "Did you hard-code 2 coordinates or an (8, 8) image shape? Let the decoder's own output decide the "
               "shape.")
    try:
        values_3d, _ = _decoded(fn, other, POINTS_3D, name, call_as)
    except Incorrect as verdict:
        raise Incorrect(general.format(name=name, what=str(verdict).rstrip("."))) from None
    expected_3d = _sigmoid(_logits(other, POINTS_3D))
    if values_3d.shape != expected_3d.shape or not np.allclose(values_3d, expected_3d, atol=1e-5):
        raise Incorrect(general.format(
            name=name, what=f"it gave {describe(values_3d)}, expected shape {expected_3d.shape}"))


# ---- Optional exercise: latent_means ---------------------------------------------------------

N_IMAGES = 40


def checker_encoder():
    """A fixed encoder x (8x8) -> (z_mean, z_log_var) with z_log_var near -1.5 (sigma about 0.47), built once."""
    if "encoder" not in _MODELS:
        import keras

        x = keras.Input(shape=(8, 8))
        h = keras.layers.Flatten()(x)
        z_mean = keras.layers.Dense(2, name="z_mean")(h)
        z_log_var = keras.layers.Dense(2, name="z_log_var")(h)
        model = keras.Model(x, [z_mean, z_log_var], name="check_encoder")
        rng = np.random.default_rng(3)
        model.set_weights([
            rng.normal(0, 0.3, (64, 2)).astype(np.float32), np.array([0.2, -0.4], np.float32),
            rng.normal(0, 0.05, (64, 2)).astype(np.float32), np.array([-1.5, -1.5], np.float32),
        ])
        _MODELS["encoder"] = model
    return _MODELS["encoder"]


def checker_images(n=N_IMAGES):
    return np.random.default_rng(5).uniform(0, 1, (n, 8, 8)).astype(np.float32)


@exercise(
    "latent_means",
    hints=[
        "The encoder returns two arrays, `z_mean, z_log_var = encoder(x)`. The map of the data set uses z_mean "
        "alone, the centre of each image's q(z | x).",
        "Call the encoder once on all of `x` and keep the first of the two arrays it returns. No loop.",
    ],
    solution="""
def latent_means(encoder, x):
    z_mean, z_log_var = encoder(x)
    return z_mean
""",
    explanation="The encoder maps every image to the mean and log-variance of q(z | x); z_mean is the point that "
    "stands for the image, with no sampling noise.",
    success="Your function encodes all the images in one batched call and keeps z_mean.",
)
def check_latent_means(fn):
    """fn(encoder, x) -> z_mean of shape (n, latent_dim), batched."""
    name, call_as = "latent_means", "latent_means(encoder, x)"
    expect_callable(fn, name, call_as)
    from keras import ops

    encoder = checker_encoder()
    x = checker_images()
    result, counting = _call_with_model(fn, encoder, x, name, call_as, "encoder")
    values = to_array(result, name)
    _expect_batched(counting, len(x), name, "encoder", "images", "encoder")
    z_mean, z_log_var = (np.float64(ops.convert_to_numpy(v)) for v in encoder(x, training=False))
    n, k = z_mean.shape
    if values.shape == (2, n, k):
        raise Incorrect(f"`{name}` returned both outputs of the encoder, z_mean AND z_log_var (shape "
                        f"{values.shape}). Keep the first one: `z_mean, z_log_var = encoder(x)`, return z_mean.")
    if values.shape == (n, 1, k):
        raise Incorrect(f"`{name}` returned shape {values.shape}: a stack of one-image batches. Encode all the "
                        f"images in one call and return shape {(n, k)}.")
    expect_shape(values, (n, k), name, advice="Expected one row of z_mean per image.")
    expect_finite(values, name, inputs="the check's images")
    if np.allclose(values, z_log_var, atol=1e-5):
        raise Incorrect(f"`{name}` returned z_log_var, the encoder's SECOND output. The map uses z_mean, the first.")
    if not np.allclose(values, z_mean, atol=1e-5):
        sigma = np.exp(z_log_var / 2)
        standardised = (values - z_mean) / sigma
        # Noise from q(z | x): about N(0, 1) once standardised, and unrelated to z_mean itself.
        related = abs(np.corrcoef(standardised.ravel(), z_mean.ravel())[0, 1])
        if 0.5 < standardised.std() < 1.6 and abs(standardised.mean()) < 0.5 and related < 0.5:
            raise Incorrect(f"`{name}` returned points scattered around z_mean by about one σ: a SAMPLE z from "
                            "q(z | x). The map uses z_mean itself, which is the same every time you run it.")
    diagnose(values, z_mean, [], name, "the check's images", atol=1e-5)


# ---- predict, then check: where an even grid puts the prior's mass --------------------------------------------


@exercise(
    "predicted_middle_column",
    solution="predicted_share = 0.17  # |z| < 3/14 holds about 17 % of N(0, 1)",
    hints=[
        "The middle column of 15 evenly spaced ones on [−3, 3] collects the prior's mass within half a spacing of 0; "
        "the spacing is 6 / 14. Roughly what share of N(0, 1) lies within ±0.2 of 0?",
    ],
    explanation="The middle column covers |z| < 3/14 ≈ 0.21, and N(0, 1) puts about 17 % of its mass there: more "
    "than the outer eight columns together.",
    success="Good prediction.",
)
def check_predicted_middle_column(guess):
    """``guess``: the share (0 to 1) of the prior's mass in the middle one of 15 even columns on [-3, 3]."""
    from ..checks.predict import judge_prediction
    from ..lessons.latent import prior_mass_per_cell

    mass = prior_mass_per_cell(np.linspace(-3.0, 3.0, 15))
    truth, outer = float(mass[7]), float(mass[:4].sum() + mass[-4:].sum())
    why = (f"The middle column holds {truth:.1%} of the prior, while the outer four columns on each side together "
           f"hold {outer:.1%}: an even grid spends more than half of its columns where the prior has little mass.")
    mistakes = [
        (lambda v: 1 < v <= 100 and abs(v / 100 - truth) <= 0.05,
         "That looks like a percentage: write the share as a fraction between 0 and 1 (17 % is 0.17)."),
        (lambda v: v < 0 or v > 1, "A share of the prior's mass lies between 0 and 1."),
        (lambda v: abs(v - 1 / 15) < 0.02,
         "1/15 would be right if the prior spread its mass evenly over the columns; it is densest at 0."),
    ]
    return judge_prediction(guess, truth, truth - 0.05, truth + 0.05, "predicted_share", why, mistakes, measured=True)
