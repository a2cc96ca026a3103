"""The error hierarchy.

Every error about the user's code carries a :class:`Location` and renders as::

    model.py:12:9: no derivative rule for math.gamma()
        y = math.gamma(x) * x
            ^^^^^^^^^^^^^
    hint: register a rule: @adcompile.defvjp(math.gamma) on a function (g, ans, x) returning the adjoint of x
"""

from __future__ import annotations

import linecache
from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """Where in the user's source a statement or expression came from (1-based line, 0-based column)."""

    filename: str
    line: int
    col: int = 0
    end_col: int | None = None
    function: str | None = None  # the user's function it is in, when inlined into another

    def __str__(self) -> str:
        return f"{self.filename}:{self.line}:{self.col + 1}"

    def source_line(self) -> str:
        return linecache.getline(self.filename, self.line).rstrip("\n")


class AdCompileError(Exception):
    """Base class of every error adcompile raises about the code it is asked to differentiate."""

    def __init__(self, message: str, loc: Location | None = None, hint: str | None = None):
        self.message = message
        self.loc = loc
        self.hint = hint
        super().__init__(self._render())

    def _render(self) -> str:
        if self.loc is None:
            text = self.message
        else:
            text = f"{self.loc}: {self.message}"
            line = self.loc.source_line()
            if line:
                stripped = line.lstrip()
                indent = len(line) - len(stripped)
                width = 1
                if self.loc.end_col is not None and self.loc.end_col > self.loc.col:
                    width = self.loc.end_col - self.loc.col
                caret_col = max(self.loc.col - indent, 0)
                width = max(1, min(width, len(stripped) - caret_col))
                text += f"\n    {stripped}\n    {' ' * caret_col}{'^' * width}"
        if self.hint:
            text += f"\nhint: {self.hint}"
        return text


class UnsupportedSyntaxError(AdCompileError):
    """The function uses a Python construct adcompile does not lower (yet)."""


class NonDifferentiableError(AdCompileError):
    """A value on the differentiable path goes through an operation with no derivative rule."""


class SourceUnavailableError(AdCompileError):
    """The function's source cannot be read (built-in, C extension, defined in ``exec`` without linecache)."""


class OutputError(AdCompileError):
    """The function's output is not something the requested derivative applies to (e.g. a vector for ``grad``)."""


class UnpackingError(AdCompileError, ValueError):
    """``a, b = v`` where ``v`` is known, when compiling, to have another number of elements: the ``ValueError``
    Python would raise, located."""
