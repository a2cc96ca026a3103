"""`adcompile graph`: the DOT of e = (a + b)(b + 1) (golden), fan-out, the choice of output, rendering."""

import pathlib
import re
import shutil

import pytest

from adcompile import graph as graph_module
from adcompile.cli import load, main
from adcompile.graph import to_dot

ROOT = pathlib.Path(__file__).resolve().parent.parent
GOLDEN = pathlib.Path(__file__).parent / "golden"
SEED = str(ROOT / "examples" / "seed.py")
FAN_OUT = str(ROOT / "examples" / "fan_out.py")

e = load(f"{FAN_OUT}:e")
pair = load(f"{SEED}:pair")


def edges(dot: str) -> list:
    """(source, target, label) of every edge."""
    return re.findall(r"^\s+(\w+) -> (\w+) \[label=\"([^\"]*)\"\];$", dot, re.M)


def labels(dot: str) -> dict:
    """Node id -> its label's lines."""
    return {m[0]: m[1].split("\\n") for m in re.findall(r"^\s+(\w+) \[label=\"([^\"]*)\"", dot, re.M)}


def test_the_fan_out_graph_matches_the_reviewed_golden_dot(capsys):
    assert main(["graph", f"{FAN_OUT}:e", "--at", "2", "1"]) == 0
    assert capsys.readouterr().out == (GOLDEN / "fan_out_graph.dot").read_text(encoding="utf-8")


def test_b_has_two_outgoing_edges_and_its_adjoint_is_the_sum_of_the_two_paths():
    a, b = 2.0, 1.0
    c, d = a + b, b + 1
    dot = to_dot(e, (a, b))
    nodes = labels(dot)
    b_id = next(k for k, lines in nodes.items() if lines[0] == "u₀ = b")
    out = [(t, lab) for s, t, lab in edges(dot) if s == b_id]
    assert len(out) == 2 and all(lab == "1" for _, lab in out)
    assert {nodes[t][0] for t, _ in out} == {"u₁ = u₋₁ + u₀   (c)", "u₂ = u₀ + 1   (d)"}
    assert nodes[b_id][2] == f"∂e/∂u₀ = {d:g} + {c:g} = {d + c:g}"  # ∂e/∂b = d + c, one term per path


def test_edges_carry_the_local_derivatives_and_optionally_the_rule():
    dot = to_dot(e, (2.0, 1.0), rules=True)
    found = {lab for _, _, lab in edges(dot)}
    assert {"u₂ = 2", "u₁ = 3", "1"} == found  # ∂e/∂c = d, ∂e/∂d = c, and the sums' ones


def test_each_output_can_be_chosen(capsys):
    assert main(["graph", f"{SEED}:pair", "--at", "0.5", "2", "3", "--output", "2"]) == 0
    dot = capsys.readouterr().out
    nodes = labels(dot)
    x1 = next(lines for lines in nodes.values() if lines[0] == "u₋₂ = x1")
    assert x1[2] == "∂y2/∂u₋₂ = -6"  # −x₃/(1 − x₁)
    assert "output y2" in dot and "output y1" not in dot


def test_several_outputs_need_output_k(capsys):
    assert main(["graph", f"{SEED}:pair", "--at", "0.5", "2", "3"]) == 2
    assert "pair() has 2 outputs; choose one with --output K, K from 1 to 2" in capsys.readouterr().err
    with pytest.raises(ValueError, match="K from 1 to 2"):
        to_dot(pair, (0.5, 2.0, 3.0), output=2)


def test_a_missing_at_says_what_to_give(capsys):
    assert main(["graph", f"{FAN_OUT}:e"]) == 2
    assert "graph needs the point to work at: --at V1 V2 ..." in capsys.readouterr().err


def test_o_dot_writes_dot(tmp_path, capsys):
    path = tmp_path / "e.dot"
    assert main(["graph", f"{FAN_OUT}:e", "--at", "2", "1", "-o", str(path)]) == 0
    assert path.read_text(encoding="utf-8") == (GOLDEN / "fan_out_graph.dot").read_text(encoding="utf-8")
    assert f"wrote {path}" in capsys.readouterr().out


def test_without_graphviz_the_dot_file_is_written_and_the_way_to_draw_it_said(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(graph_module.shutil, "which", lambda name: None)
    path = tmp_path / "e.svg"
    assert main(["graph", f"{FAN_OUT}:e", "--at", "2", "1", "-o", str(path)]) == 0
    out = capsys.readouterr().out
    assert not path.exists()
    assert (tmp_path / "e.dot").read_text(encoding="utf-8").startswith('digraph "e" {')
    assert "dot program is not installed" in out and f"dot -Tsvg {tmp_path / 'e.dot'} -o {path}" in out


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_svg_is_drawn_by_graphviz(tmp_path):
    path = tmp_path / "e.svg"
    assert main(["graph", f"{FAN_OUT}:e", "--at", "2", "1", "-o", str(path)]) == 0
    svg = path.read_text(encoding="utf-8")
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    for text in ("u₀ = b", "∂e/∂u₀ = 2 + 3 = 5", "u₃ = u₁ · u₂", "output e"):
        assert text in svg
