"""Forward and reverse accumulation, worked by hand: the tables of ``adcompile explain``.

:func:`trace` runs a function's SSA IR at one point, statement by statement, calling each primitive's own callable.
The result is a Wengert list: one :class:`Node` per value computed, in order, on the path the run took (the branch
chosen by each ``if``, every iteration of each loop, unrolled). Nothing is compiled; the derivatives come from the
rule functions of the rule tables, called with numbers:

- :func:`forward_sweeps` runs one forward sweep per input xⱼ. The tangent of xⱼ is 1, of every other input 0, and
  each node's tangent is the sum, over its arguments, of its jvp rule applied to that argument's tangent. Column
  ``j`` holds ∂uᵢ/∂xⱼ.
- :func:`reverse_sweeps` runs one reverse sweep per output yₖ. The adjoint of yₖ is 1; walking the nodes backwards,
  each node's vjp rule turns its adjoint into contributions to its arguments' adjoints, which add up where a value
  is used more than once (fan-out). Column ``k`` holds ∂yₖ/∂uᵢ.

>>> import numpy as np
>>> def f(x1, x2):
...     return x1 * np.sin(x2)
>>> ex = explanation(f, (2.0, 0.0))
>>> ex.jacobian
[[0.0, 2.0]]
>>> ex.forward_count, ex.reverse_count
(2, 1)

:func:`explain` prints the decomposition with its values, both tables and the Jacobian (see ``docs/cli.md``).
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field

import numpy as np

from .errors import AdCompileError, NonDifferentiableError, OutputError
from .ir import Assign, Break, Const, For, Function, Global, If, Index, Pack, Slice, Var, flatten

MAX_NODES = 400  # a trace longer than this (a loop run many times) is rejected: the tables would not be readable
MAX_ITERATIONS = 10_000  # a loop that computes no value per iteration still stops somewhere

_SUB = str.maketrans("-0123456789", "₋₀₁₂₃₄₅₆₇₈₉")
_SUP = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


# ----------------------------------------------------------------------------------------------------
# Names: the ones `adcompile show --ir` prints
# ----------------------------------------------------------------------------------------------------


def textbook_names(fn: Function, ascii_only: bool = False) -> dict:
    """Each variable's textbook name (``u₋₂``, ``u₃``), numbered in the order :func:`ir.format_ir` numbers them."""
    names: dict = {}
    inputs = fn.params + fn.kwonly

    def u(i: int) -> str:
        return f"u[{i}]" if ascii_only else "u" + str(i).translate(_SUB)

    for i, p in enumerate(inputs):
        names[p] = u(i - len(inputs) + 1)
    counter = [0]

    def number(v: Var):
        counter[0] += 1
        names[v] = u(counter[0])

    def walk(body):
        for st in body:
            if isinstance(st, If):
                for branch in (st.then, st.orelse):
                    walk(branch)
                    for j in st.joins:
                        if j[0] not in names:
                            number(j[0])
            elif isinstance(st, For):
                for v, _, _ in st.carried:
                    number(v)
                if st.index is not None:
                    number(st.index)
                walk(st.body)
            elif isinstance(st, Assign):
                number(st.target)

    walk(fn.body)
    return names


def _iteration_suffix(path: tuple, ascii_only: bool) -> str:
    if ascii_only:
        return "".join(f"{{{k}}}" for k in path)
    return "".join("⁽" + str(k).translate(_SUP) + "⁾" for k in path)


# ----------------------------------------------------------------------------------------------------
# The trace
# ----------------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Node:
    """One value computed on the path the run took.

    ``kind`` is ``"input"``, ``"op"`` (a primitive applied to ``args``), ``"phi"`` (a copy: the value a branch
    chose, or a loop variable at the start of an iteration) or ``"index"`` (a loop counter). ``parents`` holds
    ``(position, node number)`` for each argument that is itself a node.
    """

    label: str
    expr: str
    value: object
    kind: str
    hint: str = ""
    note: str = ""
    line: int | None = None
    loc: object = None
    prim: object = None
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    parents: list = field(default_factory=list)
    active: bool = False  # depends on a float input through differentiable operations

    @property
    def real(self) -> bool:
        """A number that belongs in the tables (floats and ints; not tests, not loop counters)."""
        return self.kind != "index" and _is_number(self.value)


