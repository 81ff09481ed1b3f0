"""nn.functional activations, linear/dropout/embedding/distance functions and nn.init:
forward against NumPy re-implementations of PyTorch's formulas, gradients by gradcheck (float64,
cpu), cpu-vs-cuda parity, init distributions against PyTorch's bounds and moments, errors."""
import math

import numpy as np
import pytest

import ttorch
import ttorch.nn.functional as F
from ttorch.autograd import gradcheck
from ttorch.nn import init

from _helpers import close

X = np.array([[-3.5, -3.0, -1.2, -0.4, 0.0], [0.3, 0.5, 1.1, 3.0, 4.2]])
ERF = np.vectorize(math.erf)
PW = np.array([0.25, -0.5, 0.1, 0.3, 2.0])  # prelu's per-channel weights (dim 1)
SELU_A, SELU_S = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def _sig(x):
    return 1 / (1 + np.exp(-x))


def _softplus(x, beta=1.0, th=20.0):
    return np.where(x * beta > th, x, np.log1p(np.exp(beta * x)) / beta)


def _softmax(x, d):
    e = np.exp(x - x.max(d, keepdims=True))
    return e / e.sum(d, keepdims=True)


# (name, call, NumPy reference); points exactly at kinks are kept out of gradcheck below
ACTS = [
    ("relu", lambda x: F.relu(x), lambda x: np.maximum(x, 0)),
    ("relu6", lambda x: F.relu6(x), lambda x: np.clip(x, 0, 6)),
    ("leaky_relu", lambda x: F.leaky_relu(x, 0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    ("elu", lambda x: F.elu(x, 0.7), lambda x: np.where(x > 0, x, 0.7 * np.expm1(x))),
    ("selu", lambda x: F.selu(x), lambda x: SELU_S * np.where(x > 0, x, SELU_A * np.expm1(x))),
    ("celu", lambda x: F.celu(x, 2.0), lambda x: np.maximum(x, 0) + np.minimum(0, 2.0 * np.expm1(x / 2.0))),
    ("gelu", lambda x: F.gelu(x), lambda x: 0.5 * x * (1 + ERF(x / math.sqrt(2)))),
    ("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"),
     lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))),
    ("silu", lambda x: F.silu(x), lambda x: x * _sig(x)),
    ("mish", lambda x: F.mish(x), lambda x: x * np.tanh(np.log1p(np.exp(x)))),
    ("softplus", lambda x: F.softplus(x, beta=2.0, threshold=3.0), lambda x: _softplus(x, 2.0, 3.0)),
    ("softsign", lambda x: F.softsign(x), lambda x: x / (1 + np.abs(x))),
    ("tanh", lambda x: F.tanh(x), np.tanh),
    ("sigmoid", lambda x: F.sigmoid(x), _sig),
    ("hardtanh", lambda x: F.hardtanh(x, -2.0, 1.0), lambda x: np.clip(x, -2.0, 1.0)),
    ("hardsigmoid", lambda x: F.hardsigmoid(x), lambda x: np.clip(x / 6 + 0.5, 0, 1)),
    ("hardswish", lambda x: F.hardswish(x), lambda x: x * np.clip(x + 3, 0, 6) / 6),
    ("logsigmoid", lambda x: F.logsigmoid(x), lambda x: np.log(_sig(x))),
    ("softmax", lambda x: F.softmax(x, dim=1), lambda x: _softmax(x, 1)),
    ("log_softmax", lambda x: F.log_softmax(x, dim=0), lambda x: np.log(_softmax(x, 0))),
    ("softmin", lambda x: F.softmin(x, dim=1), lambda x: _softmax(-x, 1)),
    ("glu", lambda x: F.glu(x, dim=0), lambda x: x[:1] * _sig(x[1:])),
    ("threshold", lambda x: F.threshold(x, 0.4, -7.0), lambda x: np.where(x > 0.4, x, -7.0)),
    ("tanhshrink", lambda x: F.tanhshrink(x), lambda x: x - np.tanh(x)),
    ("softshrink", lambda x: F.softshrink(x, 0.45), lambda x: np.where(x > 0.45, x - 0.45,
                                                                         np.where(x < -0.45, x + 0.45, 0))),
    ("hardshrink", lambda x: F.hardshrink(x, 0.45), lambda x: np.where(np.abs(x) > 0.45, x, 0)),
    ("prelu", lambda x: F.prelu(x, ttorch.tensor(PW, dtype=x.dtype, device=x.device)),
     lambda x: np.where(x > 0, x, PW * x)),
]
# inputs away from every kink (0, +-3, +-0.45, 0.4, -2, 1) for finite differences
XG = np.array([[-3.7, -2.6, -1.2, -0.3, 0.2], [0.35, 0.7, 1.3, 2.5, 4.1]])


