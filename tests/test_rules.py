"""Every derivative rule in the table, checked against central finite differences.

The checks are generated from the registry of primitives, with valid inputs for each primitive taken from
``SAMPLES``; a rule added without an entry there fails ``test_every_rule_has_a_check``. What is proved:

* each vjp rule, called directly, returns the g-weighted gradient of every differentiable argument, in that
  argument's shape; each jvp rule returns the directional derivative;
* the two rules of a primitive are transposes of each other: <vjp(g), t> == <g, jvp(t)>;
* ``grad`` of a small function using the primitive is right for Python floats, arrays and broadcast operands,
  both in the code specialised to the arguments' shapes and in the generic (shape-agnostic) code;
* ``np.sum`` and ``np.mean`` spread the adjoint over exactly the reduced axes, for every form of ``axis``.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import math
import operator
import textwrap
from dataclasses import dataclass, field

import array_samples as X
import numpy as np
import pytest
from array_samples import Output, Split, Symmetric
from fd import numeric_grad

import adcompile
import adcompile.api
import adcompile.rules_linalg as L
import adcompile.rules_more as R
import adcompile.rules_multi as M
import adcompile.rules_shape as S
from adcompile.primitives import _REGISTRY, lookup
from adcompile.runtime import (
    astype,
    broadcast_like,
    cast_like,
    expand_to,
    index_add,
    list_append,
    owned,
    reshape_like,
    reverse_cumsum,
    setitem,
    unbroadcast,
    unpacked,
    written_part,
)

RTOL, ATOL = 1e-6, 1e-8  # against central differences with eps = 1e-6, in float64
EPS = 1e-6

# ── inputs ───────────────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Interval:
    """Where an argument is drawn from: ``(lo, hi)``, and also ``(-hi, -lo)`` if ``signed``."""

    lo: float
    hi: float
    signed: bool = False

    def draw(self, shape, seed):
        """Uniform values of ``shape`` (None: a Python float; (): a 0-d array), the same for the same seed."""
        rng = np.random.default_rng([seed, *(shape or (99,))])
        v = rng.uniform(self.lo, self.hi, shape or ())
        if self.signed:
            v = v * rng.choice([-1.0, 1.0], shape or ())
        return float(v) if shape is None else np.asarray(v)


ANY = Interval(-2.0, 2.0)
POS = Interval(0.5, 2.5)
NONZERO = Interval(0.3, 2.0, signed=True)  # away from the kink of abs and the poles of 1/x
OPEN_UNIT = Interval(-0.8, 0.8)  # arcsin, arccos, arctanh
ABOVE_ONE = Interval(1.2, 3.0)  # arccosh
TAN = Interval(-1.2, 1.2)  # within (-pi/2, pi/2)
LOG1P = Interval(-0.5, 2.0)
BASE = Interval(1.5, 4.0)  # a logarithm's base, away from 1
MODULUS = Interval(2.5, 3.5)  # x % y with x in (0.2, 2): no jump of floor(x / y) nearby


def _shape_label(v) -> str:
    if isinstance(v, np.ndarray):
        return "x".join(map(str, v.shape)) or "0d"
    return type(v).__name__


def _fn_label(fn) -> str:
    prefixes = {"numpy": "np.", "numpy.linalg": "np.linalg.", "math": "math.", "_operator": "operator."}
    prefix = prefixes.get(getattr(fn, "__module__", None), "")
    return prefix + fn.__name__


@dataclass
class Case:
    """One call of a primitive: ``fn(*args, **kwargs)``."""

    fn: object
    args: tuple
    kwargs: dict = field(default_factory=dict)

    def __str__(self) -> str:
        parts = [_shape_label(a) for a in self.args] + [f"{k}={v}" for k, v in self.kwargs.items()]
        return f"{_fn_label(self.fn)}({','.join(parts)})"

    @property
    def prim(self):
        return lookup(self.fn)

    def value(self):
        return self.fn(*self.args, **self.kwargs)


# Argument shapes tried for NumPy functions and operators (None is a Python float, () a 0-d array).
UNARY_SHAPES = [(None,), ((),), ((3,),), ((2, 3),)]
BINARY_SHAPES = [
    (None, None),
    ((3,), (3,)),
    ((2, 3), (3,)),
    ((2, 3), (2, 1)),
    ((1, 3), (2, 1)),
    ((3,), None),
    (None, (2, 3)),
    ((), (2, 3)),
]


class Elementwise:
    """NumPy ufuncs and operators: Python floats, arrays, and operands broadcast against each other."""

    def __init__(self, *domains: Interval):
        self.domains = domains

    def cases(self, fn):
        for shapes in UNARY_SHAPES if len(self.domains) == 1 else BINARY_SHAPES:
            yield Case(fn, tuple(d.draw(s, seed=i) for i, (d, s) in enumerate(zip(self.domains, shapes))))


class Scalars:
    """``math`` functions: Python floats only."""

    def __init__(self, *domains: Interval):
        self.domains = domains

    def cases(self, fn):
        yield Case(fn, tuple(d.draw(None, seed=i) for i, d in enumerate(self.domains)))


class Given:
    """Explicit calls, for primitives whose arguments steer the result's shape (reductions, runtime helpers)."""

    def __init__(self, *calls):
        self.calls = calls

    def cases(self, fn):
        for args, kwargs in self.calls:
            yield Case(fn, args, kwargs)


def call(*args, **kwargs):
    return args, kwargs


class CheckedElsewhere:
    """A rule whose arguments this file's harness cannot make (a list), checked against finite differences by the
    named test instead; listed so that every rule has its check."""

    def __init__(self, test: str):
        self.test = test

    def cases(self, fn):
        return iter(())


V3, V2, V4 = ANY.draw((3,), 0), ANY.draw((2,), 1), ANY.draw((4,), 2)
M23, M21, M13, M11 = ANY.draw((2, 3), 3), ANY.draw((2, 1), 4), ANY.draw((1, 3), 5), ANY.draw((1, 1), 6)
T234, T214 = ANY.draw((2, 3, 4), 7), ANY.draw((2, 1, 4), 8)

REDUCE = Given(
    call(T234),
    call(T234, axis=1),
    call(T234, axis=-1),
    call(T234, axis=(0, 2)),
    call(T234, axis=(-1, 0), keepdims=True),
    call(T234, axis=1, keepdims=True),
    call(T234, keepdims=True),
    call(V3, axis=0),
    call(1.5),
)
TNAN = np.where(np.arange(24).reshape(2, 3, 4) % 5 == 1, np.nan, T234)  # no line along axis 1 is all NaN
NAN_REDUCE = Given(*REDUCE.calls, call(TNAN), call(TNAN, axis=1), call(TNAN, axis=(0, 2), keepdims=True))
VAR = Given(*REDUCE.calls, call(T234, axis=1, ddof=1), call(T234, ddof=2), call(V3, axis=0, ddof=1))
STD = Given(*(c for c in VAR.calls if np.ndim(c[0][0])))  # the std of one number is 0, where it has no derivative
SCAN = Given(call(T234), call(T234, axis=1), call(T234, axis=-1), call(M23, axis=0), call(V3), call(1.5))
LO4, HI31 = Interval(-1.5, 0.0).draw((4,), 12), Interval(0.0, 1.5).draw((3, 1), 13)
CLIP = Given(
    call(M23, -0.5, 0.7),
    call(T234, LO4, HI31),
    call(M23, M21 - 1.0, 0.9),
    call(1.5, 0.0, 1.0),
    call(0.3, -1.0, 1.0),
    call(V3, 1.0, -1.0),  # lo > hi: every element is hi
)
W3 = ANY.draw((3,), 14)
WHERE = Given(
    call(V3 > 0, V3, W3),
    call(M23 > 0, M23, V3),
    call(M21 > 0, 1.5, M13),
    call(True, 1.5, 2.5),
)

