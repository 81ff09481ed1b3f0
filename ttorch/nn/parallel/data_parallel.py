"""``DataParallel``: PyTorch's single-process data parallelism, on one device.

PyTorch replicates the module on every visible GPU and splits the batch; with one device it moves the
inputs there and calls the module directly. ttorch always takes that one-device path, on
``device_ids[0]``: use ``DistributedDataParallel`` (one process per device) to use several.
"""
from ..._tensor import Tensor
from ..modules.module import Module

__all__ = ["DataParallel"]


def _to(obj, device):
    if isinstance(obj, Tensor):
        return obj.to(device)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(_to(o, device) for o in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to(o, device) for o in obj)
    if isinstance(obj, dict):
        return type(obj)((k, _to(v, device)) for k, v in obj.items())
    return obj


class DataParallel(Module):
    r"""Run ``module`` on ``device_ids[0]`` (cuda:0 by default when cuda is available, else where it is).

    Args:
        module (Module): the module, with its parameters and buffers on ``device_ids[0]``.
        device_ids (list of int or device, optional): only the first is used (see the module docstring).
        output_device, dim: accepted as PyTorch's.

    The wrapped module is ``.module``; state-dict keys carry the ``module.`` prefix, as PyTorch's.

    Example::

        >>> from ttorch import nn
        >>> dp = nn.DataParallel(nn.Linear(2, 3))
        >>> list(dp.state_dict())
        ['module.weight', 'module.bias']
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        from ... import cuda
        self.module = module
        self.dim = dim
        if not cuda.is_available():
            self.device_ids, self.output_device, self.src_device_obj = [], None, None
            return
        if device_ids is None:
            device_ids = list(range(cuda.device_count()))
        self.device_ids = [d if isinstance(d, int) else _device_index(d) for d in device_ids]
        self.output_device = self.device_ids[0] if output_device is None else output_device
        from ..._device import device
        self.src_device_obj = device("cuda", self.device_ids[0])

    def forward(self, *inputs, **kwargs):
        if not self.device_ids:
            return self.module(*inputs, **kwargs)
        dev = self.src_device_obj
        for t in list(self.module.parameters()) + list(self.module.buffers()):
            if t.device != dev:
                raise RuntimeError(f"module must have its parameters and buffers on device {dev} (device_ids[0]) "
                                   f"but found one of them on device: {t.device}")
        return self.module(*_to(inputs, dev), **_to(kwargs, dev))


def _device_index(d):
    from ..._device import device
    d = device(d) if not hasattr(d, "index") else d
    return d.index or 0


def data_parallel(module, inputs, device_ids=None, output_device=None, dim=0, module_kwargs=None):
    """The functional ``DataParallel``: ``module(*inputs, **module_kwargs)`` run on ``device_ids[0]``
    (the one-device path, see the module docstring) with the result moved to ``output_device``."""
    if not isinstance(inputs, tuple):
        inputs = (inputs,) if inputs is not None else ()
    out = DataParallel(module, device_ids, output_device, dim)(*inputs, **(module_kwargs or {}))
    if output_device is None:
        return out
    from ..._device import device
    return _to(out, device("cuda", output_device) if isinstance(output_device, int) else output_device)
