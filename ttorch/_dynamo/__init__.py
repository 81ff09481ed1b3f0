"""``ttorch._dynamo``: the few names libraries use around ``torch.compile``.

``ttorch.compile`` traces with ``ttorch.fx`` (``eval_frame.py``); ``is_compiling()`` is true while it traces
or captures (``_compiling``), ``disable`` marks and wraps a function without changing what it computes, and
``reset`` forgets every compiled graph. ``exc`` holds PyTorch's error types.
"""
import contextlib
import functools
import types

from . import config, exc

__all__ = ["config", "exc", "is_compiling", "disable", "reset", "allow_in_graph", "assume_constant_result",
           "mark_dynamic", "maybe_mark_dynamic", "mark_static", "graph_break", "list_backends", "is_dynamo_supported"]

_is_compiling_flag = [False]


@contextlib.contextmanager
def _compiling():
    """Make ``is_compiling()`` true inside the block (for a tracer, and for tests of code that branches on it)."""
    old = _is_compiling_flag[0]
    _is_compiling_flag[0] = True
    try:
        yield
    finally:
        _is_compiling_flag[0] = old


def is_compiling():
    """True while ``ttorch.compile`` traces or captures a graph."""
    return _is_compiling_flag[0]


def disable(fn=None, recursive=True, *, reason=None, wrapping=True):
    """Keep ``fn`` out of compilation; usable as ``@disable`` and ``@disable(recursive=False)``.

    The result calls ``fn`` unchanged and carries ``_torchdynamo_disable = True`` as PyTorch's does.
    """
    if fn is None:
        return functools.partial(disable, recursive=recursive, reason=reason, wrapping=wrapping)
    if not callable(fn):
        raise TypeError(f"disable expects a callable, got {type(fn).__name__}")
    if not wrapping or not isinstance(fn, (types.FunctionType, types.MethodType, functools.partial)):
        # classes and module instances stay themselves (a wrapper function would hide their attributes)
        with contextlib.suppress(AttributeError, TypeError):
            fn._torchdynamo_disable = True
        return fn

    @functools.wraps(fn)
    def _fn(*args, **kwargs):
        return fn(*args, **kwargs)

    _fn._torchdynamo_disable = True
    _fn._torchdynamo_disable_recursive = recursive
    _fn._torchdynamo_disable_msg = reason
    return _fn


def allow_in_graph(fn):
    """Mark ``fn`` (or each function of a list) to be kept whole in a traced graph; returns it."""
    if isinstance(fn, (list, tuple)):
        return [allow_in_graph(x) for x in fn]
    if not callable(fn):
        raise TypeError(f"allow_in_graph expects a callable, but got {type(fn).__name__}")
    return fn


def assume_constant_result(fn):
    """Mark ``fn``'s result as a constant for tracing; returns ``fn``."""
    fn._dynamo_marked_constant = True
    return fn


def reset():
    """Clear ``ttorch.compile``'s caches: every compiled function traces and compiles again on its next call."""
    import sys
    if "ttorch._dynamo.eval_frame" in sys.modules:
        sys.modules["ttorch._dynamo.eval_frame"].reset()


def _mark(t, attr, index):
    indices = [index] if isinstance(index, int) else list(index)
    s = getattr(t, attr, None) or set()
    s.update(indices)
    setattr(t, attr, s)


def mark_dynamic(t, index, *, min=None, max=None):
    """Record that dim(s) ``index`` of ``t`` vary between calls (read by a tracer; ttorch has none yet)."""
    _mark(t, "_dynamo_dynamic_indices", index)


def maybe_mark_dynamic(t, index):
    _mark(t, "_dynamo_weak_dynamic_indices", index)


def mark_static(t, index=None):
    _mark(t, "_dynamo_static_indices", range(t.dim()) if index is None else index)


def graph_break():
    """Where a tracer would split the graph; eager execution has nothing to split."""


def list_backends(exclude_tags=("debug", "experimental")):
    """Compiler backends ``ttorch.compile`` accepts by name (all run eagerly)."""
    return ["cudagraphs", "inductor", "onnxrt", "openxla", "tvm"]


def is_dynamo_supported():
    return True
