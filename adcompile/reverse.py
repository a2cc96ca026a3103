"""Reverse mode: from the SSA IR of ``f`` to the SSA IR of its adjoint.

The adjoint runs the forward sweep (the user's statements, which keep every intermediate in a local variable), then
the reverse sweep: statements are visited last to first and each active argument receives the rule's contribution.
The first contribution to an adjoint defines it; later ones are added (``bx = bx + c``), which is the sum over paths
where a value fans out. Only *active* values -- reached from a differentiated input and reaching the output -- get
adjoints; an input that does not reach the output gets an exact zero of its own type.
"""

from __future__ import annotations

import dataclasses
import math
import operator

import numpy as np

from . import avals as A
from .activity import activity
from .batch import batched_outer_products
from .builder import Builder
from .calls import Call, item_primitive, pullback, pullback_primitive
from .cse import merged
from .errors import NonDifferentiableError, OutputError
from .inplace import check_writes, written_in_place
from .ir import (
    Assign,
    Break,
    Const,
    For,
    Function,
    Global,
    If,
    Pack,
    Pop,
    Push,
    Return,
    Var,
    defined,
    flatten,
    map_operand,
    numbers,
    read_by,
    targets,
    walk,
)
from .lower import lower_rule
from .primitives import READ_ONLY_VIEWS, primitive, returns_new
from .rules_linalg import multi_dot_part
from .rules_multi import REFUSED
from .rules_shape import PACKING
from .runtime import index_add, owned, part_of, replayable, scalar_seed, zeros_like
from .simplify import negations_folded, squares_for_the_adjoint, without_known_checks


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
            elif isinstance(st, (Break, Push)):
                continue
            elif isinstance(st, Pop):  # what a tape gives back (forward mode applied to an adjoint)
                b.avals.update((v, A.UNKNOWN) for v in st.targets)
            elif isinstance(st, For):
                if st.index is not None:
                    b.avals[st.index] = A.Aval((), "i", False)
                for v, init, _ in st.carried:
                    b.avals[v] = b.aval(init)
                for attempt in range(4):  # carried values: iterate until what is known of them stops changing
                    visit(st.body)
                    new = [A.join(b.aval(init), b.aval(nxt)) for _, init, nxt in st.carried]
                    if all(b.avals[c[0]] == a for c, a in zip(st.carried, new)):
                        break
                    for (v, _, _), a in zip(st.carried, new):
                        b.avals[v] = a if attempt < 2 else A.UNKNOWN
            else:
                kwargs = {k: (v.value if isinstance(v, Const) else None) for k, v in st.kwargs}
                b.avals[st.target] = b.result_aval(st.prim, st.args, kwargs)

    visit(fn.body)
    return b.avals


def adjoint_hint(v: Var) -> str:
    return f"b{v.hint}" if v.hint else ""


