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
        (held_by_a_copied_list_then_written, "'parts' may share memory with 'h'", "parts) * x"),
        (appended_each_iteration_then_written, "'ys' may share memory with 'y'", "ys.append(y)"),
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


def rebound_to_another_array_in_a_loop_then_written(x):  # after the loop a is h: a[0] = 5.0 writes into h
    h = x * 1.0
    a = x * 2.0
    for k in range(2):
        a = h
    a[0] = 5.0
    return np.sum(h * x)  # value_and_grad gave 30 for Python's 34


def rebound_to_another_array_in_a_loop_then_updated(x):
    h = x * 1.0
    a = x * 2.0
    for k in range(2):
        a = h
    a += 1.0
    return np.sum(h * x)  # value_and_grad gave 30 for 40


def written_then_rebound_in_a_loop(x):  # the second iteration's a[0] = 5.0 writes into h
    h = x * 1.0
    a = x * 2.0
    for k in range(2):
        a[0] = 5.0
        a = h
    return np.sum(h * x)  # value_and_grad gave 30 for 34


def rebound_to_a_view_in_a_loop_then_written(x):
    h = x * 1.0
    a = x * 2.0
    for k in range(2):
        a = h[1:]
    a[0] = 5.0
    return np.sum(h * x)  # value_and_grad gave 30 for 36


def another_name_written_after_a_loop_rebound_to_it(x):
    h = x * 1.0
    a = x * 2.0
    for k in range(2):
        a = h
    h[0] = 5.0
    return np.sum(a * x)  # value_and_grad gave 30 for 34


def a_list_rebound_in_a_loop_then_appended_to(x):  # after the loop ys is xs: the append shows in xs
    xs = [x * 1.0]
    ys = []
    for v in [x, x]:
        ys = xs
    ys.append(x * 2.0)
    return np.sum(np.stack(xs) * x)  # value_and_grad gave 30 for 90


def appended_to_then_rebound_in_a_loop(x):  # the second iteration appends to xs
    xs = [x * 1.0]
    ys = []
    for k in range(2):
        ys.append(x * 2.0)
        ys = xs
    return np.sum(np.stack(xs) * x)  # value_and_grad gave 30 for 90


@pytest.mark.parametrize(
    "f",
    [
        rebound_to_another_array_in_a_loop_then_written,
        rebound_to_another_array_in_a_loop_then_updated,
        written_then_rebound_in_a_loop,
        rebound_to_a_view_in_a_loop_then_written,
        another_name_written_after_a_loop_rebound_to_it,
        a_list_rebound_in_a_loop_then_appended_to,
        appended_to_then_rebound_in_a_loop,
    ],
)
def test_names_a_loop_makes_share_an_object_are_known_to_share_it_in_and_after_the_loop(f, code):
    """A loop's body is lowered again when a carried name ends an iteration sharing an object it did not share
    at the start; a write through one name then makes the other stale, as after any aliasing. Computing on a copy
    would have been silently wrong."""
    with pytest.raises(UnsupportedSyntaxError):
        adcompile.value_and_grad(f)(np.arange(1.0, 5.0))
    with pytest.raises(UnsupportedSyntaxError):
        adcompile.jvp(f, (np.arange(1.0, 5.0),), (np.ones(4),))


def test_names_swapped_or_rebound_in_a_loop_without_sharing_keep_their_gradient(code):
    def swapped(x):
        h, a = x * 1.0, x * 2.0
        for k in range(3):
            t = h
            h = a
            a = t
            a[0] = 5.0  # a is the array h was: no other name holds it now
        return np.sum(h * x) + np.sum(a * a)

    def shifted(x):
        prev, cur = x * 0.0, x * 1.0
        for k in range(3):
            new = np.sin(cur) + prev
            prev = cur
            cur = new
        return np.sum(prev * cur)

    for f in (swapped, shifted):
        check(f, V4)
        value, _ = adcompile.value_and_grad(f)(V4)
        assert value == f(V4)


def the_same_array_twice_then_one_element_updated(x):  # the update is h += 3.0: both elements change
    h = x * 1.0
    ys = [h for j in range(2)]
    ys[0] += 3.0
    return np.sum(np.stack(ys) * x)  # value_and_grad gave 90 for 120


def an_element_updated_changes_the_array_itself(x):
    h = x * 1.0
    ys = [h for j in range(2)]
    ys[0] += 3.0
    return np.sum(h * x)  # value_and_grad gave 30 for 60


def an_element_updated_shows_in_a_copied_list(x):
    ys = [x * j for j in range(2)]
    zs = [v for v in ys]  # holds the same arrays
    ys[0] += 5.0
    return np.sum(np.stack(zs) * x)  # value_and_grad gave 30 for 80


@pytest.mark.parametrize(
    "f",
    [
        the_same_array_twice_then_one_element_updated,
        an_element_updated_changes_the_array_itself,
        an_element_updated_shows_in_a_copied_list,
    ],
)
def test_an_augmented_write_into_a_list_element_is_refused(f, code):
    """Python's ys[0] += v is ys[0].__iadd__(v): the array the list holds changes in place."""
    with pytest.raises(UnsupportedSyntaxError, match=r"changes in place the array that ys\[0\] may be") as err:
        adcompile.value_and_grad(f)(np.arange(1.0, 5.0))
    assert_points_at(err.value, f, "ys[0] += ", "ys[0]")
    assert "ys[0] = ys[0] + ..." in str(err.value)


