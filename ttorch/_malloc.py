"""Keep freed host memory for reuse, as PyTorch's caching allocators do for their devices.

Every cpu op returns fresh NumPy arrays, and glibc's malloc serves blocks above its mmap
threshold (128 KiB to start with) straight from the kernel and hands them back on free; the next
op then page-faults the same memory in again. On a virtual machine a page fault is costly: on our
2-core CI machine a 64K-element float64 division took 0.78 ms this way and 0.06 ms with the
memory kept. At import ttorch therefore raises glibc's mmap and trim thresholds (``mallopt``), so
large blocks come from, and return to, the heap. Resident memory then stays near its peak instead
of shrinking after each op. Set ``TTORCH_MALLOC_CACHE=0`` to leave malloc as it is; other C
libraries (not glibc) are left alone.
"""
import ctypes
import ctypes.util
import os
import sys

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_LIMIT = 1 << 30        # blocks up to 1 GiB come from the heap; the heap keeps up to 1 GiB free
applied = False


def _apply():
    global applied
    if os.environ.get("TTORCH_MALLOC_CACHE", "1") == "0" or not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        if not hasattr(libc, "mallopt") or not hasattr(libc, "gnu_get_libc_version"):
            return                          # not glibc: its mallopt constants mean other things
        applied = bool(libc.mallopt(_M_MMAP_THRESHOLD, _LIMIT)) & bool(libc.mallopt(_M_TRIM_THRESHOLD, _LIMIT))
    except OSError:
        pass


_apply()
