"""Fixes found by replaying PyTorch's ModuleInfo database (``common_modules.module_db``) against ttorch.nn.

Every expected value, message and printout here was checked by hand against PyTorch 2.13 (cpu).
"""
import math
import re

import numpy as np
import pytest

import ttorch
import ttorch.nn as nn
import ttorch.nn.functional as F


def npy(t):
    return t.detach().cpu().numpy()


def t64(a, device="cpu", requires_grad=False):
    return ttorch.tensor(np.asarray(a, dtype=np.float64), device=device, requires_grad=requires_grad)


# --- the keyword ``bias`` of the batch, instance and group norms; ``bias=`` in their printouts ------------------

def test_norm_bias_keyword_and_repr():
    cases = [
        (nn.BatchNorm1d(3, bias=False),
         "BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=True, bias=False, track_running_stats=True)",
         ["weight", "running_mean", "running_var", "num_batches_tracked"]),
        (nn.InstanceNorm1d(3, affine=True, bias=False),
         "InstanceNorm1d(3, eps=1e-05, momentum=0.1, affine=True, bias=False, track_running_stats=False)", ["weight"]),
        (nn.GroupNorm(2, 4, bias=False), "GroupNorm(2, 4, eps=1e-05, affine=True, bias=False)", ["weight"]),
        (nn.LayerNorm(5), "LayerNorm((5,), eps=1e-05, elementwise_affine=True, bias=True)", ["weight", "bias"]),
        (nn.LayerNorm(5, bias=False), "LayerNorm((5,), eps=1e-05, elementwise_affine=True, bias=False)", ["weight"]),
        (nn.SyncBatchNorm(3, bias=False),
         "SyncBatchNorm(3, eps=1e-05, momentum=0.1, affine=True, bias=False, track_running_stats=True)",
         ["weight", "running_mean", "running_var", "num_batches_tracked"]),
        (nn.BatchNorm2d(2, affine=False),
         "BatchNorm2d(2, eps=1e-05, momentum=0.1, affine=False, bias=False, track_running_stats=True)",
         ["running_mean", "running_var", "num_batches_tracked"]),
        (nn.LazyInstanceNorm2d(),
         "LazyInstanceNorm2d(0, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)",
         ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]),
        (nn.RMSNorm(4), "RMSNorm((4,), eps=None, elementwise_affine=True)", ["weight"]),   # no bias there
    ]
    for m, text, keys in cases:
        assert repr(m) == text
        assert list(m.state_dict().keys()) == keys
    assert nn.BatchNorm1d(3, bias=False).bias is None
    lazy = nn.LazyBatchNorm1d(bias=False)
    lazy(ttorch.ones(2, 3))
    assert repr(lazy) == "BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=True, bias=False, track_running_stats=True)"
    with pytest.raises(ValueError, match=re.escape("num_channels (4) must be divisible by num_groups (3)")):
        nn.GroupNorm(3, 4)