@pytest.mark.parametrize("name,fn,ref", ACTS, ids=[a[0] for a in ACTS])
def test_activation_forward(name, fn, ref, device):
    for dt in (ttorch.float32, ttorch.float64):
        x = ttorch.tensor(X, dtype=dt, device=device)
        close(fn(x), ref(X), dt, msg=name)


@pytest.mark.parametrize("name,fn,ref", ACTS, ids=[a[0] for a in ACTS])
def test_activation_gradcheck(name, fn, ref):
    x = ttorch.tensor(XG, dtype=ttorch.float64, requires_grad=True)
    assert gradcheck(fn, (x,))


@pytest.mark.parametrize("name,fn,ref", ACTS, ids=[a[0] for a in ACTS])
def test_activation_grad_parity(name, fn, ref):
    if not ttorch.cuda.is_available():
        pytest.skip("no cuda")
    grads = []
    for dev in ("cpu", "cuda"):
        x = ttorch.tensor(XG, dtype=ttorch.float32, device=dev, requires_grad=True)
        fn(x).sum().backward()
        grads.append(x.grad.cpu().numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-5, atol=1e-6)


def test_prelu_grad_weight():
    x = ttorch.tensor(np.random.randn(3, 2, 4), dtype=ttorch.float64, requires_grad=True)
    w = ttorch.tensor([0.25, -0.1], dtype=ttorch.float64, requires_grad=True)
    assert gradcheck(F.prelu, (x, w))
    w1 = ttorch.tensor([0.3], dtype=ttorch.float64, requires_grad=True)
    assert gradcheck(F.prelu, (x, w1))


def test_inplace_variants(device):
    x = ttorch.tensor(X, device=device)
    y = F.relu(x, inplace=True)
    assert y is x and x.min().item() == 0
    x = ttorch.tensor(X, device=device)
    assert F.elu_(x) is x
    close(x, np.where(X > 0, X, np.expm1(X)), ttorch.float32)
    x = ttorch.tensor(X, device=device)
    F.hardtanh_(x, -1.0, 1.0)
    close(x, np.clip(X, -1, 1), ttorch.float32)
    x = ttorch.tensor(X, device=device)
    F.threshold_(x, 1.0, 0.5)
    close(x, np.where(X > 1.0, X, 0.5), ttorch.float32)


@pytest.mark.parametrize("fn,df", [
    (lambda x: F.elu(x, inplace=True), lambda x: np.where(x > 0, 1.0, np.exp(x))),
    (lambda x: F.silu(x, inplace=True), lambda x: _sig(x) * (1 + x * (1 - _sig(x)))),
    (lambda x: F.hardtanh(x, inplace=True), lambda x: (np.abs(x) < 1).astype(float)),
    (lambda x: F.celu(x, 2.0, inplace=True), lambda x: np.where(x > 0, 1.0, np.exp(x / 2))),
    (lambda x: F.relu(x, inplace=True), lambda x: (x > 0).astype(float)),
    (lambda x: F.leaky_relu_(x, 0.1), lambda x: np.where(x > 0, 1.0, 0.1)),
])
def test_inplace_autograd(fn, df, device):
    """In-place activations on a non-leaf give the same gradient as the out-of-place ones."""
    a = ttorch.tensor(XG, dtype=ttorch.float64, device=device, requires_grad=True)
    y = a * 1.0
    out = fn(y)
    assert out is y and y._version > 0
    out.sum().backward()
    close(a.grad, df(XG), ttorch.float64)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
        fn(ttorch.tensor(XG, requires_grad=True))


