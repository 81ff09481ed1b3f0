"""Functions composed of other ops (views, products, reductions), PyTorch's names and semantics:
``meshgrid``, ``cartesian_prod``, ``diag``, ``trace``, ``tensordot``, ``kron``, ``cross``, ``cdist``,
``atleast_1d/2d/3d``, and what ``ttorch.linalg`` adds to ``vector_norm``: ``matrix_norm``, ``norm``,
``vecdot``, ``cross``. No kernels of their own: each runs the kernels of the ops it composes, on
either device, and its gradient is theirs (so gradients of gradients work too). Each is an ``Op`` with
``impl`` for its sample inputs, which ``tests/test_ops.py`` runs on both devices against float64.
"""
import builtins
import math
import warnings

from .. import _dtype as D
from .._tensor import Tensor, _numel
from ._op import Op, write_out
from .elementwise import broadcast_shapes
from .samples import Sample, rng

_FLOATS = (D.float32, D.float64)


def _fn(name):
    from . import FUNCTIONS
    return FUNCTIONS[name]


def _tensors(fname, tensors):
    """A function's variadic tensors, or the one list/tuple of them it was given."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    for i, t in enumerate(tensors):
        if type(t) is not Tensor:
            raise TypeError(f"{fname}(): expected Tensor as element {i} in argument 0, but got {type(t).__name__}")
    return tuple(tensors)


# ------------------------------------------------------------------------------ grids
def _meshgrid_impl(*tensors, indexing):
    shape = [t.numel() for t in tensors]
    at = list(range(len(tensors)))
    if indexing == "xy" and len(tensors) >= 2:      # the first two dims swapped (NumPy's default)
        shape[0], shape[1] = shape[1], shape[0]
        at[0], at[1] = 1, 0
    out = []
    for t, d in zip(tensors, at):
        view = [1] * len(tensors)
        view[d] = -1
        out.append(t.reshape(view).expand(shape))
    return tuple(out)


_meshgrid = Op("meshgrid", impl=_meshgrid_impl, family="movement")


def meshgrid(*tensors, indexing=None):
    """Coordinate grids from 0-D or 1-D ``tensors``: output ``i`` holds ``tensors[i]`` along dim ``i``
    (``indexing='ij'``), or with the first two dims swapped (``'xy'``). The outputs are expanded views,
    as PyTorch's. Without ``indexing``, 'ij' with PyTorch's warning.

    Example::

        >>> x, y = ttorch.meshgrid(ttorch.arange(2), ttorch.arange(3), indexing="ij")
        >>> x.tolist()
        [[0, 0, 0], [1, 1, 1]]
    """
    tensors = _tensors("meshgrid", tensors)
    if indexing is None:
        warnings.warn("torch.meshgrid: in an upcoming release, it will be required to pass the indexing argument.",
                      UserWarning, stacklevel=2)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f'torch.meshgrid: indexing must be one of "xy" or "ij", but received: {indexing}')
    if not tensors:
        raise RuntimeError("torch.meshgrid expects a non-empty TensorList")
    for t in tensors:
        if t.dim() > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got: {t}")
        if t.dtype is not tensors[0].dtype:
            raise RuntimeError("meshgrid expects all tensors to have the same dtype")
        if t.device != tensors[0].device:
            raise RuntimeError("meshgrid expects all tensors to have the same device")
    return _meshgrid(*tensors, indexing=indexing)


def cartesian_prod(*tensors):
    """The Cartesian product of 1-D ``tensors``: ``(N, len(tensors))`` rows in ``itertools.product``
    order (one tensor: itself)."""
    tensors = _tensors("cartesian_prod", tensors)
    for t in tensors:
        if t.dim() != 1:
            raise RuntimeError(f"Expect a 1D vector, but got shape {list(t.shape)}")
    if len(tensors) == 1:
        return tensors[0]
    grids = meshgrid(*tensors, indexing="ij")
    return _fn("stack")([g.reshape(-1) for g in grids], 1)


def _meshgrid_samples():
    r = rng("meshgrid")
    return [Sample([r.uniform(-1, 1, 3), r.uniform(-1, 1, 4)], {"indexing": "ij"}),
            Sample([r.uniform(-1, 1, 3), r.uniform(-1, 1, 2), r.uniform(-1, 1, 4)], {"indexing": "xy"}),
            Sample([r.uniform(-1, 1, ()), r.uniform(-1, 1, 5)], {"indexing": "xy"}),
            Sample([r.uniform(-1, 1, 4)], {"indexing": "ij"})]


_meshgrid.samples, _meshgrid.public, _meshgrid.dtypes = _meshgrid_samples, meshgrid, _FLOATS


def _atleast(n, name, tensors):
    tensors = _tensors(name, tensors)
    out = []
    for t in tensors:
        if t.dim() >= n:
            out.append(t)
        elif n == 3 and t.dim() == 2:
            out.append(t.unsqueeze(-1))
        elif n == 3 and t.dim() == 1:
            out.append(t.reshape(1, -1, 1))
        else:
            out.append(t.reshape([1] * (n - t.dim()) + list(t.shape)))
    return out[0] if len(out) == 1 else tuple(out)


def atleast_1d(*tensors):
    """Each tensor with at least 1 dim (0-D: ``(1,)``); one tensor in, one out, else a tuple."""
    return _atleast(1, "atleast_1d", tensors)


def atleast_2d(*tensors):
    """Each tensor with at least 2 dims: 0-D ``(1, 1)``, 1-D ``(n,)`` -> ``(1, n)``."""
    return _atleast(2, "atleast_2d", tensors)


def atleast_3d(*tensors):
    """Each tensor with at least 3 dims: 0-D ``(1, 1, 1)``, ``(n,)`` -> ``(1, n, 1)``, ``(m, n)`` -> ``(m, n, 1)``."""
    return _atleast(3, "atleast_3d", tensors)


# ------------------------------------------------------------------------------ diagonals
def _on_diagonal(x, offset):
    """(..., n) -> (..., n + |offset|, n + |offset|): the last dim of ``x`` on the ``offset``-th diagonal
    of the last two dims, zeros elsewhere (``diag`` of a vector, ``diag_embed``)."""
    n, k = x.shape[-1], builtins.abs(offset)
    square = x.unsqueeze(-1) * _fn("eye")(n, dtype=x.dtype, device=x.device)   # x on the main diagonal
    if not k:
        return square
    from ..nn.functional import pad
    # (i, i + k) above the main diagonal: k columns left of it, k rows below; (i + k, i) below it
    return pad(square, (k, 0, 0, k) if offset > 0 else (0, k, k, 0))


def _diag_impl(x, *, diagonal):
    if x.dim() == 2:
        return x.diagonal(diagonal).clone()         # a copy, as PyTorch's (not a view)
    return _on_diagonal(x, diagonal)


_diag = Op("diag", impl=_diag_impl, family="movement")


def diag(input, diagonal=0, *, out=None):
    """A 1-D ``input`` as the ``diagonal``-th diagonal of a square matrix (zeros elsewhere), or a 2-D
    ``input``'s ``diagonal``-th diagonal as a new 1-D tensor (``diagonal`` > 0 above the main one).

    Example::

        >>> ttorch.diag(ttorch.tensor([1, 2])).tolist()
        [[1, 0], [0, 2]]
    """
    if input.dim() not in (1, 2):
        raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input.dim()}D")
    r = _diag(input, diagonal=int(diagonal))
    return r if out is None else write_out(out, r, "diag")


def trace(input):
    """The sum of a matrix's main diagonal (integer inputs sum to int64, as ``sum``)."""
    if input.dim() != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.dim()}")
    return input.diagonal().sum()


