"""Derivative rules for shape and layout: reshapes, axis permutations, flips, copies, padding, sorting, gathering.

Each of these functions is linear in its array argument (``np.sort`` and ``np.take_along_axis`` once the order or
the indices are fixed), so its jvp rule applies the function to the tangent and its vjp rule applies the transposed
map to the adjoint: a reshape back, the inverse permutation of the axes, a sum over the copies a repeat or a tile
made, a scatter-add for a gather. Transposed maps that depend on the input's shape are the helpers below, whose
second operand only gives a shape (``reshape_like(g, x)``, ``unrepeat(g, x, repeats, axis)``); each is a primitive
with rules of its own, and where shapes are known at compile time the simplest of them fold into plain NumPy calls.

Shape rules run the NumPy function itself on a stand-in array of the operand's known shape (:func:`by_example`), so
the result's shape, dtype kind and array-ness are NumPy's own; an unknown operand shape gives an unknown result.
"""

from __future__ import annotations

import operator

import numpy as np

from . import avals as A
from .errors import AdCompileError
from .ir import Const, Index, Slice
from .primitives import NEW_OBJECTS, READ_ONLY_VIEWS, derivative, jvp, lookup, primitive, vjp
from .runtime import new_list, new_tuple, part_of, unbroadcast
from .simplify import fold

# ── shape rules by example ───────────────────────────────────────────────────────────────────────────


def _stand_in(aval: A.Aval, integer: bool):
    """A value NumPy treats like one with abstract value ``aval`` (None if its shape is unknown).

    Square matrices stand in as identities, so that linear algebra (inv, cholesky) works on them.
    """
    if isinstance(aval.literal, (int, tuple)) and not isinstance(aval.literal, bool):
        return aval.literal  # a size, a shape or axes, written or computed: 6, (2, -1), (n, m) with n, m known
    if not isinstance(aval.shape, tuple):
        return None
    shape = aval.shape
    dtype = np.intp if integer or aval.kind in ("i", "u") else bool if aval.kind == "b" else np.float64
    if shape == () and aval.array is False:
        return dtype(0)
    if dtype is np.float64 and len(shape) >= 2 and shape[-1] == shape[-2]:
        return np.broadcast_to(np.eye(shape[-1]), shape)
    return np.zeros(shape, dtype)


def by_example(fn, integer=(), check=None):
    """A shape rule that evaluates ``fn`` on stand-ins for its operands; ``integer``: positions of index operands.

    ``check(avals, kwargs, loc)``, if given, rejects calls that the derivative rules do not cover.
    """

    def rule(avals, kwargs, loc=None):
        if check is not None:
            check(avals, kwargs, loc)
        kinds = [a.kind for i, a in enumerate(avals) if i not in integer]
        stand_ins = [_stand_in(a, i in integer) for i, a in enumerate(avals)]
        if any(s is None for s in stand_ins):
            kind = "f" if kinds and all(k == "f" for k in kinds) else None
            return A.Aval(None, kind, None)
        try:
            with np.errstate(all="ignore"):
                out = fn(*stand_ins, **kwargs)
        except Exception as e:  # NumPy's own complaint about these shapes (or parameters)
            shapes = ", ".join(str(a.shape) for a in avals)
            name = lookup(fn).display if lookup(fn) else fn.__name__
            raise AdCompileError(f"{name}() fails for operands of shapes {shapes}: {e}", loc) from None
        shape = np.shape(out)
        kind = np.asarray(out).dtype.kind if all(k is not None for k in kinds) else None
        if all(a.array is not None for a in avals):
            array = isinstance(out, np.ndarray)
        else:
            array = True if shape != () else None
        return A.Aval(shape, kind, array)

    return rule


def _ndim(b, op):
    """The number of dimensions of an operand, if known at compile time."""
    shape = b.aval(op).shape
    return len(shape) if isinstance(shape, tuple) else None


# ── helpers: the transposed maps (their second operand only gives a shape) ──────────────────────────────


