"""PyTorch's legacy typed tensor classes: ``ttorch.FloatTensor``, ``ttorch.cuda.LongTensor``...

They are not ``Tensor`` subclasses (in PyTorch neither): calling one builds a plain ``Tensor`` of its
dtype and device (``FloatTensor(2, 3)`` uninitialized, ``LongTensor([1, 2])`` from data), and
``isinstance(x, ttorch.FloatTensor)`` asks whether ``x`` is a float32 tensor on that device type, through
the metaclass's ``__instancecheck__``. ``isinstance(x, ttorch.Tensor)`` is untouched (``Tensor``'s own
metaclass is ``type``).
"""
import warnings

from . import _dtype as D
from ._tensor import Tensor, Size, _TYPE_NAMES

_BY_NAME = {name: dt for dt, name in _TYPE_NAMES.items()}


class _LegacyTensorType(type):
    def __instancecheck__(cls, obj):
        return (isinstance(obj, Tensor) and obj.dtype is cls.dtype and obj.device.type == cls._device_type
                and not obj.is_sparse)

    def __repr__(cls):
        return f"<class '{cls.__module__}.{cls.__name__}'>"


def _legacy_new(cls, *args, device=None):
    """PyTorch's legacy constructor: ``()`` empty, ``(*sizes)`` or ``(Size)`` uninitialized, ``(sequence)``
    data, ``(tensor)`` the same tensor when it has this type."""
    from .ops.creation import empty, tensor
    if device is not None and str(device).split(":")[0] != cls._device_type:
        raise RuntimeError(f"legacy constructor expects device type: {cls._device_type} but device type: "
                           f"{str(device).split(':')[0]} was passed")
    dev = device or cls._device_type
    if not args:
        return empty(0, dtype=cls.dtype, device=dev)
    if len(args) == 1 and isinstance(args[0], Tensor):
        if not isinstance(args[0], cls):
            raise TypeError(f"expected {cls.dtype} on {cls._device_type} (got {args[0].dtype} on "
                            f"{args[0].device.type})")
        return args[0]
    if all(isinstance(a, int) and not isinstance(a, bool) for a in args) or isinstance(args[0], Size):
        return empty(*args, dtype=cls.dtype, device=dev)
    if len(args) == 1 and isinstance(args[0], (list, tuple)) or hasattr(args[0], "__array__"):
        return tensor(args[0], dtype=cls.dtype, device=dev)
    raise TypeError(f"new(): data must be a sequence (got {type(args[0]).__name__})")


def _make(name, dtype, device_type, module):
    return _LegacyTensorType(name, (), {
        "__new__": _legacy_new, "dtype": dtype, "_device_type": device_type, "is_cuda": device_type == "cuda",
        "is_sparse": False, "__module__": module,
        "__doc__": f"Legacy constructor and isinstance check for {dtype} tensors on {device_type}."})


def types(device_type):
    """``{"FloatTensor": <class>, ...}`` for ``device_type`` ('cpu': module ttorch, 'cuda': ttorch.cuda)."""
    module = "ttorch" if device_type == "cpu" else "ttorch.cuda"
    return {name: _make(name, dt, device_type, module) for name, dt in _BY_NAME.items()}


CPU_TYPES = types("cpu")
CUDA_TYPES = types("cuda")


def resolve(t):
    """``(device_type, dtype)`` named by a legacy class or its name (``'torch.cuda.FloatTensor'``)."""
    if isinstance(t, _LegacyTensorType):
        return t._device_type, t.dtype
    if isinstance(t, str):
        parts = t.split(".")
        if parts[0] in ("torch", "ttorch") and parts[-1] in _BY_NAME and parts[1:-1] in ([], ["cuda"]):
            return ("cuda" if len(parts) == 3 else "cpu"), _BY_NAME[parts[-1]]
        raise AttributeError(f"module '{parts[0]}' has no attribute '{'.'.join(parts[1:])}'")
    raise TypeError("invalid type object")


def set_default_tensor_type(t):
    """Deprecated in PyTorch (use ``set_default_dtype`` and ``set_default_device``): sets the default
    floating dtype, and the default device to cuda for a ``ttorch.cuda`` type. ``t`` is a legacy class
    (``ttorch.DoubleTensor``) or its name (``'torch.DoubleTensor'``)."""
    warnings.warn("torch.set_default_tensor_type() is deprecated as of PyTorch 2.1, please use "
                  "torch.set_default_dtype() and torch.set_default_device() as alternatives.", UserWarning,
                  stacklevel=2)
    if isinstance(t, D.dtype):
        raise TypeError("invalid type object: only floating-point types are supported as the default type")
    device_type, dtype = resolve(t)
    if not dtype.is_floating_point:
        raise TypeError("only floating-point types are supported as the default type")
    from ._device import set_default_device
    D.set_default_dtype(dtype)
    set_default_device("cuda" if device_type == "cuda" else None)


def install(namespace, cuda_module):
    """Put the classes into ``ttorch`` (``namespace``: its globals) and ``ttorch.cuda``."""
    namespace.update(CPU_TYPES)
    for name, cls in CUDA_TYPES.items():
        setattr(cuda_module, name, cls)
