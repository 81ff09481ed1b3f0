"""``ttorch.Tensor``: a strided view (shape, stride, offset) over an untyped storage.

On cpu the tensor also keeps a NumPy view of its elements (``_np``), so the NumPy fallbacks
read and write the same memory. Views share the storage and its version counter; the math
lives in ``ttorch/ops`` and is attached here as methods by the op registry.
"""
import collections

import numpy as np

from . import _dtype as D
from ._device import CPU, device as _device_t, _canonical
from ._layout import strided
from ._storage import UntypedStorage
from .autograd import grad_mode


_CONTIG = {}


def _contig_strides(shape):
    """Row-major strides of ``shape`` (remembered per shape: views and backward ask often)."""
    try:
        return _CONTIG[shape]
    except (KeyError, TypeError):
        pass
    st = [1] * len(shape)
    acc = 1
    for i in range(len(shape) - 1, -1, -1):
        st[i] = acc
        acc *= shape[i]
    st = tuple(st)
    if type(shape) is tuple:
        if len(_CONTIG) > 4096:
            _CONTIG.clear()
        _CONTIG[shape] = st
    return st


def _engine_backward():
    """``autograd.engine.backward`` (imported on first use: the engine imports this module)."""
    global _backward_fn
    if _backward_fn is None:
        from .autograd.engine import backward
        _backward_fn = backward
    return _backward_fn


_backward_fn = None


def _numel(shape):
    n = 1
    for s in shape:
        n *= s
    return n


class Size(tuple):
    """``ttorch.Size``: a tuple of ints, printed as PyTorch prints it."""

    def __repr__(self):
        return f"ttorch.Size([{', '.join(map(str, self))}])"

    def numel(self):
        return _numel(self)


