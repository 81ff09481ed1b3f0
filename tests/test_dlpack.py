"""DLPack: zero-copy exchange with NumPy both ways, strides, dtypes, versioned capsules,
ttorch -> ttorch on (simulated) cuda, ownership and errors."""
import ctypes
import gc

import numpy as np
import pytest

import ttorch
from ttorch import _dlpack
from ttorch import _dtype as D

HAS_CUDA = ttorch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not HAS_CUDA, reason="no cuda device")

_get_pointer = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.py_object, ctypes.c_char_p)(
    ("PyCapsule_GetPointer", ctypes.pythonapi))
_get_name = ctypes.PYFUNCTYPE(ctypes.c_char_p, ctypes.py_object)(("PyCapsule_GetName", ctypes.pythonapi))


def _live():
    gc.collect()
    return len(_dlpack._live)


# ----------------------------------------------------------------------------- NumPy, both ways
def test_numpy_from_ttorch_shares_memory():
    t = ttorch.arange(6.0).reshape(2, 3)
    a = np.from_dlpack(t)
    assert a.shape == (2, 3) and a.dtype == np.float32
    a[0, 1] = 42.0                       # write through NumPy, see it in ttorch
    assert t[0, 1].item() == 42.0
    t[1, 2] = -5.0                       # and the other way
    assert a[1, 2] == -5.0
    assert a.__array_interface__["data"][0] == t.data_ptr()


def test_ttorch_from_numpy_shares_memory():
    a = np.arange(12, dtype=np.int64).reshape(3, 4)
    t = ttorch.from_dlpack(a)
    assert t.shape == (3, 4) and t.dtype is ttorch.int64 and t.device.type == "cpu"
    assert t.data_ptr() == a.__array_interface__["data"][0]
    a[2, 3] = 100
    assert t[2, 3].item() == 100
    t[0, 0] = -7
    assert a[0, 0] == -7


def test_noncontiguous_strides_both_ways():
    base = ttorch.arange(20.0).reshape(4, 5)
    v = base.t()[1:, ::2]                # strided, offset view
    a = np.from_dlpack(v)
    assert a.strides == tuple(s * 4 for s in v.stride())
    np.testing.assert_array_equal(a, np.arange(20.0, dtype=np.float32).reshape(4, 5).T[1:, ::2])
    a[0, 0] = 99.0
    assert base[0, 1].item() == 99.0

    n = np.arange(30, dtype=np.float64).reshape(5, 6)[::2, 1::3]
    t = ttorch.from_dlpack(n)
    assert t.stride() == (12, 3) and not t.is_contiguous()
    np.testing.assert_array_equal(t.numpy(), n)
    n[2, 1] = -1.0
    assert t[2, 1].item() == -1.0


def test_negative_strides_are_refused():
    n = np.arange(5.0)[::-1]
    with pytest.raises(ValueError, match="negative"):
        ttorch.from_dlpack(n)


@pytest.mark.parametrize("dtype", D.all_dtypes, ids=str)
def test_all_dtypes_round_trip(dtype):
    vals = np.array([0, 1, 1, 0, 1]) if dtype is D.bool else np.array([1, -2, 3, 0, 5]) if dtype.is_signed \
        else np.array([1, 2, 3, 0, 5])
    t = ttorch.tensor(vals, dtype=dtype)
    back = ttorch.from_dlpack(t)        # ttorch -> ttorch, through a capsule
    assert back.dtype is dtype and back.data_ptr() == t.data_ptr()
    assert back.tolist() == t.tolist()
    if dtype is not D.bfloat16:         # NumPy has no DLPack bfloat16
        a = np.from_dlpack(t)
        assert a.dtype == dtype.np
        np.testing.assert_array_equal(a, t.numpy())
        again = ttorch.from_dlpack(a)
        assert again.dtype is dtype and again.data_ptr() == t.data_ptr()
    cap = t.__dlpack__()
    dl = _dlpack.DLManagedTensor.from_address(_get_pointer(cap, b"dltensor")).dl_tensor
    expected = {"bool": (6, 8), "uint8": (1, 8), "int8": (0, 8), "int16": (0, 16), "int32": (0, 32),
                "int64": (0, 64), "float16": (2, 16), "bfloat16": (4, 16), "float32": (2, 32), "float64": (2, 64)}
    assert (dl.dtype.code, dl.dtype.bits, dl.dtype.lanes) == expected[dtype.name] + (1,)


