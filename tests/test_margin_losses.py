"""``multi_margin_loss`` and ``multilabel_margin_loss`` (and their modules) against direct float64 loops,
their gradients by gradcheck, both devices, and PyTorch's argument errors."""
import numpy as np
import pytest

import ttorch
import ttorch.nn as nn
import ttorch.nn.functional as F
from ttorch.autograd import gradcheck


def npy(t):
    return t.detach().cpu().numpy()


def ref_multi_margin(x, y, p, margin, w):
    out = np.zeros(len(x))
    for n in range(len(x)):
        for i in range(x.shape[1]):
            if i != y[n]:
                out[n] += (w[y[n]] if w is not None else 1.0) * max(0.0, margin - x[n, y[n]] + x[n, i]) ** p
    return out / x.shape[1]


def ref_multilabel(x, t):
    out = np.zeros(len(x))
    for n in range(len(x)):
        targets = []
        for v in t[n]:
            if v == -1:
                break
            targets.append(v)
        others = [i for i in range(x.shape[1]) if i not in targets]
        out[n] = sum(max(0.0, 1 - (x[n, j] - x[n, i])) for j in targets for i in others) / x.shape[1]
    return out


def test_multi_margin_loss(device):
    r = np.random.default_rng(0)
    x, y, w = r.standard_normal((5, 6)), r.integers(0, 6, 5), r.uniform(0.5, 2, 6)
    tx, ty, tw = (ttorch.tensor(a, device=device) for a in (x, y, w))
    for p, margin, weight in ((1, 1.0, None), (2, 0.5, w), (1, 2.0, w)):
        got = F.multi_margin_loss(tx, ty, p=p, margin=margin, weight=None if weight is None else tw, reduction="none")
        np.testing.assert_allclose(npy(got), ref_multi_margin(x, y, p, margin, weight), rtol=1e-12)
    np.testing.assert_allclose(npy(nn.MultiMarginLoss(p=2)(tx, ty)), ref_multi_margin(x, y, 2, 1.0, None).mean())
    np.testing.assert_allclose(npy(F.multi_margin_loss(tx[1], ty[1])),
                               ref_multi_margin(x[1:2], y[1:2], 1, 1.0, None)[0])
    with pytest.raises(ValueError, match="only p == 1 and p == 2 supported"):
        nn.MultiMarginLoss(p=3)
    if device == "cpu":
        assert gradcheck(lambda v: F.multi_margin_loss(v, ty, p=2, weight=tw), (ttorch.tensor(x, requires_grad=True),))


def test_multilabel_margin_loss(device):
    r = np.random.default_rng(1)
    x = r.standard_normal((5, 6))
    t = np.array([[3, 0, -1, 1, 2, 5], [5, -1, 0, 0, 0, 0], [0, 1, 2, 3, 4, 5], [-1, 1, 1, 1, 1, 1],
                  [2, 2, -1, 0, 0, 0]])
    tx, tt = ttorch.tensor(x, device=device), ttorch.tensor(t, device=device)
    np.testing.assert_allclose(npy(F.multilabel_margin_loss(tx, tt, reduction="none")), ref_multilabel(x, t),
                               rtol=1e-12)
    np.testing.assert_allclose(npy(nn.MultiLabelMarginLoss(reduction="sum")(tx, tt)), ref_multilabel(x, t).sum())
    np.testing.assert_allclose(npy(F.multilabel_margin_loss(tx[0], tt[0])), ref_multilabel(x[:1], t[:1])[0])
    with pytest.raises(RuntimeError, match="inconsistent target size: \\[1, 6\\] for input of size: \\[5, 6\\]"):
        F.multilabel_margin_loss(tx, tt[:1])
    if device == "cpu":
        assert gradcheck(lambda v: F.multilabel_margin_loss(v, tt), (ttorch.tensor(x, requires_grad=True),))


def test_docstring_examples():
    import doctest
    from ttorch.nn.functional import loss
    res = doctest.testmod(loss, extraglobs={"ttorch": ttorch, "F": F}, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0 and res.attempted > 0
