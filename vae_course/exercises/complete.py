"""Exercises of lesson 07, the complete VAE: the encoder, the decoder, the loss and a prediction.

The decoder outputs logits (one per pixel), and the loss is the negative ELBO in nats per image under the digits'
likelihood, Binomial(16, sigmoid(logit)) per pixel: 16 softplus(l) - k l - log C(16, k) with k = 16 x, summed over
the pixels, plus the KL term of Equation 17-4 summed over the latent dimensions, both averaged over the batch. The
textbook's grey-level BCE is recognised and named: the same optimum as beta = 16 against the likelihood.
"""

import functools
import inspect
import math

import numpy as np

from ..checks.asserts import call_learner, close, describe, error_text, expect_callable, to_array
from ..checks.core import Incorrect, LearnerTimeout, NotAttempted, exercise
from ..checks.placeholder import is_placeholder

IMAGE_SHAPE = (8, 8)
LATENT_DIM = 2
# A second configuration catches sizes written into the code instead of taken from the arguments.
OTHER_IMAGE_SHAPE = (6, 7)
OTHER_LATENT_DIM = 3

ACTIVATION_OPS = {  # keras.ops / activation-layer classes that end a head, by lower-case class name
    "relu": "relu", "softplus": "softplus", "sigmoid": "sigmoid", "exp": "exp", "exponential": "exp",
    "tanh": "tanh", "absolute": "abs", "abs": "abs", "square": "square", "elu": "elu", "selu": "selu",
    "gelu": "gelu", "silu": "silu", "swish": "silu", "softmax": "softmax", "relu6": "relu6",
    "hardsigmoid": "hard_sigmoid", "hard_sigmoid": "hard_sigmoid", "mish": "mish", "softsign": "softsign",
}
PASS_THROUGH = {"Reshape", "Flatten", "Identity", "InputLayer"}
LOSS_RTOL, LOSS_ATOL = 2e-4, 1e-4  # float32 sums over 64 pixels and a batch

# ------------------------------------------------------------------------------------------------ shared helpers


@functools.lru_cache(maxsize=1)
def _digits(n=64):
    """The first n digits of the course's default data set (8x8, pixels in [0, 1])."""
    from ..vae.data import load_digits

    (x_train, _), _ = load_digits()
    return np.ascontiguousarray(x_train[:n])


def _expect_function(fn, name, call_as):
    """The answer is the builder function itself, not a model or layer it made (both are callable too)."""
    import keras

    expect_callable(fn, name, call_as)
    if isinstance(fn, (keras.Model, keras.layers.Layer)):
        raise Incorrect(f"`{name}` should be a function to call as `{call_as}`, but it is a `{type(fn).__name__}` "
                        f"object. Pass the function itself: `check.{name}({name})`.")


def _expect_model(model, name, call_text, what):
    import keras

    if model is None:
        raise Incorrect(f"`{call_text}` returned None. Did you forget `return keras.Model(...)`?")
    if isinstance(model, (list, tuple, dict)):
        raise Incorrect(f"`{call_text}` returned {describe(model)}, not a model. Wrap the tensors in a model: "
                        f"`return keras.Model({what})`.")
    if isinstance(model, keras.Model):
        return model
    if isinstance(model, keras.layers.Layer):
        raise Incorrect(f"`{call_text}` returned a `{type(model).__name__}` layer, not a `keras.Model`. Build "
                        f"the whole network with the functional API and return `keras.Model({what})`.")
    raise Incorrect(f"`{call_text}` should return a `keras.Model`, but it returned {describe(model)}.")


def _symbolic(model, attribute):
    """model.inputs / model.outputs, or None for a subclassed model that has none."""
    try:
        tensors = getattr(model, attribute)
    except (AttributeError, ValueError):
        return None
    return list(tensors) if tensors else None


def _shape_text(shape):
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _run(model, inputs, call_text, what):
    """Call the model on concrete inputs; exceptions become a message that names the input."""
    try:
        return model(inputs, training=False)
    except LearnerTimeout:
        raise
    except Exception as err:
        raise Incorrect(f"The model from `{call_text}` failed on {what}: {type(err).__name__}: "
                        f"{error_text(err)}") from None


def _final_activation(tensor):
    """The activation that produced a symbolic tensor (skipping Reshape/Flatten), 'linear', or None if unknown."""
    for _ in range(10):
        history = getattr(tensor, "_keras_history", None)
        if history is None:
            return None
        op = history.operation
        kind = type(op).__name__
        if kind in PASS_THROUGH:
            node = op._inbound_nodes[history.node_index]
            if not node.input_tensors:
                return None
            tensor = node.input_tensors[0]
            continue
        activation = getattr(op, "activation", None)
        if activation is not None and kind != "Lambda":
            activation_name = getattr(activation, "__name__", str(activation))
            return "linear" if activation_name in ("linear", "identity") else activation_name
        lower = kind.lower()
        if lower in ACTIVATION_OPS:
            return ACTIVATION_OPS[lower]
        if kind == "ReLU":
            return "relu"
        if kind in ("Softmax", "ELU", "PReLU", "LeakyReLU"):
            return kind.lower()
        return "linear" if kind in ("Dense", "EinsumDense", "Conv2D", "Conv2DTranspose", "Add") else None
    return None


