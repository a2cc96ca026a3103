"""Code generation: SSA IR to Python source, and source to a live function.

Each statement becomes one ``ast.Assign`` whose right-hand side is one primitive applied to names and literals,
printed with :func:`ast.unparse`; a temporary number used once, by a statement of the same source line, is written
into that statement's expression instead, and so is an adjoint's partial sum used only by the next contribution's
statement (see :func:`_fused`). Statements are grouped under a comment naming the source line they come from.

Naming is deterministic: parameters keep their names; a variable takes its hint (``y1``, ``by1``) unless the name is
still held by a variable that is used later, in which case it gets ``y1_2``; temporaries are ``_t1, _t2, ...`` in
order. Because a name is reused only once its previous holder is dead, SSA versions of one adjoint print as
``bx = bx + c``. In code specialised to large arrays, each temporary array is released with ``del`` right after
its last use: otherwise every intermediate would stay alive until the function returns.
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import keyword
import linecache
import math
import operator
import os

import numpy as np

from .inplace import ACCUMULATE_IN_PLACE, ADD_AT_IN_PLACE, APPEND_IN_PLACE, IN_PLACE, SET_IN_PLACE
from .ir import Assign, Break, For, Function, Global, If, Index, Pack, Pop, Push, Slice, Var, walk
from .primitives import BINOPS, COMPARES, UNARYOPS
from .runtime import new_list, new_tuple
from .simplify import ZEROS_OF_ARRAY

getitem = operator.getitem

_ROOTS = {"np": np, "math": math}


class _Namespace:
    """The generated module's globals: module roots, helpers, and objects from the user's environment."""

    def __init__(self):
        self.globals: dict = {}

    def bind(self, preferred: str, obj) -> str:
        name = preferred
        k = 1
        while name in self.globals and self.globals[name] is not obj:
            k += 1
            name = f"{preferred}_{k}"
        self.globals[name] = obj
        return name


def _events(body, out: list) -> list:
    """The statements of ``body`` in execution-text order, branches as markers around their bodies."""
    for st in body:
        if isinstance(st, If):
            out.append(("if", st))
            _events(st.then, out)
            out.append(("then_end", st))
            out.append(("else", st))
            _events(st.orelse, out)
            out.append(("else_end", st))
        elif isinstance(st, For):
            out.append(("for_init", st))
            out.append(("for", st))
            _events(st.body, out)
            out.append(("for_end", st))
        elif isinstance(st, Push):
            out.append(("push", st))
        elif isinstance(st, Pop):
            out.append(("pop", st))
        elif isinstance(st, Break):
            out.append(("break", st))
        else:
            out.append(("assign", st))
    return out


def _uses(kind, st) -> list:
    if kind == "assign" or kind == "if":
        return list(st.operands())
    if kind == "then_end":
        return [j[1] for j in st.joins]
    if kind == "else_end":
        return [j[2] for j in st.joins]
    if kind == "for_init":
        return [c[1] for c in st.carried]
    if kind == "for":
        return list(st.bounds or ())
    if kind == "break":
        return [st.test]
    if kind == "for_end":
        return [c[2] for c in st.carried]
    if kind in ("push", "pop"):
        return list(st.operands())
    return []


def generate(fn: Function) -> tuple[str, dict]:
    """Python source for ``fn`` and the globals it needs."""
    events = _events(fn.body, [])
    ns = _Namespace()
    callee: dict = {}  # primitive -> ast expression of the callable
    for st in walk(fn.body):
        if isinstance(st, Assign) and st.prim in IN_PLACE:
            ns.bind("np", np)
        elif (
            isinstance(st, Assign)
            and st.prim not in callee
            and st.prim.op_node is None
            and st.prim.fn is not getitem
            and st.prim.item is None
            and st.prim.fn not in (new_list, new_tuple)
        ):
            callee[st.prim] = _callee_ast(st.prim, ns)
    glob_names = {}
    for kind, st in [*events, ("return", fn.ret)]:
        for op in fn.ret.operands() if kind == "return" else _uses(kind, st):
            if isinstance(op, Global) and id(op.value) not in glob_names:
                glob_names[id(op.value)] = ns.bind(op.name, op.value)
    fused = _fused(events, fn)
    if fused:
        events = [(kind, st) for kind, st in events if not (kind == "assign" and st.target in fused)]
    last_use = _last_uses(events, fn.ret, fused)
    names = _name_vars(fn, events, set(ns.globals) | set(dir(builtins)), last_use)
    dying: dict = {}  # event index -> arrays to release after it
    returned = set(fn.ret.operands())
    for v in fn.release:
        if v in last_use and v not in returned and events[last_use[v]][0] == "assign":
            dying.setdefault(last_use[v], []).append(v)

    def operand(op) -> ast.expr:
        if isinstance(op, Var):
            return _expression(fused[op], operand, callee) if op in fused else ast.Name(names[op])
        if isinstance(op, Global):
            return ast.Name(glob_names[id(op.value)])
        if isinstance(op, Index):
            return _index_value(op, operand)
        if isinstance(op, Pack):
            items = [operand(item) for item in op.items]
            return ast.List(items) if op.kind == "list" else ast.Tuple(items)
        return _literal(op.value)

    lines = [f"def {fn.name}({_signature(fn, names)}):"]
    group = None
    holder: dict = {}  # name -> variable it holds now
    depth = 1
    opened: list = []  # for each open branch body: the index in lines where it starts

    def put(text: str):
        lines.append("    " * depth + text)

    def parallel(pairs) -> None:
        """Assign several variables at once (a loop's carried values may swap): one tuple assignment."""
        pairs = [(t, v) for t, v in pairs if not (isinstance(v, Var) and names[v] == names[t])]
        if len(pairs) == 1:
            assign(*pairs[0])
        elif pairs:
            put(f"{', '.join(names[t] for t, _ in pairs)} = {', '.join(_text(operand(v)) for _, v in pairs)}")

    def assign(target: Var, value) -> None:
        if not (isinstance(value, Var) and names[value] == names[target]):
            put(f"{names[target]} = {_text(operand(value))}")
        holder[names[target]] = target

    for i, (kind, st) in enumerate(events):
        if kind == "assign" or kind == "if":
            if st.loc is not None and (st.sweep, st.loc.line, st.loc.filename) != group:
                group = (st.sweep, st.loc.line, st.loc.filename)
                put(_comment(st, fn.filename))
        if kind == "assign" and st.prim in IN_PLACE:
            put(_in_place(st, operand))
            holder[names[st.target]] = st.target
        elif kind == "assign":
            rhs = _expression(st, operand, callee)
            put(f"{names[st.target]} = {_text(rhs)}")
            holder[names[st.target]] = st.target
            free = sorted(names[v] for v in dying.get(i, ()) if holder.get(names[v]) is v)
            if free:  # a large array is freed at its last use, so NumPy can reuse its memory
                put(f"del {', '.join(free)}")
        elif kind == "if":
            put(f"if {_text(operand(st.test))}:")
            depth += 1
            opened.append(len(lines))
        elif kind in ("then_end", "else_end"):
            side = 1 if kind == "then_end" else 2
            for join in st.joins:
                assign(join[0], join[side])
            if len(lines) == opened.pop():
                put("pass")
            depth -= 1
            group = None
        elif kind == "else":
            put("else:")
            depth += 1
            opened.append(len(lines))
        elif kind == "for_init":
            parallel([(c[0], c[1]) for c in st.carried])
        elif kind == "for":
            if st.loc is not None and (st.sweep, st.loc.line, st.loc.filename) != group:
                group = (st.sweep, st.loc.line, st.loc.filename)
                put(_comment(st, fn.filename))
            if st.index is None:
                put("while True:")
            else:
                bounds = ast.unparse(ast.Call(ast.Name("range"), [operand(o) for o in st.bounds], []))
                put(f"for {names[st.index]} in {'reversed(' + bounds + ')' if st.reverse else bounds}:")
            depth += 1
            opened.append(len(lines))
        elif kind == "for_end":
            parallel([(c[0], c[2]) for c in st.carried])
            holder.update((names[c[0]], c[0]) for c in st.carried)  # after the loop, each name holds its φ
            if len(lines) == opened.pop():
                put("pass")
            depth -= 1
            group = None
        elif kind == "break":
            put(f"if not {_text(operand(st.test))}:")
            put("    break")
        elif kind == "push":
            values = ", ".join(_text(operand(v)) for v in st.values)
            put(f"{names[st.tape]}.append({values if len(st.values) == 1 else '(' + values + ')'})")
        elif kind == "pop":
            put(f"{', '.join(names[v] for v in st.targets)} = {names[st.tape]}.pop()")

    def structure(value) -> ast.expr:
        return ast.Tuple([structure(v) for v in value]) if isinstance(value, tuple) else operand(value)

    lines.append("    " + ast.unparse(ast.Return(structure(fn.ret.value))))
    return "\n".join(lines) + "\n", ns.globals


def compile_function(fn: Function, source: str, namespace: dict, label: str):
    """Compile ``source`` under a descriptive file name registered in linecache, and return the function."""
    digest = hashlib.sha1(source.encode()).hexdigest()[:10]
    filename = f"<adcompile {label} {digest}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    code = compile(source, filename, "exec")
    scope = dict(namespace)
    exec(code, scope)
    return scope[fn.name]


def _callee_ast(prim, ns: _Namespace) -> ast.expr:
    path = prim.path()
    if path is None:
        name = prim.name if prim.name.isidentifier() else "primitive"
        return ast.Name(ns.bind(name, prim.fn))
    root, *rest = path.split(".")
    if root in _ROOTS:
        node: ast.expr = ast.Name(ns.bind(root, _ROOTS[root]))
    else:  # a builtin such as abs
        node = ast.Name(ns.bind(root, getattr(builtins, root)))
    for attr in rest:
        node = ast.Attribute(node, attr)
    return node


def _subscript(index, operand) -> ast.expr:
    """The text between the brackets of ``x[...]``."""
    if not isinstance(index, Index):  # an index computed at run time
        return operand(index)
    items = []
    for item in index.items:
        if isinstance(item, Slice):
            parts = [None if p is None else operand(p) for p in (item.lower, item.upper, item.step)]
            items.append(ast.Slice(*parts))
        else:
            items.append(operand(item))
    return items[0] if len(items) == 1 else ast.Tuple(items)


def _index_value(index, operand) -> ast.expr:
    """The subscript as a value passed to a function: slices as ``slice(...)`` calls."""
    if not isinstance(index, Index):
        return operand(index)
    items = []
    for item in index.items:
        if isinstance(item, Slice):
            parts = [ast.Constant(None) if p is None else operand(p) for p in (item.lower, item.upper, item.step)]
            if item.step is None:
                parts.pop()
            items.append(ast.Call(ast.Name("slice"), parts, []))
        else:
            items.append(operand(item))
    return items[0] if len(items) == 1 else ast.Tuple(items)


_SYMBOLS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**", ast.FloorDiv: "//", ast.Mod: "%"}
_SYMBOLS[ast.MatMult] = "@"


def _text(node: ast.expr) -> str:
    """``ast.unparse(node)``, written directly for the common shapes (an operator or a call on names and
    non-negative numbers), which ``ast.unparse`` makes slowly: most of code generation's time went to it."""
    return _simple(node) or ast.unparse(node)


def _simple(node) -> str | None:
    """The text of a name, a non-negative number, or an operator or call on those; None for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Constant):
        v = node.value
        ok = type(v) in (int, float) and v >= 0 and v != float("inf")
        return repr(v) if ok else None
    if isinstance(node, ast.Attribute):
        base = _simple(node.value) if isinstance(node.value, (ast.Name, ast.Attribute)) else None
        return f"{base}.{node.attr}" if base else None
    if isinstance(node, ast.BinOp) and type(node.op) in _SYMBOLS:
        left, right = _simple_operand(node.left), _simple_operand(node.right)
        return f"{left} {_SYMBOLS[type(node.op)]} {right}" if left and right else None
    if isinstance(node, ast.Call):
        parts = [_simple_operand(a) for a in node.args]
        for k in node.keywords:
            value = _simple_operand(k.value)
            parts.append(f"{k.arg}={value}" if k.arg and value else None)
        func = _simple(node.func) if isinstance(node.func, (ast.Name, ast.Attribute)) else None
        return f"{func}({', '.join(parts)})" if func and all(parts) else None
    return None


def _simple_operand(node) -> str | None:
    return _simple(node) if isinstance(node, (ast.Name, ast.Constant)) else None


def _in_place(st: Assign, operand) -> str:
    """``y[i] = v``, ``y[i] += v``, ``np.add.at(y, idx, v)`` or ``xs.append(v)``: the target takes the written
    array's (or list's) name."""
    if st.prim is APPEND_IN_PLACE:
        xs, value = st.args
        return ast.unparse(ast.Call(ast.Attribute(operand(xs), "append"), [operand(value)], []))
    if st.prim is ACCUMULATE_IN_PLACE:
        return ast.unparse(ast.AugAssign(operand(st.args[0]), ast.Add(), operand(st.args[1])))
    array, index, value = st.args
    if st.prim is ADD_AT_IN_PLACE:
        return ast.unparse(ast.Call(ast.Attribute(ast.Attribute(ast.Name("np"), "add"), "at"),
                                    [operand(array), _index_value(index, operand), operand(value)], []))
    place = ast.Subscript(operand(array), _subscript(index, operand))
    if st.prim is SET_IN_PLACE:
        return ast.unparse(ast.Assign([place], operand(value), lineno=0))
    return ast.unparse(ast.AugAssign(place, ast.Add(), operand(value)))


def _expression(st: Assign, operand, callee) -> ast.expr:
    if st.prim.fn is operator.getitem:
        return ast.Subscript(operand(st.args[0]), _subscript(st.args[1], operand))
    if st.prim.fn in (new_list, new_tuple):  # a list or tuple display: [a, b], (n, m)
        return operand(st.args[0])
    if st.prim.item is not None:  # one output of a function returning several
        item = st.prim.item if isinstance(st.prim.item, int) else dict(st.kwargs)[st.prim.item].value
        return ast.Subscript(operand(st.args[-1]), ast.Constant(item))
    args = [operand(a) for a in st.args]
    if st.prim is ZEROS_OF_ARRAY:  # np.zeros(x.shape, x.dtype)
        shape, dtype = (ast.Attribute(args[0], attr) for attr in ("shape", "dtype"))
        return ast.Call(ast.Attribute(ast.Name("np"), "zeros"), [shape, dtype], [])
    node = st.prim.op_node
    if node in BINOPS:
        return ast.BinOp(args[0], node(), args[1])
    if node in UNARYOPS:
        return ast.UnaryOp(node(), args[0])
    if node in COMPARES:
        return ast.Compare(args[0], [node()], [args[1]])
    keywords = [ast.keyword(k, operand(v)) for k, v in st.kwargs]
    return ast.Call(callee[st.prim], args, keywords)


def _literal(value) -> ast.expr:
    """A literal; negative numbers as unary minus so that ``(-1) ** 2`` is printed with its parentheses."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and (value < 0 or str(value)[0] == "-"):
        return ast.UnaryOp(ast.USub(), ast.Constant(-value))
    if isinstance(value, tuple):
        return ast.Tuple([_literal(v) for v in value])
    return ast.Constant(value)


