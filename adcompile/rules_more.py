"""More derivative rules: NaN-skipping reductions and scans, conversions, signal and interpolation functions,
covariance, and NumPy 2's array-API spellings.

Rules follow the conventions of :mod:`adcompile.rules`: no ``if``, only registered primitives, shape bookkeeping
in helpers. The helpers here are primitives too; those whose derivative (a second derivative of the function they
serve) is not written have rules returning ``None``, so differentiating through them raises
``NonDifferentiableError`` instead of treating them as constants.
"""

from __future__ import annotations

import numpy as np

from . import avals as A
from .errors import AdCompileError
from .ir import Const
from .primitives import NEW_OBJECTS, READ_ONLY_VIEWS, derivative, jvp, lookup, primitive, vjp
from .rules_shape import by_example, diagonal_adjoint
from .runtime import broadcast_like, expand_to, reshape_like, reverse_cumsum, unbroadcast
from .simplify import fold

# ── helpers ──────────────────────────────────────────────────────────────────────────────────────────


def _mode_window(a, v, mode: str, kind: str):
    """Where the ``mode`` part of the full convolution (correlation) of ``a`` and ``v`` starts, and its length."""
    m, n = np.size(a), np.size(v)
    if mode == "full":
        return 0, m + n - 1
    if mode == "valid":
        return min(m, n) - 1, max(m, n) - min(m, n) + 1
    if mode != "same":
        raise ValueError(f"np.{kind}() mode must be 'full', 'same' or 'valid', not {mode!r}")
    if kind == "correlate" and m < n:  # NumPy's correlate swaps its operands, and so centres differently
        return m // 2, n
    return (min(m, n) - 1) // 2, max(m, n)


def unmode(g, a, v, mode="full", kind="convolve"):
    """``g``, the adjoint of ``np.convolve(a, v, mode)`` (or ``np.correlate``), padded with zeros to the full
    result's length: the adjoint of cutting the ``mode`` part out of the full result."""
    start, length = _mode_window(a, v, mode, kind)
    full = np.size(a) + np.size(v) - 1
    return np.pad(np.broadcast_to(g, (length,)), (start, full - start - length))


def remode(h, a, v, mode="full", kind="convolve"):
    """The ``mode`` part of a full convolution (correlation) ``h`` of ``a`` and ``v``: the transpose of unmode."""
    start, length = _mode_window(a, v, mode, kind)
    return np.broadcast_to(h, (np.size(a) + np.size(v) - 1,))[start : start + length]


def trapezoid_weights(shape, x=None, dx=1.0, axis=-1):
    """The weights ``w`` (broadcastable to ``shape``) with ``np.trapezoid(y, x, dx, axis) == sum(w * y, axis)``."""
    n, ndim = shape[axis], len(shape)
    axis %= ndim
    if x is None:
        d = np.full(n - 1, float(dx))
    else:
        d = np.diff(np.asarray(x, dtype=float), axis=axis if np.ndim(x) > 1 else -1)
    widths = [(0, 0)] * np.ndim(d)
    widths[-1 if np.ndim(d) == 1 else axis] = (1, 0)
    w = np.pad(d, widths)
    widths[-1 if np.ndim(d) == 1 else axis] = (0, 1)
    w = (w + np.pad(d, widths)) / 2
    if np.ndim(d) == 1:
        w = np.reshape(w, (n,) + (1,) * (ndim - axis - 1))
    return w


def _interp_parts(x, xp):
    """For ``np.interp(x, xp, ...)``: the right end ``i`` of each x's segment, its position ``t`` in it, and
    where x lies left of, inside and right of ``xp``."""
    xp = np.asarray(xp, dtype=float)
    i = np.clip(np.searchsorted(xp, x, side="right"), 1, len(xp) - 1)
    t = (x - xp[i - 1]) / (xp[i] - xp[i - 1])
    return i, t, x < xp[0], (x >= xp[0]) & (x <= xp[-1]), x > xp[-1]