def reverse(
    fn: Function,
    argnums: int | tuple,
    param_avals,
    with_value: bool,
    split: bool = False,
    reusable: bool = False,
    has_aux: bool = False,
    in_place: bool = True,
):
    """The adjoint of ``fn`` with respect to the parameters at ``argnums``.

    It returns the gradient (a tuple of gradients if ``argnums`` is a tuple), preceded by the value of ``fn`` if
    ``with_value``. With ``has_aux``, ``fn`` returns a pair ``(output, aux)``: the gradient is that of the output,
    and ``aux`` comes back with it, as ``(gradient, aux)`` or ``((value, aux), gradient)``. With ``split``, the
    output may have any shape, and the result is two functions instead of one: the forward sweep, returning
    ``fn``'s value and the residuals, and the reverse sweep, taking the residuals and the output's adjoint and
    returning the gradients (see :func:`split_adjoint`), which may run more than once if ``reusable``.
    ``in_place=False`` leaves every write a new value, for a transform of the adjoint to come (``hessian``).
    """
    y, aux = fn.ret.value, None
    if has_aux:
        if not (isinstance(y, tuple) and len(y) == 2):
            raise OutputError(
                f"has_aux=True requires {fn.name}() to return a pair (output, aux)",
                fn.ret.loc,
                hint="return output, aux (aux may be a tuple)",
            )
        y, aux = y
    if isinstance(y, tuple):
        raise OutputError(
            f"grad requires {fn.name}() to return a single scalar, but it returns a tuple",
            fn.ret.loc,
            hint="return one scalar, or pass has_aux=True to return (output, aux); for several outputs use vjp",
        )
    fn = merged(fn)
    y, aux = fn.ret.value if has_aux else (fn.ret.value, None)
    avals = infer_avals(fn, param_avals)
    check_writes(fn, avals)
    wrt = [fn.params[i] for i in (argnums if isinstance(argnums, tuple) else (argnums,))]
    active = activity(fn, wrt, [y])[0]
    b = Builder(avals, simplify=True, sweep="reverse")
    b.remember(fn.body)
    b.loc = fn.ret.loc
    adj: dict = {}
    seed = Var("g") if split else None
    if seed is not None:
        b.avals[seed] = b.aval(y)
    if y in active:
        adj[y] = seed if seed is not None else _seed(b, fn, y)
    _sweep(b, fn.body, adj, active)
    b.loc = fn.ret.loc
    grads = [adj[p] if p in adj else _zero(b, p) for p in wrt]
    grads = _owned(b, grads, set(fn.params + fn.kwonly) | {seed}, fn.body)
    result = tuple(grads) if isinstance(argnums, tuple) else grads[0]
    value = (y, aux) if has_aux else y
    if with_value:
        out = (value, result)
    else:
        out = (result, aux) if has_aux else result
    body, out = without_known_checks(_substituted(fn.body, b.replace) + b.body, out, avals)
    ret = Return(out, fn.ret.loc)
    body = _dead_code_eliminated(body, {v for v in ret.operands() if isinstance(v, Var)})
    body = negations_folded(body, out, b.avals)
    body = squares_for_the_adjoint(body, value if with_value else aux, b.avals)
    suffix = "value_and_grad" if with_value else "grad"
    release = frozenset(st.target for st in walk(body) if isinstance(st, Assign) and _is_large(b.aval(st.target)))
    params = fn.params + [seed] * split
    adjoint = Function(f"{fn.name}_{suffix}", params, body, ret, fn.filename, fn.firstlineno, fn.kwonly, release)
    adjoint.scalars = numbers(body, b.avals)
    if in_place:
        batched = batched_outer_products(adjoint, b.avals)
        if batched is not adjoint:  # the zero buffers the sums no longer start from
            body = _dead_code_eliminated(batched.body, {v for v in ret.operands() if isinstance(v, Var)})
            batched = dataclasses.replace(batched, body=body)
        adjoint = written_in_place(batched, b.avals)
    return split_adjoint(adjoint, seed, fn.name, reusable) if split else adjoint


