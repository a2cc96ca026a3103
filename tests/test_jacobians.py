"""jacrev and has_aux, against finite-difference Jacobians and closed forms."""

import numpy as np
import pytest
from fd import numeric_grad, numeric_jacobian

from adcompile import grad, jacrev, value_and_grad
from adcompile.errors import OutputError

RNG = np.random.default_rng(11)


def polar(r, t):
    return np.array([r * np.cos(t), r * np.sin(t)])


def layer(x, w):
    return np.tanh(w @ x)


def running(x):
    y = np.zeros(3)
    acc = 0.0
    for i in range(3):
        acc = acc * 0.5 + x[i] ** 2
        y[i] = acc
    return y


def test_jacobian_of_polar_coordinates_is_the_closed_form():
    r, t = 2.0, 0.3
    dr, dt = jacrev(polar, argnums=(0, 1))(r, t)
    np.testing.assert_allclose(dr, [np.cos(t), np.sin(t)], rtol=1e-14)
    np.testing.assert_allclose(dt, [-r * np.sin(t), r * np.cos(t)], rtol=1e-14)


@pytest.mark.parametrize(
    "f, args, argnums",
    [
        (layer, (RNG.normal(size=3), RNG.normal(size=(2, 3))), (0, 1)),
        (running, (RNG.normal(size=3),), 0),
        (lambda m: m @ m.T, (RNG.normal(size=(2, 3)),), 0),
    ],
    ids=["matvec", "loop", "matrix-output"],
)
def test_jacrev_matches_finite_differences(f, args, argnums):
    got = jacrev(f, argnums=argnums)(*args)
    if not isinstance(argnums, tuple):
        argnums, got = (argnums,), (got,)
    for i, jac in zip(argnums, got):
        want = numeric_jacobian(f, args, i)
        assert jac.shape == want.shape
        np.testing.assert_allclose(jac, want, rtol=1e-6, atol=1e-8)


def test_jacrev_of_a_scalar_function_is_its_gradient():
    f = lambda x: np.sum(np.sin(x) * x)  # noqa: E731
    x = RNG.normal(size=4)
    np.testing.assert_allclose(jacrev(f)(x), grad(f)(x), rtol=1e-15)


def loss_and_prediction(w, x):
    pred = np.tanh(x @ w)
    return np.sum(pred**2), pred


def test_grad_with_aux_returns_the_aux_value_unchanged():
    w, x = RNG.normal(size=3), RNG.normal(size=(4, 3))
    g, pred = grad(loss_and_prediction, has_aux=True)(w, x)
    np.testing.assert_allclose(g, numeric_grad(lambda w: loss_and_prediction(w, x)[0], (w,)), rtol=1e-6)
    np.testing.assert_array_equal(pred, np.tanh(x @ w))
    (value, aux), g2 = value_and_grad(loss_and_prediction, has_aux=True)(w, x)
    assert value == pytest.approx(np.sum(np.tanh(x @ w) ** 2))
    np.testing.assert_array_equal(aux, pred)
    np.testing.assert_array_equal(g2, g)


def several_aux(x):
    y = x * x
    return y * 3.0, (y, x + 1.0)


def test_aux_may_be_a_tuple():
    g, (y, z) = grad(several_aux, has_aux=True)(2.0)
    assert (g, y, z) == (12.0, 4.0, 3.0)


def test_has_aux_needs_a_pair():
    with pytest.raises(OutputError, match="pair"):
        grad(lambda x: x * 2.0, has_aux=True)(1.0)
    with pytest.raises(OutputError, match="has_aux"):
        grad(lambda x: (x, x))(1.0)