def interp_slope(x, xp, fp, left=None, right=None):
    """∂ np.interp(x, xp, fp) / ∂x: the slope of x's segment, 0 outside ``xp``'s range (constant there)."""
    i, _, _, inside, _ = _interp_parts(x, xp)
    xp, fp = np.asarray(xp, dtype=float), np.asarray(fp, dtype=float)
    return np.where(inside, (fp[i] - fp[i - 1]) / (xp[i] - xp[i - 1]), 0.0)[()]


def interp_tangent(t, x, xp, left=None, right=None):
    """The tangent of ``np.interp(x, xp, fp, left, right)`` for a tangent ``t`` of ``fp``: the interpolated ``t``
    (outside the range, ``t``'s end value where the constant is ``fp``'s end, 0 where it is ``left``/``right``)."""
    return np.interp(x, xp, t, left=None if left is None else 0.0, right=None if right is None else 0.0)


def interp_adjoint(g, x, xp, left=None, right=None):
    """The adjoint of ``fp`` in ``np.interp(x, xp, fp, left, right)``: ``g`` split between each segment's ends by
    the interpolation weights (the transpose of interp_tangent)."""
    i, t, below, inside, above = _interp_parts(x, xp)
    g = np.broadcast_to(g, np.shape(x))
    out = np.zeros(len(xp))
    np.add.at(out, i - 1, np.where(inside, g * (1 - t), 0.0))
    np.add.at(out, i, np.where(inside, g * t, 0.0))
    out[0] += np.sum(g[below]) if left is None else 0.0
    out[-1] += np.sum(g[above]) if right is None else 0.0
    return out


def cov_scale(shape, bias=False, ddof=None):
    """``1 / (N - ddof)`` for ``np.cov`` of a matrix of ``shape`` (variables in rows, N observations)."""
    if ddof is None:
        ddof = 0 if bias else 1
    return 1.0 / (shape[-1] - ddof)


# ── NaN-skipping reductions and scans: NaN elements get the derivative zero ───────────────────────────
# np.nanprod is the product with NaN replaced by 1, np.nancumsum/np.nancumprod the running sum/product with NaN
# replaced by 0/1, np.nanvar/np.nanstd the variance of the elements that are not NaN (N counts them, less ddof):
# each rule is its NaN-free counterpart's on the replaced array, times the mask of elements that are not NaN.
# Zeros in products are exact, as for np.prod and np.cumprod.


@vjp(np.nanprod, shape=A.reduction)
def _(g, ans, x, axis=None, keepdims=False):
    counted = np.logical_not(np.isnan(x))
    zero = x == 0
    nonzero = np.where(zero, 1.0, np.where(counted, x, 1.0))
    rest = np.prod(nonzero, axis=axis, keepdims=True)
    zeros = np.sum(zero, axis=axis, keepdims=True)
    others = np.where(zero, rest * (zeros == 1), rest * (zeros == 0) / nonzero)
    return expand_to(g, x, axis, keepdims) * (others * counted)


@jvp(np.nanprod)
def _(g, ans, x, axis=None, keepdims=False):
    counted = np.logical_not(np.isnan(x))
    zero = x == 0
    nonzero = np.where(zero, 1.0, np.where(counted, x, 1.0))
    rest = np.prod(nonzero, axis=axis, keepdims=True)
    zeros = np.sum(zero, axis=axis, keepdims=True)
    others = np.where(zero, rest * (zeros == 1), rest * (zeros == 0) / nonzero)
    return np.sum(g * (others * counted), axis=axis, keepdims=keepdims)


@vjp(np.nanvar, shape=A.reduction_float)
def _(g, ans, x, axis=None, ddof=0, keepdims=False):
    counted = np.logical_not(np.isnan(x))
    n = np.sum(counted, axis=axis, keepdims=True) - ddof
    centred = np.where(counted, x - np.nanmean(x, axis=axis, keepdims=True), 0.0)
    return expand_to(g, x, axis, keepdims) * (centred * (2 / n))


@jvp(np.nanvar)
def _(g, ans, x, axis=None, ddof=0, keepdims=False):
    counted = np.logical_not(np.isnan(x))
    n = np.sum(counted, axis=axis, keepdims=True) - ddof
    centred = np.where(counted, x - np.nanmean(x, axis=axis, keepdims=True), 0.0)
    return np.sum(g * (centred * (2 / n)), axis=axis, keepdims=keepdims)