def split_adjoint(adjoint: Function, seed: Var, name: str, reusable: bool) -> tuple[Function, Function]:
    """The adjoint ``f_vjp(*params, seed)``, returning ``(value, gradients)``, cut into two functions where its
    reverse sweep starts: ``f_fwd(*params)`` returns ``(value, residuals)`` and ``f_bwd(*residuals, seed)`` the
    gradients. The residuals are what the reverse sweep reads of the forward sweep (arguments included); a value
    the forward sweep computes on one path of a branch is joined with ``None`` on the other, as the reverse sweep
    reads it only on the same path. The reverse sweep pops the tapes it reads; if ``reusable``, it pops copies."""
    body = adjoint.body
    cut = next((i for i, st in enumerate(body) if st.sweep == "reverse"), len(body))
    forward, backward = body[:cut], body[cut:]
    value, grads = adjoint.ret.value
    reads = {op for st in walk(backward) for op in read_by(st) if isinstance(op, Var)}
    reads |= {op for op in flatten(grads) if isinstance(op, Var)}
    reads -= defined(backward) | {seed}
    order = adjoint.params[:-1] + [v for st in walk(forward) for v in targets(st)]
    residuals = [v for v in dict.fromkeys(order) if v in reads]
    if len(residuals) != len(reads) or any(st.sweep != "reverse" for st in backward):
        raise AssertionError(f"the adjoint of {adjoint.name} does not split into a forward and a reverse sweep")
    forward, visible = _exposed(forward, set(residuals))
    loc = adjoint.ret.loc
    kept = Return((value, tuple(visible.get(v, v) for v in residuals)), loc)
    fwd = dataclasses.replace(adjoint, name=f"{name}_fwd", params=adjoint.params[:-1], body=forward, ret=kept)
    taken = {}  # residual -> the reverse sweep's parameter for it, named uniquely (_s1, _s2, ... if unnamed)
    for v in residuals:
        base = v.hint or f"_s{len(taken) + 1}"
        hint, k = base, 1
        while hint in {p.hint for p in taken.values()} | {seed.hint}:
            k += 1
            hint = f"{base}_{k}"
        taken[v] = Var(hint)
    inside, prelude = dict(taken), []
    if reusable:
        tapes = {st.target for st in walk(forward) if isinstance(st, Assign) and st.prim.fn is list}
        for v in residuals:
            if v in tapes:
                inside[v] = Var(v.hint)
                prelude.append(Assign(inside[v], primitive(replayable), (taken[v],), (), loc, "reverse"))
    params, body = [*taken.values(), seed], prelude + _renamed(backward, inside)
    ret = Return(_renamed_tree(grads, inside), loc)
    bwd = dataclasses.replace(adjoint, name=f"{name}_bwd", params=params, body=body, ret=ret, kwonly=[])
    return fwd, bwd


def _renamed_tree(value, mapping: dict):
    """A (possibly nested) tuple of operands with the variables of ``mapping`` replaced."""
    if isinstance(value, tuple):
        return tuple(_renamed_tree(v, mapping) for v in value)
    return mapping.get(value, value) if isinstance(value, Var) else value


def _exposed(body: list, wanted: set) -> tuple[list, dict]:
    """``body`` with each variable of ``wanted`` that a branch defines joined after the branch (with ``None`` on
    the path that does not define it), and variable -> what holds its value after ``body``."""
    out, visible = [], {}
    for st in body:
        if isinstance(st, If):
            then, seen_then = _exposed(st.then, wanted)
            orelse, seen_else = _exposed(st.orelse, wanted)
            joins = list(st.joins)
            visible.update((j[0], j[0]) for j in joins if j[0] in wanted)  # the branch's own joins are visible
            for v in dict.fromkeys([*seen_then, *seen_else]):
                visible[v] = Var(v.hint)
                joins.append((visible[v], seen_then.get(v, Const(None)), seen_else.get(v, Const(None))))
            st = If(st.test, then, orelse, joins, st.loc, st.sweep)
        else:
            visible.update((v, v) for v in targets(st) if v in wanted)
        out.append(st)
    return out, visible


def _is_large(aval) -> bool:
    """Arrays big enough that holding them until the function returns costs more than a del statement."""
    return isinstance(aval.shape, tuple) and math.prod(aval.shape) >= 4096


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
        elif isinstance(st, For):
            _backprop_for(b, st, adj, active)
        elif isinstance(st, Assign) and st.target in adj:
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
            if k not in path:  # made on this side only: not for later statements to reuse
                outer_body, outer_memo = b.body, b.memo
                b.body, b.memo = body, dict(outer_memo)
                path[k] = _zero(b, k)
                b.body, b.memo = outer_body, outer_memo
            values.append(path[k])
        if values[0] is values[1]:
            adj[k] = values[0]
            continue
        adj[k] = Var(adjoint_hint(k))
        b.avals[adj[k]] = A.join(b.aval(values[0]), b.aval(values[1]))
        joins.append((adj[k], values[0], values[1]))
    if not joins and not sides[0][1] and not sides[1][1]:
        return  # nothing flows back through this branch (it only steers a test, say): no reverse branch
    b.reverse_of[st] = If(st.test, sides[0][1], sides[1][1], joins, st.loc, "reverse")
    b.body.append(b.reverse_of[st])


