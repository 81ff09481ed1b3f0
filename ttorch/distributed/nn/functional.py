"""Collectives that autograd differentiates, PyTorch's ``torch.distributed.nn.functional``.

Each returns new tensors (the in-place collectives of ``ttorch.distributed`` bypass autograd) and has
the adjoint collective as its backward: all_gather <-> reduce_scatter, broadcast <-> reduce,
gather <-> scatter, all_to_all <-> all_to_all, and all_reduce is its own (with the same ``op``, as
PyTorch's: right for ``SUM``, and ``AVG``). The backwards are themselves these functions, so
``create_graph=True`` differentiates through them again. Every rank of ``group`` must call the
function and run the backward, as with any collective.

Example (SimCLR/CLIP: embeddings of every rank, gradients back to each rank's own)::

    >>> # on each rank: z = model(x_local)
    >>> # z_all = ttorch.cat(ttorch.distributed.nn.functional.all_gather(z))
    >>> # loss(z_all).backward()    # z.grad: the sum over ranks of d loss_r / d z

Differences from PyTorch: ``src``/``dst`` are global ranks throughout (PyTorch compares them with the
group rank in places, wrong for subgroups), and PyTorch's FutureWarnings, which point to its
``_functional_collectives``, are not raised.
"""
from ... import distributed as dist
from ...autograd.function import Function
from ...ops import FUNCTIONS as _F

__all__ = ["broadcast", "gather", "scatter", "reduce", "reduce_scatter", "all_gather", "all_to_all",
           "all_to_all_single", "all_reduce"]

_SUM = dist.ReduceOp.SUM


def broadcast(tensor, src, group=None):
    """Rank ``src``'s ``tensor``, returned on every rank of ``group``; its gradient is the sum of
    every rank's gradient, on ``src`` (zero elsewhere)."""
    return _Broadcast.apply(src, group, tensor)


def gather(tensor, dst=0, group=None):
    """A tuple of every rank's ``tensor`` (in group-rank order) on rank ``dst``, zeros elsewhere."""
    return _Gather.apply(dst, group, tensor)


def scatter(tensors, src=0, group=None):
    """Rank ``r`` gets rank ``src``'s ``tensors[r]``. Every rank passes a list of ``world_size``
    tensors of the same shape (only the source's values are read), as PyTorch's requires."""
    return _Scatter.apply(src, group, *tensors)


def reduce(tensor, dst, op=_SUM, group=None):
    """The reduction of every rank's ``tensor`` with ``op`` on rank ``dst`` (a copy of the input elsewhere)."""
    return _Reduce.apply(dst, op, group, tensor)


def reduce_scatter(output, input_list, op=_SUM, group=None):
    """Rank ``r`` gets the reduction over ranks of their ``input_list[r]``, written into ``output``
    (when contiguous) and returned."""
    return _Reduce_Scatter.apply(op, group, output, *input_list)


def all_gather(tensor, group=None):
    """A tuple of every rank's ``tensor``, in group-rank order, on every rank."""
    return _AllGather.apply(group, tensor)


def all_to_all(output_tensor_list, input_tensor_list, group=None):
    """Rank ``r`` sends ``input_tensor_list[j]`` to rank ``j``; returns the received tensors (written
    into ``output_tensor_list``) as a tuple."""
    return _AlltoAll.apply(group, output_tensor_list, *input_tensor_list)


def all_to_all_single(output, input, output_split_sizes=None, input_split_sizes=None, group=None):
    """``all_to_all`` of ``input`` split along dim 0 into ``output`` (equal chunks, or the split sizes)."""
    return _AlltoAllSingle.apply(group, output, output_split_sizes, input_split_sizes, input)


def all_reduce(tensor, op=_SUM, group=None):
    """The reduction of every rank's ``tensor`` with ``op``, bit-identical on every rank."""
    return _AllReduce.apply(op, group, tensor)


def _global_rank():
    return dist.get_rank()


class _Collective(Function):
    """Base of the collectives' Functions: no forward-mode AD (the collectives write in place and carry
    no tangents), which raises as PyTorch's do rather than give a wrong tangent."""

    @staticmethod
    def jvp(ctx, *grad_inputs):
        return Function.jvp(ctx, *grad_inputs)


class _Broadcast(_Collective):
    @staticmethod
    def forward(ctx, src, group, tensor):
        ctx.src, ctx.group = src, group
        tensor = tensor.clone()   # the collective writes in place: work on a copy
        dist.broadcast(tensor, src, group=group)
        return tensor

    @staticmethod
    def backward(ctx, grad_output):
        gx = _Reduce.apply(ctx.src, _SUM, ctx.group, grad_output)
        if ctx.src != _global_rank():   # only the source's tensor reached the outputs
            gx = _F["zeros_like"](gx)
        return None, None, gx


