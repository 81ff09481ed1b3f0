"""torch.special.airy_ai against float64 references: its Maclaurin series summed to many terms for
|x| <= 5, the asymptotic expansions for large |x|, known zeros, PyTorch's special values (+-inf: NaN,
0 past 103.892), no gradient, dtypes, both devices, the doctest."""
import doctest
import math
from fractions import Fraction

import numpy as np
import pytest

import ttorch
from ttorch import special

C1 = 0.355028053887817239                                      # Ai(0); -Ai'(0) is 0.258819403792806798
_C1 = Fraction("0.35502805388781723926006318600418317639798")  # (to 41 digits: c1 f and c2 g cancel for x > 0)
_C2 = Fraction("0.25881940379280679840518356018920396347909")
ZEROS = [-2.338107410459767, -4.087949444130971, -5.520559828095551, -6.786708090071759]     # (DLMF table 9.9.1)


def _series(x, terms=60):
    """Ai = c1 f - c2 g with f = sum x^3k / ((2 3)(5 6)...((3k-1) 3k)), g = sum x^(3k+1) / ((3 4)...(3k (3k+1))),
    in exact rationals (the float64 inputs are), rounded once."""
    out = []
    for v in np.asarray(x, dtype=np.float64).ravel().tolist():
        v = Fraction(v)
        m, n = Fraction(1), v
        f, g = m, n
        for k in range(1, terms):
            m *= v ** 3 / ((3 * k - 1) * (3 * k))
            n *= v ** 3 / ((3 * k) * (3 * k + 1))
            f, g = f + m, g + n
        out.append(float(_C1 * f - _C2 * g))
    return np.array(out)


def _u(n):
    """The coefficients u_k of the asymptotic expansions (DLMF 9.7.2)."""
    u = [1.0]
    for k in range(1, n):
        u.append(u[-1] * (6 * k - 5) * (6 * k - 3) * (6 * k - 1) / ((2 * k - 1) * 216 * k))
    return u


def _asymptotic(x, n=12):
    """DLMF 9.7.5 (x > 0) and 9.7.9 (x < 0), with zeta = 2/3 |x|^(3/2)."""
    a = abs(x)
    zeta = 2 / 3 * a ** 1.5
    u = _u(2 * n)
    if x > 0:
        s = sum((-1) ** k * u[k] / zeta ** k for k in range(n))
        return math.exp(-zeta) / (2 * math.sqrt(math.pi) * a ** 0.25) * s
    p = sum((-1) ** k * u[2 * k] / zeta ** (2 * k) for k in range(n))
    q = sum((-1) ** k * u[2 * k + 1] / zeta ** (2 * k + 1) for k in range(n))
    w = zeta + math.pi / 4
    return (math.sin(w) * p - math.cos(w) * q) / (math.sqrt(math.pi) * a ** 0.25)


def _ai(x, dtype=ttorch.float64, device="cpu"):
    return special.airy_ai(ttorch.tensor(x, dtype=dtype, device=device)).cpu().numpy()


def test_matches_series():
    # every form: the oscillatory one below -2.09, the series, the exponential one from 2.09
    x = np.concatenate([np.linspace(-5, 5, 201), [-2.09, 2.09, np.nextafter(-2.09, 0), np.nextafter(2.09, 0)]])
    want = _series(x)
    np.testing.assert_allclose(_ai(x), want, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(_ai(x, ttorch.float32), want, rtol=2e-6, atol=2e-7)


def test_known_values_and_zeros():
    assert _ai([0.0, -0.0]).tolist() == [C1, C1]
    assert _ai([0.0], ttorch.float32)[0] == np.float32(C1)
    assert np.abs(_ai(ZEROS)).max() < 2e-15
    assert np.abs(_ai(ZEROS, ttorch.float32)).max() < 2e-6
    np.testing.assert_allclose(_ai([1.0, -1.0]), [0.1352924163128814, 0.5355608832923521], rtol=1e-14)


def test_asymptotic_forms():
    x = [15.0, 20.0, 50.0, 100.0, -15.0, -20.0, -50.0, -100.0, -200.0]
    want = np.array([_asymptotic(v) for v in x])
    got = _ai(x)
    pos = np.array(x) > 0
    np.testing.assert_allclose(got[pos], want[pos], rtol=1e-12)
    np.testing.assert_allclose(got[~pos], want[~pos], atol=1e-13)


def test_special_values():
    inf, nan = math.inf, math.nan
    for dt in (ttorch.float32, ttorch.float64):
        got = _ai([nan, inf, -inf, 103.9, 104.0, 1e30], dt)
        assert np.isnan(got[:3]).all() and got[3:].tolist() == [0.0, 0.0, 0.0], dt
    assert 0 < _ai([103.0])[0] < 1e-300                     # float64 keeps Ai down to 103.892 (subnormal)
    assert _ai([30.0], ttorch.float32)[0] == 0.0            # float32's exp(zeta) overflows past x = 26


def test_no_gradient_and_dtypes():
    x = ttorch.tensor([0.3, -3.0], requires_grad=True)
    y = special.airy_ai(x)
    assert y.grad_fn is None and not y.requires_grad and y.dtype is ttorch.float32
    assert special.airy_ai(ttorch.tensor([1, 2])).dtype is ttorch.float32
    np.testing.assert_allclose(special.airy_ai(ttorch.tensor([1, 2])).numpy(), _series([1.0, 2.0]), rtol=1e-6)
    for dt, name in ((ttorch.float16, "Half"), (ttorch.bfloat16, "BFloat16")):
        with pytest.raises(RuntimeError, match=f"\"airy_ai_cpu\" not implemented for '{name}'"):
            special.airy_ai(ttorch.ones(2, dtype=dt))
    out = ttorch.empty(2, dtype=ttorch.float64)
    assert special.airy_ai(ttorch.tensor([0.0, 1.0], dtype=ttorch.float64), out=out) is out
    assert out.tolist()[0] == C1
    assert "airy_ai" in special.__all__


def test_devices(device):
    x = np.array([[-30.0, -2.5, -2.09, -1.0, 0.0], [0.7, 2.0, 2.09, 4.5, np.nan]])
    want = _series(np.nan_to_num(x)).reshape(x.shape)
    want[0, 0], want[1, 4] = _asymptotic(-30.0), np.nan
    for dt, rtol, atol in ((ttorch.float64, 1e-12, 1e-14), (ttorch.float32, 2e-6, 2e-6)):
        got = _ai(x, dt, device)
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True, err_msg=str(dt))
        t = ttorch.tensor(x, dtype=dt, device=device).t()                # strided
        np.testing.assert_allclose(special.airy_ai(t).cpu().numpy(), want.T, rtol=rtol, atol=atol, equal_nan=True)


def test_doctest():
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(special.airy_ai, "airy_ai", globs={"ttorch": ttorch}):
        runner.run(test)
    assert runner.tries >= 1 and runner.failures == 0
