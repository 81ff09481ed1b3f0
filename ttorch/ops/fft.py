"""Discrete Fourier transforms on complex tensors held as real ones, (..., 2) interleaved (re, im):
the one primitive op ``fft_c2c`` and the real-to-complex / complex-to-real transforms composed of it.
``ttorch.fft`` wraps them over ``view_as_real``/``view_as_complex``.

``fft_c2c(x, dims, sign, norm)``: the DFT with ``exp(sign 2 pi i j k / n)`` along each of ``dims``
(dims of the complex shape, not counting the trailing 2), scaled per dim by 1 (``norm`` 0),
``1/sqrt(n)`` (1) or ``1/n`` (2). Its backward is the same transform with the opposite sign and the
same scaling (the adjoint of a DFT is the conjugate DFT), an op itself: every order of derivative runs.

On cpu, ``numpy.fft`` (pocketfft; float32 stays float32). On cuda, ``_fft_kernels._dft_kernel``: a
DFT along one dim as a complex GEMM with the DFT matrix made in the kernel. A length with a factor
n1 (4 <= n1 <= sqrt(n), the largest) takes the four-step (Cooley-Tukey) form n = n1 n2: a DFT of
size n1 over strided sub-sequences with the twiddle factors in its epilogue, then one of size n2
written transposed, O(n (n1 + n2)) work; other lengths (primes, small n) the direct O(n^2) product, or,
for a large prime (or large prime factor) length where that costs more, Bluestein's algorithm: the DFT as
a circular convolution of power-of-two length m >= 2n - 1 with a chirp, done with two length-m transforms.
Multi-dim transforms run one dim after another.

``_r2c`` and ``_c2r`` compose ``fft_c2c`` with ttorch ops (embedding in the complex plane, slicing to
the onesided half, the Hermitian extension), so their gradients are those of the functions they
compute: PyTorch's handling of the half spectrum (the doubled interior bins, the DC and Nyquist
imaginary parts that c2r ignores) comes out of the composition. Differs from PyTorch: a real input
is transformed as a complex one with zero imaginary part (twice the work of a dedicated r2c kernel).
"""
import math

import numpy as np

from .. import _dtype as D
from .._tensor import Tensor
from ._op import Op
from ._launch import cdiv, launch

# lengths up to this take the direct product on cuda (one pass; the four-step's two cost more there)
_DIRECT_MAX = 64
_NP_NORM = {(-1, 0): "backward", (-1, 1): "ortho", (-1, 2): "forward",
            (1, 0): "forward", (1, 1): "ortho", (1, 2): "backward"}


# ------------------------------------------------------------------------------- cpu
def _complex_np(x):
    """(..., 2) real array -> complex array of the matching precision (float32 -> complex64)."""
    ct = np.complex64 if x.dtype == np.float32 else np.complex128
    return np.ascontiguousarray(x).view(ct)[..., 0]


def _real_np(z, dtype):
    ct = np.complex64 if dtype == np.float32 else np.complex128
    z = np.ascontiguousarray(z, dtype=ct)
    return z.view(dtype).reshape(z.shape + (2,))


def _c2c_cpu(x, *, dims, sign, norm):
    if x.size == 0:
        return np.zeros(x.shape, x.dtype)
    fn = np.fft.fftn if sign < 0 else np.fft.ifftn
    return _real_np(fn(_complex_np(x), axes=dims, norm=_NP_NORM[(sign, norm)]), x.dtype)


# ------------------------------------------------------------------------------- cuda
def _factor(n):
    """n1 for the four-step form of a length-n DFT (the largest divisor <= sqrt(n)), or None."""
    if n <= _DIRECT_MAX:
        return None
    for n1 in range(math.isqrt(n), 3, -1):
        if n % n1 == 0:
            return n1
    return None


def _tile(dtype, prec, n, C):
    """(BM, BN, BK, num_warps): rows of W, columns of X, and the reduction step, per dtype and path;
    each spill-free on sm_80 and sm_90 (``python -m ttorch.ops --compile 80,90 --only fft_c2c``)."""
    if prec == "fma":
        return 16, 16, 8, 4
    wide = C > 16
    if n <= 16:
        return 16, (64 if wide and dtype is D.float32 else 32 if wide else 16), 16, 4
    if dtype is D.float32:
        return (64, 64, 16, 8) if wide else (32, 16, 16, 4)
    return (32, 32, 16, 4) if wide else (32, 16, 16, 4)


