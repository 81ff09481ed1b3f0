"""Matrix products: ``matmul`` (and ``@``), ``mm``, ``bmm``, ``mv``, ``dot``, ``outer``, ``addmm``,
``baddbmm`` and ``einsum``.

On cuda every product is ONE tiled Triton GEMM, ``_gemm_kernel``: grouped tile order, any
M/N/K (masks), any strides of A and B (a transposed operand needs no copy), a batch on the
second grid axis (stride 0 for a broadcast batch), fp32 accumulation (fp64 for float64) and an
``alpha * A @ B + beta * C`` epilogue for ``addmm``/``baddbmm``. On cpu, ``np.matmul`` (half
types in float32). ``einsum`` reduces to diagonals, sums, permutes, reshapes and ``matmul``.

float64 takes the same kernel: ``tl.dot`` on fp64 compiles to DMMA on sm_80 and sm_90 (checked
ahead of time). Integer products run on cpu (NumPy) and raise on cuda, as PyTorch's cuda does
(``"addmm_cuda" not implemented for 'Long'``).
"""
import itertools

import numpy as np
import triton
import triton.language as tl

from .. import _dtype as D
from .._tensor import Tensor, _contig_strides, _numel
from ._launch import launch, cdiv, SIMULATED
from ._op import Op, write_out
from .inplace import make_inplace
from .elementwise import broadcast_shapes, tl_dtype, _bstrides, _collapse
from .samples import Sample, rng

# fp32 products use full-precision fp32 FMAs unless this is True (TF32 tensor cores, ~1e-3
# relative error). ``ttorch.backends.cuda.matmul.allow_tf32`` sets it.
allow_tf32 = False


# ------------------------------------------------------------------------------- the kernel
@triton.jit
def _gemm_kernel(a_ptr, b_ptr, c_ptr, out_ptr, M, N, K,
                 s_ab, s_am, s_ak, s_bb, s_bk, s_bn, s_cb, s_cm, s_cn, s_ob, s_om, s_on,
                 alpha, alpha_lo, beta, beta_lo,
                 ACC: tl.constexpr, PREC: tl.constexpr, HAS_C: tl.constexpr, SCALE: tl.constexpr,
                 BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr):
    # Grouped order: GROUP_M consecutive programs walk down a column of output tiles, so the
    # tiles of B they share are still in L2 when the next group starts.
    pid = tl.program_id(0)
    grid_n = tl.cdiv(N, BLOCK_N)
    width = GROUP_M * grid_n
    first_m = (pid // width) * GROUP_M
    group_m = tl.minimum(tl.cdiv(M, BLOCK_M) - first_m, GROUP_M)
    pid_m = first_m + (pid % width) % group_m
    pid_n = (pid % width) // group_m
    batch = tl.program_id(1).to(tl.int64)
    rm = (pid_m * BLOCK_M + tl.arange(0, BLOCK_M)).to(tl.int64)
    rn = (pid_n * BLOCK_N + tl.arange(0, BLOCK_N)).to(tl.int64)
    rk = tl.arange(0, BLOCK_K)
    # rows/columns past the edge wrap around (% M): loads stay in bounds with a mask on K only
    a_ptrs = a_ptr + batch * s_ab + (rm % M)[:, None] * s_am + rk[None, :] * s_ak
    b_ptrs = b_ptr + batch * s_bb + rk[:, None] * s_bk + (rn % N)[None, :] * s_bn
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC)
    for k in range(0, tl.cdiv(K, BLOCK_K)):
        k_left = K - k * BLOCK_K
        a = tl.load(a_ptrs, mask=rk[None, :] < k_left, other=0.0)
        b = tl.load(b_ptrs, mask=rk[:, None] < k_left, other=0.0)
        if PREC == "fma":  # float64 on Tritons whose tl.dot has no fp64 (3.6 does not)
            acc += tl.sum(a[:, :, None].to(ACC) * b[None, :, :].to(ACC), axis=1)
        else:
            acc = tl.dot(a, b, acc, input_precision=PREC)
        a_ptrs += BLOCK_K * s_ak
        b_ptrs += BLOCK_K * s_bk
    # alpha and beta arrive as fp32 pairs (hi + lo): a float64 product keeps ~48 bits of them
    if SCALE:
        acc = acc * alpha + acc * alpha_lo
    mask = (rm < M)[:, None] & (rn < N)[None, :]
    if HAS_C:
        c = tl.load(c_ptr + batch * s_cb + rm[:, None] * s_cm + rn[None, :] * s_cn, mask=mask, other=0.0).to(ACC)
        acc += c * beta + c * beta_lo
    tl.store(out_ptr + batch * s_ob + rm[:, None] * s_om + rn[None, :] * s_on, acc.to(out_ptr.dtype.element_ty),
             mask=mask)


# Tile configurations (BLOCK_M, BLOCK_N, BLOCK_K, GROUP_M, num_warps, num_stages), largest first.
# ``pick_config`` chooses among them by shape; an autotuner can time them instead.
CONFIGS = [
    (128, 128, 64, 8, 8, 3),    # 0: large fp16/bf16 products (96 KiB of shared memory in 3 stages)
    (128, 64, 32, 8, 4, 4),     # 1: large fp32, medium half products
    (64, 64, 32, 8, 4, 4),      # 2: medium
    (32, 32, 32, 8, 4, 3),      # 3: small or skinny products
    (64, 64, 16, 8, 4, 3),      # 4: float64 (DMMA tiles; 8-byte elements double the shared memory)
    (32, 32, 16, 8, 4, 3),      # 5: small float64
    (32, 32, 8, 8, 4, 2),       # 6: float64 without tl.dot (broadcast FMA: the K slab lives in registers)
]
_BY_DTYPE = {D.float16: (0, 1, 2, 3), D.bfloat16: (0, 1, 2, 3), D.float32: (1, 2, 3), D.float64: (4, 5)}
_WAVE = 128          # about one program per SM (108 on A100, 132 on H100)
_MAX_GRID_Y = 65535  # CUDA's limit on grid axis 1 (the batch): larger batches launch in chunks


