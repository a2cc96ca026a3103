"""The ``adcompile`` command line.

adcompile show FILE.py:func            the generated adjoint (gradient w.r.t. the first argument), black-formatted
adcompile show pkg.module:func --ir    the SSA decomposition in textbook notation
adcompile show FILE.py:g --wrt x1,x3   the gradient with respect to x1 and x3
adcompile show FILE.py:g --at 0.5 2 3  the version specialised to these argument values' types and shapes
adcompile explain FILE.py:g --at 0.5 2 3   forward and reverse accumulation worked at a point, table by table
adcompile graph FILE.py:g --at 0.5 2 3 -o g.svg   the computation graph with values, adjoints, local derivatives
adcompile show FILE.py:g --mode forward the jvp (forward mode): value and tangent from the arguments' tangents
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import inspect
import os
import sys

import numpy as np

from .api import derivative_source, ir_text
from .errors import AdCompileError


def load(spec: str):
    """The function named by ``FILE.py:func`` or ``module:func``."""
    target, sep, name = spec.rpartition(":")
    if not sep or not target or not name:
        raise SystemExit(f"adcompile: expected FILE.py:function or module:function, got {spec!r}")
    if target.endswith(".py") or os.sep in target or os.path.exists(target):
        path = os.path.abspath(target)
        if not os.path.exists(path):
            raise SystemExit(f"adcompile: no such file: {target}")
        sys.path.insert(0, os.path.dirname(path))
        modname = "_adcompile_cli_" + os.path.splitext(os.path.basename(path))[0]
        mod_spec = importlib.util.spec_from_file_location(modname, path)
        module = importlib.util.module_from_spec(mod_spec)
        sys.modules[modname] = module
        mod_spec.loader.exec_module(module)
    else:
        sys.path.insert(0, os.getcwd())
        module = importlib.import_module(target)
    obj = module
    for part in name.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise SystemExit(f"adcompile: {target} has no function {name!r}") from None
    fn = getattr(obj, "_adcompile", None)
    return fn.fun if fn is not None else obj


def _argnums(fn, wrt: str | None):
    if wrt is None:
        return 0
    params = [
        p.name
        for p in inspect.signature(fn).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    out = []
    for name in wrt.split(","):
        name = name.strip()
        if name.isdigit():
            out.append(int(name))
        elif name in params:
            out.append(params.index(name))
        else:
            raise SystemExit(f"adcompile: {fn.__name__} has no parameter {name!r} (parameters: {', '.join(params)})")
    return out[0] if len(out) == 1 else tuple(out)


def _value(text: str):
    """A value given on the command line: a number, or a Python expression that may use np."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        try:
            value = eval(text, {"np": np, "numpy": np})  # noqa: S307 -- the user's own command line
        except Exception as e:
            raise SystemExit(f"adcompile: cannot evaluate --at value {text!r}: {e}") from None
    if isinstance(value, (list, tuple)):
        value = np.asarray(value, dtype=float)
    if isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    return value


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="adcompile", description="Source-transformation automatic differentiation.")
    sub = parser.add_subparsers(dest="command", required=True)
    show = sub.add_parser("show", help="print the generated derivative of a function")
    show.add_argument("function", help="FILE.py:func or module:func")
    show.add_argument("--wrt", help="comma-separated parameter names or positions (default: the first)")
    show.add_argument("--ir", action="store_true", help="print the SSA IR of the function instead")
    show.add_argument("--ascii", action="store_true", help="with --ir: ASCII notation (u[-1]) instead of u₋₁")
    show.add_argument("--value", action="store_true", help="show value_and_grad: the adjoint also returns f's value")
    show.add_argument(
        "--at",
        nargs="+",
        metavar="V",
        help="specialise to these argument values (numbers or expressions like np.ones(3))",
    )
    show.add_argument(
        "--mode",
        choices=("reverse", "forward"),
        default="reverse",
        help="reverse: the adjoint (default); forward: the jvp f_jvp(*params, *tangents) -> (value, tangent)",
    )
    show.add_argument("--raw", action="store_true", help="do not format with black")
    explain = sub.add_parser("explain", help="work forward and reverse accumulation at a point, table by table")
    explain.add_argument("function", help="FILE.py:func or module:func")
    explain.add_argument("--at", nargs="+", metavar="V", help="the point: one number per parameter")
    explain.add_argument("--ascii", action="store_true", help="ASCII notation (u[-1], d) instead of u₋₁, ∂")
    explain.add_argument("--format", choices=("text", "markdown"), default="text", help="plain text or markdown")
    graph = sub.add_parser("graph", help="draw the computation graph at a point (Graphviz DOT, SVG, PNG)")
    graph.add_argument("function", help="FILE.py:func or module:func")
    graph.add_argument("--at", nargs="+", metavar="V", help="the point: one number per parameter")
    graph.add_argument("--output", type=int, metavar="K", help="whose adjoints to show: output K (from 1)")
    graph.add_argument("--rules", action="store_true", help="label edges with the rule's expression too")
    graph.add_argument("--ascii", action="store_true", help="ASCII notation (u[-1], d) instead of u₋₁, ∂")
    graph.add_argument("-o", dest="out", metavar="PATH", help="write to PATH (.dot, or .svg/.png/.pdf drawn by dot)")
    args = parser.parse_args(argv)

    fn = load(args.function)
    try:
        if not callable(fn):
            raise TypeError(f"{args.function} is not a function")
        return _explain_or_graph(args, fn) if args.command in ("explain", "graph") else _show(args, fn)
    except AdCompileError as e:
        print(f"adcompile: {e}", file=sys.stderr)
        return 1
    except (TypeError, ValueError) as e:
        print(f"adcompile: {e}", file=sys.stderr)
        return 2


def _show(args, fn) -> int:
    if args.ir:
        print(ir_text(fn, ascii_only=args.ascii))
    else:
        at = tuple(_value(v) for v in args.at) if args.at else None
        print(
            derivative_source(
                fn, _argnums(fn, args.wrt), with_value=args.value, args=at, black=not args.raw, mode=args.mode
            ),
            end="",
        )
    return 0


def _explain_or_graph(args, fn) -> int:
    from .explain import explain
    from .graph import render, to_dot

    if not args.at:
        params = ", ".join(inspect.signature(fn).parameters)
        raise TypeError(
            f"{args.command} needs the point to work at: --at V1 V2 ..., one number per parameter of "
            f"{fn.__name__}({params})"
        )
    at = [_value(v) for v in args.at]
    for i, p in enumerate(list(inspect.signature(fn).parameters.values())[: len(at)]):
        # a whole number for a parameter whose default is an int (a count, n=3) stays an int
        if type(p.default) is int and isinstance(at[i], float) and at[i].is_integer():
            at[i] = int(at[i])
    at = tuple(at)
    if args.command == "explain":
        print(explain(fn, at, args.format, args.ascii), end="")
        return 0
    output = 0 if args.output is None else args.output - 1
    if args.output is None:
        from .explain import trace

        m = len(trace(fn, at).outputs)
        if m > 1:
            raise ValueError(f"{fn.__name__}() has {m} outputs; choose one with --output K, K from 1 to {m}")
    dot = to_dot(fn, at, output, rules=args.rules, ascii_only=args.ascii)
    if args.out is None:
        print(dot, end="")
    else:
        print(f"adcompile: {render(dot, args.out)[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
