"""Complex dtypes, part 1: the dtypes and their promotion, making and reading complex tensors, printing,
the views between complex and real, and moving/copying complex tensors on both devices. Expected values
come from NumPy's complex arithmetic or from PyTorch's documented behaviour (checked by hand against
PyTorch 2.13 where noted), never from ttorch itself."""
import io
import warnings

import numpy as np
import pytest

import ttorch
from ttorch import _dtype as D


def cn(rng, *shape, dtype=np.complex128):
    return (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(dtype)


def npy(t):
    return t.detach().cpu().numpy()


# ------------------------------------------------------------------------------ dtypes
def test_dtype_attributes():
    c64, c128 = ttorch.complex64, ttorch.complex128
    assert ttorch.cfloat is c64 and ttorch.cdouble is c128
    assert c64.is_complex and not c64.is_floating_point and c64.is_signed
    assert (c64.itemsize, c128.itemsize) == (8, 16)
    assert c64.to_real() is ttorch.float32 and c128.to_real() is ttorch.float64
    assert ttorch.int64.to_real() is ttorch.int64
    assert ttorch.float64.to_complex() is c128 and ttorch.float32.to_complex() is c64 and c64.to_complex() is c64
    assert ttorch.float16.to_complex() is c64          # (ttorch has no complex32)
    assert D.scalar_name(c64) == "ComplexFloat" and D.scalar_name(c128) == "ComplexDouble"
    assert c64.np == np.complex64 and c128.np == np.complex128
    assert ttorch.finfo(c64).eps == ttorch.finfo(ttorch.float32).eps
    with pytest.raises(RuntimeError, match="to_complex is only supported for floating point types"):
        ttorch.int32.to_complex()
    with pytest.raises(TypeError, match="complex32"):
        D._dtype_by_name("complex32")


# PyTorch 2.13's promote_types, checked by hand
@pytest.mark.parametrize("a,b,out", [("complex64", "float64", "complex128"), ("complex64", "float16", "complex64"),
                                     ("complex64", "bfloat16", "complex64"), ("complex128", "float32", "complex128"),
                                     ("int64", "complex64", "complex64"), ("bool", "complex128", "complex128"),
                                     ("complex64", "complex128", "complex128"), ("uint8", "complex64", "complex64")])
def test_promote_types(a, b, out):
    a, b, out = getattr(ttorch, a), getattr(ttorch, b), getattr(ttorch, out)
    assert ttorch.promote_types(a, b) is out and ttorch.promote_types(b, a) is out


def test_weak_complex_scalars_and_zero_dim_tensors():
    f32, f64 = ttorch.ones(2), ttorch.ones(2, dtype=ttorch.float64)
    assert (f32 * 1j).dtype is ttorch.complex64 and (f64 * 1j).dtype is ttorch.complex128
    assert (ttorch.ones(2, dtype=ttorch.int32) * 1j).dtype is ttorch.complex64
    assert (ttorch.ones(2, dtype=ttorch.complex64) * 2.5).dtype is ttorch.complex64
    # a complex128 zero-dim tensor doesn't widen a float32 one (PyTorch: complex64)
    assert (f32 + ttorch.tensor(1j, dtype=ttorch.complex128)).dtype is ttorch.complex64
    assert (ttorch.ones(2, dtype=ttorch.complex64) + ttorch.tensor(1.0, dtype=ttorch.float64)).dtype is ttorch.complex64
    assert (ttorch.ones(2, dtype=ttorch.int64) + ttorch.tensor(1j, dtype=ttorch.complex128)).dtype is ttorch.complex128
    ttorch.set_default_dtype(ttorch.float64)
    try:       # the default complex dtype follows the default float dtype
        assert ttorch.tensor(2j).dtype is ttorch.complex128
        assert (ttorch.ones(2, dtype=ttorch.int32) * 1j).dtype is ttorch.complex128
        assert (ttorch.ones(2, dtype=ttorch.float32) * 1j).dtype is ttorch.complex64
    finally:
        ttorch.set_default_dtype(ttorch.float32)


def test_can_cast_and_out_refuses_complex_to_real(device):
    assert ttorch.can_cast(ttorch.float64, ttorch.complex64) and not ttorch.can_cast(ttorch.complex64, ttorch.float64)
    x = ttorch.ones(2, device=device)
    with pytest.raises(RuntimeError, match="result type ComplexFloat can't be cast to the desired output type Float"):
        x.add_(x * 1j)
    with pytest.raises(RuntimeError, match="can't be cast"):
        ttorch.mul(x, 1j, out=ttorch.empty(2, device=device))


# ------------------------------------------------------------------------------ making and reading
def test_tensor_from_python_and_numpy(device):
    t = ttorch.tensor([[1, 2j]], device=device)
    assert t.dtype is ttorch.complex64 and t.tolist() == [[1 + 0j, 2j]]
    s = ttorch.tensor(1 + 2j, device=device)
    assert s.shape == () and s.item() == 1 + 2j and isinstance(s.item(), complex) and complex(s) == 1 + 2j
    a = cn(np.random.default_rng(0), 3, 2)
    t = ttorch.tensor(a, device=device)
    assert t.dtype is ttorch.complex128 and np.array_equal(npy(t), a)
    assert ttorch.tensor(a, dtype=ttorch.complex64, device=device).dtype is ttorch.complex64
    assert ttorch.tensor([1.5, 2], dtype=ttorch.cfloat, device=device).tolist() == [1.5 + 0j, 2 + 0j]


def test_from_numpy_shares_memory_and_numpy_round_trip():
    a = np.array([1 + 2j, 3 - 4j], dtype=np.complex64)
    t = ttorch.from_numpy(a)
    assert t.dtype is ttorch.complex64
    a[0] = 5j
    assert t[0].item() == 5j
    assert ttorch.as_tensor(a).numpy() is not None and np.shares_memory(ttorch.as_tensor(a).numpy(), a)
    b = a[::2]                                   # strided: still shared
    assert ttorch.from_numpy(b).tolist() == [5j]
    assert t.type() == "ttorch.ComplexFloatTensor" and t.element_size() == 8 and t.is_complex()


def test_creation_functions(device):
    for fn, v in ((ttorch.zeros, 0j), (ttorch.ones, 1 + 0j)):
        t = fn(2, 3, dtype=ttorch.cfloat, device=device)
        assert t.dtype is ttorch.complex64 and t.tolist() == [[v] * 3] * 2
    assert ttorch.full((2,), 1 - 2j, device=device).tolist() == [1 - 2j] * 2
    assert ttorch.full((2,), 1 - 2j, device=device).dtype is ttorch.complex64
    z = ttorch.tensor([1j, 2], device=device)
    assert ttorch.zeros_like(z).tolist() == [0j, 0j] and ttorch.ones_like(z).dtype is ttorch.complex64
    assert ttorch.empty(3, dtype=ttorch.cdouble, device=device).shape == (3,)
    f = ttorch.zeros(3, dtype=ttorch.cfloat, device=device)
    f.fill_(2 + 1j)
    assert f.tolist() == [2 + 1j] * 3
    f.zero_()
    assert f.tolist() == [0j] * 3


def test_random_complex(device):
    z = ttorch.randn(4000, dtype=ttorch.cfloat, device=device)
    assert z.dtype is ttorch.complex64 and not z._is_view()
    a = npy(z)
    # real and imaginary parts each N(0, 1/2), as PyTorch's, so that E|z|^2 = 1
    assert abs(a.real.std() - 0.5 ** 0.5) < 0.03 and abs(a.imag.std() - 0.5 ** 0.5) < 0.03
    assert abs(np.mean(np.abs(a) ** 2) - 1) < 0.06
    u = npy(ttorch.rand(2, 500, dtype=ttorch.cdouble, device=device))
    assert u.shape == (2, 500) and u.real.min() >= 0 and u.imag.max() < 1 and abs(u.imag.mean() - 0.5) < 0.05


# PyTorch's printouts, checked by hand
@pytest.mark.parametrize("data,dtype,text", [
    ([1 + 2j, 3 - 4j], None, "tensor([1.+2.j, 3.-4.j])"),
    ([1 + 2j, 3 - 4j], "complex128", "tensor([1.+2.j, 3.-4.j], dtype=ttorch.complex128)"),
    ([1.5 + 2.25j, -3e-5 - 4j], None, "tensor([ 1.5000e+00+2.2500j, -3.0000e-05-4.0000j])"),
    ([[1e10 + 1j]], None, "tensor([[1.0000e+10+1.j]])"),
    (1 + 2j, None, "tensor(1.+2.j)"),
    (-0.5 - 0.0j, None, "tensor(-0.5000+0.j)"),
    ([float("nan") + 1j, float("inf") - 2.5j], None, "tensor([nan+1.0000j, inf-2.5000j])"),
    ([[1j, 2], [3, 4j]], None, "tensor([[0.+1.j, 2.+0.j],\n        [3.+0.j, 0.+4.j]])"),
])
def test_printing(data, dtype, text):
    assert repr(ttorch.tensor(data, dtype=getattr(ttorch, dtype) if dtype else None)) == text


def test_printing_cuda_and_empty():
    assert repr(ttorch.zeros(2, dtype=ttorch.cfloat)) == "tensor([0.+0.j, 0.+0.j])"
    assert repr(ttorch.tensor([], dtype=ttorch.cfloat)) == "tensor([], dtype=ttorch.complex64)"
    if ttorch.cuda.is_available():
        assert repr(ttorch.tensor([1j], device="cuda")) == "tensor([0.+1.j], device='cuda:0')"


def test_dlpack_round_trip():
    for dt, bits in ((ttorch.complex64, 64), (ttorch.complex128, 128)):
        t = ttorch.tensor([1 + 2j, -3j], dtype=dt)
        a = np.from_dlpack(t)               # DLPack's kDLComplex (code 5)
        assert a.dtype == dt.np and np.shares_memory(a, t.numpy()) and a.tolist() == [1 + 2j, -3j]
        back = ttorch.from_dlpack(a)
        assert back.dtype is dt and back.data_ptr() == t.data_ptr()


def test_save_load_round_trip():
    buf = io.BytesIO()
    p = ttorch.nn.Parameter(ttorch.tensor([[1 + 1j, 2j]], dtype=ttorch.complex128))
    ttorch.save({"a": ttorch.tensor([1 + 2j, -3j]), "p": p}, buf)
    buf.seek(0)
    d = ttorch.load(buf)
    assert d["a"].dtype is ttorch.complex64 and d["a"].tolist() == [1 + 2j, -3j]
    assert d["p"].dtype is ttorch.complex128 and d["p"].tolist() == [[1 + 1j, 2j]] and d["p"].requires_grad


# ------------------------------------------------------------------------------ views
def test_view_as_real_and_complex_share_memory(device):
    a = cn(np.random.default_rng(1), 3, 4, dtype=np.complex64)
    z = ttorch.tensor(a, device=device)
    r = ttorch.view_as_real(z)
    assert r.shape == (3, 4, 2) and r.stride() == (8, 2, 1) and r.dtype is ttorch.float32
    np.testing.assert_array_equal(npy(r), np.stack([a.real, a.imag], -1))
    assert ttorch.view_as_real(z[:, ::2]).stride() == (8, 4, 1) and ttorch.view_as_real(z.t()).stride() == (2, 8, 1)
    assert ttorch.view_as_real(z[1:]).storage_offset() == 8
    r[0, 0, 1] = 7.0                               # writes show through
    assert z[0, 0].item().imag == 7.0
    back = ttorch.view_as_complex(r)
    assert back.dtype is ttorch.complex64 and back.shape == (3, 4)
    back[2, 3] = 1 - 1j
    assert z[2, 3].item() == 1 - 1j
    assert ttorch.view_as_complex(ttorch.ones(2, dtype=ttorch.float64, device=device)).dtype is ttorch.complex128


def test_views_of_an_empty_complex_tensor(device):
    z = ttorch.zeros(0, 4, dtype=ttorch.complex128, device=device)
    assert z.imag.shape == z.real.shape == (0, 4) and ttorch.view_as_real(z).shape == (0, 4, 2)
    assert z.imag.sum().item() == 0.0


# PyTorch's checks and messages, checked by hand
@pytest.mark.parametrize("make,msg", [
    (lambda: ttorch.view_as_real(ttorch.ones(2)), "view_as_real is only supported for complex tensors"),
    (lambda: ttorch.view_as_complex(ttorch.ones(3)), "Tensor must have a last dimension of size 2"),
    (lambda: ttorch.view_as_complex(ttorch.ones(3, 2).t()), "Tensor must have a last dimension of size 2"),
    (lambda: ttorch.view_as_complex(ttorch.ones(2, 4)[:, ::2]), "Tensor must have a last dimension with stride 1"),
    (lambda: ttorch.view_as_complex(ttorch.ones(7)[1:].view(3, 2)), "Tensor must have a storage_offset divisible by 2"),
    (lambda: ttorch.view_as_complex(ttorch.ones(3, 3)[:, 1:]),
     "Tensor must have a stride divisible by 2 for all but last dimension"),
    (lambda: ttorch.view_as_complex(ttorch.ones(2, dtype=ttorch.int64)),
     "view_as_complex is only supported for half, float and double tensors, but got a tensor of scalar type: Long"),
    (lambda: ttorch.view_as_complex(ttorch.ones(())), "Input tensor must have one or more dimensions"),
    (lambda: ttorch.ones(2).imag, "imag is not implemented for tensors with non-complex dtypes."),
])
def test_view_errors(make, msg):
    with pytest.raises(RuntimeError, match=msg.replace("(", "\\(").replace(")", "\\)")):
        make()


def test_real_imag_views_are_writable(device):
    z = ttorch.tensor([1 + 2j, 3 - 4j], device=device)
    assert z.real.tolist() == [1.0, 3.0] and z.imag.tolist() == [2.0, -4.0]
    assert z.real.dtype is ttorch.float32 and z.imag.stride() == (2,)
    z.real = ttorch.tensor([5.0, 6.0], device=device)
    z.imag = 0.5
    assert z.tolist() == [5 + 0.5j, 6 + 0.5j]
    z.imag.mul_(4)
    assert z.tolist() == [5 + 2j, 6 + 2j]
    x = ttorch.ones(2, device=device)
    assert x.real is x and ttorch.real(x) is x
    assert ttorch.isreal(ttorch.tensor([1 + 0j, 1j], device=device)).tolist() == [True, False]
    assert ttorch.isreal(x).tolist() == [True, True]


def test_complex_polar_conj(device):
    re, im = ttorch.tensor([1.0, -2.0], device=device), ttorch.tensor([[3.0], [0.5]], device=device)
    z = ttorch.complex(re, im)
    assert z.dtype is ttorch.complex64 and z.tolist() == [[1 + 3j, -2 + 3j], [1 + 0.5j, -2 + 0.5j]]
    p = ttorch.polar(ttorch.tensor([2.0, 1.0], device=device, dtype=ttorch.float64),
                     ttorch.tensor([np.pi / 2, np.pi], device=device, dtype=ttorch.float64))
    np.testing.assert_allclose(npy(p), [2j, -1], atol=1e-15)
    c = ttorch.conj(z)
    np.testing.assert_array_equal(npy(c), np.conj(npy(z)))
    assert not c.is_conj() and c.resolve_conj() is c and ttorch.conj_physical(z).tolist() == c.tolist()
    assert ttorch.conj(re) is re
    m = ttorch.tensor([[1j, 2], [3, 4 - 1j]], device=device)
    np.testing.assert_array_equal(npy(m.mH), np.conj(npy(m)).T)
    np.testing.assert_array_equal(npy(m.H), np.conj(npy(m)).T)
    np.testing.assert_array_equal(npy(m.adjoint()), np.conj(npy(m)).T)
    with pytest.raises(RuntimeError, match="Expected both inputs to be Half, Float or Double tensors but got Long"):
        ttorch.complex(ttorch.tensor([1]), ttorch.tensor([2]))
    with pytest.raises(RuntimeError, match="Expected object of scalar type Float but got scalar type Double"):
        ttorch.complex(re.cpu(), re.cpu().double())


# ------------------------------------------------------------------------------ moving and copying
def test_to_dtype_and_device(device):
    z = ttorch.tensor([1 + 2j, 3 - 4j], device=device)
    assert z.to(ttorch.complex128).tolist() == [1 + 2j, 3 - 4j]
    assert ttorch.ones(2, device=device).to(ttorch.cfloat).tolist() == [1 + 0j, 1 + 0j]
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        r = z.to(ttorch.float32)
    assert r.tolist() == [1.0, 3.0]
    assert [str(x.message) for x in w] == ["Casting complex values to real discards the imaginary part"]
    assert w[0].category is UserWarning
    assert z.cpu().tolist() == z.tolist() and z.to("cpu").device.type == "cpu"
    if ttorch.cuda.is_available():
        assert z.to("cuda").tolist() == [1 + 2j, 3 - 4j]


def test_movement_ops(device):
    a = cn(np.random.default_rng(2), 2, 3, 4)
    z = ttorch.tensor(a, device=device)
    cases = [
        (z.clone(), a), (z.t().contiguous() if z.ndim == 2 else z.transpose(0, 2).contiguous(), a.transpose(2, 1, 0)),
        (z.permute(1, 0, 2), a.transpose(1, 0, 2)), (z.reshape(6, 4), a.reshape(6, 4)),
        (z.view(2, 12), a.reshape(2, 12)),
        (z[:, None, 1].expand(2, 5, 4), np.broadcast_to(a[:, None, 1], (2, 5, 4))), (z[1, ::2, 1:3], a[1, ::2, 1:3]),
        (z.flip(0, 2), a[::-1, :, ::-1]), (z.roll(1, 1), np.roll(a, 1, 1)), (z.unsqueeze(1).squeeze(1), a),
        (z.flatten(1), a.reshape(2, 12)), (ttorch.cat([z, z[:1]], 0), np.concatenate([a, a[:1]], 0)),
        (ttorch.stack([z[0], z[1]], 2), np.stack([a[0], a[1]], 2)), (z.repeat(1, 2, 1), np.tile(a, (1, 2, 1))),
        (z.index_select(1, ttorch.tensor([2, 0, 2], device=device)), a[:, [2, 0, 2]]),
        (z[ttorch.tensor([1, 0], device=device)], a[[1, 0]]), (z[z.real > 0], a[a.real > 0]),
        (z.gather(2, ttorch.tensor([[[3, 0]] * 3] * 2, device=device)),
         np.take_along_axis(a, np.array([[[3, 0]] * 3] * 2), 2)),
        (z.unbind(1)[2], a[:, 2]), (z.split(2, 2)[1], a[:, :, 2:]), (z.mT.contiguous(), a.transpose(0, 2, 1)),
    ]
    for got, want in cases:
        assert got.dtype is ttorch.complex128
        np.testing.assert_array_equal(npy(got), want)
    assert ttorch.nonzero(ttorch.tensor([0j, 1j, 0, 2], device=device)).reshape(-1).tolist() == [1, 3]


def test_copies_and_setitem(device):
    z = ttorch.tensor([1 + 1j, 2 - 1j, 3j, 4], device=device)
    w = z.clone()
    w[ttorch.tensor([0, 2], device=device)] = ttorch.tensor([9j, 7 + 0j], device=device)
    assert w.tolist() == [9j, 2 - 1j, 7 + 0j, 4 + 0j]
    w[1:3] = 5 + 5j
    assert w.tolist() == [9j, 5 + 5j, 5 + 5j, 4 + 0j]
    w[w.real > 4.5] = 0
    assert w.tolist() == [9j, 0j, 0j, 4 + 0j]
    w.copy_(z)
    assert w.tolist() == z.tolist()
    w.copy_(ttorch.tensor([1.0, 2.0, 3.0, 4.0], device=device))      # real into complex: zero imaginary parts
    assert w.tolist() == [1 + 0j, 2 + 0j, 3 + 0j, 4 + 0j]
    m = ttorch.ones(2, 3, dtype=ttorch.cfloat, device=device)
    m[:, 1] = 1j
    assert m.tolist() == [[1, 1j, 1]] * 2
    m.copy_(ttorch.tensor([1j, 2j, 3j], device=device))              # broadcast
    assert m.tolist() == [[1j, 2j, 3j]] * 2
    r = ttorch.zeros(2, device=device)
    with pytest.warns(UserWarning, match="Casting complex values to real discards the imaginary part"):
        r.copy_(ttorch.tensor([1 + 5j, 2 - 5j], device=device))      # complex into real: the real parts
    assert r.tolist() == [1.0, 2.0]


def test_complex32_is_not_supported_and_docstrings_run():
    import doctest
    from ttorch.ops import complex as cx, complex_linalg, complex_math
    with pytest.raises(AttributeError, match="no complex32"):
        ttorch.complex32
    with pytest.raises(RuntimeError, match="complex32"):
        ttorch.view_as_complex(ttorch.ones(2, dtype=ttorch.float16))
    for mod in (cx, complex_math, complex_linalg):
        res = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert res.failed == 0 and res.attempted >= 1, mod.__name__


def test_in_place_on_a_real_view_of_a_tensor_requiring_grad_is_refused():
    z = ttorch.tensor([1 + 2j, 3 - 1j], requires_grad=True)
    y = z * 1
    with pytest.raises(RuntimeError, match="in-place ops on a real view"):
        y.imag.mul_(3)
    assert y.tolist() == [1 + 2j, 3 - 1j]           # refused before writing
    w = z.detach().clone()
    w.imag.mul_(3)                                   # outside autograd: fine
    assert w.tolist() == [1 + 6j, 3 - 3j]
