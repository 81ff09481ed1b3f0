"""The DataLoader's worker processes: the loop each runs, ``get_worker_info()``, per-worker seeding,
and the wrapper that carries an exception back to the main process."""
import os
import queue
import random
import sys
import traceback

__all__ = ["WorkerInfo", "get_worker_info"]

# how often the main process checks that its workers are alive
MP_STATUS_CHECK_INTERVAL = 5.0
# how often an idle worker checks for shutdown and for its parent: a garbage-collected iterator's
# queues may close before its final None reaches the worker, so the worker must not wait for it alone
_WORKER_POLL_INTERVAL = 0.25


class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker: ``id``, ``num_workers``, ``seed``, ``dataset``
    (the worker's own copy). Read-only."""

    __initialized = False

    def __init__(self, **kwargs):
        for k, v in kwargs.items():
            setattr(self, k, v)
        self.__keys = tuple(kwargs.keys())
        self.__initialized = True

    def __setattr__(self, key, val):
        if self.__initialized:
            raise RuntimeError(f"Cannot assign attributes to {self.__class__.__name__} objects")
        return super().__setattr__(key, val)

    def __repr__(self):
        items = ", ".join(f"{k}={getattr(self, k)}" for k in self.__keys)
        return f"{self.__class__.__name__}({items})"


_worker_info = None


def get_worker_info():
    """The current worker's ``WorkerInfo`` in a DataLoader worker process; ``None`` in the main process.

    An ``IterableDataset`` uses it to split its stream between workers, a ``worker_init_fn`` to
    seed or configure the worker's dataset copy.
    """
    return _worker_info


class ExceptionWrapper:
    """An exception caught in a worker, sent as text (its traceback) and re-raised in the main process."""

    def __init__(self, exc_info=None, where="in background"):
        exc_info = exc_info or sys.exc_info()
        self.exc_type = exc_info[0]
        self.exc_msg = "".join(traceback.format_exception(*exc_info))
        self.where = where

    def reraise(self):
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            msg = _KeyErrorMessage(msg)    # KeyError's str() would quote the whole traceback
        try:
            exc = self.exc_type(msg)
        except Exception:       # an exception type that does not take one message
            raise RuntimeError(msg) from None
        raise exc


class _KeyErrorMessage(str):
    def __repr__(self):
        return self


class _IterableDatasetStopIteration:
    """Sent by a worker whose IterableDataset copy is exhausted."""

    def __init__(self, worker_id):
        self.worker_id = worker_id


class _ResumeIteration:
    """Sent to persistent workers at the start of a new epoch: they rebuild their fetcher."""


def _generate_state(base_seed, worker_id):
    """The NumPy seed of a worker: PyTorch's SeedSequence-style hash of (worker_id, base_seed),
    so that workers' NumPy streams differ and do not overlap."""
    INIT_A, MULT_A, INIT_B, MULT_B = 0x43B0D7E5, 0x931E8875, 0x8B51F9DD, 0x58F38DED
    MIX_MULT_L, MIX_MULT_R, XSHIFT, MASK32 = 0xCA01F9DD, 0x4973F715, 16, 0xFFFFFFFF
    entropy = [worker_id, base_seed & MASK32, base_seed >> 32, 0]
    const_a = [INIT_A]

    def hash32(value):
        value = (value ^ const_a[0]) & MASK32
        const_a[0] = (const_a[0] * MULT_A) & MASK32
        value = (value * const_a[0]) & MASK32
        return (value ^ (value >> XSHIFT)) & MASK32

    def mix(x, y):
        r = (((MIX_MULT_L * x) & MASK32) - ((MIX_MULT_R * y) & MASK32)) & MASK32
        return (r ^ (r >> XSHIFT)) & MASK32

    pool = [hash32(e) for e in entropy]
    for src in range(4):
        for dst in range(4):
            if src != dst:
                pool[dst] = mix(pool[dst], hash32(pool[src]))
    const_b, state = INIT_B, []
    for v in pool:
        v = (v ^ const_b) & MASK32
        const_b = (const_b * MULT_B) & MASK32
        v = (v * const_b) & MASK32
        state.append((v ^ (v >> XSHIFT)) & MASK32)
    return state


class _ParentWatchdog:
    """False once the process that started this worker has gone (the worker is reparented)."""

    def __init__(self):
        self.parent_pid = os.getppid()

    def is_alive(self):
        return os.getppid() == self.parent_pid


def _worker_loop(is_iterable, dataset, index_queue, data_queue, done_event, auto_collation, collate_fn,
                 drop_last, base_seed, init_fn, worker_id, num_workers):
    """Fetches ``(idx, index)`` tasks from ``index_queue`` and puts ``(idx, batch)`` (or an
    ExceptionWrapper) on ``data_queue``, until it receives ``None``."""
    global _worker_info
    import numpy as np
    import ttorch
    from ._collate import _create_fetcher
    try:
        seed = base_seed + worker_id
        random.seed(seed)
        ttorch.manual_seed(seed)
        np.random.seed(_generate_state(base_seed, worker_id))
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed, dataset=dataset)
        init_exception = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            fetcher = _create_fetcher(is_iterable, dataset, auto_collation, collate_fn, drop_last)
        except Exception:
            init_exception = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")
        iteration_end = False
        watchdog = _ParentWatchdog()
        while watchdog.is_alive():
            try:
                r = index_queue.get(timeout=_WORKER_POLL_INTERVAL)
            except queue.Empty:
                if done_event.is_set():
                    break
                continue
            if isinstance(r, _ResumeIteration):
                data_queue.put((r, None))
                iteration_end = False
                fetcher = _create_fetcher(is_iterable, dataset, auto_collation, collate_fn, drop_last)
                continue
            if r is None:
                break
            if done_event.is_set() or iteration_end:
                continue     # draining: the main process no longer wants results
            idx, index = r
            if init_exception is not None:
                data, init_exception = init_exception, None
            else:
                try:
                    data = fetcher.fetch(index)
                except Exception as e:
                    if isinstance(e, StopIteration) and is_iterable:
                        data = _IterableDatasetStopIteration(worker_id)
                        iteration_end = True
                    else:
                        data = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")
            data_queue.put((idx, data))
            del data, idx, index, r
    except KeyboardInterrupt:
        pass     # the main process handles Ctrl-C
    if done_event.is_set():
        data_queue.cancel_join_thread()
        data_queue.close()
