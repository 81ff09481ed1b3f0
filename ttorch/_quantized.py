"""Quantized dtypes (``ttorch.qint8``, ``quint8``, ``qint32``), quantization schemes
(``ttorch.per_tensor_affine``...) and quantized tensors (``ttorch.quantize_per_tensor``,
``quantize_per_channel``): a ``QuantizedTensor`` holds the integers (a dense uint8/int8/int32 tensor) and
its qparams; ``dequantize()``, ``int_repr()``, ``q_scale()``... read them. Movement ops (view, permute,
indexing, clone, ``.to(device)``) and ``relu`` run on the integers (qparams kept); the int8 modules of
``ttorch.ao.nn.quantized`` compute with them; any other op raises PyTorch's error for the
QuantizedCPU/QuantizedCUDA backend (``ops/_op.py``'s ``SUBCLASS_OPS``).

Quantization is PyTorch's: ``q = clamp(nearbyint(x * (1 / scale) + zero_point), dtype's range)`` in
float32 (halves to even); ``dequantize() = (q - zero_point) * scale``.

The dtypes print as ``ttorch.qint8`` (as ttorch's dtypes do). Differences from PyTorch: they are not
``ttorch.dtype`` members and ``ttorch.iinfo`` does not take them (``.min``/``.max`` are on the object);
only the ops above take quantized tensors; PyTorch's vectorized cpu quantizer may contract
``x * inv + zero_point`` to an FMA, which can move a rare exact tie.
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
    if zero_points.dtype.is_floating_point:     # float zero points: per_channel_affine_float_qparams (embeddings)
        s32, zf = scales.to(D.float32), zero_points.to(D.float32)
        q = _quantize(input.detach(), s32.reshape(shape), zf.reshape(shape), dtype)
        return QuantizedTensor._make(q, dtype, per_channel_affine_float_qparams, s32, zf, axis)
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
        """``(q - zero_point) * scale``, float32 (PyTorch's scalar cpu path; its vectorized one, which takes
        blocks of 64 elements, forms ``fma(scale, q, -zero_point * scale)``: 1 ulp apart at times)."""
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

    def __deepcopy__(self, memo):
        import copy
        out = QuantizedTensor._make(self._int.clone(), self.dtype, self._scheme, copy.deepcopy(self._scale, memo),
                                    copy.deepcopy(self._zp, memo), self._axis)
        memo[id(self)] = out
        return out

    def __reduce_ex__(self, proto):     # pickles its integers and qparams
        return (_rebuild_quantized, (self._int, self.dtype.name, self._scheme.name, self._scale, self._zp,
                                     self._axis))

    def _inplace_from(self, result, opname):
        """An in-place op (``relu_``, ``nn.ReLU(inplace=True)``): the integers and qparams of ``result``."""
        if type(result) is not QuantizedTensor or result._shape != self._shape or result.dtype is not self.dtype:
            raise RuntimeError(f"{opname}: the result does not fit this {self.dtype} quantized tensor")
        self._int.copy_(result._int)
        self._scheme, self._scale, self._zp, self._axis = result._scheme, result._scale, result._zp, result._axis
        return self

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

# ops that only move or copy elements: on a per-tensor quantized tensor they run on the integers, qparams kept
_INT_OPS = {"view", "permute", "expand", "as_strided", "as_strided_view", "clone", "flip", "roll", "repeat",
            "to_device", "unfold", "unbind", "split", "split_with_sizes"}


def _rebuild_quantized(q, dtype, scheme, scale, zero_point, axis):
    g = globals()
    return QuantizedTensor._make(q, g[dtype], g[scheme], scale, zero_point, axis)


def _refuse(op, inputs, attrs):
    t = next(t for t in inputs if type(t) is QuantizedTensor)
    raise NotImplementedError(
        f"Could not run 'aten::{op.name}' with arguments from the '{_backend(t)}' backend. This could be "
        "because the operator doesn't exist for this backend (ttorch's quantized tensors run movement ops, "
        "relu and the ao.nn.quantized modules: dequantize() first).")


def _quantized_op(op, inputs, attrs):
    """What an op does given a quantized tensor: movement ops and ``relu`` (``max(q, zero_point)``) work on the
    integers of a per-tensor one; anything else raises PyTorch's error for the quantized backend."""
    qs = [t for t in inputs if type(t) is QuantizedTensor]
    q = qs[0]
    if len(qs) == 1 and op.name in ("to_device", "clone"):     # any scheme: per-channel qparams travel along
        out = op(*[q._int if t is q else t for t in inputs], **attrs)
        scale, zp = q._scale, q._zp
        if q._axis is not None:
            scale, zp = scale.to(out.device), zp.to(out.device)
        return QuantizedTensor._make(out, q.dtype, q._scheme, scale, zp, q._axis)
    if len(qs) == 1 and q._axis is None and (op.name in _INT_OPS or op.name == "relu"):
        if op.name == "relu":
            out = q._int.clamp(min=int(q._zp))
        else:
            out = op(*[q._int if t is q else t for t in inputs], **attrs)
        if isinstance(out, (tuple, list)):
            return type(out)(QuantizedTensor._make(o, q.dtype, q._scheme, q._scale, q._zp, None) for o in out)
        return QuantizedTensor._make(out, q.dtype, q._scheme, q._scale, q._zp, None)
    _refuse(op, inputs, attrs)


_op.SUBCLASS_OPS[QuantizedTensor] = _quantized_op


