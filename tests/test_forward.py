"""Forward mode: jvp and jacfwd against central finite differences along random directions, construct by construct,
and against reverse mode (⟨grad f, t⟩ is the jvp's tangent)."""

from __future__ import annotations

import math
import pathlib

import numpy as np
import pytest
from fd import numeric_grad

import adcompile
import adcompile.api
from adcompile import NonDifferentiableError, derivative_source, grad, jacfwd, jvp

RNG = np.random.default_rng(5)


@pytest.fixture(params=["specialised", "generic"])
def code(request, monkeypatch):
    """Which jvp runs: the one specialised to the arguments' shapes, or the shape-agnostic one."""
    if request.param == "generic":
        monkeypatch.setattr(adcompile.api, "MAX_SPECIALISATIONS", 0)
    return request.param


def directional(f, args, argnums, tangents, eps=1e-6):
    """(f(args + eps t) - f(args - eps t)) / 2 eps, moving only the arguments at ``argnums``."""

    def moved(sign):
        out = list(args)
        for i, t in zip(argnums, tangents):
            out[i] = args[i] + sign * eps * t
        return f(*out)

    up, down = moved(1), moved(-1)
    if isinstance(up, tuple):
        return tuple((np.asarray(u) - np.asarray(d)) / (2 * eps) for u, d in zip(up, down))
    return (np.asarray(up) - np.asarray(down)) / (2 * eps)


def random_tangent(x):
    if isinstance(x, np.ndarray):
        return RNG.normal(size=x.shape).astype(x.dtype)
    return float(RNG.normal())


def jvp_at(f, args, argnums, tangents):
    """The jvp of ``f`` with respect to the arguments at ``argnums`` only (the others are held fixed)."""
    d = adcompile.api._forward_derivative(f, argnums)
    args, _ = d.positional(args, {})  # defaults filled in: the tangents come after every positional parameter
    full = (*args, *tangents)
    return d.function_for(full)(*full)


def check(f, args, argnums=None, rtol=1e-5, atol=1e-7):
    argnums = tuple(range(len(args))) if argnums is None else argnums
    tangents = tuple(random_tangent(args[i]) for i in argnums)
    value, tangent = jvp_at(f, args, argnums, tangents)
    expected = f(*args)
    if isinstance(expected, tuple):
        for v, e in zip(value, expected):
            np.testing.assert_allclose(v, e, rtol=1e-12)
    else:
        np.testing.assert_allclose(value, expected, rtol=1e-12)
    numeric = directional(f, args, argnums, tangents)
    if isinstance(numeric, tuple):
        for t, n in zip(tangent, numeric):
            assert np.shape(t) == np.shape(n)
            np.testing.assert_allclose(t, n, rtol=rtol, atol=atol)
    else:
        assert np.shape(tangent) == np.shape(numeric)
        np.testing.assert_allclose(tangent, numeric, rtol=rtol, atol=atol)
    return tangent


# ── the constructs ───────────────────────────────────────────────────────────────────────────────────


def straight(x1, x2, x3):
    y1 = x1 * (x2 - x3)
    y2 = x3 * np.log(1 - x1)
    return y1 + y2


def broadcasting(x, y):
    return np.tanh(x + y) * np.exp(-y) + 2.0 * x


def reductions(x, w):
    z = np.sum(x * w, axis=0)
    return np.mean(z) + np.max(x) - np.linalg.norm(x) + np.prod(w[0])


def branches(x, y):
    if x > 0.5:
        z = x * y
    else:
        z = np.sin(y)
    w = z if y > 0 else -z
    return w * x


def branch_one_sided(x, c):
    z = c * 2.0
    if c > 0:
        z = x * x
    return z


def loop_carried(x, n):
    s = 0.0
    p = x
    for i in range(n):
        s = s + p * i
        p = np.sin(p) * 1.1
    return s + p


def loop_break_continue(x, y):
    s = y
    for k in range(6):
        if k == 1:
            continue
        s = 0.5 * s + np.cos(x * k)
        if s > 1.3:
            break
    return s


def while_loop(x):
    v = x
    n = 0
    while v < 10.0 and n < 50:
        v = v * 1.5 + 0.1
        n = n + 1
    return v


def writes_in_loop(x):
    out = np.zeros(len(x))
    acc = 0.0
    for i in range(len(x)):
        acc = acc + x[i] * x[i]
        out[i] = acc
    out[0] += x[1]
    return out


def writes_array_and_value(x, y):
    a = x * 1.0
    a[1:3] = y * a[0]
    a[a > 0.4] *= 2.0
    return a


