"""``nn.Parameter`` and ``nn.Buffer``: tensors that a ``Module`` registers when assigned to it.

PyTorch marks such tensors with a flag (``_is_param``, ``_is_buffer``) and lets a metaclass's
``__instancecheck__`` answer ``isinstance(t, Parameter)`` from it. ttorch keeps that mechanism
and goes one step further: ``Parameter(data)`` returns a plain ``Tensor`` carrying the flag, so
the ops' ``type(x) is Tensor`` fast paths treat parameters like any tensor and nothing slows down.
"""
from .._tensor import Tensor

__all__ = ["Parameter", "Buffer"]


class _ParameterMeta(type):
    def __instancecheck__(cls, instance):
        if cls is Parameter:
            return isinstance(instance, Tensor) and getattr(instance, "_is_param", False)
        return super().__instancecheck__(instance)


class Parameter(Tensor, metaclass=_ParameterMeta):
    r"""A tensor that is a module parameter: assigned as a ``Module`` attribute, it appears in
    ``parameters()`` and ``state_dict()``.

    Args:
        data (Tensor): parameter tensor (shares its memory). Default: an empty tensor.
        requires_grad (bool): whether the parameter requires gradient. Default: ``True``.

    Example::

        >>> p = Parameter(ttorch.ones(2))
        >>> isinstance(p, Parameter), p.is_leaf, p.requires_grad
        (True, True, True)
    """

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            from ..ops.creation import empty
            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter(): argument 'data' must be Tensor, not {type(data).__name__}")
        t = data.detach()               # shares memory (PyTorch's _make_subclass)
        t.requires_grad_(requires_grad)
        t._is_param = True
        return t


class _BufferMeta(type):
    def __instancecheck__(cls, instance):
        if cls is Buffer:
            return isinstance(instance, Tensor) and getattr(instance, "_is_buffer", False)
        return super().__instancecheck__(instance)


class Buffer(Tensor, metaclass=_BufferMeta):
    r"""A tensor that is a module buffer: assigned as a ``Module`` attribute it is registered
    as ``register_buffer(name, data, persistent)`` would.

    Args:
        data (Tensor): buffer tensor (shares its memory). Default: an empty tensor.
        persistent (bool, keyword only): whether the buffer is part of ``state_dict``. Default: ``True``.
    """

    def __new__(cls, data=None, *, persistent=True):
        if data is None:
            from ..ops.creation import empty
            data = empty(0)
        t = data.detach()
        t.requires_grad_(data.requires_grad)
        t.persistent = persistent
        t._is_buffer = True
        return t
