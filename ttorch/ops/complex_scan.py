"""Complex cumulative ops and scatters, composed from real ops on the float view or on the parts (so they
run on both devices and autograd comes from the real ops and the complex/real views):

* ``cumprod``: a Hillis-Steele scan of complex products (log2(n) rounds, each an elementwise complex
  multiply by the sequence shifted by 1, 2, 4, ... and padded with ones). Zeros need no special case
  (the real ``cumprod``'s backward divides by x; this one differentiates the products), and the gradient
  is the complex product's, PyTorch's ``grad * conj(d out / d x)``.
* ``logcumsumexp``: the same scan of a complex ``logaddexp`` (factored at the operand of larger real part).
* ``diff``: composed of ``narrow`` and subtraction (complex-ready as it is).
* ``scatter``/``scatter_add``/``index_add``/``index_copy``, ``scatter_reduce``'s sum and mean: the real op
  on ``view_as_real`` of the input and source, the index given the (re, im) dim where it is elementwise;
  ``index_fill``: the real op on each part. (So complex scatter_reduce sum/mean are differentiable; PyTorch
  raises for any complex scatter_reduce under autograd.)
* ``scatter_reduce``'s prod (and ``scatter``'s deprecated ``reduce='multiply'``): NumPy's complex products
  on the host (a cuda tensor makes a round trip: a sync and copies; ttorch has no complex scatter kernel);
  no autograd, as in PyTorch (its error). amax/amin raise PyTorch's error (complex numbers have no order).
"""
import builtins

from ._op import COMPLEX_IMPL, COMPLEX_OK, REGISTRY
from .complex import view_as_real, view_as_complex, real, imag, complex as _complex

# composed of narrow, cat and subtraction, all complex-ready
COMPLEX_OK.add("diff")


# ------------------------------------------------------------------------------ cumprod
def _ccumprod(x, *, dim, dtype, op, reverse=False):
    from .creation import ones
    from .movement import cat
    if dtype is not x.dtype:
        x = x.to(dtype)
    if x.ndim == 0:
        return x * 1
    n = x._shape[dim]
    y, s = x, 1
    while s < n:                    # after the round with shift s, y[k] = prod x[max(0, k - 2s + 1) .. k]
        pad = list(x._shape)
        pad[dim] = s
        y = y * cat([ones(pad, dtype=x.dtype, device=x.device), y.narrow(dim, 0, n - s)], dim)
        s *= 2
    return y if s > 1 else y * 1


COMPLEX_IMPL["cumprod"] = _ccumprod


def _logaddexp(a, b):
    """``log(exp(a) + exp(b))`` of complex tensors, factored at the one of larger real part (no overflow),
    as PyTorch's complex logcumsumexp combines (the imaginary part is not wrapped into (-pi, pi])."""
    from .ternary import where
    first = real(a) >= real(b)
    m, o = where(first, a, b), where(first, b, a)
    return m + (1 + (o - m).exp()).log()


def _clogcumsumexp(x, *, dim, dtype, op):
    """Complex ``logcumsumexp``: the Hillis-Steele scan of ``_logaddexp`` (no padding: the first s entries of a
    round are kept as they are)."""
    from .movement import cat
    if x.ndim == 0:
        return x * 1
    n = x._shape[dim]
    y, s = x, 1
    while s < n:
        y = cat([y.narrow(dim, 0, s), _logaddexp(y.narrow(dim, s, n - s), y.narrow(dim, 0, n - s))], dim)
        s *= 2
    return y if s > 1 else y * 1


COMPLEX_IMPL["logcumsumexp"] = _clogcumsumexp


# ------------------------------------------------------------------------------ scatters on the float view
def _scalar_pairs(value, shape, x):
    """A complex number as a float tensor ``shape + (2,)`` of (re, im) pairs (scatter's ``value=``)."""
    from .creation import tensor
    v = builtins.complex(value)
    return tensor([v.real, v.imag], dtype=x.dtype.to_real(), device=x.device).expand(*shape, 2)


