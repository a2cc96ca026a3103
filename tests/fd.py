"""Central finite differences in float64: the reference every derivative test compares against."""

import numpy as np


def numeric_grad(f, args, argnum=0, eps=1e-6):
    """∂f/∂args[argnum] by central differences, with the argument's own shape (a float for a scalar)."""
    args = list(args)
    x = args[argnum]
    if np.ndim(x) == 0 and not isinstance(x, np.ndarray):
        args[argnum] = x + eps
        up = f(*args)
        args[argnum] = x - eps
        down = f(*args)
        return float((up - down) / (2 * eps))
    x = np.asarray(x, dtype=np.float64)
    out = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        args[argnum] = xp
        up = f(*args)
        args[argnum] = xm
        down = f(*args)
        out[i] = (up - down) / (2 * eps)
    return out


def numeric_jacobian(f, args, argnum=0, eps=1e-6):
    """∂f/∂args[argnum] by central differences, shaped f's output shape + the argument's shape."""
    args = list(args)
    x = np.asarray(args[argnum], dtype=np.float64)
    out = np.zeros(np.shape(f(*args)) + x.shape)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        args[argnum] = xp if x.shape else float(xp)
        up = f(*args)
        args[argnum] = xm if x.shape else float(xm)
        out[(...,) + i] = (up - f(*args)) / (2 * eps)
    return out
