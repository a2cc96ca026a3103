"""Functions that return several arrays: unpacked, indexed or read by field; each output used adds its part."""

import numpy as np
import pytest
from fd import numeric_grad

from adcompile import derivative_source, grad
from adcompile.errors import NonDifferentiableError, UnsupportedSyntaxError

RNG = np.random.default_rng(3)
A3 = RNG.normal(size=(3, 3)) + 3.0 * np.eye(3)
M42 = RNG.normal(size=(4, 2))
B4 = RNG.normal(size=4)


def check(f, *args):
    argnums = tuple(range(len(args)))
    grads = grad(f, argnums=argnums)(*args)
    for i, g in zip(argnums, grads):
        np.testing.assert_allclose(g, numeric_grad(f, args, i), rtol=1e-6, atol=1e-8)


def gaussian_nll(x, mu, a):
    cov = a @ a.T + np.eye(3)
    sign, logdet = np.linalg.slogdet(cov)
    r = x - mu
    return 0.5 * (logdet + r @ np.linalg.solve(cov, r))


def eigen_both(a):
    w, v = np.linalg.eigh(a + a.T)
    return np.sum(w**3) + np.sum(v[:, 0] ** 2 * np.arange(3.0)) + np.sum(np.abs(v[0]) * w)


def eigen_by_field(a):
    r = np.linalg.eigh(a @ a.T)
    return np.sum(r.eigenvalues * np.sin(r.eigenvalues))


def singular_values(a):
    return np.sum(np.linalg.svd(a)[1] ** 2) + np.linalg.svd(a, full_matrices=False).S[0]


def singular_vectors(a):
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    return np.sum(u[:, 0] * s[0]) + np.sum(np.sin(vh[:, 0]) * np.arange(2.0)) + np.sum(u[:, 1] ** 3)


def only_right_vectors(a):
    return np.sum(np.linalg.svd(a, full_matrices=False).Vh[0] ** 3)


def qr_both(a):
    q, r = np.linalg.qr(a)
    return np.sum(q[:, 0] ** 3) + np.sum(np.sin(r))


def qr_one_at_a_time(a):
    return np.sum(np.linalg.qr(a)[1] ** 2) + np.sum(np.linalg.qr(a * 2.0).Q * A3[:, :2])


def least_squares(a, b):
    x, residuals, rank, sv = np.linalg.lstsq(a, b)
    return np.sum(x**2 * np.arange(1.0, 3.0))


def least_squares_columns(a, b):
    return np.sum(np.sin(np.linalg.lstsq(a, np.outer(b, b[:3]))[0]))


@pytest.mark.parametrize(
    "f, args",
    [
        (gaussian_nll, (B4[:3].copy(), B4[1:].copy(), A3)),
        (eigen_both, (A3,)),
        (eigen_by_field, (A3,)),
        (singular_values, (M42,)),
        (singular_vectors, (M42,)),
        (singular_vectors, (M42.T.copy(),)),
        (only_right_vectors, (M42,)),
        (qr_both, (A3,)),
        (qr_both, (M42,)),
        (qr_one_at_a_time, (M42[:3].copy(),)),
        (least_squares, (M42, B4)),
        (least_squares_columns, (M42, B4)),
    ],
)
def test_gradients_through_functions_returning_several_arrays(f, args):
    check(f, *args)


def test_an_output_that_is_not_used_costs_nothing():
    src = derivative_source(gaussian_nll, argnums=2, args=(B4[:3], B4[1:], A3))
    code = [line for line in src.splitlines() if not line.strip().startswith("#")]
    assert not any("slogdet" in line for line in code)  # the sign is not used and log|det| needs only inv(cov)


def singular_vectors_of_full_matrices(a):
    u, s, vh = np.linalg.svd(a)
    return np.sum(u[:, 0] * s[0])


def complete_qr(a):
    return np.sum(np.linalg.qr(a, mode="complete")[0])


def only_values_asked(a):
    return np.sum(np.linalg.svd(a, compute_uv=False))


def index_not_known(a, k):
    return np.linalg.eigh(a)[k][0]


def test_outputs_without_rules_and_unsupported_forms_are_errors():
    for a in (M42, A3):  # with the default full_matrices=True, even a square matrix (say so, with the fix)
        with pytest.raises(NonDifferentiableError, match="full_matrices=False") as e:
            grad(singular_vectors_of_full_matrices)(a)
        assert "pass full_matrices=False" in e.value.hint and e.value.loc.line > 0
    with pytest.raises(UnsupportedSyntaxError, match="mode"):
        grad(complete_qr)(M42)
    with pytest.raises(UnsupportedSyntaxError, match="compute_uv"):
        grad(only_values_asked)(M42)
    with pytest.raises(UnsupportedSyntaxError, match="literal number"):
        grad(index_not_known)(A3, 1)


# ── np.split and its kin: the number of parts is known from the literal sections ─────────────────────

import adcompile.api  # noqa: E402

M46 = RNG.normal(size=(4, 6))
V7 = RNG.normal(size=7)


def halves(x):
    a, b = np.split(x, 2)
    return np.sum(np.sin(a) * b)


def third_of_three(x):
    return np.sum(np.split(x, [1, 3], axis=1)[2] ** 2)


def uneven(v):
    a, b, c = np.array_split(v, 3)
    return np.sum(a**2) + np.sum(np.cos(c))


def sideways(x):
    left, right = np.hsplit(x, 2)
    top, bottom = np.vsplit(x, [3])
    return np.sum(left * right) + np.sum(top) * np.sum(bottom**2) + np.sum(np.dsplit(x[None], 3)[1])


def over_the_parts(x):
    total = 0.0
    for part in np.split(x, 3, axis=-1):
        total = total * np.sum(part) + np.sum(part**2)
    return total


@pytest.fixture(params=["specialised", "generic"])
def code(request, monkeypatch):
    if request.param == "generic":
        monkeypatch.setattr(adcompile.api, "MAX_SPECIALISATIONS", 0)
    return request.param


@pytest.mark.parametrize(
    "f, x",
    [(halves, M46), (third_of_three, M46), (uneven, V7), (sideways, M46), (over_the_parts, M46)],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_gradients_through_split_parts(f, x, code):
    check(f, x)


def test_a_part_that_is_not_used_costs_nothing_and_a_used_one_is_padded():
    src = derivative_source(third_of_three, args=(M46,))
    assert src.count("np.pad(") == 1 and "_t1[0]" not in src and "_t1[1]" not in src


def sections_computed(x, n):
    return np.sum(np.split(x, n)[0])


def test_split_needs_literal_sections():
    with pytest.raises(UnsupportedSyntaxError, match="literal number or a literal list"):
        grad(sections_computed)(M46, 2)
