"""``ttorch.nested``: batches of tensors of different lengths in PyTorch's jagged layout (``layout=ttorch.jagged``).

A nested tensor (``_nested_tensor.NestedTensor``) packs its components along their ragged dim into one dense
``values`` tensor with ``offsets``; ops run on ``values`` (``_ops.py``), so transformer blocks over
sequences of different lengths need no padding: ``nn.Linear``, ``nn.Embedding``, layer/RMS norm,
activations, dropout, softmax and ``F.scaled_dot_product_attention`` (per sequence) take them.
``nested_tensor`` copies (a leaf, as PyTorch's); ``as_nested_tensor`` and ``nested_tensor_from_jagged``
keep the autograd history: gradients reach the given tensors or values.

Differences from PyTorch:
- the strided nested layout (PyTorch's default, ``layout=None``) is not implemented: ``nested_tensor``,
  ``as_nested_tensor`` and ``narrow`` raise ``NotImplementedError`` for it; pass ``layout=ttorch.jagged``;
- composite functions built from supported ops (``F.mse_loss``...) work where PyTorch raises;
- ``F.scaled_dot_product_attention`` takes ``is_causal`` on cpu too, and only the (B, H, j, D) layout;
  ``nn.MultiheadAttention`` does not take nested tensors (PyTorch's only in its inference fast path);
- ``to_padded_tensor``'s ``output_size`` may change the ragged dim only.
"""
import numpy as np

from .. import _dtype as D
from .._layout import jagged, strided
from .._tensor import Tensor
from ..ops import _op
from ._nested_tensor import NestedTensor
from . import _ops

__all__ = ["to_padded_tensor", "as_nested_tensor", "nested_tensor", "nested_tensor_from_jagged", "narrow",
           "masked_select"]

_op.SUBCLASS_OPS[NestedTensor] = _ops.handle


def _check_layout(layout):
    if layout is None or layout is strided:
        raise NotImplementedError("ttorch.nested: the strided layout of nested tensors is not implemented; pass "
                                  "layout=ttorch.jagged")
    if layout is not jagged:
        raise RuntimeError(f"Specified layout is unsupported for nested tensors: {layout}")


def _offsets_of(lengths, device):
    from ..ops.creation import tensor
    return tensor(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64), device=device)


def _pack(ts, dtype, device):
    """(values, offsets, ragged_idx) of components ``ts``: packed along the one dim where they differ
    (their first dim when none does), as PyTorch's constructors do."""
    from ..ops.creation import tensor
    from ..ops.movement import cat
    if len(ts) == 0:
        raise RuntimeError("Cannot construct a nested tensor from an empty tensor list")
    ts = [t if isinstance(t, Tensor) else tensor(t) for t in ts]
    if any(t.ndim == 0 for t in ts):
        raise RuntimeError("Cannot construct a nested tensor from a list of zero-dim tensors")
    if len({t.ndim for t in ts}) != 1:
        raise RuntimeError("When constructing a nested tensor, all tensors in list must have the same dim")
    differ = [d for d in range(ts[0].ndim) if len({t._shape[d] for t in ts}) > 1]
    if len(differ) > 1:
        raise RuntimeError("ttorch.nested: the jagged layout allows components to differ in one dim only, got "
                           f"shapes {[tuple(t.shape) for t in ts]}")
    r = differ[0] if differ else 0
    device = ts[0].device if device is None else device
    ts = [t.to(device, dtype or ts[0].dtype) for t in ts]
    values = cat(ts, r)
    return values, _offsets_of([t._shape[r] for t in ts], values.device), r + 1


def nested_tensor(tensor_list, *, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False):
    """A nested tensor of copies of ``tensor_list``'s tensors, a leaf (no autograd history), as PyTorch's.

    Args:
        tensor_list: tensors (or nested lists of numbers) of one dim count, differing in at most one dim.
        layout: ``ttorch.jagged`` (the strided layout is not implemented).

    Example::

        >>> nt = ttorch.nested.nested_tensor([ttorch.ones(2, 4), ttorch.ones(3, 4)], layout=ttorch.jagged)
        >>> nt.dim(), nt.values().shape
        (3, ttorch.Size([5, 4]))
    """
    _check_layout(layout)
    from ..autograd import grad_mode
    with grad_mode.no_grad():
        values, offsets, r = _pack([t.detach() if isinstance(t, Tensor) else t for t in tensor_list], dtype, device)
    if len(tensor_list) == 1:     # (a cat of one tensor may be that tensor: the copy must own its memory)
        values = values.clone()
    values.requires_grad_(requires_grad)
    return NestedTensor._new(values, offsets, r)


def as_nested_tensor(ts, dtype=None, device=None, layout=None):
    """A nested tensor of ``ts`` (a list of tensors, or a dense tensor: its rows) that keeps their autograd
    history: gradients reach the given tensors."""
    _check_layout(layout)
    if isinstance(ts, NestedTensor):
        return ts.to(device or ts.device, dtype or ts.dtype)
    if isinstance(ts, Tensor):
        if ts.ndim < 2:
            raise RuntimeError("as_nested_tensor(): a dense input needs a batch dim and one more")
        t = ts.to(device or ts.device, dtype or ts.dtype)
        b, n = t._shape[0], t._shape[1]
        return NestedTensor._new(t.reshape((b * n,) + t._shape[2:]), _offsets_of([n] * b, t.device), 1)
    values, offsets, r = _pack(list(ts), dtype, device)
    return NestedTensor._new(values, offsets, r)


