"""Reverse mode: from the SSA IR of ``f`` to the SSA IR of its adjoint.

The adjoint runs the forward sweep (the user's statements, which keep every intermediate in a local variable), then
the reverse sweep: statements are visited last to first and each active argument receives the rule's contribution.
The first contribution to an adjoint defines it; later ones are added (``bx = bx + c``), which is the sum over paths
where a value fans out. Only *active* values -- reached from a differentiated input and reaching the output -- get
adjoints; an input that does not reach the output gets an exact zero of its own type.
"""

from __future__ import annotations

import operator

import numpy as np

from . import avals as A
from .builder import Builder
from .errors import NonDifferentiableError, OutputError
from .ir import Assign, Const, Function, Global, If, Return, Var, defined, walk
from .lower import lower_rule
from .runtime import broadcast_like, expand_to, owned, scalar_seed, unbroadcast, zeros_like

# Primitives whose result may be their first argument itself, or a view of it.
_PASS_THROUGH = {unbroadcast, expand_to, broadcast_like, operator.pos}
_VIEWS = {expand_to, broadcast_like}


def infer_avals(fn: Function, param_avals) -> dict:
    """Abstract values of every variable of ``fn`` given those of its parameters."""
    b = Builder()
    b.avals.update(zip(fn.params + fn.kwonly, param_avals))

    def visit(body):
        for st in body:
            b.loc = st.loc
            if isinstance(st, If):
                visit(st.then)
                visit(st.orelse)
                for v, x, y in st.joins:
                    b.avals[v] = A.join(b.aval(x), b.aval(y))
            else:
                kwargs = {k: (v.value if isinstance(v, Const) else None) for k, v in st.kwargs}
                b.avals[st.target] = st.prim.shape_rule([b.aval(a) for a in st.args], kwargs, st.loc)

    visit(fn.body)
    return b.avals


def active_vars(fn: Function, wrt) -> set:
    """Variables that depend on a differentiated input and influence the output.

    A branch's test only steers: it is never active. A join is active when the value on either path is.
    """
    varied = set(wrt)

    def forward(body):
        for st in body:
            if isinstance(st, If):
                forward(st.then)
                forward(st.orelse)
                varied.update(v for v, x, y in st.joins if x in varied or y in varied)
            elif st.prim.differentiable and any(isinstance(a, Var) and a in varied for a in st.operands()):
                varied.add(st.target)

    useful = {v for v in fn.ret.operands() if isinstance(v, Var)}

    def backward(body):
        for st in reversed(body):
            if isinstance(st, If):
                for v, x, y in st.joins:
                    if v in useful:
                        useful.update(o for o in (x, y) if isinstance(o, Var))
                backward(st.then)
                backward(st.orelse)
            elif st.target in useful and st.prim.differentiable:
                useful.update(a for a in st.operands() if isinstance(a, Var))

    forward(fn.body)
    backward(fn.body)
    return varied & useful


def adjoint_hint(v: Var) -> str:
    return f"b{v.hint}" if v.hint else ""