EINSUM = Given(
    call("ij->ji", X.M23),
    call("ii->i", X.M33),
    call("ii", X.M33),
    call("ij->", X.M23),
    call("ijk->kj", X.T234),
    call("ij,jk->ik", X.M23, X.M34),
    call("i,i", X.V3, X.W3),
    call("ij,j", X.M23, X.V3),
    call("ii,i->i", X.M33, X.V3),
    call("i,jk->ij", X.V3, X.M23),
    call("bij,bjk->bik", X.T234, X.draw(2, 4, 2, seed=9)),
    call("ij,jk,kl->il", X.M23, X.M34, X.M45),
    call("i,ij,j", X.V2, X.M23, X.V3),
    call("ii,i,i->i", X.M33, X.V3, X.W3),
)

ZNAN = np.where(np.arange(24).reshape(2, 3, 4) % 7 == 3, 0.0, TNAN)  # zeros among the NaNs
Z34 = np.where(np.arange(12).reshape(3, 4) % 5 == 2, 0.0, X.M34)  # zeros in products
NAN_CORE = Given(  # the forms of axis and keepdims, with and without NaN
    call(T234, axis=(-1, 0), keepdims=True),
    call(V3, axis=0),
    call(1.5),
    call(TNAN),
    call(TNAN, axis=1),
    call(TNAN, axis=(0, 2), keepdims=True),
)
NAN_VAR = Given(*NAN_CORE.calls, call(V3, axis=0, ddof=1), call(TNAN, axis=1, ddof=1), call(TNAN, ddof=2))
CONV_PAIRS = ((X.V5, X.V3), (X.V2, X.V5), (X.V4, X.V4))  # longer first, shorter first (of other parity), equal
XP = np.array([-1.0, -0.2, 0.5, 0.9, 1.6])
INTERP_X = np.array([-1.4, -0.7, 0.1, 0.6, 1.2, 1.9])  # below, inside (each segment) and above the range

