"""The compiler core end to end: the seed examples, fan-out, zeros, argnums, caching and determinism."""

import functools
import math
import subprocess
import sys
import textwrap

import numpy
import numpy as np
import numpy as xp
import pytest
from fd import numeric_grad
from numpy import sin

from adcompile import derivative_source, grad, ir_text, value_and_grad

# ── the seed examples ────────────────────────────────────────────────────────────────────────────────


def f_issue(x):
    return x * np.sin(x) + np.exp(-x * x)


def test_grad_of_scalar_expression_matches_closed_form():
    x = 1.3
    expected = np.sin(x) + x * np.cos(x) - 2 * x * np.exp(-x * x)
    assert grad(f_issue)(x) == pytest.approx(expected, rel=1e-14)
    assert isinstance(grad(f_issue)(x), float)


def g(x1, x2, x3):
    y1 = x1 * (x2 - x3)
    y2 = x3 * np.log(1 - x1)
    return y1 + y2


def test_partials_of_the_textbook_function():
    x1, x2, x3 = 0.5, 2.0, 3.0
    d1, d2, d3 = grad(g, argnums=(0, 1, 2))(x1, x2, x3)
    assert d1 == pytest.approx(x2 - x3 - x3 / (1 - x1), rel=1e-14)
    assert d2 == pytest.approx(x1, rel=1e-14)
    assert d3 == pytest.approx(np.log(1 - x1) - x1, rel=1e-14)


def test_value_and_grad_returns_value_then_gradient():
    value, d1 = value_and_grad(g)(0.5, 2.0, 3.0)
    assert value == pytest.approx(g(0.5, 2.0, 3.0), rel=1e-15)
    assert d1 == pytest.approx(2.0 - 3.0 - 3.0 / 0.5, rel=1e-14)
    value, (d1, d3) = value_and_grad(g, argnums=(0, 2))(0.5, 2.0, 3.0)
    assert d3 == pytest.approx(np.log(0.5) - 0.5, rel=1e-14)


def two_outputs(x1, x2, x3):
    y1 = x1 * (x2 - x3)
    y2 = x3 * np.log(1 - x1)
    return y1, y2


def test_ir_is_the_textbook_decomposition_three_inputs_five_operations():
    lines = ir_text(two_outputs).splitlines()[1:]
    assert [ln.split()[0] for ln in lines[:3]] == ["u₋₂", "u₋₁", "u₀"]
    ops = [ln.split() for ln in lines[3:-1]]
    assert [op[0] for op in ops] == ["u₁", "u₂", "u₃", "u₄", "u₅"]
    assert " ".join(ops[0][2:5]) == "u₋₁ − u₀"  # u₁ = x2 - x3
    assert " ".join(ops[1][2:5]) == "u₋₂ · u₁"  # u₂ = x1 · u₁ = y1
    assert " ".join(ops[2][2:5]) == "1 − u₋₂"  # u₃ = 1 - x1
    assert ops[3][2] == "log(u₃)"
    assert " ".join(ops[4][2:5]) == "u₀ · u₄"  # u₅ = x3 · u₄ = y2
    assert lines[-1].split()[:3] == ["return", "(u₂,", "u₅)"]


def test_ir_ascii_fallback():
    text = ir_text(two_outputs, ascii_only=True)
    assert "u[-2] = x1" in text and "u[1]  = u[-1] - u[0]" in text
    assert text.isascii()


def e_of(a, b):
    c = a + b
    d = b + 1
    return c * d


def test_fan_out_sums_both_paths():
    a, b = 2.0, 1.0
    da, db = grad(e_of, argnums=(0, 1))(a, b)
    assert da == pytest.approx(b + 1)
    assert db == pytest.approx((b + 1) + (a + b))  # ∂e/∂b = d + c: one term per path
    src = derivative_source(e_of, argnums=(0, 1), args=(a, b), black=False)
    assert "bb = c + d" in src, "b's adjoint is the sum of its two paths' contributions, c and d"


def loss(a, w, b, y):
    return (a * w + b - y) ** 2


