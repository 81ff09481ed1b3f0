"""Reading PyTorch's checkpoints without torch, and without running code: the zip format of
``torch.save`` since 1.6, and the older format of one stream of pickles and raw storages.

The zip holds ``<name>/data.pkl``, a pickle whose tensors are calls to
``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)`` and whose
storages are persistent ids ``("storage", torch.FloatStorage, key, location, numel)`` pointing at
raw little-endian bytes in ``<name>/data/<key>``. The unpickler here resolves only the globals
listed in ``_ALLOWED``; any other global (``os.system``, ``builtins.eval``...) stops the load
before anything is called.
"""
import _compat_pickle
import pickle
import struct
import zipfile
from collections import OrderedDict

import numpy as np

from . import _dtype as D
from ._device import device as _device_t
from ._tensor import Size

__all__ = ["load_torch_zip", "load_torch_legacy"]

# PyTorch's storage classes and the element type each holds
_STORAGE_DTYPES = {"FloatStorage": D.float32, "DoubleStorage": D.float64, "HalfStorage": D.float16,
                   "BFloat16Storage": D.bfloat16, "LongStorage": D.int64, "IntStorage": D.int32,
                   "ShortStorage": D.int16, "CharStorage": D.int8, "ByteStorage": D.uint8, "BoolStorage": D.bool,
                   "UntypedStorage": D.uint8}

# torch.<name> dtype globals (PyTorch pickles torch.float32 as the global "torch.float32")
_TORCH_DTYPES = {d.name: d for d in D.all_dtypes}
_TORCH_DTYPES.update(half=D.float16, float=D.float32, double=D.float64, short=D.int16, int=D.int32, long=D.int64)


# globals the user admits with ttorch.serialization.add_safe_globals: "module.qualname" -> object
USER_GLOBALS = {}


class _StorageType:
    """Stands for ``torch.FloatStorage`` & co inside the pickle: only its element type matters."""

    def __init__(self, name, dtype):
        self.name, self.dtype = name, dtype

    def __repr__(self):
        return f"torch.{self.name}"


class _Storage:
    """One storage of the checkpoint: typed host elements and the location it was saved from."""

    __slots__ = ("array", "location")

    def __init__(self, array, location):
        self.array, self.location = array, location


class _TypeName:
    """Stands for ``torch.Tensor`` or ``nn.Parameter`` as ``_rebuild_from_type_v2``'s argument (not callable)."""

    def __init__(self, name):
        self.name = name


_TENSOR, _PARAMETER = _TypeName("Tensor"), _TypeName("Parameter")


def _check_storage(storage):
    if not isinstance(storage, _Storage):
        raise pickle.UnpicklingError(f"ttorch.load: expected a storage to rebuild a tensor from, "
                                     f"got {type(storage).__name__}")


def _encode_latin1(text, encoding="latin1"):
    # protocol 2 pickles bytes as _codecs.encode(str, "latin1"); nothing else is accepted
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("ttorch.load: _codecs.encode is admitted only to rebuild bytes (latin1)")
    return text.encode("latin1")


