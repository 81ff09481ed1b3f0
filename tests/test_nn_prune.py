"""``nn.utils.prune``: which entries and channels each method prunes (against NumPy), iterative pruning
(the later method sees what the earlier kept), the reparametrization (``_orig``, ``_mask``, the hook,
gradients, state-dict keys), ``remove``, ``global_unstructured``, PyTorch's errors, and both devices."""
import numpy as np
import pytest

import ttorch
import ttorch.nn as nn
from ttorch.nn.utils import prune


def npy(t):
    return t.detach().cpu().numpy()


def linear(w, device="cpu"):
    m = nn.Linear(w.shape[1], w.shape[0]).to(device)
    with ttorch.no_grad():
        m.weight.copy_(ttorch.tensor(w, dtype=ttorch.float32, device=device))
    return m


def test_l1_unstructured_and_the_reparametrization(device):
    w = np.random.default_rng(0).standard_normal((6, 5)).astype(np.float32)
    m = linear(w, device)
    prune.l1_unstructured(m, "weight", amount=0.3)                     # round(0.3 * 30) = 9 entries
    smallest = np.argsort(np.abs(w).ravel())[:9]
    want = w.ravel().copy()
    want[smallest] = 0
    np.testing.assert_array_equal(npy(m.weight).ravel(), want)
    assert list(m.state_dict()) == ["bias", "weight_orig", "weight_mask"]
    assert prune.is_pruned(m) and not prune.is_pruned(nn.Linear(2, 2))
    x = ttorch.randn(3, 5, device=device)
    m(x).sum().backward()                                              # the gradient reaches _orig, masked
    np.testing.assert_array_equal(npy(m.weight_orig.grad).ravel()[smallest], 0)
    with ttorch.no_grad():
        m.weight_orig.add_(1.0)                                        # the hook recomputes before each call
    m(x)
    np.testing.assert_array_equal(npy(m.weight).ravel(), np.where(want == 0, 0, w.ravel() + 1))
    prune.l1_unstructured(m, "weight", amount=5)                       # iterative: 5 more of the 21 left
    assert int((npy(m.weight_mask) == 0).sum()) == 14
    assert len(m._forward_pre_hooks) == 1
    prune.remove(m, "weight")
    assert list(m.state_dict()) == ["bias", "weight"] and isinstance(m.weight, nn.Parameter)
    assert int((npy(m.weight) == 0).sum()) == 14 and not prune.is_pruned(m)
    with pytest.raises(ValueError, match="Parameter 'weight' of module .* has to be pruned before pruning can be "
                                         "removed"):
        prune.remove(m, "weight")


def test_ln_structured_and_combined_with_unstructured(device):
    r = np.random.default_rng(1)
    w = r.standard_normal((4, 3, 2, 2)).astype(np.float32)
    c = nn.Conv2d(3, 4, 2).to(device)
    with ttorch.no_grad():
        c.weight.copy_(ttorch.tensor(w, device=device))
    prune.ln_structured(c, "weight", amount=2, n=2, dim=0)             # the 2 filters of least L2 norm
    norms = np.sqrt((w ** 2).sum(axis=(1, 2, 3)))
    gone = np.argsort(norms)[:2]
    mask = npy(c.weight_mask)
    assert (mask[gone] == 0).all() and (np.delete(mask, gone, axis=0) == 1).all()
    prune.ln_structured(c, "weight", amount=1, n=1, dim=1)             # one input channel of the rest
    l1 = np.abs(np.delete(w, gone, axis=0)).sum(axis=(0, 2, 3))
    mask = npy(c.weight_mask)
    assert (mask[:, np.argmin(l1)] == 0).all() and int(mask.sum()) == 2 * 2 * 2 * 2
    prune.l1_unstructured(c, "weight", amount=3)                       # 3 entries of the 16 left
    assert int(npy(c.weight_mask).sum()) == 13
    assert len(next(iter(c._forward_pre_hooks.values()))) == 3        # one PruningContainer of three methods


