"""The quantized modules (``ttorch.ao.nn.quantized``): what ``convert`` swaps the observed float modules for."""
from .activation import Quantize, DeQuantize, ReLU6, Hardswish, LeakyReLU, Dropout
from .conv import Conv1d, Conv2d
from .functional_modules import FloatFunctional, FXFloatFunctional, QFunctional
from .linear import Linear, LinearPackedParams
from .embedding_ops import Embedding, EmbeddingPackedParams

__all__ = ["Quantize", "DeQuantize", "ReLU6", "Hardswish", "LeakyReLU", "Dropout", "Conv1d", "Conv2d",
           "FloatFunctional", "FXFloatFunctional", "QFunctional", "Linear", "LinearPackedParams",
           "Embedding", "EmbeddingPackedParams"]
