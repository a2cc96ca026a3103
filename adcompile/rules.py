"""The derivative rules: one vjp and one jvp rule per primitive, grouped by family.

vjp rules take ``(g, ans, *args)``: ``g`` is the adjoint of the result ``ans``; they return the adjoint of each
differentiable argument. jvp rules have the same form, read forward: ``g`` is the tangent of one argument and the
rule returns that argument's contribution to the result's tangent. The compiler inlines the returned expressions.
Where both are the same expression -- the local derivative is a scalar factor, with no broadcasting to undo --
one ``@derivative`` rule serves both modes.
``unbroadcast(v, x)`` sums ``v`` back to ``x``'s shape where ``x`` was broadcast (see :mod:`adcompile.runtime`);
the other helpers there (``expand_to``, ``reshape_like``, ``reverse_cumsum``, ``max_slope``) do the rest of the
bookkeeping, so that rules contain no ``if`` and call only primitives (they are differentiated again for Hessians).
"""

from __future__ import annotations

import math
import operator

import numpy as np

from . import avals as A
from .primitives import NEW_OBJECTS, READ_ONLY_VIEWS, derivative, jvp, lookup, primitive, vjp
from .runtime import (
    astype,
    astype_steps,
    broadcast_like,
    cast_like,
    expand_to,
    index_add,
    list_append,
    max_slope,
    min_slope,
    owned,
    reshape_like,
    reverse_cumsum,
    scalar_seed,
    setitem,
    unbroadcast,
    unpacked,
    written_part,
    zero_list,
    zeros_like,
)

_LN2 = math.log(2)
_LN10 = math.log(10)
_RADIANS_PER_DEGREE = math.pi / 180
_DEGREES_PER_RADIAN = 180 / math.pi
_PI2_3 = math.pi**2 / 3  # sinc'(x) = (pi^2 x / 3) (pi^2 x^2 / 10 - 1) + O(x^5) near 0
_PI2_10 = math.pi**2 / 10

# ── arithmetic operators (broadcasting) ──────────────────────────────────────────────────────────────


@vjp(operator.add, np.add)
def _(g, ans, x, y):
    return unbroadcast(g, x), unbroadcast(g, y)


@jvp(operator.add, np.add)
def _(g, ans, x, y):
    return g, g


@vjp(operator.sub, np.subtract)
def _(g, ans, x, y):
    return unbroadcast(g, x), unbroadcast(-g, y)


@jvp(operator.sub, np.subtract)
def _(g, ans, x, y):
    return g, -g


@vjp(operator.mul, np.multiply)
def _(g, ans, x, y):
    return unbroadcast(g * y, x), unbroadcast(g * x, y)


@jvp(operator.mul, np.multiply)
def _(g, ans, x, y):
    return g * y, x * g


@vjp(operator.truediv, np.divide)
def _(g, ans, x, y):
    return unbroadcast(g / y, x), unbroadcast(-g * ans / y, y)


@jvp(operator.truediv, np.divide)
def _(g, ans, x, y):
    return g / y, -g * ans / y


@vjp(operator.pow, np.power, pow)
def _(g, ans, x, y):
    return unbroadcast(g * y * x ** (y - 1), x), unbroadcast(g * ans * np.log(x), y)


@jvp(operator.pow, np.power, pow)
def _(g, ans, x, y):
    return g * y * x ** (y - 1), g * ans * np.log(x)


@derivative(operator.neg, np.negative)
def _(g, ans, x):
    return -g


@derivative(operator.pos, np.positive)
def _(g, ans, x):
    return g


@vjp(operator.mod, np.mod)
def _(g, ans, x, y):
    return unbroadcast(g, x), unbroadcast(-g * np.floor(x / y), y)


@jvp(operator.mod, np.mod)
def _(g, ans, x, y):
    return g, -g * np.floor(x / y)


@derivative(float)
def _(g, ans, x):
    return g


@derivative(abs, np.abs, np.fabs)
def _(g, ans, x):
    return g * np.sign(x)


# ── math: Python floats in, Python floats out ────────────────────────────────────────────────────────


@derivative(math.sin)
def _(g, ans, x):
    return g * math.cos(x)


@derivative(math.cos)
def _(g, ans, x):
    return -g * math.sin(x)


