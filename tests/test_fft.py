"""ttorch.fft against numpy.fft (float64 references), on cpu and the simulated cuda: the real-layout primitive
(direct and multi-pass plans, every norm and sign), the public transforms with n/s padding and trimming,
dims, non-contiguous inputs, result dtypes, PyTorch's errors, gradients (gradcheck and gradgradcheck in
float64) and the frequency helpers."""
import numpy as np
import pytest

import ttorch
from ttorch.autograd import gradcheck, gradgradcheck
from ttorch.ops import fft as F

NP_NORM = F._NP_NORM


def cplx(shape, seed=0):
    r = np.random.default_rng(seed)
    return r.standard_normal(shape) + 1j * r.standard_normal(shape)


def as_real(z):
    return np.stack([z.real, z.imag], -1)


def host(t):
    """A ttorch result as a NumPy array (complex for complex tensors)."""
    t = t.detach().cpu()
    if t.dtype.is_complex:
        r = ttorch.view_as_real(t).numpy()
        return r[..., 0] + 1j * r[..., 1]
    return t.numpy()


def check(actual, expected, dtype):
    a = host(actual)
    assert a.shape == expected.shape
    scale = max(1.0, float(np.abs(expected).max(initial=0)))
    tol = 2e-6 if dtype in (ttorch.float32, ttorch.complex64) else 1e-12
    np.testing.assert_allclose(a, expected, rtol=0, atol=tol * scale)


# ------------------------------------------------------------------------------- the primitive op
@pytest.mark.parametrize("dtype", [ttorch.float32, ttorch.float64])
@pytest.mark.parametrize("shape,dims", [((1,), (0,)), ((7,), (0,)), ((3, 13), (1,)), ((3, 5), (0, 1)),
                                        ((2, 3, 4), (1,)), ((144,), (0,)), ((2, 96, 3), (1,)), ((67,), (0,))])
def test_c2c_matches_numpy(device, dtype, shape, dims):
    # 144 = 12 * 12 and 96 = 8 * 12 take two passes on cuda (twiddles, a transposed second pass);
    # 67, a prime past the radix limit, the direct product
    z = cplx(shape)
    x = ttorch.tensor(as_real(z), dtype=dtype, device=device)
    for sign in (-1, 1):
        for norm in (0, 1, 2):
            y = F._c2c(x, dims=dims, sign=sign, norm=norm)
            assert y.dtype is dtype and y.shape == x.shape
            ref = (np.fft.fftn if sign < 0 else np.fft.ifftn)(z, axes=dims, norm=NP_NORM[(sign, norm)])
            r = y.cpu().numpy()
            check(ttorch.view_as_complex(ttorch.tensor(np.ascontiguousarray(r))), ref, dtype)


def test_c2c_long_and_noncontiguous(device):
    # n = 4096 (three radix-16 passes) in float32: within ~1e-6 of float64 numpy relative to the largest bin
    z = cplx((4096,), 1)
    y = F._c2c(ttorch.tensor(as_real(z), dtype=ttorch.float32, device=device), dims=(0,), sign=-1, norm=0)
    r = y.cpu().numpy()
    ref = np.fft.fft(z)
    assert np.abs(r[..., 0] + 1j * r[..., 1] - ref).max() / np.abs(ref).max() < 1e-6
    # a transposed, non-contiguous input
    z = cplx((5, 6), 2)
    x = ttorch.tensor(as_real(z.T.copy()), device=device).transpose(0, 1)
    y = F._c2c(x, dims=(0,), sign=-1, norm=1).cpu().numpy()
    np.testing.assert_allclose(y[..., 0] + 1j * y[..., 1], np.fft.fft(z, axis=0, norm="ortho"), atol=1e-12)


# ------------------------------------------------------------------------------- Bluestein (cuda)
def test_bluestein_choice():
    # large primes and large prime factors go through Bluestein; powers of two, smooth and small lengths don't
    # (the planner's own tests: test_fft_plans.py)
    blue = lambda n: any(k == "bluestein" for k, _ in F._fft_plan.plan(n)[1])
    assert blue(8191) and blue(2 * 4099) and blue(4093)
    assert not any(blue(n) for n in (7, 67, 257, 4096, 1000, 16384, 3 * 4096))


