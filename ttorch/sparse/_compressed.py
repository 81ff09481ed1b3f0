"""Making sparse compressed tensors: ``ttorch.sparse_compressed_tensor`` and ``sparse_csr_tensor``/``csc``/
``bsr``/``bsc``, with PyTorch's argument checks and ``check_invariants`` (and the global switch
``ttorch.sparse.check_sparse_tensor_invariants``), and their printout (PyTorch's: ``crow_indices=tensor(...)``,
``col_indices=tensor(...)``, ``values=tensor(...)``, then size, nnz, layout). The tensor type and its
conversions are in ``ttorch/_sparse_compressed.py``.

Deliberate difference from PyTorch: the checks of dtypes and shapes always run (PyTorch runs them only
with ``check_invariants``; without, a wrong shape makes a tensor that fails later); the checks that read
the indices' values run with ``check_invariants``, on the host.
"""
import numpy as np

from .. import _dtype as D
from .._layout import sparse_bsc, sparse_bsr, sparse_csc, sparse_csr
from .._sparse import _tracked
from .._sparse_compressed import _BLOCKED, _ROW, COMPRESSED, NAMES, CompressedTensor, _mask
from .._tensor import Tensor


class check_sparse_tensor_invariants:
    """Whether sparse constructors check their arguments' invariants by default: a context manager and
    decorator (``with check_sparse_tensor_invariants():``), and ``enable()``/``disable()``/``is_enabled()``.

    Example::

        >>> with ttorch.sparse.check_sparse_tensor_invariants():
        ...     ttorch.sparse.check_sparse_tensor_invariants.is_enabled()
        True
    """

    _enabled = False

    @staticmethod
    def is_enabled():
        return check_sparse_tensor_invariants._enabled

    @staticmethod
    def enable():
        check_sparse_tensor_invariants._enabled = True

    @staticmethod
    def disable():
        check_sparse_tensor_invariants._enabled = False

    def __init__(self, enable=True):
        self.state = enable
        self.saved_state = None

    def __enter__(self):
        if self.saved_state is not None:
            raise RuntimeError("This context manager instance is already activated. Use a different context manager "
                               "instance for context nesting.")
        self.saved_state = check_sparse_tensor_invariants._enabled
        check_sparse_tensor_invariants._enabled = self.state

    def __exit__(self, *exc):
        check_sparse_tensor_invariants._enabled = self.saved_state
        self.saved_state = None

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with check_sparse_tensor_invariants(self.state):
                return fn(*args, **kwargs)
        return wrapped


def _checking(check_invariants):
    return check_sparse_tensor_invariants._enabled if check_invariants is None else bool(check_invariants)


# ---------------------------------------------------------------------------------- printing
def _repr(c):
    from .._tensor_str import _add_suffixes
    from ._construct import _part, _suffixes
    indent = len("tensor(")
    suffixes = _suffixes(c)
    body = lambda t, prefix: _part(t, prefix, indent)
    cname, pname = _index_names(c.layout)
    sep = ",\n" + " " * indent
    text = ("tensor(" + body(c._cidx, cname + "=tensor(") + sep + body(c._pidx, pname + "=tensor(") + sep
            + body(c._val.detach(), "values=tensor("))
    return _add_suffixes(text, suffixes, indent)


def _rebuild(cidx, pidx, val, shape, layout, device, requires_grad):
    c = CompressedTensor._new(cidx.to(device), pidx.to(device), val.to(device), shape, layout)
    c.requires_grad = requires_grad
    return c


def _index_names(layout):
    return ("crow_indices", "col_indices") if layout in _ROW else ("ccol_indices", "row_indices")


