"""Loops over range(...) and while loops: carried values, the tape, nested loops, branches and helpers inside."""

import math
import re

import numpy as np
import pytest
from fd import numeric_grad

from adcompile import derivative_source, grad, ir_text
from adcompile.errors import UnsupportedSyntaxError


def check(f, *args, argnums=None):
    argnums = tuple(range(len(args))) if argnums is None else argnums
    grads = grad(f, argnums=argnums)(*args)
    for i, g in zip(argnums, grads):
        np.testing.assert_allclose(g, numeric_grad(f, args, i), rtol=1e-6, atol=1e-9)
        assert np.shape(g) == np.shape(args[i])


def power_sum(x, n):
    s = 0.0
    p = 1.0
    for i in range(n):
        p = p * x
        s = s + p / (i + 1)
    return s


@pytest.mark.parametrize("n", [0, 1, 5])
def test_carried_values_and_the_loop_index(n):
    check(power_sum, 0.7, n, argnums=(0,))


def scalar_loop(x):
    y = x
    for k in range(100):
        y = math.sin(y) + 0.01 * math.cos(k * y)
    return y


def test_a_hundred_step_scalar_loop():
    check(scalar_loop, 0.3)


def nested(x, m, n):
    acc = 0.0
    for i in range(m):
        t = x * (i + 1)
        for j in range(1, n, 2):
            t = np.sin(t) * j
            acc = acc + t * x
    return acc


def test_nested_loops_with_start_and_step():
    check(nested, 0.4, 3, 6, argnums=(0,))


def with_branch(x, n):
    s = x
    for i in range(n):
        if s > 1.0:
            s = s * 0.5
        else:
            s = s * s + 0.3
    return s


@pytest.mark.parametrize("x", [0.3, 1.7])
def test_branches_inside_loops(x):
    check(with_branch, x, 6, argnums=(0,))


def rnn(W, U, xs, h0):
    h = h0
    for t in range(len(xs)):
        h = np.tanh(W * h + U * xs[t] if False else W * h + U)
    return np.sum(h * h)


def rnn_like(W, U, h0, T):
    h = h0
    loss = 0.0
    for t in range(T):
        h = np.tanh(W * h + U * (t + 1))
        loss = loss + np.sum(h * h)
    return loss


def test_arrays_carried_by_a_loop_with_broadcasting():
    W = np.array([0.5, -0.3, 0.8])
    U = 0.1
    h0 = np.array([0.2, 0.1, -0.4])
    check(rnn_like, W, U, h0, 4, argnums=(0, 1, 2))


def swap(x, y, n):
    for i in range(n):
        x, y = y, x * 1.5
    return x * y


@pytest.mark.parametrize("n", [1, 2, 3])
def test_carried_values_that_swap(n):
    check(swap, 0.6, 1.3, n, argnums=(0, 1))


def step(v, k):
    return v + math.sin(v * k)


def loop_calls_helper(x):
    for k in range(3):
        x = step(x, k)
    return x


def test_helpers_inside_loops():
    check(loop_calls_helper, 0.2)


def test_the_adjoint_loop_reads_back_the_tape():
    src = derivative_source(power_sum, args=(0.7, 5), black=False)
    assert "tape.append(" in src and "= tape.pop()" in src
    assert "for i in reversed(range(n)):" in src
    text = ir_text(power_sum)
    assert "for u₃ in range(u₀):" in text


def used_after(x):
    for i in range(3):
        t = x * i
    return t


def test_a_value_assigned_only_inside_the_loop_is_rejected_after_it():
    with pytest.raises(UnsupportedSyntaxError, match="only inside the loop"):
        grad(used_after)(1.0)


def returns_inside(x):
    for i in range(3):
        return x * (i + 2.0)
    return x


def first_above(x, level):
    for i in range(len(x)):
        if x[i] > level:
            return x[i] * x[0]
    return np.sum(x)


def newton_sqrt(a):
    y = a
    while True:
        nxt = 0.5 * (y + a / y)
        if abs(nxt - y) < 1e-12:
            return nxt
        y = nxt


