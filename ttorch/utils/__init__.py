"""``ttorch.utils``: data loading (``ttorch.utils.data``), activation checkpointing
(``ttorch.utils.checkpoint``), ``ttorch.utils.deterministic``, hook handles (``ttorch.utils.hooks``)
and, imported on demand as in PyTorch, ``ttorch.utils.benchmark`` and ``ttorch.utils.tensorboard``."""
from . import data, checkpoint, deterministic, hooks
from ._swap_tensors import swap_tensors

__all__ = ["data", "checkpoint", "deterministic", "hooks", "swap_tensors", "set_module"]


def set_module(obj, mod):
    """Set ``obj.__module__`` to the string ``mod`` (for nicer printing)."""
    if not isinstance(mod, str):
        raise TypeError("The mod argument should be a string")
    obj.__module__ = mod
