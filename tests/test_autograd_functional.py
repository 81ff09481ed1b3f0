"""ttorch.autograd.functional and ttorch.func: against NumPy closed forms (jacobian of A x is A,
hessian of x^T A x is A + A^T...), against ttorch's own plain autograd, PyTorch's error messages."""
import doctest
import warnings

import numpy as np
import pytest

import ttorch
import ttorch.autograd.functional as AF
import ttorch.func
import ttorch.nn as nn
from ttorch.func import grad, grad_and_value, vjp, jacrev, jacfwd, hessian, vmap, functional_call
from ttorch.nn.utils.stateless import functional_call as stateless_functional_call

F64 = ttorch.float64
rng = np.random.default_rng(0)
A = rng.standard_normal((3, 4))
B = rng.standard_normal((4, 4))
X0 = rng.standard_normal(4)


def t(a, device="cpu", **kw):
    return ttorch.tensor(a, dtype=F64, device=device, **kw)


def npy(x):
    return x.detach().cpu().numpy()


def close(a, b, tol=1e-12):
    np.testing.assert_allclose(npy(a) if isinstance(a, ttorch.Tensor) else a, b, rtol=tol, atol=tol)


def test_doctests():
    from ttorch.func import _eager_transforms, _vmap, _functional_call
    from ttorch.nn.utils import stateless
    for mod in (AF, ttorch.func, _eager_transforms, _vmap, _functional_call, stateless):
        res = doctest.testmod(mod, extraglobs={"ttorch": ttorch}, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert res.failed == 0 and res.attempted > 0, mod.__name__


# ------------------------------------------------------------------------------ autograd.functional
def test_jacobian_of_linear_map_is_the_matrix():
    close(AF.jacobian(lambda x: t(A) @ x, t(X0)), A)
    # several inputs and outputs: J[i][j] has shape outputs[i].shape + inputs[j].shape
    y0 = rng.standard_normal(3)
    jac = AF.jacobian(lambda x, y: (t(A) @ x + 2 * y, (x * x).sum()), (t(X0), t(y0)))
    assert [[tuple(b.shape) for b in row] for row in jac] == [[(3, 4), (3, 3)], [(4,), (3,)]]
    close(jac[0][0], A)
    close(jac[0][1], 2 * np.eye(3))
    close(jac[1][0], 2 * X0)
    close(jac[1][1], np.zeros(3))


def test_vjp_jvp_match_closed_forms():
    f = lambda x: (t(A) @ x).sin()    # J = diag(cos(A x)) A
    J = np.cos(A @ X0)[:, None] * A
    v3, v4 = rng.standard_normal(3), rng.standard_normal(4)
    out, g = AF.vjp(f, t(X0), t(v3))
    close(out, np.sin(A @ X0))
    close(g, v3 @ J)
    out, jv = AF.jvp(f, t(X0), t(v4))
    close(jv, J @ v4)
    assert not jv.requires_grad and not out.requires_grad
    # tuples in, tuples out; a one-element output needs no v
    out, (gx, gy) = AF.vjp(lambda x, y: (x * y).sum(), (t(X0), t(2 * X0)))
    close(gx, 2 * X0)
    close(gy, X0)


def test_hessian_hvp_vhp_of_quadratic_and_cubic():
    f = lambda x: x @ t(B) @ x + (x ** 3).sum()
    H = B + B.T + np.diag(6 * X0)
    close(AF.hessian(f, t(X0)), H)
    v = rng.standard_normal(4)
    close(AF.hvp(f, t(X0), t(v))[1], H @ v)
    close(AF.vhp(f, t(X0), t(v))[1], v @ H)
    # tuple inputs: H[i][j] has shape inputs[i].shape + inputs[j].shape
    h = AF.hessian(lambda x, y: (x * x).sum() * y.sum(), (t(X0), t([1.0, 2.0])))
    close(h[0][0], 2 * 3.0 * np.eye(4))
    close(h[0][1], np.repeat(2 * X0[:, None], 2, axis=1))
    close(h[1][1], np.zeros((2, 2)))


def test_create_graph_results_are_differentiable():
    x = t(X0, requires_grad=True)
    jac = AF.jacobian(lambda x: x ** 3, x, create_graph=True)    # diag(3 x^2)
    assert jac.requires_grad
    g, = ttorch.autograd.grad(jac.sum(), x)
    close(g, 6 * X0)
    out, jv = AF.jvp(lambda x: x.exp(), x, t(np.ones(4)), create_graph=True)
    g, = ttorch.autograd.grad(jv.sum(), x)
    close(g, np.exp(X0))
    # without create_graph the results are detached, also from inputs that require grad
    assert not AF.jacobian(lambda x: x ** 3, x).requires_grad


def test_jacobian_options_and_strict_errors():
    x = t(X0)
    ref = AF.jacobian(lambda x: x.sin(), x)
    close(AF.jacobian(lambda x: x.sin(), x, vectorize=True), npy(ref))
    close(AF.jacobian(lambda x: x.sin(), x, vectorize=True, strategy="forward-mode"), npy(ref))
    close(AF.hessian(lambda x: x.sin().sum(), x, vectorize=True, outer_jacobian_strategy="forward-mode"),
          np.diag(-np.sin(X0)))
    with pytest.raises(NotImplementedError, match="only implemented for `vectorize=True`"):
        AF.jacobian(lambda x: x, x, strategy="forward-mode")
    with pytest.raises(AssertionError, match='"forward-mode" or "reverse-mode"'):
        AF.jacobian(lambda x: x, x, strategy="other")
    with pytest.raises(RuntimeError, match="Output 0 of the user-provided function is independent of input 1"):
        AF.jacobian(lambda x, y: x * 2, (x, x), strict=True)
    with pytest.raises(RuntimeError, match="independent of input 0. This is not allowed in strict mode when create"):
        AF.jacobian(lambda x: x * 2, x, strict=True, create_graph=True)
    with pytest.raises(RuntimeError, match="Output 0 of the user-provided function does not require gradients"):
        AF.vjp(lambda x: ttorch.ones(3), x, t(np.ones(3)), strict=True)
    with pytest.raises(RuntimeError, match="the jacobian of the user-provided function with respect to input 0 is"):
        AF.hessian(lambda x: x.sum() * 2, x, strict=True)
    # without strict, an unused input gets zeros
    close(AF.jacobian(lambda x, y: x * 2, (x, x))[1], np.zeros((4, 4)))


def test_argument_errors():
    x = t(X0)
    with pytest.raises(RuntimeError, match="The vector v can only be None if the user-provided function returns"):
        AF.vjp(lambda x: x * 2, x)
    with pytest.raises(RuntimeError, match=r"v has invalid size: should be ttorch.Size\(\[4\]\) but got"):
        AF.jvp(lambda x: x * 2, x, t([1.0]))
    with pytest.raises(RuntimeError, match="v is a tuple of invalid length: should be 2 but got 1"):
        AF.vjp(lambda x, y: (x, y), (x, x), (x,))
    with pytest.raises(TypeError, match="The inputs given to vjp must be either a Tensor or a tuple of Tensors"):
        AF.vjp(lambda x: x, [1.0])
    with pytest.raises(RuntimeError, match="The function given to hessian should return a single Tensor"):
        AF.hessian(lambda x: (x.sum(), x.sum()), x)
    with pytest.raises(RuntimeError, match="returned by the function given to hvp should contain a single element"):
        AF.hvp(lambda x: x * 2, x, x)


# ------------------------------------------------------------------------------ ttorch.func transforms
def test_grad_matches_plain_autograd_and_nests():
    f = lambda x, y: (x.sin() * y).sum() * (x @ y)
    x, y = t(X0), t(rng.standard_normal(4))
    xr, yr = t(X0, requires_grad=True), y.clone().requires_grad_()
    gx, gy = ttorch.autograd.grad(f(xr, yr), (xr, yr))
    g = grad(f, argnums=(0, 1))(x, y)
    close(g[0], npy(gx))
    close(g[1], npy(gy))
    assert not g[0].requires_grad      # nothing outside the transform requires grad
    (g2, value) = grad_and_value(f, argnums=1)(x, y)
    close(g2, npy(gy))
    close(value, npy(f(x, y)))
    # second and third derivatives of sin
    close(grad(grad(ttorch.sin))(t(0.5)), -np.sin(0.5))
    close(grad(grad(grad(ttorch.sin)))(t(0.5)), -np.cos(0.5))
    # nested structures (dict of tensors) and has_aux
    g, aux = grad(lambda p: ((p["w"] * p["b"]).sum(), p["w"] * 2), has_aux=True)({"w": x, "b": y})
    close(g["w"], npy(y))
    close(g["b"], X0)
    close(aux, 2 * X0)
    assert not aux.requires_grad
    # works under no_grad, as functorch's does
    with ttorch.no_grad():
        close(grad(lambda x: (x * x).sum())(x), 2 * X0)


def test_grad_stays_differentiable_for_outer_tensors():
    # d/dw of grad_x[(w x)^2 / 2] = d/dw (w^2 x) = 2 w x
    w = t(1.5, requires_grad=True)
    gx = grad(lambda x: ((w * x) ** 2).sum() / 2)(t(X0))
    assert gx.requires_grad
    gw, = ttorch.autograd.grad(gx.sum(), w)
    close(gw, 2 * 1.5 * X0.sum())


def test_vjp_jacrev_jacfwd_hessian():
    out, fn = vjp(lambda x: (t(A) @ x).sin(), t(X0))
    v3 = rng.standard_normal(3)
    J = np.cos(A @ X0)[:, None] * A
    close(fn(t(v3))[0], v3 @ J)
    close(fn(t(v3))[0], v3 @ J)     # the graph is retained for more calls
    with pytest.raises(RuntimeError, match="Expected pytree structure of cotangents"):
        fn((t(v3), t(v3)))
    close(jacrev(lambda x: t(A) @ x)(t(X0)), A)
    close(jacfwd(lambda x: t(A) @ x)(t(X0)), A)
    jac = jacrev(lambda p: {"y": p["a"] * p["b"], "s": p["a"].sum()})({"a": t(X0), "b": t(2 * X0)})
    close(jac["y"]["a"], np.diag(2 * X0))
    close(jac["y"]["b"], np.diag(X0))
    close(jac["s"]["a"], np.ones(4))
    close(hessian(lambda x: x @ t(B) @ x)(t(X0)), B + B.T)
    jac, aux = jacrev(lambda x: (x * 3, x.sum()), has_aux=True)(t(X0))
    close(jac, 3 * np.eye(4))
    close(aux, X0.sum())


def test_transform_errors():
    x = t(X0)
    with pytest.raises(RuntimeError, match="Expected f\\(\\*args\\) to return a scalar Tensor, got tensor with 1 dims"):
        grad(lambda x: x)(x)
    with pytest.raises(RuntimeError, match="Got argnum=3, but only 1 positional inputs"):
        grad(lambda x: x.sum(), argnums=3)(x)
    with pytest.raises(RuntimeError, match="argnums elements must be unique"):
        grad(lambda x, y: x.sum(), argnums=(0, 0))(x, x)
    with pytest.raises(RuntimeError, match="output of function f should be a tuple: \\(output, aux\\)"):
        grad(lambda x: x.sum(), has_aux=True)(x)
    with pytest.raises(ValueError, match="Thing passed to transform API must be Tensor"):
        grad(lambda x: 1.0)(1.0)
    with pytest.raises(ValueError, match="jacrev: `chunk_size` should be greater than 0."):
        jacrev(lambda x: x, chunk_size=0)


# ------------------------------------------------------------------------------ vmap
def test_vmap_dims_and_structures():
    x = t(rng.standard_normal((3, 5)))
    y = t(rng.standard_normal(3))
    close(vmap(lambda r: r.sum())(x), npy(x).sum(1))
    close(vmap(lambda c: c * 2, in_dims=1, out_dims=1)(x), 2 * npy(x))
    close(vmap(lambda c: c, in_dims=-1)(x), npy(x).T)
    out = vmap(lambda c, d: {"a": c * d["s"], "b": (c.sum(), d["s"])}, in_dims=(1, None),
               out_dims={"a": 1, "b": (0, None)})(x, {"s": y})
    close(out["a"], npy(x) * npy(y)[:, None])
    close(out["b"][0], npy(x).sum(0))
    assert out["b"][1] is not None and tuple(out["b"][1].shape) == (3,)
    close(vmap(lambda c, *, k: c * k)(y, k=3.0), 3 * npy(y))       # kwargs are not mapped
    close(vmap(vmap(lambda a, b: a * b, in_dims=(0, None)), in_dims=(None, 0))(y, y), np.outer(npy(y), npy(y)).T)
    assert tuple(vmap(lambda r: r.sum(0), in_dims=1)(ttorch.zeros(3, 0, 2)).shape) == (0, 2)


def test_vmap_randomness_flags():
    with pytest.raises(RuntimeError, match="vmap: called random operation while in randomness error mode"):
        vmap(lambda x: x + ttorch.rand(()))(ttorch.zeros(3))
    r = vmap(lambda x: x + ttorch.rand(()), randomness="same")(ttorch.zeros(3))
    assert bool((r == r[0]).all())
    r = vmap(lambda x: x + ttorch.rand(()), randomness="different")(ttorch.zeros(3))
    assert len(set(r.tolist())) == 3
    with pytest.raises(RuntimeError, match="Only allowed values for randomness are"):
        vmap(lambda x: x, randomness="sometimes")


def test_vmap_errors():
    x = ttorch.randn(3)
    with pytest.raises(ValueError, match="in_dims is not compatible with the structure of `inputs`"):
        vmap(lambda x: x, in_dims=(0, 0))(x)
    with pytest.raises(ValueError, match="expected in_dim to satisfy -1 <= in_dim < 1"):
        vmap(lambda x: x, in_dims=1)(x)
    with pytest.raises(ValueError, match="We cannot vmap over non-Tensor arguments"):
        vmap(lambda x, y: x)(x, 2.0)
    with pytest.raises(ValueError, match="Expected all tensors to have the same size in the mapped dimension"):
        vmap(lambda x, y: x)(x, ttorch.ones(2))
    with pytest.raises(ValueError, match="vmap: Expected at least one Tensor to vmap over"):
        vmap(lambda x: x, in_dims=(None,))(x)
    with pytest.raises(ValueError, match="must only return Tensors, got type <class 'float'>"):
        vmap(lambda x: 1.0)(x)
    with pytest.raises(ValueError, match="can not return a BatchedTensor when out_dim is None"):
        vmap(lambda x: x, out_dims=None)(x)


def _mlp():
    ttorch.manual_seed(3)
    return nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 2)).double()


