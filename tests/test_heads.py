"""vae_course.lessons.heads: the four scale heads, float32 breakdown, the 2016 model and its true-ELBO evaluation."""

import matplotlib

matplotlib.use("Agg")

import keras
import matplotlib.pyplot as plt
import numpy as np
import pytest
from keras import ops

import vae_course
from vae_course import heads

H = np.linspace(-6, 6, 49)
SHAPE = (8, 8)


def numpy(x):
    return np.asarray(ops.convert_to_numpy(x), dtype=np.float64)


# ---- the four parameterizations ------------------------------------------------------------

@pytest.mark.parametrize(
    "kind, expected",
    [
        ("raw", lambda h: h),
        ("log_sigma", np.exp),
        ("log_var", lambda h: np.exp(h / 2)),
        ("softplus", lambda h: np.log1p(np.exp(h))),
    ],
)
def test_sigma_from_head(kind, expected):
    np.testing.assert_allclose(numpy(heads.sigma_from_head(H, kind)), expected(H), rtol=1e-12)


def test_unknown_kind_is_refused_by_name():
    with pytest.raises(ValueError, match="log_variance.*log_sigma"):
        heads.sigma_from_head(H, "log_variance")


@pytest.mark.parametrize("kind", heads.HEAD_KINDS)
def test_log_var_is_log_of_sigma_squared_where_representable(kind):
    h = H[H != 0]
    sigma = numpy(heads.sigma_from_head(h, kind))
    np.testing.assert_allclose(numpy(heads.log_var_from_head(h, kind)), np.log(sigma**2), rtol=1e-9, atol=1e-12)


def test_exp_heads_hand_over_log_var_without_a_log():
    h = np.float32([-200.0, -60.0])
    assert np.array_equal(numpy(heads.log_var_from_head(h, "log_sigma")), [-400.0, -120.0])
    assert np.array_equal(numpy(heads.log_var_from_head(h, "log_var")), [-200.0, -60.0])
    assert np.all(np.isneginf(numpy(heads.log_var_from_head(h, "softplus"))))
    assert np.isneginf(numpy(heads.log_var_from_head(np.float32([0.0]), "raw"))[0])


@pytest.mark.parametrize("kind", heads.HEAD_KINDS)
def test_kl_from_head_is_the_gaussian_kl(kind):
    rng = np.random.default_rng(0)
    h = rng.uniform(0.2, 3, size=(5, 4)) if kind == "raw" else rng.uniform(-3, 3, size=(5, 4))
    mu = rng.normal(size=(5, 4))
    sigma = numpy(heads.sigma_from_head(h, kind))
    np.testing.assert_allclose(numpy(heads.kl_from_head(mu, h, kind)), numpy(vae_course.kl_sigma(mu, sigma)),
                               rtol=1e-9)


@pytest.mark.parametrize(
    "kind, dsigma, dkl",
    [
        ("raw", lambda h: np.ones_like(h), lambda h: h - 1 / h),
        ("log_sigma", np.exp, lambda h: np.exp(2 * h) - 1),
        ("log_var", lambda h: np.exp(h / 2) / 2, lambda h: (np.exp(h) - 1) / 2),
        ("softplus", lambda h: 1 / (1 + np.exp(-h)),
         lambda h: (np.log1p(np.exp(h)) - 1 / np.log1p(np.exp(h))) / (1 + np.exp(-h))),
    ],
)
def test_head_gradients_match_the_formulas(kind, dsigma, dkl):
    h = np.array([-3.0, -0.7, 0.4, 2.5])
    got_sigma, got_kl = heads.head_gradients(h, kind, dtype="float64")
    np.testing.assert_allclose(got_sigma, dsigma(h), rtol=1e-9)
    np.testing.assert_allclose(got_kl, dkl(h), rtol=1e-9)


def test_head_gradients_with_a_mean_only_shift_the_kl_not_its_h_gradient():
    _, at_zero = heads.head_gradients([0.5], "log_var", mu=0.0, dtype="float64")
    _, at_two = heads.head_gradients([0.5], "log_var", mu=2.0, dtype="float64")
    np.testing.assert_allclose(at_zero, at_two)


def test_float32_gradients_break_where_the_lesson_says():
    _, raw = heads.head_gradients([0.0], "raw")
    _, softplus = heads.head_gradients([-60.0], "softplus")
    _, log_var = heads.head_gradients([-60.0], "log_var")
    assert not np.isfinite(raw[0]) and not np.isfinite(softplus[0])
    np.testing.assert_allclose(log_var, [-0.5], rtol=1e-6)


# ---- where float32 breaks ------------------------------------------------------------------

