"""Statistics of rows: ``var``/``std`` (and with the mean), ``logsumexp`` and vector norms.

var/std and logsumexp read each row twice in one kernel (the mean, then squared deviations;
the max, then the sum of ``exp(x - max)``), which is stable where a one-pass formula cancels
or overflows. Norms are the row-reduction template (``reduction._row_reduce_kernel``) with a
``PRE`` map (``x*x``, ``|x|``, ``|x|^p``) and a ``POST`` step (sqrt, ``r^(1/p)``).
"""
import builtins
import math

import numpy as np
import triton
import triton.language as tl

from .. import _dtype as D
from .._tensor import Tensor, _numel
from ._launch import launch
from ._op import Op, write_out
from .elementwise import tl_dtype
from .samples import Sample
from .reduction import (_dims, _out_shape, _rows, _blocks, _row_base, row_programs, _acc_dtype, _keep, _count,
                        _output, _np_in, _samples, _max, _fold, _post_sqrt, _pre_square, _pre_abs, _pre_abs_pow,
                        _pre_nonzero, _post_id, _post_root, _reduce_cuda, _reduce_specs, _FLOATS, _plan_state)
from . import _op as _amp_op


# ------------------------------------------------------------------------------ var, std (and with the mean)
@triton.jit
def _row_var_kernel(x_ptr, var_ptr, mean_ptr, M, N, INNER, correction, STD: tl.constexpr, WRITE_MEAN: tl.constexpr,
                    ACC: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, STRIDED: tl.constexpr = False):
    # two passes over the row (the mean, then squared deviations from it): stable where
    # sum(x^2) - n*mean^2 would cancel
    rows, rmask, base, step = _row_base(M, N, INNER, STRIDED, BLOCK_M)
    s = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC)
    for start in range(0, N, BLOCK_N):
        cols = start + tl.arange(0, BLOCK_N)
        m = rmask[:, None] & (cols < N)[None, :]
        s += tl.load(x_ptr + base[:, None] + cols.to(tl.int64)[None, :] * step, mask=m, other=0).to(ACC)
    mean = tl.sum(s, 1) / N
    if WRITE_MEAN:      # stored now, not after the second pass: the pointers and rows then die early
        tl.store(mean_ptr + rows, mean.to(mean_ptr.dtype.element_ty), mask=rmask)
    q = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC)
    for start in range(0, N, BLOCK_N):
        cols = start + tl.arange(0, BLOCK_N)
        m = rmask[:, None] & (cols < N)[None, :]
        x = tl.load(x_ptr + base[:, None] + cols.to(tl.int64)[None, :] * step, mask=m, other=0).to(ACC)
        d = tl.where(m, x - mean[:, None], 0)
        q += d * d
    v = tl.sum(q, 1) / tl.maximum(N - correction, 0.0).to(ACC)
    if STD:
        v = _post_sqrt(v, 0, 0)
    tl.store(var_ptr + rows, v.to(var_ptr.dtype.element_ty), mask=rmask)


def _var_cpu(a, *, dims, keepdim, correction, std, with_mean, in_shape):
    x = _np_in(a, D.from_numpy_dtype(a.dtype))
    n = _numel([in_shape[d] for d in dims])
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = np.sum(x, axis=dims, keepdims=True) / np.asarray(n, x.dtype)
        v = np.sum((x - mu) ** 2, axis=dims, keepdims=keepdim) / np.asarray(builtins.max(n - correction, 0), x.dtype)
    v = np.asarray(np.sqrt(v) if std else v).astype(a.dtype)
    if not with_mean:
        return v
    return v, np.asarray(mu if keepdim else mu.reshape(v.shape)).astype(a.dtype)


def _var_cuda(x, *, dims, keepdim, correction, std, with_mean, in_shape):
    shape = _out_shape(x._shape, dims, keepdim)
    v = Tensor._empty(shape, x.dtype, x.device)
    mu = Tensor._empty(shape, x.dtype, x.device) if with_mean else v
    xr, m, n, inner = _rows(x, dims)
    if m and not n:
        from .creation import fill_
        fill_(v, float("nan"))
        fill_(mu, float("nan"))
    elif m:
        bm, bn = _blocks(m, n, inner)
        bm, programs = row_programs(m, inner, bm)
        launch(_row_var_kernel, (programs,), xr, v, mu, m, n, inner, float(correction), STD=std,
               WRITE_MEAN=with_mean, ACC=tl_dtype(_acc_dtype(x.dtype)), BLOCK_M=bm, BLOCK_N=bn, STRIDED=inner > 1)
    return (v, mu) if with_mean else v