@vjp(np.nanstd, shape=A.reduction_float)
def _(g, ans, x, axis=None, ddof=0, keepdims=False):
    counted = np.logical_not(np.isnan(x))
    n = np.sum(counted, axis=axis, keepdims=True) - ddof
    centred = np.where(counted, x - np.nanmean(x, axis=axis, keepdims=True), 0.0)
    return expand_to(g / ans, x, axis, keepdims) * (centred / n)


@jvp(np.nanstd)
def _(g, ans, x, axis=None, ddof=0, keepdims=False):
    counted = np.logical_not(np.isnan(x))
    n = np.sum(counted, axis=axis, keepdims=True) - ddof
    centred = np.where(counted, x - np.nanmean(x, axis=axis, keepdims=True), 0.0)
    return np.sum(g * (centred / n), axis=axis, keepdims=keepdims) / ans


@vjp(np.nancumsum, shape=A.scan)
def _(g, ans, x, axis=None):
    return reshape_like(reverse_cumsum(g, axis), x) * np.logical_not(np.isnan(x))


@jvp(np.nancumsum)
def _(g, ans, x, axis=None):
    return np.cumsum(g * np.logical_not(np.isnan(x)), axis=axis)


@vjp(np.nancumprod, shape=A.scan)
def _(g, ans, x, axis=None):
    counted = np.logical_not(np.isnan(x))
    v = reshape_like(np.where(counted, x, 1.0), ans)
    zero = v == 0
    first = zero * (np.cumsum(zero, axis=axis) == 1)  # the first zero along the axis
    skip = np.cumprod(np.where(first, 1.0, v), axis=axis)
    before = reverse_cumsum(g * ans, axis) / np.where(zero, 1.0, v)
    return reshape_like(np.where(first, reverse_cumsum(g * skip, axis), np.where(zero, 0.0, before)), x) * counted


@jvp(np.nancumprod)
def _(g, ans, x, axis=None):
    counted = np.logical_not(np.isnan(x))
    v = reshape_like(np.where(counted, x, 1.0), ans)
    t = reshape_like(g * counted, ans)
    zero = v == 0
    first = zero * (np.cumsum(zero, axis=axis) == 1)
    skip = np.cumprod(np.where(first, 1.0, v), axis=axis)
    before = ans * np.cumsum(t / np.where(zero, 1.0, v), axis=axis)
    return np.where(np.cumsum(zero, axis=axis) == 0, before, np.cumsum(t * first, axis=axis) * skip)


# ── conversions: the identity on real arrays ─────────────────────────────────────────────────────────
# Complex values are rejected up front, so np.real and np.conjugate are the identity. np.array copies; np.asarray,
# np.asanyarray, np.ascontiguousarray and np.real may return their argument itself (or a view of it), which the
# compiler assumes of anything not listed in NEW_OBJECTS. np.ascontiguousarray makes a number a 1-element array.


@vjp(np.asarray, np.asanyarray, np.array, np.ascontiguousarray, np.real, shape=by_example(np.asarray))
def _(g, ans, x):
    return reshape_like(g, x)


@jvp(np.asarray, np.asanyarray, np.ascontiguousarray, np.real)
def _(g, ans, x):
    return g


@jvp(np.array)  # of an array, or of a list of values: the tangents of its elements, joined the same way
def _(g, ans, x):
    return np.array(g)


@derivative(np.conjugate)
def _(g, ans, x):
    return g


for _fn in (np.asanyarray, np.ascontiguousarray, np.real):
    lookup(_fn).shape_rule = by_example(_fn)
lookup(np.array).shape_rule = A.packed(np.array)  # of an array, or of a list of values (see rules_shape.PACKING)
lookup(np.array).fresh = True  # a copy each time: two np.array(x) are two arrays


# ── convolution and correlation (1-D, modes 'full', 'same', 'valid') ─────────────────────────────────
# Both are bilinear. The adjoint of a in the full convolution a * v is the 'valid' correlation of its adjoint with
# v; a 'same' or 'valid' result is a part of the full one, so its adjoint is first padded back (unmode). np.correlate
# is the convolution with v reversed (NumPy centres its 'same' part differently when len(a) < len(v)).


