"""A VAE whose q(z | x) is a Gaussian reshaped by inverse autoregressive flow steps (Kingma et al., 2016).

The encoder gives mean, log-variance and a context vector h. A draw z_0 = mean + sigma * eps is pushed
through T steps, each z_t = s_t * z_{t-1} + (1 - s_t) * m_t, where (m_t, logit s_t) come from a masked
network (MADE) of z_{t-1} and h in which output i sees only inputs before i. Each step's Jacobian is
triangular, so

    log q(z_T | x) = log N(z_0; mean, sigma^2) - sum_t sum_i log s_t,i.

There is no closed form for KL(q || N(0, I)) any more: the loss estimates it with the same draw as the
reconstruction term, KL ~ log q(z_T | x) - log N(z_T; 0, I) (one-sample Monte Carlo, lesson 05). The prior,
the decoder and the likelihood p(x | z) (``model.VAE.likelihood``) are those of ``model.VAE``, so the
negative ELBO stays in the same nats. With a 2-D latent space the true posterior is far from Gaussian and
the flow tightens the bound (``recipes.train_best(..., flow_steps=4)``; its docstring says why they are off by
default under the Binomial likelihood).
"""

import math

import keras
import numpy as np
from keras import layers, ops

from .. import _quiet  # noqa: F401
from .model import VAE, _with_old_file_defaults, build_decoder, build_encoder

LOG_2PI = math.log(2.0 * math.pi)


def gaussian_log_prob(z, mean, log_var):
    """log N(z; mean, exp(log_var)) summed over the last axis."""
    return -0.5 * ops.sum(LOG_2PI + log_var + ops.square(z - mean) * ops.exp(-log_var), axis=-1)


def standard_normal_log_prob(z):
    """log N(z; 0, I) summed over the last axis: the prior's log-density."""
    return -0.5 * ops.sum(LOG_2PI + ops.square(z), axis=-1)


def made_masks(latent_dim, hidden, reverse=False):
    """The MADE masks (input -> hidden, hidden -> output) for ``latent_dim`` variables in order 1..d.

    Hidden unit j has degree 1 + (j mod (d - 1)); it sees inputs of degree <= its own, and output i sees
    hidden units of degree < i. So output i depends only on inputs 1..i-1. ``reverse`` uses order d..1.
    """
    d = int(latent_dim)
    degrees_in = np.arange(1, d + 1)
    if reverse:
        degrees_in = degrees_in[::-1]
    degrees_hidden = np.arange(int(hidden)) % max(d - 1, 1) + 1
    to_hidden = (degrees_hidden[None, :] >= degrees_in[:, None]).astype(np.float32)
    to_output = (degrees_in[None, :] > degrees_hidden[:, None]).astype(np.float32)
    return to_hidden, to_output


@keras.saving.register_keras_serializable(package="vae_course")
class IAFStep(layers.Layer):
    """One inverse autoregressive flow step: call on ``[z, h]``; returns ``(z_new, log_det)``.

    z_new = s * z + (1 - s) * m with s = sigmoid(logit), (m, logit) from a masked one-hidden-layer network of
    (z, h); log_det = sum_i log s_i. The gate's bias starts at 2 (s ~ 0.88), so a new step is close to the
    identity and training starts from the plain Gaussian posterior.
    """

    def __init__(self, hidden=32, reverse=False, activation="gelu", gate_bias=2.0, **kwargs):
        super().__init__(**kwargs)
        self.gate_bias = float(gate_bias)
        self.hidden = int(hidden)
        self.reverse = bool(reverse)
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        z_shape, h_shape = input_shape
        d, width = int(z_shape[-1]), self.hidden
        to_hidden, to_output = made_masks(d, width, self.reverse)
        self.to_hidden_mask, self.to_output_mask = to_hidden, to_output  # NumPy: constants in every graph
        small = keras.initializers.RandomNormal(stddev=0.01)
        self.w_z = self.add_weight(shape=(d, width), initializer="glorot_uniform", name="w_z")
        self.w_h = self.add_weight(shape=(int(h_shape[-1]), width), initializer="glorot_uniform", name="w_h")
        self.b_hidden = self.add_weight(shape=(width,), initializer="zeros", name="b_hidden")
        self.w_shift = self.add_weight(shape=(width, d), initializer=small, name="w_shift")
        self.w_gate = self.add_weight(shape=(width, d), initializer=small, name="w_gate")
        self.b_shift = self.add_weight(shape=(d,), initializer="zeros", name="b_shift")
        gate = keras.initializers.Constant(self.gate_bias)
        self.b_gate = self.add_weight(shape=(d,), initializer=gate, name="b_gate")

    def call(self, inputs):
        z, h = inputs
        a = self.activation(ops.matmul(z, self.w_z * self.to_hidden_mask) + ops.matmul(h, self.w_h)
                            + self.b_hidden)
        shift = ops.matmul(a, self.w_shift * self.to_output_mask) + self.b_shift
        gate_logit = ops.matmul(a, self.w_gate * self.to_output_mask) + self.b_gate
        gate = ops.sigmoid(gate_logit)
        return gate * z + (1.0 - gate) * shift, ops.sum(ops.log_sigmoid(gate_logit), axis=-1)

    def get_config(self):
        return {**super().get_config(), "hidden": self.hidden, "reverse": self.reverse, "gate_bias": self.gate_bias,
                "activation": keras.activations.serialize(self.activation)}


