"""Linear, bilinear, dropout, embedding and distance functions of ``ttorch.nn.functional``.

Written in ttorch ops (both devices, differentiable). ``linear`` is the ``linear`` op: one GEMM,
the bias in its epilogue on cuda (``_linear_act`` fuses an activation there too). Dropout masks
come from ttorch's generator (Philox on cuda), so ``ttorch.manual_seed`` makes them reproducible.
"""
import math


from ... import _dtype as _dt, ops as _ops
from ...ops import linear as _linear
from ...ops.gather import rows_add as _rows_add
from ...autograd import no_grad
from ...autograd.function import Function
from ...ops import _op as _amp_op
from ..._layout import jagged as _jagged
from ...cuda import _checks

_F = _ops.FUNCTIONS

__all__ = ["pdist", "linear", "_linear_act", "bilinear", "dropout", "dropout1d", "dropout2d", "dropout3d",
           "alpha_dropout", "feature_alpha_dropout", "embedding", "embedding_bag", "one_hot", "normalize",
           "cosine_similarity", "pairwise_distance"]

one_hot = _F["one_hot"]


# ---------------------------------------------------------------------------------------- linear
def linear(input, weight, bias=None):
    """``y = x @ weight.T + bias``; ``input`` (*, in), ``weight`` (out, in), ``bias`` (out).

    One GEMM (the ``linear`` op): on cuda the bias rides in its epilogue and the leading dims of
    ``input`` fold into its rows.
    """
    if _amp_op._autocast is not None:  # ttorch.amp: PyTorch's autocast lists
        return _amp_op._autocast.call("linear", linear, input, weight, bias)
    if type(weight) in _amp_op.SUBCLASS_OPS:    # a sparse (CSR...) weight: its type's handler of the linear op
        return _amp_op.SUBCLASS_OPS[type(weight)](_linear._linear, (input, weight, bias), {})
    if weight.ndim == 1:  # a vector weight: plain matmul, as PyTorch
        r = _F["matmul"](input, weight)
        return r if bias is None else r + bias
    return _linear.linear(input, weight, bias)


_ACTS = ("none", "relu", "gelu", "gelu_tanh", "silu")


def _linear_act(input, weight, bias=None, activation="relu"):
    """``activation(linear(input, weight, bias))`` with the bias and the activation fused into the
    GEMM's epilogue on cuda (private: PyTorch has no public fused form).

    Args:
        activation: "relu", "gelu" (erf), "gelu_tanh", "silu", "none", or ``F.relu``/``F.gelu``/
            ``F.silu``. Other callables are applied after ``linear`` (unfused).

    Shape:
        input (*, in), weight (out, in), bias (out,) -> (*, out).
    """
    act = _fused_name(activation)
    if act is None:
        return activation(linear(input, weight, bias))
    return _linear.linear_act(input, weight, bias, act)


def _fused_name(activation):
    """The epilogue name of ``activation`` (a string or ``F.relu``/``F.gelu``/``F.silu``), or None."""
    if isinstance(activation, str):
        if activation not in _ACTS:
            raise ValueError(f"_linear_act: unknown activation {activation!r}")
        return activation
    from . import activation as _A
    return {_A.relu: "relu", _A.gelu: "gelu", _A.silu: "silu"}.get(activation)


def bilinear(input1, input2, weight, bias=None):
    """``y_k = x1^T A_k x2 + b_k``; ``weight`` (out, in1, in2), inputs (*, in1) and (*, in2)."""
    if _amp_op._autocast is not None:  # ttorch.amp: PyTorch's autocast lists
        return _amp_op._autocast.call("bilinear", bilinear, input1, input2, weight, bias)
    if weight.ndim != 3:
        raise RuntimeError(f"bilinear(): weight must be 3-dimensional, but got {weight.ndim}-dimensional weight")
    if input1.shape[:-1] != input2.shape[:-1]:
        raise RuntimeError(f"bilinear(): input batch dimensions do not match: got {list(input1.shape[:-1])} and "
                           f"{list(input2.shape[:-1])}")
    out, in1, in2 = weight.shape
    if input1.shape[-1] != in1:
        raise RuntimeError(f"bilinear(): input1 size does not match weight size: got {input1.shape[-1]} but "
                           f"expected {in1}")
    if input2.shape[-1] != in2:
        raise RuntimeError(f"bilinear(): input2 size does not match weight size: got {input2.shape[-1]} but "
                           f"expected {in2}")
    w = weight.permute(1, 0, 2).reshape(in1, out * in2)
    t = _F["matmul"](input1, w).reshape(tuple(input1.shape[:-1]) + (out, in2))  # (*, out, in2)
    y = (t * input2.unsqueeze(-2)).sum(-1)  # (*, out)
    return y if bias is None else y + bias