def test_squared_error_loss():
    a, w, b, y = 1.5, 0.3, -0.2, 0.7
    dw, db = grad(loss, argnums=(1, 2))(a, w, b, y)
    r = a * w + b - y
    assert dw == pytest.approx(2 * r * a, rel=1e-14)
    assert db == pytest.approx(2 * r, rel=1e-14)


def test_sine_of_square():
    assert grad(lambda x: np.sin(x**2))(0.7) == pytest.approx(2 * 0.7 * np.cos(0.49), rel=1e-14)


def cube(x):
    return x * x * x


def test_fan_out_of_one_value_into_one_operation():
    assert grad(cube)(1.7) == pytest.approx(3 * 1.7**2, rel=1e-14)
    assert grad(lambda x: x * x)(3.0) == pytest.approx(6.0)


# ── name resolution by identity ──────────────────────────────────────────────────────────────────────


def spelled_np(x):
    return np.sin(x) * x


def spelled_numpy(x):
    return numpy.sin(x) * x


def spelled_from_import(x):
    return sin(x) * x


def spelled_alias(x):
    return xp.sin(x) * x


@pytest.mark.parametrize("f", [spelled_np, spelled_numpy, spelled_from_import, spelled_alias])
def test_every_spelling_of_a_numpy_function_is_the_same_primitive(f):
    assert grad(f)(0.4) == pytest.approx(np.sin(0.4) + 0.4 * np.cos(0.4), rel=1e-14)
    assert "np.cos(x)" in derivative_source(f, args=(0.4,), black=False)


def with_math(x, y):
    return math.exp(x) * math.atan2(y, x) + math.log(x, 2.0)


def test_math_functions_are_primitives_on_floats():
    args = (0.8, 0.3)
    dx, dy = grad(with_math, argnums=(0, 1))(*args)
    assert type(dx) is float and type(dy) is float
    assert dx == pytest.approx(numeric_grad(with_math, args, 0), rel=1e-7)
    assert dy == pytest.approx(numeric_grad(with_math, args, 1), rel=1e-7)


# ── arrays and broadcasting ──────────────────────────────────────────────────────────────────────────


def layer(W, b):
    return np.sum(np.tanh(W * b + 0.5) ** 2)


@pytest.mark.parametrize("b", [np.array([0.1, -0.2, 0.3]), np.array([[0.4], [-0.1]]), 0.25, np.array(0.25)])
def test_adjoints_are_summed_back_to_each_operands_shape(b):
    W = np.arange(6.0).reshape(2, 3) / 10
    dW, db = grad(layer, argnums=(0, 1))(W, b)
    assert dW.shape == W.shape and np.shape(db) == np.shape(b)
    np.testing.assert_allclose(dW, numeric_grad(layer, (W, b), 0), rtol=1e-7)
    np.testing.assert_allclose(db, numeric_grad(layer, (W, b), 1), rtol=1e-7)


def test_same_derivative_serves_floats_and_arrays():
    df = grad(f_issue)
    x = np.linspace(0.1, 2.0, 4)
    assert df(0.5) == pytest.approx(numeric_grad(f_issue, (0.5,), 0), rel=1e-7)
    with pytest.raises(Exception, match="scalar"):
        df(x)  # f_issue(x) is a vector for a vector x: grad refuses, it does not sum silently
    dsum = grad(lambda x: np.sum(x * np.sin(x) + np.exp(-x * x)))
    np.testing.assert_allclose(dsum(x), [numeric_grad(f_issue, (xi,), 0) for xi in x], rtol=1e-7)


def dot_like(x, y):
    return np.sum(x * y)


def test_returned_gradient_never_aliases_an_input():
    x, y = np.ones(3), np.arange(3.0)
    dx = grad(dot_like)(x, y)
    np.testing.assert_array_equal(dx, y)
    assert not np.shares_memory(dx, y)
    dx[0] = 99.0
    assert y[0] == 0.0
    ds = grad(lambda v: np.sum(v))(np.ones(4))
    assert ds.flags.writeable and not np.shares_memory(ds, x)


