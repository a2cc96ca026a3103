"""The benchmark's workloads: each a plain function, its gradient written carefully by hand, and example arguments.

The functions are written once and run by every library: peers call the same code object with ``np``/``math``
rebound to their own module (see ``harness.rebind``), so they use only what NumPy, ``math``, autograd, JAX and
PyTorch spell alike. The hand-written gradients are what a careful person writes with NumPy or ``math``: a forward
sweep keeping what the adjoints need, then the adjoints, with no wasted work.

The last two workloads write into arrays inside loops; autograd, JAX and PyTorch refuse such writes, so they have
no peers (``peers=False``).
"""

from __future__ import annotations

import math

import numpy as np
from harness import Workload


# ---------------------------------------------------------------------------------------------------------------
# a scalar expression of three Python floats: 29 operations, math functions
# ---------------------------------------------------------------------------------------------------------------
def scalar_f(x, y, z):
    a = x * y - z / (1.0 + x * x)
    b = math.sin(a) * math.exp(-0.5 * y)
    c = math.log(1.0 + z * z) + math.sqrt(x * x + y * y + 1.0)
    d = math.tanh(b - c / 3.0)
    return d * d + a**3 - b / c + x * z**2


def scalar_grad(x, y, z):
    p = 1.0 + x * x
    a = x * y - z / p
    ey = math.exp(-0.5 * y)
    b = math.sin(a) * ey
    q = 1.0 + z * z
    r = math.sqrt(x * x + y * y + 1.0)
    c = math.log(q) + r
    d = math.tanh(b - c / 3.0)
    gu = 2.0 * d * (1.0 - d * d)  # d(d*d)/du, u = b - c/3
    gb = gu - 1.0 / c
    gc = b / (c * c) - gu / 3.0
    ga = 3.0 * a * a + gb * math.cos(a) * ey
    gx = z * z + gc * x / r + ga * (y + 2.0 * x * z / (p * p))
    gy = gc * y / r - 0.5 * gb * b + ga * x
    gz = 2.0 * x * z + 2.0 * gc * z / q - ga / p
    return gx, gy, gz


