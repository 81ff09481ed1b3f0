"""Making sparse COO tensors: ``ttorch.sparse_coo_tensor``, ``Tensor.to_sparse`` (``dense_to_sparse``),
and their printout (PyTorch's: ``indices=tensor(...)``, ``values=tensor(...)``, then size, nnz, layout).
The tensor type itself and its ops are in ``ttorch/_sparse.py``."""
import numpy as np

from .. import _dtype as D
from .._layout import sparse_coo, sparse_csc, sparse_csr, strided
from .._tensor import Tensor, _numel
from .._sparse import SparseTensor, _mask, _tracked, _unravel


def _suffixes(s):
    """The printout's suffixes of a sparse tensor (any layout), in PyTorch's order."""
    suffixes = [f"device='{s.device}'"] if s.device.type != "cpu" else []
    suffixes += [f"size={tuple(s._shape)}", f"nnz={s._nnz()}"]
    if s.dtype not in (D.get_default_dtype(), D.int64, D.bool, D._kind_default(3)):     # (as dense printing)
        suffixes.append(f"dtype={s.dtype}")
    suffixes.append(f"layout={s.layout}")
    if s.grad_fn is not None:
        suffixes.append(f"grad_fn=<{s.grad_fn.name()}>")
    elif s.requires_grad:
        suffixes.append("requires_grad=True")
    return suffixes


def _part(t, prefix, indent):
    """One part of a sparse printout (indices, values...): the dense printout's body (as ``_tensor_str._str``
    makes it), indented under ``prefix``."""
    from .._tensor_str import PRINT_OPTS, _body, _Formatter, _summarized
    if t.numel() == 0:
        return prefix + f"[], size={tuple(t.shape)})"
    a = t._host()
    if t.dtype is D.bfloat16 or t.dtype is D.float16:
        a = a.astype(np.float32)
    summarize = a.size > PRINT_OPTS["threshold"]
    fmt = _Formatter(_summarized(a) if summarize else a, t.dtype.is_floating_point)
    return prefix + _body(a, indent + len(prefix), summarize, fmt) + ")"


def _repr(s):
    from .._tensor_str import _add_suffixes
    indent = len("tensor(")
    ind, val = s._ind, s._val.detach()
    suffixes = _suffixes(s)
    body = lambda t, prefix: _part(t, prefix, indent)
    text = "tensor(" + body(ind, "indices=tensor(") + ",\n" + " " * indent + body(val, "values=tensor(")
    return _add_suffixes(text + ",\n" + " " * indent + suffixes[0], suffixes[1:], indent)


def _rebuild_sparse(ind, val, shape, coalesced, device, requires_grad):
    s = SparseTensor._new(ind.to(device), val.to(device), shape, coalesced)
    s.requires_grad = requires_grad
    return s


# ---------------------------------------------------------------------------------- constructors
def sparse_coo_tensor(indices, values, size=None, *, dtype=None, device=None, pin_memory=False, requires_grad=False,
                      check_invariants=None, is_coalesced=None):
    """A sparse COO tensor with entries ``values[k]`` at ``indices[:, k]`` (duplicates are summed).

    Args:
        indices (array_like): (sparse_dim, nnz) integer coordinates (kept as int64).
        values (array_like): (nnz, *dense_shape) values.
        size (list, tuple, Size): the shape; default the smallest that holds every index.
        check_invariants (bool): check that indices are within ``size``. Default:
            ``ttorch.sparse.check_sparse_tensor_invariants.is_enabled()`` (False).
        is_coalesced (bool): declare the indices sorted and unique (not checked).

    Example::

        >>> ttorch.sparse_coo_tensor([[0, 1], [2, 0]], [3., 4.], (2, 3)).to_dense()
        tensor([[0., 0., 3.],
                [4., 0., 0.]])
    """
    from ..ops.creation import tensor
    if not isinstance(values, Tensor):
        values = tensor(values, dtype=dtype, device=device)
    elif dtype is not None or device is not None:
        values = values.to(device=device if device is not None else values.device, dtype=dtype or values.dtype)
    ind = indices.detach() if isinstance(indices, Tensor) else tensor(indices, dtype=D.int64)
    ind = ind.to(device=values.device, dtype=D.int64)
    if ind.ndim != 2:
        raise RuntimeError(f"indices must be sparse_dim x nnz, but got: {list(ind.shape)}")
    if ind._shape[1] != values._shape[0] if values.ndim else True:
        raise RuntimeError(f"indices and values must have same nnz, but got nnz from indices: {ind._shape[1]}, nnz "
                           f"from values: {values._shape[0] if values.ndim else 1}")
    sd, dd = ind._shape[0], values.ndim - 1
    if size is None:
        top = ind.max(1).values + 1 if ind._shape[1] else None
        size = (tuple(int(v) for v in top.tolist()) if top is not None else (0,) * sd) + tuple(values._shape[1:])
    size = tuple(int(n) for n in size)
    if len(size) != sd + dd:
        raise RuntimeError(f"'len(size) == sparse_dim + dense_dim' is not satisfied: len(size) = {len(size)}, "
                           f"sparse_dim = {sd}, dense_dim = {dd}")
    if tuple(values._shape[1:]) != size[sd:]:
        raise RuntimeError(f"values has incorrect size, expected {[values._shape[0]] + list(size[sd:])}, got "
                           f"{list(values.shape)}")
    if check_invariants is None:
        from ._compressed import check_sparse_tensor_invariants
        check_invariants = check_sparse_tensor_invariants.is_enabled()
    if check_invariants and ind._shape[1]:
        lo, hi = ind.min(1).values.tolist(), ind.max(1).values.tolist()
        for d in range(sd):
            if lo[d] < 0:
                raise RuntimeError(f"found negative index {lo[d]} for dim {d}")
            if hi[d] >= size[d]:
                raise RuntimeError(f"size is inconsistent with indices: for dim {d}, size is {size[d]} but found "
                                   f"index {hi[d]}")
    out = _tracked("SparseCooTensorWithDimsAndTensorsBackward0",
                   lambda v: SparseTensor._new(ind, v.detach(), size, bool(is_coalesced)),
                   lambda g: (_mask(g, SparseTensor._new(ind, values, size))._val,), values)
    if requires_grad:
        out.requires_grad_(True)
    return out