def _var_bw(ctx, gv, gm=None):
    x = ctx.inputs[0]
    n = _count(ctx)
    dof = builtins.max(n - ctx.correction, 0)
    gk = _keep(gv, ctx)
    if ctx.std:
        # d std = d var / (2 std); 0 where std == 0, as in PyTorch
        s = _keep(_output(ctx, lambda t: _VAR[(True, False)](t, dims=ctx.dims, keepdim=ctx.keepdim,
                                                             correction=ctx.correction, std=True, with_mean=False,
                                                             in_shape=ctx.in_shape)), ctx)
        z = (s == 0).to(gk.dtype)
        gk = gk / (2 * (s + z)) * (1 - z)
    r = gk * (x - x.mean(ctx.dims, keepdim=True)) * (2.0 / dof if dof else math.inf)
    if gm is not None and n:
        r = r + _keep(gm, ctx) / n
    return r


def _var_samples(name, with_mean):
    specs = [((7,), {}), ((3, 5), {"dim": 1}), ((3, 5), {"dim": 0, "keepdim": True}), ((2, 3, 4), {"dim": (0, 2)}),
             ((4, 33), {"dim": -1, "correction": 0}), ((3, 5), {"dim": 1, "unbiased": False}),
             ((2, 3, 4), {"dim": 1, "correction": 2, "keepdim": True}), ((3, 4), {"dim": None, "correction": 0.5})]
    nan_specs = [((), {}), ((0,), {}), ((1,), {}), ((2, 0, 3), {"dim": 1}), ((3, 2), {"dim": 1, "correction": 3})]
    if with_mean:               # var_mean/std_mean share var's kernel: fewer samples
        specs, nan_specs = specs[1::2], nan_specs[1::2]
    return lambda: _samples(name, specs) + _samples(name + "_nan", nan_specs, grad=False)


_VAR = {}
for _std, _wm, _name in ((False, False, "var"), (True, False, "std"), (False, True, "var_mean"),
                         (True, True, "std_mean")):
    _VAR[(_std, _wm)] = Op(_name, cpu=_var_cpu, cuda=_var_cuda, backward=_var_bw, save=(0,), save_output=_std,
                           samples=_var_samples(_name, _wm), family="reduction",
                           kernels=lambda s=_std, w=_wm: _var_specs(s, w), plan_state=_plan_state)


def _var_specs(std, with_mean):
    from ._aot import KernelSpec, ptr
    out = []
    for k, (dt, acc) in enumerate(((D.float32, D.float32), (D.bfloat16, D.float32), (D.float64, D.float64),
                                   (D.float16, D.float32))):
        bm, bn = ((2, 1024), (16, 64))[k % 2]
        out.append(KernelSpec(_row_var_kernel, {"x_ptr": ptr(dt), "var_ptr": ptr(dt), "mean_ptr": ptr(dt), "M": "i32",
                                                "N": "i32", "INNER": "i32", "correction": "fp32"},
                              {"STD": std, "WRITE_MEAN": with_mean, "ACC": tl_dtype(acc), "BLOCK_M": bm,
                               "BLOCK_N": bn, "STRIDED": k % 2 == 1},
                              label=f"{'std' if std else 'var'}{'+mean' if with_mean else ''} {dt}"
                                    + (" strided" if k % 2 else "")))
    return out


def _var_public(name, std, with_mean):
    def fn(input, dim=None, unbiased=None, keepdim=False, *, correction=None, out=None):
        if isinstance(dim, bool):              # var(input, unbiased): the legacy overload
            dim, unbiased = None, dim
        if unbiased is not None and correction is not None:
            raise RuntimeError(f"{name}: can't specify both unbiased and correction")
        c = correction if correction is not None else (0 if unbiased is False else 1)
        if input.dtype.is_complex:      # E|z - mean|^2: the parts' variances, summed (a real result)
            from .complex import real, imag
            v = var(real(input), dim, keepdim=keepdim, correction=c) + var(imag(input), dim, keepdim=keepdim,
                                                                            correction=c)
            r = v.sqrt() if std else v
            if with_mean:
                return r, input.mean(dim, keepdim)
            return r if out is None else write_out(out, r, name)
        if not input.dtype.is_floating_point:
            raise RuntimeError(f"{name} only support floating point and complex dtypes" if with_mean else
                               "std and var only support floating point and complex dtypes")
        dims = _dims(input, dim)
        r = _VAR[(std, with_mean)](input, dims=dims, keepdim=keepdim, correction=c, std=std, with_mean=with_mean,
                                   in_shape=input._shape)
        return r if out is None else write_out(out, r, name)
    fn.__name__ = fn.__qualname__ = name
    what = "standard deviation" if std else "variance"
    fn.__doc__ = (f"``{name}(input, dim=None, *, correction=1, keepdim=False)``: the {what}"
                  f"{' and the mean' if with_mean else ''} over ``dim``, dividing by ``max(N - correction, 0)``; "
                  "``unbiased=False`` is ``correction=0``.")
    _VAR[(std, with_mean)].public = fn
    return fn


