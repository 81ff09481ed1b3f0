"""``ttorch.multiprocessing.pool``: a ``multiprocessing.Pool`` whose workers collect garbage as they exit
and whose task queues are ``ttorch.multiprocessing.queue.SimpleQueue``s."""
import multiprocessing
import multiprocessing.pool
import multiprocessing.util as util

from .queue import SimpleQueue

__all__ = ["Pool", "clean_worker"]


def clean_worker(*args, **kwargs):
    """A pool worker that runs ``gc.collect()`` when it is done, so objects it freed (and their memory)
    go before the process exits."""
    import gc
    multiprocessing.pool.worker(*args, **kwargs)
    gc.collect()


class Pool(multiprocessing.pool.Pool):
    """``multiprocessing.Pool`` with ``clean_worker`` workers (PyTorch's ``torch.multiprocessing.Pool``)."""

    def _setup_queues(self):
        self._inqueue = SimpleQueue(ctx=self._ctx)
        self._outqueue = SimpleQueue(ctx=self._ctx)
        self._quick_put = self._inqueue._writer.send
        self._quick_get = self._outqueue._reader.recv

    @staticmethod
    def _repopulate_pool_static(ctx, Process, processes, pool, inqueue, outqueue, initializer, initargs,
                                maxtasksperchild, wrap_exception):
        for _ in range(processes - len(pool)):
            w = Process(ctx, target=clean_worker,
                        args=(inqueue, outqueue, initializer, initargs, maxtasksperchild, wrap_exception))
            w.name = w.name.replace("Process", "PoolWorker")
            w.daemon = True
            w.start()
            pool.append(w)
            util.debug("added worker")

