"""``BlockMask`` and the mask helpers of ``ttorch.nn.attention.flex_attention`` (PyTorch 2.13's).

A mask_mod ``(b, h, q_idx, kv_idx) -> bool`` says which (query, key) pairs take part. ``create_block_mask``
evaluates it once on broadcast index tensors (b: (B, 1, 1, 1), h: (1, H, 1, 1), q_idx: (1, 1, Q, 1),
kv_idx: (1, 1, 1, KV), int64, as PyTorch's vmap feeds them one element at a time) and reduces the dense
mask to tiles of ``BLOCK_SIZE``: per row of query tiles, the key tiles that hold some pair (partial: the
kernel applies mask_mod there) and those that hold every pair (full: no mask work). The block tables are
int32, as PyTorch's. They are built with NumPy on the host and moved to ``device``.
"""
import functools
import inspect
import itertools
import operator
from enum import Enum

import numpy as np

__all__ = ["BlockMask", "create_block_mask", "create_mask", "and_masks", "or_masks", "noop_mask"]

_DEFAULT_SPARSE_BLOCK_SIZE = 128
_LARGE_SPARSE_BLOCK_SIZE = 1 << 30


def _T():
    import ttorch
    return ttorch


class _ModificationType(Enum):
    SCORE_MOD = 1
    MASK_MOD = 2
    UNKNOWN = 3


def _get_mod_type(fn):
    """SCORE_MOD for a function of 5 positional arguments (no default), MASK_MOD for 4 (PyTorch's rule)."""
    if hasattr(fn, "__code__"):
        n = fn.__code__.co_argcount - len(getattr(fn, "__defaults__", None) or ())
    else:
        n = sum(1 for p in inspect.signature(fn).parameters.values() if p.default is inspect.Parameter.empty)
    if n not in (4, 5):
        raise AssertionError(f"Expected 4 or 5 positional args, got {n}")
    return _ModificationType.SCORE_MOD if n == 5 else _ModificationType.MASK_MOD


def noop_mask(batch, head, token_q, token_kv):
    """Returns a noop mask_mod"""
    return batch.new_ones(size=(), dtype=_T().bool, device=batch.device)


def _sliced_mask_mod_error(batch, head, token_q, token_kv):
    """Raises PyTorch's error: a sliced BlockMask's mask_mod is reset."""
    raise RuntimeError(
        "Cannot use mask_mod from a sliced BlockMask. When you slice a BlockMask using [], the mask_mod attribute is "
        "reset. You must set it from the original BlockMask's mask_mod.\n\nIncorrect usage:\n  base_mask = "
        "create_block_mask(my_mask_fn, ...)\n  sliced_mask = base_mask[:, :, block_idx]\n  sliced_mask.mask_mod = "
        "apply_offset(sliced_mask.mask_mod, offset)  # WRONG!\n\nCorrect usage:\n  base_mask = create_block_mask("
        "my_mask_fn, ...)\n  sliced_mask = base_mask[:, :, block_idx]\n  sliced_mask.mask_mod = apply_offset("
        "base_mask.mask_mod, offset)  # Use base_mask!")


def or_masks(*mask_mods):
    """Returns a mask_mod that's the union of provided mask_mods"""
    if not all(callable(arg) for arg in mask_mods):
        raise RuntimeError(f"All inputs should be callable mask_mods: {mask_mods}")

    def or_mask(b, h, q_idx, kv_idx):
        result = b.new_zeros((), dtype=_T().bool)
        for mask in mask_mods:
            result = result | mask(b, h, q_idx, kv_idx)
        return result
    return or_mask


def and_masks(*mask_mods):
    """Returns a mask_mod that's the intersection of provided mask_mods"""
    if not all(callable(arg) for arg in mask_mods):
        raise RuntimeError(f"All inputs should be callable mask_mods: {mask_mods}")

    def and_mask(b, h, q_idx, kv_idx):
        result = b.new_ones((), dtype=_T().bool)
        for mask in mask_mods:
            result = result & mask(b, h, q_idx, kv_idx)
        return result
    return and_mask


# ------------------------------------------------------------------ block tables (NumPy, host)
def _np(t):
    return np.asarray(t.detach().cpu().numpy())


