"""Padding, sliding windows (unfold/fold) and convolutions.

Sliding-window layers (unfold, fold, pooling) share one mechanism: a NumPy-built integer map from
(kernel offset, output position) to a flat input position, with out-of-range positions pointed
at one extra "sentinel" element appended to the flattened input (zero for unfold, -inf for max
pooling). ``index_select`` with that map is im2col; ``index_add`` with it is col2im. Both are
ttorch ops, so the layers run on cpu and cuda and autograd differentiates them.

Convolutions check their arguments here (PyTorch's messages) and call the ops of
``ttorch/ops/conv.py``: implicit-GEMM Triton kernels on cuda, im2col + BLAS on cpu. conv1d is
conv2d with H = 1; conv_transpose is the input-gradient op; conv3d is one conv2d over depth slices
stacked as channels (``_conv3d_by_depth``), conv_transpose3d its adjoint. ``padding='same'`` with an even
effective kernel pads its odd leftover on the right first, then convolves symmetrically.
"""
import numpy as np

import ttorch
from ...ops import conv as _ops
from ...ops.conv import _window_map  # noqa: F401  (pooling and spatial use it through this module)
from ...ops import _op as _amp_op

__all__ = ["pad", "unfold", "fold", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d"]


def _ntuple(x, n, name="argument"):
    if isinstance(x, (list, tuple)):
        if len(x) == 1:
            return tuple(int(v) for v in x) * n
        if len(x) != n:
            raise RuntimeError(f"expected {name} to be a single integer value or a list of {n} values "
                               f"to match the convolution dimensions, but got {name}={list(x)}")
        return tuple(int(v) for v in x)
    return (int(x),) * n


def _size_str(shape):
    return "[" + ", ".join(str(s) for s in shape) + "]"


# ---------------------------------------------------------------- the window map (im2col indices)

def _map_tensor(arr, device):
    return ttorch.tensor(arr, dtype=ttorch.int64, device=device)


def _gather_windows(x, spatial, kernel, dilation, padding, stride, out_size, fill=0.0):
    """x: (N, C, *spatial) -> (N, C, prod(kernel), prod(out_size)); padding reads ``fill``."""
    n, c = x.shape[0], x.shape[1]
    hw = int(np.prod(spatial))
    m = _window_map(tuple(spatial), tuple(kernel), tuple(dilation), tuple(padding), tuple(stride),
                    tuple(out_size))
    flat = x.reshape(n, c, hw)
    sentinel = ttorch.full((n, c, 1), fill, dtype=x.dtype, device=x.device)
    flat = ttorch.cat([flat, sentinel], dim=2)  # (N, C, HW + 1)
    cols = flat.index_select(2, _map_tensor(m.reshape(-1), x.device))
    return cols.reshape(n, c, m.shape[0], m.shape[1])


def _scatter_windows(cols, spatial, kernel, dilation, padding, stride, out_size):
    """Adjoint of _gather_windows with fill 0: cols (N, C, prod(kernel), L) -> (N, C, *spatial)."""
    n, c = cols.shape[0], cols.shape[1]
    hw = int(np.prod(spatial))
    m = _window_map(tuple(spatial), tuple(kernel), tuple(dilation), tuple(padding), tuple(stride),
                    tuple(out_size))
    out = ttorch.zeros((n, c, hw + 1), dtype=cols.dtype, device=cols.device)
    out = out.index_add(2, _map_tensor(m.reshape(-1), cols.device), cols.reshape(n, c, m.size))
    return out.narrow(2, 0, hw).reshape(n, c, *spatial)


def _out_len(size, k, d, p, s):
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


# ---------------------------------------------------------------- pad

def _pad_index(n, lo, hi, mode):
    i = np.arange(-lo, n + hi)
    if mode == "reflect":
        period = 2 * (n - 1) if n > 1 else 1
        i = np.mod(i, period)
        i = np.where(i >= n, period - i, i)
    elif mode == "replicate":
        i = np.clip(i, 0, n - 1)
    else:  # circular
        i = np.mod(i, n)
    return i


def pad(input, pad, mode="constant", value=None):
    """Pads ``input``: ``pad`` lists (left, right) for the last dim, then the one before, and so on.

    Args:
        pad (tuple): even-length tuple of paddings; negative values crop.
        mode (str): ``'constant'``, ``'reflect'``, ``'replicate'`` or ``'circular'``.
        value (float): fill value for ``'constant'`` padding (default 0).

    Example::
        >>> import ttorch, ttorch.nn.functional as F
        >>> F.pad(ttorch.ones(1, 2), (1, 2)).tolist()
        [[0.0, 1.0, 1.0, 0.0, 0.0]]
    """
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 != 0:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) // 2 > input.dim():
        raise RuntimeError("Padding length should be less than or equal to two times the input dimension "
                           f"but got padding length {len(pad)} and input of dimension {input.dim()}")
    if mode not in ("constant", "reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if mode != "constant" and value is not None and value != 0:
        raise RuntimeError(f"Padding mode \"{mode}\" doesn't take in value argument")
    if mode != "constant":
        npad = len(pad) // 2
        if npad > 3 or input.dim() not in (npad + 1, npad + 2):
            raise NotImplementedError("Only 2D, 3D, 4D, 5D padding with non-constant padding are supported for now")
    out = input
    for j in range(len(pad) // 2):
        dim = input.dim() - 1 - j
        lo, hi = pad[2 * j], pad[2 * j + 1]
        n = out.shape[dim]
        if lo == 0 and hi == 0:
            continue
        if mode == "constant":
            if n + lo + hi < 0:
                raise RuntimeError(f"The input size {n}, plus negative padding {lo} and {hi} resulted in a "
                                   f"negative output size, which is invalid. Check dimension {dim} of your input.")
            if lo < 0:
                out, n, lo = out.narrow(dim, -lo, n + lo), n + lo, 0
            if hi < 0:
                out, n, hi = out.narrow(dim, 0, n + hi), n + hi, 0
            parts = []
            for width in (lo, None, hi):
                if width is None:
                    parts.append(out)
                elif width > 0:
                    shape = list(out.shape)
                    shape[dim] = width
                    parts.append(ttorch.full(shape, 0 if value is None else value, dtype=out.dtype,
                                             device=out.device))
            out = ttorch.cat(parts, dim=dim) if len(parts) > 1 else out
            continue
        if mode == "reflect" and (lo >= n or hi >= n):
            raise RuntimeError(f"Argument #4: Padding size should be less than the corresponding input dimension, "
                               f"but got: padding ({lo}, {hi}) at dimension {dim} of input {_size_str(input.shape)}")
        if mode == "circular" and (lo > n or hi > n):
            raise RuntimeError("Padding value causes wrapping around more than once.")
        if mode == "circular" and (lo < 0 or hi < 0):     # crop first: the padding wraps within what is left
            out = out.narrow(dim, max(-lo, 0), n + min(lo, 0) + min(hi, 0))
            n, lo, hi = out.shape[dim], max(lo, 0), max(hi, 0)
        if mode == "replicate" and n == 0:
            raise RuntimeError(f"padding size is expected to be non-empty at dimension {dim}")
        idx = _pad_index(n, lo, hi, mode)
        out = out.index_select(dim, _map_tensor(idx, out.device))
    return out


# ---------------------------------------------------------------- unfold / fold

def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Extracts sliding local blocks (im2col): (N, C, H, W) -> (N, C * prod(kernel_size), L).

    Example::
        >>> import ttorch, ttorch.nn.functional as F
        >>> F.unfold(ttorch.randn(2, 3, 5, 5), 3, padding=1).shape
        ttorch.Size([2, 27, 25])
    """
    k, d, p, s = (_ntuple(a, 2, n) for a, n in ((kernel_size, "kernel_size"), (dilation, "dilation"),
                                                 (padding, "padding"), (stride, "stride")))
    if input.dim() not in (3, 4) or any(sz == 0 for sz in input.shape[1:]):
        raise RuntimeError("Expected 3D or 4D (batch mode) tensor for input with possible 0 batch size and "
                           f"non-zero dimensions for input, but got: {_size_str(input.shape)}")
    batched = input.dim() == 4
    x = input if batched else input.unsqueeze(0)
    h, w = x.shape[2], x.shape[3]
    out = (_out_len(h, k[0], d[0], p[0], s[0]), _out_len(w, k[1], d[1], p[1], s[1]))
    if out[0] < 1 or out[1] < 1:
        raise RuntimeError(f"Given input with spatial size ({h}, {w}), kernel_size=({k[0]}, {k[1]}), dilation="
                           f"({d[0]}, {d[1]}), padding=({p[0]}, {p[1]}), calculated shape of the array of sliding "
                           f"blocks as ({out[0]}, {out[1]}), but its components must be at least one.")
    cols = _gather_windows(x, (h, w), k, d, p, s, out)  # (N, C, kk, L)
    cols = cols.reshape(x.shape[0], x.shape[1] * k[0] * k[1], out[0] * out[1])     # (not -1: N may be 0)
    return cols if batched else cols.squeeze(0)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Combines sliding local blocks into a tensor (col2im), summing overlaps; inverse layout of unfold.

    Example::
        >>> import ttorch, ttorch.nn.functional as F
        >>> F.fold(ttorch.ones(1, 4, 4), (3, 3), 2).tolist()[0][0]
        [[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]
    """
    o, k, d, p, s = (_ntuple(a, 2, n) for a, n in ((output_size, "output_size"), (kernel_size, "kernel_size"),
                                                    (dilation, "dilation"), (padding, "padding"),
                                                    (stride, "stride")))
    if input.dim() not in (2, 3) or any(sz == 0 for sz in input.shape[-2:]):
        raise RuntimeError("Expected 2D or 3D (batch mode) tensor for input with possible 0 batch size and "
                           f"non-zero dimensions for input, but got: {_size_str(input.shape)}")
    batched = input.dim() == 3
    x = input if batched else input.unsqueeze(0)
    kk = k[0] * k[1]
    if x.shape[1] % kk != 0:
        raise RuntimeError("Expected size of input's dimension 1 to be divisible by the product of kernel_size, "
                           f"but got input.size(1)={x.shape[1]} and kernel_size=({k[0]}, {k[1]})")
    blocks = (_out_len(o[0], k[0], d[0], p[0], s[0]), _out_len(o[1], k[1], d[1], p[1], s[1]))
    if blocks[0] < 1 or blocks[1] < 1 or blocks[0] * blocks[1] != x.shape[2]:
        raise RuntimeError(f"Given output_size=({o[0]}, {o[1]}), kernel_size=({k[0]}, {k[1]}), dilation=({d[0]}, "
                           f"{d[1]}), padding=({p[0]}, {p[1]}), stride=({s[0]}, {s[1]}), expected size of input's "
                           f"dimension 2 to match the calculated number of sliding blocks {blocks[0]} * {blocks[1]} = "
                           f"{blocks[0] * blocks[1]}, but got input.size(2)={x.shape[2]}.")
    cols = x.reshape(x.shape[0], x.shape[1] // kk, kk, x.shape[2])
    out = _scatter_windows(cols, o, k, d, p, s, blocks)
    return out if batched else out.squeeze(0)


# ---------------------------------------------------------------- convolution

def _check_bias(input, weight, bias, out_channels):
    if bias is None:
        return
    if bias.dim() != 1 or bias.shape[0] != out_channels:
        raise RuntimeError(f"Given weight of size {_size_str(weight.shape)}, expected bias to be 1-dimensional with "
                           f"{out_channels} elements, but got bias of size {_size_str(bias.shape)} instead")
    if bias.dtype != input.dtype or bias.device != input.device:
        raise RuntimeError(f"Input type ({input.type()}) and bias type ({bias.type()}) should be the same")


def _check_conv_args(name, nd, input, weight, stride, padding, dilation, groups, transposed=False):
    if input.dim() not in (nd + 1, nd + 2):
        raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {name}, "
                           f"but got input of size: {_size_str(input.shape)}")
    if weight.dim() != nd + 2:
        raise RuntimeError(f"Expected {nd + 2}-dimensional weight for {nd + 2}-dimensional input "
                           f"{_size_str(input.shape)}, but got {weight.dim()}-dimensional weight of size "
                           f"{_size_str(weight.shape)} instead")
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    if any(v <= 0 for v in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(v <= 0 for v in dilation):
        raise RuntimeError("dilation should be greater than zero")
    if not isinstance(padding, str) and any(v < 0 for v in padding):
        raise RuntimeError("negative padding is not supported")
    if input.dtype != weight.dtype or input.device != weight.device:
        raise RuntimeError(f"Input type ({input.type()}) and weight type ({weight.type()}) should be the same")
    in_shape = input.shape if input.dim() == nd + 2 else (1,) + tuple(input.shape)
    if transposed:
        if in_shape[1] != weight.shape[0]:
            raise RuntimeError(f"Given transposed=1, weight of size {_size_str(weight.shape)}, expected "
                               f"input{_size_str(in_shape)} to have {weight.shape[0]} channels, but got "
                               f"{in_shape[1]} channels instead")
        if weight.shape[0] % groups != 0:
            raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, "
                               f"but got weight of size {_size_str(weight.shape)} instead")
        return
    if weight.shape[0] % groups != 0:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, "
                           f"but got weight of size {_size_str(weight.shape)} instead")
    if in_shape[1] != weight.shape[1] * groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {_size_str(weight.shape)}, expected "
                           f"input{_size_str(in_shape)} to have {weight.shape[1] * groups} channels, but got "
                           f"{in_shape[1]} channels instead")


