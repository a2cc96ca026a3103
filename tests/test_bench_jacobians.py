"""benchmarks/bench_jacobians.py checks jacfwd and jacrev against its hand-written Jacobian before timing; run
those checks (never the timings) on a few grid points, and the quick run end to end."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_jacobians.py"
_spec = importlib.util.spec_from_file_location("bench_jacobians", SCRIPT)
bench = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = bench
_spec.loader.exec_module(bench)


@pytest.mark.parametrize("n, m", [(1, 1), (1, 5), (5, 1), (4, 3)])
def test_both_modes_give_the_hand_written_jacobian(n, m):
    bench.check(m, n)  # exits with CORRECTNESS CHECK FAILED otherwise


def test_the_hand_written_jacobian_is_right():
    import numpy as np
    from fd import numeric_jacobian

    f, jac, x = bench.make(3, 4)
    np.testing.assert_allclose(jac(x), numeric_jacobian(f, (x,), 0), rtol=1e-6, atol=1e-9)


def test_quick_run_prints_the_table():
    run = subprocess.run([sys.executable, str(SCRIPT), "--quick"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "| n \\ m |" in run.stdout