@vjp(np.convolve, shape=by_example(np.convolve))
def _(g, ans, a, v, mode="full"):
    return (
        np.correlate(unmode(g, a, v, mode), v, "valid"),
        np.correlate(unmode(g, a, v, mode), a, "valid"),
    )


@jvp(np.convolve)
def _(g, ans, a, v, mode="full"):
    return np.convolve(g, v, mode), np.convolve(a, g, mode)


@vjp(np.correlate, shape=by_example(np.correlate))
def _(g, ans, a, v, mode="valid"):
    return (
        np.convolve(unmode(g, a, v, mode, "correlate"), v, "valid"),
        np.flip(np.correlate(unmode(g, a, v, mode, "correlate"), a, "valid")),
    )


@jvp(np.correlate)
def _(g, ans, a, v, mode="valid"):
    return np.correlate(g, v, mode), np.correlate(a, g, mode)


@vjp(unmode, shape=by_example(unmode))
def _(g, ans, h, a, v, mode="full", kind="convolve"):
    return remode(g, a, v, mode, kind), None, None


@jvp(unmode)
def _(g, ans, h, a, v, mode="full", kind="convolve"):
    return unmode(g, a, v, mode, kind), None, None


@vjp(remode, shape=by_example(remode))
def _(g, ans, h, a, v, mode="full", kind="convolve"):
    return unmode(g, a, v, mode, kind), None, None


@jvp(remode)
def _(g, ans, h, a, v, mode="full", kind="convolve"):
    return remode(g, a, v, mode, kind), None, None


def _whole(b, h, a, v, mode):
    """Whether ``h`` is already the whole (full) convolution of ``a`` and ``v``: then unmode and remode are ``h``."""
    shapes = [b.aval(op).shape for op in (h, a, v)]
    if (mode is not None and mode.value != "full") or not all(isinstance(s, tuple) and len(s) == 1 for s in shapes):
        return False
    return shapes[0][0] == shapes[1][0] + shapes[2][0] - 1


@fold(unmode)
def _(b, h, a, v, mode=None, kind=None):
    return h if _whole(b, h, a, v, mode) else None


@fold(remode)
def _(b, h, a, v, mode=None, kind=None):
    return h if _whole(b, h, a, v, mode) else None


# ── integration, polynomials, interpolation ──────────────────────────────────────────────────────────
# np.trapezoid is linear in y (weights from x or dx); the sample points x are not differentiated (the rule refuses).
# np.polyval(p, x) = sum_k p[k] x**(n-1-k): by p the powers of x, by x the derivative polynomial.
# np.interp is piecewise linear in x: its derivative is the slope of x's segment, found as np.interp finds it, so
# at a sample point xp[j] strictly inside it is the slope of the segment to the right (at the ends, of the end
# segments), and 0 outside the range, where the result is constant. By fp it is linear (the interpolation weights).
# xp is not differentiated, nor is period= accepted. Second derivatives through np.interp are not written: its
# helpers refuse.


def _trapezoid_shape(avals, kwargs, loc=None):
    return A.reduction_float(avals[:1], {"axis": kwargs.get("axis", -1)}, loc)


@vjp(np.trapezoid, shape=_trapezoid_shape)
def _(g, ans, y, x=None, dx=1.0, axis=-1):
    return expand_to(g, y, axis) * trapezoid_weights(np.shape(y), x, dx, axis), None


@jvp(np.trapezoid)
def _(g, ans, y, x=None, dx=1.0, axis=-1):
    return np.sum(g * trapezoid_weights(np.shape(y), x, dx, axis), axis=axis), None


primitive(trapezoid_weights, shape=A.unknown)


@vjp(trapezoid_weights)
def _(g, ans, shape, x=None, dx=1.0, axis=-1):
    return None, None  # the weights depend on x only, which np.trapezoid does not differentiate


@jvp(trapezoid_weights)
def _(g, ans, shape, x=None, dx=1.0, axis=-1):
    return None, None


@vjp(np.polyval, shape=by_example(np.polyval))
def _(g, ans, p, x):
    powers = np.arange(np.size(p) - 1, -1, -1)
    slope = np.reshape(x, (-1, 1)) ** np.maximum(powers - 1, 0) @ (p * powers)
    return np.ravel(broadcast_like(g, x)) @ np.reshape(x, (-1, 1)) ** powers, g * reshape_like(slope, x)