def _need_quantized(t, name):
    if not getattr(t, "is_quantized", False):
        raise NotImplementedError(
            f"Could not run 'aten::{name}' with arguments from the '{'CUDA' if t.device.type == 'cuda' else 'CPU'}' "
            "backend. This could be because the operator doesn't exist for this backend.")
    return t


def dequantize(tensor):
    """The float32 values of a quantized tensor (a float tensor: converted to float32; a list: a tuple)."""
    if isinstance(tensor, (list, tuple)):
        return tuple(dequantize(t) for t in tensor)
    if getattr(tensor, "is_quantized", False):
        return tensor.dequantize()
    from . import _dtype as D
    return tensor.to(D.float32)


def int_repr(input):
    """The integers of a quantized tensor (uint8/int8/int32)."""
    return _need_quantized(input, "int_repr").int_repr()


def q_scale(input):
    return _need_quantized(input, "q_scale").q_scale()


def q_zero_point(input):
    return _need_quantized(input, "q_zero_point").q_zero_point()


def q_per_channel_scales(input):
    return _need_quantized(input, "q_per_channel_scales").q_per_channel_scales()


def q_per_channel_zero_points(input):
    return _need_quantized(input, "q_per_channel_zero_points").q_per_channel_zero_points()


def q_per_channel_axis(input):
    return _need_quantized(input, "q_per_channel_axis").q_per_channel_axis()


def quantize_per_tensor_dynamic(input, dtype, reduce_range):
    """Quantize ``input`` per tensor with qparams from its own min and max (C++'s ``ChooseQuantizationParams``
    over ``dtype``'s range, halved with ``reduce_range``).

    Example::

        >>> import ttorch
        >>> q = ttorch.quantize_per_tensor_dynamic(ttorch.tensor([-1.0, 0.3, 2.5]), ttorch.quint8, False)
        >>> q.q_zero_point(), q.int_repr().tolist()
        (73, [0, 95, 255])
    """
    from .ao.quantization.fake_quantize import _choose_qparams
    _quantizable(input)
    if dtype not in (quint8, qint8):
        raise RuntimeError(f"dtype {'QInt32' if dtype is qint32 else dtype}not supported")
    lo, hi = dtype.min, dtype.max
    if reduce_range:
        lo, hi = lo // 2, hi // 2
    mn, mx = (float(v) for v in input.detach().aminmax()) if input.numel() else (0.0, 0.0)
    scale, zp = _choose_qparams(mn, mx, lo, hi, False, float32_scale=False)
    return quantize_per_tensor(input, scale, zp, dtype)


def fused_moving_avg_obs_fake_quant(input, observer_on, fake_quant_on, running_min, running_max, scale, zero_point,
                                    averaging_const, quant_min, quant_max, ch_axis, per_row_fake_quant=False,
                                    symmetric_quant=False):
    """Observe and fake-quantize in one call (PyTorch's fused QAT op): when ``observer_on``, update
    ``running_min``/``running_max`` in place (moving averages; a first batch taken as is); when
    ``fake_quant_on``, recompute ``scale``/``zero_point`` in place (C++'s ``ChooseQuantizationParams``) and
    return the fake-quantized input, else the input itself. ``per_row_fake_quant``: per index along
    ``ch_axis``."""
    import ttorch
    from .ao.quantization.fake_quantize import _choose_qparams
    x = input.detach()
    if per_row_fake_quant:
        perm = [ch_axis] + [d for d in range(x.dim()) if d != ch_axis]
        x = x.permute(perm).flatten(1)      # (C, rest)
    if int(observer_on.reshape(-1)[0]) == 1:
        mn, mx = x.aminmax(dim=1) if per_row_fake_quant else x.aminmax()
        mn, mx = mn.reshape(running_min.shape), mx.reshape(running_max.shape)
        fresh = ttorch.isinf(running_min) & ttorch.isinf(running_max)
        running_min.copy_(ttorch.where(fresh, mn, running_min + averaging_const * (mn - running_min)))
        running_max.copy_(ttorch.where(fresh, mx, running_max + averaging_const * (mx - running_max)))
    if int(fake_quant_on.reshape(-1)[0]) != 1:
        return input
    qp = [_choose_qparams(a, b, quant_min, quant_max, symmetric_quant)
          for a, b in zip(running_min.reshape(-1).tolist(), running_max.reshape(-1).tolist())]
    scale.copy_(ttorch.tensor([s for s, _ in qp], dtype=scale.dtype, device=scale.device).reshape(scale.shape))
    zero_point.copy_(ttorch.tensor([z for _, z in qp], dtype=zero_point.dtype,
                                   device=zero_point.device).reshape(zero_point.shape))
    if per_row_fake_quant:
        return ttorch.fake_quantize_per_channel_affine(input, scale, zero_point.int(), ch_axis, quant_min, quant_max)
    return ttorch.fake_quantize_per_tensor_affine(input, scale, zero_point.int(), quant_min, quant_max)


__all__ = ["qint8", "quint8", "qint32", "qscheme", "per_tensor_affine", "per_channel_affine", "per_tensor_symmetric",
           "per_channel_symmetric", "per_channel_affine_float_qparams", "quantize_per_tensor",
           "quantize_per_channel", "dequantize", "int_repr", "q_scale", "q_zero_point", "q_per_channel_scales",
           "q_per_channel_zero_points", "q_per_channel_axis", "quantize_per_tensor_dynamic",
           "fused_moving_avg_obs_fake_quant"]
