"""A two-layer tanh network trained by gradient descent on a toy 3-class problem, its gradient compiled by grad.

python examples/mlp.py
adcompile show examples/mlp.py:loss --wrt W1,b1,W2,b2     # the adjoint that each training step runs
"""

import numpy as np

from adcompile import value_and_grad


def log_softmax(z):
    """Row-wise log-softmax; the row maximum is subtracted first so that exp cannot overflow."""
    s = z - np.max(z, axis=1, keepdims=True)
    return s - np.log(np.sum(np.exp(s), axis=1, keepdims=True))


def loss(W1, b1, W2, b2, X, Y):
    """Mean cross-entropy of softmax(tanh(X W1 + b1) W2 + b2) against one-hot labels Y."""
    h = np.tanh(X @ W1 + b1)
    return -np.sum(Y * log_softmax(h @ W2 + b2)) / X.shape[0]


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    centres = np.array([[2.0, 0.0], [-1.0, 1.7], [-1.0, -1.7]])
    labels = rng.integers(0, 3, size=90)
    X = centres[labels] + 0.6 * rng.normal(size=(90, 2))
    Y = np.eye(3)[labels]
    params = [0.5 * rng.normal(size=(2, 8)), np.zeros(8), 0.5 * rng.normal(size=(8, 3)), np.zeros(3)]

    step = value_and_grad(loss, argnums=(0, 1, 2, 3))
    for epoch in range(201):
        value, grads = step(*params, X, Y)
        params = [p - 0.5 * g for p, g in zip(params, grads)]
        if epoch % 40 == 0:
            print(f"step {epoch:3d}: loss {value:.4f}")
    W1, b1, W2, b2 = params
    accuracy = np.mean(np.argmax(np.tanh(X @ W1 + b1) @ W2 + b2, axis=1) == labels)
    print(f"training accuracy {accuracy:.0%}")
