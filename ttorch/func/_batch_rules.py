"""Batching rules: ops on ``BatchedTensor`` inputs run once on the values (batch dim first).

A rule is ``rule(op, inputs, attrs, level, size)`` and returns the op's result (batched outputs
wrapped at ``level``) or ``NotImplemented`` (then ``_batched.fallback`` runs the op per sample).
Logical dims map to value dims shifted by one; elementwise operands are aligned by padding the batched
values' logical shapes with 1s on the left, so that unbatched operands broadcast from the right as they
do per sample. Rules compute with ttorch ops on the values, so autograd records on the values.
"""
import ttorch
from .._tensor import Tensor
from ._batched import BatchedTensor, RULES, FAMILY_RULES, wrap, unwrap


def _batched(t, level):
    return type(t) is BatchedTensor and t._level == level


def _wrap_all(out, level):
    if isinstance(out, (tuple, list)):
        return type(out)(_wrap_all(o, level) for o in out)
    return wrap(out, level) if isinstance(out, Tensor) else out


def _public(op):
    from ..ops import FUNCTIONS
    return FUNCTIONS[op.name]


# ------------------------------------------------------------------------------------ elementwise
def _elementwise(op, inputs, attrs, level, size):
    operands = [t for t in list(inputs) + list(attrs.values()) if isinstance(t, Tensor)]
    rank = max(t.dim() for t in operands)
    # PyTorch promotes a 0-dim tensor with a weaker category; its value here is 1-d: keep the dtype per sample
    typed = operands[1:] if op.name == "where" else operands
    if len({t.dtype for t in typed}) > 1 and any(t.dim() == 0 for t in typed):
        return NotImplemented

    def phys(t):
        if not _batched(t, level):
            return t
        v = t._value
        return v if t.dim() == rank else v.reshape((size,) + (1,) * (rank - t.dim()) + tuple(t.shape))
    args = [phys(t) for t in inputs]
    kw = {k: phys(v) for k, v in attrs.items() if not k.startswith("_")}
    # the entry points hand their own parameters (no ``out_dtype``): the public function takes them
    fn = _public(op) if op.family in ("unary", "binary", "ternary") and "out_dtype" not in attrs else op
    return _wrap_all(fn(*args, **kw), level)


for _family in ("unary", "binary", "ternary"):
    FAMILY_RULES[_family] = _elementwise
RULES["masked_fill"] = _elementwise


# ------------------------------------------------------------------------------------ linear and matmuls
def _linear(op, inputs, attrs, level, size):
    x, w, b = (list(inputs) + [None])[:3]
    act = attrs.get("act", "none")
    if w.dim() != 2 or x.dim() == 0:
        return NotImplemented
    if not _batched(w, level) and not _batched(b, level):
        xv = unwrap(x, level)
        if attrs:
            return wrap(op(xv, w, b, **attrs), level)
        return wrap(ttorch.nn.functional.linear(xv, w, b), level)
    xv, wv = unwrap(x, level, size), unwrap(w, level, size)      # (B, *s, in), (B, out, in)
    lead = tuple(x.shape[:-1])
    y = ttorch.matmul(xv.reshape(size, -1, x.shape[-1]), wv.transpose(1, 2))     # (B, N, out)
    y = y.reshape((size,) + lead + (w.shape[0],))
    if b is not None:
        bv = unwrap(b, level)
        y = y + (bv.reshape((size,) + (1,) * len(lead) + (w.shape[0],)) if _batched(b, level) else bv)
    return wrap(_ACTS[act](y), level)


_ACTS = {"none": lambda t: t, "relu": lambda t: ttorch.nn.functional.relu(t),
         "gelu": lambda t: ttorch.nn.functional.gelu(t),
         "gelu_tanh": lambda t: ttorch.nn.functional.gelu(t, approximate="tanh"),
         "silu": lambda t: ttorch.nn.functional.silu(t)}
RULES["linear"] = RULES["linear_act"] = _linear


