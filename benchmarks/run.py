"""Issue #6's benchmark in one command: every workload, its peers and overheads, written to docs/benchmarks.md.

    python benchmarks/run.py                        # full run (about 2 minutes); writes docs/benchmarks.md
    python benchmarks/run.py --quick                # smoke run: short blocks, rough numbers, page on stdout
    python benchmarks/run.py --only rosen,mlp       # the items whose key contains "rosen" or "mlp" (page on stdout)
    python benchmarks/run.py --list                 # the keys of the workloads and measures

Before anything is timed, every selected workload's adcompile gradient must equal the hand-written one (rtol 1e-10)
and both must match central finite differences; otherwise the command prints CORRECTNESS CHECK FAILED and exits
with status 1. Peers (autograd, JAX, PyTorch, whichever import) run each in a child process of its own, checked
against the hand-written gradient and timed against it there, so that they cannot change this process's NumPy
timings (after PyTorch has run, for one, large NumPy temporaries stop page-faulting). ``harness.py`` has the
method, ``workloads.py`` the workloads, ``overheads.py`` the first-call, cached-call, import and memory measures.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import harness  # before NumPy: it sets the thread variables
import numpy as np
import overheads
from harness import (
    CheckFailed,
    Settings,
    fmt_ratio,
    fmt_time,
    markdown_table,
    median_time,
    paired_ratio,
    ratio_spread,
)
from workloads import workloads

import adcompile
from adcompile import grad

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "benchmarks.md"
COMMAND = "python benchmarks/run.py"

# the measures of issue #6 item 2, selectable with --only like the workloads
MEASURES = {
    "first-call": "grad(f) first call: transform + compile, 10-line and 100-line functions",
    "cached-call": "overhead of a cached grad(f)(...) over the generated function",
    "import": "import adcompile, beyond numpy",
    "memory": "peak memory of the gradient vs hand-written, mlp and rnn",
}
# issue #6 targets
RATIO_TARGET = 1.2  # generated gradient / hand-written, every workload
FIRST_CALL_TARGETS = {10: 10e-3, 100: 50e-3}  # lines -> seconds
CACHED_CALL_TARGET = 1e-6
IMPORT_TARGET = 30e-3
MEMORY_TARGET = 1.3
MEMORY_WORKLOADS = ("mlp", "rnn")
OVERHEAD_WORKLOADS = ("scalar-expr", "rosenbrock-10")


def selected(keys, only: str | None) -> list[str]:
    """The keys containing one of the comma-separated parts of ``only`` (all keys without it)."""
    if not only:
        return list(keys)
    parts = [p.strip() for p in only.split(",") if p.strip()]
    return [k for k in keys if any(p in k for p in parts)]


# ---------------------------------------------------------------------------------------------------------------
# this process: adcompile against the hand-written gradients
# ---------------------------------------------------------------------------------------------------------------
def check_all(ws, log) -> dict:
    """adcompile's gradient of each workload, once checked (raises CheckFailed)."""
    grads = {}
    for w in ws:
        log(f"  checking {w.key} ...")
        grads[w.key] = grad(w.f, argnums=w.argnums)
        harness.check_workload(w, grads[w.key])
    return grads


def time_workloads(ws, grads, settings: Settings, log) -> dict:
    jobs = {w.key: {"f": (w.f, w.args), "hand": (w.hand, w.args), "adcompile": (grads[w.key], w.args)} for w in ws}
    rows = {}
    for key, s in harness.time_in_passes(jobs, settings, log).items():
        rows[key] = {name: median_time(v) for name, v in s.items()}
        rows[key]["ratio"], rows[key]["spread"] = ratio_spread(s["adcompile"], s["hand"])
    return rows


# ---------------------------------------------------------------------------------------------------------------
# peers, each group in a child process
# ---------------------------------------------------------------------------------------------------------------
def run_peer_group(group: str, keys: list[str], settings: Settings) -> dict:
    """Check and time one peer library against the hand-written gradients (the child's job)."""
    import time

    peers, missing = harness.load_peers([group])
    out = {"versions": {p.name: p.version for p in peers}, "missing": missing, "ratios": {}, "notes": []}
    jobs = {}
    for w in workloads():
        if w.key not in keys or not w.peers:
            continue
        want = w.hand(*w.args)
        candidates = jobs[w.key] = {"hand": (w.hand, w.args)}
        for p in peers:
            t0 = time.perf_counter()
            try:
                fn, args, unpack = p.prepare(w)
                harness.assert_same(unpack(fn(*args)), want, w.argnums, f"{p.name} vs hand-written")
            except Exception as e:  # noqa: BLE001  (a peer's failure, wrong gradient or unsupported op, is reported)
                out["notes"].append(f"{w.key}: {p.name} not timed: {str(e).splitlines()[0][:200]}")
                continue
            if p.name == "jax.jit" and w.key == "scalar-expr":
                out["jit_first_call"] = time.perf_counter() - t0
            candidates[p.name] = (fn, args)
    for key, s in harness.time_in_passes(jobs, settings).items():
        out["ratios"][key] = {name: paired_ratio(v, s["hand"]) for name, v in s.items() if name != "hand"}
    return out


