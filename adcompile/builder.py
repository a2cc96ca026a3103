"""The one way statements are made: a builder that appends ``Assign`` statements and knows their abstract values.

Primal lowering uses it plainly. The reverse transform uses it with ``simplify=True``: then each primitive's fold
hook and the generic constant folding run as the statement is built, so ``g * 1.0`` never reaches the output and an
``unbroadcast`` whose shapes already agree disappears. Simplification is only applied to code adcompile writes
(rule expressions), never to the user's own operations.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math

import numpy as np

from . import avals as A
from .errors import Location, NonDifferentiableError, UnsupportedSyntaxError
from .ir import Assign, Const, Global, Index, Pack, Slice, Var
from .primitives import BINOPS, UNARYOPS, Primitive, lookup, primitive, returns_new


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
        self.replace: dict = {}  # forward loop -> the statements that replace it in the adjoint (with its tape)
        self.reverse_of: dict = {}  # forward branch -> its reverse
        self.views: dict = {}  # variable -> the variables whose memory it may share (x[1:], x.T, ...)
        self.checks: list = []  # see Function.checks
        self.updated: set = set()  # see Function.updated
        self.has_lists: bool | None = None  # whether a value is a list (simplify.py asks, once)
        # variable -> (its Assign, the body list it was appended to): statements are appended through call() or
        # emit() and never removed, so producer() needs no scan
        self.made: dict = {}

    def remember(self, statements):
        """Let later identical operations reuse these statements' results instead of recomputing them."""
        for st in statements:
            if isinstance(st, Assign):  # not what a branch computes: that is not available after it
                self.memo.setdefault(_key(st.prim, st.args, st.kwargs), st.target)

    def producer(self, v):
        """The statement of the body being built that assigns ``v``, if there is one."""
        made = self.made.get(v)
        return made[0] if made is not None and made[1] is self.body else None

    def emit(self, st) -> None:
        """Append a statement built elsewhere to the body being built."""
        self.body.append(st)
        if isinstance(st, Assign):
            self.made[st.target] = (st, self.body)

    def aval(self, op) -> A.Aval:
        if isinstance(op, Var):
            return self.avals.get(op, A.UNKNOWN)
        if isinstance(op, Index):
            return A.IndexAval(tuple(self._item_aval(item) for item in op.items))
        if isinstance(op, Pack):
            return A.PackAval(tuple(self.aval(item) for item in op.items), op.kind)
        if isinstance(op, Const):
            return A.of_literal(op.value)
        return A.of_value(op.value)

    def _item_aval(self, item):
        """What an index item is known to be: a literal, an abstract value, or a slice (None if its bounds vary)."""
        if isinstance(item, Slice):
            parts = [
                p if p is None else p.value if isinstance(p, Const) else self.aval(p).literal
                for p in (item.lower, item.upper, item.step)
            ]  # a computed bound may be known: x[: n // 2]
            computed = [p for p in (item.lower, item.upper, item.step) if p is not None and not isinstance(p, Const)]
            if all(isinstance(self.aval(p).literal, int) for p in computed):
                return slice(*parts)
            return A.UNKNOWN
        if isinstance(item, Const):
            return item.value
        return self.aval(item)

    def call(self, fn, *args, hint: str = "", **kwargs):
        """Emit ``fn(*args, **kwargs)`` and return the operand holding its result."""
        prim = fn if isinstance(fn, Primitive) else (lookup(fn) or primitive(fn))
        args, kw = _normalise(prim, args, tuple(kwargs.items()), self.loc)
        key = None
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
        self.avals[target] = self.result_aval(
            prim, args, {k: (v.value if isinstance(v, Const) else None) for k, v in kw}
        )
        self.emit(Assign(target, prim, tuple(args), kw, self.loc, self.sweep))
        if args and isinstance(args[0], Var) and not returns_new(prim):
            self.views[target] = {args[0]} | self.views.get(args[0], set())
        if key is not None:
            self.memo[key] = target
        return target

    def result_aval(self, prim: Primitive, args, kwargs: dict):
        """What is known of ``prim(*args)``: its shape rule applied to the operands' abstract values. A list of
        values is the array np.array(xs) to NumPy functions (its adjoint is that array); Python's operators on a
        list mean something else (+ joins lists) and are refused."""
        avals = [self.aval(a) for a in args]
        if any(isinstance(av, A.Aval) and av.kind == "list" for av in avals):
            if prim.op_node is not None:
                raise UnsupportedSyntaxError(
                    "operators on a list are Python's (+ joins lists, * repeats them), not arithmetic",
                    self.loc,
                    hint="make it an array first: np.array(xs)",
                )
            avals = [
                A.Aval(av.shape, "f", True) if isinstance(av, A.Aval) and av.kind == "list" else av for av in avals
            ]
        out = prim.shape_rule(avals, kwargs, self.loc)
        if prim.op_node is not None and out.literal is None and avals and all(_known_int(av) for av in avals):
            try:  # n + 1, n // 2 with n known (a length or a size): known too, so shapes made from it are
                value = prim.fn(*(av.literal for av in avals))
            except Exception:
                return out
            if _known_int(A.of_literal(value)):
                out = dataclasses.replace(out, literal=value)
        return out

    def _fold(self, prim: Primitive, args, kw):
        if prim.fold is not None:
            out = prim.fold(self, *args, **dict(kw))
            if out is not None:
                return out
        if all(isinstance(a, Const) for a in args) and all(isinstance(v, Const) for _, v in kw):
            return _constant_fold(prim, args, kw)
        return None


