"""ttorch.optim: 60-step trajectories against NumPy references of PyTorch's documented algorithms,
cpu-vs-simulated-cuda parity of the fused update kernels, state_dict layout and round trips,
param groups, zero_grad, closures, hooks and PyTorch's errors."""
import copy
import warnings

import numpy as np
import pytest

import ttorch
from ttorch import optim

HAS_CUDA = ttorch.cuda.is_available()
SHAPES = [(3, 4), (5,)]
STEPS = 60


# --------------------------------------------------------------------------- the problem
def _problem(seed=0):
    """Starting points and a deterministic gradient ``grad(t, i, w)`` (a smooth field plus fixed
    per-step noise), so the references and the optimizers see identical gradients."""
    r = np.random.default_rng(seed)
    x0 = [r.uniform(-1, 1, s) for s in SHAPES]
    c = [r.uniform(0.5, 2.0, s) for s in SHAPES]
    noise = [[r.normal(0, 0.2, s) for s in SHAPES] for _ in range(STEPS)]

    def grad(t, i, w):
        return c[i] * w + np.cos(3 * w) + noise[t][i]
    return x0, grad


def _params(x0, dtype=ttorch.float64, device="cpu"):
    return [ttorch.nn.Parameter(ttorch.tensor(x, dtype=dtype, device=device)) for x in x0]


def _set_grads(params, grad, t, dtype=ttorch.float64):
    for i, p in enumerate(params):
        w = p.detach().cpu().numpy().astype(np.float64)
        p.grad = ttorch.tensor(grad(t, i, w), dtype=dtype, device=p.device)


def _run(cls, kw, steps=STEPS, dtype=ttorch.float64, device="cpu", params=None, opt=None, start=0):
    x0, grad = _problem()
    params = params if params is not None else _params(x0, dtype, device)
    opt = opt if opt is not None else cls(params, **kw)
    traj = []
    for t in range(start, start + steps):
        _set_grads(params, grad, t, dtype)
        opt.step()
        traj.append([p.detach().cpu().numpy().astype(np.float64).copy() for p in params])
    return traj, params, opt


# --------------------------------------------------------------------------- references
# Each reference is PyTorch's documented algorithm written plainly in float64 NumPy: one state
# dict per parameter, ``t`` the 1-based step.

def ref_sgd(lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, maximize=False):
    def update(s, w, g, t):
        g = -g if maximize else g
        if weight_decay:
            g = g + weight_decay * w
        if momentum:
            s["b"] = g.copy() if t == 1 else momentum * s["b"] + (1 - dampening) * g
            g = g + momentum * s["b"] if nesterov else s["b"]
        return w - lr * g
    return update


def _decayed(w, g, lr, weight_decay, decoupled, maximize):
    """The Adam family's prologue: maximize flips g; weight decay either shrinks w (decoupled) or adds to g."""
    g = -g if maximize else g
    if weight_decay:
        if decoupled:
            w = w * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * w
    return w, g


def _moments(s, g, b1, b2):
    """The first and second moment updates of the Adam family, in the state dict ``s``."""
    s["m"] = b1 * s.get("m", 0) + (1 - b1) * g
    s["v"] = b2 * s.get("v", 0) + (1 - b2) * g * g


def ref_adam(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, maximize=False,
             decoupled_weight_decay=False):
    b1, b2 = betas

    def update(s, w, g, t):
        w, g = _decayed(w, g, lr, weight_decay, decoupled_weight_decay, maximize)
        _moments(s, g, b1, b2)
        mhat = s["m"] / (1 - b1 ** t)
        if amsgrad:
            s["vmax"] = np.maximum(s.get("vmax", 0), s["v"])
            vhat = s["vmax"] / (1 - b2 ** t)
        else:
            vhat = s["v"] / (1 - b2 ** t)
        return w - lr * mhat / (np.sqrt(vhat) + eps)
    return update


def ref_adamw(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, maximize=False):
    return ref_adam(lr, betas, eps, weight_decay, amsgrad, maximize, decoupled_weight_decay=True)