def pick_config(M, N, K, batch, dtype):
    """The largest tile of ``dtype``'s configurations that still gives a full wave of programs
    (``cdiv(M, BM) * cdiv(N, BN) * batch >= _WAVE``); small problems take the smallest tile.

    The interpreter pays per program, not per element: 16x16x16 tiles on small shapes (so tiny
    tests reach the edge masks, the K loop and the grouped order), 64x64x32 beyond."""
    if SIMULATED:
        t = 16 if max(M, N) <= 64 else 64
        return (t, t, 16 if K <= 64 else 32, 2, 4, 1)
    cands = _BY_DTYPE[dtype]
    for i in cands:
        bm, bn = CONFIGS[i][:2]
        if cdiv(M, bm) * cdiv(N, bn) * batch >= _WAVE:
            return CONFIGS[i]
    return CONFIGS[cands[-1]]


# Does this Triton's tl.dot take float64? Triton 3.9 builds DMMA; 3.6 rejects it, and float64
# products then take the broadcast-FMA path. None: not known until the first float64 product.
_fp64_dot = [True if SIMULATED else None]


def _split(x, acc):
    """``x`` as fp32 hi + lo (lo only matters for float64 accumulation)."""
    hi = float(np.float32(x))
    return hi, (float(np.float32(x - hi)) if acc is D.float64 else 0.0)


def _shift(t, delta):
    return t if t is None or delta == 0 else t._view(t._shape, t.stride(), t._offset + delta)


def _gemm(a, b, out, c=None, alpha=1.0, beta=0.0):
    """``out = alpha * a @ b + beta * c`` on cuda. ``a`` (*batch, M, K), ``b`` (*batch, K, N) and
    ``out`` (*batch, M, N) share the batch shape (broadcast dims with stride 0); ``c`` is None or
    any tensor broadcastable to ``out``."""
    *batch, M, N = out._shape
    K = a._shape[-1]
    if out.numel() == 0:
        return out
    nb = len(batch)
    so, sa, sb = out.stride(), a.stride(), b.stride()
    sc = _bstrides(c, out._shape) if c is not None else (0,) * out.ndim
    # B shared by the whole batch (x @ W): fold the batch into M when the rows merge
    if nb and all(s == 0 or n == 1 for s, n in zip(sb, batch)):
        sizes, (fa, fo, fc) = _collapse(batch + [M], [sa[:nb + 1], so[:nb + 1], sc[:nb + 1]])
        if len(sizes) <= 1:
            M = sizes[0] if sizes else 1
            sa = (fa[0] if sizes else 0, sa[-1])
            so = (fo[0] if sizes else 0, so[-1])
            sc = (fc[0] if sizes else 0, sc[-1])
            sb = sb[-2:]
            batch, nb = [], 0
    sizes, bst = _collapse(batch, [sa[:nb], sb[:nb], sc[:nb], so[:nb]])
    if not sizes:
        sizes, bst = [1], [[0]] * 4
    acc = D.float64 if out.dtype is D.float64 else D.float32
    bm, bn, bk, gm, warps, stages = pick_config(M, N, K, _numel(sizes), out.dtype)
    prec = "tf32" if allow_tf32 and out.dtype is D.float32 else "ieee"
    if acc is D.float64 and _fp64_dot[0] is None:
        from triton.compiler.errors import CompilationError
        try:  # compiling fails before anything is launched, so trying is safe
            _launch_gemm(a, b, c, out, sizes, bst, sa, sb, sc, so, M, N, K, alpha, beta, acc, prec,
                         (bm, bn, bk, gm, warps, stages))
            _fp64_dot[0] = True
            return out
        except CompilationError:
            _fp64_dot[0] = False
    if acc is D.float64 and not _fp64_dot[0]:
        prec, cfg = "fma", CONFIGS[6]
    else:
        cfg = (bm, bn, bk, gm, warps, stages)
    _launch_gemm(a, b, c, out, sizes, bst, sa, sb, sc, so, M, N, K, alpha, beta, acc, prec, cfg)
    return out


def _launch_gemm(a, b, c, out, sizes, bst, sa, sb, sc, so, M, N, K, alpha, beta, acc, prec, cfg):
    bm, bn, bk, gm, warps, stages = cfg
    a_hi, a_lo = _split(alpha, acc)
    b_hi, b_lo = _split(beta, acc)
    tiles = cdiv(M, bm) * cdiv(N, bn)
    inner = sizes[-1]
    # leading batch dims that don't merge loop here; the last one is grid axis 1
    for idx in itertools.product(*[range(s) for s in sizes[:-1]]):
        for start in range(0, inner, _MAX_GRID_Y):
            d = [sum(i * st[j] for j, i in enumerate(idx)) + start * st[-1] for st in bst]
            launch(_gemm_kernel, (tiles, min(inner - start, _MAX_GRID_Y)), _shift(a, d[0]), _shift(b, d[1]),
                   _shift(c, d[2]), _shift(out, d[3]), M, N, K, bst[0][-1], sa[-2], sa[-1], bst[1][-1], sb[-2],
                   sb[-1], bst[2][-1], sc[-2], sc[-1], bst[3][-1], so[-2], so[-1], a_hi, a_lo, b_hi, b_lo,
                   ACC=tl_dtype(acc), PREC=prec, HAS_C=c is not None, SCALE=alpha != 1, BLOCK_M=bm, BLOCK_N=bn,
                   BLOCK_K=bk, GROUP_M=gm, num_warps=warps, num_stages=stages)
    return out


