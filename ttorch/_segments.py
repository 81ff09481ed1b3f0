"""``ttorch.segment_reduce``: reductions over consecutive segments of ``data`` along ``axis`` (``lengths`` or
``offsets`` give the segments), composed of ``scatter_reduce`` so it runs on both devices and is differentiable
(ties of max/min share the gradient evenly, as PyTorch's). An empty segment is the reduction's identity (mean:
NaN), or ``initial`` when given; ``initial`` also joins every segment's sum/prod/max/min, and mean's sum (not its
count), as in PyTorch."""

__all__ = ["segment_reduce"]

_REDUCE = {"sum": "sum", "prod": "prod", "mean": "sum", "max": "amax", "min": "amin", "amax": "amax",
           "amin": "amin"}
_IDENTITY = {"sum": 0.0, "prod": 1.0, "amax": float("-inf"), "amin": float("inf")}


def segment_reduce(data, reduce, *, lengths=None, indices=None, offsets=None, axis=0, unsafe=False, initial=None):
    """Reduce (``"sum"``, ``"mean"``, ``"max"``, ``"min"``, ``"prod"``) each segment of ``data`` along ``axis``:
    segment ``i`` is the next ``lengths[i]`` slices (or those from ``offsets[i]`` to ``offsets[i + 1]``).

    Example::

        >>> import ttorch
        >>> ttorch.segment_reduce(ttorch.tensor([1., 2, 3, 4, 5]), "sum", lengths=ttorch.tensor([2, 3])).tolist()
        [3.0, 12.0]
    """
    from .ops import FUNCTIONS as F
    if reduce not in _REDUCE:
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got {reduce}")
    if indices is not None:
        raise RuntimeError("segment_reduce(): indices based reduction is not supported yet.")
    if lengths is None:
        if offsets is None:
            raise RuntimeError("segment_reduce(): Either lengths or offsets must be defined.")
        lengths = offsets[..., 1:] - offsets[..., :-1]
    axis = axis + data.dim() if axis < 0 else axis
    if axis != lengths.dim() - 1:
        raise RuntimeError(f"segment_reduce(): Expected axis to be the last dimension of lengths but got {axis}.")
    if lengths.dim() != 1:
        raise NotImplementedError("segment_reduce(): ttorch takes 1-D lengths (segments along dim 0)")
    if not unsafe and int(lengths.sum()) != data.shape[0]:
        raise RuntimeError("segment_reduce(): Expected all rows of lengths along axis to sum to "
                           "data.size(lengths.dim()-1) when !unsafe.")
    red = _REDUCE[reduce]
    n = lengths.shape[0]
    seg = F["repeat_interleave"](F["arange"](n, device=data.device), lengths.to(data.device).long())
    index = seg.reshape((-1,) + (1,) * (data.dim() - 1)).expand(data.shape)
    start = _IDENTITY[red] if initial is None else float(initial)
    base = F["full"]((n,) + tuple(data.shape[1:]), start, dtype=data.dtype, device=data.device)
    out = base.scatter_reduce(0, index, data, red, include_self=True)
    if reduce == "mean":
        count = lengths.to(data.device, data.dtype).reshape((-1,) + (1,) * (data.dim() - 1))
        empty = float("nan") if initial is None else float(initial)
        out = F["where"](count > 0, out / count.clamp(min=1), F["full_like"](out, empty))
    return out
