"""export's tracer: ``ttorch.fx`` tracing where every traced value also carries its real example value.

Each recorded call also runs on the example values, so a Proxy knows its value: its dtype, rank and static
sizes answer as plain Python values (PyTorch specialises them the same way), sizes of dynamic dimensions are
recorded as ``size`` nodes read at run time, and Python control flow on a value computed from tensor *data*
(``if x.sum() > 0``) raises ``GuardOnDataDependentSymNode`` naming the line. Every module is traced through
(none stays a ``call_module``); parameters, buffers and constant tensors become placeholders ``p_*``,
``b_*``, ``c_*`` ahead of the user's inputs. The example values of state and inputs are copies, so export
does not change the module or the inputs (BatchNorm's running statistics in train mode).

Differences from PyTorch (on purpose: ttorch has no dispatcher or fake tensors): nodes are ``ttorch``'s
public functions, ``operator`` functions and Tensor methods (``call_method``), not ATen overloads; in-place
calls stay in-place as in PyTorch 2.13's training IR; tensors created inside ``forward`` from constants are
computed at export time and lifted as constants (``c_lifted_tensor_0``); once a dimension is dynamic, every
size read from a tensor computed from that input is read at run time; a Python decision on a dynamic size
(``if T > 1``, ``range(T)``) takes the example's value and leaves a run-time check in the graph
(``_assert_scalar``), where PyTorch reasons symbolically; code that checks ``isinstance(x, Tensor)`` on a traced
value (ttorch's LSTM/GRU) or calls ttorch's private helpers on one cannot be exported (PyTorch can).
"""
import functools
import os
import sys

from .._tensor import Tensor
from ..fx._symbolic_trace import Tracer
from ..fx.graph import Graph
from ..fx.node import map_aggregate
from ..fx.proxy import Proxy, Attribute

_SKIP_DIRS = (os.path.dirname(os.path.dirname(__file__)) + os.sep + "fx", os.path.dirname(__file__))
# Tensor attributes and methods that describe the tensor, not its data: answered from the example value
_META_ATTRS = {"dtype", "device", "ndim", "is_cuda", "is_cpu", "layout", "requires_grad", "is_leaf", "is_sparse",
               "is_quantized", "is_meta", "is_nested", "is_mps", "itemsize", "nbytes", "names", "grad_fn"}
_META_METHODS = {"dim", "ndimension", "is_floating_point", "is_complex", "is_contiguous", "element_size",
                 "get_device", "stride", "storage_offset", "is_signed", "is_inference", "is_conj", "is_neg"}
_META_FUNCTIONS = {"numel", "is_floating_point", "is_complex", "is_same_size", "result_type", "is_conj",
                   "is_neg", "is_inference"}


class GuardOnDataDependentSymNode(RuntimeError):
    """Python control flow needed the value of a tensor's data while exporting."""


def _user_frame():
    f = sys._getframe(1)
    while f is not None and f.f_code.co_filename.startswith(_SKIP_DIRS):
        f = f.f_back
    return f


def _frame_text(f):
    import linecache
    if f is None:
        return ""
    code = linecache.getline(f.f_code.co_filename, f.f_lineno).strip()
    return f'File "{f.f_code.co_filename}", line {f.f_lineno}, in {f.f_code.co_name}\n    {code}'


def _data_dependent(proxy, what):
    where = _frame_text(_user_frame())
    raise GuardOnDataDependentSymNode(
        f"Could not guard on data-dependent expression {what}({proxy.node.name}): its value depends on the data "
        "of a tensor, which export does not know (the program is traced once). Rewrite the branch with "
        "torch.where, or move it out of the exported module.\n\nThe following call raised this error:\n  " + where)


def _assert_scalar(value, expected, message):
    """The check a shape decision made while exporting left in the graph (PyTorch's ``aten._assert_scalar``)."""
    if type(expected)(value) != expected:       # (a tensor's value under draft_export)
        raise RuntimeError(message)


class _ExportProxy(Proxy):
    """A Proxy that knows its example value (``tracer.value(proxy)``)."""

    def __getattr__(self, k):
        v = self.tracer.value(self)
        if isinstance(v, Tensor):
            if k in _META_ATTRS:
                return getattr(v, k)
            if k == "shape":
                return self.tracer.sizes(self)
            if k in ("size", "numel", "nelement") or k in _META_METHODS:
                return functools.partial(getattr(self.tracer, "_meta_" + k, self.tracer._meta_method), self, k)
        if not hasattr(v, k):      # ``getattr(x, "_flag", False)`` probes get their default
            raise AttributeError(f"'{type(v).__name__}' object has no attribute '{k}'")
        return _ExportAttribute(self, k)

    def __bool__(self):
        return self._scalar(bool)

    def _scalar(self, cast):
        if self.tracer.kind(self) == "sym":
            return self.tracer.specialize(self, cast)
        if self.tracer.draft is not None:        # draft_export: specialise and report instead of raising
            self.tracer.draft.append((f"{cast.__name__}({self.node.name})", _frame_text(_user_frame())))
            return self.tracer.specialize(self, cast)
        _data_dependent(self, cast.__name__)

    def __int__(self):
        return self._scalar(int)

    def __index__(self):
        return self._scalar(int)

    def __float__(self):
        return self._scalar(float)

    def __len__(self):
        v = self.tracer.value(self)
        if isinstance(v, Tensor):
            n = self.tracer.sizes(self, 0)[0]
            return n if isinstance(n, int) else self.tracer.specialize(n, int)
        return len(v)

    def __iter__(self):
        return iter([self[i] for i in range(len(self))])

    def __contains__(self, item):
        _data_dependent(self, "contains")


