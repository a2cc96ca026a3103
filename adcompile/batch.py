"""Sums of outer products over a loop's iterations, done as one matrix product after the loop.

A matrix used once per iteration (``h = np.tanh(W @ h + ...)`` in a recurrent network) gets, in the reverse
sweep, one contribution per iteration: ``bW += np.outer(g, h)``, a full matrix made and added ``T`` times. The sum
of those outer products is one matrix product, ``G.T @ H``, where row ``t`` of ``G`` is the ``g`` of iteration
``t`` and row ``t`` of ``H`` its ``h``: that is how a person writes it by hand, and BLAS does it in one call. This
pass, run on the finished adjoint before the in-place pass, finds each loop-carried value accumulated this way,
keeps the iterations' vectors in lists instead (an append costs nothing next to an outer product), turns each list
into an array of rows after the loop, and computes the product there (``outer_sum``). A vector accumulated over
the iterations (``bb += g``) whose vectors are kept anyway becomes the sum of the rows (``row_sum``).

Only the order of the additions changes (as in any matrix product), not what is added. The lists hold the
vectors themselves; the in-place pass sees them (``list_append``) and never writes into a vector a live list holds.
"""

from __future__ import annotations

import dataclasses
import operator

import numpy as np

from . import avals as A
from .ir import Assign, For, Function, If, Pack, Var, walk
from .primitives import NEW_OBJECTS, lookup, primitive
from .runtime import list_append, new_list, outer_sum, row_sum
from .simplify import ZEROS_OF_ARRAY


def _like_last(avals, kwargs, loc=None) -> A.Aval:
    return A.Aval(avals[-1].shape, avals[-1].kind, True)


for _fn in (outer_sum, row_sum):
    primitive(_fn, shape=_like_last).differentiable = False
    NEW_OBJECTS.add(id(_fn))


def batched_outer_products(fn: Function, avals: dict) -> Function:
    """``fn`` with each reverse-sweep loop's sums of outer products done after the loop (see the module docstring)."""
    if not any(isinstance(st, For) and st.sweep == "reverse" for st in fn.body):
        return fn  # (a reverse loop is never nested in a forward one)
    zeros = {st.target: st.args[0] for st in walk(fn.body) if isinstance(st, Assign) and st.prim is ZEROS_OF_ARRAY}
    kept: set = set()  # the lists of vectors and the arrays made of them: released after their last use
    body = _batch(fn.body, avals, zeros, kept)
    return fn if body is fn.body else dataclasses.replace(fn, body=body, release=fn.release | kept)


def _batch(body: list, avals: dict, zeros: dict, kept: set) -> list:
    out, changed = [], False
    for st in body:
        if isinstance(st, If):
            then, orelse = _batch(st.then, avals, zeros, kept), _batch(st.orelse, avals, zeros, kept)
            if then is not st.then or orelse is not st.orelse:
                st, changed = dataclasses.replace(st, then=then, orelse=orelse), True
            out.append(st)
        elif isinstance(st, For):
            inner = _batch(st.body, avals, zeros, kept)
            if inner is not st.body:
                st, changed = dataclasses.replace(st, body=inner), True
            replaced = _batched_loop(st, avals, zeros, kept)
            changed |= len(replaced) > 1
            out.extend(replaced)
        else:
            out.append(st)
    return out if changed else body


def _uses(loop: For) -> dict:
    """Variable -> how many times the loop's statements read it (the carried values' next operands included)."""
    counts: dict = {}
    for st in walk(loop.body):
        for op in st.operands():
            if isinstance(op, Var):
                counts[op] = counts.get(op, 0) + 1
        if isinstance(st, If):
            for _, a, b in st.joins:
                for op in (a, b):
                    counts[op] = counts.get(op, 0) + 1
        elif isinstance(st, For):
            for _, init, nxt in st.carried:
                for op in (init, nxt):
                    counts[op] = counts.get(op, 0) + 1
    for _, _, nxt in loop.carried:
        counts[nxt] = counts.get(nxt, 0) + 1
    return counts


def _vector(avals, v) -> int | None:
    """The length of ``v`` if it is known to be a 1-d float array."""
    av = avals.get(v, A.UNKNOWN) if isinstance(v, Var) else A.UNKNOWN
    ok = av.array is True and av.kind == "f" and isinstance(av.shape, tuple) and len(av.shape) == 1
    return av.shape[0] if ok else None


