"""Weight and spectral normalization (the hook forms and ``parametrizations``) and ``parametrize``:
values against NumPy (norms, singular values), gradients by gradcheck, PyTorch's state-dict keys,
errors and messages, and parity of the simulated cuda device with cpu."""
import copy
import warnings

import numpy as np
import pytest

import ttorch
import ttorch.nn as nn
from ttorch.autograd import gradcheck
from ttorch.nn.utils import parametrize, parametrizations as P


def t64(a, grad=False):
    return ttorch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def npy(t):
    return t.detach().cpu().numpy()


def sigma_max(w):
    return np.linalg.svd(np.asarray(w, dtype=np.float64).reshape(w.shape[0], -1), compute_uv=False)[0]


def hook_weight_norm(module, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return nn.utils.weight_norm(module, **kw)


# ------------------------------------------------------------------------------ norm_except_dim, _weight_norm
@pytest.mark.parametrize("shape,dim", [((4, 3), 0), ((4, 3), 1), ((2, 3, 5), 1), ((2, 3, 5), 2), ((2, 3, 5), -1),
                                       ((6,), 0), ((3, 4), -2)])
def test_norm_except_dim_against_numpy(shape, dim):
    a = np.random.default_rng(1).standard_normal(shape)
    got = npy(ttorch.norm_except_dim(t64(a), 2, dim))
    if dim == -1:
        want = np.linalg.norm(a)
    else:
        d = dim % a.ndim
        want = np.sqrt((a ** 2).sum(axis=tuple(i for i in range(a.ndim) if i != d), keepdims=True))
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert got.shape == np.shape(want)
    r = np.random.default_rng(2)
    v, g = t64(a, grad=True), t64(np.abs(r.standard_normal(np.shape(want))) + 0.5, grad=True)
    assert gradcheck(lambda v, g: ttorch._weight_norm(v, g, dim), (v, g))


# ------------------------------------------------------------------------------ weight_norm
def test_weight_norm_hook_form(device):
    m = nn.Linear(5, 4).to(device)
    w0 = npy(m.weight)
    with pytest.warns(FutureWarning, match="parametrizations.weight_norm"):
        nn.utils.weight_norm(m)
    assert sorted(m.state_dict()) == ["bias", "weight_g", "weight_v"]
    assert m.weight_g.shape == (4, 1) and not isinstance(m.weight, nn.Parameter)
    np.testing.assert_allclose(npy(m.weight), w0, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(npy(m.weight_g).ravel(), np.linalg.norm(w0, axis=1), rtol=1e-6)
    with ttorch.no_grad():
        m.weight_g.mul_(2.0)          # the magnitudes scale the rows; the forward sees it
    x = ttorch.randn(3, 5, device=device)
    np.testing.assert_allclose(npy(m(x)), npy(x) @ (2 * w0).T + npy(m.bias), rtol=1e-5, atol=1e-5)
    m(x).sum().backward()
    assert m.weight_g.grad is not None and m.weight_v.grad.shape == (4, 5)
    with pytest.raises(RuntimeError, match="Cannot register two weight_norm hooks on the same parameter weight"):
        hook_weight_norm(m)
    nn.utils.remove_weight_norm(m)
    assert sorted(m.state_dict()) == ["bias", "weight"] and isinstance(m.weight, nn.Parameter)
    np.testing.assert_allclose(npy(m.weight), 2 * w0, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="weight_norm of 'weight' not found in"):
        nn.utils.remove_weight_norm(m)


@pytest.mark.parametrize("dim,g_shape", [(0, (4, 1, 1, 1)), (1, (1, 3, 1, 1)), (None, ())])
def test_weight_norm_dims_on_a_convolution(dim, g_shape):
    a, b = nn.Conv2d(3, 4, 3), nn.Conv2d(3, 4, 3)
    b.load_state_dict(a.state_dict())
    hook_weight_norm(a, dim=dim)
    P.weight_norm(b, dim=dim)
    assert a.weight_g.shape == g_shape and b.parametrizations.weight.original0.shape == g_shape
    x = ttorch.randn(2, 3, 6, 6)
    ya, yb = a(x), b(x)
    np.testing.assert_allclose(npy(ya), npy(yb), rtol=1e-6, atol=1e-6)
    ya.square().sum().backward()
    yb.square().sum().backward()
    np.testing.assert_allclose(npy(a.weight_g.grad), npy(b.parametrizations.weight.original0.grad), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(npy(a.weight_v.grad), npy(b.parametrizations.weight.original1.grad), rtol=1e-5,
                               atol=1e-6)


def test_weight_norm_parametrization_loads_a_hook_form_state_dict():
    old = hook_weight_norm(nn.Linear(6, 3))
    with ttorch.no_grad():
        old.weight_g.mul_(3.0)
    new = P.weight_norm(nn.Linear(6, 3))
    assert sorted(new.state_dict()) == ["bias", "parametrizations.weight.original0",
                                        "parametrizations.weight.original1"]
    new.load_state_dict(old.state_dict())
    x = ttorch.randn(2, 6)
    old(x)                              # the hook recomputes the weight before the forward
    np.testing.assert_allclose(npy(new.weight), npy(old.weight), rtol=1e-6)
    np.testing.assert_allclose(npy(new(x)), npy(old(x)), rtol=1e-6)


# ------------------------------------------------------------------------------ spectral_norm
@pytest.mark.parametrize("form", ["hook", "parametrization"])
def test_spectral_norm_reaches_unit_sigma(form, device):
    r = np.random.default_rng(3)
    m = nn.Linear(7, 5).to(device)
    with ttorch.no_grad():
        m.weight.copy_(ttorch.tensor(r.standard_normal((5, 7)) * 3, dtype=ttorch.float32))
    raw = npy(m.weight)
    (nn.utils.spectral_norm if form == "hook" else P.spectral_norm)(m)
    x = ttorch.randn(2, 7, device=device)
    for _ in range(30):                  # one power step per training-mode forward
        y = m(x)
    np.testing.assert_allclose(sigma_max(npy(m.weight)), 1.0, rtol=1e-3)
    np.testing.assert_allclose(npy(m.weight), raw / sigma_max(raw), rtol=1e-3, atol=1e-4)
    y.sum().backward()
    orig = m.weight_orig if form == "hook" else m.parametrizations.weight.original
    assert orig.grad is not None and orig.grad.shape == (5, 7)
    u = m.weight_u if form == "hook" else m.parametrizations.weight[0]._u
    before = npy(u).copy()
    m.eval()
    m(x)
    np.testing.assert_array_equal(npy(u), before)       # eval: no power step
    m.train()
    m(x)
    keys = sorted(m.state_dict())
    if form == "hook":
        assert keys == ["bias", "weight_orig", "weight_u", "weight_v"]
        nn.utils.remove_spectral_norm(m)
        with pytest.raises(ValueError, match="spectral_norm of 'weight' not found"):
            nn.utils.remove_spectral_norm(m)
    else:
        assert keys == ["bias", "parametrizations.weight.0._u", "parametrizations.weight.0._v",
                        "parametrizations.weight.original"]
        parametrize.remove_parametrizations(m, "weight")
    assert sorted(m.state_dict()) == ["bias", "weight"] and isinstance(m.weight, nn.Parameter)
    np.testing.assert_allclose(sigma_max(npy(m.weight)), 1.0, rtol=1e-3)


def test_spectral_norm_gradient_matches_the_closed_form():
    """d(W / sigma)/dW with u, v fixed: gradcheck through the parametrization in float64."""
    m = nn.Linear(4, 3).double()
    P.spectral_norm(m)
    m.eval()                              # u, v fixed: the function of W gradcheck differentiates
    sn = m.parametrizations.weight[0]
    assert gradcheck(lambda w: sn(w), (t64(np.random.default_rng(4).standard_normal((3, 4)), grad=True),))


def test_spectral_norm_dims_and_errors():
    t = nn.ConvTranspose2d(3, 5, 2)       # weight (in, out, kh, kw): normalized along dim 1
    nn.utils.spectral_norm(t)
    assert t.weight_u.shape == (5,) and t.weight_v.shape == (3 * 2 * 2,)
    c = P.spectral_norm(nn.Conv1d(2, 6, 3))
    assert c.parametrizations.weight[0]._u.shape == (6,)
    with pytest.raises(RuntimeError, match="Cannot register two spectral_norm hooks"):
        nn.utils.spectral_norm(t)
    with pytest.raises(ValueError, match="Expected n_power_iterations to be positive"):
        nn.utils.spectral_norm(nn.Linear(2, 2), n_power_iterations=0)
    with pytest.raises(IndexError, match="Dimension out of range"):
        P.spectral_norm(nn.Linear(2, 2), dim=2)
    with pytest.raises(ValueError, match="has no parameter or buffer with name 'kernel'"):
        P.spectral_norm(nn.Linear(2, 2), name="kernel")
    b = P.spectral_norm(nn.Linear(3, 4), name="bias")     # a vector is normalized, no power iteration
    np.testing.assert_allclose(np.linalg.norm(npy(b.bias)), 1.0, rtol=1e-6)


# ------------------------------------------------------------------------------ parametrize
class Symmetric(nn.Module):
    def forward(self, x):
        return x.triu() + x.triu(1).transpose(-1, -2)

    def right_inverse(self, a):
        return a.triu()


class Scale(nn.Module):
    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return 2 * x

    def right_inverse(self, a):
        return a / 2


def test_register_chain_assign_cache_remove():
    m = nn.Linear(3, 3)
    w0 = npy(m.weight)
    parametrize.register_parametrization(m, "weight", Symmetric())
    assert type(m).__name__ == "ParametrizedLinear" and parametrize.type_before_parametrizations(m) is nn.Linear
    assert parametrize.is_parametrized(m) and parametrize.is_parametrized(m, "weight")
    assert not parametrize.is_parametrized(m, "bias")
    np.testing.assert_allclose(npy(m.weight), np.triu(w0) + np.triu(w0, 1).T)
    scale = Scale()
    parametrize.register_parametrization(m, "weight", scale)      # chained after Symmetric
    np.testing.assert_allclose(npy(m.weight), 2 * (np.triu(w0) + np.triu(w0, 1).T), rtol=1e-6)
    s = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 5.0], [3.0, 5.0, 6.0]], dtype=np.float32)
    orig = m.parametrizations.weight.original
    m.weight = ttorch.tensor(s)                                   # right_inverse of each, last first
    assert m.parametrizations.weight.original is orig             # the same parameter, new values
    np.testing.assert_allclose(npy(m.weight), s, rtol=1e-6)
    scale.calls = 0
    with parametrize.cached():
        m.weight, m.weight
        assert scale.calls == 1
    m.weight
    assert scale.calls == 2
    opt = ttorch.optim.SGD(m.parameters(), lr=0.1)
    loss = m(ttorch.randn(4, 3)).square().sum()
    loss.backward()
    opt.step()
    np.testing.assert_allclose(npy(m.weight), npy(m.weight).T)   # still symmetric after a step
    c = copy.deepcopy(m)
    np.testing.assert_allclose(npy(c.weight), npy(m.weight))
    parametrize.remove_parametrizations(m, "weight", leave_parametrized=False)
    assert type(m) is nn.Linear and "parametrizations" not in dict(m.named_children())
    np.testing.assert_allclose(npy(m.weight), np.triu(npy(c.weight) / 2), rtol=1e-6)     # the original
    with pytest.raises(ValueError, match="does not have a parametrization on weight"):
        parametrize.remove_parametrizations(m, "weight")


