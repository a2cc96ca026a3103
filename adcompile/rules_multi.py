"""Functions that return several arrays (``np.linalg.eigh``, ``slogdet``, ``svd``, ``qr``, ``lstsq``).

``w, v = np.linalg.eigh(a)`` lowers to one call, whose result ``r`` (a tuple) only feeds one primitive per output:
``w = eigh_values(a, r)``, printed ``w = r[0]``. The adjoint of ``a`` is linear in the outputs' adjoints, so each
output's primitive has its own vjp rule with respect to ``a``, and the contributions of the outputs that are used
add up; an output that is not used costs nothing. The rules read the outputs back from ``r``, which holds them
already. An output whose derivative has no rule here (the singular vectors of ``svd``) is an error where it is
used, never a silent zero.

Conventions, as in ``rules_linalg``: ``eigh`` reads one triangle of a matrix taken to be symmetric and its adjoint
is symmetric, the derivative along symmetric perturbations; eigenvalues that coincide have no eigenvector
derivative (the gap is treated as infinite, so their mixing terms are dropped). ``lstsq`` assumes full column rank
and ``qr`` the reduced factorisation of a matrix with at least as many rows as columns and full rank.
"""

from __future__ import annotations

import numpy as np

from . import avals as A
from .primitives import NEW_OBJECTS, jvp, primitive, vjp
from .rules_linalg import as_column_of, from_column_of, safe_divide

# ── the outputs, each a primitive of the function's argument and the result already computed ─────────────


def slogdet_sign(a, result):
    return result[0]


def slogdet_logabsdet(a, result):
    return result[1]


def eigh_values(a, result):
    return result[0]


def eigh_vectors(a, result):
    return result[1]


def svd_u(a, result):
    return result[0]


def svd_values(a, result):
    return result[1]


def svd_vh(a, result):
    return result[2]


def qr_q(a, result):
    return result[0]


def qr_r(a, result):
    return result[1]


def lstsq_solution(a, b, result):
    return result[0]


def lstsq_residuals(a, b, result):
    return result[1]


def lstsq_rank(a, b, result):
    return result[2]


def lstsq_singular_values(a, b, result):
    return result[3]


# function -> its outputs in order, and the field names of the named tuple NumPy returns
MULTIPLE = {
    np.linalg.slogdet: ((slogdet_sign, slogdet_logabsdet), ("sign", "logabsdet")),
    np.linalg.eigh: ((eigh_values, eigh_vectors), ("eigenvalues", "eigenvectors")),
    np.linalg.svd: ((svd_u, svd_values, svd_vh), ("U", "S", "Vh")),
    np.linalg.qr: ((qr_q, qr_r), ("Q", "R")),
    np.linalg.lstsq: (
        (lstsq_solution, lstsq_residuals, lstsq_rank, lstsq_singular_values),
        ("solution", "residuals", "rank", "singular values"),
    ),
}


# ── np.linalg.slogdet: d log|det a| = tr(a⁻¹ da) ───────────────────────────────────────────────────────


@vjp(slogdet_logabsdet)
def _(g, ans, a, result):
    return np.expand_dims(g, (-2, -1)) * np.swapaxes(np.linalg.inv(a), -1, -2), None


@jvp(slogdet_logabsdet)
def _(g, ans, a, result):
    return np.sum(np.swapaxes(np.linalg.inv(a), -1, -2) * g, axis=(-2, -1)), None


# ── np.linalg.eigh: a = v diag(w) vᵀ ─────────────────────────────────────────────────────────────────


@vjp(eigh_values)
def _(g, ans, a, result):
    v = result[1]
    return (v * np.expand_dims(g, -2)) @ np.swapaxes(v, -1, -2), None


@jvp(eigh_values)
def _(g, ans, a, result):
    v = result[1]
    return np.sum(v * (g @ v), axis=-2), None


@vjp(eigh_vectors)
def _(g, ans, a, result):
    w, v = result[0], result[1]
    gap = np.expand_dims(w, -2) - np.expand_dims(w, -1)  # gap[i, j] = w[j] - w[i]
    f = safe_divide(np.ones_like(gap), gap)
    inner = v @ ((f * (np.swapaxes(v, -1, -2) @ g)) @ np.swapaxes(v, -1, -2))
    return (inner + np.swapaxes(inner, -1, -2)) * 0.5, None


