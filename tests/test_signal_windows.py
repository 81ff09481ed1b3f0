"""ttorch.signal.windows against the closed-form definitions (NumPy, float64): symmetric windows from
their formulas, periodic ones as the symmetric window one longer with its last point dropped."""
import math

import numpy as np
import pytest

import ttorch
from ttorch.signal import windows as W

NUTTALL = [0.3635819, 0.4891775, 0.1365995, 0.0106411]


def _cos_sum(a):
    return lambda n, M: sum((-1) ** i * c * np.cos(2 * math.pi * i * n / (M - 1)) for i, c in enumerate(a))


# name -> (keyword arguments, the symmetric window w(n, M) for M >= 2)
REF = {
    "bartlett": ({}, lambda n, M: 1 - np.abs(2 * n / (M - 1) - 1)),
    "blackman": ({}, _cos_sum([0.42, 0.5, 0.08])),
    "cosine": ({}, lambda n, M: np.sin(math.pi * (n + 0.5) / M)),
    "exponential": ({"tau": 2.5}, lambda n, M: np.exp(-np.abs(n - (M - 1) / 2) / 2.5)),
    "gaussian": ({"std": 1.7}, lambda n, M: np.exp(-(n - (M - 1) / 2) ** 2 / (2 * 1.7 ** 2))),
    "general_cosine": ({"a": [0.4, 0.3, 0.2, 0.1]}, _cos_sum([0.4, 0.3, 0.2, 0.1])),
    "general_hamming": ({"alpha": 0.6}, lambda n, M: 0.6 - 0.4 * np.cos(2 * math.pi * n / (M - 1))),
    "hamming": ({}, lambda n, M: 0.54 - 0.46 * np.cos(2 * math.pi * n / (M - 1))),
    "hann": ({}, lambda n, M: 0.5 - 0.5 * np.cos(2 * math.pi * n / (M - 1))),
    "kaiser": ({"beta": 5.0}, lambda n, M: np.i0(5.0 * np.sqrt(np.clip(1 - (2 * n / (M - 1) - 1) ** 2, 0, None)))
               / np.i0(5.0)),
    "nuttall": ({}, _cos_sum(NUTTALL)),
}


def _reference(name, M, sym):
    if M <= 1:
        return np.ones(M)
    f = REF[name][1]
    if sym:
        return f(np.arange(M, dtype=np.float64), M)
    return f(np.arange(M + 1, dtype=np.float64), M + 1)[:M]


@pytest.mark.parametrize("name", sorted(REF))
@pytest.mark.parametrize("sym", [True, False])
def test_values_cpu(name, sym):
    kw = REF[name][0]
    for M in (0, 1, 2, 3, 10, 17):
        w64 = getattr(W, name)(M, sym=sym, dtype=ttorch.float64, **kw)
        w32 = getattr(W, name)(M, sym=sym, **kw)
        ref = _reference(name, M, sym)
        assert w64.dtype == ttorch.float64 and w32.dtype == ttorch.float32 and tuple(w64.shape) == (M,)
        np.testing.assert_allclose(w64.numpy(), ref, rtol=0, atol=1e-12)
        np.testing.assert_allclose(w32.numpy(), ref, rtol=0, atol=2e-6)


@pytest.mark.parametrize("name", sorted(REF))
def test_values_device(name, device):
    w = getattr(W, name)(6, sym=False, device=device, dtype=ttorch.float64, **REF[name][0])
    assert w.device.type == device
    np.testing.assert_allclose(w.cpu().numpy(), _reference(name, 6, False), rtol=0, atol=1e-12)


def test_exponential_center():
    w = W.exponential(7, center=2.0, tau=0.5, sym=False, dtype=ttorch.float64)
    np.testing.assert_allclose(w.numpy(), np.exp(-np.abs(np.arange(7) - 2.0) / 0.5), atol=1e-12)


def test_known_values():
    # the values PyTorch's docs print
    np.testing.assert_allclose(W.general_hamming(10, alpha=0.5, sym=False).numpy(),
                               [0.0, 0.0955, 0.3455, 0.6545, 0.9045, 1.0, 0.9045, 0.6545, 0.3455, 0.0955], atol=1e-4)
    np.testing.assert_allclose(W.nuttall(5, sym=False).numpy(),
                               [3.6280e-04, 1.1052e-01, 7.9826e-01, 7.9826e-01, 1.1052e-01], atol=5e-6)


def test_requires_grad_graph():
    w = W.hann(5, requires_grad=True)
    assert w.requires_grad and w.grad_fn is not None and not w.is_leaf
    one = W.kaiser(1, requires_grad=True)
    assert one.requires_grad and one.is_leaf
    assert not W.gaussian(4).requires_grad


@pytest.mark.parametrize("call, exc, msg", [
    (lambda: W.hann(-1), ValueError, "general_cosine requires non-negative window length, got M=-1"),
    (lambda: W.blackman(-2), ValueError, "blackman requires non-negative window length, got M=-2"),
    (lambda: W.bartlett(4, dtype=ttorch.float16), ValueError, "bartlett expects float32 or float64 dtypes, got: "),
    (lambda: W.cosine(4, dtype=ttorch.int64), ValueError, "cosine expects float32 or float64 dtypes"),
    (lambda: W.hamming(4, layout=ttorch.sparse_coo), ValueError, "implemented for strided tensors only"),
    (lambda: W.kaiser(4, beta=-1.0), ValueError, "beta must be non-negative, got: -1.0 instead."),
    (lambda: W.gaussian(4, std=0), ValueError, "Standard deviation must be positive, got: 0 instead."),
    (lambda: W.exponential(4, tau=0), ValueError, "Tau must be positive, got: 0 instead."),
    (lambda: W.exponential(4, center=1.0), ValueError, "Center must be None for symmetric windows"),
    (lambda: W.general_cosine(4, a=[]), ValueError, "Coefficients cannot be empty"),
    (lambda: W.general_cosine(4, a=3), TypeError, "Coefficients must be a list/tuple"),
    (lambda: W.hann(4, True), TypeError, "positional argument"),
])
def test_errors(call, exc, msg):
    with pytest.raises(exc) as e:
        call()
    assert msg in str(e.value)