@jvp(np.polyval)
def _(g, ans, p, x):
    powers = np.arange(np.size(p) - 1, -1, -1)
    slope = np.reshape(x, (-1, 1)) ** np.maximum(powers - 1, 0) @ (p * powers)
    return reshape_like(np.reshape(x, (-1, 1)) ** powers @ g, x), g * reshape_like(slope, x)


@vjp(np.interp, shape=by_example(np.interp))  # period= is not accepted: the rule has no such parameter
def _(g, ans, x, xp, fp, left=None, right=None):
    return g * interp_slope(x, xp, fp, left, right), None, interp_adjoint(g, x, xp, left, right)


@jvp(np.interp)
def _(g, ans, x, xp, fp, left=None, right=None):
    return g * interp_slope(x, xp, fp, left, right), None, interp_tangent(g, x, xp, left, right)


@vjp(interp_slope, shape=by_example(interp_slope))
def _(g, ans, x, xp, fp, left=None, right=None):
    return None, None, None  # second derivatives of np.interp are not written


@jvp(interp_slope)
def _(g, ans, x, xp, fp, left=None, right=None):
    return None, None, None


@vjp(interp_tangent, shape=by_example(interp_tangent))
def _(g, ans, t, x, xp, left=None, right=None):
    return interp_adjoint(g, x, xp, left, right), None, None


@jvp(interp_tangent)
def _(g, ans, t, x, xp, left=None, right=None):
    return interp_tangent(g, x, xp, left, right), None, None


@vjp(interp_adjoint, shape=by_example(interp_adjoint))
def _(g, ans, h, x, xp, left=None, right=None):
    return interp_tangent(g, x, xp, left, right), None, None


@jvp(interp_adjoint)
def _(g, ans, h, x, xp, left=None, right=None):
    return interp_adjoint(g, x, xp, left, right), None, None


# ── covariance and correlation coefficients (a matrix whose rows are variables) ──────────────────────
# np.cov(m) = Xc Xcᵀ / (N - ddof) with Xc = m less its row means; its adjoint is (G + Gᵀ) Xc / (N - ddof) (the
# centring needs no adjoint of its own: the rows of that product already have mean zero). np.corrcoef(m) is
# C_ij / sqrt(C_ii C_jj); NumPy clips it to [-1, 1], which only its exact diagonal of ones reaches. Only 2-D m with
# rowvar=True (the default) and no weights are accepted.


def _matrix(avals, kwargs, loc):
    shape = avals[0].shape
    if isinstance(shape, tuple) and len(shape) != 2:
        raise AdCompileError("np.cov() and np.corrcoef() are differentiable for a 2-D array (rows are variables)", loc)


@vjp(np.cov, shape=by_example(np.cov, check=_matrix))
def _(g, ans, m, bias=False, ddof=None):
    centred = m - np.mean(m, axis=1, keepdims=True)
    s = broadcast_like(g, ans)
    return (s + np.transpose(s)) @ centred * cov_scale(np.shape(m), bias, ddof)


@jvp(np.cov)
def _(g, ans, m, bias=False, ddof=None):
    centred = m - np.mean(m, axis=1, keepdims=True)
    d = (g - np.mean(g, axis=1, keepdims=True)) @ np.transpose(centred) * cov_scale(np.shape(m), bias, ddof)
    return d + np.transpose(d)


@vjp(np.corrcoef, shape=by_example(np.corrcoef, check=_matrix))
def _(g, ans, m):
    centred = m - np.mean(m, axis=1, keepdims=True)
    c = np.cov(m)
    sd = np.sqrt(np.diag(c))
    s = broadcast_like(g, ans)
    gc = s / np.outer(sd, sd) - np.diag((np.sum(s * ans, axis=1) + np.sum(s * ans, axis=0)) / (2 * np.diag(c)))
    return (gc + np.transpose(gc)) @ centred * cov_scale(np.shape(m))


