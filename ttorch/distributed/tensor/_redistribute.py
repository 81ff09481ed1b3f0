"""Moving a DTensor between placements, each transition an autograd function on the local tensors.

Gradient convention (kept by every transition and sharding rule): the local gradient of a ``Shard``
tensor is its chunk of the global gradient; of a ``Replicate`` or ``Partial`` tensor, the whole global
gradient. The backward of each transition is then PyTorch's (``Redistribute.backward`` moves the gradient
back to the input's placements, ``Partial`` read as ``Replicate``): Shard -> Replicate (all-gather) goes
back by taking the chunk, Replicate -> Shard by an all-gather, Partial -> Replicate is the identity,
Partial -> Shard (reduce-scatter) an all-gather, Replicate -> Partial (``x / n`` for sum) the identity.
A ``Partial("avg")`` tensor's local gradient is the global one over n (its transitions scale by n).
Collectives run on host copies (``ttorch.distributed``); reduce-scatter is an all-reduce then a chunk.
"""
from ...autograd.function import Function
from .. import collectives, p2p
from .placement_types import Partial, Replicate, Shard, _StridedShard

_OPS = {"sum": "SUM", "avg": "SUM", "max": "MAX", "min": "MIN"}     # avg: a sum, then / n (gloo has no AVG)


def _gather(local, mesh, mesh_dim, dim):
    """The chunks of all ranks of ``mesh_dim`` joined along ``dim`` (uneven chunks allowed)."""
    import ttorch
    parts = [None] * mesh.size(mesh_dim)
    # objects, not tensors: chunks may differ in size (ttorch.chunk's last ones)
    p2p.all_gather_object(parts, local.detach().cpu().numpy(), group=mesh.get_group(mesh_dim))
    parts = [parts[mesh._group_rank(mesh_dim, i)] for i in range(len(parts))]     # group order -> mesh order
    out = ttorch.cat([ttorch.from_numpy(a.copy()) for a in parts], dim)
    return out.to(local.device)


def _reduce(local, mesh, mesh_dim, reduce_op):
    from ..distributed_c10d import ReduceOp
    out = local.detach().clone()
    collectives.all_reduce(out, getattr(ReduceOp, _OPS[reduce_op]), group=mesh.get_group(mesh_dim))
    return out / mesh.size(mesh_dim) if reduce_op == "avg" else out


def _scale(g, mesh, mesh_dim, reduce_op, inverse=False):
    """A ``Partial(avg)`` tensor's local gradient is the global one over n (each rank's part counts 1/n)."""
    if reduce_op != "avg":
        return g
    n = mesh.size(mesh_dim)
    return g * n if inverse else g / n


def _chunk(t, mesh, mesh_dim, dim):
    return Shard(dim)._split(t, mesh.size(mesh_dim))[mesh.get_local_rank(mesh_dim)].contiguous()


class _AllGather(Function):      # Shard(dim) -> Replicate
    @staticmethod
    def forward(ctx, x, mesh, mesh_dim, dim):
        ctx.args = mesh, mesh_dim, dim
        return _gather(x, mesh, mesh_dim, dim)

    @staticmethod
    def backward(ctx, g):
        return _ShardOut.apply(g, *ctx.args), None, None, None


class _ShardOut(Function):       # Replicate -> Shard(dim): the local chunk
    @staticmethod
    def forward(ctx, x, mesh, mesh_dim, dim):
        ctx.args = mesh, mesh_dim, dim
        return _chunk(x, mesh, mesh_dim, dim)

    @staticmethod
    def backward(ctx, g):
        return _AllGather.apply(g, *ctx.args), None, None, None


class _AllReduce(Function):      # Partial -> Replicate
    @staticmethod
    def forward(ctx, x, mesh, mesh_dim, reduce_op):
        ctx.args = mesh, mesh_dim, reduce_op
        return _reduce(x, mesh, mesh_dim, reduce_op)

    @staticmethod
    def backward(ctx, g):
        return _scale(g, *ctx.args), None, None, None


