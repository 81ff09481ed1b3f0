"""LBFGS, Rprop, ASGD, Adafactor and swa_utils: trajectories against float64 NumPy re-implementations of
PyTorch's algorithms, LBFGS's convergence and line search, state_dict round trips, PyTorch's errors,
a short run on each device, and the modules' doctests."""
import copy
import doctest
import math
import pickle

import numpy as np
import pytest

import ttorch
from ttorch import optim
from ttorch.optim import adafactor, asgd, lbfgs, rprop, swa_utils

STEPS = 25


# --------------------------------------------------------------------------- the problem
def _problem(shapes, steps=STEPS, seed=0):
    """Starting points and a deterministic gradient field (smooth part plus per-step noise), so the
    references and the optimizers see the same gradients."""
    r = np.random.default_rng(seed)
    x0 = [r.uniform(-1, 1, s) for s in shapes]
    c = [r.uniform(0.5, 2.0, s) for s in shapes]
    noise = [[r.normal(0, 0.3, s) for s in shapes] for _ in range(steps)]
    return x0, lambda t, i, w: c[i] * w + np.cos(3 * w) + noise[t][i]


def _run(cls, kw, shapes, steps=STEPS, dtype=ttorch.float64, device="cpu"):
    x0, grad = _problem(shapes, steps)
    params = [ttorch.nn.Parameter(ttorch.tensor(x, dtype=dtype, device=device)) for x in x0]
    opt = cls(params, **kw)
    traj = []
    for t in range(steps):
        for i, p in enumerate(params):
            p.grad = ttorch.tensor(grad(t, i, p.detach().cpu().numpy().astype(np.float64)), dtype=dtype, device=device)
        opt.step()
        traj.append([p.detach().cpu().numpy().astype(np.float64) for p in params])
    return traj, params, opt


def _reference(update, shapes, steps=STEPS):
    x0, grad = _problem(shapes, steps)
    ws, states, traj = [x.copy() for x in x0], [{} for _ in shapes], []
    for t in range(steps):
        ws = [update(states[i], w, grad(t, i, w), t + 1) for i, w in enumerate(ws)]
        traj.append([w.copy() for w in ws])
    return traj


# --------------------------------------------------------------------------- references
def ref_rprop(lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), maximize=False):
    def update(s, w, g, t):
        g = -g if maximize else g
        prev, size = s.get("prev", np.zeros_like(w)), s.get("size", np.full_like(w, lr))
        prod = g * prev
        size = np.clip(size * np.where(prod > 0, etas[1], np.where(prod < 0, etas[0], 1.0)), *step_sizes)
        g = np.where(prod < 0, 0.0, g)          # a sign change: no move, and no sign next time
        s.update(prev=g, size=size)
        return w - np.sign(g) * size
    return update


def ref_asgd(lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, maximize=False):
    f32 = lambda x: float(np.float32(x))     # noqa: E731  (PyTorch keeps eta and mu in float32 tensors)

    def update(s, w, g, t):
        eta, mu, ax = s.get("eta", f32(lr)), s.get("mu", 1.0), s.get("ax", np.zeros_like(w))
        g = -g if maximize else g
        if weight_decay:
            g = g + weight_decay * w
        w = w * (1 - lambd * eta) - eta * g
        s["ax"] = ax + mu * (w - ax) if mu != 1 else w.copy()
        s["eta"], s["mu"] = f32(lr / (1 + lambd * lr * t) ** alpha), f32(1 / max(1, t - t0))
        return w
    return update


