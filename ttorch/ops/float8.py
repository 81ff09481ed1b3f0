"""float8 tensors: casts to and from the five float8 dtypes on both devices, and the few ops PyTorch runs on them.

PyTorch's float8 support is limited: tensors are made, cast, copied, viewed, joined, indexed and compared;
arithmetic raises (``"add_stub" not implemented for 'Float8_e4m3fn'``) and promotion with any other dtype
raises (``_dtype.py``). ``Op.__call__`` lets an op take a float8 tensor only when its name is in ``FLOAT8_OK``
(ops that move bytes) or ``FLOAT8_IMPL`` (ops run here: on the bytes, or on float32 values).

Rounding is PyTorch 2.13's, checked against it bit for bit: round to nearest even; ``float8_e4m3fn``
saturates to +-448 (infinities too) and keeps NaN; ``float8_e5m2`` overflows to inf; the ``fnuz`` types
turn overflow, inf and NaN into their one NaN (0x80) and have no -0; ``float8_e8m0fnu`` (a power of two)
drops the sign, rounds ties up and maps 0 to its smallest value, 2**-127. Values are first rounded to
float32, as PyTorch's conversions take a float. Scalars written by ``fill_``/``full`` are checked instead
(PyTorch's "value cannot be converted to type c10::Float8_e4m3fn without overflow").

cpu: NumPy arrays of ``ml_dtypes``' types (the saturation and e8m0 rules applied first). cuda: one kernel
decodes bytes to float32/float16/bfloat16, one encodes them, both in integer arithmetic: sm_80 has no e4m3
type (Triton refuses ``fp8e4nv`` below sm_89) and Triton has no e8m0 type, so kernels take the bytes as
uint8 everywhere, and the same code runs on sm_80, sm_90 and the interpreter.
"""
import numpy as np
import triton
import triton.language as tl

from .. import _dtype as D
from .._tensor import Tensor
from ._launch import launch, cdiv
from ._op import Op, REGISTRY

# per dtype: exponent bits, mantissa bits, exponent bias, and the special-value rules (KIND):
# 0 e4m3fn (NaN = S.1111.111, no inf, saturating), 1 e5m2 (IEEE), 2 fnuz (NaN = 0x80), 3 e8m0fnu
_FORMAT = {D.float8_e4m3fn: dict(EBITS=4, MBITS=3, BIAS=7, KIND=0),
           D.float8_e5m2: dict(EBITS=5, MBITS=2, BIAS=15, KIND=1),
           D.float8_e4m3fnuz: dict(EBITS=4, MBITS=3, BIAS=8, KIND=2),
           D.float8_e5m2fnuz: dict(EBITS=5, MBITS=2, BIAS=16, KIND=2),
           D.float8_e8m0fnu: dict(EBITS=8, MBITS=0, BIAS=127, KIND=3)}
_WIDE = (D.float32, D.float16, D.bfloat16)     # what the kernels read and write besides the bytes
_BLOCK = 1024


# --------------------------------------------------------------------------- cpu
def to_float8_np(a, dtype):
    """NumPy array ``a`` (any real dtype) cast to float8 ``dtype`` with PyTorch's rules."""
    x = np.asarray(a)
    if x.dtype.kind == "c":
        x = x.real
    x = x.astype(np.float32)
    if dtype is D.float8_e4m3fn:
        x = np.where(np.isnan(x), x, np.clip(x, -448.0, 448.0))
    elif dtype is D.float8_e8m0fnu:
        x = np.abs(x)
        x = np.where(x == 0, np.float32(2.0 ** -127), x)
    with np.errstate(invalid="ignore", over="ignore"):
        out = x.astype(dtype.np)
    if dtype is D.float8_e5m2:      # ml_dtypes writes NaN as S.11111.10, PyTorch as S.11111.11
        b = out.view(np.uint8)
        b[np.isnan(x)] |= 3
    return out


