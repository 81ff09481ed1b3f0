"""Matrix products: ``matmul`` (and ``@``), ``mm``, ``bmm``, ``mv``, ``dot``, ``outer``, ``addmm``
and ``baddbmm`` (``einsum`` is in ``einsum.py``, ``linear`` in ``linear.py``).

On cuda every product is ONE tiled Triton GEMM (``gemm.py``): any M/N/K and strides, a batch on
the second grid axis (stride 0 for a broadcast batch), fp32 accumulation (fp64 for float64) and
an ``alpha * A @ B + beta * C`` epilogue for ``addmm``/``baddbmm``. On cpu, ``np.matmul`` (half
types in float32).

Integer products run on cpu (NumPy) and raise on cuda, as PyTorch's cuda does
(``"addmm_cuda" not implemented for 'Long'``).
"""
import numpy as np

from .. import _dtype as D
from .._tensor import Tensor, _contig_strides, _numel
from ._op import Op, write_out
from .inplace import make_inplace
from .elementwise import broadcast_shapes, _bstrides
from .gemm import _gemm, _gemm_specs, plan_state
from .samples import Sample, rng
from . import _op as _amp_op
from .._layout import jagged as _JAGGED


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
    if len(a._shape) == 2 and len(b._shape) == 2:          # the common case: no views to build
        out = Tensor._empty((a._shape[0], b._shape[1]), a.dtype, a.device)
        _gemm(a, b, out)
        return out
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
        rows = _numel(a._shape[:-1])     # (not -1: a K or N of 0 leaves it undefined)
        return matmul(a.reshape(rows, a._shape[-1]).mT, g.reshape(rows, g._shape[-1]))
    return matmul(a.mT, g)


def _product(name):
    return Op(name, cpu=_matmul_cpu, cuda=_matmul_cuda, backward=_matmul_bw, save=(0, 1), family="matmul",
              kernels=_gemm_specs, plan_state=plan_state)


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
          "bool": "bool", "complex64": "c10::complex<float>", "complex128": "c10::complex<double>"}
_SNAME = {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16", "int64": "Long",
          "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool",
          "complex64": "ComplexFloat", "complex128": "ComplexDouble"}


def _tensors(name, **args):
    for i, (arg, t) in enumerate(args.items()):
        if type(t) is not Tensor and getattr(t, "_level", None) is None:     # (``_level``: vmap's BatchedTensor)
            raise TypeError(f"{name}(): argument '{arg}' (position {i + 1}) must be Tensor, not {type(t).__name__}")


def _same_dtype(a, b):
    if a.dtype is not b.dtype:
        raise RuntimeError(f"expected mat1 and mat2 to have the same dtype, but got: {_CNAME[a.dtype.name]} != "
                           f"{_CNAME[b.dtype.name]}")


def _kernel_dtype(t, cpu_name, cuda_name):
    """Integer products exist on cpu only, bool products nowhere (PyTorch's dispatch)."""
    if t.dtype is D.bool or (t.is_cuda and not (t.dtype.is_floating_point or t.dtype.is_complex)):
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
    if _amp_op._autocast is not None:  # ttorch.amp: PyTorch's autocast lists
        return _amp_op._autocast.call("matmul", matmul, input, other, out=out)
    if getattr(input, "is_nested", False) or getattr(other, "is_nested", False):    # ttorch/nested's handler
        return _finish(_matmul(input, other), out, "matmul")
    if type(input) is not Tensor or type(other) is not Tensor:
        rule = getattr(input, "_subclass_matmul", None) or getattr(other, "_subclass_matmul", None)
        if rule is not None:    # a DTensor: its sharding rule (distributed/tensor/_dispatch.py)
            return _finish(rule(input, other), out, "matmul")
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
    if _amp_op._autocast is not None:  # ttorch.amp: PyTorch's autocast lists
        return _amp_op._autocast.call("mm", mm, input, mat2, out=out)
    if type(input) is not Tensor or type(mat2) is not Tensor:
        rule = getattr(input, "_subclass_matmul", None) or getattr(mat2, "_subclass_matmul", None)
        if rule is not None and input.ndim == 2 and mat2.ndim == 2:     # a DTensor: its sharding rule
            return _finish(rule(input, mat2), out, "mm")
    _tensors("mm", input=input, mat2=mat2)
    if input.ndim != 2:
        raise RuntimeError("self must be a matrix")
    if mat2.ndim != 2:
        raise RuntimeError("mat2 must be a matrix")
    _mm_shapes(input, mat2)
    return _finish(_product_call(_mm, input, mat2, "addmm_cuda"), out, "mm")