var = _var_public("var", False, False)
std = _var_public("std", True, False)
var_mean = _var_public("var_mean", False, True)
std_mean = _var_public("std_mean", True, True)


# ------------------------------------------------------------------------------ logsumexp
@triton.jit
def _row_lse_kernel(x_ptr, out_ptr, M, N, INNER, ACC: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                    STRIDED: tl.constexpr = False):
    # max first, then sum(exp(x - max)): no overflow; an infinite max is left out of the shift
    # (all -inf gives -inf, any +inf gives +inf, as in PyTorch)
    rows, rmask, base, step = _row_base(M, N, INNER, STRIDED, BLOCK_M)
    mx = tl.full((BLOCK_M, BLOCK_N), float("-inf"), ACC)
    for start in range(0, N, BLOCK_N):
        cols = start + tl.arange(0, BLOCK_N)
        m = rmask[:, None] & (cols < N)[None, :]
        x = tl.load(x_ptr + base[:, None] + cols.to(tl.int64)[None, :] * step, mask=m, other=float("-inf"))
        mx = _max(mx, x.to(ACC))
    top = _fold(mx, 2, BLOCK_N)
    shift = tl.where(tl.abs(top) == float("inf"), 0, top)
    s = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC)
    for start in range(0, N, BLOCK_N):
        cols = start + tl.arange(0, BLOCK_N)
        m = rmask[:, None] & (cols < N)[None, :]
        x = tl.load(x_ptr + base[:, None] + cols.to(tl.int64)[None, :] * step, mask=m, other=float("-inf"))
        s += tl.exp(x.to(ACC) - shift[:, None])
    r = tl.log(tl.sum(s, 1)) + shift
    tl.store(out_ptr + rows, r.to(out_ptr.dtype.element_ty), mask=rmask)


def _lse_cpu(a, *, dims, keepdim, in_shape):
    x = _np_in(a, D.from_numpy_dtype(a.dtype))
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        top = np.max(x, axis=dims, keepdims=True, initial=-np.inf)
        shift = np.where(np.isinf(top), 0, top)
        r = np.log(np.sum(np.exp(x - shift), axis=dims, keepdims=True)) + shift
    if not keepdim:
        r = r.reshape(_out_shape(a.shape, dims, False))
    return np.asarray(r).astype(a.dtype)


def _lse_cuda(x, *, dims, keepdim, in_shape):
    out = Tensor._empty(_out_shape(x._shape, dims, keepdim), x.dtype, x.device)
    xr, m, n, inner = _rows(x, dims)
    if m and not n:
        from .creation import fill_
        fill_(out, float("-inf"))
    elif m:
        bm, bn = _blocks(m, n, inner)
        bm, programs = row_programs(m, inner, bm)
        launch(_row_lse_kernel, (programs,), xr, out, m, n, inner, ACC=tl_dtype(_acc_dtype(x.dtype)),
               BLOCK_M=bm, BLOCK_N=bn, STRIDED=inner > 1)
    return out


def _lse_bw(ctx, g):
    x = ctx.inputs[0]
    out = _output(ctx, lambda t: _lse(t, dims=ctx.dims, keepdim=ctx.keepdim, in_shape=ctx.in_shape))
    return _keep(g, ctx) * (x - _keep(out, ctx)).exp()


def _lse_specs():
    from ._aot import KernelSpec, ptr
    return [KernelSpec(_row_lse_kernel, {"x_ptr": ptr(dt), "out_ptr": ptr(dt), "M": "i32", "N": "i32", "INNER": "i32"},
                       {"ACC": tl_dtype(acc), "BLOCK_M": bm, "BLOCK_N": bn, "STRIDED": bn == 64},
                       label=f"{dt} {bm}x{bn}" + (" strided" if bn == 64 else ""))
            for dt, acc, bm, bn in ((D.float32, D.float32, 2, 1024), (D.bfloat16, D.float32, 16, 64),
                                    (D.float64, D.float64, 4, 256), (D.float16, D.float32, 8, 128))]


