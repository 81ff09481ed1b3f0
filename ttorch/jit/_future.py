"""``Future``, ``fork`` and ``wait``: TorchScript's task parallelism, run eagerly.

``fork(fn, *args)`` calls ``fn`` at once, in the calling thread, and returns a completed
``Future``; ``wait`` returns its value (or raises the exception ``fn`` raised). Results are the
ones PyTorch gives; the forked calls just do not overlap.
"""
import threading

__all__ = ["Future", "fork", "wait"]


class Future:
    """A value that may arrive later (``torch.futures.Future``): ``wait``, ``value``, ``done``, ``then``."""

    def __init__(self, *, devices=None):
        self._done = threading.Event()
        self._value = None
        self._exc = None
        self._callbacks = []
        self._lock = threading.Lock()

    def done(self):
        return self._done.is_set()

    def wait(self):
        """Block until the value is set; return it, or raise the exception set with ``set_exception``."""
        self._done.wait()
        if self._exc is not None:
            raise self._exc
        return self._value

    def value(self):
        if not self.done():
            raise RuntimeError("Future is not completed yet")
        return self.wait()

    def _finish(self):
        with self._lock:
            if self._done.is_set():
                raise RuntimeError("Future can only be marked completed once")
            self._done.set()
            callbacks, self._callbacks = self._callbacks, []
        for cb in callbacks:
            cb(self)

    def set_result(self, result):
        self._value = result
        self._finish()

    def set_exception(self, result):
        if not isinstance(result, BaseException):
            raise TypeError(f"{result} is of type {type(result)}, not an Exception.")
        self._exc = result
        self._finish()

    def add_done_callback(self, callback):
        with self._lock:
            if not self._done.is_set():
                self._callbacks.append(callback)
                return
        callback(self)

    def then(self, callback):
        """A new ``Future`` completed with ``callback(self)`` once this one completes."""
        out = Future()

        def run(fut):
            try:
                out.set_result(callback(fut))
            except Exception as e:
                out.set_exception(e)
        self.add_done_callback(run)
        return out


def fork(func, *args, **kwargs):
    """Run ``func(*args, **kwargs)`` (now, eagerly) and return a completed ``Future`` of its result."""
    fut = Future()
    try:
        fut.set_result(func(*args, **kwargs))
    except Exception as e:
        fut.set_exception(e)
    return fut


def wait(future):
    """The value of a ``Future`` from ``fork``."""
    return future.wait()
