"""The ONNX graph under construction: the ``g`` every symbolic function receives.

``g.op("Relu", x)`` appends a node and returns its output Value; inputs may be Values, None (an omitted
optional input) or constants (Python numbers, NumPy arrays, ttorch tensors: stored as initializers).
Attributes are keywords; TorchScript's type suffixes (``alpha_f``, ``axes_i``, ``mode_s``, ``value_t``) are
understood so that symbolics written for PyTorch's ``register_custom_op_symbolic`` keep working.
"""
import numpy as np

from . import _proto as P

INT64_MAX = (1 << 63) - 1
SYMBOLICS = {}       # op name ("relu", "conv2d", "getitem") -> symbolic(g, *args, **kwargs)
CUSTOM = {}          # op name -> [(opset, domain, fn)] from register_custom_op_symbolic


def symbolic(*names):
    """Register the decorated function as the symbolic of the ttorch ops ``names``."""
    def deco(fn):
        for n in names:
            SYMBOLICS[n] = fn
        return fn
    return deco


class Value:
    """A tensor of the ONNX graph: its name and, when known, its ttorch dtype and example shape."""
    __slots__ = ("name", "dtype", "shape")

    def __init__(self, name, dtype=None, shape=None):
        self.name, self.dtype, self.shape = name, dtype, None if shape is None else tuple(shape)

    @property
    def rank(self):
        return None if self.shape is None else len(self.shape)

    def __repr__(self):
        return f"Value({self.name!r}, {self.dtype}, {self.shape})"

    def type(self):
        """TorchScript's ``value.type()`` for ported symbolics: ``sizes()``, ``dim()``, ``scalarType()``."""
        return _ValueType(self)


