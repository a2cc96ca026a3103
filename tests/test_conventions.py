"""Derivatives where finite differences cannot judge: ties, exact zeros, NaN and the removable singularity of sinc.

Each case is checked against the closed form of the documented convention (docs/design.md, "Rules are data"):

* where operands of np.maximum/np.minimum/np.clip tie, or several elements tie for np.max/np.min/np.median, the
  derivative is shared equally among the tied ones (as in JAX), so the total is still the one-sided derivative;
* np.prod and np.cumprod are exact with zeros: the derivative by a factor is the product of the other factors.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from fd import numeric_grad

import adcompile
import adcompile.api
from adcompile.primitives import lookup


@pytest.fixture(params=["specialised", "generic"], autouse=True)
def code(request, monkeypatch):
    """Both adjoints ``grad`` can run: specialised to the arguments' shapes, and the shape-agnostic one."""
    if request.param == "generic":
        monkeypatch.setattr(adcompile.api, "MAX_SPECIALISATIONS", 0)
    return request.param


W4 = np.array([0.3, -1.2, 2.0, 0.7])


def alone(P):
    """``f(x) = P(x)``: grad reads Python functions, and NumPy's are not written in Python."""

    def f(x):
        return P(x)

    return f


def weighted(P):
    def f(x, w):
        return np.sum(P(x) * w)

    return f


# ── np.maximum, np.minimum, np.clip: tied operands share the derivative ─────────────────────────────


def max_of_pair(x, y, w):
    return np.sum(np.maximum(x, y) * w)


def min_of_pair(x, y, w):
    return np.sum(np.minimum(x, y) * w)


def max_of_same(x, w):
    return np.sum(np.maximum(x, x) * w)


def relu(x, w):
    return np.sum(np.maximum(x, 0.0) * w)


def test_tied_operands_of_maximum_and_minimum_get_half_each():
    x, y = np.array([1.0, 2.0, -3.0, 0.5]), np.array([1.0, 1.0, -3.0, 0.75])
    half_at_ties = np.array([0.5, 1.0, 0.5, 0.0])
    for f in (max_of_pair, min_of_pair):
        bx, by = adcompile.grad(f, argnums=(0, 1))(x, y, W4)
        mine = half_at_ties if f is max_of_pair else np.array([0.5, 0.0, 0.5, 1.0])
        np.testing.assert_array_equal(bx, mine * W4)
        np.testing.assert_array_equal(by, (1 - mine) * W4)


def test_maximum_of_a_value_with_itself_has_derivative_one():
    x = np.array([1.0, -2.0, 0.0, 3.5])
    np.testing.assert_array_equal(adcompile.grad(max_of_same)(x, W4), W4)


def test_relu_at_zero_gets_half():
    x = np.array([-1.0, 0.0, 2.0, 0.0])
    np.testing.assert_array_equal(adcompile.grad(relu)(x, W4), np.array([0.0, 0.5, 1.0, 0.5]) * W4)


def fmax_of_pair(x, y, w):
    return np.sum(np.fmax(x, y) * w)


def test_fmax_passes_the_derivative_to_the_operand_that_is_not_nan():
    x, y = np.array([np.nan, 2.0, 1.0, 3.0]), np.array([1.0, np.nan, 1.0, 0.0])
    bx, by = adcompile.grad(fmax_of_pair, argnums=(0, 1))(x, y, W4)
    np.testing.assert_array_equal(bx, np.array([0.0, 1.0, 0.5, 1.0]) * W4)
    np.testing.assert_array_equal(by, np.array([1.0, 0.0, 0.5, 0.0]) * W4)


def clip_literal(x, w):
    return np.sum(np.clip(x, -0.5, 0.7) * w)


def clip_operands(x, lo, hi, w):
    return np.sum(np.clip(x, lo, hi) * w)


def test_clip_at_a_literal_bound_gets_half():
    x = np.array([-0.5, 0.2, 0.7, 1.0])
    np.testing.assert_array_equal(adcompile.grad(clip_literal)(x, W4), np.array([0.5, 1.0, 0.5, 0.0]) * W4)