def ref_rmsprop(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False, maximize=False):
    def update(s, w, g, t):
        g = -g if maximize else g
        if weight_decay:
            g = g + weight_decay * w
        s["v"] = alpha * s.get("v", 0) + (1 - alpha) * g * g
        v = s["v"]
        if centered:
            s["a"] = alpha * s.get("a", 0) + (1 - alpha) * g
            v = v - s["a"] ** 2
        if momentum > 0:
            s["b"] = momentum * s.get("b", 0) + g / (np.sqrt(v) + eps)
            return w - lr * s["b"]
        return w - lr * g / (np.sqrt(v) + eps)
    return update


def ref_adagrad(lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10, maximize=False):
    def update(s, w, g, t):
        g = -g if maximize else g
        if weight_decay:
            g = g + weight_decay * w
        clr = lr / (1 + (t - 1) * lr_decay)
        s["sum"] = s.get("sum", initial_accumulator_value) + g * g
        return w - clr * g / (np.sqrt(s["sum"]) + eps)
    return update


def ref_adadelta(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, maximize=False):
    def update(s, w, g, t):
        g = -g if maximize else g
        if weight_decay:
            g = g + weight_decay * w
        s["v"] = rho * s.get("v", 0) + (1 - rho) * g * g
        dx = np.sqrt(s.get("u", 0) + eps) / np.sqrt(s["v"] + eps) * g
        s["u"] = rho * s.get("u", 0) + (1 - rho) * dx * dx
        return w - lr * dx
    return update


def ref_adamax(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, maximize=False):
    b1, b2 = betas

    def update(s, w, g, t):
        g = -g if maximize else g
        if weight_decay:
            g = g + weight_decay * w
        s["m"] = b1 * s.get("m", 0) + (1 - b1) * g
        s["u"] = np.maximum(b2 * s.get("u", 0), np.abs(g) + eps)
        return w - lr * s["m"] / ((1 - b1 ** t) * s["u"])
    return update


def ref_nadam(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
              decoupled_weight_decay=False, maximize=False):
    b1, b2 = betas

    def update(s, w, g, t):
        w, g = _decayed(w, g, lr, weight_decay, decoupled_weight_decay, maximize)
        mu = b1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
        mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
        # PyTorch keeps the running product as a float32 tensor (state["mu_product"])
        s["mp"] = np.float32(s.get("mp", np.float32(1.0)) * np.float32(mu))
        mp = float(s["mp"])
        _moments(s, g, b1, b2)
        mhat = mu_next * s["m"] / (1 - mp * mu_next) + (1 - mu) * g / (1 - mp)
        vhat = s["v"] / (1 - b2 ** t)
        return w - lr * mhat / (np.sqrt(vhat) + eps)
    return update


def ref_radam(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False, maximize=False):
    b1, b2 = betas
    rho_inf = 2 / (1 - b2) - 1

    def update(s, w, g, t):
        w, g = _decayed(w, g, lr, weight_decay, decoupled_weight_decay, maximize)
        _moments(s, g, b1, b2)
        mhat = s["m"] / (1 - b1 ** t)
        rho_t = rho_inf - 2 * t * b2 ** t / (1 - b2 ** t)
        if rho_t > 5:
            lt = np.sqrt(1 - b2 ** t) / (np.sqrt(s["v"]) + eps)
            rt = np.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            return w - lr * mhat * lt * rt
        return w - lr * mhat
    return update


REFS = {"SGD": ref_sgd, "Adam": ref_adam, "AdamW": ref_adamw, "RMSprop": ref_rmsprop, "Adagrad": ref_adagrad,
        "Adadelta": ref_adadelta, "Adamax": ref_adamax, "NAdam": ref_nadam, "RAdam": ref_radam}

CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("SGD", dict(lr=0.01, momentum=0.5, maximize=True)),
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6, maximize=True)),
    ("Adam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True)),
    ("AdamW", dict(lr=0.05)),
    ("AdamW", dict(lr=0.05, weight_decay=0.3, amsgrad=True, maximize=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, centered=True, momentum=0.5, maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.1)),
    ("Adagrad", dict(lr=0.1, maximize=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, weight_decay=0.1)),
    ("Adadelta", dict(maximize=True)),
    ("Adamax", dict(lr=0.05)),
    ("Adamax", dict(lr=0.05, betas=(0.8, 0.99), weight_decay=0.1)),
    ("Adamax", dict(lr=0.05, maximize=True)),
    ("NAdam", dict(lr=0.05)),
    ("NAdam", dict(lr=0.05, weight_decay=0.1)),
    ("NAdam", dict(lr=0.05, weight_decay=0.1, momentum_decay=0.01, decoupled_weight_decay=True)),
    ("NAdam", dict(lr=0.05, maximize=True)),
    ("RAdam", dict(lr=0.05)),
    ("RAdam", dict(lr=0.05, weight_decay=0.1)),
    ("RAdam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True)),
    ("RAdam", dict(lr=0.05, maximize=True)),
]
_ids = [f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}" for n, kw in CASES]


def _ref_traj(name, kw, steps=STEPS):
    x0, grad = _problem()
    update = REFS[name](**kw)
    ws, states, traj = [x.copy() for x in x0], [{} for _ in x0], []
    for t in range(steps):
        ws = [update(s, w, grad(t, i, w), t + 1) for i, (s, w) in enumerate(zip(states, ws))]
        traj.append(ws)
    return traj


# --------------------------------------------------------------------------- trajectories
@pytest.mark.parametrize("name,kw", CASES, ids=_ids)
def test_trajectory_matches_reference(name, kw):
    got, _, _ = _run(getattr(optim, name), kw)
    ref = _ref_traj(name, kw)
    for t, (g, r) in enumerate(zip(got, ref)):
        for a, b in zip(g, r):
            np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13, err_msg=f"{name} {kw} step {t + 1}")
    assert not np.allclose(got[-1][0], _problem()[0][0])   # the parameters did move


# --------------------------------------------------------------------------- cuda parity
PARITY = [("SGD", dict(lr=0.1)), ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1, maximize=True)),
          ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.2)),
          ("Adam", dict(lr=0.05)), ("Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.1, maximize=True)),
          ("AdamW", dict(lr=0.05, amsgrad=True)),
          ("RMSprop", dict(lr=0.01)), ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.1,
                                                       maximize=True)),
          ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, maximize=True)),
          ("Adadelta", dict(weight_decay=0.1, maximize=True)),
          ("Adamax", dict(lr=0.05, weight_decay=0.1, maximize=True)),
          ("NAdam", dict(lr=0.05)), ("NAdam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True,
                                                   maximize=True)),
          ("RAdam", dict(lr=0.05, weight_decay=0.1)),
          ("RAdam", dict(lr=0.05, betas=(0.9, 0.9), weight_decay=0.1, decoupled_weight_decay=True, maximize=True))]


@pytest.mark.skipif(not HAS_CUDA, reason="no cuda device (real or simulated)")
@pytest.mark.parametrize("name,kw", PARITY, ids=[f"{n}-{i}" for i, (n, _) in enumerate(PARITY)])
def test_fused_kernel_matches_cpu(name, kw):
    steps = 7   # RAdam with beta2=0.9 rectifies from step 6 on: both branches run
    cpu, _, copt = _run(getattr(optim, name), kw, steps=steps, dtype=ttorch.float32)
    cu, cparams, gopt = _run(getattr(optim, name), kw, steps=steps, dtype=ttorch.float32, device="cuda")
    for t, (a, b) in enumerate(zip(cpu, cu)):
        for x, y in zip(a, b):
            np.testing.assert_allclose(y, x, rtol=2e-5, atol=2e-6, err_msg=f"{name} cuda vs cpu step {t + 1}")
    for sc, sg in zip(copt.state.values(), gopt.state.values()):
        assert list(sc) == list(sg)
        for k in sc:
            if isinstance(sc[k], ttorch.Tensor):
                want = "cpu" if k in ("step", "mu_product") else "cuda"
                assert sg[k].device.type == want, k
                np.testing.assert_allclose(sg[k].cpu().numpy(), sc[k].numpy(), rtol=2e-5, atol=2e-6, err_msg=k)


