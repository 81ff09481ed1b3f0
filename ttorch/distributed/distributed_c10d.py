"""Process groups: ``init_process_group`` and its rendezvous, ``new_group``, ranks, ``ReduceOp``,
``Backend`` and ``Work``.

A group is a list of global ranks over the world's connection mesh (``_mesh.py``); its collectives run
one at a time, in call order, on a worker thread of the group, so ``async_op=True`` returns at once and
a blocking call is the same work waited on. Every collective message is keyed by ``(group, sequence
number)``: ranks issue a group's collectives in the same order (as PyTorch requires), so the keys agree.
"""
import datetime
import enum
import os
import queue
import threading
import urllib.parse
import warnings

from .store import DistBackendError, FileStore, PrefixStore, TCPStore

default_pg_timeout = datetime.timedelta(minutes=30)


class Backend(str):
    """A backend name. ``"gloo"`` is the implementation: TCP between processes, reductions on the host.
    ``"nccl"`` is accepted for cuda tensors and runs the same way, through host copies (no NCCL library:
    slower than PyTorch's on a real GPU, identical results)."""
    UNDEFINED = "undefined"
    GLOO = "gloo"
    NCCL = "nccl"
    MPI = "mpi"
    UCC = "ucc"
    backend_list = ["undefined", "gloo", "nccl", "mpi", "ucc"]

    def __new__(cls, name):
        if not isinstance(name, str):
            raise ValueError(f"Backend constructor parameter must be string-ish, but got: {type(name)}")
        value = getattr(Backend, name.upper(), Backend.UNDEFINED)
        if value == Backend.UNDEFINED:
            value = name.lower()
        return super().__new__(cls, value)


class ReduceOp:
    """The reductions of ``all_reduce``, ``reduce`` and ``reduce_scatter``. ``AVG`` divides the sum by the
    group size (floating dtypes only); ``BAND``/``BOR``/``BXOR`` take integer and bool tensors."""

    class RedOpType(enum.Enum):
        SUM = 0
        AVG = 1
        PRODUCT = 2
        MIN = 3
        MAX = 4
        BAND = 5
        BOR = 6
        BXOR = 7

    SUM, AVG, PRODUCT = RedOpType.SUM, RedOpType.AVG, RedOpType.PRODUCT
    MIN, MAX = RedOpType.MIN, RedOpType.MAX
    BAND, BOR, BXOR = RedOpType.BAND, RedOpType.BOR, RedOpType.BXOR


class Work:
    """The handle of an operation started with ``async_op=True``: ``wait()`` blocks until it is done and
    raises its error, if any; ``is_completed()`` does not block."""

    def __init__(self, fn=None, result=None):
        self._fn, self._result, self._exc = fn, result, None
        self._done = threading.Event()
        if fn is None:
            self._done.set()

    def _run(self):
        try:
            out = self._fn()
            if out is not None:
                self._result = out
        except BaseException as e:   # delivered to whoever waits
            self._exc = e
        finally:
            self._fn = None
            self._done.set()

    def wait(self, timeout=None):
        if not self._done.wait(None if timeout is None else _secs(timeout)):
            raise DistBackendError(f"Work timed out after {_secs(timeout)}s")
        if self._exc is not None:
            raise self._exc
        return True

    def is_completed(self):
        return self._done.is_set()

    def is_success(self):
        return self._done.is_set() and self._exc is None

    def exception(self):
        return self._exc

    def result(self):
        self.wait()
        return list(self._result or [])

    def synchronize(self):
        self.wait()

    def get_future(self):
        """A ``ttorch.futures.Future`` of the output tensors (a list, as PyTorch's)."""
        from ..futures import Future
        return Future._of_work(self)


def _secs(t):
    return t.total_seconds() if isinstance(t, datetime.timedelta) else float(t)


class _Worker:
    """One thread running a group's collectives in order."""

    def __init__(self, name):
        self._q = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, daemon=True, name=name)
        self._thread.start()

    def _loop(self):
        while True:
            work = self._q.get()
            if work is None:
                return
            work._run()

    def submit(self, work):
        self._q.put(work)

    def stop(self):
        self._q.put(None)