def joins(a, b):
    m = np.array([[a, 1.0], [b * a, np.sin(b)]])
    v = np.stack([a * np.ones(2), np.cos(b) * np.ones(2)], axis=1)
    w = np.concatenate([np.ones(1), v[:, 0]])
    return np.sum(m @ v) + np.sum(w * w)


def lists(x):
    xs = []
    for i in range(3):
        xs.append(x * (i + 1.0))
    ys = [x, np.sin(x)]
    return np.sum(np.stack(xs)) + sum(ys) + np.sum(np.array(xs)[1])


def multi_output(a):
    s = a @ a.T + 3.0 * np.eye(3)
    w, v = np.linalg.eigh(s)
    sign, logdet = np.linalg.slogdet(s)
    return np.sum(w * w) + logdet + np.sum(v[:, -1] ** 2)


def two_outputs(x, y):
    return x * y, np.sin(x) + y


def python_math(x, y):
    return math.sin(x) * math.exp(y) + abs(x - y) + max(x, y) + float(x) ** 2


def power(x, n):
    if n == 0:
        return 1.0
    return x * power(x, n - 1)


def fib_like(x, n):
    if n < 2:
        return x
    return fib_like(x, n - 1) + np.sin(fib_like(x, n - 2))


def recursive_array(x, n):
    if n == 0:
        return np.sum(x * x)
    return recursive_array(np.tanh(x), n - 1)


CASES = [
    pytest.param(straight, (0.3, 2.0, 3.0), None, id="straight-line"),
    pytest.param(broadcasting, (RNG.normal(size=(2, 3)), RNG.normal(size=3)), None, id="broadcasting"),
    pytest.param(broadcasting, (0.4, RNG.normal(size=3)), (0,), id="scalar tangent into an array"),
    pytest.param(reductions, (RNG.normal(size=(3, 4)), RNG.normal(size=(3, 4))), None, id="reductions"),
    pytest.param(branches, (0.7, 0.3), None, id="branches then"),
    pytest.param(branches, (0.2, -0.3), None, id="branches else"),
    pytest.param(branch_one_sided, (0.7, 0.3), (0,), id="a join whose other side does not vary"),
    pytest.param(branch_one_sided, (0.7, -0.3), (0,), id="a join on the side that does not vary"),
    pytest.param(loop_carried, (0.4, 5), (0,), id="loop with carried values"),
    pytest.param(loop_carried, (0.4, 0), (0,), id="loop run zero times"),
    pytest.param(loop_break_continue, (0.3, 0.2), None, id="break and continue"),
    pytest.param(loop_break_continue, (1.3, 2.0), None, id="break taken"),
    pytest.param(while_loop, (0.7,), None, id="while loop"),
    pytest.param(writes_in_loop, (RNG.normal(size=5),), None, id="writes into an array in a loop"),
    pytest.param(writes_array_and_value, (RNG.normal(size=5), 0.7), None, id="writes of varying values"),
    pytest.param(joins, (0.3, 0.8), None, id="np.array, np.stack, np.concatenate of values"),
    pytest.param(lists, (RNG.normal(size=3),), None, id="lists"),
    pytest.param(multi_output, (RNG.normal(size=(3, 3)),), None, id="eigh and slogdet"),
    pytest.param(two_outputs, (0.3, RNG.normal(size=2)), None, id="a tuple of outputs"),
    pytest.param(python_math, (0.3, 0.9), None, id="math, abs, max, float"),
    pytest.param(power, (1.1, 5), (0,), id="recursion"),
    pytest.param(fib_like, (0.6, 5), (0,), id="recursion, two calls"),
    pytest.param(recursive_array, (RNG.normal(size=3), 3), (0,), id="recursion on arrays"),
]


@pytest.mark.parametrize("f, args, argnums", CASES)
def test_jvp_matches_finite_differences_along_a_random_direction(f, args, argnums, code):
    check(f, args, argnums)


@pytest.mark.parametrize("f, args, argnums", CASES)
def test_jvp_is_the_gradient_along_the_tangent(f, args, argnums):
    """⟨∇f, t⟩ from reverse mode equals the tangent from forward mode (for a scalar output)."""
    argnums = tuple(range(len(args))) if argnums is None else argnums
    if isinstance(f(*args), tuple) or np.ndim(f(*args)) != 0:
        pytest.skip("grad needs a scalar output")
    tangents = tuple(random_tangent(args[i]) for i in argnums)
    _, tangent = jvp_at(f, args, argnums, tangents)
    grads = grad(f, argnums=argnums)(*args)
    inner = sum(np.sum(g * t) for g, t in zip(grads, tangents))
    np.testing.assert_allclose(tangent, inner, rtol=1e-10, atol=1e-12)