def test_activation_errors():
    x = ttorch.randn(3, 5)
    with pytest.raises(RuntimeError, match="Halving dimension must be even, but dimension 1 is size 5"):
        F.glu(x)
    with pytest.raises(RuntimeError, match="Found parameter numbers = 2 and channel size = 5"):
        F.prelu(ttorch.randn(2, 5), ttorch.ones(2))
    with pytest.raises(RuntimeError, match="approximate argument must be either none or tanh"):
        F.gelu(x, approximate="fast")
    with pytest.raises(RuntimeError, match="lambda must be greater or equal to 0"):
        F.softshrink(x, -1.0)
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        y = F.softmax(x)
    close(y, _softmax(x.numpy(), 1), ttorch.float32)


# ------------------------------------------------------------------------------------------ linear
def test_linear_forward(device):
    rng = np.random.default_rng(0)
    x, w, b = rng.normal(size=(2, 3, 4)), rng.normal(size=(5, 4)), rng.normal(size=5)
    t = lambda a: ttorch.tensor(a, dtype=ttorch.float32, device=device)  # noqa: E731
    close(F.linear(t(x), t(w), t(b)), x @ w.T + b, ttorch.float32, n=4)
    close(F.linear(t(x[0]), t(w)), x[0] @ w.T, ttorch.float32, n=4)
    close(F.linear(t(x[0, 0]), t(w), t(b)), x[0, 0] @ w.T + b, ttorch.float32, n=4)
    # non-contiguous input
    close(F.linear(t(x).transpose(0, 1), t(w), t(b)), x.transpose(1, 0, 2) @ w.T + b, ttorch.float32, n=4)


def test_linear_bilinear_gradcheck():
    rng = np.random.default_rng(1)
    d = lambda *s: ttorch.tensor(rng.normal(size=s), dtype=ttorch.float64, requires_grad=True)  # noqa: E731
    assert gradcheck(F.linear, (d(2, 3, 4), d(5, 4), d(5)))
    assert gradcheck(F.bilinear, (d(2, 3), d(2, 4), d(5, 3, 4), d(5)))


def test_bilinear_forward(device):
    rng = np.random.default_rng(2)
    x1, x2, w, b = rng.normal(size=(3, 2)), rng.normal(size=(3, 4)), rng.normal(size=(5, 2, 4)), rng.normal(size=5)
    t = lambda a: ttorch.tensor(a, dtype=ttorch.float64, device=device)  # noqa: E731
    close(F.bilinear(t(x1), t(x2), t(w), t(b)), np.einsum("bi,oij,bj->bo", x1, w, x2) + b, ttorch.float64)


def test_linear_errors():
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)"):
        F.linear(ttorch.randn(2, 3), ttorch.randn(5, 4))
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(6x3 and 4x5\)"):
        F.linear(ttorch.randn(2, 3, 3), ttorch.randn(5, 4), ttorch.randn(5))
    with pytest.raises(RuntimeError, match="input1 size does not match weight size: got 2 but expected 3"):
        F.bilinear(ttorch.randn(2, 2), ttorch.randn(2, 4), ttorch.randn(5, 3, 4))


# ----------------------------------------------------------------------------------------- dropout
def test_dropout_statistics(device):
    x = ttorch.ones(4000, device=device)
    y = F.dropout(x, 0.3).cpu().numpy()
    assert np.isclose(y[y != 0], 1 / 0.7, rtol=1e-6).all()
    assert abs((y == 0).mean() - 0.3) < 0.04
    assert F.dropout(x, 0.3, training=False) is x
    assert (F.dropout(x, 1.0).cpu().numpy() == 0).all()
    ttorch.manual_seed(5)
    a = F.dropout(x, 0.5).cpu().numpy()
    ttorch.manual_seed(5)
    b = F.dropout(x, 0.5).cpu().numpy()
    np.testing.assert_array_equal(a, b)


def test_dropout_grad_uses_mask():
    x = ttorch.ones(50, 8, requires_grad=True)
    y = F.dropout(x, 0.4)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), y.detach().numpy())


