"""Straight-line gradients: adcompile against a careful hand-written gradient (and peers, when installed).

    python benchmarks/bench_straightline.py              # full run, plain-text table
    python benchmarks/bench_straightline.py --markdown   # the table as Markdown
    python benchmarks/bench_straightline.py --quick      # small counts: a smoke run (tests/test_benchmarks_smoke.py)

Workloads have no loops or branches in the differentiated function. Each one is a plain function, its gradient
written by hand with the same library (``math`` or NumPy), and example arguments. Before anything is timed,
adcompile's gradient must equal the hand-written one (rtol 1e-10) and both must match central finite differences;
otherwise the script prints CORRECTNESS CHECK FAILED and exits with status 1.

Peers (autograd, JAX eager, ``jax.jit(jax.grad)``, PyTorch eager) run the very same function code with
``math``/``np`` rebound to their own module, are checked against the hand-written gradient, and appear only if they
import (``--no-peers`` skips them). Each library runs in a child process of its own (``--peer-group``), timed against
the hand-written gradient timed there, so that it cannot change the NumPy timings of this process: after PyTorch has
run, for one, large NumPy temporaries stop page-faulting.

Timing: every callable is warmed up, then called in blocks of N calls (N chosen so one block takes 20-50 ms), the
blocks of all callables of a workload interleaved and repeated; the table shows the median time per call. Everything
runs single-threaded (the thread variables below are set before NumPy is imported).
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable
from dataclasses import dataclass, field

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")
for _var in THREAD_VARIABLES:
    os.environ[_var] = "1"  # before NumPy is imported
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import numpy as np  # noqa: E402

import adcompile  # noqa: E402
from adcompile import grad  # noqa: E402

SLOW_RATIO = 1.2  # adcompile/hand above this is flagged


# ---------------------------------------------------------------------------------------------------------------
# (a) a scalar expression of three Python floats: 29 operations, math functions
# ---------------------------------------------------------------------------------------------------------------
def scalar_f(x, y, z):
    a = x * y - z / (1.0 + x * x)
    b = math.sin(a) * math.exp(-0.5 * y)
    c = math.log(1.0 + z * z) + math.sqrt(x * x + y * y + 1.0)
    d = math.tanh(b - c / 3.0)
    return d * d + a**3 - b / c + x * z**2


def scalar_grad(x, y, z):
    """Reverse mode by hand: forward sweep keeping what the adjoints need, then the adjoints of d, c, b, a."""
    p = 1.0 + x * x
    a = x * y - z / p
    ey = math.exp(-0.5 * y)
    b = math.sin(a) * ey
    q = 1.0 + z * z
    r = math.sqrt(x * x + y * y + 1.0)
    c = math.log(q) + r
    d = math.tanh(b - c / 3.0)
    gu = 2.0 * d * (1.0 - d * d)  # d(d*d)/du, u = b - c/3
    gb = gu - 1.0 / c
    gc = b / (c * c) - gu / 3.0
    ga = 3.0 * a * a + gb * math.cos(a) * ey
    gx = z * z + gc * x / r + ga * (y + 2.0 * x * z / (p * p))
    gy = gc * y / r - 0.5 * gb * b + ga * x
    gz = 2.0 * x * z + 2.0 * gc * z / q - ga / p
    return gx, gy, gz


# ---------------------------------------------------------------------------------------------------------------
# (b) an elementwise chain over an array, summed
# ---------------------------------------------------------------------------------------------------------------
def chain_f(x):
    e = np.exp(np.sin(x))
    return np.sum(np.tanh(0.5 * e) * e + np.log(1.0 + x * x))


def chain_grad(x):
    e = np.exp(np.sin(x))
    t = np.tanh(0.5 * e)
    return (0.5 * (1.0 - t * t) * e + t) * e * np.cos(x) + 2.0 * x / (1.0 + x * x)


# ---------------------------------------------------------------------------------------------------------------
# (c) the Rosenbrock sum, its pairs passed as two arrays (a = x[:-1], b = x[1:]): adcompile has no slicing yet
# ---------------------------------------------------------------------------------------------------------------
def rosen_pairs_f(a, b):
    return np.sum(100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2)


def rosen_pairs_grad(a, b):
    r = b - a * a
    return -400.0 * a * r - 2.0 * (1.0 - a), 200.0 * r


@dataclass
class Workload:
    name: str
    f: Callable
    hand: Callable  # same arguments as f; returns what grad(f, argnums) returns
    args: tuple
    argnums: int | tuple


def workloads() -> list[Workload]:
    rng = np.random.default_rng(20240607)
    x3, x6 = rng.uniform(-2.0, 2.0, 1000), rng.uniform(-2.0, 2.0, 1_000_000)
    a3 = rng.uniform(-1.5, 1.5, 1001)
    return [
        Workload("(a) scalar expr, 29 ops, 3 floats", scalar_f, scalar_grad, (0.7, -1.3, 2.1), (0, 1, 2)),
        Workload("(b) elementwise chain, n=1e3", chain_f, chain_grad, (x3,), 0),
        Workload("(b) elementwise chain, n=1e6", chain_f, chain_grad, (x6,), 0),
        Workload(
            "(c) rosenbrock pairs, n=1e3",
            rosen_pairs_f,
            rosen_pairs_grad,
            (a3[:-1].copy(), a3[1:].copy()),
            (0, 1),
        ),
    ]


# ---------------------------------------------------------------------------------------------------------------
# correctness
# ---------------------------------------------------------------------------------------------------------------
class CheckFailed(AssertionError):
    """A gradient disagrees with the hand-written one or with finite differences."""


def _nums(argnums) -> tuple:
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

    Small arguments are checked coordinate by coordinate; large ones along two random directions and at five
    random coordinates, with steps and tolerances sized to the rounding error of a sum over n terms.
    """
    rng = np.random.default_rng(0)
    scale = max(1.0, abs(float(w.f(*w.args))))
    checks = []
    for i in _nums(w.argnums):
        x = w.args[i]
        if isinstance(x, float):
            h = 1e-6 * max(1.0, abs(x))
            d = (w.f(*_with(w.args, i, x + h)) - w.f(*_with(w.args, i, x - h))) / (2 * h)
            checks.append((i, None, d, 1e-6 * abs(d) + 1e-8 * scale))
            continue
        if x.size <= 1000:
            coords, h0, rtol = range(x.size), 1e-6, 1e-6
        else:
            coords, h0, rtol = rng.choice(x.size, 5, replace=False), 1e-3, 1e-4
        for k in coords:
            v = np.zeros_like(x)
            v.flat[k] = 1.0
            h = h0 * max(1.0, abs(x.flat[k]))
            d = (w.f(*_with(w.args, i, x + h * v)) - w.f(*_with(w.args, i, x - h * v))) / (2 * h)
            checks.append((i, v, d, rtol * abs(d) + 1e-8 * scale))
        for _ in range(2):
            v = rng.standard_normal(x.shape)
            h = 1e-5
            d = (w.f(*_with(w.args, i, x + h * v)) - w.f(*_with(w.args, i, x - h * v))) / (2 * h)
            checks.append((i, v, d, 1e-6 * abs(d) + 1e-7 * math.sqrt(x.size) + 1e-8 * scale))
    return checks


