"""Grad modes: ``no_grad``, ``enable_grad``, ``set_grad_enabled``, ``inference_mode``.

Each works as a context manager and as a decorator, as in PyTorch.
"""
import functools

_state = {"enabled": True, "inference": False}


def is_grad_enabled():
    return _state["enabled"]


def is_inference_mode_enabled():
    """Whether an ``inference_mode`` block (with mode True) is active."""
    return _state["inference"]


class _Mode:
    _value = None

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__(*self._args):
                return fn(*args, **kwargs)
        return wrapper

    def __enter__(self):
        self._prev = _state["enabled"]
        _state["enabled"] = self._value

    def __exit__(self, *exc):
        _state["enabled"] = self._prev
        return False

    _args = ()

    def clone(self):
        return self.__class__(*self._args)


class no_grad(_Mode):
    """Ops inside record no graph; results do not require grad."""
    _value = False


class enable_grad(_Mode):
    """Turn recording back on inside ``no_grad``."""
    _value = True


class set_grad_enabled(_Mode):
    """``set_grad_enabled(mode)``: sets the mode at once (as PyTorch does) and restores it on exit."""

    def __init__(self, mode):
        self._args = (mode,)
        self._value = bool(mode)
        self._prev = _state["enabled"]
        _state["enabled"] = bool(mode)

    def __call__(self, fn):
        # used as a decorator: the mode set by the constructor applies only inside ``fn``
        _state["enabled"] = self._prev
        return super().__call__(fn)

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        _state["enabled"] = self._prev
        return False


class inference_mode(_Mode):
    """Like ``no_grad``, and ``is_inference_mode_enabled()`` is True inside. Differs from PyTorch: ttorch
    has no separate inference tensors (``Tensor.is_inference()`` is always False), so tensors made
    inside may later be used in recorded ops."""

    def __init__(self, mode=True):
        self._args = (mode,)
        self._value = not mode          # (inference_mode(False) turns grad on, as PyTorch's guard does)
        self._mode = bool(mode)

    def __enter__(self):
        super().__enter__()
        self._prev_inference = _state["inference"]
        _state["inference"] = self._mode

    def __exit__(self, *exc):
        _state["inference"] = self._prev_inference
        return super().__exit__(*exc)
