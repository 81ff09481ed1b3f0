"""Flattening of export's inputs and outputs: ``ttorch.func``'s pytrees plus registered dataclasses."""
import dataclasses
from collections import OrderedDict

from ..func._pytree import TreeSpec, LEAF, KEYWORD_NODES, _node, _unflatten

_DATACLASSES = {}     # class -> serialized type name


def register_dataclass(cls, *, serialized_type_name=None):
    """Make instances of dataclass ``cls`` flatten into their fields (inputs and outputs of ``export``).

    Example::

        >>> import dataclasses, ttorch
        >>> @dataclasses.dataclass
        ... class Pair:
        ...     a: ttorch.Tensor
        ...     b: ttorch.Tensor
        >>> ttorch.export.register_dataclass(Pair)
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"Only dataclasses can be registered with this function: {cls}")
    _DATACLASSES[cls] = serialized_type_name or f"{cls.__module__}.{cls.__qualname__}"
    KEYWORD_NODES.add(cls)


def _children(tree):
    if type(tree) in _DATACLASSES:
        names = [f.name for f in dataclasses.fields(tree)]
        return type(tree), names, [getattr(tree, n) for n in names]
    return _node(tree)


def _flatten(tree, leaves, is_leaf):
    n = None if is_leaf is not None and is_leaf(tree) else _children(tree)
    if n is None:
        leaves.append(tree)
        return LEAF
    t, ctx, children = n
    return TreeSpec(t, ctx, [_flatten(c, leaves, is_leaf) for c in children])


def flatten(tree, is_leaf=None):
    """``(leaves, spec)``; ``is_leaf(x)`` True stops the descent at ``x``."""
    leaves = []
    return leaves, _flatten(tree, leaves, is_leaf)


def unflatten(leaves, spec):
    return _unflatten(spec, iter(leaves))


def spec_to_json(s):
    """A TreeSpec as JSON-able data (for ``save``): container types by name."""
    if s.type is None:
        return None
    names = {tuple: "tuple", list: "list", dict: "dict", OrderedDict: "OrderedDict", type(None): "None"}
    t = names.get(s.type) or _DATACLASSES.get(s.type) or f"{s.type.__module__}.{s.type.__qualname__}"
    return {"type": t, "context": s.context, "children": [spec_to_json(c) for c in s.children]}


def spec_from_json(d):
    if d is None:
        return LEAF
    types = {"tuple": tuple, "list": list, "dict": dict, "OrderedDict": OrderedDict, "None": type(None)}
    t = types.get(d["type"])
    if t is None:
        t = next((c for c, n in _DATACLASSES.items() if n == d["type"]), None) or _import(d["type"])
    return TreeSpec(t, d["context"], [spec_from_json(c) for c in d["children"]])


def _import(qualname):
    import importlib
    mod, _, rest = qualname.rpartition(".")
    while mod:
        try:
            obj = importlib.import_module(mod)
            for part in rest.split("."):
                obj = getattr(obj, part)
            return obj
        except (ImportError, AttributeError):
            mod, _, head = mod.rpartition(".")
            rest = f"{head}.{rest}"
    raise RuntimeError(f"ttorch.export.load: cannot find the container type {qualname}; register it first")