def _gemm_specs():
    """Each dtype's tile configurations for contiguous operands (unit strides are constexprs, as
    Triton specializes them), plus transposed operands and the addmm epilogue on one tile."""
    from ._aot import KernelSpec, ptr
    specs = []
    for dt, idxs in _BY_DTYPE.items():
        acc = D.float64 if dt is D.float64 else D.float32
        variants = [(i, "ieee", False, "nn") for i in idxs] + [(idxs[-1], "ieee", True, "tn"),
                                                                 (idxs[-2], "ieee", True, "nt")]
        if dt is D.float32:
            variants.append((idxs[0], "tf32", False, "nn"))
        if dt is D.float64:
            variants.append((6, "fma", False, "nn"))
        for i, prec, has_c, layout in variants:
            bm, bn, bk, gm, warps, stages = CONFIGS[i]
            sig = {"a_ptr": ptr(dt), "b_ptr": ptr(dt), "out_ptr": ptr(dt), "M": "i32", "N": "i32", "K": "i32"}
            sig.update({s: "i32" for s in ("s_ab", "s_am", "s_ak", "s_bb", "s_bk", "s_bn", "s_ob", "s_om")})
            sig.update({s: "fp32" for s in ("alpha", "alpha_lo", "beta", "beta_lo")})
            ce = {"s_on": 1, "ACC": tl_dtype(acc), "PREC": prec, "HAS_C": has_c, "SCALE": has_c, "BLOCK_M": bm,
                  "BLOCK_N": bn, "BLOCK_K": bk, "GROUP_M": gm}
            unit_a, unit_b = ("s_am" if layout[0] == "t" else "s_ak"), ("s_bk" if layout[1] == "t" else "s_bn")
            del sig[unit_a], sig[unit_b]
            ce[unit_a] = ce[unit_b] = 1
            if has_c:
                sig.update({"c_ptr": ptr(dt), "s_cb": "i32", "s_cm": "i32"})
                ce["s_cn"] = 1
            else:
                sig.update({"s_cb": "i32", "s_cm": "i32", "s_cn": "i32"})
                ce["c_ptr"] = None
            label = f"{dt} {bm}x{bn}x{bk} w{warps} s{stages} {layout}{' addmm' if has_c else ''} {prec}"
            # aligned pointers, sizes and strides, as the launcher marks them for round shapes
            div = [n for n, t in sig.items() if t != "fp32"]
            specs.append(KernelSpec(_gemm_kernel, sig, ce, num_warps=warps, num_stages=stages, label=label,
                                    divisible=div))
    return specs


# ------------------------------------------------------------------------------- primitive ops
def _compute(a):
    return D._compute_dtype(D.from_numpy_dtype(a.dtype)).np


def _matmul_cpu(a, b):
    ct = _compute(a)
    return np.asarray(np.matmul(a.astype(ct, copy=False), b.astype(ct, copy=False))).astype(a.dtype, copy=False)


def _as_matrix(t, row):
    """A 1-D tensor as a (1, K) row or a (K, 1) column view; ``t`` itself when 2-D or more."""
    if t.ndim > 1:
        return t
    shape, st = ((1,) + t._shape, (0,) + t.stride()) if row else (t._shape + (1,), t.stride() + (0,))
    return t._view(shape, st, t._offset)


def _bview(t, shape):
    return t._view(shape, _bstrides(t, shape), t._offset)


def _matmul_cuda(a, b):
    a2, b2 = _as_matrix(a, True), _as_matrix(b, False)
    batch = broadcast_shapes(a2._shape[:-2], b2._shape[:-2], op="matmul")
    M, K, N = a2._shape[-2], a2._shape[-1], b2._shape[-1]
    out = Tensor._empty(batch + ((M,) if a.ndim > 1 else ()) + ((N,) if b.ndim > 1 else ()), a.dtype, a.device)
    full = batch + (M, N)
    _gemm(_bview(a2, batch + (M, K)), _bview(b2, batch + (K, N)), out._view(full, _contig_strides(full), 0))
    return out


def _matmul_bw(ctx, g):
    a, b = ctx.inputs
    ga = gb = None
    if a.ndim == 1 and b.ndim == 1:                       # () = (K,) . (K,)
        return (g * b if ctx.needs[0] else None), (g * a if ctx.needs[1] else None)
    if a.ndim == 1:                                       # (..., N) = (K,) @ (..., K, N)
        if ctx.needs[0]:
            ga = matmul(b, g.unsqueeze(-1)).squeeze(-1)   # (..., K)
        if ctx.needs[1]:
            gb = matmul(a.unsqueeze(-1), g.unsqueeze(-2))  # (..., K, N)
        return ga, gb
    if b.ndim == 1:                                       # (..., M) = (..., M, K) @ (K,)
        if ctx.needs[0]:
            ga = matmul(g.unsqueeze(-1), b.unsqueeze(0))  # (..., M, K)
        if ctx.needs[1]:
            gb = _fold_t(a, g.unsqueeze(-1)).squeeze(-1)  # (K,)
        return ga, gb
    if ctx.needs[0]:
        ga = matmul(g, b.mT)                              # (..., M, K); the engine sums broadcast dims
    if ctx.needs[1]:
        gb = _fold_t(a, g) if b.ndim == 2 else matmul(a.mT, g)   # (..., K, N)
    return ga, gb


