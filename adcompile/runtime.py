"""The few helpers generated code may call, each registered as a primitive with its own rules.

Specialised code rarely needs them: when shapes are known at compile time, ``unbroadcast(g, x)`` becomes nothing or
a plain ``np.sum(g, axis=...)``. Generic code (shapes unknown, as printed by ``adcompile show`` without ``--at``)
calls them.
"""

from __future__ import annotations

import numpy as np

from .errors import OutputError


def unbroadcast(g, x):
    """Sum ``g`` over the axes along which ``x`` was broadcast, so the result has ``x``'s shape.

    This is the adjoint of broadcasting: if ``x`` of shape (3, 1) met an operand of shape (2, 3, 4), each element of
    ``x`` was used 2 * 4 times and its adjoint is the sum of those uses.
    """
    shape = np.shape(x)
    if np.shape(g) == shape:
        return g
    lead = np.ndim(g) - len(shape)
    if lead:
        g = np.sum(g, axis=tuple(range(lead)))
    ones = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if ones:
        g = np.sum(g, axis=ones, keepdims=True)
    return g


def _in_dtype_of(g, x):
    """A Python number ``g`` as an array of the dtype it takes against ``x`` (1.0 against float32 is float32)."""
    if isinstance(g, (float, int)) and isinstance(x, np.ndarray):
        return np.asarray(g, dtype=np.result_type(g, x))
    return g


def broadcast_like(g, x):
    """``g`` broadcast to ``x``'s shape (read-only view): the adjoint of :func:`unbroadcast`."""
    return np.broadcast_to(_in_dtype_of(g, x), np.shape(x))


def expand_to(g, x, axis=None, keepdims=False):
    """The adjoint of a sum over ``axis``: ``g`` repeated along the reduced axes to ``x``'s shape (a view)."""
    shape = np.shape(x)
    if not shape:
        return g
    if axis is not None and not keepdims:
        axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
        g = np.expand_dims(g, tuple(a % len(shape) for a in axes))
    return np.broadcast_to(_in_dtype_of(g, x), shape)


def setitem(x, index, v):
    """A copy of ``x`` with ``x[index] = v``.

    The IR treats writes into arrays as functions from the old array to the new one. Generated code writes in
    place (``y[i] = v``) wherever nothing reads the old array afterwards, and copies first otherwise.
    """
    out = np.array(x, copy=True)
    out[index] = v
    return out


def index_add(x, index, v):
    """A copy of ``x`` with ``v`` added at ``index``; repeated indices each add (``np.add.at``).

    This is how an adjoint flows back through ``x[index]``: generated code accumulates in place (``bx[i] += g``,
    or ``np.add.at(bx, index, g)`` for index arrays) wherever it may.
    """
    out = np.array(x, copy=True)
    np.add.at(out, index, v)
    return out


def written_part(g, index):
    """``g[index]``, with zeros where an index array repeats an element: there only the last write
    ``y[index] = v`` lands, so only that element of ``v`` reaches ``y``. With no index arrays it is ``g[index]``."""
    got = g[index]
    ids = np.full(np.shape(g), -1, dtype=np.intp)
    order = np.arange(np.size(got)).reshape(np.shape(got))
    ids[index] = order
    return np.where(ids[index] == order, got, 0.0)
def reshape_like(v, x):
    """``v`` (a view where possible) with ``x``'s shape: undoes the flattening of ``np.cumsum(x)`` without an axis."""
    return np.reshape(v, np.shape(x))


def reverse_cumsum(g, axis=None):
    """Sums of ``g`` from each position to the end along ``axis`` (of the flattened ``g`` if None).

    This is the adjoint of ``np.cumsum(x, axis)``: ``x[i]`` is part of every running sum from position ``i`` on.
    """
    if axis is None:
        g, axis = np.ravel(g), 0
    return np.flip(np.cumsum(np.flip(g, axis), axis), axis)


def max_slope(a, b):
    """∂max(a, b)/∂a: 1 where a > b, 0 where a < b, 1/2 where they tie (the derivative is shared equally).

    ``b`` None is no bound at all (``np.clip(x, None, hi)``): the slope is then 1.
    """
    if b is None:
        return 1.0
    return (a > b) + 0.5 * (a == b)


def min_slope(a, b):
    """∂min(a, b)/∂a: 1 where a < b, 0 where a > b, 1/2 where they tie; 1 if ``b`` is None (no bound)."""
    if b is None:
        return 1.0
    return (a < b) + 0.5 * (a == b)


