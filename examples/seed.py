"""The worked example of reverse-mode AD: y1 = x1 (x2 - x3), y2 = x3 log(1 - x1).

Run it (``python examples/seed.py``) to see the gradient, or look at what adcompile generates:

    adcompile show examples/seed.py:g --ir                        # the SSA decomposition u₋₂ ... u₆
    adcompile show examples/seed.py:g --wrt x1,x2,x3 --at 0.5 2 3  # the adjoint, specialised to floats
"""

import numpy as np

from adcompile import grad, value_and_grad


def g(x1, x2, x3):
    y1 = x1 * (x2 - x3)
    y2 = x3 * np.log(1 - x1)
    return y1 + y2


def pair(x1, x2, x3):
    """y1 and y2 as two outputs: ``adcompile explain examples/seed.py:pair --at 0.5 2 3`` works the example by hand,
    3 forward sweeps (one per input) against 2 reverse sweeps (one per output)."""
    y1 = x1 * (x2 - x3)
    y2 = x3 * np.log(1 - x1)
    return y1, y2


if __name__ == "__main__":
    dg = grad(g, argnums=(0, 1, 2))
    print("g(0.5, 2, 3)      =", g(0.5, 2.0, 3.0))
    print("∂g/∂(x1, x2, x3)  =", dg(0.5, 2.0, 3.0))
    # closed form: (x2 - x3 - x3 / (1 - x1), x1, log(1 - x1) - x1)
    print("closed form       =", (2.0 - 3.0 - 3.0 / 0.5, 0.5, np.log(0.5) - 0.5))
    print("value_and_grad    =", value_and_grad(g)(0.5, 2.0, 3.0))