# Valid inputs for every differentiable primitive. A rule without an entry here fails test_every_rule_has_a_check.
SAMPLES = {
    # arithmetic operators and their NumPy spellings
    operator.add: Elementwise(ANY, ANY),
    np.add: Elementwise(ANY, ANY),
    operator.sub: Elementwise(ANY, ANY),
    np.subtract: Elementwise(ANY, ANY),
    operator.mul: Elementwise(ANY, ANY),
    np.multiply: Elementwise(ANY, ANY),
    operator.truediv: Elementwise(ANY, NONZERO),
    np.divide: Elementwise(ANY, NONZERO),
    operator.pow: Elementwise(POS, ANY),
    pow: Elementwise(POS, ANY),
    operator.mod: Elementwise(Interval(0.2, 2.0), MODULUS),
    np.mod: Elementwise(Interval(0.2, 2.0), MODULUS),
    float: Scalars(ANY),
    np.power: Elementwise(POS, ANY),
    operator.neg: Elementwise(ANY),
    np.negative: Elementwise(ANY),
    operator.pos: Elementwise(ANY),
    np.positive: Elementwise(ANY),
    abs: Elementwise(NONZERO),
    np.abs: Elementwise(NONZERO),
    np.fabs: Elementwise(NONZERO),
    # math: Python floats
    math.sin: Scalars(ANY),
    math.cos: Scalars(ANY),
    math.tan: Scalars(TAN),
    math.asin: Scalars(OPEN_UNIT),
    math.acos: Scalars(OPEN_UNIT),
    math.atan: Scalars(ANY),
    math.atan2: Scalars(NONZERO, NONZERO),
    math.sinh: Scalars(ANY),
    math.cosh: Scalars(ANY),
    math.tanh: Scalars(ANY),
    math.asinh: Scalars(ANY),
    math.acosh: Scalars(ABOVE_ONE),
    math.atanh: Scalars(OPEN_UNIT),
    math.exp: Scalars(ANY),
    math.expm1: Scalars(ANY),
    math.log: [Scalars(POS), Scalars(POS, BASE)],
    math.log1p: Scalars(LOG1P),
    math.log2: Scalars(POS),
    math.log10: Scalars(POS),
    math.sqrt: Scalars(POS),
    math.pow: Scalars(POS, ANY),
    math.hypot: Scalars(NONZERO, NONZERO),
    # NumPy, one argument
    np.sin: Elementwise(ANY),
    np.cos: Elementwise(ANY),
    np.tan: Elementwise(TAN),
    np.arcsin: Elementwise(OPEN_UNIT),
    np.arccos: Elementwise(OPEN_UNIT),
    np.arctan: Elementwise(ANY),
    np.sinh: Elementwise(ANY),
    np.cosh: Elementwise(ANY),
    np.tanh: Elementwise(ANY),
    np.arcsinh: Elementwise(ANY),
    np.arccosh: Elementwise(ABOVE_ONE),
    np.arctanh: Elementwise(OPEN_UNIT),
    np.exp: Elementwise(ANY),
    np.exp2: Elementwise(ANY),
    np.expm1: Elementwise(ANY),
    np.log: Elementwise(POS),
    np.log1p: Elementwise(LOG1P),
    np.log2: Elementwise(POS),
    np.log10: Elementwise(POS),
    np.sqrt: Elementwise(POS),
    np.cbrt: Elementwise(NONZERO),
    np.square: Elementwise(ANY),
    np.reciprocal: Elementwise(NONZERO),
    # NumPy, two arguments
    np.arctan2: Elementwise(NONZERO, NONZERO),
    np.hypot: Elementwise(NONZERO, NONZERO),
    np.deg2rad: Elementwise(ANY),
    np.radians: Elementwise(ANY),
    np.rad2deg: Elementwise(ANY),
    np.degrees: Elementwise(ANY),
    np.sinc: [Elementwise(ANY), Given(call(np.array([0.0, 1e-5, -4e-4, 9e-4, 1.1e-3, -0.7, 1.0])))],
    np.nan_to_num: [
        Elementwise(ANY),
        Given(call(np.array([0.5, np.nan, np.inf, -np.inf, -1.2]), nan=0.5, posinf=10.0, neginf=-10.0)),
    ],
    np.logaddexp: Elementwise(ANY, ANY),
    np.logaddexp2: Elementwise(ANY, ANY),
    np.float_power: Elementwise(POS, ANY),
    np.fmod: Elementwise(Interval(1.1, 1.4, signed=True), Interval(0.5, 0.54, signed=True)),  # |x / y| in (2, 3)
    np.ldexp: Given(call(V3, np.array([1, -2, 3])), call(M23, np.array([2, 0, -1])), call(1.5, 3), call(M21, V3 > 0)),
    np.copysign: Elementwise(NONZERO, NONZERO),
    # NumPy, choices between operands (random operands never tie: see test_conventions.py for ties)
    np.maximum: Elementwise(ANY, ANY),
    np.minimum: Elementwise(ANY, ANY),
    np.fmax: [Elementwise(ANY, ANY), Given(call(np.array([1.0, np.nan, 0.5]), np.array([np.nan, 2.0, -1.0])))],
    np.fmin: [Elementwise(ANY, ANY), Given(call(np.array([1.0, np.nan, 0.5]), np.array([np.nan, 2.0, -1.0])))],
    np.clip: CLIP,
    np.where: WHERE,
    # reductions
    np.sum: REDUCE,
    np.mean: REDUCE,
    np.average: REDUCE,
    np.prod: REDUCE,
    np.var: VAR,
    np.std: STD,
    np.max: REDUCE,
    np.amax: REDUCE,
    np.min: REDUCE,
    np.amin: REDUCE,
    np.ptp: REDUCE,
    np.median: REDUCE,
    np.nansum: NAN_REDUCE,
    np.nanmean: NAN_REDUCE,
    np.nanmax: NAN_REDUCE,
    np.nanmin: NAN_REDUCE,
    # scans
    np.cumsum: SCAN,
    np.cumprod: SCAN,
    # helpers that generated code calls (linear in their first argument; the second only gives a shape)
    unbroadcast: Given(call(M23, V3), call(M23, M21), call(M23, M13), call(V3, 1.5), call(M23, M23)),
    broadcast_like: Given(call(V3, M23), call(M21, M23), call(M11, M23), call(1.5, V3)),
    expand_to: Given(
        call(1.5, M23),
        call(V3, M23, axis=0),
        call(V2, M23, axis=-1),
        call(M11, M23, keepdims=True),
        call(V4, T234, axis=(0, 1)),
        call(T214, T234, axis=1, keepdims=True),
        call(1.5, 2.5),
    ),
    reshape_like: Given(call(ANY.draw((6,), 15), M23), call(M23, ANY.draw((6,), 16)), call(V3, W3), call(M11, 2.5)),
    reverse_cumsum: Given(call(V3), call(M23, axis=0), call(T234, axis=-1), call(M23)),
    owned: Given(call(V3), call(1.5)),
    np.copy: Given(call(V3), call(M23)),
    # indexing, and writes into arrays (functional: a new array); repeated indices accumulate
    operator.getitem: Given(
        call(M23, (0, 1)),
        call(M23, (slice(None), 1)),
        call(T234, (Ellipsis, None, slice(1, 3))),
        call(V4, (np.array([0, 2, 0]),)),
        call(V4, (V4 > 0,)),
        call(M23, (np.array([1, 0]), slice(None, None, -1))),
    ),
    setitem: Given(
        call(M23, (0, slice(1, 3)), V2),
        call(V4, (np.array([0, 2]),), 1.5),
        call(M23, (1,), V3),
        call(V4, (np.array([2, 0, 2]),), V3),  # a repeated index: only the last write lands
    ),
    index_add: Given(call(V4, (np.array([0, 2, 0]),), V3), call(M23, (1,), V3), call(M23, (slice(None), 2), 1.5)),
    unpacked: Given(call(V3, 3), call(M23, 2)),
    astype: Given(call(M23, "float64"), call(V3, "float64")),
    cast_like: Given(call(M23, M23), call(1.5, 2.5)),
    list_append: CheckedElsewhere("tests/test_loops.py::test_lists_as_containers"),
    **{
        fn: CheckedElsewhere("tests/test_array_rules.py::test_rules_of_multi_dot")
        for fn in (np.linalg.multi_dot, L.multi_dot_part, L.multi_dot_parts, L.multi_dot_tangent)
    },
    **{
        fn: CheckedElsewhere("tests/test_joining.py::test_rules_of_a_list_argument")
        for fn in (np.stack, np.concatenate, np.hstack, np.vstack, adcompile.runtime.new_list, S.parts_of, S.joined)
    },
    written_part: Given(call(V4, (np.array([0, 2, 0]),)), call(M23, (slice(None), 1)), call(V4, (V4 > 0,))),
    # shape and layout
    np.reshape: Given(call(X.M23, shape=(3, 2)), call(X.M23, shape=(-1,)), call(X.T234, shape=(4, -1))),
    np.ravel: Given(call(X.M23), call(X.T234)),
    np.full: Given(call((2, 3), 1.5), call((2, 3), X.V3), call((3,), X.V3)),  # the fill value is differentiated
    np.full_like: Given(call(X.M23, 1.5), call(X.M23, X.V3)),
    np.squeeze: Given(call(X.M13), call(X.T214, axis=1)),
    np.expand_dims: Given(call(X.V3, axis=0), call(X.M23, axis=(0, 3))),
    np.atleast_1d: Given(call(1.5), call(X.V3)),
    np.atleast_2d: Given(call(X.V3), call(X.M23)),
    np.atleast_3d: Given(call(X.V3), call(X.M23)),
    np.transpose: Given(call(X.M23), call(X.T234, axes=(2, 0, 1)), call(X.T234, axes=(-1, 0, 1))),
    np.swapaxes: Given(call(X.T234, axis1=0, axis2=2), call(X.M23, axis1=-1, axis2=0)),
    np.moveaxis: Given(call(X.T234, source=0, destination=-1), call(X.T234, source=(0, 1), destination=(2, 0))),
    np.broadcast_to: Given(call(X.V3, shape=(2, 3)), call(X.M21, shape=(4, 2, 3)), call(1.5, shape=(2,))),
    np.flip: Given(call(X.M23), call(X.M23, axis=1)),
    np.flipud: Given(call(X.M23)),
    np.fliplr: Given(call(X.M23)),
    np.rot90: Given(call(X.M23), call(X.T234, k=2, axes=(1, 2)), call(X.M23, k=-1)),
    np.roll: Given(call(X.V5, shift=2), call(X.M23, shift=-1, axis=1), call(X.M23, shift=4)),
    np.repeat: Given(call(X.M23, repeats=2), call(X.M23, repeats=3, axis=1), call(X.V3, repeats=(1, 0, 2), axis=0)),
    np.tile: Given(call(X.V3, reps=2), call(X.M23, reps=(2, 1, 2))),
    np.pad: Given(
        call(X.M23, pad_width=1),
        call(X.M23, pad_width=((1, 0), (2, 1))),
        call(X.V3, pad_width=(0, 2), constant_values=1.5),
    ),
    np.diff: Given(call(X.V5), call(X.M34, axis=0), call(X.V5, n=2)),
    np.diag: Given(call(X.V3), call(X.V3, k=1), call(X.M33), call(X.M23, k=1)),
    np.diagonal: Given(call(X.M33), call(X.T234, offset=1, axis1=1, axis2=2), call(X.M34, offset=-1)),
    np.triu: Given(call(X.M33), call(X.M23, k=1), call(X.V3), call(X.T234)),
    np.tril: Given(call(X.M33), call(X.M23, k=-1), call(X.V3)),
    np.sort: Given(call(X.V5), call(X.M34, axis=0), call(X.M34, axis=None)),
    np.take: Given(call(X.V5, X.IDX), call(X.M34, X.IDX2), call(X.M34, X.IDX[:3] - 1, axis=1), call(X.M34, 2, axis=0)),
    np.take_along_axis: Given(call(X.M34, X.ALONG, axis=-1), call(X.M34, np.argsort(X.M34, axis=0), axis=0)),
    S.reshape_like: Given(call(X.V6, X.M23), call(X.M11, 1.5), call(X.M23, X.M23)),
    S.untranspose: Given(call(X.M23), call(X.T234, axes=(2, 0, 1))),
    S.unrepeat: Given(
        call(X.V6, X.V3, repeats=2), call(X.M26, X.M23, repeats=2, axis=1), call(X.V3, X.V3, repeats=(1, 0, 2), axis=0)
    ),
    S.untile: Given(call(X.V6, X.V3, reps=2), call(X.T226, X.M23, reps=(2, 1, 2))),
    S.unpad: Given(call(X.M45, pad_width=1), call(X.V5, pad_width=(0, 2))),
    S.undiff: Given(call(X.V4), call(X.M24, n=2, axis=0)),
    S.untake: Given(call(X.V4, X.V5, X.IDX), call(X.draw(3, 1, 2, seed=5), X.M34, X.IDX2[:1] + 1, axis=1)),
    S.untake_along_axis: Given(call(X.M33, X.M34, X.ALONG), call(X.M34, X.M34, np.argsort(X.M34, axis=0), axis=0)),
    S.diagonal_adjoint: Given(call(X.V3, X.M33), call(X.V2, X.M23, offset=1)),
    S.diag_adjoint: Given(call(X.M33, X.V3), call(X.V2, X.M23, k=1)),
    # splitting: one part of np.split(x, ...) (the result it reads is recomputed: see array_samples.Split)
    S.split_part: Split(
        call(X.V6, position=1, sections=3),
        call(X.M34, position=2, sections=(1, 3), axis=1),
        call(X.V5, position=0, sections=2, how="array_split"),
        call(X.T234, position=1, sections=2, how="dsplit"),
        call(X.M23, position=0, sections=(1,), how="vsplit"),
        call(X.M34, position=1, sections=2, how="hsplit"),
    ),
    S.unsplit: Given(
        call(X.V2, X.V6, position=1, sections=3),
        call(X.M32, X.M34, position=1, sections=(1, 3), axis=1),
        call(X.V3, X.V5, position=0, sections=2, how="array_split"),
        call(X.T214, X.T234, position=0, sections=(1,), axis=-2),
    ),
    S.cut_part: Given(
        call(X.V6, position=1, sections=3),
        call(X.M34, position=2, sections=(1, 3), axis=1),
        call(X.M34, position=0, sections=2, how="hsplit"),
    ),
    # contractions and linear algebra
    operator.matmul: Given(
        call(X.M23, X.M34),
        call(X.V3, X.M34),
        call(X.M23, X.V3),
        call(X.V3, X.W3),
        call(X.T234, X.M45),
        call(X.M23, X.T234),
        call(X.V3, X.T234),
        call(X.T234, X.V4),
    ),
    np.matmul: Given(call(X.M23, X.M34), call(X.V3, X.M34), call(X.T234, X.V4)),
    np.dot: Given(call(X.V3, X.W3), call(X.M23, X.V3), call(X.V2, X.M23), call(X.M23, X.M34), call(X.T234, X.M45)),
    np.vdot: Given(call(X.V3, X.W3), call(X.M23, X.M32)),
    np.inner: Given(call(X.V3, X.W3), call(X.M23, X.V3), call(X.V3, X.M43), call(X.M23, X.M43)),
    np.outer: Given(call(X.V3, X.V2), call(X.M23, X.V2)),
    np.tensordot: Given(
        call(X.T234, X.M34),
        call(X.M23, X.M34, axes=1),
        call(X.T234, X.M32, axes=((1, 0), (0, 1))),
        call(X.V3, X.V2, axes=0),
    ),
    np.kron: Given(call(X.M23, X.M21), call(X.V3, X.V2), call(X.M23, X.V2)),
    np.trace: Given(call(X.M33), call(X.M23, offset=1), call(X.T234, axis1=1, axis2=2)),
    np.cross: Given(call(X.V3, X.W3), call(X.M23, X.W3), call(X.M32, X.M32[::-1].copy(), axis=0)),
    np.einsum: EINSUM,
    L.contract: EINSUM,
    L.einsum_left: Given(
        call(X.M24, X.M34, X.M23, "ij,jk->ik"), call(1.5, X.W3, X.V3, "i,i"), call(X.V3, X.V3, X.M33, "ii,i->i"),
        call(X.M24, X.M34, X.M23, "ij,jk,kl->il", X.draw(4, 4, seed=44)),
    ),
    L.einsum_at: Given(
        call(X.M24, 2, "ij,jk,kl->il", X.M23, X.M34, X.M45[:, :4].copy()),
        call(X.V2, 2, "i,ij,j->i", X.V2, X.M23, X.V3),
        call(X.V3, 3, "ij,j,k,ik->i", X.M32, X.V2, X.W3, X.M33),
    ),
    L.contract_at: Given(
        call(X.M45, 2, "ij,jk,kl->il", X.M23, X.M34, X.M45),
        call(X.V3, 2, "i,ij,j->i", X.V2, X.M23, X.V3),
    ),
    L.einsum_right: Given(
        call(X.M24, X.M23, X.M34, "ij,jk->ik"), call(1.5, X.V3, X.W3, "i,i"), call(X.M32, X.V3, X.M23, "i,jk->ij"),
        call(X.M24, X.M23, X.M34, "ij,jk,kl->il", X.draw(4, 4, seed=44)),
    ),
    np.linalg.inv: Given(call(X.D3), call(X.D233)),
    np.linalg.solve: Given(call(X.D3, X.V3), call(X.D3, X.M32), call(X.D233, X.M32), call(X.D233, X.V3)),
    np.linalg.det: Given(call(X.D3), call(X.D233)),
    np.linalg.cholesky: Symmetric(call(X.S3), call(X.S233)),
    np.linalg.pinv: Given(call(X.M23), call(X.M32)),
    np.linalg.matrix_power: Given(call(X.D3, n=3), call(X.D3, n=-2), call(X.D3, n=0), call(X.D3, n=1)),
    np.linalg.norm: Given(
        call(X.V3),
        call(X.V3, ord=1),
        call(X.V3, ord=np.inf),
        call(X.M23),
        call(X.M23, ord="fro"),
        call(X.M23, axis=1),
        call(X.M23, ord=2, axis=0),
        call(X.M23, ord=np.inf, axis=1, keepdims=True),
        call(X.T234, axis=(1, 2), keepdims=True),
    ),
    np.linalg.eigvalsh: Symmetric(call(X.S3), call(X.S233)),
    L.matmul_left: Given(
        call(X.M24, X.M34, X.M23),
        call(X.V4, X.M34, X.V3),
        call(X.V2, X.V3, X.M23),
        call(1.5, X.V3, X.W3),
        call(X.T224, X.T234, X.M23),
    ),
    L.matmul_right: Given(
        call(X.M24, X.M23, X.M34),
        call(X.V4, X.V3, X.M34),
        call(X.V2, X.M23, X.V3),
        call(1.5, X.V3, X.W3),
        call(X.T224, X.M23, X.T234),
    ),
    L.vector_or_matrix: Given(call(X.V3), call(X.M23)),
    L.tensordot_left: Given(call(X.V2, X.M34, X.T234), call(X.M24, X.M34, X.M23, axes=1)),
    L.tensordot_right: Given(call(X.V2, X.T234, X.M34), call(X.M24, X.M23, X.M34, axes=1)),
    L.kron_left: Given(call(X.M43, X.M21, X.M23), call(X.V6, X.V2, X.V3)),
    L.kron_right: Given(call(X.M43, X.M23, X.M21), call(X.V6, X.V3, X.V2)),
    L.safe_divide: Given(call(X.V3, X.W3 + 3.0), call(X.M23, X.V3 - 3.0)),
    L.eigvecsh: Symmetric(call(X.S3)),
    # functions returning several arrays: one primitive per output
    M.slogdet_logabsdet: Output(np.linalg.slogdet, 1, call(X.D3), call(X.D233)),
    M.eigh_values: Output(np.linalg.eigh, 0, call(X.S3), call(X.S233), symmetric=True),
    M.eigh_vectors: Output(np.linalg.eigh, 1, call(X.S3), symmetric=True),
    M.svd_values: Output(np.linalg.svd, 1, call(X.M23), call(X.M32), call(X.D233)),
    M.svd_u: Output(X.svd_reduced, 0, call(X.M23), call(X.M32), call(X.D233), call(X.M43)),
    M.svd_vh: Output(X.svd_reduced, 2, call(X.M23), call(X.M32), call(X.D233), call(X.M34)),
    M.qr_q: Output(np.linalg.qr, 0, call(X.M32), call(X.D3), call(X.draw(2, 4, 3, seed=6))),
    M.qr_r: Output(np.linalg.qr, 1, call(X.M32), call(X.D3), call(X.draw(2, 4, 3, seed=6))),
    M.lstsq_solution: Output(np.linalg.lstsq, 0, call(X.M32, X.V3), call(X.M43, X.M43[:, :2].copy())),
    L.as_column_of: Given(call(X.V3, X.V3, X.D3), call(X.M32, X.M32, X.D3), call(X.M23, X.M23, X.D233)),
    L.from_column_of: Given(call(X.M31, X.V3, X.D3), call(X.M32, X.M32, X.D3), call(X.T234, X.T234, X.D233)),
    L.matrix_power_tangent: Given(call(X.M33, X.D3, n=3), call(X.M33, X.D3, n=-2)),
    L.matrix_power_adjoint: Given(call(X.M33, X.D3, n=3), call(X.M33, X.D3, n=-2)),
    L.norm_derivative: Given(call(X.V3, np.linalg.norm(X.V3))),
    # more: NaN-skipping reductions and scans
    np.nanprod: Given(*NAN_CORE.calls, call(ZNAN), call(ZNAN, axis=1)),
    np.nanvar: Given(*NAN_VAR.calls),
    np.nanstd: Given(*(c for c in NAN_VAR.calls if np.ndim(c[0][0]))),
    np.nancumsum: Given(call(V3), call(1.5), call(TNAN), call(TNAN, axis=1)),
    np.nancumprod: Given(call(V3), call(1.5), call(TNAN), call(TNAN, axis=1), call(ZNAN, axis=2)),
    # more: conversions (the identity on real arrays)
    np.asarray: Given(call(X.V3), call(X.M23), call(1.5)),
    np.asanyarray: Given(call(X.V3), call(1.5)),
    np.array: Given(call(X.M23), call(1.5)),
    np.ascontiguousarray: Given(call(X.M23.T), call(1.5)),
    np.real: Given(call(X.M23), call(1.5)),
    np.conjugate: Elementwise(ANY),
    # more: convolution and correlation, in every mode and with either operand the longer
    np.convolve: Given(
        *(call(a, b, mode=m) for a, b in CONV_PAIRS for m in ("full", "same", "valid")), call(X.V5, X.V2)
    ),
    np.correlate: Given(
        *(call(a, b, mode=m) for a, b in CONV_PAIRS for m in ("full", "same", "valid")), call(X.V5, X.V2)
    ),
    R.unmode: Given(
        call(X.V6, X.V5, X.V2),
        call(X.V5, X.V2, X.V5, mode="same", kind="correlate"),
        call(X.V3, X.V5, X.V3, mode="valid"),
        call(X.V5, X.V5, X.V2, mode="same", kind="correlate"),
    ),
    R.remode: Given(
        call(X.V6, X.V5, X.V2, mode="same"),
        call(X.V6, X.V2, X.V5, mode="same", kind="correlate"),
        call(X.draw(7, seed=7), X.V5, X.V3, mode="valid"),
    ),
    # more: integration, polynomials, interpolation
    np.trapezoid: Given(
        call(X.V5),
        call(X.M34, dx=0.5),
        call(X.M34, axis=0),
        call(X.M34, np.array([0.0, 0.3, 1.1, 1.5])),
        call(X.M34, np.sort(X.M34, axis=0), axis=0),
    ),
    np.polyval: Given(call(X.V4, X.M23), call(X.V3, 1.5), call(X.V4, np.array([0.0, 1.0, -0.5])), call(X.V2, X.V3)),
    np.interp: Given(
        call(INTERP_X, XP, X.V5),
        call(INTERP_X, XP, X.V5, left=-3.0, right=3.0),
        call(INTERP_X.reshape(2, 3), XP, X.V5),
        call(0.4, XP, X.V5),
    ),
    R.interp_tangent: Given(call(X.V5, INTERP_X, XP), call(X.V5, INTERP_X, XP, left=1.0)),
    R.interp_adjoint: Given(call(X.draw(6, seed=6), INTERP_X, XP), call(X.draw(6, seed=5), INTERP_X, XP, right=1.0)),
    R.interp_slope: Given(call(INTERP_X, XP, X.V5)),
    R.trapezoid_weights: Given(call((3, 4), np.array([0.0, 0.3, 1.1, 1.5]))),
    # more: weighted averages (weights of the array's shape, or 1-D along an axis; kept away from a zero sum)
    R.weighted_average: Given(
        call(X.M34, X.draw(3, 4, seed=7, lo=0.5, hi=2.0)),
        call(X.M34, X.draw(4, seed=7, lo=0.5, hi=2.0), axis=1),
        call(X.T234, X.draw(3, seed=8, lo=0.5, hi=2.0), axis=-2, keepdims=True),
        call(X.M34, X.draw(3, 4, seed=9, lo=0.5, hi=2.0), axis=0),
    ),
    R.aligned: Given(call(X.V4, X.M34, axis=1), call(X.M34, X.M34), call(X.V3, X.T234, axis=-2)),
    # more: covariance
    np.cov: Given(call(X.M34), call(X.M45, bias=True), call(X.M43, ddof=0)),
    np.corrcoef: Given(call(X.M34), call(X.M45)),
    # more: NumPy 2's array-API spellings
    np.cumulative_sum: Given(call(X.V5), call(X.M34, axis=0), call(X.T234, axis=-1)),
    np.cumulative_prod: Given(call(X.V5), call(X.M34, axis=1), call(Z34, axis=1)),
    np.matrix_transpose: Given(call(X.M23), call(X.T234)),
    np.linalg.matrix_transpose: Given(call(X.M23)),
    np.vecdot: Given(call(X.V3, X.W3), call(X.M23, X.V3), call(X.M23, X.M23, axis=0)),
    np.linalg.vecdot: Given(call(X.M23, X.V3)),
    np.linalg.matmul: Given(call(X.M23, X.M34), call(X.V3, X.M34)),
    np.linalg.tensordot: Given(call(X.M23, X.M34, axes=1)),
    np.linalg.outer: Given(call(X.V3, X.V2)),
    np.linalg.cross: Given(call(X.V3, X.W3), call(X.M23, X.W3)),
    np.linalg.diagonal: Given(call(X.M33), call(X.T234, offset=1), call(X.M34, offset=-1)),
    np.linalg.trace: Given(call(X.M33), call(X.T234, offset=1), call(X.M34, offset=-1)),
}