# ---------------------------------------------------------------------------------- checks
def _check_args(cidx, pidx, values, size, layout):
    """PyTorch's checks of dtypes and shapes (``_validate_sparse_compressed_tensor_args``)."""
    cn, pn = _index_names(layout)
    if cidx.dtype is not pidx.dtype:
        raise RuntimeError(f"{cn} and {pn} must have the same dtype, bot got {D.scalar_name(cidx.dtype)} and "
                           f"{D.scalar_name(pidx.dtype)}, respectively")
    if cidx.dtype not in (D.int32, D.int64):
        raise RuntimeError(f"{cn} and {pn} dtype must be Int or Long, but got {D.scalar_name(cidx.dtype)}")
    if cidx.ndim != pidx.ndim:
        raise RuntimeError(f"{cn} and {pn} dimensionalities must be equal but got {cidx.ndim} and {pidx.ndim}, "
                           "respectively")
    nb, nblock = cidx.ndim - 1, 2 if layout in _BLOCKED else 0
    if values.ndim <= nb + nblock:
        raise RuntimeError(f"values must have dimensionality > sum of batch and block dimensionalities (={nb} + "
                           f"{nblock}) but got {values.ndim}")
    dd = values.ndim - nb - 1 - nblock
    if len(size) != nb + 2 + dd:
        raise RuntimeError(f"tensor dimensionality must be sum of batch, base, and dense dimensionalities (={nb} + 2 "
                           f"+ {dd}) but got {len(size)}")
    block = tuple(values._shape[nb + 1:nb + 3]) if nblock else (1, 1)
    for i in range(2):
        if size[nb + i] % block[i] if block[i] else True:
            raise RuntimeError(f"tensor shape[{nb + i}] (={size[nb + i]}) must be divisible with blocksize[{i}] "
                               f"(={block[i]}) as defined by values shape")
    batch = list(size[:nb])
    if list(cidx._shape[:nb]) != batch or list(pidx._shape[:nb]) != batch or list(values._shape[:nb]) != batch:
        raise RuntimeError(f"all batch dimensions of {cn} (={list(cidx._shape[:nb])}), {pn} (="
                           f"{list(pidx._shape[:nb])}), and values (={list(values._shape[:nb])}) must be equal to "
                           f"tensor batch dimensions (={batch})")
    row = layout in _ROW
    n = size[nb] // block[0] if row else size[nb + 1] // block[1]
    what = ("rows" if row else "columns") if not nblock else ("row blocks" if row else "column blocks")
    if cidx._shape[-1] != n + 1:
        raise RuntimeError(f"{cn}.shape[-1] must be equal to the number of {what} + 1 (={n + 1}), but got "
                           f"{cidx._shape[-1]}")
    nnz = values._shape[nb]
    if pidx._shape[-1] != nnz:
        raise RuntimeError(f"{pn}.shape[-1] must be equal to nnz (={nnz}) as defined by values.shape[{nb}], but got "
                           f"{pidx._shape[-1]}")
    if tuple(values._shape[nb + 1 + nblock:]) != tuple(size[nb + 2:]):
        raise RuntimeError(f"values' dense dimensions {list(values._shape[nb + 1 + nblock:])} must be equal to the "
                           f"tensor's dense dimensions {list(size[nb + 2:])}")


def _check_invariants(cidx, pidx, nplain, layout):
    """PyTorch's checks of the indices' values (read on the host), in its order; ``nplain``: the
    number of columns (rows, block columns...) a plain index must stay under."""
    cn, pn = _index_names(layout)
    row = layout in _ROW
    c = cidx._host().reshape(-1, cidx._shape[-1]).astype(np.int64)
    p = pidx._host().reshape(-1, pidx._shape[-1]).astype(np.int64)
    other = "ncols" if row else "nrows"
    if (c[:, 0] != 0).any():
        raise RuntimeError(f"`{cn}[..., 0] == 0` is not satisfied.")
    if (c[:, -1] != p.shape[1]).any():
        raise RuntimeError(f"`{cn}[..., -1] == nnz` is not satisfied.")
    if p.size and (p.min() < 0 or p.max() >= nplain):
        raise RuntimeError(f"`0 <= {pn} < {other}` is not satisfied.")
    for b in range(c.shape[0]):         # row by row, as PyTorch's kernel: the first failing row decides
        for i in range(1, c.shape[1]):
            lo, hi = c[b, i - 1], c[b, i]
            if not 0 <= hi - lo <= nplain:
                raise RuntimeError(f"`0 <= {cn}[..., 1:] - {cn}[..., :-1] <= {other}` is not satisfied.")
            if (np.diff(p[b, lo:hi]) <= 0).any():
                raise RuntimeError(f"`{pn}[..., {cn}[..., i - 1]:{cn}[..., i]] for all i = 1, ..., "
                                   f"{'nrows' if row else 'ncols'} are sorted and distinct along the last dimension "
                                   "values` is not satisfied.")


# ---------------------------------------------------------------------------------- constructors
def _index_tensor(x, device):
    from ..ops.creation import tensor
    t = x.detach() if isinstance(x, Tensor) else tensor(x, dtype=None)
    if not isinstance(x, Tensor) and not t.dtype.is_floating_point:
        t = t.to(D.int64)
    return t.to(device)


