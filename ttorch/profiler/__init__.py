"""``ttorch.profiler``: where the time goes, per op, per user range and per GPU kernel, read as
PyTorch's profiler is read::

    with ttorch.profiler.profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        with ttorch.profiler.record_function("step"):
            loss = model(x).sum(); loss.backward()
    print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=10))

Recorded: every primitive op (``ttorch::<name>``, CPU time from entry to return, kernels it
launched counted in its CUDA time), every autograd node run by ``backward``
(``autograd::engine::evaluate_function: <Node>``), ``record_function`` ranges, and with
``ProfilerActivity.CUDA`` every Triton kernel (its name, and for the elementwise template the
function it applies: ``_ew_contig_kernel[_add]``), timed on the device by CUDA events on stream 0.
Differences from PyTorch: no Kineto/CUPTI (kernel times come from an event pair around each
launch, which adds a few µs of host time per launch while profiling), no stacks, memory or FLOP
counts (``with_stack``, ``profile_memory``, ``with_flops`` are accepted and ignored). On the
simulated device (``TRITON_INTERPRET=1``) a kernel's "CUDA" time is the interpreter's wall time.
"""
import enum
import threading
import time

from .. import _profiling
from ..ops._op import Op
from ._events import EventList, FunctionEvent, FunctionEventAvg

__all__ = ["profile", "record_function", "ProfilerActivity", "ProfilerAction", "schedule", "EventList",
           "FunctionEvent", "FunctionEventAvg"]


class ProfilerActivity(enum.Enum):
    CPU = 0
    CUDA = 1


class ProfilerAction(enum.Enum):
    NONE = 0
    WARMUP = 1
    RECORD = 2
    RECORD_AND_SAVE = 3


def schedule(*, wait, warmup, active, repeat=0, skip_first=0):
    """PyTorch's step schedule: skip ``skip_first`` steps, then cycles of ``wait`` idle, ``warmup``
    and ``active`` recorded steps (the last one saves: ``on_trace_ready`` is called), ``repeat``
    cycles (0: until the profiler stops)."""
    if wait < 0 or warmup < 0 or active <= 0 or repeat < 0 or skip_first < 0:
        raise AssertionError("Invalid profiler schedule arguments")

    def action(step):
        if step < skip_first:
            return ProfilerAction.NONE
        step -= skip_first
        n = wait + warmup + active
        if repeat > 0 and step // n >= repeat:
            return ProfilerAction.NONE
        m = step % n
        if m < wait:
            return ProfilerAction.NONE
        if m < wait + warmup:
            return ProfilerAction.WARMUP
        return ProfilerAction.RECORD if m < n - 1 else ProfilerAction.RECORD_AND_SAVE
    return action


def _now_us():
    return time.perf_counter_ns() / 1e3


class _Recorder:
    """The recording state of one profiling window: events, each thread's open intervals, and the
    kernels' event pairs waiting to be read once the device has caught up."""

    def __init__(self, cuda, shapes):
        self.cuda, self.shapes = cuda, shapes
        self.events, self.stacks, self.pending = [], {}, []
        self.t0 = _now_us()
        self.inside_launch = False
        self.real = False
        if cuda:
            from ..cuda import _driver
            self.real = not _driver.SIMULATED
            if self.real:
                self.cu = _driver.backend().cu
                self.ref = self._event()
                self.cu.cuEventRecord(self.ref, 0)

    def _event(self):
        return self.cu.cuEventCreate(0)[1]

    def push(self, name, kind="cpu", inputs=()):
        stack = self.stacks.setdefault(threading.get_ident(), [])
        shapes = tuple(list(t.shape) if hasattr(t, "shape") else [] for t in inputs) if self.shapes else ()
        e = FunctionEvent(len(self.events), name, kind, threading.get_ident(), _now_us() - self.t0, shapes)
        self.events.append(e)
        stack.append(e)
        return e

    def pop(self, e):
        e.end_us = _now_us() - self.t0
        stack = self.stacks[threading.get_ident()]
        stack.pop()
        if stack:
            stack[-1].children_us += e.end_us - e.start_us

    def kernel(self, launch, kernel, grid, args, meta):
        """Run one launch between two CUDA events (real GPU) or two clock reads (simulated)."""
        fn = getattr(kernel, "fn", kernel)
        name = getattr(fn, "__name__", type(kernel).__name__)
        inner = meta.get("FN")
        if inner is not None:
            name += f"[{getattr(getattr(inner, 'fn', inner), '__name__', inner)}]"
        e = FunctionEvent(len(self.events), name, "cuda", threading.get_ident(), _now_us() - self.t0)
        self.events.append(e)
        owners = tuple(self.stacks.get(threading.get_ident(), ()))
        self.inside_launch = True
        try:
            if self.real:
                start, end = self._event(), self._event()
                self.cu.cuEventRecord(start, 0)
                out = launch(kernel, grid, *args, **meta)
                self.cu.cuEventRecord(end, 0)
                self.pending.append((e, owners, start, end))
            else:
                t = time.perf_counter_ns()
                out = launch(kernel, grid, *args, **meta)
                self._credit(e, owners, e.start_us, (time.perf_counter_ns() - t) / 1e3)
        finally:
            self.inside_launch = False
        e.end_us = e.start_us
        return out

    def _credit(self, e, owners, start_us, us):
        e.device_start_us, e.device_time_total, e.self_device_time_total = start_us, us, us
        for o in owners:
            o.device_time_total += us
        if owners:
            owners[-1].self_device_time_total += us

    def finish(self):
        """Wait for the device and read every kernel's time."""
        if self.real and self.pending:
            cu = self.cu
            cu.cuEventSynchronize(self.pending[-1][3])
            for e, owners, start, end in self.pending:
                offset = cu.cuEventElapsedTime(self.ref, start)[1] * 1e3
                self._credit(e, owners, offset, cu.cuEventElapsedTime(start, end)[1] * 1e3)
                cu.cuEventDestroy(start)
                cu.cuEventDestroy(end)
        if self.real:
            self.cu.cuEventDestroy(self.ref)
        self.pending = []
        return EventList(self.events)


