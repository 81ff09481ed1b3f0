"""Whole-tensor comparisons composed from primitive ops: ``isclose``, ``allclose``, ``equal``.

No kernels of their own: ``isclose`` is a handful of elementwise launches (it is a test and
debugging helper, not a hot path), and ``allclose``/``equal`` reduce it with ``all``.
"""
from .. import _dtype as D
from .._tensor import Tensor

PUBLIC = {}
METHODS = {}


def _public(fn):
    PUBLIC[fn.__name__] = METHODS[fn.__name__] = fn
    return fn


@_public
def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Elementwise ``|input - other| <= atol + rtol * |other|``, as ``torch.isclose``.

    Equal values (infinities included) are close; NaNs are close to each other only with
    ``equal_nan``. Both tensors must have the same dtype, as in PyTorch."""
    if type(other) is not Tensor:
        raise TypeError(f"isclose(): argument 'other' (position 2) must be Tensor, not {type(other).__name__}")
    if input.dtype is not other.dtype:
        raise RuntimeError(f"{_TYPE_NAME[input.dtype.name]} did not match {_TYPE_NAME[other.dtype.name]}")
    if rtol < 0 or atol < 0:
        which = "rtol" if rtol < 0 else "atol"
        raise RuntimeError(f"{which} must be greater than or equal to zero, but got {rtol if rtol < 0 else atol}")
    close = input == other
    if equal_nan:
        close = close | (input.isnan() & other.isnan())
    if input.dtype is D.bool or not (rtol or atol):
        return close
    if not (input.dtype.is_floating_point or input.dtype.is_complex):  # integers compare in float64, as PyTorch's
        input, other = input.to(D.float64), other.to(D.float64)
    finite = input.isfinite() & other.isfinite()
    within = (input - other).abs() <= atol + rtol * other.abs()
    return close | (finite & within)


@_public
def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """``True`` when every element of ``input`` is close to ``other``'s (see ``isclose``), as ``torch.allclose``."""
    return bool(isclose(input, other, rtol, atol, equal_nan).all().item())


@_public
def equal(input, other):
    """``True`` when both tensors have the same shape and elements, as ``torch.equal``."""
    if input.device != other.device:
        raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, "
                           f"{input.device} and {other.device}!")
    return input.shape == other.shape and bool((input == other).all().item())


_TYPE_NAME = {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16", "int64": "Long",
              "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool",
              "complex64": "ComplexFloat", "complex128": "ComplexDouble"}
