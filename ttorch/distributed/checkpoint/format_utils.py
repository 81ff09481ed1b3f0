"""Converting between a distributed checkpoint folder and one ``ttorch.save`` file (PyTorch's
``checkpoint.format_utils``). Both run in one process and hold the whole state dict in memory."""
import os

from ...ops.creation import empty
from ._nested_dict import set_element
from .default_planner import DefaultLoadPlanner
from .filesystem import FileSystemReader, FileSystemWriter
from .metadata import TensorStorageMetadata
from .state_dict_loader import _load_state_dict
from .state_dict_saver import _save_state_dict

__all__ = ["dcp_to_torch_save", "torch_save_to_dcp"]


class _EmptyStateDictLoadPlanner(DefaultLoadPlanner):
    """Loads into a state dict it builds from the checkpoint's metadata (empty tensors of the saved sizes and
    dtypes, nested as saved): for loading without a model. ``state_dict`` must be empty."""

    def __init__(self, keys=None, *args, **kwargs):
        self.keys = keys
        super().__init__(*args, **kwargs)

    def _should_include_key(self, key, metadata):
        if self.keys is None or key in self.keys:
            return True
        path = (metadata.planner_data or {}).get(key, ())
        prefixes = [".".join(map(str, path[:i + 1])) for i in range(len(path))]
        return any(p in self.keys for p in prefixes)

    def set_up_planner(self, state_dict, metadata=None, is_coordinator=False):
        if state_dict:
            raise AssertionError("not state_dict")
        if metadata is None:
            raise AssertionError("metadata is not None")
        for k, md in metadata.state_dict_metadata.items():
            if not self._should_include_key(k, metadata):
                continue
            value = empty(tuple(md.size), dtype=md.properties.dtype) if isinstance(md, TensorStorageMetadata) \
                else md
            if metadata.planner_data and k in metadata.planner_data:
                set_element(state_dict, metadata.planner_data[k], value)
            else:
                state_dict[k] = value
        super().set_up_planner(state_dict, metadata, is_coordinator)


def dcp_to_torch_save(dcp_checkpoint_dir, torch_save_path):
    """Write the checkpoint in the folder ``dcp_checkpoint_dir`` as one ``ttorch.save`` file (its nested
    state dict, DTensors saved as their whole values)."""
    from ...serialization import save
    sd = {}
    _load_state_dict(sd, storage_reader=FileSystemReader(dcp_checkpoint_dir), planner=_EmptyStateDictLoadPlanner(),
                     no_dist=True)
    save(sd, torch_save_path)


def torch_save_to_dcp(torch_save_path, dcp_checkpoint_dir):
    """Write the state dict of the ``ttorch.save`` file ``torch_save_path`` as a checkpoint in the folder
    ``dcp_checkpoint_dir``."""
    from ...serialization import load
    state_dict = load(os.fspath(torch_save_path), weights_only=False)
    _save_state_dict(state_dict, storage_writer=FileSystemWriter(dcp_checkpoint_dir), no_dist=True)
