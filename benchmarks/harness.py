"""The benchmark's machinery: checks, peers, timing and formatting, each written once (``run.py`` drives them).

Importing this module sets the BLAS/OpenMP thread variables to 1, so it must be imported before NumPy in a process
that times anything; ``pin_to_one_core`` then keeps the process (and the children it starts) on one core.

- Checks: a gradient must equal the hand-written one (rtol 1e-10), and both must match central finite differences,
  before anything is timed; a disagreement raises ``CheckFailed``.
- Peers (autograd, JAX eager, ``jax.jit(jax.grad)``, PyTorch eager) run the very same function code with
  ``math``/``np`` rebound to their own module (``rebind``).
- Timing: each callable is warmed up, then called in blocks of N calls (N chosen so that a block takes at least the
  target time); the blocks of all callables of a workload are interleaved, the first one rotated each round, and
  the rounds of a full run are spread over three passes over all workloads. A time is the median over rounds, a
  ratio the median over rounds of the two blocks' ratio within a round (paired, so that a drift in the machine's
  load cancels).
"""

from __future__ import annotations

import gc
import math
import os
import statistics
import time
import types
from collections.abc import Callable
from dataclasses import dataclass

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")
for _var in THREAD_VARIABLES:
    os.environ[_var] = "1"  # before NumPy is imported
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import numpy as np  # noqa: E402


