"""``fuse_modules``: replace module sequences by one fused module (the others become ``nn.Identity``)
before ``prepare_qat``: Linear+ReLU -> LinearReLU, Conv2d+ReLU -> ConvReLU2d; in eval mode Conv2d+BN(+ReLU)
and Linear+BN fold the batch norm into the layer.

Difference from PyTorch: conv-bn in training mode (PyTorch's ConvBn2d, which simulates the folding
during QAT) is not provided and raises.
"""
import copy

from ...nn.modules.activation import ReLU
from ...nn.modules.batchnorm import BatchNorm1d, BatchNorm2d
from ...nn.modules.conv import Conv2d
from ...nn.modules.flatten import Identity
from ...nn.modules.linear import Linear
from ...nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval
from ..nn import intrinsic as nni


def fuse_known_modules(mod_list, is_qat=False, additional_fuser_method_mapping=None):
    """The fused module of ``mod_list``, then ``nn.Identity()`` for each other entry."""
    types = tuple(type(m) for m in mod_list)
    first = mod_list[0]
    if types == (Linear, ReLU):
        fused = nni.LinearReLU(*mod_list)
    elif types == (Conv2d, ReLU):
        fused = nni.ConvReLU2d(*mod_list)
    elif types in ((Conv2d, BatchNorm2d), (Conv2d, BatchNorm2d, ReLU), (Linear, BatchNorm1d)):
        if first.training or is_qat:
            raise NotImplementedError(f"Cannot fuse train modules: {types} (ttorch has no ConvBn QAT modules)")
        folded = fuse_linear_bn_eval(first, mod_list[1]) if types[0] is Linear else fuse_conv_bn_eval(*mod_list[:2])
        fused = nni.ConvReLU2d(folded, mod_list[2]) if len(types) == 3 else folded
    else:
        raise NotImplementedError(f"Cannot fuse modules: {types}")
    return [fused] + [Identity() for _ in mod_list[1:]]


def _get(model, name):
    for part in name.split("."):
        model = getattr(model, part)
    return model


def _set(model, name, value):
    *path, last = name.split(".")
    for part in path:
        model = getattr(model, part)
    setattr(model, last, value)


def fuse_modules(model, modules_to_fuse, inplace=False, fuser_func=fuse_known_modules, fuse_custom_config_dict=None):
    """Fuse each list of dotted module names in ``modules_to_fuse`` (or one list).

    Example::

        >>> import ttorch
        >>> from ttorch.ao.quantization import fuse_modules
        >>> m = ttorch.nn.Sequential(ttorch.nn.Linear(4, 3), ttorch.nn.ReLU())
        >>> type(fuse_modules(m, ["0", "1"])[0]).__name__
        'LinearReLU'
    """
    if not inplace:
        model = copy.deepcopy(model)
    groups = modules_to_fuse if all(isinstance(g, (list, tuple)) for g in modules_to_fuse) else [modules_to_fuse]
    for names in groups:
        fused = fuser_func([_get(model, n) for n in names], False)
        for n, m in zip(names, fused):
            _set(model, n, m)
    return model