def reverse(fn: Function, argnums: int | tuple, param_avals, with_value: bool) -> Function:
    """The adjoint of ``fn`` with respect to the parameters at ``argnums``.

    It returns the gradient (a tuple of gradients if ``argnums`` is a tuple), preceded by the value of ``fn`` if
    ``with_value``.
    """
    if isinstance(fn.ret.value, tuple):
        raise OutputError(
            f"grad requires {fn.name}() to return a single scalar, but it returns a tuple",
            fn.ret.loc,
            hint="return one scalar; Jacobians of several outputs are not supported yet",
        )
    avals = infer_avals(fn, param_avals)
    wrt = [fn.params[i] for i in (argnums if isinstance(argnums, tuple) else (argnums,))]
    active = active_vars(fn, wrt)
    b = Builder(avals, simplify=True, sweep="reverse")
    b.remember(fn.body)
    b.loc = fn.ret.loc
    y = fn.ret.value
    adj: dict = {}
    if y in active:
        adj[y] = _seed(b, fn, y)
    _sweep(b, fn.body, adj, active)
    b.loc = fn.ret.loc
    grads = [adj[p] if p in adj else _zero(b, p) for p in wrt]
    grads = _owned(b, grads, set(fn.params + fn.kwonly))
    result = tuple(grads) if isinstance(argnums, tuple) else grads[0]
    ret = Return((y, result) if with_value else result, fn.ret.loc)
    body = _dead_code_eliminated(fn.body + b.body, {v for v in ret.operands() if isinstance(v, Var)})
    suffix = "value_and_grad" if with_value else "grad"
    release = frozenset(st.target for st in walk(body) if isinstance(st, Assign) and _is_large(b.aval(st.target)))
    return Function(f"{fn.name}_{suffix}", fn.params, body, ret, fn.filename, fn.firstlineno, fn.kwonly, release)


def _is_large(aval) -> bool:
    """Arrays big enough that holding them until the function returns costs more than a del statement."""
    return isinstance(aval.shape, tuple) and int(np.prod(aval.shape)) >= 4096


def _seed(b: Builder, fn: Function, y):
    shape = b.aval(y).shape
    if shape == ():
        return Const(1.0)
    if isinstance(shape, tuple):
        raise OutputError(
            f"grad requires {fn.name}() to return a scalar, but it returns an array of shape {shape}",
            fn.ret.loc,
            hint="reduce the output to a scalar (for example with np.sum(...)); "
            "Jacobians of vector outputs are not supported yet",
        )
    return b.call(scalar_seed, y, Const(fn.name), hint=adjoint_hint(y) or "seed")


def _sweep(b: Builder, body: list, adj: dict, active: set):
    """The reverse sweep of ``body``: statements last to first, adjoints accumulated in ``adj``."""
    for st in reversed(body):
        if isinstance(st, If):
            _backprop_if(b, st, adj, active)
        elif st.target in adj:
            _backprop(b, st, adj, active)


def _backprop_if(b: Builder, st: If, adj: dict, active: set):
    """The reverse of a branch is a branch on the same test (kept in a local by the forward sweep).

    Each side first passes the joins' adjoints to that side's values, then sweeps its statements backwards. An
    adjoint of an outer variable that changed on either side is joined again after the branch; a side on which it
    received nothing contributes an exact zero.
    """
    inner = defined(st.then) | defined(st.orelse)
    before = dict(adj)
    sides = []
    for side, body in ((1, st.then), (2, st.orelse)):
        outer_body, outer_memo = b.body, b.memo
        b.body, b.memo = [], dict(outer_memo)
        path = dict(before)
        for join in st.joins:
            g, value = adj.get(join[0]), join[side]
            if g is None or not (isinstance(value, Var) and value in active):
                continue
            path[value] = g if value not in path else b.call(operator.add, path[value], g, hint=adjoint_hint(value))
        _sweep(b, body, path, active)
        sides.append((path, b.body))
        b.body, b.memo = outer_body, outer_memo
    joins = []
    b.loc = st.loc
    changed = [k for k in {**sides[0][0], **sides[1][0]} if k not in inner and not _same(sides, before, k)]
    for k in changed:
        values = []
        for path, body in sides:
            if k not in path:
                outer_body, b.body = b.body, body
                path[k] = _zero(b, k)
                b.body = outer_body
            values.append(path[k])
        if values[0] is values[1]:
            adj[k] = values[0]
            continue
        adj[k] = Var(adjoint_hint(k))
        b.avals[adj[k]] = A.join(b.aval(values[0]), b.aval(values[1]))
        joins.append((adj[k], values[0], values[1]))
    b.body.append(If(st.test, sides[0][1], sides[1][1], joins, st.loc, "reverse"))


