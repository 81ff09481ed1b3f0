"""``DistributedSampler``: each of ``num_replicas`` processes draws its own share of the keys (PyTorch's).

``num_replicas`` and ``rank`` default to the default process group's world size and rank
(``ttorch.distributed.init_process_group``); left out with no group initialized, they raise PyTorch's
``ValueError``.
"""
import math

from ... import distributed as dist
from ..._random import Generator
from ...ops import FUNCTIONS as _F
from .sampler import Sampler

__all__ = ["DistributedSampler"]


class DistributedSampler(Sampler):
    r"""The keys of rank ``rank`` of ``num_replicas``: ``rank``, ``rank + num_replicas``, ... of one
    epoch's order, padded (by repeating its start) or cut (``drop_last``) to a multiple of
    ``num_replicas``, so every rank gets ``len(sampler)`` keys.

    Args:
        dataset: the dataset (only its length is read).
        num_replicas (int, optional): the number of processes. Default: the default group's world size.
        rank (int, optional): this process's rank, in ``[0, num_replicas - 1]``. Default: its rank in the
            default group.
        shuffle (bool): a permutation seeded by ``seed + epoch`` (the same on every rank); else in order.
        seed (int): the shuffle's seed, identical on every rank.
        drop_last (bool): cut the tail instead of padding.

    Call ``set_epoch(epoch)`` before each epoch for a new order. The permutation is
    ``ttorch.randperm`` with a ``ttorch.Generator`` seeded as PyTorch seeds its own: the same
    partition rules, but not the same order as PyTorch's for a given seed.

    Example::

        >>> s = DistributedSampler(range(5), num_replicas=2, rank=1, shuffle=False)
        >>> list(s), len(s)
        ([1, 3, 0], 3)
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False):
        # the default group's size and rank; get_world_size/get_rank raise PyTorch's ValueError without one
        if num_replicas is None:
            num_replicas = dist.get_world_size()
        if rank is None:
            rank = dist.get_rank()
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        if self.drop_last and len(self.dataset) % self.num_replicas != 0:
            # The nearest multiple below, so that every rank gets the same number of keys.
            self.num_samples = math.ceil((len(self.dataset) - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(len(self.dataset) / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self):
        if self.shuffle:
            g = Generator()
            g.manual_seed(self.seed + self.epoch)
            indices = _F["randperm"](len(self.dataset), generator=g).tolist()
        else:
            indices = list(range(len(self.dataset)))
        if not self.drop_last:
            padding_size = self.total_size - len(indices)
            if padding_size <= len(indices):
                indices += indices[:padding_size]
            else:   # fewer keys than replicas: repeat the whole list
                indices += (indices * math.ceil(padding_size / len(indices)))[:padding_size]
        else:
            indices = indices[:self.total_size]
        if len(indices) != self.total_size:
            raise AssertionError(f"Number of indices ({len(indices)}) does not match total_size ({self.total_size})")
        indices = indices[self.rank:self.total_size:self.num_replicas]
        if len(indices) != self.num_samples:
            raise AssertionError(f"Number of subsampled indices ({len(indices)}) does not match num_samples "
                                 f"({self.num_samples})")
        return iter(indices)

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """Set the epoch: with ``shuffle``, each epoch's order is seeded by ``seed + epoch``."""
        self.epoch = epoch