@pytest.mark.parametrize(
    "x, lo, hi, expected",
    [
        (-0.5, -0.5, 0.7, (0.5, 0.5, 0.0)),  # at the lower bound: x and lo share
        (0.7, -0.5, 0.7, (0.5, 0.0, 0.5)),  # at the upper bound: x and hi share
        (0.3, 0.3, 0.3, (0.25, 0.25, 0.5)),  # minimum(maximum(x, lo), hi) with everything tied
        (0.9, 0.3, 0.3, (0.0, 0.0, 1.0)),  # lo == hi < x: the result is hi, whatever lo does
        (0.0, 1.0, -1.0, (0.0, 0.0, 1.0)),  # lo > hi: the result is hi
        (0.1, -1.0, 1.0, (1.0, 0.0, 0.0)),
    ],
)
def test_clip_is_the_composition_of_maximum_and_minimum(x, lo, hi, expected):
    got = adcompile.grad(clip_operands, argnums=(0, 1, 2))(x, lo, hi, 2.0)
    assert got == pytest.approx(tuple(2.0 * e for e in expected), abs=0)


# ── max, min, ptp and median of ties ────────────────────────────────────────────────────────────────


def test_max_and_min_share_the_adjoint_among_tied_elements():
    x = np.array([1.0, 3.0, 3.0, -2.0])
    for P, expected in (
        (np.max, [0, 0.5, 0.5, 0]),
        (np.amax, [0, 0.5, 0.5, 0]),
        (np.nanmax, [0, 0.5, 0.5, 0]),
        (np.min, [0, 0, 0, 1]),
        (np.amin, [0, 0, 0, 1]),
    ):
        np.testing.assert_array_equal(adcompile.grad(alone(P))(x), expected, err_msg=P.__name__)


def max_along_rows(x, w):
    return np.sum(np.max(x, axis=1) * w)


def min_along_columns_keepdims(x, w):
    return np.sum(np.min(x, axis=0, keepdims=True) * w)


def test_ties_are_shared_within_each_reduced_line():
    x = np.array([[2.0, 2.0, 2.0], [1.0, 5.0, 5.0]])
    w = np.array([3.0, -1.0])
    expected = np.array([[1.0, 1.0, 1.0], [0.0, -0.5, -0.5]])
    np.testing.assert_allclose(adcompile.grad(max_along_rows)(x, w), expected, rtol=1e-15)
    wk = np.array([[1.0, 2.0, 4.0]])
    expected = np.array([[0.0, 2.0, 4.0], [1.0, 0.0, 0.0]])
    np.testing.assert_allclose(adcompile.grad(min_along_columns_keepdims)(x, wk), expected, rtol=1e-15)


def nanmax_with_ties(x, w):
    return np.sum(np.nanmax(x, axis=1) * w)


def test_nanmax_ignores_nan_and_shares_ties():
    x = np.array([[np.nan, 2.0, 2.0], [1.0, np.nan, 0.0]])
    got = adcompile.grad(nanmax_with_ties)(x, np.array([1.0, 1.0]))
    np.testing.assert_array_equal(got, [[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]])


def test_ptp_of_ties_and_of_a_constant():
    np.testing.assert_array_equal(adcompile.grad(alone(np.ptp))(np.array([1.0, 3.0, 3.0, 1.0])), [-0.5, 0.5, 0.5, -0.5])
    np.testing.assert_array_equal(adcompile.grad(alone(np.ptp))(np.array([2.0, 2.0, 2.0])), [0.0, 0.0, 0.0])


@pytest.mark.parametrize(
    "x, expected",
    [
        ([3.0, 1.0, 2.0], [0, 0, 1]),  # odd: the middle element
        ([4.0, 1.0, 3.0, 2.0], [0, 0, 0.5, 0.5]),  # even: the mean of the middle pair
        ([1.0, 2.0, 2.0, 5.0], [0, 0.5, 0.5, 0]),  # a tied middle pair
        ([2.0, 2.0, 2.0, 4.0], [1 / 3, 1 / 3, 1 / 3, 0]),  # three tie for the middle pair
        ([2.0, 7.0, 2.0, 2.0, 0.0], [1 / 3, 0, 1 / 3, 1 / 3, 0]),  # three tie for the middle element
    ],
)
def test_median_shares_each_half_among_elements_equal_to_it(x, expected):
    np.testing.assert_allclose(adcompile.grad(alone(np.median))(np.array(x)), expected, rtol=1e-15)


def median_along_rows(x, w):
    return np.sum(np.median(x, axis=1) * w)