def _diag_samples():
    r = rng("diag")
    return [Sample([r.uniform(-1, 1, 4)], {"diagonal": 0}), Sample([r.uniform(-1, 1, 3)], {"diagonal": 2}),
            Sample([r.uniform(-1, 1, 3)], {"diagonal": -1}), Sample([r.uniform(-1, 1, (3, 5))], {"diagonal": 0}),
            Sample([r.uniform(-1, 1, (4, 3))], {"diagonal": -2}), Sample([r.uniform(-1, 1, (3, 4))], {"diagonal": 1}),
            Sample([r.uniform(-1, 1, (2, 3))], {"diagonal": 5})]


_diag.samples, _diag.public, _diag.dtypes = _diag_samples, diag, _FLOATS


# ------------------------------------------------------------------------------ products
def _tensordot_impl(a, b, *, dims_a, dims_b):
    free_a = [d for d in range(a.dim()) if d not in dims_a]
    free_b = [d for d in range(b.dim()) if d not in dims_b]
    k = _numel([a.shape[d] for d in dims_a])
    A = a.permute(free_a + dims_a).reshape(_numel([a.shape[d] for d in free_a]), k)
    B = b.permute(dims_b + free_b).reshape(k, _numel([b.shape[d] for d in free_b]))
    return (A @ B).reshape([a.shape[d] for d in free_a] + [b.shape[d] for d in free_b])