def ref_adafactor(lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0, maximize=False):
    eps1 = np.finfo(np.float64).eps if eps[0] is None else eps[0]
    rms = lambda x: np.sqrt(np.mean(x * x))   # noqa: E731

    def update(s, w, g, t):
        g = -g if maximize else g
        b = t ** beta2_decay
        alpha = max(eps[1], rms(w)) * min(lr, 1 / math.sqrt(t))
        w = w * (1 - lr * weight_decay)
        if g.ndim > 1:
            r = s.get("r", 0) + b * ((g * g).mean(-1, keepdims=True) - s.get("r", 0))
            c = s.get("c", 0) + b * ((g * g).mean(-2, keepdims=True) - s.get("c", 0))
            s.update(r=r, c=c)
            v = r * c / np.maximum(r.mean(-2, keepdims=True), eps1)
        else:
            v = s["v"] = s.get("v", 0) + b * (g * g - s.get("v", 0))
        u = g / np.sqrt(np.maximum(v, eps1 * eps1))
        return w - alpha / max(1.0, rms(u) / d) * u
    return update


def _two_loop(g, dirs, stps, H):
    q, al = -g, []
    for y, s in zip(reversed(dirs), reversed(stps)):
        al.append(s @ q / (y @ s))
        q = q - al[-1] * y
    r = q * H
    for (y, s), a in zip(zip(dirs, stps), reversed(al)):
        r = r + (a - y @ r / (y @ s)) * s
    return r


def ref_lbfgs(fg, x, steps, lr=1, max_iter=20, max_eval=None, history_size=100, tolerance_grad=1e-7,
              tolerance_change=1e-9):
    """LBFGS with fixed steps (no line search), its history carried across ``steps`` calls of step()."""
    max_eval = max_iter * 5 // 4 if max_eval is None else max_eval
    st, xs = dict(n=0, dirs=[], stps=[], H=1.0), []
    for _ in range(steps):
        loss, g = fg(x)
        evals = 1
        if np.abs(g).max() <= tolerance_grad:
            xs.append(x.copy())
            continue
        for n_iter in range(1, max_iter + 1):
            st["n"] += 1
            if st["n"] == 1:
                d = -g
            else:
                y, s = g - st["g"], st["d"] * st["t"]
                if y @ s > 1e-10:
                    st["dirs"], st["stps"] = (st["dirs"] + [y])[-history_size:], (st["stps"] + [s])[-history_size:]
                    st["H"] = (y @ s) / (y @ y)
                d = _two_loop(g, st["dirs"], st["stps"], st["H"])
            t = min(1.0, 1.0 / np.abs(g).sum()) * lr if st["n"] == 1 else lr
            st.update(g=g, d=d, t=t)
            prev_loss = loss
            if g @ d > -tolerance_change:
                break
            x = x + t * d
            if n_iter == max_iter:
                break
            loss, g = fg(x)
            evals += 1
            if evals >= max_eval or np.abs(g).max() <= tolerance_grad or np.abs(t * d).max() <= tolerance_change \
                    or abs(loss - prev_loss) < tolerance_change:
                break
        xs.append(x.copy())
    return xs


# --------------------------------------------------------------------------- element-wise optimizers
SHAPES = [(3, 4), (5,), (2, 3, 4), ()]
CASES = [
    (optim.Rprop, ref_rprop, dict()),
    (optim.Rprop, ref_rprop, dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2))),
    (optim.Rprop, ref_rprop, dict(lr=0.02, maximize=True)),
    (optim.ASGD, ref_asgd, dict()),
    (optim.ASGD, ref_asgd, dict(lr=0.05, lambd=1e-2, alpha=0.6, t0=5, weight_decay=0.1)),
    (optim.ASGD, ref_asgd, dict(lr=0.02, t0=0, maximize=True)),
    (optim.Adafactor, ref_adafactor, dict()),
    (optim.Adafactor, ref_adafactor, dict(lr=0.1, beta2_decay=-0.5, eps=(1e-20, 1e-2), d=1.5, weight_decay=0.05)),
    (optim.Adafactor, ref_adafactor, dict(lr=0.05, maximize=True)),
]


@pytest.mark.parametrize("cls, ref, kw", CASES, ids=lambda v: getattr(v, "__name__", str(v)))
def test_trajectory_matches_reference(cls, ref, kw):
    got, _, _ = _run(cls, kw, SHAPES)
    want = _reference(ref(**kw), SHAPES)
    for t, (g, w) in enumerate(zip(got, want)):
        for a, b in zip(g, w):
            np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-12, err_msg=f"step {t + 1}")


