"""Eager-mode QAT preparation, PyTorch's ``prepare_qat``: propagate each module's ``qconfig`` to its
children, swap float modules for their QAT versions (``nn.Linear`` -> ``ao.nn.qat.Linear``...), and
give every leaf module with a qconfig an ``activation_post_process`` (the qconfig's activation
fake-quantizer) called by a forward hook on its output (registered first, as PyTorch does).

Difference from PyTorch: ``convert`` (to int8 quantized modules) is not provided: there are no
quantized kernels here. After QAT, read each module's ``scale``/``zero_point`` and
``weight_fake_quant`` to export.
"""
import copy

from ...nn.modules.activation import ReLU6, LeakyReLU, Hardswish, ELU
from ...nn.modules.batchnorm import BatchNorm2d
from ...nn.modules.container import Sequential
from ...nn.modules.conv import Conv1d, Conv2d, Conv3d
from ...nn.modules.dropout import Dropout
from ...nn.modules.linear import Linear
from ...nn.modules.normalization import LayerNorm
from ..nn import intrinsic as nni, qat as nnqat
from ..nn.intrinsic import qat as nniqat
from .stubs import DeQuantStub, QuantStub

_QAT_MAPPINGS = {Linear: nnqat.Linear, Conv2d: nnqat.Conv2d, nni.LinearReLU: nniqat.LinearReLU,
                 nni.ConvReLU2d: nniqat.ConvReLU2d}
# the module types that get a qconfig and an output observer (PyTorch's propagation list: modules with a
# quantized or QAT version; plain ReLU has none and is not observed)
_PROPAGATE = (set(_QAT_MAPPINGS) | set(_QAT_MAPPINGS.values())
              | {QuantStub, DeQuantStub, Conv1d, Conv3d, BatchNorm2d, ReLU6, LeakyReLU, Hardswish, ELU, LayerNorm,
                 Dropout, Sequential})


def get_default_qat_module_mappings():
    """Float module type -> its QAT module type."""
    return dict(_QAT_MAPPINGS)


def get_default_qconfig_propagation_list():
    return set(_PROPAGATE)


def propagate_qconfig_(module, qconfig_dict=None, prepare_custom_config_dict=None):
    """Give every submodule a ``qconfig`` attribute: its own, else its parent's (``qconfig_dict``: by type
    or dotted name)."""
    qconfig_dict = qconfig_dict or {}

    def walk(m, parent_qconfig, prefix):
        qc = qconfig_dict.get(type(m), parent_qconfig)
        qc = qconfig_dict.get(prefix, qc)
        qc = getattr(m, "qconfig", qc)
        m.qconfig = qc
        for name, child in m.named_children():
            walk(child, qc, prefix + "." + name if prefix else name)

    walk(module, None, "")


def _observer_forward_hook(self, input, output):
    return self.activation_post_process(output)


def _add_observer_(module, non_leaf_module_list=()):
    def needs(m):
        return getattr(m, "qconfig", None) is not None

    def insert(m):
        if needs(m) and not isinstance(m, DeQuantStub):
            m.add_module("activation_post_process", m.qconfig.activation())
            m.register_forward_hook(_observer_forward_hook, prepend=True)

    for child in module.children():
        if type(child) is Dropout:
            continue
        if isinstance(child, nni._FusedModule) or type(child) in non_leaf_module_list:
            insert(child)
        else:
            _add_observer_(child, non_leaf_module_list)
    if not any(True for _ in module.children()) and not isinstance(module, Sequential) and type(module) in _PROPAGATE:
        insert(module)


def prepare(model, inplace=False, allow_list=None, observer_non_leaf_module_list=None,
            prepare_custom_config_dict=None):
    """Attach observers (the qconfig's activation constructor) to the leaf modules with a qconfig."""
    if not inplace:
        model = copy.deepcopy(model)
    propagate_qconfig_(model)
    _add_observer_(model, tuple(observer_non_leaf_module_list or ()))
    return model


def swap_module(mod, mapping):
    """``mapping[type(mod)].from_float(mod)`` when ``mod`` has a qconfig, keeping its hooks; else ``mod``."""
    if getattr(mod, "qconfig", None) is None or type(mod) not in mapping:
        return mod
    new = mapping[type(mod)].from_float(mod)
    for hook in mod._forward_pre_hooks.values():
        new.register_forward_pre_hook(hook)
    for hook in mod._forward_hooks.values():
        if hook is not _observer_forward_hook:
            new.register_forward_hook(hook)
    return new


def _convert(module, mapping):
    for name, child in list(module.named_children()):
        if not isinstance(child, nni._FusedModule) or type(child) not in mapping:
            _convert(child, mapping)
        module._modules[name] = swap_module(child, mapping)


def prepare_qat(model, mapping=None, inplace=False):
    """Prepare ``model`` (in training mode, with ``qconfig`` set on it or its submodules) for QAT.

    Swaps the modules in ``mapping`` (default: Linear, Conv2d and the fused LinearReLU/ConvReLU2d) for
    their QAT versions and attaches output fake-quantizers. Returns the prepared model (a deep copy
    unless ``inplace``).

    Example::

        >>> import ttorch
        >>> from ttorch.ao.quantization import get_default_qat_qconfig, prepare_qat
        >>> m = ttorch.nn.Sequential(ttorch.nn.Linear(4, 3))
        >>> m.qconfig = get_default_qat_qconfig("x86")
        >>> type(prepare_qat(m)[0]).__module__
        'ttorch.ao.nn.qat'
    """
    if not model.training:
        raise AssertionError("prepare_qat only works on models in training mode")
    if mapping is None:
        mapping = get_default_qat_module_mappings()
    if not inplace:
        model = copy.deepcopy(model)
    propagate_qconfig_(model)
    _convert(model, mapping)
    prepare(model, observer_non_leaf_module_list=set(mapping.values()), inplace=True)
    return model