@pytest.mark.skipif(not ttorch.cuda.is_available(), reason="no cuda device")
@pytest.mark.parametrize("dtype", [ttorch.float32, ttorch.float16, ttorch.bfloat16])
def test_fused_cuda_dropout_matches_the_composite(monkeypatch, dtype):
    # on cuda F.dropout is one kernel (mask, 1 / (1 - p), product): the same output, gradient and
    # generator state afterwards as the three-launch composite, bit for bit
    import sys
    lin = sys.modules["ttorch.nn.functional.linear"]
    r = np.random.default_rng(4)
    x = ttorch.tensor(r.standard_normal((37, 29)), dtype=dtype, device="cuda", requires_grad=True)
    g = ttorch.tensor(r.standard_normal((37, 29)), dtype=dtype, device="cuda")
    got = []
    for fused in (True, False):
        monkeypatch.setattr(lin, "_FUSED_DTYPES", lin._FUSED_DTYPES if fused else ())
        ttorch.manual_seed(3)
        y = F.dropout(x, 0.3)
        assert y.grad_fn.name() == ("NativeDropoutBackward0" if fused else "MulBackward0")
        y.backward(g)
        got.append([t.detach().float().cpu().numpy() for t in (y, x.grad, ttorch.rand(5, device="cuda"))])
        x.grad = None
    for a, b in zip(*got):
        np.testing.assert_array_equal(a, b)
    assert 0.2 < (got[0][0] == 0).mean() < 0.4


@pytest.mark.skipif(not ttorch.cuda.is_available(), reason="no cuda device")
def test_fused_cuda_dropout_output_may_be_written_in_place():
    # the fused node saves the noise, not its output: a residual added in place into the dropout's
    # output (``h = F.dropout(h); h += x``) leaves the backward as it was, as in PyTorch
    x = ttorch.randn(40, 16, device="cuda", requires_grad=True)
    ttorch.manual_seed(5)
    y = F.dropout(x, 0.5)
    kept = (y.detach() != 0).float().cpu().numpy()
    y.add_(1.0)
    assert y.grad_fn.name() == "AddBackward0" and y.grad_fn.next_functions[0][0].name() == "NativeDropoutBackward0"
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), kept * 2.0)
    with ttorch.no_grad():
        assert F.dropout(x, 0.5).grad_fn is None


def test_feature_dropout(device):
    x = ttorch.ones(20, 30, 3, 2, device=device)
    y = F.dropout2d(x, 0.5).cpu().numpy()
    per_channel = y.reshape(20, 30, -1)
    assert (per_channel.min(-1) == per_channel.max(-1)).all()  # whole channels kept or zeroed
    assert 0.3 < (per_channel[..., 0] == 0).mean() < 0.7
    y1 = F.dropout1d(ttorch.ones(30, 4, device=device), 0.5).cpu().numpy()
    assert (y1.min(-1) == y1.max(-1)).all()
    y3 = F.dropout3d(ttorch.ones(2, 6, 2, 2, 2, device=device), 0.5).cpu().numpy().reshape(2, 6, -1)
    assert (y3.min(-1) == y3.max(-1)).all()
    with pytest.raises(RuntimeError, match="dropout1d: Expected 2D or 3D input, but received a 4D input"):
        F.dropout1d(x)
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        F.dropout(x, 1.5)


def test_alpha_dropout_moments(device):
    x = ttorch.randn(20000, device=device)
    y = F.alpha_dropout(x, 0.2, training=True).cpu().numpy()
    assert abs(y.mean()) < 0.05 and abs(y.std() - 1) < 0.05  # keeps zero mean, unit variance
    assert F.alpha_dropout(x, 0.2) is x  # training defaults to False
    z = F.feature_alpha_dropout(ttorch.zeros(40, 50, 3, device=device), 0.5, training=True).cpu().numpy()
    assert (z.min(-1) == z.max(-1)).all()


# --------------------------------------------------------------------------------------- embedding
def test_embedding_forward_and_padding_grad(device):
    rng = np.random.default_rng(3)
    w = ttorch.tensor(rng.normal(size=(6, 3)), device=device, requires_grad=True)
    idx = ttorch.tensor([[0, 2, 2], [5, 0, 1]], device=device)
    y = F.embedding(idx, w, padding_idx=0)
    close(y, w.detach().cpu().numpy()[[[0, 2, 2], [5, 0, 1]]], ttorch.float32)
    (y * 2).sum().backward()
    g = w.grad.cpu().numpy()
    np.testing.assert_allclose(g[:, 0], [0, 2, 4, 0, 0, 2])  # padding row 0 gets nothing
    w.grad = None
    F.embedding(idx, w, scale_grad_by_freq=True).sum().backward()
    np.testing.assert_allclose(w.grad.cpu().numpy()[:, 0], [1, 1, 1, 0, 0, 1])


