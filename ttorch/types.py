"""``ttorch.types``: the type aliases PyTorch's annotations use (``Number``, ``Device``, ``_size``...).

ttorch has no symbolic shapes, so ``IntLikeType`` and friends are the plain Python types, and
``Storage`` is ttorch's ``UntypedStorage``.
"""
import os
from builtins import (bool as _bool, bytes as _bytes, complex as _complex, float as _float, int as _int,  # noqa: F401
                      str as _str)
from collections.abc import Sequence
from typing import IO, Any, Optional, Union  # noqa: F401

from ._device import device as _device
from ._dtype import dtype as _dtype  # noqa: F401
from ._storage import UntypedStorage as Storage
from ._tensor import Size, Tensor

__all__ = ["Number", "Device", "FileLike", "Storage"]

_TensorOrTensors = Union[Tensor, Sequence[Tensor]]
_TensorOrOptionalTensors = Union[Tensor, Sequence[Optional[Tensor]]]
_size = Union[Size, list[int], tuple[int, ...]]
_symsize = Union[Size, Sequence[int]]
IntLikeType = int
FloatLikeType = float
BoolLikeType = bool
Number = Union[int, float, bool]
_Number = (int, float, bool)   # for isinstance checks
FileLike = Union[str, os.PathLike, IO[bytes]]
Device = Optional[Union[_device, str, int]]
