"""Which input dimensions an exported program accepts at any size (PyTorch's ``torch.export.dynamic_shapes``).

``dynamic_shapes`` mirrors the inputs (a dict keyed by the forward's argument names, or a tuple/list in
argument order); per tensor it gives a dict ``{dim: spec}`` or a tuple with one spec per dimension, where a
spec is a ``Dim``, ``Dim.AUTO``/``Dim.DYNAMIC`` (dynamic), ``Dim.STATIC``/``None``/an int (static).

Derived dims (``2 * dim``, ``dim + 1``) tie a size to another's. Differences from PyTorch: there is no
symbolic shape reasoning, so ``Dim.AUTO`` stays dynamic (PyTorch may specialise it), two ``Dim.AUTO`` sizes
that the program forces equal get no equality guard, and a named ``Dim``'s range is not narrowed by what the
program requires: it is checked on the example input and guarded at call time.
"""
import dataclasses
import math
from enum import Enum, auto

from ._pytree import flatten

int_oo = math.inf   # (PyTorch: sympy's integer infinity; printed ``int_oo`` below)


class UserError(RuntimeError):
    """A misuse of the export API (``torch._dynamo.exc.UserError``)."""


class ConstraintViolationError(RuntimeError):
    """An example input contradicts a declared dynamic dimension."""


class _DimHintType(Enum):
    AUTO = auto()
    STATIC = auto()
    DYNAMIC = auto()


@dataclasses.dataclass
class _DimHint:
    """``Dim.AUTO``/``Dim.DYNAMIC``/``Dim.STATIC``; callable once to bound it (``Dim.AUTO(min=2, max=64)``)."""
    type: _DimHintType
    min: object = None
    max: object = None
    _factory: object = True

    def __call__(self, min=None, max=None):
        if not self._factory:
            raise TypeError(f"'{type(self)}' object is not callable")
        if min is not None and min < 0:
            raise AssertionError(f"min must be non-negative, got {min}")
        if max is not None and max < 0:
            raise AssertionError(f"max must be non-negative, got {max}")
        if min is not None and max is not None and min > max:
            raise AssertionError(f"min must be <= max, got min={min}, max={max}")
        return _DimHint(self.type, min=min, max=max, _factory=False)

    def __repr__(self):
        parts = [self.type.name] + [f"{k}={v}" for k, v in (("min", self.min), ("max", self.max)) if v is not None]
        return f"DimHint({', '.join(parts)})"


class Dim:
    """A named dynamic dimension with an inclusive range ``[min, max]`` (defaults ``[0, int_oo]``).

    The same ``Dim`` on two inputs says their sizes are equal.

    Example::

        >>> from ttorch.export import Dim
        >>> Dim("batch", min=1, max=64)
        Dim('batch', min=1, max=64)
    """
    AUTO = _DimHint(_DimHintType.AUTO)
    DYNAMIC = _DimHint(_DimHintType.DYNAMIC)
    STATIC = _DimHint(_DimHintType.STATIC)

    def __init__(self, name, *, min=None, max=None):
        _min = 0 if min is None else min
        _max = int_oo if max is None else max
        if not (_max > _min):
            raise AssertionError(f"Cannot create Dim with inconsistent min={min}, max={max}")
        if not name.isidentifier():
            raise AssertionError(f"Dim name must be a valid identifier, got {name}")
        self.__name__ = name
        self.min, self.max = _min, _max

    _a, _b = 1, 0      # this dim is ``_a * root + _b`` (root: itself, or the Dim it was derived from)

    @property
    def root(self):
        return self

    def _derive(self, a, b):
        a, b = self._a * a, self._b * a + b
        name = (self.root.__name__ if a == 1 else f"{a}*{self.root.__name__}") + \
            ("" if b == 0 else f" + {b}" if b > 0 else f" - {-b}")
        return _DerivedDim(name, self.root, a, b)

    def __add__(self, other):
        if type(other) is not int:
            raise NotImplementedError(f"Attempted to add {other} to {self.__name__}, where an integer was expected. "
                                      "(Only increasing linear operations with integer coefficients are supported.)")
        return self._derive(1, other)

    __radd__ = __add__

    def __sub__(self, other):
        if type(other) is not int:
            raise NotImplementedError(f"Attempted to subtract {other} from {self.__name__}, where an integer was "
                                      "expected. (Only increasing linear operations with integer coefficients are "
                                      "supported.)")
        return self._derive(1, -other)

    def __rsub__(self, other):
        raise NotImplementedError(f"Attempted to negate {self.__name__}. (Only increasing linear operations with "
                                  "integer coefficients are supported.)")

    def __mul__(self, other):
        if type(other) is not int or other <= 0:
            raise NotImplementedError(f"Attempted to multiply {other} with {self.__name__}, where a positive integer "
                                      "was expected. (Only increasing linear operations with integer coefficients "
                                      "are supported.)")
        return self._derive(other, 0)

    __rmul__ = __mul__

    def __repr__(self):
        lo = None if self.min == 2 else self.min      # PyTorch's printout leaves out min=2 and max=int_oo
        hi = None if self.max == int_oo else self.max
        extra = "".join(f", {k}={v}" for k, v in (("min", lo), ("max", hi)) if v is not None)
        return f"Dim('{self.__name__}'{extra})"


