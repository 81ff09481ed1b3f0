"""Concrete-value tracing for the ONNX exporter: ``ttorch.fx`` symbolic tracing whose Proxies also carry
the values the example inputs give.

Every node the tracer creates is run at once on the values of its arguments, so Python control flow on a
traced value (``if x.dim() == 3``, ``assert key.shape == value.shape``, ``for t in x.unbind()``) takes the
branch the example inputs take and is specialised there, as PyTorch's TorchScript-tracing exporter does.
Modules are traced through down to ``ttorch``/``ttorch.nn.functional`` calls, tensor methods and Python
operators. A public function the exporter has no symbolic for is traced through as well (its body recorded),
so composites such as ``F.multi_head_attention_forward`` decompose into ops the exporter knows.

Besides fx's patching of the public namespaces, a trace patches (process-wide, restored after) the table
``ttorch.ops.FUNCTIONS``, Tensor's operators and ``__getitem__`` (a real tensor meeting a traced value records
the op) and ``autograd.Function.apply`` (Functions with a ``symbolic`` are recorded whole): export from one
thread at a time.
"""
import inspect
import math
import operator

from ..fx import Graph, Tracer
from ..fx import _symbolic_trace as _st
from ..fx.node import map_arg, map_aggregate
from ..fx.proxy import Attribute, Proxy, _has_proxy

_RECORDED_MODULES = ("LSTM", "GRU", "RNN")
_META_ATTRS = {"dtype", "device", "ndim", "is_cuda", "requires_grad", "layout", "is_sparse", "is_quantized",
               "is_meta", "is_nested", "is_leaf", "is_cpu", "itemsize"}


class _Concrete:
    """Python conversions of a traced value use its example value (and specialise the graph to it)."""

    def _value(self):
        return self.tracer.values[self.node]

    def __float__(self):
        return float(self._value())

    def __int__(self):
        return int(self._value())

    def __index__(self):
        return operator.index(self._value())

    def __len__(self):
        return len(self._value())

    @property
    def __class__(self):
        # ``isinstance(x, Tensor)`` holds for a traced tensor (library code checks it: ``_none_or_dtype``);
        # other traced values keep the Proxy class, so containers are never mistaken for tuples
        from .._tensor import Tensor
        return Tensor if isinstance(self._value(), Tensor) else type(self)

    def __setitem__(self, index, value):
        from .errors import UnsupportedOperatorError
        raise UnsupportedOperatorError("aten::index_put_", self.tracer.opset, None)

    def __getattr__(self, k):
        if k in _META_ATTRS:         # fixed by the example inputs: the value itself, not a graph node
            return getattr(self._value(), k)
        return _ConcreteAttribute(self, k)


class _ConcreteProxy(_Concrete, Proxy):
    pass


class _ConcreteAttribute(_Concrete, Attribute):
    pass


_TENSOR_DUNDERS = ("__getitem__", "__setitem__", "__add__", "__radd__", "__sub__", "__rsub__", "__mul__",
                   "__rmul__", "__truediv__", "__rtruediv__", "__floordiv__", "__rfloordiv__", "__mod__", "__pow__",
                   "__rpow__", "__matmul__", "__rmatmul__", "__and__", "__or__", "__xor__", "__eq__", "__ne__",
                   "__lt__", "__le__", "__gt__", "__ge__")


def _defer_to_proxy(orig, dunder):
    def method(self, *args):
        p = _has_proxy(args, {})
        if p is None:
            return orig(self, *args)
        if dunder == "__getitem__":
            return p.tracer.create_proxy("call_function", operator.getitem, (self,) + args, {})
        if dunder == "__setitem__":
            from .errors import UnsupportedOperatorError
            raise UnsupportedOperatorError("aten::index_put_", p.tracer.opset, None)
        return NotImplemented            # Python then asks the Proxy's reflected operator, which records it
    method.__name__ = dunder
    return method


_FUNCTION_CALLS = {}      # autograd Function class -> the function recorded for its apply


def _function_apply(orig_apply):
    def apply(cls, *args, **kwargs):
        p = _has_proxy(args, kwargs)
        if p is None or not hasattr(cls, "symbolic"):
            return orig_apply(cls, *args, **kwargs)
        fn = _FUNCTION_CALLS.get(cls)
        if fn is None:
            def fn(*a, **k):
                return orig_apply(cls, *a, **k)
            fn.__name__ = fn.__qualname__ = cls.__name__
            fn.__onnx_symbolic__ = cls.symbolic
            _FUNCTION_CALLS[cls] = fn
        return p.tracer.create_proxy("call_function", fn, args, kwargs)
    return apply


