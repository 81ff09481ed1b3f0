"""Int8 eager-mode quantization: the int8 GEMM op (cpu vs simulated cuda vs an integer NumPy reference),
static post-training quantization of a small CNN (Conv-BN-ReLU fused, Linear), dynamic quantization of an MLP,
state_dict round trips and the quantized tensor API. References: NumPy with exact integer sums and fbgemm's
float32 requantization (``ttorch/ops/qgemm.py``); the values checked by hand against PyTorch's fbgemm are
pinned where noted."""
import io

import numpy as np
import pytest

import ttorch
import ttorch.nn as nn
import ttorch.ao.nn.quantized as nnq
import ttorch.ao.quantization as tq
from ttorch.ops import qgemm as G

pytestmark = pytest.mark.filterwarnings("ignore:Please use quant_min and quant_max")


# ------------------------------------------------------------------ NumPy references
def _requant_ref(a, a_scale, a_zp, w, w_scales, w_zps, bias, out_scale, out_zp, relu, per_channel):
    """fbgemm's quantized linear: exact int sums, then the float32 epilogue."""
    raw = (a.astype(np.int64) - a_zp) @ (w.astype(np.int64) - w_zps[:, None]).T
    atws = np.float32(a_scale) * w_scales.astype(np.float32)
    mult = atws / np.float32(out_scale)
    x = raw.astype(np.float32)
    if bias is not None:
        x = x + (bias / atws if per_channel else bias * np.float32(1.0 / np.float64(atws[0])))
    q = np.rint(x * mult) + out_zp
    return np.clip(q, out_zp if relu else 0, 255).astype(np.int64)


def _im2col(x, kh, kw, pad, stride):
    """(N, C, H, W) -> (N * Ho * Wo, C * kh * kw), padded with ``pad_value`` given in x already."""
    n, c, h, w = x.shape
    ho, wo = (h - kh) // stride + 1, (w - kw) // stride + 1
    cols = np.empty((n, ho, wo, c, kh, kw), x.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, :, :, i, j] = x[:, :, i:i + stride * ho:stride, j:j + stride * wo:stride].transpose(0, 2, 3, 1)
    return cols.reshape(n * ho * wo, -1), ho, wo


def _quant_ref(x, scale, zp):
    inv = np.float32(1.0) / np.float32(scale)
    return np.clip(np.rint(x.astype(np.float32) * inv + np.float32(zp)), 0, 255).astype(np.int64)


# ------------------------------------------------------------------ the GEMM op
@pytest.mark.parametrize("w_zp", [0, 3])
def test_qgemm_matches_integer_reference(device, w_zp):
    rng = np.random.default_rng(0)
    M, K, N = 37, 70, 19
    a = rng.integers(0, 256, (M, K)).astype(np.uint8)
    w = rng.integers(-128, 128, (N, K)).astype(np.int8)
    wzp = np.full(N, w_zp, np.int32)
    bias = rng.standard_normal(N).astype(np.float32)
    t = lambda v: ttorch.tensor(v, device=device)  # noqa: E731
    col = G.column_offsets(t(w), t(wzp))
    raw = (a.astype(np.int64) - 7) @ (w.astype(np.int64) - w_zp).T
    mult = np.full(N, 3e-4, np.float32)
    for relu in (False, True):
        q = G.qgemm(t(a), t(w), col, t(wzp), t(bias), t(mult), 7, out_zp=5, relu=relu).cpu().numpy()
        ref = np.clip(np.rint((raw.astype(np.float32) + bias) * mult) + 5, 5 if relu else 0, 255)
        np.testing.assert_array_equal(q, ref)
        assert q.dtype == np.uint8
    f = G.qgemm(t(a), t(w), col, t(wzp), t(bias), t(mult), 7, requant=False, relu=True).cpu().numpy()
    np.testing.assert_allclose(f, np.maximum(raw * 3e-4 + bias, 0), rtol=1e-5, atol=1e-5)
    assert f.dtype == np.float32


