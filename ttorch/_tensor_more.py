"""The rest of PyTorch's ``Tensor`` surface: in-place forms of composed ops, in-place view ops
(``t_``, ``transpose_``, ``squeeze_``...), the cpu-only Python-callable maps (``apply_``, ``map_``),
storage plumbing (``set_``, ``is_set_to``, ``share_memory_``) and constant device predicates.

Bound onto ``Tensor`` by ``bind()`` (called from ``ttorch/__init__.py`` once the ops exist).
"""
import numpy as np

from . import _dtype as D
from ._tensor import Tensor
from .autograd import grad_mode
from .ops import _op
from .ops.inplace import check_inplace, inplace_from, make_inplace

# composed ops whose in-place method PyTorch has (the elementwise families get theirs in _operators.py)
_INPLACE_OF = ("addbmm", "addmv", "addr", "arctan2", "deg2rad", "rad2deg", "heaviside", "ldexp", "polygamma",
               "renorm", "sgn", "conj_physical")

# view ops whose in-place form changes the tensor's own shape, strides and offset
_VIEW_INPLACE = ("squeeze", "unsqueeze", "t", "transpose", "swapaxes", "swapdims", "as_strided")


def _float_power_(self, exponent):
    """In-place ``float_power``: the result is float64 (complex128), so ``self`` must already be."""
    want = D.complex128 if (self.dtype.is_complex or getattr(exponent, "dtype", D.float64).is_complex
                            or isinstance(exponent, complex)) else D.float64
    if self.dtype is not want:
        from ._dtype import scalar_name
        raise RuntimeError(f"the base given to float_power_ has dtype {scalar_name(self.dtype)} but the operation's "
                           f"result requires dtype {scalar_name(want)}")
    return inplace_from(self, self.float_power(exponent), "float_power_")


def _inplace_view(name):
    view = getattr(Tensor, name)

    def method(self, *args, **kwargs):
        if name == "t" and self.dim() > 2:
            raise RuntimeError(f"t_() expects a tensor with <= 2 dimensions, but self is {self.dim()}D")
        if grad_mode._state["enabled"] and self.is_leaf and self.requires_grad:
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
        y = view(self, *args, **kwargs)
        # the view's geometry and graph node become self's (PyTorch changes the TensorImpl in place)
        self._shape, self._stride, self._offset = y._shape, y._stride, y._offset
        if y.device.type == "cpu":
            self._np = y._np
        if y.grad_fn is not None:
            self.grad_fn, self._output_nr = y.grad_fn, y._output_nr
        self._bump_version()
        return self
    method.__name__ = name + "_"
    method.__doc__ = f"In-place ``{name}``: changes this tensor's shape and strides; returns ``self``."
    return method


def fill_diagonal_(self, fill_value, wrap=False):
    """Fill the main diagonal (all indices equal) of a tensor of >= 2 dims with ``fill_value``; a tall
    2-D matrix restarts the diagonal every ``cols + 1`` rows when ``wrap``."""
    n = self.dim()
    if n < 2:
        raise RuntimeError("dimensions must larger than 1")
    shape = self._shape
    if n > 2 and any(s != shape[0] for s in shape):
        raise RuntimeError("all dimensions of input must be of equal length")
    mask = np.zeros(shape, dtype=bool)
    if n == 2:
        rows, cols = shape
        stop = rows if wrap else min(rows, cols)
        flat = np.arange(0, stop * cols, cols + 1)   # (row-major flat positions, as PyTorch strides them)
        mask.reshape(-1)[flat[flat < rows * cols]] = True
    else:
        idx = np.arange(min(shape))
        mask[(idx,) * n] = True
    return self.masked_fill_(Tensor._wrap_np(mask).to(self.device), fill_value)


def _pyscalar(dtype):
    return float if dtype is D.bfloat16 else (lambda v: v.item())


def _host_map(self, name, fn, others):
    """``self[i] = fn(self[i], *(o[i] for o in others))`` element by element, in Python."""
    if self.device.type != "cpu":
        raise TypeError(f"{name} is only implemented on CPU tensors")
    if self.requires_grad:
        raise RuntimeError(f"Can't call {name}() on Variable that requires grad. Use var.detach().{name}() instead.")
    for pos, o in enumerate(others, 1):
        if not isinstance(o, Tensor):
            raise TypeError(f"{name}(): argument '{'other' if pos == 1 else 'tensor' + str(pos)}' (position {pos}) "
                            f"must be Tensor, not {type(o).__name__}")
    a = self._np
    srcs = [o.expand(self._shape)._np for o in others]
    conv = [_pyscalar(t.dtype) for t in (self, *others)]
    for idx in np.ndindex(a.shape):
        a[idx] = fn(conv[0](a[idx]), *(c(s[idx]) for c, s in zip(conv[1:], srcs)))
    self._bump_version()
    return self


