"""``save``/``load`` of an ExportedProgram as a ``.pt2`` zip archive.

Layout: ``archive/version``, ``archive/models/model.json`` (the graph: nodes with their op, name, target as
a qualified name such as ``torch.nn.functional.linear`` or ``operator.add``, arguments as tagged JSON; the
signature, specs, guards and ranges) and one raw little-endian array per tensor under ``archive/data/``
(its dtype and shape in model.json). Written to a temporary file and renamed into place, so a reader never
sees half an archive. Difference from PyTorch: this is ttorch's own schema, not PyTorch's ``.pt2`` one:
PyTorch cannot load these archives, nor ttorch PyTorch's.
"""
import io
import json
import math
import operator
import os
import zipfile

import numpy as np

from .. import _dtype as D
from .._tensor import Tensor
from ..nn import Parameter
from . import graph_signature as gs
from .dynamic_shapes import ValueRanges, _Symbol, int_oo
from ._pytree import spec_to_json, spec_from_json

_VERSION = "ttorch-export-1"


def _encode(a, enc_target):
    from ..fx.node import Node
    if isinstance(a, Node):
        return {"node": a.name}
    if a is None or isinstance(a, (bool, int, str)):
        return a
    if isinstance(a, float):
        return a if math.isfinite(a) else {"float": repr(a)}
    if isinstance(a, (tuple, list)):
        items = [_encode(x, enc_target) for x in a]
        return items if type(a) is list else {"tuple": items}
    if isinstance(a, dict):
        return {"dict": [[k, _encode(v, enc_target)] for k, v in a.items()]}
    if isinstance(a, slice):
        return {"slice": [_encode(x, enc_target) for x in (a.start, a.stop, a.step)]}
    if a is Ellipsis:
        return {"ellipsis": True}
    if isinstance(a, D.dtype):
        return {"dtype": a.name}
    if type(a).__name__ == "device":
        return {"device": str(a)}
    if callable(a):
        return {"fn": enc_target(a)}
    raise TypeError(f"ttorch.export.save: cannot serialize the graph argument {a!r} of type {type(a).__name__}")


def _decode(a, env):
    import ttorch
    if isinstance(a, list):
        return [_decode(x, env) for x in a]
    if not isinstance(a, dict):
        return a
    (tag, v), = a.items()
    if tag == "node":
        return env[v]
    if tag == "tuple":
        return tuple(_decode(x, env) for x in v)
    if tag == "dict":
        return {k: _decode(x, env) for k, x in v}
    if tag == "slice":
        return slice(*(_decode(x, env) for x in v))
    if tag == "float":
        return float(v)
    if tag == "ellipsis":
        return Ellipsis
    if tag == "dtype":
        return getattr(ttorch, v)
    if tag == "device":
        return ttorch.device(v)
    if tag == "fn":
        return _resolve(v)
    raise ValueError(f"ttorch.export.load: unknown argument tag {tag!r}")


def _target_name(fn):
    from ..fx.node import _qualified_name
    return _qualified_name(fn)


def _resolve(name):
    """The function of a qualified name written by ``_target_name`` (``torch.`` names are ttorch's)."""
    import builtins
    import importlib
    head, _, rest = name.partition(".")
    if head == "torch":
        obj = importlib.import_module("ttorch")
        for part in rest.split("."):
            obj = getattr(obj, part, None) or importlib.import_module(f"{obj.__name__}.{part}")
        return obj
    if head in ("operator", "builtins", "math"):
        return getattr({"operator": operator, "builtins": builtins, "math": math}[head], rest)
    mod, _, attr = name.rpartition(".")
    while mod:
        try:
            obj = importlib.import_module(mod)
            for part in attr.split("."):
                obj = getattr(obj, part)
            return obj
        except (ImportError, AttributeError):
            mod, _, head = mod.rpartition(".")
            attr = f"{head}.{attr}"
    raise RuntimeError(f"ttorch.export.load: cannot find the function {name}")


