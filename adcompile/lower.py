"""Lowering: Python AST to SSA IR, one primitive per statement.

One table drives it: ``STATEMENTS`` and ``EXPRESSIONS`` map each supported AST node type to its lowering method.
A node with no entry is rejected where it stands, with the hint from ``UNSUPPORTED`` -- so what is accepted is
exactly what can be lowered, and nothing passes a check only to fail later.

The same lowering reads derivative rules: a rule's returned expression is lowered with its parameters bound to
the operands of the statement being differentiated (see :func:`lower_rule`).
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import inspect
import operator
import types

import numpy as np

from .builder import Builder, is_number
from .calls import call_primitive
from .errors import AdCompileError, Location, NonDifferentiableError, UnpackingError, UnsupportedSyntaxError
from .frontend import Source, read_source
from .ir import Assign, Break, Const, For, Function, Global, If, Index, Pack, Return, Slice, Var
from .primitives import BINOPS, COMPARES, UNARYOPS, Primitive, lookup
from .rules_more import weighted_average
from .rules_multi import MULTIPLE, svd_u_full, svd_vh_full
from .rules_shape import PACKING, SPLITTING, split_part
from .runtime import astype, astype_steps, list_append, new_list, new_tuple, setitem, unpacked

# What each unsupported construct is called, and what to write instead (until it is supported).
UNSUPPORTED = {
    ast.Try: ("try/except", "handle errors outside the differentiated function"),
    ast.With: ("a with block", "move it outside the differentiated function"),
    ast.Raise: ("raise", "validate inputs outside the differentiated function"),
    ast.Assert: ("assert", "validate inputs outside the differentiated function"),
    ast.AsyncFunctionDef: ("an async function", "async code cannot be differentiated"),
    ast.ClassDef: ("a class definition", "define the class outside the function"),
    ast.Global: ("a global statement", "pass the value as an argument and return the new one"),
    ast.Nonlocal: ("a nonlocal statement", "return the new value instead"),
    ast.Delete: ("del", "let the variable go out of scope"),
    ast.Import: ("an import", "import at module level"),
    ast.ImportFrom: ("an import", "import at module level"),
    ast.Yield: ("yield", "generators cannot be differentiated"),
    ast.YieldFrom: ("yield from", "generators cannot be differentiated"),
    ast.Await: ("await", "async code cannot be differentiated"),
    ast.NamedExpr: ("an assignment expression (:=)", "use a separate assignment statement"),
    ast.Dict: ("a dict", "dictionaries cannot be differentiated"),
    ast.Set: ("a set", "sets cannot be differentiated"),
    ast.SetComp: ("a set comprehension", "sets cannot be differentiated"),
    ast.DictComp: ("a dict comprehension", "dictionaries cannot be differentiated"),
    ast.GeneratorExp: (
        "a generator expression outside sum(...)",
        "write a list comprehension [... for ...] instead",
    ),
    ast.JoinedStr: ("an f-string", "strings cannot be differentiated"),
    ast.Starred: ("a starred argument", "pass the arguments one by one"),
}
if hasattr(ast, "Match"):
    UNSUPPORTED[ast.Match] = ("a match statement", "write it with if/elif/else")

_LITERAL_TYPES = (str, bool, type(None))
_CONTINUE = object()  # what lowering a continue statement returns: the rest of the block is skipped


class _Ref:
    """A non-value the code names: a module or a callable, valid only as a call target or attribute base."""

    def __init__(self, obj, text: str):
        self.obj, self.text = obj, text


@dataclasses.dataclass(eq=False)
class _Local:
    """A function defined inside the one being lowered (``def`` or a lambda), to be inlined where it is called.

    Its defaults are operands computed where it is defined; the enclosing function's names it reads are looked up
    when it is called (late binding, as Python does)."""

    node: ast.FunctionDef | ast.Lambda
    name: str
    signature: inspect.Signature


class _Outputs(tuple):
    """The outputs of a function returning several arrays, with the field names of NumPy's named tuple."""

    def __new__(cls, values, fields):
        out = super().__new__(cls, values)
        out.fields = fields
        return out


class _Values(tuple):
    """A tuple display of computed values, ``(n, m)``: it exists at compile time (returned, unpacked, indexed by a
    literal) and is built at run time only where a shape is expected (see ``_SHAPES``)."""


# where a call takes a shape (also as shape=): a tuple of computed integers there is built at run time, (n, m)
_SHAPES = {np.zeros: 0, np.ones: 0, np.empty: 0, np.full: 0, np.reshape: 1, np.broadcast_to: 1}

# keyword arguments that change how many outputs a function returns, or what they mean
_CHANGES_OUTPUTS = {np.linalg.svd: ("compute_uv", "hermitian"), np.linalg.qr: ("mode",)}


@dataclasses.dataclass(frozen=True)
class _Method:
    """``x.sum`` before it is called."""

    base: object
    name: str


# x.name(...) is np.name(x, ...); x.reshape(2, 3) and x.transpose(1, 0) pack their numbers into one tuple
_METHODS = {
    name: getattr(np, name)
    for name in "sum mean prod max min var std cumsum cumprod ptp clip copy diagonal dot ravel squeeze swapaxes "
    "trace repeat take round any all argmax argmin argsort nonzero".split()
}
_METHODS["flatten"] = np.ravel
_METHODS["astype"] = None  # lowered by Lowerer.astype
_PACKED = {"reshape": np.reshape, "transpose": np.transpose}
# x.dtype is np.result_type(x): x's dtype, float64 for a Python float; it has no derivative
_ATTRIBUTES = {"T": np.transpose, "shape": np.shape, "ndim": np.ndim, "size": np.size, "dtype": np.result_type}


@dataclasses.dataclass(frozen=True)
class _Stale:
    """What a name holds after another name wrote into an array it may share: its old value, which is only right
    if it is not an array (a number read out of the array before the write). Each use records that check."""

    value: object
    why: str


def _unstale(v):
    return v.value if isinstance(v, _Stale) else v


