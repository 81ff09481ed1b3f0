"""``ttorch.save`` and ``ttorch.load``: tensors in the safetensors format, structure as JSON.

A file is a plain safetensors file: the tensors are its entries (named after where they sit in
the saved object, e.g. ``fc.weight`` or ``state.0.exp_avg``, so other tools read them), and the
object around them (dicts with any keys, lists, tuples, numbers, strings, dtypes, devices...) is
JSON in the header's ``__metadata__``. Loading parses JSON and copies bytes: it runs no code.
Tensors are stored contiguous, one entry per tensor object: a tensor saved twice loads as one
object, but distinct views of one storage load as separate tensors (PyTorch keeps them sharing).

``load`` also reads plain safetensors files (a dict of tensors) and PyTorch's checkpoints
(``.pt``/``.pth``/``.bin``, zip or pre-1.6 format) through a restricted unpickler
(``ttorch/_torch_pickle.py``).
"""
import base64
import io
import json
import math
import os
import pickle
import secrets
import struct
from collections import OrderedDict

import numpy as np

from . import _dtype as D
from ._device import CPU, device as _device_t
from ._tensor import Tensor, Size

__all__ = ["save", "load", "add_safe_globals", "get_safe_globals", "clear_safe_globals", "safe_globals"]

_FORMAT = "ttorch"      # the __metadata__ key holding the structure
_VERSION = 1

# safetensors' dtype names; the NumPy API writes BF16 from ml_dtypes' bfloat16 but cannot read it back
_ST_DTYPES = {"F64": D.float64, "F32": D.float32, "F16": D.float16, "BF16": D.bfloat16, "I64": D.int64,
              "I32": D.int32, "I16": D.int16, "I8": D.int8, "U8": D.uint8, "BOOL": D.bool, "C64": D.complex64,
              "F8_E4M3": D.float8_e4m3fn, "F8_E5M2": D.float8_e5m2, "F8_E4M3FNUZ": D.float8_e4m3fnuz,
              "F8_E5M2FNUZ": D.float8_e5m2fnuz, "F8_E8M0": D.float8_e8m0fnu, "U16": D.uint16, "U32": D.uint32,
              "U64": D.uint64}