def test_parametrize_errors_and_buffers():
    m = nn.Linear(3, 2)
    with pytest.raises(ValueError, match="does not have a parameter, a buffer, or a parametrized element with name"):
        parametrize.register_parametrization(m, "kernel", Symmetric())

    class Flat(nn.Module):
        def forward(self, x):
            return x.flatten()
    with pytest.raises(ValueError, match="may not change the shape of the tensor"):
        parametrize.register_parametrization(m, "weight", Flat())
    assert type(m) is nn.Linear and isinstance(m.weight, nn.Parameter)       # nothing changed
    parametrize.register_parametrization(m, "weight", Flat(), unsafe=True)
    assert m.weight.shape == (6,)
    bn = nn.BatchNorm1d(3)
    parametrize.register_parametrization(bn, "running_var", Scale())         # a buffer stays a buffer
    stored = dict(bn.named_buffers())["parametrizations.running_var.original"]
    np.testing.assert_allclose(npy(stored), 0.5 * np.ones(3))              # right_inverse at registration
    np.testing.assert_allclose(npy(bn.running_var), np.ones(3))            # so the value is unchanged
    parametrize.remove_parametrizations(bn, "running_var")
    assert "running_var" in dict(bn.named_buffers())
    np.testing.assert_allclose(npy(bn.running_var), np.ones(3))
    w = P.weight_norm(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="Cannot leave unparametrized"):
        parametrize.remove_parametrizations(w, "weight", leave_parametrized=False)
    parametrize.remove_parametrizations(w, "weight")
    assert isinstance(w.weight, nn.Parameter) and w.weight.requires_grad