def reshape_like(v, x):
    """``v`` reshaped to ``x``'s shape, a NumPy scalar if ``x`` is not an array: the adjoint of any reshape."""
    if not isinstance(x, np.ndarray):
        return np.reshape(v, ())[()]
    return np.reshape(v, x.shape)


def untranspose(v, axes=None):
    """``np.transpose`` by the inverse of the permutation ``axes``: the adjoint of ``np.transpose(x, axes)``."""
    if axes is None:
        return np.transpose(v)
    n = np.ndim(v)
    return np.transpose(v, tuple(np.argsort([a % n for a in axes])))


def unrepeat(v, x, repeats, axis=None):
    """The adjoint of ``np.repeat(x, repeats, axis)``: each element's copies summed."""
    shape = np.shape(x)
    if np.ndim(repeats) == 0:
        if axis is None:
            return reshape_like(np.sum(np.reshape(v, (-1, repeats)), axis=1), x)
        axis %= len(shape)
        return np.sum(np.reshape(v, shape[:axis] + (shape[axis], repeats) + shape[axis + 1 :]), axis=axis + 1)
    n = np.size(x) if axis is None else shape[axis]  # one count per element: a gather of repeated indices
    return untake(v, x, np.repeat(np.arange(n), repeats), axis)


def untile(v, x, reps):
    """The adjoint of ``np.tile(x, reps)``: the tiles summed."""
    shape = np.shape(x)
    reps = (reps,) if np.ndim(reps) == 0 else tuple(reps)
    n = max(len(shape), len(reps))
    full = (1,) * (n - len(shape)) + tuple(shape)
    reps = (1,) * (n - len(reps)) + reps
    v = np.reshape(v, [d for pair in zip(reps, full) for d in pair])
    return reshape_like(np.sum(v, axis=tuple(range(0, 2 * n, 2))), x)


def unpad(v, pad_width):
    """The adjoint of ``np.pad(x, pad_width)``: the part that is not padding (a view)."""
    widths = np.broadcast_to(np.asarray(pad_width, dtype=np.intp), (np.ndim(v), 2))
    return v[tuple(slice(int(lo), n - int(hi)) for (lo, hi), n in zip(widths, np.shape(v)))]


def undiff(v, n=1, axis=-1):
    """The adjoint of ``np.diff(x, n, axis)``: ``n`` times, minus the difference of ``v`` padded with zeros."""
    for _ in range(n):
        widths = [(0, 0)] * np.ndim(v)
        widths[axis] = (1, 1)
        v = -np.diff(np.pad(v, widths), axis=axis)
    return v


def untake(v, x, indices, axis=None):
    """The adjoint of ``np.take(x, indices, axis)``: ``v`` added into zeros at the indices (repeats accumulate)."""
    shape = np.shape(x)
    out = np.zeros(np.size(x) if axis is None else shape, dtype=np.result_type(v, np.float64))
    np.add.at(out, indices if axis is None else (slice(None),) * (axis % len(shape)) + (indices,), v)
    return reshape_like(out, x)


def untake_along_axis(v, x, indices, axis=-1):
    """The adjoint of ``np.take_along_axis(x, indices, axis)``: ``v`` added into zeros at the indices."""
    shape = np.shape(x)
    if axis is None:
        return untake(v, x, indices)
    axis %= len(shape)
    where = tuple(
        indices if d == axis else np.arange(n).reshape((1,) * d + (n,) + (1,) * (len(shape) - d - 1))
        for d, n in enumerate(shape)
    )
    out = np.zeros(shape, dtype=np.result_type(v, np.float64))
    np.add.at(out, where, v)
    return out


def diagonal_adjoint(v, x, offset=0, axis1=0, axis2=1):
    """The adjoint of ``np.diagonal(x, offset, axis1, axis2)``: ``v`` placed on that diagonal of zeros."""
    shape = np.shape(x)
    out = np.zeros(shape, dtype=np.result_type(v, np.float64))
    view = np.moveaxis(out, (axis1, axis2), (-2, -1))
    i = np.arange(np.shape(v)[-1])
    view[..., i + max(-offset, 0), i + max(offset, 0)] = v
    return out


