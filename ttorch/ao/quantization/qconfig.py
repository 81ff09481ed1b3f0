"""``QConfig``: which observer or fake-quantize constructor watches a module's activations and
which its weights; ``get_default_qat_qconfig`` gives PyTorch's per backend.
"""
from collections import namedtuple

from .fake_quantize import (FakeQuantize, FusedMovingAvgObsFakeQuantize, default_fake_quant,
                            default_per_channel_weight_fake_quant, default_weight_fake_quant,
                            default_fused_per_channel_wt_fake_quant, default_fused_wt_fake_quant)
from .observer import MovingAverageMinMaxObserver


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

_BACKENDS = ["fbgemm", "x86", "qnnpack", "onednn"]


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


__all__ = ["QConfig", "default_qat_qconfig", "get_default_qat_qconfig"]