def _backprop_for(b: Builder, st: For, adj: dict, active: set):
    """The reverse of a loop is a loop over the same range, reversed, reading back what the forward loop taped.

    The forward loop appends, at the end of each iteration, the values of that iteration that the reverse body
    reads (the tape is a list). The reverse loop pops them in reverse order. Its carried values are the adjoints of
    the loop's carried variables and the running sums of the adjoints of outer values the body reads.
    """
    inner = defined(st.body) | {c[0] for c in st.carried}
    loop_carried = [c for c in st.carried if c[0] in active]
    outer = []  # active values from outside the loop that the body reads: their adjoints accumulate
    for inner_st in walk(st.body):
        for op in read_by(inner_st):
            if isinstance(op, Var) and op in active and op not in inner and op is not st.index and op not in outer:
                outer.append(op)
    for _, _, nxt in loop_carried:
        if isinstance(nxt, Var) and nxt in active and nxt not in inner and nxt not in outer:
            outer.append(nxt)
    b.loc = st.loc
    running = {}  # variable -> the reverse loop's carried adjoint for it
    inits = {}
    indexed = {s2.args[0] for s2 in walk(st.body) if isinstance(s2, Assign) and s2.prim.fn is operator.getitem}
    for v in [c[0] for c in loop_carried] + outer:
        inits[v] = adj[v] if v in adj else _zero(b, v)
        if v in indexed and v in adj and _full_array(b, adj[v], v) and not _made_here(b, adj[v]):
            # the reverse loop adds into this adjoint in place: it gets a buffer of its own, once, before the loop
            inits[v] = b.call(np.copy, adj[v], hint=adjoint_hint(v))
        running[v] = Var(adjoint_hint(v))
        b.avals[running[v]] = A.join(b.aval(inits[v]), b.aval(v))
    outer_body, outer_memo = b.body, b.memo

    def sweep_body():
        # values computed outside the loop from the loop's own variables (np.cos(y) of the final y, say) are not
        # the values of an iteration: the body may not reuse them
        b.memo = {key: v for key, v in outer_memo.items() if not _mentions(key, inner | {st.index})}
        b.body = []
        path = {v: running[v] for v in outer}
        for phi, _, nxt in loop_carried:
            if isinstance(nxt, Var) and nxt in active:
                g = running[phi]
                path[nxt] = g if nxt not in path else b.call(operator.add, path[nxt], g, hint=adjoint_hint(nxt))
        # a while loop's test (the statements up to its Break) only steers: nothing flows back through it, and it
        # also runs in the last, partial iteration, which the reverse loop does not replay
        breaks = [i for i, s in enumerate(st.body) if isinstance(s, Break)]
        _sweep(b, st.body[breaks[0] + 1 :] if breaks else st.body, path, active)
        for phi, _, _ in loop_carried:
            if phi not in path:
                path[phi] = _zero(b, phi)
        return path

    path = sweep_body()
    # an adjoint that passes through every iteration unchanged (that of a running sum, loss = loss + ...) is its
    # initial value throughout: swept again with that value, a literal seed folds into the rules (1.0 * v is v)
    invariant = [c for c in loop_carried if path[c[0]] is running[c[0]] and c[0] not in outer]
    if invariant:
        for phi, _, _ in invariant:
            running[phi] = inits[phi]
        path = sweep_body()
        if any(path[phi] is not inits[phi] for phi, _, _ in invariant):
            raise AssertionError(f"an invariant adjoint of the loop at line {st.loc.line} changed when swept again")
    reverse_body, b.body, b.memo = b.body, outer_body, outer_memo
    # what the reverse body reads of this iteration's values (not what it computes itself, nor inner loops' tapes'
    # contents, which their own pops bring back) must be kept by the forward loop
    reads = {op for s2 in walk(reverse_body) for op in read_by(s2) if isinstance(op, Var)} - defined(reverse_body)
    # only what the statements that matter read: those the reverse loop's carried adjoints need (a rule may have
    # built a statement that a fold made useless, reading a value that need not be taped)
    needed = {path[v] for v in [c[0] for c in loop_carried] + outer if isinstance(path[v], Var)}
    _dead_code_eliminated(reverse_body, needed)  # for what it adds to `needed`; the body is kept as it is
    reads &= needed
    where = {c[0]: None for c in st.carried}  # and then every value the body defines, in order
    _placement(st.body, b.replace, None, where)
    groups: dict = {}  # None (the end of the iteration) or (If, side) -> values kept there
    for v in where:
        if v in reads:
            groups.setdefault(where[v], []).append(v)
    if groups:
        # a value computed on one path of a branch is kept at the end of that path, and taken back at the start
        # of the same path of the reversed branch: pushes and pops stay in last-in-first-out order
        tape = Var("tape")
        pushes = {}
        for place, values in groups.items():
            if place is None:
                continue
            pushes[place] = Push(tape, tuple(values), st.loc)
            rev = b.reverse_of[place[0]]
            branch = rev.then if place[1] == 1 else rev.orelse
            branch.insert(0, Pop(tuple(values), tape, st.loc))
        forward_body = _substituted(st.body, b.replace, pushes)
        if None in groups:
            forward_body.append(Push(tape, tuple(groups[None]), st.loc))
            reverse_body = [Pop(tuple(groups[None]), tape, st.loc), *reverse_body]
        prelude = [Assign(tape, primitive(list), (), (), st.loc, "forward")]
        # the reverse loop reads popped copies, not the forward variables: those keep their last values for
        # whatever reads them after the loop (a carried variable's final value, say)
        copies = {v: Var(v.hint) for values in groups.values() for v in values}
        for v, c in copies.items():
            b.avals[c] = b.aval(v)
        reverse_body = _renamed(reverse_body, copies)
        path = {k: copies.get(p, p) if isinstance(p, Var) else p for k, p in path.items()}
    else:
        forward_body, prelude = _substituted(st.body, b.replace), []
    index, bounds, forward_carried = st.index, st.bounds, st.carried
    if index is None:  # a while loop counts its iterations; the reverse loop runs that many times
        trips, more = Var("trips"), Var("")
        b.avals[trips] = b.avals[more] = A.Aval((), "i", False)
        forward_body = [*forward_body, Assign(more, primitive(operator.add), (trips, Const(1)), (), st.loc)]
        forward_carried = [*st.carried, (trips, Const(0), more)]
        index, bounds = Var("_"), (trips,)
    b.replace[st] = [*prelude, For(st.index, st.bounds, forward_body, forward_carried, st.loc, st.sweep, st.reverse)]
    carried = [(running[v], inits[v], path[v]) for v in [c[0] for c in loop_carried] + outer]
    carried = [c for c in carried if c[0] is not c[1]]  # an invariant adjoint is its initial value: not carried
    b.loc = st.loc
    b.body.append(For(index, bounds, reverse_body, carried, st.loc, "reverse", reverse=not st.reverse))
    for phi, init, _ in loop_carried:
        if isinstance(init, Var) and init in active and init not in outer:
            g = running[phi]
            adj[init] = g if init not in adj else b.call(operator.add, adj[init], g, hint=adjoint_hint(init))
    for v in outer:
        adj[v] = running[v]
    for phi, init, _ in loop_carried:
        if init in outer:  # the loop's initial value is also read inside: both contributions
            adj[init] = b.call(operator.add, adj[init], running[phi], hint=adjoint_hint(init))


