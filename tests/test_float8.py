"""float8 dtypes (casts, the few ops PyTorch has for them, their errors), torch._scaled_mm / F.scaled_mm, and
uint16/32/64. Expected values were read from PyTorch 2.13 by hand; references here are NumPy and ml_dtypes."""
import io

import numpy as np
import pytest

import ttorch
import ttorch.nn.functional as F
from ttorch import _dtype as D
from ttorch.ops import scaled_mm as _sm

F8 = [ttorch.float8_e4m3fn, ttorch.float8_e5m2, ttorch.float8_e4m3fnuz, ttorch.float8_e5m2fnuz, ttorch.float8_e8m0fnu]
SPECIAL = [500., -500, 1e6, np.inf, np.nan, 0.3, 1e-9, -0.0, 449, 465, 57344, 61440]
NAN = np.nan
# PyTorch 2.13's ``torch.tensor(SPECIAL).to(dtype).float().tolist()``
EXPECTED = {
    ttorch.float8_e4m3fn: [448, -448, 448, 448, NAN, 0.3125, 0, -0.0, 448, 448, 448, 448],
    ttorch.float8_e5m2: [512, -512, np.inf, np.inf, NAN, 0.3125, 0, -0.0, 448, 448, 57344, np.inf],
    ttorch.float8_e4m3fnuz: [NAN, NAN, NAN, NAN, NAN, 0.3125, 0, 0, NAN, NAN, NAN, NAN],
    ttorch.float8_e5m2fnuz: [512, -512, NAN, NAN, NAN, 0.3125, 0, 0, 448, 448, 57344, NAN],
    ttorch.float8_e8m0fnu: [512, 512, 2.0 ** 20, NAN, NAN, 0.25, 2.0 ** -30, 2.0 ** -127, 512, 512, 65536, 65536]}


def _f32(t):
    return t.to(ttorch.float32).cpu().numpy()


def _bytes(t):
    return t.view(ttorch.uint8).cpu().numpy()


def test_dtype_facts():
    fi = ttorch.finfo(ttorch.float8_e4m3fn)
    assert (fi.bits, fi.eps, fi.max, fi.min, fi.tiny, fi.resolution) == (8, 0.125, 448.0, -448.0, 0.015625, 1.0)
    assert ttorch.finfo(ttorch.float8_e5m2fnuz).eps == 0.125        # PyTorch's value
    fe = ttorch.finfo(ttorch.float8_e8m0fnu)
    assert (fe.eps, fe.min, fe.max) == (1.0, 2.0 ** -127, 2.0 ** 127)
    assert all(d.itemsize == 1 and d.is_floating_point for d in F8)
    assert not ttorch.float8_e8m0fnu.is_signed and ttorch.float8_e5m2.is_signed and not ttorch.uint32.is_signed
    assert D.scalar_name(ttorch.float8_e4m3fn) == "Float8_e4m3fn" and D.scalar_name(ttorch.uint16) == "UInt16"
    assert ttorch.promote_types(ttorch.float8_e5m2, ttorch.float8_e5m2) is ttorch.float8_e5m2
    with pytest.raises(RuntimeError, match="Promotion for Float8 Types is not supported, attempted to promote "
                                           "Float8_e4m3fn and Float$"):
        ttorch.promote_types(ttorch.float8_e4m3fn, ttorch.float32)
    with pytest.raises(RuntimeError, match="attempted to promote Float8_e4m3fn and Float8_e5m2"):
        ttorch.promote_types(ttorch.float8_e4m3fn, ttorch.float8_e5m2)
    assert ttorch.promote_types(ttorch.uint16, ttorch.bfloat16) is ttorch.bfloat16
    with pytest.raises(RuntimeError, match="Promotion for uint16, uint32, uint64 types is not supported, attempted "
                                           "to promote UInt16 and Long"):
        ttorch.promote_types(ttorch.uint16, ttorch.int64)


