"""``ttorch.utils``: data loading (``ttorch.utils.data``)."""
from . import data

__all__ = ["data"]
