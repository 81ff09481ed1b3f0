"""Fused ``linear``: ``y = act(x @ W^T + b)`` in ONE GEMM launch on cuda.

``x`` (*, in), ``W`` (out, in), ``b`` (out,) or None, ``act`` in none, relu, gelu (erf),
gelu_tanh, silu. On cuda the bias add and the activation run in the GEMM's epilogue
(``gemm.py``) on the fp32 accumulator: W^T is a strided view (no copy) and the leading dims of
``x`` fold into the GEMM's rows. On cpu, NumPy (half types in float32).

Backward (in ttorch ops, so higher-order gradients work) needs ``act'`` of the pre-activation
``z = x @ W^T + b``. relu reads it from the saved output (``y > 0``). gelu and silu RECOMPUTE
``z`` with one more GEMM (bias in its epilogue) instead of saving it: the FFN's hidden tensor is
the largest activation of a transformer block, and keeping ``z`` beside ``y`` would double it,
while the extra GEMM adds a third to the backward's two. Then, with ``gz = g * act'(z)``::

    dx = gz @ W        dW = gz^T @ x (leading dims folded into one GEMM)        db = sum(gz)

Two ops share this code: ``linear`` (no activation: nothing but inputs saved) and ``linear_act``
(saves its output, which the next layer keeps alive anyway).
"""
import math

import numpy as np

from .. import _dtype as D
from .._tensor import Tensor, _contig_strides, _numel
from ._op import Op
from . import _op as _amp_op
from .gemm import _gemm, _linear_specs, ACTIVATIONS, plan_state
from .matmul import mm, matmul, _FLOATS, _SNAME, _kernel_dtype, _expandable, _tensors
from .samples import Sample, rng

_ERF = np.vectorize(math.erf, otypes=[np.float64])


# ------------------------------------------------------------------------------- NumPy
def _np_act(z, act):
    if act == "relu":
        return np.where(z < 0, z.dtype.type(0), z)      # NaN stays NaN, as PyTorch's relu
    if act == "gelu":
        return (0.5 * z * (1 + _ERF(z.astype(np.float64) * math.sqrt(0.5)))).astype(z.dtype)
    if act == "gelu_tanh":
        return 0.5 * z * (1 + np.tanh(z.dtype.type(math.sqrt(2 / math.pi)) * (z + z.dtype.type(0.044715) * z ** 3)))
    if act == "silu":
        return z / (1 + np.exp(-z))
    return z


def _linear_cpu(x, w, b, *, act):
    ct = D._compute_dtype(D.from_numpy_dtype(x.dtype)).np
    z = np.matmul(x.astype(ct, copy=False), w.astype(ct, copy=False).T)    # (*, out)
    if b is not None:
        z = z + b.astype(ct, copy=False)
    return np.asarray(_np_act(np.asarray(z), act)).astype(x.dtype, copy=False)


# ------------------------------------------------------------------------------- cuda
def _linear_cuda(x, w, b, *, act):
    N, K = w._shape
    a = x if x.ndim > 1 else x._view((1, K), (0, x.stride()[0]), x._offset)   # (*batch, M, K)
    batch = a._shape[:-2]
    # W^T as a strided view, shared by the whole batch (stride 0): the GEMM folds batch into M
    wt = w._view(batch + (K, N), (0,) * len(batch) + (w.stride()[1], w.stride()[0]), w._offset)
    out = Tensor._empty(x._shape[:-1] + (N,), x.dtype, x.device)
    full = a._shape[:-1] + (N,)
    _gemm(a, wt, out._view(full, _contig_strides(full), 0), b, 1.0, 1.0, act)
    return out


# ------------------------------------------------------------------------------- backward
def _act_grad(act, z, g):
    """``g * act'(z)`` in ttorch ops (differentiable: double backward goes through here)."""
    if act == "gelu":
        cdf = 0.5 * (1 + (z * math.sqrt(0.5)).erf())
        pdf = (-0.5 * z * z).exp() * (1 / math.sqrt(2 * math.pi))
        return g * (cdf + z * pdf)
    if act == "gelu_tanh":
        beta, kappa = math.sqrt(2 / math.pi), 0.044715
        t = (beta * (z + kappa * z * z * z)).tanh()
        return g * (0.5 * (1 + t) + 0.5 * z * (1 - t * t) * beta * (1 + 3 * kappa * z * z))
    s = z.sigmoid()                                      # silu
    return g * s * (1 + z * (1 - s))


def _linear_bw(ctx, g):
    x, w, b = ctx.inputs
    act = ctx.act
    if act == "relu":
        from .ternary import where                       # (imported here: a per-call import costs ~0.5 µs)
        gz = where(ctx.output > 0, g, 0.0)               # relu'' = 0: the mask is a constant
    elif act != "none":
        z = _linear(x, w, b, act="none")                 # recomputed pre-activation (see module doc)
        gz = _act_grad(act, z, g)
    else:
        gz = g
    N, K = w._shape
    gz2 = gz if gz.ndim == 2 else gz.reshape(-1, N)      # (rows, out); (a view op costs ~4 µs of host time)
    gx = matmul(gz, w) if ctx.needs[0] else None         # (*, in)
    gw = mm(gz2.mT, x if x.ndim == 2 else x.reshape(-1, K)) if ctx.needs[1] else None     # (out, in)
    gb = gz2.sum(0) if b is not None and ctx.needs[2] else None      # (out,): the engine reduces further
    return gx, gw, gb


