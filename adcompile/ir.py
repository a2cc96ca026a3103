"""The SSA intermediate representation and its textbook printer.

A :class:`Function` is a list of statements over :class:`Var` objects, each assigned exactly once.
Every :class:`Assign` applies one primitive to operands (variables, literal constants or objects
from the user's environment), so the body reads like the textbook decomposition::

    u₋₂ = x1
    u₋₁ = x2
    u₀  = x3
    u₁  = u₋₁ − u₀
    u₂  = u₋₂ · u₁        y1   line 3
    ...

Variables are compared by identity; their ``hint`` is the user's name (or ``""`` for a temporary)
and is only a suggestion to the code generator, which picks the final Python names.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from .errors import Location

if TYPE_CHECKING:
    from .primitives import Primitive


class Var:
    """An SSA value. ``hint`` is the name it should preferably get in generated code."""

    __slots__ = ("hint",)

    def __init__(self, hint: str = ""):
        self.hint = hint

    def __repr__(self) -> str:
        return f"Var({self.hint or '_'}@{id(self) % 10000})"


@dataclass(frozen=True)
class Const:
    """A literal Python value (number, bool, None, string or tuple of those), emitted as a literal."""

    value: object


@dataclass(frozen=True, eq=False)
class Global:
    """A non-literal object from the user's environment (an array, a module-level float), referenced by name."""

    name: str
    value: object


@dataclass(frozen=True, eq=False)
class Slice:
    """``lower:upper:step`` inside an :class:`Index`; each part an operand or None."""

    lower: object = None
    upper: object = None
    step: object = None


@dataclass(frozen=True, eq=False)
class Index:
    """The subscript of ``x[...]``: one item per dimension, each an operand, a :class:`Slice`, ``Const(None)``
    (a new axis) or ``Const(Ellipsis)``. It is one operand of the indexing primitives; the variables inside it
    (a loop index, an index array) are read like any other operand."""

    items: tuple

    def operands(self):
        for item in self.items:
            if isinstance(item, Slice):
                yield from (p for p in (item.lower, item.upper, item.step) if p is not None)
            else:
                yield item


@dataclass(frozen=True, eq=False)
class Pack:
    """A list (or tuple) of operands written in the source, passed whole: ``np.stack([a, b * c])``. Items may be
    packs themselves (``np.array([[a, b], [c, d]])``)."""

    items: tuple
    kind: str = "list"  # or "tuple"

    def operands(self):
        for item in self.items:
            if isinstance(item, Pack):
                yield from item.operands()
            else:
                yield item

    def leaves(self, path=()):
        """(position, operand) of every item that is not a pack, nested positions as tuples."""
        for k, item in enumerate(self.items):
            if isinstance(item, Pack):
                yield from item.leaves((*path, k))
            else:
                yield (*path, k), item


Operand = Var | Const | Global | Index | Pack


def map_operand(op, f):
    """``op`` with each variable ``v`` inside it replaced by ``f(v)`` (indices and packs included)."""
    if isinstance(op, Var):
        return f(op)
    if isinstance(op, Pack):
        return Pack(tuple(map_operand(item, f) for item in op.items), op.kind)
    if isinstance(op, Index):
        items = []
        for item in op.items:
            if isinstance(item, Slice):
                item = Slice(*(None if p is None else map_operand(p, f) for p in (item.lower, item.upper, item.step)))
            else:
                item = map_operand(item, f)
            items.append(item)
        return Index(tuple(items))
    return op


@dataclass(eq=False)
class Assign:
    """``target = prim(*args, **kwargs)``: exactly one primitive operation."""

    target: Var
    prim: Primitive
    args: tuple
    kwargs: tuple = ()  # ((name, operand), ...)
    loc: Location | None = None
    sweep: str = "forward"  # "forward" for the user's computation, "reverse" for adjoint code

    def operands(self):
        for a in self.args:
            if isinstance(a, (Index, Pack)):
                yield from a.operands()
            else:
                yield a
        for _, v in self.kwargs:
            yield v


@dataclass(eq=False)
class If:
    """``if test: then else: orelse``, after which each join ``(v, a, b)`` binds ``v`` to ``a`` or ``b``.

    The joins are the SSA φ-functions of the branch: every variable assigned differently on the two paths (and
    the function's result, when the branches return) gets one.
    """

    test: object
    then: list
    orelse: list
    joins: list  # [(Var, operand on the then path, operand on the else path)]
    loc: Location | None = None
    sweep: str = "forward"

    def operands(self):
        yield self.test