# ------------------------------------------------------------------------------------------------ the encoder

HEAD_ADVICE = {
    "relu": "A ReLU can only output log σ² ≥ 0, i.e. σ ≥ 1, so the encoder can never be more certain than the "
            "prior; and once the head's input turns negative it outputs 0 with zero gradient for good "
            "(shekkizh/TensorflowProjects#1).",
    "softplus": "softplus makes log σ² > 0, i.e. σ > 1, so the encoder can never be more certain than the prior "
                "(wohlert/semi-supervised-pytorch#16 calls a softplus there a mistake).",
    "sigmoid": "A sigmoid keeps log σ² between 0 and 1, i.e. σ between 1 and 1.65.",
    "exp": "exp turns the head into a variance; the sampler and the KL term then take exp of it a second time.",
    "tanh": "tanh keeps log σ² between −1 and 1, i.e. σ between 0.61 and 1.65: the encoder cannot become "
            "confident.",
}


def _head_mistake(head, activation):
    if head == "z_log_var":
        advice = HEAD_ADVICE.get(activation, f"A {activation} limits the values log σ² can take.")
        return (f"Your `z_log_var` head ends in a {activation} activation. log σ² is any real number: negative for "
                f"a confident dimension, positive for an unsure one. {advice} Use a `Dense(latent_dim)` with no "
                "activation; exp(z_log_var / 2) in the sampler already makes σ positive.")
    return (f"Your `z_mean` head ends in a {activation} activation, which limits where the means can go; the "
            "prior N(0, I) puts them on both sides of 0. Use a `Dense(latent_dim)` with no activation.")


def _check_encoder_structure(model, input_shape, latent_dim, call_text):
    inputs = _symbolic(model, "inputs")
    if inputs is not None:
        if len(inputs) != 1:
            raise Incorrect(f"The encoder from `{call_text}` has {len(inputs)} inputs; it takes one: the image x.")
        shape = tuple(inputs[0].shape)
        expected = (None,) + tuple(input_shape)
        if shape != expected:
            if shape == (None, math.prod(input_shape)):
                raise Incorrect(
                    f"The encoder from `{call_text}` expects flat inputs of shape {_shape_text(shape)}, but the "
                    f"images are {_shape_text(expected)}. Start with `keras.Input(shape=input_shape)` and flatten "
                    "inside the model with `layers.Flatten()`.")
            advice = " Leave the batch size out of `keras.Input`." if shape[1:] == expected[1:] else ""
            raise Incorrect(f"The encoder from `{call_text}` has input shape {_shape_text(shape)}; expected "
                            f"{_shape_text(expected)}, one image of shape `input_shape` per row.{advice}")
    outputs = _symbolic(model, "outputs")
    if outputs is None or len(outputs) != 2:
        return
    names = [getattr(getattr(t, "_keras_history", None), "operation", None) for t in outputs]
    names = [getattr(op, "name", "") or "" for op in names]
    if "log_var" in names[0] and "mean" in names[1]:
        raise Incorrect("Your encoder returns [z_log_var, z_mean]; the order is [z_mean, z_log_var], the order "
                        "the sampling layer and the loss expect.")
    for head, tensor in zip(("z_mean", "z_log_var"), outputs):
        activation = _final_activation(tensor)
        if activation not in (None, "linear"):
            raise Incorrect(_head_mistake(head, activation))


def _encoder_outputs(model, x, latent_dim, call_text, what):
    out = _run(model, x, call_text, what)
    n = len(x)
    if isinstance(out, dict):
        raise Incorrect(f"The encoder from `{call_text}` returns a dict; return the list [z_mean, z_log_var]: "
                        "`keras.Model(x, [z_mean, z_log_var])`.")
    if not isinstance(out, (list, tuple)):
        array = to_array(out, "the encoder's output")
        if array.shape == (n, 2 * latent_dim):
            raise Incorrect(
                f"The encoder from `{call_text}` has one output of width {2 * latent_dim}: z_mean and z_log_var "
                "concatenated, as in the R example. Keras models can have several outputs, so return the two "
                "heads as a list: `keras.Model(x, [z_mean, z_log_var])`.")
        raise Incorrect(f"The encoder from `{call_text}` has one output, {describe(array)}; it needs two, "
                        "`[z_mean, z_log_var]`, each of shape (batch, latent_dim).")
    if len(out) == 3:
        raise Incorrect(f"The encoder from `{call_text}` has 3 outputs (like keras.io's encoder, which also returns "
                        "z). Here the encoder stops at the two heads, `[z_mean, z_log_var]`; the VAE draws z with "
                        "your `Sampling` layer.")
    if len(out) != 2:
        raise Incorrect(f"The encoder from `{call_text}` has {len(out)} outputs; it needs two, [z_mean, z_log_var].")
    arrays = [to_array(t, head) for t, head in zip(out, ("z_mean", "z_log_var"))]
    for head, array in zip(("z_mean", "z_log_var"), arrays):
        if array.shape != (n, latent_dim):
            raise Incorrect(f"For {what}, `{head}` has shape {array.shape}; expected {(n, latent_dim)}: one row per "
                            f"image, `latent_dim` = {latent_dim} columns. Use `Dense(latent_dim)` for each head.")
        if not np.all(np.isfinite(array)):
            raise Incorrect(f"For {what}, `{head}` contains NaN or infinity.")
    return arrays