def diag_adjoint(v, x, k=0):
    """The adjoint of ``np.diag(x, k)``: the k-th diagonal of ``v`` for a vector ``x``, else ``v`` placed on it."""
    if np.ndim(x) == 1:
        return np.diag(v, k).copy()  # np.diag of a matrix is a read-only view
    return diagonal_adjoint(v, x, k)


# ── reshapes: the adjoint is reshaped back ────────────────────────────────────────────────────────────


# the shape is an operand, not a literal parameter: it may be computed, (n, -1)
@vjp(np.reshape, shape=by_example(np.reshape))
def _(g, ans, x, shape):
    return reshape_like(g, x), None


@jvp(np.reshape)
def _(g, ans, x, shape):
    return np.reshape(g, shape), None


@vjp(np.ravel, shape=by_example(np.ravel))
def _(g, ans, x):
    return reshape_like(g, x)


@jvp(np.ravel)
def _(g, ans, x):
    return np.ravel(g)


@vjp(np.squeeze, shape=by_example(np.squeeze))
def _(g, ans, x, axis=None):
    return reshape_like(g, x)


@jvp(np.squeeze)
def _(g, ans, x, axis=None):
    return np.squeeze(g, axis)


@vjp(np.expand_dims, shape=by_example(np.expand_dims))
def _(g, ans, x, axis):
    return reshape_like(g, x)


@jvp(np.expand_dims)
def _(g, ans, x, axis):
    return np.expand_dims(g, axis)


@vjp(np.atleast_1d, shape=by_example(np.atleast_1d))
def _(g, ans, x):
    return reshape_like(g, x)


@jvp(np.atleast_1d)
def _(g, ans, x):
    return np.atleast_1d(g)


@vjp(np.atleast_2d, shape=by_example(np.atleast_2d))
def _(g, ans, x):
    return reshape_like(g, x)


@jvp(np.atleast_2d)
def _(g, ans, x):
    return np.atleast_2d(g)


@vjp(np.atleast_3d, shape=by_example(np.atleast_3d))
def _(g, ans, x):
    return reshape_like(g, x)


@jvp(np.atleast_3d)
def _(g, ans, x):
    return np.atleast_3d(g)


# ── permutations of axes and elements: the adjoint is permuted back ───────────────────────────────────


@vjp(np.transpose, shape=by_example(np.transpose))
def _(g, ans, x, axes=None):
    return untranspose(g, axes)


@jvp(np.transpose)
def _(g, ans, x, axes=None):
    return np.transpose(g, axes)


@derivative(np.swapaxes, shape=by_example(np.swapaxes))
def _(g, ans, x, axis1, axis2):
    return np.swapaxes(g, axis1, axis2)


@vjp(np.moveaxis, shape=by_example(np.moveaxis))
def _(g, ans, x, source, destination):
    return np.moveaxis(g, destination, source)


@jvp(np.moveaxis)
def _(g, ans, x, source, destination):
    return np.moveaxis(g, source, destination)


@derivative(np.flip, shape=by_example(np.flip))
def _(g, ans, x, axis=None):
    return np.flip(g, axis)


@derivative(np.flipud, shape=by_example(np.flipud))
def _(g, ans, x):
    return np.flipud(g)


@derivative(np.fliplr, shape=by_example(np.fliplr))
def _(g, ans, x):
    return np.fliplr(g)


@vjp(np.rot90, shape=by_example(np.rot90))
def _(g, ans, x, k=1, axes=(0, 1)):
    return np.rot90(g, -k, axes)


@jvp(np.rot90)
def _(g, ans, x, k=1, axes=(0, 1)):
    return np.rot90(g, k, axes)


def _integer_shift(avals, kwargs, loc):
    if not isinstance(kwargs.get("shift"), (int, np.integer)):
        raise AdCompileError("np.roll() is differentiable with one integer shift (roll one axis at a time)", loc)


@vjp(np.roll, shape=by_example(np.roll, check=_integer_shift))
def _(g, ans, x, shift, axis=None):
    return np.roll(g, -shift, axis)


