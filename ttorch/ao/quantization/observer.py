"""Observers: modules that watch the tensors passing through them (running min and max) and turn
what they saw into quantization parameters (``calculate_qparams``), PyTorch's formulas.

Affine: ``scale = (max(max, 0) - min(min, 0)) / (quant_max - quant_min)`` (at least ``eps``),
``zero_point = clamp(quant_min - round(min(min, 0) / scale), quant_min, quant_max)`` (int32);
symmetric: ``scale = max(-min, max) / ((quant_max - quant_min) / 2)``, ``zero_point`` 0 (128 for
quint8; the range's midpoint for quint8 with a custom range; int64).

``HistogramObserver`` lives in ``histogram_observer.py`` (also importable from here). Differences from PyTorch:
no ``per_channel_affine_float_qparams`` formulas beyond PyTorch's plain one; dtypes are the names in
``ttorch._quantized`` (``ttorch.qint8``...).
"""
import functools
import warnings

from ... import _quantized as Q
from ... import _dtype as D
from ...nn.modules.module import Module

_EPS = 1.1920928955078125e-07      # torch.finfo(torch.float32).eps


class _PartialWrapper(functools.partial):
    """A ``functools.partial`` printed as PyTorch's ``with_args`` constructors are."""

    def __repr__(self):
        return "functools.partial(" + super().__repr__().split("(", 1)[1] + "{}"


def _with_args(cls_or_self, **kwargs):
    """A constructor with ``kwargs`` bound (PyTorch's ``_with_args``)."""
    return _PartialWrapper(cls_or_self, **kwargs)


def _is_per_channel(qscheme):
    return qscheme in (Q.per_channel_affine, Q.per_channel_symmetric, Q.per_channel_affine_float_qparams)


def _is_per_tensor(qscheme):
    return qscheme in (Q.per_tensor_affine, Q.per_tensor_symmetric)


def _is_symmetric(qscheme):
    return qscheme in (Q.per_tensor_symmetric, Q.per_channel_symmetric)


def calculate_qmin_qmax(quant_min, quant_max, has_customized_qrange, dtype, reduce_range):
    """The integer range of ``dtype``: the custom one if given (halved with ``reduce_range``)."""
    if has_customized_qrange:
        if reduce_range:
            quant_min, quant_max = quant_min // 2, quant_max // 2
        return quant_min, quant_max
    if dtype is Q.qint8:
        return (-64, 63) if reduce_range else (-128, 127)
    if dtype is Q.quint8:
        return (0, 127) if reduce_range else (0, 255)
    if dtype is Q.qint32:
        return -2 ** 31, 2 ** 31 - 1
    return 0, 15


class ObserverBase(Module):
    """Base of the observers: ``forward`` records statistics and returns its input unchanged."""

    def __init__(self, dtype, is_dynamic=False):
        super().__init__()
        self.dtype = dtype
        self.is_dynamic = is_dynamic

    with_args = classmethod(_with_args)


