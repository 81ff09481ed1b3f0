"""``ttorch.nn``: modules, layers, functional, init and losses, with PyTorch's names and state-dict keys.

Layers live in ``nn/modules/`` (one file per family, as PyTorch's), their math in
``nn/functional/`` written in ttorch ops, so every layer runs on cpu and cuda and differentiates.
"""
from .parameter import Parameter, Buffer, UninitializedParameter, UninitializedBuffer  # noqa: F401
from .modules import *  # noqa: F401,F403
from . import functional, utils  # noqa: F401
from . import init  # noqa: F401
