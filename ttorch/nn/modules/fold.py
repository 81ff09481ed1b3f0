"""``ttorch.nn.modules.fold``: ``Fold`` and ``Unfold`` (defined with the convolutions, ``conv.py``)."""
from .conv import Fold, Unfold  # noqa: F401

__all__ = ["Fold", "Unfold"]
