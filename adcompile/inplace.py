"""Writes into arrays and appends to lists: in place wherever nothing needs the old array, on a copy otherwise.

The IR treats ``y[i] = v`` as a function from the old array to a new one (``setitem``), and so is the adjoint of an
indexing ``bx = index_add(bx, i, g)``. That keeps every transform simple and exact, but copying an array per write
would make a loop that fills an array cost the square of its length. This pass, run on the finished adjoint, turns
each such write into an in-place one (``y[i] = v``, ``bx[i] += g``, ``np.add.at(bx, idx, g)``) when that cannot be
observed:

* the array is one the function made itself (``np.zeros``, a copy, an arithmetic result, ...), never an argument,
  a global, a broadcast view or a value taken back from a loop's tape;
* no value that may share its memory and holds the *old* contents (the array before the write, a view of it, a
  branch's choice of it) is read after the write, by the forward or the reverse sweep;
* none of those values was kept on a tape, which would keep referring to the same object.

Appends to lists, ``xs2 = list_append(xs, v)``, are treated the same way: in place they are ``xs.append(v)``, and on
a copy ``xs_2 = list(xs); xs_2.append(v)`` (a copy of the references). Otherwise the write is done on a copy
(``y_2 = np.copy(y); y_2[i] = v``), which is always right. The analysis only
decides between two ways of computing the same values; it never changes what is computed.
"""

from __future__ import annotations

import dataclasses
import operator

import numpy as np

from . import avals as A
from .builder import Builder
from .errors import UnsupportedSyntaxError
from .ir import Assign, Break, Const, For, Function, If, Index, Pop, Push, Var, rewritten, walk
from .primitives import Primitive, primitive, returns_new
from .runtime import index_add, list_append, new_list, setitem
from .simplify import basic_index

# The in-place forms, which only the code generator knows how to print.
SET_IN_PLACE = Primitive(setitem, "setitem (in place)")  # y[index] = v
ADD_IN_PLACE = Primitive(index_add, "index_add (in place)")  # y[index] += v
ADD_AT_IN_PLACE = Primitive(index_add, "index_add.at (in place)")  # np.add.at(y, index, v)
APPEND_IN_PLACE = Primitive(list_append, "list_append (in place)")  # xs.append(v)
ACCUMULATE_IN_PLACE = Primitive(operator.add, "add (in place)")  # y += v
IN_PLACE = (SET_IN_PLACE, ADD_IN_PLACE, ADD_AT_IN_PLACE, APPEND_IN_PLACE, ACCUMULATE_IN_PLACE)

_WRITES = (setitem, index_add, list_append)


def written_in_place(fn: Function, avals: dict) -> Function:
    """``fn`` with each write into an array done in place where that is safe (see the module docstring)."""
    producers = _producers(fn.body)
    pushed = {v for st in walk(fn.body) if isinstance(st, Push) for v in st.values if isinstance(v, Var)}
    live_out: dict = {}
    _liveness(fn.body, {v for v in fn.ret.operands() if isinstance(v, Var)}, live_out)
    edges = _sharing(fn.body, avals)
    graph = (edges, _links(edges))
    holders = _holders(fn.body, avals)
    first = {id(st) for loop in walk(fn.body) if isinstance(loop, For) for st in _first_writes(loop, producers)}

    def leaf(st) -> list:
        if isinstance(st, Assign) and st.prim.fn in _WRITES and avals.get(st.args[0], A.UNKNOWN).array:
            seen = live_out[id(st)]
            return _in_place(st, avals, producers, pushed, seen, graph, holders, id(st) in first)
        if _accumulates(st, avals) and _unobserved(st, producers, pushed, live_out[id(st)], graph, holders):
            return [Assign(st.target, ACCUMULATE_IN_PLACE, st.args, st.kwargs, st.loc, st.sweep)]
        return [st]

    return dataclasses.replace(fn, body=rewritten(fn.body, leaf))


def _accumulates(st, avals) -> bool:
    """``y2 = y + v`` where ``y`` is an array of the result's own shape (``v`` broadcasts into it): it can be
    ``y += v`` (an adjoint summed over a loop's iterations, say), with the same values."""
    if not (isinstance(st, Assign) and st.prim.fn is operator.add and isinstance(st.args[0], Var)):
        return False
    if st.args[1] is st.args[0] and st.target.hint != st.args[0].hint:  # 2 v keeps a name of its own (bv, not v)
        return False
    have, want = avals.get(st.args[0], A.UNKNOWN), avals.get(st.target, A.UNKNOWN)
    return have.array is True and isinstance(have.shape, tuple) and have.shape == want.shape and have.kind == "f"


