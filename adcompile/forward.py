"""Forward mode: from the SSA IR of ``f`` to the SSA IR of ``f_jvp(*params, *tangents)``, returning ``(value,
tangent)``.

Each statement of ``f`` is followed by the statements of its tangent, so the primal and the tangent are computed
together, in one pass, in the order of the source::

    y = np.sin(x)            # the user's statement
    _t1 = np.cos(x)          # its jvp rule, inlined
    dy = dx * _t1

The tangent of a statement is the sum, over its arguments that have a tangent, of the jvp rule's output for that
argument. Only *active* values -- reached from a differentiated input through differentiable primitives, and
reaching the output -- get tangents; an output that does not vary gets an exact zero of its own kind.

Control flow is kept as it is, with tangents riding along: a branch's joins get tangent joins (a side where a value
has no tangent contributes an exact zero), a loop's carried values get carried tangents (no tape is needed: the
tangent of an iteration is computed in that iteration), a recursive call becomes a call of the function's own
compiled jvp (:class:`Pushforward`), and the tape statements of an adjoint (``Push``/``Pop``) keep the tangents of
the values they keep, alongside them on the same tape -- so the transform applies to any :class:`Function`,
adjoints built by ``reverse`` included.
"""

from __future__ import annotations

import contextlib
import itertools
import operator

import numpy as np

from . import avals as A
from .activity import SHAPE_ONLY, activity
from .builder import Builder, _key
from .calls import Call, Pullback, item_primitive, pullback
from .cse import merged
from .errors import NonDifferentiableError
from .inplace import IN_PLACE, check_writes, written_in_place
from .ir import Assign, Break, Const, For, Function, Global, If, Pack, Pop, Push, Return, Var, flatten, numbers, walk
from .lower import lower_rule
from .primitives import Primitive, lookup
from .reverse import _dead_code_eliminated, _is_large, _is_view, _roots, infer_avals
from .rules_shape import (
    PACKING,
)
from .runtime import (
    broadcast_like,
    index_add,
    list_append,
    setitem,
    zero_list,
    zeros_like,
)


def tangent_hint(v: Var) -> str:
    return f"d{v.hint}" if v.hint else ""


def forward(
    fn: Function,
    argnums: int | tuple,
    param_avals,
    tangent_avals=None,
    *,
    unit: bool = False,
    outputs: str = "both",
    in_place: bool = True,
) -> Function:
    """The jvp of ``fn`` with respect to the parameters at ``argnums``: ``f_jvp(*params, *tangents)`` returns
    ``(value, tangent)``, the tangent having the value's structure (a tuple for a tuple).

    ``tangent_avals`` are the abstract values of the tangents (by default, those of their parameters). With
    ``unit``, the tangents are not parameters but ``1.0`` each: the parameters at ``argnums`` must be scalars, and
    the tangent is the derivative with respect to them (summed, if there are several). ``outputs="tangent"``
    returns the tangent alone. ``in_place=False`` leaves every write a new value (for a transform to come).
    """
    fn = merged(fn)
    avals = infer_avals(fn, param_avals)
    check_writes(fn, avals)
    positions = argnums if isinstance(argnums, tuple) else (argnums,)
    wrt = [fn.params[i] for i in positions]
    active, taped = activity(fn, wrt)
    b = Builder(avals, simplify=True, sweep="forward")
    tan: dict = {}
    taken = {p.hint for p in fn.params + fn.kwonly}
    tangent_params = []
    for k, p in enumerate(wrt):
        if unit:
            tan[p] = Const(1.0)
            continue
        hint = tangent_hint(p) or f"d{k}"
        while hint in taken:
            hint += "_"
        taken.add(hint)
        t = Var(hint)
        av = b.aval(p) if tangent_avals is None else tangent_avals[k]
        b.avals[t] = A.Aval(av.shape, "f", av.array)
        tan[p] = t
        tangent_params.append(t)
    _body(b, fn.body, tan, active, taped)
    b.loc, b.sweep = fn.ret.loc, "forward"
    value = fn.ret.value
    leaves = [_tangent_or_zero(b, v, tan) for v in flatten(value)]
    leaves = _owned(b, leaves, set(fn.params + fn.kwonly + tangent_params), value)
    tangent = _unflatten(value, iter(leaves))
    ret = Return((value, tangent) if outputs == "both" else tangent, fn.ret.loc)
    body = _dead_code_eliminated(b.body, {v for v in ret.operands() if isinstance(v, Var)})
    release = frozenset(st.target for st in walk(body) if isinstance(st, Assign) and _is_large(b.aval(st.target)))
    out = Function(
        f"{fn.name}_jvp",
        fn.params + tangent_params,
        body,
        ret,
        fn.filename,
        fn.firstlineno,
        fn.kwonly,
        release,
        scalars=numbers(body, b.avals),
    )
    return written_in_place(out, b.avals) if in_place else out


