"""Fake quantization ops and ``ttorch.ao.quantization`` (QAT): NumPy references, and values checked by
hand against PyTorch 2.13 (the literal lists below are PyTorch's outputs)."""
import numpy as np
import pytest

import ttorch
from ttorch.ao import quantization as Q
from ttorch.ao.nn import intrinsic as nni, qat as nnqat
from ttorch.ao.nn.intrinsic import qat as nniqat

NAN, INF = float("nan"), float("inf")
# PyTorch warns that reduce_range (which its default qconfigs use) will be deprecated
pytestmark = pytest.mark.filterwarnings("ignore:Please use quant_min and quant_max")


def _np(t):
    return t.detach().cpu().numpy()


def ref_fq(x, scale, zp, qmin, qmax, axis=None, float_zp=False):
    """PyTorch's formula in NumPy: float32 scale and inverse, the product x * inv in the input's precision,
    halves to even, NaN below the range; per-tensor products rounded to float32 (PyTorch's kernels)."""
    cd = np.float64 if x.dtype == np.float64 else np.float32
    s = np.asarray(scale, np.float32)
    inv = (np.float32(1) / s).astype(cd)
    z = np.asarray(zp, cd)
    if axis is not None:
        shape = [1] * x.ndim
        shape[axis] = -1
        s, inv, z = s.reshape(shape), inv.reshape(shape), z.reshape(shape)
    with np.errstate(invalid="ignore"):
        q = np.rint(x.astype(cd) * inv + z) if float_zp else z + np.rint(x.astype(cd) * inv)
    q = np.where(np.isnan(q), -np.inf, q)
    c = np.clip(q, qmin, qmax) - z
    out = c.astype(np.float32) * s if axis is None else c * s.astype(cd)
    return out.astype(x.dtype), (q >= qmin) & (q <= qmax)


# ------------------------------------------------------------------------------------------ the ops
X10 = [-1.25, -0.75, -0.25, 0.25, 0.75, 1.25, 2.5, 100.0, -100.0, 0.3]


def test_per_tensor_pytorch_values(device):
    x = ttorch.tensor(X10, device=device, requires_grad=True)
    y = ttorch.fake_quantize_per_tensor_affine(x, 0.5, 3, 0, 255)
    assert y.tolist() == [-1.0, -1.0, 0.0, 0.0, 1.0, 1.0, 2.5, 100.0, -1.5, 0.5]      # ties to even
    assert y.grad_fn.name() == "FakeQuantizePerTensorAffineCachemaskBackward0"
    y.sum().backward()
    assert x.grad.tolist() == [1.0] * 8 + [0.0, 1.0]
    x.grad = None
    y = ttorch.fake_quantize_per_tensor_affine(x, ttorch.tensor(0.5), ttorch.tensor(3), 0, 10)    # cpu qparams
    assert y.tolist() == [-1.0, -1.0, 0.0, 0.0, 1.0, 1.0, 2.5, 3.5, -1.5, 0.5]
    assert y.grad_fn.name() == "FakeQuantizePerTensorAffineCachemaskTensorQparamsBackward0"
    (y * ttorch.arange(10.0, device=device)).sum().backward()
    assert x.grad.tolist() == [0.0, 1, 2, 3, 4, 5, 6, 0, 0, 9]
    special = ttorch.tensor([1e10, -1e10, NAN, INF, -INF], device=device)
    assert ttorch.fake_quantize_per_tensor_affine(special, 0.5, 3, 0, 255).tolist() == [126.0, -1.5, -1.5, 126.0, -1.5]
    # float64 inputs: the product with the float32 scale is rounded to float32, as PyTorch's kernel does
    xd = ttorch.tensor([0.1, 0.7, 1 / 3], dtype=ttorch.float64, device=device)
    assert ttorch.fake_quantize_per_tensor_affine(xd, 0.1, 0, -128, 127).tolist() == \
        [0.10000000149011612, 0.699999988079071, 0.30000001192092896]


