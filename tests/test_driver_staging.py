"""The pinned staging ring behind cuda uploads (``cuda/_driver._Staging``), driven by a stand-in
CUDA driver whose "GPU" runs queued copies late, reading the staging bytes only then: an upload
must never overwrite ring bytes that a queued copy has not read yet, must not wait when the ring
has room, and larger uploads must go back to the synchronous copy."""
import ctypes

import numpy as np

from ttorch.cuda._driver import _Staging


class FakeDriver:
    """Stream 0 as a queue: copies and event records run in order, only when someone waits."""

    class CUresult:
        CUDA_SUCCESS, CUDA_ERROR_NOT_READY = 0, 600

    class CUevent_flags:
        CU_EVENT_DISABLE_TIMING = 2

    def __init__(self):
        self.queue, self.host, self.waits = [], [], 0

    def cuMemHostAlloc(self, size, flags):
        buf = np.zeros(size, np.uint8)
        self.host.append(buf)
        return 0, buf.ctypes.data

    def cuMemcpyHtoDAsync(self, dst, src, n, stream):
        self.queue.append(("copy", dst, src, n))
        return (0,)

    def cuEventCreate(self, flags):
        return 0, {"done": False}

    def cuEventRecord(self, ev, stream):
        ev["done"] = False
        self.queue.append(("event", ev))
        return (0,)

    def run(self, upto=None):
        while self.queue:
            item = self.queue.pop(0)
            if item[0] == "copy":
                _, dst, src, n = item
                ctypes.memmove(dst, src, n)          # the DMA reads the staging bytes now
            else:
                item[1]["done"] = True
                if item[1] is upto:
                    return

    def cuEventSynchronize(self, ev):
        self.waits += 1
        if not ev["done"]:
            self.run(upto=ev)
        return (0,)

    def cuEventQuery(self, ev):
        return (self.CUresult.CUDA_SUCCESS if ev["done"] else self.CUresult.CUDA_ERROR_NOT_READY,)


def _check(res):
    return res[1:]


def test_uploads_never_clobber_bytes_a_queued_copy_has_not_read(monkeypatch):
    monkeypatch.setattr(_Staging, "SIZE", 4096)
    monkeypatch.setattr(_Staging, "MAX", 1024)
    cu = FakeDriver()
    stage = _Staging(cu, _check)
    rng = np.random.default_rng(0)
    expected, dests, fallback = [], [], 0
    for i in range(200):
        n = int(rng.integers(1, 1400))
        src = rng.integers(0, 256, n, dtype=np.uint8)
        dst = np.zeros(n, np.uint8)
        if stage.upload(dst.ctypes.data, src.ctypes.data, n):
            expected.append(src.copy())
            dests.append(dst)
        else:
            assert n > 1024
            fallback += 1
        src[:] = 0                                   # the caller's buffer may change at once
        if i % 37 == 0:
            cu.run()                                 # the GPU catches up now and then
    cu.run()
    assert fallback > 0 and len(dests) > 100
    for got, want in zip(dests, expected):
        np.testing.assert_array_equal(got, want)
    assert len(cu.host) == 1                         # one pinned ring, reused


def test_no_wait_while_the_ring_has_room(monkeypatch):
    monkeypatch.setattr(_Staging, "SIZE", 1 << 16)
    cu = FakeDriver()
    stage = _Staging(cu, _check)
    src = np.arange(100, dtype=np.uint8)
    dst = [np.zeros(100, np.uint8) for _ in range(50)]
    for d in dst:
        assert stage.upload(d.ctypes.data, src.ctypes.data, 100)
    assert cu.waits == 0 and len(stage.inflight) == 50
    cu.run()
    stage.upload(dst[0].ctypes.data, src.ctypes.data, 100)   # finished uploads are forgotten
    assert len(stage.inflight) == 1 and cu.waits == 0
