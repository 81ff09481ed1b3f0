"""Triton source for one fused elementwise group, written to a file, imported, cached by structure.

A group is a list of elementwise steps, each what ``ops/elementwise.ew_launch`` was asked to run:
the op's ``@triton.jit`` function ``FN``, its operands (an external tensor, an earlier step's value,
or a scalar passed by value), ``p0``/``p1``, the compute dtype and the output dtype. The generated
kernel does per element exactly what the template does per launch: load each operand and cast it to
the step's compute dtype, apply ``FN``, cast to the step's output dtype; only the outputs that leave
the group are stored. So a float32 chain gives the same bits as the eager launches, in one launch.

Triton reads a kernel's source from its file, so the source is written to a per-process directory
(removed at exit; ``TTORCH_INDUCTOR_DIR`` names one to keep) and imported; the ops' functions are
imported there by name (``from ttorch.ops.unary import _tanh``), which lets a process without the
interpreter import the same file and compile it ahead of time.
"""
import atexit
import hashlib
import importlib
import importlib.util
import os
import shutil
import sys
import tempfile

from .. import _dtype as D
from ..ops import _launch
from ..ops._launch import SIMULATED, next_pow2

_DIR = [None]
KERNELS = {}        # structure key -> FusedKernel
counters = {"kernels": 0, "launches": 0}


class Step:
    """One elementwise op of a group. ``operands``: ("in", k) external tensor k, ("v", j) step j's
    value, ("s", k) scalar k (by value); ``params``: indices of the scalars passed as p0, p1."""
    __slots__ = ("fn", "operands", "params", "compute", "out_dtype")

    def __init__(self, fn, operands, params, compute, out_dtype):
        self.fn, self.operands, self.params = fn, tuple(operands), tuple(params)
        self.compute, self.out_dtype = compute, out_dtype

    def key(self, scalars):
        return (self.fn, self.operands, tuple(type(scalars[k]) for k in self.params), self.compute, self.out_dtype)


def _tl(d):
    return "tl.int1" if d is D.bool else "tl." + {"float32": "float32", "float16": "float16", "bfloat16": "bfloat16",
                                                   "float64": "float64"}.get(d.name, d.name)


def _fn_ref(fn):
    """(module, name) that imports ``fn`` (a jit function), or None."""
    inner = getattr(fn, "fn", fn)
    mod, name = getattr(inner, "__module__", None), getattr(inner, "__name__", None)
    try:
        if mod and name and getattr(importlib.import_module(mod), name) is fn:
            return mod, name
    except ImportError:
        pass
    return None


def source(steps, n_in, contig, outputs, ndim, scalar_types, red=None):
    """The kernel's source. ``contig[k]``: external tensor k has the output's shape, contiguous (read at
    the flat offset); ``outputs``: the steps whose values are stored, in order; ``scalar_types``: per
    scalar, its Python type (a float arrives as fp32, an int as i32/i64, as in the eager launch).
    ``red``: ("sum" or "mean", step j): one program a row of the last dim, which also reduces step j's
    values over it (accumulating in float32, float64 for float64) into ``r``."""
    lines = ["import triton", "import triton.language as tl"]
    fns, injected = {}, {}
    for s in steps:
        if s.fn not in fns:
            fns[s.fn] = f"F{len(fns)}"
            ref = _fn_ref(s.fn)
            if ref is not None:
                lines.append(f"from {ref[0]} import {ref[1]} as {fns[s.fn]}")
            else:
                injected[fns[s.fn]] = s.fn
                lines.append(f"{fns[s.fn]} = None  # set on import")
    outs = [f"o{i}" for i in range(len(outputs))]
    ins = [f"x{k}" for k in range(n_in)]
    scal = [f"s{k}" for k in range(len(scalar_types))]
    sizes = [f"S{d}" for d in range(1, ndim)]
    strides = [f"x{k}_st{d}" for k in range(n_in) if not contig[k] for d in range(ndim)]
    if red is None:
        args = outs + ins + scal + ["n"] + sizes + strides + ["BLOCK: tl.constexpr"]
        body = ["    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)", "    mask = offs < n"]
    else:       # (n: the row's length; a program a row)
        args = outs + ["r"] + ins + scal + ["n"] + sizes + strides + ["BLOCK: tl.constexpr"]
        body = ["    cols = tl.arange(0, BLOCK)", "    mask = cols < n",
                "    offs = tl.program_id(0).to(tl.int64) * n + cols"]
    if not all(contig[:n_in]) and ndim:
        body.append("    t = offs")
        for d in range(ndim - 1, 0, -1):
            body += [f"    i{d} = t % S{d}", f"    t = t // S{d}"]
        body.append("    i0 = t")
    for k in range(n_in):
        where = "offs" if contig[k] else " + ".join(f"i{d} * x{k}_st{d}" for d in range(ndim)) or "0"
        body.append(f"    a{k} = tl.load(x{k} + ({where}), mask=mask)")
    for j, s in enumerate(steps):
        c = _tl(s.compute)     # (as ew_launch's COMPUTE: bool is tl.int1 there too)
        opnds = []
        for kind, k in s.operands:
            if kind == "in":
                opnds.append(f"a{k}.to({c})")
            elif kind == "v":
                opnds.append(f"v{k}.to({c})")
            else:
                opnds.append(f"tl.cast(s{k}, {c})")
        params = [f"s{k}" for k in s.params]
        body.append(f"    v{j} = {fns[s.fn]}({', '.join(opnds + params)}).to({_tl(s.out_dtype)})")
    for i, j in enumerate(outputs):
        body.append(f"    tl.store(o{i} + offs, v{j}.to(o{i}.dtype.element_ty), mask=mask)")
    if red is not None:
        acc = "tl.float64" if steps[red[1]].out_dtype is D.float64 else "tl.float32"
        body.append(f"    acc = tl.sum(tl.where(mask, v{red[1]}.to({acc}), 0.0), axis=0)")
        if red[0] == "mean":
            body.append("    acc = acc / n")
        body.append("    tl.store(r + tl.program_id(0), acc.to(r.dtype.element_ty))")
    head = ["", "", "@triton.jit", f"def fused_kernel({', '.join(args)}):"]
    return "\n".join(lines + head + body) + "\n", injected


