"""Sparse COO tensors: ``SparseTensor`` and its ops (constructors and printing: ``sparse/_construct.py``).

Design: a sparse tensor is a ``SparseTensor``, a subclass of ``Tensor`` holding two dense tensors,
``_ind`` (int64, ``(sparse_dim, nnz)``) and ``_val`` (``(nnz, *dense_shape)``), its shape and
whether it is coalesced (indices sorted and unique). A subclass, so ``isinstance(s, Tensor)`` holds
and autograd (``Function``, the engine's ``AccumulateGrad``) takes it as any tensor; and not the
exact type ``Tensor``, so every fast path written ``type(t) is Tensor`` skips it. ``Op.__call__``
sends an op given one to ``_dense_op_error`` (PyTorch's ``NotImplementedError`` naming the op and
``SparseCPU``/``SparseCUDA``), and ``_np``, storage and views raise too: a dense op never reads a
sparse tensor's (absent) elements. What sparse tensors support is written here as methods over
``_ind``/``_val`` with ttorch ops, so it runs on both devices; products live in ``ops/sparse_mm.py``.

Autograd: a sparse tensor may be a leaf (``requires_grad=True``) or come from a recorded op; its
gradient is a sparse tensor (``_SparseFn`` runs each op's forward and a backward given as functions).

Deliberate differences from PyTorch: ``sparse + dense`` gives the dense sum (PyTorch raises and asks
for ``dense + sparse``) and ``contiguous()`` returns the tensor itself (PyTorch raises): the autograd
engine sums and stores gradients with both. Sums of two coalesced tensors are coalesced, other sums
keep every entry (PyTorch may merge some: same dense value, another ``_nnz()``). Only the operator
forms take a sparse operand on the right (``d + s``, ``d * s``, ``d @ s``; ``ttorch.add(d, s)`` raises
a TypeError). Zero-preserving elementwise math on the values is in ``sparse/_unary.py``; the compressed
layouts (CSR...) in ``_sparse_compressed.py``.
"""
from . import _dtype as D
from ._layout import sparse_coo
from ._tensor import Tensor, _numel, _contig_strides, _wrap_dim, _TYPE_NAMES
from .autograd import grad_mode
from .autograd.function import Function
from .ops import _op


def _backend(t):
    """PyTorch's dispatch key of sparse ``t``: ``Sparse``/``SparseCsr`` (every compressed layout) + CPU/CUDA."""
    return getattr(t, "_key", "Sparse") + ("CUDA" if t.device.type == "cuda" else "CPU")


def _unsupported(name, t):
    return NotImplementedError(
        f"Could not run 'aten::{name}' with arguments from the '{_backend(t)}' backend. ttorch implements it for "
        "strided (dense) tensors only: convert with .to_dense() first.")


def _dense_op_error(op, inputs, attrs):
    """``Op.__call__``'s answer to a sparse input: PyTorch's error for an op with no sparse kernel."""
    t = next(t for t in inputs if type(t) is SparseTensor)
    raise _unsupported(op.name, t)


class _SparseFn(Function):
    """One recorded sparse op: ``fwd(*tensors)`` forward, ``bwd(grad)`` -> a gradient per tensor;
    its node is named as PyTorch's (``name``)."""

    @staticmethod
    def forward(ctx, name, fwd, bwd, *tensors):
        ctx._name, ctx.bwd = name, bwd
        return fwd(*tensors)

    @staticmethod
    def backward(ctx, grad):
        return (None, None, None) + tuple(ctx.bwd(grad))


def _tracked(name, fwd, bwd, *tensors):
    """``fwd(*tensors)``, recorded for autograd (node ``name``) when a tensor requires grad."""
    if grad_mode._state["enabled"] and any(isinstance(t, Tensor) and t.requires_grad for t in tensors):
        return _SparseFn.apply(name, fwd, bwd, *tensors)
    return fwd(*tensors)


def _keys(ind, sizes):
    """(nnz,) int64: each entry's row-major position over the sparse dims of sizes ``sizes``."""
    from .ops.creation import zeros
    st = _contig_strides(tuple(sizes))
    key = zeros(ind._shape[1], dtype=D.int64, device=ind.device)
    for d, s in enumerate(st):
        key = key + ind[d] * s
    return key


