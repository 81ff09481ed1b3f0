"""What ttorch's ops do given a jagged nested tensor: ``handle``, its entry in ``Op.__call__``'s
``SUBCLASS_OPS`` table, and ``scaled_dot_product_attention`` (reached from ``F.scaled_dot_product_attention``).

Elementwise ops (the unary, binary and ternary families) run once on ``values``: a nested operand must
share the ragged size (the same ``j``, i.e. the same offsets), a dense one is broadcast over the
non-ragged dims (its batch dim, when not 1, repeated per packed row). Other ops map their dims onto
``values`` (nested dim ``d`` is values dim ``d - 1``) or run per component; ops PyTorch's jagged
tensors lack raise its ``NotImplementedError`` (``aten.<name>.default``).
"""
from .._tensor import Tensor
from ._nested_tensor import NestedTensor

_ELEMENTWISE = ("unary", "binary", "ternary")
_ELEMENTWISE_OPS = ("masked_fill",)     # elementwise ops of other families


def route(op, inputs, attrs, elementwise, handlers):
    """An op on a nested input (either layout): ``elementwise`` for the elementwise families, else the layout's
    handler for the op's name; PyTorch's ``NotImplementedError`` for an op the layout lacks."""
    if op.family in _ELEMENTWISE or op.name in _ELEMENTWISE_OPS:
        return elementwise(op, inputs, attrs)
    fn = handlers.get(op.name)
    if fn is None:
        raise NotImplementedError(f"aten.{op.name}.default")
    return fn(op, inputs, attrs)


def handle(op, inputs, attrs):
    """``Op.__call__``'s answer to a nested input: the op applied to the values or per component."""
    return route(op, inputs, attrs, _elementwise, _HANDLERS)


def _shape_str(t):
    return f"({', '.join(map(str, t._shape))})"


def _elementwise(op, inputs, attrs):
    ref = next(t for t in inputs if type(t) is NestedTensor)

    def operand(t):
        if type(t) is NestedTensor:
            if t._shape[t._ragged_idx] != ref._shape[ref._ragged_idx] or t._ragged_idx != ref._ragged_idx:
                raise RuntimeError(f"cannot call binary pointwise function {op.name}.Tensor with inputs of shapes "
                                   f"{_shape_str(ref)} and {_shape_str(t)}")
            return t._values
        return _dense_operand(ref, t, op.name) if isinstance(t, Tensor) else t
    args = [operand(t) for t in inputs]
    if "out_dtype" not in attrs and op.family in _ELEMENTWISE:
        # a public function's call (``clamp``, ``where``): its parameters, not the op's
        from ..ops import FUNCTIONS
        return ref._like(FUNCTIONS[op.name](*args, **{k: operand(v) for k, v in attrs.items()}))
    return ref._like(op(*args, **attrs))


def _dense_operand(ref, d, name):
    """Dense ``d`` as an operand broadcasting against ``ref``'s values: its ragged dim must be 1, its
    batch dim 1 (dropped) or B (each component's entry repeated over that component's rows)."""
    n, r = ref.ndim, ref._ragged_idx
    shape = (1,) * (n - d.ndim) + tuple(d._shape)
    if d.ndim > n or shape[r] != 1 or shape[0] not in (1, ref._shape[0]) or shape[0] != 1 and ref._lengths is not None:
        raise RuntimeError(f"cannot call binary pointwise function {name}.Tensor with inputs of shapes "
                           f"{ref.shape} and {d.shape}")
    if d.ndim == 0:
        return d
    if shape[0] == 1:
        return d.reshape(shape[1:])
    rows = d.reshape(shape).index_select(0, ref._batch_index())    # (sum_j, *shape[1:])
    return rows.squeeze(r).movedim(0, r - 1)


def _packed(ref, values):
    """A nested tensor over ``values`` packed without holes, with ``ref``'s lengths."""
    if ref._lengths is None:
        return ref._like(values)
    import numpy as np
    from ..ops.creation import tensor
    _, ln = ref._host_meta()
    off = tensor(np.concatenate([[0], np.cumsum(ln)]), device=ref.device)
    return NestedTensor._new(values, off, ref._ragged_idx, None, ref._min_seqlen, ref._max_seqlen)


