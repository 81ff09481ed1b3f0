"""Random ops on DTensors (PyTorch's ``torch.distributed.tensor._random``): ``nn.init.*_``, ``uniform_``,
``normal_``, ``bernoulli_``, ``F.dropout`` and the ``rand``/``randn`` factories fill each rank's local tensor.

On a cuda mesh an ``OffsetBasedRNGTracker`` (made at the first random op, rank 0's generator state broadcast to
every rank, or by ``manual_seed(seed, mesh)``) moves the generator's Philox offset around each op as PyTorch
does: a rank's local shard starts at ``old + shard_index * first_shard_numel`` and every rank ends at ``old +
numel``, so the shards of a sharded tensor get different streams, its replicas the same one, and the ranks stay
in step. On any other mesh there is no tracker (PyTorch's ``is_rng_supported_mesh`` is False on cpu, with its
warning): each rank fills its local tensor from its own generator, and ``rand``/``randn`` raise as PyTorch's.

Deliberate difference: ttorch's Philox draws are not cuRAND's, so the values differ from PyTorch's for the same
seed and offset (the layout of the streams is PyTorch's).
"""
import contextlib
import warnings

__all__ = ["is_rng_supported_mesh", "manual_seed", "OffsetBasedRNGTracker"]

_rng_tracker = None


def is_rng_supported_mesh(device_mesh):
    """Whether DTensor random ops keep shards and replicas in step on ``device_mesh`` (cuda meshes only)."""
    if device_mesh.device_type == "cuda":
        return True
    warnings.warn(f"DTensor random operators may not have complete support on {device_mesh.device_type} device "
                  "mesh", stacklevel=2)
    return False


def manual_seed(seed, device_mesh):
    """Seed the generator of every rank of ``device_mesh`` (each must pass the same ``seed``); makes the tracker.
    On a mesh without RNG support it only warns, as PyTorch's."""
    global _rng_tracker
    if not is_rng_supported_mesh(device_mesh):
        warnings.warn(f"DTensor manual_seed() may not have complete support on {device_mesh.device_type} device "
                      "mesh", stacklevel=2)
        return
    if not _rng_tracker:
        _rng_tracker = OffsetBasedRNGTracker(device_mesh, run_state_sync=False)
    if device_mesh.get_coordinate() is None:
        raise RuntimeError("manual_seed requires the current rank to be a part of the device mesh otherwise DTensor "
                           "RNG state on the rank will not be initialized and the behavior of DTensor random ops is "
                           "undefined.")
    from ... import manual_seed as seed_all
    seed_all(seed)


def _mesh_device(mesh):
    """The device of the mesh's type this rank computes on (cuda: the current device)."""
    from ..._device import device
    if mesh.device_type == "cuda":
        from ... import cuda
        return device("cuda", cuda.current_device())
    return device(mesh.device_type)


def _generator(mesh):
    from ..._random import generator_for
    return generator_for(_mesh_device(mesh))


class OffsetBasedRNGTracker:
    """Keeps the ranks' Philox offsets in step around DTensor random ops (cuda meshes).

    Args:
        device_mesh (DeviceMesh): a cuda mesh.
        run_state_sync (bool): broadcast rank 0's generator seed and offset to every rank. Default: True.
    """

    def __init__(self, device_mesh, run_state_sync=True):
        if device_mesh.device_type == "cpu":
            raise RuntimeError(f"{type(self).__name__} instantiation requires the presence of CUDA/CUDA-like/XPU "
                               "device. Got cpu instead.")
        self.distribute_region_enabled = True
        if run_state_sync:
            from ..p2p import broadcast_object_list
            gen = _generator(device_mesh)
            state = [(gen._seed, gen._offset)]
            broadcast_object_list(state, src=0)
            gen._seed, gen._offset = state[0]

    @contextlib.contextmanager
    def _distribute_region(self, mesh, placements, shape, generator):
        """Run the random op of a DTensor (``mesh``, ``placements``, global ``shape``) drawing from
        ``generator`` at its shard's offset; afterwards every rank's offset is ``old + numel``."""
        if not self.distribute_region_enabled:
            yield
            return
        start, end = _offsets(mesh, placements, shape)
        old = generator._offset
        generator._offset = old + start
        try:
            yield
        finally:
            generator._offset = old + end


def _offsets(mesh, placements, shape):
    """PyTorch's ``_compute_rng_offsets``: (this rank's shard index * the first shard's numel, the numel), each
    rounded up to a multiple of 4. A tensor dim sharded over several mesh dims counts them in mesh order."""
    from .placement_types import Shard, _StridedShard
    coord = mesh.get_coordinate()
    index, count, first = [0] * len(shape), [1] * len(shape), list(shape)
    for i, p in enumerate(placements):
        if isinstance(p, (Shard, _StridedShard)):
            n = mesh.size(i)
            index[p.dim] = index[p.dim] * n + coord[i]
            count[p.dim] *= n
            first[p.dim] = -(-first[p.dim] // n)      # (rank 0's chunk: ceil, as ``ttorch.chunk``)
    linear, stride = 0, 1
    for i, c in zip(reversed(index), reversed(count)):
        linear += i * stride
        stride *= c
    local = 1
    for s in first:
        local *= s
    numel = 1
    for s in shape:
        numel *= s
    return (linear * local + 3) // 4 * 4, (numel + 3) // 4 * 4


def region(mesh, placements, shape, generator):
    """The context a DTensor random op runs in: the tracker's region on a supported mesh (the tracker made,
    and synced from rank 0, at the first op), nothing elsewhere (PyTorch's warning)."""
    global _rng_tracker
    if not _rng_tracker and is_rng_supported_mesh(mesh):
        _rng_tracker = OffsetBasedRNGTracker(mesh)
    if _rng_tracker is None or mesh.device_type == "cpu":
        return contextlib.nullcontext()
    return _rng_tracker._distribute_region(mesh, placements, shape, generator)
