"""vmap's rules for in-place ops (func/_inplace_rules.py), random ops and ``randomness``
(func/_random_rules.py) and network ops (func/_nn_rules.py): values equal the per-sample loop, nothing
falls back (``FALLBACKS``) or reruns per sample (``LOOPS``), and PyTorch's errors."""
import re

import numpy as np
import pytest

import ttorch
import ttorch.nn as nn
import ttorch.nn.functional as F
from ttorch.func import vmap, grad, jacrev, hessian, functional_call, stack_module_state, _batched


def npy(t):
    return t.detach().cpu().numpy()


@pytest.fixture(autouse=True)
def _counts():
    _batched.FALLBACKS.clear()
    _batched.LOOPS.clear()
    yield


def _no_fallback():
    assert not _batched.FALLBACKS and not _batched.LOOPS, (dict(_batched.FALLBACKS), dict(_batched.LOOPS))


rng = np.random.default_rng(0)
X = rng.standard_normal((3, 5)).astype(np.float32)
Y = rng.standard_normal((3, 5)).astype(np.float32)


def _per_sample(f, *arrays):
    return np.stack([npy(f(*[ttorch.tensor(a[i]) for a in arrays])) for i in range(len(arrays[0]))])


def _setitem_basic(a, b):
    a = a.clone()
    a[1:3] = b[:2]
    a[0] = 5.0
    return a


def _setitem_index(a, b):
    a = a.clone()
    a[ttorch.tensor([0, 4])] = b[1:3]
    return a


def _view_write(a, b):
    a = a.clone()
    a[2:].mul_(b[0]).add_(1)
    a.view(5)[0].fill_(b[1])
    return a


INPLACE = {
    "add_": lambda a, b: a.clone().add_(b, alpha=2),
    "mul_ unbatched": lambda a, b: a.clone().mul_(ttorch.arange(5.0)),
    "copy_": lambda a, b: a.clone().copy_(b),
    "copy_ broadcast": lambda a, b: a.clone().copy_(b[0]),
    "zero_": lambda a, b: a.clone().zero_() + b,
    "fill_ batched value": lambda a, b: a.clone().fill_(b[3]),
    "clamp_": lambda a, b: a.clone().clamp_(-0.5, 0.5),
    "masked_fill_": lambda a, b: a.clone().masked_fill_(b > 0, 3.0),
    "index_add_": lambda a, b: a.clone().index_add_(0, ttorch.tensor([0, 2]), b[:2], alpha=2),
    "index_add_ 2-d": lambda a, b: a.clone().reshape(1, 5).index_add_(1, ttorch.tensor([4, 0, 4]),
                                                                      b[:3].reshape(1, 3)).reshape(5),
    "index_add_ unbatched src": lambda a, b: a.clone().index_add_(0, ttorch.tensor([1]), ttorch.ones(1)),
    "setitem": _setitem_basic,
    "view write": _view_write,
}


@pytest.mark.parametrize("name", list(INPLACE))
def test_inplace_matches_the_loop(name):
    f = INPLACE[name]
    out = vmap(f)(ttorch.tensor(X), ttorch.tensor(Y))
    np.testing.assert_allclose(npy(out), _per_sample(f, X, Y), rtol=1e-6, atol=1e-6)
    _no_fallback()


def test_setitem_with_an_index_tensor_and_writes_into_inputs():
    out = vmap(_setitem_index)(ttorch.tensor(X), ttorch.tensor(Y))
    np.testing.assert_allclose(npy(out), _per_sample(_setitem_index, X, Y))
    assert _batched.FALLBACKS == {"index_put": 1} and not _batched.LOOPS
    x = ttorch.tensor(X)            # as in PyTorch, an in-place op on vmap's input writes the caller's tensor
    vmap(lambda r: r.add_(1))(x)
    np.testing.assert_allclose(npy(x), X + 1)
    xt = ttorch.tensor(X.T.copy())      # a batch dim that is not the first one
    vmap(lambda r: r.mul_(2), in_dims=1)(xt)
    np.testing.assert_allclose(npy(xt), 2 * X.T)


