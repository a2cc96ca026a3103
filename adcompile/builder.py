"""The one way statements are made: a builder that appends ``Assign`` statements and knows their abstract values.

Primal lowering uses it plainly. The reverse transform uses it with ``simplify=True``: then each primitive's fold
hook and the generic constant folding run as the statement is built, so ``g * 1.0`` never reaches the output and an
``unbroadcast`` whose shapes already agree disappears. Simplification is only applied to code adcompile writes
(rule expressions), never to the user's own operations.
"""

from __future__ import annotations

import math

import numpy as np

from . import avals as A
from .errors import Location
from .ir import Assign, Const, Global, Var
from .primitives import BINOPS, UNARYOPS, Primitive, lookup, primitive


def is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


class Builder:
    def __init__(self, avals: dict | None = None, simplify: bool = False, sweep: str = "forward"):
        self.body: list = []
        self.avals = avals if avals is not None else {}
        self.simplify = simplify
        self.sweep = sweep
        self.loc: Location | None = None

    def aval(self, op) -> A.Aval:
        if isinstance(op, Var):
            return self.avals.get(op, A.UNKNOWN)
        return A.of_value(op.value)

    def call(self, fn, *args, hint: str = "", **kwargs):
        """Emit ``fn(*args, **kwargs)`` and return the operand holding its result."""
        prim = fn if isinstance(fn, Primitive) else (lookup(fn) or primitive(fn))
        kw = tuple(kwargs.items())
        if self.simplify:
            folded = self._fold(prim, args, kw)
            if folded is not None:
                if hint and isinstance(folded, Var) and not folded.hint and self.body and self.body[-1].target is folded:
                    folded.hint = hint  # the fold built a new statement: it holds the value the caller named
                return folded
        target = Var(hint)
        self.avals[target] = prim.shape_rule(
            [self.aval(a) for a in args],
            {k: (v.value if isinstance(v, Const) else None) for k, v in kw},
            self.loc,
        )
        self.body.append(Assign(target, prim, tuple(args), kw, self.loc, self.sweep))
        return target

    def _fold(self, prim: Primitive, args, kw):
        if prim.fold is not None:
            out = prim.fold(self, *args, **dict(kw))
            if out is not None:
                return out
        if all(isinstance(a, Const) for a in args) and all(isinstance(v, Const) for _, v in kw):
            return _constant_fold(prim, args, kw)
        return None


def _constant_fold(prim: Primitive, args, kw):
    """Evaluate an operation on literals when the result is a literal a reader would write (2 - 1, not log(2))."""
    try:
        with np.errstate(all="raise"):
            value = prim.fn(*(a.value for a in args), **{k: v.value for k, v in kw})
    except Exception:
        return None
    if not is_number(value) or not math.isfinite(value):
        return None
    if prim.op_node in BINOPS or prim.op_node in UNARYOPS or float(value).is_integer():
        return Const(value.item() if isinstance(value, np.generic) else value)
    return None


def const_value(op):
    """The literal value of ``op`` if it is a numeric literal, else None."""
    if isinstance(op, Const) and is_number(op.value):
        return op.value
    return None


__all__ = ["Builder", "Const", "Global", "Var", "const_value", "is_number"]
