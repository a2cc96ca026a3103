"""`adcompile explain`: the worked example's tables (golden), checked against closed forms and finite differences,
branches and loops, and the errors."""

import math
import pathlib
import re

import numpy as np
import pytest
from fd import numeric_grad

from adcompile import ir_text
from adcompile.cli import load, main
from adcompile.explain import explanation, trace

ROOT = pathlib.Path(__file__).resolve().parent.parent
GOLDEN = pathlib.Path(__file__).parent / "golden"
SEED = str(ROOT / "examples" / "seed.py")
FAN_OUT = str(ROOT / "examples" / "fan_out.py")

e = load(f"{FAN_OUT}:e")
g = load(f"{SEED}:g")
pair = load(f"{SEED}:pair")

# -- functions with branches and loops, written as a user would ----------------------------------------------------


def branchy(x, y):
    if x > y:
        z = x * y
    else:
        z = np.sin(x)
    return z + math.exp(-y)


def power(x, n=3):
    p = 1.0
    for i in range(n):
        p = p * x + i
    return p


def newton(a):
    x = a
    while x * x - a > 1e-6:
        x = 0.5 * (x + a / x)
    return x


def polar(r, t):
    return r * np.cos(t), r * np.sin(t), np.hypot(r, t)


def fact(x, m):
    if m <= 0:
        return 1.0
    return x * fact(x, m - 1)


def stacked(x):
    v = np.array([x, 2 * x])
    return np.sum(v)


def long_loop(x):
    s = x
    for i in range(1000):
        s = s * 1.0001
    return s


# -- golden output ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, golden",
    [([], "pair_explain.txt"), (["--format", "markdown"], "pair_explain.md")],
)
def test_explain_matches_the_reviewed_golden_output(argv, golden, capsys):
    assert main(["explain", f"{SEED}:pair", "--at", "0.5", "2", "3", *argv]) == 0
    assert capsys.readouterr().out == (GOLDEN / golden).read_text(encoding="utf-8")


def test_the_worked_example_needs_three_forward_sweeps_and_two_reverse_sweeps():
    ex = explanation(pair, (0.5, 2.0, 3.0))
    assert (ex.forward_count, ex.reverse_count) == (3, 2)
    assert ex.agree


# -- the numbers, against closed forms ----------------------------------------------------------------------------


@pytest.mark.parametrize("x1, x2, x3", [(0.5, 2.0, 3.0), (-1.5, 0.25, -2.0), (0.9, -3.0, 0.1)])
def test_the_jacobian_is_the_textbook_closed_form(x1, x2, x3):
    ex = explanation(pair, (x1, x2, x3))
    expected = [[x2 - x3, x1, -x1], [-x3 / (1 - x1), 0.0, math.log(1 - x1)]]
    np.testing.assert_allclose(ex.jacobian, expected, rtol=1e-12)


def test_the_reverse_table_holds_the_adjoints_of_the_worked_example():
    x1, x2, x3 = 0.5, 2.0, 3.0
    ex = explanation(pair, (x1, x2, x3))
    adjoint = {label: ex.reverse[ex.row(label)] for label in ("u₅", "u₄", "u₃", "u₂", "u₁", "u₀", "u₋₁", "u₋₂")}
    # ∂y₁/∂u and ∂y₂/∂u, worked by hand: u₂ = y₁ and u₅ = y₂; u₄ = log(u₃), u₃ = 1 − x₁
    assert adjoint["u₅"] == [0.0, 1.0] and adjoint["u₂"] == [1.0, 0.0]
    assert adjoint["u₄"] == [0.0, x3]
    assert adjoint["u₃"] == [0.0, x3 / (1 - x1)]
    assert adjoint["u₁"] == [x1, 0.0]
    assert adjoint["u₀"] == pytest.approx([-x1, math.log(1 - x1)])
    assert adjoint["u₋₁"] == [x1, 0.0]
    assert adjoint["u₋₂"] == pytest.approx([x2 - x3, -x3 / (1 - x1)])


def test_fan_out_sums_both_paths():
    a, b = 2.0, 1.0
    ex = explanation(e, (a, b))
    c, d = a + b, b + 1
    assert ex.jacobian == [[d, d + c]]
    assert ex.reverse[ex.row("u₀")] == [d + c]


# -- the numbers, against finite differences ----------------------------------------------------------------------

CASES = [
    (pair, (0.5, 2.0, 3.0)),
    (g, (-0.3, 1.5, 2.5)),
    (branchy, (2.0, 1.0)),
    (branchy, (0.5, 1.0)),
    (power, (1.7,)),
    (newton, (2.0,)),
    (polar, (1.5, 0.3)),
]


def _values(fun, args):
    """Every traced value, by label (the same labels at nearby points: the same path is taken)."""
    return {n.label: float(n.value) for n in trace(fun, args).nodes if n.real}


