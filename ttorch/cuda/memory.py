"""``ttorch.cuda.memory``: what the cuda allocator holds, PyTorch's statistics, summary and limits.

The counters live in the allocator (``_driver``, ``_stats.py``); this module reads them as
``torch.cuda.memory`` does. How ttorch's allocator maps onto PyTorch's blocks, segments and
pools is in ``_stats.py``: in short, a segment holds one block (ttorch never splits, so the
``inactive_split`` stats are 0) and on the simulated device nothing is cached (reserved equals
allocated).
"""
import collections
import contextlib
import gc
import warnings

from . import _driver

__all__ = ["caching_allocator_alloc", "caching_allocator_delete", "caching_allocator_enable",
           "caching_allocator_disabled", "get_allocator_backend", "set_per_process_memory_fraction",
           "get_per_process_memory_fraction", "empty_cache", "memory_stats", "memory_stats_as_nested_dict",
           "reset_accumulated_memory_stats", "reset_peak_memory_stats", "reset_max_memory_allocated",
           "reset_max_memory_cached", "host_memory_stats", "host_memory_stats_as_nested_dict",
           "reset_accumulated_host_memory_stats", "reset_peak_host_memory_stats", "memory_allocated",
           "max_memory_allocated", "memory_reserved", "max_memory_reserved", "memory_cached", "max_memory_cached",
           "memory_snapshot", "memory_summary", "list_gpu_processes", "mem_get_info"]


def _index(device):
    from . import _index as idx
    return idx(device)


def _stats(device):
    """The device's counters, or None before cuda is initialised (PyTorch's stats are then empty)."""
    be = _driver._backend
    if be is None:
        return None
    i = _index(device)
    if not 0 <= i < len(be.stats):
        raise RuntimeError(f"Invalid device argument {i}: did you call init?")
    return be.stats[i]


_raw = {}       # caching_allocator_alloc's blocks: address -> (device, nbytes, host array or None)


def caching_allocator_alloc(size, device=None, stream=None):
    """Allocate ``size`` bytes with the cuda allocator; returns the address (an int).

    For interoperability with other libraries; free it with :func:`caching_allocator_delete`.
    The block is counted in the statistics as a tensor's storage is. ``stream``: a ``Stream`` or an
    int (ttorch runs everything on the default stream)."""
    from .streams import Stream
    if stream is not None and not isinstance(stream, (Stream, int)):
        raise TypeError("Invalid type for stream argument, must be `torch.cuda.Stream` or `int` representing a "
                        "pointer to an existing stream")
    i = _index(device)
    be = _driver.backend()
    if _driver.SIMULATED:
        a = be.alloc_array(size, i)
        ptr = a.__array_interface__["data"][0] if size else 0
    else:
        a, ptr = None, be.malloc(size, i)
    if ptr:
        _raw[ptr] = (i, size, a)
    return ptr


def caching_allocator_delete(mem_ptr):
    """Free a block that :func:`caching_allocator_alloc` returned."""
    if not mem_ptr:
        return
    if mem_ptr not in _raw:
        raise RuntimeError("invalid device pointer: " + hex(mem_ptr))
    i, size, _ = _raw.pop(mem_ptr)
    _driver.backend().free(mem_ptr, i, size)


_caching = [True]


def caching_allocator_enable(value=True):
    """Turn the allocator's cache of freed blocks on (the default) or off: off, a freed block goes
    straight back to the driver (``cuMemFreeAsync``). Nothing is cached on the simulated device.
    A no-op before cuda is initialised, as in PyTorch."""
    if _driver._backend is not None:
        _caching[0] = bool(value)
        _driver._backend.set_caching(_caching[0])


@contextlib.contextmanager
def caching_allocator_disabled():
    """Context manager that turns the allocator's cache off inside the block."""
    prev = _caching[0]
    caching_allocator_enable(False)
    try:
        yield
    finally:
        caching_allocator_enable(prev)


def get_allocator_backend():
    """``"native"``: ttorch's allocator is a caching allocator (per-size free lists) of its own,
    as PyTorch's native one, over CUDA's stream-ordered pool."""
    return "native"


