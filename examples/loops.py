"""Loops: the forward sweep keeps what the reverse sweep needs on a tape, and the reverse loop reads it back.

    python examples/loops.py
    adcompile show examples/loops.py:newton_sqrt --at 2.0     # a while loop: trips counted, then replayed backwards
    adcompile show examples/loops.py:recurrence --at 0.3 2.0 5
"""

import math

from adcompile import grad


def newton_sqrt(a):
    """Newton's iteration for sqrt(a); differentiated through every step it takes."""
    x = a
    while abs(x * x - a) > 1e-12 * a:
        x = 0.5 * (x + a / x)
    return x


def recurrence(x, w, steps):
    """A scalar recurrent cell unrolled by a loop, with a branch inside."""
    h = x
    loss = 0.0
    for t in range(steps):
        h = math.tanh(w * h + 0.1 * t)
        if h > 0:
            loss = loss + h * h
        else:
            loss = loss - h
    return loss


if __name__ == "__main__":
    a = 2.0
    print(f"d sqrt(a)/da at {a}: {grad(newton_sqrt)(a):.12f}   closed form 1/(2 sqrt(a)) = {0.5 / math.sqrt(a):.12f}")
    dx, dw = grad(recurrence, argnums=(0, 1))(0.3, 2.0, 5)
    eps = 1e-6
    fd_w = (recurrence(0.3, 2.0 + eps, 5) - recurrence(0.3, 2.0 - eps, 5)) / (2 * eps)
    print(f"d loss/dw = {dw:.9f}   central difference = {fd_w:.9f}")
