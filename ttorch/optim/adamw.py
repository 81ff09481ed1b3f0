"""``ttorch.optim.adamw``: ``AdamW`` (it shares ``adam.py``'s update with ``Adam``)."""
from .adam import AdamW  # noqa: F401

__all__ = ["AdamW"]


from ._functional import adamw  # noqa: E402,F401  (PyTorch's functional form)
__all__.append("adamw")
