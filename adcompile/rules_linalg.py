"""Derivative rules for contractions (dot, matmul and ``@``, tensordot, kron, einsum, ...) and ``np.linalg``.

A contraction is bilinear: its jvp rule contracts the tangent with the other operand, and its vjp rule contracts
the adjoint with the other operand in the transposed way. That transposed contraction depends on the operands'
shapes (1-D operands lose an axis in ``a @ b``; batch axes broadcast), so it is a helper such as
``matmul_left(g, b, a)`` -- the adjoint of ``a`` in ``a @ b`` -- whose last operand only gives a shape. The helpers
are bilinear too, and have rules of their own; with known shapes the common cases fold into plain NumPy
(``np.outer(g, b)``, ``g @ np.transpose(b)``).

The ``np.linalg`` rules are the classical matrix-calculus identities, written with registered primitives only:
``np.swapaxes(m, -1, -2)`` is the (batched) transpose. Conventions:

* ``np.linalg.cholesky`` and ``np.linalg.eigvalsh`` read one triangle of their argument, which is taken to be
  symmetric. Their adjoints are symmetric, ``(S + Sᵀ) / 2``: the derivative along symmetric perturbations, spread
  equally over both triangles (as autograd and JAX do). Their jvp rules symmetrise the tangent likewise.
* ``np.linalg.norm`` at zero has the derivative zero (the smallest subgradient); for ``ord=inf`` the adjoint of a
  maximum shared by several elements is split equally between them.
* ``np.linalg.pinv`` assumes the matrix has full rank (the rank does not change nearby).

The helpers for ``np.linalg.matrix_power`` and ``np.linalg.norm`` have rules in their first operand only: their
derivative in the matrix (a second derivative of the primitive) is not written yet, and differentiating through it
raises ``NonDifferentiableError`` rather than treating it as constant.
"""

from __future__ import annotations

import operator

import numpy as np

from . import avals as A
from .errors import AdCompileError
from .ir import Const
from .primitives import NEW_OBJECTS, derivative, jvp, vjp
from .rules_shape import by_example, diagonal_adjoint, reshape_like
from .runtime import expand_to, unbroadcast
from .simplify import fold

# ── helpers: the transposed contractions ─────────────────────────────────────────────────────────────


def _lifted(g, a, b):
    """``g``, the adjoint of ``a @ b``, with the axes that matmul drops for 1-D operands put back."""
    if np.ndim(a) == 1 and np.ndim(b) == 1:
        return np.reshape(g, (1, 1))
    if np.ndim(a) == 1:
        return np.expand_dims(g, -2)
    if np.ndim(b) == 1:
        return np.expand_dims(g, -1)
    return g


def matmul_left(g, b, a):
    """The adjoint of ``a`` in ``a @ b`` for the result's adjoint ``g``: ``g @ bᵀ``, batch axes summed back."""
    ga = np.matmul(_lifted(g, a, b), np.swapaxes(np.reshape(b, (-1, 1)) if np.ndim(b) == 1 else b, -1, -2))
    return unbroadcast(ga[..., 0, :] if np.ndim(a) == 1 else ga, a)


def matmul_right(g, a, b):
    """The adjoint of ``b`` in ``a @ b`` for the result's adjoint ``g``: ``aᵀ @ g``, batch axes summed back."""
    gb = np.matmul(np.swapaxes(np.reshape(a, (1, -1)) if np.ndim(a) == 1 else a, -1, -2), _lifted(g, a, b))
    return unbroadcast(gb[..., 0] if np.ndim(b) == 1 else gb, b)


def vector_or_matrix(b):
    """``b`` itself, checked: np.dot and np.inner are differentiated as matmul, which needs a 1-D or 2-D ``b``."""
    if np.ndim(b) not in (1, 2):
        raise ValueError(
            f"adcompile differentiates np.dot and np.inner with a second operand of 1 or 2 dimensions, not "
            f"{np.ndim(b)}; use np.matmul or np.tensordot"
        )
    return b


def _tensordot_axes(nda: int, ndb: int, axes):
    """(contracted axes of a, of b, free axes of a, of b) for ``np.tensordot(a, b, axes)``."""
    if np.ndim(axes) == 0:
        ax_a, ax_b = list(range(nda - axes, nda)), list(range(axes))
    else:
        ax_a, ax_b = ([x] if np.ndim(x) == 0 else list(x) for x in axes)
    ax_a, ax_b = [i % nda for i in ax_a], [i % ndb for i in ax_b]
    return ax_a, ax_b, [i for i in range(nda) if i not in ax_a], [i for i in range(ndb) if i not in ax_b]


def _tensordot_left_plan(nda: int, ndb: int, axes):
    """(axes of the contraction of g with b, the permutation back to a's axes) for the adjoint of a."""
    ax_a, ax_b, free_a, free_b = _tensordot_axes(nda, ndb, axes)
    contraction = (tuple(range(len(free_a), len(free_a) + len(free_b))), tuple(free_b))
    # the contraction's axes are a's free ones, then b's contracted ones in b's order: a's ax_a in that order
    order = free_a + [ax_a[j] for j in np.argsort(ax_b)]
    return contraction, tuple(int(i) for i in np.argsort(order))


def _tensordot_right_plan(nda: int, ndb: int, axes):
    """(axes of the contraction of a with g, the permutation back to b's axes) for the adjoint of b."""
    ax_a, ax_b, free_a, free_b = _tensordot_axes(nda, ndb, axes)
    contraction = (tuple(free_a), tuple(range(len(free_a))))
    order = [ax_b[j] for j in np.argsort(ax_a)] + free_b
    return contraction, tuple(int(i) for i in np.argsort(order))


