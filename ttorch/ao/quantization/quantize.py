"""Eager-mode quantization, PyTorch's flow: ``propagate_qconfig_`` gives each module its ``qconfig`` (its own, else
its parent's); ``prepare`` (static post-training quantization) and ``prepare_qat`` attach an
``activation_post_process`` (the qconfig's activation observer or fake-quantizer) called by a forward hook on
each leaf module's output; ``convert`` swaps the observed (or QAT) modules for their quantized versions
(``ttorch.ao.nn.quantized``: ``from_float`` reads the observers) and removes observers and qconfigs;
``quantize``, ``quantize_qat`` and ``quantize_dynamic`` run the whole flow.

Difference from PyTorch: only the module types in ``quantization_mappings`` are swapped (see there); no custom
module classes (``convert_custom_config_dict``), no reference (``is_reference``) modules.
"""
import copy

import inspect

from ...nn.modules.activation import ReLU6, LeakyReLU, Hardswish, ELU
from ...nn.modules.batchnorm import BatchNorm2d
from ...nn.modules.container import Sequential
from ...nn.modules.conv import Conv1d, Conv3d
from ...nn.modules.dropout import Dropout
from ...nn.modules.linear import Linear
from ...nn.modules.normalization import LayerNorm
from ...nn.modules.rnn import LSTM, GRU
from ..nn import intrinsic as nni, quantized as nnq
from .quantization_mappings import (DEFAULT_QAT_MODULE_MAPPINGS, DEFAULT_STATIC_QUANT_MODULE_MAPPINGS,
                                    DEFAULT_DYNAMIC_QUANT_MODULE_MAPPINGS, get_default_qat_module_mappings,
                                    get_default_static_quant_module_mappings,
                                    get_default_dynamic_quant_module_mappings)
from .stubs import DeQuantStub, QuantStub

# the module types that get a qconfig and an output observer (PyTorch's propagation list: modules with a
# quantized or QAT version; plain ReLU has none and is not observed)
_PROPAGATE = (set(DEFAULT_QAT_MODULE_MAPPINGS) | set(DEFAULT_QAT_MODULE_MAPPINGS.values())
              | set(DEFAULT_STATIC_QUANT_MODULE_MAPPINGS) | set(DEFAULT_DYNAMIC_QUANT_MODULE_MAPPINGS)
              | {QuantStub, DeQuantStub, Conv1d, Conv3d, BatchNorm2d, ReLU6, LeakyReLU, Hardswish, ELU, LayerNorm,
                 Dropout, Sequential})


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
        if isinstance(child, (nnq.FloatFunctional, nnq.QFunctional)):   # its ops call the observer themselves
            if needs(child):
                child.activation_post_process = child.qconfig.activation()
        elif isinstance(child, nni._FusedModule) or type(child) in non_leaf_module_list:
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


def swap_module(mod, mapping, custom_module_class_mapping=None, use_precomputed_fake_quant=False):
    """``mapping[type(mod)].from_float(mod)`` when ``mod`` has a qconfig, keeping its hooks (not the observer's);
    else ``mod``."""
    if getattr(mod, "qconfig", None) is None or type(mod) not in mapping:
        return mod
    qmod = mapping[type(mod)]
    if "use_precomputed_fake_quant" in inspect.signature(qmod.from_float).parameters:
        new = qmod.from_float(mod, use_precomputed_fake_quant=use_precomputed_fake_quant)
    else:
        new = qmod.from_float(mod)
    for hook in mod._forward_pre_hooks.values():
        new.register_forward_pre_hook(hook)
    for hook in mod._forward_hooks.values():
        if hook is not _observer_forward_hook:
            new.register_forward_hook(hook)
    return new


def _convert(module, mapping, use_precomputed_fake_quant=False):
    for name, child in list(module.named_children()):
        if not isinstance(child, nni._FusedModule):     # a fused module is swapped as one unit
            _convert(child, mapping, use_precomputed_fake_quant)
        module._modules[name] = swap_module(child, mapping, None, use_precomputed_fake_quant)


def _is_activation_post_process(m):
    from .observer import ObserverBase
    from .fake_quantize import FakeQuantizeBase
    return isinstance(m, (ObserverBase, FakeQuantizeBase))


