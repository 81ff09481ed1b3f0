"""``ttorch.utils``: data loading (``ttorch.utils.data``) and activation checkpointing
(``ttorch.utils.checkpoint``)."""
from . import data, checkpoint

__all__ = ["data", "checkpoint"]