@derivative(math.tan)
def _(g, ans, x):
    return g * (1 + ans * ans)


@derivative(math.asin)
def _(g, ans, x):
    return g / math.sqrt(1 - x * x)


@derivative(math.acos)
def _(g, ans, x):
    return -g / math.sqrt(1 - x * x)


@derivative(math.atan)
def _(g, ans, x):
    return g / (1 + x * x)


@derivative(math.atan2)
def _(g, ans, y, x):
    return g * x / (x * x + y * y), -g * y / (x * x + y * y)


@derivative(math.sinh)
def _(g, ans, x):
    return g * math.cosh(x)


@derivative(math.cosh)
def _(g, ans, x):
    return g * math.sinh(x)


@derivative(math.tanh)
def _(g, ans, x):
    return g * (1 - ans * ans)


@derivative(math.asinh)
def _(g, ans, x):
    return g / math.sqrt(x * x + 1)


@derivative(math.acosh)
def _(g, ans, x):
    return g / math.sqrt(x * x - 1)


@derivative(math.atanh)
def _(g, ans, x):
    return g / (1 - x * x)


@derivative(math.exp)
def _(g, ans, x):
    return g * ans


@derivative(math.expm1)
def _(g, ans, x):
    return g * (ans + 1)


@derivative(math.log)
def _(g, ans, x, base=math.e):
    return g / (x * math.log(base)), -g * ans / (base * math.log(base))


@derivative(math.log1p)
def _(g, ans, x):
    return g / (1 + x)


@derivative(math.log2)
def _(g, ans, x):
    return g / (x * _LN2)


@derivative(math.log10)
def _(g, ans, x):
    return g / (x * _LN10)


@derivative(math.sqrt)
def _(g, ans, x):
    return g / (2 * ans)


@derivative(math.pow)
def _(g, ans, x, y):
    return g * y * math.pow(x, y - 1), g * ans * math.log(x)


@derivative(math.hypot)
def _(g, ans, x, y):
    return g * x / ans, g * y / ans


# ── NumPy elementwise, one argument ──────────────────────────────────────────────────────────────────


@derivative(np.sin)
def _(g, ans, x):
    return g * np.cos(x)


@derivative(np.cos)
def _(g, ans, x):
    return -g * np.sin(x)


@derivative(np.tan)
def _(g, ans, x):
    return g * (1 + ans * ans)


@derivative(np.arcsin)
def _(g, ans, x):
    return g / np.sqrt(1 - x * x)


@derivative(np.arccos)
def _(g, ans, x):
    return -g / np.sqrt(1 - x * x)


@derivative(np.arctan)
def _(g, ans, x):
    return g / (1 + x * x)


@derivative(np.sinh)
def _(g, ans, x):
    return g * np.cosh(x)


@derivative(np.cosh)
def _(g, ans, x):
    return g * np.sinh(x)


@derivative(np.tanh)
def _(g, ans, x):
    return g * (1 - ans * ans)


@derivative(np.arcsinh)
def _(g, ans, x):
    return g / np.sqrt(x * x + 1)


@derivative(np.arccosh)
def _(g, ans, x):
    return g / np.sqrt(x * x - 1)


@derivative(np.arctanh)
def _(g, ans, x):
    return g / (1 - x * x)


@derivative(np.exp)
def _(g, ans, x):
    return g * ans


@derivative(np.exp2)
def _(g, ans, x):
    return g * ans * _LN2


@derivative(np.expm1)
def _(g, ans, x):
    return g * (ans + 1)


@derivative(np.log)
def _(g, ans, x):
    return g / x


@derivative(np.log1p)
def _(g, ans, x):
    return g / (1 + x)


@derivative(np.log2)
def _(g, ans, x):
    return g / (x * _LN2)


@derivative(np.log10)
def _(g, ans, x):
    return g / (x * _LN10)


@derivative(np.sqrt)
def _(g, ans, x):
    return g / (2 * ans)


@derivative(np.cbrt)
def _(g, ans, x):
    return g / (3 * ans * ans)


@derivative(np.square)
def _(g, ans, x):
    return g * 2 * x


@derivative(np.reciprocal)
def _(g, ans, x):
    return -g * ans * ans


