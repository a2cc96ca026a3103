"""Arrays joined from values: np.array([a, b * c]), np.stack, np.concatenate, np.hstack, np.vstack."""

import numpy as np
import pytest
from fd import numeric_grad

from adcompile import derivative_source, grad

X3 = np.array([0.3, 0.5, -1.0])
Y3 = np.array([1.0, 2.0, 0.4])


def check(f, *args):
    argnums = tuple(range(len(args)))
    grads = grad(f, argnums=argnums)(*args)
    for i, g in zip(argnums, grads):
        assert np.shape(g) == np.shape(args[i])
        np.testing.assert_allclose(g, numeric_grad(f, args, i), rtol=1e-6, atol=1e-9)


def from_numbers(a, b):
    v = np.array([a, b * 2.0, a * b])
    m = np.array([[a, b], [b, 1.0]])
    return np.sum(v**2) + np.linalg.det(m)


def stacked(x, y):
    return np.sum(np.stack([x, y * 2.0], axis=1) ** 2) + np.sum(np.stack((x, x * y))[1])


def concatenated(x, y):
    c = np.concatenate([x, y[1:], x * y], axis=0)
    m = np.concatenate([np.outer(x, y), np.outer(y, y)], axis=1)
    return np.sum(np.sin(c)) + np.sum(m * m)


def h_and_v(x, y):
    h = np.hstack([x, y, 2.0 * x])
    v = np.vstack([x, y])
    return np.sum(h**3) + np.sum(v[1] * v[0])


@pytest.mark.parametrize(
    "f, args", [(from_numbers, (0.7, -1.2)), (stacked, (X3, Y3)), (concatenated, (X3, Y3)), (h_and_v, (X3, Y3))]
)
def test_arrays_joined_from_values(f, args, monkeypatch):
    check(f, *args)
    monkeypatch.setattr("adcompile.api.MAX_SPECIALISATIONS", 0)  # and the shape-agnostic code
    check(f, *args)


def test_each_value_gets_its_part_by_a_subscript_when_shapes_are_known():
    src = derivative_source(from_numbers, argnums=(0, 1), args=(0.7, -1.2))
    assert "np.array([a, _t1, _t2])" in src or "np.array([a," in src
    assert "bv[0]" in src and "bm[0, 1]" in src and "part_of" not in src


N = 3


def from_comprehensions(x):
    v = np.array([x[k] * (k + 1) for k in range(N)])  # N is known when compiling: one element per k
    m = np.stack([x * j for j in range(2)], axis=1)
    return np.sum(v**2) + np.sum(np.sin(m))


def test_list_comprehensions_over_known_ranges_are_joined(monkeypatch):
    check(from_comprehensions, X3)


def comprehension_over_computed_range(x):
    return np.sum(np.array([x[k] for k in range(len(x))]))


def test_a_comprehension_over_a_computed_range_is_a_list_built_by_a_loop():
    check(comprehension_over_computed_range, X3)


# ── the rules of a list argument, called directly: tangents and adjoints are lists too ───────────────

from adcompile.primitives import lookup  # noqa: E402
from adcompile.rules_shape import joined, parts_of  # noqa: E402
from adcompile.runtime import new_list  # noqa: E402

RNG = np.random.default_rng(7)
M23, M33, V2 = RNG.normal(size=(2, 3)), RNG.normal(size=(3, 3)), RNG.normal(size=2)
LISTS = [
    (np.stack, [X3, Y3], {}),
    (np.stack, [M23, M23[::-1].copy(), M23 * 2.0], {"axis": 2}),
    (np.concatenate, [M23, M33], {}),
    (np.concatenate, [M33, M23.T.copy()], {"axis": 1}),
    (np.hstack, [X3, V2]),
    (np.hstack, [M23, M23]),
    (np.vstack, [X3, M23]),
    (np.array, [X3, Y3]),
    (new_list, [X3, Y3]),
    (parts_of, np.arange(12.0).reshape(2, 6), {"how": "concatenate", "axis": 1, "xs": [M23, M23]}),
    (joined, [M23, M33], {"how": "concatenate"}),
]
LISTS = [(c[0], c[1], c[2] if len(c) > 2 else {}) for c in LISTS]


def _call(fn, xs, kwargs):
    return fn(xs, **kwargs)


def _directional(fn, xs, ts, kwargs, eps=1e-6):
    """d/ds fn(xs + s ts) at s = 0, element by element when xs is a list."""
    if isinstance(xs, list):
        up, down = [x + eps * t for x, t in zip(xs, ts)], [x - eps * t for x, t in zip(xs, ts)]
    else:
        up, down = xs + eps * ts, xs - eps * ts
    a, b = _call(fn, up, kwargs), _call(fn, down, kwargs)
    if isinstance(a, list):
        return [(p - q) / (2 * eps) for p, q in zip(a, b)]
    return (np.asarray(a) - np.asarray(b)) / (2 * eps)


def _inner(a, b) -> float:
    if isinstance(a, list):
        return sum(_inner(p, q) for p, q in zip(a, b))
    return float(np.sum(np.multiply(a, b)))


def _random_like(v):
    return [RNG.normal(size=np.shape(p)) for p in v] if isinstance(v, list) else RNG.normal(size=np.shape(v))


@pytest.mark.parametrize("fn, xs, kwargs", LISTS, ids=lambda v: getattr(v, "__name__", ""))
def test_rules_of_a_list_argument(fn, xs, kwargs):
    """jvp = directional derivative (finite differences); <vjp(g), t> = <g, jvp(t)>; the vjp's parts are those the
    reverse sweep takes one by one (part_of)."""
    prim = lookup(fn)
    ans = _call(fn, xs, kwargs)
    ts, g = _random_like(xs), _random_like(ans)
    rule_kwargs = {k: v for k, v in kwargs.items() if k != "xs"}
    extra = (kwargs["xs"],) if fn is parts_of else ()
    tangent = prim.jvp(ts, ans, xs, *extra, **rule_kwargs)
    tangent = tangent[0] if fn is parts_of else tangent
    expected = _directional(fn, xs, ts, kwargs)
    for got, want in zip(tangent, expected) if isinstance(expected, list) else [(tangent, expected)]:
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)
    adjoint = prim.vjp(g, ans, xs, *extra, **rule_kwargs)
    adjoint = adjoint[0] if fn is parts_of else adjoint
    assert _inner(adjoint, ts) == pytest.approx(_inner(g, tangent), rel=1e-12)
