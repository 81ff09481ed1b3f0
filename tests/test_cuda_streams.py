"""``ttorch.cuda`` streams and events on the (simulated) device: one stream a device (every Stream is the
default one, the context managers change nothing and order everything), events that time and
synchronize, the RNG state of all devices, ``device_of``, ``OutOfMemoryError``."""
import doctest

import pytest

import ttorch
from ttorch.cuda import streams

pytestmark = pytest.mark.skipif(not ttorch.cuda.is_available(), reason="needs (simulated) cuda")


def test_streams_are_the_default_stream():
    s = ttorch.cuda.Stream()
    assert s == ttorch.cuda.current_stream() == ttorch.cuda.default_stream() and s.cuda_stream == 0
    assert s.device == ttorch.device("cuda", 0) and hash(s) == hash(ttorch.cuda.current_stream())
    x = ttorch.arange(4.0, device="cuda")
    with ttorch.cuda.stream(s):                           # work inside stays ordered with work outside
        y = x * 2
    s.wait_stream(ttorch.cuda.default_stream())
    s.synchronize()
    assert s.query() and y.tolist() == [0.0, 2.0, 4.0, 6.0]
    e = s.record_event()
    s.wait_event(e)
    assert isinstance(e, ttorch.cuda.Event) and e.query()


def test_events_time_and_errors():
    start, end = ttorch.cuda.Event(enable_timing=True), ttorch.cuda.Event(enable_timing=True)
    with pytest.raises(RuntimeError, match="Both events must be recorded"):
        start.elapsed_time(end)
    start.record()
    ttorch.ones(256, device="cuda").sum().item()
    end.record()
    end.synchronize()
    assert start.elapsed_time(end) >= 0.0 and end.query()
    plain = ttorch.cuda.Event()
    plain.record()
    with pytest.raises(RuntimeError, match="Both events must be created with argument 'enable_timing=True'"):
        plain.elapsed_time(end)


def test_rng_state_all_device_of_and_oom():
    states = ttorch.cuda.get_rng_state_all()
    assert len(states) == max(ttorch.cuda.device_count(), 1)
    a = ttorch.rand(3, device="cuda")
    ttorch.cuda.set_rng_state_all(states)
    assert ttorch.equal(ttorch.rand(3, device="cuda").cpu(), a.cpu())
    with ttorch.cuda.device_of(ttorch.ones(1, device="cuda")):
        assert ttorch.cuda.current_device() == 0
    with ttorch.cuda.device_of(ttorch.ones(1)):            # a cpu tensor: no change
        assert ttorch.cuda.current_device() == 0
    assert issubclass(ttorch.cuda.OutOfMemoryError, RuntimeError)


def test_doctests():
    res = doctest.testmod(streams, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0 and res.attempted >= 1