class _Unpickler(pickle._Unpickler):
    """An unpickler whose ``find_class`` admits a fixed list of globals and whose BUILD sets
    attributes only on OrderedDicts (a state dict's ``_metadata``): a pickle cannot patch the
    dtypes or classes it was handed. The pure-Python unpickler is the one whose opcodes can be
    overridden; a checkpoint's pickle holds no tensor data, so its speed does not matter.
    """

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, file, read_storage, make_tensor):
        super().__init__(file, encoding="utf-8")
        self._storages = {}                # key -> _Storage: tensors sharing a storage read it once
        self._read_storage = read_storage  # (key, dtype, numel) -> 1-D host array
        self._make_tensor = make_tensor
        self._allowed = {
            "collections.OrderedDict": OrderedDict,
            "builtins.set": set,
            "builtins.frozenset": frozenset,
            "builtins.bytearray": bytearray,
            "_codecs.encode": _encode_latin1,
            "torch.Size": Size,
            "torch.device": _device_t,
            "torch._utils._rebuild_tensor_v2": self._rebuild_tensor_v2,
            "torch._utils._rebuild_tensor": self._rebuild_tensor,
            "torch._utils._rebuild_parameter": self._rebuild_parameter,
            "torch._utils._rebuild_parameter_with_state": self._rebuild_parameter_with_state,
            "torch._tensor._rebuild_from_type_v2": self._rebuild_from_type_v2,
            "torch.Tensor": _TENSOR,
            "torch.nn.parameter.Parameter": _PARAMETER,
        }
        for name, dt in _STORAGE_DTYPES.items():
            self._allowed[f"torch.{name}"] = _StorageType(name, dt)
        self._allowed["torch.storage.UntypedStorage"] = self._allowed["torch.UntypedStorage"]
        for name, dt in _TORCH_DTYPES.items():
            self._allowed[f"torch.{name}"] = dt

    def find_class(self, module, name):
        # protocol 2 names Python 2's modules (__builtin__.set); pickle's own find_class maps them back
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        full = f"{module}.{name}"
        obj = self._allowed.get(full, USER_GLOBALS.get(full))
        if obj is None:
            raise pickle.UnpicklingError(
                f"ttorch.load refused the checkpoint: it asks for the global '{full}', which is not allowed. "
                "ttorch reads PyTorch checkpoints with a restricted unpickler that admits only tensor rebuild "
                "functions, storages, dtypes, torch.Size, torch.device and plain containers, so loading runs "
                "no code from the file. Nothing from it was called. If you trust this global, admit it with "
                f"ttorch.serialization.add_safe_globals([{full}]).")
        return obj

    def _load_build(self):
        # the instance sits below its state: a class the user trusts gets pickle's own BUILD
        if len(self.stack) > 1 and type(self.stack[-2]) in USER_GLOBALS.values():
            return pickle._Unpickler.load_build(self)
        state = self.stack.pop()
        inst = self.stack[-1]
        if type(inst) is not OrderedDict or not isinstance(state, dict) or \
                not all(isinstance(k, str) for k in state):
            raise pickle.UnpicklingError(f"ttorch.load refused the checkpoint: it sets the state of a "
                                         f"{type(inst).__name__}; only an OrderedDict's attributes may be set")
        inst.__dict__.update(state)

    dispatch[pickle.BUILD[0]] = _load_build

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)) or self._read_storage is None:
            raise pickle.UnpicklingError(f"ttorch.load: unsupported persistent id {pid!r:.200}")
        _, stype, key, location, numel = pid[:5]
        cached = self._storages.get(key)
        if cached is None:
            cached = self._storages[key] = _Storage(self._read_storage(str(key), stype.dtype, numel), str(location))
        view = pid[5] if len(pid) > 5 else None   # the legacy format's storage views: (key, offset, size)
        if view is not None and cached.array is not None:
            view_key, offset, size = view
            if view_key not in self._storages:
                self._storages[view_key] = _Storage(cached.array[int(offset):int(offset) + int(size)],
                                                    cached.location)
            cached = self._storages[view_key]
        return cached

    # --- the rebuild calls PyTorch pickles tensors and parameters as ---
    def _rebuild_tensor_v2(self, storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                           metadata=None):
        _check_storage(storage)
        if storage.array is None:      # the legacy format's first pass: storages not read yet
            return None
        return self._make_tensor(_strided(storage.array, storage_offset, size, stride), storage.location,
                                 bool(requires_grad), False)

    def _rebuild_tensor(self, storage, storage_offset, size, stride):
        return self._rebuild_tensor_v2(storage, storage_offset, size, stride)

    def _rebuild_parameter(self, data, requires_grad, backward_hooks, state=None):
        from ._tensor import Tensor
        if data is None and self._make_tensor is None:
            return None
        if not isinstance(data, Tensor):
            raise pickle.UnpicklingError("ttorch.load: _rebuild_parameter expects a tensor")
        out = data.detach()
        out.requires_grad_(bool(requires_grad))
        out._is_param = True
        return out

    def _rebuild_parameter_with_state(self, data, requires_grad, backward_hooks, state):
        return self._rebuild_parameter(data, requires_grad, backward_hooks)

    def _rebuild_from_type_v2(self, func, new_type, args, state):
        if func not in (self._rebuild_tensor_v2, self._rebuild_tensor, self._rebuild_parameter) or \
                new_type not in (_TENSOR, _PARAMETER):
            raise pickle.UnpicklingError(f"ttorch.load: cannot rebuild a tensor of type {new_type!r}")
        out = func(*args)
        if out is None or new_type is _TENSOR:
            return out
        return self._rebuild_parameter(out, out.requires_grad, None)


