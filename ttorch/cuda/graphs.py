"""``ttorch.cuda.graphs``: CUDA graph capture, which ttorch cannot do.

A CUDA graph records the kernels launched on a capturing stream and replays them with the same
addresses. ttorch launches every kernel on the device's default (legacy) stream 0, which CUDA
cannot capture, and its allocator calls ``cuMemAllocAsync`` on that stream too; so there is no
honest capture path, and ``CUDAGraph()`` raises rather than pretending to replay. (ttorch's
``ops/_plan.py`` replays an op's recorded launches for host speed; that is not a CUDA graph.)
"""

_REASON = ("ttorch cannot capture CUDA graphs: it launches every kernel and allocation on the device's default "
           "stream, which CUDA stream capture does not support. Run the callable eagerly instead.")


def is_current_stream_capturing():
    """Whether a CUDA graph capture is under way on the current stream: never in ttorch."""
    return False


def graph_pool_handle():
    """A memory pool id for graph capture; raises (see :class:`CUDAGraph`)."""
    raise RuntimeError(_REASON)


class CUDAGraph:
    """PyTorch's CUDA graph. Raises RuntimeError: ttorch cannot capture (see the module docstring)."""

    def __new__(cls, keep_graph=False):
        raise RuntimeError(_REASON)


class graph:
    """``with ttorch.cuda.graph(g):`` capture. Raises RuntimeError, as :class:`CUDAGraph` does."""

    def __init__(self, cuda_graph, pool=None, stream=None, capture_error_mode="global"):
        raise RuntimeError(_REASON)


def make_graphed_callables(callables, sample_args, num_warmup_iters=3, allow_unused_input=False, pool=None):
    """Graphed versions of ``callables``. Raises RuntimeError (see :class:`CUDAGraph`)."""
    raise RuntimeError(_REASON)