@dataclass
class Trace:
    """The Wengert list of one run: ``nodes`` in order, ``events`` (nodes and the headers of branches and loops)
    for printing, the float ``inputs`` and the ``outputs`` (a node number, or None for a literal)."""

    name: str
    params: list  # (name, value) of every parameter
    nodes: list
    events: list  # Node or str (a header line: which branch ran, which loop iteration)
    inputs: list  # node numbers of the float parameters: the independent variables x₁ … xₙ
    outputs: list  # node numbers (None for a literal) of the returned values: the dependent variables y₁ … yₘ
    output_values: list
    output_names: list
    ret_expr: str


class _Break(Exception):
    pass


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _is_float(v) -> bool:
    return isinstance(v, (float, np.floating))


def number_text(v) -> str:
    """A value as the tables print it: six significant digits, no ``-0``."""
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if _is_float(v):
        v = float(v)
        if v == 0:
            return "0"
        if math.isnan(v) or math.isinf(v):
            return str(v)
        return f"{v:.6g}"
    return repr(v)


def trace(fun, args: tuple, ascii_only: bool = False) -> Trace:
    """Run ``fun``'s IR at ``args`` (bound like a call) and record every value computed."""
    from .api import _compiled

    fn = _compiled(fun).primal()
    try:
        bound = inspect.signature(fun).bind(*args)
    except TypeError as e:
        raise TypeError(f"explain {fn.name}(): {e}") from None
    bound.apply_defaults()
    return _Tracer(fn, ascii_only).run(bound.arguments)