# ---------------------------------------------------------------------------------------- save
class _Encoder:
    """Turns an object into JSON-able data, collecting its tensors (deduplicated by identity)."""

    def __init__(self):
        self.arrays = {}        # safetensors entry name -> contiguous host array
        self.by_id = {}         # id(tensor or ndarray) -> entry name
        self.keep = []          # keeps encoded objects alive so ids stay unique

    def _name(self, path):
        name = ".".join(path) or "tensor"
        base, n = name, 1
        while name in self.arrays or name == "__metadata__":
            name, n = f"{base}#{n}", n + 1
        return name

    def _array(self, a, path):
        name = self.by_id.get(id(a[0]))
        if name is None:
            name = self._name(path)
            self.arrays[name] = np.asarray(a[1], order="C")   # (ascontiguousarray makes 0-d arrays 1-d)
            self.by_id[id(a[0])] = name
            self.keep.append(a[0])
        return name

    def encode(self, obj, path=()):
        t = type(obj)
        if obj is None or t is bool or t is str or t is int:
            return obj
        if t is float:
            return obj if math.isfinite(obj) else {"_": "float", "v": repr(obj)}
        if getattr(obj, "is_quantized", False) is True:    # a QuantizedTensor: its integers and its qparams
            return {"_": "qtensor", "dtype": obj.dtype.name, "scheme": obj._scheme.name, "axis": obj._axis,
                    "int": self._tensor(obj._int, path), "scale": self.encode(obj._scale, path + ("scale",)),
                    "zp": self.encode(obj._zp, path + ("zero_point",))}
        if isinstance(obj, Tensor):
            return self._tensor(obj, path)
        if t is list:
            return [self.encode(v, path + (str(i),)) for i, v in enumerate(obj)]
        if t is tuple or t is Size:
            return {"_": "tuple" if t is tuple else "size", "v": [self.encode(v, path + (str(i),))
                                                                  for i, v in enumerate(obj)]}
        if t is dict or t is OrderedDict:
            return self._dict(obj, path)
        if t is set or t is frozenset:
            return {"_": t.__name__, "v": [self.encode(v, path) for v in obj]}
        if isinstance(obj, D.dtype):
            return {"_": "dtype", "v": obj.name}
        if type(obj).__name__ == "_QDtype":     # ttorch.qint8...
            return {"_": "qdtype", "v": obj.name}
        if isinstance(obj, _device_t):
            return {"_": "device", "v": str(obj)}
        if t is bytes or t is bytearray:
            return {"_": t.__name__, "v": base64.b64encode(obj).decode("ascii")}
        if t is complex:
            return {"_": "complex", "v": [self.encode(obj.real), self.encode(obj.imag)]}
        if isinstance(obj, np.ndarray) and obj.dtype in D._BY_NP:
            return {"_": "ndarray", "key": self._array((obj, obj), path)}
        if isinstance(obj, np.generic) and obj.dtype in D._BY_NP:
            return {"_": "npscalar", "key": self._array((obj, np.asarray(obj)), path)}
        hint = " Save its state_dict() instead." if hasattr(obj, "state_dict") else ""
        raise TypeError(f"ttorch.save cannot store an object of type {t.__module__}.{t.__qualname__}: it stores "
                        "tensors, dtypes, devices and plain Python values (None, bool, int, float, complex, str, "
                        f"bytes) in dicts, lists, tuples and sets, as data rather than pickle.{hint}")

    def _tensor(self, t, path):
        from .nn.parameter import UninitializedParameter, is_lazy
        if is_lazy(t):  # a lazy module's: no data; what PyTorch's pickle keeps (__reduce_ex__), its requires_grad
            kind = "parameter" if isinstance(t, UninitializedParameter) else "buffer"
            return {"_": "uninitialized", "kind": kind, "requires_grad": t.requires_grad}
        name = self.by_id.get(id(t))
        if name is None:
            a = t.detach()._host()
            if t.dtype is D.complex128:     # (safetensors has C64 only: stored as its float64 (re, im) pairs)
                a = np.ascontiguousarray(a).view(np.float64).reshape(a.shape + (2,))
            name = self._array((t, a), path)
        out = {"_": "tensor", "key": name, "dtype": t.dtype.name, "device": str(t.device)}
        if t.requires_grad:
            out["requires_grad"] = True
        if getattr(t, "_is_param", False):
            out["param"] = True
        return out

    def _dict(self, d, path):
        out = {"_": "dict" if type(d) is dict else "odict"}
        if all(type(k) is str for k in d):
            out["v"] = {k: self.encode(v, path + (k,)) for k, v in d.items()}
        else:  # JSON keys are strings: keep other keys (optimizer state's ints) with their types
            out["items"] = [[self.encode(k), self.encode(v, path + (str(k),))] for k, v in d.items()]
        meta = getattr(d, "_metadata", None)   # Module.state_dict's versions, kept as PyTorch keeps them
        if meta is not None:
            out["meta"] = self.encode(meta)
        return out


def _atomic_write(path, write):
    """Call ``write(tmp_path)``, then make the result ``path`` atomically: fsync, rename, fsync folder."""
    path = os.path.realpath(os.fspath(path))     # through a symlink to its target, as open() writes
    folder = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    # O_EXCL: a fresh file whose mode follows the umask, as open(path, "wb") would give
    os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDWR)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # the rename itself is durable once the folder is synced
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:  # some file systems refuse fsync on a folder
        pass


def save(obj, f, pickle_module=None, pickle_protocol=2, _use_new_zipfile_serialization=True,
         _disable_byteorder_record=False):
    r"""Save an object to a file: tensors in the safetensors format, the rest as JSON.

    Args:
        obj: tensors, state dicts, optimizer state: dicts (any keys), lists, tuples and sets of
            tensors, dtypes, devices, NumPy arrays and plain Python values.
        f: a path (``str`` or ``os.PathLike``), written atomically, or a writable binary file object.
        pickle_module, pickle_protocol: accepted for PyTorch compatibility; nothing is pickled.

    Example::

        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "t.pt")
        >>> ttorch.save({"w": ttorch.ones(2)}, path)
        >>> ttorch.load(path)["w"]
        tensor([1., 1.])
    """
    from safetensors import numpy as st_np
    enc = _Encoder()
    structure = enc.encode(obj)
    meta = {"format": "pt", _FORMAT: json.dumps({"version": _VERSION, "obj": structure}, allow_nan=False)}
    if isinstance(f, (str, os.PathLike)):
        _atomic_write(f, lambda tmp: st_np.save_file(enc.arrays, tmp, metadata=meta))
    else:
        f.write(st_np.save(enc.arrays, metadata=meta))
        if hasattr(f, "flush"):
            f.flush()


