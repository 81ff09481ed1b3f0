"""More of PyTorch's functions, composed of other ops, with PyTorch's semantics and errors: shape
helpers (``diff``, ``diag_embed``, ``block_diag``, ``rot90``, the splits...), small elementwise
compositions (``heaviside``, ``ldexp``...; ``logaddexp``, ``xlogy``, ``copysign``, ``signbit``,
``logit`` and ``sinc`` have kernels of their own, in ``binary.py`` and ``unary.py``), products
(``inner``, ``addr``, ``addbmm``, ``matrix_power``, ``multi_dot``...) and statistics (``cov``,
``corrcoef``, ``quantile``, ``nansum``, ``histc``...). No kernels of their own (``isin`` searches
with ``searchsorted``'s); gradients are those of the ops they compose. The differentiable ones with
samples are ``Op``s with ``impl``, which ``tests/test_ops.py`` runs on both devices;
``tests/test_composed.py`` checks values against NumPy, gradients by gradcheck, and the errors.
"""
import builtins
import math
import warnings

import numpy as np

from .. import _dtype as D
from .._tensor import Tensor, _wrap_dim
from ._op import Op, write_out, write_outs
from .elementwise import broadcast_shapes
from .linalg import _fn, _FLOATS, _on_diagonal
from .samples import Sample, rng
from .search import _stack_minmax


def _op(name, impl, samples, public, family="other"):
    op = Op(name, impl=impl, family=family)
    op.samples, op.public, op.dtypes = samples, public, _FLOATS
    return op


def _u(r, *shape):
    return r.uniform(-1, 1, shape)


# ------------------------------------------------------------------------------ elementwise compositions
def _diff_impl(x, *, n, dim):
    for _ in range(n):
        k = x.shape[dim]
        if k == 0:
            break
        a, b = x.narrow(dim, 1, k - 1), x.narrow(dim, 0, k - 1)
        x = _fn("logical_xor")(a, b) if x.dtype is D.bool else a - b
    return x


def diff(input, n=1, dim=-1, prepend=None, append=None, *, out=None):
    """The ``n``-th forward difference along ``dim`` (``prepend``/``append`` joined on first); for
    bool tensors, ``a[i + 1] != a[i]``."""
    if input.dim() == 0:
        raise RuntimeError("diff expects prepend or append to be the same dimension as input")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    d = _wrap_dim(dim, input.dim())
    parts = [t for t in (prepend, input, append) if t is not None]
    for t in parts:
        if t.dim() != input.dim():
            raise RuntimeError("diff expects prepend or append to be the same dimension as input")
    x = _fn("cat")(parts, d) if len(parts) > 1 else input
    r = _diff(x, n=int(n), dim=d) if n else x
    return r if out is None else write_out(out, r, "diff")


def _diff_samples():
    r = rng("diff")
    return [Sample([_u(r, 6)], {"n": 1}), Sample([_u(r, 3, 5)], {"n": 2, "dim": 1}),
            Sample([_u(r, 4, 3), _u(r, 1, 3), _u(r, 2, 3)], {"dim": 0}),
            Sample([_u(r, 3)], {"n": 4})]


_diff = _op("diff", _diff_impl, _diff_samples,                 # (the samples pass prepend, append as tensors)
            lambda x, prepend=None, append=None, **kw: diff(x, prepend=prepend, append=append, **kw))