class UniformQuantizationObserverBase(ObserverBase):
    """What the min/max observers share: the range, ``eps`` and ``_calculate_qparams``."""

    def __init__(self, dtype=Q.quint8, qscheme=Q.per_tensor_affine, reduce_range=False, quant_min=None,
                 quant_max=None, factory_kwargs=None, eps=_EPS, is_dynamic=False, **kwargs):
        super().__init__(dtype=dtype, is_dynamic=is_dynamic)
        from ... import tensor
        self.qscheme = qscheme
        if reduce_range:
            warnings.warn("Please use quant_min and quant_max to specify the range for observers.                     "
                          "reduce_range will be deprecated in a future release of PyTorch.")
        self.reduce_range = reduce_range
        self.register_buffer("eps", tensor([eps]))
        if self.qscheme not in (Q.per_tensor_affine, Q.per_tensor_symmetric, Q.per_channel_affine,
                                Q.per_channel_symmetric, Q.per_channel_affine_float_qparams):
            raise AssertionError("Default Observer only works for per_tensor_affine, per_tensor_symmetric, "
                                 "per_channel_affine, per_channel_symmetric and per_channel_float_qparams "
                                 "quantization scheme")
        if self.dtype not in (Q.qint8, Q.quint8, Q.qint32):
            raise AssertionError("Default Observer only works for (torch.qint8, torch.quint8, torch.quint4x2, "
                                 "torch.qint32, torch.int8, torch.uint8, torch.int16, torch.int32, torch.float8_e5m2, "
                                 "torch.float8_e4m3fn, torch.uint16) data type")
        self.has_customized_qrange = quant_min is not None and quant_max is not None
        if self.has_customized_qrange:
            if not quant_min <= 0 <= quant_max:
                raise AssertionError("Used-specified quantization range must include 0.")
            if not quant_min < quant_max:
                raise AssertionError("qmin must be strictly less than qmax for user-specified quantization range.")
        self.quant_min, self.quant_max = calculate_qmin_qmax(quant_min, quant_max, self.has_customized_qrange,
                                                             self.dtype, self.reduce_range)

    def _calculate_qparams(self, min_val, max_val):
        import ttorch
        if not _check_min_max_valid(min_val, max_val):
            return ttorch.tensor([1.0], device=min_val.device.type), ttorch.tensor([0], device=min_val.device.type)
        qmin, qmax = self.quant_min, self.quant_max
        min_neg = ttorch.minimum(min_val, ttorch.zeros_like(min_val))
        max_pos = ttorch.maximum(max_val, ttorch.zeros_like(max_val))
        device = min_neg.device
        if _is_symmetric(self.qscheme):
            max_pos = ttorch.maximum(-min_neg, max_pos)
            scale = max_pos / (float(qmax - qmin) / 2)
            scale = ttorch.maximum(scale, self.eps.to(scale.dtype))
            fill = 0
            if self.dtype is Q.quint8:
                fill = (qmin + qmax) // 2 if self.has_customized_qrange else 128
            zero_point = ttorch.full(min_neg.shape, fill, dtype=D.int64, device=device)
        elif self.qscheme is Q.per_channel_affine_float_qparams:
            scale = (max_val - min_val) / float(qmax - qmin)
            scale = ttorch.where(scale > self.eps, scale, ttorch.ones_like(scale))
            zero_point = -1 * min_val / scale
        else:
            scale = (max_pos - min_neg) / float(qmax - qmin)
            scale = ttorch.maximum(scale, self.eps.to(scale.dtype))
            zero_point = qmin - ttorch.round(min_neg / scale).to(D.int32)
            zero_point = ttorch.clamp(zero_point, qmin, qmax)
        if scale.dim() == 0:
            scale = scale.reshape(1)
        if zero_point.dim() == 0:
            zero_point = zero_point.reshape(1)
        return scale, zero_point

    def reset_min_max_vals(self):
        raise NotImplementedError("Cannot reset min/max values in the given observer.")


def _resize_buffers_from(module, names, state_dict, prefix):
    """Buffers whose shape follows the data (per-channel statistics, qparams) take the checkpoint's shape
    before loading, as PyTorch's observers and FakeQuantize do in ``_load_from_state_dict``."""
    for name in names:
        v = state_dict.get(prefix + name)
        if v is not None and getattr(module, name).shape != v.shape:
            setattr(module, name, getattr(module, name).new_empty(v.shape))


def _check_min_max_valid(min_val, max_val):
    if min_val.numel() == 0 or max_val.numel() == 0:
        warnings.warn("must run observer before calling calculate_qparams. Returning default values.")
        return False
    if min_val.dim() == 0 or min_val.numel() == 1:
        if float(min_val.reshape(-1)[0]) == float("inf") and float(max_val.reshape(-1)[0]) == float("-inf"):
            warnings.warn("must run observer before calling calculate_qparams. Returning default values.")
            return False
        if not float(min_val.reshape(-1)[0]) <= float(max_val.reshape(-1)[0]):
            raise AssertionError(f"min {min_val} should be less than max {max_val}")
    elif not bool((min_val <= max_val).all()):
        raise AssertionError(f"min {min_val} should be less than max {max_val}")
    return True


