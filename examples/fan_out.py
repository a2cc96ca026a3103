"""Fan-out: e = (a + b) * (b + 1). The value b reaches e along two paths, so its adjoint is a sum.

    python examples/fan_out.py
    adcompile show examples/fan_out.py:e --wrt a,b --at 2 1

By hand: c = a + b, d = b + 1, e = c * d, so ∂e/∂a = d and ∂e/∂b = d + c (one term per path).
In the generated code the second path's contribution is added to the first: bb = c + d.
"""

from adcompile import grad


def e(a, b):
    c = a + b
    d = b + 1
    return c * d


if __name__ == "__main__":
    a, b = 2.0, 1.0
    de_da, de_db = grad(e, argnums=(0, 1))(a, b)
    print(f"e({a}, {b}) = {e(a, b)}")
    print(f"∂e/∂a = {de_da}   (d = b + 1 = {b + 1})")
    print(f"∂e/∂b = {de_db}   (d + c = {b + 1} + {a + b})")
