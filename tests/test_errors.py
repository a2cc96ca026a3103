"""Errors name the user's file, line and column, quote the line with a caret, and say what to do."""

import math

import numpy as np
import pytest

import adcompile
from adcompile import grad
from adcompile.errors import (
    AdCompileError,
    NonDifferentiableError,
    OutputError,
    SourceUnavailableError,
    UnsupportedSyntaxError,
)

HERE = __file__


def line_of(fn, text: str) -> int:
    """The file line number of the first line of ``fn`` containing ``text``."""
    import inspect

    lines, start = inspect.getsourcelines(fn)
    return start + next(i for i, ln in enumerate(lines) if text in ln)


def assert_points_at(err: AdCompileError, fn, text: str, caret_under: str):
    line = line_of(fn, text)
    message = str(err)
    assert message.startswith(f"{HERE}:{line}:"), message
    quoted, carets = message.splitlines()[1:3]
    assert text in quoted
    col = carets.index("^")
    assert quoted[col:].startswith(caret_under), message
    assert carets.strip() == "^" * len(carets.strip())


def with_try(x):
    try:
        y = x * 2
    except ValueError:
        y = x
    return y


def with_walrus(x):
    return (y := x * 2) * y


def with_global(x):
    global SOMETHING
    SOMETHING = x
    return x


def with_nonlocal(x):
    s = x

    def inner(v):
        nonlocal s
        s = v
        return v

    return inner(x) + s


def with_with(x):
    with open(__file__):
        y = x
    return y


def with_class(x):
    class A:
        pass

    return x


def with_list(x):
    return np.sum([x] + [x])


@pytest.mark.parametrize(
    "fn, text, caret, hint",
    [
        (with_try, "try:", "try", "outside"),
        (with_walrus, "(y := x * 2)", "y := x * 2", "separate assignment"),
        (with_global, "global SOMETHING", "global", "argument"),
        (with_nonlocal, "nonlocal s", "nonlocal", "return"),
        (with_with, "with open", "with", "outside"),
        (with_class, "class A:", "class", "outside"),
        (with_list, "return np.sum([x] + [x])", "[x] + [x]", "np.array(xs)"),
    ],
)
def test_unsupported_syntax_is_rejected_at_its_line_with_a_hint(fn, text, caret, hint):
    with pytest.raises(UnsupportedSyntaxError) as info:
        grad(fn)(1.0)
    assert_points_at(info.value, fn, text, caret)
    assert hint in info.value.hint


def with_gamma(x):
    return math.gamma(x) * x


def test_callable_without_rule_names_it_and_how_to_register_one():
    with pytest.raises(NonDifferentiableError) as info:
        grad(with_gamma)(1.5)
    assert_points_at(info.value, with_gamma, "return math.gamma(x) * x", "math.gamma(x)")
    assert "math.gamma" in info.value.message
    assert "@adcompile.defvjp(math.gamma)" in info.value.hint


def wrong_arity(x):
    return np.sin(x, x)


def test_call_with_too_many_arguments_is_rejected():
    with pytest.raises(NonDifferentiableError) as info:
        grad(wrong_arity)(1.0)
    # NumPy versions with a signature for ufuncs name the extra argument (out=); older ones only count
    message = info.value.message
    assert "np.sin() is not differentiable with the argument out=" in message or "at most 1 positional" in message


def with_initial(x):
    return np.sum(x, initial=1.0)


def test_argument_the_rule_does_not_cover_is_rejected():
    with pytest.raises(NonDifferentiableError, match="initial=") as info:
        grad(with_initial)(np.ones(2))
    assert "axis=" in info.value.hint


def with_default_out(x):
    return np.sum(x, 0, None, None)


def test_arguments_equal_to_their_defaults_are_harmless():
    np.testing.assert_array_equal(grad(with_default_out)(np.ones(2)), np.ones(2))


def vector_valued(x):
    return np.sin(x)


def test_vector_output_points_to_the_return_and_suggests_a_reduction():
    with pytest.raises(OutputError) as info:
        grad(vector_valued)(np.ones(3))
    assert "shape (3,)" in info.value.message
    assert_points_at(info.value, vector_valued, "return np.sin(x)", "return")
    assert "np.sum" in info.value.hint


def tuple_valued(x):
    return x, 2 * x


def test_tuple_output_is_rejected():
    with pytest.raises(OutputError, match="tuple"):
        grad(tuple_valued)(1.0)


def test_non_scalar_output_is_caught_in_generic_code_too():
    source = adcompile.derivative_source(vector_valued, black=False)
    ns = {}
    exec(source, dict(vars(adcompile.runtime), np=np), ns)
    with pytest.raises(OutputError, match="shape"):
        ns["vector_valued_grad"](np.ones(3))


def no_return(x):
    y = x * 2


def test_missing_return_is_rejected():
    with pytest.raises(UnsupportedSyntaxError, match="no return statement"):
        grad(no_return)(1.0)


def shares_argument(x):
    y = x
    y += 1.0
    return np.sum(y)


