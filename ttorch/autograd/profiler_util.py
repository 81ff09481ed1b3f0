"""``ttorch.autograd.profiler_util``: the profiler's event classes (``EventList``, ``FunctionEvent``,
``FunctionEventAvg``, defined in ``ttorch/profiler/_events.py``) and PyTorch's small helpers beside them."""
import bisect
from collections import defaultdict, namedtuple

from ..profiler._events import EventList, FunctionEvent, FunctionEventAvg  # noqa: F401

__all__ = ["EventList", "FunctionEvent", "FunctionEventAvg", "Interval", "Kernel", "StringTable", "MemRecordsAcc"]

Kernel = namedtuple("Kernel", ["name", "device", "duration"])


class Interval:
    """A time interval in microseconds."""

    def __init__(self, start, end):
        self.start = start
        self.end = end

    def elapsed_us(self):
        """The length of the interval."""
        return self.end - self.start


class StringTable(defaultdict):
    """Interns names: a missing key maps to itself (PyTorch demangles C++ names here; ttorch's event names
    are Python names already)."""

    def __missing__(self, key):
        self[key] = key
        return key


class MemRecordsAcc:
    """Memory records (``(event, timestamp_us)`` pairs) sorted by time, for the records inside an interval."""

    def __init__(self, mem_records):
        self._mem_records = sorted(mem_records, key=lambda r: r[1])
        self._start_uses = [r[1] for r in self._mem_records]

    def in_interval(self, start_us, end_us):
        """The records whose timestamps fall in ``[start_us, end_us]``, in time order."""
        lo = bisect.bisect_left(self._start_uses, start_us)
        hi = bisect.bisect_right(self._start_uses, end_us)
        for i in range(lo, hi):
            yield self._mem_records[i]