class _Tracer:
    def __init__(self, fn: Function, ascii_only: bool):
        self.fn = fn
        self.ascii = ascii_only
        self.base = textbook_names(fn, ascii_only)
        self.nodes: list[Node] = []
        self.events: list = []
        self.env: dict = {}  # Var -> node number
        self.path: tuple = ()  # the iteration numbers of the loops the run is in
        self.loop_loc = None

    # -- values and names ---------------------------------------------------------------------------
    def value(self, op):
        if isinstance(op, Var):
            return self.nodes[self.env[op]].value
        if isinstance(op, (Const, Global)):
            return op.value
        if isinstance(op, Pack):
            items = [self.value(item) for item in op.items]
            return items if op.kind == "list" else tuple(items)
        if isinstance(op, Index):
            items = tuple(self.index_item(item) for item in op.items)
            return items[0] if len(items) == 1 else items
        raise AdCompileError(f"explain cannot evaluate the operand {op!r}")

    def index_item(self, item):
        if isinstance(item, Slice):
            return slice(*(None if p is None else self.value(p) for p in (item.lower, item.upper, item.step)))
        return self.value(item)

    def show(self, op) -> str:
        if isinstance(op, tuple):
            return "(" + ", ".join(self.show(v) for v in op) + ("," if len(op) == 1 else "") + ")"
        if isinstance(op, Var):
            return self.nodes[self.env[op]].label
        if isinstance(op, Global):
            return op.name
        if isinstance(op, Index):
            return ", ".join(self.show_item(item) for item in op.items)
        if isinstance(op, Pack):
            inner = ", ".join(self.show(item) for item in op.items)
            return f"[{inner}]" if op.kind == "list" else f"({inner}{',' if len(op.items) == 1 else ''})"
        if op.value is Ellipsis:
            return "..."
        return repr(op.value)

    def show_item(self, item) -> str:
        if isinstance(item, Slice):
            parts = [self.show(p) if p is not None else "" for p in (item.lower, item.upper, item.step)]
            return ":".join(parts[:2] if item.step is None else parts)
        return self.show(item)

    def label(self, v: Var, path: tuple | None = None) -> str:
        return self.base[v] + _iteration_suffix(self.path if path is None else path, self.ascii)

    def add(self, v: Var, node: Node) -> int:
        if len(self.nodes) >= MAX_NODES:
            where = self.loop_loc or node.loc
            raise AdCompileError(
                f"explain writes one row per value computed, and this run computes more than {MAX_NODES}"
                + (" (it unrolls every iteration of this loop)" if self.loop_loc else ""),
                where,
                hint="explain the function at arguments that run fewer iterations, or a smaller version of it",
            )
        if node.kind != "input":
            node.hint = node.hint or v.hint
        self.nodes.append(node)
        self.events.append(node)
        self.env[v] = len(self.nodes) - 1
        return len(self.nodes) - 1

    def phi(self, v: Var, src, note: str, path: tuple | None = None):
        """``v`` takes the value of ``src`` (a branch's choice, a loop variable's value at an iteration)."""
        node = Node(self.label(v, path), self.show(src), self.value(src), "phi", note=note)
        if isinstance(src, Var):
            k = self.env[src]
            node.parents = [(0, k)]
            node.active = self.nodes[k].active
        self.add(v, node)

    # -- statements ---------------------------------------------------------------------------------
    def run(self, arguments: dict) -> Trace:
        fn = self.fn
        inputs = []
        params = []
        for p in fn.params + fn.kwonly:
            value = arguments[p.hint]
            if isinstance(value, np.ndarray) and value.ndim == 0:
                value = value[()]
            if isinstance(value, np.ndarray) or isinstance(value, (complex, np.complexfloating)):
                what = f"an array of shape {value.shape}" if isinstance(value, np.ndarray) else f"{value!r}"
                raise TypeError(
                    f"explain works on scalar (float) arguments, one table row per number; {p.hint} is {what}. "
                    "For arrays, use grad or adcompile show"
                )
            k = self.add(p, Node(self.label(p), p.hint, value, "input", hint=""))
            self.nodes[k].active = _is_float(value)
            if self.nodes[k].active:
                inputs.append(k)
            params.append((p.hint, value))
        self.body(fn.body)
        ret = fn.ret.value
        operands = list(flatten(ret))
        outputs, values, names = [], [], []
        for k, op in enumerate(operands):
            value = self.value(op)
            if not _is_number(value):
                what = f"an array of shape {np.shape(value)}" if isinstance(value, np.ndarray) else repr(value)
                raise OutputError(
                    f"explain needs {fn.name}() to return numbers; its output {k + 1} is {what}", fn.ret.loc
                )
            outputs.append(self.env[op] if isinstance(op, Var) else None)
            values.append(value)
            if len(operands) == 1:
                names.append(fn.name)
            elif (
                isinstance(op, Var) and op.hint and sum(isinstance(o, Var) and o.hint == op.hint for o in operands) == 1
            ):
                names.append(op.hint)
            else:
                names.append(f"y{k + 1}")
        return Trace(fn.name, params, self.nodes, self.events, inputs, outputs, values, names, self.show(ret))

    def body(self, body: list):
        for st in body:
            if isinstance(st, Assign):
                self.assign(st)
            elif isinstance(st, If):
                self.branch(st)
            elif isinstance(st, For):
                self.loop(st)
            elif isinstance(st, Break):
                if not self.value(st.test):
                    self.events.append(
                        f"¬{self.show(st.test)}: the loop ends"
                        if not self.ascii
                        else f"not {self.show(st.test)}: the loop ends"
                    )
                    raise _Break
            else:
                raise AdCompileError(f"explain cannot run a {type(st).__name__} statement", getattr(st, "loc", None))

    def assign(self, st: Assign):
        from .calls import Call

        if isinstance(st.prim, Call):
            raise AdCompileError(
                f"explain cannot follow the recursive call of {st.prim.name}(): it lists the values of one "
                "straight run, and a recursive call is compiled as a call",
                st.loc,
                hint="explain the function at the depth you want by writing that depth out, or use grad",
            )
        args = tuple(self.value(a) for a in st.args)
        kwargs = {k: self.value(v) for k, v in st.kwargs}
        expr = st.prim.textbook([self.show(a) for a in st.args], [(k, self.show(v)) for k, v in st.kwargs], self.ascii)
        with np.errstate(all="ignore"):
            value = st.prim.fn(*args, **kwargs)
        if isinstance(value, np.ndarray):
            if value.ndim:
                raise AdCompileError(
                    f"explain shows numbers, one per row, but {self.label(st.target)} = {expr} is an array of "
                    f"shape {value.shape}",
                    st.loc,
                    hint="explain works on functions of scalar (float) arguments whose intermediates are numbers; "
                    "for arrays, use grad or adcompile show",
                )
            value = value[()]
        parents = [(i, self.env[a]) for i, a in enumerate(st.args) if isinstance(a, Var)]
        node = Node(
            self.label(st.target),
            expr,
            value,
            "op",
            line=st.loc.line if st.loc else None,
            loc=st.loc,
            prim=st.prim,
            args=args,
            kwargs=kwargs,
            parents=parents,
        )
        node.active = _is_number(value) and st.prim.differentiable and any(self.nodes[k].active for _, k in parents)
        self.add(st.target, node)

    def branch(self, st: If):
        taken = bool(self.value(st.test))
        side = "then" if taken else "else"
        self.events.append(f"if {self.show(st.test)} is {taken}: the {side} branch")
        self.body(st.then if taken else st.orelse)
        for v, a, b in st.joins:
            self.phi(v, a if taken else b, f"φ, {side} branch" if not self.ascii else f"phi, {side} branch")

    def loop(self, st: For):
        outer_path, outer_loc = self.path, self.loop_loc
        self.loop_loc = st.loc
        for v, init, _ in st.carried:
            self.phi(v, init, "before the loop", outer_path + (0,))
        if st.index is None:
            counts = range(MAX_ITERATIONS)
            what = "while"
        else:
            bounds = range(*(int(self.value(b)) for b in st.bounds))
            counts = reversed(bounds) if st.reverse else bounds
            rng = f"range({', '.join(self.show(b) for b in st.bounds)})"
            what = f"for {self.base[st.index]} in {f'reversed({rng})' if st.reverse else rng}"
        self.events.append(f"{what}: the loop runs")
        k = 0
        for count in counts:
            k += 1
            self.path = outer_path + (k,)
            self.events.append(f"iteration {k}")
            if st.index is not None:
                self.add(st.index, Node(self.label(st.index), str(count), count, "index"))
            try:
                self.body(st.body)
            except _Break:
                break
            # every next value is read before any carried variable is rebound (one may be another's next)
            sources = [
                (self.show(nxt), self.value(nxt), self.env.get(nxt) if isinstance(nxt, Var) else None)
                for _, _, nxt in st.carried
            ]
            for (v, _, _), (text, value, parent) in zip(st.carried, sources):
                node = Node(self.label(v), text, value, "phi", note=f"after iteration {k}")
                if parent is not None:
                    node.parents = [(0, parent)]
                    node.active = self.nodes[parent].active
                self.add(v, node)
        else:
            if st.index is None:
                raise AdCompileError(f"explain stopped this loop after {MAX_ITERATIONS} iterations", st.loc)
        self.path, self.loop_loc = outer_path, outer_loc
        self.events.append(f"the loop ran {k} time{'s' * (k != 1)}")