def test_an_element_replaced_in_a_list_keeps_the_gradient(code):
    def f(x):
        ys = [x * j for j in range(2)]
        zs = [v for v in ys]
        ys[0] = ys[0] + 3.0 * x  # a new array in ys; zs keeps the old one
        return np.sum(np.stack(ys) ** 2) + np.sum(np.stack(zs) * x)

    check(f, V4)
    assert adcompile.value_and_grad(f)(V4)[0] == f(V4)


def a_list_holding_a_list_appended_to(x):  # zs holds ys itself: the append shows in zs[0]
    ys = [x * 1.0]
    zs = [ys]
    ys.append(x * 2.0)
    return np.sum(np.stack(zs[0]) * x)  # value_and_grad gave 30 for 90


def a_list_read_out_of_a_list_appended_to(x):  # w is ys
    ys = [x * 1.0]
    zs = [ys]
    w = zs[0]
    w.append(x * 2.0)
    return np.sum(np.stack(ys) * x)  # value_and_grad gave 30 for 90


def a_list_read_out_then_the_list_appended_to(x):
    ys = [x * 1.0]
    zs = []
    zs.append(ys)
    w = zs[0]
    ys.append(x * 2.0)
    return np.sum(np.stack(w) * x)  # value_and_grad gave 30 for 90


def the_same_list_appended_in_a_loop(x):  # zs holds ys twice, with all three arrays
    ys = [x * 1.0]
    zs = []
    for k in range(2):
        ys.append(x * k)
        zs.append(ys)
    return sum(np.sum(np.stack(w) * x) for w in zs)  # NumPy raised on a ragged array


def an_element_of_a_copied_list_then_written(x):  # a is h: the comprehension's list holds h itself
    h = x * 1.0
    ys = [v for v in [h]]
    a = ys[0]
    h[0] = 5.0
    return np.sum(a * x)  # value_and_grad gave 30 for 34


def an_element_of_a_list_filled_in_a_loop_then_updated(x):
    h = x * 1.0
    xs = [h for k in range(2)]
    a = xs[1]
    h *= 2.0
    return np.sum(a * x)  # value_and_grad gave 30 for 60


@pytest.mark.parametrize(
    "f",
    [
        a_list_holding_a_list_appended_to,
        a_list_read_out_of_a_list_appended_to,
        a_list_read_out_then_the_list_appended_to,
        the_same_list_appended_in_a_loop,
        an_element_of_a_copied_list_then_written,
        an_element_of_a_list_filled_in_a_loop_then_updated,
    ],
)
def test_a_change_seen_through_a_list_holding_the_object_is_refused(f, code):
    """A list holds lists and arrays themselves, also when it was filled by a loop or a comprehension, and an
    element read out of it is the object: a later append or write shows through every holder in Python."""
    with pytest.raises(UnsupportedSyntaxError):
        adcompile.value_and_grad(f)(np.arange(1.0, 5.0))
    with pytest.raises(UnsupportedSyntaxError):
        adcompile.jvp(f, (np.arange(1.0, 5.0),), (np.ones(4),))


def test_rows_built_as_lists_of_lists_keep_their_gradient(code):
    def f(x):
        rows = []
        for i in range(3):
            row = []
            for j in range(2):
                row.append(x[i] * j + x[j])
            rows.append(row)  # row is a new list in the next iteration
        return np.sum(np.array(rows) ** 2)

    check(f, V4)


def test_a_value_a_loop_recomputes_as_before_it_is_carried_out_of_the_loop(code):
    def f(x, y):
        a = x * 2.0
        h = np.sin(y)  # the same operation as the loop's, merged with it: the loop's result is this one
        for k in range(2):
            a = np.sin(y)
        return np.sum(a * x)

    x, y = V4, np.arange(4.0)  # the loop's carried value referred to a statement merging had removed: KeyError
    check(f, x, y)
    assert adcompile.value_and_grad(f, argnums=(0, 1))(x, y)[0] == f(x, y)
    value, tangent = adcompile.jvp(f, (x, y), (np.ones(4), np.ones(4)))
    assert value == f(x, y)
    np.testing.assert_allclose(tangent, np.sum(np.sin(y)) + np.sum(x * np.cos(y)))


@pytest.mark.xfail(
    strict=True,
    reason="a list's adjoint is one array: where the lengths are not known when compiling (generic code, lists grown "
    "in loops), a list of lists of different lengths makes NumPy raise a ValueError in the adjoint (np.zeros_like of "
    "the list, in the rule of xs[i]) instead of an AdCompileError",
)
def test_a_ragged_list_of_lists_is_refused_in_generic_code(monkeypatch):
    monkeypatch.setattr(adcompile.api, "MAX_SPECIALISATIONS", 0)

    def f(x):
        zs = [[x * 1.0], [x * 2.0, x * 3.0]]
        return np.sum(zs[1][0] * x)

    with pytest.raises(AdCompileError):
        adcompile.value_and_grad(f)(V4)


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
