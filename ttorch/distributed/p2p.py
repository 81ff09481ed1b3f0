"""Point-to-point messages (``send``, ``recv``, ``isend``, ``irecv``, ``batch_isend_irecv``) and the
object collectives (``all_gather_object``, ``broadcast_object_list``, ``gather_object``,
``scatter_object_list``).

A send goes out at once (the receiving process reads every connection on a thread of its own, so a send
never waits for the matching ``recv``); a receive takes the next message from that peer with that tag.
Messages between two ranks with one tag arrive in send order, as PyTorch guarantees.
"""
import pickle

from .collectives import _check_device, _host, _others, _pg_or_warn, _write
from .distributed_c10d import Work, _group_rank_of
from .store import DistBackendError

__all__ = ["send", "recv", "isend", "irecv", "P2POp", "batch_isend_irecv", "all_gather_object",
           "broadcast_object_list", "gather_object", "scatter_object_list"]


def _peer(pg, rank, group_rank, what):
    if rank is None and group_rank is None:
        raise ValueError(f"{what} must be given")
    return _group_rank_of(pg, rank, group_rank, what)


def _next(counter, key):
    n = counter.get(key, 0)
    counter[key] = n + 1
    return n


def isend(tensor, dst=None, group=None, tag=0, group_dst=None):
    """Send ``tensor`` to rank ``dst``; the returned ``Work`` is already complete (the data has left)."""
    pg = _pg_or_warn(group, "isend")
    if pg is None:
        return None
    _check_device(pg, tensor)
    peer = _peer(pg, dst, group_dst, "dst")
    if peer == pg.rank():
        raise ValueError("Invalid destination rank: should not be the same as rank of the current process.")
    key = ("p", pg._gid, tag, _next(pg._p2p_sent, (peer, tag)))
    pg._mesh.send(pg._global(peer), key, ("send", _host(tensor)))
    return Work()


def send(tensor, dst=None, group=None, tag=0, group_dst=None):
    """Send ``tensor`` to rank ``dst`` (global rank; ``group_dst`` for a rank inside ``group``)."""
    isend(tensor, dst, group, tag, group_dst)


class _RecvWork(Work):
    """A receive posted now and completed by ``wait()`` (or by an ``is_completed()`` that finds the data)."""

    def __init__(self, pg, tensor, peer, tag):
        super().__init__(fn=lambda: None)
        self._pg, self._tensor, self._tag = pg, tensor, tag
        # a known source claims its message number now, so receives complete in the order they were posted
        self._peer = peer
        self._n = None if peer is None else _next(pg._p2p_posted, (peer, tag))
        self.source = None

    def _key(self, peer):
        n = self._n if self._n is not None else self._pg._p2p_posted.get((peer, self._tag), 0)
        return ("p", self._pg._gid, self._tag, n)

    def _finish(self, src_global, msg):
        pg = self._pg
        _, a = msg
        if self._peer is None:
            _next(pg._p2p_posted, (pg._ranks.index(src_global), self._tag))
        if a.size != self._tensor.numel():
            self._exc = DistBackendError(f"recv: rank {src_global} sent {a.size} elements ({list(a.shape)}), the "
                                         f"receiving tensor has {self._tensor.numel()} ({list(self._tensor.shape)})")
        else:
            _write(self._tensor, a.astype(self._tensor.dtype.np, copy=False))
        self.source = src_global
        self._done.set()

    def _sources(self):
        pg = self._pg
        return [pg._global(self._peer)] if self._peer is not None else [pg._global(r) for r in _others(pg)]

    def wait(self, timeout=None):
        if not self._done.is_set():
            pg = self._pg
            secs = pg._timeout if timeout is None else (timeout.total_seconds() if hasattr(timeout, "total_seconds")
                                                        else float(timeout))
            src, msg = pg._mesh.recv(self._sources(), lambda s: self._key(pg._ranks.index(s)), secs, what="recv")
            self._finish(src, msg)
        return super().wait()

    def is_completed(self):
        if not self._done.is_set():
            pg = self._pg
            for s in self._sources():
                got = pg._mesh.poll(s, self._key(pg._ranks.index(s)))
                if got is not None:
                    self._finish(s, got[0])
                    break
        return self._done.is_set()

    def source_rank(self):
        self.wait()
        return self.source


def irecv(tensor, src=None, group=None, tag=0, group_src=None):
    """Post a receive into ``tensor`` from rank ``src`` (any rank when None); ``wait()`` on the returned
    ``Work`` completes it."""
    pg = _pg_or_warn(group, "irecv")
    if pg is None:
        return None
    _check_device(pg, tensor)
    peer = None if src is None and group_src is None else _peer(pg, src, group_src, "src")
    if peer == pg.rank():
        raise ValueError("Invalid source rank: should not be the same as rank of the current process.")
    return _RecvWork(pg, tensor, peer, tag)


def recv(tensor, src=None, group=None, tag=0, group_src=None):
    """Receive into ``tensor`` from rank ``src`` (any rank when None); return the sender's global rank."""
    w = irecv(tensor, src, group, tag, group_src)
    if w is None:
        return -1
    w.wait()
    return w.source


