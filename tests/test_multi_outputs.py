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
