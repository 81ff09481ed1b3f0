"""Autograd switches and names kept for old code: ``Variable``, ``variable``, ``set_multithreading_enabled``
and ``enforce_grad_layout_policy``.

``Variable`` is PyTorch's pre-0.4 wrapper, now the Tensor itself: ``Variable(t, requires_grad=True)``
returns a Tensor sharing ``t``'s memory, detached from its history, and every Tensor is an instance of
``Variable``. The two switches are flags ttorch's engine reads nowhere, on purpose: its backward walks
the graph on the calling thread (what ``set_multithreading_enabled(False)`` asks of PyTorch), and a
leaf's accumulated gradient is made contiguous whatever the flag says. Both keep their state,
so code that sets and restores them ports unchanged.
"""
import functools
import warnings

__all__ = ["Variable", "variable", "set_multithreading_enabled", "enforce_grad_layout_policy"]


class VariableMeta(type):
    def __instancecheck__(cls, other):
        from .._tensor import Tensor
        return isinstance(other, Tensor)


class Variable(metaclass=VariableMeta):
    """``Variable(data=None, requires_grad=False, volatile=False)``: a Tensor (see the module docstring)."""

    def __new__(cls, data=None, requires_grad=False, volatile=False, _grad_fn=None):
        import ttorch
        if volatile:
            warnings.warn("volatile was removed and now has no effect. Use `with torch.no_grad():` instead.",
                          stacklevel=2)
        if _grad_fn is not None:
            raise TypeError(f"_grad_fn has to be a Function object or None, but got {type(_grad_fn).__name__}")
        if data is None:
            data = ttorch.empty(0)
        elif not isinstance(data, ttorch.Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        out = data.detach()
        out.requires_grad_(bool(requires_grad))
        return out


def variable(*args, **kwargs):
    raise RuntimeError("torch.autograd.variable(...) is deprecated, use torch.tensor(...) instead")


class _Flag:
    """A switch set at construction (usable as a function call), restored on exit; a decorator too."""
    _state = None

    def __init__(self, mode=True):
        self.prev = self._state[0]
        self._state[0] = bool(mode)
        self.mode = mode

    def __call__(self, fn):
        self._state[0] = self.prev

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.clone():
                return fn(*args, **kwargs)
        return wrapper

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        self._state[0] = self.prev
        return False

    def clone(self):
        return self.__class__(self.mode)


_multithreading = [True]
_layout_enforced = [True]


class set_multithreading_enabled(_Flag):
    """Context manager (or call) enabling or disabling multithreaded backward. Accepted and kept;
    ttorch's engine always runs backward on the calling thread.

    Args:
        mode (bool): whether to enable multithreaded backward.
    """
    _state = _multithreading


class enforce_grad_layout_policy(_Flag):
    """Context manager (or call) enforcing that accumulated gradients follow their parameter's
    layout. Accepted and kept; ttorch accumulates contiguous gradients either way.

    Args:
        enable (bool): whether to enforce the gradient layout contract. Default: True.
    """
    _state = _layout_enforced


def _is_multithreading_enabled():
    return _multithreading[0]
