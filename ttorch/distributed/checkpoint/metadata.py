"""What a distributed checkpoint records about its contents (PyTorch's ``checkpoint.metadata``).

``Metadata.state_dict_metadata`` maps each flattened key (``"model.fc.weight"``) to a ``TensorStorageMetadata``
(dtype, global size, and the chunks written: their offsets and sizes in the global tensor) or to a
``BytesStorageMetadata`` (a pickled Python value). ``storage_data`` maps each ``MetadataIndex`` (key, chunk
offset) to where its bytes lie (the storage layer's own record: ``filesystem._StorageInfo``).
"""
from dataclasses import dataclass, field
from typing import Any

from ..._dtype import get_default_dtype
from ..._layout import strided
from ..._memory_format import contiguous_format
from ..._tensor import Size

__all__ = ["ChunkStorageMetadata", "TensorStorageMetadata", "BytesStorageMetadata", "Metadata", "MetadataIndex",
           "TensorProperties", "StorageMeta"]


@dataclass
class ChunkStorageMetadata:
    """One chunk of a tensor: where it starts in the global tensor (``offsets``) and its ``sizes``."""
    offsets: Size
    sizes: Size


@dataclass
class TensorProperties:
    """How to make the tensor back: its ``dtype`` (the other fields are kept as PyTorch keeps them)."""
    dtype: Any = field(default_factory=get_default_dtype)
    layout: Any = strided
    requires_grad: bool = False
    memory_format: Any = contiguous_format
    pin_memory: bool = False

    @staticmethod
    def create_from_tensor(tensor):
        return TensorProperties(dtype=tensor.dtype, layout=tensor.layout, requires_grad=tensor.requires_grad,
                                memory_format=contiguous_format)


@dataclass
class TensorStorageMetadata:
    """A saved tensor: ``properties``, global ``size`` and the ``chunks`` the ranks wrote."""
    properties: TensorProperties
    size: Size
    chunks: list


@dataclass
class BytesStorageMetadata:
    """A saved Python value (pickled with ``ttorch.save``)."""


@dataclass
class StorageMeta:
    checkpoint_id: Any = None
    save_id: str = None
    load_id: str = None
    modules: list = field(default_factory=list)


@dataclass
class Metadata:
    """The checkpoint's table of contents: ``state_dict_metadata`` (key -> storage metadata),
    ``planner_data`` (the default planner: key -> path in the nested state dict), ``storage_data``
    (``MetadataIndex`` -> where the bytes are)."""
    state_dict_metadata: dict
    planner_data: Any = None
    storage_data: Any = None
    storage_meta: StorageMeta = None
    version: str = None


@dataclass(frozen=True)
class MetadataIndex:
    """A key into a state dict or ``Metadata``: ``fqn``, and for a tensor chunk its ``offset``;
    ``index`` is a hint (the chunk's position in ``chunks``) and takes no part in equality."""
    fqn: str
    offset: Size = None
    index: int = field(hash=False, compare=False, default=None)

    def __init__(self, fqn, offset=None, index=None):
        object.__setattr__(self, "fqn", fqn)
        object.__setattr__(self, "index", index)
        object.__setattr__(self, "offset", None if offset is None else Size(offset))
