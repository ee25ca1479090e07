"""vae_course.lessons.stability: the KL forms agree where float32 can hold sigma^2, and break exactly where float32
runs out."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

import vae_course
from vae_course import stability
from vae_course.checks import ____
from vae_course.exercises import yours_if_correct

LIMITS = stability.FLOAT32_LIMITS
VIA_SIGMA, PRINTED, PACKAGE = stability.FORMS


def test_float32_limits_are_the_logs_of_float32_extremes():
    f32 = np.finfo(np.float32)
    assert LIMITS["exp_overflows"] == pytest.approx(88.7228, abs=1e-4)
    assert LIMITS["subnormal"] == pytest.approx(-87.3365, abs=1e-4)
    assert np.exp(LIMITS["subnormal"]) == pytest.approx(float(f32.tiny), rel=1e-6)
    assert LIMITS["smallest_subnormal"] == pytest.approx(np.log(float(np.float32(1.4e-45))), abs=1e-3)
    assert LIMITS["underflows_to_zero"] == pytest.approx(-103.9721, abs=1e-4)


@pytest.mark.parametrize("form", list(stability.FORMS.values()) + [stability.clamped(-30, 20)])
def test_every_form_is_equation_17_4_in_the_safe_range(form):
    gammas = np.linspace(-20, 15, 71)
    kl, grad = stability.kl_and_gradient(form, gammas, mu=0.7)
    exact_kl = -0.5 * (1 + gammas - np.exp(gammas) - 0.49)
    exact_grad = 0.5 * (np.exp(gammas) - 1)
    np.testing.assert_allclose(kl, exact_kl, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(grad, exact_grad, rtol=1e-4, atol=1e-5)
    assert kl.dtype == np.float32 and kl.shape == grad.shape == gammas.shape


def test_17_3_via_sigma_is_the_package_kl_sigma():
    mu = np.array([[0.5, -1.0], [0.0, 2.0]], np.float32)
    log_var = np.array([[-1.0, 0.5], [2.0, -3.0]], np.float32)
    np.testing.assert_allclose(stability.kl_17_3_via_sigma(mu, log_var),
                               vae_course.kl_sigma(mu, np.exp(log_var / 2)), rtol=1e-6)
    np.testing.assert_allclose(stability.kl_17_4_plain(mu, log_var), vae_course.kl_log_var(mu, log_var), rtol=1e-5)


def test_scan_holds_every_form():
    scan = stability.scan_kl_forms(np.linspace(-120, 100, 221))
    assert set(scan.kl) == set(scan.grad) == set(stability.FORMS)
    assert scan.gammas.dtype == np.float32 and all(v.shape == (221,) for v in scan.kl.values())
    below = scan.gammas < -88
    assert np.all(np.isposinf(scan.kl[VIA_SIGMA][below])) and np.all(np.isneginf(scan.grad[VIA_SIGMA][below]))
    assert np.all(np.isfinite(scan.kl[PRINTED][below]))
    np.testing.assert_allclose(scan.grad[PACKAGE][below], -0.5)


def test_breakdown_points_match_the_float32_limits():
    rows = {(r.form, r.quantity, r.side): r for r in stability.breakdown_points()}
    assert len(rows) == 12
    for quantity in ("KL", "dKL/dγ"):
        low = rows[VIA_SIGMA, quantity, "low"].gamma
        # TensorFlow flushes subnormals on CPU (-87.34); without flushing it would be -103.97.
        assert min(abs(low - LIMITS["subnormal"]), abs(low - LIMITS["underflows_to_zero"])) < 1e-3
        for form in (PRINTED, PACKAGE):
            assert rows[form, quantity, "low"].gamma is None
            assert rows[form, quantity, "low"].kind == "finite"
        for form in stability.FORMS:
            assert rows[form, quantity, "high"].gamma == pytest.approx(LIMITS["exp_overflows"], abs=1e-3)
    assert rows[VIA_SIGMA, "KL", "low"].kind == "+inf"
    assert rows[VIA_SIGMA, "dKL/dγ", "low"].kind == "-inf"
    assert rows[VIA_SIGMA, "KL", "high"].kind == "NaN"
    assert rows[PRINTED, "KL", "high"].kind == "+inf"


def test_breakdown_table_reads_well():
    table = stability.breakdown_table(stability.breakdown_points(low=-120, high=100))
    lines = table.splitlines()
    assert len(lines) == 1 + 2 * len(stability.FORMS)
    assert "NaN from 88.72" in table and "finite" in table and "+inf from 88.72" in table


def test_clamped_form_is_finite_with_zero_gradient_outside():
    gammas = np.linspace(-120, 100, 2201)
    kl, grad = stability.kl_and_gradient(stability.clamped(-30, 20), gammas)
    assert np.all(np.isfinite(kl)) and np.all(np.isfinite(grad))
    outside = (gammas < -30) | (gammas > 20)
    assert np.all(grad[outside] == 0)
    assert kl[-1] == pytest.approx(0.5 * (np.exp(20.0) - 21), rel=1e-5)


def test_first_gamma_where_walks_and_zooms():
    assert stability.first_gamma_where(lambda g: g < -3.3, 0.0, -10.0) == pytest.approx(-3.3, abs=1e-5)
    assert stability.first_gamma_where(lambda g: g > 7.25, 0.0, 10.0) == pytest.approx(7.25, abs=1e-5)
    assert stability.first_gamma_where(lambda g: g < -30, 0.0, -10.0) is None
    assert stability.first_gamma_where(lambda g: np.ones_like(g, bool), 0.0, -10.0) == 0.0


def test_reference_answer_of_the_exercise():
    lesson_grid = np.linspace(0, -120, 1201, dtype=np.float32)
    assert stability.first_gamma_where_17_3_breaks(lesson_grid, "numpy") == pytest.approx(-104.0, abs=1e-4)
    assert stability.first_gamma_where_17_3_breaks(lesson_grid) in (pytest.approx(-87.4, abs=1e-4),
                                                                     pytest.approx(-104.0, abs=1e-4))
    safe = np.linspace(0, -80, 41)
    assert stability.first_gamma_where_17_3_breaks(safe) is None
    assert stability.first_gamma_where_17_3_breaks(safe, "numpy") is None
    with pytest.raises(ValueError, match="backend"):
        stability.first_gamma_where_17_3_breaks(safe, "jax")


def test_underflow_points_and_lost_digits():
    points = stability.underflow_points()
    assert points["subnormal"] == pytest.approx(LIMITS["subnormal"], abs=1e-3)
    assert points["zero_numpy"] == pytest.approx(LIMITS["underflows_to_zero"], abs=1e-3)
    assert points["zero_tensorflow"] in (points["subnormal"], points["zero_numpy"])
    error = stability.log_sigma_squared_error(np.array([-50.0, -100.0, -103.5, -110.0], np.float32))
    assert error[0] < 1e-5 < error[1] < 0.1 < error[2] and np.isinf(error[3])
    with pytest.raises(ValueError, match="backend"):
        stability.sigma_squared_float32([0.0], "torch")


def test_describe_gamma_names_each_form():
    text = stability.describe_gamma(-90.0)
    assert "TensorFlow" in text and "NumPy 8.194e-40" in text
    assert f"{VIA_SIGMA}: KL = inf" in text and f"{PRINTED}: KL = 44.5, dKL/dγ = -0.5" in text


def test_figures_have_labelled_axes():
    scan = stability.scan_kl_forms(np.linspace(-120, 100, 221))
    fig = stability.plot_kl_forms(scan, stability.breakdown_points())
    for ax in fig.axes:
        assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    assert fig.axes[0].get_legend() is not None
    fig2 = stability.plot_underflow(np.linspace(-110, -80, 301))
    fig3 = stability.plot_standardized_noise({"a": np.random.default_rng(0).normal(size=500)})
    for f in (fig2, fig3):
        assert all(ax.get_xlabel() and ax.get_ylabel() for ax in f.axes)
    plt.close("all")


def test_gamma_explorer_updates_its_readout():
    explorer = stability.gamma_explorer(value=-90.0)
    slider, readout = explorer.children
    assert "KL = inf" in readout.value
    slider.value = -10.0
    assert "KL = inf" not in readout.value and "γ = -10" in readout.value


def test_yours_if_correct_falls_back_with_a_note(capsys):
    assert yours_if_correct("kl_log_var", vae_course.kl_log_var, None) is vae_course.kl_log_var
    assert yours_if_correct("kl_log_var", ____, vae_course.kl_log_var) is vae_course.kl_log_var
    assert "use `vae_course.kl_log_var` instead" in capsys.readouterr().out
    assert yours_if_correct("sampling_layer", ____, vae_course.Sampling, what="`Sampling` layer") \
        is vae_course.Sampling
    assert "Your `Sampling` layer does not pass" in capsys.readouterr().out
