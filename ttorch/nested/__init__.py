"""``ttorch.nested``: batches of tensors of different lengths in PyTorch's jagged layout (``layout=ttorch.jagged``).

A nested tensor (``_nested_tensor.NestedTensor``) packs its components along their ragged dim into one dense
``values`` tensor with ``offsets``; ops run on ``values`` (``_ops.py``), so transformer blocks over
sequences of different lengths need no padding: ``nn.Linear``, ``nn.Embedding``, layer/RMS norm,
activations, dropout, softmax and ``F.scaled_dot_product_attention`` (per sequence) take them.
``nested_tensor`` copies (a leaf, as PyTorch's); ``as_nested_tensor`` and ``nested_tensor_from_jagged``
keep the autograd history: gradients reach the given tensors or values.

The strided layout (PyTorch's default, ``layout=None``: components that may differ in any dims, one flat
buffer) is ``_strided_tensor.StridedNestedTensor``, its ops in ``_strided_ops.py``; ``nn.MultiheadAttention``
(``batch_first``) and ``nn.TransformerEncoderLayer`` take it, and ``nn.TransformerEncoder`` uses it in
PyTorch's inference fast path (``_nested_tensor_from_mask``).

Differences from PyTorch:
- composite functions built from supported ops (``F.mse_loss``...) work where PyTorch raises;
- jagged: ``F.scaled_dot_product_attention`` takes ``is_causal`` on cpu too, and only the (B, H, j, D)
  layout; ``nn.MultiheadAttention`` does not take jagged tensors;
- jagged: ``to_padded_tensor``'s ``output_size`` may change the ragged dim only;
- strided: more ops and operand kinds are accepted (``_strided_ops.py``), ``shape`` answers and
  ``transpose`` copies (``_strided_tensor.py``); no "prototype stage" warning is given.
"""
import numpy as np

from .. import _dtype as D
from .._layout import jagged, strided
from .._tensor import Tensor
from ..ops import _op
from ._nested_tensor import NestedTensor
from ._strided_tensor import StridedNestedTensor
from . import _ops, _strided_ops

__all__ = ["to_padded_tensor", "as_nested_tensor", "nested_tensor", "nested_tensor_from_jagged", "narrow",
           "masked_select"]

_op.SUBCLASS_OPS[NestedTensor] = _ops.handle
_op.SUBCLASS_OPS[StridedNestedTensor] = _strided_ops.handle


def _is_strided(layout):
    """True for the strided layout (PyTorch's default), False for the jagged one; other layouts raise."""
    if layout is None or layout is strided:
        return True
    if layout is not jagged:
        raise RuntimeError(f"Specified layout is unsupported for nested tensors: {layout}")
    return False


def _strided_components(ts, dtype, device):
    """``ts`` as tensors of one dim count, on one device, of ``dtype`` (the first one's when None)."""
    from ..ops.creation import tensor
    ts = [t if isinstance(t, Tensor) else tensor(t) for t in ts]
    for i, t in enumerate(ts):
        if t.ndim != ts[0].ndim:
            raise RuntimeError(f"All Tensors given to nested_tensor must have the same dimension. Found dimension "
                               f"{t.ndim} for Tensor at index {i} and dimension {ts[0].ndim} for Tensor at index 0.")
    device = ts[0].device if device is None else device
    return [t.to(device, dtype or ts[0].dtype) for t in ts]


