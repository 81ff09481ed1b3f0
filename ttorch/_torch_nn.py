"""The nn ops PyTorch also exposes at the top level (``torch.conv2d``, ``torch.dropout``,
``torch.batch_norm``, ``torch.lstm_cell``...), with those names' own signatures, which are ATen's, not
``nn.functional``'s: positional flags (``dropout(input, p, train)``), ``batch_norm``'s and
``instance_norm``'s weight-first order, ``embedding(weight, indices)``, losses whose ``reduction`` is an
int (0 none, 1 mean, 2 sum) and ``grid_sampler``'s int modes. Each delegates to ``nn.functional``.
"""
import warnings

from .nn import functional as F
from .nn.functional import rnn as _rnn

_REDUCTIONS = ("none", "mean", "sum")


def _reduction(r):
    if r not in (0, 1, 2):
        raise ValueError(f"{r} is not a valid value for reduction")
    return _REDUCTIONS[r]


def _stride(stride):
    return None if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0) else stride


def _check_p(p, input=None, train=False):
    # ATen's ops raise RuntimeError (nn.functional's raise ValueError)
    if p < 0 or p > 1:
        raise RuntimeError(f"dropout probability has to be between 0 and 1, but got {p}")
    if input is not None and train and 0 < p and input.dim() < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")


def dropout(input, p, train):
    _check_p(p)
    return F.dropout(input, p, train)


def alpha_dropout(input, p, train):
    _check_p(p)
    return F.alpha_dropout(input, p, train)


def feature_alpha_dropout(input, p, train):
    _check_p(p, input, train)
    return F.feature_alpha_dropout(input, p, train)


def feature_dropout(input, p, train):
    """Dropout of whole channels (dim 1) of an input of any rank >= 2."""
    from .nn.functional.linear import _dropout
    _check_p(p, input, train)
    return _dropout(input, p, train, False, feature=True)


def embedding(weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False):
    """``nn.functional.embedding`` with the weight first; ``padding_idx=-1`` means none."""
    return F.embedding(indices, weight, None if padding_idx == -1 else padding_idx,
                       scale_grad_by_freq=scale_grad_by_freq, sparse=sparse)


def batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps, cudnn_enabled):
    return F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def instance_norm(input, weight, bias, running_mean, running_var, use_input_stats, momentum, eps, cudnn_enabled):
    return F.instance_norm(input, running_mean, running_var, weight, bias, use_input_stats, momentum, eps)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5, cudnn_enabled=True):
    return F.group_norm(input, num_groups, weight, bias, eps)


def max_pool1d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    return F.max_pool1d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def max_pool2d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    return F.max_pool2d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def max_pool3d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    return F.max_pool3d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def max_pool1d_with_indices(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    return F.max_pool1d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode, return_indices=True)


def avg_pool1d(input, kernel_size, stride=(), padding=0, ceil_mode=False, count_include_pad=True):
    return F.avg_pool1d(input, kernel_size, _stride(stride), padding, ceil_mode, count_include_pad)


def adaptive_max_pool1d(input, output_size):
    """``(output, indices)``, always (ATen's op returns both)."""
    return F.adaptive_max_pool1d(input, output_size, return_indices=True)


def kl_div(input, target, reduction=1, *, log_target=False):
    with warnings.catch_warnings():     # (nn.functional's warning about 'mean' is not ATen's)
        warnings.simplefilter("ignore", UserWarning)
        return F.kl_div(input, target, reduction=_reduction(reduction), log_target=log_target)


def binary_cross_entropy_with_logits(input, target, weight=None, pos_weight=None, reduction=1):
    return F.binary_cross_entropy_with_logits(input, target, weight, reduction=_reduction(reduction),
                                              pos_weight=pos_weight)


def cosine_embedding_loss(input1, input2, target, margin=0.0, reduction=1):
    return F.cosine_embedding_loss(input1, input2, target, margin, reduction=_reduction(reduction))


def hinge_embedding_loss(input, target, margin=1.0, reduction=1):
    return F.hinge_embedding_loss(input, target, margin, reduction=_reduction(reduction))


def margin_ranking_loss(input1, input2, target, margin=0.0, reduction=1):
    return F.margin_ranking_loss(input1, input2, target, margin, reduction=_reduction(reduction))


def poisson_nll_loss(input, target, log_input, full, eps, reduction):
    return F.poisson_nll_loss(input, target, log_input, full, eps=eps, reduction=_reduction(reduction))


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False, reduction=1):
    return F.triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap, reduction=_reduction(reduction))


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction=1, zero_infinity=False):
    return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank, _reduction(reduction), zero_infinity)


def constant_pad_nd(input, pad, value=0):
    return F.pad(input, list(pad), value=value)


def affine_grid_generator(theta, size, align_corners):
    return F.affine_grid(theta, list(size), align_corners=align_corners)


_MODES, _PADDINGS = ("bilinear", "nearest", "bicubic"), ("zeros", "border", "reflection")