@pytest.mark.parametrize("dtype", [ttorch.float32, ttorch.float64])
@pytest.mark.parametrize("shape,dims", [((7,), (0,)), ((5, 3), (0,)), ((2, 67), (1,)), ((3, 5), (0, 1))])
def test_bluestein_matches_numpy(monkeypatch, dtype, shape, dims):
    # forced for 5, 7 and 67 (not for the 7-smooth lengths of the convolution's own transforms), small shapes
    real = F._fft_plan.plan
    monkeypatch.setattr(F._fft_plan, "plan", lambda n: (0.0, (("bluestein", n),)) if n in (5, 7, 67) else real(n))
    z = cplx(shape, 3)
    x = ttorch.tensor(as_real(z), dtype=dtype, device="cuda")
    for sign in (-1, 1):
        for norm in (0, 1, 2):
            y = F._c2c(x, dims=dims, sign=sign, norm=norm)
            ref = (np.fft.fftn if sign < 0 else np.fft.ifftn)(z, axes=dims, norm=NP_NORM[(sign, norm)])
            check(ttorch.view_as_complex(y.cpu().contiguous()), ref, dtype)
    if dtype is ttorch.float64 and shape == (7,):      # (one small gradcheck: each column runs the interpreter)
        assert gradcheck(lambda t: F._c2c(t, dims=dims, sign=-1, norm=1), (x.requires_grad_(),), eps=1e-6, atol=1e-6)


def test_bluestein_large_prime_float32():
    # n = 8191 (prime): O(n^2) = 67M products per row directly; Bluestein's m = 16384 takes three
    # passes. float32 within 1e-5 of float64 numpy relative to the largest bin (seen: ~3e-7)
    z = cplx((8191,), 4)
    y = ttorch.fft.fft(ttorch.tensor(z.astype(np.complex64), device="cuda"))
    ref = np.fft.fft(z.astype(np.complex64).astype(np.complex128))
    assert np.abs(host(y) - ref).max() / np.abs(ref).max() < 1e-5
    r = np.random.default_rng(5).standard_normal(2 * 4099).astype(np.float32)     # a large prime factor, rfft
    y = ttorch.fft.rfft(ttorch.tensor(r, device="cuda"))
    ref = np.fft.rfft(r.astype(np.float64))
    assert np.abs(host(y) - ref).max() / np.abs(ref).max() < 1e-5


# ------------------------------------------------------------------------------- public transforms
@pytest.mark.parametrize("norm", [None, "ortho", "forward"])
def test_one_dim_transforms(device, norm):
    x = np.random.default_rng(3).standard_normal((4, 6))
    z = cplx((5, 4), 4)
    X = ttorch.tensor(x, device=device)
    Z = ttorch.tensor(z, device=device)
    nn = norm or "backward"
    for n in (None, 4, 9):
        check(ttorch.fft.fft(X, n=n, dim=0, norm=norm), np.fft.fft(x, n=n, axis=0, norm=nn), ttorch.float64)
        check(ttorch.fft.ifft(Z, n=n, norm=norm), np.fft.ifft(z, n=n, norm=nn), ttorch.float64)
        check(ttorch.fft.rfft(X, n=n, norm=norm), np.fft.rfft(x, n=n, norm=nn), ttorch.float64)
        check(ttorch.fft.ihfft(X, n=n, dim=0, norm=norm), np.fft.ihfft(x, n=n, axis=0, norm=nn), ttorch.float64)
        check(ttorch.fft.irfft(Z, n=n, dim=0, norm=norm), np.fft.irfft(z, n=n, axis=0, norm=nn), ttorch.float64)
        check(ttorch.fft.hfft(Z, n=n, norm=norm), np.fft.hfft(z, n=n, norm=nn), ttorch.float64)


