"""flows: inverse autoregressive flow steps in q(z | x) and the FlowVAE that trains and is evaluated with them."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import vae_course
from vae_course.vae.elbo import elbo_terms, importance_log_weights
from vae_course.vae.flows import IAFStep, gaussian_log_prob, made_masks, make_flow_vae
from vae_course.vae.maths import kl_log_var
from vae_course.vae.recipes import train_best


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("d", [1, 2, 5])
def test_made_masks_let_output_i_see_only_earlier_inputs(d, reverse):
    to_hidden, to_output = made_masks(d, hidden=16, reverse=reverse)
    reach = (to_hidden @ to_output) > 0  # reach[j, i]: input j can influence output i
    order = np.arange(d)[::-1] if reverse else np.arange(d)
    position = np.empty(d, dtype=int)
    position[order] = np.arange(d)
    for j in range(d):
        for i in range(d):
            if position[j] >= position[i]:
                assert not reach[j, i], f"input {j} reaches output {i}"
            elif d > 1:
                assert reach[j, i], f"input {j} cannot reach later output {i}"


@pytest.mark.parametrize("reverse", [False, True])
def test_a_step_has_a_triangular_jacobian_whose_log_determinant_it_reports(reverse):
    keras.utils.set_random_seed(1)
    d = 4
    step = IAFStep(hidden=24, reverse=reverse)
    h = tf.random.normal((1, 6))
    z = tf.Variable(tf.random.normal((1, d)))
    step([z, h])
    for w in step.trainable_weights:  # move away from the near-identity start
        w.assign(w + tf.random.normal(w.shape, stddev=0.5))
    with tf.GradientTape() as tape:
        z_new, log_det = step([z, h])
    jacobian = tape.jacobian(z_new, z).numpy()[0, :, 0, :]  # d z_new_i / d z_j
    order = list(range(d))[::-1] if reverse else list(range(d))
    permuted = jacobian[np.ix_(order, order)]
    assert np.allclose(np.triu(permuted, k=1), 0.0, atol=1e-7)
    assert float(log_det[0]) == pytest.approx(np.log(abs(np.linalg.det(jacobian))), abs=1e-4)


def test_without_steps_the_sampled_kl_matches_the_closed_form():
    """A FlowVAE with no flow step is the Gaussian VAE: its Monte Carlo KL agrees with Equation 17-4."""
    keras.utils.set_random_seed(0)
    vae = make_flow_vae((8, 8), latent_dim=3, hidden=(16,), flow_steps=0, seed=0)
    x = (np.random.default_rng(0).integers(0, 17, (40, 8, 8)) / 16).astype(np.float32)
    _, kl = elbo_terms(vae, x, n_samples=100, seed=1)
    z_mean, z_log_var, _ = vae.encoder(x)
    assert np.mean(kl) == pytest.approx(np.mean(kl_log_var(z_mean, z_log_var).numpy()), abs=0.03)


def test_log_q_is_the_gaussian_density_minus_the_log_determinants():
    keras.utils.set_random_seed(0)
    vae = make_flow_vae((8, 8), latent_dim=2, hidden=(16,), flow_steps=2, flow_hidden=8, seed=0)
    x = np.random.default_rng(0).random((5, 8, 8)).astype(np.float32)
    eps = np.random.default_rng(1).standard_normal((5, 2)).astype(np.float32)
    z, log_q = vae.sample_posterior(x, eps=eps)
    z_mean, z_log_var, h = vae.encoder(x)
    z0 = z_mean + tf.exp(0.5 * z_log_var) * eps
    expected = gaussian_log_prob(z0, z_mean, z_log_var)
    for step in vae.flows:
        z0, log_det = step([z0, h])
        expected -= log_det
    np.testing.assert_allclose(z.numpy(), z0.numpy(), rtol=1e-6)
    np.testing.assert_allclose(log_q.numpy(), expected.numpy(), rtol=1e-6)


@pytest.fixture(scope="module")
def trained():
    (x_train, _), (x_test, _) = vae_course.load_dataset("digits")
    vae, info = train_best(x_train[:600], latent_dim=2, epochs=30, flow_steps=4, seed=0)
    return vae, info, x_test[:120]


def test_train_best_trains_a_flow_vae_that_beats_its_untrained_self(trained):
    vae, info, x = trained
    assert type(vae).__name__ == "FlowVAE" and info["flow_steps"] == len(vae.flows) > 0
    untrained = make_flow_vae((8, 8), latent_dim=2, seed=0)
    assert vae_course.negative_elbo(vae, x) < vae_course.negative_elbo(untrained, x) - 10.0


def test_the_importance_weighted_bound_uses_the_flow_posterior(trained):
    """k = 1 matches the ELBO in expectation; more samples tighten the bound."""
    vae, _, x = trained
    one_sample = np.mean([vae_course.importance_weighted_nll(vae, x, k=1, seed=s) for s in range(20)])
    assert one_sample == pytest.approx(vae_course.negative_elbo(vae, x, n_samples=50), rel=0.01)
    assert vae_course.importance_weighted_nll(vae, x, k=50) < one_sample - 0.05
    assert importance_log_weights(vae, x[:3], k=4).shape == (4, 3)


def test_a_flow_vae_saves_and_loads_in_safe_mode(trained, tmp_path):
    vae, _, x = trained
    path = tmp_path / "flow.keras"
    vae.save(path)
    again = vae_course.load_model(path)
    eps = np.random.default_rng(0).standard_normal((len(x), 2)).astype(np.float32)
    for a, b in zip(vae.sample_posterior(x, eps=eps), again.sample_posterior(x, eps=eps)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


def test_without_flow_steps_train_best_returns_the_plain_vae():
    (x_train, _), _ = vae_course.load_dataset("digits")
    vae, info = train_best(x_train[:200], latent_dim=2, epochs=2, flow_steps=0, seed=0)
    assert type(vae).__name__ == "VAE" and info["flow_steps"] == 0


def test_with_flows_off_it_is_the_plain_gaussian_vae_and_the_steps_get_no_gradient():
    keras.utils.set_random_seed(0)
    vae = make_flow_vae((8, 8), latent_dim=2, hidden=(16,), flow_steps=2, flow_hidden=8, seed=0)
    x = (np.random.default_rng(0).integers(0, 17, (6, 8, 8)) / 16).astype(np.float32)  # on the digits' support
    eps = np.random.default_rng(1).standard_normal((6, 2)).astype(np.float32)
    vae.use_flows = False
    z, log_q = vae.sample_posterior(x, eps=eps)
    z_mean, z_log_var, _ = vae.encoder(x)
    np.testing.assert_allclose(z.numpy(), (z_mean + tf.exp(0.5 * z_log_var) * eps).numpy(), rtol=1e-6)
    with tf.GradientTape() as tape:
        total, _, kl = vae.compute_losses(x)
    assert kl.numpy() == pytest.approx(np.mean(kl_log_var(z_mean, z_log_var).numpy()), rel=1e-5)
    grads = tape.gradient(total, [w for step in vae.flows for w in step.trainable_weights])
    assert all(g is None for g in grads)
    vae.use_flows = True
    z_on, _ = vae.sample_posterior(x, eps=eps)
    assert not np.allclose(z_on.numpy(), z.numpy())


def test_fast_trainer_leaves_weights_without_a_gradient_alone():
    from vae_course.vae.recipes import FastTrainer

    keras.utils.set_random_seed(0)
    vae = make_flow_vae((8, 8), latent_dim=2, hidden=(16,), flow_steps=1, flow_hidden=8, seed=0)
    vae.use_flows = False
    before = [w.numpy().copy() for w in vae.flows[0].trainable_weights]
    x = (np.random.default_rng(0).integers(0, 17, (64, 8, 8)) / 16).astype(np.float32)
    FastTrainer(vae, x, batch_size=32, total_steps=4).run(2)
    for w, old in zip(vae.flows[0].trainable_weights, before):
        np.testing.assert_array_equal(w.numpy(), old)
