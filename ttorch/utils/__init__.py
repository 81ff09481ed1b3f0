"""``ttorch.utils``: data loading (``ttorch.utils.data``), activation checkpointing
(``ttorch.utils.checkpoint``), hook handles (``ttorch.utils.hooks``) and, imported on demand as in
PyTorch, ``ttorch.utils.benchmark``."""
from . import data, checkpoint, hooks

__all__ = ["data", "checkpoint", "hooks"]
