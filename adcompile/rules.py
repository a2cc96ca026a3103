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
from .builder import const_value
from .ir import Const
from .primitives import derivative, jvp, lookup, primitive, vjp
from .runtime import broadcast_like, expand_to, owned, scalar_seed, unbroadcast, zeros_like

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


@vjp(operator.pow, np.power)
def _(g, ans, x, y):
    return unbroadcast(g * y * x ** (y - 1), x), unbroadcast(g * ans * np.log(x), y)


@jvp(operator.pow, np.power)
def _(g, ans, x, y):
    return g * y * x ** (y - 1), g * ans * np.log(x)


@derivative(operator.neg, np.negative)
def _(g, ans, x):
    return -g


@derivative(operator.pos, np.positive)
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
for _fn in (
    operator.truediv,
    np.divide,
    np.sin,
    np.cos,
    np.tan,
    np.arcsin,
    np.arccos,
    np.arctan,
    np.arctan2,
    np.sinh,
    np.cosh,
    np.tanh,
    np.arcsinh,
    np.arccosh,
    np.arctanh,
    np.exp,
    np.exp2,
    np.expm1,
    np.log,
    np.log1p,
    np.log2,
    np.log10,
    np.sqrt,
    np.cbrt,
    np.hypot,
):
    lookup(_fn).shape_rule = A.elementwise_float
for _fn in (
    math.sin,
    math.cos,
    math.tan,
    math.asin,
    math.acos,
    math.atan,
    math.atan2,
    math.sinh,
    math.cosh,
    math.tanh,
    math.asinh,
    math.acosh,
    math.atanh,
    math.exp,
    math.expm1,
    math.log,
    math.log1p,
    math.log2,
    math.log10,
    math.sqrt,
    math.pow,
    math.hypot,
):
    lookup(_fn).shape_rule = A.scalar_float

# Shape queries, constant makers and piecewise-constant functions: their derivative is zero wherever it exists, so
# their results are constants to the reverse sweep. Shape queries fold at compile time when the shape is known.
for _fn, _shape in (
    (np.sign, A.elementwise),
    (np.size, A.int_scalar),
    (np.ndim, A.int_scalar),
    (np.shape, A.unknown),
    (zeros_like, A.like_first),
    (np.zeros_like, A.like_first),
    (scalar_seed, A.scalar_float),
):
    primitive(_fn, shape=_shape).differentiable = False


# ── simplifications applied while building adjoint code ──────────────────────────────────────────────


def fold(fn):
    def register(hook):
        lookup(fn).fold = hook
        return hook

    return register


def _float_like(b, v) -> bool:
    """Whether combining ``v`` with a scalar literal keeps its type and shape (so ``v * 1`` is ``v``)."""
    return not isinstance(v, Const) and b.aval(v).is_float


def _expanded_scalar(b, v):
    """``(s, like)`` if ``v`` was built here as ``expand_to(s, like)`` of a scalar ``s`` over all axes."""
    for st in reversed(b.body):
        if st.target is v:
            if st.prim.fn is expand_to and not st.kwargs and b.aval(st.args[0]).shape == ():
                return st.args[0], st.args[1]
            return None
    return None


def _without_expand(op, b, x, y):
    """``x op y`` for an operand that is a scalar ``s`` expanded to a known shape, kept as cheap as possible.

    Against an operand that already has the full shape, ``s`` itself will do (broadcasting expands it). Against
    a scalar, the operation is done on ``s`` and the result expanded. Otherwise None: nothing to simplify.
    """
    for this, other, left in ((x, y, True), (y, x, False)):
        found = _expanded_scalar(b, this)
        if found is None:
            continue
        s, like = found
        shape, other_shape = b.aval(this).shape, b.aval(other).shape
        if not isinstance(shape, tuple):
            continue
        if other_shape == ():
            inner = b.call(op, s, other) if left else b.call(op, other, s)
            return b.call(expand_to, inner, like)
        if other_shape == shape and _expanded_scalar(b, other) is None:
            return b.call(op, s, other) if left else b.call(op, other, s)
    return None