def nested_return(x):
    s = 0.0
    for i in range(3):
        for j in range(3):
            s = s + x[i] * x[j]
            if s > 2.0:
                return s * 2.0
    return s


V3 = np.array([0.3, 0.7, 1.1])


@pytest.mark.parametrize(
    "f, args",
    [
        (returns_inside, (1.5,)),
        (first_above, (V3, 0.5)),  # returns from the loop
        (first_above, (V3, 5.0)),  # runs to the end and returns after it
        (newton_sqrt, (2.0,)),  # while True: only the return leaves it
        (nested_return, (V3,)),
        (nested_return, (V3 / 4,)),
    ],
)
def test_return_inside_a_loop(f, args):
    check(f, *args, argnums=(0,))


def rows(m):
    s = 0.0
    for r in m:
        s = s + np.sum(np.sin(r)) * r[0]
    return s


def enumerated(x):
    s = 0.0
    for i, v in enumerate(x, 1):
        s = s + i * v * v
    return s


def zipped(x, y):
    s = 0.0
    for a, b in zip(x, y[1:]):  # stops at the shorter
        s = s + a * b
    return s


def literal_sequence(a, b):
    s = 0.0
    for v in (a, b * 2.0, a * b):
        if v > 1.0:
            continue
        s = s + v * v
    return s


def backwards(x):
    s = 0.0
    for v in reversed(x):
        s = s * 0.5 + v
    return s


def enumerate_zip(x, y):
    s = 0.0
    for i, (a, b) in enumerate(zip(x, y)):
        s = s + a * b * i
    return s


@pytest.mark.parametrize(
    "f, args",
    [
        (rows, (np.array([[1.0, 2.0], [0.5, -1.0], [0.3, 0.2]]),)),
        (enumerated, (V3,)),
        (zipped, (V3, np.array([2.0, 0.5, -1.0, 3.0]))),
        (literal_sequence, (0.7, 0.4)),
        (literal_sequence, (1.7, 0.4)),
        (backwards, (V3,)),
        (enumerate_zip, (V3, V3[::-1].copy())),
    ],
)
def test_loops_over_sequences(f, args):
    check(f, *args)


def returns_pair_inside(x):
    for i in range(3):
        if i == 1:
            return x, x
        if i == 2:
            return x
    return x


def first_above(x, t):
    for i in range(len(x)):
        if x[i] > t:
            return x[i] * 2.0, i
    return x[0], -1


def uses_first_above(x):
    v, i = first_above(x, 0.5)
    return v * v + i


def settles(x):
    y, k = x, 0
    while True:
        y = np.sin(y) + 0.3
        k = k + 1
        if k > 3:
            return y * y, y, k


def uses_settles(x):
    a, b, k = settles(x)
    return a + 3.0 * b * k


@pytest.mark.parametrize("x", [V3, np.array([0.1, 0.2])], ids=["found", "not-found"])
def test_a_tuple_returned_from_inside_a_for_loop(x):
    check(uses_first_above, x)


def test_a_tuple_returned_from_inside_a_while_true_loop():
    check(uses_settles, 0.4)


def unpacks_elements(m):
    s = 0.0
    for a, b in m:
        s = s + a * b
    return s


@pytest.mark.parametrize(
    "f, message", [(returns_pair_inside, "different numbers of values"), (unpacks_elements, "unpacking")]
)
def test_unsupported_loop_forms_are_rejected(f, message):
    with pytest.raises(UnsupportedSyntaxError, match=message):
        grad(f)(np.ones((2, 2)))


def reused_after_loop(x, y):
    for k in range(1):
        y = 0.5 * y + math.sin(y) * (0.1 * k + 0.2)
    return math.sin(y)


def test_values_computed_after_the_loop_are_not_reused_inside_it():
    # regression (found by the fuzzer): cos(y) of the final y was reused for cos(y) of the iteration's y
    check(reused_after_loop, 0.0, 1.0, argnums=(1,))


