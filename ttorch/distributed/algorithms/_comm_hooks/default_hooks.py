"""FSDP's default communication hooks: the gradient divided by a pre-factor before the reduction and by a
post-factor after it (their product is the world size, split to keep float16 sums in range), as FSDP's
built-in reduction. The low-precision hooks (``LowPrecisionState``, ``fp16_compress_hook``) are not provided."""
from ...collectives import all_reduce, reduce_scatter_tensor
from ...distributed_c10d import get_world_size

__all__ = ["DefaultState", "allreduce_hook", "reduce_scatter_hook"]


class DefaultState:
    """The process group and the division factors of the default FSDP hooks.

    Args:
        process_group: the group to reduce over (required, as PyTorch's).
    """

    __slots__ = ["process_group", "world_size", "gradient_predivide_factor", "gradient_postdivide_factor"]

    def __init__(self, process_group):
        if process_group is None:
            raise ValueError(f"Expected to pass in an explicit ProcessGroup to {self}.")
        self.process_group = process_group
        self.world_size = get_world_size(process_group)
        self.gradient_predivide_factor = self._get_gradient_predivide_factor(self.world_size)
        self.gradient_postdivide_factor = self.world_size / self.gradient_predivide_factor

    @staticmethod
    def _get_gradient_predivide_factor(world_size):
        factor = 1
        while world_size % factor == 0 and world_size / factor > factor:
            factor *= 2
        return float(factor)


def allreduce_hook(state, grad):
    """Average ``grad`` across the group in place (FSDP ``NO_SHARD``)."""
    if state.gradient_predivide_factor > 1:
        grad.div_(state.gradient_predivide_factor)
    all_reduce(grad, group=state.process_group)
    if state.gradient_postdivide_factor > 1:
        grad.div_(state.gradient_postdivide_factor)


def reduce_scatter_hook(state, grad, output):
    """Average ``grad`` across the group, this rank's chunk into ``output`` (FSDP's sharded strategies)."""
    if state.gradient_predivide_factor > 1:
        grad.div_(state.gradient_predivide_factor)
    reduce_scatter_tensor(output, grad, group=state.process_group)
    if state.gradient_postdivide_factor > 1:
        output.div_(state.gradient_postdivide_factor)