def _fold_t(a, g):
    """``a.mT @ g`` summed over the batch dims of ``a`` (..., M, K) and ``g`` (..., M, N): one (K, N)
    GEMM over the stacked rows instead of a batch of products reduced afterwards."""
    if a.ndim > 2 and a._shape[:-2] == g._shape[:-2]:
        return matmul(a.reshape(-1, a._shape[-1]).mT, g.reshape(-1, g._shape[-1]))
    return matmul(a.mT, g)


def _product(name):
    return Op(name, cpu=_matmul_cpu, cuda=_matmul_cuda, backward=_matmul_bw, save=(0, 1), family="matmul",
              kernels=_gemm_specs)


_matmul, _mm, _bmm, _mv, _dot = (_product(n) for n in ("matmul", "mm", "bmm", "mv", "dot"))


def _addmm_cpu(c, a, b, *, beta, alpha):
    ct = _compute(a)
    r = np.matmul(a.astype(ct, copy=False), b.astype(ct, copy=False))
    if alpha != 1:
        r = r * np.asarray(alpha, dtype=ct)
    if beta != 0:   # beta == 0 ignores input: its nan and inf don't propagate (PyTorch)
        r = r + (c.astype(ct) * np.asarray(beta, dtype=ct) if beta != 1 else c.astype(ct))
    return np.asarray(r).astype(a.dtype, copy=False)


def _addmm_cuda(c, a, b, *, beta, alpha):
    out = Tensor._empty(a._shape[:-1] + b._shape[-1:], a.dtype, a.device)
    return _gemm(a, b, out, c if beta != 0 else None, alpha, beta)


def _addmm_bw(ctx, g):
    c, a, b = ctx.inputs
    gc = ga = gb = None
    if ctx.needs[0]:
        gc = g * ctx.beta if ctx.beta != 1 else g
    if ctx.needs[1]:
        ga = matmul(g, b.mT)
        ga = ga * ctx.alpha if ctx.alpha != 1 else ga
    if ctx.needs[2]:
        gb = matmul(a.mT, g)
        gb = gb * ctx.alpha if ctx.alpha != 1 else gb
    return gc, ga, gb


_addmm, _baddbmm = (Op(n, cpu=_addmm_cpu, cuda=_addmm_cuda, backward=_addmm_bw, save=(1, 2), family="matmul",
                       kernels=_gemm_specs) for n in ("addmm", "baddbmm"))


# ------------------------------------------------------------------------------- checks
_CNAME = {"float32": "float", "float64": "double", "float16": "c10::Half", "bfloat16": "c10::BFloat16",
          "int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char", "uint8": "unsigned char",
          "bool": "bool"}
