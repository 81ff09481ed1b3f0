"""``ttorch.accelerator.graphs``: PyTorch's device-generic graph capture, which ttorch cannot do
(see ``ttorch.cuda.graphs``)."""


class Graph:
    """An accelerator graph. Raises RuntimeError: ttorch cannot capture graphs (its kernels run on
    the default stream, which stream capture does not support)."""

    def __new__(cls, keep_graph=False, *, pool=None, capture_error_mode="default"):
        from ..cuda.graphs import _REASON
        raise RuntimeError(_REASON)