def broadcast_tensors(*tensors):
    """The tensors expanded (views) to their broadcast shape."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    shape = broadcast_shapes(*[t.shape for t in tensors], op="broadcast_tensors")
    return tuple(t.expand(shape) for t in tensors)


def _tri_indices(which, row, col, offset, dtype, device):
    from .creation import tensor
    if dtype is None:
        dtype = D.int64
    if dtype not in (D.int64, D.int32):
        raise NotImplementedError(f"\"{which}_indices\" not implemented for '{D.scalar_name(dtype)}'")
    if row < 0 or col < 0:
        raise RuntimeError(f"row must be non-negative, got{row}" if row < 0 else f"col must be non-negative, got{col}")
    rows, cols = (np.tril_indices if which == "tril" else np.triu_indices)(row, offset, col)
    return tensor(np.stack([rows, cols]).astype(dtype.np).reshape(2, -1), device=device)


def tril_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    """The (2, N) row and column indices of a ``row`` x ``col`` matrix's lower triangle (on and below
    diagonal ``offset``), in row-major order."""
    return _tri_indices("tril", row, col, offset, dtype, device)


def triu_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    """The (2, N) indices of the upper triangle (on and above diagonal ``offset``), row-major."""
    return _tri_indices("triu", row, col, offset, dtype, device)


def _diag_embed_impl(x, *, offset, dim1, dim2):
    out = _on_diagonal(x, offset)
    nd = out.dim()
    return out if (dim1, dim2) == (nd - 2, nd - 1) else _fn("movedim")(out, (nd - 2, nd - 1), (dim1, dim2))


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """Matrices whose ``offset``-th diagonal (over dims ``dim1``, ``dim2`` of the result) holds the
    last dim of ``input``; zeros elsewhere."""
    nd = input.dim() + 1
    d1, d2 = _wrap_dim(dim1, nd), _wrap_dim(dim2, nd)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return _diag_embed(input, offset=int(offset), dim1=d1, dim2=d2)


def _diag_embed_samples():
    r = rng("diag_embed")
    return [Sample([_u(r, 2, 3)], {"offset": 0, "dim1": 1, "dim2": 2}),
            Sample([_u(r, 2, 3)], {"offset": 1, "dim1": 0, "dim2": 2}),
            Sample([_u(r, 3)], {"offset": -2, "dim1": 1, "dim2": 0})]


_diag_embed = _op("diag_embed", _diag_embed_impl, _diag_embed_samples, diag_embed, "movement")


def diagflat(input, offset=0):
    """``input`` flattened, as the ``offset``-th diagonal of a square matrix."""
    return _fn("diag")(input.reshape(-1), offset)


def _block_diag_impl(*tensors):
    from ..nn.functional import pad
    mats = [t.reshape(1, 1) if t.dim() == 0 else t.reshape(1, -1) if t.dim() == 1 else t for t in tensors]
    width = builtins.sum(m.shape[1] for m in mats)
    rows, at = [], 0
    for m in mats:
        rows.append(pad(m, (at, width - at - m.shape[1])))
        at += m.shape[1]
    return _fn("cat")(rows, 0)


def block_diag(*tensors):
    """The 0-, 1- or 2-D ``tensors`` as blocks along a matrix's diagonal (a 1-D one is a row),
    zeros elsewhere, in their promoted dtype."""
    for i, t in enumerate(tensors):
        if t.dim() > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer dimensions. Input {i} has "
                               f"{t.dim()} dimensions")
    if not tensors:
        return _fn("zeros")(1, 0)
    dt = tensors[0].dtype
    for t in tensors[1:]:
        dt = D.promote_types(dt, t.dtype)
    return _block_diag(*[t.to(dt) for t in tensors])


def _block_diag_samples():
    r = rng("block_diag")
    return [Sample([_u(r, 2, 3), _u(r), _u(r, 2), _u(r, 1, 2)])]


_block_diag = _op("block_diag", _block_diag_impl, _block_diag_samples, block_diag, "movement")


def rot90(input, k=1, dims=(0, 1)):
    """``input`` rotated by 90 degrees ``k`` times in the plane of ``dims``, from the first toward
    the second."""
    dims = list(dims)
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if input.dim() < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {input.dim()}")
    d0, d1 = (_wrap_dim(d, input.dim()) for d in dims)
    if d0 == d1:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {dims[0]} and dim1 = {dims[1]}")
    k %= 4
    if k == 1:
        return input.flip(d1).transpose(d0, d1)
    if k == 2:
        return input.flip((d0, d1))
    if k == 3:
        return input.flip(d0).transpose(d0, d1)
    return input.clone()


def tensor_split(input, indices_or_sections, dim=0):
    """``input`` split along ``dim`` into views: ``n`` sections as even as possible (the first
    ``size % n`` one longer), or at the given indices."""
    if input.dim() == 0:
        raise RuntimeError("tensor_split expected at least a 1-dimensional tensor, but got a tensor with 0 dims")
    d = _wrap_dim(dim, input.dim())
    size = input.shape[d]
    if isinstance(indices_or_sections, Tensor):
        indices_or_sections = indices_or_sections.tolist()
    if isinstance(indices_or_sections, int):
        n = indices_or_sections
        if n <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {n}")
        q, extra = divmod(size, n)
        bounds = [0]
        for i in range(n):
            bounds.append(bounds[-1] + q + (1 if i < extra else 0))
    else:
        bounds = [0] + [builtins.min(builtins.max(i, 0), size) if i >= 0 else builtins.max(size + i, 0)
                        for i in indices_or_sections] + [size]
    return tuple(input.narrow(d, a, builtins.max(b - a, 0)) for a, b in zip(bounds[:-1], bounds[1:]))


def _split_dim(input, sections, dim, name, need):
    if input.dim() < need:
        raise RuntimeError(f"torch.{name} requires a tensor with at least {need} dimension, but got a tensor with "
                           f"{input.dim()} dimensions!")
    if isinstance(sections, int) and (sections == 0 or input.shape[dim] % sections):
        raise RuntimeError(f"torch.{name} attempted to split along dimension {dim}, but the size of the dimension "
                           f"{input.shape[dim]} is not divisible by the split_size {sections}!")
    return tensor_split(input, sections, dim)


def hsplit(input, indices_or_sections):
    """``tensor_split`` along dim 1 (dim 0 for 1-D ``input``); sections must divide evenly."""
    return _split_dim(input, indices_or_sections, 1 if input.dim() >= 2 else 0, "hsplit", 1)


def vsplit(input, indices_or_sections):
    """``tensor_split`` along dim 0 of an at least 2-D ``input``; sections must divide evenly."""
    return _split_dim(input, indices_or_sections, 0, "vsplit", 2)


def dsplit(input, indices_or_sections):
    """``tensor_split`` along dim 2 of an at least 3-D ``input``; sections must divide evenly."""
    return _split_dim(input, indices_or_sections, 2, "dsplit", 3)


def column_stack(tensors, *, out=None):
    """0-D and 1-D tensors as columns, others as they are, joined along dim 1."""
    cols = [t.reshape(-1, 1) if t.dim() <= 1 else t for t in tensors]
    r = _fn("hstack")(cols)
    return r if out is None else write_out(out, r, "column_stack")


# ------------------------------------------------------------------------------ sets, distances, statistics
def isin(elements, test_elements, *, assume_unique=False, invert=False, out=None):
    """Whether each of ``elements`` is among ``test_elements`` (either may be a Python number): the
    test elements sorted once, each element found by binary search (``searchsorted``). NaN is never
    found."""
    from .creation import tensor
    if type(elements) is not Tensor:
        elements = tensor(elements, device=test_elements.device)
    if type(test_elements) is not Tensor:
        test_elements = tensor(test_elements, device=elements.device)
    dt = D.promote_types(elements.dtype, test_elements.dtype)
    e, t = elements.detach().to(dt), test_elements.detach().reshape(-1).to(dt)
    if t.numel() == 0:
        found = _fn("zeros_like")(e, dtype=D.bool)
    else:
        s = _fn("sort")(t).values
        at = _fn("searchsorted")(s, e.reshape(-1)).clamp(max=t.numel() - 1)
        found = (s[at] == e.reshape(-1)).reshape(e.shape)
    r = ~found if invert else found
    return r if out is None else write_out(out, r, "isin")


def histc(input, bins=100, min=0, max=0, *, out=None):
    """Counts of ``input``'s values in ``bins`` equal bins over [min, max] (``min == max``: the values'
    own range, widened by 1 each way when it is one point), in ``input``'s dtype; values outside,
    and NaN, are not counted. The bin of ``x`` is ``(x - min) * bins / (max - min)``, the last one
    closed, as PyTorch's."""
    from .creation import zeros
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f'"histogram_cpu" not implemented for \'{D.scalar_name(input.dtype)}\'')
    bins = int(bins)
    if bins <= 0:
        raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for dimension 0")
    x = input.detach().reshape(-1)
    lo, hi = float(min), float(max)
    if lo > hi:
        raise RuntimeError("torch.histc: max must be larger than min")
    if lo == hi and x.numel():
        lo, hi = (float(v) for v in _stack_minmax(x))
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise RuntimeError(f"torch.histc: range of [{lo}, {hi}] is not finite")
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    inside = (x >= lo) & (x <= hi)
    at = ((x - lo) * bins / (hi - lo)).floor().clamp(0, bins - 1).to(D.int64)
    at = _fn("where")(inside, at, bins)                       # outside: a spare bin, dropped
    counts = zeros(bins + 1, dtype=input.dtype, device=input.device)
    r = counts.index_add(0, at, _fn("ones_like")(x))[:bins]
    return r if out is None else write_out(out, r, "histc")