class _DerivedDim(Dim):
    """``a * root + b`` (``2 * seq``, ``seq + 1``): its size follows the root's."""

    def __init__(self, name, root, a, b):
        self.__name__, self._root, self._a, self._b = name, root, a, b

    root = property(lambda self: self._root)
    min = property(lambda self: self._a * self._root.min + self._b)
    max = property(lambda self: self._a * self._root.max + self._b)

    def __repr__(self):
        return self.__name__


def dims(*names, min=None, max=None):
    """``Dim``s of the given names sharing one range: ``batch, seq = dims("batch", "seq", max=512)``."""
    return tuple(Dim(name, min=min, max=max) for name in names)


class ShapesCollection:
    """Builds ``dynamic_shapes`` by tensor instead of by position: ``sc[x] = {0: batch}``.

    Pass it as ``dynamic_shapes`` (or call ``sc.dynamic_shapes(mod, args, kwargs)``).
    """

    def __init__(self):
        self._shapes = {}

    def __setitem__(self, t, shape):
        from .._tensor import Tensor
        if not isinstance(t, Tensor):
            raise AssertionError(f"Cannot assign shape to non-tensor or non-_IntWrapper type {type(t)}")
        if id(t) in self._shapes and self._shapes[id(t)] != shape:
            raise AssertionError(f"Shapes assigned to input do not match: expected {self._shapes[id(t)]}, "
                                 f"got {shape}")
        self._shapes[id(t)] = shape

    def __getitem__(self, t):
        return self._shapes.setdefault(id(t), {})

    def __len__(self):
        return len(self._shapes)

    def dynamic_shapes(self, m, args, kwargs=None):
        """The ``dynamic_shapes`` structure matching ``args``/``kwargs`` (tensors not named get ``None``)."""
        from .._tensor import Tensor
        found = set()

        def walk(a):
            if isinstance(a, Tensor):
                if id(a) in self._shapes:
                    found.add(id(a))
                    return self._shapes[id(a)]
                return None
            if isinstance(a, (list, tuple)):
                return type(a)(walk(x) for x in a) if not hasattr(a, "_fields") else tuple(walk(x) for x in a)
            if isinstance(a, dict):
                return {k: walk(v) for k, v in a.items()}
            return None
        out = walk(tuple(args) + tuple((kwargs or {}).values()))
        if any(i not in found for i in self._shapes):
            raise ValueError("Some tensors that were assigned shapes were not found in args. Maybe such tensors "
                             "were copied when passing them as args? Maybe such tensors are contained in classes "
                             "that were not registered with pytree?")
        return out


class AdditionalInputs:
    """Infers ``dynamic_shapes`` from more example inputs: a dimension whose size differs is dynamic.

    ``ai.add(args, kwargs)`` per example; pass ``ai`` as ``dynamic_shapes``; ``ai.verify(ep)`` checks that
    every example passes the exported program's guards.
    """

    def __init__(self):
        self._examples = []

    def add(self, args, kwargs=None):
        if not isinstance(args, tuple):
            raise AssertionError(f"Representative args {args} must be a tuple")
        if not (kwargs is None or isinstance(kwargs, dict)):
            raise AssertionError(f"Representative kwargs {kwargs} must be None or a dict")
        self._examples.append((args, kwargs))

    def dynamic_shapes(self, m, args, kwargs=None):
        """One spec per argument (positional, then keyword): ``Dim.DYNAMIC`` where the examples' sizes differ."""
        from .._tensor import Tensor

        def mark(v, *others):
            if not all(type(o) is type(v) for o in others):
                raise ValueError(f"The following inputs were found to have differing types, so they cannot be "
                                 f"marked as dynamic: {(v,) + others}.")
            if isinstance(v, Tensor):
                if any(o.dim() != v.dim() for o in others):
                    raise ValueError(f"The following tensors have differing ranks: {(v,) + others}.")
                return tuple(None if all(o.shape[i] == v.shape[i] for o in others) else Dim.DYNAMIC
                             for i in range(v.dim()))
            if isinstance(v, (tuple, list)):
                return type(v)(mark(*vs) for vs in zip(v, *others))
            if isinstance(v, dict):
                return {k: mark(v[k], *(o[k] for o in others)) for k in v}
            if not all(o == v for o in others):
                raise ValueError(f"The following inputs were found to have differing values, but they cannot be "
                                 f"marked as dynamic: {(v,) + others}.")
            return None
        rows = [tuple(a) + tuple((k or {}).values()) for a, k in [(args, kwargs)] + self._examples]
        return tuple(mark(*vs) for vs in zip(*rows))

    def verify(self, ep):
        """Raise (the guards' AssertionError) if an example input would be rejected by ``ep.module()``."""
        from .exported_program import _Guards, _tree_flatten_spec
        guards = _Guards(ep._guards, ep.range_constraints)
        for args, kwargs in self._examples:
            guards(*_tree_flatten_spec((tuple(args), dict(kwargs or {})), ep._in_spec))


