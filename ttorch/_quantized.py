"""Quantized dtypes (``ttorch.qint8``, ``quint8``, ``qint32``), quantization schemes
(``ttorch.per_tensor_affine``...) and quantized tensors (``ttorch.quantize_per_tensor``,
``quantize_per_channel``): a ``QuantizedTensor`` holds the integers (a dense uint8/int8/int32 tensor) and
its qparams; ``dequantize()``, ``int_repr()``, ``q_scale()``... read them, and any other op raises
PyTorch's error for the QuantizedCPU/QuantizedCUDA backend (``ops/_op.py``'s ``SUBCLASS_OPS``).

Quantization is PyTorch's: ``q = clamp(nearbyint(x * (1 / scale) + zero_point), dtype's range)`` in
float32 (halves to even); ``dequantize() = (q - zero_point) * scale``.

The dtypes print as ``ttorch.qint8`` (as ttorch's dtypes do). Differences from PyTorch: they are not
``ttorch.dtype`` members and ``ttorch.iinfo`` does not take them (``.min``/``.max`` are on the object);
there are no quantized kernels (quantized tensors only store and convert); PyTorch's vectorized cpu
quantizer may contract ``x * inv + zero_point`` to an FMA, which can move a rare exact tie.
"""
from ._tensor import Tensor
from .ops import _op


class _QDtype:
    """A quantized dtype name with its integer range (what observers read)."""

    is_floating_point = False
    is_complex = False

    def __init__(self, name, lo, hi, itemsize):
        self.name, self.min, self.max, self.itemsize = name, lo, hi, itemsize
        self.is_signed = lo < 0

    def __repr__(self):
        return f"ttorch.{self.name}"

    def __reduce__(self):       # pickles (and deep-copies) as the one object
        return self.name


