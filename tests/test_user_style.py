"""Three functions written as a user would (a smooth hinge loss over a loop with branches, a damped pendulum
stepped on floats, attention pooling with an in-place normalisation), each checked against finite differences."""

import math

import numpy as np
import pytest
from fd import numeric_grad

from adcompile import grad


def smooth_hinge(w, X, y, lam=0.01):
    margins = y * (X @ w)
    losses = []
    for m in margins:
        if m < 0.0:
            losses.append(0.5 - m)
        elif m < 1.0:
            losses.append(0.5 * (1.0 - m) ** 2)
        else:
            losses.append(0.0 * m)
    return sum(losses) / len(losses) + lam * np.dot(w, w)


def damped_pendulum(theta0, omega0, k):
    theta, omega = theta0, omega0
    dt = 0.05
    for _ in range(40):
        omega = omega - dt * (math.sin(theta) + k * omega)
        theta = theta + dt * omega
    return theta * theta + 0.1 * omega


def attention_pool(Q, K, V):
    scores = Q @ K.T / math.sqrt(K.shape[1])
    scores = scores - scores.max(axis=1, keepdims=True)
    weights = np.exp(scores)
    weights /= weights.sum(axis=1, keepdims=True)
    out = weights @ V
    return np.sum(np.tanh(out))


def huber_total(residuals, delta):
    total = 0.0
    for r in residuals:
        a = abs(r)
        if a <= delta:
            total = total + 0.5 * r * r
        else:
            total = total + delta * (a - 0.5 * delta)
    return total


def projectile_range(speed, angle):
    g = 9.81
    vx = speed * math.cos(angle)
    vy = speed * math.sin(angle)
    t_flight = 2.0 * vy / g
    return vx * t_flight + 0.1 * speed**2


def softmax_entropy(logits, temperature):
    z = logits / temperature
    z = z - np.max(z)
    p = np.exp(z) / np.sum(np.exp(z))
    return -np.sum(p * np.log(p))


RNG = np.random.default_rng(3)
W, X, Y = RNG.normal(size=4), RNG.normal(size=(12, 4)), np.sign(RNG.normal(size=12))
CASES = [
    (smooth_hinge, (W, X, Y), (0,)),
    (damped_pendulum, (0.7, -0.3, 0.4), (0, 1, 2)),
    (attention_pool, (RNG.normal(size=(3, 5)), RNG.normal(size=(4, 5)), RNG.normal(size=(4, 2))), (0, 1, 2)),
    (huber_total, (np.array([0.3, -2.0, 1.5, -0.1]), 1.0), (0, 1)),
    (projectile_range, (12.0, 0.7), (0, 1)),
    (softmax_entropy, (np.array([0.2, -1.0, 3.0, 0.5]), 1.7), (0, 1)),
]


@pytest.mark.parametrize("f, args, argnums", CASES, ids=[c[0].__name__ for c in CASES])
def test_user_style_functions_match_finite_differences(f, args, argnums):
    derivative = grad(f, argnums=argnums)
    for _ in range(2):  # the first call compiles; the second runs the adjoint as the function grad returned
        for g, i in zip(derivative(*args), argnums):
            np.testing.assert_allclose(g, numeric_grad(f, args, i), rtol=1e-6, atol=1e-8)