_tensordot = Op("tensordot", impl=_tensordot_impl, family="matmul")


def tensordot(a, b, dims=2, out=None):
    """The sum of products of ``a``'s and ``b``'s ``dims``: an int ``n`` pairs ``a``'s last ``n``
    dims with ``b``'s first ``n``; two lists pair ``dims[0][i]`` of ``a`` with ``dims[1][i]`` of ``b``.
    The result's dims are ``a``'s free dims, then ``b``'s."""
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > a.dim() or dims > b.dim():
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={dims}")
        dims_a, dims_b = list(range(a.dim() - dims, a.dim())), list(range(dims))
    else:
        da, db = dims
        dims_a = [da] if isinstance(da, int) else list(da)
        dims_b = [db] if isinstance(db, int) else list(db)
        if len(dims_a) != len(dims_b):
            raise RuntimeError("both dimension lists should have same length")
    dims_a = [d % a.dim() if a.dim() else d for d in dims_a]
    dims_b = [d % b.dim() if b.dim() else d for d in dims_b]
    for da, db in zip(dims_a, dims_b):
        if a.shape[da] != b.shape[db]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size {a.shape[da]} in dim {da} "
                               f"and second has size {b.shape[db]} in dim {db}")
    r = _tensordot(a, b, dims_a=dims_a, dims_b=dims_b)
    return r if out is None else write_out(out, r, "tensordot")


def _tensordot_samples():
    r = rng("tensordot")
    u = lambda *s: r.uniform(-1, 1, s)                                  # noqa: E731
    return [Sample([u(3, 4, 5), u(4, 5, 2)], {"dims": 2}), Sample([u(3, 4), u(4, 2)], {"dims": 1}),
            Sample([u(2, 3, 4), u(4, 3, 5)], {"dims": ([1, 2], [1, 0])}), Sample([u(3), u(2)], {"dims": 0}),
            Sample([u(2, 3), u(3, 2)], {"dims": ([0], [1])})]


_tensordot.samples, _tensordot.public, _tensordot.dtypes = _tensordot_samples, tensordot, _FLOATS


def _kron_impl(a, b):
    n = builtins.max(a.dim(), b.dim())
    sa = [1] * (n - a.dim()) + list(a.shape)
    sb = [1] * (n - b.dim()) + list(b.shape)
    ai = [s for d in sa for s in (d, 1)]          # (a0, 1, a1, 1, ...) against (1, b0, 1, b1, ...)
    bi = [s for d in sb for s in (1, d)]
    return (a.reshape(ai) * b.reshape(bi)).reshape([x * y for x, y in zip(sa, sb)])


