"""Untyped storage: the bytes behind tensors. Views share one storage and its version counter.

* cpu: a 1-D ``uint8`` NumPy array; tensors read it through ``np.ndarray(buffer=...)`` views.
* cuda, simulated: the same, on the host, so Triton's interpreter reads it in place.
* cuda, real: a device pointer from the cuda backend's cache in front of ``cuMemAllocAsync``.
"""
import numpy as np

from ._device import CPU, device as _Device
from .cuda import _driver


class UntypedStorage:
    __slots__ = ("device", "nbytes_", "version", "_array", "_p", "__weakref__")

    def __init__(self, dev=None, nbytes=0, array=None, **kwargs):
        if type(dev) is not _Device:      # PyTorch's UntypedStorage(size=0 | sequence, *, device=None)
            from .storage import _public_init
            return _public_init(self, dev, **kwargs)
        self.device = device = dev
        self.version = 0
        self._p = None                     # host arrays: the address is read on first use
        if array is not None:              # adopt host bytes (cpu, or simulated cuda)
            self._array = array
            self.nbytes_ = array.nbytes
            return
        if device.type == "cpu":
            self.nbytes_ = nbytes
            self._array = np.empty(nbytes, dtype=np.uint8)
        else:
            # every cuda op's output comes through here: the backend read once (it exists once a
            # storage has); it keeps the allocator's statistics (cuda/_stats.py)
            be = _driver._backend or _driver.backend()
            if _driver.SIMULATED:
                self._array = be.alloc_array(nbytes, device.index)
            else:
                self._array = None
                self._p = be.malloc(nbytes, device.index)
            self.nbytes_ = nbytes       # (only now: __del__ of a failed allocation must free nothing)
            if _driver.RECORDING[0] is not None:     # a call recorded for a plan: its intermediates
                _driver.ALLOCATED.add(id(self))

    @property
    def _ptr(self):
        """The address of the first byte (cpu tensors make storages often; most never need it)."""
        p = self._p
        if p is None:
            p = self._p = self._array.__array_interface__["data"][0]
        return p

    @_ptr.setter
    def _ptr(self, value):
        self._p = value

    def __del__(self):
        dev = self.device
        if dev.type == "cuda":
            try:
                _driver._backend.free(self._p, dev.index, self.nbytes_)
            except Exception:  # interpreter shutdown: the driver may already be gone
                pass

    # --- the part of PyTorch's storage API that Triton's interpreter uses ---
    def data_ptr(self):
        return self._ptr

    def nbytes(self):
        return self.nbytes_

    def size(self):
        return self.nbytes_

    def cpu(self):
        if self._array is not None:
            return self
        out = UntypedStorage(CPU, self.nbytes_)
        _driver.backend().dtoh(out._ptr, self._ptr, self.nbytes_, self.device.index)
        return out

    def copy_(self, other):
        if other is self or other._ptr == self._ptr:
            return self
        n = min(self.nbytes_, other.nbytes_)
        if self._array is not None and other._array is not None:
            self._array[:n] = other._array[:n]
        elif self._array is None and other._array is not None:
            _driver.backend().htod(self._ptr, other._ptr, n, self.device.index)
        elif self._array is not None:
            _driver.backend().dtoh(self._ptr, other._ptr, n, other.device.index)
        else:
            _driver.backend().dtod(self._ptr, other._ptr, n, self.device.index)
        return self

    def host_array(self):
        """The bytes as a host array (cpu and simulated cuda only)."""
        return self._array
