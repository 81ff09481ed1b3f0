"""dtypes and PyTorch's type-promotion rules, in one place.

A ``ttorch.dtype`` carries its NumPy dtype (bfloat16 comes from ``ml_dtypes``) and the
name Triton reads: ``str(ttorch.float32) == "ttorch.float32"`` and Triton takes the part
after the last dot when a tensor is passed to a kernel.

Complex dtypes: ``complex64`` (``cfloat``) and ``complex128`` (``cdouble``). Triton has no complex
type, so a kernel never receives a complex pointer: cuda ops run on the float view of the
interleaved (re, im) storage (``ops/complex.py``). ``complex32`` (``chalf``) is not supported.

float8 (``float8_e4m3fn``, ``float8_e5m2``, their ``fnuz`` variants, ``float8_e8m0fnu``; NumPy types from
``ml_dtypes``) and ``uint16``/``uint32``/``uint64`` have PyTorch's limited support: they are "limited" dtypes,
which an op takes only when it is in the dtype's ``_ops`` set or ``_impl`` table (``ops/_op.py`` asks, in the
one test it already made for complex tensors), and they promote with nothing else (PyTorch's errors).
"""
import builtins

import numpy as np

try:
    import ml_dtypes
    _np_bfloat16 = np.dtype(ml_dtypes.bfloat16)
except ImportError:  # pragma: no cover - ml_dtypes is a runtime dependency
    _np_bfloat16 = None


class dtype:
    """A tensor element type. Compare with ``is`` or ``==``; hashable."""

    __slots__ = ("name", "np", "itemsize", "is_floating_point", "is_signed", "is_complex",
                 "_kind", "_rank", "tl_name", "_limited", "_ops", "_impl")

    def __init__(self, name, np_dtype, kind, rank, tl_name):
        self.name = name
        self.np = np_dtype
        self.itemsize = np_dtype.itemsize if np_dtype is not None else 2
        self._kind = kind                     # 0 bool, 1 integer, 2 floating, 3 complex
        self._rank = rank                     # order inside a kind, for promotion
        self.is_floating_point = kind == 2
        self.is_complex = kind == 3
        self.is_signed = (kind >= 2 or kind == 1) and not name.startswith("uint") and name != "float8_e8m0fnu"
        self.tl_name = tl_name                # Triton's signature name: fp32, i64, ...
        # complex, float8 and uint16/32/64: ops take them only by name (``_ops``) or through ``_impl``
        # (name -> function); ``ops/_op.py`` and the dtype's ops module fill both
        self._limited = kind == 3 or name.startswith(("float8", "uint16", "uint32", "uint64"))
        self._ops = frozenset()
        self._impl = {}

    def __repr__(self):
        return "ttorch." + self.name

    __str__ = __repr__

    def __reduce__(self):
        return (_dtype_by_name, (self.name,))

    def to_complex(self):
        """The complex dtype of this floating (or complex) dtype's precision: float64 -> complex128,
        the other floating types -> complex64 (ttorch has no complex32)."""
        if self._kind == 3:
            return self
        if self._kind != 2:
            raise RuntimeError(f"to_complex is only supported for floating point types, got {self}")
        return complex128 if self._rank == 3 else complex64

    def to_real(self):
        """The real dtype of a complex dtype's parts (complex64 -> float32); other dtypes: themselves."""
        if self._kind != 3:
            return self
        return float64 if self._rank == 3 else float32


bool = dtype("bool", np.dtype(np.bool_), 0, 0, "i1")
uint8 = dtype("uint8", np.dtype(np.uint8), 1, 1, "u8")
int8 = dtype("int8", np.dtype(np.int8), 1, 1, "i8")
int16 = dtype("int16", np.dtype(np.int16), 1, 2, "i16")
int32 = dtype("int32", np.dtype(np.int32), 1, 3, "i32")
int64 = dtype("int64", np.dtype(np.int64), 1, 4, "i64")
float16 = dtype("float16", np.dtype(np.float16), 2, 1, "fp16")
bfloat16 = dtype("bfloat16", _np_bfloat16, 2, 1, "bf16")
float32 = dtype("float32", np.dtype(np.float32), 2, 2, "fp32")
float64 = dtype("float64", np.dtype(np.float64), 2, 3, "fp64")
# complex ranks match their parts' float ranks, so promotion compares precisions across the two kinds
complex64 = dtype("complex64", np.dtype(np.complex64), 3, 2, None)
complex128 = dtype("complex128", np.dtype(np.complex128), 3, 3, None)
cfloat, cdouble = complex64, complex128
# float8: stored as bytes; ``tl_name`` is the bytes' type, since kernels read them as uint8 and convert
# (ops/float8.py): sm_80 has no e4m3 type and Triton none for e8m0
float8_e4m3fn = dtype("float8_e4m3fn", np.dtype(ml_dtypes.float8_e4m3fn), 2, 0, "u8")
float8_e5m2 = dtype("float8_e5m2", np.dtype(ml_dtypes.float8_e5m2), 2, 0, "u8")
float8_e4m3fnuz = dtype("float8_e4m3fnuz", np.dtype(ml_dtypes.float8_e4m3fnuz), 2, 0, "u8")
float8_e5m2fnuz = dtype("float8_e5m2fnuz", np.dtype(ml_dtypes.float8_e5m2fnuz), 2, 0, "u8")
float8_e8m0fnu = dtype("float8_e8m0fnu", np.dtype(ml_dtypes.float8_e8m0fnu), 2, 0, "u8")
uint16 = dtype("uint16", np.dtype(np.uint16), 1, 2, "u16")
uint32 = dtype("uint32", np.dtype(np.uint32), 1, 3, "u32")
uint64 = dtype("uint64", np.dtype(np.uint64), 1, 4, "u64")
float8_dtypes = (float8_e4m3fn, float8_e5m2, float8_e4m3fnuz, float8_e5m2fnuz, float8_e8m0fnu)
uint_dtypes = (uint16, uint32, uint64)

