"""What the profiler recorded, and PyTorch's ways of reading it: ``FunctionEvent`` (one op, user
range or kernel), ``FunctionEventAvg`` (events grouped by name), ``EventList.table()`` and the
Chrome trace. Times are microseconds, as PyTorch's."""
import json


class FunctionEvent:
    """One recorded interval: an op (``ttorch::add``), a ``record_function`` range, an autograd
    node, or a kernel (``device_type`` "cuda": its time is device time, its CPU time 0)."""

    __slots__ = ("id", "name", "device_type", "thread", "start_us", "end_us", "input_shapes", "children_us",
                 "device_time_total", "self_device_time_total", "device_start_us")

    def __init__(self, id, name, device_type, thread, start_us, input_shapes=()):
        self.id, self.name, self.device_type, self.thread = id, name, device_type, thread
        self.start_us, self.end_us, self.input_shapes = start_us, start_us, input_shapes
        self.children_us = 0.0
        self.device_time_total = self.self_device_time_total = 0.0
        self.device_start_us = None

    key = property(lambda self: self.name)
    count = property(lambda self: 1)
    cpu_time_total = property(lambda self: 0.0 if self.device_type == "cuda" else self.end_us - self.start_us)
    self_cpu_time_total = property(lambda self: 0.0 if self.device_type == "cuda" else
                                   self.end_us - self.start_us - self.children_us)
    cuda_time_total = property(lambda self: self.device_time_total)
    self_cuda_time_total = property(lambda self: self.self_device_time_total)

    def __repr__(self):
        return (f"<FunctionEvent {self.name} cpu_time_total={self.cpu_time_total:.3f}us "
                f"device_time_total={self.device_time_total:.3f}us>")


class FunctionEventAvg:
    """Events of one key summed: totals, ``count`` and per-call averages (``cpu_time``, ``device_time``)."""

    def __init__(self, key, input_shapes=None):
        self.key, self.input_shapes, self.count = key, input_shapes, 0
        self.cpu_time_total = self.self_cpu_time_total = 0.0
        self.device_time_total = self.self_device_time_total = 0.0
        self.device_type = "cpu"

    def add(self, e):
        self.count += e.count
        self.cpu_time_total += e.cpu_time_total
        self.self_cpu_time_total += e.self_cpu_time_total
        self.device_time_total += e.device_time_total
        self.self_device_time_total += e.self_device_time_total
        self.device_type = e.device_type
        return self

    cuda_time_total = property(lambda self: self.device_time_total)
    self_cuda_time_total = property(lambda self: self.self_device_time_total)
    cpu_time = property(lambda self: self.cpu_time_total / max(self.count, 1))
    device_time = cuda_time = property(lambda self: self.device_time_total / max(self.count, 1))

    def __repr__(self):
        return (f"<FunctionEventAvg key={self.key} count={self.count} cpu_time_total={self.cpu_time_total:.3f}us "
                f"device_time_total={self.device_time_total:.3f}us>")


_SORT_KEYS = {"cpu_time", "cuda_time", "device_time", "cpu_time_total", "cuda_time_total", "device_time_total",
              "self_cpu_time_total", "self_cuda_time_total", "self_device_time_total", "count"}


def _fmt_us(us):
    if us >= 1e6:
        return f"{us / 1e6:.3f}s"
    if us >= 1e3:
        return f"{us / 1e3:.3f}ms"
    return f"{us:.3f}us"