class MinMaxObserver(UniformQuantizationObserverBase):
    """Running minimum and maximum of everything seen; per-tensor qparams.

    Example::

        >>> import ttorch
        >>> from ttorch.ao.quantization import MinMaxObserver
        >>> o = MinMaxObserver()
        >>> _ = o(ttorch.tensor([-1.0, 2.0, 0.3]))
        >>> s, z = o.calculate_qparams(); round(s.item(), 6), z.tolist()
        (0.011765, [85])
    """

    def __init__(self, dtype=Q.quint8, qscheme=Q.per_tensor_affine, reduce_range=False, quant_min=None,
                 quant_max=None, factory_kwargs=None, eps=_EPS, is_dynamic=False, **kwargs):
        if not _is_per_tensor(qscheme):
            raise NotImplementedError("MinMaxObserver's qscheme only support torch.per_tensor_symmetric "
                                      "                    and torch.per_tensor_affine.")
        super().__init__(dtype=dtype, qscheme=qscheme, reduce_range=reduce_range, quant_min=quant_min,
                         quant_max=quant_max, factory_kwargs=factory_kwargs, eps=eps, is_dynamic=is_dynamic, **kwargs)
        from ... import tensor
        self.register_buffer("min_val", tensor(float("inf")))
        self.register_buffer("max_val", tensor(float("-inf")))
        if self.qscheme is Q.per_tensor_symmetric and self.reduce_range and self.dtype is Q.quint8:
            raise NotImplementedError("Cannot reduce range for symmetric quantization for quint8")

    def _new_min_max(self, x):
        import ttorch
        mn, mx = ttorch.aminmax(x)
        return ttorch.minimum(mn, self.min_val), ttorch.maximum(mx, self.max_val)

    def forward(self, x_orig):
        if x_orig.numel() == 0:
            return x_orig
        x = x_orig.detach().to(self.min_val.dtype)
        mn, mx = self._new_min_max(x)
        self.min_val.copy_(mn)
        self.max_val.copy_(mx)
        return x_orig

    def calculate_qparams(self):
        """``(scale, zero_point)``, one-element tensors."""
        return self._calculate_qparams(self.min_val, self.max_val)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}"

    def reset_min_max_vals(self):
        self.min_val.fill_(float("inf"))
        self.max_val.fill_(float("-inf"))


class MovingAverageMinMaxObserver(MinMaxObserver):
    """Min and max as moving averages: ``m += averaging_constant * (m_batch - m)`` (the first batch's as is)."""

    def __init__(self, averaging_constant=0.01, dtype=Q.quint8, qscheme=Q.per_tensor_affine, reduce_range=False,
                 quant_min=None, quant_max=None, eps=_EPS, is_dynamic=False, **kwargs):
        if not _is_per_tensor(qscheme):
            raise NotImplementedError(f"MovingAverageMinMaxObserver's qscheme only support "
                                      f"torch.per_tensor_symmetric and torch.per_tensor_affine. but got: {qscheme}")
        self.averaging_constant = averaging_constant
        if is_dynamic and self.averaging_constant != 1:
            raise NotImplementedError(f"MovingAverageMinMaxObserver doesn't support dynamic quantization for "
                                      f"averaging constant of {self.averaging_constant}")
        super().__init__(dtype=dtype, qscheme=qscheme, reduce_range=reduce_range, quant_min=quant_min,
                         quant_max=quant_max, eps=eps, is_dynamic=is_dynamic, **kwargs)

    def _new_min_max(self, x):
        import ttorch
        mn, mx = ttorch.aminmax(x)
        if float(self.min_val) == float("inf") and float(self.max_val) == float("-inf"):
            return mn, mx
        c = self.averaging_constant
        return self.min_val + c * (mn - self.min_val), self.max_val + c * (mx - self.max_val)


