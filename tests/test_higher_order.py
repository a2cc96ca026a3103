"""Derivatives of derivatives: grad(grad(f)), third derivatives, hessian, hvp (forward mode over the compiled
gradient), and jacobian choosing its mode; against closed forms and finite differences of the gradient."""

import math

import numpy as np
import pytest
from fd import numeric_jacobian

from adcompile import grad, hessian, hvp, jacfwd, jacobian, jacrev, value_and_grad
from adcompile.errors import AdCompileError, UnsupportedSyntaxError

RNG = np.random.default_rng(5)


def bump(x):
    return x * np.sin(x) + np.exp(-x * x)


def test_second_and_third_derivatives_of_a_scalar_function_are_the_closed_forms():
    x = 0.7
    d1 = grad(bump)
    d2 = grad(d1)
    d3 = grad(d2)
    assert d2(x) == pytest.approx(2 * math.cos(x) - x * math.sin(x) + (4 * x * x - 2) * math.exp(-x * x), rel=1e-13)
    third = -3 * math.sin(x) - x * math.cos(x) + (12 * x - 8 * x**3) * math.exp(-x * x)
    assert d3(x) == pytest.approx(third, rel=1e-13)
    assert value_and_grad(d1)(x) == (pytest.approx(d1(x), rel=1e-15), pytest.approx(d2(x), rel=1e-15))


def loopy(x, y):
    s = x
    for i in range(3):
        if s > 0.0:
            s = np.sin(s) * y + x
        else:
            s = s * s - y
    return s * s


@pytest.mark.parametrize("argnum", [0, 1])
def test_second_derivatives_through_loops_and_branches_match_finite_differences(argnum):
    args = (0.4, 1.3)
    got = grad(grad(loopy), argnums=argnum)(*args)
    want = numeric_jacobian(grad(loopy), args, argnum)
    assert got == pytest.approx(float(want), rel=1e-7)


def energy(w):
    y = np.zeros(3)
    for i in range(3):  # an array filled in a loop: writes and a tape in the gradient
        y[i] = np.tanh(w[i] * w[(i + 1) % 3])
    return np.sum(y * y) + np.sum(w**4) / 4


def softmax_loss(W, x):
    z = W @ x
    z = z - np.max(z)
    return np.log(np.sum(np.exp(z))) - z[0]


@pytest.mark.parametrize(
    "f, args",
    [(energy, (RNG.normal(size=3),)), (softmax_loss, (RNG.normal(size=(2, 3)), RNG.normal(size=3)))],
    ids=["loop-writes", "softmax"],
)
def test_hessian_is_symmetric_and_the_jacobian_of_the_gradient(f, args):
    h = hessian(f)(*args)
    x = args[0]
    assert h.shape == x.shape + x.shape
    flat = h.reshape(x.size, x.size)
    np.testing.assert_allclose(flat, flat.T, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h, numeric_jacobian(grad(f), args, 0), rtol=1e-6, atol=1e-8)


def test_hessian_blocks_for_several_arguments():
    W, x = RNG.normal(size=(2, 3)), RNG.normal(size=3)
    (hww, hwx), (hxw, hxx) = hessian(softmax_loss, argnums=(0, 1))(W, x)
    assert hwx.shape == (2, 3, 3) and hxw.shape == (3, 2, 3)
    np.testing.assert_allclose(hwx, numeric_jacobian(lambda W, x: grad(softmax_loss)(W, x), (W, x), 1), rtol=1e-6)
    np.testing.assert_allclose(hxx, numeric_jacobian(grad(softmax_loss, argnums=1), (W, x), 1), rtol=1e-6)
    np.testing.assert_allclose(hxw.reshape(3, 6), hwx.reshape(6, 3).T, rtol=1e-10)  # mixed partials commute


def test_hvp_is_the_hessian_times_the_vector():
    w, t = RNG.normal(size=3), RNG.normal(size=3)
    np.testing.assert_allclose(hvp(energy, (w,), (t,)), hessian(energy)(w) @ t, rtol=1e-12)


def wide(x):
    return np.array([np.sum(x**2), np.prod(x)])


def tall(x):
    return np.outer(np.sin(x), x)


@pytest.mark.parametrize("f, x", [(wide, RNG.normal(size=5)), (tall, RNG.normal(size=2))], ids=["wide", "tall"])
def test_jacobian_matches_both_modes_and_finite_differences(f, x):
    j = jacobian(f)(x)
    np.testing.assert_allclose(j, jacfwd(f)(x), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(j, jacrev(f)(x), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(j, numeric_jacobian(f, (x,), 0), rtol=1e-6, atol=1e-8)


def polar_pair(r, t):
    return r * np.cos(t), r * np.sin(t)


def test_jacobian_of_a_tuple_output_is_one_jacobian_per_output():
    (dxr, dxt), (dyr, dyt) = jacobian(polar_pair, argnums=(0, 1))(2.0, 0.5)
    assert (dxr, dxt) == (pytest.approx(np.cos(0.5)), pytest.approx(-2.0 * np.sin(0.5)))
    assert (dyr, dyt) == (pytest.approx(np.sin(0.5)), pytest.approx(2.0 * np.cos(0.5)))


SCALE = 2.0


def scaled_cube(x):
    return SCALE * x**3


def test_rebinding_a_global_recompiles_the_second_derivative():
    global SCALE
    d2 = grad(grad(scaled_cube))
    assert d2(1.5) == pytest.approx(2.0 * 6 * 1.5)
    SCALE = 3.0
    try:
        assert d2(1.5) == pytest.approx(3.0 * 6 * 1.5)
    finally:
        SCALE = 2.0


def test_what_cannot_be_differentiated_again_says_so():
    with pytest.raises(TypeError, match="scalar arguments"):
        grad(grad(lambda x: np.sum(x**3)))(np.ones(2))
    with pytest.raises(UnsupportedSyntaxError, match="jacfwd"):
        grad(jacfwd(bump))(0.5)
    with pytest.raises(UnsupportedSyntaxError, match="jacrev"):
        grad(jacrev(bump))(0.5)


def power(x, n):
    return 1.0 if n == 0 else x * power(x, n - 1)


def test_second_derivative_of_a_recursive_function_is_refused_clearly():
    with pytest.raises(AdCompileError, match="recursive function cannot be differentiated again"):
        grad(grad(power))(1.5, 3)