def branch_value_in_loop(x, n):
    s = x
    for i in range(n):
        if s > 0.5:
            t = np.sin(s)  # computed on this path only: kept on the tape inside the branch
            s = s * t
        else:
            s = s + 0.3 * x
    return s


@pytest.mark.parametrize("x", [0.9, 0.2, 2.5])
def test_values_computed_inside_a_branch_of_a_loop_are_taped_on_that_path(x):
    check(branch_value_in_loop, x, 5, argnums=(0,))


def final_value_used_after(x, y):
    for k in range(1):
        x = 0.5 * x + math.sin(x) * (0.1 * k + 0.2)
    return x * y


def test_the_final_value_of_a_carried_variable_survives_the_reverse_loop():
    # regression (found by the fuzzer): the reverse loop's pops overwrote the final x that d/dy returns
    check(final_value_used_after, 1.0, 0.5)


def newton_sqrt(a):
    x = a
    while abs(x * x - a) > 1e-12 * a:
        x = 0.5 * (x + a / x)
    return x


def test_a_while_loop_differentiates_through_every_iteration():
    # Newton's iteration converges to sqrt(a); its derivative through the iterations to 1 / (2 sqrt(a))
    for a in (2.0, 9.0, 0.3):
        assert grad(newton_sqrt)(a) == pytest.approx(0.5 / math.sqrt(a), rel=1e-9)


def decay(x, rate):
    total = 0.0
    v = x
    while v > 0.1:
        v = v * rate
        if v > 1.0:
            total = total + np.sin(v)
        else:
            total = total + v * v
    return total + v


@pytest.mark.parametrize("x", [3.0, 0.05, 0.5])
def test_a_while_loop_with_a_branch_and_zero_or_more_iterations(x):
    check(decay, x, 0.7)


def test_the_reverse_of_a_while_loop_runs_as_many_times_as_the_forward_one():
    src = derivative_source(newton_sqrt, args=(2.0,), black=False)
    assert "while True:" in src
    assert re.search(r"for \w+ in reversed\(range\(trips\)\):", src)
    assert "if ¬" in ir_text(newton_sqrt)


def while_inside_for(x, n):
    total = 0.0
    for i in range(n):
        v = x * (i + 1)
        while v > 1.0:
            v = v * 0.5
        total = total + v * v
    return total


@pytest.mark.parametrize("x", [0.3, 2.5])
def test_a_while_loop_nested_in_a_for_loop(x):
    check(while_inside_for, x, 4, argnums=(0,))


def backwards_loop(x, n):
    s = x
    for i in reversed(range(1, n)):
        s = math.sin(s * i) + s
    return s


def test_a_loop_over_a_reversed_range_is_reversed_again_by_the_adjoint():
    check(backwards_loop, 0.4, 4, argnums=(0,))
    src = derivative_source(backwards_loop, args=(0.4, 4), black=False)
    assert "for i in reversed(range(1, n)):" in src and "for i in range(1, n):" in src


def with_continue(x, n):
    s = 0.0
    for i in range(n):
        if i % 2 == 1:
            continue
        t = np.sin(x * i)
        if t < 0:
            continue
        s = s + t * x
    return s


@pytest.mark.parametrize("x", [0.4, 1.3])
def test_continue_skips_the_rest_of_the_iteration(x):
    check(with_continue, x, 7, argnums=(0,))


def continue_in_while(x):
    k = 0
    s = x
    while k < 5:
        k = k + 1
        if k == 2:
            continue
        s = s * 0.9 + np.cos(s)
    return s


def test_continue_in_a_while_loop():
    check(continue_in_while, 0.3)


def first_big(x, n):
    s = 0.0
    for i in range(n):
        s = s + math.sin(x * i)
        if s > 1.0:
            break
        s = s * 1.1
    else:
        s = s - 10.0 * x  # runs only when the loop did not break
    return s


@pytest.mark.parametrize("x", [0.7, 0.01])
def test_break_and_the_else_clause_of_a_for_loop(x):
    check(first_big, x, 6, argnums=(0,))


def while_true(x):
    k = 0
    v = x
    while True:
        v = v * 1.3 + 0.1 * x
        k = k + 1
        if v > 5.0 or k > 20:
            break
    return v


