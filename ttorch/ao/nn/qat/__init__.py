"""QAT modules (``ttorch.ao.nn.qat``): ``Linear`` and ``Conv2d`` whose weight passes through the
qconfig's weight fake-quantizer on every forward. ``prepare_qat`` swaps them in (``from_float``), sharing
the float module's parameters.

Difference from PyTorch: no ``to_float`` of parametrized weights, and no Conv1d/Conv3d/Embedding.
"""
from ....nn.modules.conv import Conv2d as _Conv2d
from ....nn.modules.linear import Linear as _Linear
from ....nn import functional as F


def _from_float(cls, mod, make):
    float_cls = cls._FLOAT_MODULE
    if type(mod) is not float_cls:
        raise AssertionError(" qat." + cls.__name__ + ".from_float only works for " + float_cls.__name__)
    if not hasattr(mod, "qconfig"):
        raise AssertionError("Input float module must have qconfig defined")
    if not mod.qconfig:
        raise AssertionError("Input float module must have a valid qconfig")
    qconfig = mod.qconfig
    if float_cls is not _Linear and float_cls is not _Conv2d:      # a fused module: its first is the layer
        mod = mod[0]
    q = make(mod, qconfig)
    q.weight = mod.weight
    q.bias = mod.bias
    return q


class Linear(_Linear):
    """``nn.Linear`` with a fake-quantized weight: ``F.linear(input, weight_fake_quant(weight), bias)``."""

    _FLOAT_MODULE = _Linear

    def __init__(self, in_features, out_features, bias=True, qconfig=None, device=None, dtype=None):
        super().__init__(in_features, out_features, bias, device=device, dtype=dtype)
        if not qconfig:
            raise AssertionError("qconfig must be provided for QAT module")
        self.qconfig = qconfig
        self.weight_fake_quant = qconfig.weight(factory_kwargs={"device": device, "dtype": dtype})

    def forward(self, input):
        return F.linear(input, self.weight_fake_quant(self.weight), self.bias)

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        """The QAT module of ``mod`` (its qconfig), holding ``mod``'s parameters."""
        return _from_float(cls, mod, lambda m, qc: cls(m.in_features, m.out_features, bias=m.bias is not None,
                                                       qconfig=qc))

    def to_float(self):
        lin = _Linear(self.in_features, self.out_features, self.bias is not None)
        lin.weight, lin.bias = self.weight, self.bias
        return lin


class Conv2d(_Conv2d):
    """``nn.Conv2d`` with a fake-quantized weight."""

    _FLOAT_MODULE = _Conv2d

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 padding_mode="zeros", qconfig=None, device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=padding, dilation=dilation,
                         groups=groups, bias=bias, padding_mode=padding_mode, device=device, dtype=dtype)
        if not qconfig:
            raise AssertionError("qconfig must be provided for QAT module")
        self.qconfig = qconfig
        self.weight_fake_quant = qconfig.weight(factory_kwargs={"device": device, "dtype": dtype})

    def forward(self, input):
        return self._conv_forward(input, self.weight_fake_quant(self.weight), self.bias)

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        return _from_float(cls, mod, lambda m, qc: cls(m.in_channels, m.out_channels, m.kernel_size, stride=m.stride,
                                                       padding=m.padding, dilation=m.dilation, groups=m.groups,
                                                       bias=m.bias is not None, padding_mode=m.padding_mode,
                                                       qconfig=qc))
