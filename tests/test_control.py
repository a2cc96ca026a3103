"""Shapes computed at run time, unpacking checked as Python does, appends in place, list comprehensions as values,
and tuples returned from inside loops: each gradient checked against finite differences in specialised and generic
code, each refusal checked for where it points."""

import numpy as np
import pytest
from fd import numeric_grad

import adcompile
from adcompile import derivative_source, grad
from adcompile.errors import AdCompileError, UnsupportedSyntaxError

HERE = __file__


@pytest.fixture(params=["specialised", "generic"])
def code(request, monkeypatch):
    """Which adjoint ``grad`` runs: the one specialised to the arguments' shapes, or the shape-agnostic one."""
    if request.param == "generic":
        monkeypatch.setattr(adcompile.api, "MAX_SPECIALISATIONS", 0)
    return request.param


def check(f, *args, argnums=None):
    argnums = tuple(range(len(args))) if argnums is None else argnums
    grads = grad(f, argnums=argnums)(*args)
    for i, g in zip(argnums, grads):
        assert np.shape(g) == np.shape(args[i])
        np.testing.assert_allclose(g, numeric_grad(f, args, i), rtol=1e-6, atol=1e-9)


def line_of(fn, text: str) -> int:
    import inspect

    lines, start = inspect.getsourcelines(fn)
    return start + next(i for i, ln in enumerate(lines) if text in ln)


def assert_points_at(err: AdCompileError, fn, text: str, caret_under: str):
    message = str(err)
    assert message.startswith(f"{HERE}:{line_of(fn, text)}:"), message
    quoted, carets = message.splitlines()[1:3]
    assert quoted[carets.index("^") :].startswith(caret_under), message


M23 = np.array([[0.3, -0.5, 1.0], [0.2, 0.7, -1.1]])
V4 = np.array([0.4, -0.3, 0.9, 0.2])


# ── 1. tuples of computed values, built at run time where a shape is expected ────────────────────────────


def computed_shapes(x):
    n, m = x.shape
    y = np.zeros((n, m))
    for i in range(n):
        y[i] = x[i] * (i + 1)
    z = np.ones((len(x), 2)) * x[0, 0]
    w = np.full((n,), 0.5) + np.full((n, 1), x[0, 1])[:, 0]  # a differentiated fill value
    r = np.reshape(x, (n * m, -1))
    q = x.reshape(m, n)
    p = x.reshape((m * n,))
    shape = (m, n)  # a name for the tuple
    s = np.broadcast_to(x[0], (n + 1, m))
    return (
        np.sum(y * y)
        + np.sum(z * z)
        + np.sum(w * w)
        + np.sum(r[:, 0] ** 3)
        + np.sum(q[0] * q[-1])
        + np.sum(np.ones(shape) * p[: n * m].reshape(shape) ** 2)
        + np.sum(s**2)
    )


def test_shapes_computed_at_run_time_give_the_gradient(code):
    check(computed_shapes, M23)
    check(computed_shapes, np.linspace(-1.0, 1.0, 12).reshape(4, 3))


def test_a_computed_shape_is_a_tuple_display_and_known_when_its_sizes_are():
    src = derivative_source(computed_shapes, args=(M23,))
    assert "np.zeros(_t" in src and " = (_t" in src  # the tuple is built at run time...
    assert "np.reshape(bq, (2, 3))" in src  # ...and its value is known when specialising: no reshape_like
    generic = derivative_source(computed_shapes)
    assert "reshape_like(bq, x)" in generic


