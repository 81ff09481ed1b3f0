"""Batching rules of the network ops that per-sample gradients and ensembles meet: convolution, max
pooling and embedding lookups (``index_select`` by a batched index).

Rules follow PyTorch's (``functorch/csrc/BatchRulesConvolution.cpp``): a batched input folds the vmap dim
into the op's own batch dim; batched weights (per-sample gradients differentiate per-sample copies of
them, see ``_batched.per_sample``) make one grouped convolution with ``B * groups`` groups, the vmap dim
folded into the channels. The ops run on the values, so autograd records them there as for any rule.
"""
from ._batched import RULES, level_of, unwrap, wrap


def _conv2d(op, inputs, attrs, level, size):
    """conv2d (conv1d reaches it with a height of 1): x (N, C, H, W), w (O, C/g, kh, kw), b (O,); and
    conv_transpose2d (``conv2d_input_grad``, w (C, O/g, kh, kw))."""
    x, w, b = (list(inputs) + [None])[:3]
    if x.dim() != 4 or w.dim() != 4:
        return NotImplemented
    n = x.shape[0]
    xv = unwrap(x, level, size)
    if level_of(w) != level and level_of(b) != level:      # (B, N, C, H, W): the vmap dim into N
        y = op(xv.reshape((size * n,) + tuple(x.shape[1:])), w, b, **attrs)
        return wrap(y.reshape((size, n) + tuple(y.shape[1:])), level)
    g = attrs["groups"]
    # conv2d's weight is (O, C/g, kh, kw); conv_transpose2d's (``conv2d_input_grad``) is (C, O/g, kh, kw)
    o = w.shape[0] if op.name == "conv2d" else w.shape[1] * g
    xv = unwrap(x, level, size).transpose(0, 1).reshape((n, size * x.shape[1]) + tuple(x.shape[2:]))
    wv = unwrap(w, level, size).reshape((size * w.shape[0],) + tuple(w.shape[1:]))   # the vmap dim in dim 0
    bv = None if b is None else unwrap(b, level, size).reshape(size * o)
    y = op(xv, wv, bv, **dict(attrs, groups=size * g))                         # (N, B * O, H', W')
    return wrap(y.reshape((n, size, o) + tuple(y.shape[2:])).transpose(0, 1), level)


def _max_pool2d(op, inputs, attrs, level, size):
    """max_pool2d_with_indices of (N, C, H, W) or (C, H, W): every leading dim folded into one; the
    indices count within each plane, so they hold as they are."""
    x = inputs[0]
    if len(inputs) != 1 or level_of(x) != level or x.dim() not in (3, 4):
        return NotImplemented
    v = x._value.reshape((-1,) + tuple(x.shape[-3:]))
    outs = op(v, **dict(attrs, in_shape=tuple(v.shape)))
    lead = (size,) + tuple(x.shape[:-3])
    return tuple(wrap(t.reshape(lead + tuple(t.shape[1:])), level) for t in outs)


def _index_select(op, inputs, attrs, level, size):
    """A table by a batched 1-d index (an embedding lookup): one call on the flattened index; a batched
    table too (per-sample gradients of an embedding) has its samples' rows stacked, the index offset."""
    import ttorch
    x, index = inputs
    if index.dim() != 1 or x.dim() == 0:
        return NotImplemented
    d = attrs["dim"] % x.dim()
    if level_of(x) == level:
        rows = x.shape[d]
        xm = x._value.movedim(d + 1, 1)
        xm = xm.reshape((size * rows,) + tuple(xm.shape[2:]))                     # (B * V, ...)
        flat = (index._value + ttorch.arange(size, device=x.device).unsqueeze(1) * rows).reshape(-1)
        y = op(xm, flat, **dict(attrs, dim=0, in_shape=tuple(xm.shape)))        # (B * n, ...)
        return wrap(y.reshape((size, index.shape[0]) + tuple(y.shape[1:])).movedim(1, d + 1), level)
    y = op(x, index._value.reshape(-1), **attrs)                      # (..., B * n, ...)
    y = y.reshape(tuple(x.shape[:d]) + (size, index.shape[0]) + tuple(x.shape[d + 1:]))
    return wrap(y.movedim(d, 0), level)


_INDEX_SELECT = RULES["index_select"]


def _index_select_any(op, inputs, attrs, level, size):
    if level_of(inputs[1]) == level:
        return _index_select(op, inputs, attrs, level, size)
    return _INDEX_SELECT(op, inputs, attrs, level, size)


def _batch_norm(op, inputs, attrs, level, size):
    """batch_norm (x, weight, bias, running_mean, running_var) of (N, C, *) samples: the vmap dim folded
    into the channels, so each sample's statistics are its own (PyTorch's rule). Training with running
    statistics would write one tensor from every sample: per sample (PyTorch refuses it)."""
    x, w, b, rm, rv = inputs
    if x.dim() < 2 or (attrs["training"] and (rm is not None or rv is not None)) or \
            (not attrs["training"] and (rm is None or rv is None)):
        return NotImplemented
    n, c, rest = x.shape[0], x.shape[1], tuple(x.shape[2:])
    xf = unwrap(x, level, size).transpose(0, 1).reshape((n, size * c) + rest)      # (N, B * C, *)

    def channels(t):
        return None if t is None else unwrap(t, level, size).reshape(size * c)
    y, mean, var = op(xf, channels(w), channels(b), channels(rm), channels(rv), **attrs)
    return (wrap(y.reshape((n, size, c) + rest).transpose(0, 1), level), wrap(mean.reshape(size, c), level),
            wrap(var.reshape(size, c), level))


RULES["batch_norm"] = _batch_norm
RULES["conv2d"] = RULES["conv2d_input_grad"] = _conv2d
RULES["max_pool2d_with_indices"] = _max_pool2d
RULES["index_select"] = _index_select_any