def test_qgemm_cpu_equals_cuda_edges():
    if not ttorch.cuda.is_available():
        pytest.skip("no cuda device")
    rng = np.random.default_rng(1)
    for M, K, N in ((1, 1, 1), (65, 129, 3)):      # one element; past one tile in M and K
        a = rng.integers(0, 256, (M, K)).astype(np.uint8)
        w = rng.integers(-128, 128, (N, K)).astype(np.int8)
        outs = []
        for dev in ("cpu", "cuda"):
            t = lambda v: ttorch.tensor(v, device=dev)  # noqa: E731
            zp = t(np.zeros(N, np.int32))
            outs.append(G.qgemm(t(a), t(w), G.column_offsets(t(w), zp), zp, None,
                                t(np.full(N, 1e-3, np.float32)), 128, out_zp=100).cpu().numpy())
        np.testing.assert_array_equal(outs[0], outs[1])


# ------------------------------------------------------------------ modules
def _set_linear(m, w_q, bias, scale, zp):
    m.set_weight_bias(w_q, bias)
    m.scale, m.zero_point = scale, zp
    return m


@pytest.mark.parametrize("per_channel", [False, True])
def test_quantized_linear_module(device, per_channel):
    rng = np.random.default_rng(2)
    M, K, N = 9, 13, 6
    x = rng.standard_normal((M, K)).astype(np.float32)
    w = (rng.standard_normal((N, K)) * 0.2).astype(np.float32)
    b = rng.standard_normal(N).astype(np.float32)
    if per_channel:
        s = (rng.random(N) * 0.005 + 0.003)
        wq = ttorch.quantize_per_channel(ttorch.tensor(w), ttorch.tensor(s), ttorch.zeros(N, dtype=ttorch.int64), 0,
                                         ttorch.qint8)
        w_scales, w_zps = s.astype(np.float32), np.zeros(N, np.int64)
    else:
        wq = ttorch.quantize_per_tensor(ttorch.tensor(w), 0.0061, 3, ttorch.qint8)
        w_scales, w_zps = np.full(N, 0.0061, np.float32), np.full(N, 3, np.int64)
    w_int = wq.int_repr().numpy()
    xq = ttorch.quantize_per_tensor(ttorch.tensor(x), 0.023, 121, ttorch.quint8)
    a_int = _quant_ref(x, 0.023, 121)
    np.testing.assert_array_equal(xq.int_repr().numpy(), a_int)
    from ttorch.ao.nn.intrinsic.quantized import LinearReLU
    for cls, relu in ((nnq.Linear, False), (LinearReLU, True)):
        m = _set_linear(cls(K, N), wq, ttorch.tensor(b), 0.05, 70).to(device)
        y = m(xq.to(device))
        assert y.dtype is ttorch.quint8 and y.q_scale() == 0.05 and y.q_zero_point() == 70
        ref = _requant_ref(a_int, 0.023, 121, w_int, w_scales, w_zps, b, 0.05, 70, relu, per_channel)
        np.testing.assert_array_equal(y.int_repr().cpu().numpy(), ref)


def test_quantized_conv2d_grouped_strided(device):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 4, 6, 5)).astype(np.float32)
    w = (rng.standard_normal((6, 2, 3, 3)) * 0.3).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    s = rng.random(6) * 0.005 + 0.004
    wq = ttorch.quantize_per_channel(ttorch.tensor(w), ttorch.tensor(s), ttorch.zeros(6, dtype=ttorch.int64), 0,
                                     ttorch.qint8)
    xq = ttorch.quantize_per_tensor(ttorch.tensor(x), 0.03, 100, ttorch.quint8)
    m = nnq.Conv2d(4, 6, 3, stride=2, padding=1, groups=2)
    m.set_weight_bias(wq, ttorch.tensor(b))
    m.scale, m.zero_point = 0.04, 60
    y = m.to(device)(xq.to(device)).int_repr().cpu().numpy()
    a = np.pad(_quant_ref(x, 0.03, 100), ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=100)  # pads: zp
    w_int = wq.int_repr().numpy()
    outs = []
    for g in range(2):
        cols, ho, wo = _im2col(a[:, 2 * g:2 * g + 2], 3, 3, 1, 2)
        outs.append(_requant_ref(cols, 0.03, 100, w_int[3 * g:3 * g + 3].reshape(3, -1), s[3 * g:3 * g + 3]
                                 .astype(np.float32), np.zeros(3, np.int64), b[3 * g:3 * g + 3], 0.04, 60, False, True))
    ref = np.concatenate(outs, 1).reshape(2, ho, wo, 6).transpose(0, 3, 1, 2)
    np.testing.assert_array_equal(y, ref)


