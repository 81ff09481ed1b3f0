"""What ttorch's ops do given a strided nested tensor: ``handle``, its entry in ``Op.__call__``'s
``SUBCLASS_OPS`` table, and ``scaled_dot_product_attention``.

Elementwise ops run once on the flat buffer when every tensor operand is nested with the same component
shapes (or a 0-dim tensor); with a dense operand they run per component (a dense tensor of the nested
tensor's dim has one row per component, or one row for all; a lower-dim one broadcasts against each).
Ops over the last dim (softmax, layer_norm, linear) run on the buffer seen as rows when that dim is
regular; the rest run per component and pack the results again. Ops PyTorch's nested tensors lack raise
its ``NotImplementedError`` (``aten.<name>.default``).

Differences from PyTorch (more is accepted): every elementwise op (PyTorch's strided layout has a few
dozen), dense operands other than 0-dim ones, ``log_softmax``, ``mean``/``amax``/``amin`` and ``sum``
over any non-batch dims without ``keepdim`` (a sum over every dim is a 0-dim tensor), ``linear`` and
``matmul`` with a dense matrix at any dim, ``layer_norm`` without weight and bias, ``split`` on any
non-batch dim, ``permute``, and attention with non-contiguous (transposed) inputs.
"""
from .._tensor import Tensor
from ._strided_tensor import StridedNestedTensor as SNT
from ._ops import _ELEMENTWISE, route


def handle(op, inputs, attrs):
    """``Op.__call__``'s answer to a strided nested input: the op on the buffer or per component."""
    return route(op, inputs, attrs, _elementwise, _HANDLERS)


def _call(op, args, attrs):
    if "out_dtype" not in attrs and op.family in _ELEMENTWISE:
        # a public function's call (``clamp``, ``where``): its parameters, not the op's
        from ..ops import FUNCTIONS
        return FUNCTIONS[op.name](*args, **attrs)
    return op(*args, **attrs)


def _elementwise(op, inputs, attrs):
    ref = next(t for t in list(inputs) + list(attrs.values()) if type(t) is SNT)
    operands = list(inputs) + list(attrs.values())
    for t in operands:
        if type(t) is SNT and t._sizes != ref._sizes:
            raise RuntimeError(f"{op.name} does not support broadcasting when given a NestedTensor")
    dense = [t for t in operands if isinstance(t, Tensor) and type(t) is not SNT and t.ndim > 0]
    if not dense:       # one launch over the buffers
        def flat(t):
            return t._values if type(t) is SNT else t
        return ref._like(_call(op, [flat(t) for t in inputs], {k: flat(v) for k, v in attrs.items()}))
    n = ref.ndim
    for d in dense:
        if d.ndim > n or d.ndim == n and d._shape[0] not in (1, len(ref)):
            raise RuntimeError(f"{op.name}: a dense operand of shape {list(d.shape)} does not broadcast against a "
                               f"nested tensor of {len(ref)} components of dim {n - 1}")

    def part(t, i):
        if type(t) is SNT:
            return t.unbind()[i]
        if isinstance(t, Tensor) and t.ndim == n:
            return t[i if t._shape[0] > 1 else 0]
        return t
    outs = [_call(op, [part(t, i) for t in inputs], {k: part(v, i) for k, v in attrs.items()})
            for i in range(len(ref))]
    return SNT._pack(outs, n, ref)


def _last_regular(x):
    return x.ndim > 1 and type(x._shape[-1]) is int


def _rows(x):
    """The buffer as (rows, last dim): the components' rows one after another."""
    return x._values.view(-1, x._shape[-1])


def _with_last(x, values, n):
    """A nested tensor over ``values`` (rows of ``x``'s components) whose last dim is now ``n``."""
    return SNT._new(values.reshape(-1), [s[:-1] + (n,) for s in x._sizes], x.ndim)


# ---------------------------------------------------------------------------------- the other ops
def _softmax(op, inputs, attrs):
    (x,) = inputs
    d = attrs["dim"] % x.ndim
    if d == 0:
        raise RuntimeError("Cannot apply softmax across nested dimension 0")
    kw = dict(attrs, dim=d - 1)
    if d == x.ndim - 1 and _last_regular(x):
        return x._like(op(_rows(x), **dict(attrs, dim=1)).reshape(-1))
    return x._map(lambda c: op(c, **kw))