class ValueRanges:
    """The inclusive range of a dynamic dimension (``VR[2, int_oo]``)."""

    def __init__(self, lower, upper):
        self.lower, self.upper = lower, upper

    def __repr__(self):
        return f"VR[{self.lower}, {'int_oo' if self.upper == int_oo else self.upper}]"

    def __eq__(self, other):
        return isinstance(other, ValueRanges) and (self.lower, self.upper) == (other.lower, other.upper)


class _Symbol(str):
    """A dynamic size: ``a * base + b`` of the symbol ``base`` (``s0``, ``2*s0 + 1``); PyTorch's sympy expression,
    here a str."""
    a, b = 1, 0

    @property
    def base(self):
        return self.__dict__.get("_base", self)

    def derived(self, a, b):
        if (a, b) == (1, 0):
            return self
        name = (self if a == 1 else f"{a}*{self}") + ("" if b == 0 else f" + {b}" if b > 0 else f" - {-b}")
        s = _Symbol(name)
        s._base, s.a, s.b = self, a, b
        return s


def _leaf_dims(spec, t, where):
    """``{dim: Dim or _DimHint}`` of the dynamic dimensions of tensor ``t`` from its spec."""
    if spec is None:
        return {}
    if isinstance(spec, (Dim, _DimHint)):      # one spec for every dimension
        spec = (spec,) * t.dim()
    if isinstance(spec, (list, tuple)):
        if len(spec) != t.dim():
            raise UserError(f"Expected dynamic shape spec {spec} specified at `dynamic_shapes{where}` to have "
                            f"the same length as the actual tensor shape {tuple(t.shape)} (expected "
                            f"{t.dim()}, but got {len(spec)} instead)")
        spec = dict(enumerate(spec))
    if not isinstance(spec, dict):
        raise UserError(f"Unexpected dynamic_shape {spec} of Tensor, try None instead")
    out = {}
    for d, s in spec.items():
        if s is None or isinstance(s, int) or (isinstance(s, _DimHint) and s.type == _DimHintType.STATIC):
            continue
        if not isinstance(s, (Dim, _DimHint)):
            raise UserError(f"Unexpected dimension mapped to index {d} in dynamic_shapes{where}: {s!r}")
        out[d % max(t.dim(), 1)] = s
    return out


def _resolve(names, args, dynamic_shapes):
    """Per flat user input, ``{dim: spec}``; checks the example sizes against named ranges."""
    from .._tensor import Tensor
    if isinstance(dynamic_shapes, ShapesCollection):
        by_id = dynamic_shapes._shapes
        return [_leaf_dims(by_id.get(id(a)), a, "") if isinstance(a, Tensor) else {}
                for a in flatten(tuple(args))[0]]
    if isinstance(dynamic_shapes, AdditionalInputs):
        dynamic_shapes = dynamic_shapes.dynamic_shapes(None, args)
    if dynamic_shapes is None:
        specs = [None] * len(args)
    elif isinstance(dynamic_shapes, dict):
        if set(dynamic_shapes) - set(names):
            raise UserError(f"When `dynamic_shapes` is specified as a dict, its top-level keys must be the arg "
                            f"names {list(names)} of `inputs`, but here they are {list(dynamic_shapes)}. "
                            "Alternatively, you could also ignore arg names entirely and specify `dynamic_shapes` "
                            "as a list/tuple matching `inputs`.")
        specs = [dynamic_shapes.get(n) for n in names]
    elif isinstance(dynamic_shapes, (list, tuple)):
        if len(dynamic_shapes) != len(args):
            raise UserError(f"dynamic_shapes has {len(dynamic_shapes)} entries but the inputs have {len(args)}")
        specs = list(dynamic_shapes)
    else:
        raise UserError(f"Unexpected dynamic_shapes type {type(dynamic_shapes)}: expected a dict, tuple or list")
    out = []
    for name, a, spec in zip(names, args, specs):
        leaves, _ = flatten(a)
        if len(leaves) == 1 and leaves[0] is a:
            per_leaf = [spec]
        elif spec is None:
            per_leaf = [None] * len(leaves)
        else:
            per_leaf, _ = flatten(spec, is_leaf=lambda s: isinstance(s, (dict, Dim, _DimHint)) or s is None
                                  or (isinstance(s, tuple) and not any(isinstance(e, (tuple, list)) for e in s)))
            if len(per_leaf) != len(leaves):
                raise UserError(f"dynamic_shapes['{name}'] does not match the structure of input '{name}'")
        for leaf, s in zip(leaves, per_leaf):
            out.append(_leaf_dims(s, leaf, f"['{name}']") if isinstance(leaf, Tensor) else {})
    for leaf, d in zip(flatten(tuple(args))[0], out):
        for i, s in d.items():
            lo, hi = (s.min, s.max) if isinstance(s, Dim) else (s.min or 0, int_oo if s.max is None else s.max)
            if not lo <= leaf.shape[i] <= hi:
                raise ConstraintViolationError(f"{leaf.shape[i]} not in range [{lo}, {hi}]")
    return out


__all__ = ["AdditionalInputs", "Dim", "ShapesCollection", "dims"]
