"""``frexp``: each float as ``mantissa * 2 ** exponent``, the mantissa in [0.5, 1) (signed) and the
exponent an int32; zero, inf and NaN give themselves and 0, as C's ``frexp`` and PyTorch's.

One op: a Triton kernel reading the exponent field of the float's bits (a subnormal first scaled by
2^(mantissa bits + 2), exactly) and writing the mantissa with the exponent field set to -1; float16 and
bfloat16 go through float32, where their values and mantissas are exact. NumPy's ``frexp`` on cpu.
Gradient: the mantissa's, ``g / 2 ** exponent`` (PyTorch's); the exponent has none.
"""

import numpy as np
import triton
import triton.language as tl

from .. import _dtype as D
from .._tensor import Tensor
from ._launch import launch, cdiv
from ._op import Op, write_outs
from .samples import Sample, rng

# the constexprs of the float types the kernel reads: the integer type of their bits, mantissa bits,
# exponent mask, bias, and the power of two that makes a subnormal normal
_FORMAT = {D.float32: dict(ITY=tl.int32, MBITS=23, EMASK=0xFF, BIAS=127, SCALE=2.0 ** 25, WIDE=tl.float32),
           D.float64: dict(ITY=tl.int64, MBITS=52, EMASK=0x7FF, BIAS=1023, SCALE=2.0 ** 54, WIDE=tl.float64)}


@triton.jit
def _frexp_kernel(x_ptr, m_ptr, e_ptr, n, ITY: tl.constexpr, MBITS: tl.constexpr, EMASK: tl.constexpr,
                  BIAS: tl.constexpr, SCALE: tl.constexpr, WIDE: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    inside = offs < n
    x = tl.load(x_ptr + offs, mask=inside, other=1.0).to(WIDE)
    field = (x.to(ITY, bitcast=True) >> MBITS) & EMASK
    sub = (field == 0) & (x != 0)
    xs = tl.where(sub, x * SCALE, x)                        # a subnormal made normal (exactly)
    bits = xs.to(ITY, bitcast=True)
    e = ((bits >> MBITS) & EMASK) - (BIAS - 1) - tl.where(sub, MBITS + 2, 0)
    m = ((bits & ~(EMASK << MBITS)) | ((BIAS - 1) << MBITS)).to(WIDE, bitcast=True)
    special = (x == 0) | ((x - x) != 0)                     # zero, or inf or NaN (x - x is NaN)
    tl.store(m_ptr + offs, tl.where(special, x, m).to(m_ptr.dtype.element_ty), mask=inside)
    tl.store(e_ptr + offs, tl.where(special, 0, e).to(tl.int32), mask=inside)


def _frexp_np(x):
    m, e = np.frexp(x.astype(np.float32) if x.dtype.itemsize < 4 else x)
    return m.astype(x.dtype), e.astype(np.int32)


def _frexp_cuda(x):
    xc = x.contiguous()
    m = Tensor._empty(x.shape, x.dtype, x.device)
    e = Tensor._empty(x.shape, D.int32, x.device)
    n = x.numel()
    if n:
        fmt = _FORMAT[D.float64 if x.dtype is D.float64 else D.float32]
        launch(_frexp_kernel, (cdiv(n, 1024),), xc, m, e, n, **fmt, BLOCK=1024)
    return m, e


def _frexp_bw(ctx, gm):
    return (gm / ctx.outputs[1].to(gm.dtype).exp2(),)


def _specs():
    from ._aot import KernelSpec, ptr
    out = []
    for dt in (D.float32, D.float64, D.float16, D.bfloat16):
        sig = dict(x_ptr=ptr(dt), m_ptr=ptr(dt), e_ptr=ptr(D.int32), n="i32")
        fmt = _FORMAT[D.float64 if dt is D.float64 else D.float32]
        out.append(KernelSpec(_frexp_kernel, sig, dict(fmt, BLOCK=1024), label=f"frexp {dt}"))
    return out


_frexp = Op("frexp", cpu=_frexp_np, cuda=_frexp_cuda, backward=_frexp_bw, save=(), save_output="all",
            grad_outputs=1, family="unary", kernels=_specs)

from ..return_types import frexp as _Frexp  # noqa: E402


def frexp(input, *, out=None):
    """``(mantissa, exponent)`` with ``input = mantissa * 2 ** exponent``, ``|mantissa|`` in [0.5, 1).

    Example::

        >>> import ttorch
        >>> m, e = ttorch.frexp(ttorch.tensor([8.0, 0.3, -5.0, 0.0]))
        >>> m.double().round(decimals=4).tolist(), e.tolist()
        ([0.5, 0.6, -0.625, 0.0], [4, -1, 3, 0])
    """
    if not input.dtype.is_floating_point:
        raise RuntimeError("torch.frexp() only supports floating-point dtypes")
    if out is not None and out[1].dtype is not D.int32:
        raise RuntimeError(f"torch.frexp() expects exponent to have int dtype but got {out[1].dtype}")
    return write_outs(_Frexp, _frexp(input), out, "frexp")


def _samples():
    r = rng("frexp")
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -0.75, 1e-40, 3.0e38, 2.0 ** -126])
    return [Sample([r.uniform(-4, 4, (3, 5))]), Sample([r.uniform(-1e3, 1e3, (7,))]), Sample([r.uniform(-1, 1, ())]),
            Sample([special], grad=False, note="special values")]


_frexp.public, _frexp.samples = frexp, _samples
PUBLIC = {"frexp": frexp}
METHODS = {"frexp": frexp}
__all__ = []