_kron = Op("kron", impl=_kron_impl, family="matmul")


def kron(input, other, *, out=None):
    """The Kronecker product: block ``(i0, i1, ...)`` of the result is ``input[i0, i1, ...] * other``
    (the shorter shape padded with leading ones)."""
    r = _kron(input, other)
    return r if out is None else write_out(out, r, "kron")


def _kron_samples():
    r = rng("kron")
    u = lambda *s: r.uniform(-1, 1, s)                                  # noqa: E731
    return [Sample([u(2, 3), u(3, 2)]), Sample([u(3), u(2, 2)]), Sample([u(2, 1, 2), u(2, 3)])]


_kron.samples, _kron.public, _kron.dtypes = _kron_samples, kron, _FLOATS


def _cross_impl(a, b, *, dim):
    roll = _fn("roll")
    return roll(a, -1, dim) * roll(b, -2, dim) - roll(a, -2, dim) * roll(b, -1, dim)


_cross = Op("cross", impl=_cross_impl, family="binary")


def linalg_cross(input, other, *, dim=-1, out=None):
    """``linalg.cross``: the cross product of 3-vectors along ``dim`` (the inputs broadcast)."""
    if input.dim() != other.dim():
        raise RuntimeError(f"linalg.cross: inputs must have the same number of dimensions. Got {input.dim()} and "
                           f"{other.dim()}")
    a, b = _fn("broadcast_tensors")(input, other)
    d = dim % a.dim() if a.dim() else dim
    if input.shape[d] != 3 or other.shape[d] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got {input.shape[d]} and "
                           f"{other.shape[d]}")
    r = _cross(a, b, dim=d)
    return r if out is None else write_out(out, r, "linalg.cross")


def cross(input, other, dim=None, *, out=None):
    """The cross product of 3-vectors along ``dim``; without ``dim``, the first dim of size 3 (with
    PyTorch's deprecation warning)."""
    if dim is None:
        warnings.warn("Using torch.cross without specifying the dim arg is deprecated.\nPlease either pass the dim "
                      "explicitly or simply use torch.linalg.cross.\nThe default value of dim will change to agree "
                      "with that of linalg.cross in a future release.", UserWarning, stacklevel=2)
        shape = broadcast_shapes(input.shape, other.shape)
        dim = next((i for i, s in enumerate(shape) if s == 3), None)
        if dim is None:
            raise RuntimeError("no dimension of size 3 in input")
    return linalg_cross(input, other, dim=dim, out=out)


def _cross_samples():
    r = rng("cross")
    u = lambda *s: r.uniform(-1, 1, s)                                  # noqa: E731
    return [Sample([u(4, 3), u(4, 3)], {"dim": 1}), Sample([u(3, 2), u(3, 2)], {"dim": 0}),
            Sample([u(2, 3, 5), u(1, 3, 5)], {"dim": -2})]


_cross.samples, _cross.public, _cross.dtypes = _cross_samples, cross, _FLOATS


# ------------------------------------------------------------------------------ distances and norms
_MM_MODES = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist")


def _cdist_impl(x1, x2, *, p, mm):
    if mm:      # |x|^2 + |y|^2 - 2 x.y, clamped (PyTorch's composite: gradient 0 at distance 0)
        x1n = (x1 * x1).sum(-1, keepdim=True)
        x2n = (x2 * x2).sum(-1, keepdim=True)
        d2 = x1n + x2n.transpose(-2, -1) - 2 * (x1 @ x2.transpose(-2, -1))
        return d2.clamp_min(1e-30).sqrt()
    diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)                           # (..., P, R, M)
    return _fn("norm")(diff, p, -1)


_cdist = Op("cdist", impl=_cdist_impl, family="matmul")


