"""Primitives and the registry of their derivative rules.

A primitive is a callable the compiler does not look inside (``np.sin``, ``operator.mul``, ``math.log``, a user's
function registered with :func:`defvjp`). It is identified by *object identity*, so ``np.sin``, ``numpy.sin`` and
``from numpy import sin`` are one primitive.

A derivative rule is an ordinary Python function::

    @vjp(np.sin)
    def _(g, ans, x):
        return g * np.cos(x)

``g`` is the adjoint of the result, ``ans`` the result itself, then the primitive's arguments. It returns one
expression per differentiable positional argument, in order (a tuple when there are several; ``None`` for an
argument with no derivative). Parameters with defaults after those (``axis=None``) receive the call's other
arguments.
Rules can be called directly (tests check them against finite differences), and the compiler reads their source and
inlines the returned expressions into the generated adjoint, so generated code contains ``g * np.cos(x)``, not a call
to the rule.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import math
import operator
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import avals as A
from .errors import AdCompileError

# AST operator node -> (operator function, textbook symbol, ascii symbol)
BINOPS = {
    ast.Add: (operator.add, "+", "+"),
    ast.Sub: (operator.sub, "−", "-"),
    ast.Mult: (operator.mul, "·", "*"),
    ast.Div: (operator.truediv, "/", "/"),
    ast.Pow: (operator.pow, "**", "**"),
    ast.FloorDiv: (operator.floordiv, "//", "//"),
    ast.Mod: (operator.mod, "mod", "%"),
    ast.MatMult: (operator.matmul, "@", "@"),
}
UNARYOPS = {
    ast.USub: (operator.neg, "−", "-"),
    ast.UAdd: (operator.pos, "+", "+"),
    ast.Not: (operator.not_, "¬", "not "),
}
COMPARES = {
    ast.Lt: (operator.lt, "<", "<"),
    ast.LtE: (operator.le, "≤", "<="),
    ast.Gt: (operator.gt, ">", ">"),
    ast.GtE: (operator.ge, "≥", ">="),
    ast.Eq: (operator.eq, "=", "=="),
    ast.NotEq: (operator.ne, "≠", "!="),
}
_OP_NODE = {fn: node for node, (fn, _, _) in {**BINOPS, **UNARYOPS, **COMPARES}.items()}

# Modules whose functions generated code names by their dotted path (np.sin, math.exp, np.linalg.norm).
_MODULES = (("np", np), ("np.linalg", np.linalg), ("math", math))


@dataclass
class Template:
    """A rule's source, parsed once: parameter names, leading statements, one output expression per argument."""

    params: list
    body: list
    outputs: list  # ast.expr or None per positional argument
    defaults: dict
    globals: dict
    filename: str


@dataclass(eq=False)
class Primitive:
    fn: Callable
    name: str
    shape_rule: Callable = A.elementwise
    vjp: Callable | None = None
    jvp: Callable | None = None
    # fold(builder, *args, **kwargs) -> operand or None: a simpler way to build the same value (np.size of a known
    # shape is a literal, unbroadcast to the same shape is nothing); only used while building adjoint code
    fold: Callable | None = None
    differentiable: bool = True  # False: the result never carries a derivative (shape queries)
    fresh: bool = False  # True: each call must make a new object (copies), so equal calls are not merged
    effect: bool = False  # True: a check that may raise, kept even where its result is not used
    # one output of a function returning several: it is element ``item`` of its last operand (an int, or the name
    # of the keyword operand that gives it)
    item: int | str | None = None
    _templates: dict = field(default_factory=dict)

    # -- code generation ------------------------------------------------------------------------------
    @property
    def op_node(self):
        return _OP_NODE.get(self.fn)

    def path(self) -> str | None:
        """Dotted name by which generated code calls this primitive (``np.sin``), or None for an operator."""
        if self.fn in _OP_NODE:
            return None
        for prefix, mod in _MODULES:
            if getattr(mod, getattr(self.fn, "__name__", ""), None) is self.fn:
                return f"{prefix}.{self.fn.__name__}"
        if getattr(builtins, getattr(self.fn, "__name__", ""), None) is self.fn:
            return self.fn.__name__
        return None

    @property
    def display(self) -> str:
        """How messages name it: ``np.sin``, ``math.log``, ``abs``, ``softplus``."""
        return self.path() or self.name

    def textbook(self, args, kwargs, ascii_only=False) -> str:
        node = self.op_node
        if node in BINOPS or node in COMPARES:
            sym = {**BINOPS, **COMPARES}[node][2 if ascii_only else 1]
            return f"{args[0]} {sym} {args[1]}"
        if node in UNARYOPS:
            return f"{UNARYOPS[node][2 if ascii_only else 1]}{args[0]}"
        if self.fn is operator.getitem:
            return f"{args[0]}[{args[1]}]"
        if self.item is not None:  # an int, or the name of the keyword operand that holds it
            item = self.item if isinstance(self.item, int) else dict(kwargs).get(self.item, "0")
            return f"{args[-1]}[{item}]"
        inner = ", ".join([*args, *(f"{k}={v}" for k, v in kwargs)])
        return f"{self.name}({inner})"

    # -- rules ----------------------------------------------------------------------------------------
    def template(self, kind: str) -> Template:
        """The parsed ``kind`` ('vjp' or 'jvp') rule, read from its source once."""
        if kind not in self._templates:
            rule = self.vjp if kind == "vjp" else self.jvp
            if rule is None:
                raise KeyError(kind)
            self._templates[kind] = _parse_rule(rule, self)
        return self._templates[kind]


