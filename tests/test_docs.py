"""The documentation is executable: every example in docs/*.md runs here and must print exactly what the page shows.

- ``pycon`` blocks are doctests. Each page's blocks run in order, in one namespace, like ``python -m doctest``.
- ``console`` blocks are shell sessions. Each ``$ adcompile ...`` line runs as ``python -m adcompile.cli ...`` from
  the repository root, and its stdout and stderr together must equal the lines below it. ``$ echo $?`` checks the
  exit code of the command before it; a command not followed by one must exit 0 unless it prints an error.
  Error messages name files by absolute path: in the pages, ``/path/to/adcompile`` stands for the repository root.
"""

from __future__ import annotations

import doctest
import os
import pathlib
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass

import pytest

from adcompile.primitives import _REGISTRY

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = sorted((ROOT / "docs").glob("*.md"))
ROOT_IN_DOCS = "/path/to/adcompile"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)


def blocks(path: pathlib.Path, lang: str):
    """(first line number, text) of every fenced block of language ``lang`` in ``path``."""
    text = path.read_text(encoding="utf-8")
    for m in FENCE.finditer(text):
        if m.group(1) == lang:
            yield text.count("\n", 0, m.start(2)) + 1, m.group(2)


# -- doctests -----------------------------------------------------------------------------------------------------

DOCTEST_PAGES = [p for p in DOCS if any(blocks(p, "pycon"))]


def test_the_api_page_has_doctests():
    assert ROOT / "docs" / "api.md" in DOCTEST_PAGES


@pytest.fixture
def registry_restored():
    """Rules the examples register (softplus, np.logaddexp) must not leak into other tests."""
    saved = {key: (prim, {**vars(prim), "_templates": dict(prim._templates)}) for key, prim in _REGISTRY.items()}
    yield
    _REGISTRY.clear()
    for key, (prim, state) in saved.items():
        vars(prim).clear()
        vars(prim).update(state)
        _REGISTRY[key] = prim


@pytest.mark.parametrize("path", DOCTEST_PAGES, ids=[p.name for p in DOCTEST_PAGES])
def test_doctests(path, registry_restored):
    lines = [""] * path.read_text(encoding="utf-8").count("\n")
    for first, text in blocks(path, "pycon"):  # only the pycon blocks, at their own line numbers
        lines[first - 1 : first - 1 + text.count("\n")] = text.splitlines()
    test = doctest.DocTestParser().get_doctest(
        "\n".join(lines) + "\n", {"__name__": "__docs__"}, path.name, str(path), 0
    )
    report: list[str] = []
    result = doctest.DocTestRunner().run(test, out=report.append)
    assert result.attempted > 0
    assert result.failed == 0, "".join(report)


# -- console sessions ---------------------------------------------------------------------------------------------


@dataclass
class Command:
    page: str
    line: int
    argv: list
    output: str
    exit_code: int | None = None  # from a following `$ echo $?`


def commands() -> list[Command]:
    found = []
    for path in DOCS:
        for first, text in blocks(path, "console"):
            last: Command | None = None  # the command the next lines belong to
            echo = False  # the next line is the exit code of `last`
            for k, line in enumerate(text.splitlines()):
                where = f"{path.name}:{first + k}"
                if echo:
                    last.exit_code = int(line)
                    echo = False
                elif line == "$ echo $?":
                    assert last is not None and last.exit_code is None, f"{where}: echo $? without a command"
                    echo = True
                elif line.startswith("$ "):
                    argv = shlex.split(line[2:])
                    assert argv[0] == "adcompile", f"{where}: only adcompile commands can be checked"
                    last = Command(path.name, first + k, argv[1:], "")
                    found.append(last)
                else:
                    assert last is not None and last.exit_code is None, f"{where}: output without a command"
                    last.output += line + "\n"
    return found


COMMANDS = commands()


def test_every_page_with_console_blocks_is_checked():
    assert {c.page for c in COMMANDS} >= {"cli.md", "design.md"}


@pytest.mark.parametrize("cmd", COMMANDS, ids=[f"{c.page}:{c.line}" for c in COMMANDS])
def test_console(cmd):
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    env.pop("PYTHONPATH", None)  # `python -m` from the root imports this checkout of adcompile
    run = subprocess.run(
        [sys.executable, "-m", "adcompile.cli", *cmd.argv],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=120,
    )
    output = run.stdout.decode("utf-8").replace(str(ROOT), ROOT_IN_DOCS)
    assert output == cmd.output
    if cmd.exit_code is not None:
        assert run.returncode == cmd.exit_code
    elif not output.startswith("adcompile: "):
        assert run.returncode == 0