# ── the transform ────────────────────────────────────────────────────────────────────────────────────


@contextlib.contextmanager
def _into(b: Builder, body: list):
    """Build into ``body`` (a branch's or a loop's), with what the enclosing code computed still reusable but
    what is computed here not leaking out."""
    outer_body, outer_memo = b.body, b.memo
    b.body, b.memo = body, dict(outer_memo)
    try:
        yield body
    finally:
        b.body, b.memo = outer_body, outer_memo


def _body(b: Builder, body: list, tan: dict, active: set, taped: dict):
    for st in body:
        b.loc, b.sweep = st.loc, st.sweep
        if isinstance(st, If):
            _branch(b, st, tan, active, taped)
        elif isinstance(st, For):
            _loop(b, st, tan, active, taped)
        elif isinstance(st, Break):
            b.emit(st)
        elif isinstance(st, Push):
            kept = [_tangent_or_zero(b, st.values[k], tan) for k in taped.get(len(st.values), ())]
            b.body.append(Push(st.tape, (*st.values, *kept), st.loc, st.sweep))
        elif isinstance(st, Pop):
            made = []
            for k in taped.get(len(st.targets), ()):
                v = st.targets[k]
                tan[v] = Var(tangent_hint(v))
                b.avals[tan[v]] = _tangent_aval(b.aval(v))
                made.append(tan[v])
            b.body.append(Pop((*st.targets, *made), st.tape, st.loc, st.sweep))
        else:
            _statement(b, st, tan, active)


def _branch(b: Builder, st: If, tan: dict, active: set, taped: dict):
    """A branch on the same test; each active join gets a tangent join. A side on which the joined value has no
    tangent contributes an exact zero, made on that side."""
    sides = []
    for side, body in ((1, st.then), (2, st.orelse)):
        path = dict(tan)
        with _into(b, []) as built:
            _body(b, body, path, active, taped)
            b.loc, b.sweep = st.loc, st.sweep
            ends = [_tangent_or_zero(b, j[side], path) for j in st.joins if j[0] in active]
        sides.append((built, ends))
    joins = []
    k = 0
    for join in st.joins:  # each value, then its tangent
        joins.append(join)
        v = join[0]
        if v in active:
            _name_shape(b, v)
            tan[v] = Var(tangent_hint(v))
            b.avals[tan[v]] = _tangent_aval(b.aval(v))
            joins.append((tan[v], sides[0][1][k], sides[1][1][k]))
            k += 1
    b.body.append(If(st.test, sides[0][0], sides[1][0], joins, st.loc, st.sweep))


def _loop(b: Builder, st: For, tan: dict, active: set, taped: dict):
    """The same loop, with the tangents of its active carried values carried too (started at an exact zero when
    the initial value does not vary)."""
    carried = [c for c in st.carried if c[0] in active]
    inits = [_tangent_or_zero(b, init, tan) for _, init, _ in carried]
    for v, _, _ in carried:
        _name_shape(b, v)
        tan[v] = Var(tangent_hint(v))
        b.avals[tan[v]] = _tangent_aval(b.aval(v))
    path = dict(tan)
    with _into(b, []) as built:
        _body(b, st.body, path, active, taped)
        b.loc, b.sweep = st.loc, st.sweep
        nexts = [_tangent_or_zero(b, nxt, path) for _, _, nxt in carried]
    more = {v: (tan[v], init, nxt) for (v, _, _), init, nxt in zip(carried, inits, nexts)}
    both = [x for c in st.carried for x in (c, more.get(c[0])) if x is not None]  # each value, then its tangent
    b.body.append(For(st.index, st.bounds, built, both, st.loc, st.sweep, st.reverse))