def _empty_strided(dtype, device):
    from ..ops.creation import empty
    return StridedNestedTensor._new(empty(0, dtype=dtype or D.get_default_dtype(), device=device or "cpu"), (), 1)


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
        tensor_list: tensors (or nested lists of numbers) of one dim count; with ``layout=ttorch.jagged``
            differing in at most one dim, with the strided layout (the default) in any.
        layout: ``ttorch.strided`` (None) or ``ttorch.jagged``.

    Example::

        >>> nt = ttorch.nested.nested_tensor([ttorch.ones(2, 4), ttorch.ones(3, 4)], layout=ttorch.jagged)
        >>> nt.dim(), nt.values().shape
        (3, ttorch.Size([5, 4]))
        >>> ttorch.nested.nested_tensor([ttorch.ones(2, 4), ttorch.ones(3, 5)])._nested_tensor_size().tolist()
        [[2, 4], [3, 5]]
    """
    if _is_strided(layout):
        if not isinstance(tensor_list, (list, tuple)):
            raise TypeError("Only lists (List[Tensor] and List[List...[Scalar]]) are accepted in nested_tensor")
        if len(tensor_list) == 0:
            return _empty_strided(dtype, device).requires_grad_(requires_grad)
        from ..autograd import grad_mode
        with grad_mode.no_grad():
            ts = _strided_components([t.detach() if isinstance(t, Tensor) else t for t in tensor_list], dtype,
                                     device)
            nt = StridedNestedTensor._pack(ts)
        return nt.requires_grad_(requires_grad)
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
    if _is_strided(layout):
        if isinstance(ts, StridedNestedTensor):
            return ts.to(device or ts.device, dtype or ts.dtype)
        if isinstance(ts, Tensor):
            if ts.ndim < 1:
                raise RuntimeError("as_nested_tensor(): a dense input needs a batch dim")
            ts = list(ts.unbind(0))
        if len(ts) == 0:
            return _empty_strided(dtype, device)
        return StridedNestedTensor._pack(_strided_components(list(ts), dtype, device))
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
    if _is_strided(layout):     # (PyTorch's: the rows as components, then the nested tensor's dim-0 narrow)
        return as_nested_tensor(list(tensor.unbind(0))).narrow(dim, start, length)
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
    if isinstance(input, StridedNestedTensor):
        res = _pad_strided(input, padding, output_size)
        if out is not None:
            from ..ops._op import write_out
            return write_out(out, res, "to_padded_tensor")
        return res
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


def _pad_strided(input, padding, output_size):
    """``to_padded_tensor`` of a strided nested tensor: every dim padded to its largest size (or to
    ``output_size``, which may not cut), the batch too when ``output_size`` asks for more rows."""
    from ..nn.functional import pad
    from ..ops.creation import full
    from ..ops.movement import cat, stack
    b, nd = len(input), input.ndim - 1
    size = [max((s[d] for s in input._sizes), default=0) for d in range(nd)]
    if output_size is not None:
        output_size = tuple(output_size)
        if len(output_size) != input.ndim:
            raise RuntimeError("Length of output_size does not match NestedTensor dims. Broadcasting is not "
                               "supported.")
        if output_size[0] < b or any(o < n for o, n in zip(output_size[1:], size)):
            raise RuntimeError("Value in output_size is less than NestedTensor padded size. Truncation is not "
                               "supported.")
        size = list(output_size[1:])
    rows = []
    for c in input.unbind():
        widths = [w for d in reversed(range(nd)) for w in (0, size[d] - c._shape[d])]
        rows.append(pad(c, widths, value=padding) if any(widths) else c)
    res = stack(rows) if rows else full((0,) + tuple(size), padding, dtype=input.dtype, device=input.device)
    if output_size is not None and output_size[0] > b:
        res = cat([res, full((output_size[0] - b,) + tuple(size), padding, dtype=res.dtype, device=res.device)])
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



def _rebuild_strided(values, sizes, ndim, device, requires_grad):
    return StridedNestedTensor._new(values.to(device), sizes, ndim).requires_grad_(requires_grad)


def _nested_tensor_from_mask_left_aligned(t, mask):
    """Whether every row of ``mask`` (B, S) (True: a token) is its True entries followed by its False ones."""
    m = mask.detach().cpu().numpy().astype(bool)
    n = m.sum(-1)
    return bool(np.all(m == (np.arange(m.shape[-1]) < n[:, None])))


def _nested_tensor_from_mask(t, mask, mask_check=True):
    """A strided nested tensor of ``t[i, :n_i]`` where ``n_i`` counts the True entries of ``mask`` (B, S),
    which must be left aligned (PyTorch's ``torch._nested_tensor_from_mask``). Gradients reach ``t``."""
    if mask_check and not _nested_tensor_from_mask_left_aligned(t, mask):
        raise RuntimeError("Mask must be left-aligned without gaps")
    n = mask.detach().cpu().numpy().astype(bool).sum(-1)
    return StridedNestedTensor._pack([t[i].narrow(0, 0, int(k)) for i, k in enumerate(n)], t.ndim, t)
