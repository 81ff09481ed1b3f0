"""nn.utils.fusion (conv/linear + BatchNorm folding) and skip_init, nn.init's deprecated aliases and
sparse_, and utils.data.DistributedSampler (PyTorch's index assignment, hard-coded from PyTorch 2.13)."""
import warnings

import numpy as np
import pytest

import ttorch
import ttorch.nn as nn
from ttorch.utils.data import DataLoader, DistributedSampler, TensorDataset

from _helpers import to_np


# ------------------------------------------------------------------------------------ fusion
def _trained_bn(bn, channels_shape):
    """Give the BatchNorm non-trivial statistics and affine parameters, then eval mode."""
    bn.train()
    bn(ttorch.randn(*channels_shape, dtype=ttorch.float64) * 3 + 1)
    with ttorch.no_grad():
        bn.weight.uniform_(0.5, 2.0)
        bn.bias.normal_()
    return bn.eval()


@pytest.mark.parametrize("conv_cls,bn_cls,shape,transpose,bias", [
    (nn.Conv1d, nn.BatchNorm1d, (2, 3, 11), False, True),
    (nn.Conv2d, nn.BatchNorm2d, (2, 3, 7, 5), False, False),
    (nn.Conv3d, nn.BatchNorm3d, (1, 3, 4, 5, 3), False, True),
    (nn.ConvTranspose2d, nn.BatchNorm2d, (2, 3, 5, 4), True, True),
])
def test_fuse_conv_bn_eval(conv_cls, bn_cls, shape, transpose, bias):
    ttorch.manual_seed(0)
    conv = conv_cls(3, 5, 3, bias=bias, dtype=ttorch.float64).eval()
    bn = _trained_bn(bn_cls(5, dtype=ttorch.float64), (4, 5) + shape[2:])
    x = ttorch.randn(*shape, dtype=ttorch.float64)
    fused = nn.utils.fuse_conv_bn_eval(conv, bn, transpose=transpose)
    assert type(fused) is conv_cls and fused is not conv
    assert isinstance(fused.weight, nn.Parameter) and isinstance(fused.bias, nn.Parameter)
    assert fused.weight.dtype == ttorch.float64 and fused.weight.shape == conv.weight.shape
    np.testing.assert_allclose(to_np(fused(x)), to_np(bn(conv(x))), rtol=1e-12, atol=1e-12)
    assert (conv.bias is None) == (not bias)    # the original is left alone


def test_fuse_conv_bn_weights_defaults():
    w, rm, rv = ttorch.randn(4, 2, 3), ttorch.randn(4), ttorch.rand(4) + 0.5
    fw, fb = nn.utils.fuse_conv_bn_weights(w, None, rm, rv, 1e-5, None, None)
    s = 1 / np.sqrt(to_np(rv) + 1e-5)
    np.testing.assert_allclose(to_np(fw), to_np(w) * s[:, None, None], rtol=1e-6)
    np.testing.assert_allclose(to_np(fb), -to_np(rm) * s, rtol=1e-6)
    assert not fw.requires_grad and not fb.requires_grad


def test_fuse_linear_bn_eval():
    ttorch.manual_seed(1)
    for features in (6, 1):
        lin = nn.Linear(4, 6, dtype=ttorch.float64).eval()
        bn = _trained_bn(nn.BatchNorm1d(features, dtype=ttorch.float64), (8, features))
        x = ttorch.randn(3, 4, dtype=ttorch.float64)
        fused = nn.utils.fusion.fuse_linear_bn_eval(lin, bn)
        assert fused.weight.shape == (6, 4) and fused.bias.shape == (6,)
        y = to_np(lin(x))   # BatchNorm's eval map, broadcast over the features (a 1-feature bn can't run on y)
        ref = (y - to_np(bn.running_mean)) / np.sqrt(to_np(bn.running_var) + bn.eps) * to_np(bn.weight) \
            + to_np(bn.bias)
        np.testing.assert_allclose(to_np(fused(x)), ref, rtol=1e-12, atol=1e-12)
        if features == 6:
            np.testing.assert_allclose(to_np(fused(x)), to_np(bn(lin(x))), rtol=1e-12, atol=1e-12)
        assert fused.weight.requires_grad


def test_fusion_errors():
    conv, bn = nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4)
    with pytest.raises(AssertionError, match="Fusion only for eval!"):
        nn.utils.fuse_conv_bn_eval(conv, bn.eval())
    with pytest.raises(AssertionError, match="Fusion only for eval!"):
        nn.utils.fuse_linear_bn_eval(nn.Linear(2, 4), nn.BatchNorm1d(4))
    with pytest.raises(AssertionError, match="running_mean and bn.running_var must not be None"):
        nn.utils.fuse_conv_bn_eval(conv.eval(), nn.BatchNorm2d(4, track_running_stats=False).eval())
    with pytest.raises(AssertionError, match=r"linear.out_features=4 and bn.num_features=3"):
        nn.utils.fuse_linear_bn_eval(nn.Linear(2, 4).eval(), nn.BatchNorm1d(3).eval())


