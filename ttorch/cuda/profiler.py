"""``ttorch.cuda.profiler``: start and stop the collection of an outside CUDA profiler (Nsight Systems
with ``--capture-range=cudaProfilerApi``, ncu).

On a real GPU ``start``/``stop`` call the driver's ``cuProfilerStart``/``cuProfilerStop`` (PyTorch calls the
runtime's equivalents). With no GPU or on the simulated device there is no such profiler: both do nothing.
``ttorch.profiler`` is the in-process profiler.
"""
import contextlib

__all__ = ["start", "stop", "profile"]


def _call(name):
    from . import _driver
    if _driver.SIMULATED:
        return
    try:
        _driver.backend()
    except RuntimeError:              # no GPU: nothing collects
        return
    from cuda.bindings import driver
    err = getattr(driver, name)()
    err = err[0] if isinstance(err, tuple) else err
    if int(err) != 0:
        from ._queries import CudaError
        raise CudaError(int(err))


def start():
    """Start the CUDA profiler's data collection."""
    _call("cuProfilerStart")


def stop():
    """Stop the CUDA profiler's data collection."""
    _call("cuProfilerStop")


@contextlib.contextmanager
def profile():
    """Collect inside the ``with`` block: ``start()`` on entry, ``stop()`` on exit."""
    try:
        start()
        yield
    finally:
        stop()
