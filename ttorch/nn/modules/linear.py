"""``Linear`` and ``Bilinear``, initialised as PyTorch's ``reset_parameters``."""
import math

from .. import functional as F
from .. import init
from ...ops.creation import empty
from ..parameter import Parameter
from .module import Module

__all__ = ["Linear", "Bilinear"]


class Linear(Module):
    r"""``y = x A^T + b``; on cuda the bias rides in the GEMM's epilogue (``addmm``).

    Args:
        in_features, out_features (int): sizes of each input and output sample.
        bias (bool): learn an additive bias. Default: ``True``.

    Shape:
        - Input: :math:`(*, H_{in})`, Output: :math:`(*, H_{out})`.

    ``weight`` (out_features, in_features) and ``bias`` draw from U(-1/sqrt(in), 1/sqrt(in)).

    Example::

        >>> Linear(20, 30)(ttorch.randn(128, 20)).shape
        ttorch.Size([128, 30])
    """

    __constants__ = ["in_features", "out_features"]

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(empty((out_features, in_features), device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_features, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        # kaiming_uniform_ with a=sqrt(5) is U(-1/sqrt(fan_in), 1/sqrt(fan_in)), PyTorch's historic default
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Bilinear(Module):
    r"""``y = x_1^T A x_2 + b``; ``weight`` (out, in1, in2) and ``bias`` from U(-1/sqrt(in1), 1/sqrt(in1)).

    Example::

        >>> Bilinear(20, 30, 40)(ttorch.randn(128, 20), ttorch.randn(128, 30)).shape
        ttorch.Size([128, 40])
    """

    __constants__ = ["in1_features", "in2_features", "out_features"]

    def __init__(self, in1_features, in2_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in1_features = in1_features
        self.in2_features = in2_features
        self.out_features = out_features
        self.weight = Parameter(empty((out_features, in1_features, in2_features), device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_features, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1 / math.sqrt(self.weight.size(1))
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1, input2):
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self):
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")