def test_per_sample_gradients_match_a_loop_of_backward_passes():
    model = _mlp()
    x, y = ttorch.randn(5, 4, dtype=F64), ttorch.randn(5, 2, dtype=F64)
    params = {k: v.detach() for k, v in model.named_parameters()}

    def loss(params, x, y):
        out = functional_call(model, params, (x.unsqueeze(0),))
        return ((out - y.unsqueeze(0)) ** 2).mean()
    per_sample = vmap(grad(loss), in_dims=(None, 0, 0))(params, x, y)
    for i in range(5):
        model.zero_grad()
        ((model(x[i:i + 1]) - y[i:i + 1]) ** 2).mean().backward()
        for name, p in model.named_parameters():
            close(per_sample[name][i], npy(p.grad))
    assert all(not g.requires_grad for g in per_sample.values())


def test_functional_call_swaps_and_restores():
    model = _mlp()
    before = {k: v for k, v in model.named_parameters()}
    x = ttorch.randn(3, 4, dtype=F64)
    w = ttorch.zeros(6, 4, dtype=F64, requires_grad=True)
    out = functional_call(model, {"0.weight": w}, x)
    close(out, npy(model[2](model[1](model[0].bias.expand(3, 6)))))
    out.sum().backward()
    assert w.grad is not None and model[0].weight.grad is None
    assert {k: v for k, v in model.named_parameters()} == before
    with pytest.raises(ZeroDivisionError):     # restored after an exception too
        functional_call(nn.Sequential(model, _Raise()), {"0.0.weight": w}, x)
    assert model[0].weight is before["0.weight"]
    # a sequence of dicts; repeated keys are an error
    out2 = functional_call(model, ({"0.weight": w}, {"0.bias": ttorch.zeros(6, dtype=F64)}), x)
    close(out2, npy(model[2](ttorch.zeros(3, 6, dtype=F64))))
    with pytest.raises(ValueError, match="appeared in multiple dictionaries"):
        functional_call(model, ({"0.weight": w}, {"0.weight": w}), x)
    with pytest.raises(RuntimeError, match="Error\\(s\\) in reparametrizing for Sequential:\n\tUnexpected key"):
        functional_call(model, {"0.weight": w, "nope": w}, x, strict=True)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        close(stateless_functional_call(model, {"0.weight": w}, (x,)), npy(out))
    assert rec and rec[0].category is FutureWarning