@pytest.mark.parametrize("dtype", [ttorch.float32, ttorch.float64, ttorch.float16])
def test_per_tensor_random(device, dtype):
    rng = np.random.default_rng(1)
    scale, zp, qmin, qmax = 0.0625, 5, -8, 20
    a = np.concatenate([rng.uniform(-2, 2, 23), (np.arange(-12, 12) + 0.5) * scale])    # exact .5 ties too
    a = a.reshape(47, 1).repeat(3, 1).T.astype(np.dtype(dtype.name))       # (3, 47); a transposed view below
    x = ttorch.tensor(a.T.copy(), device=device).t().requires_grad_()
    assert not x.is_contiguous()
    y = ttorch.fake_quantize_per_tensor_affine(x, scale, zp, qmin, qmax)
    e, mask = ref_fq(a, scale, zp, qmin, qmax)
    np.testing.assert_array_equal(_np(y), e)
    g = rng.normal(size=a.shape).astype(a.dtype)
    y.backward(ttorch.tensor(g, device=device))
    np.testing.assert_array_equal(_np(x.grad), g * mask)


def test_per_channel(device):
    w = ttorch.tensor([[0.5, -1.5, 2.5], [3.5, 7.0, -9.0]], device=device, requires_grad=True)
    s = ttorch.tensor([1.0, 2.0], device=device)
    y = ttorch.fake_quantize_per_channel_affine(w, s, ttorch.tensor([0, 1], dtype=ttorch.int32, device=device),
                                                0, -4, 3)
    assert y.tolist() == [[0.0, -2.0, 2.0], [4.0, 4.0, -8.0]]
    assert y.grad_fn.name() == "FakeQuantizePerChannelAffineCachemaskBackward0"
    y.sum().backward()
    assert w.grad.tolist() == [[1.0, 1.0, 1.0], [1.0, 0.0, 1.0]]
    # a float zero point rounds x / scale + zero_point
    y = ttorch.fake_quantize_per_channel_affine(w, s, ttorch.tensor([0.5, 1.5], device=device), 0, -4, 3)
    assert y.tolist() == [[0.5, -1.5, 2.5], [3.0, 3.0, -9.0]]


@pytest.mark.parametrize("axis,float_zp", [(1, False), (2, True), (0, False)])
def test_per_channel_random(device, axis, float_zp):
    rng = np.random.default_rng(axis)
    a = rng.uniform(-3, 3, (3, 4, 5)).astype(np.float32)
    a[0, 0, :] = [0.25, 0.75, -0.25, 1.25, 2.0]         # halves of the scales 0.5 and 1.0
    C = a.shape[axis]
    scale = rng.choice([0.5, 0.25, 1.0], C).astype(np.float32)
    zp = rng.integers(-3, 4, C).astype(np.float32 if float_zp else np.int32)
    if float_zp:
        zp += 0.5
    x = ttorch.tensor(a, device=device, requires_grad=True)
    y = ttorch.fake_quantize_per_channel_affine(x, ttorch.tensor(scale, device=device),
                                                ttorch.tensor(zp, device=device), axis, -6, 5)
    e, mask = ref_fq(a, scale, zp, -6, 5, axis=axis, float_zp=float_zp)
    np.testing.assert_array_equal(_np(y), e)
    y.sum().backward()
    np.testing.assert_array_equal(_np(x.grad), mask.astype(np.float32))


def test_errors():
    x = ttorch.randn(2, 3)
    fq, fc = ttorch.fake_quantize_per_tensor_affine, ttorch.fake_quantize_per_channel_affine
    s, z = ttorch.ones(3), ttorch.zeros(3, dtype=ttorch.int32)
    cases = [(lambda: fq(x, 0.5, 3, 5, 2), RuntimeError, "`quant_min` should be less than or         equal to"),
             (lambda: fq(x, 0.5, 300, 0, 255), RuntimeError, "`zero_point` must be between `quant_min` and"),
             (lambda: fq(x.int(), 0.5, 3, 0, 255), NotImplementedError,
              "\"fake_quantize_tensor_cachemask_kernel_type_handling\" not implemented for 'Int'"),
             (lambda: fq(x, ttorch.tensor([0.5, 1.0]), ttorch.tensor(3), 0, 5), RuntimeError,
              "a Tensor with 2 elements cannot be converted to Scalar"),
             (lambda: fc(x, s, ttorch.tensor([0, 9, 0], dtype=ttorch.int32), 1, 0, 5), RuntimeError,
              "`zero_point` must be between"),
             (lambda: fc(x, s, z.long(), 1, 0, 5), RuntimeError, "Zero-point must be Int32, Float or Half, found Long"),
             (lambda: fc(x, s.double(), z, 1, 0, 5), RuntimeError, "Scale must be Float or BFloat16, found Double"),
             (lambda: fc(x, s[None], z[None], 1, 0, 5), RuntimeError, "scale should be a 1-D tensor"),
             (lambda: fc(x, s, z, 0, 0, 5), RuntimeError, "dimensions of scale and zero-point are not consistent"),
             (lambda: fc(x, s, z, -1, 0, 5), RuntimeError, "`axis` must be between 0 and number of dimensions")]
    for fn, err, msg in cases:
        with pytest.raises(err) as info:
            fn()
        assert msg in str(info.value)