def _ordered_to_dense_np(num, idx, num_cols):
    """(..., rows) counts and (..., rows, max) column lists -> (..., rows, num_cols) int32 0/1."""
    num, idx = _np(num).astype(np.int64), _np(idx).astype(np.int64)
    valid = np.arange(idx.shape[-1]) < num[..., None]
    dense = np.zeros(idx.shape[:-1] + (num_cols + 1,), np.int32)    # one spot "out of bounds", as PyTorch's
    np.put_along_axis(dense, np.where(valid, idx, num_cols), 1, axis=-1)
    return dense[..., :num_cols]


def _dense_to_ordered_np(dense):
    dense = dense.astype(np.int32)
    return dense.sum(-1, dtype=np.int32), np.argsort(-dense, axis=-1, kind="stable").astype(np.int32)


def _tensor(a, device):
    return _T().tensor(np.ascontiguousarray(a), dtype=_T().int32, device=device)


def _transpose_ordered(num, idx):
    dense = _ordered_to_dense_np(num, idx, idx.shape[-1])
    n, i = _dense_to_ordered_np(np.swapaxes(dense, -2, -1))
    return _tensor(n, num.device), _tensor(i, num.device)


class BlockMask:
    r"""A block-sparse attention mask (PyTorch's format): per row of ``BLOCK_SIZE[0]`` queries,
    ``kv_num_blocks`` / ``kv_indices`` list the key blocks (of ``BLOCK_SIZE[1]``) where ``mask_mod`` must
    be applied, ``full_kv_num_blocks`` / ``full_kv_indices`` those where every pair takes part;
    ``q_num_blocks`` / ``q_indices`` (and ``full_q_*``) are the transposed lists the backward walks.
    Indices past a row's count are undefined. Leading dims (B, H) of size 1 broadcast.

    Example::

        >>> from ttorch.nn.attention.flex_attention import create_block_mask
        >>> bm = create_block_mask(lambda b, h, q, kv: q >= kv, None, None, 256, 256, device="cpu")
        >>> bm.kv_num_blocks.tolist(), bm.full_kv_num_blocks.tolist()
        ([[[1, 1]]], [[[0, 1]]])
    """

    _TENSOR_ATTRS = ["kv_num_blocks", "kv_indices", "full_kv_num_blocks", "full_kv_indices", "q_num_blocks",
                     "q_indices", "full_q_num_blocks", "full_q_indices", "dq_write_order", "dq_write_order_full",
                     "dq_kv_order"]
    _CONTEXT_ATTRS = ["seq_lengths", "BLOCK_SIZE", "mask_mod", "dq_kv_order_spt"]

    def __init__(self, seq_lengths, kv_num_blocks, kv_indices, full_kv_num_blocks, full_kv_indices, q_num_blocks,
                 q_indices, full_q_num_blocks, full_q_indices, BLOCK_SIZE=(_DEFAULT_SPARSE_BLOCK_SIZE,
                                                                          _DEFAULT_SPARSE_BLOCK_SIZE),
                 mask_mod=noop_mask, *, dq_write_order=None, dq_write_order_full=None, dq_kv_order=None,
                 dq_kv_order_spt=None):
        if kv_indices.dim() < 2:
            raise RuntimeError("BlockMask must have at least 2 dimensions")
        if kv_num_blocks is None:
            raise AssertionError("kv_num_blocks must be provided")
        if (full_kv_num_blocks is None) != (full_kv_indices is None):
            raise AssertionError("full_kv_num_blocks and full_kv_indices must be both provided or omitted")
        if (full_q_num_blocks is None) != (full_q_indices is None):
            raise AssertionError("full_q_num_blocks and full_q_indices must be both provided or omitted")
        if dq_write_order_full is not None and dq_write_order is None:
            raise ValueError("dq_write_order_full requires dq_write_order")
        self.seq_lengths = seq_lengths
        self.kv_num_blocks, self.kv_indices = kv_num_blocks, kv_indices
        self.full_kv_num_blocks, self.full_kv_indices = full_kv_num_blocks, full_kv_indices
        self.q_num_blocks, self.q_indices = q_num_blocks, q_indices
        self.full_q_num_blocks, self.full_q_indices = full_q_num_blocks, full_q_indices
        self.dq_write_order, self.dq_write_order_full = dq_write_order, dq_write_order_full
        self.dq_kv_order, self.dq_kv_order_spt = dq_kv_order, dq_kv_order_spt
        self.BLOCK_SIZE = BLOCK_SIZE
        self.mask_mod = mask_mod

    @classmethod
    def from_kv_blocks(cls, kv_num_blocks, kv_indices, full_kv_num_blocks=None, full_kv_indices=None,
                       BLOCK_SIZE=_DEFAULT_SPARSE_BLOCK_SIZE, mask_mod=None, seq_lengths=None, compute_q_blocks=True,
                       *, dq_write_order=None, dq_write_order_full=None, dq_kv_order=None):
        """A BlockMask from its key-block lists; the query-block lists are generated (``compute_q_blocks``)."""
        if kv_indices.dim() < 2:
            raise RuntimeError("BlockMask must have at least 2 dimensions")
        if (full_kv_num_blocks is None) != (full_kv_indices is None):
            raise AssertionError("full_kv_num_blocks and full_kv_indices must be both provided or omitted")
        q_num, q_idx, fq_num, fq_idx = None, None, None, None
        if compute_q_blocks:
            q_num, q_idx = _transpose_ordered(kv_num_blocks, kv_indices)
            if full_kv_num_blocks is not None:
                fq_num, fq_idx = _transpose_ordered(full_kv_num_blocks, full_kv_indices)
        if isinstance(BLOCK_SIZE, int):
            BLOCK_SIZE = (BLOCK_SIZE, BLOCK_SIZE)
        mask_mod = mask_mod if mask_mod is not None else noop_mask
        if seq_lengths is None:
            seq_lengths = (kv_indices.shape[-2] * BLOCK_SIZE[0], kv_indices.shape[-1] * BLOCK_SIZE[1])
        from ..._tensor import Tensor
        if dq_kv_order is not None and not isinstance(dq_kv_order, (bool, Tensor)):
            raise ValueError("dq_kv_order must be a bool, Tensor, or None")
        return cls(seq_lengths, kv_num_blocks, kv_indices, full_kv_num_blocks, full_kv_indices, q_num, q_idx, fq_num,
                   fq_idx, BLOCK_SIZE=BLOCK_SIZE, mask_mod=mask_mod, dq_write_order=dq_write_order,
                   dq_write_order_full=dq_write_order_full,
                   dq_kv_order=dq_kv_order if isinstance(dq_kv_order, Tensor) else None,
                   dq_kv_order_spt=dq_kv_order if isinstance(dq_kv_order, bool) else None)

    def as_tuple(self, flatten=True):
        """The attributes as a tuple (``flatten``: BLOCK_SIZE and seq_lengths spread into two ints each)."""
        bs = tuple(self.BLOCK_SIZE) if flatten else (self.BLOCK_SIZE,)
        sl = tuple(self.seq_lengths) if flatten else (self.seq_lengths,)
        return (*sl, self.kv_num_blocks, self.kv_indices, self.full_kv_num_blocks, self.full_kv_indices,
                self.q_num_blocks, self.q_indices, self.full_q_num_blocks, self.full_q_indices, self.dq_write_order,
                self.dq_write_order_full, self.dq_kv_order, self.dq_kv_order_spt, *bs, self.mask_mod)

    @property
    def shape(self):
        return tuple(self.kv_indices.shape[:-2]) + tuple(self.seq_lengths)

    def __str__(self):
        return f"BlockMask(shape={self.shape}, sparsity={self.sparsity():.2f}%, \n" + self.to_string().strip() + "\n)"

    def __getitem__(self, index):
        """A BlockMask of the rows ``index`` selects over (B, H, query blocks); its mask_mod is reset."""
        if self.dq_kv_order is not None:
            raise NotImplementedError("Slicing BlockMask with tensor dq_kv_order is not supported yet. Construct a "
                                      "new BlockMask with matching precomputed dq_write_order metadata.")
        index = (index,) if not isinstance(index, tuple) else index
        padded = (*index, slice(None), slice(None), slice(None))[:3]
        sizes = self.kv_num_blocks.shape[:3]
        index = tuple((slice(i + n, i + n + 1) if -n <= i < 0 else slice(i, i + 1)) if isinstance(i, int) else i
                      for i, n in zip(padded, sizes))
        full = (self.full_kv_num_blocks[index], self.full_kv_indices[index]) if self.full_kv_num_blocks is not None \
            else (None, None)
        new = BlockMask.from_kv_blocks(self.kv_num_blocks[index], self.kv_indices[index], *full,
                                       BLOCK_SIZE=self.BLOCK_SIZE, mask_mod=_sliced_mask_mod_error,
                                       seq_lengths=self.seq_lengths, compute_q_blocks=self.q_indices is not None)
        new.dq_kv_order_spt = self.dq_kv_order_spt
        return new

    def __repr__(self):
        def shape_or_none(x):
            return x.shape if x is not None else None
        mm = self.mask_mod.__name__ if hasattr(self.mask_mod, "__name__") else self.mask_mod
        return (f"BlockMask(\n    kv_num_blocks={self.kv_num_blocks.shape},\n    kv_indices={self.kv_indices.shape},\n"
                f"    full_kv_num_blocks={shape_or_none(self.full_kv_num_blocks)},\n"
                f"    full_kv_indices={shape_or_none(self.full_kv_indices)},\n"
                f"    q_num_blocks={shape_or_none(self.q_num_blocks)},\n"
                f"    q_indices={shape_or_none(self.q_indices)},\n"
                f"    full_q_num_blocks={shape_or_none(self.full_q_num_blocks)},\n"
                f"    full_q_indices={shape_or_none(self.full_q_indices)},\n    BLOCK_SIZE={self.BLOCK_SIZE},\n"
                f"    shape={self.shape},\n    sparsity={self.sparsity():.2f}%,\n    mask_mod={mm}\n)")

    def _adjust(self, new_q_len, new_kv_len):
        """This mask cropped to its upper-left (new_q_len, new_kv_len) corner."""
        rows = -(-new_q_len // self.BLOCK_SIZE[0])
        cols = -(-new_kv_len // self.BLOCK_SIZE[1])

        def adjust(num, idx):
            i = _np(idx)[:, :, :rows, :cols]
            n = np.minimum(_np(num)[:, :, :rows], cols)
            n = (i < n[:, :, :, None]).sum(-1, dtype=np.int32)
            return _tensor(n, num.device), _tensor(i, num.device)
        full = adjust(self.full_kv_num_blocks, self.full_kv_indices) if self.full_kv_num_blocks is not None \
            else (None, None)
        new = self.from_kv_blocks(*adjust(self.kv_num_blocks, self.kv_indices), *full, BLOCK_SIZE=self.BLOCK_SIZE,
                                  mask_mod=self.mask_mod, seq_lengths=(new_q_len, new_kv_len),
                                  compute_q_blocks=self.q_indices is not None)
        new.dq_kv_order_spt = self.dq_kv_order_spt
        return new

    def numel(self):
        """Returns the number of elements (not accounting for sparsity) in the mask."""
        return functools.reduce(operator.mul, self.shape, 1)

    def sparsity(self):
        """Computes the percentage of blocks that are sparse (i.e. not computed)"""
        computed = int(_np(self.kv_num_blocks).astype(np.int64).sum())
        if self.full_kv_num_blocks is not None:
            computed += int(_np(self.full_kv_num_blocks).astype(np.int64).sum())
        return 100 * (1 - computed * self.BLOCK_SIZE[0] * self.BLOCK_SIZE[1] / self.numel())

    def _dense_np(self):
        d = _ordered_to_dense_np(self.kv_num_blocks, self.kv_indices, self.kv_indices.shape[-1])
        if self.full_kv_num_blocks is not None:
            d = d | _ordered_to_dense_np(self.full_kv_num_blocks, self.full_kv_indices, self.full_kv_indices.shape[-1])
        return d

    def to_dense(self):
        """Returns a dense block that is equivalent to the block mask."""
        return _tensor(self._dense_np(), self.kv_num_blocks.device)

    def to_string(self, grid_size=(20, 20), limit=4):
        """Returns a string representation of the block mask. Quite nifty.

        If grid_size is -1, prints out an uncompressed version. Warning, it can be quite big!
        """
        dense = self._dense_np()
        *batch_dims, num_rows, num_cols = dense.shape
        if isinstance(grid_size, int) and grid_size != -1:
            max_rows = max_cols = grid_size
        elif grid_size == -1:
            max_rows, max_cols = num_rows, num_cols
        else:
            max_rows, max_cols = grid_size
        row_step = max(1, -(-num_rows // max_rows))
        col_step = max(1, -(-num_cols // max_cols))

        def vis(batch_idx):
            out = f"{batch_idx}\n"
            cur = dense[batch_idx]
            for r in range(0, num_rows, row_step):
                for c in range(0, num_cols, col_step):
                    pct = cur[r:r + row_step, c:c + col_step].astype(np.float32).mean()
                    out += ("█" if pct == 1 else " " if pct == 0 else "░") * 2
                out += "\n"
            return out
        total = []
        for i, batch_idx in enumerate(itertools.product(*[range(n) for n in batch_dims])):
            if i == limit:
                total += ["...", "To print out more, set BlockMask.to_string(limit=N)",
                          "You can also index (BlockMask[batch, head]) to choose a specific batch or head"]
                break
            total.append(vis(batch_idx))
        return "\n".join(total)

    def to(self, device):
        """A new BlockMask with every tensor moved to ``device``."""
        moved = {a: (getattr(self, a).to(device) if getattr(self, a) is not None else None)
                 for a in self._TENSOR_ATTRS}
        return BlockMask(self.seq_lengths, **moved, BLOCK_SIZE=self.BLOCK_SIZE, mask_mod=self.mask_mod,
                         dq_kv_order_spt=self.dq_kv_order_spt)


def _index_grids(B, H, Q, KV, device):
    """The broadcast index tensors (int64) mods are called with: b (B, 1, 1, 1), h (1, H, 1, 1),
    q (1, 1, Q, 1), kv (1, 1, 1, KV)."""
    T = _T()
    return (T.arange(B, device=device).view(B, 1, 1, 1), T.arange(H, device=device).view(1, H, 1, 1),
            T.arange(Q, device=device).view(1, 1, Q, 1), T.arange(KV, device=device).view(1, 1, 1, KV))


def _default_device(device):
    if device is None:
        acc = _T().accelerator.current_accelerator()
        device = acc if acc is not None else "cpu"
    return device


def create_mask(mod_fn, B, H, Q_LEN, KV_LEN, device=None):
    r"""The dense (B, H, Q_LEN, KV_LEN) bool mask of a mask_mod (True: takes part), or of a score_mod
    (True where it does not give -inf). B / H None mean 1.

    ``mod_fn`` runs once on broadcast index tensors (see the module's docstring), which gives PyTorch's
    vmap result for elementwise mods and for mods that index captured tensors (``doc[q_idx]``); a mod
    that branches on a Python ``if`` over an index must use ``ttorch.where`` instead (as under vmap).
    """
    device = _default_device(device)
    B = 1 if B is None else B
    H = 1 if H is None else H
    b, h, m, n = _index_grids(B, H, Q_LEN, KV_LEN, device)
    T = _T()
    if _get_mod_type(mod_fn) == _ModificationType.SCORE_MOD:
        out = mod_fn(T.zeros(B, H, Q_LEN, KV_LEN, device=device), b, h, m, n)
        return T.where(T.isneginf(out), False, True).expand(B, H, Q_LEN, KV_LEN).contiguous()
    mask = mod_fn(b, h, m, n)
    return T.as_tensor(mask, device=device).to(T.bool).expand(B, H, Q_LEN, KV_LEN).contiguous()


def _mask_to_blocks(mask, QB, KB, separate_full_blocks):
    """(B, H, Q, KV) bool -> (partial, full or None) per tile, int8 (B, H, cdiv(Q, QB), cdiv(KV, KB))."""
    m = _np(mask).astype(bool)
    Bm, Hm, Q, KV = m.shape
    rq, rk = -(-Q // QB), -(-KV // KB)
    m = np.pad(m, ((0, 0), (0, 0), (0, rq * QB - Q), (0, rk * KB - KV)))
    s = m.reshape(Bm, Hm, rq, QB, rk, KB).sum((3, 5))
    if separate_full_blocks:
        full = s == QB * KB
        return ((s > 0) & ~full).astype(np.int8), full.astype(np.int8)
    return (s > 0).astype(np.int8), None


def create_block_mask(mask_mod, B, H, Q_LEN, KV_LEN, device=None, BLOCK_SIZE=_DEFAULT_SPARSE_BLOCK_SIZE, _compile=False,
                      separate_full_blocks=True, compute_dq_write_order=False, dq_kv_order=True):
    r"""The BlockMask of ``mask_mod`` (``(b, h, q_idx, kv_idx) -> bool``, True: the pair takes part).

    Args:
        mask_mod (Callable): the mask function; evaluated once on broadcast index tensors.
        B (int or None), H (int or None): batch and query heads (None: 1, broadcast over the call's).
        Q_LEN (int), KV_LEN (int): the sequence lengths.
        device: where the tables live (default: the current accelerator, else cpu).
        BLOCK_SIZE (int or (int, int)): the (query, key) tile; the kernels' tiles divide it.
        separate_full_blocks (bool): list fully unmasked tiles apart (no mask work there).

    ``_compile`` is accepted and ignored (PyTorch warns it is deprecated; ttorch has nothing to compile
    here). ``compute_dq_write_order`` (metadata of PyTorch's deterministic FLASH backward) raises
    NotImplementedError: ttorch's backward needs none.

    Example::

        >>> bm = create_block_mask(lambda b, h, q, kv: q >= kv, 1, 1, 256, 256, device="cpu")
        >>> bm.shape
        (1, 1, 256, 256)
    """
    device = _default_device(device)
    if _get_mod_type(mask_mod) != _ModificationType.MASK_MOD:
        raise AssertionError(f"create-block_mask requires a mask_mod function! Got {mask_mod}")
    B = 1 if B is None else B
    H = 1 if H is None else H
    QB, KB = (BLOCK_SIZE, BLOCK_SIZE) if isinstance(BLOCK_SIZE, int) else BLOCK_SIZE
    if _compile:
        import warnings
        warnings.warn("_compile flag on create_block_mask was originally added to work around a torch.compile "
                      "limitation. That limitation has since been addressed. So, to compile create_block_mask, we "
                      "suggest doing torch.compile(create_block_mask). This still works for now, but will be removed "
                      "in the future.", DeprecationWarning, stacklevel=2)
    if not isinstance(dq_kv_order, bool):
        raise ValueError("dq_kv_order must be a bool when using create_block_mask")
    if compute_dq_write_order:
        raise NotImplementedError("create_block_mask: compute_dq_write_order (PyTorch's FLASH backend metadata) is "
                                  "not supported by ttorch")
    mask = create_mask(mask_mod, B, H, Q_LEN, KV_LEN, device)
    partial, full = _mask_to_blocks(mask, QB, KB, separate_full_blocks)
    num, idx = _dense_to_ordered_np(partial)
    fnum, fidx = _dense_to_ordered_np(full) if full is not None else (None, None)
    dev = mask.device
    return BlockMask.from_kv_blocks(_tensor(num, dev), _tensor(idx, dev),
                                    _tensor(fnum, dev) if fnum is not None else None,
                                    _tensor(fidx, dev) if fidx is not None else None,
                                    BLOCK_SIZE=(QB, KB), mask_mod=mask_mod, seq_lengths=(Q_LEN, KV_LEN))


def _create_empty_block_mask(query, key):
    """The default: one block over everything (PyTorch's ``_LARGE_SPARSE_BLOCK_SIZE``), no mask."""
    T = _T()
    return BlockMask.from_kv_blocks(T.ones([1, 1, 1], dtype=T.int32, device=query.device),
                                    T.zeros([1, 1, 1, 1], dtype=T.int32, device=query.device),
                                    BLOCK_SIZE=_LARGE_SPARSE_BLOCK_SIZE, seq_lengths=(1, 1))
