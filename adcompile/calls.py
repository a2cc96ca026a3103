"""Calls compiled as calls: how recursion is differentiated.

A call to one of the user's functions is normally inlined: its body becomes part of the caller's IR. A recursive
call cannot be, since its depth is only known at run time. It stays a call, ``y = fact(x, m)`` (a :class:`Call`
primitive whose callable is the user's own function), and costs nothing more than Python's call while its result
needs no derivative.

When the reverse sweep needs its derivative, the forward sweep calls the function's *split adjoint* instead::

    r = fact_vjp(x, m)         # fact's forward sweep: its value and what its reverse sweep reads
    y = r[0]
    ...
    _t5 = pullback(r, by)      # fact's reverse sweep, from those values and the adjoint of y
    bx = _t5[0]

``fact_vjp`` (a :class:`Pullback`) compiles, per argument signature, two functions from ``fact``'s IR: the forward
sweep, returning the value and the residuals (the forward values the reverse sweep reads), and the reverse sweep,
taking the residuals and the output's adjoint and returning the gradients with respect to the arguments the
caller differentiates. Inside them the recursive call is again a ``Call``, so the recursion unwinds at run time,
one ``fact_vjp`` per level forward and one pullback per level backward.
"""

from __future__ import annotations

import functools
import weakref
from dataclasses import dataclass

import numpy as np

from . import avals as A
from .primitives import Primitive, primitive


@dataclass(eq=False)
class Call(Primitive):
    """A call to the user's function ``fn``, compiled as a call rather than inlined (a recursive call)."""


_CALLS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # fn -> its Call
_PULLBACKS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # fn -> {argnums: Primitive of its Pullback}


def call_primitive(fn) -> Call:
    """The primitive of a call to the user's function ``fn`` that is not inlined."""
    prim = _CALLS.get(fn)
    if prim is None:
        prim = _CALLS[fn] = Call(fn, fn.__name__, shape_rule=A.unknown)
    return prim


def pullback_primitive(fn, argnums: tuple, reusable: bool = False) -> Primitive:
    """The primitive that runs ``fn``'s forward sweep for derivatives with respect to ``argnums`` (positions).
    Its pullback may be called only once unless ``reusable``."""
    table = _PULLBACKS.setdefault(fn, {})
    prim = table.get((argnums, reusable))
    if prim is None:
        runner = Pullback(fn, argnums, reusable)
        prim = table[argnums, reusable] = Primitive(runner, runner.__name__, shape_rule=A.unknown)
    return prim


class Pullback:
    """``Pullback(fn, argnums)(*args)`` is ``(fn(*args), back)``; ``back(g)`` gives the gradients of ``⟨g, fn⟩``
    with respect to the arguments at ``argnums``, as a tuple. Compiled per argument signature, like ``grad``."""

    def __init__(self, fn, argnums: tuple, reusable: bool = False):
        from .api import _Derivative  # the api module imports the lowering, which imports this one

        self.derivative = _Derivative(fn, argnums, with_value=True, split="reusable" if reusable else "once")
        self.__name__ = f"{fn.__name__}_vjp"

    def __call__(self, *args):
        d = self.derivative
        key = tuple(map(type, args))  # api.signature_key, inlined: this runs once per level of the recursion
        if np.ndarray in key:
            key = tuple([(a.shape, a.dtype) if type(a) is np.ndarray else type(a) for a in args])
        pair = d.cache.get(key)
        if pair is None or not d.compiled.fresh():
            pair = d.adjoint(args, key)
        forward, backward = pair
        value, residuals = forward(*args)
        return value, functools.partial(backward, *residuals)


def pullback(r, g):
    """The reverse sweep of a call made by a :class:`Pullback`: the gradients, given the adjoint ``g`` of its value."""
    return r[1](g)


primitive(pullback, shape=A.unknown)


def _item(k: int):
    def item(r):
        return r[k]

    item.__name__ = f"item{k}"
    return item


_ITEMS: dict = {}


def item_primitive(k: int) -> Primitive:
    """``r[k]`` of a tuple made at run time (the value of a call, one of its gradients)."""
    prim = _ITEMS.get(k)
    if prim is None:
        # no rules: differentiating code that reads a call's value this way (a derivative of a derivative of a
        # recursive function) is an error, never a silent zero
        prim = _ITEMS[k] = Primitive(_item(k), f"item{k}", shape_rule=A.unknown, item=k)
    return prim