def _unobserved(st: Assign, producers, pushed, live_after, graph, holders) -> bool:
    """Whether writing ``st``'s result into its first operand cannot be observed: the array is one the function
    made, and nothing that may share its memory and holds the old contents (a list it was put in included) is
    read afterwards or was taped. ``graph``: the sharing edges and their links (see :func:`_links`)."""
    old = st.args[0]
    before = _sharing_the_old(st, graph)
    before |= _containers(before | {old}, holders, graph[1])
    fresh = all(_fresh(r, producers) for r in _roots(old, producers))
    return fresh and not (before & live_after) and not (before & pushed)


def _holders(body, avals) -> dict:
    """Variable -> the lists that may hold its object itself (``[a, b]``, ``xs.append(a)``): writing into the
    object in place changes what they hold. A loop-carried value is held by the lists holding the value it takes
    at the end of an iteration, and an element read out of a list (``e = xs[i]``) may be any value that list
    holds: whatever holds ``e`` may hold those."""
    out: dict = {}
    read_from: dict = {}  # list -> the elements read out of it
    carried = []
    if not any(isinstance(st, Assign) and st.prim.fn in (new_list, list_append) for st in walk(body)):
        return out
    for st in walk(body):
        if isinstance(st, Assign) and st.prim.fn is new_list:
            for v in st.args[0].operands():
                out.setdefault(v, set()).add(st.target)
        elif isinstance(st, Assign) and st.prim.fn is list_append:
            out.setdefault(st.args[1], set()).add(st.target)
        elif isinstance(st, Assign) and st.prim.fn is operator.getitem and isinstance(st.args[0], Var):
            if avals.get(st.args[0], A.UNKNOWN).kind == "list":
                read_from.setdefault(st.args[0], set()).add(st.target)
        elif isinstance(st, For):
            carried.extend(st.carried)
    changed = True
    while changed:  # to a fixed point: loops and lists of lists make chains
        changed = False
        for v, _, nxt in carried:
            changed |= _add_all(out, v, out.get(nxt, set()))
        for xs, elements in read_from.items():
            for e in elements:
                for value in [v for v, lists in out.items() if xs in lists]:
                    changed |= _add_all(out, value, out.get(e, set()))
    return out


def _add_all(mapping: dict, key, values) -> bool:
    have = mapping.setdefault(key, set())
    if values <= have:
        return False
    have |= values
    return True


def _sharing_the_old(st: Assign, graph) -> set:
    """The variables that may share memory with the array ``st`` writes into and still show its old contents:
    connected to it by sharing edges (``graph``: the edges and their links), but not made from the write's result."""
    edges, links = graph
    return _component(st.args[0], links) - _reach(st.target, edges) - {st.target}


def _containers(values: set, holders: dict, links: dict) -> set:
    """Every version of every list holding one of ``values``, or holding such a list, and so on."""
    found: set = set()
    todo = [h for v in values for h in holders.get(v, ())]
    while todo:
        for version in _component(todo.pop(), links) - found:
            found.add(version)
            todo.extend(holders.get(version, ()))
    return found


def check_writes(fn: Function, avals: dict) -> None:
    """Refuse what the IR cannot mean as Python does, now that abstract values are known: a name that must not
    be an array (see :attr:`Function.checks`), and a write into an array (``y[i] = v``, ``h += v``) whose old
    contents are still seen afterwards, through a list holding the array: Python writes in place, and the list
    would show the new contents."""
    for var, loc, message, hint in fn.checks:
        if avals.get(var, A.UNKNOWN).array is not False:
            raise UnsupportedSyntaxError(message, loc, hint=hint)
    writes = [
        st
        for st in walk(fn.body)
        if isinstance(st, Assign)
        and (st.prim.fn is setitem or st.target in fn.updated)
        and avals.get(st.args[0], A.UNKNOWN).array is not False
    ]
    if not writes:
        return
    live_out: dict = {}
    _liveness(fn.body, {v for v in fn.ret.operands() if isinstance(v, Var)}, live_out)
    edges, holders = _sharing(fn.body, avals), _holders(fn.body, avals)
    graph = (edges, _links(edges))
    for st in writes:
        old = st.args[0]
        seen = _containers(_sharing_the_old(st, graph) | {old}, holders, graph[1]) & live_out[id(st)]
        if seen:
            names = ", ".join(sorted({repr(v.hint) for v in seen if v.hint})) or "a list"
            raise UnsupportedSyntaxError(
                f"this writes into an array that {names} holds and reads afterwards: Python changes it in place, "
                "so the list would see the new contents",
                st.loc,
                hint="put a copy in the list (xs.append(y.copy())), or write into a copy (y = y.copy())",
            )