@derivative(np.deg2rad, np.radians)
def _(g, ans, x):
    return g * _RADIANS_PER_DEGREE


@derivative(np.rad2deg, np.degrees)
def _(g, ans, x):
    return g * _DEGREES_PER_RADIAN


@derivative(np.sinc)
def _(g, ans, x):
    # sinc(x) = sin(pi x) / (pi x): sinc'(x) = (cos(pi x) - sinc(x)) / x, which cancels badly near 0 (and is 0/0
    # at 0), so |x| < 1e-3 uses its Taylor series instead (relative error below 1e-12 on both sides).
    small = np.abs(x) < 1e-3
    series = _PI2_3 * x * (_PI2_10 * x * x - 1)
    return g * np.where(small, series, (np.cos(np.pi * x) - ans) / np.where(small, 1.0, x))


@derivative(np.nan_to_num)
def _(g, ans, x, nan=0.0, posinf=None, neginf=None):
    # the identity where x is finite; NaN and the infinities are replaced by constants
    return np.where(np.isfinite(x), g, 0.0)


# ── NumPy elementwise, two arguments (broadcasting) ──────────────────────────────────────────────────


@vjp(np.arctan2)
def _(g, ans, y, x):
    return unbroadcast(g * x / (x * x + y * y), y), unbroadcast(-g * y / (x * x + y * y), x)


@jvp(np.arctan2)
def _(g, ans, y, x):
    return g * x / (x * x + y * y), -g * y / (x * x + y * y)


@vjp(np.hypot)
def _(g, ans, x, y):
    return unbroadcast(g * x / ans, x), unbroadcast(g * y / ans, y)


@jvp(np.hypot)
def _(g, ans, x, y):
    return g * x / ans, g * y / ans


@vjp(np.logaddexp)
def _(g, ans, x, y):
    return unbroadcast(g * np.exp(x - ans), x), unbroadcast(g * np.exp(y - ans), y)


@jvp(np.logaddexp)
def _(g, ans, x, y):
    return g * np.exp(x - ans), g * np.exp(y - ans)


@vjp(np.logaddexp2)
def _(g, ans, x, y):
    return unbroadcast(g * np.exp2(x - ans), x), unbroadcast(g * np.exp2(y - ans), y)


@jvp(np.logaddexp2)
def _(g, ans, x, y):
    return g * np.exp2(x - ans), g * np.exp2(y - ans)


@vjp(np.float_power)
def _(g, ans, x, y):
    return unbroadcast(g * y * np.float_power(x, y - 1), x), unbroadcast(g * ans * np.log(x), y)


@jvp(np.float_power)
def _(g, ans, x, y):
    return g * y * np.float_power(x, y - 1), g * ans * np.log(x)


@vjp(np.fmod)
def _(g, ans, x, y):
    return unbroadcast(g, x), unbroadcast(-g * np.trunc(x / y), y)


@jvp(np.fmod)
def _(g, ans, x, y):
    return g, -g * np.trunc(x / y)


@vjp(np.ldexp)
def _(g, ans, x, i):
    return unbroadcast(np.ldexp(g, i), x), None  # x * 2**i is linear in x; the exponent i is an integer


@jvp(np.ldexp)
def _(g, ans, x, i):
    return np.ldexp(g, i), None


# copysign(x, y) = |x| sign(y): the sign of y is piecewise constant, so y's derivative is zero (as for np.sign)
@vjp(np.copysign)
def _(g, ans, x, y):
    return unbroadcast(g * np.sign(x) * np.sign(ans), x), zeros_like(y)


@jvp(np.copysign)
def _(g, ans, x, y):
    return g * np.sign(x) * np.sign(ans), zeros_like(g)


# ── NumPy elementwise, piecewise: choices between operands ───────────────────────────────────────────
# Ties: where the operands of maximum/minimum/fmax/fmin are equal, the derivative is shared equally between them
# (as in JAX): each gets g / 2, so maximum(x, x) still has derivative 1. max_slope(a, b) is that derivative,
# 1, 1/2 or 0. np.clip(x, lo, hi) is minimum(maximum(x, lo), hi), as NumPy defines it, and its derivative is that
# composition's: x at a bound gets half, and the bound the other half. fmax/fmin choose the operand that is not NaN.
# np.where(cond, x, y) is a choice steered by cond, which gets no derivative.