def pin_to_one_core() -> int | None:
    """Keep this process, and the processes it starts, on one core (the last one allowed); return it, or None."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    core = max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    return core


@dataclass
class Workload:
    key: str  # short name to select it with --only
    name: str  # what it is, for the report
    f: Callable
    hand: Callable  # same arguments as f; returns what grad(f, argnums) returns
    args: tuple
    argnums: int | tuple
    peers: bool = True  # False: autograd, JAX and PyTorch cannot run f as written


# ---------------------------------------------------------------------------------------------------------------
# correctness
# ---------------------------------------------------------------------------------------------------------------
class CheckFailed(AssertionError):
    """A gradient disagrees with the hand-written one or with finite differences."""


def nums(argnums) -> tuple:
    return argnums if isinstance(argnums, tuple) else (argnums,)


def _parts(g, argnums) -> list[np.ndarray]:
    """A gradient (one value, or a tuple for tuple argnums) as a list of float64 arrays."""
    if isinstance(argnums, tuple):
        if not isinstance(g, (tuple, list)) or len(g) != len(argnums):
            raise CheckFailed(f"expected a tuple of {len(argnums)} gradients, got {type(g).__name__}")
        return [np.asarray(v, dtype=np.float64) for v in g]
    return [np.asarray(g, dtype=np.float64)]


def assert_same(got, want, argnums, what: str, rtol: float = 1e-10) -> None:
    for k, (u, v) in enumerate(zip(_parts(got, argnums), _parts(want, argnums))):
        atol = 1e-12 * max(1.0, float(np.max(np.abs(v))))
        if u.shape != v.shape or not np.allclose(u, v, rtol=rtol, atol=atol):
            err = np.max(np.abs(u - v)) if u.shape == v.shape else f"shape {u.shape} vs {v.shape}"
            raise CheckFailed(f"{what}: gradient {k} differs (max abs error {err}, rtol {rtol})")


def _with(args, i, value):
    return args[:i] + (value,) + args[i + 1 :]


def finite_difference_checks(w: Workload) -> list[tuple]:
    """Central differences of w.f as (argument index, direction, derivative value, tolerance).

    Floats and arrays of up to 20 entries are checked coordinate by coordinate; larger arrays at five random
    coordinates and along two random directions, with steps and tolerances sized to the rounding error of a sum
    over n terms. (The gradients are also compared entry by entry with the hand-written one.)
    """
    rng = np.random.default_rng(0)
    scale = max(1.0, abs(float(w.f(*w.args))))

    def central(i, x, step):
        return (w.f(*_with(w.args, i, x + step)) - w.f(*_with(w.args, i, x - step))) / 2

    checks = []
    for i in nums(w.argnums):
        x = w.args[i]
        if isinstance(x, float):
            h = 1e-6 * max(1.0, abs(x))
            d = central(i, x, h) / h
            checks.append((i, None, d, 1e-6 * abs(d) + 1e-8 * scale))
            continue
        if x.size <= 20:
            coords, h0, rtol = range(x.size), 1e-6, 1e-6
        else:
            coords, h0, rtol = rng.choice(x.size, 5, replace=False), 1e-4, 1e-4
        for k in coords:
            v = np.zeros_like(x)
            v.flat[k] = 1.0
            h = h0 * max(1.0, abs(x.flat[k]))
            d = central(i, x, h * v) / h
            checks.append((i, v, d, rtol * abs(d) + 1e-8 * scale))
        for _ in range(2):
            v = rng.standard_normal(x.shape)
            h = 1e-5
            d = central(i, x, h * v) / h
            checks.append((i, v, d, 1e-6 * abs(d) + 1e-7 * math.sqrt(x.size) + 1e-8 * scale))
    return checks


def assert_matches_fd(g, w: Workload, checks, what: str) -> None:
    parts = dict(zip(nums(w.argnums), _parts(g, w.argnums)))
    for i, v, d, tol in checks:
        got = float(parts[i]) if v is None else float(np.sum(parts[i] * v))
        if not abs(got - d) <= tol:
            if v is None:
                where = ""
            elif np.count_nonzero(v) == 1:
                where = f" at coordinate {int(np.argmax(v))}"
            else:
                where = " along a random direction"
            raise CheckFailed(
                f"{what}: derivative wrt argument {i}{where} is {got!r}, central differences "
                f"give {d!r} (tolerance {tol:.2g})"
            )


def check_workload(w: Workload, gradient: Callable) -> None:
    """``gradient`` (adcompile's ``grad(w.f, w.argnums)``) and the hand-written one agree, and match finite
    differences; raises ``CheckFailed`` otherwise."""
    got = gradient(*w.args)
    want = w.hand(*w.args)
    assert_same(got, want, w.argnums, f"{w.key}: adcompile vs hand-written")
    checks = finite_difference_checks(w)
    assert_matches_fd(want, w, checks, f"{w.key}: hand-written gradient")
    assert_matches_fd(got, w, checks, f"{w.key}: adcompile gradient")


# ---------------------------------------------------------------------------------------------------------------
# peers: the same code object with math/np rebound to the peer's module
# ---------------------------------------------------------------------------------------------------------------
def rebind(f: Callable, module) -> Callable:
    return types.FunctionType(
        f.__code__, {**f.__globals__, "np": module, "math": module}, f.__name__, f.__defaults__, f.__closure__
    )


@dataclass
class Peer:
    name: str
    version: str
    prepare: Callable  # Workload -> (callable, its arguments, converter of its result to numpy form)


def _autograd_peers() -> list[Peer]:
    import autograd
    import autograd.numpy as anp

    def prepare(w):
        return autograd.grad(rebind(w.f, anp), w.argnums), w.args, lambda g: g

    return [Peer("autograd", version_of("autograd"), prepare)]


def _jax_peers() -> list[Peer]:
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)

    def preparer(jit: bool):
        def prepare(w):
            g = jax.grad(rebind(w.f, jnp), argnums=w.argnums)
            g = jax.jit(g) if jit else g
            args = tuple(jnp.asarray(a, dtype=jnp.float64) for a in w.args)
            return (lambda *a: jax.block_until_ready(g(*a))), args, to_numpy

        return prepare

    return [Peer("jax eager", jax.__version__, preparer(False)), Peer("jax.jit", jax.__version__, preparer(True))]


def _torch_peers() -> list[Peer]:
    import torch

    torch.set_num_threads(1)
    # torch spells np.max (a reduction) amax; everything else the workloads call has NumPy's name
    as_numpy = types.SimpleNamespace(**{**vars(torch), "max": torch.amax})

    def prepare(w):
        f, wrt = rebind(w.f, as_numpy), nums(w.argnums)
        ts = tuple(torch.tensor(a, dtype=torch.float64, requires_grad=i in wrt) for i, a in enumerate(w.args))

        def g(*ts):
            return torch.autograd.grad(f(*ts), [ts[i] for i in wrt])

        return g, ts, (to_numpy if isinstance(w.argnums, tuple) else lambda r: to_numpy(r[0]))

    return [Peer("torch", torch.__version__, prepare)]


# group -> (module that must be importable, loader, names of the peers it yields)
PEER_GROUPS = {
    "autograd": ("autograd", _autograd_peers, ["autograd"]),
    "jax": ("jax", _jax_peers, ["jax eager", "jax.jit"]),
    "torch": ("torch", _torch_peers, ["torch"]),
}
PEER_NAMES = [name for _, _, names in PEER_GROUPS.values() for name in names]


def load_peers(groups=PEER_GROUPS) -> tuple[list[Peer], list[str]]:
    """The peers that import, and a note for each group that does not."""
    peers, missing = [], []
    for group in groups:
        try:
            peers += PEER_GROUPS[group][1]()
        except ImportError as e:
            missing.append(f"{group} ({e})")
    return peers, missing


def version_of(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "?"


def to_numpy(g):
    if isinstance(g, (tuple, list)):
        return tuple(to_numpy(v) for v in g)
    if hasattr(g, "detach"):
        g = g.detach()
    return np.asarray(g)


# ---------------------------------------------------------------------------------------------------------------
# timing
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Settings:
    rounds: int  # interleaved blocks per callable in one pass
    target: float  # seconds a block takes at least
    passes: int = 1  # passes over all workloads (time_in_passes)

    @staticmethod
    def of(quick: bool) -> Settings:
        return Settings(3, 0.002) if quick else Settings(7, 0.020, passes=3)


def _block(fn, args, n: int) -> float:
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter()
        for _ in range(n):
            fn(*args)
        return time.perf_counter() - t0
    finally:
        if gc_was_enabled:
            gc.enable()


def calibrate(fn, args, target: float) -> int:
    """Calls per block so that one block takes at least ``target`` seconds (and at most ~2.5 times that)."""
    fn(*args)  # warm-up
    n = 1
    while True:
        for m in (1, 2, 5):
            if _block(fn, args, n * m) >= target:
                return n * m
        n *= 10


def time_interleaved(candidates: dict, settings: Settings) -> dict[str, list[float]]:
    """Seconds per call of each ``name: (fn, args)`` in each round of interleaved blocks."""
    counts = {name: calibrate(fn, args, settings.target) for name, (fn, args) in candidates.items()}
    samples: dict = {name: [] for name in candidates}
    names = list(candidates)
    for r in range(settings.rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:  # rotate who goes first
            fn, args = candidates[name]
            samples[name].append(_block(fn, args, counts[name]) / counts[name])
    return samples


def time_in_passes(jobs: dict, settings: Settings, log=None) -> dict[str, dict[str, list[float]]]:
    """``time_interleaved`` for each ``key: candidates`` of ``jobs``, in ``settings.passes`` passes over all jobs.

    The samples of the passes are joined. On a shared machine something lasting seconds (a neighbour's work on a
    core that shares caches with this one, most likely) can slow one callable more than another, so that even a
    paired ratio moves; spread over passes, such a spell touches some rounds of every job instead of all of one.
    """
    samples: dict = {key: {name: [] for name in candidates} for key, candidates in jobs.items()}
    for p in range(settings.passes):
        for key, candidates in jobs.items():
            if log:
                log(f"  timing {key} (pass {p + 1} of {settings.passes}) ...")
            for name, s in time_interleaved(candidates, settings).items():
                samples[key][name] += s
    return samples


def median_time(samples: list[float]) -> float:
    return statistics.median(samples)


def paired_ratio(samples: list[float], reference: list[float]) -> float:
    """Median over rounds of (time / reference time) within the same round."""
    return statistics.median(s / r for s, r in zip(samples, reference))


def ratio_spread(samples: list[float], reference: list[float]) -> tuple[float, tuple[float, float]]:
    """``paired_ratio`` and the quartiles of the ratios over rounds: how much the ratio moved during the run."""
    ratios = [s / r for s, r in zip(samples, reference)]
    q1, _, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else (ratios[0],) * 3
    return statistics.median(ratios), (q1, q3)


def paired_difference(samples: list[float], reference: list[float]) -> float:
    """Median over rounds of (time - reference time) within the same round, in seconds."""
    return statistics.median(s - r for s, r in zip(samples, reference))


# ---------------------------------------------------------------------------------------------------------------
# formatting
# ---------------------------------------------------------------------------------------------------------------
def fmt_time(s: float) -> str:
    if s < 1e-6:
        return f"{s * 1e9:.0f} ns"
    if s < 1e-3:
        return f"{s * 1e6:.2f} µs"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def fmt_ratio(r: float) -> str:
    return f"{r:.2f}" if r < 10 else f"{r:.1f}" if r < 100 else f"{r:.0f}"


def markdown_table(head: list[str], rows: list[list[str]]) -> str:
    """A Markdown table, the first column left-aligned and the others right-aligned."""
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])
