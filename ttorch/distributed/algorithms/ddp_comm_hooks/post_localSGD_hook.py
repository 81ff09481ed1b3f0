"""The post-local SGD DDP communication hook: gradients all-reduced over the whole group for the first
``start_localSGD_iter`` iterations, then only within ``subgroup`` (or not at all), while a model averager
(``model_averaging.averagers.PeriodicModelAverager``) averages the parameters globally every few steps.

``subgroup=None`` means PyTorch's intra-node subgroups (``dist.new_subgroups()``: ranks grouped by the
node's device count); ttorch's process groups live on one machine, so its default is one subgroup of all
ranks, made on first use (every rank reaches that step together, as ``new_group`` requires).
"""
import logging

from ....futures import Future
from . import default_hooks as default

__all__ = ["PostLocalSGDState", "post_localSGD_hook"]

logger = logging.getLogger(__name__)


class PostLocalSGDState:
    """Global all-reduce over ``process_group`` until iteration ``start_localSGD_iter``, then over
    ``subgroup`` (skipped when ``post_local_gradient_allreduce`` is False)."""
    __slots__ = ["process_group", "subgroup", "start_localSGD_iter", "post_local_gradient_allreduce", "iter"]

    def __init__(self, process_group, subgroup, start_localSGD_iter, post_local_gradient_allreduce=True):
        logger.info("Local SGD will be started after %s iterations", start_localSGD_iter)
        self.process_group = process_group
        self.subgroup = subgroup
        self.start_localSGD_iter = start_localSGD_iter
        self.post_local_gradient_allreduce = post_local_gradient_allreduce
        self.iter = 0

    def maybe_increase_iter(self, bucket):
        """Count an iteration at each iteration's last bucket."""
        if bucket.is_last():
            self.iter += 1
        if self.iter == self.start_localSGD_iter:
            logger.info("Start to apply local SGD after %s iterations.", self.iter)


def post_localSGD_hook(state, bucket):
    """The hook: ``ddp_model.register_comm_hook(PostLocalSGDState(None, None, 10), post_localSGD_hook)``.
    Returns a future of the bucket's (averaged) gradient buffer."""
    import ttorch.distributed as dist
    global_group = state.process_group if state.process_group is not None else dist.group.WORLD
    tensor = bucket.buffer()
    if state.iter < state.start_localSGD_iter:
        state.maybe_increase_iter(bucket)
        return default._allreduce_fut(global_group, tensor)
    if not state.post_local_gradient_allreduce:
        fut = Future()
        fut.set_result(tensor)
        return fut
    if state.subgroup is None:
        state.subgroup = dist.new_group()
    return default._allreduce_fut(state.subgroup, tensor)