def apply_(self, callable):
    """Replace every element ``v`` by ``callable(v)`` (a Python scalar); cpu only and slow, as in PyTorch."""
    return _host_map(self, "apply_", callable, ())


def map_(self, tensor, callable):
    """``self[i] = callable(self[i], tensor[i])``, ``tensor`` broadcast to ``self``; cpu only."""
    return _host_map(self, "map_", callable, (tensor,))


def map2_(self, x, y, callable):
    """``self[i] = callable(self[i], x[i], y[i])``, ``x`` and ``y`` broadcast to ``self``; cpu only."""
    return _host_map(self, "map2_", callable, (x, y))


def new_empty_strided(self, size, stride, *, dtype=None, device=None, requires_grad=False, layout=None,
                      pin_memory=False):
    from .ops.creation import empty_strided
    return empty_strided(size, stride, dtype=dtype or self.dtype, device=device or self.device,
                         requires_grad=requires_grad)


def as_subclass(self, cls):
    """This tensor's data as an instance of ``cls`` (a ``Tensor`` subclass), sharing memory and staying in
    the graph (an alias). Ops on it dispatch to ``cls.__torch_function__`` (ttorch/_torch_function.py): by
    default their Tensor results are ``cls`` instances too."""
    if not (isinstance(cls, type) and issubclass(cls, Tensor)):
        raise TypeError("Creating a Tensor subclass from a class that does not inherit from Tensor is not possible. "
                        "Make sure your class inherits from Tensor.")
    out = self.view_as(self)
    out.__class__ = cls
    _op.SUBCLASS_OPS.setdefault(cls, _plain_subclass_op)
    return out


def _plain_subclass_op(op, inputs, attrs):
    """An op given a user subclass's instance runs on plain tensors sharing its memory and graph node (the
    results are plain ``Tensor``s; ``__torch_function__``, which ran before, rewraps them)."""
    def plain(t):
        if not isinstance(t, Tensor) or type(t) is Tensor or _op.SUBCLASS_OPS.get(type(t)) is not _plain_subclass_op:
            return t
        p = Tensor.__new__(Tensor)
        p.__dict__.update(t.__dict__)
        return p
    args = [plain(t) for t in inputs]
    try:
        return op(*args, **attrs)
    except TypeError:       # attrs the public function fills in only for plain tensors (binary ops' dtypes)
        if op.public is None:
            raise
        return op.public(*args, **attrs)


def cfloat(self, memory_format=None):
    return self.to(D.complex64, memory_format=memory_format)


def cdouble(self, memory_format=None):
    return self.to(D.complex128, memory_format=memory_format)


def chalf(self):
    """ttorch has no complex32 (ComplexHalf): raises, as ``ttorch.complex32`` does."""
    raise TypeError("Tensor.chalf: ttorch has no complex32 (ComplexHalf) dtype; use cfloat() (complex64)")


def dim_order(self, *, ambiguity_check=False):
    """The dims from outermost to innermost in memory (strides descending). ``ambiguity_check=True``
    raises RuntimeError when that order is not unique (equal strides or size-1 dims); a list of memory
    formats accepts a tensor contiguous in exactly one of them."""
    if not isinstance(ambiguity_check, bool) and not isinstance(ambiguity_check, list):
        raise TypeError("The ambiguity_check argument must be a bool or a list of memory formats.")
    shape, stride = self._shape, self.stride()
    if ambiguity_check is not False:
        ambiguous = len(set(stride)) < len(stride) or 1 in shape
        formats = ambiguity_check if isinstance(ambiguity_check, list) else []
        if ambiguous and sum(bool(self.is_contiguous(memory_format=m)) for m in formats) != 1:
            raise RuntimeError("The tensor does not have unique dim order, or cannot map to exact one of the given "
                               "memory formats.")
    return tuple(sorted(range(len(shape)), key=lambda i: -stride[i]))


def prelu(self, weight):
    from .nn.functional import prelu as _prelu
    return _prelu(self, weight)


def narrow_copy(self, dim, start, length):
    """A contiguous copy of ``narrow(dim, start, length)``."""
    return self.narrow(dim, start, length).clone().contiguous()