def _mentions(key, variables) -> bool:
    """Whether a CSE key (primitive, operand keys, keyword keys) involves one of ``variables``."""
    _, operands, keywords = key
    return any(k in variables for k in operands) or any(k in variables for _, k in keywords)


def _substituted(body: list, replace: dict, pushes=None) -> list:
    """``body`` with each loop the reverse sweep taped replaced by its taped version, at any depth, and the
    pushes of ``pushes`` ((If, side) -> Push) at the end of those branches."""
    pushes = pushes or {}
    out = []
    for st in body:
        if st in replace:
            out.extend(replace[st])
        elif isinstance(st, If):
            then, orelse = _substituted(st.then, replace, pushes), _substituted(st.orelse, replace, pushes)
            then += [pushes[st, 1]] if (st, 1) in pushes else []
            orelse += [pushes[st, 2]] if (st, 2) in pushes else []
            out.append(If(st.test, then, orelse, st.joins, st.loc, st.sweep))
        elif isinstance(st, For):
            out.append(
                For(st.index, st.bounds, _substituted(st.body, replace), st.carried, st.loc, st.sweep, st.reverse)
            )
        else:
            out.append(st)
    return out


def _renamed(body: list, mapping: dict) -> list:
    """``body`` with every read and write of a variable in ``mapping`` going to its replacement."""

    def r(op):
        return map_operand(op, lambda v: mapping.get(v, v))

    out = []
    for st in body:
        if isinstance(st, If):
            joins = [(r(v), r(x), r(y)) for v, x, y in st.joins]
            out.append(
                If(r(st.test), _renamed(st.then, mapping), _renamed(st.orelse, mapping), joins, st.loc, st.sweep)
            )
        elif isinstance(st, For):
            carried = [(r(v), r(x), r(y)) for v, x, y in st.carried]
            out.append(
                For(
                    r(st.index),
                    st.bounds and tuple(map(r, st.bounds)),
                    _renamed(st.body, mapping),
                    carried,
                    st.loc,
                    st.sweep,
                    st.reverse,
                )
            )
        elif isinstance(st, Push):
            out.append(Push(r(st.tape), tuple(map(r, st.values)), st.loc, st.sweep))
        elif isinstance(st, Pop):
            out.append(Pop(tuple(map(r, st.targets)), r(st.tape), st.loc, st.sweep))
        elif isinstance(st, Break):
            out.append(Break(r(st.test), st.loc, st.sweep))
        else:
            kwargs = tuple((k, r(v)) for k, v in st.kwargs)
            out.append(Assign(r(st.target), st.prim, tuple(map(r, st.args)), kwargs, st.loc, st.sweep))
    return out


