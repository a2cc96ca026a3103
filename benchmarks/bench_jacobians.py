"""Forward against reverse mode: jacfwd and jacrev of f: ℝⁿ → ℝᵐ over a grid of n and m.

    python benchmarks/bench_jacobians.py                 # full run: prints the table, writes docs/jacobian_modes.md
    python benchmarks/bench_jacobians.py --quick         # small counts: a smoke run (tests/test_benchmarks_smoke.py)
    python benchmarks/bench_jacobians.py --no-write      # print only

Forward mode pushes one tangent through f per input element, so jacfwd costs n sweeps; reverse mode pulls one
adjoint back per output element, so jacrev costs one forward sweep and m reverse sweeps. The workload is
``f(x) = tanh(A @ sin(x)) * sum(x)`` with A of shape (m, n), which has a dense Jacobian. Before anything is timed,
both Jacobians must equal the hand-written one (rtol 1e-10). The table gives, for each (n, m), the time of
``jacfwd(f)(x)`` over that of ``jacrev(f)(x)``: below 1 forward mode is faster, above 1 reverse mode is; the claim
is that the crossover lies on the diagonal n = m. ``jacobian(f)`` chooses by that rule. With matplotlib installed,
the ratios are also drawn to docs/jacobian_modes.png.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402  (before NumPy: it sets the thread variables)
import numpy as np  # noqa: E402

import adcompile  # noqa: E402
from adcompile import jacfwd, jacrev  # noqa: E402

SIZES = (1, 4, 16, 64)
QUICK_SIZES = (1, 8)
PAGE = Path(__file__).resolve().parent.parent / "docs" / "jacobian_modes.md"


def make(m: int, n: int, seed: int = 0):
    """The workload for one grid point: f, its hand-written Jacobian, and an example x."""
    a = np.random.default_rng(seed).normal(size=(m, n)) / np.sqrt(n)

    def f(x):
        return np.tanh(a @ np.sin(x)) * np.sum(x)

    def jac(x):
        u = a @ np.sin(x)
        t = np.tanh(u)
        return (1 - t * t)[:, None] * a * np.cos(x)[None, :] * np.sum(x) + t[:, None]

    return f, jac, np.linspace(-1.0, 1.0, n)


def check(m: int, n: int) -> None:
    f, jac, x = make(m, n)
    want = jac(x)
    for name, got in (("jacfwd", jacfwd(f)(x)), ("jacrev", jacrev(f)(x))):
        if got.shape != (m, n) or not np.allclose(got, want, rtol=1e-10, atol=1e-12):
            print(f"CORRECTNESS CHECK FAILED: {name} for n={n}, m={m}")
            sys.exit(1)


def measure(sizes, quick: bool) -> dict:
    """(n, m) -> (seconds of jacfwd, seconds of jacrev), each a median of interleaved blocks."""
    settings = harness.Settings.of(quick)
    out = {}
    for n in sizes:
        for m in sizes:
            check(m, n)
            f, _, x = make(m, n)
            forward, reverse = jacfwd(f), jacrev(f)
            times = harness.time_interleaved({"fwd": (forward, (x,)), "rev": (reverse, (x,))}, settings)
            out[n, m] = statistics.median(times["fwd"]), statistics.median(times["rev"])
    return out


def table(results: dict, sizes) -> str:
    head = "| n \\ m | " + " | ".join(str(m) for m in sizes) + " |"
    rule = "|---|" + "---|" * len(sizes)
    rows = [head, rule]
    for n in sizes:
        cells = []
        for m in sizes:
            fwd, rev = results[n, m]
            cells.append(f"{fwd / rev:.2f}" + (" ◀" if fwd < rev else ""))
        rows.append(f"| **{n}** | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def detail(results: dict, sizes) -> str:
    rows = ["| n | m | jacfwd | jacrev | jacfwd/jacrev |", "|---|---|---|---|---|"]
    for n in sizes:
        for m in sizes:
            fwd, rev = results[n, m]
            rows.append(f"| {n} | {m} | {harness.fmt_time(fwd)} | {harness.fmt_time(rev)} | {fwd / rev:.2f} |")
    return "\n".join(rows)


def page(results: dict, sizes) -> str:
    return f"""# Forward or reverse mode: where the crossover lies

<!-- Written by `python benchmarks/bench_jacobians.py`; do not edit by hand. -->

For f: ℝⁿ → ℝᵐ, `jacfwd` needs n forward sweeps and `jacrev` one forward and m reverse sweeps. The workload is
`f(x) = tanh(A @ sin(x)) * sum(x)` with a dense (m, n) matrix A. Each cell is the time of `jacfwd(f)(x)` divided
by that of `jacrev(f)(x)`: below 1 (marked ◀) forward mode wins. Rows are the input size n, columns the output
size m.

{table(results, sizes)}

Forward mode wins above the diagonal (few inputs, many outputs) and reverse mode below it, and the ratio grows
with m/n, as the sweep counts say. On the diagonal the two are close for small sizes, and reverse mode pulls
ahead as they grow: each of jacfwd's n sweeps computes f's value again along with the tangent, while jacrev
computes the value once and each of its m sweeps runs the reverse part only. `jacobian(f)` picks `jacfwd` when
n < m and `jacrev` otherwise.

Times (median per call, one thread, interleaved blocks; adcompile {adcompile.__version__}, NumPy {np.__version__},
Python {platform.python_version()}, {platform.machine()}):

{detail(results, sizes)}
"""


def plot(results: dict, sizes, path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for n in sizes:
        ax.plot(sizes, [results[n, m][0] / results[n, m][1] for m in sizes], marker="o", label=f"n = {n}")
    ax.axhline(1.0, color="grey", linewidth=0.8)
    ax.set(xscale="log", yscale="log", xlabel="outputs m", ylabel="time jacfwd / jacrev")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small grid, few short blocks: a smoke run")
    parser.add_argument("--no-write", action="store_true", help=f"print only; do not write {PAGE.name}")
    args = parser.parse_args(argv)
    sizes = QUICK_SIZES if args.quick else SIZES
    results = measure(sizes, args.quick)
    print(table(results, sizes))
    if not args.no_write and not args.quick:
        PAGE.write_text(page(results, sizes), encoding="utf-8")
        drawn = plot(results, sizes, PAGE.with_suffix(".png"))
        print(f"wrote {PAGE}" + (f" and {PAGE.with_suffix('.png').name}" if drawn else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
