"""Realistic functions, written the way a user writes them, differentiated end to end.

Each function is plain NumPy — loops, indexing, helpers, in-place writes into arrays it creates — and each gradient,
for every differentiated argument, is checked against central differences in float64, in the adjoint specialised
to the arguments and in the generic one. Where autograd can run the same code (no writes into arrays), its gradient
is a second opinion. Then: float32 inputs; the constructs the functions avoid, which must be refused with an
AdCompileError; and, marked xfail (strict), minimal reproducers of the wrong gradients and dtypes found here.
"""

from __future__ import annotations

import types

import numpy as np
import pytest
from fd import numeric_grad

import adcompile
import adcompile.api
from adcompile import grad

RNG = np.random.default_rng(2024)


@pytest.fixture(params=["specialised", "generic"])
def code(request, monkeypatch):
    """Which adjoint ``grad`` runs: the one specialised to the arguments' shapes, or the shape-agnostic one."""
    if request.param == "generic":
        monkeypatch.setattr(adcompile.api, "MAX_SPECIALISATIONS", 0)
    return request.param


# ── the functions ────────────────────────────────────────────────────────────────────────────────────


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def logistic_loss(w, b, X, y, lam):
    """Mean binary cross-entropy of a logistic model plus an L2 penalty on the weights."""
    p = sigmoid(X @ w + b)
    nll = -np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))
    return nll + 0.5 * lam * np.sum(w * w)


def log_softmax(z):
    """Row-wise log-softmax, stable: the row maximum is subtracted first."""
    m = np.max(z, axis=1, keepdims=True)
    s = z - m
    return s - np.log(np.sum(np.exp(s), axis=1, keepdims=True))


def mlp_loss(W1, b1, W2, b2, X, Y):
    """Softmax cross-entropy of a 2-layer tanh network; Y is one-hot."""
    h = np.tanh(X @ W1 + b1)
    logits = h @ W2 + b2
    return -np.sum(Y * log_softmax(logits)) / X.shape[0]


def rnn_loss(Wx, Wh, b, xs, target):
    """An Elman RNN over the rows of xs, the squared distance to the target summed over time."""
    h = np.zeros(Wh.shape[0])
    loss = 0.0
    for x in xs:
        h = np.tanh(Wx @ x + Wh @ h + b)
        loss = loss + np.sum((h - target) ** 2)
    return loss


def rnn_loss_stored(Wx, Wh, b, xs, target):
    """The same RNN keeping every hidden state in a preallocated array, the loss computed from it afterwards."""
    U = xs @ Wx.T  # the input projections of every step at once
    H = np.zeros_like(U)  # np.zeros((T, n)) with computed T, n is refused: shape tuples must be literals
    h = np.zeros(Wh.shape[0])
    for t in range(xs.shape[0]):
        h = np.tanh(U[t] + Wh @ h + b)
        H[t] = h
    return np.sum((H - target) ** 2)


def softmax_rows(z):
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def attention(Wq, Wk, Wv, X):
    """Single-head scaled dot-product attention, then the sum of squares of its output."""
    Q = X @ Wq
    K = X @ Wk
    V = X @ Wv
    d = Q.shape[-1]
    A = softmax_rows(Q @ K.T / np.sqrt(d))
    out = A @ V
    return np.sum(out**2)


def layer_norm(x, gamma, beta, W, c, eps=1e-5):
    """Layer norm over the last axis, then an affine map and a smooth readout."""
    mu = np.mean(x, axis=-1, keepdims=True)
    var = np.var(x, axis=-1, keepdims=True)
    xhat = (x - mu) / np.sqrt(var + eps)
    y = gamma * xhat + beta
    return np.sum(np.sin(y @ W + c))


def gaussian_nll(mu, L, x, c):
    """Negative log-likelihood of x under N(mu, L Lᵀ + c I), via Cholesky and a solve."""
    n = mu.shape[0]
    S = L @ L.T + c * np.eye(n)
    C = np.linalg.cholesky(S)
    r = x - mu
    alpha = np.linalg.solve(S, r)
    logdet = 2.0 * np.sum(np.log(np.diag(C)))
    return 0.5 * (r @ alpha + logdet + n * np.log(2.0 * np.pi))