# ---------------------------------------------------------------------------------------- load
def add_safe_globals(safe_globals):
    """Admit globals (classes, functions) in PyTorch checkpoints that :func:`load` reads.

    ttorch's own files never need this; a PyTorch checkpoint holding, say, an ``argparse.Namespace``
    does. Entries are objects or ``(object, "module.name")`` pairs, as in PyTorch.
    """
    from ._torch_pickle import USER_GLOBALS
    for g in safe_globals:
        if isinstance(g, tuple):
            g, name = g
        else:
            name = f"{g.__module__}.{g.__qualname__}"
        USER_GLOBALS[name] = g


def get_safe_globals():
    from ._torch_pickle import USER_GLOBALS
    return list(USER_GLOBALS.values())


def clear_safe_globals():
    from ._torch_pickle import USER_GLOBALS
    USER_GLOBALS.clear()


class safe_globals:
    """Context manager admitting ``safe_globals`` (see :func:`add_safe_globals`) inside its block."""

    def __init__(self, safe_globals):
        self.safe_globals = safe_globals

    def __enter__(self):
        from ._torch_pickle import USER_GLOBALS
        self._saved = dict(USER_GLOBALS)
        add_safe_globals(self.safe_globals)

    def __exit__(self, *exc):
        from ._torch_pickle import USER_GLOBALS
        USER_GLOBALS.clear()
        USER_GLOBALS.update(self._saved)


class _MapStorage:
    """What a callable ``map_location`` receives: a cpu storage stand-in; moving it says where to go."""

    def __init__(self, nbytes, device=CPU):
        self._nbytes = nbytes
        self.device = _device_t(device)

    def nbytes(self):
        return self._nbytes

    size = nbytes

    def cpu(self):
        return _MapStorage(self._nbytes, CPU)

    def cuda(self, device=None, non_blocking=False):
        if isinstance(device, int):
            device = f"cuda:{device}"
        return _MapStorage(self._nbytes, device or "cuda")

    def to(self, device, non_blocking=False):
        return _MapStorage(self._nbytes, device)


def _default_restore(location):
    """The device named by ``location`` (``"cpu"``, ``"cuda:1"``), checked as PyTorch checks it."""
    dev = _device_t(str(location))
    if dev.type == "cuda":
        from . import cuda
        if not cuda.is_available():
            raise RuntimeError("Attempting to deserialize object on a CUDA device but ttorch.cuda.is_available() is "
                               "False. If you are running on a CPU-only machine, please use ttorch.load with "
                               "map_location=ttorch.device('cpu') to map your storages to the CPU.")
        index = dev.index if dev.index is not None else cuda.current_device()
        count = cuda.device_count()
        if index >= count:
            raise RuntimeError(f"Attempting to deserialize object on CUDA device {index} but "
                               f"ttorch.cuda.device_count() is {count}. Please use ttorch.load with map_location "
                               "to map your storages to an existing device.")
        dev = _device_t("cuda", index)
    return dev


def _restorer(map_location):
    """``restore(location, nbytes) -> device`` following ``map_location`` as PyTorch interprets it."""
    if map_location is None:
        return lambda loc, nbytes: _default_restore(loc)
    if isinstance(map_location, (str, _device_t)):
        return lambda loc, nbytes: _default_restore(str(map_location))
    if isinstance(map_location, dict):
        table = {str(k): str(v) for k, v in map_location.items()}
        return lambda loc, nbytes: _default_restore(table.get(loc, loc))
    if callable(map_location):
        def restore(loc, nbytes):
            out = map_location(_MapStorage(nbytes), loc)
            if out is None:
                return _default_restore(loc)
            if isinstance(out, _MapStorage):
                return _default_restore(str(out.device))
            raise TypeError(f"map_location should return a storage or None, got {type(out).__name__}")
        return restore
    raise ValueError(f"map_location should be either None, a string, a ttorch.device, a dict or a callable, "
                     f"got {type(map_location).__name__}")


