"""lgamma, digamma, polygamma, erfinv and the ttorch.special names: known values, poles and
reflection, gradients to the third order (lgamma -> digamma -> polygamma), on both devices."""
import math

import numpy as np
import pytest

import ttorch
from ttorch.autograd import gradcheck, gradgradcheck

from _helpers import to_np

DEVICES = ["cpu"] + (["cuda"] if ttorch.cuda.is_available() else [])
EULER = 0.5772156649015329
ZETA3 = 1.2020569031595942


def t64(v, device="cpu", grad=False):
    return ttorch.tensor(v, dtype=ttorch.float64, device=device, requires_grad=grad)


@pytest.mark.parametrize("device", DEVICES)
def test_known_values(device):
    x = t64([1.0, 0.5, 2.0, 10.5, -0.5], device)
    np.testing.assert_allclose(to_np(ttorch.lgamma(x)), [math.lgamma(v) for v in (1.0, 0.5, 2.0, 10.5, -0.5)],
                               rtol=1e-13)
    np.testing.assert_allclose(to_np(ttorch.digamma(x)),
                               [-EULER, -EULER - 2 * math.log(2), 1 - EULER,
                                sum(1 / (0.5 + k) for k in range(10)) - EULER - 2 * math.log(2),
                                -EULER - 2 * math.log(2) + 2], rtol=1e-12)
    one = t64([1.0], device)
    np.testing.assert_allclose(to_np(ttorch.polygamma(1, one)), [math.pi ** 2 / 6], rtol=1e-13)
    np.testing.assert_allclose(to_np(ttorch.polygamma(2, one)), [-2 * ZETA3], rtol=1e-13)
    np.testing.assert_allclose(to_np(ttorch.polygamma(3, one)), [math.pi ** 4 / 15], rtol=1e-12)
    np.testing.assert_allclose(to_np(ttorch.polygamma(1, t64([-0.5], device))), [math.pi ** 2 / 2 + 4], rtol=1e-12)
    y = np.array([-0.99, -0.3, 0.0, 0.2, 0.7, 0.999999])
    got = to_np(ttorch.erfinv(t64(y, device)))
    np.testing.assert_allclose([math.erf(v) for v in got], y, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(to_np(ttorch.special.ndtri(ttorch.special.ndtr(t64([-2.0, 0.3], device)))),
                               [-2.0, 0.3], rtol=1e-10)
    assert ttorch.polygamma(0, x).tolist() == ttorch.digamma(x).tolist()


@pytest.mark.parametrize("device", DEVICES)
def test_poles_and_limits(device):
    inf, nan = math.inf, math.nan
    x = t64([0.0, -1.0, -2.0, inf, nan], device)
    assert to_np(ttorch.lgamma(x)).tolist()[:4] == [inf, inf, inf, inf]
    d = to_np(ttorch.digamma(x))
    assert d[0] == -inf and np.isnan(d[1]) and np.isnan(d[2]) and d[3] == inf and np.isnan(d[4])
    assert to_np(ttorch.polygamma(1, t64([0.0, -3.0], device))).tolist() == [inf, inf]
    assert to_np(ttorch.polygamma(2, t64([0.0], device))).tolist() == [-inf]
    np.testing.assert_allclose(to_np(ttorch.polygamma(2, t64([-0.5, -3.7], device))),
                               [16 - 14 * ZETA3, -2 * sum((-3.7 + k) ** -3.0 for k in range(10 ** 5))],
                               rtol=1e-9)                # psi2(-1/2) = psi2(1/2) - 2 / (-1/2)^3 = -14 zeta(3) + 16
    e = to_np(ttorch.erfinv(t64([1.0, -1.0, 1.5], device)))
    assert e[0] == inf and e[1] == -inf and np.isnan(e[2])
    with pytest.raises(RuntimeError, match="does not support negative n"):
        ttorch.polygamma(-1, x)


def test_gradients_chain_to_higher_orders():
    x = t64([0.7, 1.5, 3.2, -0.4], grad=True)
    assert gradcheck(ttorch.lgamma, (x,)) and gradgradcheck(ttorch.lgamma, (x,))
    assert gradcheck(ttorch.digamma, (x,)) and gradgradcheck(ttorch.digamma, (x,))
    p = t64([0.7, 1.5, 3.2], grad=True)
    assert gradcheck(lambda v: ttorch.polygamma(2, v), (p,)) and gradgradcheck(lambda v: ttorch.polygamma(2, v), (p,))
    e = t64([-0.8, 0.1, 0.6], grad=True)
    assert gradcheck(ttorch.erfinv, (e,)) and gradgradcheck(ttorch.erfinv, (e,))
    assert x.polygamma(1).tolist() == ttorch.polygamma(1, x).tolist()


@pytest.mark.skipif(not ttorch.cuda.is_available(), reason="needs the cuda device")
def test_float32_cuda_matches_cpu():
    g = np.concatenate([np.linspace(-4.7, 25, 60), [1e-3, 0.5, 1.0]]).astype(np.float32)
    for fn in (ttorch.lgamma, ttorch.digamma, lambda t: ttorch.polygamma(1, t), lambda t: ttorch.polygamma(3, t)):
        a = to_np(fn(ttorch.tensor(g)))
        b = to_np(fn(ttorch.tensor(g, device="cuda")))
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)