def tensordot_left(g, b, a, axes=2):
    """The adjoint of ``a`` in ``np.tensordot(a, b, axes)`` for the result's adjoint ``g``."""
    contraction, back = _tensordot_left_plan(np.ndim(a), np.ndim(b), axes)
    return np.transpose(np.tensordot(g, b, contraction), back)


def tensordot_right(g, a, b, axes=2):
    """The adjoint of ``b`` in ``np.tensordot(a, b, axes)`` for the result's adjoint ``g``."""
    contraction, back = _tensordot_right_plan(np.ndim(a), np.ndim(b), axes)
    return np.transpose(np.tensordot(a, g, contraction), back)


def _kron_blocks(g, a, b):
    """``g`` (of ``np.kron(a, b)``'s shape) with each axis split into (a's axis, b's axis); a's and b's shapes."""
    n = max(np.ndim(a), np.ndim(b))
    sa = (1,) * (n - np.ndim(a)) + np.shape(a)
    sb = (1,) * (n - np.ndim(b)) + np.shape(b)
    return np.reshape(g, [d for pair in zip(sa, sb) for d in pair]), sa, sb, n


def kron_left(g, b, a):
    """The adjoint of ``a`` in ``np.kron(a, b)`` for the result's adjoint ``g``."""
    blocks, sa, sb, n = _kron_blocks(g, a, b)
    return reshape_like(np.tensordot(blocks, np.reshape(b, sb), (list(range(1, 2 * n, 2)), list(range(n)))), a)


def kron_right(g, a, b):
    """The adjoint of ``b`` in ``np.kron(a, b)`` for the result's adjoint ``g``."""
    blocks, sa, sb, n = _kron_blocks(g, a, b)
    return reshape_like(np.tensordot(np.reshape(a, sa), blocks, (list(range(n)), list(range(0, 2 * n, 2)))), b)


def _einsum_parts(subscripts: str, count: int):
    """(input subscripts, output subscripts) of an explicit or implicit einsum without ellipses."""
    spec = subscripts.replace(" ", "")
    if "." in spec:
        raise ValueError("adcompile differentiates np.einsum without ellipses ('...') only")
    inputs, _, output = spec.partition("->")
    if "->" not in spec:  # implicit form: the letters that appear once, in alphabetical order
        letters = inputs.replace(",", "")
        output = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    inputs = inputs.split(",")
    if len(inputs) != count:
        raise ValueError(f"np.einsum subscripts {subscripts!r} are for {len(inputs)} operands, not {count}")
    return inputs, output


def _einsum_transposed(g, subscripts: str, operands, k: int):
    """The adjoint of operand ``k`` of ``np.einsum(subscripts, *operands)`` for the result's adjoint ``g``."""
    inputs, output = _einsum_parts(subscripts, len(operands))
    target, like = inputs[k], operands[k]
    sizes = dict(zip(target, np.shape(like)))
    others = [(s, op) for j, (s, op) in enumerate(zip(inputs, operands)) if j != k]
    unique = "".join(dict.fromkeys(target))
    present = set(output).union(*(s for s, _ in others))
    kept = "".join(c for c in unique if c in present)
    spec = ",".join([output] + [s for s, _ in others]) + "->" + kept
    v = np.einsum(spec, g, *(op for _, op in others))
    # a letter summed within this operand alone: every element along it had the same effect
    v = np.reshape(v, [sizes[c] if c in kept else 1 for c in unique])
    v = np.broadcast_to(v, [sizes[c] for c in unique]).copy()
    if len(unique) == len(target):
        return reshape_like(v, like)
    out = np.zeros(np.shape(like), dtype=v.dtype)  # a repeated letter reads a diagonal: put v back on it
    where = [
        np.arange(sizes[c]).reshape([-1 if i == unique.index(c) else 1 for i in range(len(unique))]) for c in target
    ]
    out[tuple(where)] = v
    return out


# Up to five operands: a, b, then c, d, e, which are None when absent (calls leave trailing Nones out).


def _present(*operands):
    return tuple(op for op in operands if op is not None)


def contract(subscripts, a, b=None, c=None, d=None, e=None):
    """``np.einsum(subscripts, a, ...)`` of the operands that are given."""
    return np.einsum(subscripts, *_present(a, b, c, d, e))


def einsum_left(g, b, a, subscripts, c=None, d=None, e=None):
    """The adjoint of ``a`` in ``contract(subscripts, a, b, ...)`` for the result's adjoint ``g`` (``b`` may be
    None)."""
    return _einsum_transposed(g, subscripts, _present(a, b, c, d, e), 0)


def einsum_right(g, a, b, subscripts, c=None, d=None, e=None):
    """The adjoint of ``b`` in ``np.einsum(subscripts, a, b, ...)`` for the result's adjoint ``g``; None without
    ``b`` (generated code never asks for it then: only a rule called directly, by a test, does)."""
    return None if b is None else _einsum_transposed(g, subscripts, _present(a, b, c, d, e), 1)


def einsum_at(g, position, subscripts, a, b, c, d=None, e=None):
    """The adjoint of operand ``position`` (2, 3 or 4) of ``np.einsum(subscripts, a, b, c, ...)``; None when there
    is no such operand (only a rule called directly, by a test, asks then)."""
    operands = _present(a, b, c, d, e)
    return None if position >= len(operands) else _einsum_transposed(g, subscripts, operands, position)