def test_two_gradients_are_distinct_arrays():
    dx, dy = grad(lambda x, y: np.sum(x + y), argnums=(0, 1))(np.ones(3), np.ones(3))
    assert not np.shares_memory(dx, dy)


# ── arguments that do not influence the output ───────────────────────────────────────────────────────


def ignores_y(x, y, n):
    z = y * 3.0  # computed, but does not reach the output
    return x * x


def test_unused_argument_gets_an_exact_zero_of_its_own_type():
    dx, dy = grad(ignores_y, argnums=(0, 1))(2.0, 5.0, 3)
    assert dx == 4.0 and dy == 0.0 and type(dy) is float
    dy = grad(ignores_y, argnums=1)(2.0, np.ones((2, 2), dtype=np.float32), 3)
    assert dy.dtype == np.float32 and dy.shape == (2, 2) and not dy.any()


def test_constant_function_has_zero_gradient():
    assert grad(lambda x: 3.0)(1.0) == 0.0


# ── the API surface ──────────────────────────────────────────────────────────────────────────────────


def test_bare_decorator_and_decorator_with_arguments():
    @grad
    def a(x, y):
        """docstring kept"""
        return x * y

    @grad(argnums=1)
    def b(x, y):
        return x * y

    assert a(2.0, 3.0) == 3.0 and b(2.0, 3.0) == 2.0
    assert a.__name__ == "a" and a.__doc__ == "docstring kept" and a.__wrapped__ is not None


def test_int_argnums_gives_a_gradient_and_tuple_argnums_a_tuple():
    assert grad(g, argnums=1)(0.5, 2.0, 3.0) == pytest.approx(0.5)
    (d2,) = grad(g, argnums=(1,))(0.5, 2.0, 3.0)
    assert d2 == pytest.approx(0.5)


@pytest.mark.parametrize("argnums, error", [(3, ValueError), (-1, ValueError), ((0, 0), ValueError), ("x", TypeError)])
def test_bad_argnums_are_rejected(argnums, error):
    with pytest.raises(error):
        grad(g, argnums=argnums)


def with_defaults(x, scale=2.0, *, shift=1.0):
    return scale * x * x + shift * x


def test_keyword_and_default_arguments():
    df = grad(with_defaults)
    assert df(1.5) == pytest.approx(2 * 2.0 * 1.5 + 1.0)
    assert df(1.5, 3.0, shift=0.5) == pytest.approx(2 * 3.0 * 1.5 + 0.5)
    assert df(x=1.5, scale=1.0) == pytest.approx(2 * 1.5 + 1.0)


def test_lambda_alone_on_its_line():
    df = grad(lambda x: x**3 / 3)
    assert df(2.0) == pytest.approx(4.0)


SCALE = 2.0


def uses_global(x):
    return SCALE * x * x


def test_rebinding_a_global_recompiles():
    global SCALE
    df = grad(uses_global)
    assert df(1.0) == pytest.approx(4.0)
    SCALE = 5.0
    try:
        assert df(1.0) == pytest.approx(10.0)
    finally:
        SCALE = 2.0


def test_rebinding_a_global_recompiles_every_derivative_of_the_function():
    global SCALE
    dg, dvg = grad(uses_global), value_and_grad(uses_global)
    assert dg(1.0) == pytest.approx(4.0) and dvg(1.0)[1] == pytest.approx(4.0)
    SCALE = 5.0
    try:
        assert dg(1.0) == pytest.approx(10.0)  # reads the source again, for both derivatives
        assert dvg(1.0) == (pytest.approx(5.0), pytest.approx(10.0))
    finally:
        SCALE = 2.0


def uses_abs(x):
    return abs(x) * x


def _cube_abs(v):
    return v * v


def test_shadowing_a_builtin_with_a_global_recompiles():
    # abs is a builtin when the source is read; a global named abs defined later takes its place in Python's lookup
    df = grad(uses_abs)
    assert df(-2.0) == pytest.approx(4.0)  # d/dx |x| x = 2 |x|
    globals()["abs"] = _cube_abs  # now uses_abs(x) = x³
    try:
        assert uses_abs(-2.0) == -8.0
        assert df(-2.0) == pytest.approx(12.0)
    finally:
        del globals()["abs"]
    assert df(-2.0) == pytest.approx(4.0)