def test_float32_follows_float64():
    for cls, ref, kw in CASES[::3]:
        got, params, _ = _run(cls, kw, SHAPES[:2], steps=5, dtype=ttorch.float32)
        assert params[0].dtype is ttorch.float32
        want = _reference(ref(**kw), SHAPES[:2], steps=5)
        for a, b in zip(got[-1], want[-1]):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5, err_msg=cls.__name__)


def test_state_layout():
    _, (w, v, x3, z), opt = _run(optim.Adafactor, {}, SHAPES, steps=2)
    st = opt.state
    assert sorted(st[w]) == ["col_var", "row_var", "step"] and sorted(st[v]) == ["step", "variance"]
    assert st[w]["row_var"].shape == (3, 1) and st[w]["col_var"].shape == (1, 4)
    assert st[x3]["row_var"].shape == (2, 3, 1) and st[x3]["col_var"].shape == (2, 1, 4)
    assert st[z]["variance"].shape == () and st[w]["step"].item() == 2 and st[w]["step"].dtype is ttorch.float32
    _, (w, *_), opt = _run(optim.ASGD, dict(t0=0), SHAPES, steps=3)
    s = opt.state[w]
    assert sorted(s) == ["ax", "eta", "mu", "step"] and s["eta"].dtype is ttorch.float32 and s["eta"].shape == ()
    assert s["mu"].item() == float(np.float32(1 / 3)) and s["step"].item() == 3 and s["ax"].shape == (3, 4)
    sd = opt.state_dict()
    sd["state"][0].update(eta=0.01, mu=1.0)      # an old checkpoint's numbers become float32 tensors
    opt.load_state_dict(sd)
    assert opt.state[w]["eta"].dtype is ttorch.float32 and opt.state[w]["eta"].item() == float(np.float32(0.01))
    _, (w, *_), opt = _run(optim.Rprop, {}, SHAPES, steps=1)
    assert sorted(opt.state[w]) == ["prev", "step", "step_size"]
    groups = opt.state_dict()["param_groups"][0]
    assert {k: groups[k] for k in ("etas", "step_sizes", "foreach", "capturable", "differentiable")} == dict(
        etas=(0.5, 1.2), step_sizes=(1e-6, 50), foreach=None, capturable=False, differentiable=False)


# --------------------------------------------------------------------------- LBFGS
def _rosen(x):
    """Rosenbrock's function in NumPy: value and gradient."""
    f = np.sum((1 - x[:-1]) ** 2) + 100 * np.sum((x[1:] - x[:-1] ** 2) ** 2)
    g = np.zeros_like(x)
    g[:-1] = -2 * (1 - x[:-1]) - 400 * x[:-1] * (x[1:] - x[:-1] ** 2)
    g[1:] += 200 * (x[1:] - x[:-1] ** 2)
    return f, g


def _lbfgs_problem(x0, dtype=ttorch.float64, device="cpu", **kw):
    """Rosenbrock's function on a vector split into two parameters; returns (params, opt, closure)."""
    a = ttorch.nn.Parameter(ttorch.tensor(x0[:2], dtype=dtype, device=device))
    b = ttorch.nn.Parameter(ttorch.tensor(x0[2:], dtype=dtype, device=device))
    opt = optim.LBFGS([a, b], **kw)
    calls = []

    def closure():
        opt.zero_grad()
        assert ttorch.is_grad_enabled()
        x = ttorch.cat([a, b])
        loss = ((1 - x[:-1]) ** 2).sum() + 100 * ((x[1:] - x[:-1] ** 2) ** 2).sum()
        loss.backward()
        calls.append(1)
        return loss
    return (a, b), opt, closure, calls


X0 = np.array([-1.2, 1.0, -0.5, 0.8])


