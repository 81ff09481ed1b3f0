"""Fused modules (``ttorch.ao.nn.intrinsic``): sequences ``fuse_modules`` makes one unit, and their
QAT versions (``ttorch.ao.nn.intrinsic.qat``), which fake-quantize the weight and apply ReLU after.

Differences from PyTorch: no ConvBn* modules (QAT that simulates batch-norm folding); conv-bn pairs
fuse only in eval mode, folded into the conv (``fuse_modules``).
"""
from ....nn.modules.container import Sequential
from ....nn.modules.conv import Conv2d
from ....nn.modules.linear import Linear
from ....nn.modules.activation import ReLU


class _FusedModule(Sequential):
    """A Sequential that prepare_qat treats as one module."""


class LinearReLU(_FusedModule):
    """Linear then ReLU, one unit for quantization."""

    def __init__(self, linear, relu):
        if type(linear) is not Linear or type(relu) is not ReLU:
            raise AssertionError(f"Incorrect types for input modules{type(linear)}{type(relu)}")
        super().__init__(linear, relu)


class ConvReLU2d(_FusedModule):
    """Conv2d then ReLU, one unit for quantization."""

    def __init__(self, conv, relu):
        if type(conv) is not Conv2d or type(relu) is not ReLU:
            raise AssertionError(f"Incorrect types for input modules{type(conv)}{type(relu)}")
        super().__init__(conv, relu)