# ------------------------------------------------------------------ static PTQ of a small CNN
class _CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.quant = tq.QuantStub()
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(4 * 5 * 5, 5)
        self.dequant = tq.DeQuantStub()

    def forward(self, x):
        x = self.relu(self.bn(self.conv(self.quant(x))))
        return self.dequant(self.fc(ttorch.flatten(x, 1)))


def _ptq_cnn():
    m = _CNN()
    with ttorch.no_grad():
        m.bn.running_mean.copy_(ttorch.randn(4) * 0.1)
        m.bn.running_var.copy_(ttorch.rand(4) + 0.5)
    m.eval()
    m.qconfig = tq.get_default_qconfig("x86")
    fused = tq.fuse_modules(m, [["conv", "bn", "relu"]])
    prepared = tq.prepare(fused)
    prepared(ttorch.randn(16, 2, 5, 5))
    return m, fused, tq.convert(prepared)


def test_static_ptq_cnn_matches_integer_reference():
    m, fused, q = _ptq_cnn()
    assert type(q.conv).__name__ == "ConvReLU2d" and q.conv._get_name() == "QuantizedConvReLU2d"
    assert type(q.fc) is nnq.Linear and type(q.quant) is nnq.Quantize and type(q.dequant) is nnq.DeQuantize
    assert not hasattr(q, "qconfig") and not hasattr(q.fc, "activation_post_process")
    x = ttorch.randn(6, 2, 5, 5)
    y = q(x).numpy()
    # the integer reference, layer by layer, from the converted modules' qparams and integer weights
    s0, z0 = float(q.quant.scale), int(q.quant.zero_point)
    a = np.pad(_quant_ref(x.numpy(), s0, z0), ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=z0)
    cw = q.conv.weight()
    cols, ho, wo = _im2col(a, 3, 3, 1, 1)
    h = _requant_ref(cols, s0, z0, cw.int_repr().numpy().reshape(4, -1),
                     cw.q_per_channel_scales().numpy().astype(np.float32), np.zeros(4, np.int64),
                     q.conv.bias().numpy(), q.conv.scale, q.conv.zero_point, True, True)
    h = h.reshape(6, ho, wo, 4).transpose(0, 3, 1, 2).reshape(6, -1)
    fw = q.fc.weight()
    o = _requant_ref(h, q.conv.scale, q.conv.zero_point, fw.int_repr().numpy(),
                     fw.q_per_channel_scales().numpy().astype(np.float32), np.zeros(5, np.int64), q.fc.bias().numpy(),
                     q.fc.scale, q.fc.zero_point, False, True)
    np.testing.assert_array_equal(y, ((o - q.fc.zero_point) * np.float32(q.fc.scale)).astype(np.float32))
    # close to the float model: within a few output quantization steps
    ref = m(x).detach().numpy()
    assert np.abs(y - ref).max() < 4 * q.fc.scale + 0.02
    assert np.abs(fused(x).detach().numpy() - ref).max() < 1e-5


def test_static_ptq_cnn_on_cuda_equals_cpu():
    if not ttorch.cuda.is_available():
        pytest.skip("no cuda device")
    _, _, q = _ptq_cnn()
    x = ttorch.randn(2, 2, 5, 5)
    np.testing.assert_array_equal(q(x).numpy(), q.to("cuda")(x.to("cuda")).cpu().numpy())


def test_state_dict_round_trip():
    _, _, q = _ptq_cnn()
    sd = q.state_dict()
    assert list(sd) == ["quant.scale", "quant.zero_point", "conv.weight", "conv.bias", "conv.scale",
                        "conv.zero_point", "fc.scale", "fc.zero_point", "fc._packed_params.dtype",
                        "fc._packed_params._packed_params"]
    assert sd["fc._packed_params.dtype"] is ttorch.qint8 and sd["conv.weight"].dtype is ttorch.qint8
    buf = io.BytesIO()
    ttorch.save(sd, buf)
    buf.seek(0)
    loaded = ttorch.load(buf)
    ttorch.manual_seed(5)
    _, _, other = _ptq_cnn()       # other weights and qparams
    x = ttorch.randn(3, 2, 5, 5)
    assert np.abs(other(x).numpy() - q(x).numpy()).max() > 0
    other.load_state_dict(loaded)
    np.testing.assert_array_equal(other(x).numpy(), q(x).numpy())
    assert other.fc.scale == q.fc.scale and other.conv.zero_point == q.conv.zero_point
    import copy
    import pickle
    for clone in (copy.deepcopy(q), pickle.loads(pickle.dumps(q))):
        np.testing.assert_array_equal(clone(x).numpy(), q(x).numpy())


