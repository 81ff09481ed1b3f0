"""Many tensors in one launch: what PyTorch's "foreach" implementations do on cuda, a few launches
whatever the number of tensors (the optimizers' updates, ``_foreach_norm``, ``_foreach_mul_``).

Program ``i`` of such a launch takes block ``meta[i, 1]`` of tensor ``meta[i, 0]``, whose addresses
(one column per operand: a parameter, its gradient, its state buffers) are row ``meta[i, 0]`` of an
int64 table the kernel casts to pointers (``many_ptrs``, ``col``). The table is uploaded (through
the pinned ring) when the addresses change (``table``); the block map depends only on the sizes and
is kept on the device (``meta``).
"""
import numpy as np
import triton
import triton.language as tl

from . import movement as _movement   # (its _upload read per call: tests swap it)

_META = {}


def _meta(sizes, block, device):
    """The (tensor, block) map of a list of sizes, int64 on ``device``, cached by sizes."""
    key = (sizes, block, device)
    m = _META.get(key)
    if m is None:
        from .creation import tensor
        counts = [(n + block - 1) // block for n in sizes]
        tid = np.repeat(np.arange(len(sizes), dtype=np.int64), counts)
        blk = np.concatenate([np.arange(c, dtype=np.int64) for c in counts]) if counts else np.zeros(0, np.int64)
        if len(_META) > 64:
            _META.clear()
        m = _META[key] = tensor(np.stack([tid, blk], 1), device=device)
    return m


_TABLES = {}
_TABLES_KEPT = 8


def _table(values, device, aligned=False):
    """``values`` (a tuple, or a tuple of rows) as an int64 tensor on ``device``, uploaded only when
    new (each upload is a staged copy and several driver calls). The sizes never change; the
    addresses do when a parameter, gradient or state buffer is allocated anew. The memory cache
    hands a step's fresh gradients blocks of the steps before, but small ones (a bias's gradient
    shares its size class with the step's small temporaries) cycle through a few blocks: an MLP's
    last bias takes three in turn, a small CNN's ten gradients (two convolutions, two batch norms, a
    head) eight sets of addresses. So each table shape keeps the last ``_TABLES_KEPT`` sets of
    values, each in a tensor of its own, and a new set is written into the least recently used
    tensor (the upload is ordered after the kernels before it on stream 0). Tensors are never
    allocated past the first few steps: a new tensor each step would itself take the small blocks
    that the next step's gradients then miss. ``aligned`` (rows of addresses): returns ``(tensor,
    whether every value is a multiple of 16)``, worked out once per new set."""
    key = (len(values), len(values[0]) if values and type(values[0]) is tuple else 0, device)
    kept = _TABLES.get(key)
    if kept is None:
        if len(_TABLES) > 64:
            _TABLES.clear()
        kept = _TABLES[key] = {}
    hit = kept.pop(values, None)
    if hit is None:
        a = np.array(values, dtype=np.int64)
        if len(kept) < _TABLES_KEPT:
            from .creation import tensor
            t = tensor(a, device=device)
        else:                                           # (dicts keep insertion order: the oldest first)
            t = _movement._upload(a, device, out=kept.pop(next(iter(kept)))[0])
        hit = (t, not (a & 15).any() if aligned else None)
    kept[values] = hit                                  # (re-inserted: now the most recently used)
    return hit if aligned else hit[0]


def _address(t):
    """``t.data_ptr()`` for a device tensor, inlined (the many-tensor launch asks for five a parameter)."""
    st = t._storage
    p = st._p
    return (st._ptr if p is None else p) + t._offset * t.dtype.itemsize


@triton.jit
def _many_ptrs(addr_ptr, sizes_ptr, meta_ptr, NCOL: tl.constexpr, ELEM: tl.constexpr, BLOCK: tl.constexpr):
    """For a many-tensor kernel: the tensor's address row (as typed pointers, in column order
    p, g, then the state buffers), its element offsets and mask, and whether the block is whole
    (inside the tensor: no mask needed)."""
    pid = tl.program_id(0).to(tl.int64)
    t = tl.load(meta_ptr + 2 * pid)
    blk = tl.load(meta_ptr + 2 * pid + 1)
    offs = blk * BLOCK + tl.arange(0, BLOCK)
    n = tl.load(sizes_ptr + t)
    return addr_ptr + t * NCOL, offs, offs < n, (blk + 1) * BLOCK <= n


@triton.jit
def _col(row, k, ELEM: tl.constexpr, ALIGNED: tl.constexpr = False):
    """Column ``k`` of an address row as a typed pointer; ``ALIGNED``: every address in the table is a
    multiple of 16 (said to Triton, an unmasked block then loads and stores 16 bytes at a time: an
    address read from memory is otherwise of unknown alignment, and every access 4 bytes wide)."""
    p = tl.load(row + k).to(tl.pointer_type(ELEM))
    if ALIGNED:
        p = tl.multiple_of(p, 16)
    return p