def _arg_json(arg):
    return {"type": type(arg).__name__, **{f.name: getattr(arg, f.name) for f in arg.__dataclass_fields__.values()
                                           if f.name != "fake_val"}}


def _tensor_bytes(t):
    a = np.ascontiguousarray(t.detach()._host())
    return a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes(), {
        "dtype": t.dtype.name, "shape": list(t.shape), "device": str(t.device),
        "parameter": isinstance(t, Parameter), "requires_grad": t.requires_grad}


def save(ep, f, *, extra_files=None, opset_version=None, pickle_protocol=2):
    """Write ``ep`` to ``f`` (a path or a binary file object) as a ``.pt2`` zip archive (ttorch's schema)."""
    from .exported_program import ExportedProgram
    if not isinstance(ep, ExportedProgram):
        raise TypeError(f"The 'ep' parameter must be an instance of 'ExportedProgram', got '{type(ep).__name__}' "
                        "instead.")
    nodes = []
    for n in ep.graph.nodes:
        target = n.target if isinstance(n.target, str) else _target_name(n.target)
        nodes.append({"op": n.op, "name": n.name, "target": target, "args": _encode(n.args, _target_name),
                      "kwargs": _encode(n.kwargs, _target_name), "stack_trace": n.meta.get("stack_trace"),
                      "nn_module_stack": n.meta.get("nn_module_stack"), "dyn": bool(n.meta.get("_dyn")),
                      "val": _val_json(n.meta.get("val")),
                      "sym_shape": [str(s) if isinstance(s, _Symbol) else s for s in n.meta.get("_sym_shape", [])]
                      if "_sym_shape" in n.meta else None})
    sig = ep.graph_signature
    tensors, blobs = {}, {}
    for kind, store in (("state_dict", ep.state_dict), ("constants", ep.constants)):
        for k, t in store.items():
            blobs[f"{kind}/{len(blobs)}"], meta = _tensor_bytes(t)
            tensors[f"{kind}/{len(blobs) - 1}"] = {"kind": kind, "key": k, **meta}
    model = {
        "version": _VERSION, "nodes": nodes,
        "input_specs": [{"kind": s.kind.name, "arg": _arg_json(s.arg), "target": s.target,
                         "persistent": s.persistent} for s in sig.input_specs],
        "output_specs": [{"kind": s.kind.name, "arg": _arg_json(s.arg), "target": s.target} for s in sig.output_specs],
        "range_constraints": {k: [v.lower, None if v.upper == int_oo else v.upper]
                              for k, v in ep.range_constraints.items()},
        "guards": [[name, kind, [_sym_json(s) for s in info] if kind == "tensor" else info]
                   for name, kind, info in ep._guards],
        "in_spec": spec_to_json(ep._in_spec), "out_spec": spec_to_json(ep._out_spec),
        "mutated": sorted(ep._mutated), "forward_arg_names": ep._forward_arg_names, "training": ep._training,
        "tensors": tensors}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/version", _VERSION)
        z.writestr("archive/models/model.json", json.dumps(model))
        for k, b in blobs.items():
            z.writestr(f"archive/data/{k}", b)
        for k, v in (extra_files or {}).items():
            z.writestr(f"archive/extra/{k}", v)
    if isinstance(f, (str, os.PathLike)):
        tmp = f"{os.fspath(f)}.tmp{os.getpid()}"
        try:
            with open(tmp, "wb") as fh:
                fh.write(buf.getvalue())
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, f)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    else:
        f.write(buf.getvalue())