# ------------------------------------------------------------------------------------------ LSQ
def test_lsq_pytorch_values(device):
    x = ttorch.tensor(X10, device=device, requires_grad=True)
    for z0, gf, gs, gz in [(2.5, 0.7, 45.56999969, -5.25), (2.4, 1.0, 77.09999847, -7.5)]:
        x.grad = None
        s = ttorch.tensor([0.5], device=device, requires_grad=True)
        z = ttorch.tensor([z0], device=device, requires_grad=True)
        y = ttorch._fake_quantize_learnable_per_tensor_affine(x, s, z, 0, 15, gf)
        assert y.tolist() == [-1.0, -1.0, 0.0, 0.0, 1.0, 1.0, 2.5, 6.5, -1.0, 0.5]
        assert y.grad_fn.name() == "FakeQuantizeLearnablePerTensorAffineBackward0"
        (y * ttorch.arange(10.0, device=device)).sum().backward()
        assert x.grad.tolist() == [0.0, 1, 2, 3, 4, 5, 6, 0, 0, 9]
        np.testing.assert_allclose(_np(s.grad), [gs], rtol=1e-6)
        np.testing.assert_allclose(_np(z.grad), [gz], rtol=1e-6)
    w = ttorch.tensor([[0.5, -1.5, 2.5, 9.0], [3.5, 7.0, -9.0, 0.3]], device=device, requires_grad=True)
    s = ttorch.tensor([1.0, 2.0], device=device, requires_grad=True)
    z = ttorch.tensor([0.5, 1.5], device=device, requires_grad=True)
    y = ttorch._fake_quantize_learnable_per_channel_affine(w, s, z, 0, -4, 3, 0.5)
    assert y.tolist() == [[0.0, -2.0, 2.0, 3.0], [2.0, 2.0, -8.0, 0.0]]
    assert y.grad_fn.name() == "FakeQuantizeLearnablePerChannelAffineBackward0"
    (y * ttorch.arange(8.0, device=device).view(2, 4)).sum().backward()
    assert w.grad.tolist() == [[0.0, 1.0, 2.0, 0.0], [0.0, 0.0, 6.0, 7.0]]
    np.testing.assert_allclose(_np(s.grad), [3.75, 5.4749999], rtol=1e-6)
    np.testing.assert_allclose(_np(z.grad), [-1.5, -9.0], rtol=1e-6)


def ref_lsq_grads(x, dy, s, z, qmin, qmax, gf):
    """PyTorch's per-element LSQ gradients (z already rounded as the op rounds it), float64."""
    inv = 1.0 / s
    q = np.rint(z + x * inv)
    below, above = q < qmin, q > qmax
    inside = ~(below | above)
    xfq = (np.clip(q, qmin, qmax) - z) * s
    ds = np.where(inside, dy * (xfq - x) * inv, np.where(below, dy * (qmin - z), dy * (qmax - z))) * gf
    dz = np.where(inside, 0.0, -dy * s * gf)
    return dy * inside, ds, dz