@dataclass(eq=False)
class For:
    """``for index in range(*bounds)`` (or ``reversed(range(...))``); each carried ``(v, init, next)`` is a loop φ.

    ``v`` is ``init`` before the first iteration and ``next`` (computed by the body) before each later one, and
    holds the last such value after the loop.
    """

    index: Var | None  # None: a while loop, which ends at a Break in its body
    bounds: tuple | None  # operands: (stop,), (start, stop) or (start, stop, step); None for a while loop
    body: list
    carried: list  # [(Var, operand before the loop, operand at the end of the body)]
    loc: Location | None = None
    sweep: str = "forward"
    reverse: bool = False

    def operands(self):
        yield from self.bounds or ()


@dataclass(eq=False)
class Break:
    """``if not test: break``: how a while loop's body starts (the test is computed by the statements before it)."""

    test: object
    loc: Location | None = None
    sweep: str = "forward"

    def operands(self):
        yield self.test


@dataclass(eq=False)
class Push:
    """``tape.append(values)``: the forward sweep keeps values a loop overwrites for the reverse sweep."""

    tape: Var
    values: tuple
    loc: Location | None = None
    sweep: str = "forward"

    def operands(self):
        yield self.tape
        yield from self.values


@dataclass(eq=False)
class Pop:
    """``targets = tape.pop()``: the reverse sweep takes back what the forward sweep kept, last in first out."""

    targets: tuple
    tape: Var
    loc: Location | None = None
    sweep: str = "reverse"

    def operands(self):
        yield self.tape


def walk(body):
    """Every statement of ``body``, nested ones included, in program order."""
    for st in body:
        yield st
        if isinstance(st, If):
            yield from walk(st.then)
            yield from walk(st.orelse)
        elif isinstance(st, For):
            yield from walk(st.body)


def rewritten(body, leaf) -> list:
    """``body`` with every statement that is not a branch or a loop replaced by the list of statements
    ``leaf(st)`` returns, at any depth; branches and loops keep everything but their bodies."""
    out = []
    for st in body:
        if isinstance(st, If):
            out.append(replace(st, then=rewritten(st.then, leaf), orelse=rewritten(st.orelse, leaf)))
        elif isinstance(st, For):
            out.append(replace(st, body=rewritten(st.body, leaf)))
        else:
            out.extend(leaf(st))
    return out


def read_by(st) -> list:
    """The operands one statement (not counting nested ones) reads: a branch's test and joined values, a loop's
    bounds and carried values, any other statement's operands."""
    if isinstance(st, If):
        return [st.test] + [x for j in st.joins for x in j[1:]]
    if isinstance(st, For):
        return [*(st.bounds or ())] + [x for c in st.carried for x in c[1:]]
    return list(st.operands())


def targets(st) -> list:
    """The variables one statement (not counting nested ones) assigns."""
    if isinstance(st, If):
        return [j[0] for j in st.joins]
    if isinstance(st, For):
        return [st.index] * (st.index is not None) + [c[0] for c in st.carried]
    if isinstance(st, Pop):
        return list(st.targets)
    if isinstance(st, (Push, Break)):
        return []
    return [st.target]


def numbers(body, avals: dict) -> frozenset:
    """The temporaries and adjoints ``body``'s statements assign that abstract values say are floating-point
    numbers, not arrays (see Function.scalars)."""
    out = []
    for st in walk(body):
        if isinstance(st, Assign) and (not st.target.hint or st.sweep == "reverse"):
            av = avals.get(st.target)
            if av is not None and av.array is False and av.kind == "f":
                out.append(st.target)
    return frozenset(out)


def defined(body) -> set:
    """The variables that statements of ``body`` (nested ones included) assign."""
    return {v for st in walk(body) for v in targets(st)}


@dataclass(eq=False)
class Return:
    """The function's exit: one operand, or a (possibly nested) tuple of operands."""

    value: object
    loc: Location | None = None

    def operands(self):
        yield from flatten(self.value)


def flatten(value):
    """The operands of a possibly nested tuple of operands, in order."""
    if isinstance(value, tuple):
        for v in value:
            yield from flatten(v)
    else:
        yield value


@dataclass(eq=False)
class Function:
    """A function in SSA form: parameters, straight-line body, one exit."""

    name: str
    params: list
    body: list
    ret: Return
    filename: str = "<unknown>"
    firstlineno: int = 1
    kwonly: list = field(default_factory=list)
    release: frozenset = frozenset()  # variables holding large arrays, to free after their last use
    # (variable, location, message, hint): the variable must not be an array (it may share memory with one that
    # was written into); checked when abstract values are known
    checks: list = field(default_factory=list)
    # the results of augmented assignments (h += v), which Python does in place when h is an array
    updated: frozenset = frozenset()
    # variables known to hold numbers, not arrays: the code generator may write their single-use temporaries
    # into the expression that uses them
    scalars: frozenset = frozenset()

    def statements(self):
        yield from self.body
        yield self.ret