def make_scaled(k):
    def scaled(x):
        return k * np.exp(x)

    return scaled


def test_closures_resolve_their_cells():
    assert grad(make_scaled(3.0))(0.0) == pytest.approx(3.0)
    assert grad(make_scaled(-1.0))(0.0) == pytest.approx(-1.0)


def test_custom_rule_with_the_public_decorator():
    import adcompile

    def softplus(x):
        return np.log1p(np.exp(x))

    @adcompile.defvjp(softplus)
    def _(g, ans, x):
        return g / (1 + np.exp(-x))

    def model(x):
        return np.sum(softplus(x) * x)

    x = np.array([-1.0, 0.2, 2.0])
    np.testing.assert_allclose(grad(model)(x), numeric_grad(model, (x,), 0), rtol=1e-7)


def partial_is_wrapped(x, y):
    return x * y


def test_functools_partial_is_not_a_python_function():
    import adcompile

    with pytest.raises(adcompile.SourceUnavailableError):
        grad(functools.partial(partial_is_wrapped, y=2.0))(1.0)


# ── generated code ───────────────────────────────────────────────────────────────────────────────────


def test_generated_source_is_deterministic_across_processes():
    code = textwrap.dedent(
        """
        import sys; sys.path.insert(0, {tests!r})
        from adcompile import derivative_source
        import test_core
        print(derivative_source(test_core.g, argnums=(0, 1, 2)))
        print(derivative_source(test_core.layer, argnums=(0, 1), args=(test_core.np.ones((2, 3)), 0.5)))
        """
    ).format(tests=str(__import__("pathlib").Path(__file__).parent))
    runs = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        for _ in range(2)
    ]
    assert runs[0] == runs[1] and "def g_grad(x1, x2, x3):" in runs[0]


def test_specialised_scalar_code_has_no_helper_calls():
    src = derivative_source(g, argnums=(0, 1, 2), args=(0.5, 2.0, 3.0), black=False)
    assert "unbroadcast" not in src and "scalar_seed" not in src
    body = [ln.strip() for ln in src.splitlines()[1:] if ln.strip() and not ln.strip().startswith("#")]
    assert len(body) <= 7, src  # three temporaries, two partials, one return: what one writes by hand


def test_generic_code_works_for_any_shapes():
    ns = {}
    exec(
        derivative_source(layer, argnums=(0, 1), black=False), __import__("adcompile").runtime.__dict__ | {"np": np}, ns
    )
    W, b = np.ones((2, 3)) / 3, np.array([0.1, 0.2, 0.3])
    dW, db = ns["layer_grad"](W, b)
    np.testing.assert_allclose(db, numeric_grad(layer, (W, b), 1), rtol=1e-7)


def sqrt_at_zero(x):
    return math.sqrt(x)


def test_tracebacks_show_generated_lines():
    import traceback

    with pytest.raises(ZeroDivisionError) as info:
        grad(sqrt_at_zero)(0.0)
    frames = traceback.extract_tb(info.value.__traceback__)
    last = frames[-1]
    assert last.filename.startswith("<adcompile") and "/" in last.line


def test_fan_out_of_a_summed_array_keeps_the_arrays_shape():
    # regression: both operands were once shrunk to the scalar behind the sum's broadcast, giving 2.0
    x = np.ones((2, 3))
    dx = grad(lambda x: np.sum(x + x))(x)
    np.testing.assert_array_equal(dx, np.full((2, 3), 2.0))


def chain(x):
    e = np.exp(np.sin(x))
    return np.sum(np.tanh(0.5 * e) * e)