_plain_call = Op.__call__


def _profiled_call(op, *inputs, **attrs):
    with _profiling.span("ttorch::" + op.name, inputs):
        return _plain_call(op, *inputs, **attrs)


class profile:
    """Records ops, autograd nodes, ``record_function`` ranges and (with ``ProfilerActivity.CUDA``,
    the default where cuda is available) kernels between ``start()`` and ``stop()`` (or inside
    ``with``). With a ``schedule``, each ``step()`` moves through its wait/warmup/active cycles
    and ``on_trace_ready(prof)`` is called at the end of each active cycle."""

    def __init__(self, *, activities=None, schedule=None, on_trace_ready=None, record_shapes=False,
                 profile_memory=False, with_stack=False, with_flops=False, with_modules=False,
                 experimental_config=None, execution_trace_observer=None, acc_events=False, use_cuda=None):
        from .. import cuda
        if activities is None:
            activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda.is_available() else [])
        self.activities = set(activities)
        if use_cuda:
            self.activities.add(ProfilerActivity.CUDA)
        self.schedule, self.on_trace_ready, self.record_shapes = schedule, on_trace_ready, record_shapes
        self.acc_events = acc_events
        self.step_num = 0
        self.current_action = None
        self._rec = None
        self._events = EventList()

    # --- recording windows
    def _open(self):
        if _profiling.ACTIVE[0] is not None:
            raise RuntimeError("Profiler is already enabled on this thread")
        self._rec = _Recorder(ProfilerActivity.CUDA in self.activities, self.record_shapes)
        _profiling.ACTIVE[0] = self._rec
        Op.__call__ = _profiled_call

    def _close(self):
        if self._rec is None:
            return
        Op.__call__ = _plain_call
        _profiling.ACTIVE[0] = None
        events = self._rec.finish()
        self._events = EventList(self._events + events) if self.acc_events else events
        self._rec = None

    def start(self):
        self.current_action = self.schedule(self.step_num) if self.schedule else ProfilerAction.RECORD
        if self.current_action in (ProfilerAction.RECORD, ProfilerAction.RECORD_AND_SAVE):
            self._open()
        return self

    def stop(self):
        recording = self._rec is not None
        self._close()
        if recording and self.on_trace_ready is not None and (
                self.schedule is None or self.current_action is ProfilerAction.RECORD_AND_SAVE):
            self.on_trace_ready(self)

    def step(self):
        """The end of one training step: with a ``schedule``, open or close the recording window."""
        if self.schedule is None:
            return
        prev = self.current_action
        self.step_num += 1
        self.current_action = self.schedule(self.step_num)
        recording = self.current_action in (ProfilerAction.RECORD, ProfilerAction.RECORD_AND_SAVE)
        if prev is ProfilerAction.RECORD_AND_SAVE:
            self._close()
            if self.on_trace_ready is not None:
                self.on_trace_ready(self)
        elif self._rec is not None and not recording:
            self._close()
        if recording and self._rec is None:
            self._open()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    # --- reading what was recorded
    def events(self):
        return self._events

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0):
        return self._events.key_averages(group_by_input_shape)

    def export_chrome_trace(self, path):
        self._events.export_chrome_trace(path)


class record_function:
    """A named range in the profile (a context manager or a decorator); free when no profiler runs."""

    def __init__(self, name, args=None):
        self.name, self.args, self._event = name, args, None

    def __enter__(self):
        rec = _profiling.ACTIVE[0]
        if rec is not None:
            self._rec, self._event = rec, rec.push(self.name)
        return self

    def __exit__(self, *exc):
        if self._event is not None:
            self._rec.pop(self._event)
            self._event = None
        return False

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapped(*a, **k):
            with record_function(self.name, self.args):
                return fn(*a, **k)
        return wrapped
from .profiler import supported_activities, tensorboard_trace_handler  # noqa: E402,F401  (profiler.py)
