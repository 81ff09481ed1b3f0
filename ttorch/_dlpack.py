"""DLPack: zero-copy exchange of tensors with NumPy, CuPy, JAX, PyTorch... through ctypes.

A producer hands out a PyCapsule named ``"dltensor"`` (or ``"dltensor_versioned"``, DLPack
1.0, when the consumer asks for ``max_version >= (1, 0)``) holding a ``DLManagedTensor``:
shape, strides, dtype, device and a pointer to the memory, plus a ``deleter`` the consumer
calls when it is done. The consumer renames the capsule ``"used_..."`` so that its
destructor leaves the memory alone. Here ``Tensor.__dlpack__`` produces (the structs and
the tensor stay alive in ``_live`` until the deleter runs) and ``ttorch.from_dlpack``
consumes (the memory is wrapped in place; an owner object calls the producer's deleter
when the last ttorch tensor over it goes away).

Devices: cpu tensors are ``kDLCPU``; real cuda tensors ``kDLCUDA`` with their device index.
Simulated cuda tensors (``TRITON_INTERPRET=1``) live in host memory that the simulated GPU
reads: they are exported as ``kDLCUDAHost`` (host memory the CUDA device accesses), which
is what the pointer really is. NumPy accepts it (and shares the memory); ``ttorch`` imports
it back as a simulated cuda tensor, so ``ttorch -> ttorch`` round trips keep the device.
A ``kDLCUDA`` capsule can't be consumed by the simulated device (its pointer would be
real device memory).

The deleter ttorch hands out is a ctypes callback, and a Python callback can't run while an
exception is pending: a consumer that fails on our capsule and calls the deleter with its
own error still set (NumPy does, refusing a bfloat16 capsule) reports a ``SystemError``
instead of its message. The memory is released all the same.
"""
import ctypes

import numpy as np

from . import _dtype as D
from ._storage import UntypedStorage

kDLCPU, kDLCUDA, kDLCUDAHost = 1, 2, 3
kDLInt, kDLUInt, kDLFloat, kDLBfloat, kDLComplex, kDLBool = 0, 1, 2, 4, 5, 6
FLAG_READ_ONLY, FLAG_IS_COPIED = 1, 2
VERSION = (1, 0)

_DEVICE_NAMES = {1: "kDLCPU", 2: "kDLCUDA", 3: "kDLCUDAHost", 4: "kDLOpenCL", 7: "kDLVulkan", 8: "kDLMetal",
                 9: "kDLVPI", 10: "kDLROCM", 11: "kDLROCMHost", 12: "kDLExtDev", 13: "kDLCUDAManaged",
                 14: "kDLOneAPI", 15: "kDLWebGPU", 16: "kDLHexagon", 17: "kDLMAIA"}

_CODES = {D.bool: (kDLBool, 8), D.uint8: (kDLUInt, 8), D.int8: (kDLInt, 8), D.int16: (kDLInt, 16),
          D.int32: (kDLInt, 32), D.int64: (kDLInt, 64), D.float16: (kDLFloat, 16), D.bfloat16: (kDLBfloat, 16),
          D.float32: (kDLFloat, 32), D.float64: (kDLFloat, 64), D.complex64: (kDLComplex, 64),
          D.complex128: (kDLComplex, 128)}
_DTYPES = {v: k for k, v in _CODES.items()}


# ------------------------------------------------------------------------------ the ABI
class DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", DLDevice), ("ndim", ctypes.c_int32), ("dtype", DLDataType),
                ("shape", ctypes.POINTER(ctypes.c_int64)), ("strides", ctypes.POINTER(ctypes.c_int64)),
                ("byte_offset", ctypes.c_uint64)]


_Deleter = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


class DLManagedTensor(ctypes.Structure):
    _fields_ = [("dl_tensor", DLTensor), ("manager_ctx", ctypes.c_void_p), ("deleter", _Deleter)]


class DLPackVersion(ctypes.Structure):
    _fields_ = [("major", ctypes.c_uint32), ("minor", ctypes.c_uint32)]


class DLManagedTensorVersioned(ctypes.Structure):
    _fields_ = [("version", DLPackVersion), ("manager_ctx", ctypes.c_void_p), ("deleter", _Deleter),
                ("flags", ctypes.c_uint64), ("dl_tensor", DLTensor)]


# Python's capsule API with our own prototypes (setting argtypes on ``ctypes.pythonapi``'s
# functions would change them for every other user in the process)
_api = ctypes.pythonapi
_capsule_new = ctypes.PYFUNCTYPE(ctypes.py_object, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p)(
    ("PyCapsule_New", _api))