def gaussian_nll_det_inv(mu, L, x, c):
    """The same likelihood with det and inv."""
    n = mu.shape[0]
    S = L @ L.T + c * np.eye(n)
    r = x - mu
    return 0.5 * (r @ np.linalg.inv(S) @ r + np.log(np.linalg.det(S)) + n * np.log(2.0 * np.pi))


def damped_oscillator(k, damping, x0, v0):
    """Explicit Euler for x'' = -k x - damping x', a fixed number of steps in a while loop; energy at the end."""
    dt = 0.01
    x = x0
    v = v0
    t = 0.0
    while t < 1.0:
        a = -k * x - damping * v
        x = x + dt * v
        v = v + dt * a
        t = t + dt
    return 0.5 * v * v + 0.5 * k * x * x


def trajectory(params, x0):
    """Euler steps of a 2-D damped oscillator in a for loop, the states stored in an array."""
    n_steps = 50
    dt = 0.02
    X = np.zeros((51, 2))  # np.zeros((n_steps + 1, 2)) is refused: shape tuples must be literals
    X[0] = x0
    for i in range(n_steps):
        pos = X[i, 0]
        vel = X[i, 1]
        acc = -params[0] * pos - params[1] * vel
        X[i + 1, 0] = pos + dt * vel
        X[i + 1, 1] = vel + dt * acc
    return np.sum(X[:, 0] ** 2)


def savings(rate, deposit, years):
    """Compound interest with a bonus rate above a balance threshold and a fee below another."""
    balance = 0.0
    for year in range(years):
        if balance > 1000.0:
            balance = balance * (1.0 + rate + 0.01)
        elif balance < 200.0:
            balance = balance * (1.0 + rate) - 5.0
        else:
            balance = balance * (1.0 + rate)
        balance = balance + deposit
    return balance


def thomas(a, b, c, d):
    """Solve the tridiagonal system with sub-diagonal a, diagonal b, super-diagonal c (a[0], c[-1] unused)."""
    n = d.shape[0]
    cp = np.zeros(n)
    dp = np.zeros(n)
    cp[0] = c[0] / b[0]
    dp[0] = d[0] / b[0]
    for i in range(1, n):
        m = b[i] - a[i] * cp[i - 1]
        cp[i] = c[i] / m
        dp[i] = (d[i] - a[i] * dp[i - 1]) / m
    x = np.zeros(n)
    x[n - 1] = dp[n - 1]
    for i in range(n - 2, -1, -1):
        x[i] = dp[i] - cp[i] * x[i + 1]
    return x


def thomas_loss(b, d, a, c, w):
    return np.sum(w * thomas(a, b, c, d) ** 2)


def running_stats(x, w):
    """A weighted cumulative sum, a running maximum kept by an if, and a loss mixing both."""
    n = x.shape[0]
    cs = np.zeros(n)
    total = 0.0
    best = x[0]
    for i in range(n):
        total = total + w * x[i]
        cs[i] = total
        if x[i] > best:
            best = x[i]
    return np.sum(cs**2) + 3.0 * best


def first_passage(x, threshold):
    """Accumulate squares until the running sum passes the threshold: returns from inside the loop."""
    s = 0.0
    for i in range(x.shape[0]):
        s = s + x[i] * x[i]
        if s > threshold:
            return s * x[i]
    return -s


def multi_head_attention(Wq, Wk, Wv, X):
    """Two heads of width 2, each head's output written into its columns of a preallocated array."""
    out = np.zeros_like(X)
    for head in range(2):
        q = X @ Wq[head]
        k = X @ Wk[head]
        v = X @ Wv[head]
        a = softmax_rows(q @ k.T / np.sqrt(2.0))
        out[:, 2 * head : 2 * head + 2] = a @ v
    return np.sum(out**2)


def forward_substitution(L, b):
    """Solve L y = b for lower-triangular L, row by row."""
    y = np.zeros(b.shape[0])
    for i in range(b.shape[0]):
        y[i] = (b[i] - L[i, :i] @ y[:i]) / L[i, i]
    return y