def load(f, *, extra_files=None, expected_opset_version=None):
    """Read an ExportedProgram written by ``save``; ``extra_files`` (a dict of names) is filled in place."""
    from ..fx import Graph
    from ..nn import Module
    from .exported_program import ExportedProgram
    with zipfile.ZipFile(f, "r") as z:
        names = set(z.namelist())
        if "archive/version" not in names or z.read("archive/version").decode() != _VERSION:
            raise RuntimeError("ttorch.export.load: not an archive written by ttorch.export.save (PyTorch's .pt2 "
                               "schema is not supported)")
        model = json.loads(z.read("archive/models/model.json"))
        blobs = {k: z.read(f"archive/data/{k}") for k in model["tensors"]}
        for k in list(extra_files or {}):
            if f"archive/extra/{k}" in names:
                extra_files[k] = z.read(f"archive/extra/{k}").decode()
    stores = {"state_dict": {}, "constants": {}}
    for k, meta in model["tensors"].items():
        dt = getattr(D, meta["dtype"])
        a = np.frombuffer(blobs[k], dtype=np.dtype(dt.np).newbyteorder("<")).astype(dt.np).reshape(meta["shape"])
        t = Tensor._wrap_np(a.copy(), dt)
        if meta["device"] != "cpu":
            t = t.to(meta["device"])
        if meta["parameter"]:
            t = Parameter(t, requires_grad=meta["requires_grad"])
        stores[meta["kind"]][meta["key"]] = t
    g, env = Graph(), {}
    for n in model["nodes"]:
        if n["op"] == "output":
            env[n["name"]] = g.output(_decode(n["args"], env)[0])
            continue
        target = n["target"] if n["op"] != "call_function" else _resolve(n["target"])
        node = g.create_node(n["op"], target, _decode(n["args"], env), _decode(n["kwargs"], env), n["name"])
        for key, meta_key in (("stack_trace", "stack_trace"), ("nn_module_stack", "nn_module_stack")):
            if n[key] is not None:
                node.meta[meta_key] = n[key]
        if n["dyn"]:
            node.meta["_dyn"] = True
        if n["val"] is not None:
            node.meta["val"] = _val_from_json(n["val"])
        if n["sym_shape"] is not None:
            node.meta["_sym_shape"] = [_Symbol(s) if isinstance(s, str) else s for s in n["sym_shape"]]
        env[n["name"]] = node
    args = {"TensorArgument": gs.TensorArgument, "SymIntArgument": gs.SymIntArgument,
            "ConstantArgument": gs.ConstantArgument}

    def arg(d):
        d = dict(d)
        return args[d.pop("type")](**d)
    sig = gs.ExportGraphSignature(
        [gs.InputSpec(gs.InputKind[s["kind"]], arg(s["arg"]), s["target"], s["persistent"])
         for s in model["input_specs"]],
        [gs.OutputSpec(gs.OutputKind[s["kind"]], arg(s["arg"]), s["target"]) for s in model["output_specs"]])
    ranges = {_Symbol(k): ValueRanges(lo, int_oo if hi is None else hi)
              for k, (lo, hi) in model["range_constraints"].items()}
    ep = ExportedProgram(Module(), g, sig, stores["state_dict"], ranges, constants=stores["constants"])
    ep._in_spec, ep._out_spec = spec_from_json(model["in_spec"]), spec_from_json(model["out_spec"])
    ep._guards = [(name, kind, [_sym_from_json(s) for s in info] if kind == "tensor" else info)
                  for name, kind, info in model["guards"]]
    ep._mutated, ep._forward_arg_names = set(model["mutated"]), model["forward_arg_names"]
    ep._training = model["training"]
    return ep


def _sym_json(s):
    return {"sym": str(s.base), "a": s.a, "b": s.b} if isinstance(s, _Symbol) else s


def _sym_from_json(s):
    return _Symbol(s["sym"]).derived(s["a"], s["b"]) if isinstance(s, dict) else s


def _val_json(v):
    if hasattr(v, "dtype") and hasattr(v, "shape"):
        return {"dtype": v.dtype.name, "shape": list(v.shape)}
    return v if isinstance(v, int) else None


def _val_from_json(v):
    from .._tensor import Size
    from ..fx.passes.shape_prop import TensorMetadata
    if isinstance(v, dict):
        return TensorMetadata(Size(v["shape"]), getattr(D, v["dtype"]), False, None, None, False, {})
    return v