# ------------------------------------------------------------------------------- samples
def _samples(acts, name):
    r = rng(name)
    out = []
    shapes = [((3, 5), (4, 5), True), ((7,), (3, 7), True), ((2, 3, 5), (6, 5), True), ((17, 13), (11, 13), False),
              ((1, 1), (1, 1), True), ((2, 1, 4), (3, 4), False), ((0, 3), (2, 3), True)]
    for i, (xs, ws, bias) in enumerate(shapes):
        args = [r.uniform(-1, 1, size=xs), r.uniform(-1, 1, size=ws)]
        if bias:
            args.append(r.uniform(-1, 1, size=ws[:1]))
        kw = {} if acts is None else {"activation": acts[i % len(acts)]}
        out.append(Sample(args, kw, note="" if bias else "no bias"))
    return out


# ------------------------------------------------------------------------------- the ops
_linear = Op("linear", cpu=_linear_cpu, cuda=_linear_cuda, backward=_linear_bw, family="matmul",
             kernels=_linear_specs, samples=lambda: _samples(None, "linear"), plan_state=plan_state)
_linear_act = Op("linear_act", cpu=_linear_cpu, cuda=_linear_cuda, backward=_linear_bw, save_output=True,
                 family="matmul", kernels=_linear_specs, grad_name="LinearActBackward0", plan_state=plan_state,
                 samples=lambda: _samples(["relu", "gelu", "gelu_tanh", "silu", "relu", "gelu", "silu"],
                                          "linear_act"))


def _check(input, weight, bias, name):
    _tensors(name, input=input, weight=weight)
    if input.ndim == 0:
        raise RuntimeError(f"both arguments to linear need to be at least 1D, but they are {input.ndim}D and "
                           f"{weight.ndim}D")
    if weight.ndim != 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {weight.ndim}D")
    k = input._shape[-1]
    if k != weight._shape[1]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({_numel(input._shape[:-1])}x{k} and "
                           f"{weight._shape[1]}x{weight._shape[0]})")
    for t in (weight, bias):
        if t is not None and t.dtype is not input.dtype:
            raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got {_SNAME[input.dtype.name]} and "
                               f"{_SNAME[t.dtype.name]}")
    if bias is not None:
        _expandable(bias, (weight._shape[0],))
    _kernel_dtype(input, "addmm_impl_cpu_", "addmm_cuda")


def linear(input, weight, bias=None):
    """``input @ weight.T + bias`` as one GEMM (the bias in its epilogue on cuda).

    Args:
        input (Tensor): (*, in_features).
        weight (Tensor): (out_features, in_features).
        bias (Tensor, optional): (out_features,).

    Example::

        >>> ttorch.ops.linear.linear(ttorch.ones(2, 3), ttorch.ones(4, 3)).shape
        ttorch.Size([2, 4])
    """
    if _amp_op._autocast is not None:  # ttorch.amp: cast before the dtype checks below
        return _amp_op._autocast.call("linear", linear, input, weight, bias)
    if getattr(input, "is_nested", False):    # Op.__call__ hands it to ttorch/nested's handler
        return _linear(input, weight, bias, act="none")
    _check(input, weight, bias, "linear")
    return _linear(input, weight, bias, act="none")


def linear_act(input, weight, bias=None, activation="relu"):
    """``act(input @ weight.T + bias)`` with the bias and the activation fused into the GEMM's
    epilogue on cuda. ``activation``: "none", "relu", "gelu", "gelu_tanh" or "silu"."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"linear_act: activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")
    if _amp_op._autocast is not None:  # autocast's "linear" list; the activation follows its dtype
        return _amp_op._autocast.call("linear", linear_act, input, weight, bias, activation=activation)
    if getattr(input, "is_nested", False):    # Op.__call__ hands it to ttorch/nested's handler
        return _linear_act(input, weight, bias, act=activation) if activation != "none" else \
            _linear(input, weight, bias, act="none")
    _check(input, weight, bias, "linear")
    if activation != "none" and not input.dtype.is_floating_point:
        raise RuntimeError(f"\"{activation}\" not implemented for '{_SNAME[input.dtype.name]}'")
    if activation == "none":
        return _linear(input, weight, bias, act="none")
    return _linear_act(input, weight, bias, act=activation)


_linear.public, _linear_act.public = linear, linear_act
_linear.dtypes = _linear_act.dtypes = _FLOATS
linear.op, linear_act.op = _linear, _linear_act

__all__ = []    # reached through ttorch.nn.functional.linear and ._linear_act