@vjp(np.maximum)
def _(g, ans, x, y):
    return unbroadcast(g * max_slope(x, y), x), unbroadcast(g * max_slope(y, x), y)


@jvp(np.maximum)
def _(g, ans, x, y):
    return g * max_slope(x, y), g * max_slope(y, x)


@vjp(np.minimum)
def _(g, ans, x, y):
    return unbroadcast(g * min_slope(x, y), x), unbroadcast(g * min_slope(y, x), y)


@jvp(np.minimum)
def _(g, ans, x, y):
    return g * min_slope(x, y), g * min_slope(y, x)


@vjp(np.fmax)
def _(g, ans, x, y):
    return unbroadcast(g * (max_slope(x, y) + np.isnan(y)), x), unbroadcast(g * (max_slope(y, x) + np.isnan(x)), y)


@jvp(np.fmax)
def _(g, ans, x, y):
    return g * (max_slope(x, y) + np.isnan(y)), g * (max_slope(y, x) + np.isnan(x))


@vjp(np.fmin)
def _(g, ans, x, y):
    return unbroadcast(g * (min_slope(x, y) + np.isnan(y)), x), unbroadcast(g * (min_slope(y, x) + np.isnan(x)), y)


@jvp(np.fmin)
def _(g, ans, x, y):
    return g * (min_slope(x, y) + np.isnan(y)), g * (min_slope(y, x) + np.isnan(x))


@vjp(np.clip, shape=A.clip)
def _(g, ans, x, lo, hi):
    m = np.clip(x, lo, None)  # maximum(x, lo); x itself when lo is None
    gm = g * min_slope(m, hi)  # the adjoint of m
    return (
        unbroadcast(gm * max_slope(x, lo), x),
        unbroadcast(gm * max_slope(lo, x), lo),
        unbroadcast(g * min_slope(hi, m), hi),
    )


@jvp(np.clip)
def _(g, ans, x, lo, hi):
    m = np.clip(x, lo, None)
    return g * max_slope(x, lo) * min_slope(m, hi), g * max_slope(lo, x) * min_slope(m, hi), g * min_slope(hi, m)


@vjp(np.where, shape=A.select)
def _(g, ans, cond, x, y):
    return None, unbroadcast(np.where(cond, g, 0.0), x), unbroadcast(np.where(cond, 0.0, g), y)


@jvp(np.where)
def _(g, ans, cond, x, y):
    return None, np.where(cond, g, 0.0), np.where(cond, 0.0, g)


# ── reductions ───────────────────────────────────────────────────────────────────────────────────────


@vjp(np.sum, shape=A.reduction)
def _(g, ans, x, axis=None, keepdims=False):
    return expand_to(g, x, axis, keepdims)


@jvp(np.sum)
def _(g, ans, x, axis=None, keepdims=False):
    return np.sum(g, axis=axis, keepdims=keepdims)


@vjp(np.mean, np.average, shape=A.reduction_float)  # np.average without weights= is the mean
def _(g, ans, x, axis=None, keepdims=False):
    return expand_to(g * (np.size(ans) / np.size(x)), x, axis, keepdims)


@jvp(np.mean, np.average)
def _(g, ans, x, axis=None, keepdims=False):
    return np.mean(g, axis=axis, keepdims=keepdims)


# ── indexing: x[index], and writes into arrays as functions from the old array to the new one ─────────
# ``index`` is the whole subscript (ints, slices, None, Ellipsis, index arrays, masks); it has no derivative.


@vjp(operator.getitem, shape=A.getitem)
def _(g, ans, x, index):
    return index_add(np.zeros_like(x), index, g), None


@jvp(operator.getitem)
def _(g, ans, x, index):
    return g[index], None


@vjp(setitem, shape=A.like_first)
def _(g, ans, x, index, v):
    gv = owned(written_part(g, index))  # a copy (if an array) read before the write below, which can be in place
    return setitem(g, index, 0.0), None, unbroadcast(gv, v)


@jvp(setitem)
def _(g, ans, x, index, v):
    return setitem(g, index, 0.0), None, setitem(np.zeros_like(ans), index, g)


@vjp(written_part, shape=A.getitem)
def _(g, ans, x, index):
    return setitem(np.zeros_like(x), index, g), None  # the elements not written are zeros in g: the last lands