_capsule_is_valid = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p)(("PyCapsule_IsValid", _api))
_capsule_get_pointer = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p)(
    ("PyCapsule_GetPointer", _api))
_capsule_get_name = ctypes.PYFUNCTYPE(ctypes.c_char_p, ctypes.py_object)(("PyCapsule_GetName", _api))
_capsule_set_name = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.py_object, ctypes.c_void_p)(("PyCapsule_SetName", _api))


def _immortal(obj):
    """Keep ``obj`` alive until the process ends: capsules (and the C names and callbacks
    they point to) may be destroyed during interpreter shutdown, after this module."""
    _api.Py_IncRef(ctypes.py_object(obj))
    return obj


_NAME = _immortal(ctypes.create_string_buffer(b"dltensor"))
_NAME_V = _immortal(ctypes.create_string_buffer(b"dltensor_versioned"))
_USED = _immortal(ctypes.create_string_buffer(b"used_dltensor"))
_USED_V = _immortal(ctypes.create_string_buffer(b"used_dltensor_versioned"))

# ------------------------------------------------------------------------------ producing
_live = {}  # address of an exported managed tensor -> (struct, shape, strides, tensor)


def _release(addr):
    _live.pop(addr, None)


_deleter = _immortal(_Deleter(_release))


@ctypes.CFUNCTYPE(None, ctypes.c_void_p)
def _capsule_destructor(capsule):
    # a capsule nobody consumed still carries its original name: free what it holds
    for name in (b"dltensor", b"dltensor_versioned"):
        if _capsule_is_valid(capsule, name):
            _release(_capsule_get_pointer(capsule, name))


_immortal(_capsule_destructor)
_capsule_get_destructor = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.py_object)(("PyCapsule_GetDestructor", _api))


def _destructors():
    """The capsule destructors, legacy and versioned.

    A destructor may run while the consumer's exception is in flight (NumPy refusing a
    bfloat16 capsule, say); it must save and restore that exception, which a ctypes
    callback can't do. NumPy's own DLPack capsule destructors do exactly what the protocol
    asks of any producer (skip a ``"used_..."`` capsule, else save the error, call
    ``managed->deleter(managed)``, restore the error), so ours borrow them; the ctypes
    destructor above is the fallback where NumPy's can't be had.
    """
    out = []
    for kw in ({}, {"max_version": (1, 0)}):
        try:
            d = _capsule_get_destructor(np.empty(1).__dlpack__(**kw))
        except Exception:
            d = None
        out.append(d or ctypes.cast(_capsule_destructor, ctypes.c_void_p).value)
    return out


_DESTRUCTOR, _DESTRUCTOR_V = _destructors()


def dlpack_device(tensor):
    """``Tensor.__dlpack_device__()``: (device type, device index)."""
    if tensor.device.type == "cpu":
        return (kDLCPU, 0)
    from .cuda import _driver
    return (kDLCUDAHost if _driver.SIMULATED else kDLCUDA, tensor.device.index or 0)


