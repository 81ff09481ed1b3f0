"""The Triton kernel of ``fft.py``: a discrete Fourier transform along one dim of a complex tensor held
as interleaved (re, im) floats, computed as a tiled complex GEMM ``Y = W @ X`` whose DFT matrix ``W`` is
generated in the kernel, never stored.

``W[k, j] = exp(sign * 2 pi i * (j k mod n) / n)``: the product ``j k`` is reduced modulo ``n`` in
integers first, so the angle stays exact for any ``n`` (a float ``2 pi j k / n`` loses the phase once
``j k`` passes 2^24), then taken to [-n/2, n/2] and evaluated with ``cospi``/``sinpi``, whose argument
in [-1, 1] carries no multiple of pi to round. Products are ``tl.dot(..., input_precision="ieee")``:
TF32 keeps 10 mantissa bits, far from NumPy's FFT.

One kernel serves the direct O(n^2) transform and every pass of the multi-pass (Stockham, mixed-radix)
plans of ``fft.py``: the columns of ``X`` (every index but the transformed one) are
addressed as (a, b, q) with their own strides on input and output, so a pass can read a strided
sub-sequence and write a transposed result, and each pass but the last multiplies by the twiddle factors
``exp(sign * 2 pi i * k b / tw_n)`` in its epilogue.
"""
import triton
import triton.language as tl
from triton.language.extra import libdevice


@triton.jit
def _unit(m, n, nf, sign):
    """``exp(sign * 2 pi i m / n)`` for integers 0 <= m < n, as (cos, sin) in the type of ``nf``
    (``n`` as a float32 or float64)."""
    half = tl.where(m + m > n, m - n, m)                 # (-n/2, n/2]: the angle within (-pi, pi]
    t = (half + half).to(nf.dtype) / nf                   # angle / pi, in [-1, 1]
    return libdevice.cospi(t), libdevice.sinpi(t) * sign


@triton.jit
def _mma(a, b, acc, PREC: tl.constexpr):
    if PREC == "fma":       # float64 on Tritons whose tl.dot has no fp64 (3.6): broadcast products
        acc += tl.sum(a[:, :, None] * b[None, :, :], axis=1)
    else:
        acc = tl.dot(a, b, acc, input_precision=PREC)
    return acc


@triton.jit
def _dft_kernel(x_ptr, y_ptr, n, C, B, Q, sxa, sxb, sxq, sxj, sya, syb, syq, syk, sign, tw_n, norm_mode,
                norm_n, PREC: tl.constexpr, BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr):
    # y[k, c] = s * sum_j W[k, j] x[j, c] (* twiddle[k, c]); program (column block, row block): columns
    # on grid axis 0, whose limit (2^31 - 1) a large batch needs, rows (n / BM <= 65535) on axis 1
    acc_t = x_ptr.dtype.element_ty
    c = tl.program_id(0) * BN + tl.arange(0, BN)
    k = tl.program_id(1) * BM + tl.arange(0, BM)
    q = c % Q
    t = c // Q
    b = t % B
    a = t // B
    xcol = a.to(tl.int64) * sxa + b.to(tl.int64) * sxb + q.to(tl.int64) * sxq      # (BN,)
    cmask = c < C
    nf = tl.cast(n, acc_t)      # (tl.cast: an int argument equal to 1 arrives as a constexpr)
    k64 = k.to(tl.int64)
    acc_re = tl.zeros((BM, BN), acc_t)
    acc_im = tl.zeros((BM, BN), acc_t)
    for j0 in range(0, n, BK):
        j = j0 + tl.arange(0, BK)
        wr, wi = _unit((k64[:, None] * j[None, :]) % n, n, nf, sign)                     # (BM, BK)
        ptrs = x_ptr + xcol[None, :] + j.to(tl.int64)[:, None] * sxj                 # (BK, BN)
        m = (j[:, None] < n) & cmask[None, :]
        xr = tl.load(ptrs, mask=m, other=0.0)
        xi = tl.load(ptrs + 1, mask=m, other=0.0)
        acc_re = _mma(wr, xr, acc_re, PREC)
        acc_re = _mma(-wi, xi, acc_re, PREC)
        acc_im = _mma(wr, xi, acc_im, PREC)
        acc_im = _mma(wi, xr, acc_im, PREC)
    if tw_n > 0:            # a pass's twiddle factors, exp(sign 2 pi i k b / tw_n)
        tr, ti = _unit((k64[:, None] * b[None, :]) % tw_n, tw_n, tl.cast(tw_n, acc_t), sign)
        acc_re, acc_im = acc_re * tr - acc_im * ti, acc_re * ti + acc_im * tr
    if norm_mode == 1:      # "ortho"
        s = 1.0 / tl.sqrt(tl.cast(norm_n, acc_t))
        acc_re, acc_im = acc_re * s, acc_im * s
    elif norm_mode == 2:    # 1/n
        s = 1.0 / tl.cast(norm_n, acc_t)
        acc_re, acc_im = acc_re * s, acc_im * s
    ycol = a.to(tl.int64) * sya + b.to(tl.int64) * syb + q.to(tl.int64) * syq
    out = y_ptr + ycol[None, :] + k64[:, None] * syk
    m = (k[:, None] < n) & cmask[None, :]
    tl.store(out, acc_re.to(y_ptr.dtype.element_ty), mask=m)
    tl.store(out + 1, acc_im.to(y_ptr.dtype.element_ty), mask=m)


