"""``SymInt``/``SymFloat``/``SymBool`` and the ``sym_*`` helpers, with PyTorch's eager semantics.

PyTorch's symbolic numbers exist while ``torch.compile``/``export`` trace with dynamic shapes; in eager
code every size is a plain ``int`` and the helpers reduce to Python arithmetic. ttorch never traces with
symbolic shapes (its ``compile`` and ``fx`` keep concrete sizes), so no value is ever an instance of the
three classes: they exist for ``isinstance`` checks and annotations, and each helper takes PyTorch's
plain-value path (ints, floats, NumPy scalars, one-element tensors where Python's ``int``/``float`` accept
them), with PyTorch's ``AssertionError``s for what it rejects.

Example::

    >>> ttorch.sym_max(3, 2.0), ttorch.sym_int(-2.7), ttorch.sym_ite(False, 1, 2), ttorch.sym_sum([1, 2, 3])
    (3.0, -2, 2, 6)
"""
import builtins
import math

import numpy as np

__all__ = ["SymInt", "SymFloat", "SymBool", "sym_int", "sym_float", "sym_max", "sym_min", "sym_not", "sym_ite",
           "sym_sqrt", "sym_sum"]


class _Sym:
    """A symbolic number: a node of a shape environment (never made in eager ttorch)."""

    def __init__(self, node):
        self.node = node

    def __repr__(self):
        return f"{type(self).__name__}({self.node!r})"


class SymInt(_Sym):
    """Like an ``int`` (in ``isinstance`` checks of shape code); a traced, symbolic size in PyTorch."""


class SymFloat(_Sym):
    """Like a ``float``; a symbolic float in PyTorch's traces."""


class SymBool(_Sym):
    """Like a ``bool``; a symbolic condition in PyTorch's traces."""


_ALL_TYPES = (np.integer, np.floating, builtins.int, builtins.float)
_FLOAT_TYPES = (np.floating, builtins.float)


def sym_int(a):
    """``int(a)`` (truncation toward zero)."""
    return builtins.int(a)


def sym_float(a):
    """``float(a)``."""
    if hasattr(a, "__sym_float__"):
        return a.__sym_float__()
    return builtins.float(a)


def _check_num(a):
    if not isinstance(a, _ALL_TYPES):
        raise AssertionError(f"expected {_ALL_TYPES}, got {type(a)}")


def sym_max(a, b):
    """``max(a, b)`` of ints/floats, a ``float`` when either is a float."""
    _check_num(a)
    _check_num(b)
    if isinstance(a, _FLOAT_TYPES) or isinstance(b, _FLOAT_TYPES):
        return builtins.float(builtins.max(a, b))
    return builtins.max(a, b)


def sym_min(a, b):
    """``min(a, b)`` of ints/floats, a ``float`` when either is a float."""
    _check_num(a)
    _check_num(b)
    if isinstance(a, _FLOAT_TYPES) or isinstance(b, _FLOAT_TYPES):
        return builtins.float(builtins.min(a, b))
    return builtins.min(a, b)


def sym_not(a):
    """``not a`` (a tensor's ``__sym_not__``... falls back on its truth value, as in PyTorch eager)."""
    if hasattr(a, "__sym_not__"):
        return a.__sym_not__()
    return not a


def sym_ite(b, t, f):
    """``t if b else f``; ``b`` must be a ``bool`` and ``t``, ``f`` of one type."""
    if not isinstance(b, (SymBool, builtins.bool)):
        raise AssertionError(f"expected SymBool or bool, got {type(b)}")
    if type(t) is not type(f):
        raise AssertionError(f"type mismatch: {type(t)} vs {type(f)}")
    return t if b else f


def sym_sqrt(a):
    """``math.sqrt(a)``."""
    if hasattr(a, "__sym_sqrt__"):
        return a.__sym_sqrt__()
    return math.sqrt(a)


def sym_sum(*args):
    """``sum`` of ``sym_sum([a, b, c])`` or ``sym_sum(a, b, c)``."""
    if len(args) == 1 and isinstance(args[0], (list, tuple)):
        args = args[0]
    return builtins.sum(args)
