"""``ttorch.Stream`` and ``ttorch.Event``: PyTorch's device-generic stream and event.

On cuda they stand on ``ttorch.cuda.Stream``/``Event`` (``cuda/streams.py``): ttorch runs a
device's work on its default stream, so every cuda ``Stream`` is that stream (``stream_id`` 0)
and waiting on another stream has nothing to do. On the cpu, work finishes before an op returns:
a stream is always done, and events are refused as PyTorch refuses them.
"""
import abc

from ._device import device as _device


def _resolve(device):
    if device is None:
        from . import accelerator
        device = accelerator.current_accelerator() or _device("cpu")
    d = _device(device)
    if d.type == "cuda":
        from . import cuda
        if not cuda.is_available():
            raise RuntimeError("ttorch is not linked with support for cuda devices")
        return _device("cuda", cuda._index(d))
    return d


class Stream(metaclass=abc.ABCMeta):
    """Stream(device=None, *, priority=0): an in-order queue of a device's work.

    ``with ttorch.Stream(device="cuda"):`` runs the block's work on it (on cuda: the default
    stream, see the module's docstring). ``ttorch.cuda.Stream`` objects are ``ttorch.Stream``\\ s.

    Example::

        >>> import ttorch
        >>> s = ttorch.Stream(device="cpu")
        >>> s.query()
        True
    """

    def __init__(self, device=None, *, priority=0):
        d = _resolve(device)
        self.device_type, self.device_index, self.stream_id = d.type, (-1 if d.index is None else d.index), 0
        self.priority = priority
        self._cuda = None
        if d.type == "cuda":
            from .cuda.streams import Stream as CudaStream
            self._cuda = CudaStream(d.index, priority=priority)

    @property
    def device(self):
        return _device(self.device_type) if self.device_index < 0 else _device(self.device_type, self.device_index)

    @property
    def native_handle(self):
        if self._cuda is None:
            raise RuntimeError("Backend doesn't support getting stream native handle.")
        return self._cuda.cuda_stream

    def query(self):
        """Whether all work submitted to the stream has finished."""
        return True if self._cuda is None else self._cuda.query()

    def synchronize(self):
        """Wait for all work submitted to the stream."""
        if self._cuda is not None:
            self._cuda.synchronize()

    def wait_event(self, event):
        """Make future work wait for ``event`` (one stream per device: already ordered)."""

    def wait_stream(self, stream):
        """Make future work wait for ``stream``'s (one stream per device: already ordered)."""
        if self._cuda is None:
            raise RuntimeError(f"{self.device_type} backend doesn't support events.")

    def record_event(self, event=None):
        """Record ``event`` (a new ``ttorch.Event`` by default) on the stream and return it."""
        event = Event(self.device) if event is None else event
        event.record(self)
        return event

    def is_capturing(self):
        """Whether a graph capture is under way on the stream: never in ttorch."""
        return False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __eq__(self, other):
        return (isinstance(other, Stream) and self.device_type == getattr(other, "device_type", other.device.type)
                and self.device_index == getattr(other, "device_index", other.device.index)
                and getattr(other, "stream_id", 0) == self.stream_id)

    def __hash__(self):
        return hash((self.device_type, self.device_index, self.stream_id))

    def __repr__(self):
        return (f"torch.Stream device_type={self.device_type}, device_index={self.device_index}, "
                f"stream_id={self.stream_id}")


class Event:
    """Event(device=None, *, enable_timing=False, blocking=False, interprocess=False): a marker
    in a stream's work, to wait for or to time (``elapsed_time``, milliseconds).

    Example::

        >>> import ttorch
        >>> e = ttorch.Event(device="cpu")
        >>> e.query()
        True
    """

    def __init__(self, device=None, *, enable_timing=False, blocking=False, interprocess=False):
        d = _resolve(device)
        self.device_type, self.device_index = d.type, (-1 if d.index is None else d.index)
        self.enable_timing = enable_timing
        self._cuda = None
        self._recorded = False
        if d.type == "cuda":
            from .cuda.streams import Event as CudaEvent
            self._cuda = CudaEvent(enable_timing=enable_timing, blocking=blocking, interprocess=interprocess)

    @property
    def device(self):
        return _device(self.device_type) if self.device_index < 0 else _device(self.device_type, self.device_index)

    @property
    def event_id(self):
        return int(self._cuda._event) if self._cuda is not None and self._cuda._event is not None else 0

    def _no_events(self):
        return RuntimeError(f"{self.device_type} backend doesn't support events.")

    def record(self, stream=None):
        """Record the event on ``stream`` (the device's current stream by default)."""
        if self._cuda is None:
            raise self._no_events()
        self._cuda.record(getattr(stream, "_cuda", stream))
        self._recorded = True

    def query(self):
        """Whether the work before the recorded point has finished (True if never recorded)."""
        return True if self._cuda is None else self._cuda.query()

    def synchronize(self):
        """Wait for the work before the recorded point."""
        if self._cuda is not None:
            self._cuda.synchronize()

    def wait(self, stream=None):
        """Make ``stream`` wait for the event (one stream per device: already ordered)."""
        if self._cuda is None:
            raise self._no_events()

    def elapsed_time(self, end_event):
        """Milliseconds between this event and ``end_event``, both recorded."""
        if not (self._recorded and end_event._recorded):
            raise ValueError("Both events must be recorded before calculating elapsed time.")
        return self._cuda.elapsed_time(end_event._cuda)

    def ipc_handle(self):
        """PyTorch's handle to share the event with another process: ttorch shares no events."""
        raise RuntimeError("ttorch.Event.ipc_handle: ttorch does not share events between processes")

    @classmethod
    def from_ipc_handle(cls, device, ipc_handle):
        raise RuntimeError("ttorch.Event.from_ipc_handle: ttorch does not share events between processes")

    def __repr__(self):
        return (f"torch.Event device_type={self.device_type}, device_index={self.device_index}, "
                f"event_flag={int(self.enable_timing)}, event_id={self.event_id}")


def _register_cuda():
    """Make ``ttorch.cuda.Stream`` objects ``ttorch.Stream`` instances, as in PyTorch."""
    from .cuda.streams import Stream as CudaStream
    Stream.register(CudaStream)


_register_cuda()
