"""vae_course.lessons.further: the lesson 09 helpers (log-mean-exp, per-dimension KL, active units, free bits, the
bound)."""

import keras
import matplotlib
import numpy as np
import pytest
from keras import ops
from scipy.special import logsumexp

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import vae_course  # noqa: E402
from vae_course import further  # noqa: E402
from vae_course.vae.elbo import elbo_terms, importance_log_weights  # noqa: E402

# ---- the reference answers -----------------------------------------------------------------------------------


def test_log_mean_exp_matches_scipy_along_either_axis():
    a = np.random.default_rng(0).normal(-30, 3, size=(7, 4))
    for axis in (0, 1, -1):
        expected = logsumexp(a, axis=axis) - np.log(a.shape[axis])
        np.testing.assert_allclose(further.log_mean_exp(a, axis=axis), expected, rtol=1e-12)


def test_log_mean_exp_is_stable_and_shifts_with_its_input():
    a = np.random.default_rng(1).normal(-30, 3, size=(50, 3))
    base = further.log_mean_exp(a)
    for shift in (-1000.0, 1000.0, -1e5):
        np.testing.assert_allclose(further.log_mean_exp(a + shift), base + shift, rtol=1e-12)
    mixed = a + np.array([-1000.0, 1000.0, 0.0])
    np.testing.assert_allclose(further.log_mean_exp(mixed), base + np.array([-1000.0, 1000.0, 0.0]), rtol=1e-12)


def test_log_mean_exp_edge_cases():
    assert further.log_mean_exp(np.full((3, 1), -np.inf))[0] == -np.inf  # all weights zero: log 0, not NaN
    assert further.log_mean_exp(np.array([2.0, 2.0, 2.0])) == pytest.approx(2.0)  # equal weights: their log
    assert further.log_mean_exp(ops.convert_to_tensor([[0.0], [np.log(3.0)]]))[0] == pytest.approx(np.log(2.0))


def test_per_dimension_kl_adds_up_to_the_kl_term():
    rng = np.random.default_rng(2)
    z_mean, z_log_var = rng.normal(size=(20, 5)), rng.normal(-1, 1, size=(20, 5))
    per_dim = further.per_dimension_kl(z_mean, z_log_var)
    assert per_dim.shape == (5,)
    assert np.all(per_dim >= 0)
    total = np.mean(ops.convert_to_numpy(vae_course.kl_log_var(z_mean, z_log_var)))
    assert per_dim.sum() == pytest.approx(total, rel=1e-6)


def test_per_dimension_kl_is_zero_at_the_prior_and_exact_near_it():
    assert np.all(further.per_dimension_kl(np.zeros((4, 3)), np.zeros((4, 3))) == 0)
    gamma = np.full((1, 1), 1e-6)
    assert further.per_dimension_kl(np.zeros((1, 1)), gamma)[0] == pytest.approx(0.25 * 1e-12, rel=1e-6)


def test_activity_and_active_units():
    signs = np.where(np.arange(10) % 2 == 0, 1.0, -1.0)
    z_mean = np.stack([signs, 0.05 * signs, np.zeros(10), 0.2 * signs], axis=1)
    np.testing.assert_allclose(further.activity(z_mean), [1.0, 0.0025, 0.0, 0.04])
    assert further.active_units(z_mean) == 2
    assert further.active_units(z_mean, threshold=0.0) == 3  # strictly above: a constant dimension never counts
    assert further.active_units(z_mean, threshold=2.0) == 0
    assert isinstance(further.active_units(z_mean), int)


# ---- training, free bits and the bound -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data():
    (x_train, _), (x_test, _) = vae_course.load_dataset("digits")
    return x_train[:300], x_test[:40]


@pytest.fixture(scope="module")
def small_vae(data):
    x_train, _ = data
    return further.train_vae(x_train, beta=1.0, latent_dim=3, hidden=(16,), epochs=2, progress=False)


def test_train_vae_prints_a_title_and_progress_without_timings(data, capsys):
    x_train, _ = data
    vae = further.train_vae(x_train, beta=4.0, free_bits=0.5, latent_dim=3, hidden=(16,), epochs=2)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "β = 4, free bits 0.5: latent_dim 3, 2 epochs"
    assert [line.split()[1] for line in lines[1:]] == ["1/2", "2/2"]
    assert not any(" s " in line or "left" in line for line in lines)
    assert isinstance(vae, further.FreeBitsVAE) and vae.beta == 4.0 and vae.free_bits == 0.5


