"""dtypes, type promotion, devices, host/device moves, NumPy interop and the ttorch.cuda API."""
import gc

import numpy as np
import pytest

import ttorch
from ttorch import _dtype as D

b1, u1, i1, i2, i4, i8 = D.bool, D.uint8, D.int8, D.int16, D.int32, D.int64
f2, bf, f4, f8 = D.float16, D.bfloat16, D.float32, D.float64
ORDER = [b1, u1, i1, i2, i4, i8, f2, bf, f4, f8]

# PyTorch's promotion table (c10/core/ScalarType.cpp) for the 10 dtypes, rows/columns in ORDER
PROMOTE = [
    # b1  u1  i1  i2  i4  i8  f2  bf  f4  f8
    [b1, u1, i1, i2, i4, i8, f2, bf, f4, f8],  # b1
    [u1, u1, i2, i2, i4, i8, f2, bf, f4, f8],  # u1
    [i1, i2, i1, i2, i4, i8, f2, bf, f4, f8],  # i1
    [i2, i2, i2, i2, i4, i8, f2, bf, f4, f8],  # i2
    [i4, i4, i4, i4, i4, i8, f2, bf, f4, f8],  # i4
    [i8, i8, i8, i8, i8, i8, f2, bf, f4, f8],  # i8
    [f2, f2, f2, f2, f2, f2, f2, f4, f4, f8],  # f2
    [bf, bf, bf, bf, bf, bf, f4, bf, f4, f8],  # bf
    [f4, f4, f4, f4, f4, f4, f4, f4, f4, f8],  # f4
    [f8, f8, f8, f8, f8, f8, f8, f8, f8, f8],  # f8
]


@pytest.fixture
def restore_default_dtype():
    old = ttorch.get_default_dtype()
    yield
    ttorch.set_default_dtype(old)


# ----------------------------------------------------------------------------- dtypes
def test_dtype_names_and_aliases():
    names = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64"]
    for name, d in zip(names, ORDER):
        assert getattr(ttorch, name) is d
        assert str(d) == repr(d) == f"ttorch.{name}"
        assert isinstance(d, ttorch.dtype)
    assert ttorch.float is ttorch.float32 and ttorch.double is ttorch.float64 and ttorch.half is ttorch.float16
    assert ttorch.long is ttorch.int64 and ttorch.int is ttorch.int32 and ttorch.short is ttorch.int16
    assert {d.itemsize for d in (f2, bf, i2)} == {2} and f8.itemsize == 8 and b1.itemsize == 1
    assert [d.is_floating_point for d in ORDER] == [False] * 6 + [True] * 4
    assert u1.is_signed is False and i1.is_signed and f4.is_signed
    import pickle
    assert pickle.loads(pickle.dumps(bf)) is bf


def test_default_dtype(restore_default_dtype):
    assert ttorch.get_default_dtype() is ttorch.float32
    assert ttorch.tensor([1.5]).dtype is ttorch.float32 and ttorch.zeros(2).dtype is ttorch.float32
    ttorch.set_default_dtype(ttorch.float64)
    assert ttorch.get_default_dtype() is ttorch.float64
    assert ttorch.tensor([1.5]).dtype is ttorch.float64 and ttorch.ones(2).dtype is ttorch.float64
    assert (ttorch.tensor([1, 2]) * 2.5).dtype is ttorch.float64       # int * float scalar: default float
    assert ttorch.tensor([1, 2]).dtype is ttorch.int64
    with pytest.raises(TypeError):
        ttorch.set_default_dtype(ttorch.int32)


def test_promote_types_full_table():
    for i, a in enumerate(ORDER):
        for j, b in enumerate(ORDER):
            assert ttorch.promote_types(a, b) is PROMOTE[i][j], (a, b)
            assert ttorch.promote_types(b, a) is PROMOTE[i][j], (b, a)


def test_result_type_follows_the_table_for_tensors():
    for i, a in enumerate(ORDER):
        for j, b in enumerate(ORDER):
            x, y = ttorch.zeros(2, dtype=a), ttorch.zeros(2, dtype=b)
            assert ttorch.result_type(x, y) is PROMOTE[i][j]


