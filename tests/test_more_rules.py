"""Compiled gradients through the rules of ``adcompile.rules_more``, and their conventions.

``test_rules.py`` checks each rule on its own and compiles the calls without literal parameters. Here:

* every sample call with literal parameters (``np.convolve(a, v, mode="same")``, ``np.nanvar(x, ddof=1)``),
  compiled from source written out for it, specialised and generic;
* the conventions at NaN, at interp's sample points and outside its range, against closed forms;
* which conversions return a new array (writing into ``np.array(x)`` is allowed, into ``np.asarray(x)`` not);
* what is not supported is refused rather than differentiated wrongly.
"""

from __future__ import annotations

import array_samples as X
import numpy as np
import pytest
from fd import numeric_grad
from test_rules import ATOL, RTOL

import adcompile
import adcompile.api
from adcompile import AdCompileError, NonDifferentiableError, grad


@pytest.fixture(params=["specialised", "generic"])
def code(request, monkeypatch):
    """Which adjoint ``grad`` runs: the one specialised to the arguments' shapes, or the shape-agnostic one."""
    if request.param == "generic":
        monkeypatch.setattr(adcompile.api, "MAX_SPECIALISATIONS", 0)
    return request.param


# Every sample with literal parameters is compiled and checked by tests/test_array_rules.py.


# ── conventions, against closed forms ────────────────────────────────────────────────────────────────

WITH_NAN = np.array([[1.5, np.nan, -0.5, 2.0], [np.nan, 0.5, 0.0, -1.0]])


def nan_everything(x):
    return np.sum(np.nanprod(x, axis=1)) + np.nanvar(x) + np.nanstd(x, ddof=1) + np.sum(np.nancumsum(x))


def test_nan_elements_get_a_zero_gradient(code):
    got = grad(nan_everything)(WITH_NAN)
    assert np.all(got[np.isnan(WITH_NAN)] == 0.0)
    assert np.all(np.isfinite(got))
    clean = np.where(np.isnan(WITH_NAN), 0.0, WITH_NAN)  # away from the NaNs, finite differences apply
    expected = numeric_grad(lambda v: nan_everything(np.where(np.isnan(WITH_NAN), np.nan, v)), (clean,), 0)
    np.testing.assert_allclose(got, np.where(np.isnan(WITH_NAN), 0.0, expected), rtol=RTOL, atol=ATOL)


def nancumprod_sum(x):
    return np.sum(np.nancumprod(x))


def test_nancumprod_with_a_zero_and_nan_is_exact():
    x = np.array([2.0, np.nan, 0.0, 3.0])
    # running products 2, 2, 0, 0: by x0 1, 1, 0, 0; by the zero 2 + 2 * 3; by 3 nothing (0 before it)
    np.testing.assert_array_equal(grad(nancumprod_sum)(x), [2.0, 0.0, 8.0, 0.0])


XP = np.array([0.0, 1.0, 3.0])
FP = np.array([1.0, 3.0, 2.0])  # slopes 2 and -0.5
POINTS = np.array([-1.0, 0.5, 1.0, 4.0])


def interp_of(x):
    return np.sum(np.interp(x, XP, FP))


def interp_by_fp(fp):
    return np.sum(np.interp(POINTS, XP, fp))


def interp_by_fp_with_bounds(fp):
    return np.sum(np.interp(POINTS, XP, fp, left=0.0, right=0.0))


def test_interp_slope_is_that_of_the_segment_to_the_right_and_zero_outside(code):
    # below, the first sample point, inside, the middle sample point (right segment), the last one, above
    x = np.array([-1.0, 0.0, 0.5, 1.0, 3.0, 4.0])
    np.testing.assert_array_equal(grad(interp_of)(x), [0.0, 2.0, 2.0, -0.5, -0.5, 0.0])


def test_interp_weights_by_fp_include_the_constant_ends_unless_given(code):
    # x = -1 takes fp[0]; 0.5 is half fp[0], half fp[1]; 1.0 is fp[1]; 4 takes fp[-1]
    np.testing.assert_array_equal(grad(interp_by_fp)(FP), [1.5, 1.5, 1.0])
    np.testing.assert_array_equal(grad(interp_by_fp_with_bounds)(FP), [0.5, 1.5, 0.0])


# ── which conversions make a new array ───────────────────────────────────────────────────────────────


def write_into_copy(x):
    y = np.array(x)
    y[0] = 0.0
    return np.sum(y * x)


def write_into_asarray(x):
    y = np.asarray(x)
    y[0] = 0.0
    return np.sum(y * x)