def test_train_vae_is_repeatable(data, small_vae):
    x_train, _ = data
    again = further.train_vae(x_train, beta=1.0, latent_dim=3, hidden=(16,), epochs=2, progress=False)
    for a, b in zip(small_vae.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_free_bits_penalty_is_the_clamped_per_dimension_kl(data):
    x_train, _ = data
    keras.utils.set_random_seed(0)
    vae = further.make_free_bits_vae((8, 8), latent_dim=3, hidden=(16,), beta=2.0, free_bits=0.7, seed=0)
    total, reconstruction, kl = (float(t) for t in vae.compute_losses(x_train[:64]))
    per_dim = further.per_dimension_kl(*further.encode(vae, x_train[:64]))
    assert kl == pytest.approx(per_dim.sum(), rel=1e-4)
    assert total - reconstruction == pytest.approx(2.0 * np.maximum(per_dim, 0.7).sum(), rel=1e-4)


def test_free_bits_vae_saves_and_reloads(tmp_path):
    keras.utils.set_random_seed(0)
    vae = further.make_free_bits_vae((8, 8), latent_dim=2, hidden=(8,), beta=3.0, free_bits=0.25, seed=1)
    path = tmp_path / "free_bits.keras"
    vae.save(path)
    reloaded = keras.saving.load_model(path)
    assert isinstance(reloaded, further.FreeBitsVAE)
    assert (reloaded.beta, reloaded.free_bits) == (3.0, 0.25)


def test_log_weights_regroups_the_same_independent_draws(data, small_vae):
    _, x = data
    n = len(x)
    grouped = further.log_weights(small_vae, x, k=6, seed=3, copies=3)
    raw = importance_log_weights(small_vae, np.concatenate([x] * 3), 2, seed=3)  # (2, 3n)
    assert grouped.shape == (6, n)
    for r in range(2):
        for c in range(3):
            np.testing.assert_array_equal(grouped[r * 3 + c], raw[r, c * n : (c + 1) * n])
    np.testing.assert_array_equal(further.log_weights(small_vae, x, k=4, seed=3, copies=1),
                                  importance_log_weights(small_vae, x, 4, seed=3))
    with pytest.raises(ValueError, match="multiple of copies"):
        further.log_weights(small_vae, x, k=15, copies=10)


def test_bound_curve_tightens_and_starts_at_the_mean_log_weight(data, small_vae):
    _, x = data
    log_w = further.log_weights(small_vae, x, k=100, seed=0)
    ks = [1, 10, 100]
    values = further.bound_curve(log_w, ks)
    assert values[0] == pytest.approx(-log_w.mean())
    assert values[-1] == pytest.approx(-further.log_mean_exp(log_w).mean())
    # Each group of 10k draws is the union of 10 groups of k, and log of a mean >= mean of logs: never looser.
    assert values[0] >= values[1] >= values[2]
    assert values[0] == pytest.approx(vae_course.negative_elbo(small_vae, x, n_samples=50), rel=0.02)
    with pytest.raises(ValueError, match="between 1 and 100"):
        further.bound_curve(log_w, [1000])


def test_bound_curve_uses_the_given_function():
    calls = []

    def spy(a, axis=0):
        calls.append((a.shape, axis))
        return further.log_mean_exp(a, axis=axis)

    further.bound_curve(np.zeros((20, 3)), [1, 4, 20], log_mean_exp=spy)
    assert calls == [((1, 60), 0), ((4, 15), 0), ((20, 3), 0)]


def test_rate_distortion_are_the_two_elbo_terms(data, small_vae):
    _, x = data
    points = further.rate_distortion({"a": small_vae}, x)
    reconstruction, kl = elbo_terms(small_vae, x)
    assert points["a"] == pytest.approx((reconstruction.mean(), kl.mean()))


# ---- figures ---------------------------------------------------------------------------------------------------


def test_figures_have_titles_and_labelled_axes(data, small_vae):
    _, x = data
    figures = [
        further.plot_bound([1, 10, 100], [25.0, 24.5, 24.3], negative_elbo=25.0),
        further.plot_rate_distortion({0.25: (18.0, 8.0), 1.0: (21.0, 3.0), 4.0: (26.5, 0.0)}),
        further.plot_per_dimension_kl({1.0: [0.5, 0.0, 1.0]}, {1.0: [0.4, 0.001, 0.9]}, free_bits=0.5),
        further.plot_per_dimension_kl({"a": [0.5, 0.0, 1.0], "b": [0.1, 0.2, 0.3]}),
        further.plot_activity({0.25: [1.0, 0.02, 0.0], 4.0: [1e-4, 0.0, 0.0]}),
    ]
    for fig in figures:
        assert fig._suptitle is not None or fig.axes[0].get_title()
        assert fig.axes[0].get_xlabel() and fig.axes[0].get_ylabel()
        plt.close(fig)
    gallery = further.plot_beta_gallery({1.0: small_vae, 2.0: small_vae}, x, n=4)
    assert len(gallery.axes) == (1 + 2 * 2) * 4
    assert gallery.axes[0].get_ylabel() == "original"
    plt.close(gallery)