@jvp(np.roll)
def _(g, ans, x, shift, axis=None):
    return np.roll(g, shift, axis)


@vjp(np.sort, shape=by_example(np.sort))
def _(g, ans, x, axis=-1):
    return untake_along_axis(g, x, np.argsort(x, axis=axis, kind="stable"), axis)


@jvp(np.sort)
def _(g, ans, x, axis=-1):
    return np.take_along_axis(g, np.argsort(x, axis=axis, kind="stable"), axis)


# ── copies: the adjoint sums the copies ──────────────────────────────────────────────────────────────


@vjp(np.broadcast_to, shape=by_example(np.broadcast_to))
def _(g, ans, x, shape):
    return unbroadcast(g, x), None


@jvp(np.broadcast_to)
def _(g, ans, x, shape):
    return np.broadcast_to(g, shape), None


@vjp(np.repeat, shape=by_example(np.repeat))
def _(g, ans, x, repeats, axis=None):
    return unrepeat(g, x, repeats, axis)


@jvp(np.repeat)
def _(g, ans, x, repeats, axis=None):
    return np.repeat(g, repeats, axis)


@vjp(np.tile, shape=by_example(np.tile))
def _(g, ans, x, reps):
    return untile(g, x, reps)


@jvp(np.tile)
def _(g, ans, x, reps):
    return np.tile(g, reps)


# ── padding, differences, diagonals and triangles ────────────────────────────────────────────────────


@vjp(np.pad, shape=by_example(np.pad))
def _(g, ans, x, pad_width, constant_values=0):
    return unpad(g, pad_width)


@jvp(np.pad)
def _(g, ans, x, pad_width, constant_values=0):
    return np.pad(g, pad_width)


@vjp(np.diff, shape=by_example(np.diff))
def _(g, ans, x, n=1, axis=-1):
    return undiff(g, n, axis)


@jvp(np.diff)
def _(g, ans, x, n=1, axis=-1):
    return np.diff(g, n, axis)


@vjp(np.diag, shape=by_example(np.diag))
def _(g, ans, x, k=0):
    return diag_adjoint(g, x, k)


@jvp(np.diag)
def _(g, ans, x, k=0):
    return np.diag(g, k)


@vjp(np.diagonal, shape=by_example(np.diagonal))
def _(g, ans, x, offset=0, axis1=0, axis2=1):
    return diagonal_adjoint(g, x, offset, axis1, axis2)


@jvp(np.diagonal)
def _(g, ans, x, offset=0, axis1=0, axis2=1):
    return np.diagonal(g, offset, axis1, axis2)


# np.triu of a vector broadcasts it to a square matrix first: unbroadcast sums the rows back
@vjp(np.triu, shape=by_example(np.triu))
def _(g, ans, x, k=0):
    return unbroadcast(np.triu(g, k), x)


@jvp(np.triu)
def _(g, ans, x, k=0):
    return np.triu(g, k)


@vjp(np.tril, shape=by_example(np.tril))
def _(g, ans, x, k=0):
    return unbroadcast(np.tril(g, k), x)


@jvp(np.tril)
def _(g, ans, x, k=0):
    return np.tril(g, k)


# ── gathers: the adjoint is scattered back, repeated indices accumulating ────────────────────────────


@vjp(np.take, shape=by_example(np.take, integer=(1,)))
def _(g, ans, x, indices, axis=None):
    return untake(g, x, indices, axis), None


@jvp(np.take)
def _(g, ans, x, indices, axis=None):
    return np.take(g, indices, axis), None


@vjp(np.take_along_axis, shape=by_example(np.take_along_axis, integer=(1,)))
def _(g, ans, x, indices, axis=-1):
    return untake_along_axis(g, x, indices, axis), None


@jvp(np.take_along_axis)
def _(g, ans, x, indices, axis=-1):
    return np.take_along_axis(g, indices, axis), None


primitive(np.argsort, shape=by_example(np.argsort)).differentiable = False


# ── the helpers' own rules (linear in their first operand; the adjoint of a transpose is the map) ─────


