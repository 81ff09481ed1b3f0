"""F.pdist, F.gumbel_softmax, F.channel_shuffle and the modules nn.Fold, nn.Unfold, nn.ChannelShuffle:
values against NumPy, gradients by gradcheck, the sampler's distribution and straight-through."""
import numpy as np
import pytest

import ttorch
import ttorch.nn as nn
import ttorch.nn.functional as F
from ttorch.autograd import gradcheck

from _helpers import to_np

DEVICES = ["cpu"] + (["cuda"] if ttorch.cuda.is_available() else [])
R = np.random.default_rng(23)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, float("inf")])
def test_pdist_against_numpy(device, p):
    x = R.uniform(-1, 1, (5, 3))
    want = [np.linalg.norm(x[i] - x[j], p) for i in range(5) for j in range(i + 1, 5)]
    got = F.pdist(ttorch.tensor(x, dtype=ttorch.float64, device=device), p)
    np.testing.assert_allclose(to_np(got), want, rtol=1e-12)
    assert gradcheck(lambda a: F.pdist(a, p), (ttorch.tensor(x, dtype=ttorch.float64, requires_grad=True),))
    with pytest.raises(RuntimeError, match="pdist only supports 2D tensors, got: 3D"):
        F.pdist(ttorch.zeros(2, 2, 2, device=device))


@pytest.mark.parametrize("device", DEVICES)
def test_gumbel_softmax(device):
    ttorch.manual_seed(3)
    logits = ttorch.tensor(np.log([0.1, 0.2, 0.7]), dtype=ttorch.float32, device=device)
    soft = F.gumbel_softmax(logits.expand(4000, 3), tau=0.5)
    np.testing.assert_allclose(to_np(soft.sum(-1)), 1.0, rtol=1e-5)
    hard = F.gumbel_softmax(logits.expand(4000, 3), hard=True)
    h = to_np(hard)
    assert set(np.unique(h)) == {0.0, 1.0} and (h.sum(-1) == 1).all()
    np.testing.assert_allclose(h.mean(0), [0.1, 0.2, 0.7], atol=0.03)        # the Gumbel-max draws' frequencies
    x = ttorch.randn(3, 5, device=device, requires_grad=True)
    w = ttorch.randn(3, 5, device=device)
    ttorch.manual_seed(9)
    (F.gumbel_softmax(x, tau=0.7, hard=True) * w).sum().backward()
    g_hard = to_np(x.grad)
    x.grad = None
    ttorch.manual_seed(9)
    (F.gumbel_softmax(x, tau=0.7) * w).sum().backward()
    np.testing.assert_allclose(g_hard, to_np(x.grad), rtol=1e-5, atol=1e-6)  # straight-through: the soft gradient


@pytest.mark.parametrize("device", DEVICES)
def test_channel_shuffle_and_fold_modules(device):
    x = R.uniform(-1, 1, (2, 6, 3, 2))
    got = nn.ChannelShuffle(3)(ttorch.tensor(x, device=device))
    np.testing.assert_array_equal(to_np(got), x.reshape(2, 3, 2, 3, 2).transpose(0, 2, 1, 3, 4).reshape(2, 6, 3, 2))
    assert repr(nn.ChannelShuffle(3)) == "ChannelShuffle(groups=3)"
    with pytest.raises(RuntimeError, match="Number of channels must be divisible by groups"):
        F.channel_shuffle(ttorch.zeros(1, 5, 2, device=device), 2)
    img = ttorch.tensor(R.uniform(-1, 1, (2, 3, 4, 5)), device=device)
    unfold, fold = nn.Unfold((2, 3), padding=1), nn.Fold((4, 5), (2, 3), padding=1)
    cols = unfold(img)
    np.testing.assert_array_equal(to_np(cols), to_np(F.unfold(img, (2, 3), padding=1)))
    ones = fold(unfold(ttorch.ones(2, 3, 4, 5, device=device)))       # each pixel's count of covering blocks
    np.testing.assert_allclose(to_np(fold(cols)), to_np(img) * to_np(ones), rtol=1e-6)
    assert repr(fold) == "Fold(output_size=(4, 5), kernel_size=(2, 3), dilation=1, padding=1, stride=1)"
