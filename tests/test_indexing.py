"""Indexing and writes into arrays: reads of every index form, writes that follow Python's semantics exactly or are
rejected, and the in-place code that a loop filling an array compiles to."""

import numpy as np
import pytest
from fd import numeric_grad

from adcompile import derivative_source, grad
from adcompile.errors import AdCompileError, UnsupportedSyntaxError

RNG = np.random.default_rng(7)
V5 = RNG.uniform(-1, 1, 5)
M34 = RNG.uniform(-1, 1, (3, 4))
T234 = RNG.uniform(-1, 1, (2, 3, 4))


def check(f, *args, argnums=None):
    argnums = tuple(range(len(args))) if argnums is None else argnums
    grads = grad(f, argnums=argnums)(*args)
    for i, g in zip(argnums, grads):
        assert np.shape(g) == np.shape(args[i])
        np.testing.assert_allclose(g, numeric_grad(f, args, i), rtol=1e-6, atol=1e-9)
    return grads


# ── reads ────────────────────────────────────────────────────────────────────────────────────────────

IDX = np.array([0, 2, 2, 4])  # a repeated index: its adjoints must add up
ROWS = np.array([2, 0])


def read(label, x, f):
    return pytest.param(x, f, id=label)


READS = [
    read("x[0]", V5, lambda x: x[0] * x[1] + np.sin(x[-1])),
    read("x[1:4]", V5, lambda x: np.sum(np.sin(x[1:4]))),
    read("x[::2]", V5, lambda x: np.sum(x[::2] ** 2)),
    read("x[::-1]", V5, lambda x: np.sum(x[::-1] * x)),
    read("x[idx] with repeats", V5, lambda x: np.sum(np.sin(x[IDX]))),
    read("x[mask]", V5, lambda x: np.sum(x[x > 0] ** 3)),
    read("m[1, 2]", M34, lambda m: m[1, 2] * m[0, 0]),
    read("m[:, 1]", M34, lambda m: np.sum(np.exp(m[:, 1]))),
    read("m[1]", M34, lambda m: np.sum(m[1] * m[2])),
    read("m[rows, 1:3]", M34, lambda m: np.sum(np.sin(m[ROWS, 1:3]))),
    read("m[None, 1]", M34, lambda m: np.sum(m[None, 1] * 2.0)),
    read("t[..., 2]", T234, lambda t: np.sum(np.tanh(t[..., 2]))),
    read("t[1, ..., ::2]", T234, lambda t: np.sum(t[1, ..., ::2] ** 2)),
    read("x[i] in a loop", V5, lambda x: sum_squares(x)),
]


def sum_squares(x):
    s = 0.0
    for i in range(len(x)):
        s = s + x[i] * x[i] * (i + 1)
    return s


@pytest.mark.parametrize("x, f", READS)
def test_indexing_gradient_matches_finite_differences(x, f):
    check(f, x)


def test_a_loop_reading_x_i_adds_into_one_adjoint_buffer():
    src = derivative_source(sum_squares, args=(V5,))
    assert "np.zeros(x.shape, x.dtype)" in src and src.count("zeros") == 1  # one buffer, made before the reverse loop
    assert "bx[i] = " in src  # each iteration's element is still zero: set, not added


def twice_per_iteration(x):
    s = 0.0
    for i in range(len(x)):
        s = s + x[i] * np.sin(x[i - 1])  # x[i - 1] adds into the buffer too
    return s


def from_the_end(x):
    s = 0.0
    for i in range(-len(x), len(x)):  # x[-1] and x[n - 1] are one element
        s = s + x[i] ** 2
    return s


@pytest.mark.parametrize("f", [twice_per_iteration, from_the_end])
def test_an_element_added_into_twice_is_added_not_set(f):
    assert "bx[i] += " in derivative_source(f, args=(V5,))
    check(f, V5)


# ── writes ───────────────────────────────────────────────────────────────────────────────────────────


def recurrence(x, a):
    n = len(x)
    y = np.zeros(n)
    y[0] = x[0]
    for i in range(1, n):
        y[i] = y[i - 1] * a + x[i]
    return np.sum(y * y)


def test_a_loop_filling_an_array_matches_finite_differences():
    check(recurrence, V5, 0.7)


def test_a_loop_filling_an_array_writes_in_place_both_ways():
    src = derivative_source(recurrence, argnums=(0, 1), args=(V5, 0.7))
    assert "copy" not in src  # no copy per iteration: each write is in place, forward and reverse
    assert "y[i] = " in src and "by[i] = 0.0" in src


def slice_writes(x):
    y = np.zeros((3, 4))
    y[1:3] += x[:2, :]
    y[:, 1] = x[2, 1:]
    y[0] *= 2.0
    y[-1, ::2] -= x[0, :2] ** 2
    return np.sum(np.sin(y) * y)


def test_writes_into_slices_rows_and_columns():
    check(slice_writes, M34)


def copy_then_scale(x):
    y = np.copy(x)
    y[0] *= 2.0
    y[1:] /= x[0] + 2.0
    return np.sum(y**3)


def test_writes_into_a_copy_of_an_argument():
    check(copy_then_scale, V5)


def keeps_old_values(y0, w):
    y = y0 * 1.0  # a copy, even though * 1.0 changes no value
    z = y * w
    y[0] = 3.0
    return np.sum(z) + np.sum(y * y)


def test_an_overwritten_value_the_reverse_sweep_needs_is_kept():
    check(keeps_old_values, V5, V5[::-1].copy())
    assert "np.copy(y)" in derivative_source(keeps_old_values, argnums=(0, 1), args=(V5, V5))


def plus_zero_copy(x):
    y = x + 0.0
    y[2] = 1.0
    return np.sum(y * x)