def to_dlpack(tensor, stream=None, max_version=None, dl_device=None, copy=None):
    """``Tensor.__dlpack__``: a capsule sharing ``tensor``'s memory (a copy if ``copy=True``,
    or if ``dl_device`` asks for the cpu and the tensor is on cuda).

    Args:
        stream: the consumer's cuda stream; work on ttorch's stream (the legacy default
            stream, 1 in DLPack's numbering) is synchronized for any other. None on cpu.
        max_version: the highest DLPack version the consumer reads; ``>= (1, 0)`` gives a
            ``"dltensor_versioned"`` capsule, else the legacy ``"dltensor"``.
        dl_device: the device the consumer wants, ``(kDLCPU, 0)`` or the tensor's own.
        copy: True always copies, False never does (BufferError if a copy is needed).
    """
    if tensor.requires_grad:
        raise RuntimeError("Can't export tensors that require gradient, use tensor.detach()")
    if stream is not None and type(stream) is not int:
        raise TypeError("stream must be ``int`` or ``none``")
    t = tensor.detach()
    own = dlpack_device(t)
    copied = False
    if dl_device is not None and (int(dl_device[0]), int(dl_device[1])) != own:
        if int(dl_device[0]) != kDLCPU:
            raise BufferError(f"can't export a {t.device} tensor to DLPack device {tuple(dl_device)}")
        if own[0] == kDLCUDAHost and copy is not True:
            own = (kDLCPU, 0)              # simulated device memory is host memory: share it
        elif copy is False:
            raise BufferError(f"exporting a {t.device} tensor to the cpu needs a copy, but copy=False")
        else:
            t, own, copied = t.cpu(), (kDLCPU, 0), True
    if copy and not copied:
        t, copied = t.clone(), True
    if own[0] == kDLCPU and stream not in (None, -1):
        raise BufferError(f"stream should be None on cpu, got {stream}")
    if own[0] == kDLCUDA and stream not in (None, -1, 1):
        from . import cuda
        cuda.synchronize(t.device)         # ttorch works on the legacy default stream
    versioned = max_version is not None and tuple(max_version)[0] >= 1
    m = DLManagedTensorVersioned() if versioned else DLManagedTensor()
    shape = (ctypes.c_int64 * t.ndim)(*t._shape)
    strides = (ctypes.c_int64 * t.ndim)(*t.stride())
    dl = m.dl_tensor
    dl.data = t.data_ptr()
    dl.device = DLDevice(*own)
    dl.ndim = t.ndim
    dl.dtype = DLDataType(*_CODES[t.dtype], 1)
    dl.shape = shape
    dl.strides = strides
    dl.byte_offset = 0
    m.deleter = _deleter
    if versioned:
        m.version = DLPackVersion(*VERSION)
        read_only = t.device.type == "cpu" and not t._np.flags.writeable
        m.flags = (FLAG_IS_COPIED if copied else 0) | (FLAG_READ_ONLY if read_only else 0)
    addr = ctypes.addressof(m)
    _live[addr] = (m, shape, strides, t)
    return _capsule_new(addr, _NAME_V if versioned else _NAME, _DESTRUCTOR_V if versioned else _DESTRUCTOR)


# ------------------------------------------------------------------------------ consuming
class _Owner:
    """Calls the producer's deleter once the last tensor over the memory is gone."""

    def __init__(self, addr, struct_type):
        self.addr, self.struct_type = addr, struct_type

    def __del__(self):
        try:
            deleter = self.struct_type.from_address(self.addr).deleter
            if deleter:
                deleter(self.addr)
        except Exception:  # interpreter shutdown: nothing left to free into
            pass


class _HostBuffer:
    """The consumed memory as a NumPy array interface; NumPy keeps it (and its owner) as base."""

    def __init__(self, ptr, shape, byte_strides, itemsize, read_only, owner):
        # (raw bytes of the element size, viewed as the dtype after: 16-byte complex128 has no unsigned type)
        typestr = "|u1" if itemsize == 1 else f"<u{itemsize}" if itemsize <= 8 else f"|V{itemsize}"
        self.__array_interface__ = {"data": (ptr, read_only), "shape": tuple(shape), "strides": tuple(byte_strides),
                                    "typestr": typestr, "version": 3}
        self.owner = owner


def from_dlpack(ext_tensor):
    """``ttorch.from_dlpack``: a tensor sharing the memory of any DLPack producer (an object
    with ``__dlpack__``/``__dlpack_device__``) or of a ``"dltensor"`` capsule.

    Example::

        >>> import numpy as np
        >>> a = np.arange(4.0)
        >>> t = ttorch.from_dlpack(a)
        >>> a[0] = 7.0
        >>> t.tolist()
        [7.0, 1.0, 2.0, 3.0]
    """
    if hasattr(ext_tensor, "__dlpack__"):
        kw = {}
        if hasattr(ext_tensor, "__dlpack_device__"):
            dev_type = int(ext_tensor.__dlpack_device__()[0])
            _check_device_type(dev_type)
            if dev_type == kDLCUDA:
                kw["stream"] = 1           # ttorch's stream: the legacy default stream
        try:
            capsule = ext_tensor.__dlpack__(max_version=VERSION, **kw)
        except TypeError:                  # a producer older than DLPack 1.0
            capsule = ext_tensor.__dlpack__(**kw)
    else:
        capsule = ext_tensor
    if type(capsule).__name__ != "PyCapsule":
        raise TypeError(f"from_dlpack: expected an object with __dlpack__ or a DLPack capsule, got "
                        f"{type(ext_tensor).__name__}")
    return _from_capsule(capsule)