def assert_matches_fd(g, w: Workload, checks, what: str) -> None:
    parts = dict(zip(_nums(w.argnums), _parts(g, w.argnums)))
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


def check_workload(w: Workload) -> dict:
    """Check adcompile and the hand-written gradient on ``w``; return the ``grad`` and its first call's time."""
    t0 = time.perf_counter()
    g = grad(w.f, argnums=w.argnums)
    got = g(*w.args)
    first = time.perf_counter() - t0
    want = w.hand(*w.args)
    assert_same(got, want, w.argnums, f"{w.name}: adcompile vs hand-written")
    checks = finite_difference_checks(w)
    assert_matches_fd(want, w, checks, f"{w.name}: hand-written gradient")
    assert_matches_fd(got, w, checks, f"{w.name}: adcompile gradient")
    return {"grad": g, "first_call": first}


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

    return [Peer("autograd", _version("autograd"), prepare)]


def _jax_peers() -> list[Peer]:
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)

    def preparer(jit: bool):
        def prepare(w):
            g = jax.grad(rebind(w.f, jnp), argnums=w.argnums)
            g = jax.jit(g) if jit else g
            args = tuple(jnp.asarray(a, dtype=jnp.float64) for a in w.args)
            return (lambda *a: jax.block_until_ready(g(*a))), args, _to_numpy

        return prepare

    return [Peer("jax eager", jax.__version__, preparer(False)), Peer("jax.jit", jax.__version__, preparer(True))]