def test_skip_init():
    m = nn.utils.skip_init(nn.Linear, 5, 1)
    assert type(m) is nn.Linear and m.weight.shape == (1, 5) and isinstance(m.weight, nn.Parameter)
    assert "reset_parameters" not in m.__dict__
    m2 = nn.utils.skip_init(nn.Linear, in_features=6, out_features=2, dtype=ttorch.float64)
    assert m2.weight.dtype == ttorch.float64 and m2(ttorch.zeros(3, 6, dtype=ttorch.float64)).shape == (3, 2)
    with pytest.raises(RuntimeError, match="Expected a Module; got"):
        nn.utils.skip_init(int)

    class NoDevice(nn.Module):
        def __init__(self, n):
            super().__init__()
    with pytest.raises(RuntimeError, match="Module must support a 'device' arg to skip initialization"):
        nn.utils.skip_init(NoDevice, 3)


# -------------------------------------------------------------------------------------- init
ALIASES = ["uniform", "normal", "constant", "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal",
           "orthogonal", "sparse", "dirac", "eye"]


@pytest.mark.parametrize("name", ALIASES)
def test_init_deprecated_aliases(name):
    shape = (4, 3, 3) if name == "dirac" else (4, 3)
    args = {"constant": (0.5,), "sparse": (0.5,)}.get(name, ())
    t = ttorch.empty(*shape)
    fn = getattr(nn.init, name)
    assert fn.__name__ == name and f"nn.init.{name}_" in fn.__doc__ and name in nn.init.__all__
    with pytest.warns(FutureWarning, match=rf"^`nn.init.{name}` is now deprecated in favor of `nn.init.{name}_`.$"):
        assert fn(t, *args) is t


def test_sparse_(device):
    g = ttorch.Generator(device).manual_seed(3)
    w = nn.init.sparse_(ttorch.empty(10, 6, device=device), sparsity=0.25, std=2.0, generator=g)
    assert (to_np(w) == 0).sum(0).tolist() == [3] * 6     # ceil(0.25 * 10) per column
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions are supported"):
        nn.init.sparse_(ttorch.empty(3), 0.1)


# -------------------------------------------------------------------------- DistributedSampler
def _ranks(n, r, **kw):
    return [list(DistributedSampler(range(n), r, k, **kw)) for k in range(r)]


def test_distributed_sampler_matches_pytorch_in_order():
    # PyTorch 2.13's output, shuffle=False.
    assert _ranks(5, 2, shuffle=False) == [[0, 2, 4], [1, 3, 0]]
    assert _ranks(5, 2, shuffle=False, drop_last=True) == [[0, 2], [1, 3]]
    assert _ranks(2, 5, shuffle=False) == [[0], [1], [0], [1], [0]]
    assert _ranks(10, 3, shuffle=False, drop_last=True) == [[0, 3, 6], [1, 4, 7], [2, 5, 8]]
    assert _ranks(0, 2, shuffle=False) == [[], []]


@pytest.mark.parametrize("n,r", [(17, 4), (12, 3), (3, 5), (1, 1)])
@pytest.mark.parametrize("drop_last", [False, True])
def test_distributed_sampler_partition(n, r, drop_last):
    s = DistributedSampler(range(n), num_replicas=r, rank=0, drop_last=drop_last, seed=7)
    for epoch in range(2):
        parts = []
        for k in range(r):
            sk = DistributedSampler(range(n), num_replicas=r, rank=k, drop_last=drop_last, seed=7)
            sk.set_epoch(epoch)
            parts.append(list(sk))
            assert len(parts[-1]) == len(sk) == len(s)
        flat = sum(parts, [])
        if drop_last:   # each index at most once, n // r * r of them
            assert len(set(flat)) == len(flat) == (n // r) * r if n % r else n
        else:           # every index at least once, padding only by repeats
            assert set(flat) == set(range(n)) and len(flat) == -(-n // r) * r
            assert len(flat) - len(set(flat)) == len(flat) - n


def test_distributed_sampler_epochs():
    s = DistributedSampler(range(50), num_replicas=2, rank=1, seed=3)
    a, b = list(s), list(s)
    assert a == b                                   # deterministic within an epoch
    s.set_epoch(1)
    c = list(s)
    assert c != a and s.epoch == 1
    assert list(DistributedSampler(range(50), num_replicas=2, rank=1, seed=4)) == c   # seed + epoch
    s.set_epoch(0)
    assert list(s) == a


def test_distributed_sampler_errors():
    for kw in ({}, {"num_replicas": 2}, {"rank": 0}):
        with pytest.raises(ValueError, match="Default process group has not been initialized, please make sure"):
            DistributedSampler(range(4), **kw)
    for rank in (2, -1):
        with pytest.raises(ValueError, match=rf"Invalid rank {rank}, rank should be in the interval \[0, 1\]"):
            DistributedSampler(range(4), num_replicas=2, rank=rank)


def test_distributed_sampler_dataloader():
    ds = TensorDataset(ttorch.arange(10))
    seen = []
    for k in range(3):
        sampler = DistributedSampler(ds, num_replicas=3, rank=k, shuffle=True, seed=1)
        sampler.set_epoch(2)
        loader = DataLoader(ds, batch_size=2, sampler=sampler)
        assert len(loader) == 2
        seen += [int(v) for (batch,) in loader for v in batch.tolist()]
    assert sorted(set(seen)) == list(range(10)) and len(seen) == 12