def nested_tensor_from_jagged(values, offsets=None, lengths=None, jagged_dim=None, min_seqlen=None,
                              max_seqlen=None):
    """A nested tensor viewing ``values`` (packed along ``jagged_dim - 1``) split at ``offsets`` (B+1,);
    ``lengths`` (B,) leaves holes between components. Gradients reach ``values``.

    Example::

        >>> nt = ttorch.nested.nested_tensor_from_jagged(ttorch.randn(5, 3), ttorch.tensor([0, 2, 5]))
        >>> nt.unbind()[1].shape
        ttorch.Size([3, 3])
    """
    if offsets is None:
        if lengths is None:
            raise RuntimeError("nested_tensor_from_jagged(): At least one of offsets or lengths is required.")
        offsets = _offsets_of(lengths.detach().cpu().numpy().astype(np.int64), values.device)
        lengths = None
    jagged_dim = 1 if jagged_dim is None else jagged_dim
    if jagged_dim < 1:
        raise ValueError(f"Expected jagged_dim >=1, but got {jagged_dim}.")
    if jagged_dim > values.ndim:
        raise ValueError(f"Expected jagged_dim <= values.dim() ({values.ndim}), but got {jagged_dim}.")
    return NestedTensor._new(values.view(values._shape), offsets, jagged_dim, lengths, min_seqlen, max_seqlen)


def narrow(tensor, dim, start, length, layout=strided):
    """A nested tensor of ``tensor[i].narrow(dim - 1, start[i], length[i])`` per row ``i``: a view of
    ``tensor`` with holes (jagged layout only)."""
    if layout is strided and (isinstance(start, Tensor) or isinstance(length, Tensor)):
        raise RuntimeError("start and length must be integers for the strided layout NT impl")
    _check_layout(layout)
    if dim != 1:
        raise RuntimeError("jagged layout only supports dim=1")
    from ..ops.creation import tensor as _tensor
    b, n = tensor._shape[0], tensor._shape[1]
    st = start.detach().cpu().numpy().astype(np.int64) if isinstance(start, Tensor) else np.full(b, start)
    ln = length.detach().cpu().numpy().astype(np.int64) if isinstance(length, Tensor) else np.full(b, length)
    off = np.arange(b) * n + st
    offsets = _tensor(np.concatenate([off, [off[-1] + ln[-1]]]).astype(np.int64), device=tensor.device)
    lengths = _tensor(ln, device=tensor.device)
    nt = NestedTensor._new(tensor.reshape((b * n,) + tensor._shape[2:]), offsets, 1, lengths)
    nt._meta = (off, ln)
    return nt


def to_padded_tensor(input, padding, output_size=None, out=None):
    """The dense tensor of ``input``'s components padded with ``padding`` to the longest (or to
    ``output_size``'s ragged size: longer components are cut). Gradients reach the components."""
    from ..ops.creation import full
    from ..ops.movement import cat, stack
    if not isinstance(input, NestedTensor):
        raise RuntimeError("to_padded_tensor(): expected a nested tensor")
    if input._lengths is not None:
        raise RuntimeError("to_padded_tensor(): not supported for nested tensors with holes")
    r = input._ragged_idx - 1
    comps = input.unbind()
    n = max((c._shape[r] for c in comps), default=0)
    if output_size is not None:
        if len(output_size) != input.ndim or any(output_size[d] != input._shape[d] for d in range(input.ndim)
                                                  if d != r + 1):
            raise RuntimeError(f"to_padded_tensor(): output_size {tuple(output_size)} does not fit a nested tensor "
                               f"of size {tuple(input._shape)} (only the ragged dim may differ)")
        n = output_size[r + 1]
    rows = []
    for c in comps:
        c = c.narrow(r, 0, min(n, c._shape[r]))
        k = n - c._shape[r]
        if k:
            pad = list(c._shape)
            pad[r] = k
            c = cat([c, full(tuple(pad), padding, dtype=c.dtype, device=c.device)], r)
        rows.append(c)
    res = stack(rows)
    if out is not None:
        from ..ops._op import write_out
        return write_out(out, res, "to_padded_tensor")
    return res


def masked_select(tensor, mask):
    """A (rows, j) nested tensor of ``tensor``'s elements where ``mask`` (bool, broadcast to ``tensor``)
    is True, one component per row of the last dim."""
    if isinstance(tensor, NestedTensor):
        raise RuntimeError(f"torch.nested.masked_select requires a strided tensor, given {tensor.layout}")
    if mask.dtype is not D.bool:
        raise RuntimeError("masked_select: expected BoolTensor for mask")
    mask = mask.expand(tensor.shape)
    ln = mask.reshape(-1, tensor._shape[-1]).sum(-1).cpu().numpy().astype(np.int64)
    values = tensor.masked_select(mask)
    return NestedTensor._new(values, _offsets_of(ln, tensor.device), 1)


def _rebuild(values, offsets, lengths, ragged_idx, device, requires_grad):
    nt = NestedTensor._new(values.to(device), offsets.to(device), ragged_idx,
                           None if lengths is None else lengths.to(device))
    nt.requires_grad_(requires_grad)
    return nt

