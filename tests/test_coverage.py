"""docs/coverage.md is what ``python -m adcompile.coverage`` writes from the registry: regenerate it with new rules."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import adcompile
from adcompile import coverage
from adcompile.primitives import _REGISTRY

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_coverage_page_is_up_to_date():
    """In a fresh interpreter, so that only the package's own rules count (not those other tests register)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run(
        [sys.executable, "-m", "adcompile.coverage", "--check"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, f"{run.stderr}docs/coverage.md differs from the registry: regenerate it"


def cube(x):
    return x * x * x


def test_a_rule_registered_later_appears_in_the_table():
    @adcompile.defvjp(cube)
    def _(g, ans, x):
        return g * 3 * x * x

    try:
        row = next(r for r in coverage.rows() if r.name.endswith("test_coverage.cube"))
        assert (row.reverse, row.forward, row.differentiable) == (True, False, True)
        assert "test_coverage.cube | elementwise | yes | no |" in coverage.render()
    finally:
        del _REGISTRY[id(cube)]


def test_every_rule_is_counted_once():
    rows = coverage.rows()
    assert len({r.name for r in rows}) == len(rows)
    assert {"np.maximum", "np.clip", "np.prod", "np.cumsum", "np.median"} <= {r.name for r in rows}
    assert next(r for r in rows if r.name == "np.heaviside").differentiable is False
    assert coverage.render().count("| np.sum | reduction | yes | yes |") == 1
    assert "- np.isnan: test" in coverage.render()