def contract_at(h, position, subscripts, a, b, c, d=None, e=None):
    """``np.einsum(subscripts, a, b, c, ...)`` with operand ``position`` replaced by ``h``: linear in ``h``, the
    transpose of :func:`einsum_at`."""
    operands = list(_present(a, b, c, d, e))
    operands[position] = h
    return np.einsum(subscripts, *operands)


# ── contractions ─────────────────────────────────────────────────────────────────────────────────────


def _matmul_operands(avals, kwargs, loc):
    for a in avals:
        if isinstance(a.shape, tuple) and len(a.shape) == 0:
            raise AdCompileError("matmul is not defined for scalar operands; use * instead", loc)


def _dot_operands(avals, kwargs, loc):
    _matmul_operands(avals, kwargs, loc)
    b = avals[1].shape
    if isinstance(b, tuple) and len(b) > 2:
        raise AdCompileError(
            f"adcompile differentiates np.dot and np.inner with a second operand of 1 or 2 dimensions, not {len(b)}",
            loc,
            hint="use np.matmul (batched) or np.tensordot",
        )


def _matmul_shape(avals, kwargs, loc=None, check=_matmul_operands):
    """``a @ b``, computed from the shapes (running it on stand-ins would cost a product of the real size)."""
    check(avals, kwargs, loc)
    a, b = avals[0].shape, avals[1].shape
    kind = A.join_kind([avals[0].kind, avals[1].kind])
    if not (isinstance(a, tuple) and isinstance(b, tuple)):
        return A.Aval(None, kind, None)
    ka = a[-1]
    kb = b[0] if len(b) == 1 else b[-2]
    if ka != kb:
        raise AdCompileError(f"operands with shapes {a} and {b} cannot be multiplied as matrices", loc)
    batch = A.broadcast_shape([a[:-2], b[:-2]], loc)
    shape = batch + a[-2:-1] + (b[-1:] if len(b) > 1 else ())
    return A.Aval(shape, kind, A.result_array(shape))


@vjp(operator.matmul, np.matmul, shape=_matmul_shape)
def _(g, ans, a, b):
    return matmul_left(g, b, a), matmul_right(g, a, b)


@jvp(operator.matmul, np.matmul)
def _(g, ans, a, b):
    return g @ b, a @ g


# for operands of at most two dimensions np.dot is matmul
@vjp(np.dot, shape=lambda avals, kwargs, loc=None: _matmul_shape(avals, kwargs, loc, check=_dot_operands))
def _(g, ans, a, b):
    return matmul_left(g, vector_or_matrix(b), a), matmul_right(g, a, vector_or_matrix(b))


@jvp(np.dot)
def _(g, ans, a, b):
    return np.dot(g, b), np.dot(a, g)


# np.inner(a, b) is a @ bᵀ (np.transpose of a vector is the vector)
@vjp(np.inner, shape=by_example(np.inner, check=_dot_operands))
def _(g, ans, a, b):
    bt = np.transpose(vector_or_matrix(b))
    return matmul_left(g, bt, a), np.transpose(matmul_right(g, a, bt))


@jvp(np.inner)
def _(g, ans, a, b):
    return np.inner(g, b), np.inner(a, g)


@vjp(np.vdot, shape=by_example(np.vdot))
def _(g, ans, a, b):
    return reshape_like(g * b, a), reshape_like(g * a, b)


@jvp(np.vdot)
def _(g, ans, a, b):
    return np.vdot(g, b), np.vdot(a, g)


@vjp(np.outer, shape=by_example(np.outer))
def _(g, ans, a, b):
    return reshape_like(g @ np.ravel(b), a), reshape_like(np.ravel(a) @ g, b)


@jvp(np.outer)
def _(g, ans, a, b):
    return np.outer(g, b), np.outer(a, g)


@vjp(np.tensordot, shape=by_example(np.tensordot))
def _(g, ans, a, b, axes=2):
    return tensordot_left(g, b, a, axes), tensordot_right(g, a, b, axes)


@jvp(np.tensordot)
def _(g, ans, a, b, axes=2):
    return np.tensordot(g, b, axes), np.tensordot(a, g, axes)


@vjp(np.kron, shape=by_example(np.kron))
def _(g, ans, a, b):
    return kron_left(g, b, a), kron_right(g, a, b)


@jvp(np.kron)
def _(g, ans, a, b):
    return np.kron(g, b), np.kron(a, g)


# the trace is the sum of the diagonal: its adjoint is g spread along the diagonal
@vjp(np.trace, shape=by_example(np.trace))
def _(g, ans, x, offset=0, axis1=0, axis2=1):
    from_diagonal = expand_to(g, np.diagonal(x, offset, axis1, axis2), axis=-1)
    return diagonal_adjoint(from_diagonal, x, offset, axis1, axis2)


@jvp(np.trace)
def _(g, ans, x, offset=0, axis1=0, axis2=1):
    return np.trace(g, offset, axis1, axis2)


def _three_vectors(avals, kwargs, loc):
    axis = kwargs.get("axis")
    for a in avals:
        if isinstance(a.shape, tuple) and (not a.shape or a.shape[-1 if axis is None else axis] != 3):
            raise AdCompileError("np.cross() is differentiable for 3-vectors only", loc)