def test_can_cast():
    # float -> integral/bool and integral -> bool are refused; everything else is allowed
    for a in ORDER:
        for b in ORDER:
            expected = not ((a.is_floating_point and not b.is_floating_point) or (a is not b1 and b is b1))
            assert ttorch.can_cast(a, b) is expected, (a, b)


def test_is_floating_point():
    assert ttorch.is_floating_point(ttorch.zeros(1))
    assert ttorch.zeros(1, dtype=ttorch.bfloat16).is_floating_point()
    assert not ttorch.is_floating_point(ttorch.zeros(1, dtype=ttorch.int64))
    assert not ttorch.zeros(1, dtype=ttorch.bool).is_floating_point()


def test_finfo_iinfo():
    fi = ttorch.finfo(ttorch.float32)
    assert (fi.bits, fi.eps, fi.max, fi.min) == (32, 2.0 ** -23, 3.4028234663852886e+38, -3.4028234663852886e+38)
    assert fi.tiny == fi.smallest_normal == 2.0 ** -126 and fi.resolution == 1e-06 and fi.dtype == "float32"
    fh = ttorch.finfo(ttorch.float16)
    assert (fh.bits, fh.eps, fh.max, fh.tiny, fh.resolution) == (16, 2.0 ** -10, 65504.0, 2.0 ** -14, 0.001)
    fb = ttorch.finfo(ttorch.bfloat16)
    assert (fb.bits, fb.eps, fb.max, fb.tiny, fb.resolution) == (16, 2.0 ** -7, 3.3895313892515355e+38, 2.0 ** -126,
                                                                 0.01)
    fd = ttorch.finfo(ttorch.float64)
    assert (fd.bits, fd.eps, fd.max, fd.tiny) == (64, 2.0 ** -52, 1.7976931348623157e+308, 2.0 ** -1022)
    assert ttorch.finfo().bits == 32
    for d, lo, hi in ((u1, 0, 255), (i1, -128, 127), (i2, -32768, 32767), (i4, -2 ** 31, 2 ** 31 - 1),
                      (i8, -2 ** 63, 2 ** 63 - 1)):
        ii = ttorch.iinfo(d)
        assert (ii.min, ii.max, ii.bits, ii.dtype) == (lo, hi, d.itemsize * 8, d.name)
    with pytest.raises(TypeError):
        ttorch.finfo(ttorch.int32)
    with pytest.raises(TypeError):
        ttorch.iinfo(ttorch.float32)


def test_weak_scalars(device):
    it = ttorch.tensor([1, 2], device=device)
    assert (it * 2.5).dtype is ttorch.float32
    assert (it * 2).dtype is ttorch.int64
    assert (ttorch.tensor([1, 2], dtype=ttorch.int32, device=device) * 2).dtype is ttorch.int32
    assert (ttorch.tensor([1, 2], dtype=ttorch.int32, device=device) + True).dtype is ttorch.int32
    assert (ttorch.ones(2, dtype=ttorch.float16, device=device) + 1.0).dtype is ttorch.float16
    assert (ttorch.ones(2, dtype=ttorch.bfloat16, device=device) * 3).dtype is ttorch.bfloat16
    b = ttorch.tensor([True, False], device=device)
    assert (b + 1).dtype is ttorch.int64 and (b + 1).tolist() == [2, 1]
    assert (b + 1.5).dtype is ttorch.float32
    assert (b + True).dtype is ttorch.bool
    # a 0-dim tensor of the same category does not promote a dimensioned one
    z = ttorch.tensor(2.0, dtype=ttorch.float64, device=device) + ttorch.ones(2, device=device)
    assert z.dtype is ttorch.float32 and z.tolist() == [3.0, 3.0]
    # ... but a 0-dim tensor of a higher category does
    assert (ttorch.tensor(2.0, dtype=ttorch.float64, device=device) + it).dtype is ttorch.float64
    assert (ttorch.tensor(2, device=device) + ttorch.ones(2, dtype=ttorch.int8, device=device)).dtype is ttorch.int8
    # both 0-dim: ordinary promotion
    assert (ttorch.tensor(2.0, dtype=ttorch.float64) + ttorch.tensor(1.0)).dtype is ttorch.float64
    # reflected forms and true division
    assert (2.5 * it).dtype is ttorch.float32 and (1 - it).dtype is ttorch.int64
    assert (it / 2).dtype is ttorch.float32 and (it / it).dtype is ttorch.float32
    assert ttorch.result_type(it, 2.5) is ttorch.float32 and ttorch.result_type(2, it) is ttorch.int64