def _dft(x, y, n, cols, xs, ys, sign, tw_n, norm, norm_n):
    """One launch: ``y = DFT_n(x)`` along rows of stride ``xs[3]``/``ys[3]``, over columns (a, b, q)
    of sizes ``cols`` and strides ``xs[:3]``/``ys[:3]`` (in elements of the real tensors)."""
    from .gemm import with_fp64_fallback
    from ._fft_kernels import _dft_kernel
    A, B, Q = cols
    C = A * B * Q

    def run(prec):
        bm, bn, bk, warps = _tile(x.dtype, prec, n, C)
        launch(_dft_kernel, (cdiv(C, bn), cdiv(n, bm)), x, y, n, C, B, Q, *xs, *ys, sign, tw_n, norm, norm_n,
               PREC=prec, BM=bm, BN=bn, BK=bk, num_warps=warps)
    with_fp64_fallback(run, x.dtype, "ieee")


def _c2c_dim_cuda(x, d, sign, norm):
    """The transform along dim ``d`` of a contiguous (..., 2) tensor, into a new contiguous one."""
    shape = x._shape[:-1]
    n = shape[d]
    P, Q = math.prod(shape[:d]), math.prod(shape[d + 1:])
    y = Tensor._empty(x._shape, x.dtype, x.device)
    row, whole = 2 * Q, 2 * Q * n        # strides of the transformed dim and of the dims before it
    if _bluestein_wins(n):
        return _bluestein(x, d, sign, norm)
    n1 = _factor(n)
    if n1 is None:
        s = (whole, 0, 2, row)
        _dft(x, y, n, (P, 1, Q), s, s, sign, 0, norm, n)
        return y
    # four-step, j = n2 j1 + j2 and k = k1 + n1 k2: t[k1, j2] = DFT_n1(x[n2 j1 + j2]) * w_n^(k1 j2), then
    # y[k1 + n1 k2] = DFT_n2(t[k1, :]); t is (P, n1, n2, Q) contiguous
    n2 = n // n1
    t = Tensor._empty(x._shape, x.dtype, x.device)
    s1 = (whole, row, 2, n2 * row)
    _dft(x, t, n1, (P, n2, Q), s1, s1, sign, n, 0, 1)
    _dft(t, y, n2, (P, n1, Q), (whole, n2 * row, 2, row), (whole, row, 2, n1 * row), sign, 0, norm, n)
    return y


# ------------------------------------------------------------------------------- Bluestein (chirp-z)
# With j k = (j^2 + k^2 - (k - j)^2) / 2, a length-n DFT is a convolution: X_k = c_k sum_j (x_j c_j) conj(c_{k-j}),
# c_j = exp(sign pi i j^2 / n). The convolution is circular of a power-of-two length m >= 2n - 1, run as
# two length-m transforms (the four-step path) and a product with the transform of the chirp (made once per
# length on the host, in float64). Three O(m sqrt(m)) passes where a large prime costs O(n^2).
_BLUESTEIN_MIN = 256      # below this the direct product is cheaper (its tile loop runs at GEMM speed)
_CHIRPS = {}