def _check_log_var_sign(z_log_var):
    """For heads whose structure could not be read: a head that is never negative looks sign-constrained."""
    if np.all(z_log_var >= 0):
        bounded = np.all(z_log_var <= 1)
        what = "between 0 and 1" if bounded else "never negative"
        raise Incorrect(
            f"Your `z_log_var` is {what} on every input tried (digits and random images), as if an activation "
            "such as relu, softplus or sigmoid ended the head. log σ² must be free to go negative (σ < 1): use a "
            "`Dense(latent_dim)` with no activation (shekkizh/TensorflowProjects#1, "
            "wohlert/semi-supervised-pytorch#16).")


@exercise(
    "build_encoder",
    hints=[
        "Start from `x = keras.Input(shape=input_shape)`, flatten it with `layers.Flatten()`, add one or two "
        "`Dense` layers with an activation, then two heads: `z_mean = layers.Dense(latent_dim)(h)` and "
        "`z_log_var = layers.Dense(latent_dim)(h)`.",
        "The heads have no activation: both are unconstrained real numbers. Finish with "
        "`return keras.Model(x, [z_mean, z_log_var], name=\"encoder\")`.",
    ],
    solution="""
def build_encoder(input_shape, latent_dim):
    x = keras.Input(shape=input_shape, name="x")
    h = layers.Flatten(name="flatten")(x)
    h = layers.Dense(128, activation="relu", name="hidden_1")(h)
    h = layers.Dense(64, activation="relu", name="hidden_2")(h)
    z_mean = layers.Dense(latent_dim, name="z_mean")(h)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(h)
    return keras.Model(x, [z_mean, z_log_var], name="encoder")
""",
    explanation="Two linear heads on a shared body: the loss, not an activation, gives each head its meaning.",
    success="Your encoder maps a batch of images to `[z_mean, z_log_var]`, two unconstrained heads of width "
    "`latent_dim`.",
)
def check_build_encoder(fn):
    """fn(input_shape, latent_dim) -> keras.Model x -> [z_mean, z_log_var]."""
    name = "build_encoder"
    _expect_function(fn, name, "build_encoder(input_shape, latent_dim)")
    for input_shape, latent_dim in ((IMAGE_SHAPE, LATENT_DIM), (OTHER_IMAGE_SHAPE, OTHER_LATENT_DIM)):
        call_text = f"build_encoder({input_shape}, {latent_dim})"
        model = _expect_model(call_learner(fn, (input_shape, latent_dim), name, call_text), name, call_text,
                              "x, [z_mean, z_log_var]")
        _check_encoder_structure(model, input_shape, latent_dim, call_text)
        rng = np.random.default_rng(0)
        if input_shape == IMAGE_SHAPE:
            x = _digits()
            what = f"a batch of {len(x)} digits"
        else:
            x = rng.uniform(0, 1, (5,) + input_shape).astype(np.float32)
            what = f"a batch of 5 images of shape {input_shape}"
        z_mean, z_log_var = _encoder_outputs(model, x, latent_dim, call_text, what)
        if input_shape != IMAGE_SHAPE:
            continue
        _encoder_outputs(model, x[:1], latent_dim, call_text, "a batch of 1 digit")
        outputs = _symbolic(model, "outputs")
        if outputs is None or _final_activation(outputs[1]) is None:
            noise = rng.normal(0, 3, (256,) + input_shape).astype(np.float32)
            _, z_log_var_noise = _encoder_outputs(model, noise, latent_dim, call_text, "random images")
            _check_log_var_sign(np.concatenate([z_log_var, z_log_var_noise]))


# ------------------------------------------------------------------------------------------------ the decoder

LOGITS_NOT_PROBABILITIES = (
    "The loss applies the sigmoid itself (it works from the logits), so the decoder must output logits, any real "
    "number; a sigmoid here would be applied twice. Remove the activation of the last `Dense` layer."
)


def _decoder_activation_mistake(activation):
    if activation in ("sigmoid", "hard_sigmoid"):
        return f"Your decoder ends in a {activation}, so it outputs probabilities. {LOGITS_NOT_PROBABILITIES}"
    if activation == "softmax":
        return ("Your decoder ends in a softmax, which makes the pixels compete for one unit of probability. "
                f"Each pixel is its own Binomial count. {LOGITS_NOT_PROBABILITIES}")
    return (f"Your decoder ends in a {activation} activation, which limits the logits it can output (a logit "
            "below 0 means a pixel is more likely white than black). The last `Dense` layer needs no activation.")


