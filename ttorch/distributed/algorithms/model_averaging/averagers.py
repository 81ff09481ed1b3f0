"""Model averagers: ``PeriodicModelAverager`` averages parameters across ranks every ``period`` steps after
``warmup_steps`` (post-local SGD: local steps with DDP on a subgroup, then a global average).

Example::

    averager = PeriodicModelAverager(period=4, warmup_steps=100)
    for step in range(200):
        optimizer.zero_grad(); loss_fn(model(x), y).backward(); optimizer.step()
        averager.average_parameters(model.parameters())
"""
import warnings
from abc import ABC, abstractmethod

from . import utils

__all__ = ["ModelAverager", "PeriodicModelAverager"]


class ModelAverager(ABC):
    """Base of the averagers: ``process_group`` (the default group when None) and the ``step`` count."""

    def __init__(self, process_group=None):
        import ttorch.distributed as dist
        self.process_group = process_group if process_group is not None else dist.group.WORLD
        self.step = 0

    @abstractmethod
    def average_parameters(self, params):
        raise NotImplementedError


class PeriodicModelAverager(ModelAverager):
    """Average ``params`` at steps ``warmup_steps``, ``warmup_steps + period``, ... (one call a step)."""

    def __init__(self, period, warmup_steps=0, process_group=None):
        super().__init__(process_group)
        if warmup_steps < 0:
            raise ValueError("Arg ``warmup_steps`` must be a non-negative number.")
        self.warmup_steps = warmup_steps
        if period < 1:
            raise ValueError("Arg ``period`` must be a positive value.")
        elif period == 1:
            warnings.warn("When period is 1, no need to use model averaging because the communication cost of "
                          "all-reducing parameters will be no less than the cost of all-reducing gradients by "
                          "DistributedDataParallel in the backward pass. Therefore, only DistributedDataParallel "
                          "should be used for this case.", stacklevel=2)
        self.period = period

    def average_parameters(self, params):
        """Average the parameters (or an optimizer's parameter groups) when this step is an averaging one;
        count the step either way."""
        if self.step >= self.warmup_steps and (self.step - self.warmup_steps) % self.period == 0:
            utils.average_parameters_or_parameter_groups(params, self.process_group)
        self.step += 1
