"""The default planners (PyTorch's ``DefaultSavePlanner`` and ``DefaultLoadPlanner``).

Save: every rank proposes one ``WriteItem`` per leaf of its (flattened) state dict: a plain tensor as one
chunk at offset 0 (it is taken as replicated), a DTensor as its local shard at the shard's global offsets,
any other value as bytes. The coordinator keeps each (key, offset) once, given to the rank with the fewest
bytes planned so far (replicated data is written by one rank), and builds the ``Metadata``.

Load reshards: each tensor or DTensor of the state dict to load into asks for its own region (a DTensor's
local shard; a plain tensor, the whole), and gets one ``ReadItem`` for every saved chunk that overlaps it,
whatever the ranks and placements that wrote the checkpoint.
"""
import io

from ...autograd import grad_mode
from ..._tensor import Size, Tensor
from ._nested_dict import flatten_state_dict, set_element
from .metadata import (BytesStorageMetadata, ChunkStorageMetadata, Metadata, MetadataIndex, TensorProperties,
                       TensorStorageMetadata)
from .planner import (LoadItemType, LoadPlan, LoadPlanner, ReadItem, SavePlan, SavePlanner, TensorWriteData,
                      WriteItem, WriteItemType)

__all__ = ["DefaultSavePlanner", "DefaultLoadPlanner", "create_default_local_save_plan",
           "create_default_global_save_plan", "create_default_local_load_plan"]


def _dtensor_type():
    from ..tensor import DTensor
    return DTensor