def test_embedding_gradcheck_and_max_norm():
    w = ttorch.tensor(np.random.randn(5, 3), dtype=ttorch.float64, requires_grad=True)
    idx = ttorch.tensor([1, 3, 3, 0])
    assert gradcheck(lambda w: F.embedding(idx, w), (w,))  # padding_idx's zero gradient is not the true one
    wn = ttorch.tensor(np.arange(15.0).reshape(5, 3))
    before = wn.numpy().copy()
    F.embedding(ttorch.tensor([1, 4]), wn, max_norm=2.0)
    after = wn.numpy()
    np.testing.assert_allclose(np.linalg.norm(after[[1, 4]], axis=1), 2.0, rtol=1e-6)
    np.testing.assert_array_equal(after[[0, 2, 3]], before[[0, 2, 3]])  # unused rows untouched
    with pytest.raises(RuntimeError, match="Expected tensor for argument #1 'indices'"):
        F.embedding(ttorch.tensor([1.0]), wn)


def _bag_ref(idx, w, offsets, mode, psw=None, pad=None):
    out = []
    bounds = list(offsets) + [len(idx)]
    for s, e in zip(bounds[:-1], bounds[1:]):
        rows = [w[i] * (1 if psw is None else psw[k]) for k, i in enumerate(idx[s:e], s) if i != pad]
        if not rows:
            out.append(np.zeros(w.shape[1]))
        else:
            r = np.stack(rows)
            out.append({"sum": r.sum(0), "mean": r.mean(0), "max": r.max(0)}[mode])
    return np.stack(out)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag(mode, device):
    rng = np.random.default_rng(4)
    w = rng.normal(size=(7, 3))
    idx, offs = np.array([1, 2, 4, 4, 3, 6, 0]), np.array([0, 2, 2, 5])
    tw = ttorch.tensor(w, dtype=ttorch.float64, device=device, requires_grad=True)
    ti, to = ttorch.tensor(idx, device=device), ttorch.tensor(offs, device=device)
    close(F.embedding_bag(ti, tw, to, mode=mode), _bag_ref(idx, w, offs, mode), ttorch.float64)
    close(F.embedding_bag(ti, tw, to, mode=mode, padding_idx=4), _bag_ref(idx, w, offs, mode, pad=4), ttorch.float64)
    two_d = F.embedding_bag(ti[:6].reshape(2, 3), tw, mode=mode)
    close(two_d, _bag_ref(idx[:6], w, [0, 3], mode), ttorch.float64)
    last = F.embedding_bag(ti, tw, ttorch.tensor([0, 2, 7], device=device), mode=mode, include_last_offset=True)
    close(last, _bag_ref(idx, w, [0, 2], mode), ttorch.float64)
    if mode == "sum":
        psw = rng.normal(size=7)
        r = F.embedding_bag(ti, tw, to, mode="sum", per_sample_weights=ttorch.tensor(psw, device=device))
        close(r, _bag_ref(idx, w, offs, "sum", psw), ttorch.float64)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_on_cuda_reads_nothing_back(mode, monkeypatch):
    rng = np.random.default_rng(8)
    w = rng.normal(size=(7, 3))
    idx, offs = np.array([1, 2, 4, 4, 3, 6, 0]), np.array([0, 2, 2, 5])
    tw, ti, to = (ttorch.tensor(a, device="cuda") for a in (w, idx, offs))

    def host_read(*a, **k):
        raise AssertionError("embedding_bag read a cuda tensor back to the host")
    for name in ("cpu", "numpy", "item", "tolist", "__int__", "__bool__"):
        monkeypatch.setattr(ttorch.Tensor, name, host_read)
    out = F.embedding_bag(ti, tw, to, mode=mode, padding_idx=4)
    monkeypatch.undo()
    close(out, _bag_ref(idx, w, offs, mode, pad=4), ttorch.float64)


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_embedding_bag_bad_offsets(device):
    w, idx = ttorch.randn(6, 2, device=device), ttorch.tensor([0, 2, 5, 2, 1], device=device)
    for offs, msg in (([1, 3], "offsets\\[0\\] has to be 0.*got 1"),
                      ([0, 9], "offsets\\[-1\\] can not be greater than input's length.*of 9")):
        with pytest.raises(RuntimeError, match=msg):       # on cuda: raised at the next sync, as PyTorch's asserts
            F.embedding_bag(idx, w, ttorch.tensor(offs, device=device)).cpu()