# ------------------------------------------------------------------ dynamic quantization
def test_dynamic_quantized_mlp():
    mlp = nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 3))
    q = tq.quantize_dynamic(mlp)
    assert type(q[0]) is nnq.dynamic.Linear and q[0]._get_name() == "DynamicQuantizedLinear"
    assert type(mlp[0]) is nn.Linear        # a copy by default
    x = ttorch.randn(7, 12)
    y = q(x).numpy()

    def ref_linear(xv, lin):
        mn, mx = min(xv.min(), 0.0), max(xv.max(), 0.0)
        scale = (float(mx) - float(mn)) / 127        # reduce_range: [0, 127]
        zp_min = 0 - mn / scale
        zp_max = 127 - mx / scale
        zp = zp_min if (0 - abs(mn / scale)) < (127 - abs(mx / scale)) else zp_max
        zp = int(np.clip(np.rint(zp), 0, 127))
        a = np.clip(np.rint(xv * (np.float32(1) / np.float32(scale)) + np.float32(zp)), 0, 255).astype(np.int64)
        w = lin.weight()
        raw = (a - zp) @ w.int_repr().numpy().astype(np.int64).T
        return raw.astype(np.float32) * (np.float32(scale) * np.float32(w.q_scale())) + lin.bias().numpy()

    ref = ref_linear(np.maximum(ref_linear(x.numpy(), q[0]), 0), q[2])
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)
    assert np.abs(y - mlp(x).detach().numpy()).max() < 0.05
    sd = q.state_dict()
    q2 = tq.quantize_dynamic(nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 3)))
    q2.load_state_dict(sd)
    np.testing.assert_array_equal(q2(x).numpy(), y)


def test_qat_convert():
    m = nn.Sequential(tq.QuantStub(), nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 2), tq.DeQuantStub())
    m = tq.fuse_modules(m.eval(), [["1", "2"]]).train()
    m.qconfig = tq.get_default_qat_qconfig("x86")

    def train(model, steps):
        opt = ttorch.optim.SGD(model.parameters(), lr=0.01)
        for _ in range(steps):
            opt.zero_grad()
            model(ttorch.randn(8, 6)).pow(2).mean().backward()
            opt.step()

    q = tq.quantize_qat(m, train, [3])
    assert q[1]._get_name() == "QuantizedLinearReLU" and type(q[3]) is nnq.Linear
    q.eval()
    y = q(ttorch.randn(5, 6))
    assert y.shape == (5, 2) and y.dtype is ttorch.float32


# ------------------------------------------------------------------ quantized tensor API
def test_quantized_tensor_api():
    x = ttorch.tensor([-1.0, 0.3, 2.5])
    q = ttorch.quantize_per_tensor_dynamic(x, ttorch.quint8, False)      # PyTorch: zp 73, [0, 95, 255]
    assert q.q_zero_point() == 73 and q.int_repr().tolist() == [0, 95, 255] and q.q_scale() == 3.5 / 255
    q8 = ttorch.quantize_per_tensor_dynamic(x, ttorch.qint8, True)       # PyTorch: zp -28, [-64, -17, 63]
    assert ttorch.q_zero_point(q8) == -28 and ttorch.int_repr(q8).tolist() == [-64, -17, 63]
    assert isinstance(ttorch.dequantize([q]), tuple)
    np.testing.assert_allclose(ttorch.dequantize(q).numpy(), (np.array([0, 95, 255]) - 73) * np.float32(3.5 / 255),
                               rtol=1e-6)
    with pytest.raises(NotImplementedError, match="aten::int_repr"):
        ttorch.int_repr(x)
    pc = ttorch.quantize_per_channel(ttorch.ones(2, 3), ttorch.tensor([0.1, 0.2]), ttorch.tensor([0, 1]), 0,
                                     ttorch.qint8)
    assert ttorch.q_per_channel_axis(pc) == 0 and ttorch.q_per_channel_zero_points(pc).tolist() == [0, 1]
    assert q.flatten().relu().int_repr().tolist() == [73, 95, 255]      # relu: max(q, zero_point)
    q8r = q8.clone()
    assert nn.ReLU(inplace=True)(q8r) is q8r and q8r.int_repr().tolist() == [-28, -17, 63]


