"""vjp(f, *primals): the value and a pullback, checked row by row against a finite-difference Jacobian."""

import numpy as np
import pytest
from fd import numeric_jacobian

from adcompile import vjp

RNG = np.random.default_rng(7)


def layer(x, w):
    return np.tanh(w @ x) * 2.0


def filled(x, a):
    y = np.zeros(4)
    for i in range(4):
        y[i] = a * np.sin(x[i]) + (y[i - 1] if i > 0 else 0.0)
    return y


def nested(x, a):
    y = x * 1.0
    for i in range(3):
        for j in range(2):
            y = np.sin(y) * a + j
    return y


def chooses(x, s):
    if s > 0.0:
        return x * s
    return np.exp(x)


def recursive(x, n):
    return x if n == 0 else recursive(np.sin(x) * x, n - 1)


CASES = [
    (layer, (RNG.normal(size=3), RNG.normal(size=(2, 3)))),
    (filled, (RNG.normal(size=4), 0.7)),
    (nested, (RNG.normal(size=2), 0.9)),
    (chooses, (RNG.normal(size=3), 1.5)),
    (chooses, (RNG.normal(size=3), -1.5)),
]


@pytest.mark.parametrize("f, args", CASES, ids=["matvec", "loop-writes", "nested-loops", "branch-then", "branch-else"])
def test_each_row_of_the_jacobian_matches_finite_differences(f, args):
    value, f_vjp = vjp(f, *args)
    np.testing.assert_array_equal(value, f(*args))
    jacobians = [numeric_jacobian(f, args, i) for i in range(len(args))]
    for k in np.ndindex(np.shape(value)):
        g = np.zeros(np.shape(value))
        g[k] = 1.0
        for got, jac in zip(f_vjp(g), jacobians):  # called once per row: the pullback can be reused
            np.testing.assert_allclose(got, jac[k], rtol=1e-6, atol=1e-8)
            assert np.shape(got) == np.shape(jac[k])


def test_a_scalar_function_and_an_argument_it_does_not_use():
    value, f_vjp = vjp(lambda x, y: x * x, 3.0, 5.0)
    assert value == 9.0 and f_vjp(2.0) == (12.0, 0.0)


def test_a_recursive_function_with_an_integer_argument_left_alone():
    value, f_vjp = vjp(lambda x: recursive(x, 3), np.array([0.4, 0.9]))
    (got,) = f_vjp(np.ones(2))
    want = np.diag(numeric_jacobian(lambda x: recursive(x, 3), (np.array([0.4, 0.9]),), 0))
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_changing_the_returned_value_does_not_change_the_pullback():
    x = np.array([0.2, -0.3])
    value, f_vjp = vjp(lambda v: np.exp(v), x)  # the rule of exp reads its result
    before = f_vjp(np.ones(2))[0].copy()
    value[:] = 100.0
    np.testing.assert_array_equal(f_vjp(np.ones(2))[0], before)


def test_an_adjoint_of_the_wrong_shape_is_an_error():
    _, f_vjp = vjp(lambda x: x * 2.0, np.ones(3))
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        f_vjp(np.ones(2))


def test_vjp_needs_a_primal():
    with pytest.raises(TypeError, match="at least one primal"):
        vjp(lambda x: x)