def _check_decoder_output_shape(out, n, output_shape, call_text, what):
    if isinstance(out, (list, tuple, dict)):
        raise Incorrect(f"The decoder from `{call_text}` returns {describe(out)}; it has one output, the logits.")
    array = to_array(out, "the decoder's output")
    expected = (n,) + tuple(output_shape)
    if array.shape == expected:
        return array
    if array.shape == (n, math.prod(output_shape)):
        raise Incorrect(
            f"For {what} your decoder returns shape {array.shape}: flat rows of {math.prod(output_shape)} logits. "
            f"The images are {tuple(output_shape)}: end with `layers.Reshape(output_shape)`, so the loss can "
            "compare each logit with its pixel.")
    if array.shape == expected + (1,):
        raise Incorrect(f"For {what} your decoder returns shape {array.shape}, with a channel axis; the images have "
                        f"shape {tuple(output_shape)}. Reshape to `output_shape` exactly.")
    raise Incorrect(f"For {what} your decoder returns shape {array.shape}; expected {expected}: one "
                    "`output_shape` array of logits per latent point.")


@exercise(
    "build_decoder",
    hints=[
        "Mirror the encoder: `z = keras.Input(shape=(latent_dim,))`, one or two `Dense` layers with an activation, "
        "then `layers.Dense(math.prod(output_shape))` with no activation, and `layers.Reshape(output_shape)`.",
        "The decoder outputs logits: the last Dense layer has no activation, because the loss works from the "
        "logits. Finish with `return keras.Model(z, logits, name=\"decoder\")`.",
    ],
    solution="""
def build_decoder(latent_dim, output_shape):
    z = keras.Input(shape=(latent_dim,), name="z")
    h = layers.Dense(64, activation="relu", name="hidden_1")(z)
    h = layers.Dense(128, activation="relu", name="hidden_2")(h)
    h = layers.Dense(math.prod(output_shape), name="logits")(h)
    logits = layers.Reshape(output_shape, name="image_logits")(h)
    return keras.Model(z, logits, name="decoder")
""",
    explanation="The decoder mirrors the encoder and ends in one logit per pixel, reshaped to the image.",
    success="Your decoder maps latent points to one logit per pixel, in the shape of the images.",
)
def check_build_decoder(fn):
    """fn(latent_dim, output_shape) -> keras.Model z -> logits of shape output_shape."""
    name = "build_decoder"
    _expect_function(fn, name, "build_decoder(latent_dim, output_shape)")
    rng = np.random.default_rng(1)
    for latent_dim, output_shape in ((LATENT_DIM, IMAGE_SHAPE), (OTHER_LATENT_DIM, OTHER_IMAGE_SHAPE)):
        call_text = f"build_decoder({latent_dim}, {output_shape})"
        built = call_learner(fn, (latent_dim, output_shape), name, call_text)
        model = _expect_model(built, name, call_text, "z, logits")
        inputs = _symbolic(model, "inputs")
        if inputs is not None:
            shape = tuple(inputs[0].shape)
            if len(inputs) != 1 or shape != (None, latent_dim):
                swapped = shape == (None,) + tuple(output_shape) or shape == (None, math.prod(output_shape))
                advice = (" That is the image's shape: the decoder goes the other way, from z to the image."
                          if swapped else "")
                raise Incorrect(f"The decoder from `{call_text}` has input shape "
                                f"{_shape_text(shape) if len(inputs) == 1 else f'{len(inputs)} inputs'}; expected "
                                f"(None, {latent_dim}), one latent point z per row.{advice}")
        outputs = _symbolic(model, "outputs")
        activation = _final_activation(outputs[0]) if outputs and len(outputs) == 1 else None
        if activation not in (None, "linear"):
            raise Incorrect(_decoder_activation_mistake(activation))
        z = (3.0 * rng.standard_normal((64, latent_dim))).astype(np.float32)
        what = f"a batch of 64 latent points of size {latent_dim}"
        logits = _check_decoder_output_shape(_run(model, z, call_text, what), 64, output_shape, call_text, what)
        if not np.all(np.isfinite(logits)):
            raise Incorrect(f"For {what} your decoder's output contains NaN or infinity.")
        if np.all((logits >= 0) & (logits <= 1)):
            raise Incorrect("Every value your decoder returns lies between 0 and 1, like probabilities. "
                            + LOGITS_NOT_PROBABILITIES)
        if np.all(logits >= 0):
            raise Incorrect("Your decoder never returns a negative value, as if a relu ended it. A negative logit "
                            "means a pixel is more likely white than black: the last `Dense` layer needs no "
                            "activation.")
        _check_decoder_output_shape(_run(model, z[:1], call_text, "a batch of 1 latent point"), 1, output_shape,
                                    call_text, "a batch of 1 latent point")


# ------------------------------------------------------------------------------------------------ the loss