@jvp(np.corrcoef)
def _(g, ans, m):
    centred = m - np.mean(m, axis=1, keepdims=True)
    c = np.cov(m)
    sd = np.sqrt(np.diag(c))
    d = (g - np.mean(g, axis=1, keepdims=True)) @ np.transpose(centred) * cov_scale(np.shape(m))
    dc = d + np.transpose(d)
    e = np.diag(dc) / (2 * np.diag(c))
    return dc / np.outer(sd, sd) - ans * (np.expand_dims(e, 1) + e)


primitive(cov_scale, shape=A.scalar_float).differentiable = False  # of a shape only


# ── weighted averages: np.average(x, axis, weights=w), differentiable in x and in w ────────────────────
# np.average with weights= lowers to weighted_average(x, w, axis=..., keepdims=...) (lower.py), since a keyword
# argument can only be a literal. w has x's shape, or is 1-D along an int axis; aligned(w, x, axis) reshapes the
# latter so that it broadcasts against x. ans = Σ x·w / Σ w, so ∂/∂x = w / Σw and ∂/∂w = (x - ans) / Σw.


def weighted_average(a, weights, axis=None, keepdims=False):
    """``np.average(a, axis=axis, weights=weights, keepdims=keepdims)``."""
    return np.average(a, axis=axis, weights=weights, keepdims=keepdims)


def aligned(w, x, axis=None):
    """The weights ``w`` of ``np.average(x, axis, weights=w)`` shaped to broadcast against ``x``: ``w`` itself when
    it has ``x``'s dimensions, a 1-D ``w`` along ``axis`` otherwise (NumPy's own checks reject anything else)."""
    if np.ndim(w) == np.ndim(x):
        return w
    if np.ndim(w) != 1 or axis is None or np.ndim(axis) != 0:
        raise TypeError("np.average: 1-D weights need an int axis; other weights must have the array's shape")
    return np.reshape(w, [-1 if k == axis % np.ndim(x) else 1 for k in range(np.ndim(x))])


@vjp(weighted_average, shape=A.reduction_float)
def _(g, ans, a, weights, axis=None, keepdims=False):
    w = aligned(weights, a, axis)
    total = np.sum(broadcast_like(w, a), axis=axis, keepdims=keepdims)
    spread = expand_to(g / total, a, axis, keepdims)
    return (
        spread * w,
        reshape_like(unbroadcast(spread * (a - expand_to(ans, a, axis, keepdims)), w), weights),
    )


@jvp(weighted_average)
def _(g, ans, a, weights, axis=None, keepdims=False):
    w = aligned(weights, a, axis)
    total = np.sum(broadcast_like(w, a), axis=axis, keepdims=keepdims)
    return (
        np.sum(g * w, axis=axis, keepdims=keepdims) / total,
        np.sum(aligned(g, a, axis) * (a - expand_to(ans, a, axis, keepdims)), axis=axis, keepdims=keepdims) / total,
    )


@vjp(aligned, shape=A.unknown)  # a reshape of w: linear in it; x and axis only give the shape
def _(g, ans, w, x, axis=None):
    return reshape_like(g, w), None


@jvp(aligned)
def _(g, ans, w, x, axis=None):
    return aligned(g, x, axis), None


@fold(aligned)
def _(b, w, x, axis=None):
    """With known dimensions: ``w`` itself, or a plain reshape."""
    sw, sx = b.aval(w).shape, b.aval(x).shape
    if not (isinstance(sw, tuple) and isinstance(sx, tuple)):
        return None
    if len(sw) == len(sx):
        return w
    if len(sw) == 1 and axis is not None and isinstance(axis.value, int):
        k = axis.value % len(sx)
        return b.call(np.reshape, w, Const(tuple(-1 if i == k else 1 for i in range(len(sx)))))
    return None


# ── NumPy 2's array-API spellings ────────────────────────────────────────────────────────────────────
# np.cumulative_sum/np.cumulative_prod are np.cumsum/np.cumprod (without include_initial=); np.matrix_transpose
# swaps the last two axes; np.vecdot(a, b, axis=-1) is the sum of a * b along an axis.


@vjp(np.cumulative_sum, shape=by_example(np.cumulative_sum))
def _(g, ans, x, axis=None):
    return reshape_like(reverse_cumsum(g, axis), x)