def run_peers(keys: list[str], quick: bool, log) -> tuple[list[dict], list[str]]:
    results, missing = [], []
    for group, (module, _, _) in harness.PEER_GROUPS.items():
        if importlib.util.find_spec(module) is None:
            missing.append(f"{group} (not installed)")
            continue
        log(f"  peer {group} (own process) ...")
        cmd = [sys.executable, __file__, "--peer-group", group, "--only", ",".join(keys)] + (["--quick"] * quick)
        child = subprocess.run(cmd, check=False, capture_output=True, text=True)
        if child.returncode != 0:
            last = (child.stderr.strip().splitlines() or [f"exit status {child.returncode}"])[-1]
            missing.append(f"{group} (its run failed: {last})")
            continue
        results.append(json.loads(child.stdout))
    return results, missing


# ---------------------------------------------------------------------------------------------------------------
# issue #6 item 2
# ---------------------------------------------------------------------------------------------------------------
def measure(keys: list[str], by_key: dict, settings: Settings, quick: bool, log) -> dict:
    out = {}
    if "first-call" in keys:
        log("  first calls ...")
        reps, fresh = (3, 1) if quick else (15, 5)
        out["first-call"] = [overheads.first_call(n, reps, fresh) for n in FIRST_CALL_TARGETS]
    if "cached-call" in keys:
        log("  cached-call overhead ...")
        one_pass = Settings(settings.rounds * settings.passes, settings.target)
        out["cached-call"] = [overheads.cached_call_overhead(by_key[k], one_pass) for k in OVERHEAD_WORKLOADS]
    if "import" in keys:
        log("  import time ...")
        out["import"] = overheads.import_time(3 if quick else 11)
    if "memory" in keys:
        log("  peak memory ...")
        out["memory"] = [overheads.peak_memory(by_key[k]) for k in MEMORY_WORKLOADS]
    return out


# ---------------------------------------------------------------------------------------------------------------
# the page
# ---------------------------------------------------------------------------------------------------------------
def machine(core: int | None, load_before: tuple) -> list[str]:
    models = [line.split(":", 1)[1].strip() for line in _read("/proc/cpuinfo").splitlines() if "model name" in line]
    cpu = models[0] if models else platform.processor() or "?"
    blas = "?"
    try:
        deps = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas = f"{deps.get('name', '?')} {deps.get('version', '')}".strip()
    except Exception:  # noqa: BLE001  (older NumPy: no dicts)
        pass
    coretype = {v: os.environ[v] for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if v in os.environ}
    commit = _git("rev-parse", "--short", "HEAD")
    dirty = " (with uncommitted changes)" if _git("status", "--porcelain", "--untracked-files=no") else ""
    load_after = os.getloadavg()
    return [
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- machine: {cpu}, {platform.machine()}, {os.cpu_count()} cores, Linux {platform.release()}"
        + (f"; this run pinned to core {core}" if core is not None else "; not pinned (no sched_setaffinity)"),
        f"- load average (1 min) {load_before[0]:.2f} at the start, {load_after[0]:.2f} at the end: the machine is "
        "shared, so absolute times are noisy; the ratios, measured interleaved, much less so",
        f"- Python {platform.python_version()}, NumPy {np.__version__} ({blas}"
        + (", " + ", ".join(f"{k}={v}" for k, v in coretype.items()) if coretype else "")
        + f"), adcompile {adcompile.__version__} at commit {commit or '?'}{dirty}",
        "- single-threaded: " + ", ".join(f"{v}=1" for v in harness.THREAD_VARIABLES) + " before NumPy is imported; "
        "XLA and PyTorch limited to one thread",
    ]


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def gradient_table(ws, rows: dict, peer_results: list[dict]) -> tuple[str, list[str]]:
    ratios: dict = {}
    for res in peer_results:
        for key, r in res["ratios"].items():
            ratios.setdefault(key, {}).update(r)
    peer_names = [p for p in harness.PEER_NAMES if any(p in res["versions"] for res in peer_results)]
    head = ["workload", "f", "hand grad", "adcompile grad", f"adcompile / hand (target ≤ {RATIO_TARGET})"]
    head += [f"{p} / hand" for p in peer_names]
    body = []
    for w in ws:
        t = rows[w.key]
        q1, q3 = t["spread"]
        ratio = f"{fmt_ratio(t['ratio'])} ({fmt_ratio(q1)}–{fmt_ratio(q3)})"
        ratio += "" if t["ratio"] <= RATIO_TARGET else " **missed**"
        cells = [f"`{w.key}`: {w.name}", fmt_time(t["f"]), fmt_time(t["hand"]), fmt_time(t["adcompile"]), ratio]
        for p in peer_names:
            r = ratios.get(w.key, {}).get(p)
            cells.append(fmt_ratio(r) if r is not None else "no peer" if not w.peers else "n/a")
        body.append(cells)
    return markdown_table(head, body), peer_names


