"""``ttorch.memory_format``: how a dense 4-D/5-D tensor lays out its dims in memory. ``contiguous_format`` is
row-major (N, C, H, W); ``channels_last`` keeps C fastest (strides of an (N, H, W, C) row-major array) and
``channels_last_3d`` likewise for (N, C, D, H, W); ``preserve_format`` (the default of ``clone``) keeps the
input's. ttorch's kernels take any strides, so a channels-last tensor is an ordinary strided tensor.

Differs from PyTorch: elementwise results and ``*_like`` are row-major whatever the input's layout (PyTorch's
follow a channels-last input); ``clone``, ``contiguous``, ``to``, ``Module.to`` and ``empty`` honour the format.
"""


class memory_format:
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"ttorch.{self.name}"

    def __reduce__(self):       # (the same object after pickling)
        return _by_name, (self.name,)


contiguous_format = memory_format("contiguous_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")
preserve_format = memory_format("preserve_format")
legacy_contiguous_format = contiguous_format        # (the same object in PyTorch)
_ORDER = {channels_last: (0, 2, 3, 1), channels_last_3d: (0, 2, 3, 4, 1)}   # dims from slowest to fastest


def _by_name(name):
    return globals()[name]


def is_contiguous_as(shape, stride, fmt):
    """Whether ``stride`` is ``fmt``'s dense layout of ``shape`` (dims of size 1 may have any stride)."""
    order = _ORDER[fmt]
    if len(shape) != len(order):
        return False
    expected = 1
    for d in reversed(order):
        if shape[d] == 0:
            return True
        if shape[d] != 1:
            if stride[d] != expected:
                return False
            expected *= shape[d]
    return True


def check_rank(t, fmt):
    if fmt in _ORDER and t.ndim != len(_ORDER[fmt]):
        raise RuntimeError(f"required rank {len(_ORDER[fmt])} tensor to use {fmt.name} format")


def copy_as(t, fmt):
    """A new copy of ``t`` laid out as ``fmt`` (in the graph)."""
    from .ops.movement import _clone
    if fmt not in _ORDER:
        return _clone(t)
    order = _ORDER[fmt]
    back = tuple(order.index(d) for d in range(len(order)))
    return _clone(t.permute(*order)).permute(*back)     # (the permuted view copied row-major, turned back)


def to_format(t, fmt):
    """``t`` in ``fmt``'s layout: itself when already so, else a copy (in the graph)."""
    if fmt is None or fmt is preserve_format:
        return t
    if fmt is contiguous_format:
        return t if t.is_contiguous() else copy_as(t, fmt)
    check_rank(t, fmt)
    return t if t.is_contiguous(memory_format=fmt) else copy_as(t, fmt)


def suggest(t):
    """The format ``preserve_format`` keeps for ``t``: channels-last when ``t`` is laid out so and not row-major."""
    if t.ndim in (4, 5) and t._stride is not None and not t.is_contiguous():
        fmt = channels_last if t.ndim == 4 else channels_last_3d
        if t.is_contiguous(memory_format=fmt):
            return fmt
    return contiguous_format