@pytest.mark.parametrize("kw", [dict(lr=0.05, max_iter=5), dict(lr=0.1, max_iter=7, history_size=3),
                                dict(lr=0.02, max_iter=4, max_eval=3)])
def test_lbfgs_fixed_step_matches_reference(kw):
    params, opt, closure, _ = _lbfgs_problem(X0, **kw)
    want = ref_lbfgs(_rosen, X0.copy(), 4, **kw)
    for t in range(4):
        opt.step(closure)
        got = np.concatenate([p.detach().numpy() for p in params])
        np.testing.assert_allclose(got, want[t], rtol=1e-10, atol=1e-12, err_msg=f"step {t + 1}")


def test_lbfgs_strong_wolfe_converges_and_matches_pytorch():
    params, opt, closure, calls = _lbfgs_problem(X0, line_search_fn="strong_wolfe", tolerance_grad=1e-12,
                                                 tolerance_change=1e-14)
    losses = [opt.step(closure).item() for _ in range(5)]
    x = np.concatenate([p.detach().numpy() for p in params])
    np.testing.assert_allclose(x, np.ones(4), atol=1e-6)
    assert losses[0] == pytest.approx(_rosen(X0)[0]) and losses[-1] < 1e-12
    st = opt.state[params[0]]
    assert st["func_evals"] == len(calls) and sorted(st) == sorted(
        ["func_evals", "n_iter", "d", "t", "old_dirs", "old_stps", "ro", "H_diag", "prev_flat_grad", "prev_loss", "al"])
    # PyTorch 2.13's first step on the 2-D Rosenbrock problem from (-1.5, 2) (recorded values)
    w = ttorch.nn.Parameter(ttorch.tensor([-1.5, 2.0], dtype=ttorch.float64))
    opt = optim.LBFGS([w], line_search_fn="strong_wolfe")

    def rosen2():
        opt.zero_grad()
        loss = (1 - w[0]) ** 2 + 100 * (w[1] - w[0] ** 2) ** 2
        loss.backward()
        return loss
    opt.step(rosen2)
    np.testing.assert_allclose(w.detach().numpy(), [-0.08511855589860293, -0.028757058413769698], rtol=1e-9)
    assert (opt.state[w]["func_evals"], opt.state[w]["n_iter"]) == (25, 19)


def test_lbfgs_line_search_satisfies_strong_wolfe():
    params, opt, closure, _ = _lbfgs_problem(X0, line_search_fn="strong_wolfe", max_iter=1, max_eval=25)
    for _ in range(6):
        x = np.concatenate([p.detach().numpy() for p in params])
        f, g = _rosen(x)
        opt.step(closure)
        st = opt.state[params[0]]
        d, t = st["d"].numpy(), float(st["t"])
        f_new, g_new = _rosen(x + t * d)
        assert f_new <= f + 1e-4 * t * (g @ d) + 1e-12                 # sufficient decrease
        assert abs(g_new @ d) <= 0.9 * abs(g @ d) + 1e-12              # curvature (strong)
        np.testing.assert_allclose(np.concatenate([p.detach().numpy() for p in params]), x + t * d, rtol=1e-12)


def test_lbfgs_early_exits_and_history():
    params, opt, closure, calls = _lbfgs_problem(np.ones(4))                 # at the minimum: one evaluation
    assert opt.step(closure).item() == 0 and len(calls) == 1 and opt.state[params[0]]["n_iter"] == 0
    params, opt, closure, calls = _lbfgs_problem(X0, lr=0.01, history_size=2, max_iter=10)
    opt.step(closure)
    st = opt.state[params[0]]
    assert len(st["old_dirs"]) == 2 and len(st["ro"]) == 2 and len(calls) == st["func_evals"] <= 12
    assert st["prev_flat_grad"].shape == (4,) and isinstance(st["prev_loss"], float)