def _remove_qconfig(module):
    """Delete every ``qconfig``, observer (``activation_post_process``) and observer hook under ``module``."""
    for child in module.children():
        _remove_qconfig(child)
    if hasattr(module, "qconfig"):
        del module.qconfig
    if _is_activation_post_process(getattr(module, "activation_post_process", None)):
        delattr(module, "activation_post_process")
    for key, hook in list(module._forward_hooks.items()):
        if hook is _observer_forward_hook:
            del module._forward_hooks[key]


def convert(module, mapping=None, inplace=False, remove_qconfig=True, is_reference=False,
            convert_custom_config_dict=None, use_precomputed_fake_quant=False):
    """Swap each observed (``prepare``) or QAT (``prepare_qat``) module for its quantized version.

    Args:
        module: the prepared model, calibrated (or trained). mapping: module type -> quantized type
            (default ``get_default_static_quant_module_mappings()``). inplace: change ``module`` itself.
        remove_qconfig: delete the qconfigs and observers afterwards.

    Example::

        >>> import ttorch
        >>> from ttorch.ao.quantization import QuantWrapper, default_qconfig, prepare, convert
        >>> m = QuantWrapper(ttorch.nn.Linear(4, 2)).eval()
        >>> m.qconfig = default_qconfig
        >>> p = prepare(m)
        >>> _ = p(ttorch.randn(8, 4))
        >>> q = convert(p)
        >>> type(q.module).__name__, q(ttorch.randn(3, 4)).dtype
        ('Linear', ttorch.float32)
    """
    if is_reference:
        raise NotImplementedError("ttorch's convert has no reference quantized modules (is_reference=True)")
    if mapping is None:
        mapping = get_default_static_quant_module_mappings()
    if not inplace:
        module = copy.deepcopy(module)
    _convert(module, mapping, use_precomputed_fake_quant)
    if remove_qconfig:
        _remove_qconfig(module)
    return module


def quantize(model, run_fn, run_args, mapping=None, inplace=False):
    """Static post-training quantization: ``prepare`` the model (in eval mode), calibrate it with
    ``run_fn(model, *run_args)``, ``convert`` it."""
    if mapping is None:
        mapping = get_default_static_quant_module_mappings()
    if not inplace:
        model = copy.deepcopy(model)
    model.eval()
    prepare(model, inplace=True)
    run_fn(model, *run_args)
    convert(model, mapping, inplace=True)
    return model


def quantize_dynamic(model, qconfig_spec=None, dtype=None, mapping=None, inplace=False):
    """Dynamic quantization: int8 weights, activations quantized per call (``Linear`` -> ``nnqd.Linear``,
    ``LSTM``/``GRU`` -> ``nnqd.LSTM``/``nnqd.GRU``).

    Args:
        qconfig_spec: a set of module types (or dotted names), or a dict of them to qconfigs; default: every
            ``nn.Linear``, ``nn.LSTM`` and ``nn.GRU`` with ``default_dynamic_qconfig``. dtype: ``ttorch.qint8``.

    Example::

        >>> import ttorch
        >>> m = ttorch.ao.quantization.quantize_dynamic(ttorch.nn.Sequential(ttorch.nn.Linear(4, 2)))
        >>> type(m[0]).__name__
        'Linear'
    """
    import itertools
    from .qconfig import default_dynamic_qconfig
    from ... import _quantized as Q
    dtype = Q.qint8 if dtype is None else dtype
    if dtype is not Q.qint8:
        raise ValueError(f"Don't know how to quantize with default settings for {dtype}. Provide full qconfig "
                         "please (ttorch quantizes dynamically to qint8 only)")
    if qconfig_spec is None:
        qconfig_spec = {Linear: default_dynamic_qconfig, LSTM: default_dynamic_qconfig, GRU: default_dynamic_qconfig}
    elif isinstance(qconfig_spec, set):
        qconfig_spec = dict(zip(qconfig_spec, itertools.repeat(default_dynamic_qconfig)))
    if mapping is None:
        mapping = get_default_dynamic_quant_module_mappings()
    if not inplace:
        model = copy.deepcopy(model)
    propagate_qconfig_(model, qconfig_spec)
    convert(model, mapping, inplace=True)
    return model


def quantize_qat(model, run_fn, run_args, inplace=False):
    """Quantization-aware training: ``prepare_qat`` (train mode), train with ``run_fn(model, *run_args)``,
    ``convert``."""
    if not inplace:
        model = copy.deepcopy(model)
    model.train()
    prepare_qat(model, inplace=True)
    run_fn(model, *run_args)
    convert(model, inplace=True)
    return model


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
