"""The cuda allocator's statistics, per device: PyTorch's ``DeviceStats``, kept by the allocator itself.

Every cuda tensor's storage is allocated and freed through ``_driver``, on the path each op's
output takes, so blocks are logged there and counted later (see ``DeviceStats``). PyTorch's
model maps onto ttorch's allocator like this:

* a *block* is what a storage holds: its size class on a GPU (512 B multiples under 1 MiB, 2 MiB
  multiples above), its bytes rounded to 8 on the simulated device; ``requested_bytes`` counts
  the bytes asked for.
* a *segment* is one ``cuMemAllocAsync`` (a GPU) or one host buffer (simulated). ttorch never
  splits a segment into several blocks, so ``inactive_split*`` stay 0 and a segment holds one
  block; blocks waiting in ttorch's free lists count as reserved, not allocated.
* *active* equals *allocated*: all work runs on one stream, so a freed block is never held back
  for another stream's pending use.
* the pools: ``small_pool`` holds requests under 1 MiB (ttorch's 512-byte size classes),
  ``large_pool`` the rest (PyTorch puts exactly 1 MiB in its small pool).
"""
import array
import threading

import numpy as np

SMALL = 1 << 20


class DeviceStats:
    """One device's counters. Per pool (``small``, ``large``): ``[count, bytes, requested bytes]``
    of the live blocks, their totals since the start (``*_tot``: the freed total is ``tot - cur``)
    and their peaks; the ``all`` values are the pools' sums, with their own peaks. ``seg_*``:
    the same for segments (``[count, bytes]``). ``base``: the totals at the last
    ``reset_accumulated`` (PyTorch's ``allocated``/``freed`` restart there).

    Blocks are logged, not counted, where they are allocated and freed: the allocator appends the
    requested bytes (negated for a free) to ``log``, one ``array.append`` on the path every op's
    output takes (counting there cost about 0.5 us per alloc and free, 5% of a 1-element op's host
    time on an H200). ``fold`` replays the log with NumPy when the stats are read, or when it
    holds ``FOLD_AT`` entries: the same counts and the exact peaks, as if counted one by one.
    ``size_of`` maps requested bytes to block bytes (the allocator's rounding), vectorised.
    """

    __slots__ = ("small", "large", "small_tot", "large_tot", "small_peak", "large_peak", "all_peak",
                 "seg_small", "seg_large", "seg_small_tot", "seg_large_tot", "seg_small_peak", "seg_large_peak",
                 "seg_all_peak", "base", "num_alloc_retries", "num_ooms", "num_sync_all_streams",
                 "num_device_alloc", "num_device_free", "log", "size_of", "lock")

    FOLD_AT = 1 << 13          # (NumPy's arrays stay in cache: a fold costs ~10 ns an entry)

    def __init__(self, size_of):
        for name in self.__slots__[:14]:
            setattr(self, name, [0, 0, 0] if not name.startswith("seg") else [0, 0])
        self.base = None
        self.num_alloc_retries = self.num_ooms = self.num_sync_all_streams = 0
        self.num_device_alloc = self.num_device_free = 0
        self.log = array.array("q")
        self.size_of = size_of
        self.lock = threading.Lock()

    def fold(self, wait=True):
        """Fold the logged allocations and frees into the counters (in order, so peaks are exact).
        The allocator's own folds pass ``wait=False``: one that finds a fold under way (another
        thread's, or this thread's, when a garbage collection inside it frees storages) leaves the
        log to the next one."""
        if not self.lock.acquire(blocking=wait):
            return
        try:
            n = len(self.log)
            if not n:
                return
            d = np.frombuffer(self.log[:n], dtype=np.int64)    # (a copy: the log stays appendable)
            del self.log[:n]
            req = np.abs(d)
            sign = np.sign(d)
            v = np.stack((sign, self.size_of(req) * sign, d))     # (3, n): count, bytes, requested bytes
            large = req >= SMALL
            v = np.concatenate((np.where(large, 0, v), np.where(large, v, 0)))     # (6, n): small, large
            cur = np.array(self.small + self.large, dtype=np.int64)
            run = np.cumsum(v, axis=1)
            run += cur[:, None]                                 # the pools' running values
            peak = run.max(axis=1)
            all_peak = (run[:3] + run[3:]).max(axis=1)          # ("all" is the pools' sum: its own peak)
            tot = np.where(v > 0, v, 0).sum(axis=1)
            end = run[:, -1]
            for k in range(3):
                self.small[k], self.large[k] = int(end[k]), int(end[3 + k])
                self.small_tot[k] += int(tot[k])
                self.large_tot[k] += int(tot[3 + k])
                self.small_peak[k] = max(self.small_peak[k], int(peak[k]))
                self.large_peak[k] = max(self.large_peak[k], int(peak[3 + k]))
                self.all_peak[k] = max(self.all_peak[k], int(all_peak[k]))
        finally:
            self.lock.release()

    def segment(self, size, large, sign):
        """A segment of ``size`` bytes reserved (``sign`` 1) from, or released (-1) to, the device."""
        c = self.seg_large if large else self.seg_small
        c[0] += sign
        c[1] += sign * size
        if sign > 0:
            t, pk = (self.seg_large_tot, self.seg_large_peak) if large else (self.seg_small_tot, self.seg_small_peak)
            t[0] += 1
            t[1] += size
            ap = self.seg_all_peak
            for k in (0, 1):
                pk[k] = max(pk[k], c[k])
                ap[k] = max(ap[k], self.seg_small[k] + self.seg_large[k])
            self.num_device_alloc += 1
        else:
            self.num_device_free += 1

    @property
    def allocated(self):
        self.fold()
        return self.small[1] + self.large[1]

    @property
    def reserved(self):
        return self.seg_small[1] + self.seg_large[1]

    def reset_peak(self):
        self.fold()
        for cur, peak in ((self.small, self.small_peak), (self.large, self.large_peak),
                          (self.seg_small, self.seg_small_peak), (self.seg_large, self.seg_large_peak)):
            peak[:] = cur
        self.all_peak[:] = [a + b for a, b in zip(self.small, self.large)]
        self.seg_all_peak[:] = [a + b for a, b in zip(self.seg_small, self.seg_large)]

    def _totals(self):
        """{(stat, pool): (current, allocated total, freed total)} before any reset."""
        out = {}
        for stat, names in (("block", ("small", "large")), ("seg", ("seg_small", "seg_large"))):
            for pool, name in zip(("small_pool", "large_pool"), names):
                cur, tot = getattr(self, name), getattr(self, name + "_tot")
                out[stat, pool] = [(c, t, t - c) for c, t in zip(cur, tot)]
            out[stat, "all"] = [tuple(a + b for a, b in zip(x, y))
                                for x, y in zip(out[stat, "small_pool"], out[stat, "large_pool"])]
        return out

    def reset_accumulated(self):
        """Restart the ``allocated``/``freed`` totals and the event counters (PyTorch's
        ``reset_accumulated_memory_stats``)."""
        self.fold()
        self.base = self._totals()
        self.num_alloc_retries = self.num_ooms = self.num_sync_all_streams = 0
        self.num_device_alloc = self.num_device_free = 0

    def nested(self):
        """The stats as ``torch.cuda.memory_stats_as_nested_dict`` gives them (the same keys)."""
        self.fold()
        now, base = self._totals(), self.base
        peaks = {("block", "small_pool"): self.small_peak, ("block", "large_pool"): self.large_peak,
                 ("block", "all"): self.all_peak, ("seg", "small_pool"): self.seg_small_peak,
                 ("seg", "large_pool"): self.seg_large_peak, ("seg", "all"): self.seg_all_peak}

        def array(stat, k):
            out = {}
            for pool in ("all", "small_pool", "large_pool"):
                cur, tot, freed = now[stat, pool][k]
                b_tot, b_freed = (0, 0) if base is None else base[stat, pool][k][1:]
                out[pool] = {"current": cur, "peak": peaks[stat, pool][k], "allocated": tot - b_tot,
                             "freed": freed - b_freed}
            return out

        zero = {"current": 0, "peak": 0, "allocated": 0, "freed": 0}
        zeros = {k: dict(zero) for k in ("all", "small_pool", "large_pool")}
        return {
            "num_alloc_retries": self.num_alloc_retries, "num_ooms": self.num_ooms,
            "max_split_size": -1,               # never set: ttorch does not split blocks
            "num_sync_all_streams": self.num_sync_all_streams,
            "num_device_alloc": self.num_device_alloc, "num_device_free": self.num_device_free,
            "num_oom_rejections": 0,            # PyTorch's throw_on_cudamalloc_oom policy: not in ttorch
            "allocation": array("block", 0), "segment": array("seg", 0),
            "active": array("block", 0), "inactive_split": {k: dict(v) for k, v in zeros.items()},
            "allocated_bytes": array("block", 1), "reserved_bytes": array("seg", 1),
            "active_bytes": array("block", 1), "inactive_split_bytes": {k: dict(v) for k, v in zeros.items()},
            "requested_bytes": array("block", 2),
            "oversize_allocations": dict(zero), "oversize_segments": dict(zero),
        }


def format_size(size):
    """PyTorch's ``format_size`` (c10/util): bytes, KiB, MiB or GiB with two decimals."""
    if size <= 1024:
        return f"{size} bytes"
    if size <= 1048576:
        return f"{size / 1024.0:.2f} KiB"
    if size <= 1073741824:
        return f"{size / 1048576.0:.2f} MiB"
    return f"{size / 1073741824.0:.2f} GiB"
