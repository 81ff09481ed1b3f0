"""``ttorch.amp``: automatic mixed precision (``autocast``) and loss scaling (``GradScaler``)."""
from .autocast_mode import (autocast, custom_fwd, custom_bwd, is_autocast_available, is_autocast_enabled,
                            get_autocast_dtype, set_autocast_enabled, set_autocast_dtype, is_autocast_cache_enabled,
                            set_autocast_cache_enabled, clear_autocast_cache)
from .grad_scaler import GradScaler

__all__ = ["autocast", "custom_fwd", "custom_bwd", "GradScaler", "is_autocast_available", "is_autocast_enabled",
           "get_autocast_dtype", "set_autocast_enabled", "set_autocast_dtype", "is_autocast_cache_enabled",
           "set_autocast_cache_enabled", "clear_autocast_cache"]
