"""The cuda FFT's plans (ttorch/ops/_fft_plan.py) and the half-length real transforms, on the simulated cuda
against numpy.fft: the planner on the host (radices multiply to n, each within the radix limit unless a
Bluestein pass or a prime's direct pass, Bluestein for large primes only), every plan shape (powers of two,
mixed radices, a direct prime, whole-length and last-pass Bluestein), batched, strided and middle-dim
transforms, every norm, the packed rfft/irfft (odd lengths keep the complex path) and their gradients."""
import math

import numpy as np
import pytest

import ttorch
from ttorch.autograd import gradcheck
from ttorch.ops import _fft_plan as P

from test_fft import host

NORMS = (None, "ortho", "forward")


def cplx(shape, seed=0):
    r = np.random.default_rng(seed)
    return r.standard_normal(shape) + 1j * r.standard_normal(shape)


def close(actual, expected, dtype):
    """float64 within 1e-12 and float32 within 1e-5 of the largest bin."""
    a = host(actual)
    assert a.shape == expected.shape
    tol = 1e-5 if dtype in (ttorch.float32, ttorch.complex64) else 1e-12
    assert np.abs(a - expected).max() <= tol * max(1.0, np.abs(expected).max())


# ------------------------------------------------------------------------------- the planner (host)
def test_plans_are_factorizations():
    for n in list(range(1, 400)) + [1155, 2 * 1031, 4093, 8191, 64 * 1031, 1 << 20, 2 ** 31 - 1]:
        passes = P.plan(n)[1]
        assert math.prod(r for _, r in passes) == n
        for i, (kind, r) in enumerate(passes):
            assert kind in ("dft", "bluestein")
            if kind == "bluestein":
                assert i == len(passes) - 1 and r > P.RADIX_MAX and max(P._primes(r)) > 7
            elif r > P.RADIX_MAX:       # a direct pass past the limit: the whole length, or a prime factor
                assert len(passes) == 1 or P._primes(r) == [r]


def test_cost_model_choices():
    kinds = lambda n: [k for k, _ in P.plan(n)[1]]
    radices = lambda n: [r for _, r in P.plan(n)[1]]
    for n in (887, 1031, 4093, 8191, 2 ** 31 - 1):             # large primes: Bluestein
        assert kinds(n) == ["bluestein"]
    assert P.plan(64 * 1031)[1] == (("dft", 64), ("bluestein", 1031))
    assert P.plan(67)[1] == (("dft", 67),)                       # a small prime: the direct product is cheaper
    for n in (128, 1024, 4096, 1 << 16, 1 << 20, 3 * 5 * 7 * 11, 2 ** 10 * 3 ** 5):
        assert "bluestein" not in kinds(n) and max(radices(n)) <= P.RADIX_MAX
    assert len(radices(1 << 20)) == 5 and P.macs(1 << 20) == 80 * (1 << 20)   # one level was 2048 n
    for n in (5, 67, 1031, 4093, 8191):     # the convolution length: 7-smooth, >= 2n - 1, <= the power of two
        m = P.bluestein_length(n)
        assert 2 * n - 1 <= m <= 1 << (2 * n - 2).bit_length() and max(P._primes(m)) <= 7


# ------------------------------------------------------------------------------- c2c on every plan shape
@pytest.mark.parametrize("n", [128, 512, 4096, 3 * 5 * 7 * 11, 67, 2 * 1031, 4093])
def test_c2c_plans_match_numpy(n):
    z = cplx((n,), n)
    for dtype in (ttorch.complex128, ttorch.complex64):
        x = ttorch.tensor(z, dtype=dtype, device="cuda")
        ref = z.astype(np.complex64).astype(np.complex128) if dtype is ttorch.complex64 else z
        close(ttorch.fft.fft(x), np.fft.fft(ref), dtype)
    close(ttorch.fft.ifft(ttorch.tensor(z, device="cuda"), norm="ortho"), np.fft.ifft(z, norm="ortho"),
          ttorch.complex128)


@pytest.mark.parametrize("forced", [(("dft", 3), ("bluestein", 67)), (("dft", 10), ("bluestein", 7)),
                                    (("dft", 4), ("dft", 5), ("dft", 3))])
def test_forced_plans_batched_strided_middle_dim(monkeypatch, forced):
    # a Bluestein pass after twiddled radix passes (64 * 1031's plan shape: too slow for the interpreter at
    # full size), on a (2, n, 3) input transformed along its middle dim,
    # and a strided (transposed) input; every sign and norm
    n = math.prod(r for _, r in forced)
    real = P.plan
    monkeypatch.setattr(P, "plan", lambda k: (0.0, forced) if k == n else real(k))
    z = cplx((2, n, 3), 1)
    x = ttorch.tensor(z, device="cuda")
    for norm in NORMS:
        close(ttorch.fft.fft(x, dim=1, norm=norm), np.fft.fft(z, axis=1, norm=norm), ttorch.complex128)
    close(ttorch.fft.ifft(x, dim=1), np.fft.ifft(z, axis=1), ttorch.complex128)
    xt = ttorch.tensor(z.transpose(0, 2, 1).copy(), device="cuda").transpose(1, 2)        # strides (3n, 1, n)
    close(ttorch.fft.fft(xt, dim=1), np.fft.fft(z, axis=1), ttorch.complex128)


