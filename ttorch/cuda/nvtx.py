"""``ttorch.cuda.nvtx``: NVTX ranges and marks for Nsight Systems timelines.

On a real GPU whose machine has NVIDIA's NVTX library (``libnvToolsExt``), each call goes to it. Elsewhere
(no GPU, the simulated device, no library) every call is a no-op that keeps PyTorch's return values
(``range_push`` the new depth's index, ``range_pop`` the depth left, ``range_start`` an id), where PyTorch
raises ``RuntimeError("NVTX functions not installed...")``: profiling markers in ported code need not fail.

Example::

    >>> with ttorch.cuda.nvtx.range("step {}", 3):
    ...     pass
"""
import ctypes
import itertools
from contextlib import contextmanager

__all__ = ["range_push", "range_pop", "range_start", "range_end", "mark", "range"]

_lib = []          # [the loaded library or None], looked up on first use
_depth = [0]
_ids = itertools.count(1)


def _nvtx():
    if not _lib:
        lib = None
        from . import _driver
        if not _driver.SIMULATED:
            for name in ("libnvToolsExt.so.1", "libnvToolsExt.so", "nvToolsExt64_1.dll"):
                try:
                    lib = ctypes.CDLL(name)
                    break
                except OSError:
                    continue
        if lib is not None:
            lib.nvtxRangePushA.argtypes = lib.nvtxMarkA.argtypes = lib.nvtxRangeStartA.argtypes = [ctypes.c_char_p]
            lib.nvtxRangeStartA.restype = ctypes.c_uint64
            lib.nvtxRangeEnd.argtypes = [ctypes.c_uint64]
        _lib.append(lib)
    return _lib[0]


def range_push(msg):
    """Push a range named ``msg`` onto the stack of nested ranges; returns its zero-based depth."""
    lib = _nvtx()
    if lib is not None:
        return lib.nvtxRangePushA(msg.encode())
    _depth[0] += 1
    return _depth[0] - 1


def range_pop():
    """Pop the innermost range; returns the depth of the range that ended (-1 when none was open)."""
    lib = _nvtx()
    if lib is not None:
        return lib.nvtxRangePop()
    if _depth[0] == 0:
        return -1
    _depth[0] -= 1
    return _depth[0]


def range_start(msg) -> int:
    """Start a range that may end on another thread; returns its id for ``range_end``."""
    lib = _nvtx()
    return lib.nvtxRangeStartA(msg.encode()) if lib is not None else next(_ids)


def range_end(range_id) -> None:
    """End the range that ``range_start`` returned ``range_id`` for."""
    lib = _nvtx()
    if lib is not None:
        lib.nvtxRangeEnd(range_id)


def mark(msg):
    """An instantaneous event named ``msg``."""
    lib = _nvtx()
    if lib is not None:
        lib.nvtxMarkA(msg.encode())


@contextmanager
def range(msg, *args, **kwargs):
    """Context manager (and decorator) holding a range named ``msg.format(*args, **kwargs)``."""
    range_push(msg.format(*args, **kwargs))
    try:
        yield
    finally:
        range_pop()
