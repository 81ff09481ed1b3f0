"""Complex convolutions: the real conv2d ops (forward, and the input and weight gradients that
``conv_transpose`` runs) on the parts, with Gauss's trick as PyTorch's ``_convolution`` does: for
``x = a + ib``, ``w = c + id``,

    k1 = conv(a + b, c),  k2 = conv(a, d - c),  k3 = conv(b, c + d);  re = k1 - k3,  im = k1 + k2,

three real convolutions where the plain product takes four. ``conv1d``/``conv3d``/``conv_transpose*``
compose these ops with views and ``index_add``, so complex ``nn.Conv*d(dtype=ttorch.cfloat)`` works on both
devices; autograd comes from the real convolutions and the complex/real views (PyTorch's complex gradient).
Rounding differs from the four-product form in the last bits (as PyTorch's does).
"""
from ._op import COMPLEX_IMPL, REGISTRY
from .complex import real, imag, complex as _complex


def _parts(t):
    if t.dtype.is_complex:
        return real(t), imag(t)
    return t, None


def _gauss(name):
    """``COMPLEX_IMPL`` entry of a real op bilinear in its first two tensors (a bias third, or None)."""
    def impl(x, w, *rest, **attrs):
        op = REGISTRY[name]
        bias = rest[0] if rest else None
        more = rest[1:]
        if bias is not None and not bias.dtype.is_complex and (x.dtype.is_complex or w.dtype.is_complex):
            bias = bias.to((x if x.dtype.is_complex else w).dtype)

        def conv(p, q):
            return op(p, q, None, *more, **attrs) if rest else op(p, q, **attrs)
        a, b = _parts(x)
        c, d = _parts(w)
        if b is None or d is None:          # one operand real: two real convolutions
            re, im = (conv(a, c), conv(a, d)) if b is None else (conv(a, c), conv(b, c))
        else:
            k1 = conv(a + b, c)
            re, im = k1 - conv(b, c + d), k1 + conv(a, d - c)
        r = _complex(re, im)
        return r if bias is None else r + bias.reshape((-1,) + (1,) * (r.ndim - 2))
    return impl


for _name in ("conv2d", "conv2d_input_grad", "conv2d_weight_grad"):
    COMPLEX_IMPL[_name] = _gauss(_name)

__all__ = []
