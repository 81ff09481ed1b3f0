"""``ttorch.accelerator``: PyTorch's device-generic API for the current accelerator.

ttorch's one accelerator is ``cuda`` (a GPU, or Triton's interpreter under ``TRITON_INTERPRET=1``).
PyTorch names the accelerator its build was compiled for; ttorch has no build-time choice, so
:func:`current_accelerator` returns ``device("cuda")`` where ``ttorch.cuda.is_available()`` and
None elsewhere, and the other functions then raise PyTorch's "Cannot access accelerator device
when none is available." error.
"""
import functools
import warnings

from .._device import device as _device
from ._utils import _get_device_index
from .graphs import Graph
from . import graphs  # noqa: F401
from . import memory  # noqa: F401
from .memory import (empty_cache, empty_host_cache, get_memory_info, max_memory_allocated, max_memory_reserved,
                     memory_allocated, memory_reserved, memory_stats, reset_accumulated_memory_stats,
                     reset_peak_memory_stats)

__all__ = ["Graph", "current_accelerator", "current_device_idx", "current_device_index", "get_device_capability",
           "current_stream", "device_count", "device_index", "empty_cache", "empty_host_cache", "get_memory_info",
           "is_available", "max_memory_allocated", "max_memory_reserved", "memory_allocated", "memory_reserved",
           "memory_stats", "reset_accumulated_memory_stats", "reset_peak_memory_stats", "set_device_idx",
           "set_device_index", "set_stream", "synchronize"]


def _cuda():
    from .. import cuda
    return cuda


def _require():
    if current_accelerator() is None:
        raise RuntimeError("Cannot access accelerator device when none is available.")
    return _cuda()


def current_accelerator(check_available=False):
    """The accelerator as a device with no index (``device(type='cuda')``), or None.

    Example::

        >>> import ttorch
        >>> ttorch.accelerator.current_accelerator()
        device(type='cuda')
    """
    return _device("cuda") if _cuda().is_available() else None


def device_count():
    """The number of accelerator devices (0 without one)."""
    return _cuda().device_count() if current_accelerator() is not None else 0


def is_available():
    """Whether an accelerator device can be used."""
    return current_accelerator() is not None


def current_device_index():
    """The index of the current accelerator device."""
    return _require().current_device()


def set_device_index(device, /):
    """Make ``device`` (an index, or a device of the accelerator's type) the current one; a negative
    index is a no-op."""
    cuda = _require()
    index = _get_device_index(device, optional=False)
    if index >= 0:
        cuda.set_device(index)


def current_device_idx():
    """Deprecated: :func:`current_device_index`."""
    warnings.warn("Use `current_device_index` instead.", FutureWarning, stacklevel=2)
    return current_device_index()


def set_device_idx(device, /):
    """Deprecated: :func:`set_device_index`."""
    warnings.warn("Use `set_device_index` instead.", FutureWarning, stacklevel=2)
    return set_device_index(device)


@functools.lru_cache(maxsize=None)
def _capability(index):
    from .. import _dtype as D
    # every dtype a ttorch cuda tensor can hold and convert between
    return {"supported_dtypes": set(D.all_dtypes + D.complex_dtypes + D.float8_dtypes + D.uint_dtypes)}


def get_device_capability(device=None, /):
    """``{"supported_dtypes": set of dtypes}``: the dtypes whose tensors the device can hold
    and convert between (operator support beyond that is per op, as in PyTorch)."""
    _require()
    return _capability(_get_device_index(device, optional=True))


def current_stream(device=None, /):
    """The current stream of ``device``: its default stream (see ``ttorch.Stream``)."""
    _require()
    from .._stream import Stream
    return Stream(_device("cuda", _get_device_index(device, optional=True)))


def set_stream(stream):
    """Make ``stream`` current; also makes its device the current one (ttorch runs a device's work
    on its default stream, so only the device changes)."""
    cuda = _require()
    cuda.set_device(stream.device.index or 0)


def synchronize(device=None, /):
    """Wait for all work on ``device`` (the current one by default)."""
    cuda = _require()
    cuda.synchronize(_get_device_index(device, optional=True))


class device_index:
    """``with ttorch.accelerator.device_index(i):`` makes device ``i`` current inside the block;
    ``None`` changes nothing."""

    def __init__(self, device, /):
        self.idx = device
        self.prev_idx = -1

    def __enter__(self):
        if self.idx is not None:
            cuda = _require()
            self.prev_idx = cuda.current_device()
            cuda.set_device(self.idx)

    def __exit__(self, *exc_info):
        if self.idx is not None and self.prev_idx >= 0:
            _cuda().set_device(self.prev_idx)
