"""``ttorch.utils.weak``: weak references and dictionaries keyed by object identity.

Tensors define ``==`` elementwise and are unhashable by value, so a ``weakref.WeakKeyDictionary`` cannot
hold them: ``WeakIdKeyDictionary`` (alias ``WeakTensorKeyDictionary``) keys by ``id`` through ``WeakIdRef``
and drops an entry when its key is collected.

Example::

    >>> from ttorch.utils.weak import WeakTensorKeyDictionary
    >>> d = WeakTensorKeyDictionary()
    >>> t = ttorch.ones(2)
    >>> d[t] = "meta"
    >>> d[t], len(d)
    ('meta', 1)
    >>> del t
    >>> len(d)
    0
"""
import weakref
from collections.abc import MutableMapping

__all__ = ["TensorWeakRef", "WeakIdRef", "WeakIdKeyDictionary", "WeakTensorKeyDictionary"]


class WeakIdRef(weakref.ref):
    """A weak reference hashed and compared by the identity of its referent (equal while both are alive
    and the same object; a dead reference equals only itself)."""
    __slots__ = ["_id"]

    def __init__(self, key, callback=None):
        self._id = id(key)
        super().__init__(key, callback)

    def __hash__(self):
        return self._id

    def __eq__(self, other):
        a, b = self(), other()
        if a is not None and b is not None:
            return a is b
        return self is other


class _IdRef:
    """A strong stand-in with ``WeakIdRef``'s hash and equality, for lookups (PyTorch's ``_WeakHashRef``)."""
    __slots__ = ["_obj", "_id"]

    def __init__(self, obj):
        self._obj, self._id = obj, id(obj)

    def __call__(self):
        return self._obj

    def __hash__(self):
        return self._id

    def __eq__(self, other):
        a, b = self(), other()
        return a is not None and a is b


class WeakIdKeyDictionary(MutableMapping):
    """A mapping whose keys are held weakly and compared by identity."""

    def __init__(self, dict=None, ref_type=WeakIdRef):
        self.data = {}
        self.ref_type = ref_type
        self_ref = weakref.ref(self)

        def remove(k):
            owner = self_ref()
            if owner is not None:
                owner.data.pop(k, None)
        self._remove = remove
        if dict is not None:
            self.update(dict)

    def __getitem__(self, key):
        return self.data[_IdRef(key)]

    def __setitem__(self, key, value):
        self.data[self.ref_type(key, self._remove)] = value

    def __delitem__(self, key):
        del self.data[_IdRef(key)]

    def __contains__(self, key):
        return _IdRef(key) in self.data

    def __iter__(self):
        for ref in list(self.data):
            obj = ref()
            if obj is not None:
                yield obj

    def __len__(self):
        return sum(1 for ref in list(self.data) if ref() is not None)

    def __repr__(self):
        return f"<{type(self).__name__} at {id(self):#x}>"

    def copy(self):
        return type(self)(dict(self.items()), ref_type=self.ref_type)

    __copy__ = copy

    def keyrefs(self):
        """The weak references to the keys."""
        return list(self.data)


WeakTensorKeyDictionary = WeakIdKeyDictionary


class TensorWeakRef:
    """A weak reference to a tensor: ``ref()`` is the tensor, or None once it is collected."""

    def __init__(self, tensor):
        from .._tensor import Tensor
        if not isinstance(tensor, Tensor):
            raise AssertionError(f"expected torch.Tensor, got {type(tensor)}.")
        self.ref = weakref.ref(tensor)

    def __call__(self):
        return self.ref()
