"""Complex reductions and products, composed from real ops on the parts (so they run on both devices,
and autograd comes from the real ops and the views between complex and real).

* ``sum``/``mean``: the real reduction of the float view (``view_as_real``), the (re, im) dim kept.
* ``matmul``/``mm``/``bmm``/``mv``/``dot``/``linear`` (and so ``einsum``, ``@``): four real GEMMs,
  ``(A + iB)(C + iD) = (AC - BD) + i(AD + BC)``; the backward is the real GEMMs', which is
  PyTorch's ``grad_A = grad @ B^H``.
* ``linalg.eig``/``eigvals``: NumPy's ``eig`` on the host (a device tensor makes a round trip: a sync
  and two copies), differentiable with PyTorch's rule.

These are the ``COMPLEX_IMPL`` entries of the real ops: the public functions parse and check their
arguments as for real tensors, and ``Op.__call__`` sends a complex call here.
"""

import numpy as np

from .. import _dtype as D
from .._tensor import Tensor
from ._op import COMPLEX_IMPL, COMPLEX_OK, Op, write_out
from .complex_decomp import _on_host
from .complex import view_as_real, view_as_complex, real, imag, complex as _complex


def _parts(z):
    return real(z), imag(z)


# ------------------------------------------------------------------------------ reductions
def _reduce(fn):
    def impl(x, *, dims, keepdim, dtype, in_shape):
        if dtype is not x.dtype:
            x = x.to(dtype)
            if not x.dtype.is_complex:      # (a real dtype=: the reduction of the values cast, as PyTorch's)
                return fn(x, dims or tuple(range(x.ndim)), keepdim)
        if x.ndim == 0:
            return x * 1            # (a reduction over no dims: the value itself, in the graph)
        return view_as_complex(fn(view_as_real(x), dims or tuple(range(x.ndim)), keepdim).contiguous())
    return impl


COMPLEX_IMPL["sum"] = _reduce(lambda x, dims, keepdim: x.sum(dims, keepdim))
COMPLEX_IMPL["mean"] = _reduce(lambda x, dims, keepdim: x.mean(dims, keepdim))


def _cprod(x, *, dims, keepdim, dtype, in_shape):
    """``prod`` over all dims or one: pairwise complex products, halving the dim each round (log2(n)
    elementwise launches; the gradient is the elementwise ops')."""
    from .creation import ones
    from .movement import cat
    if dtype is not x.dtype:
        x = x.to(dtype)
    if x.ndim == 0:
        return x * 1
    whole = len(dims) == x.ndim and x.ndim > 1 or x.ndim == 1
    y = x.reshape(-1) if whole else x.movedim(dims[0], -1)
    if y._shape[-1] == 0:
        y = ones(y._shape[:-1] + (1,), dtype=y.dtype, device=y.device)
    while y._shape[-1] > 1:
        if y._shape[-1] % 2:
            y = cat([y, ones(y._shape[:-1] + (1,), dtype=y.dtype, device=y.device)], -1)
        y = y[..., 0::2] * y[..., 1::2]
    r = y[..., 0]
    if keepdim:
        return r.reshape((1,) * x.ndim) if whole else r.unsqueeze(dims[0])
    return r


COMPLEX_IMPL["prod"] = _cprod


# ------------------------------------------------------------------------------ real-linear ops, by parts
def _by_parts(name):
    """``COMPLEX_IMPL`` entry of an op that is real-linear and acts alike on both parts (``tril``,
    ``cumsum``...): the op on the real and the imaginary parts, joined."""
    from ._op import REGISTRY

    def impl(x, *rest, **attrs):
        if "dtype" in attrs:
            attrs["dtype"] = attrs["dtype"].to_real()
        op = REGISTRY[name]
        return _complex(op(real(x), *rest, **attrs), op(imag(x), *rest, **attrs))
    return impl


for _name in ("tril", "triu", "cumsum"):
    COMPLEX_IMPL[_name] = _by_parts(_name)


# ------------------------------------------------------------------------------ products
def _cmatmul(a, b):
    """``a @ b`` for complex ``a``, ``b`` of one dtype, from four real products (``matmul``'s rules)."""
    from .matmul import matmul
    ar, ai = _parts(a)
    br, bi = _parts(b)
    return _complex(matmul(ar, br) - matmul(ai, bi), matmul(ar, bi) + matmul(ai, br))


def _cdot(a, b):
    return (a * b).sum()


for _name in ("matmul", "mm", "bmm", "mv"):
    COMPLEX_IMPL[_name] = _cmatmul
COMPLEX_IMPL["dot"] = _cdot
COMPLEX_IMPL["addmm"] = COMPLEX_IMPL["baddbmm"] = \
    lambda c, a, b, *, beta, alpha: _cmatmul(a, b) * alpha + (c * beta if beta != 0 else 0)
# composed of the products, views and elementwise ops above
COMPLEX_OK.update({"einsum", "outer", "kron", "tensordot", "diag", "diag_embed"})
COMPLEX_OK.update({"meshgrid", "block_diag", "cross"})     # (composed of views, pad, cat, roll and products)