try:  # scipy.special's rules exist when SciPy is installed (loaded when first needed: load them now)
    import scipy.special as sps

    adcompile.primitives.load_optional_rules()
except ImportError:
    sps = None
if sps is not None:
    LOGITS = Interval(0.1, 0.9)
    SAMPLES.update(
        {
            sps.expit: Elementwise(ANY),
            sps.logit: Elementwise(LOGITS),
            sps.erf: Elementwise(ANY),
            sps.erfc: Elementwise(ANY),
            sps.gammaln: Elementwise(POS),
            sps.digamma: Elementwise(POS),
            sps.polygamma: Given(call(1, POS.draw((3,), 0)), call(2, 1.5)),
            sps.log_expit: Elementwise(ANY),
            sps.xlogy: Elementwise(POS, POS),
            sps.logsumexp: REDUCE,
            sps.softmax: Given(call(M23), call(M23, axis=1), call(T234, axis=-1)),
            sps.log_softmax: Given(call(M23), call(M23, axis=0), call(T234, axis=(0, 2))),
        }
    )


def _specs(fn):
    spec = SAMPLES[fn]
    return spec if isinstance(spec, list) else [spec]


def _adcompile_rules():
    """Primitives whose rules adcompile itself defines (user rules registered by other tests are not ours)."""
    return [
        p
        for p in _REGISTRY.values()
        if any(r is not None and r.__module__.startswith("adcompile.") for r in (p.vjp, p.jvp))
    ]


