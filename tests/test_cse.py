"""Repeated operations are computed once (cse.py) and sums accumulate in place where safe (inplace.py);
neither ever changes a result: writes, lists and tapes keep their own objects."""

import numpy as np
import pytest
from fd import numeric_grad, numeric_jacobian

from adcompile import derivative_source, grad, jacfwd


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def test_a_slice_written_twice_is_taken_once_and_its_adjoint_added_once():
    x = np.linspace(-1.0, 1.0, 6)
    source = derivative_source(rosenbrock, args=(x,))
    assert source.count("= x[:-1]\n") == 1 and source.count("bx[:-1] = ") == 1
    np.testing.assert_allclose(grad(rosenbrock)(x), numeric_grad(rosenbrock, (x,)), rtol=1e-7)


def twin_then_written(x):
    y = x * 2.0
    z = x * 2.0  # the same operation: merged with y
    y[0] = 5.0  # y changes; z must not
    return np.sum(y * z) + z[0]


def twin_lists(x):
    a = []
    b = []  # two empty lists: two lists
    for i in range(3):
        a.append(x[i] * 2.0)
        if i > 0:
            b.append(np.sin(x[i]))
    return sum(a) * len(b) + sum(b)


@pytest.mark.parametrize("f", [twin_then_written, twin_lists], ids=["write", "lists"])
def test_merged_operations_keep_python_semantics(f):
    x = np.array([0.3, -0.7, 1.1])
    np.testing.assert_allclose(grad(f)(x), numeric_grad(f, (x,)), rtol=1e-7, atol=1e-10)


def two_loops(x):
    s = x
    for i in range(2):
        s = np.sin(s) * x
    t = x
    for i in range(2):
        t = np.cos(t) + x * t
    return s * t


def test_the_tapes_of_two_loops_stay_two_tapes_in_a_second_derivative():
    x = 0.6
    assert grad(grad(two_loops))(x) == pytest.approx(float(numeric_jacobian(grad(two_loops), (x,), 0)), rel=1e-7)
    assert jacfwd(grad(two_loops))(x) == pytest.approx(grad(grad(two_loops))(x), rel=1e-12)


def signed_zeros(x):
    return x * 0.0 + x * -0.0


def test_literals_that_compare_equal_but_differ_are_not_merged():
    assert "x * -0.0" in derivative_source(signed_zeros, with_value=True, args=(1.0,))


# ── sums accumulated in place (inplace.py) ─────────────────────────────────────────────────────────────


def old_value_still_needed(x):
    y = x * 2.0
    z = y + 1.0  # y is read again below: z must be a new array
    return np.sum(y * z)


def rnn_loss(W, xs):
    h = np.zeros(3)
    loss = 0.0
    for t in range(xs.shape[0]):
        h = np.tanh(W @ h + xs[t])
        loss = loss + np.sum(h * h)
    return loss


def test_a_sum_is_not_done_in_place_while_its_first_operand_is_needed():
    x = np.array([0.5, -1.0, 2.0])
    assert "z = y + 1.0" in derivative_source(old_value_still_needed, args=(x,))
    np.testing.assert_allclose(grad(old_value_still_needed)(x), 8 * x + 2.0, rtol=1e-14)


def test_an_adjoint_summed_over_a_loop_accumulates_in_one_buffer():
    W, xs = np.array([[0.1, -0.2, 0.3], [0.0, 0.5, -0.1], [0.2, 0.1, 0.0]]), np.ones((4, 3)) * 0.3
    source = derivative_source(rnn_loss, args=(W, xs))
    assert "bW += " in source
    np.testing.assert_allclose(grad(rnn_loss)(W, xs), numeric_grad(rnn_loss, (W, xs)), rtol=1e-7, atol=1e-10)
    g32 = grad(rnn_loss)(W.astype(np.float32), xs.astype(np.float32))
    assert g32.dtype == np.float32
    np.testing.assert_allclose(g32, numeric_grad(rnn_loss, (W, xs)), rtol=1e-4, atol=1e-6)
