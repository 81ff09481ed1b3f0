"""``ttorch.nn``: modules, layers, functional, init and losses, with PyTorch's names and state-dict keys.

Layers live in ``nn/modules/`` (one file per family, as PyTorch's), their math in
``nn/functional/`` written in ttorch ops, so every layer runs on cpu and cuda and differentiates.
"""
import importlib as _importlib

from .parameter import Parameter, Buffer, UninitializedParameter, UninitializedBuffer  # noqa: F401
from .modules import *  # noqa: F401,F403
from . import functional, utils  # noqa: F401
from . import init  # noqa: F401
from . import common_types, grad  # noqa: F401,E402  (torch.nn.grad: conv gradients; type aliases)
from . import parallel  # noqa: F401  (DistributedDataParallel; builds on ttorch.distributed lazily)
from .parallel import DataParallel  # noqa: F401
# ``nn.attention`` is the package (sdpa_kernel, SDPBackend); ``from .modules import *`` bound the name to the
# module file nn/modules/attention.py, so the package is imported by name
attention = _importlib.import_module(".attention", __name__)


def factory_kwargs(kwargs):
    r"""The factory keyword arguments (``device``, ``dtype``, ``memory_format``) among ``kwargs``, as one dict;
    ``kwargs["factory_kwargs"]`` (a dict) adds more. Raises ``TypeError`` for any other key or a key given twice.

    Example::

        >>> ttorch.nn.factory_kwargs({"dtype": ttorch.float64, "factory_kwargs": {"device": "cpu"}})
        {'device': 'cpu', 'dtype': ttorch.float64}
    """
    if kwargs is None:
        return {}
    simple_keys = {"device", "dtype", "memory_format"}
    expected_keys = simple_keys | {"factory_kwargs"}
    if not kwargs.keys() <= expected_keys:
        raise TypeError(f"unexpected kwargs {kwargs.keys() - expected_keys}")
    r = dict(kwargs.get("factory_kwargs", {}))
    for k in simple_keys:
        if k in kwargs:
            if k in r:
                raise TypeError(f"{k} specified twice, in **kwargs and in factory_kwargs")
            r[k] = kwargs[k]
    return r
