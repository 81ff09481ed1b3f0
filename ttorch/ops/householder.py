"""Householder form of QR: ``geqrf`` (LAPACK's compact QR) and ``ormqr`` (multiply by its Q).

``geqrf(A)`` returns ``(a, tau)``: R on and above ``a``'s diagonal, and under it the Householder vectors
``v_i`` (with an implicit 1 on the diagonal) of ``Q = H_1 H_2 ... H_k``, ``H_i = I - tau_i v_i v_i^H``. It runs
LAPACK's ``?geqrf`` through NumPy on the host (``np.linalg.qr(mode="raw")``), as ttorch's other host
factorizations do; like PyTorch's, it has no derivative. ``ormqr`` applies the reflectors one by one in
ttorch ops (no Q is formed), so it runs on either device and is differentiable in all three arguments.
"""

import numpy as np

from .. import _dtype as D
from ._op import Op, COMPLEX_OK, write_outs, write_out
from .complex_decomp import _on_host

__all__ = ["geqrf", "ormqr"]

from ..return_types import geqrf as Geqrf  # noqa: E402


def _geqrf_np(a):
    m, n = a.shape[-2:]
    flat = a.reshape((int(np.prod(a.shape[:-2])), m, n))     # (not -1: m or n may be 0)
    hs, taus = [], []
    for x in flat:
        if m == 0 or n == 0:
            h, tau = x.T.copy(), np.zeros(0, a.dtype)
        else:
            h, tau = np.linalg.qr(x, mode="raw")     # h is LAPACK's column-major result, read as its transpose
        hs.append(h.T)
        taus.append(tau)
    k = min(m, n)
    a_out = np.stack(hs).reshape(a.shape) if hs else np.zeros_like(a)
    tau_out = np.stack(taus).reshape(a.shape[:-2] + (k,)) if taus else np.zeros(a.shape[:-2] + (k,), a.dtype)
    return a_out.astype(a.dtype), tau_out.astype(a.dtype)


def _geqrf_bw(ctx, ga, gtau):
    raise NotImplementedError("the derivative for 'geqrf' is not implemented.")


_geqrf = Op("geqrf", impl=_on_host(_geqrf_np), backward=_geqrf_bw, save=(), family="linalg")
COMPLEX_OK.add("geqrf")


def geqrf(input, *, out=None):
    """``(a, tau)``: the QR factorization of ``input`` ``(*, m, n)`` in LAPACK's Householder form
    (see the module docstring); ``tau`` has shape ``(*, min(m, n))``.

    Example::

        >>> a, tau = ttorch.geqrf(ttorch.tensor([[3.], [4.]]))
        >>> a, tau
        (tensor([[-5.0000],
                [ 0.5000]]), tensor([1.6000]))
    """
    if input.dim() < 2:
        raise RuntimeError("torch.geqrf: input must have at least 2 dimensions.")
    if not (input.dtype.is_floating_point or input.dtype.is_complex) or input.dtype in (D.float16, D.bfloat16):
        raise NotImplementedError(f"\"geqrf_cpu\" not implemented for '{D.scalar_name(input.dtype)}'")
    return write_outs(Geqrf, _geqrf(input), out, "geqrf")


def _check_ormqr(input, tau, other, left):
    if input.dim() < 2:
        raise RuntimeError("torch.ormqr: input must have at least 2 dimensions.")
    if other.dim() < 2:
        raise RuntimeError("torch.ormqr: other must have at least 2 dimensions.")
    c = -2 if left else -1
    if other.shape[c] != input.shape[-2]:
        raise RuntimeError(f"torch.ormqr: other.shape[{c}] must be equal to input.shape[-2]")
    if tau.dim() >= 1 and tau.shape[-1] != min(other.shape[c], input.shape[-1]):
        raise RuntimeError(f"torch.ormqr: tau.shape[-1] must be equal to min(other.shape[{c}], input.shape[-1])")
    if input.dim() - tau.dim() != 1:
        raise RuntimeError("torch.ormqr: Expected tau to have one dimension less than input, but got tau.ndim equal "
                           f"to {tau.dim()} and input.ndim is equal to {input.dim()}")
    if input.dim() != other.dim():
        raise RuntimeError("torch.ormqr: Expected other to have the same number of dimensions as input, but got "
                           f"other.ndim equal to {other.dim()} and input.ndim is equal to {input.dim()}")
    for name, t, k in (("tau", tau, 1), ("other", other, 2)):
        if tuple(t.shape[:-k]) != tuple(input.shape[:-2]):
            raise RuntimeError(f"torch.ormqr: Expected batch dimensions of {name} to be equal to input.shape[:-2], "
                               f"but got {list(t.shape[:-k])}")
    if not (input.dtype.is_floating_point or input.dtype.is_complex) or input.dtype in (D.float16, D.bfloat16):
        raise NotImplementedError(f"\"ormqr_cpu\" not implemented for '{D.scalar_name(input.dtype)}'")
    for name, t in (("tau", tau), ("other", other)):
        if t.dtype != input.dtype:
            raise RuntimeError(f"torch.ormqr: Expected input and {name} to have the same dtype, but input has dtype"
                               f"{D.scalar_name(input.dtype)} and {name} has dtype {D.scalar_name(t.dtype)}")


def ormqr(input, tau, other, left=True, transpose=False, *, out=None):
    """``op(Q) @ other`` (``left``) or ``other @ op(Q)``, ``Q = H_1 ... H_k`` given by ``(input, tau)`` from
    ``geqrf``; ``op`` is the conjugate transpose when ``transpose``.

    Args:
        input (Tensor): ``(*, mn, k)`` Householder vectors under the diagonal.
        tau (Tensor): ``(*, min(mn, k))`` their scales.
        other (Tensor): ``(*, m, n)``.

    Example::

        >>> a, tau = ttorch.geqrf(ttorch.tensor([[3.], [4.]]))
        >>> ttorch.ormqr(a, tau, ttorch.tensor([[-5.], [0.]]))      # Q R = A
        tensor([[3.],
                [4.]])
    """
    _check_ormqr(input, tau, other, left)
    from .creation import arange
    from .ternary import where
    mn = input.shape[-2]
    rows = arange(mn, device=input.device)
    k = tau.shape[-1]
    # Q C = H_1 (H_2 (... H_k C)); Q^H C applies H_1^H first; C Q applies H_1 first; C Q^H applies H_k^H first
    order = range(k) if left == bool(transpose) else reversed(range(k))
    x = other
    for i in order:
        v = where(rows > i, input[..., :, i], (rows == i).to(input.dtype))       # (..., mn)
        t = tau[..., i, None, None]
        if transpose:
            t = t.conj()
        if left:        # H x = x - t v (v^H x)
            x = x - t * v[..., :, None] * (v.conj()[..., None, :] @ x)
        else:           # x H = x - t (x v) v^H
            x = x - t * (x @ v[..., :, None]) * v.conj()[..., None, :]
    if out is not None:
        write_out(out, x, "ormqr")
        return out
    return x


METHODS = {"geqrf": geqrf, "ormqr": ormqr}