@vjp(reshape_like, shape=A.like_second)
def _(g, ans, v, x):
    return reshape_like(g, v), None


@jvp(reshape_like)
def _(g, ans, v, x):
    return reshape_like(g, x), None


@vjp(untranspose, shape=by_example(untranspose))
def _(g, ans, v, axes=None):
    return np.transpose(g, axes)


@jvp(untranspose)
def _(g, ans, v, axes=None):
    return untranspose(g, axes)


@vjp(unrepeat, shape=A.like_second)
def _(g, ans, v, x, repeats, axis=None):
    return np.repeat(g, repeats, axis), None


@jvp(unrepeat)
def _(g, ans, v, x, repeats, axis=None):
    return unrepeat(g, x, repeats, axis), None


@vjp(untile, shape=A.like_second)
def _(g, ans, v, x, reps):
    return np.tile(g, reps), None


@jvp(untile)
def _(g, ans, v, x, reps):
    return untile(g, x, reps), None


@vjp(unpad, shape=by_example(unpad))
def _(g, ans, v, pad_width):
    return np.pad(g, pad_width)


@jvp(unpad)
def _(g, ans, v, pad_width):
    return unpad(g, pad_width)


@vjp(undiff, shape=by_example(undiff))
def _(g, ans, v, n=1, axis=-1):
    return np.diff(g, n, axis)


@jvp(undiff)
def _(g, ans, v, n=1, axis=-1):
    return undiff(g, n, axis)


@vjp(untake, shape=A.like_second)
def _(g, ans, v, x, indices, axis=None):
    return np.take(g, indices, axis), None, None


@jvp(untake)
def _(g, ans, v, x, indices, axis=None):
    return untake(g, x, indices, axis), None, None


@vjp(untake_along_axis, shape=A.like_second)
def _(g, ans, v, x, indices, axis=-1):
    return np.take_along_axis(g, indices, axis), None, None


@jvp(untake_along_axis)
def _(g, ans, v, x, indices, axis=-1):
    return untake_along_axis(g, x, indices, axis), None, None


@vjp(diagonal_adjoint, shape=A.like_second)
def _(g, ans, v, x, offset=0, axis1=0, axis2=1):
    return np.diagonal(g, offset, axis1, axis2), None


@jvp(diagonal_adjoint)
def _(g, ans, v, x, offset=0, axis1=0, axis2=1):
    return diagonal_adjoint(g, x, offset, axis1, axis2), None


@vjp(diag_adjoint, shape=A.like_second)
def _(g, ans, v, x, k=0):
    return np.diag(g, k), None


@jvp(diag_adjoint)
def _(g, ans, v, x, k=0):
    return diag_adjoint(g, x, k), None


# ── folds: the helpers as plain NumPy when shapes are known ──────────────────────────────────────────


@fold(reshape_like)
def _(b, v, x, **kw):
    have, want = b.aval(v).shape, b.aval(x).shape
    if have is not None and have == want:
        return v
    if isinstance(want, tuple) and b.aval(x).array:
        return b.call(np.reshape, v, Const(want))
    if want == () and b.aval(x).array is False and isinstance(have, tuple):
        return b.call(np.sum, v)  # the one element, as a scalar like x
    return None


@fold(untranspose)
def _(b, v, axes=None):
    if axes is None:
        return b.call(np.transpose, v)
    n = _ndim(b, v)
    if n is None and any(a < 0 for a in axes.value):
        return None
    inverse = tuple(int(i) for i in np.argsort([a % (n or len(axes.value)) for a in axes.value]))
    return v if inverse == tuple(range(len(inverse))) else b.call(np.transpose, v, Const(inverse))


@fold(diag_adjoint)
def _(b, v, x, k=None):
    shape = b.aval(x).shape
    if isinstance(shape, tuple) and (len(shape) == 1 or (len(shape) == 2 and shape[0] == shape[1])):
        return b.call(np.diag, v, k) if k is not None else b.call(np.diag, v)
    return None