_SCALAR_TYPES = {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16",
                 "int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}


class _ValueType:
    def __init__(self, v):
        self._v = v

    def sizes(self):
        return None if self._v.shape is None else list(self._v.shape)

    def dim(self):
        return self._v.rank

    def scalarType(self):
        return None if self._v.dtype is None else _SCALAR_TYPES.get(str(self._v.dtype).rsplit(".", 1)[-1])


def np_dtype(dtype):
    """The NumPy dtype that holds a ttorch dtype's values (bfloat16 travels as float32) and its ONNX type."""
    et = P.elem_type(dtype)
    return np.dtype(P.TO_NUMPY.get(et, np.float32)), et


def to_numpy(t):
    """A ttorch tensor's data as a NumPy array and its ONNX element type."""
    t = t.detach().cpu()
    et = P.elem_type(t.dtype)
    return (t.float().numpy() if et == P.BFLOAT16 else t.numpy()), et


class GraphContext:
    """Collects nodes and initializers; ``opset`` is the target opset, ``dynamic`` whether any dim is dynamic
    (then sizes read from tensors become ``Shape`` ops instead of constants)."""

    def __init__(self, opset, dynamic):
        self.opset, self.dynamic = opset, dynamic
        self.nodes = []                # (op_type, inputs, outputs, attrs, domain, node name)
        self.initializers = {}         # name -> (array, elem_type)
        self.domains = {}
        self.scope = ""
        self.module_path = ""          # the qualified name of the module a call_module symbolic lowers
        self.out = None                # the example value of the node being lowered
        self._used = set()
        self._consts = {}

    def fresh(self, base):
        name, i = base, 0
        while name in self._used:
            i += 1
            name = f"{base}_{i}"
        self._used.add(name)
        return name

    # ------------------------------------------------------------------ nodes and constants
    def op(self, op_type, *inputs, outputs=1, **attrs):
        domain = ""
        if "::" in op_type:
            domain, op_type = op_type.split("::", 1)
            domain = "" if domain == "onnx" else domain
            if domain:
                self.domains.setdefault(domain, 1)
        ins = [self.input(x) for x in inputs]
        while ins and ins[-1] == "":
            ins.pop()
        outs = [self.fresh(f"/{self.scope}/{op_type}_output_{i}") for i in range(outputs)]
        parsed = {}
        for k, v in attrs.items():
            if v is None:
                continue
            if len(k) > 2 and k[-2] == "_" and k[-1] in "fist":
                k, kind = k[:-2], k[-1]
                if isinstance(v, (list, tuple)) and kind != "t":
                    kind = kind + "s"
                v = (kind, np.asarray(v.detach().cpu().numpy()) if hasattr(v, "detach") else v)
            parsed[k] = v
        self.nodes.append((op_type, ins, outs, parsed, domain, self.fresh(f"/{self.scope}/{op_type}")))
        vals = [Value(o) for o in outs]
        return vals[0] if outputs == 1 else tuple(vals)

    def input(self, x):
        if x is None:
            return ""
        if isinstance(x, Value):
            return x.name
        return self.const(x).name

    def const(self, x, dtype=None, name=None):
        """An initializer holding ``x`` (a ttorch tensor, NumPy array or Python number), as ``dtype`` if given."""
        from .._tensor import Tensor
        if isinstance(x, Tensor):
            arr, et = to_numpy(x)
            tdtype = x.dtype
        else:
            if dtype is None:
                arr = np.asarray(x)
                arr = arr.astype(np.float32) if arr.dtype == np.float64 and not isinstance(x, np.ndarray) else arr
                et = P.elem_type(arr.dtype)
                tdtype = _ttorch_dtype(arr.dtype)
            else:
                npd, et = np_dtype(dtype)
                arr, tdtype = np.asarray(x, dtype=npd), dtype
        if name is None and arr.size <= 64 and not isinstance(x, Tensor):
            # small constants are Constant nodes (as PyTorch writes them), shared by every use; tensors the
            # model computes at export time (constant folding) stay initializers
            key = (arr.tobytes(), arr.shape, et)
            if key not in self._consts:
                name = self.fresh(f"/{self.scope}/Constant_output_0" if self.scope else "/Constant_output_0")
                self.nodes.append(("Constant", [], [name], {"value": ("t", (arr, et))}, "",
                                   self.fresh(f"/{self.scope}/Constant")))
                self._consts[key] = Value(name, tdtype, arr.shape)
            return self._consts[key]
        name = self.fresh(f"onnx::{self.scope}_const") if name is None else name
        self._used.add(name)
        self.initializers[name] = (arr, et)
        return Value(name, tdtype, arr.shape)

    # ------------------------------------------------------------------ helpers shared by symbolics
    def cast(self, x, dtype):
        """``x`` as ``dtype``: a Cast for a Value of another dtype, a constant for a Python number."""
        if isinstance(x, Value):
            if x.dtype == dtype:
                return x
            v = self.op("Cast", x, to=P.elem_type(dtype))
            v.dtype, v.shape = dtype, x.shape
            return v
        return self.const(x, dtype)

    def int_list(self, items):
        """A 1-D int64 Value from ints and int64 Values (0-d or 1-d): a constant when all are ints."""
        if isinstance(items, Value):
            return items if items.rank == 1 else self.reshape_1d(items)
        items = list(items)
        if all(not isinstance(i, Value) for i in items):
            return self.const(np.asarray([int(i) for i in items], np.int64))
        parts = [self.reshape_1d(self.cast(i, _int64())) if isinstance(i, Value) else
                 self.const(np.asarray([int(i)], np.int64)) for i in items]
        v = parts[0] if len(parts) == 1 else self.op("Concat", *parts, axis=0)
        v.dtype, v.shape = _int64(), (len(items),)
        return v

    def reshape_1d(self, v):
        if v.rank == 1:
            return v
        out = self.op("Reshape", v, self.const(np.asarray([-1], np.int64)))
        out.dtype, out.shape = v.dtype, (1,)
        return out

    def shape(self, x, start=0, end=None):
        """``x.shape[start:end]`` as a 1-D int64 Value (a constant unless some dim is dynamic)."""
        if not self.dynamic:
            return self.const(np.asarray(x.shape[start:end], np.int64))
        attrs = {"start": start} if start else {}
        if end is not None:
            attrs["end"] = end
        if self.opset >= 15:
            v = self.op("Shape", x, **attrs)
        else:
            v = self.op("Shape", x)
            if attrs:
                v = self.op("Slice", v, self.int_list([start]), self.int_list([INT64_MAX if end is None else end]))
        v.dtype, v.shape = _int64(), (len(x.shape[start:end]),)
        return v

    def dim(self, x, i):
        """``x.size(i)``: an int, or a 0-d int64 Value when dims are dynamic."""
        if not self.dynamic:
            return int(x.shape[i])
        v = self.op("Gather", self.shape(x), self.const(np.asarray(i % x.rank, np.int64)), axis=0)
        v.dtype, v.shape = _int64(), ()
        return v

    def reduce(self, op_type, x, axes, keepdims):
        """A Reduce* node over ``axes`` (None: all); axes are an input from opset 18 (13 for ReduceSum)."""
        attrs = {"keepdims": int(bool(keepdims))}
        if axes is None:
            return self.op(op_type, x, **attrs)
        axes = [int(a) for a in axes]
        if op_type == "ReduceSum" or self.opset >= 18:
            return self.op(op_type, x, self.const(np.asarray(axes, np.int64)), **attrs)
        return self.op(op_type, x, axes=axes, **attrs)

    def unsqueeze(self, x, axes):
        return self.op("Unsqueeze", x, self.const(np.asarray(list(axes), np.int64)))

    def squeeze(self, x, axes=None):
        return self.op("Squeeze", x, None if axes is None else self.const(np.asarray(list(axes), np.int64)))


def _int64():
    from .. import _dtype
    return _dtype.int64


def _ttorch_dtype(npd):
    from .. import _dtype
    name = {"bool": "bool"}.get(np.dtype(npd).name, np.dtype(npd).name)
    return getattr(_dtype, name)