def _matmul(op, inputs, attrs, level, size):
    """matmul/mm/bmm/mv/dot: batch dims first, vectors made matrices, then one ``matmul`` on the values."""
    a, b = inputs[:2]
    if attrs or len(inputs) != 2 or a.dim() == 0 or b.dim() == 0:
        return NotImplemented
    av, bv = unwrap(a, level, size), unwrap(b, level, size)
    ra, rb = a.dim(), b.dim()
    if ra == 1:
        av = av.unsqueeze(1)                # (B, 1, k)
    if rb == 1:
        bv = bv.unsqueeze(-1)               # (B, k, 1)
    # align the logical batch dims of the operands after the vmap dim
    na, nb = av.dim() - 3, bv.dim() - 3
    if na < nb:
        av = av.reshape((size,) + (1,) * (nb - na) + tuple(av.shape[1:]))
    elif nb < na:
        bv = bv.reshape((size,) + (1,) * (na - nb) + tuple(bv.shape[1:]))
    y = ttorch.matmul(av, bv)
    if ra == 1:
        y = y.squeeze(-2)
    if rb == 1:
        y = y.squeeze(-1)
    return wrap(y, level)


for _name in ("matmul", "mm", "bmm", "mv", "dot"):
    RULES[_name] = _matmul


def _einsum(op, inputs, attrs, level, size):
    eq = attrs.get("equation")
    if eq is None or "..." in eq or "->" not in eq:
        return NotImplemented
    lhs, rhs = eq.replace(" ", "").split("->")
    terms = lhs.split(",")
    letter = next(c for c in "ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqponmlkjihgfedcba" if c not in eq)
    terms = [letter + t if _batched(x, level) else t for t, x in zip(terms, inputs)]
    out = op(*[unwrap(x, level) for x in inputs], **dict(attrs, equation=",".join(terms) + "->" + letter + rhs))
    return wrap(out, level)


RULES["einsum"] = _einsum


# ------------------------------------------------------------------------------------ reductions, softmax
def _reduction(op, inputs, attrs, level, size):
    """Ops reducing logical ``dims`` (sorted, normalized by the entry point): the value's dims one further."""
    x = inputs[0]
    # (a 0-dim sample's ``dims=()`` means all dims to some kernels: the batch dim too)
    if len(inputs) != 1 or not isinstance(attrs.get("dims"), tuple) or not _batched(x, level) or x.dim() == 0:
        return NotImplemented
    if op.name in ("argmax", "argmin") and len(attrs["dims"]) > 1:      # an index into the flattened sample
        out = op(x._value.reshape(size, -1), **dict(attrs, dims=(1,), keepdim=False))
        return wrap(out.reshape((size,) + (1,) * x.dim()) if attrs["keepdim"] else out, level)
    kw = dict(attrs, dims=tuple(d + 1 for d in attrs["dims"]))
    if "in_shape" in kw:
        kw["in_shape"] = (size,) + tuple(kw["in_shape"])
    return _wrap_all(op(x._value, **kw), level)


FAMILY_RULES["reduction"] = _reduction


def _shift_dim(op, inputs, attrs, level, size):
    """softmax, log_softmax, scans...: one logical ``dim``, the value's next one."""
    x = inputs[0]
    if len(inputs) != 1 or not isinstance(attrs.get("dim"), int) or not _batched(x, level) or x.dim() == 0:
        return NotImplemented
    return _wrap_all(op(x._value, **dict(attrs, dim=attrs["dim"] % x.dim() + 1)), level)


for _name in ("softmax", "log_softmax", "cumsum", "cumprod", "logcumsumexp", "cummax", "sort", "topk", "diff"):
    RULES[_name] = _shift_dim


def _shift_dims(op, inputs, attrs, level, size):
    """flip, roll: a tuple of logical ``dims`` (roll without dims flattens: per sample)."""
    x = inputs[0]
    if len(inputs) != 1 or not attrs.get("dims") or not _batched(x, level):
        return NotImplemented
    return wrap(op(x._value, **dict(attrs, dims=tuple(d % x.dim() + 1 for d in attrs["dims"]))), level)


RULES["flip"] = RULES["roll"] = _shift_dims


def _last_two(op, inputs, attrs, level, size):
    """tril, triu: the last two dims, the value's too."""
    if len(inputs) != 1 or inputs[0].dim() < 2:
        return NotImplemented
    return wrap(op(inputs[0]._value, **attrs), level)


