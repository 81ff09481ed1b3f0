"""``Linear``, ``Bilinear`` and ``LazyLinear``, initialised as PyTorch's ``reset_parameters``."""
import math

from .. import functional as F
from .. import init
from ...autograd import grad_mode
from ...ops.creation import empty
from ..parameter import Parameter, UninitializedParameter
from .lazy import LazyModuleMixin
from .module import Module

__all__ = ["Linear", "Bilinear", "LazyLinear"]


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


class LazyLinear(LazyModuleMixin, Linear):
    r"""A ``Linear`` whose ``in_features`` is inferred from ``input.shape[-1]`` on the first call, after
    which it becomes a ``Linear`` (see ``LazyModuleMixin``).

    Args:
        out_features (int): size of each output sample. bias (bool): Default: ``True``.

    Example::

        >>> m = LazyLinear(30)
        >>> m(ttorch.randn(128, 20)).shape, m
        (ttorch.Size([128, 30]), Linear(in_features=20, out_features=30, bias=True))
    """

    cls_to_become = Linear

    def __init__(self, out_features, bias=True, device=None, dtype=None):
        super().__init__(0, 0, False)
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        self.out_features = out_features
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self.in_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input):
        """Infer ``in_features`` from ``input`` and initialize the parameters."""
        if self.has_uninitialized_params():
            with grad_mode.no_grad():
                self.in_features = input.shape[-1]
                self.weight.materialize((self.out_features, self.in_features))
                if self.bias is not None:
                    self.bias.materialize((self.out_features,))
                self.reset_parameters()
        if self.in_features == 0:    # a state dict loaded into the lazy module gave the weight its shape
            if input.shape[-1] != self.weight.shape[-1]:
                raise AssertionError(f"The in_features inferred from input: {input.shape[-1]} is not equal to "
                                     f"in_features from self.weight: {self.weight.shape[-1]}")
            self.in_features = input.shape[-1]
