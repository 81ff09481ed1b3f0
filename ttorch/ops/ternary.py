"""Three-operand elementwise ops: ``where``, ``clamp`` (``clip``), ``lerp``, ``addcmul``, ``addcdiv``.

They run on the 3-operand path of the elementwise template: any operand may be a Python
scalar, the others broadcast together. ``clamp_min``/``clamp_max`` are its one-bound forms.
"""
import numpy as np
import triton
import triton.language as tl

from .. import _dtype as D
from .. import _torch_function
from .._tensor import Tensor
from . import _op, _plan
from ._op import Op, write_out, writes_into
from .elementwise import ew_launch, broadcast_shapes, np_quiet, scalar_operand, make_plan, run_plan, _aligned
from .samples import Sample, index, rng
from .unary import param_specs, not_implemented, _div
from .binary import binary, inexact, param, scaled, _true_div, _maximum, _minimum

PUBLIC = {}
METHODS = {}


def _operands(name, args):
    """Split ``args`` into tensors and scalars; check devices and broadcasting; return the shape."""
    dev, shapes = None, []
    for a in args:
        if type(a) is Tensor:
            if dev is None:
                dev = a.device
            elif a.device != dev:
                raise RuntimeError(f"{name}: Expected all tensors to be on the same device, but found at least two "
                                   f"devices, {dev} and {a.device}!")
            shapes.append(a._shape)
        elif not isinstance(a, (bool, int, float)):
            raise TypeError(f"{name}(): expected Tensor or Number, got {type(a).__name__}")
    return broadcast_shapes(*shapes, op=name) if shapes else ()


def _promote(*args):
    """PyTorch's promotion over tensors and weakly typed scalars (memoized: it depends on the tensors'
    dtypes and whether they are 0-dim, the scalars' types and the default dtype)."""
    # (isinstance: a subclass, vmap's BatchedTensor, promotes as its samples do)
    key = tuple([(a.dtype, not a._shape) if isinstance(a, Tensor) else type(a) for a in args]) + (D._default_dtype,)
    r = _PROMOTED.get(key)
    if r is None:
        ts = [a for a in args if isinstance(a, Tensor)]
        r = D.result_type_of([t.dtype for t in ts], [t.ndim for t in ts],
                             [a for a in args if not isinstance(a, Tensor)])
        if len(_PROMOTED) > 1024:
            _PROMOTED.clear()
        _PROMOTED[key] = r
    return r


_PROMOTED = {}


def _compute(dt):
    return D.int8 if dt is D.bool else D._compute_dtype(dt)


def ternary(name, fn, np_fn, backward=None, *, params=(), samples=None, dtypes=D.floating_dtypes + (D.int64,),
            spec_dtypes=(D.float32, D.bfloat16, D.float64, D.int64), save=(0, 1, 2), grad_name=None, cond=False,
            prescale=None):
    """Op ``name`` on three operands: ``@triton.jit fn(a, b, c, p0, p1)`` on cuda, ``np_fn(a, b, c,
    *params)`` on cpu; at most one float parameter, passed as ``p0``. When float64 would round it
    (``binary.inexact``), ``prescale(a, b, c, value, compute, device)`` returns operands that give
    the same result with ``p0 = 1``."""
    def cpu(a, b, c, *, out_dtype, compute, **pv):
        a, b, c = (x.astype(compute.np) if isinstance(x, np.ndarray) and x.dtype != compute.np else x
                   for x in (a, b, c))
        r = np.asarray(np_quiet(np_fn, a, b, c, *pv.values()))
        return r if r.dtype == out_dtype.np else r.astype(out_dtype.np)

    def cuda(a, b, c, *, out_dtype, compute, into=None, **pv):
        shape = _operands(name, (a, b, c))
        dev = next(x.device for x in (a, b, c) if type(x) is Tensor)
        p0 = param(next(iter(pv.values())), compute) if pv else 0
        if pv and inexact(p0, compute):
            (a, b, c), p0 = prescale(a, b, c, p0, compute, dev), 1.0
        opnds = [x if type(x) is Tensor else scalar_operand(x, compute, dev) for x in (a, b, c)]
        return ew_launch(fn, Tensor._empty(shape, out_dtype, dev) if into is None else into, opnds, compute, p0, 0)

    def specs():
        out = param_specs(fn, 3, spec_dtypes, scalar=(), compute=_compute)
        for s in out:
            if cond:  # where's condition is a bool tensor whatever the value dtype
                s.signature["a_ptr"] = "*i1"
        return out

    op = Op(name, cpu=cpu, cuda=cuda, backward=backward, save=save, samples=samples, kernels=specs,
            family="ternary", grad_name=grad_name, dtypes=dtypes)      # (planned by _call: _planned)
    return op


