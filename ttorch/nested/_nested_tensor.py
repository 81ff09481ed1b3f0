"""``NestedTensor``: a batch of tensors that differ in the size of one dim, in PyTorch's jagged layout.

Design: the components are stored packed along their ragged dim in one dense tensor, ``_values``
(``(sum_j, *rest)`` for the usual (B, j, *rest) batch), with ``_offsets`` (int64, (B+1,)): component
``i`` is ``values.narrow(r - 1, offsets[i], lengths[i])`` where ``r`` (``_ragged_idx``) is the ragged
dim of the nested tensor (1, or 2 after ``transpose(1, 2)``: then ``values`` is (H, sum_j, D)).
``_lengths`` is None unless the components leave holes between them (``narrow``).

The nested tensor is a thin view over ``_values``: autograd runs on ``_values`` (every op on a nested
tensor is a ttorch op on its values, so gradients reach what it was made from), and
``requires_grad``, ``grad_fn``, ``is_leaf``, ``.grad`` and ``backward`` read or write those of
``_values``. Ops given a nested tensor reach its handler (``_ops.py``) through ``Op.__call__``.

Differences from PyTorch: ``.grad`` shares the tensor's offsets (the same ``j``; PyTorch makes new
ones); ``ttorch.autograd.grad`` takes the values, not a nested tensor, as its inputs.
"""
import numpy as np

from .._layout import jagged
from .._inner_autograd import AutogradOfInner
from .._tensor import Tensor, _wrap_dim, _TYPE_NAMES


class NestedInt:
    """The size of a ragged dim: one symbol per offsets tensor, printed ``j1``, ``j2``... as PyTorch's
    ``SymInt``; equal only to itself (two batches with the same ``j`` have the same lengths)."""

    _count = 0

    def __init__(self):
        NestedInt._count += 1
        self._n = NestedInt._count

    def __repr__(self):
        return f"j{self._n}"

    def __eq__(self, other):
        return self is other

    def __ne__(self, other):
        return self is not other

    def __hash__(self):
        return hash(("j", self._n))

    def __mul__(self, other):    # strides print as ``4*j1`` in PyTorch; ttorch keeps the symbol and factor
        return _Scaled(self, other)

    __rmul__ = __mul__

    def __index__(self):
        raise RuntimeError(f"Cannot convert the nested int {self} to an int: it stands for every length of a "
                           "nested tensor's ragged dim")

    __int__ = __index__


class _Scaled:
    """``k * j``: a stride over the ragged dim, printed ``4*j1`` as PyTorch prints it."""

    def __init__(self, j, k):
        self.j, self.k = j, k

    def __repr__(self):
        return f"{self.k}*{self.j}"

    def __eq__(self, other):
        return type(other) is _Scaled and other.j is self.j and other.k == self.k

    def __hash__(self):
        return hash((self.j, self.k))


def nested_int(offsets):
    """The ``j`` of ``offsets``, kept on the tensor: nested tensors built on the same offsets share it."""
    j = offsets.__dict__.get("_nested_int")
    if j is None:
        j = offsets._nested_int = NestedInt()
    return j


class OverValues:
    """What both nested layouts forward to their values tensor ``_values`` (re-wrapped by ``_like``): its
    version counter, gradient and autograd calls, copies; ``numpy()`` refuses as PyTorch's."""

    def numpy(self, *, force=False):
        raise RuntimeError("Internal error: NestedTensorImpl doesn't support sizes. Please file an issue.")

    def untyped_storage(self):
        return self._values.untyped_storage()

    def data_ptr(self):
        return self._values.data_ptr()

    @property
    def _version(self):
        return self._values._version

    def _bump_version(self):
        self._values._bump_version()

    def type(self, dtype=None, non_blocking=False, **kw):
        if dtype is None:
            return f"ttorch.{'cuda.' if self.is_cuda else ''}{_TYPE_NAMES[self.dtype]}"
        return self.to(dtype)

    # (autograd: that of the values)
    @property
    def grad(self):
        g = self._values.grad
        return None if g is None else self._like(g)

    @grad.setter
    def grad(self, value):
        self._values.grad = None if value is None else value._values

    def retain_grad(self):
        self._values.retain_grad()

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """``gradient``: a nested tensor of this one's structure (required: a nested tensor is not a scalar)."""
        if gradient is None:
            raise RuntimeError("grad can be implicitly created only for scalar outputs")
        g = gradient._values if getattr(gradient, "is_nested", False) else gradient
        self._values.backward(g, retain_graph=retain_graph, create_graph=create_graph, inputs=inputs)

    def detach(self):
        return self._like(self._values.detach())

    def detach_(self):
        self._values.detach_()
        return self

    @property
    def data(self):
        return self.detach()

    def clone(self, *, memory_format=None):
        return self._like(self._values.clone())


