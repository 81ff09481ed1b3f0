"""``GradBucket``: what a DDP communication hook receives, ``BuiltinCommHookType``, and PyTorch's bucket
assignment (``dist._compute_bucket_assignment_by_size``).

``DistributedDataParallel`` groups the gradients into buckets as PyTorch's reducer does (see
``_compute_bucket_assignment_by_size`` and ``nn/parallel/distributed.py``); a hook is called once per bucket,
when the bucket's gradients are all ready during backward, with their flattened gradients.
"""
import enum

__all__ = ["GradBucket", "BuiltinCommHookType"]

_DEFAULT_FIRST_BUCKET_BYTES = 1024 * 1024     # PyTorch's: the first bucket (the first gradients ready) is small


def _compute_bucket_assignment_by_size(tensors, bucket_size_limits, expect_sparse_gradient=None,
                                       tensor_indices=None):
    """PyTorch's bucket assignment: ``tensors`` taken in order, one open bucket per (dtype, device); a bucket
    closes once its bytes reach the current limit of its key, which then moves to the next of
    ``bucket_size_limits`` (the last one stays). Returns ``(buckets, their size limits)``: each bucket a list
    of labels (``tensor_indices[i]``, or ``i``); the open buckets come last (the last key first); without
    ``tensor_indices`` the buckets are sorted by their smallest index."""
    open_, level, keys, result = {}, {}, [], []
    for i, t in enumerate(tensors):
        key = (t.dtype, str(t.device))
        if key not in open_:
            open_[key], level[key] = [[], 0], 0
            keys.append(key)
        b = open_[key]
        b[0].append(tensor_indices[i] if tensor_indices else i)
        b[1] += t.numel() * t.element_size()
        limit = bucket_size_limits[level[key]]
        if b[1] >= limit:
            result.append((b[0], limit))
            open_[key] = [[], 0]
            level[key] = min(level[key] + 1, len(bucket_size_limits) - 1)
    # the open buckets, last key seen first (the order PyTorch's hash map of keys yields)
    result += [(open_[k][0], bucket_size_limits[level[k]]) for k in reversed(keys) if open_[k][0]]
    if not tensor_indices:
        result.sort(key=lambda r: min(r[0]))
    return [r[0] for r in result], [r[1] for r in result]


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