def test_the_public_jvp_returns_the_value_and_tangent():
    value, tangent = jvp(straight, (0.3, 2.0, 3.0), (1.0, 0.0, 0.0))
    assert value == straight(0.3, 2.0, 3.0)
    assert tangent == pytest.approx(2.0 - 3.0 - 3.0 / 0.7)


def test_an_output_that_does_not_vary_has_an_exact_zero_of_its_kind():
    def f(x, y):
        return y * 2.0, np.ones(3) * y

    value, tangent = jvp(f, (0.3, 0.5), (1.0, 0.0))
    assert tangent[0] == 0.0 and isinstance(tangent[0], float)
    np.testing.assert_array_equal(tangent[1], np.zeros(3))
    source = derivative_source(f, 0, mode="forward", args=(0.3, 0.5), black=False)
    assert "dx" not in source.split("\n", 1)[1]  # nothing is computed for a tangent that does not matter


def test_returned_tangents_never_alias_an_argument_or_each_other():
    def f(x):
        return x, x

    t = np.ones(3)
    _, (t1, t2) = jvp(f, (np.zeros(3),), (t,))
    assert t1 is not t and t2 is not t and t1 is not t2
    t1[0] = 5.0
    assert t[0] == 1.0 and t2[0] == 1.0


def test_float32_in_float32_tangent_out():
    x = np.linspace(0.1, 1.0, 4).astype(np.float32)
    _, tangent = jvp(lambda x: np.sin(x) * 2.0, (x,), (np.ones(4, np.float32),))
    assert tangent.dtype == np.float32


@pytest.mark.parametrize(
    "primals, tangents, error, message",
    [
        ([1.0], (1.0,), TypeError, "tuples"),
        ((1.0,), (1.0, 2.0), ValueError, "1 primals but 2 tangents"),
        ((np.ones(3),), (np.ones(2),), ValueError, "shape"),
        ((np.ones(3),), (np.ones(3, int),), TypeError, "dtype int"),
        ((1.0,), (1,), TypeError, "float"),
        ((1,), (1.0,), TypeError, "integer"),
    ],
)
def test_jvp_refuses_malformed_arguments(primals, tangents, error, message):
    with pytest.raises(error, match=message):
        jvp(lambda x: x * 2.0, primals, tangents)


def test_a_primitive_without_a_jvp_rule_is_refused_where_it_is_used():
    def cube(x):
        return x**3

    adcompile.defvjp(cube, lambda g, ans, x: g * 3 * x * x)

    def f(x):
        return cube(x) + 1.0

    with pytest.raises(NonDifferentiableError, match="no forward-mode"):
        jvp(f, (1.0,), (1.0,))
    adcompile.defjvp(cube, lambda g, ans, x: g * 3 * x * x)
    assert jvp(f, (2.0,), (1.0,))[1] == pytest.approx(12.0)


# ── jacfwd ───────────────────────────────────────────────────────────────────────────────────────────


def vector_field(x, a):
    return np.array([x[0] * x[1], np.sin(x[2]) * a, np.sum(x * x)])


def test_jacfwd_matches_a_finite_difference_jacobian():
    x = RNG.normal(size=3)
    J = jacfwd(vector_field)(x, 0.5)
    assert J.shape == (3, 3)
    numeric = np.stack([numeric_grad(lambda x, k=k: vector_field(x, 0.5)[k], (x,)) for k in range(3)])
    np.testing.assert_allclose(J, numeric, rtol=1e-6, atol=1e-8)


