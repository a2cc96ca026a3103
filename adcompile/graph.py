"""The computation graph of one run, as Graphviz DOT: ``adcompile graph``.

Each value of the trace (:mod:`adcompile.explain`) is a node showing its textbook name, the operation that made it,
its value and its adjoint ∂y/∂u for one output y. Each edge uⱼ → uᵢ is labelled with the local derivative ∂uᵢ/∂uⱼ
(the vjp rule applied to an adjoint of 1), and optionally with the rule's expression. A value used twice has two
outgoing edges, and its adjoint is printed as the sum of the two contributions that reach it back along them:

>>> def e(a, b):
...     c = a + b
...     d = b + 1
...     return c * d
>>> dot = to_dot(e, (2.0, 1.0))
>>> "∂e/∂u₀ = 2 + 3 = 5" in dot     # b fans out into c and d: ∂e/∂b = d + c
True
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess

from .explain import Trace, local_derivative, number_text, reverse_sweeps, trace


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(fun, args: tuple, output: int = 0, rules: bool = False, ascii_only: bool = False) -> str:
    """DOT source of ``fun``'s computation graph at ``args``, with the adjoints of output number ``output``
    (0-based); with ``rules``, each edge also shows the rule's expression for its local derivative."""
    tr = trace(fun, args, ascii_only)
    m = len(tr.outputs)
    if not 0 <= output < m:
        raise ValueError(
            f"{tr.name}() has {m} output{'s' * (m != 1)}; choose one with --output K, K from 1 to {m}"
            if m > 1
            else f"{tr.name}() has one output; --output must be 1"
        )
    table, parts = reverse_sweeps(tr, contributions=True)
    terms = parts[output]
    y = tr.output_names[output]
    d = "d" if ascii_only else "∂"
    shown = [k for k, n in enumerate(tr.nodes) if n.real]
    ids = {k: f"n{i}" for i, k in enumerate(shown)}
    lines = [
        f"digraph {_quote(tr.name)} {{",
        "    rankdir=LR;",
        '    node [shape=box, style=rounded, fontname="Helvetica"];',
        '    edge [fontname="Helvetica", fontsize=11];',
    ]
    outputs = {k for k in tr.outputs if k is not None}
    for k in shown:
        node = tr.nodes[k]
        if node.kind == "input":
            head = f"{node.label} = {node.expr}"
        else:
            head = f"{node.label} = {node.expr}" + (f"   ({node.hint})" if node.hint else "")
        value = f"{node.hint or (node.expr if node.kind == 'input' else 'value')} = {number_text(node.value)}"
        adj = f"{d}{y}/{d}{node.label} = "
        contributions = sorted(terms.get(k, []), key=lambda t: t[0])  # in the order of the uses
        if len(contributions) > 1:
            adj += " + ".join(number_text(c) for _, c in contributions) + " = "
        adj += number_text(table[k][output])
        label = "\n".join([head, value, adj])
        attrs = [f"label={_quote(label)}"]
        if node.kind == "input":
            attrs.append("shape=ellipse")
        if k == tr.outputs[output]:
            attrs.append("peripheries=2")
            label += f"\noutput {y}"
            attrs[0] = f"label={_quote(label)}"
        elif k in outputs:
            attrs.append("peripheries=2")
        lines.append(f"    {ids[k]} [{', '.join(attrs)}];")
    for k in shown:
        node = tr.nodes[k]
        for i, p in node.parents:
            if p not in ids or not tr.nodes[p].active or not node.active:
                continue
            text = number_text(local_derivative(tr, k, i))
            if rules:
                rule = _rule_text(tr, k, i, ascii_only)
                if rule and rule != text:
                    text = f"{rule} = {text}"
            lines.append(f"    {ids[p]} -> {ids[k]} [label={_quote(text)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


class _Substitute(ast.NodeTransformer):
    """A rule's expression for ∂uᵢ/∂(argument): the adjoint ``g`` set to 1 and the parameters renamed to the
    values' textbook names; ``unbroadcast(v, x)`` (a no-op for numbers) and factors of 1 dropped."""

    def __init__(self, names: dict):
        self.names = names

    def visit_Name(self, node):
        if node.id == "g":
            return ast.Constant(1)
        if node.id in self.names:
            return ast.Name(self.names[node.id])
        return node

    def visit_Call(self, node):
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id == "unbroadcast" and node.args:
            return node.args[0]
        return node

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
            return ast.Constant(-node.operand.value)
        return node

    def visit_BinOp(self, node):
        self.generic_visit(node)
        one = _is_const(node.right, 1)
        if isinstance(node.op, ast.Mult):
            if _is_const(node.left, 1):
                return node.right
            if one:
                return node.left
            if _is_const(node.left, -1):
                return ast.UnaryOp(ast.USub(), node.right)
        if isinstance(node.op, ast.Div) and one:
            return node.left
        return node


def _is_const(node, value) -> bool:
    return isinstance(node, ast.Constant) and not isinstance(node.value, bool) and node.value == value


def _rule_text(tr: Trace, k: int, i: int, ascii_only: bool) -> str | None:
    """The symbolic local derivative of node ``k`` with respect to its argument ``i``, from the rule's source."""
    node = tr.nodes[k]
    if node.kind == "phi":
        return None
    prim = node.prim
    kind = "jvp" if prim.jvp is not None else "vjp"
    try:
        t = prim.template(kind)
    except Exception:
        return None
    if i >= len(t.outputs) or t.outputs[i] is None or t.body:
        return None
    names = {"ans": node.label}
    parents = dict(node.parents)
    for pos, param in enumerate(t.params[2:]):
        if pos in parents:
            names[param] = tr.nodes[parents[pos]].label
        elif pos < len(node.args):
            names[param] = number_text(node.args[pos])
    expr = _Substitute(names).visit(ast.parse(ast.unparse(t.outputs[i]), mode="eval"))
    text = ast.unparse(expr)
    return text.replace("*", "·") if not ascii_only else text


def render(dot_source: str, path: str) -> tuple[str, str]:
    """Write the graph to ``path``: DOT for ``.dot`` (or ``.gv``), otherwise drawn by Graphviz's ``dot`` in the
    format of the extension (``.svg``, ``.png``, ``.pdf``).

    Returns ``(written, message)``. When ``dot`` is not installed, the DOT source goes next to ``path`` (same name,
    ``.dot``) and ``message`` says how to draw it.
    """
    root, ext = os.path.splitext(path)
    fmt = ext.lstrip(".").lower()
    if fmt in ("dot", "gv", ""):
        with open(path, "w", encoding="utf-8") as f:
            f.write(dot_source)
        return path, f"wrote {path}"
    dot = shutil.which("dot")
    if dot is None:
        fallback = root + ".dot"
        with open(fallback, "w", encoding="utf-8") as f:
            f.write(dot_source)
        return fallback, (
            f"Graphviz's dot program is not installed, so {path} was not drawn; wrote the graph to {fallback}. "
            f"Draw it with: dot -T{fmt} {fallback} -o {path} (Graphviz: apt-get install graphviz, brew install "
            "graphviz, or https://graphviz.org/download/)"
        )
    run = subprocess.run([dot, f"-T{fmt}", "-o", path], input=dot_source.encode("utf-8"), capture_output=True)
    if run.returncode != 0:
        raise ValueError(f"dot could not draw {path}: {run.stderr.decode(errors='replace').strip()}")
    return path, f"wrote {path}"
