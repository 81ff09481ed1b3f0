"""``nn.Parameter`` and ``nn.Buffer``: tensors that a ``Module`` registers when assigned to it, and
their uninitialized forms, which lazy modules hold until their first call gives them a shape.

PyTorch marks such tensors with a flag (``_is_param``, ``_is_buffer``) and lets a metaclass's
``__instancecheck__`` answer ``isinstance(t, Parameter)`` from it. ttorch keeps that mechanism
and goes one step further: ``Parameter(data)`` returns a plain ``Tensor`` carrying the flag, so
the ops' ``type(x) is Tensor`` fast paths treat parameters like any tensor and nothing slows down.
"""
import sys

from .._tensor import Tensor

__all__ = ["Parameter", "Buffer", "UninitializedParameter", "UninitializedBuffer", "is_lazy"]


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


def _uninitialized(self):
    # PyTorch's message; the op is the function that reached for the data
    op = sys._getframe(1).f_code.co_name
    raise ValueError(f"Attempted to use an uninitialized parameter in {op}. This error happens when you are using a "
                     f"`LazyModule` or explicitly manipulating `torch.nn.parameter.{type(self).__name__}` objects. "
                     "When using LazyModules Call `forward` with a dummy batch to initialize the parameters before "
                     "calling torch functions")


class UninitializedTensorMixin:
    """A tensor with a dtype and a device but no data yet: the ops reach for its data (``_shape``,
    ``_np``, ``_storage``) and raise PyTorch's ValueError; ``to``/``cuda``/``double`` and friends give
    it another dtype or device, and ``materialize`` turns it into a regular tensor in place."""

    _shape = property(_uninitialized)
    _np = property(_uninitialized)
    _storage = property(_uninitialized)

    def __init__(self, *args, **kwargs):
        pass        # Tensor.__init__ refuses to be called; __new__ did the work

    def _set_empty(self, requires_grad, device, dtype):
        from ..ops.creation import empty
        e = empty(0, device=device, dtype=dtype)
        self.__dict__.update(requires_grad=requires_grad, device=e.device, dtype=e.dtype)

    def materialize(self, shape, device=None, dtype=None):
        r"""Turn this into a regular ``Parameter`` (or ``Tensor``) of ``shape``, uninitialized memory,
        on ``device`` with ``dtype`` (default: its own), keeping its identity and ``requires_grad``."""
        from ..ops.creation import empty
        data = empty(shape, device=self.device if device is None else device,
                     dtype=self.dtype if dtype is None else dtype)
        self.__class__ = Tensor     # cls_to_become: ttorch's Parameter is a Tensor flagged _is_param, which stays
        self.data = data

    @property
    def data(self):
        from ..ops.creation import empty
        return empty(0, device=self.device, dtype=self.dtype)

    @data.setter
    def data(self, other):      # Module._apply moves or casts it: it takes the new device and dtype only
        self.__dict__.update(device=other.device, dtype=other.dtype)

    def to(self, *args, **kwargs):
        out = Tensor.__new__(type(self))
        out.__dict__.update(self.__dict__)
        out.data = self.data.to(*args, **kwargs)
        return out

    def size(self, dim=None):
        return self.data.size(dim)

    @property
    def shape(self):
        raise RuntimeError("Can't access the shape of an uninitialized parameter or buffer. This error usually "
                           "happens in `load_state_dict` when trying to load an uninitialized parameter into an "
                           "initialized one. Call `forward` to initialize the parameters before accessing their "
                           "attributes.")

    def share_memory_(self):
        raise RuntimeError("Can't share memory on an uninitialized parameter or buffer. Call `forward` to initialize "
                           "the parameters before calling `module.share_memory()`.")

    def __repr__(self):
        return f"<{type(self).__name__}>"

    def __reduce_ex__(self, proto):
        return (type(self), (self.requires_grad,))

    def __deepcopy__(self, memo):
        if id(self) not in memo:
            memo[id(self)] = self.to(copy=True)
        return memo[id(self)]


def is_lazy(param):
    """Whether ``param`` is an ``UninitializedParameter`` or ``UninitializedBuffer``."""
    return isinstance(param, UninitializedTensorMixin)


class UninitializedParameter(UninitializedTensorMixin, Parameter):
    r"""A ``Parameter`` whose shape is not known yet (lazy modules hold them until their first call).

    Only its dtype and device may change; ``materialize(shape)`` makes it a regular ``Parameter``.

    Args:
        requires_grad (bool): Default: ``True``. device, dtype: those it will be materialized with.

    Example::

        >>> p = UninitializedParameter()
        >>> p.materialize((2, 3))
        >>> type(p).__name__, isinstance(p, Parameter), p.shape
        ('Tensor', True, ttorch.Size([2, 3]))
    """

    cls_to_become = Parameter

    def __new__(cls, requires_grad=True, device=None, dtype=None):
        t = Tensor.__new__(cls)
        t._set_empty(requires_grad, device, dtype)
        t._is_param = True
        return t


class UninitializedBuffer(UninitializedTensorMixin, Tensor):
    r"""A buffer whose shape is not known yet; ``materialize(shape)`` makes it a regular ``Tensor``.

    Args:
        requires_grad (bool): Default: ``False``. device, dtype: those it will be materialized with.
        persistent (bool): whether the buffer is part of ``state_dict``. Default: ``True``.
    """

    cls_to_become = Tensor

    def __new__(cls, requires_grad=False, device=None, dtype=None, persistent=True):
        t = Tensor.__new__(cls)
        t._set_empty(requires_grad, device, dtype)
        t.persistent = persistent
        t._is_buffer = True
        return t