def test_batch_norm_without_bias_values_and_grads(device):
    x = np.array([[1., 2., 3.], [3., 0., 1.], [2., 2., 2.], [0., 4., 6.]])
    w = np.array([1., 2., 3.])
    m = nn.BatchNorm1d(3, bias=False).to(ttorch.float64).to(device)
    with ttorch.no_grad():
        m.weight.copy_(t64(w, device))
    tx = t64(x, device, requires_grad=True)
    out = m(tx)
    ref = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5) * w
    np.testing.assert_allclose(npy(out), ref, rtol=1e-9, atol=1e-12)
    # PyTorch: running_mean [0.15, 0.2, 0.3], running_var [1.0667, 1.1667, 1.3667] (unbiased variance)
    np.testing.assert_allclose(npy(m.running_mean), 0.1 * x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(npy(m.running_var), 0.9 + 0.1 * x.var(0, ddof=1), rtol=1e-12)
    out.sum().backward()
    assert m.bias is None and m.weight.grad is not None
    np.testing.assert_allclose(npy(tx.grad), np.zeros_like(x), atol=1e-9)    # d sum / dx of a normalized column


def test_group_and_instance_norm_without_bias(device):
    x = np.arange(24.0).reshape(2, 4, 3) ** 1.5 / 10
    gn = nn.GroupNorm(2, 4, bias=False).to(ttorch.float64).to(device)
    with ttorch.no_grad():
        gn.weight.copy_(t64([1., -1., 2., 0.5], device))
    g = x.reshape(2, 2, 6)
    ref = ((g - g.mean(-1, keepdims=True)) / np.sqrt(g.var(-1, keepdims=True) + 1e-5)).reshape(2, 4, 3)
    np.testing.assert_allclose(npy(gn(t64(x, device))), ref * np.array([1., -1., 2., 0.5])[:, None], rtol=1e-9)
    inn = nn.InstanceNorm1d(4, affine=True, bias=False).to(ttorch.float64).to(device)
    ref = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(npy(inn(t64(x, device))), ref, rtol=1e-9)


# --- kl_div: PyTorch's xlogy(target, target) - target * input, NaNs included --------------------------------------

def test_kl_div_nan_like_pytorch(device):
    x = np.array([-0.5, np.nan, 0.3, -1.0, np.nan, 2.0])
    t = np.array([0.2, 0.3, np.nan, 0.0, np.nan, -1.0])
    tx, tt = t64(x, device, True), t64(t, device, True)
    loss = F.kl_div(tx, tt, reduction="none")
    loss.backward(ttorch.ones(6, dtype=ttorch.float64, device=device))
    # PyTorch 2.13: a negative target gives NaN (log of a negative), a zero target a NaN target gradient (0 / 0)
    with np.errstate(all="ignore"):
        ref = np.where(t == 0, 0.0, t * np.log(t)) - t * x
        ref_gt = np.where(t == 0, np.nan, np.log(t) + 1) - x
    np.testing.assert_allclose(npy(loss), ref, rtol=1e-12)
    assert np.isnan(npy(loss)[5]) and npy(loss)[3] == 0.0
    np.testing.assert_allclose(npy(tx.grad), -t, rtol=1e-12)
    np.testing.assert_allclose(npy(tt.grad), ref_gt, rtol=1e-12)
    assert np.isnan(npy(tt.grad)[3])
    a = ttorch.tensor(-0.7, device=device)
    assert math.isnan(F.kl_div(a, a, reduction="sum").item())         # PyTorch: nan (it was -0.49)
    ok = F.kl_div(t64([-1.0, 0.5], device), t64([0.25, 0.5], device), reduction="sum")
    np.testing.assert_allclose(ok.item(), 0.25 * math.log(0.25) + 0.25 + 0.5 * math.log(0.5) - 0.25, rtol=1e-12)


# --- gaussian_nll_loss: var with one size-1 dim anywhere (PyTorch's rule) -----------------------------------------

def test_gaussian_nll_loss_broadcast_var(device):
    x = np.arange(12.0).reshape(4, 3) / 7
    t = np.cos(np.arange(12.0)).reshape(4, 3)
    v = np.array([[0.5, 1.5, 2.0]])                               # (1, 3): shared over the batch
    tx, tv = t64(x, device, True), t64(v, device, True)
    loss = F.gaussian_nll_loss(tx, t64(t, device), tv)
    np.testing.assert_allclose(loss.item(), np.mean(0.5 * (np.log(v) + (x - t) ** 2 / v)), rtol=1e-12)
    loss.backward()
    ref_gv = (0.5 / v - 0.5 * (x - t) ** 2 / v ** 2).sum(0, keepdims=True) / 12
    np.testing.assert_allclose(npy(tv.grad), ref_gv, rtol=1e-10)
    # PyTorch's, with a float32 var: [[-0.97484398, -0.01595432, 0.03340200]]
    np.testing.assert_allclose(npy(tv.grad), [[-0.9748439788818359, -0.01595432311296463, 0.03340200334787369]],
                               rtol=1e-6)
    for shape in ((4, 1), (4,)):                                    # the last dim shared, as before
        F.gaussian_nll_loss(tx, t64(t, device), ttorch.ones(shape, dtype=ttorch.float64, device=device))
    for shape in ((4, 2), (1, 1), (2, 3)):
        with pytest.raises(ValueError, match="var is of incorrect size"):
            F.gaussian_nll_loss(tx, t64(t, device), ttorch.ones(shape, dtype=ttorch.float64, device=device))
    with pytest.raises(ValueError, match="var has negative entry/entries"):     # checked before the size
        F.gaussian_nll_loss(tx, t64(t, device), -ttorch.ones(5, dtype=ttorch.float64, device=device))


# --- batch_norm's eps checks ----------------------------------------------------------------------------------

def test_batch_norm_eps_checks():
    x = t64([[1., 2.], [3., 5.]])
    rm, rv = ttorch.zeros(2, dtype=ttorch.float64), ttorch.ones(2, dtype=ttorch.float64)
    with pytest.raises(ValueError, match=re.escape("batch_norm eps must be positive during training, but got 0.0")):
        F.batch_norm(x, None, None, training=True, eps=0.0)
    with pytest.raises(ValueError, match=re.escape("batch_norm eps must be non-negative, but got -1.0")):
        F.batch_norm(x, rm, rv, training=False, eps=-1.0)
    with pytest.raises(ValueError, match=re.escape("batch_norm eps must be non-negative, but got -1.0")):
        F.batch_norm(x, None, None, training=False, eps=-1.0)       # before the missing-statistics check
    np.testing.assert_array_equal(npy(F.batch_norm(x, rm, rv, training=False, eps=0.0)), npy(x))
    with pytest.raises(ValueError, match="eps must be positive"):
        nn.BatchNorm1d(2, eps=-1.0).to(ttorch.float64)(x)


# --- recurrent modules: argument types, dtype mismatch, cell messages -------------------------------------------

def test_rnn_argument_checks():
    with pytest.raises(TypeError, match="bias should be of type bool, got: int"):
        nn.RNN(3, 4, bias=1)
    with pytest.raises(TypeError, match="batch_first should be of type bool, got: str"):
        nn.GRU(3, 4, batch_first="x")
    with pytest.raises(TypeError, match="input_size should be of type int, got: float"):
        nn.LSTM(3.0, 4)
    with pytest.raises(ValueError, match="input_size must be greater than zero"):
        nn.LSTM(0, 4)
    msg = (r"RNN input dtype \(ttorch.float64\) does not match weight dtype \(ttorch.float32\). Convert input: "
           r"input.to\(ttorch.float32\), or convert model: model.to\(ttorch.float64\)")
    with pytest.raises(ValueError, match=msg):
        nn.RNN(3, 4)(ttorch.ones(2, 1, 3, dtype=ttorch.float64))


def test_rnn_cell_messages():
    for cls in (nn.RNNCell, nn.GRUCell, nn.LSTMCell):
        m = cls(10, 20)
        state = (lambda h: (h, ttorch.zeros(3, 20))) if cls is nn.LSTMCell else (lambda h: h)
        with pytest.raises(RuntimeError, match="hidden0 has inconsistent hidden_size: got 21, expected 20"):
            m(ttorch.ones(3, 10), state(ttorch.zeros(3, 21)))
        with pytest.raises(RuntimeError, match="Input batch size 3 doesn't match hidden0 batch size 5"):
            m(ttorch.ones(3, 10), state(ttorch.zeros(5, 20)))
    with pytest.raises(RuntimeError, match="hidden1 has inconsistent hidden_size: got 21, expected 20"):
        nn.LSTMCell(10, 20)(ttorch.ones(3, 10), (ttorch.zeros(3, 20), ttorch.zeros(3, 21)))


# --- losses: messages and argument checks ------------------------------------------------------------------------

def test_nll_and_cross_entropy_dtype_messages():
    x = ttorch.ones(2, 3, dtype=ttorch.float64)
    with pytest.raises(RuntimeError, match="expected target dtype to be Long or Byte, but got Double"):
        F.cross_entropy(x, ttorch.ones(2, dtype=ttorch.float64))
    with pytest.raises(RuntimeError, match="expected target dtype to be Long or Byte, but got Int"):
        F.nll_loss(x, ttorch.ones(2, dtype=ttorch.int32))
    np.testing.assert_allclose(F.nll_loss(x, ttorch.ones(2, dtype=ttorch.uint8)).item(), -1.0)
    with pytest.raises(RuntimeError, match="expected scalar type Double but found Half"):
        F.nll_loss(x, ttorch.ones(2, dtype=ttorch.int64), weight=ttorch.ones(3, dtype=ttorch.float16))
    with pytest.raises(RuntimeError, match="expected scalar type Double but found Half"):
        nn.NLLLoss(weight=ttorch.ones(0, dtype=ttorch.float16))(ttorch.ones(0, 0, dtype=ttorch.float64),
                                                               ttorch.ones(0, dtype=ttorch.int64))
    with pytest.raises(RuntimeError, match="expected scalar type Float but found Double"):
        F.nll_loss(ttorch.ones(2, 3), ttorch.ones(2, dtype=ttorch.int64), weight=ttorch.ones(3, dtype=ttorch.float64))
    # class-probability targets promote the weight, as PyTorch's: 3 log 3
    got = F.cross_entropy(x, ttorch.ones(2, 3, dtype=ttorch.float64), weight=ttorch.ones(3))
    np.testing.assert_allclose(got.item(), 3 * math.log(3), rtol=1e-12)


def test_huber_delta_type():
    with pytest.raises(TypeError, match="delta must be a float or int, got: <class 'complex'>"):
        nn.HuberLoss(delta=1 + 0j)
    with pytest.raises(TypeError, match="delta must be a float or int, got: <class 'str'>"):
        nn.HuberLoss(delta="a")
    with pytest.raises(TypeError, match=re.escape("huber_loss(): argument 'delta' (position 4) must be float, not "
                                                  "complex")):
        F.huber_loss(ttorch.ones(2), ttorch.zeros(2), delta=1j)
    with pytest.raises(TypeError, match="must be float, not Tensor"):
        F.huber_loss(ttorch.ones(2), ttorch.zeros(2), delta=ttorch.tensor([0.5]))
    # 0.5 * delta * (2 |d| - delta) for |d| = 1, delta = 0.5: 0.375, a 0-dim tensor delta as a float
    np.testing.assert_allclose(F.huber_loss(ttorch.ones(2), ttorch.zeros(2), delta=ttorch.tensor(0.5)).item(), 0.375)
    np.testing.assert_allclose(nn.HuberLoss(delta=2)(ttorch.ones(2), ttorch.zeros(2)).item(), 0.5)


def test_multi_margin_loss_target_message():
    msg = ("multi_margin_loss: target tensor should be 1-D with size equal to the number of input samples (batch "
           "size). Expected target size [5], but got {}. Input has shape [5, 10].")
    for shape, text in (((3,), "[3]"), ((5, 1), "[5, 1]"), ((), "[]")):
        with pytest.raises(RuntimeError, match=re.escape(msg.format(text))):
            F.multi_margin_loss(ttorch.ones(5, 10), ttorch.zeros(shape, dtype=ttorch.int64))
    with pytest.raises(RuntimeError, match=re.escape("Expected target size [1], but got [2]. Input has shape [10].")):
        F.multi_margin_loss(ttorch.ones(10), ttorch.zeros(2, dtype=ttorch.int64))
    with pytest.raises(RuntimeError, match=re.escape("Expected non-empty vector or matrix with optional 0-dim batch "
                                                     "size, but got: [2, 3, 4]")):
        F.multi_margin_loss(ttorch.ones(2, 3, 4), ttorch.zeros(2, dtype=ttorch.int64))
    # a 1-D input with a 0-dim target: mean over the 10 classes but the target's of max(0, 1 - 1 + 1) = 0.9
    np.testing.assert_allclose(F.multi_margin_loss(ttorch.ones(10), ttorch.ones((), dtype=ttorch.int64)).item(), 0.9,
                               rtol=1e-6)


def test_linear_cross_entropy_checks():
    def err(msg, *a, **k):
        with pytest.raises(RuntimeError, match=re.escape(msg)):
            F.linear_cross_entropy(*a, **k)
    long = ttorch.int64
    err("expected equal input and linear_weight last dimensions (in_features), got 5 and 3, respectively",
        ttorch.ones(4, 5), ttorch.ones(2, 3), ttorch.ones(4, 2))
    err("ignore_index cannot be specified when target contains probabilities",
        ttorch.ones(4, 3), ttorch.ones(2, 3), ttorch.ones(4, 2), ignore_index=1)
    err("expected linear_bias shape (2,), got (3,)", ttorch.ones(4, 3), ttorch.ones(2, 3),
        ttorch.ones(4, dtype=long), linear_bias=ttorch.ones(3))
    err("K-dimensional loss defined by linear_weight shape (2, 5, 3) requires batched input, (N, 3), got unbatched "
        "input with shape (3,)", ttorch.ones(3), ttorch.ones(2, 5, 3), ttorch.ones(4, dtype=long))
    err("expected input with dimensionality 1 or 2, got 3", ttorch.ones(2, 2, 3), ttorch.ones(2, 3),
        ttorch.ones(4, dtype=long))
    err("expected linear_weight with dimensionality at least 2, got 1", ttorch.ones(2, 3), ttorch.ones(3),
        ttorch.ones(4, dtype=long))
    with pytest.raises(RuntimeError, match="got 5 and 3, respectively"):
        nn.LinearCrossEntropyLoss(3, 2)(ttorch.ones(4, 5), ttorch.ones(4, 2))
