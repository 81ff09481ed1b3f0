"""Device-side checks, reported at the next synchronisation (PyTorch's CUDA device asserts, readable).

A kernel that finds bad input (a class index out of range, say) must not stop to ask the host:
that would cost a device-to-host copy and a stall on every call. Instead it counts the fault in a
small per-device buffer of int64 slots, keeps one offending value, and carries on with a safe
value. The host reads the buffer the next time it waits for the device anyway (``.item()``,
``.cpu()``, ``.tolist()``, ``ttorch.cuda.synchronize()``) and raises the check's error there, as
PyTorch's CUDA errors surface at the next synchronising call. Each kind of check owns two slots:
``[count, a bad value]``.
"""
import numpy as np

SLOTS = 16
_kinds = []             # slot index -> make_error(value)
_buffers = {}           # device index -> (SLOTS * 2,) int64 tensor
_views = {}             # (device index, slot) -> the slot's 2-element view
_armed = [False]        # a checked kernel ran since the last read: the next sync reads the buffers


def register(make_error):
    """A new kind of check; ``make_error(bad_value)`` builds the exception. Returns its slot."""
    if len(_kinds) >= SLOTS:
        raise RuntimeError("ttorch.cuda: out of device-check slots")
    _kinds.append(make_error)
    return len(_kinds) - 1


def slot(device, kind):
    """The 2-element int64 view a kernel on ``device`` writes its faults of ``kind`` into."""
    key = (device.index or 0, kind)
    v = _views.get(key)
    if v is None:
        buf = _buffers.get(key[0])
        if buf is None:
            from ..ops.creation import zeros
            from .. import _dtype as D
            buf = _buffers[key[0]] = zeros(SLOTS * 2, dtype=D.int64, device=device)
        v = _views[key] = buf[2 * kind:2 * kind + 2]
    _armed[0] = True
    return v


def storages():
    """The ids of the slot buffers' storages (they live as long as the process: ops/_plan.py replays
    kernels that write them by their recorded addresses)."""
    return {id(b._storage) for b in _buffers.values()}


def _read(buf):
    from . import _driver
    st = buf.untyped_storage()
    if st._array is not None:                  # simulated device: host memory
        return st._array[buf._offset * 8:(buf._offset + buf.numel()) * 8].view(np.int64).copy()
    out = np.empty(buf.numel(), np.int64)
    _driver.backend().dtoh(out.__array_interface__["data"][0], buf.data_ptr(), out.nbytes, buf.device.index)
    return out


def flush():
    """Raise the first recorded fault (and clear them all); a no-op when no checked kernel ran."""
    if not _armed[0]:
        return
    _armed[0] = False
    for buf in _buffers.values():
        vals = _read(buf)
        if vals[0::2].any():
            buf.zero_()
            kind = int(np.flatnonzero(vals[0::2])[0])
            raise _kinds[kind](int(vals[2 * kind + 1]))


def record(kind, bad, values=None):
    """Count the true elements of the device tensor ``bad`` into ``kind``'s slot, with ttorch ops
    (for checks that live outside a kernel of their own; still no sync). ``values`` (int64, shaped
    as ``bad``): the first one where ``bad`` holds becomes the slot's offending value."""
    from ..ops.ternary import where
    v = slot(bad.device, kind)
    bad = bad.detach().reshape(-1)
    n = bad.sum().reshape(1)
    if values is not None:          # the first offending value: where the running count of bad ones is 1
        first = where(bad & (bad.cumsum(0) == 1), values.detach().reshape(-1), 0).sum().reshape(1)
        kept = v.narrow(0, 1, 1)
        kept.copy_(where(n > 0, first, kept))
    v.narrow(0, 0, 1).add_(n)