def _call(op, name, a, b, c, out_dtype, out=None, _into=False, **params):
    if out is None and not _into:       # a cuda call with a plan: run it (its key holds what _operands checks)
        t = a if type(a) is Tensor else b if type(b) is Tensor else c
        if type(t) is Tensor and t.device.type == "cuda":
            r = _planned(op, (a, b, c), out_dtype, _compute(out_dtype), params, t.device)
            if r is not None:
                return r
    sub = _op.SUBCLASS_OPS
    if type(a) in sub or type(b) in sub or type(c) in sub:     # vmap's BatchedTensor...: Op.__call__'s handler
        if _into:       # (out of place: ``inplace_from`` writes)
            return None
        r = op(a, b, c, out_dtype=out_dtype, compute=_compute(out_dtype), **params)
        return r if out is None else write_out(out, r, name)
    if all(type(x) is not Tensor for x in (a, b, c)):
        raise TypeError(f"{name}(): expected at least one Tensor argument")
    _operands(name, (a, b, c))
    compute = _compute(out_dtype)
    if out is not None and out.device.type == "cuda" and writes_into(out, a, b, c, out_dtype):
        # cuda, nothing to record: the kernel writes ``out`` itself (``x.clamp_(0, 1)``: one launch, not a
        # launch and a copy back), through a plan where there is one
        if _planned(op, (a, b, c), out_dtype, compute, params, out.device, out) is None:
            op.cuda(a, b, c, out_dtype=out_dtype, compute=compute, into=out, **params)
        out._bump_version()
        return out
    if _into:
        return None
    r = op(a, b, c, out_dtype=out_dtype, compute=compute, **params)
    return r if out is None else write_out(out, r, name)


_PLANS = {}         # cuda: the ternary ops' plans, keyed by operands and parameters (cleared with every op's)
_plan.OTHERS.append(_PLANS)


def _planned(op, operands, out_dtype, compute, params, device, into=None):
    """``op`` on cuda through a plan of its launch per operand dtypes, shapes and strides, scalars and
    parameters by value (baked), made by the second call of its key (``elementwise.make_plan``), as a
    binary op's; ``into``: write that tensor (contiguous, 16-byte aligned; an in-place op or ``out=``),
    a plan made by either kind of call serving both. None where the caller launches as usual."""
    if into is not None and (into._stride is not None or not _aligned(into)):
        return None
    try:
        key = (op.name, tuple([(x.dtype, x._shape, x._stride, x.device) if type(x) is Tensor else (type(x), x)
                               for x in operands]), out_dtype, tuple(params.items()))
        plan = _plan.find(_PLANS, key)
    except TypeError:                   # an unhashable parameter
        return None
    if plan is not _plan.SEEN:
        return None if plan is None else run_plan(plan, op, operands, device, into)
    attrs = dict(out_dtype=out_dtype, compute=compute, **params)
    slots = tuple(i if type(x) is Tensor else None for i, x in enumerate(operands))
    if into is None:
        r, plan = make_plan(lambda: op(*operands, **attrs), operands, slots, attrs)
    else:
        r, plan = make_plan(lambda: op.cuda(*operands, into=into, **attrs), operands, slots, attrs, fresh=False)
    _PLANS[key] = plan or _plan.NO_PLAN
    return r