CASES = [
    case
    for prim in _adcompile_rules()
    if prim.fn in SAMPLES
    for spec in _specs(prim.fn)
    for case in spec.cases(prim.fn)
]


def differentiable_args(case: Case) -> list:
    """Positions of the arguments the vjp rule gives an adjoint for (``None`` marks a shape-only argument)."""
    outputs = case.prim.template("vjp").outputs
    return [i for i in range(len(case.args)) if i < len(outputs) and outputs[i] is not None]


def rule_outputs(case: Case, kind: str, g, ans) -> tuple:
    """The rule's result as a tuple with one entry per argument, as the compiler reads it."""
    rule = case.prim.vjp if kind == "vjp" else case.prim.jvp
    out = rule(g, ans, *case.args, **case.kwargs)
    return out if len(case.prim.template(kind).outputs) > 1 else (out,)


def rule_output(case: Case, kind: str, g, i: int, ans):
    """Output ``i`` of the rule alone, as the compiler inlines it (with ``g`` of argument i's shape, a contraction's
    other outputs could not even be evaluated)."""
    t = case.prim.template(kind)
    scope = {**t.defaults, **dict(zip(t.params, (g, ans, *case.args))), **case.kwargs}
    for st in t.body:
        exec(compile(ast.Module([st], []), t.filename, "exec"), t.globals, scope)
    return eval(compile(ast.Expression(t.outputs[i]), t.filename, "eval"), t.globals, scope)


