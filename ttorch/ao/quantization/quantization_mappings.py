"""Which module ``convert`` (and ``prepare_qat``, ``quantize_dynamic``) swaps each module type for: PyTorch's
default mappings, for the module types ttorch quantizes.

Difference from PyTorch: the mappings hold only the modules ttorch has quantized versions of (no BatchNorm,
norms, Conv3d, transposed convolutions, EmbeddingBag, the recurrent cells, fused BN-ReLU).
"""
import copy

from ...nn.modules.activation import ReLU6, LeakyReLU, Hardswish
from ...nn.modules.conv import Conv1d, Conv2d
from ...nn.modules.dropout import Dropout
from ...nn.modules.linear import Linear
from ...nn.modules.rnn import LSTM, GRU
from ...nn.modules.sparse import Embedding
from ..nn import intrinsic as nni, qat as nnqat, quantized as nnq
from ..nn.intrinsic import qat as nniqat, quantized as nniq
from ..nn.intrinsic.quantized import dynamic as nniqd
from ..nn.quantized import dynamic as nnqd
from .stubs import DeQuantStub, QuantStub

DEFAULT_STATIC_QUANT_MODULE_MAPPINGS = {
    QuantStub: nnq.Quantize, DeQuantStub: nnq.DeQuantize, Conv1d: nnq.Conv1d, Conv2d: nnq.Conv2d,
    Dropout: nnq.Dropout, Embedding: nnq.Embedding, Hardswish: nnq.Hardswish, LeakyReLU: nnq.LeakyReLU,
    Linear: nnq.Linear, ReLU6: nnq.ReLU6, nnq.FloatFunctional: nnq.QFunctional, nni.ConvReLU2d: nniq.ConvReLU2d,
    nni.LinearReLU: nniq.LinearReLU, nniqat.ConvReLU2d: nniq.ConvReLU2d, nniqat.LinearReLU: nniq.LinearReLU,
    nnqat.Linear: nnq.Linear, nnqat.Conv2d: nnq.Conv2d,
}
DEFAULT_QAT_MODULE_MAPPINGS = {Linear: nnqat.Linear, Conv2d: nnqat.Conv2d, nni.LinearReLU: nniqat.LinearReLU,
                               nni.ConvReLU2d: nniqat.ConvReLU2d}
DEFAULT_DYNAMIC_QUANT_MODULE_MAPPINGS = {Linear: nnqd.Linear, nni.LinearReLU: nniqd.LinearReLU, LSTM: nnqd.LSTM,
                                         GRU: nnqd.GRU}
# module types that are not swapped but whose qconfig still propagates
_INCLUDE_QCONFIG_PROPAGATE_LIST = set()


def get_default_static_quant_module_mappings():
    """Float (or observed, or QAT) module type -> its quantized module type, for ``convert``."""
    return copy.deepcopy(DEFAULT_STATIC_QUANT_MODULE_MAPPINGS)


def get_default_qat_module_mappings():
    """Float module type -> its QAT module type."""
    return copy.deepcopy(DEFAULT_QAT_MODULE_MAPPINGS)


def get_default_dynamic_quant_module_mappings():
    """Float module type -> its dynamically quantized module type, for ``quantize_dynamic``."""
    return DEFAULT_DYNAMIC_QUANT_MODULE_MAPPINGS


def get_default_static_quant_module_mappings_keys():
    return set(DEFAULT_STATIC_QUANT_MODULE_MAPPINGS)


def get_static_quant_module_class(float_module_class, additional_static_quant_mapping=None, is_reference=False):
    """The quantized class of ``float_module_class``."""
    mapping = dict(DEFAULT_STATIC_QUANT_MODULE_MAPPINGS, **(additional_static_quant_mapping or {}))
    cls = mapping.get(float_module_class)
    if cls is None:
        raise AssertionError(f"Floating point module class {float_module_class} does not have a corresponding "
                             "quantized module class")
    return copy.deepcopy(cls)


def get_dynamic_quant_module_class(float_module_class, additional_dynamic_quant_mapping=None):
    mapping = dict(DEFAULT_DYNAMIC_QUANT_MODULE_MAPPINGS, **(additional_dynamic_quant_mapping or {}))
    cls = mapping.get(float_module_class)
    if cls is None:
        raise AssertionError(f"Floating point module class {float_module_class} does not have a corresponding "
                             "quantized module class")
    return copy.deepcopy(cls)


def no_observer_set():
    """Module types that get no output observer (only their input is quantized)."""
    return set()


__all__ = ["DEFAULT_STATIC_QUANT_MODULE_MAPPINGS", "DEFAULT_QAT_MODULE_MAPPINGS",
           "DEFAULT_DYNAMIC_QUANT_MODULE_MAPPINGS", "get_default_static_quant_module_mappings",
           "get_default_qat_module_mappings", "get_default_dynamic_quant_module_mappings",
           "get_static_quant_module_class", "get_dynamic_quant_module_class", "no_observer_set"]
