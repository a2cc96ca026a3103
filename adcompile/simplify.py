"""Simplifications applied while adjoint code is built: each is a fold hook on one primitive.

A hook receives the builder and the operands of an operation about to be emitted, and may return a simpler operand
holding the same value (or build a cheaper operation): ``g * 1.0`` is ``g``, ``-(-u)`` is ``u``, ``v + (-w)`` is
``v - w``, an ``unbroadcast`` between equal shapes is nothing, and the adjoint of a full reduction stays a scalar
until an operation needs the full shape. Hooks run only on code adcompile writes (rule expressions), never on the
user's own operations, and each must keep the value, its shape and its dtype exactly.
"""

from __future__ import annotations

import dataclasses
import math
import operator

import numpy as np

from . import avals as A
from .builder import Builder, const_value
from .ir import Assign, Break, Const, For, If, Index, Push, Slice, Var, flatten, map_operand, read_by, rewritten, walk
from .primitives import lookup
from .runtime import expand_to, max_slope, min_slope, owned, reshape_like, unbroadcast, unpacked, written_part


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
    st = b.producer(v)
    if st is not None and st.prim.fn is expand_to and not st.kwargs and b.aval(st.args[0]).shape == ():
        return st.args[0], st.args[1]
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
        if c == 2 and _float_like(b, v):  # v + v: exactly the same, and cheaper than a product with a literal
            return b.call(operator.add, v, v)
    return None


# np.zeros_like(x) of an ndarray, printed np.zeros(x.shape, x.dtype): the same array, made in a quarter of the time
# (np.zeros_like goes through NumPy's function dispatch and copies zeros in; np.zeros asks for zeroed memory)
ZEROS_OF_ARRAY = dataclasses.replace(lookup(np.zeros_like), name="zeros_like (of an array)", fold=None, _templates={})


@fold(np.zeros_like)
def _(b, x, **kw):
    # known to be an ndarray: an element of a list of lists has the abstract value of a row, but is a list
    known = b.aval(x).array is True and b.aval(x).kind in ("b", "i", "u", "f", "c") and not _has_lists(b)
    return b.call(ZEROS_OF_ARRAY, x) if known and not kw else None


def _has_lists(b) -> bool:
    if b.has_lists is None:  # the function's own values are known before its adjoint is built
        b.has_lists = any(av.kind == "list" for av in list(b.avals.values()) if isinstance(av, A.Aval))
    return b.has_lists


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
    st = b.producer(v)
    return st.args[0] if st is not None and st.prim.fn is operator.neg else None


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
    if const_value(y) == 2 and _float_like(b, x):  # a product: correctly rounded, and cheaper than pow on floats
        return b.call(operator.mul, x, x)
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
        return b.call(operator.mul, expanded[0], Const(math.prod(have)))
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


def basic_index(b, index) -> bool:
    """Whether ``index`` has no index arrays or masks (ints, slices, None and ... only), as far as is known."""
    if not isinstance(index, Index):
        return False
    for item in index.items:
        if isinstance(item, Slice) or (isinstance(item, Const) and (item.value is Ellipsis or item.value is None)):
            continue
        if isinstance(item, Const) and isinstance(item.value, int) and not isinstance(item.value, bool):
            continue
        av = b.aval(item)
        if not (av.array is False and av.kind in ("i", "u")):
            return False
    return True


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
    return Const(math.prod(shape)) if isinstance(shape, tuple) else None


@fold(np.ndim)
def _(b, x, **kw):
    shape = b.aval(x).shape
    return Const(len(shape)) if isinstance(shape, tuple) else None


@fold(written_part)
def _(b, g, index, **kw):
    """Without index arrays no element is written twice: the part written is plain ``g[index]``."""
    return b.call(operator.getitem, g, index) if basic_index(b, index) else None
@fold(reshape_like)
def _(b, v, x, **kw):
    have, want = b.aval(v).shape, b.aval(x).shape
    return v if isinstance(want, tuple) and have == want else None


@fold(max_slope)
@fold(min_slope)
def _(b, a, bound, **kw):
    """No bound (``np.clip(x, None, hi)``): the slope is 1."""
    return Const(1.0) if isinstance(bound, Const) and bound.value is None else None


@fold(np.clip)
def _(b, x, lo, hi, **kw):
    """``np.clip(x, None, None)``, which the rule of clip writes when ``x`` has no lower bound, is ``x``."""
    unbounded = all(isinstance(c, Const) and c.value is None for c in (lo, hi))
    return x if unbounded else None


@fold(owned)
def _(b, v, **kw):
    """A number needs no copy; an array known to be one is copied with np.copy."""
    known = b.aval(v).array
    if known is False:
        return v
    return b.call(np.copy, v) if known else None


# ── checks whose outcome is known when compiling ───────────────────────────────────────────────────────