class Lowerer:
    """Lowers one function body (or one rule expression) into a :class:`Builder`."""

    def __init__(self, builder: Builder, scope: dict, resolve, loc, literal_globals=False, deps=None, calls=()):
        self.b = builder
        self.scope = scope  # local name -> operand
        self.resolve = resolve  # (name, node) -> object
        self.loc = loc  # node -> Location
        self.literal_globals = literal_globals  # rules: module-level numbers become literals
        self.locals: set = set()
        self.params: set = set()  # variables owned by the caller: never written in place
        self.deps = deps  # the freshness record that inlined functions' free names join
        self.calls = calls  # the user functions being inlined, outermost first (to catch recursion)
        self.return_hint = ""  # what the caller will call this function's result
        self.unbound: dict = {}  # name -> why it may have no value here (assigned on one path, or in a loop only)
        self.in_loop = False
        self.flag = None  # the scope key of the innermost loop's break flag
        self.flags = 0
        self.ret = None  # the innermost loop's scope keys for (whether it returned, what it returned)
        self.returned = None  # those of the loop lowered last
        self.hidden = 0  # names lowering adds (a loop's position, the sequences it runs over)
        self.aliases: dict = {}  # join -> the variables it may be at run time

    # -- statements -----------------------------------------------------------------------------------
    def block(self, stmts) -> Return | None:
        """Lower ``stmts``; the Return that ends them, or None if they fall through."""
        stmts = list(stmts)
        for i, st in enumerate(stmts):
            self.b.loc = self.loc(st)
            handler = STATEMENTS.get(type(st))
            if handler is None:
                self.unsupported(st)
            if handler is Lowerer._if:
                return self._if(st, stmts[i + 1 :])
            if isinstance(st, (ast.For, ast.While)) and _returns(st):
                # the loop records whether it returned, and what; after it, that return happens or the rest runs
                handler(self, st)
                returned, result = self.returned
                if isinstance(result, tuple):
                    value = _synthetic(st, ast.Tuple([_name(key, st) for key in result], ast.Load()))
                else:
                    value = _name(result, st)
                leave = _synthetic(st, ast.Return(value))
                if _endless(st):  # while True: only a return leaves it
                    return self.block([leave])
                after = ast.If(_name(returned, st), [leave], [])
                return self._if(_synthetic(st, after), stmts[i + 1 :])
            ret = handler(self, st)
            if ret is _CONTINUE:
                return None  # the rest of this block is skipped: the iteration falls through to its end
            if ret is not None:
                return ret
        return None

    def _if(self, st: ast.If, rest=()):
        """An if statement and the statements after it.

        Branches are lowered on copies of the scope; a name bound differently on the two paths gets a join (φ).
        If a branch contains a return, the statements after the if belong to the paths that fall through, so each
        branch continues with them: the if then returns on every path and its joins include the result.
        """
        test = self.expr(st.test)
        then_stmts, else_stmts = list(st.body), list(st.orelse)
        if _jumps(st):  # the statements after the if continue only the paths that fall through
            then_stmts += rest
            else_stmts += rest
            rest = ()
        loc = self.loc(st)
        (then_scope, then_body, then_ret), (else_scope, else_body, else_ret) = (
            self.branch(lambda: self.block(then_stmts)),
            self.branch(lambda: self.block(else_stmts)),
        )
        joins: list = []
        if (then_ret is None) != (else_ret is None):
            raise UnsupportedSyntaxError(
                "some paths through this if reach the end of the function without a return",
                loc,
                hint="return a value on every path",
            )
        if then_ret is not None:
            value = self.join(then_ret.value, else_ret.value, self.return_hint, joins, loc)
            self.b.body.append(If(test, then_body, else_body, joins, loc))
            return Return(value, loc)
        for name in sorted(set(then_scope) | set(else_scope)):
            if name in then_scope and name in else_scope:
                hint = _hint(name)
                a, b = then_scope[name], else_scope[name]
                value = self.join(_unstale(a), _unstale(b), hint, joins, loc)
                stale = next((v for v in (a, b) if isinstance(v, _Stale)), None)
                self.scope[name] = value if stale is None else _Stale(value, stale.why)
            else:
                self.scope.pop(name, None)
                self.unbound[name] = (
                    "is assigned on only one path of an if before this use",
                    "assign it on both paths (or before the if)",
                )
        self.b.body.append(If(test, then_body, else_body, joins, loc))
        return self.block(rest) if rest else None

    def _for(self, st: ast.For):
        """``for i in range(...)``, or over arrays (their rows), tuples of values, ``enumerate``, ``zip`` and
        ``reversed`` of those: names the body assigns that exist before the loop are carried (loop φs)."""
        loc = self.loc(st)
        it = st.iter
        backwards = self.calls_to(it, reversed) and len(it.args) == 1 and not it.keywords
        if backwards:
            it = it.args[0]
        self.b.loc = loc
        if self.calls_to(it, range) and 1 <= len(it.args) <= 3 and not it.keywords:
            if not isinstance(st.target, ast.Name):
                raise UnsupportedSyntaxError("a loop over range(...) has one variable", self.loc(st.target))
            bounds = tuple(self.expr(a) for a in it.args)
            self.loop(st, Var(st.target.id), bounds, backwards=backwards)
            return
        # over sequences: a loop over the positions, whose body starts by taking each sequence's element
        self.hidden += 1
        k = f"<position {self.hidden}>"  # not an identifier: no user name can clash with it
        lengths: list = []
        prefix = self.elements(st.target, it, k, lengths, st)
        length = lengths[0]
        for other in lengths[1:]:  # zip stops at the shortest
            length = self.choose(self.b.call(operator.lt, other, length), lambda o=other: o, lambda v=length: v, "", st)
        self.loop(st, Var("i"), (length,), backwards=backwards, index_name=k, prefix=prefix)

    def elements(self, target, it, k: str, lengths: list, st) -> list:
        """Statements binding ``target`` to element ``k`` of the iterable ``it``; its length joins ``lengths``."""
        position = _synthetic(st, ast.Name(k, ast.Load()))
        if self.calls_to(it, enumerate) and 1 <= len(it.args) <= 2 and not it.keywords:
            if not (isinstance(target, ast.Tuple) and len(target.elts) == 2):
                raise UnsupportedSyntaxError("unpack enumerate(...) into two names", self.loc(target))
            count = position if len(it.args) == 1 else _synthetic(st, ast.BinOp(it.args[1], ast.Add(), position))
            return [
                _synthetic(st, ast.Assign([target.elts[0]], count)),
                *self.elements(target.elts[1], it.args[0], k, lengths, st),
            ]
        if self.calls_to(it, zip) and it.args and not it.keywords:
            if not (isinstance(target, ast.Tuple) and len(target.elts) == len(it.args)):
                raise UnsupportedSyntaxError(f"unpack zip(...) into {len(it.args)} names", self.loc(target))
            return [s for t, a in zip(target.elts, it.args) for s in self.elements(t, a, k, lengths, st)]
        literal = isinstance(it, (ast.Tuple, ast.List)) and not any(isinstance(e, ast.Starred) for e in it.elts)
        seq = None if literal else self.expr(it, allow_tuple=True)
        if literal or isinstance(seq, tuple):
            # a literal sequence of values, or the parts of np.split(...): each is computed once, before the loop;
            # element k is chosen by k
            names = []
            for v in (self.expr(e) for e in it.elts) if literal else seq:
                self.hidden += 1
                names.append(f"<element {self.hidden}>")
                self.scope[names[-1]] = v
            lengths.append(Const(len(names)))
            if not names:
                return []
            value: ast.expr = _synthetic(st, ast.Name(names[-1], ast.Load()))
            for i in reversed(range(len(names) - 1)):
                test = _synthetic(st, ast.Compare(position, [ast.Eq()], [ast.Constant(i)]))
                value = _synthetic(st, ast.IfExp(test, ast.Name(names[i], ast.Load()), value))
        else:
            self.hidden += 1
            name = f"<sequence {self.hidden}>"
            self.scope[name] = seq
            lengths.append(self.b.call(len, self.scope[name]))
            value = _synthetic(st, ast.Subscript(ast.Name(name, ast.Load()), position, ast.Load()))
        if isinstance(target, ast.Tuple):
            raise UnsupportedSyntaxError(
                "unpacking the elements of a sequence is not supported yet",
                self.loc(target),
                hint="loop over zip(...) or enumerate(...), or index the element",
            )
        return [_synthetic(st, ast.Assign([target], value))]

    def calls_to(self, node, fn) -> bool:
        """Whether ``node`` is a call of ``fn`` (named any way that refers to it)."""
        if not isinstance(node, ast.Call) or not isinstance(node.func, (ast.Name, ast.Attribute)):
            return False
        ref = self.reference(node.func)
        return isinstance(ref, _Ref) and ref.obj is fn

    def _while(self, st: ast.While):
        """``while test:``: a loop with no index whose body starts by leaving when the test fails."""
        loc = self.loc(st)

        def head(flag):
            test = st.test if flag is None else _synthetic(st.test, ast.BoolOp(ast.And(), [_not(flag, st), st.test]))
            self.b.body.append(Break(self.expr(test), loc))

        self.loop(st, None, None, head=head)

    def loop(self, st, index: Var | None, bounds, head=None, backwards=False, index_name=None, prefix=()):
        """Lower a loop's body: the names it assigns that exist before the loop are carried (loop φs); the
        others, and the index, may not be used after it (it may run zero times). The body is lowered again if an
        iteration ends with names sharing an object (or a list holding one) that they did not share at its start.

        ``break`` and ``else`` use a carried flag: ``break`` sets it and skips the rest of the iteration (like
        ``continue``); a for loop's body runs only while it is unset, a while loop's test checks it first, and the
        ``else`` clause runs after the loop if it is unset.
        """
        loc = self.loc(st)
        own = {index_name or index.hint} if index is not None else set()
        flag = None
        body_stmts = [*prefix, *st.body]
        returns = _returns(st)
        outer_return = self.ret
        if returns:  # a return inside is a break that also records the result (one value, or a tuple's values)
            self.flags += 1
            arity = self.return_arity(st)
            result = f"<result {self.flags}>"
            results = (result,) if arity is None else tuple(f"{result[:-1]}.{k}>" for k in range(arity))
            self.ret = (f"<returned {self.flags}>", result if arity is None else results)
            self.scope[self.ret[0]] = Const(False)
            self.scope.update((key, Const(None)) for key in results)
        if st.orelse or _breaks(st) or returns:
            self.flags += 1
            flag = f"<break {self.flags}>"  # not an identifier: no user name can clash with it
            self.scope[flag] = Const(False)
            if index is not None:  # after a break, the remaining iterations do nothing
                body_stmts = [_synthetic(st, ast.If(_not(flag, st), body_stmts, []))]
        assigned = set().union(*(_assigned_names(s, written=True) for s in [*prefix, *st.body])) - own
        if flag is not None:
            assigned.add(flag)
        if returns:
            assigned.add(self.ret[0])
            assigned.update(self.ret[1] if isinstance(self.ret[1], tuple) else [self.ret[1]])
        carried = sorted(n for n in assigned if n in self.scope)
        phis = {n: Var(_hint(n)) for n in carried}
        entry = dict(self.scope)
        # A carried name may start an iteration as the object another name holds: the body lowered once knows
        # only what the names share before the loop, so it is lowered again, knowing more, until what they share
        # at the end of an iteration is known at its start (a = h in the loop: a[0] = v in the next one writes
        # into h). Appending or writing then makes the other name stale, as after any aliasing.
        shared: dict = {n: set() for n in carried}
        held: dict = {n: set() for n in carried}  # a carried list -> start values it may hold at an iteration's end
        while True:
            inner_phis = {}
            for n, v in phis.items():
                init = _unstale(self.scope[n])
                self.aliases[v] = (self.may_be(init) if isinstance(init, Var) else set()) | shared[n]
                self.b.views[v] = set(held[n])
                inner_phis[n] = _Stale(v, self.scope[n].why) if isinstance(self.scope[n], _Stale) else v
            checks, unbound = len(self.b.checks), dict(self.unbound)
            outer = self.scope, self.b.body, self.in_loop, self.flag
            self.scope, self.b.body = {**self.scope, **inner_phis, **{n: index for n in own}}, []
            self.in_loop, self.flag = True, flag
            try:
                self.b.loc = loc
                if head is not None:
                    head(flag)
                self.block(body_stmts)
                after, body = self.scope, self.b.body
            finally:
                self.scope, self.b.body, self.in_loop, self.flag = outer
            found, holds = self.shared_at_end(phis, entry, after, own)
            if all(found[n] <= shared[n] and holds[n] <= held[n] for n in carried):
                break
            for n in carried:
                shared[n] |= found[n]
                held[n] |= holds[n]
            del self.b.checks[checks:]  # the body's checks are made again
            self.unbound.clear()
            self.unbound.update(unbound)
        carried_values = [(phis[n], _unstale(self.scope[n]), _unstale(after[n])) for n in carried]
        self.b.body.append(For(index, bounds, body, carried_values, loc, reverse=backwards))
        for n in carried:
            stale = next((v for v in (self.scope[n], after[n]) if isinstance(v, _Stale)), None)
            self.scope[n] = phis[n] if stale is None else _Stale(phis[n], stale.why)
        for n, v in entry.items():
            if n in carried or n in own or n not in after or after[n] is v:
                continue
            # not assigned in the loop, yet changed: another name wrote into its array (or it went stale), so it
            # differs from one iteration to the next; a use of it anywhere in the loop would see the wrong array
            why = f"shares its array with a name the loop at line {loc.line} writes into"
            for node in (n2 for s2 in st.body for n2 in ast.walk(s2)):
                if isinstance(node, ast.Name) and node.id == n and isinstance(node.ctx, ast.Load):
                    raise UnsupportedSyntaxError(
                        f"{n!r} {why}, which changes it on every iteration",
                        self.loc(node),
                        hint=f"use one name for the array inside the loop, or copy it first ({n} = {n}.copy())",
                    )
            self.scope[n] = _Stale(_unstale(v), why)
        for n in (assigned - set(carried)) | own:
            self.scope.pop(n, None)
            self.unbound[n] = (
                "is assigned only inside the loop, which may run zero times",
                "assign it before the loop",
            )
        self.returned, self.ret = self.ret, outer_return
        if st.orelse:
            if any(isinstance(n, ast.Return) for s in st.orelse for n in ast.walk(s)):
                raise UnsupportedSyntaxError("return in a loop's else clause is not supported yet", loc)
            self.block([_synthetic(st, ast.If(_not(flag, st), list(st.orelse), []))])

    def shared_at_end(self, phis: dict, entry: dict, after: dict, own) -> tuple:
        """For each carried name, the values an iteration starts with (φs, or values from before the loop) whose
        memory it may share at the end of the iteration, and (a list) those whose object it may hold, where the
        iteration did not start knowing that."""
        start = {n: phis.get(n, _unstale(v)) for n, v in entry.items() if n not in own}
        names = [n for n, v in start.items() if isinstance(v, Var) and isinstance(_unstale(after.get(n)), Var)]
        found: dict = {n: set() for n in phis}
        holds: dict = {n: set() for n in phis}
        for n in phis:
            end = _unstale(after[n])
            if not isinstance(end, Var):
                continue
            for m in names:
                other = self.memory(_unstale(after[m]))
                if m != n and self.memory(end) & other and not self.memory(phis[n]) & self.memory(start[m]):
                    found[n].add(start[m])
                if m != n and self.viewed(end) & other and not self.viewed(phis[n]) & self.memory(start[m]):
                    holds[n].add(start[m])
        return found, holds

    def is_list(self, v: Var) -> bool:
        return any(self.b.aval(u).kind == "list" for u in self.may_be(v))

    def read_from_list(self, v: Var) -> bool:
        """Whether ``v`` is an element read out of a list (``zs[i]``, or a loop's variable over it)."""
        return bool(self.source_lists(v))

    def source_lists(self, v: Var) -> set:
        """The list ``v`` was read out of, if it is an element of one (``zs[i]``, or a loop's variable over it)."""
        made = self.b.made.get(v)
        if made is None or not isinstance(made[0], Assign) or made[0].prim.fn is not operator.getitem:
            return set()
        xs = made[0].args[0]
        return {xs} if isinstance(xs, Var) and self.is_list(xs) else set()

    def held(self, v) -> set:
        """What a list holding ``v`` shares memory with: the object ``v`` may be, and what that may view. An
        element read out of a list is one of the values that list holds, not the list: ``[e for e in xs]`` holds
        what ``xs`` holds, and ``[zs[0]]`` the list ``zs`` holds."""
        if not isinstance(v, Var):
            return set()
        read_from = set().union(*(self.source_lists(u) for u in self.may_be(v)))
        return self.may_be(v) | (self.viewed(v) - read_from)

    def memory(self, v: Var) -> set:
        """The variables whose memory ``v`` may share: what it may be, and (for an array) what it may view. A
        list holds its values without sharing their memory: appending to it changes none of them."""
        objects = self.may_be(v)
        if any(self.b.aval(u).kind == "list" for u in objects):
            return objects
        return objects | {u for u in self.viewed(v) if self.b.aval(u).kind != "list"}

    def branch(self, lower):
        """(scope after, statements, result) of ``lower()``, run as one path of a branch: on a copy of the scope,
        into a statement list of its own."""
        outer_scope, outer_body = self.scope, self.b.body
        self.scope, self.b.body = dict(outer_scope), []
        try:
            result = lower()
            return self.scope, self.b.body, result
        finally:
            self.scope, self.b.body = outer_scope, outer_body

    def join(self, a, b, hint: str, joins: list, loc):
        """The operand that is ``a`` on the then path and ``b`` on the else path (a tuple joins element-wise)."""
        if a is b or (isinstance(a, Const) and isinstance(b, Const) and type(a.value) is type(b.value) and a == b):
            return a
        if isinstance(a, tuple) or isinstance(b, tuple):
            if not (isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b)):
                raise UnsupportedSyntaxError("the branches return different numbers of values", loc)
            return tuple(self.join(x, y, hint, joins, loc) for x, y in zip(a, b))
        v = Var(hint)
        joins.append((v, a, b))
        self.aliases[v] = set().union(*(self.may_be(x) for x in (a, b) if isinstance(x, Var)))
        return v

    def _ifexp(self, node: ast.IfExp, hint):
        """``a if test else b``: only the chosen side is evaluated, as in Python."""
        return self.choose(
            self.expr(node.test), lambda: self.expr(node.body), lambda: self.expr(node.orelse), hint, node
        )

    def choose(self, test, then, orelse, hint, node):
        """Emit an If on ``test`` whose branches compute ``then()`` and ``orelse()``; the joined value."""
        loc = self.loc(node)
        _, then_body, a = self.branch(then)
        _, else_body, b = self.branch(orelse)
        joins: list = []
        value = self.join(a, b, hint, joins, loc)
        self.b.loc = loc
        self.b.body.append(If(test, then_body, else_body, joins, loc))
        return value

    def _boolop(self, node: ast.BoolOp, hint):
        """``a and b`` is ``b if a else a``; ``a or b`` is ``a if a else b``: Python's values and short-circuit."""
        value = self.expr(node.values[0])
        for operand in node.values[1:]:
            first = value
            rest = lambda operand=operand: self.expr(operand)  # noqa: E731
            if isinstance(node.op, ast.And):
                value = self.choose(first, rest, lambda first=first: first, hint, node)
            else:
                value = self.choose(first, lambda first=first: first, rest, hint, node)
        return value

    def _compare(self, node: ast.Compare, hint):
        """``a < b < c`` is ``(a < b) and (b < c)``, with ``b`` evaluated once."""
        left = self.expr(node.left)
        rights = []
        for op, right_node in zip(node.ops, node.comparators):
            if type(op) not in COMPARES:
                raise UnsupportedSyntaxError(
                    f"the comparison '{type(op).__name__}' is not supported",
                    self.loc(node),
                    hint="supported comparisons: < <= > >= == !=",
                )
            rights.append((COMPARES[type(op)][0], right_node))

        def chain(left, rights):
            fn, right_node = rights[0]
            right = self.expr(right_node)
            value = self.at(node).call(fn, left, right, hint=hint if len(rights) == 1 else "")
            if len(rights) == 1:
                return value
            return self.choose(value, lambda: chain(right, rights[1:]), lambda: value, hint, node)

        return chain(left, rights)

    def unsupported(self, node):
        what, hint = UNSUPPORTED.get(type(node), (type(node).__name__, None))
        raise UnsupportedSyntaxError(f"{what} is not supported", self.loc(node), hint=hint)

    def _assign(self, st: ast.Assign):
        for target in st.targets:
            self.check_target(target)
        if len(st.targets) == 1 and isinstance(st.targets[0], ast.Tuple):
            self.unpack(st.targets[0], st.value)
            return
        hint = _hint(st.targets[-1].id) if isinstance(st.targets[-1], ast.Name) else ""
        if isinstance(st.value, ast.Lambda):  # a function bound to a name, to be called later
            value = self.local_function(st.value, hint or "<lambda>")
        else:
            value = self.expr(st.value, hint, allow_tuple=True)  # a name may hold several values: r = eigh(a)
        for target in st.targets:
            if isinstance(target, ast.Tuple):
                raise UnsupportedSyntaxError(
                    "unpacking a value that is not a tuple literal is not supported yet", self.loc(target)
                )
            self.store(target, value)

    def store(self, target, value):
        """Bind a name, or write into an array: ``y[i] = v``."""
        if isinstance(target, ast.Subscript):
            base = self.array_target(target)
            new = self.at(target).call(setitem, base, self.index(target.slice), value, hint="")
            self.write(target, base, new, append=self.is_list(base))  # xs[i] = v changes the list, not its values
        else:
            self.scope[target.id] = value

    def array_target(self, target: ast.Subscript):
        """The array that ``target`` (``y[...]``) writes into, checked: a local array the function made."""
        if not isinstance(target.value, ast.Name):
            raise UnsupportedSyntaxError(
                "only a named array can be written into",
                self.loc(target.value),
                hint="index it in one subscript (y[i, j] = v, not y[i][j] = v)",
            )
        name = target.value.id
        current = self.name(target.value)
        self.check_owned(current, name, target)
        return current

    def check_owned(self, current, name: str, node, views: bool = True):
        """An in-place change of ``current`` must not reach the caller's arrays, a global or an array it views
        (``views=False`` for a list, which holds its values but does not change them when it grows)."""
        if isinstance(current, Global):
            raise UnsupportedSyntaxError(
                f"writing into the global array {name!r} would change it for every later call",
                self.loc(node),
                hint=f"work on a copy: {name} = {name}.copy()",
            )
        if not isinstance(current, Var):
            raise UnsupportedSyntaxError(
                f"{name!r} is a constant, not an array that can be written into", self.loc(node)
            )
        if self.may_be(current) & self.params:
            self.check(
                current,
                self.loc(node),
                f"writing into {name!r} would change an array from outside this function "
                "(the caller's, or the enclosing function's)",
                f"work on a copy: {name} = {name}.copy()",
            )
        if views and self.viewed(current):
            self.check(
                current,
                self.loc(node),
                f"{name!r} may be a view of another array, which writing into it would change too",
                f"write into the array it views, or work on a copy: {name} = {name}.copy()",
            )

    def check(self, var, loc, message: str, hint: str):
        """Require ``var`` not to be an array; verified once abstract values are known (see reverse.py)."""
        self.b.checks.append((var, loc, message, hint))

    def write(self, target, old: Var, new: Var, name: str | None = None, append: bool = False):
        """After ``old``'s array (or list) is changed in place into ``new``: every name for it sees the change (as
        in Python), and a name that may share memory with it without being it (a view, a value chosen by a
        branch) is stale: using it later is an error unless it turns out not to be an array. An ``append`` changes
        the list alone, not the values it holds (``a = xs[0]`` keeps its value), but a list holding the list sees
        it (``zs = [xs]``, and ``w = zs[0]``, which is ``xs``)."""
        name = name or target.value.id
        new.hint = _hint(name)
        objects = self.may_be(old)
        self.aliases[new] = self.aliases.get(old, set())
        where = self.loc(target).line
        for n, v in list(self.scope.items()):
            v = _unstale(v)
            if v is old:
                self.scope[n] = new
            elif isinstance(v, Var) and (
                self.may_be(v) & objects
                or not append
                and (objects & self.b.views.get(v, set()) or v in self.b.views.get(old, ()))
                or append
                and any(
                    self.is_list(u) and not self.may_be(u) & objects and self.viewed(u) & objects
                    for u in {v} | self.viewed(v)
                )
            ):
                self.scope[n] = _Stale(v, f"may share memory with {name!r}, which line {where} writes into")

    def _annassign(self, st: ast.AnnAssign):
        self.check_target(st.target)
        if st.value is not None:
            self.store(st.target, self.expr(st.value, st.target.id if isinstance(st.target, ast.Name) else ""))

    def _augassign(self, st: ast.AugAssign):
        self.check_target(st.target)
        op = BINOPS.get(type(st.op))
        if op is None:
            self.unsupported(st.op)
        if isinstance(st.target, ast.Subscript):  # y[i] += v: read the element, update it, write it back
            checks = len(self.b.checks)
            base = self.array_target(st.target)
            index = self.index(st.target.slice)
            item = self.at(st.target).call(operator.getitem, base, index)
            if self.is_list(base):
                # xs[i] += v on a list is xs[i].__iadd__(v): an array the list holds changes in place, and so
                # does every other name or list holding it; xs[i] + v would be a new array
                target, symbol = ast.unparse(st.target), ast.unparse(st).split()[1][:-1]
                message = (
                    f"'{ast.unparse(st)}' changes in place the array that {target} may be, which other names and "
                    "lists may hold too"
                )
                hint = f"write {target} = {target} {symbol} ... to put a new array in the list"
                # before array_target's checks: this is what the write would get wrong
                self.b.checks.insert(checks, (item, self.loc(st), message, hint))
            value = self.at(st).call(op[0], item, self.expr(st.value))
            new = self.at(st.target).call(setitem, base, index, value)
            self.write(st.target, base, new, append=self.is_list(base))
            return
        name = st.target.id
        current = self.name(st.target)
        if not isinstance(current, Var) or self.is_shared(current, name):
            raise UnsupportedSyntaxError(
                f"in-place '{ast.unparse(st)}' may modify an array that '{name}' shares with another name "
                "or the caller",
                self.loc(st),
                hint=f"write {name} = {name} {ast.unparse(st).split()[1][:-1]} ... to make a new value",
            )
        if self.viewed(current):  # x = y[0]; x += 1 changes y too if x is an array (a view)
            self.check(
                current,
                self.loc(st),
                f"'{ast.unparse(st)}' would also change the array that {name!r} is a view of",
                f"write {name} = {name} {ast.unparse(st).split()[1][:-1]} ... to make a new value",
            )
        new = self.b.call(op[0], current, self.expr(st.value), hint=name)
        self.b.updated.add(new)
        self.scope[name] = new
        for n, v in list(self.scope.items()):  # views of the array see its new values
            v = _unstale(v)
            if isinstance(v, Var) and current in self.b.views.get(v, ()):
                why = f"may be a view of {name!r}, which line {self.loc(st).line} changes in place"
                self.scope[n] = _Stale(v, why)

    def is_shared(self, var: Var, name: str) -> bool:
        """Whether ``var`` may be an argument or the object another local name holds (so in-place writes leak).

        A join may be either of its values at run time, so it shares whatever they share.
        """
        objects = self.may_be(var)
        if objects & self.params:
            return True
        return any(objects & self.may_be(v) for k, v in self.scope.items() if k != name and isinstance(v, Var))

    def viewed(self, v: Var) -> set:
        """The arrays ``v`` may be a view of: its own bases, and those of what it may be (a loop-carried value
        may be the view it started as)."""
        return set().union(*(self.b.views.get(u, set()) for u in self.may_be(v)))

    def may_be(self, v: Var) -> set:
        """The variables whose object ``v`` may be at run time: itself, and for a join each path's value."""
        return {v} | self.aliases.get(v, set())

    def _return(self, st: ast.Return):
        if st.value is None:
            raise UnsupportedSyntaxError("the function returns None; return the value to differentiate", self.loc(st))
        if self.in_loop and self.ret is not None:  # leave the loop, and return after it
            returned, result = self.ret
            if isinstance(result, tuple):  # every return of the loop gives a tuple of len(result) values
                for key, e in zip(result, st.value.elts):
                    self.scope[key] = self.expr(e)
            else:
                value = self.expr(st.value, self.return_hint, allow_tuple=True)
                if isinstance(value, tuple):
                    raise UnsupportedSyntaxError(
                        "a call returning several values cannot be returned from inside a loop",
                        self.loc(st),
                        hint="unpack them into names (a, b = f(...)) and return a, b",
                    )
                self.scope[result] = value
            self.scope[returned] = Const(True)
            self.scope[self.flag] = Const(True)
            return _CONTINUE
        return Return(self.result(st.value, self.return_hint), self.loc(st))

    def return_arity(self, loop) -> int | None:
        """How many values the returns inside ``loop`` give when they return a tuple display (None: one value);
        all must agree."""
        values = [n.value for s in loop.body for n in ast.walk(s) if isinstance(n, ast.Return)]
        lengths = {len(v.elts) if isinstance(v, ast.Tuple) else None for v in values}
        if len(lengths) > 1:
            node = next(v for v in values if isinstance(v, ast.Tuple))
            raise UnsupportedSyntaxError(
                "the returns inside this loop give different numbers of values",
                self.loc(node),
                hint="return the same number of values from every return inside a loop",
            )
        return lengths.pop()

    def result(self, node, hint=""):
        """What a function returns: one operand, or a (nested) tuple of them written as a tuple display."""
        if isinstance(node, ast.Tuple):
            return tuple(self.result(e) for e in node.elts)
        return self.expr(node, hint, allow_tuple=True)

    def _expr_stmt(self, st: ast.Expr):
        if isinstance(st.value, ast.Constant):  # a docstring or a bare literal does nothing
            return
        call = st.value
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr == "append"
            and isinstance(call.func.value, ast.Name)
            and len(call.args) == 1
            and not call.keywords
        ):  # xs.append(v): the list, with v added, under every name for it
            name = call.func.value.id
            current = self.name(call.func.value)
            self.check_owned(current, name, call.func.value, views=False)
            if any(self.read_from_list(u) for u in self.may_be(current)):  # w = zs[0] is the list zs holds
                self.check(
                    current,
                    self.loc(call.func.value),
                    f"{name!r} may be a list that another list holds, which appending to it would change too",
                    f"append to a new list ({name} = [v for v in {name}]) if the other list should not change",
                )
            value = self.expr(call.args[0])
            new = self.at(call).call(list_append, current, value)
            self.b.views[new] = self.viewed(current) | self.held(value)  # it holds v itself, not a copy
            self.write(call, current, new, name, append=True)
            return
        raise UnsupportedSyntaxError(
            "a bare expression statement has no effect on the result or has side effects adcompile cannot follow",
            self.loc(st.value),
            hint="remove it (print calls included) from the differentiated function",
        )

    def _pass(self, st):
        return

    def _def(self, st: ast.FunctionDef):
        """A nested function: bound to its name, inlined at each call."""
        if st.decorator_list:
            raise UnsupportedSyntaxError("decorators on nested functions are not supported", self.loc(st))
        self.scope[st.name] = self.local_function(st, st.name)

    def _lambda(self, node: ast.Lambda, hint):
        return self.local_function(node, "<lambda>")

    def local_function(self, node, name: str) -> _Local:
        args = node.args
        if args.vararg or args.kwarg:
            raise UnsupportedSyntaxError(f"{name}() takes *args or **kwargs, which are not supported", self.loc(node))
        positional = [*args.posonlyargs, *args.args]
        defaults = [None] * (len(positional) - len(args.defaults)) + [self.expr(d) for d in args.defaults]
        kinds = [inspect.Parameter.POSITIONAL_ONLY] * len(args.posonlyargs)
        kinds += [inspect.Parameter.POSITIONAL_OR_KEYWORD] * len(args.args)
        params = [
            inspect.Parameter(a.arg, kind, default=inspect.Parameter.empty if d is None else d)
            for a, kind, d in zip(positional, kinds, defaults)
        ]
        params += [
            inspect.Parameter(
                a.arg,
                inspect.Parameter.KEYWORD_ONLY,
                default=inspect.Parameter.empty if d is None else self.expr(d),
            )
            for a, d in zip(args.kwonlyargs, args.kw_defaults)
        ]
        return _Local(node, name, inspect.Signature(params))

    def inline_local(self, fn: _Local, args, kwargs, node, hint):
        """Lower a nested function's body in place. It sees the enclosing function's names as they are now, and
        may not write into their arrays (that would change them for the enclosing function too)."""
        loc = self.loc(node)
        if fn in self.calls:
            raise UnsupportedSyntaxError(
                f"the recursive call to the inner function {fn.name}() is not supported",
                loc,
                hint="define the recursive function at module level, or write the recursion as a loop",
            )
        try:
            bound = fn.signature.bind(*args, **kwargs)
        except TypeError as e:
            raise UnsupportedSyntaxError(f"{fn.name}(): {e}", loc) from None
        bound.apply_defaults()
        own = _assigned_names(fn.node) if isinstance(fn.node, ast.FunctionDef) else set()
        outer = {k: v for k, v in self.scope.items() if k.isidentifier() and k not in own}
        scope = {**outer, **bound.arguments}

        def where(n):
            return dataclasses.replace(self.loc(n), function=fn.name)

        child = Lowerer(self.b, scope, self.resolve, where, deps=self.deps, calls=(*self.calls, fn))
        child.params = {_unstale(v) for v in scope.values() if isinstance(_unstale(v), Var)} | self.params
        child.unbound = {k: v for k, v in self.unbound.items() if k not in own}
        child.return_hint = hint
        saved = self.b.loc
        if isinstance(fn.node, ast.Lambda):
            self.b.loc = where(fn.node.body)
            result = child.expr(fn.node.body, hint, allow_tuple=True)
        else:
            child.locals = own
            ret = child.block(fn.node.body)
            if ret is None:
                raise UnsupportedSyntaxError(f"{fn.name}() has no return statement, so it returns None", loc)
            result = ret.value
        self.b.loc = saved
        return result

    def _break(self, st):
        if self.flag is None:
            raise UnsupportedSyntaxError("break outside a loop", self.loc(st))
        self.scope[self.flag] = Const(True)
        return _CONTINUE

    def _continue(self, st):
        if not self.in_loop:
            raise UnsupportedSyntaxError("continue outside a loop", self.loc(st))
        return _CONTINUE

    def check_target(self, target):
        if isinstance(target, ast.Tuple):
            for t in target.elts:
                self.check_target(t)
        elif not isinstance(target, (ast.Name, ast.Subscript)):
            raise UnsupportedSyntaxError(
                f"assignment to {type(target).__name__.lower()} targets is not supported yet", self.loc(target)
            )

    def unpack(self, target: ast.Tuple, value):
        if isinstance(value, ast.Tuple) and len(value.elts) == len(target.elts):
            values = [self.expr(v, t.id if isinstance(t, ast.Name) else "") for t, v in zip(target.elts, value.elts)]
        else:
            values = self.expr(value, allow_tuple=True)
            n = len(target.elts)
            if isinstance(values, Const) and isinstance(values.value, tuple):  # s = (2, 3); a, b = s
                values = tuple(Const(v) for v in values.value)
            if isinstance(values, (Var, Global)):  # n, m = x.shape; a, b = rows: checked, then indexed
                # the check is kept even if a and b are unused, and vanishes where the length is known
                checked = self.at(value).call(unpacked, values, Const(n))
                values = tuple(self.at(value).call(operator.getitem, checked, Index((Const(k),))) for k in range(n))
            if not isinstance(values, tuple):
                raise UnsupportedSyntaxError(f"{ast.unparse(value)} cannot be unpacked", self.loc(value))
            if len(values) != n:  # known now: Python's ValueError, located
                raise UnpackingError(f"cannot unpack {len(values)} values into {n} names", self.loc(value))
        for t, v in zip(target.elts, values):
            if isinstance(t, ast.Tuple):
                raise UnsupportedSyntaxError("nested unpacking is not supported yet", self.loc(t))
            self.store(t, v)

    # -- expressions ----------------------------------------------------------------------------------
    def expr(self, node, hint: str = "", allow_tuple: bool = False):
        handler = EXPRESSIONS.get(type(node))
        if handler is None:
            self.unsupported(node)
        value = handler(self, node, hint)
        if isinstance(value, _Values) and not allow_tuple:
            raise UnsupportedSyntaxError(
                "a tuple of computed values can only be returned, unpacked, indexed by a literal or used as a shape",
                self.loc(node),
                hint="assign its values to separate names (a, b = ...), or pass it as a shape: np.zeros((n, m))",
            )
        if isinstance(value, tuple) and not allow_tuple:
            raise UnsupportedSyntaxError(
                "this call returns several values; unpack them (a, b = f(...)) before using them",
                self.loc(node),
            )
        if isinstance(value, _Ref):
            raise UnsupportedSyntaxError(
                f"{value.text} is a {type(value.obj).__name__}, not a number or an array", self.loc(node)
            )
        if isinstance(value, _Method):
            raise UnsupportedSyntaxError(f".{value.name} is a method: call it", self.loc(node))
        if isinstance(value, _Local):
            raise UnsupportedSyntaxError(
                f"{value.name} is a function defined here: it can only be called", self.loc(node)
            )
        return value

    def _constant(self, node: ast.Constant, hint):
        if is_number(node.value) or isinstance(node.value, _LITERAL_TYPES):
            return Const(node.value)
        raise UnsupportedSyntaxError(f"{type(node.value).__name__} literals are not supported", self.loc(node))

    def _name_expr(self, node: ast.Name, hint):
        return self.name(node)

    def name(self, node: ast.Name):
        if node.id in self.scope:
            value = self.scope[node.id]
            if isinstance(value, _Stale):
                self.check(
                    value.value,
                    self.loc(node),
                    f"{node.id!r} {value.why}",
                    f"copy it before the write ({node.id} = {node.id}.copy()) if it should keep its old values"
                    if all(self.b.aval(u).kind != "list" for u in self.may_be(value.value))
                    else f"put copies in the list ({node.id}.append(y.copy())) if it should keep the old values",
                )
                return value.value
            return value
        if node.id in self.unbound:
            why, hint = self.unbound[node.id]
            raise UnsupportedSyntaxError(f"local variable {node.id!r} {why}", self.loc(node), hint=hint)
        if node.id in self.locals:
            raise UnsupportedSyntaxError(f"local variable {node.id!r} is used before it is assigned", self.loc(node))
        return self.wrap(self.resolve(node.id, node), node.id, node)

    def wrap(self, obj, text: str, node):
        """An environment object as an operand (numbers, arrays) or a reference (modules, callables)."""
        if is_number(obj) or isinstance(obj, _LITERAL_TYPES):
            if self.literal_globals or "." in text:
                return Const(obj.item() if isinstance(obj, np.generic) else obj)
            return Global(text, obj)
        if isinstance(obj, np.ndarray):
            return Global(text.rsplit(".", 1)[-1], obj)
        if isinstance(obj, (types.ModuleType, type)) or callable(obj):
            return _Ref(obj, text)
        raise UnsupportedSyntaxError(
            f"{text} is a {type(obj).__name__}; only numbers, arrays, modules and functions can be used",
            self.loc(node),
        )

    def _subscript(self, node: ast.Subscript, hint):
        base = self.expr(node.value, allow_tuple=True)
        if isinstance(base, tuple):  # one of several values: the index must be known
            index = self.expr(node.slice)  # a literal, or a global or closure number (its rebinding recompiles)
            known = isinstance(index, (Const, Global)) and isinstance(index.value, int)
            if not (known and -len(base) <= index.value < len(base)):
                raise UnsupportedSyntaxError(
                    f"a tuple of {len(base)} values can only be indexed by a literal number", self.loc(node.slice)
                )
            return base[index.value]
        return self.at(node).call(operator.getitem, base, self.index(node.slice), hint=hint)

    def index(self, node) -> Index:
        """The subscript of ``x[...]``: ints, slices, None, ..., index arrays and masks, one item per dimension."""
        items = node.elts if isinstance(node, ast.Tuple) else [node]
        out = []
        for item in items:
            if isinstance(item, ast.Slice):
                parts = (item.lower, item.upper, item.step)
                out.append(Slice(*(None if p is None else self.expr(p) for p in parts)))
            elif isinstance(item, ast.Constant) and item.value is Ellipsis:
                out.append(Const(Ellipsis))
            else:
                value = self.expr(item)
                if isinstance(value, Index):  # a rule's index parameter, passed on whole
                    if len(items) != 1:
                        raise AdCompileError("an index parameter must be the whole subscript", self.loc(item))
                    return value
                if isinstance(value, Const) and not (is_number(value.value) or value.value is None):
                    raise UnsupportedSyntaxError(
                        f"{type(value.value).__name__} literals cannot index an array", self.loc(item)
                    )
                out.append(value)
        return Index(tuple(out))

    def _list(self, node: ast.List, hint):
        """``[a, b * c]`` (or ``[]``): a new list holding those values."""
        items = self.pack(node)
        out = self.at(node).call(new_list, items, hint=hint)
        self.b.views[out] = set().union(*map(self.held, items.operands()))  # it holds them, not copies
        return out

    def _tuple(self, node: ast.Tuple, hint):
        for e in node.elts:
            if isinstance(e, ast.Starred):
                self.unsupported(e)
        items = [self.expr(e) for e in node.elts]
        if all(isinstance(v, Const) for v in items):
            return Const(tuple(v.value for v in items))
        return _Values(items)

    def shape(self, node):
        """A call's shape argument: a tuple of computed integers is built at run time, ``(n, m)``."""
        value = self.expr(node, allow_tuple=True)
        if isinstance(value, _Values):
            return self.at(node).call(new_tuple, Pack(tuple(value), "tuple"))
        return self.expr(node) if isinstance(value, tuple) else value  # several outputs: expr says why not

    def reference(self, node):
        """What a dotted name (``np.linalg.norm``) refers to; None for anything that is not a dotted name."""
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.Attribute):
            return self._attribute(node, "")
        return None

    def _attribute(self, node: ast.Attribute, hint):
        if isinstance(node.value, (ast.Name, ast.Attribute)):
            base = self.reference(node.value)
        else:
            base = self.expr(node.value, allow_tuple=True)
        if isinstance(base, _Outputs) and node.attr in base.fields:  # np.linalg.eigh(a).eigenvalues
            return base[base.fields.index(node.attr)]
        if not isinstance(base, _Ref):
            return self.value_attribute(base, node, hint)
        try:
            obj = getattr(base.obj, node.attr)
        except AttributeError:
            raise UnsupportedSyntaxError(f"{base.text} has no attribute {node.attr!r}", self.loc(node)) from None
        return self.wrap(obj, f"{base.text}.{node.attr}", node)

    def value_attribute(self, base, node: ast.Attribute, hint):
        """``x.T``, ``x.shape``, ``x.ndim``, ``x.size``; ``x.sum`` and the other methods, to be called."""
        if node.attr in _ATTRIBUTES:
            return self.at(node).call(_ATTRIBUTES[node.attr], base, hint=hint)
        if node.attr in _METHODS or node.attr in _PACKED:
            return _Method(base, node.attr)
        raise UnsupportedSyntaxError(
            f"the attribute '.{node.attr}' of an array is not supported",
            self.loc(node),
            hint=f"supported: {', '.join(sorted({*_ATTRIBUTES, *(f'{m}()' for m in (*_METHODS, *_PACKED))}))}",
        )

    def method(self, method: _Method, node: ast.Call, hint):
        """``x.sum(axis=0)`` is ``np.sum(x, axis=0)``; ``x.reshape(2, 3)`` is ``np.reshape(x, (2, 3))``."""
        if method.name == "astype":
            return self.astype(method.base, node, hint)
        if self.b.aval(method.base).kind == "list":  # np.copy(xs) would be an array, not a list of the same objects
            raise UnsupportedSyntaxError(
                f"a list's .{method.name}() is not supported (only .append(v) is)",
                self.loc(node),
                hint="a new list of the same values: [v for v in xs]; a list of copies: [v.copy() for v in xs]"
                if method.name == "copy"
                else f"make it an array first: np.{method.name}(np.array(xs))",
            )
        fn = _METHODS.get(method.name) or _PACKED[method.name]
        if method.name == "reshape":  # x.reshape(n, m) or x.reshape((n, m)): a shape, computed or not
            shape = node.args[0] if len(node.args) == 1 else _synthetic(node, ast.Tuple(list(node.args), ast.Load()))
            args = [self.shape(shape)] if node.args else []
        else:
            args = [self.expr(a) for a in node.args]
        kwargs = {
            k.arg: self.shape(k.value) if (k.arg, method.name) == ("shape", "reshape") else self.expr(k.value)
            for k in node.keywords
        }
        if method.name in _PACKED and len(args) > 1:
            if not all(isinstance(a, Const) for a in args):
                raise UnsupportedSyntaxError(
                    f"the arguments of .{method.name}() must be literal numbers", self.loc(node)
                )
            args = [Const(tuple(a.value for a in args))]
        prim = lookup(fn)
        if prim is None:
            raise NonDifferentiableError(
                f"no derivative rule for .{method.name}() (np.{fn.__name__})",
                self.loc(node),
                hint=f"register one: @adcompile.defvjp(np.{fn.__name__})",
            )
        return self.at(node).call(prim, method.base, *args, hint=hint, **kwargs)

    def astype(self, base, node: ast.Call, hint):
        """``x.astype(np.float32)`` (or ``float``, ``"float32"``): a cast to a floating dtype passes the derivative
        through, back in ``x``'s dtype; a cast to integers or bools is a step, with a zero derivative."""
        if len(node.args) != 1 or node.keywords:
            raise UnsupportedSyntaxError("x.astype() takes one dtype here, and no keywords", self.loc(node))
        arg = node.args[0]
        ref = None if isinstance(arg, ast.Constant) else self.reference(arg)
        target = arg.value if isinstance(arg, ast.Constant) else getattr(ref, "obj", None)
        try:
            if not (isinstance(arg, ast.Constant) or isinstance(ref, _Ref)):  # computed at run time (y.dtype)
                raise TypeError
            dtype = np.dtype(target)
        except TypeError:
            raise UnsupportedSyntaxError(
                "the dtype of x.astype() must be named directly (np.float32, float, 'float64')",
                self.loc(arg),
                hint="a dtype read from an array (y.dtype) is known only at run time; x.astype(x.dtype) is x.copy()",
            ) from None
        if dtype.kind not in "fbiu":
            raise UnsupportedSyntaxError(f"casts to {dtype} cannot be differentiated", self.loc(arg))
        fn = astype if dtype.kind == "f" else astype_steps
        return self.at(node).call(fn, base, Const(dtype.name), hint=hint)

    def _binop(self, node: ast.BinOp, hint):
        op = BINOPS.get(type(node.op))
        if op is None:
            raise UnsupportedSyntaxError(
                f"the operator '{_op_text(node)}' is not supported yet",
                self.loc(node),
                hint="supported operators: + - * / ** @ // %",
            )
        left = self.expr(node.left)
        right = self.expr(node.right)
        return self.at(node).call(op[0], left, right, hint=hint)

    def _unaryop(self, node: ast.UnaryOp, hint):
        op = UNARYOPS.get(type(node.op))
        if op is None:
            raise UnsupportedSyntaxError(f"the operator '{_op_text(node)}' is not supported yet", self.loc(node))
        operand = self.expr(node.operand)
        if isinstance(operand, Const) and is_number(operand.value):
            return Const(op[0](operand.value))  # a negative literal, as Python itself folds it
        return self.at(node).call(op[0], operand, hint=hint)

    def _call(self, node: ast.Call, hint):
        if isinstance(node.func, ast.Attribute):
            callee = self._attribute(node.func, "")
        else:
            callee = self.reference(node.func)
        if isinstance(callee, (_Method, _Local)):
            if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
                raise UnsupportedSyntaxError("pass the arguments one by one", self.loc(node))
            if isinstance(callee, _Method):
                return self.method(callee, node, hint)
            args = [self.expr(a) for a in node.args]
            kwargs = {k.arg: self.expr(k.value) for k in node.keywords}
            return self.inline_local(callee, args, kwargs, node, hint)
        if not isinstance(callee, _Ref):
            raise UnsupportedSyntaxError("only functions named directly can be called", self.loc(node.func))
        if callee.obj is sum and 1 <= len(node.args) <= 2 and not node.keywords:
            return self.total(node, hint)
        if callee.obj in (max, min) and len(node.args) >= 2 and not node.keywords:
            return self.extremum(callee.obj, node, hint)
        prim = lookup(callee.obj)
        if prim is None and not isinstance(callee.obj, types.FunctionType):
            raise _no_rule(callee, self.loc(node))
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                self.unsupported(arg)
        if any(k.arg is None for k in node.keywords):
            raise UnsupportedSyntaxError("**kwargs in calls are not supported", self.loc(node))
        if callee.obj in SPLITTING:
            return self.split(callee, node)
        if (
            (callee.obj in PACKING or callee.obj is np.linalg.multi_dot)
            and node.args
            and isinstance(node.args[0], (ast.List, ast.Tuple, ast.ListComp))
            and (not isinstance(node.args[0], ast.ListComp) or self.unrollable(node.args[0]))
        ):
            args = [self.pack(node.args[0]), *(self.expr(a) for a in node.args[1:])]  # np.stack([a, b * c])
        else:
            where = _SHAPES.get(callee.obj) if prim is not None else None
            args = [self.shape(a) if k == where else self.expr(a) for k, a in enumerate(node.args)]
        kwargs = {
            k.arg: self.shape(k.value) if k.arg == "shape" and callee.obj in _SHAPES else self.expr(k.value)
            for k in node.keywords
        }
        if prim is None:
            return self.inline(callee, args, kwargs, node, hint)
        if callee.obj in MULTIPLE:
            return self.several(callee, prim, args, kwargs, node)
        weights = args[2] if len(args) > 2 else kwargs.get("weights", Const(None))
        if callee.obj is np.average and not _is_none(weights):
            return self.weighted_average(args, kwargs, node, hint)
        return self.at(node).call(prim, *args, hint=hint, **kwargs)

    def total(self, node: ast.Call, hint):
        """``sum(e for v in it if c)`` (or of a list comprehension) is a loop adding ``e``; ``sum([a, b])`` is
        ``0 + a + b``, as Python computes it. The comprehension's variables are its own, as in Python."""
        start = self.expr(node.args[1]) if len(node.args) == 2 else Const(0)
        what = node.args[0]
        if isinstance(what, (ast.List, ast.Tuple)):
            value = start
            for e in what.elts:
                if isinstance(e, ast.Starred):
                    self.unsupported(e)
                value = self.at(node).call(operator.add, value, self.expr(e), hint=hint)
            return value
        if not isinstance(what, (ast.GeneratorExp, ast.ListComp)):  # sum(xs): sum(x for x in xs)
            self.hidden += 1
            element = f"<element {self.hidden}>"
            what = _synthetic(
                what,
                ast.GeneratorExp(
                    ast.Name(element, ast.Load()), [ast.comprehension(ast.Name(element, ast.Store()), what, [], 0)]
                ),
            )
        if len(what.generators) != 1:
            raise UnsupportedSyntaxError(
                "sum() of a comprehension with several for clauses is not supported",
                self.loc(what),
                hint="write the loops",
            )
        gen = what.generators[0]
        self.hidden += 1
        acc = f"<sum {self.hidden}>"
        self.scope[acc] = start
        add = ast.Assign([ast.Name(acc, ast.Store())], ast.BinOp(ast.Name(acc, ast.Load()), ast.Add(), what.elt))
        body: list = [add]
        for test in reversed(gen.ifs):
            body = [ast.If(test, body, [])]
        with self.own_names([gen]):
            self._for(_synthetic(what, ast.For(gen.target, gen.iter, body, [])))
        return _unstale(self.scope.pop(acc))

    @contextlib.contextmanager
    def own_names(self, generators):
        """A comprehension's variables are its own, as in Python 3: a name of the same outside is not carried by
        its loops and keeps its value after them, and the variables do not outlive the comprehension."""
        own = {n.id for g in generators for n in ast.walk(g.target) if isinstance(n, ast.Name)}
        saved = {n: self.scope.pop(n) for n in own if n in self.scope}
        saved_unbound = {n: self.unbound[n] for n in own if n in self.unbound}
        yield
        for n in own:
            self.scope.pop(n, None)
            self.unbound.pop(n, None)
        self.scope.update(saved)
        self.unbound.update(saved_unbound)

    def _listcomp(self, node: ast.ListComp, hint):
        """``[e for v in it if c]`` (several ``for`` clauses nest): a new list, and a loop appending ``e``, over
        anything a for loop runs over. The comprehension's variables are its own, as in Python 3."""
        self.hidden += 1
        key = f"<list {self.hidden} {hint}>" if hint else f"<list {self.hidden}>"
        self.scope[key] = self.at(node).call(new_list, Pack((), "list"), hint=hint)
        self.b.views[self.scope[key]] = set()
        append = ast.Call(ast.Attribute(ast.Name(key, ast.Load()), "append", ast.Load()), [node.elt], [])
        body: list = [ast.Expr(_synthetic(node.elt, append))]
        for gen in reversed(node.generators):
            if gen.is_async:
                self.unsupported(node)
            for test in reversed(gen.ifs):
                body = [ast.If(test, body, [])]
            body = [ast.For(gen.target, gen.iter, body, [])]
        with self.own_names(node.generators):
            self._for(_synthetic(node, body[0]))
        return _unstale(self.scope.pop(key))

    def pack(self, node) -> Pack:
        """A list or tuple literal of values, passed whole (nested lists become nested packs)."""
        if isinstance(node, ast.ListComp):
            return self.unrolled(node)
        items = []
        for e in node.elts:
            if isinstance(e, ast.Starred):
                self.unsupported(e)
            items.append(self.pack(e) if isinstance(e, (ast.List, ast.Tuple, ast.ListComp)) else self.expr(e))
        return Pack(tuple(items), "list" if isinstance(node, ast.List) else "tuple")

    def unrollable(self, node: ast.ListComp) -> bool:
        """Whether ``[e for i in range(n)]`` runs over a range known when compiling (literals, global numbers), so
        that it can be joined into an array element by element; otherwise it is a list built by a loop."""
        gen = node.generators[0] if len(node.generators) == 1 else None
        if gen is None or gen.ifs or not isinstance(gen.target, ast.Name) or not self.calls_to(gen.iter, range):
            return False
        if gen.iter.keywords or not 1 <= len(gen.iter.args) <= 3:
            return False
        for a in gen.iter.args:
            if isinstance(a, ast.UnaryOp) and isinstance(a.op, ast.USub):
                a = a.operand
            if not isinstance(a, (ast.Constant, ast.Name)):
                return False
            value = self.expr(a)
            if not (isinstance(value, (Const, Global)) and isinstance(value.value, int)):
                return False
        return True

    def unrolled(self, node: ast.ListComp) -> Pack:
        """``[e for i in range(n)]`` with ``n`` known when compiling (a literal, or a global number): one element
        per ``i``, each computed with ``i`` bound to its value, as a list of values passed whole."""
        gen = node.generators[0] if len(node.generators) == 1 else None
        it = gen.iter if gen is not None else None
        if not (gen is not None and not gen.ifs and isinstance(gen.target, ast.Name) and self.calls_to(it, range)):
            raise UnsupportedSyntaxError(
                "only a list comprehension over range(...), with no if, can be joined into an array",
                self.loc(node),
                hint="fill a preallocated array in a loop instead: y = np.zeros(n); y[i] = ...",
            )
        bounds = [self.expr(a) for a in it.args]
        if not all(isinstance(v, (Const, Global)) and isinstance(v.value, int) for v in bounds):
            raise UnsupportedSyntaxError(
                "a list comprehension joined into an array needs a range known when compiling",
                self.loc(it),
                hint="fill a preallocated array in a loop instead: y = np.zeros(n); y[i] = ...",
            )
        name = gen.target.id
        saved = self.scope.get(name)
        items = []
        for i in range(*(v.value for v in bounds)):
            self.scope[name] = Const(i)
            items.append(self.pack(node.elt) if isinstance(node.elt, (ast.List, ast.ListComp)) else self.expr(node.elt))
        self.scope.pop(name)
        if saved is not None:
            self.scope[name] = saved
        return Pack(tuple(items), "list")

    def split(self, callee: _Ref, node: ast.Call):
        """``np.split(x, 2)`` or ``np.split(x, [1, 3], axis=1)`` (and array_split, hsplit, vsplit, dsplit): one call,
        then one ``split_part`` per part; the sections or indices must be literals, so the parts are counted now."""
        how = SPLITTING[callee.obj]
        try:
            bound = inspect.signature(callee.obj).bind(*node.args, **{k.arg: k.value for k in node.keywords})
        except TypeError as e:
            raise UnsupportedSyntaxError(f"{callee.text}(): {e}", self.loc(node)) from None
        x = self.expr(bound.arguments["ary"])
        where = bound.arguments["indices_or_sections"]
        if isinstance(where, (ast.List, ast.Tuple)):
            items = [self.expr(e) for e in where.elts]
            literal = all(isinstance(v, Const) and isinstance(v.value, int) for v in items)
            sections = Const(tuple(v.value for v in items)) if literal else None
        else:
            value = self.expr(where)
            literal = isinstance(value, (Const, Global)) and isinstance(value.value, int) and value.value > 0
            sections = Const(value.value) if literal else None
        if sections is None:
            raise UnsupportedSyntaxError(
                f"the sections of {callee.text}() must be a literal number or a literal list of indices",
                self.loc(where),
                hint="the number of parts must be known when compiling: np.split(x, 2), np.split(x, [1, 3])",
            )
        axis = self.expr(bound.arguments["axis"]) if "axis" in bound.arguments else Const(0)
        if not (isinstance(axis, Const) and isinstance(axis.value, int)):
            raise UnsupportedSyntaxError(f"the axis of {callee.text}() must be a literal number", self.loc(node))
        count = len(sections.value) + 1 if isinstance(sections.value, tuple) else sections.value
        extra = {"axis": axis} if how in ("split", "array_split") and axis.value != 0 else {}
        parts = self.at(node).call(lookup(callee.obj), x, sections, **extra)
        kwargs = {"sections": sections, "axis": axis, "how": Const(how)}
        values = tuple(
            self.at(node).call(lookup(split_part), x, parts, position=Const(k), **kwargs) for k in range(count)
        )
        return _Outputs(values, ())

    def weighted_average(self, args, kwargs, node, hint):
        """``np.average(x, axis, weights=w)``: ``weighted_average(x, w, axis=...)``, whose rules differentiate both
        (a keyword argument could only be a literal)."""
        try:
            bound = inspect.signature(np.average).bind(*args, **kwargs).arguments
        except TypeError as e:
            raise UnsupportedSyntaxError(f"np.average(): {e}", self.loc(node)) from None
        returned = bound.pop("returned", Const(False))
        if not (isinstance(returned, Const) and returned.value is False):
            raise UnsupportedSyntaxError(
                "np.average(..., returned=...) is not supported with weights", self.loc(node),
                hint="compute the sum of the weights separately: np.sum(w, axis=...)",
            )
        extra = {k: v for k, v in bound.items() if k not in ("a", "weights")}
        return self.at(node).call(lookup(weighted_average), bound["a"], bound["weights"], hint=hint, **extra)

    def several(self, callee: _Ref, prim, args, kwargs, node):
        """A function returning several arrays: one call, then one primitive per output (see rules_multi)."""
        outputs, fields = MULTIPLE[callee.obj]
        for key in kwargs:
            if key in _CHANGES_OUTPUTS.get(callee.obj, ()):
                raise UnsupportedSyntaxError(
                    f"{callee.text}(..., {key}=...) is not supported: it changes what the function returns",
                    self.loc(node),
                    hint=f"call {callee.text} without {key}= and use the outputs you need",
                )
        if callee.obj is np.linalg.svd:
            full = kwargs.get("full_matrices", args[1] if len(args) > 1 else Const(True))
            if not (isinstance(full, Const) and full.value is False):  # U and Vh are refused where used
                outputs = (svd_u_full, outputs[1], svd_vh_full)
        result = self.at(node).call(prim, *args, **kwargs)
        # each output's primitive takes the function's array arguments, then the result: out(a, [b,] result)
        operands = args[: len(inspect.signature(outputs[0]).parameters) - 1]
        values = tuple(self.at(node).call(out, *operands, result) for out in outputs)
        return _Outputs(values, fields)

    def extremum(self, fn, node, hint):
        """``max(a, b, ...)`` / ``min(...)`` of several values: a chain of choices, Python's first best on ties."""
        better = operator.gt if fn is max else operator.lt
        value = self.expr(node.args[0])
        for arg in node.args[1:]:
            candidate = self.expr(arg)
            test = self.at(node).call(better, candidate, value)
            value = self.choose(test, lambda c=candidate: c, lambda v=value: v, hint, node)
        return value

    def inline(self, callee: _Ref, args, kwargs, node, hint):
        """Lower the body of the user's function ``callee`` in place, its parameters bound to the arguments.

        The callee's names resolve in its own module and closure, errors point into its own file, and the free
        names it uses join the caller's freshness record. Its result is an operand, or a tuple of operands.
        """
        fn, loc = callee.obj, self.loc(node)
        if fn in self.calls:
            return self.recursive_call(callee, args, kwargs, node, hint)
        if hasattr(fn, "_adcompile"):
            raise UnsupportedSyntaxError(
                f"{callee.text} is a derivative made by adcompile; calling one inside a function being differentiated "
                "is not supported yet",
                loc,
                hint="differentiate the derivative itself: grad(grad(f)), hessian(f), hvp(f, primals, tangents)",
            )
        src = read_source(fn)
        if self.deps is not None:
            src.deps = self.deps
        fnode = src.node
        if fnode.args.vararg or fnode.args.kwarg:
            raise UnsupportedSyntaxError(f"{callee.text}() takes *args or **kwargs, which are not supported", loc)
        try:
            bound = inspect.signature(fn, follow_wrapped=False).bind(*args, **kwargs)
        except TypeError as e:
            raise UnsupportedSyntaxError(f"{callee.text}(): {e}", loc) from None
        bound.apply_defaults()
        scope = {name: self.default(v, name, node) for name, v in bound.arguments.items()}

        def loc(n):
            return dataclasses.replace(src.loc(n), function=callee.text)

        child = Lowerer(self.b, scope, src.resolve, loc, deps=self.deps, calls=(*self.calls, fn))
        child.params = {v for v in scope.values() if isinstance(v, Var)}
        child.return_hint = hint
        saved = self.b.loc
        if isinstance(fnode, ast.Lambda):
            self.b.loc = loc(fnode.body)
            result = child.expr(fnode.body, hint, allow_tuple=True)
        else:
            child.locals = _assigned_names(fnode)
            ret = child.block(fnode.body)
            if ret is None:
                raise UnsupportedSyntaxError(
                    f"{callee.text}() has no return statement, so it returns None", src.loc(fnode)
                )
            result = ret.value
        self.b.loc = saved
        return result

    def recursive_call(self, callee: _Ref, args, kwargs, node, hint):
        """A call to a function being inlined (recursion) stays a call: see ``calls.py``."""
        fn, loc = callee.obj, self.loc(node)
        fnode = read_source(fn).node
        if isinstance(fnode, ast.Lambda) or fnode.args.kwonlyargs or fnode.args.vararg or fnode.args.kwarg:
            raise UnsupportedSyntaxError(
                f"the recursive function {callee.text}() must be a def with positional parameters only",
                loc,
                hint="move keyword-only, *args and **kwargs parameters out of the recursive function",
            )
        if any(isinstance(n, ast.Return) and isinstance(n.value, ast.Tuple) for n in ast.walk(fnode)):
            raise UnsupportedSyntaxError(
                f"the recursive function {callee.text}() returns a tuple; recursive functions must return one value",
                loc,
                hint="return one value, or write the recursion as a loop",
            )
        try:
            bound = inspect.signature(fn, follow_wrapped=False).bind(*args, **kwargs)
        except TypeError as e:
            raise UnsupportedSyntaxError(f"{callee.text}(): {e}", loc) from None
        bound.apply_defaults()
        operands = [self.default(v, name, node) for name, v in bound.arguments.items()]
        for name, v in zip(bound.arguments, operands):
            if not isinstance(v, (Var, Const, Global)):
                raise UnsupportedSyntaxError(
                    f"the argument {name} of the recursive call to {callee.text}() must be one value", loc
                )
        return self.at(node).call(call_primitive(fn), *operands, hint=hint)

    def default(self, value, name: str, node):
        """An argument bound by the call (an operand already) or a parameter's default value (a literal)."""
        if isinstance(value, (Var, Const, Global)):
            return value
        if is_number(value) or isinstance(value, _LITERAL_TYPES):
            return Const(value.item() if isinstance(value, np.generic) else value)
        return self.wrap(value, name, node)

    def at(self, node) -> Builder:
        """The builder, with errors raised while building ``node`` pointing at it."""
        self.b.loc = self.loc(node) if self.b.sweep == "forward" else self.b.loc
        return self.b


