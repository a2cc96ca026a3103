r"""An Elman RNN unrolled by a for loop, trained to predict the next sample of a sine wave.

The hidden states are written into a preallocated array, H[t] = h; the forward sweep keeps what the reverse loop
needs on a tape, and the reverse loop runs over the time steps backwards (backpropagation through time).

python examples/rnn.py

The tape and the reverse loop, for 4 hidden units and 5 time steps:

    adcompile show examples/rnn.py:loss --wrt Wx,Wh,b,w_out --at "np.ones((4, 1))" "np.eye(4)" "np.zeros(4)" \
        "np.ones(4)" "np.ones((5, 1))" "np.ones(5)"
"""

import numpy as np

from adcompile import value_and_grad


def loss(Wx, Wh, b, w_out, xs, targets):
    """Mean squared error of the one-step-ahead predictions w_out · h_t."""
    U = xs @ Wx.T  # the input projection of every step
    H = np.zeros_like(U)
    h = np.zeros(Wh.shape[0])
    for t in range(xs.shape[0]):
        h = np.tanh(U[t] + Wh @ h + b)
        H[t] = h
    return np.mean((H @ w_out - targets) ** 2)


if __name__ == "__main__":
    rng = np.random.default_rng(1)
    wave = np.sin(np.linspace(0.0, 4.0 * np.pi, 41))
    xs, targets = wave[:-1, None], wave[1:]
    n = 6
    params = [0.5 * rng.normal(size=(n, 1)), 0.3 * rng.normal(size=(n, n)), np.zeros(n), 0.5 * rng.normal(size=n)]

    step = value_and_grad(loss, argnums=(0, 1, 2, 3))
    for epoch in range(301):
        value, grads = step(*params, xs, targets)
        params = [p - 0.1 * g for p, g in zip(params, grads)]
        if epoch % 60 == 0:
            print(f"step {epoch:3d}: loss {value:.5f}")