def part_of(g, xs, position, how: str, axis=0):
    """The part of ``g`` that is the adjoint of element ``position`` of the list ``xs`` that was joined into one
    array: by ``np.array`` (a nested position for nested lists), ``np.stack``, ``np.concatenate``, ``np.hstack``
    or ``np.vstack``. It has the element's shape."""
    item = xs
    for k in position if isinstance(position, tuple) else (position,):
        item = item[k]
    if how == "array":
        part = g[position]
    elif how == "stack":
        part = np.take(g, position, axis=axis)
    else:
        if how == "hstack":
            axis = 0 if np.ndim(xs[0]) <= 1 else 1
            sizes = [np.shape(np.atleast_1d(x))[axis] for x in xs]
        elif how == "vstack":
            axis = 0
            sizes = [np.shape(np.atleast_2d(x))[0] for x in xs]
        else:
            sizes = [np.shape(x)[axis] for x in xs]
        start = sum(sizes[:position])
        where = [slice(None)] * np.ndim(g)
        where[axis] = slice(start, start + sizes[position])
        part = g[tuple(where)]
    return np.reshape(part, np.shape(item))


def unpacked(v, n: int):
    """``v``, once it is known to have ``n`` elements: ``a, b = v`` raises otherwise, and so does this."""
    if len(v) != n:
        raise ValueError(f"cannot unpack {len(v)} values into {n} names")
    return v


def new_list(xs):
    """A new list of the values ``xs`` (generated code writes the list display ``[a, b]``)."""
    return list(xs)


def new_tuple(xs):
    """A tuple of numbers computed at run time, such as a shape ``(n, m)`` (generated code writes the display)."""
    return tuple(xs)


def outer_sum(rows, cols, like):
    """``np.outer(rows[k], cols[k])`` summed over ``k``, as one matrix product, in ``like``'s dtype (as adding
    into an array of that dtype would be); zeros of ``like``'s shape and dtype for no rows."""
    if len(rows) == 0:
        return np.zeros(like.shape, like.dtype)
    return (rows.T @ cols).astype(like.dtype, copy=False)


def row_sum(rows, like):
    """The sum of the vectors ``rows`` in ``like``'s dtype; zeros of ``like``'s shape and dtype for none."""
    if len(rows) == 0:
        return np.zeros(like.shape, like.dtype)
    return np.sum(rows, axis=0, dtype=like.dtype)


def zero_list(xs):
    """The tangent of a list that does not vary: a list of exact zeros, one per element (forward mode; in reverse
    mode a list's adjoint is an array, see :func:`zeros_like`)."""
    return [zeros_like(x) for x in xs]


def list_append(xs, v):
    """A copy of the list ``xs`` with ``v`` appended. Lists of values of one shape have an array as their adjoint
    (element ``i`` of the list, row ``i`` of the array)."""
    return [*xs, v]


def astype(x, dtype: str):
    """``x.astype(dtype)`` for a floating dtype (a Python or NumPy number becomes a NumPy number)."""
    return x.astype(dtype) if isinstance(x, np.ndarray) else np.dtype(dtype).type(x)


def astype_steps(x, dtype: str):
    """``x.astype(dtype)`` for an integer or bool dtype: a step function, with a zero derivative."""
    return x.astype(dtype) if isinstance(x, np.ndarray) else np.dtype(dtype).type(x)


def cast_like(g, x):
    """``g`` in ``x``'s dtype: the adjoint of a cast goes back to the dtype of what was cast."""
    out = np.asarray(g, dtype=np.result_type(x))
    return out if isinstance(x, np.ndarray) else out[()]


def zeros_like(x):
    """An exact zero of ``x``'s own type and shape: ``0.0`` for a float, a zero array for an array (and for a
    list of values of one shape, whose adjoint is an array)."""
    if isinstance(x, list):
        return np.zeros(np.shape(x))
    if isinstance(x, np.ndarray):
        return np.zeros_like(x)
    if isinstance(x, np.generic):
        return x.dtype.type(0)
    return 0.0


def owned(v):
    """``v``, copied if it is an array, so a returned gradient never aliases an input or another gradient."""
    return np.array(v) if isinstance(v, np.ndarray) else v


def scalar_seed(y, fname: str):
    """The seed adjoint 1.0 of a scalar output; a clear error for anything else."""
    if isinstance(y, (float, int, np.floating, np.integer)) and not isinstance(y, (bool, np.bool_)):
        return 1.0
    if isinstance(y, np.ndarray) and y.ndim == 0 and y.dtype.kind in "fi":
        return 1.0
    raise OutputError(
        f"grad requires {fname}() to return a real scalar, but it returned {describe(y)}",
        hint="reduce the output to a scalar (for example with np.sum(...)); "
        "Jacobians of vector outputs are not supported yet",
    )


def describe(v) -> str:
    if isinstance(v, np.ndarray):
        return f"an array of shape {v.shape} and dtype {v.dtype}"
    return f"a value of type {type(v).__name__}"


def replayable(tape):
    """A copy of a tape, and of the tapes kept on it, for a reverse sweep that may run again (popping empties
    them). The values on it are not copied."""
    return [_replayable(item) for item in tape]


def _replayable(v):
    if type(v) is list:
        return replayable(v)
    if type(v) is tuple:
        return tuple([_replayable(x) for x in v])
    return v