def _torch_peers() -> list[Peer]:
    import torch

    torch.set_num_threads(1)

    def prepare(w):
        f, nums = rebind(w.f, torch), _nums(w.argnums)
        ts = tuple(torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in w.args)

        def g(*ts):
            return torch.autograd.grad(f(*ts), [ts[i] for i in nums])

        return g, ts, (_to_numpy if isinstance(w.argnums, tuple) else lambda r: _to_numpy(r[0]))

    return [Peer("torch", torch.__version__, prepare)]


# group -> (module that must be importable, loader, names of the peers it yields)
PEER_GROUPS = {
    "autograd": ("autograd", _autograd_peers, ["autograd"]),
    "jax": ("jax", _jax_peers, ["jax eager", "jax.jit"]),
    "torch": ("torch", _torch_peers, ["torch"]),
}


def load_peers(groups=PEER_GROUPS) -> tuple[list[Peer], list[str]]:
    """The peers that import, and a note for each group that does not."""
    peers, missing = [], []
    for group in groups:
        try:
            peers += PEER_GROUPS[group][1]()
        except ImportError as e:
            missing.append(f"{group} ({e})")
    return peers, missing


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "?"


def _to_numpy(g):
    if isinstance(g, (tuple, list)):
        return tuple(_to_numpy(v) for v in g)
    if hasattr(g, "detach"):
        g = g.detach()
    return np.asarray(g)


# ---------------------------------------------------------------------------------------------------------------
# timing
# ---------------------------------------------------------------------------------------------------------------
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


def time_interleaved(candidates: dict, rounds: int, target: float) -> dict:
    """Median seconds per call of each ``name: (fn, args)``, measured in interleaved blocks."""
    counts = {name: calibrate(fn, args, target) for name, (fn, args) in candidates.items()}
    samples: dict = {name: [] for name in candidates}
    names = list(candidates)
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:  # rotate who goes first
            fn, args = candidates[name]
            samples[name].append(_block(fn, args, counts[name]) / counts[name])
    return {name: statistics.median(s) for name, s in samples.items()}


def settings(quick: bool) -> tuple[int, float]:
    """(rounds, seconds a block should take at least)."""
    return (3, 0.002) if quick else (15, 0.020)


@dataclass
class Row:
    workload: str
    times: dict  # "f", "hand", "adcompile" -> seconds per call
    peer_ratios: dict = field(default_factory=dict)  # peer name -> its time / hand-written's, in its own process
    notes: list = field(default_factory=list)


