"""Key-value stores for rendezvous: ``HashStore`` (one process), ``FileStore`` (a shared file),
``TCPStore`` (a server in the master process) and ``PrefixStore`` (a namespace over another).

Values are bytes (a ``str`` is stored UTF-8 encoded); ``get`` and ``wait`` block until the keys exist
or the store's timeout passes, then raise ``DistStoreError`` as PyTorch's stores do.
"""
import datetime
import fcntl
import os
import pickle
import socket
import struct
import threading
import time

__all__ = ["Store", "HashStore", "FileStore", "TCPStore", "PrefixStore", "DistError", "DistBackendError",
           "DistNetworkError", "DistStoreError"]


class DistError(RuntimeError):
    """Base class of the errors ``ttorch.distributed`` raises (PyTorch's ``torch.distributed.DistError``)."""


class DistBackendError(DistError):
    """A collective failed: a peer's data did not arrive in time, or did not match."""


class DistNetworkError(DistError):
    """A connection could not be made, or a peer closed it."""


class DistStoreError(DistError):
    """A store operation failed, most often a ``get``/``wait`` that timed out."""


def _seconds(timeout):
    if timeout is None:
        return None
    return timeout.total_seconds() if isinstance(timeout, datetime.timedelta) else float(timeout)


def _bytes(value):
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, (list, tuple)):   # PyTorch also takes a list of byte values
        return bytes(value)
    return bytes(value)


def _compare_set(data, key, expected, desired):
    """PyTorch's rule: set when the value equals ``expected`` (or the key is absent and ``expected`` is
    empty); return the value now stored, or ``expected`` when the key is absent and nothing was set."""
    cur = data.get(key)
    if cur is None:
        if expected == b"":
            data[key] = desired
            return desired
        return expected
    if cur == expected:
        data[key] = desired
        return desired
    return cur


def _add(data, key, amount):
    value = int(data.get(key, b"0")) + int(amount)
    data[key] = str(value).encode()
    return value


class Store:
    """The store interface. Subclasses implement ``_op(name, *args)`` and ``_wait_keys(keys, timeout)``."""

    def __init__(self, timeout=datetime.timedelta(seconds=300)):
        self._timeout = _seconds(timeout)

    @property
    def timeout(self):
        return datetime.timedelta(seconds=self._timeout)

    def set_timeout(self, timeout):
        self._timeout = _seconds(timeout)

    def set(self, key, value):
        self._op("set", key, _bytes(value))

    def get(self, key):
        """The value of ``key``, waiting up to the store's timeout for it to be set."""
        self.wait([key])
        return self._op("get", key)

    def add(self, key, amount):
        """Add ``amount`` to the integer stored at ``key`` (0 when absent); return the new value."""
        return self._op("add", key, int(amount))

    def compare_set(self, key, expected_value, desired_value):
        return self._op("compare_set", key, _bytes(expected_value), _bytes(desired_value))

    def delete_key(self, key):
        return self._op("delete_key", key)

    def num_keys(self):
        return self._op("num_keys")

    def check(self, keys):
        """Whether every key in ``keys`` is set (does not wait)."""
        return self._op("check", list(keys))

    def append(self, key, value):
        self._op("append", key, _bytes(value))

    def multi_get(self, keys):
        return [self.get(k) for k in keys]

    def multi_set(self, keys, values):
        for k, v in zip(keys, values):
            self.set(k, v)

    def wait(self, keys, timeout=None):
        """Block until every key in ``keys`` is set; ``DistStoreError`` after ``timeout`` (the store's own
        timeout when None)."""
        self._wait_keys(list(keys), self._timeout if timeout is None else _seconds(timeout))


def _apply(data, name, args):
    """One store operation on a dict of bytes; shared by the hash, file and TCP stores."""
    if name == "set":
        data[args[0]] = args[1]
    elif name == "get":
        return data[args[0]]
    elif name == "add":
        return _add(data, *args)
    elif name == "compare_set":
        return _compare_set(data, *args)
    elif name == "delete_key":
        return data.pop(args[0], None) is not None
    elif name == "num_keys":
        return len(data)
    elif name == "check":
        return all(k in data for k in args[0])
    elif name == "append":
        data[args[0]] = data.get(args[0], b"") + args[1]
    else:
        raise ValueError(f"unknown store operation {name}")
    return None


