"""Timing a kernel launch without torch: CUDA events on a GPU, the wall clock under the interpreter.

Triton's own ``do_bench`` imports torch (events, cache flush); this one uses ``cuda-bindings``
directly, flushes L2 before every timed call and returns the median, so it can also be handed to
``triton.autotune(..., do_bench=...)``. Under ``TRITON_INTERPRET=1`` it times the simulated launch on
the wall clock: the code path runs, the numbers mean nothing.
"""
import statistics
import time

_FLUSH = {}


def _ok(res):
    from cuda.bindings import driver as cu
    if res[0] != cu.CUresult.CUDA_SUCCESS:
        raise RuntimeError(f"CUDA error {res[0]}")
    return res[1:]


def do_bench(fn, warmup=3, reps=10, flush_bytes=256 << 20, quantiles=None, **_ignored):
    """Median milliseconds of ``fn()`` (a list per ``quantiles``, as Triton's ``do_bench`` returns)."""
    from ..cuda import _driver, synchronize
    for _ in range(warmup):
        fn()
    times = []
    if _driver.SIMULATED:
        for _ in range(reps):
            t = time.perf_counter()
            fn()
            synchronize()
            times.append((time.perf_counter() - t) * 1e3)
    else:
        from cuda.bindings import driver as cu
        import ttorch
        buf = _FLUSH.get(flush_bytes)
        if buf is None:
            buf = _FLUSH[flush_bytes] = ttorch.empty(flush_bytes, dtype=ttorch.uint8, device="cuda")
        e0, e1 = (_ok(cu.cuEventCreate(0))[0] for _ in range(2))
        try:
            for _ in range(reps):
                _ok(cu.cuMemsetD8Async(buf.data_ptr(), 0, flush_bytes, 0))
                _ok(cu.cuEventRecord(e0, 0))
                fn()
                _ok(cu.cuEventRecord(e1, 0))
                _ok(cu.cuEventSynchronize(e1))
                times.append(_ok(cu.cuEventElapsedTime(e0, e1))[0])
        finally:
            cu.cuEventDestroy(e0)
            cu.cuEventDestroy(e1)
    ms = statistics.median(times)
    return [ms] * len(quantiles) if quantiles else ms