class NestedTensor(OverValues, AutogradOfInner, Tensor):
    """A jagged nested tensor: ``_values`` packed along ``_ragged_idx - 1``, ``_offsets`` (B+1,)."""

    _inner = "_values"     # (autograd: that tensor's, ttorch/_inner_autograd.py)

    is_nested = True
    layout = jagged
    _lengths = None
    _min_seqlen = None
    _max_seqlen = None

    @staticmethod
    def _new(values, offsets, ragged_idx=1, lengths=None, min_seqlen=None, max_seqlen=None, meta=None):
        """A nested tensor over ``values`` (used as given: the caller decides views and graphs)."""
        t = NestedTensor.__new__(NestedTensor)
        t._values, t._offsets, t._lengths, t._ragged_idx = values, offsets, lengths, ragged_idx
        t._min_seqlen, t._max_seqlen = min_seqlen, max_seqlen
        t._meta = meta      # with lengths (holes): (starts, lengths) once read (``_host_meta``)
        shape = list(values._shape)
        shape.insert(0, offsets._shape[0] - 1)
        shape[ragged_idx] = nested_int(offsets)
        t._shape = tuple(shape)
        t.dtype, t.device = values.dtype, values.device
        return t

    def _like(self, values, ragged_idx=None):
        """A nested tensor with this one's offsets (and lengths) over new ``values``."""
        return NestedTensor._new(values, self._offsets, self._ragged_idx if ragged_idx is None else ragged_idx,
                                 self._lengths, self._min_seqlen, self._max_seqlen, self._meta)

    def _fresh(self, values):
        """This structure over ``values`` on any device (``zeros_like``...): its offsets moved with them."""
        if values.device == self.device:
            return self._like(values)
        ln = None if self._lengths is None else self._lengths.to(values.device)
        return NestedTensor._new(values, self._offsets.to(values.device), self._ragged_idx, ln, self._min_seqlen,
                                 self._max_seqlen, self._meta)

    def _host_meta(self):
        """(starts, lengths): NumPy int64 arrays, one entry per component, read once per offsets tensor
        (reading cuda offsets waits for the device) and kept on it."""
        meta = self._meta if self._lengths is not None else self._offsets.__dict__.get("_nested_meta")
        if meta is None:
            off = self._offsets.detach().cpu().numpy().astype(np.int64)
            ln = np.diff(off) if self._lengths is None else self._lengths.detach().cpu().numpy().astype(np.int64)
            meta = (off[:-1], ln)
            if self._lengths is None:
                self._offsets._nested_meta = meta
            else:
                self._meta = meta
        return meta

    def _batch_index(self):
        """(sum_j,) int64 on this tensor's device: the component each packed row belongs to (tensors
        without holes only), kept on the offsets tensor."""
        idx = self._offsets.__dict__.get("_nested_rows")
        if idx is None:
            from ..ops.creation import tensor
            _, ln = self._host_meta()
            idx = self._offsets._nested_rows = tensor(np.repeat(np.arange(len(ln)), ln), device=self.device)
        return idx

    # ------------------------------------------------------------------ what PyTorch's NJT exposes
    def values(self):
        """The packed components (a view: writes to it change this tensor), tracked by autograd."""
        return self._values.view(self._values._shape)

    def offsets(self):
        return self._offsets

    def lengths(self):
        return self._lengths

    @property
    def _ragged_dim(self):
        return self._ragged_idx

    def is_contiguous(self, memory_format=None):
        return self._lengths is None and self._values.is_contiguous()

    def contiguous(self, memory_format=None):
        """Components packed without holes in ``values``' row-major order (a copy where they are not)."""
        if self._lengths is not None:
            from ..ops.movement import cat
            r = self._ragged_idx - 1
            start, ln = self._host_meta()
            vals = cat([self._values.narrow(r, int(s), int(n)) for s, n in zip(start, ln)], r)
            from ..ops.creation import tensor
            off = tensor(np.concatenate([[0], np.cumsum(ln)]), device=self.device)
            return NestedTensor._new(vals.contiguous(), off, self._ragged_idx, None, self._min_seqlen,
                                     self._max_seqlen)
        return self if self._values.is_contiguous() else self._like(self._values.contiguous())

    def numel(self):
        return int(self._host_meta()[1].sum()) * _numel_except(self._values._shape, self._ragged_idx - 1)

    nelement = numel

    def size(self, dim=None):
        if dim is None:
            return self.shape
        return self._shape[_wrap_dim(dim, len(self._shape), "size")]

    def stride(self, dim=None):
        st = list(self._values.stride())
        j = self._shape[self._ragged_idx]
        st.insert(0, st[self._ragged_idx - 1] * j)     # (PyTorch's ``4*j1``: a component's rows times j)
        st = tuple(st)
        return st if dim is None else st[_wrap_dim(dim, len(st), "stride")]

    def unbind(self, dim=0):
        """The components, as views of ``values`` (tracked: their gradients reach ``values``)."""
        if _wrap_dim(dim, self.ndim) != 0:
            raise RuntimeError("unbind(): only supported for NestedTensor on dim=0")
        start, ln = self._host_meta()
        r = self._ragged_idx - 1
        return tuple(self._values.narrow(r, int(s), int(n)) for s, n in zip(start, ln))

    def __getitem__(self, index):
        if isinstance(index, int):
            return self.unbind()[index]
        raise RuntimeError("slice(): not supported for NestedTensor on dim=0" if isinstance(index, tuple) else
                           "ttorch.nested: only an integer index (one component) is supported")

    def __iter__(self):
        return iter(self.unbind())

    def to_padded_tensor(self, padding, output_size=None):
        from . import to_padded_tensor
        return to_padded_tensor(self, padding, output_size)

    # ------------------------------------------------------------------ views over the non-ragged dims
    def view(self, *shape):
        """``shape``: (B, -1 or j, *rest) where ``rest`` re-shapes the dims after the ragged one (the ragged
        dim must be dim 1, as in PyTorch, unless ``shape`` is this tensor's own)."""
        return self._reshaped(shape, "view")

    def reshape(self, *shape):
        return self._reshaped(shape, "reshape")

    def _reshaped(self, shape, how):
        shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else tuple(shape)
        if shape == self._shape:
            return self._like(self._values.view(self._values._shape))
        if self._ragged_idx != 1:
            raise RuntimeError(f"view(): does not support ragged_idx != 1 except when inp._size == size. inp._size is "
                               f"(({', '.join(map(str, self._shape))})) and size is ({list(shape)}).")
        if len(shape) < 2 or shape[0] not in (-1, self._shape[0]) or shape[1] not in (-1, self._shape[1]):
            raise RuntimeError(f"{how}(): a nested tensor of size ({', '.join(map(str, self._shape))}) keeps its "
                               f"batch and ragged dims, got size {list(shape)}")
        v = self._values
        rows = (v._shape[0],) + shape[2:]
        return self._like(v.view(rows) if how == "view" else v.reshape(rows))

    def view_as(self, other):
        return self.view(other._shape)

    def reshape_as(self, other):
        return self.reshape(other._shape)

    def expand(self, *sizes):
        sizes = tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else tuple(sizes)
        if len(sizes) != self.ndim or any(s not in (-1, n) for s, n in zip(sizes, self._shape)):
            raise RuntimeError(f"expand(): a nested tensor of size ({', '.join(map(str, self._shape))}) expands to "
                               f"its own size only, got {list(sizes)}")
        return self._like(self._values.view(self._values._shape))

    def flatten(self, start_dim=0, end_dim=-1):
        """Flatten dims ``start_dim..end_dim``, none of them the batch or the ragged dim."""
        a, b, r = _wrap_dim(start_dim, self.ndim), _wrap_dim(end_dim, self.ndim), self._ragged_idx
        if a == b:
            return self
        if a <= r <= b:
            raise RuntimeError("flatten(): not supported for NestedTensor on ragged dim")
        if a == 0:
            raise RuntimeError("flatten(): not supported for NestedTensor on dim=0")
        return self._like(self._values.flatten(a - 1, b - 1), r - (b - a) if b < r else r)

    def unflatten(self, dim, sizes):
        d, r = _wrap_dim(dim, self.ndim), self._ragged_idx
        if d in (0, r):
            raise RuntimeError(f"unflatten(): not supported for NestedTensor on dim={d}")
        return self._like(self._values.unflatten(d - 1, sizes), r + len(sizes) - 1 if d < r else r)

    def unsqueeze(self, dim):
        d = _wrap_dim(dim, self.ndim + 1)
        if d == 0:
            raise RuntimeError("unsqueeze(): not supported for NestedTensor on dim=0")
        r = self._ragged_idx
        return self._like(self._values.unsqueeze(d - 1), r + 1 if d <= r else r)

    def squeeze(self, dim=None):
        if dim is None:
            raise RuntimeError("squeeze(): For nested tensors, squeeze without the dim argument is not supported")
        d, r = _wrap_dim(dim, self.ndim), self._ragged_idx
        if d in (0, r):
            raise RuntimeError(f"squeeze(): not supported for NestedTensor on dim={d}")
        return self._like(self._values.squeeze(d - 1), r - 1 if d < r else r)

    def copy_(self, src, non_blocking=False):
        """Copy ``src`` (a nested tensor of this structure, or dense broadcasting to the values) into the values."""
        self._values.copy_(src._values if isinstance(src, NestedTensor) else src, non_blocking)
        return self

    def masked_fill_(self, mask, value):
        return self._inplace_from(self.masked_fill(mask, value), "masked_fill_")

    def _inplace_from(self, result, opname):
        """``ops.inplace.inplace_from`` for a nested ``self``: the values take the result's values."""
        from ..ops.inplace import inplace_from
        if isinstance(result, NestedTensor):
            result = result._values
        inplace_from(self._values, result, opname)
        return self

    # ------------------------------------------------------------------ what a dense tensor has and this has not
    @property
    def _np(self):
        raise RuntimeError("Internal error: NestedTensorImpl doesn't support sizes. Use .values() or "
                           "ttorch.nested.to_padded_tensor() for the elements.")

    def _view(self, shape, stride, offset):
        raise RuntimeError("view(): a nested tensor's elements are reached through .values()")

    def tolist(self):
        return [c.tolist() for c in self.unbind()]

    # ------------------------------------------------------------------ devices and dtypes
    def to(self, *args, **kwargs):
        dev, dt, copy = self._to_args(args, kwargs)
        if dev == self.device and dt is self.dtype and not copy:
            return self
        vals = self._values.to(dev, dt, copy=copy)
        if dev == self.device:
            return self._like(vals)
        ln = None if self._lengths is None else self._lengths.to(dev)
        return NestedTensor._new(vals, self._offsets.to(dev), self._ragged_idx, ln, self._min_seqlen,
                                 self._max_seqlen, self._meta)

    def __reduce_ex__(self, proto):
        from . import _rebuild
        ln = None if self._lengths is None else self._lengths.cpu()
        return (_rebuild, (self._values.detach().cpu(), self._offsets.cpu(), ln, self._ragged_idx,
                           str(self.device), self.requires_grad))

    def __deepcopy__(self, memo):
        out = self._like(self._values.__deepcopy__(memo))
        memo[id(self)] = out
        return out

    def __repr__(self, *, tensor_contents=None):
        parts = [f"size=({', '.join(map(str, self._shape))})", f"offsets={self._offsets!r}"]
        if self.grad_fn is not None:
            parts.append(f"grad_fn=<{self.grad_fn.name()} object>")
        elif self.requires_grad:
            parts.append("requires_grad=True")
        parts.append(f"contiguous={self.is_contiguous()}")
        return f"NestedTensor({', '.join(parts)})"

    __str__ = __repr__

    def __bool__(self):
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")

    def __float__(self):
        raise RuntimeError("a nested tensor cannot be converted to a Python scalar")

    __int__ = __index__ = __complex__ = item = __float__


def _numel_except(shape, d):
    n = 1
    for i, s in enumerate(shape):
        if i != d:
            n *= s
    return n