def gaussian_nll_by_hand(mu, A, x):
    """The Gaussian NLL with the triangular solve written out: 0.5 |C⁻¹(x - mu)|² + log det C."""
    S = A @ A.T + np.eye(3)
    C = np.linalg.cholesky(S)
    z = forward_substitution(C, x - mu)
    return 0.5 * z @ z + np.sum(np.log(np.diag(C)))


def cubic_root(a, c):
    """Newton's method for x³ + a x = c until the residual is tiny: a while True loop left by break."""
    x = 1.0
    while True:
        fx = x**3 + a * x - c
        if abs(fx) < 1e-13:
            break
        x = x - fx / (3 * x**2 + a)
    return x


def loan_interest(rate, principal, payment):
    """Total interest on a loan paid monthly until it is repaid or 30 years pass."""
    balance = principal
    months = 0
    paid = 0.0
    while balance > 0.0 and months < 360:
        interest = balance * rate / 12.0
        paid = paid + interest
        balance = balance + interest - payment
        months = months + 1
    return paid


def heat_equation(u0, kappa):
    """Explicit finite differences for u_t = u_xx with fixed ends, the Laplacian written into a slice."""
    u = u0.copy()
    for step in range(20):
        lap = np.zeros_like(u)
        lap[1:-1] = u[2:] - 2 * u[1:-1] + u[:-2]
        u = u + kappa * lap
    return np.sum(u**2)


def budgeted_sum(x, budget):
    """Add squares while they fit the budget (break); double the total if everything fit (for-else)."""
    total = 0.0
    for v in x:
        if total + v * v > budget:
            break
        total = total + v * v
    else:
        total = total * 2.0
    return total * np.sum(x)


def gru_loss(Wz, Wr, Wh, xs):
    """A GRU over the rows of xs; each weight matrix acts on [h, x], split by column slices (no np.concatenate)."""
    n = Wz.shape[0]
    h = np.zeros(n)
    for x in xs:
        z = sigmoid(Wz[:, :n] @ h + Wz[:, n:] @ x)
        r = sigmoid(Wr[:, :n] @ h + Wr[:, n:] @ x)
        candidate = np.tanh(Wh[:, :n] @ (r * h) + Wh[:, n:] @ x)
        h = (1 - z) * h + z * candidate
    return np.sum(h**2)


def leaky_relu(z, slope=0.01):
    return np.where(z > 0, z, slope * z)


def leaky_layer(W, x):
    h = leaky_relu(W @ x)
    return h @ h + np.linalg.norm(h)


GS_WEIGHTS = np.arange(1.0, 13.0).reshape(4, 3)  # a global: np.reshape inside needs a literal shape
TRANSITION = np.array([[1.0, 1.0], [0.0, 1.0]])  # globals: np.array([[...]]) inside the function is refused
OBSERVE = np.array([[1.0, 0.0]])


def gram_schmidt(A):
    """Classical Gram-Schmidt, each orthonormal column written into Q."""
    Q = np.zeros_like(A)
    for j in range(A.shape[1]):
        v = A[:, j]
        for k in range(j):
            v = v - (Q[:, k] @ A[:, j]) * Q[:, k]
        Q[:, j] = v / np.linalg.norm(v)
    return np.sum(Q * GS_WEIGHTS)


def kalman_nll(ys, Q, R):
    """Negative log-likelihood of a constant-velocity Kalman filter, the noise factors differentiated."""
    m = np.zeros(2)
    P = np.eye(2)
    nll = 0.0
    for t in range(ys.shape[0]):
        m = TRANSITION @ m
        P = TRANSITION @ P @ TRANSITION.T + Q @ Q.T
        S = OBSERVE @ P @ OBSERVE.T + R
        K = P @ OBSERVE.T @ np.linalg.inv(S)
        e = ys[t] - OBSERVE @ m
        nll = nll + 0.5 * (np.log(np.linalg.det(S)) + e @ np.linalg.solve(S, e))
        m = m + K @ e
        P = P - K @ OBSERVE @ P
    return nll