_SNAME = {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16", "int64": "Long",
          "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}


def _tensors(name, **args):
    for i, (arg, t) in enumerate(args.items()):
        if type(t) is not Tensor:
            raise TypeError(f"{name}(): argument '{arg}' (position {i + 1}) must be Tensor, not {type(t).__name__}")


def _same_dtype(a, b):
    if a.dtype is not b.dtype:
        raise RuntimeError(f"expected mat1 and mat2 to have the same dtype, but got: {_CNAME[a.dtype.name]} != "
                           f"{_CNAME[b.dtype.name]}")


def _kernel_dtype(t, cpu_name, cuda_name):
    """Integer products exist on cpu only, bool products nowhere (PyTorch's dispatch)."""
    if t.dtype is D.bool or (t.is_cuda and not t.dtype.is_floating_point):
        raise RuntimeError(f"\"{cuda_name if t.is_cuda else cpu_name}\" not implemented for '{_SNAME[t.dtype.name]}'")


def _mm_shapes(a, b):
    if a._shape[-1] != b._shape[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({a._shape[0]}x{a._shape[1]} and "
                           f"{b._shape[0]}x{b._shape[1]})")


def _bmm_shapes(b1, b2):
    if b1._shape[0] != b2._shape[0]:
        raise RuntimeError(f"batch1 and batch2 must have same number of batches, got {b1._shape[0]} and "
                           f"{b2._shape[0]}")
    if b1._shape[2] != b2._shape[1]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: [{b1._shape[0]}, "
                           f"{b1._shape[2]}] but got: [{b2._shape[0]}, {b2._shape[1]}].")


def _expandable(t, shape):
    """``t`` must broadcast to ``shape`` as ``t.expand(shape)`` would."""
    lead = len(shape) - t.ndim
    if lead < 0:
        raise RuntimeError(f"expand(torch.{_SNAME[t.dtype.name]}Tensor{{{list(t.shape)}}}, size={list(shape)}): the "
                           f"number of sizes provided ({len(shape)}) must be greater or equal to the number of "
                           f"dimensions in the tensor ({t.ndim})")
    for i, s in enumerate(t._shape):
        if s != 1 and s != shape[lead + i]:
            raise RuntimeError(f"The expanded size of the tensor ({shape[lead + i]}) must match the existing size ({s})"
                               f" at non-singleton dimension {lead + i}.  Target sizes: {list(shape)}.  Tensor sizes:"
                               f" {list(t.shape)}")


def _finish(r, out, name):
    return r if out is None else write_out(out, r, name)


# ------------------------------------------------------------------------------- public functions
def matmul(input, other, *, out=None):
    """Matrix product with PyTorch's rules: 1-D . 1-D is a dot product (0-dim), a 1-D operand is a
    row (left) or column (right) vector that is removed from the result, and dims before the last
    two are batch dims that broadcast.

    Args:
        input (Tensor): (..., n, m) or (m,).
        other (Tensor): (..., m, p) or (m,).

    Example::

        >>> ttorch.matmul(ttorch.ones(2, 3, 4), ttorch.ones(4, 5)).shape
        ttorch.Size([2, 3, 5])
    """
    _tensors("matmul", input=input, other=other)
    da, db = input.ndim, other.ndim
    if da == 0 or db == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are {da}D and {db}D")
    if da == 1 and db == 1:
        return _finish(dot(input, other), out, "matmul")
    if da == 2 and db == 1:
        return _finish(mv(input, other), out, "matmul")
    if da <= 2 and db == 2:
        if da == 1 and input._shape[0] != other._shape[0]:
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied (1x{input._shape[0]} and "
                               f"{other._shape[0]}x{other._shape[1]})")
        return _finish(mm(input, other) if da == 2 else _product_call(_matmul, input, other, "addmm_cuda"),
                       out, "matmul")
    k1, k2 = input._shape[-1], other._shape[0 if db == 1 else -2]
    if k1 != k2:
        if db <= 2:   # PyTorch folds the batch of ``input`` into rows: an mm message
            rows = _numel(input._shape[:-1])
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{k1} and {k2}x"
                               f"{other._shape[-1] if db == 2 else 1})")
        batch = _numel(broadcast_shapes(input._shape[:-2], other._shape[:-2], op="matmul"))
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: [{batch}, {k1}] but got: "
                           f"[{batch}, {k2}].")
    broadcast_shapes(input._shape[:-2], other._shape[:-2], op="matmul")
    return _finish(_product_call(_matmul, input, other, "bmm_cuda"), out, "matmul")


def _product_call(op, a, b, cuda_name, cpu_name="addmm_impl_cpu_"):
    _same_dtype(a, b)
    _kernel_dtype(a, cpu_name, cuda_name)
    return op(a, b)


def mm(input, mat2, *, out=None):
    """Product of matrices (n, m) @ (m, p) -> (n, p); no broadcasting (see ``matmul``)."""
    _tensors("mm", input=input, mat2=mat2)
    if input.ndim != 2:
        raise RuntimeError("self must be a matrix")
    if mat2.ndim != 2:
        raise RuntimeError("mat2 must be a matrix")
    _mm_shapes(input, mat2)
    return _finish(_product_call(_mm, input, mat2, "addmm_cuda"), out, "mm")


def bmm(input, mat2, *, out=None):
    """Batched product (b, n, m) @ (b, m, p) -> (b, n, p); no broadcasting (see ``matmul``)."""
    _tensors("bmm", input=input, mat2=mat2)
    if input.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if mat2.ndim != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    _bmm_shapes(input, mat2)
    if input.dtype is not mat2.dtype:
        raise RuntimeError(f"expected scalar type {_SNAME[input.dtype.name]} but found {_SNAME[mat2.dtype.name]}")
    return _finish(_product_call(_bmm, input, mat2, "bmm_cuda", "bmm"), out, "bmm")


def mv(input, vec, *, out=None):
    """Matrix-vector product (n, m) @ (m,) -> (n,)."""
    _tensors("mv", input=input, vec=vec)
    if input.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got 1, {input.ndim}, {vec.ndim}")
    if input._shape[1] != vec._shape[0]:
        raise RuntimeError(f"size mismatch, got input ({input._shape[0]}), mat ({input._shape[0]}x{input._shape[1]}), "
                           f"vec ({vec._shape[0]})")
    return _finish(_product_call(_mv, input, vec, "addmv_impl_cuda", "addmv_impl_cpu"), out, "mv")


def dot(input, tensor, *, out=None):
    """Dot product of two 1-D tensors of the same size, as a 0-dim tensor."""
    _tensors("dot", input=input, tensor=tensor)
    if input.ndim != 1 or tensor.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.ndim}D and {tensor.ndim}D tensors")
    if input._shape[0] != tensor._shape[0]:
        n, m = input._shape[0], tensor._shape[0]
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{n}] and src [{m}] to have the same number of "
                           f"elements, but got {n} and {m} elements respectively")
    if input.dtype is not tensor.dtype:
        raise RuntimeError(f"dot : expected both vectors to have same dtype, but found {_SNAME[input.dtype.name]} and "
                           f"{_SNAME[tensor.dtype.name]}")
    return _finish(_product_call(_dot, input, tensor, "dot", "dot"), out, "dot")


def _outer_impl(a, b):
    from .binary import mul
    return mul(a.reshape(a._shape[0], 1), b)


_outer = Op("outer", impl=_outer_impl, family="matmul")


def outer(input, vec2, *, out=None):
    """Outer product of 1-D tensors: (n,) x (m,) -> (n, m), with type promotion (it is a product)."""
    _tensors("outer", input=input, vec2=vec2)
    for arg, t in (("self", input), ("vec2", vec2)):
        if t.ndim != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {arg}, but got {t.ndim}-D")
    return _finish(_outer(input, vec2), out, "outer")