@jvp(written_part)
def _(g, ans, x, index):
    return written_part(g, index), None


@vjp(index_add, shape=A.like_first)
def _(g, ans, x, index, v):
    return g, None, unbroadcast(g[index], v)


@jvp(index_add)
def _(g, ans, x, index, v):
    return g, None, index_add(np.zeros_like(ans), index, g)
@vjp(np.nansum, shape=A.reduction)
def _(g, ans, x, axis=None, keepdims=False):
    return expand_to(g, x, axis, keepdims) * np.logical_not(np.isnan(x))


@jvp(np.nansum)
def _(g, ans, x, axis=None, keepdims=False):
    return np.sum(g * np.logical_not(np.isnan(x)), axis=axis, keepdims=keepdims)


@vjp(np.nanmean, shape=A.reduction_float)
def _(g, ans, x, axis=None, keepdims=False):
    counted = np.logical_not(np.isnan(x))
    return expand_to(g, x, axis, keepdims) * (counted / np.sum(counted, axis=axis, keepdims=True))


@jvp(np.nanmean)
def _(g, ans, x, axis=None, keepdims=False):
    counted = np.logical_not(np.isnan(x))
    return np.sum(g * (counted / np.sum(counted, axis=axis, keepdims=True)), axis=axis, keepdims=keepdims)


@vjp(np.var, shape=A.reduction_float)
def _(g, ans, x, axis=None, ddof=0, keepdims=False):
    n = np.size(x) / np.size(ans) - ddof
    return expand_to(g * (2 / n), x, axis, keepdims) * (x - np.mean(x, axis=axis, keepdims=True))


@jvp(np.var)
def _(g, ans, x, axis=None, ddof=0, keepdims=False):
    n = np.size(x) / np.size(ans) - ddof
    return np.sum(g * (x - np.mean(x, axis=axis, keepdims=True)), axis=axis, keepdims=keepdims) * (2 / n)


@vjp(np.std, shape=A.reduction_float)
def _(g, ans, x, axis=None, ddof=0, keepdims=False):
    n = np.size(x) / np.size(ans) - ddof
    return expand_to(g / (n * ans), x, axis, keepdims) * (x - np.mean(x, axis=axis, keepdims=True))


@jvp(np.std)
def _(g, ans, x, axis=None, ddof=0, keepdims=False):
    n = np.size(x) / np.size(ans) - ddof
    return np.sum(g * (x - np.mean(x, axis=axis, keepdims=True)), axis=axis, keepdims=keepdims) / (n * ans)


# prod: the derivative by x_i is the product of the other factors. It is computed from the product of the nonzero
# factors and the number of zeros, so it is exact with any number of zeros: rest / x_i without zeros, rest at the
# only zero, and 0 elsewhere (a product with two zeros stays 0 whichever factor moves).


@vjp(np.prod, shape=A.reduction)
def _(g, ans, x, axis=None, keepdims=False):
    zero = x == 0
    nonzero = np.where(zero, 1.0, x)
    rest = np.prod(nonzero, axis=axis, keepdims=True)  # the product of the nonzero factors
    zeros = np.sum(zero, axis=axis, keepdims=True)
    others = np.where(zero, rest * (zeros == 1), rest * (zeros == 0) / nonzero)
    return expand_to(g, x, axis, keepdims) * others


@jvp(np.prod)
def _(g, ans, x, axis=None, keepdims=False):
    zero = x == 0
    nonzero = np.where(zero, 1.0, x)
    rest = np.prod(nonzero, axis=axis, keepdims=True)
    zeros = np.sum(zero, axis=axis, keepdims=True)
    others = np.where(zero, rest * (zeros == 1), rest * (zeros == 0) / nonzero)
    return np.sum(g * others, axis=axis, keepdims=keepdims)


# Extremes: where several elements tie for the maximum (minimum), the derivative is shared equally among them (as in
# JAX and autograd), the same convention as np.maximum's. NaN is never chosen by nanmax/nanmin. A median is the
# middle element, or the mean of the middle pair: each half is shared among the elements equal to it.


