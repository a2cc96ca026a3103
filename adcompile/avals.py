"""Abstract values: what the compiler knows about a value before it runs.

An :class:`Aval` records a value's shape, its dtype kind and whether it is a mutable ndarray. The code generator
uses them to specialise: an ``unbroadcast`` whose operand already has the target shape disappears, a sum back to a
scalar becomes ``np.sum(g)``, and an unused argument gets a zero of exactly its own type.

Shapes are a concrete tuple, ``None`` (unknown), or a :class:`SymShape` -- "the broadcast of these parameters'
shapes" -- which is what generic (unspecialised) compilation knows: ``np.sin(x)`` has the shape of ``x``,
``x * 2.0`` too, but ``x * y`` has the shape of neither.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SymShape:
    """The (unknown) broadcast shape of the named parameters."""

    params: frozenset


@dataclass(frozen=True)
class Aval:
    shape: tuple | SymShape | None = None
    kind: str | None = None  # numpy dtype kind: 'b', 'i', 'u', 'f', 'c'; None if unknown
    array: bool | None = None  # True: ndarray (mutable); False: Python or NumPy scalar; None: unknown
    literal: object = None  # the value of a literal in the source (a shape such as (3, 4)); never of an argument

    @property
    def is_float(self) -> bool:
        return self.kind == "f"


UNKNOWN = Aval()
FLOAT_SCALAR = Aval((), "f", False)


def of_value(v) -> Aval:
    """The abstract value of a concrete argument or constant."""
    if isinstance(v, np.ndarray):
        return Aval(v.shape, v.dtype.kind, True)
    if isinstance(v, (bool, np.bool_)):
        return Aval((), "b", False)
    if isinstance(v, (int, np.integer)):
        return Aval((), "i", False)
    if isinstance(v, (float, np.floating)):
        return Aval((), "f", False)
    if isinstance(v, (complex, np.complexfloating)):
        return Aval((), "c", False)
    if v is None:  # no bound, as in np.clip(x, None, hi): it broadcasts like a scalar
        return Aval((), None, False)
    return UNKNOWN


def of_literal(v) -> Aval:
    """The abstract value of a literal written in the source, which keeps the value itself when it is an int, a
    tuple of ints (shapes and axes) or a string (a dtype's name)."""
    if isinstance(v, str):
        return Aval((), None, False, v)
    if isinstance(v, tuple) and all(isinstance(i, int) and not isinstance(i, bool) for i in v):
        return Aval(None, None, False, v)
    av = of_value(v)
    if isinstance(v, int) and not isinstance(v, bool):
        return Aval(av.shape, av.kind, av.array, v)
    return av


def symbolic(name: str) -> Aval:
    return Aval(SymShape(frozenset([name])), None, None)


def broadcast_shape(shapes, loc=None):
    """The broadcast of ``shapes`` as far as it is known; raises a located error if concrete shapes clash."""
    if any(s is None for s in shapes):
        return None
    first = shapes[0] if shapes else ()
    if isinstance(first, tuple) and all(s == first for s in shapes):  # the common case, without NumPy's call
        return first
    concrete = [s for s in shapes if isinstance(s, tuple)]
    syms = [s for s in shapes if isinstance(s, SymShape)]
    try:
        out = np.broadcast_shapes(*concrete) if concrete else ()
    except ValueError:
        from .errors import AdCompileError

        raise AdCompileError(
            f"operands with shapes {', '.join(map(str, concrete))} cannot be broadcast together", loc
        ) from None
    if not syms:
        return out
    if out != ():
        return None
    return SymShape(frozenset().union(*(s.params for s in syms)))


_KIND_ORDER = "buifc"
_KINDS = frozenset(_KIND_ORDER)


def join_kind(kinds, at_least: str = "b") -> str | None:
    if at_least == "b" and kinds and kinds[0] in _KINDS and all(k == kinds[0] for k in kinds):
        return kinds[0]  # the common case: operands of one kind
    if any(k is None for k in kinds):
        return None
    if any(k not in _KIND_ORDER for k in kinds):  # "list": only a list joins a list
        return kinds[0] if all(k == kinds[0] for k in kinds) else None
    return max([*kinds, at_least], key=_KIND_ORDER.index)


def result_array(shape) -> bool | None:
    """Whether a NumPy operation producing ``shape`` returns an ndarray (a 0-d result is a NumPy scalar)."""
    if isinstance(shape, tuple):
        return shape != ()
    return None


# Shape rules used by the primitive table -------------------------------------------------------------


def elementwise(avals, kwargs, loc=None, at_least: str = "b") -> Aval:
    shape = broadcast_shape([a.shape for a in avals], loc)
    kind = join_kind([a.kind for a in avals], at_least)
    if kind is None and at_least == "f":
        kind = "f"  # complex inputs are rejected up front, so a float function of anything is a float
    return Aval(shape, kind, result_array(shape))


def elementwise_float(avals, kwargs, loc=None) -> Aval:
    return elementwise(avals, kwargs, loc, at_least="f")


def scalar_float(avals, kwargs, loc=None) -> Aval:
    """``math`` functions: Python floats in, a Python float out."""
    return FLOAT_SCALAR


def elementwise_bool(avals, kwargs, loc=None) -> Aval:
    """Comparisons: the broadcast shape, booleans."""
    shape = broadcast_shape([a.shape for a in avals], loc)
    return Aval(shape, "b", result_array(shape))


def join(a: Aval, b: Aval) -> Aval:
    """What is known of a value that is ``a`` on one path and ``b`` on the other."""
    if a == b:
        return a
    shape = a.shape if a.shape == b.shape else None
    return Aval(shape, join_kind([a.kind, b.kind]), a.array if a.array == b.array else None)


def int_scalar(avals, kwargs, loc=None) -> Aval:
    return Aval((), "i", False)


def shape_of(avals, kwargs, loc=None) -> Aval:
    """``np.shape(x)``: a tuple, known when ``x``'s shape is."""
    x = avals[0]
    return Aval(None, None, False, x.shape if isinstance(x.shape, tuple) else None)


def length(avals, kwargs, loc=None) -> Aval:
    """``len(x)``: known when ``x`` is an array of known shape (the shape is part of what code is specialised to)."""
    x = avals[0]
    if x.array is True and isinstance(x.shape, tuple) and x.shape:
        return Aval((), "i", False, x.shape[0])
    return Aval((), "i", False)


def unknown(avals, kwargs, loc=None) -> Aval:
    return UNKNOWN


def reduction(avals, kwargs, loc=None, at_least: str = "b") -> Aval:
    """``np.sum(x, axis=..., keepdims=...)`` and the like."""
    x = avals[0]
    kind = join_kind([x.kind], at_least) if x.kind else None
    if kind == "b" or (kind == "i" and at_least == "b"):
        kind = "i"
    axis, keepdims = kwargs.get("axis"), bool(kwargs.get("keepdims"))
    if axis is None:
        shape = (1,) * len(x.shape) if keepdims and isinstance(x.shape, tuple) else () if not keepdims else None
    elif isinstance(x.shape, tuple):
        n = len(x.shape)
        axes = {a % n for a in ((axis,) if isinstance(axis, int) else axis)} if n else set()
        shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape) if keepdims or i not in axes)
    else:
        shape = None
    return Aval(shape, kind, result_array(shape))