def test_writes_into_views_of_non_contiguous_values():
    def f(a):
        a.t()[0].add_(1)            # views of a transposed value: its own strides
        a.diagonal().mul_(3)
        a[:, ::2][1].fill_(9)
        return a

    def g(a):
        a.t().reshape(-1)[:2].add_(1)     # a reshape had to copy: the write would be lost, so the loop runs
        return a
    y = rng.standard_normal((3, 3, 4)).astype(np.float32)
    for fn, loops in ((f, {}), (g, {"Unbatchable": 1})):
        _batched.LOOPS.clear()
        ref = _per_sample(fn, y.copy())
        x = ttorch.tensor(y.transpose(1, 0, 2).copy())        # batched along dim 1: a non-contiguous value
        out = vmap(fn, in_dims=1)(x)
        np.testing.assert_allclose(npy(out), ref)
        np.testing.assert_allclose(npy(x).transpose(1, 0, 2), ref)      # as in PyTorch, the input is written
        assert _batched.LOOPS == loops


def test_inplace_autograd_per_sample_gradients():
    w = ttorch.tensor(X[0])

    def loss(w, x):
        h = x * 1.0
        h.mul_(w).add_(w ** 2)
        h[0] = x[1] * w[2]
        return (h * h).sum()
    g = vmap(grad(loss), in_dims=(None, 0))(w, ttorch.tensor(Y))
    ref = np.stack([npy(grad(loss)(w, ttorch.tensor(y))) for y in Y])
    np.testing.assert_allclose(npy(g), ref, rtol=1e-6)
    _no_fallback()


_ARITH = re.escape("vmap: inplace arithmetic(self, *extra_args) is not possible because there exists a Tensor `other`")


@pytest.mark.parametrize("f, msg", [
    (lambda z, b: z.clone().mul_(b), _ARITH),
    (lambda z, b: z.clone().copy_(b), _ARITH),
    (lambda z, b: z.clone().masked_fill_(b > 0, 0.0), _ARITH),
    (lambda z, b: z.clone().__setitem__(slice(1, 3), b[:2]), _ARITH),
    (lambda z, b: z.clone().fill_(b[0]), r"vmap: fill_\(self, \*extra_args\) is not possible"),
    (_setitem_index, r"vmap: index_put_\(self, \*extra_args\) is not possible"),
    (lambda z, b: z.clone().index_add_(0, ttorch.tensor([0]), b[:1]), r"vmap: index_add_\(self, \*extra_args\)"),
    (lambda z, b: z.clone().pow_(b), r"vmap: aten::pow_\(self.*at level 1\. Please try to use out-of-place"),
    (lambda z, b: z.clone().add_(b), r"output with shape \[5\] doesn't match the broadcast shape \[3, 5\]"),
])
def test_writing_batched_values_into_an_unbatched_tensor_raises(f, msg):
    z = ttorch.tensor(X[0])
    with pytest.raises(RuntimeError, match=msg):
        vmap(lambda b: f(z, b))(ttorch.tensor(Y))
    assert not _batched.LOOPS
    full = ("vmap: inplace arithmetic(self, *extra_args) is not possible because there exists a Tensor `other` in "
            "extra_args that has more elements than `self`. This happened due to `other` being vmapped over but "
            "`self` not being vmapped over in a vmap. Please try to use out-of-place operators instead of inplace "
            "arithmetic. If said operator is being called inside the PyTorch framework, please file a bug report "
            "instead.")
    with pytest.raises(RuntimeError) as e:
        vmap(lambda b: z.clone().mul_(b))(ttorch.tensor(Y))
    assert str(e.value) == full


# ------------------------------------------------------------------------------------ randomness
P = ttorch.tensor(rng.uniform(0.2, 0.8, (4, 6)).astype(np.float32))
Z = ttorch.tensor(rng.uniform(0.2, 0.8, 6).astype(np.float32))
RANDOM = {      # name: (function of one sample p, refused with a batched input under "same")
    "rand": (lambda p: ttorch.rand(6) + 0 * p, False),
    "randn": (lambda p: ttorch.randn(2, 3).reshape(6) + 0 * p, False),
    "randint": (lambda p: ttorch.randint(0, 1000, (6,)).float() + 0 * p, False),
    "randperm": (lambda p: ttorch.randperm(6).float() + 0 * p, False),
    "normal size": (lambda p: ttorch.normal(0.0, 1.0, size=(6,)) + 0 * p, False),
    "rand_like": (lambda p: ttorch.rand_like(p), False),
    "randn_like": (lambda p: ttorch.randn_like(p), False),
    "randint_like": (lambda p: ttorch.randint_like(p, 1000), False),
    "bernoulli p=": (lambda p: ttorch.bernoulli(p, 0.5) * 10 + ttorch.rand_like(p), False),
    "uniform_": (lambda p: p.clone().uniform_(), False),
    "normal_": (lambda p: p.clone().normal_(), False),
    "dropout": (lambda p: F.dropout(p + 1, 0.5) + ttorch.rand_like(p), False),
    "normal": (lambda p: ttorch.normal(p, 1.0), True),
    "bernoulli": (lambda p: ttorch.bernoulli(p) * 10 + ttorch.rand_like(p), True),
    "multinomial": (lambda p: ttorch.multinomial(p, 6).float() + ttorch.rand(6), True),
}