def test_result_type_of_scalars_and_0dim():
    assert ttorch.result_type(ttorch.tensor(1, dtype=ttorch.int8), 1) is ttorch.int8
    assert ttorch.result_type(ttorch.tensor(1, dtype=ttorch.int8), 1.0) is ttorch.float32
    assert ttorch.result_type(ttorch.tensor([1], dtype=ttorch.uint8), ttorch.tensor(1, dtype=ttorch.int8)) \
        is ttorch.uint8
    assert ttorch.result_type(ttorch.tensor(True), False) is ttorch.bool


# ----------------------------------------------------------------------------- devices
def test_device_objects():
    cpu = ttorch.device("cpu")
    assert cpu.type == "cpu" and cpu.index is None and str(cpu) == "cpu" and repr(cpu) == "device(type='cpu')"
    c = ttorch.device("cuda")
    assert c.type == "cuda" and c.index is None and str(c) == "cuda" and repr(c) == "device(type='cuda')"
    c0 = ttorch.device("cuda:0")
    assert c0.index == 0 and str(c0) == "cuda:0" and repr(c0) == "device(type='cuda', index=0)"
    assert ttorch.device("cuda", 0) == c0 and ttorch.device(0) == c0 and ttorch.device(c0) == c0
    assert c != c0 and cpu != c0 and ttorch.device("cpu") == cpu
    assert len({ttorch.device("cuda:0"), ttorch.device("cuda", 0), c}) == 2
    import pickle
    assert pickle.loads(pickle.dumps(c0)) == c0


def test_canonical_device_follows_the_current_cuda_device():
    # a tensor records cuda with its index: "cuda" (and device("cuda")) mean ttorch.cuda's current device
    # at the call, as set_device changes it (the fast path caches where that index lives, not its value)
    from ttorch._device import _canonical
    assert _canonical(None) is ttorch.device("cpu") and _canonical("cpu") is ttorch.device("cpu")
    assert _canonical("cuda:2") is ttorch.device("cuda", 2) and _canonical(1) is ttorch.device("cuda", 1)
    assert _canonical("cuda") is ttorch.device("cuda", ttorch.cuda.current_device())
    was = ttorch.cuda._current[0]
    ttorch.cuda._current[0] = 3                 # what set_device(3) records, without a fourth device
    try:
        assert _canonical("cuda") is ttorch.device("cuda", 3) and _canonical(ttorch.device("cuda")).index == 3
    finally:
        ttorch.cuda._current[0] = was
    with pytest.raises(RuntimeError):
        _canonical("gpu")


@pytest.mark.parametrize("bad", ["gpu", "CUDA", "cuda:x", "cuda:", "cuda:-1", "cuda:0:1", "", "cpu:1"])
def test_invalid_device_strings(bad):
    with pytest.raises(RuntimeError):
        ttorch.device(bad)


def test_device_type_errors():
    with pytest.raises(TypeError):
        ttorch.device(1.5)


