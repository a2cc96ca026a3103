"""Recursive functions: the recursive call is compiled as a call to the function's own split adjoint."""

import numpy as np
import pytest
from fd import numeric_grad

from adcompile import derivative_source, grad, ir_text, value_and_grad
from adcompile.errors import UnsupportedSyntaxError

M = np.random.default_rng(0).normal(size=(3, 3)) / 2


def check(f, *args, argnums=(0,)):
    grads = grad(f, argnums=argnums)(*args)
    for i, g in zip(argnums, grads):
        np.testing.assert_allclose(g, numeric_grad(f, args, i), rtol=1e-6, atol=1e-9)
        assert np.shape(g) == np.shape(args[i])


def power(x, n):
    if n == 0:
        return 1.0
    return x * power(x, n - 1)


@pytest.mark.parametrize("n", [0, 1, 4])
def test_power_by_recursion_matches_its_closed_form(n):
    assert grad(power)(1.5, n) == pytest.approx(n * 1.5 ** (n - 1) if n else 0.0, rel=1e-12)


def two_calls(x, n):
    if n < 2:
        return np.sin(x) * n + x
    return two_calls(x, n - 1) * 0.5 + np.cos(two_calls(x * 1.1, n - 2))


def halves(v):
    if v.shape[0] == 1:
        return np.tanh(v[0])
    h = v.shape[0] // 2
    return halves(v[:h]) * halves(v[h:]) + np.sum(v**2)


def even(x, n):
    if n == 0:
        return x
    return odd(np.sin(x), n - 1)


def odd(x, n):
    if n == 0:
        return x * x
    return even(x * 2.0, n - 1)


def loops_inside(x, n):
    s = x
    for i in range(n):
        s = s + 0.5 * loops_inside(s * 0.3, n - 1 - i)
    return s


def matrix_steps(w, k):
    if k == 0:
        return np.sum(w)
    return matrix_steps(np.tanh(w @ M), k - 1)


def choice_inside(x, n):
    if n <= 0:
        return np.cos(x)
    r = choice_inside(np.tanh(x), n - 1)
    a = 0.5 if x > 0.2 else 0.5 * x  # a branch inside the recursive path: its join is a residual
    return a * r + x


def iterate(w, k):
    if k == 0:
        return w
    return iterate(np.tanh(w) * 1.5, k - 1)


def array_valued(w):
    return np.sum(iterate(w, 4) ** 2)


@pytest.mark.parametrize(
    "f, args",
    [
        (two_calls, (0.7, 5)),
        (halves, (np.linspace(0.1, 0.9, 6),)),
        (even, (0.3, 5)),
        (loops_inside, (0.4, 3)),
        (matrix_steps, (np.array([0.1, -0.2, 0.3]), 3)),
        (array_valued, (np.array([0.1, -0.2, 0.3]),)),
        (choice_inside, (0.7, 3)),
        (choice_inside, (0.1, 3)),
    ],
    ids=["two-calls", "divide-and-conquer", "mutual", "loop-inside", "matrix", "array-valued", "join", "join-else"],
)
def test_recursive_functions_match_finite_differences(f, args):
    check(f, *args)


def test_with_respect_to_every_float_argument():
    check(two_calls, 0.7, 4.3, argnums=(0, 1))  # n reaches the leaves as 1.3 and 0.3, away from the test's jump


def test_recursion_hundreds_deep():
    def steps(x, n):
        return x if n == 0 else steps(0.5 * x + 0.1 * np.sin(x), n - 1)

    # x_{k+1} = 0.5 x_k + 0.1 sin x_k: the derivative is the product of 0.5 + 0.1 cos x_k along the path
    x, want = 0.8, 1.0
    for _ in range(200):
        want *= 0.5 + 0.1 * np.cos(x)
        x = 0.5 * x + 0.1 * np.sin(x)
    assert grad(steps)(0.8, 200) == pytest.approx(want, rel=1e-12)


def test_value_and_grad_of_a_recursive_function():
    value, g = value_and_grad(two_calls)(0.7, 5)
    assert value == two_calls(0.7, 5)
    assert g == pytest.approx(numeric_grad(two_calls, (0.7, 5)), rel=1e-7)


def count(n):
    return 0.0 if n == 0 else 1.0 + count(n - 1)


def scaled_by_count(x, n):
    return x * count(n)


def test_a_recursive_call_that_needs_no_derivative_stays_a_plain_call():
    source = derivative_source(scaled_by_count, args=(2.0, 3))
    assert "count(n)" in source and "count_vjp" not in source
    assert grad(scaled_by_count)(2.0, 3) == 3.0


def test_the_generated_code_shows_the_forward_call_and_its_pullback():
    source = derivative_source(power, args=(1.5, 3))
    assert "power_r = power_vjp(x, _t" in source
    assert "pullback(power_r, " in source
    assert "power(u₋₁, u₃)" in ir_text(power)


SCALE = 2.0


def scaled_power(x, n):
    return SCALE * x if n == 0 else x * scaled_power(x, n - 1)


def test_rebinding_a_global_of_the_recursive_function_recompiles():
    global SCALE
    df = grad(scaled_power)
    assert df(1.5, 2) == pytest.approx(3 * 2.0 * 1.5**2)
    SCALE = 5.0
    try:
        assert df(1.5, 2) == pytest.approx(3 * 5.0 * 1.5**2)
    finally:
        SCALE = 2.0


def keyword_only(x, *, n=3):
    return x if n == 0 else keyword_only(x * x, n=n - 1)


def pair(x, n):
    if n == 0:
        return x, x
    a, b = pair(x, n - 1)
    return a * b, a


@pytest.mark.parametrize(
    "f, words",
    [(keyword_only, "positional parameters only"), (lambda x: pair(x, 2)[0], "returns a tuple")],
    ids=["keyword-only", "tuple"],
)
def test_recursive_functions_it_cannot_compile_are_rejected_at_the_call(f, words):
    with pytest.raises(UnsupportedSyntaxError, match=words) as info:
        grad(f)(0.5)
    assert "test_recursion.py" in str(info.value)