# g · (a × b) = a · (b × g) = b · (g × a)
@vjp(np.cross, shape=by_example(np.cross, check=_three_vectors))
def _(g, ans, a, b, axis=None):
    return unbroadcast(np.cross(b, g, axis=axis), a), unbroadcast(np.cross(g, a, axis=axis), b)


@jvp(np.cross)
def _(g, ans, a, b, axis=None):
    return np.cross(g, b, axis=axis), np.cross(a, g, axis=axis)


def _einsum_form(avals, kwargs, loc):
    if len(avals) > 6:
        raise AdCompileError("adcompile differentiates np.einsum of one to five operands", loc)


# The subscripts are the first operand, a literal string: the shape rule cannot read it, so shapes after an
# einsum are unknown at compile time (and the code after it is the generic kind).
@vjp(
    np.einsum,
    contract,
    shape=lambda avals, kwargs, loc=None: _einsum_form(avals, kwargs, loc) or A.Aval(None, "f", None),
)
def _(g, ans, subscripts, a, b=None, c=None, d=None, e=None):
    return (
        None,
        einsum_left(g, b, a, subscripts, c, d, e),
        einsum_right(g, a, b, subscripts, c, d, e),
        einsum_at(g, 2, subscripts, a, b, c, d, e),
        einsum_at(g, 3, subscripts, a, b, c, d, e),
        einsum_at(g, 4, subscripts, a, b, c, d, e),
    )


@jvp(np.einsum, contract)
def _(g, ans, subscripts, a, b=None, c=None, d=None, e=None):
    return (
        None,
        contract(subscripts, g, b, c, d, e),
        contract(subscripts, a, g, c, d, e),
        contract(subscripts, a, b, g, d, e),
        contract(subscripts, a, b, c, g, e),
        contract(subscripts, a, b, c, d, g),
    )


# ── the helpers' rules: bilinear in (g, the other operand); the last operand only gives a shape ────────


def _like_last(avals, kwargs, loc=None):
    """``helper(g, other, like)``: the result has the shape and type of ``like``."""
    g, other, like = avals[0], avals[1], avals[2]
    return A.Aval(like.shape, A.join_kind([g.kind, other.kind, like.kind]), A.result_array(like.shape))


# <H, matmul_left(g, b, a)> = <g, H @ b>: differentiate that in g and in b
@vjp(matmul_left, shape=_like_last)
def _(h, ans, g, b, a):
    return h @ b, matmul_right(g, h, b), None


@jvp(matmul_left)
def _(h, ans, g, b, a):
    return matmul_left(h, b, a), matmul_left(g, h, a), None


@vjp(matmul_right, shape=_like_last)
def _(h, ans, g, a, b):
    return a @ h, matmul_left(g, h, a), None


@jvp(matmul_right)
def _(h, ans, g, a, b):
    return matmul_right(h, a, b), matmul_right(g, h, b), None


@derivative(vector_or_matrix, shape=A.like_first)
def _(g, ans, b):
    return g


@vjp(tensordot_left, shape=_like_last)
def _(h, ans, g, b, a, axes=2):
    return np.tensordot(h, b, axes), tensordot_right(g, h, b, axes), None


@jvp(tensordot_left)
def _(h, ans, g, b, a, axes=2):
    return tensordot_left(h, b, a, axes), tensordot_left(g, h, a, axes), None


@vjp(tensordot_right, shape=_like_last)
def _(h, ans, g, a, b, axes=2):
    return np.tensordot(a, h, axes), tensordot_left(g, h, a, axes), None


@jvp(tensordot_right)
def _(h, ans, g, a, b, axes=2):
    return tensordot_right(h, a, b, axes), tensordot_right(g, h, b, axes), None


@vjp(kron_left, shape=_like_last)
def _(h, ans, g, b, a):
    return np.kron(h, b), kron_right(g, h, b), None


@jvp(kron_left)
def _(h, ans, g, b, a):
    return kron_left(h, b, a), kron_left(g, h, a), None


@vjp(kron_right, shape=_like_last)
def _(h, ans, g, a, b):
    return np.kron(a, h), kron_left(g, h, a), None


@jvp(kron_right)
def _(h, ans, g, a, b):
    return kron_right(h, a, b), kron_right(g, h, b), None


# <H, einsum_left(g, b, a)> = <g, contract(subscripts, H, b)>. With a third operand or more, only g and b are
# differentiated again (the operands after them return None: such a second derivative is refused).
@vjp(einsum_left, shape=_like_last)
def _(h, ans, g, b, a, subscripts, c=None, d=None, e=None):
    return contract(subscripts, h, b, c, d, e), einsum_right(g, h, b, subscripts, c, d, e), None, None, None, None, None


@jvp(einsum_left)
def _(h, ans, g, b, a, subscripts, c=None, d=None, e=None):
    return (
        einsum_left(h, b, a, subscripts, c, d, e),
        einsum_left(g, h, a, subscripts, c, d, e),
        None, None, None, None, None,
    )  # fmt: skip


@vjp(einsum_right, shape=_like_last)
def _(h, ans, g, a, b, subscripts, c=None, d=None, e=None):
    return contract(subscripts, a, h, c, d, e), einsum_left(g, h, a, subscripts, c, d, e), None, None, None, None, None


@jvp(einsum_right)
def _(h, ans, g, a, b, subscripts, c=None, d=None, e=None):
    return (
        einsum_right(h, a, b, subscripts, c, d, e),
        einsum_right(g, h, b, subscripts, c, d, e),
        None, None, None, None, None,
    )  # fmt: skip