def test_cuda_matches_cpu():
    if not ttorch.cuda.is_available():
        pytest.skip("needs (simulated) cuda")
    a = nn.Linear(6, 4)
    b = copy.deepcopy(a).to("cuda")
    for m in (a, b):
        P.weight_norm(m)
        parametrize.register_parametrization(m, "bias", Scale())
    x = ttorch.randn(3, 6)
    ya, yb = a(x), b(x.to("cuda"))
    np.testing.assert_allclose(npy(yb), npy(ya), rtol=1e-5, atol=1e-6)
    ya.sum().backward()
    yb.sum().backward()
    for pa, pb in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(npy(pb.grad), npy(pa.grad), rtol=1e-5, atol=1e-6)


def test_docstring_examples():
    import doctest
    import importlib
    mods = [importlib.import_module(f"ttorch.nn.utils.{n}") for n in ("weight_norm", "spectral_norm")]
    for mod in mods + [parametrize, P]:
        res = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert res.failed == 0 and res.attempted > 0, mod.__name__


@pytest.mark.parametrize("shape,orth_map", [((4, 4), None), ((4, 4), "cayley"), ((6, 3), None), ((3, 6), None),
                                            ((6, 3), "matrix_exp"), ((2, 5, 3), "householder")])
def test_orthogonal(device, shape, orth_map):
    ttorch.manual_seed(0)
    w = ttorch.randn(*shape, dtype=ttorch.float64, device=device)
    m = nn.Module()
    m.weight = nn.Parameter(w.clone())
    P.orthogonal(m, orthogonal_map=orth_map)

    def check(q):
        q = npy(q)
        g = np.swapaxes(q, -1, -2) @ q if q.shape[-2] >= q.shape[-1] else q @ np.swapaxes(q, -1, -2)
        np.testing.assert_allclose(g, np.broadcast_to(np.eye(g.shape[-1]), g.shape), atol=1e-12)
    check(m.weight)
    if shape == (4, 4):                 # starts at the Q of the weight's QR, R's diagonal made positive
        qq, rr = np.linalg.qr(npy(w))
        np.testing.assert_allclose(npy(m.weight), qq * np.sign(np.diag(rr)), atol=1e-12)
    opt = ttorch.optim.SGD(m.parameters(), lr=0.2)
    x = ttorch.randn(shape[-1], 5, dtype=ttorch.float64, device=device)
    for _ in range(3 if device == "cpu" else 1):       # (the simulated device runs every kernel in Python)
        loss = (m.weight @ x).square().sum() + m.weight.sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        check(m.weight)                 # stays orthogonal as the parameter moves
    if len(shape) == 2 and shape[0] == shape[1]:
        q = ttorch.linalg.qr(ttorch.randn(*shape, dtype=ttorch.float64, device=device)).Q
        m.weight = q                    # right_inverse: q becomes the base
        np.testing.assert_allclose(npy(m.weight), npy(q), atol=1e-12)


def test_orthogonal_errors():
    with pytest.raises(ValueError, match="Expected a matrix or batch of matrices. Got a tensor of 1 dimensions"):
        P.orthogonal(nn.Linear(3, 3), "bias")
    with pytest.raises(ValueError, match='orthogonal_map has to be one of "matrix_exp", "cayley", "householder"'):
        P.orthogonal(nn.Linear(3, 3), orthogonal_map="qr")
    m = P.orthogonal(nn.Linear(3, 3), use_trivialization=False)
    with pytest.raises(NotImplementedError, match="use_trivialization=False"):
        m.weight = ttorch.eye(3)
