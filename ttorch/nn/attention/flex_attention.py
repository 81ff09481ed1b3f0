"""``ttorch.nn.attention.flex_attention``: attention with a user's ``score_mod`` and a block-sparse mask
(PyTorch 2.13's FlexAttention API).

Two paths. On cuda (float16, bfloat16, float32), the mods are traced once into Triton expressions and
compiled into fused flash-attention kernels that visit only the key blocks the BlockMask lists, applying
``mask_mod`` on partial blocks only (``_flex_codegen``, ``_flex_kernels``): a forward, and a dQ and a dK/dV
kernel that use the traced derivative of ``score_mod`` (captured tensors that need a gradient, such as a
learned bias table, get theirs from the dQ kernel by atomics). Elsewhere (cpu, float64, a mod the tracer can't
turn into Triton, ``return_aux`` asking for ``max_scores``) a composite of ttorch ops: scores = q k^T *
scale in float32 (float64 for float64), ``score_mod`` and ``mask_mod`` called once on broadcast index
tensors, masked pairs -inf, a softmax that gives a fully masked row zeros and logsumexp -inf; autograd
differentiates it. ``_FALLBACKS[0]`` counts the cuda calls that took it (``_flex_kernels._FALLBACK_REASONS``
says why); the cases where the cuda backward takes the composite are in ``_flex_kernels``.

Deliberate differences from PyTorch: the backward runs on cpu too (PyTorch raises NotImplementedError);
no "called without torch.compile" warning (the cuda path is already fused); the composite applies the
BlockMask's block structure as PyTorch's compiled kernels do (PyTorch's eager path reads only
``mask_mod``; the two agree for masks from ``create_block_mask``); ``return_aux=AuxRequest(max_scores=True)``
works on cpu (PyTorch raises NotImplementedError there); the kernels read a captured tensor at an
out-of-range index as 0 (PyTorch raises an index error).
"""
import math
import warnings
from typing import Callable, NamedTuple, Optional, TypedDict

from ..._tensor import Tensor
from ._block_mask import (BlockMask, create_block_mask, create_mask, and_masks, or_masks, noop_mask,  # noqa: F401
                          _create_empty_block_mask, _sliced_mask_mod_error, _LARGE_SPARSE_BLOCK_SIZE, _index_grids)

__all__ = ["BlockMask", "flex_attention", "AuxOutput", "AuxRequest", "FlexKernelOptions", "create_block_mask",
           "create_mask", "or_masks", "and_masks", "noop_mask"]

_score_mod_signature = Callable[[Tensor, Tensor, Tensor, Tensor, Tensor], Tensor]
_mask_mod_signature = Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]
_FLEX_ATTENTION_DISABLE_COMPILE_DEBUG = False       # (PyTorch's debug switch; ttorch has nothing to compile)
_FALLBACKS = [0]        # cuda calls that ran the composite (a mod the tracer could not compile)


class FlexKernelOptions(TypedDict, total=False):
    """Options for the kernels (PyTorch's keys). ttorch reads ``BLOCK_M`` and ``BLOCK_N`` (the tiles,
    which must divide the BlockMask's) and ``num_warps``/``num_stages``; the others are accepted."""
    num_warps: int
    num_stages: int
    BLOCK_M: int
    BLOCK_N: int
    PRESCALE_QK: bool
    ROWS_GUARANTEED_SAFE: bool
    BLOCKS_ARE_CONTIGUOUS: bool
    WRITE_DQ: bool
    FORCE_USE_FLEX_ATTENTION: bool
    USE_TMA: bool
    kpack: int
    matrix_instr_nonkdim: int
    waves_per_eu: int
    BACKEND: str


_BACKENDS = ("AUTO", "TRITON", "FLASH", "TRITON_DECODE")


class AuxRequest(NamedTuple):
    """Request which auxiliary outputs to compute from flex_attention."""
    lse: bool = False
    max_scores: bool = False


class AuxOutput(NamedTuple):
    """Auxiliary outputs from flex_attention operation (None where not requested)."""
    lse: Optional[Tensor] = None
    max_scores: Optional[Tensor] = None