def _known_int(av) -> bool:
    return isinstance(av, A.Aval) and isinstance(av.literal, int) and not isinstance(av.literal, bool)


def _operand_key(op):
    if isinstance(op, Const):
        return ("const", type(op.value), op.value)
    if isinstance(op, Global):
        return ("global", id(op.value))
    if isinstance(op, Index):
        return ("index", tuple(_operand_key(i) for i in op.items))
    if isinstance(op, Pack):
        return ("pack", op.kind, tuple(_operand_key(i) for i in op.items))
    if isinstance(op, Slice):
        return ("slice", tuple(None if p is None else _operand_key(p) for p in (op.lower, op.upper, op.step)))
    return op


def _key(prim, args, kw):
    return (prim, tuple(_operand_key(a) for a in args), tuple((k, _operand_key(v)) for k, v in kw))


def _normalise(prim: Primitive, args, kw, loc):
    """Check a call against the primitive's rule and pass its non-differentiable arguments by keyword.

    ``np.sum(x, 0)`` becomes ``np.sum(x, axis=0)``: positional arguments are named by the callable's own signature
    (so ``np.sum(x, 0, float)`` is recognised as passing ``dtype``, which no rule accepts). Those arguments steer
    the result's shape, so they must be literals. An argument equal to its default is left out, as a person would.
    The other way round, an operand passed by its keyword becomes positional: ``np.clip(x, a_min=0, a_max=1)``.
    """
    if prim.vjp is None:
        return args, kw
    t = prim.template("vjp")
    n = len(t.outputs)
    if not kw and len(args) == n and not (args and _same_literal(args[-1], None)):
        return args, kw  # the common case: every operand in its place, nothing by keyword
    accepted = t.params[2:]
    names, defaults = _signature(prim.fn)
    if len(args) > n:
        names = names or accepted
        if len(args) > len(names):
            many = f"{len(names)} positional argument" + ("s" if len(names) != 1 else "")
            raise NonDifferentiableError(f"{prim.display}() is differentiable with at most {many}", loc)
        kw = tuple(zip(names[n : len(args)], args[n:])) + kw
        args = args[:n]
    # a trailing None the callable takes as its default is left out: contract(s, a, b, None) is contract(s, a, b)
    while args and len(args) <= len(names) and _same_literal(args[-1], None):
        if defaults.get(names[len(args) - 1], 0) is not None:
            break
        args = args[:-1]
    named = dict(kw)  # operands passed by keyword (np.clip(x, a_min=0.0, a_max=1.0)) take their places
    while len(args) < min(n, len(names)) and names[len(args)] in named:
        args = (*args, named.pop(names[len(args)]))
    kw = tuple(named.items())
    required = [p for p in accepted[:n] if p not in t.defaults]
    if len(args) < len(required):
        raise NonDifferentiableError(f"{prim.display}() needs {len(required)} positional arguments", loc)
    kw = tuple((k, v) for k, v in kw if k in accepted or not (k in defaults and _same_literal(v, defaults[k])))
    for k, v in kw:
        if k not in accepted[n:]:
            options = ", ".join(f"{p}=" for p in accepted[n:]) or "none"
            raise NonDifferentiableError(
                f"{prim.display}() is not differentiable with the argument {k}=", loc, hint=f"supported: {options}"
            )
        if not isinstance(v, Const):
            raise UnsupportedSyntaxError(
                f"the argument {k}= of {prim.display}() must be a literal constant, not a computed value", loc
            )
    # not where the callable requires the argument (np.take_along_axis's axis has no default before NumPy 2.3)
    required = {n for n in names if n not in defaults}
    kw = tuple((k, v) for k, v in kw if not (k in t.defaults and _same_literal(v, t.defaults[k])) or k in required)
    return args, kw


@functools.cache
def _signature(fn) -> tuple[list, dict]:
    """The callable's positional parameter names and its defaults (empty where it has no signature)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return [], {}
    names = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return names, {p.name: p.default for p in params if p.default is not p.empty}


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
