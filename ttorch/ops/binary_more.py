"""Binary ops on integers and on floats' bit patterns, through ``binary.py``'s template (one Triton
kernel each, a NumPy fallback): ``gcd`` and ``lcm`` (integer types but bool) and ``nextafter`` (float
types, computed in their own width). None is differentiable, as in PyTorch."""
import numpy as np
import triton
import triton.language as tl

from .binary import binary

@triton.jit
def _gcd_abs(x, y):
    a = tl.where(x < 0, -x, x)
    b = tl.where(y < 0, -y, y)
    a = a + b * 0           # both of the block's shape (one may be a scalar operand): loop-carried types
    b = b + a * 0           # must not change
    # Euclid's steps for the worst case (consecutive Fibonacci numbers): 1.44 * bits + 2
    bits: tl.constexpr = x.dtype.primitive_bitwidth
    steps: tl.constexpr = 14 if bits == 8 else (25 if bits == 16 else (48 if bits == 32 else 95))
    for _ in range(steps):
        nonzero = b != 0
        r = a % tl.where(nonzero, b, 1)
        a = tl.where(nonzero, b, a)
        b = tl.where(nonzero, r, 0)
    return a


@triton.jit
def _gcd(x, y, p0, p1):
    return _gcd_abs(x, y)


@triton.jit
def _lcm(x, y, p0, p1):
    g = _gcd_abs(x, y)
    m = (x // tl.where(g == 0, 1, g)) * y
    return tl.where(g == 0, 0, tl.where(m < 0, -m, m))


@triton.jit
def _step_bits(x, y, ity: tl.constexpr, bits: tl.constexpr):
    # the neighbour of x toward y: one unit in the last place, through the bit pattern (sign and
    # magnitude: a larger magnitude is a larger pattern); from 0 the smallest subnormal of y's sign.
    # Decided in float64 (exact for every float type; the interpreter keeps bf16 as raw bits)
    xi, yi = x.to(ity, bitcast=True), y.to(ity, bitcast=True)
    xc, yc = x.to(tl.float64), y.to(tl.float64)
    one = xi * 0 + 1
    r = xi + tl.where((yc > xc) == (xc > 0), one, -one)
    r = tl.where(xc == 0, tl.where(yc > 0, one, one | (one << (bits - 1))), r)
    r = tl.where(xc == yc, yi, r)
    r = tl.where(xc != xc, xi, tl.where(yc != yc, yi, r))
    return r.to(x.dtype, bitcast=True)


@triton.jit
def _nextafter(x, y, p0, p1):
    bits: tl.constexpr = x.dtype.primitive_bitwidth
    if bits == 64:
        r = _step_bits(x, y, tl.int64, 64)
    elif bits == 32:
        r = _step_bits(x, y, tl.int32, 32)
    else:
        r = _step_bits(x, y, tl.int16, 16)
    return r


gcd = binary("gcd", _gcd, np.gcd, kind="shift", public=False,
             extra=[([0.0, -4.0, 0.0, 89.0], [0.0, 6.0, -5.0, 55.0])])
lcm = binary("lcm", _lcm, np.lcm, kind="shift", public=False,
             extra=[([0.0, -4.0, 0.0, 12.0], [0.0, 6.0, -5.0, -18.0])])
def _np_nextafter(a, b):
    return np.where(a == b, b, np.nextafter(a, b))      # y where equal (C's rule; NumPy's float16 returns x)


def _nextafter_bw(ctx, g):
    # PyTorch's rule: the step is taken as the identity in x; y only picks its direction
    return (g if ctx.needs[0] else None), (g * 0 if ctx.needs[1] else None)


nextafter = binary("nextafter", _nextafter, _np_nextafter, _nextafter_bw, kind="bits", public=False,
                   extra=[([0.0, 1.0, -1.0, 0.0, 2.0, -0.0], [-1.0, 1.0, 0.0, 1.0, np.inf, 0.0])])

PUBLIC = {"gcd": gcd, "lcm": lcm, "nextafter": nextafter}
METHODS = dict(PUBLIC)
__all__ = []
