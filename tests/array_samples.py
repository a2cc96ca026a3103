"""Inputs for the rules of shape, contraction and linear-algebra primitives (used by SAMPLES in test_rules.py).

Matrices are kept away from singularity: square ones are diagonally dominant, symmetric ones positive definite with
well-separated eigenvalues, rectangular ones of full rank.
"""

from __future__ import annotations

import numpy as np

from adcompile.primitives import lookup


def draw(*shape, seed, lo=-2.0, hi=2.0):
    return np.random.default_rng([seed, *shape]).uniform(lo, hi, shape)


def dominant(*shape, seed):
    """Square matrices (or a stack of them) with a dominant diagonal: invertible, well conditioned."""
    n = shape[-1]
    return draw(*shape, seed=seed, lo=-0.5, hi=0.5) + np.eye(n) * (n + 1.0)


def spd(*shape, seed):
    """Symmetric positive definite matrices with distinct eigenvalues."""
    n = shape[-1]
    m = draw(*shape, seed=seed, lo=-0.5, hi=0.5)
    return m @ np.swapaxes(m, -1, -2) + np.diag(np.arange(1.0, n + 1.0) * 1.5)


V2, V3, V4, V5, V6 = (draw(n, seed=n) for n in (2, 3, 4, 5, 6))
W3 = draw(3, seed=33)
M21, M23, M24, M26, M31, M32, M33, M34, M43, M45 = (
    draw(*s, seed=10 * s[0] + s[1])
    for s in ((2, 1), (2, 3), (2, 4), (2, 6), (3, 1), (3, 2), (3, 3), (3, 4), (4, 3), (4, 5))
)
M11, M13 = draw(1, 1, seed=11), draw(1, 3, seed=13)
T214, T224, T226, T234, T345 = (draw(*s, seed=sum(s)) for s in ((2, 1, 4), (2, 2, 4), (2, 2, 6), (2, 3, 4), (3, 4, 5)))
D3, D233 = dominant(3, 3, seed=1), dominant(2, 3, 3, seed=2)
S3, S233 = spd(3, 3, seed=3), spd(2, 3, 3, seed=4)
IDX = np.array([0, 2, 2, 4])  # a repeated index: its adjoint contributions must add up
IDX2 = np.array([[0, 1], [2, 2]])
ALONG = np.array([[0, 0, 1], [2, 1, 1], [3, 3, 3]])  # for a (3, 4) array along axis 1


def svd_reduced(a):
    """``np.linalg.svd`` with ``full_matrices=False``, the form whose singular vectors have derivatives."""
    return np.linalg.svd(a, full_matrices=False)


def symmetrised(fn):
    """``fn`` of the symmetric part of its argument: the function whose derivative a symmetric adjoint is."""

    def of_symmetric_part(a):
        return fn((a + np.swapaxes(a, -1, -2)) / 2)

    of_symmetric_part.__name__ = f"{fn.__name__}_of_symmetric_part"
    return of_symmetric_part


class SymmetricCase:
    """A call of a primitive that reads one triangle of a symmetric matrix, checked along symmetric perturbations.

    ``fn`` is the primitive applied to the symmetric part of its argument (the same value at these inputs), so
    finite differences see the function that the symmetric adjoint is the gradient of; ``prim`` is the primitive.
    """

    def __init__(self, primitive_fn, args, kwargs):
        self.primitive_fn = primitive_fn
        self.fn = symmetrised(primitive_fn)
        self.args, self.kwargs = args, kwargs

    def __str__(self) -> str:
        shapes = ",".join("x".join(map(str, np.shape(a))) for a in self.args)
        return f"{self.primitive_fn.__name__}(sym {shapes})"

    @property
    def prim(self):
        return lookup(self.primitive_fn)

    def value(self):
        return self.fn(*self.args, **self.kwargs)


class Symmetric:
    """Explicit calls of a primitive of a symmetric matrix (see :class:`SymmetricCase`)."""

    def __init__(self, *calls):
        self.calls = calls

    def cases(self, fn):
        for args, kwargs in self.calls:
            yield SymmetricCase(fn, args, kwargs)


class OutputCase(SymmetricCase):
    """A call of one output of a function returning several arrays (``eigh_values(a, np.linalg.eigh(a))``).

    The primitive reads the output back from the result it is given, so ``fn`` recomputes it from the arguments
    (the last argument, the result, is ignored): finite differences see how the output moves with them."""

    def __init__(self, output_fn, whole, k, args, symmetric):
        if len(args) == 1:

            def output(a):
                return whole(a)[k]

        else:

            def output(a, b):
                return whole(a, b)[k]

        self.primitive_fn = output_fn
        self.fn = _last_ignored(symmetrised(output) if symmetric else output, len(args))
        self.args, self.kwargs = (*args, whole(*args)), {}

    def __str__(self) -> str:
        shapes = ",".join("x".join(map(str, np.shape(a))) for a in self.args[:-1])
        return f"{self.primitive_fn.__name__}({shapes})"


def _last_ignored(fn, n: int):
    """``fn`` of ``n`` arguments as a function of ``n + 1``, the last ignored (written out: adcompile reads it)."""
    if n == 1:

        def one(a, result):
            return fn(a)

        return one

    def two(a, b, result):
        return fn(a, b)

    return two


class Output:
    """Calls of output ``k`` of ``whole`` (see :class:`OutputCase`); ``symmetric``: along symmetric perturbations."""

    def __init__(self, whole, k, *calls, symmetric=False):
        self.whole, self.k, self.calls, self.symmetric = whole, k, calls, symmetric

    def cases(self, fn):
        for args, _ in self.calls:
            yield OutputCase(fn, self.whole, self.k, args, self.symmetric)


class _SplitThenPick:
    """``x`` split as ``how`` splits it, part ``position``: what ``split_part`` reads from the split's result."""

    def __call__(self, x, parts, position, sections, axis=0, how="split"):
        fn = getattr(np, how)
        return (fn(x, sections, axis=axis) if how in ("split", "array_split") else fn(x, sections))[position]


class SplitCase(SymmetricCase):
    """A call of ``split_part`` (one part of ``np.split(x, ...)``), its result recomputed from ``x`` so that finite
    differences see how the part moves with it."""

    def __init__(self, x, kwargs):
        from adcompile.rules_shape import split_part

        self.primitive_fn, self.fn = split_part, _SplitThenPick()
        self.args, self.kwargs = (x, self.fn(x, None, **kwargs)), kwargs  # parts: only part `position` is read

    def __str__(self) -> str:
        return f"split_part({'x'.join(map(str, np.shape(self.args[0])))}, {self.kwargs})"


class Split:
    """Calls of ``split_part``, each ``call(x, position=..., sections=..., axis=..., how=...)``."""

    def __init__(self, *calls):
        self.calls = calls

    def cases(self, fn):
        for args, kwargs in self.calls:
            yield SplitCase(args[0], kwargs)