STATEMENTS = {
    ast.If: Lowerer._if,
    ast.For: Lowerer._for,
    ast.While: Lowerer._while,
    ast.Assign: Lowerer._assign,
    ast.AnnAssign: Lowerer._annassign,
    ast.AugAssign: Lowerer._augassign,
    ast.Return: Lowerer._return,
    ast.Expr: Lowerer._expr_stmt,
    ast.Pass: Lowerer._pass,
    ast.FunctionDef: Lowerer._def,
    ast.Continue: Lowerer._continue,
    ast.Break: Lowerer._break,
}
EXPRESSIONS = {
    ast.Constant: Lowerer._constant,
    ast.Name: Lowerer._name_expr,
    ast.Attribute: Lowerer._attribute,
    ast.BinOp: Lowerer._binop,
    ast.UnaryOp: Lowerer._unaryop,
    ast.Call: Lowerer._call,
    ast.Tuple: Lowerer._tuple,
    ast.Subscript: Lowerer._subscript,
    ast.List: Lowerer._list,
    ast.ListComp: Lowerer._listcomp,
    ast.IfExp: Lowerer._ifexp,
    ast.Lambda: Lowerer._lambda,
    ast.BoolOp: Lowerer._boolop,
    ast.Compare: Lowerer._compare,
}