def test_large_temporaries_are_released_after_their_last_use():
    x = np.linspace(-2.0, 2.0, 5000)
    src = derivative_source(chain, args=(x,), black=False)
    assert "del " in src, "8 MB temporaries should not live until the return"
    assert "del " not in derivative_source(chain, args=(x[:10],), black=False)
    e = np.exp(np.sin(x))
    t = np.tanh(0.5 * e)
    expected = (0.5 * (1 - t * t) * e + t) * e * np.cos(x)
    np.testing.assert_allclose(grad(chain)(x), expected, rtol=1e-12)


def _type(x):
    return x * x


def _get(key, f=2.0, _default0=3.0):
    return key * f * _default0


def test_the_dispatch_function_works_whatever_the_names_of_the_function_and_its_parameters():
    # the function grad returns is generated; its own helper names must give way to the user's
    assert grad(_type)(3.0) == 6.0
    assert grad(_get, argnums=(0, 1, 2))(1.0, 2.0, 3.0) == (6.0, 3.0, 2.0)
    assert grad(_get, argnums=1)(1.0, f=4.0) == 3.0


# ── the function grad returns runs the adjoint of its first signature itself, behind a guard ─────────────

SHIFT = 1.0


def shifted_square(x):
    return np.sum((x - SHIFT) ** 2)  # d/dx = 2 (x - SHIFT)


def test_after_its_first_signature_grad_runs_that_adjoint_behind_a_guard():
    dg = grad(shifted_square)
    generic = dg.__code__
    assert dg(3.0) == 4.0
    assert dg.__code__ is not generic  # no dispatch: it runs the adjoint for one float itself
    # every other signature fails the guard and takes the generic dispatch, and comes back right
    np.testing.assert_array_equal(dg(np.array([3.0, 0.0])), [4.0, -2.0])
    np.testing.assert_array_equal(dg(np.array([3.0, 0.0, 1.0])), [4.0, -2.0, 0.0])
    assert dg(np.array([3.0], dtype=np.float32)).dtype == np.float32
    assert dg(np.float64(0.5)) == -1.0 and dg(0.5) == -1.0
    with pytest.raises(TypeError, match="integer"):
        dg(3)  # checked by the generic dispatch, as before any call


def inner_product(x, y):
    return np.sum(x * y)


def test_the_guard_checks_shapes_and_dtypes():
    # specialised to y of x's shape, the adjoint of y is x itself: for y of shape (1,) that would be wrong
    dy = grad(inner_product, argnums=1)
    x = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(dy(x, np.ones(3)), x)
    np.testing.assert_array_equal(dy(x, np.ones(1)), [6.0])
    x32 = x.astype(np.float32)
    assert dy(x32, np.ones(3, dtype=np.float32)).dtype == np.float32
    # the dtype is the one NumPy computes the gradient in (docs/api.md): float64 data promotes it
    mixed = dy(x, np.ones(3, dtype=np.float32))
    assert mixed.dtype == np.float64 and np.array_equal(mixed, x)
    np.testing.assert_array_equal(dy(x, np.ones(3)), x)


def test_the_guard_sees_a_rebound_global():
    global SHIFT
    dg = grad(shifted_square)
    assert dg(3.0) == 4.0
    SHIFT = 2.0
    try:
        assert dg(3.0) == 2.0  # read again, compiled again, and guarded again
        assert dg(3.0) == 2.0
    finally:
        SHIFT = 1.0
    assert dg(3.0) == 4.0


def _on_(_type_, _k0_=2.0, *, _generic_=1.0):  # names the guard would take
    return _type_ * _k0_ * _type_ + _generic_ * _type_


_slow = np.array([1.0, 2.0])  # a name of the generic dispatch, in the adjoint's namespace too


def scaled_by_a_global_array(x):
    return np.sum(_slow * x * x)


def test_the_guard_gives_way_to_the_users_names():
    d_on = grad(_on_, argnums=(0, 1))
    assert d_on(3.0) == (13.0, 9.0) and d_on(3.0) == (13.0, 9.0)
    assert d_on(3.0, 1.0, _generic_=0.0) == (6.0, 9.0)
    x = np.array([1.0, -1.0])
    d_slow = grad(scaled_by_a_global_array)
    for _ in range(2):
        np.testing.assert_array_equal(d_slow(x), 2.0 * _slow * x)


