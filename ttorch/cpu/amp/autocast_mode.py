"""``ttorch.cpu.amp.autocast_mode``: the deprecated cpu ``autocast``."""
import warnings

from ... import _dtype as D
from ... import amp as _amp


class autocast(_amp.autocast):
    """Deprecated: ``ttorch.cpu.amp.autocast(args...)`` is ``ttorch.amp.autocast("cpu", args...)``."""

    def __init__(self, enabled=True, dtype=D.bfloat16, cache_enabled=True):
        warnings.warn("`torch.cpu.amp.autocast(args...)` is deprecated. Please use `torch.amp.autocast('cpu', "
                      "args...)` instead.", FutureWarning, stacklevel=2)
        super().__init__("cpu", enabled=enabled, dtype=dtype, cache_enabled=cache_enabled)
