"""``ttorch.signal``: signal-processing helpers, as ``torch.signal``. Holds ``windows``."""
from . import windows

__all__ = ["windows"]
