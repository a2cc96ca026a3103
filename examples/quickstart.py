"""Quickstart: differentiate plain NumPy code and look at the derivative adcompile wrote.

Run it, then look at the generated gradient on the command line:

    python examples/quickstart.py
    adcompile show examples/quickstart.py:loss --wrt w,b
"""

import numpy as np

from adcompile import derivative_source, grad, value_and_grad


def f(x):
    return x * np.sin(x) + np.exp(-x * x)


def loss(w, b, X, y):
    """Mean squared error of a linear model with a tanh squashing."""
    pred = np.tanh(np.sum(X * w, axis=1) + b)
    err = pred - y
    return np.mean(err * err)


if __name__ == "__main__":
    df = grad(f)
    print("f'(1.3)            =", df(1.3))
    print("closed form        =", np.sin(1.3) + 1.3 * np.cos(1.3) - 2 * 1.3 * np.exp(-1.3 * 1.3))

    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    y = np.tanh(X @ np.array([0.5, -1.0, 2.0]))
    w, b = np.zeros(3), 0.0
    step = value_and_grad(loss, argnums=(0, 1))
    for _ in range(200):
        value, (dw, db) = step(w, b, X, y)
        w, b = w - 0.5 * dw, b - 0.5 * db
    print(f"loss after 200 steps = {value:.5f}")

    print("\nThe gradient adcompile generated for these argument shapes:\n")
    print(derivative_source(loss, argnums=(0, 1), args=(w, b, X, y)))