def test_fused_moving_avg_obs_fake_quant():
    x = ttorch.tensor([-1.0, 0.3, 2.5])
    rmin, rmax = ttorch.tensor([float("inf")]), ttorch.tensor([float("-inf")])
    s, z = ttorch.tensor([1.0]), ttorch.tensor([0], dtype=ttorch.int32)
    on = ttorch.tensor([1])
    y = ttorch.fused_moving_avg_obs_fake_quant(x, on, on, rmin, rmax, s, z, 0.01, 0, 255, 0)
    np.testing.assert_allclose(y.numpy(), [-1.0020, 0.3020, 2.4980], atol=1e-4)       # PyTorch's values
    y = ttorch.fused_moving_avg_obs_fake_quant(x * 2, on, on, rmin, rmax, s, z, 0.01, 0, 255, 0)
    np.testing.assert_allclose([rmin.item(), rmax.item(), z.item()], [-1.01, 2.525, 73], rtol=1e-6)
    np.testing.assert_allclose(y.numpy(), [-1.0120, 0.5961, 2.5230], atol=1e-4)
    y = ttorch.fused_moving_avg_obs_fake_quant(x, on, ttorch.tensor([0]), rmin, rmax, s, z, 0.01, 0, 255, 0)
    assert y is x and z.item() == 73       # fake quantization off: qparams kept


def test_qfunctional_and_activations():
    f = nnq.QFunctional()
    f.scale, f.zero_point = 0.05, 10
    x = ttorch.quantize_per_tensor(ttorch.linspace(-1, 2, 7), 0.02, 60, ttorch.quint8)
    r = f.add_scalar(x, 0.3)                                # PyTorch: same integers, zero point 45
    assert (r.q_scale(), r.q_zero_point(), r.int_repr().tolist()) == (0.02, 45, [10, 35, 60, 85, 110, 135, 160])
    r = f.add_scalar(x, -5.0)                               # PyTorch: scale 6.2 / 255, zp 255
    assert r.q_zero_point() == 255 and abs(r.q_scale() - 6.2 / 255) < 1e-12
    assert r.int_repr().tolist() == [8, 29, 49, 70, 90, 111, 132]
    r = f.mul_scalar(x, -2.0)                               # PyTorch: scale 0.04, zp 195, mirrored integers
    assert r.q_zero_point() == 195 and r.int_repr().tolist() == [245, 220, 195, 170, 145, 120, 95]
    s = f.add(x, x)
    np.testing.assert_allclose(s.dequantize().numpy(), np.clip(2 * x.dequantize().numpy(), -0.5, 12.25),
                               atol=0.025 + 1e-6)
    r6 = nnq.ReLU6()(ttorch.quantize_per_tensor(ttorch.tensor([-1.0, 3.0, 7.0]), 0.05, 20, ttorch.quint8))
    assert r6.int_repr().tolist() == [20, 80, 140]
    qf = nnq.functional.max_pool2d(ttorch.quantize_per_tensor(ttorch.arange(16.0).reshape(1, 1, 4, 4), 0.5, 3,
                                                               ttorch.quint8), 2)
    assert qf.int_repr().flatten().tolist() == [13, 17, 29, 33] and qf.q_zero_point() == 3


def test_docstring_examples():
    import doctest
    import importlib
    for name in ("ttorch.ao.nn.quantized.modules.linear", "ttorch.ao.nn.quantized.modules.conv",
                 "ttorch.ao.nn.quantized.modules.embedding_ops",
                 "ttorch.ao.nn.quantized.modules.activation", "ttorch.ao.nn.quantized.modules.functional_modules",
                 "ttorch.ao.nn.quantized.dynamic.linear", "ttorch.ao.nn.quantized.dynamic.rnn",
                 "ttorch.ao.quantization.quantize",
                 "ttorch.ao.quantization.qconfig", "ttorch.ao.quantization.histogram_observer", "ttorch._quantized"):
        res = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
        assert res.failed == 0 and res.attempted > 0, name


