"""``InstanceNorm1d/2d/3d``: per-sample, per-channel normalization over the spatial dims.

PyTorch's defaults differ from batch norm's: ``affine=False``, ``track_running_stats=False``.
Unbatched inputs (``(C, L)`` for 1d) are accepted. ``LazyInstanceNorm1d/2d/3d`` infer ``num_features``
from their first input and keep PyTorch's defaults for them: ``affine=True``, ``track_running_stats=True``.
"""
import warnings

from .. import functional as F
from .batchnorm import _NormBase, _LazyNormBase

__all__ = ["InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "LazyInstanceNorm1d", "LazyInstanceNorm2d",
           "LazyInstanceNorm3d"]


class _InstanceNorm(_NormBase):
    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False, device=None,
                 dtype=None, *, bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)

    def _check_input_dim(self, input):
        raise NotImplementedError

    def _get_no_batch_dim(self):
        raise NotImplementedError

    def _apply_instance_norm(self, input):
        return F.instance_norm(input, self.running_mean, self.running_var, self.weight, self.bias,
                               self.training or not self.track_running_stats,
                               self.momentum if self.momentum is not None else 0.0, self.eps)

    def forward(self, input):
        self._check_input_dim(input)
        feature_dim = input.dim() - self._get_no_batch_dim()
        if input.size(feature_dim) != self.num_features:
            if self.affine:
                raise ValueError(f"expected input's size at dim={feature_dim} to match num_features "
                                 f"({self.num_features}), but got: {input.size(feature_dim)}.")
            warnings.warn(f"input's size at dim={feature_dim} does not match num_features. You can silence this "
                          "warning by not passing in num_features, which is not used because affine=False")
        if input.dim() == self._get_no_batch_dim():
            return self._apply_instance_norm(input.unsqueeze(0)).squeeze(0)
        return self._apply_instance_norm(input)


class InstanceNorm1d(_InstanceNorm):
    r"""Instance normalization over a ``(N, C, L)`` or ``(C, L)`` input.

    Example::

        >>> InstanceNorm1d(3)(ttorch.randn(2, 3, 5)).shape
        ttorch.Size([2, 3, 5])
    """

    def _get_no_batch_dim(self):
        return 2

    def _check_input_dim(self, input):
        if input.dim() not in (2, 3):
            raise ValueError(f"expected 2D or 3D input (got {input.dim()}D input)")


class InstanceNorm2d(_InstanceNorm):
    r"""Instance normalization over a ``(N, C, H, W)`` or ``(C, H, W)`` input."""

    def _get_no_batch_dim(self):
        return 3

    def _check_input_dim(self, input):
        if input.dim() not in (3, 4):
            raise ValueError(f"expected 3D or 4D input (got {input.dim()}D input)")


class InstanceNorm3d(_InstanceNorm):
    r"""Instance normalization over a ``(N, C, D, H, W)`` or ``(C, D, H, W)`` input."""

    def _get_no_batch_dim(self):
        return 4

    def _check_input_dim(self, input):
        if input.dim() not in (4, 5):
            raise ValueError(f"expected 4D or 5D input (got {input.dim()}D input)")


class _LazyInstanceNorm(_LazyNormBase, _InstanceNorm):
    def initialize_parameters(self, input):
        # an unbatched input's channels are its dim 0, where PyTorch reads dim 1 (and then fails)
        super().initialize_parameters(input.unsqueeze(0) if input.dim() == self._get_no_batch_dim() else input)


class LazyInstanceNorm1d(_LazyInstanceNorm):
    r"""An ``InstanceNorm1d`` whose ``num_features`` is inferred from the first input's channels, after
    which it becomes an ``InstanceNorm1d`` (see ``LazyModuleMixin``). Defaults as PyTorch's:
    ``eps=1e-5, momentum=0.1, affine=True, track_running_stats=True``, keyword ``bias=True``.

    Example::

        >>> m = LazyInstanceNorm1d()
        >>> m(ttorch.randn(2, 3, 5)).shape, m.weight.shape, type(m).__name__
        (ttorch.Size([2, 3, 5]), ttorch.Size([3]), 'InstanceNorm1d')
    """

    cls_to_become = InstanceNorm1d
    _get_no_batch_dim = InstanceNorm1d._get_no_batch_dim
    _check_input_dim = InstanceNorm1d._check_input_dim


class LazyInstanceNorm2d(_LazyInstanceNorm):
    r"""An ``InstanceNorm2d`` whose ``num_features`` is inferred from the first input (see ``LazyInstanceNorm1d``)."""

    cls_to_become = InstanceNorm2d
    _get_no_batch_dim = InstanceNorm2d._get_no_batch_dim
    _check_input_dim = InstanceNorm2d._check_input_dim


class LazyInstanceNorm3d(_LazyInstanceNorm):
    r"""An ``InstanceNorm3d`` whose ``num_features`` is inferred from the first input (see ``LazyInstanceNorm1d``)."""

    cls_to_become = InstanceNorm3d
    _get_no_batch_dim = InstanceNorm3d._get_no_batch_dim
    _check_input_dim = InstanceNorm3d._check_input_dim