def _accumulated(loop: For, avals: dict, producers: dict, uses: dict):
    """(carried entry, its sum statement, the summand's statement or None, the summand's vectors): each value the
    loop only accumulates into, ``v2 = v + np.outer(a, c)`` (vectors ``(a, c)``) or ``v2 = v + a`` (``(a,)``)."""
    for entry in loop.carried:
        v, _, nxt = entry
        add = producers.get(nxt)
        if not (isinstance(add, Assign) and add.prim.fn is operator.add and not add.kwargs and v in add.args):
            continue
        term = add.args[1] if add.args[0] is v else add.args[0]
        if term is v or uses.get(v) != 1 or uses.get(nxt) != 1:  # v and v2 serve the sum alone
            continue
        shape = avals.get(v, A.UNKNOWN).shape
        outer = producers.get(term)
        if isinstance(outer, Assign) and outer.prim.fn is np.outer and not outer.kwargs and uses.get(term) == 1:
            a, c = outer.args
            if isinstance(shape, tuple) and shape == (_vector(avals, a), _vector(avals, c)):
                yield entry, add, outer, (a, c)
        elif _vector(avals, term) is not None and shape == (_vector(avals, term),):
            yield entry, add, None, (term,)


def _batched_loop(loop: For, avals: dict, zeros: dict, kept: set) -> list:
    """``[lists made before the loop, the loop, sums after it]``, or ``[loop]`` if it accumulates no outer product.
    ``zeros``: variable -> the array it was made as zeros like (``np.zeros(x.shape, x.dtype)``)."""
    if loop.index is None or loop.sweep != "reverse":
        return [loop]
    producers = {st.target: st for st in loop.body if isinstance(st, Assign)}
    found = list(_accumulated(loop, avals, producers, _uses(loop)))
    multiplied = {vec for _, _, outer, vectors in found if outer is not None for vec in vectors}
    found = [f for f in found if f[2] is not None or f[3][0] in multiplied]  # vectors kept for a product anyway
    if not any(outer is not None for _, _, outer, _ in found):
        return [loop]
    loc, sweep = loop.loc, loop.sweep
    before, appends, after = [], [], []
    lists: dict = {}  # vector -> (the list before the loop, the carried list, the list after an append)
    arrays: dict = {}  # vector -> the array of its rows, made after the loop
    for vec, where in {vec: add.loc for _, add, _, vectors in reversed(found) for vec in vectors}.items():
        name = vec.hint or "g"
        start, phi, grown = Var(f"{name}_list"), Var(f"{name}_list"), Var(f"{name}_list")
        for w in (start, phi, grown):
            avals[w] = A.Aval(None, "list", True)
        before.append(Assign(start, primitive(new_list), (Pack((), "list"),), (), loc, sweep))
        appends.append(Assign(grown, primitive(list_append), (phi, vec), (), where, sweep))
        lists[vec] = (start, phi, grown)
        arrays[vec] = Var(f"{name}_rows")
        avals[arrays[vec]] = A.Aval(None, "f", True)
        after.append(Assign(arrays[vec], lookup(np.array), (phi,), (), where, sweep))
        kept |= {phi, arrays[vec]}
    dropped = set()
    for (v, init, _), add, outer, vectors in found:
        dropped |= {id(add)} | ({id(outer)} if outer is not None else set())
        helper = outer_sum if outer is not None else row_sum
        like = zeros.get(init, init)
        summed = v if like is not init else Var(v.hint)
        avals[summed] = avals.get(v, A.UNKNOWN)
        after.append(Assign(summed, primitive(helper), (*(arrays[vec] for vec in vectors), like), (), add.loc, sweep))
        if summed is not v:  # added to what the adjoint held before the loop
            after.append(Assign(v, lookup(operator.add), (init, summed), (), add.loc, sweep))
    body = [st for st in loop.body if id(st) not in dropped] + appends
    summed_entries = {id(entry) for entry, *_ in found}
    carried = [c for c in loop.carried if id(c) not in summed_entries]
    carried += [(phi, start, grown) for start, phi, grown in lists.values()]
    return [*before, dataclasses.replace(loop, body=body, carried=carried), *after]


__all__ = ["batched_outer_products"]