class _Raise(nn.Module):
    def forward(self, x):
        raise ZeroDivisionError


def test_functional_call_tied_weights_and_buffers():
    lin = nn.Linear(2, 2)
    tied = nn.Sequential(lin, lin)
    w = ttorch.eye(2)
    x = ttorch.tensor([[1.0, 2.0]])
    expected = (x @ w.T + lin.bias) @ w.T + lin.bias
    close(functional_call(tied, {"0.weight": w}, x), npy(expected), 1e-6)
    untied = functional_call(tied, {"0.weight": w}, x, tie_weights=False)
    close(untied, npy(lin(x @ w.T + lin.bias)), 1e-6)
    with pytest.raises(ValueError, match="functional_call got multiple values for keys"):
        functional_call(tied, {"0.weight": w, "1.weight": ttorch.zeros(2, 2)}, x)
    # buffers: BatchNorm updates the given running stats, the module's own stay untouched
    bn = nn.BatchNorm1d(2)
    mean = ttorch.zeros(2)
    functional_call(bn, {"running_mean": mean}, ttorch.tensor([[1.0, 3.0], [3.0, 5.0]]))
    close(mean, [0.2, 0.4], 1e-6)
    close(bn.running_mean, [0.0, 0.0])


def test_stack_module_state_ensemble():
    models = [nn.Linear(3, 2) for _ in range(4)]
    params, buffers = ttorch.func.stack_module_state(models)
    x = ttorch.randn(5, 3)
    out = vmap(lambda p, b, x: functional_call(models[0], (p, b), (x,)), in_dims=(0, 0, None))(params, buffers, x)
    for i, m in enumerate(models):
        close(out[i], npy(m(x)), 1e-6)


def test_on_device(device):
    # tiny shapes: the simulated cuda device runs every kernel in Triton's interpreter
    a = ttorch.tensor([[1.0, 2.0], [3.0, 4.0]], device=device)
    x = ttorch.tensor([0.5, -1.0], device=device)
    close(AF.jacobian(lambda v: a @ v, x), [[1.0, 2.0], [3.0, 4.0]], 1e-6)
    close(AF.hessian(lambda v: v @ a @ v, x), [[2.0, 5.0], [5.0, 8.0]], 1e-6)
    g = vmap(grad(lambda w, v: (w * v).sum() ** 2), in_dims=(None, 0))(ttorch.ones(2, device=device), a)
    assert g.device.type == device
    close(g, [[6.0, 12.0], [42.0, 56.0]], 1e-6)    # 2 (w . v) v