half, float, double = float16, float32, float64
short, int, long = int16, int32, int64

all_dtypes = (bool, uint8, int8, int16, int32, int64, float16, bfloat16, float32, float64)   # (the real ones)
floating_dtypes = (float16, bfloat16, float32, float64)
integer_dtypes = (uint8, int8, int16, int32, int64)
complex_dtypes = (complex64, complex128)
_BY_NAME = {d.name: d for d in all_dtypes + complex_dtypes + float8_dtypes + uint_dtypes}
_BY_NP = {d.np: d for d in all_dtypes + complex_dtypes + float8_dtypes + uint_dtypes if d.np is not None}


# c10's ScalarType names, which PyTorch's error messages use ("result type Float can't be cast ...")
_SCALAR_NAMES = {"bool": "Bool", "uint8": "Byte", "int8": "Char", "int16": "Short", "int32": "Int", "int64": "Long",
                 "float16": "Half", "bfloat16": "BFloat16", "float32": "Float", "float64": "Double",
                 "complex64": "ComplexFloat", "complex128": "ComplexDouble", "uint16": "UInt16", "uint32": "UInt32",
                 "uint64": "UInt64", **{d.name: "F" + d.name[1:] for d in float8_dtypes}}


def scalar_name(d):
    """PyTorch's name of dtype ``d`` in error messages: ``Float``, ``Long``, ``Half``..."""
    return _SCALAR_NAMES[d.name]


def _dtype_by_name(name):
    if name in ("complex32", "chalf"):
        raise TypeError("ttorch has no complex32 (chalf): use complex64")
    return _BY_NAME[name]


def from_numpy_dtype(np_dtype):
    """The ttorch dtype for a NumPy dtype; TypeError for types ttorch lacks."""
    try:
        return _BY_NP[np.dtype(np_dtype)]
    except (KeyError, TypeError):
        raise TypeError(f"can't convert np.ndarray of type {np_dtype}. The only supported types are: "
                        "float64, float32, float16, bfloat16, complex64, complex128, int64, int32, int16, int8, uint8, "
                        "and bool.") from None


_default_dtype = float32


def get_default_dtype():
    return _default_dtype


def set_default_dtype(d):
    """Set the dtype of float tensors made from Python floats (float32 or float64, as in PyTorch)."""
    global _default_dtype
    if d not in (float16, bfloat16, float32, float64):
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default_dtype = d


def is_floating_point(t):
    return t.dtype.is_floating_point


def _promote_pair(a, b):
    if a is b:
        return a
    if a._kind != b._kind:
        hi, lo = (a, b) if a._kind > b._kind else (b, a)
        if hi._kind == 3 and lo._kind == 2 and lo._rank > hi._rank:   # complex64 with float64
            return complex128
        return hi
    if a._kind == 1:
        # uint8 with a signed type: the smallest signed type holding both (PyTorch: int16 for int8).
        if a is uint8 or b is uint8:
            other = b if a is uint8 else a
            return int16 if other is int8 else other
    if a._rank == b._rank:  # float16 with bfloat16
        return float32
    return a if a._rank > b._rank else b


_PROMOTE = {(a, b): _promote_pair(a, b) for a in all_dtypes + complex_dtypes for b in all_dtypes + complex_dtypes}
# float8 promotes with nothing but itself; uint16/32/64 with themselves and the floating types.
# Pairs missing from the table raise PyTorch's error (``_no_promotion``), off the common path.
_PROMOTE.update({(d, d): d for d in float8_dtypes + uint_dtypes})
_PROMOTE.update({p: f for u in uint_dtypes for f in floating_dtypes for p in ((u, f), (f, u))})


def _no_promotion(a, b):
    if a in float8_dtypes or b in float8_dtypes:
        return RuntimeError(f"Promotion for Float8 Types is not supported, attempted to promote {scalar_name(a)} "
                            f"and {scalar_name(b)}")
    return RuntimeError(f"Promotion for uint16, uint32, uint64 types is not supported, attempted to promote "
                        f"{scalar_name(a)} and {scalar_name(b)}")


def promote_types(type1, type2):
    """The smallest dtype both ``type1`` and ``type2`` convert to without loss (PyTorch's table)."""
    try:
        return _PROMOTE[(type1, type2)]
    except KeyError:
        raise _no_promotion(type1, type2) from None