# einsum_at and contract_at are linear in their first operand and transposes of each other; the other operands are
# not differentiated again (None: refused).
@vjp(einsum_at, shape=A.unknown)
def _(h, ans, g, position, subscripts, a, b, c, d=None, e=None):
    return contract_at(h, position, subscripts, a, b, c, d, e), None, None, None, None, None, None, None


@jvp(einsum_at)
def _(h, ans, g, position, subscripts, a, b, c, d=None, e=None):
    return einsum_at(h, position, subscripts, a, b, c, d, e), None, None, None, None, None, None, None


@vjp(contract_at, shape=A.unknown)
def _(g, ans, h, position, subscripts, a, b, c, d=None, e=None):
    return einsum_at(g, position, subscripts, a, b, c, d, e), None, None, None, None, None, None, None


@jvp(contract_at)
def _(g, ans, h, position, subscripts, a, b, c, d=None, e=None):
    return contract_at(g, position, subscripts, a, b, c, d, e), None, None, None, None, None, None, None


# ── folds: the transposed contractions as plain NumPy when there are no batch axes ───────────────────


def _ndims(b, *ops):
    shapes = [b.aval(op).shape for op in ops]
    return tuple(len(s) for s in shapes) if all(isinstance(s, tuple) for s in shapes) else None


@fold(matmul_left)
def _(b, g, other, a, **kw):
    nd = _ndims(b, a, other)
    if nd == (1, 1):
        return b.call(operator.mul, g, other)
    if nd == (1, 2):
        return b.call(operator.matmul, other, g)
    if nd == (2, 1):
        return b.call(np.outer, g, other)
    if nd is not None and min(nd) >= 2:  # batched: the batch axes broadcast in the product are summed back
        return b.call(unbroadcast, b.call(operator.matmul, g, _transposed(b, other, nd[1])), a)
    return None


def _transposed(b, m, ndim: int):
    return b.call(np.transpose, m) if ndim == 2 else b.call(np.swapaxes, m, Const(-1), Const(-2))


@fold(matmul_right)
def _(b, g, other, like, **kw):
    nd = _ndims(b, other, like)
    if nd == (1, 1):
        return b.call(operator.mul, g, other)
    if nd == (1, 2):
        return b.call(np.outer, other, g)
    if nd == (2, 1):
        return b.call(operator.matmul, g, other)
    if nd is not None and min(nd) >= 2:
        return b.call(unbroadcast, b.call(operator.matmul, _transposed(b, other, nd[0]), g), like)
    return None


@fold(vector_or_matrix)
def _(b, v, **kw):
    return v if _ndims(b, v) in ((1,), (2,)) else None


@fold(tensordot_left)
def _(b, g, other, a, axes=None):
    nd = _ndims(b, a, other)
    if nd is None:
        return None
    contraction, back = _tensordot_left_plan(*nd, 2 if axes is None else axes.value)
    out = b.call(np.tensordot, g, other, Const(contraction))
    return out if back == tuple(range(len(back))) else b.call(np.transpose, out, Const(back))


@fold(tensordot_right)
def _(b, g, other, like, axes=None):
    nd = _ndims(b, other, like)
    if nd is None:
        return None
    contraction, back = _tensordot_right_plan(*nd, 2 if axes is None else axes.value)
    out = b.call(np.tensordot, other, g, Const(contraction))
    return out if back == tuple(range(len(back))) else b.call(np.transpose, out, Const(back))


# ── np.linalg ────────────────────────────────────────────────────────────────────────────────────────


