"""Complex tensors: the views between complex and real (``view_as_real``, ``view_as_complex``,
``.real``, ``.imag``), building them (``complex``, ``polar``), ``conj`` and the predicates.

Layout. A cpu complex tensor keeps a NumPy complex array in ``_np``. A cuda one keeps interleaved
(re, im) floats in its storage; Triton has no complex type, so no kernel ever receives a complex
pointer: cuda work runs on the float view (``_fv``: the ``view_as_real`` layout, last dim 2 of stride
1) or on the strided real and imaginary parts (``_part``). Copies and fills of complex tensors on
cuda come here from ``elementwise.copy_into`` and ``creation.fill_`` (``copy_complex``, ``fill_complex``).

Differences from PyTorch: ``conj`` materializes the conjugate (a new tensor; PyTorch sets a lazy
conjugate bit), so ``is_conj()`` is always False and ``resolve_conj`` returns its input; ``is_neg``
likewise. ``complex32`` does not exist.
"""
import builtins
import warnings

import numpy as np

from .. import _dtype as D
from .._tensor import Tensor
from ..autograd.views import track
from ._op import Op, write_out, COMPLEX_OK, COMPLEX_IMPL

# Ops that move or view elements and run on complex tensors: views are metadata; on cuda the copies go
# through ``copy_into`` (which copies the float views); the cpu fallbacks are NumPy's, complex-aware.
COMPLEX_OK.update({"view", "permute", "expand", "as_strided", "view_scatter", "unfold", "split", "split_with_sizes",
                   "unbind", "to_device", "to_dtype", "clone", "cat", "stack", "flip", "roll", "repeat", "copy_",
                   "fill_", "view_as_real", "view_as_complex", "conj"})


# ----------------------------------------------------------------------------- raw reinterpretation
def _reinterp(t, dtype, shape, stride, offset):
    """A tensor over ``t``'s storage read as ``dtype``: no autograd, registered as a view of t's base."""
    shape, stride = tuple(shape), tuple(stride)
    if t.device.type == "cpu":
        out = Tensor._make(t.untyped_storage(), shape, stride, offset, dtype)
    else:
        from .._tensor import _contig_strides
        out = Tensor.__new__(Tensor)
        out._storage = t._storage
        out._shape = shape
        out._stride = None if stride == _contig_strides(shape) else stride
        out._offset = offset
        out.dtype = dtype
        out.device = t.device
    out._base = t if t._base is None else t._base
    return out


def _fv(z):
    """The float view (..., 2) of complex ``z`` (no autograd)."""
    return _reinterp(z, z.dtype.to_real(), z._shape + (2,), tuple(2 * s for s in z.stride()) + (1,), 2 * z._offset)


def _part(z, k):
    """The real (k=0) or imaginary (k=1) parts of complex ``z`` as a strided real tensor (no autograd)."""
    return _reinterp(z, z.dtype.to_real(), z._shape, tuple(2 * s for s in z.stride()), 2 * z._offset + k)