def test_zero_dim_and_empty():
    z = ttorch.tensor(3.5)
    a = np.from_dlpack(z)
    assert a.shape == () and float(a) == 3.5
    t = ttorch.from_dlpack(np.array(7, dtype=np.int32))
    assert t.shape == () and t.item() == 7
    e = ttorch.from_dlpack(np.zeros((0, 3), np.float32))
    assert e.shape == (0, 3)
    assert np.from_dlpack(ttorch.zeros(2, 0)).shape == (2, 0)


# ----------------------------------------------------------------------------- the protocol
def test_capsule_names_and_versions():
    t = ttorch.arange(3.0)
    assert _get_name(t.__dlpack__()) == b"dltensor"
    cap = t.__dlpack__(max_version=(1, 2))
    assert _get_name(cap) == b"dltensor_versioned"
    m = _dlpack.DLManagedTensorVersioned.from_address(_get_pointer(cap, b"dltensor_versioned"))
    assert (m.version.major, m.version.minor) == (1, 0)
    assert m.dl_tensor.ndim == 1 and m.dl_tensor.shape[0] == 3 and m.flags == 0
    u = ttorch.from_dlpack(cap)          # a capsule is accepted directly
    assert _get_name(cap) == b"used_dltensor_versioned"
    assert u.tolist() == [0.0, 1.0, 2.0]
    with pytest.raises(RuntimeError, match="consumed only once"):
        ttorch.from_dlpack(cap)


def test_copy_flag_and_dl_device():
    t = ttorch.arange(4.0)
    cap = t.__dlpack__(max_version=(1, 0), copy=True)
    m = _dlpack.DLManagedTensorVersioned.from_address(_get_pointer(cap, b"dltensor_versioned"))
    assert m.flags & _dlpack.FLAG_IS_COPIED
    c = ttorch.from_dlpack(cap)
    assert c.data_ptr() != t.data_ptr() and c.tolist() == t.tolist()
    assert np.from_dlpack(t, copy=True).__array_interface__["data"][0] != t.data_ptr()
    assert np.from_dlpack(t, device="cpu").__array_interface__["data"][0] == t.data_ptr()
    with pytest.raises(BufferError):
        t.__dlpack__(dl_device=(_dlpack.kDLCUDA, 0))


def test_read_only_numpy_stays_read_only():
    a = np.arange(3.0)
    a.flags.writeable = False
    t = ttorch.from_dlpack(a)
    assert t.tolist() == [0.0, 1.0, 2.0]
    assert not t.numpy().flags.writeable


def test_requires_grad_and_stream_errors():
    w = ttorch.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="require gradient"):
        w.__dlpack__()
    assert np.from_dlpack(w.detach()).tolist() == [1.0, 1.0]
    with pytest.raises(TypeError, match="stream"):
        ttorch.ones(1).__dlpack__(stream="s")
    with pytest.raises(BufferError, match="stream"):
        ttorch.ones(1).__dlpack__(stream=5)


def test_producer_lifetime():
    before = _live()
    t = ttorch.arange(5.0)
    a = np.from_dlpack(t)
    assert _live() == before + 1
    del t
    gc.collect()
    assert a.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]   # the export keeps the memory alive
    del a
    assert _live() == before                          # NumPy called the deleter
    cap = ttorch.ones(2).__dlpack__()
    assert _live() == before + 1
    del cap                                           # never consumed: the capsule frees it
    assert _live() == before