@vjp(np.max, np.amax, np.min, np.amin, np.nanmax, np.nanmin, shape=A.reduction_same_kind)
def _(g, ans, x, axis=None, keepdims=False):
    chosen = np.zeros_like(x) + (x == expand_to(ans, x, axis, keepdims))  # 1 where chosen, in x's dtype
    return expand_to(g, x, axis, keepdims) * (chosen / np.sum(chosen, axis=axis, keepdims=True))


@jvp(np.max, np.amax, np.min, np.amin, np.nanmax, np.nanmin)
def _(g, ans, x, axis=None, keepdims=False):
    chosen = np.zeros_like(x) + (x == expand_to(ans, x, axis, keepdims))
    return np.sum(g * (chosen / np.sum(chosen, axis=axis, keepdims=True)), axis=axis, keepdims=keepdims)


@vjp(np.ptp, shape=A.reduction_same_kind)
def _(g, ans, x, axis=None, keepdims=False):
    top = x == np.max(x, axis=axis, keepdims=True)
    bottom = x == np.min(x, axis=axis, keepdims=True)
    share = top / np.sum(top, axis=axis, keepdims=True) - bottom / np.sum(bottom, axis=axis, keepdims=True)
    return expand_to(g, x, axis, keepdims) * share


@jvp(np.ptp)
def _(g, ans, x, axis=None, keepdims=False):
    top = x == np.max(x, axis=axis, keepdims=True)
    bottom = x == np.min(x, axis=axis, keepdims=True)
    share = top / np.sum(top, axis=axis, keepdims=True) - bottom / np.sum(bottom, axis=axis, keepdims=True)
    return np.sum(g * share, axis=axis, keepdims=keepdims)


@vjp(np.median, shape=A.reduction_float)
def _(g, ans, x, axis=None, keepdims=False):
    m = expand_to(ans, x, axis, keepdims)
    least = np.min(x, axis=axis, keepdims=True)
    low = x == np.max(np.where(x <= m, x, least), axis=axis, keepdims=True)  # the lower middle element(s)
    high = x == np.min(np.where(x >= m, x, np.max(x, axis=axis, keepdims=True)), axis=axis, keepdims=True)
    share = 0.5 * (low / np.sum(low, axis=axis, keepdims=True) + high / np.sum(high, axis=axis, keepdims=True))
    return expand_to(g, x, axis, keepdims) * share


@jvp(np.median)
def _(g, ans, x, axis=None, keepdims=False):
    m = expand_to(ans, x, axis, keepdims)
    least = np.min(x, axis=axis, keepdims=True)
    low = x == np.max(np.where(x <= m, x, least), axis=axis, keepdims=True)
    high = x == np.min(np.where(x >= m, x, np.max(x, axis=axis, keepdims=True)), axis=axis, keepdims=True)
    share = 0.5 * (low / np.sum(low, axis=axis, keepdims=True) + high / np.sum(high, axis=axis, keepdims=True))
    return np.sum(g * share, axis=axis, keepdims=keepdims)


# ── scans (axis=None runs over the flattened array, and reshape_like undoes that) ────────────────────


@vjp(np.cumsum, shape=A.scan)
def _(g, ans, x, axis=None):
    return reshape_like(reverse_cumsum(g, axis), x)


@jvp(np.cumsum)
def _(g, ans, x, axis=None):
    return np.cumsum(g, axis=axis)


# cumprod: the derivative of the running product ans[j] by x[i] (i <= j) is the product of x[:j+1] without x[i],
# which is ans[j] / x[i] before the first zero. It is exact with zeros too: at the first zero of a line it is the
# running product that leaves that zero out ("skip"), and after the first zero it is 0.


@vjp(np.cumprod, shape=A.scan)
def _(g, ans, x, axis=None):
    v = reshape_like(x, ans)
    zero = v == 0
    first = zero * (np.cumsum(zero, axis=axis) == 1)  # the first zero along the axis
    skip = np.cumprod(np.where(first, 1.0, v), axis=axis)
    before = reverse_cumsum(g * ans, axis) / np.where(zero, 1.0, v)
    return reshape_like(np.where(first, reverse_cumsum(g * skip, axis), np.where(zero, 0.0, before)), x)


