"""How the ranks of a save or load talk (PyTorch's ``_DistWrapper``): each step runs a function on every
rank, gathers the results (or the exceptions) on the coordinator, which reduces them, and sends each rank
its share; a failure anywhere raises ``CheckpointException`` on every rank.

Messages go over the process group's connections (``_mesh``) under keys of their own, numbered per group
by the saves and loads made so far (every rank calls them in the same order), never through the group's
collective sequence: an ``async_save`` can finish its steps in a background thread while the training
loop runs collectives on the same group.
"""
import pickle

from .. import distributed_c10d as c10d
from .api import CheckpointException, _is_wrapped_exception, _wrap_exception

__all__ = []

_CALLS = {}         # group ranks -> checkpoint calls so far (keys of this call's messages)


def _failures(results):
    return {r: v for r, v in enumerate(results) if _is_wrapped_exception(v)}


class _DistWrapper:
    """The ranks of ``group`` (the default group when None) running one save or load; one process alone
    when ``use_dist`` is False or no process group is initialized."""

    def __init__(self, group, use_dist, coordinator_rank=0):
        self.use_dist = bool(use_dist) and c10d.is_initialized()
        if self.use_dist:
            pg = group if group is not None else c10d._default_pg()
            self.ranks, self.rank = list(pg._ranks), pg.rank()
            self.mesh = c10d._world.mesh
            call = _CALLS.get(tuple(self.ranks), 0)
            _CALLS[tuple(self.ranks)] = call + 1
            self.key = ("dcp", tuple(self.ranks), call)
        else:
            self.ranks, self.rank = [0], 0
        self.coordinator_rank = coordinator_rank
        self.is_coordinator = self.rank == coordinator_rank
        self.steps = 0

    def get_rank(self):
        return self.rank

    def get_world_size(self):
        return len(self.ranks)

    def _next_key(self, step):
        self.steps += 1
        return self.key + (self.steps, step)

    def gather_object(self, obj, step="gather"):
        """Every rank's ``obj`` as a list on the coordinator (None elsewhere)."""
        if not self.use_dist:
            return [obj]
        key, coord = self._next_key(step), self.ranks[self.coordinator_rank]
        if not self.is_coordinator:
            try:
                pickle.dumps(obj)
            except Exception as e:      # (an exception that does not pickle must still reach the coordinator)
                obj = _wrap_exception(RuntimeError(f"{obj[0]!r}" if _is_wrapped_exception(obj) else repr(e)))
            self.mesh.send(coord, key, obj)
            return None
        out = [None] * len(self.ranks)
        for r, g in enumerate(self.ranks):
            out[r] = obj if r == self.rank else self.mesh.recv([g], key, what=f"checkpoint {step}")[1]
        return out

    def scatter_object(self, objs, step="scatter"):
        """The coordinator's ``objs[r]`` on each rank ``r``."""
        if not self.use_dist:
            return objs[0]
        key, coord = self._next_key(step), self.ranks[self.coordinator_rank]
        if self.is_coordinator:
            for r, g in enumerate(self.ranks):
                if r != self.rank:
                    self.mesh.send(g, key, objs[r])
            return objs[self.rank]
        return self.mesh.recv([coord], key, what=f"checkpoint {step}")[1]

    def _step(self, step, map_fun, reduce_fun, scatter, on_failure=None):
        try:
            local = map_fun()
        except BaseException as e:
            local = _wrap_exception(e)
        gathered = self.gather_object(local, step)
        results = None
        if self.is_coordinator:
            failures = _failures(gathered)
            if not failures:
                try:
                    out = reduce_fun(gathered)
                    results = out if scatter else [out] * len(self.ranks)
                except BaseException as e:
                    failures[self.rank] = _wrap_exception(e)
            if failures:
                if on_failure is not None:
                    on_failure()
                results = [CheckpointException(step, failures)] * len(self.ranks)
        result = self.scatter_object(results, step)
        if isinstance(result, CheckpointException):
            raise result
        return result

    def reduce_scatter(self, step, map_fun, reduce_fun):
        """``map_fun()`` on every rank; the coordinator's ``reduce_fun(all)`` gives rank ``r`` its ``[r]``."""
        return self._step(step, map_fun, reduce_fun, True)

    def all_reduce(self, step, map_fun, reduce_fun, on_failure=None):
        """``map_fun()`` on every rank; every rank gets the coordinator's ``reduce_fun(all)`` (after a
        failure the coordinator calls ``on_failure()``)."""
        return self._step(step, map_fun, reduce_fun, False, on_failure)

    def all_gather(self, step, map_fun):
        """``map_fun()`` on every rank; every rank gets the list of all results."""
        return self._step(step, map_fun, lambda all_data: all_data, False)

    def barrier(self):
        self.all_gather("barrier", lambda: None)