def from_float8_np(a, np_dtype):
    """A float8 NumPy array cast to ``np_dtype`` (through float32, where every float8 value is exact)."""
    x = a.astype(np.float32)
    if np_dtype.kind in "iub" and np_dtype != np.float32:
        if np_dtype.kind == "b":
            return x != 0
        with np.errstate(invalid="ignore"):
            return x.astype(np.int64).astype(np_dtype)   # (PyTorch's float -> integer: through int64)
    return x.astype(np_dtype)


def np_cast(a, dtype):
    """``a.astype(dtype.np)`` with PyTorch's rules where either side is float8 (``to``'s cpu path)."""
    if dtype in _FORMAT:
        return to_float8_np(from_float8_np(a, np.dtype(np.float32)) if a.dtype.itemsize == 1 and
                            a.dtype.kind == "V" else a, dtype)
    if a.dtype.kind == "V" and a.dtype.itemsize == 1:
        return from_float8_np(a, dtype.np)
    return a.astype(dtype.np)


# --------------------------------------------------------------------------- cuda kernels
@triton.jit
def _decode(b, EBITS: tl.constexpr, MBITS: tl.constexpr, BIAS: tl.constexpr, KIND: tl.constexpr):
    """float8 bytes (int32 in [0, 256)) -> their float32 values (built as float32 bits)."""
    if KIND == 3:       # a biased power of two: the float32 exponent field itself (0: the subnormal 2^-127)
        bits = tl.where(b == 0, 0x00400000, b << 23)
        bits = tl.where(b == 255, 0x7FC00000, bits)
    else:
        e = (b >> MBITS) & ((1 << EBITS) - 1)
        m = b & ((1 << MBITS) - 1)
        normal = ((e + (127 - BIAS)) << 23) | (m << (23 - MBITS))
        sub = (m.to(tl.float32) * (2.0 ** (1 - BIAS - MBITS))).to(tl.int32, bitcast=True)    # exact
        bits = tl.where(e == 0, sub, normal)
        if KIND == 0:
            bits = tl.where((b & 0x7F) == 0x7F, 0x7FC00000, bits)
        elif KIND == 1:
            bits = tl.where(e == 31, tl.where(m == 0, 0x7F800000, 0x7FC00000), bits)
        else:
            bits = tl.where(b == 0x80, 0x7FC00000, bits)
        bits = bits | ((b & 0x80) << 24)        # the sign
    return bits.to(tl.float32, bitcast=True)


@triton.jit
def _encode(x, EBITS: tl.constexpr, MBITS: tl.constexpr, BIAS: tl.constexpr, KIND: tl.constexpr):
    """float32 values -> float8 bytes (int32), rounded to nearest even, with the format's overflow rule."""
    bits = x.to(tl.int32, bitcast=True)
    a = bits & 0x7FFFFFFF
    nan = a > 0x7F800000
    if KIND == 3:
        r = (a + (1 << 22)) >> 23       # the nearest power of two, ties up (PyTorch's and ml_dtypes')
        r = tl.where(a == 0, 0, r)
        return tl.where(nan | (r > 254), 255, r)
    # normal range: drop 23 - MBITS mantissa bits, rounding to nearest even, then rebias the exponent
    SHIFT: tl.constexpr = 23 - MBITS
    normal = ((a + ((1 << (SHIFT - 1)) - 1) + ((a >> SHIFT) & 1)) >> SHIFT) - ((127 - BIAS) << MBITS)
    # subnormal range: adding 2^(24 - BIAS - MBITS) rounds |x| to the format's quantum (float32's own
    # rounding), and the sum's mantissa bits count the quanta
    MAGIC: tl.constexpr = 2.0 ** (24 - BIAS - MBITS)
    MAGIC_BITS: tl.constexpr = (151 - BIAS - MBITS) << 23
    sub = (a.to(tl.float32, bitcast=True) + MAGIC).to(tl.int32, bitcast=True) - MAGIC_BITS
    code = tl.where(a < ((128 - BIAS) << 23), sub, normal)
    neg = bits < 0
    if KIND == 0:
        code = tl.where(nan, 0x7F, tl.minimum(code, 0x7E))
        return tl.where(neg, code | 0x80, code)
    elif KIND == 1:
        code = tl.where(nan, 0x7F, tl.minimum(code, 0x7C))
        return tl.where(neg, code | 0x80, code)
    else:
        bad = nan | (code > 0x7F)
        code = tl.where(neg & (code != 0), code | 0x80, code)
        return tl.where(bad, 0x80, code)