def test_consumer_calls_producer_deleter():
    calls = []

    class Producer:
        def __init__(self):
            self.a = np.arange(4.0)

        def __dlpack_device__(self):
            return (1, 0)

        def __dlpack__(self, **kw):
            calls.append(kw)
            return self.a.__dlpack__(**kw)

    p = Producer()
    t = ttorch.from_dlpack(p)
    assert calls[0].get("max_version") == (1, 0) and "stream" not in calls[0]
    ref = t.numpy().base
    while not isinstance(ref, _dlpack._HostBuffer):
        ref = ref.base
    owner = ref.owner
    assert isinstance(owner, _dlpack._Owner)
    t2 = t[1:]
    del t, ref, owner
    gc.collect()
    assert t2.tolist() == [1.0, 2.0, 3.0]              # views keep the memory


def _tampered_capsule(device_type=None, dtype_code=None):
    cap = ttorch.arange(3.0).__dlpack__()
    m = _dlpack.DLManagedTensor.from_address(_get_pointer(cap, b"dltensor"))
    if device_type is not None:
        m.dl_tensor.device.device_type = device_type
    if dtype_code is not None:
        m.dl_tensor.dtype.code = dtype_code
    return cap


def test_unsupported_device_and_dtype():
    before = _live()
    with pytest.raises(BufferError, match="kDLMetal"):
        ttorch.from_dlpack(_tampered_capsule(device_type=8))
    with pytest.raises(BufferError, match="dtype"):
        ttorch.from_dlpack(_tampered_capsule(dtype_code=5))     # complex

    class Vulkan:
        def __dlpack_device__(self):
            return (7, 0)

        def __dlpack__(self, **kw):
            raise AssertionError("must not be asked for a capsule")

    with pytest.raises(BufferError, match="kDLVulkan"):
        ttorch.from_dlpack(Vulkan())
    with pytest.raises(TypeError):
        ttorch.from_dlpack([1, 2, 3])
    assert _live() == before                          # refused capsules were freed


# ----------------------------------------------------------------------------- cuda
@needs_cuda
def test_cuda_round_trip_shares_memory():
    c = ttorch.arange(10.0, device="cuda").reshape(2, 5)
    dev = c.__dlpack_device__()
    if ttorch.cuda.is_simulated():
        assert dev == (_dlpack.kDLCUDAHost, 0)        # host memory the simulated GPU reads
    else:
        assert dev == (_dlpack.kDLCUDA, 0)
    r = ttorch.from_dlpack(c)
    assert r.device == c.device and r.data_ptr() == c.data_ptr() and r.shape == (2, 5)
    r[0, 0] = 50.0
    assert c[0, 0].item() == 50.0
    v = ttorch.from_dlpack(c.t())                     # strided
    assert v.stride() == (1, 5) and v.tolist() == c.t().tolist()
    assert ((r * 2).cpu().tolist()) == (c * 2).cpu().tolist()   # kernels read the imported memory
    gc.collect()
    mem = ttorch.cuda.memory_allocated()
    del r, v
    gc.collect()
    assert ttorch.cuda.memory_allocated() == mem       # imported memory is never counted or freed


@needs_cuda
@pytest.mark.parametrize("dtype", [D.bool, D.int64, D.bfloat16, D.float16], ids=str)
def test_cuda_dtypes(dtype):
    c = ttorch.tensor([1, 0, 1], dtype=dtype, device="cuda")
    r = ttorch.from_dlpack(c)
    assert r.dtype is dtype and r.tolist() == c.tolist()


@needs_cuda
def test_cuda_to_cpu_consumers():
    c = ttorch.arange(4.0, device="cuda")
    if ttorch.cuda.is_simulated():
        a = np.from_dlpack(c)                         # kDLCUDAHost: NumPy reads it in place
        a[3] = 9.0
        assert c[3].item() == 9.0
    else:
        with pytest.raises(Exception):
            np.from_dlpack(c)
    h = np.from_dlpack(c, device="cpu", copy=True)
    assert h.tolist() == c.tolist()
    if ttorch.cuda.is_simulated():                   # a real device pointer can't be simulated
        with pytest.raises(BufferError, match="simulated"):
            ttorch.from_dlpack(_tampered_capsule(device_type=_dlpack.kDLCUDA))