def _norm(op, inputs, attrs):
    x, *rest = inputs
    k = attrs["k"]
    if any(type(s) is not int for s in x._shape[x.ndim - k:]):
        raise RuntimeError("normalized_shape extends into irregular dimensions for the nested tensor")
    rows = x._values.view((-1,) + tuple(x._shape[x.ndim - k:]))
    return x._like(op(rows, *rest, **attrs).reshape(-1))


def _reduce(op, inputs, attrs):
    from ..ops import FUNCTIONS
    (x,) = inputs
    name, dims, keepdim = op.name, sorted(attrs["dims"]), attrs["keepdim"]
    kw = {"keepdim": keepdim}
    if name in ("sum", "mean") and attrs.get("dtype") is not x.dtype and x.dtype.is_floating_point:
        kw["dtype"] = attrs["dtype"]
    fn = FUNCTIONS[name]
    if dims == list(range(x.ndim)) and not keepdim:      # every element: one value
        return fn(x._values, **kw)
    if 0 in dims:
        raise RuntimeError("NestedTensor can only be reduced across the last dimension for now got dimension 0 "
                           "instead.")
    return x._map(lambda c: fn(c, dim=[d - 1 for d in dims], **kw))


def _permute(op, inputs, attrs):
    (x,) = inputs
    dims = attrs["dims"]
    if dims[0] != 0:
        raise RuntimeError("Nested tensor dimension 0 cannot be transposed")
    return x._map(lambda c: c.permute(*[d - 1 for d in dims[1:]]))


def _split(op, inputs, attrs):
    from ..ops.views import split
    (x,) = inputs
    d = attrs["dim"]
    if d == 0:
        raise RuntimeError("split(): not supported for NestedTensor on dim=0")
    sizes = list(attrs["sizes"])
    pieces = [split(c, sizes, d - 1) for c in x.unbind()]
    return tuple(SNT._pack([p[k] for p in pieces], x.ndim, x) for k in range(len(sizes)))


def _linear(op, inputs, attrs):
    from ..ops.linear import linear, linear_act
    x, w, b = inputs
    if type(w) is SNT or type(b) is SNT:
        raise RuntimeError("Linear requires a nested input and a dense weight and bias")
    if not _last_regular(x) or x.size(-1) != w._shape[-1]:
        raise RuntimeError(f"Linear: the nested input's last dim must be regular and match the weight's "
                           f"{w._shape[-1]}")
    act = attrs.get("act", "none")
    rows = _rows(x)
    v = linear(rows, w, b) if act == "none" else linear_act(rows, w, b, act)
    return _with_last(x, v, w._shape[0])


def _matmul(op, inputs, attrs):
    from ..ops.matmul import matmul
    a, b = inputs
    if type(a) is SNT and type(b) is SNT:
        if len(a) != len(b):
            raise RuntimeError(f"matmul: Expected size for first dim of batch2 tensor to be: {len(a)} but got: "
                               f"{len(b)}.")
        for i, (x, y) in enumerate(zip(a._sizes, b._sizes)):
            if op.name == "bmm" and (len(x) != 2 or len(y) != 2):
                raise RuntimeError("batch1 must be a 3D tensor")
            if x[-1] != y[-2 if len(y) > 1 else 0]:
                if op.name == "bmm":
                    raise RuntimeError(f"{i}-th nested matrices in batch cannot be multiplied ({x[0]}x{x[1]} and "
                                       f"{y[0]}x{y[1]})")
                raise RuntimeError(f"matmul: Nested tensors cannot be matrix multiplied, last dimension of self has "
                                   f"sizes {x[-1]}")
        return SNT._pack([matmul(x, y) for x, y in zip(a.unbind(), b.unbind())], a.ndim, a)
    if type(a) is SNT and isinstance(b, Tensor) and b.ndim <= 2:
        if b.ndim == 2 and _last_regular(a):     # one GEMM over every component's rows
            return _with_last(a, matmul(_rows(a), b), b._shape[1])
        return a._map(lambda c: matmul(c, b))
    raise RuntimeError("Expected both to be nested, but got a nested self and non-nested other")


