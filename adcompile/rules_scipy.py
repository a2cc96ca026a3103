"""Rules for ``scipy.special``, registered only when SciPy is installed: ``primitives.lookup`` imports this module
the first time it is asked about an object of SciPy's (so ``import adcompile`` does not import SciPy). The functions
are primitives like NumPy's: a call anywhere in differentiated code gets these rules.
"""

from __future__ import annotations

import numpy as np
import scipy.special as sps

from . import avals as A
from .primitives import NEW_OBJECTS, derivative, jvp, primitive, vjp
from .runtime import expand_to, unbroadcast

# ── elementwise ──────────────────────────────────────────────────────────────────────────────────────


@derivative(sps.expit)
def _(g, ans, x):
    return g * ans * (1 - ans)


@derivative(sps.logit)
def _(g, ans, x):
    return g / (x * (1 - x))


@derivative(sps.erf)
def _(g, ans, x):
    return g * 1.1283791670955126 * np.exp(-x * x)  # 2 / sqrt(pi)


@derivative(sps.erfc)
def _(g, ans, x):
    return -g * 1.1283791670955126 * np.exp(-x * x)


@derivative(sps.gammaln)
def _(g, ans, x):
    return g * sps.digamma(x)


@derivative(sps.digamma)
def _(g, ans, x):
    return g * sps.polygamma(1, x)


@derivative(sps.polygamma)
def _(g, ans, n, x):
    return None, g * sps.polygamma(n + 1, x)


@derivative(sps.log_expit)
def _(g, ans, x):
    return g * sps.expit(-x)


@vjp(sps.xlogy)
def _(g, ans, x, y):
    return unbroadcast(g * np.log(y), x), unbroadcast(g * x / y, y)


@jvp(sps.xlogy)
def _(g, ans, x, y):
    return g * np.log(y), g * x / y


# ── over an axis ─────────────────────────────────────────────────────────────────────────────────────


@vjp(sps.logsumexp, shape=A.reduction_float)
def _(g, ans, a, axis=None, keepdims=False):
    return expand_to(g, a, axis, keepdims) * np.exp(a - expand_to(ans, a, axis, keepdims))  # the softmax weights


@jvp(sps.logsumexp)
def _(g, ans, a, axis=None, keepdims=False):
    return np.sum(g * np.exp(a - expand_to(ans, a, axis, keepdims)), axis=axis, keepdims=keepdims)


@vjp(sps.softmax, shape=A.like_first)
def _(g, ans, x, axis=None):
    return ans * (g - np.sum(g * ans, axis=axis, keepdims=True))


@jvp(sps.softmax)
def _(g, ans, x, axis=None):
    return ans * (g - np.sum(g * ans, axis=axis, keepdims=True))


@vjp(sps.log_softmax, shape=A.like_first)
def _(g, ans, x, axis=None):
    return g - np.exp(ans) * np.sum(g, axis=axis, keepdims=True)


@jvp(sps.log_softmax)
def _(g, ans, x, axis=None):
    return g - np.sum(np.exp(ans) * g, axis=axis, keepdims=True)


_FLOAT = (sps.expit, sps.logit, sps.erf, sps.erfc, sps.gammaln, sps.digamma, sps.polygamma, sps.log_expit, sps.xlogy)
for _fn in _FLOAT:
    primitive(_fn).shape_rule = A.elementwise_float
NEW_OBJECTS.update(id(_fn) for _fn in (*_FLOAT, sps.logsumexp, sps.softmax, sps.log_softmax))