def _scalar_kind(x):
    if isinstance(x, builtins.bool):
        return 0
    if isinstance(x, builtins.int):
        return 1
    if isinstance(x, builtins.float):
        return 2
    if isinstance(x, builtins.complex):
        return 3
    raise TypeError(f"unsupported scalar type {type(x).__name__}")


def _kind_default(kind):
    return (bool, int64, _default_dtype, complex128 if _default_dtype is float64 else complex64)[kind]


def _above(out, kind, dt):
    """``out`` met by a lower category (zero-dim tensor or scalar) of higher ``kind``: that category's
    dtype ``dt``, except that a floating ``out`` met by a complex value keeps its precision
    (``float64_tensor * 1j`` is complex128, ``float32_tensor * 1j`` complex64)."""
    if kind == 3 and out._kind == 2:
        return out.to_complex()
    return dt


def result_type_of(dtypes, dims, scalars):
    """PyTorch's promotion over tensors (dtype, ndim) and weakly typed Python scalars.

    Dimensioned tensors win over zero-dim tensors, which win over Python scalars, unless a
    lower category holds a higher kind (bool < integer < floating < complex): ``int_tensor * 2.5``
    is the default float type, ``float16_tensor + 1.0`` stays float16, ``float64_tensor * 1j`` is
    complex128 (a floating tensor keeps its precision).
    """
    dim_t = zero_t = None
    try:
        for d, nd in zip(dtypes, dims):
            if nd:
                dim_t = d if dim_t is None else _PROMOTE[(dim_t, d)]
            else:
                zero_t = d if zero_t is None else _PROMOTE[(zero_t, d)]
    except KeyError:    # float8 or uint16/32/64 with another type (free when nothing raises)
        raise _no_promotion(dim_t if nd else zero_t, d) from None
    scalar_kind = -1
    for s in scalars:
        k = _scalar_kind(s)
        if k > scalar_kind:
            scalar_kind = k
    out = dim_t
    if zero_t is not None:
        out = zero_t if out is None else (out if out._kind >= zero_t._kind else _above(out, zero_t._kind, zero_t))
    if scalar_kind >= 0:
        if out is None:
            out = _kind_default(scalar_kind)
        elif out._kind < scalar_kind:
            out = _above(out, scalar_kind, _kind_default(scalar_kind))
    return out


def result_type(tensor1, tensor2):
    """``ttorch.result_type``: the dtype an arithmetic op on the two arguments returns."""
    from ._tensor import Tensor
    dts, nds, sc = [], [], []
    for t in (tensor1, tensor2):
        if isinstance(t, Tensor):
            dts.append(t.dtype)
            nds.append(t.ndim)
        else:
            sc.append(t)
    return result_type_of(dts, nds, sc)


def can_cast(from_, to):
    """PyTorch's same-kind rule: a cast never lowers the kind (float -> int, complex -> float are refused)."""
    return from_._kind <= to._kind


def _compute_dtype(d):
    """The dtype kernels and NumPy fallbacks compute in: half types (and float8) widen to float32."""
    return float32 if d is float16 or d is bfloat16 or d.itemsize == 1 and d.is_floating_point else d


class finfo:
    """Machine limits of a floating dtype (``bits``, ``eps``, ``max``, ``min``, ``tiny``, ``resolution``)."""

    def __init__(self, type=None):
        type = _default_dtype if type is None else type
        if type.is_complex:     # PyTorch: the limits of the parts' type
            type = type.to_real()
        if not type.is_floating_point:
            raise TypeError(f"torch.finfo() requires a floating point input type. Use torch.iinfo to handle '{type}'")
        fi = ml_dtypes.finfo(type.np) if type is bfloat16 or type.itemsize == 1 else np.finfo(type.np)
        self.dtype = type.name
        self.bits = type.itemsize * 8
        self.eps = builtins.float(fi.eps)
        self.max = builtins.float(fi.max)
        self.min = builtins.float(fi.min)
        self.tiny = self.smallest_normal = builtins.float(fi.tiny)
        self.resolution = 10.0 ** -builtins.int(fi.precision)   # PyTorch: 10**-digits10, in double
        if type.itemsize == 1:      # float8: digits10 is 0; e5m2fnuz's eps is PyTorch's (2**-3), not 2**-2
            self.resolution = 1.0
            self.eps = 0.125 if type is float8_e5m2fnuz else self.eps

    def __repr__(self):
        return (f"finfo(resolution={self.resolution}, min={self.min}, max={self.max}, eps={self.eps}, "
                f"smallest_normal={self.tiny}, tiny={self.tiny}, dtype={self.dtype})")


class iinfo:
    """Machine limits of an integer dtype (``bits``, ``min``, ``max``)."""

    def __init__(self, type):
        if type.is_floating_point or type.is_complex or type is bool:
            raise TypeError(f"torch.iinfo() requires an integer input type. Use torch.finfo to handle '{type}'")
        ii = np.iinfo(type.np)
        self.dtype = type.name
        self.bits = ii.bits
        self.min = builtins.int(ii.min)
        self.max = builtins.int(ii.max)

    def __repr__(self):
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"