def test_random_methods_are_seeded():
    ttorch.manual_seed(3)
    a = prune.random_unstructured(nn.Linear(10, 8), "weight", amount=0.25)
    ttorch.manual_seed(3)
    b = prune.random_unstructured(nn.Linear(10, 8), "weight", amount=0.25)
    np.testing.assert_array_equal(npy(a.weight_mask), npy(b.weight_mask))
    assert int((npy(a.weight_mask) == 0).sum()) == 20
    s = prune.random_structured(nn.Linear(10, 8), "weight", amount=3, dim=0)
    rows = npy(s.weight_mask).sum(axis=1)
    assert sorted(rows.tolist()) == [0.0] * 3 + [10.0] * 5


def test_global_custom_identity_and_scores(device):
    r = np.random.default_rng(2)
    wa, wb = r.standard_normal((6, 5)).astype(np.float32), r.standard_normal((4, 3)).astype(np.float32)
    a, b = linear(wa, device), linear(wb, device)
    prune.global_unstructured([(a, "weight"), (b, "weight")], pruning_method=prune.L1Unstructured, amount=0.5)
    both = np.concatenate([np.abs(wa).ravel(), np.abs(wb).ravel()])
    cut = np.sort(both)[21]                                            # 21 of the 42 entries pruned
    np.testing.assert_array_equal(npy(a.weight_mask), (np.abs(wa) >= cut).astype(np.float32))
    np.testing.assert_array_equal(npy(b.weight_mask), (np.abs(wb) >= cut).astype(np.float32))
    mask = (r.uniform(size=(6, 5)) > 0.5).astype(np.float32)
    d = prune.custom_from_mask(linear(wa, device), "weight", ttorch.tensor(mask, device=device))
    np.testing.assert_array_equal(npy(d.weight), wa * mask)
    i = prune.identity(linear(wa, device), "weight")
    np.testing.assert_array_equal(npy(i.weight), wa)
    scores = ttorch.tensor(np.arange(30, dtype=np.float32).reshape(6, 5), device=device)
    s = prune.l1_unstructured(linear(wa, device), "weight", amount=4, importance_scores=scores)
    np.testing.assert_array_equal(npy(s.weight_mask).ravel(), [0] * 4 + [1] * 26)
    t = ttorch.tensor(wa, device=device)
    np.testing.assert_array_equal(npy(prune.L1Unstructured(amount=0.5).prune(t)),
                                  np.where(np.abs(wa) >= np.sort(np.abs(wa).ravel())[15], wa, 0))


def test_errors():
    with pytest.raises(TypeError, match="Invalid type for amount"):
        prune.l1_unstructured(nn.Linear(2, 2), "weight", amount="half")
    with pytest.raises(ValueError, match="should either be a float in the range \\[0, 1\\] or a non-negative integer"):
        prune.l1_unstructured(nn.Linear(2, 2), "weight", amount=1.5)
    m = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="amount=5 should be smaller than the number of parameters to prune=4"):
        prune.l1_unstructured(m, "weight", amount=5)
    assert sorted(m.state_dict()) == ["bias", "weight"] and isinstance(m.weight, nn.Parameter)    # as it was
    with pytest.raises(ValueError, match="Structured pruning can only be applied to multidimensional tensors"):
        prune.ln_structured(nn.Linear(2, 2), "bias", amount=1, n=2, dim=0)
    with pytest.raises(TypeError, match='Only "unstructured" PRUNING_TYPE supported'):
        prune.global_unstructured([(nn.Linear(2, 2), "weight")], pruning_method=prune.RandomStructured, amount=1)
    with pytest.raises(ValueError, match="importance_scores should have the same shape as parameter weight"):
        prune.l1_unstructured(nn.Linear(2, 2), "weight", amount=1, importance_scores=ttorch.ones(3))


def test_docstring_examples():
    import doctest
    res = doctest.testmod(prune, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0 and res.attempted > 0
