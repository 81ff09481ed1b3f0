"""Quantized ``Embedding`` (``ttorch.ao.nn.quantized.Embedding``): a quint8 table quantized per row with float
scales and zero points (``per_channel_affine_float_qparams``: ``convert`` with
``float_qparams_weight_only_qconfig``); looking rows up returns float32, ``q * scale + bias`` with ``bias =
-zero_point * scale`` formed as one fused multiply-add, as PyTorch's ``embedding_byte``.

state_dict: ``_packed_params.dtype`` and ``_packed_params._packed_weight`` (the quantized table), PyTorch's keys.
Difference from PyTorch: no 4-bit (quint4x2) tables, no EmbeddingBag; ``max_norm`` is not supported (as
PyTorch's).
"""
from .....nn.modules.module import Module
from .....nn.modules.sparse import Embedding as _FloatEmbedding
from ..... import _quantized as Q
from .linear import _quantize_weight


class EmbeddingPackedParams(Module):
    """Holds the quantized table of an ``Embedding``."""

    _version = 1

    def __init__(self, num_embeddings, embedding_dim, dtype=Q.quint8):
        super().__init__()
        import ttorch
        self.dtype = dtype
        if dtype is not Q.quint8:
            raise NotImplementedError(f"Unsupported dtype on quantized embedding! Supports quint8, got {dtype}")
        w = ttorch.quantize_per_channel(ttorch.zeros(num_embeddings, embedding_dim), ttorch.ones(num_embeddings),
                                        ttorch.zeros(num_embeddings), 0, dtype)
        self.set_weight(w)

    def set_weight(self, weight):
        if weight.qscheme() is not Q.per_channel_affine_float_qparams:
            raise RuntimeError("Expected weight to be quantized with per_channel_affine_float_qparams")
        self._packed_weight_q = weight
        s = weight.q_per_channel_scales().float()
        self._scales = s
        # the row bias -zero_point * scale in float32, as the packed table stores it
        self._biases = (weight.q_per_channel_zero_points().float() * -1.0) * s

    def _weight(self):
        return self._packed_weight_q

    def forward(self, x):
        return x

    def _apply(self, fn, recurse=True):
        self.set_weight(fn(self._packed_weight_q))
        return self

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        super()._save_to_state_dict(destination, prefix, keep_vars)
        destination[prefix + "dtype"] = self.dtype
        destination[prefix + "_packed_weight"] = self._weight()

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        self.dtype = state_dict.pop(prefix + "dtype", self.dtype)
        if prefix + "_packed_weight" in state_dict:
            self.set_weight(state_dict.pop(prefix + "_packed_weight"))
        elif strict:
            missing_keys.append(prefix + "_packed_weight")
        super()._load_from_state_dict(state_dict, prefix, local_metadata, False, missing_keys, unexpected_keys,
                                      error_msgs)

    def __repr__(self):
        return repr(self._weight())


class Embedding(Module):
    """A quantized embedding table: integer indices in, float32 rows out.

    Example::

        >>> import ttorch
        >>> e = ttorch.ao.nn.quantized.Embedding(10, 3)
        >>> e(ttorch.tensor([[1, 2]])).shape
        ttorch.Size([1, 2, 3])
    """

    _version = 1

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None, norm_type=2.0,
                 scale_grad_by_freq=False, sparse=False, _weight=None, dtype=Q.quint8):
        super().__init__()
        self.num_embeddings, self.embedding_dim, self.dtype = num_embeddings, embedding_dim, dtype
        self._packed_params = EmbeddingPackedParams(num_embeddings, embedding_dim, dtype)
        if _weight is not None:
            if list(_weight.shape) != [num_embeddings, embedding_dim]:
                raise AssertionError("Shape of weight does not match num_embeddings and embedding_dim")
            self._packed_params.set_weight(_weight)

    def _get_name(self):
        return "QuantizedEmbedding"

    def extra_repr(self):
        return (f"num_embeddings={self.num_embeddings}, embedding_dim={self.embedding_dim}, "
                f"dtype={self._packed_params.dtype}, qscheme={self.weight().qscheme()}")

    def __repr__(self):
        return f"{self._get_name()}({self.extra_repr()})"

    def forward(self, indices):
        import ttorch
        p = self._packed_params
        idx = indices.reshape(-1)
        q = p._packed_weight_q._int.index_select(0, idx).double()              # (L, D)
        s = p._scales.index_select(0, idx).double().unsqueeze(1)
        b = p._biases.index_select(0, idx).double().unsqueeze(1)
        out = (q * s + b).to(ttorch.float32)        # fma(q, scale, bias): exact in float64, rounded once
        return out.reshape(*indices.shape, self.embedding_dim)

    def weight(self):
        return self._packed_params._weight()

    def set_weight(self, w):
        self._packed_params.set_weight(w)

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        """The quantized embedding of ``mod`` (its qconfig's weight observer: per-row float qparams)."""
        if type(mod) is not _FloatEmbedding:
            raise AssertionError("nnq.Embedding.from_float only works for nn.Embedding")
        if not hasattr(mod, "qconfig"):
            raise AssertionError("Embedding input float module must have qconfig defined")
        weight_observer = mod.qconfig.weight()
        if weight_observer.qscheme is not Q.per_channel_affine_float_qparams:
            raise AssertionError("Embedding quantization is only supported with float_qparams_weight_only_qconfig.")
        if weight_observer.dtype is not Q.quint8:
            raise AssertionError(f"The only supported dtype for nnq.Embedding is torch.quint8, got "
                                 f"{weight_observer.dtype}")
        weight_observer(mod.weight)
        qweight = _quantize_weight(mod.weight.detach().float(), weight_observer)
        q = cls(mod.num_embeddings, mod.embedding_dim)
        q.set_weight(qweight)
        return q