def _to_dtype(op, inputs, attrs):
    (x,) = inputs
    return x._like(op(x._values, **attrs))


def _clone(op, inputs, attrs):
    (x,) = inputs
    return x._like(op(x._values, **attrs))


_HANDLERS = {"softmax": _softmax, "log_softmax": _softmax, "layer_norm": _norm, "rms_norm": _norm,
             "sum": _reduce, "mean": _reduce, "amax": _reduce, "amin": _reduce, "permute": _permute,
             "split": _split, "split_with_sizes": _split, "linear": _linear, "linear_act": _linear,
             "matmul": _matmul, "bmm": _matmul, "to_dtype": _to_dtype, "to_device": _to_dtype, "clone": _clone}


# ---------------------------------------------------------------------------------- attention
def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False):
    """Attention of nested (B, H, L_i, D) query/key/value: ttorch's dense SDPA per component (query ``i``
    attends to the keys of component ``i`` only: padding and a mask without the padding)."""
    from ..nn.functional import scaled_dot_product_attention as sdpa
    ts = (query, key, value)
    if not all(type(t) is SNT for t in ts):
        raise ValueError(f"Expected query, key, and value to be nested tensors, but got query.is_nested: "
                         f"{query.is_nested}, key.is_nested: {key.is_nested}, and value.is_nested: {value.is_nested} "
                         "instead.")
    if attn_mask is not None:
        raise ValueError("Masks are not yet supported!")
    if len({len(t) for t in ts}) != 1:
        raise RuntimeError("scaled_dot_product_attention(): nested query, key and value must have the same number "
                           "of components")
    outs = [sdpa(q, k, v, dropout_p=dropout_p, is_causal=is_causal, scale=scale, enable_gqa=enable_gqa)
            for q, k, v in zip(query.unbind(), key.unbind(), value.unbind())]
    return SNT._pack(outs, query.ndim, query)


def multihead_attention(mha, query, key, value, key_padding_mask, need_weights, attn_mask, average_attn_weights,
                        is_causal):
    """``nn.MultiheadAttention`` of nested (B, L_i, E) query/key/value (``batch_first=True``): the module's
    dense path per component, as PyTorch's fast path gives (attention within each component). The weights,
    when asked for, come padded with zeros to (B, L_max, S_max) ((B, H, L_max, S_max) unaveraged).

    Differences from PyTorch: it also runs in training and with autograd (PyTorch's nested inputs need its
    inference fast path)."""
    from ..nn.functional import pad
    from ..ops.movement import cat
    if not mha.batch_first:
        raise AssertionError("MultiheadAttention does not support NestedTensor outside of its fast path. The fast "
                             "path was not hit because batch_first was not True")
    if key_padding_mask is not None or attn_mask is not None:
        raise AssertionError("MultiheadAttention does not support NestedTensor outside of its fast path. The fast "
                             "path was not hit because supplying both src_key_padding_mask and src_mask at the same "
                             "time is not supported with NestedTensor input")
    if not all(type(t) is SNT for t in (query, key, value)) or len({len(t) for t in (query, key, value)}) != 1:
        raise AssertionError("MultiheadAttention: query, key and value must all be nested tensors of the same "
                             "number of components")
    outs, weights = [], []
    for q, k, v in zip(query.unbind(), key.unbind(), value.unbind()):
        o, w = mha(q.unsqueeze(0), k.unsqueeze(0), v.unsqueeze(0), need_weights=need_weights,
                   average_attn_weights=average_attn_weights, is_causal=is_causal)
        outs.append(o[0])
        weights.append(w)
    if not need_weights:
        return SNT._pack(outs, query.ndim, query), None
    lmax = max(w._shape[-2] for w in weights)
    smax = max(w._shape[-1] for w in weights)
    w = cat([pad(w, (0, smax - w._shape[-1], 0, lmax - w._shape[-2])) for w in weights])
    return SNT._pack(outs, query.ndim, query), w
