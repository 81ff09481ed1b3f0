"""F.grid_sample on 5-D inputs (trilinear, nearest) and with mode='bicubic', every padding mode,
align_corners both ways, points outside [-1, 1]: values against a direct float64 NumPy sampler
(checked by hand against PyTorch 2.13), gradients by gradcheck, 5-D affine_grid, PyTorch's messages."""
import itertools
import math

import numpy as np
import pytest

import ttorch
import ttorch.nn.functional as F
from ttorch.autograd import gradcheck

from _helpers import close

R = np.random.default_rng(7)
PADDINGS = ("zeros", "border", "reflection")


def _reflect(c, twice_low, twice_high):
    if twice_low == twice_high:
        return 0.0
    low, span = twice_low / 2, (twice_high - twice_low) / 2
    c = abs(c - low)
    flips = math.floor(c / span)
    extra = math.fmod(c, span)
    return extra + low if flips % 2 == 0 else span - extra + low


def _pad(c, size, padding_mode, align_corners):
    if padding_mode == "reflection":
        c = _reflect(c, 0, 2 * (size - 1)) if align_corners else _reflect(c, -1, 2 * size - 1)
    return min(max(c, 0.0), size - 1.0) if padding_mode != "zeros" else c


def _cubic(t, a=-0.75):
    def k(x):
        x = abs(x)
        return ((a + 2) * x - (a + 3)) * x * x + 1 if x <= 1 else ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return [k(t + 1), k(t), k(1 - t), k(2 - t)]


def np_grid_sample(x, grid, mode, padding_mode, align_corners):
    """Each output point on its own: per spatial dim a list of (pixel, weight) taps, their products
    summed over pixels in bounds. bicubic pads each tap's pixel, the other modes the source point."""
    n, c, sizes = x.shape[0], x.shape[1], x.shape[2:]
    out = np.zeros((n, c) + grid.shape[1:-1])
    for b in range(n):
        for o in np.ndindex(*grid.shape[1:-1]):
            taps = []
            for g, size in zip(grid[(b,) + o][::-1], sizes):             # grid holds (x, y[, z])
                u = (g + 1) / 2 * (size - 1) if align_corners else ((g + 1) * size - 1) / 2
                if mode == "bicubic":
                    f = math.floor(u)
                    taps.append([(_pad(f + k - 1, size, padding_mode, align_corners), w)
                                 for k, w in enumerate(_cubic(u - f))])
                    continue
                p = _pad(u, size, padding_mode, align_corners)
                f = math.floor(p)
                taps.append([(round(p), 1.0)] if mode == "nearest" else [(f, 1 - (p - f)), (f + 1, p - f)])
            for combo in itertools.product(*taps):
                idx = tuple(int(i) for i, _ in combo)
                if all(0 <= i < s for i, s in zip(idx, sizes)):
                    out[(b, slice(None)) + o] += math.prod(w for _, w in combo) * x[(b, slice(None)) + idx]
    return out


CASES = [(nd, mode, pad, ac) for nd in (2, 3) for mode in ("bilinear", "nearest", "bicubic")
         for pad in PADDINGS for ac in (False, True) if not (nd == 3 and mode == "bicubic")]


def _inputs(nd, n=2, c=2, lim=2.2):
    sizes = (4, 5) if nd == 2 else (2, 3, 4)
    out = (2, 3) if nd == 2 else (2, 1, 3)
    x = R.uniform(-1, 1, (n, c) + sizes)
    g = R.uniform(-lim, lim, (n,) + out + (nd,))          # past the edges: several reflections
    return x, g


@pytest.mark.parametrize("nd,mode,padding_mode,align_corners", CASES)
def test_values_against_numpy(device, nd, mode, padding_mode, align_corners):
    x, g = _inputs(nd)
    want = np_grid_sample(x, g, mode, padding_mode, align_corners)
    for dtype in (ttorch.float64, ttorch.float32)[:2 if device == "cpu" else 1]:     # the interpreter is slow
        got = F.grid_sample(ttorch.tensor(x, dtype=dtype, device=device), ttorch.tensor(g, dtype=dtype, device=device),
                            mode=mode, padding_mode=padding_mode, align_corners=align_corners)
        assert got.dtype is dtype and got.device.type == device
        if dtype is ttorch.float64:
            close(got, want, dtype, msg=f"{mode} {padding_mode} {align_corners}")
        elif mode != "nearest":                          # float32 may round a point to the other pixel
            close(got, want, dtype, n=16)


def test_known_values_and_single_pixel_dims():
    # the centre of a 2x2 image is the mean in every mode but nearest; a size-1 dim samples its one pixel
    x = ttorch.arange(4.0, dtype=ttorch.float64).reshape(1, 1, 2, 2)
    for mode in ("bilinear", "bicubic"):
        assert F.grid_sample(x, ttorch.zeros(1, 1, 1, 2, dtype=ttorch.float64), mode=mode, padding_mode="border",
                             align_corners=True).item() == pytest.approx(1.5)
    x5 = ttorch.tensor(R.uniform(-1, 1, (1, 2, 1, 3, 1)))
    g5 = ttorch.tensor(R.uniform(-1.5, 1.5, (1, 2, 2, 2, 3)))
    for pad, ac in itertools.product(PADDINGS, (False, True)):
        got = F.grid_sample(x5, g5, padding_mode=pad, align_corners=ac)
        close(got, np_grid_sample(x5.numpy(), g5.numpy(), "bilinear", pad, ac), ttorch.float64)