def grid_sampler(input, grid, interpolation_mode, padding_mode, align_corners):
    """``nn.functional.grid_sample`` with ATen's int modes: 0 bilinear, 1 nearest, 2 bicubic; padding 0
    zeros, 1 border, 2 reflection."""
    return F.grid_sample(input, grid, _MODES[interpolation_mode], _PADDINGS[padding_mode], align_corners)


grid_sampler_2d = grid_sampler_3d = grid_sampler


def threshold(input, threshold, value):
    return F.threshold(input, threshold, value)


def conv_tbc(input, weight, bias, pad=0):
    """A 1-D convolution of a (time, batch, channels) input with a (kernel, in, out) weight: fairseq's
    layout, output (time', batch, out)."""
    if input.dim() != 3:
        raise RuntimeError("Input must have 3 dims: time, batch, in_channel")
    if weight.dim() != 3:
        raise RuntimeError("Weight tensor must have 3 dims: kernel_width, in_channels, out_channels.")
    if bias.dim() != 1:
        raise RuntimeError("Bias must be 1-D")
    if input.shape[2] != weight.shape[1]:
        raise RuntimeError("Input dim 2 (input channels) is not == dim 1 in the weight tensor")
    if weight.shape[2] != bias.shape[0]:
        raise RuntimeError("Bias size must equal dim 2 in the weight tensor (output channels).")
    y = F.conv1d(input.permute(1, 2, 0), weight.permute(2, 1, 0), bias, padding=pad)
    return y.permute(2, 0, 1)


def _inplace(fn, name):
    """``torch.<name>(x, ...)``: ``fn(x, ...)`` written back into ``x`` (recorded as PyTorch's in-place op)."""
    def method(input, *args):
        from .ops.inplace import inplace_from
        return inplace_from(input, fn(input, *args), name)
    method.__name__ = name
    method.__doc__ = f"In-place ``{fn.__name__}``; returns ``input``."
    return method


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, generator=None):
    from ._api_more import _with_generator
    return _with_generator(generator, input.device, lambda: F.rrelu(input, lower, upper, training))


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False, generator=None):
    from .ops.inplace import inplace_from
    return inplace_from(input, rrelu(input, lower, upper, training, generator), "rrelu_")


def embedding_renorm_(input, indices, max_norm, norm_type):
    """Rescale, in place and outside autograd, the rows of ``input`` that ``indices`` name to norm at most
    ``max_norm`` (``max_norm / (norm + 1e-7)``, as PyTorch)."""
    from .nn.functional.linear import _renorm
    _renorm(input, indices, max_norm, norm_type)
    return input


def embedding_bag(weight, indices, offsets, scale_grad_by_freq=False, mode=0, sparse=False, per_sample_weights=None,
                  include_last_offset=False, padding_idx=None):
    """ATen's ``embedding_bag``: ``mode`` 0 sum, 1 mean, 2 max; returns ``(output, offset2bag, bag_size,
    max_indices)`` as PyTorch's cpu kernel fills them (sum leaves the last three empty / zero, mean
    repeats ``bag_size`` in ``max_indices``, max gives the winning row per bag and column)."""
    from . import ops
    from .nn.functional.linear import _bag_ids
    if mode not in (0, 1, 2):
        raise RuntimeError(f"embedding_bag: unknown mode {mode}")
    if offsets is None:
        raise TypeError("embedding_bag(): argument 'offsets' (position 3) must be Tensor, not NoneType")
    indices = indices.reshape(-1)       # (ATen reads a 2-D input flat, bags from ``offsets``)
    pad = None if padding_idx in (None, -1) else padding_idx
    out = F.embedding_bag(indices, weight, offsets, None, 2, scale_grad_by_freq, _REDUCTIONS_BAG[mode], sparse,
                          per_sample_weights, include_last_offset, pad)
    flat, bag, nbags = _bag_ids(indices, offsets, include_last_offset)
    long = ops.FUNCTIONS["zeros"](nbags, dtype=indices.dtype, device=indices.device)
    if mode == 0:
        long = ops.FUNCTIONS["zeros"](offsets.numel(), dtype=indices.dtype, device=indices.device)
        return out, ops.FUNCTIONS["empty"](0, dtype=indices.dtype, device=indices.device), long, long.clone()
    keep = bag < nbags if pad is None else (bag < nbags) & (flat != pad)
    size = long.index_add(0, bag[keep], ops.FUNCTIONS["ones_like"](bag[keep]).to(indices.dtype))
    if mode == 1:
        return out, bag.to(indices.dtype), size, size.clone()
    n = flat.numel()
    maxi = ops.FUNCTIONS["zeros"](nbags, weight.shape[1], dtype=indices.dtype, device=indices.device)
    if n:
        rows = weight.detach()[flat.long()]                              # (n, dim)
        hit = (rows == out.detach()[bag]) & keep.unsqueeze(1)            # the entries equal to their bag's max
        pos = ops.FUNCTIONS["arange"](n, device=indices.device).unsqueeze(1).expand_as(hit)
        win = ops.FUNCTIONS["where"](hit, pos, n)                        # the first winning entry per bag
        best = ops.FUNCTIONS["full"]((nbags, weight.shape[1]), n, dtype=pos.dtype, device=indices.device)
        best = best.scatter_reduce(0, bag.unsqueeze(1).expand_as(win), win, "amin")
        maxi = ops.FUNCTIONS["where"](best == n, 0, flat.long()[best.clamp_max(n - 1)]).to(indices.dtype)
    return out, bag.to(indices.dtype), size, maxi


