"""Resampling: pixel_shuffle / pixel_unshuffle and interpolate, in ttorch ops (both devices, differentiable).

Every interpolation mode is separable, so ``interpolate`` resamples one spatial dim at a time:
nearest modes with ``index_select`` (exact, and its backward sums into the source pixel), linear
and cubic modes with a NumPy-built (out, in) weight matrix applied by matmul, ``area`` as adaptive
average pooling. The source-index formulas are PyTorch's (``area_pixel_compute_source_index``).
"""
import functools
import math

import numpy as np

import ttorch
from .conv import _map_tensor, _size_str
from .pooling import _adaptive_avg

__all__ = ["grid_sample", "affine_grid", "channel_shuffle", "pixel_shuffle", "pixel_unshuffle", "interpolate",
           "upsample", "upsample_nearest", "upsample_bilinear"]


def pixel_shuffle(input, upscale_factor):
    """Rearranges (*, C * r^2, H, W) into (*, C, H * r, W * r).

    Example::
        >>> import ttorch, ttorch.nn.functional as F
        >>> F.pixel_shuffle(ttorch.randn(1, 8, 3, 3), 2).shape
        ttorch.Size([1, 2, 6, 6])
    """
    r = int(upscale_factor)
    if input.dim() < 3:
        raise RuntimeError("pixel_shuffle expects its input to have at least 3 dimensions, but got input with "
                           f"{input.dim()} dimension(s)")
    if r <= 0:
        raise RuntimeError(f"pixel_shuffle expects a positive upscale_factor, but got {r}")
    c, h, w = input.shape[-3:]
    if c % (r * r) != 0:
        raise RuntimeError("pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of "
                           f"upscale_factor, but input.size(-3)={c} is not divisible by {r * r}")
    lead = tuple(input.shape[:-3])
    nl = len(lead)
    x = input.reshape(*lead, c // (r * r), r, r, h, w)
    x = x.permute(*range(nl), nl, nl + 3, nl + 1, nl + 4, nl + 2)  # (*, C, H, r, W, r)
    return x.reshape(*lead, c // (r * r), h * r, w * r)


def channel_shuffle(input, groups):
    """(N, g * c, *) with channels read as (g, c) rearranged into (c, g): the ShuffleNet shuffle."""
    g = int(groups)
    if input.dim() < 3:
        raise RuntimeError(f"channel_shuffle expects input to have at least 3 dimensions, but got input with "
                           f"{input.dim()} dimension(s)")
    if g <= 0:
        raise RuntimeError(f"Number of groups to divide channels in must be positive. Value of groups:{g}")
    c = input.shape[1]
    if c % g:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {c} channels and {g} groups.")
    n, rest = input.shape[0], tuple(input.shape[2:])
    return input.reshape(n, g, c // g, *rest).transpose(1, 2).reshape(n, c, *rest)


def pixel_unshuffle(input, downscale_factor):
    """Rearranges (*, C, H * r, W * r) into (*, C * r^2, H, W), the inverse of pixel_shuffle.

    Example::
        >>> import ttorch, ttorch.nn.functional as F
        >>> F.pixel_unshuffle(ttorch.randn(1, 2, 6, 6), 2).shape
        ttorch.Size([1, 8, 3, 3])
    """
    r = int(downscale_factor)
    if input.dim() < 3:
        raise RuntimeError("pixel_unshuffle expects input to have at least 3 dimensions, but got input with "
                           f"{input.dim()} dimension(s)")
    if r <= 0:
        raise RuntimeError(f"pixel_unshuffle expects a positive downscale_factor, but got {r}")
    c, h, w = input.shape[-3:]
    if h % r != 0:
        raise RuntimeError("pixel_unshuffle expects height to be divisible by downscale_factor, but input.size(-2)="
                           f"{h} is not divisible by {r}")
    if w % r != 0:
        raise RuntimeError("pixel_unshuffle expects width to be divisible by downscale_factor, but input.size(-1)="
                           f"{w} is not divisible by {r}")
    lead = tuple(input.shape[:-3])
    nl = len(lead)
    x = input.reshape(*lead, c, h // r, r, w // r, r)
    x = x.permute(*range(nl), nl, nl + 2, nl + 4, nl + 1, nl + 3)  # (*, C, r, r, H, W)
    return x.reshape(*lead, c * r * r, h // r, w // r)


# ---------------------------------------------------------------- interpolate

def _source_scale(in_size, out_size, align_corners, scale):
    if align_corners:
        return (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
    return 1.0 / scale if scale is not None and scale > 0 else in_size / out_size


@functools.lru_cache(maxsize=256)
def _nearest_index(in_size, out_size, scale, exact):
    s = _source_scale(in_size, out_size, False, scale)
    dst = np.arange(out_size, dtype=np.float64)
    # PyTorch computes the source index in float32
    src = np.floor((np.float32(dst + 0.5) * np.float32(s)) if exact else np.float32(dst) * np.float32(s))
    return np.minimum(src.astype(np.int64), in_size - 1)


def _cubic_weights(t, a=-0.75):
    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return far(t + 1), near(t), near(1 - t), far(2 - t)


@functools.lru_cache(maxsize=256)
def _interp_matrix(in_size, out_size, align_corners, scale, cubic):
    s = _source_scale(in_size, out_size, align_corners, scale)
    dst = np.arange(out_size, dtype=np.float64)
    src = dst * s if align_corners else s * (dst + 0.5) - 0.5
    a = np.zeros((out_size, in_size))
    rows = np.arange(out_size)
    if cubic:
        base = np.floor(src).astype(np.int64)
        t = src - base
        for off, wt in zip((-1, 0, 1, 2), _cubic_weights(t)):
            np.add.at(a, (rows, np.clip(base + off, 0, in_size - 1)), wt)
        return a
    if not align_corners:
        src = np.maximum(src, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    i1 = np.minimum(i0 + 1, in_size - 1)
    lam = src - i0
    np.add.at(a, (rows, i0), 1.0 - lam)
    np.add.at(a, (rows, i1), lam)
    return a


_MODES = {"nearest": None, "nearest-exact": None, "linear": 1, "bilinear": 2, "trilinear": 3, "bicubic": 2,
          "area": None}


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resamples (N, C, *spatial) to ``size`` or by ``scale_factor``.

    Args:
        mode (str): ``'nearest'``, ``'nearest-exact'``, ``'linear'`` (3D), ``'bilinear'``, ``'bicubic'``
            (4D), ``'trilinear'`` (5D) or ``'area'``.
        align_corners (bool): for linear and cubic modes, map corner pixel centres onto each other.

    Example::
        >>> import ttorch, ttorch.nn.functional as F
        >>> F.interpolate(ttorch.randn(1, 2, 3, 4), scale_factor=2, mode='bilinear').shape
        ttorch.Size([1, 2, 6, 8])
    """
    if mode not in _MODES:
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.dim()}D) "
                                  "for the modes: nearest | linear | bilinear | bicubic | trilinear | area | "
                                  f"nearest-exact (got {mode})")
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating modes: "
                             "linear | bilinear | bicubic | trilinear")
    elif align_corners is None:
        align_corners = False
    if antialias:
        raise NotImplementedError("Anti-alias option is not supported yet in ttorch")
    nd = input.dim() - 2
    if nd < 1 or nd > 3:
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.dim()}D) "
                                  "for the modes: nearest | linear | bilinear | bicubic | trilinear | area | "
                                  f"nearest-exact (got {mode})")
    need = _MODES[mode]
    if need is not None and need != nd:
        raise NotImplementedError(f"Got {input.dim()}D input, but {mode} mode needs {need + 2}D input")
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    spatial = tuple(input.shape[2:])
    if size is not None:
        if isinstance(size, (list, tuple)):
            if len(size) != nd:
                raise ValueError(f"Input and output must have the same number of spatial dimensions, but got input "
                                 f"with spatial dimensions of {list(spatial)} and output size of {list(size)}. "
                                 "Please provide input tensor in (N, C, d1, d2, ...,dK) format and output size in "
                                 "(o1, o2, ...,oK) format.")
            out = tuple(int(v) for v in size)
        else:
            out = (int(size),) * nd
        scales = (None,) * nd
    elif scale_factor is not None:
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != nd:
                raise ValueError(f"Input and scale_factor must have the same number of spatial dimensions, but got "
                                 f"input with spatial dimensions of {list(spatial)} and scale_factor of shape "
                                 f"{list(scale_factor)}. Please provide input tensor in (N, C, d1, d2, ...,dK) "
                                 "format and scale_factor in (s1, s2, ...,sK) format.")
            scales = tuple(float(v) for v in scale_factor)
        else:
            scales = (float(scale_factor),) * nd
        out = tuple(int(math.floor(sz * sc)) for sz, sc in zip(spatial, scales))
        if recompute_scale_factor:
            scales = (None,) * nd
    else:
        raise ValueError("either size or scale_factor should be defined")
    if any(o <= 0 for o in out):
        raise RuntimeError(f"Input and output sizes should be greater than 0, but got input "
                           f"({', '.join(map(str, spatial))}) output ({', '.join(map(str, out))})")
    if mode == "area":
        return _adaptive_avg("adaptive_avg_pool", nd, input, out)
    y = input
    for j in range(nd):
        dim = 2 + j
        if mode in ("nearest", "nearest-exact"):
            if out[j] == spatial[j] and scales[j] in (None, 1.0):
                continue
            idx = _nearest_index(spatial[j], out[j], scales[j], mode == "nearest-exact")
            y = y.index_select(dim, _map_tensor(idx, y.device))
        else:
            a = _interp_matrix(spatial[j], out[j], bool(align_corners), scales[j], mode == "bicubic")
            a = ttorch.tensor(a, dtype=y.dtype, device=y.device)
            y = ttorch.matmul(y.movedim(dim, -1), a.t()).movedim(-1, dim)
    return y


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated alias of :func:`interpolate`."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """Deprecated: ``interpolate(..., mode='nearest')``."""
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """Deprecated: ``interpolate(..., mode='bilinear', align_corners=True)``."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# ------------------------------------------------------------------------------ sampling grids
_ALIGN_WARNING = ("Default grid_sample and affine_grid behavior has changed to align_corners=False since 1.3.0. "
                  "Please specify align_corners=True if the old behavior is desired. See the documentation of "
                  "grid_sample for details.")


def _reflect(coord, twice_low, twice_high):
    """PyTorch's reflect_coordinates: ``coord`` folded into [twice_low / 2, twice_high / 2]."""
    if twice_low == twice_high:
        return coord * 0
    low, span = twice_low / 2, (twice_high - twice_low) / 2
    c = coord - low
    c = c * ttorch.where(c < 0, -1.0, 1.0).to(c.dtype)     # (not abs: PyTorch's gradient is +1 at the fold)
    flips = (c / span).floor()
    extra = c - flips * span
    return ttorch.where(flips.remainder(2) == 0, extra + low, span - extra + low)


def _clip(c, size):
    """``c`` clamped to [0, size - 1], its gradient passed strictly inside only (PyTorch's
    clip_coordinates_set_grad: 0 at the edges too)."""
    return ttorch.where((c > 0) & (c < size - 1), c, c.detach().clamp(0, size - 1))


def _source(coord, size, padding_mode, align_corners):
    """A grid coordinate in [-1, 1] as a pixel coordinate of a dim of ``size``, padded."""
    c = (coord + 1) / 2 * (size - 1) if align_corners else ((coord + 1) * size - 1) / 2
    if padding_mode == "border":
        c = _clip(c, size)
    elif padding_mode == "reflection":
        c = _reflect(c, 0, 2 * (size - 1)) if align_corners else _reflect(c, -1, 2 * size - 1)
        c = _clip(c, size)
    return c


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """Samples ``input`` (N, C, H, W) at ``grid`` (N, Ho, Wo, 2) of (x, y) locations in [-1, 1]:
    (N, C, Ho, Wo), bilinear or nearest, outside points 0 (``zeros``), clamped (``border``) or
    mirrored (``reflection``). Gradients reach ``input`` and ``grid``. Where it differs from PyTorch:
    4-D inputs only, and no ``bicubic`` mode (NotImplementedError).

    Example::
        >>> import ttorch, ttorch.nn.functional as F
        >>> x = ttorch.arange(4.).reshape(1, 1, 2, 2)
        >>> F.grid_sample(x, ttorch.zeros(1, 1, 1, 2), align_corners=False).item()
        1.5
    """
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or 'bicubic', but "
                         f"got: '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or "
                         f"'reflection', but got: '{padding_mode}'")
    if align_corners is None:
        import warnings
        warnings.warn(_ALIGN_WARNING, UserWarning, stacklevel=2)
        align_corners = False
    if input.dim() != 4:
        raise NotImplementedError(f"grid_sample: ttorch samples 4-D inputs only, got {input.dim()}-D")
    if mode == "bicubic":
        raise NotImplementedError("grid_sample: mode='bicubic' is not supported by ttorch")
    if grid.dim() != 4 or grid.shape[-1] != 2:
        raise RuntimeError(f"grid_sampler(): expected grid to have size 2 in last dimension, but got grid with sizes "
                           f"{list(grid.shape)}")
    if grid.shape[0] != input.shape[0]:
        raise RuntimeError(f"grid_sampler(): expected grid and input to have same batch size, but got input with sizes "
                           f"{list(input.shape)} and grid with sizes {list(grid.shape)}")
    if grid.dtype is not input.dtype:
        raise RuntimeError(f"grid_sampler(): expected input and grid to have same dtype, but input has "
                           f"{input.dtype} and grid has {grid.dtype}")
    n, c, h, w = input.shape
    ho, wo = grid.shape[1], grid.shape[2]
    x = _source(grid[..., 0], w, padding_mode, align_corners)          # (N, Ho, Wo)
    y = _source(grid[..., 1], h, padding_mode, align_corners)
    flat = input.reshape(n, c, h * w)

    def tap(xi, yi):
        """input at integer pixel (xi, yi) (float tensors), 0 outside: (N, C, Ho, Wo)."""
        inside = (xi >= 0) & (xi <= w - 1) & (yi >= 0) & (yi <= h - 1)
        idx = (yi.clamp(0, h - 1) * w + xi.clamp(0, w - 1)).to(ttorch.int64).reshape(n, 1, ho * wo)
        v = flat.gather(2, idx.expand(n, c, ho * wo)).reshape(n, c, ho, wo)
        return v * inside.unsqueeze(1).to(v.dtype)

    if mode == "nearest":
        return tap(x.detach().round(), y.detach().round())
    x0, y0 = x.detach().floor(), y.detach().floor()
    wx1, wy1 = (x - x0).unsqueeze(1), (y - y0).unsqueeze(1)          # the far corners' weights
    wx0, wy0 = 1 - wx1, 1 - wy1
    return (tap(x0, y0) * wx0 * wy0 + tap(x0 + 1, y0) * wx1 * wy0 + tap(x0, y0 + 1) * wx0 * wy1
            + tap(x0 + 1, y0 + 1) * wx1 * wy1)


def affine_grid(theta, size, align_corners=None):
    """The (N, H, W, 2) sampling grid of the affine maps ``theta`` (N, 2, 3) over an output of
    ``size`` (N, C, H, W): each output pixel's normalized (x, y, 1) times ``theta``^T. Where it
    differs from PyTorch: 2-D grids only (NotImplementedError for a 5-D ``size``)."""
    if align_corners is None:
        import warnings
        warnings.warn(_ALIGN_WARNING, UserWarning, stacklevel=2)
        align_corners = False
    if not theta.dtype.is_floating_point:
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    size = list(size)
    if len(size) == 5:
        raise NotImplementedError("affine_grid: ttorch builds 2-D grids only (size of length 4)")
    if len(size) != 4:
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, "
                                  f"respectively. Got size {size}.")
    if theta.dim() != 3 or tuple(theta.shape[1:]) != (2, 3):
        raise ValueError(f"Expected a batch of 2D affine matrices of shape Nx2x3 for size {size}. Got "
                         f"{list(theta.shape)}.")
    n, _, h, w = size

    def line(k):
        if k <= 1:
            return ttorch.zeros(k, dtype=theta.dtype, device=theta.device)
        r = ttorch.linspace(-1, 1, k, dtype=theta.dtype, device=theta.device)
        return r if align_corners else r * (k - 1) / k
    gx = line(w).reshape(1, w).expand(h, w)
    gy = line(h).reshape(h, 1).expand(h, w)
    base = ttorch.stack([gx, gy, ttorch.ones(h, w, dtype=theta.dtype, device=theta.device)], -1)   # (H, W, 3)
    return (base.reshape(1, h * w, 3) @ theta.transpose(1, 2)).reshape(n, h, w, 2)
