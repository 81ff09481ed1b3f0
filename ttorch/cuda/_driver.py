"""The cuda device's memory: real device memory through NVIDIA's ``cuda-bindings``, or host
memory when Triton's interpreter simulates the GPU (``TRITON_INTERPRET=1``).

Real memory comes from CUDA's stream-ordered allocator (``cuMemAllocAsync`` /
``cuMemFreeAsync`` on stream 0, the device's default pool) in the device's primary context.
Triton launches on stream 0 of the same primary context, so kernels, allocations and copies are
ordered without extra syncs. In front of the pool sits a small cache of our own: freed blocks wait
in per-size lists and the next allocation of that size class takes one back with no driver call
(each ``cuda-bindings`` call costs microseconds of Python; an op allocates its output every time).
Reuse is safe because everything runs on stream 0, in order. ``empty_cache`` (and an allocation
that runs out of memory, or past ``set_per_process_memory_fraction``'s bound) hands the waiting
blocks back to the pool. Both devices keep PyTorch's allocator statistics (``_stats.py``, read
through ``ttorch.cuda.memory``).
"""
import collections
import ctypes
import functools
import os
import threading
import warnings

import numpy as np

from ._stats import DeviceStats, SMALL, format_size

SIMULATED = os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")
_FOLD_AT = DeviceStats.FOLD_AT      # the allocation log's length that folds it into the statistics


def _size_classes(n):
    """``_size_class`` of an int64 array (the statistics' block sizes of logged requests)."""
    return np.where(n < 1 << 20, (n + 511) & ~511, (n + (2 << 20) - 1) & ~((2 << 20) - 1))


# While an op's call is recorded for a plan (ops/_plan.py): the list of its kernel launches, which
# launch_keyed appends to; a memory copy outside a kernel appends None (such a call isn't planned).
RECORDING = [None]
RECORDING_THREAD = [None]   # ... the thread that records (others' launches are not the call's)
ALLOCATED = set()           # ... and the ids of the storages it allocated

SYNC_DEBUG = [0]            # torch.cuda.set_sync_debug_mode: 0 default, 1 warn, 2 error


def sync_point():
    """Called where the host waits for the device to read its results (a device-to-host copy)."""
    if SYNC_DEBUG[0] == 2:
        raise RuntimeError("called a synchronizing CUDA operation")
    warnings.warn("called a synchronizing CUDA operation", stacklevel=3)


def record(entry):
    """Append ``entry`` to the recording of an op's call, where the calling thread makes one."""
    if RECORDING[0] is not None and RECORDING_THREAD[0] == threading.get_ident():
        RECORDING[0].append(entry)


def _oom(be, index, size, stats):
    """PyTorch's out-of-memory error for an allocation of ``size`` bytes (counted in ``num_ooms``)."""
    stats.num_ooms += 1
    try:
        free, total = be.mem_get_info(index)
        capacity = f" has a total capacity of {format_size(total)} of which {format_size(free)} is free."
    except Exception:       # (a driver that cannot say)
        capacity = "."
    limit = be.limit[index]
    allowed = "" if limit is None else f"{format_size(limit)} allowed; "
    return OutOfMemoryError(
        f"CUDA out of memory. Tried to allocate {format_size(size)}. GPU {index}{capacity} {allowed}"
        "Of the allocated memory "
        f"{format_size(stats.allocated)} is allocated by ttorch, and {format_size(stats.reserved - stats.allocated)} "
        "is reserved by ttorch but unallocated.")