@triton.jit
def _untangle_kernel(x_ptr, y_ptr, h, L_in, L_out, Q, total, sign, norm_mode, norm_n, halve,
                     INVERSE: tl.constexpr, EDGES: tl.constexpr, BLOCK: tl.constexpr):
    # the real transforms' twiddle pass on (P, L, Q, 2) tensors, output k of L_out along L, n = 2h,
    # w = exp(sign 2 pi i / n), s the norm mode's scale of norm_n (halved when halve):
    # r2c (INVERSE False): y_k = s ((u + r) - i w^k (u - r)), u = x[k mod h], r = conj x[(h - k) mod h], k <= h;
    # c2r (INVERSE True):  y_k = s ((u + r) + i w^k (u - r)), u = x[k], r = conj x[h - k], k < h, with the
    # imaginary parts of x[0] and x[h] taken as zero when EDGES
    acc_t = x_ptr.dtype.element_ty
    scale = tl.cast(1.0, acc_t)
    if norm_mode == 1:
        scale = 1.0 / tl.sqrt(tl.cast(norm_n, acc_t))
    elif norm_mode == 2:
        scale = 1.0 / tl.cast(norm_n, acc_t)
    if halve != 0:
        scale = scale * 0.5
    e = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)      # (p, k, q) flat, over the output
    m = e < total
    q = e % Q
    t = e // Q
    k = t % L_out
    p = t // L_out
    j = k % L_in
    jm = (h - k) % L_in
    base = p * L_in * Q + q
    u_ptr = x_ptr + 2 * (base + j * Q)
    r_ptr = x_ptr + 2 * (base + jm * Q)
    ur = tl.load(u_ptr, mask=m, other=0.0)
    ui = tl.load(u_ptr + 1, mask=m, other=0.0)
    rr = tl.load(r_ptr, mask=m, other=0.0)
    ri = -tl.load(r_ptr + 1, mask=m, other=0.0)
    if EDGES:
        ui = tl.where((j == 0) | (j == h), 0.0, ui)
        ri = tl.where((jm == 0) | (jm == h), 0.0, ri)
    wr, wi = _unit(k, h + h, tl.cast(h + h, acc_t), sign)
    if not INVERSE:
        wr, wi = -wr, -wi
    ar, ai = ur + rr, ui + ri           # u + r
    dr, di = ur - rr, ui - ri           # u - r
    pr, pi = wr * dr - wi * di, wr * di + wi * dr       # w^k (u - r), then times i: (-pi, pr)
    y = y_ptr + 2 * e
    tl.store(y, ((ar - pi) * scale).to(y_ptr.dtype.element_ty), mask=m)
    tl.store(y + 1, ((ai + pr) * scale).to(y_ptr.dtype.element_ty), mask=m)