@jvp(np.cumprod)
def _(g, ans, x, axis=None):
    v = reshape_like(x, ans)
    t = reshape_like(g, ans)
    zero = v == 0
    first = zero * (np.cumsum(zero, axis=axis) == 1)
    skip = np.cumprod(np.where(first, 1.0, v), axis=axis)
    before = ans * np.cumsum(t / np.where(zero, 1.0, v), axis=axis)
    return np.where(np.cumsum(zero, axis=axis) == 0, before, np.cumsum(t * first, axis=axis) * skip)


# ── casts: x.astype(np.float32) ───────────────────────────────────────────────────────────────────────


@vjp(astype, shape=A.cast)
def _(g, ans, x, dtype):
    return cast_like(g, x), None


@jvp(astype)
def _(g, ans, x, dtype):
    return astype(g, dtype), None


@vjp(cast_like, shape=A.like_second)
def _(g, ans, v, x):
    return cast_like(g, v), None


@jvp(cast_like)
def _(g, ans, v, x):
    return cast_like(g, x), None


@vjp(list_append, shape=A.list_grown)
def _(g, ans, xs, v):
    return g[:-1], g[-1]


@jvp(list_append)
def _(g, ans, xs, v):
    return list_append(g, np.zeros_like(v)), list_append(zero_list(xs), g)


@derivative(unpacked, shape=A.unpacking)
def _(g, ans, v, n):
    return g, None


lookup(unpacked).effect = True  # a, b = v raises for a v of another length, even if a and b are not used


# ── helpers that generated code calls (linear maps; their rules make derivatives of derivatives work) ──


@vjp(unbroadcast, shape=A.like_second)
def _(g, ans, v, x):
    return broadcast_like(g, v), None


@jvp(unbroadcast)
def _(g, ans, v, x):
    return unbroadcast(g, x), None


@vjp(broadcast_like, shape=A.like_second)
def _(g, ans, v, x):
    return unbroadcast(g, v), None


@jvp(broadcast_like)
def _(g, ans, v, x):
    return broadcast_like(g, x), None


@vjp(expand_to, shape=A.like_second)
def _(g, ans, v, x, axis=None, keepdims=False):
    return np.sum(g, axis=axis, keepdims=keepdims), None


@jvp(expand_to)
def _(g, ans, v, x, axis=None, keepdims=False):
    return expand_to(g, x, axis, keepdims), None


@vjp(reshape_like, shape=A.like_second)
def _(g, ans, v, x):
    return reshape_like(g, v), None


@jvp(reshape_like)
def _(g, ans, v, x):
    return reshape_like(g, x), None


@vjp(reverse_cumsum, shape=A.scan)
def _(g, ans, v, axis=None):
    return reshape_like(np.cumsum(g, axis=axis), v)


@jvp(reverse_cumsum)
def _(g, ans, v, axis=None):
    return reverse_cumsum(g, axis)


@vjp(owned, np.copy, shape=A.like_first)
def _(g, ans, x):
    return g


@jvp(owned, np.copy)
def _(g, ans, x):
    return g


lookup(owned).fresh = lookup(np.copy).fresh = True


# Functions whose result is floating point whatever their arguments (1 / 2 is 0.5): their abstract values say so.
_FLOAT_VALUED = {
    np: "divide sin cos tan arcsin arccos arctan arctan2 sinh cosh tanh arcsinh arccosh arctanh exp exp2 expm1 log "
    "log1p log2 log10 sqrt cbrt hypot logaddexp logaddexp2 float_power ldexp deg2rad radians rad2deg degrees sinc",
    math: "sin cos tan asin acos atan atan2 sinh cosh tanh asinh acosh atanh exp expm1 log log1p log2 log10 sqrt pow "
    "hypot",
}
lookup(operator.truediv).shape_rule = A.elementwise_float
for _module, _names in _FLOAT_VALUED.items():
    for _name in _names.split():
        lookup(getattr(_module, _name)).shape_rule = A.elementwise_float if _module is np else A.scalar_float