def set_per_process_memory_fraction(fraction, device=None):
    """Limit the memory the allocator reserves on ``device`` to ``fraction`` of its total memory.

    Past the limit an allocation first hands cached blocks back, then raises
    ``ttorch.cuda.OutOfMemoryError``. On the simulated device the total is the host's memory.

    Args:
        fraction (float): in [0, 1].
        device (ttorch.device or int, optional): the current device by default.
    """
    i = _index(device)
    if not isinstance(fraction, float):
        raise TypeError("Invalid type for fraction argument, must be `float`")
    if fraction < 0 or fraction > 1:
        raise ValueError(f"Invalid fraction value: {fraction}. Allowed range: 0~1")
    be = _driver.backend()
    be.limit[i] = int(fraction * be.total_memory(i))
    _fractions[i] = fraction


_fractions = {}


def get_per_process_memory_fraction(device=None):
    """The fraction set by :func:`set_per_process_memory_fraction` (1.0 when never set)."""
    return _fractions.get(_index(device), 1.0)


def empty_cache():
    """Hand the blocks waiting in the allocator's free lists back to the driver (see ``ttorch.cuda``)."""
    from . import empty_cache as ec
    ec()


def memory_stats_as_nested_dict(device=None):
    """:func:`memory_stats` as a nested dict (``{}`` before cuda is initialised)."""
    st = _stats(device)
    return {} if st is None else st.nested()


def memory_stats(device=None):
    """The allocator's statistics for ``device``: PyTorch's flat keys, sorted.

    ``"{allocation,segment,active,inactive_split,allocated_bytes,reserved_bytes,active_bytes,
    inactive_split_bytes,requested_bytes}.{all,large_pool,small_pool}.{current,peak,allocated,freed}"``,
    ``"oversize_{allocations,segments}.{current,peak,allocated,freed}"`` and the counters
    ``num_alloc_retries``, ``num_ooms``, ``num_sync_all_streams``, ``num_device_alloc``,
    ``num_device_free``, ``num_oom_rejections``, ``max_split_size``. ttorch never splits blocks:
    the ``inactive_split`` and ``oversize`` stats are 0 and ``max_split_size`` is -1.

    Example::

        >>> import ttorch
        >>> x = ttorch.empty(1000, device="cuda")
        >>> ttorch.cuda.memory_stats()["requested_bytes.all.current"] >= 4000
        True
    """
    result = []

    def add(prefix, obj):
        if isinstance(obj, dict):
            prefix = prefix + "." if prefix else prefix
            for k, v in obj.items():
                add(prefix + k, v)
        else:
            result.append((prefix, obj))

    add("", memory_stats_as_nested_dict(device))
    result.sort()
    return collections.OrderedDict(result)


def reset_accumulated_memory_stats(device=None):
    """Restart the ``allocated``/``freed`` totals and the event counters (``num_ooms``, ...)."""
    st = _stats(device)
    if st is not None:
        st.reset_accumulated()


def reset_peak_memory_stats(device=None):
    """Set every ``peak`` stat to its current value."""
    st = _stats(device)
    if st is not None:
        st.reset_peak()


def reset_max_memory_allocated(device=None):
    warnings.warn("torch.cuda.reset_max_memory_allocated now calls torch.cuda.reset_peak_memory_stats, "
                  "which resets /all/ peak memory stats.", FutureWarning, stacklevel=2)
    return reset_peak_memory_stats(device)


def reset_max_memory_cached(device=None):
    warnings.warn("torch.cuda.reset_max_memory_cached now calls torch.cuda.reset_peak_memory_stats, "
                  "which resets /all/ peak memory stats.", FutureWarning, stacklevel=2)
    return reset_peak_memory_stats(device)


def _host_nested():
    # ttorch's only pinned memory is an upload ring (``_driver._Staging``) that no tensor
    # holds: there is no pinned-memory allocator to report, so every stat is 0.
    zero = {"current": 0, "peak": 0, "allocated": 0, "freed": 0}
    timing = {"total": 0, "max": 0, "min": 0, "count": 0, "avg": 0}
    return {"allocations": dict(zero), "allocated_bytes": dict(zero), "active_requests": dict(zero),
            "active_bytes": dict(zero), "num_host_alloc": 0, "num_host_free": 0,
            "host_alloc_time": dict(timing), "host_free_time": dict(timing)}


def host_memory_stats_as_nested_dict():
    return {} if _driver._backend is None else _host_nested()