@jvp(np.cumulative_sum)
def _(g, ans, x, axis=None):
    return np.cumulative_sum(g, axis=axis)


# the same mathematics as np.cumprod's, zeros and all: one rule
vjp(np.cumulative_prod, shape=by_example(np.cumulative_prod))(lookup(np.cumprod).vjp)
jvp(np.cumulative_prod)(lookup(np.cumprod).jvp)


@derivative(np.matrix_transpose, np.linalg.matrix_transpose, shape=by_example(np.matrix_transpose))
def _(g, ans, x):
    return np.matrix_transpose(g)


# Each operand's axis= counts in that operand's own dimensions (then the others broadcast): the rules move it last.


@vjp(np.vecdot, np.linalg.vecdot, shape=by_example(np.vecdot))
def _(g, ans, a, b, axis=-1):
    a_last, b_last, g_last = np.moveaxis(a, axis, -1), np.moveaxis(b, axis, -1), np.expand_dims(g, -1)
    return (
        np.moveaxis(unbroadcast(g_last * b_last, a_last), -1, axis),
        np.moveaxis(unbroadcast(g_last * a_last, b_last), -1, axis),
    )


@fold(np.moveaxis)
def _(b, x, source, destination):
    """Moving the last axis to the end (vecdot's rule with the default axis) is nothing."""
    return x if source.value == destination.value == -1 else None


@jvp(np.vecdot, np.linalg.vecdot)
def _(g, ans, a, b, axis=-1):
    return np.vecdot(g, b, axis=axis), np.vecdot(a, g, axis=axis)


# np.linalg.diagonal and np.linalg.trace take the diagonals of the last two axes
@vjp(np.linalg.diagonal, shape=by_example(np.linalg.diagonal))
def _(g, ans, x, offset=0):
    return diagonal_adjoint(g, x, offset, -2, -1)


@jvp(np.linalg.diagonal)
def _(g, ans, x, offset=0):
    return np.linalg.diagonal(g, offset=offset)


@vjp(np.linalg.trace, shape=by_example(np.linalg.trace))
def _(g, ans, x, offset=0):
    return diagonal_adjoint(expand_to(g, np.linalg.diagonal(x, offset=offset), axis=-1), x, offset, -2, -1)


@jvp(np.linalg.trace)
def _(g, ans, x, offset=0):
    return np.linalg.trace(g, offset=offset)


# np.linalg's spellings that behave as the np ones (np.linalg.outer takes vectors, np.linalg.cross 3-vectors only)
_ALIASES = (
    (np.linalg.matmul, np.matmul),
    (np.linalg.tensordot, np.tensordot),
    (np.linalg.outer, np.outer),
    (np.linalg.cross, np.cross),
)
for _alias, _fn in _ALIASES:
    _rules = lookup(_fn)
    vjp(_alias, shape=_rules.shape_rule)(_rules.vjp)
    jvp(_alias)(_rules.jvp)
    lookup(_alias).fold = _rules.fold


# x.dtype (lowered as np.result_type(x)) only steers: a dtype for np.zeros(n, dtype=x.dtype) and the like, or to
# compare; it has no derivative.
primitive(np.result_type, shape=lambda avals, kwargs, loc=None: A.Aval((), "O", False)).differentiable = False


# Which results are new arrays (see primitives.returns_new): np.asarray, np.asanyarray, np.ascontiguousarray,
# np.real and np.matrix_transpose may return their argument or a view of it; remode and np.linalg.diagonal return
# read-only views.
NEW_OBJECTS.update(
    id(_fn)
    for _fn in (
        np.nanprod, np.nanvar, np.nanstd, np.nancumsum, np.nancumprod, np.array, np.convolve, np.correlate,
        np.trapezoid, np.polyval, np.interp, np.cov, np.corrcoef, np.cumulative_sum, np.cumulative_prod,
        np.linalg.matmul, np.linalg.tensordot, np.linalg.outer, np.linalg.cross, np.linalg.trace,
        unmode, trapezoid_weights, interp_slope, weighted_average, interp_tangent, interp_adjoint, cov_scale,
    )
)  # fmt: skip
READ_ONLY_VIEWS.update(id(_fn) for _fn in (remode, np.linalg.diagonal))
