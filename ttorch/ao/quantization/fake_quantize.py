"""``FakeQuantize``: an observer followed by fake quantization with the qparams it computed, the
module quantization-aware training inserts for activations and weights.

Each call in training: the observer sees the input (when ``observer_enabled``), ``scale`` and
``zero_point`` become its ``calculate_qparams()``, and the input is fake-quantized with them (when
``fake_quant_enabled``): ``fake_quantize_per_tensor_affine`` or ``..._per_channel_affine`` along
``ch_axis``, gradient straight through.

Differences from PyTorch: ``FusedMovingAvgObsFakeQuantize`` (what ``get_default_qat_qconfig`` gives
with ``version=1``) is this same module with its own qparams rule (see its docstring), not one
fused kernel; no ``FixedQParamsFakeQuantize`` nor ``_LearnableFakeQuantize``.
"""
from ... import _quantized as Q
from ... import _dtype as D
from ...nn.modules.module import Module
from .observer import (MovingAverageMinMaxObserver, MovingAveragePerChannelMinMaxObserver, _is_per_channel,
                       _is_per_tensor, _is_symmetric, _resize_buffers_from, _with_args)


class FakeQuantizeBase(Module):
    """The switches every fake-quantize module has: ``fake_quant_enabled`` and ``observer_enabled``
    (uint8 buffers of one element)."""

    def __init__(self):
        super().__init__()
        from ... import tensor
        self.register_buffer("fake_quant_enabled", tensor([1], dtype=D.uint8))
        self.register_buffer("observer_enabled", tensor([1], dtype=D.uint8))

    def enable_fake_quant(self, enabled=True):
        self.fake_quant_enabled[0] = 1 if enabled else 0

    def disable_fake_quant(self):
        self.enable_fake_quant(False)

    def enable_observer(self, enabled=True):
        self.observer_enabled[0] = 1 if enabled else 0

    def disable_observer(self):
        self.enable_observer(False)

    with_args = classmethod(_with_args)