def test_tensor_device_and_moves(device):
    x = ttorch.tensor([1.0, 2.0], device=device)
    assert x.device == ttorch.device("cpu" if device == "cpu" else "cuda:0")
    assert x.is_cuda == (device == "cuda") and x.is_cpu == (device == "cpu")
    assert x.get_device() == (-1 if device == "cpu" else 0)
    assert x.to(device) is x and x.to(x.dtype) is x and x.to(x) is x
    c = x.to(device, copy=True)
    assert c is not x and c.tolist() == x.tolist() and c.untyped_storage() is not x.untyped_storage()
    d = x.to(device, ttorch.float64)
    assert d.dtype is ttorch.float64 and d.device == x.device and d.tolist() == [1.0, 2.0]
    d = x.to(dtype=ttorch.int32)
    assert d.dtype is ttorch.int32 and d.tolist() == [1, 2]
    other = ttorch.zeros(1, dtype=ttorch.float16)
    h = x.to(other)
    assert h.device.type == "cpu" and h.dtype is ttorch.float16 and h.tolist() == [1.0, 2.0]
    assert x.cpu().device.type == "cpu" and x.cpu().tolist() == [1.0, 2.0]
    if device == "cpu":
        assert x.cpu() is x
    g = x.cuda()
    assert g.device == ttorch.device("cuda:0") and g.tolist() == [1.0, 2.0]
    assert x.cuda(0).device == ttorch.device("cuda", 0) and x.to("cuda:0").device.index == 0
    assert x.double().dtype is ttorch.float64 and x.half().dtype is ttorch.float16 and x.long().dtype is ttorch.int64
    assert x.int().dtype is ttorch.int32 and x.bool().dtype is ttorch.bool and x.bfloat16().dtype is ttorch.bfloat16
    assert x.type_as(ttorch.zeros(1, dtype=ttorch.int16)).dtype is ttorch.int16
    with pytest.raises(TypeError):
        x.to(device, 3.5)


def test_float_to_int_casts_truncate(device):
    x = ttorch.tensor([-1.7, -0.5, 0.5, 2.9], device=device)
    assert x.to(ttorch.int32).tolist() == [-1, 0, 0, 2]
    assert x.to(ttorch.bool).tolist() == [True, True, True, True]
    assert ttorch.tensor([0.0, 3.0], device=device).bool().tolist() == [False, True]


def test_to_keeps_autograd_across_devices():
    x = ttorch.tensor([1.0, 2.0], requires_grad=True)
    y = x.cuda().to(ttorch.float64)
    assert y.grad_fn is not None and y.grad_fn.name() == "ToCopyBackward0"
    (y * y).sum().backward()
    assert x.grad.device.type == "cpu" and x.grad.dtype is ttorch.float32 and x.grad.tolist() == [2.0, 4.0]


# ----------------------------------------------------------------------------- NumPy interop
def test_numpy_shares_memory_on_cpu():
    x = ttorch.zeros(3)
    a = x.numpy()
    a[1] = 5.0
    assert x.tolist() == [0.0, 5.0, 0.0]
    x.add_(1.0)
    assert a.tolist() == [1.0, 6.0, 1.0]
    v = x.unsqueeze(0).expand(2, 3)
    assert v.numpy().strides == (0, 4)


def test_numpy_errors():
    with pytest.raises(TypeError, match="can't convert cuda:0 device type tensor to numpy"):
        ttorch.zeros(2, device="cuda").numpy()
    x = ttorch.zeros(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="Can't call numpy\\(\\) on Tensor that requires grad"):
        x.numpy()
    assert x.detach().numpy().shape == (2,)
    assert ttorch.ones(2, device="cuda").numpy(force=True).tolist() == [1.0, 1.0]


@pytest.mark.parametrize("dt", [np.float32, np.float64, np.float16, np.int64, np.int32, np.int16, np.int8, np.uint8,
                                np.bool_])
def test_from_numpy_shares_memory(dt):
    a = np.arange(6).astype(dt).reshape(2, 3)
    t = ttorch.from_numpy(a)
    assert t.dtype is D.from_numpy_dtype(np.dtype(dt)) and t.shape == (2, 3)
    a[0, 1] = 1
    assert t.tolist()[0][1] == a[0, 1]
    if dt is not np.bool_:
        t.mul_(2)
        assert a.tolist() == (np.arange(6).astype(dt).reshape(2, 3) * 2).astype(dt).tolist()


