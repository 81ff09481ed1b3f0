"""``QConfig``: which observer or fake-quantize constructor watches a module's activations and
which its weights; ``get_default_qconfig`` and ``get_default_qat_qconfig`` give PyTorch's per backend.
"""
from collections import namedtuple

from .fake_quantize import (FakeQuantize, FusedMovingAvgObsFakeQuantize, default_fake_quant,
                            default_per_channel_weight_fake_quant, default_weight_fake_quant,
                            default_fused_per_channel_wt_fake_quant, default_fused_wt_fake_quant)
from .observer import (MovingAverageMinMaxObserver, HistogramObserver, default_observer, default_weight_observer,
                       default_per_channel_weight_observer, default_dynamic_quant_observer,
                       default_placeholder_observer, default_float_qparams_observer)


class QConfig(namedtuple("QConfig", ["activation", "weight"])):
    """A pair of constructors (classes or ``with_args`` partials, not instances): ``activation`` and
    ``weight``."""

    __slots__ = ()

    def __new__(cls, activation, weight):
        from ...nn.modules.module import Module
        if isinstance(activation, Module) or isinstance(weight, Module):
            raise ValueError("QConfig received observer instance, please pass observer class instead. "
                             "Use MyObserver.with_args(x=1) to override arguments to constructor if needed")
        return super().__new__(cls, activation, weight)


default_qat_qconfig = QConfig(activation=default_fake_quant, weight=default_weight_fake_quant)
default_qconfig = QConfig(activation=default_observer, weight=default_weight_observer)
default_per_channel_qconfig = QConfig(activation=default_observer, weight=default_per_channel_weight_observer)
default_dynamic_qconfig = QConfig(activation=default_dynamic_quant_observer, weight=default_weight_observer)
float_qparams_weight_only_qconfig = QConfig(activation=default_placeholder_observer,
                                            weight=default_float_qparams_observer)
per_channel_dynamic_qconfig = QConfig(activation=default_dynamic_quant_observer,
                                      weight=default_per_channel_weight_observer)

_BACKENDS = ["fbgemm", "x86", "qnnpack", "onednn"]


def get_default_qconfig(backend="x86", version=0):
    """PyTorch's default post-training qconfig for ``backend`` ("x86", "fbgemm", "qnnpack", "onednn"):
    quint8 activations observed by a ``HistogramObserver`` (``reduce_range`` on x86 and fbgemm) and qint8
    weights, per-channel symmetric (per-tensor for qnnpack).

    Example::

        >>> import ttorch
        >>> ttorch.ao.quantization.get_default_qconfig("x86").weight().qscheme
        ttorch.per_channel_symmetric
    """
    if backend not in _BACKENDS:
        raise AssertionError(f"backend: {backend} not supported. backend must be one of {_BACKENDS}")
    if version != 0:
        raise AssertionError("Version number: " + str(version) + " in get_default_qconfig is not supported. "
                             "Version number must be 0")
    if backend == "qnnpack":
        return QConfig(activation=HistogramObserver.with_args(reduce_range=False), weight=default_weight_observer)
    if backend == "onednn":
        return QConfig(activation=HistogramObserver.with_args(reduce_range=False),
                       weight=default_per_channel_weight_observer)
    return QConfig(activation=HistogramObserver.with_args(reduce_range=True),
                   weight=default_per_channel_weight_observer)


def get_default_qat_qconfig(backend="x86", version=1):
    """PyTorch's default QAT qconfig for ``backend`` ("x86", "fbgemm", "qnnpack", "onednn").

    ``version=1`` (the default): fused moving-average fake quantization, per-channel symmetric qint8
    weights (per-tensor for qnnpack), quint8 activations with ``reduce_range`` on x86 and fbgemm;
    ``version=0``: the same with ``FakeQuantize``.
    """
    if backend not in _BACKENDS:
        raise AssertionError(f"backend: {backend} not supported. backend must be one of {_BACKENDS}")
    reduce = backend in ("fbgemm", "x86")
    if version == 0:
        if backend == "qnnpack":
            return QConfig(activation=FakeQuantize.with_args(observer=MovingAverageMinMaxObserver, quant_min=0,
                                                             quant_max=255, reduce_range=False),
                           weight=default_weight_fake_quant)
        if backend == "onednn":
            return QConfig(activation=FakeQuantize.with_args(observer=MovingAverageMinMaxObserver, quant_min=0,
                                                             quant_max=255),
                           weight=default_per_channel_weight_fake_quant)
        return QConfig(activation=FakeQuantize.with_args(observer=MovingAverageMinMaxObserver, quant_min=0,
                                                         quant_max=255, reduce_range=reduce),
                       weight=default_per_channel_weight_fake_quant)
    if version != 1:
        raise AssertionError("Version number: " + str(version) + "in get_default_qat_qconfig is not supported. "
                             "Version number must be 0 or 1")
    if backend == "qnnpack":
        return QConfig(activation=FusedMovingAvgObsFakeQuantize.with_args(observer=MovingAverageMinMaxObserver,
                                                                          quant_min=0, quant_max=255,
                                                                          reduce_range=False),
                       weight=default_fused_wt_fake_quant)
    if backend == "onednn":
        return QConfig(activation=FusedMovingAvgObsFakeQuantize.with_args(observer=MovingAverageMinMaxObserver,
                                                                          quant_min=0, quant_max=255),
                       weight=default_fused_per_channel_wt_fake_quant)
    return QConfig(activation=FusedMovingAvgObsFakeQuantize.with_args(observer=MovingAverageMinMaxObserver,
                                                                      quant_min=0, quant_max=255, reduce_range=reduce),
                   weight=default_fused_per_channel_wt_fake_quant)


__all__ = ["QConfig", "default_qat_qconfig", "get_default_qat_qconfig", "default_qconfig",
           "default_per_channel_qconfig", "default_dynamic_qconfig", "per_channel_dynamic_qconfig",
           "get_default_qconfig", "float_qparams_weight_only_qconfig"]
