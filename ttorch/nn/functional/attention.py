"""Attention: ``scaled_dot_product_attention`` and ``multi_head_attention_forward`` (PyTorch's math).

``scaled_dot_product_attention`` runs the fused flash-attention op (``ttorch/ops/attention.py``:
Triton kernels on cuda, NumPy on cpu) when it applies, and otherwise this module's composite of
ttorch ops (matmul, softmax, where), which autograd differentiates to any order.
"""
import math
import warnings

from ... import _dtype as D
from ..._tensor import Tensor
from ...ops import FUNCTIONS as _F
from ...ops.attention import flash_attention, MAX_HEAD_DIM
from .activation import softmax
from .linear import linear, dropout
from .conv import pad
from ...ops import _op as _amp_op
from .. import attention as _backends

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]

_NEG_INF = float("-inf")


def _causal_keep(L, S, device):
    """(L, S) bool, True where query i may attend key j: the top-left aligned lower triangle."""
    return _F["ones"]((L, S), dtype=D.bool, device=device).tril(diagonal=0)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False):
    r"""``softmax(Q K^T * scale + bias) V`` over the last two dims, with PyTorch's semantics.

    Runs the fused flash-attention op (Triton kernels forward and backward on cuda, NumPy on cpu)
    for float16/bfloat16/float32 inputs of 3 or 4 dims with head dims up to 256; on cuda with
    dropout too (its mask drawn by Philox inside the kernels, nothing of size L x S stored; see
    ``ttorch.ops.attention``). float64, dropout on cpu and other shapes take a composite of ttorch
    ops (PyTorch's math; cpu dropout draws from the cpu generator, as ``F.dropout`` does).
    ``ttorch.nn.attention.sdpa_kernel`` restricts the choice (``MATH``: the composite; the fused
    backends: the fused op) and makes a call that no enabled backend can run an error.

    Args:
        query (Tensor): :math:`(N, ..., Hq, L, E)`; key :math:`(N, ..., H, S, E)`; value
            :math:`(N, ..., H, S, Ev)`.
        attn_mask (Tensor, optional): broadcastable to :math:`(N, ..., L, S)`; bool: True means the
            pair takes part; float: added to the scores.
        dropout_p (float): dropout on the attention weights (always applied when > 0).
        is_causal (bool): mask with the top-left aligned lower triangle; an error with ``attn_mask``.
        scale (float, optional): defaults to :math:`1/\sqrt{E}`.
        enable_gqa (bool): repeat each key/value head ``Hq // H`` times (grouped-query attention).

    A query row whose every key is masked gives zeros (PyTorch's safe softmax), not NaN.

    Example::

        >>> q = ttorch.randn(2, 3, 4, 8)
        >>> scaled_dot_product_attention(q, q, q, is_causal=True).shape
        ttorch.Size([2, 3, 4, 8])
    """
    if attn_mask is not None and type(attn_mask) is not Tensor and getattr(type(attn_mask), "_is_causal_bias", False):
        # a ttorch.nn.attention.bias.CausalBias: it picks the kernel (PyTorch routes it by __torch_function__)
        return attn_mask._dispatch(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa)
    if _amp_op._autocast is not None:  # ttorch.amp: PyTorch's autocast lists
        return _amp_op._autocast.call("scaled_dot_product_attention", scaled_dot_product_attention, query, key,
                                      value, attn_mask, dropout_p, is_causal, scale, enable_gqa)
    if query.is_nested or key.is_nested or value.is_nested:     # jagged batches: attention per sequence
        from ...nested._ops import scaled_dot_product_attention as nested_sdpa
        return nested_sdpa(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa)
    if query.dtype != key.dtype or query.dtype != value.dtype:
        raise RuntimeError(f"Expected query, key, and value to have the same dtype, but got query.dtype: "
                           f"{query.dtype} key.dtype: {key.dtype} and value.dtype: {value.dtype} instead.")
    if attn_mask is not None and attn_mask.dtype != D.bool and not attn_mask.dtype.is_floating_point:
        raise RuntimeError(f"Expected attn_mask dtype to be bool or float or to match query dtype, but got "
                           f"attn_mask.dtype: {attn_mask.dtype} and  query.dtype: {query.dtype} instead.")
    if is_causal and attn_mask is not None:
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True")
    L, S = query.size(-2), key.size(-2)
    scale_factor = 1.0 / math.sqrt(query.size(-1)) if scale is None else scale
    if _use_fused(query, key, value, attn_mask, dropout_p, enable_gqa):
        three = query.dim() == 3    # (N, L, E): one head
        q, k, v = (t.unsqueeze(1) for t in (query, key, value)) if three else (query, key, value)
        m = attn_mask.unsqueeze(1) if three and attn_mask is not None and attn_mask.dim() == 3 else attn_mask
        out = flash_attention(q, k, v, m, scale=scale_factor, is_causal=is_causal, dropout_p=dropout_p)[0]
        return out.squeeze(1) if three else out
    if enable_gqa and query.dim() >= 3:
        hq, hk, hv = query.size(-3), key.size(-3), value.size(-3)
        if hq % hk != 0 or hq % hv != 0:
            raise RuntimeError("Number of heads in key and value must divide the number of heads in query")
        if hk != hq:
            key = key.repeat_interleave(hq // hk, -3)
        if hv != hq:
            value = value.repeat_interleave(hq // hv, -3)
    scores = (query @ key.transpose(-2, -1)) * scale_factor  # (N, ..., L, S)
    if is_causal:
        # Top-left alignment keeps column 0 for every row, so no row is fully masked.
        scores = scores.masked_fill(_causal_keep(L, S, query.device).logical_not(), _NEG_INF)
        att = softmax(scores, dim=-1)
    elif attn_mask is not None:
        if attn_mask.dtype == D.bool:
            scores = scores.masked_fill(attn_mask.logical_not(), _NEG_INF)
        else:
            scores = scores + attn_mask
        # PyTorch's _safe_softmax: a row masked everywhere gives zeros. Zero its scores first, so
        # neither the forward nor the backward of softmax sees an all -inf row (NaN).
        dead = (scores == _NEG_INF).all(dim=-1, keepdim=True)
        att = softmax(_F["where"](dead, 0.0, scores), dim=-1)
        att = _F["where"](dead, 0.0, att)
    else:
        att = softmax(scores, dim=-1)
    if dropout_p > 0.0:
        att = dropout(att, dropout_p, training=True)
    return att @ value  # (N, ..., L, Ev)


def _use_fused(q, k, v, mask, dropout_p, enable_gqa):
    """Whether the call takes the fused op (True) or the math composite (False), trying the backends
    ``nn.attention.sdpa_kernel`` left enabled in their order; PyTorch's errors when none can run it."""
    order = _backends._backend_order(q.device.type)
    if not order:
        raise RuntimeError("No viable backend for scaled_dot_product_attention was found. This is likely due to "
                           "turning off both the math kernel and the fused kernels.")
    for backend in order:
        if backend is _backends.SDPBackend.MATH:
            return False
        if _flash_applies(q, k, v, mask, dropout_p, enable_gqa):
            return True
    raise RuntimeError("No available kernel.  Aborting execution.")  # two spaces: PyTorch's text


def _flash_applies(q, k, v, mask, dropout_p, enable_gqa):
    """Whether the fused op computes what the composite would: same batch, key/value heads equal
    (or grouped with ``enable_gqa``), a mask that broadcasts to (N, H, L, S); dropout only on cuda,
    below 1, with fewer than 2**31 pairs a head and heads in all."""
    if q.dtype not in (D.float16, D.bfloat16, D.float32) or q.dim() not in (3, 4):
        return False
    if dropout_p > 0.0 and (not q.is_cuda or dropout_p >= 1.0 or q.size(-2) * k.size(-2) >= 1 << 31
                            or q.numel() // max(1, q.size(-1) * q.size(-2)) >= 1 << 31):
        return False
    if k.dim() != q.dim() or v.dim() != q.dim() or q.shape[0] != k.shape[0] or k.shape[:-1] != v.shape[:-1]:
        return False
    e, ev = q.size(-1), v.size(-1)
    if k.size(-2) == 0 or k.size(-1) != e or not 0 < min(e, ev) <= max(e, ev) <= MAX_HEAD_DIM:
        return False
    if q.dim() == 4:
        hq, hk = q.size(1), k.size(1)
        if hq != hk and not (enable_gqa and hq % hk == 0):
            return False
    if mask is not None:
        full = q.shape[:-1] + (k.size(-2),)
        if mask.dim() > q.dim() or any(m not in (1, n) for m, n in zip(reversed(mask.shape), reversed(full))):
            return False
    return True


# ---------------------------------------------------------------------------------------- masks
def _none_or_dtype(input):
    if input is None:
        return None
    if isinstance(input, Tensor):
        return input.dtype
    raise RuntimeError("input to _none_or_dtype() must be None or torch.Tensor")


def _canonical_mask(mask, mask_name, other_type, other_name, target_type, check_other=True):
    """A bool mask (True = masked out) becomes a float mask of 0 and -inf, as PyTorch's modules do."""
    if mask is not None:
        if mask.dtype != D.bool and not mask.dtype.is_floating_point:
            raise AssertionError(f"only bool and floating types of {mask_name} are supported")
        if check_other and other_type is not None and mask.dtype != other_type:
            warnings.warn(f"Support for mismatched {mask_name} and {other_name} is deprecated. Use same type for "
                          "both instead.")
        if not mask.dtype.is_floating_point:
            mask = _F["zeros_like"](mask, dtype=target_type).masked_fill(mask, _NEG_INF)
    return mask


def _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads):
    if query.dim() == 3:
        assert key.dim() == 3 and value.dim() == 3, (
            "For batched (3-D) `query`, expected `key` and `value` to be 3-D but found "
            f"{key.dim()}-D and {value.dim()}-D tensors respectively")
        if key_padding_mask is not None:
            assert key_padding_mask.dim() == 2, (
                "For batched (3-D) `query`, expected `key_padding_mask` to be `None` or 2-D but found "
                f"{key_padding_mask.dim()}-D tensor instead")
        if attn_mask is not None:
            assert attn_mask.dim() in (2, 3), (
                "For batched (3-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D but found "
                f"{attn_mask.dim()}-D tensor instead")
        return True
    if query.dim() == 2:
        assert key.dim() == 2 and value.dim() == 2, (
            "For unbatched (2-D) `query`, expected `key` and `value` to be 2-D but found "
            f"{key.dim()}-D and {value.dim()}-D tensors respectively")
        if key_padding_mask is not None:
            assert key_padding_mask.dim() == 1, (
                "For unbatched (2-D) `query`, expected `key_padding_mask` to be `None` or 1-D but found "
                f"{key_padding_mask.dim()}-D tensor instead")
        if attn_mask is not None:
            assert attn_mask.dim() in (2, 3), (
                "For unbatched (2-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D but found "
                f"{attn_mask.dim()}-D tensor instead")
            if attn_mask.dim() == 3:
                expected = (num_heads, query.shape[0], key.shape[0])
                assert tuple(attn_mask.shape) == expected, \
                    f"Expected `attn_mask` shape to be {expected} but got {attn_mask.shape}"
        return False
    raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but received {query.dim()}-D query "
                         "tensor")


def _in_projection_packed(q, k, v, w, b=None):
    E = q.size(-1)
    if k is v:
        if q is k:  # self-attention: one GEMM against the stacked weight
            proj = linear(q, w, b).unflatten(-1, (3, E))
            return proj[..., 0, :], proj[..., 1, :], proj[..., 2, :]
        w_q, w_kv = w.split([E, E * 2])
        b_q, b_kv = (None, None) if b is None else b.split([E, E * 2])
        kv = linear(k, w_kv, b_kv).unflatten(-1, (2, E))
        return linear(q, w_q, b_q), kv[..., 0, :], kv[..., 1, :]
    w_q, w_k, w_v = w.chunk(3)
    b_q, b_k, b_v = (None, None, None) if b is None else b.chunk(3)
    return linear(q, w_q, b_q), linear(k, w_k, b_k), linear(v, w_v, b_v)


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias,
                                 bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight, out_proj_bias,
                                 training=True, key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None, k_proj_weight=None,
                                 v_proj_weight=None, static_k=None, static_v=None, average_attn_weights=True,
                                 is_causal=False):
    r"""The computation of ``nn.MultiheadAttention`` on sequence-first inputs :math:`(L, N, E)` or :math:`(L, E)`.

    Masks follow the module's convention: bool True (or -inf) means *not* attended. Returns
    ``(attn_output, attn_weights)``; the weights are None unless ``need_weights``.
    """
    is_batched = _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not is_batched:  # pretend a batch of one, squeezed again at the end
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask", _none_or_dtype(attn_mask), "attn_mask",
                                       query.dtype)
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the Transformer module "
                           "method `generate_square_subsequent_mask` to create this mask.")
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None  # the hint alone drives SDPA
    else:
        attn_mask = _canonical_mask(attn_mask, "attn_mask", None, "", query.dtype, check_other=False)
        if key_padding_mask is not None:
            is_causal = False  # the merged mask is no longer causal
    assert embed_dim == embed_dim_to_check, \
        f"was expecting embedding dimension of {embed_dim_to_check}, but got {embed_dim}"
    head_dim = embed_dim // num_heads
    assert head_dim * num_heads == embed_dim, f"embed_dim {embed_dim} not divisible by num_heads {num_heads}"
    if use_separate_proj_weight:
        assert key.shape[:2] == value.shape[:2], \
            f"key's sequence and batch dims {key.shape[:2]} do not match value's {value.shape[:2]}"
        assert q_proj_weight is not None, "use_separate_proj_weight is True but q_proj_weight is None"
        assert k_proj_weight is not None, "use_separate_proj_weight is True but k_proj_weight is None"
        assert v_proj_weight is not None, "use_separate_proj_weight is True but v_proj_weight is None"
        b_q, b_k, b_v = (None, None, None) if in_proj_bias is None else in_proj_bias.chunk(3)
        q, k, v = linear(query, q_proj_weight, b_q), linear(key, k_proj_weight, b_k), linear(value, v_proj_weight, b_v)
    else:
        assert key.shape == value.shape, f"key shape {key.shape} does not match value shape {value.shape}"
        assert in_proj_weight is not None, "use_separate_proj_weight is False but in_proj_weight is None"
        q, k, v = _in_projection_packed(query, key, value, in_proj_weight, in_proj_bias)

    if attn_mask is not None:
        if attn_mask.dim() == 2:
            if tuple(attn_mask.shape) != (tgt_len, src_len):
                raise RuntimeError(f"The shape of the 2D attn_mask is {attn_mask.shape}, but should be "
                                   f"{(tgt_len, src_len)}.")
            attn_mask = attn_mask.unsqueeze(0)
        elif attn_mask.dim() == 3:
            if tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, src_len):
                raise RuntimeError(f"The shape of the 3D attn_mask is {attn_mask.shape}, but should be "
                                   f"{(bsz * num_heads, tgt_len, src_len)}.")
        else:
            raise RuntimeError(f"attn_mask's dimension {attn_mask.dim()} is not supported")

    if bias_k is not None and bias_v is not None:
        assert static_k is None, "bias cannot be added to static key."
        assert static_v is None, "bias cannot be added to static value."
        k = _F["cat"]([k, bias_k.repeat(1, bsz, 1)])
        v = _F["cat"]([v, bias_v.repeat(1, bsz, 1)])
        if attn_mask is not None:
            attn_mask = pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = pad(key_padding_mask, (0, 1))
    else:
        assert bias_k is None
        assert bias_v is None

    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)  # (B*nh, L, hd)
    if static_k is None:
        k = k.reshape(k.shape[0], bsz * num_heads, head_dim).transpose(0, 1)  # (B*nh, S, hd)
    else:
        assert static_k.size(0) == bsz * num_heads, \
            f"expecting static_k.size(0) of {bsz * num_heads}, but got {static_k.size(0)}"
        assert static_k.size(2) == head_dim, f"expecting static_k.size(2) of {head_dim}, but got {static_k.size(2)}"
        k = static_k
    if static_v is None:
        v = v.reshape(v.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    else:
        assert static_v.size(0) == bsz * num_heads, \
            f"expecting static_v.size(0) of {bsz * num_heads}, but got {static_v.size(0)}"
        assert static_v.size(2) == head_dim, f"expecting static_v.size(2) of {head_dim}, but got {static_v.size(2)}"
        v = static_v

    if add_zero_attn:
        zeros = _F["zeros"]((bsz * num_heads, 1, head_dim), dtype=k.dtype, device=k.device)
        k = _F["cat"]([k, zeros], dim=1)
        v = _F["cat"]([v, zeros], dim=1)
        if attn_mask is not None:
            attn_mask = pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = pad(key_padding_mask, (0, 1))
    src_len = k.size(1)

    if key_padding_mask is not None:
        assert tuple(key_padding_mask.shape) == (bsz, src_len), \
            f"expecting key_padding_mask shape of {(bsz, src_len)}, but got {key_padding_mask.shape}"
        key_padding_mask = key_padding_mask.view(bsz, 1, 1, src_len).expand(-1, num_heads, -1, -1) \
            .reshape(bsz * num_heads, 1, src_len)
        attn_mask = key_padding_mask if attn_mask is None else attn_mask + key_padding_mask
    if not training:
        dropout_p = 0.0

    if need_weights:
        assert not (is_causal and attn_mask is None), "FIXME: is_causal not implemented for need_weights"
        q_scaled = q * math.sqrt(1.0 / float(head_dim))
        weights = q_scaled @ k.transpose(-2, -1)  # (B*nh, L, S)
        if attn_mask is not None:
            weights = weights + attn_mask
        weights = softmax(weights, dim=-1)
        if dropout_p > 0.0:
            weights = dropout(weights, p=dropout_p)
        out = (weights @ v).transpose(0, 1).contiguous().view(tgt_len * bsz, embed_dim)
        out = linear(out, out_proj_weight, out_proj_bias).view(tgt_len, bsz, -1)
        weights = weights.view(bsz, num_heads, tgt_len, src_len)
        if average_attn_weights:
            weights = weights.mean(dim=1)
        if not is_batched:
            out, weights = out.squeeze(1), weights.squeeze(0)
        return out, weights

    if attn_mask is not None:  # (1, L, S) or (B*nh, L, S) -> broadcastable to (B, nh, L, S)
        if attn_mask.size(0) == 1 and attn_mask.dim() == 3:
            attn_mask = attn_mask.unsqueeze(0)
        else:
            attn_mask = attn_mask.view(bsz, num_heads, -1, src_len)
    q = q.reshape(bsz, num_heads, tgt_len, head_dim)
    k = k.reshape(bsz, num_heads, src_len, head_dim)
    v = v.reshape(bsz, num_heads, src_len, head_dim)
    out = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal)  # (B, nh, L, hd)
    out = out.permute(2, 0, 1, 3).contiguous().view(bsz * tgt_len, embed_dim)
    out = linear(out, out_proj_weight, out_proj_bias).view(tgt_len, bsz, -1)
    if not is_batched:
        out = out.squeeze(1)
    return out, None