def bmm(input, mat2, *, out=None):
    """Batched product (b, n, m) @ (b, m, p) -> (b, n, p); no broadcasting (see ``matmul``)."""
    if _amp_op._autocast is not None:  # ttorch.amp: PyTorch's autocast lists
        return _amp_op._autocast.call("bmm", bmm, input, mat2, out=out)
    if getattr(input, "is_nested", False) and input.layout is not _JAGGED:    # strided nested: per component
        return _finish(_bmm(input, mat2), out, "bmm")
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
    if _amp_op._autocast is not None:  # ttorch.amp: PyTorch's autocast lists
        return _amp_op._autocast.call("mv", mv, input, vec, out=out)
    _tensors("mv", input=input, vec=vec)
    if input.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got 1, {input.ndim}, {vec.ndim}")
    if input._shape[1] != vec._shape[0]:
        raise RuntimeError(f"size mismatch, got input ({input._shape[0]}), mat ({input._shape[0]}x{input._shape[1]}), "
                           f"vec ({vec._shape[0]})")
    return _finish(_product_call(_mv, input, vec, "addmv_impl_cuda", "addmv_impl_cpu"), out, "mv")


def dot(input, tensor, *, out=None):
    """Dot product of two 1-D tensors of the same size, as a 0-dim tensor."""
    if _amp_op._autocast is not None:  # ttorch.amp: PyTorch's autocast lists
        return _amp_op._autocast.call("dot", dot, input, tensor, out=out)
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
    """``beta`` and ``alpha`` as an integer product takes them: truncated (PyTorch 2.13's addmm, baddbmm, addmv
    and addbmm take floats there and truncate them; only ``addr`` refuses them)."""
    if input.dtype.is_floating_point or input.dtype.is_complex:
        return beta, alpha
    return (b if isinstance(b, bool) else int(b) for b in (beta, alpha))


def addmm(input, mat1, mat2, *, beta=1, alpha=1, out=None):
    """``beta * input + alpha * (mat1 @ mat2)``, fused into the GEMM's epilogue on cuda; ``input``
    broadcasts to (n, p). With ``beta=0``, ``input`` is ignored (its nan/inf do not propagate)."""
    if _amp_op._autocast is not None:  # ttorch.amp: PyTorch's autocast lists
        return _amp_op._autocast.call("addmm", addmm, input, mat1, mat2, beta=beta, alpha=alpha, out=out)
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
    beta, alpha = _scalars(input, beta, alpha)
    return _finish(_addmm(input, mat1, mat2, beta=beta, alpha=alpha), out, "addmm")


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):
    """``beta * input + alpha * (batch1 @ batch2)`` per batch; ``input`` broadcasts to (b, n, p)."""
    if _amp_op._autocast is not None:  # ttorch.amp: PyTorch's autocast lists
        return _amp_op._autocast.call("baddbmm", baddbmm, input, batch1, batch2, beta=beta, alpha=alpha, out=out)
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
    beta, alpha = _scalars(input, beta, alpha)
    return _finish(_baddbmm(input, batch1, batch2, beta=beta, alpha=alpha), out, "baddbmm")


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


_matmul.samples = _matmul_samples
_mm.samples = lambda: _samples([(((3, 5), (5, 4)), {}), (((19, 2), (2, 17)), {}), (((0, 2), (2, 3)), {})], "mm")
_bmm.samples = lambda: _samples([(((2, 3, 5), (2, 5, 4)), {}), (((3, 1, 4), (3, 4, 1)), {})], "bmm")
_mv.samples = lambda: _samples([(((4, 5), (5,)), {}), (((17, 3), (3,)), {})], "mv")
_dot.samples = lambda: _samples([(((7,), (7,)), {}), (((0,), (0,)), {}), (((33,), (33,)), {})], "dot")
_outer.samples = lambda: _samples([(((3,), (4,)), {}), (((0,), (2,)), {})], "outer")
_addmm.samples = _addmm_samples
_baddbmm.samples = _baddbmm_samples
_FLOATS = (D.float32, D.float16, D.bfloat16, D.float64)
for _op, _fn in ((_matmul, matmul), (_mm, mm), (_bmm, bmm), (_mv, mv), (_dot, dot), (_outer, outer),
                 (_addmm, addmm), (_baddbmm, baddbmm)):
    _op.public = _fn
    _op.dtypes = _FLOATS
    _fn.op = _op

__all__ = ["matmul", "mm", "bmm", "mv", "dot", "outer", "ger", "addmm", "baddbmm"]
METHODS = {n: globals()[n] for n in __all__}
METHODS.update(addmm_=make_inplace(addmm, "addmm_"), baddbmm_=make_inplace(baddbmm, "baddbmm_"))
