"""Functions written the way a user would, none of them shaped to the compiler: checked against finite differences."""

import numpy as np
from fd import numeric_grad

from adcompile import grad, hessian

RNG = np.random.default_rng(2)


def portfolio_risk(weights, cov):
    w = weights / np.sum(weights)
    var = w @ cov @ w
    penalty = 0.0
    for i in range(len(w)):
        if w[i] > 0.4:
            penalty += (w[i] - 0.4) ** 2
    return np.sqrt(var) + 10.0 * penalty


def smooth_path(points):
    diffs = points[1:] - points[:-1]
    lengths = np.sqrt(np.sum(diffs**2, axis=1) + 1e-9)
    curv = np.zeros(len(points) - 2)
    for k in range(1, len(points) - 1):
        curv[k - 1] = np.sum((points[k + 1] - 2 * points[k] + points[k - 1]) ** 2)
    return np.sum(lengths) + 0.5 * curv.sum()


def softmax_regression(W, X, labels):
    scores = X @ W
    scores -= scores.max(axis=1, keepdims=True)
    logp = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
    return -np.mean(logp[np.arange(len(labels)), labels])


def test_portfolio_risk_with_a_penalty_loop():
    a = RNG.normal(size=(4, 4))
    args = (np.array([0.5, 0.2, 0.2, 0.1]), a @ a.T + np.eye(4))
    np.testing.assert_allclose(grad(portfolio_risk)(*args), numeric_grad(portfolio_risk, args), rtol=1e-6, atol=1e-9)


def test_path_length_and_curvature_filled_in_a_loop():
    args = (RNG.normal(size=(6, 2)),)
    np.testing.assert_allclose(grad(smooth_path)(*args), numeric_grad(smooth_path, args), rtol=1e-6, atol=1e-9)


def test_softmax_regression_with_an_in_place_shift_and_fancy_indexing():
    args = (RNG.normal(size=(3, 4)), RNG.normal(size=(5, 3)), np.array([0, 3, 1, 2, 0]))
    got = grad(softmax_regression)(*args)
    np.testing.assert_allclose(got, numeric_grad(softmax_regression, args), rtol=1e-6, atol=1e-9)


def test_huber_loop_recursive_splitting_and_a_mixture_likelihood_match_finite_differences():
    import user_models as m

    rng = np.random.default_rng(1)
    X, y, p = rng.normal(size=(8, 3)), rng.normal(size=8), rng.normal(size=4)
    np.testing.assert_allclose(grad(m.huber_loss)(p, X, y), numeric_grad(m.huber_loss, (p, X, y)), rtol=1e-6, atol=1e-9)
    x = rng.normal(size=8)
    np.testing.assert_allclose(grad(m.tree_depth_cost)(x, 2), numeric_grad(m.tree_depth_cost, (x, 2)), rtol=1e-6)
    mu, data = np.array([-1.0, 0.5, 2.0]), rng.normal(size=20)
    nll = m.gaussian_mixture_nll
    np.testing.assert_allclose(grad(nll)(mu, data), numeric_grad(nll, (mu, data)), rtol=1e-6)
    rows = [numeric_grad(lambda v, k=k: grad(nll)(v, data)[k], (mu,)) for k in range(3)]
    np.testing.assert_allclose(hessian(nll)(mu, data), np.stack(rows), rtol=1e-5, atol=1e-8)