@pytest.mark.parametrize("dtype", F8, ids=str)
def test_cast_rules(dtype, device):
    x = ttorch.tensor(SPECIAL, device=device)
    np.testing.assert_array_equal(_f32(x.to(dtype)), np.array(EXPECTED[dtype], np.float32))
    assert x.to(dtype).dtype is dtype and x.to(dtype).device == x.device
    # creation rounds as the cast does
    np.testing.assert_array_equal(_f32(ttorch.tensor(SPECIAL, dtype=dtype, device=device)), EXPECTED[dtype])


def test_nan_bytes(device):
    nan = ttorch.tensor([NAN, -NAN, -0.0], device=device)
    assert _bytes(nan.to(ttorch.float8_e5m2)).tolist() == [0x7F, 0xFF, 0x80]       # (ml_dtypes writes 0x7E)
    assert _bytes(nan.to(ttorch.float8_e4m3fnuz)).tolist() == [0x80, 0x80, 0]
    assert _bytes(ttorch.tensor([0.0, 3.0, 0.75], device=device).to(ttorch.float8_e8m0fnu)).tolist() == [0, 129, 127]


@pytest.mark.parametrize("dtype", F8, ids=str)
def test_kernels_match_cpu_bit_for_bit(dtype):
    """The cuda kernels' integer rounding against the cpu path (ml_dtypes with PyTorch's rules), over random
    float32 bit patterns (every exponent, NaNs, infinities, subnormals) and all 256 codes."""
    if not ttorch.cuda.is_available():
        pytest.skip("no cuda device")
    rng = np.random.default_rng(1)
    x = rng.integers(0, 2 ** 32, size=4096, dtype=np.uint64).astype(np.uint32).view(np.float32)
    x = np.concatenate([x, np.float32(2.0) ** rng.integers(-140, 20, 512) * rng.uniform(-2, 2, 512).astype(np.float32)])
    cpu = ttorch.from_numpy(x).to(dtype)
    np.testing.assert_array_equal(_bytes(ttorch.from_numpy(x).cuda().to(dtype)), _bytes(cpu))
    codes = ttorch.arange(256, dtype=ttorch.int32).to(ttorch.uint8).view(dtype)
    ref = np.arange(256, dtype=np.uint8).view(dtype.np).astype(np.float32)
    np.testing.assert_array_equal(_f32(codes.cuda()).view(np.uint32), ref.view(np.uint32))
    np.testing.assert_array_equal(_f32(codes).view(np.uint32), ref.view(np.uint32))


def test_casts_between_types(device):
    x = ttorch.tensor([300.0, -7.9, 0.5], device=device).to(ttorch.float8_e4m3fn)
    assert x.to(ttorch.int32).tolist() == [288, -8, 0]
    assert x.to(ttorch.bool).tolist() == [True, True, True]
    assert x.to(ttorch.bfloat16).float().tolist() == [288.0, -8.0, 0.5]
    assert x.to(ttorch.float8_e5m2).float().tolist() == [256.0, -8.0, 0.5]
    assert ttorch.tensor([True, False], device=device).to(ttorch.float8_e4m3fn).float().tolist() == [1.0, 0.0]
    assert ttorch.tensor([3, -500], device=device).to(ttorch.float8_e5m2).float().tolist() == [3.0, -512.0]
    assert ttorch.tensor([0.3], dtype=ttorch.float64, device=device).to(ttorch.float8_e4m3fn).item() == 0.3125
    assert x.cpu().to(device).to(ttorch.float32).tolist() == [288.0, -8.0, 0.5]