def run(quick: bool = False, log=print) -> tuple[list[Row], dict]:
    """Check and time adcompile against the hand-written gradients, in this process (NumPy only)."""
    rounds, target = settings(quick)
    rows, extra = [], {}
    for w in workloads():
        log(f"  {w.name}: checking ...", end="", flush=True)
        checked = check_workload(w)
        g = checked["grad"]
        log(" timing ...", end="", flush=True)
        times = time_interleaved(
            {"f": (w.f, w.args), "hand": (w.hand, w.args), "adcompile": (g, w.args)}, rounds, target
        )
        log(" done")
        rows.append(Row(w.name, times))
        if w.f is scalar_f:
            extra["first_call_cold"] = checked["first_call"]
            extra["first_call"] = first_call_times(w, 3 if quick else 20)
        if w.f is scalar_f or (w.f is chain_f and w.args[0].size == 1000):
            gen = g._adcompile.function_for(w.args)
            t = time_interleaved({"wrapper": (g, w.args), "generated": (gen, w.args)}, 2 * rounds, target)
            extra.setdefault("overhead", []).append((w.name, t["wrapper"], t["generated"]))
    return rows, extra


def first_call_times(w: Workload, reps: int) -> list[float]:
    """Seconds for grad(f) + its first call (read, lower, reverse, generate, compile), a fresh function each time."""
    out = []
    for _ in range(reps):
        fresh = types.FunctionType(w.f.__code__, w.f.__globals__, w.f.__name__, w.f.__defaults__, w.f.__closure__)
        t0 = time.perf_counter()
        grad(fresh, argnums=w.argnums)(*w.args)
        out.append(time.perf_counter() - t0)
    return out


def run_peer_group(group: str, quick: bool) -> dict:
    """Check and time one peer library against the hand-written gradients (in a process of its own)."""
    rounds, target = settings(quick)
    peers, missing = load_peers([group])
    out = {"versions": {p.name: p.version for p in peers}, "missing": missing, "ratios": {}, "notes": {}}
    for w in workloads():
        want = w.hand(*w.args)
        candidates = {"hand": (w.hand, w.args)}
        for p in peers:
            t0 = time.perf_counter()
            try:
                fn, args, unpack = p.prepare(w)
                assert_same(unpack(fn(*args)), want, w.argnums, f"{p.name} vs hand-written")
            except Exception as e:  # noqa: BLE001  (a peer's failure, wrong gradient or unsupported op, is reported)
                out["notes"].setdefault(w.name, []).append(f"{p.name} not timed: {e}")
                continue
            if p.name == "jax.jit" and w.f is scalar_f:
                out["jit_first_call"] = time.perf_counter() - t0
            candidates[p.name] = (fn, args)
        times = time_interleaved(candidates, rounds, target)
        out["ratios"][w.name] = {p: t / times["hand"] for p, t in times.items() if p != "hand"}
    return out


def run_peers(quick: bool, log=print) -> tuple[list[dict], list[str]]:
    """Each importable peer group, run in a child process so that it cannot change this process's NumPy timings."""
    results, missing = [], []
    for group, (module, _, _) in PEER_GROUPS.items():
        if importlib.util.find_spec(module) is None:
            missing.append(group)
            continue
        log(f"  peer {group} (own process) ...", end="", flush=True)
        cmd = [sys.executable, __file__, "--peer-group", group] + (["--quick"] if quick else [])
        child = subprocess.run(cmd, check=False, capture_output=True, text=True)
        if child.returncode != 0:
            log(" failed")
            missing.append(f"{group} (its run failed: {child.stderr.strip().splitlines()[-1:]})")
            continue
        log(" done")
        results.append(json.loads(child.stdout))
    return results, missing


# ---------------------------------------------------------------------------------------------------------------
# report
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


def table(rows: list[Row], peer_names: list[str], markdown: bool) -> str:
    head = ["workload", "f", "hand grad", "adcompile grad", "adcompile/hand"] + [f"{p}/hand" for p in peer_names]
    body = []
    for r in rows:
        t = r.times
        cells = [
            r.workload,
            fmt_time(t["f"]),
            fmt_time(t["hand"]),
            fmt_time(t["adcompile"]),
            fmt_ratio(t["adcompile"] / t["hand"]),
        ]
        cells += [fmt_ratio(r.peer_ratios[p]) if p in r.peer_ratios else "n/a" for p in peer_names]
        body.append(cells)
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
        lines += ["| " + " | ".join(c) + " |" for c in body]
        return "\n".join(lines)
    widths = [max(len(row[k]) for row in [head] + body) for k in range(len(head))]

    def line(cells):
        return "  ".join(c.ljust(wd) if k == 0 else c.rjust(wd) for k, (c, wd) in enumerate(zip(cells, widths)))

    return "\n".join([line(head), "  ".join("-" * wd for wd in widths)] + [line(c) for c in body])


