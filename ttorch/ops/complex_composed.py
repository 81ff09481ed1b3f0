"""Complex inputs for functions the primitives compose: the inverse trigonometric and hyperbolic functions,
``sinc``, ``logaddexp``, ``softsign``/``tanhshrink``/``silu`` and the ops on truth values (``all``, ``any``,
``logical_*``: a complex value is true where nonzero), entered in the complex dispatch tables (``UNARY`` and
``BINARY`` of ``complex_math``, ``COMPLEX_IMPL``), so each differentiates through its parts on both devices.
"""
import math

from .._tensor import Tensor
from ._op import COMPLEX_IMPL
from .complex_math import UNARY, BINARY, clog, csqrt, csin, cexp, ctanh, csigmoid


# inverse trigonometric and hyperbolic functions by their principal-branch logarithm forms (C99's, NumPy's);
# where they differ from PyTorch: |z| past ~1e154 overflows z * z (PyTorch's scaled forms do not)
UNARY.update(asinh=lambda z: clog(z + csqrt(z * z + 1)),
             acosh=lambda z: clog(z + csqrt(z + 1) * csqrt(z - 1)),
             atanh=lambda z: (clog(1 + z) - clog(1 - z)) * 0.5)
UNARY.update(asin=lambda z: -1j * UNARY["asinh"](1j * z), atan=lambda z: -1j * UNARY["atanh"](1j * z),
             acos=lambda z: math.pi / 2 - UNARY["asin"](z))
UNARY.update(arcsinh=UNARY["asinh"], arccosh=UNARY["acosh"], arctanh=UNARY["atanh"], arcsin=UNARY["asin"],
             arccos=UNARY["acos"], arctan=UNARY["atan"])


def _truth(x, like):
    """A complex operand of a logical op: true where nonzero, as PyTorch's."""
    if type(x) is Tensor:
        return x != 0
    from .creation import tensor
    return tensor(x != 0, device=like.device)


UNARY["logical_not"] = lambda z: (z != 0).logical_not()
for _name in ("logical_and", "logical_or", "logical_xor"):
    BINARY[_name] = (lambda n: lambda a, b: getattr(_truth(a, b), n)(_truth(b, a)))(_name)


def _csinc(z):
    from .ternary import where
    pz = z * math.pi
    return where(z == 0, 1.0, csin(pz) / where(z == 0, 1.0, pz))     # (1 at 0; the masked division finite)


def _clogaddexp(a, b):
    """PyTorch's complex logaddexp: the operand of larger real part factored out, ``m + log1p(exp(n - m))``."""
    from .ternary import where
    from .creation import tensor
    like = a if type(a) is Tensor else b
    a, b = (x if type(x) is Tensor else tensor(x, dtype=like.dtype, device=like.device) for x in (a, b))
    big = a.real >= b.real
    m, n = where(big, a, b), where(big, b, a)
    return m + UNARY["log1p"](cexp(n - m))


UNARY["sinc"] = _csinc
BINARY["logaddexp"] = _clogaddexp
# nn.functional's elementwise ops on complex input, by their definitions (PyTorch takes complex for these);
# where they differ from PyTorch: composed of differentiable ops, silu records a gradient PyTorch refuses
UNARY.update(softsign=lambda z: z / (z.abs() + 1), tanhshrink=lambda z: z - ctanh(z), silu=lambda z: z * csigmoid(z))


def _reduce_truth(name):
    """A reduction of truth values (all, any): a complex operand counts as true where nonzero, as in PyTorch."""
    from ._op import REGISTRY

    def impl(*inputs, **attrs):
        return REGISTRY[name](*[t != 0 if type(t) is Tensor and t.dtype.is_complex else t for t in inputs], **attrs)
    return impl


for _name in ("all", "any"):
    COMPLEX_IMPL[_name] = _reduce_truth(_name)


__all__ = []
