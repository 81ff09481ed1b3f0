"""``Embedding`` and ``EmbeddingBag``: lookup tables with PyTorch's init, padding and ``from_pretrained``."""
from .. import functional as F
from .. import init
from ...autograd import no_grad
from ...ops.creation import empty
from ..parameter import Parameter
from .module import Module

__all__ = ["Embedding", "EmbeddingBag"]


def _check_padding(padding_idx, num):
    if padding_idx is not None:
        if padding_idx > 0:
            assert padding_idx < num, "Padding_idx must be within num_embeddings"
        elif padding_idx < 0:
            assert padding_idx >= -num, "Padding_idx must be within num_embeddings"
            padding_idx = num + padding_idx
    return padding_idx


def _extra(m, keys):
    s = f"{m.num_embeddings}, {m.embedding_dim}"
    for k in keys:
        v = getattr(m, k)
        if k == "max_norm" and v is not None or k == "norm_type" and v != 2 or \
                k == "scale_grad_by_freq" and v is not False or k == "padding_idx" and v is not None:
            s += f", {k}={v!r}"
        elif k == "sparse" and v is not False:
            s += ", sparse=True"
        elif k == "mode":
            s += f", mode={v!r}"
    return s


class Embedding(Module):
    r"""A lookup table: row ``i`` of ``weight`` (num_embeddings, embedding_dim) for each index ``i``.

    ``weight`` draws from N(0, 1); the ``padding_idx`` row starts at zero and gets no gradient.
    ``max_norm`` renormalises looked-up rows in place. ``sparse=True`` gives ``weight`` a sparse
    COO gradient (one entry per lookup), for ``optim.SparseAdam``, ``SGD`` and ``Adagrad``.

    Shape:
        - Input: :math:`(*)` integer indices. Output: :math:`(*, H)`.

    Example::

        >>> Embedding(10, 3)(ttorch.tensor([[1, 2, 4, 5], [4, 3, 2, 9]])).shape
        ttorch.Size([2, 4, 3])
    """

    __constants__ = ["num_embeddings", "embedding_dim", "padding_idx", "max_norm", "norm_type",
                     "scale_grad_by_freq", "sparse"]

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None, norm_type=2.0,
                 scale_grad_by_freq=False, sparse=False, _weight=None, _freeze=False, device=None, dtype=None):
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = _check_padding(padding_idx, num_embeddings)
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        if _weight is None:
            self.weight = Parameter(empty((num_embeddings, embedding_dim), device=device, dtype=dtype),
                                    requires_grad=not _freeze)
            self.reset_parameters()
        else:
            assert list(_weight.shape) == [num_embeddings, embedding_dim], \
                "Shape of weight does not match num_embeddings and embedding_dim"
            self.weight = Parameter(_weight, requires_grad=not _freeze)
        self.sparse = sparse

    def reset_parameters(self):
        init.normal_(self.weight)
        self._fill_padding_idx_with_zero()

    def _fill_padding_idx_with_zero(self):
        if self.padding_idx is not None:
            with no_grad():
                self.weight[self.padding_idx].fill_(0)

    def forward(self, input):
        return F.embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                           self.scale_grad_by_freq, self.sparse)

    def extra_repr(self):
        return _extra(self, ["padding_idx", "max_norm", "norm_type", "scale_grad_by_freq", "sparse"])

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None, max_norm=None, norm_type=2.0,
                        scale_grad_by_freq=False, sparse=False):
        """An ``Embedding`` whose weight is ``embeddings`` (2-D); frozen (no gradient) by default."""
        assert embeddings.dim() == 2, "Embeddings parameter is expected to be 2-dimensional"
        rows, cols = embeddings.shape
        return cls(num_embeddings=rows, embedding_dim=cols, _weight=embeddings, _freeze=freeze,
                   padding_idx=padding_idx, max_norm=max_norm, norm_type=norm_type,
                   scale_grad_by_freq=scale_grad_by_freq, sparse=sparse)


class EmbeddingBag(Module):
    r"""Sums, means or maxes of "bags" of embeddings, without materialising each bag's rows.

    ``forward(input, offsets=None, per_sample_weights=None)``: ``input`` (B, N) is B bags of N
    indices, or 1-D with ``offsets`` marking each bag's start. Output: (B, embedding_dim).
    ``sparse=True`` (modes sum and mean) gives ``weight`` a sparse COO gradient, one entry per lookup.

    Example::

        >>> m = EmbeddingBag(10, 3, mode="sum")
        >>> m(ttorch.tensor([1, 2, 4, 5, 4, 3, 2, 9]), ttorch.tensor([0, 4])).shape
        ttorch.Size([2, 3])
    """

    __constants__ = ["num_embeddings", "embedding_dim", "max_norm", "norm_type", "scale_grad_by_freq", "mode",
                     "sparse", "include_last_offset", "padding_idx"]

    def __init__(self, num_embeddings, embedding_dim, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
                 mode="mean", sparse=False, _weight=None, include_last_offset=False, padding_idx=None,
                 device=None, dtype=None):
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.padding_idx = _check_padding(padding_idx, num_embeddings)
        if _weight is None:
            self.weight = Parameter(empty((num_embeddings, embedding_dim), device=device, dtype=dtype))
            self.reset_parameters()
        else:
            assert list(_weight.shape) == [num_embeddings, embedding_dim], \
                "Shape of weight does not match num_embeddings and embedding_dim"
            self.weight = Parameter(_weight)
        self.mode = mode
        self.sparse = sparse
        self.include_last_offset = include_last_offset

    def reset_parameters(self):
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                self.weight[self.padding_idx].fill_(0)

    def forward(self, input, offsets=None, per_sample_weights=None):
        return F.embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type, self.scale_grad_by_freq,
                               self.mode, self.sparse, per_sample_weights, self.include_last_offset,
                               self.padding_idx)

    def extra_repr(self):
        return _extra(self, ["max_norm", "norm_type", "scale_grad_by_freq", "mode", "padding_idx"])

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
                        mode="mean", sparse=False, include_last_offset=False, padding_idx=None):
        """An ``EmbeddingBag`` whose weight is ``embeddings`` (2-D); frozen by default."""
        assert embeddings.dim() == 2, "Embeddings parameter is expected to be 2-dimensional"
        rows, cols = embeddings.shape
        bag = cls(num_embeddings=rows, embedding_dim=cols, _weight=embeddings, max_norm=max_norm,
                  norm_type=norm_type, scale_grad_by_freq=scale_grad_by_freq, mode=mode, sparse=sparse,
                  include_last_offset=include_last_offset, padding_idx=padding_idx)
        bag.weight.requires_grad = not freeze
        return bag