def test_from_numpy_noncontiguous_shares_both_ways():
    base = np.arange(24, dtype=np.float32).reshape(4, 6)
    a = base[1:, ::2]                                  # strided view with an offset
    t = ttorch.from_numpy(a)
    assert t.shape == (3, 3) and t.stride() == (6, 2) and not t.is_contiguous()
    assert t.tolist() == a.tolist()
    t.add_(100)
    assert base[1, 0] == 106 and base[1, 1] == 7 and base[3, 4] == 122
    a[2, 2] = -1
    assert t.tolist()[2][2] == -1
    at = base.T                                        # Fortran order
    tt = ttorch.from_numpy(at)
    assert tt.stride() == (1, 6) and tt.tolist() == at.tolist()
    assert (tt + 0).tolist() == at.tolist()
    b = np.broadcast_to(np.arange(3.0), (2, 3))        # zero strides
    tb = ttorch.from_numpy(b)
    assert tb.stride() == (0, 1) and tb.tolist() == b.tolist()


def test_from_numpy_rejects():
    with pytest.raises(ValueError, match="negative"):
        ttorch.from_numpy(np.arange(4.0)[::-1])
    with pytest.raises(TypeError):
        ttorch.from_numpy([1.0, 2.0])
    with pytest.raises(TypeError):
        ttorch.from_numpy(np.zeros(2, dtype="U1"))     # (complex arrays are taken: tests/test_complex.py)


def test_tensor_copies_numpy():
    a = np.ones(3)
    t = ttorch.tensor(a)
    a[0] = 7
    assert t.tolist() == [1.0, 1.0, 1.0] and t.dtype is ttorch.float64


# ----------------------------------------------------------------------------- ttorch.cuda
def test_cuda_api():
    c = ttorch.cuda
    assert c.is_available() is True and c.device_count() >= 1
    assert c.current_device() == 0
    c.set_device(0)
    c.set_device("cuda:0")
    c.set_device(ttorch.device("cuda", 0))
    assert c.current_device() == 0
    c.synchronize()
    assert isinstance(c.get_device_name(), str) and c.get_device_name(0) == c.get_device_name()
    cap = c.get_device_capability()
    assert isinstance(cap, tuple) and len(cap) == 2 and cap[0] >= 7
    props = c.get_device_properties(0)
    assert (props.major, props.minor) == cap and props.name == c.get_device_name()
    assert props.multi_processor_count >= 1 and props.total_memory > 1 << 30
    assert f"multi_processor_count={props.multi_processor_count}" in repr(props)
    with c.device(0):
        assert c.current_device() == 0


def test_cuda_memory_counters():
    gc.collect()
    before = ttorch.cuda.memory_allocated()
    x = ttorch.empty(1000, device="cuda")
    # PyTorch counts the allocator's block: 4000 bytes rounded up to 512 on a GPU (8 on the simulated device)
    block = 4000 if ttorch.cuda.is_simulated() else 4096
    assert ttorch.cuda.memory_allocated() == before + block
    assert ttorch.cuda.max_memory_allocated() >= before + block
    v = x[None] if hasattr(ttorch.Tensor, "__getitem__") else x.unsqueeze(0)
    del x
    gc.collect()
    assert ttorch.cuda.memory_allocated() == before + block    # a view keeps the storage alive
    del v
    gc.collect()
    assert ttorch.cuda.memory_allocated() == before
    ttorch.cuda.reset_peak_memory_stats()
    assert ttorch.cuda.max_memory_allocated() == before
    assert ttorch.zeros(3).numel() == 3 and ttorch.cuda.memory_allocated() == before   # cpu does not count


def test_cuda_manual_seed_reproducible():
    if not hasattr(ttorch, "rand"):
        pytest.skip("ttorch.rand is not defined yet")
    ttorch.cuda.manual_seed(123)
    a = ttorch.rand(5, device="cuda").tolist()
    ttorch.cuda.manual_seed(123)
    b = ttorch.rand(5, device="cuda").tolist()
    ttorch.cuda.manual_seed(124)
    c = ttorch.rand(5, device="cuda").tolist()
    assert a == b and a != c
