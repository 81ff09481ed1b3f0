"""``ttorch.utils``: data loading (``ttorch.utils.data``), activation checkpointing
(``ttorch.utils.checkpoint``), ``ttorch.utils.deterministic``, hook handles (``ttorch.utils.hooks``)
and, imported on demand as in PyTorch, ``ttorch.utils.benchmark``."""
from . import data, checkpoint, deterministic, hooks

__all__ = ["data", "checkpoint", "deterministic", "hooks"]