def _op_text(node) -> str:
    return {
        ast.FloorDiv: "//",
        ast.Mod: "%",
        ast.MatMult: "@",
        ast.LShift: "<<",
        ast.RShift: ">>",
        ast.BitAnd: "&",
        ast.BitOr: "|",
        ast.BitXor: "^",
        ast.Not: "not",
        ast.Invert: "~",
    }.get(type(node.op), type(node.op).__name__)


def _is_none(op) -> bool:
    return isinstance(op, Const) and op.value is None


def _no_rule(callee: _Ref, loc: Location):
    if callee.obj in (eval, exec, compile):
        return UnsupportedSyntaxError(
            f"{callee.text}() runs code adcompile cannot read, so it cannot be differentiated",
            loc,
            hint="write the computation out in the function",
        )
    return NonDifferentiableError(
        f"no derivative rule for {callee.text}()",
        loc,
        hint=f"register a rule: @adcompile.defvjp({callee.text}) on a function (g, ans, x) returning the adjoint of x",
    )


def lower_function(src: Source) -> Function:
    """The SSA IR of the user's function."""
    node = src.node
    args = node.args
    if args.vararg or args.kwarg:
        raise UnsupportedSyntaxError("*args and **kwargs parameters are not supported", src.loc(node))
    names = [a.arg for a in args.posonlyargs + args.args]
    kwonly = [a.arg for a in args.kwonlyargs]
    params = [Var(n) for n in names]
    kwvars = [Var(n) for n in kwonly]
    b = Builder()
    scope = dict(zip(names + kwonly, params + kwvars))
    low = Lowerer(b, scope, src.resolve, src.loc, deps=src.deps, calls=(src.fn,))
    low.params = set(params + kwvars)
    if isinstance(node, ast.Lambda):
        b.loc = src.loc(node.body)
        ret = Return(low.result(node.body), src.loc(node.body))
        name = "lambda"
    else:
        low.locals = _assigned_names(node)
        ret = low.block(node.body)
        if ret is None:
            raise UnsupportedSyntaxError(
                f"{node.name}() has no return statement, so it returns None",
                src.loc(node),
                hint="return the value to differentiate",
            )
        name = node.name
    updated = frozenset(b.updated)
    return Function(name, params, b.body, ret, src.filename, node.lineno, kwvars, checks=b.checks, updated=updated)


