"""The straight-line benchmark's correctness checks, run quickly: they assert gradients, never timings.

``benchmarks/bench_straightline.py`` refuses to time a workload whose adcompile gradient differs from the
hand-written one or whose gradients disagree with finite differences; these tests run exactly those checks.
"""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_straightline.py"


def _load():
    spec = importlib.util.spec_from_file_location("bench_straightline", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


bench = _load()
WORKLOADS = {w.name: w for w in bench.workloads()}


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_adcompile_and_hand_written_gradients_agree_with_each_other_and_finite_differences(name):
    bench.check_workload(WORKLOADS[name])  # raises CheckFailed on any disagreement


def test_the_check_catches_a_wrong_hand_written_gradient():
    w = WORKLOADS["(b) elementwise chain, n=1e3"]
    wrong = bench.Workload(w.name, w.f, lambda x: w.hand(x) * (1 + 1e-7), w.args, w.argnums)
    with pytest.raises(bench.CheckFailed, match="adcompile vs hand-written"):
        bench.check_workload(wrong)


def test_the_finite_difference_check_catches_a_wrong_derivative():
    w = WORKLOADS["(a) scalar expr, 29 ops, 3 floats"]
    g = list(w.hand(*w.args))
    g[1] += 1e-4
    with pytest.raises(bench.CheckFailed, match="central differences"):
        bench.assert_matches_fd(tuple(g), w, bench.finite_difference_checks(w), "perturbed")


def test_peers_that_import_give_the_hand_written_gradient():
    peers, _ = bench.load_peers()
    if not peers:
        pytest.skip("no peer (autograd, jax, torch) importable")
    w = WORKLOADS["(c) rosenbrock pairs, n=1e3"]
    for p in peers:
        fn, args, unpack = p.prepare(w)
        bench.assert_same(unpack(fn(*args)), w.hand(*w.args), w.argnums, p.name)


def test_quick_run_exits_cleanly_and_prints_the_table():
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--markdown"],
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    assert "CORRECTNESS CHECK FAILED" not in run.stderr
    for name in WORKLOADS:
        assert f"| {name} |" in run.stdout


LOOPS = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_loops.py"


def test_loop_benchmark_gradients_equal_the_hand_written_ones():
    spec = importlib.util.spec_from_file_location("bench_loops", LOOPS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, f, hand, args in module.workloads():
        module.check(name, f, hand, args)  # exits with status 1 on a mismatch
        np = module.np
        for g, want in zip(module.grad(f, argnums=(0, 1))(*args), hand(*args)):
            np.testing.assert_allclose(g, want, rtol=1e-10, atol=1e-12)