def _ternary(fn):
    return lambda a, b, c, *, out_dtype, compute, **params: fn(a, b, c, **params)


COMPLEX_IMPL.update(addcmul=_ternary(lambda x, a, b, value: x + value * a * b),
                    addcdiv=_ternary(lambda x, a, b, value: x + value * (a / b)),
                    lerp=_ternary(lambda x, y, w: x + w * (y - x)))


def _clinear(x, w, b, *, act):
    r = _cmatmul(x, w.transpose(0, 1))
    return r if b is None else r + b


COMPLEX_IMPL["linear"] = _clinear


# ------------------------------------------------------------------------------ eig
from ..return_types import linalg_eig as _Eig  # noqa: E402


def _square(A, name):
    if A.ndim < 2 or A._shape[-1] != A._shape[-2]:
        raise RuntimeError(f"linalg.{name}: A must be batches of square matrices, but they are "
                           f"{A._shape[-2] if A.ndim > 1 else A._shape[-1]} by {A._shape[-1]} matrices")
    if not (A.dtype.is_floating_point or A.dtype.is_complex) or A.dtype in (D.float16, D.bfloat16):
        raise RuntimeError(f"linalg.{name}: Expected a floating point or complex tensor as input. Got "
                           f"{D.scalar_name(A.dtype)}")


def _eig_np(a):
    w, v = np.linalg.eig(a)
    cdt = np.result_type(a.dtype, np.complex64)
    return w.astype(cdt), v.astype(cdt)


def _eig_bw(ctx, gw, gv):
    # PyTorch's linalg_eig_backward: with E_ij = conj(w_j - w_i) (1 on the diagonal),
    # gA = V^-H ((V^H gV - V^H V Re(diag(V^H gV))) / E + diag(gw)) V^H. The eigenvectors are fixed only up to
    # a phase each: a loss that depends on the phases has no gradient (PyTorch's check and message).
    from .complex_decomp import solve_ex
    from .linalg_solve import _eye_like
    A = ctx.inputs[0]
    w, v = ctx.outputs
    vh = v.mH
    inner = None
    if gv is not None:
        vhg = vh @ gv
        d = vhg.diagonal(0, -2, -1)
        im = imag(d).detach()
        if not bool((im.abs() <= 1e-3).all()):
            raise RuntimeError("linalg_eig_backward: The eigenvectors in the complex case are specified up to "
                               "multiplication by e^{i phi}. The specified loss function depends on this "
                               "quantity, so it is ill-defined.")
        wc = w.conj()
        e = wc.unsqueeze(-2) - wc.unsqueeze(-1) + _eye_like(w.diag_embed()).to(w.dtype)
        inner = (vhg - vh @ (v * real(d).unsqueeze(-2).to(v.dtype))) / e
        inner = inner * (1 - _eye_like(inner)).to(v.dtype)     # (the diagonal is gw's alone)
    if gw is not None:
        gd = gw.diag_embed()
        inner = gd if inner is None else inner + gd
    ga = solve_ex(vh, inner @ vh, check_errors=True)[0]
    return (ga if A.dtype.is_complex else real(ga),)


_eig_bw.takes_none = True


_host_eig = Op("linalg_eig", impl=_on_host(_eig_np), backward=_eig_bw, save=(0,), save_output="all",
               family="linalg", grad_name="LinalgEigBackward0")
COMPLEX_OK.add("linalg_eig")


def eig(A, *, out=None):
    """Eigenvalues and eigenvectors of square (batches of) matrices, complex64/complex128 results.

    Computed on the host with NumPy (a cuda input is copied there and back); PyTorch computes it with
    LAPACK/MAGMA. Differentiable as PyTorch's (the eigenvectors have unit norm, so a loss must not depend
    on their phases: the backward raises PyTorch's error when it does).

    Example::

        >>> import ttorch
        >>> ttorch.linalg.eig(ttorch.tensor([[0.0, -1.0], [1.0, 0.0]])).eigenvalues
        tensor([0.+1.j, 0.-1.j])
    """
    _square(A, "eig")
    w, v = _host_eig(A)
    if out is not None:
        return _Eig(write_out(out[0], w, "linalg_eig"), write_out(out[1], v, "linalg_eig"))
    return _Eig(w, v)


def eigvals(A, *, out=None):
    """The eigenvalues of square (batches of) matrices (see ``eig``: NumPy on the host; differentiable).

    Example::

        >>> import ttorch
        >>> ttorch.linalg.eigvals(ttorch.tensor([[2.0, 0.0], [0.0, 3.0]]))
        tensor([2.+0.j, 3.+0.j])
    """
    _square(A, "eigvals")
    if A.requires_grad:
        w = _host_eig(A)[0]
    else:
        w = Tensor._wrap_np(np.ascontiguousarray(np.linalg.eigvals(A.detach()._host()).astype(
            A.dtype.to_complex().np))).to(A.device)
    return w if out is None else write_out(out, w, "linalg_eigvals")


__all__ = []