class HashStore(Store):
    """A store in this process's memory, shared by its threads.

    Example::

        >>> s = HashStore()
        >>> s.set("a", "1"); s.add("n", 2)
        2
        >>> s.get("a")
        b'1'
    """

    def __init__(self):
        super().__init__()
        self._data = {}
        self._cond = threading.Condition()

    def _op(self, name, *args):
        with self._cond:
            out = _apply(self._data, name, args)
            self._cond.notify_all()
            return out

    def _wait_keys(self, keys, timeout):
        with self._cond:
            if not self._cond.wait_for(lambda: all(k in self._data for k in keys), timeout):
                raise DistStoreError("Wait timeout")


class PrefixStore(Store):
    """Every key of ``store`` seen through this one starts with ``prefix + "/"``."""

    def __init__(self, prefix, store):
        super().__init__()
        self.underlying_store = store
        self._prefix = prefix + "/"
        self._timeout = store._timeout

    def _key(self, k):
        return self._prefix + k

    def set(self, key, value):
        self.underlying_store.set(self._key(key), value)

    def get(self, key):
        return self.underlying_store.get(self._key(key))

    def add(self, key, amount):
        return self.underlying_store.add(self._key(key), amount)

    def compare_set(self, key, expected_value, desired_value):
        return self.underlying_store.compare_set(self._key(key), expected_value, desired_value)

    def delete_key(self, key):
        return self.underlying_store.delete_key(self._key(key))

    def num_keys(self):
        return self.underlying_store.num_keys()   # PyTorch counts the whole underlying store too

    def check(self, keys):
        return self.underlying_store.check([self._key(k) for k in keys])

    def append(self, key, value):
        self.underlying_store.append(self._key(key), value)

    def wait(self, keys, timeout=None):
        self.underlying_store.wait([self._key(k) for k in keys], timeout)

    def set_timeout(self, timeout):
        self.underlying_store.set_timeout(timeout)
        self._timeout = self.underlying_store._timeout

    @property
    def timeout(self):
        return self.underlying_store.timeout


class FileStore(Store):
    """A store kept in the file ``file_name``, which every process can open (a local or shared disk).

    Each operation locks the file (``fcntl.flock``), reads the pickled dict, and writes it back when it
    changed. ``get``/``wait`` poll it. The last of ``world_size`` users to ``close()`` deletes the file
    (PyTorch deletes it when its users are done), so that the next run starts from an empty store.
    """

    _USERS = "__filestore_users"

    def __init__(self, file_name, world_size=-1):
        super().__init__()
        self.path = file_name
        self.world_size = world_size
        self._closed = False
        self._op("add", self._USERS, 1)

    def _op(self, name, *args):
        with open(self.path, "a+b") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                f.seek(0)
                raw = f.read()
                data = pickle.loads(raw) if raw else {}
                before = dict(data)
                out = _apply(data, name, args)
                if name == "num_keys":
                    out -= self._USERS in data
                if data != before:
                    f.seek(0)
                    f.truncate()
                    f.write(pickle.dumps(data))
                    f.flush()
                return out
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def _wait_keys(self, keys, timeout):
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.001
        while not self._op("check", keys):
            if deadline is not None and time.monotonic() > deadline:
                raise DistStoreError(f"Timeout waiting for keys {keys} in FileStore {self.path}")
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def close(self):
        """Leave the store; the last user deletes the file."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._op("add", self._USERS, -1) <= 0:
                os.unlink(self.path)
        except OSError:
            pass


# ---------------------------------------------------------------------------------------------- TCP
def _send_msg(sock, obj):
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    sock.sendall(struct.pack("!Q", len(data)) + data)


def _recv_exact(sock, n):
    buf = bytearray(n)
    view, got = memoryview(buf), 0
    while got < n:
        k = sock.recv_into(view[got:], n - got)
        if k == 0:
            raise ConnectionError("connection closed")
        got += k
    return buf


def _recv_msg(sock):
    (n,) = struct.unpack("!Q", _recv_exact(sock, 8))
    return pickle.loads(_recv_exact(sock, n))


class _TCPStoreServer:
    """The master's server: one thread per client; blocking waits wait on a condition, not by polling."""

    def __init__(self, port):
        self.data = {}
        self.cond = threading.Condition()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("", port))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.clients = []
        threading.Thread(target=self._accept, daemon=True, name="TCPStore-accept").start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.clients.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True, name="TCPStore-client").start()

    def _serve(self, conn):
        try:
            while True:
                name, args = _recv_msg(conn)
                if name == "wait":
                    keys, timeout = args
                    with self.cond:
                        ok = self.cond.wait_for(lambda: all(k in self.data for k in keys), timeout)
                    _send_msg(conn, ("ok", ok))
                    continue
                with self.cond:
                    try:
                        out = ("ok", _apply(self.data, name, args))
                    except Exception as e:   # a bad request must not kill the server
                        out = ("err", repr(e))
                    self.cond.notify_all()
                _send_msg(conn, out)
        except (ConnectionError, OSError, EOFError):
            conn.close()

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        for c in self.clients:
            try:
                c.shutdown(socket.SHUT_RDWR)
                c.close()
            except OSError:
                pass


