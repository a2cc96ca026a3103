"""Rounding and friends (zero derivative almost everywhere), min/max of several values, float(), eval."""

import math

import numpy as np
import pytest
from fd import numeric_grad

from adcompile import grad
from adcompile.errors import UnsupportedSyntaxError


def rounded(x):
    return math.floor(x) * x + round(x) + int(x) * x * x + (x // 0.5) * x


@pytest.mark.parametrize("x", [1.3, 2.7, -0.6])
def test_rounding_steps_have_zero_derivative_between_their_jumps(x):
    assert grad(rounded)(x) == pytest.approx(numeric_grad(rounded, (x,), 0), rel=1e-7)


def with_mod(x, y):
    return (x % y) * x


def test_remainder_is_differentiable_in_both_arguments():
    args = (3.7, 1.5)
    dx, dy = grad(with_mod, argnums=(0, 1))(*args)
    assert dx == pytest.approx(numeric_grad(with_mod, args, 0), rel=1e-7)
    assert dy == pytest.approx(numeric_grad(with_mod, args, 1), rel=1e-7)


def array_steps(x):
    return np.sum(np.floor(x) * x + np.round(x * 3.0) + np.sign(x) * x)


def test_numpy_rounding_functions_are_constants_to_the_gradient():
    x = np.array([0.3, 1.4, -2.2])
    np.testing.assert_allclose(grad(array_steps)(x), numeric_grad(array_steps, (x,), 0), rtol=1e-7)


def extremes(x, y, z):
    return max(x, y, z) * 2.0 + min(x * y, z)


@pytest.mark.parametrize("args", [(1.0, 2.0, 0.5), (3.0, 2.0, 0.5), (0.1, 0.2, 5.0)])
def test_min_and_max_of_several_values_follow_the_chosen_one(args):
    grads = grad(extremes, argnums=(0, 1, 2))(*args)
    for i, g in enumerate(grads):
        assert g == pytest.approx(numeric_grad(extremes, args, i), rel=1e-7, abs=1e-9)


def test_max_of_equal_values_is_the_first_like_python():
    assert grad(lambda a, b: max(a, b), argnums=(0, 1))(1.0, 1.0) == (1.0, 0.0)


def test_float_and_pow_builtins():
    assert grad(lambda x: pow(float(x), 3))(2.0) == pytest.approx(12.0)


def uses_eval(x):
    return eval("x * 2")


def test_eval_is_rejected():
    with pytest.raises(UnsupportedSyntaxError, match="eval\\(\\) runs code"):
        grad(uses_eval)(1.0)
