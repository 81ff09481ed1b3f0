"""PyTorch's other names for ttorch's ops, and the small functions that compose them: ``arctan2``,
``ravel``, ``deg2rad``, ``rad2deg``, ``positive``, ``adjoint``, ``angle``, ``isneginf``, ``isposinf``,
``sum_to_size``, ``split_with_sizes``, ``trapz`` and the predicates (``is_nonzero``, ``is_same_size``,
``is_signed``).

The complex-number names (``conj``, ``resolve_conj``, ``real``, ``imag``, ``isreal``, ``is_complex``,
``adjoint``...) live in ``complex.py``; on real tensors they are the identities PyTorch's are.
"""
import math

from .. import _dtype as D
from ._op import write_out
from .composed import diagflat, trapezoid, vdot


def arctan2(input, other, *, out=None):
    """``atan2``'s other name (NumPy's)."""
    from .binary import atan2
    return atan2(input, other, out=out)


def ravel(input):
    """The elements as a 1-D tensor: a view where ``reshape`` can make one, else a copy.

    Example::

        >>> import ttorch
        >>> ttorch.tensor([[1, 2], [3, 4]]).t().ravel().tolist()
        [1, 3, 2, 4]
    """
    return input.reshape(-1)


def _to_float(input):
    return input if input.dtype.is_floating_point else input.to(D.get_default_dtype())


def deg2rad(input, *, out=None):
    """Degrees to radians (integers become the default float dtype)."""
    r = _to_float(input) * (math.pi / 180.0)
    return r if out is None else write_out(out, r, "deg2rad")


def rad2deg(input, *, out=None):
    """Radians to degrees (integers become the default float dtype).

    Example::

        >>> import ttorch
        >>> ttorch.rad2deg(ttorch.tensor([3.141592653589793, 1.0])).double().round(decimals=3).tolist()
        [180.0, 57.296]
    """
    r = _to_float(input) * (180.0 / math.pi)
    return r if out is None else write_out(out, r, "rad2deg")


def positive(input):
    """``+input``: the input itself (an error for bool, as in PyTorch)."""
    if input.dtype is D.bool:
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return input


def angle(input, *, out=None):
    """The argument of each element as a complex number: pi where negative, 0 elsewhere, NaN kept
    (integers become the default float dtype). Its gradient is zero, as PyTorch's for real input. Complex
    input: ``atan2(imag, real)`` (``complex_math.py``)."""
    if input.dtype.is_complex:
        from .complex_math import cangle
        r = cangle(input)
        return r if out is None else write_out(out, r, "angle")
    from .ternary import where
    x = _to_float(input)
    r = where(x < 0, math.pi, where(x != x, x, 0.0))    # (x itself only where NaN: a zero gradient elsewhere)
    return r if out is None else write_out(out, r, "angle")


def isneginf(input, *, out=None):
    """Where the input is -inf (False everywhere for integers)."""
    r = input == -math.inf if input.dtype.is_floating_point else _falses(input)
    return r if out is None else write_out(out, r, "isneginf")


def isposinf(input, *, out=None):
    """Where the input is +inf (False everywhere for integers)."""
    r = input == math.inf if input.dtype.is_floating_point else _falses(input)
    return r if out is None else write_out(out, r, "isposinf")


def _falses(input):
    from .creation import zeros
    return zeros(input.shape, dtype=D.bool, device=input.device)


def is_nonzero(input):
    """Whether a one-element tensor is not zero (PyTorch's errors for any other count)."""
    n = input.numel()
    if n != 1:
        raise RuntimeError("Boolean value of Tensor with no values is ambiguous" if n == 0 else
                           "Boolean value of Tensor with more than one value is ambiguous")
    return bool(input.item() != 0)


def is_same_size(input, other):
    return tuple(input.shape) == tuple(other.shape)


def is_signed(input):
    return input.dtype not in (D.bool, D.uint8)


def sum_to_size(input, *size):
    """The sum of ``input`` down to ``size``, which must broadcast to its shape (the reverse of ``expand``).

    Example::

        >>> import ttorch
        >>> ttorch.ones(2, 3).sum_to_size(1, 3).tolist()
        [[2.0, 2.0, 2.0]]
    """
    size = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else tuple(size)
    shape = tuple(input.shape)
    lead = len(shape) - len(size)
    if lead < 0 or any(s != 1 and s != n for s, n in zip(size, shape[lead:])):
        raise RuntimeError(f"size {{{list(size)}}} is not expandable to size {{{list(shape)}}}.")
    dims = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(size) if s == 1 and shape[lead + i] != 1)
    r = input.sum(dims, keepdim=True) if dims else input
    return r.reshape(size) if lead else r


def split_with_sizes(input, split_sizes, dim=0):
    """``split`` with a list of sizes."""
    return input.split(list(split_sizes), dim)


def unsafe_split(input, split_size, dim=0):
    """``split`` (PyTorch's version skips the checks of in-place use of its outputs)."""
    return input.split(split_size, dim)


def unsafe_chunk(input, chunks, dim=0):
    """``chunk`` (PyTorch's version skips the checks of in-place use of its outputs)."""
    return input.chunk(chunks, dim)


def trapz(y, x=None, *, dx=None, dim=-1):
    """``trapezoid``'s older name."""
    if x is not None:
        return trapezoid(y, x, dim=dim)
    return trapezoid(y, dx=1 if dx is None else dx, dim=dim)


def nonzero_static(input, *, size, fill_value=-1):
    """``nonzero``'s (n, ndim) indices cut or padded with ``fill_value`` to ``size`` rows (a fixed shape,
    for compilers; here the count is still read back from the device, as ``nonzero``'s is)."""
    from .movement import cat
    nz = input.nonzero()[:size]
    if nz.shape[0] == size:
        return nz
    return cat([nz, nz.new_full((size - nz.shape[0], nz.shape[1]), fill_value)], 0)


_NAMES = ("arctan2", "ravel", "deg2rad", "rad2deg", "positive", "angle", "isneginf", "isposinf",
          "is_nonzero", "is_same_size", "is_signed", "split_with_sizes", "unsafe_split", "unsafe_chunk")
PUBLIC = {n: globals()[n] for n in _NAMES + ("trapz", "nonzero_static")}
METHODS = {n: globals()[n] for n in _NAMES}
METHODS.update(sum_to_size=sum_to_size, diagflat=diagflat, vdot=vdot, nonzero_static=nonzero_static)
__all__ = []

