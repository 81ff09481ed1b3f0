"""``GradBucket``: what a DDP communication hook receives, and ``BuiltinCommHookType``.

ttorch's ``DistributedDataParallel`` keeps one bucket per gradient dtype (``bucket_cap_mb`` does not split
them): a hook is called once per dtype per backward, after all local gradients are complete, with the
flattened gradients of every parameter of that dtype. In the first iteration the bucket holds the parameters
in ``model.parameters()`` order; from the second on, in the order their gradients became ready in the first
backward (PyTorch's rebuilt buckets).
"""
import enum

__all__ = ["GradBucket", "BuiltinCommHookType"]


class GradBucket:
    r"""A flat buffer of gradients and the parameters they belong to, handed to a communication hook.

    ``buffer()`` is a 1-D tensor of the concatenated gradients (not yet averaged); ``gradients()`` are views
    of it, one per parameter, in ``parameters()`` order. The hook's future must complete with a tensor of
    ``buffer()``'s length: DDP writes it into the parameters' ``.grad``.
    """

    def __init__(self, index, buffer, parameters, offsets, is_last):
        self._index, self._buffer, self._params, self._is_last = index, buffer, list(parameters), is_last
        self._grads = [buffer[o:o + p.numel()].view(p.shape) for p, o in zip(self._params, offsets)]

    def index(self):
        """The bucket's index: 0 for the first bucket reduced in a backward."""
        return self._index

    def buffer(self):
        """The flattened gradients (1-D)."""
        return self._buffer

    def gradients(self):
        """Views of ``buffer()``, one per parameter, shaped as the parameter."""
        return list(self._grads)

    def parameters(self):
        """The parameters whose gradients the bucket holds."""
        return list(self._params)

    def is_last(self):
        """Whether this is the last bucket reduced in the backward."""
        return self._is_last

    def set_buffer(self, buffer):
        """Replace the bucket's flat buffer (a compression wrapper's lower-precision copy)."""
        self._buffer = buffer


class BuiltinCommHookType(enum.Enum):
    """The hooks ``DistributedDataParallel._register_builtin_comm_hook`` takes (PyTorch's C++ hooks)."""
    ALLREDUCE = 1
    FP16_COMPRESS = 2