def test_histogram_observer_matches_pytorch():
    rng = np.random.default_rng(0)
    o = tq.HistogramObserver()
    got = []
    for s, off in ((1, 0), (1.5, 0.3)):    # the second batch widens the range: the histogram is re-binned
        o(ttorch.tensor(rng.standard_normal((64, 37)).astype(np.float32) * s + off))
        scale, zp = o.calculate_qparams()
        got.append((float(scale), int(zp)))
    # PyTorch 2.13's HistogramObserver on the same batches
    assert got == [(0.02730218507349491, 143), (0.03685640171170235, 114)]
    assert float(o.histogram.sum()) == 2 * 64 * 37


def test_quantized_embedding(device):
    w = ttorch.randn(11, 5)
    m = nn.Sequential(nn.Embedding(11, 5))
    with ttorch.no_grad():
        m[0].weight.copy_(w)
    m[0].qconfig = tq.float_qparams_weight_only_qconfig
    q = tq.convert(tq.prepare(m))
    assert q[0]._get_name() == "QuantizedEmbedding"
    wq = q[0].weight()
    assert wq.qscheme() is ttorch.per_channel_affine_float_qparams and wq.dtype is ttorch.quint8
    wn = w.numpy()
    mn, mx = wn.min(1), wn.max(1)
    scale = ((mx - mn) / np.float32(255)).astype(np.float32)
    zp = (-mn / scale).astype(np.float32)
    qi = np.clip(np.rint(wn * (np.float32(1) / scale)[:, None] + zp[:, None]), 0, 255)
    np.testing.assert_array_equal(wq.int_repr().numpy(), qi)
    idx = ttorch.tensor([[3, 0], [10, 3]])
    y = q.to(device)(idx.to(device)).cpu().numpy()
    bias = (zp * np.float32(-1.0) * scale).astype(np.float32)       # fma(q, scale, -zero_point * scale)
    ref = (qi.astype(np.float64) * scale[:, None] + bias[:, None]).astype(np.float32)[idx.numpy()]
    np.testing.assert_array_equal(y, ref)
    assert np.abs(y - wn[idx.numpy()]).max() <= scale.max() / 2 + 1e-6
    sd = q.state_dict()
    assert list(sd) == ["0._packed_params.dtype", "0._packed_params._packed_weight"]


def test_conv1d_and_functional_forms_agree():
    x = ttorch.quantize_per_tensor(ttorch.randn(2, 4, 13), 0.03, 90, ttorch.quint8)
    w = ttorch.quantize_per_tensor(ttorch.randn(6, 2, 3) * 0.3, 0.01, 0, ttorch.qint8)
    b = ttorch.randn(6)
    c = nnq.Conv1d(4, 6, 3, stride=2, padding=2, dilation=2, groups=2)
    c.set_weight_bias(w, b)
    c.scale, c.zero_point = 0.05, 64
    y = c(x)
    assert y.shape == (2, 6, 7)
    f = nnq.functional.conv1d(x, w, b, stride=2, padding=2, dilation=2, groups=2, scale=0.05, zero_point=64)
    np.testing.assert_array_equal(f.int_repr().numpy(), y.int_repr().numpy())
    # the same convolution as a 2-d one of height 1
    x2 = ttorch._quantized.QuantizedTensor._make(x.int_repr().unsqueeze(2), ttorch.quint8, ttorch.per_tensor_affine,
                                                 0.03, 90, None)
    w2 = ttorch.quantize_per_tensor(w.dequantize().unsqueeze(2), 0.01, 0, ttorch.qint8)
    f2 = nnq.functional.conv2d(x2, w2, b, stride=(1, 2), padding=(0, 2), dilation=(1, 2), groups=2, scale=0.05,
                               zero_point=64)
    np.testing.assert_array_equal(f2.int_repr().squeeze(2).numpy(), y.int_repr().numpy())
    lin = nnq.Linear(13, 5)
    xl = ttorch.quantize_per_tensor(ttorch.randn(3, 13), 0.02, 100, ttorch.quint8)
    wl = ttorch.quantize_per_tensor(ttorch.randn(5, 13) * 0.2, 0.004, 0, ttorch.qint8)
    bl = ttorch.randn(5)
    lin.set_weight_bias(wl, bl)
    lin.scale, lin.zero_point = 0.03, 50
    np.testing.assert_array_equal(nnq.functional.linear(xl, wl, bl, 0.03, 50).int_repr().numpy(),
                                  lin(xl).int_repr().numpy())