@pytest.mark.parametrize("nd,mode", [(2, "bilinear"), (2, "nearest"), (2, "bicubic"), (3, "bilinear"), (3, "nearest")])
def test_gradients(nd, mode):
    xa, ga = _inputs(nd, n=1, c=1, lim=1.6)
    for pad, ac in itertools.product(PADDINGS, (False, True)):
        x = ttorch.tensor(xa, requires_grad=True)
        g = ttorch.tensor(ga, requires_grad=mode != "nearest")     # nearest is piecewise constant in the grid
        assert gradcheck(lambda a, b: F.grid_sample(a, b, mode=mode, padding_mode=pad, align_corners=ac), (x, g))


def test_affine_grid_5d():
    theta = R.uniform(-1, 1, (2, 3, 4))
    for ac in (False, True):
        grid = F.affine_grid(ttorch.tensor(theta), (2, 1, 2, 3, 4), align_corners=ac)
        assert grid.shape == (2, 2, 3, 4, 3)
        line = [np.linspace(-1, 1, k) * (1 if ac else (k - 1) / k) for k in (2, 3, 4)]
        z, y, x = np.meshgrid(*line, indexing="ij")
        base = np.stack([x, y, z, np.ones_like(x)], -1)                    # (D, H, W, 4)
        close(grid, np.einsum("dhwk,nck->ndhwc", base, theta), ttorch.float64)
    img = ttorch.tensor(R.uniform(-1, 1, (1, 2, 2, 3, 4)))
    eye = ttorch.eye(3, 4, dtype=ttorch.float64).unsqueeze(0)
    for ac in (False, True):                             # the identity map samples every voxel in place
        close(F.grid_sample(img, F.affine_grid(eye, (1, 2, 2, 3, 4), align_corners=ac), align_corners=ac), img,
              ttorch.float64)
    t = ttorch.tensor(theta, requires_grad=True)
    assert gradcheck(lambda a: F.affine_grid(a, (2, 1, 2, 1, 3), align_corners=False), (t,))


def test_messages():
    x4, x5 = ttorch.zeros(1, 1, 2, 2), ttorch.zeros(1, 1, 2, 2, 2)
    with pytest.raises(RuntimeError, match=r"^grid_sampler\(\): bicubic interpolation only supports 4D input$"):
        F.grid_sample(x5, ttorch.zeros(1, 1, 1, 1, 3), mode="bicubic", align_corners=False)
    with pytest.raises(RuntimeError, match=r"expected grid to have size 3 in last dimension, but got grid with "
                                           r"sizes \[1, 1, 1, 1, 2\]"):
        F.grid_sample(x5, ttorch.zeros(1, 1, 1, 1, 2), align_corners=False)
    with pytest.raises(RuntimeError, match=r"expected 5D input and grid with same number of dimensions, but got "
                                           r"input with sizes \[1, 1, 2, 2, 2\] and grid with sizes \[1, 1, 1, 3\]"):
        F.grid_sample(x5, ttorch.zeros(1, 1, 1, 3), align_corners=False)
    with pytest.raises(RuntimeError, match=r"expected 4D input and grid with same number of dimensions"):
        F.grid_sample(x4, ttorch.zeros(1, 1, 1, 1, 2), align_corners=False)
    with pytest.raises(RuntimeError, match=r"expected grid and input to have same batch size"):
        F.grid_sample(ttorch.zeros(2, 1, 2, 2, 2), ttorch.zeros(1, 1, 1, 1, 3), align_corners=False)
    with pytest.raises(RuntimeError, match=r"non-empty spatial dimensions, but input has sizes \[1, 1, 0, 2, 2\] "
                                           r"with dimension 2 being empty"):
        F.grid_sample(ttorch.zeros(1, 1, 0, 2, 2), ttorch.zeros(1, 1, 1, 1, 3), align_corners=False)
    with pytest.raises(NotImplementedError, match="\"grid_sampler3d_cpu\" not implemented for 'Long'"):
        F.grid_sample(x5.long(), ttorch.zeros(1, 1, 1, 1, 3).long(), align_corners=False)
    with pytest.raises(ValueError, match=r"Expected a batch of 3D affine matrices of shape Nx3x4 for size"):
        F.affine_grid(ttorch.zeros(1, 2, 3), (1, 1, 2, 2, 2), align_corners=False)
    with pytest.raises(ValueError, match=r"Expected non-zero, positive output size. Got \(1, 1, 0, 2, 2\)"):
        F.affine_grid(ttorch.zeros(1, 3, 4), (1, 1, 0, 2, 2), align_corners=False)
    with pytest.warns(UserWarning, match="unit-size grids when align_corners=True"):
        F.affine_grid(ttorch.zeros(1, 3, 4), (1, 1, 1, 2, 2), align_corners=True)
    with pytest.raises(NotImplementedError, match="affine_grid only supports 4D and 5D sizes"):
        F.affine_grid(ttorch.zeros(1, 3, 4), (1, 1, 2, 2, 2, 2), align_corners=False)