# ----------------------------------------------------------------------------------------------------
# The sweeps
# ----------------------------------------------------------------------------------------------------


def _rule(node: Node, kind: str, g: float, i: int) -> float:
    """Output ``i`` of ``node``'s ``kind`` rule (``"jvp"`` or ``"vjp"``) applied to ``g``: the contribution of
    argument ``i`` to the node's tangent, or of the node's adjoint to argument ``i``'s adjoint."""
    prim = node.prim
    rule = prim.jvp if kind == "jvp" else prim.vjp
    if rule is None:
        rule = prim.vjp or prim.jvp  # for numbers, a scalar factor reads the same both ways
    if rule is None:
        raise NonDifferentiableError(
            f"{prim.display}() has no derivative rule",
            node.loc,
            hint=f"register one with @adcompile.defvjp({prim.display})",
        )
    with np.errstate(all="ignore"):
        out = rule(g, node.value, *node.args, **node.kwargs)
    out = out if isinstance(out, tuple) else (out,)
    if i >= len(out) or out[i] is None:
        raise NonDifferentiableError(
            f"{prim.display}() is not differentiable with respect to its argument {i + 1}", node.loc
        )
    c = out[i]
    if isinstance(c, np.ndarray):
        c = c[()] if c.ndim == 0 else c
    return c