def reduction_float(avals, kwargs, loc=None) -> Aval:
    return reduction(avals, kwargs, loc, at_least="f")


def reduction_same_kind(avals, kwargs, loc=None) -> Aval:
    """``np.max(x, axis=...)`` and the like: the reduced shape, and the argument's own kind (ints stay ints)."""
    r = reduction(avals, kwargs, loc)
    return Aval(r.shape, avals[0].kind, r.array)


def scan(avals, kwargs, loc=None) -> Aval:
    """``np.cumsum(x, axis=...)``: ``x``'s shape along an axis; flattened to one axis without one."""
    x = avals[0]
    kind = "i" if x.kind in ("b", "i") else x.kind
    if kwargs.get("axis") is None:
        shape = (math.prod(x.shape),) if isinstance(x.shape, tuple) else None
    else:
        shape = x.shape
    return Aval(shape, kind, True)  # an ndarray even for a scalar argument


def select(avals, kwargs, loc=None) -> Aval:
    """``np.where(cond, x, y)``: the broadcast of all three shapes, the kind of ``x`` and ``y``; always an ndarray."""
    shape = broadcast_shape([a.shape for a in avals], loc)
    return Aval(shape, join_kind([a.kind for a in avals[1:]]), True)


def clip(avals, kwargs, loc=None) -> Aval:
    """``np.clip(x, lo, hi)``: elementwise; a float ``x`` stays a float whatever the bounds (None included)."""
    out = elementwise(avals, kwargs, loc)
    return Aval(out.shape, "f", out.array) if avals[0].kind == "f" else out


