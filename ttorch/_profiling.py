"""The profiler's one switch, read on the hot paths (``ops._launch.launch``, the autograd engine,
optimizer steps): ``ACTIVE[0]`` is the recording ``ttorch.profiler._Recorder``, or None (then
nothing is recorded and the check is all it costs)."""
import contextlib

ACTIVE = [None]


@contextlib.contextmanager
def span(name, inputs=()):
    """One interval named ``name`` in the recording profiler (nothing when none records)."""
    rec = ACTIVE[0]
    if rec is None:
        yield
        return
    e = rec.push(name, inputs=inputs)
    try:
        yield
    finally:
        rec.pop(e)