def random_like(v, seed):
    """A random value of ``v``'s shape: a Python float for a scalar, an array otherwise."""
    return ANY.draw(np.shape(v) if np.ndim(v) else None, seed=seed + 100)


def directional_derivative(case: Case, i: int, t):
    """d/ds fn(..., args[i] + s t, ...) at s = 0, by central differences."""
    up, down = list(case.args), list(case.args)
    up[i] = case.args[i] + EPS * t
    down[i] = case.args[i] - EPS * t
    return (np.asarray(case.fn(*up, **case.kwargs)) - np.asarray(case.fn(*down, **case.kwargs))) / (2 * EPS)


def inner(a, b) -> float:
    return float(np.sum(np.multiply(a, b)))


# ── the table is complete ────────────────────────────────────────────────────────────────────────────


def test_every_rule_has_a_check():
    missing = sorted(_fn_label(p.fn) for p in _adcompile_rules() if p.fn not in SAMPLES)
    assert not missing, f"add sample inputs to SAMPLES in {__file__} for: {', '.join(missing)}"


def test_every_sample_belongs_to_a_differentiable_primitive():
    for fn in SAMPLES:
        prim = lookup(fn)
        assert prim is not None and prim.differentiable and prim.vjp is not None, _fn_label(fn)


def test_every_vjp_rule_has_a_jvp_rule():
    missing = sorted(_fn_label(p.fn) for p in _adcompile_rules() if p.vjp is None or p.jvp is None)
    assert not missing


# ── the rules, called directly ───────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("case", CASES, ids=str)
def test_vjp_rule_is_the_weighted_gradient(case):
    ans = case.value()
    g = random_like(ans, seed=1)
    adjoints = rule_outputs(case, "vjp", g, ans)
    for i in differentiable_args(case):
        expected = numeric_grad(lambda *a: np.sum(g * case.fn(*a, **case.kwargs)), case.args, i)
        assert np.shape(adjoints[i]) == np.shape(case.args[i]), f"adjoint of argument {i}"
        np.testing.assert_allclose(adjoints[i], expected, rtol=RTOL, atol=ATOL, err_msg=f"argument {i}")


@pytest.mark.parametrize("case", CASES, ids=str)
def test_jvp_rule_is_the_directional_derivative(case):
    ans = case.value()
    for i in differentiable_args(case):
        t = random_like(case.args[i], seed=2 + i)
        tangent = rule_output(case, "jvp", t, i, ans)
        expected = directional_derivative(case, i, t)
        # a contribution may keep its argument's shape (add's is t itself): it broadcasts into the result
        np.testing.assert_allclose(
            np.broadcast_to(tangent, np.shape(ans)), expected, rtol=RTOL, atol=ATOL, err_msg=f"argument {i}"
        )


@pytest.mark.parametrize("case", CASES, ids=str)
def test_vjp_and_jvp_rules_are_transposes(case):
    ans = case.value()
    g = random_like(ans, seed=1)
    adjoints = rule_outputs(case, "vjp", g, ans)
    for i in differentiable_args(case):
        t = random_like(case.args[i], seed=2 + i)
        tangent = rule_output(case, "jvp", t, i, ans)
        assert inner(adjoints[i], t) == pytest.approx(inner(g, np.broadcast_to(tangent, np.shape(ans))), rel=1e-12)


# ── compiled gradients ───────────────────────────────────────────────────────────────────────────────


def weighted_sum(P, nargs: int):
    """``f(*args, w) = sum(P(*args) * w)``: its gradient is P's vjp against ``w``. P is a closure cell."""
    if nargs == 1:

        def f(x, w):
            return np.sum(P(x) * w)

    elif nargs == 2:

        def f(x, y, w):
            return np.sum(P(x, y) * w)

    elif nargs == 3:

        def f(x, y, z, w):
            return np.sum(P(x, y, z) * w)

    elif nargs == 4:

        def f(x, y, z, u, w):
            return np.sum(P(x, y, z, u) * w)

    elif nargs == 5:

        def f(x, y, z, u, v, w):
            return np.sum(P(x, y, z, u, v) * w)

    elif nargs == 6:

        def f(x, y, z, u, v, r, w):
            return np.sum(P(x, y, z, u, v, r) * w)

    else:

        def f(x, y, z, u, v, r, s, w):
            return np.sum(P(x, y, z, u, v, r, s) * w)

    return f


def plain_sum(P, nargs: int):
    """``f(*args) = sum(P(*args))``: the adjoint reaching P is a broadcast scalar, which adjoint code shrinks."""
    if nargs == 1:

        def f(x):
            return np.sum(P(x))

    elif nargs == 2:

        def f(x, y):
            return np.sum(P(x, y))

    elif nargs == 3:

        def f(x, y, z):
            return np.sum(P(x, y, z))

    elif nargs == 4:

        def f(x, y, z, u):
            return np.sum(P(x, y, z, u))

    elif nargs == 5:

        def f(x, y, z, u, v):
            return np.sum(P(x, y, z, u, v))

    elif nargs == 6:

        def f(x, y, z, u, v, r):
            return np.sum(P(x, y, z, u, v, r))

    else:

        def f(x, y, z, u, v, r, s):
            return np.sum(P(x, y, z, u, v, r, s))

    return f


