"""``StridedNestedTensor``: a batch of tensors that may differ in any dims, in PyTorch's default nested layout
(``layout=ttorch.strided``, what ``ttorch.nested.nested_tensor(list)`` makes).

Design: as PyTorch's, one flat buffer (``_values``, 1-D) holds the components one after another, each
contiguous; ``_sizes`` gives each component's shape. Component ``i`` is ``_values[start_i : start_i + n_i]``
viewed to its size. Autograd runs on ``_values`` (``AutogradOfInner``): every op on the nested tensor is a
ttorch op on the buffer (elementwise ops) or on the components whose results are packed again (``cat``),
so gradients reach the buffer and what it was made from. Ops given one reach ``_strided_ops.handle``
through ``Op.__call__``'s ``SUBCLASS_OPS`` table.

Differences from PyTorch: ``shape`` and ``stride()`` answer (irregular dims print as ``irregular``; PyTorch
raises) and ``len()``, ``tolist()`` and iteration work; ``transpose``/``permute`` copy (the result is
contiguous, not a view: writes to it do not reach the input); ``.grad`` of a nested tensor is itself
nested over the buffer's gradient.
"""
import numpy as np

from .._inner_autograd import AutogradOfInner
from .._tensor import Tensor, _wrap_dim
from ._nested_tensor import OverValues


class _Irregular:
    """The size of a dim where the components differ: any use as a number raises PyTorch's error."""

    def __init__(self, dim):
        self.dim = dim

    def __repr__(self):
        return "irregular"

    def __eq__(self, other):
        return False

    def __ne__(self, other):
        return True

    __hash__ = object.__hash__

    def __index__(self):
        raise RuntimeError(f"Given dimension {self.dim} is irregular and does not have a size.")

    __int__ = __index__


def _sizes_tuple(sizes):
    return tuple(tuple(int(n) for n in s) for s in sizes)