def _check_device_type(dev_type):
    from .cuda import _driver
    ok = (kDLCPU, kDLCUDAHost, kDLCUDA) if not _driver.SIMULATED else (kDLCPU, kDLCUDAHost)
    if dev_type not in ok:
        name = _DEVICE_NAMES.get(dev_type, str(dev_type))
        extra = " (the simulated cuda device can't read real device memory)" if dev_type == kDLCUDA else ""
        raise BufferError(f"from_dlpack: Unsupported device_type: {name}{extra}")


def _from_capsule(capsule):
    name = _capsule_get_name(capsule)
    if name not in (b"dltensor", b"dltensor_versioned"):
        raise RuntimeError("from_dlpack received an invalid capsule. Note that DLTensor capsules can be consumed "
                           "only once, so you might have already constructed a tensor from it once.")
    versioned = name == b"dltensor_versioned"
    addr = _capsule_get_pointer(id(capsule), name)
    struct_type = DLManagedTensorVersioned if versioned else DLManagedTensor
    m = struct_type.from_address(addr)
    if versioned and m.version.major > VERSION[0]:
        # only the version, manager_ctx and deleter are readable; the capsule's destructor frees it
        raise BufferError(f"from_dlpack: DLPack version {m.version.major}.{m.version.minor} is newer than "
                          f"{VERSION[0]}.x, which ttorch reads")
    dl = m.dl_tensor
    _check_device_type(dl.device.device_type)
    key = (dl.dtype.code, dl.dtype.bits)
    if dl.dtype.lanes != 1 or key not in _DTYPES:
        raise BufferError(f"from_dlpack: Unsupported DLPack dtype (code={dl.dtype.code}, bits={dl.dtype.bits}, "
                          f"lanes={dl.dtype.lanes})")
    dtype = _DTYPES[key]
    shape = tuple(dl.shape[i] for i in range(dl.ndim))
    if dl.strides:
        strides = tuple(dl.strides[i] for i in range(dl.ndim))
    else:                                  # NULL strides: compact row-major
        from ._tensor import _contig_strides
        strides = _contig_strides(shape)
    read_only = bool(versioned and m.flags & FLAG_READ_ONLY)
    # from here on the memory is ours: the capsule must not free it, our owner will
    _capsule_set_name(capsule, ctypes.addressof(_USED_V if versioned else _USED))
    owner = _Owner(addr, struct_type)
    ptr = (dl.data or 0) + dl.byte_offset
    dev_type, dev_id = dl.device.device_type, dl.device.device_id
    from .cuda import _driver
    if dev_type == kDLCPU or (dev_type == kDLCUDAHost and not _driver.SIMULATED):
        return _host_tensor(ptr, shape, strides, dtype, read_only, owner)
    return _cuda_tensor(ptr, shape, strides, dtype, dev_id, owner)


def _numel(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def _host_tensor(ptr, shape, strides, dtype, read_only, owner):
    from .ops.creation import from_numpy
    from ._tensor import Tensor
    isz = dtype.itemsize
    if _numel(shape) == 0 or not ptr:
        return Tensor._wrap_np(np.empty(shape, dtype.np), dtype)
    a = np.asarray(_HostBuffer(ptr, shape, [s * isz for s in strides], isz, read_only, owner)).view(dtype.np)
    return from_numpy(a)


def _cuda_tensor(ptr, shape, strides, dtype, dev_id, owner):
    from ._device import device
    from ._tensor import Tensor
    from .cuda import _driver
    dev = device("cuda", dev_id)
    if any(s < 0 for s in strides):
        raise BufferError("from_dlpack: tensors with negative strides are not supported")
    isz = dtype.itemsize
    numel = _numel(shape)
    nbytes = (1 + sum((n - 1) * s for n, s in zip(shape, strides))) * isz if numel else 0
    array = None
    if _driver.SIMULATED:                  # host memory the simulated device reads in place
        array = np.asarray(_HostBuffer(ptr, (nbytes,), (1,), 1, False, owner)) if nbytes else \
            np.empty(0, np.uint8)
        ptr = array.__array_interface__["data"][0]
    st = _ExternalStorage(dev, nbytes, ptr, array, owner)
    return Tensor._make(st, shape, strides, 0, dtype)


class _ExternalStorage(UntypedStorage):
    """Device memory owned by another library: never freed here, released through its owner."""

    __slots__ = ("_owner",)

    def __init__(self, device, nbytes, ptr, array, owner):
        self.device = device
        self.version = 0
        self.nbytes_ = nbytes
        self._array = array
        self._ptr = ptr
        self._owner = owner

    def __del__(self):
        pass