def test_embedding_bag_grad_and_errors():
    w = ttorch.tensor(np.random.randn(6, 2), dtype=ttorch.float64, requires_grad=True)
    idx, offs = ttorch.tensor([0, 2, 5, 2, 1]), ttorch.tensor([0, 3])
    for mode in ("sum", "mean", "max"):
        assert gradcheck(lambda w: F.embedding_bag(idx, w, offs, mode=mode), (w,))
    with pytest.raises(ValueError, match="offsets has to be a 1D Tensor but got None"):
        F.embedding_bag(idx, w)
    with pytest.raises(ValueError, match="if input is 2D, then offsets has to be None"):
        F.embedding_bag(idx.reshape(1, 5), w, offs)
    with pytest.raises(NotImplementedError, match="only supported for mode='sum'"):
        F.embedding_bag(idx, w, offs, per_sample_weights=ttorch.ones(5, dtype=ttorch.float64))


# --------------------------------------------------------------------------------------- distances
def test_distances(device):
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(3, 4)), rng.normal(size=(1, 4))
    t = lambda x: ttorch.tensor(x, dtype=ttorch.float64, device=device)  # noqa: E731
    close(F.normalize(t(a)), a / np.linalg.norm(a, axis=1, keepdims=True), ttorch.float64)
    close(F.normalize(t(a), p=1, dim=0), a / np.abs(a).sum(0, keepdims=True), ttorch.float64)
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    close(F.cosine_similarity(t(a), t(b)), cos, ttorch.float64)
    close(F.pairwise_distance(t(a), t(b)), np.linalg.norm(a - b + 1e-6, axis=1), ttorch.float64)
    close(F.pairwise_distance(t(a), t(b), p=1, keepdim=True), np.abs(a - b + 1e-6).sum(1, keepdims=True),
          ttorch.float64)
    oh = F.one_hot(ttorch.tensor([0, 2], device=device), 3)
    np.testing.assert_array_equal(oh.cpu().numpy(), [[1, 0, 0], [0, 0, 1]])


def test_distances_gradcheck():
    rng = np.random.default_rng(6)
    d = lambda *s: ttorch.tensor(rng.normal(size=s), dtype=ttorch.float64, requires_grad=True)  # noqa: E731
    assert gradcheck(F.normalize, (d(3, 4),))
    assert gradcheck(F.cosine_similarity, (d(3, 4), d(3, 4)))
    assert gradcheck(F.pairwise_distance, (d(3, 4), d(3, 4)))


# -------------------------------------------------------------------------------------------- init
def test_calculate_gain_and_fans():
    assert init.calculate_gain("linear") == 1 and init.calculate_gain("conv2d") == 1
    assert init.calculate_gain("tanh") == 5.0 / 3 and init.calculate_gain("selu") == 0.75
    assert init.calculate_gain("relu") == math.sqrt(2)
    assert init.calculate_gain("leaky_relu") == math.sqrt(2 / (1 + 0.01 ** 2))
    assert init.calculate_gain("leaky_relu", math.sqrt(5)) == math.sqrt(2 / 6)
    with pytest.raises(ValueError, match="Unsupported nonlinearity foo"):
        init.calculate_gain("foo")
    with pytest.raises(ValueError, match="negative_slope True not a valid number"):
        init.calculate_gain("leaky_relu", True)
    assert init._calculate_fan_in_and_fan_out(ttorch.empty(8, 3, 5, 2)) == (30, 80)
    with pytest.raises(ValueError, match="Fan in and fan out can not be computed"):
        init._calculate_fan_in_and_fan_out(ttorch.empty(3))
    with pytest.raises(ValueError, match="Mode fan_avg not supported, please use one of"):
        init.kaiming_uniform_(ttorch.empty(3, 3), mode="fan_avg")


def _moments(t):
    a = t.detach().cpu().numpy().astype(np.float64)
    return a, a.mean(), a.std()