@pytest.mark.parametrize("name", list(RANDOM))
def test_randomness_modes(name):
    f, refused = RANDOM[name]
    with pytest.raises(RuntimeError, match="vmap: called random operation while in randomness error mode"):
        vmap(f)(P)
    diff = npy(vmap(f, randomness="different")(P))
    assert diff.shape == (4, 6) and len({tuple(r) for r in diff}) == 4     # each sample its own draw
    if refused:
        with pytest.raises(RuntimeError, match="Vmap does not currently support same randomness with a batched "
                                               "tensor input. Please file an issue with functorch"):
            vmap(f, randomness="same")(P)
    else:
        same = npy(vmap(f, randomness="same")(P))
        if name in ("uniform_", "normal_", "rand_like", "randn_like", "randint_like", "rand", "randn",
                    "randint", "randperm", "normal size"):
            assert np.all(same == same[0])          # one draw broadcast over the batch
    _no_fallback()


def test_randomness_draws():
    # "different" is one draw of the batched shape: the same numbers as drawing the whole batch at once
    ttorch.manual_seed(3)
    diff = npy(vmap(lambda p: ttorch.rand(6) + 0 * p, randomness="different")(P))
    ttorch.manual_seed(3)
    np.testing.assert_array_equal(diff, npy(ttorch.rand(4, 6)))
    ttorch.manual_seed(3)
    same = npy(vmap(lambda p: ttorch.rand(6) + 0 * p, randomness="same")(P))
    np.testing.assert_array_equal(same, np.broadcast_to(diff[0], (4, 6)))
    # the same dropout mask for every sample, scaled by 1 / (1 - p)
    m = npy(vmap(lambda p: F.dropout(ttorch.ones(64) + 0 * p[0], 0.25), randomness="same")(P))
    assert np.all(m == m[0]) and np.all((m == 0) | np.isclose(m, 4 / 3)) and 0 < (m[0] == 0).sum() < 64
    # bernoulli of batched probabilities, multinomial rows: each sample's own
    b = npy(vmap(lambda p: ttorch.bernoulli(p * 0 + ttorch.tensor([0.0, 1.0, 0.0, 1.0, 1.0, 0.0])),
                 randomness="different")(P))
    np.testing.assert_array_equal(b, np.broadcast_to([0, 1, 0, 1, 1, 0], (4, 6)))
    w = ttorch.tensor(np.eye(4, 6, dtype=np.float32))
    np.testing.assert_array_equal(npy(vmap(lambda r: ttorch.multinomial(r, 1), randomness="different")(w)),
                                  np.arange(4)[:, None])
    # dropout eval is no random op; dropout2d's channels per sample
    vmap(lambda p: F.dropout(p, 0.5, training=False))(P)
    d2 = npy(vmap(lambda p: F.dropout2d(ttorch.ones(1, 8, 2, 2) + 0 * p[0], 0.5),
                  randomness="different")(P))
    assert d2.shape == (4, 1, 8, 2, 2) and np.all(d2 == d2[..., :1, :1])
    _no_fallback()


def test_randomness_errors():
    with pytest.raises(RuntimeError, match="vmap: Cannot ask for different inplace randomness on an unbatched "
                                           "tensor. This will appear like same randomness."):
        vmap(lambda p: ttorch.empty(6).normal_() + p, randomness="different")(P)
    with pytest.raises(RuntimeError, match="Only allowed values for randomness are 'error', 'different', or 'same'"):
        vmap(lambda p: p, randomness="sometimes")(P)
    z = ttorch.full((6,), 0.5)
    with pytest.raises(RuntimeError, match=re.escape("vmap: inplace bernoulli(self, *extra_args) is not possible")):
        vmap(lambda p: z.clone().bernoulli_(p), randomness="different")(P)
    with pytest.raises(RuntimeError, match="Vmap does not currently support same randomness with a batched tensor"):
        vmap(lambda p: z.clone().bernoulli_(p), randomness="same")(P)
    # unbatched in-place randomness under "same" and unbatched probabilities under "different" are fine
    same = npy(vmap(lambda p: ttorch.empty(6).uniform_() + 0 * p, randomness="same")(P))
    assert np.all(same == same[0])
    diff = npy(vmap(lambda p: ttorch.bernoulli(Z) + ttorch.rand(6) + 0 * p, randomness="different")(P))
    assert len({tuple(r) for r in diff}) == 4