RULES["tril"] = RULES["triu"] = _last_two


def _indexed(op, inputs, attrs, level, size):
    """index_select (an unbatched index) and gather (index and input of one rank) along a logical ``dim``."""
    x, index = inputs
    d = attrs["dim"] % max(x.dim(), 1) + 1
    if x.dim() == 0 or op.name == "index_select" and _batched(index, level):
        return NotImplemented
    xv = unwrap(x, level, size)
    iv = unwrap(index, level, size) if op.name == "gather" else index
    kw = dict(attrs, dim=d)
    if "in_shape" in kw:
        kw["in_shape"] = tuple(xv.shape)
    return wrap(op(xv, iv, **kw), level)


RULES["index_select"] = RULES["gather"] = _indexed


def _norm(op, inputs, attrs, level, size):
    """layer_norm / rms_norm over the last ``k`` logical dims: the value's last ``k``; a batched weight or
    bias (per-sample gradients of a norm's parameters) is applied after the unweighted op."""
    x, w = inputs[0], inputs[1]
    b = inputs[2] if len(inputs) > 2 else None
    xv = unwrap(x, level, size)
    if not _batched(w, level) and not _batched(b, level):
        return _wrap_all(op(xv, *inputs[1:], **attrs), level)
    lead = (1,) * (x.dim() - attrs["k"])

    def aligned(t):
        return t._value.reshape((size,) + lead + tuple(t.shape)) if _batched(t, level) else t
    y = op(xv, *([None] * (len(inputs) - 1)), **attrs)
    if w is not None:
        y = y * aligned(w)
    if b is not None:
        y = y + aligned(b)
    return wrap(y, level)


RULES["layer_norm"] = RULES["rms_norm"] = _norm


# ------------------------------------------------------------------------------------ cross entropy
def _ce_rows(op, inputs, attrs, level, size):
    """Per-row losses (2, M) of logits (N, C, d...) and targets (N, d...): one call on B * N rows."""
    x, t = inputs
    if x.dim() < 2:
        return NotImplemented
    xv, tv = unwrap(x, level, size), unwrap(t, level, size)
    rows = op(xv.reshape((-1,) + tuple(x.shape[1:])), tv.reshape((-1,) + tuple(t.shape[1:])), **attrs)
    return wrap(rows.reshape(2, size, -1).transpose(0, 1), level)      # (B, 2, M)


def _ce_mean(op, inputs, attrs, level, size):
    rows, t = inputs
    r0 = unwrap(rows, level, size)[:, 0]                                   # (B, M)
    keep = unwrap(t, level, size).reshape(size, -1) != attrs["ignore_index"]
    total = ttorch.where(keep, r0, ttorch.zeros((), dtype=r0.dtype, device=r0.device)).sum(1)
    return wrap(total / keep.sum(1).to(r0.dtype) if attrs["mean"] else total, level)


RULES["cross_entropy"], RULES["cross_entropy_mean"] = _ce_rows, _ce_mean


# ------------------------------------------------------------------------------------ views
def _view_of(x, value, level, copied=False):
    """A batched view of ``x``; ``_copied`` when its value is no view of ``x``'s (a non-contiguous value the
    rule had to copy): an in-place write into it then reruns the function per sample (_inplace_rules.py)."""
    t = wrap(value, level)
    if copied or getattr(x, "_copied", False):
        t._copied = True
    return t


def _contiguous(v):
    return type(v) is Tensor and v.is_contiguous()


def _view(op, inputs, attrs, level, size):
    x = inputs[0]
    return _view_of(x, x._value.reshape((size,) + tuple(attrs["shape"])), level, not _contiguous(x._value))


def _permute(op, inputs, attrs, level, size):
    x = inputs[0]
    return _view_of(x, x._value.permute((0,) + tuple(d % x.dim() + 1 for d in attrs["dims"])), level)


def _expand(op, inputs, attrs, level, size):
    x, shape = inputs[0], tuple(attrs["shape"])
    v = x._value
    if len(shape) > x.dim():
        v = v.reshape((size,) + (1,) * (len(shape) - x.dim()) + tuple(x.shape))
    return _view_of(x, v.expand((size,) + shape), level, not _contiguous(x._value))


