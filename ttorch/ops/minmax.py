"""Reductions that return where the extreme is: ``max``/``min`` over a dim (values and
indices), ``argmax``/``argmin``; and the full ``max``/``min`` and their binary forms.

One kernel, ``_row_arg_kernel``: each lane of a block keeps the best (value, index) it has
seen along the row (NaN beats everything, ties keep the first index), then the lanes are
folded: the row's extreme (NaN if any lane holds one), then the least index among the lanes
holding it. The row layout is the row reductions' (``reduction._rows``).
"""
import numpy as np
import triton
import triton.language as tl

from .. import _dtype as D
from ..autograd import grad_mode
from .._tensor import Tensor
from ._launch import launch
from ._op import Op, write_out, _exact_out_error
from .elementwise import tl_dtype
from .samples import Sample
from .reduction import (_dims, _out_shape, _rows, _blocks, _row_base, row_programs, _acc_dtype, _bytes, _ident,
                        _keep, _np_in, _samples, _check_nonempty, _amax, _amin, _plan_state)


from ..return_types import max as max_rt, min as min_rt  # noqa: E402  (the named (values, indices) pairs)


@triton.jit
def _pick_max(v1, i1, v2, i2):
    # (value, index) of the larger; NaN is largest; ties go to the smaller index
    n1 = v1 != v1
    n2 = v2 != v2
    first = (n1 & ~n2) | (v1 > v2) | (((v1 == v2) | (n1 & n2)) & (i1 < i2))
    return tl.where(first, v1, v2), tl.where(first, i1, i2)


@triton.jit
def _pick_min(v1, i1, v2, i2):
    n1 = v1 != v1
    n2 = v2 != v2
    first = (n1 & ~n2) | (v1 < v2) | (((v1 == v2) | (n1 & n2)) & (i1 < i2))
    return tl.where(first, v1, v2), tl.where(first, i1, i2)


@triton.jit
def _pick(v1, i1, v2, i2, IS_MAX: tl.constexpr):
    if IS_MAX:
        v, i = _pick_max(v1, i1, v2, i2)
    else:
        v, i = _pick_min(v1, i1, v2, i2)
    return v, i


@triton.jit
def _row_arg_kernel(x_ptr, val_ptr, idx_ptr, M, N, INNER, IS_MAX: tl.constexpr, IDENT: tl.constexpr,
                    ACC: tl.constexpr, WRITE_VAL: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                    STRIDED: tl.constexpr = False):
    rows, rmask, base, step = _row_base(M, N, INNER, STRIDED, BLOCK_M)
    v = tl.full((BLOCK_M, BLOCK_N), IDENT, ACC)
    i = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.int32) + N      # past the end: loses every tie
    for start in range(0, N, BLOCK_N):
        cols = start + tl.arange(0, BLOCK_N)
        m = rmask[:, None] & (cols < N)[None, :]
        x = tl.load(x_ptr + base[:, None] + cols.to(tl.int64)[None, :] * step, mask=m, other=0).to(ACC)
        x = tl.where(m, x, IDENT)
        c = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.int32) + cols[None, :]
        v, i = _pick(v, i, x, c, IS_MAX)
    # the row's extreme value (NaN if a lane holds one), then the least index among the lanes
    # holding it: lanes keep their first occurrence, so that is the first in the row
    nan = v != v
    anynan = tl.max(nan.to(tl.int32), 1) > 0
    if IS_MAX:
        top = tl.max(v, 1)
    else:
        top = tl.min(v, 1)
    match = tl.where(anynan[:, None], nan, v == top[:, None])
    ri = tl.min(tl.where(match, i, N), 1)
    rv = tl.where(anynan, tl.sum(tl.where(nan, v, 0), 1), top)
    if WRITE_VAL:
        tl.store(val_ptr + rows, rv.to(val_ptr.dtype.element_ty), mask=rmask)
    tl.store(idx_ptr + rows, ri.to(tl.int64), mask=rmask)