@triton.jit
def _decode_kernel(src_ptr, dst_ptr, n, EBITS: tl.constexpr, MBITS: tl.constexpr, BIAS: tl.constexpr,
                   KIND: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    inside = offs < n
    b = tl.load(src_ptr + offs, mask=inside, other=0).to(tl.int32)
    v = _decode(b, EBITS, MBITS, BIAS, KIND)
    tl.store(dst_ptr + offs, v.to(dst_ptr.dtype.element_ty), mask=inside)


@triton.jit
def _encode_kernel(src_ptr, dst_ptr, n, EBITS: tl.constexpr, MBITS: tl.constexpr, BIAS: tl.constexpr,
                   KIND: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    inside = offs < n
    x = tl.load(src_ptr + offs, mask=inside, other=0.0).to(tl.float32)
    tl.store(dst_ptr + offs, _encode(x, EBITS, MBITS, BIAS, KIND).to(tl.uint8), mask=inside)


def as_bytes(t):
    """Float8 tensor ``t`` read as uint8 (same storage, shape and strides; no autograd)."""
    return Tensor._make(t.untyped_storage(), t._shape, t.stride(), t._offset, D.uint8)


def from_bytes(t, dtype):
    """Uint8 tensor ``t`` read as float8 ``dtype``."""
    return Tensor._make(t.untyped_storage(), t._shape, t.stride(), t._offset, dtype)


def decode(x, dtype=D.float32):
    """Float8 cuda tensor ``x`` as a new contiguous tensor of ``dtype`` (float32, float16 or bfloat16)."""
    xb = as_bytes(x).contiguous()
    out = Tensor._empty(x._shape, dtype, x.device)
    n = x.numel()
    if n:
        launch(_decode_kernel, (cdiv(n, _BLOCK),), xb, out, n, **_FORMAT[x.dtype], BLOCK=_BLOCK)
    return out


def encode(x, dtype):
    """Cuda tensor ``x`` (float32, float16 or bfloat16) as a new contiguous float8 tensor of ``dtype``."""
    xc = x.contiguous()
    out = Tensor._empty(x._shape, D.uint8, x.device)
    n = x.numel()
    if n:
        launch(_encode_kernel, (cdiv(n, _BLOCK),), xc, out, n, **_FORMAT[dtype], BLOCK=_BLOCK)
    return from_bytes(out, dtype)


def copy_float8(dst, src):
    """``copy_into`` where ``dst`` or ``src`` is float8: ``src`` (tensor broadcastable to ``dst``, or a
    scalar) cast and written into ``dst``; returns ``dst``."""
    from .elementwise import copy_into
    if dst.device.type == "cpu":
        s = src._np if type(src) is Tensor else np.asarray(src)
        np.copyto(dst._np, np_cast(s, dst.dtype) if s.dtype != dst.dtype.np else s)
        return dst
    if type(src) is Tensor and src.device != dst.device:
        from .movement import to_device
        src = to_device(src, dst.device)
    if type(src) is not Tensor:     # a fill: the byte made on the host
        byte = int(to_float8_np(np.array(src, np.float64), dst.dtype).view(np.uint8))
        copy_into(as_bytes(dst), byte)
        return dst
    if src.dtype is dst.dtype:
        copy_into(as_bytes(dst), as_bytes(src))
        return dst
    if dst.dtype not in _FORMAT:                    # float8 -> any: through a wide type
        wide = decode(src, dst.dtype if dst.dtype in _WIDE else D.float32)
        return copy_into(dst, wide)
    if src.dtype in _FORMAT:
        src = decode(src)
    elif src.dtype not in _WIDE:
        src = copy_into(Tensor._empty(src._shape, D.float32, src.device), src)
    if src._shape != dst._shape:
        src = copy_into(Tensor._empty(dst._shape, src.dtype, dst.device), src)   # broadcast
    copy_into(as_bytes(dst), as_bytes(encode(src, dst.dtype)))
    return dst


def _kernel_specs():
    from ._aot import KernelSpec, ptr
    out = []
    for f8, fmt in _FORMAT.items():
        for wide in _WIDE:
            for k, name, sig in ((_decode_kernel, "decode", dict(src_ptr=ptr(D.uint8), dst_ptr=ptr(wide), n="i32")),
                                 (_encode_kernel, "encode", dict(src_ptr=ptr(wide), dst_ptr=ptr(D.uint8), n="i32"))):
                out.append(KernelSpec(k, sig, dict(fmt, BLOCK=_BLOCK), label=f"{name} {f8} {wide}"))
    return out


_copy_float8 = Op("float8_copy", impl=copy_float8, kernels=_kernel_specs, family="movement")


# --------------------------------------------------------------------------- which ops take float8
def _on_bytes(name):
    """Op ``name`` run on the bytes of its float8 operands (ops that only move elements)."""
    def run(*inputs, **attrs):
        dt = next(t.dtype for t in inputs if type(t) is Tensor and t.dtype in _FORMAT)
        attrs = {k: D.uint8 if v is dt else v for k, v in attrs.items()}
        out = REGISTRY[name](*[as_bytes(t) if type(t) is Tensor and t.dtype is dt else t for t in inputs], **attrs)
        return from_bytes(out, dt) if type(out) is Tensor and out.dtype is D.uint8 else out
    return run


def _on_float32(name, back=False):
    """Op ``name`` run on the float32 values of its float8 operands (``back``: its result cast back to
    the operands' float8 type), as PyTorch computes the few float8 ops it has."""
    def run(*inputs, **attrs):
        dt = next(t.dtype for t in inputs if type(t) is Tensor and t.dtype in _FORMAT)
        attrs = {k: D.float32 if v is dt else v for k, v in attrs.items()}     # (compute, out_dtype)
        out = REGISTRY[name](*[t.to(D.float32) if type(t) is Tensor and t.dtype is dt else t for t in inputs],
                             **attrs)
        return out.to(dt) if back else out
    return run


def check_fill(value, dtype):
    """PyTorch's check of a scalar written into a float8 tensor (fills are checked, tensor casts saturate):
    a finite value outside the type's range, or inf where the type has none, is refused."""
    v = complex(value).real if isinstance(value, complex) else float(value)
    fi = D.finfo(dtype)
    if v == v and (v > fi.max or v < fi.min) and not (abs(v) == float("inf") and dtype is D.float8_e5m2):
        raise RuntimeError(f"value cannot be converted to type c10::{D.scalar_name(dtype)} without overflow")


def _fill(x, value):
    check_fill(value.item() if type(value) is Tensor else value, x.dtype)
    return copy_float8(Tensor._empty(x._shape, x.dtype, x.device), value)


def _copy(x, src):
    return copy_float8(Tensor._empty(x._shape, x.dtype, x.device), src)


# ops that move or view elements whatever their type (on cuda through copy_into, whose float8 branch
# is float8_copy)
FLOAT8_OK = frozenset({"to_device", "to_dtype", "clone", "cat", "stack", "repeat", "float8_copy", "view", "permute",
                       "expand", "as_strided", "as_strided_view", "as_strided_view_grad", "copy_slices",
                       "view_scatter", "split", "split_with_sizes", "unbind"})
FLOAT8_IMPL = {"fill_": _fill, "copy_": _copy, "eq": _on_float32("eq"), "ne": _on_float32("ne"),
               "isnan": _on_float32("isnan"), "any": _on_float32("any"), "all": _on_float32("all"),
               "mul": _on_float32("mul", back=True), "abs": _on_float32("abs", back=True),
               **{n: _on_bytes(n) for n in ("index", "index_select", "masked_select", "where", "index_put")}}
for _d in D.float8_dtypes:
    _d._ops = FLOAT8_OK
    # PyTorch has no abs for e8m0 (its values are positive: nothing to do, and no kernel to do it)
    _d._impl = FLOAT8_IMPL if _d is not D.float8_e8m0fnu else {k: v for k, v in FLOAT8_IMPL.items() if k != "abs"}

__all__ = []
