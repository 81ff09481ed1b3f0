"""``ttorch.nn``: modules, layers, functional, init and losses, with PyTorch's names and state-dict keys.

Layers live in ``nn/modules/`` (one file per family, as PyTorch's), their math in
``nn/functional/`` written in ttorch ops, so every layer runs on cpu and cuda and differentiates.
"""
import importlib as _importlib

from .parameter import Parameter, Buffer, UninitializedParameter, UninitializedBuffer  # noqa: F401
from .modules import *  # noqa: F401,F403
from . import functional, utils  # noqa: F401
from . import init  # noqa: F401
from . import parallel  # noqa: F401  (DistributedDataParallel; builds on ttorch.distributed lazily)
from .parallel import DataParallel  # noqa: F401
# ``nn.attention`` is the package (sdpa_kernel, SDPBackend); ``from .modules import *`` bound the name to the
# module file nn/modules/attention.py, so the package is imported by name
attention = _importlib.import_module(".attention", __name__)