def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """The p-norm distance between each row of ``x1`` (``(..., P, M)``) and each of ``x2``
    (``(..., R, M)``): ``(..., P, R)``, the batch dims broadcast. With ``p=2`` and more than 25 rows
    on either side (or ``compute_mode="use_mm_for_euclid_dist"``) it goes through a product, as
    PyTorch's: faster, less exact for near points, gradient 0 at distance 0.

    Example::

        >>> ttorch.cdist(ttorch.tensor([[0., 0.]]), ttorch.tensor([[3., 4.]])).tolist()
        [[5.0]]
    """
    if x1.dim() < 2:
        raise RuntimeError(f"cdist only supports at least 2D tensors, X1 got: {x1.dim()}D")
    if x2.dim() < 2:
        raise RuntimeError(f"cdist only supports at least 2D tensors, X2 got: {x2.dim()}D")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: {x1.shape[-1]} X2: {x2.shape[-1]}")
    for name, x in (("X1", x1), ("X2", x2)):
        if not x.dtype.is_floating_point:
            raise RuntimeError(f"cdist only supports floating-point dtypes, {name} got: {D.scalar_name(x.dtype)}")
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    if compute_mode not in _MM_MODES:
        raise RuntimeError(f"{compute_mode} is not a valid value for compute_mode")
    batch = broadcast_shapes(x1.shape[:-2], x2.shape[:-2], op="cdist")
    x1 = x1.expand(tuple(batch) + tuple(x1.shape[-2:]))
    x2 = x2.expand(tuple(batch) + tuple(x2.shape[-2:]))
    mm = p == 2 and (compute_mode == _MM_MODES[1] or compute_mode == _MM_MODES[0]
                     and (x1.shape[-2] > 25 or x2.shape[-2] > 25))
    return _cdist(x1, x2, p=float(p), mm=mm)


def _cdist_samples():
    r = rng("cdist")
    u = lambda *s: r.uniform(-1, 1, s)                                  # noqa: E731
    return [Sample([u(4, 3), u(5, 3)]), Sample([u(2, 4, 3), u(1, 5, 3)], {"p": 1.0}),
            Sample([u(3, 2), u(4, 2)], {"p": 3.0}), Sample([u(3, 2), u(4, 2)], {"p": math.inf}),
            Sample([u(30, 3), u(4, 3)], note="through the product"),
            Sample([u(3, 2), u(2, 2)], {"compute_mode": "use_mm_for_euclid_dist"})]


_cdist.samples, _cdist.public, _cdist.dtypes = _cdist_samples, cdist, _FLOATS


def _norm_dims(A, dim, fname):
    if A.dim() < 2:
        raise RuntimeError(f"{fname}: The input tensor A must have at least 2 dimensions.")
    if len(dim) != 2:
        raise RuntimeError(f"{fname}: dim must be a 2-tuple. Got {' '.join(map(str, dim))}")
    d0, d1 = (d % A.dim() for d in dim)
    if d0 == d1:
        raise RuntimeError(f"{fname}: dims must be different. Got ({dim[0]}, {dim[1]})")
    return d0, d1


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None, out=None):
    """``linalg.matrix_norm`` over the two dims ``dim``: ``'fro'``, the induced ``1``, ``-1`` (max/min
    column sum of ``|A|``), ``inf``, ``-inf`` (max/min row sum), and from the singular values ``'nuc'``
    (their sum), ``2`` and ``-2`` (the largest and smallest)."""
    d0, d1 = _norm_dims(A, dim, "linalg.matrix_norm")
    if not (A.dtype.is_floating_point or A.dtype.is_complex):
        raise RuntimeError(f"linalg.matrix_norm: Expected a floating point or complex tensor as input. Got "
                           f"{D.scalar_name(A.dtype)}")
    if dtype is not None and dtype is not A.dtype:
        A = A.to(dtype)
    if ord == "fro":
        r = _fn("norm")(A, 2, (d0, d1), keepdim)
    elif ord in ("nuc", 2, -2):
        from .linalg_solve import svdvals
        sv = svdvals(A.movedim((d0, d1), (-2, -1)))
        r = sv.sum(-1) if ord == "nuc" else sv.amax(-1) if ord == 2 else sv.amin(-1)
        if keepdim:
            r = r.unsqueeze(builtins.min(d0, d1)).unsqueeze(builtins.max(d0, d1))
    elif ord in (1, -1, math.inf, -math.inf):
        # 1: the largest column sum of |A| (sum over rows d0, extreme over columns d1); inf: rows
        across, along = (d0, d1) if ord in (1, -1) else (d1, d0)
        s = A.abs().sum(across, keepdim=True)
        if A.shape[along] == 0 and ord in (1, math.inf):       # (sums of |A| are >= 0: the max of none is 0)
            r = s.sum(along, keepdim=True)
        else:                           # (amin over an empty dim: IndexError, as PyTorch's)
            r = (s.amax if ord in (1, math.inf) else s.amin)(along, keepdim=True)
        if not keepdim:
            r = r.squeeze(builtins.max(d0, d1)).squeeze(builtins.min(d0, d1))
    else:
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    return r if out is None else write_out(out, r, "linalg.matrix_norm")