def _local_chunk(obj):
    """``ChunkStorageMetadata`` of the region of the global tensor this rank holds (chunks nest in mesh
    order, each split as ``ttorch.chunk`` splits), or None when this rank is not in a DTensor's mesh."""
    if not isinstance(obj, _dtensor_type()):
        return ChunkStorageMetadata(Size([0] * obj.ndim), Size(obj.shape))
    mesh = obj.device_mesh
    coord = mesh.get_coordinate()
    if coord is None:
        return None
    offsets, sizes = [0] * obj.ndim, list(obj.shape)
    for i, p in enumerate(obj.placements):
        if p.is_shard():
            d, n, c = p.dim, mesh.size(i), coord[i]
            step = -(-sizes[d] // n) if sizes[d] else 0
            offsets[d] += min(c * step, sizes[d])
            sizes[d] = max(0, min(step, sizes[d] - c * step))
    return ChunkStorageMetadata(Size(offsets), Size(sizes))


def _local_tensor(obj):
    return obj._local_tensor if isinstance(obj, _dtensor_type()) else obj


def _numel(sizes):
    n = 1
    for s in sizes:
        n *= s
    return n


def _narrow(tensor, offsets, lengths):
    for d, (o, n) in enumerate(zip(offsets, lengths)):
        if o != 0 or n != tensor.shape[d]:
            tensor = tensor.narrow(d, o, n)
    return tensor


# ---------------------------------------------------------------------------------------------- save
def create_default_local_save_plan(state_dict, is_coordinator):
    """One ``WriteItem`` per value of the flat ``state_dict`` (a DTensor: its local shard)."""
    items = []
    for fqn, obj in state_dict.items():
        if isinstance(obj, Tensor):
            chunk = _local_chunk(obj)
            if chunk is None or (_numel(chunk.sizes) == 0 and obj.numel() != 0):
                continue            # (not in the mesh, or an empty shard: others write the data)
            kind = WriteItemType.SHARD if isinstance(obj, _dtensor_type()) else WriteItemType.TENSOR
            items.append(WriteItem(MetadataIndex(fqn, chunk.offsets), kind, tensor_data=TensorWriteData(
                chunk, TensorProperties.create_from_tensor(_local_tensor(obj)), Size(obj.shape))))
        else:
            items.append(WriteItem(MetadataIndex(fqn), WriteItemType.BYTE_IO))
    return SavePlan(items)


def _dedup(all_plans, save_to_lowest_rank=False):
    """Each (key, offset) planned by several ranks kept on one: the lowest rank, or the one with the fewest
    bytes planned so far (ties to the lowest rank)."""
    owners, first = {}, {}
    for r, plan in enumerate(all_plans):
        for item in plan.items:
            owners.setdefault(item.index, []).append(r)
            first.setdefault(item.index, item)
    load = [0] * len(all_plans)
    for index, ranks in owners.items():
        if len(ranks) == 1:
            load[ranks[0]] += first[index].tensor_storage_size() or 1
    keep = {}
    for index, ranks in owners.items():
        if len(ranks) > 1:
            r = ranks[0] if save_to_lowest_rank else min(ranks, key=lambda q: (load[q], q))
            load[r] += first[index].tensor_storage_size() or 1
            keep[index] = r
    out = []
    for r, plan in enumerate(all_plans):
        items = [it for it in plan.items if keep.get(it.index, r) == r]
        out.append(SavePlan(items, plan.storage_data, plan.planner_data, plan.usable))
    return out


def create_default_global_save_plan(all_plans, rewrite_index_hints=True):
    """The plans with index hints set, and the ``Metadata`` of every item."""
    md, new_plans = {}, []
    for plan in all_plans:
        items = []
        for item in plan.items:
            if item.type is WriteItemType.BYTE_IO:
                md[item.index.fqn] = BytesStorageMetadata()
                items.append(item)
                continue
            td = item.tensor_data
            entry = md.setdefault(item.index.fqn, TensorStorageMetadata(td.properties, td.size, []))
            if not isinstance(entry, TensorStorageMetadata):
                raise ValueError(f"Failed to validate global plan: {item.index.fqn} is a tensor on some ranks and "
                                 "not on others")
            if rewrite_index_hints:
                item = WriteItem(MetadataIndex(item.index.fqn, item.index.offset, len(entry.chunks)), item.type,
                                 item.bytes_io_data, td)
            entry.chunks.append(td.chunk)
            items.append(item)
        new_plans.append(SavePlan(items, plan.storage_data, plan.planner_data, plan.usable))
    return new_plans, Metadata(md)


class DefaultSavePlanner(SavePlanner):
    """The planner ``save`` uses by default (see the module docstring).

    Args:
        flatten_state_dict (bool): save nested dicts and lists under dotted keys (default True).
        flatten_sharded_tensors (bool): accepted (ttorch has no ShardedTensor).
        dedup_replicated_tensors: deprecated, accepted.
        dedup_save_to_lowest_rank (bool): give replicated data to the lowest rank instead of balancing bytes.
        enable_plan_caching (bool): accepted; plans are made afresh each save.
    """

    def __init__(self, flatten_state_dict=True, flatten_sharded_tensors=True, dedup_replicated_tensors=None,
                 dedup_save_to_lowest_rank=False, enable_plan_caching=False):
        self.flatten_state_dict = flatten_state_dict
        self.flatten_sharded_tensors = flatten_sharded_tensors
        self.dedup_save_to_lowest_rank = dedup_save_to_lowest_rank
        self.enable_plan_caching = enable_plan_caching
        self.mappings = {}

    def set_up_planner(self, state_dict, storage_meta=None, is_coordinator=False):
        if self.flatten_state_dict:
            state_dict, self.mappings = flatten_state_dict(state_dict)
        self.state_dict = _reduce_partials(state_dict)
        self.storage_meta, self.is_coordinator = storage_meta, is_coordinator

    def create_local_plan(self):
        plan = create_default_local_save_plan(self.state_dict, self.is_coordinator)
        if self.flatten_state_dict:
            plan = SavePlan(plan.items, plan.storage_data, self.mappings, plan.usable)
        self.plan = plan
        return plan

    def create_global_plan(self, all_plans):
        all_plans = _dedup(all_plans, self.dedup_save_to_lowest_rank)
        global_plan, metadata = create_default_global_save_plan(all_plans)
        if self.flatten_state_dict:
            merged = {}
            for plan in global_plan:
                merged.update(plan.planner_data or {})
            metadata = Metadata(metadata.state_dict_metadata, planner_data=merged)
            global_plan = [SavePlan(p.items, p.storage_data, None, p.usable) for p in global_plan]
        metadata.storage_meta = self.storage_meta
        self.global_plan, self.metadata = global_plan, metadata
        return global_plan, metadata

    def finish_plan(self, new_plan):
        self.plan = new_plan
        return new_plan

    def lookup_object(self, index):
        return self.state_dict[index.fqn]

    def transform_object(self, write_item, obj):
        if write_item.type is WriteItemType.BYTE_IO:
            from ...serialization import save
            stream = io.BytesIO()
            save(obj, stream)
            stream.seek(0)
            return stream
        return _local_tensor(obj).detach()

    def resolve_data(self, write_item):
        return self.transform_object(write_item, self.lookup_object(write_item.index))


def _reduce_partials(state_dict):
    """A ``Partial`` DTensor is written after its pending reduction (a collective: every rank's dict has it)."""
    DTensor = _dtensor_type()
    out = dict(state_dict)
    for k, v in state_dict.items():
        if isinstance(v, DTensor) and any(p.is_partial() for p in v.placements):
            from ..tensor import Replicate
            with grad_mode.no_grad():
                out[k] = v.redistribute(v.device_mesh, [Replicate() if p.is_partial() else p for p in v.placements])
    return out


# ---------------------------------------------------------------------------------------------- load
def _read_items(fqn, md, obj):
    """The ``ReadItem``s that fill ``obj``'s region from every saved chunk overlapping it."""
    if isinstance(md, BytesStorageMetadata):
        return [ReadItem(LoadItemType.BYTE_IO, MetadataIndex(fqn), Size([0]), MetadataIndex(fqn), Size([0]),
                         Size([0]))]
    if not isinstance(obj, Tensor):
        raise ValueError(f"Invalid checkpoint metadata for {fqn}, expected BytesStorageMetadata but found {type(md)}")
    if isinstance(obj, _dtensor_type()) and any(p.is_partial() for p in obj.placements):
        raise ValueError(f"cannot load {fqn} into a Partial DTensor: redistribute it to Shard or Replicate first")
    dest = _local_chunk(obj)
    if dest is None:
        return []
    items = []
    for idx, saved in enumerate(md.chunks):
        lo = [max(a, b) for a, b in zip(dest.offsets, saved.offsets)]
        hi = [min(a + n, b + m) for a, n, b, m in zip(dest.offsets, dest.sizes, saved.offsets, saved.sizes)]
        if any(h <= lw for lw, h in zip(lo, hi)):
            continue                # (no overlap; a 0-d tensor always overlaps)
        items.append(ReadItem(LoadItemType.TENSOR, MetadataIndex(fqn, dest.offsets, 0),
                              Size(a - b for a, b in zip(lo, dest.offsets)),
                              MetadataIndex(fqn, saved.offsets, idx), Size(a - b for a, b in zip(lo, saved.offsets)),
                              Size(h - lw for lw, h in zip(lo, hi))))
    return items


def create_default_local_load_plan(state_dict, metadata, strict=True):
    """The ``LoadPlan`` of every value of the flat ``state_dict`` (missing keys: an error when ``strict``)."""
    requests = []
    for fqn, obj in state_dict.items():
        if fqn not in metadata.state_dict_metadata:
            if strict:
                raise RuntimeError(f"Missing key in checkpoint state_dict: {fqn}.")
            continue
        md = metadata.state_dict_metadata[fqn]
        if isinstance(md, TensorStorageMetadata) and isinstance(obj, Tensor) and tuple(md.size) != tuple(obj.shape):
            raise ValueError(f"Size mismatch between saved {md.size} and current: {obj.size()} for {fqn}")
        requests += _read_items(fqn, md, obj)
    return LoadPlan(requests)


class DefaultLoadPlanner(LoadPlanner):
    """The planner ``load`` uses by default: reads into the given state dict's tensors in place (resharding,
    see the module docstring) and replaces its other values.

    Args:
        flatten_state_dict (bool): the state dict may be nested (default True).
        flatten_sharded_tensors (bool): accepted (ttorch has no ShardedTensor).
        allow_partial_load (bool): keys missing from the checkpoint are left as they are instead of an error.
    """

    def __init__(self, flatten_state_dict=True, flatten_sharded_tensors=True, allow_partial_load=False):
        self.flatten_state_dict = flatten_state_dict
        self.flatten_sharded_tensors = flatten_sharded_tensors
        self.allow_partial_load = allow_partial_load
        self.mappings = {}

    def set_up_planner(self, state_dict, metadata=None, is_coordinator=False):
        self.original_state_dict = state_dict
        if self.flatten_state_dict:
            state_dict, self.mappings = flatten_state_dict(state_dict)
        self.state_dict, self.metadata, self.is_coordinator = state_dict, metadata, is_coordinator

    def create_local_plan(self):
        return create_default_local_load_plan(self.state_dict, self.metadata, not self.allow_partial_load)

    def create_global_plan(self, global_plan):
        return global_plan

    def finish_plan(self, new_plan):
        return new_plan

    def load_bytes(self, read_item, value):
        from ...serialization import load
        obj = load(value, weights_only=False)
        fqn = read_item.dest_index.fqn
        if self.flatten_state_dict:
            set_element(self.original_state_dict, self.mappings[fqn], obj)
        else:
            self.state_dict[fqn] = obj

    def lookup_tensor(self, index):
        return _local_tensor(self.state_dict[index.fqn])

    def transform_tensor(self, read_item, tensor):
        return _narrow(tensor.detach(), read_item.dest_offsets, read_item.lengths)

    def resolve_tensor(self, read_item):
        return self.transform_tensor(read_item, self.lookup_tensor(read_item.dest_index))

    def commit_tensor(self, read_item, tensor):
        pass