def _statement(b: Builder, st: Assign, tan: dict, active: set):
    """The user's statement, then its tangent if it is active."""
    if isinstance(st.prim, Call) and st.target in active:
        _call(b, st, tan)
        return
    b.emit(st)
    if not st.prim.fresh:
        b.memo.setdefault(_key(st.prim, st.args, st.kwargs), st.target)
    if st.target not in active:
        return
    prim = lookup(st.prim.fn) if st.prim in IN_PLACE else st.prim  # a write done in place: the write's rules
    y = st.target
    if isinstance(b.aval(y), A.Aval) and b.aval(y).shape is None:  # what the operands' named shapes tell
        kwargs = {k: (v.value if isinstance(v, Const) else None) for k, v in st.kwargs}
        b.avals[y] = b.result_aval(prim, st.args, kwargs)
        _name_shape(b, y)
    for name, op in st.kwargs:
        if isinstance(op, Var) and op in tan:
            raise NonDifferentiableError(f"{prim.display}() is not differentiable with respect to {name}=", st.loc)
    if prim.fn in PACKING and isinstance(st.args[0], (Pack, Var)):
        t = _joined(b, prim, st, tan)
    elif prim.fn in (setitem, index_add, list_append) and sum(isinstance(a, Var) and a in tan for a in st.args) > 1:
        # both the array and the value vary: write (or add) the value's tangent into the array's tangent
        x, index, v = st.args if prim.fn is not list_append else (st.args[0], None, st.args[1])
        args = (tan[x], tan[v]) if index is None else (tan[x], index, tan[v])
        t = b.call(prim, *args, hint=tangent_hint(y))
    else:
        t = _rule(b, prim, st, tan)
    if not _same_shape(b.aval(t), b.aval(y)):  # a contribution of a broadcast operand: the result's shape
        t = b.call(broadcast_like, t, y, hint=tangent_hint(y))
    if isinstance(t, Var) and not t.hint and b.producer(t) is not None:
        t.hint = tangent_hint(y)
    tan[y] = t


def _rule(b: Builder, prim: Primitive, st: Assign, tan: dict):
    """The sum over the arguments with a tangent of the jvp rule's output for that argument."""
    for a in st.args:
        if isinstance(a, Pack) and any(isinstance(v, Var) and v in tan for v in a.operands()):
            raise NonDifferentiableError(
                f"{prim.display}() of a list of values that vary has no forward-mode rule", st.loc
            )
    if isinstance(prim.fn, Pullback) or prim.fn is pullback or (prim.item is not None and prim.vjp is None):
        raise NonDifferentiableError(
            "the derivative of a recursive function cannot be differentiated again yet",
            st.loc,
            hint="write the recursion as a loop to take second derivatives",
        )
    if prim.jvp is None:
        what = "derivative rule" if prim.vjp is None else "forward-mode (jvp) rule"
        raise NonDifferentiableError(
            f"{prim.display}() has no {what}",
            st.loc,
            hint=f"register one with @adcompile.defjvp({prim.display})",
        )
    t = prim.template("jvp")
    total = None
    for i, a in enumerate(st.args):
        if not (isinstance(a, Var) and a in tan) or i in SHAPE_ONLY.get(prim.fn, ()):
            continue
        if i >= len(t.outputs) or t.outputs[i] is None:
            raise NonDifferentiableError(
                f"{prim.display}() is not differentiable with respect to its argument {i + 1}", st.loc
            )
        bindings = dict(zip(t.params, (tan[a], st.target, *st.args)))
        bindings.update(st.kwargs)
        c = lower_rule(b, prim, "jvp", i, bindings, prepared={})
        if total is None:
            total = c
        elif b.aval(st.target).kind == "list":  # + would join the lists
            raise NonDifferentiableError(f"{prim.display}() of several lists has no forward-mode rule", st.loc)
        else:
            total = b.call(operator.add, total, c)
    return total if total is not None else _tangent_or_zero(b, st.target, {})


def _joined(b: Builder, prim: Primitive, st: Assign, tan: dict):
    """``np.stack([a, b])``'s tangent is ``np.stack([da, db])``, with exact zeros for elements that do not vary
    (joining is linear); ``np.stack(xs)`` of a list ``xs`` is ``np.stack(dxs)``."""
    xs = st.args[0]
    if isinstance(xs, Var):
        joined = tan[xs]
    else:

        def tangents(pack: Pack) -> Pack:
            items = [tangents(i) if isinstance(i, Pack) else _tangent_or_zero(b, i, tan) for i in pack.items]
            return Pack(tuple(items), pack.kind)

        joined = tangents(xs)
    return b.call(prim, joined, *st.args[1:], hint=tangent_hint(st.target), **dict(st.kwargs))


def _call(b: Builder, st: Assign, tan: dict):
    """A recursive call (``calls.py``): the function's own jvp, compiled per signature, gives the value and the
    tangent at once."""
    positions = tuple(i for i, a in enumerate(st.args) if isinstance(a, Var) and a in tan)
    r = Var(f"{st.prim.name}_r")
    b.avals[r] = A.UNKNOWN
    tangents = tuple(tan[st.args[i]] for i in positions)
    b.emit(Assign(r, pushforward_primitive(st.prim.fn, positions), (*st.args, *tangents), st.kwargs, st.loc))
    b.emit(Assign(st.target, item_primitive(0), (r,), (), st.loc, st.sweep))
    t = Var(tangent_hint(st.target))
    b.avals[t] = _tangent_aval(b.aval(st.target))
    b.emit(Assign(t, item_primitive(1), (r,), (), st.loc, st.sweep))
    tan[st.target] = t