def _first_writes(loop: For, producers: dict) -> list:
    """The additions ``by2 = index_add(by, i, g)`` in ``loop``'s body that each add into an element still zero:
    ``by`` is carried by the loop from a buffer of zeros made for it, this is the body's only write into it, and
    the index is the loop's own index, which takes a different value in each iteration and never a negative one
    (``by[-1]`` would be ``by[n - 1]``)."""
    start = loop.bounds[0] if loop.bounds and len(loop.bounds) > 1 else Const(0)
    if loop.index is None or not (isinstance(start, Const) and isinstance(start.value, int) and start.value >= 0):
        return []
    out = []
    for phi, init, nxt in loop.carried:
        made, write = producers.get(init), producers.get(nxt)
        if not (isinstance(made, Assign) and made.prim.fn in (np.zeros_like, np.zeros) and isinstance(write, Assign)):
            continue
        index = write.args[1] if write.prim.fn is index_add and write.args[0] is phi else None
        reads = [op for st in walk(loop.body) for op in _reads(st) if op is phi]
        if isinstance(index, Index) and index.items == (loop.index,) and len(reads) == 1 and write in loop.body:
            out.append(write)
    return out


def _in_place(st: Assign, avals, producers, pushed, live_after, graph, holders, first: bool = False) -> list:
    old = st.args[0]
    if st.prim.fn is list_append:
        prim = APPEND_IN_PLACE
    elif st.prim.fn is setitem:
        prim = SET_IN_PLACE
    else:
        prim = ADD_IN_PLACE if basic_index(Builder(avals), st.args[1]) else ADD_AT_IN_PLACE
    if _unobserved(st, producers, pushed, live_after, graph, holders):
        made = producers.get(old)
        if prim is ADD_IN_PLACE and (first or isinstance(made, Assign) and made.prim.fn in (np.zeros_like, np.zeros)):
            prim = SET_IN_PLACE  # the first addition into zeros: setting the elements is the same, and cheaper
        return [Assign(st.target, prim, st.args, st.kwargs, st.loc, st.sweep)]
    copy = Var(st.target.hint or old.hint)
    avals[copy] = avals.get(old, A.UNKNOWN)
    copier = primitive(list) if st.prim.fn is list_append else primitive(np.copy)  # a list copies its references
    producers[copy] = Assign(copy, copier, (old,), (), st.loc, st.sweep)
    producers[st.target] = Assign(st.target, prim, (copy, *st.args[1:]), st.kwargs, st.loc, st.sweep)
    return [producers[copy], producers[st.target]]


def _producers(body) -> dict:
    """Variable -> what made it: its Assign, ("join", a, b), ("carried", init, next) or ("pop",)."""
    out: dict = {}
    for st in walk(body):
        if isinstance(st, If):
            out.update((v, ("join", a, b)) for v, a, b in st.joins)
        elif isinstance(st, For):
            out.update((v, ("carried", init, nxt)) for v, init, nxt in st.carried)
        elif isinstance(st, Pop):
            out.update((v, ("pop",)) for v in st.targets)
        elif isinstance(st, Assign):
            out[st.target] = st
    return out


def _roots(v, producers, seen=None) -> set:
    """The values whose object ``v`` may be: through writes, views, branch joins and loop-carried values. A view
    is its own root as well as its base's: it was not made fresh."""
    seen = set() if seen is None else seen
    if not isinstance(v, Var):
        return {v}
    if v in seen:
        return set()
    seen.add(v)
    p = producers.get(v)
    if isinstance(p, tuple) and p[0] in ("join", "carried"):
        return _roots(p[1], producers, seen) | _roots(p[2], producers, seen)
    if isinstance(p, Assign) and p.prim.fn in _WRITES:
        return _roots(p.args[0], producers, seen)
    if isinstance(p, Assign) and not returns_new(p.prim) and p.args and isinstance(p.args[0], Var):
        return {v} | _roots(p.args[0], producers, seen)
    return {v}


