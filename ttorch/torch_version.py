"""``ttorch.torch_version``: ``TorchVersion``, a ``str`` that compares as a version number.

``TorchVersion("2.1.0") > "2.0"``, ``>= (1, 13)`` and ``== "2.1"`` compare by PEP 440 version order
(``packaging.version``, as PyTorch) instead of characters; a string that is not a version (``"parrot"``)
falls back to plain string comparison, as in PyTorch.

Example::

    >>> from ttorch.torch_version import TorchVersion
    >>> TorchVersion("1.10.0a0") > "1.9", TorchVersion("2.0") == (2, 0, 0), TorchVersion("2.1") < "2.1.1"
    (True, True, True)
"""
from collections.abc import Iterable

from packaging.version import InvalidVersion, Version

__all__ = ["TorchVersion"]


class TorchVersion(str):
    """A version string comparing by version order with strings, tuples and ``packaging`` versions."""
    __slots__ = ()

    def _convert_to_version(self, inp):
        if isinstance(inp, Version):
            return inp
        if isinstance(inp, str):
            return Version(inp)
        if isinstance(inp, Iterable):
            return Version(".".join(str(item) for item in inp))   # (1, 20, 1) -> 1.20.1
        raise InvalidVersion(inp)

    def _cmp_wrapper(self, cmp, method):
        try:
            return getattr(Version(self), method)(self._convert_to_version(cmp))
        except InvalidVersion:
            return getattr(str, method)(self, cmp)


for _m in ["__gt__", "__lt__", "__eq__", "__ge__", "__le__"]:
    setattr(TorchVersion, _m, lambda x, y, method=_m: x._cmp_wrapper(y, method))
TorchVersion.__hash__ = str.__hash__