# ---------------------------------------------------------------------------------------- dropout
_SELU_ALPHA = 1.7580993408473766  # -scale * alpha of SELU: the value a dropped unit takes
_FUSED_DTYPES = (_dt.float32, _dt.float16, _dt.bfloat16)   # float64 keeps the composite (its 1 / (1 - p) in fp64)


def _check_p(p):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _new_noise(input, shape):
    """The empty mask of ``_dropout``; a DTensor's is a DTensor of its layout (or replicated, for a per-channel
    mask), so its random fill follows the DTensor's (``distributed/tensor/_random.py``)."""
    loc = getattr(input, "_local_tensor", None)
    if loc is None:
        return input.new_empty(shape)
    if tuple(shape) == tuple(input.shape):
        return input._fresh(loc.new_empty(loc.shape))
    from ...distributed.tensor import DTensor, Replicate
    mesh = input.device_mesh
    return DTensor.from_local(loc.new_empty(shape), mesh, [Replicate()] * mesh.ndim)


def _dropout(input, p, training, inplace, feature=False, alpha=False):
    """PyTorch's ``_dropout_impl``: a Bernoulli(1 - p) mask (per channel when ``feature``)."""
    _check_p(p)
    if p == 0 or not training or input.numel() == 0:
        return input
    if input.is_nested and not feature:     # a nested tensor: dropout of its values (ttorch/nested)
        r = _dropout(input._values, p, training, inplace, feature, alpha)
        return input if inplace else input._like(r)
    if p == 1:
        return input.mul_(0) if inplace else input * 0
    if _ops.random.VMAP is not None:        # under vmap: its randomness flag draws the mask (func/_random_rules.py)
        return _ops.random.VMAP(_dropout, (input, p, training, inplace, feature, alpha), {})
    if not (inplace or feature or alpha) and input.device.type == "cuda" and input.dtype in _FUSED_DTYPES and \
            getattr(input, "_local_tensor", None) is None:
        return _ops.random.fused_dropout(input, float(p))
    shape = tuple(input.shape[:2]) + (1,) * (input.ndim - 2) if feature else tuple(input.shape)
    with no_grad():
        noise = _new_noise(input, shape).bernoulli_(1 - p)
        if alpha:
            a = 1.0 / math.sqrt((_SELU_ALPHA * _SELU_ALPHA * p + 1) * (1 - p))
            b = (noise - 1) * (_SELU_ALPHA * a) + _SELU_ALPHA * a * p
            noise.mul_(a)
        else:
            noise.div_(1 - p)
    if inplace:
        input.mul_(noise)
        return input.add_(b) if alpha else input
    r = input * noise
    return r + b if alpha else r


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)`` (training only)."""
    return _dropout(input, p, training, inplace)


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Dropout that keeps SELU's zero mean and unit variance (dropped units take SELU's negative saturation)."""
    return _dropout(input, p, training, inplace, alpha=True)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Alpha dropout of whole channels (dim 1)."""
    return _dropout(input, p, training, inplace, feature=True, alpha=True)


def _unbatched(input, fn):
    r = fn(input.unsqueeze(0))
    return r.squeeze(0)


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, L) or (C, L) inputs."""
    _check_p(p)
    if input.ndim not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {input.ndim}D input. Note that "
                           "dropout1d exists to provide channel-wise dropout on inputs with 1 spatial dimension, a "
                           "channel dimension, and an optional batch dimension (i.e. 2D or 3D inputs).")
    if input.ndim == 2:
        if inplace:
            _dropout(input.unsqueeze(0), p, training, True, feature=True)
            return input
        return _unbatched(input, lambda x: _dropout(x, p, training, False, feature=True))
    return _dropout(input, p, training, inplace, feature=True)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, H, W) inputs (a 3-D input is taken as (N, C, L), as PyTorch does)."""
    import warnings
    _check_p(p)
    if input.ndim not in (3, 4):
        warnings.warn(f"dropout2d: Received a {input.ndim}-D input to dropout2d, which is deprecated and will "
                      "result in an error in a future release. To retain the behavior and silence this warning, "
                      "please use dropout instead. Note that dropout2d exists to provide channel-wise dropout on "
                      "inputs with 2 spatial dimensions, a channel dimension, and an optional batch dimension "
                      "(i.e. 3D or 4D inputs).")
    if input.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout "
                      "behavior is desired - input is interpreted as shape (N, C, L), where C is the channel dim. "
                      "This behavior will change in a future release to interpret the input as one without a "
                      "batch dimension, i.e. shape (C, H, W). To maintain the 1D channel-wise dropout behavior, "
                      "please switch to using dropout1d instead.")
    return _dropout(input, p, training, inplace, feature=True)


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) inputs."""
    import warnings
    _check_p(p)
    if input.ndim not in (4, 5):
        warnings.warn(f"dropout3d: Received a {input.ndim}-D input to dropout3d, which is deprecated and will "
                      "result in an error in a future release. To retain the behavior and silence this warning, "
                      "please use dropout instead. Note that dropout3d exists to provide channel-wise dropout on "
                      "inputs with 3 spatial dimensions, a channel dimension, and an optional batch dimension "
                      "(i.e. 4D or 5D inputs).")
    if input.ndim == 4:
        if inplace:
            _dropout(input.unsqueeze(0), p, training, True, feature=True)
            return input
        return _unbatched(input, lambda x: _dropout(x, p, training, False, feature=True))
    return _dropout(input, p, training, inplace, feature=True)