def test_sizes_computed_from_known_sizes_are_known():
    def f(x):
        n = len(x)
        y = np.zeros(n + 1)
        y[1:] = x
        return np.sum(y[: n // 2] ** 2)

    check(f, V4)
    assert "unbroadcast" not in derivative_source(f, args=(V4,))


def float_size(x):
    n = np.sum(x)
    return np.sum(np.zeros((n, 2)))


def tuple_as_a_value(x):
    n = len(x)
    pair = (n, x[0])
    return np.sum(pair)


@pytest.mark.parametrize(
    "f, text, caret, words",
    [
        (float_size, "np.zeros((n, 2))", "(n, 2)", "a shape is a tuple of integers, but this one holds a float"),
        (tuple_as_a_value, "np.sum(pair)", "pair", "can only be returned, unpacked, indexed by a literal"),
    ],
)
def test_a_tuple_of_computed_values_elsewhere_is_refused_where_it_is(f, text, caret, words):
    with pytest.raises(AdCompileError, match=words) as error:
        grad(f)(V4)
    assert_points_at(error.value, f, text, caret)


def test_a_float_fill_value_is_differentiated():
    def f(x):
        return np.sum(np.full((4,), x[0]) * x) + np.sum(np.full_like(x, x[1]) ** 2)

    check(f, V4)


# ── 3. unpacking checks the length, as Python does ──────────────────────────────────────────────────────


def unused_unpacking(m, xs):
    a, b = xs  # neither is used: the length is checked all the same
    rows, cols = m.shape
    return np.sum(m * m)


def unpacking_in_a_loop(m):
    s = 0.0
    for r in m:
        a, b = r  # each row must have two elements
        s = s + a * b
    return s


def test_unpacking_a_value_of_another_length_raises_even_if_nothing_is_used(code):
    with pytest.raises(ValueError, match="cannot unpack 3 values into 2 names"):
        grad(unused_unpacking)(M23, np.ones(3))
    with pytest.raises(ValueError, match="cannot unpack 3 values into 2 names"):
        grad(unused_unpacking)(np.ones((2, 3, 1)), np.ones(2))  # the shape has three sizes
    with pytest.raises(ValueError, match="cannot unpack 3 values into 2 names"):
        grad(unpacking_in_a_loop)(M23)
    check(unused_unpacking, M23, np.ones(2), argnums=(0,))
    check(unpacking_in_a_loop, M23.T)


def test_a_known_length_is_checked_when_compiling_and_costs_nothing_at_run_time():
    from adcompile.errors import UnpackingError

    with pytest.raises(UnpackingError, match="cannot unpack 3 values into 2 names") as error:
        grad(unused_unpacking)(M23, np.ones(3))
    assert_points_at(error.value, unused_unpacking, "a, b = xs", "xs")
    src = derivative_source(unused_unpacking, args=(M23, np.ones(2)))
    assert "unpacked" not in src and "shape" not in src
    assert "unpacked(xs, 2)" in derivative_source(unused_unpacking)  # generic code checks at run time


def unpacks_a_literal_of_another_length(x):
    a, b = x, 2.0 * x, 3.0
    return a


def unpacks_a_helper_result_of_another_length(x):
    a, b = pair_and_one(x)
    return a


def pair_and_one(x):
    return x, x * 2.0, 1.0


@pytest.mark.parametrize(
    "f, text, caret",
    [
        (unpacks_a_literal_of_another_length, "a, b = x, 2.0 * x, 3.0", "x, 2.0 * x, 3.0"),
        (unpacks_a_helper_result_of_another_length, "a, b = pair_and_one(x)", "pair_and_one(x)"),
    ],
)
def test_unpacking_a_tuple_of_another_length_is_a_located_value_error(f, text, caret):
    with pytest.raises(ValueError, match="cannot unpack 3 values into 2 names") as error:
        grad(f)(0.5)
    assert_points_at(error.value, f, text, caret)


# ── 4. appends in place ───────────────────────────────────────────────────────────────────────────────


def running_losses(W, xs):
    h = np.zeros(W.shape[0])
    losses = []
    for x in xs:
        h = np.tanh(W @ h + x)
        losses.append(np.sum(h**2))
    return sum(losses) + len(losses)


def old_list_read_back(x):
    xs = [x, 2.0 * x]
    a = xs[0]  # its adjoint goes into an adjoint of the two-element list
    xs.append(3.0 * x)
    return a * sum(xs)


def appends_to_an_alias(x):
    xs = [x]
    ys = xs  # the same list: it sees the appends
    xs.append(xs[-1] * x)  # reads the list before appending: the reverse sweep needs that version
    ys.append(ys[-1] * x)
    return sum(ys) + len(xs)


def a_loop_appending_what_it_reads(x):
    xs = [x]
    for k in range(4):
        xs.append(np.sin(xs[-1]) * x)
    return sum(xs)


W3 = 0.5 * np.eye(3) + 0.1
XS = np.arange(12.0).reshape(4, 3) / 10


def test_a_loop_appending_to_a_list_appends_in_place(code):
    check(running_losses, W3, XS)
    src = derivative_source(running_losses, args=(W3, XS))
    assert "losses.append(" in src and "list(losses)" not in src  # no copy of the list per iteration
    assert "list(losses)" not in derivative_source(running_losses)


@pytest.mark.parametrize("f", [old_list_read_back, appends_to_an_alias, a_loop_appending_what_it_reads])
def test_appends_python_would_see_are_seen_and_old_lists_needed_later_are_copied(f, code):
    check(f, 0.7)


def test_a_list_the_reverse_sweep_needs_before_an_append_is_copied_first():
    src = derivative_source(old_list_read_back, args=(0.7,))
    assert "xs_2 = list(xs)" in src and "xs_2.append(" in src


def test_a_list_from_the_caller_is_never_appended_to():
    def f(x, xs):
        ys = xs
        ys.append(x)
        return x * 2.0

    with pytest.raises(UnsupportedSyntaxError, match="would change an array from outside"):
        grad(f)(1.0, [])


def held_then_updated(x, y):  # h += 1.0 changes the array the list holds, in Python
    parts = []
    h = y * 2.0
    parts.append(h)
    h += 1.0
    parts.append(h + 0.0)
    return np.sum(np.stack(parts) * x)


def held_by_a_copied_list_then_written(x):  # the comprehension's list holds h itself
    h = x * 2.0
    parts = [h]
    parts = [v for v in parts]
    h[0] = 5.0
    return np.sum(np.stack(parts) * x)


def appended_each_iteration_then_written(x):  # the same array, appended three times, written in between
    y = x * 1.0
    ys = []
    for i in range(3):
        y[i] = x[i] * 2.0
        ys.append(y)
    return np.sum(np.stack(ys) * x)


HOLDS = "holds and reads afterwards"


@pytest.mark.parametrize(
    "f, match, text",
    [
        (held_then_updated, "may be a view of 'h'", "parts.append(h + 0.0)"),
        (held_by_a_copied_list_then_written, HOLDS, "h[0] = 5.0"),
        (appended_each_iteration_then_written, HOLDS, "y[i] = x[i] * 2.0"),
    ],
)
def test_a_write_into_an_array_a_list_still_holds_is_refused(f, match, text, code):
    """Python writes in place, so the list sees the new contents; a copy would silently keep the old ones."""
    args = (np.arange(1.0, 4.0), np.ones(3))[: f.__code__.co_argcount]
    with pytest.raises(UnsupportedSyntaxError, match=match) as err:
        grad(f)(*args)
    assert_points_at(err.value, f, text, text.split(" ")[0].split(".")[0])


def test_an_array_rebound_after_it_was_appended_keeps_the_list_right(code):
    def f(x):
        parts = []
        h = x * 2.0
        parts.append(h)
        h = h + 1.0  # a new array: the list keeps the old one, in Python too
        parts.append(h)
        return np.sum(np.stack(parts) ** 2 * x)

    check(f, np.arange(1.0, 4.0))


def test_an_array_a_list_holds_is_never_added_into_in_place(code):
    def f(x, y):  # h + 1.0 must not become h += 1.0: the list still holds h
        parts = []
        h = y * 2.0
        parts.append(h)
        h2 = h + 1.0
        parts.append(h2)
        return np.sum(np.stack(parts) * x)

    x, y = np.arange(1.0, 4.0), np.ones(3)
    value, g = adcompile.value_and_grad(f)(x, y)
    assert value == f(x, y)
    check(f, x, y, argnums=(0,))


def test_a_list_has_no_copy_method_here():
    def f(x):
        parts = [x * 2.0]
        parts = parts.copy()
        return np.sum(np.stack(parts))

    with pytest.raises(UnsupportedSyntaxError, match=r"a list's .copy\(\) is not supported") as err:
        grad(f)(np.ones(3))
    assert "[v for v in xs]" in str(err.value)


# ── 5. list comprehensions as values ───────────────────────────────────────────────────────────────────


def comprehensions(x, m):
    n = len(x)
    i = 7.0  # the comprehensions' i is their own
    squares = [x[i] ** 2 for i in range(n) if x[i] > 0]  # a range known only at run time, with a condition
    rows = np.stack([np.sin(r) * 2.0 for r in m])  # over an array's rows, joined into an array
    pairs = [a * b for a, b in zip(x, x[::-1])]
    grid = [x[i] * m[j, i] for j in range(m.shape[0]) for i in range(2)]  # two for clauses
    s = sum(squares) + np.sum(rows) + pairs[0] + sum(grid) * i
    for p in [v * 3.0 for k, v in enumerate(pairs) if k > 0]:
        s = s + p
    return s + np.sum(np.array([np.cos(v) for v in squares]))


def test_list_comprehensions_are_lists_built_by_loops(code):
    x, m = np.array([0.3, -0.5, 0.8]), np.arange(6.0).reshape(2, 3) / 5
    check(comprehensions, x, m)
    check(comprehensions, -x, m)  # the condition holds for none: an empty list


def test_a_comprehension_appends_in_place_under_the_users_name():
    src = derivative_source(comprehensions, args=(np.array([0.3, -0.5, 0.8]), np.ones((2, 3))))
    assert "squares = []" in src and "squares.append(" in src and "list(squares)" not in src


def test_a_comprehension_over_a_known_range_is_still_joined_element_by_element():
    def f(x):
        return np.sum(np.stack([x * k for k in range(3)]))

    assert "np.stack([" in derivative_source(f, args=(V4,))
    check(f, V4)


def with_dict_comprehension(x):
    d = {k: x for k in range(2)}
    return x


def with_set_comprehension(x):
    s = {x * k for k in range(2)}
    return x


def with_generator(x):
    g = np.stack(x * k for k in range(2))
    return np.sum(g)


@pytest.mark.parametrize(
    "f, text, caret, words",
    [
        (with_dict_comprehension, "d = {k: x", "{k: x", "a dict comprehension is not supported"),
        (with_set_comprehension, "s = {x * k", "{x * k", "a set comprehension is not supported"),
        (with_generator, "np.stack(x * k", "(x * k for", "a generator expression outside sum"),
    ],
)
def test_other_comprehensions_are_refused_where_they_are(f, text, caret, words):
    with pytest.raises(UnsupportedSyntaxError, match=words) as error:
        grad(f)(0.5)
    assert_points_at(error.value, f, text, caret)
    assert "hint:" in str(error.value)