def sparse_compressed_tensor(compressed_indices, plain_indices, values, size=None, *, dtype=None, layout=None,
                             device=None, pin_memory=False, requires_grad=False, check_invariants=None):
    """A sparse tensor in a compressed layout (CSR, CSC, BSR or BSC) from its indices and values.

    Args:
        compressed_indices (array_like): (*batch, n + 1) pointers: entries of row (column, block) i are
            ``compressed_indices[..., i]:compressed_indices[..., i + 1]``.
        plain_indices (array_like): (*batch, nnz) each entry's column (row) or block column (row).
        values (array_like): (*batch, nnz, *dense), blocked (*batch, nnz, r, c, *dense).
        size (tuple, optional): default the smallest that holds the indices.
        layout: ``ttorch.sparse_csr``, ``sparse_csc``, ``sparse_bsr`` or ``sparse_bsc`` (required).
        check_invariants (bool): check the indices' values (default: ``check_sparse_tensor_invariants``).

    Example::

        >>> ttorch.sparse_compressed_tensor([0, 1, 3], [1, 0, 2], [1., 2., 3.], (2, 3),
        ...                                 layout=ttorch.sparse_csr).to_dense()
        tensor([[0., 1., 0.],
                [2., 0., 3.]])
    """
    from ..ops.creation import tensor
    if layout not in COMPRESSED:
        raise RuntimeError(f"sparse_compressed_tensor expected sparse compressed tensor layout but got "
                           f"{'none' if layout is None else NAMES.get(layout, layout)}")
    if not isinstance(values, Tensor):
        values = tensor(values, dtype=dtype, device=device)
    elif dtype is not None or device is not None:
        values = values.to(device=device if device is not None else values.device, dtype=dtype or values.dtype)
    cidx, pidx = _index_tensor(compressed_indices, values.device), _index_tensor(plain_indices, values.device)
    nb = cidx.ndim - 1
    if size is None:
        if cidx.ndim < 1 or values.ndim <= nb + (2 if layout in _BLOCKED else 0):
            _check_args(cidx, pidx, values, (), layout)
        block = tuple(values._shape[nb + 1:nb + 3]) if layout in _BLOCKED else (1, 1)
        n = (cidx._shape[-1] - 1) * block[0 if layout in _ROW else 1]
        m = (int(pidx.max()) + 1 if pidx.numel() else 0) * block[1 if layout in _ROW else 0]
        dense = tuple(values._shape[nb + 1 + (2 if layout in _BLOCKED else 0):])
        size = tuple(cidx._shape[:nb]) + ((n, m) if layout in _ROW else (m, n)) + dense
    size = tuple(int(n) for n in size)
    _check_args(cidx, pidx, values, size, layout)
    if _checking(check_invariants):
        block = tuple(values._shape[nb + 1:nb + 3]) if layout in _BLOCKED else (1, 1)
        plain = size[nb + 1] // block[1] if layout in _ROW else size[nb] // block[0]
        _check_invariants(cidx, pidx, plain, layout)
    out = _tracked("SparseCompressedTensorBackward0",
                   lambda v: CompressedTensor._new(cidx, pidx, v.detach(), size, layout),
                   lambda g: (_mask(g, CompressedTensor._new(cidx, pidx, values, size, layout))._val,), values)
    if requires_grad:
        out.requires_grad_(True)
    return out


def _fixed(layout, name):
    cn, pn = _index_names(layout)

    def constructor(compressed_indices, plain_indices, values, size=None, *, dtype=None, device=None,
                    pin_memory=False, requires_grad=False, check_invariants=None, layout=None):
        if layout is not None and layout is not fixed:
            raise RuntimeError(f"{name}: layout must be {NAMES[fixed]} but got {NAMES.get(layout, layout)}")
        return sparse_compressed_tensor(compressed_indices, plain_indices, values, size, dtype=dtype, layout=fixed,
                                        device=device, requires_grad=requires_grad,
                                        check_invariants=check_invariants)
    fixed = layout
    constructor.__name__ = constructor.__qualname__ = name
    constructor.__doc__ = (f"``sparse_compressed_tensor(..., layout=ttorch.{layout._name})``: ``{cn}``, ``{pn}``, "
                           "values, size.")
    return constructor


sparse_csr_tensor = _fixed(sparse_csr, "sparse_csr_tensor")
sparse_csc_tensor = _fixed(sparse_csc, "sparse_csc_tensor")
sparse_bsr_tensor = _fixed(sparse_bsr, "sparse_bsr_tensor")
sparse_bsc_tensor = _fixed(sparse_bsc, "sparse_bsc_tensor")