def host_memory_stats():
    """Pinned host allocator statistics, with PyTorch's keys. ttorch does not pin tensors
    (``pin_memory=True`` is accepted and ignored), so all are 0."""
    out = []
    for k, v in host_memory_stats_as_nested_dict().items():
        out.extend((f"{k}.{kk}", vv) for kk, vv in v.items()) if isinstance(v, dict) else out.append((k, v))
    return collections.OrderedDict(sorted(out))


def reset_accumulated_host_memory_stats():
    """Nothing to reset: see :func:`host_memory_stats`."""


def reset_peak_host_memory_stats():
    """Nothing to reset: see :func:`host_memory_stats`."""


def memory_allocated(device=None):
    """Bytes of the blocks live tensors hold on ``device`` (their size classes, as PyTorch counts)."""
    st = _stats(device)
    return 0 if st is None else st.allocated


def max_memory_allocated(device=None):
    """The peak of :func:`memory_allocated` since the start or :func:`reset_peak_memory_stats`."""
    st = _stats(device)
    if st is None:
        return 0
    st.fold()
    return st.all_peak[1]


def memory_reserved(device=None):
    """Bytes the allocator holds from the device: live blocks and those cached for reuse."""
    st = _stats(device)
    return 0 if st is None else st.reserved


def max_memory_reserved(device=None):
    st = _stats(device)
    return 0 if st is None else st.seg_all_peak[1]


def memory_cached(device=None):
    """Deprecated; see :func:`memory_reserved`."""
    warnings.warn("`torch.cuda.memory_cached` has been renamed to `torch.cuda.memory_reserved`",
                  FutureWarning, stacklevel=2)
    return memory_reserved(device)


def max_memory_cached(device=None):
    """Deprecated; see :func:`max_memory_reserved`."""
    warnings.warn("`torch.cuda.max_memory_cached` has been renamed to `torch.cuda.max_memory_reserved`",
                  FutureWarning, stacklevel=2)
    return max_memory_reserved(device)


def _live_blocks():
    """(device, address, size, requested) of every live block: tensors' storages (found by walking
    the garbage collector's objects: a debugging call, so the hot path keeps no registry) and
    :func:`caching_allocator_alloc`'s blocks."""
    from .._storage import UntypedStorage
    out = []
    for o in gc.get_objects():
        if type(o) is UntypedStorage and o.device.type == "cuda" and o.nbytes_:
            out.append((o.device.index, o._ptr, o.nbytes_))
    out.extend((i, p, n) for p, (i, n, _) in _raw.items())
    if _driver.SIMULATED:
        return [(i, p, (n + 7) & ~7, n) for i, p, n in out]
    return [(i, p, _driver._size_class(n), n) for i, p, n in out]


def memory_snapshot(mempool_id=None, include_traces=True):
    """The allocator's segments on every device, as dicts with PyTorch's keys (``device``,
    ``address``, ``total_size``, ``allocated_size``, ``active_size``, ``requested_size``,
    ``stream``, ``segment_type``, ``segment_pool_id``, ``is_expandable``, ``frames``, ``blocks``);
    each block: ``address``, ``size``, ``requested_size``, ``state``, ``frames``. ttorch records
    no allocation history, so ``frames`` are empty; a segment holds one block."""
    be = _driver._backend
    if be is None:
        return []
    blocks = [(i, p, s, n, "active_allocated") for i, p, s, n in _live_blocks()]
    for i in range(len(be.stats)):
        blocks.extend((i, p, s, 0, "inactive") for p, s in be.cached_blocks(i))
    segments = []
    for i, p, s, n, state in sorted(blocks):
        used = s if state == "active_allocated" else 0
        segments.append({"device": i, "address": p, "total_size": s, "allocated_size": used, "active_size": used,
                         "requested_size": n, "stream": 0, "segment_type": "large" if s > (1 << 20) else "small",
                         "segment_pool_id": (0, 0), "is_expandable": False, "frames": [],
                         "blocks": [{"address": p, "size": s, "requested_size": n, "state": state, "frames": []}]})
    return segments