def test_a_copy_made_by_adding_zero_stays_a_copy():
    x = V5.copy()
    check(plus_zero_copy, x)
    np.testing.assert_array_equal(x, V5)  # the argument is untouched


def number_read_before_write(x):
    y = x + 0.0
    a = y[0]
    y[0] = 5.0 * a
    return a + y[0] * y[1]


def test_a_number_read_out_before_a_write_keeps_its_value():
    check(number_read_before_write, V5)


def two_names_one_array(x):
    y = x * 2.0
    z = y
    y[0] = 3.0 * x[1]
    return np.sum(z * x)  # z is y: it sees the write, as in Python


def test_a_write_is_seen_through_every_name_of_the_array():
    check(two_names_one_array, V5)


def write_in_branch(x, c):
    y = np.zeros(3)
    if c > 0:
        y[1] = x[0] * x[1]
    else:
        y[2] = np.sin(x[2])
    return np.sum(y * y) + y[1]


@pytest.mark.parametrize("c", [1.0, -1.0])
def test_a_write_on_one_path_of_a_branch(c):
    check(write_in_branch, V5, c, argnums=(0,))


def augmented_index_array(x):
    y = np.zeros(5)
    y[IDX] += x[:4]  # as in NumPy: a repeated index is written once, by the last value
    return np.sum(y * np.arange(5.0))


def test_augmented_assignment_through_an_index_array_follows_numpy():
    check(augmented_index_array, V5)


# ── what is rejected: writes the caller or another name would see differently ───────────────────────


def writes_argument(x):
    x[0] = 1.0
    return np.sum(x)


def writes_alias_of_argument(x):
    y = x
    y[0] = 1.0
    return np.sum(y)


def uses_stale_view(x):
    y = x * 1.0
    t = y[0:2]
    y[0] = 5.0
    return np.sum(t)


def writes_view(x):
    y = x * 1.0
    t = y[1:]
    t[0] = 5.0
    return np.sum(y)


GLOBAL = np.ones(5)


def writes_global(x):
    GLOBAL[0] = 1.0
    return np.sum(GLOBAL * x)


def loop_through_other_name(x):
    y = x * 1.0
    z = y
    for i in range(2):
        y[i] = x[i] * 2.0
    return np.sum(z)


def augmented_view(x):
    y = x * 1.0
    t = y[1:]
    y += 1.0
    return np.sum(t * x[1:])


@pytest.mark.parametrize(
    "f, caret, words",
    [
        (writes_argument, "x[0]", "from outside this function"),
        (writes_alias_of_argument, "y[0]", "from outside this function"),
        (uses_stale_view, "t", "may share memory with 'y'"),
        (writes_view, "t[0]", "view"),
        (writes_global, "GLOBAL[0]", "global array"),
        (loop_through_other_name, "z", "loop"),
        (augmented_view, "t", "view of 'y'"),
    ],
    ids=lambda v: getattr(v, "__name__", None),
)
def test_writes_python_would_see_differently_are_rejected_where_they_are(f, caret, words):
    with pytest.raises(UnsupportedSyntaxError) as info:
        grad(f)(V5.copy())
    assert words in info.value.message
    line = info.value.loc.source_line()
    assert line[info.value.loc.col :].startswith(caret)
    assert info.value.hint


def test_indexing_out_of_range_is_reported_at_compile_time():
    def f(x):
        return x[7] * 2.0

    with pytest.raises(AdCompileError, match="out of range"):
        grad(f)(V5)


# ── methods and attributes of arrays ────────────────────────────────────────────────────────────────


def methods(x):
    y = x.copy()
    y[0] *= 2.0
    n = x.shape[0]
    return y.sum() * n + x.mean() + x.ndim + (x * 2).sum(axis=0) + x.size


def test_array_methods_and_attributes_are_their_numpy_functions():
    check(methods, V5)
    src = derivative_source(methods, args=(V5,))
    assert "np.copy(x)" in src and "np.shape(x)" in src


def calls_attribute(x):
    return x.sum


def unknown_attribute(x):
    return np.sum(x.flags)


@pytest.mark.parametrize(
    "f, words",
    [(calls_attribute, "is a method: call it"), (unknown_attribute, "'.flags' of an array is not supported")],
)
def test_attributes_that_are_not_values_are_rejected(f, words):
    with pytest.raises(UnsupportedSyntaxError, match=words):
        grad(f)(V5)


def best_and_worst(x):
    i, j = np.argmax(x), np.argmin(x)
    weight = 2.0 if np.any(x > 0.5) and np.count_nonzero(x > 0) > 1 else 1.0
    return x[i] * weight - x[j] ** 2 + x.max()


def test_indices_and_tests_only_steer():
    check(best_and_worst, V5)
    assert "argmax" in derivative_source(best_and_worst, args=(V5,))


def casts(x):
    y = x.astype(np.float64) * 2.0  # a cast to a floating dtype passes the derivative through
    z = (x * 3).astype(int)  # a cast to integers is a step: zero derivative
    return np.sum(y.astype("float64") ** 2) + np.sum(z * x)


def test_astype_casts_pass_floats_through_and_steps_to_zero():
    check(casts, V5)
    x32 = V5.astype(np.float32)
    g = grad(lambda v: np.sum(v.astype(np.float64) ** 2))(x32)
    assert g.dtype == np.float32  # the adjoint of a cast is cast back
    np.testing.assert_allclose(g, 2 * x32, rtol=1e-6)


def casts_to_complex(x):
    return np.sum(x.astype(complex))


def test_astype_to_other_dtypes_is_refused():
    with pytest.raises(UnsupportedSyntaxError, match="cannot be differentiated"):
        grad(casts_to_complex)(V5)
