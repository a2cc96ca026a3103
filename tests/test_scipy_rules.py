"""scipy.special's rules (registered when SciPy is installed), in code a user would write."""

import numpy as np
import pytest
from fd import numeric_grad

from adcompile import grad

sps = pytest.importorskip("scipy.special")

RNG = np.random.default_rng(5)
X = RNG.normal(size=(3, 4))
Y = (RNG.uniform(size=(3, 4)) > 0.5) * 1.0


def classifier_loss(w, x):
    logits = x @ w
    return -np.sum(sps.log_softmax(logits, axis=1)[:, 0]) + sps.logsumexp(logits, axis=0, keepdims=True)[0, 1]


def bernoulli(w, x):
    p = sps.expit(x * w)
    return -np.sum(Y * np.log(p) + (1 - Y) * np.log(1 - p)) + np.sum(sps.erf(w) * sps.gammaln(2.0 + w * w))


def attention_weights(q, k):
    return np.sum(sps.softmax(q @ k.T, axis=-1) ** 2)


@pytest.mark.parametrize(
    "f, args",
    [
        (classifier_loss, (RNG.normal(size=(4, 3)), X)),
        (bernoulli, (RNG.normal(size=(3, 4)), X)),
        (attention_weights, (X, RNG.normal(size=(5, 4)))),
    ],
)
def test_scipy_special_in_a_model(f, args):
    grads = grad(f, argnums=(0, 1))(*args)
    for i, g in enumerate(grads):
        np.testing.assert_allclose(g, numeric_grad(f, args, i), rtol=1e-6, atol=1e-8)
