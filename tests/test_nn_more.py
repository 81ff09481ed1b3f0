"""F.pdist, F.gumbel_softmax, F.channel_shuffle and the modules nn.Fold, nn.Unfold, nn.ChannelShuffle:
values against NumPy, gradients by gradcheck, the sampler's distribution and straight-through."""
import math

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


def _np_grid_sample(x, grid, mode, align_corners):
    """A direct NumPy sampler, zeros padding: bilinear from the four neighbours, nearest by rounding
    half to even."""
    n, c, h, w = x.shape
    out = np.zeros((n, c) + grid.shape[1:3])
    for b in range(n):
        for i in range(grid.shape[1]):
            for j in range(grid.shape[2]):
                gx, gy = grid[b, i, j]
                px = (gx + 1) / 2 * (w - 1) if align_corners else ((gx + 1) * w - 1) / 2
                py = (gy + 1) / 2 * (h - 1) if align_corners else ((gy + 1) * h - 1) / 2
                taps = [(np.round(px), np.round(py), 1.0)] if mode == "nearest" else [
                    (np.floor(px) + dx, np.floor(py) + dy,
                     (1 - abs(px - np.floor(px) - dx)) * (1 - abs(py - np.floor(py) - dy)))
                    for dx in (0, 1) for dy in (0, 1)]
                for tx, ty, wt in taps:
                    if 0 <= tx < w and 0 <= ty < h:
                        out[b, :, i, j] += wt * x[b, :, int(ty), int(tx)]
    return out


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mode,align_corners", [("bilinear", False), ("bilinear", True), ("nearest", False)])
def test_grid_sample_against_numpy(device, mode, align_corners):
    x, g = R.uniform(-1, 1, (2, 3, 4, 5)), R.uniform(-1.3, 1.3, (2, 3, 6, 2))
    got = F.grid_sample(ttorch.tensor(x, device=device), ttorch.tensor(g, device=device), mode=mode,
                        align_corners=align_corners)
    np.testing.assert_allclose(to_np(got), _np_grid_sample(x, g, mode, align_corners), rtol=1e-12, atol=1e-14)


def test_grid_sample_gradients_paddings_and_affine_grid():
    x = ttorch.tensor(R.uniform(-1, 1, (1, 2, 3, 4)), requires_grad=True)
    g = ttorch.tensor(R.uniform(-1.2, 1.2, (1, 2, 3, 2)), requires_grad=True)
    for pad in ("zeros", "border", "reflection"):
        assert gradcheck(lambda a, b: F.grid_sample(a, b, padding_mode=pad, align_corners=False), (x, g))
    # border clamps, reflection mirrors: a point past the right edge samples the edge, or inside
    row = ttorch.tensor([[[[0.0, 1.0, 2.0, 3.0]]]])
    far = ttorch.tensor([[[[1.5, 0.0]]]])                     # x = 1.5: pixel 3.75 of 0..3 (align_corners)
    assert F.grid_sample(row, far, padding_mode="border", align_corners=True).item() == 3.0
    assert F.grid_sample(row, far, padding_mode="reflection", align_corners=True).item() == pytest.approx(2.25)
    assert F.grid_sample(row, far, padding_mode="zeros", align_corners=True).item() == pytest.approx(0.75)
    theta = ttorch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    img = ttorch.tensor(R.uniform(-1, 1, (1, 2, 3, 4)), dtype=ttorch.float32)
    for ac in (False, True):                                  # the identity map samples every pixel in place
        same = F.grid_sample(img, F.affine_grid(theta, (1, 2, 3, 4), align_corners=ac), align_corners=ac)
        np.testing.assert_allclose(to_np(same), to_np(img), atol=1e-6)
    grid = F.affine_grid(ttorch.tensor([[[0.0, 1.0, 0.5], [-1.0, 0.0, 0.0]]]), (1, 1, 2, 3), align_corners=True)
    xs, ys = np.meshgrid(np.linspace(-1, 1, 3), np.linspace(-1, 1, 2))
    np.testing.assert_allclose(to_np(grid)[0], np.stack([ys + 0.5, -xs], -1), atol=1e-12)
    with pytest.warns(UserWarning, match="align_corners=False since 1.3.0"):
        F.grid_sample(img, ttorch.zeros(1, 1, 1, 2))
    with pytest.raises(ValueError, match="expected padding_mode to be 'zeros', 'border', or 'reflection'"):
        F.grid_sample(img, ttorch.zeros(1, 1, 1, 2), padding_mode="wrap", align_corners=False)
    with pytest.raises(RuntimeError, match="expected grid to have size 2 in last dimension"):
        F.grid_sample(img, ttorch.zeros(1, 1, 1, 3), align_corners=False)
    with pytest.raises(RuntimeError, match="bicubic interpolation only supports 4D input"):
        F.grid_sample(img[None], ttorch.zeros(1, 1, 1, 1, 3), mode="bicubic", align_corners=False)