def local_derivative(tr: Trace, k: int, i: int) -> float:
    """∂uₖ/∂(argument ``i`` of node ``k``): the vjp rule applied to an adjoint of 1."""
    node = tr.nodes[k]
    return 1.0 if node.kind == "phi" else _rule(node, "vjp", 1.0, i)


def forward_sweeps(tr: Trace) -> list:
    """One forward sweep per float input: ``table[i][j]`` is ∂uᵢ/∂xⱼ (0.0 for a value that does not vary)."""
    table = [[0.0] * len(tr.inputs) for _ in tr.nodes]
    for j, x in enumerate(tr.inputs):
        for k, node in enumerate(tr.nodes):
            if not node.active:
                continue
            if node.kind == "input":
                table[k][j] = 1.0 if k == x else 0.0
            elif node.kind == "phi":
                table[k][j] = table[node.parents[0][1]][j]
            else:
                total = 0.0
                for i, p in node.parents:
                    t = table[p][j]
                    if tr.nodes[p].active and t != 0:
                        total = total + _rule(node, "jvp", t, i)
                table[k][j] = total
    return table


def reverse_sweeps(tr: Trace, contributions: bool = False):
    """One reverse sweep per output: ``table[i][k]`` is the adjoint ∂yₖ/∂uᵢ.

    With ``contributions``, also returns, per sweep, each node's list of ``(consumer node, amount)``: the terms
    whose sum is its adjoint, one per use (several where the value fans out).
    """
    table = [[0.0] * len(tr.outputs) for _ in tr.nodes]
    parts = []
    for k, y in enumerate(tr.outputs):
        adj: dict = {}
        terms: dict = {}
        if y is not None and tr.nodes[y].active:
            adj[y] = 1.0
        for n in reversed(range(len(tr.nodes))):
            node = tr.nodes[n]
            a = adj.get(n, 0.0)
            table[n][k] = a
            if a == 0 or node.kind == "input":
                continue
            for i, p in node.parents:
                if not tr.nodes[p].active:
                    continue
                c = a if node.kind == "phi" else _rule(node, "vjp", a, i)
                adj[p] = adj[p] + c if p in adj else c
                terms.setdefault(p, []).append((n, c))
        parts.append(terms)
    return (table, parts) if contributions else table


# ----------------------------------------------------------------------------------------------------
# The explanation
# ----------------------------------------------------------------------------------------------------


@dataclass
class Explanation:
    """Everything ``adcompile explain`` prints, as numbers: ``forward[i][j]`` = ∂uᵢ/∂xⱼ, ``reverse[i][k]`` =
    ∂yₖ/∂uᵢ, ``jacobian[k][j]`` = ∂yₖ/∂xⱼ (from the forward sweeps; ``agree`` says the reverse sweeps found the
    same)."""

    trace: Trace
    forward: list
    reverse: list
    jacobian: list
    agree: bool

    @property
    def forward_count(self) -> int:
        return len(self.trace.inputs)

    @property
    def reverse_count(self) -> int:
        return len(self.trace.outputs)

    def row(self, label: str) -> int:
        """The node number of the value named ``label`` (``"u₂"``)."""
        return next(k for k, n in enumerate(self.trace.nodes) if n.label == label)