class _Simulated:
    """The interpreter's device: memory is a host NumPy buffer, kernels run in Python."""

    name = "Triton interpreter (simulated cuda)"

    def __init__(self):
        self.stats = [DeviceStats(lambda n: (n + 7) & ~7)]
        self.limit = [None]         # set_per_process_memory_fraction's bound, in bytes

    def device_count(self):
        return 1

    def capability(self, index):
        return (9, 0)

    def device_name(self, index):
        return self.name

    def sm_count(self, index):
        return 4    # few, so a persistent kernel's programs each take several tiles in the tests

    def total_memory(self, index):
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")

    def mem_get_info(self, index):
        """The host's available and total memory (``MemAvailable`` where Linux reports it)."""
        total = self.total_memory(index)
        try:
            with open("/proc/meminfo") as f:
                for line in f:
                    if line.startswith("MemAvailable:"):
                        return int(line.split()[1]) * 1024, total
        except OSError:
            pass
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"), total

    def alloc_array(self, nbytes, index=0):
        if not nbytes:
            return np.empty(0, dtype=np.uint8)
        # int64 backing keeps every element 8-byte aligned, as device memory is. Each buffer is its
        # own segment: freed, it goes back to the host (no cache, so reserved == allocated).
        size = (nbytes + 7) & ~7
        st = self.stats[index]
        if self.limit[index] is not None and st.reserved + size > self.limit[index]:
            raise _oom(self, index, size, st)
        try:
            a = np.empty(size >> 3, dtype=np.int64).view(np.uint8)[:nbytes]
        except MemoryError:         # the host's out of memory is the simulated device's
            raise _oom(self, index, size, st) from None
        st.segment(size, size > SMALL, 1)
        st.log.append(nbytes)
        return a

    def free(self, ptr, index, nbytes):
        if nbytes:
            size = (nbytes + 7) & ~7
            st = self.stats[index]
            st.log.append(-nbytes)
            st.segment(size, size > SMALL, -1)
            if len(st.log) >= _FOLD_AT:
                st.fold(False)

    def cached_blocks(self, index):
        return []

    def set_caching(self, enabled):
        pass                        # (nothing is cached)

    def synchronize(self, index):
        pass

    def empty_cache(self, index):
        pass

    def set_device(self, index):
        if index != 0:
            raise RuntimeError(f"CUDA error: invalid device ordinal (simulated cuda has 1 device, asked for {index})")


class AcceleratorError(RuntimeError):
    """``ttorch.AcceleratorError``: an error the CUDA driver reported (a RuntimeError, as PyTorch's)."""


class OutOfMemoryError(RuntimeError):
    """``ttorch.cuda.OutOfMemoryError``: an allocation the device could not serve, even after ttorch
    handed its cached blocks back (a RuntimeError, as PyTorch's)."""


