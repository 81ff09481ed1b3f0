"""Moving data: between devices, between dtypes, into contiguous memory; ``clone``, ``copy_``."""
import numpy as np

from .. import _dtype as D
from .._device import CPU
from .._tensor import Tensor
from ..cuda import _driver
from ._op import Op
from .elementwise import copy_into


def _copy_specs():
    from .elementwise import ew_specs, _identity
    return ew_specs(_identity, 1, (D.float32, D.float16, D.bfloat16, D.int64, D.bool))


def _upload(a, device):
    """A new cuda tensor holding the NumPy array ``a``."""
    a = np.asarray(a, order="C")
    dt = D.from_numpy_dtype(a.dtype)
    out = Tensor._empty(a.shape, dt, device)
    st = out.untyped_storage()
    if st._array is not None:
        st._array[:a.nbytes] = a.reshape(-1).view(np.uint8)
    else:
        _driver.backend().htod(st._ptr, a.__array_interface__["data"][0], a.nbytes, device.index)
    return out


def _to_device_np(t):
    """A host NumPy copy of cuda tensor ``t``."""
    if not t.is_contiguous():
        t = contiguous(t.detach())
    out = np.empty(t._shape, t.dtype.np)
    st = t.untyped_storage()
    nbytes = out.nbytes
    if st._array is not None:
        start = t._offset * t.dtype.itemsize
        out.reshape(-1).view(np.uint8)[:] = st._array[start:start + nbytes]
    else:
        _driver.backend().dtoh(out.__array_interface__["data"][0], t.data_ptr(), nbytes, t.device.index)
    return out


def _to_device_impl(x, *, device, src):
    if device.type == "cpu":
        return Tensor._wrap_np(_to_device_np(x), x.dtype)
    if x.device.type == "cpu":
        return _upload(x._np, device)
    return _upload(_to_device_np(x), device)  # cuda:i -> cuda:j through the host


_to_device = Op("to_device", impl=_to_device_impl, grad_name="ToCopyBackward0", save=(),
                backward=lambda ctx, g: to_device(g, ctx.src),
                samples=lambda: [], family="movement")


def to_device(x, device):
    return _to_device(x, device=device, src=x.device)


def _cast_cpu(a, *, dtype, src):
    return a.astype(dtype.np)


def _cast_cuda(x, *, dtype, src):
    out = Tensor._empty(x._shape, dtype, x.device)
    return copy_into(out, x)


def _cast_bw(ctx, g):
    return g.to(ctx.src) if ctx.src.is_floating_point else None


_to_dtype = Op("to_dtype", cpu=_cast_cpu, cuda=_cast_cuda, backward=_cast_bw, save=(), grad_name="ToCopyBackward0",
               kernels=lambda: _copy_specs(), family="movement")


def to_dtype(x, dtype):
    return _to_dtype(x, dtype=dtype, src=x.dtype)


def _clone_cpu(a):
    return a.copy()


def _clone_cuda(x):
    return copy_into(Tensor._empty(x._shape, x.dtype, x.device), x)


_clone = Op("clone", cpu=_clone_cpu, cuda=_clone_cuda, backward=lambda ctx, g: g, save=(),
            kernels=lambda: _copy_specs(), family="movement")


def clone(input, *, memory_format=None):
    """A copy of ``input`` in new memory; gradients flow back to ``input``."""
    return _clone(input)


def contiguous(input, memory_format=None):
    """``input`` itself when contiguous, else a contiguous copy."""
    if input.is_contiguous():
        return input
    return _clone(input)

__all__ = ["clone"]
METHODS = {"clone": clone, "contiguous": contiguous}
