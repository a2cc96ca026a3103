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
from .errors import Location, UnsupportedSyntaxError
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
        self.memo: dict = {}  # (primitive, operands) -> variable, for common-subexpression elimination

    def remember(self, statements):
        """Let later identical operations reuse these statements' results instead of recomputing them."""
        for st in statements:
            self.memo.setdefault(_key(st.prim, st.args, st.kwargs), st.target)

    def aval(self, op) -> A.Aval:
        if isinstance(op, Var):
            return self.avals.get(op, A.UNKNOWN)
        return A.of_value(op.value)

    def call(self, fn, *args, hint: str = "", **kwargs):
        """Emit ``fn(*args, **kwargs)`` and return the operand holding its result."""
        prim = fn if isinstance(fn, Primitive) else (lookup(fn) or primitive(fn))
        args, kw = _normalise(prim, args, tuple(kwargs.items()), self.loc)
        if self.simplify:
            size = len(self.body)
            folded = self._fold(prim, args, kw)
            if folded is not None:
                if hint and len(self.body) > size and self.body[-1].target is folded and not folded.hint:
                    folded.hint = hint  # the fold built a new statement: it holds the value the caller named
                return folded
            key = _key(prim, args, kw)
            if key in self.memo and not prim.fresh:
                return self.memo[key]
        target = Var(hint)
        self.avals[target] = prim.shape_rule(
            [self.aval(a) for a in args],
            {k: (v.value if isinstance(v, Const) else None) for k, v in kw},
            self.loc,
        )
        self.body.append(Assign(target, prim, tuple(args), kw, self.loc, self.sweep))
        if self.simplify:
            self.memo[_key(prim, args, kw)] = target
        return target

    def _fold(self, prim: Primitive, args, kw):
        if prim.fold is not None:
            out = prim.fold(self, *args, **dict(kw))
            if out is not None:
                return out
        if all(isinstance(a, Const) for a in args) and all(isinstance(v, Const) for _, v in kw):
            return _constant_fold(prim, args, kw)
        return None


def _operand_key(op):
    if isinstance(op, Const):
        return ("const", type(op.value), op.value)
    if isinstance(op, Global):
        return ("global", id(op.value))
    return op


def _key(prim, args, kw):
    return (prim, tuple(_operand_key(a) for a in args), tuple((k, _operand_key(v)) for k, v in kw))


def _normalise(prim: Primitive, args, kw, loc):
    """Pass the arguments after the differentiable ones by keyword (``np.sum(x, 0)`` -> ``np.sum(x, axis=0)``).

    Those arguments (axis, keepdims, ...) steer the shape of the result, so they must be literals.
    """
    if prim.vjp is not None:
        t = prim.template("vjp")
        n = len(t.outputs)
        if len(args) > n:
            kw = tuple(zip(t.params[2 + n :], args[n:])) + kw
            args = args[:n]
        # an argument equal to the rule's default is left out, as a person would write it
        kw = tuple((k, v) for k, v in kw if not (k in t.defaults and _same_literal(v, t.defaults[k])))
    for k, v in kw:
        if not isinstance(v, Const):
            raise UnsupportedSyntaxError(
                f"the argument {k}= of {prim.name}() must be a literal constant, not a computed value", loc
            )
    return args, kw


def _same_literal(op, value) -> bool:
    return isinstance(op, Const) and type(op.value) is type(value) and op.value == value


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