class _Real:
    """A real NVIDIA GPU through ``cuda.bindings.driver``."""

    # Device 0's statistics and memory bound for stand-ins that skip __init__ (tests,
    # benchmarks/census.py), shared by them; __init__ gives each GPU its own. (A __getattr__
    # would make them per instance, but slows every attribute read of the allocator.)
    stats = [DeviceStats(_size_classes)]
    limit = [None]

    def __init__(self):
        from cuda.bindings import driver
        self.cu = driver
        self._check(driver.cuInit(0))
        self.count = self._check(driver.cuDeviceGetCount())[0]
        self.contexts = {}
        self.pools = {}
        self.cached = {}                # (device, size class) -> [free device pointers]
        self.staging = {}               # device -> _Staging: pinned memory for uploads
        self.current = 0
        self.stats = [DeviceStats(_size_classes) for _ in range(self.count)]
        self.limit = [None] * self.count    # set_per_process_memory_fraction's bound on reserved bytes
        self._tls = threading.local()   # the CUDA current context is per thread

    def _check(self, res):
        err = res[0]
        if err != self.cu.CUresult.CUDA_SUCCESS:
            _, msg = self.cu.cuGetErrorString(err)
            raise AcceleratorError(f"CUDA error: {msg.decode() if msg else err}")
        return res[1:]

    def device_count(self):
        return self.count

    def context(self, index):
        if getattr(self._tls, "bound", None) == index:  # current on this thread: skip cuCtxSetCurrent
            return self.contexts[index]
        ctx = self.contexts.get(index)
        if ctx is None:
            if not 0 <= index < self.count:
                raise RuntimeError(f"CUDA error: invalid device ordinal {index} (device count {self.count})")
            dev = self._check(self.cu.cuDeviceGet(index))[0]
            ctx = self._check(self.cu.cuDevicePrimaryCtxRetain(dev))[0]
            self._check(self.cu.cuCtxSetCurrent(ctx))
            # Keep freed blocks in the pool across synchronisations (the default threshold 0
            # hands them back to the OS at every sync, and the next allocation maps pages
            # again: that doubled the time of a 64M-element add on an H200). empty_cache trims.
            pool = self._check(self.cu.cuDeviceGetDefaultMemPool(dev))[0]
            self._check(self.cu.cuMemPoolSetAttribute(
                pool, self.cu.CUmemPool_attribute.CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, self.cu.cuuint64_t(2**64 - 1)))
            self.pools[index] = pool
            self.contexts[index] = ctx
        self._check(self.cu.cuCtxSetCurrent(ctx))
        self._tls.bound = index
        return ctx

    def set_device(self, index):
        self.context(index)
        self.current = index

    @functools.lru_cache(maxsize=None)
    def capability(self, index):
        dev = self._check(self.cu.cuDeviceGet(index))[0]
        a = self.cu.CUdevice_attribute
        major = self._check(self.cu.cuDeviceGetAttribute(a.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev))[0]
        minor = self._check(self.cu.cuDeviceGetAttribute(a.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev))[0]
        return (major, minor)

    def device_name(self, index):
        dev = self._check(self.cu.cuDeviceGet(index))[0]
        return self._check(self.cu.cuDeviceGetName(256, dev))[0].split(b"\0")[0].decode()

    @functools.lru_cache(maxsize=None)
    def total_memory(self, index):
        return int(self._check(self.cu.cuDeviceTotalMem(self._check(self.cu.cuDeviceGet(index))[0]))[0])

    @functools.lru_cache(maxsize=None)
    def sm_count(self, index):
        dev = self._check(self.cu.cuDeviceGet(index))[0]
        a = self.cu.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT
        return self._check(self.cu.cuDeviceGetAttribute(a, dev))[0]

    def malloc(self, nbytes, index):
        if nbytes == 0:
            return 0
        cls = (nbytes + 511) & ~511 if nbytes < 1 << 20 else _size_class(nbytes)    # (inlined: every output)
        waiting = self.cached.get((index, cls))
        p = waiting.pop() if waiting else self._segment(cls, index)
        self.stats[index].log.append(nbytes)        # counted when read (cuda/_stats.py)
        return p

    def _segment(self, cls, index):
        """A new block from CUDA's pool; on failure (or past the memory fraction) hand our cached
        blocks back and try once more (PyTorch's ``num_alloc_retries``), then raise."""
        self.context(index)
        st, limit = self.stats[index], self.limit[index]
        over = limit is not None and st.reserved + cls > limit
        res = None if over else self.cu.cuMemAllocAsync(cls, 0)
        if (over or res[0] == self.cu.CUresult.CUDA_ERROR_OUT_OF_MEMORY) and self.release_cached(index):
            st.num_alloc_retries += 1
            over = limit is not None and st.reserved + cls > limit
            res = None if over else self.cu.cuMemAllocAsync(cls, 0)
        if over or res[0] == self.cu.CUresult.CUDA_ERROR_OUT_OF_MEMORY:
            raise _oom(self, index, cls, st)
        p = int(self._check(res)[0])
        st.segment(cls, cls > SMALL, 1)
        return p

    def free(self, ptr, index, nbytes):
        if ptr:
            cls = (nbytes + 511) & ~511 if nbytes < 1 << 20 else _size_class(nbytes)
            log = self.stats[index].log
            log.append(-nbytes)
            if len(log) >= _FOLD_AT:
                self.stats[index].fold(False)
            waiting = self.cached.get((index, cls))
            if waiting is None:
                waiting = self.cached[(index, cls)] = []
            waiting.append(ptr)

    def _free_uncached(self, ptr, index, nbytes):
        """``free`` while the cache is off (``ttorch.cuda.caching_allocator_enable(False)``): the
        block goes straight back to CUDA's pool. (Installed on the instance, so the usual ``free``
        has no flag to test.)"""
        _Real.free(self, ptr, index, nbytes)
        if ptr:
            self.release_cached(index)

    def set_caching(self, enabled):
        if enabled:
            self.__dict__.pop("free", None)
        else:
            self.free = self._free_uncached
            for i in range(len(self.stats)):
                if any(k[0] == i for k in self.cached):
                    self.release_cached(i)

    def cached_blocks(self, index):
        """(address, size) of the blocks waiting in our free lists for reuse."""
        return [(p, cls) for (i, cls), ptrs in self.cached.items() if i == index for p in ptrs]

    def release_cached(self, index):
        """Hand the blocks waiting in our cache back to CUDA's pool; whether there were any."""
        self.context(index)
        any_ = False
        st = self.stats[index]
        for (i, cls), ptrs in self.cached.items():
            if i == index:
                while ptrs:
                    self._check(self.cu.cuMemFreeAsync(ptrs.pop(), 0))
                    st.segment(cls, cls > SMALL, -1)
                    any_ = True
        return any_

    def mem_get_info(self, index):
        """(free, total) bytes of the device, from ``cuMemGetInfo``."""
        self.context(index)
        free, total = self._check(self.cu.cuMemGetInfo())
        return int(free), int(total)

    def htod(self, dst, src_ptr, nbytes, index):
        record(None)
        if nbytes:
            self.context(index)
            stage = self.staging.get(index)
            if stage is None:
                stage = self.staging[index] = _Staging(self.cu, self._check)
            if not stage.upload(dst, src_ptr, nbytes):
                self._check(self.cu.cuMemcpyHtoD(dst, src_ptr, nbytes))

    def dtoh(self, dst_ptr, src, nbytes, index):
        record(None)
        if nbytes:
            self.context(index)
            self._check(self.cu.cuMemcpyDtoH(dst_ptr, src, nbytes))

    def dtod(self, dst, src, nbytes, index):
        record(None)
        if nbytes:
            self.context(index)
            self._check(self.cu.cuMemcpyDtoDAsync(dst, src, nbytes, 0))

    def synchronize(self, index):
        self.context(index)
        self._check(self.cu.cuCtxSynchronize())

    def empty_cache(self, index):
        self.release_cached(index)
        self.synchronize(index)
        self.stats[index].num_sync_all_streams += 1
        self._check(self.cu.cuMemPoolTrimTo(self.pools[index], 0))