def test_ops_pytorch_runs(device):
    e4 = ttorch.float8_e4m3fn
    x = ttorch.tensor([1.5, -2.0, 300.0, 0.0], device=device).to(e4)
    assert ttorch.zeros(3, dtype=e4, device=device).float().tolist() == [0.0] * 3
    with pytest.raises(RuntimeError, match="value cannot be converted to type c10::Float8_e4m3fn without overflow"):
        ttorch.full((2,), 500.0, dtype=e4, device=device)
    with pytest.raises(RuntimeError, match="value cannot be converted to type c10::Float8_e8m0fnu without overflow"):
        ttorch.ones(2, dtype=ttorch.float8_e8m0fnu, device=device).fill_(0.0)
    assert ttorch.full((2,), 448.0, dtype=e4, device=device).float().tolist() == [448.0, 448.0]
    assert ttorch.ones(2, dtype=ttorch.float8_e8m0fnu, device=device).float().tolist() == [1.0, 1.0]
    assert _f32(x.clone()).tolist() == [1.5, -2.0, 288.0, 0.0]
    assert _f32(ttorch.cat([x, x[:1]])).tolist() == [1.5, -2.0, 288.0, 0.0, 1.5]
    assert _f32(ttorch.stack([x, x]).t().contiguous()).tolist() == [[1.5, 1.5], [-2.0, -2.0], [288.0] * 2, [0.0] * 2]
    assert _f32(x[ttorch.tensor([2, 0], device=device)]).tolist() == [288.0, 1.5]
    assert _f32(ttorch.where(x == 0, x, x.abs())).tolist() == [1.5, 2.0, 288.0, 0.0]
    assert (x == x).tolist() == [True] * 4 and (x != 1.5).tolist() == [False, True, True, True]
    assert x.isnan().tolist() == [False] * 4
    assert _f32(x * x).tolist() == [2.25, 4.0, 448.0, 0.0]             # float math, saturated back to e4m3fn
    u = x.view(ttorch.uint8)
    assert u.dtype is ttorch.uint8 and u.tolist() == [0x3C, 0xC0, 0x79, 0] and u.view(e4).float().tolist()[0] == 1.5
    y = ttorch.empty(4, dtype=e4, device=device)
    y.copy_(ttorch.tensor([1.0, 2.0, 1e9, -3.0], device=device))
    y[1] = 0.3
    assert _f32(y).tolist() == [1.0, 0.3125, 448.0, -3.0]
    y.fill_(-240.0)
    assert _f32(y).tolist() == [-240.0] * 4
    with pytest.raises(RuntimeError, match="without overflow"):
        y.fill_(-1e9)
    assert x[0].item() == 1.5 and x.tolist() == [1.5, -2.0, 288.0, 0.0]
    assert "dtype=ttorch.float8_e4m3fn" in repr(x) and "288." in repr(x)


def test_ops_pytorch_refuses(device):
    x = ttorch.tensor([1.0, 2.0], device=device).to(ttorch.float8_e4m3fn)
    with pytest.raises(NotImplementedError, match="^\"add_stub\" not implemented for 'Float8_e4m3fn'$"):
        x + x
    with pytest.raises(NotImplementedError, match="\"add_stub\" not implemented for 'Float8_e4m3fn'"):
        x - x
    for f in (lambda: x.sum(), lambda: x.exp(), lambda: -x, lambda: x.max(), lambda: x < x):
        with pytest.raises(NotImplementedError, match="not implemented for 'Float8_e4m3fn'"):
            f()
    with pytest.raises(RuntimeError, match="Promotion for Float8 Types is not supported"):
        x + ttorch.ones(2, device=device)
    with pytest.raises(NotImplementedError, match="\"arange_cpu\" not implemented for 'Float8_e4m3fn'"):
        ttorch.arange(3, dtype=ttorch.float8_e4m3fn)
    with pytest.raises(NotImplementedError, match="\"abs\" not implemented for 'Float8_e8m0fnu'"):
        x.to(ttorch.float8_e8m0fnu).abs()
    if device == "cpu":
        with pytest.raises(TypeError, match="Got unsupported ScalarType Float8_e4m3fn"):
            x.numpy()


def test_save_load():
    tensors = {n: ttorch.tensor([1.5, -2.0, 300.0]).to(d) for n, d in
               (("a", ttorch.float8_e4m3fn), ("b", ttorch.float8_e5m2fnuz), ("c", ttorch.float8_e8m0fnu))}
    tensors["u"] = ttorch.tensor([1, 65535], dtype=ttorch.uint16)
    buf = io.BytesIO()
    ttorch.save(tensors, buf)
    buf.seek(0)
    back = ttorch.load(buf)
    for k, t in tensors.items():
        assert back[k].dtype is t.dtype and back[k].view(ttorch.uint8).tolist() == t.view(ttorch.uint8).tolist()