def _convnd(name, nd, input, weight, bias, stride, padding, dilation, groups):
    stride, dilation = _ntuple(stride, nd, "stride"), _ntuple(dilation, nd, "dilation")
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise RuntimeError(f"Invalid padding string: '{padding}'")
        if padding == "same" and any(s != 1 for s in stride):
            raise RuntimeError("padding='same' is not supported for strided convolutions")
    else:
        padding = _ntuple(padding, nd, "padding")
    _check_conv_args(name, nd, input, weight, stride, padding, dilation, groups)
    batched = input.dim() == nd + 2
    x = input if batched else input.unsqueeze(0)
    k = tuple(weight.shape[2:])
    if padding == "valid":
        padding = (0,) * nd
    elif padding == "same":
        # PyTorch pads the odd leftover of an even effective kernel on the right
        total = [d * (kk - 1) for d, kk in zip(dilation, k)]
        if any(t % 2 for t in total):
            extra = []
            for t in reversed(total):
                extra += [0, t % 2]
            x = pad(x, extra)
        padding = tuple(t // 2 for t in total)
    spatial = tuple(x.shape[2:])
    padded = tuple(sz + 2 * p for sz, p in zip(spatial, padding))
    eff = tuple(d * (kk - 1) + 1 for d, kk in zip(dilation, k))
    if any(pp < e for pp, e in zip(padded, eff)):
        raise RuntimeError(f"Calculated padded input size per channel: ({' x '.join(map(str, padded))}). "
                           f"Kernel size: ({' x '.join(map(str, eff))}). "
                           "Kernel size can't be greater than actual input size")
    _check_bias(x, weight, bias, weight.shape[0])
    if nd == 1:   # (N, C, L) as (N, C, 1, L)
        y = _ops.conv2d(x.unsqueeze(2), weight.unsqueeze(2), bias, (1,) + stride, (0,) + padding,
                        (1,) + dilation, groups).squeeze(2)
    elif nd == 3:
        y = _conv3d_by_depth(x, weight, bias, stride, padding, dilation, groups)
    else:
        y = _ops.conv2d(x, weight, bias, stride, padding, dilation, groups)
    return y if batched else y.squeeze(0)


def _depth_taps(d_out, kd, sd, dd, device):
    """int64 (d_out * kD,) on ``device``: the (zero-padded) input depth each (output depth, kernel depth)
    reads; uploaded once a geometry (``indexing._constants``), not at every call."""
    from ...ops.indexing import _constants
    return _constants(tuple((np.arange(d_out)[:, None] * sd + np.arange(kd)[None, :] * dd).reshape(-1).tolist()),
                      device)


def _conv3d_by_depth(x, weight, bias, stride, padding, dilation, groups):
    """A 3-D convolution as one 2-D convolution (the 2-D kernels, their tiles and tuning): the kD input
    depths each output depth reads (stride and dilation along D) stacked as channels (c, i), the weight
    (C_out, C_in / groups, kD, kH, kW) read as (C_out, C_in / groups * kD, kH, kW), the output depths
    carried in the batch. Differs from PyTorch's native kernels in memory: the stacked input holds
    kD / stride_D times the input."""
    n, c, d, h, w = x.shape
    o, kd = weight.shape[0], weight.shape[2]
    (sd, sh, sw), (pd, ph, pw), (dd, dh, dw) = stride, padding, dilation
    d_out = (d + 2 * pd - dd * (kd - 1) - 1) // sd + 1
    if pd:
        x = pad(x, (0, 0, 0, 0, pd, pd))
    cols = x.index_select(2, _depth_taps(d_out, kd, sd, dd, x.device))                    # (N, C, D_out * kD, H, W)
    cols = cols.reshape(n, c, d_out, kd, h, w).permute(0, 2, 1, 3, 4, 5).reshape(n * d_out, c * kd, h, w)
    y = _ops.conv2d(cols, weight.reshape(o, -1, *weight.shape[3:]), bias, (sh, sw), (ph, pw), (dh, dw), groups)
    return y.reshape(n, d_out, o, *y.shape[2:]).permute(0, 2, 1, 3, 4).contiguous()    # (N, C_out, D_out, ...)


def _conv_transpose3d_by_depth(x, weight, bias, out, stride, padding, dilation, groups):
    """The adjoint of ``_conv3d_by_depth``: each input depth's 2-D transposed convolution gives its kD
    output slices (as channels), added into the depths they belong to (``index_add``), then cropped."""
    n, c_in, d_in, h, w = x.shape
    kd = weight.shape[2]
    c_out = weight.shape[1] * groups
    (sd, sh, sw), (pd, ph, pw), (dd, dh, dw) = stride, padding, dilation
    planes = x.permute(0, 2, 1, 3, 4).reshape(n * d_in, c_in, h, w)
    cols = _ops.conv2d_input_grad(planes, weight.reshape(c_in, -1, *weight.shape[3:]), None, size=tuple(out[1:]),
                                  stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw), groups=groups)
    ho, wo = out[1], out[2]
    cols = cols.reshape(n, d_in, c_out, kd, ho, wo).permute(0, 2, 1, 3, 4, 5).reshape(n, c_out, d_in * kd, ho, wo)
    full = ttorch.zeros((n, c_out, out[0] + 2 * pd, ho, wo), dtype=x.dtype, device=x.device)
    y = full.index_add(2, _depth_taps(d_in, kd, sd, dd, x.device), cols).narrow(2, pd, out[0])
    if bias is not None:
        y = y + bias.reshape(1, -1, 1, 1, 1)
    return y.contiguous()


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1D convolution over (N, C_in, L) or (C_in, L); weight (C_out, C_in / groups, kL).

    ``padding`` is an int, a tuple, ``'valid'`` or ``'same'``. An implicit-GEMM Triton kernel on
    cuda, im2col + BLAS on cpu.

    Example::
        >>> import ttorch, ttorch.nn.functional as F
        >>> F.conv1d(ttorch.randn(2, 4, 9), ttorch.randn(6, 4, 3), padding='same').shape
        ttorch.Size([2, 6, 9])
    """
    if _amp_op._autocast is not None:  # ttorch.amp: PyTorch's autocast lists
        return _amp_op._autocast.call("conv1d", conv1d, input, weight, bias, stride, padding, dilation, groups)
    return _convnd("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2D convolution over (N, C_in, H, W) or (C_in, H, W); weight (C_out, C_in / groups, kH, kW).

    ``padding`` is an int, a tuple, ``'valid'`` or ``'same'``. An implicit-GEMM Triton kernel on
    cuda, im2col + BLAS on cpu.

    Example::
        >>> import ttorch, ttorch.nn.functional as F
        >>> F.conv2d(ttorch.randn(1, 3, 7, 7), ttorch.randn(8, 3, 3, 3), stride=2).shape
        ttorch.Size([1, 8, 3, 3])
    """
    if _amp_op._autocast is not None:  # ttorch.amp: PyTorch's autocast lists
        return _amp_op._autocast.call("conv2d", conv2d, input, weight, bias, stride, padding, dilation, groups)
    return _convnd("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3D convolution over (N, C_in, D, H, W) or (C_in, D, H, W); weight (C_out, C_in / groups, kD, kH, kW).

    ``padding`` is an int, a tuple, ``'valid'`` or ``'same'``. Runs as one conv2d over the depth slices
    each output depth reads, stacked as channels (the 2-D kernels on cuda); differs from PyTorch in
    memory, not in values.

    Example::
        >>> import ttorch, ttorch.nn.functional as F
        >>> F.conv3d(ttorch.randn(1, 2, 5, 6, 7), ttorch.randn(4, 2, 3, 3, 3), padding=1).shape
        ttorch.Size([1, 4, 5, 6, 7])
    """
    if _amp_op._autocast is not None:  # ttorch.amp: PyTorch's autocast lists
        return _amp_op._autocast.call("conv3d", conv3d, input, weight, bias, stride, padding, dilation, groups)
    return _convnd("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


def _conv_transposend(name, nd, input, weight, bias, stride, padding, output_padding, groups, dilation):
    stride, dilation = _ntuple(stride, nd, "stride"), _ntuple(dilation, nd, "dilation")
    padding, output_padding = _ntuple(padding, nd, "padding"), _ntuple(output_padding, nd, "output_padding")
    _check_conv_args(name, nd, input, weight, stride, padding, dilation, groups, transposed=True)
    if any(op >= s and op >= d for op, s, d in zip(output_padding, stride, dilation)):
        raise RuntimeError("output padding must be smaller than either stride or dilation, but got "
                           f"output_padding={list(output_padding)}, stride={list(stride)}, "
                           f"dilation={list(dilation)}")
    if any(op < 0 for op in output_padding):
        raise RuntimeError("negative output_padding is not supported")
    batched = input.dim() == nd + 2
    x = input if batched else input.unsqueeze(0)
    k = tuple(weight.shape[2:])
    _check_bias(x, weight, bias, weight.shape[1] * groups)
    spatial = tuple(x.shape[2:])
    out = tuple((sz - 1) * s - 2 * p + d * (kk - 1) + op + 1
                for sz, s, p, d, kk, op in zip(spatial, stride, padding, dilation, k, output_padding))
    if any(v <= 0 for v in out):
        raise RuntimeError(f"Given input size per channel: ({' x '.join(map(str, spatial))}). Calculated output "
                           f"size per channel: ({' x '.join(map(str, out))}). Output size is too small")
    # the transposed convolution is conv2d's input gradient (same weight layout)
    if nd == 1:
        y = _ops.conv2d_input_grad(x.unsqueeze(2), weight.unsqueeze(2), bias, size=(1,) + out, stride=(1,) + stride,
                                   padding=(0,) + padding, dilation=(1,) + dilation, groups=groups).squeeze(2)
    elif nd == 3:
        y = _conv_transpose3d_by_depth(x, weight, bias, out, stride, padding, dilation, groups)
    else:
        y = _ops.conv2d_input_grad(x, weight, bias, size=out, stride=stride, padding=padding, dilation=dilation,
                                   groups=groups)
    return y if batched else y.squeeze(0)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """1D transposed convolution (the gradient of conv1d w.r.t. its input); weight (C_in, C_out / groups, kL).

    Example::
        >>> import ttorch, ttorch.nn.functional as F
        >>> F.conv_transpose1d(ttorch.randn(2, 4, 5), ttorch.randn(4, 3, 3), stride=2).shape
        ttorch.Size([2, 3, 11])
    """
    if _amp_op._autocast is not None:  # ttorch.amp: PyTorch's autocast lists
        return _amp_op._autocast.call("conv_transpose1d", conv_transpose1d, input, weight, bias, stride, padding,
                                      output_padding, groups, dilation)
    return _conv_transposend("conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding,
                             groups, dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """2D transposed convolution (the gradient of conv2d w.r.t. its input); weight (C_in, C_out / groups, kH, kW).

    Example::
        >>> import ttorch, ttorch.nn.functional as F
        >>> F.conv_transpose2d(ttorch.randn(1, 4, 3, 3), ttorch.randn(4, 2, 3, 3), stride=2, padding=1).shape
        ttorch.Size([1, 2, 5, 5])
    """
    if _amp_op._autocast is not None:  # ttorch.amp: PyTorch's autocast lists
        return _amp_op._autocast.call("conv_transpose2d", conv_transpose2d, input, weight, bias, stride, padding,
                                      output_padding, groups, dilation)
    return _conv_transposend("conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding,
                             groups, dilation)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """3D transposed convolution (the gradient of conv3d w.r.t. its input); weight (C_in, C_out / groups, kD, kH,
    kW). Runs as conv_transpose2d per input depth, added into the output depths.

    Example::
        >>> import ttorch, ttorch.nn.functional as F
        >>> F.conv_transpose3d(ttorch.randn(1, 4, 2, 3, 3), ttorch.randn(4, 2, 2, 2, 2), stride=2).shape
        ttorch.Size([1, 2, 4, 6, 6])
    """
    if _amp_op._autocast is not None:  # ttorch.amp: PyTorch's autocast lists
        return _amp_op._autocast.call("conv_transpose3d", conv_transpose3d, input, weight, bias, stride, padding,
                                      output_padding, groups, dilation)
    return _conv_transposend("conv_transpose3d", 3, input, weight, bias, stride, padding, output_padding,
                             groups, dilation)