def like_second(avals, kwargs, loc=None) -> Aval:
    """Helpers such as ``unbroadcast(g, x)`` whose result has the shape and type of ``x``."""
    g, x = avals[0], avals[1]
    return Aval(x.shape, join_kind([g.kind, x.kind]), result_array(x.shape))


def like_first(avals, kwargs, loc=None) -> Aval:
    return avals[0]


def array_like(avals, kwargs, loc=None) -> Aval:
    """``np.zeros_like(x)`` and the like: ``x``'s shape and kind, and always an ndarray (0-d for a number)."""
    x = avals[0]
    return Aval(x.shape, x.kind, True)


def eye(avals, kwargs, loc=None) -> Aval:
    """``np.eye(n)``, ``np.eye(n, m)``, ``np.identity(n)``: known when the sizes are literals."""
    sizes = [a.literal for a in avals[:2]]
    if sizes and all(isinstance(n, int) for n in sizes):
        return Aval((sizes[0], sizes[-1]), "f" if kwargs.get("dtype") is None else None, True)
    return Aval(None, None, True)


def cast(avals, kwargs, loc=None) -> Aval:
    """``astype(x, dtype)``: ``x``'s shape, the dtype's kind (the dtype is a literal name)."""
    x, dtype = avals[0], avals[1]
    kind = None
    if isinstance(dtype, Aval) and isinstance(dtype.literal, str):
        kind = np.dtype(dtype.literal).kind
    return Aval(x.shape, kind, x.array if x.array is not None else result_array(x.shape))


def constructor(avals, kwargs, loc=None) -> Aval:
    """``np.zeros(shape, dtype)`` and the like: the shape if it is a literal, floats unless a dtype is given."""
    value = avals[0].literal if avals else None
    shape = (value,) if isinstance(value, int) else value if isinstance(value, tuple) else None
    kind = "f" if kwargs.get("dtype") is None and len(avals) < 3 else None
    return Aval(shape, kind, True)


def filled(avals, kwargs, loc=None) -> Aval:
    """``np.full(shape, fill_value)``: the shape if it is known, the fill value's kind unless a dtype is given."""
    out = constructor(avals[:1], kwargs, loc)
    kind = avals[1].kind if kwargs.get("dtype") is None and len(avals) > 1 else None
    return Aval(out.shape, kind, True)


# Indexing -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IndexAval:
    """What is known of the subscript of ``x[...]``: per item, its literal value (an int, a slice, None or
    Ellipsis) or an :class:`Aval` (a computed index; ``UNKNOWN`` for a slice whose bounds are computed)."""

    items: tuple


class _Unknown(Exception):
    """An index item whose effect on the result's shape is not known at compile time."""


def _probe(item):
    """A stand-in for an index item with the same effect on the result's shape, or raise _Unknown."""
    if isinstance(item, Aval):
        if item.kind in ("i", "u") and item.shape == ():
            return 0
        if item.kind in ("i", "u") and isinstance(item.shape, tuple):
            return np.zeros(item.shape, dtype=np.intp)
        raise _Unknown  # a mask (how many elements it selects depends on its values) or an unknown index
    return item