def _per_component(nt, fn, dim):
    """``fn`` on each component, results packed along values dim ``dim`` (with ``nt``'s lengths)."""
    from ..ops.movement import cat
    return _packed(nt, cat([fn(c) for c in nt.unbind()], dim))


# ---------------------------------------------------------------------------------- the other ops
def _softmax(op, inputs, attrs):
    (x,) = inputs
    d = attrs["dim"]
    if d == 0:
        raise RuntimeError(f"{op.name}(): not supported when reducing across the batch dimension for NestedTensor")
    kw = dict(attrs, dim=d - 1)
    if d == x._ragged_idx:
        return _per_component(x, lambda c: op(c, **kw), d - 1)
    return x._like(op(x._values, **kw))


def _norm(op, inputs, attrs):
    x, *rest = inputs
    if x._ragged_idx >= x.ndim - attrs["k"]:
        raise RuntimeError(f"{op.name}(): normalizing over the ragged dimension is not supported for nested tensors")
    return x._like(op(x._values, *rest, **attrs))


def _reduce(op, inputs, attrs):
    from ..ops import FUNCTIONS
    from ..ops.movement import stack
    (x,) = inputs
    name, dims, keepdim, r = op.name, attrs["dims"], attrs["keepdim"], x._ragged_idx
    kw = {"keepdim": keepdim}
    if name in ("sum", "mean"):
        kw["dtype"] = attrs["dtype"]
    fn = FUNCTIONS[name]
    vdims = [d - 1 for d in dims if d != 0]
    if 0 in dims and r in dims:     # over every component: the packed rows are one dim of values
        out = fn(x.contiguous()._values, dim=vdims, **kw)
        return out.unsqueeze(0) if keepdim else out
    if 0 in dims:
        raise RuntimeError(f"{name}(): reducing along the batch dimension but not the ragged dimension is not "
                           "supported for nested tensors")
    if r in dims:
        if len(dims) > 1:
            raise RuntimeError(f"{name}(): reducing along a ragged and non-batch dimension is not supported for "
                               "nested tensors")
        return stack([fn(c, dim=r - 1, **kw) for c in x.unbind()])
    out = fn(x._values, dim=vdims, **kw)
    return x._like(out, r if keepdim else r - sum(d < r for d in dims))


def _argmax(op, inputs, attrs):
    from ..ops import FUNCTIONS
    (x,) = inputs
    dims, keepdim, r = attrs["dims"], attrs["keepdim"], x._ragged_idx
    name = "argmax" if attrs.get("is_max", op.name == "argmax") else "argmin"
    if dims is None or len(dims) != 1 or dims[0] in (0, r):
        raise RuntimeError(f"{name}(): only supported for NestedTensor on a non-batch, non-ragged dim")
    return x._like(FUNCTIONS[name](x._values, dims[0] - 1, keepdim), r if keepdim or dims[0] > r else r - 1)


def _maxdim(op, inputs, attrs):
    from ..ops import FUNCTIONS
    (x,) = inputs
    (d,), keepdim, r = attrs["dims"], attrs["keepdim"], x._ragged_idx
    if d in (0, r):
        raise RuntimeError(f"{op.name}(): only supported for NestedTensor on a non-batch, non-ragged dim")
    v, i = FUNCTIONS[op.name](x._values, d - 1, keepdim)
    r = r if keepdim or d > r else r - 1
    return x._like(v, r), x._like(i, r)


def _permute(op, inputs, attrs):
    (x,) = inputs
    dims = attrs["dims"]
    if dims[0] != 0:
        if dims[0] == x._ragged_idx:
            raise ValueError("Transpose is not supported on the batch dimension for jagged NT")
        raise RuntimeError("transpose(): not supported for NestedTensor on dim=0")
    return x._like(x._values.permute(*[d - 1 for d in dims[1:]]), dims.index(x._ragged_idx))


def _split(op, inputs, attrs):
    from ..ops.views import split
    (x,) = inputs
    d = attrs["dim"]
    if d in (0, x._ragged_idx):
        raise RuntimeError(f"split(): not supported for NestedTensor on dim={d}")
    return tuple(x._like(v) for v in split(x._values, list(attrs["sizes"]), d - 1))