class TCPStore(Store):
    """A store served over TCP by the process created with ``is_master=True``; the others connect to
    ``host_name:port``.

    Args:
        host_name (str): the master's address.
        port (int): its port; 0 with ``is_master`` picks a free one (read it back from ``.port``).
        world_size (int, optional): the number of store users; with ``wait_for_workers`` the master's
            constructor returns once all of them have connected.
        is_master (bool): run the server in this process (it also connects as a client).
        timeout (timedelta): for connecting and for ``get``/``wait``.

    Example::

        >>> s = TCPStore("127.0.0.1", 0, 1, True)
        >>> s.set("k", b"v"); s.get("k")
        b'v'
        >>> s.close()
    """

    _WORKERS = "__tcpstore_workers"

    def __init__(self, host_name, port, world_size=None, is_master=False, timeout=datetime.timedelta(seconds=300),
                 wait_for_workers=True, multi_tenant=False, master_listen_fd=None, use_libuv=True):
        super().__init__(timeout)
        self.host, self.world_size = host_name, world_size
        self._server = _TCPStoreServer(port) if is_master else None
        self.port = self._server.port if is_master else port
        self._lock = threading.Lock()
        self._sock = self._connect()
        self._op("add", self._WORKERS, 1)
        if is_master and wait_for_workers and world_size:
            deadline = time.monotonic() + self._timeout
            while int(self._op("get", self._WORKERS)) < world_size:
                if time.monotonic() > deadline:
                    raise DistStoreError(f"Timed out after {self._timeout:.0f}s waiting for {world_size} clients "
                                         f"of the TCPStore at port {self.port}")
                time.sleep(0.01)

    def _connect(self):
        deadline = time.monotonic() + self._timeout
        delay = 0.01
        while True:
            try:
                sock = socket.create_connection((self.host, self.port), timeout=max(1.0, self._timeout))
                sock.settimeout(None)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return sock
            except OSError as e:   # the master may not be listening yet: retry until the timeout
                if time.monotonic() > deadline:
                    raise DistNetworkError(f"The client socket has timed out after {self._timeout:.0f}s while "
                                           f"trying to connect to ({self.host}, {self.port}): {e}") from None
                time.sleep(delay)
                delay = min(delay * 2, 0.5)

    def _request(self, name, *args):
        with self._lock:
            try:
                _send_msg(self._sock, (name, args))
                status, out = _recv_msg(self._sock)
            except (ConnectionError, OSError) as e:
                raise DistNetworkError(f"TCPStore connection to ({self.host}, {self.port}) failed: {e}") from None
        if status == "err":
            raise DistStoreError(out)
        return out

    def _op(self, name, *args):
        # num_keys counts the internal client counter, as PyTorch's count includes its own internal key
        return self._request(name, *args)

    def _wait_keys(self, keys, timeout):
        if not self._request("wait", keys, timeout):
            ms = int((timeout or 0) * 1000)
            raise DistStoreError(f"wait timeout after {ms}ms, keys: {', '.join('/' + k for k in keys)}")

    @property
    def local_address(self):
        """This client's own address as the master sees it (the interface used to reach it)."""
        return self._sock.getsockname()[0]

    def close(self):
        try:
            self._sock.close()
        finally:
            if self._server is not None:
                self._server.close()
                self._server = None
