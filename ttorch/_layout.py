"""``ttorch.layout``: how a tensor's elements are stored. ``ttorch.strided`` (dense, ``Tensor``) and
``ttorch.sparse_coo`` (coordinates and values, ``ttorch/_sparse.py``), and the compressed
``sparse_csr``/``sparse_csc``/``sparse_bsr``/``sparse_bsc`` (``ttorch/_sparse_compressed.py``)."""


class layout:
    """A memory layout, compared by identity and printed as ``ttorch.strided``, as PyTorch's."""

    def __init__(self, name):
        self._name = name

    def __repr__(self):
        return f"ttorch.{self._name}"

    def __reduce__(self):
        return self._name   # pickled by name: the module attribute of the same name (one object each)


strided = layout("strided")
sparse_coo = layout("sparse_coo")
# the compressed layouts (``ttorch/_sparse_compressed.py``): row or column pointers, of elements or of blocks
sparse_csr = layout("sparse_csr")
sparse_csc = layout("sparse_csc")
sparse_bsr = layout("sparse_bsr")
sparse_bsc = layout("sparse_bsc")
jagged = layout("jagged")      # nested tensors: packed values and offsets (``ttorch/nested``)
