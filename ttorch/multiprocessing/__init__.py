"""``ttorch.multiprocessing``: Python's ``multiprocessing`` plus ``spawn``/``start_processes``.

ttorch tensors pickle by value (their elements are copied, cuda tensors through the host), so they pass
through ``Queue``s and ``Pipe``s as they are: there is no shared-memory tensor storage as in PyTorch, and
a tensor changed in one process is not seen in another. The sharing strategies are kept for the API.
"""
import multiprocessing as _mp
from multiprocessing import *  # noqa: F401,F403

from .spawn import (spawn, start_processes, ProcessContext, ProcessException, ProcessRaisedException,  # noqa: F401
                    ProcessExitedException)

__all__ = list(_mp.__all__) + ["spawn", "start_processes", "ProcessContext", "ProcessException",
                               "ProcessRaisedException", "ProcessExitedException", "get_sharing_strategy",
                               "set_sharing_strategy", "get_all_sharing_strategies"]

_sharing_strategy = ["file_descriptor"]


def get_all_sharing_strategies():
    return {"file_descriptor", "file_system"}


def get_sharing_strategy():
    return _sharing_strategy[0]


def set_sharing_strategy(new_strategy):
    """Kept for the API: tensors are pickled by value, so the strategy changes nothing."""
    if new_strategy not in get_all_sharing_strategies():
        raise ValueError(f"Unknown sharing strategy {new_strategy}")
    _sharing_strategy[0] = new_strategy
