"""What an op given a ``DTensor`` does: one handler (``handle``) registered in ``ops/_op.py``'s
``SUBCLASS_OPS``. It picks a sharding rule by op family, redistributes the operands to the placements the
rule asks for, runs the op on the local tensors (autograd records there) and wraps the result with the
rule's output placements. Ops without a rule redistribute every DTensor operand to ``Replicate`` and run
on the whole (correct first; PyTorch has a rule for most ops).

Rules, per mesh dimension (after PyTorch's ``_ops/_pointwise_ops``, ``_math_ops``, ``_matrix_ops``,
``_view_ops``): elementwise ops keep a common ``Shard`` (operands broadcast along it stay ``Replicate``) and
carry ``Partial`` through the linear ones (``neg``, ``add``/``sub`` of two partials, ``mul``/``div`` by a
number); ``sum`` over a sharded dim gives ``Partial``, ``mean``
``Partial("avg")`` (uneven shards: ``Partial`` of sum / N); ``x @ w``: ``Shard(k) @ Shard(k) ->
Partial``, ``Replicate @ Shard(n) -> Shard(n)``, ``Shard(batch) @ Replicate -> Shard(batch)``, ``Partial @
Replicate -> Partial``; ``view``/``reshape`` keep a shard whose leading dims are unchanged, or a ``Shard(0)``
of sizes divisible by the mesh; ``permute`` moves the shard; ``layer_norm``, ``rms_norm`` and ``softmax``
keep a shard of the dims they do not normalize over. A ``Replicate`` operand of an op whose work is
split on a mesh dim (output ``Shard`` or ``Partial`` there) gets its gradient all-reduced (``_redistribute``'s
convention).
"""
import math

from ..._tensor import Tensor
from ...ops import _op
from . import _redistribute as R
from ._api import DTensor, _wrap
from .placement_types import Partial, Replicate, Shard, _StridedShard

_ELEMENTWISE = ("unary", "binary", "ternary")
_SAME_LAYOUT = {"clone", "to_dtype", "contiguous"}


def _run(op, args, attrs):
    """``op`` on plain (local) tensors, through its public function where its own call needs resolved attrs."""
    if op.family in _ELEMENTWISE and getattr(op, "public", None) is not None:
        return op.public(*args, **attrs)
    if op.name == "linear":
        from ...nn import functional as F
        return F.linear(*args)
    if op.name == "where":      # (handed over before its dtypes are resolved)
        from ...ops.ternary import where
        return where(*args)
    return op(*args, **attrs)


def _mesh(inputs):
    for t in inputs:
        if isinstance(t, DTensor):
            return t._mesh


def _check_mixed(op, inputs, mesh):
    for t in inputs:
        if isinstance(t, DTensor) and t._mesh != mesh:
            raise NotImplementedError(f"{op.name}: DTensor does not support cross-mesh operation yet! Got meshes: "
                                      f"{mesh} {t._mesh}")
        if type(t) is Tensor and t.ndim > 0:
            raise RuntimeError(f"{op.name}: got mixed ttorch.Tensor and DTensor, need to convert all ttorch.Tensor "
                               "to DTensor before calling distributed operators!")


def _local(t, mesh, target, reduce_dims=()):
    """``t``'s local tensor laid out as ``target``; its gradient all-reduced over ``reduce_dims``."""
    loc = R.redistribute_local(t._local_tensor, mesh, t._placements, target)
    for i in reduce_dims:
        loc = R.grad_all_reduce(loc, mesh, i)
    return loc


def _wrap_out(out, mesh, placements, shape):
    return _wrap(out, mesh, placements, shape)


# ---------------------------------------------------------------------------------------------- rules
def _broadcast_shape(shapes):
    nd = max(len(s) for s in shapes)
    out = []
    for i in range(nd):
        sizes = [s[i - nd + len(s)] for s in shapes if i - nd + len(s) >= 0]
        big = [k for k in sizes if k != 1]
        out.append(big[0] if big else 1)
    return tuple(out)