def test_median_along_an_axis_of_even_and_odd_length():
    x = np.array([[4.0, 1.0, 3.0, 2.0], [1.0, 1.0, 9.0, 9.0]])  # the 1s tie for the lower middle element
    got = adcompile.grad(median_along_rows)(x, np.array([2.0, 1.0]))
    np.testing.assert_allclose(got, [[0, 0, 1, 1], [0.25, 0.25, 0.25, 0.25]], rtol=1e-15)
    got = adcompile.grad(median_along_rows)(x[:, :3].T.copy(), np.array([1.0, 1.0, 1.0]))  # pairs: each gets half
    np.testing.assert_allclose(got, np.full((3, 2), 0.5), rtol=1e-15)


# ── np.prod and np.cumprod with zeros: the product of the other factors ──────────────────────────────


def others_product(x):
    """∂prod(x)/∂x_i = the product of all x_j, j != i, by brute force."""
    flat = x.ravel()
    return np.array([np.prod(np.delete(flat, i)) for i in range(flat.size)]).reshape(x.shape)


@pytest.mark.parametrize(
    "x",
    [
        [2.0, -3.0, 0.5, 4.0],
        [2.0, 0.0, 0.5, 4.0],  # one zero: only it has a nonzero derivative
        [0.0, -3.0, 0.0, 4.0],  # two zeros: every derivative is 0
        [0.0, 0.0, 0.0, 0.0],
        [0.0],
    ],
)
def test_prod_derivative_is_the_product_of_the_others_even_with_zeros(x):
    x = np.array(x)
    np.testing.assert_array_equal(adcompile.grad(alone(np.prod))(x), others_product(x))


def prod_along_rows(x, w):
    return np.sum(np.prod(x, axis=1) * w)


def test_prod_with_zeros_along_an_axis():
    x = np.array([[2.0, 0.0, 3.0], [0.0, 0.0, 5.0], [1.5, 2.0, -1.0]])
    w = np.array([1.0, 2.0, -1.0])
    expected = np.stack([wi * others_product(row) for wi, row in zip(w, x)])
    np.testing.assert_allclose(adcompile.grad(prod_along_rows)(x, w), expected, rtol=1e-15)


def cumprod_jacobian(x):
    """J[j, i] = ∂(x_0 ... x_j)/∂x_i: the product of x_0 ... x_j without x_i, for i <= j."""
    n = len(x)
    return np.array([[np.prod(np.delete(x[: j + 1], i)) if i <= j else 0.0 for i in range(n)] for j in range(n)])


def cumprod_rows(x, w):
    return np.sum(np.cumprod(x, axis=1) * w)


CUMPROD_ZEROS = [
    [2.0, -3.0, 0.5, 4.0],
    [2.0, 0.0, 3.0, 4.0],
    [0.0, 2.0, 3.0, 0.5],
    [2.0, 0.0, 3.0, 0.0],
    [0.0, 0.0, 3.0, 2.0],
    [1.5, 2.0, 3.0, 0.0],
]


@pytest.mark.parametrize("x", CUMPROD_ZEROS)
def test_cumprod_gradient_is_exact_with_zeros(x):
    x = np.array(x)
    np.testing.assert_allclose(adcompile.grad(weighted(np.cumprod))(x, W4), W4 @ cumprod_jacobian(x), rtol=1e-15)


def test_cumprod_with_zeros_along_an_axis():
    x = np.array([row for row in CUMPROD_ZEROS])
    w = np.arange(x.size, dtype=float).reshape(x.shape) - 7
    expected = np.stack([wi @ cumprod_jacobian(row) for wi, row in zip(w, x)])
    np.testing.assert_allclose(adcompile.grad(cumprod_rows)(x, w), expected, rtol=1e-15)


@pytest.mark.parametrize("x", CUMPROD_ZEROS)
def test_cumprod_jvp_rule_is_exact_with_zeros(x):
    x, t = np.array(x), np.array([0.5, -1.0, 2.0, 1.5])
    got = lookup(np.cumprod).jvp(t, np.cumprod(x), x)
    np.testing.assert_allclose(got, cumprod_jacobian(x) @ t, rtol=1e-15)