# ---------------------------------------------------------------------------------------------------------------
# vectorised Rosenbrock, with slices
# ---------------------------------------------------------------------------------------------------------------
def rosenbrock_f(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def rosenbrock_grad(x):
    a = x[:-1]
    r = x[1:] - a * a
    g = np.empty_like(x)
    g[:-1] = -400.0 * a * r - 2.0 * (1.0 - a)
    g[-1] = 0.0
    g[1:] += 200.0 * r
    return g


# ---------------------------------------------------------------------------------------------------------------
# logistic regression: mean log-loss, stable for any margin: log(1 + e^z) = log1p(e^-|z|) + max(z, 0)
# ---------------------------------------------------------------------------------------------------------------
def logistic_f(w, X, y):
    z = X @ w
    return np.mean(np.log1p(np.exp(-np.abs(z))) + 0.5 * (z + np.abs(z)) - y * z)


def logistic_grad(w, X, y):
    z = X @ w
    e = np.exp(-np.abs(z))
    p = np.where(z >= 0.0, 1.0, e) / (1.0 + e)  # the sigmoid of z, without overflow
    return X.T @ ((p - y) / len(y))


# ---------------------------------------------------------------------------------------------------------------
# a two-layer tanh MLP with softmax cross-entropy (one-hot labels Y), gradient for all weights and biases
# ---------------------------------------------------------------------------------------------------------------
def mlp_f(W1, b1, W2, b2, X, Y):
    h = np.tanh(X @ W1 + b1)
    z = h @ W2 + b2
    s = z - np.max(z, axis=1, keepdims=True)
    logp = s - np.log(np.sum(np.exp(s), axis=1, keepdims=True))
    return -np.sum(Y * logp) / X.shape[0]


def mlp_grad(W1, b1, W2, b2, X, Y):
    h = np.tanh(X @ W1 + b1)
    z = h @ W2 + b2
    e = np.exp(z - np.max(z, axis=1, keepdims=True))
    bz = (e / np.sum(e, axis=1, keepdims=True) - Y) / X.shape[0]  # softmax - Y: each row of Y sums to one
    ba = (bz @ W2.T) * (1.0 - h * h)
    return X.T @ ba, np.sum(ba, axis=0), h.T @ bz, np.sum(bz, axis=0)


# ---------------------------------------------------------------------------------------------------------------
# a tanh RNN unrolled by a Python loop, carrying h; the loss sums the squares of every hidden state
# ---------------------------------------------------------------------------------------------------------------
def rnn_f(Wh, Wx, b, xs, h0):
    h = h0
    loss = 0.0
    for t in range(xs.shape[0]):
        h = np.tanh(Wh @ h + Wx @ xs[t] + b)
        loss = loss + np.sum(h * h)
    return loss


def rnn_grad(Wh, Wx, b, xs, h0):
    T = xs.shape[0]
    H = np.empty((T + 1, h0.shape[0]))  # H[t + 1] is the state after step t
    H[0] = h0
    for t in range(T):
        H[t + 1] = np.tanh(Wh @ H[t] + Wx @ xs[t] + b)
    BA = np.empty((T, h0.shape[0]))  # adjoints of the pre-activations, one row per step
    bh = np.zeros(h0.shape[0])
    for t in range(T - 1, -1, -1):
        h = H[t + 1]
        BA[t] = (bh + 2.0 * h) * (1.0 - h * h)
        bh = BA[t] @ Wh
    return BA.T @ H[:-1], BA.T @ xs, np.sum(BA, axis=0)


# ---------------------------------------------------------------------------------------------------------------
# an elementwise chain over an array, summed
# ---------------------------------------------------------------------------------------------------------------
def chain_f(x):
    e = np.exp(np.sin(x))
    return np.sum(np.tanh(0.5 * e) * e + np.log(1.0 + x * x))


def chain_grad(x):
    e = np.exp(np.sin(x))
    t = np.tanh(0.5 * e)
    return (0.5 * (1.0 - t * t) * e + t) * e * np.cos(x) + 2.0 * x / (1.0 + x * x)


# ---------------------------------------------------------------------------------------------------------------
# a 100-step loop on two Python floats: x_{k+1} = x_k + sin(y_k) / 10, y_{k+1} = y_k - cos(x_k) / 10
# ---------------------------------------------------------------------------------------------------------------
def scalar_loop_f(x, y):
    for _ in range(100):
        u = x + 0.1 * math.sin(y)
        y = y - 0.1 * math.cos(x)
        x = u
    return x * y


def scalar_loop_grad(x, y):
    xs, ys = [x], [y]
    for _ in range(100):
        x, y = x + 0.1 * math.sin(y), y - 0.1 * math.cos(x)
        xs.append(x)
        ys.append(y)
    bx, by = y, x
    for k in range(99, -1, -1):
        bx, by = bx + 0.1 * by * math.sin(xs[k]), by + 0.1 * bx * math.cos(ys[k])
    return bx, by


# ---------------------------------------------------------------------------------------------------------------
# loops that write into arrays (no peers): a linear recurrence, and an RNN storing its states in H[t]
# ---------------------------------------------------------------------------------------------------------------
def recurrence_f(x, a):
    n = len(x)
    y = np.zeros(n)
    y[0] = x[0]
    for i in range(1, n):
        y[i] = a * y[i - 1] + x[i]
    return np.sum(y * y)


def recurrence_grad(x, a):
    n = len(x)
    y = np.zeros(n)
    y[0] = x[0]
    for i in range(1, n):
        y[i] = a * y[i - 1] + x[i]
    by = 2.0 * y
    bx = np.zeros(n)
    ba = 0.0
    for i in range(n - 1, 0, -1):
        g = by[i]
        bx[i] = g
        ba += g * y[i - 1]
        by[i - 1] += a * g
    bx[0] = by[0]
    return bx, ba


def rnn_store_f(W, xs):
    T, n = xs.shape
    H = np.zeros_like(xs)
    h = np.zeros(n)
    for t in range(T):
        h = np.tanh(W @ h + xs[t])
        H[t] = h
    return np.sum(H * H)


def rnn_store_grad(W, xs):
    T, n = xs.shape
    H = np.zeros_like(xs)
    h = np.zeros(n)
    for t in range(T):
        h = np.tanh(W @ h + xs[t])
        H[t] = h
    bH = 2.0 * H
    bW = np.zeros_like(W)
    bxs = np.zeros_like(xs)
    bh = np.zeros(n)
    for t in range(T - 1, -1, -1):
        bh = bh + bH[t]
        bz = bh * (1.0 - H[t] * H[t])
        prev = H[t - 1] if t > 0 else np.zeros(n)
        bW += np.outer(bz, prev)
        bxs[t] = bz
        bh = bz @ W
    return bW, bxs


# ---------------------------------------------------------------------------------------------------------------
def workloads() -> list[Workload]:
    """Every workload, in the order of the report; the arguments are drawn from fixed seeds."""
    rng = np.random.default_rng(20240607)

    def uniform(n, bound=1.5):
        return rng.uniform(-bound, bound, n)

    X = rng.standard_normal((1000, 100))
    w_true = rng.standard_normal(100) / 10.0
    labels = (rng.uniform(size=1000) < 1.0 / (1.0 + np.exp(-X @ w_true))).astype(np.float64)
    mlp_args = (
        rng.standard_normal((784, 256)) / 28.0,
        rng.standard_normal(256) / 10.0,
        rng.standard_normal((256, 10)) / 16.0,
        rng.standard_normal(10) / 10.0,
        rng.standard_normal((128, 784)),
        np.eye(10)[rng.integers(0, 10, 128)],
    )
    rnn_args = (
        rng.standard_normal((64, 64)) / 8.0,
        rng.standard_normal((64, 32)) / 6.0,
        rng.standard_normal(64) / 10.0,
        rng.standard_normal((20, 32)),
        np.zeros(64),
    )
    rng_loops = np.random.default_rng(0)
    return [
        Workload(
            "scalar-expr", "scalar expression, 29 ops on 3 floats", scalar_f, scalar_grad, (0.7, -1.3, 2.1), (0, 1, 2)
        ),
        Workload("rosenbrock-10", "rosenbrock, n=10", rosenbrock_f, rosenbrock_grad, (uniform(10),), 0),
        Workload("rosenbrock-1e3", "rosenbrock, n=1e3", rosenbrock_f, rosenbrock_grad, (uniform(1000),), 0),
        Workload("rosenbrock-1e6", "rosenbrock, n=1e6", rosenbrock_f, rosenbrock_grad, (uniform(1_000_000),), 0),
        Workload(
            "logistic",
            "logistic regression, X 1000×100",
            logistic_f,
            logistic_grad,
            (w_true + rng.standard_normal(100) / 10.0, X, labels),
            0,
        ),
        Workload("mlp", "tanh MLP 784-256-10, softmax CE, batch 128", mlp_f, mlp_grad, mlp_args, (0, 1, 2, 3)),
        Workload("rnn", "tanh RNN, T=20, hidden 64, input 32", rnn_f, rnn_grad, rnn_args, (0, 1, 2)),
        Workload("chain-1e3", "elementwise chain, n=1e3", chain_f, chain_grad, (uniform(1000, 2.0),), 0),
        Workload("chain-1e6", "elementwise chain, n=1e6", chain_f, chain_grad, (uniform(1_000_000, 2.0),), 0),
        Workload(
            "scalar-loop", "100-step loop, sin/cos on 2 floats", scalar_loop_f, scalar_loop_grad, (0.3, 0.7), (0, 1)
        ),
        Workload(
            "loop-recurrence",
            "y[i] = a y[i-1] + x[i] written in place, n=1e3",
            recurrence_f,
            recurrence_grad,
            (rng_loops.normal(size=1000), 0.9),
            (0, 1),
            peers=False,
        ),
        Workload(
            "loop-rnn-store",
            "RNN storing H[t] in place, T=50, n=16",
            rnn_store_f,
            rnn_store_grad,
            (0.3 * rng_loops.normal(size=(16, 16)), rng_loops.normal(size=(50, 16))),
            (0, 1),
            peers=False,
        ),
    ]
