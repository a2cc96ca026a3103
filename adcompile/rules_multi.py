"""Functions that return several arrays (``np.linalg.eigh``, ``slogdet``, ``svd``, ``qr``, ``lstsq``).

``w, v = np.linalg.eigh(a)`` lowers to one call, whose result ``r`` (a tuple) only feeds one primitive per output:
``w = eigh_values(a, r)``, printed ``w = r[0]``. The adjoint of ``a`` is linear in the outputs' adjoints, so each
output's primitive has its own vjp rule with respect to ``a``, and the contributions of the outputs that are used
add up; an output that is not used costs nothing. The rules read the outputs back from ``r``, which holds them
already. An output whose derivative has no rule here (the residuals of ``lstsq``) is an error where it is used,
never a silent zero.

Conventions, as in ``rules_linalg``: ``eigh`` reads one triangle of a matrix taken to be symmetric and its adjoint
is symmetric, the derivative along symmetric perturbations; eigenvalues that coincide have no eigenvector
derivative (the gap is treated as infinite, so their mixing terms are dropped). ``lstsq`` assumes full column rank.
``qr`` is the reduced factorisation (the default ``mode``) of a matrix of full rank with at least as many rows as
columns (m ≥ n), so that ``r`` is invertible. The singular vectors ``U`` and ``Vh`` of ``svd`` are those of the
reduced factorisation, ``full_matrices=False``, and need distinct nonzero singular values (a pair that coincides
has its mixing term dropped, as for ``eigh``; a zero singular value divides by zero). With the default
``full_matrices=True`` they are refused where they are used (``REFUSED``): for a non-square matrix the extra
columns are any orthonormal completion, which no derivative determines. As with any factorisation, the vectors are
defined up to sign; the derivative is that of the branch NumPy returns, continuous where the values are distinct.
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


def svd_u_full(a, result):
    return result[0]


def svd_vh_full(a, result):
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
    np.linalg.svd: ((svd_u, svd_values, svd_vh), ("U", "S", "Vh")),  # svd_u_full, svd_vh_full by default
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


# ── np.linalg.svd: the singular vectors, of the reduced factorisation (full_matrices=False) ─────────────
# With distinct nonzero singular values: F[i, j] = 1 / (s_j² - s_i²) off the diagonal (0 on it), and
# P = Uᵀ dA V. Then dU = U (F ∘ (P S + S Pᵀ)) + (I - U Uᵀ) dA V S⁻¹ and
# dV = V (F ∘ (S P + Pᵀ S)) + (I - V Vᵀ) dAᵀ U S⁻¹; the vjp rules are their transposes (Townsend,
# "Differentiating the singular value decomposition", 2016).


@vjp(svd_u)
def _(g, ans, a, result):
    u, s, vh = result[0], result[1], result[2]
    gap = np.expand_dims(s * s, -2) - np.expand_dims(s * s, -1)  # gap[i, j] = s_j² - s_i²
    f = safe_divide(np.ones_like(gap), gap)
    utg = np.swapaxes(u, -1, -2) @ g
    j = f * (utg - np.swapaxes(utg, -1, -2))
    return u @ (j * np.expand_dims(s, -2)) @ vh + ((g - u @ utg) / np.expand_dims(s, -2)) @ vh, None


@jvp(svd_u)
def _(g, ans, a, result):
    u, s, vh = result[0], result[1], result[2]
    gap = np.expand_dims(s * s, -2) - np.expand_dims(s * s, -1)  # gap[i, j] = s_j² - s_i²
    f = safe_divide(np.ones_like(gap), gap)
    gv = g @ np.swapaxes(vh, -1, -2)
    p = np.swapaxes(u, -1, -2) @ gv
    inner = f * (p * np.expand_dims(s, -2) + np.expand_dims(s, -1) * np.swapaxes(p, -1, -2))
    return u @ inner + (gv - u @ p) / np.expand_dims(s, -2), None


@vjp(svd_vh)
def _(g, ans, a, result):
    u, s, vh = result[0], result[1], result[2]
    gap = np.expand_dims(s * s, -2) - np.expand_dims(s * s, -1)  # gap[i, j] = s_j² - s_i²
    f = safe_divide(np.ones_like(gap), gap)
    gv = g @ np.swapaxes(vh, -1, -2)  # V̄ᵀ V, with V̄ = gᵀ the adjoint of V = vhᵀ
    k = f * (np.swapaxes(gv, -1, -2) - gv)
    return u @ ((np.expand_dims(s, -1) * k) @ vh + (g - gv @ vh) / np.expand_dims(s, -1)), None


@jvp(svd_vh)
def _(g, ans, a, result):
    u, s, vh = result[0], result[1], result[2]
    gap = np.expand_dims(s * s, -2) - np.expand_dims(s * s, -1)  # gap[i, j] = s_j² - s_i²
    f = safe_divide(np.ones_like(gap), gap)
    utg = np.swapaxes(u, -1, -2) @ g
    p = utg @ np.swapaxes(vh, -1, -2)
    inner = f * (np.expand_dims(s, -1) * p + np.swapaxes(p, -1, -2) * np.expand_dims(s, -2))
    return np.swapaxes(inner, -1, -2) @ vh + (utg - (utg @ np.swapaxes(vh, -1, -2)) @ vh) / np.expand_dims(s, -1), None


# ── np.linalg.qr: a = q r, reduced, a of full column rank (m ≥ n) ──────────────────────────────────────
# C = qᵀ da r⁻¹ = qᵀdq + dr r⁻¹, the first term skew, the second upper triangular: Ω = tril(C, -1) - tril(C, -1)ᵀ,
# dq = q Ω + (I - q qᵀ) da r⁻¹ and dr = (C - Ω) r. The vjp rules are the transposes: with M = r r̄ᵀ - q̄ᵀ q and
# copyltu(M) = tril(M) + tril(M, -1)ᵀ, ā = (q̄ + q copyltu(M)) r⁻ᵀ (Walter and Lehmann, 2018), one term per output.


@vjp(qr_q)
def _(g, ans, a, result):
    q, r = result[0], result[1]
    m = -(np.swapaxes(g, -1, -2) @ q)
    sym = np.tril(m) + np.swapaxes(np.tril(m, -1), -1, -2)
    return np.swapaxes(np.linalg.solve(r, np.swapaxes(g + q @ sym, -1, -2)), -1, -2), None


@jvp(qr_q)
def _(g, ans, a, result):
    q, r = result[0], result[1]
    dar = np.swapaxes(np.linalg.solve(np.swapaxes(r, -1, -2), np.swapaxes(g, -1, -2)), -1, -2)  # da r⁻¹
    c = np.swapaxes(q, -1, -2) @ dar
    omega = np.tril(c, -1) - np.swapaxes(np.tril(c, -1), -1, -2)
    return q @ omega + dar - q @ c, None


@vjp(qr_r)
def _(g, ans, a, result):
    q, r = result[0], result[1]
    m = r @ np.swapaxes(g, -1, -2)
    sym = np.tril(m) + np.swapaxes(np.tril(m, -1), -1, -2)
    return np.swapaxes(np.linalg.solve(r, np.swapaxes(q @ sym, -1, -2)), -1, -2), None


@jvp(qr_r)
def _(g, ans, a, result):
    q, r = result[0], result[1]
    dar = np.swapaxes(np.linalg.solve(np.swapaxes(r, -1, -2), np.swapaxes(g, -1, -2)), -1, -2)
    c = np.swapaxes(q, -1, -2) @ dar
    omega = np.tril(c, -1) - np.swapaxes(np.tril(c, -1), -1, -2)
    return (c - omega) @ r, None


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


def _factor(side: str):
    """The shape of a factor of the reduced factorisation of an (m, n) matrix: (m, k) on the left, (k, n) on the
    right, k = min(m, n)."""

    def rule(avals, kwargs, loc=None) -> A.Aval:
        shape = avals[0].shape
        if isinstance(shape, tuple) and len(shape) >= 2:
            m, n = shape[-2:]
            k = min(m, n)
            return A.Aval((*shape[:-2], *((m, k) if side == "left" else (k, n))), "f", True)
        return A.Aval(None, "f", True)

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
    (svd_u, _factor("left")),
    (svd_vh, _factor("right")),
    (qr_q, _factor("left")),
    (qr_r, _factor("right")),
):
    primitive(_out, shape=_shape)
for _out in (svd_u_full, svd_vh_full):
    primitive(_out).item = 0 if _out is svd_u_full else 2

# Outputs refused on purpose: (message, hint) where one is used on the differentiable path.
REFUSED = {
    svd_u_full: (
        "the singular vectors of np.linalg.svd(a) are differentiated only with full_matrices=False",
        "pass full_matrices=False: with the default, a non-square matrix has singular vectors that no derivative "
        "determines (for a square one the result is the same)",
    ),
}
REFUSED[svd_vh_full] = REFUSED[svd_u_full]

for _fn in (slogdet_sign, lstsq_rank):  # piecewise constant
    primitive(_fn).differentiable = False

__all__ = ["MULTIPLE", "REFUSED"]