_RNG = np.random.default_rng(6)
X = np.round(_RNG.uniform(-0.4, 1.4, (5, 8, 8)).clip(0, 1) * 16).astype(np.float32) / 16
LOGITS = np.clip(2.0 * _RNG.standard_normal((5, 8, 8)), -6, 6).astype(np.float32)
Z_MEAN = _RNG.normal(0, 1, (5, 3)).astype(np.float32)
Z_LOG_VAR = _RNG.normal(-0.5, 1, (5, 3)).astype(np.float32)
# A second batch with another batch size and latent size.
X_2 = np.round(_RNG.uniform(-0.4, 1.4, (3, 8, 8)).clip(0, 1) * 16).astype(np.float32) / 16
LOGITS_2 = np.clip(2.0 * _RNG.standard_normal((3, 8, 8)), -6, 6).astype(np.float32)
Z_MEAN_2 = _RNG.normal(0, 1, (3, 4)).astype(np.float32)
Z_LOG_VAR_2 = _RNG.normal(-0.5, 1, (3, 4)).astype(np.float32)


def _softplus(a):
    return np.logaddexp(0.0, a)


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


TRIALS = 16


def _log_choose(x):
    """log C(16, k) per pixel for grey levels x = k / 16 (float64)."""
    k = np.round(np.float64(x) * TRIALS)
    return (math.lgamma(TRIALS + 1) - np.vectorize(math.lgamma)(k + 1)
            - np.vectorize(math.lgamma)(TRIALS - k + 1))


def reference_loss(x, logits, z_mean, z_log_var):
    """(total, reconstruction, kl) in float64: -log Binomial(16 x; 16, sigmoid(l)) summed over pixels, KL over
    latents; batch means."""
    x, logits, mu, gamma = (np.asarray(a, dtype=np.float64) for a in (x, logits, z_mean, z_log_var))
    nll = TRIALS * _softplus(logits) - TRIALS * x * logits - _log_choose(x)
    reconstruction = nll.reshape(len(x), -1).sum(-1).mean()
    kl = (-0.5 * (1 + gamma - np.exp(gamma) - mu**2).sum(-1)).mean()
    return reconstruction + kl, reconstruction, kl


def _keras_bce_without_logits(x, logits):
    """What `ops.binary_crossentropy(x, logits)` gives when from_logits is forgotten (probabilities clipped)."""
    from keras import ops

    return ops.convert_to_numpy(ops.binary_crossentropy(x, logits, from_logits=False)).astype(np.float64)


TEXTBOOK_BCE = (
    "Your reconstruction term is the textbook's: binary cross-entropy on the grey levels x = k/16, summed over the "
    "pixels. That is a training loss, not −log p(x | z): per pixel, −log Binomial(k; 16, p) = 16 · BCE(k/16, p) − "
    "log C(16, k), so the textbook's term is (−log p(x | z) + Σ log C(16, k)) / 16. Added to the KL term at full "
    "weight it has the same optimum as β = 16 against the real likelihood, up to a constant: the KL counts 16 times "
    "as much as in the ELBO, and the number is not in nats of any distribution over the digits. Multiply the "
    "cross-entropy by 16 and subtract log C(16, k) (`complete.log_choose(k)`, k = 16 x)."
)


def _cross_entropies(x, logits):
    """Per-pixel BCE(x, p) the usual ways, right or wrong, with the message for each wrong one."""
    x64, l64 = np.float64(x), np.float64(logits)
    p = _sigmoid(l64)
    return [
        (_softplus(l64) - x64 * l64, ""),
        (_keras_bce_without_logits(x, logits),
         "Your cross-entropy treats the logits as probabilities: pass `from_logits=True` (the decoder outputs "
         "logits, and Keras otherwise clips them into (0, 1))."),
        (_softplus(p) - x64 * p,
         "You applied a sigmoid to the logits and then `from_logits=True`, so the sigmoid is applied twice. Pass "
         "the logits themselves."),
        (_softplus(x64) - l64 * x64,
         "The arguments of the cross-entropy are swapped: the target (the image x) comes first, then the logits."),
    ]


def _pixel_terms(x, logits):
    """Per-pixel values of the usual ways to write (or miswrite) -log p(x | z), with their message."""
    x64, l64 = np.float64(x), np.float64(logits)
    p = _sigmoid(l64)
    log_choose = _log_choose(x)
    terms = []
    for bce, bce_message in _cross_entropies(x, logits):
        terms += [
            (TRIALS * bce - log_choose, bce_message),
            (bce, " ".join(m for m in (TEXTBOOK_BCE, bce_message) if m)),
            (TRIALS * bce, " ".join(m for m in (
                "Your reconstruction term is 16 · BCE without the − log C(16, k) term. The gradients are the same, "
                "but the number is −log p(x | z) plus Σ log C(16, k): not in nats of a distribution (it counts "
                "every arrangement of a block's on-pixels as one). Subtract `complete.log_choose(k)`, k = 16 x.",
                bce_message) if m)),
            (TRIALS * bce + log_choose, " ".join(m for m in (
                "log C(16, k) has the wrong sign: −log Binomial(k; 16, p) = 16 · BCE − log C(16, k), so it is "
                "subtracted.", bce_message) if m)),
        ]
    terms += [
        (TRIALS * _softplus(l64) - x64 * l64 - log_choose,
         "In −k · ℓ you used the grey level x where the count k = 16 · x belongs: the term is "
         "16 · softplus(ℓ) − k · ℓ − log C(16, k)."),
        (_softplus(l64) - x64 * l64 * TRIALS - log_choose,
         "softplus(ℓ) needs the factor 16 too: a count of 16 pixels pays 16 · softplus(ℓ) − k · ℓ − log C(16, k)."),
        ((x64 - p) ** 2,
         "That is a squared error, the likelihood of a Gaussian decoder, not the Binomial one of the digits. Use "
         "16 · softplus(ℓ) − k · ℓ − log C(16, k) per pixel."),
        ((x64 - l64) ** 2,
         "That is a squared error on the logits. Use 16 · softplus(ℓ) − k · ℓ − log C(16, k) per pixel."),
    ]
    return terms