def _on_rows(fn):
    """0-dim operands as 1-element vectors: the float view's dim 0 must be the input's, not (re, im)."""
    def impl(x, index, *rest, **attrs):
        if x.ndim:
            return fn(x, index, *rest, **attrs)
        rest = [r.reshape(1) if hasattr(r, "reshape") and r.ndim == 0 else r for r in rest]
        if "src_shape" in attrs and attrs["src_shape"] == ():
            attrs["src_shape"] = (1,)
        return fn(x.reshape(1), index.reshape(1), *rest, **attrs).reshape(())
    return impl


def _as_pairs(src, x, shape):
    if hasattr(src, "dtype"):
        return view_as_real(src if src.dtype is x.dtype else src.to(x.dtype))
    return _scalar_pairs(src, shape, x)


def _cscatter(name):
    def impl(x, index, src, *, dim, src_shape=None, **attrs):
        if attrs.get("reduce") == "multiply":       # (the deprecated reduce= of scatter: scatter_reduce's prod)
            src = src if hasattr(src, "dtype") else _full_like(index, src, x)
            return _cscatter_prod(x, index, src, dim=dim, include_self=True, src_shape=src._shape)
        s = _as_pairs(src, x, index._shape)
        idx = index.unsqueeze(-1).expand(*index._shape, 2)
        r = REGISTRY[name](view_as_real(x), idx, s, dim=dim, src_shape=s._shape, **attrs)
        return view_as_complex(r)
    return _on_rows(impl)


def _full_like(index, value, x):
    from .creation import full
    return full(index._shape, value, dtype=x.dtype, device=x.device)


def _cscatter_prod(x, index, src, *, dim, include_self, src_shape):
    # NumPy's complex products on the host, in index order as PyTorch's cpu kernel multiplies (a product in
    # polar form would leave rounding noise in parts that are exactly 0); a cuda tensor makes a round trip
    from .._tensor import Tensor
    from .gather import _scatter_reduce_cpu
    r = _scatter_reduce_cpu(x.detach()._host(), index._host(), src.detach()._host(), dim=dim, reduce="prod",
                            include_self=include_self, src_shape=src_shape)
    return Tensor._wrap_np(r, x.dtype).to(x.device)


def _cscatter_reduce(x, index, src, *, dim, reduce, include_self, src_shape):
    from .. import _dtype as D
    if reduce in ("amax", "amin"):
        raise NotImplementedError(f"\"scatter_gather_tensor_cpu_reduce_{reduce}\" not implemented for "
                                  f"'{D.scalar_name(x.dtype)}'")
    if reduce == "prod":
        from ..autograd import grad_mode
        if grad_mode.is_grad_enabled() and (x.requires_grad or src.requires_grad):
            raise RuntimeError("scatter_reduce does not support automatic differentiation for outputs with "
                               "complex dtype.")
        return _cscatter_prod(x, index, src, dim=dim, include_self=include_self, src_shape=src_shape)
    s = view_as_real(src)
    idx = index.unsqueeze(-1).expand(*index._shape, 2)
    return view_as_complex(REGISTRY["scatter_reduce"](view_as_real(x), idx, s, dim=dim, reduce=reduce,
                                                      include_self=include_self, src_shape=s._shape))


def _cindex_write(name):
    def impl(x, index, source, *, dim, src_shape):
        s = _as_pairs(source, x, ())
        return view_as_complex(REGISTRY[name](view_as_real(x), index, s, dim=dim, src_shape=s._shape))
    return _on_rows(impl)


def _cindex_fill(x, index, *, dim, value):
    v = builtins.complex(value)
    op = REGISTRY["index_fill"]
    return _complex(op(real(x), index, dim=dim, value=v.real), op(imag(x), index, dim=dim, value=v.imag))


COMPLEX_IMPL.update(scatter=_cscatter("scatter"), scatter_add=_cscatter("scatter_add"),
                    scatter_reduce=_on_rows(_cscatter_reduce),
                    index_add=_cindex_write("index_add"), index_copy=_cindex_write("index_copy"),
                    index_fill=_cindex_fill)

__all__ = []