# --------------------------------------------------------------------------- _scaled_mm
def _fp8_operands(M, K, N, device, b_dtype=ttorch.float8_e4m3fn, seed=0):
    r = np.random.default_rng(seed)
    a = ttorch.tensor(r.normal(size=(M, K)).astype(np.float32)).to(ttorch.float8_e4m3fn)
    bt = ttorch.tensor(r.normal(size=(N, K)).astype(np.float32)).to(b_dtype)
    ref = a.float().numpy().astype(np.float64) @ bt.float().numpy().astype(np.float64).T
    return a.to(device), bt.to(device).t(), ref         # b column-major, as PyTorch's cuda path requires


@pytest.mark.parametrize("fp8_dot", [False, True])
def test_scaled_mm_values(device, fp8_dot):
    if fp8_dot and device == "cpu":
        pytest.skip("the fp8 tl.dot path is cuda's")
    _sm.FORCE_FP8_DOT = fp8_dot
    try:
        M, K, N = 20, 48, 32
        a, b, ref = _fp8_operands(M, K, N, device)
        r = np.random.default_rng(3)
        sa = r.uniform(0.5, 1.5, (M, 1)).astype(np.float32)
        sb = r.uniform(0.5, 1.5, (1, N)).astype(np.float32)
        bias = ttorch.tensor(r.normal(size=N).astype(np.float32)).bfloat16()
        rowwise = ttorch._scaled_mm(a, b, ttorch.tensor(sa, device=device), ttorch.tensor(sb, device=device),
                                    bias=bias.to(device), out_dtype=ttorch.float32)
        np.testing.assert_allclose(_f32(rowwise), ref * sa * sb + bias.float().numpy(), rtol=1e-5, atol=1e-5)
        one, two = ttorch.tensor(1.0, device=device), ttorch.tensor([2.0], device=device)
        out = ttorch._scaled_mm(a, b, one, two, out_dtype=ttorch.bfloat16)
        assert out.dtype is ttorch.bfloat16 and out.shape == (M, N)
        np.testing.assert_allclose(_f32(out), ref * 2, rtol=1e-2, atol=1e-2)
        f8 = ttorch._scaled_mm(a, b, one, two)          # out_dtype: a's, rounded as the cast rounds
        assert f8.dtype is ttorch.float8_e4m3fn
        np.testing.assert_array_equal(_f32(f8), _f32(ttorch.tensor(ref * 2, dtype=ttorch.float32).to(f8.dtype)))
        a2, b2, ref2 = _fp8_operands(16, 32, 16, device, b_dtype=ttorch.float8_e5m2, seed=1)    # mixed types
        np.testing.assert_allclose(_f32(ttorch._scaled_mm(a2, b2, one, one, out_dtype=ttorch.float32)), ref2,
                                   rtol=1e-5, atol=1e-5)
        fs = F.scaled_mm(a, b, ttorch.tensor(sa, device=device), F.ScalingType.RowWise,
                         ttorch.tensor(sb, device=device), F.ScalingType.RowWise, output_dtype=ttorch.float32)
        np.testing.assert_allclose(_f32(fs), ref * sa * sb, rtol=1e-5, atol=1e-5)
        assert F.scaled_mm(a, b, one, F.ScalingType.TensorWise, one, F.ScalingType.TensorWise).dtype is ttorch.bfloat16
    finally:
        _sm.FORCE_FP8_DOT = None


