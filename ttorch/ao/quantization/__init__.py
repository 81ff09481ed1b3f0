"""``ttorch.ao.quantization``: eager-mode quantization-aware training with fake quantization.

Observers, ``FakeQuantize``, ``QConfig``, ``QuantStub``/``DeQuantStub``, ``fuse_modules`` and
``prepare_qat``, with PyTorch's names and numerics.

Differences from PyTorch: no ``convert``/``prepare`` to int8 modules nor quantized kernels (QAT with
fake quantization only), no FX graph mode, no HistogramObserver; dtypes and qschemes are the names in
``ttorch`` (``ttorch.qint8``, ``ttorch.per_channel_symmetric``...).
"""
from ..._quantized import (qint8, quint8, qint32, per_tensor_affine, per_channel_affine,  # noqa: F401
                           per_tensor_symmetric, per_channel_symmetric, per_channel_affine_float_qparams)
from .observer import (ObserverBase, UniformQuantizationObserverBase, MinMaxObserver,  # noqa: F401
                       MovingAverageMinMaxObserver, PerChannelMinMaxObserver, MovingAveragePerChannelMinMaxObserver,
                       default_observer, default_weight_observer, default_per_channel_weight_observer)
from .fake_quantize import (FakeQuantizeBase, FakeQuantize, FusedMovingAvgObsFakeQuantize,  # noqa: F401
                            default_fake_quant, default_weight_fake_quant, default_per_channel_weight_fake_quant,
                            default_fused_act_fake_quant, default_fused_wt_fake_quant,
                            default_fused_per_channel_wt_fake_quant, enable_fake_quant, disable_fake_quant,
                            enable_observer, disable_observer)
from .qconfig import QConfig, default_qat_qconfig, get_default_qat_qconfig  # noqa: F401
from .stubs import QuantStub, DeQuantStub, QuantWrapper  # noqa: F401
from .quantize import (prepare, prepare_qat, propagate_qconfig_, swap_module,  # noqa: F401
                       get_default_qat_module_mappings, get_default_qconfig_propagation_list)
from .fuse_modules import fuse_modules, fuse_known_modules  # noqa: F401
from . import observer, fake_quantize, qconfig, quantize, stubs  # noqa: F401

__all__ = ["qint8", "quint8", "qint32", "per_tensor_affine", "per_channel_affine", "per_tensor_symmetric",
           "per_channel_symmetric", "per_channel_affine_float_qparams", "ObserverBase",
           "UniformQuantizationObserverBase", "MinMaxObserver", "MovingAverageMinMaxObserver",
           "PerChannelMinMaxObserver",
           "MovingAveragePerChannelMinMaxObserver", "default_observer", "default_weight_observer",
           "default_per_channel_weight_observer", "FakeQuantizeBase", "FakeQuantize", "FusedMovingAvgObsFakeQuantize",
           "default_fake_quant", "default_weight_fake_quant", "default_per_channel_weight_fake_quant",
           "default_fused_act_fake_quant", "default_fused_wt_fake_quant", "default_fused_per_channel_wt_fake_quant",
           "enable_fake_quant", "disable_fake_quant", "enable_observer", "disable_observer", "QConfig",
           "default_qat_qconfig", "get_default_qat_qconfig", "QuantStub", "DeQuantStub", "QuantWrapper", "prepare",
           "prepare_qat", "propagate_qconfig_", "swap_module", "get_default_qat_module_mappings",
           "get_default_qconfig_propagation_list", "fuse_modules", "fuse_known_modules", "observer", "fake_quantize",
           "qconfig", "quantize", "stubs"]