def _cat(op, inputs, attrs):
    from ..ops.movement import cat
    ref = next(t for t in inputs if type(t) is NestedTensor)
    d = attrs["dim"]
    if d in (0, ref._ragged_idx) or any(type(t) is not NestedTensor or t._shape[t._ragged_idx] != ref._shape[
            ref._ragged_idx] for t in inputs):
        raise RuntimeError("cat(): only nested tensors of the same ragged structure, joined along a non-batch, "
                           "non-ragged dim, are supported")
    return ref._like(cat([t._values for t in inputs], d - 1))


def _linear(op, inputs, attrs):
    from ..ops.linear import linear, linear_act
    x, w, b = inputs
    if x._ragged_idx == x.ndim - 1:
        raise RuntimeError("linear(): not supported for NestedTensor on the ragged dim")
    act = attrs.get("act", "none")
    v = linear(x._values, w, b) if act == "none" else linear_act(x._values, w, b, act)
    return x._like(v)


def _matmul(op, inputs, attrs):
    from ..ops.matmul import matmul
    x, w = inputs
    if type(x) is NestedTensor and isinstance(w, Tensor) and type(w) is not NestedTensor \
            and x._ragged_idx < x.ndim - 1:
        if w.ndim <= 2:
            return x._like(matmul(x._values, w))
        if w.ndim == 3 and x.ndim == 3 and w._shape[0] == x._shape[0]:    # one matrix per component
            from ..ops.movement import cat
            return _packed(x, cat([matmul(c, m) for c, m in zip(x.unbind(), w.unbind(0))], 0))
    raise RuntimeError(f"matmul(): not supported between inputs of shapes {_shape_str(x)} and {_shape_str(w)}")


def _to_dtype(op, inputs, attrs):
    (x,) = inputs
    return x._like(op(x._values, **attrs))


_HANDLERS = {"softmax": _softmax, "log_softmax": _softmax, "layer_norm": _norm, "rms_norm": _norm,
             "sum": _reduce, "mean": _reduce, "amax": _reduce, "amin": _reduce, "argmax": _argmax,
             "argmin": _argmax, "max": _maxdim, "min": _maxdim, "permute": _permute, "split": _split,
             "cat": _cat, "linear": _linear, "linear_act": _linear, "matmul": _matmul, "to_dtype": _to_dtype}


# ---------------------------------------------------------------------------------- attention
def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False):
    """Attention of nested (B, H, j, D) query/key/value: ttorch's dense SDPA per sequence (query ``i``
    attends to the keys of sequence ``i`` only, as with padding and a mask, without the padding).

    Differences from PyTorch: ``is_causal`` runs on cpu as on cuda (PyTorch's cpu has no backend for
    it); inputs in the (B, j, H, D) layout raise (PyTorch attends over the heads there).
    """
    from ..nn.functional import scaled_dot_product_attention as sdpa
    from ..ops.movement import cat
    if any(t.is_nested and type(t) is not NestedTensor for t in (query, key, value)):     # the strided layout
        from ._strided_ops import scaled_dot_product_attention as strided_sdpa
        return strided_sdpa(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa)
    ts = (query, key, value)
    if not all(type(t) is NestedTensor for t in ts):
        raise ValueError(f"Expected query, key, and value to be nested tensors, but got query.is_nested: "
                         f"{query.is_nested}, key.is_nested: {key.is_nested}, and value.is_nested: {value.is_nested} "
                         "instead.")
    if attn_mask is not None:
        raise ValueError("Masks are not yet supported!")
    if any(t.ndim != 4 or t._ragged_idx != 2 for t in ts) or len({t._shape[0] for t in ts}) != 1:
        raise RuntimeError("scaled_dot_product_attention(): nested query, key and value must be (B, H, j, D) with "
                           "the ragged dim 2 (transpose(1, 2) of (B, j, H, D)) and the same batch size")
    if key._shape[2] != value._shape[2] and list(key._host_meta()[1]) != list(value._host_meta()[1]):
        raise RuntimeError("scaled_dot_product_attention(): key and value must have the same ragged structure")
    outs = [sdpa(q, k, v, dropout_p=dropout_p, is_causal=is_causal, scale=scale, enable_gqa=enable_gqa)
            .transpose(0, 1) for q, k, v in zip(query.unbind(), key.unbind(), value.unbind())]    # (L_i, H, Dv)
    # packed (sum_j, H, Dv) and returned transposed, as PyTorch's: out.transpose(1, 2) is contiguous
    return _packed(query, cat(outs, 0).transpose(0, 1))
