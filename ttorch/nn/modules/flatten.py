"""``Identity``, ``Flatten`` and ``Unflatten``: shape-only modules."""
from .module import Module

__all__ = ["Identity", "Flatten", "Unflatten"]


class Identity(Module):
    r"""Returns its input; any constructor arguments are ignored.

    Example::

        >>> Identity(54, unused="x")(ttorch.ones(2)).shape
        ttorch.Size([2])
    """

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Flatten(Module):
    r"""Flattens dims ``start_dim`` to ``end_dim`` into one (a view where possible).

    Shape:
        - Input: :math:`(*, S_{start}, ..., S_{end}, *)`
        - Output: :math:`(*, \prod S, *)`

    Example::

        >>> Flatten()(ttorch.zeros(32, 1, 5, 5)).shape
        ttorch.Size([32, 25])
    """

    __constants__ = ["start_dim", "end_dim"]

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input):
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    r"""Expands dim ``dim`` into ``unflattened_size``.

    Args:
        dim (int or str): the dim to unflatten.
        unflattened_size (tuple or list of ints): its new shape (one entry may be -1).

    Example::

        >>> Unflatten(1, (2, 5, 5))(ttorch.zeros(2, 50)).shape
        ttorch.Size([2, 2, 5, 5])
    """

    __constants__ = ["dim", "unflattened_size"]

    def __init__(self, dim, unflattened_size):
        super().__init__()
        if isinstance(dim, int):
            self._require_tuple_int(unflattened_size)
        else:
            raise TypeError("invalid argument type for dim parameter")
        self.dim = dim
        self.unflattened_size = unflattened_size

    def _require_tuple_int(self, input):
        if isinstance(input, (tuple, list)):
            for idx, elem in enumerate(input):
                if not isinstance(elem, int):
                    raise TypeError("unflattened_size must be tuple of ints, "
                                    f"but found element of type {type(elem).__name__} at pos {idx}")
            return
        raise TypeError(f"unflattened_size must be a tuple of ints, but found type {type(input).__name__}")

    def forward(self, input):
        return input.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
