"""Nested state dicts as flat ones: ``{"model": {"fc.weight": t}, "extra": [t1, 3]}`` becomes
``{"model.fc.weight": t, "extra.0": t1, "extra.1": 3}`` with a mapping from each flat key back to its path
(PyTorch's ``_nested_dict`` and ``_traverse``: dicts are always entered; a list only when it holds tensors,
dicts or lists that do, else it is one value).
"""
from collections.abc import Mapping

from ..._tensor import Tensor

__all__ = ["flatten_state_dict", "unflatten_state_dict", "traverse_state_dict", "set_element", "get_element"]


def _is_terminal(value):
    if isinstance(value, Mapping):
        return False
    if not isinstance(value, list):
        return True
    for entry in value:
        if isinstance(entry, (Mapping, list)) and not _is_terminal(entry):
            return False
        if isinstance(entry, Tensor):
            return False
    return True


def traverse_state_dict(state_dict, visitor):
    """Call ``visitor(path, value)`` on every leaf of ``state_dict`` (``path`` a tuple of keys and indices)."""
    stack = [((str(k),), v) for k, v in reversed(list(state_dict.items()))]
    while stack:        # (explicit stack: order as the recursive walk, no depth limit)
        path, value = stack.pop()
        if isinstance(value, Mapping):
            stack += [(path + (str(k),), v) for k, v in reversed(list(value.items()))]
        elif _is_terminal(value):
            visitor(path, value)
        else:
            stack += [(path + (i,), v) for i, v in reversed(list(enumerate(value)))]


def flatten_state_dict(state_dict):
    """``(flat, mappings)``: the leaves under dotted keys, and each key's path in ``state_dict``."""
    flat, mappings = {}, {}

    def visit(path, value):
        key = ".".join(map(str, path))
        if key in flat:
            raise ValueError(f"duplicated flatten key {key}")
        flat[key], mappings[key] = value, path

    traverse_state_dict(state_dict, visit)
    return flat, mappings


def set_element(root, path, value):
    """Set ``value`` at ``path`` in ``root``, making the dicts and lists on the way."""
    cur = root
    for prev, key in zip(path[:-1], path[1:]):
        default = {} if type(key) is str else []
        if isinstance(cur, Mapping):
            cur = cur.setdefault(prev, default)
        else:
            while len(cur) <= prev:
                cur.append(None)
            if cur[prev] is None:
                cur[prev] = default
            cur = cur[prev]
    key = path[-1]
    if type(key) is int:
        while len(cur) <= key:
            cur.append(None)
    cur[key] = value


def get_element(root, path, default_value=None):
    """The value at ``path`` in ``root``, ``default_value`` when there is none."""
    cur = root
    for part in path:
        if type(part) is int:
            if not isinstance(cur, list) or len(cur) <= part:
                return default_value
        elif not isinstance(cur, Mapping) or part not in cur:
            return default_value
        cur = cur[part]
    return cur


def unflatten_state_dict(state_dict, mapping):
    """The nested state dict ``flatten_state_dict`` flattened."""
    nested = {}
    for key, value in state_dict.items():
        set_element(nested, mapping[key], value)
    return nested
