"""``ttorch.ops.aten``: ttorch's primitive ops under ATen's names, as ``torch.ops.aten`` gives them.

A ``TorchDispatchMode`` sees each op as ``func``, an ``OpOverload`` such as ``ttorch.ops.aten.mm.default``
or ``aten.add.Tensor``: ``func.overloadpacket``, ``func.name()``, ``str(func)`` and equality are PyTorch's
where ttorch's op is the same concept as an ATen operator (``_ATEN`` below). Several ttorch ops can share
one ATen name (``conv2d_input_grad`` and ``conv2d_weight_grad`` are both ``aten.convolution_backward``):
overloads compare equal by name, and each calls its own op.

Deliberate differences: ``func(*args, **kwargs)`` takes the ttorch op's arguments (those the mode was
given), not ATen's schema; an op with no ATen counterpart keeps its ttorch name (``aten.linear_act``);
``_schema`` holds ``name``, ``overload_name`` and ``is_mutable`` only (no argument list).
"""
from ..library._ops import OpOverload as _LibOverload, OpOverloadPacket as _LibPacket

__all__ = ["aten", "overload_of"]

# ttorch op name -> "aten_name.overload" where they differ from "<name>.default"
_ATEN = {
    "add": "add.Tensor", "sub": "sub.Tensor", "mul": "mul.Tensor", "div": "div.Tensor",
    "div_trunc": "div.Tensor_mode", "remainder": "remainder.Tensor", "fmod": "fmod.Tensor",
    "eq": "eq.Tensor", "ne": "ne.Tensor", "lt": "lt.Tensor", "le": "le.Tensor", "gt": "gt.Tensor",
    "ge": "ge.Tensor", "where": "where.self", "masked_fill": "masked_fill.Scalar",
    "conv2d": "convolution.default", "conv2d_input_grad": "convolution_backward.default",
    "conv2d_weight_grad": "convolution_backward.default",
    "flash_attention": "_scaled_dot_product_flash_attention.default",
    "flash_attention_backward": "_scaled_dot_product_flash_attention_backward.default",
    "scaled_mm": "_scaled_mm.default", "grouped_mm": "_grouped_mm.default",
    "softmax": "_softmax.default", "log_softmax": "_log_softmax.default",
    "layer_norm": "native_layer_norm.default", "layer_norm_backward": "native_layer_norm_backward.default",
    "batch_norm": "native_batch_norm.default", "batch_norm_backward": "native_batch_norm_backward.default",
    "rms_norm": "_fused_rms_norm.default", "max_pool2d_backward": "max_pool2d_with_indices_backward.default",
    "sum": "sum.dim_IntList", "mean": "mean.dim", "var": "var.correction", "std": "std.correction",
    "max": "max.dim", "min": "min.dim", "to_dtype": "_to_copy.default", "to_device": "_to_copy.default",
    "fill_": "fill_.Scalar", "split": "split.Tensor", "unbind": "unbind.int", "index": "index.Tensor",
    "scatter": "scatter.src", "pow": "pow.Tensor_Tensor",
}

# ATen names no ttorch op has, reachable as packets (keys of flop formulas)
_NAMES_ONLY = {"_convolution", "cudnn_convolution", "convolution_overrideable", "_slow_conv2d_forward",
               "_scaled_dot_product_efficient_attention", "_scaled_dot_product_efficient_attention_backward",
               "_scaled_dot_product_cudnn_attention", "_scaled_dot_product_cudnn_attention_backward"}

_OVERLOADS = {}     # ttorch op name -> its OpOverload
_BY_ATEN = {}       # aten name -> {overload name: [ttorch Op, ...]}
_BUILT = [0]        # len(REGISTRY) when _BY_ATEN was built


class _Schema:
    """What ``func._schema`` tells of a ttorch op: its ATen name and overload, and whether it writes its input."""

    __slots__ = ("name", "overload_name", "is_mutable")

    def __init__(self, name, overload_name, is_mutable):
        self.name, self.overload_name, self.is_mutable = name, overload_name, is_mutable

    def __str__(self):
        return self.name + (f".{self.overload_name}" if self.overload_name else "")

    __repr__ = __str__