# -------------------------------------------------------------------------------------- embedding
class _Embedding(Function):
    """Row gather whose backward skips ``padding_idx`` and can scale by inverse frequency."""

    @staticmethod
    def forward(ctx, weight, indices, padding_idx, scale_grad_by_freq, sparse=False):
        ctx.save_for_backward(indices)
        ctx.num, ctx.padding_idx, ctx.scale, ctx.sparse = weight.shape[0], padding_idx, scale_grad_by_freq, sparse
        flat = indices.reshape(-1)
        return weight.index_select(0, flat).reshape(tuple(indices.shape) + (weight.shape[1],))

    @staticmethod
    def backward(ctx, grad):
        (indices,) = ctx.saved_tensors
        flat = indices.reshape(-1)
        g = grad.reshape(-1, grad.shape[-1])  # (n, dim)
        if ctx.sparse:
            if ctx.scale:
                raise RuntimeError("embedding_backward: scale_grad_by_freq not supported with sparse gradients")
            return _sparse_grad(flat, g, ctx.num, ctx.padding_idx), None, None, None, None
        if ctx.scale:
            counts = _rows_add(flat, _F["ones"](flat.shape[0], dtype=g.dtype, device=g.device), ctx.num)
            g = g / counts.index_select(0, flat).unsqueeze(1)
        if ctx.padding_idx is not None:
            g = g * (flat != ctx.padding_idx).unsqueeze(1).to(g.dtype)
        gw = _rows_add(flat, g, ctx.num)
        return gw, None, None, None, None


def _sparse_grad(flat, g, num, padding_idx):
    """PyTorch's sparse embedding gradient: a COO tensor (num, dim) with one entry per looked-up
    row (uncoalesced, in lookup order), the ``padding_idx`` lookups left out."""
    from ..._sparse import SparseTensor
    if padding_idx is not None:
        keep = flat != padding_idx
        flat, g = flat[keep], g[keep]
    return SparseTensor._new(flat.reshape(1, -1), g, (num, g.shape[-1]))


def _check_indices(input, fn):
    from ... import _dtype as D
    if input.dtype not in (D.int64, D.int32):
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                           f"Long, Int; but got {input.type()} instead (while checking arguments for {fn})")


def _padding(padding_idx, num):
    if padding_idx is None:
        return None
    if padding_idx > 0:
        assert padding_idx < num, "Padding_idx must be within num_embeddings"
    elif padding_idx < 0:
        assert padding_idx >= -num, "Padding_idx must be within num_embeddings"
        padding_idx = num + padding_idx
    return padding_idx