# Shape queries, constant makers and piecewise-constant functions: their derivative is zero wherever it exists, so
# their results are constants to the reverse sweep. Shape queries fold at compile time when the shape is known.
for _fn, _shape in (
    *(
        (_cmp, A.elementwise_bool)
        for _cmp in (operator.lt, operator.le, operator.gt, operator.ge, operator.eq, operator.ne)
    ),
    (operator.not_, A.elementwise_bool),
    (np.sign, A.elementwise),
    (np.heaviside, A.elementwise_float),  # a step: zero derivative away from 0
    (np.isnan, A.elementwise_bool),
    (np.isinf, A.elementwise_bool),
    (np.isfinite, A.elementwise_bool),
    (np.logical_not, A.elementwise_bool),
    # indices, counts and tests: they only steer (x[np.argmax(x)] is differentiable through the indexing)
    (astype_steps, A.cast),
    (np.argmax, A.unknown),
    (np.argmin, A.unknown),
    (np.count_nonzero, A.unknown),
    (np.any, A.unknown),
    (np.all, A.unknown),
    (np.searchsorted, A.unknown),
    (np.isclose, A.elementwise_bool),
    (np.logical_and, A.elementwise_bool),
    (np.logical_or, A.elementwise_bool),
    (max_slope, A.elementwise_float),
    (min_slope, A.elementwise_float),
    (len, A.length),
    # rounding: constant between the jumps, so the derivative is zero almost everywhere (as in JAX)
    (operator.floordiv, A.elementwise),
    (np.floor_divide, A.elementwise),
    (math.floor, A.int_scalar),
    (math.ceil, A.int_scalar),
    (math.trunc, A.int_scalar),
    (round, A.unknown),
    (int, A.int_scalar),
    (np.floor, A.elementwise_float),
    (np.ceil, A.elementwise_float),
    (np.trunc, A.elementwise_float),
    (np.rint, A.elementwise_float),
    (np.round, A.unknown),
    (np.size, A.int_scalar),
    (np.ndim, A.int_scalar),
    (np.shape, A.shape_of),
    (zeros_like, A.like_first),
    (zero_list, A.like_first),
    (np.zeros_like, A.array_like),
    (scalar_seed, A.scalar_float),
):
    primitive(_fn, shape=_shape).differentiable = False

# Array constructors: constants to the reverse sweep (their arguments are shapes).
for _fn, _shape in (
    (np.zeros, A.constructor),
    (np.ones, A.constructor),
    (np.empty, A.constructor),
    (np.eye, A.eye),
    (np.identity, A.eye),
    (np.arange, A.unknown),
    (np.linspace, A.unknown),
    (np.ones_like, A.array_like),
    (np.empty_like, A.array_like),
):
    primitive(_fn, shape=_shape).differentiable = False
    lookup(_fn).fresh = True  # a new array each time, which the function may write into: never merged with another


# A fill value reaches every element it fills: its adjoint is the sum of g over them (the shape only steers).
@vjp(np.full, shape=A.filled)
def _(g, ans, shape, fill_value, dtype=None):
    return None, unbroadcast(g, fill_value)


@jvp(np.full)
def _(g, ans, shape, fill_value, dtype=None):
    return None, np.full(shape, g, dtype)


@vjp(np.full_like, shape=A.array_like)
def _(g, ans, x, fill_value):
    return np.zeros_like(x), unbroadcast(g, fill_value)  # x gives only its shape and dtype


@jvp(np.full_like)
def _(g, ans, x, fill_value):
    return np.zeros_like(ans), np.full_like(x, g)


lookup(np.full).fresh = lookup(np.full_like).fresh = True
lookup(np.zeros_like).fresh = lookup(zeros_like).fresh = lookup(zero_list).fresh = True

# What returns a new object rather than its argument or a view of it (see primitives.returns_new).
_NEW = (
    "copy sum mean zeros_like zeros ones empty full eye identity arange linspace ones_like empty_like full_like "
    "prod var std max amax min amin nanmax nanmin ptp median average nansum nanmean cumsum cumprod where clip "
    "nan_to_num"
)
NEW_OBJECTS.update(id(getattr(np, _name)) for _name in (*_NEW.split(), "size", "ndim", "shape", "round"))
_NEW_HERE = (list_append, zero_list, setitem, index_add, written_part, zeros_like, scalar_seed, reverse_cumsum)
_NEW_HERE += (len, float, abs, round, int, pow, owned, astype, astype_steps)
NEW_OBJECTS.update(id(_fn) for _fn in _NEW_HERE)
READ_ONLY_VIEWS.update(id(_fn) for _fn in (expand_to, broadcast_like))