def _comment(st: Assign, filename: str) -> str:
    text = st.loc.source_line().strip()
    where = (
        f"line {st.loc.line}" if st.loc.filename == filename else f"{os.path.basename(st.loc.filename)}:{st.loc.line}"
    )
    if st.loc.function:
        where += f", in {st.loc.function}"
    return f"# {where}: {text}" if st.sweep == "forward" else f"# adjoint of {where}: {text}"


def _signature(fn: Function, names: dict) -> str:
    parts = [names[p] for p in fn.params]
    if fn.kwonly:
        parts += ["*", *(names[p] for p in fn.kwonly)]
    return ", ".join(parts)


def _fused(events, fn: Function) -> dict:
    """Temporary -> its statement, for each number computed for one later statement of the same source line's
    group: that statement uses the expression itself (``u = x + 0.1 * math.sin(y)``), as a person would write it,
    and Python does not store and reload the value. An adjoint's partial sum used only by the statement adding the
    next contribution joins it in any later group of the reverse sweep (``bz = (x + x) * z + _t13 - ba / _t2``).
    Only pure operations (operators, ``math``/NumPy functions) are moved, and only where what they read is still
    alive, under the same names, where they are used."""
    if not fn.scalars:
        return {}
    last_use = _last_uses(events, fn.ret)
    uses: dict = {}  # variable -> the events reading it
    for i, (kind, st) in enumerate(events):
        for op in _uses(kind, st):
            if isinstance(op, Var):
                uses.setdefault(op, []).append(i)
    for op in fn.ret.operands():
        if isinstance(op, Var):
            uses.setdefault(op, []).append(len(events))
    fused: dict = {}
    leaves: dict = {}  # fused variable -> the variables its whole expression reads
    for i, (kind, st) in enumerate(events):
        reverse = st.sweep == "reverse"
        if not (kind == "assign" and _movable(st) and st.target in fn.scalars and (reverse or not st.target.hint)):
            continue
        at = uses.get(st.target, [])
        if len(at) != 1 or at[0] >= len(events) or events[at[0]][0] != "assign":
            continue
        j = at[0]
        user = events[j][1]
        between = [events[k] for k in range(i + 1, j)]
        if any(kind != "assign" or s2.prim in IN_PLACE for kind, s2 in between):
            continue  # a write in place in between may change what it reads (the old value lives on elsewhere)
        # an adjoint's partial sum (bx = bx + ...) joins the statement adding the next contribution, wherever that
        # is in the reverse sweep; temporaries stay in their source line's group, which the display keeps apart
        chained = reverse and bool(st.target.hint) and user.sweep == "reverse"
        if _group(user) != _group(st) and not chained:
            continue
        reads = set()
        for op in st.operands():
            if isinstance(op, Var):
                reads |= leaves.get(op, {op})
        # what it reads still has its name at the use: it is alive there, or nothing is assigned in between, or
        # (in the reverse sweep) names are given with what it reads alive up to its use (_last_uses with fused)
        if (
            chained
            or all(last_use.get(v, -1) >= j for v in reads)
            or not any(_defines(*events[k]) for k in range(i + 1, j))
        ):
            fused[st.target], leaves[st.target] = st, reads
    return fused