def _known_array_shape(b, x):
    shape = b.aval(x).shape
    return shape if isinstance(shape, tuple) and b.aval(x).array else None


@fold(unrepeat)
def _(b, v, x, repeats, axis=None):
    """With an integer count and a known shape: the copies are an axis of their own, summed."""
    shape = _known_array_shape(b, x)
    r = repeats.value
    if shape is None or not isinstance(r, int):
        return None
    if axis is None:
        summed = b.call(np.sum, b.call(np.reshape, v, Const((int(np.prod(shape)), r))), axis=Const(1))
        return b.call(reshape_like, summed, x)
    k = axis.value % len(shape)
    return b.call(np.sum, b.call(np.reshape, v, Const(shape[:k] + (shape[k], r) + shape[k + 1 :])), axis=Const(k + 1))


@fold(untile)
def _(b, v, x, reps):
    """With a known shape: each axis split into (tile, element), the tile axes summed."""
    shape = _known_array_shape(b, x)
    if shape is None:
        return None
    r = (reps.value,) if isinstance(reps.value, int) else tuple(reps.value)
    n = max(len(shape), len(r))
    full, r = (1,) * (n - len(shape)) + shape, (1,) * (n - len(r)) + r
    split = b.call(np.reshape, v, Const(tuple(d for pair in zip(r, full) for d in pair)))
    axes = tuple(range(0, 2 * n, 2))
    return b.call(reshape_like, b.call(np.sum, split, axis=Const(axes[0] if n == 1 else axes)), x)


@fold(diagonal_adjoint)
def _(b, v, x, offset=None, axis1=None, axis2=None):
    """On the main axes of a square matrix, np.diag places a vector on a diagonal."""
    shape = b.aval(x).shape
    axes = (0 if axis1 is None else axis1.value % 2, 1 if axis2 is None else axis2.value % 2)
    if isinstance(shape, tuple) and len(shape) == 2 and shape[0] == shape[1] and axes == (0, 1):
        return b.call(np.diag, v, offset) if offset is not None else b.call(np.diag, v)
    return None


# Which results are new arrays, and which may be read-only views (copied before they are returned as gradients);
# every other result may be a writable view of its first operand (see primitives.returns_new).
NEW_OBJECTS.update(
    id(_fn)
    for _fn in (np.roll, np.repeat, np.tile, np.pad, np.diff, np.triu, np.tril, np.sort, np.take, np.take_along_axis)
)
READ_ONLY_VIEWS.update(id(_fn) for _fn in (np.broadcast_to, np.diagonal, np.diag))


# ── joining a list of arrays: np.array([a, b]), np.stack, np.concatenate, np.hstack, np.vstack ───────────────
# The list is one operand (a Pack). Each element's adjoint is its part of g (runtime.part_of), which the reverse
# sweep takes for each element that needs one; with known shapes it is a plain subscript of g.

#
# The rules below state the same calculus for a list as one argument: its tangent is the list of its elements'
# tangents (zeros for those that do not vary) and its adjoint the list of their parts (parts_of). The reverse
# sweep does not call them (it takes each element's part where it is needed); a forward transform can.

PACKING = {
    np.array: "array", np.stack: "stack", np.concatenate: "concatenate", np.hstack: "hstack", np.vstack: "vstack",
    new_list: "array",
}  # fmt: skip
for _fn in PACKING:
    primitive(_fn, shape=A.packed(_fn))
# a new list each time, which appends may grow in place: never merged with another (tapes, made by list(), too)
primitive(new_list, shape=A.listed).fresh = primitive(list).fresh = True
primitive(new_tuple, shape=A.tupled).differentiable = False  # (n, m): a shape, made of integers
NEW_OBJECTS.update(id(_fn) for _fn in (*PACKING, new_tuple))
primitive(part_of, shape=A.unknown)


def parts_of(g, xs, how: str, axis=0):
    """The adjoints of all the elements of ``xs`` joined by ``how`` (see ``runtime.part_of``), as a list."""
    return [part_of(g, xs, k, how, axis) for k in range(len(xs))]


