"""Compiled gradients through shape, contraction and linear-algebra primitives, against central differences.

``test_rules.py`` checks every rule on its own, and compiles every call that needs no literal parameter. Here:

* every sample call with literal parameters (``np.reshape(x, shape=(3, 2))``), compiled from source written out
  for it, specialised and generic;
* small realistic functions (a quadratic form, least squares, a log-determinant, a layer, reshape chains);
* a contraction of an argument with itself sums both adjoints;
* specialised code is plain NumPy, gradients never alias arguments, and what is not supported is refused.
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from pathlib import Path

import array_samples as X
import numpy as np
import pytest
from fd import numeric_grad
from test_rules import ATOL, CASES, RTOL, differentiable_args, random_like

import adcompile
import adcompile.api
import adcompile.rules_linalg as L
from adcompile import AdCompileError, derivative_source, grad

OURS = ("adcompile.rules_shape", "adcompile.rules_linalg", "adcompile.rules_more")


@pytest.fixture(params=["specialised", "generic"])
def code(request, monkeypatch):
    """Which adjoint ``grad`` runs: the one specialised to the arguments' shapes, or the shape-agnostic one."""
    if request.param == "generic":
        monkeypatch.setattr(adcompile.api, "MAX_SPECIALISATIONS", 0)
    return request.param


# ── every sample with literal parameters, compiled ───────────────────────────────────────────────────


def _literal(v) -> str:
    if isinstance(v, tuple):
        return "(" + "".join(_literal(x) + ", " for x in v) + ")"
    if isinstance(v, float) and np.isinf(v):
        return "np.inf" if v > 0 else "-np.inf"
    return repr(v)


def _callee(fn) -> str:
    prim = adcompile.primitives.lookup(fn)
    return (
        prim.path()
        or {"adcompile.rules_shape": "S", "adcompile.rules_linalg": "L", "adcompile.rules_more": "R"}[fn.__module__]
        + "."
        + fn.__name__
    )


LITERAL_CASES = [
    case
    for case in CASES
    if case.kwargs and case.prim.vjp.__module__ in OURS and differentiable_args(case) and hasattr(case.fn, "__name__")
]