# ------------------------------------------------------------------------------------ pipelines
class _CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 4, 3, padding=1)
        self.c2 = nn.Conv1d(4, 4, 3, groups=2)
        self.emb = nn.Embedding(10, 4, padding_idx=0)
        self.ln = nn.LayerNorm(4)
        self.fc = nn.Linear(12, 3)

    def forward(self, x, tok):
        h = F.max_pool2d(F.relu(self.c1(x)), 2)                           # (N, 4, 3, 3)
        h = F.avg_pool2d(h, 3, stride=1, padding=1)
        h = self.c2(h.flatten(2).mean(-1, keepdim=True).expand(-1, -1, 4))   # (N, 4, 2)
        return self.fc(ttorch.cat([h.flatten(1), self.ln(self.emb(tok)).mean(1)], 1))


def test_per_sample_gradients_of_a_cnn():
    ttorch.manual_seed(0)
    cnn = _CNN()
    params = {k: v.detach() for k, v in cnn.named_parameters()}
    x, tok, y = ttorch.randn(3, 1, 6, 6), ttorch.tensor([[1, 0, 4], [2, 2, 9], [0, 5, 1]]), ttorch.tensor([0, 2, 1])

    def loss(p, x, t, y):
        return F.cross_entropy(functional_call(cnn, p, (x.unsqueeze(0), t.unsqueeze(0))), y.unsqueeze(0))
    g = vmap(grad(loss), in_dims=(None, 0, 0, 0))(params, x, tok, y)
    _no_fallback()
    for i in range(3):
        gi = grad(loss)(params, x[i], tok[i], y[i])
        for k in gi:
            np.testing.assert_allclose(npy(g[k][i]), npy(gi[k]), rtol=1e-5, atol=1e-6, err_msg=k)
    assert np.all(npy(g["emb.weight"])[:, 0] == 0)        # padding_idx's row: no gradient


