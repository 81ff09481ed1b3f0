"""Causal biases for ``scaled_dot_product_attention`` (PyTorch's ``torch.nn.attention.bias``).

``causal_upper_left(L, S)`` is ``is_causal=True`` (query i sees keys j <= i); ``causal_lower_right(L, S)``
aligns the triangle to the bottom-right corner (query i sees keys j <= i + S - L: the last query sees
every key, as when decoding against a cache). Passed as ``attn_mask`` to
``ttorch.nn.functional.scaled_dot_product_attention`` they run the fused causal kernel (upper left, or
any variant when L == S) or a materialised bool mask (lower right).

Deliberate difference: PyTorch's ``CausalBias`` is a ``torch.Tensor`` subclass routed by
``__torch_function__``; ttorch's is a plain object that ``scaled_dot_product_attention`` recognises
(``isinstance(bias, Tensor)`` is False). It keeps ``__torch_function__`` for code that calls it.
"""
from enum import IntEnum, auto
from warnings import warn

__all__ = ["causal_upper_left", "causal_lower_right", "CausalVariant", "CausalBias"]


class CausalVariant(IntEnum):
    r"""The causal variants: ``UPPER_LEFT`` (``torch.tril(torch.ones(size))``) and ``LOWER_RIGHT``
    (``torch.tril(torch.ones(size), diagonal=size[1] - size[0])``); equal when the matrix is square."""
    UPPER_LEFT = auto()
    LOWER_RIGHT = auto()


class CausalBias:
    """A causal (triangular) attention bias of ``variant`` for (seq_len_q, seq_len_kv); made by
    ``causal_upper_left`` / ``causal_lower_right``.

    Example::

        >>> import ttorch.nn.functional as F
        >>> from ttorch.nn.attention.bias import causal_lower_right
        >>> q, k = ttorch.randn(1, 2, 3, 8), ttorch.randn(1, 2, 5, 8)
        >>> F.scaled_dot_product_attention(q, k, k, causal_lower_right(3, 5)).shape
        ttorch.Size([1, 2, 3, 8])
    """

    _is_causal_bias = True      # what scaled_dot_product_attention looks for

    def __init__(self, variant, seq_len_q, seq_len_kv):
        if not isinstance(variant, CausalVariant):
            raise AssertionError(f"variant must be a CausalVariant, got {type(variant).__name__}")
        self.variant = variant
        self.seq_len_q = seq_len_q
        self.seq_len_kv = seq_len_kv
        if seq_len_q > seq_len_kv and variant == CausalVariant.LOWER_RIGHT:
            warn("Lower right causal bias will produce NaNs in the output when seq_len_q > seq_len_kv!",
                 stacklevel=2)

    def _upper_left(self, device):
        import ttorch
        return ttorch.tril(ttorch.ones(self.seq_len_q, self.seq_len_kv, device=device, dtype=ttorch.bool))

    def _lower_right(self, device):
        import ttorch
        return ttorch.tril(ttorch.ones(self.seq_len_q, self.seq_len_kv, device=device, dtype=ttorch.bool),
                           diagonal=self.seq_len_kv - self.seq_len_q)

    def _materialize(self, device=None):
        """The bias as an (L, S) bool tensor (True: the pair takes part) on ``device`` (default cpu)."""
        if device is None:
            device = "cpu"
        if self.variant == CausalVariant.UPPER_LEFT:
            return self._upper_left(device)
        if self.variant == CausalVariant.LOWER_RIGHT:
            return self._lower_right(device)

    @staticmethod
    def _dispatch(query, key, value, attn_mask, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
        """``scaled_dot_product_attention`` with ``attn_mask`` a CausalBias."""
        from ..functional import scaled_dot_product_attention as sdpa
        if is_causal:
            raise ValueError("CausalBias should not be used with causal=True")
        if attn_mask.seq_len_q == attn_mask.seq_len_kv or attn_mask.variant == CausalVariant.UPPER_LEFT:
            return sdpa(query, key, value, attn_mask=None, dropout_p=dropout_p, is_causal=True, scale=scale,
                        enable_gqa=enable_gqa)
        if attn_mask.variant == CausalVariant.LOWER_RIGHT:
            return sdpa(query, key, value, attn_mask=attn_mask._materialize(query.device), dropout_p=dropout_p,
                        is_causal=False, scale=scale, enable_gqa=enable_gqa)
        raise ValueError(f"CausalBias.variant must be a CausalVariant type, but found: {attn_mask.variant}")

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        """Route ``scaled_dot_product_attention`` to ``_dispatch``; other functions see the materialised mask."""
        from ..functional import scaled_dot_product_attention as sdpa
        kwargs = kwargs or {}
        if func is sdpa:
            return cls._dispatch(*args, **kwargs)
        args = [a._materialize() if isinstance(a, CausalBias) else a for a in args]
        return func(*args, **kwargs)

    def __repr__(self):
        return self._materialize().__repr__()


def causal_upper_left(*size):
    """An upper-left triangular causal bias of ``size`` (L, S): ``is_causal=True``'s mask."""
    if len(size) != 2:
        raise AssertionError("causal_upper_left only supports 2D tensors")
    seq_len_q, seq_len_kv = size
    return CausalBias(CausalVariant.UPPER_LEFT, seq_len_q, seq_len_kv)


def causal_lower_right(*size):
    """A lower-right triangular causal bias of ``size`` (L, S): query i sees keys j <= i + S - L."""
    if len(size) != 2:
        raise AssertionError("causal_lower_right only supports 2D tensors")
    seq_len_q, seq_len_kv = size
    return CausalBias(CausalVariant.LOWER_RIGHT, seq_len_q, seq_len_kv)