def targets_table(ws, rows: dict, measured: dict) -> str:
    body = []
    if rows:
        worst = max(rows, key=lambda k: rows[k]["ratio"])
        misses = [k for k in rows if rows[k]["ratio"] > RATIO_TARGET]
        body.append(
            [
                "generated gradient / hand-written, every workload",
                f"≤ {RATIO_TARGET}",
                f"worst {fmt_ratio(rows[worst]['ratio'])} (`{worst}`); {len(rows) - len(misses)} of {len(rows)} met",
                _verdict(not misses),
            ]
        )
    for fc in measured.get("first-call", []):
        target = FIRST_CALL_TARGETS[fc["lines"]]
        cold = f"; in a fresh process {fmt_time(fc['cold'])}" if fc["cold"] is not None else ""
        body.append(
            [
                f"`grad(f)` first call, {fc['lines']}-line function",
                f"≤ {fmt_time(target)}",
                f"{fmt_time(fc['warm'])}{cold}",
                _verdict(fc["warm"] <= target),
            ]
        )
    for cc in measured.get("cached-call", []):
        body.append(
            [
                f"cached `grad(f)(...)` overhead over the generated function, `{cc['workload']}`",
                f"≤ {fmt_time(CACHED_CALL_TARGET)}",
                f"{fmt_time(max(cc['overhead'], 0.0))} ({fmt_time(cc['wrapper'])} vs {fmt_time(cc['generated'])})",
                _verdict(cc["overhead"] <= CACHED_CALL_TARGET),
            ]
        )
    if "import" in measured:
        im = measured["import"]
        body.append(
            [
                "`import adcompile` after `import numpy`",
                f"≤ {fmt_time(IMPORT_TARGET)}",
                f"{fmt_time(im['median'])} (median of {im['runs']} fresh processes, min {fmt_time(im['min'])})",
                _verdict(im["median"] <= IMPORT_TARGET),
            ]
        )
    for m in measured.get("memory", []):
        ratio = m["adcompile"] / m["hand"]
        body.append(
            [
                f"peak memory of the gradient / hand-written, `{m['workload']}`",
                f"≤ {MEMORY_TARGET}",
                f"{ratio:.2f} ({m['adcompile'] / 2**20:.2f} MiB vs {m['hand'] / 2**20:.2f} MiB)",
                _verdict(ratio <= MEMORY_TARGET),
            ]
        )
    return markdown_table(["measure", "target", "measured", "verdict"], body)