_REGISTRY: dict[int, Primitive] = {}

# Callables known to return a new object, never their argument or a view of it (besides every ufunc, operator
# and math function). Anything else may share memory with its first argument (x[1:], x.T, np.reshape(x, ...)):
# the lowering and the in-place pass then treat the two as one array.
NEW_OBJECTS: set = set()
READ_ONLY_VIEWS: set = set()  # ids of callables whose result may be a read-only view (broadcasts, diagonals)


def returns_new(prim: Primitive) -> bool:
    """Whether ``prim``'s result is always a new object (so writing into it cannot change its arguments)."""
    fn = prim.fn
    return (
        prim.op_node is not None
        or isinstance(fn, np.ufunc)
        or getattr(fn, "__module__", None) == "math"
        or id(fn) in NEW_OBJECTS
    )


def lookup(obj) -> Primitive | None:
    """The primitive registered for ``obj`` (by identity), if any."""
    prim = _REGISTRY.get(id(obj))
    if prim is None and _load_optional_rules(obj):
        prim = _REGISTRY.get(id(obj))
    return prim if prim is not None and prim.fn is obj else None


_OPTIONAL_RULES = {"scipy": "rules_scipy"}  # a library's top-level package -> the module of its rules


def _load_optional_rules(obj) -> bool:
    """Import the rules of an optional library the first time one of its objects is looked up (importing SciPy
    up front would triple ``import adcompile``): a function that calls ``scipy.special.expit`` has imported SciPy
    already. True if rules were loaded."""
    return _load(str(getattr(obj, "__module__", None)).partition(".")[0])


def load_optional_rules() -> None:
    """Import the rules of every optional library that is installed (the coverage page lists them all)."""
    for package in list(_OPTIONAL_RULES):
        _load(package)


def _load(package: str) -> bool:
    module = _OPTIONAL_RULES.pop(package, None)
    if module is None:
        return False
    import importlib

    try:
        importlib.import_module(f"{__package__}.{module}")
    except ImportError:  # the library is not installed
        return False
    return True


def primitive(fn: Callable, *, name: str | None = None, shape: Callable | None = None) -> Primitive:
    """Register ``fn`` as a primitive (or return the existing registration), optionally with its shape rule."""
    prim = lookup(fn)
    if prim is None:
        if name is None:
            name = getattr(fn, "__name__", None) or repr(fn)
        prim = Primitive(fn, name)
        _REGISTRY[id(fn)] = prim
    if shape is not None:
        prim.shape_rule = shape
    return prim


def vjp(*fns: Callable, shape: Callable | None = None):
    """Decorator: register the reverse-mode rule ``rule(g, ans, *args)`` for each of ``fns`` (the rule tables'
    form; users call :func:`defvjp`)."""

    def register(rule):
        for fn in fns:
            prim = primitive(fn, shape=shape)
            prim.vjp = rule
            prim._templates.pop("vjp", None)
        return rule

    return register


