"""``ttorch.utils.deterministic``: ``fill_uninitialized_memory`` (default True). While it is True and
deterministic mode is on (``ttorch.use_deterministic_algorithms(True)``), ``empty``, ``empty_like``,
``empty_strided``, ``new_empty`` and the new elements of ``resize_`` are filled with NaN (floating
point) or the dtype's largest value (integers; True for bool), as PyTorch fills them, so that a read
of memory nobody wrote gives the same (and a visible) value every run.
"""
import sys
import types

from .. import _deterministic as _det


class _Deterministic(types.ModuleType):
    # a property on the module's class: ``fill_uninitialized_memory = False`` updates the one flag
    # ``empty`` reads (``_deterministic.FILL``), as PyTorch's module does with its C++ flag
    @property
    def fill_uninitialized_memory(self):
        """Whether deterministic mode fills new memory (``empty`` and friends)."""
        return _det._fill_uninitialized[0]

    @fill_uninitialized_memory.setter
    def fill_uninitialized_memory(self, mode):
        if type(mode) is not bool:
            raise RuntimeError(f"expected a bool, but got {type(mode).__name__}")
        _det._fill_uninitialized[0] = mode
        _det._set(_det.MODE)


sys.modules[__name__].__class__ = _Deterministic
