"""Making tensors: from data, filled, ranges. Random creation lives in ``random.py``."""
import builtins
import math

import numpy as np

from .. import _dtype as D
from .._device import CPU, _canonical
from .._tensor import Tensor
from .elementwise import ew_launch, _identity


def _size(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    out = []
    for s in size:
        if isinstance(s, Tensor):
            s = int(s.item())
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool):
            raise TypeError(f"empty(): argument 'size' must be tuple of ints, but found element of type "
                            f"{type(s).__name__}")
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {list(size)}")
        out.append(int(s))
    return tuple(out)


def _finish(t, requires_grad):
    if requires_grad:
        t.requires_grad_(True)
    return t


def _infer_dtype(data):
    """PyTorch's dtype for nested Python data: bool < int64 < default float."""
    kind = -1
    stack = [data]
    while stack:
        x = stack.pop()
        if isinstance(x, (list, tuple)):
            stack.extend(x)
        elif isinstance(x, Tensor):
            return None
        elif isinstance(x, (bool, np.bool_)):
            kind = max(kind, 0)
        elif isinstance(x, (int, np.integer)):
            kind = max(kind, 1)
        elif isinstance(x, (float, np.floating)):
            kind = max(kind, 2)
        elif isinstance(x, complex):
            raise TypeError("ttorch has no complex dtypes")
        else:
            raise TypeError(f"Could not infer dtype of {type(x).__name__}")
    return (D.bool, D.int64, D.get_default_dtype())[kind] if kind >= 0 else D.get_default_dtype()


