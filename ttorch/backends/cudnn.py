"""``ttorch.backends.cudnn``: PyTorch's cuDNN switches, accepted and stored.

ttorch has no cuDNN: convolutions on cuda are Triton kernels. ``enabled`` (True), ``benchmark``
(False), ``benchmark_limit`` (10), ``deterministic`` (False) and ``allow_tf32`` (True, PyTorch's
default for convolutions) keep PyTorch's defaults so that programs setting them run unchanged.
``allow_tf32`` is read as PyTorch reads it: float32 convolutions on cuda (forward and both
gradients) run on TF32 tensor cores while it is on; the others change nothing ttorch computes.
``is_available()`` is False and ``version()`` None.
"""
from contextlib import contextmanager

enabled = True
benchmark = False
benchmark_limit = 10
deterministic = False
allow_tf32 = True


def is_available():
    """False: ttorch does not use cuDNN."""
    return False


def version():
    """None: no cuDNN library is loaded."""
    return None


def is_acceptable(tensor):
    """False: no tensor goes to cuDNN."""
    return False


@contextmanager
def flags(enabled=False, benchmark=False, benchmark_limit=10, deterministic=False, allow_tf32=True):
    """Set the switches inside a ``with`` block and restore them after, as PyTorch's ``flags``."""
    g = globals()
    names = ("enabled", "benchmark", "benchmark_limit", "deterministic", "allow_tf32")
    old = {n: g[n] for n in names}
    g.update(zip(names, (enabled, benchmark, benchmark_limit, deterministic, allow_tf32)))
    try:
        yield
    finally:
        g.update(old)


__all__ = ["enabled", "benchmark", "benchmark_limit", "deterministic", "allow_tf32", "is_available", "version",
           "is_acceptable", "flags"]