ger = outer


def _scalars(input, beta, alpha):
    if not input.dtype.is_floating_point:
        for n, v in (("beta", beta), ("alpha", alpha)):
            if isinstance(v, float):
                raise RuntimeError(f"For integral input tensors, argument {n} must not be a floating point number.")


def addmm(input, mat1, mat2, *, beta=1, alpha=1, out=None):
    """``beta * input + alpha * (mat1 @ mat2)``, fused into the GEMM's epilogue on cuda; ``input``
    broadcasts to (n, p). With ``beta=0``, ``input`` is ignored (its nan/inf do not propagate)."""
    _tensors("addmm", input=input, mat1=mat1, mat2=mat2)
    for arg, t in (("mat1", mat1), ("mat2", mat2)):
        if t.ndim != 2:
            raise RuntimeError(f"{arg} must be a matrix, got {t.ndim}-D tensor")
    _mm_shapes(mat1, mat2)
    _expandable(input, (mat1._shape[0], mat2._shape[1]))
    _same_dtype(mat1, mat2)
    if input.dtype is not mat1.dtype:
        raise RuntimeError(f"self and mat2 must have the same dtype, but got {_SNAME[input.dtype.name]} and "
                           f"{_SNAME[mat2.dtype.name]}")
    _kernel_dtype(mat1, "addmm_impl_cpu_", "addmm_cuda")
    _scalars(input, beta, alpha)
    return _finish(_addmm(input, mat1, mat2, beta=beta, alpha=alpha), out, "addmm")


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):
    """``beta * input + alpha * (batch1 @ batch2)`` per batch; ``input`` broadcasts to (b, n, p)."""
    _tensors("baddbmm", input=input, batch1=batch1, batch2=batch2)
    for arg, t in (("batch1", batch1), ("batch2", batch2)):
        if t.ndim != 3:
            raise RuntimeError(f"{arg} must be a 3D tensor")
    _bmm_shapes(batch1, batch2)
    _expandable(input, (batch1._shape[0], batch1._shape[1], batch2._shape[2]))
    for t in (batch2, input):
        if t.dtype is not batch1.dtype:
            raise RuntimeError(f"expected scalar type {_SNAME[batch1.dtype.name]} but found {_SNAME[t.dtype.name]}")
    _kernel_dtype(batch1, "baddbmm_cpu", "baddbmm_cuda")
    _scalars(input, beta, alpha)
    return _finish(_baddbmm(input, batch1, batch2, beta=beta, alpha=alpha), out, "baddbmm")


# ------------------------------------------------------------------------------- einsum
def _letter(i):
    if not 0 <= i < 52:
        raise ValueError(f"einsum(): subscript in subscript list is not within the valid range [0, 52), got {i}")
    return chr(ord("A") + i) if i < 26 else chr(ord("a") + i - 26)


def _sublist_equation(args):
    """``einsum(op0, [0, 1], op1, [1, 2], [0, 2])``: the sublist format as an equation string."""
    def term(sub):
        return "".join("..." if s is Ellipsis else _letter(s) for s in sub)
    ops, terms = list(args[0::2]), [term(s) for s in args[1::2]]
    if len(args) % 2:   # an odd count ends with the output sublist
        return ",".join(terms) + "->" + term(ops[-1]), ops[:-1]
    return ",".join(terms), ops


def _parse_term(term, ndim, i, ell):
    """Labels of one operand: ord() of each letter, and -r..-1 for its r ellipsis dims (right-aligned)."""
    labels, pos, seen_ell = [], 0, False
    while pos < len(term):
        ch = term[pos]
        if ch == ".":
            if seen_ell:
                raise RuntimeError(f"einsum(): found '.' for operand {i} for which an ellipsis was already found")
            if term[pos:pos + 3] != "...":
                raise RuntimeError(f"einsum(): found '.' for operand {i} that is not part of any ellipsis")
            seen_ell, pos = True, pos + 3
            labels.append(None)
            continue
        if not ch.isascii() or not ch.isalpha():
            raise RuntimeError(f"einsum(): invalid subscript given at index {pos} in the equation string, subscripts "
                               "must be in [a-zA-Z]")
        labels.append(ord(ch))
        pos += 1
    n = len(labels) - seen_ell
    if ell is None:          # the output: "..." stands for every broadcast ellipsis dim
        return labels
    if seen_ell:
        if n > ndim:
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({n}) is more than the number of "
                               f"dimensions ({ndim}) for operand {i}")
        j = labels.index(None)
        r = ndim - n
        ell[0] = max(ell[0], r)
        labels[j:j + 1] = list(range(-r, 0))
    elif n != ndim:
        raise RuntimeError(f"einsum(): the number of subscripts in the equation ({n}) does not match the number of "
                           f"dimensions ({ndim}) for operand {i} and no ellipsis was given")
    return labels