def page(ws, rows, peer_results, missing, measured, about: list[str], opts) -> str:
    settings = Settings.of(opts.quick)
    versions = {name: v for res in peer_results for name, v in res["versions"].items()}
    missing = missing + [m for res in peer_results for m in res["missing"]]
    notes = [n for res in peer_results for n in res["notes"]]
    jit_first = next((res["jit_first_call"] for res in peer_results if "jit_first_call" in res), None)
    flags = ["--quick"] * opts.quick + (["--only", opts.only] if opts.only else []) + ["--no-peers"] * opts.no_peers
    command = " ".join([COMMAND, *flags])
    out = [
        "# Benchmarks",
        "",
        f"Generated by `{command}`: do not edit by hand, run the command again. How it measures, the workloads and how "
        "to install the peers: [benchmarks/README.md](../benchmarks/README.md). Issue #6 asks for the targets below.",
        "",
    ]
    if opts.quick:
        out += ["**A `--quick` run: few, short timing blocks; the numbers are rough.**", ""]
    out += ["## Machine and method", "", *about]
    out.append(
        "- peers, each in a process of its own: "
        + (", ".join(f"{name} {v}" for name, v in versions.items()) or "none")
        + ("; not available: " + "; ".join(missing) if missing else "")
    )
    out.append(
        f"- a time is the median per call over {settings.rounds * settings.passes} rounds of interleaved blocks of at "
        f"least {settings.target * 1e3:g} ms each, after a warm-up"
        + (f", in {settings.passes} passes over all workloads" if settings.passes > 1 else "")
        + "; a ratio is the median over rounds of the ratio of two "
        "blocks in the same round (adcompile's with its quartiles over rounds in parentheses); a peer's ratio is to "
        "the hand-written gradient timed in the peer's own process, where jax.jit's compilation is done before timing"
    )
    out.append(
        "- every gradient (adcompile's and each peer's) equals the hand-written one (rtol 1e-10), which matches "
        "central finite differences, before it is timed"
    )
    if rows:
        table, _ = gradient_table(ws, rows, peer_results)
        out += ["", "## Gradients: time per call, and ratios to the hand-written gradient", "", table, ""]
        out.append(
            '`f` is the function itself, for scale. "no peer": the function writes into arrays, which autograd, JAX '
            'and PyTorch refuse; "n/a": the peer was not run or failed (see the notes).'
        )
    if notes:
        out += ["", "Notes:", ""] + [f"- {n}" for n in notes]
    if measured or rows:
        out += ["", "## Issue #6 targets", "", targets_table(ws, rows, measured), ""]
        explain = []
        if "first-call" in measured:
            explain.append(
                "First call: `grad(f)(x, y, z)` for a generated function never differentiated before (read, lower, "
                "reverse, generate, compile, one evaluation), one elementwise operation on arrays of 100 per line; "
                "the median over fresh function objects in a warm process is compared with the target, the median "
                "over fresh processes (one-time set-up included) is shown beside it."
                + (
                    f" For comparison, `jax.jit(jax.grad(f))`'s first call on `scalar-expr`: {fmt_time(jit_first)}."
                    if jit_first is not None
                    else ""
                )
            )
        if "cached-call" in measured:
            explain.append(
                "Cached-call overhead: the median over interleaved rounds of the difference between "
                "`grad(f)(...)` and `grad(f)._adcompile.function_for(args)(...)` per call."
            )
        if "memory" in measured:
            explain.append(
                "Peak memory: the peak that `tracemalloc` (which sees NumPy's buffers) records during one warm call, "
                "the arguments excluded."
            )
        out += [" ".join(explain)] if explain else []
    return "\n".join(out).rstrip() + "\n"


# ---------------------------------------------------------------------------------------------------------------
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few, short timing blocks: a smoke run")
    parser.add_argument("--only", help="comma-separated parts of keys: run only the items whose key contains one")
    parser.add_argument("--list", action="store_true", help="list the keys of the workloads and measures")
    parser.add_argument("--no-peers", action="store_true", help="time adcompile and the hand-written code only")
    parser.add_argument(
        "--output",
        help=f"where to write the page ('-': stdout); default {PAGE.relative_to(ROOT)} for a full run "
        "of everything, stdout otherwise",
    )
    parser.add_argument("--peer-group", choices=list(harness.PEER_GROUPS), help=argparse.SUPPRESS)  # a child's job
    opts = parser.parse_args(argv)
    all_workloads = workloads()
    by_key = {w.key: w for w in all_workloads}
    settings = Settings.of(opts.quick)

    if opts.list:
        for w in all_workloads:
            print(f"{w.key:18} {w.name}" + ("" if w.peers else "  (no peers)"))
        for key, what in MEASURES.items():
            print(f"{key:18} {what}")
        return 0
    if opts.peer_group:
        print(json.dumps(run_peer_group(opts.peer_group, selected(by_key, opts.only), settings)))
        return 0

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    load_before = os.getloadavg()
    core = harness.pin_to_one_core()
    ws = [by_key[k] for k in selected(by_key, opts.only)]
    measures = selected(MEASURES, opts.only)
    if not ws and not measures:
        log(f"nothing matches --only {opts.only!r}; see --list")
        return 2
    log(f"benchmarking ({'quick' if opts.quick else 'full'}): {len(ws)} workloads, {len(measures)} measures")
    try:
        grads = check_all(ws, log)
    except CheckFailed as e:
        log(f"\nCORRECTNESS CHECK FAILED, nothing timed: {e}")
        return 1
    rows = time_workloads(ws, grads, settings, log)
    with_peers = [w.key for w in ws if w.peers]
    if opts.no_peers:
        peer_results, missing = [], ["not run (--no-peers)"]
    elif with_peers:
        peer_results, missing = run_peers(with_peers, opts.quick, log)
    else:
        peer_results, missing = [], []
    measured = measure(measures, by_key, settings, opts.quick, log)
    text = page(ws, rows, peer_results, missing, measured, machine(core, load_before), opts)

    output = opts.output or ("-" if opts.quick or opts.only or opts.no_peers else str(PAGE))
    if output == "-":
        print(text, end="")
    else:
        Path(output).write_text(text, encoding="utf-8")
        log(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