@pytest.mark.parametrize("s,dim", [(None, None), ((3, 7), None), ((2, -1), (0, 2)), (None, (2, 0))])
def test_n_dim_transforms(device, s, dim):
    x = np.random.default_rng(5).standard_normal((3, 5, 4))
    z = cplx((3, 5, 4), 6)
    X, Z = ttorch.tensor(x, device=device), ttorch.tensor(z, device=device)
    axes = dim if dim is not None else (None if s is None else tuple(range(3 - len(s), 3)))
    ns = None if s is None else [x.shape[a] if k == -1 else k for a, k in zip(axes, s)]
    check(ttorch.fft.fftn(Z, s=s, dim=dim), np.fft.fftn(z, s=ns, axes=axes), ttorch.float64)
    check(ttorch.fft.ifftn(X, s=s, dim=dim, norm="ortho"), np.fft.ifftn(x, s=ns, axes=axes, norm="ortho"),
          ttorch.float64)
    check(ttorch.fft.rfftn(X, s=s, dim=dim), np.fft.rfftn(x, s=ns, axes=axes), ttorch.float64)
    if s is not None and -1 not in s:       # numpy's irfftn takes s[-1] as the output size, as PyTorch's
        check(ttorch.fft.irfftn(Z, s=s, dim=dim, norm="forward"), np.fft.irfftn(z, s=ns, axes=axes, norm="forward"),
              ttorch.float64)
    elif s is None:
        check(ttorch.fft.irfftn(Z, dim=dim), np.fft.irfftn(z, axes=axes), ttorch.float64)
    # hfftn is irfftn of the conjugate, unscaled (PyTorch's definition)
    ref = np.fft.irfftn(np.conj(z), axes=axes if axes is not None else range(3), norm="forward")
    if s is None:
        check(ttorch.fft.hfftn(Z, dim=dim), ref, ttorch.float64)
        check(ttorch.fft.ihfftn(X, dim=dim), np.conj(np.fft.rfftn(x, axes=axes, norm="forward")), ttorch.float64)


def test_two_dim_defaults(device):
    x = np.random.default_rng(7).standard_normal((2, 3, 6))
    X = ttorch.tensor(x, device=device)
    check(ttorch.fft.fft2(X), np.fft.fft2(x), ttorch.float64)
    check(ttorch.fft.ifft2(X, s=(4, 4)), np.fft.ifft2(x, s=(4, 4)), ttorch.float64)
    check(ttorch.fft.rfft2(X), np.fft.rfft2(x), ttorch.float64)
    R = ttorch.fft.rfft2(X)
    check(ttorch.fft.irfft2(R, s=(3, 6)), x, ttorch.float64)
    check(ttorch.fft.hfft2(ttorch.fft.ihfft2(X), s=(3, 6)), x, ttorch.float64)


def test_dtypes_and_layouts(device):
    x = np.random.default_rng(8).standard_normal((4, 5))
    r32 = ttorch.fft.fft(ttorch.tensor(x, dtype=ttorch.float32, device=device))
    assert r32.dtype is ttorch.complex64
    check(r32, np.fft.fft(x), ttorch.float32)
    assert ttorch.fft.rfft(ttorch.tensor(x, device=device)).dtype is ttorch.complex128
    assert ttorch.fft.irfft(ttorch.tensor(x, dtype=ttorch.complex64, device=device)).dtype is ttorch.float32
    ints = ttorch.fft.fft(ttorch.arange(5, device=device))
    assert ints.dtype is ttorch.complex64
    check(ints, np.fft.fft(np.arange(5.0)), ttorch.float32)
    # non-contiguous real and complex inputs
    check(ttorch.fft.fft(ttorch.tensor(x, device=device).t(), dim=1), np.fft.fft(x.T, axis=1), ttorch.float64)
    z = cplx((4, 6), 9)
    Zt = ttorch.tensor(z, device=device).t()[:, ::2]
    check(ttorch.fft.irfft(Zt, dim=0), np.fft.irfft(z.T[:, ::2], axis=0), ttorch.float64)
    # 0-d under fftn (no dims: a complex copy), empty batch
    assert host(ttorch.fft.fftn(ttorch.tensor(2.0, device=device))) == 2
    assert ttorch.fft.fft(ttorch.zeros(0, 4, device=device)).shape == (0, 4)


