"""Resampling: pixel_shuffle / pixel_unshuffle and interpolate, in ttorch ops (both devices, differentiable).

Every interpolation mode is separable, so ``interpolate`` resamples one spatial dim at a time:
nearest modes with ``index_select`` (exact, and its backward sums into the source pixel), linear
and cubic modes with a NumPy-built (out, in) weight matrix applied by matmul, ``area`` as adaptive
average pooling. The source-index formulas are PyTorch's (``area_pixel_compute_source_index``).
"""
import functools
import itertools
import math
import operator

import numpy as np

import ttorch
from ttorch import _dtype as D
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


def _unnormalize(coord, size, align_corners):
    """A grid coordinate in [-1, 1] as a pixel coordinate of a dim of ``size``."""
    return (coord + 1) / 2 * (size - 1) if align_corners else ((coord + 1) * size - 1) / 2


def _pad(c, size, padding_mode, align_corners):
    """Pixel coordinate ``c`` moved inside [0, size - 1] by ``border`` or ``reflection``; ``zeros`` keeps it."""
    if padding_mode == "border":
        c = _clip(c, size)
    elif padding_mode == "reflection":
        c = _reflect(c, 0, 2 * (size - 1)) if align_corners else _reflect(c, -1, 2 * size - 1)
        c = _clip(c, size)
    return c