class _ReduceScatter(Function):  # Partial -> Shard(dim)
    @staticmethod
    def forward(ctx, x, mesh, mesh_dim, reduce_op, dim):
        ctx.args, ctx.op = (mesh, mesh_dim, dim), reduce_op
        return _chunk(_reduce(x, mesh, mesh_dim, reduce_op), mesh, mesh_dim, dim)

    @staticmethod
    def backward(ctx, g):
        mesh, mesh_dim, _ = ctx.args
        return _scale(_AllGather.apply(g, *ctx.args), mesh, mesh_dim, ctx.op), None, None, None, None


class _Partition(Function):      # Replicate -> Partial: PyTorch's ``_partition_value``
    @staticmethod
    def forward(ctx, x, mesh, mesh_dim, reduce_op):
        ctx.args = mesh, mesh_dim, reduce_op
        if reduce_op == "sum":
            return x / mesh.size(mesh_dim)
        if reduce_op in ("avg", "min", "max"):
            return x.clone()
        raise ValueError(f"Replicate to Partial({reduce_op}) conversion is not supported.")

    @staticmethod
    def backward(ctx, g):
        return _scale(g, *ctx.args, inverse=True), None, None, None


class _GradAllReduce(Function):
    """Identity forward, all-reduce (sum) of the gradient: a ``Replicate`` operand of an op whose work is split
    over ``mesh_dim`` (its output there ``Shard`` or ``Partial``) gets only part of its gradient on each rank."""

    @staticmethod
    def forward(ctx, x, mesh, mesh_dim):
        ctx.args = mesh, mesh_dim
        return x.view_as(x)

    @staticmethod
    def backward(ctx, g):
        return _reduce(g, *ctx.args, "sum"), None, None


def grad_all_reduce(local, mesh, mesh_dim):
    return _GradAllReduce.apply(local, mesh, mesh_dim) if local.requires_grad else local


def redistribute_local(local, mesh, src, dst):
    """``local`` (placements ``src``) as the local tensor of placements ``dst``, on every mesh dim."""
    src, dst = list(src), list(dst)
    if src == dst:
        return local
    # FSDP2 + TP's ``_StridedShard`` cuts the part the later mesh dims leave: gathered first, cut last
    for i, p in enumerate(src):
        if isinstance(p, _StridedShard):
            local = _AllGather.apply(local, mesh, i, p.dim)
            src[i] = Replicate()
    strided = [(i, p) for i, p in enumerate(dst) if isinstance(p, _StridedShard)]
    for i, p in strided:
        dst[i] = Replicate()
    local = _redistribute_plain(local, mesh, src, dst)
    for i, p in strided:
        local = _ShardOut.apply(local, mesh, i, p.dim)
    return local


def _redistribute_plain(local, mesh, src, dst):
    if src == dst:
        return local
    cur = list(src)
    # 1. gather the shards that change, last mesh dim first (nested shards of one tensor dim unwind in
    #    that order), and every shard after a change (its chunk would be cut from a different whole)
    first = min(i for i in range(len(src)) if src[i] != dst[i])
    for i in reversed(range(len(src))):
        if isinstance(cur[i], Shard) and (cur[i] != dst[i] or i > first):
            local = _AllGather.apply(local, mesh, i, cur[i].dim)
            cur[i] = Replicate()
    # 2. then every mesh dim to its target, first to last (chunks nest in mesh order)
    for i in range(len(src)):
        c, d = cur[i], dst[i]
        if c == d:
            continue
        if isinstance(c, Partial):
            if isinstance(d, Shard):
                local = _ReduceScatter.apply(local, mesh, i, c.reduce_op, d.dim)
                continue
            local = _AllReduce.apply(local, mesh, i, c.reduce_op)
            c = Replicate()
            if isinstance(d, Replicate):
                continue
        if isinstance(d, Shard):
            local = _ShardOut.apply(local, mesh, i, d.dim)
        elif isinstance(d, Partial):
            local = _Partition.apply(local, mesh, i, d.reduce_op)
    return local