def report(rows: list[Row], extra: dict, peer_results: list[dict], missing: list[str], quick: bool, markdown: bool):
    versions = {name: v for res in peer_results for name, v in res["versions"].items()}
    missing = missing + [m for res in peer_results for m in res["missing"]]
    for res in peer_results:
        for r in rows:
            r.peer_ratios.update(res["ratios"].get(r.workload, {}))
            r.notes += res["notes"].get(r.workload, [])
    jit_first = next((res["jit_first_call"] for res in peer_results if "jit_first_call" in res), None)

    out = []
    threads = ", ".join(f"{k}={os.environ[k]}" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"))
    out.append(
        f"Python {platform.python_version()}, NumPy {np.__version__}, adcompile {adcompile.__version__}; "
        f"{threads}; {platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}"
    )
    out.append(
        "peers (each library timed in a process of its own, against the hand-written gradient timed there): "
        + (", ".join(f"{name} {v}" for name, v in versions.items()) or "none")
        + ("; not available: " + ", ".join(missing) if missing else "")
    )
    rounds, target = settings(quick)
    out.append(
        f"median time per call over {rounds} rounds of interleaved blocks of >= {target * 1e3:g} ms"
        + ("  (--quick: numbers are rough)" if quick else "")
    )
    out.append("")
    out.append(table(rows, list(versions), markdown))
    out.append("")
    for r in rows:
        ratio = r.times["adcompile"] / r.times["hand"]
        if ratio > SLOW_RATIO:
            out.append(
                f"SLOW: {r.workload}: adcompile is {ratio:.2f}x the hand-written gradient (threshold {SLOW_RATIO}x)"
            )
        out.extend(f"note: {r.workload}: {n}" for n in r.notes)
    fc = extra["first_call"]
    out.append(
        f"first call of grad(scalar_f) (transform + compile + one evaluation), fresh function each time: "
        f"median {fmt_time(statistics.median(fc))}, min {fmt_time(min(fc))}, max {fmt_time(max(fc))} "
        f"over {len(fc)}; the process's very first one (rule templates parsed too): "
        f"{fmt_time(extra['first_call_cold'])}"
    )
    if jit_first is not None:
        out.append(f"  for comparison, first call of jax.jit(jax.grad(scalar_f)): {fmt_time(jit_first)}")
    for name, wrapper, generated in extra["overhead"]:
        out.append(
            f"cached-call overhead, {name}: grad(f)(...) {fmt_time(wrapper)}, generated function called "
            f"directly {fmt_time(generated)}, difference {(wrapper - generated) * 1e6:+.2f} µs per call"
        )
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few, short timing blocks: a smoke run")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--no-peers", action="store_true", help="time adcompile and the hand-written code only")
    parser.add_argument("--peer-group", choices=list(PEER_GROUPS), help=argparse.SUPPRESS)  # the child's job
    opts = parser.parse_args(argv)
    if opts.peer_group:
        print(json.dumps(run_peer_group(opts.peer_group, opts.quick)))
        return 0

    def log(*a, **k):
        print(*a, **k, file=sys.stderr)

    log(f"benchmarking ({'quick' if opts.quick else 'full'}) ...")
    try:
        rows, extra = run(opts.quick, log)
    except CheckFailed as e:
        log(f"\nCORRECTNESS CHECK FAILED, nothing timed: {e}")
        return 1
    peer_results, missing = ([], ["--no-peers"]) if opts.no_peers else run_peers(opts.quick, log)
    print(report(rows, extra, peer_results, missing, opts.quick, opts.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