def while_else(x):
    v = x
    while v < 3.0:
        v = v * 2.0
        if v > 2.5 and v < 2.9:
            break
    else:
        v = v + x * x
    return v


@pytest.mark.parametrize("x", [0.5, 4.0, 0.65])
def test_break_in_while_loops_and_their_else_clause(x):
    check(while_true, x)
    check(while_else, x)


def nested_break(x):
    total = 0.0
    for i in range(3):
        for j in range(5):
            total = total + x * (i + j)
            if total > 2.0 * (i + 1):
                break
    return total


def test_break_leaves_only_the_innermost_loop():
    check(nested_break, 0.4)


def compound_interest(rate, years, principal=1000.0):
    balance = principal
    for y in range(years):
        if balance > 1500.0:
            balance = balance * (1 + 0.5 * rate)
        else:
            balance = balance * (1 + rate)
    return balance


def bisect_like(a):
    lo, hi = 0.0, a
    mid = 0.5 * (lo + hi)
    while hi - lo > 1e-3:
        mid = 0.5 * (lo + hi)
        if mid * mid > a:
            hi = mid
        else:
            lo = mid
    return mid * mid + math.sin(a) * mid


def test_user_style_loops_with_defaults_tuple_assignment_and_branches():
    check(compound_interest, 0.05, 12, argnums=(0,))
    check(bisect_like, 2.0)


def sums(x):
    i = 10.0  # the generator's i is its own
    s = sum(x[i] ** 2 * (i + 1) for i in range(len(x)) if x[i] > 0)
    t = sum([x[0], x[1] * 2.0], 1.0)
    u = sum(np.sin(r) for r in np.outer(x, x))
    return s + t + np.sum(u) * i


def test_sum_of_a_generator_or_a_list_is_a_loop_adding_its_terms():
    check(sums, np.array([0.3, -0.7, 1.2]))


def unpacks_shape_and_rows(m):
    rows, cols = m.shape
    a, b = m  # its two rows
    s = 0.0
    for i in range(rows):
        s = s + np.sum(m[i] * a) * cols
    return s + np.sum(b * b)


def test_unpacking_a_shape_and_the_rows_of_an_array():
    check(unpacks_shape_and_rows, np.array([[0.3, -0.5, 1.0], [0.2, 0.7, -1.1]]))


def test_unpacking_into_the_wrong_number_of_names_raises_as_python_does():
    with pytest.raises(ValueError, match="cannot unpack 3 values into 2 names"):
        grad(unpacks_shape_and_rows)(np.ones((3, 2)))


def rnn_losses(W, xs):
    h = np.zeros(W.shape[0])
    losses = []
    states = []
    for x in xs:
        h = np.tanh(W @ h + x)
        losses.append(np.sum(h**2))
        states.append(h)
    H = np.stack(states)
    return sum(losses) + np.sum(H[-1] * H[0]) + len(losses)


def list_of_values(a, b):
    parts = [a, a * b]
    parts.append(np.sin(b))
    total = 0.0
    for p in parts:
        total = total + p * p
    return total + np.array(parts)[1] + sum(parts)


@pytest.mark.parametrize(
    "f, args",
    [(rnn_losses, (0.5 * np.eye(3) + 0.1, np.arange(12.0).reshape(4, 3) / 10)), (list_of_values, (0.7, -0.4))],
)
def test_lists_as_containers(f, args):
    check(f, *args)


def appends_to_argument(x, xs):
    xs.append(x)
    return x * 2.0


def appended_array_written_later(x):
    y = x * 1.0
    parts = [y]
    y[0] = 5.0  # the list holds y itself: Python's list sees the write
    return np.sum(parts[0])


@pytest.mark.parametrize("f, args", [(appends_to_argument, (1.0, [])), (appended_array_written_later, (np.ones(3),))])
def test_list_writes_python_would_see_differently_are_rejected(f, args):
    with pytest.raises(UnsupportedSyntaxError):
        grad(f)(*args)