@keras.saving.register_keras_serializable(package="vae_course")
class FlowVAE(VAE):
    """``model.VAE`` with inverse autoregressive flow steps after the Sampling layer.

    ``encoder`` returns (z_mean, z_log_var, h); ``flows`` is a list of ``IAFStep``. ``sample_posterior(x)``
    gives (z, log q(z | x)); ``plots.encode_mean`` still takes the Gaussian's mean. Setting ``use_flows`` to
    False makes it the plain Gaussian VAE (the steps are skipped everywhere) until it is set back to True.
    """

    def __init__(self, encoder, decoder, flows=(), beta=1.0, seed=None, **kwargs):
        super().__init__(encoder, decoder, beta=beta, seed=seed, **kwargs)  # likelihood, reconstruction: VAE's
        self.flows = list(flows)
        self.use_flows = True

    def sample_posterior(self, x, training=False, eps=None):
        """One draw z ~ q(z | x) per example and its log-density log q(z | x) (see the module docstring).

        ``eps`` (shape (n, latent_dim)) fixes the standard-normal noise; by default the Sampling layer draws it.
        """
        z_mean, z_log_var, h = self.encoder(x, training=training)
        if eps is None:
            z = self.sampling([z_mean, z_log_var])
        else:
            z = z_mean + ops.exp(0.5 * z_log_var) * ops.cast(eps, z_mean.dtype)
        log_q = gaussian_log_prob(z, z_mean, z_log_var)
        for step in self.flows if self.use_flows else ():
            z, log_det = step([z, h])
            log_q = log_q - log_det
        return z, log_q

    def call(self, x, training=False):
        z, _ = self.sample_posterior(x, training=training)
        return self.likelihood.mean(self.decoder(z, training=training))

    def compute_losses(self, x, training=False):
        """Reconstruction + beta * KL with KL ~ log q(z | x) - log p(z) at the same draw z (batch means).

        With ``use_flows`` False, the losses of the plain Gaussian VAE (closed-form KL, Equation 17-4); the flow
        steps are left out and get no gradient. ``recipes.train_best`` starts that way, because the Gaussian
        VAE converges fastest in the first epochs.
        """
        if not self.use_flows:
            return super().compute_losses(x, training=training)
        z, log_q = self.sample_posterior(x, training=training)
        reconstruction = ops.mean(self.reconstruction_term(x, self.decoder(z, training=training)))
        kl = ops.mean(log_q - standard_normal_log_prob(z))
        return reconstruction + self.beta * kl, reconstruction, kl

    def get_config(self):
        return {**super().get_config(), "flows": [keras.saving.serialize_keras_object(f) for f in self.flows]}

    @classmethod
    def from_config(cls, config):
        config = _with_old_file_defaults(config)
        flows = [keras.saving.deserialize_keras_object(f) for f in config.pop("flows", [])]
        encoder = keras.saving.deserialize_keras_object(config.pop("encoder"))
        decoder = keras.saving.deserialize_keras_object(config.pop("decoder"))
        return cls(encoder, decoder, flows=flows, **config)


def make_flow_vae(input_shape, latent_dim=2, hidden=(256, 128), flow_steps=4, flow_hidden=32, beta=1.0,
                  activation="gelu", seed=None, gate_bias=2.0, likelihood=None, reconstruction="likelihood",
                  dropout=0.0):
    """``make_vae``'s dense VAE with ``flow_steps`` IAF steps (alternating variable order) in q(z | x)."""
    input_shape = tuple(int(d) for d in input_shape)
    encoder = build_encoder(input_shape, latent_dim, hidden, activation, return_hidden=True)  # (mean, log_var, h)
    decoder = build_decoder(input_shape, latent_dim, tuple(reversed(hidden)), activation, dropout=dropout)
    flows = [IAFStep(flow_hidden, reverse=bool(i % 2), activation=activation, gate_bias=gate_bias, name=f"iaf_{i}")
             for i in range(int(flow_steps))]
    vae = FlowVAE(encoder, decoder, flows=flows, beta=beta, seed=seed, likelihood=likelihood,
                  reconstruction=reconstruction, name="flow_vae")
    vae(ops.zeros((1,) + input_shape))
    return vae
