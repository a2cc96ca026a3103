"""Frontend: from a Python function object to its AST, its file and line numbers, and its environment.

Source comes from :mod:`inspect` (module files, scripts, IPython/Jupyter cells -- anything ``linecache`` knows).
Line numbers in the AST are those of the user's file; column offsets are relative to the dedented source and
``col_shift`` turns them back into the file's columns. Free names are resolved against the function's closure
cells, globals and builtins, and every such lookup is remembered in ``deps`` so that a compiled derivative can
notice when a global it baked in was rebound.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import textwrap
from dataclasses import dataclass, field

from .errors import AdCompileError, Location, SourceUnavailableError, UnsupportedSyntaxError

_MISSING = object()


@dataclass
class Source:
    fn: object
    node: ast.FunctionDef | ast.Lambda
    filename: str
    col_shift: int
    globals: dict
    closure: dict  # free variable name -> cell
    deps: dict = field(default_factory=dict)  # (id(container), key) -> (container, key, object), one per free name

    def loc(self, node) -> Location:
        end = node.end_col_offset + self.col_shift if getattr(node, "end_lineno", None) == node.lineno else None
        return Location(self.filename, node.lineno, node.col_offset + self.col_shift, end)

    def resolve(self, name: str, node):
        """The object a free name refers to, looked up like Python does: closure, globals, builtins."""
        if name in self.closure:
            cell = self.closure[name]
            try:
                value = cell.cell_contents
            except ValueError:
                raise UnsupportedSyntaxError(
                    f"the closure variable {name!r} is not bound yet", self.loc(node)
                ) from None
            self.deps[id(cell), None] = (cell, None, value)
            return value
        for scope in (self.globals, builtins.__dict__):
            value = scope.get(name, _MISSING)
            if value is not _MISSING:
                self.deps[id(scope), name] = (scope, name, value)
                return value
            # a builtin stays what the name means only while no global of that name shadows it
            self.deps[id(scope), name] = (scope, name, _MISSING)
        raise AdCompileError(f"name {name!r} is not defined", self.loc(node))

    def freshness_tests(self, prefix: str = "", suffix: str = "") -> tuple[list, dict]:
        """Python expressions, one identity test per free name, each true while the name still refers to the object
        it referred to when the source was read; and the globals they read (named ``prefix...suffix``)."""
        missing = f"{prefix}missing{suffix}"
        namespace, tests = {missing: _MISSING}, []
        for k, (container, key, value) in enumerate(self.deps.values()):
            c, v = f"{prefix}c{k}{suffix}", f"{prefix}v{k}{suffix}"
            namespace[c], namespace[v] = container, value
            tests.append(f"{c}.cell_contents is {v}" if key is None else f"{c}.get({key!r}, {missing}) is {v}")
        return tests, namespace

    def freshness_check(self):
        """A function returning True while every free name still refers to the object it referred to when the
        source was read. It runs on every call of a derivative, so it is generated: no loop."""
        tests, namespace = self.freshness_tests()
        exec(f"def fresh():\n    return {' and '.join(tests) or 'True'}\n", namespace)
        return namespace["fresh"]


def read_source(fn) -> Source:
    """Parse ``fn``'s source, keeping the file's line numbers.

    The function's own code is read, never what ``__wrapped__`` points to: a decorator made with
    ``functools.wraps`` computes something else than the function it wraps.
    """
    target = fn
    code = target.__code__
    try:
        lines, firstlineno = inspect.getsourcelines(code)  # the code object: inspect would unwrap a function
    except (OSError, TypeError) as e:
        raise SourceUnavailableError(
            f"cannot read the source of {target.__qualname__} ({e})",
            hint="define the function in a file, a notebook cell or the IPython prompt; code passed to exec() "
            "has no source to read",
        ) from None
    text = "".join(lines)
    filename = code.co_filename
    if code.co_name == "<lambda>":
        node, shift = _find_lambda(text, code, filename, firstlineno)
        ast.increment_lineno(node, firstlineno - 1)
    else:
        dedented = textwrap.dedent(text)
        shift = _indent(text) - _indent(dedented)
        # parsed after firstlineno - 1 empty lines, the nodes carry the file's line numbers: no pass over the tree
        node = ast.parse("\n" * (firstlineno - 1) + dedented).body[0]
        if not isinstance(node, ast.FunctionDef):
            raise UnsupportedSyntaxError(
                f"{target.__qualname__} is not a plain function definition",
                Location(filename, firstlineno),
                hint="async functions and generators cannot be differentiated",
            )
    closure = dict(zip(code.co_freevars, target.__closure__ or ()))
    return Source(target, node, filename, shift, target.__globals__, closure)


def _indent(text: str) -> int:
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    return len(first) - len(first.lstrip())


def _find_lambda(text, code, filename, firstlineno):
    """The one lambda on the source line whose parameters match ``code``, and its column.

    ``inspect`` returns whole lines, which may hold several lambdas or be cut in the middle of a call, so each
    ``lambda`` on the first line is parsed from its own position, taking the longest text that is a lambda.
    """
    params = list(code.co_varnames[: code.co_argcount])
    first = text.split("\n", 1)[0]
    found = []
    start = first.find("lambda")
    while start >= 0:
        for end in range(len(text), start, -1):
            try:
                expr = ast.parse(text[start:end].strip(), mode="eval").body
            except SyntaxError:
                continue
            if isinstance(expr, ast.Lambda):
                if [a.arg for a in expr.args.args] == params:
                    found.append((expr, start))
                break
        start = first.find("lambda", start + 1)
    if len(found) != 1:
        raise SourceUnavailableError(
            f"found {len(found)} lambdas with parameters ({', '.join(params)}) on this line; cannot tell which",
            Location(filename, firstlineno),
            hint="define the function with def",
        )
    return found[0]