def _pixel_reductions(n_pixels, width):
    return [
        (1.0, ""),
        (1.0 / n_pixels,
         f"You averaged over the pixels instead of summing. That divides the reconstruction "
         f"term by {n_pixels} (the number of pixels) while the KL term keeps its size: a VAE with β = {n_pixels}, "
         "whose KL term wins and whose reconstructions turn blurry. Sum over the pixel axes, `axis=(1, 2)`."),
        (1.0 / width,
         f"Your reconstruction term is {width} times too small: `keras.losses.binary_crossentropy` averages over the "
         "last axis (the image's columns). Write the per-pixel term with `ops` (or use "
         "`ops.binary_crossentropy(x, logits, from_logits=True)`, which keeps every pixel), and sum over "
         "`axis=(1, 2)`."),
    ]


def _batch_reductions(n):
    return [
        (1.0, ""),
        (float(n), "You summed over the batch; average over the examples instead (`ops.mean`), so the loss is in nats "
                   "per image and does not grow with the batch size."),
    ]


def _kl_variants(z_mean, z_log_var):
    mu, gamma = np.float64(z_mean), np.float64(z_log_var)
    terms = 1 + gamma - np.exp(gamma) - mu**2
    k = mu.shape[-1]
    return [
        (-0.5 * terms.sum(-1), ""),
        (-0.5 * terms.mean(-1),
         f"Your KL term is averaged over the {k} latent dimensions; it is a sum (Equation 17-4). A mean divides the "
         f"KL by latent_dim, which acts like β = 1/{k} (keras-team/keras-io#270)."),
        (0.5 * terms.sum(-1),
         "Your KL term has the wrong sign: KL = −½ Σ (1 + γ − exp(γ) − μ²) is never negative."),
        (-terms.sum(-1), "Your KL term is twice too big: the factor in front of the sum is −½."),
        (-0.5 * (1 + gamma - np.exp(gamma) + mu**2).sum(-1), "In the KL term, μ² is subtracted: −μ²."),
        (-0.5 * (1 + gamma - np.exp(gamma / 2) - mu**2).sum(-1),
         "Your KL term uses exp(γ/2), which is σ, where Equation 17-4 needs exp(γ) = σ²."),
    ]


def _loss_values(result, n, call_text):
    """The three returned values as floats; wrong structure or shape gets its own message."""
    if isinstance(result, dict):
        raise Incorrect(f"`{call_text}` returned a dict; return a tuple: `return total, reconstruction, kl`.")
    if not isinstance(result, (list, tuple)):
        array = to_array(result, "vae_loss")
        raise Incorrect(f"`{call_text}` returned one value ({describe(array)}); return three, in this order: "
                        "`return total, reconstruction, kl`.")
    if len(result) != 3:
        raise Incorrect(f"`{call_text}` returned {len(result)} values; return three, in this order: "
                        "`return total, reconstruction, kl`.")
    values = []
    for label, value in zip(("total", "reconstruction", "kl"), result):
        if is_placeholder(value):
            raise NotAttempted(f"`{label}` is still the `____` placeholder. Write its formula, run the cell, then "
                               "run this check again.")
        array = to_array(value, label)
        if array.shape == (n,):
            raise Incorrect(f"`{label}` has one value per example, shape {array.shape}. Average over the batch "
                            f"(`ops.mean`), so that `{label}` is one number in nats per image.")
        if array.size != 1:
            hint_text = (" Sum over the pixel axes, `axis=(1, 2)`." if label == "reconstruction" and array.ndim >= 2
                         else "")
            raise Incorrect(f"`{label}` has shape {array.shape}; it should be a single number, a mean over the "
                            f"batch of a sum over pixels or latent dimensions.{hint_text}")
        values.append(float(array.reshape(())))
    if not np.all(np.isfinite(values)):
        raise Incorrect(f"`{call_text}` returned NaN or infinity ({values}). The log-probability of a logit far from "
                        "0 overflows when written by hand as log(sigmoid(...)): write −log p as softplus(−ℓ) and "
                        "−log(1 − p) as softplus(ℓ), i.e. 16 · softplus(ℓ) − k · ℓ − log C(16, k).")
    return values