def dense_to_sparse(t, sparse_dim=None, layout=None, blocksize=None, dense_dim=None):
    """``Tensor.to_sparse``: the entries of ``t`` nonzero over the first ``sparse_dim`` dims, coalesced
    (a compressed ``layout``: ``_sparse_compressed.from_dense``)."""
    if layout not in (None, sparse_coo, strided) and layout is not None:
        from .._sparse_compressed import from_dense
        if sparse_dim is not None:
            raise RuntimeError(f"to_sparse: sparse_dim argument is not supported for {layout} layout")
        return from_dense(t, layout, blocksize, dense_dim)
    sd = t.ndim if sparse_dim is None else int(sparse_dim)
    if dense_dim is not None:
        sd = t.ndim - int(dense_dim)
    if not 0 <= sd <= t.ndim:
        raise RuntimeError(f"sparse_dim must be in [0, {t.ndim}], but got {sd}")

    def fwd(t):
        rows = t.reshape((_numel(t._shape[:sd]),) + t._shape[sd:])
        nz = rows != 0
        if nz.ndim > 1:
            nz = nz.reshape(nz._shape[0], -1).any(1)
        key = nz.nonzero().reshape(-1)
        return SparseTensor._new(_unravel(key, t._shape[:sd]), rows.index_select(0, key), t._shape, True)
    return _tracked("ToSparseBackward0", fwd, lambda g: (g.to_dense() if isinstance(g, SparseTensor) else g,), t)


def sparse_zeros(size, dtype, device, layout, requires_grad=False):
    """``zeros(size, layout=ttorch.sparse_coo)``: a sparse tensor with no entries (sparse_dim = len(size));
    CSR/CSC: no entries, the leading dims as batch dims."""
    from ..ops.creation import zeros
    dtype = dtype or D.get_default_dtype()
    if layout is not sparse_coo:
        from .._sparse_compressed import _ROW, COMPRESSED, NAMES, CompressedTensor
        if layout not in COMPRESSED:
            raise NotImplementedError(f"ttorch has no {layout} layout")
        if layout not in (sparse_csr, sparse_csc):
            raise RuntimeError(f"zeros_sparse_compressed expected sparse compressed (non-block) tensor layout but "
                               f"got {NAMES[layout]}")
        size, nb = tuple(size), len(size) - 2
        n = size[nb] if layout in _ROW else size[nb + 1]
        idx = zeros(size[:nb] + (n + 1,), dtype=D.int64, device=device)
        out = CompressedTensor._new(idx, zeros(size[:nb] + (0,), dtype=D.int64, device=idx.device),
                                    zeros(size[:nb] + (0,), dtype=dtype, device=idx.device), size, layout)
        return out.requires_grad_(True) if requires_grad else out
    ind = zeros((len(size), 0), dtype=D.int64, device=device)
    out = SparseTensor._new(ind, zeros(0, dtype=dtype, device=ind.device), size, True)
    return out.requires_grad_(True) if requires_grad else out