def test_errors():
    x = ttorch.randn(4, 6)
    cases = [(lambda: ttorch.fft.fft(x, n=0), RuntimeError, r"Invalid number of data points \(0\) specified"),
             (lambda: ttorch.fft.fft(x, dim=2), IndexError, r"expected to be in range of \[-2, 1\], but got 2"),
             (lambda: ttorch.fft.fft(ttorch.tensor(1.0)), IndexError, "Dimension specified as -1 but tensor has no"),
             (lambda: ttorch.fft.fft(x, norm="foo"), RuntimeError, 'Invalid normalization mode: "foo"'),
             (lambda: ttorch.fft.fft(x.half()), RuntimeError, "Unsupported dtype Half"),
             (lambda: ttorch.fft.rfft(x.to(ttorch.bfloat16)), RuntimeError, "Unsupported dtype BFloat16"),
             (lambda: ttorch.fft.rfft(ttorch.fft.fft(x)), RuntimeError, "rfft expects a real input tensor, but got "
                                                                        "ComplexFloat"),
             (lambda: ttorch.fft.rfftn(ttorch.fft.fft(x)), RuntimeError, "rfftn expects a real-valued input"),
             (lambda: ttorch.fft.ihfft2(ttorch.fft.fft(x)), RuntimeError, "Only supports floating-point dtypes"),
             (lambda: ttorch.fft.irfft(ttorch.fft.fft(x)[:, :1]), RuntimeError, r"Invalid number of data points \(0"),
             (lambda: ttorch.fft.fftn(x, s=(1, 2, 3)), RuntimeError, "Got shape with 3 values but input tensor only"),
             (lambda: ttorch.fft.fftn(x, s=(1, 2), dim=(0,)), RuntimeError, "dim and shape arguments must have"),
             (lambda: ttorch.fft.fftn(x, dim=(0, -2)), RuntimeError, "FFT dims must be unique"),
             (lambda: ttorch.fft.rfftn(x, dim=()), RuntimeError, "rfftn must transform at least one axis"),
             (lambda: ttorch.fft.fft(x, out=ttorch.empty(0)), RuntimeError, "fft expects a complex output tensor, but "
                                                                            "got Float"),
             (lambda: ttorch.fft.fftfreq(5, dtype=ttorch.int64), RuntimeError, "requires a floating point or complex"),
             (lambda: ttorch.fft.fftfreq(5.0), TypeError, "argument 'n' \\(position 1\\) must be int, not float"),
             (lambda: ttorch.fft.fftshift(x, dim=()), RuntimeError, "`shifts` required")]
    for f, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            f()


def test_out(device):
    x = ttorch.tensor([1.0, 2.0, 4.0], device=device)
    out = ttorch.empty(0, dtype=ttorch.complex128, device=device)
    r = ttorch.fft.fft(x, out=out)
    assert r is out and out.dtype is ttorch.complex128
    check(out, np.fft.fft([1.0, 2.0, 4.0]), ttorch.float32)      # (a complex64 result, widened)
    o2 = ttorch.empty(4, device=device)
    ttorch.fft.irfft(ttorch.fft.rfft(x, n=4), out=o2)
    check(o2, np.array([1.0, 2.0, 4.0, 0.0]), ttorch.float32)


# ------------------------------------------------------------------------------- gradients
def _through_complex(fn, complex_in):
    """``fn`` as a map of real tensors: a complex input given as (..., 2), a complex output returned so."""
    def f(x):
        y = fn(ttorch.view_as_complex(x) if complex_in else x)
        return ttorch.view_as_real(y) if y.dtype.is_complex else y
    return f


GRAD_CASES = [("fft", lambda x: ttorch.fft.fft(x, n=6, norm="ortho"), True, (5,)),
              ("fft real", lambda x: ttorch.fft.fft(x, n=4), False, (5,)),
              ("ifftn", lambda x: ttorch.fft.ifftn(x, s=(3, 4)), True, (2, 5)),
              ("rfft", lambda x: ttorch.fft.rfft(x), False, (6,)),
              ("rfftn", lambda x: ttorch.fft.rfftn(x, norm="forward"), False, (3, 5)),
              ("irfft", lambda x: ttorch.fft.irfft(x), True, (4,)),
              ("irfft odd n", lambda x: ttorch.fft.irfft(x, n=7), True, (5,)),
              ("irfftn", lambda x: ttorch.fft.irfftn(x, s=(2, 5)), True, (3, 4)),
              ("hfft", lambda x: ttorch.fft.hfft(x, n=5, norm="ortho"), True, (4,)),
              ("ihfft", lambda x: ttorch.fft.ihfft(x), False, (5,)),
              ("hfft2", lambda x: ttorch.fft.hfft2(x), True, (2, 3)),
              ("fftshift", lambda x: ttorch.fft.fftshift(x), False, (3, 4))]