def _placement(body: list, replace: dict, place, out: dict) -> dict:
    """Variable -> where a loop body defines it: None at its top level, (If, side) inside that branch's path.

    Variables are added in the order the body defines them (a branch's joins after its paths)."""
    for st in body:
        if st in replace:
            for r in replace[st]:
                out.update((v, place) for v in targets(r))
        elif isinstance(st, If):
            _placement(st.then, replace, (st, 1), out)
            _placement(st.orelse, replace, (st, 2), out)
            out.update((j[0], place) for j in st.joins)
        else:
            out.update((v, place) for v in targets(st))
    return out


def _same(sides, before, k) -> bool:
    return all(path.get(k) is before.get(k) for path, _ in sides)


def _backprop(b: Builder, st: Assign, adj: dict, active: set):
    prim = st.prim
    b.loc = st.loc
    if prim.fn in PACKING and isinstance(st.args[0], Pack):  # np.stack([a, b]): each element gets its part
        axis = dict(st.kwargs).get("axis", Const(0))
        for position, item in st.args[0].leaves():
            if isinstance(item, Var) and item in active:
                where = Const(position if len(position) > 1 else position[0])
                c = b.call(part_of, adj[st.target], st.args[0], where, Const(PACKING[prim.fn]), axis=axis)
                adj[item] = c if item not in adj else b.call(operator.add, adj[item], c, hint=adjoint_hint(item))
        return
    if prim.fn is np.linalg.multi_dot and isinstance(st.args[0], Pack):  # element k: Lᵀ g Rᵀ
        for (k, *_), item in st.args[0].leaves():
            if isinstance(item, Var) and item in active:
                hint = adjoint_hint(item) if item not in adj else ""
                c = b.call(multi_dot_part, adj[st.target], st.args[0], Const(k), hint=hint)
                adj[item] = c if item not in adj else b.call(operator.add, adj[item], c, hint=adjoint_hint(item))
        return
    xs = st.args[0] if st.args else None
    if prim.fn in PACKING and PACKING[prim.fn] in ("array", "stack") and isinstance(xs, Var) and xs in active:
        # np.stack(xs) of a list built at run time: the list's adjoint is an array, element i its row i
        axis = dict(st.kwargs).get("axis", Const(0))
        c = adj[st.target]
        if not (isinstance(axis, Const) and axis.value == 0):
            c = b.call(np.moveaxis, c, axis, Const(0))
        adj[xs] = c if xs not in adj else b.call(operator.add, adj[xs], c, hint=adjoint_hint(xs))
        return
    if isinstance(prim, Call):
        _backprop_call(b, st, adj, active)
        return
    if (prim.fn in PACKING and prim.fn is not np.array) or prim.fn is np.linalg.multi_dot:
        # its rule gives a list of parts, not the list's adjoint
        raise NonDifferentiableError(
            f"{prim.display}() of a list made at run time is not differentiable yet",
            st.loc,
            hint="write the list in the call (np.concatenate([a, b])), or use np.stack",
        )
    if prim.fn in REFUSED:
        raise NonDifferentiableError(REFUSED[prim.fn][0], st.loc, hint=REFUSED[prim.fn][1])
    if prim.vjp is None:
        raise NonDifferentiableError(
            f"{prim.display}() has no derivative rule",
            st.loc,
            hint=f"register one with @adcompile.defvjp({prim.display})",
        )
    t = prim.template("vjp")
    bindings = dict(zip(t.params, (adj[st.target], st.target, *st.args)))
    bindings.update(st.kwargs)
    prepared: dict = {}  # the rule's leading statements, lowered once for all its outputs
    for i, a in enumerate(st.args):
        if not (isinstance(a, Var) and a in active):
            continue
        if i >= len(t.outputs) or t.outputs[i] is None:
            raise NonDifferentiableError(
                f"{prim.display}() is not differentiable with respect to its argument {i + 1}", st.loc
            )
        first = a not in adj
        if not first and i == 0 and prim.fn is operator.getitem and _full_array(b, adj[a], a):
            # x[index] read again: add into x's adjoint where it was read, rather than build a zero array per read
            adj[a] = b.call(index_add, adj[a], st.args[1], adj[st.target], hint=adjoint_hint(a))
            continue
        c = lower_rule(b, prim, "vjp", i, bindings, hint=adjoint_hint(a) if first else "", prepared=prepared)
        if first and isinstance(c, Var) and not c.hint and b.producer(c) is not None:
            c.hint = adjoint_hint(a)  # an unnamed adjoint temporary that turns out to be a's adjoint: say so
        adj[a] = c if first else b.call(operator.add, adj[a], c, hint=adjoint_hint(a))