def gp_nll(log_ell, x, y):
    """Gaussian-process marginal likelihood with an RBF kernel, via Cholesky and a solve."""
    ell = np.exp(log_ell)
    d = x[:, None] - x[None, :]
    K = np.exp(-0.5 * d**2 / ell**2) + 0.1 * np.eye(x.shape[0])
    L = np.linalg.cholesky(K)
    return 0.5 * y @ np.linalg.solve(K, y) + np.sum(np.log(np.diag(L)))


# ── the cases ────────────────────────────────────────────────────────────────────────────────────────

N, D, H, K = 12, 3, 5, 4
X_DATA = RNG.normal(size=(N, D))
Y_BIN = (RNG.uniform(size=N) > 0.5).astype(float)
Y_ONEHOT = np.eye(K)[RNG.integers(0, K, size=N)]
T_STEPS, N_IN, N_HID = 6, 3, 4
XS = RNG.normal(size=(T_STEPS, N_IN))
TARGET = RNG.normal(size=N_HID) * 0.5
TOKENS = RNG.normal(size=(5, 4))
N_GAUSS = 4
THOMAS_N = 6


def case(name, f, args, argnums, autograd=True):
    return pytest.param(f, args, argnums, autograd, id=name)


CASES = [
    case(
        "logistic regression",
        logistic_loss,
        (RNG.normal(size=D) * 0.5, 0.1, X_DATA, Y_BIN, 0.3),
        (0, 1),
    ),
    case(
        "mlp softmax cross-entropy",
        mlp_loss,
        (
            RNG.normal(size=(D, H)) * 0.5,
            RNG.normal(size=H) * 0.1,
            RNG.normal(size=(H, K)) * 0.5,
            RNG.normal(size=K) * 0.1,
            X_DATA,
            Y_ONEHOT,
        ),
        (0, 1, 2, 3),
    ),
    case(
        "rnn loop over rows",
        rnn_loss,
        (
            RNG.normal(size=(N_HID, N_IN)) * 0.5,
            RNG.normal(size=(N_HID, N_HID)) * 0.5,
            RNG.normal(size=N_HID) * 0.1,
            XS,
            TARGET,
        ),
        (0, 1, 2, 3),
    ),
    case(
        "rnn hidden states stored in H[t]",
        rnn_loss_stored,
        (
            RNG.normal(size=(N_HID, N_IN)) * 0.5,
            RNG.normal(size=(N_HID, N_HID)) * 0.5,
            RNG.normal(size=N_HID) * 0.1,
            XS,
            TARGET,
        ),
        (0, 1, 2, 3),
        autograd=False,
    ),
    case(
        "scaled dot-product attention",
        attention,
        (RNG.normal(size=(4, 3)) * 0.5, RNG.normal(size=(4, 3)) * 0.5, RNG.normal(size=(4, 3)) * 0.5, TOKENS),
        (0, 1, 2, 3),
    ),
    case(
        "layer norm then affine",
        layer_norm,
        (
            RNG.normal(size=(3, 5)),
            1.0 + 0.1 * RNG.normal(size=5),
            0.1 * RNG.normal(size=5),
            RNG.normal(size=(5, 2)),
            RNG.normal(size=2),
        ),
        (0, 1, 2, 3, 4),
    ),
    case(
        "gaussian nll cholesky and solve",
        gaussian_nll,
        (RNG.normal(size=N_GAUSS), RNG.normal(size=(N_GAUSS, N_GAUSS)), RNG.normal(size=N_GAUSS), 0.5),
        (0, 1, 2, 3),
    ),
    case(
        "gaussian nll det and inv",
        gaussian_nll_det_inv,
        (RNG.normal(size=N_GAUSS), RNG.normal(size=(N_GAUSS, N_GAUSS)), RNG.normal(size=N_GAUSS), 0.5),
        (0, 1, 2, 3),
    ),
    case("damped oscillator, while loop", damped_oscillator, (4.0, 0.3, 1.0, 0.2), (0, 1, 2, 3)),
    case(
        "oscillator trajectory stored in an array",
        trajectory,
        (np.array([4.0, 0.3]), np.array([1.0, 0.2])),
        (0, 1),
        autograd=False,
    ),
    case("compound interest with branches", savings, (0.05, 150.0, 30), (0, 1)),
    case(
        "tridiagonal solve (Thomas)",
        thomas_loss,
        (
            4.0 + RNG.uniform(size=THOMAS_N),
            RNG.normal(size=THOMAS_N),
            RNG.uniform(-1, 1, THOMAS_N),
            RNG.uniform(-1, 1, THOMAS_N),
            RNG.uniform(0.5, 1.5, THOMAS_N),
        ),
        (0, 1, 2, 3),
        autograd=False,
    ),
    case(
        "cumulative sum and running max",
        running_stats,
        (np.array([0.3, -0.2, 0.9, 0.1, 1.4, -0.5]), 0.7),
        (0, 1),
        autograd=False,
    ),
    case(
        "early return inside a loop",
        first_passage,
        (np.array([0.3, -0.6, 0.9, 0.8, 1.1]), 1.0),
        (0, 1),
    ),
    case(
        "loop runs to the end without returning",
        first_passage,
        (np.array([0.3, -0.6, 0.9, 0.8, 1.1]), 10.0),
        (0, 1),
    ),
    case(
        "multi-head attention into column slices",
        multi_head_attention,
        (RNG.normal(size=(2, 4, 2)), RNG.normal(size=(2, 4, 2)), RNG.normal(size=(2, 4, 2)), TOKENS),
        (0, 1, 2, 3),
        autograd=False,
    ),
    case(
        "gaussian nll with forward substitution by hand",
        gaussian_nll_by_hand,
        (RNG.normal(size=3), RNG.normal(size=(3, 3)), RNG.normal(size=3)),
        (0, 1, 2),
        autograd=False,
    ),
    case("newton's method, while True and break", cubic_root, (2.0, 5.0), (0, 1)),
    case("loan interest, while with and", loan_interest, (0.06, 10000.0, 300.0), (0, 1, 2)),
    case("heat equation stencil", heat_equation, (RNG.normal(size=8), 0.2), (0, 1), autograd=False),
    case("break and for-else, breaks", budgeted_sum, (np.array([0.5, 0.7, 0.9, 1.1]), 1.2), (0, 1)),
    case("break and for-else, runs to the end", budgeted_sum, (np.array([0.5, 0.7, 0.9, 1.1]), 5.0), (0, 1)),
    case(
        "gru over rows",
        gru_loss,
        (RNG.normal(size=(3, 5)), RNG.normal(size=(3, 5)), RNG.normal(size=(3, 5)), RNG.normal(size=(4, 2))),
        (0, 1, 2, 3),
    ),
    case("leaky relu layer and a norm", leaky_layer, (RNG.normal(size=(4, 5)), RNG.normal(size=5)), (0, 1)),
    case("gram-schmidt into columns", gram_schmidt, (RNG.normal(size=(4, 3)),), (0,), autograd=False),
    case(
        "kalman filter likelihood",
        kalman_nll,
        (RNG.normal(size=(6, 1)), 0.3 * RNG.normal(size=(2, 2)), np.array([[0.5]])),
        (0, 1, 2),
    ),
    case("gaussian process likelihood", gp_nll, (0.2, np.linspace(0.0, 3.0, 6), RNG.normal(size=6)), (0, 1, 2)),
]