def _cv(x):
    """The complex view of float ``x`` of last dim 2 and stride 1, other strides even (no autograd)."""
    st = x.stride()
    return _reinterp(x, x.dtype.to_complex(), x._shape[:-1], tuple(s // 2 for s in st[:-1]), x._offset // 2)


def owned_complex(x):
    """Fresh contiguous float ``x`` (..., 2) as the complex tensor owning its memory (not a view)."""
    z = _cv(x)
    z._base = None
    return z


def copy_complex(dst, src):
    """cuda ``copy_into`` where ``dst`` or ``src`` is complex: copies of the parts (a complex source into
    a real destination keeps the real part; a real one into a complex destination gets zero imaginary
    parts)."""
    from .elementwise import copy_into
    from .creation import fill_
    if type(src) is not Tensor:
        v = builtins.complex(src)
        if not dst.dtype.is_complex:
            return copy_into(dst, v.real)
        return fill_complex(dst, v)
    if dst.dtype.is_complex and src.dtype.is_complex:
        copy_into(_fv(dst), _fv(src))
    elif dst.dtype.is_complex:
        copy_into(_part(dst, 0), src)
        fill_(_part(dst, 1), 0.0)
    else:
        copy_into(dst, _part(src, 0))
    return dst


def fill_complex(t, value):
    """``creation.fill_`` of a cuda complex tensor: each part filled."""
    from .creation import fill_
    v = builtins.complex(value.item() if isinstance(value, Tensor) else value)
    fill_(_part(t, 0), v.real)
    fill_(_part(t, 1), v.imag)
    return t


def warn_discard():
    warnings.warn("Casting complex values to real discards the imaginary part", UserWarning, stacklevel=3)


# ----------------------------------------------------------------------------- view_as_real / complex
def _as_real_impl(z):
    return track(z, _fv(z))


def _as_complex_impl(x):
    return track(x, _cv(x))


_view_as_real = Op("view_as_real", impl=_as_real_impl, save=(), family="view",
                   backward=lambda ctx, g: view_as_complex(_complex_layout(g)))
_view_as_complex = Op("view_as_complex", impl=_as_complex_impl, save=(), family="view",
                      backward=lambda ctx, g: view_as_real(g))


def _complex_layout(g):
    """``g`` (float, last dim 2) in a layout ``view_as_complex`` takes: a copy where it isn't."""
    st = g.stride()
    if st[-1] != 1 or g._offset % 2 or any(s % 2 for s in st[:-1]):
        return g.contiguous()
    return g


def view_as_real(input):
    """A real view of complex ``input``: shape ``(*input.shape, 2)``, the last dim (re, im), sharing memory.

    Example::

        >>> import ttorch
        >>> ttorch.view_as_real(ttorch.tensor([1 + 2j, 3 - 4j])).tolist()
        [[1.0, 2.0], [3.0, -4.0]]
    """
    if not input.dtype.is_complex:
        raise RuntimeError("view_as_real is only supported for complex tensors")
    return _view_as_real(input)


def view_as_complex(input):
    """A complex view of float32/float64 ``input`` of last dim 2 (stride 1), the other strides even.

    Example::

        >>> import ttorch
        >>> ttorch.view_as_complex(ttorch.tensor([[1.0, 2.0]]))
        tensor([1.+2.j])
    """
    if input.dtype not in (D.float32, D.float64):
        if input.dtype is D.float16:
            raise RuntimeError("view_as_complex: ttorch has no complex32 (ComplexHalf); use float32 input")
        raise RuntimeError("view_as_complex is only supported for half, float and double tensors, but got a tensor "
                           f"of scalar type: {D.scalar_name(input.dtype)}")
    if input.ndim == 0:
        raise RuntimeError("Input tensor must have one or more dimensions")
    if input._shape[-1] != 2:
        raise RuntimeError("Tensor must have a last dimension of size 2")
    st = input.stride()
    if st[-1] != 1:
        raise RuntimeError("Tensor must have a last dimension with stride 1")
    if any(s % 2 for s in st[:-1]):
        raise RuntimeError("Tensor must have a stride divisible by 2 for all but last dimension")
    if input._offset % 2:
        raise RuntimeError("Tensor must have a storage_offset divisible by 2")
    return _view_as_complex(input)


def real(input):
    """The real parts: a view of a complex tensor (writable), ``input`` itself for a real one."""
    if not input.dtype.is_complex:
        return input
    return view_as_real(input).select(-1, 0)


def imag(input):
    """The imaginary parts of a complex tensor, a view (writable); an error for real tensors, as in PyTorch."""
    if not input.dtype.is_complex:
        raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")
    return view_as_real(input).select(-1, 1)


def _set_part(k):
    def setter(self, value):
        part = real(self) if k == 0 else imag(self)
        if isinstance(value, Tensor):
            part.copy_(value)
        else:
            part.fill_(value)
    return setter


Tensor.real = property(real, _set_part(0))
Tensor.imag = property(imag, _set_part(1))


# ----------------------------------------------------------------------------- complex(), polar()
def complex(real, imag, *, out=None):
    """The complex tensor ``real + imag * 1j`` (both float32 or both float64, broadcast together).

    Example::

        >>> import ttorch
        >>> ttorch.complex(ttorch.tensor([1.0]), ttorch.tensor([2.0]))
        tensor([1.+2.j])
    """
    if not isinstance(real, Tensor) or not isinstance(imag, Tensor):
        raise TypeError("complex(): argument 'real' and 'imag' must be Tensor")
    if real.dtype is not imag.dtype:
        raise RuntimeError(f"Expected object of scalar type {D.scalar_name(real.dtype)} but got scalar type "
                           f"{D.scalar_name(imag.dtype)} for second argument")
    if real.dtype not in (D.float32, D.float64):
        raise RuntimeError(f"Expected both inputs to be Half, Float or Double tensors but got "
                           f"{D.scalar_name(real.dtype)} and {D.scalar_name(imag.dtype)}")
    from .movement import stack
    from .composed import broadcast_tensors
    re, im = broadcast_tensors(real, imag)
    r = view_as_complex(stack([re, im], -1))
    return r if out is None else write_out(out, r, "complex")


def polar(abs, angle, *, out=None):
    """The complex tensor ``abs * (cos(angle) + 1j * sin(angle))``.

    Example::

        >>> import ttorch, math
        >>> ttorch.polar(ttorch.tensor([2.0]), ttorch.tensor([math.pi / 2])).imag.tolist()
        [2.0]
    """
    if abs.dtype is not angle.dtype:
        raise RuntimeError(f"Expected object of scalar type {D.scalar_name(abs.dtype)} but got scalar type "
                           f"{D.scalar_name(angle.dtype)} for second argument")
    r = complex(abs * angle.cos(), abs * angle.sin())
    return r if out is None else write_out(out, r, "polar")


# ----------------------------------------------------------------------------- conj and predicates
def _conj_cpu(a):
    return np.conj(a)


def _conj_cuda(z):
    from .complex_math import cx_launch, _cx_conj
    out = Tensor._empty(z._shape, z.dtype, z.device)
    return cx_launch(_cx_conj, out, [z])


def _conj_specs():
    from .complex_math import cx_specs, _cx_conj
    return cx_specs(_cx_conj, 1)


_conj = Op("conj", cpu=_conj_cpu, cuda=_conj_cuda, backward=lambda ctx, g: conj(g), save=(), family="complex",
           grad_name="ConjBackward0", kernels=_conj_specs)


def conj(input):
    """The complex conjugate; the input itself for real tensors. ttorch materializes it (a new tensor;
    PyTorch sets a lazy conjugate bit on a view), so ``is_conj()`` is False.

    Example::

        >>> import ttorch
        >>> ttorch.tensor([1 + 2j]).conj()
        tensor([1.-2.j])
    """
    if not input.dtype.is_complex:
        return input
    return _conj(input)


def conj_physical(input, *, out=None):
    """The complex conjugate in new memory (``conj``'s result, which ttorch always materializes)."""
    r = conj(input)
    return r if out is None else write_out(out, r, "conj_physical")


def resolve_conj(input):
    """``input`` itself: ttorch never leaves a conjugation unresolved."""
    return input


resolve_neg = resolve_conj


def is_complex(input):
    return input.dtype.is_complex


def is_conj(input):
    return False


def is_neg(input):
    return False


def isreal(input):
    """Where the imaginary part is zero (everywhere, for real tensors)."""
    if not input.dtype.is_complex:
        from .creation import ones
        return ones(input.shape, dtype=D.bool, device=input.device)
    return imag(input) == 0


def adjoint(input):
    """The conjugate transpose of the last two dims (a view for real tensors; a copy for complex ones)."""
    if input.dim() < 2:
        raise RuntimeError(f"tensor.adjoint() is only supported on matrices or batches of matrices. Got "
                           f"{input.dim()}-D tensor.")
    return conj(input.transpose(-2, -1))



_NAMES = ("view_as_real", "view_as_complex", "real", "imag", "complex", "polar", "conj", "conj_physical",
          "resolve_conj", "resolve_neg", "is_complex", "is_conj", "is_neg", "isreal", "adjoint")
PUBLIC = {n: globals()[n] for n in _NAMES}
METHODS = {n: globals()[n] for n in _NAMES if n not in ("real", "imag", "is_complex", "complex", "polar",
                                                        "view_as_real", "view_as_complex")}
__all__ = []


# ----------------------------------------------------------------------------- indexing via the float view
def _replay(name, adjust=None):
    """``COMPLEX_IMPL`` entry of real indexing op ``name``: the op on ``view_as_real(x)`` (its dims are
    x's, non-negative, the (re, im) dim last and untouched), viewed as complex again. ``adjust(x, rest,
    attrs)`` fits other operands to the extra dim; autograd runs through the views and the real op."""
    from ._op import REGISTRY

    def impl(x, *rest, **attrs):
        if adjust is not None:
            rest, attrs = adjust(x, rest, attrs)
        if "in_shape" in attrs:
            attrs["in_shape"] = tuple(attrs["in_shape"]) + (2,)
        r = REGISTRY[name](view_as_real(x), *rest, **attrs)
        return view_as_complex(r if r.ndim and r._shape[-1] == 2 else r.reshape(-1, 2))
    return impl


def _pair_index(x, rest, attrs):       # gather: the index gets the (re, im) dim too
    (index,) = rest
    return (index.unsqueeze(-1).expand(*index._shape, 2),), attrs


def _pair_mask(x, rest, attrs):        # masked_select: both parts where the mask is set
    (mask,) = rest
    return (mask.unsqueeze(-1),), attrs


def _pair_values(x, rest, attrs):      # index_put: the values' float view, a full (re, im) dim
    v, *idx = rest
    return (view_as_real(v if v.dtype is x.dtype else v.to(x.dtype)), *idx), \
        dict(attrs, items=tuple(attrs["items"]) + (("full",),))


COMPLEX_IMPL.update(index=_replay("index"), index_put=_replay("index_put", _pair_values),
                    index_select=_replay("index_select"), gather=_replay("gather", _pair_index),
                    masked_select=_replay("masked_select", _pair_mask),
                    nonzero=lambda x, **attrs: _op_named("nonzero")(x != 0, **attrs))


def _op_named(name):
    from ._op import REGISTRY
    return REGISTRY[name]


# ----------------------------------------------------------------------------- where, masked_fill
def _as_complex_tensor(x, cdt, device):
    if type(x) is Tensor:
        return x if x.dtype is cdt else x.to(cdt)
    from .creation import tensor
    return tensor(x, dtype=cdt, device=device)


def cwhere(condition, input, other, cdt, out=None):
    """``where`` with a complex result: the real ``where`` over the float views, (re, im) pairs chosen
    together (differentiable through the views)."""
    from .ternary import where
    dev = condition.device
    a = view_as_real(_as_complex_tensor(input, cdt, dev))
    b = view_as_real(_as_complex_tensor(other, cdt, dev))
    r = view_as_complex(where(condition.unsqueeze(-1), a, b))
    return r if out is None else write_out(out, r, "where")


COMPLEX_IMPL["masked_fill"] = lambda x, mask, value: cwhere(mask, value, x, x.dtype)

