"""Functions written as a user would, for tests/test_user_functions.py: a Huber loss looping over residuals,
recursive splitting with a branch on the data, and a Gaussian-mixture likelihood built from a list."""

import math

import numpy as np


def huber_loss(params, X, y, delta=1.0):
    w, b = params[:-1], params[-1]
    resid = X @ w + b - y
    total = 0.0
    for r in resid:
        if abs(r) <= delta:
            total += 0.5 * r * r
        else:
            total += delta * (abs(r) - 0.5 * delta)
    return total / len(resid)


def tree_depth_cost(x, depth):
    """Recursive binary splitting with a branch inside."""
    if depth == 0:
        return np.sum(np.log1p(x * x))
    half = x.shape[0] // 2
    left, right = x[:half], x[half:]
    scale = 0.5 if np.mean(left) > 0 else 1.5
    return scale * tree_depth_cost(left, depth - 1) + tree_depth_cost(right * 0.9, depth - 1)


def gaussian_mixture_nll(mu, data, sigma=0.7):
    k = mu.shape[0]
    logps = []
    for j in range(k):
        z = (data - mu[j]) / sigma
        logps.append(-0.5 * z ** 2 - math.log(sigma * math.sqrt(2 * math.pi)) - math.log(k))
    stacked = np.stack(logps)
    top = np.max(stacked, axis=0)
    return -np.sum(top + np.log(np.sum(np.exp(stacked - top), axis=0)))