def _diagnose_reconstruction(value, x, logits):
    n, n_pixels, width = len(x), math.prod(x.shape[1:]), x.shape[-1]
    for pixel_values, likelihood_message in _pixel_terms(x, logits):
        per_example = pixel_values.reshape(n, -1).sum(-1)
        for pixel_factor, pixel_message in _pixel_reductions(n_pixels, width):
            for batch_factor, batch_message in _batch_reductions(n):
                if close(value, per_example.mean() * pixel_factor * batch_factor, rtol=1e-3, atol=LOSS_ATOL):
                    messages = [m for m in (likelihood_message, pixel_message, batch_message) if m]
                    return " ".join(messages) if messages else None
    expected = float(reference_loss(x, logits, np.zeros((n, 1)), np.zeros((n, 1)))[1])
    return (f"Your reconstruction term is {value:.4f}; expected {expected:.4f} for the check's batch: "
            "16 · softplus(ℓ) − k · ℓ − log C(16, k) with k = 16 x, summed over the pixels of each image, averaged "
            "over the batch.")


def _diagnose_kl(value, z_mean, z_log_var):
    for per_example, kl_message in _kl_variants(z_mean, z_log_var):
        for batch_factor, batch_message in _batch_reductions(len(z_mean)):
            if close(value, per_example.mean() * batch_factor, rtol=LOSS_RTOL, atol=LOSS_ATOL):
                messages = [m for m in (kl_message, batch_message) if m]
                return " ".join(messages) if messages else None
    expected = float(_kl_variants(z_mean, z_log_var)[0][0].mean())
    return (f"Your KL term is {value:.4f}; expected {expected:.4f}: Equation 17-4, "
            "−½ Σ (1 + z_log_var − exp(z_log_var) − z_mean²) summed over the latent axis, averaged over the "
            "batch.")


def _check_loss_values(fn, x, logits, z_mean, z_log_var, call_text):
    from keras import ops

    tensors = [ops.convert_to_tensor(a) for a in (x, logits, z_mean, z_log_var)]
    total, reconstruction, kl = _loss_values(call_learner(fn, tensors, "vae_loss", call_text), len(x), call_text)
    expected = reference_loss(x, logits, z_mean, z_log_var)
    if not close([total, reconstruction, kl], expected, rtol=LOSS_RTOL, atol=LOSS_ATOL):
        returned = sorted([total, reconstruction, kl])
        if close(returned, sorted(expected), rtol=LOSS_RTOL, atol=LOSS_ATOL):
            raise Incorrect("Your three values are right but in the wrong order: "
                            "`return total, reconstruction, kl`.")
        problems = [p for p in (_diagnose_reconstruction(reconstruction, x, logits),
                                _diagnose_kl(kl, z_mean, z_log_var)) if p]
        if problems:
            raise Incorrect(" ".join(problems))
        if close(total, reconstruction - kl, rtol=LOSS_RTOL, atol=LOSS_ATOL):
            raise Incorrect("`total` subtracts the KL term. The loss is the negative ELBO, reconstruction + KL: the "
                            "minus sign already sits inside the KL formula (keras-team/keras#6500).")
        raise Incorrect(f"`reconstruction` and `kl` are right, but `total` = {total:.4f} is not their sum "
                        f"{reconstruction + kl:.4f}: the negative ELBO is reconstruction + KL (β = 1).")


def _check_gradients(fn):
    import tensorflow as tf

    variables = [tf.Variable(a) for a in (LOGITS, Z_MEAN, Z_LOG_VAR)]
    try:
        with tf.GradientTape() as tape:
            result = fn(tf.constant(X), *variables)
            total = result[0]
        grads = tape.gradient(total, variables) if tf.is_tensor(total) else [None] * len(variables)
    except LearnerTimeout:
        raise
    except Exception as err:
        raise Incorrect(f"Your loss gives the right numbers, but taking its gradient failed ({type(err).__name__}: "
                        f"{error_text(err)}). Write it with `keras.ops` (or TensorFlow) so the optimizer can "
                        "follow it.") from None
    missing = [name for name, g in zip(("logits", "z_mean", "z_log_var"), grads) if g is None]
    if missing:
        raise Incorrect(
            f"Your loss gives the right numbers, but no gradient reaches {', '.join(missing)}: NumPy functions (or "
            "`.numpy()`, `float(...)`) leave TensorFlow's gradient tape, so training could not learn from it. Use "
            "`keras.ops` functions, e.g. `ops.sum`, `ops.mean`, `ops.exp`, `ops.binary_crossentropy`.")


def _check_in_graph(fn):
    import tensorflow as tf

    try:
        tf.function(lambda *args: fn(*args)[0])(X, LOGITS, Z_MEAN, Z_LOG_VAR)
    except LearnerTimeout:
        raise
    except Exception as err:
        raise Incorrect(
            "Your loss works on concrete arrays but fails inside a compiled training step, where the inputs are "
            f"symbolic tensors: {type(err).__name__}: {error_text(err)}. Use `keras.ops` functions and no Python "
            "`float(...)` or `.numpy()`.") from None