_REDUCTIONS_BAG = ("sum", "mean", "max")


def convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding, groups):
    """ATen's generic convolution: ``conv{1,2,3}d`` or ``conv_transpose{1,2,3}d`` by the weight's rank."""
    n = weight.dim() - 2
    if n not in (1, 2, 3):
        raise RuntimeError(f"convolution: expected a weight of 3, 4 or 5 dims, got {weight.dim()}")
    if transposed:
        fn = getattr(F, f"conv_transpose{n}d")
        return fn(input, weight, bias, list(stride), list(padding), list(output_padding), groups, list(dilation))
    return getattr(F, f"conv{n}d")(input, weight, bias, list(stride), list(padding), list(dilation), groups)


def native_layer_norm(input, normalized_shape, weight, bias, eps):
    """``(layer_norm(...), mean, rstd)``; ``mean`` and ``rstd`` keep the normalized dims as size 1."""
    dims = tuple(range(input.dim() - len(normalized_shape), input.dim()))
    out = F.layer_norm(input, list(normalized_shape), weight, bias, eps)
    mean = input.mean(dims, keepdim=True)
    rstd = (input.var(dims, unbiased=False, keepdim=True) + eps).rsqrt()
    return out, mean, rstd


def native_batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps):
    """``(batch_norm(...), save_mean, save_invstd)``: the batch's per-channel mean and ``1 / sqrt(var + eps)``
    when ``training``, empty tensors otherwise."""
    out = F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)
    if not training:
        empty = input.new_empty(0)
        return out, empty, empty.clone()
    dims = (0,) + tuple(range(2, input.dim()))
    mean = input.mean(dims)
    invstd = (input.var(dims, unbiased=False) + eps).rsqrt()
    return out, mean, invstd


def native_group_norm(input, weight, bias, N, C, HxW, group, eps):
    """``(group_norm(...), mean, rstd)``, the statistics of shape (N, group)."""
    out = F.group_norm(input, group, weight, bias, eps)
    x = input.reshape(N, group, -1)
    return out, x.mean(-1), (x.var(-1, unbiased=False) + eps).rsqrt()


def native_dropout(input, p, train):
    """``(output, mask)``: dropout and its boolean keep-mask; ``train=None`` means True. Not training
    (or ``p`` = 0) returns a copy and an all-True mask."""
    from . import ops, _dtype
    if train is False or p == 0:
        return input.clone(), ops.FUNCTIONS["ones_like"](input, dtype=_dtype.bool)
    mask = ops.FUNCTIONS["rand_like"](input, dtype=input.dtype if input.dtype.is_floating_point else None) >= p
    scale = 0.0 if p == 1 else 1.0 / (1.0 - p)
    return input * mask * scale, mask


_SAME = ("conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "pixel_shuffle",
         "pixel_unshuffle", "channel_shuffle", "pairwise_distance", "cosine_similarity", "pdist", "prelu", "bilinear",
         "adaptive_avg_pool1d")
PUBLIC = {n: getattr(F, n) for n in _SAME}
PUBLIC.update({n: globals()[n] for n in (
    "dropout", "alpha_dropout", "feature_alpha_dropout", "feature_dropout", "embedding", "batch_norm",
    "instance_norm", "group_norm", "max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices", "avg_pool1d",
    "adaptive_max_pool1d", "kl_div", "binary_cross_entropy_with_logits", "cosine_embedding_loss",
    "hinge_embedding_loss", "margin_ranking_loss", "poisson_nll_loss", "triplet_margin_loss", "ctc_loss",
    "constant_pad_nd", "affine_grid_generator", "grid_sampler", "grid_sampler_2d", "grid_sampler_3d", "threshold",
    "conv_tbc", "rrelu", "rrelu_", "embedding_renorm_", "embedding_bag", "convolution", "native_layer_norm",
    "native_batch_norm", "native_group_norm", "native_dropout")})
PUBLIC.update({n + "_": _inplace(PUBLIC[n], n + "_") for n in (
    "dropout", "alpha_dropout", "feature_dropout", "feature_alpha_dropout", "threshold")})
PUBLIC.update(celu_=_inplace(F.celu, "celu_"), selu_=_inplace(F.selu, "selu_"))
PUBLIC.update({n: getattr(_rnn, n) for n in ("rnn_tanh_cell", "rnn_relu_cell", "lstm_cell", "gru_cell")})
