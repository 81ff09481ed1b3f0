"""``ttorch.cuda``: the GPU device, real (``cuda-bindings``) or simulated (``TRITON_INTERPRET=1``)."""
from . import _driver, _checks

_current = [0]


def is_available():
    """True on a machine with a usable NVIDIA GPU and ``cuda-bindings``, or under ``TRITON_INTERPRET=1``."""
    try:
        _driver.backend()
        return True
    except RuntimeError:
        return False


def is_simulated():
    """ttorch extension: True when the cuda device is Triton's interpreter over host memory."""
    return _driver.SIMULATED


def device_count():
    try:
        return _driver.backend().device_count()
    except RuntimeError:
        return 0


def _index(device):
    if device is None:
        return _current[0]
    if isinstance(device, int):
        return device
    from .._device import device as _dev
    d = _dev(device)
    return _current[0] if d.index is None else d.index


def current_device():
    return _current[0]


def set_device(device):
    idx = _index(device)
    _driver.backend().set_device(idx)
    _current[0] = idx


def synchronize(device=None):
    """Wait for the device; faults that kernels recorded since the last sync raise here."""
    _driver.backend().synchronize(_index(device))
    if _checks._armed[0]:
        _checks.flush()


def empty_cache():
    """Return the device memory that freed tensors left cached to the driver.

    Freed blocks wait in ttorch's per-size lists for reuse, as in PyTorch's caching allocator, in
    front of CUDA's stream-ordered pool (``cuMemAllocAsync``), which also keeps them; this hands
    them back to the pool and trims it (``cuMemPoolTrimTo``)."""
    if _driver._backend is not None:       # nothing cached before the first allocation
        _driver._backend.empty_cache(_current[0])


def get_device_name(device=None):
    return _driver.backend().device_name(_index(device))


def get_device_capability(device=None):
    return _driver.backend().capability(_index(device))


class _CudaDeviceProperties:
    """What ``get_device_properties`` reports (PyTorch's fields that ttorch can read)."""

    def __init__(self, name, major, minor, total_memory, multi_processor_count):
        self.name, self.major, self.minor = name, major, minor
        self.total_memory, self.multi_processor_count = total_memory, multi_processor_count
        self.is_integrated, self.is_multi_gpu_board = False, False

    def __repr__(self):
        return (f"_CudaDeviceProperties(name='{self.name}', major={self.major}, minor={self.minor}, "
                f"total_memory={self.total_memory // (1 << 20)}MB, multi_processor_count={self.multi_processor_count})")


def get_device_properties(device=None):
    """Name, compute capability, memory and SM count of a cuda device (as ``torch.cuda``'s).
    On the simulated device: the interpreter's name, capability 9.0, the host's memory, 4 SMs."""
    b, i = _driver.backend(), _index(device)
    major, minor = b.capability(i)
    return _CudaDeviceProperties(b.device_name(i), major, minor, b.total_memory(i), b.sm_count(i))


def __getattr__(name):
    if name == "default_generators":       # one per device, as PyTorch's tuple (made on first use)
        from .._random import cuda_generator
        return tuple(cuda_generator(i) for i in range(device_count()))
    raise AttributeError(f"module 'ttorch.cuda' has no attribute '{name}'")


def manual_seed(seed):
    """Seed the cuda generator (Philox, counter-based) of the current device."""
    from .._random import cuda_generator
    cuda_generator(_current[0]).manual_seed(seed)


def manual_seed_all(seed):
    from .._random import cuda_generator
    for i in range(max(device_count(), 1)):
        cuda_generator(i).manual_seed(seed)


def seed():
    """Seed the current device's generator from fresh entropy."""
    from .._random import cuda_generator
    cuda_generator(_current[0]).seed()


def initial_seed():
    from .._random import cuda_generator
    return cuda_generator(_current[0]).initial_seed()


def get_rng_state(device="cuda"):
    """The state (a uint8 cpu tensor) of a cuda device's generator: its seed and Philox offset."""
    from .._random import cuda_generator
    return cuda_generator(_index(device)).get_state()


def set_rng_state(new_state, device="cuda"):
    from .._random import cuda_generator
    cuda_generator(_index(device)).set_state(new_state)


def get_rng_state_all():
    """Every device's generator state, a list indexed by device."""
    return [get_rng_state(i) for i in range(max(device_count(), 1))]


def set_rng_state_all(new_states):
    for i, state in enumerate(new_states):
        set_rng_state(state, i)


class device:
    """Context manager that changes the current cuda device."""

    def __init__(self, device):
        self.idx = _index(device)

    def __enter__(self):
        self.prev = _current[0]
        set_device(self.idx)

    def __exit__(self, *exc):
        set_device(self.prev)


class device_of(device):
    """Context manager that makes the current cuda device ``obj``'s (a tensor); a no-op for cpu tensors."""

    def __init__(self, obj):
        self.idx = obj.get_device() if obj.is_cuda else -1

    def __enter__(self):
        if self.idx != -1:
            super().__enter__()

    def __exit__(self, *exc):
        if self.idx != -1:
            super().__exit__(*exc)


OutOfMemoryError = _driver.OutOfMemoryError
from .memory import (caching_allocator_alloc, caching_allocator_delete, set_per_process_memory_fraction,  # noqa: E402
                     caching_allocator_enable, caching_allocator_disabled, get_allocator_backend,
                     get_per_process_memory_fraction, memory_stats, memory_stats_as_nested_dict,
                     reset_accumulated_memory_stats, reset_peak_memory_stats, reset_max_memory_allocated,
                     reset_max_memory_cached, host_memory_stats, host_memory_stats_as_nested_dict,
                     reset_accumulated_host_memory_stats, reset_peak_host_memory_stats, memory_allocated,
                     max_memory_allocated, memory_reserved, max_memory_reserved, memory_cached, max_memory_cached,
                     memory_snapshot, memory_summary, list_gpu_processes, mem_get_info)
from . import memory  # noqa: E402,F401
from ._queries import *  # noqa: E402,F401,F403  (bf16/tf32 support, arch list, NVML, sync debug mode, cudart)
from .graphs import (CUDAGraph, graph, graph_pool_handle, make_graphed_callables,  # noqa: E402,F401
                     is_current_stream_capturing)
from . import graphs  # noqa: E402,F401
from .streams import Event, Stream, StreamContext, current_stream, default_stream, set_stream, stream  # noqa: E402,F401
from .streams import ExternalStream  # noqa: E402,F401
from .memory import MemPool, use_mem_pool  # noqa: E402,F401
from . import nvtx, profiler, random  # noqa: E402,F401  (torch.cuda.nvtx/profiler/random: attributes too)
