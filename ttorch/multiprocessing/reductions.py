"""``ttorch.multiprocessing.reductions``: how tensors and storages cross process boundaries.

PyTorch moves a tensor's storage into shared memory (or a CUDA IPC handle) and sends a handle; ttorch
pickles the elements by value (cuda tensors through the host), so the receiver gets a copy on the same
device and writes are not seen by the sender. ``init_reductions`` registers these reducers with
``ForkingPickler``, as PyTorch's does with its own.

Example::

    >>> from ttorch.multiprocessing.reductions import reduce_tensor
    >>> fn, args = reduce_tensor(ttorch.tensor([1., 2.]))
    >>> fn(*args).tolist()
    [1.0, 2.0]
"""
import weakref
from multiprocessing.reduction import ForkingPickler

__all__ = ["reduce_tensor", "rebuild_tensor", "reduce_storage", "rebuild_storage", "reduce_typed_storage",
           "rebuild_typed_storage", "init_reductions", "StorageWeakRef"]


def rebuild_tensor(cls, array, device, requires_grad):
    from .._tensor import Tensor
    t = Tensor._wrap_np(array).to(device)
    t.requires_grad = requires_grad
    if cls is not Tensor and issubclass(cls, Tensor):
        t = t.as_subclass(cls) if hasattr(t, "as_subclass") else t
    return t


def reduce_tensor(tensor):
    """``(rebuild_tensor, args)``: the tensor's elements (a host copy), device and ``requires_grad``."""
    if tensor.requires_grad and not tensor.is_leaf:
        raise RuntimeError("Cowardly refusing to serialize non-leaf tensor which requires_grad, since autograd "
                           "does not support crossing process boundaries.  If you just want to transfer the data, "
                           "call detach() on the tensor before serializing (e.g., putting it on the queue).")
    fn, args = tensor.__reduce_ex__(2)
    if getattr(tensor, "_is_param", False):       # a Parameter rebuilds as one
        return fn, args
    return rebuild_tensor, (type(tensor), args[0], args[1], args[2])


def rebuild_storage(array, device):
    from .._device import device as _device
    from .._storage import UntypedStorage
    from .._device import CPU
    st = UntypedStorage(CPU, array=array)
    dev = _device(device)
    if dev.type == "cpu":
        return st
    out = UntypedStorage(dev, st.nbytes_)
    return out.copy_(st)


def reduce_storage(storage):
    """``(rebuild_storage, args)``: an ``UntypedStorage``'s bytes (a host copy) and its device."""
    host = storage.cpu().host_array()
    return rebuild_storage, (host.copy(), str(storage.device))


def rebuild_typed_storage(untyped, dtype):
    from .._typed_storage import TypedStorage
    return TypedStorage(wrap_storage=untyped, dtype=dtype, _internal=True)


def reduce_typed_storage(storage):
    return rebuild_typed_storage, (storage.untyped(), storage.dtype)


class StorageWeakRef:
    """A weak reference to a storage (or a tensor's storage), compared through its data pointer."""
    __slots__ = ["cdata", "_ref"]

    def __init__(self, storage):
        st = storage.untyped() if hasattr(storage, "untyped") else storage
        self.cdata = st.data_ptr()
        self._ref = weakref.ref(st)

    @classmethod
    def from_weakref(cls, cdata):
        raise RuntimeError("StorageWeakRef.from_weakref: ttorch storages have no C-level weak references")

    def expired(self):
        return self._ref() is None

    def __hash__(self):
        return self.cdata

    def __eq__(self, other):
        return isinstance(other, StorageWeakRef) and self.cdata == other.cdata


def init_reductions():
    """Register the reducers above with ``ForkingPickler`` for tensors, storages and typed storages."""
    from .._storage import UntypedStorage
    from .._tensor import Tensor
    from .._typed_storage import STORAGE_TYPES, TypedStorage
    from ..nn.parameter import Parameter
    for cls in {Tensor, Parameter} | set(getattr(Tensor, "__subclasses__")()):
        ForkingPickler.register(cls, reduce_tensor)
    ForkingPickler.register(UntypedStorage, reduce_storage)
    for cls in [TypedStorage, *STORAGE_TYPES.values()]:
        ForkingPickler.register(cls, reduce_typed_storage)
