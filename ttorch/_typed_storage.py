"""``TypedStorage``: PyTorch's deprecated typed view of a tensor's storage (``x.storage()``), and the
legacy classes ``ttorch.FloatStorage``... that ``x.storage_type()`` returns.

A ``TypedStorage`` is an ``UntypedStorage`` (``_storage.py``) read as elements of one dtype: indexing,
``tolist`` and ``size`` count elements from the storage's first byte, not the tensor's offset, as in
PyTorch. On a real GPU reads and writes copy through the host.
"""
import warnings

import numpy as np

from . import _dtype as D
from ._storage import UntypedStorage
from ._tensor import _TYPE_NAMES

_warned = [False]


def _warn():
    if not _warned[0]:
        _warned[0] = True
        warnings.warn("TypedStorage is deprecated. It will be removed in the future and UntypedStorage will be the "
                      "only storage class. This should only matter to you if you are using storages directly.  To "
                      "access UntypedStorage directly, use tensor.untyped_storage() instead of tensor.storage()",
                      UserWarning, stacklevel=3)


class TypedStorage:
    """The elements of ``dtype`` in an ``UntypedStorage`` (shared: writes reach the tensors over it)."""
    is_sparse = False

    def __init__(self, *args, wrap_storage=None, dtype=None, device=None, _internal=False):
        if not _internal:
            _warn()
        self.dtype = dtype or getattr(type(self), "_dtype", None) or D.get_default_dtype()
        device = device or getattr(type(self), "_device", None)        # (ttorch.cuda.FloatStorage...: cuda)
        if wrap_storage is None:            # TypedStorage(size) or TypedStorage(sequence)
            from ._device import _canonical
            from .ops.creation import tensor, empty
            dev = _canonical(device or "cpu")
            if args and isinstance(args[0], (list, tuple)):
                t = tensor(list(args[0]), dtype=self.dtype, device=dev)
            else:
                t = empty(args[0] if args else 0, dtype=self.dtype, device=dev)
            wrap_storage = t.untyped_storage()
        self._untyped = wrap_storage

    @property
    def device(self):
        return self._untyped.device

    @property
    def is_cuda(self):
        return self.device.type == "cuda"

    def untyped(self):
        return self._untyped

    def size(self):
        return self._untyped.nbytes_ // self.dtype.itemsize

    __len__ = size

    def element_size(self):
        return self.dtype.itemsize

    def nbytes(self):
        return self._untyped.nbytes_

    def data_ptr(self):
        return self._untyped.data_ptr()

    def _elements(self):
        """(a NumPy array of the elements, whether writes to it must be copied back to the device)."""
        st = self._untyped
        host = st.host_array()
        n = self.size() * self.dtype.itemsize
        if host is None:
            return st.cpu().host_array()[:n].view(self.dtype.np), True
        return host[:n].view(self.dtype.np), False

    def __getitem__(self, i):
        a, _ = self._elements()
        v = a[i]
        return v.tolist() if self.dtype is not D.bfloat16 else np.asarray(v, np.float32).tolist()

    def __setitem__(self, i, value):
        a, copy_back = self._elements()
        a[i] = value
        if copy_back:
            from ._device import CPU
            self._untyped.copy_(UntypedStorage(CPU, array=a.view(np.uint8)))

    def tolist(self):
        return [self[i] for i in range(self.size())]

    def cpu(self):
        return TypedStorage(wrap_storage=self._untyped.cpu(), dtype=self.dtype, _internal=True)

    def type(self, dtype=None):
        return f"ttorch.{'cuda.' if self.is_cuda else ''}{_TYPE_NAMES[self.dtype].replace('Tensor', 'Storage')}"

    def __repr__(self):
        body = "\n".join(f" {v}" for v in self.tolist())
        head = f"[ttorch.storage.TypedStorage(dtype={self.dtype}, device={self.device}) of size {self.size()}]"
        return f"{body}\n{head}" if body else head


def _legacy(dtype):
    name = _TYPE_NAMES[dtype].replace("Tensor", "Storage")
    return type(name, (TypedStorage,), {"_dtype": dtype, "__module__": "ttorch",
                                        "__doc__": f"A TypedStorage of {dtype} (legacy class)."})


STORAGE_TYPES = {dt: _legacy(dt) for dt in _TYPE_NAMES}


def _legacy_cuda(dtype):
    name = _TYPE_NAMES[dtype].replace("Tensor", "Storage")
    return type(name, (TypedStorage,), {"_dtype": dtype, "_device": "cuda", "__module__": "ttorch.cuda",
                                        "__doc__": f"A cuda TypedStorage of {dtype} (legacy class)."})


CUDA_STORAGE_TYPES = {dt: _legacy_cuda(dt) for dt in _TYPE_NAMES}


def storage(self):
    """This tensor's storage as a ``TypedStorage`` of its dtype (deprecated in PyTorch: prefer
    ``untyped_storage()``)."""
    _warn()
    return TypedStorage(wrap_storage=self.untyped_storage(), dtype=self.dtype, _internal=True)


def storage_type(self):
    """The legacy storage class of this tensor's dtype (``ttorch.FloatStorage``...)."""
    return STORAGE_TYPES[self.dtype]


def is_storage(obj):
    return isinstance(obj, (TypedStorage, UntypedStorage))


def install_cuda(cuda):
    """``ttorch.cuda.FloatStorage``...: the legacy storage classes that default to the cuda device."""
    for cls in CUDA_STORAGE_TYPES.values():
        setattr(cuda, cls.__name__, cls)


def public():
    out = {cls.__name__: cls for cls in STORAGE_TYPES.values()}
    out.update(TypedStorage=TypedStorage, is_storage=is_storage)
    return out