def test_lbfgs_state_dict_round_trip():
    def fresh(x):
        return _lbfgs_problem(x, dtype=ttorch.float32, line_search_fn="strong_wolfe", max_iter=3, history_size=4)
    p1, o1, c1, _ = fresh(X0)
    for _ in range(2):
        o1.step(c1)
    p2, o2, c2, _ = fresh(np.concatenate([p.detach().numpy() for p in p1]))
    o2.load_state_dict(copy.deepcopy(o1.state_dict()))
    assert o2.state_dict()["param_groups"] == o1.state_dict()["param_groups"]
    for _ in range(2):
        o1.step(c1)
        o2.step(c2)
    for a, b in zip(p1, p2):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    o3 = pickle.loads(pickle.dumps(o1))         # (PyTorch's LBFGS loses its parameter list here)
    assert o3._params[0].shape == (2,) and o3._numel() == 4


def test_lbfgs_errors_and_hooks():
    w = ttorch.nn.Parameter(ttorch.ones(2))
    with pytest.raises(ValueError, match="LBFGS doesn't support per-parameter options"):
        optim.LBFGS([{"params": [w]}, {"params": [ttorch.nn.Parameter(ttorch.ones(1))]}])
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        optim.LBFGS([w], lr=-1)
    opt = optim.LBFGS([w], line_search_fn="backtracking")
    assert opt.defaults["max_eval"] == 25
    with pytest.raises(TypeError):
        opt.step()
    seen = []
    opt.register_step_pre_hook(lambda *a: seen.append("pre"))

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss
    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        opt.step(closure)
    assert seen == ["pre"]


# --------------------------------------------------------------------------- state dicts and errors
@pytest.mark.parametrize("cls, kw", [(optim.Rprop, dict(lr=0.05)), (optim.ASGD, dict(lr=0.05, t0=2)),
                                     (optim.Adafactor, dict(lr=0.05, weight_decay=0.1))])
def test_state_dict_round_trip_continues_trajectory(cls, kw):
    shapes, dt = SHAPES[:3], ttorch.float32
    full, _, _ = _run(cls, kw, shapes, steps=6, dtype=dt)
    _, params, opt = _run(cls, kw, shapes, steps=3, dtype=dt)
    sd = copy.deepcopy(opt.state_dict())
    x0, grad = _problem(shapes, 6)
    params2 = [ttorch.nn.Parameter(p.detach().clone()) for p in params]
    opt2 = cls(params2, **kw)
    opt2.load_state_dict(sd)
    for t in range(3, 6):
        for i, p in enumerate(params2):
            p.grad = ttorch.tensor(grad(t, i, p.detach().numpy().astype(np.float64)), dtype=dt)
        opt2.step()
    for a, b in zip(params2, full[-1]):
        np.testing.assert_array_equal(a.detach().numpy(), b)


def test_constructor_errors():
    w = [ttorch.nn.Parameter(ttorch.ones(2))]
    cases = [
        (optim.Rprop, dict(lr=-0.1), "Invalid learning rate: -0.1"),
        (optim.Rprop, dict(etas=(1.2, 0.5)), "Invalid eta values: 1.2, 0.5"),
        (optim.Rprop, dict(lr=ttorch.ones(2)), "Tensor lr must be 1-element"),
        (optim.ASGD, dict(lr=-1.0), "Invalid learning rate: -1.0"),
        (optim.ASGD, dict(weight_decay=-0.5), "Invalid weight_decay value: -0.5"),
        (optim.Adafactor, dict(lr=-1.0), "Learning rate should be >= 0 but is: -1.0"),
        (optim.Adafactor, dict(beta2_decay=0.5), "beta2_decay should be <= 0 but is: 0.5"),
        (optim.Adafactor, dict(eps=(-1.0, 1e-3)), "epsilon1 should be >= 0 but is: -1.0"),
        (optim.Adafactor, dict(eps=(None, -1.0)), "epsilon2 should be >= 0 but is: -1.0"),
        (optim.Adafactor, dict(d=0.5), "Clipping threshold d should be >= 1 but is: 0.5"),
        (optim.Adafactor, dict(weight_decay=-1.0), "weight_decay should be >= 0 but is: -1.0"),
        (optim.Adafactor, dict(lr=ttorch.ones(2)), "Tensor lr must be 1-element"),
    ]
    for cls, kw, msg in cases:
        with pytest.raises(ValueError) as e:
            cls(w, **kw)
        assert str(e.value) == msg
    for cls in (optim.Rprop, optim.ASGD):
        cls(w, foreach=False, differentiable=False, capturable=False, maximize=True)
    optim.Adafactor(w, foreach=True, maximize=True)
    assert optim.Adafactor(w).defaults == dict(lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0,
                                               foreach=None, maximize=False)
    assert optim.ASGD(w).defaults["t0"] == 1e6 and optim.Rprop(w).defaults["step_sizes"] == (1e-6, 50)


