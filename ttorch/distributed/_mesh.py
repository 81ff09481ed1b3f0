"""The transport under every process group: one TCP connection between each pair of ranks.

Rendezvous: each rank listens on a free port and publishes ``host:port`` in the store; rank ``i``
connects to every lower rank and accepts every higher one. A thread per connection reads whole
messages into a mailbox keyed by ``(source rank, key)``, so a send never waits on the receiver's
program (no deadlock between two ranks sending to each other) and messages of different collectives,
groups and p2p tags never mix: the key says which operation a message belongs to.
"""
import collections
import os
import pickle
import socket
import struct
import threading
import time

from .store import DistBackendError, DistNetworkError, _recv_exact

_HEADER = struct.Struct("!QI")   # pickle length, number of out-of-band buffers


def _advertised_host(store):
    """The address peers should connect to: the interface that reaches the TCPStore's master (or
    MASTER_ADDR, for other stores), else the host's name resolved (loopback on a single machine)."""
    base = store
    while hasattr(base, "underlying_store"):
        base = base.underlying_store
    addr = getattr(base, "local_address", None)
    if addr:
        return addr
    master = os.environ.get("MASTER_ADDR")
    try:
        if master:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.connect((master, 9))          # a UDP "connect" sends nothing; it picks the route
                return s.getsockname()[0]
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"


class Mesh:
    """Connections from this rank to every other rank of the world."""

    def __init__(self, store, rank, world_size, timeout):
        self.rank, self.world_size, self.timeout = rank, world_size, timeout
        self._box = collections.defaultdict(collections.deque)   # (src, key) -> messages in arrival order
        self._cond = threading.Condition()
        self._dead = {}                                            # src -> why its connection ended
        self._send_locks = {}
        self._socks = {}
        self._closing = False
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("", 0))
        listener.listen(max(world_size, 8))
        store.set(f"mesh/{rank}", f"{_advertised_host(store)}:{listener.getsockname()[1]}")
        try:
            for peer in range(rank):
                host, port = store.get(f"mesh/{peer}").decode().rsplit(":", 1)
                sock = self._dial(host, int(port))
                sock.sendall(struct.pack("!I", rank))
                self._add(peer, sock)
            listener.settimeout(timeout)
            for _ in range(rank + 1, world_size):
                try:
                    sock, _ = listener.accept()
                except socket.timeout:
                    raise DistNetworkError(f"rank {rank} timed out after {timeout:.0f}s waiting for higher ranks "
                                           "to connect") from None
                sock.settimeout(None)
                (peer,) = struct.unpack("!I", _recv_exact(sock, 4))
                self._add(peer, sock)
        finally:
            listener.close()
        # Every rank leaves the rendezvous together: none may close the store (rank 0 serves a TCPStore)
        # while another still reads addresses from it.
        for peer in self._socks:
            self.send(peer, "ready", None)
        for peer in self._socks:
            self.recv([peer], "ready", what="init_process_group")

    def _dial(self, host, port):
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                sock = socket.create_connection((host, port), timeout=self.timeout)
                sock.settimeout(None)
                return sock
            except OSError as e:
                if time.monotonic() > deadline:
                    raise DistNetworkError(f"rank {self.rank} could not connect to {host}:{port}: {e}") from None
                time.sleep(0.05)

    def _add(self, peer, sock):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socks[peer] = sock
        self._send_locks[peer] = threading.Lock()
        threading.Thread(target=self._reader, args=(peer, sock), daemon=True, name=f"ttorch-dist-recv-{peer}").start()

    def _reader(self, peer, sock):
        try:
            while True:
                n, nbuf = _HEADER.unpack(_recv_exact(sock, _HEADER.size))
                sizes = struct.unpack(f"!{nbuf}Q", _recv_exact(sock, 8 * nbuf)) if nbuf else ()
                data = _recv_exact(sock, n)
                # out-of-band buffers become the arrays' own (writable) memory: no copy after the socket
                key, obj = pickle.loads(data, buffers=[_recv_exact(sock, k) for k in sizes])
                with self._cond:
                    self._box[(peer, key)].append(obj)
                    self._cond.notify_all()
        except (ConnectionError, OSError, EOFError, pickle.UnpicklingError) as e:
            with self._cond:
                self._dead[peer] = "closed" if self._closing else str(e)
                self._cond.notify_all()

    # ------------------------------------------------------------------ messages
    def send(self, dst, key, obj):
        """Send ``obj`` (picklable) as message ``key``. Arrays travel as pickle-5 out-of-band buffers:
        their memory is written to the socket as it is, not copied into the pickle."""
        bufs = []
        data = pickle.dumps((key, obj), protocol=5, buffer_callback=bufs.append)
        raws = [b.raw() for b in bufs]
        head = _HEADER.pack(len(data), len(raws)) + struct.pack(f"!{len(raws)}Q", *(r.nbytes for r in raws))
        with self._send_locks[dst]:
            try:
                sock = self._socks[dst]
                sock.sendall(head + data)
                for r in raws:
                    sock.sendall(r)
            except OSError as e:
                raise DistNetworkError(f"rank {self.rank} failed to send to rank {dst}: {e}") from None

    def poll(self, src, key):
        """Take the message ``key`` from ``src`` if it has arrived, else None (as a 1-tuple when found)."""
        with self._cond:
            q = self._box.get((src, key))
            if q:
                obj = q.popleft()
                if not q:
                    del self._box[(src, key)]
                return (obj,)
            return None

    def recv(self, srcs, key, timeout=None, what="recv"):
        """Wait for message ``key`` from any rank in ``srcs``; return ``(src, obj)``. A key that is a
        callable maps each source to its key (p2p receives from any source count per source)."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        keyof = key if callable(key) else (lambda s: key)
        with self._cond:
            while True:
                for s in srcs:
                    q = self._box.get((s, keyof(s)))
                    if q:
                        obj = q.popleft()
                        if not q:
                            del self._box[(s, keyof(s))]
                        return s, obj
                dead = [s for s in srcs if s in self._dead]
                if len(dead) == len(srcs):
                    raise DistNetworkError(f"{what}: connection to rank {dead[0]} was closed ({self._dead[dead[0]]}); "
                                           "the peer process has probably exited or failed")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise DistBackendError(f"{what}: rank {self.rank} timed out after {int(timeout * 1000)}ms waiting "
                                           f"for rank{'s' if len(srcs) > 1 else ''} "
                                           f"{', '.join(map(str, srcs))}")
                self._cond.wait(min(left, 1.0))

    def close(self):
        self._closing = True
        for sock in self._socks.values():
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        self._socks.clear()
