"""``ttorch.futures``: ``Future``, the result of an asynchronous operation, with ``collect_all`` and ``wait_all``.

A ``Future`` is completed by ``set_result``/``set_exception``, or by the ``Work`` of an asynchronous collective
(``dist.all_reduce(t, async_op=True).get_future()``, whose value is the list of output tensors, as PyTorch's).

Difference from PyTorch: the callbacks of ``then`` and ``add_done_callback`` on a future a collective completes
run in the first thread that waits on it (or asks ``done()``) after the collective finished, never in the group's
communication thread: a callback may then start and wait on another collective of the same group (PowerSGD's
hooks do) without blocking that thread. Callbacks of a future completed by ``set_result`` run inside
``set_result``, as PyTorch's.
"""
import threading

__all__ = ["Future", "collect_all", "wait_all"]


class Future:
    r"""The eventual result of an asynchronous operation.

    Args:
        devices (list, optional): accepted as PyTorch's (values are not tied to cuda streams here).

    Example::

        >>> fut = ttorch.futures.Future()
        >>> doubled = fut.then(lambda f: f.value() * 2)
        >>> fut.set_result(3)
        >>> doubled.wait()
        6
    """

    def __init__(self, *, devices=None):
        self._devices = devices
        self._lock = threading.RLock()
        self._done = False
        self._value = self._exc = None
        self._callbacks = []
        self._work = None        # a collective's Work that completes this future when polled

    def __class_getitem__(cls, item):       # ``Future[Tensor]`` in annotations, as PyTorch's generic
        return cls

    @classmethod
    def _of_work(cls, work):
        fut = cls()
        fut._work = work
        return fut

    # ------------------------------------------------------------------ completion
    def _poll(self, block):
        """Complete from the ``Work`` when it has finished (waiting for it when ``block``)."""
        work = self._work
        if self._done or work is None:
            return
        if not block and not work.is_completed():
            return
        if isinstance(work, (_Chained, _All)):
            work.wait()                # completes this future through the parents' callbacks, or raises
            if not self._done and isinstance(work, _All):
                self._complete(work.result(), None)
            return
        try:
            work.wait()
        except BaseException as e:     # the collective's error is the future's
            self._complete(None, e)
        else:
            self._complete(work.result(), None)

    def _complete(self, value, exc):
        with self._lock:
            if self._done:
                return
            self._value, self._exc, self._done = value, exc, True
            callbacks, self._callbacks = self._callbacks, []
        for cb in callbacks:
            cb(self)

    def set_result(self, result):
        """Complete the future with ``result`` and run its callbacks; a second call raises."""
        if self._done:
            raise RuntimeError("Error setting result: Future can only be marked completed once.")
        self._complete(result, None)

    def set_exception(self, result):
        """Complete the future with an error that ``wait()`` and ``value()`` raise."""
        if not isinstance(result, BaseException):
            raise TypeError(f"set_exception expects an exception, got {type(result).__name__}")
        if self._done:
            raise RuntimeError("Error setting exception: Future can only be marked completed once.")
        self._complete(None, result)

    # ------------------------------------------------------------------ reading
    def done(self):
        """Whether the future holds a value or an error (does not block)."""
        self._poll(False)
        return self._done

    def wait(self):
        """Block until the future is complete; its value, or its error raised."""
        self._poll(True)
        if not self._done:
            raise RuntimeError("Future.wait() would block forever: nothing will complete this future "
                               "(set_result was not called)")
        if self._exc is not None:
            raise self._exc
        return self._value

    def value(self):
        """The value of a completed future (its error raised). Unlike PyTorch's, it waits if needed."""
        return self.wait()

    # ------------------------------------------------------------------ chaining
    def then(self, callback):
        """A new future completed with ``callback(self)`` once this one completes (its error if it raises)."""
        child = Future(devices=self._devices)

        def run(fut):
            try:
                out = callback(fut)
            except BaseException as e:      # the callback's error becomes the child's
                child._complete(None, e)
            else:
                child._complete(out, None)
        self.add_done_callback(run)
        if not child._done:
            child._work = _Chained(self)
        return child

    def add_done_callback(self, callback):
        """Run ``callback(self)`` when the future completes (now, if it already has)."""
        with self._lock:
            if not self._done:
                self._callbacks.append(callback)
                return
        callback(self)

    def __repr__(self):
        return f"ttorch.futures.Future(done={self._done})"


class _Chained:
    """The ``Work``-like source of a ``then`` future: polling it polls the parent, whose callbacks complete
    the child (so a chain started by a collective runs in the waiting thread)."""

    def __init__(self, parent):
        self._parent = parent

    def is_completed(self):
        return self._parent.done()

    def wait(self):
        self._parent._poll(True)
        if not self._parent._done:
            self._parent.wait()     # raises: nothing will complete the parent


def collect_all(futures):
    """A future completed, once every one of ``futures`` is, with the list of them."""
    futures = list(futures)
    out = Future()
    if not futures:
        out.set_result([])
        return out
    out._work = _All(futures)
    return out


class _All:
    def __init__(self, futures):
        self._futures = futures

    def is_completed(self):
        return all(f.done() for f in self._futures)

    def wait(self):
        for f in self._futures:
            f._poll(True)
            if not f._done:
                f.wait()           # raises: nothing will complete it

    def result(self):
        return self._futures


def wait_all(futures):
    """Wait for every future; the list of their values (the first error raised)."""
    return [f.wait() for f in futures]
