"""The public transformations: ``grad``, ``value_and_grad``, ``vjp``, ``jvp``, ``jacfwd``, ``derivative_source``,
``ir_text``.

The pipeline, stage by stage (each stage's output can be printed)::

    source = read_source(f)                    # frontend: AST, file, line numbers, environment
    ir     = lower_function(source)            # SSA IR, one primitive per statement  (ir_text)
    adj    = reverse(ir, argnums, avals, ...)  # SSA IR of the adjoint, simplified while built
             (or forward(ir, argnums, avals)     # SSA IR of the jvp, for jvp and jacfwd)
    text   = generate(adj)                     # Python source                        (derivative_source)
    f_grad = compile_function(adj, text, ...)  # a live function, cached per argument signature

Derivatives are specialised on the arguments' kinds at the first call with each signature (Python float or
ndarray, shape, dtype): known shapes let broadcasting bookkeeping disappear from the generated code.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import gc
import inspect
import re
import types
import weakref

import numpy as np

from . import avals as A
from . import rules as _rules  # noqa: F401  (registers the rule table)
from . import rules_linalg as _rules_linalg  # noqa: F401  (contractions and np.linalg)
from . import rules_more as _rules_more  # noqa: F401  (NaN reductions, conversions, signals, covariance)
from . import rules_multi as _rules_multi  # noqa: F401  (functions returning several arrays)
from . import rules_shape as _rules_shape  # noqa: F401  (shape and layout)
from . import simplify as _simplify  # noqa: F401  (and its simplifications)
from .codegen import compile_function, generate
from .errors import SourceUnavailableError, UnsupportedSyntaxError
from .forward import forward
from .frontend import Source, read_source
from .ir import Function, format_ir
from .lower import lower_function
from .reverse import reverse

MAX_SPECIALISATIONS = 32  # per derivative; past this, one generic (shape-agnostic) version serves all calls


class _Compiled:
    """The lowered IR of one user function, re-read when a global it depends on is rebound."""

    def __init__(self, fun):
        self.fun = fun
        self.source: Source | None = None
        self.ir: Function | None = None
        self.derivatives: weakref.WeakSet = weakref.WeakSet()  # whose caches hold code compiled from self.ir
        # fresh(): whether the IR is read and every global it baked in is still bound to the same object
        self.fresh = _never

    def primal(self) -> Function:
        if not self.fresh():
            source = read_source(self.fun)
            self.ir = lower_function(source)  # may raise: then the source is not marked as read
            self.source = source
            self.fresh = source.freshness_check()
            for d in self.derivatives:  # every derivative compiled from the old IR, not only the caller's
                d.forget()
        return self.ir


@contextlib.contextmanager
def _collector_paused():
    """Python's cycle collector paused while a function is transformed: the transformation allocates many small
    objects that live until it ends (IR, abstract values, AST), and the collector ran several times over them,
    6-12% of a first call. It runs again as before afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _never() -> bool:
    return False


class _Derived:
    """The IR of a derivative made by ``grad`` or ``value_and_grad``, as a function of the same arguments: what a
    transform of that derivative (``grad(grad(f))``, ``jacfwd(grad(f))``) starts from. It is the generic
    (shape-agnostic) adjoint, with every write a new value, rebuilt when the IR it comes from is."""

    def __init__(self, d: _Derivative):
        self.d = d
        self.base: Function | None = None  # the IR self.ir was built from
        self.ir: Function | None = None
        self.derivatives: weakref.WeakSet = weakref.WeakSet()

    @property
    def source(self) -> Source:
        return self.d.compiled.source

    def fresh(self) -> bool:
        return self.d.compiled.fresh() and self.d.compiled.ir is self.base

    def primal(self) -> Function:
        base = self.d.compiled.primal()
        if base is not self.base:
            self.ir, self.base = self.d.ir(base, None, in_place=False), base
            for d in self.derivatives:
                d.forget()
        return self.ir


_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _compiled(fun) -> _Compiled | _Derived:
    d = getattr(fun, "_adcompile", None)
    if isinstance(d, _Derivative):
        if d.mode != "reverse" or d.split is not None:
            raise _made_by(fun, "jacfwd")
        c = _COMPILED.get(fun)
        if c is None:
            c = _COMPILED[fun] = _Derived(d)
        return c
    if getattr(fun, "_adcompile_made", None):
        raise _made_by(fun, fun._adcompile_made)
    if not isinstance(fun, types.FunctionType):
        raise SourceUnavailableError(
            f"{fun!r} is not a Python function; adcompile differentiates functions written in Python",
            hint="wrap it in a def, or declare it a primitive with @adcompile.defvjp(...)",
        )
    c = _COMPILED.get(fun)
    if c is None:
        c = _COMPILED[fun] = _Compiled(fun)
    return c