class _Staging:
    """Uploads with no stream sync. ``cuMemcpyHtoD`` from pageable memory first waits for all the
    work queued on the stream (CUDA's documented behaviour), so a ``ttorch.tensor(..., device=
    "cuda")`` or an ``arange`` in a training step drained the GPU. An upload of at most ``MAX``
    bytes is copied into a ring of pinned memory and sent with ``cuMemcpyHtoDAsync`` on stream 0;
    an event per upload says when its part of the ring may be written again. Larger uploads keep
    the synchronous copy (``upload`` returns False)."""

    SIZE, MAX = 8 << 20, 1 << 20

    def __init__(self, cu, check):
        self.cu, self.check = cu, check
        self.base = None
        self.head = 0
        self.inflight = collections.deque()     # (start, end, event), oldest first
        self.free_events = []
        self.lock = threading.Lock()            # data-loading threads upload too

    def _wait_for(self, start, end):
        """Wait for the in-flight uploads whose bytes overlap [start, end); forget finished ones."""
        done = self.cu.CUresult.CUDA_SUCCESS
        while self.inflight and self.cu.cuEventQuery(self.inflight[0][2])[0] == done:
            self.free_events.append(self.inflight.popleft()[2])
        keep = collections.deque()
        while self.inflight:
            s, e, ev = self.inflight.popleft()
            if s < end and start < e:
                self.check(self.cu.cuEventSynchronize(ev))
                self.free_events.append(ev)
            else:
                keep.append((s, e, ev))
        self.inflight = keep

    def upload(self, dst, src_ptr, nbytes):
        if nbytes > self.MAX:
            return False
        with self.lock:
            self._upload(dst, src_ptr, nbytes)
        return True

    def _upload(self, dst, src_ptr, nbytes):
        cu = self.cu
        if self.base is None:
            self.base = int(self.check(cu.cuMemHostAlloc(self.SIZE, 0))[0])
        n = (nbytes + 255) & ~255                # keep every upload's start 256-byte aligned
        if self.head + n > self.SIZE:
            self.head = 0
        start, end = self.head, self.head + n
        self._wait_for(start, end)
        ctypes.memmove(self.base + start, src_ptr, nbytes)
        self.check(cu.cuMemcpyHtoDAsync(dst, self.base + start, nbytes, 0))
        ev = self.free_events.pop() if self.free_events else \
            self.check(cu.cuEventCreate(int(cu.CUevent_flags.CU_EVENT_DISABLE_TIMING)))[0]
        self.check(cu.cuEventRecord(ev, 0))
        self.inflight.append((start, end, ev))
        self.head = end


def _size_class(nbytes):
    """Bytes actually allocated for ``nbytes``: multiples of 512 B up to 1 MiB, then of 2 MiB
    (at most 512 B, or 2 MiB, of waste; few classes, so freed blocks are found again)."""
    if nbytes < 1 << 20:
        return (nbytes + 511) & ~511
    return (nbytes + (2 << 20) - 1) & ~((2 << 20) - 1)


_backend = None
_error = None


def backend():
    """The cuda backend, made on first use; RuntimeError when there is no usable GPU."""
    global _backend, _error
    if _backend is None:
        if _error is not None:
            raise RuntimeError(_error)
        if SIMULATED:
            _backend = _Simulated()
        else:
            try:
                _backend = _Real()
                if _backend.count == 0:
                    raise RuntimeError("no CUDA device found")
            except Exception as e:  # ImportError (no cuda-bindings), no driver, no device
                _backend = None
                _error = (f"ttorch: cuda is not available ({type(e).__name__}: {e}). Install the 'cuda' "
                          "extra on a machine with an NVIDIA GPU, or set TRITON_INTERPRET=1 to simulate it.")
                raise RuntimeError(_error) from None
    return _backend


def host_ptr(a):
    return a.__array_interface__["data"][0]
