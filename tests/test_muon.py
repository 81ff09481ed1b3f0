"""Muon: trajectories against a float64 NumPy re-implementation of PyTorch's algorithm (rounded to
bfloat16 where PyTorch's Newton-Schulz iteration rounds), the iteration's effect, state_dict round
trips, PyTorch's errors, both devices, and the module's doctest."""
import copy
import doctest
import math

import numpy as np
import pytest

import ttorch
from ttorch import optim
from ttorch.optim import muon

from ttorch._dtype import _np_bfloat16 as BF16


def _bf(x):
    """Round float64 values to bfloat16 and back (PyTorch rounds each bfloat16 op's float32 result once)."""
    return np.asarray(x, np.float32).astype(BF16).astype(np.float64)


def _ns_ref(g, coeffs=(3.4445, -4.7750, 2.0315), steps=5, eps=1e-7):
    a, b, c = coeffs
    x = _bf(g)
    tall = g.shape[0] > g.shape[1]
    if tall:
        x = x.T
    x = _bf(x / max(_bf(np.linalg.norm(x)), eps))
    for _ in range(steps):
        gram = _bf(x @ x.T)
        upd = _bf(b * gram + c * (gram @ gram))
        x = _bf(a * x + upd @ x)
    return x.T if tall else x


def _lerp(s, e, w):
    return s + w * (e - s) if abs(w) < 0.5 else e - (e - s) * (1 - w)


def ref_muon(w, grads, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
             ns_coefficients=(3.4445, -4.7750, 2.0315), eps=1e-7, ns_steps=5, adjust_lr_fn=None):
    buf, traj = np.zeros_like(w), []
    rows, cols = w.shape
    ratio = {None: math.sqrt(max(1, rows / cols)), "original": math.sqrt(max(1, rows / cols)),
             "match_rms_adamw": 0.2 * math.sqrt(max(rows, cols))}[adjust_lr_fn]
    for g in grads:
        buf = _lerp(buf, g, 1 - momentum)
        u = _lerp(g, buf, momentum) if nesterov else buf
        u = _ns_ref(u, ns_coefficients, ns_steps, eps)
        w = w * (1 - lr * weight_decay) - lr * ratio * u
        traj.append(w.copy())
    return traj


def _run(shape, kw, steps=4, device="cpu", seed=0):
    r = np.random.default_rng(seed)
    w0 = r.standard_normal(shape).astype(np.float32)
    grads = [r.standard_normal(shape).astype(np.float32) for _ in range(steps)]
    p = ttorch.nn.Parameter(ttorch.tensor(w0, device=device))
    opt = optim.Muon([p], **kw)
    traj = []
    for g in grads:
        p.grad = ttorch.tensor(g, device=device)
        opt.step()
        traj.append(p.detach().cpu().numpy().astype(np.float64))
    return traj, ref_muon(w0.astype(np.float64), [g.astype(np.float64) for g in grads], **kw), p, opt


CASES = [
    ((4, 4), dict(lr=0.02)),
    ((7, 3), dict(lr=0.05, nesterov=False)),
    ((3, 7), dict(lr=0.05, weight_decay=0.0, adjust_lr_fn="match_rms_adamw")),
    ((9, 5), dict(lr=0.05, weight_decay=0.3, momentum=0.9, adjust_lr_fn="original")),
    ((6, 6), dict(lr=0.05, ns_steps=3, ns_coefficients=(2.0, -1.5, 0.5), eps=1e-3)),
    ((1, 5), dict(lr=0.1)),
]


@pytest.mark.parametrize("shape, kw", CASES, ids=str)
def test_trajectory_matches_reference(shape, kw):
    got, want, _, _ = _run(shape, kw)
    for t, (a, b) in enumerate(zip(got, want)):
        # float32 momentum vs float64: a bfloat16 rounding may flip, one ulp (2^-8) of the update
        np.testing.assert_allclose(a, b, rtol=0, atol=4 * kw["lr"] * 2.0 ** -8 + 1e-6, err_msg=f"step {t + 1}")