def safe_divide(x, y):
    """``x / y``, and 0 where ``y`` is 0 (norms and eigenvalue gaps that vanish)."""
    zero = np.equal(y, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(zero, 0.0, np.divide(x, np.where(zero, 1.0, y)))
    return out[()] if out.ndim == 0 else out


@vjp(safe_divide, shape=A.elementwise_float)
def _(g, ans, x, y):
    return unbroadcast(safe_divide(g, y), x), unbroadcast(-safe_divide(g * ans, y), y)


@jvp(safe_divide)
def _(g, ans, x, y):
    return safe_divide(g, y), -safe_divide(g * ans, y)


def eigvecsh(a, UPLO="L"):
    """The eigenvectors of the symmetric matrix ``a`` (``np.linalg.eigh(a, UPLO)[1]``)."""
    return np.linalg.eigh(a, UPLO)[1]


def _is_vector_norm(ndim, ord, axis) -> bool | None:
    if axis is not None:
        return np.ndim(axis) == 0 or len(axis) == 1
    return None if ndim is None else ndim == 1


def _norm_supported(ndim, ord, axis) -> bool | None:
    if ord is None:
        return True
    vector = _is_vector_norm(ndim, ord, axis)
    if ord == "fro":
        return vector is False or vector is None
    if ord in (1, 2, np.inf):
        return vector
    return False


def norm_derivative(x, n, ord=None, axis=None, keepdims=False):
    """∂ np.linalg.norm(x, ord, axis, keepdims) / ∂x elementwise, for the norm ``n``; zero where the norm is zero."""
    if not _norm_supported(np.ndim(x), ord, axis):
        raise ValueError(
            f"adcompile differentiates np.linalg.norm for vectors with ord None, 1, 2 or inf and for matrices with "
            f"ord None or 'fro', not ord={ord!r} here"
        )
    n = expand_to(n, x, axis, keepdims)
    if ord in (None, "fro", 2):
        return safe_divide(x, n)
    if ord == 1:
        return np.sign(x)
    ties = np.abs(x) == n  # ord=inf: the maximum's adjoint is shared equally between the elements that reach it
    return np.sign(x) * ties / np.sum(ties, axis=axis, keepdims=True)


def matrix_power_tangent(t, a, n):
    """The derivative of ``np.linalg.matrix_power(a, n)`` along ``t``: the sum of a^k t a^(n-1-k)."""
    if n < 0:
        inverse = np.linalg.inv(a)
        return matrix_power_tangent(-(inverse @ t @ inverse), inverse, -n)
    powers = [np.broadcast_to(np.eye(np.shape(a)[-1]), np.shape(a))]
    for _ in range(n - 1):
        powers.append(powers[-1] @ a)
    out = np.zeros(np.broadcast_shapes(np.shape(t), np.shape(a)))
    for k in range(n):
        out = out + powers[k] @ t @ powers[n - 1 - k]
    return out


def matrix_power_adjoint(g, a, n):
    """The adjoint of ``a`` in ``np.linalg.matrix_power(a, n)``: the derivative at aᵀ along ``g``."""
    if n < 0:
        inverse_t = np.swapaxes(np.linalg.inv(a), -1, -2)
        return -(inverse_t @ matrix_power_adjoint(g, np.linalg.inv(a), -n) @ inverse_t)
    return matrix_power_tangent(g, np.swapaxes(a, -1, -2), n)


def _square(avals, kwargs, loc):
    for a in avals[:1]:
        if isinstance(a.shape, tuple) and (len(a.shape) < 2 or a.shape[-1] != a.shape[-2]):
            raise AdCompileError(f"expected a square matrix (or a stack of them), not shape {a.shape}", loc)


def _norm_operands(avals, kwargs, loc):
    x = avals[0]
    ndim = len(x.shape) if isinstance(x.shape, tuple) else None
    if _norm_supported(ndim, kwargs.get("ord"), kwargs.get("axis")) is False:
        raise AdCompileError(
            f"np.linalg.norm() is differentiable for vectors with ord None, 1, 2 or inf and for matrices with ord "
            f"None or 'fro', not ord={kwargs.get('ord')!r} here",
            loc,
        )


def _norm_shape(avals, kwargs, loc=None):
    _norm_operands(avals, kwargs, loc)
    return by_example(np.linalg.norm)(avals, kwargs, loc)


def _matrix_shape(result):
    """A shape rule for square-matrix functions: ``result(shape)`` from the operand's shape, floating point.

    Written out, because running an O(n³) factorisation on a stand-in would cost as much as the real one.
    """

    def rule(avals, kwargs, loc=None):
        _square(avals, kwargs, loc)
        shape = avals[0].shape
        if not isinstance(shape, tuple):
            return A.Aval(None, "f", None)
        out = result(shape)
        return A.Aval(out, "f", A.result_array(out))

    return rule


@vjp(np.linalg.inv, shape=_matrix_shape(lambda s: s))
def _(g, ans, a):
    return -(np.swapaxes(ans, -1, -2) @ g @ np.swapaxes(ans, -1, -2))


@jvp(np.linalg.inv)
def _(g, ans, a):
    return -(ans @ g @ ans)


# x = a⁻¹ b: the adjoint of b solves with aᵀ, and a's is minus its product with xᵀ. A 1-D b is a column vector.
@vjp(np.linalg.solve, shape=by_example(np.linalg.solve, check=_square))
def _(g, ans, a, b):
    solved = np.linalg.solve(np.swapaxes(a, -1, -2), as_column_of(g, ans, a))
    return (
        unbroadcast(-(solved @ np.swapaxes(as_column_of(ans, ans, a), -1, -2)), a),
        unbroadcast(from_column_of(solved, ans, a), b),
    )


@jvp(np.linalg.solve)
def _(g, ans, a, b):
    return -from_column_of(np.linalg.solve(a, g @ as_column_of(ans, ans, a)), ans, a), np.linalg.solve(a, g)


@vjp(np.linalg.det, shape=_matrix_shape(lambda s: s[:-2]))
def _(g, ans, a):
    return np.expand_dims(g * ans, (-2, -1)) * np.swapaxes(np.linalg.inv(a), -1, -2)


@jvp(np.linalg.det)
def _(g, ans, a):
    return ans * np.trace(np.linalg.solve(a, g), axis1=-2, axis2=-1)


# a = L Lᵀ: S = L⁻ᵀ Φ(Lᵀ g) L⁻¹ with Φ the lower triangle, its diagonal halved; the adjoint is (S + Sᵀ) / 2
@vjp(np.linalg.cholesky, shape=_matrix_shape(lambda s: s))
def _(g, ans, a):
    lt = np.swapaxes(ans, -1, -2)
    p = lt @ g
    phi = (np.tril(p) + np.tril(p, -1)) * 0.5
    s = np.swapaxes(np.linalg.solve(lt, np.swapaxes(np.linalg.solve(lt, phi), -1, -2)), -1, -2)
    return (s + np.swapaxes(s, -1, -2)) * 0.5


@jvp(np.linalg.cholesky)
def _(g, ans, a):
    z = np.linalg.solve(ans, (g + np.swapaxes(g, -1, -2)) * 0.5)
    x = np.swapaxes(np.linalg.solve(ans, np.swapaxes(z, -1, -2)), -1, -2)
    return ans @ ((np.tril(x) + np.tril(x, -1)) * 0.5)


# full rank: d(a⁺) = -a⁺ da a⁺ + a⁺ a⁺ᵀ daᵀ (1 - a a⁺) + (1 - a⁺ a) daᵀ a⁺ᵀ a⁺
@vjp(np.linalg.pinv, shape=by_example(np.linalg.pinv))
def _(g, ans, a):
    pt = np.swapaxes(ans, -1, -2)
    x = np.swapaxes(g, -1, -2) @ ans @ pt
    y = pt @ ans @ np.swapaxes(g, -1, -2)
    return x - a @ (ans @ x) + y - y @ ans @ a - pt @ g @ pt


@jvp(np.linalg.pinv)
def _(g, ans, a):
    pt = np.swapaxes(ans, -1, -2)
    gt = np.swapaxes(g, -1, -2)
    return ans @ pt @ gt - ans @ pt @ gt @ a @ ans + gt @ pt @ ans - ans @ a @ gt @ pt @ ans - ans @ g @ ans


@vjp(np.linalg.matrix_power, shape=by_example(np.linalg.matrix_power, check=_square))
def _(g, ans, a, n):
    return matrix_power_adjoint(g, a, n)


@jvp(np.linalg.matrix_power)
def _(g, ans, a, n):
    return matrix_power_tangent(g, a, n)


@vjp(np.linalg.norm, shape=_norm_shape)
def _(g, ans, x, ord=None, axis=None, keepdims=False):
    return expand_to(g, x, axis, keepdims) * norm_derivative(x, ans, ord, axis, keepdims)


@jvp(np.linalg.norm)
def _(g, ans, x, ord=None, axis=None, keepdims=False):
    return np.sum(g * norm_derivative(x, ans, ord, axis, keepdims), axis=axis, keepdims=keepdims)


# a = V diag(w) Vᵀ: dw = diag(Vᵀ da V), so the adjoint is V diag(g) Vᵀ
@vjp(np.linalg.eigvalsh, shape=_matrix_shape(lambda s: s[:-1]))
def _(g, ans, a, UPLO="L"):
    v = eigvecsh(a, UPLO)
    return (v * np.expand_dims(g, -2)) @ np.swapaxes(v, -1, -2)


@jvp(np.linalg.eigvalsh)
def _(g, ans, a, UPLO="L"):
    v = eigvecsh(a, UPLO)
    return np.sum(v * (((g + np.swapaxes(g, -1, -2)) * 0.5) @ v), axis=-2)


# dV = V (F ∘ (Vᵀ da V)) with F[i, j] = 1 / (w[j] - w[i]) off the diagonal (distinct eigenvalues)
@vjp(eigvecsh, shape=_matrix_shape(lambda s: s))
def _(g, ans, a, UPLO="L"):
    w = np.linalg.eigvalsh(a, UPLO)
    f = safe_divide(1.0, np.expand_dims(w, -2) - np.expand_dims(w, -1))
    s = ans @ (f * (np.swapaxes(ans, -1, -2) @ g)) @ np.swapaxes(ans, -1, -2)
    return (s + np.swapaxes(s, -1, -2)) * 0.5


@jvp(eigvecsh)
def _(g, ans, a, UPLO="L"):
    w = np.linalg.eigvalsh(a, UPLO)
    f = safe_divide(1.0, np.expand_dims(w, -2) - np.expand_dims(w, -1))
    return ans @ (f * (np.swapaxes(ans, -1, -2) @ ((g + np.swapaxes(g, -1, -2)) * 0.5) @ ans))


# ── the np.linalg helpers' rules ─────────────────────────────────────────────────────────────────────


def _vector_solution(x, a) -> bool:
    """Whether ``x = np.linalg.solve(a, b)`` solved for vectors (b of shape (M,), or (..., M) before NumPy 2)."""
    return np.ndim(x) < np.ndim(a)


def as_column_of(v, x, a):
    """``v`` with a last axis of length 1 if ``x = np.linalg.solve(a, b)`` is a (stack of) vector(s), else ``v``."""
    return np.expand_dims(v, -1) if _vector_solution(x, a) else v


def from_column_of(v, x, a):
    """The inverse of :func:`as_column_of`: the last axis of length 1 dropped if ``x`` is a (stack of) vector(s)."""
    return np.squeeze(v, -1) if _vector_solution(x, a) else v


@vjp(as_column_of, shape=by_example(as_column_of))
def _(g, ans, v, x, a):
    return from_column_of(g, x, a), None, None


@jvp(as_column_of)
def _(g, ans, v, x, a):
    return as_column_of(g, x, a), None, None


@vjp(from_column_of, shape=by_example(from_column_of))
def _(g, ans, v, x, a):
    return as_column_of(g, x, a), None, None


@jvp(from_column_of)
def _(g, ans, v, x, a):
    return from_column_of(g, x, a), None, None


# linear in their first operand; differentiating them in the matrix (second order) is not supported yet: None
@vjp(matrix_power_tangent, shape=A.like_first)
def _(g, ans, t, a, n):
    return matrix_power_adjoint(g, a, n), None


@jvp(matrix_power_tangent)
def _(g, ans, t, a, n):
    return matrix_power_tangent(g, a, n), None


@vjp(matrix_power_adjoint, shape=A.like_first)
def _(g, ans, t, a, n):
    return matrix_power_tangent(g, a, n), None


@jvp(matrix_power_adjoint)
def _(g, ans, t, a, n):
    return matrix_power_adjoint(g, a, n), None


# a local derivative: its own derivative (second order) is not supported yet, so both outputs are None
@vjp(norm_derivative, shape=A.like_first)
def _(g, ans, x, n, ord=None, axis=None, keepdims=False):
    return None, None


@jvp(norm_derivative)
def _(g, ans, x, n, ord=None, axis=None, keepdims=False):
    return None, None


@fold(as_column_of)
def _(b, v, x, a, **kw):
    nd = _ndims(b, x, a)
    if nd is None:
        return None
    return b.call(np.expand_dims, v, Const(-1)) if nd[0] < nd[1] else v


@fold(from_column_of)
def _(b, v, x, a, **kw):
    nd = _ndims(b, x, a)
    if nd is None:
        return None
    return b.call(np.squeeze, v, Const(-1)) if nd[0] < nd[1] else v


@fold(norm_derivative)
def _(b, x, n, ord=None, axis=None, keepdims=None):
    """The local derivative of the norm written out, when its kind (vector or matrix) is known."""
    order = None if ord is None else ord.value
    ax = None if axis is None else axis.value
    nd = _ndims(b, x)
    if not _norm_supported(nd[0] if nd else None, order, ax) or (order in (1, 2, np.inf) and nd is None):
        return None
    kw = {k: v for k, v in (("axis", axis), ("keepdims", keepdims)) if v is not None}
    if order == 1:
        return b.call(np.sign, x)
    full = b.call(expand_to, n, x, **kw)
    if order in (None, "fro", 2):
        return b.call(safe_divide, x, full)
    ties = b.call(operator.eq, b.call(np.abs, x), full)
    count = b.call(np.sum, ties, axis=axis or Const(None), keepdims=Const(True))
    return b.call(operator.truediv, b.call(operator.mul, b.call(np.sign, x), ties), count)


# contractions and factorisations return new arrays (the helpers above may return their operand: not listed)
NEW_OBJECTS.update(
    id(_fn)
    for _fn in (
        np.dot, np.vdot, np.inner, np.outer, np.matmul, np.tensordot, np.kron, np.trace, np.cross, np.einsum,
        np.linalg.inv, np.linalg.solve, np.linalg.det, np.linalg.cholesky, np.linalg.pinv, np.linalg.matrix_power,
        np.linalg.norm, np.linalg.eigvalsh,
    )
)  # fmt: skip


# ── np.linalg.multi_dot([a, b, c, ...]): a chain of matrix products, its list written in the call ────────────
# The list is one operand (a Pack, as for np.stack). The adjoint of element k is Lᵀ g Rᵀ, with L the product of the
# elements before it and R of those after it (multi_dot_part); a 1-D first element is a row, a 1-D last one a
# column. The reverse sweep takes each element's part where it is needed; the rules below, which treat the list as
# one argument (its tangent the list of the elements' tangents, its adjoint the list of their parts), are for a
# forward transform. The helpers' own derivatives are not written: their rules return None (refused).


def _chain(arrays):
    """The elements as matrices (a 1-D first one a row, a 1-D last one a column)."""
    mats = [np.asarray(x) for x in arrays]
    if mats[0].ndim == 1:
        mats[0] = mats[0][None, :]
    if mats[-1].ndim == 1:
        mats[-1] = mats[-1][:, None]
    return mats


def _product(mats):
    return mats[0] if len(mats) == 1 else np.linalg.multi_dot(mats)


def multi_dot_part(g, arrays, position):
    """The adjoint of ``arrays[position]`` in ``np.linalg.multi_dot(arrays)`` for the result's adjoint ``g``."""
    mats = _chain(arrays)
    out = np.reshape(g, (mats[0].shape[0], mats[-1].shape[1]))
    if position + 1 < len(mats):
        out = out @ _product(mats[position + 1 :]).T
    if position > 0:
        out = _product(mats[:position]).T @ out
    return np.reshape(out, np.shape(arrays[position]))


def multi_dot_parts(g, arrays):
    """The adjoints of all the elements, as a list."""
    return [multi_dot_part(g, arrays, k) for k in range(len(arrays))]


def multi_dot_tangent(t, arrays):
    """The tangent of ``np.linalg.multi_dot(arrays)`` when the elements' tangents are the list ``t``: the sum over
    the elements of the product with that element replaced by its tangent."""
    return sum(np.linalg.multi_dot([*arrays[:k], t[k], *arrays[k + 1 :]]) for k in range(len(arrays)))


@vjp(np.linalg.multi_dot, shape=A.packed(np.linalg.multi_dot))
def _(g, ans, arrays):
    return multi_dot_parts(g, arrays)


@jvp(np.linalg.multi_dot)
def _(g, ans, arrays):
    return multi_dot_tangent(g, arrays)


@vjp(multi_dot_part, shape=A.unknown)
def _(h, ans, g, arrays, position):
    return None, None, None


@jvp(multi_dot_part)
def _(h, ans, g, arrays, position):
    return None, None, None


@vjp(multi_dot_parts, shape=A.unknown)
def _(h, ans, g, arrays):
    return None, None


@jvp(multi_dot_parts)
def _(h, ans, g, arrays):
    return None, None


@vjp(multi_dot_tangent, shape=A.unknown)
def _(h, ans, t, arrays):
    return None, None


@jvp(multi_dot_tangent)
def _(h, ans, t, arrays):
    return None, None


NEW_OBJECTS.update(id(_fn) for _fn in (np.linalg.multi_dot, multi_dot_part))
