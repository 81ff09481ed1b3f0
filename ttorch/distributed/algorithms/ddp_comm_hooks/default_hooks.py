"""The built-in DDP communication hooks: plain all-reduce, and all-reduce in float16/bfloat16 (PyTorch's
``default_hooks``). Each returns a ``ttorch.futures.Future`` of the averaged flat gradient.

Difference from PyTorch: ``bf16_compress_hook`` (and ``bf16_compress_wrapper``) work on every backend and
device; PyTorch's DDP refuses them without CUDA 11+ and NCCL 2.10+ (``TypeError``)."""
from ... import distributed_c10d as c10d
from ...collectives import all_reduce

__all__ = ["allreduce_hook", "fp16_compress_hook", "bf16_compress_hook", "fp16_compress_wrapper",
           "bf16_compress_wrapper"]


def _group(process_group):
    return process_group if process_group is not None else c10d.group.WORLD


def _allreduce_fut(process_group, tensor):
    """Average ``tensor`` in place across the group; a future of it."""
    group_to_use = _group(process_group)
    tensor.div_(group_to_use.size())
    return all_reduce(tensor, group=group_to_use, async_op=True).get_future().then(lambda fut: fut.value()[0])


def allreduce_hook(process_group, bucket):
    """All-reduce the bucket's gradients divided by the world size (DDP's default reduction).

    Args:
        process_group: the group (the default group when None).
        bucket (GradBucket): the gradients.

    Example::

        >>> # ddp_model.register_comm_hook(process_group, allreduce_hook)
    """
    return _allreduce_fut(process_group, bucket.buffer())


def _compress_hook(dtype, process_group, bucket):
    group_to_use = _group(process_group)
    buffer = bucket[0] if isinstance(bucket, tuple) else bucket.buffer()
    compressed = buffer.to(dtype).div_(group_to_use.size())

    def decompress(fut):
        buffer.copy_(fut.value()[0])
        return buffer
    return all_reduce(compressed, group=group_to_use, async_op=True).get_future().then(decompress)


def fp16_compress_hook(process_group, bucket):
    """Cast the gradients to float16, divide by the world size, all-reduce, and cast back."""
    from .... import float16
    return _compress_hook(float16, process_group, bucket)


def bf16_compress_hook(process_group, bucket):
    """Cast the gradients to bfloat16, divide by the world size, all-reduce, and cast back."""
    from .... import bfloat16
    return _compress_hook(bfloat16, process_group, bucket)


def _compress_wrapper(dtype, hook):
    def wrapper(hook_state, bucket):
        bucket.set_buffer(bucket.buffer().to(dtype))
        fut = hook(hook_state, bucket)

        def decompress(fut):
            out = bucket.buffer()
            out.copy_(fut.value())
            return out
        return fut.then(decompress)
    return wrapper


def fp16_compress_wrapper(hook):
    """Wrap ``hook`` so that it runs on a float16 copy of the bucket; the result is cast back to the
    gradients' dtype by DDP.

    Example::

        >>> # ddp_model.register_comm_hook(state, fp16_compress_wrapper(powerSGD_hook))
    """
    from .... import float16
    w = _compress_wrapper(float16, hook)
    w.__name__ = w.__qualname__ = "fp16_compress_wrapper_hook"
    return w


def bf16_compress_wrapper(hook):
    """Wrap ``hook`` so that it runs on a bfloat16 copy of the bucket."""
    from .... import bfloat16
    w = _compress_wrapper(bfloat16, hook)
    w.__name__ = w.__qualname__ = "bf16_compress_wrapper_hook"
    return w
