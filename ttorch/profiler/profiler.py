"""``ttorch.profiler.profiler``: the module that holds PyTorch's profiler classes (``profile``, ``schedule``,
``ProfilerAction``, defined in ``ttorch/profiler/__init__.py``), ``supported_activities`` and
``tensorboard_trace_handler``."""
import gzip
import os
import shutil
import socket
import time

from . import ProfilerAction, ProfilerActivity, profile, schedule  # noqa: F401

__all__ = ["supported_activities", "ProfilerAction", "schedule", "tensorboard_trace_handler", "profile"]


def supported_activities():
    """The activities a ``profile`` can record here: CPU always, CUDA where a cuda device (real or
    simulated) is available."""
    from .. import cuda
    return {ProfilerActivity.CPU} | ({ProfilerActivity.CUDA} if cuda.is_available() else set())


def tensorboard_trace_handler(dir_name, worker_name=None, use_gzip=False, use_python_export=False):
    """An ``on_trace_ready`` handler writing each trace as ``<worker>.<ns>.pt.trace.json[.gz]`` into
    ``dir_name`` (created if missing), TensorBoard's profiler plugin layout. ``worker_name`` defaults to
    ``<hostname>_<pid>``; ``use_python_export`` is accepted (ttorch has one exporter).

    Example::

        >>> import tempfile, os
        >>> d = tempfile.mkdtemp()
        >>> with ttorch.profiler.profile(on_trace_ready=tensorboard_trace_handler(d, "w0")) as p:
        ...     _ = ttorch.ones(2) + 1
        >>> tensorboard_trace_handler(d, "w0")(p); os.listdir(d)[0].startswith("w0.")
        True
    """
    def handler_fn(prof):
        nonlocal worker_name
        if not os.path.isdir(dir_name):
            try:
                os.makedirs(dir_name, exist_ok=True)
            except Exception as e:
                raise RuntimeError("Can't create directory: " + dir_name) from e
        if not worker_name:
            worker_name = f"{socket.gethostname()}_{os.getpid()}"
        path = os.path.join(dir_name, f"{worker_name}.{time.time_ns()}.pt.trace.json")
        prof.export_chrome_trace(path)
        if use_gzip:
            with open(path, "rb") as src, gzip.open(path + ".gz", "wb") as dst:
                shutil.copyfileobj(src, dst)
            os.remove(path)
    return handler_fn