class qscheme:
    """A quantization scheme (PyTorch's ``torch.qscheme``)."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"ttorch.{self.name}"

    def __reduce__(self):
        return self.name


qint8 = _QDtype("qint8", -128, 127, 1)
quint8 = _QDtype("quint8", 0, 255, 1)
qint32 = _QDtype("qint32", -2 ** 31, 2 ** 31 - 1, 4)
per_tensor_affine = qscheme("per_tensor_affine")
per_channel_affine = qscheme("per_channel_affine")
per_tensor_symmetric = qscheme("per_tensor_symmetric")
per_channel_symmetric = qscheme("per_channel_symmetric")
per_channel_affine_float_qparams = qscheme("per_channel_affine_float_qparams")

_INT = {"qint8": "int8", "quint8": "uint8", "qint32": "int32"}


def _quantizable(input):
    from . import _dtype as D
    if input.dtype is not D.float32:
        raise RuntimeError(f"Quantize only works on Float Tensor, got {D.scalar_name(input.dtype)}")


def _quantize(x, scale, zp, dtype):
    """The integer tensor (ttorch ops: either device); ``scale``/``zp`` numbers or broadcastable tensors."""
    from . import _dtype as D
    if not isinstance(dtype, _QDtype):
        raise RuntimeError(f"ScalarType {D.scalar_name(dtype)} is not supported in new_qtensor.")
    inv = 1.0 / scale if not hasattr(scale, "dtype") else scale.float().reciprocal()
    q = (x * inv + zp).round().clamp(dtype.min, dtype.max)
    return q.to(getattr(D, _INT[dtype.name]))


def quantize_per_tensor(input, scale, zero_point, dtype):
    """Quantize ``input`` (float32) with one ``scale`` and ``zero_point`` to ``dtype`` (quint8, qint8, qint32).

    Example::

        >>> import ttorch
        >>> q = ttorch.quantize_per_tensor(ttorch.tensor([-1.0, 0.25, 2.0]), 0.5, 2, ttorch.quint8)
        >>> q.int_repr().tolist(), q.dequantize().tolist(), q.q_scale(), q.q_zero_point()
        ([0, 2, 6], [-1.0, 0.0, 2.0], 0.5, 2)
    """
    if isinstance(input, (list, tuple)):
        return [quantize_per_tensor(t, scale, zero_point, dtype) for t in input]
    _quantizable(input)
    scale = float(scale.item()) if hasattr(scale, "item") else float(scale)
    zero_point = int(zero_point.item()) if hasattr(zero_point, "item") else int(zero_point)
    import numpy as np
    s32 = float(np.float32(scale))
    q = _quantize(input.detach(), s32, zero_point, dtype)
    return QuantizedTensor._make(q, dtype, per_tensor_affine, scale, zero_point, None)


def quantize_per_channel(input, scales, zero_points, axis, dtype):
    """Quantize ``input`` (float32) with ``scales[c]``, ``zero_points[c]`` for each index ``c`` along ``axis``."""
    from . import _dtype as D
    _quantizable(input)
    if scales.dim() != 1 or scales.numel() != input.shape[axis]:
        raise RuntimeError("length of scales must equal to channel, expected " f"{input.shape[axis]} got, "
                           f"{scales.numel()}")
    shape = [1] * input.dim()
    shape[axis] = -1
    s64, z64 = scales.to(D.float64), zero_points.to(D.int64)
    q = _quantize(input.detach(), s64.float().reshape(shape), z64.float().reshape(shape), dtype)
    return QuantizedTensor._make(q, dtype, per_channel_affine, s64, z64, axis)


def _backend(t):
    return "QuantizedCUDA" if t.device.type == "cuda" else "QuantizedCPU"

class QuantizedTensor(Tensor):
    """A quantized tensor: ``_int`` (the integers, a dense tensor), its dtype (``ttorch.qint8``...),
    ``qscheme()`` and qparams."""

    is_quantized = True

    @staticmethod
    def _make(q, dtype, scheme, scale, zero_point, axis):
        t = QuantizedTensor.__new__(QuantizedTensor)
        t._int, t._scheme, t._scale, t._zp, t._axis = q, scheme, scale, zero_point, axis
        t._shape, t.dtype, t.device = q._shape, dtype, q.device
        return t

    @property
    def _np(self):
        raise RuntimeError("load_scalar: invalid type")

    def numpy(self, *, force=False):
        name = {"quint8": "QUInt8", "qint8": "QInt8", "qint32": "QInt32"}[self.dtype.name]
        raise TypeError(f"Got unsupported ScalarType {name}")

    def tolist(self):
        raise RuntimeError("load_scalar: invalid type")

    def item(self):
        raise RuntimeError("load_scalar: invalid type")

    def int_repr(self):
        """The integers, a uint8/int8/int32 tensor."""
        return self._int.clone()

    def dequantize(self):
        """``(q - zero_point) * scale``, float32."""
        from . import _dtype as D
        q = self._int.float()
        if self._axis is None:
            import numpy as np
            return (q - self._zp) * float(np.float32(self._scale))
        shape = [1] * q.dim()
        shape[self._axis] = -1
        return (q - self._zp.float().reshape(shape)) * self._scale.to(D.float32).reshape(shape)

    def qscheme(self):
        return self._scheme

    def _need(self, per_tensor):
        if (self._axis is None) != per_tensor:
            what = "kPerTensorAffine" if per_tensor else \
                "kPerChannelAffine || quantizer->qscheme() == kPerChannelAffineFloatQParams"
            raise RuntimeError(f"Expected quantizer->qscheme() == {what} to be true, but got false.  (Could "
                               "this error message be improved?  If so, please report an enhancement request "
                               "to PyTorch.)")

    def q_scale(self):
        self._need(True)
        return self._scale

    def q_zero_point(self):
        self._need(True)
        return self._zp

    def q_per_channel_scales(self):
        self._need(False)
        return self._scale.clone()

    def q_per_channel_zero_points(self):
        self._need(False)
        return self._zp.clone()

    def q_per_channel_axis(self):
        self._need(False)
        return self._axis

    def __repr__(self):
        from . import _tensor_str as S
        import numpy as np
        indent = len("tensor(")
        suffixes = [f"device='{self.device}'"] if self.device.type != "cpu" else []
        suffixes += [f"size={tuple(self.shape)}", f"dtype={self.dtype}", f"quantization_scheme={self._scheme}"]
        if self._axis is None:
            suffixes += [f"scale={self._scale}", f"zero_point={self._zp}"]
        else:
            suffixes += [f"scale={self._scale}", f"zero_point={self._zp}", f"axis={self._axis}"]
        a = self.dequantize()._host()
        if a.size == 0:
            body = "[]"
        else:
            summarize = a.size > S.PRINT_OPTS["threshold"]
            shown = S._summarized(a) if summarize else a
            body = S._body(a, indent, summarize, S._Formatter(shown, True))
        del np
        return S._add_suffixes("tensor(" + body, suffixes, indent)

    __str__ = __repr__

def _refuse(op, inputs, attrs):
    t = next(t for t in inputs if type(t) is QuantizedTensor)
    raise NotImplementedError(
        f"Could not run 'aten::{op.name}' with arguments from the '{_backend(t)}' backend. This could be "
        "because the operator doesn't exist for this backend (ttorch has no quantized kernels: "
        "dequantize() first).")

_op.SUBCLASS_OPS[QuantizedTensor] = _refuse


__all__ = ["qint8", "quint8", "qint32", "qscheme", "per_tensor_affine", "per_channel_affine", "per_tensor_symmetric",
           "per_channel_symmetric", "per_channel_affine_float_qparams", "quantize_per_tensor",
           "quantize_per_channel"]