@pytest.mark.skipif(not HAS_CUDA, reason="no cuda device (real or simulated)")
@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "NAdam"])
def test_one_kernel_launch_per_parameter(name, monkeypatch):
    from ttorch.optim.adam import _adam_kernel
    kw = dict(SGD=dict(lr=0.1, momentum=0.9), Adam=dict(amsgrad=True), RMSprop=dict(centered=True, momentum=0.9),
              NAdam=dict(weight_decay=0.1))[name]
    x0, grad = _problem()
    params = _params(x0, ttorch.float32, "cuda")
    opt = getattr(optim, name)(params, foreach=False, **kw)    # Adam's foreach path: test_optim_foreach.py
    _set_grads(params, grad, 0, ttorch.float32)
    opt.step()                              # the first step also creates the state
    _set_grads(params, grad, 1, ttorch.float32)
    calls = []
    cls = type(_adam_kernel)
    orig = cls.run
    monkeypatch.setattr(cls, "run", lambda self, *a, **k: calls.append(self) or orig(self, *a, **k))
    opt.step()
    assert len(calls) == len(params)


@pytest.mark.skipif(not HAS_CUDA, reason="no cuda device (real or simulated)")
def test_cuda_low_precision_params_follow_float32():
    for dt in (ttorch.bfloat16, ttorch.float16):
        ref, _, _ = _run(optim.Adam, dict(lr=0.05), steps=3, dtype=ttorch.float32, device="cuda")
        got, params, opt = _run(optim.Adam, dict(lr=0.05), steps=3, dtype=dt, device="cuda")
        assert params[0].dtype is dt and opt.state[params[0]]["exp_avg"].dtype is dt
        np.testing.assert_allclose(got[-1][0], ref[-1][0], atol=3e-2)


def test_noncontiguous_param(device):
    base = ttorch.zeros(4, 6, dtype=ttorch.float64, device=device)
    w = base[:, ::2]                        # a strided leaf the optimizer must update in place
    w.requires_grad_(True)
    opt = optim.Adam([w], lr=0.1)
    w.grad = ttorch.ones(4, 3, dtype=ttorch.float64, device=device)
    opt.step()
    np.testing.assert_allclose(base.cpu().numpy()[:, ::2], -0.1 * np.ones((4, 3)), rtol=1e-6)
    np.testing.assert_allclose(base.cpu().numpy()[:, 1::2], 0.0)


# --------------------------------------------------------------------------- state dicts
@pytest.mark.parametrize("name,kw", [c for i, c in enumerate(CASES) if i % 3 == 1 or c[0] in ("NAdam", "Adagrad")],
                         ids=[i for j, i in enumerate(_ids) if j % 3 == 1 or CASES[j][0] in ("NAdam", "Adagrad")])
def test_state_dict_round_trip_continues_trajectory(name, kw):
    cls = getattr(optim, name)
    full, _, _ = _run(cls, kw, steps=30)
    first, params, opt = _run(cls, kw, steps=12)
    sd = copy.deepcopy(opt.state_dict())
    fresh = [ttorch.nn.Parameter(p.detach().clone()) for p in params]
    opt2 = cls(fresh, **kw)
    opt2.load_state_dict(sd)
    rest, _, _ = _run(cls, kw, steps=18, params=fresh, opt=opt2, start=12)
    for a, b in zip(full[-1], rest[-1]):
        # exact, except NAdam: loading casts its float32 ``mu_product`` to the parameter's dtype,
        # as PyTorch's load_state_dict does (only ``step`` keeps its dtype)
        np.testing.assert_allclose(a, b, rtol=1e-12 if name == "NAdam" else 0, atol=0)


