"""Common subexpressions of the user's code, merged before a transform.

The IR keeps every operation the user wrote (``ir_text`` shows them all), so ``x[:-1]`` written twice is computed
twice, and its adjoint accumulated twice into ``x``'s. A transform first merges an operation that repeats one
already computed on the same operands into it: the later variable's uses read the earlier one. This is sound in SSA
form: operands are compared by identity (a variable is one value; a write into an array makes a new one), and the
in-place pass later copies an array before writing into it if the merged value is still needed. Not merged: calls
that must make a new object each time (``np.copy``, ``np.zeros``: ``Primitive.fresh``), checks that may raise, and
calls of the user's own (recursive) functions. A value computed inside a branch is reused only inside it; one
computed before a loop is reused inside it, since the operands are the same in every iteration.
"""

from __future__ import annotations

import dataclasses

from .builder import _key
from .calls import Call
from .ir import Assign, Const, For, Function, If, Pop, Push, map_operand


def merged(fn: Function) -> Function:
    """``fn`` with each repeated operation replaced by the first one computing it."""
    same: dict = {}  # a variable whose operation repeats another's -> that other variable
    body = _merge(fn.body, {}, same, fn.updated)
    if not same:
        return fn
    ret = dataclasses.replace(fn.ret, value=_value(fn.ret.value, same))
    checks = [(same.get(v, v), loc, message, hint) for v, loc, message, hint in fn.checks]
    return dataclasses.replace(fn, body=body, ret=ret, checks=checks)


def _merge(body: list, seen: dict, same: dict, updated) -> list:
    out = []
    for st in body:
        if isinstance(st, If):
            then, orelse = _merge(st.then, dict(seen), same, updated), _merge(st.orelse, dict(seen), same, updated)
            joins = [(v, _op(a, same), _op(b, same)) for v, a, b in st.joins]
            out.append(dataclasses.replace(st, test=_op(st.test, same), then=then, orelse=orelse, joins=joins))
        elif isinstance(st, For):
            loop_body = _merge(st.body, dict(seen), same, updated)  # first: the value an iteration ends with may merge
            carried = [(v, _op(a, same), _op(b, same)) for v, a, b in st.carried]
            bounds = None if st.bounds is None else tuple(_op(b, same) for b in st.bounds)
            out.append(dataclasses.replace(st, bounds=bounds, body=loop_body, carried=carried))
        elif isinstance(st, Assign):
            args = tuple(_op(a, same) for a in st.args)
            kwargs = tuple((k, _op(v, same)) for k, v in st.kwargs)
            st = dataclasses.replace(st, args=args, kwargs=kwargs)
            if _mergeable(st) and st.target not in updated:  # h += v is a write in place, into h's own object
                key = (_key(st.prim, args, kwargs), _literals(args, kwargs))
                if key in seen:
                    same[st.target] = seen[key]
                    continue
                seen[key] = st.target
            out.append(st)
        elif isinstance(st, Push):
            out.append(dataclasses.replace(st, tape=_op(st.tape, same), values=tuple(_op(v, same) for v in st.values)))
        elif isinstance(st, Pop):
            out.append(dataclasses.replace(st, tape=_op(st.tape, same)))
        else:  # Break
            out.append(dataclasses.replace(st, test=_op(st.test, same)))
    return out


def _mergeable(st: Assign) -> bool:
    prim = st.prim
    return not (prim.fresh or prim.effect or isinstance(prim, Call))


def _literals(args, kwargs) -> tuple:
    """The literals' reprs: ``_key`` compares them by value, and 0.0 == -0.0 (which differ as factors)."""
    ops = [*args, *(v for _, v in kwargs)]
    return tuple(repr(o.value) for o in ops if isinstance(o, Const))


def _op(op, same: dict):
    return map_operand(op, lambda v: same.get(v, v))


def _value(value, same: dict):
    if isinstance(value, tuple):
        return tuple(_value(v, same) for v in value)
    return _op(value, same)

