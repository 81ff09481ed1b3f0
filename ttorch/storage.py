"""``ttorch.storage``: ``UntypedStorage`` (the bytes behind tensors, ``_storage.py``) with PyTorch's public
constructor and methods, and the deprecated ``TypedStorage`` view of them (``_typed_storage.py``).

``UntypedStorage(size=0, *, device=None)`` holds ``size`` uninitialised bytes, ``UntypedStorage(seq)`` the
bytes of a sequence of ints; ``t.untyped_storage()`` is an instance. Indexing reads and writes single bytes
(a slice is a storage sharing the bytes, host storages only). On a real GPU element reads copy through
the host.

Example::

    >>> s = ttorch.UntypedStorage([1, 2, 3])
    >>> len(s), s[1], s.tolist()
    (3, 2, [1, 2, 3])
    >>> ttorch.tensor([], dtype=ttorch.uint8).set_(s).tolist()
    [1, 2, 3]
"""
import numpy as np

from ._device import CPU
from ._storage import UntypedStorage
from ._typed_storage import TypedStorage  # noqa: F401

__all__ = ["TypedStorage", "UntypedStorage"]


def _public_init(self, arg=None, device=None):
    """PyTorch's constructor forms (``_storage.UntypedStorage.__init__`` sends them here)."""
    from ._device import _canonical
    self.device = CPU                     # (what __del__ reads, should a check below raise)
    dev = CPU if device is None else _canonical(device)
    if arg is None:
        arg = 0
    if isinstance(arg, (int, np.integer)) and not isinstance(arg, bool):
        if arg < 0:
            raise RuntimeError(f"UntypedStorage(): size must be non-negative, got {arg}")
        UntypedStorage.__init__(self, dev, int(arg))
        return
    try:
        items = list(arg)
    except TypeError:
        raise TypeError(f"UntypedStorage(): expected a size (int) or a sequence of ints, got "
                        f"{type(arg).__name__}") from None
    for it in items:
        if not isinstance(it, (int, np.integer)):
            raise RuntimeError(f"torch.UntypedStorage(): tried to construct a storage from a sequence "
                               f"({type(arg).__name__}), but one of the items was of type {type(it).__name__} "
                               f"instead of int")
    host = np.array(items, dtype=np.int64).astype(np.uint8)
    if dev.type == "cpu":
        UntypedStorage.__init__(self, CPU, array=host)
    else:
        UntypedStorage.__init__(self, dev, host.nbytes)
        self.copy_(UntypedStorage(CPU, array=host))


def _bytes(self):
    """(the bytes as a host array, whether writes must be copied back to the device)."""
    host = self.host_array()
    return (self.cpu().host_array(), True) if host is None else (host, False)


def _getitem(self, i):
    a, _ = _bytes(self)
    if isinstance(i, slice):
        if self.host_array() is None:
            raise RuntimeError("UntypedStorage: slicing a storage in real device memory is not supported; "
                               "copy it to the cpu first")
        start, stop, step = i.indices(len(a))
        if step != 1:
            raise RuntimeError("UntypedStorage: only contiguous slices are supported")
        return UntypedStorage(self.device, array=a[start:stop])
    return int(a[i])


def _setitem(self, i, value):
    a, copy_back = _bytes(self)
    a[i] = np.asarray(value).astype(np.uint8) if not isinstance(value, UntypedStorage) else value.tolist()
    if copy_back:
        self.copy_(UntypedStorage(CPU, array=a))


def _tolist(self):
    return _bytes(self)[0].tolist()


def _fill_(self, value):
    a, copy_back = _bytes(self)
    a[:] = np.uint8(int(value) & 0xFF)
    if copy_back:
        self.copy_(UntypedStorage(CPU, array=a))
    return self


def _clone(self):
    out = UntypedStorage(self.device, self.nbytes_)
    return out.copy_(self)


def _to(self, *, device, non_blocking=False):
    from ._device import _canonical
    device = _canonical(device)
    if device == self.device:
        return self
    out = UntypedStorage(device, self.nbytes_)
    return out.copy_(self)


def _cuda(self, device=None, non_blocking=False):
    return _to(self, device="cuda" if device is None else (f"cuda:{device}" if isinstance(device, int) else device))


def _resize_(self, size):
    if self.host_array() is None or self.device.type != "cpu":
        raise RuntimeError("UntypedStorage.resize_: only cpu storages can be resized in ttorch")
    old = self._array
    new = np.zeros(size, dtype=np.uint8)
    n = min(size, old.nbytes)
    new[:n] = old[:n]
    self._array, self.nbytes_, self._p = new, size, None
    return self


def _repr(self):
    body = "\n".join(f" {v}" for v in _tolist(self))
    head = f"[ttorch.storage.UntypedStorage(device={self.device}) of size {self.nbytes_}]"
    return f"{body}\n{head}" if body else head


def _from_buffer(cls, buffer, byte_order="native", count=-1, offset=0, dtype=None):
    a = np.frombuffer(buffer, dtype=np.uint8, count=count, offset=offset).copy()
    return UntypedStorage(CPU, array=a)


_METHODS = {
    "__len__": lambda self: self.nbytes_, "__getitem__": _getitem, "__setitem__": _setitem,
    "__repr__": _repr, "tolist": _tolist, "fill_": _fill_, "clone": _clone, "to": _to, "cuda": _cuda,
    "resize_": _resize_, "element_size": lambda self: 1, "untyped": lambda self: self,
    "is_cuda": property(lambda self: self.device.type == "cuda"), "is_sparse": False,
    "is_shared": lambda self: False, "share_memory_": lambda self: self,   # (pickled by value: see multiprocessing)
    "is_pinned": lambda self, device="cuda": False, "pin_memory": lambda self, device="cuda": self,
    "type": lambda self, dtype=None, non_blocking=False: "ttorch.storage.UntypedStorage",
    "from_buffer": classmethod(_from_buffer), "__module__": "ttorch.storage",
}
for _k, _v in _METHODS.items():
    if _k == "__module__" or not hasattr(UntypedStorage, _k) or _k in ("__repr__", "__len__"):
        setattr(UntypedStorage, _k, _v)
