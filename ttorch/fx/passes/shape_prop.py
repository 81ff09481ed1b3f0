"""ShapeProp: run a GraphModule and record each node's tensor metadata (PyTorch's ``fx.passes.shape_prop``).

``node.meta["tensor_meta"]`` is a TensorMetadata (shape, dtype, requires_grad, stride, memory_format,
is_quantized, qparams), or a structure of them for nodes that return tuples/lists; ``node.meta["type"]`` is
the result's type. Difference from PyTorch: ``is_quantized`` is False (quantized tensors are not traced).
"""
from typing import Any, NamedTuple

from ..interpreter import Interpreter
from ..node import map_aggregate


class TensorMetadata(NamedTuple):
    shape: Any
    dtype: Any
    requires_grad: bool
    stride: tuple
    memory_format: Any
    is_quantized: bool
    qparams: dict


def _extract_tensor_metadata(result):
    from ... import _memory_format as M
    fmt = None      # (PyTorch's: the first format the tensor is contiguous in, else None)
    for f in (M.contiguous_format, M.channels_last, M.channels_last_3d):
        if result.is_contiguous(memory_format=f):
            fmt = f
            break
    return TensorMetadata(result.shape, result.dtype, result.requires_grad, result.stride(), fmt, False, {})


class ShapeProp(Interpreter):
    """Interpreter that stores ``tensor_meta`` and ``type`` in every node's ``meta``.

    Example::

        >>> import ttorch, ttorch.fx as fx
        >>> from ttorch.fx.passes.shape_prop import ShapeProp
        >>> gm = fx.symbolic_trace(lambda x: x.sum(0))
        >>> _ = ShapeProp(gm).propagate(ttorch.ones(3, 2))
        >>> [n.meta["tensor_meta"].shape for n in gm.graph.nodes if n.op != "output"]
        [ttorch.Size([3, 2]), ttorch.Size([2])]
    """

    def run_node(self, n):
        from ..._tensor import Tensor
        result = super().run_node(n)
        found = []

        def extract(obj):
            if isinstance(obj, Tensor):
                found.append(True)
                return _extract_tensor_metadata(obj)
            return obj
        meta = map_aggregate(result, extract)
        if found:
            n.meta["tensor_meta"] = meta
        n.meta["type"] = type(result)
        return result

    def propagate(self, *args):
        """Run the module on ``args`` (sample inputs), filling the nodes' meta; returns the result."""
        return super().run(*args)