def explanation(fun, args: tuple, ascii_only: bool = False) -> Explanation:
    """Trace ``fun`` at ``args`` and run its forward and reverse sweeps."""
    tr = trace(fun, args, ascii_only)
    fwd = forward_sweeps(tr)
    rev = reverse_sweeps(tr)
    jac = [[float(fwd[y][j]) if y is not None else 0.0 for j in range(len(tr.inputs))] for y in tr.outputs]
    back = [[float(rev[x][k]) for x in tr.inputs] for k in range(len(tr.outputs))]
    agree = all(
        math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) or (math.isnan(a) and math.isnan(b))
        for ra, rb in zip(jac, back)
        for a, b in zip(ra, rb)
    )
    return Explanation(tr, fwd, rev, jac, agree)


def explain(fun, args: tuple, fmt: str = "text", ascii_only: bool = False) -> str:
    """The text of ``adcompile explain``: the decomposition with values, both tables, the Jacobian."""
    ex = explanation(fun, args, ascii_only)
    return (_markdown if fmt == "markdown" else _text)(ex, ascii_only)


def _sub(text: str, ascii_only: bool) -> str:
    return text if ascii_only else text.translate(_SUB)


def _symbols(ascii_only: bool) -> dict:
    if ascii_only:
        return {"d": "d", "x_j": "x_j", "y_k": "y_k", "u_i": "u_i", "phi": "phi"}
    return {"d": "∂", "x_j": "xⱼ", "y_k": "yₖ", "u_i": "uᵢ", "phi": "φ"}


def _headline(ex: Explanation) -> str:
    tr = ex.trace
    at = ", ".join(f"{name} = {number_text(v)}" for name, v in tr.params)
    return f"{tr.name}({', '.join(name for name, _ in tr.params)}) at {at}"


def _decomposition_rows(ex: Explanation) -> list:
    """(left, expression, name, value, where) per event; headers have only ``left``."""
    rows = []
    for ev in ex.trace.events:
        if isinstance(ev, str):
            rows.append((ev, None, "", "", ""))
            continue
        where = f"line {ev.line}" if ev.line else ev.note
        rows.append((ev.label, ev.expr, ev.hint, number_text(ev.value), where))
    return rows


def _table_rows(ex: Explanation, table: list, order) -> list:
    return [(ex.trace.nodes[k].label, [number_text(v) for v in table[k]]) for k in order if ex.trace.nodes[k].real]


def _outputs_line(ex: Explanation) -> str:
    tr = ex.trace
    parts = []
    for name, y, v in zip(tr.output_names, tr.outputs, tr.output_values):
        parts.append(f"{name} = {tr.nodes[y].label if y is not None else number_text(v)}")
    return ", ".join(parts)


def _align(header: list, rows: list, indent: str = "    ") -> list:
    """Columns: the first left-aligned, the others right-aligned."""
    widths = [max(len(r[c]) for r in [header, *rows]) for c in range(len(header))]
    out = []
    for r in [header, *rows]:
        cells = [r[0].ljust(widths[0])] + [cell.rjust(w) for cell, w in zip(r[1:], widths[1:])]
        out.append((indent + "   ".join(cells)).rstrip())
    return out


