"""Transforms onto constrained spaces, used by ``constraint_registry``: ``StickBreakingTransform``
(real vectors onto the simplex, one dimension up)."""
import ttorch
import ttorch.nn.functional as F
from . import constraints
from ._transform import Transform

__all__ = ["StickBreakingTransform"]


def _clipped_sigmoid(x):
    finfo = ttorch.finfo(x.dtype)
    return ttorch.clamp(ttorch.sigmoid(x), min=finfo.tiny, max=1.0 - finfo.eps)


class StickBreakingTransform(Transform):
    """From unconstrained vectors of length ``K - 1`` to the ``K``-simplex by stick breaking: each
    coordinate takes the fraction ``sigmoid(x_i - log(K - i))`` of what is left. Bijective; the
    offsets make ``x = 0`` the simplex's centre.

    Example::

        >>> import ttorch
        >>> from ttorch.distributions.transforms import StickBreakingTransform
        >>> t = StickBreakingTransform()
        >>> print([round(v, 4) for v in t(ttorch.zeros(2)).tolist()])
        [0.3333, 0.3333, 0.3333]
    """
    domain = constraints.real_vector
    codomain = constraints.simplex
    bijective = True

    def __eq__(self, other):
        return isinstance(other, StickBreakingTransform)

    __hash__ = object.__hash__

    def _offset_log(self, x, k):
        return (k - x.new_ones(x.shape[-1]).cumsum(-1)).log()     # log(K - 1 - i), i = 0.. (length k - 1)

    def _call(self, x):
        z = _clipped_sigmoid(x - self._offset_log(x, x.shape[-1] + 1))
        z_cumprod = (1 - z).cumprod(-1)
        return F.pad(z, [0, 1], value=1) * F.pad(z_cumprod, [1, 0], value=1)

    def _inverse(self, y):
        y_crop = y[..., :-1]
        sf = (1 - y_crop.cumsum(-1)).clamp(min=ttorch.finfo(y.dtype).tiny)
        return y_crop.log() - sf.log() + self._offset_log(y_crop, y.shape[-1])

    def log_abs_det_jacobian(self, x, y):
        x = x - self._offset_log(x, x.shape[-1] + 1)
        return (-x + F.logsigmoid(x) + y[..., :-1].log()).sum(-1)

    def forward_shape(self, shape):
        if len(shape) < 1:
            raise ValueError("Too few dimensions on input")
        return tuple(shape[:-1]) + (shape[-1] + 1,)

    def inverse_shape(self, shape):
        if len(shape) < 1:
            raise ValueError("Too few dimensions on input")
        return tuple(shape[:-1]) + (shape[-1] - 1,)