def positional_and_keyword(x, y=2.0, /, z=3.0, *, w=4.0):
    return x * y * z * w


def test_the_guarded_adjoint_binds_arguments_as_the_function_does():
    dg = grad(positional_and_keyword, argnums=(0, 1, 2))
    assert dg(1.0) == (24.0, 12.0, 8.0)
    assert dg(1.0, 2.0, z=1.0, w=1.0) == (2.0, 1.0, 2.0)
    with pytest.raises(TypeError):
        dg(1.0, y=2.0)  # y is positional-only, in the guarded code too


# ── printing: a temporary number used once is written into its use ───────────────────────────────────


def scalar_step(x, y):
    u = x + 0.1 * math.sin(y)
    return u * y


def rebinds_its_argument(x):  # the forward x must not take the name the reverse sweep still reads x under
    x = math.cos(x)
    return math.sin(x)


def test_a_temporary_number_is_written_into_the_expression_that_uses_it():
    source = derivative_source(scalar_step, argnums=(0, 1), args=(0.3, 0.4))
    assert "u = x + 0.1 * math.sin(y)" in source
    for i in (0, 1):
        got = grad(scalar_step, argnums=(0, 1))(0.3, 0.4)[i]
        assert got == pytest.approx(numeric_grad(scalar_step, (0.3, 0.4), i), rel=1e-8)


def test_an_expression_moved_to_its_use_still_reads_the_values_it_read():
    source = derivative_source(rebinds_its_argument, args=(0.7,))
    assert "x_2 = math.cos(x)" in source and "math.sin(x)" in source
    assert grad(rebinds_its_argument)(0.7) == pytest.approx(-math.cos(math.cos(0.7)) * math.sin(0.7), rel=1e-14)


def weighted_square(x, z):
    return x * z**2


def test_a_square_only_the_adjoint_reads_is_a_product_and_the_value_keeps_pow():
    z = 1.6045301109552383  # a 27-bit significand: z * z is a rounding midpoint, which pow rounds the other way
    assert z**2 != z * z
    assert grad(weighted_square)(0.5, z) == z * z  # d/dx = z², correctly rounded
    assert "z * z" in derivative_source(weighted_square, args=(0.5, z))
    value, dx = value_and_grad(weighted_square)(0.5, z)
    assert value == weighted_square(0.5, z)  # the function's own value, computed as Python computes it
    assert dx == pytest.approx(z * z, rel=1e-15)
    value, dx = value_and_grad(square_through_a_branch)(0.5, z)  # the square reaches the value through a join
    assert value == square_through_a_branch(0.5, z)
    assert dx == pytest.approx(z * z, rel=1e-15)


def square_through_a_branch(x, z):
    if z > 1.0:
        s = z**2
    else:
        s = 1.0
    return x * s


def test_array_code_keeps_one_operation_per_line():
    def f(x):
        return np.sum(x + 0.1 * np.sin(x))

    source = derivative_source(f, args=(np.ones(3),))
    code = [line for line in source.splitlines() if not line.strip().startswith("#")]
    assert "0.1 * _t" in source and all(line.count("np.") + line.count(" * ") <= 1 for line in code)


def summed_in_one_branch(x, z):  # the then path adds g into itself in place after np.sum(g) was taken
    return np.sum(np.sin((0.5 * z + x**2) if z > 0.2 else (0.5 * z + x**2) * z))


@pytest.mark.parametrize("z", [1.09, -0.4])
def test_an_expression_is_not_moved_past_a_write_in_place(z):
    """np.sum(g) is fused into its use only if no write in place comes between: g += g in the then path
    changes g, while the else path still reads the old g, so g counts as alive there."""
    x = np.array([0.3, -0.2, 0.5, 1.1])
    g = grad(summed_in_one_branch, argnums=(0, 1))(x, z)
    for i in (0, 1):
        np.testing.assert_allclose(g[i], numeric_grad(summed_in_one_branch, (x, z), i), rtol=1e-7, atol=1e-10)
