"""``TorchDispatchMode``: a context manager whose ``__torch_dispatch__`` sees every primitive op call.

Every ttorch op goes through ``Op.__call__`` (``ttorch/ops/_op.py``); while a mode is on, that call hands
the op to the innermost mode's ``__torch_dispatch__(func, types, args, kwargs)`` in place of running it.
As in PyTorch the mode sits below autograd: inside the handler the mode itself is off (``func(*args,
**kwargs)`` runs the op, through any outer modes), grad mode and forward AD are off, and the op's graph
node is recorded around what the handler returns. Backward rules are written in ttorch ops, so the
engine's backward ops reach the mode too. Composite ops (an ``impl`` without a backward: ``einsum``,
``outer``, ``tensordot``...) are not seen themselves: their inner ops are, as PyTorch's
CompositeImplicitAutograd ops decompose before its modes. Operators of ``ttorch.library`` reach the mode
with their own ``OpOverload``.

Deliberate differences: ``func`` is ``ttorch.ops.aten.<name>.<overload>`` (``ttorch/ops/_aten.py``) and
``args``/``kwargs`` are the ttorch op's own (``aten.addmm`` gets ``(input, mat1, mat2)`` with
``beta``/``alpha`` as kwargs; ``aten.convolution`` gets ttorch's conv2d arguments); ``types`` is ``()``
(ttorch has no ``__torch_dispatch__`` subclasses).
"""
import contextlib
import warnings

from ..autograd import grad_mode
from ..ops import _op

__all__ = ["TorchDispatchMode", "is_traceable_wrapper_subclass", "is_traceable_wrapper_subclass_type",
           "return_and_correct_aliasing"]

_STACK = []     # the modes on, innermost last


class TorchDispatchMode:
    """A context manager whose ``__torch_dispatch__`` intercepts each op call inside its ``with`` block.

    Example::

        >>> from ttorch.utils._python_dispatch import TorchDispatchMode
        >>> class Log(TorchDispatchMode):
        ...     def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        ...         print(func)
        ...         return func(*args, **(kwargs or {}))
        >>> with Log():
        ...     _ = ttorch.ones(2, 3) @ ttorch.ones(3, 2)
        aten.mm.default
    """

    def __init__(self, _dispatch_key=None):
        if _dispatch_key is not None:
            self.__dict__["_dispatch_key"] = _dispatch_key

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        raise NotImplementedError

    def __enter__(self):
        _push_mode(self)
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        _pop_mode()

    @classmethod
    def push(cls, *args, **kwargs):
        warnings.warn("`Mode.push()` is no longer necessary and can be replaced with just `with Mode()`")
        return cls(*args, **kwargs)

    @classmethod
    def is_infra_mode(cls):
        return False


def _sync():
    _op._dispatch_mode = _dispatch if _STACK else None


def _push_mode(mode):
    _STACK.append(mode)
    _sync()


def _pop_mode(k=None):
    if not _STACK:
        raise AssertionError("Trying to pop from an empty mode stack")
    mode = _STACK.pop()
    _sync()
    return mode


@contextlib.contextmanager
def _pop_mode_temporarily(k=None):
    old = _pop_mode(k)
    try:
        yield old
    finally:
        _push_mode(old)


def _len_torch_dispatch_stack():
    return len(_STACK)


def _get_current_dispatch_mode():
    """The innermost mode on, or None."""
    return _STACK[-1] if _STACK else None


def _get_current_dispatch_mode_stack():
    """The modes on, outermost first."""
    return list(_STACK)


@contextlib.contextmanager
def _disable_current_modes():
    """Turn every mode off inside the block (yields them, outermost first), and back on after it."""
    old = list(_STACK)
    _STACK.clear()
    _sync()
    try:
        yield old
    finally:
        _STACK[:0] = old
        _sync()


def is_traceable_wrapper_subclass(t):
    """False: ttorch has no ``__torch_dispatch__`` wrapper subclasses."""
    return False


def is_traceable_wrapper_subclass_type(t):
    """False: ttorch has no ``__torch_dispatch__`` wrapper subclasses."""
    return False


def return_and_correct_aliasing(func, args, kwargs, out):
    """``out`` as is: ttorch's ops already return their views and in-place results aliasing their inputs
    (PyTorch's version fixes the aliasing of wrapper subclasses' outputs, which ttorch has none of)."""
    return out


def _dispatch(op, inputs, attrs):
    """What ``Op.__call__`` (and a ``ttorch.library`` operator) calls while a mode is on: the innermost
    mode's ``__torch_dispatch__``, with that mode, grad mode and forward AD off meanwhile."""
    mode = _STACK[-1]
    rule = None
    if isinstance(op, _op.Op):
        from ..ops._aten import overload_of
        func = overload_of(op)
    else:   # a ttorch.library operator (library/_dispatch.py), called with its schema's arguments
        from ..library._ops import OpOverload
        func = OpOverload(op)
        rule = op.dispatch_rules.get(type(mode))     # register_torch_dispatch's, for this mode's class
    state = grad_mode._state
    enabled, fwd = state["enabled"], _op._forward_ad
    _STACK.pop()
    _sync()
    state["enabled"], _op._forward_ad = False, None
    try:
        # (a copy of attrs: the op's graph node adopts the dict itself, and a mode may keep kwargs)
        args, kwargs = tuple(inputs), dict(attrs)
        out = mode.__torch_dispatch__(func, (), args, kwargs) if rule is None else rule(mode, func, (), args, kwargs)
        if out is NotImplemented:
            raise TypeError(f"Multiple dispatch failed for 'ttorch._ops.{func}'; all __torch_dispatch__ handlers "
                            f"returned NotImplemented:\n\n  - mode object {mode!r}\n\nFor more information, try "
                            "re-running with TORCH_LOGS=not_implemented")
        return out
    finally:
        state["enabled"], _op._forward_ad = enabled, fwd
        _STACK.append(mode)
        _sync()