def _movable(st: Assign) -> bool:
    if st.prim in IN_PLACE or st.prim is ZEROS_OF_ARRAY or st.prim.fresh or st.prim.effect or st.kwargs:
        return False
    if st.prim.op_node in BINOPS or st.prim.op_node in UNARYOPS:
        return True
    path = st.prim.path() or ""
    return path.startswith(("math.", "np.")) and all(not isinstance(a, (Index, Pack)) for a in st.args)


def _group(st: Assign) -> tuple:
    return (st.sweep, st.loc.line, st.loc.filename) if st.loc else (st.sweep,)


def _last_uses(events, ret, fused: dict | None = None) -> dict:
    """Variable -> index of the last event that reads it (the return counts as index len(events)). A statement
    reading a fused variable (see :func:`_fused`) reads what its expression reads."""
    last_use: dict = {}
    for i, (kind, st) in enumerate(events):
        for op in _expanded(_uses(kind, st), fused):
            if isinstance(op, Var):
                last_use[op] = i
    for op in _expanded(ret.operands(), fused):
        if isinstance(op, Var):
            last_use[op] = len(events)
    # a value from before a loop that the loop reads is needed again by the next iteration: alive to the loop's end
    first_def: dict = {}
    for i, (kind, st) in enumerate(events):
        for v in _defines(kind, st):
            first_def.setdefault(v, i)
    heads = [i for i, (kind, _) in enumerate(events) if kind == "for"]
    for head in heads:
        end = next(k for k in range(head, len(events)) if events[k][0] == "for_end" and events[k][1] is events[head][1])
        for k in range(head, end + 1):
            for op in _expanded(_uses(*events[k]), fused):
                if isinstance(op, Var) and first_def.get(op, -1) < head:
                    last_use[op] = max(last_use[op], end)
    return last_use