def test_state_dict_layout():
    a, b, c = (ttorch.nn.Parameter(ttorch.ones(2)) for _ in range(3))
    opt = optim.Adam([{"params": [a, b]}, {"params": [c], "lr": 0.5}], lr=0.1, amsgrad=True)
    for p in (a, c):                        # b has no grad: it gets no state
        p.grad = ttorch.ones(2)
    opt.step()
    opt.step()
    sd = opt.state_dict()
    assert list(sd) == ["state", "param_groups"]
    assert sorted(sd["state"]) == [0, 2]
    assert list(sd["state"][0]) == ["step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"]
    step = sd["state"][0]["step"]
    assert step.dtype is ttorch.float32 and step.dim() == 0 and step.item() == 2.0
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert sd["param_groups"][1]["lr"] == 0.5 and sd["param_groups"][0]["betas"] == (0.9, 0.999)
    assert set(sd["param_groups"][0]) == {"params", "lr", "betas", "eps", "weight_decay", "amsgrad", "maximize",
                                          "foreach", "capturable", "differentiable", "fused", "decoupled_weight_decay"}
    assert sd["state"][0]["exp_avg"] is opt.state[a]["exp_avg"]   # references, as in PyTorch
    s = optim.SGD([a], lr=0.1, momentum=0.9)
    a.grad = ttorch.ones(2)
    s.step()
    assert list(s.state_dict()["state"][0]) == ["momentum_buffer"]
    assert optim.SGD([a], lr=0.1).state_dict()["state"] == {}


def test_load_state_dict_casts_and_moves_to_param(device):
    p = ttorch.nn.Parameter(ttorch.ones(3, dtype=ttorch.float32))
    opt = optim.Adam([p], lr=0.1)
    p.grad = ttorch.ones(3)
    opt.step()
    sd = opt.state_dict()
    q = ttorch.nn.Parameter(ttorch.ones(3, dtype=ttorch.float64, device=device))
    opt2 = optim.Adam([q], lr=0.1)
    opt2.load_state_dict(sd)
    st = opt2.state[q]
    assert st["exp_avg"].dtype is ttorch.float64 and st["exp_avg"].device.type == device
    assert st["step"].dtype is ttorch.float32 and st["step"].device.type == "cpu"
    q.grad = ttorch.ones(3, dtype=ttorch.float64, device=device)
    opt2.step()
    assert opt2.state[q]["step"].item() == 2.0


def test_load_state_dict_errors():
    a, b = ttorch.nn.Parameter(ttorch.ones(2)), ttorch.nn.Parameter(ttorch.ones(2))
    sd = optim.SGD([a, b], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="loaded state dict contains a parameter group that doesn't match the size"):
        optim.SGD([a], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="loaded state dict has a different number of parameter groups"):
        optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1).load_state_dict(sd)


def test_load_state_dict_restores_group_options():
    a = ttorch.nn.Parameter(ttorch.ones(2))
    opt = optim.SGD([a], lr=0.1)
    opt.param_groups[0]["lr"] = 0.01
    opt2 = optim.SGD([a], lr=0.5)
    opt2.load_state_dict(opt.state_dict())
    assert opt2.param_groups[0]["lr"] == 0.01 and opt2.param_groups[0]["params"][0] is a


# --------------------------------------------------------------------------- the Optimizer contract
def test_param_groups_and_add_param_group():
    a, b, c = (ttorch.nn.Parameter(ttorch.ones(2)) for _ in range(3))
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5}], lr=0.1, momentum=0.9)
    assert opt.param_groups[1]["params"] == [b] and opt.param_groups[0]["momentum"] == 0.9
    opt.add_param_group({"params": [c], "lr": 1.0})
    assert opt.param_groups[2]["lr"] == 1.0 and opt.param_groups[2]["momentum"] == 0.9
    for p in (a, b, c):
        p.grad = ttorch.ones(2)
    opt.step()
    np.testing.assert_allclose([a.detach().numpy()[0], b.detach().numpy()[0], c.detach().numpy()[0]],
                               [0.9, 0.5, 0.0], rtol=1e-6)
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(TypeError, match="param_group must be a dict"):
        opt.add_param_group([a])
    with pytest.raises(TypeError, match="ordering of tensors in sets will change"):
        opt.add_param_group({"params": {ttorch.nn.Parameter(ttorch.ones(1))}})


