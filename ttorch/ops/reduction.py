"""Reductions over any dims with ``keepdim`` and ``dtype``.

The cuda path brings the reduced dims last and contiguous (one strided copy when needed),
views the input as (M, N) and runs a row-reduction kernel: one program per block of rows,
looping over N in blocks, accumulating in float32 (float64 for float64, int64 for integers).
"""
import numpy as np
import triton
import triton.language as tl

from .. import _dtype as D
from .._tensor import Tensor, _wrap_dim, _numel
from ._launch import launch, cdiv, next_pow2, SIMULATED
from ._op import Op, write_out
from .elementwise import tl_dtype
from .samples import Sample, rng


def _dims(input, dim):
    """Reduced dims as a sorted tuple; ``None`` or ``()`` mean all dims."""
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return tuple(range(input.ndim))
    if isinstance(dim, int):
        dim = (dim,)
    out = sorted({_wrap_dim(d, input.ndim) for d in dim})
    if len(out) != len(dim):
        raise RuntimeError(f"dim {list(dim)} appears multiple times in the list of dims")
    return tuple(out)


def _out_shape(shape, dims, keepdim):
    if keepdim:
        return tuple(1 if i in dims else s for i, s in enumerate(shape))
    return tuple(s for i, s in enumerate(shape) if i not in dims)


def to_rows(x, dims):
    """``x`` as a contiguous (M, N) tensor whose rows hold the elements reduced together."""
    keep = [i for i in range(x.ndim) if i not in dims]
    order = keep + list(dims)
    if order != list(range(x.ndim)):
        x = x.permute(order)
    x = x.contiguous()
    n = _numel([x._shape[i] for i in range(len(keep), x.ndim)])
    m = _numel(x._shape[:len(keep)])
    return x.detach().reshape(m, n) if x.numel() else x.detach().reshape(m, n)


@triton.jit
def _row_sum_kernel(x_ptr, out_ptr, M, N, ACC: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    rmask = rows < M
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC)
    base = rows.to(tl.int64)[:, None] * N
    for start in range(0, N, BLOCK_N):
        cols = start + tl.arange(0, BLOCK_N)
        m = rmask[:, None] & (cols < N)[None, :]
        acc += tl.load(x_ptr + base + cols[None, :], mask=m, other=0).to(ACC)
    tl.store(out_ptr + rows, tl.sum(acc, axis=1).to(out_ptr.dtype.element_ty), mask=rmask)


def _blocks(m, n):
    bn = min(next_pow2(n), 4096 if SIMULATED else 1024)
    bm = max(1, min(next_pow2(m), (4096 if SIMULATED else 2048) // bn))
    return bm, bn


def _acc_dtype(d):
    if d is D.float64:
        return D.float64
    if d.is_floating_point:
        return D.float32
    return D.int64


def _sum_cpu(a, *, dims, keepdim, dtype, in_shape):
    x = a if a.dtype == D._compute_dtype(dtype).np else a.astype(D._compute_dtype(dtype).np)
    return np.asarray(np.sum(x, axis=dims, keepdims=keepdim)).astype(dtype.np, copy=False)


def _sum_cuda(x, *, dims, keepdim, dtype, in_shape):
    out_shape = _out_shape(x._shape, dims, keepdim)
    out = Tensor._empty(out_shape, dtype, x.device)
    rows = to_rows(x, dims)
    m, n = rows._shape
    if m == 0:
        return out
    if n == 0:
        from .creation import fill_
        return fill_(out, 0)
    bm, bn = _blocks(m, n)
    launch(_row_sum_kernel, (cdiv(m, bm),), rows, out, m, n, ACC=tl_dtype(_acc_dtype(dtype)), BLOCK_M=bm,
           BLOCK_N=bn)
    return out


def _row_specs(kernel):
    from ._aot import KernelSpec, ptr
    specs = []
    for dt, acc, bm, bn in ((D.float32, D.float32, 2, 1024), (D.bfloat16, D.float32, 16, 128),
                            (D.float64, D.float64, 1, 1024), (D.int64, D.int64, 8, 256)):
        specs.append(KernelSpec(kernel, {"x_ptr": ptr(dt), "out_ptr": ptr(dt), "M": "i32", "N": "i32"},
                                {"ACC": tl_dtype(acc), "BLOCK_M": bm, "BLOCK_N": bn}, label=f"{dt} {bm}x{bn}"))
    return specs


def _expand_back(g, ctx):
    """Gradient of a reduction output broadcast back to the input's shape."""
    if not ctx.keepdim:
        shape = tuple(1 if i in ctx.dims else s for i, s in enumerate(ctx.in_shape))
        g = g.reshape(shape)
    return g.expand(ctx.in_shape)


def _sum_samples():
    r = rng("sum")
    out = []
    for shape, kw in [((), {}), ((0,), {}), ((7,), {}), ((3, 5), {"dim": 1}), ((3, 5), {"dim": 0, "keepdim": True}),
                      ((2, 3, 4), {"dim": (0, 2)}), ((2, 0, 3), {"dim": 1}), ((4, 33), {"dim": -1})]:
        out.append(Sample([r.uniform(-2, 2, size=shape)], kw))
    return out


_sum = Op("sum", cpu=_sum_cpu, cuda=_sum_cuda, backward=lambda ctx, g: _expand_back(g, ctx), save=(),
          samples=_sum_samples, kernels=lambda: _row_specs(_row_sum_kernel), family="reduction")


def sum(input, dim=None, keepdim=False, *, dtype=None, out=None):
    """Sum over ``dim`` (all dims when None); integers and bool sum in int64, as in PyTorch."""
    dims = _dims(input, dim)
    if dtype is None:
        dtype = input.dtype if input.dtype.is_floating_point else D.int64
    r = _sum(input, dims=dims, keepdim=keepdim, dtype=dtype, in_shape=input._shape)
    return r if out is None else write_out(out, r, "sum")


_sum.public = sum
_sum.dtypes = (D.float32, D.float16, D.bfloat16, D.float64, D.int64)

__all__ = ["sum"]
METHODS = {"sum": sum}