def _strided(array, offset, size, stride):
    """The elements of a view (offset, size, stride) over a 1-D storage array, as a fresh C-contiguous copy."""
    offset, size, stride = int(offset), tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if len(size) != len(stride) or min(size, default=1) < 0 or min(stride, default=0) < 0 or offset < 0:
        raise pickle.UnpicklingError(f"ttorch.load: bad tensor geometry size={size} stride={stride}")
    if 0 in size:
        return np.empty(size, array.dtype)
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= array.size:
        raise pickle.UnpicklingError(f"ttorch.load: a tensor of size {size}, stride {stride}, offset {offset} "
                                     f"reads past its storage of {array.size} elements")
    base = array[offset:]
    view = np.lib.stride_tricks.as_strided(base, size, tuple(s * array.itemsize for s in stride), writeable=False)
    return np.array(view, order="C")


def load_torch_zip(fileobj, restore, tensor_from):
    """The object in PyTorch zip checkpoint ``fileobj``; ``restore(location, nbytes)`` picks devices."""
    with zipfile.ZipFile(fileobj) as zf:
        names = zf.namelist()
        pkl = [n for n in names if n == "data.pkl" or n.endswith("/data.pkl")]
        if not pkl:
            raise pickle.UnpicklingError("ttorch.load: a zip file without data.pkl is not a PyTorch checkpoint")
        prefix = min(pkl, key=len)[:-len("data.pkl")]
        big_endian = False
        if prefix + "byteorder" in names:
            big_endian = zf.read(prefix + "byteorder").strip() == b"big"

        def read_storage(key, dtype, numel):
            raw = zf.read(f"{prefix}data/{key}")
            if len(raw) % dtype.itemsize:
                raise pickle.UnpicklingError(f"ttorch.load: storage {key} holds {len(raw)} bytes, not a whole "
                                             f"number of {dtype} elements")
            arr = np.frombuffer(raw, dtype=dtype.np)
            if big_endian and dtype.itemsize > 1:   # (ml_dtypes' bfloat16 has no byte-order variant)
                arr = arr.view(f"u{dtype.itemsize}").byteswap().view(dtype.np)
            return arr

        with zf.open(prefix + "data.pkl") as fh:
            return _Unpickler(fh, read_storage, _tensor_maker(restore, tensor_from)).load()


def _tensor_maker(restore, tensor_from):
    def make_tensor(array, location, requires_grad, param):
        dtype = D._BY_NP.get(array.dtype) or D.from_numpy_dtype(array.dtype)
        return tensor_from(array, dtype, location, restore, requires_grad, param)
    return make_tensor


_LEGACY_MAGIC = 0x1950a86a20f9469cfc6c


def load_torch_legacy(fileobj, restore, tensor_from):
    """The object in a checkpoint of PyTorch's format before 1.6 (``_use_new_zipfile_serialization=False``):
    pickles of a magic number, a version and system info, the object, the storage keys, then each
    storage as an int64 element count and its raw bytes.
    """
    def plain():   # the small pickles around the object: plain data, no storages
        return _Unpickler(fileobj, None, None).load()

    if plain() != _LEGACY_MAGIC:
        raise pickle.UnpicklingError("ttorch.load: this is a bare pickle, not a ttorch, safetensors or PyTorch "
                                     "checkpoint; ttorch does not unpickle arbitrary objects")
    version = plain()
    if version != 1001:
        raise RuntimeError(f"ttorch.load: unsupported PyTorch legacy format version {version!r}")
    info = plain()
    if not isinstance(info, dict):
        raise pickle.UnpicklingError("ttorch.load: corrupt PyTorch legacy checkpoint (no system info)")
    order = "<" if info.get("little_endian", True) else ">"
    start = fileobj.tell()
    dtypes = {}

    def record(key, dtype, numel):     # the first pass only learns each storage's element type
        dtypes[key] = dtype

    _Unpickler(fileobj, record, None).load()
    arrays = {}
    for key in plain():
        key = str(key)
        if key not in dtypes:
            raise pickle.UnpicklingError(f"ttorch.load: storage {key} is not used by the checkpoint's object")
        dtype = dtypes[key]
        (numel,) = struct.unpack(order + "q", fileobj.read(8))
        raw = fileobj.read(numel * dtype.itemsize)
        if numel < 0 or len(raw) != numel * dtype.itemsize:
            raise pickle.UnpicklingError(f"ttorch.load: storage {key} is truncated")
        arr = np.frombuffer(raw, dtype=dtype.np)
        if order == ">" and dtype.itemsize > 1:
            arr = arr.view(f"u{dtype.itemsize}").byteswap().view(dtype.np)
        arrays[key] = arr
    fileobj.seek(start)            # second pass: the object again, now with its storages
    return _Unpickler(fileobj, lambda key, dtype, numel: arrays[key], _tensor_maker(restore, tensor_from)).load()