def _samples3(name, domains, scalars=(), kwargs=(), grad=True):
    """Samples over broadcasting shape triples; ``scalars``: (index, value) pairs replacing an operand.
    A domain of None makes a bool condition (kept bool whatever dtype the test runs)."""
    r = rng(name)
    shapes = [((), (), ()), ((0,), (0,), (0,)), ((7,), (7,), (7,)), ((3, 5), (3, 5), (3, 5)),
              ((3, 1), (1, 5), (3, 5)), ((2, 3, 4), (3, 4), (4,)), ((4,), (), (1,))]

    def arr(shape, dom):
        if dom is None:
            return index(r.uniform(size=shape) < 0.5, dtype=np.bool_)
        a = r.uniform(*dom, size=shape)
        return np.where(np.abs(a) < 0.05, a + 0.1, a)
    out = [Sample([arr(s, d) for s, d in zip(sh, domains)], grad=grad) for sh in shapes]
    for i, v in scalars:
        args = [arr((3, 4), d) for d in domains]
        args[i] = v
        out.append(Sample(args, grad=grad, note=f"operand {i} scalar"))
    for kw in kwargs:
        out.append(Sample([arr((3, 5), d) for d in domains], kw, grad=grad, note=str(kw)))
    return out


def _zero_where(cond, g):
    return where(cond, g, 0.0)


# ---------------------------------------------------------------------------- where
@triton.jit
def _where_fn(c, a, b, p0, p1):
    return tl.where(c != 0, a, b)


def _where_bw(ctx, g):
    c = ctx.inputs[0]
    return None, (where(c, g, 0.0) if ctx.needs[1] else None), (where(c, 0.0, g) if ctx.needs[2] else None)


_where = ternary("where", _where_fn, lambda c, a, b: np.where(c != 0, a, b), _where_bw, save=(0,), cond=True,
                 samples=lambda: _samples3("where", [None, (-2, 2), (-2, 2)], scalars=[(1, 1.5), (2, -0.5)]))


def where(condition, input=None, other=None, *, out=None):
    """``ttorch.where(condition, input, other)``: ``input`` where ``condition`` is True, else ``other``.

    ``input``/``other`` are tensors or Python scalars; all three broadcast together and the
    result has their promoted dtype. ``where(condition)`` is ``nonzero(condition, as_tuple=True)``.

    Example::

        >>> ttorch.where(ttorch.tensor([True, False]), ttorch.tensor([1., 2.]), 0.0)
        tensor([1., 0.])
    """
    if input is None and other is None:
        from . import FUNCTIONS
        return FUNCTIONS["nonzero"](condition, as_tuple=True)
    if getattr(condition, "is_nested", False):     # ttorch/nested's handler: ``where`` on the values
        return _op.SUBCLASS_OPS[type(condition)](_where, (condition, input, other), {})
    if type(condition) is not Tensor:
        if getattr(condition, "_level", None) is not None:     # vmap's BatchedTensor: its handler
            return _op.SUBCLASS_OPS[type(condition)](_where, (condition, input, other), {})
        if hasattr(condition, "_local_tensor"):      # a DTensor: its handler (distributed/tensor/_dispatch.py)
            return _op.SUBCLASS_OPS[type(condition)](_where, (condition, input, other), {})
        r = _torch_function.duck("where", (condition, input, other), {"out": out})     # a duck's handler
        if r is not _torch_function.NO:
            return r
        raise TypeError(f"where(): argument 'condition' (position 1) must be Tensor, not {type(condition).__name__}")
    if condition.dtype is not D.bool:
        raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor with dtype "
                           f"{D.scalar_name(condition.dtype)}")
    try:
        dt = _promote(input, other)
    except TypeError:
        sub = _op.SUBCLASS_OPS      # a MaskedTensor...: its handler (only here, off the common path)
        if type(input) in sub or type(other) in sub:
            return sub[type(input) if type(input) in sub else type(other)](_where, (condition, input, other), {})
        raise
    if dt.is_complex:
        from .complex import cwhere
        return cwhere(condition, input, other, dt, out)
    return _call(_where, "where", condition, input, other, dt, out)