def _elementwise(op, inputs, attrs, mesh):
    tensors = [t for t in inputs if isinstance(t, DTensor)]
    shape = _broadcast_shape([t._shape for t in tensors])
    nd = len(shape)
    numbers = [t for t in inputs if not isinstance(t, Tensor)]
    linear = op.name == "neg" or (op.name in ("add", "sub") and len(tensors) == 2) or \
        (op.name in ("mul", "div") and len(tensors) == 1 and inputs[0] is tensors[0] and numbers)
    targets = {id(t): list(t._placements) for t in tensors}
    reduce_dims = {id(t): [] for t in tensors}
    out = []
    for i in range(mesh.ndim):
        od = next((t._placements[i].dim + nd - t.ndim for t in tensors if isinstance(t._placements[i], Shard)), None)
        if od is not None:
            out.append(Shard(od))
            for t in tensors:
                d = od - nd + t.ndim
                if d >= 0 and t._shape[d] == shape[od]:
                    targets[id(t)][i] = Shard(d)
                else:        # broadcast along the shard: whole on each rank, its gradient summed
                    targets[id(t)][i] = Replicate()
                    reduce_dims[id(t)].append(i)
        elif linear and all(isinstance(t._placements[i], Partial) for t in tensors) and \
                len({t._placements[i] for t in tensors}) == 1 and tensors[0]._placements[i].reduce_op == "sum":
            out.append(tensors[0]._placements[i])
        else:
            out.append(Replicate())
            for t in tensors:
                targets[id(t)][i] = Replicate()
    args = [_local(t, mesh, targets[id(t)], reduce_dims[id(t)]) if isinstance(t, DTensor) else t for t in inputs]
    r = _run(op, args, attrs)
    return _wrap_out(r, mesh, out, shape)


def _reduction(op, inputs, attrs, mesh):
    if op.name not in ("sum", "mean") or len(inputs) != 1:
        return NotImplemented
    (x,), dims, keepdim = inputs, tuple(d % max(inputs[0].ndim, 1) for d in attrs["dims"]), attrs["keepdim"]
    if x.ndim == 0:
        return NotImplemented
    # mean over evenly cut shards: each rank's mean, Partial("avg") as PyTorch; uneven: sum / N, Partial("sum")
    even = all(x._shape[p.dim] % mesh.size(i) == 0 for i, p in enumerate(x._placements)
               if isinstance(p, Shard) and p.dim in dims)
    avg = op.name == "mean" and even
    out, target = [], list(x._placements)
    for i, p in enumerate(x._placements):
        if isinstance(p, Shard) and p.dim in dims:
            out.append(Partial("avg" if avg else "sum"))
        elif isinstance(p, Shard):
            out.append(Shard(p.dim if keepdim else p.dim - sum(d < p.dim for d in dims)))
        elif isinstance(p, Partial) and p.reduce_op != "sum":
            target[i] = Replicate()
            out.append(Replicate())
        else:
            out.append(p)
    loc = _local(x, mesh, target)
    dtype = attrs.get("dtype")
    if op.name == "sum" or avg or not any(isinstance(p, Partial) and not isinstance(q, Partial)
                                          for p, q in zip(out, target)):
        r = (loc.sum if op.name == "sum" else loc.mean)(dims, keepdim=keepdim, dtype=dtype)
    else:           # a shard's sum over the global count: the ranks' parts add up to the mean
        r = loc.sum(dims, keepdim=keepdim, dtype=dtype) / math.prod(x._shape[d] for d in dims)
    shape = tuple(1 if d in dims else s for d, s in enumerate(x._shape) if keepdim or d not in dims)
    return _wrap_out(r, mesh, out, shape)


def _product(a, b, mesh, local_fn, out_shape, a_k, b_k, b_n):
    """The layout of ``a @ b``-like products: ``a``'s contracted dim ``a_k``, ``b``'s contracted ``b_k`` and
    kept ``b_n``; ``b``'s kept dim lands last in the output, ``a``'s other dims stay where they are."""
    ta, tb, out = list(a._placements), list(b._placements), []
    ra, rb = [], []
    nd = len(out_shape)
    for i in range(mesh.ndim):
        pa, pb = ta[i], tb[i]
        if isinstance(pa, Partial) or isinstance(pa, Shard) and pa.dim == a_k and pb == Shard(b_n):
            pa = ta[i] = Replicate()                         # (then Replicate @ Shard(n) below)
        if isinstance(pa, Shard) and pa.dim == a_k:
            tb[i] = Shard(b_k)                               # Shard(k) @ Shard(k) -> Partial
            out.append(Partial())
        elif isinstance(pa, Shard):                          # a batch or row dim: b whole, its grad summed
            if not isinstance(pb, Replicate):
                tb[i] = Replicate()
            rb.append(i)
            out.append(Shard(pa.dim + nd - a.ndim if a.ndim >= 2 else pa.dim))
        elif isinstance(pb, Shard) and pb.dim == b_n:        # Replicate @ Shard(n) -> Shard(last)
            ra.append(i)
            out.append(Shard(nd - 1))
        elif isinstance(pb, Shard):                          # Replicate @ Shard(k): cut a along k
            ta[i] = Shard(a_k)
            out.append(Partial())
        elif pb == Partial("sum"):                          # Replicate @ Partial -> Partial
            ra.append(i)
            out.append(Partial())
        elif isinstance(pb, Partial):                        # (avg, max...: not linear in b)
            tb[i] = Replicate()
            out.append(Replicate())
        else:
            out.append(Replicate())
    r = local_fn(_local(a, mesh, ta, ra), _local(b, mesh, tb, rb))
    return _wrap_out(r, mesh, out, out_shape)