def _einsum_impl(*operands, equation):
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) > len(operands):
        raise RuntimeError("einsum(): fewer operands were provided than were specified in the equation")
    if len(terms) < len(operands):
        raise RuntimeError("einsum(): more operands were provided than specified in the equation")
    ell = [0]
    labels = [_parse_term(tm, t.ndim, i, ell) for i, (tm, t) in enumerate(zip(terms, operands))]
    counts = {}
    for ls in labels:
        for lab in ls:
            counts[lab] = counts.get(lab, 0) + 1
    if arrow:
        out = []
        for lab in _parse_term(rhs, 0, -1, None):
            if lab is None:
                out.extend(range(-ell[0], 0))
                continue
            if lab not in counts:
                raise RuntimeError(f"einsum(): output subscript {chr(lab)} does not appear in the equation for any "
                                   "input operand")
            if lab in out:
                raise RuntimeError(f"einsum(): output subscript {chr(lab)} appears more than once in the output")
            out.append(lab)
    else:   # implicit output: the ellipsis dims, then the letters seen once, in alphabetical order
        out = list(range(-ell[0], 0)) + sorted(lab for lab, c in counts.items() if c == 1 and lab >= 0)
    ops = []
    for i, (t, ls) in enumerate(zip(operands, labels)):
        t, ls = _diagonals(t, list(ls), i)
        elsewhere = set(out).union(*[labels[j] for j in range(len(operands)) if j != i])
        drop = [d for d, lab in enumerate(ls) if lab not in elsewhere]
        if drop:
            t = t.sum(dim=drop)
            ls = [lab for lab in ls if lab in elsewhere]
        ops.append((t, ls))
    t, ls = ops[0]
    for k in range(1, len(ops)):
        keep = set(out).union(*[ops[j][1] for j in range(k + 1, len(ops))])
        t, ls = _contract(t, ls, ops[k][0], ops[k][1], keep)
    drop = [d for d, lab in enumerate(ls) if lab not in out]
    if drop:
        t = t.sum(dim=drop)
        ls = [lab for lab in ls if lab in out]
    return t.permute([ls.index(lab) for lab in out])   # a view even when nothing moves, as in PyTorch


def _diagonals(t, ls, i):
    """Take the diagonal of every label repeated in one operand (``ii->i``)."""
    for lab in list(dict.fromkeys(ls)):
        while ls.count(lab) > 1:
            d1 = ls.index(lab)
            d2 = ls.index(lab, d1 + 1)
            if t._shape[d1] != t._shape[d2]:
                raise RuntimeError(f"einsum(): subscript {chr(lab)} is repeated for operand {i} but the sizes don't "
                                   f"match, {t._shape[d1]} != {t._shape[d2]}")
            t = t.diagonal(0, d1, d2)
            ls = [x for j, x in enumerate(ls) if j not in (d1, d2)] + [lab]
    return t, ls


def _contract(a, la, b, lb, keep):
    """Product of two labelled operands summing the shared labels not in ``keep``: as one
    (batch, M, K) @ (batch, K, N) matmul, or a broadcast multiply when nothing is summed."""
    size_a = dict(zip(la, a._shape))
    size_b = dict(zip(lb, b._shape))
    for lab in set(la) & set(lb):
        if size_a[lab] != size_b[lab] and 1 not in (size_a[lab], size_b[lab]):
            raise RuntimeError(f"einsum(): operands do not broadcast: subscript "
                               f"{chr(lab) if lab >= 0 else '...'} has sizes {size_a[lab]} and {size_b[lab]}")
    summed = [lab for lab in la if lab in lb and lab not in keep]
    # a summed label of size 1 on one side: sum the other side first (sum_i a * b_i = a * sum_i b_i)
    for lab in [x for x in summed if size_a[x] != size_b[x]]:
        a, la = a.sum(dim=la.index(lab)), [x for x in la if x != lab]
        b, lb = b.sum(dim=lb.index(lab)), [x for x in lb if x != lab]
        summed.remove(lab)
    batch = [lab for lab in la if lab in lb and lab not in summed]
    a_only = [lab for lab in la if lab not in lb]
    b_only = [lab for lab in lb if lab not in la]
    res = batch + a_only + b_only
    if not summed or (not a_only and not b_only):
        # nothing to sum, or one number per batch entry: a broadcast multiply (and a sum) beats a GEMM
        ea = a.permute([la.index(x) for x in batch + a_only + summed])
        ea = ea.reshape(ea._shape + (1,) * len(b_only))
        eb = b.permute([lb.index(x) for x in batch + summed + b_only])
        eb = eb.reshape(eb._shape[:len(batch)] + (1,) * len(a_only) + eb._shape[len(batch):])
        r = ea * eb                                           # (*batch, *a_only, *summed, *b_only)
        return (r.sum(dim=list(range(len(batch), r.ndim))) if summed else r), res
    sa = [size_a[x] for x in batch]
    sb = [size_b[x] for x in batch]
    m = [size_a[x] for x in a_only]
    n = [size_b[x] for x in b_only]
    k = _numel([size_a[x] for x in summed])
    A = a.permute([la.index(x) for x in batch + a_only + summed]).reshape(sa + [_numel(m), k])
    B = b.permute([lb.index(x) for x in batch + summed + b_only]).reshape(sb + [k, _numel(n)])
    r = matmul(A, B)                                          # (*batch, M, N)
    return r.reshape(list(r._shape[:len(batch)]) + m + n), res


_einsum = Op("einsum", impl=_einsum_impl, family="matmul")


