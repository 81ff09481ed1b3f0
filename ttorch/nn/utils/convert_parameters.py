"""``parameters_to_vector`` and ``vector_to_parameters``: all parameters as one flat vector."""
import ttorch
from ..._tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def _check_param_device(param, old_param_device):
    """The device index of the parameters seen so far (-1: cpu); they must all share one device."""
    if old_param_device is None:
        return param.get_device() if param.is_cuda else -1
    warn = param.get_device() != old_param_device if param.is_cuda else old_param_device != -1
    if warn:
        raise TypeError("Found two parameters on different devices, this is currently not supported.")
    return old_param_device


def parameters_to_vector(parameters):
    r"""Flatten ``parameters`` into one vector (differentiable; parameters in iteration order).

    Example::

        >>> parameters_to_vector([ttorch.ones(2, 2), ttorch.zeros(1)])
        tensor([1., 1., 1., 1., 0.])
    """
    param_device = None
    vec = []
    for param in parameters:
        param_device = _check_param_device(param, param_device)
        vec.append(param.view(-1))
    return ttorch.cat(vec)


def vector_to_parameters(vec, parameters):
    r"""Copy slices of the flat ``vec`` into ``parameters`` (their ``.data`` becomes views of ``vec``)."""
    if not isinstance(vec, Tensor):
        from ..modules.module import _typename
        raise TypeError(f"expected torch.Tensor, but got: {_typename(vec)}")
    param_device = None
    pointer = 0
    for param in parameters:
        param_device = _check_param_device(param, param_device)
        num_param = param.numel()
        param.data = vec[pointer:pointer + num_param].view_as(param).data
        pointer += num_param