def test_in_place_update_of_an_argument_alias_is_rejected():
    with pytest.raises(UnsupportedSyntaxError) as info:
        grad(shares_argument)(np.ones(2))
    assert_points_at(info.value, shares_argument, "y += 1.0", "y += 1.0")


def fresh_update(x):
    y = x * 2.0
    y += x
    return np.sum(y * y)


def test_in_place_update_of_a_fresh_value_is_differentiated():
    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(grad(fresh_update)(x), 18 * x)


def uses_undefined(x):
    return x * not_defined_anywhere  # noqa: F821


def test_undefined_name_is_reported_at_its_use():
    with pytest.raises(AdCompileError) as info:
        grad(uses_undefined)(1.0)
    assert_points_at(info.value, uses_undefined, "not_defined_anywhere", "not_defined_anywhere")


@pytest.mark.parametrize(
    "value, fragment",
    [
        (3, "integer 3; pass a float such as 3.0"),
        (True, "bool"),
        (np.arange(3), "dtype int64"),
        (1 + 2j, "complex"),
        ("a", "str"),
        (None, "NoneType"),
        ([1.0, 2.0], "np.asarray"),
    ],
)
def test_bad_differentiated_arguments_raise_type_error(value, fragment):
    with pytest.raises(TypeError, match="argument 0") as info:
        grad(lambda x: x * 2.0)(value)
    assert fragment in str(info.value)


def test_integer_argument_not_differentiated_is_fine():
    assert grad(lambda x, n: x**n)(2.0, 3) == pytest.approx(12.0)


def test_builtin_function_has_no_source():
    with pytest.raises(SourceUnavailableError, match="not a Python function"):
        grad(math.sin)(1.0)


def test_function_from_exec_has_no_source():
    ns = {}
    exec("def f(x):\n    return x * x\n", ns)
    with pytest.raises(SourceUnavailableError, match="source"):
        grad(ns["f"])(1.0)


def test_every_error_is_an_adcompile_error():
    for cls in (UnsupportedSyntaxError, NonDifferentiableError, SourceUnavailableError, OutputError):
        assert issubclass(cls, AdCompileError)


def square(x):
    return x * x


def doubled(f):
    import functools

    @functools.wraps(f)
    def wrapper(*args):
        return 2 * f(*args)

    return wrapper


def test_a_wrapping_decorator_is_never_mistaken_for_the_function_it_wraps():
    # the wrapper computes 2 * f; reading f's source through __wrapped__ would give half the gradient
    with pytest.raises(UnsupportedSyntaxError, match=r"\*args"):
        grad(doubled(square))(3.0)


def test_a_derivative_called_inside_a_differentiated_function_is_refused():
    dsquare = grad(square)
    with pytest.raises(UnsupportedSyntaxError, match="calling one inside a function being differentiated"):
        grad(lambda x: dsquare(x) * x)(3.0)


def test_notebook_cells_are_read_through_linecache():
    import linecache

    source = "def cell_fn(x):\n    return x * x * x\n"
    filename = "<ipython-input-7-0123456789ab>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    ns = {}
    exec(compile(source, filename, "exec"), ns)
    assert grad(ns["cell_fn"])(2.0) == pytest.approx(12.0)


def test_an_error_stays_an_error_on_the_next_call():
    df = grad(with_gamma)
    for _ in range(2):
        with pytest.raises(NonDifferentiableError):
            df(1.5)


def test_bound_methods_are_rejected():
    class Model:
        def f(self, x):
            return x * x

    with pytest.raises(TypeError, match="bound method"):
        grad(Model().f)


@pytest.mark.parametrize("thing", [np.sin, math.exp, 3.0])
def test_things_that_are_not_python_functions_get_a_clear_error(thing):
    with pytest.raises(SourceUnavailableError, match="not a Python function"):
        grad(thing)


def test_rule_using_an_unknown_name_is_an_adcompile_error():
    def scaled_identity(x):
        return x * 2.0

    factor = 2.0

    @adcompile.defvjp(scaled_identity)
    def _(g, ans, x):
        return g * factor  # a closure variable: rules only see their module's globals

    with pytest.raises(AdCompileError, match="factor"):
        grad(lambda x: scaled_identity(x) * 1.0)(1.0)


def keyword_only(x, *, k):
    return k * x * x


def test_derivative_source_binds_keyword_arguments_like_a_call():
    src = adcompile.derivative_source(keyword_only, args=(1.5,), kwargs={"k": 2.0}, black=False)
    assert src.startswith("def keyword_only_grad(x, *, k):")
    with pytest.raises(TypeError, match="keyword_only\\(\\): missing a required .*argument: 'k'"):
        adcompile.derivative_source(keyword_only, args=(1.5,))


def indexes_a_number(x):
    return x[0] * 2.0


def test_indexing_a_number_is_an_error_at_the_subscript():
    with pytest.raises(AdCompileError) as info:
        grad(indexes_a_number)(1.0)
    assert_points_at(info.value, indexes_a_number, "return x[0] * 2.0", "x[0]")
    assert "a number" in info.value.message
