"""``set_num_threads``/``get_num_threads``: how many threads cpu ops use (PyTorch's intra-op pool).

ttorch's cpu ops are NumPy, and the only thread pool under them is NumPy's BLAS (OpenBLAS or
MKL), which threadpoolctl resizes at run time. On a small machine shared with other work, one
thread is often faster for small matrices: BLAS threads spinning against each other cost more
than they save.

Example::

    >>> import ttorch
    >>> ttorch.set_num_threads(1)
    >>> ttorch.get_num_threads()
    1
"""
import os

_interop = [None]


def _blas_pools():
    import numpy  # noqa: F401  (loads the BLAS whose pool we look at)
    from threadpoolctl import threadpool_info
    return [p for p in threadpool_info() if p.get("user_api") == "blas"]


def set_num_threads(int):  # noqa: A002  (PyTorch's parameter name)
    """Use ``int`` threads for cpu ops (NumPy's BLAS)."""
    from threadpoolctl import threadpool_limits
    if isinstance(int, bool) or not isinstance(int, type(1)):
        raise TypeError(f"set_num_threads(): argument 'int' must be int, not {type(int).__name__}")
    if int <= 0:
        raise RuntimeError("Expected number of threads to be positive, but got " + str(int))
    _blas_pools()
    threadpool_limits(limits=int, user_api="blas")


def get_num_threads():
    """Threads cpu ops use: the BLAS pool's size (the core count when NumPy has no threaded BLAS)."""
    pools = _blas_pools()
    return max(p["num_threads"] for p in pools) if pools else (os.cpu_count() or 1)


def set_num_interop_threads(int):  # noqa: A002
    """Accepted for compatibility: ttorch runs ops on the calling thread (no inter-op pool)."""
    if _interop[0] is not None:
        raise RuntimeError("Error: cannot set number of interop threads after parallel work has started or "
                           "set_num_interop_threads called")
    _interop[0] = int


def get_num_interop_threads():
    return _interop[0] or 1


def init_num_threads():
    """Make the calling thread use ``set_num_threads``'s value. Nothing to do in ttorch: NumPy's BLAS pool
    is process-wide, so every thread already shares it (PyTorch's pools are per thread)."""
