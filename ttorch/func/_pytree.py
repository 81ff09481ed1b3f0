"""Nested structures of tensors (PyTorch's pytrees, the part ``ttorch.func`` needs).

A tree is a tuple, list, dict (and OrderedDict), namedtuple or None (a node without leaves, as in
``torch.utils._pytree``); anything else is a leaf. ``tree_flatten`` returns the leaves in order and a
``TreeSpec`` that ``tree_unflatten`` rebuilds the structure from. ``_broadcast_to_and_flatten`` is
how ``vmap`` matches ``in_dims``/``out_dims`` to arguments: a leaf of the prefix stands for a whole
subtree (``in_dims=(None, 0)`` with a dict of parameters first).
"""
from collections import OrderedDict


class TreeSpec:
    """The shape of a tree: its node type, context (dict keys, namedtuple class) and children."""

    __slots__ = ("type", "context", "children", "num_leaves")

    def __init__(self, type_, context, children):
        self.type, self.context, self.children = type_, context, children
        self.num_leaves = 1 if type_ is None else sum(c.num_leaves for c in children)

    def is_leaf(self):
        return self.type is None

    def __eq__(self, other):
        return (isinstance(other, TreeSpec) and self.type is other.type and self.context == other.context
                and self.children == other.children)

    def __repr__(self):
        if self.type is None:
            return "*"
        if self.type is type(None):
            return "None"
        inner = ", ".join(repr(c) for c in self.children)
        if self.type in (dict, OrderedDict):
            inner = ", ".join(f"{k!r}: {c!r}" for k, c in zip(self.context, self.children))
            return "{" + inner + "}" if self.type is dict else f"OrderedDict({{{inner}}})"
        if self.type is list:
            return f"[{inner}]"
        if self.type is tuple:
            return f"({inner}{',' if len(self.children) == 1 else ''})"
        return f"{self.type.__name__}({inner})"


LEAF = TreeSpec(None, None, [])
KEYWORD_NODES = set()       # node types rebuilt from their fields by name (export's registered dataclasses)


def _node(tree):
    """(type, context, children) of a container node, or None for a leaf."""
    t = type(tree)
    if t is tuple or t is list:
        return t, None, list(tree)
    if t is dict or t is OrderedDict:
        return t, list(tree.keys()), list(tree.values())
    if isinstance(tree, tuple) and hasattr(t, "_fields"):     # namedtuple
        return t, None, list(tree)
    if tree is None:
        return type(None), None, []
    return None


# The walks are module-level functions with explicit accumulators: a recursive closure is a
# reference cycle, which would keep the leaves (tensors and their graphs) alive until a gc pass.
def _flatten(node, leaves):
    n = _node(node)
    if n is None:
        leaves.append(node)
        return LEAF
    t, ctx, children = n
    return TreeSpec(t, ctx, [_flatten(c, leaves) for c in children])


def tree_flatten(tree):
    """``(leaves, spec)`` of ``tree``."""
    leaves = []
    spec = _flatten(tree, leaves)
    return leaves, spec


def _unflatten(s, it):
    if s.type is None:
        return next(it)
    children = [_unflatten(c, it) for c in s.children]
    if s.type is tuple or s.type is list:
        return s.type(children)
    if s.type is dict or s.type is OrderedDict:
        return s.type(zip(s.context, children))
    if s.type is type(None):
        return None
    if s.type in KEYWORD_NODES:
        return s.type(**dict(zip(s.context, children)))
    return s.type(*children)       # namedtuple


def tree_unflatten(leaves, spec):
    """Rebuild the structure ``spec`` with ``leaves`` in order."""
    return _unflatten(spec, iter(leaves))


def tree_map(fn, tree):
    leaves, spec = tree_flatten(tree)
    return tree_unflatten([fn(x) for x in leaves], spec)


def _broadcast(p, s, out):
    n = _node(p) if p is not None else None
    if n is None:                 # a leaf of the prefix (an int, or None): broadcast
        out.extend([p] * s.num_leaves)
        return True
    t, ctx, children = n
    if t is not s.type or len(children) != len(s.children):
        return False
    if ctx is not None:
        if set(ctx) != set(s.context):
            return False
        children = [p[k] for k in s.context]
    return all(_broadcast(c, cs, out) for c, cs in zip(children, s.children))


def _broadcast_to_and_flatten(prefix, spec):
    """One entry of ``prefix`` per leaf of ``spec``; a leaf of ``prefix`` covers a whole subtree.
    None when the two structures don't match."""
    out = []
    return out if _broadcast(prefix, spec, out) else None