@pytest.mark.parametrize("fun, args", CASES, ids=[f"{f.__name__}{a}" for f, a in CASES])
def test_every_row_of_the_forward_table_is_a_finite_difference(fun, args):
    ex = explanation(fun, args)
    rows = {n.label: ex.forward[k] for k, n in enumerate(ex.trace.nodes) if n.real}
    for j, k in enumerate(ex.trace.inputs):
        up, down = list(args), list(args)
        up[k] += 1e-6
        down[k] -= 1e-6
        hi, lo = _values(fun, tuple(up)), _values(fun, tuple(down))
        assert hi.keys() == rows.keys()
        for label, row in rows.items():
            assert row[j] == pytest.approx((hi[label] - lo[label]) / 2e-6, rel=1e-5, abs=1e-6), label


@pytest.mark.parametrize("fun, args", CASES, ids=[f"{f.__name__}{a}" for f, a in CASES])
def test_the_jacobian_is_the_finite_difference_of_the_function_itself(fun, args):
    ex = explanation(fun, args)
    assert ex.agree
    for k in range(ex.reverse_count):
        output = (lambda *a, k=k: fun(*a)[k]) if ex.reverse_count > 1 else fun
        for j in range(ex.forward_count):
            expected = numeric_grad(output, args, j)
            assert ex.jacobian[k][j] == pytest.approx(expected, rel=1e-6, abs=1e-8)
            # the reverse sweep for output k, read at input j
            assert ex.reverse[ex.trace.inputs[j]][k] == pytest.approx(expected, rel=1e-6, abs=1e-8)


# -- names, branches, loops ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("fun, args", [(pair, (0.5, 2.0, 3.0)), (branchy, (2.0, 1.0)), (newton, (2.0,))])
def test_names_are_the_ones_show_ir_prints(fun, args):
    ir = ir_text(fun)
    defined = dict(re.findall(r"^ +(u\S+) += (.+?)(?: {3}|$)", ir, re.M))
    for node in trace(fun, args).nodes:
        if node.kind == "op":
            base = node.label.split("⁽")[0]
            assert base in defined, node.label
            if base == node.label:  # outside loops, the very same line
                assert node.expr == defined[base]


def test_only_the_branch_taken_is_listed(capsys):
    assert main(["explain", f"{__file__}:branchy", "--at", "0.5", "1"]) == 0
    out = capsys.readouterr().out
    assert "if u₁ is False: the else branch" in out
    assert "sin(u₋₁)" in out and "u₋₁ · u₀" not in out


def test_loops_are_unrolled_with_the_iteration_as_a_superscript(capsys):
    assert main(["explain", f"{__file__}:power", "--at", "2", "3", "--ascii"]) == 0
    out = capsys.readouterr().out
    assert "iteration 3" in out and "the loop ran 3 times" in out
    assert "u[1]{3}" in out  # p after the third iteration
    assert "d/dn" not in out  # n keeps its int default's type: a count, not an input to differentiate


def test_ascii_output_has_no_unicode(capsys):
    assert main(["explain", f"{SEED}:pair", "--at", "0.5", "2", "3", "--ascii"]) == 0
    out = capsys.readouterr().out
    assert out.isascii()
    assert "u[-2] = x1" in out and "dy1/du" in out


# -- errors -------------------------------------------------------------------------------------------------------


def test_array_arguments_are_rejected_with_a_clear_message(capsys):
    assert main(["explain", f"{SEED}:pair", "--at", "np.ones(3)", "2", "3"]) == 2
    err = capsys.readouterr().err
    assert "explain works on scalar (float) arguments" in err and "x1 is an array of shape (3,)" in err


def test_a_missing_at_says_what_to_give(capsys):
    assert main(["explain", f"{SEED}:pair"]) == 2
    err = capsys.readouterr().err
    assert "--at V1 V2 ..., one number per parameter of pair(x1, x2, x3)" in err


def test_too_few_values_are_reported(capsys):
    assert main(["explain", f"{SEED}:pair", "--at", "0.5", "2"]) == 2
    assert "missing a required argument: 'x3'" in capsys.readouterr().err


def test_a_recursive_call_cannot_be_explained(capsys):
    assert main(["explain", f"{__file__}:fact", "--at", "2", "3"]) == 1
    err = capsys.readouterr().err
    assert "explain cannot follow the recursive call of fact()" in err
    assert f"{__file__}:" in err and "return x * fact(x, m - 1)" in err and "^^^" in err


def test_an_intermediate_array_is_rejected_where_it_is_made(capsys):
    assert main(["explain", f"{__file__}:stacked", "--at", "2"]) == 1
    err = capsys.readouterr().err
    assert "is an array of shape (2,)" in err and "v = np.array([x, 2 * x])" in err


def test_a_loop_that_runs_too_long_is_rejected_at_the_loop(capsys):
    assert main(["explain", f"{__file__}:long_loop", "--at", "2"]) == 1
    err = capsys.readouterr().err
    assert "unrolls every iteration of this loop" in err and "for i in range(1000):" in err
