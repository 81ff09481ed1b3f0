"""``ttorch.ao.nn.quantized``: int8 modules for eager-mode post-training quantization (``convert``), their
functional forms (``functional``) and the dynamically quantized ones (``dynamic``).

Activations are per-tensor quint8 QuantizedTensors; weights qint8 (per-tensor or per-output-channel); the
GEMMs run on the int8 Triton kernel (``ttorch/ops/qgemm.py``) with fbgemm's requantization.

Differences from PyTorch: no Conv3d, transposed convolutions, BatchNorm/LayerNorm/GroupNorm/InstanceNorm
quantized modules, EmbeddingBag, 4-bit embeddings nor float16 dynamic weights; the quantized kernels take quint8
activations (fbgemm's choice, not qnnpack's qint8).
"""
from .modules import (Quantize, DeQuantize, ReLU6, Hardswish, LeakyReLU, Dropout, Conv1d, Conv2d, FloatFunctional,
                      FXFloatFunctional, QFunctional, Linear, LinearPackedParams, Embedding, EmbeddingPackedParams)
from . import functional, dynamic, modules

__all__ = ["Quantize", "DeQuantize", "ReLU6", "Hardswish", "LeakyReLU", "Dropout", "Conv1d", "Conv2d",
           "FloatFunctional", "FXFloatFunctional", "QFunctional", "Linear", "LinearPackedParams", "Embedding",
           "EmbeddingPackedParams", "functional", "dynamic", "modules"]