class Tensor:
    """A multi-dimensional array on ``cpu`` or ``cuda`` that autograd can track.

    Attributes left at their class default cost nothing to create, which keeps the
    host cost of a small op low.
    """

    _storage = None
    _stride = None          # None: contiguous, computed on demand
    _offset = 0
    _base = None            # a view: the tensor owning its memory (autograd/views.py)
    _views = None           # a base: weak references to its views, registered by the view ops
    _views_live = 0         # a base: how many of them were alive at the last count
    _creation = None        # a view: PyTorch's CreationMeta (None: default; see autograd/views.py)
    _grad_via_base = False  # a view made in no_grad mode: requires grad through its base, passes none on
    requires_grad = False
    grad_fn = None
    _output_nr = 0
    _grad = None
    _grad_acc = None        # weakref to this leaf's AccumulateGrad node
    _retains_grad = False
    _hooks = None
    _post_acc_hooks = None
    __array_priority__ = 1000  # numpy scalars defer to our reflected operators

    # ------------------------------------------------------------------ construction
    @staticmethod
    def _wrap_np(a, dtype=None):
        """A new cpu tensor owning the NumPy result ``a`` (made C-contiguous)."""
        t = Tensor.__new__(Tensor)
        if type(a) is not np.ndarray or not a.flags.c_contiguous:
            a = np.asarray(a, order="C")
        if dtype is None:
            dtype = D._BY_NP.get(a.dtype) or D.from_numpy_dtype(a.dtype)
        elif a.dtype is not dtype.np and a.dtype != dtype.np:
            a = a.astype(dtype.np)
        t._np = a
        t._shape = a.shape
        t.dtype = dtype
        t.device = CPU
        return t

    @staticmethod
    def _make(storage, shape, stride, offset, dtype):
        """A tensor over ``storage`` (a view when the storage is shared)."""
        t = Tensor.__new__(Tensor)
        t._storage = storage
        t._shape = tuple(shape)
        t._stride = None if tuple(stride) == _contig_strides(shape) else tuple(stride)
        t._offset = offset
        t.dtype = dtype
        t.device = storage.device
        if storage.device.type == "cpu":
            try:
                t._np = np.ndarray(t._shape, dtype.np, buffer=storage._array, offset=offset * dtype.itemsize,
                                   strides=tuple(s * dtype.itemsize for s in stride))
            except ValueError:
                if 0 not in t._shape:
                    raise
                # an empty view past its storage's end (``.imag`` of an empty complex tensor): no
                # element to reach, but NumPy checks the offset against the buffer
                t._np = np.ndarray(t._shape, dtype.np, buffer=storage._array, offset=0,
                                   strides=tuple(s * dtype.itemsize for s in stride))
        return t

    @staticmethod
    def _empty(shape, dtype, device):
        shape = tuple(shape)
        if device.type == "cpu":
            return Tensor._wrap_np(np.empty(shape, dtype.np), dtype)
        # ``_make`` for a fresh contiguous tensor, without computing its strides twice: every cuda
        # op's output comes through here
        t = Tensor.__new__(Tensor)
        t._storage = st = UntypedStorage(device, _numel(shape) * dtype.itemsize)
        t._shape = shape
        t._stride = None
        t._offset = 0
        t.dtype = dtype
        t.device = st.device
        return t

    def __init__(self, *args, **kwargs):
        if type(self) is Tensor:    # (a subclass's instance was made by its __new__: nothing left to do)
            raise TypeError("use ttorch.tensor(data), ttorch.empty(*size) or ttorch.zeros(...) to make tensors")

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not cls.__module__.startswith("ttorch"):     # a user's subclass: __torch_function__ dispatch
            from ._torch_function import register_subclass
            register_subclass(cls)

    def _view(self, shape, stride, offset):
        """A view of this tensor's storage sharing its version counter; no autograd."""
        if self.device.type == "cpu":
            out = Tensor._make(self.untyped_storage(), shape, stride, offset, self.dtype)
        else:           # ``_make`` inlined (views are frequent: every transpose and reshape)
            out = Tensor.__new__(Tensor)
            out._storage = self._storage
            out._shape = shape = tuple(shape)
            stride = tuple(stride)
            out._stride = None if stride == _contig_strides(shape) else stride
            out._offset = offset
            out.dtype = self.dtype
            out.device = self.device
        out._base = self if self._base is None else self._base
        return out

    def _is_view(self):
        return self._base is not None

    # ------------------------------------------------------------------ metadata
    @property
    def shape(self):
        return Size(self._shape)

    def size(self, dim=None):
        if dim is None:
            return Size(self._shape)
        return self._shape[_wrap_dim(dim, len(self._shape), "size")]

    def dim(self):
        return len(self._shape)

    @property
    def ndim(self):
        return len(self._shape)

    ndimension = dim

    def numel(self):
        return _numel(self._shape)

    nelement = numel

    def stride(self, dim=None):
        st = self._stride
        if st is None:
            st = _contig_strides(self._shape)
        if dim is None:
            return st
        return st[_wrap_dim(dim, len(self._shape), "stride")]

    def storage_offset(self):
        return self._offset

    def is_contiguous(self, memory_format=None):
        if memory_format is not None and memory_format.name.startswith("channels_last"):
            from ._memory_format import is_contiguous_as
            return is_contiguous_as(self._shape, self.stride(), memory_format)
        if self._stride is None:
            return True
        # size-1 dims may carry any stride, as in PyTorch
        expected = 1
        for s, st in zip(reversed(self._shape), reversed(self._stride)):
            if s == 0:
                return True
            if s != 1 and st != expected:
                return False
            expected *= s
        return True

    def element_size(self):
        return self.dtype.itemsize

    itemsize = property(element_size)

    @property
    def nbytes(self):
        return self.numel() * self.dtype.itemsize

    @property
    def is_cuda(self):
        return self.device.type == "cuda"

    @property
    def is_cpu(self):
        return self.device.type == "cpu"

    is_sparse = False
    is_nested = False       # (nested tensors: ``nested.NestedTensor``, a subclass)
    layout = strided        # (sparse COO tensors: ``_sparse.SparseTensor``, a subclass)
    is_quantized = False
    is_meta = False
    def is_complex(self):
        return self.dtype.is_complex

    def is_floating_point(self):
        return self.dtype.is_floating_point

    def get_device(self):
        return -1 if self.device.type == "cpu" else self.device.index

    def untyped_storage(self):
        st = self._storage
        if st is None:  # cpu result: wrap its NumPy buffer lazily
            st = self._storage = UntypedStorage(CPU, array=self._np.reshape(-1).view(np.uint8))
        return st

    def data_ptr(self):
        return self.untyped_storage()._ptr + self._offset * self.dtype.itemsize

    @property
    def _version(self):
        # a cpu result without a storage object yet has no views and was never written in place
        st = self._storage
        return 0 if st is None else st.version

    def _bump_version(self):
        self.untyped_storage().version += 1

    # ------------------------------------------------------------------ autograd surface
    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def grad(self):
        if self._grad is None and self.grad_fn is not None and not self._retains_grad:
            import warnings
            warnings.warn("The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
                          "attribute won't be populated during autograd.backward(). If you indeed want the .grad "
                          "field to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor.",
                          UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type {type(value).__name__}")
            if value._shape != self._shape:
                raise RuntimeError(f"assigned grad has data of a different size: {list(value._shape)} vs {list(self._shape)}")
        self._grad = value

    def requires_grad_(self, requires_grad=True):
        if not self.is_leaf:
            if not requires_grad:
                raise RuntimeError("you can only change requires_grad flags of leaf variables. If you want to use a "
                                   "computed variable in a subgraph that doesn't require differentiation use "
                                   "var_no_grad = var.detach().")
            return self
        if requires_grad and not (self.dtype.is_floating_point or self.dtype.is_complex):
            raise RuntimeError("only Tensors of floating point and complex dtype can require gradients")
        if self._grad_via_base:
            self._grad_via_base = False
        self.requires_grad = requires_grad
        return self

    def detach(self):
        """A new tensor sharing storage (and so the version counter) with this one, outside the graph."""
        out = Tensor.__new__(Tensor)
        out._storage = self.untyped_storage()
        out._shape, out._stride, out._offset = self._shape, self._stride, self._offset
        out.dtype, out.device = self.dtype, self.device
        if self.device.type == "cpu":
            out._np = self._np      # the same elements: share the NumPy view itself
        return out

    def detach_(self):
        self.grad_fn = None
        self.requires_grad = False
        return self

    def retain_grad(self):
        """Keep the gradient of this non-leaf tensor in ``.grad`` after backward (leaves always do)."""
        if self.is_leaf:
            if not self.requires_grad:
                raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
            return
        self._retains_grad = True
        self._watch_output()

    def _watch_output(self):
        """Ask this tensor's graph node to run its hooks and retain_grad: the tensor held weakly (the
        node must not keep it alive), its hooks strongly (they run even after the tensor is gone, as
        PyTorch's tensor pre-hooks on the grad_fn do)."""
        import weakref
        ctx = getattr(self.grad_fn, "_ctx", None)
        if ctx is None:
            raise RuntimeError(f"cannot register a hook on a tensor produced by {self.grad_fn.name()}")
        if getattr(ctx, "_hooked_outputs", None) is None:
            ctx._hooked_outputs = {}
        ctx._hooked_outputs[self._output_nr] = (weakref.ref(self), self._hooks)

    @property
    def retains_grad(self):
        return self._retains_grad

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        _engine_backward()(self, gradient, retain_graph=retain_graph, create_graph=create_graph, inputs=inputs)

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; it may return a new gradient."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._hooks is None:
            self._hooks = collections.OrderedDict()   # weakly referenced by the handle
        h = _RemovableHandle(self._hooks)
        self._hooks[h.id] = hook
        if self.grad_fn is not None:
            self._watch_output()
        return h

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(tensor)`` after a gradient has been accumulated into this leaf's ``.grad``."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
        if self._post_acc_hooks is None:
            self._post_acc_hooks = collections.OrderedDict()
        h = _RemovableHandle(self._post_acc_hooks)
        self._post_acc_hooks[h.id] = hook
        return h

    @property
    def data(self):
        return self.detach()

    @data.setter
    def data(self, other):
        self._storage, self._shape, self._stride = other.untyped_storage(), other._shape, other._stride
        self._offset, self.dtype, self.device = other._offset, other.dtype, other.device
        if other.device.type == "cpu":
            self._np = other._np
        else:
            self.__dict__.pop("_np", None)   # moved off the cpu: drop the host view (and its memory)

    # ------------------------------------------------------------------ conversion
    def numpy(self, *, force=False):
        """The elements as a NumPy array sharing memory (cpu only, as in PyTorch)."""
        if force:
            return self.detach().cpu().resolve_conj()._np
        if self.device.type != "cpu":
            raise TypeError(f"can't convert {self.device} device type tensor to numpy. Use Tensor.cpu() to copy "
                            "the tensor to host memory first.")
        if self.requires_grad and grad_mode.is_grad_enabled():
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        if self.dtype._limited and self.dtype in D.float8_dtypes:     # (PyTorch's: NumPy has no float8)
            raise TypeError(f"Got unsupported ScalarType {D.scalar_name(self.dtype)}")
        return self._np

    def resolve_conj(self):
        return self

    def resolve_neg(self):
        return self

    def _host(self):
        """A host NumPy array with this tensor's values (a copy for cuda, a view for cpu)."""
        if self.device.type == "cpu":
            return self._np
        from .ops.movement import _to_device_np
        return _to_device_np(self)

    def item(self):
        if self.numel() != 1:
            raise RuntimeError(f"a Tensor with {self.numel()} elements cannot be converted to Scalar")
        return self._host().reshape(-1)[0].item() if self.dtype is not D.bfloat16 else float(self._host().reshape(-1)[0])

    def tolist(self):
        a = self._host()
        if self.dtype is D.bfloat16 or self.dtype is D.float16:
            a = a.astype(np.float32) if self.dtype is D.bfloat16 else a
        return a.tolist()

    def __len__(self):
        if not self._shape:
            raise TypeError("len() of a 0-d tensor")
        return self._shape[0]

    def __iter__(self):
        if not self._shape:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __bool__(self):
        n = self.numel()
        if n != 1:
            raise RuntimeError(f"Boolean value of Tensor with {'no values' if n == 0 else 'more than one value'} "
                               "is ambiguous")
        return bool(self.item())

    def __float__(self):
        if self.numel() != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return float(self.item())

    def __int__(self):
        if self.numel() != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return int(self.item())

    def __index__(self):
        if self.dtype.is_floating_point or self.numel() != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __complex__(self):
        return complex(self.item())

    def __hash__(self):
        return id(self)

    def __repr__(self, *, tensor_contents=None):
        from ._tensor_str import _str
        if getattr(self, "_is_param", False):   # nn.Parameter: a flagged Tensor (nn/parameter.py)
            return "Parameter containing:\n" + _str(self, tensor_contents)
        return _str(self, tensor_contents)

    def __format__(self, spec):
        if self.dim() == 0:
            return self.item().__format__(spec)
        return object.__format__(self, spec)

    def __reduce_ex__(self, proto):
        return (_rebuild, (self.detach().cpu()._np.copy(), str(self.device), self.requires_grad,
                           getattr(self, "_is_param", False)))

    def __deepcopy__(self, memo):
        if not self.is_leaf:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support the deepcopy "
                               "protocol at the moment.")
        out = self.detach().clone()
        out.requires_grad = self.requires_grad
        if getattr(self, "_is_param", False):
            out._is_param = True
        if self._grad is not None:
            out._grad = self._grad.clone()
        memo[id(self)] = out
        return out

    # ------------------------------------------------------------------ devices and dtypes
    def _to_args(self, args, kwargs):
        """``to``'s arguments as (device, dtype, copy), this tensor's device and dtype where not given."""
        dev, dt, copy = None, None, kwargs.pop("copy", False)
        kwargs.pop("non_blocking", None)
        kwargs.pop("memory_format", None)
        for a in args:
            if isinstance(a, D.dtype):
                dt = a
            elif isinstance(a, Tensor):
                dev, dt = a.device, a.dtype
            elif isinstance(a, (str, _device_t, int)) and not isinstance(a, bool):
                dev = a
            elif not isinstance(a, bool):
                raise TypeError(f"to() received an invalid combination of arguments: {type(a).__name__}")
        dev = kwargs.pop("device", dev)
        dt = kwargs.pop("dtype", dt)
        if kwargs:
            raise TypeError(f"to() got unexpected keyword arguments {list(kwargs)}")
        return self.device if dev is None else _canonical(dev), self.dtype if dt is None else dt, copy

    def to(self, *args, **kwargs):
        """``to(device=None, dtype=None, non_blocking=False, copy=False, memory_format=preserve_format)``,
        ``to(dtype)``, ``to(tensor)``."""
        fmt = kwargs.get("memory_format")
        dev, dt, copy = self._to_args(args, kwargs)
        if fmt is not None and fmt.name.startswith("channels_last"):
            from ._memory_format import to_format
            out = self.to(dev, dt, copy=copy)
            return to_format(out, fmt)
        if dev == self.device and dt is self.dtype and not copy:
            return self
        from .ops import movement
        out = self
        if dev != self.device:
            out = movement.to_device(out, dev)
        if dt is not out.dtype:
            out = movement.to_dtype(out, dt)
        elif copy and out is self:
            out = self.clone()
        return out

    def cpu(self, memory_format=None):
        return self.to(CPU)

    def cuda(self, device=None, non_blocking=False, memory_format=None):
        return self.to(_canonical("cuda" if device is None else (device if not isinstance(device, int) else f"cuda:{device}")))

    def type(self, dtype=None, non_blocking=False, **kw):
        if dtype is None:
            return f"ttorch.{'cuda.' if self.is_cuda else ''}{_TYPE_NAMES[self.dtype]}"
        if not isinstance(dtype, D.dtype):     # a legacy class (ttorch.cuda.FloatTensor) or its name
            from ._legacy_types import resolve
            try:
                dev, dtype = resolve(dtype)
            except AttributeError:
                raise ValueError(f"invalid type: '{dtype}'") from None
            return self.to(dev if dev != self.device.type else self.device, dtype)
        return self.to(dtype)

    def float(self, memory_format=None):
        return self.to(D.float32, memory_format=memory_format)

    def double(self, memory_format=None):
        return self.to(D.float64, memory_format=memory_format)

    def half(self, memory_format=None):
        return self.to(D.float16, memory_format=memory_format)

    def bfloat16(self, memory_format=None):
        return self.to(D.bfloat16, memory_format=memory_format)

    def int(self, memory_format=None):
        return self.to(D.int32, memory_format=memory_format)

    def long(self, memory_format=None):
        return self.to(D.int64, memory_format=memory_format)

    def short(self, memory_format=None):
        return self.to(D.int16, memory_format=memory_format)

    def char(self, memory_format=None):
        return self.to(D.int8, memory_format=memory_format)

    def byte(self, memory_format=None):
        return self.to(D.uint8, memory_format=memory_format)

    def bool(self, memory_format=None):
        return self.to(D.bool, memory_format=memory_format)

    def type_as(self, other):
        return self.to(other.dtype)

    def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
        from .ops.creation import tensor
        return tensor(data, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False, **kw):
        from .ops.creation import empty
        return empty(*size, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False, **kw):
        from .ops.creation import zeros
        return zeros(*size, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False, **kw):
        from .ops.creation import ones
        return ones(*size, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)

    def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False, **kw):
        from .ops.creation import full
        return full(size, fill_value, dtype=dtype or self.dtype, device=device or self.device,
                    requires_grad=requires_grad)

    def new(self, *args, **kwargs):
        """The legacy constructor: ``x.new(2, 3)`` or ``x.new(Size)`` an uninitialized tensor of that shape,
        ``x.new(data)`` a tensor of ``data`` (a list or tuple), ``x.new()`` an empty one; x's dtype and
        device either way."""
        if kwargs.get("device") is not None and kwargs["device"] != self.device:
            raise RuntimeError(f"Expected device {self.device} but got {kwargs['device']}")
        if not args:
            return self.new_empty(0)
        if len(args) == 1 and isinstance(args[0], Tensor):
            if args[0].dtype is not self.dtype:
                raise TypeError(f"expected {self.dtype} (got {args[0].dtype})")
            return args[0].detach()
        if all(isinstance(a, int) and not isinstance(a, bool) for a in args) or isinstance(args[0], Size):
            return self.new_empty(*args)
        return self.new_tensor(args[0])

    def resize_(self, *sizes, memory_format=None):
        """In place, the shape ``sizes``: the elements (in order) kept up to the smaller count, new ones
        uninitialized (in deterministic mode NaN or the max integer, ``utils.deterministic``). Differs
        from PyTorch: a non-contiguous tensor keeps its elements in logical order (PyTorch reinterprets
        its storage)."""
        from .ops.views import _shape_arg
        shape = tuple(_shape_arg(sizes))
        if shape == self._shape:
            return self
        if self.requires_grad:
            raise RuntimeError("cannot resize variables that require grad")
        if any(n < 0 for n in shape):
            raise RuntimeError(f"Trying to create tensor with negative dimension {min(shape)}: {list(shape)}")
        fresh = Tensor._empty(shape, self.dtype, self.device)
        k = min(self.numel(), fresh.numel())
        from . import _deterministic
        if _deterministic.FILL:     # deterministic mode: the new elements NaN / the max integer
            _deterministic.fill_uninitialized(fresh)
        if k:
            from .ops.elementwise import copy_into
            copy_into(fresh.reshape(-1)[:k], self.reshape(-1)[:k])
        self.data = fresh
        self._bump_version()
        return self

    def resize_as_(self, the_template, memory_format=None):
        return self.resize_(the_template.shape)

    def pin_memory(self, device=None):
        """A copy in page-locked host memory for faster uploads, in PyTorch; ttorch's host tensors are
        NumPy arrays (uploads stage through its own buffers), so this copies and marks the copy pinned."""
        from . import cuda
        if not cuda.is_available():
            raise RuntimeError("Cannot access accelerator device when none is available.")
        if self.device.type != "cpu":
            raise RuntimeError(f"cannot pin '{self.device.type}' memory")
        if self.is_pinned():
            return self
        t = self.clone()
        t._pinned = True
        return t

    def is_pinned(self, device=None):
        return self.__dict__.get("_pinned", False)

    def is_inference(self):
        """False: ttorch makes no inference tensors (``inference_mode`` is ``no_grad`` plus its flag)."""
        return False

    def to_sparse(self, sparse_dim=None, *, layout=None, blocksize=None, dense_dim=None):
        """This tensor in the sparse COO layout: its nonzero elements (over the first ``sparse_dim``
        dims, default all) with their coordinates, coalesced (see ``ttorch/_sparse.py``)."""
        from .sparse._construct import dense_to_sparse
        return dense_to_sparse(self, sparse_dim, layout, blocksize, dense_dim)

    def to_dense(self, dtype=None, *, masked_grad=None):
        return self if dtype is None or dtype is self.dtype else self.to(dtype)

    # DLPack
    def __dlpack__(self, stream=None, **kw):
        from ._dlpack import to_dlpack
        return to_dlpack(self, stream=stream, **kw)

    def __dlpack_device__(self):
        from ._dlpack import dlpack_device
        return dlpack_device(self)


_TYPE_NAMES = {D.float32: "FloatTensor", D.float64: "DoubleTensor", D.float16: "HalfTensor",
               D.bfloat16: "BFloat16Tensor", D.int64: "LongTensor", D.int32: "IntTensor", D.int16: "ShortTensor",
               D.int8: "CharTensor", D.uint8: "ByteTensor", D.bool: "BoolTensor",
               D.complex64: "ComplexFloatTensor", D.complex128: "ComplexDoubleTensor"}


def _rebuild(array, device, requires_grad, is_param=False):
    t = Tensor._wrap_np(array).to(device)
    t.requires_grad = requires_grad
    if is_param:
        t._is_param = True
    return t


def _wrap_dim(dim, ndim, op="dim"):
    """A dim in [-ndim, ndim) made non-negative; IndexError naming the range otherwise."""
    n = ndim if ndim > 0 else 1
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return dim + n if dim < 0 else dim


def _RemovableHandle(hooks_dict):
    """A ``ttorch.utils.hooks.RemovableHandle`` for ``hooks_dict`` (imported here, late: ``ttorch.utils``
    is imported after this module)."""
    from .utils.hooks import RemovableHandle
    return RemovableHandle(hooks_dict)