class _ExportAttribute(_ExportProxy, Attribute):
    pass


class _ExportTracer(Tracer):
    """Records ``root.forward`` with example values; see the module docstring."""

    def __init__(self, root):
        super().__init__()
        self.root = root
        self.graph = Graph(tracer_cls=type(self))
        self._module_paths = {id(m): n for n, m in root.named_modules()}
        self._attr_names = {id(v): (f"{n}.{k}" if n else k) for n, m in root.named_modules()
                            for k, v in vars(m).items() if isinstance(v, Tensor)}
        self._values, self._kinds = {}, {}
        self.state = {}            # id(original tensor) -> proxy of its placeholder
        self.constants = {}        # target -> original constant tensor
        self._n_lifted = 0
        self._patched_classes = set()
        self.draft = None          # draft_export: the list of data-dependent decisions taken on the example
        self.first_user = None     # the first user-input placeholder: constants are inserted before it
        self.module_stack = {}
        self.sym_names = {}        # (node, dim) -> proxy of the size node
        self.out_spec = None

    # ------------------------------------------------------------------ values
    def value(self, p):
        return self._values[p.node]

    def kind(self, p):
        return self._kinds[p.node]

    def _set(self, proxy, value, kind, dyn=False):
        self._values[proxy.node] = value
        self._kinds[proxy.node] = kind
        if dyn:
            proxy.node.meta["_dyn"] = True
        return proxy

    def placeholder(self, name, value, kind="tensor", dyn=False, before=None):
        if before is not None:
            with self.graph.inserting_before(before):
                p = self.proxy(self.graph.placeholder(name))
        else:
            p = self.proxy(self.graph.placeholder(name))
        return self._set(p, value, kind, dyn)

    def sizes(self, p, only=None):
        """The shape of a traced tensor: ints, and Proxies for the dimensions that may change (or just ``only``)."""
        from .._tensor import Size
        v = self.value(p)
        dyn = p.node.meta.get("_dyn")
        if not dyn:
            return v.shape
        dims = p.node.meta.get("_dyn_dims")       # a user input: only its declared dimensions
        out = []
        for i, s in enumerate(v.shape):
            if (dims is not None and i not in dims) or (only is not None and i != only % len(v.shape)):
                out.append(s)
                continue
            key = (p.node, i)
            if key not in self.sym_names:
                node = self.graph.create_node("call_method", "size", (p.node, i), {}, name="sym_size_int")
                self.sym_names[key] = self._set(self.proxy(node), s, "sym", True)
                self._annotate(node)
            out.append(self.sym_names[key])
        return Size(out)

    def specialize(self, p, cast):
        """Python needs a dynamic size's value (``if T > 1``, ``range(T)``): use the example's and check it
        at run time, so another size fails loudly instead of running a program traced for this one."""
        value = cast(self.value(p))
        f = _user_frame()
        where = f"{f.f_code.co_filename}:{f.f_lineno}" if f is not None else "?"
        msg = (f"Runtime assertion failed for expression {cast.__name__}({p.node.name}) == {value!r} on node "
               f"'{p.node.name}' (the program was exported with this value at {where})")
        node = self.graph.create_node("call_function", _assert_scalar, (p.node, value, msg), {})
        node.meta["stack_trace"] = _frame_text(_user_frame())
        return value

    def _meta_size(self, p, _k, dim=None):
        return self.sizes(p) if dim is None else self.sizes(p, dim)[dim]

    def _meta_numel(self, p, _k):
        n = 1
        for s in self.sizes(p):
            n = n * s
        return n

    _meta_nelement = _meta_numel

    def _meta_method(self, p, k, *args, **kwargs):
        return getattr(self.value(p), k)(*args, **kwargs)

    # ------------------------------------------------------------------ fx hooks
    def proxy(self, node):
        return _ExportProxy(node, self)

    def is_leaf_module(self, m, module_qualified_name):
        return False

    def call_module(self, m, forward, args, kwargs):
        path = self._module_paths.get(id(m))
        if path is None:
            return forward(*args, **kwargs)
        self._patch_class(type(m))
        key = path or "L__self__"
        self.module_stack[key] = (path, f"{type(m).__module__}.{type(m).__qualname__}")
        try:
            return super().call_module(m, forward, args, kwargs)
        finally:
            self.module_stack.pop(key, None)

    def _patch_class(self, cls):
        # modules that keep their function as a class attribute (``_fn = staticmethod(F.relu)``) call it
        # through the class: point those attributes at the recording wrappers too (restored after the trace)
        from ..fx._symbolic_trace import _by_id
        for klass in cls.__mro__:
            if klass in self._patched_classes or self._patcher is None:
                continue
            self._patched_classes.add(klass)
            for k, v in list(vars(klass).items()):
                w = _by_id.get(id(v.__func__)) if isinstance(v, staticmethod) else None
                if w is not None:
                    self._patcher.patch_attr(klass, k, staticmethod(w))

    def getattr(self, attr, attr_val, parameter_proxy_cache):
        if isinstance(attr_val, Tensor):
            return self.state.get(id(attr_val), attr_val)
        return attr_val

    def create_arg(self, a):
        def leaf(x):
            if isinstance(x, Tensor):
                return self._constant(x).node
            return getattr(x, "__fx_original__", x)     # a recording wrapper passed as a value
        return super().create_arg(map_aggregate(a, leaf))

    def _constant(self, t):
        p = self.state.get(id(t))
        if p is None:
            target = self._attr_names.get(id(t))
            if target is None:
                target = f"lifted_tensor_{self._n_lifted}"
                self._n_lifted += 1
            self.constants[target] = t
            p = self.placeholder("c_" + target.replace(".", "_"), t.detach().clone(), before=self.first_user)
            p.node.meta["_state"] = ("constant", target)
            self.state[id(t)] = p
        return p

    def create_node(self, kind, target, args, kwargs, name=None, type_expr=None):
        node = super().create_node(kind, target, args, kwargs, name, type_expr)
        if kind not in ("placeholder", "output"):
            node.meta["stack_trace"] = _frame_text(_user_frame())
            node.meta["nn_module_stack"] = dict(self.module_stack)
        return node

    def create_proxy(self, kind, target, args, kwargs, name=None, type_expr=None, proxy_factory_fn=None):
        if kind == "output":
            return self._output(args[0])
        found = []

        def real(x):
            if isinstance(x, Proxy):
                found.append(x)
                return self._values[x.node]
            return x
        rargs, rkwargs = map_aggregate(args, real), map_aggregate(kwargs, real)
        if kind == "call_function":
            value = target(*rargs, **rkwargs)
            if getattr(target, "__name__", None) in _META_FUNCTIONS and target.__module__.startswith("ttorch"):
                if not isinstance(value, Tensor):
                    return value
        else:
            value = getattr(rargs[0], target)(*rargs[1:], **rkwargs)
        kinds = {self._kinds[p.node] for p in found}
        dyn = any(p.node.meta.get("_dyn") for p in found)
        tensors = []
        map_aggregate(value, lambda x: tensors.append(x) if isinstance(x, Tensor) else None)
        if value is None:
            return None                 # a check (``_check_channels(...)``): nothing to compute later
        if tensors:
            new_kind = "tensor"
        elif kinds & {"tensor", "data"}:
            new_kind = "data"
        elif "sym" in kinds:
            new_kind = "sym"
        else:
            return value
        p = super().create_proxy(kind, target, args, kwargs, name, type_expr)
        self._set(p, value, new_kind, dyn)
        self._annotate(p.node)
        return p

    def _annotate(self, node):
        from ..fx.passes.shape_prop import _extract_tensor_metadata
        v = self._values[node]
        if isinstance(v, Tensor):
            node.meta["val"] = node.meta["tensor_meta"] = _extract_tensor_metadata(v)
        elif isinstance(v, (tuple, list)) and all(isinstance(t, Tensor) for t in v):
            node.meta["val"] = node.meta["tensor_meta"] = type(v)(_extract_tensor_metadata(t) for t in v) \
                if not hasattr(v, "_fields") else tuple(_extract_tensor_metadata(t) for t in v)
        else:
            node.meta["val"] = v

    def _output(self, result):
        from ._pytree import flatten
        leaves, self.out_spec = flatten(result)
        flat = []
        for x in leaves:
            if isinstance(x, Proxy) and self._kinds[x.node] == "tensor" and isinstance(self.value(x), Tensor):
                flat.append(x.node)
            elif isinstance(x, Tensor):
                flat.append(self._constant(x).node)
            elif isinstance(x, Proxy):
                flat.append(x.node)
            else:
                flat.append(x)
        return self.graph.output(tuple(flat))