class ConcreteTracer(Tracer):
    """Records a module's forward on example inputs; ``values[node]`` holds what each node computed.

    Args:
        lowerable (callable): ``lowerable(target) -> bool``, whether a called function has a symbolic;
            the others are traced through.
        opset (int): the target opset (for error messages).
    """

    def __init__(self, lowerable, opset):
        super().__init__(autowrap_modules=(math,))
        self.opset = opset
        from ..nn import Module
        self._orig_module_call = Module.__call__
        self._lowerable = lowerable
        self._evaluating = 0
        self._pending = []
        self.values = {}

    # ------------------------------------------------------------------ fx hooks
    def is_leaf_module(self, m, module_qualified_name):
        return type(m).__name__ in _RECORDED_MODULES and type(m).__module__.startswith("ttorch.nn")

    def call_module(self, m, forward, args, kwargs):
        # recurrent modules map to ONNX's RNN/LSTM/GRU whole; every other module is traced through (also
        # one made inside forward, which has no qualified name)
        if type(m).__name__ in _RECORDED_MODULES and type(m).__module__.startswith("ttorch.nn") \
                and not self._evaluating and _has_proxy(args, kwargs) is not None:
            return super().call_module(m, forward, args, kwargs)
        if not self._evaluating and self._patcher is not None:
            _st._patch_globals(self._patcher, getattr(type(m).forward, "__globals__", None))
        return forward(*args, **kwargs)

    def getattr(self, attr, attr_val, parameter_proxy_cache):
        if self._evaluating:
            return attr_val
        return super().getattr(attr, attr_val, parameter_proxy_cache)

    def proxy(self, node):
        return _ConcreteProxy(node, self)

    def to_bool(self, obj):
        return bool(self.values[obj.node])

    def iter(self, obj):
        return iter([obj[i] for i in range(len(self.values[obj.node]))])

    def keys(self, obj):
        return self.values[obj.node].keys()

    def create_proxy(self, kind, target, args, kwargs, name=None, type_expr=None, proxy_factory_fn=None):
        if kind == "call_function" and not self._lowerable(target) and inspect.isfunction(target):
            # no symbolic: record what the function's body does instead
            from .errors import UnsupportedOperatorError
            if self._patcher is not None:     # its own module's globals (``from .linear import linear``)
                _st._patch_globals(self._patcher, getattr(target, "__globals__", None))
            try:
                return target(*args, **kwargs)
            except UnsupportedOperatorError:
                raise
            except Exception as e:
                raise UnsupportedOperatorError(f"aten::{target.__name__}", self.opset, None) from e
        return super().create_proxy(kind, target, args, kwargs, name, type_expr, proxy_factory_fn)

    def create_node(self, kind, target, args, kwargs, name=None, type_expr=None):
        node = super().create_node(kind, target, args, kwargs, name, type_expr)
        if kind == "placeholder":
            self.values[node] = self._pending.pop(0)
        elif kind != "output":
            self.values[node] = self._evaluate(node)
        return node

    def _evaluate(self, node):
        a = map_arg(node.args, self.values.__getitem__)
        k = map_arg(node.kwargs, self.values.__getitem__)
        self._evaluating += 1
        try:
            if node.op == "get_attr":
                obj = self.root
                for part in node.target.split("."):
                    obj = getattr(obj, part)
                return obj
            if node.op == "call_function":
                return node.target(*a, **k)
            if node.op == "call_method":
                return getattr(a[0], node.target)(*a[1:], **k)
            return self._orig_module_call(self.root.get_submodule(node.target), *a, **k)
        finally:
            self._evaluating -= 1

    # ------------------------------------------------------------------ entry point
    def trace_module(self, root, args, kwargs):
        """Trace ``root.forward(*args, **kwargs)``; tensors (also inside lists, tuples, dicts) become inputs.

        Returns the Graph; ``input_names`` lists the inputs' names (a parameter's, or ``name_i`` inside one).
        """
        from .._tensor import Tensor
        self.root = root
        self.graph = Graph(tracer_cls=type(self))
        self._module_paths = {id(m): n for n, m in root.named_modules()}
        self.tensor_attrs = {id(v): (f"{n}.{k}" if n else k) for n, m in root.named_modules()
                             for k, v in vars(m).items() if isinstance(v, Tensor)}
        fn = type(root).forward
        bound = inspect.signature(fn).bind(root, *args, **kwargs)
        self.input_names = []

        def to_proxy(pname, value):
            count = [0]

            def leaf(x):
                if not isinstance(x, Tensor):
                    return x
                name = pname if isinstance(value, Tensor) else f"{pname}_{count[0]}"
                count[0] += 1
                self.input_names.append(name)
                self._pending.append(x)
                return self.create_proxy("placeholder", name, (), {})
            return map_aggregate(value, leaf)

        call_args, call_kwargs = [root], {}
        params = inspect.signature(fn).parameters
        for pname, value in list(bound.arguments.items())[1:]:
            kind = params[pname].kind
            value = to_proxy(pname, value)
            if kind == inspect.Parameter.VAR_POSITIONAL:
                call_args.extend(value)
            elif kind == inspect.Parameter.VAR_KEYWORD:
                call_kwargs.update(value)
            elif kind == inspect.Parameter.KEYWORD_ONLY:
                call_kwargs[pname] = value
            else:
                call_args.append(value)
        from ..ops import FUNCTIONS
        _st._build_table()
        with _st._Patcher() as patcher:
            # ttorch's own modules call some functions through this table (``_F["zeros_like"]``)
            for fname, f in list(FUNCTIONS.items()):
                w = _st._by_id.get(id(f))
                if w is not None:
                    patcher.patch(FUNCTIONS, fname, w)
            # autograd Functions with a ``symbolic`` staticmethod are recorded whole and lowered by it
            from ..autograd.function import Function
            patcher.patch_attr(Function, "apply", classmethod(_function_apply(Function.__dict__["apply"].__func__)))
            # a real tensor meeting a traced value (``self.mask[:, :T]``, ``self.scale * n``) records the op
            # instead of reading the traced value's example (which would freeze a dynamic size)
            for dunder in _TENSOR_DUNDERS:
                orig = Tensor.__dict__.get(dunder)
                if orig is not None:
                    patcher.patch_attr(Tensor, dunder, _defer_to_proxy(orig, dunder))
            before = set(vars(root))
            try:
                self._run_patched(fn, call_args, call_kwargs)
            finally:
                # fx keeps tensors the forward creates as ``_tensor_constantN`` attributes of the root; the
                # values are recorded already, so the user's model is left as it was
                for name in set(vars(root)) - before:
                    if name.startswith("_tensor_constant"):
                        delattr(root, name)
        return self.graph
