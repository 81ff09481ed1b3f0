"""Weight normalization (Salimans and Kingma, 2016): ``w = g * v / ||v||``, the norm taken over every
dim but ``dim``. ``weight_norm`` is PyTorch's hook form (``weight_g`` and ``weight_v`` parameters, the
weight recomputed before each forward), deprecated there in favor of
``ttorch.nn.utils.parametrizations.weight_norm``; both compute ``ttorch._weight_norm``.
Composed of ttorch ops: no kernel of its own, gradients through the ops, on both devices.
"""
import warnings

from ..parameter import Parameter
from ._hooks import find_hook, remove_hook
from ... import autograd


def norm_except_dim(v, pow=2, dim=0):
    """The ``pow``-norm of ``v`` over every dim but ``dim``, kept as size-1 dims (``g``'s shape);
    ``dim=-1``: the norm of the whole tensor (a 0-dim tensor), as in PyTorch, not the last dim's.

    Example::

        >>> import ttorch
        >>> ttorch.norm_except_dim(ttorch.tensor([[3.0, 4.0], [0.0, 1.0]]), 2, 0).flatten().tolist()
        [5.0, 1.0]
    """
    if dim == -1:
        return v.norm(pow)
    if dim == 0:
        return v.contiguous().view(v.size(0), -1).norm(pow, dim=1).view(v.size(0), *[1] * (v.dim() - 1))
    if dim == v.dim() - 1:
        return v.contiguous().view(-1, v.size(-1)).norm(pow, dim=0).view(*[1] * (v.dim() - 1), v.size(-1))
    return norm_except_dim(v.transpose(0, dim), pow, 0).transpose(0, dim)


def _weight_norm(v, g, dim=0):
    """``v * (g / norm_except_dim(v, 2, dim))``: the weight that ``g`` (magnitudes) and ``v``
    (directions) stand for."""
    return v * (g / norm_except_dim(v, 2, dim))


class WeightNorm:
    """The forward pre-hook that ``weight_norm`` registers: it sets ``module.<name>`` from
    ``<name>_g`` and ``<name>_v`` before each call."""

    def __init__(self, name, dim):
        self.name = name
        self.dim = -1 if dim is None else dim

    def compute_weight(self, module):
        return _weight_norm(getattr(module, self.name + "_v"), getattr(module, self.name + "_g"), self.dim)

    @staticmethod
    def apply(module, name, dim):
        if find_hook(module, WeightNorm, name)[1] is not None:
            raise RuntimeError(f"Cannot register two weight_norm hooks on the same parameter {name}")
        fn = WeightNorm(name, dim)
        weight = getattr(module, name)
        del module._parameters[name]
        module.register_parameter(name + "_g", Parameter(norm_except_dim(weight, 2, fn.dim).data))
        module.register_parameter(name + "_v", Parameter(weight.data))
        setattr(module, name, fn.compute_weight(module))
        module.register_forward_pre_hook(fn)
        return fn

    def remove(self, module):
        with autograd.no_grad():
            weight = self.compute_weight(module)
        delattr(module, self.name)
        del module._parameters[self.name + "_g"]
        del module._parameters[self.name + "_v"]
        setattr(module, self.name, Parameter(weight.data))

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute_weight(module))


def weight_norm(module, name="weight", dim=0):
    """Reparametrize ``module.<name>`` as ``<name>_g * <name>_v / ||<name>_v||`` (norm over every dim but
    ``dim``; ``dim=None``: over all). The two become parameters; the weight is recomputed before each
    forward. Deprecated in PyTorch (a FutureWarning, as there) for
    ``ttorch.nn.utils.parametrizations.weight_norm``.

    Example::

        >>> import warnings, ttorch
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     m = ttorch.nn.utils.weight_norm(ttorch.nn.Linear(20, 40), name="weight")
        >>> m.weight_g.shape, m.weight_v.shape
        (ttorch.Size([40, 1]), ttorch.Size([40, 20]))
    """
    warnings.warn("`torch.nn.utils.weight_norm` is deprecated in favor of "
                  "`torch.nn.utils.parametrizations.weight_norm`.", FutureWarning, stacklevel=2)
    WeightNorm.apply(module, name, dim)
    return module


def remove_weight_norm(module, name="weight"):
    """Undo ``weight_norm``: ``module.<name>`` becomes a parameter holding the current weight again."""
    return remove_hook(module, WeightNorm, name, f"weight_norm of '{name}' not found in {module}")
