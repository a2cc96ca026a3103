"""A one-weight neuron's squared error, L = (a·w + b − y)², and the chain rule through sin(x²).

python examples/neuron.py
adcompile show examples/neuron.py:loss --wrt w,b --at 1.5 0.3 -0.2 0.7
"""

import numpy as np

from adcompile import grad, value_and_grad


def loss(a, w, b, y):
    prediction = a * w + b
    return (prediction - y) ** 2


def sin_of_square(x):
    return np.sin(x * x)


if __name__ == "__main__":
    a, w, b, y = 1.5, 0.3, -0.2, 0.7
    value, (dw, db) = value_and_grad(loss, argnums=(1, 2))(a, w, b, y)
    r = a * w + b - y
    print(f"L = {value:.6f}")
    print(f"∂L/∂w = {dw:.6f}   closed form 2·r·a = {2 * r * a:.6f}")
    print(f"∂L/∂b = {db:.6f}   closed form 2·r   = {2 * r:.6f}")

    # a few steps of gradient descent on w and b
    step = grad(loss, argnums=(1, 2))
    for _ in range(50):
        dw, db = step(a, w, b, y)
        w, b = w - 0.1 * dw, b - 0.1 * db
    print(f"after 50 steps: w = {w:.4f}, b = {b:.4f}, L = {loss(a, w, b, y):.2e}")

    x = 0.7
    print(f"d/dx sin(x²) at {x} = {grad(sin_of_square)(x):.6f}   closed form 2x·cos(x²) = {2 * x * np.cos(x * x):.6f}")
