"""Loops that index and write into arrays: adcompile against a hand-written reverse loop.

    python benchmarks/bench_loops.py           # full run
    python benchmarks/bench_loops.py --quick   # small counts: a smoke run (tests/test_benchmarks_smoke.py)

Each workload is a function a user would write with a loop over an array, and its gradient written by hand as a
careful person would: the forward loop, then the reverse loop writing into preallocated adjoint arrays in place.
Before anything is timed, adcompile's gradient must equal the hand-written one (rtol 1e-10); otherwise the script
prints CORRECTNESS CHECK FAILED and exits with status 1. Timing uses bench_straightline's method (single thread,
interleaved blocks, median per call). autograd, JAX and PyTorch cannot run these functions as written (they refuse
writes into arrays), so there are no peer columns.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

_spec = importlib.util.spec_from_file_location("bench_straightline", Path(__file__).with_name("bench_straightline.py"))
bench = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = bench
_spec.loader.exec_module(bench)  # sets the thread variables before NumPy is imported

import numpy as np  # noqa: E402

from adcompile import grad  # noqa: E402


# (d) a linear recurrence filling an array: y[i] = a * y[i - 1] + x[i]
def recurrence_f(x, a):
    n = len(x)
    y = np.zeros(n)
    y[0] = x[0]
    for i in range(1, n):
        y[i] = a * y[i - 1] + x[i]
    return np.sum(y * y)


def recurrence_grad(x, a):
    n = len(x)
    y = np.zeros(n)
    y[0] = x[0]
    for i in range(1, n):
        y[i] = a * y[i - 1] + x[i]
    by = 2.0 * y
    bx = np.zeros(n)
    ba = 0.0
    for i in range(n - 1, 0, -1):
        g = by[i]
        bx[i] = g
        ba += g * y[i - 1]
        by[i - 1] += a * g
    bx[0] = by[0]
    return bx, ba


# (e) an RNN over the rows of xs, storing every hidden state in H[t]
def rnn_f(W, xs):
    T, n = xs.shape
    H = np.zeros_like(xs)
    h = np.zeros(n)
    for t in range(T):
        h = np.tanh(W @ h + xs[t])
        H[t] = h
    return np.sum(H * H)


def rnn_grad(W, xs):
    T, n = xs.shape
    H = np.zeros_like(xs)
    h = np.zeros(n)
    for t in range(T):
        h = np.tanh(W @ h + xs[t])
        H[t] = h
    bH = 2.0 * H
    bW = np.zeros_like(W)
    bxs = np.zeros_like(xs)
    bh = np.zeros(n)
    for t in range(T - 1, -1, -1):
        bh = bh + bH[t]
        bz = bh * (1.0 - H[t] * H[t])
        prev = H[t - 1] if t > 0 else np.zeros(n)
        bW += np.outer(bz, prev)
        bxs[t] = bz
        bh = bz @ W
    return bW, bxs


def workloads():
    rng = np.random.default_rng(0)
    return [
        ("(d) recurrence y[i] = a y[i-1] + x[i], n=1e3", recurrence_f, recurrence_grad, (rng.normal(size=1000), 0.9)),
        (
            "(e) rnn storing H[t], T=50, n=16",
            rnn_f,
            rnn_grad,
            (0.3 * rng.normal(size=(16, 16)), rng.normal(size=(50, 16))),
        ),
    ]


def check(name, f, hand, args) -> None:
    got = grad(f, argnums=(0, 1))(*args)
    want = hand(*args)
    for g, w in zip(got, want):
        if not np.allclose(g, w, rtol=1e-10, atol=1e-12):
            print(f"CORRECTNESS CHECK FAILED: {name}")
            sys.exit(1)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="few, short blocks: a smoke run; numbers are rough")
    args = parser.parse_args(argv)
    rounds, target = bench.settings(args.quick)
    print(f"{'workload':48} {'f':>10} {'hand grad':>10} {'adcompile':>10} {'adcompile/hand':>15}")
    for name, f, hand, example in workloads():
        check(name, f, hand, example)
        d = grad(f, argnums=(0, 1))
        times = bench.time_interleaved({"f": (f, example), "hand": (hand, example), "ad": (d, example)}, rounds, target)
        ratio = times["ad"] / times["hand"]
        print(
            f"{name:48} {bench.fmt_time(times['f']):>10} {bench.fmt_time(times['hand']):>10} "
            f"{bench.fmt_time(times['ad']):>10} {ratio:>15.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