def test_jacfwd_of_several_arguments_and_shapes():
    def f(w, b):
        return np.tanh(w @ np.ones(3) + b)

    w, b = RNG.normal(size=(2, 3)), RNG.normal(size=2)
    Jw, Jb = jacfwd(f, argnums=(0, 1))(w, b)
    assert Jw.shape == (2, 2, 3) and Jb.shape == (2, 2)
    for k in range(2):
        np.testing.assert_allclose(Jw[k], numeric_grad(lambda w, k=k: f(w, b)[k], (w,)), rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(Jb[k], numeric_grad(lambda b, k=k: f(w, b)[k], (b,)), rtol=1e-6, atol=1e-8)


def test_jacfwd_of_a_scalar_function_is_its_gradient():
    x = RNG.normal(size=(2, 2))
    np.testing.assert_allclose(jacfwd(lambda x: np.sum(np.sin(x)))(x), np.cos(x), rtol=1e-12)
    assert jacfwd(lambda x: x * x)(3.0) == 6.0


def test_jacfwd_of_a_tuple_output_is_a_tuple_of_jacobians():
    from fd import numeric_jacobian

    def pair(x, a):
        return np.sin(x) * a, np.sum(x * x) + a

    x, a = RNG.normal(size=3), 0.7
    (jx0, ja0), (jx1, ja1) = jacfwd(pair, argnums=(0, 1))(x, a)
    first, second = (lambda x, a: pair(x, a)[0]), (lambda x, a: pair(x, a)[1])
    for got, f, i in [(jx0, first, 0), (ja0, first, 1), (jx1, second, 0), (ja1, second, 1)]:
        np.testing.assert_allclose(got, numeric_jacobian(f, (x, a), i), rtol=1e-6, atol=1e-8)
    jx0_alone, jx1_alone = jacfwd(pair)(x, a)
    np.testing.assert_array_equal(jx0_alone, jx0)
    np.testing.assert_array_equal(jx1_alone, jx1)


# ── forward over reverse: the transform takes any IR, adjoints included ──────────────────────────────


def test_forward_over_reverse_gives_hessian_vector_products():
    """The adjoint IR of a function with a loop (tapes: Push/Pop) pushed forward: ∇²f · t."""
    from adcompile import avals as A
    from adcompile.codegen import compile_function, generate
    from adcompile.forward import forward
    from adcompile.reverse import reverse

    def f(x):
        s = 0.0
        for i in range(3):
            s = s + np.sin(x * s + x)
        return np.sum(s * x)

    x, t = RNG.normal(size=3), RNG.normal(size=3)
    ir = adcompile.api._compiled(f).primal()
    adjoint = reverse(ir, 0, [A.of_value(x)], with_value=False)
    assert any(type(st).__name__ == "Push" for st in adcompile.ir.walk(adjoint.body))
    hvp_ir = forward(adjoint, 0, [A.of_value(x)])
    source, namespace = generate(hvp_ir)
    hvp = compile_function(hvp_ir, source, namespace, "hvp")
    gradient, hv = hvp(x, t)
    np.testing.assert_allclose(gradient, grad(f)(x), rtol=1e-12)
    eps = 1e-6
    numeric = (grad(f)(x + eps * t) - grad(f)(x - eps * t)) / (2 * eps)
    np.testing.assert_allclose(hv, numeric, rtol=1e-5, atol=1e-7)


# ── the realistic functions of test_realistic.py, pushed forward ─────────────────────────────────────


def _realistic_cases():
    import test_realistic

    return test_realistic.CASES


@pytest.mark.parametrize("f, args, argnums, autograd_ok", _realistic_cases())
def test_realistic_functions_jvp_matches_finite_differences(f, args, argnums, autograd_ok, code):
    check(f, args, argnums, rtol=1e-5, atol=1e-7)


# ── every rule has both modes ────────────────────────────────────────────────────────────────────────


def test_every_primitive_with_a_vjp_rule_has_a_jvp_rule():
    from adcompile.primitives import _REGISTRY

    builtin = [p for p in _REGISTRY.values() if p.vjp is not None and p.vjp.__module__.startswith("adcompile.")]
    assert len(builtin) > 200  # the rule tables (other tests register primitives of their own, vjp only)
    missing = sorted(p.display for p in builtin if p.jvp is None)
    assert not missing, f"primitives with a vjp rule but no jvp rule: {missing}"


# ── the generated source: reviewed golden files, and the command line ────────────────────────────────

GOLDEN = pathlib.Path(__file__).parent / "golden"
SEED = str(pathlib.Path(__file__).resolve().parent.parent / "examples" / "seed.py")


@pytest.mark.parametrize(
    "argv, golden",
    [
        (["--wrt", "x1,x2,x3"], "seed_show_forward.txt"),
        (["--wrt", "x1", "--at", "0.5", "2", "3"], "seed_show_forward_x1.txt"),
    ],
)
def test_show_forward_matches_the_reviewed_golden_output(argv, golden, capsys):
    from adcompile.cli import main

    assert main(["show", f"{SEED}:g", "--mode", "forward", *argv]) == 0
    assert capsys.readouterr().out == (GOLDEN / golden).read_text()


def test_forward_source_interleaves_each_line_with_its_tangent():
    source = derivative_source(loop_carried, 0, mode="forward", args=(0.4, 5))
    assert source.startswith("def loop_carried_jvp(x, n, dx):")
    assert "p, dp, s, ds = x, dx, 0.0, 0.0" in source  # the tangents are carried with their values
    assert "tape" not in source  # forward mode needs no tape
    compile(source, "<jvp>", "exec")