class ProcessGroup:
    """A set of ranks that run collectives together. ``rank()`` is this process's rank inside it."""

    def __init__(self, ranks, gid, backend, timeout, mesh):
        self._ranks = list(ranks)
        self._gid, self._backend, self._timeout, self._mesh = gid, backend, timeout, mesh
        self._seq = 0
        self._p2p_sent, self._p2p_posted = {}, {}   # (peer, tag) -> messages so far: p2p message keys
        self._worker = None

    def rank(self):
        return self._ranks.index(self._mesh.rank)

    def size(self):
        return len(self._ranks)

    def name(self):
        return str(self._gid)

    group_name = property(name)

    def __repr__(self):
        return f"<ttorch.distributed.ProcessGroup {self._gid} ranks={self._ranks} backend={self._backend}>"

    def _global(self, group_rank):
        return self._ranks[group_rank]

    def _submit(self, opname, body, async_op, result=None):
        """Run ``body(key)`` after the group's earlier collectives; wait for it unless ``async_op``."""
        key = ("c", self._gid, self._seq)
        self._seq += 1
        if self._worker is None:
            self._worker = _Worker(f"ttorch-pg-{self._gid}")
        work = Work(lambda: body(key), result)
        self._worker.submit(work)
        if async_op:
            return work
        work.wait()
        return None

    def _exchange(self, key, opname, outgoing, sources, timeout=None):
        """Send ``outgoing[group_rank]`` to each rank, then receive from every rank in ``sources``.
        Returns ``{group_rank: obj}``; a peer running another collective at this step is an error."""
        mesh = self._mesh
        for dst, obj in outgoing.items():
            mesh.send(self._ranks[dst], key, (opname, obj))
        got = {}
        for src in sources:
            _, (theirs, obj) = mesh.recv([self._ranks[src]], key, timeout or self._timeout, what=opname)
            if theirs != opname:
                raise DistBackendError(f"Detected mismatch between collectives on ranks. Rank {mesh.rank} is running "
                                       f"collective {opname}, but rank {self._ranks[src]} is running {theirs}")
            got[src] = obj
        return got

    def _shutdown(self):
        if self._worker is not None:
            self._worker.stop()
            self._worker = None


class _World:
    def __init__(self):
        self.default_pg = None
        self.groups = []
        self.mesh = None
        self.own_store = None
        self.group_count = 0
        self.inits = 0


_world = _World()


class _WorldMeta(type):
    @property
    def WORLD(cls):
        return _world.default_pg


class group(metaclass=_WorldMeta):
    """``group.WORLD``: the default process group."""


class GroupMember(metaclass=_WorldMeta):
    """``GroupMember.WORLD`` and ``GroupMember.NON_GROUP_MEMBER`` (what ``new_group`` returns to ranks
    outside the group)."""
    NON_GROUP_MEMBER = -100


_NOT_INIT = "Default process group has not been initialized, please make sure to call init_process_group."


def is_available():
    return True


def is_initialized():
    return _world.default_pg is not None


def is_gloo_available():
    return True


def is_nccl_available():
    """True where there is a cuda device: "nccl" is accepted for cuda tensors (through host copies)."""
    from .. import cuda
    return cuda.is_available()


def is_mpi_available():
    return False


def is_torchelastic_launched():
    return os.environ.get("TORCHELASTIC_RUN_ID") is not None


def _default_pg():
    if _world.default_pg is None:
        raise ValueError(_NOT_INIT)
    return _world.default_pg


def _resolve(group):
    """The ProcessGroup for ``group`` (None: the default), or None for a rank outside it."""
    pg = _default_pg()
    if group is None:
        return pg
    if isinstance(group, int) and group == GroupMember.NON_GROUP_MEMBER:
        return None
    return group if _world.mesh.rank in group._ranks else None


def _env(name, method):
    value = os.environ.get(name)
    if value is None:
        raise ValueError(f"Error initializing torch.distributed using {method} rendezvous: environment variable "
                         f"{name} expected, but not set")
    return value


def _rendezvous(init_method, rank, world_size, timeout):
    """The store, rank and world size an ``init_method`` URL names."""
    url = urllib.parse.urlparse(init_method)
    query = dict(urllib.parse.parse_qsl(url.query))
    rank = int(query.get("rank", rank))
    world_size = int(query.get("world_size", world_size))
    if url.scheme == "env":
        rank = rank if rank >= 0 else int(_env("RANK", "env://"))
        world_size = world_size if world_size > 0 else int(_env("WORLD_SIZE", "env://"))
        host, port = _env("MASTER_ADDR", "env://"), int(_env("MASTER_PORT", "env://"))
    elif url.scheme == "tcp":
        host, port = url.hostname, url.port
        if port is None:
            raise ValueError(f"port number missing in the tcp:// init method: {init_method}")
    elif url.scheme == "file":
        if rank < 0 or world_size <= 0:
            raise ValueError("Error initializing torch.distributed using file:// rendezvous: rank and world_size "
                             "parameters expected")
        return FileStore(urllib.parse.unquote(url.path), world_size), rank, world_size
    else:
        raise RuntimeError(f"No rendezvous handler for {url.scheme}://")
    if rank < 0 or world_size <= 0:
        raise ValueError(f"Error initializing torch.distributed using {url.scheme}:// rendezvous: rank and "
                         "world_size parameters expected")
    store = TCPStore(host, port, world_size, rank == 0, timeout, wait_for_workers=False)
    return store, rank, world_size


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1, store=None,
                       group_name="", pg_options=None, device_id=None):
    """Join the default process group of ``world_size`` processes as ``rank``.

    Args:
        backend (str, optional): ``"gloo"`` (default) or ``"nccl"`` (same implementation, see ``Backend``).
        init_method (str, optional): ``"env://"`` (default: MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE as
            ``torchrun`` sets them), ``"tcp://host:port"`` or ``"file:///path"``.
        timeout (timedelta, optional): for the rendezvous and every collective (default 30 minutes).
        world_size, rank (int): required with ``store``, ``tcp://`` and ``file://``.
        store (Store, optional): an existing store to meet through, instead of ``init_method``.

    ``device_id`` and ``pg_options`` are accepted and unused.
    """
    if _world.default_pg is not None:
        raise ValueError("trying to initialize the default process group twice!")
    if store is not None and init_method is not None:
        raise ValueError("Cannot specify both init_method and store.")
    backend = Backend(backend or "gloo")
    # "cpu:gloo,cuda:nccl" names a backend per device type: both are the same implementation here
    if any(b.split(":")[-1] not in (Backend.GLOO, Backend.NCCL) for b in backend.split(",")):
        raise RuntimeError(f"Invalid backend: '{backend}' (ttorch implements gloo, and nccl through host copies)")
    timeout = _secs(timeout or default_pg_timeout)
    own = None
    if store is None:
        store, rank, world_size = _rendezvous(init_method or "env://", rank, world_size, timeout)
        own = store
    elif rank < 0 or world_size <= 0:
        raise ValueError("world_size and rank must be specified when using a store")
    if not 0 <= rank < world_size:
        raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {world_size - 1}]")
    # A fresh namespace per initialisation: a store reused by a second init must not serve old addresses.
    _world.inits += 1
    from ._mesh import Mesh
    try:
        mesh = Mesh(PrefixStore(f"ttorch_pg_{_world.inits}", store), rank, world_size, timeout)
    except BaseException:
        if own is not None:
            own.close()
        raise
    _world.mesh, _world.own_store = mesh, own
    _world.group_count = 0
    _world.default_pg = ProcessGroup(range(world_size), 0, backend, timeout, mesh)
    _world.groups = [_world.default_pg]