def _linear(op, inputs, attrs, mesh):
    x, w, b = inputs
    if not isinstance(x, DTensor) or not isinstance(w, DTensor) or w.ndim != 2 or x.ndim < 1:
        return NotImplemented
    from ...nn import functional as F
    out = _product(x, w, mesh, lambda xl, wl: F.linear(xl, wl), x._shape[:-1] + (w._shape[0],), x.ndim - 1, 1, 0)
    return out if b is None else out + b


def matmul(a, b):
    """``a @ b`` with a DTensor operand: the product rule for ``(..., n, k) @ (k, m)``, else through Replicate."""
    mesh = _mesh(b if not isinstance(a, DTensor) else a)
    if not isinstance(a, DTensor) or not isinstance(b, DTensor):
        _check_mixed(_MATMUL, (a, b), mesh)
    if isinstance(a, DTensor) and isinstance(b, DTensor) and b.ndim == 2 and a.ndim >= 2:
        if a._shape[-1] != b._shape[0]:
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({a._shape[-2]}x{a._shape[-1]} and "
                               f"{b._shape[0]}x{b._shape[1]})")
        return _product(a, b, mesh, lambda al, bl: al @ bl, a._shape[:-1] + (b._shape[1],), a.ndim - 1, 0, 1)
    full = [t.full_tensor() if isinstance(t, DTensor) else t for t in (a, b)]
    r = full[0] @ full[1]
    return _wrap_out(r, mesh, (Replicate(),) * mesh.ndim, r.shape)


class _MatmulName:
    name = "matmul"


_MATMUL = _MatmulName()


def _view(op, inputs, attrs, mesh):
    x = inputs[0]
    if op.name == "permute":
        dims = [d % x.ndim for d in attrs["dims"]]
        out = [Shard(dims.index(p.dim)) if isinstance(p, Shard) else p for p in x._placements]
        return _wrap_out(op(x._local_tensor, **attrs), mesh, out, tuple(x._shape[d] for d in dims))
    if op.name != "view":
        return NotImplemented
    shape, in_shape = tuple(attrs["shape"]), x._shape
    out, local_shape = [], list(shape)
    for i, p in enumerate(x._placements):
        if not isinstance(p, Shard):
            out.append(p)
            continue
        d, n = p.dim, mesh.size(i)
        if shape[:d + 1] == in_shape[:d + 1]:                      # the dims up to the shard untouched
            out.append(Shard(d))
            local_shape[d] = None
        elif d == 0 and shape and in_shape[0] % n == 0 and shape[0] % n == 0 and i == 0:
            out.append(Shard(0))                                   # each rank's rows are one flat range
            local_shape[0] = None
        else:
            return NotImplemented
    if any(isinstance(p, Shard) for p in out):
        loc = x._local_tensor
        fixed = [s for s in local_shape if s is not None]
        if local_shape.count(None) > 1:
            return NotImplemented
        k = local_shape.index(None)
        local_shape[k] = loc.numel() // max(math.prod(fixed), 1)
        r = loc.reshape(local_shape)
    else:
        r = x._local_tensor.reshape(shape)
    return _wrap_out(r, mesh, out, shape)