def test_dynamic_quantized_lstm():
    rng = np.random.default_rng(7)
    m = nn.LSTM(3, 2, bidirectional=True)
    m.load_state_dict({k: ttorch.tensor(rng.standard_normal(tuple(v.shape)).astype(np.float32) * 0.5)
                       for k, v in m.state_dict().items()})
    q = tq.quantize_dynamic(nn.Sequential(m))[0]
    assert q._get_name() == "DynamicQuantizedLSTM" and q._weight_bias()["weight"]["weight_hh_l0"].dtype is ttorch.qint8
    x = ttorch.tensor(rng.standard_normal((3, 1, 3)).astype(np.float32))
    out, (h, c) = q(x)
    # PyTorch 2.13 (fbgemm) on the same weights and input
    ref_out = [0.201202, -0.317872, 0.041418, 0.250868, 0.320306, -0.321867, -0.042919, 0.09068, 0.11597, -0.093548,
               -0.149809, -0.263677]
    np.testing.assert_allclose(out.numpy().reshape(-1), ref_out, atol=2e-6)
    np.testing.assert_allclose(c.numpy().reshape(-1), [0.44181, -0.179998, 0.091905, 0.30913], atol=2e-6)
    np.testing.assert_array_equal(h.numpy()[0], out.numpy()[-1, :, :2])       # forward's last step
    np.testing.assert_array_equal(h.numpy()[1], out.numpy()[0, :, 2:])        # backward's last step
    assert np.abs(out.numpy() - m(x)[0].detach().numpy()).max() < 0.02
    # the algorithm: the input projection quantized once over the sequence, the recurrent one per step
    p = q._all_weight_values[0]
    ih, hh = nnq.dynamic.Linear(3, 8), nnq.dynamic.Linear(2, 8)
    ih.set_weight_bias(*p.param[:2])
    hh.set_weight_bias(*p.param[2:])
    xw, hs, cs = ih(x), ttorch.zeros(1, 2), ttorch.zeros(1, 2)
    for t in range(3):
        i, f, g, o = (hh(hs) + xw[t]).chunk(4, 1)
        cs = ttorch.sigmoid(f) * cs + ttorch.sigmoid(i) * ttorch.tanh(g)
        hs = ttorch.sigmoid(o) * ttorch.tanh(cs)
    np.testing.assert_array_equal(hs.numpy(), h.numpy()[0])
    q2 = tq.quantize_dynamic(nn.Sequential(nn.LSTM(3, 2, bidirectional=True)))[0]
    buf = io.BytesIO()
    ttorch.save(q.state_dict(), buf)
    buf.seek(0)
    q2.load_state_dict(ttorch.load(buf))
    np.testing.assert_array_equal(q2(x)[0].numpy(), out.numpy())


def test_dynamic_quantized_gru():
    rng = np.random.default_rng(7)
    m = nn.GRU(3, 2, bidirectional=True)
    m.load_state_dict({k: ttorch.tensor(rng.standard_normal(tuple(v.shape)).astype(np.float32) * 0.5)
                       for k, v in m.state_dict().items()})
    q = tq.quantize_dynamic(nn.Sequential(m))[0]
    assert q._get_name() == "DynamicQuantizedGRU"
    x = ttorch.tensor(rng.standard_normal((3, 1, 3)).astype(np.float32))
    out, h = q(x)
    ref = [0.643128, 0.194607, -0.281299, -0.245438, 0.108875, -0.323199, 0.072396, 0.147545, 0.17701, -0.512279,
           0.039443, 0.1614]       # PyTorch 2.13 (fbgemm) on the same weights and input
    np.testing.assert_allclose(out.numpy().reshape(-1), ref, atol=2e-6)
    assert h.shape == (2, 1, 2) and np.abs(out.numpy() - m(x)[0].detach().numpy()).max() < 0.05