class _Gather(_Collective):
    @staticmethod
    def forward(ctx, dst, group, tensor):
        ctx.dst, ctx.group = dst, group
        tensor_list = [_F["zeros_like"](tensor) for _ in range(dist.get_world_size(group))]
        tensor = tensor.contiguous()
        dist.gather(tensor, tensor_list if _global_rank() == dst else None, dst, group=group)
        return tuple(tensor_list)

    @staticmethod
    def backward(ctx, *grad_outputs):
        return (None, None, _Scatter.apply(ctx.dst, ctx.group, *grad_outputs))


class _Scatter(_Collective):
    @staticmethod
    def forward(ctx, src, group, *tensors):
        ctx.src, ctx.group = src, group
        if not all(t.size() == tensors[0].size() for t in tensors):
            raise AssertionError("scatter: the tensors must all have the same size")
        output = _F["zeros_like"](tensors[0])
        dist.scatter(output, list(tensors) if _global_rank() == src else None, src, group=group)
        return output

    @staticmethod
    def backward(ctx, grad_output):
        return (None, None) + _Gather.apply(ctx.src, ctx.group, grad_output)


class _Reduce(_Collective):
    @staticmethod
    def forward(ctx, dst, op, group, tensor):
        ctx.dst, ctx.group = dst, group
        tensor = tensor.clone()
        dist.reduce(tensor, dst, op=op, group=group)
        return tensor

    @staticmethod
    def backward(ctx, grad_output):
        return (None, None, None, _Broadcast.apply(ctx.dst, ctx.group, grad_output))


class _Reduce_Scatter(_Collective):
    @staticmethod
    def forward(ctx, op, group, tensor, *input_tensor_list):
        ctx.group = group
        tensor = tensor.contiguous()
        dist.reduce_scatter(tensor, [t.contiguous() for t in input_tensor_list], op=op, group=group)
        return tensor

    @staticmethod
    def backward(ctx, grad_output):
        return (None, None, None) + _AllGather.apply(ctx.group, grad_output)


class _AllGather(_Collective):
    @staticmethod
    def forward(ctx, group, tensor):
        ctx.group = group
        tensor = tensor.contiguous()
        out = [_F["empty_like"](tensor) for _ in range(dist.get_world_size(group))]
        dist.all_gather(out, tensor, group=group)
        return tuple(out)

    @staticmethod
    def backward(ctx, *grad_outputs):
        # rank r's input reached every rank's r-th output: its gradient is their sum over ranks
        gx = _F["empty_like"](grad_outputs[dist.get_rank(ctx.group)])
        return (None, _Reduce_Scatter.apply(_SUM, ctx.group, gx, *grad_outputs))


class _AlltoAll(_Collective):
    @staticmethod
    def forward(ctx, group, out_tensor_list, *tensors):
        ctx.group = group
        ctx.input_sizes = [t.size() for t in tensors]
        dist.all_to_all(out_tensor_list, [t.contiguous() for t in tensors], group=group)
        return tuple(out_tensor_list)

    @staticmethod
    def backward(ctx, *grad_outputs):
        g0 = grad_outputs[0]
        out = [_F["empty"](s, dtype=g0.dtype, device=g0.device) for s in ctx.input_sizes]
        return (None, None) + _AlltoAll.apply(ctx.group, out, *grad_outputs)


class _AlltoAllSingle(_Collective):
    @staticmethod
    def forward(ctx, group, output, output_split_sizes, input_split_sizes, input):
        ctx.group, ctx.input_size = group, input.size()
        # the backward sends the gradient back the way the values came: the split sizes swap
        ctx.output_split_sizes, ctx.input_split_sizes = input_split_sizes, output_split_sizes
        dist.all_to_all_single(output, input, output_split_sizes, input_split_sizes, group=group)
        return output

    @staticmethod
    def backward(ctx, grad_output):
        out = _F["empty"](ctx.input_size, dtype=grad_output.dtype, device=grad_output.device)
        return (None, None, None, None, _AlltoAllSingle.apply(ctx.group, out, ctx.output_split_sizes,
                                                              ctx.input_split_sizes, grad_output.contiguous()))


class _AllReduce(_Collective):
    @staticmethod
    def forward(ctx, op, group, tensor):
        ctx.group, ctx.op = group, op
        tensor = tensor.clone().contiguous()
        dist.all_reduce(tensor, op=op, group=group)
        return tensor

    @staticmethod
    def backward(ctx, grad_output):
        return (None, None, _AllReduce.apply(ctx.op, ctx.group, grad_output))
