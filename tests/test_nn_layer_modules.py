"""Layer modules (activations, Linear, Bilinear, dropout, Embedding, EmbeddingBag, distances):
PyTorch's state-dict keys, shapes, default initialisation, reprs, train/eval behaviour, outputs
against NumPy, cpu-vs-cuda parity with the same weights, and error messages."""
import math

import numpy as np
import pytest

import ttorch
import ttorch.nn as nn
import ttorch.nn.functional as F

from _helpers import close


def _np(t):
    return t.detach().cpu().numpy()


# ------------------------------------------------------------------------------------------ Linear
def test_linear_state_dict_and_output(device):
    m = nn.Linear(4, 3).to(device)
    sd = m.state_dict()
    assert list(sd) == ["weight", "bias"]
    assert tuple(sd["weight"].shape) == (3, 4) and tuple(sd["bias"].shape) == (3,)
    rng = np.random.default_rng(0)
    w, b, x = rng.normal(size=(3, 4)), rng.normal(size=3), rng.normal(size=(2, 5, 4))
    f32 = ttorch.float32
    m.load_state_dict({"weight": ttorch.tensor(w, dtype=f32), "bias": ttorch.tensor(b, dtype=f32)})
    y = m(ttorch.tensor(x, dtype=ttorch.float32, device=device))
    assert y.shape == (2, 5, 3)
    close(y, x @ w.T + b, ttorch.float32, n=4)
    y.sum().backward()
    close(m.weight.grad, np.ones((10, 3)).T @ x.reshape(10, 4), ttorch.float32, n=10)
    close(m.bias.grad, np.full(3, 10.0), ttorch.float32)
    nb = nn.Linear(4, 3, bias=False)
    assert list(nb.state_dict()) == ["weight"] and nb.bias is None
    assert repr(nb) == "Linear(in_features=4, out_features=3, bias=False)"


def test_linear_default_init():
    ttorch.manual_seed(0)
    m = nn.Linear(50, 400)
    w, b = _np(m.weight), _np(m.bias)
    bound = 1 / math.sqrt(50)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.98 * bound  # U(-1/sqrt(in), 1/sqrt(in))
    assert abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound * 3
    assert np.abs(b).max() <= bound and abs(b.mean()) < 0.2 * bound
    assert m.weight.requires_grad and m.weight.is_leaf and m.weight.grad_fn is None
    m64 = nn.Linear(2, 3, dtype=ttorch.float64)
    assert m64.weight.dtype is ttorch.float64 and m64.bias.dtype is ttorch.float64


def test_linear_cpu_cuda_parity():
    if not ttorch.cuda.is_available():
        pytest.skip("no cuda")
    ttorch.manual_seed(1)
    m = nn.Linear(5, 3)
    mc = nn.Linear(5, 3).cuda()
    mc.load_state_dict(m.state_dict())
    x = ttorch.randn(4, 5)
    y, yc = m(x), mc(x.cuda())
    close(yc, _np(y), ttorch.float32, n=5)
    (y * y).sum().backward()
    (yc * yc).sum().backward()
    close(mc.weight.grad, _np(m.weight.grad), ttorch.float32, n=8)
    close(mc.bias.grad, _np(m.bias.grad), ttorch.float32, n=8)


def test_linear_errors():
    m = nn.Linear(4, 5)
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)"):
        m(ttorch.randn(2, 3))
    with pytest.raises(RuntimeError, match=r"size mismatch for weight: copying a param with shape"):
        m.load_state_dict({"weight": ttorch.zeros(4, 5), "bias": ttorch.zeros(5)})


def test_bilinear(device):
    m = nn.Bilinear(2, 3, 4).to(device)
    assert {k: tuple(v.shape) for k, v in m.state_dict().items()} == {"weight": (4, 2, 3), "bias": (4,)}
    assert np.abs(_np(m.weight)).max() <= 1 / math.sqrt(2)
    rng = np.random.default_rng(2)
    x1, x2 = rng.normal(size=(5, 2)), rng.normal(size=(5, 3))
    y = m(ttorch.tensor(x1, dtype=ttorch.float32, device=device), ttorch.tensor(x2, dtype=ttorch.float32,
                                                                                  device=device))
    close(y, np.einsum("bi,oij,bj->bo", x1, _np(m.weight), x2) + _np(m.bias), ttorch.float32, n=6)
    assert repr(m) == "Bilinear(in1_features=2, in2_features=3, out_features=4, bias=True)"


def test_mlp_trains():
    ttorch.manual_seed(0)
    rng = np.random.default_rng(0)
    x = ttorch.tensor(rng.normal(size=(32, 3)), dtype=ttorch.float32)
    y = ttorch.tensor(np.sin(_np(x).sum(1, keepdims=True)), dtype=ttorch.float32)
    model = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 1))
    first = None
    for _ in range(200):
        loss = ((model(x) - y) ** 2).mean()
        first = first if first is not None else loss.item()
        model.zero_grad()
        loss.backward()
        with ttorch.no_grad():
            for p in model.parameters():
                p.sub_(0.1 * p.grad)
    assert loss.item() < 0.1 * first