def test_breakdown_points_in_float32():
    points = heads.breakdown_points(step=0.01)
    assert points["log_var"]["variance_inf_above"] == pytest.approx(88.72, abs=0.02)  # exp overflows past log(3.4e38)
    assert points["log_sigma"]["variance_inf_above"] == pytest.approx(44.36, abs=0.02)
    assert points["log_var"]["log_var_minus_inf_below"] is None
    assert points["log_sigma"]["log_var_minus_inf_below"] is None
    # exp(2h) underflows near -43.7 when TensorFlow flushes subnormals to zero, near -51.9 when it does not.
    assert -52.5 < points["softplus"]["log_var_minus_inf_below"] < -43.0
    assert points["raw"]["variance_zero_below"] is None
    assert 1e-23 < points["raw"]["log_var_minus_inf_near_zero"] < 1e-18
    assert points["softplus"]["variance_inf_above"] is None


def test_breakdown_points_in_words():
    text = heads.format_breakdown_points()
    lines = text.splitlines()
    assert [line.split(":")[0].strip() for line in lines] == list(heads.HEAD_KINDS)
    assert "log σ² never -inf" in lines[1] and "log σ² never -inf" in lines[2]
    assert "-inf for |h| below" in lines[0] and "log σ² = -inf below h = -" in lines[3]


def test_table_shows_minus_inf_where_a_log_of_zero_is_taken():
    rows = heads.log_var_table([-60.0, 0.0, 2.0])
    h, raw, softplus, via_sigma, twice_h, as_is = zip(*rows)
    assert np.isneginf(raw[1]) and np.isneginf(softplus[0]) and np.isneginf(via_sigma[0])
    assert twice_h == (-120.0, 0.0, 4.0) and as_is == (-60.0, 0.0, 2.0)
    text = heads.format_log_var_table([-60.0, 0.0, 2.0])
    assert text.splitlines()[0].split()[0] == "h" and "-inf" in text and "nan" not in text
    assert len(text.splitlines()) == 2 + 3


# ---- the 2016 model ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return (rng.uniform(size=(64,) + SHAPE) > 0.5).astype(np.float32)


def small(make, **kwargs):
    keras.utils.set_random_seed(0)
    return make(SHAPE, latent_dim=3, hidden=(16,), seed=0, **kwargs)


def test_same_seed_same_architecture_same_initial_weights():
    consistent, old = small(vae_course.make_vae), small(heads.make_vae_2016)
    assert isinstance(old, heads.VAE2016) and isinstance(old, vae_course.VAE)
    assert [w.shape for w in consistent.weights] == [w.shape for w in old.weights]
    for a, b in zip(consistent.trainable_weights, old.trainable_weights):
        np.testing.assert_array_equal(numpy(a), numpy(b))


@pytest.mark.parametrize("epsilon_std", [1.0, 0.01])
def test_the_2016_sampler_draws_with_exp_h(epsilon_std):
    model = small(heads.make_vae_2016, epsilon_std=epsilon_std)
    n = 20_000
    z_mean = np.tile(np.float32([0.5, -1.0, 2.0]), (n, 1))
    h = np.tile(np.float32([-1.0, 0.0, 0.7]), (n, 1))
    z = numpy(model.sample(z_mean, h))
    np.testing.assert_allclose(z.std(axis=0), epsilon_std * np.exp(h[0]), rtol=0.03)
    np.testing.assert_allclose(z.mean(axis=0), z_mean[0], atol=0.05 * epsilon_std * np.exp(h[0]).max())


def test_the_2016_loss_charges_the_log_variance_kl_of_h(data):
    model = small(heads.make_vae_2016)
    z_mean, h = model.encoder(data)
    _, _, reported = model.compute_losses(data)
    np.testing.assert_allclose(numpy(reported), numpy(ops.mean(vae_course.kl_log_var(z_mean, h))), rtol=1e-6)


def test_epsilon_std_must_be_positive():
    with pytest.raises(ValueError, match="epsilon_std"):
        small(heads.make_vae_2016, epsilon_std=0.0)