# ------------------------------------------------------------------------------ small elementwise and products
def _float(t):
    return t if t.dtype.is_floating_point else t.to(D.get_default_dtype())


def sgn(input, *, out=None):
    """``sign`` (real tensors: the sign; PyTorch's ``sgn`` also takes complex ones)."""
    return _fn("sign")(input, out=out)


def heaviside(input, values, *, out=None):
    """0 where ``input`` < 0, ``values`` where it is 0, 1 where it is > 0 (NaN: 0, as PyTorch's)."""
    if input.dtype is not values.dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes")
    r = _fn("where")(input == 0, values, (input > 0).to(input.dtype))
    return r if out is None else write_out(out, r, "heaviside")


def ldexp(input, other, *, out=None):
    """``input * 2 ** other``, in a floating dtype."""
    x, e = (t if t.dtype.is_complex else _float(t) for t in (input, other))    # (complex stays complex)
    r = x * _fn("exp2")(e)
    return r if out is None else write_out(out, r, "ldexp")


def float_power(input, exponent, *, out=None):
    """``input ** exponent`` computed in float64 (PyTorch's double precision)."""
    cplx = any(t.dtype.is_complex if type(t) is Tensor else isinstance(t, complex) for t in (input, exponent))
    dt = D.complex128 if cplx else D.float64    # (a complex operand: complex128, as PyTorch's)
    x = input.to(dt) if type(input) is Tensor else input
    e = exponent.to(dt) if type(exponent) is Tensor else exponent
    r = x ** e
    return r if out is None else write_out(out, r, "float_power")