def _same(sides, before, k) -> bool:
    return all(path.get(k) is before.get(k) for path, _ in sides)


def _backprop(b: Builder, st: Assign, adj: dict, active: set):
    prim = st.prim
    b.loc = st.loc
    if prim.vjp is None:
        raise NonDifferentiableError(
            f"{prim.display}() has no derivative rule", st.loc, hint=f"register one with @adcompile.vjp({prim.display})"
        )
    t = prim.template("vjp")
    bindings = dict(zip(t.params, (adj[st.target], st.target, *st.args)))
    bindings.update(st.kwargs)
    for i, a in enumerate(st.args):
        if not (isinstance(a, Var) and a in active):
            continue
        if i >= len(t.outputs) or t.outputs[i] is None:
            raise NonDifferentiableError(
                f"{prim.display}() is not differentiable with respect to its argument {i + 1}", st.loc
            )
        first = a not in adj
        c = lower_rule(b, prim, "vjp", i, bindings, hint=adjoint_hint(a) if first else "")
        if first and isinstance(c, Var) and not c.hint and b.producer(c) is not None:
            c.hint = adjoint_hint(a)  # an unnamed adjoint temporary that turns out to be a's adjoint: say so
        adj[a] = c if first else b.call(operator.add, adj[a], c, hint=adjoint_hint(a))


def _zero(b: Builder, p: Var):
    """An exact zero of the variable's own type and shape."""
    av = b.aval(p)
    if av.array is False:
        return Const(0.0)
    if av.array:
        return b.call(np.zeros_like, p, hint=adjoint_hint(p))
    return b.call(zeros_like, p, hint=adjoint_hint(p))


def _owned(b: Builder, grads, params) -> list:
    """Copy returned gradients that could alias an input, a global, a broadcast view or another gradient."""
    producers = {}
    for st in walk(b.body):
        if isinstance(st, If):
            producers.update((v, (x, y)) for v, x, y in st.joins)
        else:
            producers[st.target] = st
    seen: set = set()
    out = []
    for g in grads:
        roots = _roots(g, producers)
        risky = any(r in params or isinstance(r, Global) or r in seen or _is_view(r, producers) for r in roots)
        seen |= roots
        if risky and b.aval(g).array is not False:
            g = b.call(np.copy if b.aval(g).array else owned, g, hint=g.hint if isinstance(g, Var) else "")
        out.append(g)
    return out


def _roots(v, producers) -> set:
    if isinstance(v, Const):
        return set()
    st = producers.get(v)
    if isinstance(st, tuple):  # a join: either path's value
        return _roots(st[0], producers) | _roots(st[1], producers)
    if st is not None and st.prim.fn in _PASS_THROUGH:
        return {v} | _roots(st.args[0], producers) if st.prim.fn in _VIEWS else _roots(st.args[0], producers)
    return {v}


def _is_view(v, producers) -> bool:
    st = producers.get(v)
    return isinstance(st, Assign) and st.prim.fn in _VIEWS


def _dead_code_eliminated(body: list, live: set) -> list:
    """``body`` without the statements whose results are never used (``live``: what is used after it)."""
    kept = []
    for st in reversed(body):
        if isinstance(st, If):
            joins = [j for j in st.joins if j[0] in live]
            live_then = live | {j[1] for j in joins if isinstance(j[1], Var)}
            live_else = live | {j[2] for j in joins if isinstance(j[2], Var)}
            then, orelse = _dead_code_eliminated(st.then, live_then), _dead_code_eliminated(st.orelse, live_else)
            if then or orelse or joins:
                kept.append(If(st.test, then, orelse, joins, st.loc, st.sweep))
                live |= live_then | live_else
                if isinstance(st.test, Var):
                    live.add(st.test)
        elif st.target in live:
            kept.append(st)
            live.update(a for a in st.operands() if isinstance(a, Var))
    kept.reverse()
    return kept