def memory_summary(device=None, abbreviated=False):
    """A printable table of :func:`memory_stats` (PyTorch's layout, 75 columns)."""
    i = _index(device)
    stats = memory_stats(i)
    if not stats:           # cuda not initialised: PyTorch's table of zeros
        stats = _empty_flat()

    def fmt_size(sz, pref):
        prefix = "B  "
        for new in ("KiB", "MiB", "GiB", "TiB", "PiB"):
            if pref < 768 * 1024:
                break
            prefix, sz, pref = new, sz // 1024, pref / 1024
        return f"{sz:6d} {prefix}"

    def fmt_count(cnt, pref):
        prefix = " "
        for new in ("K", "M"):
            if pref < 750 * 1000:
                break
            prefix, cnt, pref = new, cnt // 1000, pref / 1000
        return f"{cnt:7d} {prefix} "

    metrics = [("allocated_bytes", "Allocated memory", fmt_size), ("active_bytes", "Active memory", fmt_size),
               ("requested_bytes", "Requested memory", fmt_size), ("reserved_bytes", "GPU reserved memory", fmt_size),
               ("inactive_split_bytes", "Non-releasable memory", fmt_size), ("allocation", "Allocations", fmt_count),
               ("active", "Active allocs", fmt_count), ("segment", "GPU reserved segments", fmt_count),
               ("inactive_split", "Non-releasable allocs", fmt_count)]
    lines = ["=" * 75, f" {'':16} PyTorch CUDA memory summary, device ID {i:<17d} ", "-" * 75,
             f"  {'':9} CUDA OOMs: {stats['num_ooms']:<12d} | {'':6} cudaMalloc retries: "
             f"{stats['num_alloc_retries']:<8d}  ", "=" * 75,
             "        Metric         | Cur Usage  | Peak Usage | Tot Alloc  | Tot Freed  "]
    for key, name, fmt in metrics:
        lines.append("-" * 75)
        subs = [("all", name)] + ([] if abbreviated else [("large_pool", "      from large pool"),
                                                         ("small_pool", "      from small pool")])
        pref = None
        for sub, sub_name in subs:
            vals = [stats[f"{key}.{sub}.{m}"] for m in ("current", "peak", "allocated", "freed")]
            pref = vals if pref is None else pref      # the "all" row picks the unit of the pool rows
            lines.append(f" {sub_name:<21} | " + " | ".join(fmt(v, p) for v, p in zip(vals, pref)) + " ")
    for key, name in (("oversize_allocations", "Oversize allocations"), ("oversize_segments", "Oversize GPU segments")):
        lines.append("-" * 75)
        vals = [stats[f"{key}.{m}"] for m in ("current", "peak", "allocated", "freed")]
        lines.append(f" {name:<21} | " + " | ".join(fmt_count(v, v) for v in vals) + " ")
    lines.append("=" * 75)
    return "|" + "|\n|".join(lines) + "|\n"


def _empty_flat():
    from ._stats import DeviceStats
    flat = []

    def add(prefix, obj):
        for k, v in obj.items():
            add(prefix + k + ".", v) if isinstance(v, dict) else flat.append((prefix + k, v))
    add("", DeviceStats(None).nested())
    return dict(flat)


def list_gpu_processes(device=None):
    """The processes using the GPU and their memory, from NVML (``pynvml``), as PyTorch prints them."""
    try:
        import pynvml
    except ModuleNotFoundError:
        return "pynvml module not found, please install nvidia-ml-py"
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError_DriverNotLoaded:
        return "cuda driver can't be loaded, is cuda enabled?"
    i = _index(device)
    procs = pynvml.nvmlDeviceGetComputeRunningProcesses(pynvml.nvmlDeviceGetHandleByIndex(i))
    lines = [f"GPU:{i}"] + (["no processes are running"] if not procs else [])
    for p in procs:
        lines.append(f"process {p.pid:>10d} uses {p.usedGpuMemory / (1024 * 1024):>12.3f} MB GPU memory")
    return "\n".join(lines)


def mem_get_info(device=None):
    """(free, total) bytes of the device, from ``cuMemGetInfo``; on the simulated device the
    host's available and total memory."""
    return _driver.backend().mem_get_info(_index(device))



_NO_POOLS = ("ttorch.cuda.{}: ttorch's caching allocator keeps one pool per device, so private memory pools "
             "(MemPool, use_mem_pool) are not supported; allocations already share the device's pool")


class MemPool:
    """PyTorch's private memory pool; not supported by ttorch's allocator (constructing one raises)."""

    def __init__(self, allocator=None, use_on_oom=False, *args, **kwargs):
        raise NotImplementedError(_NO_POOLS.format("MemPool"))


def use_mem_pool(pool, device=None):
    """Route allocations to ``pool``: not supported (see ``MemPool``)."""
    raise NotImplementedError(_NO_POOLS.format("use_mem_pool"))