def _trapezoids(y, x, dx, dim):
    """The trapezoids' areas between adjacent samples of ``y`` along ``dim`` (one fewer), and the dim."""
    d = _wrap_dim(dim, y.dim())
    n = y.shape[d]
    if n == 0:
        return y, d
    mid = (y.narrow(d, 1, n - 1) + y.narrow(d, 0, n - 1)) / 2
    if x is None:
        return mid * (1.0 if dx is None else dx), d
    if x.dim() == 1:
        if x.shape[0] != n:
            raise RuntimeError("trapezoid: There must be one `x` value for each sample point")
        shape = [1] * y.dim()
        shape[d] = n - 1
        return mid * (x[1:] - x[:-1]).reshape(shape), d
    xd = _wrap_dim(d - y.dim(), x.dim())
    return mid * (x.narrow(xd, 1, n - 1) - x.narrow(xd, 0, n - 1)), d


def trapezoid(y, x=None, *, dx=None, dim=-1):
    """The trapezoid rule's integral of ``y`` along ``dim``: sample points ``x`` (1-D, or ``y``'s
    shape), else a spacing ``dx`` (1)."""
    areas, d = _trapezoids(y, x, dx, dim)
    return areas.sum(d)


def cumulative_trapezoid(y, x=None, *, dx=None, dim=-1):
    """The running trapezoid-rule integral of ``y`` along ``dim`` (one value fewer than ``y``)."""
    areas, d = _trapezoids(y, x, dx, dim)
    return _fn("cumsum")(areas, d) if y.shape[d] else y


def vander(x, N=None, increasing=False):
    """The Vandermonde matrix of the 1-D ``x``: columns ``x ** (N - 1) .. x ** 0`` (increasing
    powers with ``increasing``); ``N`` defaults to ``len(x)``."""
    if x.dim() != 1:
        raise RuntimeError("x must be a one-dimensional tensor.")
    n = x.shape[0] if N is None else int(N)
    if n < 0:
        raise RuntimeError("N must be non-negative.")
    dt = x.dtype if x.dtype.is_floating_point else D.int64
    powers = _fn("arange")(n, device=x.device)
    r = x.to(dt).unsqueeze(1) ** powers.to(dt).unsqueeze(0) if n else _fn("zeros")(x.shape[0], 0, dtype=dt,
                                                                                        device=x.device)
    return r if increasing else r.flip(1)


def combinations(input, r=2, with_replacement=False):
    """The ``r``-length combinations of the 1-D ``input``'s elements, one a row, in
    ``itertools.combinations`` order (``combinations_with_replacement`` with ``with_replacement``)."""
    import itertools
    from .creation import tensor
    if input.dim() != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(input.shape)}")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return _fn("zeros")(0, dtype=input.dtype, device=input.device)
    pick = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    idx = list(pick(range(input.shape[0]), r))
    if not idx:
        return _fn("zeros")(0, r, dtype=input.dtype, device=input.device)
    return input[tensor(idx, dtype=D.int64, device=input.device)]