def _tensor_from(array, dtype, location, restore, requires_grad=False, param=False):
    """A tensor holding ``array``'s values on the device ``restore`` picks for ``location``."""
    dev = restore(location, array.nbytes)
    if not array.flags.writeable or not array.flags.c_contiguous:
        array = np.array(array, order="C")
    t = Tensor._wrap_np(array, dtype)
    if dev != CPU:
        t = t.to(dev)
    if requires_grad:
        t.requires_grad = True
    if param:
        t._is_param = True
    return t


def _read_safetensors(data):
    """(entries, metadata) of safetensors bytes: entries name -> host array, in file order."""
    from safetensors import deserialize, SafetensorError
    (n,) = struct.unpack("<Q", data[:8])
    try:
        header = json.loads(bytes(data[8:8 + n]))
        metadata = header.pop("__metadata__", None) or {}
        raw = dict(deserialize(bytes(data)))   # validates offsets and sizes
    except (ValueError, SafetensorError) as e:
        raise pickle.UnpicklingError(f"ttorch.load: corrupt safetensors file ({e})") from None
    entries = {}
    for name in sorted(header, key=lambda k: header[k]["data_offsets"][0]):
        info = raw[name]
        dt = _ST_DTYPES.get(info["dtype"])
        if dt is None:
            raise TypeError(f"ttorch.load: tensor '{name}' has safetensors dtype {info['dtype']}, which ttorch "
                            f"lacks (supported: {', '.join(_ST_DTYPES)})")
        entries[name] = (np.frombuffer(info["data"], dtype=dt.np).reshape(info["shape"]), dt)
    return entries, metadata


class _Decoder:
    def __init__(self, entries, restore, weights_only=True):
        self.entries = entries
        self.restore = restore
        self.weights_only = weights_only
        self.tensors = {}      # entry name -> loaded tensor: one object per saved object, as pickle's memo

    def decode(self, x):
        if x is None or isinstance(x, (bool, int, float, str)):
            return x
        if isinstance(x, list):
            return [self.decode(v) for v in x]
        tag = x["_"]
        if tag == "tensor":
            t = self.tensors.get(x["key"])
            if t is None:
                arr, _ = self.entries[x["key"]]
                if x["dtype"] == "complex128" and arr.dtype == np.float64:
                    arr = np.ascontiguousarray(arr).view(np.complex128).reshape(arr.shape[:-1])
                t = _tensor_from(arr, D._BY_NAME[x["dtype"]], x["device"], self.restore,
                                 x.get("requires_grad", False), x.get("param", False))
                self.tensors[x["key"]] = t
            return t
        if tag == "uninitialized":
            return self._uninitialized(x)
        if tag in ("qtensor", "qdtype"):
            from . import _quantized as Q
            if tag == "qdtype":
                return getattr(Q, x["v"])
            return Q.QuantizedTensor._make(self.decode(x["int"]), getattr(Q, x["dtype"]), getattr(Q, x["scheme"]),
                                           self.decode(x["scale"]), self.decode(x["zp"]), x["axis"])
        if tag in ("dict", "odict"):
            d = {} if tag == "dict" else OrderedDict()
            if "v" in x:
                for k, v in x["v"].items():
                    d[k] = self.decode(v)
            else:
                for k, v in x["items"]:
                    d[self._key(k)] = self.decode(v)
            if "meta" in x:
                d = OrderedDict(d) if tag == "dict" else d
                d._metadata = self.decode(x["meta"])
            return d
        if tag == "tuple":
            return tuple(self.decode(v) for v in x["v"])
        if tag in ("size", "set", "frozenset"):   # elements hashable, as saved
            return {"size": Size, "set": set, "frozenset": frozenset}[tag](self._key(v) for v in x["v"])
        if tag == "float":
            return float(x["v"])
        if tag == "complex":
            return complex(self.decode(x["v"][0]), self.decode(x["v"][1]))
        if tag == "dtype":
            return D._BY_NAME[x["v"]]
        if tag == "device":
            return _device_t(x["v"])
        if tag in ("bytes", "bytearray"):
            b = base64.b64decode(x["v"])
            return b if tag == "bytes" else bytearray(b)
        if tag in ("ndarray", "npscalar"):
            arr, dt = self.entries[x["key"]]
            arr = np.array(arr)
            return arr if tag == "ndarray" else arr[()]
        raise pickle.UnpicklingError(f"ttorch.load: unknown entry kind {tag!r} (a file from a newer ttorch?)")

    def _uninitialized(self, x):
        """A lazy module's uninitialized tensor. PyTorch pickles it as its class, which weights_only
        loading refuses unless the class is admitted (add_safe_globals): the same rule here."""
        from .nn import parameter
        from ._torch_pickle import USER_GLOBALS
        cls = parameter.UninitializedParameter if x["kind"] == "parameter" else parameter.UninitializedBuffer
        if self.weights_only and not any(g is cls for g in USER_GLOBALS.values()):
            name = f"ttorch.nn.parameter.{cls.__name__}"
            raise pickle.UnpicklingError(
                f"Weights only load failed: the file holds a {name} (a lazy module's state before its first "
                f"call), which weights_only=True does not admit by default, as in PyTorch. Nothing in the file runs "
                f"either way: re-run ttorch.load with weights_only=False, or admit it with "
                f"ttorch.serialization.add_safe_globals([{name}]).")
        return cls(requires_grad=x["requires_grad"])

    def _key(self, k):
        k = self.decode(k)
        return tuple(k) if isinstance(k, list) else k   # hashable, as saved


