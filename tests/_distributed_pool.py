"""A pool of processes in one default process group, started once per test module: ``World(n).run(fn,
*args)`` runs ``fn(rank, *args)`` on every rank (``fn`` a module-level function of a test module, which
each child imports by name) and returns the results by rank; an error in a child fails the test."""
import datetime
import importlib
import socket
import traceback

import pytest

import ttorch
import ttorch.distributed as dist
import ttorch.multiprocessing as mp


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(rank, size, port, store_timeout, tasks, results):
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=size,
                            timeout=datetime.timedelta(seconds=store_timeout))
    while True:
        item = tasks[rank].get()
        if item is None:
            break
        module, name, args = item
        try:
            ttorch.manual_seed(0)
            results.put((rank, "ok", getattr(importlib.import_module(module), name)(rank, *args)))
        except Exception:
            results.put((rank, "err", traceback.format_exc()))
    dist.destroy_process_group()


class World:
    def __init__(self, size, timeout, store_timeout):
        ctx = mp.get_context("spawn")
        self.size, self.timeout = size, timeout
        self.tasks = [ctx.Queue() for _ in range(size)]
        self.results = ctx.Queue()
        self.context = mp.start_processes(_serve, args=(size, free_port(), store_timeout, self.tasks, self.results),
                                          nprocs=size, join=False, daemon=True)   # daemons: a stuck rank can't
                                                                                  # hold pytest

    def run(self, fn, *args):
        for q in self.tasks:
            q.put((fn.__module__, fn.__name__, args))
        out, errors = [None] * self.size, []
        for _ in range(self.size):
            rank, status, value = self.results.get(timeout=self.timeout)
            if status == "err":
                errors.append(f"rank {rank}:\n{value}")
            out[rank] = value
        if errors:
            pytest.fail("\n".join(errors))
        return out

    def close(self):
        for q in self.tasks:
            q.put(None)
        self.context.join(timeout=self.timeout)


def world_fixture(size, timeout, store_timeout):
    """A module-scoped fixture ``world``: a pool of ``size`` processes for the test module, closed after it."""
    @pytest.fixture(scope="module")
    def world():
        w = World(size, timeout, store_timeout)
        yield w
        w.close()
    return world