@pytest.mark.parametrize("device", DEVICES)
def test_activations_at_the_edges_as_pytorch(device):
    # one kernel each now; values and gradients at the edges as PyTorch 2.13 gives them (cpu, float64)
    nan, inf = math.nan, math.inf
    x0 = [nan, inf, -inf, -0.0, 0.5, -0.5, 0.2, 3.0, -3.0]
    want = {"hardsigmoid": ([nan, 1, 0, 0.5, 7 / 12, 5 / 12, 3.2 / 6, 1, 0], [0, 0, 0] + [1 / 6] * 4 + [0, 0]),
            "softsign": ([nan, nan, nan, -0.0, 1 / 3, -1 / 3, 0.2 / 1.2, 0.75, -0.75],
                         [nan, nan, nan, 1, 4 / 9, 4 / 9, 1 / 1.44, 1 / 16, 1 / 16]),
            "softshrink": ([nan, inf, -inf, 0, 0, 0, 0, 2.5, -2.5], [0, 1, 1, 0, 0, 0, 0, 1, 1]),
            "hardshrink": ([nan, inf, -inf, 0, 0, 0, 0, 3, -3], [0, 1, 1, 0, 0, 0, 0, 1, 1])}
    for name, (y, g) in want.items():
        x = ttorch.tensor(x0, dtype=ttorch.float64, device=device, requires_grad=True)
        out = getattr(F, name)(x)
        (gx,) = ttorch.autograd.grad(out.sum(), x)
        np.testing.assert_allclose(to_np(out), y, rtol=1e-12, err_msg=name)
        np.testing.assert_allclose(to_np(gx), g, rtol=1e-12, err_msg=name)
        assert np.signbit(to_np(out)[3]) == (name == "softsign")          # -0.0 in, +0.0 out (softsign: -0.0)
    t = ttorch.tensor([0.2, -1.0, 0.75], device=device)
    assert t.hardshrink(0.5).tolist() == ttorch.hardshrink(t, 0.5).tolist() == [0.0, -1.0, 0.75]
    assert F.tanhshrink(ttorch.tensor([-0.0], device=device)).tolist() == [0.0]
    # the ELU family's gradient takes the exponential side where x <= 0: 1 (times scale) at NaN, as PyTorch's
    e, s, sa = math.exp(-1), 1.0507009873554805, 1.0507009873554805 * 1.6732632423543772
    x0 = [nan, inf, -inf, -0.0, 0.0, -1.0, 2.0]
    for f, y, g in ((lambda x: F.elu(x, 0.7), [nan, inf, -0.7, -0.0, 0.0, 0.7 * (e - 1), 2.0],
                     [1, 1, 0, 0.7, 0.7, 0.7 * e, 1]),
                    (F.selu, [nan, inf, -sa, -0.0, 0.0, sa * (e - 1), 2 * s], [s, s, 0, sa, sa, sa * e, s]),
                    (lambda x: F.celu(x, 0.5), [nan, inf, -0.5, -0.0, 0.0, 0.5 * (e * e - 1), 2.0],
                     [1, 1, 0, 1, 1, e * e, 1])):
        x = ttorch.tensor(x0, dtype=ttorch.float64, device=device, requires_grad=True)
        out = f(x)
        (gx,) = ttorch.autograd.grad(out.sum(), x)
        np.testing.assert_allclose(to_np(out), y, rtol=1e-12)
        np.testing.assert_allclose(to_np(gx), g, rtol=1e-12)
