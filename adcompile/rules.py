"""The derivative rules: one vjp and one jvp rule per primitive, grouped by family.

vjp rules take ``(g, ans, *args)``: ``g`` is the adjoint of the result ``ans``; they return the adjoint of each
differentiable argument. jvp rules have the same form, read forward: ``g`` is the tangent of one argument and the
rule returns that argument's contribution to the result's tangent. The compiler inlines the returned expressions.
Where both are the same expression -- the local derivative is a scalar factor, with no broadcasting to undo --
one ``@derivative`` rule serves both modes.
``unbroadcast(v, x)`` sums ``v`` back to ``x``'s shape where ``x`` was broadcast (see :mod:`adcompile.runtime`).
"""

from __future__ import annotations

import math
import operator

import numpy as np

from . import avals as A
from .primitives import NEW_OBJECTS, derivative, jvp, lookup, primitive, vjp
from .runtime import (
    broadcast_like,
    expand_to,
    index_add,
    owned,
    scalar_seed,
    setitem,
    unbroadcast,
    written_part,
    zeros_like,
)

_LN2 = math.log(2)
_LN10 = math.log(10)

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


# ── reductions ───────────────────────────────────────────────────────────────────────────────────────


@vjp(np.sum, shape=A.reduction)
def _(g, ans, x, axis=None, keepdims=False):
    return expand_to(g, x, axis, keepdims)


@jvp(np.sum)
def _(g, ans, x, axis=None, keepdims=False):
    return np.sum(g, axis=axis, keepdims=keepdims)


@vjp(np.mean, shape=A.reduction_float)
def _(g, ans, x, axis=None, keepdims=False):
    return expand_to(g * (np.size(ans) / np.size(x)), x, axis, keepdims)


@jvp(np.mean)
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
    gv = written_part(g, index)  # read before the write below, so that the write can be done in place
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
    "log1p log2 log10 sqrt cbrt hypot",
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
    (np.zeros_like, A.like_first),
    (scalar_seed, A.scalar_float),
):
    primitive(_fn, shape=_shape).differentiable = False

# Array constructors: constants to the reverse sweep (their arguments are shapes and fill values).
for _fn, _shape in (
    (np.zeros, A.constructor),
    (np.ones, A.constructor),
    (np.empty, A.constructor),
    (np.full, A.constructor),
    (np.eye, A.unknown),
    (np.identity, A.unknown),
    (np.arange, A.unknown),
    (np.linspace, A.unknown),
    (np.ones_like, A.like_first),
    (np.empty_like, A.like_first),
    (np.full_like, A.like_first),
):
    primitive(_fn, shape=_shape).differentiable = False

# What returns a new object rather than its argument or a view of it (see primitives.returns_new).
_NEW = "copy sum mean zeros_like zeros ones empty full eye identity arange linspace ones_like empty_like full_like"
NEW_OBJECTS.update(id(getattr(np, _name)) for _name in (*_NEW.split(), "size", "ndim", "shape", "round"))
_NEW_HERE = (owned, setitem, index_add, written_part, zeros_like, scalar_seed, len, float, abs, round, int, pow)
NEW_OBJECTS.update(id(_fn) for _fn in _NEW_HERE)