def _breaks(loop) -> bool:
    """Whether a break of this loop (not of a loop inside it) is in its body."""

    def find(node):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Break) or (not isinstance(child, (ast.For, ast.While)) and find(child)):
                return True
        return False

    return any(isinstance(s, ast.Break) or (not isinstance(s, (ast.For, ast.While)) and find(s)) for s in loop.body)


_HIDDEN = {
    "break": "broke", "returned": "returned", "result": "result", "position": "i", "sequence": "seq", "sum": "total",
    "list": "items"
}  # fmt: skip


def _hint(key: str) -> str:
    """The name generated code prefers for a scope key: the user's name, or one for a name lowering added."""
    if key.isidentifier():
        return key
    words = key[1:-1].split()  # "<list 3 squares>": a name lowering added, and what the user will call it
    return words[2] if len(words) > 2 else _HIDDEN.get(words[0], "")


def _endless(loop) -> bool:
    """``while True:`` with no break of its own (and no else clause, which could not run)."""
    return (
        isinstance(loop, ast.While)
        and isinstance(loop.test, ast.Constant)
        and loop.test.value is True
        and not _breaks(loop)
    )


def _returns(loop) -> bool:
    """Whether a return is anywhere in the loop's body."""
    return any(isinstance(n, ast.Return) for s in loop.body for n in ast.walk(s))