def _arg_cuda(x, dims, keepdim, is_max, want_values):
    shape = _out_shape(x._shape, dims, keepdim)
    idx = Tensor._empty(shape, D.int64, x.device)
    val = Tensor._empty(shape, x.dtype, x.device) if want_values else None
    xr, m, n, inner = _rows(_bytes(x), dims)
    if m:
        acc = _acc_dtype(x.dtype)
        bm, bn = _blocks(m, n, inner)
        bm, programs = row_programs(m, inner, bm)
        launch(_row_arg_kernel, (programs,), xr, _bytes(val) if want_values else idx, idx, m, n, inner,
               IS_MAX=is_max, IDENT=_ident("max" if is_max else "min", acc),
               ACC=tl_dtype(acc), WRITE_VAL=want_values, BLOCK_M=bm, BLOCK_N=bn, STRIDED=inner > 1)
    return (val, idx) if want_values else idx


def _arg_specs():
    from ._aot import KernelSpec, ptr
    specs = []
    for k, (dt, acc) in enumerate(((D.float32, D.float32), (D.bfloat16, D.float32), (D.float64, D.float64),
                                   (D.int64, D.int64), (D.uint8, D.int64), (D.float16, D.float32))):
        for is_max in (True, False):
            bm, bn = ((4, 256), (16, 64))[k % 2]
            want = k % 2 == 0 or not is_max
            specs.append(KernelSpec(
                _row_arg_kernel, {"x_ptr": ptr(dt), "val_ptr": ptr(dt if want else D.int64), "idx_ptr": ptr(D.int64),
                                  "M": "i32", "N": "i32", "INNER": "i32"},
                {"IS_MAX": is_max, "IDENT": _ident("max" if is_max else "min", acc),
                 "ACC": tl_dtype(acc), "WRITE_VAL": want, "BLOCK_M": bm, "BLOCK_N": bn, "STRIDED": k % 2 == 1},
                label=f"{'max' if is_max else 'min'} {dt} {'values+' if want else ''}indices {bm}x{bn}"
                      + (" strided" if k % 2 else "")))
    return specs


def _np_arg(a, dims, keepdim, is_max):
    a = _np_in(a, D.from_numpy_dtype(a.dtype))
    if not dims:                               # 0-dim input
        return np.zeros((), np.int64)
    if len(dims) > 1:                          # argmax over all dims of the flattened input
        r = (np.argmax if is_max else np.argmin)(a.reshape(-1))
        return np.asarray(r, np.int64).reshape((1,) * a.ndim if keepdim else ())
    return np.asarray((np.argmax if is_max else np.argmin)(a, axis=dims[0], keepdims=keepdim), np.int64)


def _maxdim_cpu(is_max):
    def cpu(a, *, dims, keepdim, in_shape):
        idx = _np_arg(a, dims, True, is_max)
        vals = np.take_along_axis(a, idx, axis=dims[0]) if dims else a.copy()
        if not keepdim and dims:
            vals, idx = np.squeeze(vals, dims[0]), np.squeeze(idx, dims[0])
        return vals, idx
    return cpu


def _maxdim_bw(is_max):
    # the gradient goes to the index the forward picked: the kernel is rerun for the indices
    # (the op saves only its values) and a one-hot along the dim routes the gradient there
    def bw(ctx, gv, gi):
        x = ctx.inputs[0]
        if not ctx.dims:
            return gv
        from .creation import arange
        d = ctx.dims[0]
        with grad_mode.no_grad():
            idx = (_argmax_op if is_max else _argmin_op)(x, dims=ctx.dims, keepdim=True, is_max=is_max)
        pos = arange(x._shape[d], device=x.device).reshape(tuple(-1 if i == d else 1 for i in range(x.ndim)))
        return _keep(gv, ctx) * (pos == idx).to(gv.dtype)
    return bw


def _maxdim_samples(name):
    return lambda: _samples(name, [((), {"dim": 0}), ((1,), {"dim": 0}), ((7,), {"dim": 0}), ((3, 5), {"dim": 1}),
                                   ((3, 5), {"dim": 0, "keepdim": True}), ((2, 3, 4), {"dim": 1}),
                                   ((0, 3), {"dim": 1}), ((4, 33), {"dim": -1}), ((3, 4), {}), ((2, 3, 4), {})])


_maxdim = Op("max", cpu=_maxdim_cpu(True), cuda=lambda x, *, dims, keepdim, in_shape: _arg_cuda(x, dims, keepdim, True, True),
             backward=_maxdim_bw(True), save=(0,), samples=_maxdim_samples("max"),
             kernels=_arg_specs, family="reduction", plan_state=_plan_state)