def _identity(score, batch, head, token_q, token_kv):
    return score


_warned = set()


def _validate(query, key, value, block_mask, enable_gqa):
    if query.is_nested or key.is_nested or value.is_nested:
        raise NotImplementedError("flex_attention does not support NestedTensor inputs, including "
                                  "torch.compile(flex_attention) with jagged NestedTensor inputs. Convert inputs to "
                                  "dense tensors before calling flex_attention.")
    if query.device != key.device or query.device != value.device:
        raise ValueError(f"Expected query, key, and value to have the same device type, but got query.device: "
                         f"{query.device}, key.device: {key.device}, and value.device: {value.device} instead.")
    if query.dim() < 2 or key.dim() < 2 or value.dim() < 2:
        raise ValueError(f"Expected query, key, and value to all be  at least 2 dimensional, but got query.dim: "
                         f"{query.dim()}, key.dim: {key.dim()} and value.dim: {value.dim()} instead.")
    if query.size(-1) != key.size(-1):
        raise ValueError(f"Expect query and key/value to have the same embedding dimension but got "
                         f"E={query.size(-1)} and E={key.size(-1)}.")
    if query.device.type not in ("cuda", "cpu"):
        raise ValueError(f"FlexAttention is only supported on CUDA, CPU, HPU, or MPS devices. Found input tensors on "
                         f"{query.device.type} device.")
    if query.dim() != 4 or key.dim() != 4 or value.dim() != 4:
        raise NotImplementedError("NYI: query, key, and value must be 4D tensors")
    if not enable_gqa and query.size(-3) != key.size(-3):
        raise ValueError(f"Expect query and key/value to have the same number of heads but got Hq={query.size(-3)} "
                         f"and Hkv={key.size(-3)}. Try setting enable_gqa=True for GQA.")
    if enable_gqa and query.size(1) % key.size(1) != 0:
        raise ValueError(f"Expect number of query heads to be a multiple of kv heads for GQA but got "
                         f"Hq={query.size(1)} and Hkv={key.size(1)}.")
    if query.size(0) != key.size(0):
        if block_mask is None:
            raise ValueError(f"Expect query and key/value to have the same batch size, or non-none block_mask, but got "
                             f"block_mask=None, Bq={query.size(0)}, and Bkv={key.size(0)}.")
        if block_mask.kv_num_blocks.size(0) != query.size(0):
            raise ValueError(f"Expect query and key/value to have the same batch size, or block_mask and query to "
                             f"have the same batch size, but got Bq={query.size(0)}, Bkv={key.size(0)}, "
                             f"B_block_mask={block_mask.kv_num_blocks.size(0)}.")


def _check_block_mask(block_mask, query, key):
    if getattr(block_mask, "mask_mod", None) is _sliced_mask_mod_error:
        raise RuntimeError("Cannot use mask_mod from a sliced BlockMask")
    if block_mask.BLOCK_SIZE[0] == _LARGE_SPARSE_BLOCK_SIZE and block_mask.BLOCK_SIZE[1] == _LARGE_SPARSE_BLOCK_SIZE:
        return
    ql, kl = block_mask.shape[-2], block_mask.shape[-1]
    L, S = query.size(-2), key.size(-2)
    if L > ql or S > kl:
        raise ValueError(f"block_mask was created for block_mask.shape={block_mask.shape} but got q_len={L} and "
                         f"kv_len={S}. As the block mask was created for a smaller length than you're using it for, "
                         "you likely need to create a new block mask.")
    if (L < ql and S <= kl) or (L <= ql and S < kl):
        raise ValueError(f"block_mask was created for block_mask.shape={block_mask.shape} but got q_len={L} and "
                         f"kv_len={S}. As the block mask was created for a larger length than you're using it for, "
                         "you can either 1. create a new block mask with the correct length, or 2. 'adjust' the "
                         "existing block mask to the correct length by calling block_mask._adjust(q_len, kv_len). "
                         "This essentially 'crops' the block mask to the upper left corner, which does not work for "
                         "all mask_mods!")