def _write_module():
    """A module with one function ``f_<k>(x0, ..., w) = np.sum(P(x0, ..., literal=...) * w)`` per literal case."""
    lines = ["import numpy as np", "import adcompile.rules_shape as S", "import adcompile.rules_linalg as L"]
    lines += ["import adcompile.rules_more as R", ""]
    for k, case in enumerate(LITERAL_CASES):
        params = [f"x{i}" for i in range(len(case.args))]
        kwargs = ", ".join(f"{key}={_literal(v)}" for key, v in case.kwargs.items())
        lines += [
            f"def f_{k}({', '.join(params)}, w):",
            f"    return np.sum({_callee(case.fn)}({', '.join(params)}, {kwargs}) * w)",
            "",
        ]
    path = Path(tempfile.mkdtemp(prefix="adcompile_literal_")) / "literal_calls.py"
    path.write_text("\n".join(lines))
    spec = importlib.util.spec_from_file_location("literal_calls", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["literal_calls"] = module
    spec.loader.exec_module(module)
    return module


LITERAL_CALLS = _write_module()


@pytest.mark.parametrize("k", range(len(LITERAL_CASES)), ids=[str(c) for c in LITERAL_CASES])
def test_call_with_literal_parameters_matches_finite_differences(k, code):
    case = LITERAL_CASES[k]
    f = getattr(LITERAL_CALLS, f"f_{k}")
    args = (*case.args, random_like(case.value(), seed=3))
    argnums = tuple(differentiable_args(case))
    grads = grad(f, argnums=argnums)(*args)
    for i, got in zip(argnums, grads):
        assert np.shape(got) == np.shape(args[i]), f"gradient of argument {i}"
        np.testing.assert_allclose(got, numeric_grad(f, args, i), rtol=RTOL, atol=ATOL, err_msg=f"argument {i}")
    assert_owned(grads, args)


def assert_owned(grads, args):
    """Returned gradients are writable arrays of their own: no view of an argument or of each other."""
    arrays = [g for g in grads if isinstance(g, np.ndarray)]
    for k, g in enumerate(arrays):
        assert g.flags.writeable, f"gradient {k} is a read-only view"
        others = [a for a in args if isinstance(a, np.ndarray)] + arrays[:k]
        assert not any(np.shares_memory(g, a) for a in others), f"gradient {k} shares memory"


# ── small realistic functions ────────────────────────────────────────────────────────────────────────

A, B, S, M = X.D3, X.M34, X.S3, X.M23
TARGET = X.W3
IDENTITY = np.eye(3)
WEIGHTS = np.array([0.5, -1.0, 2.0, 0.25, 1.5])
WEIGHTS3 = WEIGHTS[:3].copy()
RAMP = np.arange(12.0)


def quadratic_form(x, A):
    return x @ A @ x


def least_squares(A, b):
    r = np.linalg.solve(A, b) - TARGET
    return np.sum(r * r)


def log_det(S):
    return np.log(np.linalg.det(S))


def layer(W, x, b):
    return np.sum(np.tanh(W @ x + b))


def two_layers(W1, W2, x):
    h = np.tanh(np.dot(W1, x))
    return np.sum(np.matmul(W2, h) ** 2)


def reshape_chain(x):
    y = np.transpose(np.reshape(x, (3, 4)), (1, 0))
    return np.sum(np.sin(np.ravel(y)) * RAMP)


def gaussian_log_likelihood(X_, r):
    """-½ log det Σ - ½ rᵀ Σ⁻¹ r with Σ = X Xᵀ + 3 I, through its Cholesky factor."""
    cov = X_ @ np.transpose(X_) + 3.0 * IDENTITY
    chol = np.linalg.cholesky(cov)
    z = np.linalg.solve(chol, r)
    return -np.sum(np.log(np.diagonal(chol))) - 0.5 * (z @ z)


def spectrum(X_):
    return np.sum(np.linalg.eigvalsh(X_ @ np.transpose(X_) + IDENTITY) ** 2)


def distance(x, y):
    return np.linalg.norm(np.outer(x, y) - IDENTITY)


def residual_norms(W, x):
    return np.sum(np.linalg.norm(W - x, axis=1) + np.linalg.norm(W - x, ord=1, axis=1))


def gathered(x):
    return np.sum(np.take(x, X.IDX) ** 2) + np.sum(np.sort(x) * WEIGHTS)


def trace_of_inverse(A):
    return np.trace(np.linalg.inv(A) @ np.linalg.matrix_power(A, 2))


def pseudo_inverse(M):
    return np.sum(np.linalg.pinv(M) ** 2)


def padded_differences(x):
    return np.sum(np.diff(np.pad(np.flip(x), 1), 2) ** 2) + np.sum(np.roll(np.repeat(x, 2), 1) * np.tile(x, 2))


def blocks(a, b):
    return np.sum(np.kron(a, b) * np.ravel(np.tensordot(a, b, axes=0))) + np.sum(np.cross(a, b) ** 2) + np.vdot(a, b)


def triangles(A):
    return np.sum(np.triu(A, 1) * np.tril(A)) + np.sum(np.diag(np.diag(A)) * np.swapaxes(A, 0, 1))


def batched(T, v):
    return np.sum(np.matmul(np.moveaxis(T, 2, 1), np.expand_dims(np.sin(T @ v), -1)) ** 2)


def bilinear_einsum(W, x, y):
    return (
        np.einsum("j,j", np.einsum("i,ij->j", x, W), y)
        + np.sum(np.einsum("ij,kj->ik", W, W) ** 2)
        + np.einsum("ii", W @ W)
    )


def one_operand_einsum(T):
    return np.sum(np.sin(np.einsum("ijk->kj", T))) + np.sum(np.einsum("ijk->i", T) ** 2)


def einsum_of_three_and_four(W, x, y):
    return (
        np.einsum("i,i,i", x, x, y)
        + np.sum(np.einsum("ij,jk,kl->il", W, W.T, W) ** 2)
        + np.einsum("i,ij,jk,k", x, W, W.T, y)
    )


def chain_of_products(v, W, T, w):
    return np.linalg.multi_dot([v, W, np.sin(T), W.T, w]) + np.sum(np.linalg.multi_dot([W, T]) ** 2)


def weighted_scores(x, w, v):
    return np.sum(np.average(x, axis=1, weights=v) ** 2) + np.average(np.sin(x), weights=w)


REALISTIC = [
    pytest.param(quadratic_form, (X.V3, A), id="x @ A @ x"),
    pytest.param(least_squares, (A, X.V3), id="least squares via solve"),
    pytest.param(log_det, (S,), id="log det"),
    pytest.param(layer, (M, X.V3, X.V2), id="tanh(W @ x + b)"),
    pytest.param(two_layers, (B.T.copy(), X.M24, X.V3), id="two layers"),
    pytest.param(reshape_chain, (X.draw(12, seed=12),), id="reshape, transpose, ravel"),
    pytest.param(gaussian_log_likelihood, (M.T.copy(), X.V3), id="gaussian log-likelihood via cholesky"),
    pytest.param(spectrum, (X.M32,), id="eigvalsh of X Xᵀ + I"),
    pytest.param(distance, (X.V3, X.W3), id="Frobenius norm"),
    pytest.param(residual_norms, (B, X.V4), id="row norms"),
    pytest.param(gathered, (X.V5,), id="take with repeats, sort"),
    pytest.param(trace_of_inverse, (A,), id="trace, inv, matrix_power"),
    pytest.param(pseudo_inverse, (M,), id="pinv"),
    pytest.param(padded_differences, (X.V4,), id="pad, diff, flip, roll, repeat, tile"),
    pytest.param(blocks, (X.V3, X.W3), id="kron, tensordot, cross, vdot"),
    pytest.param(triangles, (X.M33,), id="triu, tril, diag, swapaxes"),
    pytest.param(batched, (X.T234, X.V4), id="batched matmul, moveaxis"),
    pytest.param(bilinear_einsum, (X.M33, X.V3, X.W3), id="einsum of two operands"),
    pytest.param(one_operand_einsum, (X.T234,), id="einsum of one operand"),
    pytest.param(einsum_of_three_and_four, (X.M33, X.V3, X.W3), id="einsum of three and four operands"),
    pytest.param(chain_of_products, (X.V2, X.M23, X.M33, X.W3[:2].copy()), id="multi_dot with vector ends"),
    pytest.param(weighted_scores, (X.M34, X.draw(3, 4, seed=5, lo=0.5, hi=2.0), X.V4 + 3.0), id="weighted averages"),
]


@pytest.mark.parametrize("f, args", REALISTIC)
def test_gradient_of_a_realistic_function_matches_finite_differences(f, args, code):
    argnums = tuple(range(len(args)))
    grads = grad(f, argnums=argnums)(*args)
    for i, got in enumerate(grads):
        assert np.shape(got) == np.shape(args[i]), f"gradient of argument {i}"
        np.testing.assert_allclose(got, numeric_grad(f, args, i), rtol=1e-5, atol=1e-7, err_msg=f"argument {i}")
    assert_owned(grads, args)


# ── an argument contracted with itself: both adjoints are summed ─────────────────────────────────────


def self_matmul(x):
    return np.sum(np.sin(x @ x))


def self_dot(x):
    return np.sum(np.sin(np.dot(x, x)))


def self_inner(x):
    return np.sum(np.sin(np.inner(x, x)))


def self_outer(x):
    return np.sum(np.sin(np.outer(x, x)))


def self_kron(x):
    return np.sum(np.sin(np.kron(x, x)))


def self_tensordot(x):
    return np.sum(np.sin(np.tensordot(x, x, axes=1)))


def self_solve(x):
    return np.sum(np.sin(np.linalg.solve(x + 4.0 * IDENTITY, x)))


SELF_CONTRACTIONS = [
    pytest.param(f, x, id=f"{f.__name__}-{label}")
    for f in (self_matmul, self_dot, self_inner, self_outer, self_kron, self_tensordot, self_solve)
    for x, label in ((X.V3, "vector"), (X.M33, "matrix"))
    if not (f is self_solve and x.ndim == 1)  # solve needs a matrix
]


@pytest.mark.parametrize("f, x", SELF_CONTRACTIONS)
def test_contraction_of_an_argument_with_itself_sums_both_adjoints(f, x, code):
    np.testing.assert_allclose(grad(f)(x), numeric_grad(f, (x,), 0), rtol=RTOL, atol=ATOL)


# ── generated code ───────────────────────────────────────────────────────────────────────────────────


def test_specialised_adjoint_of_a_layer_is_plain_numpy():
    source = derivative_source(layer, argnums=(0, 1, 2), args=(M, X.V3, X.V2))
    assert "np.outer(" in source and " @ W" in source
    for helper in ("matmul_left", "matmul_right", "unbroadcast", "reshape_like"):
        assert helper not in source


def test_specialised_adjoint_of_a_reshape_is_a_reshape():
    source = derivative_source(reshape_chain, args=(X.draw(12, seed=12),))
    assert "np.reshape(" in source and "np.transpose(" in source and "reshape_like" not in source


def test_generic_adjoint_of_a_quadratic_form_calls_the_shape_helpers():
    source = derivative_source(quadratic_form, argnums=(0, 1))
    assert "matmul_left(" in source and "matmul_right(" in source


def view_of_weights(x, w):
    return np.sum(np.reshape(x, (2, 3)) * np.transpose(w))


@pytest.mark.parametrize("at", [True, False], ids=["specialised", "generic"])
def test_gradient_that_is_a_reshaped_argument_is_a_copy(at, monkeypatch):
    if not at:
        monkeypatch.setattr(adcompile.api, "MAX_SPECIALISATIONS", 0)
    x, w = X.V6, X.M32
    got = grad(view_of_weights)(x, w)
    np.testing.assert_allclose(got, np.ravel(w.T))
    assert not np.shares_memory(got, w)


# ── what is not supported is refused, never differentiated wrongly ───────────────────────────────────


def dot_with_3d(x):
    return np.sum(np.dot(x, X.T234))


def einsum_of_six(x):
    return np.einsum("i,i,i,i,i,i", x, x, x, x, x, x)


def cross_of_2_vectors(x):
    return np.sum(np.cross(x, x + 1.0))


def cross_with_scalar(x):
    return np.sum(np.cross(x, 2.0))


def spectral_norm(x):
    return np.linalg.norm(x, ord=2)


def roll_two_axes(x):
    return np.sum(np.roll(x, (1, 2), axis=(0, 1)) * X.M23)


@pytest.mark.parametrize(
    "f, x, message",
    [
        (dot_with_3d, X.M23, "1 or 2 dimensions"),
        (spectral_norm, X.M23, "ord=2"),
        (roll_two_axes, X.M23, "integer shift"),
        (einsum_of_six, X.V3, "at most 6 positional arguments"),
        (cross_of_2_vectors, X.M32, "3-vectors"),
        (cross_with_scalar, X.V3, "3-vectors"),
    ],
)
def test_unsupported_forms_are_refused_at_compile_time(f, x, message):
    with pytest.raises(AdCompileError, match=message):
        grad(f)(x)


def test_unsupported_norm_is_refused_at_run_time_in_generic_code(monkeypatch):
    monkeypatch.setattr(adcompile.api, "MAX_SPECIALISATIONS", 0)
    with pytest.raises(ValueError, match="ord=2"):
        grad(spectral_norm)(X.M23)


def test_norm_at_zero_has_zero_gradient():
    for f in (norm2_of, norm1_of, norm_inf_of):
        np.testing.assert_array_equal(grad(f)(np.zeros(3)), np.zeros(3))


def norm2_of(x):
    return np.linalg.norm(x)


def norm1_of(x):
    return np.linalg.norm(x, ord=1)


def norm_inf_of(x):
    return np.linalg.norm(x, ord=np.inf)


def test_inf_norm_splits_the_adjoint_between_tied_maxima():
    np.testing.assert_allclose(grad(norm_inf_of)(np.array([2.0, -2.0, 1.0])), [0.5, -0.5, 0.0])


def sort_ties(x):
    return np.sum(np.sort(x) * WEIGHTS3)


def test_sort_gives_tied_elements_the_adjoints_of_their_stable_positions():
    # stable order of [1, 0, 1]: 0 (index 1), then the 1 at index 0, then the 1 at index 2
    np.testing.assert_allclose(grad(sort_ties)(np.array([1.0, 0.0, 1.0])), [WEIGHTS[1], WEIGHTS[0], WEIGHTS[2]])


def transposed_argument_as_gradient(x, y):
    return np.sum(np.transpose(y) * x)


def test_gradient_that_is_a_forward_view_of_an_argument_is_a_copy():
    x, y = X.M32, X.M23
    got = grad(transposed_argument_as_gradient)(x, y)
    np.testing.assert_allclose(got, y.T)
    assert not np.shares_memory(got, y)


MATMUL_SHAPES = [(3,), (2, 3), (3, 4), (4,), (2, 3, 4), (5, 4, 3), (1, 3, 4), (2, 4, 5), (5, 1, 4, 2)]


def test_matmul_shape_rule_agrees_with_numpy():
    """The one shape rule written out rather than run on stand-ins: it must say what np.matmul does, or refuse."""
    from adcompile.avals import of_value
    from adcompile.rules_linalg import _matmul_shape

    for sa, sb in [(a, b) for a in MATMUL_SHAPES for b in MATMUL_SHAPES]:
        a, b = np.ones(sa), np.ones(sb)
        try:
            expected = np.matmul(a, b)
        except ValueError:
            with pytest.raises(AdCompileError):
                _matmul_shape([of_value(a), of_value(b)], {})
            continue
        got = _matmul_shape([of_value(a), of_value(b)], {})
        assert (got.shape, got.array) == (np.shape(expected), isinstance(expected, np.ndarray)), (sa, sb)


RULE_CASES = [case for case in CASES if case.prim.vjp.__module__ in OURS]


@pytest.mark.parametrize("kind", ["vjp", "jvp"])
def test_every_rule_lowers_to_registered_primitives_with_rules(kind):
    """A rule's expression is lowered again by the compiler (and will be differentiated again): each call in it
    must be a primitive that has rules or is declared non-differentiable. jvp rules are not used by any transform
    yet, so only this test lowers them."""
    from adcompile.builder import Builder
    from adcompile.ir import Assign, Const, Var
    from adcompile.lower import lower_rule
    from adcompile.primitives import lookup

    for case in RULE_CASES:
        t = case.prim.template(kind)
        operands = [Var(p) for p in t.params[:2]] + [
            Var(p) if isinstance(a, (np.ndarray, float)) else Const(a) for p, a in zip(t.params[2:], case.args)
        ]
        bindings = dict(zip(t.params, operands))
        bindings.update({k: Const(v) for k, v in case.kwargs.items()})
        for i in differentiable_args(case):
            b = Builder()
            lower_rule(b, case.prim, kind, i, bindings)
            for st in b.body:
                prim = lookup(st.prim.fn) if isinstance(st, Assign) else None
                assert prim is not None and (prim.vjp is not None or not prim.differentiable), (str(case), st.prim.name)


def power_adjoint_in_the_matrix(a):
    return np.sum(L.matrix_power_adjoint(X.M33, a, n=2))


def norm_derivative_in_x(x):
    return np.sum(L.norm_derivative(x, 2.0))


@pytest.mark.parametrize("f, x", [(power_adjoint_in_the_matrix, X.D3), (norm_derivative_in_x, X.V3)])
def test_helpers_without_second_derivatives_refuse_to_be_differentiated(f, x):
    with pytest.raises(adcompile.NonDifferentiableError, match="not differentiable with respect to its argument"):
        grad(f)(x)


MULTI_DOT_LISTS = [[X.M23, X.M34, X.M45], [X.V2, X.M23, X.M34, X.V4], [X.M23, X.V3], [X.V3, X.M34]]


@pytest.mark.parametrize("xs", MULTI_DOT_LISTS, ids=lambda xs: ",".join("x".join(map(str, x.shape)) for x in xs))
def test_rules_of_multi_dot(xs):
    """The jvp rule (the list's tangent is the list of its elements' tangents) against finite differences, and
    <vjp(g), t> = <g, jvp(t)>, the vjp's parts being those the reverse sweep takes one by one (multi_dot_part)."""
    prim = adcompile.primitives.lookup(np.linalg.multi_dot)
    ans = np.linalg.multi_dot(xs)
    ts = [random_like(x, seed=k) for k, x in enumerate(xs)]
    g = random_like(ans, seed=9)
    up = np.linalg.multi_dot([x + 1e-6 * t for x, t in zip(xs, ts)])
    down = np.linalg.multi_dot([x - 1e-6 * t for x, t in zip(xs, ts)])
    tangent = prim.jvp(ts, ans, xs)
    np.testing.assert_allclose(tangent, (up - down) / 2e-6, rtol=RTOL, atol=ATOL)
    parts = prim.vjp(g, ans, xs)
    assert [np.shape(p) for p in parts] == [np.shape(x) for x in xs]
    total = sum(float(np.sum(p * t)) for p, t in zip(parts, ts))
    assert total == pytest.approx(float(np.sum(g * tangent)), rel=1e-12)
