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