class EventList(list):
    """A list of events with PyTorch's readers: ``table``, ``key_averages``, ``total_average``,
    ``export_chrome_trace``."""

    def key_averages(self, group_by_input_shape=False):
        groups = {}
        for e in self:
            shapes = str(list(e.input_shapes)) if group_by_input_shape else None
            k = (e.key, shapes)
            if k not in groups:
                groups[k] = FunctionEventAvg(e.key, shapes)
            groups[k].add(e)
        return EventList(groups.values())

    def total_average(self):
        total = FunctionEventAvg("Total")
        for e in self:
            total.add(e)
        return total

    def table(self, sort_by=None, row_limit=100, max_name_column_width=55, header=None,
              top_level_events_only=False, **ignored):
        """PyTorch's summary table: Self CPU, CPU total and its average, Self CUDA, CUDA total and its
        average, calls; sorted by ``sort_by`` (e.g. "cuda_time_total", "self_cpu_time_total"),
        largest first. Ignored: the source and stack columns (no stacks are recorded)."""
        rows = self if not isinstance(self[0] if self else None, FunctionEvent) else self.key_averages()
        if sort_by is not None:
            if sort_by not in _SORT_KEYS:
                raise AttributeError(f"'FunctionEventAvg' object has no attribute '{sort_by}'")
            rows = sorted(rows, key=lambda e: getattr(e, sort_by), reverse=True)
        rows = list(rows)[:row_limit] if row_limit is not None and row_limit >= 0 else list(rows)
        self_cpu = sum(e.self_cpu_time_total for e in self) or 1.0
        # as PyTorch's: the device total counts the kernels only (an op's self time is its kernels')
        self_dev = sum(e.self_device_time_total for e in self if e.device_type == "cuda")
        shapes = any(getattr(e, "input_shapes", None) for e in rows)
        width = min(max([len(e.key) for e in rows] + [4]), max_name_column_width)
        cols = ["Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg", "Self CUDA", "Self CUDA %",
                "CUDA total", "CUDA time avg", "# of Calls"]
        line = "-" * (width + 2 + 15 * len(cols) + (32 if shapes else 0))
        out = [header] if header else []
        out += [line, "Name".ljust(width) + "  " + "".join(c.rjust(15) for c in cols) +
                ("  Input Shapes" if shapes else ""), line]
        for e in rows:
            name = e.key if len(e.key) <= width else e.key[:width - 3] + "..."
            cells = [f"{100 * e.self_cpu_time_total / self_cpu:.2f}%", _fmt_us(e.self_cpu_time_total),
                     f"{100 * e.cpu_time_total / self_cpu:.2f}%", _fmt_us(e.cpu_time_total), _fmt_us(e.cpu_time),
                     _fmt_us(e.self_device_time_total),
                     f"{100 * e.self_device_time_total / self_dev:.2f}%" if self_dev else "0.00%",
                     _fmt_us(e.device_time_total), _fmt_us(e.device_time), str(e.count)]
            row = name.ljust(width) + "  " + "".join(c.rjust(15) for c in cells)
            out.append(row + ("  " + str(e.input_shapes or "") if shapes else ""))
        out += [line, f"Self CPU time total: {_fmt_us(sum(e.self_cpu_time_total for e in self))}"]
        if self_dev:
            out.append(f"Self CUDA time total: {_fmt_us(self_dev)}")
        return "\n".join(out) + "\n"

    def export_chrome_trace(self, path):
        """The events as a Chrome/Perfetto trace (``chrome://tracing``): ops and ranges on their
        thread's row, kernels on the device's."""
        trace = []
        for e in self:
            if not isinstance(e, FunctionEvent):
                raise TypeError("export_chrome_trace needs the raw events, not key_averages()")
            if e.device_type == "cuda":
                trace.append({"name": e.name, "ph": "X", "cat": "kernel", "pid": "cuda", "tid": "stream 0",
                              "ts": e.device_start_us, "dur": e.device_time_total})
            else:
                trace.append({"name": e.name, "ph": "X", "cat": "cpu_op", "pid": "cpu", "tid": e.thread,
                              "ts": e.start_us, "dur": e.cpu_time_total,
                              "args": {"Input Dims": [list(s) for s in e.input_shapes]} if e.input_shapes else {}})
        with open(path, "w") as f:
            json.dump({"traceEvents": trace, "displayTimeUnit": "ms"}, f)