class StridedNestedTensor(OverValues, AutogradOfInner, Tensor):
    """A strided nested tensor: components packed one after another in ``_values`` (1-D), shapes ``_sizes``."""

    _inner = "_values"     # (autograd: that tensor's, ttorch/_inner_autograd.py)
    is_nested = True

    @staticmethod
    def _new(values, sizes, ndim=None):
        """A nested tensor over the flat ``values`` (used as given) with component shapes ``sizes``."""
        t = StridedNestedTensor.__new__(StridedNestedTensor)
        t._values, t._sizes = values, _sizes_tuple(sizes)
        t._numels = [int(np.prod(s, dtype=np.int64)) for s in t._sizes]
        t._starts = np.concatenate([[0], np.cumsum(t._numels, dtype=np.int64)])[:-1].tolist()
        n = len(t._sizes[0]) if t._sizes else (0 if ndim is None else ndim - 1)
        dims = [{s[d] for s in t._sizes} for d in range(n)]
        t._shape = (len(t._sizes),) + tuple(next(iter(v)) if len(v) == 1 else _Irregular(d + 1)
                                            for d, v in enumerate(dims))
        t.dtype, t.device = values.dtype, values.device
        return t

    @staticmethod
    def _pack(comps, ndim=None, like=None):
        """A nested tensor of ``comps`` (tensors of one dim count) copied into one buffer, tracked by autograd."""
        from ..ops.movement import cat
        if not comps:
            from ..ops.creation import empty
            return StridedNestedTensor._new(empty(0, dtype=like.dtype, device=like.device), (), ndim)
        values = cat([c.reshape(-1) for c in comps]) if len(comps) > 1 else comps[0].reshape(-1).clone()
        return StridedNestedTensor._new(values, [c._shape for c in comps])

    def _like(self, values):
        """This nested tensor's structure over new flat ``values`` (same number of elements)."""
        return StridedNestedTensor._new(values, self._sizes, self.ndim)

    _fresh = _like      # (``zeros_like``...: the values already sit on the new device)

    def _map(self, fn):
        """``fn`` on every component, results packed into a new nested tensor."""
        return StridedNestedTensor._pack([fn(c) for c in self.unbind()], self.ndim, self)

    def _resized(self, sizes):
        """The same buffer (a view of it) seen with new component shapes of the same numels."""
        return StridedNestedTensor._new(self._values.view(self._values._shape), sizes, self.ndim)

    # ------------------------------------------------------------------ what PyTorch's nested tensors expose
    def unbind(self, dim=0):
        """The components, as views of the buffer (tracked: their gradients reach it)."""
        if _wrap_dim(dim, self.ndim) != 0:
            raise RuntimeError(f"NestedTensor can only be unbound along dimension 0 got dimension {dim} instead.")
        v = self._values
        return tuple(v.narrow(0, s, n).view(size) for s, n, size in zip(self._starts, self._numels, self._sizes))

    def _nested_tensor_size(self):
        """(B, dim - 1) int64: each component's shape."""
        from ..ops.creation import tensor
        return tensor(np.array(self._sizes, dtype=np.int64).reshape(len(self._sizes), self.ndim - 1))

    def _nested_tensor_strides(self):
        """(B, dim - 1) int64: each component's (contiguous) strides."""
        from ..ops.creation import tensor
        st = [np.cumprod((1,) + s[:0:-1], dtype=np.int64)[::-1] if s else [] for s in self._sizes]
        return tensor(np.array(st, dtype=np.int64).reshape(len(self._sizes), self.ndim - 1))

    def _nested_tensor_storage_offsets(self):
        from ..ops.creation import tensor
        return tensor(np.array(self._starts, dtype=np.int64))

    def size(self, dim=None):
        """``size(d)``: the size of a regular dim; irregular dims raise, as PyTorch's."""
        if dim is None:
            return self.shape
        return int(self._shape[_wrap_dim(dim, self.ndim, "size")])

    def stride(self, dim=None):
        raise RuntimeError("Internal error: NestedTensorImpl doesn't support strides. Please file an issue.")

    def numel(self):
        return sum(self._numels)

    nelement = numel

    def is_contiguous(self, memory_format=None):
        return True

    def contiguous(self, memory_format=None):
        return self

    def __getitem__(self, index):
        """``nt[i]`` (component ``i``) or ``nt[i, ...]`` (an index into it)."""
        if isinstance(index, tuple) and index and isinstance(index[0], int):
            c = self.unbind()[index[0]]
            return c[index[1:]] if len(index) > 1 else c
        if isinstance(index, int):
            return self.unbind()[index]
        raise NotImplementedError("aten.slice.Tensor: a nested tensor takes an integer index (one component)")

    def select(self, dim, index):
        d = _wrap_dim(dim, self.ndim)
        if d == 0:
            return self.unbind()[index]
        return self._map(lambda c: c.select(d - 1, index))

    def narrow(self, dim, start, length):
        """Components ``start .. start + length - 1``: a view of the buffer (dim 0 only, as PyTorch's)."""
        if _wrap_dim(dim, self.ndim) != 0:
            raise RuntimeError(f"narrow(): only dim=0 supported for nested tensors, but got: {dim}")
        b = len(self._sizes)
        start = start + b if start < 0 else start
        if not 0 <= start <= b or length < 0 or start + length > b:
            raise IndexError(f"start ({start}) + length ({length}) exceeds dimension size ({b}).")
        first = self._starts[start] if start < b else self._values.numel()
        n = sum(self._numels[start:start + length])
        return StridedNestedTensor._new(self._values.narrow(0, first, n), self._sizes[start:start + length],
                                        self.ndim)

    def __iter__(self):
        return iter(self.unbind())

    def __len__(self):
        return len(self._sizes)

    def tolist(self):
        return [c.tolist() for c in self.unbind()]

    def to_padded_tensor(self, padding, output_size=None):
        from . import to_padded_tensor
        return to_padded_tensor(self, padding, output_size)

    # ------------------------------------------------------------------ shapes: the components' shapes change
    def view(self, *shape):
        """``shape``: (B, *rest): every component viewed as ``rest`` (-1 inferred per component)."""
        return self._reshaped(shape, "view")

    def reshape(self, *shape):
        return self._reshaped(shape, "reshape")

    def _reshaped(self, shape, how):
        shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else tuple(shape)
        if not shape or shape[0] != len(self._sizes):
            raise RuntimeError(f"{how}: For now nested {how} cannot change or infer the implicit batch dimension")
        from ..ops.creation import empty
        # each component's new shape, checked by a dense view of an empty tensor of its size (PyTorch's errors)
        sizes = [empty(s, device="cpu").view(shape[1:])._shape if n else _zero_size(s, shape[1:])
                 for s, n in zip(self._sizes, self._numels)]
        return self._resized(sizes)

    def unsqueeze(self, dim):
        d = _wrap_dim(dim, self.ndim + 1)
        if d == 0:
            raise RuntimeError("unsqueeze(): For nested tensors, unsqueezing dimension 0 is not supported at the "
                               "moment if you need this feature, please open an issue on github describing your use "
                               "case.")
        return self._resized([s[:d - 1] + (1,) + s[d - 1:] for s in self._sizes])

    def squeeze(self, dim=None):
        if dim is None:
            raise RuntimeError("squeeze(): For nested tensors, squeeze without the dim argument is not supported at "
                               "the moment, however you can use squeeze(Tensor self, int dim) instead if you need "
                               "this feature, please open an issue on github describing your use case.")
        d = _wrap_dim(dim, self.ndim)
        if d == 0:
            raise RuntimeError("squeeze(): For nested tensors, squeezing dimension 0 is not supported at the moment "
                               "if you need this feature, please open an issue on github describing your use case.")
        if any(s[d - 1] != 1 for s in self._sizes):
            return self
        return self._resized([s[:d - 1] + s[d:] for s in self._sizes])

    def chunk(self, chunks, dim=0):
        """Equal pieces of the last dim (its size must divide by ``chunks``), as PyTorch's nested chunk."""
        d = _wrap_dim(dim, self.ndim)
        if d != self.ndim - 1:
            raise RuntimeError("Chunk for nested tensors is currently only supported for the last dimension.")
        n = self.size(-1)
        if n % chunks:
            raise RuntimeError("Chunk for nested tensors is only supported for nested tensors with trailing dimension "
                               f"divisible by chunks, got: {n} % {chunks} != 0")
        return self.split(n // chunks, d)

    def split(self, split_size, dim=0):
        from ..ops.views import split
        return split(self, split_size, dim)

    def copy_(self, src, non_blocking=False):
        """Copy ``src`` (a nested tensor of the same component shapes) into this one's buffer."""
        if not isinstance(src, StridedNestedTensor) or src._sizes != self._sizes:
            raise RuntimeError("copy_ only supports tensors that are the same size for Nested implementations")
        self._values.copy_(src._values, non_blocking)
        return self

    def _inplace_from(self, result, opname):
        """``ops.inplace.inplace_from`` for a nested ``self``: the buffer takes the result's buffer."""
        from ..ops.inplace import inplace_from
        inplace_from(self._values, result._values if isinstance(result, StridedNestedTensor) else result, opname)
        return self

    def zero_(self):
        self._values.zero_()
        return self

    def fill_(self, value):
        self._values.fill_(value)
        return self

    def masked_fill_(self, mask, value):
        return self._inplace_from(self.masked_fill(mask, value), "masked_fill_")

    # ------------------------------------------------------------------ what a dense tensor has and this has not
    @property
    def _np(self):
        raise RuntimeError("Internal error: NestedTensorImpl doesn't support sizes. Use unbind() or "
                           "ttorch.nested.to_padded_tensor() for the elements.")

    def _view(self, shape, stride, offset):
        raise RuntimeError("view(): a nested tensor's elements are reached through unbind()")

    def storage_offset(self):
        return 0

    def to(self, *args, **kwargs):
        dev, dt, copy = self._to_args(args, kwargs)
        if dev == self.device and dt is self.dtype and not copy:
            return self
        return self._like(self._values.to(dev, dt, copy=copy))

    def __reduce_ex__(self, proto):
        from . import _rebuild_strided
        return (_rebuild_strided, (self._values.detach().cpu(), self._sizes, self.ndim, str(self.device),
                                   self.requires_grad))

    def __deepcopy__(self, memo):
        out = self._like(self._values.__deepcopy__(memo))
        memo[id(self)] = out
        return out

    def __repr__(self, *, tensor_contents=None):
        rg = self.requires_grad
        comps = [repr(c.detach().requires_grad_(rg) if rg and c.dtype.is_floating_point else c.detach())
                 for c in self.unbind()]
        body = ",\n".join("  " + c.replace("\n", "\n  ") for c in comps)
        tail = f", grad_fn=<{self.grad_fn.name()}>)" if self.grad_fn is not None else ")"
        return f"nested_tensor([\n{body}\n]{tail}"

    __str__ = __repr__

    def __bool__(self):
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")

    def __float__(self):
        raise RuntimeError("a nested tensor cannot be converted to a Python scalar")

    __int__ = __index__ = __complex__ = item = __float__


def _zero_size(size, shape):
    """The shape ``shape`` (one -1 at most) takes for a component of ``size`` with no elements."""
    shape = tuple(shape)
    if -1 in shape:
        known = int(np.prod([s for s in shape if s != -1], dtype=np.int64))
        if known == 0:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size 0")
        shape = tuple(0 if s == -1 else s for s in shape)
    if int(np.prod(shape, dtype=np.int64)) != 0:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size 0")
    return shape