# ------------------------------------------------------------------------------- real transforms
@pytest.mark.parametrize("n", [1, 2, 5, 12, 64])
def test_rfft_irfft_match_numpy(n):
    r = np.random.default_rng(n).standard_normal((2, n, 3))
    for dtype in (ttorch.float64, ttorch.float32):
        x = ttorch.tensor(r, dtype=dtype, device="cuda")
        ref = r.astype(np.float32).astype(np.float64) if dtype is ttorch.float32 else r
        norms = NORMS if dtype is ttorch.float64 else (None,)
        for norm in norms:
            close(ttorch.fft.rfft(x, dim=1, norm=norm), np.fft.rfft(ref, axis=1, norm=norm), dtype)
            close(ttorch.fft.fft(x, dim=1, norm=norm), np.fft.fft(ref, axis=1, norm=norm), dtype)
            close(ttorch.fft.ihfft(x, dim=1, norm=norm), np.fft.ihfft(ref, axis=1, norm=norm), dtype)
        # c2r ignores the imaginary parts of the DC and Nyquist bins, as pocketfft does
        sp = np.fft.rfft(ref, axis=1) + 0.25j
        for m in (n, n + 1):
            s = ttorch.tensor(sp, dtype=ttorch.complex128 if dtype is ttorch.float64 else ttorch.complex64,
                              device="cuda")
            spr = sp.astype(np.complex64).astype(np.complex128) if dtype is ttorch.float32 else sp
            for norm in norms:
                close(ttorch.fft.irfft(s, n=m, dim=1, norm=norm), np.fft.irfft(spr, n=m, axis=1, norm=norm), dtype)
            close(ttorch.fft.hfft(s, n=m, dim=1), np.fft.hfft(spr, n=m, axis=1), dtype)


def test_rfftn_irfftn_and_large_even_float32():
    r = np.random.default_rng(3).standard_normal((3, 4, 6))
    x = ttorch.tensor(r, device="cuda")
    close(ttorch.fft.rfftn(x), np.fft.rfftn(r), ttorch.float64)
    close(ttorch.fft.irfftn(ttorch.fft.rfftn(x), s=r.shape), r, ttorch.float64)
    close(ttorch.fft.rfft2(x, s=(5, 8)), np.fft.rfft2(r, s=(5, 8)), ttorch.float64)
    r = np.random.default_rng(4).standard_normal(4096).astype(np.float32)
    close(ttorch.fft.rfft(ttorch.tensor(r, device="cuda")), np.fft.rfft(r.astype(np.float64)), ttorch.float32)


def test_real_transform_gradients():
    # the packed paths (even n) and an odd one; the backward is composed of the transforms themselves
    g = np.random.default_rng(5)
    x = ttorch.tensor(g.standard_normal(4), device="cuda", requires_grad=True)
    for fn in (lambda t: ttorch.fft.rfft(t, norm="ortho"), lambda t: ttorch.fft.fft(t),
               lambda t: ttorch.fft.rfft(t, n=3)):
        assert gradcheck(fn, (x,), eps=1e-6, atol=1e-6)
    s = ttorch.tensor(g.standard_normal(3) + 1j * g.standard_normal(3), device="cuda", requires_grad=True)
    for fn in (lambda t: ttorch.fft.irfft(t), lambda t: ttorch.fft.irfft(t, n=5, norm="forward")):
        assert gradcheck(fn, (s,), eps=1e-6, atol=1e-6)


@pytest.mark.parametrize("inverse,edges", [(False, False), (True, True), (True, False)])
def test_untangle_pass_parity_and_adjoint(inverse, edges):
    # the r2c/c2r twiddle pass (fft_untangle): NumPy fallback == kernel, and its backward (the adjoint) by gradcheck
    from ttorch.ops import fft as F
    g = np.random.default_rng(8)
    for h, norm in ((1, 0), (3, 1), (4, 2)):
        r = g.standard_normal((2, h + 1 if inverse else h, 3, 2))
        kw = dict(h=h, sign=1 if h == 3 else -1, norm=norm, norm_n=2 * h, halve=not inverse, inverse=inverse,
                  edges=edges)
        a = F._untangle(ttorch.tensor(r), **kw).numpy()
        b = F._untangle(ttorch.tensor(r, device="cuda"), **kw).cpu().numpy()
        assert a.shape == (2, h if inverse else h + 1, 3, 2) and np.abs(a - b).max() < 1e-14
        x = ttorch.tensor(r[:1, :, :1], device="cuda", requires_grad=True)
        assert gradcheck(lambda t: F._untangle(t, **kw), (x,), eps=1e-6, atol=1e-8)