def renorm(input, p, dim, maxnorm, *, out=None):
    """Each slice of ``input`` along ``dim`` whose ``p``-norm exceeds ``maxnorm``, scaled down to it
    (by ``maxnorm / (norm + 1e-7)``, as PyTorch)."""
    d = _wrap_dim(dim, input.dim())
    others = tuple(i for i in range(input.dim()) if i != d)
    norm = _fn("norm")(input, p, others, True) if others else input.abs()
    scale = _fn("where")(norm > maxnorm, maxnorm / (norm + 1e-7), 1.0).to(input.dtype)
    r = input * scale
    return r if out is None else write_out(out, r, "renorm")


from ..return_types import aminmax as _aminmax_rt  # noqa: E402


def aminmax(input, *, dim=None, keepdim=False, out=None):
    """``(min, max)`` of ``input``, or along ``dim``."""
    if dim is None:
        mn, mx = input.amin(), input.amax()
        if keepdim:
            mn, mx = mn.reshape([1] * input.dim()), mx.reshape([1] * input.dim())
    else:
        mn, mx = input.amin(dim, keepdim), input.amax(dim, keepdim)
    return write_outs(_aminmax_rt, (mn, mx), out, "aminmax")


def inner(input, other, *, out=None):
    """Sums of products over the last dims (a product with a 0-dim operand)."""
    if input.dim() == 0 or other.dim() == 0:
        r = input * other
    else:
        if input.shape[-1] != other.shape[-1]:
            raise RuntimeError(f"inner() the last dimension must match on both input tensors but got shapes "
                               f"{list(input.shape)} and {list(other.shape)}")
        r = _fn("tensordot")(input, other, dims=([input.dim() - 1], [other.dim() - 1]))
    # (a 0-dim operand: PyTorch's mul, whose out= takes a castable dtype; else tensordot's, of the same dtype)
    return r if out is None else write_out(out, r, "mul" if input.dim() == 0 or other.dim() == 0 else "inner")


def vdot(input, other, *, out=None):
    """The dot product of two 1-D tensors, the first conjugated (real: ``dot``)."""
    r = _fn("dot")(_fn("conj")(input), other)
    return r if out is None else write_out(out, r, "vdot")


def _beta_alpha(input, prod, beta, alpha, name=None):
    """``beta * input + alpha * prod`` as PyTorch's addmv/addbmm/addr: an integer input truncates float
    scalars (``addr``, ``name`` given, refuses them); a bool one is ``(beta and input) or (alpha and prod)``."""
    if not (input.dtype.is_floating_point or input.dtype.is_complex):
        if name is not None and (isinstance(beta, float) or isinstance(alpha, float)):
            which = "beta" if isinstance(beta, float) else "alpha"
            raise RuntimeError(f"For integral input tensors, argument {which} must not be a floating point number.")
        if input.dtype is D.bool and prod.dtype is D.bool:
            r = prod if alpha else prod & False
            return r | input if beta else r
        beta, alpha = int(beta), int(alpha)
    r = prod if alpha == 1 else prod * alpha
    if beta == 0:                       # (PyTorch ignores input then: its NaN and inf too)
        return r + 0 * r
    return r + (input if beta == 1 else input * beta)


def addr(input, vec1, vec2, *, beta=1, alpha=1, out=None):
    """``beta * input + alpha * outer(vec1, vec2)``."""
    r = _beta_alpha(input, _fn("outer")(vec1, vec2), beta, alpha, "addr")
    return r if out is None else write_out(out, r, "addr")


def addmv(input, mat, vec, *, beta=1, alpha=1, out=None):
    """``beta * input + alpha * (mat @ vec)``: ``input`` a vector (or a number's 0-dim tensor) broadcast
    to ``mat``'s rows."""
    if input.dim() > 1 or mat.dim() != 2 or vec.dim() != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got {input.dim()}, {mat.dim()}, {vec.dim()}")
    if mat.shape[1] != vec.shape[0] or input.dim() == 1 and input.shape[0] not in (1, mat.shape[0]):
        raise RuntimeError(f"size mismatch, got input ({', '.join(map(str, input.shape))}), mat "
                           f"({mat.shape[0]}x{mat.shape[1]}), vec ({vec.shape[0]})")
    r = _beta_alpha(input, mat @ vec, beta, alpha)
    return r if out is None else write_out(out, r, "addmv")


def addbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):
    """``beta * input + alpha * sum_i batch1[i] @ batch2[i]``."""
    r = _beta_alpha(input, (batch1 @ batch2).sum(0), beta, alpha)
    return r if out is None else write_out(out, r, "addbmm")


