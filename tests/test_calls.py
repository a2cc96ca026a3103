"""Calls to the user's own Python functions: inlined, then differentiated like the caller's own code."""

import math

import numpy as np
import pytest
from calls_elsewhere import polar, scaled_tanh
from fd import numeric_grad

import adcompile
from adcompile import derivative_source, grad
from adcompile.errors import UnsupportedSyntaxError


def square(v):
    return v * v


def softplus(v, beta=1.0):
    return np.log1p(np.exp(beta * v)) / beta


def uses_helpers(x, y):
    a = square(x) + softplus(y)
    b = softplus(x, beta=2.0) * square(a)
    return b - softplus(beta=0.5, v=y)


def test_helpers_with_defaults_and_keywords_match_finite_differences():
    args = (0.3, -0.7)
    dx, dy = grad(uses_helpers, argnums=(0, 1))(*args)
    assert dx == pytest.approx(numeric_grad(uses_helpers, args, 0), rel=1e-7)
    assert dy == pytest.approx(numeric_grad(uses_helpers, args, 1), rel=1e-7)


def nested(x):
    return square(square(x) + x)


def test_nested_helper_calls():
    assert grad(nested)(1.5) == pytest.approx(2 * (1.5**2 + 1.5) * (2 * 1.5 + 1))


def with_module_helpers(x, t):
    u, v = polar(x, t)
    return np.sum(scaled_tanh(u, shift=0.5) * v)


def test_helpers_from_another_module_use_that_modules_globals():
    x, t = np.array([0.5, 1.0, 2.0]), np.array([0.1, -0.4, 0.9])
    dx, dt = grad(with_module_helpers, argnums=(0, 1))(x, t)
    np.testing.assert_allclose(dx, numeric_grad(with_module_helpers, (x, t), 0), rtol=1e-7)
    np.testing.assert_allclose(dt, numeric_grad(with_module_helpers, (x, t), 1), rtol=1e-7)


def test_rebinding_a_global_of_the_helpers_module_recompiles():
    import calls_elsewhere

    df = grad(lambda v: scaled_tanh(v))
    before = df(0.2)
    calls_elsewhere.SCALE = 6.0
    try:
        assert df(0.2) == pytest.approx(2 * before)
    finally:
        calls_elsewhere.SCALE = 3.0


def make_polynomial(c0, c1, c2):
    def poly(v):
        return c0 + c1 * v + c2 * v * v

    return poly


def test_closures_from_a_factory_are_inlined():
    p = make_polynomial(1.0, -2.0, 0.5)

    def f(x):
        return math.sin(p(x))

    x = 0.8
    assert grad(f)(x) == pytest.approx(math.cos(p(x)) * (-2.0 + 1.0 * x), rel=1e-12)


cube = lambda v: v * v * v  # noqa: E731


def test_a_lambda_bound_to_a_name_is_inlined():
    assert grad(lambda x: cube(x) + 1.0)(2.0) == pytest.approx(12.0)


def test_generated_code_names_the_helpers_lines():
    src = derivative_source(nested, args=(1.5,), black=False)
    line = square.__code__.co_firstlineno + 1
    assert f"# line {line}, in square: return v * v" in src  # square's line, inlined
    assert "calls_elsewhere.py:9, in scaled_tanh: return SCALE * xp.tanh(v + shift)" in derivative_source(
        with_module_helpers, argnums=(0, 1), black=False
    )


def recursive(x):
    return recursive(x) * 2.0


def test_recursion_without_a_base_case_fails_as_the_function_does():
    with pytest.raises(RecursionError):
        recursive(1.0)
    with pytest.raises(RecursionError):
        grad(recursive)(1.0)


def writes_its_argument(v):
    v += 1.0
    return v


def caller_of_writer(x):
    y = x * 2.0
    return np.sum(writes_its_argument(y))


def test_a_helper_may_not_write_the_callers_array_in_place():
    with pytest.raises(UnsupportedSyntaxError, match="in-place"):
        grad(caller_of_writer)(np.ones(2))


def bad_arity(x):
    return square(x, x)


def test_a_call_that_does_not_bind_is_reported_at_the_call():
    with pytest.raises(UnsupportedSyntaxError, match="square\\(\\): too many positional arguments"):
        grad(bad_arity)(1.0)


def uses_gamma_inside(v):
    return math.gamma(v) * v


def calls_gamma_user(x):
    return uses_gamma_inside(x) + 1.0


def test_errors_inside_a_helper_point_into_the_helper():
    with pytest.raises(adcompile.NonDifferentiableError) as info:
        grad(calls_gamma_user)(1.5)
    assert "return math.gamma(v) * v" in str(info.value)


def tuple_without_unpacking(x, t):
    return np.sum(polar(x, t))


def test_a_tuple_result_must_be_unpacked():
    with pytest.raises(UnsupportedSyntaxError, match="unpack"):
        grad(tuple_without_unpacking)(np.ones(2), np.ones(2))


def with_inner_functions(x, w):
    scale = 2.0

    def layer(v, b=0.5):
        return np.tanh(w * v + b) * scale

    square = lambda u: u * u  # noqa: E731
    h = layer(x)
    scale = 3.0  # late binding, as in Python: the second call sees 3.0
    return np.sum(square(layer(h, b=0.1)))


def test_functions_defined_inside_are_inlined_with_late_binding():
    x, w = np.array([0.3, -0.5]), np.array([1.5, 0.7])
    gx, gw = grad(with_inner_functions, argnums=(0, 1))(x, w)
    np.testing.assert_allclose(gx, numeric_grad(with_inner_functions, (x, w), 0), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(gw, numeric_grad(with_inner_functions, (x, w), 1), rtol=1e-6, atol=1e-9)


def inner_writes_outer(x):
    y = x * 1.0

    def clear(i):
        y[i] = 0.0
        return y

    return np.sum(clear(0))


def inner_recursion(x):
    def fact(n):
        return 1.0 if n == 0 else n * fact(n - 1)

    return fact(3) * x


def inner_passed_on(x):
    def f(v):
        return v * 2.0

    return f


@pytest.mark.parametrize(
    "f, words",
    [
        (inner_writes_outer, "from outside this function"),
        (inner_recursion, "recursive"),
        (inner_passed_on, "only be called"),
    ],
)
def test_inner_functions_that_cannot_be_inlined_are_rejected(f, words):
    with pytest.raises(UnsupportedSyntaxError, match=words):
        grad(f)(np.array([1.0, 2.0]))
