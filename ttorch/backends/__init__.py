"""``ttorch.backends``: PyTorch's backend switches, with the same names and defaults.

``cuda.matmul.allow_tf32`` and ``set_float32_matmul_precision`` select TF32 tensor cores in the
Triton GEMM (``ttorch/ops/gemm.py``) for float32 products on cuda. The other flags
(``cudnn.*``, ``cuda.matmul.allow_fp16_reduced_precision_reduction``, the SDPA switches) are
accepted and stored so PyTorch programs run unchanged; each module says which ones have an effect.

Example::

    >>> ttorch.backends.cuda.matmul.allow_tf32 = True
    >>> ttorch.get_float32_matmul_precision()
    'high'
    >>> ttorch.backends.cuda.matmul.allow_tf32 = False
"""
import warnings

from . import cuda, cudnn, mps  # noqa: F401

_PRECISIONS = ("highest", "high", "medium")


def set_float32_matmul_precision(precision):
    """Set the internal precision of float32 matrix products on cuda.

    "highest": IEEE float32 (the default). "high" and "medium": TF32 tensor cores (10 stored
    mantissa bits; ttorch has no bfloat16 path, so "medium" computes as "high"). Kept in sync
    with ``ttorch.backends.cuda.matmul.allow_tf32`` as PyTorch does. cpu products are unaffected.

    Args:
        precision (str): "highest", "high" or "medium".
    """
    if not isinstance(precision, str):
        raise TypeError(f"set_float32_matmul_precision(): argument 'precision' must be str, not "
                        f"{type(precision).__name__}")
    if precision not in _PRECISIONS:
        warnings.warn(f"{precision} is not one of 'highest', 'high', or 'medium'; the current "
                      "setFloat32MatmulPrecision call has no effect.")
        return
    cuda._state["float32_matmul_precision"] = precision


def get_float32_matmul_precision():
    """The current float32 matmul precision: "highest", "high" or "medium"."""
    return cuda._state["float32_matmul_precision"]


__all__ = ["cuda", "cudnn", "mps", "set_float32_matmul_precision", "get_float32_matmul_precision"]