def matrix_power(input, n, *, out=None):
    """``input`` (square matrices, batched) multiplied by itself ``n`` times, by repeated squaring
    (``n`` 0: the identity; ``n`` < 0: the inverse's ``-n``-th power, as PyTorch)."""
    if input.dim() < 2 or input.shape[-1] != input.shape[-2]:
        raise RuntimeError(f"linalg.matrix_power: A must be batches of square matrices, but they are "
                           f"{input.shape[-2] if input.dim() >= 2 else 1} by {input.shape[-1]} matrices")
    n = int(n)
    if n < 0:
        from .. import linalg
        input, n = linalg.inv(input), -n
    eye = _fn("eye")(input.shape[-1], dtype=input.dtype, device=input.device).expand(input.shape)
    result, base = None, input
    while n:
        if n & 1:
            result = base if result is None else result @ base
        n >>= 1
        if n:
            base = base @ base
    r = eye.clone() if result is None else result.clone() if result is input else result     # (never input itself)
    return r if out is None else write_out(out, r, "linalg.matrix_power")


def multi_dot(tensors, *, out=None):
    """``linalg.multi_dot``: the product of the matrices in ``tensors``, in order (the first may be
    1-D: a row; the last 1-D: a column). Where it differs from PyTorch: multiplied left to right, not
    in the cheapest order."""
    ts = list(tensors)
    if len(ts) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(ts)}")
    first, last = ts[0].dim() == 1, ts[-1].dim() == 1
    if first:
        ts[0] = ts[0].unsqueeze(0)
    if last:
        ts[-1] = ts[-1].unsqueeze(1)
    r = ts[0]
    for t in ts[1:]:
        r = r @ t
    if first:
        r = r.squeeze(0)
    if last:
        r = r.squeeze(-1)
    return r if out is None else write_out(out, r, "linalg.multi_dot")


def chain_matmul(*matrices, out=None):
    """The product of 2-D matrices in order (deprecated in PyTorch, with its warning:
    ``linalg.multi_dot``)."""
    warnings.warn("torch.chain_matmul is deprecated and will be removed in a future PyTorch release. Use "
                  "torch.linalg.multi_dot instead, which accepts a list of two or more tensors rather than "
                  "multiple parameters.", UserWarning, stacklevel=2)
    if len(matrices) == 1:
        return matrices[0].clone() if out is None else write_out(out, matrices[0], "chain_matmul")
    return multi_dot(matrices, out=out)


def dist(input, other, p=2):
    """The ``p``-norm of ``input - other`` (broadcast)."""
    return _fn("norm")(input - other, p)


def _cov_impl(x, fw, aw, *, correction):
    where = _fn("where")
    w = fw if aw is None else aw if fw is None else fw * aw
    if w is None:
        n = x.shape[1]
        avg = x.mean(1, keepdim=True)
        norm = float(builtins.max(n - correction, 0))
        xm = x - avg
        c = xm @ (xm.mH if xm.dtype.is_complex else xm.t())     # (complex: conjugated, as PyTorch's)
    else:
        ws = w.sum()
        avg = (x * w).sum(1, keepdim=True) / ws
        norm = ws - correction * ((w * aw).sum() / ws) if aw is not None else ws - correction
        norm = where(norm > 0, norm, 0.0)
        xm = x - avg
        c = (xm * w) @ (xm.mH if xm.dtype.is_complex else xm.t())
    return c / norm


def cov(input, *, correction=1, fweights=None, aweights=None):
    """The covariance matrix of ``input``'s rows (variables; columns are observations); a 1-D
    ``input`` is one variable (a 0-dim result). ``fweights`` (integer repeat counts) and
    ``aweights`` weigh the observations; ``correction`` 1 is Bessel's."""
    if input.dim() > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an input with "
                           f"{input.dim()} dimensions")
    x = input.reshape(1, -1) if input.dim() < 2 else input
    n = x.shape[1]
    if fweights is not None:
        if fweights.dim() > 1 or fweights.numel() != n:
            raise RuntimeError(f"cov(): expected fweights to have one dimension and {n} elements but got "
                               f"{fweights.dim()} dimensions and {fweights.numel()} elements")
        if fweights.dtype.is_floating_point:
            raise RuntimeError(f"cov(): expected fweights to have integral dtype but got fweights with "
                               f"{D.scalar_name(fweights.dtype)} dtype")
    if aweights is not None:
        if aweights.dim() > 1 or aweights.numel() != n:
            raise RuntimeError(f"cov(): expected aweights to have one dimension and {n} elements but got "
                               f"{aweights.dim()} dimensions and {aweights.numel()} elements")
        if not aweights.dtype.is_floating_point:
            raise RuntimeError(f"cov(): expected aweights to have floating point dtype but got aweights with "
                               f"{D.scalar_name(aweights.dtype)} dtype")
    dt = x.dtype if x.dtype.is_floating_point or x.dtype.is_complex else D.get_default_dtype()
    x = x.to(dt)
    if dt.is_complex:   # (weights stay real: the normalizer compares with 0)
        dt = dt.to_real()
    if fweights is None and aweights is None and n - correction <= 0:
        warnings.warn("cov(): degrees of freedom is <= 0. Correction should be strictly less than the number of "
                      "observations.", UserWarning, stacklevel=2)
    # (complex: composed directly, its ops complex-capable; the Op's dtypes are real)
    c = (_cov_impl if x.dtype.is_complex else _cov)(x, None if fweights is None else fweights.to(dt),
                                                     None if aweights is None else aweights.to(dt),
                                                     correction=int(correction))
    return c.reshape(()) if input.dim() < 2 or x.shape[0] == 1 else c     # (one variable: 0-dim, as PyTorch)