def _expanded(operands, fused: dict | None):
    """The operands, each fused variable among them followed by what its expression reads, recursively."""
    if not fused:
        return operands
    out = []
    for op in operands:
        out.append(op)
        if op in fused:
            out.extend(_expanded(list(fused[op].operands()), fused))
    return out


def _defines(kind, st) -> list:
    if kind == "assign":
        return [st.target]
    if kind == "then_end":
        return [j[0] for j in st.joins]
    if kind == "for_init":
        return [c[0] for c in st.carried]
    if kind == "for":
        return [st.index] if st.index is not None else []
    if kind == "pop":
        return list(st.targets)
    return []


def _taken_on_the_else_path(st: If, events, i: int, names: dict, last_use: dict) -> list:
    """(name, variable) for each value that the else path of ``st`` (whose then path ends at event ``i``) writes
    in place into an array named before the branch, and that is still used after the branch: it will hold that
    name then, whatever the joins are called."""
    end = next(k for k in range(i, len(events)) if events[k][0] == "else_end" and events[k][1] is st)
    source: dict = {}  # an in-place write's result -> the array it was written into
    out = []
    for kind, s2 in events[i + 1 : end]:
        if kind == "assign" and s2.prim in IN_PLACE:
            source[s2.target] = s2.args[0]
            root = s2.args[0]
            while root not in names and root in source:
                root = source[root]
            if root in names and last_use.get(s2.target, -1) > end:
                out.append((names[root], s2.target))
    return out