def test_scaled_mm_checks(device):
    a, b, _ = _fp8_operands(16, 32, 16, device)
    one = ttorch.tensor(1.0, device=device)
    with pytest.raises(ValueError, match=r"(?s)Invalid scaling configuration\.\n- For TensorWise scaling.*"
                                         r"scale_a should be \(16, 1\) and scale_b should be \(1, 16\).*"
                                         r"scale_a.dtype\(\)=Double"):
        ttorch._scaled_mm(a, b, one.double(), one)
    with pytest.raises(ValueError, match="Got mat_a.dtype\\(\\)=BFloat16"):
        ttorch._scaled_mm(a.float().bfloat16(), b, one, one)
    with pytest.raises(RuntimeError, match=r"mat_a and mat_b shapes cannot be multiplied \(16x32 and 16x16\)"):
        ttorch._scaled_mm(a, b[:16], one, one)
    with pytest.raises(RuntimeError, match="Bias must be size 16 but got 8"):
        ttorch._scaled_mm(a, b, one, one, bias=ttorch.ones(8, device=device), out_dtype=ttorch.float32)
    with pytest.raises(RuntimeError, match="mat1 must be a matrix"):
        ttorch._scaled_mm(a[None], b, one, one)
    if device != "cpu":     # PyTorch's cuda layout checks (its cpu path is lenient)
        with pytest.raises(RuntimeError, match=r"mat2 must be col_major, got stride \(16, 1\)"):
            ttorch._scaled_mm(a, b.contiguous(), one, one)
        with pytest.raises(RuntimeError, match="Expected self.size\\(1\\) to be divisible by 16, but got "
                                               "self.size\\(1\\)=24"):
            ttorch._scaled_mm(a[:, :24].contiguous(), b[:24], one, one)
    else:
        assert ttorch._scaled_mm(a, b.contiguous(), one, one).shape == (16, 16)
    with pytest.raises(NotImplementedError, match="TensorWise and RowWise"):
        F.scaled_mm(a, b, one, F.ScalingType.BlockWise1x32, one, F.ScalingType.BlockWise1x32)


# --------------------------------------------------------------------------- uint16 / uint32 / uint64
@pytest.mark.parametrize("dtype", [ttorch.uint16, ttorch.uint32, ttorch.uint64], ids=str)
def test_unsigned(dtype, device):
    x = ttorch.tensor([1, 2, 3, 60000], dtype=dtype, device=device)
    y = ttorch.ones(4, dtype=dtype, device=device)
    assert (x * y).dtype is dtype
    assert (x * 2).tolist() == [2, 4, 6, 120000 % 65536 if dtype is ttorch.uint16 else 120000]
    assert (x / y).dtype is ttorch.float32 and (x == y).tolist() == [True, False, False, False]
    assert x.sum().dtype is ttorch.int64 and x.sum().item() == 60006 and x.cumsum(0).tolist()[-1] == 60006
    assert (x & 2).tolist() == [0, 2, 2, 0] and (x ^ y).tolist() == [0, 3, 2, 60001]
    assert (x + ttorch.ones(4, device=device)).dtype is ttorch.float32
    assert ttorch.cat([x, y]).tolist()[-2:] == [1, 1] and x[ttorch.tensor([3], device=device)].tolist() == [60000]
    assert ttorch.tensor([-1.5, 3.7], device=device).to(dtype).tolist() == [np.iinfo(dtype.np).max, 3]
    big = ttorch.tensor([1e10], device=device).to(dtype).tolist()      # PyTorch: through int32 / int64, wrapping
    assert big == [{ttorch.uint16: 0, ttorch.uint32: 1410065408, ttorch.uint64: 10 ** 10}[dtype]]
    name = D.scalar_name(dtype)
    with pytest.raises(NotImplementedError, match=f"\"add_stub\" not implemented for '{name}'"):
        x + y
    for f in (lambda: x < y, lambda: -x, lambda: x.max()):
        with pytest.raises(NotImplementedError, match=f"not implemented for '{name}'"):
            f()
    with pytest.raises(RuntimeError, match=f"attempted to promote {name} and Long"):
        x * ttorch.ones(4, dtype=ttorch.int64, device=device)
    assert repr(x).endswith(f"dtype=ttorch.{dtype.name})")
