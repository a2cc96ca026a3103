"""Activity analysis: which variables carry a derivative, for the reverse and the forward transforms alike.

A variable is active when it depends on a differentiated input through differentiable primitives and influences
the output. Operands read only for their shape carry nothing (``SHAPE_ONLY``); they appear in adjoint code, which
forward mode differentiates again (``hessian``). Tapes are followed by arity (see :func:`activity`).
"""

from __future__ import annotations

from .inplace import IN_PLACE
from .ir import Assign, Break, For, Function, If, Pack, Pop, Push, Var
from .primitives import lookup
from .rules_linalg import matmul_left, matmul_right
from .rules_shape import (
    diag_adjoint,
    diagonal_adjoint,
    reshape_like,
    unrepeat,
    untake,
    untake_along_axis,
    untile,
)
from .runtime import broadcast_like, cast_like, expand_to, unbroadcast
from .runtime import reshape_like as runtime_reshape_like

# Operands of the bookkeeping helpers that are read only for their shape (or dtype): whatever their tangent, they
# contribute nothing. Their rules say None there, which elsewhere means "no derivative" and is refused.
SHAPE_ONLY: dict = {
    unbroadcast: (1,),
    broadcast_like: (1,),
    expand_to: (1,),
    runtime_reshape_like: (1,),
    reshape_like: (1,),
    cast_like: (1,),
    unrepeat: (1,),
    untile: (1,),
    untake: (1,),
    untake_along_axis: (1,),
    diagonal_adjoint: (1,),
    diag_adjoint: (1,),
    matmul_left: (2,),
    matmul_right: (2,),
}


def activity(fn: Function, wrt, outputs=None) -> tuple[set, dict]:
    """(the variables that get tangents, and for each arity of a tape's entries the positions whose tangents are
    kept with them).

    A variable is active when it depends on a differentiated input through differentiable primitives and
    influences the output. What a tape keeps is followed by arity: a ``Push`` and the ``Pop`` that takes its
    entry back have the same number of values, so the positions whose tangents ride along are decided per
    arity (the union over the tapes of the function: at worst an exact zero is kept for a value that does not
    vary at one place). ``outputs``: the operands that count as the output, by default all that ``fn`` returns.
    A branch's test only steers: it is never active. A join is active when the value on either path is.
    """
    varied = set(wrt)
    pushed: dict = {}  # arity -> positions of a varied value in some push

    def forward(body):
        for st in body:
            if isinstance(st, If):
                forward(st.then)
                forward(st.orelse)
                varied.update(v for v, x, y in st.joins if x in varied or y in varied)
            elif isinstance(st, For):
                while True:
                    count = len(varied)
                    varied.update(v for v, init, nxt in st.carried if init in varied or nxt in varied)
                    forward(st.body)
                    varied.update(v for v, init, nxt in st.carried if init in varied or nxt in varied)
                    if len(varied) == count:
                        break
            elif isinstance(st, Break):
                continue
            elif isinstance(st, Push):
                pushed.setdefault(len(st.values), set()).update(k for k, v in enumerate(st.values) if v in varied)
            elif isinstance(st, Pop):
                where = pushed.get(len(st.targets), set())
                varied.update(t for k, t in enumerate(st.targets) if k in where)
            elif st.prim.differentiable and _varies(st, varied):
                varied.add(st.target)

    useful = {v for v in (fn.ret.operands() if outputs is None else outputs) if isinstance(v, Var)}
    wanted: dict = {}  # arity -> positions of a useful value in some pop

    def backward(body):
        for st in reversed(body):
            if isinstance(st, If):
                for v, x, y in st.joins:
                    if v in useful:
                        useful.update(o for o in (x, y) if isinstance(o, Var))
                backward(st.then)
                backward(st.orelse)
            elif isinstance(st, For):
                while True:
                    count = len(useful)
                    for v, init, nxt in st.carried:
                        if v in useful:
                            useful.update(o for o in (init, nxt) if isinstance(o, Var))
                    backward(st.body)
                    if len(useful) == count:
                        break
            elif isinstance(st, Break):
                continue
            elif isinstance(st, Pop):
                wanted.setdefault(len(st.targets), set()).update(k for k, t in enumerate(st.targets) if t in useful)
            elif isinstance(st, Push):
                where = wanted.get(len(st.values), set())
                useful.update(v for k, v in enumerate(st.values) if k in where and isinstance(v, Var))
            elif st.target in useful and st.prim.differentiable:
                useful.update(a for a in st.operands() if isinstance(a, Var))

    def size():
        return len(varied), len(useful), sum(map(len, pushed.values())), sum(map(len, wanted.values()))

    while True:  # a tape's entries may be pushed by a loop the analysis visits after the pop that reads them
        before = size()
        forward(fn.body)
        backward(fn.body)
        if size() == before:
            break
    taped = {n: tuple(sorted(pushed[n] & wanted.get(n, set()))) for n in pushed}
    return varied & useful, taped


def _varies(st: Assign, varied: set) -> bool:
    """Whether an operand that carries a derivative varies: not an index (which only steers) nor an operand read
    only for its shape."""
    prim = lookup(st.prim.fn) if st.prim in IN_PLACE else st.prim
    skip = SHAPE_ONLY.get(prim.fn, ())
    for i, a in enumerate(st.args):
        if i in skip:
            continue
        if isinstance(a, Var) and a in varied:
            return True
        if isinstance(a, Pack) and any(isinstance(v, Var) and v in varied for v in a.operands()):
            return True
    return any(isinstance(v, Var) and v in varied for _, v in st.kwargs)


__all__ = ["SHAPE_ONLY", "activity"]
