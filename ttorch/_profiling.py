"""The profiler's one switch, read on the hot paths (``ops._launch.launch``, the autograd engine):
``ACTIVE[0]`` is the recording ``ttorch.profiler._Recorder``, or None (then nothing is recorded and
the check is all it costs)."""
ACTIVE = [None]