def _from_host(a, dtype, device):
    device = _canonical(device)
    if dtype is not None and a.dtype != dtype.np:
        a = a.astype(dtype.np)
    if device.type == "cpu":
        return Tensor._wrap_np(np.array(a, copy=True), dtype)
    from .movement import _upload
    return _upload(a, device)


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new tensor copying ``data`` (nested lists, scalars, NumPy arrays, tensors)."""
    if isinstance(data, Tensor):
        t = data.detach().clone()
        return _finish(t.to(device=device if device is not None else t.device, dtype=dtype or t.dtype), requires_grad)
    if isinstance(data, np.ndarray):
        a = data
        if dtype is None:
            D.from_numpy_dtype(a.dtype)
    else:
        inferred = _infer_dtype(data)
        if inferred is None:  # a list of tensors
            a = np.array([x.tolist() if isinstance(x, Tensor) else x for x in data])
        else:
            a = np.array(data, dtype=(dtype or inferred).np if (dtype or inferred) is not D.bfloat16 else np.float32)
            dtype = dtype or inferred
    return _finish(_from_host(a, dtype, device), requires_grad)


def as_tensor(data, dtype=None, device=None):
    """Like ``tensor`` but shares memory with a NumPy array or tensor when it can."""
    if isinstance(data, Tensor):
        return data.to(device=device or data.device, dtype=dtype or data.dtype)
    if isinstance(data, np.ndarray) and (device is None or _canonical(device).type == "cpu") and \
            (dtype is None or dtype.np == data.dtype):
        return from_numpy(data)
    return tensor(data, dtype=dtype, device=device)


def from_numpy(ndarray):
    """A cpu tensor sharing memory with ``ndarray``: writes through either are seen by both."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    dt = D.from_numpy_dtype(ndarray.dtype)
    isz = ndarray.itemsize
    if any(s < 0 for s in ndarray.strides):
        raise ValueError("At least one stride in the given numpy array is negative, and tensors with negative "
                         "strides are not currently supported. (You can probably work around this by making a "
                         "copy of your array  with array.copy().) ")
    if any(s % isz for s in ndarray.strides):
        raise ValueError("given numpy array strides not a multiple of the element byte size. Copy the numpy array "
                         "to reallocate the memory.")
    if ndarray.flags.c_contiguous:
        return Tensor._wrap_np(ndarray, dt)
    from .._storage import UntypedStorage
    extent = 1 + builtins.sum((n - 1) * s for n, s in zip(ndarray.shape, ndarray.strides)) // isz \
        if ndarray.size else 0
    flat = np.lib.stride_tricks.as_strided(ndarray, shape=(extent * isz,), strides=(1,)) if extent else \
        np.empty(0, np.uint8)
    flat = flat.view(np.uint8) if flat.dtype != np.uint8 else flat
    st = UntypedStorage(CPU, array=flat)
    return Tensor._make(st, ndarray.shape, tuple(s // isz for s in ndarray.strides), 0, dt)


def empty(*size, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False, memory_format=None,
          out=None):
    dtype = dtype or D.get_default_dtype()
    return _finish(Tensor._empty(_size(size), dtype, _canonical(device)), requires_grad)


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False, layout=None, out=None, pin_memory=False):
    if dtype is None:
        dtype = D.result_type_of([], [], [fill_value]) if not isinstance(fill_value, Tensor) else fill_value.dtype
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    t = Tensor._empty(_size((size,) if isinstance(size, int) else (tuple(size),)), dtype, _canonical(device))
    fill_(t, fill_value)
    return _finish(t, requires_grad)


def fill_(t, value):
    """Fill ``t`` with a scalar in place (no autograd; see ``Tensor.fill_`` for the recorded form)."""
    if isinstance(value, Tensor):
        value = value.item()
    if t.device.type == "cpu":
        t._np[...] = value
    else:
        compute = t.dtype if t.dtype is not D.bool else D.int8
        if compute.is_floating_point:
            value = float(value)
            compute = D.float64 if t.dtype is D.float64 else D.float32
        else:
            value = int(value)
        ew_launch(_identity, t, [value], compute)
    return t


def zeros(*size, dtype=None, device=None, requires_grad=False, layout=None, out=None, pin_memory=False):
    dtype = dtype or D.get_default_dtype()
    t = Tensor._empty(_size(size), dtype, _canonical(device))
    if t.device.type == "cpu":
        t._np.fill(0)
    else:
        fill_(t, 0)
    return _finish(t, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False, layout=None, out=None, pin_memory=False):
    return _finish(full(_size(size), 1, dtype=dtype or D.get_default_dtype(), device=device), requires_grad)


def _like(fn, input, dtype, device, requires_grad, *args):
    return fn(input._shape, *args, dtype=dtype or input.dtype, device=device or input.device,
              requires_grad=requires_grad)


def empty_like(input, *, dtype=None, device=None, requires_grad=False, layout=None, memory_format=None):
    return _like(lambda s, **k: empty(s, **k), input, dtype, device, requires_grad)


def zeros_like(input, *, dtype=None, device=None, requires_grad=False, layout=None, memory_format=None):
    return _like(lambda s, **k: zeros(s, **k), input, dtype, device, requires_grad)


def ones_like(input, *, dtype=None, device=None, requires_grad=False, layout=None, memory_format=None):
    return _like(lambda s, **k: ones(s, **k), input, dtype, device, requires_grad)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False, layout=None, memory_format=None):
    return _like(lambda s, v, **k: full(s, v, **k), input, dtype, device, requires_grad, fill_value)


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False, layout=None, out=None):
    """Values from ``start`` to ``end`` (exclusive) by ``step``; int64 for integer arguments."""
    if end is None:
        start, end = 0, start
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    start, end, step = vals
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if dtype is None:
        dtype = D.result_type_of([], [], vals)
    n = builtins.max(0, math.ceil((end - start) / step))
    a = start + np.arange(n, dtype=np.float64 if dtype.is_floating_point else np.int64) * step
    return _finish(_from_host(a, dtype, device), requires_grad)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False, layout=None, out=None):
    a = np.linspace(float(start), float(end), int(steps))
    return _finish(_from_host(a, dtype or D.get_default_dtype(), device), requires_grad)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False, layout=None, out=None):
    a = np.eye(n, n if m is None else m)
    return _finish(_from_host(a, dtype or D.get_default_dtype(), device), requires_grad)

__all__ = ["tensor", "as_tensor", "from_numpy", "empty", "full", "zeros", "ones", "empty_like", "zeros_like",
           "ones_like", "full_like", "arange", "linspace", "eye"]
METHODS = {}
