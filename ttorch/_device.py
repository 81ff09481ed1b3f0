"""``ttorch.device``: where a tensor's memory lives, ``cpu`` (NumPy) or ``cuda[:N]`` (Triton)."""


class device:
    """A device: ``device("cpu")``, ``device("cuda")``, ``device("cuda:1")``, ``device("cuda", 0)``."""

    __slots__ = ("type", "index")

    def __new__(cls, type, index=None):
        if isinstance(type, device):
            return type
        if isinstance(type, int):
            type, index = "cuda", type
        if not isinstance(type, str):
            raise TypeError(f"device() expected a string or int, got {type.__class__.__name__}")
        key = (type, index)
        cached = _CACHE.get(key)
        if cached is not None:
            return cached
        name = type
        if ":" in type:
            if index is not None:
                raise ValueError(f"type (string) must not include an index because index was passed explicitly: {type}")
            name, _, idx = type.partition(":")
            if not idx.isdigit():
                raise RuntimeError(f"Invalid device string: '{type}'")
            index = int(idx)
        if name not in ("cpu", "cuda"):
            raise RuntimeError(f"Expected one of cpu, cuda device type at start of device string: {type}")
        if name == "cpu" and index not in (None, 0):
            raise RuntimeError(f"CPU device index must be -1 or zero, got {index}")
        # one object per device: device("cuda:0") is device("cuda", 0), so identity is equality
        # and the hash is the C-level identity hash (graph metadata hashes devices per op)
        self = _CACHE.get((name, index))
        if self is None:
            self = object.__new__(cls)
            object.__setattr__(self, "type", name)
            object.__setattr__(self, "index", index)
            _CACHE[(name, index)] = self
        _CACHE[key] = self
        return self

    def __setattr__(self, k, v):
        raise AttributeError("device is immutable")

    def __repr__(self):
        return f"device(type='{self.type}')" if self.index is None else f"device(type='{self.type}', index={self.index})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other):
        if other is self:
            return True
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and self.type == other.type and self.index == other.index

    __hash__ = object.__hash__      # devices are unique objects (see __new__)

    def __reduce__(self):
        return (device, (str(self),))

    def __enter__(self):
        """``with ttorch.device("cuda"):``: factories without a ``device`` make their tensors here."""
        _ENTERED.append(_DEFAULT[0])
        _DEFAULT[0] = self
        return self

    def __exit__(self, *exc):
        _DEFAULT[0] = _ENTERED.pop()


_CACHE = {}
CPU = device("cpu")
_DEFAULT = [CPU]        # where factories put tensors when given no device (set_default_device)
_ENTERED = []           # the defaults that ``with device(...)`` blocks replaced


def set_default_device(device):
    """Where factory functions (``zeros``, ``randn``, ``tensor``..., and so modules' parameters) put
    tensors when given no ``device``; None for the cpu again."""
    _DEFAULT[0] = CPU if device is None else globals()["device"](device)


def get_default_device():
    """The device factories use when given none (``set_default_device``), with its index."""
    return _canonical(None)


def _canonical(d):
    """The device a tensor records: ``cuda`` without an index means the current cuda device."""
    if d is None:
        d = _DEFAULT[0]                 # (the cpu unless set_default_device; "cuda" resolved below)
        if d is CPU:
            return d
    if type(d) is not device:
        d = device(d)
    if d.index is None and d.type == "cuda":    # (every creation call with device="cuda" comes here)
        cur = _CUDA_CURRENT[0]
        if cur is None:
            from .cuda import _current
            cur = _CUDA_CURRENT[0] = _current     # ttorch.cuda's current index, a one-item list
        d = device("cuda", cur[0])
    return d


_CUDA_CURRENT = [None]