# ------------------------------------------------------------------------------------- activations
MODS = [
    (nn.ReLU(), lambda x: F.relu(x), "ReLU()"),
    (nn.ReLU(inplace=True), None, "ReLU(inplace=True)"),
    (nn.ReLU6(), lambda x: F.relu6(x), "ReLU6()"),
    (nn.LeakyReLU(0.2), lambda x: F.leaky_relu(x, 0.2), "LeakyReLU(negative_slope=0.2)"),
    (nn.ELU(alpha=0.5), lambda x: F.elu(x, 0.5), "ELU(alpha=0.5)"),
    (nn.ELU(inplace=True), None, "ELU(alpha=1.0, inplace=True)"),
    (nn.SELU(), lambda x: F.selu(x), "SELU()"),
    (nn.CELU(2.0), lambda x: F.celu(x, 2.0), "CELU(alpha=2.0)"),
    (nn.GELU(), lambda x: F.gelu(x), "GELU(approximate='none')"),
    (nn.GELU("tanh"), lambda x: F.gelu(x, approximate="tanh"), "GELU(approximate='tanh')"),
    (nn.SiLU(), lambda x: F.silu(x), "SiLU()"),
    (nn.Mish(), lambda x: F.mish(x), "Mish()"),
    (nn.Softplus(2.0, 5.0), lambda x: F.softplus(x, 2.0, 5.0), "Softplus(beta=2.0, threshold=5.0)"),
    (nn.Softsign(), lambda x: F.softsign(x), "Softsign()"),
    (nn.Tanh(), lambda x: x.tanh(), "Tanh()"),
    (nn.Sigmoid(), lambda x: x.sigmoid(), "Sigmoid()"),
    (nn.Hardtanh(-2.0, 2.0), lambda x: F.hardtanh(x, -2.0, 2.0), "Hardtanh(min_val=-2.0, max_val=2.0)"),
    (nn.Hardsigmoid(), lambda x: F.hardsigmoid(x), "Hardsigmoid()"),
    (nn.Hardswish(), lambda x: F.hardswish(x), "Hardswish()"),
    (nn.LogSigmoid(), lambda x: F.logsigmoid(x), "LogSigmoid()"),
    (nn.Softmax(dim=1), lambda x: F.softmax(x, 1), "Softmax(dim=1)"),
    (nn.LogSoftmax(dim=-1), lambda x: F.log_softmax(x, -1), "LogSoftmax(dim=-1)"),
    (nn.Softmin(dim=0), lambda x: F.softmin(x, 0), "Softmin(dim=0)"),
    (nn.GLU(), lambda x: F.glu(x, -1), "GLU(dim=-1)"),
    (nn.Threshold(0.1, 20.0), lambda x: F.threshold(x, 0.1, 20.0), "Threshold(threshold=0.1, value=20.0)"),
    (nn.Tanhshrink(), lambda x: F.tanhshrink(x), "Tanhshrink()"),
    (nn.Softshrink(0.3), lambda x: F.softshrink(x, 0.3), "Softshrink(0.3)"),
    (nn.Hardshrink(), lambda x: F.hardshrink(x, 0.5), "Hardshrink(0.5)"),
]


@pytest.mark.parametrize("mod,fn,rep", MODS, ids=[m[2] for m in MODS])
def test_activation_modules(mod, fn, rep, device):
    assert repr(mod) == rep
    assert list(mod.state_dict()) == []
    x = ttorch.tensor(np.linspace(-4, 4, 12).reshape(3, 4), device=device)
    if fn is None:  # inplace: writes into its input
        ref = type(mod)()(x)
        xx = x.clone()
        assert mod(xx) is xx
        close(xx, _np(ref), ttorch.float32)
    else:
        close(mod(x), _np(fn(x)), ttorch.float32)


def test_prelu(device):
    m = nn.PReLU(3, init=0.1).to(device)
    assert repr(m) == "PReLU(num_parameters=3)"
    assert list(m.state_dict()) == ["weight"] and tuple(m.weight.shape) == (3,)
    np.testing.assert_allclose(_np(m.weight), 0.1, rtol=1e-6)
    x = ttorch.tensor(np.linspace(-2, 1, 12).reshape(2, 3, 2), device=device)
    y = m(x)
    close(y, np.where(_np(x) > 0, _np(x), 0.1 * _np(x)), ttorch.float32)
    y.sum().backward()
    close(m.weight.grad, np.minimum(_np(x), 0).sum((0, 2)), ttorch.float32)
    assert nn.PReLU().weight.shape == (1,)
    with pytest.raises(RuntimeError, match="Found parameter numbers = 3 and channel size = 4"):
        m(ttorch.zeros(2, 4, device=device))


def test_softmax2d_and_implicit_dim():
    x = ttorch.randn(2, 3, 2, 2)
    close(nn.Softmax2d()(x), _np(F.softmax(x, -3)), ttorch.float32)
    with pytest.raises(ValueError, match="Softmax2d: expected input to be 3D or 4D, got 2D instead"):
        nn.Softmax2d()(ttorch.randn(2, 3))
    with pytest.warns(UserWarning, match="Implicit dimension choice for log_softmax"):
        nn.LogSoftmax()(ttorch.randn(2, 3))