def test_constructor_errors():
    w = ttorch.nn.Parameter(ttorch.ones(2))
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="params argument given to the optimizer should be an iterable of Tensors"):
        optim.SGD(w, lr=0.1)
    with pytest.raises(TypeError, match="optimizer can only optimize Tensors, but one of the params is int"):
        optim.SGD([1], lr=0.1)
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        optim.SGD([w * 2], lr=0.1)
    with pytest.warns(UserWarning, match="duplicate parameters"):
        optim.SGD([w, w], lr=0.1)
    msgs = [(optim.SGD, dict(lr=-1), "Invalid learning rate: -1"),
            (optim.SGD, dict(momentum=-0.1), "Invalid momentum value: -0.1"),
            (optim.SGD, dict(weight_decay=-1), "Invalid weight_decay value: -1"),
            (optim.SGD, dict(nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
            (optim.SGD, dict(momentum=0.9, dampening=0.1, nesterov=True), "Nesterov momentum requires"),
            (optim.Adam, dict(eps=-1), "Invalid epsilon value: -1"),
            (optim.Adam, dict(betas=(1.0, 0.9)), "Invalid beta parameter at index 0: 1.0"),
            (optim.AdamW, dict(betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
            (optim.AdamW, dict(lr=-0.5), "Invalid learning rate: -0.5"),
            (optim.RMSprop, dict(alpha=-1), "Invalid alpha value: -1"),
            (optim.RMSprop, dict(momentum=-1), "Invalid momentum value: -1"),
            (optim.Adagrad, dict(lr_decay=-1), "Invalid lr_decay value: -1"),
            (optim.Adagrad, dict(initial_accumulator_value=-1), "Invalid initial_accumulator_value value: -1"),
            (optim.Adadelta, dict(rho=1.5), "Invalid rho value: 1.5"),
            (optim.Adamax, dict(betas=(0.9, 1.0)), "Invalid beta parameter at index 1: 1.0"),
            (optim.NAdam, dict(momentum_decay=-1), "Invalid momentum_decay value: -1"),
            (optim.RAdam, dict(weight_decay=-1), "Invalid weight_decay value: -1")]
    for cls, kw, msg in msgs:
        with pytest.raises(ValueError, match=msg.replace("(", r"\(").replace(")", r"\)")):
            cls([w], **kw)
    with pytest.raises(RuntimeError, match="`fused` and `foreach` cannot be `True` together."):
        optim.Adam([w], fused=True, foreach=True)
    with pytest.raises(ValueError, match="Tensor lr must be 1-element"):
        optim.Adam([w], lr=ttorch.ones(2))


def test_compat_flags_are_accepted():
    w = ttorch.nn.Parameter(ttorch.ones(2))
    for opt in (optim.SGD([w], lr=0.1, foreach=True, differentiable=False),
                optim.Adam([w], foreach=False, capturable=True, fused=None),
                optim.AdamW([w], fused=True), optim.RMSprop([w], foreach=True, capturable=True),
                optim.Adagrad([w], fused=True), optim.Adadelta([w], capturable=True),
                optim.Adamax([w], foreach=True), optim.NAdam([w], capturable=True), optim.RAdam([w], foreach=True)):
        w.grad = ttorch.ones(2)
        opt.step()
    assert np.isfinite(w.detach().numpy()).all()


def test_tensor_lr_and_editing_group_lr():
    w = ttorch.nn.Parameter(ttorch.ones(2, dtype=ttorch.float64))
    opt = optim.SGD([w], lr=ttorch.tensor(0.5))
    w.grad = ttorch.ones(2, dtype=ttorch.float64)
    opt.step()
    opt.param_groups[0]["lr"] = 0.25         # what schedulers do
    opt.step()
    np.testing.assert_allclose(w.detach().numpy(), [0.25, 0.25])


def test_zero_grad(device):
    w = ttorch.nn.Parameter(ttorch.ones(3, device=device))
    opt = optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert w.grad is not None and w.grad.cpu().numpy().tolist() == [0, 0, 0]
    opt.zero_grad()
    assert w.grad is None


def test_params_without_grad_are_skipped(device):
    a = ttorch.nn.Parameter(ttorch.ones(2, device=device))
    b = ttorch.nn.Parameter(ttorch.ones(2, device=device))
    opt = optim.Adam([a, b], lr=0.1, weight_decay=0.1)
    a.grad = ttorch.ones(2, device=device)
    opt.step()
    assert b not in opt.state and len(opt.state) == 1
    assert b.detach().cpu().numpy().tolist() == [1, 1]
    assert a.detach().cpu().numpy()[0] < 1


def test_closure_and_training_converges(device):
    ttorch.manual_seed(0)
    r = np.random.default_rng(0)
    x = ttorch.tensor(r.normal(size=(16, 3)), dtype=ttorch.float32, device=device)
    y = x @ ttorch.tensor([[1.0], [-2.0], [0.5]], device=device) + 0.3
    model = ttorch.nn.Linear(3, 1).to(device)
    opt = optim.Adam(model.parameters(), lr=0.1)
    calls = []

    def closure():
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        calls.append(1)
        return loss

    steps = 60 if device == "cpu" else 6      # the simulated device is slow: a few steps there
    first = opt.step(closure).item()
    for _ in range(steps):
        last = opt.step(closure).item()
    assert len(calls) == steps + 1
    assert last < (1e-3 * first + 1e-4 if device == "cpu" else 0.7 * first)


def test_step_hooks_and_repr():
    w = ttorch.nn.Parameter(ttorch.ones(2))
    opt = optim.SGD([w], lr=0.1)
    seen = []
    h1 = opt.register_step_pre_hook(lambda o, args, kwargs: seen.append(("pre", w.detach().numpy()[0].item())))
    opt.register_step_post_hook(lambda o, args, kwargs: seen.append(("post", w.detach().numpy()[0].item())))
    w.grad = ttorch.ones(2)
    opt.step()
    assert seen[0] == ("pre", 1.0) and seen[1][0] == "post" and abs(seen[1][1] - 0.9) < 1e-6
    h1.remove()
    opt.step()
    assert [s[0] for s in seen] == ["pre", "post", "post"]
    text = repr(opt)
    assert text.startswith("SGD (\nParameter Group 0\n") and "    lr: 0.1\n" in text and text.endswith(")")
    assert "params" not in text


def test_adagrad_creates_state_at_construction():
    w = ttorch.nn.Parameter(ttorch.ones(2))
    opt = optim.Adagrad([w], initial_accumulator_value=0.5)
    st = opt.state_dict()["state"][0]
    assert list(st) == ["step", "sum"] and st["step"].item() == 0.0
    assert st["sum"].numpy().tolist() == [0.5, 0.5]


def test_nadam_and_rmsprop_state_names():
    w = ttorch.nn.Parameter(ttorch.ones(2))
    for cls, kw, keys in ((optim.NAdam, {}, ["step", "mu_product", "exp_avg", "exp_avg_sq"]),
                          (optim.RMSprop, dict(momentum=0.9, centered=True),
                           ["step", "square_avg", "momentum_buffer", "grad_avg"]),
                          (optim.Adadelta, {}, ["step", "square_avg", "acc_delta"]),
                          (optim.Adamax, {}, ["step", "exp_avg", "exp_inf"]),
                          (optim.RAdam, {}, ["step", "exp_avg", "exp_avg_sq"])):
        opt = cls([w], **kw)
        w.grad = ttorch.ones(2)
        opt.step()
        assert list(opt.state[w]) == keys, cls.__name__
    assert opt.state[w]["step"].dtype is ttorch.float32


def test_optimizer_pickles():
    import pickle
    w = ttorch.nn.Parameter(ttorch.ones(2))
    opt = optim.Adam([w], lr=0.1)
    w.grad = ttorch.ones(2)
    opt.step()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        back = pickle.loads(pickle.dumps(opt))
    assert back.param_groups[0]["lr"] == 0.1 and back._optimizer_step_pre_hooks == {}


def test_docstring_examples_run():
    import doctest
    import importlib
    for m in ("optimizer", "sgd", "adam", "rmsprop", "adagrad", "adadelta", "adamax", "nadam", "radam"):
        mod = importlib.import_module(f"ttorch.optim.{m}")
        res = doctest.testmod(mod, extraglobs={"ttorch": ttorch}, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert res.failed == 0 and res.attempted > 0, m


def test_step_hooks_wrap_the_closure_and_custom_optimizers():
    w = ttorch.nn.Parameter(ttorch.ones(2))
    order = []

    class Plain(optim.Optimizer):           # a user's optimizer overriding step, as in PyTorch
        def __init__(self, params, lr):
            super().__init__(params, dict(lr=lr))

        def step(self, closure=None):
            order.append("step")
            with ttorch.no_grad():
                for group in self.param_groups:
                    for p in group["params"]:
                        if p.grad is not None:
                            p.add_(p.grad, alpha=-group["lr"])
                            self.state[p]["n"] = self.state[p].get("n", 0) + 1

    opt = Plain([w], lr=0.5)
    opt.register_step_pre_hook(lambda o, a, k: order.append("pre"))
    opt.register_step_post_hook(lambda o, a, k: order.append("post"))
    g = optim.optimizer.register_optimizer_step_pre_hook(lambda o, a, k: order.append("global"))
    w.grad = ttorch.ones(2)
    opt.step()
    g.remove()
    assert order == ["global", "pre", "step", "post"] and w.detach().numpy().tolist() == [0.5, 0.5]
    assert opt.state_dict()["state"] == {0: {"n": 1}}
    # a pre-hook may replace the arguments: here it supplies the closure
    sgd = optim.SGD([w], lr=0.1)
    sgd.register_step_pre_hook(lambda o, a, k: ((), {"closure": lambda: order.append("closure") or 7.0}))
    assert sgd.step() == 7.0 and order[-1] == "closure"
    bad = optim.SGD([w], lr=0.1)
    bad.register_step_pre_hook(lambda o, a, k: 3)
    with pytest.raises(RuntimeError, match="must return None or a tuple of"):
        bad.step()


def test_state_from_other_options_and_number_steps():
    w = ttorch.nn.Parameter(ttorch.ones(2, dtype=ttorch.float64))
    opt = optim.Adam([w], lr=0.1)
    w.grad = ttorch.ones(2, dtype=ttorch.float64)
    opt.step()
    sd = opt.state_dict()
    sd["state"][0]["step"] = 1              # an old checkpoint's Python number
    opt2 = optim.Adam([w], lr=0.1, amsgrad=True)
    opt2.load_state_dict(sd)
    opt2.param_groups[0]["amsgrad"] = True   # the saved groups said amsgrad=False
    opt2.step()
    st = opt2.state[w]
    assert st["step"].item() == 2.0 and "max_exp_avg_sq" in st
    np.testing.assert_allclose(st["max_exp_avg_sq"].numpy(), st["exp_avg_sq"].numpy())
    r = optim.RMSprop([w], lr=0.1)
    r.step()
    r.param_groups[0].update(centered=True, momentum=0.9)
    r.step()
    assert list(r.state[w]) == ["step", "square_avg", "grad_avg", "momentum_buffer"]