def _where_method(self, condition, other):
    return where(condition, self, other)


# ---------------------------------------------------------------------------- clamp
@triton.jit
def _clamp_fn(x, lo, hi, p0, p1):
    # min(max(x, lo), hi), NaN-propagating: hi wins when lo > hi, as in PyTorch
    return tl.minimum(tl.maximum(x, lo, propagate_nan=tl.PropagateNan.ALL), hi, propagate_nan=tl.PropagateNan.ALL)


# clamp_min/clamp_max reuse binary.py's NaN-propagating _maximum/_minimum Triton functions.


def _clamp_bw(ctx, g):
    # PyTorch's clamp_backward(_min_max): the gradient passes where min <= x <= max (bounds included)
    x, lo, hi = ctx.inputs
    gx = _zero_where((x >= lo).logical_and(x <= hi), g) if ctx.needs[0] else None
    glo = _zero_where((x < lo).logical_and(lo < hi), g) if ctx.needs[1] else None
    ghi = _zero_where((x > hi).logical_or(hi < lo), g) if ctx.needs[2] else None
    return gx, glo, ghi


def _clamp1_bw(keep, takes):
    def bw(ctx, g):
        x, b = ctx.inputs
        return (_zero_where(keep(x, b), g) if ctx.needs[0] else None), \
               (_zero_where(takes(x, b), g) if ctx.needs[1] else None)
    return bw


_clamp = ternary("clamp", _clamp_fn, lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi), _clamp_bw,
                 samples=lambda: _samples3("clamp", [(-2, 2), (-1.5, -0.2), (0.2, 1.5)],
                                           scalars=[(1, -0.5), (2, 0.7)]) +
                 [Sample([np.linspace(-2, 2, 12).reshape(3, 4), 0.5, -0.5], note="min > max"),
                  Sample(list(rng("clamp").uniform(-2, 2, (3, 4, 5))), note="bounds cross")])
_clamp_min = binary("clamp_min", _maximum, np.maximum, _clamp1_bw(lambda x, b: x >= b, lambda x, b: x < b),
                    public=False)
_clamp_max = binary("clamp_max", _minimum, np.minimum, _clamp1_bw(lambda x, b: x <= b, lambda x, b: x > b),
                    public=False)