def _sections(ex: Explanation, ascii_only: bool) -> dict:
    s = _symbols(ascii_only)
    tr = ex.trace
    xs = [tr.params[k][0] for k in tr.inputs]  # the inputs are the first nodes, in parameter order
    n, m = len(tr.inputs), len(tr.outputs)
    fwd_head = [""] + [f"{s['d']}u/{s['d']}{x}" for x in xs]
    rev_head = [""] + [f"{s['d']}{y}/{s['d']}u" for y in tr.output_names]
    return {
        "forward_title": (
            f"Forward accumulation: {n} sweep{'s' * (n != 1)}, one per input {s['x_j']}\n(sweep j starts from "
            f"{s['d']}{s['x_j']}/{s['d']}{s['x_j']} = 1 and carries tangents down the list: row {s['u_i']} holds "
            f"{s['d']}{s['u_i']}/{s['d']}{s['x_j']})"
        ),
        "forward": (fwd_head, _table_rows(ex, ex.forward, range(len(tr.nodes)))),
        "reverse_title": (
            f"Reverse accumulation: {m} sweep{'s' * (m != 1)}, one per output {s['y_k']}\n(sweep k starts from "
            f"{s['d']}{s['y_k']}/{s['d']}{s['y_k']} = 1 and carries adjoints back up the list: row {s['u_i']} holds "
            f"{s['d']}{s['y_k']}/{s['d']}{s['u_i']})"
        ),
        "reverse": (rev_head, _table_rows(ex, ex.reverse, reversed(range(len(tr.nodes))))),
        "jacobian_title": f"Jacobian {s['d']}y/{s['d']}x\n"
        + (
            "(the forward sweeps give its columns, the reverse sweeps its rows: they agree)"
            if ex.agree
            else "(WARNING: the forward and reverse sweeps disagree; these are the forward sweeps' values)"
        ),
        "jacobian": ([""] + xs, [(y, [number_text(v) for v in row]) for y, row in zip(tr.output_names, ex.jacobian)]),
        "count": (
            f"Forward mode needed {n} sweep{'s' * (n != 1)} (n = {n} input{'s' * (n != 1)}), reverse mode {m} "
            f"(m = {m} output{'s' * (m != 1)})."
        ),
    }


def _text(ex: Explanation, ascii_only: bool) -> str:
    s = _sections(ex, ascii_only)
    rows = _decomposition_rows(ex)
    ops = [r for r in rows if r[1] is not None]
    lw = max(len(r[0]) for r in ops)
    ew = max(len(r[1]) for r in ops)
    hw = max(len(r[2]) for r in ops)
    vw = max(len(r[3]) for r in ops)
    lines = [_headline(ex), "", "The decomposition, one primitive per line, with its values"]
    for left, expr, name, value, where in rows:
        if expr is None:
            lines.append(f"    {left}")
        else:
            lines.append(
                f"    {left.ljust(lw)} = {expr.ljust(ew)}   {name.ljust(hw)}   {value.rjust(vw)}   {where}".rstrip()
            )
    lines.append(f"    return {ex.trace.ret_expr}: {_outputs_line(ex)}")
    for key in ("forward", "reverse", "jacobian"):
        head, body = s[key]
        lines += ["", s[key + "_title"], *_align(head, [[label, *cells] for label, cells in body])]
    lines += ["", s["count"]]
    return "\n".join(lines) + "\n"


def _md_table(head: list, rows: list) -> list:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    out = ["| " + " | ".join(cell(h) for h in head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows]
    return out


def _markdown(ex: Explanation, ascii_only: bool) -> str:
    s = _sections(ex, ascii_only)
    lines = [f"**{_headline(ex)}**", "", "The decomposition, one primitive per line, with its values:", ""]
    body = []
    for left, expr, name, value, where in _decomposition_rows(ex):
        if expr is None:
            body.append([f"*{left}*", "", "", "", ""])
        else:
            body.append([left, f"`{expr}`", name, value, where])
    body.append(["return", f"`{ex.trace.ret_expr}`", _outputs_line(ex), "", ""])
    lines += _md_table(["", "operation", "name", "value", "source"], body)
    for key in ("forward", "reverse", "jacobian"):
        head, rows = s[key]
        lines += [
            "",
            s[key + "_title"].replace("\n", " ") + ":",
            "",
            *_md_table(head, [[label, *cells] for label, cells in rows]),
        ]
    lines += ["", s["count"]]
    return "\n".join(lines) + "\n"
