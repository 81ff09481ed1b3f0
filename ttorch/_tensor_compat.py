"""Rarely used Tensor methods that ported code still calls: the deprecated out-of-place ``resize``/
``resize_as``, the removed ``volatile`` flag, ``module_load`` (``load_state_dict``'s swap hook),
``slice_inverse``, ``unsafe_split_with_sizes``, ``to_padded_tensor`` (nested tensors only), and ``slogdet``
with its own return type.

Example::

    >>> base = ttorch.arange(6.0)
    >>> base[1:4].slice_inverse(base, 0, 1, 4).tolist()     # the base, seen through the slice's storage
    [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    >>> [t.tolist() for t in base.unsafe_split_with_sizes([2, 4])]
    [[0.0, 1.0], [2.0, 3.0, 4.0, 5.0]]
"""
import math
import warnings

from ._tensor import Tensor

__all__ = ["slice_inverse", "slogdet", "unsafe_split_with_sizes"]


def _resize(self, sizes):
    sizes = tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else tuple(sizes)
    n = math.prod(sizes)
    if n != self.numel():
        raise RuntimeError(f"requested resize to {'x'.join(map(str, sizes))} ({n} elements in total), but the given "
                           f"tensor has a size of {'x'.join(map(str, self.shape))} ({self.numel()} elements). "
                           f"autograd's resize can only change the shape of a given tensor, while preserving the "
                           f"number of elements. ")
    return self.contiguous().view(sizes)


def resize(self, *sizes):
    """Deprecated: ``self`` with a new shape of the same number of elements (a differentiable view of its
    contiguous form); ``resize_`` is the in-place form that may change the element count."""
    warnings.warn("non-inplace resize is deprecated", stacklevel=2)
    return _resize(self, sizes)


def resize_as(self, tensor):
    """Deprecated: ``self.resize(*tensor.size())``."""
    warnings.warn("non-inplace resize_as is deprecated", stacklevel=2)
    return _resize(self, tuple(tensor.size()))


def _get_volatile(self):
    warnings.warn("volatile was removed (Variable.volatile is always False)", stacklevel=2)
    return False


def _set_volatile(self, value):
    warnings.warn("volatile was removed and now has no effect. Use `with torch.no_grad():` instead.", stacklevel=2)


def module_load(self, other, assign=False):
    """What ``load_state_dict`` swaps in for this parameter or buffer when
    ``ttorch.__future__.get_swap_module_params_on_conversion()`` is on: ``other.detach()`` with ``assign``,
    else ``self.copy_(other).detach()``. Subclasses override it to remap loaded values."""
    if assign:
        return other.detach()
    return self.copy_(other).detach()


def slice_inverse(self, src, dim=0, start=None, end=None, step=1):
    """The inverse of ``src.slice(dim, start, end, step)`` (``self``): a view of ``self``'s storage with
    ``src``'s sizes, strides and offset (functionalization's view replay)."""
    return self.as_strided(tuple(src.size()), tuple(src.stride()), src.storage_offset())


def unsafe_split_with_sizes(self, split_sizes, dim=0):
    """``split_with_sizes`` (PyTorch's ``unsafe_`` form skips view tracking; ttorch's views need none)."""
    return self.split_with_sizes(split_sizes, dim)


def to_padded_tensor(self, padding, output_size=None):
    """A nested tensor padded into a dense one (``ttorch.nested.to_padded_tensor``); other tensors raise."""
    from .nested import to_padded_tensor as f
    return f(self, padding, output_size)


def slogdet(input, *, out=None):
    """``ttorch.slogdet`` / ``Tensor.slogdet``: ``linalg.slogdet`` returned as ``return_types.slogdet`` (PyTorch
    keeps the two names' result types apart)."""
    from . import linalg
    from .return_types import slogdet as rt
    return rt(linalg.slogdet(input, out=out))


def bind():
    Tensor.slogdet = lambda self: slogdet(self)
    for fn in (resize, resize_as, module_load, slice_inverse, unsafe_split_with_sizes):
        if not hasattr(Tensor, fn.__name__):
            setattr(Tensor, fn.__name__, fn)
    if "to_padded_tensor" not in Tensor.__dict__:
        Tensor.to_padded_tensor = to_padded_tensor
    if not hasattr(Tensor, "volatile"):
        Tensor.volatile = property(_get_volatile, _set_volatile)