def _as_strided(op, inputs, attrs, level, size):
    """A selecting or reshaping view (select, narrow, slices, unsqueeze, transpose...): the entry point
    computed its strides for a contiguous logical tensor, so they hold for a contiguous value's samples;
    a selecting view of a strided value takes them remapped onto the value's strides (``_remap``)."""
    from ..ops import views
    x = inputs[0]
    n = 1
    for s in x.shape:
        n *= s
    shape, stride, offset = (size,) + tuple(attrs["shape"]), (n,) + tuple(attrs["stride"]), attrs["offset"]

    def fn(t):      # the same view of a value-shaped tensor (the backward's ``view_scatter`` writes through it)
        t = t.contiguous()
        return views._strided(t, shape, stride, t._offset + offset, "vmap", fn=fn)
    v = x._value
    mapped = None if attrs["reshaping"] or type(v) is not Tensor or v.is_contiguous() else \
        _remap(tuple(x.shape), attrs, v)
    if mapped is not None:          # the view of the value itself: writes through it reach the value
        vstride, voff = mapped
        out = views._strided_op(v, shape=shape, stride=vstride, offset=v._offset + voff, fn=fn, reshaping=False,
                                in_shape=tuple(v.shape))
        return _view_of(x, out, level)
    v = v.contiguous()
    return _view_of(x, views._strided_op(v, shape=shape, stride=stride, offset=v._offset + offset, fn=fn,
                                         reshaping=attrs["reshaping"], in_shape=tuple(v.shape)), level,
                    v is not x._value)


def _remap(lshape, attrs, v):
    """A selecting view's strides and offset, given for a contiguous sample of shape ``lshape``, on the
    strided value ``v`` instead: each is a sum of whole multiples of the contiguous strides (select,
    slices, transpose, diagonal), decomposed dim by dim. None where that does not hold."""
    cs, acc = [], 1
    for d in reversed(lshape):
        cs.insert(0, acc)
        acc *= d
    vs = v.stride()[1:]
    if 0 in cs:         # (an empty sample: nothing to remap)
        return None

    def convert(k, whole):
        out = 0
        for j, c in enumerate(cs):
            a, k = divmod(k, c)
            if j and a >= lshape[j] and not whole:
                return None
            out += a * vs[j]
        return out if k == 0 else None
    off = convert(attrs["offset"], False)
    strides = [convert(st, True) if n != 1 else 0 for st, n in zip(attrs["stride"], attrs["shape"])]
    if off is None or any(st is None for st in strides):
        return None
    return (v.stride()[0],) + tuple(strides), off


RULES.update(view=_view, permute=_permute, expand=_expand, as_strided=_as_strided)


def _repeat(op, inputs, attrs, level, size):
    """repeat: the value padded to the sizes' rank after the batch dim, repeated once along it."""
    x, sizes = inputs[0], tuple(attrs["sizes"])
    if len(inputs) != 1 or len(sizes) < x.dim():
        return NotImplemented
    v = x._value.reshape((size,) + (1,) * (len(sizes) - x.dim()) + tuple(x.shape))
    return wrap(op(v, **dict(attrs, sizes=(1,) + sizes, in_shape=tuple(v.shape))), level)


RULES["repeat"] = _repeat


def _cat_stack(op, inputs, attrs, level, size):
    ts = [unwrap(t, level, size) for t in inputs]
    rank = inputs[0].dim() + (op.name == "stack")
    if op.name == "cat" and inputs[0].dim() == 0:
        return NotImplemented
    if op.name == "cat":
        return wrap(ttorch.cat(ts, dim=attrs["dim"] % rank + 1).to(attrs["dtype"]), level)
    return wrap(ttorch.stack(ts, dim=attrs["dim"] % rank + 1).to(attrs["dtype"]), level)


RULES["cat"] = RULES["stack"] = _cat_stack


def _same_attrs(op, inputs, attrs, level, size):
    """Ops that treat every element alike (copies, casts): the op on the value as it is."""
    if len(inputs) != 1:
        return NotImplemented
    return wrap(op(inputs[0]._value, **attrs), level)


for _name in ("clone", "to_dtype", "to_device"):
    RULES[_name] = _same_attrs
