"""Branches: if/elif/else, early returns, conditional expressions, and/or/not, chained comparisons."""

import math

import numpy as np
import pytest
from fd import numeric_grad

from adcompile import derivative_source, grad, ir_text
from adcompile.errors import UnsupportedSyntaxError


def check(f, *args):
    n = len(args)
    grads = grad(f, argnums=tuple(range(n)))(*args)
    for i, g in enumerate(grads):
        np.testing.assert_allclose(g, numeric_grad(f, args, i), rtol=1e-6, atol=1e-9)
        assert np.shape(g) == np.shape(args[i])


def early_return(x):
    if x > 0:
        return x * x
    return -3.0 * x


@pytest.mark.parametrize("x", [2.0, -2.0])
def test_early_return_takes_the_derivative_of_the_path_taken(x):
    check(early_return, x)


def piecewise(x, y):
    z = x * y
    if z > 1.0:
        w = np.sin(z)
        z = z * 2.0
    elif z < -1.0:
        w = np.cos(x)
    else:
        w = 0.5 * y
    return w + z


@pytest.mark.parametrize("args", [(1.5, 1.2), (-1.5, 1.2), (0.3, 0.2)])
def test_if_elif_else_joins_the_variables_assigned_on_each_path(args):
    check(piecewise, *args)


def nested_returns(x, y):
    if x > 0:
        if y > 0:
            return x * y
        t = x + y
    else:
        t = x - y
    return t * t


@pytest.mark.parametrize("args", [(1.0, 2.0), (1.0, -2.0), (-1.0, 2.0)])
def test_a_return_inside_a_nested_branch(args):
    check(nested_returns, *args)


def conditional_expression(x):
    return x * x if x > 0 else 3.0 * x


def boolean_operators(x, y):
    if x > 0 and y > 0 or not x > -5:
        return x * y
    return x + y


def chained(x):
    return x if 0 < x < 1 else x * x


@pytest.mark.parametrize(
    "f, args",
    [
        (conditional_expression, (2.0,)),
        (conditional_expression, (-2.0,)),
        (boolean_operators, (1.0, 2.0)),
        (boolean_operators, (-1.0, 2.0)),
        (boolean_operators, (-6.0, 2.0)),
        (chained, (0.5,)),
        (chained, (2.0,)),
    ],
)
def test_conditional_expressions_and_boolean_operators(f, args):
    check(f, *args)


def guarded_division(x, y):
    # 'and' short-circuits: x / y is only computed when y != 0, as in Python
    return 1.0 if y != 0 and x / y > 1 else x


def test_and_short_circuits_like_python():
    assert grad(guarded_division)(2.0, 0.0) == 1.0
    assert grad(guarded_division, argnums=1)(2.0, 0.0) == 0.0


def on_arrays(x, w):
    s = np.sum(x * w)
    if s > 0:
        y = np.tanh(x) * w
    else:
        y = x * x
    return np.sum(y)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_branches_on_array_functions(sign):
    x, w = sign * np.array([0.5, 1.0, 1.5]), np.array([0.2, 0.3, 0.4])
    check(on_arrays, x, w)


def helper_with_branch(v):
    if v > 1:
        return math.log(v)
    return v - 1


def calls_branchy_helper(x):
    return helper_with_branch(x * x) * x


@pytest.mark.parametrize("x", [2.0, 0.5])
def test_branches_inside_inlined_helpers(x):
    check(calls_branchy_helper, x)


def test_adjoint_of_a_branch_is_a_branch_on_the_same_test():
    src = derivative_source(early_return, args=(2.0,), black=False)
    assert src.count("if _t1:") == 1, "the forward sweep keeps the test; only the reverse sweep needs the branch"
    assert "bx = x + x" in src and "bx = -3.0" in src


def test_ir_shows_branches_and_joins():
    text = ir_text(piecewise)
    assert "if u₂:" in text and "else:" in text
    assert text.count("u₅") >= 3  # w's join: assigned on both paths, used after


def one_sided(x):
    if x > 0:
        y = x * 2
    return y


def test_a_variable_assigned_on_one_path_only_is_rejected_where_it_is_used():
    with pytest.raises(UnsupportedSyntaxError, match="only one path"):
        grad(one_sided)(1.0)


def falls_off(x):
    if x > 0:
        return x


def test_a_path_without_a_return_is_rejected():
    with pytest.raises(UnsupportedSyntaxError, match="without a return"):
        grad(falls_off)(1.0)


def identity_comparison(x):
    return x if x is not None else 0.0


def test_identity_comparisons_are_rejected():
    with pytest.raises(UnsupportedSyntaxError, match="IsNot"):
        grad(identity_comparison)(1.0)


def aliased_through_a_branch(x, c):
    y = x * 2.0
    z = y if c > 0 else x * 0.0
    y += 1.0  # in Python this also changes z when z is y
    return np.sum(z * y)


def test_in_place_update_of_a_value_a_join_may_hold_is_rejected():
    with pytest.raises(UnsupportedSyntaxError, match="in-place"):
        grad(aliased_through_a_branch)(np.ones(2), 1.0)


def update_after_branch(x, c):
    y = x * 2.0 if c > 0 else x * 3.0
    y += x  # y holds a fresh array on either path: the update is private
    return np.sum(y * y)


@pytest.mark.parametrize("c", [1.0, -1.0])
def test_in_place_update_of_a_private_join_is_differentiated(c):
    check(update_after_branch, np.array([0.5, -1.0]), c)


def long_chain(x, y):
    return x * y if 0 < x < y < 2 * y < 10 else x + y


@pytest.mark.parametrize("args", [(0.5, 1.0), (2.0, 1.0), (0.5, 6.0)])
def test_a_long_comparison_chain(args):
    check(long_chain, *args)


def renames_in_a_branch(x, c):
    a = x * 2.0
    b = x * 3.0
    if c > 0:
        a = x * 5.0
        b = a  # b takes the first value of a ...
        a = a + 1.0  # ... which a then leaves: the joins must not overwrite one with the other
    return a * b


@pytest.mark.parametrize("c", [1.0, -1.0])
def test_joins_at_the_end_of_a_branch_are_assigned_without_clobbering(c):
    check(renames_in_a_branch, 0.7, c)
    assert grad(renames_in_a_branch)(0.7, c) == pytest.approx((2 * 25 * 0.7 + 5.0) if c > 0 else 12 * 0.7, rel=1e-12)


def merged_then_updated_in_both_branches(x, y):
    a = np.zeros(4)
    a[0] = np.sum(0.5 * y + x**2)  # 0.5 * y: merged with the branches' own, then added into in place
    return np.sum(a * a) + np.sum((0.5 * y + y) if np.sum(x) > 0.2 else (0.5 * y + y) * x)


def test_a_value_merged_and_updated_in_place_in_a_branch_keeps_the_gradient():
    x, y = np.array([-0.7, -1.5, -0.2, 0.1]), np.arange(12.0).reshape(3, 4) / 10
    check(merged_then_updated_in_both_branches, x, y)
