"""``QuantStub`` and ``DeQuantStub``: the points where an eager-mode model enters and leaves the
quantized region. In float and QAT models they pass their input through; ``prepare``/``prepare_qat`` give a
``QuantStub`` an activation observer or fake-quantizer (its output hook) and a ``DeQuantStub`` none;
``convert`` swaps them for ``ao.nn.quantized.Quantize`` and ``DeQuantize``.
"""
from ...nn.modules.module import Module


class QuantStub(Module):
    """Identity until ``prepare_qat`` attaches the fake quantization of its output."""

    def __init__(self, qconfig=None):
        super().__init__()
        if qconfig:
            self.qconfig = qconfig

    def forward(self, x):
        return x


class DeQuantStub(Module):
    """Identity (marks where the quantized region ends)."""

    def __init__(self, qconfig=None):
        super().__init__()
        if qconfig:
            self.qconfig = qconfig

    def forward(self, x):
        return x


class QuantWrapper(Module):
    """``module`` between a QuantStub and a DeQuantStub."""

    def __init__(self, module):
        super().__init__()
        qconfig = getattr(module, "qconfig", None)
        self.add_module("quant", QuantStub(qconfig))
        self.add_module("dequant", DeQuantStub(qconfig))
        self.add_module("module", module)
        self.train(module.training)

    def forward(self, X):
        return self.dequant(self.module(self.quant(X)))
