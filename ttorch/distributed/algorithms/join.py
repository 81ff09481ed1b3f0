"""``Join``: training with uneven inputs across ranks. A rank that runs out of inputs leaves its loop and
enters ``Join.__exit__``, where it "shadows" the collectives the still-active ranks run (each ``Joinable``'s
``JoinHook.main_hook``) until every rank has joined; then each hook's ``post_hook`` runs on every rank.

Each iteration, an active rank's first ``Joinable`` all-reduces a one (``Join.notify_join_context``) and a
joined rank all-reduces a zero: the sum is the number of ranks still active, zero once all have joined.
"""
import warnings
from abc import ABC, abstractmethod
from typing import NamedTuple

__all__ = ["JoinHook", "Joinable", "Join"]


class JoinHook:
    """What a joined rank runs for a ``Joinable``: ``main_hook()`` once per iteration of the active ranks,
    ``post_hook(is_last_joiner)`` once all ranks have joined."""

    def main_hook(self):
        """Shadow one iteration's collectives of the active ranks."""

    def post_hook(self, is_last_joiner):
        """Run after all ranks joined; ``is_last_joiner`` tells whether this rank was one of the last."""


class Joinable(ABC):
    """A class whose collectives a joined rank can shadow: it gives a ``join_hook``, a ``join_device`` and a
    ``join_process_group``, and calls ``Join.notify_join_context(self)`` once per iteration."""

    @abstractmethod
    def __init__(self):
        super().__init__()
        self._join_config = _JoinConfig.construct_disabled_join_config()

    @abstractmethod
    def join_hook(self, **kwargs):
        """The ``JoinHook`` of this joinable (``kwargs`` are those given to ``Join``)."""

    @property
    @abstractmethod
    def join_device(self):
        """The device the join context's all-reduces use."""

    @property
    @abstractmethod
    def join_process_group(self):
        """The process group of the join context."""


class _JoinConfig(NamedTuple):
    enable: bool
    throw_on_early_termination: bool
    is_first_joinable: bool

    @staticmethod
    def construct_disabled_join_config():
        return _JoinConfig(enable=False, throw_on_early_termination=False, is_first_joinable=False)


def _all_reduce_scalar(value, device, group):
    from ... import tensor
    from ..collectives import all_reduce
    t = tensor([float(value)], device=device)
    all_reduce(t, group=group)
    return t.item()


class Join:
    r"""Context manager for uneven inputs: ranks that exhaust their inputs shadow the others' collectives.

    Args:
        joinables (list[Joinable]): the participating objects (a DDP model, a ``ZeroRedundancyOptimizer``...),
            all on one process group.
        enable (bool): False turns the context manager into a no-op.
        throw_on_early_termination (bool): raise on every rank as soon as one rank runs out of inputs,
            instead of shadowing.
        **kwargs: passed to each ``joinable.join_hook`` (DDP's ``divide_by_initial_world_size``).

    Example::

        >>> # with Join([model]):
        >>> #     for x in my_batches:          # rank 1 has more batches than rank 0
        >>> #         model(x).sum().backward()
    """

    def __init__(self, joinables, enable=True, throw_on_early_termination=False, **kwargs):
        if len(joinables) == 0:
            raise ValueError("The join context manager requires at least one joinable")
        self._joinables = joinables
        self._join_hooks = [joinable.join_hook(**kwargs) for joinable in self._joinables]
        self._enable = enable
        self._throw_on_early_termination = throw_on_early_termination
        self._set_joinable_configs()
        self._extract_dist_info()

    def _set_joinable_configs(self):
        first = True
        for joinable in self._joinables:
            joinable._join_config = _JoinConfig(enable=self._enable,
                                                throw_on_early_termination=self._throw_on_early_termination,
                                                is_first_joinable=first)
            first = False

    def _extract_dist_info(self):
        from ..distributed_c10d import get_rank
        process_group = device = None
        for joinable in self._joinables:
            if process_group is None:
                process_group = joinable.join_process_group
            elif process_group != joinable.join_process_group:
                raise ValueError("Using join context manager with multiple process groups")
            if device is None:
                device = joinable.join_device
        self._process_group = process_group
        self._rank = get_rank(process_group)
        self._device = device

    def __enter__(self):
        pass

    def __exit__(self, type, value, traceback):
        if not self._enable or type:
            return      # an exception propagates as it is
        all_procs_joined = False
        is_last_joiner = True
        i = 0
        while not all_procs_joined:
            if i > 1000:
                warnings.warn(f"Detected uneven input skew of greater than 1000. This means that rank {self._rank} "
                              f"has at least 1000 fewer inputs than other currently-active ranks. This level of "
                              f"skew could lead to performance degradation during training.", stacklevel=2)
            if _all_reduce_scalar(0, self._device, self._process_group) == 0:
                all_procs_joined = True
            else:
                if self._throw_on_early_termination:
                    self._notify_procs_to_terminate()
                for join_hook in self._join_hooks:
                    join_hook.main_hook()
                is_last_joiner = False
                i += 1
        for join_hook in self._join_hooks:
            join_hook.post_hook(is_last_joiner)

    def _notify_procs_to_terminate(self):
        _all_reduce_scalar(1, self._device, self._process_group)
        raise RuntimeError(f"Rank {self._rank} exhausted all inputs.")

    @staticmethod
    def notify_join_context(joinable):
        """Called by an active rank once per iteration: all-reduce a one (for the first joinable only).

        Returns:
            The async all-reduce's ``Work`` (its tensor sums to the number of active ranks), or None.
        """
        if not hasattr(joinable, "_join_config"):
            raise AssertionError(f"Check that the {type(joinable)} constructor calls the ``Joinable`` constructor")
        config = joinable._join_config
        if not config.is_first_joinable or not config.enable:
            return None
        from ... import ones
        from ..collectives import all_reduce
        t = ones(1, device=joinable.join_device)
        work = all_reduce(t, group=joinable.join_process_group, async_op=True)
        work._join_count = t
        if config.throw_on_early_termination:
            if _all_reduce_scalar(0, joinable.join_device, joinable.join_process_group):
                raise RuntimeError("Detected at least one rank that exhausted inputs. Throwing across all ranks.")
        return work