_lse = Op("logsumexp", cpu=_lse_cpu, cuda=_lse_cuda, backward=_lse_bw, save=(0,), save_output=True,
          kernels=_lse_specs, family="reduction", plan_state=_plan_state,
          samples=lambda: _samples("logsumexp", [((), {"dim": 0}), ((1,), {"dim": 0}), ((7,), {"dim": 0}),
                                                 ((3, 5), {"dim": 1}), ((3, 5), {"dim": 0, "keepdim": True}),
                                                 ((2, 3, 4), {"dim": (0, 2)}), ((4, 33), {"dim": -1}),
                                                 ((2, 3, 4), {"dim": 1})], lo=-30, hi=30)
          + _samples("logsumexp0", [((0,), {"dim": 0}), ((2, 0, 3), {"dim": 1})], grad=False))


def logsumexp(input, dim, keepdim=False, *, out=None):
    """``log(sum(exp(input)))`` over ``dim``, computed without overflow; integers promote to the
    default float type."""
    if _amp_op._autocast is not None:  # ttorch.amp: PyTorch's autocast lists
        return _amp_op._autocast.call("logsumexp", logsumexp, input, dim, keepdim, out=out)
    if input.dtype.is_complex:     # (composed as PyTorch's: shifted by the real parts' max, an infinite one by 0)
        dims = _dims(input, dim)
        m = input.real.amax(dims, keepdim=True)
        m = m.masked_fill(m.abs() == float("inf"), 0)
        r = (input - m).exp().sum(dims, keepdim=keepdim).log() + (m if keepdim else m.squeeze(dims))
        return r if out is None else write_out(out, r, "logsumexp")
    if not input.dtype.is_floating_point:
        input = input.to(D.get_default_dtype())
    dims = _dims(input, dim)
    r = _lse(input, dims=dims, keepdim=keepdim, in_shape=input._shape)
    return r if out is None else write_out(out, r, "logsumexp")


_lse.public = logsumexp


# ------------------------------------------------------------------------------ norms
def _norm_kind(p):
    if p == 2:
        return _pre_square, "add", _post_sqrt
    if p == 1:
        return _pre_abs, "add", _post_id
    if p == math.inf:
        return _pre_abs, "max", _post_id
    if p == -math.inf:
        return _pre_abs, "min", _post_id
    if p == 0:
        return _pre_nonzero, "add", _post_id
    return _pre_abs_pow, "add", _post_root


def _norm_cpu(a, *, dims, keepdim, dtype, in_shape, p):
    x = np.abs(_np_in(a, dtype))
    kw = dict(axis=dims, keepdims=keepdim)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if p == 2:
            r = np.sqrt(np.sum(x * x, **kw))
        elif p == 1:
            r = np.sum(x, **kw)
        elif p == math.inf:
            r = np.max(x, **kw)
        elif p == -math.inf:
            r = np.min(x, **kw)
        elif p == 0:
            r = np.sum(x != 0, **kw).astype(x.dtype)
        else:
            r = np.sum(x ** p, **kw) ** (1.0 / p)
    return np.asarray(r).astype(dtype.np)


def _norm_cuda(x, *, dims, keepdim, dtype, in_shape, p):
    pre, combine, post = _norm_kind(p)
    return _reduce_cuda(x, dims, keepdim, dtype, pre=pre, combine=combine, post=post, p=p)


def _pow(t, e):
    """``t ** e`` for ``t >= 0`` and a Python number ``e``, in differentiable ttorch ops."""
    from . import FUNCTIONS
    if e == 0:
        return t * 0 + 1
    if "pow" in FUNCTIONS:
        return FUNCTIONS["pow"](t, e)
    return (t.log() * e).exp()


def _norm_grad(x, gk, n, p, count):
    """``gk`` times d||x||_p / dx for p 2 or inf, ``n`` the norm (broadcast to ``x``); ``count(mask)``
    sums a 0/1 mask over the reduced dims: an inf-norm's gradient is shared by its maxima."""
    if p == 2:
        z = (n == 0).to(n.dtype)
        return gk * x / (n + z) * (1 - z)
    mask = (x.abs() == n).to(gk.dtype)
    return x.sign() * gk * mask / count(mask)


def _norm_bw(ctx, g):
    # PyTorch's linalg_vector_norm_backward: subgradient 0 where the norm (or |x|) is 0
    x, p = ctx.inputs[0], ctx.p
    gk = _keep(g, ctx)
    if p == 0:
        from .creation import zeros_like
        return zeros_like(x)
    if p == 1:
        return gk * x.sign()
    n = _keep(_output(ctx, lambda t: _norm(t, dims=ctx.dims, keepdim=ctx.keepdim, dtype=ctx.dtype,
                                           in_shape=ctx.in_shape, p=p)), ctx)
    if p == 2 or math.isinf(p):
        return _norm_grad(x, gk, n, p, lambda mask: mask.sum(ctx.dims, keepdim=True))
    ax = x.abs()
    if p < 1:
        z = (x == 0).to(x.dtype)
        return x.sign() * _pow(ax + z, p - 1) * (1 - z) * gk * _pow(n, 1 - p)
    scaled = x.sign() * _pow(ax, p - 1) if p < 2 else x * _pow(ax, p - 2)
    z = (n == 0).to(n.dtype)
    return scaled * gk / _pow(n + z, p - 1) * (1 - z)