def _unravel(key, sizes):
    """The inverse of ``_keys``: (len(sizes), n) int64 coordinates of row-major positions ``key``."""
    from .ops.creation import zeros
    from .ops.movement import stack
    if not sizes:
        return zeros((0, key._shape[0]), dtype=D.int64, device=key.device)
    st = _contig_strides(tuple(sizes))
    return stack([(key // s) % n for s, n in zip(st, sizes)])


class _WithoutStorage:
    """What a dense tensor has and a sparse one (COO here, compressed in ``_sparse_compressed.py``) has not,
    each refused with PyTorch's message for the layout (``_impl``: its TensorImpl, ``_kind``: its name)."""

    _impl, _kind = "SparseTensorImpl", "Sparse"

    @property
    def _np(self):
        raise _unsupported("_local_scalar_dense", self)

    def _view(self, shape, stride, offset):
        raise _unsupported("view", self)

    def untyped_storage(self):
        raise NotImplementedError(f"Cannot access storage of {self._impl}")

    def storage(self):
        return self.untyped_storage()

    def data_ptr(self):
        raise RuntimeError("Cannot access data pointer of Tensor that doesn't have storage")

    def stride(self, dim=None):
        raise RuntimeError(f"{self._kind} tensors do not have strides")

    def storage_offset(self):
        raise RuntimeError(f"{self._kind} tensors do not have storage offsets")


class SparseTensor(_WithoutStorage, Tensor):
    """A tensor in the sparse COO layout: ``_ind`` (sparse_dim, nnz) coordinates, ``_val`` (nnz, *dense)."""

    is_sparse = True
    is_sparse_csr = False
    layout = sparse_coo
    _coalesced = False
    _sparse_values_ops = True       # the unary ops hand it to ``SUBCLASS_OPS`` (sparse/_unary.py)

    @staticmethod
    def _new(ind, val, shape, coalesced=False):
        s = SparseTensor.__new__(SparseTensor)
        s._ind, s._val, s._shape, s._coalesced = ind, val, tuple(shape), bool(coalesced)
        s.dtype, s.device = val.dtype, val.device
        return s

    # ------------------------------------------------------------------ what a dense tensor has and this has not
    def is_contiguous(self, memory_format=None):
        return False

    def contiguous(self, memory_format=None):
        return self     # (PyTorch raises; the autograd engine stores gradients through it)

    def numpy(self, *, force=False):
        raise TypeError("can't convert Sparse layout tensor to numpy. Use Tensor.to_dense() first.")

    def _bump_version(self):
        pass            # (no storage shared with views: nothing to invalidate)

    def resize_(self, *sizes, memory_format=None):
        raise _unsupported("resize_", self)

    def reshape(self, *shape):
        raise RuntimeError("reshape is not implemented for sparse tensors")

    def type(self, dtype=None, non_blocking=False, **kw):
        if dtype is None:
            return f"ttorch.{'cuda.' if self.is_cuda else ''}sparse.{_TYPE_NAMES[self.dtype]}"
        return self.to(dtype)

    # ------------------------------------------------------------------ structure
    def sparse_dim(self):
        return self._ind._shape[0]

    def dense_dim(self):
        return len(self._shape) - self._ind._shape[0]

    def _nnz(self):
        return self._ind._shape[1]

    def is_coalesced(self):
        return self._coalesced

    def _coalesced_(self, coalesced):
        self._coalesced = bool(coalesced)
        return self

    def _indices(self):
        return self._ind.detach()

    def _values(self):
        return _tracked("ValuesBackward0", lambda s: s._val.detach(), lambda g: (self._with_values(g),),
                        self)

    def indices(self):
        if not self._coalesced:
            raise RuntimeError("Cannot get indices on an uncoalesced tensor, please call .coalesce() first")
        return self._indices()

    def values(self):
        if not self._coalesced:
            raise RuntimeError("Cannot get values on an uncoalesced tensor, please call .coalesce() first")
        return self._values()

    def _with_values(self, val, coalesced=None):
        """A sparse tensor with this one's indices and ``val`` (untracked)."""
        return SparseTensor._new(self._ind, val, self._shape, self._coalesced if coalesced is None else coalesced)

    def coalesce(self):
        """This tensor with sorted, unique indices (duplicates summed)."""
        if self._coalesced:
            return self
        return _tracked("CoalesceBackward0", _coalesce, lambda g: (g,), self)

    # ------------------------------------------------------------------ conversions
    def to_dense(self, dtype=None, *, masked_grad=None):
        """The dense tensor (duplicate entries summed); its gradient is sparse on this tensor's entries."""
        out = _tracked("ToDenseBackward0", _to_dense, lambda g: (_mask(g, _pattern(self)),), self)
        return out if dtype is None else out.to(dtype)

    def to_sparse(self, sparse_dim=None, *, layout=None, blocksize=None, dense_dim=None):
        if layout not in (None, sparse_coo):
            from ._sparse_compressed import coo_to_compressed
            return coo_to_compressed(self, layout, blocksize, dense_dim)
        if sparse_dim is not None and sparse_dim != self.sparse_dim():
            raise RuntimeError(f"to_sparse: conversion from Sparse to Sparse with sparse_dim argument "
                               f"!={self.sparse_dim()} is not supported")
        return self

    def to_sparse_csr(self, dense_dim=None):
        from ._layout import sparse_csr
        return self.to_sparse(layout=sparse_csr, dense_dim=dense_dim)

    def to_sparse_csc(self, dense_dim=None):
        from ._layout import sparse_csc
        return self.to_sparse(layout=sparse_csc, dense_dim=dense_dim)

    def to_sparse_bsr(self, blocksize, dense_dim=None):
        from ._layout import sparse_bsr
        return self.to_sparse(layout=sparse_bsr, blocksize=blocksize, dense_dim=dense_dim)

    def to_sparse_bsc(self, blocksize, dense_dim=None):
        from ._layout import sparse_bsc
        return self.to_sparse(layout=sparse_bsc, blocksize=blocksize, dense_dim=dense_dim)

    def to_sparse_coo(self):
        return self

    def detach(self):
        return SparseTensor._new(self._ind, self._val.detach(), self._shape, self._coalesced)

    @property
    def data(self):
        return self.detach()

    @data.setter
    def data(self, other):
        if not isinstance(other, SparseTensor):
            raise RuntimeError("data set to a tensor that requires gradients must be sparse, as the tensor")
        self._ind, self._val, self._shape = other._ind, other._val.detach(), other._shape
        self._coalesced, self.dtype, self.device = other._coalesced, other.dtype, other.device

    def clone(self, *, memory_format=None):
        return _tracked("CloneBackward0",
                        lambda s: SparseTensor._new(s._ind.clone(), s._val.clone(), s._shape, s._coalesced),
                        lambda g: (g,), self)

    def to(self, *args, **kwargs):
        """``to(device)``, ``to(dtype)``, ``to(device, dtype)``: indices and values moved together."""
        dev, dt, copy = self._to_args(args, kwargs)
        if dev == self.device and dt is self.dtype and not copy:
            return self

        def fwd(s):
            return SparseTensor._new(s._ind.to(dev), s._val.to(dev).to(dt), s._shape, s._coalesced)
        src_dev, src_dt = self.device, self.dtype
        return _tracked("ToCopyBackward0", fwd, lambda g: (g.to(src_dev).to(src_dt),), self)

    def __reduce_ex__(self, proto):
        from .sparse._construct import _rebuild_sparse
        return (_rebuild_sparse, (self._ind.cpu(), self._val.detach().cpu(), self._shape, self._coalesced,
                                  str(self.device), self.requires_grad))

    def __repr__(self, *, tensor_contents=None):
        from .sparse._construct import _repr
        return _repr(self)

    # ------------------------------------------------------------------ arithmetic
    def add(self, other, *, alpha=1):
        if alpha != 1:
            other = other * alpha
        if isinstance(other, SparseTensor):
            _same_shape(self, other, "add")
            return _tracked("AddBackward0", _add_sparse, lambda g: (g, g), self, other)
        if isinstance(other, Tensor):
            return self.to_dense() + other      # (PyTorch raises here; see the module docstring)
        raise RuntimeError("add(sparse, dense) is not supported. Use add(dense, sparse) instead.")

    __add__ = add

    def __radd__(self, other):
        if isinstance(other, Tensor) and not isinstance(other, SparseTensor):
            return _tracked("AddBackward0", lambda d, s: d + s.to_dense(),
                            lambda g: (g, _mask(g, _pattern(self))), other, self)
        return self.add(other)

    def sub(self, other, *, alpha=1):
        return self.add(other, alpha=-alpha)

    __sub__ = sub

    def __rsub__(self, other):
        return (-self).__radd__(other)

    def neg(self):
        return _scaled(self, -1)

    __neg__ = neg

    def mul(self, other):
        if isinstance(other, SparseTensor):
            return (self.to_dense() * other.to_dense()).to_sparse(self.sparse_dim())
        if isinstance(other, Tensor):
            if other.ndim == 0:
                return _tracked("MulBackward0", lambda s, c: s._with_values(s._val * c),
                                lambda g: (g * other, (g.to_dense() * self.detach().to_dense()).sum()), self, other)
            sc = self.coalesce()
            return _tracked("MulBackward0", lambda s, d: s._with_values(s._val * _mask(d, s)._val),
                            lambda g: (_mask(g, sc) * other, (_mask(g, sc) * sc.to_dense()).to_dense()), sc, other)
        return _scaled(self, other)

    __mul__ = __rmul__ = mul

    def div(self, other):
        if isinstance(other, Tensor):
            if other.ndim != 0:
                raise RuntimeError("Sparse division requires a scalar or zero-dim dense tensor divisor")
            return self.mul(1 / other)
        return _scaled(self, 1 / other)

    __truediv__ = div

    def mul_(self, other):
        self._val = self._val.mul(other)    # (a fresh values tensor: earlier gradients keep theirs)
        return self

    def div_(self, other):
        self._val = self._val.div(other)
        return self

    def zero_(self):
        """Drop every entry (nnz becomes 0), as PyTorch's sparse ``zero_``."""
        self._ind = self._ind[:, :0]
        self._val = self._val[:0]
        self._coalesced = True
        return self

    def sum(self, dim=None, keepdim=False, dtype=None):
        return sparse_sum(self, dim, dtype)

    def t(self):
        if self.sparse_dim() != 2 or self.ndim != 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 sparse and 0 dense dimensions, but got "
                               f"{self.sparse_dim()} sparse and {self.dense_dim()} dense dimensions")
        return self.transpose(0, 1)

    @property
    def T(self):
        return self.t()

    def transpose(self, dim0, dim1):
        d0, d1 = _wrap_dim(dim0, self.ndim), _wrap_dim(dim1, self.ndim)
        sd = self.sparse_dim()
        if (d0 < sd) != (d1 < sd):
            raise RuntimeError("transpose(): cannot transpose sparse dim with dense dim")
        return _tracked("TransposeBackward0", lambda s: _transpose(s, d0, d1), lambda g: (g.transpose(d0, d1),),
                        self)

    def mm(self, mat2):
        from .ops.sparse_mm import spmm
        return spmm(self, mat2)

    matmul = __matmul__ = mm

    def __rmatmul__(self, other):
        from .ops.sparse_mm import dense_sparse_mm
        return dense_sparse_mm(other, self)

    def __float__(self):
        raise _unsupported("_local_scalar_dense", self)

    __int__ = __bool__ = __index__ = __complex__ = item = tolist = __float__


# ---------------------------------------------------------------------------------- the ops' bodies
def _same_shape(a, b, name):
    if a._shape != b._shape:
        raise RuntimeError(f"{name}: expected 'self' and 'other' to have same size, but self has size "
                           f"{list(a._shape)} while other has size {list(b._shape)} (FYI: dense-sparse addition "
                           "does not currently support broadcasting)")
    if a.device != b.device:
        raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, "
                           f"{a.device} and {b.device}!")


def _coalesce(s):
    from .ops.creation import zeros
    from .ops.sort import unique
    ind, val = s._ind, s._val
    if ind._shape[1] == 0:
        return SparseTensor._new(ind, val, s._shape, True)
    sizes = s._shape[:ind._shape[0]]
    key, inv = unique(_keys(ind, sizes), return_inverse=True)
    summed = zeros((key._shape[0],) + val._shape[1:], dtype=val.dtype, device=val.device).index_add(0, inv, val)
    return SparseTensor._new(_unravel(key, sizes), summed, s._shape, True)


def _to_dense(s):
    from .ops.creation import zeros
    sd = s.sparse_dim()
    rows = zeros((_numel(s._shape[:sd]),) + s._shape[sd:], dtype=s.dtype, device=s.device)
    return rows.index_add(0, _keys(s._ind, s._shape[:sd]), s._val).reshape(s._shape)


def _mask(d, s):
    """``d``'s elements at the entries of ``s`` (PyTorch's ``d.sparse_mask(s)``), sparse with ``s``'s
    indices; ``d`` dense, or sparse (then converted: its values are summed per position)."""
    if isinstance(d, SparseTensor):
        d = d.to_dense()
    sd = s.sparse_dim()
    rows = d.reshape((_numel(s._shape[:sd]),) + s._shape[sd:])
    return s._with_values(rows.index_select(0, _keys(s._ind, s._shape[:sd])))


def _pattern(s):
    """``s`` coalesced, untracked: the entries a gradient with respect to ``s`` is given on (a
    duplicated position once, as PyTorch's ``sparse_mask(s.coalesce())``)."""
    with grad_mode.no_grad():
        return s.detach().coalesce()


def _scaled(s, c):
    return _tracked("MulBackward0", lambda s: s._with_values(s._val * c), lambda g: (g * c,), s)


def _add_sparse(a, b):
    from .ops.movement import cat
    dt = D.promote_types(a.dtype, b.dtype)
    out = SparseTensor._new(cat([a._ind, b._ind], 1), cat([a._val.to(dt), b._val.to(dt)]), a._shape)
    return _coalesce(out) if a._coalesced and b._coalesced else out


def _transpose(s, d0, d1):
    sd = s.sparse_dim()
    if d0 < sd:
        order = list(range(sd))
        order[d0], order[d1] = d1, d0
        return SparseTensor._new(s._ind[order], s._val, _swap(s._shape, d0, d1), sd < 2 or d0 == d1 and s._coalesced)
    return SparseTensor._new(s._ind, s._val.transpose(d0 - sd + 1, d1 - sd + 1), _swap(s._shape, d0, d1),
                             s._coalesced)


def _swap(shape, a, b):
    shape = list(shape)
    shape[a], shape[b] = shape[b], shape[a]
    return tuple(shape)


def sparse_sum(input, dim=None, dtype=None):
    """Sum of a sparse tensor: over everything a dense 0-d tensor; over ``dim`` (an int or a list) a
    sparse tensor over the sparse dims kept (a dense one when none is kept). Its gradient is sparse
    on the input's coalesced entries: each takes the gradient of the sum it went into."""
    if not isinstance(input, SparseTensor):
        input.coalesce()        # (other layouts: PyTorch's error, "coalesce expected sparse coordinate ...")
    if dim is None:
        return _tracked("SumBackward0", lambda s: s._val.sum(dtype=dtype),
                        lambda g: (_mask(g.expand(input._shape), _pattern(input)),), input)
    dims = sorted({_wrap_dim(d, input.ndim) for d in ([dim] if isinstance(dim, int) else dim)})
    sd = input.sparse_dim()
    keep = [d for d in range(sd) if d not in dims]
    vdims = [d - sd + 1 for d in dims if d >= sd]

    def fwd(s):
        val = s._val.sum(dim=vdims, dtype=dtype) if vdims else (s._val if dtype is None else s._val.to(dtype))
        if not keep:
            return val.sum(0)
        shape = tuple(s._shape[d] for d in keep) + tuple(n for d, n in enumerate(s._shape) if d >= sd and d not in dims)
        return _coalesce(SparseTensor._new(s._ind[keep], val, shape))

    def bwd(g):
        sc = _pattern(input)
        g = g.to_dense()                                    # (kept sparse dims..., kept dense dims...)
        if keep:
            rows = g.reshape((_numel(g._shape[:len(keep)]),) + g._shape[len(keep):])
            g = rows.index_select(0, _keys(sc._ind[keep], g._shape[:len(keep)]))
        else:
            g = g.unsqueeze(0)
        for d in vdims:                                     # (nnz, *dense dims) again
            g = g.unsqueeze(d)
        return (sc._with_values(g.expand(sc._val._shape).to(input.dtype)),)
    return _tracked("SumBackward0", fwd, bwd, input)


def _dense_op(op, inputs, attrs):
    """``Op.__call__``'s answer to a sparse input: a zero-preserving unary op on the values, or
    ``add``/``sub``/``mul``/``div`` through the methods (``sparse/_unary.py``), else PyTorch's error."""
    from .sparse._unary import binary_handler, unary_handler
    t = next(t for t in inputs if type(t) is SparseTensor)
    r = unary_handler(op, inputs, attrs, t)
    if r is NotImplemented:
        r = binary_handler(op, inputs, attrs, t)
    return _dense_op_error(op, inputs, attrs) if r is NotImplemented else r


_op.SUBCLASS_OPS[SparseTensor] = _dense_op