def test_the_2016_model_trains_and_evaluates_without_nan(data):
    model = small(heads.make_vae_2016)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = model.fit(data, epochs=2, batch_size=32, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert set(history.history) >= {"loss", "reconstruction_loss", "kl_loss"}
    assert np.isfinite(model.evaluate(data, verbose=0, return_dict=True)["loss"])


def test_save_and_reload_keeps_epsilon_std(tmp_path, data):
    model = small(heads.make_vae_2016, epsilon_std=0.25)
    path = tmp_path / "vae_2016.keras"
    model.save(path)
    again = keras.saving.load_model(path)
    assert isinstance(again, heads.VAE2016) and again.epsilon_std == 0.25
    np.testing.assert_allclose(numpy(again.encoder(data)[1]), numpy(model.encoder(data)[1]), rtol=1e-6)


# ---- scoring with the KL of what is sampled ------------------------------------------------

def test_true_kl_is_the_kl_of_sigma_exp_h(data):
    model = small(heads.make_vae_2016)
    terms = heads.elbo_terms_2016(model, data, n_samples=2)
    z_mean, h = (numpy(t) for t in model.encoder(data))
    np.testing.assert_allclose(terms["true_kl"], numpy(vae_course.kl_sigma(z_mean, np.exp(h))), rtol=1e-5)
    np.testing.assert_allclose(terms["reported_kl"], numpy(vae_course.kl_log_var(z_mean, h)), rtol=1e-5)
    assert np.all(terms["true_kl"] >= terms["reported_kl"] - 1e-5)  # f(2h) >= f(h) for f(x) = e^x - 1 - x
    assert terms["reconstruction"].shape == (len(data),)


def test_epsilon_std_enters_the_true_kl(data):
    model = small(heads.make_vae_2016, epsilon_std=0.01)
    terms = heads.elbo_terms_2016(model, data, n_samples=2)
    z_mean, h = (numpy(t) for t in model.encoder(data))
    np.testing.assert_allclose(terms["true_kl"], numpy(vae_course.kl_sigma(z_mean, 0.01 * np.exp(h))), rtol=1e-5)
    assert terms["true_kl"].mean() > terms["reported_kl"].mean() + 3 * 3.0  # about log(1e4)/2 = 4.6 nats per dimension


def test_for_a_consistent_vae_the_two_kls_agree_and_match_negative_elbo(data):
    model = small(vae_course.make_vae)
    terms = heads.elbo_terms_2016(model, data, n_samples=3, seed=1)
    np.testing.assert_allclose(terms["true_kl"], terms["reported_kl"])
    ours = heads.true_negative_elbo(model, data, n_samples=3, seed=1, return_terms=True)
    reference = vae_course.negative_elbo(model, data, n_samples=3, seed=1, return_terms=True)
    np.testing.assert_allclose(ours, reference, rtol=1e-5)


def test_the_2016_terms_score_reconstruction_with_the_models_likelihood(data):
    """The same -log p(x | z) as vae_course.elbo_terms (the Binomial likelihood), not the textbook's BCE."""
    model = small(vae_course.make_vae)
    terms = heads.elbo_terms_2016(model, data, n_samples=3, seed=1)
    reconstruction, _ = vae_course.elbo_terms(model, data, n_samples=3, seed=1)
    np.testing.assert_allclose(terms["reconstruction"], reconstruction, rtol=1e-4)


def test_true_negative_elbo_of_the_2016_model_uses_the_true_kl(data):
    model = small(heads.make_vae_2016)
    value, reconstruction, kl = heads.true_negative_elbo(model, data, n_samples=2, seed=3, return_terms=True)
    terms = heads.elbo_terms_2016(model, data, n_samples=2, seed=3)
    assert kl == pytest.approx(terms["true_kl"].mean())
    assert reconstruction == pytest.approx(terms["reconstruction"].mean())
    assert value == pytest.approx(reconstruction + kl)
    assert heads.true_negative_elbo(model, data, n_samples=2, seed=3) == pytest.approx(value)


def test_posterior_scales(data):
    old, consistent = small(heads.make_vae_2016), small(vae_course.make_vae)
    actual, believed = heads.posterior_scales(old, data)
    np.testing.assert_allclose(actual, believed**2, rtol=1e-6)
    actual, believed = heads.posterior_scales(consistent, data)
    np.testing.assert_array_equal(actual, believed)
    assert actual.shape == (len(data), 3)


# ---- figures -------------------------------------------------------------------------------

def _labelled(fig):
    for ax in fig.axes:
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
        assert ax.get_legend() is not None


def test_figures_are_labelled():
    figures = [
        heads.plot_sigma_vs_head(),
        heads.plot_head_gradients(np.linspace(-10, 10, 101)),
        heads.plot_reported_vs_true_kl(np.array([1.0, 2.0]), np.array([2.0, 4.5])),
        heads.plot_learned_sigmas({"a": np.array([0.1, 0.2]), "b": np.array([0.5, 1.2])}),
        heads.plot_elbo_comparison({"x": (20.0, 2.0), "y": (19.0, 4.0)}),
    ]
    for fig in figures:
        _labelled(fig)
    plt.close("all")


def test_plots_draw_into_a_given_axes():
    fig, ax = plt.subplots()
    assert heads.plot_sigma_vs_head(ax=ax) is fig
    plt.close("all")