def set_(self, source=None, storage_offset=0, size=None, stride=None):
    """Make this tensor use ``source``'s memory: another tensor (its storage, offset, shape and strides),
    an ``UntypedStorage`` (viewed from ``storage_offset`` with ``size``/``stride``, default all of it,
    contiguous) or nothing (an empty tensor)."""
    from ._storage import UntypedStorage
    from ._tensor import _contig_strides
    check_inplace(self, "set_")
    if source is None:
        new = Tensor._empty((0,), self.dtype, self.device)
    elif isinstance(source, Tensor):
        if source.dtype is not self.dtype:
            raise RuntimeError(f"Could not set tensor of type {_c_name(source.dtype)} to a tensor of type "
                               f"{_c_name(self.dtype)}")
        if source.device != self.device:
            raise RuntimeError(f"Expected a tensor on {self.device} but got one on {source.device}")
        new = source
    else:
        st = getattr(source, "_untyped", source)      # a TypedStorage: its bytes
        if not isinstance(st, UntypedStorage):
            raise TypeError(f"set_(): argument 'source' must be Tensor or Storage, not {type(source).__name__}")
        if st.device != self.device:
            raise RuntimeError(f"Expected a Storage of device {self.device} but got {st.device}")
        if size is None:
            size = (st.nbytes_ // self.dtype.itemsize - storage_offset,)
        size = tuple(size)
        stride = _contig_strides(size) if stride is None else tuple(stride)
        new = Tensor._make(st, size, stride, storage_offset, self.dtype)
    self.data = new
    self._bump_version()
    return self


def _c_name(dtype):
    """ATen's C type names in ``set_``'s message."""
    return {"float32": "float", "float64": "double", "int64": "long int", "int32": "int", "int16": "short int",
            "int8": "signed char", "uint8": "unsigned char", "bool": "bool", "float16": "c10::Half",
            "bfloat16": "c10::BFloat16", "complex64": "c10::complex<float>",
            "complex128": "c10::complex<double>"}.get(str(dtype).split(".")[-1], str(dtype))


def is_set_to(self, tensor):
    """Whether both tensors use the same storage, offset, shape and strides."""
    return (self.untyped_storage() is tensor.untyped_storage() and self._offset == tensor._offset
            and self._shape == tensor._shape and self.stride() == tensor.stride())


def share_memory_(self):
    """Returns ``self`` unchanged. ttorch tensors cross processes by value (``ttorch.multiprocessing``
    pickles their elements), so there is no shared-memory storage to move them into."""
    return self


def is_shared(self):
    """False: ttorch has no shared-memory tensor storage (see ``share_memory_``)."""
    return False


def record_stream(self, stream):
    """Nothing to do: ttorch runs all of a device's work on its default stream, so memory freed on one
    stream is never still in use on another (``ttorch/cuda/streams.py``)."""
    from .cuda.streams import Stream
    try:
        from ._stream import Stream as _Generic     # ttorch.Stream (device-generic)
    except ImportError:
        _Generic = Stream
    if not isinstance(stream, (Stream, _Generic)):
        raise RuntimeError("unknown parameter type")
    return None


def is_distributed(self):
    return False


def bind():
    for name in _INPLACE_OF:
        if not hasattr(Tensor, name + "_"):
            setattr(Tensor, name + "_", make_inplace(getattr(Tensor, name), name + "_"))
    for name in _VIEW_INPLACE:
        setattr(Tensor, name + "_", _inplace_view(name))
    for name in ("float_power_", "fill_diagonal_", "apply_", "map_", "map2_", "new_empty_strided", "as_subclass",
                 "cfloat", "cdouble", "chalf", "dim_order", "prelu", "narrow_copy", "set_", "is_set_to",
                 "share_memory_", "is_shared", "record_stream", "is_distributed"):
        fn = globals()["_float_power_" if name == "float_power_" else name]
        fn.__name__ = name
        setattr(Tensor, name, fn)
    from ._typed_storage import storage, storage_type
    Tensor.storage, Tensor.storage_type = storage, storage_type
    Tensor.const_data_ptr = Tensor.data_ptr
    Tensor.output_nr = property(lambda self: self._output_nr, doc="Which output of its ``grad_fn`` this is.")
    for name in ("is_mps", "is_xpu", "is_ipu", "is_mtia", "is_maia", "is_vulkan", "is_mkldnn"):
        setattr(Tensor, name, False)     # (devices and layouts ttorch does not have)