# every case on cpu; on the (slow) simulated cuda those that reach each kernel path: the ops composed around
# the kernel are the same on both devices
_ON = [("cpu",) + c for c in GRAD_CASES]
if ttorch.cuda.is_available():
    _ON += [("cuda",) + c for c in GRAD_CASES if c[0] in ("fft", "irfft", "rfft", "hfft2")]


@pytest.mark.parametrize("device,name,fn,complex_in,shape", _ON, ids=[f"{c[0]}-{c[1]}" for c in _ON])
def test_gradients(device, name, fn, complex_in, shape):
    r = np.random.default_rng(10).standard_normal(shape + ((2,) if complex_in else ()))
    x = ttorch.tensor(r, dtype=ttorch.float64, device=device, requires_grad=True)
    f = _through_complex(fn, complex_in)
    assert gradcheck(f, (x,))
    if device == "cpu" or name == "irfft":      # (second order: the interpreter is slow)
        assert gradgradcheck(f, (x,))


def test_c2r_gradient_of_half_spectrum(device):
    # irfft ignores Im X[0] and Im X[n/2] (gradient 0) and counts each interior bin twice: PyTorch's
    # rfft(g) with bins 1..(n-1)//2 doubled
    n = 6
    g = np.random.default_rng(11).standard_normal(n)
    X = ttorch.tensor(cplx((4,), 12), device=device, requires_grad=True)
    (ttorch.fft.irfft(X) * ttorch.tensor(g, device=device)).sum().backward()
    ref = np.fft.rfft(g) / n
    ref[1:3] *= 2
    check(X.grad, ref, ttorch.float64)
    assert abs(host(X.grad)[0].imag) < 1e-15 and abs(host(X.grad)[3].imag) < 1e-15


# ------------------------------------------------------------------------------- helpers
def test_frequencies_and_shifts(device):
    assert ttorch.fft.fftfreq(0, device=device).shape == (0,) and ttorch.fft.rfftfreq(0).shape == (1,)
    for n in (1, 4, 5):
        for d in (1.0, 0.1):
            f = ttorch.fft.fftfreq(n, d, device=device)
            assert f.dtype is ttorch.float32 and f.device.type == device
            np.testing.assert_allclose(f.cpu().numpy(), np.fft.fftfreq(n, d), rtol=1e-6)
            np.testing.assert_allclose(ttorch.fft.rfftfreq(n, d, dtype=ttorch.float64).numpy(), np.fft.rfftfreq(n, d),
                                       rtol=1e-15)
    assert ttorch.fft.fftfreq(4, requires_grad=True).requires_grad
    a = np.arange(15).reshape(3, 5)
    A = ttorch.tensor(a, device=device)
    for dim in (None, 0, (0, 1), -1):
        axes = dim if dim is not None else None
        np.testing.assert_array_equal(ttorch.fft.fftshift(A, dim).cpu().numpy(), np.fft.fftshift(a, axes))
        np.testing.assert_array_equal(ttorch.fft.ifftshift(A, dim).cpu().numpy(), np.fft.ifftshift(a, axes))


@pytest.mark.parametrize("module", ["ttorch.fft", "ttorch.ops.stft"])
def test_docstring_examples(module):
    import doctest
    import importlib
    res = doctest.testmod(importlib.import_module(module), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0 and res.attempted > 0


# ------------------------------------------------------------------------------- stft / istft
def _np_stft(x, n_fft, hop, window, center, pad_mode, onesided):
    """NumPy's framing of PyTorch's stft: pad, frame, window, FFT; (n_freq, n_frames)."""
    if center:
        x = np.pad(x, n_fft // 2, mode={"reflect": "reflect", "constant": "constant", "replicate": "edge",
                                         "circular": "wrap"}[pad_mode])
    n = 1 + (len(x) - n_fft) // hop
    frames = np.stack([x[t * hop:t * hop + n_fft] for t in range(n)]) * window
    return (np.fft.rfft(frames, axis=-1) if onesided else np.fft.fft(frames, axis=-1)).T


