"""``ttorch.accelerator.memory``: the current accelerator's allocator statistics (``ttorch.cuda.memory``'s)."""
from collections import OrderedDict

from ._utils import _get_device_index

__all__ = ["empty_cache", "empty_host_cache", "get_memory_info", "max_memory_allocated", "max_memory_reserved",
           "memory_allocated", "memory_reserved", "memory_stats", "reset_accumulated_memory_stats",
           "reset_peak_memory_stats"]


def _mem():
    from ..cuda import memory
    return memory


def empty_cache():
    """Hand the allocator's cached blocks back to the device (a no-op before the first allocation)."""
    from .. import cuda
    cuda.empty_cache()


def empty_host_cache():
    """Nothing to release: ttorch keeps no cache of pinned host memory."""


def memory_stats(device_index=None, /):
    """:func:`ttorch.cuda.memory_stats` of the accelerator's device (an empty OrderedDict before
    the allocator is initialised)."""
    from ..cuda import is_initialized
    if not is_initialized():
        return OrderedDict()
    return _mem().memory_stats(_get_device_index(device_index, optional=True))


def memory_allocated(device_index=None, /):
    return memory_stats(device_index).get("allocated_bytes.all.current", 0)


def max_memory_allocated(device_index=None, /):
    return memory_stats(device_index).get("allocated_bytes.all.peak", 0)


def memory_reserved(device_index=None, /):
    return memory_stats(device_index).get("reserved_bytes.all.current", 0)


def max_memory_reserved(device_index=None, /):
    return memory_stats(device_index).get("reserved_bytes.all.peak", 0)


def reset_accumulated_memory_stats(device_index=None, /):
    _mem().reset_accumulated_memory_stats(_get_device_index(device_index, optional=True))


def reset_peak_memory_stats(device_index=None, /):
    _mem().reset_peak_memory_stats(_get_device_index(device_index, optional=True))


def get_memory_info(device_index=None, /):
    """(free, total) bytes of the device (:func:`ttorch.cuda.mem_get_info`)."""
    return _mem().mem_get_info(_get_device_index(device_index, optional=True))
