"""``ttorch.cuda.amp.grad_scaler``: the deprecated cuda ``GradScaler``."""
import warnings

from ... import amp as _amp


class GradScaler(_amp.GradScaler):
    """Deprecated: ``ttorch.cuda.amp.GradScaler(args...)`` is ``ttorch.amp.GradScaler("cuda", args...)``."""

    def __init__(self, init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000,
                 enabled=True):
        warnings.warn("`torch.cuda.amp.GradScaler(args...)` is deprecated. Please use `torch.amp.GradScaler('cuda', "
                      "args...)` instead.", FutureWarning, stacklevel=2)
        super().__init__("cuda", init_scale=init_scale, growth_factor=growth_factor, backoff_factor=backoff_factor,
                         growth_interval=growth_interval, enabled=enabled)
