"""``ttorch._C``: the names of PyTorch's extension module that Python code imports, where ttorch has them.

PyTorch's ``torch._C`` is its C++ core; ttorch is Python throughout, so this package only re-exports what libraries
reach for by that path: the ``__torch_function__`` switches and stack (ttorch/_torch_function.py). Other names
raise AttributeError, as for any module.
"""
from .._tensor import Tensor as TensorBase
from .._torch_function import (DisableTorchFunction, DisableTorchFunctionSubclass,  # noqa: F401
                               _disabled_torch_function_impl)
from .. import _torch_function as _tf

__all__ = ["TensorBase", "DisableTorchFunction", "DisableTorchFunctionSubclass", "_disabled_torch_function_impl"]

_TensorBase = TensorBase


def _is_torch_function_enabled():
    """False inside ``DisableTorchFunction`` or ``DisableTorchFunctionSubclass``."""
    return not (_tf._state["disabled"] or _tf._state["subclass_disabled"])


def _is_torch_function_all_disabled():
    return bool(_tf._state["disabled"])


def _is_torch_function_mode_enabled():
    return bool(_tf._modes) and not _tf._state["disabled"]


def _len_torch_function_stack():
    return len(_tf._modes)


def _get_function_stack_at(i):
    return _tf._modes[i]


def _push_on_torch_function_stack(mode):
    _tf.push_mode(mode)


def _pop_torch_function_stack():
    return _tf.pop_mode()


def _has_torch_function(args):
    from ..overrides import has_torch_function
    return has_torch_function(args)


def _has_torch_function_unary(obj):
    return _has_torch_function((obj,))


def _has_torch_function_variadic(*args):
    return _has_torch_function(args)


def _skip_one_hop_torch_function(func, types, args, kwargs):
    from ..overrides import redispatch_function
    return redispatch_function(func, types, args, kwargs)