def test_tensor_lr_and_param_groups():
    a, b = ttorch.nn.Parameter(ttorch.ones(2)), ttorch.nn.Parameter(ttorch.ones(2, 2))
    opt = optim.Rprop([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=ttorch.tensor(0.1))
    ((a * a).sum() + (b * b).sum()).backward()
    opt.step()
    np.testing.assert_allclose(a.detach().numpy(), [0.9, 0.9], rtol=1e-6)
    np.testing.assert_allclose(b.detach().numpy(), np.full((2, 2), 0.5))


# --------------------------------------------------------------------------- devices
def test_runs_on_device(device):
    shapes, steps = [(2, 3), (3,)], 3
    for cls, ref, kw in (CASES[1], CASES[4], CASES[7]):
        got, params, _ = _run(cls, kw, shapes, steps=steps, dtype=ttorch.float32, device=device)
        assert params[0].device.type == device
        want = _reference(ref(**kw), shapes, steps=steps)
        for a, b in zip(got[-1], want[-1]):
            np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-5, err_msg=cls.__name__)
    params, opt, closure, _ = _lbfgs_problem(X0, dtype=ttorch.float32, device=device, lr=0.05, max_iter=3)
    opt.step(closure)
    want = ref_lbfgs(_rosen, X0.copy(), 1, lr=0.05, max_iter=3)[0]
    np.testing.assert_allclose(np.concatenate([p.detach().cpu().numpy() for p in params]), want, rtol=1e-4)
    params, opt, closure, _ = _lbfgs_problem(X0, dtype=ttorch.float32, device=device, line_search_fn="strong_wolfe",
                                             max_iter=4)
    _, ref_opt, ref_closure, _ = _lbfgs_problem(X0, line_search_fn="strong_wolfe", max_iter=4)
    opt.step(closure)
    ref_opt.step(ref_closure)
    np.testing.assert_allclose(np.concatenate([p.detach().cpu().numpy() for p in params]),
                               np.concatenate([p.detach().numpy() for p in ref_opt._params]), rtol=1e-4, atol=1e-5)
    assert opt.state[params[0]]["func_evals"] == ref_opt.state[ref_opt._params[0]]["func_evals"]
    model = ttorch.nn.Linear(2, 1).to(device)
    avg = swa_utils.AveragedModel(model, multi_avg_fn=swa_utils.get_ema_multi_avg_fn(0.5))
    for v in (1.0, 3.0):
        with ttorch.no_grad():
            model.weight.fill_(v)
        avg.update_parameters(model)
    np.testing.assert_allclose(avg.module.weight.detach().cpu().numpy(), [[2.0, 2.0]])
    assert avg.n_averaged.item() == 2


# --------------------------------------------------------------------------- swa_utils
def _set_weights(model, r):
    """New random weights (and BatchNorm running mean) for ``model``; returns them as arrays."""
    with ttorch.no_grad():
        for p in model.parameters():
            p.copy_(ttorch.tensor(r.normal(size=tuple(p.shape)), dtype=p.dtype))
        model[1].running_mean.copy_(ttorch.tensor(r.normal(size=2), dtype=ttorch.float64))
    return [p.detach().numpy().copy() for p in model.parameters()], model[1].running_mean.numpy().copy()