def destroy_process_group(group=None):
    """Leave ``group``; with the default group (None), close every connection and group."""
    if group is None or group is _world.default_pg:
        if _world.default_pg is None:
            raise ValueError(_NOT_INIT)
        for g in _world.groups:
            g._shutdown()
        _world.mesh.close()
        if _world.own_store is not None:
            _world.own_store.close()
        _world.default_pg, _world.groups, _world.mesh, _world.own_store = None, [], None, None
        return
    if isinstance(group, ProcessGroup):
        group._shutdown()
        if group in _world.groups:
            _world.groups.remove(group)


def new_group(ranks=None, timeout=None, backend=None, pg_options=None, use_local_synchronization=False,
              group_desc=None, device_id=None):
    """A group of the global ``ranks`` (sorted; all ranks when None). Every rank of the world must call
    it, in the same order as the others, members or not; non-members get ``GroupMember.NON_GROUP_MEMBER``."""
    pg = _default_pg()
    ranks = sorted(range(pg.size()) if ranks is None else ranks)
    for r in ranks:
        if not 0 <= r < pg.size():
            raise ValueError(f"The new group's rank should be within the world_size set by init_process_group, "
                             f"got rank {r}")
    if len(set(ranks)) != len(ranks):
        raise ValueError(f"new_group: duplicate ranks in {ranks}")
    _world.group_count += 1   # counted on every rank, so the group ids agree
    if _world.mesh.rank not in ranks:
        return GroupMember.NON_GROUP_MEMBER
    g = ProcessGroup(ranks, _world.group_count, Backend(backend) if backend else pg._backend,
                     _secs(timeout) if timeout else pg._timeout, _world.mesh)
    _world.groups.append(g)
    return g


def get_rank(group=None):
    """This process's rank in ``group`` (the default group when None); -1 outside it."""
    pg = _resolve(group)
    return -1 if pg is None else pg.rank()


def get_world_size(group=None):
    pg = _resolve(group)
    return -1 if pg is None else pg.size()


def get_backend(group=None):
    pg = _resolve(group)
    if pg is None:
        raise ValueError("Invalid process group specified")
    return pg._backend


def get_process_group_ranks(group):
    """The global ranks of ``group``, in group-rank order."""
    return list(_default_pg()._ranks if group is None else group._ranks)


def get_global_rank(group, group_rank):
    ranks = get_process_group_ranks(group)
    if not 0 <= group_rank < len(ranks):
        raise ValueError(f"Group rank {group_rank} is not part of group {group}")
    return ranks[group_rank]


def get_group_rank(group, global_rank):
    ranks = get_process_group_ranks(group)
    if global_rank not in ranks:
        raise ValueError(f"Global rank {global_rank} is not part of group {group}")
    return ranks.index(global_rank)


def _group_rank_of(pg, global_rank, group_rank, what):
    """A collective's ``src``/``dst`` (global) or ``group_src``/``group_dst`` (group rank) as a group rank."""
    if group_rank is not None:
        if global_rank is not None:
            raise ValueError(f"Can not specify both {what} and group_{what}")
        if not 0 <= group_rank < pg.size():
            raise ValueError(f"Group rank {group_rank} is not part of group {pg}")
        return group_rank
    if global_rank is None:
        global_rank = 0
    if global_rank not in pg._ranks:
        raise ValueError(f"The global rank {global_rank} is not part of the group {pg}")
    return pg._ranks.index(global_rank)


def _warn_not_in_group(op):
    warnings.warn(f"Running {op} on global rank {_world.mesh.rank} which does not belong to the given group.")