def _renorm(weight, input, max_norm, norm_type):
    """Rescale, in place, the rows of ``weight`` that ``input`` uses to norm at most ``max_norm``."""
    with no_grad():
        rows = _F["unique"](input.reshape(-1).long())
        sel = weight.index_select(0, rows)
        norms = sel.norm(norm_type, 1, keepdim=True)
        scale = _F["where"](norms > max_norm, max_norm / (norms + 1e-7), 1.0)
        weight.index_copy_(0, rows, sel * scale)


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """Rows of ``weight`` (num_embeddings, dim) at integer ``input``: output ``input.shape + (dim,)``.

    ``padding_idx`` rows get no gradient; ``max_norm`` renormalises the used rows of ``weight`` in place.
    ``sparse``: ``weight``'s gradient is a sparse COO tensor with one entry per lookup (PyTorch's).
    """
    if input.is_nested:     # jagged token ids (ttorch/nested): the rows of its values; strided: per component
        if input.layout is not _jagged:
            return input._map(lambda c: embedding(c, weight, padding_idx, max_norm, norm_type, scale_grad_by_freq,
                                                  sparse))
        return input._like(embedding(input._values, weight, padding_idx, max_norm, norm_type, scale_grad_by_freq,
                                     sparse))
    _check_indices(input, "embedding")
    if weight.ndim != 2:
        raise RuntimeError("'weight' must be 2-D")
    padding_idx = _padding(padding_idx, weight.shape[0])
    if max_norm is not None:
        _renorm(weight, input, max_norm, norm_type)
    if (getattr(weight, "_level", None) is not None or getattr(input, "_level", None) is not None) \
            and not (scale_grad_by_freq or sparse):
        # vmap's BatchedTensor (ttorch/func): index_select has a batching rule, a Function's graph does not
        out = weight.index_select(0, input.long().reshape(-1)).reshape(tuple(input.shape) + (weight.shape[1],))
        if padding_idx is not None:         # those rows take no gradient
            out = _F["where"]((input != padding_idx).unsqueeze(-1), out, out.detach())
        return out
    return _Embedding.apply(weight, input.long(), padding_idx, bool(scale_grad_by_freq), bool(sparse))


_BAG_FIRST = _checks.register(lambda v: RuntimeError(
    f"offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to start from position 0. However, "
    f"got {v}"))
_BAG_LAST = _checks.register(lambda v: RuntimeError(
    f"offsets[-1] can not be greater than input's length, but got offsets[-1] of {v}"))


def _bag_ids(input, offsets, include_last_offset):
    """(flat indices, the bag of each as an int64 tensor on input's device, number of bags).

    Computed with tensor ops where the indices live: a bag starts at each offset (``index_add`` of
    ones, so empty bags are counted) and an index's bag is the running count of starts up to it.
    The offsets' values are checked on the host for cpu tensors; on cuda the checks are counted on
    the device and raised at the next sync, so no step waits for a device-to-host copy."""
    dev = input.device
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated is a mini-batch of "
                             "fixed length sequences. However, found offsets of type {}".format(type(offsets)))
        b, n = input.shape
        return input.reshape(-1), _F["arange"](b * n, device=dev) // max(n, 1), b
    if input.ndim != 1:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {input.ndim}")
    if offsets is None:
        raise ValueError("offsets has to be a 1D Tensor but got None")
    if offsets.ndim != 1:
        raise ValueError("offsets has to be a 1D Tensor")
    n = input.shape[0]
    off = offsets.detach().long().to(dev)
    if off.numel():
        first, last = off[0], off[-1]
        if dev.type == "cuda":
            _checks.record(_BAG_FIRST, (first != 0).reshape(1), first.reshape(1))
            _checks.record(_BAG_LAST, (last > n).reshape(1), last.reshape(1))
        elif int(first) != 0:
            raise RuntimeError(f"offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to start "
                               f"from position 0. However, got {int(first)}")
        elif int(last) > n:
            raise RuntimeError(f"offsets[-1] can not be greater than input's length ({n}), but got offsets[-1] of "
                               f"{int(last)}")
    bags = off.numel() - 1 if include_last_offset else off.numel()
    starts = off[:bags].clamp(0, n)
    mark = _F["zeros"](n + 1, dtype=off.dtype, device=dev).index_add(0, starts, _F["ones_like"](starts))
    ids = (mark[:n].cumsum(0) - 1).clamp_min(0)
    return input, ids, bags


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False, mode="mean",
                  sparse=False, per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """Sums, means or maxes of bags of embeddings without materialising the gathered rows per bag.

    ``input`` (B, N) holds B bags of N indices, or 1-D with ``offsets`` giving each bag's start.
    Empty bags give zeros; ``padding_idx`` entries are left out of every bag (and of mean's count).
    """
    _check_indices(input, "embedding_bag")
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"mode has to be one of sum, mean or max, but got {mode}")
    if sparse and mode == "max":
        raise ValueError("max mode does not support sparse weights")
    if per_sample_weights is not None:
        if mode != "sum":
            raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. per_sample_weights is only "
                                      f"supported for mode='sum' (got mode='{mode}'). Please open a feature request "
                                      f"on the Pytorch GitHub.")
        if per_sample_weights.shape != input.shape:
            raise ValueError(f"embedding_bag: If per_sample_weights ({per_sample_weights.shape}) is not None, "
                             f"then it must have the same shape as the input ({input.shape})")
    flat, ids, bags = _bag_ids(input, offsets, include_last_offset)
    padding_idx = _padding(padding_idx, weight.shape[0])
    if max_norm is not None:
        _renorm(weight, input, max_norm, norm_type)
    dev = weight.device
    flat = flat.long().to(dev)
    bag = ids.to(dev)
    if padding_idx is not None:         # padding entries go to one extra bag, dropped at the end
        bag = bag.masked_fill(flat == padding_idx, bags)
    # (n, dim); a sparse gradient leaves the padding lookups out, as PyTorch's (a dense one gets zeros there)
    rows = _Embedding.apply(weight, flat, padding_idx if sparse else None, bool(scale_grad_by_freq), bool(sparse))
    if per_sample_weights is not None:
        rows = rows * per_sample_weights.reshape(-1).to(rows.dtype).unsqueeze(1)
    zeros = _F["zeros"](bags + 1, weight.shape[1], dtype=weight.dtype, device=dev)
    if mode == "max":
        idx = bag.unsqueeze(1).expand(-1, weight.shape[1])
        return zeros.scatter_reduce(0, idx, rows, "amax", include_self=False)[:bags]
    out = zeros.index_add(0, bag, rows)[:bags]
    if mode == "mean":
        counts = _F["zeros"](bags + 1, dtype=weight.dtype, device=dev).index_add(
            0, bag, _F["ones"](bag.shape[0], dtype=weight.dtype, device=dev))[:bags]
        out = out / counts.clamp_min(1).unsqueeze(1)
    return out


