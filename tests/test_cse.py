"""Repeated operations are computed once (cse.py) and sums accumulate in place where safe (inplace.py);
neither ever changes a result: writes, lists and tapes keep their own objects."""

import numpy as np
import pytest
from fd import numeric_grad, numeric_jacobian

from adcompile import derivative_source, grad, jacfwd


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def negated_in_the_source(x):
    t = 2.0 * x
    return np.sum(-t * x)


def test_a_negated_product_nothing_else_reads_is_one_product():
    """The adjoint of (1 - a) ** 2 negates 2 (1 - a): done as -2.0 * (1 - a). The user's own -t stays."""
    x = np.linspace(-1.0, 1.0, 6)
    source = derivative_source(rosenbrock, args=(x,))
    assert " = -2.0 * _t" in source and " = -_t" not in source
    user = derivative_source(negated_in_the_source, args=(x,))
    assert "t = 2.0 * x" in user and "= -t" in user
    np.testing.assert_allclose(grad(negated_in_the_source)(x), -4.0 * x, rtol=1e-14)  # f = -2 sum(x ** 2)


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


def gated_loss(w, xs):
    h = np.zeros(3)
    loss = 0.0
    for t in range(xs.shape[0]):
        h = np.tanh(w * h + xs[t])  # w elementwise: its adjoint gets bh * h each iteration
        loss = loss + np.sum(h * h)
    return loss


def test_an_adjoint_summed_over_a_loop_accumulates_in_one_buffer():
    w, xs = np.array([0.1, -0.2, 0.3]), np.ones((4, 3)) * 0.3
    source = derivative_source(gated_loss, args=(w, xs))
    assert "bw += " in source
    np.testing.assert_allclose(grad(gated_loss)(w, xs), numeric_grad(gated_loss, (w, xs)), rtol=1e-7, atol=1e-10)
    g32 = grad(gated_loss)(w.astype(np.float32), xs.astype(np.float32))
    assert g32.dtype == np.float32
    np.testing.assert_allclose(g32, numeric_grad(gated_loss, (w, xs)), rtol=1e-4, atol=1e-6)


W3 = np.array([[0.1, -0.2, 0.3], [0.0, 0.5, -0.1], [0.2, 0.1, 0.0]])


def rnn_with_bias(W, b, xs):
    h = np.zeros(3)
    loss = 0.0
    for t in range(1, xs.shape[0]):  # a loop that does not start at 0
        h = np.tanh(W @ h + xs[t] + b)
        loss = loss + np.sum(h * h)
    return loss


def test_outer_products_summed_over_a_loop_are_one_matrix_product_after_it():
    """bW gets np.outer(g_t, h_t) from every iteration: the g's and h's are kept, and multiplied once after the
    loop; bb, which gets g_t, is the sum of the kept g's."""
    xs = np.ones((5, 3)) * 0.3 + np.arange(15.0).reshape(5, 3) / 20
    args = (W3, np.array([0.1, 0.0, -0.2]), xs)
    source = derivative_source(rnn_with_bias, argnums=(0, 1), args=args)
    assert "np.outer" not in source and "bW = outer_sum(" in source and "bb = row_sum(" in source
    for i in (0, 1):
        got = grad(rnn_with_bias, argnums=(0, 1))(*args)[i]
        np.testing.assert_allclose(got, numeric_grad(rnn_with_bias, args, i), rtol=1e-7, atol=1e-10)
    g32 = grad(rnn_with_bias, argnums=(0, 1))(*(a.astype(np.float32) for a in args))
    assert all(g.dtype == np.float32 for g in g32)
    np.testing.assert_allclose(g32[0], numeric_grad(rnn_with_bias, args, 0), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("rows", [0, 1])
def test_a_loop_that_runs_zero_times_adds_no_outer_product(rows):
    """No rows kept: the adjoints stay exact zeros of their own shape and dtype."""
    for dtype in (np.float64, np.float32):
        args = (W3.astype(dtype), np.ones(3, dtype), np.ones((rows, 3), dtype))
        gW, gb = grad(rnn_with_bias, argnums=(0, 1))(*args)
        assert gW.shape == (3, 3) and gW.dtype == dtype and not gW.any()
        assert gb.shape == (3,) and gb.dtype == dtype and not gb.any()


def residual_rnn(W, xs):  # the adjoint of h, kept for bW, is also added into afterwards: never in place
    h = xs[0]
    for t in range(1, xs.shape[0]):
        z = W @ h
        h = np.tanh(z) + h * 0.5 + xs[t]
    return np.sum(h * h)


def two_matrices(W, V, xs):  # two products share the kept g's; a loop over an array's rows
    h = np.zeros(3)
    s = 0.0
    for x in xs:
        a = W @ h + V @ x
        h = np.sin(a)
        s = s + np.sum(h) * np.sum(a)
    return s


def nested_loops(W, xs):  # the inner reverse loop's sums are done after it, once per outer iteration
    h = np.ones(3) * 0.1
    for k in range(2):
        for t in range(xs.shape[0]):
            h = np.tanh(W @ h + xs[t])
    return np.sum(h)


def read_out_after_the_loop(W, xs):  # bW already holds a contribution when the reverse loop starts
    h = np.zeros(3)
    for t in range(xs.shape[0]):
        h = np.tanh(W @ h + xs[t])
    return np.sum(np.sin(W @ h))


V32 = np.array([[0.3, 0.1], [-0.2, 0.4], [0.1, 0.1]])
XS43 = np.arange(12.0).reshape(4, 3) / 10


@pytest.mark.parametrize(
    "f, args",
    [
        (residual_rnn, (W3, XS43)),
        (two_matrices, (W3, V32, XS43[:, :2])),
        (nested_loops, (W3, XS43)),
        (read_out_after_the_loop, (W3, XS43)),
    ],
)
@pytest.mark.parametrize("code", ["specialised", "generic"])
def test_batched_outer_products_match_finite_differences(f, args, code, monkeypatch):
    n = f.__code__.co_argcount - 1
    if code == "generic":
        monkeypatch.setattr("adcompile.api.MAX_SPECIALISATIONS", 0)
    else:
        assert "outer_sum(" in derivative_source(f, argnums=tuple(range(n)), args=args)
    grads = grad(f, argnums=tuple(range(n)))(*args)
    for i in range(n):
        np.testing.assert_allclose(grads[i], numeric_grad(f, args, i), rtol=1e-7, atol=1e-9)
