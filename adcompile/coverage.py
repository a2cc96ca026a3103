"""What adcompile differentiates, as a table written from the registry of primitives to ``docs/coverage.md``.

The table is made from the registry alone, so rules registered anywhere in the package appear once it is imported.
Regenerate it after adding rules (``tests/test_coverage.py`` fails until you do)::

    python -m adcompile.coverage            # rewrite docs/coverage.md
    python -m adcompile.coverage --check    # exit 1 if docs/coverage.md is out of date

>>> row = next(r for r in rows() if r.name == "np.sin")
>>> row.family, row.reverse, row.forward
('elementwise', True, True)
"""

from __future__ import annotations

import argparse
import builtins
import sys
from dataclasses import dataclass
from pathlib import Path

from . import avals as A
from . import runtime
from .primitives import _REGISTRY, BINOPS, COMPARES, UNARYOPS, Primitive, load_optional_rules, lookup

DOC = Path(__file__).resolve().parent.parent / "docs" / "coverage.md"

# Families, in the order the table lists them.
FAMILIES = (
    "operator", "builtin", "math", "elementwise", "reduction", "scan", "shape", "test", "shape query", "helper"
)  # fmt: skip
_REDUCTIONS = (A.reduction, A.reduction_float, A.reduction_same_kind)
_SHAPE_QUERIES = ("np.shape", "np.size", "np.ndim", "len")


@dataclass(frozen=True)
class Row:
    name: str  # how code names it: np.sin, math.log, x + y, adcompile.runtime.unbroadcast
    family: str
    reverse: bool  # has a vjp rule
    forward: bool  # has a jvp rule
    differentiable: bool  # False: its result is a constant to the sweep (a step, a test, a shape query)

    @property
    def numpy(self) -> bool:
        return self.name.startswith("np.")


def _outputs() -> dict:
    """Each output primitive of a function returning several arrays -> ``np.linalg.eigh (eigenvalues)``."""
    from .rules_multi import MULTIPLE

    out = {}
    for fn, (outputs, fields) in MULTIPLE.items():
        base = lookup(fn).path()
        for k, o in enumerate(outputs):
            out[o] = f"{base} ({fields[k] if fields else f'output {k}'})"
    return out


def _name(prim: Primitive) -> str:
    outputs = _outputs()
    if prim.fn in outputs:
        return outputs[prim.fn]
    node = prim.op_node
    if node is not None:
        sym = {**BINOPS, **UNARYOPS, **COMPARES}[node][2]
        text = f"{sym}x" if node in UNARYOPS else f"x {sym} y"
        return f"`{text}` (operator.{prim.fn.__name__})"
    if getattr(prim.fn, "__module__", None) == runtime.__name__:
        return f"{runtime.__name__}.{prim.fn.__name__}"
    path = prim.path()
    if path is not None:
        return path
    special = sys.modules.get("scipy.special")
    if special is not None and getattr(special, getattr(prim.fn, "__name__", ""), None) is prim.fn:
        return f"scipy.special.{prim.fn.__name__}"
    return f"{getattr(prim.fn, '__module__', '?')}.{getattr(prim.fn, '__qualname__', prim.name)}"


def _family(prim: Primitive, name: str) -> str:
    if prim.op_node is not None:
        return "operator"
    if name.startswith(runtime.__name__):
        return "helper"
    if name in _SHAPE_QUERIES:
        return "shape query"
    if name.startswith("math."):
        return "math"
    if getattr(builtins, name, None) is prim.fn:
        return "builtin"
    if prim.shape_rule in _REDUCTIONS:
        return "reduction"
    if prim.shape_rule is A.scan:
        return "scan"
    if prim.shape_rule is A.elementwise_bool:
        return "test"
    return "elementwise"


def rows() -> list[Row]:
    """One row per primitive with a rule or marked non-differentiable, by family and then by name."""
    from .rules_multi import MULTIPLE
    from .rules_shape import PACKING, SPLITTING, split_part

    out = []
    load_optional_rules()
    for prim in _REGISTRY.values():
        if prim.fn in SPLITTING:  # its parts are split_part, whose rules say it
            part = lookup(split_part)
            out.append(Row(_name(prim), "shape", part.vjp is not None, part.jvp is not None, True))
            continue
        if prim.fn in PACKING:  # joins a list of values: each gets its part of the adjoint (reverse.py)
            out.append(Row(_name(prim), "shape", True, prim.jvp is not None, True))
            continue
        if prim.vjp is None and prim.jvp is None and prim.differentiable:
            continue  # registered in passing (a callable looked up by the builder), with nothing to say about it
        if prim.fn in MULTIPLE:
            continue  # a function returning several arrays: its outputs are listed, each with its own rules
        name = _name(prim)
        family = _family(prim, name)
        out.append(Row(name, family, prim.vjp is not None, prim.jvp is not None, prim.differentiable))
    return sorted(out, key=lambda r: (FAMILIES.index(r.family), r.name.strip("`").lower(), r.name))


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def render() -> str:
    """The text of docs/coverage.md."""
    table = rows()
    differentiable = [r for r in table if r.differentiable]
    # a function returning several arrays counts once (np.linalg.eigh (eigenvalues), ... (eigenvectors))
    reverse = len({r.name.split(" (")[0] for r in differentiable if r.reverse and r.numpy})
    forward = len({r.name.split(" (")[0] for r in differentiable if r.forward and r.numpy})
    lines = [
        "# What adcompile differentiates",
        "",
        "<!-- Generated by `python -m adcompile.coverage` from the registry of primitives; do not edit by hand. -->",
        "",
        f"{reverse} NumPy names with reverse rules, {forward} with forward rules; "
        f"{len(differentiable)} differentiable primitives in all, and {len(table) - len(differentiable)} "
        "whose derivative is zero.",
        "",
        "Names are those of the objects themselves, so an alias is listed under its object's name: `np.abs` is "
        "`np.absolute`, `np.mod` is `np.remainder`, `np.true_divide` is `np.divide`. Conventions at kinks (ties, "
        "zeros of products, NaN) are described in [design.md](design.md#rules-are-data).",
        "",
        "| primitive | family | reverse (vjp) | forward (jvp) |",
        "|---|---|---|---|",
    ]
    for r in differentiable:
        lines.append(f"| {r.name} | {r.family} | {_yes(r.reverse)} | {_yes(r.forward)} |")
    lines += [
        "",
        "## Zero derivative",
        "",
        "Steps, tests, comparisons and shape queries: their results are constants to the sweep, so they may be used "
        "in differentiated code (to steer a branch or a `np.where`, say) and contribute nothing to a derivative.",
        "",
    ]
    lines += [f"- {r.name}: {r.family}" for r in table if not r.differentiable]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m adcompile.coverage", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only check that docs/coverage.md is up to date")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not DOC.exists() or DOC.read_text(encoding="utf-8") != text:
            print(f"{DOC} is out of date: run python -m adcompile.coverage", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