def _along_rows(op, inputs, attrs, mesh):
    """``layer_norm``/``rms_norm`` (the last ``k`` dims) and ``softmax`` (``dim``): a shard of another dim stays;
    the weight and bias are whole on each rank, their gradients summed over the mesh dims that split the rows."""
    x = inputs[0]
    if not isinstance(x, DTensor) or x.ndim == 0:
        return NotImplemented
    rows = set(range(x.ndim - attrs["k"], x.ndim)) if op.family == "normalization" else {attrs["dim"] % x.ndim}
    target, out, split = [], [], []
    for i, p in enumerate(x._placements):
        if isinstance(p, Shard) and p.dim not in rows:
            target.append(p)
            split.append(i)
        else:
            target.append(Replicate())
        out.append(target[-1])
    whole = (Replicate(),) * mesh.ndim
    args = [_local(x, mesh, target)] + [_local(t, mesh, whole, split) if isinstance(t, DTensor) else t
                                        for t in inputs[1:]]
    return _wrap_out(op(*args, **attrs), mesh, out, x._shape)


def _same_layout(op, inputs, attrs, mesh):
    x = inputs[0]
    return _wrap_out(op(x._local_tensor, **attrs), mesh, x._placements, x._shape)


def _by_name(op):
    if op.name in _SAME_LAYOUT:
        return _same_layout
    if op.name == "linear":
        return _linear
    if op.name in ("view", "permute"):
        return _view
    if op.family == "normalization" and op.name in ("layer_norm", "rms_norm") or op.name == "softmax":
        return _along_rows
    if op.family in _ELEMENTWISE and op.name != "where":
        return _elementwise
    if op.family == "reduction":
        return _reduction
    return None


def _replicated(op, inputs, attrs, mesh):
    """The op on the global tensors (every DTensor operand redistributed to Replicate), result Replicate."""
    whole = (Replicate(),) * mesh.ndim
    args = [_local(t, mesh, whole) if isinstance(t, DTensor) else t for t in inputs]
    r = _run(op, args, attrs)
    if isinstance(r, Tensor):
        return _wrap_out(r, mesh, whole, r.shape)
    if isinstance(r, (tuple, list)):
        return type(r)(_wrap_out(t, mesh, whole, t.shape) if isinstance(t, Tensor) else t for t in r)
    return r


_RANDOM_FILLS = ("rand", "randint", "random_fill", "bernoulli")


def _random_fill(op, inputs, attrs, mesh):
    """A random fill of a DTensor (``uniform_``, ``normal_``, ``bernoulli_``...): the local tensor's, drawn at
    its shard's place in the stream on a cuda mesh (``_random``), from the rank's own generator elsewhere."""
    from . import _random
    t = inputs[0]
    if any(isinstance(p, Partial) for p in t._placements):
        raise RuntimeError(f"{op.name}: a random op on a Partial DTensor is not supported")
    gen = attrs.get("gen", attrs.get("generator"))
    if gen is None:
        from ..._random import generator_for
        gen = generator_for(t._local_tensor.device)
    with _random.region(mesh, t._placements, t._shape, gen):
        r = op(t._local_tensor, *inputs[1:], **attrs)
    if op.name in ("rand", "randint"):      # (in place: the fill of the local tensor is the DTensor's)
        return t
    return _wrap(r, mesh, t._placements, t._shape)


def _unstride(t):
    """``t`` with its ``_StridedShard`` mesh dims gathered to ``Replicate`` (FSDP2 + TP parameters)."""
    to = [Replicate() if isinstance(p, _StridedShard) else p for p in t._placements]
    return _wrap(R.redistribute_local(t._local_tensor, t._mesh, t._placements, to), t._mesh, to, t._shape)


def handle(op, inputs, attrs):
    """``op(*inputs, **attrs)`` where an input is a DTensor: a sharding rule, else the op through Replicate."""
    mesh = _mesh(inputs)
    _check_mixed(op, inputs, mesh)
    if op.name in _RANDOM_FILLS:
        return _random_fill(op, inputs, attrs, mesh)
    if any(isinstance(t, DTensor) and any(isinstance(p, _StridedShard) for p in t._placements) for t in inputs):
        inputs = [_unstride(t) if isinstance(t, DTensor) else t for t in inputs]     # (no rule reads it)
    rule = _by_name(op)
    if rule is not None:
        r = rule(op, inputs, attrs, mesh)
        if r is not NotImplemented:
            return r
    return _replicated(op, inputs, attrs, mesh)


_op.SUBCLASS_OPS[DTensor] = handle