@pytest.mark.parametrize("mode", ["swa", "swa_fn", "swa_multi", "ema_multi", "ema_fn_buffers"])
def test_averaged_model_matches_reference(mode):
    r = np.random.default_rng(0)
    model = ttorch.nn.Sequential(ttorch.nn.Linear(3, 2), ttorch.nn.BatchNorm1d(2)).to(ttorch.float64)
    kw = {"swa": {}, "swa_fn": dict(avg_fn=swa_utils.get_swa_avg_fn()),
          "swa_multi": dict(multi_avg_fn=swa_utils.get_swa_multi_avg_fn()),
          "ema_multi": dict(multi_avg_fn=swa_utils.get_ema_multi_avg_fn(0.9)),
          "ema_fn_buffers": dict(avg_fn=swa_utils.get_ema_avg_fn(0.8), use_buffers=True)}[mode]
    avg = swa_utils.AveragedModel(model, **kw)
    ws, rms = [], []
    for _ in range(4):
        w, rm = _set_weights(model, r)
        ws.append(w)
        rms.append(rm)
        avg.update_parameters(model)
    decay = {"ema_multi": 0.9, "ema_fn_buffers": 0.8}.get(mode)
    for k, p in enumerate(avg.module.parameters()):
        snaps = [w[k] for w in ws]
        want = np.mean(snaps, 0) if decay is None else snaps[0]
        if decay is not None:
            for s in snaps[1:]:
                want = decay * want + (1 - decay) * s
        elif mode == "swa_multi":     # PyTorch's lerp by 1 / (n + 1) computed from the int64 count: float32
            want = snaps[0]
            for n, s in enumerate(snaps[1:], 1):
                want = want + float(np.float32(1 / (n + 1))) * (s - want)
        np.testing.assert_allclose(p.detach().numpy(), want, rtol=1e-13, atol=1e-14)
    bn = avg.module[1]
    if mode == "ema_fn_buffers":      # buffers averaged too; the integer count through copy_ (truncated)
        want = rms[0]
        for s in rms[1:]:
            want = 0.8 * want + 0.2 * s
        np.testing.assert_allclose(bn.running_mean.numpy(), want, rtol=1e-13)
    else:                             # buffers copied from the model
        np.testing.assert_array_equal(bn.running_mean.numpy(), rms[-1])
    assert avg.n_averaged.item() == 4 and avg.n_averaged.dtype is ttorch.int64
    assert list(avg.state_dict())[:3] == ["n_averaged", "module.0.weight", "module.0.bias"]
    x = ttorch.randn(4, 3, dtype=ttorch.float64)
    avg.eval()
    np.testing.assert_array_equal(avg(x).detach().numpy(), avg.module(x).detach().numpy())


def test_averaged_model_errors():
    model = ttorch.nn.Linear(2, 2)
    with pytest.raises(AssertionError, match="Only one of avg_fn and multi_avg_fn should be provided"):
        swa_utils.AveragedModel(model, avg_fn=swa_utils.get_swa_avg_fn(),
                                multi_avg_fn=swa_utils.get_swa_multi_avg_fn())
    for fn in (swa_utils.get_ema_avg_fn, swa_utils.get_ema_multi_avg_fn):
        with pytest.raises(ValueError, match=r"Invalid decay value 1.5 provided. Please provide a value in \[0,1\]"):
            fn(1.5)
    avg = swa_utils.AveragedModel(model)
    assert avg.module is not model and avg.module.weight is not model.weight