# -------------------------------------------------------------------------------------- distances
def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """``input / max(||input||_p, eps)`` along ``dim``."""
    if _amp_op._autocast is not None:  # ttorch.amp: PyTorch's autocast lists
        return _amp_op._autocast.call("normalize", normalize, input, p, dim, eps, out)
    denom = input.norm(p, dim, keepdim=True).clamp_min(eps).expand_as(input)
    r = input / denom
    return r if out is None else out.copy_(r)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """``sum(x1 * x2) / (max(||x1||, eps) * max(||x2||, eps))`` along ``dim`` (inputs broadcast)."""
    if _amp_op._autocast is not None:  # ttorch.amp: PyTorch's autocast lists
        return _amp_op._autocast.call("cosine_similarity", cosine_similarity, x1, x2, dim, eps)
    if x1.dtype != x2.dtype:
        raise RuntimeError(f"cosine_similarity requires both inputs to have the same dtype, got "
                           f"{x1.dtype} and {x2.dtype} instead.")
    from ... import broadcast_shapes
    shape = broadcast_shapes(x1.shape, x2.shape)
    x1, x2 = x1.expand(shape), x2.expand(shape)
    n1 = x1.norm(2, dim, keepdim=True).clamp_min(eps)
    n2 = x2.norm(2, dim, keepdim=True).clamp_min(eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pdist(input, p=2):
    """The ``p``-norm distance between every pair of rows ``i < j`` of the (N, M) ``input``, in
    row-major order of the pairs: N (N - 1) / 2 values (``cdist``'s, read off its upper triangle)."""
    if input.dim() != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.dim()}D")
    if not input.dtype.is_floating_point:
        raise RuntimeError("pdist only supports floating-point dtypes")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    import ttorch
    n = input.shape[0]
    i, j = ttorch.triu_indices(n, n, 1, device=input.device)
    d = ttorch.cdist(input, input, p, compute_mode="donot_use_mm_for_euclid_dist")
    return d[i, j]


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """``||x1 - x2 + eps||_p`` over the last dimension."""
    d = max(x1.ndim, x2.ndim) - 1
    if d < 0:
        d = 0
    diff = x1 - x2 + eps
    return diff.norm(p, d, keepdim=keepdim) if diff.ndim else diff.abs()

