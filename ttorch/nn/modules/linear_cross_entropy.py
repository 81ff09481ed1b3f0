"""``nn.LinearCrossEntropyLoss``: a ``Linear`` head and the cross entropy of its logits, through
``nn.functional.linear_cross_entropy`` (chunked when given ``options``)."""
import math

from ..functional.linear_cross_entropy import LinearCrossEntropyOptions, linear_cross_entropy
from .linear import Linear
from .loss import _WeightedLoss

__all__ = ["LinearCrossEntropyLoss", "LinearCrossEntropyOptions"]


class LinearCrossEntropyLoss(_WeightedLoss):
    r"""The cross entropy of ``target`` and the logits of an owned ``Linear(in_features, num_classes)``
    (``num_classes * prod(out_features)`` outputs for a K-dimensional loss, stored flat as PyTorch's).

    Args:
        in_features, num_classes (int): the head's sizes. out_features (tuple): (d_1, ..., d_K).
        bias (bool): the head has a bias. Default: ``False``.
        weight, reduction, ignore_index, label_smoothing: ``CrossEntropyLoss``'s.
        options (LinearCrossEntropyOptions, optional): the chunked path (see
            ``nn.functional.linear_cross_entropy``).

    Example::

        >>> import ttorch
        >>> head = ttorch.nn.LinearCrossEntropyLoss(4, 10, options=ttorch.nn.LinearCrossEntropyOptions())
        >>> head(ttorch.randn(6, 4), ttorch.randint(0, 10, (6,))).shape
        ttorch.Size([])
    """

    def __init__(self, in_features, num_classes, *, out_features=(), bias=False, device=None, dtype=None,
                 reduction="mean", weight=None, ignore_index=None, label_smoothing=0.0, options=None):
        if weight is not None and tuple(weight.shape) != (num_classes,):
            raise RuntimeError(f"expected weight shape to be {(num_classes,)}, got {tuple(weight.shape)}")
        if label_smoothing < 0 or label_smoothing > 1.0:
            raise RuntimeError(f"expected label_smoothing to be in range [0, 1], got {label_smoothing}")
        super().__init__(weight=weight, reduction=reduction)
        self.num_classes = num_classes
        self.out_features = tuple(out_features)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing
        self.linear = Linear(in_features, math.prod(self.out_features, start=num_classes), bias=bias, device=device,
                             dtype=dtype)
        self.options = options

    def forward(self, input, target):
        w = self.linear.weight.reshape((self.num_classes, *self.out_features, self.linear.in_features))
        b = None if self.linear.bias is None else self.linear.bias.reshape((self.num_classes, *self.out_features))
        return linear_cross_entropy(input, w, target, linear_bias=b, weight=self.weight, reduction=self.reduction,
                                    ignore_index=self.ignore_index, label_smoothing=self.label_smoothing,
                                    options=self.options)

    def extra_repr(self):
        return (f"in_features={self.linear.in_features}, num_classes={self.num_classes}, out_features="
                f"{self.out_features}, bias={self.linear.bias is not None}, reduction={self.reduction}, ignore_index="
                f"{self.ignore_index}, label_smoothing={self.label_smoothing}, options={self.options}")
