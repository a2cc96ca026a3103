"""What a gradient costs besides running it (issue #6, item 2): first call, cached-call overhead, import, memory.

- ``first_call``: ``grad(f)(*args)`` for a function adcompile has not seen (read, lower, reverse, generate, compile,
  one evaluation), for a 10-line and a 100-line function that ``write_function`` writes into a real file. Measured
  in this process with a fresh function object each time, and in fresh processes (one-time set-up included).
- ``cached_call_overhead``: a cached ``grad(f)(...)`` call against calling the generated function directly.
- ``import_time``: ``import adcompile`` after ``import numpy``, in fresh processes.
- ``peak_memory``: the peak of memory allocated (``tracemalloc``, which sees NumPy's buffers) while one gradient
  runs, adcompile's against the hand-written one's.
"""

from __future__ import annotations

import gc
import importlib.util
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import types
from pathlib import Path

import numpy as np
from harness import Settings, Workload, paired_difference, time_interleaved

from adcompile import grad

ROOT = Path(__file__).resolve().parent.parent

# each keeps values in [-1, 1] when its operands are, so that a long chain of them stays finite
_LINE_TEMPLATES = (
    "np.sin({a}) * {b}",
    "np.tanh({a} + {b})",
    "{a} * np.cos({b})",
    "0.5 * ({a} - {b})",
    "np.exp(-{a} * {a}) * {b}",
    "{a} * {b}",
)


def function_source(name: str, lines: int) -> str:
    """A function of ``lines`` lines (its ``def`` and ``return`` included) on three arrays: one elementwise
    operation of two earlier values per line, chosen by a generator seeded with ``lines``."""
    pick = random.Random(lines)
    values = ["x", "y", "z"]
    body = []
    for k in range(lines - 2):
        a, b = values[-1], pick.choice(values[:-1])
        body.append(f"    v{k} = " + pick.choice(_LINE_TEMPLATES).format(a=a, b=b))
        values.append(f"v{k}")
    return "\n".join([f"def {name}(x, y, z):", *body, f"    return np.sum({values[-1]})"]) + "\n"


def write_function(folder: Path, lines: int) -> Path:
    path = folder / f"generated_{lines}_lines.py"
    path.write_text("import numpy as np\n\n\n" + function_source("f", lines), encoding="utf-8")
    return path


def load_function(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.f


def first_call_args() -> tuple:
    return tuple(np.linspace(-0.9, 0.9, 100) * s for s in (1.0, -0.7, 0.4))


# run in a fresh process: argv[1] is the generated file; prints the seconds of grad(f)(*args)
_FRESH_FIRST_CALL = f"""
import sys, time
from pathlib import Path
sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
from overheads import first_call_args, grad, load_function
f, args = load_function(Path(sys.argv[1])), first_call_args()
t0 = time.perf_counter()
grad(f, argnums=(0, 1, 2))(*args)
print(time.perf_counter() - t0)
"""


def _fresh_process_seconds(code: str, *argv: str) -> float:
    """Run ``code`` in a fresh Python importing this checkout's adcompile; it prints a number of seconds.

    Bytecode is written and read as an installed package's would be: a machine that sets PYTHONDONTWRITEBYTECODE
    (this one does) would otherwise compile every module from source at each import, four times the import."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    child = subprocess.run(
        [sys.executable, "-c", code, *argv], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return float(child.stdout.split()[-1])


def first_call(lines: int, reps: int, fresh_processes: int) -> dict:
    """Seconds of grad(f)(*args) for a generated function of ``lines`` lines never differentiated before."""
    args = first_call_args()
    with tempfile.TemporaryDirectory() as folder:
        path = write_function(Path(folder), lines)
        f = load_function(path)
        warm = []
        for _ in range(reps):
            fresh = types.FunctionType(f.__code__, f.__globals__, f.__name__, f.__defaults__, f.__closure__)
            t0 = time.perf_counter()
            grad(fresh, argnums=(0, 1, 2))(*args)
            warm.append(time.perf_counter() - t0)
        cold = [_fresh_process_seconds(_FRESH_FIRST_CALL, str(path)) for _ in range(fresh_processes)]
    return {"lines": lines, "warm": statistics.median(warm), "cold": statistics.median(cold) if cold else None}


def cached_call_overhead(w: Workload, settings: Settings) -> dict:
    """Per-call seconds of ``grad(f)(...)`` (cached) over the generated function it runs, called directly."""
    d = grad(w.f, argnums=w.argnums)
    d(*w.args)
    generated = d._adcompile.function_for(w.args)
    samples = time_interleaved({"wrapper": (d, w.args), "generated": (generated, w.args)}, settings)
    return {
        "workload": w.key,
        "wrapper": statistics.median(samples["wrapper"]),
        "generated": statistics.median(samples["generated"]),
        "overhead": paired_difference(samples["wrapper"], samples["generated"]),
    }


_IMPORT = "import time, numpy\nt0 = time.perf_counter()\nimport adcompile\nprint(time.perf_counter() - t0)"


def import_time(runs: int) -> dict:
    """Median seconds of ``import adcompile`` once NumPy is imported, each run in a fresh process (after one that
    writes the bytecode, as installing the package does)."""
    _fresh_process_seconds(_IMPORT)
    times = [_fresh_process_seconds(_IMPORT) for _ in range(runs)]
    return {"median": statistics.median(times), "min": min(times), "runs": runs}


def _peak_bytes(fn, args) -> int:
    fn(*args)  # warm: nothing compiled or cached during the measured call
    gc.collect()
    tracemalloc.start()
    try:
        fn(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def peak_memory(w: Workload) -> dict:
    """Peak bytes allocated during one call of adcompile's gradient and of the hand-written one."""
    d = grad(w.f, argnums=w.argnums)
    return {"workload": w.key, "adcompile": _peak_bytes(d, w.args), "hand": _peak_bytes(w.hand, w.args)}