class P2POp:
    """One ``isend`` or ``irecv`` for ``batch_isend_irecv``: ``P2POp(dist.isend, tensor, peer)``."""

    def __init__(self, op, tensor, peer=None, group=None, tag=0, group_peer=None):
        if op not in (isend, irecv):
            raise ValueError("Invalid ``op``. Expected ``op`` to be of type ``torch.distributed.isend`` or "
                             "``torch.distributed.irecv``.")
        self.op, self.tensor, self.peer, self.group = op, tensor, peer, group
        self.tag, self.group_peer = tag, group_peer

    def __repr__(self):
        return f"P2POp({self.op.__name__} pg={self.group}, group_src/dst={self.peer}, {list(self.tensor.shape)})"


def batch_isend_irecv(p2p_op_list):
    """Start every op of the list (sends first go out as they come); return their ``Work``s."""
    if not p2p_op_list or not all(isinstance(p, P2POp) for p in p2p_op_list):
        raise ValueError("Invalid ``p2p_op_list``. Each op is expected to to be of type ``torch.distributed.P2POp``.")
    works = []
    for p in p2p_op_list:
        if p.op is isend:
            works.append(isend(p.tensor, p.peer, p.group, p.tag, p.group_peer))
        else:
            works.append(irecv(p.tensor, p.peer, p.group, p.tag, p.group_peer))
    return works


# ---------------------------------------------------------------------------------------- objects
def _roundtrip(obj):
    """The local entry is a pickled copy too, as every other rank's is."""
    return pickle.loads(pickle.dumps(obj))


def all_gather_object(object_list, obj, group=None):
    """``object_list[r]`` receives rank ``r``'s picklable ``obj``, on every rank."""
    pg = _pg_or_warn(group, "all_gather_object")
    if pg is None:
        return None
    if len(object_list) != pg.size():
        raise ValueError(f"all_gather_object: object_list has {len(object_list)} entries, expected {pg.size()}")

    def body(key):
        got = pg._exchange(key, "all_gather_object", {r: obj for r in _others(pg)}, _others(pg))
        got[pg.rank()] = _roundtrip(obj)
        for r in range(pg.size()):
            object_list[r] = got[r]
    pg._submit("all_gather_object", body, False)


def broadcast_object_list(object_list, src=None, group=None, device=None, group_src=None):
    """Rank ``src``'s ``object_list`` entries replace every rank's, in place (same length on all ranks)."""
    pg = _pg_or_warn(group, "broadcast_object_list")
    if pg is None:
        return None
    root = _group_rank_of(pg, src, group_src, "src")

    def body(key):
        if pg.rank() == root:
            pg._exchange(key, "broadcast_object_list", {r: list(object_list) for r in _others(pg)}, [])
            return
        objs = pg._exchange(key, "broadcast_object_list", {}, [root])[root]
        if len(objs) != len(object_list):
            raise DistBackendError(f"broadcast_object_list: rank {pg._global(root)} sent {len(objs)} objects, "
                                   f"this rank's list has {len(object_list)}")
        object_list[:] = objs
    pg._submit("broadcast_object_list", body, False)


def gather_object(obj, object_gather_list=None, dst=None, group=None, group_dst=None):
    """Rank ``dst``'s ``object_gather_list[r]`` receives rank ``r``'s ``obj``."""
    pg = _pg_or_warn(group, "gather_object")
    if pg is None:
        return None
    root = _group_rank_of(pg, dst, group_dst, "dst")
    if pg.rank() == root and (object_gather_list is None or len(object_gather_list) != pg.size()):
        raise ValueError(f"gather_object: the destination rank needs an object_gather_list of {pg.size()} entries")

    def body(key):
        if pg.rank() != root:
            pg._exchange(key, "gather_object", {root: obj}, [])
            return
        got = pg._exchange(key, "gather_object", {}, _others(pg))
        got[root] = _roundtrip(obj)
        for r in range(pg.size()):
            object_gather_list[r] = got[r]
    pg._submit("gather_object", body, False)


def scatter_object_list(scatter_object_output_list, scatter_object_input_list=None, src=None, group=None,
                        group_src=None):
    """``scatter_object_output_list[0]`` on rank ``r`` receives rank ``src``'s ``scatter_object_input_list[r]``."""
    pg = _pg_or_warn(group, "scatter_object_list")
    if pg is None:
        return None
    root = _group_rank_of(pg, src, group_src, "src")
    if not isinstance(scatter_object_output_list, list) or len(scatter_object_output_list) < 1:
        raise ValueError("Expected argument scatter_object_output_list to be a list of size at least 1.")
    if pg.rank() == root and (scatter_object_input_list is None or len(scatter_object_input_list) != pg.size()):
        raise ValueError(f"scatter_object_list: the source rank needs {pg.size()} input objects")

    def body(key):
        if pg.rank() == root:
            ins = scatter_object_input_list
            pg._exchange(key, "scatter_object_list", {r: ins[r] for r in _others(pg)}, [])
            scatter_object_output_list[0] = _roundtrip(ins[root])
        else:
            scatter_object_output_list[0] = pg._exchange(key, "scatter_object_list", {}, [root])[root]
    pg._submit("scatter_object_list", body, False)