def _fresh(root, producers) -> bool:
    """Whether ``root`` is an array made by this function that nothing outside it can see."""
    p = producers.get(root)
    return isinstance(p, Assign) and returns_new(p.prim) and p.prim.fn not in _WRITES


def _sharing(body, avals) -> dict:
    """Directed edges u -> w: w may be the same object as u (or a view of it), and comes after it."""
    edges: dict = {}

    def add(u, w):  # a number shares memory with nothing
        if isinstance(u, Var) and all(avals.get(v, A.UNKNOWN).array is not False for v in (u, w)):
            edges.setdefault(u, set()).add(w)

    for st in walk(body):
        if isinstance(st, If):
            for v, a, b in st.joins:
                add(a, v)
                add(b, v)
        elif isinstance(st, For):
            for v, init, _ in st.carried:  # not next -> v: in the next iteration v is the later version
                add(init, v)
        elif isinstance(st, Assign) and st.args and (st.prim.fn in _WRITES or not returns_new(st.prim)):
            if st.prim.fn not in _WRITES and avals.get(st.args[0], A.UNKNOWN).kind == "list":
                continue  # xs[i] is an element the list holds, which appending to the list does not change
            add(st.args[0], st.target)
    return edges


def _component(v, links: dict) -> set:
    """Every variable connected to ``v`` by sharing edges, in either direction (``links``: see :func:`_links`)."""
    seen, todo = {v}, [v]
    while todo:
        for w in links.get(todo.pop(), ()):
            if w not in seen:
                seen.add(w)
                todo.append(w)
    return seen


def _links(edges: dict) -> dict:
    """The sharing edges in both directions: variable -> its neighbours."""
    out: dict = {}
    for u, ws in edges.items():
        for w in ws:
            out.setdefault(u, set()).add(w)
            out.setdefault(w, set()).add(u)
    return out


def _reach(v, edges) -> set:
    seen, todo = {v}, [v]
    while todo:
        for w in edges.get(todo.pop(), ()):
            if w not in seen:
                seen.add(w)
                todo.append(w)
    return seen


def _reads(st) -> set:
    if isinstance(st, If):
        return {st.test}
    return {v for v in st.operands() if isinstance(v, Var)}


def _liveness(body, live: set, out: dict, leaving: frozenset = frozenset()) -> set:
    """The variables live before ``body`` given those live after it; ``out[id(st)]``: live after each statement.
    ``leaving``: what is live after the while loop whose body this is, which its Break may leave."""
    live = set(live)
    for st in reversed(body):
        # each statement below makes a new set, never changing one stored here: stored as it is, not copied
        prev = out.get(id(st))
        out[id(st)] = live if prev is None else prev | live
        if isinstance(st, If):
            joined = {j[0] for j in st.joins}
            then_live = _liveness(st.then, (live - joined) | {j[1] for j in st.joins}, out, leaving)
            else_live = _liveness(st.orelse, (live - joined) | {j[2] for j in st.joins}, out, leaving)
            live = then_live | else_live | {st.test}
        elif isinstance(st, For):
            phis = {c[0] for c in st.carried}
            top = set(live)  # live at the top of an iteration (where the loop may also end)
            while True:
                end = (top - phis - {st.index}) | {c[2] for c in st.carried if c[0] in top}
                new_top = _liveness(st.body, end, out, frozenset(live)) | live
                if new_top <= top:
                    break
                top |= new_top
            live = (top - phis - {st.index}) | {c[1] for c in st.carried if c[0] in top}
            live |= {b for b in st.bounds or () if isinstance(b, Var)}
        elif isinstance(st, Break):
            live = live | leaving | {st.test}
        else:
            defined = set(st.targets) if isinstance(st, Pop) else set() if isinstance(st, Push) else {st.target}
            live = (live - defined) | _reads(st)
    live.discard(None)
    return {v for v in live if isinstance(v, Var)}


__all__ = ["IN_PLACE", "check_writes", "written_in_place"]