def _backprop_call(b: Builder, st: Assign, adj: dict, active: set):
    """A call compiled as a call (recursion, see ``calls.py``): the forward sweep runs the callee's forward sweep
    instead, keeping its pullback, and the reverse sweep calls the pullback with the adjoint of the result."""
    wrt = tuple(i for i, a in enumerate(st.args) if isinstance(a, Var) and a in active)
    r = Var(f"{st.prim.name}_r")
    b.avals[r] = A.UNKNOWN
    b.replace[st] = [
        Assign(r, pullback_primitive(st.prim.fn, wrt), st.args, st.kwargs, st.loc, st.sweep),
        Assign(st.target, item_primitive(0), (r,), (), st.loc, st.sweep),
    ]
    grads = b.call(pullback, r, adj[st.target])
    for k, i in enumerate(wrt):
        a = st.args[i]
        c = b.call(item_primitive(k), grads, hint=adjoint_hint(a))
        b.avals[c] = b.aval(a)
        adj[a] = c if a not in adj else b.call(operator.add, adj[a], c, hint=adjoint_hint(a))


def _made_here(b: Builder, v) -> bool:
    """Whether ``v`` is a new array built by the adjoint code so far (not an argument, a view or a forward value)."""
    st = b.producer(v)
    return st is not None and returns_new(st.prim) and st.prim.fn is not index_add