def test_newton_schulz_orthogonalises():
    g = np.random.default_rng(1).standard_normal((12, 20))
    x = muon._zeropower_via_newtonschulz(ttorch.tensor(g), (muon.DEFAULT_A, muon.DEFAULT_B, muon.DEFAULT_C), 5, 1e-7)
    assert x.dtype is ttorch.bfloat16 and x.shape == (12, 20)
    s = np.linalg.svd(x.float().numpy().astype(np.float64), compute_uv=False)
    assert 0.5 < s.min() and s.max() < 1.3                 # US'V^T with S' near 1, not UV^T
    np.testing.assert_allclose(x.float().numpy(), _ns_ref(g), atol=2 ** -6)


def test_adjust_lr():
    assert muon._adjust_lr(0.1, None, (8, 2)) == pytest.approx(0.2)
    assert muon._adjust_lr(0.1, "original", (2, 8)) == 0.1
    assert muon._adjust_lr(0.1, "match_rms_adamw", (2, 25)) == pytest.approx(0.1)


def test_state_dict_round_trip():
    _, _, p, opt = _run((5, 3), dict(lr=0.05), steps=2)
    assert list(opt.state[p]) == ["momentum_buffer"] and opt.state[p]["momentum_buffer"].shape == (5, 3)
    sd = copy.deepcopy(opt.state_dict())
    assert sd["param_groups"][0]["ns_coefficients"] == (3.4445, -4.775, 2.0315)
    assert sd["param_groups"][0]["adjust_lr_fn"] is None and sd["param_groups"][0]["nesterov"] is True
    q = ttorch.nn.Parameter(p.detach().clone())
    opt2 = optim.Muon([q], lr=0.05)
    opt2.load_state_dict(sd)
    g = ttorch.tensor(np.random.default_rng(3).standard_normal((5, 3)).astype(np.float32))
    p.grad, q.grad = g, g.clone()
    opt.step(); opt2.step()
    np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())


def test_errors():
    w = ttorch.nn.Parameter(ttorch.ones(2, 2))
    with pytest.raises(ValueError, match="Learning rate should be >= 0 but is: -1"):
        optim.Muon([w], lr=-1)
    with pytest.raises(ValueError, match="momentum should be >= 0"):
        optim.Muon([w], momentum=-0.1)
    with pytest.raises(ValueError, match="weight decay should be >= 0"):
        optim.Muon([w], weight_decay=-0.1)
    with pytest.raises(ValueError, match="Adjust learning rate function foo is not supported"):
        optim.Muon([w], adjust_lr_fn="foo")
    with pytest.raises(ValueError, match="Tensor lr must be 1-element"):
        optim.Muon([w], lr=ttorch.ones(2))
    with pytest.raises(ValueError, match=r"Muon only supports 2D parameters whereas we found a parameter with "
                                         r"size: ttorch.Size\(\[3\]\)"):
        optim.Muon([w, ttorch.nn.Parameter(ttorch.ones(3))])
    opt = optim.Muon([w], ns_steps=100)
    w.grad = ttorch.ones(2, 2)
    with pytest.raises(ValueError, match="Number of steps must be less than 100"):
        opt.step()
    opt = optim.Muon([w], ns_coefficients=(1.0, 2.0))
    with pytest.raises(ValueError, match="exactly 3 values"):
        opt.step()


def test_devices(device):
    got, want, p, _ = _run((3, 5), dict(lr=0.05), steps=2, device=device)
    assert p.device.type == device
    np.testing.assert_allclose(got[-1], want[-1], rtol=0, atol=4 * 0.05 * 2.0 ** -8 + 1e-6)


def test_doctest():
    res = doctest.testmod(muon, extraglobs={"ttorch": ttorch}, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.attempted > 0 and res.failed == 0