def _name_vars(fn: Function, events, reserved: set, last_use: dict) -> dict:
    """Deterministic Python names for every variable (see the module docstring)."""
    names: dict = {}
    holder: dict = {}  # name -> variable currently holding it
    for p in fn.params + fn.kwonly:
        names[p] = p.hint
        holder[p.hint] = p
    temp = 0
    # an unnamed array made only to be written into in place takes the name of what the writes make (bx)
    written = {st.args[0]: st.target for kind, st in events if kind == "assign" and st.prim in IN_PLACE}
    hints = {}
    for v in written:
        target = written[v]
        while not target.hint and target in written:
            target = written[target]
        hints[v] = v.hint or target.hint

    def free(name: str, v: Var, i: int, own: dict | None) -> bool:
        """Whether ``v`` (defined at event ``i``) may take ``name``: its holder is dead, or is last read right here
        (by the statement that defines ``v``; at a branch's end, only as ``v``'s own value)."""
        h = holder.get(name)
        if h is None or last_use.get(h, -1) < i:
            return True
        return last_use.get(h) == i and (own is None or own.get(v) is h)

    for i, (kind, st) in enumerate(events):
        if kind == "assign" and st.prim in IN_PLACE:  # the array written into, under its own name
            name = names[st.target] = names[st.args[0]]
            # the name stays taken while any variable it names is used: a loop's carried array outlives the
            # writes inside the loop that share its name
            if last_use.get(st.target, -1) >= last_use.get(holder.get(name), -1):
                holder[name] = st.target
            continue
        taken, own_else = [], {}
        if kind == "assign":
            targets, own = [st.target], None
        elif kind in ("for", "pop"):
            targets, own = [v for v in _defines(kind, st) if v not in names], None
        elif kind == "for_init":
            inits = [c[1] for c in st.carried]
            targets = [c[0] for c in st.carried]
            own = {c[0]: c[1] for c in st.carried if isinstance(c[1], Var) and inits.count(c[1]) == 1}
        elif kind == "then_end":
            # the joins are assigned one after the other at the end of the then path: a join may take over the
            # name of its own value (then nothing is written), never that of a value another join still reads
            values = [j[1] for j in st.joins]
            targets = [j[0] for j in st.joins]
            own = {j[0]: j[1] for j in st.joins if isinstance(j[1], Var) and values.count(j[1]) == 1}
            # nor a name the else path writes into in place for a value that outlives the branch (the join,
            # assigned at the end of that path, would overwrite it), unless that value is the join's own
            taken = _taken_on_the_else_path(st, events, i, names, last_use)
            own_else = {j[0]: j[2] for j in st.joins}
        else:
            continue

        for v in targets:
            x = own.get(v) if own else None
            if v in names:
                continue
            hint = hints.get(v, v.hint)
            clash = {n for n, w in taken if w is not own_else.get(v)}
            if not hint and x is not None and x in names and last_use.get(x) == i and names[x] not in clash:
                candidate = names[x]  # the then path's temporary ends here: the join takes over its name
            elif not hint:
                temp += 1
                candidate = f"_t{temp}"
                while candidate in reserved or candidate in holder or candidate in clash:
                    temp += 1
                    candidate = f"_t{temp}"
            else:
                base = hint
                candidate, k = base, 1
                while (
                    candidate in reserved
                    or keyword.iskeyword(candidate)
                    or not free(candidate, v, i, own)
                    or candidate in clash
                ):
                    k += 1
                    candidate = f"{base}_{k}"
            names[v] = candidate
            holder[candidate] = v
    return names