def test_init_distributions(device):
    t = ttorch.empty(300, 200, device=device, requires_grad=True)
    fan_in, fan_out = 200, 300
    a, m, s = _moments(init.uniform_(t, -2.0, 3.0))
    assert a.min() >= -2 and a.max() < 3 and abs(m - 0.5) < 0.03
    a, m, s = _moments(init.normal_(t, 1.0, 2.0))
    assert abs(m - 1) < 0.03 and abs(s - 2) < 0.03
    bound = math.sqrt(6 / (fan_in + fan_out)) * 2.0
    a, m, s = _moments(init.xavier_uniform_(t, gain=2.0))
    assert np.abs(a).max() <= bound and abs(s - bound / math.sqrt(3)) < 0.01 * bound
    a, m, s = _moments(init.xavier_normal_(t))
    assert abs(s - math.sqrt(2 / (fan_in + fan_out))) < 0.002
    bound = math.sqrt(2 / (1 + 5)) * math.sqrt(3 / fan_in)  # Linear's kaiming_uniform_(a=sqrt(5))
    a, m, s = _moments(init.kaiming_uniform_(t, a=math.sqrt(5)))
    assert np.abs(a).max() <= bound and np.abs(a).max() > 0.99 * bound
    a, m, s = _moments(init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"))
    assert abs(s - math.sqrt(2 / fan_out)) < 0.002
    a, m, s = _moments(init.trunc_normal_(t, mean=0.5, std=1.0, a=-1.0, b=1.5))
    assert a.min() >= -1.0 and a.max() <= 1.5
    # moments of N(0.5, 1) truncated to [-1, 1.5]
    al, be = -1.5, 1.0
    phi = lambda x: math.exp(-x * x / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    Z = 0.5 * (math.erf(be / math.sqrt(2)) - math.erf(al / math.sqrt(2)))
    mean = 0.5 + (phi(al) - phi(be)) / Z
    var = 1 + (al * phi(al) - be * phi(be)) / Z - ((phi(al) - phi(be)) / Z) ** 2
    assert abs(m - mean) < 0.01 and abs(s - math.sqrt(var)) < 0.01
    assert t.grad is None and t.grad_fn is None and t.is_leaf  # no graph recorded


def test_init_generator_reproducible(device):
    g1, g2 = ttorch.Generator(device).manual_seed(3), ttorch.Generator(device).manual_seed(3)
    for fn in (init.uniform_, init.normal_, init.kaiming_uniform_, init.xavier_normal_, init.trunc_normal_,
               init.orthogonal_):
        a = fn(ttorch.empty(4, 6, device=device), generator=g1).cpu().numpy()
        b = fn(ttorch.empty(4, 6, device=device), generator=g2).cpu().numpy()
        np.testing.assert_array_equal(a, b)


def test_init_deterministic_fills(device):
    t = ttorch.empty(3, 4, device=device)
    assert (init.constant_(t, 0.3).cpu().numpy() == np.float32(0.3)).all()
    assert (init.ones_(t).cpu().numpy() == 1).all() and (init.zeros_(t).cpu().numpy() == 0).all()
    np.testing.assert_array_equal(init.eye_(t).cpu().numpy(), np.eye(3, 4))
    w = init.dirac_(ttorch.empty(4, 2, 3, 3, device=device), groups=2).cpu().numpy()
    ref = np.zeros((4, 2, 3, 3))
    ref[0, 0, 1, 1] = ref[1, 1, 1, 1] = ref[2, 0, 1, 1] = ref[3, 1, 1, 1] = 1
    np.testing.assert_array_equal(w, ref)
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions are supported"):
        init.eye_(ttorch.empty(2, 2, 2))
    with pytest.raises(ValueError, match="Only tensors with 3, 4, or 5 dimensions are supported"):
        init.dirac_(t)


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 2, 3)])
def test_orthogonal(shape, device):
    q = init.orthogonal_(ttorch.empty(*shape, device=device), gain=2.0).cpu().numpy().astype(np.float64)
    m = q.reshape(shape[0], -1) / 2.0
    small = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
    np.testing.assert_allclose(small, np.eye(small.shape[0]), atol=1e-5)
    with pytest.raises(ValueError, match="Only tensors with 2 or more dimensions are supported"):
        init.orthogonal_(ttorch.empty(3))