def _cov_samples():
    r = rng("cov")
    return [Sample([_u(r, 3, 6), None, None], {"correction": 1}), Sample([_u(r, 2, 5), None, None], {"correction": 0}),
            Sample([_u(r, 3, 4), None, r.uniform(0.5, 2, 4)], {"correction": 1})]


_cov = _op("cov", _cov_impl, _cov_samples, lambda x, fw, aw, correction: cov(x, correction=correction,
                                                                              fweights=fw, aweights=aw), "reduction")


def corrcoef(input):
    """Pearson's correlation coefficients of ``input``'s rows, clipped to [-1, 1]."""
    c = cov(input)
    if c.dim() == 0:
        return c / c
    d = c.diagonal()
    s = (d.real if d.dtype.is_complex else d).sqrt()
    c = c / s.unsqueeze(1) / s.unsqueeze(0)
    if c.dtype.is_complex:      # (real and imaginary parts clipped apart, as PyTorch's)
        return _fn("complex")(c.real.clamp(-1, 1), c.imag.clamp(-1, 1))
    return c.clamp(-1, 1)


_INTERP = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile_impl(x, q, *, interpolation, skip_nan):
    # sorted rows along the last dim (NaN last); each q's rank among the row's (non-NaN) count
    where = _fn("where")
    s = _fn("sort")(x, -1).values
    n = s.shape[-1]
    nans = x.isnan().sum(-1, keepdim=True)
    valid = (n - nans) if skip_nan else _fn("full_like")(nans, n)
    rank = q.to(x.dtype).reshape(*(1,) * (s.dim() - 1), -1) * (valid - 1).clamp(min=0).to(x.dtype)   # (..., Q)
    lo = rank.floor().to(D.int64)
    hi = rank.ceil().to(D.int64)
    if interpolation == "lower":
        hi = lo
    elif interpolation == "higher":
        lo = hi
    elif interpolation == "nearest":
        lo = hi = rank.round().to(D.int64)
    v_lo, v_hi = s.gather(-1, lo), s.gather(-1, hi)
    frac = 0.5 if interpolation == "midpoint" else rank - lo.to(x.dtype)
    r = v_lo + (v_hi - v_lo) * frac if interpolation in ("linear", "midpoint") else v_lo
    bad = (valid == 0) if skip_nan else (nans > 0)          # a NaN (quantile) or nothing but NaN
    r = where(bad.expand(r.shape), float("nan"), r)
    return r.movedim(-1, 0)                                 # (Q, ...)


def _quantile(name, input, q, dim, keepdim, interpolation, skip_nan):
    from .creation import tensor
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"{name}() input tensor must be either float or double dtype")
    if interpolation not in _INTERP:
        raise RuntimeError(f"{name}() interpolation must be one of linear, lower, higher, midpoint or nearest. Got "
                           f"{interpolation}")
    scalar_q = type(q) is not Tensor
    qt = tensor(q, dtype=input.dtype, device=input.device) if scalar_q else q
    if qt.dim() > 1:
        raise RuntimeError(f"{name}() q must be a scalar or 1D tensor")
    if not scalar_q and qt.dtype is not input.dtype:
        raise RuntimeError(f"{name}() q tensor must be same dtype as the input tensor")
    if scalar_q and not 0 <= q <= 1 or not scalar_q and qt.numel() and not bool(((qt >= 0) & (qt <= 1)).all()):
        raise RuntimeError(f"{name}() q values must be in the range [0, 1]")
    if input.numel() == 0 and dim is None:
        raise RuntimeError(f"{name}() input tensor must be non-empty")
    if dim is None:
        x, d = input.reshape(-1), 0
    else:
        d = _wrap_dim(dim, input.dim()) if input.dim() else 0
        x = input.reshape(1) if input.dim() == 0 else input
        if x.shape[d] == 0:
            raise IndexError(f"{name}() input tensor must be non-empty")
    xs = x.movedim(d, -1)
    r = _quantile_op(xs, qt.reshape(-1), interpolation=interpolation, skip_nan=skip_nan)
    # r: (Q, *rest); keepdim puts a 1 where dim was (every dim with dim None)
    if keepdim:
        if dim is None:
            r = r.reshape((r.shape[0],) + (1,) * input.dim())
        elif input.dim():
            r = r.unsqueeze(d + 1)
    return r[0] if scalar_q or qt.dim() == 0 else r