def _kernel_options(kernel_options, query, return_aux):
    opts = {} if kernel_options is None else dict(kernel_options)
    if "BACKEND" in opts and opts.get("FORCE_USE_FLEX_ATTENTION", False):
        raise RuntimeError("BACKEND cannot be combined with legacy FORCE_USE_FLEX_ATTENTION. BACKEND supersedes the "
                           "legacy knob; please drop FORCE_USE_FLEX_ATTENTION and only specify the desired BACKEND.")
    if "BACKEND" in opts and opts["BACKEND"] not in _BACKENDS:
        raise ValueError(f"Invalid BACKEND value '{opts['BACKEND']}'. Must be one of {_BACKENDS}")
    if "OUTPUT_LOGSUMEXP" in opts:
        raise AssertionError("OUTPUT_LOGSUMEXP must not be in kernel_options")
    if "OUTPUT_MAX" in opts:
        raise AssertionError("OUTPUT_MAX must not be in kernel_options")
    if opts.get("BACKEND") == "FLASH" and return_aux is not None and return_aux.max_scores:
        raise NotImplementedError("Returning max scores is not supported with BACKEND='FLASH'. Use "
                                  "return_aux=AuxRequest(lse=True) or omit max_scores.")
    return opts


def flex_attention(query, key, value, score_mod=None, block_mask=None, scale=None, enable_gqa=False,
                   return_lse=False, kernel_options=None, *, return_aux=None):
    r"""Scaled dot product attention with a score modification ``score_mod(score, b, h, q_idx, kv_idx)``
    and a block-sparse ``block_mask`` (PyTorch's FlexAttention).

    Args:
        query (Tensor): :math:`(B, Hq, L, E)`; key :math:`(B, Hkv, S, E)`; value :math:`(B, Hkv, S, Ev)`.
        score_mod (Callable, optional): returns the modified score (a 0-d view of each score, as under vmap).
        block_mask (BlockMask, optional): which (query, key) pairs take part (``create_block_mask``).
        scale (float, optional): defaults to :math:`1/\sqrt{E}`.
        enable_gqa (bool): query head ``h`` reads key/value head ``h // (Hq // Hkv)``.
        return_lse (bool): also return the logsumexp (B, Hq, L) (deprecated: ``return_aux``).
        kernel_options (dict, optional): ``FlexKernelOptions``.
        return_aux (AuxRequest, optional): return ``(out, AuxOutput(lse, max_scores))``.

    A query row with no key left gives zeros and logsumexp -inf. Statistics are float32 (float64 inputs:
    float64), the output has the query's dtype.

    Example::

        >>> q = ttorch.randn(1, 2, 8, 4)
        >>> causal = create_block_mask(lambda b, h, qi, ki: qi >= ki, None, None, 8, 8, device="cpu")
        >>> flex_attention(q, q, q, score_mod=lambda s, b, h, qi, ki: s + (qi - ki), block_mask=causal).shape
        ttorch.Size([1, 2, 8, 4])
    """
    _validate(query, key, value, block_mask, enable_gqa)
    if score_mod is None:
        score_mod = _identity
    if block_mask is None:
        block_mask = _create_empty_block_mask(query, key)
    _check_block_mask(block_mask, query, key)
    if scale is None:
        scale = 1.0 / math.sqrt(query.size(-1))
    if query.device != block_mask.kv_num_blocks.device:
        raise RuntimeError(f"Expect q/k/v and block_mask to be on the same device but got {query.device} and "
                           f"{block_mask.kv_num_blocks.device}.")
    if return_lse and return_aux is not None:
        raise ValueError("Cannot specify both return_lse and return_aux. return_lse is deprecated, please use "
                         "return_aux=AuxRequest(lse=True) instead.")
    if return_lse and "deprecated_return_lse" not in _warned:
        _warned.add("deprecated_return_lse")
        warnings.warn("return_lse is deprecated and will be removed in v2.10. Please use "
                      "return_aux=AuxRequest(lse=True) instead.", FutureWarning, stacklevel=2)
    opts = _kernel_options(kernel_options, query, return_aux)
    want_max = return_aux is not None and return_aux.max_scores
    out = lse = mx = None
    if query.device.type == "cuda" and not want_max:
        from . import _flex_kernels
        res = _flex_kernels.flex_forward(query, key, value, score_mod, block_mask, float(scale), opts)
        if res is None:
            _FALLBACKS[0] += 1
        else:
            out, lse = res
    if out is None:
        out, lse, mx = _reference(query, key, value, score_mod, block_mask, float(scale), want_max)
    if return_aux is not None:
        return out, AuxOutput(lse=lse if return_aux.lse else None, max_scores=mx)
    if return_lse:
        return out, lse
    return out


