"""Property-based tests: the maths stays finite over wide ranges, and no checker ever raises."""

import inspect

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import vae_course
from vae_course.checks import REGISTRY
from vae_course.checks.results import LABELS

BIG = float(np.float32(1e30))
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def matrices(dtype, low, high):
    shapes = st.tuples(st.integers(1, 64), st.integers(1, 300))
    elements = st.floats(low, high, width=dtype().itemsize * 8)
    return shapes.flatmap(lambda shape: hnp.arrays(dtype, shape, elements=elements))


@FAST
@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]))
def test_kl_log_var_finite_and_non_negative(data, dtype):
    log_var = data.draw(matrices(dtype, -30, 30))
    mu = data.draw(hnp.arrays(dtype, log_var.shape, elements=st.floats(-1e3, 1e3, width=dtype().itemsize * 8)))
    kl = np.asarray(vae_course.kl_log_var(mu, log_var))
    assert kl.shape == (log_var.shape[0],)
    assert np.all(np.isfinite(kl)) and np.all(kl >= 0)


@FAST
@given(data=st.data())
def test_kl_forms_agree_where_sigma_is_representable(data):
    log_var = data.draw(matrices(np.float64, -30, 30))
    mu = data.draw(hnp.arrays(np.float64, log_var.shape, elements=st.floats(-50, 50)))
    by_gamma = np.asarray(vae_course.kl_log_var(mu, log_var))
    by_sigma = np.asarray(vae_course.kl_sigma(mu, np.exp(log_var / 2)))
    np.testing.assert_allclose(by_sigma, by_gamma, rtol=1e-9, atol=1e-9)


@FAST
@given(data=st.data())
def test_sampling_never_produces_nan_for_finite_inputs(data):
    log_var = data.draw(matrices(np.float32, -1e4, 1e4))
    mean = data.draw(hnp.arrays(np.float32, log_var.shape, elements=st.floats(-BIG, BIG, width=32)))
    z = np.asarray(vae_course.Sampling(seed=0)([mean, log_var]))
    assert z.shape == mean.shape and not np.isnan(z).any()


# ---- every checker returns a result, whatever it is given ----------------------------------

class Boom(Exception):
    pass


def wrong_answers():
    """Random wrong answers: values of many kinds, and functions returning them or raising."""
    arrays = hnp.arrays(
        st.sampled_from([np.float32, np.float64, np.int32, np.bool_]),
        hnp.array_shapes(min_dims=0, max_dims=3, max_side=5),
    )
    values = st.one_of(
        st.none(), st.integers(), st.floats(allow_nan=True), st.text(max_size=5),
        st.lists(st.floats(allow_nan=True), max_size=4),
        st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
        arrays, st.just(float("nan")), st.just(np.full((4,), np.nan)),
    )
    exceptions = st.sampled_from([ValueError, TypeError, ZeroDivisionError, Boom, KeyError, MemoryError])
    functions = st.one_of(
        values.map(lambda v: (lambda *args, **kwargs: v)),
        exceptions.map(lambda exc: (lambda *args, **kwargs: (_ for _ in ()).throw(exc("learner bug")))),
    )
    return st.one_of(values, functions)


@pytest.mark.parametrize("name", sorted(REGISTRY))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_checkers_never_raise(name, data):
    exercise = REGISTRY[name]
    arity = len([p for p in inspect.signature(exercise.checker).parameters.values()
                 if p.default is inspect.Parameter.empty])
    args = [data.draw(wrong_answers()) for _ in range(arity)]
    with np.errstate(all="ignore"):
        result = exercise.check(*args)
    assert result.status in LABELS and result.message
    assert result.status != "correct" or name.startswith("welcome") or _judged_prediction(name, args)


def _judged_prediction(name, args):
    """Random junk is never right (bar luck), except where a prediction checker was handed a finite number as the
    guess: its other arguments are the measurements, drawn here too, so guess 0 against a measured 0 is right by
    design. Any other guess (text, lists, arrays, yes/no, NaN, functions) must still never be judged correct."""
    guess = args[0] if args else None
    return (name.startswith("predict") and isinstance(guess, (int, float, np.integer, np.floating))
            and not isinstance(guess, (bool, np.bool_)) and np.isfinite(float(guess)))


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_slow_learner_code_is_stopped(name, monkeypatch):
    import time

    exercise = REGISTRY[name]
    monkeypatch.setattr(exercise, "time_limit", 0.05)  # 28 exercises: every one waits this long for `slow`
    arity = len([p for p in inspect.signature(exercise.checker).parameters.values()
                 if p.default is inspect.Parameter.empty])

    def slow(*args, **kwargs):
        time.sleep(5)

    start = time.perf_counter()
    result = exercise.check(*([slow] * arity))
    assert time.perf_counter() - start < 4
    assert result.status in LABELS and result.message