class FakeQuantize(FakeQuantizeBase):
    """Observe, then fake-quantize with the observed qparams.

    Args:
        observer: the observer class (or ``with_args`` constructor); default MovingAverageMinMaxObserver.
        quant_min, quant_max: the integer range (else the dtype's).
        **observer_kwargs: passed to the observer (``dtype``, ``qscheme``, ``reduce_range``, ``ch_axis``...).

    Example::

        >>> import ttorch
        >>> from ttorch.ao.quantization import FakeQuantize
        >>> fq = FakeQuantize(quant_min=0, quant_max=255)
        >>> fq(ttorch.tensor([0.0, 0.5, 1.0])).tolist()
        [0.0, 0.49803924560546875, 1.0]
    """

    def __init__(self, observer=MovingAverageMinMaxObserver, quant_min=None, quant_max=None, is_dynamic=False,
                 **observer_kwargs):
        super().__init__()
        from ... import tensor
        if quant_min is not None and quant_max is not None:
            if not quant_min <= quant_max:
                raise AssertionError("quant_min must be less than or equal to quant_max")
            dtype = observer_kwargs.get("dtype", Q.quint8)
            dtype = getattr(observer, "keywords", {}).get("dtype", dtype)     # (a with_args partial)
            if not dtype.min <= quant_min:
                raise AssertionError("quant_min out of bound")
            if not quant_max <= dtype.max:
                raise AssertionError("quant_max out of bound")
            observer_kwargs.update({"quant_min": quant_min, "quant_max": quant_max})
        observer_kwargs["is_dynamic"] = is_dynamic
        self.activation_post_process = observer(**observer_kwargs)
        app = self.activation_post_process
        self.quant_min, self.quant_max, self.is_dynamic = app.quant_min, app.quant_max, app.is_dynamic
        zp_dtype = D.float32 if app.qscheme is Q.per_channel_affine_float_qparams else D.int32
        self.register_buffer("scale", tensor([1.0], dtype=D.float32))
        self.register_buffer("zero_point", tensor([0], dtype=zp_dtype))
        self.dtype = app.dtype
        self.qscheme = app.qscheme
        self.ch_axis = getattr(app, "ch_axis", -1)
        if not (_is_per_channel(self.qscheme) or _is_per_tensor(self.qscheme)):
            raise AssertionError("Only per channel and per tensor quantization are supported in fake quantize "
                                 f"got qscheme: {self.qscheme}")
        self.is_per_channel = _is_per_channel(self.qscheme)

    def calculate_qparams(self):
        return self.activation_post_process.calculate_qparams()

    def _fake_quant_qparams(self):
        """The qparams the forward fake-quantizes with (``FusedMovingAvgObsFakeQuantize``: the fused op's)."""
        return self.calculate_qparams()

    def _observe(self, X):
        self.activation_post_process(X.detach())
        s, z = self._fake_quant_qparams()
        s, z = s.to(self.scale.device), z.to(self.zero_point.device)
        if self.scale.shape != s.shape:
            self.scale = self.scale.new_empty(s.shape)          # (buffers: the assignment keeps them registered)
            self.zero_point = self.zero_point.new_empty(z.shape)
        self.scale.copy_(s)
        self.zero_point.copy_(z)

    def forward(self, X):
        import ttorch
        if int(self.observer_enabled[0]) == 1:
            self._observe(X)
        if int(self.fake_quant_enabled[0]) == 1:
            app = self.activation_post_process
            if self.is_per_channel:
                X = ttorch.fake_quantize_per_channel_affine(X, self.scale, self.zero_point, self.ch_axis,
                                                            app.quant_min, app.quant_max)
            else:
                X = ttorch.fake_quantize_per_tensor_affine(X, self.scale, self.zero_point, app.quant_min,
                                                           app.quant_max)
        return X

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        _resize_buffers_from(self, ("scale", "zero_point"), state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def extra_repr(self):
        app = self.activation_post_process
        return (f"fake_quant_enabled={self.fake_quant_enabled}, observer_enabled={self.observer_enabled}, "
                f"quant_min={app.quant_min}, quant_max={app.quant_max}, dtype={self.dtype}, qscheme={self.qscheme}, "
                f"ch_axis={self.ch_axis}, scale={self.scale}, zero_point={self.zero_point}")


def _choose_qparams(mn, mx, qmin, qmax, preserve_sparsity, float32_scale=True):
    """PyTorch's C++ ``ChooseQuantizationParams`` (float min and max in, (scale, zero_point) out), which its
    fused observe-and-fake-quantize op uses instead of the observers' Python formula."""
    import numpy as np
    mn, mx = np.float32(mn), np.float32(mx)
    if mn < 0 and mx > 0 and preserve_sparsity:
        sq_min, sq_max = -((qmax - qmin) // 2 + 1), (qmax - qmin) // 2
        max_scale = max(abs(float(mn) / sq_min), abs(float(mx) / sq_max))
        mn, mx = np.float32(max_scale * sq_min), np.float32(max_scale * sq_max)
    mn, mx = min(mn, np.float32(0)), max(mx, np.float32(0))
    scale = (float(mx) - float(mn)) / (qmax - qmin)
    if np.float32(scale) == 0 or np.isinf(np.float32(1) / np.float32(scale)):
        scale = 0.1
    if scale < np.float32(6.1e-5):
        org, scale = scale, float(np.float32(6.1e-5))
        if mn == 0:
            mx = np.float32(scale * (qmax - qmin))
        elif mx == 0:
            mn = np.float32(-scale * (qmax - qmin))
        else:
            amp = np.float32(np.float32(6.1e-5) / np.float32(org))
            mn, mx = mn * amp, mx * amp
    z_min, z_max = qmin - float(mn) / scale, qmax - float(mx) / scale
    e_min, e_max = abs(qmin) - abs(float(mn) / scale), abs(qmax) - abs(float(mx) / scale)
    z0 = z_min if e_min < e_max else z_max
    if mn < 0 and mx > 0 and preserve_sparsity:
        z0 = (qmin + qmax) / 2
    z = qmin if z0 < qmin else qmax if z0 > qmax else int(np.rint(z0))
    return (float(np.float32(scale)) if float32_scale else float(scale)), z   # (ATen's quant_utils: a double)


class FusedMovingAvgObsFakeQuantize(FakeQuantize):
    """``FakeQuantize`` with a moving-average min/max observer whose qparams follow PyTorch's fused op
    (``torch.fused_moving_avg_obs_fake_quant``): C++'s ``ChooseQuantizationParams`` (scale from the
    range in double precision, at least 6.1e-5; the zero point from the end with the smaller error;
    symmetric schemes keep zero at the range's middle) rather than the observer's Python formula.
    ``calculate_qparams`` (what ``convert`` reads) is the observer's, as PyTorch's."""

    def __init__(self, observer=MovingAverageMinMaxObserver, quant_min=0, quant_max=255, **observer_kwargs):
        super().__init__(observer, quant_min, quant_max, **observer_kwargs)
        self.is_symmetric_quant = _is_symmetric(self.activation_post_process.qscheme)

    def _fake_quant_qparams(self):
        import ttorch
        app = self.activation_post_process
        mins, maxs = app.min_val.reshape(-1).tolist(), app.max_val.reshape(-1).tolist()
        qp = [_choose_qparams(a, b, app.quant_min, app.quant_max, self.is_symmetric_quant) for a, b in zip(mins, maxs)]
        dev = app.min_val.device
        return (ttorch.tensor([s for s, _ in qp], dtype=D.float32, device=dev),
                ttorch.tensor([z for _, z in qp], dtype=D.int32, device=dev))

    def extra_repr(self):
        app = self.activation_post_process
        return (f"fake_quant_enabled={self.fake_quant_enabled}, observer_enabled={self.observer_enabled}, "
                f"scale={self.scale}, zero_point={self.zero_point}, dtype={self.dtype}, quant_min={app.quant_min}, "
                f"quant_max={app.quant_max}, qscheme={self.qscheme}, reduce_range={app.reduce_range}")


def disable_fake_quant(mod):
    """``model.apply(disable_fake_quant)``: turn fake quantization off in every FakeQuantize."""
    if isinstance(mod, FakeQuantizeBase):
        mod.disable_fake_quant()


def enable_fake_quant(mod):
    if isinstance(mod, FakeQuantizeBase):
        mod.enable_fake_quant()


def disable_observer(mod):
    """``model.apply(disable_observer)``: freeze every FakeQuantize's qparams."""
    if isinstance(mod, FakeQuantizeBase):
        mod.disable_observer()


def enable_observer(mod):
    if isinstance(mod, FakeQuantizeBase):
        mod.enable_observer()


default_fake_quant = FakeQuantize.with_args(observer=MovingAverageMinMaxObserver, quant_min=0, quant_max=255,
                                            dtype=Q.quint8, qscheme=Q.per_tensor_affine, reduce_range=True)
default_weight_fake_quant = FakeQuantize.with_args(observer=MovingAverageMinMaxObserver, quant_min=-128, quant_max=127,
                                                   dtype=Q.qint8, qscheme=Q.per_tensor_symmetric, reduce_range=False)
default_per_channel_weight_fake_quant = FakeQuantize.with_args(
    observer=MovingAveragePerChannelMinMaxObserver, quant_min=-128, quant_max=127, dtype=Q.qint8,
    qscheme=Q.per_channel_symmetric, reduce_range=False, ch_axis=0)
default_fused_act_fake_quant = FusedMovingAvgObsFakeQuantize.with_args(
    observer=MovingAverageMinMaxObserver, quant_min=0, quant_max=255, dtype=Q.quint8)
default_fused_wt_fake_quant = FusedMovingAvgObsFakeQuantize.with_args(
    observer=MovingAverageMinMaxObserver, quant_min=-128, quant_max=127, dtype=Q.qint8,
    qscheme=Q.per_tensor_symmetric)
default_fused_per_channel_wt_fake_quant = FusedMovingAvgObsFakeQuantize.with_args(
    observer=MovingAveragePerChannelMinMaxObserver, quant_min=-128, quant_max=127, dtype=Q.qint8,
    qscheme=Q.per_channel_symmetric)