def _made_by(fun, transform: str) -> UnsupportedSyntaxError:
    return UnsupportedSyntaxError(
        f"{fun.__name__} was made by adcompile's {transform}; it cannot be differentiated again",
        hint="differentiate grad(f) instead: hessian(f) is jacfwd(grad(f))",
    )


def _check_argnums(fun, argnums, nparams: int):
    items = argnums if isinstance(argnums, tuple) else (argnums,)
    if not items or not all(isinstance(i, int) and not isinstance(i, bool) for i in items):
        raise TypeError(f"argnums must be an int or a non-empty tuple of ints, not {argnums!r}")
    for i in items:
        if not 0 <= i < nparams:
            raise ValueError(
                f"argnums {i} is out of range: {getattr(fun, '__name__', fun)} has {nparams} positional parameters"
            )
    if len(set(items)) != len(items):
        raise ValueError(f"argnums {argnums!r} names a parameter twice")


def signature_key(args) -> tuple:
    """What a specialisation depends on: each argument's type, and its shape and dtype if it is an array."""
    key = tuple(map(type, args))
    if np.ndarray in key:
        key = tuple([(a.shape, a.dtype) if type(a) is np.ndarray else type(a) for a in args])
    return key


def _check_differentiable(a, i: int, fname: str):
    """Differentiated arguments are Python or NumPy floats, or plain ndarrays of floats."""
    if type(a) is np.ndarray:
        if a.dtype.kind != "f":
            raise _bad_argument(a, i, fname)
    elif not isinstance(a, (float, np.floating)):
        raise _bad_argument(a, i, fname)


def _bad_argument(a, i: int, fname: str) -> TypeError:
    if type(a) is np.ndarray:
        what = f"an array of dtype {a.dtype}"
        fix = "convert it with x.astype(float)" if a.dtype.kind in "biu" else "pass a real floating-point array"
    elif isinstance(a, (bool, np.bool_)):
        what, fix = f"the bool {a!r}", "pass a float"
    elif isinstance(a, (int, np.integer)):
        what, fix = f"the integer {a!r}", f"pass a float such as {float(a)!r}"
    elif isinstance(a, (complex, np.complexfloating)):
        what, fix = f"the complex number {a!r}", "complex differentiation is not supported; pass real parts"
    elif isinstance(a, np.ndarray) or type(a).__module__.startswith("numpy"):
        what, fix = f"a {type(a).__name__}", "pass a plain numpy.ndarray of floats (np.asarray(x))"
    elif isinstance(a, (list, tuple)):
        what, fix = f"a {type(a).__name__}", "pass np.asarray(x, dtype=float) instead"
    else:
        what, fix = f"{a!r} of type {type(a).__name__}", "pass a float or a float ndarray"
    return TypeError(f"cannot differentiate {fname}() with respect to argument {i}: it is {what}; {fix}")