def _sign_out(op, b, x, y):
    """``(-u) op y`` as ``-(u op y)`` for op in (*, /), so that a following ``v + (-w)`` becomes ``v - w``."""
    u, w = _negated(b, x), _negated(b, y)
    if u is None and w is None:
        return None
    if u is not None and w is not None:
        return b.call(op, u, w)
    return b.call(operator.neg, b.call(op, x if u is None else u, y if w is None else w))


@fold(operator.mul)
def _(b, x, y, **kw):
    shrunk = _without_expand(operator.mul, b, x, y) or _sign_out(operator.mul, b, x, y)
    if shrunk is not None:
        return shrunk
    for one, v in ((x, y), (y, x)):
        c = const_value(one)
        if c == 1 and _float_like(b, v):
            return v
        if c == -1 and _float_like(b, v):
            return b.call(operator.neg, v)
    return None


@fold(operator.truediv)
def _(b, x, y, **kw):
    shrunk = _without_expand(operator.truediv, b, x, y) or _sign_out(operator.truediv, b, x, y)
    if shrunk is not None:
        return shrunk
    return x if const_value(y) == 1 and _float_like(b, x) else None


@fold(operator.add)
def _(b, x, y, **kw):
    shrunk = _without_expand(operator.add, b, x, y)
    if shrunk is not None:
        return shrunk
    for zero, v in ((x, y), (y, x)):
        if const_value(zero) == 0 and _float_like(b, v):
            return v
    for neg, v in ((y, x), (x, y)):  # v + (-u) is v - u
        u = _negated(b, neg)
        if u is not None:
            return b.call(operator.sub, v, u)
    return None


def _negated(b, v):
    """``u`` if ``v`` was built here as ``-u``."""
    for st in reversed(b.body):
        if st.target is v:
            return st.args[0] if st.prim.fn is operator.neg else None
    return None


@fold(operator.sub)
def _(b, x, y, **kw):
    shrunk = _without_expand(operator.sub, b, x, y)
    if shrunk is not None:
        return shrunk
    if const_value(y) == 0 and _float_like(b, x):
        return x
    if const_value(x) == 0 and _float_like(b, y):
        return b.call(operator.neg, y)
    w = _negated(b, y)  # v - (-w) is v + w
    return None if w is None else b.call(operator.add, x, w)


@fold(operator.pow)
def _(b, x, y, **kw):
    return x if const_value(y) == 1 and _float_like(b, x) else None


@fold(operator.neg)
def _(b, x, **kw):
    return _negated(b, x)  # -(-u) is u


@fold(unbroadcast)
def _(b, v, x, **kw):
    """Nothing to do when the shapes agree; a plain np.sum when both are known."""
    have, want = b.aval(v).shape, b.aval(x).shape
    if have == () or (have is not None and have == want):  # nothing broadcasts into a scalar result
        return v
    expanded = _expanded_scalar(b, v)
    if expanded is not None and want == () and isinstance(have, tuple):  # the sum of n copies of s
        return b.call(operator.mul, expanded[0], Const(int(np.prod(have))))
    if isinstance(have, tuple) and isinstance(want, tuple):
        if not want:
            return b.call(np.sum, v)
        lead = len(have) - len(want)
        if lead:
            v = b.call(np.sum, v, axis=Const(_axes(range(lead))))
        ones = [i for i, n in enumerate(want) if n == 1 and have[lead + i] != 1]
        if ones:
            v = b.call(np.sum, v, axis=Const(_axes(ones)), keepdims=Const(True))
        return v
    return None


def _axes(axes):
    axes = tuple(axes)
    return axes[0] if len(axes) == 1 else axes


@fold(expand_to)
def _(b, v, x, axis=None, keepdims=None):
    want = b.aval(x).shape
    if want == () or (want is not None and b.aval(v).shape == want):
        return v
    return None


@fold(np.size)
def _(b, x, **kw):
    shape = b.aval(x).shape
    return Const(int(np.prod(shape))) if isinstance(shape, tuple) else None


@fold(np.ndim)
def _(b, x, **kw):
    shape = b.aval(x).shape
    return Const(len(shape)) if isinstance(shape, tuple) else None