def _source(coord, size, padding_mode, align_corners):
    """A grid coordinate in [-1, 1] as a padded pixel coordinate of a dim of ``size``."""
    return _pad(_unnormalize(coord, size, align_corners), size, padding_mode, align_corners)


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """Samples ``input`` at the normalized locations in ``grid`` (in [-1, 1]).

    Args:
        mode (str): ``'bilinear'`` (trilinear for 5-D input), ``'nearest'`` or ``'bicubic'`` (4-D only).
        padding_mode (str): outside points are 0 (``'zeros'``), clamped (``'border'``) or mirrored
            (``'reflection'``).
        align_corners (bool): -1 and 1 are the corner pixels' centres (True) or outer edges (False).

    Shape:
        input (N, C, H, W) with grid (N, Ho, Wo, 2) of (x, y): output (N, C, Ho, Wo);
        input (N, C, D, H, W) with grid (N, Do, Ho, Wo, 3) of (x, y, z): output (N, C, Do, Ho, Wo).
        Gradients reach ``input`` and ``grid``.

    Example::
        >>> import ttorch, ttorch.nn.functional as F
        >>> x = ttorch.arange(4.).reshape(1, 1, 2, 2)
        >>> g = ttorch.tensor([[[[0.0, 0.0], [0.3, -0.2]]]])
        >>> F.grid_sample(x, g, mode="bicubic", padding_mode="border", align_corners=True).flatten().round(decimals=4)
        tensor([1.5000, 1.4431])
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
    # PyTorch's checks, in its order (check_grid_sampler_common, then _2d / _3d)
    if grid.shape[0] != input.shape[0]:
        raise RuntimeError(f"grid_sampler(): expected grid and input to have same batch size, but got input with sizes "
                           f"{list(input.shape)} and grid with sizes {list(grid.shape)}")
    nd = input.dim() - 2
    if grid.shape[-1] != nd:
        raise RuntimeError(f"grid_sampler(): expected grid to have size {nd} in last dimension, but got grid with "
                           f"sizes {list(grid.shape)}")
    for i in range(2, input.dim()):
        if input.shape[i] == 0:
            raise RuntimeError(f"grid_sampler(): expected input to have non-empty spatial dimensions, but input has "
                               f"sizes {list(input.shape)} with dimension {i} being empty")
    k = 4 if input.dim() == 4 else 5
    if input.dim() != k or grid.dim() != k:
        raise RuntimeError(f"grid_sampler(): expected {k}D input and grid with same number of dimensions, but got "
                           f"input with sizes {list(input.shape)} and grid with sizes {list(grid.shape)}")
    if mode == "bicubic" and nd == 3:
        raise RuntimeError("grid_sampler(): bicubic interpolation only supports 4D input")
    if grid.dtype is not input.dtype:
        raise RuntimeError(f"grid_sampler(): expected input and grid to have same dtype, but input has "
                           f"{input.dtype} and grid has {grid.dtype}")
    if not input.dtype.is_floating_point:
        name = f"grid_sampler_{nd}d_cuda"
        if input.device.type == "cpu":
            name = "grid_sampler_2d_cpu_kernel_impl" if nd == 2 else "grid_sampler3d_cpu"
        raise NotImplementedError(f"\"{name}\" not implemented for '{D.scalar_name(input.dtype)}'")
    n, c, sizes = input.shape[0], input.shape[1], tuple(input.shape[2:])          # sizes: (H, W) or (D, H, W)
    out = tuple(grid.shape[1:-1])
    m = math.prod(out)
    coords = [grid[..., nd - 1 - d] for d in range(nd)]       # grid holds (x, y[, z]): the spatial dims reversed
    flat = input.reshape(n, c, math.prod(sizes))

    def tap(idx):
        """input at the integer pixels ``idx`` (one float tensor (N, *out) per spatial dim), 0 outside: (N, C, *out)."""
        inside, lin = None, 0
        for i, size in zip(idx, sizes):
            ok = (i >= 0) & (i <= size - 1)
            inside = ok if inside is None else inside & ok
            lin = lin * size + i.clamp(0, size - 1).to(ttorch.int64)     # (integer: a half grid can't count far)
        lin = lin.reshape(n, 1, m)
        v = flat.gather(2, lin.expand(n, c, m)).reshape(n, c, *out)
        return v * inside.unsqueeze(1).to(v.dtype)

    if mode == "nearest":                                  # rounds half to even, as PyTorch's nearbyint
        return tap([_source(g, s, padding_mode, align_corners).detach().round() for g, s in zip(coords, sizes)])
    if mode == "bilinear":
        src, offsets = [_source(g, s, padding_mode, align_corners) for g, s in zip(coords, sizes)], (0, 1)
    else:
        src, offsets = [_unnormalize(g, s, align_corners) for g, s in zip(coords, sizes)], (-1, 0, 1, 2)
    lo = [p.detach().floor() for p in src]
    frac = [(p - q).unsqueeze(1) for p, q in zip(src, lo)]                  # (N, 1, *out): the grid's gradient
    weights = [(1 - f, f) if mode == "bilinear" else _cubic_weights(f) for f in frac]
    total = 0
    for corner in itertools.product(range(len(offsets)), repeat=nd):
        idx = [q + offsets[j] for q, j in zip(lo, corner)]
        if mode == "bicubic":
            # PyTorch pads each of the 16 taps' pixels (get_value_bounded), not the source point, so
            # the padding passes no gradient to the grid
            idx = [_pad(i, s, padding_mode, align_corners) for i, s in zip(idx, sizes)]
        total = total + functools.reduce(operator.mul, [w[j] for w, j in zip(weights, corner)], tap(idx))
    return total


def affine_grid(theta, size, align_corners=None):
    """The sampling grid of the affine maps ``theta`` over an output of ``size``: each output
    pixel's normalized (x, y[, z], 1) times ``theta``^T, for ``grid_sample``.

    Shape:
        theta (N, 2, 3) with size (N, C, H, W): grid (N, H, W, 2);
        theta (N, 3, 4) with size (N, C, D, H, W): grid (N, D, H, W, 3).

    Example::
        >>> import ttorch, ttorch.nn.functional as F
        >>> F.affine_grid(ttorch.eye(3, 4).unsqueeze(0), (1, 1, 2, 3, 4), align_corners=False).shape
        ttorch.Size([1, 2, 3, 4, 3])
    """
    if align_corners is None:
        import warnings
        warnings.warn(_ALIGN_WARNING, UserWarning, stacklevel=2)
        align_corners = False
    if not theta.dtype.is_floating_point:
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    if len(size) not in (4, 5):
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, "
                                  f"respectively. Got size {size}.")
    nd = len(size) - 2
    if theta.dim() != 3 or tuple(theta.shape[1:]) != (nd, nd + 1):
        raise ValueError(f"Expected a batch of {nd}D affine matrices of shape Nx{nd}x{nd + 1} for size {size}. Got "
                         f"{theta.shape}.")
    n, sp = size[0], tuple(size[2:])                      # sp: (H, W) or (D, H, W)
    if align_corners and min(sp) == 1:
        import warnings
        warnings.warn("Since version 1.3.0, affine_grid behavior has changed for unit-size grids when "
                      "align_corners=True. This is not an intended use case of affine_grid. See the documentation "
                      "of affine_grid for details.", UserWarning, stacklevel=2)
    elif min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {size}")

    def line(d, k):
        """dim ``d``'s normalized coordinates, shaped to broadcast over ``sp``."""
        if k <= 1:
            r = ttorch.zeros(k, dtype=theta.dtype, device=theta.device)
        else:
            r = ttorch.linspace(-1, 1, k, dtype=theta.dtype, device=theta.device)
            r = r if align_corners else r * (k - 1) / k
        return r.reshape(*[k if j == d else 1 for j in range(nd)]).expand(*sp)
    axes = [line(d, k) for d, k in enumerate(sp)][::-1]      # x runs along the last dim
    base = ttorch.stack(axes + [ttorch.ones(*sp, dtype=theta.dtype, device=theta.device)], -1)   # (*sp, nd + 1)
    return (base.reshape(1, math.prod(sp), nd + 1) @ theta.transpose(1, 2)).reshape(n, *sp, nd)
