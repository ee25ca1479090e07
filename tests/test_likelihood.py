"""The decoder's distribution (vae_course.vae.likelihood): normalised over the data's values, tied to the BCE."""

import math

import numpy as np
import pytest
from keras import ops
from scipy import stats

from vae_course import likelihood_for, load_dataset
from vae_course.vae.likelihood import LIKELIHOODS, Binomial, NotOnSupport, textbook_bce

DATASETS = sorted(LIKELIHOODS)
LOGITS = (-30.0, -4.0, -0.7, 0.0, 0.3, 2.5, 9.0, 30.0)


def to_np(tensor):
    return np.asarray(ops.convert_to_numpy(tensor), dtype=np.float64)


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("logit", LOGITS)
def test_one_pixel_sums_to_one_over_the_support(dataset, logit):
    """Is exp(log_prob) a probability over every value a pixel can take, whatever the logit?"""
    lik = likelihood_for(dataset)
    x = lik.support.reshape(-1, 1, 1)  # one 1x1 image per value
    logits = np.full_like(x, logit)
    log_p = to_np(lik.log_prob(x, logits))
    assert log_p.shape == (len(lik.support),)
    assert np.all(log_p <= 1e-6)
    # float32: log C(255, k) reaches 175, so the terms cancel to about 1e-5
    assert math.fsum(np.exp(log_p)) == pytest.approx(1.0, abs=1e-4)


def test_the_digits_are_binomial_16_and_fashion_mnist_binomial_255():
    digits, fashion = likelihood_for("digits"), likelihood_for("fashion_mnist")
    assert (digits.name, digits.trials, len(digits.support)) == ("binomial(16)", 16, 17)
    assert (fashion.name, fashion.trials, len(fashion.support)) == ("binomial(255)", 255, 256)
    np.testing.assert_array_equal(digits.support * 16, np.arange(17))


@pytest.mark.parametrize("dataset", DATASETS)
def test_log_prob_matches_scipy_summed_over_pixels(dataset):
    lik = likelihood_for(dataset)
    rng = np.random.default_rng(0)
    k = rng.integers(0, lik.trials + 1, size=(3, 4, 5))
    logits = rng.normal(0.0, 3.0, size=(3, 4, 5)).astype(np.float32)
    p = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
    expected = stats.binom.logpmf(k, lik.trials, p).reshape(3, -1).sum(axis=1)
    np.testing.assert_allclose(to_np(lik.log_prob(k / lik.trials, logits)), expected, rtol=1e-5, atol=1e-3)


def test_the_binomial_is_16_times_the_grey_level_bce_minus_log_choose():
    """-log Binomial(k; 16, p) = 16 * BCE(k / 16, p) - log C(16, k), pixel by pixel."""
    lik = likelihood_for("digits")
    k = np.arange(17, dtype=np.float32).reshape(-1, 1)
    for logit in LOGITS[1:-1]:
        logits = np.full_like(k, logit)
        nll = -to_np(lik.log_prob(k / 16, logits))
        bce = to_np(textbook_bce(k / 16, logits))
        log_choose = np.array([math.log(math.comb(16, int(j))) for j in k.ravel()])
        np.testing.assert_allclose(nll, 16 * bce - log_choose, rtol=1e-5, atol=1e-4)


def test_the_data_as_loaded_is_on_the_support():
    (x_train, _), (x_test, _) = load_dataset("digits")
    lik = likelihood_for("digits")
    lik.check(x_train)
    lik.check(x_test)
    assert set(np.unique(np.round(x_train * 16)).astype(int)) == set(range(17))


def test_mean_is_the_sigmoid_and_samples_stay_on_the_support():
    lik = likelihood_for("digits")
    logits = np.array([[-2.0, 0.0, 1.5]], dtype=np.float32)
    np.testing.assert_allclose(to_np(lik.mean(logits)), 1 / (1 + np.exp(-logits)), rtol=1e-6)
    draws = lik.sample(np.repeat(logits, 4000, axis=0), seed=1)
    lik.check(draws)
    np.testing.assert_allclose(draws.mean(axis=0), 1 / (1 + np.exp(-logits[0])), atol=0.01)
    np.testing.assert_array_equal(draws, lik.sample(np.repeat(logits, 4000, axis=0), seed=1))


def test_an_unknown_data_set_names_the_valid_ones():
    with pytest.raises(ValueError, match=r"'mnist'.*digits, fashion_mnist"):
        likelihood_for("mnist")


def test_none_means_the_default_data_set(monkeypatch):
    monkeypatch.delenv("VAE_COURSE_DATASET", raising=False)
    assert likelihood_for(None).dataset == "digits"
    monkeypatch.setenv("VAE_COURSE_DATASET", "fashion_mnist")
    assert likelihood_for(None).dataset == "fashion_mnist"


@pytest.mark.parametrize("value, message", [
    (0.3, r"not on the support of binomial\(16\).*e\.g\. 0\.3"),
    (1.0625, r"not on the support"),
    (-0.0625, r"not on the support"),
    (float("nan"), r"NaN"),
])
def test_values_off_the_support_are_refused_in_plain_words(value, message):
    lik = likelihood_for("digits")
    x = np.zeros((2, 8, 8), dtype=np.float32)
    x[1, 3, 4] = value
    with pytest.raises(NotOnSupport, match=message):
        lik.log_prob(x, np.zeros_like(x))


def test_float32_grey_levels_of_fashion_mnist_are_on_its_support():
    lik = likelihood_for("fashion_mnist")
    x = (np.arange(256, dtype=np.float32) / np.float32(255.0)).reshape(1, 16, 16)
    lik.check(x)
    with pytest.raises(NotOnSupport):
        lik.check(x + np.float32(0.5 / 255))


def test_a_likelihood_object_passes_through():
    lik = Binomial(16, "digits")
    assert likelihood_for(lik) is lik
    assert "binomial(16)" in repr(lik)
