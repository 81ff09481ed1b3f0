"""Timers shared by every benchmark: interleaved wall-clock rounds on cpu, CUDA events on a GPU.

Each case runs all its frameworks in the same process, taking turns round by round (the order
rotates), so a slow moment of a shared machine hits every framework alike; a time is the median
over rounds.

- ``CpuTimer``: per framework, a number of calls calibrated to fill ``target`` seconds, timed with
  ``perf_counter``; the time per call of each round.
- ``CudaTimer``: CUDA events recorded on stream 0 through ``cuda-bindings`` (no torch needed; Triton's
  ``do_bench`` imports torch), an L2 flush before each timed call, the median over rounds. It is also
  a ``do_bench`` for ``triton.autotune``.
- ``host_us``: wall-clock microseconds to issue a tiny op, synchronising once per batch.
"""
import gc
import statistics
import time


def interleave(fns, time_one, rounds):
    """Median of ``time_one(name, fn)`` per framework over ``rounds`` rounds, the order rotating each round."""
    order = list(fns)
    samples = {k: [] for k in order}
    gc_was = gc.isenabled()
    gc.disable()
    try:
        for r in range(rounds):
            for k in order[r % len(order):] + order[:r % len(order)]:
                samples[k].append(time_one(k, fns[k]))
    finally:
        if gc_was:
            gc.enable()
    return {k: statistics.median(v) for k, v in samples.items()}


class CpuTimer:
    """Milliseconds per call of zero-argument functions on cpu, interleaved across frameworks."""

    def __init__(self, target=0.01, rounds=15):
        self.target, self.rounds = target, rounds

    def _number(self, f):
        f()
        n = 1
        while True:
            t = time.perf_counter()
            for _ in range(n):
                f()
            dt = time.perf_counter() - t
            if dt >= self.target / 4 or n >= 1 << 20:
                return max(1, int(n * self.target / max(dt, 1e-9)))
            n *= 4

    def __call__(self, fns):
        numbers = {k: self._number(f) for k, f in fns.items()}

        def one(k, f):
            n = numbers[k]
            t = time.perf_counter()
            for _ in range(n):
                f()
            return (time.perf_counter() - t) / n * 1e3
        return interleave(fns, one, self.rounds)


def _ok(res):
    from cuda.bindings import driver as cu
    if res[0] != cu.CUresult.CUDA_SUCCESS:
        raise RuntimeError(f"CUDA error {res[0]}")
    return res[1:]


class CudaTimer:
    """Median milliseconds of ``fn()`` by CUDA events on stream 0, flushing L2 before each call."""

    def __init__(self, rounds=20, warmup=3, flush_bytes=256 << 20):
        import ttorch
        from cuda.bindings import driver as cu
        self.cu, self.rounds, self.warmup = cu, rounds, warmup
        ttorch.cuda.synchronize()
        self.flush = ttorch.empty(flush_bytes, dtype=ttorch.uint8, device="cuda")
        self.events = [_ok(cu.cuEventCreate(0))[0] for _ in range(2)]

    def once(self, name, fn):
        cu, (e0, e1) = self.cu, self.events
        _ok(cu.cuMemsetD8Async(self.flush.data_ptr(), 0, self.flush.numel(), 0))
        _ok(cu.cuEventRecord(e0, 0))
        fn()
        _ok(cu.cuEventRecord(e1, 0))
        _ok(cu.cuEventSynchronize(e1))
        return _ok(cu.cuEventElapsedTime(e0, e1))[0]

    def __call__(self, fns):
        for f in fns.values():
            for _ in range(self.warmup):
                f()
        return interleave(fns, self.once, self.rounds)

    def do_bench(self, fn, quantiles=None, **kw):
        """``triton.autotune``'s ``do_bench``: the median milliseconds of ``fn``."""
        ms = self({"fn": fn})["fn"]
        return [ms] * len(quantiles) if quantiles else ms


def host_us(fns, syncs, n=2000, rounds=5):
    """Median wall-clock µs per call of each tiny op, synchronising once per batch of ``n``."""
    def one(k, f):
        sync = syncs[k]
        sync()
        t = time.perf_counter()
        for _ in range(n):
            f()
        sync()
        return (time.perf_counter() - t) / n * 1e6
    for f in fns.values():
        f()
    return interleave(fns, one, rounds)