def _read_all(f):
    if isinstance(f, (str, os.PathLike)):
        with open(f, "rb") as fh:
            return fh.read()
    data = f.read()
    return data if isinstance(data, (bytes, bytearray)) else bytes(data)


def _is_safetensors(data):
    if len(data) < 10:
        return False
    (n,) = struct.unpack("<Q", data[:8])
    return 2 <= n <= len(data) - 8 and data[8:9] == b"{"


def load(f, map_location=None, pickle_module=None, *, weights_only=True, mmap=None, **pickle_load_args):
    r"""Load an object saved with :func:`save`, a safetensors file, or a PyTorch checkpoint.

    Nothing in the file runs: ttorch files are JSON and raw tensor bytes, and PyTorch's
    checkpoints go through an unpickler that admits only tensor-rebuild calls, storages, dtypes,
    plain containers and what :func:`add_safe_globals` admits (``weights_only=False`` reads them
    the same way: ttorch never unpickles arbitrary objects).

    Args:
        f: a path (``str`` or ``os.PathLike``) or a readable binary file object.
        map_location: where tensors go: ``None`` (the device they were saved from), a device or
            string, a dict mapping saved locations to new ones (``{"cuda:1": "cuda:0"}``), or a
            callable ``(storage, location) -> storage or None``.
        weights_only: as PyTorch's, ``True`` refuses the uninitialized parameters of a lazy module's
            state dict (unless admitted with :func:`add_safe_globals`); ``False`` loads them.
        mmap, pickle_module: accepted for PyTorch compatibility.

    Example::

        >>> buf = io.BytesIO()
        >>> ttorch.save([ttorch.arange(3), {1: "one"}], buf)
        >>> _ = buf.seek(0)
        >>> ttorch.load(buf, map_location="cpu")
        [tensor([0, 1, 2]), {1: 'one'}]
    """
    restore = _restorer(map_location)
    data = _read_all(f)
    if data[:4] == b"PK\x03\x04":
        from ._torch_pickle import load_torch_zip
        return load_torch_zip(io.BytesIO(data), restore, _tensor_from)
    if _is_safetensors(data):
        entries, metadata = _read_safetensors(data)
        if _FORMAT not in metadata:     # written by another tool: its tensors, by name
            return {name: _tensor_from(arr, dt, "cpu", restore) for name, (arr, dt) in entries.items()}
        doc = json.loads(metadata[_FORMAT])
        if doc.get("version", 0) > _VERSION:
            raise RuntimeError(f"ttorch.load: file format version {doc['version']} is newer than this ttorch "
                               f"reads ({_VERSION}); upgrade ttorch")
        try:
            return _Decoder(entries, restore, weights_only is not False).decode(doc["obj"])
        except (KeyError, IndexError, AttributeError) as e:   # a header edited by hand, or damaged
            raise pickle.UnpicklingError(f"ttorch.load: corrupt ttorch structure ({type(e).__name__}: {e})") from None
    if data[:1] == b"\x80":        # a pickle: PyTorch's format from before 1.6 starts with its magic number
        from ._torch_pickle import load_torch_legacy
        return load_torch_legacy(io.BytesIO(data), restore, _tensor_from)
    raise pickle.UnpicklingError("ttorch.load: not a ttorch, safetensors or PyTorch zip file "
                                 f"(it starts with {bytes(data[:8])!r})")