def joined(xs, how: str, axis=0):
    """``xs`` joined as ``how`` joins them: ``np.stack(xs, axis)``, ``np.concatenate(xs, axis)``, ``np.hstack``,
    ``np.vstack`` or ``np.array(xs)``; the transpose of :func:`parts_of`."""
    if how in ("stack", "concatenate"):
        return getattr(np, how)(xs, axis=axis)
    return getattr(np, how)(xs)


@vjp(np.stack)
def _(g, ans, arrays, axis=0):
    return parts_of(g, arrays, "stack", axis)


@jvp(np.stack)
def _(g, ans, arrays, axis=0):
    return np.stack(g, axis=axis)


@vjp(np.concatenate)
def _(g, ans, arrays, axis=0):
    return parts_of(g, arrays, "concatenate", axis)


@jvp(np.concatenate)
def _(g, ans, arrays, axis=0):
    return np.concatenate(g, axis=axis)


@vjp(np.hstack)
def _(g, ans, tup):
    return parts_of(g, tup, "hstack")


@jvp(np.hstack)
def _(g, ans, tup):
    return np.hstack(g)


@vjp(np.vstack)
def _(g, ans, tup):
    return parts_of(g, tup, "vstack")


@jvp(np.vstack)
def _(g, ans, tup):
    return np.vstack(g)


@vjp(new_list)
def _(g, ans, xs):
    return parts_of(g, xs, "array")


@jvp(new_list)
def _(g, ans, xs):
    return new_list(g)


@vjp(parts_of, shape=A.unknown)  # linear in g; xs only gives the shapes
def _(h, ans, g, xs, how, axis=0):
    return joined(h, how, axis), None


@jvp(parts_of)
def _(h, ans, g, xs, how, axis=0):
    return parts_of(h, xs, how, axis), None


@vjp(joined, shape=A.unknown)
def _(g, ans, xs, how, axis=0):
    return parts_of(g, xs, how, axis)


@jvp(joined)
def _(g, ans, xs, how, axis=0):
    return joined(g, how, axis)


@fold(part_of)
def _(b, g, xs, position, how, axis=None):
    """Element j of np.array or np.stack along axis 0 is ``g[j]``."""
    along_first = axis is None or (isinstance(axis, Const) and axis.value == 0)
    if how.value == "array" or (how.value == "stack" and along_first):
        items = position.value if isinstance(position.value, tuple) else (position.value,)
        return b.call(operator.getitem, g, Index(tuple(Const(k) for k in items)))
    return None


# ── splitting an array: np.split, np.array_split, np.hsplit, np.vsplit, np.dsplit ─────────────────────────
# ``a, b = np.split(x, 2)`` lowers to one call ``r = np.split(x, 2)`` and one ``split_part`` per part, printed
# ``a = r[0]`` (lower.py, Lowerer.split). The number of sections, or the list of indices, must be a literal, so the
# number of parts is known when compiling; with ``x``'s shape, so is where each part lies (``split_bounds``). The
# adjoint of a part is its adjoint padded with zeros to ``x``'s shape (``unsplit``), its tangent the same cut of
# ``x``'s tangent (``cut_part``); a part that is not used costs nothing.

SPLITTING = {np.split: "split", np.array_split: "array_split", np.hsplit: "hsplit", np.vsplit: "vsplit",
             np.dsplit: "dsplit"}  # fmt: skip


def split_bounds(shape, position: int, sections, axis: int = 0, how: str = "split"):
    """(axis, start, stop) of part ``position`` of an array of ``shape`` split as ``how`` splits it."""
    stand_in = np.broadcast_to(np.zeros(()), shape)
    fn = getattr(np, how)
    parts = fn(stand_in, sections, axis=axis) if how in ("split", "array_split") else fn(stand_in, sections)
    ax = {"split": axis, "array_split": axis, "vsplit": 0, "dsplit": 2}.get(how, 1 if len(shape) > 1 else 0)
    ax %= len(shape)
    start = sum(np.shape(p)[ax] for p in parts[:position])
    return ax, start, start + np.shape(parts[position])[ax]