def _cache_dir():
    """``TTORCH_INDUCTOR_DIR`` (kept), else a directory of this process's, removed at exit."""
    d = os.environ.get("TTORCH_INDUCTOR_DIR")
    if d:
        os.makedirs(d, exist_ok=True)
        return d
    d = tempfile.mkdtemp(prefix="ttorch_inductor_")
    atexit.register(shutil.rmtree, d, True)
    return d


class FusedKernel:
    """A generated kernel, the file it lives in, and how to launch it."""

    def __init__(self, src, injected):
        self.src = src
        name = "ttorch_fused_" + hashlib.sha1(src.encode()).hexdigest()[:16]
        if _DIR[0] is None:
            _DIR[0] = _cache_dir()
        self.path = os.path.join(_DIR[0], name + ".py")
        with open(self.path, "w") as f:
            f.write(src)
        spec = importlib.util.spec_from_file_location(name, self.path)
        mod = importlib.util.module_from_spec(spec)
        mod.__dict__.update(injected)
        sys.modules[name] = mod         # (Triton may look the module up by name)
        spec.loader.exec_module(mod)
        mod.__dict__.update(injected)   # after exec: the file's ``F = None`` lines are placeholders
        self.kernel = mod.fused_kernel
        self.signature = None   # argument types of the first launch, for ahead-of-time checks (aot_check.py)
        counters["kernels"] += 1


def get_kernel(steps, n_in, contig, outputs, ndim, scalars, red=None):
    """The cached kernel of this structure (values of scalars and sizes are arguments, not structure)."""
    key = (tuple(s.key(scalars) for s in steps), n_in, contig, outputs, ndim, tuple(type(v) for v in scalars), red)
    k = KERNELS.get(key)
    if k is None:
        k = KERNELS[key] = FusedKernel(*source(steps, n_in, contig, outputs, ndim, [type(v) for v in scalars], red))
    return k


def launch(kernel, outs, ins, contig, scalars, shape, bstrides, red=None):
    """Launch over ``shape``'s elements: ``bstrides[k]``, external tensor k's strides broadcast to shape;
    ``red``: the reduction's output (rows of the last dim), for a kernel made with ``red``."""
    n = 1
    for s in shape:
        n *= s
    if n == 0:
        return
    block = min(next_pow2(n), 4096) if SIMULATED else 1024
    sizes = list(shape[1:])
    strides = [st for k, st in enumerate(bstrides) if not contig[k] for st in st]
    counters["launches"] += 1
    if kernel.signature is None:
        kernel.signature = _signature(outs, ins, contig, scalars, len(shape), red)
    if red is not None:      # a program a row, the row in one block
        cols = shape[-1]
        block = next_pow2(cols)
        _launch.launch(kernel.kernel, (n // cols,), *outs, red, *ins, *scalars, cols, *sizes, *strides,
                       BLOCK=block, num_warps=red_warps(block))
        return
    _launch.launch(kernel.kernel, ((n + block - 1) // block,), *outs, *ins, *scalars, n, *sizes, *strides,
                   BLOCK=block, num_warps=4)


def red_warps(block):
    """Warps of a reduction's program: at most 8 values a thread (4096 with 8 warps spilled on sm_90)."""
    return min(16, max(4, block // 256))


def _signature(outs, ins, contig, scalars, ndim, red=None):
    from ..ops._aot import ptr
    sig = {f"o{i}": ptr(t.dtype) for i, t in enumerate(outs)}
    if red is not None:
        sig["r"] = ptr(red.dtype)
    sig.update({f"x{k}": ptr(t.dtype) for k, t in enumerate(ins)})
    sig.update({f"s{k}": "fp32" if type(v) is float else "i1" if type(v) is bool else
                "i32" if -2**31 <= v < 2**31 else "i64" for k, v in enumerate(scalars)})
    sig["n"] = "i32"
    sig.update({f"S{d}": "i32" for d in range(1, ndim)})
    sig.update({f"x{k}_st{d}": "i64" for k in range(len(ins)) if not contig[k] for d in range(ndim)})
    return sig


def clear():
    KERNELS.clear()
