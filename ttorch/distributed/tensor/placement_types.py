"""Placements: how a DTensor's global value lies over one mesh dimension (PyTorch's ``placement_types``).

``Shard(dim)``: split along ``dim`` as ``ttorch.chunk`` splits (the last ranks may hold less, or nothing);
``Replicate()``: every rank holds the whole; ``Partial(reduce_op)``: the global value is the reduction
(``"sum"``, ``"avg"``, ``"max"``, ``"min"``) of the ranks' local values. ``_StridedShard(dim, split_factor)``
(private, as in PyTorch): FSDP2's layout of a tensor-parallel parameter, cut along ``dim`` after the later mesh
dims have cut it (``fully_shard`` over a ``Shard(dim)`` TP parameter).
"""

__all__ = ["Placement", "Shard", "Replicate", "Partial"]


class Placement:
    """Base class of the placements."""

    def is_shard(self, dim=None):
        return False

    def is_replicate(self):
        return False

    def is_partial(self, reduce_op=None):
        return False


class Shard(Placement):
    """Split the tensor along ``dim`` over the mesh dimension (chunks as ``ttorch.chunk`` makes them)."""

    def __init__(self, dim=0):
        self.dim = dim

    def is_shard(self, dim=None):
        return dim is None or dim == self.dim

    def _split(self, tensor, n):
        """The ``n`` chunks of ``tensor`` along ``dim``; empty ones where ``ttorch.chunk`` makes fewer."""
        size = tensor.shape[self.dim]
        step = -(-size // n) if size else 0
        return [tensor.narrow(self.dim, min(i * step, size), max(0, min(step, size - i * step))) for i in range(n)]

    def __eq__(self, other):
        return type(other) is Shard and other.dim == self.dim

    def __hash__(self):
        return hash(("Shard", self.dim))

    def __repr__(self):
        return f"Shard(dim={self.dim})"

    def __str__(self):
        return f"S({self.dim})"


class Replicate(Placement):
    """Every rank of the mesh dimension holds the whole tensor."""

    def is_replicate(self):
        return True

    def __eq__(self, other):
        return type(other) is Replicate

    def __hash__(self):
        return hash("Replicate")

    def __repr__(self):
        return "Replicate()"

    def __str__(self):
        return "R"


class Partial(Placement):
    """The global tensor is ``reduce_op`` over the ranks' local tensors (pending reduction)."""

    def __init__(self, reduce_op="sum"):
        self.reduce_op = reduce_op

    def is_partial(self, reduce_op=None):
        return reduce_op is None or reduce_op == self.reduce_op

    def __eq__(self, other):
        return type(other) is Partial and other.reduce_op == self.reduce_op

    def __hash__(self):
        return hash(("Partial", self.reduce_op))

    def __repr__(self):
        return f"Partial({self.reduce_op})"

    def __str__(self):
        return f"P({self.reduce_op})"


class _StridedShard(Placement):
    """FSDP2 + TP: this mesh dim cuts ``dim`` of the local part the later mesh dims leave (there
    ``split_factor`` shards of ``dim``), so a rank holds its chunk of its TP shard, not a contiguous chunk
    of the whole. Redistribution gathers it first and cuts it last (``_redistribute.redistribute_local``);
    not a ``Shard`` for the sharding rules (an op gathers it first, ``_dispatch.handle``)."""

    def __init__(self, dim=0, split_factor=1):
        self.dim, self.split_factor = dim, split_factor

    def is_shard(self, dim=None):
        return dim is None or dim == self.dim

    def __eq__(self, other):
        return type(other) is _StridedShard and (other.dim, other.split_factor) == (self.dim, self.split_factor)

    def __hash__(self):
        return hash(("_StridedShard", self.dim, self.split_factor))

    def __repr__(self):
        return f"_StridedShard(dim={self.dim}, sf={self.split_factor})"

    def __str__(self):
        return f"_S({self.dim}, {self.split_factor})"
