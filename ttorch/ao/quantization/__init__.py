"""``ttorch.ao.quantization``: eager-mode quantization: post-training static (``prepare``, calibrate,
``convert``), dynamic (``quantize_dynamic``) and quantization-aware training (``prepare_qat``, ``convert``).

Observers, ``FakeQuantize``, ``QConfig``, ``QuantStub``/``DeQuantStub``, ``fuse_modules``, the module mappings
and the flows, with PyTorch's names and numerics; the converted models run ``ttorch.ao.nn.quantized`` modules
on int8 kernels.

Differences from PyTorch: no FX graph mode; dtypes and qschemes are the names in ``ttorch`` (``ttorch.qint8``,
``ttorch.per_channel_symmetric``...).
"""
from ..._quantized import (qint8, quint8, qint32, per_tensor_affine, per_channel_affine,  # noqa: F401
                           per_tensor_symmetric, per_channel_symmetric, per_channel_affine_float_qparams)
from .observer import (ObserverBase, UniformQuantizationObserverBase, MinMaxObserver,  # noqa: F401
                       MovingAverageMinMaxObserver, PerChannelMinMaxObserver, MovingAveragePerChannelMinMaxObserver,
                       default_observer, default_weight_observer, default_per_channel_weight_observer,
                       PlaceholderObserver, default_placeholder_observer, default_dynamic_quant_observer,
                       HistogramObserver, default_float_qparams_observer)
from .fake_quantize import (FakeQuantizeBase, FakeQuantize, FusedMovingAvgObsFakeQuantize,  # noqa: F401
                            default_fake_quant, default_weight_fake_quant, default_per_channel_weight_fake_quant,
                            default_fused_act_fake_quant, default_fused_wt_fake_quant,
                            default_fused_per_channel_wt_fake_quant, enable_fake_quant, disable_fake_quant,
                            enable_observer, disable_observer)
from .qconfig import (QConfig, default_qat_qconfig, get_default_qat_qconfig, default_qconfig,  # noqa: F401
                      default_per_channel_qconfig, default_dynamic_qconfig, per_channel_dynamic_qconfig,
                      get_default_qconfig, float_qparams_weight_only_qconfig)
from .stubs import QuantStub, DeQuantStub, QuantWrapper  # noqa: F401
from .quantize import (prepare, prepare_qat, propagate_qconfig_, swap_module, convert, quantize,  # noqa: F401
                       quantize_dynamic, quantize_qat, get_default_qconfig_propagation_list)
from .quantization_mappings import (get_default_qat_module_mappings,  # noqa: F401
                                    get_default_static_quant_module_mappings,
                                    get_default_dynamic_quant_module_mappings, get_static_quant_module_class,
                                    get_dynamic_quant_module_class, no_observer_set)
from .fuse_modules import fuse_modules, fuse_known_modules  # noqa: F401
from . import observer, fake_quantize, qconfig, stubs, quantization_mappings  # noqa: F401
# (``quantize`` is the function, as in PyTorch; the module stays ``sys.modules``' ttorch.ao.quantization.quantize)

__all__ = ["qint8", "quint8", "qint32", "per_tensor_affine", "per_channel_affine", "per_tensor_symmetric",
           "per_channel_symmetric", "per_channel_affine_float_qparams", "ObserverBase",
           "UniformQuantizationObserverBase", "MinMaxObserver", "MovingAverageMinMaxObserver",
           "PerChannelMinMaxObserver",
           "MovingAveragePerChannelMinMaxObserver", "default_observer", "default_weight_observer",
           "default_per_channel_weight_observer", "HistogramObserver", "PlaceholderObserver",
           "default_float_qparams_observer", "float_qparams_weight_only_qconfig",
           "default_placeholder_observer",
           "default_dynamic_quant_observer", "FakeQuantizeBase", "FakeQuantize", "FusedMovingAvgObsFakeQuantize",
           "default_fake_quant", "default_weight_fake_quant", "default_per_channel_weight_fake_quant",
           "default_fused_act_fake_quant", "default_fused_wt_fake_quant", "default_fused_per_channel_wt_fake_quant",
           "enable_fake_quant", "disable_fake_quant", "enable_observer", "disable_observer", "QConfig",
           "default_qconfig", "default_per_channel_qconfig", "default_dynamic_qconfig", "per_channel_dynamic_qconfig",
           "get_default_qconfig", "convert", "quantize", "quantize_dynamic", "quantize_qat",
           "get_default_static_quant_module_mappings", "get_default_dynamic_quant_module_mappings",
           "get_static_quant_module_class", "get_dynamic_quant_module_class", "no_observer_set",
           "quantization_mappings",
           "default_qat_qconfig", "get_default_qat_qconfig", "QuantStub", "DeQuantStub", "QuantWrapper", "prepare",
           "prepare_qat", "propagate_qconfig_", "swap_module", "get_default_qat_module_mappings",
           "get_default_qconfig_propagation_list", "fuse_modules", "fuse_known_modules", "observer", "fake_quantize",
           "qconfig", "stubs"]