_mindim = Op("min", cpu=_maxdim_cpu(False), cuda=lambda x, *, dims, keepdim, in_shape: _arg_cuda(x, dims, keepdim, False, True),
             backward=_maxdim_bw(False), save=(0,), samples=_maxdim_samples("min"),
             kernels=_arg_specs, family="reduction", plan_state=_plan_state)


def _arg_op(name):
    return Op(name, cpu=lambda a, *, dims, keepdim, is_max: _np_arg(a, dims, keepdim, is_max),
              cuda=lambda x, *, dims, keepdim, is_max: _arg_cuda(x, dims, keepdim, is_max, False),
              samples=lambda: [Sample(s.args, s.kwargs, grad=False) for s in _maxdim_samples(name)()
                               if s.args[0].size or s.kwargs] + [Sample(s.args, dict(s.kwargs, keepdim=True),
                                                                        grad=False) for s in _maxdim_samples(name)()
                                                                 if not s.kwargs and s.args[0].size],
              kernels=_arg_specs, family="reduction", plan_state=_plan_state)


_argmax_op = _arg_op("argmax")
_argmin_op = _arg_op("argmin")


def _maxmin(name, op, binary, rt, is_max):
    def fn(input, dim=None, keepdim=False, *, other=None, out=None):
        if other is not None:
            dim = other
        if isinstance(dim, Tensor):            # max(input, other): the elementwise form
            from . import FUNCTIONS
            if binary not in FUNCTIONS:
                raise NotImplementedError(f"{name}(input, other) needs ttorch.{binary}")
            r = FUNCTIONS[binary](input, dim)
            return r if out is None else write_out(out, r, name)
        if dim is None:
            if input.numel() == 0:
                raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0. Specify "
                                   "the reduction dim with the 'dim' argument.")
            r = (_amax if is_max else _amin)(input, dims=_dims(input, None), keepdim=False, dtype=input.dtype,
                                             in_shape=input._shape)
            return r if out is None else write_out(out, r, name)
        if isinstance(dim, (tuple, list)):
            raise TypeError(f"{name}(): argument 'dim' must be int, not {type(dim).__name__}")
        dims = _dims(input, dim)
        if input.numel() == 0 and input.ndim:
            _check_nonempty(input, dims, name, True)
        v, i = op(input, dims=dims, keepdim=keepdim, in_shape=input._shape)
        if out is not None:
            for o, r in zip(out, (v, i)):     # (PyTorch's structured kernel: out= of the exact dtypes)
                if type(o) is Tensor and o.dtype is not r.dtype:
                    raise RuntimeError(_exact_out_error("mm", r.dtype, o.dtype))
            write_out(out[0], v, name)
            write_out(out[1], i, name)
            return rt(out[0], out[1])
        return rt(v, i)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = (f"``{name}(input)``: the {name}imum of all elements. ``{name}(input, dim, keepdim=False)``: "
                  f"``(values, indices)`` over ``dim``; NaN propagates, ties give the first index. "
                  f"``{name}(input, other)``: ``{binary}``.")
    op.public = fn
    return fn


max = _maxmin("max", _maxdim, "maximum", max_rt, True)
min = _maxmin("min", _mindim, "minimum", min_rt, False)


def _argfn(name, is_max):
    def fn(input, dim=None, keepdim=False, *, out=None):
        if dim is None:
            if input.numel() == 0:
                raise IndexError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0.")
            dims = _dims(input, None)
        else:
            dims = _dims(input, dim)
            if input.ndim and input._shape[dims[0]] == 0:
                raise IndexError(f"{name}(): Expected reduction dim {dims[0]} to have non-zero size.")
        r = (_argmax_op if is_max else _argmin_op)(input, dims=dims, keepdim=keepdim, is_max=is_max)
        return r if out is None else write_out(out, r, name)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = (f"``{name}(input, dim=None, keepdim=False)``: int64 index of the {name[3:]}imum over ``dim`` "
                  "(of the flattened input when None); NaN counts as the extreme; ties give the first index.")
    return fn


argmax = _argfn("argmax", True)
argmin = _argfn("argmin", False)
_argmax_op.public = argmax
_argmin_op.public = argmin
for _o in (_maxdim, _mindim, _argmax_op, _argmin_op):
    _o.dtypes = (D.float32, D.float16, D.bfloat16, D.float64, D.int64)



__all__ = ["max", "min", "argmax", "argmin"]
METHODS = {n: globals()[n] for n in __all__}