def _cost(n):
    """Complex multiply-adds per column of the one-level path (four-step, or the direct product)."""
    n1 = _factor(n)
    return n * n if n1 is None else n * (n1 + n // n1)


def _bluestein_wins(n):
    if n < _BLUESTEIN_MIN:
        return False
    m = 1 << (2 * n - 2).bit_length()
    return 4 * _cost(m) < _cost(n)        # (three transforms of length m, and the elementwise products)


def _chirps(n, m, sign, x):
    """(c, B): the chirp c_j (n, 2) and the length-m DFT of the wrapped conj(c) (m, 2), in x's dtype and device."""
    key = (n, sign, x.dtype, x.device)
    if key not in _CHIRPS:
        j = np.arange(n, dtype=np.int64)
        c = np.exp(sign * 1j * np.pi * ((j * j) % (2 * n)) / n)       # (j^2 mod 2n: the angle stays exact)
        b = np.zeros(m, np.complex128)
        b[:n] = c.conj()
        b[m - n + 1:] = c.conj()[1:][::-1]                               # b_{-j} = conj(c_j)
        pair = lambda z: Tensor._wrap_np(np.stack([z.real, z.imag], -1).astype(x.dtype.np)).to(x.device)
        if len(_CHIRPS) > 32:
            _CHIRPS.clear()
        _CHIRPS[key] = (pair(c), pair(np.fft.fft(b)))
    return _CHIRPS[key]


def _cmul(u, v):
    """The complex product of (..., 2) tensors (broadcast)."""
    from .movement import stack
    ur, ui, vr, vi = u[..., 0], u[..., 1], v[..., 0], v[..., 1]
    return stack([ur * vr - ui * vi, ur * vi + ui * vr], -1)


def _bluestein(x, d, sign, norm):
    """The transform along dim ``d`` of contiguous (..., 2) ``x`` by Bluestein's algorithm."""
    from ..autograd import grad_mode
    from .movement import cat
    shape = x._shape[:-1]
    n = shape[d]
    m = 1 << (2 * n - 2).bit_length()
    c, bf = _chirps(n, m, sign, x)
    along = (n,) + (1,) * (len(shape) - d - 1) + (2,)                   # c broadcast along dim d
    with grad_mode.no_grad():
        a = _cmul(x, c.reshape(along))
        pad = list(x._shape)
        pad[d] = m - n
        a = cat([a, x.new_zeros(pad)], d).contiguous()
        af = _c2c_dim_cuda(a, d, -1, 0)
        conv = _c2c_dim_cuda(_cmul(af, bf.reshape((m,) + along[1:])).contiguous(), d, 1, 2)
        y = _cmul(conv.narrow(d, 0, n), c.reshape(along))
        if norm:
            y = y * (1.0 / (math.sqrt(n) if norm == 1 else n))
        return y.contiguous()


def _c2c_cuda(x, *, dims, sign, norm):
    if x.numel() == 0 or not dims:
        return x.clone() if x.numel() else Tensor._empty(x._shape, x.dtype, x.device)
    y = x.contiguous()
    for d in dims:
        y = _c2c_dim_cuda(y, d, sign, norm)
    return y


def _c2c_bw(ctx, g):
    return _c2c(g, dims=ctx.dims, sign=-ctx.sign, norm=ctx.norm)


def _specs():
    from ._aot import KernelSpec, ptr
    from ._fft_kernels import _dft_kernel
    out = []
    for dt in (D.float32, D.float64):
        sig = dict(x_ptr=ptr(dt), y_ptr=ptr(dt), n="i32", C="i32", B="i32", Q="i32",
                   **{s: "i32" for s in ("sxa", "sxb", "sxq", "sxj", "sya", "syb", "syq", "syk")},
                   sign="i32", tw_n="i32", norm_mode="i32", norm_n="i32")
        for prec in ("ieee",) + (("fma",) if dt is D.float64 else ()):
            tiles = {_tile(dt, prec, n, C) for n in (16, 4096) for C in (16, 4096)}
            for bm, bn, bk, warps in sorted(tiles):
                out.append(KernelSpec(_dft_kernel, sig, dict(PREC=prec, BM=bm, BN=bn, BK=bk), num_warps=warps,
                                      label=f"dft {dt} {prec} {bm}x{bn}x{bk}"))
    return out


_c2c = Op("fft_c2c", cpu=_c2c_cpu, cuda=_c2c_cuda, backward=_c2c_bw, save=(), kernels=_specs, family="fft",
          grad_name="FftC2CBackward0")


# ------------------------------------------------------------------------------- composed transforms
def _conj(x):
    """The complex conjugate of a (..., 2) tensor."""
    return x * x.new_tensor([1.0, -1.0])


def _r2c(x, dims, sign, norm, onesided=True):
    """The transform of a real tensor ``x`` over ``dims`` as a (..., 2) tensor; ``onesided``: the last
    of ``dims`` keeps its n // 2 + 1 non-redundant bins. That dim goes first, so the others transform
    only the kept half (PyTorch's order; the values are the same either way)."""
    from .movement import stack
    z = stack([x, x.new_zeros(x.shape)], -1)
    d = dims[-1]
    z = _c2c(z, dims=(d,), sign=sign, norm=norm)
    if onesided:
        z = z.narrow(d, 0, x.shape[d] // 2 + 1)
    return _c2c(z, dims=tuple(dims[:-1]), sign=sign, norm=norm) if len(dims) > 1 else z


def _c2r(x, dims, n, sign, norm):
    """The real transform of length ``n`` along the last of ``dims`` of the onesided (..., 2) spectrum
    ``x`` (n // 2 + 1 bins there), after the complex ones along the others: the Hermitian extension
    X[n - k] = conj(X[k]) completed, transformed, its real part kept (which ignores the imaginary
    parts of the DC and Nyquist bins, as pocketfft and cuFFT do)."""
    from .movement import cat
    if len(dims) > 1:
        x = _c2c(x, dims=tuple(dims[:-1]), sign=sign, norm=norm)
    d = dims[-1]
    mirror = _conj(x.narrow(d, 1, (n - 1) // 2).flip(d))
    full = cat([x, mirror], d)                          # (..., n, ..., 2)
    return _c2c(full, dims=(d,), sign=sign, norm=norm)[..., 0]