def test_lsq_random(device):
    rng = np.random.default_rng(3)
    a = rng.uniform(-2, 2, (4, 6)).astype(np.float32)
    g = rng.normal(size=a.shape).astype(np.float32)
    x = ttorch.tensor(a, device=device, requires_grad=True)
    s = ttorch.tensor([0.125], device=device, requires_grad=True)
    z = ttorch.tensor([2.3], device=device, requires_grad=True)
    ttorch._fake_quantize_learnable_per_tensor_affine(x, s, z, -8, 7, 0.25).backward(ttorch.tensor(g, device=device))
    dx, ds, dz = ref_lsq_grads(a.astype(np.float64), g, 0.125, 2.0, -8, 7, 0.25)     # backward: int(2.3 + 0.5)
    np.testing.assert_array_equal(_np(x.grad), dx)
    np.testing.assert_allclose(_np(s.grad), [ds.sum()], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(_np(z.grad), [dz.sum()], rtol=1e-5, atol=1e-6)
    # per channel along axis 1, zero points rounded half to even (2.5 -> 2)
    sc = np.array([0.25, 0.5, 0.125, 1.0, 0.25, 0.5], np.float32)
    zc = np.array([2.5, -1.2, 0.0, 3.7, -2.5, 1.0], np.float32)
    x.grad = None
    s = ttorch.tensor(sc, device=device, requires_grad=True)
    z = ttorch.tensor(zc, device=device, requires_grad=True)
    ttorch._fake_quantize_learnable_per_channel_affine(x, s, z, 1, -4, 3, 1.0).backward(ttorch.tensor(g, device=device))
    dx, ds, dz = ref_lsq_grads(a.astype(np.float64), g, sc.astype(np.float64), np.clip(np.rint(zc), -4, 3), -4, 3, 1.0)
    np.testing.assert_array_equal(_np(x.grad), dx)
    np.testing.assert_allclose(_np(s.grad), ds.sum(0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(_np(z.grad), dz.sum(0), rtol=1e-5, atol=1e-5)


def test_lsq_gradcheck_scale(device):
    # differentiable in the scale where every value is clamped: out = (q_end - z) * scale
    x = ttorch.tensor([[9.0, -9.0, 12.0], [-7.0, 8.0, 30.0]], dtype=ttorch.float64, device=device)
    z = ttorch.tensor([1.0], dtype=ttorch.float64, device=device)
    s = ttorch.tensor([0.5], dtype=ttorch.float64, device=device, requires_grad=True)
    assert ttorch.autograd.gradcheck(
        lambda s: ttorch._fake_quantize_learnable_per_tensor_affine(x, s, z, -4, 3, 1.0), (s,), eps=1e-3, atol=1e-4)


# ------------------------------------------------------------------------------------------ observers
def test_observers_pytorch_values():
    t = ttorch.tensor
    o = Q.MinMaxObserver()
    o(t([-1.0, 2.0, 0.3]))
    s, z = o.calculate_qparams()
    assert s.tolist() == [np.float32(3 / 255)] and z.tolist() == [85] and z.dtype is ttorch.int32
    assert repr(o) == "MinMaxObserver(min_val=-1.0, max_val=2.0)"
    o = Q.MinMaxObserver(dtype=ttorch.qint8, qscheme=ttorch.per_tensor_symmetric)
    o(t([-1.0, 2.0, 0.3]))
    s, z = o.calculate_qparams()
    assert s.tolist() == [np.float32(2 / 127.5)] and z.tolist() == [0] and z.dtype is ttorch.int64
    with pytest.warns(UserWarning, match="must run observer before calling calculate_qparams"):
        s, z = Q.MinMaxObserver().calculate_qparams()
    assert s.tolist() == [1.0] and z.tolist() == [0]
    o = Q.MovingAverageMinMaxObserver(averaging_constant=0.5, dtype=ttorch.qint8, qscheme=ttorch.per_tensor_symmetric)
    o(t([-1.0, 2.0]))
    o(t([-3.0, 1.0]))
    assert (o.min_val.item(), o.max_val.item()) == (-2.0, 1.5)
    o = Q.MovingAveragePerChannelMinMaxObserver(averaging_constant=0.5, ch_axis=1)
    o(t([[-1.0, 2.0], [0.5, 3.0]]))
    o(t([[-3.0, 1.0], [0.0, 1.0]]))
    assert o.min_val.tolist() == [-2.0, 1.5] and o.max_val.tolist() == [0.25, 2.0]
    s, z = o.calculate_qparams()
    np.testing.assert_allclose(_np(s), [0.0088235298, 0.0078431377], rtol=1e-7)
    assert z.tolist() == [227, 0]
    cases = [(dict(quant_min=0, quant_max=15, qscheme=ttorch.per_tensor_symmetric), [0.2666666806], [7]),
             (dict(dtype=ttorch.qint32), [1.1920928955e-07], [-2139095040]),
             (dict(reduce_range=True, dtype=ttorch.qint8), [0.0236220472], [-22]),
             (dict(qscheme=ttorch.per_tensor_symmetric), [0.0156862754], [128])]
    for kw, es, ez in cases:
        o = Q.MinMaxObserver(**kw)
        o(t([-1.0, 2.0]))
        s, z = o.calculate_qparams()
        np.testing.assert_allclose(_np(s), es, rtol=1e-7)
        assert z.tolist() == ez, kw
    o = Q.PerChannelMinMaxObserver(dtype=ttorch.qint8, qscheme=ttorch.per_channel_symmetric)
    o(t([[-1.0, 2.0], [0.3, 0.5]]))
    s, z = o.calculate_qparams()
    np.testing.assert_allclose(_np(s), [0.0157, 0.0039], atol=1e-4)
    o = Q.PerChannelMinMaxObserver(qscheme=ttorch.per_channel_affine_float_qparams)
    o(t([[-1.0, 2.0], [0.5, 3.0]]))
    s, z = o.calculate_qparams()
    np.testing.assert_allclose(_np(s), [0.0117647061, 0.0098039219], rtol=1e-7)
    assert z.tolist() == [85.0, -51.0]
    with pytest.raises(NotImplementedError, match="MinMaxObserver's qscheme only support"):
        Q.MinMaxObserver(qscheme=ttorch.per_channel_affine)


def test_per_channel_observer_random():
    rng = np.random.default_rng(5)
    a = rng.normal(size=(3, 4, 5)).astype(np.float32)
    o = Q.PerChannelMinMaxObserver(ch_axis=1)
    o(ttorch.tensor(a))
    o(ttorch.tensor(a * 2))
    mn = np.minimum(a.min((0, 2)), 2 * a.min((0, 2)))
    mx = np.maximum(a.max((0, 2)), 2 * a.max((0, 2)))
    s, z = o.calculate_qparams()
    es = ((np.maximum(mx, 0) - np.minimum(mn, 0)) / np.float32(255)).astype(np.float32)
    np.testing.assert_array_equal(_np(s), np.maximum(es, np.finfo(np.float32).eps))
    np.testing.assert_array_equal(_np(z), np.clip(0 - np.rint(np.minimum(mn, 0) / es), 0, 255))


# ------------------------------------------------------------------------------------------ FakeQuantize
def test_fake_quantize_module(device):
    fq = Q.FakeQuantize(quant_min=0, quant_max=255).to(device)
    assert fq(ttorch.tensor([0.0, 0.5, 1.0], device=device)).tolist() == [0.0, 0.49803924560546875, 1.0]
    fq.apply(Q.disable_observer)
    x = ttorch.tensor([-1.0, 4.0], device=device)
    assert fq(x).tolist() == [0.0, 1.0] and fq.scale.tolist() == [np.float32(1 / 255)]
    fq.apply(Q.disable_fake_quant)
    assert fq(x).tolist() == [-1.0, 4.0]
    assert fq.fake_quant_enabled.tolist() == [0] and fq.observer_enabled.tolist() == [0]
    fq.enable_fake_quant()
    fq.enable_observer()
    assert fq.fake_quant_enabled.tolist() == [1] and fq.observer_enabled.tolist() == [1]
    # the fused default (get_default_qat_qconfig, version 1): PyTorch's C++ choose-qparams rule
    qc = Q.get_default_qat_qconfig("x86")
    a, w = qc.activation().to(device), qc.weight().to(device)
    a(ttorch.tensor([-1.0, 2.0, 0.3], device=device))
    a(ttorch.tensor([-3.0, 1.0], device=device))
    assert a.scale.tolist() == [0.023700786754488945] and a.zero_point.tolist() == [43]
    assert (a.activation_post_process.min_val.item(), a.activation_post_process.max_val.item()) == \
        (-1.0199999809265137, 1.9900000095367432)
    y = w(ttorch.tensor([[-1.0, 2.0], [0.3, 0.5], [-0.2, -0.1]], device=device))
    assert w.scale.tolist() == [0.015748031437397003, 0.0019607844296842813, 0.0007843137136660516]
    assert w.zero_point.tolist() == [0, -128, 127]
    assert y.tolist() == [[-1.0078740119934082, 2.0], [0.30000001192092896, 0.5], [-0.20000000298023224,
                                                                                    -0.10039215534925461]]
    assert repr(Q.default_fake_quant).startswith("functools.partial(<class 'ttorch.ao.quantization.fake_quantize.")
    with pytest.raises(ValueError, match="QConfig received observer instance"):
        Q.QConfig(activation=Q.MinMaxObserver(), weight=Q.MinMaxObserver)
    with pytest.raises(AssertionError, match="backend: foo not supported"):
        Q.get_default_qat_qconfig("foo")


# ------------------------------------------------------------------------------------------ prepare_qat
class Net(ttorch.nn.Module):
    def __init__(self, dtype=ttorch.float32):
        super().__init__()
        self.quant = Q.QuantStub()
        self.fc1 = ttorch.nn.Linear(5, 7, dtype=dtype)
        self.relu = ttorch.nn.ReLU()
        self.fc2 = ttorch.nn.Linear(7, 3, dtype=dtype)
        self.dequant = Q.DeQuantStub()

    def forward(self, x):
        return self.dequant(self.fc2(self.relu(self.fc1(self.quant(x)))))


def test_prepare_qat_structure():
    m = Net()
    m.qconfig = Q.get_default_qat_qconfig("x86")
    p = Q.prepare_qat(m)
    assert type(m.fc1) is ttorch.nn.Linear        # not in place
    assert type(p.fc1) is nnqat.Linear and p.fc1.weight is not m.fc1.weight
    assert isinstance(p.fc1.weight_fake_quant, Q.FusedMovingAvgObsFakeQuantize)
    assert p.fc1.weight_fake_quant.qscheme is ttorch.per_channel_symmetric
    for name in ("quant", "fc1", "fc2"):
        assert isinstance(getattr(p, name).activation_post_process, Q.FakeQuantizeBase), name
    for name in ("relu", "dequant"):
        assert not hasattr(getattr(p, name), "activation_post_process"), name
    assert "fc1.weight_fake_quant.activation_post_process.min_val" in p.state_dict()
    p(ttorch.randn(4, 5))
    fresh = Net()
    fresh.qconfig = Q.get_default_qat_qconfig("x86")
    fresh = Q.prepare_qat(fresh)
    fresh.load_state_dict(p.state_dict())       # per-channel statistics and qparams take the saved shapes
    x = ttorch.randn(2, 5)
    p.apply(Q.disable_observer)
    fresh.apply(Q.disable_observer)
    assert fresh.fc1.weight_fake_quant.scale.shape == (7,)
    np.testing.assert_array_equal(_np(fresh(x)), _np(p(x)))
    q = Q.prepare_qat(m, inplace=True)
    assert q is m and type(m.fc2) is nnqat.Linear
    with pytest.raises(AssertionError, match="prepare_qat only works on models in training mode"):
        Q.prepare_qat(Net().eval())
    # fused modules become their QAT versions
    f = Q.fuse_modules(Net(), ["fc1", "relu"])
    assert type(f.fc1) is nni.LinearReLU and type(f.relu) is ttorch.nn.Identity
    f.qconfig = Q.get_default_qat_qconfig("qnnpack", 0)
    f = Q.prepare_qat(f)
    assert type(f.fc1) is nniqat.LinearReLU and type(f.fc1.weight_fake_quant) is Q.FakeQuantize
    out = f(ttorch.randn(4, 5))
    assert out.shape == (4, 3)


def test_fuse_conv_bn_eval():
    conv, bn = ttorch.nn.Conv2d(2, 3, 3), ttorch.nn.BatchNorm2d(3)
    m = ttorch.nn.Sequential(conv, bn, ttorch.nn.ReLU())
    m(ttorch.randn(4, 2, 5, 5))         # running statistics
    m.eval()
    x = ttorch.randn(2, 2, 5, 5)
    f = Q.fuse_modules(m, ["0", "1", "2"])
    assert type(f[0]) is nni.ConvReLU2d and type(f[1]) is ttorch.nn.Identity
    np.testing.assert_allclose(_np(f(x)), _np(m(x)), rtol=1e-5, atol=1e-6)
    with pytest.raises(NotImplementedError):
        Q.fuse_modules(m.train(), ["0", "1"])


class RefFQ:
    """NumPy FakeQuantize with a moving-average observer (PyTorch's Python qparams), float32 statistics."""

    def __init__(self, qmin, qmax, symmetric, per_channel):
        self.qmin, self.qmax, self.sym, self.pc = qmin, qmax, symmetric, per_channel
        self.mn = self.mx = None

    def __call__(self, x):
        x32 = x.astype(np.float32)
        cur = (x32.min(1), x32.max(1)) if self.pc else (x32.min(), x32.max())
        if self.mn is None:
            self.mn, self.mx = cur
        else:
            c = np.float32(0.01)
            self.mn = (self.mn + c * (cur[0] - self.mn)).astype(np.float32)
            self.mx = (self.mx + c * (cur[1] - self.mx)).astype(np.float32)
        mn, mx = np.minimum(self.mn, np.float32(0)), np.maximum(self.mx, np.float32(0))
        eps = np.finfo(np.float32).eps
        if self.sym:
            s = np.maximum(np.maximum(-mn, mx) / np.float32((self.qmax - self.qmin) / 2), eps)
            z = np.zeros_like(s)
        else:
            s = np.maximum((mx - mn) / np.float32(self.qmax - self.qmin), eps)
            z = np.clip(self.qmin - np.rint(mn / s), self.qmin, self.qmax)
        return ref_fq(x, s, z, self.qmin, self.qmax, axis=0 if self.pc else None)


def test_qat_training_matches_numpy():
    """20 SGD steps of a prepare_qat MLP (x86 qconfig, version 0: per-channel symmetric weights, reduce_range
    activations) in float64 equal a NumPy QAT written from PyTorch's formulas."""
    rng = np.random.default_rng(7)
    W1, b1 = rng.normal(0, 0.5, (7, 5)), rng.normal(0, 0.1, 7)
    W2, b2 = rng.normal(0, 0.5, (3, 7)), rng.normal(0, 0.1, 3)
    X, Y = rng.normal(size=(20, 8, 5)), rng.normal(size=(20, 8, 3))
    m = Net(ttorch.float64)
    with ttorch.no_grad():
        for p, v in zip((m.fc1.weight, m.fc1.bias, m.fc2.weight, m.fc2.bias), (W1, b1, W2, b2)):
            p.copy_(ttorch.tensor(v))
    m.qconfig = Q.get_default_qat_qconfig("x86", version=0)
    m = Q.prepare_qat(m)
    opt = ttorch.optim.SGD(m.parameters(), lr=0.1)
    fq_in, fq_h, fq_o = RefFQ(0, 127, False, False), RefFQ(0, 127, False, False), RefFQ(0, 127, False, False)
    fq_w1, fq_w2 = RefFQ(-128, 127, True, True), RefFQ(-128, 127, True, True)
    lr = 0.1
    for step in range(20):
        loss = ((m(ttorch.tensor(X[step])) - ttorch.tensor(Y[step])) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        x0, _ = fq_in(X[step])
        w1q, mw1 = fq_w1(W1)
        h, mh = fq_h(x0 @ w1q.T + b1)
        a = np.maximum(h, 0)
        w2q, mw2 = fq_w2(W2)
        o, mo = fq_o(a @ w2q.T + b2)
        ref_loss = ((o - Y[step]) ** 2).mean()
        go = 2 * (o - Y[step]) / o.size * mo
        gh = (go @ w2q) * (h > 0) * mh
        W2, b2 = W2 - lr * (go.T @ a) * mw2, b2 - lr * go.sum(0)
        W1, b1 = W1 - lr * (gh.T @ x0) * mw1, b1 - lr * gh.sum(0)
        np.testing.assert_allclose(loss.item(), ref_loss, rtol=1e-12, err_msg=f"step {step}")
    for p, v in zip((m.fc1.weight, m.fc1.bias, m.fc2.weight, m.fc2.bias), (W1, b1, W2, b2)):
        np.testing.assert_allclose(_np(p), v, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(_np(m.fc2.activation_post_process.scale), np.atleast_1d(
        np.maximum((max(fq_o.mx, 0) - min(fq_o.mn, 0)) / np.float32(127), np.finfo(np.float32).eps)), rtol=0)


@pytest.mark.skipif(not ttorch.cuda.is_available(), reason="no cuda device")
def test_qat_cuda_matches_cpu():
    rng = np.random.default_rng(8)
    X, Y = rng.normal(size=(3, 4, 5)).astype(np.float32), rng.normal(size=(3, 4, 3)).astype(np.float32)
    ttorch.manual_seed(1)
    base = Net()
    base.qconfig = Q.get_default_qat_qconfig("x86")
    losses = {}
    for dev in ("cpu", "cuda"):
        m = Q.prepare_qat(base).to(dev)
        opt = ttorch.optim.SGD(m.parameters(), lr=0.1)
        losses[dev] = []
        for x, y in zip(X, Y):
            loss = ((m(ttorch.tensor(x, device=dev)) - ttorch.tensor(y, device=dev)) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses[dev].append(loss.item())
    np.testing.assert_allclose(losses["cuda"], losses["cpu"], rtol=1e-5)


def test_docstring_examples():
    import doctest
    import importlib
    for name in ("ttorch.ops.fake_quantize", "ttorch.ao.quantization.observer", "ttorch.ao.quantization.fake_quantize",
                 "ttorch.ao.quantization.quantize", "ttorch.ao.quantization.fuse_modules",
                 "ttorch._quantized"):
        res = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
        assert res.failed == 0 and res.attempted > 0, name


# ------------------------------------------------------------------------------------------ quantized tensors
def test_quantized_tensors(device):
    x = ttorch.tensor(X10, device=device)
    q = ttorch.quantize_per_tensor(x, 0.5, 3, ttorch.quint8)
    assert q.is_quantized and q.dtype is ttorch.quint8 and q.shape == (10,) and q.qscheme() is ttorch.per_tensor_affine
    assert q.int_repr().tolist() == [0, 2, 2, 4, 4, 6, 8, 203, 0, 4] and q.int_repr().dtype is ttorch.uint8
    assert q.dequantize().tolist() == [-1.5, -0.5, -0.5, 0.5, 0.5, 1.5, 2.5, 100.0, -1.5, 0.5]
    assert (q.q_scale(), q.q_zero_point()) == (0.5, 3)
    q8 = ttorch.quantize_per_tensor(x, 0.5, 3, ttorch.qint8)
    assert q8.int_repr().tolist() == [0, 2, 2, 4, 4, 6, 8, 127, -128, 4]
    q32 = ttorch.quantize_per_tensor(x, 0.5, 3, ttorch.qint32)
    assert q32.int_repr().tolist() == [0, 2, 2, 4, 4, 6, 8, 203, -197, 4]
    if device == "cpu":
        assert repr(q32) == (
            "tensor([  -1.5000,   -0.5000,   -0.5000,    0.5000,    0.5000,    1.5000,\n"
            "           2.5000,  100.0000, -100.0000,    0.5000], size=(10,),\n"
            "       dtype=ttorch.qint32, quantization_scheme=ttorch.per_tensor_affine,\n"
            "       scale=0.5, zero_point=3)")
    w = ttorch.tensor([[0.5, -1.5, 2.5], [3.5, 7.0, -9.0]], device=device)
    qc = ttorch.quantize_per_channel(w, ttorch.tensor([1.0, 2.0], device=device),
                                     ttorch.tensor([0, 1], device=device), 0, ttorch.qint8)
    assert qc.int_repr().tolist() == [[0, -2, 2], [3, 4, -4]]
    assert qc.dequantize().tolist() == [[0.0, -2.0, 2.0], [4.0, 6.0, -10.0]]
    assert qc.q_per_channel_scales().dtype is ttorch.float64 and qc.q_per_channel_zero_points().tolist() == [0, 1]
    assert qc.q_per_channel_axis() == 0 and qc.qscheme() is ttorch.per_channel_affine
    backend = "QuantizedCPU" if device == "cpu" else "QuantizedCUDA"
    for fn in (lambda: ttorch.exp(q), lambda: q.sum(), lambda: q * 2):
        with pytest.raises(NotImplementedError, match=f"with arguments from the '{backend}' backend"):
            fn()
    with pytest.raises(RuntimeError, match="Expected quantizer->qscheme\\(\\) == kPerTensorAffine"):
        qc.q_scale()
    with pytest.raises(RuntimeError, match="Quantize only works on Float Tensor, got Int"):
        ttorch.quantize_per_tensor(x.int(), 0.5, 3, ttorch.quint8)
    with pytest.raises(TypeError, match="Got unsupported ScalarType QUInt8"):
        q.numpy()
