"""adcompile: exact derivatives of plain Python and NumPy functions, compiled to readable Python source.

>>> import numpy as np
>>> from adcompile import grad
>>> df = grad(lambda x: x * np.sin(x) + np.exp(-x * x))
>>> round(float(df(1.3)), 6)
0.831556
"""

from .api import (
    derivative_source,
    grad,
    hessian,
    hvp,
    ir_text,
    jacfwd,
    jacobian,
    jacrev,
    jvp,
    value_and_grad,
    vjp,
)
from .errors import (
    AdCompileError,
    Location,
    NonDifferentiableError,
    OutputError,
    SourceUnavailableError,
    UnsupportedSyntaxError,
)
from .primitives import defjvp, defvjp

__version__ = "0.1.0"

__all__ = [
    "grad",
    "value_and_grad",
    "derivative_source",
    "ir_text",
    "vjp",
    "jvp",
    "jacfwd",
    "jacrev",
    "jacobian",
    "hessian",
    "hvp",
    "defvjp",
    "defjvp",
    "AdCompileError",
    "UnsupportedSyntaxError",
    "NonDifferentiableError",
    "SourceUnavailableError",
    "OutputError",
    "Location",
]