class OpOverload(_LibOverload):
    """One ATen overload of a ttorch op (``aten.mm.default``); calling it runs the op."""

    def __init__(self, op, aten_name, overload):
        self._op = op
        self._opname_ = aten_name
        self._overloadname = overload
        self._name = f"aten::{aten_name}" + ("" if overload == "default" else f".{overload}")
        self.__name__ = f"{aten_name}.{overload}"
        self.__qualname__ = self._name
        self.__module__ = "ttorch._ops.aten"
        self._schema = _Schema(f"aten::{aten_name}", "" if overload == "default" else overload,
                               aten_name.endswith("_"))

    _schema = None      # (set per instance; the parent's is a property)
    _namespace = "aten"

    @property
    def _opname(self):
        return self._opname_

    @property
    def overloadpacket(self):
        return OpOverloadPacket(self._opname_)

    def decompose(self, *args, **kwargs):
        """PyTorch's: ttorch's composite ops never reach a mode, so there is nothing to decompose."""
        return NotImplemented

    def __call__(self, *args, **kwargs):
        return self._op(*args, **kwargs)

    def __repr__(self):
        return f"aten.{self.__name__}"

    def __eq__(self, other):
        return isinstance(other, OpOverload) and other.__name__ == self.__name__

    def __hash__(self):
        return hash(("aten", self.__name__))


class OpOverloadPacket(_LibPacket):
    """All overloads of an ATen name (``aten.add``): ``aten.add.Tensor``; keys of flop formulas."""

    def __init__(self, aten_name):
        self._opname_ = aten_name
        self._qualified_op_name = f"aten::{aten_name}"
        self.__name__ = aten_name

    _schema = None

    @property
    def default(self):
        return self.__getattr__("default")

    def __getattr__(self, overload):
        if overload.startswith("__"):
            raise AttributeError(overload)
        ops = _index().get(self._opname_, {}).get(overload)
        if not ops:
            raise AttributeError(f"The underlying op of 'aten.{self._opname_}' has no overload name '{overload}'")
        return overload_of(ops[0])

    def overloads(self):
        return sorted(_index().get(self._opname_, {}))

    def __call__(self, *args, **kwargs):
        ovs = _index().get(self._opname_)
        if not ovs:
            raise NotImplementedError(f"aten.{self._opname_}: ttorch has no op of that name to run")
        return overload_of(ovs.get("default", next(iter(ovs.values())))[0])(*args, **kwargs)

    def __repr__(self):
        return f"aten.{self._opname_}"

    def __str__(self):
        return f"aten.{self._opname_}"

    def __eq__(self, other):
        return isinstance(other, OpOverloadPacket) and other._opname_ == self._opname_

    def __hash__(self):
        return hash(("aten", self._opname_))


def _split(name):
    return tuple(_ATEN.get(name, f"{name}.default").split(".", 1))


def _index():
    from ._op import REGISTRY
    if _BUILT[0] != len(REGISTRY):      # (ops modules imported later register more)
        _BUILT[0] = len(REGISTRY)
        _BY_ATEN.clear()
        for name, op in REGISTRY.items():
            a, ov = _split(name)
            _BY_ATEN.setdefault(a, {}).setdefault(ov, []).append(op)
    return _BY_ATEN


def overload_of(op):
    """The ``OpOverload`` a dispatch mode gets as ``func`` for the ttorch ``Op`` ``op``."""
    ov = _OVERLOADS.get(op.name)
    if ov is None:
        ov = _OVERLOADS[op.name] = OpOverload(op, *_split(op.name))
    return ov


class _AtenNamespace:
    """``ttorch.ops.aten``: ``aten.<name>`` is an ``OpOverloadPacket``; operators that ``ttorch.library``
    defines in the "aten" namespace come after ttorch's own."""

    name = "aten"

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        if name in _index() or name in _NAMES_ONLY:
            return OpOverloadPacket(name)
        from ..library._ops import _OpNamespace
        return _OpNamespace("aten").__getattr__(name)

    def __dir__(self):
        return sorted(_index())

    def __repr__(self):
        return "<module 'ttorch.ops.aten' from 'ttorch.ops'>"


aten = _AtenNamespace()