def without_known_checks(body: list, result, avals: dict):
    """``body`` and ``result`` without the length checks ``unpacked(v, n)`` of values whose length is known (the
    shape rule checked it while compiling): each such check's result is ``v`` itself, so nothing is paid for it
    at run time."""
    known, b = {}, Builder(avals)
    for st in walk(body):
        if isinstance(st, Assign) and st.prim.fn is unpacked:
            length, n = A.known_length(b.aval(st.args[0])), b.aval(st.args[1]).literal
            if length is not None and length == n:
                known[st.target] = st.args[0]
    if not known:
        return body, result

    def sub(op):
        return tuple(sub(o) for o in op) if isinstance(op, tuple) else map_operand(op, lambda v: known.get(v, v))

    def rewrite(body):
        out = []
        for st in body:
            if isinstance(st, Assign):
                if st.target not in known:
                    kwargs = tuple((k, sub(v)) for k, v in st.kwargs)
                    out.append(Assign(st.target, st.prim, sub(st.args), kwargs, st.loc, st.sweep))
            elif isinstance(st, If):
                joins = [(v, sub(a), sub(b)) for v, a, b in st.joins]
                out.append(If(sub(st.test), rewrite(st.then), rewrite(st.orelse), joins, st.loc, st.sweep))
            elif isinstance(st, For):
                carried = [(v, sub(a), sub(b)) for v, a, b in st.carried]
                bounds = None if st.bounds is None else sub(st.bounds)
                out.append(For(st.index, bounds, rewrite(st.body), carried, st.loc, st.sweep, st.reverse))
            elif isinstance(st, Break):
                out.append(Break(sub(st.test), st.loc, st.sweep))
            elif isinstance(st, Push):
                out.append(Push(st.tape, sub(st.values), st.loc, st.sweep))
            else:
                out.append(st)
        return out

    return rewrite(body), sub(result)


def negations_folded(body: list, result, avals: dict) -> list:
    """``body`` with each negation of a scaled value made while building, ``t = c * u`` (or ``u * c``, or
    ``u + u``, which is ``2 u``) then ``s = -t``, done as one product ``s = (-c) * u`` where nothing else reads
    ``t``. The builder cannot do it as it goes: it does not know yet whether ``t`` will be read again (the adjoint
    of ``1 - x`` negates ``2 (1 - x)``, whose product nothing else reads). Only floats, so the type is kept."""
    if not any(isinstance(st, Assign) and st.prim.fn is operator.neg for st in walk(body)):
        return body  # no negation: the common case in array code, without counting every variable's uses
    uses: dict = {}
    for st in walk(body):
        for op in read_by(st):
            if isinstance(op, Var):
                uses[op] = uses.get(op, 0) + 1
    for op in flatten(result):
        if isinstance(op, Var):
            uses[op] = uses.get(op, 0) + 1

    def scaled(st) -> tuple | None:
        """(c, u) if ``st`` computes ``c * u`` with a literal float ``c`` and a float ``u``."""
        if not isinstance(st, Assign) or st.kwargs or avals.get(st.target, A.UNKNOWN).kind != "f":
            return None
        x, y = (st.args + (None, None))[:2]
        if st.prim.fn is operator.add and x is y and isinstance(x, Var):
            return 2.0, x
        if st.prim.fn is operator.mul:
            for c, u in ((x, y), (y, x)):
                if isinstance(const_value(c), float) and isinstance(u, Var) and avals.get(u, A.UNKNOWN).kind == "f":
                    return const_value(c), u
        return None

    def rewrite(body):
        made = {st.target: st for st in body if isinstance(st, Assign)}
        out, dropped = [], set()
        for st in body:
            if isinstance(st, If):
                st = dataclasses.replace(st, then=rewrite(st.then), orelse=rewrite(st.orelse))
            elif isinstance(st, For):
                st = dataclasses.replace(st, body=rewrite(st.body))
            elif isinstance(st, Assign) and st.prim.fn is operator.neg and isinstance(st.args[0], Var):
                t = st.args[0]
                ours = st.sweep == "reverse" and t in made and made[t].sweep == "reverse"  # never the user's code
                found = scaled(made[t]) if ours and uses.get(t) == 1 else None
                if found is not None:
                    c, u = found
                    dropped.add(id(made[t]))
                    st = Assign(st.target, lookup(operator.mul), (Const(-c), u), (), st.loc, st.sweep)
            out.append(st)
        return [st for st in out if id(st) not in dropped]

    return rewrite(body)


def squares_for_the_adjoint(body: list, values, avals: dict) -> list:
    """``body`` with each square of a number that only the reverse sweep reads, ``t = v ** 2``, computed as
    ``t = v * v``. Python computes ``v ** 2`` with the C library's ``pow``, several times the cost of a product and
    not correctly rounded (it differs from ``v * v`` in the last bit for many inputs, exact products of 27-bit
    significands among them). So a square that any forward statement, branch join or loop reads, or that is
    returned among ``values`` (the function's value, its ``aux``), stays as the user wrote it. Where only adjoint
    statements read it (``d(x * z**2)/dx = z**2``), the correctly rounded product serves."""
    if not any(isinstance(st, Assign) and st.prim.fn is operator.pow and st.sweep == "forward" for st in walk(body)):
        return body  # nothing to look at: the common case, without building the table of readers
    readers: dict = {}
    for st in walk(body):
        for op in read_by(st):
            if isinstance(op, Var):
                readers.setdefault(op, []).append(st)
    returned = {op for op in flatten(values) if isinstance(op, Var)}

    def square_of(st) -> Var | None:
        if not (isinstance(st, Assign) and st.prim.fn is operator.pow and st.sweep == "forward" and not st.kwargs):
            return None
        v, n = st.args
        if const_value(n) != 2 or not isinstance(v, Var) or not avals.get(v, A.UNKNOWN).is_float:
            return None
        if avals[v].array is not False or st.target in returned:
            return None
        only_adjoint = all(isinstance(r, Assign) and r.sweep == "reverse" for r in readers.get(st.target, []))
        return v if only_adjoint else None

    def product(st) -> list:
        v = square_of(st)
        return [st if v is None else Assign(st.target, lookup(operator.mul), (v, v), (), st.loc, st.sweep)]

    return rewritten(body, product)
