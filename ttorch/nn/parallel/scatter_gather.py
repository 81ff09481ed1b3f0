"""``scatter``/``gather`` of nested inputs and outputs across devices, as ``nn.DataParallel`` uses them.

Tensors are split along ``dim`` into one chunk per device (``Tensor.chunk``) and copied there; tuples,
lists, dicts and namedtuples are walked; anything else is repeated per device. The copies and the
concatenation are ttorch ops, so gradients flow back to the scattered input, as through PyTorch's
``Scatter``/``Gather`` functions.
"""
from ..._tensor import Tensor

__all__ = ["scatter", "scatter_kwargs", "gather"]


def _is_namedtuple(obj):
    return isinstance(obj, tuple) and hasattr(obj, "_asdict") and hasattr(obj, "_fields")


def _device(d):
    from ...cuda.comm import _device as dev
    return dev(d, allow_cpu=True)


def scatter(inputs, target_gpus, dim=0):
    """Per device in ``target_gpus``, its share of ``inputs`` (a list; a tuple of chunks for a tensor).

    Example::

        >>> from ttorch.nn.parallel.scatter_gather import scatter
        >>> [c.tolist() for c in scatter(ttorch.arange(4.), ["cpu", "cpu"])]
        [[0.0, 1.0], [2.0, 3.0]]
    """
    def scatter_map(obj):
        if isinstance(obj, Tensor):
            chunks = obj.chunk(len(target_gpus), dim)
            return tuple(c.to(_device(d), copy=True) for c, d in zip(chunks, target_gpus))
        if _is_namedtuple(obj):
            return [type(obj)(*args) for args in zip(*map(scatter_map, obj))]
        if isinstance(obj, tuple) and len(obj) > 0:
            return list(zip(*map(scatter_map, obj)))
        if isinstance(obj, list) and len(obj) > 0:
            return [list(i) for i in zip(*map(scatter_map, obj))]
        if isinstance(obj, dict) and len(obj) > 0:
            return [type(obj)(i) for i in zip(*map(scatter_map, obj.items()))]
        return [obj for _ in target_gpus]
    return scatter_map(inputs)


def scatter_kwargs(inputs, kwargs, target_gpus, dim=0):
    """``scatter`` of the positional ``inputs`` and of ``kwargs``, padded to the same length."""
    scattered_inputs = scatter(inputs, target_gpus, dim) if inputs else []
    scattered_kwargs = scatter(kwargs, target_gpus, dim) if kwargs else []
    if len(scattered_inputs) < len(scattered_kwargs):
        scattered_inputs.extend(() for _ in range(len(scattered_kwargs) - len(scattered_inputs)))
    elif len(scattered_kwargs) < len(inputs):
        scattered_kwargs.extend({} for _ in range(len(scattered_inputs) - len(scattered_kwargs)))
    return tuple(scattered_inputs), tuple(scattered_kwargs)


def gather(outputs, target_device, dim=0):
    """One object from the per-device ``outputs``: tensors concatenated along ``dim`` on
    ``target_device`` (``"cpu"`` or -1 for the host), containers gathered field by field.

    Example::

        >>> from ttorch.nn.parallel.scatter_gather import gather
        >>> gather([{"y": ttorch.ones(1)}, {"y": ttorch.zeros(2)}], "cpu")["y"].tolist()
        [1.0, 0.0, 0.0]
    """
    from ... import cat
    dest = _device(target_device)

    def gather_map(outs):
        out = outs[0]
        if isinstance(out, Tensor):
            if out.dim() == 0:        # PyTorch's Gather warns and unsqueezes scalars into a vector
                import warnings
                warnings.warn("Was asked to gather along dimension 0, but all input tensors were scalars; "
                              "will instead unsqueeze and return a vector.", stacklevel=3)
                outs = [t.reshape(1) for t in outs]
            return cat([t.to(dest) for t in outs], dim)
        if out is None:
            return None
        if isinstance(out, dict):
            if not all(len(out) == len(d) for d in outs):
                raise ValueError("All dicts must have the same number of keys")
            return type(out)((k, gather_map([d[k] for d in outs])) for k in out)
        if _is_namedtuple(out):
            return type(out)(*map(gather_map, zip(*outs)))
        return type(out)(map(gather_map, zip(*outs)))
    return gather_map(outputs)