class PerChannelMinMaxObserver(UniformQuantizationObserverBase):
    """Running min and max per index along ``ch_axis``; per-channel qparams."""

    def __init__(self, ch_axis=0, dtype=Q.quint8, qscheme=Q.per_channel_affine, reduce_range=False, quant_min=None,
                 quant_max=None, factory_kwargs=None, eps=_EPS, is_dynamic=False, **kwargs):
        if not _is_per_channel(qscheme):
            raise NotImplementedError("PerChannelMinMaxObserver's qscheme only support torch.per_channel_symmetric, "
                                      "torch.per_channel_affine and torch.per_channel_affine_float_qparams.")
        if is_dynamic:
            raise NotImplementedError("PerChannelMinMaxObserver doesn't support dynamic quantization")
        super().__init__(dtype=dtype, qscheme=qscheme, reduce_range=reduce_range, quant_min=quant_min,
                         quant_max=quant_max, factory_kwargs=factory_kwargs, eps=eps, is_dynamic=is_dynamic, **kwargs)
        from ... import tensor
        self.ch_axis = ch_axis
        self.register_buffer("min_val", tensor([]))
        self.register_buffer("max_val", tensor([]))
        if self.qscheme is Q.per_channel_symmetric and self.reduce_range and self.dtype is Q.quint8:
            raise NotImplementedError("Cannot reduce range for symmetric quantization for quint8")

    def _rows(self, x):
        perm = list(range(x.dim()))
        perm[self.ch_axis], perm[0] = 0, self.ch_axis
        return x.permute(perm).to(self.min_val.dtype).flatten(start_dim=1)     # (C, rest)

    def _combine(self, mn, mx):
        import ttorch
        return ttorch.minimum(mn, self.min_val), ttorch.maximum(mx, self.max_val)

    def forward(self, x_orig):
        import ttorch
        if x_orig.numel() == 0:
            return x_orig
        mn, mx = ttorch.aminmax(self._rows(x_orig.detach()), dim=1)
        if self.min_val.numel() != 0 and self.max_val.numel() != 0:
            mn, mx = self._combine(mn, mx)
        self.min_val = mn.clone()      # (buffers: the assignment keeps them registered)
        self.max_val = mx.clone()
        return x_orig

    def calculate_qparams(self):
        """``(scale, zero_point)``, one entry per channel."""
        return self._calculate_qparams(self.min_val, self.max_val)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}"

    def reset_min_max_vals(self):
        from ... import tensor
        self.min_val, self.max_val = tensor([]), tensor([])

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        _resize_buffers_from(self, ("min_val", "max_val"), state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


class MovingAveragePerChannelMinMaxObserver(PerChannelMinMaxObserver):
    """Per-channel min and max as moving averages (``averaging_constant``)."""

    def __init__(self, averaging_constant=0.01, ch_axis=0, dtype=Q.quint8, qscheme=Q.per_channel_affine,
                 reduce_range=False, quant_min=None, quant_max=None, eps=_EPS, is_dynamic=False, **kwargs):
        if not _is_per_channel(qscheme):
            raise NotImplementedError("MovingAveragePerChannelMinMaxObserver's qscheme only support "
                                      "torch.per_channel_symmetric, torch.per_channel_affine and "
                                      "torch.per_channel_affine_float_qparams.")
        super().__init__(ch_axis=ch_axis, dtype=dtype, qscheme=qscheme, reduce_range=reduce_range,
                         quant_min=quant_min, quant_max=quant_max, eps=eps, is_dynamic=is_dynamic, **kwargs)
        self.averaging_constant = averaging_constant

    def _combine(self, mn, mx):
        c = self.averaging_constant
        return self.min_val + c * (mn - self.min_val), self.max_val + c * (mx - self.max_val)


default_observer = MinMaxObserver.with_args(quant_min=0, quant_max=127)
default_weight_observer = MinMaxObserver.with_args(dtype=Q.qint8, qscheme=Q.per_tensor_symmetric)
default_per_channel_weight_observer = PerChannelMinMaxObserver.with_args(dtype=Q.qint8,
                                                                         qscheme=Q.per_channel_symmetric)


class PlaceholderObserver(ObserverBase):
    """Observes nothing: it carries the ``dtype`` (and ``is_dynamic``) of a tensor quantized later, per call
    (dynamic quantization's activations)."""

    def __init__(self, dtype=None, custom_op_name="", compute_dtype=None, quant_min=None, quant_max=None,
                 qscheme=None, eps=None, is_dynamic=False):
        super().__init__(dtype=D.float32 if dtype is None else dtype, is_dynamic=is_dynamic)
        self.qscheme = Q.per_tensor_affine if qscheme is None else qscheme
        self.quant_min, self.quant_max = quant_min, quant_max
        self.eps = _EPS if eps is None else eps
        self.custom_op = custom_op_name

    def forward(self, x):
        return x

    def extra_repr(self):
        return f"dtype={self.dtype}, is_dynamic={self.is_dynamic}"

    def calculate_qparams(self):
        raise Exception("calculate_qparams should not be called for PlaceholderObserver")


default_placeholder_observer = PlaceholderObserver
default_float_qparams_observer = PerChannelMinMaxObserver.with_args(
    dtype=Q.quint8, qscheme=Q.per_channel_affine_float_qparams, ch_axis=0)
default_dynamic_quant_observer = PlaceholderObserver.with_args(dtype=Q.quint8, quant_min=0, quant_max=255,
                                                               is_dynamic=True)

from .histogram_observer import HistogramObserver  # noqa: E402  (PyTorch's module holds it too)

__all__ = ["ObserverBase", "UniformQuantizationObserverBase", "MinMaxObserver", "MovingAverageMinMaxObserver",
           "PerChannelMinMaxObserver", "MovingAveragePerChannelMinMaxObserver", "PlaceholderObserver",
           "HistogramObserver", "calculate_qmin_qmax", "default_observer", "default_weight_observer",
           "default_per_channel_weight_observer", "default_placeholder_observer", "default_dynamic_quant_observer",
           "default_float_qparams_observer"]
