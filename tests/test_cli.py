"""`adcompile show`: golden output for the seed example, flags, and errors."""

import pathlib
import subprocess
import sys

import pytest

from adcompile.cli import main

ROOT = pathlib.Path(__file__).resolve().parent.parent
GOLDEN = pathlib.Path(__file__).parent / "golden"
SEED = str(ROOT / "examples" / "seed.py")


@pytest.mark.parametrize(
    "argv, golden",
    [
        (["--wrt", "x1,x2,x3", "--at", "0.5", "2", "3"], "seed_show_at.txt"),
        ([], "seed_show_generic.txt"),
        (["--ir"], "seed_ir.txt"),
    ],
)
def test_show_matches_the_reviewed_golden_output(argv, golden, capsys):
    assert main(["show", f"{SEED}:g", *argv]) == 0
    assert capsys.readouterr().out == (GOLDEN / golden).read_text()


def test_show_output_is_black_formatted_python_that_compiles(capsys):
    import black

    main(["show", f"{SEED}:g", "--wrt", "x1,x3"])
    out = capsys.readouterr().out
    compile(out, "<show>", "exec")
    assert black.format_str(out, mode=black.Mode(line_length=100)) == out
    assert "return (bx1, bx3)" in out


def test_show_accepts_module_colon_function(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert main(["show", "examples.seed:g", "--wrt", "1"]) == 0
    assert "def g_grad(x1, x2, x3):" in capsys.readouterr().out


def test_show_value_flag_returns_the_value_too(capsys):
    main(["show", f"{SEED}:g", "--value", "--at", "0.5", "2", "3"])
    assert "return (_t3, bx1)" in capsys.readouterr().out


def test_unknown_parameter_is_reported():
    with pytest.raises(SystemExit, match="no parameter 'x9'"):
        main(["show", f"{SEED}:g", "--wrt", "x9"])


def test_missing_file_is_reported():
    with pytest.raises(SystemExit, match="no such file"):
        main(["show", "nonexistent_file.py:g"])


def test_differentiation_error_is_printed_with_location(tmp_path, capsys):
    bad = tmp_path / "bad.py"
    bad.write_text("import math\n\ndef f(x):\n    return math.gamma(x)\n")
    assert main(["show", f"{bad}:f"]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:4:12" in err and "math.gamma" in err


def test_console_script_runs():
    out = subprocess.run(
        [sys.executable, "-m", "adcompile.cli", "show", f"{SEED}:g", "--ir", "--ascii"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "u[-2] = x1" in out