def _swalr_reference(lr0, swa_lr, epochs, strategy, steps):
    """SWALR's lr in closed form after ``s`` scheduler steps (s = 0: construction): ``t = s / epochs``
    clipped to [0, 1] (with no annealing epochs, s counts from 1), ``lr = swa_lr a(t) + lr0 (1 - a(t))``."""
    anneal = (lambda t: t) if strategy == "linear" else (lambda t: (1 - math.cos(math.pi * t)) / 2)
    out = []
    for s in range(steps + 1):
        a = anneal(min(1, (max(1, s) if epochs == 0 else s) / max(1, epochs)))
        out.append(swa_lr * a + lr0 * (1 - a))
    return out


@pytest.mark.parametrize("strategy, epochs", [("cos", 5), ("linear", 3), ("cos", 0), ("linear", 1)])
def test_swalr_schedule(strategy, epochs):
    w = ttorch.nn.Parameter(ttorch.zeros(1))
    opt = optim.SGD([{"params": [w]}, {"params": [ttorch.nn.Parameter(ttorch.zeros(1))], "lr": 0.5}], lr=1.0)
    sched = swa_utils.SWALR(opt, swa_lr=[0.1, 0.02], anneal_epochs=epochs, anneal_strategy=strategy)
    assert [g["swa_lr"] for g in opt.param_groups] == [0.1, 0.02]
    got = [sched.get_last_lr()]
    for _ in range(8):
        opt.step()
        sched.step()
        got.append(sched.get_last_lr())
    for k, (lr0, swa_lr) in enumerate([(1.0, 0.1), (0.5, 0.02)]):
        np.testing.assert_allclose([g[k] for g in got], _swalr_reference(lr0, swa_lr, epochs, strategy, 8),
                                   rtol=1e-12)
    sd = sched.state_dict()
    assert "anneal_func" not in sd and "optimizer" not in sd and sd["_anneal_strategy"] == strategy
    other = swa_utils.SWALR(opt, swa_lr=0.3, anneal_strategy="linear" if strategy == "cos" else "cos")
    other.load_state_dict(sd)
    assert other.anneal_func is getattr(other, "_cosine_anneal" if strategy == "cos" else "_linear_anneal")
    opt2 = optim.SGD([w], lr=1.0)
    with pytest.raises(ValueError, match="anneal_strategy must be one of 'cos' or 'linear', instead got exp"):
        swa_utils.SWALR(opt2, 0.1, anneal_strategy="exp")
    with pytest.raises(ValueError, match="anneal_epochs must be equal or greater than 0, got -1"):
        swa_utils.SWALR(opt2, 0.1, anneal_epochs=-1)
    with pytest.raises(ValueError, match="swa_lr must have the same length as optimizer.param_groups"):
        swa_utils.SWALR(opt2, [0.1, 0.2])


def test_update_bn():
    r = np.random.default_rng(3)
    model = ttorch.nn.Sequential(ttorch.nn.Linear(3, 4), ttorch.nn.BatchNorm1d(4, momentum=0.3)).to(ttorch.float64)
    model.eval()
    batches = [r.normal(size=(5, 3)) for _ in range(3)]
    loader = [(ttorch.tensor(b), ttorch.zeros(5)) for b in batches]       # (input, target) pairs
    swa_utils.update_bn(loader, model)
    W, b = model[0].weight.detach().numpy(), model[0].bias.detach().numpy()
    h = [x @ W.T + b for x in batches]
    bn = model[1]
    np.testing.assert_allclose(bn.running_mean.numpy(), np.mean([x.mean(0) for x in h], 0), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.numpy(), np.mean([x.var(0, ddof=1) for x in h], 0), rtol=1e-12)
    assert bn.momentum == 0.3 and not model.training and bn.num_batches_tracked.item() == 3
    swa_utils.update_bn([ttorch.ones(2, 3)], ttorch.nn.Linear(3, 1))      # no BatchNorm: nothing to do


def test_docstring_examples():
    for mod in (lbfgs, rprop, asgd, adafactor, swa_utils):
        res = doctest.testmod(mod, extraglobs={"ttorch": ttorch})
        assert res.failed == 0 and res.attempted > 0, mod.__name__