def test_np_array_is_a_new_array_that_may_be_written():
    x = X.V3.copy()
    np.testing.assert_allclose(grad(write_into_copy)(x), [0.0, 2 * x[1], 2 * x[2]])
    np.testing.assert_array_equal(x, X.V3)  # the argument is untouched


def test_np_asarray_may_be_the_argument_so_writing_into_it_is_refused():
    with pytest.raises(AdCompileError):
        grad(write_into_asarray)(X.V3.copy())


def twice_copied(x):
    a = np.array(x)
    b = np.array(x)
    a[0] = 5.0
    return np.sum(a * b)


def test_two_copies_are_two_arrays():
    np.testing.assert_allclose(grad(twice_copied)(X.V3), [5.0, 2 * X.V3[1], 2 * X.V3[2]])


# ── refused ──────────────────────────────────────────────────────────────────────────────────────────


def trapezoid_by_x(x):
    return np.trapezoid(np.sin(x), x)


def interp_with_period(x):
    return np.sum(np.interp(x, XP, FP, period=3.0))


def interp_by_xp(xp):
    return np.sum(np.interp(POINTS, xp, FP))


def cov_of_columns(m):
    return np.sum(np.cov(m, rowvar=False))


def cov_of_vector(v):
    return np.cov(v)


@pytest.mark.parametrize(
    "f, x",
    [
        (trapezoid_by_x, X.V5),
        (interp_by_xp, XP),
        (cov_of_columns, X.M34),
        (interp_with_period, X.V3),
    ],
    ids=["trapezoid by x", "interp by xp", "cov rowvar=False", "interp period="],
)
def test_unsupported_forms_are_refused(f, x):
    with pytest.raises(AdCompileError):
        grad(f)(x)


def test_cov_of_a_vector_is_refused():
    with pytest.raises(AdCompileError, match="2-D"):
        grad(cov_of_vector)(X.V5)


def as_int(x):
    return np.sum(np.array(x, dtype="int64"))


def test_np_array_with_a_dtype_is_not_silently_the_identity():
    with pytest.raises(NonDifferentiableError):
        grad(as_int)(X.V3)


def vecdot_front_axis(a, b):
    return np.sum(np.vecdot(a, b, axis=0))


def test_vecdot_along_a_front_axis_of_operands_of_different_dimensions(code):
    a, b = X.draw(2, 3, 4, seed=1), X.draw(2, 4, seed=2)  # the axis of length 2 in each; (3, 4) and (4,) broadcast
    got = grad(vecdot_front_axis, argnums=(0, 1))(a, b)
    for i in (0, 1):
        np.testing.assert_allclose(got[i], numeric_grad(vecdot_front_axis, (a, b), i), rtol=RTOL, atol=ATOL)


def test_full_convolution_adjoint_is_plain_numpy():
    source = adcompile.derivative_source(convolved, args=(X.V5, X.V3))
    assert "unmode" not in source and "np.correlate(" in source


def convolved(a, v):
    return np.sum(np.convolve(a, v) ** 2)


# ── x.dtype: a value that only steers ─────────────────────────────────────────────────────────────────


def with_its_dtype(x):
    y = np.zeros(3, dtype=x.dtype)
    y[0] = x[0] * 2.0
    ones = np.ones_like(x, dtype=x.dtype)
    return np.sum(y * x) + np.sum(ones * x) if x.dtype == y.dtype else 0.0


def cast_to_its_own_dtype(x):
    return np.sum(x.astype(x.dtype) ** 2)


@pytest.mark.parametrize("generic", [False, True])
def test_dtype_can_be_passed_and_compared_and_has_no_derivative(generic, monkeypatch):
    if generic:
        monkeypatch.setattr(adcompile.api, "MAX_SPECIALISATIONS", 0)
    for x in (np.array([0.5, 1.0, 2.0]), np.array([0.5, 1.0, 2.0], dtype=np.float32)):
        got = adcompile.grad(with_its_dtype)(x)
        assert got.dtype == x.dtype
        np.testing.assert_allclose(got, [4 * 0.5 + 1.0, 1.0, 1.0], rtol=1e-6)  # 2 x0² + Σx


def test_a_cast_to_a_dtype_read_at_run_time_is_refused_with_a_hint():
    with pytest.raises(adcompile.UnsupportedSyntaxError, match="named directly") as e:
        adcompile.grad(cast_to_its_own_dtype)(np.ones(3))
    assert "x.copy()" in e.value.hint