def jvp(*fns: Callable, shape: Callable | None = None):
    """Decorator: register the forward-mode rule ``rule(g, ans, *args)`` for each of ``fns``.

    Same form as a vjp rule, read differently: output *i* is the tangent of the result contributed by argument *i*
    when ``g`` is that argument's tangent. The result's tangent is the sum over the arguments that vary.
    """

    def register(rule):
        for fn in fns:
            prim = primitive(fn, shape=shape)
            prim.jvp = rule
            prim._templates.pop("jvp", None)
        return rule

    return register


def derivative(*fns: Callable, shape: Callable | None = None):
    """Decorator: one rule ``rule(g, ans, *args)`` that is both the vjp and the jvp rule of each of ``fns``.

    That holds when each argument's local derivative is a scalar factor (``g * np.cos(x)`` for ``np.sin``, any
    function of Python floats): multiplying an adjoint or a tangent by it is the same expression.
    """

    def register(rule):
        vjp(*fns, shape=shape)(rule)
        jvp(*fns)(rule)
        return rule

    return register


def defvjp(fn: Callable, rule: Callable | None = None, *, shape: Callable | None = None):
    """Declare ``fn`` a primitive with reverse-mode rule ``rule(g, ans, *args)``.

    Use it for functions adcompile cannot read (C extensions, SciPy) or whose derivative you want computed your own
    way. ``shape`` defaults to elementwise broadcasting of the arguments; pass another rule from
    :mod:`adcompile.avals` (``reduction``, ``scalar_float``, ``unknown``, ...) when the result's shape differs.
    ``defvjp(fn, rule)`` returns ``fn``; without ``rule`` it is a decorator of the rule, returning the rule:

    >>> import numpy as np, adcompile
    >>> def softplus(x):
    ...     return np.log1p(np.exp(x))
    >>> @adcompile.defvjp(softplus)
    ... def _(g, ans, x):
    ...     return g / (1 + np.exp(-x))
    >>> float(adcompile.grad(lambda x: 2 * softplus(x))(0.0))
    1.0
    """
    if rule is None:
        return vjp(fn, shape=shape)
    vjp(fn, shape=shape)(rule)
    return fn


def defjvp(fn: Callable, rule: Callable | None = None, *, shape: Callable | None = None):
    """Declare ``fn`` a primitive with forward-mode rule ``rule(g, ans, *args)`` (see :func:`jvp`); used like
    :func:`defvjp`, as a call returning ``fn`` or, without ``rule``, as a decorator of the rule."""
    if rule is None:
        return jvp(fn, shape=shape)
    jvp(fn, shape=shape)(rule)
    return fn


def _parse_rule(rule: Callable, prim: Primitive) -> Template:
    try:
        src = textwrap.dedent(inspect.getsource(rule))
    except (OSError, TypeError) as e:
        raise AdCompileError(
            f"the rule for {prim.name!r} has no readable source ({e}); rules must be ordinary functions in a file"
        ) from None
    tree = ast.parse(src)
    fdef = next(n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.Lambda)))
    lineno = rule.__code__.co_firstlineno
    ast.increment_lineno(tree, lineno - fdef.lineno)
    filename = rule.__code__.co_filename
    params = [a.arg for a in fdef.args.args] + [a.arg for a in fdef.args.kwonlyargs]
    if isinstance(fdef, ast.Lambda):
        body, ret = [], fdef.body
    else:
        body = [s for s in fdef.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
        if not body or not isinstance(body[-1], ast.Return) or body[-1].value is None:
            raise AdCompileError(f"the rule for {prim.name!r} must end with a return statement")
        body, ret = body[:-1], body[-1].value
    elts = ret.elts if isinstance(ret, ast.Tuple) else [ret]
    outputs = [None if isinstance(e, ast.Constant) and e.value is None else e for e in elts]
    defaults = {name: p.default for name, p in inspect.signature(rule).parameters.items() if p.default is not p.empty}
    return Template(params, body, outputs, defaults, rule.__globals__, filename)
