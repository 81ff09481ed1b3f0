"""``ttorch.cuda.Stream``, ``Event``, ``current_stream``, ``default_stream``, ``stream``: PyTorch's stream API.

ttorch launches every kernel and copy of a device on its default stream, so a ``Stream`` stands for that
stream: code written for side streams runs correctly (its work is ordered, as one stream orders it), only
without overlap; ``wait_stream``, ``wait_event`` and ``with ttorch.cuda.stream(s):`` have nothing to do.
``Event`` is a real CUDA event on a GPU (``cuEventRecord`` on the default stream, ``cuEventElapsedTime``);
on the simulated device kernels run synchronously and an event records the host clock.
"""
import time

from . import _driver


def _index(device):
    from . import _index as idx
    return idx(device)


class Event:
    """A marker in the device's work: ``record()`` it, then ``synchronize()``, ``query()``, or
    ``elapsed_time(end)`` (milliseconds; both events made with ``enable_timing=True``).

    Example::

        >>> import ttorch
        >>> start, end = ttorch.cuda.Event(enable_timing=True), ttorch.cuda.Event(enable_timing=True)
        >>> start.record(); y = ttorch.ones(64, device="cuda") * 2; end.record(); end.synchronize()
        >>> start.elapsed_time(end) >= 0
        True
    """

    def __init__(self, enable_timing=False, blocking=False, interprocess=False, external=False):
        self.enable_timing, self.blocking, self.interprocess = enable_timing, blocking, interprocess
        self._event = None          # the CUDA event (a GPU), made at the first record
        self._host_ms = None        # the host clock at record (the simulated device)
        self._device = None

    def record(self, stream=None):
        """Mark the work queued so far on ``stream``'s device (the current device by default)."""
        index = _index(None) if stream is None else stream.device.index
        self._device = index
        if _driver.SIMULATED:
            self._host_ms = time.perf_counter() * 1e3
            return
        be = _driver.backend()
        be.context(index)
        if self._event is None:
            flags = (0 if self.enable_timing else 0x2) | (0x1 if self.blocking else 0)   # DISABLE_TIMING, BLOCKING_SYNC
            self._event = be._check(be.cu.cuEventCreate(flags))[0]
        be._check(be.cu.cuEventRecord(self._event, 0))

    def query(self):
        """Whether the work before the recorded point has finished (True if never recorded)."""
        if self._event is None:
            return True
        be = _driver.backend()
        return be.cu.cuEventQuery(self._event)[0] == be.cu.CUresult.CUDA_SUCCESS

    def synchronize(self):
        """Wait until the work before the recorded point has finished."""
        if self._event is not None:
            be = _driver.backend()
            be._check(be.cu.cuEventSynchronize(self._event))

    def wait(self, stream=None):
        """Make ``stream`` wait for this event: nothing to do with one stream a device."""

    def elapsed_time(self, end_event):
        """Milliseconds between this event and ``end_event`` (both recorded; ``end_event`` is waited for)."""
        if not (self.enable_timing and end_event.enable_timing):
            raise RuntimeError("Both events must be created with argument 'enable_timing=True'.")
        if self._device is None or end_event._device is None:
            raise RuntimeError("Both events must be recorded before calculating elapsed time.")
        if _driver.SIMULATED:
            return end_event._host_ms - self._host_ms
        end_event.synchronize()
        be = _driver.backend()
        return float(be._check(be.cu.cuEventElapsedTime(self._event, end_event._event))[0])

    def __del__(self):
        if self._event is not None and not _driver.SIMULATED:
            try:
                _driver.backend().cu.cuEventDestroy(self._event)
            except Exception:        # interpreter shutdown: the driver may be gone
                pass

    def __repr__(self):
        return f"<ttorch.cuda.Event {'recorded' if self._device is not None else 'uninitialized'}>"


class Stream:
    """A device's stream: in ttorch always its default one (see the module's docstring), so
    ``Stream()`` and ``current_stream()`` compare equal on one device."""

    def __init__(self, device=None, priority=0, **kwargs):
        from .._device import device as _dev
        self.device = _dev("cuda", _index(device))
        self.priority = priority
        self.cuda_stream = 0

    def synchronize(self):
        from . import synchronize
        synchronize(self.device.index)

    def query(self):
        if _driver.SIMULATED:
            return True
        be = _driver.backend()
        be.context(self.device.index)
        return be.cu.cuStreamQuery(0)[0] == be.cu.CUresult.CUDA_SUCCESS

    def wait_event(self, event):
        """Nothing to do: one stream orders the device's work."""

    def wait_stream(self, stream):
        """Nothing to do: one stream orders the device's work."""

    def record_event(self, event=None):
        event = Event() if event is None else event
        event.record(self)
        return event

    def __eq__(self, other):
        return isinstance(other, Stream) and other.device == self.device

    def __hash__(self):
        return hash(("stream", self.device.index))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __repr__(self):
        return f"<ttorch.cuda.Stream device={self.device} cuda_stream=0x0>"


def current_stream(device=None):
    """The stream kernels go to on ``device``: its default stream."""
    return Stream(device)


def default_stream(device=None):
    return Stream(device)


class StreamContext:
    """``with ttorch.cuda.stream(s):``: work inside goes to ``s``, which is the default stream."""

    def __init__(self, stream):
        self.stream = stream

    def __enter__(self):
        return self.stream

    def __exit__(self, *exc):
        return False


def stream(stream):
    return StreamContext(stream)


def set_stream(stream):
    """Nothing to set: every stream is the device's default one."""


class ExternalStream(Stream):
    """A stream made outside ttorch (``stream_ptr``: a ``CUstream``/``cudaStream_t`` address), e.g. by
    another library. ``cuda_stream`` is that address and ``synchronize``/``query`` act on it; ttorch's own
    kernels still go to the device's default stream (see the module docstring), so order them against the
    external stream with ``synchronize``."""

    def __init__(self, stream_ptr, device=None, **kwargs):
        super().__init__(device)
        self.cuda_stream = int(stream_ptr)

    def synchronize(self):
        if _driver.SIMULATED:
            return
        be = _driver.backend()
        be.context(self.device.index)
        be._check(be.cu.cuStreamSynchronize(self.cuda_stream))

    def query(self):
        if _driver.SIMULATED:
            return True
        be = _driver.backend()
        be.context(self.device.index)
        return be.cu.cuStreamQuery(self.cuda_stream)[0] == be.cu.CUresult.CUDA_SUCCESS

    def __eq__(self, other):
        return isinstance(other, Stream) and other.device == self.device and other.cuda_stream == self.cuda_stream

    def __hash__(self):
        return hash(("stream", self.device.index, self.cuda_stream))

    def __repr__(self):
        return f"<ttorch.cuda.ExternalStream device={self.device} cuda_stream={self.cuda_stream:#x}>"