# ----------------------------------------------------------------------------------------- dropout
@pytest.mark.parametrize("cls,shape", [(nn.Dropout, (40, 50)), (nn.Dropout1d, (40, 50, 2)),
                                       (nn.Dropout2d, (40, 50, 2, 2)), (nn.Dropout3d, (4, 50, 2, 2, 2)),
                                       (nn.AlphaDropout, (40, 50)), (nn.FeatureAlphaDropout, (40, 50, 3))])
def test_dropout_modules(cls, shape, device):
    m = cls(0.25)
    assert repr(m) == f"{cls.__name__}(p=0.25, inplace=False)"
    x = ttorch.ones(*shape, device=device)
    y = _np(m(x))
    changed = (y < y.max() - 1e-5).reshape(shape[0], shape[1], -1)  # dropped units take the smaller value
    assert 0.15 < changed[..., 0].mean() < 0.35
    if cls is not nn.Dropout and cls is not nn.AlphaDropout:
        assert (changed.min(-1) == changed.max(-1)).all()  # per channel
    m.eval()
    assert m(x) is x
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got -0.1"):
        cls(-0.1)


# --------------------------------------------------------------------------------------- embedding
def test_embedding_module(device):
    ttorch.manual_seed(0)
    m = nn.Embedding(1000, 8, padding_idx=2).to(device)
    assert list(m.state_dict()) == ["weight"] and tuple(m.weight.shape) == (1000, 8)
    w = _np(m.weight)
    assert (w[2] == 0).all()
    others = np.delete(w, 2, 0)
    assert abs(others.mean()) < 0.03 and abs(others.std() - 1) < 0.03  # N(0, 1)
    assert repr(m) == "Embedding(1000, 8, padding_idx=2)"
    idx = ttorch.tensor([[2, 5], [5, 7]], device=device)
    y = m(idx)
    close(y, w[[[2, 5], [5, 7]]], ttorch.float32)
    (y * 3).sum().backward()
    g = _np(m.weight.grad)
    assert (g[2] == 0).all() and (g[5] == 6).all() and (g[7] == 3).all()
    assert repr(nn.Embedding(5, 2, max_norm=1.0, sparse=True)) == "Embedding(5, 2, max_norm=1.0, sparse=True)"
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        nn.Embedding(5, 2, padding_idx=5)


def test_embedding_from_pretrained_and_load(device):
    pre = ttorch.tensor(np.arange(12.0).reshape(4, 3), device=device)
    m = nn.Embedding.from_pretrained(pre)
    assert not m.weight.requires_grad
    close(m(ttorch.tensor([3, 0], device=device)), np.arange(12.0).reshape(4, 3)[[3, 0]], ttorch.float32)
    assert nn.Embedding.from_pretrained(pre, freeze=False).weight.requires_grad
    m2 = nn.Embedding(4, 3).to(device)
    m2.load_state_dict({"weight": pre})
    close(m2.weight, _np(pre), ttorch.float32)
    bag = nn.EmbeddingBag.from_pretrained(pre, mode="max")
    assert not bag.weight.requires_grad
    close(bag(ttorch.tensor([[0, 3], [1, 2]], device=device)), [[9, 10, 11], [6, 7, 8]], ttorch.float32)


def test_embedding_bag_module(device):
    m = nn.EmbeddingBag(10, 3, mode="sum").to(device)
    assert repr(m) == "EmbeddingBag(10, 3, mode='sum')"
    assert list(m.state_dict()) == ["weight"]
    w = _np(m.weight)
    idx, offs = [1, 2, 4, 5, 4, 3, 2, 9], [0, 4]
    y = m(ttorch.tensor(idx, device=device), ttorch.tensor(offs, device=device))
    close(y, np.stack([w[idx[:4]].sum(0), w[idx[4:]].sum(0)]), ttorch.float32, n=4)
    psw = ttorch.tensor(np.linspace(0.5, 2, 8), dtype=ttorch.float32, device=device)
    y = m(ttorch.tensor(idx, device=device), ttorch.tensor(offs, device=device), per_sample_weights=psw)
    wp = w[idx] * _np(psw)[:, None]
    close(y, np.stack([wp[:4].sum(0), wp[4:].sum(0)]), ttorch.float32, n=4)


# --------------------------------------------------------------------------------------- distances
def test_distance_modules(device):
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    ta, tb = (ttorch.tensor(v, dtype=ttorch.float64, device=device) for v in (a, b))
    close(nn.PairwiseDistance()(ta, tb), np.linalg.norm(a - b + 1e-6, axis=1), ttorch.float64)
    close(nn.PairwiseDistance(p=1.0, keepdim=True)(ta, tb), np.abs(a - b + 1e-6).sum(1, keepdims=True),
          ttorch.float64)
    cos = (a * b).sum(0) / (np.linalg.norm(a, axis=0) * np.linalg.norm(b, axis=0))
    close(nn.CosineSimilarity(dim=0)(ta, tb), cos, ttorch.float64)