# ------------------------------------------------------------------ the composite (reference) path
def _block_keep(block_mask, b, h, m, n, L, S):
    """Where the BlockMask lets pairs take part: mask_mod on partial blocks, every pair of a full block,
    nothing elsewhere; broadcastable to (B, H, L, S) bool, or None for the default (no mask)."""
    import ttorch as T
    if block_mask.BLOCK_SIZE[0] == _LARGE_SPARSE_BLOCK_SIZE and block_mask.BLOCK_SIZE[1] == _LARGE_SPARSE_BLOCK_SIZE:
        keep = block_mask.mask_mod(b, h, m, n)
        return None if block_mask.mask_mod is noop_mask else keep
    QB, KB = block_mask.BLOCK_SIZE
    dev = b.device
    rows = (T.arange(L, device=dev) // QB).view(L, 1)
    cols = (T.arange(S, device=dev) // KB).view(1, S)

    def expand(num, idx):
        from ._block_mask import _ordered_to_dense_np
        d = _ordered_to_dense_np(num, idx, idx.shape[-1]).astype(bool)
        d = d.reshape((1,) * (4 - d.ndim) + d.shape)
        return T.tensor(d, device=dev)[:, :, rows, cols]                  # (Bm, Hm, L, S)
    keep = expand(block_mask.kv_num_blocks, block_mask.kv_indices) & block_mask.mask_mod(b, h, m, n)
    if block_mask.full_kv_num_blocks is not None:
        keep = keep | expand(block_mask.full_kv_num_blocks, block_mask.full_kv_indices)
    return keep


def _reference(query, key, value, score_mod, block_mask, scale, want_max=False):
    """``(out, lse, max_scores or None)`` in ttorch ops (autograd differentiates it)."""
    import ttorch as T
    wp = T.float64 if query.dtype == T.float64 else T.float32
    G = query.size(1) // key.size(1)
    if G > 1:
        key, value = key.repeat_interleave(G, dim=1), value.repeat_interleave(G, dim=1)
    Bq, Bkv = query.size(0), key.size(0)
    if not (Bq == Bkv or (Bq > 1 and Bkv == 1)):
        raise RuntimeError(f"Bq and Bkv must broadcast. Got Bq={Bq} and Bkv={Bkv}")
    key = key.expand(Bq, *key.shape[1:])
    value = value.expand(Bq, *value.shape[1:])
    B, H, L, S = Bq, query.size(1), query.size(2), key.size(2)
    scores = (query.to(wp) @ key.to(wp).transpose(-2, -1)) * scale                       # (B, H, L, S)
    b, h, m, n = _index_grids(B, H, L, S, query.device)
    s = score_mod(scores, b, h, m, n)
    s = T.as_tensor(s, device=query.device).to(wp).expand(B, H, L, S)
    keep = _block_keep(block_mask, b, h, m, n, L, S)
    if keep is not None:
        s = T.where(T.as_tensor(keep, device=query.device).to(T.bool), s, float("-inf"))
    # a softmax safe for rows of -inf: shift by a finite, detached max, and keep every branch that
    # autograd differentiates finite (a masked row's lse is -inf by a where, not by log(0))
    mx = s.amax(-1)
    dead = T.isneginf(mx)
    shift = T.where(dead, 0.0, mx).detach()
    e = T.exp(s - shift.unsqueeze(-1))
    tot = e.sum(-1)
    p = e / T.where(dead, 1.0, tot).unsqueeze(-1)
    lse = T.where(dead, float("-inf"), T.log(T.where(dead, 1.0, tot)) + shift)
    out = p.to(query.dtype) @ value.to(query.dtype)
    return out, lse, (mx if want_max else None)
