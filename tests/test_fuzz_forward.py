"""Random programs pushed forward: the jvp of each program written by test_fuzz.py's generators must match central
finite differences along a random direction (and the value must be the function's).

``FUZZ_EXAMPLES=5000 pytest tests/test_fuzz_forward.py`` runs more; by default each test runs 150.
"""

import os

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_fuzz import REPEATS, load, programs, writing_programs

from adcompile import jvp

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def along(f, args, tangents, eps):
    up = f(*(a + eps * t for a, t in zip(args, tangents)))
    down = f(*(a - eps * t for a, t in zip(args, tangents)))
    return (up - down) / (2 * eps)


def check(f, args, rng):
    try:
        with np.errstate(all="ignore"):
            value = f(*args)
    except (ValueError, IndexError):  # not a program Python runs either
        return
    if not np.all(np.isfinite(value)) or abs(value) > 1e6:
        return
    tangents = tuple(rng.normal(size=np.shape(a)) if isinstance(a, np.ndarray) else float(rng.normal()) for a in args)
    got_value, tangent = jvp(f, args, tangents)
    np.testing.assert_allclose(got_value, value, rtol=1e-12)
    with np.errstate(all="ignore"):
        expected, coarse = along(f, args, tangents, 1e-6), along(f, args, tangents, 1e-5)
    if not np.allclose(expected, coarse, rtol=1e-3, atol=1e-6):
        return  # a branch's test flips within the step: finite differences do not apply here
    assert np.shape(tangent) == np.shape(value)
    roundoff = 1e-9 * float(np.max(np.abs(value)))
    np.testing.assert_allclose(tangent, expected, rtol=1e-5, atol=1e-6 * (1 + np.max(np.abs(expected))) + roundoff)


@FUZZ
@given(programs("math"), st.tuples(*[st.floats(-2, 2)] * 3), st.integers(0, 2**31))
def test_random_scalar_programs_jvp_matches_finite_differences(body, args, seed):
    check(load(body), tuple(float(a) for a in args), np.random.default_rng(seed))


@FUZZ
@given(programs("np"), st.integers(0, 2**31))
def test_random_array_programs_jvp_matches_finite_differences(body, seed):
    rng = np.random.default_rng(seed)
    shapes = [(2, 3), (3,), ()]
    rng.shuffle(shapes)
    args = tuple(rng.uniform(-1.5, 1.5, size=s) if s else float(rng.uniform(-1.5, 1.5)) for s in shapes)
    check(load(body), args, rng)


@FUZZ
@given(writing_programs(), st.integers(0, 2**31))
def test_random_programs_writing_into_arrays_jvp_matches_finite_differences(body, seed):
    rng = np.random.default_rng(seed)
    args = (rng.uniform(-1.5, 1.5, 4), rng.uniform(-1.5, 1.5, (3, 4)), float(rng.uniform(-1.5, 1.5)))
    check(load(body, REPEATS), args, rng)