@pytest.mark.parametrize("pad_mode", ["reflect", "constant", "replicate", "circular"])
def test_stft_matches_numpy(device, pad_mode):
    r = np.random.default_rng(13)
    x = r.standard_normal(21)
    hann6 = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(6) / 6)
    win8 = np.concatenate([[0.0], hann6, [0.0]])            # win_length 6 centred in n_fft 8
    X = ttorch.tensor(x, device=device)
    W = ttorch.tensor(hann6, device=device)
    s = ttorch.stft(X, 8, 3, 6, W, pad_mode=pad_mode, return_complex=True)
    check(s, _np_stft(x, 8, 3, win8, True, pad_mode, True), ttorch.float64)
    with pytest.warns(UserWarning, match="A window was not provided"):
        s2 = X.stft(8, 3, center=False, onesided=False, normalized=True, return_complex=True)
    check(s2, _np_stft(x, 8, 3, np.ones(8), False, pad_mode, False) / np.sqrt(8), ttorch.float64)
    z = x + 1j * r.standard_normal(21)
    sc = ttorch.stft(ttorch.tensor(z, device=device), 8, 3, window=ttorch.ones(8, dtype=ttorch.float64, device=device))
    check(sc, _np_stft(z, 8, 3, np.ones(8), True, "reflect", False), ttorch.float64)
    with pytest.warns(UserWarning, match="return_complex=False is deprecated"):
        assert ttorch.stft(X, 8, return_complex=False).shape == (5, 11, 2)


def test_istft_inverts_stft(device):
    r = np.random.default_rng(14)
    x = r.standard_normal((2, 23))
    X = ttorch.tensor(x, device=device)
    hann = ttorch.tensor(0.5 - 0.5 * np.cos(2 * np.pi * np.arange(8) / 8), device=device)
    s = ttorch.stft(X, 8, 2, window=hann, return_complex=True)
    check(ttorch.istft(s, 8, 2, window=hann, length=23), x, ttorch.float64)
    check(s.istft(8, 2, window=hann), x[:, :22], ttorch.float64)
    z = x[0] + 1j * x[1]
    sc = ttorch.stft(ttorch.tensor(z, device=device), 8, 3, normalized=True)
    check(ttorch.istft(sc, 8, 3, normalized=True, return_complex=True, length=23), z, ttorch.float64)


def test_stft_errors():
    x = ttorch.randn(20, dtype=ttorch.float64)
    s = ttorch.stft(x, 8, return_complex=True)
    cases = [(lambda: ttorch.stft(x, 8), "stft requires the return_complex parameter"),
             (lambda: ttorch.stft(x, 30, center=False, return_complex=True),
              r"stft\(ttorch.DoubleTensor\[20\], n_fft=30, hop_length=7, win_length=30, window=None, normalized=0, "
              r"onesided=None, return_complex=1, align_to_window=None\) : expected 0 < n_fft < 20, but got n_fft=30"),
             (lambda: ttorch.stft(x, 8, win_length=9, return_complex=True), "expected 0 < win_length <= n_fft"),
             (lambda: ttorch.stft(x.to(ttorch.complex128), 8, onesided=True), "Cannot have onesided output"),
             (lambda: ttorch.istft(s.real, 8), "istft requires a complex-valued input tensor"),
             (lambda: ttorch.istft(s, 8, hop_length=9), "expected 0 < hop_length <= win_length"),
             (lambda: ttorch.istft(s, 8, window=ttorch.zeros(8, dtype=ttorch.float64)), "window overlap add min: 1")]
    for f, msg in cases:
        with pytest.raises(RuntimeError, match=msg):
            f()


def test_stft_gradients():
    r = np.random.default_rng(15)
    x = ttorch.tensor(r.standard_normal(11), requires_grad=True)
    w = ttorch.tensor(r.uniform(0.5, 1.0, 4), requires_grad=True)

    def f(x, w):
        s = ttorch.stft(x, 4, 2, window=w, return_complex=True)
        return ttorch.istft(s * s, 4, 2, window=w, length=11)
    assert gradcheck(f, (x, w))