@exercise(
    "vae_loss",
    hints=[
        "Per pixel, −log Binomial(k; 16, p) with p = sigmoid(ℓ) is 16 · softplus(ℓ) − k · ℓ − log C(16, k), where "
        "k = 16 · x is the pixel's count. `ops.softplus` and `complete.log_choose(k)` give the two functions.",
        "Sum that per-pixel term within each image (`axis=(1, 2)`), then average over the batch with `ops.mean`; do "
        "the same with the KL of each image (your `kl_function` already sums over the latent axis). The total is "
        "their sum.",
    ],
    solution="""
def vae_loss(x, logits, z_mean, z_log_var):
    k = 16 * x
    nll = 16 * ops.softplus(logits) - k * logits - complete.log_choose(k)
    reconstruction = ops.mean(ops.sum(nll, axis=(1, 2)))
    kl = ops.mean(kl_function(z_mean, z_log_var))  # kl_function: your kl_log_var, or the course's (above)
    return reconstruction + kl, reconstruction, kl
""",
    explanation="Sum within an example (pixels, latent dimensions), average across examples: nats per image. "
    "16 · softplus(ℓ) − k · ℓ is −k log p − (16 − k) log(1 − p) written with the logit, which never takes the log "
    "of 0.",
    success="Your loss is the negative ELBO in nats per image: −log Binomial(k; 16, p) summed over the pixels, "
    "plus the KL term summed over the latent dimensions, each averaged over the batch, and gradients flow through it.",
)
def check_vae_loss(fn):
    """fn(x, logits, z_mean, z_log_var) -> (total, reconstruction, kl), batch means in nats per image."""
    _expect_function(fn, "vae_loss", "vae_loss(x, logits, z_mean, z_log_var)")
    if inspect.isclass(fn):
        raise Incorrect("Pass your function `vae_loss`, not a class.")
    _check_loss_values(fn, X, LOGITS, Z_MEAN, Z_LOG_VAR, "vae_loss(x, logits, z_mean, z_log_var) for 5 images")
    _check_loss_values(fn, X_2, LOGITS_2, Z_MEAN_2, Z_LOG_VAR_2,
                       "vae_loss(...) for 3 images and latent_dim = 4")
    _check_gradients(fn)
    _check_in_graph(fn)


def trainable_kl(kl_function):
    """The learner's ``kl_log_var`` if it is right and differentiable, else ``vae_course.kl_log_var`` with a note."""
    from ..lessons import complete
    from ..vae.maths import kl_log_var as vae_kl_log_var
    from .fallback import yours_if_correct

    chosen = yours_if_correct("kl_log_var", kl_function, vae_kl_log_var, "`vae_course.kl_log_var`")
    if chosen is kl_function and not complete.gradients_flow(kl_function):
        print("Your `kl_log_var` gives the right numbers, but no gradient passes through it (NumPy functions "
              "leave TensorFlow's gradient tape), so training uses `vae_course.kl_log_var`. "
              "Write it with `keras.ops` to train with your own.")
        return vae_kl_log_var
    return chosen


# ------------------------------------------------------------------------------------------------ predict, then check


@exercise(
    "predicted_kl",
    solution="predicted_kl = 0.0  # at β = 64 a nat of KL must save 64 nats of reconstruction: the KL collapses",
    hints=[
        "With the loss averaged over the 64 pixels and the KL term at full weight, one nat of KL costs as much as 64 "
        "nats of −log p(x | z). How many nats of reconstruction did your own model save with the few nats of KL it "
        "spent?",
    ],
    explanation="At β = 64 a nat of code pays off only if it saves 64 nats of reconstruction; here it does not, so "
    "the optimum sends the KL term to about 0 and the decoder ignores z (posterior collapse).",
    success="Good prediction.",
)
def check_predicted_kl(guess, measured_kl, your_kl):
    """``guess``: the learner's predicted test KL (nats per image) of the β = 64 model, made before training it."""
    from ..checks.predict import judge_prediction, measured_number

    truth = measured_number(measured_kl, "KL of the mean-over-pixels model")
    yours = measured_number(your_kl, "KL of your VAE")
    why = (f"Your β = 1 VAE spends {yours:.2f} nats of KL per test digit. At β = 64 each of those nats costs as much "
           "as 64 nats of reconstruction, more than z saves, so the optimum is (almost) no information in z.")
    mistakes = [
        (lambda v: v < 0, "A KL divergence is never negative."),
        (lambda v: abs(v - yours) <= 0.5 * yours,
         "That is about what your β = 1 model spends; the weight of the KL term is what changed."),
        (lambda v: v > yours, "A heavier KL term buys less information, not more: β = 64 pushes the KL down."),
    ]
    return judge_prediction(guess, truth, 0.0, max(0.5, 2 * truth), "predicted_kl", why, mistakes, measured=True)
