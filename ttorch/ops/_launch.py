"""Launching Triton kernels on ttorch tensors, on a real GPU or under Triton's interpreter.

On a GPU, Triton reads ``data_ptr()`` and ``dtype`` of each pointer argument, and our tensors
give both (``str(ttorch.float32)`` ends in the name Triton expects). Under the interpreter
(``TRITON_INTERPRET=1``) Triton also copies pointer arguments to the host through PyTorch's
storage API; ``_HostArg`` answers that API over our host buffers without torch, so kernels
read and write the tensor's memory in place.
"""
import triton

from ..cuda import _driver

SIMULATED = _driver.SIMULATED


class _HostArg:
    """What Triton's interpreter needs of a pointer argument: PyTorch's storage surface."""

    __slots__ = ("_st", "_off", "dtype", "_shape", "_stride")

    def __init__(self, storage, offset, dtype, shape=(), stride=()):
        self._st, self._off, self.dtype, self._shape, self._stride = storage, offset, dtype, shape, stride

    def data_ptr(self):
        return self._st._ptr + self._off * self.dtype.itemsize

    def untyped_storage(self):
        return self._st

    def storage_offset(self):
        return self._off

    def size(self):
        return self._shape

    def stride(self):
        return self._stride

    def new_empty(self, *size, device=None, **kw):
        return _HostArg(self._st, 0, self.dtype)

    def set_(self, storage, offset, size, stride):
        self._st, self._off, self._shape, self._stride = storage, offset, size, stride
        return self


def _arg(a):
    from .._tensor import Tensor
    if type(a) is Tensor:
        return _HostArg(a.untyped_storage(), a._offset, a.dtype, a._shape, a.stride())
    if type(a) is float:
        # compiled kernels see a float argument as an fp32 scalar; the interpreter would
        # pass the Python float through untyped, so give it the same type here
        import numpy as np
        import triton.language as tl
        from triton.runtime.interpreter import TensorHandle
        return tl.tensor(TensorHandle(np.array([a], dtype=np.float32), tl.float32), tl.float32)
    return a


def launch(kernel, grid, *args, **meta):
    """``kernel[grid](*args, **meta)`` with our tensors as pointer arguments, on either device."""
    if SIMULATED:
        args = [_arg(a) for a in args]
    elif args:
        from .._tensor import Tensor
        for a in args:
            if type(a) is Tensor:
                _driver.backend().context(a.device.index)
                break
    return kernel[grid](*args, **meta)


def cdiv(a, b):
    return (a + b - 1) // b


def next_pow2(n):
    return triton.next_power_of_2(n) if n > 0 else 1


# --- bfloat16 tl.dot under the interpreter --------------------------------------------------
# Triton's interpreter keeps bf16 values as raw uint16 bits and its dot multiplies the bits
# as integers. Widen bf16 dot operands to float32 in the simulated device, once, here.
if SIMULATED:
    import numpy as _np
    from triton.runtime import interpreter as _interp

    _orig_dot = _interp.InterpreterBuilder.create_dot

    def _widen_bf16(h):
        import triton.language as tl
        if getattr(h.dtype, "scalar", h.dtype) == tl.bfloat16:
            bits = h.data.astype(_np.uint32) << 16
            return _interp.TensorHandle(bits.view(_np.float32), tl.float32)
        return h

    def _create_dot(self, a, b, d, input_precision, max_num_imprecise_acc):
        return _orig_dot(self, _widen_bf16(a), _widen_bf16(b), d, input_precision, max_num_imprecise_acc)

    _interp.InterpreterBuilder.create_dot = _create_dot