def _full_array(b: Builder, g, x) -> bool:
    """Whether the adjoint ``g`` is known to be an array of ``x``'s own shape (so it can be added into)."""
    have, want = b.aval(g), b.aval(x)
    return have.array is True and want.array is True and have.shape is not None and have.shape == want.shape


def _zero(b: Builder, p: Var):
    """An exact zero of the variable's own type and shape."""
    av = b.aval(p)
    if av.array is False:
        return Const(0.0)
    if av.array:
        return b.call(np.zeros_like, p, hint=adjoint_hint(p))
    return b.call(zeros_like, p, hint=adjoint_hint(p))


def _owned(b: Builder, grads, params, forward) -> list:
    """Copy returned gradients that could alias an input, a global, a read-only view or another gradient."""
    producers = {}
    for st in walk([*forward, *b.body]):
        if isinstance(st, If):
            producers.update((v, (x, y)) for v, x, y in st.joins)
        elif isinstance(st, For):
            producers.update((v, (init, nxt)) for v, init, nxt in st.carried)
        elif isinstance(st, Assign):
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


def _roots(v, producers, seen=None) -> set:
    """The values ``v`` may be the very object of: through pass-through helpers, joins and loop-carried values."""
    seen = set() if seen is None else seen
    if isinstance(v, Const) or v in seen:
        return set()
    seen.add(v)
    st = producers.get(v)
    if isinstance(st, tuple):  # a join or a loop-carried value: either value
        return {v} | _roots(st[0], producers, seen) | _roots(st[1], producers, seen)
    if st is not None and st.args and isinstance(st.args[0], Var) and not returns_new(st.prim):
        return {v} | _roots(st.args[0], producers, seen)  # it may be its first operand, or a view of it
    return {v}


def _is_view(v, producers) -> bool:
    """Whether ``v`` may be a read-only view (a broadcast, a diagonal): a gradient must be writable."""
    st = producers.get(v)
    return isinstance(st, Assign) and id(st.prim.fn) in READ_ONLY_VIEWS


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
        elif isinstance(st, For):
            inside = set(live)  # what must survive an iteration: grows until it holds still
            while True:
                before = set(inside)
                inside |= {c[2] for c in st.carried if c[0] in inside and isinstance(c[2], Var)}
                trial = set(inside)
                loop_body = _dead_code_eliminated(st.body, trial)
                inside |= trial
                if inside == before:
                    break
            carried = [c for c in st.carried if c[0] in inside]
            if loop_body or carried:
                kept.append(For(st.index, st.bounds, loop_body, carried, st.loc, st.sweep, st.reverse))
                live |= inside
                live.update(c[1] for c in carried if isinstance(c[1], Var))
                live.update(o for o in st.bounds or () if isinstance(o, Var))
        elif isinstance(st, Push):
            if st.tape in live:
                kept.append(st)
                live.update(v for v in st.values if isinstance(v, Var))
        elif isinstance(st, Pop):
            kept.append(st)
            live.add(st.tape)
        elif isinstance(st, Break):
            kept.append(st)
            if isinstance(st.test, Var):
                live.add(st.test)
        elif st.target in live or st.prim.effect:
            kept.append(st)
            live.update(a for a in st.operands() if isinstance(a, Var))
    kept.reverse()
    return kept