def _argnums_variants(case: Case):
    """All differentiable arguments together, then each alone (the others are then inactive)."""
    diff = differentiable_args(case)
    if not diff:  # a local derivative whose own derivative is not supported: nothing to compile
        return
    yield tuple(diff)
    if len(diff) > 1:
        yield from diff


COMPILED = [
    pytest.param(case, argnums, weighted, id=f"{case}-argnums={argnums}-{'sum(P*w)' if weighted else 'sum(P)'}")
    for case in CASES
    if not case.kwargs  # shape-steering keywords must be literals in the source: see REDUCTIONS
    for argnums in _argnums_variants(case)
    for weighted in ([True, False] if isinstance(argnums, tuple) else [True])
]


@pytest.fixture(params=["specialised", "generic"])
def code(request, monkeypatch):
    """Which adjoint ``grad`` runs: the one specialised to the arguments' shapes, or the shape-agnostic one."""
    if request.param == "generic":
        monkeypatch.setattr(adcompile.api, "MAX_SPECIALISATIONS", 0)
    return request.param


@pytest.mark.parametrize("case, argnums, weighted", COMPILED)
def test_compiled_gradient_matches_finite_differences(case, argnums, weighted, code):
    if weighted:
        f, args = weighted_sum(case.fn, len(case.args)), (*case.args, random_like(case.value(), seed=3))
    else:
        f, args = plain_sum(case.fn, len(case.args)), case.args
    grads = adcompile.grad(f, argnums=argnums)(*args)
    for i, got in zip(argnums, grads) if isinstance(argnums, tuple) else [(argnums, grads)]:
        assert np.shape(got) == np.shape(args[i]), f"gradient of argument {i}"
        np.testing.assert_allclose(got, numeric_grad(f, args, i), rtol=RTOL, atol=ATOL, err_msg=f"argument {i}")


def both_operands(P):
    """``f(x, w) = sum(P(x, x) * w)``: x fans out into both operands, so its two adjoints must be summed."""

    def f(x, w):
        return np.sum(P(x, x) * w)

    return f


FAN_OUT_DOMAIN = Interval(1.5, 3.0)  # valid as either operand of every binary primitive, log's base included
BINARY = sorted(  # broadcasting primitives: contractions of x with itself are checked in test_array_rules.py
    {
        case.fn
        for case in CASES
        if len(differentiable_args(case)) == 2
        and all(isinstance(spec, (Elementwise, Scalars)) for spec in _specs(case.prim.fn))
    },
    key=_fn_label,
)
FAN_OUT = [
    pytest.param(fn, x, id=f"{_fn_label(fn)}(x,x)-{_shape_label(x)}")
    for fn in BINARY
    for x in (FAN_OUT_DOMAIN.draw(None, 0), FAN_OUT_DOMAIN.draw((2, 3), 0))
    if isinstance(x, float) or not _fn_label(fn).startswith("math.")
]


@pytest.mark.parametrize("fn, x", FAN_OUT)
def test_binary_primitive_of_one_argument_twice_sums_both_adjoints(fn, x, code):
    f = both_operands(fn)
    w = random_like(fn(x, x), seed=3)
    got = adcompile.grad(f)(x, w)
    assert np.shape(got) == np.shape(x)
    np.testing.assert_allclose(got, numeric_grad(f, (x, w), 0), rtol=RTOL, atol=ATOL)


# ── reductions: the adjoint is spread over exactly the reduced axes ─────────────────────────────────


def reduction(label, x, f):
    """A test case ``f(x)``; ``f`` is a lambda alone on its line, so adcompile can read its source."""
    return pytest.param(x, f, id=label)


# sin(...) after the reduction makes the gradient differ along the kept axes, so a wrong axis shows.
REDUCTIONS = [
    reduction("sum(float)", 1.5, lambda x: np.sin(np.sum(x))),
    reduction("sum(3, axis=0)", V3, lambda x: np.sin(np.sum(x, axis=0))),
    reduction("sum(2x3x4)", T234, lambda x: np.sin(np.sum(x))),
    reduction("sum(2x3x4, keepdims=True)", T234, lambda x: np.sum(np.sin(np.sum(x, keepdims=True)))),
    reduction("sum(2x3x4, axis=0)", T234, lambda x: np.sum(np.sin(np.sum(x, axis=0)))),
    reduction("sum(2x3x4, 1)", T234, lambda x: np.sum(np.sin(np.sum(x, 1)))),
    reduction("sum(2x3x4, axis=-1)", T234, lambda x: np.sum(np.sin(np.sum(x, axis=-1)))),
    reduction("sum(2x3x4, axis=(0, 2))", T234, lambda x: np.sum(np.sin(np.sum(x, axis=(0, 2))))),
    reduction("sum(2x3x4, axis=(-1, 0))", T234, lambda x: np.sum(np.sin(np.sum(x, axis=(-1, 0))))),
    reduction("sum(2x3x4, axis=1, keepdims=True)", T234, lambda x: np.sum(np.sin(np.sum(x, axis=1, keepdims=True)))),
    reduction(
        "sum(2x3x4, axis=-2, keepdims=True)",
        T234,
        lambda x: np.sum(np.sin(np.sum(x, axis=-2, keepdims=True))),
    ),
    reduction(
        "sum(2x3x4, axis=(0, 2), keepdims=True)",
        T234,
        lambda x: np.sum(np.sin(np.sum(x, axis=(0, 2), keepdims=True))),
    ),
    reduction(
        "sum(2x3x4, axis=1, keepdims=False)",
        T234,
        lambda x: np.sum(np.sin(np.sum(x, axis=1, keepdims=False))),
    ),
    reduction("mean(float)", 1.5, lambda x: np.sin(np.mean(x))),
    reduction("mean(3, axis=0)", V3, lambda x: np.sin(np.mean(x, axis=0))),
    reduction("mean(2x3x4)", T234, lambda x: np.sin(np.mean(x))),
    reduction("mean(2x3x4, keepdims=True)", T234, lambda x: np.sum(np.sin(np.mean(x, keepdims=True)))),
    reduction("mean(2x3x4, axis=0)", T234, lambda x: np.sum(np.sin(np.mean(x, axis=0)))),
    reduction("mean(2x3x4, 1)", T234, lambda x: np.sum(np.sin(np.mean(x, 1)))),
    reduction("mean(2x3x4, axis=-1)", T234, lambda x: np.sum(np.sin(np.mean(x, axis=-1)))),
    reduction("mean(2x3x4, axis=(0, 2))", T234, lambda x: np.sum(np.sin(np.mean(x, axis=(0, 2))))),
    reduction("mean(2x3x4, axis=(-1, 0))", T234, lambda x: np.sum(np.sin(np.mean(x, axis=(-1, 0))))),
    reduction(
        "mean(2x3x4, axis=1, keepdims=True)",
        T234,
        lambda x: np.sum(np.sin(np.mean(x, axis=1, keepdims=True))),
    ),
    reduction(
        "mean(2x3x4, axis=-2, keepdims=True)",
        T234,
        lambda x: np.sum(np.sin(np.mean(x, axis=-2, keepdims=True))),
    ),
    reduction(
        "mean(2x3x4, axis=(0, 2), keepdims=True)",
        T234,
        lambda x: np.sum(np.sin(np.mean(x, axis=(0, 2), keepdims=True))),
    ),
    reduction(
        "mean(2x3x4, axis=1, keepdims=False)",
        T234,
        lambda x: np.sum(np.sin(np.mean(x, axis=1, keepdims=False))),
    ),
    reduction("expand_to(3, 2x3, axis=0)", V3, lambda x: np.sum(np.sin(expand_to(x, M23, axis=0)))),
    reduction(
        "expand_to(2x1x4, 2x3x4, axis=1, keepdims=True)",
        T214,
        lambda x: np.sum(np.sin(expand_to(x, T234, axis=1, keepdims=True))),
    ),
]


