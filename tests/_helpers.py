"""Shared test helpers: tolerances per dtype, tensors from samples, finite differences."""
import numpy as np

import ttorch
from ttorch import _dtype as D
from ttorch.ops.samples import Index

# (rtol, atol) per dtype; reductions scale atol with the reduced length
TOL = {D.float16: (1e-3, 1e-3), D.bfloat16: (1.6e-2, 1e-2), D.float32: (1.3e-5, 1e-5), D.float64: (1e-9, 1e-10)}


def tol(dtype, n=1):
    if dtype not in TOL:
        return 0, 0
    r, a = TOL[dtype]
    return r, a * max(1.0, float(np.sqrt(n)))


def to_np(t):
    a = t.detach().cpu().numpy()
    return a.astype(np.float64) if a.dtype.kind == "V" or str(a.dtype) == "bfloat16" else a


def close(actual, expected, dtype, n=1, msg=""):
    a = to_np(actual) if isinstance(actual, ttorch.Tensor) else np.asarray(actual)
    e = to_np(expected) if isinstance(expected, ttorch.Tensor) else np.asarray(expected)
    assert a.shape == e.shape, f"{msg}: shape {a.shape} != {e.shape}"
    rtol, atol = tol(dtype, n)
    if a.dtype == np.bool_ or e.dtype == np.bool_ or rtol == 0:
        np.testing.assert_array_equal(a, e, err_msg=msg)
    else:
        np.testing.assert_allclose(a.astype(np.float64), e.astype(np.float64), rtol=rtol, atol=atol, err_msg=msg,
                                   equal_nan=True)


def make(a, dtype, device, noncontig=False, requires_grad=False):
    """A tensor holding the values of NumPy array ``a``; a strided view of a bigger buffer if noncontig."""
    if not isinstance(a, np.ndarray):
        return a
    if isinstance(a, Index):  # index arguments keep their integer dtype
        dtype, requires_grad = None, False
    if dtype is not None and not dtype.is_floating_point and a.dtype.kind == "f":
        a = np.round(a * 3)
    if noncontig and a.ndim >= 2:
        t = ttorch.tensor(np.ascontiguousarray(np.swapaxes(a, -1, -2)), dtype=dtype, device=device)
        t = t.transpose(-1, -2)
    elif noncontig and a.ndim == 1:
        big = np.repeat(a, 2)
        t = ttorch.tensor(big, dtype=dtype, device=device).as_strided(a.shape, (2,))
    else:
        t = ttorch.tensor(a, dtype=dtype, device=device)
    if requires_grad:
        t = t.detach().requires_grad_(True)
    return t


def numeric_grads(f, arrays, eps=1e-6):
    """Central differences of scalar function ``f(list of float64 arrays)`` w.r.t. each array."""
    grads = []
    for k, a in enumerate(arrays):
        if not isinstance(a, np.ndarray) or a.dtype.kind != "f":
            grads.append(None)
            continue
        g = np.zeros_like(a)
        flat = a.reshape(-1)
        gf = g.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps
            fp = f(arrays)
            flat[i] = old - eps
            fm = f(arrays)
            flat[i] = old
            gf[i] = (fp - fm) / (2 * eps)
        grads.append(g)
    return grads


class FakeCu:
    """A stand-in for ``cuda.bindings.driver``'s allocation calls (``_driver._Real`` on no GPU): addresses
    4096 apart, the allocations and frees it was asked for, and one out-of-memory at call ``fail_at``."""

    class CUresult:
        CUDA_SUCCESS, CUDA_ERROR_OUT_OF_MEMORY = 0, 2

    def __init__(self, fail_at=None):
        self.allocs, self.frees, self.fail_at = [], [], fail_at

    def cuMemAllocAsync(self, n, stream):
        if len(self.allocs) == self.fail_at:
            self.fail_at = None
            return (self.CUresult.CUDA_ERROR_OUT_OF_MEMORY, None)
        self.allocs.append(n)
        return (0, 4096 * len(self.allocs))

    def cuMemFreeAsync(self, p, stream):
        self.frees.append(p)
        return (0,)

    def cuGetErrorString(self, err):
        return (0, b"out of memory")

    def cuMemGetInfo(self):
        return (0, 1 << 30, 80 << 30)


def fake_real(cu):
    """``_driver._Real`` (one device) over the stand-in driver ``cu``, without a GPU context."""
    from ttorch.cuda import _driver
    from ttorch.cuda._stats import DeviceStats
    r = _driver._Real.__new__(_driver._Real)
    r.cu, r.cached, r.count = cu, {}, 1
    r.stats, r.limit = [DeviceStats(_driver._size_classes)], [None]
    r.context = lambda index: None
    return r
