"""The benchmark's correctness checks, run quickly: they assert gradients, never timings.

``benchmarks/run.py`` refuses to time a workload whose adcompile gradient differs from the hand-written one or
whose gradients disagree with finite differences; these tests run exactly those checks on every workload, check
the peers that import, and run ``--quick`` end to end.
"""

import inspect
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import harness  # noqa: E402
import overheads  # noqa: E402
from workloads import workloads  # noqa: E402

from adcompile import grad  # noqa: E402

WORKLOADS = {w.key: w for w in workloads()}


@pytest.mark.parametrize("key", list(WORKLOADS))
def test_adcompile_and_hand_written_gradients_agree_with_each_other_and_finite_differences(key):
    w = WORKLOADS[key]
    harness.check_workload(w, grad(w.f, argnums=w.argnums))  # raises CheckFailed on any disagreement


def test_the_check_catches_a_wrong_hand_written_gradient():
    w = WORKLOADS["chain-1e3"]
    wrong = harness.Workload(w.key, w.name, w.f, lambda x: w.hand(x) * (1 + 1e-7), w.args, w.argnums)
    with pytest.raises(harness.CheckFailed, match="adcompile vs hand-written"):
        harness.check_workload(wrong, grad(w.f))


def test_the_finite_difference_check_catches_a_wrong_derivative():
    w = WORKLOADS["scalar-expr"]
    g = list(w.hand(*w.args))
    g[1] += 1e-4
    with pytest.raises(harness.CheckFailed, match="central differences"):
        harness.assert_matches_fd(tuple(g), w, harness.finite_difference_checks(w), "perturbed")


def test_the_finite_difference_check_catches_a_wrong_entry_of_a_large_gradient():
    w = WORKLOADS["logistic"]
    with pytest.raises(harness.CheckFailed, match="central differences"):
        harness.assert_matches_fd(w.hand(*w.args) * 1.001, w, harness.finite_difference_checks(w), "perturbed")


@pytest.mark.parametrize("key", [k for k, w in WORKLOADS.items() if w.peers and "1e6" not in k])
def test_peers_that_import_give_the_hand_written_gradient(key):
    peers, _ = harness.load_peers()
    if not peers:
        pytest.skip("no peer (autograd, jax, torch) importable")
    w = WORKLOADS[key]
    for p in peers:
        fn, args, unpack = p.prepare(w)
        harness.assert_same(unpack(fn(*args)), w.hand(*w.args), w.argnums, p.name)


@pytest.mark.parametrize("lines", [10, 100])
def test_the_first_call_functions_have_the_lines_asked_for_and_a_correct_gradient(lines, tmp_path):
    path = overheads.write_function(tmp_path, lines)
    f = overheads.load_function(path)
    assert len(inspect.getsource(f).splitlines()) == lines
    args = overheads.first_call_args()
    w = harness.Workload("generated", "generated", f, lambda *a: None, args, (0, 1, 2))
    harness.assert_matches_fd(grad(f, argnums=(0, 1, 2))(*args), w, harness.finite_difference_checks(w), "generated")


def test_the_peak_memory_measure_sees_numpy_buffers():
    m = overheads.peak_memory(WORKLOADS["mlp"])
    assert m["hand"] > 784 * 256 * 8  # the weight gradient alone
    assert m["adcompile"] > 784 * 256 * 8


def test_quick_run_exits_cleanly_and_reports_every_workload_and_target():
    run = subprocess.run(
        [sys.executable, str(BENCHMARKS / "run.py"), "--quick"],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert "CORRECTNESS CHECK FAILED" not in run.stderr
    for key in WORKLOADS:
        assert f"| `{key}`: " in run.stdout
    for measure in ["first call, 10-line", "first call, 100-line", "overhead", "import adcompile", "peak memory"]:
        assert measure in run.stdout


def test_only_selects_workloads_and_a_wrong_gradient_stops_the_run_before_timing(monkeypatch, capsys):
    import run as bench_run

    assert bench_run.selected(list(WORKLOADS), "rosen,loop-") == [
        "rosenbrock-10",
        "rosenbrock-1e3",
        "rosenbrock-1e6",
        "loop-recurrence",
        "loop-rnn-store",
    ]
    w = WORKLOADS["scalar-expr"]
    broken = harness.Workload(w.key, w.name, w.f, lambda *a: tuple(np.array(w.hand(*a)) + 1.0), w.args, w.argnums)
    monkeypatch.setattr(bench_run, "workloads", lambda: [broken])
    monkeypatch.setattr(harness, "pin_to_one_core", lambda: None)  # leave the test process's affinity alone
    assert bench_run.main(["--only", "scalar-expr", "--no-peers", "--output", "-"]) == 1
    assert "CORRECTNESS CHECK FAILED" in capsys.readouterr().err