class _Derivative:
    """Compiles and caches the adjoint of one function for one ``argnums`` and output form."""

    def __init__(
        self, fun, argnums, with_value: bool, split: str | None = None, has_aux: bool = False, mode: str = "reverse"
    ):
        self.fun = fun
        self.has_aux = has_aux
        # "reverse": the adjoint (grad, vjp); "forward": the jvp f_jvp(*params, *tangents) -> (value, tangent),
        # whose calls pass the tangents after the positional arguments
        self.mode = mode
        # "once" or "reusable": compile (forward sweep, reverse sweep) pairs for calls.Pullback, whose reverse
        # sweep runs once, or any number of times
        self.split = split
        if inspect.ismethod(fun):
            raise TypeError(
                f"cannot differentiate the bound method {fun.__qualname__}; differentiate a plain function "
                "that takes the object's data as arguments"
            )
        self.compiled = _compiled(fun)
        inner = getattr(fun, "_adcompile", None)  # a derivative: it takes the arguments of what it differentiates
        self.signature = inner.signature if inner is not None else inspect.signature(fun, follow_wrapped=False)
        if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in self.signature.parameters.values()):
            self.compiled.primal()  # raises the located error about *args / **kwargs
        positional = [
            p for p in self.signature.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        _check_argnums(fun, argnums, len(positional))
        self.nparams = len(positional)
        self.argnums = argnums
        self.diff = set(argnums) if isinstance(argnums, tuple) else {argnums}
        self.with_value = with_value
        self.cache: dict = {}
        self.compiled.derivatives.add(self)
        self.name = getattr(fun, "__name__", "f")
        self.entry: _Entry | None = None  # the function grad returned, when there is one (see _dispatcher)

    def forget(self):
        """Drop every compiled specialisation: the IR they were made from is stale."""
        self.cache.clear()
        if self.entry is not None:
            self.entry.reset()

    def function_for(self, args):
        """The generated function that a call with these positional arguments runs."""
        return self.adjoint(args, signature_key(args))

    def adjoint(self, args, key):
        """The compiled adjoint for these positional arguments, whose :func:`signature_key` is ``key``.

        This is the slow path, taken when the cache has no entry for ``key`` or the source must be re-read:
        it checks the arguments, refreshes the IR and compiles a specialisation if needed.
        """
        for i in self.diff:
            _check_differentiable(args[i], i, self.name)
            if self.mode == "reverse" and isinstance(self.compiled, _Derived) and np.ndim(args[i]) != 0:
                raise TypeError(
                    f"grad of the derivative {self.name}() takes scalar arguments to differentiate (argument {i} "
                    f"has shape {np.shape(args[i])}); for the Hessian of an array function use hessian(f)"
                )
        with _collector_paused():
            ir = self.compiled.primal()
            f = self.cache.get(key)
            if f is None:
                if len(self.cache) >= MAX_SPECIALISATIONS:
                    key, specialise = None, None
                    f = self.cache.get(None)
                else:
                    specialise = args
                if f is None:
                    guard = key if self.entry is not None and self.entry.vacant() else None
                    f = self.cache[key] = self.build(ir, specialise, guard)[1]
                    if guard is not None:
                        self.entry.install(f)
        return f

    def ir(self, ir: Function, args=None, in_place: bool = True):
        """The IR of this derivative of ``ir`` (not split), specialised to ``args`` or generic if None.

        The gradient of a derivative is computed by forward mode over the derivative's IR (forward over reverse),
        one unit tangent per differentiated argument, which must therefore be a scalar."""
        if self.mode == "forward":
            primals, tangents = (None, None) if args is None else (args[: self.nparams], args[self.nparams :])
            avals = [A.of_value(t) for t in tangents] if tangents else None
            return forward(ir, self.argnums, self.param_avals(ir, primals), avals, in_place=in_place)
        avals = self.param_avals(ir, args)
        if isinstance(self.compiled, _Derived):
            if self.has_aux:
                raise UnsupportedSyntaxError(f"{self.name}: has_aux is not supported for a derivative of a derivative")
            if isinstance(self.argnums, tuple):
                raise UnsupportedSyntaxError(
                    f"grad of the derivative {self.name}() takes one argnums position (an int), not a tuple",
                    hint="use hessian(f, argnums=(...)) for mixed second derivatives",
                )
            outputs = "both" if self.with_value else "tangent"
            return forward(ir, self.argnums, avals, unit=True, outputs=outputs, in_place=in_place)
        return reverse(ir, self.argnums, avals, self.with_value, has_aux=self.has_aux, in_place=in_place)

    def build(self, ir: Function, args=None, guard: tuple | None = None):
        """(source, function) of the adjoint, specialised to ``args`` or generic if ``args`` is None; with ``guard``
        (the arguments' signature key), the function is compiled with the guard that lets the function ``grad``
        returned run its code (see :class:`_Entry`)."""
        if self.mode == "forward" or (self.split is None and isinstance(self.compiled, _Derived)):
            fn = self.ir(ir, args)
            source, namespace = generate(fn)
            f = compile_function(fn, source, namespace, f"{fn.name} of {self.compiled.source.filename}")
            if self.mode != "forward":  # the jvp's tangents come after the parameters: no defaults
                f.__defaults__ = self.fun.__defaults__
            f.__kwdefaults__ = self.fun.__kwdefaults__
            return source, f
        split, reusable = self.split is not None, self.split == "reusable"
        avals = self.param_avals(ir, args)
        adj = reverse(ir, self.argnums, avals, self.with_value, split, reusable, has_aux=self.has_aux)
        sources, functions = [], []
        for part in adj if split else (adj,):
            source, namespace = generate(part)
            text = source
            if guard is not None:
                text, names = self.entry.guarded(source, namespace, guard)
                namespace = {**namespace, **names}
            f = compile_function(part, text, namespace, f"{part.name} of {self.compiled.source.filename}")
            f.__defaults__ = self.fun.__defaults__
            f.__kwdefaults__ = self.fun.__kwdefaults__
            sources.append(source)
            functions.append(f)
        return "\n\n".join(sources), tuple(functions) if split else functions[0]

    def param_avals(self, ir: Function, args):
        params = ir.params + ir.kwonly
        if args is None:
            out = [A.symbolic(p.hint) for p in params]
            for i in self.diff:
                out[i] = A.Aval(out[i].shape, "f", None)
            return out
        return [A.of_value(a) for a in args] + [A.symbolic(p.hint) for p in ir.kwonly]

    def positional(self, args, kwargs):
        """Arguments bound the way Python would, as (positional tuple, keyword-only dict)."""
        bound = self.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        pos = tuple(bound.arguments[name] for name in list(self.signature.parameters)[: self.nparams])
        kw = {k: v for k, v in bound.arguments.items() if k not in list(self.signature.parameters)[: self.nparams]}
        return pos, kw


def _transform(fun, argnums, with_value: bool, has_aux: bool):
    d = _Derivative(fun, argnums, with_value, has_aux=has_aux)
    entry = _dispatcher(d)
    derivative = functools.wraps(fun)(entry.function)
    derivative._adcompile = d
    if isinstance(d.compiled, _Compiled):  # a derivative of a derivative keeps the generic dispatch
        d.entry = entry
    return derivative


class _Entry:
    """The function ``grad`` returns, and which code it runs.

    It starts with the generic dispatch (see :func:`_dispatcher`): build the arguments' signature key, look the
    adjoint up, check that the source is fresh, call the adjoint. When the adjoint for a first signature is
    compiled, the function starts running that adjoint's code itself (its ``__code__`` is replaced), behind a guard
    written as its first statement: the arguments have that signature, and every free name of the source is still
    bound to what it was (the freshness tests, written out). When the guard fails, the call goes to the generic
    dispatch. So a call with the first signature builds no key, looks nothing up and opens no second frame.

    The adjoint in the cache is compiled from the same text; its guard is switched off by a global of its own
    namespace (``_on = False``), so the generic dispatch calling it never comes back to it."""

    def __init__(self, d: _Derivative, generic, internals: dict, parameters: str, call: str):
        self.d = d
        self.generic = generic  # the generic dispatch, a function of its own
        self.internals = internals  # the generic dispatch's globals
        self.function = types.FunctionType(generic.__code__, dict(internals), generic.__name__, generic.__defaults__)
        self.function.__kwdefaults__ = generic.__kwdefaults__
        self.parameters = parameters  # the parameter list, defaults written None (the function keeps its own)
        self.call = call  # the arguments, passed on as the generic dispatch passes them
        self.switch: str | None = None  # the guard's on/off global in the adjoint compiled last with a guard

    def vacant(self) -> bool:
        return self.function.__code__ is self.generic.__code__

    def reset(self):
        if not self.vacant():
            self.function.__code__ = self.generic.__code__
            self.function.__globals__.update(self.internals)

    def guarded(self, source: str, namespace: dict, key: tuple) -> tuple[str, dict]:
        """``source`` with the guard for ``key`` as its first statement, and the globals the guard reads."""
        head, body = source.split("\n", 1)
        fdef = ast.parse(head + "\n    pass").body[0]
        names = [a.arg for a in (*fdef.args.posonlyargs, *fdef.args.args, *fdef.args.kwonlyargs)]
        if names != list(self.d.signature.parameters) or fdef.args.vararg or fdef.args.kwarg:
            self.switch = None
            return source, {}
        taken = set(re.findall(r"[A-Za-z_]\w*", source)) | namespace.keys() | self.internals.keys()
        suffix = "_"
        while True:
            tests, globs = self.d.compiled.source.freshness_tests("_", suffix)
            fixed = {f"_{n}{suffix}" for n in ("on", "generic", "type", "ndarray")}
            keyed = {f"_{c}{i}{suffix}" for i in range(len(key)) for c in "ksd"}
            if not (taken & (globs.keys() | fixed | keyed)):
                break
            suffix += "_"
        on, t, nd = f"_on{suffix}", f"_type{suffix}", f"_ndarray{suffix}"
        globs.update({on: False, f"_generic{suffix}": self.generic, t: type, nd: np.ndarray})
        failed = []
        for i, (p, item) in enumerate(zip(names, key)):
            if isinstance(item, tuple):  # an array: (shape, dtype)
                globs[f"_s{i}{suffix}"], globs[f"_d{i}{suffix}"] = item
                failed.append(f"{t}({p}) is not {nd} or {p}.shape != _s{i}{suffix} or {p}.dtype is not _d{i}{suffix}")
            else:
                globs[f"_k{i}{suffix}"] = item
                failed.append(f"{t}({p}) is not _k{i}{suffix}")
        if tests:
            failed.append(f"not ({' and '.join(tests)})")
        self.switch = on
        name = head[len("def ") : head.index("(")]
        guard = f"    if {on} and ({' or '.join(failed)}): return _generic{suffix}({self.call})"
        first, rest = body.split("\n", 1)
        if first.lstrip().startswith("#"):  # in place of the first comment: the lines keep their numbers
            body = rest
        return f"def {name}({self.parameters}):\n{guard}\n{body}", globs

    def install(self, f):
        """Run ``f``'s code in the function itself. :meth:`guarded` wrote it with the generic dispatch's own
        parameter list (``self.parameters``), so Python binds a call to either code alike."""
        if self.switch is None:  # compiled without a guard: the parameters differed
            return
        scope, mine = f.__globals__, self.function.__globals__
        if any(scope[k] is not v for k, v in self.internals.items() if k in scope and k != "__builtins__"):
            return  # a name of the user's that the generic dispatch uses too: keep the generic dispatch
        mine.update(scope)
        mine[self.switch] = True
        self.function.__code__ = f.__code__


def _dispatcher(d: _Derivative):
    """The function ``grad`` returns: it takes the arguments as ``d.fun`` does (same parameters and defaults, so
    Python binds a call as it would bind ``d.fun``'s), finds the adjoint compiled for their signature and calls it.
    It runs on every call, so it is generated for the signature: no ``*args`` packing, no loop. Its own names
    take a suffix (``_type_``) if a parameter has the same name.

    >>> from adcompile import grad
    >>> def loss(x, *, shift=1.0):
    ...     return x * x + shift * x
    >>> print(grad(loss)._adcompile.dispatch_source, end="")
    def loss(x, *, shift=_default0):
        key = ((x.shape, x.dtype) if _type(x) is _ndarray else _type(x),)
        f = _get(key)
        if f is None or not _compiled.fresh():
            f = _slow((x,), key)
        return f(x, shift=shift)
    """
    params = list(d.signature.parameters.values())
    name = d.name if d.name.isidentifier() else "derivative"
    taken = {p.name for p in params} | {name}  # the function's own name is a global of its namespace too
    suffix = ""
    internal = ["key", "f", "_type", "_ndarray", "_get", "_compiled", "_slow"]
    internal += [f"_default{k}" for k in range(len(params))]
    while taken & {n + suffix for n in internal}:
        suffix += "_"
    key, f, t, nd = "key" + suffix, "f" + suffix, "_type" + suffix, "_ndarray" + suffix
    namespace = {t: type, nd: np.ndarray, "_get" + suffix: d.cache.get, "_compiled" + suffix: d.compiled}
    namespace["_slow" + suffix] = d.adjoint
    parts, defaults = [], 0
    for p in params:
        if p.kind is p.KEYWORD_ONLY and "*" not in parts:
            parts.append("*")
        if p.default is p.empty:
            parts.append(p.name)
        else:
            default, defaults = f"_default{defaults}{suffix}", defaults + 1
            namespace[default] = p.default
            parts.append(f"{p.name}={default}")
        if p.kind is p.POSITIONAL_ONLY and (p is params[-1] or params[params.index(p) + 1].kind is not p.kind):
            parts.append("/")
    positional = [p.name for p in params[: d.nparams]]
    values = ", ".join(positional) + ("," if len(positional) == 1 else "")
    call = ", ".join([*positional, *(f"{p.name}={p.name}" for p in params[d.nparams :])])
    bare = [part.split("=")[0] + ("=None" if "=" in part else "") for part in parts]
    source = (
        f"def {name}({', '.join(parts)}):\n"
        f"    {key} = ({', '.join(f'({p}.shape, {p}.dtype) if {t}({p}) is {nd} else {t}({p})' for p in positional)}"
        f"{',' if len(positional) == 1 else ''})\n"
        f"    {f} = _get{suffix}({key})\n"
        f"    if {f} is None or not _compiled{suffix}.fresh():\n"
        f"        {f} = _slow{suffix}(({values}), {key})\n"
        f"    return {f}({call})\n"
    )
    exec(compile(source, f"<adcompile dispatch of {name}>", "exec"), namespace)
    d.dispatch_source = source
    internals = dict(namespace)
    return _Entry(d, internals.pop(name), internals, ", ".join(bare), call)


def grad(fun=None, argnums: int | tuple = 0, has_aux: bool = False):
    """The gradient of a scalar-valued function, compiled to Python source.

    Usable bare (``@grad``) or with arguments (``@grad(argnums=(0, 1))``). With an int ``argnums`` the result is
    the gradient with respect to that positional argument, with the argument's shape (a float for a Python float or
    a 0-d array) and the dtype NumPy computes it in (a float32 argument gets a float32 gradient unless the function
    mixes it with float64 values); with a tuple it is a tuple of gradients. With ``has_aux=True`` the function
    returns a pair ``(output, aux)``; the derivative returns ``(gradient, aux)``.

    >>> import numpy as np
    >>> from adcompile import grad
    >>> @grad
    ... def f(x):
    ...     return x * np.sin(x)
    >>> round(float(f(1.0)), 6)   # sin(1) + cos(1)
    1.381773
    """
    if fun is None:
        return lambda f: grad(f, argnums, has_aux)
    return _transform(fun, argnums, with_value=False, has_aux=has_aux)


def value_and_grad(fun=None, argnums: int | tuple = 0, has_aux: bool = False):
    """Like :func:`grad`, but the derivative returns ``(value, gradient)``, computed in one sweep; with
    ``has_aux=True``, ``((value, aux), gradient)``.

    >>> from adcompile import value_and_grad
    >>> value_and_grad(lambda x, y: x * y, argnums=(0, 1))(2.0, 5.0)
    (10.0, (5.0, 2.0))
    """
    if fun is None:
        return lambda f: value_and_grad(f, argnums, has_aux)
    return _transform(fun, argnums, with_value=True, has_aux=has_aux)


def vjp(fun, *primals):
    """``(fun(*primals), vjp_fn)``: the value, and the function mapping an adjoint ``g`` of the value (of its shape)
    to the tuple of ``fun``'s gradients ``⟨g, ∂fun/∂primals[i]⟩``, one per primal, compiled as ``grad`` is.

    The value may be an array: ``vjp_fn(g)`` is then row ``g`` of the Jacobian (the transposed Jacobian times
    ``g``). ``vjp_fn`` may be called many times; it reads the primals when called, so do not write into them in
    between.

    >>> import numpy as np
    >>> from adcompile import vjp
    >>> y, f_vjp = vjp(lambda x, w: np.tanh(w * x), np.array([0.5, -1.0]), 2.0)
    >>> gx, gw = f_vjp(np.array([1.0, 0.0]))
    >>> gx, round(float(gw), 6)           # d y[0]/dx = w (1 - y[0]²); d y[0]/dw = x[0] (1 - y[0]²)
    (array([0.83994868, 0.        ]), 0.209987)
    """
    if not primals:
        raise TypeError("vjp(fun, *primals) needs at least one primal to differentiate with respect to")
    from .calls import pullback_primitive  # calls imports this module

    value, back = pullback_primitive(fun, tuple(range(len(primals))), reusable=True).fn(*primals)
    shape = np.shape(value)
    if type(value) is np.ndarray:
        value = value.copy()  # the caller's to change: the pullback may read the original

    def vjp_fn(g):
        if np.shape(g) != shape:
            raise ValueError(f"vjp_fn expects an adjoint of the value's shape {shape}, not of shape {np.shape(g)}")
        return back(g)

    return value, vjp_fn


def jacrev(fun, argnums: int | tuple = 0):
    """The Jacobian of ``fun`` by reverse mode: one reverse sweep per element of the output.

    Shaped ``out.shape + arg.shape`` (a tuple of Jacobians for a tuple ``argnums``). Cheaper than forward mode
    when the output has fewer elements than the arguments. Arguments are positional.

    >>> import numpy as np
    >>> from adcompile import jacrev
    >>> jacrev(lambda x: np.array([x[0] * x[1], np.sin(x[1])]))(np.array([2.0, 0.0]))
    array([[0., 2.],
           [0., 1.]])
    """
    items = argnums if isinstance(argnums, tuple) else (argnums,)

    @functools.wraps(fun)
    def jacobian(*args):
        from .calls import pullback_primitive  # calls imports this module

        value, back = pullback_primitive(fun, items, reusable=True).fn(*args)
        shape, dtype = np.shape(value), np.result_type(value)
        rows = []
        for k in np.ndindex(shape):  # one reverse sweep per output element
            g = np.zeros(shape, dtype)
            g[k] = 1
            rows.append(back(g if shape else g[()]))
        jacobians = tuple(
            np.reshape(np.array([row[j] for row in rows]), shape + np.shape(args[i])) for j, i in enumerate(items)
        )
        return jacobians if isinstance(argnums, tuple) else jacobians[0]

    jacobian._adcompile_made = "jacrev"
    return jacobian


def jacobian(fun, argnums: int | tuple = 0):
    """The Jacobian of ``fun``, shaped ``out.shape + arg.shape``, by the cheaper mode at each call: forward mode
    (:func:`jacfwd`, one sweep per input element) when the differentiated arguments have fewer elements than the
    output, reverse mode (:func:`jacrev`, one forward sweep, then one reverse sweep per output element) otherwise
    (``benchmarks/bench_jacobians.py`` measures where the two cross). A function returning a tuple gets a tuple of
    Jacobians, one per output, by forward mode.

    >>> import numpy as np
    >>> from adcompile import jacobian
    >>> jacobian(lambda x: np.outer(x, x))(np.array([1.0, 2.0])).shape   # 2 inputs, 4 outputs: forward mode
    (2, 2, 2)
    """
    by_columns, by_rows = jacfwd(fun, argnums), jacrev(fun, argnums)
    items = argnums if isinstance(argnums, tuple) else (argnums,)

    @functools.wraps(fun)
    def jacobian(*args):
        n = sum(np.size(args[i]) for i in items)
        if n == 1:
            return by_columns(*args)  # one input element: one forward sweep, whatever the output
        value = fun(*args)
        if isinstance(value, tuple):  # several outputs: forward mode, which takes them all in each sweep
            return by_columns(*args)
        return by_columns(*args) if n < np.size(value) else by_rows(*args)

    jacobian._adcompile_made = "jacobian"
    return jacobian


def hessian(fun, argnums: int | tuple = 0):
    """The Hessian of a scalar function: ``jacfwd(grad(fun, argnums), argnums)``, forward mode over the compiled
    gradient, shaped ``arg.shape + arg.shape`` (nested tuples ``H[i][j]`` for a tuple ``argnums``).

    >>> import numpy as np
    >>> from adcompile import hessian
    >>> hessian(lambda x: x[0] ** 2 * x[1] + np.sin(x[1]))(np.array([1.0, 0.0]))
    array([[0., 2.],
           [2., 0.]])
    """
    if isinstance(argnums, tuple):
        rows = [jacfwd(grad(fun, i), argnums) for i in argnums]

        @functools.wraps(fun)
        def blocks(*args):
            return tuple(row(*args) for row in rows)

        blocks._adcompile_made = "hessian"
        return blocks
    h = jacfwd(grad(fun, argnums), argnums)
    return h


def hvp(fun, primals: tuple, tangents: tuple):
    """The Hessian of a scalar function times ``tangents``, without forming the Hessian: the jvp of its gradient
    (with respect to every primal), one forward sweep over the compiled gradient. One primal gives one array, several
    a tuple.

    >>> import numpy as np
    >>> from adcompile import hvp
    >>> hvp(lambda x: np.sum(x ** 3), (np.array([1.0, 2.0]),), (np.array([1.0, 0.0]),))   # 6 x * t
    array([6., 0.])
    """
    argnums = 0 if len(primals) == 1 else tuple(range(len(primals)))
    return jvp(grad(fun, argnums), primals, tangents)[1]


_FORWARD: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # fun -> {argnums: its forward _Derivative}


def _forward_derivative(fun, argnums) -> _Derivative:
    if not isinstance(fun, types.FunctionType):
        _compiled(fun)  # the error for what is not a Python function
    table = _FORWARD.setdefault(fun, {})
    d = table.get(argnums)
    if d is None:
        d = table[argnums] = _Derivative(fun, argnums, with_value=True, mode="forward")
    return d


def _check_tangent(p, t, i: int, fname: str):
    """A tangent has its primal's shape and a floating dtype."""
    if type(t) is np.ndarray:
        if t.dtype.kind != "f":
            raise TypeError(f"the tangent of argument {i} of {fname}() has dtype {t.dtype}; pass floating values")
    elif not isinstance(t, (float, np.floating)):
        raise TypeError(
            f"the tangent of argument {i} of {fname}() is {t!r} of type {type(t).__name__}; "
            "pass a float or a float ndarray of the argument's shape"
        )
    if np.shape(t) != np.shape(p):
        raise ValueError(
            f"the tangent of argument {i} of {fname}() has shape {np.shape(t)}, but the argument has shape "
            f"{np.shape(p)}"
        )


def jvp(fun, primals: tuple, tangents: tuple):
    """``(fun(*primals), tangent)``: the value, and its directional derivative along ``tangents`` (one per primal,
    of its shape and a floating dtype), computed together by forward mode: the Jacobian of ``fun`` times the
    tangents, without forming the Jacobian. The jvp is compiled to Python source (``derivative_source(...,
    mode="forward")``) and cached per argument signature, like ``grad``.

    >>> import numpy as np
    >>> from adcompile import jvp
    >>> y, dy = jvp(lambda x, w: np.tanh(w * x), (np.array([0.5, -1.0]), 2.0), (np.array([1.0, 0.0]), 0.0))
    >>> dy                                   # w (1 - y²) along x's first element
    array([0.83994868, 0.        ])
    """
    if not isinstance(primals, tuple) or not isinstance(tangents, tuple):
        raise TypeError(
            f"jvp(fun, primals, tangents) takes tuples of primals and tangents, not {type(primals).__name__} and "
            f"{type(tangents).__name__}"
        )
    if len(primals) != len(tangents):
        raise ValueError(f"jvp got {len(primals)} primals but {len(tangents)} tangents; pass one tangent per primal")
    if not primals:
        raise TypeError("jvp(fun, primals, tangents) needs at least one primal to differentiate with respect to")
    d = _forward_derivative(fun, tuple(range(len(primals))))
    if len(primals) != d.nparams:
        raise TypeError(
            f"jvp: {d.name}() takes {d.nparams} positional arguments, but {len(primals)} primals were given"
        )
    for i, (p, t) in enumerate(zip(primals, tangents)):
        _check_tangent(p, t, i, d.name)
    args = primals + tangents
    return d.function_for(args)(*args)


def jacfwd(fun, argnums: int | tuple = 0):
    """The Jacobian of ``fun`` by forward mode: one jvp per element of the argument at ``argnums``, shaped
    ``out.shape + in.shape`` (a tuple of Jacobians for a tuple ``argnums``). The output may be a scalar, an array
    or a tuple of them (then one entry per output). Forward mode suits functions with fewer inputs than outputs;
    ``grad`` the other way round.

    >>> import numpy as np
    >>> from adcompile import jacfwd
    >>> jacfwd(lambda x: x * np.array([1.0, 2.0, 3.0]))(2.0)
    array([1., 2., 3.])
    >>> jacfwd(lambda x: np.cumsum(x))(np.ones(3))
    array([[1., 0., 0.],
           [1., 1., 0.],
           [1., 1., 1.]])
    """
    items = argnums if isinstance(argnums, tuple) else (argnums,)
    ds = [_forward_derivative(fun, i if isinstance(i, int) else argnums) for i in items]
    _check_argnums(fun, argnums, ds[0].nparams)
    n = ds[0].nparams

    @functools.wraps(fun)
    def jacobian(*args, **kwargs):
        if kwargs or len(args) != n:
            args, kwargs = ds[0].positional(args, kwargs)
        per_argument, value = [], None
        for i, d in zip(items, ds):
            x = args[i]
            _check_differentiable(x, i, d.name)
            basis = np.zeros(x.shape, x.dtype) if type(x) is np.ndarray else type(x)(0.0)
            f = d.function_for((*args, basis))
            columns = []
            for where in np.ndindex(np.shape(x)):  # one forward sweep per element of x
                if type(x) is np.ndarray:
                    basis[where] = 1
                    value, t = f(*args, basis, **kwargs)
                    basis[where] = 0
                else:
                    value, t = f(*args, type(x)(1.0), **kwargs)
                columns.append(t)
            if not columns:  # an empty argument: its Jacobian is empty too
                value, _ = f(*args, basis, **kwargs)
            per_argument.append(_stacked(columns, value, np.shape(x), d.name))
        if not isinstance(value, tuple):
            return tuple(per_argument) if isinstance(argnums, tuple) else per_argument[0]
        # several outputs: one entry per output, each the Jacobians with respect to the arguments
        return tuple(
            tuple(j[k] for j in per_argument) if isinstance(argnums, tuple) else per_argument[0][k]
            for k in range(len(value))
        )

    jacobian._adcompile = ds[0]
    return jacobian


def _stacked(columns: list, value, x_shape: tuple, name: str):
    """The Jacobian of ``value`` (or a tuple of them, one per output) with respect to an argument of ``x_shape``,
    from the tangents of the forward sweeps along each of its elements, in order."""
    if isinstance(value, tuple):
        return tuple(_stacked([c[k] for c in columns], v, x_shape, name) for k, v in enumerate(value))
    if isinstance(value, list):
        raise TypeError(f"jacfwd needs {name}() to return arrays, scalars or a tuple of them, not a list")
    shape = np.shape(value)
    if not columns:
        return np.zeros(shape + x_shape)
    if not x_shape:
        return columns[0]
    return np.stack([np.asarray(c) for c in columns], axis=-1).reshape(shape + x_shape)


def derivative_source(
    fun,
    argnums: int | tuple = 0,
    *,
    with_value: bool = False,
    args=None,
    kwargs=None,
    black: bool = True,
    mode: str = "reverse",
) -> str:
    """The Python source of ``fun``'s adjoint, as ``adcompile show`` prints it; with ``mode="forward"``, of its
    jvp ``f_jvp(*params, *tangents)``, returning the value and its tangent along the tangents of the parameters at
    ``argnums``.

    Without ``args`` the source is generic (it works for any argument shapes, so broadcasting helpers appear);
    with example ``args`` (and ``kwargs``, bound like a call) it is the version specialised to their types and
    shapes, the one ``grad`` (or ``jvp``) runs for them.
    """
    if mode not in ("reverse", "forward"):
        raise ValueError(f"mode must be 'reverse' or 'forward', not {mode!r}")
    d = getattr(fun, "_adcompile", None)
    has_aux = False
    if d is not None:  # a grad(...) wrapper: show what it computes
        fun, argnums, with_value, has_aux, mode = d.fun, d.argnums, d.with_value, d.has_aux, d.mode
    d = _Derivative(fun, argnums, with_value or mode == "forward", has_aux=has_aux, mode=mode)
    if args is not None:
        try:
            args, _ = d.positional(tuple(args), dict(kwargs or {}))
        except TypeError as e:
            raise TypeError(f"example arguments for {d.name}(): {e}") from None
        for i in d.diff:
            _check_differentiable(args[i], i, d.name)
    source, _ = d.build(d.compiled.primal(), args)
    return format_source(source) if black else source


def ir_text(fun, ascii_only: bool = False) -> str:
    """The SSA decomposition of ``fun`` in textbook notation (inputs u₁₋ₙ … u₀, then one primitive per line)."""
    if hasattr(fun, "_adcompile"):
        raise UnsupportedSyntaxError(
            f"{fun.__name__} is a derivative made by adcompile; ir_text shows the IR of the function you wrote",
            hint="pass the function it differentiates, or use derivative_source for the derivative's code",
        )
    return format_ir(_compiled(fun).primal(), ascii_only)


def format_source(source: str) -> str:
    """``source`` formatted by black."""
    import black

    return black.format_str(source, mode=black.Mode(line_length=100))