@pytest.mark.parametrize("x, f", REDUCTIONS)
def test_reduction_gradient_matches_finite_differences(x, f, code):
    got = adcompile.grad(f)(x)
    assert np.shape(got) == np.shape(x)
    np.testing.assert_allclose(got, numeric_grad(f, (x,), 0), rtol=RTOL, atol=ATOL)


def sum_with_positional_dtype(x):
    return np.sum(np.sin(np.sum(x, 0, None)))  # np.sum(a, axis, dtype): None is the dtype


def test_third_positional_argument_of_sum_is_its_dtype():
    """np.sum(a, axis, dtype): not the rule's third parameter, keepdims (once compiled as keepdims=None)."""
    got = adcompile.grad(sum_with_positional_dtype)(T234)
    np.testing.assert_allclose(got, numeric_grad(sum_with_positional_dtype, (T234,), 0), rtol=RTOL, atol=ATOL)


# ── every new reduction and scan with each form of its keywords, compiled ───────────────────────────


def reduction_forms(P):
    """``P`` (a reduction) called with each form of axis and keepdims; each lambda is alone on its line."""
    return {
        "axis=1": lambda x: np.sum(np.sin(P(x, axis=1))),
        "positional 1": lambda x: np.sum(np.sin(P(x, 1))),
        "axis=-1": lambda x: np.sum(np.sin(P(x, axis=-1))),
        "axis=(0, 2)": lambda x: np.sum(np.sin(P(x, axis=(0, 2)))),
        "axis=(-1, 0), keepdims=True": lambda x: np.sum(np.sin(P(x, axis=(-1, 0), keepdims=True))),
        "axis=-2, keepdims=True": lambda x: np.sum(np.sin(P(x, axis=-2, keepdims=True))),
        "keepdims=True": lambda x: np.sum(np.sin(P(x, keepdims=True))),
        "axis=None, keepdims=False": lambda x: np.sin(P(x, axis=None, keepdims=False)),
    }


def ddof_forms(P):
    """np.var and np.std with ddof (by keyword, and positionally after axis, dtype and out)."""
    return {
        "ddof=1": lambda x: np.sin(P(x, ddof=1)),
        "axis=1, ddof=1": lambda x: np.sum(np.sin(P(x, axis=1, ddof=1))),
        "axis=(0, 2), ddof=2, keepdims=True": lambda x: np.sum(np.sin(P(x, axis=(0, 2), ddof=2, keepdims=True))),
        "positional -1, None, None, 1": lambda x: np.sum(np.sin(P(x, -1, None, None, 1))),
    }


def scan_forms(P):
    """np.cumsum and np.cumprod along each axis, and flattened without one."""
    return {
        "flattened": lambda x: np.sum(np.sin(P(x))),
        "axis=0": lambda x: np.sum(np.sin(P(x, axis=0))),
        "axis=1": lambda x: np.sum(np.sin(P(x, axis=1))),
        "axis=-1": lambda x: np.sum(np.sin(P(x, axis=-1))),
        "positional 2": lambda x: np.sum(np.sin(P(x, 2))),
    }


NEW_REDUCTIONS = (
    np.prod, np.var, np.std, np.max, np.amax, np.min, np.amin, np.ptp, np.median, np.average,
    np.nansum, np.nanmean, np.nanmax, np.nanmin,
)  # fmt: skip
KEYWORD_FORMS = [
    *(
        pytest.param(T234, f, id=f"{_fn_label(P)}({label})")
        for P in NEW_REDUCTIONS
        for label, f in reduction_forms(P).items()
    ),
    *(
        pytest.param(T234, f, id=f"{_fn_label(P)}({label})")
        for P in (np.var, np.std)
        for label, f in ddof_forms(P).items()
    ),
    *(
        pytest.param(TNAN, f, id=f"{_fn_label(P)}(with NaN, {label})")
        for P in (np.nansum, np.nanmean, np.nanmax, np.nanmin)
        for label, f in list(reduction_forms(P).items())[:4]
    ),
    *(
        pytest.param(T234, f, id=f"{_fn_label(P)}({label})")
        for P in (np.cumsum, np.cumprod)
        for label, f in scan_forms(P).items()
    ),
]


@pytest.mark.parametrize("x, f", KEYWORD_FORMS)
def test_keyword_forms_of_reductions_and_scans_match_finite_differences(x, f, code):
    got = adcompile.grad(f)(x)
    assert np.shape(got) == np.shape(x)
    np.testing.assert_allclose(got, numeric_grad(f, (x,), 0), rtol=RTOL, atol=ATOL)


def clip_forms():
    """np.clip with literal bounds, a missing bound (None) and bounds that are operands."""
    return {
        "clip(x, -0.5, 0.7)": lambda x: np.sum(np.sin(np.clip(x, -0.5, 0.7))),
        "clip(x, None, 0.5)": lambda x: np.sum(np.sin(np.clip(x, None, 0.5))),
        "clip(x, -0.2, None)": lambda x: np.sum(np.sin(np.clip(x, -0.2, None))),
        "clip(x, a_min=-0.5, a_max=x * x)": lambda x: np.sum(np.sin(np.clip(x, a_min=-0.5, a_max=x * x))),
        "clip(x, x * 0.5 - 1, 0.9)": lambda x: np.sum(np.sin(np.clip(x, x * 0.5 - 1, 0.9))),
        "where(x > 0, x, x * x)": lambda x: np.sum(np.sin(np.where(x > 0, x, x * x))),
        "where(x > 0, np.log(x), 0.0)": lambda x: np.sum(np.where(x > 0, np.log(np.abs(x)), 0.0)),
        "nan_to_num(x, nan=0.5)": lambda x: np.sum(np.sin(np.nan_to_num(x, nan=0.5))),
    }


@pytest.mark.parametrize("label", list(clip_forms()))
def test_choices_with_literal_and_missing_arguments_match_finite_differences(label, code):
    f = clip_forms()[label]
    got = adcompile.grad(f)(T234)
    np.testing.assert_allclose(got, numeric_grad(f, (T234,), 0), rtol=RTOL, atol=ATOL)


def _callees(rule):
    """The objects a rule calls, resolved in its module as the compiler resolves them."""
    fdef = ast.parse(textwrap.dedent(inspect.getsource(rule))).body[0]
    for node in (n for statement in fdef.body for n in ast.walk(statement)):
        if isinstance(node, ast.Call):
            text = ast.unparse(node.func)
            obj = rule.__globals__.get(text.split(".")[0]) or getattr(builtins, text.split(".")[0], None)
            for attr in text.split(".")[1:]:
                obj = getattr(obj, attr)
            yield text, obj


@pytest.mark.parametrize("prim", _adcompile_rules(), ids=lambda p: _fn_label(p.fn))
def test_rules_call_only_primitives_with_rules_of_their_own(prim):
    """Rules are inlined and will be differentiated again (Hessians): every callable in them must be a primitive
    that has both rules, or one whose derivative is zero."""
    for rule in {prim.vjp, prim.jvp}:
        for text, obj in _callees(rule):
            used = lookup(obj)
            assert used is not None, f"{text} in a rule of {_fn_label(prim.fn)} is not a primitive"
            assert not used.differentiable or (used.vjp is not None and used.jvp is not None), text