@jvp(eigh_vectors)
def _(g, ans, a, result):
    w, v = result[0], result[1]
    gap = np.expand_dims(w, -2) - np.expand_dims(w, -1)
    f = safe_divide(np.ones_like(gap), gap)
    sym = (g + np.swapaxes(g, -1, -2)) * 0.5
    return v @ (f * (np.swapaxes(v, -1, -2) @ sym @ v)), None


# ── np.linalg.svd: the singular values (a = u diag(s) vh) ──────────────────────────────────────────────


@vjp(svd_values)
def _(g, ans, a, result):
    u, vh = result[0], result[2]
    k = np.shape(ans)[-1]
    return (u[..., :, :k] * np.expand_dims(g, -2)) @ vh[..., :k, :], None


@jvp(svd_values)
def _(g, ans, a, result):
    u, vh = result[0], result[2]
    k = np.shape(ans)[-1]
    return np.sum(u[..., :, :k] * (g @ np.swapaxes(vh[..., :k, :], -1, -2)), axis=-2), None


# ── np.linalg.lstsq: the solution x of min |a x - b|, a of full column rank ──────────────────────────


# A vector right-hand side is a one-column matrix in these formulas (as_column_of), and back (from_column_of).


@vjp(lstsq_solution, shape=lambda avals, kwargs, loc=None: _lstsq_shape(avals))
def _(g, ans, a, b, result):
    x = result[0]
    z = np.linalg.solve(np.swapaxes(a, -1, -2) @ a, as_column_of(g, x, a))  # (aᵀa)⁻¹ ḡ
    r = as_column_of(b, x, a) - a @ as_column_of(x, x, a)
    az = a @ z
    return r @ np.swapaxes(z, -1, -2) - az @ np.swapaxes(as_column_of(x, x, a), -1, -2), from_column_of(az, x, a), None


@jvp(lstsq_solution)
def _(g, ans, a, b, result):
    # a's tangent and b's tangent, each alone: x changes by (aᵀa)⁻¹ (daᵀ r - aᵀ da x) and (aᵀa)⁻¹ aᵀ db
    x = result[0]
    x2 = as_column_of(x, x, a)
    r = as_column_of(b, x, a) - a @ x2
    ata = np.swapaxes(a, -1, -2) @ a
    return (
        from_column_of(np.linalg.solve(ata, np.swapaxes(g, -1, -2) @ r - np.swapaxes(a, -1, -2) @ (g @ x2)), x, a),
        from_column_of(np.linalg.solve(ata, np.swapaxes(a, -1, -2) @ as_column_of(g, x, a)), x, a),
        None,
    )


def _lstsq_shape(avals) -> A.Aval:
    a, b = avals[0], avals[1]
    if isinstance(a.shape, tuple) and isinstance(b.shape, tuple) and len(a.shape) == 2:
        shape = (a.shape[1], *b.shape[1:])
        return A.Aval(shape, "f", True)
    return A.Aval(None, "f", True)


def _batch(cut: int):
    """The shape of an output that drops the last ``cut`` axes of the matrix argument."""

    def rule(avals, kwargs, loc=None) -> A.Aval:
        shape = avals[0].shape
        if isinstance(shape, tuple) and len(shape) >= 2:
            out = shape[: len(shape) - cut]
            return A.Aval(out, "f", A.result_array(out))
        return A.Aval(None, "f", None)

    return rule


def _singular_values(avals, kwargs, loc=None) -> A.Aval:
    shape = avals[0].shape
    if isinstance(shape, tuple) and len(shape) >= 2:
        return A.Aval((*shape[:-2], min(shape[-2:])), "f", True)
    return A.Aval(None, "f", True)


# The tuple-valued calls themselves only feed their outputs' primitives; their outputs are new arrays.
for _fn, (_outputs, _fields) in MULTIPLE.items():
    primitive(_fn, shape=A.unknown).differentiable = False
    for _k, _out in enumerate(_outputs):
        primitive(_out).item = _k
    NEW_OBJECTS.add(id(_fn))
for _out, _shape in (
    (slogdet_sign, _batch(2)),
    (slogdet_logabsdet, _batch(2)),
    (eigh_values, _batch(1)),
    (eigh_vectors, _batch(0)),
    (svd_values, _singular_values),
):
    primitive(_out, shape=_shape)
for _fn in (slogdet_sign, lstsq_rank):  # piecewise constant
    primitive(_fn).differentiable = False

__all__ = ["MULTIPLE"]