def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear", out=None):
    """The ``q``-th quantiles (a number or a 1-D tensor in [0, 1]) along ``dim`` (of every element
    when None): between sorted neighbours by ``interpolation`` (linear, lower, higher, midpoint,
    nearest). A 1-D ``q`` puts its dim first. A NaN makes the quantile NaN (``nanquantile`` skips it)."""
    r = _quantile("quantile", input, q, dim, keepdim, interpolation, False)
    return r if out is None else write_out(out, r, "quantile")


def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear", out=None):
    """``quantile`` of the values that are not NaN (NaN where all are)."""
    r = _quantile("nanquantile", input, q, dim, keepdim, interpolation, True)
    return r if out is None else write_out(out, r, "nanquantile")


def _quantile_samples():
    r = rng("quantile")
    # q exact in float32 and ranks q * (n - 1) off the rounding points (0.8 * 5 is 4 in float32,
    # 4.0000001 in float64: "higher" would differ between a dtype and its float64 reference)
    out = [Sample([_u(r, 7), np.array([0.0, 0.375, 0.5, 1.0])], {"dim": None, "keepdim": False,
                                                                   "interpolation": "linear"}, grad=False)]
    for interp in _INTERP:
        out.append(Sample([_u(r, 3, 6), np.array([0.25, 0.75])], {"dim": 1, "keepdim": True, "interpolation": interp},
                          grad=False))
    return out


_quantile_op = Op("quantile", impl=_quantile_impl, family="reduction")
_quantile_op.samples, _quantile_op.dtypes = _quantile_samples, _FLOATS
_quantile_op.public = lambda x, q, dim, keepdim, interpolation: quantile(x, q, dim, keepdim,
                                                                         interpolation=interpolation)


def nansum(input, dim=None, keepdim=False, *, dtype=None, out=None):
    """``sum`` with NaN counted as zero."""
    x = _fn("where")(input.isnan(), 0, input) if input.dtype.is_floating_point else input
    r = x.sum() if dim is None and not keepdim else x.sum(dim if dim is not None else tuple(range(x.dim())), keepdim)
    r = r if dtype is None else r.to(dtype)
    return r if out is None else write_out(out, r, "nansum")


def nanmean(input, dim=None, keepdim=False, *, dtype=None, out=None):
    """The mean of the values that are not NaN (NaN where none is)."""
    if not input.dtype.is_floating_point and dtype is None:
        raise RuntimeError(f"nanmean(): expected input to have floating point or complex dtype but got "
                           f"{D.scalar_name(input.dtype)}")
    x = input if dtype is None else input.to(dtype)
    kept = (~x.isnan()).sum(dim if dim is not None else tuple(range(x.dim())), keepdim)
    r = nansum(x, dim, keepdim) / kept
    return r if out is None else write_out(out, r, "nanmean")


_METHOD_NAMES = ("sgn", "heaviside", "ldexp", "float_power", "renorm",
                 "aminmax", "inner", "addr", "addmv", "addbmm", "matrix_power", "histc", "nansum", "nanmean", "diff",
                 "diag_embed", "rot90", "tensor_split", "hsplit", "vsplit",
                 "dsplit", "isin", "dist", "cov", "corrcoef", "quantile", "nanquantile")
METHODS = {n: globals()[n] for n in _METHOD_NAMES}
__all__ = list(_METHOD_NAMES) + ["trapezoid", "cumulative_trapezoid", "vander", "combinations", "vdot",
                                 "chain_matmul", "broadcast_tensors", "tril_indices", "triu_indices", "diagflat",
                                 "block_diag", "column_stack"]