def _name(key: str, where) -> ast.expr:
    return _synthetic(where, ast.Name(key, ast.Load()))


def _not(flag: str, where) -> ast.expr:
    """``not <flag>``, located at ``where`` (the loop) for error messages."""
    return _synthetic(where, ast.UnaryOp(ast.Not(), _synthetic(where, ast.Name(flag, ast.Load()))))


def _synthetic(where, node):
    """A node adcompile adds to the user's code, given the location of ``where``."""
    for n in ast.walk(node):
        if not hasattr(n, "lineno"):
            ast.copy_location(n, where)
    return node


def _jumps(node) -> bool:
    """Whether a return, or a continue of the enclosing loop, is anywhere inside ``node`` (a statement)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Return, ast.Continue, ast.Break)):
            return True
        if isinstance(child, (ast.For, ast.While)):  # its continues are its own
            if any(isinstance(n, ast.Return) for n in ast.walk(child)):
                return True
        elif _jumps(child):
            return True
    return False


def _assigned_names(fnode, written=False) -> set:
    """The function's local variables: every name it assigns; with ``written``, also the arrays it writes into
    (``y[i] = v`` changes what ``y`` holds, but does not make ``y`` a local variable)."""
    names = set()
    for n in ast.walk(fnode):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            names.add(n.id)
        elif written and isinstance(n, ast.Subscript) and isinstance(n.ctx, ast.Store):
            while isinstance(n, ast.Subscript):
                n = n.value
            if isinstance(n, ast.Name):
                names.add(n.id)
        elif written and isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "append":
            if isinstance(n.func.value, ast.Name):  # xs.append(v) changes what xs holds
                names.add(n.func.value.id)
    return names


def lower_rule(b: Builder, prim: Primitive, kind: str, index: int, bindings: dict, hint: str = "", prepared=None):
    """Inline output ``index`` of ``prim``'s ``kind`` rule with its parameters bound to ``bindings``.

    ``prepared`` (a dict) keeps the rule's leading statements lowered once for all the outputs of one call, so
    that what they compute (``gv = ...``) is computed once, before anything the outputs write."""
    t = prim.template(kind)
    low = prepared.get("lowerer") if prepared is not None else None
    if low is None:
        scope = {p: Const(t.defaults[p]) for p in t.params if p in t.defaults}
        scope.update(bindings)

        def resolve(name, node):
            if name in t.globals:
                return t.globals[name]
            import builtins

            if hasattr(builtins, name):
                return getattr(builtins, name)
            raise AdCompileError(
                f"the {kind} rule of {prim.display} uses the name {name!r}, which is not a global of its module",
                hint="rules may use their parameters, module-level names and builtins (closures are not read)",
            )

        def loc(node):
            return b.loc

        low = Lowerer(b, scope, resolve, loc, literal_globals=True)
        for st in t.body:
            STATEMENTS[type(st)](low, st)
        if prepared is not None:
            prepared["lowerer"] = low
    return low.expr(t.outputs[index], hint)
