"""Helpers in another module, with globals of their own, for tests/test_calls.py."""

import numpy as xp

SCALE = 3.0


def scaled_tanh(v, shift=0.0):
    return SCALE * xp.tanh(v + shift)


def polar(r, theta):
    return r * xp.cos(theta), r * xp.sin(theta)