@pytest.mark.parametrize("x", [[2.0, 0.0, 0.5, 4.0], [0.0, -3.0, 0.0, 4.0], [2.0, -3.0, 0.5, 4.0]])
def test_prod_jvp_rule_is_exact_with_zeros(x):
    x, t = np.array(x), np.array([0.5, -1.0, 2.0, 1.5])
    assert lookup(np.prod).jvp(t, np.prod(x), x) == pytest.approx(others_product(x) @ t, abs=1e-15)


# ── NaN, infinities, and sinc at 0 ───────────────────────────────────────────────────────────────────


def test_nan_to_num_passes_the_derivative_where_x_is_finite_only():
    x = np.array([np.nan, 1.5, np.inf, -np.inf])
    w = np.array([0.3, -0.9, 0.5, 0.4])  # the replacements of the infinities are ±1.8e308: keep their sum finite
    np.testing.assert_array_equal(adcompile.grad(weighted(np.nan_to_num))(x, w), [0.0, w[1], 0.0, 0.0])


def test_nansum_and_nanmean_skip_nan():
    x = np.array([1.0, np.nan, 2.0, 4.0])
    np.testing.assert_array_equal(adcompile.grad(alone(np.nansum))(x), [1.0, 0.0, 1.0, 1.0])
    np.testing.assert_allclose(adcompile.grad(alone(np.nanmean))(x), [1 / 3, 0.0, 1 / 3, 1 / 3], rtol=1e-15)


def sinc_slope(x):
    """sinc'(x) from its Taylor series, with terms to x^7: exact in float64 for |x| < 0.01."""
    t2 = (np.pi * x) ** 2
    return np.pi * np.pi * x * (-1 / 3 + t2 / 30 - t2 * t2 / 840 + t2**3 / 45360)


@pytest.mark.parametrize("x", [0.0, 1e-9, -3e-6, 5e-4, 9.9e-4, 1e-3, -2e-3, 7e-3])
def test_sinc_slope_is_accurate_near_zero(x):
    got = adcompile.grad(alone(np.sinc))(x)
    assert got == pytest.approx(sinc_slope(x), rel=1e-9, abs=1e-300)


def test_heaviside_has_zero_derivative():
    assert not lookup(np.heaviside).differentiable
    np.testing.assert_array_equal(
        adcompile.grad(lambda x: np.sum(np.heaviside(x, 0.5) * x))(np.array([-1.0, 0.0, 2.0])), [0.0, 0.5, 1.0]
    )


# ── the jvp rules follow the same conventions ────────────────────────────────────────────────────────


@pytest.mark.parametrize("fn", [np.maximum, np.minimum, np.fmax, np.fmin])
def test_jvp_rules_share_ties_like_the_vjp_rules(fn):
    x = np.array([1.0, 2.0, -1.0])
    y = np.array([1.0, 0.5, -1.0])
    dx, dy = lookup(fn).jvp(1.0, fn(x, y), x, y)
    for vjp_x, vjp_y in [lookup(fn).vjp(np.ones(3), fn(x, y), x, y)]:
        np.testing.assert_array_equal(dx, vjp_x)
        np.testing.assert_array_equal(dy, vjp_y)
    assert list(dx + dy) == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("fn", [np.max, np.min, np.median, np.ptp])
def test_reduction_jvp_of_ties_is_the_transpose_of_the_vjp(fn):
    x = np.array([[2.0, 2.0, 1.0, 2.0], [0.0, 3.0, 3.0, 0.0]])
    for axis, keepdims in itertools.product([None, 0, 1, (0, 1)], [False, True]):
        ans = fn(x, axis=axis, keepdims=keepdims)
        g = np.arange(1.0, np.size(ans) + 1).reshape(np.shape(ans))
        t = np.arange(x.size, dtype=float).reshape(x.shape) - 3.5
        v = lookup(fn).vjp(g, ans, x, axis=axis, keepdims=keepdims)
        j = lookup(fn).jvp(t, ans, x, axis=axis, keepdims=keepdims)
        assert np.sum(v * t) == pytest.approx(np.sum(g * j), rel=1e-14)


def test_compiled_derivatives_agree_with_finite_differences_off_the_ties():
    x = np.array([1.0, 3.0, 2.5, -2.0])  # no ties: the shares are the ordinary derivative
    for P in (np.max, np.min, np.median, np.ptp, np.prod):
        np.testing.assert_allclose(adcompile.grad(alone(P))(x), numeric_grad(P, (x,)), rtol=1e-6, atol=1e-8)