# ── zeros, shapes and aliasing ───────────────────────────────────────────────────────────────────────


_SHAPES = itertools.count(1)


def _name_shape(b: Builder, v: Var):
    """Give an unknown shape a name of its own, so that what is computed elementwise from ``v`` and from its
    tangent is known to have one shape (and needs no ``broadcast_like``)."""
    av = b.aval(v)
    if isinstance(av, A.Aval) and av.shape is None and av.kind != "list":
        b.avals[v] = A.Aval(A.SymShape(frozenset([f"<shape {next(_SHAPES)}>"])), av.kind, av.array)


def _tangent_aval(av):
    return A.Aval(av.shape, "f", av.array) if isinstance(av, A.Aval) and av.kind != "list" else av


def _same_shape(have, want) -> bool:
    if not (isinstance(have, A.Aval) and isinstance(want, A.Aval)):
        return True  # lists and other containers: the rule made the container itself
    if want.kind == "list" or have.kind == "list":
        return True
    return have.shape is not None and have.shape == want.shape


def _tangent_or_zero(b: Builder, op, tan: dict):
    """The tangent of ``op``, or an exact zero of its own kind when it has none."""
    if isinstance(op, Var) and op in tan:
        return tan[op]
    if isinstance(op, Var):
        av = b.aval(op)
        hint = tangent_hint(op)
    else:
        av = b.aval(op)
        hint = ""
    if av.array is False or (isinstance(op, Const) and not isinstance(op.value, (list, tuple))):
        return Const(0.0)
    if av.kind == "list":
        return b.call(zero_list, op, hint=hint)
    if av.array:
        return b.call(np.zeros_like, op, hint=hint)
    return b.call(zeros_like, op, hint=hint)


def _unflatten(value, leaves):
    if isinstance(value, tuple):
        return tuple(_unflatten(v, leaves) for v in value)
    return next(leaves)


def _owned(b: Builder, tangents: list, params: set, value) -> list:
    """Copy returned tangents that could be an input, a global, a read-only view, part of the returned value or of
    another returned tangent: the caller may write into what it gets."""
    producers = {}
    for st in walk(b.body):
        if isinstance(st, If):
            producers.update((v, (x, y)) for v, x, y in st.joins)
        elif isinstance(st, For):
            producers.update((v, (init, nxt)) for v, init, nxt in st.carried)
        elif isinstance(st, Assign):
            producers[st.target] = st
    seen: set = set()
    for v in flatten(value):
        if isinstance(v, Var):
            seen |= _roots(v, producers)
    out = []
    for t in tangents:
        if isinstance(t, Var):
            roots = _roots(t, producers)
            risky = any(r in params or isinstance(r, Global) or r in seen or _is_view(r, producers) for r in roots)
            seen |= roots
            if risky and b.aval(t).array is not False:
                from .runtime import owned

                t = b.call(np.copy if b.aval(t).array else owned, t, hint=t.hint)
        out.append(t)
    return out


# ── recursive calls: the callee's own jvp ────────────────────────────────────────────────────────────


_PUSHFORWARDS: dict = {}


def pushforward_primitive(fn, argnums: tuple) -> Primitive:
    """The primitive that runs ``fn``'s jvp with respect to the positions ``argnums``."""
    import weakref

    table = _PUSHFORWARDS.setdefault("table", weakref.WeakKeyDictionary()).setdefault(fn, {})
    prim = table.get(argnums)
    if prim is None:
        runner = Pushforward(fn, argnums)
        prim = table[argnums] = Primitive(runner, runner.__name__, shape_rule=A.unknown)
    return prim


class Pushforward:
    """``Pushforward(fn, argnums)(*args, *tangents)`` is ``(fn(*args), tangent)``, the tangent of the value along
    the tangents of the arguments at ``argnums``. Compiled per argument signature, like ``grad``."""

    def __init__(self, fn, argnums: tuple):
        from .api import _Derivative

        self.derivative = _Derivative(fn, argnums, with_value=True, mode="forward")
        self.__name__ = f"{fn.__name__}_jvp"

    def __call__(self, *args):
        return self.derivative.function_for(args)(*args)


__all__ = ["Pushforward", "activity", "forward", "pushforward_primitive"]
