"""``ttorch.nn.utils.init``: ``skip_init`` (defined in ``fusion.py``)."""
from .fusion import skip_init  # noqa: F401

__all__ = ["skip_init"]