def split_part(x, parts, position, sections, axis=0, how="split"):
    """Part ``position`` of ``parts``, which is ``x`` split as ``how`` splits it (generated code: ``parts[k]``)."""
    return parts[position]


def _cut(shape, position, sections, axis, how):
    ax, start, stop = split_bounds(shape, position, sections, axis, how)
    return (slice(None),) * ax + (slice(start, stop),)


def unsplit(g, x, position, sections, axis=0, how="split"):
    """The adjoint of part ``position`` of ``x`` split as ``how`` splits it: ``g`` in place, zeros elsewhere."""
    out = np.zeros(np.shape(x), dtype=np.result_type(g, 0.0))
    out[_cut(np.shape(x), position, sections, axis, how)] = g
    return out


def cut_part(t, position, sections, axis=0, how="split"):
    """Part ``position`` of ``t`` split as ``how`` splits it: the tangent of that part when ``t`` is ``x``'s."""
    return t[_cut(np.shape(t), position, sections, axis, how)]


def _split_part_shape(avals, kwargs, loc=None) -> A.Aval:
    shape = avals[0].shape
    if not isinstance(shape, tuple):
        return A.Aval(None, avals[0].kind, True)
    try:
        defaults = (("position", 0), ("sections", 1), ("axis", 0), ("how", "split"))
        cut = _cut(shape, *(kwargs.get(k) if kwargs.get(k) is not None else d for k, d in defaults))
    except (ValueError, IndexError, TypeError) as e:
        raise AdCompileError(f"cannot split an array of shape {shape} so: {e}", loc) from None
    return A.Aval(np.broadcast_to(np.zeros(()), shape)[cut].shape, avals[0].kind, True)


@vjp(split_part, shape=_split_part_shape)
def _(g, ans, x, parts, position, sections, axis=0, how="split"):
    return unsplit(g, x, position, sections, axis, how), None


@jvp(split_part)
def _(g, ans, x, parts, position, sections, axis=0, how="split"):
    return cut_part(g, position, sections, axis, how), None


@vjp(unsplit, shape=A.like_second)  # linear in g; x only gives the shape
def _(h, ans, g, x, position, sections, axis=0, how="split"):
    return cut_part(h, position, sections, axis, how), None


@jvp(unsplit)
def _(h, ans, g, x, position, sections, axis=0, how="split"):
    return unsplit(h, x, position, sections, axis, how), None


@vjp(cut_part, shape=_split_part_shape)
def _(h, ans, t, position, sections, axis=0, how="split"):
    return unsplit(h, t, position, sections, axis, how)


@jvp(cut_part)
def _(h, ans, t, position, sections, axis=0, how="split"):
    return cut_part(h, position, sections, axis, how)


def _split_fold(b, x, position, sections, axis, how):
    shape = _known_array_shape(b, x)
    if shape is None:
        return None
    return split_bounds(shape, position.value, sections.value, 0 if axis is None else axis.value,
                        "split" if how is None else how.value), shape


@fold(unsplit)
def _(b, g, x, position, sections, axis=None, how=None):
    """With a known shape: ``g`` padded with zeros to ``x``'s shape."""
    known = _split_fold(b, x, position, sections, axis, how)
    if known is None:
        return None
    (ax, start, stop), shape = known
    pad = tuple((start, shape[k] - stop) if k == ax else (0, 0) for k in range(len(shape)))
    return b.call(np.pad, g, pad_width=Const(pad))


@fold(cut_part)
def _(b, t, position, sections, axis=None, how=None):
    """With a known shape: a slice."""
    known = _split_fold(b, t, position, sections, axis, how)
    if known is None:
        return None
    (ax, start, stop), _ = known
    items = (Slice(),) * ax + (Slice(Const(start), Const(stop)),)
    return b.call(operator.getitem, t, Index(items))


for _fn in SPLITTING:
    primitive(_fn, shape=A.unknown).differentiable = False  # its parts are split_part, each with rules
primitive(split_part).item = "position"
NEW_OBJECTS.add(id(unsplit))
