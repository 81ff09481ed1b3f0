"""``ttorch.compiler``: PyTorch's public face of ``torch.compile``.

``ttorch.compile`` traces with ``ttorch.fx`` and fuses elementwise chains into generated Triton kernels
(``ttorch/_compile.py``, ``ttorch/_dynamo/eval_frame.py``, ``ttorch/_inductor``). These functions keep
PyTorch's names and signatures; they delegate to ``ttorch._dynamo``, as PyTorch's do.
"""
from .. import _dynamo
from .._compile import compile  # noqa: F401

__all__ = ["compile", "reset", "allow_in_graph", "assume_constant_result", "disable", "is_compiling",
           "is_dynamo_compiling", "is_exporting", "list_backends", "cudagraph_mark_step_begin"]


def is_compiling():
    """True while ``ttorch.compile`` traces or captures a graph, and not under ``jit.script``."""
    from .. import jit
    return False if jit.is_scripting() else _dynamo.is_compiling()


def is_dynamo_compiling():
    return _dynamo.is_compiling()


def is_exporting():
    """``torch.export`` does not exist in ttorch: always False."""
    return False


def disable(fn=None, recursive=True, *, reason=None):
    """Exclude ``fn`` from compilation (``@ttorch.compiler.disable``); it still runs, eagerly."""
    return _dynamo.disable(fn, recursive, reason=reason)


def allow_in_graph(fn):
    return _dynamo.allow_in_graph(fn)


def assume_constant_result(fn):
    return _dynamo.assume_constant_result(fn)


def reset():
    """Clear ``ttorch.compile``'s caches (traced graphs, generated kernels)."""
    _dynamo.reset()


def list_backends(exclude_tags=("debug", "experimental")):
    return _dynamo.list_backends(exclude_tags)


def cudagraph_mark_step_begin():
    """Start of an iteration for CUDA-graph trees; ttorch records no CUDA graphs, so nothing to mark."""