def clamp(input, min=None, max=None, *, out=None, _into=False):
    """``ttorch.clamp(input, min=None, max=None)``: ``min(max(input, min), max)`` elementwise.

    Bounds are Python scalars or tensors (broadcast with ``input``); the result has the promoted
    dtype (an integer tensor clamped to a float bound becomes float). NaN propagates. The
    gradient passes where ``min <= input <= max``, bounds included, as in PyTorch.

    Example::

        >>> ttorch.clamp(ttorch.tensor([-2., 0.5, 3.]), -1, 1)
        tensor([-1.0000,  0.5000,  1.0000])
    """
    if type(input) is not Tensor:
        if type(input) in _op.SUBCLASS_OPS:     # a MaskedTensor...: its handler, given our parameters
            if _into:       # (out of place: ``inplace_from`` writes)
                return None
            return _op.SUBCLASS_OPS[type(input)](_clamp, (input,), {"min": min, "max": max})
        r = _torch_function.duck("clamp", (input, min, max), {"out": out})     # a duck's handler
        if r is not _torch_function.NO:
            return r
        raise TypeError(f"clamp(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if max is None:
        return _clamp_min(input, min, out=out, _into=_into)
    if min is None:
        return _clamp_max(input, max, out=out, _into=_into)
    return _call(_clamp, "clamp", input, min, max, _promote(input, min, max), out, _into)


def clamp_min(input, min, *, out=None, _into=False):
    """``ttorch.clamp_min(input, min)``: ``clamp(input, min=min)``."""
    return _clamp_min(input, min, out=out, _into=_into)


def clamp_max(input, max, *, out=None, _into=False):
    """``ttorch.clamp_max(input, max)``: ``clamp(input, max=max)``."""
    return _clamp_max(input, max, out=out, _into=_into)


clamp.op = _clamp
clamp_min.op, clamp_max.op = _clamp_min.op, _clamp_max.op
_clamp.public = clamp


# ---------------------------------------------------------------------------- lerp
@triton.jit
def _lerp_fn(s, e, w, p0, p1):
    # PyTorch's two-sided form: exact at w = 0 and w = 1
    return tl.where(tl.abs(w) < 0.5, s + w * (e - s), e - (e - s) * (1 - w))


def _np_lerp(s, e, w):
    # each side one fused multiply-add, as the kernel's (FP fusion) and PyTorch's vectorized cpu kernel
    # (fmadd(w - 1, e - s, e) for large weights): the product and the sum rounded once, here through
    # float64 (exact products of float32 and narrower)
    d = e - s
    kind = np.result_type(d)
    if kind.itemsize < 8:
        w = np.asarray(w, kind)                 # (a Python weight is the tensors' dtype, as PyTorch's)
        wide = np.float64
        lo = np.asarray(s, wide) + w.astype(wide) * d
        hi = np.asarray(e, wide) + (w - 1).astype(wide) * d
        return np.where(np.abs(w) < 0.5, lo, hi).astype(kind)
    return np.where(np.abs(w) < 0.5, s + w * d, e - d * (1 - w))


def _lerp_bw(ctx, g):
    s, e, w = ctx.inputs
    return (g * (1 - w) if ctx.needs[0] else None), (g * w if ctx.needs[1] else None), \
           (g * (e - s) if ctx.needs[2] else None)


_lerp = ternary("lerp", _lerp_fn, _np_lerp, _lerp_bw, dtypes=D.floating_dtypes,
                spec_dtypes=(D.float32, D.bfloat16, D.float64),
                samples=lambda: _samples3("lerp", [(-2, 2), (-2, 2), (0.0, 1.0)], scalars=[(2, 0.3), (2, 0.75)]))


def _meta_name(d):  # c10's TypeMeta names, which lerp's message prints
    return {"float32": "float", "float64": "double", "float16": "c10::Half", "bfloat16": "c10::BFloat16",
            "int64": "long int", "int32": "int", "bool": "bool", "complex64": "c10::complex<float>",
            "complex128": "c10::complex<double>"}.get(d.name, d.name)


def lerp(input, end, weight, *, out=None, _into=False):
    """``ttorch.lerp(input, end, weight)``: ``input + weight * (end - input)``; ``weight`` is a
    scalar or a tensor. ``input``, ``end`` (and a tensor ``weight``) must share one float dtype."""
    for nm, t in (("end", end), ("weight", weight)):
        if type(t) is Tensor and t.dtype is not input.dtype:
            raise RuntimeError(f"expected dtype {_meta_name(input.dtype)} for `{nm}` but got dtype "
                               f"{_meta_name(t.dtype)}")
    if not (input.dtype.is_floating_point or input.dtype.is_complex):
        raise not_implemented("lerp_kernel_scalar" if type(weight) is not Tensor else "lerp_kernel_tensor",
                              input.dtype, input.device)
    return _call(_lerp, "lerp", input, end, weight, input.dtype, out, _into)


lerp.op = _lerp
_lerp.public = lerp


# ---------------------------------------------------------------------------- addcmul / addcdiv
@triton.jit
def _addcmul_fn(x, a, b, p0, p1):
    return x + tl.cast(p0, x.dtype) * a * b


@triton.jit
def _addcdiv_fn(x, a, b, p0, p1):
    return x + tl.cast(p0, x.dtype) * _div(a, b)


def _addcmul_exact(x, a, b, v, compute, dev):
    return x, scaled(a, v, compute, dev), b        # x + (v * a) * b, PyTorch's order


def _addcdiv_exact(x, a, b, v, compute, dev):
    if type(a) is Tensor or type(b) is Tensor:
        shape = broadcast_shapes(*[t._shape for t in (a, b) if type(t) is Tensor])
        q = ew_launch(_true_div, Tensor._empty(shape, compute, dev),
                      [t if type(t) is Tensor else scalar_operand(t, compute, dev) for t in (a, b)], compute)
    else:
        q = a / b
    return x, scaled(q, v, compute, dev), 1.0      # x + v * (a / b)


def _value(x, v):
    return v if np.asarray(x).dtype.kind == "f" else int(v)  # integer ops truncate value, as PyTorch's


def _addcmul_bw(ctx, g):
    x, a, b = ctx.inputs
    v = ctx.value
    return g, (g * b * v if ctx.needs[1] else None), (g * a * v if ctx.needs[2] else None)


def _addcdiv_bw(ctx, g):
    x, a, b = ctx.inputs
    v = ctx.value
    return g, (g * v / b if ctx.needs[1] else None), (-g * v * a / (b * b) if ctx.needs[2] else None)


_addcmul = ternary("addcmul", _addcmul_fn, lambda x, a, b, v: x + _value(x, v) * a * b, _addcmul_bw,
                   params=(("value", 1),), prescale=_addcmul_exact,
                   samples=lambda: _samples3("addcmul", [(-2, 2)] * 3, kwargs=[{"value": 0.5}, {"value": -3}]))
_addcdiv = ternary("addcdiv", _addcdiv_fn, lambda x, a, b, v: x + v * (a / b), _addcdiv_bw, params=(("value", 1),),
                   prescale=_addcdiv_exact,
                   dtypes=D.floating_dtypes, spec_dtypes=(D.float32, D.bfloat16, D.float64),
                   samples=lambda: _samples3("addcdiv", [(-2, 2), (-2, 2), (0.5, 2)], kwargs=[{"value": 0.1}]))


def addcmul(input, tensor1, tensor2, *, value=1, out=None, _into=False):
    """``ttorch.addcmul(input, tensor1, tensor2, *, value=1)``: ``input + value * tensor1 * tensor2``."""
    dt = _promote(input, tensor1, tensor2)
    return _call(_addcmul, "addcmul", input, tensor1, tensor2, dt, out, _into, value=value)


def addcdiv(input, tensor1, tensor2, *, value=1, out=None, _into=False):
    """``ttorch.addcdiv(input, tensor1, tensor2, *, value=1)``: ``input + value * tensor1 / tensor2``."""
    dt = _promote(input, tensor1, tensor2)
    if not (dt.is_floating_point or dt.is_complex):
        raise RuntimeError("Integer division with addcdiv is no longer supported, and in a future release addcdiv "
                           "will perform a true division of tensor1 and tensor2. The historic addcdiv behavior can "
                           "be implemented as (input + value * torch.trunc(tensor1 / tensor2)).to(input.dtype) for "
                           "integer inputs and as (input + value * tensor1 / tensor2) for float inputs. The future "
                           "addcdiv behavior is just the latter implementation: (input + value * tensor1 / tensor2), "
                           "for all dtypes.")
    return _call(_addcdiv, "addcdiv", input, tensor1, tensor2, dt, out, _into, value=value)


addcmul.op, addcdiv.op = _addcmul, _addcdiv
_addcmul.public, _addcdiv.public = addcmul, addcdiv
# ``f(x, ..., out=x, _into=True)`` writes x itself where it can (see ``inplace.make_inplace``)
for _f in (clamp, clamp_min, clamp_max, lerp, addcmul, addcdiv):
    _f.writes_into = True

clip = clamp
__all__ = ["where", "clamp", "clip", "clamp_min", "clamp_max", "lerp", "addcmul", "addcdiv"]
METHODS = {"where": _where_method, "clamp": clamp, "clip": clip, "clamp_min": clamp_min, "clamp_max": clamp_max,
           "lerp": lerp, "addcmul": addcmul, "addcdiv": addcdiv}