def _norm_specs():
    out = []
    for label, p in (("p=2", 2), ("p=1", 1), ("p=inf", math.inf), ("p=-inf", -math.inf), ("p=0", 0), ("p", 3)):
        pre, combine, post = _norm_kind(p)
        out += _reduce_specs((f"norm {label}", pre, combine, post, _FLOATS))
    return out


def _norm_samples():
    r = []
    shapes = [((), {}), ((0,), {}), ((7,), {}), ((3, 5), {"dim": 1}), ((2, 3, 4), {"dim": (0, 2), "keepdim": True})]
    for p in (2, 1, math.inf, -math.inf, 0, 3, 0.5, "fro"):
        # every shape for the common norms, two for the others
        for shape, kw in shapes if p in (2, 1, math.inf, 3) else shapes[2::2]:
            if shape == (0,) and p in (math.inf, -math.inf):
                continue
            r += _samples(f"norm{p}", [(shape, dict(kw, p=p))])
    r += _samples("norm_fro", [((3, 4), {"p": "fro", "dim": (0, 1)}), ((2, 0, 3), {"dim": 1})])
    r.append(Sample([np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5]])], {"dim": 1}, note="zero row"))
    return r


_norm = Op("norm", cpu=_norm_cpu, cuda=_norm_cuda, backward=_norm_bw, save=(0,), save_output=True,
           samples=_norm_samples, kernels=_norm_specs, family="reduction", plan_state=_plan_state)


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None, out=None):
    """``linalg.vector_norm``: ``sum(|x|^ord)^(1/ord)`` over ``dim``; ``inf``/``-inf`` are max/min of
    ``|x|``, ``0`` counts non-zeros."""
    if x.dtype.is_complex:              # the norm of the moduli
        x = x.abs()
    if not x.dtype.is_floating_point:
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as input. Got "
                           f"{D.scalar_name(x.dtype)}")
    if dtype is not None and dtype is not x.dtype:
        x = x.to(dtype)
    dims = _dims(x, dim)
    p = float(ord)
    if math.isinf(p) and x.numel() == 0 and (dim is None or builtins.any(x._shape[d] == 0 for d in dims)):
        raise RuntimeError(f"linalg.vector_norm cannot compute the {'-' if p < 0 else ''}inf norm on an empty tensor "
                           "because the operation does not have an identity")
    r = _norm(x, dims=dims, keepdim=keepdim, dtype=x.dtype, in_shape=x._shape, p=p)
    return r if out is None else write_out(out, r, "linalg.vector_norm")


def norm(input, p="fro", dim=None, keepdim=False, out=None, dtype=None):
    """``torch.norm``: a vector norm over ``dim`` (all dims when None); ``'fro'`` is the 2-norm.

    Example::

        >>> ttorch.tensor([3.0, 4.0]).norm()
        tensor(5.)
    """
    if _amp_op._autocast is not None:  # ttorch.amp: PyTorch's autocast lists
        return _amp_op._autocast.call("norm", norm, input, p, dim, keepdim, out=out, dtype=dtype)
    orig = input
    if input.dtype.is_complex:          # the norm of the moduli (a matrix norm below takes the complex matrix)
        input = input.abs()
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"norm(): input dtype should be either floating point or complex. Got "
                           f"{D.scalar_name(input.dtype)} instead.")
    if isinstance(p, str):
        if p != "fro" or (dim is not None and not isinstance(dim, int) and len(dim) > 2):
            from .. import linalg         # 'nuc' (or 'fro' over more than 2 dims: its error): a matrix norm
            return linalg.matrix_norm(orig, p, tuple(range(input.ndim)) if dim is None else dim, keepdim,
                                      dtype=dtype, out=out)
        p = 2
    return vector_norm(input, p, dim, keepdim, dtype=dtype, out=out)


_norm.public = norm
for _o in (_lse, _norm, *_VAR.values()):
    _o.dtypes = (D.float32, D.float16, D.bfloat16, D.float64)

__all__ = ["var", "std", "var_mean", "std_mean", "logsumexp", "norm"]
METHODS = {n: globals()[n] for n in __all__ if n not in ("var_mean", "std_mean")}