@pytest.mark.parametrize("f, args, argnums, autograd_ok", CASES)
def test_gradient_matches_finite_differences(f, args, argnums, autograd_ok, code):
    grads = grad(f, argnums=argnums)(*args)
    assert len(grads) == len(argnums)
    for i, g in zip(argnums, grads):
        assert np.shape(g) == np.shape(args[i]), f"argument {i}"
        np.testing.assert_allclose(g, numeric_grad(f, args, i), rtol=1e-5, atol=1e-7, err_msg=f"argument {i}")


@pytest.mark.parametrize("f, args, argnums, autograd_ok", CASES)
def test_value_and_grad_returns_the_value_and_the_same_gradient(f, args, argnums, autograd_ok, code):
    value, grads = adcompile.value_and_grad(f, argnums=argnums)(*args)
    assert value == pytest.approx(f(*args), rel=1e-12)
    for a, b in zip(grads, grad(f, argnums=argnums)(*args)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def test_one_derivative_serves_batches_of_every_size(code):
    """As in training with a ragged last batch: one grad object, several batch sizes, each compiled or generic."""
    rng = np.random.default_rng(5)
    weights = (rng.normal(size=(3, 5)), rng.normal(size=5), rng.normal(size=(5, 4)), rng.normal(size=4))
    step = grad(mlp_loss, argnums=(0, 1, 2, 3))
    for n in (12, 5, 1, 12):
        args = (*weights, rng.normal(size=(n, 3)), np.eye(4)[rng.integers(0, 4, size=n)])
        for i, g in enumerate(step(*args)):
            np.testing.assert_allclose(g, numeric_grad(mlp_loss, args, i), rtol=1e-5, atol=1e-8)


def hidden_states_of_computed_shape(Wh, xs):
    H = np.zeros((xs.shape[0], Wh.shape[0]))  # a shape computed at run time
    h = np.zeros(Wh.shape[0])
    for t in range(xs.shape[0]):
        h = np.tanh(Wh @ h + xs[t])
        H[t] = h
    return np.sum(H**2)


def test_hidden_states_in_an_array_of_computed_shape(code):
    args = (0.5 * np.eye(3), np.linspace(-1.0, 1.0, 12).reshape(4, 3))
    for i, g in enumerate(grad(hidden_states_of_computed_shape, argnums=(0, 1))(*args)):
        np.testing.assert_allclose(g, numeric_grad(hidden_states_of_computed_shape, args, i), rtol=1e-5, atol=1e-8)


# ── what the functions above avoid: refused with an AdCompileError that points at the construct ────────


def hidden_states_of_a_float_length(Wh, xs):
    H = np.zeros((np.sum(xs), Wh.shape[0]))  # a float cannot be a size
    return np.sum(H**2)


def leapfrog_from_arguments(Wh, xs):
    q = Wh
    p = xs
    for _ in range(3):
        p -= 0.1 * q[0]  # refused even when p is a float: write p = p - 0.1 * q[0]
        q = q + 0.1 * p[0]
    return np.sum(q * q) + np.sum(p * p)


REFUSED = [
    pytest.param(hidden_states_of_a_float_length, "a shape is a tuple of integers", id="np.zeros((float, n))"),
    pytest.param(leapfrog_from_arguments, "may modify an array that 'p' shares", id="p -= on a name of an argument"),
]


@pytest.mark.parametrize("f, message", REFUSED)
def test_constructs_avoided_above_are_refused_clearly(f, message):
    args = (0.5 * np.eye(3), np.ones((4, 3)))
    with pytest.raises(adcompile.AdCompileError, match=message) as error:
        grad(f, argnums=(0, 1))(*args)
    assert error.value.loc is not None and error.value.loc.filename == __file__


# ── autograd as a second opinion ─────────────────────────────────────────────────────────────────────


def with_numpy(f, xnp):
    """``f`` with ``np`` rebound to ``xnp`` in its globals, and so in every helper of this module it calls."""
    env = dict(f.__globals__, np=xnp)
    for name, value in f.__globals__.items():
        if isinstance(value, types.FunctionType) and value.__globals__ is f.__globals__:
            env[name] = types.FunctionType(value.__code__, env, name, value.__defaults__, value.__closure__)
    return env[f.__name__]


@pytest.mark.parametrize("f, args, argnums, autograd_ok", CASES)
def test_gradient_agrees_with_autograd(f, args, argnums, autograd_ok):
    if not autograd_ok:
        pytest.skip("autograd does not support writes into arrays")
    autograd = pytest.importorskip("autograd")
    theirs = autograd.grad(with_numpy(f, autograd.numpy), argnum=argnums)(*args)
    ours = grad(f, argnums=argnums)(*args)
    for i, a, b in zip(argnums, ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg=f"argument {i}")


# ── float32 ──────────────────────────────────────────────────────────────────────────────────────────


def as_float32(args):
    return tuple(
        a.astype(np.float32) if isinstance(a, np.ndarray) else np.float32(a) if isinstance(a, float) else a
        for a in args
    )


FLOAT32_NAMES = (
    "logistic regression",
    "mlp softmax cross-entropy",
    "layer norm then affine",
    "damped oscillator, while loop",
    "tridiagonal solve (Thomas)",
)
FLOAT32 = {c.id: c.values for c in CASES if c.id in FLOAT32_NAMES}


@pytest.mark.parametrize("name", sorted(FLOAT32))
def test_float32_gradient_matches_float64_finite_differences_loosely(name, code):
    f, args, argnums, _ = FLOAT32[name]
    grads = grad(f, argnums=argnums)(*as_float32(args))
    for i, g in zip(argnums, grads):
        assert np.shape(g) == np.shape(args[i]), f"argument {i}"
        np.testing.assert_allclose(g, numeric_grad(f, args, i), rtol=2e-3, atol=2e-4, err_msg=f"argument {i}")


# Where NumPy itself computes in float32 (no np.zeros, np.eye or other float64 constant in the function), the
# gradient should be float32 too. It is not always: the generic adjoint seeds the sweep with a float64 array
# (expand_to(1.0, ...)), and the adjoint of np.max shares it among the maxima as bool / int64, which is float64.
@pytest.mark.parametrize("name", sorted(FLOAT32))
def test_float32_inputs_give_float32_gradients(name, code):
    f, args, argnums, _ = FLOAT32[name]
    args32 = as_float32(args)
    if np.result_type(f(*args32)) != np.float32:
        pytest.skip("NumPy computes this function in float64 (np.zeros makes float64 arrays)")
    grads = grad(f, argnums=argnums)(*args32)
    assert [np.result_type(g) for g in grads] == [np.float32] * len(argnums)


def max_of_float32(x):
    return np.max(x)


def sum_of_squares(x):
    return np.sum(x * x)


def test_gradient_of_np_max_of_float32_is_float32(code):
    assert grad(max_of_float32)(np.array([0.3, 1.2, -0.5], dtype=np.float32)).dtype == np.float32


def test_gradient_of_a_sum_of_float32_squares_is_float32(code):
    assert grad(sum_of_squares)(np.array([0.3, 1.2, -0.5], dtype=np.float32)).dtype == np.float32


# ── wrong gradients found here ───────────────────────────────────────────────────────────────────────


def fill_then_rebind(x):
    s = np.zeros(4)
    for i in range(4):
        s[i] = x[i] ** 2
    s = np.sin(s)
    return np.sum(s * s)


def test_rebinding_an_array_filled_by_a_loop(code):
    x = np.array([0.3, 1.2, -0.5, 0.8])
    np.testing.assert_allclose(grad(fill_then_rebind)(x), numeric_grad(fill_then_rebind, (x,)), rtol=1e-6)


def causal_attention(Wq, Wk, X):
    """Scores masked above the diagonal in a loop, then a softmax written with in-place updates."""
    S = (X @ Wq) @ (X @ Wk).T
    for i in range(S.shape[0]):
        S[i, i + 1 :] = -np.inf
    S -= np.max(S, axis=-1, keepdims=True)
    P = np.exp(S)
    P /= np.sum(P, axis=-1, keepdims=True)
    return np.sum((P @ X) ** 2)


def test_causal_attention_with_in_place_softmax(code, request):
    rng = np.random.default_rng(11)
    args = (rng.normal(size=(4, 3)), rng.normal(size=(4, 3)), rng.normal(size=(5, 4)))
    grads = grad(causal_attention, argnums=(0, 1, 2))(*args)
    for i, g in enumerate(grads):
        np.testing.assert_allclose(g, numeric_grad(causal_attention, args, i), rtol=1e-5, atol=1e-7)


def normalised_features(x):
    """Polynomial features filled in a loop, then normalised under the same name."""
    phi = np.zeros(4)
    for k in range(4):
        phi[k] = x ** (k + 1)
    phi = phi / np.sqrt(np.sum(phi**2))
    return np.sum(phi * np.arange(1.0, 5.0))


def test_features_filled_by_a_loop_then_normalised(code):
    assert grad(normalised_features)(0.7) == pytest.approx(numeric_grad(normalised_features, (0.7,)), rel=1e-6)


def linear_scores_softmax(w, X):
    """Scores filled row by row, then exponentiated after the max is subtracted, under the same name."""
    s = np.zeros(X.shape[0])
    for i in range(X.shape[0]):
        s[i] = X[i] @ w
    s = np.exp(s - np.max(s))
    return -np.log(s[0] / np.sum(s))


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_scores_filled_by_a_loop_then_softmax(code):
    rng = np.random.default_rng(11)
    args = (rng.normal(size=3), rng.normal(size=(5, 3)))
    grads = grad(linear_scores_softmax, argnums=(0, 1))(*args)
    for i, g in enumerate(grads):
        np.testing.assert_allclose(g, numeric_grad(linear_scores_softmax, args, i), rtol=1e-5, atol=1e-7)


def bump_features(x):
    """A helper that makes an array and fills it in a loop."""
    out = np.zeros(3)
    for i in range(3):
        out[i] = np.exp(-((x - i) ** 2))
    return out


def feature_similarity(x, y):
    """The helper called twice: both calls' arrays are named out in generated code, and the second overwrites the
    first while the reverse sweep still needs it."""
    return np.sum(bump_features(x) * bump_features(y))


def test_a_helper_that_fills_an_array_called_twice(code):
    args = (0.4, 1.3)
    grads = grad(feature_similarity, argnums=(0, 1))(*args)
    for i, g in enumerate(grads):
        assert g == pytest.approx(numeric_grad(feature_similarity, args, i), rel=1e-6)


def update_a_row_in_a_loop(W, x):
    """p is a view of the argument's first row: in Python each p -= ... changes W, and the result reads W."""
    p = W[0]
    for _ in range(2):
        p -= 0.1 * x
    return np.sum(W**2)


def test_updating_a_view_of_an_argument_in_a_loop_is_refused(code):
    W = np.array([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(adcompile.AdCompileError, match="would also change the array that 'p' is a view of"):
        grad(update_a_row_in_a_loop)(W, np.array([0.5, -0.5]))


def fill_rows_through_a_view(x):
    """Each row of A filled through a name for it: in Python the writes into row change A."""
    A = np.zeros((2, 3))
    for j in range(2):
        row = A[j]
        for i in range(3):
            row[i] = x[i] * (j + 1)
    return np.sum(A**2)


def fill_a_row_through_a_view(x):
    A = np.zeros((2, 3))
    row = A[0]
    for i in range(3):
        row[i] = x[i]
    return np.sum(A**2)


def fill_through_a_reshaped_view_in_a_while_loop(x):
    A = np.zeros((2, 3))
    flat = A.reshape(6)
    i = 0
    while i < 3:
        flat[i] = x[i]
        i = i + 1
    return np.sum(A**2)


def double_the_head_in_a_loop(x):
    y = x * 1.0
    head = y[:2]
    for _ in range(2):
        head *= 2.0
    return np.sum(y**2)


@pytest.mark.parametrize(
    "f",
    [
        fill_a_row_through_a_view,
        fill_rows_through_a_view,
        fill_through_a_reshaped_view_in_a_while_loop,
        double_the_head_in_a_loop,
    ],
)
def test_writing_into_a_view_in_a_loop_is_refused(f, code):
    x = np.array([0.3, -0.2, 0.5])
    with pytest.raises(adcompile.AdCompileError, match="view"):
        grad(f)(x)


# ── cost ─────────────────────────────────────────────────────────────────────────────────────────────


def test_storing_hidden_states_in_a_loop_copies_no_array():
    """H[t] = h writes in place forward and backward; only the row read back (one state) is copied."""
    f, args, argnums, _ = next(c.values for c in CASES if c.id == "rnn hidden states stored in H[t]")
    src = adcompile.derivative_source(f, argnums=argnums, args=args)
    assert "np.copy(H)" not in src and "np.copy(bH)" not in src
    assert "H[t] = " in src and "bH[t] = 0.0" in src