def linalg_norm(A, ord=None, dim=None, keepdim=False, *, dtype=None, out=None):
    """``linalg.norm``: a vector norm (``dim`` an int, or ``A`` 1-D, or everything flattened when
    both ``ord`` and ``dim`` are None) or a matrix norm (``dim`` a 2-tuple, or ``A`` 2-D with ``ord``)."""
    from .stats import vector_norm
    if isinstance(dim, int):
        dim = (dim,)
    if dim is not None and len(dim) == 2 or dim is None and ord is not None and A.dim() == 2:
        r = matrix_norm(A, "fro" if ord is None else ord, dim if dim is not None else (-2, -1), keepdim, dtype=dtype)
    elif dim is None and ord is not None and A.dim() != 1:
        raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. Got "
                           f"{A.dim()}D.")
    else:
        if isinstance(ord, str):
            raise RuntimeError(f"linalg.vector_norm: ord={ord!r} is a matrix norm: pass a 2-tuple dim")
        r = vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)
    return r if out is None else write_out(out, r, "linalg.norm")


def vecdot(x, y, *, dim=-1, out=None):
    """``linalg.vecdot``: the dot products of ``x``'s and ``y``'s vectors along ``dim`` (broadcast)."""
    r = (x.conj() * y).sum(dim)     # (x conjugated: PyTorch's complex vecdot; a no-op on real x)
    return r if out is None else write_out(out, r, "linalg.vecdot")


_linalg_norm = Op("linalg_norm", impl=lambda A, **kw: linalg_norm(A, **kw), family="reduction")


def _linalg_norm_samples():
    r = rng("linalg_norm")
    u = lambda *s: r.uniform(-1, 1, s)                                  # noqa: E731
    return [Sample([u(3, 4)]), Sample([u(3, 4)], {"ord": 1}), Sample([u(3, 4)], {"ord": -1}),
            Sample([u(3, 4)], {"ord": math.inf}), Sample([u(3, 4)], {"ord": -math.inf}),
            Sample([u(2, 3, 4)], {"ord": "fro", "dim": (0, 2)}), Sample([u(2, 3, 4)], {"ord": 1, "dim": (2, 0),
                                                                                         "keepdim": True}),
            Sample([u(5)], {"ord": 3}), Sample([u(2, 3, 4)], {"dim": 1}), Sample([u(2, 3, 4)])]


_linalg_norm.samples, _linalg_norm.dtypes = _linalg_norm_samples, _FLOATS
_linalg_norm.public = lambda A, **kw: _linalg_norm(A, **kw)

METHODS = {"diag": diag, "trace": trace, "cross": cross, "kron": kron}
__all__ = ["meshgrid", "cartesian_prod", "atleast_1d", "atleast_2d", "atleast_3d", "diag", "trace", "tensordot",
           "kron", "cross", "cdist"]