def getitem(avals, kwargs, loc=None) -> Aval:
    """``x[index]``: the shape NumPy gives, found by indexing a zero-strided stand-in of ``x``'s shape."""
    x, index = avals[0], avals[1]
    if isinstance(x.literal, tuple) and isinstance(index, IndexAval) and len(index.items) == 1:
        item = index.items[0]  # x.shape[0]: a number known at compile time
        if isinstance(item, int) and not isinstance(item, bool) and -len(x.literal) <= item < len(x.literal):
            return Aval((), "i", False, x.literal[item])
    if x.array is False and x.shape == () and x.kind in ("f", "i", "b"):
        from .errors import AdCompileError

        raise AdCompileError("a number cannot be indexed: x[...] needs an array", loc)
    if not isinstance(x.shape, tuple) or x.array is not True or not isinstance(index, IndexAval):
        return Aval(None, x.kind, None)
    try:
        probe = tuple(_probe(item) for item in index.items)
        stand_in = np.broadcast_to(np.zeros((), dtype=np.float64), x.shape)
        shape = stand_in[probe].shape
    except _Unknown:
        return Aval(None, x.kind, None)
    except (IndexError, TypeError) as e:
        if any(isinstance(item, Aval) for item in index.items):
            return Aval(None, x.kind, None)  # a computed index into an empty axis: code that may never run
        from .errors import AdCompileError

        raise AdCompileError(f"index out of range for an array of shape {x.shape}: {e}", loc) from None
    return Aval(shape, x.kind, result_array(shape))


# Lists of values passed whole ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PackAval:
    """What is known of a list (or tuple) of operands written in the source: its items' abstract values."""

    items: tuple
    kind: str = "list"


def _stand_in(av):
    """A value with ``av``'s shape (a pack: a list of them), or raise _Unknown."""
    if isinstance(av, PackAval):
        items = [_stand_in(i) for i in av.items]
        return items if av.kind == "list" else tuple(items)
    if not isinstance(av.shape, tuple):
        raise _Unknown
    return np.zeros(av.shape) if av.array is not False else 0.0


def packed(fn):
    """The shape rule of ``fn(pack, **kwargs)`` (np.stack, np.concatenate, ...): NumPy's own, on stand-ins."""

    def rule(avals, kwargs, loc=None) -> Aval:
        try:
            out = fn(_stand_in(avals[0]), **{k: v for k, v in kwargs.items() if v is not None})
        except _Unknown:
            return Aval(None, "f", True)
        except (ValueError, TypeError, IndexError) as e:
            from .errors import AdCompileError

            raise AdCompileError(f"{getattr(fn, '__name__', fn)}: {e}", loc) from None
        return Aval(np.shape(out), "f", True)

    return rule


def known_length(av) -> int | None:
    """The number of elements of a value, if it is known: of a tuple of known integers (a shape), of an array or a
    list of known shape."""
    if isinstance(av.literal, tuple):
        return len(av.literal)
    if av.array is True and isinstance(av.shape, tuple) and av.shape:
        return av.shape[0]
    return None


def unpacking(avals, kwargs, loc=None) -> Aval:
    """``unpacked(v, n)``: ``v``, whose length is checked here when it is known, as Python checks ``a, b = v``."""
    v, n = avals[0], avals[1].literal
    length = known_length(v)
    if length is not None and isinstance(n, int) and length != n:
        from .errors import UnpackingError

        raise UnpackingError(f"cannot unpack {length} values into {n} names", loc)
    return v


def tupled(avals, kwargs, loc=None) -> Aval:
    """``(n, m)`` built at run time: a tuple of integers (a shape), whose value is known when each integer is.
    A float in it is refused here, where it is known: a shape cannot depend on a value being differentiated."""
    items = avals[0].items
    for av in items:
        if isinstance(av, PackAval) or av.kind in ("f", "c") or av.array is True:
            from .errors import AdCompileError

            what = "a float" if isinstance(av, Aval) and av.kind in ("f", "c") else "an array or a list"
            raise AdCompileError(
                f"a shape is a tuple of integers, but this one holds {what}",
                loc,
                hint="compute the sizes from shapes and lengths (n = len(x), n, m = x.shape), or round with int(...)",
            )
    values = tuple(av.literal for av in items)
    known = all(isinstance(v, int) and not isinstance(v, bool) for v in values)
    return Aval(None, None, False, values if known else None)


def listed(avals, kwargs, loc=None) -> Aval:
    """``[a, b]``: a list (kind "list"), whose shape is that of the array np.array([a, b]) where it is known."""
    out = packed(np.array)(avals, kwargs, loc)
    return Aval(out.shape, "list", True)


def list_grown(avals, kwargs, loc=None) -> Aval:
    """``xs.append(v)``: still a list; its length is not followed."""
    return Aval(None, "list", True)