def einsum(*args):
    """Sum of products over the labelled dims of ``operands``, as in ``numpy.einsum``.

    ``equation`` names each operand's dims with letters (``"ij,jk->ik"``); ``...`` stands for
    broadcast dims; a letter repeated in one operand takes its diagonal; letters absent from the
    output are summed. Without ``->``, the output is ``...`` then the letters seen once, sorted.
    Also accepts the sublist format ``einsum(op0, [0, 1], op1, [1, 2], [0, 2])``.

    Example::

        >>> a, b = ttorch.ones(2, 3), ttorch.ones(3, 4)
        >>> ttorch.einsum("ij,jk->ik", a, b).shape
        ttorch.Size([2, 4])
    """
    if not args:
        raise TypeError("einsum(): must specify the equation string and at least one operand, or at least one "
                        "operand and its subscripts list")
    if isinstance(args[0], str):
        equation, operands = args[0], list(args[1:])
        if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
            operands = list(operands[0])
    else:
        equation, operands = _sublist_equation(args)
    if not operands:
        raise RuntimeError("einsum(): must provide at least one operand")
    for i, t in enumerate(operands):
        if type(t) is not Tensor:
            raise TypeError(f"einsum(): operand {i} must be Tensor, not {type(t).__name__}")
    return _einsum(*operands, equation=equation)


# ------------------------------------------------------------------------------- samples
def _samples(pairs, name, grad=True):
    r = rng(name)
    return [Sample([r.uniform(-1, 1, size=s) for s in shapes], kw, grad=grad) for shapes, kw in pairs]


def _matmul_samples():
    return _samples([(((7,), (7,)), {}), (((5,), (5, 3)), {}), (((4, 5), (5,)), {}), (((3, 5), (5, 4)), {}),
                     (((17, 19), (19, 23)), {}), (((1, 1), (1, 1)), {}), (((2, 3, 4), (2, 4, 5)), {}),
                     (((2, 1, 3, 4), (3, 4, 2)), {}), (((2, 3, 4), (4, 5)), {}), (((4,), (2, 4, 3)), {}),
                     (((2, 3, 4), (4,)), {}), (((1, 3), (2, 3, 2)), {}), (((0, 3), (3, 4)), {}),
                     (((3, 0), (0, 4)), {}), (((2, 0, 3), (3, 4)), {})], "matmul")


def _addmm_samples():
    return _samples([(((3, 4), (3, 5), (5, 4)), {}), (((4,), (3, 5), (5, 4)), {"beta": 0.5, "alpha": 2.0}),
                     (((3, 1), (3, 17), (17, 18)), {"beta": 0.1, "alpha": -0.3}), (((), (2, 3), (3, 2)), {}),
                     (((3, 4), (3, 5), (5, 4)), {"beta": 0}), (((2, 3), (2, 0), (0, 3)), {"beta": 2})], "addmm")


def _baddbmm_samples():
    return _samples([(((2, 3, 4), (2, 3, 5), (2, 5, 4)), {}), (((3, 4), (2, 3, 5), (2, 5, 4)), {"alpha": 0.7}),
                     (((1, 1, 4), (3, 2, 6), (3, 6, 4)), {"beta": -1.5, "alpha": 0.25}),
                     (((2, 3, 4), (2, 3, 5), (2, 5, 4)), {"beta": 0})], "baddbmm")


def _einsum_samples():
    r = rng("einsum")

    def s(eq, *shapes, grad=True):
        return Sample([eq] + [r.uniform(-1, 1, size=sh) for sh in shapes], grad=grad)
    return [s("ij,jk->ik", (3, 4), (4, 5)), s("bij,bjk->bik", (2, 3, 4), (2, 4, 2)), s("ii->i", (4, 4)),
            s("ii", (3, 3)), s("ij->ji", (2, 3)), s("ij->", (2, 3)), s("i,j->ij", (3,), (4,)),
            s("...ij,...jk", (2, 3, 4), (4, 2)), s("bn,anm,bm->ba", (2, 3), (4, 3, 5), (2, 5)),
            s("i,i", (5,), (5,)), s("ij,ij->i", (3, 4), (3, 4)), s("iij->j", (2, 2, 3))]


_matmul.samples = _matmul_samples
_mm.samples = lambda: _samples([(((3, 5), (5, 4)), {}), (((19, 2), (2, 17)), {}), (((0, 2), (2, 3)), {})], "mm")
_bmm.samples = lambda: _samples([(((2, 3, 5), (2, 5, 4)), {}), (((3, 1, 4), (3, 4, 1)), {})], "bmm")
_mv.samples = lambda: _samples([(((4, 5), (5,)), {}), (((17, 3), (3,)), {})], "mv")
_dot.samples = lambda: _samples([(((7,), (7,)), {}), (((0,), (0,)), {}), (((33,), (33,)), {})], "dot")
_outer.samples = lambda: _samples([(((3,), (4,)), {}), (((0,), (2,)), {})], "outer")
_addmm.samples = _addmm_samples
_baddbmm.samples = _baddbmm_samples
_einsum.samples = _einsum_samples
_FLOATS = (D.float32, D.float16, D.bfloat16, D.float64)
for _op, _fn in ((_matmul, matmul), (_mm, mm), (_bmm, bmm), (_mv, mv), (_dot, dot), (_outer, outer),
                 (_addmm, addmm), (_baddbmm, baddbmm), (_einsum, einsum)):
    _op.public = _fn
    _op.dtypes = _FLOATS
    _fn.op = _op

__all__ = ["matmul", "mm", "bmm", "mv", "dot", "outer", "ger", "addmm", "baddbmm", "einsum"]
METHODS = {n: globals()[n] for n in __all__ if n != "einsum"}
METHODS.update(addmm_=make_inplace(addmm, "addmm_"), baddbmm_=make_inplace(baddbmm, "baddbmm_"))