# ----------------------------------------------------------------------------------------------------
# Textbook printer
# ----------------------------------------------------------------------------------------------------

_SUB = str.maketrans("-0123456789", "₋₀₁₂₃₄₅₆₇₈₉")


def _u(i: int, ascii_only: bool) -> str:
    return f"u[{i}]" if ascii_only else "u" + str(i).translate(_SUB)


def format_ir(fn: Function, ascii_only: bool = False) -> str:
    """Print ``fn`` as the textbook decomposition: inputs u₁₋ₙ … u₀, then one primitive per line.

    Columns: the value, the user's name for it (if any), the source line it comes from.
    """
    names: dict[Var, str] = {}
    rows: list[tuple[str, str, str, str]] = []
    inputs = fn.params + fn.kwonly
    for i, p in enumerate(inputs):
        names[p] = _u(i - len(inputs) + 1, ascii_only)
        rows.append((names[p], p.hint, "", ""))

    def show(op) -> str:
        if isinstance(op, tuple):
            return "(" + ", ".join(show(v) for v in op) + ("," if len(op) == 1 else "") + ")"
        if isinstance(op, Var):
            return names[op]
        if isinstance(op, Global):
            return op.name
        if isinstance(op, Index):
            return ", ".join(show_item(item) for item in op.items)
        if isinstance(op, Pack):
            inner = ", ".join(show(item) for item in op.items)
            return f"[{inner}]" if op.kind == "list" else f"({inner}{',' if len(op.items) == 1 else ''})"
        if isinstance(op.value, type(Ellipsis)):
            return "..."
        return repr(op.value)

    def show_item(item) -> str:
        if isinstance(item, Slice):
            parts = [show(p) if p is not None else "" for p in (item.lower, item.upper, item.step)]
            return ":".join(parts[:2] if item.step is None else parts)
        return show(item)

    counter = [0]

    def number(v: Var) -> str:
        counter[0] += 1
        names[v] = _u(counter[0], ascii_only)
        return names[v]

    def emit(body, indent: str):
        for st in body:
            where = f"line {st.loc.line}" if st.loc else ""
            if isinstance(st, If):
                rows.append((f"{indent}if {show(st.test)}:", "", "", where))
                for label, branch, side in (("", st.then, 1), ("else:", st.orelse, 2)):
                    if label:
                        rows.append((f"{indent}else:", "", "", ""))
                    emit(branch, indent + "    ")
                    for j in st.joins:
                        if j[0] not in names:
                            number(j[0])
                        rows.append((f"{indent}    {names[j[0]]}", show(j[side]), j[0].hint, ""))
                continue
            if isinstance(st, Break):
                rows.append((f"{indent}if ¬{show(st.test)}: break", "", "", where))
                continue
            if isinstance(st, For):
                for v, init, _ in st.carried:
                    rows.append((indent + number(v), show(init), v.hint, ""))
                if st.index is None:
                    rows.append((f"{indent}while:", "", "", where))
                else:
                    bounds = f"range({', '.join(show(b) for b in st.bounds)})"
                    bounds = f"reversed({bounds})" if st.reverse else bounds
                    rows.append((f"{indent}for {number(st.index)} in {bounds}:", "", st.index.hint, where))
                emit(st.body, indent + "    ")
                for v, _, nxt in st.carried:
                    rows.append((f"{indent}    {names[v]}", show(nxt), v.hint, ""))
                continue
            lhs = indent + number(st.target)
            rhs = st.prim.textbook([show(a) for a in st.args], [(key, show(v)) for key, v in st.kwargs], ascii_only)
            rows.append((lhs, rhs, st.target.hint, where))

    emit(fn.body, "")
    ret_line = f"line {fn.ret.loc.line}" if fn.ret.loc else ""
    lhs_w = max(len(r[0]) for r in rows if r[1])
    rhs_w = max(len(r[1]) for r in rows)
    name_w = max(len(r[2]) for r in rows)
    lines = [f"{fn.name}({', '.join(p.hint for p in inputs)})"]
    for lhs, rhs, name, where in rows:
        if not rhs:  # a header: if u₃: / else: / for ... / while: / if ¬u₄: break
            lines.append(f"    {lhs.ljust(lhs_w + rhs_w + 3)}   {''.ljust(name_w)}   {where}".rstrip())
            continue
        lines.append(f"    {lhs.ljust(lhs_w)} = {rhs.ljust(rhs_w)}   {name.ljust(name_w)}   {where}".rstrip())
    lines.append(f"    return {show(fn.ret.value)}".ljust(lhs_w + rhs_w + name_w + 13) + ret_line)
    return "\n".join(lines)