@pytest.mark.parametrize("groups, dims", [(1, (0, 0, 0)), (2, (0, None, None)), (2, (None, 0, 0)), (1, (0, 0, None))])
def test_conv_and_pool_rules(groups, dims):
    x, w, b = ttorch.randn(3, 2, 4, 5, 5), ttorch.randn(3, 6, 4 // groups, 3, 3), ttorch.randn(3, 6)
    args = [t if d == 0 else t[0] for t, d in zip((x, w, b), dims)]

    def f(x, w, b):
        y, i = F.max_pool2d(F.conv2d(x, w, b, stride=2, padding=1, groups=groups), 2, return_indices=True)
        return y, i
    y, i = vmap(f, in_dims=dims)(*args)
    ref = [f(*(a[k] if d == 0 else a for a, d in zip(args, dims))) for k in range(3)]
    np.testing.assert_allclose(npy(y), np.stack([npy(r[0]) for r in ref]), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(npy(i), np.stack([npy(r[1]) for r in ref]))
    _no_fallback()

    def t(x, w, b):         # conv_transpose2d: the weight is (C_in, C_out / groups, kh, kw)
        return F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1, groups=groups)
    wt = ttorch.randn(3, 4, 6 // groups, 3, 3)
    args = [v if d == 0 else v[0] for v, d in zip((x, wt, b), dims)]
    out = vmap(t, in_dims=dims)(*args)
    ref = np.stack([npy(t(*(a[k] if d == 0 else a for a, d in zip(args, dims)))) for k in range(3)])
    np.testing.assert_allclose(npy(out), ref, rtol=1e-5, atol=1e-5)
    _no_fallback()


def test_ensemble_with_dropout_and_jacobians():
    ttorch.manual_seed(1)
    models = [nn.Sequential(nn.Linear(5, 8), nn.GELU(), nn.Dropout(0.5), nn.Linear(8, 2)) for _ in range(3)]
    params, buffers = stack_module_state(models)
    base = models[0]
    x = ttorch.randn(4, 5)

    def run(p, b, x):
        return functional_call(base, (p, b), (x,))
    with pytest.raises(RuntimeError, match="randomness error mode"):
        vmap(run, in_dims=(0, 0, None))(params, buffers, x)
    out = vmap(run, in_dims=(0, 0, None), randomness="different")(params, buffers, x)
    assert out.shape == (3, 4, 2)
    base.eval()         # without dropout: each model's own output
    out = vmap(run, in_dims=(0, 0, None))(params, buffers, x)
    for k, m in enumerate(models):
        m.eval()
        np.testing.assert_allclose(npy(out[k]), npy(m(x)), rtol=1e-5, atol=1e-6)
    v = ttorch.tensor(X[0].astype(np.float64))
    jac = jacrev(lambda t: F.log_softmax(ttorch.sin(t) * t.sum(), 0))(v)
    hes = hessian(lambda t: (ttorch.sin(t) ** 2).sum() * t.norm())(v)
    assert jac.shape == (5, 5) and hes.shape == (5, 5)
    np.testing.assert_allclose(npy(hes), npy(hes).T, rtol=1e-10)
    _no_fallback()


def test_on_both_devices(device):
    x, y = ttorch.tensor(X, device=device), ttorch.tensor(Y, device=device)
    for name in ("add_", "copy_ broadcast", "fill_ batched value", "masked_fill_", "setitem", "view write"):
        f = INPLACE[name]
        np.testing.assert_allclose(npy(vmap(f)(x, y)), _per_sample(f, X, Y), rtol=1e-6, atol=1e-6, err_msg=name)
    p = P.to(device)
    for mode in ("different", "same"):
        d = npy(vmap(lambda r: F.dropout(ttorch.ones(16, device=device) + 0 * r[0], 0.5)
                     + ttorch.rand(16, device=device), randomness=mode)(p))
        assert d.shape == (4, 16) and (len({tuple(r) for r in d}) == 4 if mode == "different" else np.all(d == d[0]))
    idx = ttorch.tensor([0, 2], device=device)
    out = vmap(lambda a, b: a.clone().index_add_(0, idx, b[:2], alpha=2))(x, y)
    ref = X.copy()
    ref[:, [0, 2]] += 2 * Y[:, :2]
    np.testing.assert_allclose(npy(out), ref, rtol=1e-6)
    xc, w = ttorch.randn(2, 1, 2, 4, 4, device=device), ttorch.randn(2, 3, 2, 3, 3, device=device)
    out = vmap(lambda a, b: F.max_pool2d(F.conv2d(a, b, padding=1), 2))(xc, w)
    ref = [F.max_pool2d(F.conv2d(xc[k], w[k], padding=1), 2) for k in range(2)]
    np.testing.assert_allclose(npy(out), np.stack([npy(r) for r in ref]), rtol=1e-5, atol=1e-5)
    _no_fallback()


def test_batch_norm_and_repeat_rules():
    ttorch.manual_seed(2)
    x, rm, rv = ttorch.randn(3, 2, 4, 5), ttorch.randn(3, 4), ttorch.rand(3, 4) + 0.5
    w, b = ttorch.randn(3, 4), ttorch.randn(3, 4)
    cases = [
        (lambda a, m, v, w, b: F.batch_norm(a, m, v, w, b, training=False), (0, None, None, None, None)),
        (lambda a, m, v, w, b: F.batch_norm(a, m, v, w, b, training=False), (0, 0, 0, 0, 0)),     # an ensemble
        (lambda a, m, v, w, b: F.batch_norm(a, None, None, w, b, training=True), (0, None, None, 0, None)),
        (lambda a, m, v, w, b: F.instance_norm(a, weight=w, bias=b), (0, None, None, 0, 0)),
        (lambda a, m, v, w, b: a.repeat(2, 1, 3).sum((0, 2)) * w.repeat(2)[3:7], (0, None, None, 0, None)),
    ]
    for f, dims in cases:
        args = [t if d == 0 else t[0] for t, d in zip((x, rm, rv, w, b), dims)]
        out = vmap(f, in_dims=dims)(*args)
        ref = np.stack([npy(f(*(a[i] if d == 0 else a for a, d in zip(args, dims)))) for i in range(3)])
        np.testing.assert_allclose(npy(out), ref, rtol=1e-5, atol=1e-5)
    _no_fallback()

    def loss(w, b, a):      # per-sample gradients through batch statistics
        return (F.batch_norm(a, None, None, w, b, training=True) ** 3).sum()
    g = vmap(grad(loss, argnums=(0, 1)), in_dims=(None, None, 0))(w[0], b[0], x)
    for i in range(3):
        gi = grad(loss, argnums=(0, 1))(w[0], b[0], x[i])
        for j in range(2):
            np.testing.assert_allclose(npy(g[j][i]), npy(gi[j]), rtol=1e-5, atol=1e-5)
    _no_fallback()
    # training with running statistics: every sample would write them (PyTorch refuses): per sample here
    vmap(lambda a: F.batch_norm(a, rm[0].clone(), rv[0].clone(), training=True))(x)
    assert _batched.FALLBACKS == {"batch_norm": 1}
