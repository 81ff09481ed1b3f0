"""Learning-rate schedulers: each sequence against its closed form from PyTorch's documentation,
written here independently of the implementation (the schedulers run their recursive forms)."""
import copy
import doctest
import math
import pickle
import warnings

import pytest

import ttorch
from ttorch.optim import SGD, Adam, Optimizer
from ttorch.optim import lr_scheduler as L

N = 30


def _opt(lrs=(1.0, 0.5), momentum=0.0):
    """An SGD with one param group per lr (the schedulers must treat groups apart)."""
    groups = [{"params": [ttorch.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs]
    return SGD(groups, lr=lrs[0], momentum=momentum)


def _run(opt, sched, n=N, key="lr"):
    """Values of ``group[key]`` for epochs 0..n (epoch 0: right after construction)."""
    out = [[g[key] for g in opt.param_groups]]
    for _ in range(n):
        opt.step()
        sched.step()
        out.append([g[key] for g in opt.param_groups])
    return out


def _check(got, closed, bases=(1.0, 0.5), rel=1e-12):
    for e, row in enumerate(got):
        want = [closed(e, b) for b in bases]
        assert row == pytest.approx(want, rel=rel, abs=1e-15), f"epoch {e}: {row} != {want}"


def test_lambda_lr_and_per_group_lambdas():
    opt = _opt()
    s = L.LambdaLR(opt, lambda e: 0.95 ** e)
    _check(_run(opt, s), lambda e, b: b * 0.95 ** e)
    opt = _opt()
    s = L.LambdaLR(opt, [lambda e: 1.0 / (e + 1), lambda e: e * 0.1])
    got = _run(opt, s, 10)
    for e, row in enumerate(got):
        assert row == pytest.approx([1.0 / (e + 1), 0.5 * e * 0.1])
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 1"):
        L.LambdaLR(_opt(), [lambda e: 1.0])


def test_multiplicative_lr():
    opt = _opt()
    s = L.MultiplicativeLR(opt, lambda e: 1.0 - 0.01 * e)
    _check(_run(opt, s), lambda e, b: b * math.prod(1.0 - 0.01 * k for k in range(1, e + 1)))


def test_step_multistep_exponential():
    opt = _opt()
    _check(_run(opt, L.StepLR(opt, step_size=3, gamma=0.5)), lambda e, b: b * 0.5 ** (e // 3))
    opt = _opt()
    ms = [2, 5, 5, 9]          # a repeated milestone decays twice
    _check(_run(opt, L.MultiStepLR(opt, ms, gamma=0.1)), lambda e, b: b * 0.1 ** sum(m <= e for m in ms))
    opt = _opt()
    _check(_run(opt, L.ExponentialLR(opt, gamma=0.9)), lambda e, b: b * 0.9 ** e, rel=1e-11)


def test_constant_linear_polynomial():
    opt = _opt()
    _check(_run(opt, L.ConstantLR(opt, factor=0.5, total_iters=4)), lambda e, b: b * (0.5 if e < 4 else 1.0))
    opt = _opt()
    _check(_run(opt, L.LinearLR(opt, start_factor=0.25, end_factor=0.75, total_iters=8)),
           lambda e, b: b * (0.25 + 0.5 * min(e, 8) / 8))
    opt = _opt()
    _check(_run(opt, L.PolynomialLR(opt, total_iters=10, power=2.0)), lambda e, b: b * (1 - min(e, 10) / 10) ** 2,
           rel=1e-10)


def test_cosine_annealing_recursive_matches_closed_form():
    opt = _opt()
    # past T_max the cosine climbs back up, as PyTorch's recursive form does
    _check(_run(opt, L.CosineAnnealingLR(opt, T_max=7, eta_min=0.01)),
           lambda e, b: 0.01 + (b - 0.01) * (1 + math.cos(math.pi * e / 7)) / 2, rel=1e-9)


@pytest.mark.parametrize("make", [lambda o: L.StepLR(o, 3, 0.5), lambda o: L.MultiStepLR(o, [2, 5, 5, 9], 0.1),
                                  lambda o: L.ConstantLR(o, 0.5, 4), lambda o: L.LinearLR(o, 0.25, 0.75, 8),
                                  lambda o: L.ExponentialLR(o, 0.9), lambda o: L.PolynomialLR(o, 10, 2.0),
                                  lambda o: L.CosineAnnealingLR(o, 7, 0.01)])
def test_step_with_epoch_uses_the_closed_form(make):
    opt = _opt()
    recursive = _run(opt, make(opt))
    opt = _opt()
    s = make(opt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)       # step(epoch) is deprecated, and warns
        for e in list(range(1, N + 1)) + [3, 0]:           # also backwards: the closed form has no memory
            s.step(e)
            assert s.get_last_lr() == pytest.approx(recursive[e], rel=1e-9, abs=1e-15)


def _warm_restart_closed(e, b, T_0=3, T_mult=2, eta_min=1e-3):
    start, T_i = 0, T_0
    while e >= start + T_i:
        start, T_i = start + T_i, T_i * T_mult
    return eta_min + (b - eta_min) * (1 + math.cos(math.pi * (e - start) / T_i)) / 2


def test_cosine_warm_restarts_integer_and_fractional_epochs():
    opt = _opt()
    s = L.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=2, eta_min=1e-3)
    _check(_run(opt, s), _warm_restart_closed, rel=1e-9)
    opt = _opt()
    s = L.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=2, eta_min=1e-3)
    for epoch in (0.5, 2.75, 3.0, 4.5, 9.25, 21.0 + 1 / 3, 1.5):      # also back to the first cycle
        s.step(epoch)
        assert s.get_last_lr() == pytest.approx([_warm_restart_closed(epoch, b) for b in (1.0, 0.5)])
        assert s.last_epoch == math.floor(epoch)
    opt = _opt()
    s = L.CosineAnnealingWarmRestarts(opt, T_0=4)
    for epoch in (5.5, 13.0):
        s.step(epoch)
        t = epoch % 4
        assert s.get_last_lr()[0] == pytest.approx((1 + math.cos(math.pi * t / 4)) / 2)
    with pytest.raises(ValueError, match="Expected positive integer T_0, but got 0"):
        L.CosineAnnealingWarmRestarts(_opt(), T_0=0)
    with pytest.raises(ValueError, match=r"Expected integer T_mult >= 1, but got 1.5"):
        L.CosineAnnealingWarmRestarts(_opt(), T_0=2, T_mult=1.5)
    with pytest.raises(ValueError, match="Expected non-negative epoch, but got -1"):
        s.step(-1)


def _triangle(e, up, down):
    """Fraction of the way from base to max at iteration e of a cycle of up + down steps."""
    p = e % (up + down)
    return p / up if p <= up else (up + down - p) / down


@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
def test_cyclic_lr_modes_and_momentum(mode):
    opt = _opt((1.0, 0.5), momentum=0.9)
    s = L.CyclicLR(opt, base_lr=[0.1, 0.05], max_lr=[1.0, 2.0], step_size_up=4, step_size_down=2, mode=mode,
                   gamma=0.97, base_momentum=0.8, max_momentum=0.9)

    def amp(e):
        return {"triangular": 1.0, "triangular2": 0.5 ** (e // 6), "exp_range": 0.97 ** e}[mode]
    lrs = _run(opt, s)
    opt2 = _opt((1.0, 0.5), momentum=0.9)
    s2 = L.CyclicLR(opt2, base_lr=[0.1, 0.05], max_lr=[1.0, 2.0], step_size_up=4, step_size_down=2, mode=mode,
                    gamma=0.97, base_momentum=0.8, max_momentum=0.9)
    moms = _run(opt2, s2, key="momentum")
    for e in range(N + 1):
        f = _triangle(e, 4, 2) * amp(e)
        assert lrs[e] == pytest.approx([0.1 + 0.9 * f, 0.05 + 1.95 * f])
        assert moms[e] == pytest.approx([0.9 - 0.1 * f] * 2)
    assert s.base_lrs == [0.1, 0.05]


def test_cyclic_lr_beta1_custom_scale_fn_and_errors():
    p = ttorch.zeros(2, requires_grad=True)
    opt = Adam([p], lr=0.1, betas=(0.9, 0.99))
    s = L.CyclicLR(opt, 0.01, 0.1, step_size_up=3, scale_fn=lambda c: 1.0 / c, scale_mode="cycle")
    betas = _run(opt, s, 12, key="betas")
    for e, ((b1, b2),) in enumerate(betas):
        f = _triangle(e, 3, 3) / (e // 6 + 1)
        assert b1 == pytest.approx(0.9 - 0.1 * f) and b2 == 0.99
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01 + 0.09 * _triangle(12, 3, 3) / 3)
    with pytest.raises(ValueError, match="mode is invalid and scale_fn is None"):
        L.CyclicLR(_opt(), 0.1, 1.0, mode="sawtooth")
    with pytest.raises(ValueError, match="base_lr must have the same length as optimizer.param_groups. base_lr "
                                         "has 3 values, param_groups has 2."):
        L.CyclicLR(_opt(), [0.1] * 3, 1.0)

    class NoMomentum(Optimizer):
        def __init__(self, params):
            super().__init__(params, {"lr": 0.1})
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1 with `cycle_momentum` option"):
        L.CyclicLR(NoMomentum([p]), 0.1, 1.0)
    L.CyclicLR(NoMomentum([p]), 0.1, 1.0, cycle_momentum=False)


def _cos(a, b, pct):
    return b + (a - b) * (1 + math.cos(math.pi * pct)) / 2


@pytest.mark.parametrize("anneal", ["cos", "linear"])
def test_one_cycle_two_phases(anneal):
    f = _cos if anneal == "cos" else (lambda a, b, pct: a + (b - a) * pct)
    opt = _opt((1.0, 1.0), momentum=0.9)
    s = L.OneCycleLR(opt, max_lr=[1.0, 2.0], total_steps=20, pct_start=0.25, anneal_strategy=anneal)
    init = [1.0 / 25, 2.0 / 25]
    lrs = _run(opt, s, 20)
    opt2 = _opt((1.0, 1.0), momentum=0.9)
    s2 = L.OneCycleLR(opt2, max_lr=[1.0, 2.0], total_steps=20, pct_start=0.25, anneal_strategy=anneal)
    moms = _run(opt2, s2, 20, key="momentum")
    for e in range(21):
        # warm up over steps 0..4 (pct_start * total - 1), anneal over 4..19 (and beyond, at step 20)
        want = [f(i, m, e / 4) if e <= 4 else f(m, i / 1e4, (e - 4) / 15) for i, m in zip(init, (1.0, 2.0))]
        assert lrs[e] == pytest.approx(want)
        mom = f(0.95, 0.85, e / 4) if e <= 4 else f(0.85, 0.95, (e - 4) / 15)
        assert moms[e] == pytest.approx([mom, mom])
    with pytest.raises(ValueError, match="Tried to step 21 times. The specified number of total steps is 20"):
        s.step()


def test_one_cycle_three_phase_epochs_and_betas():
    p = ttorch.zeros(2, requires_grad=True)
    opt = Adam([p], lr=0.1, betas=(0.9, 0.999))
    s = L.OneCycleLR(opt, max_lr=0.5, epochs=4, steps_per_epoch=5, pct_start=0.3, three_phase=True,
                     div_factor=10.0, final_div_factor=100.0)
    assert s.total_steps == 20
    i, m, lo = 0.05, 0.5, 0.05 / 100
    for e in range(20):
        if e <= 5:
            lr, b1 = _cos(i, m, e / 5), _cos(0.95, 0.85, e / 5)
        elif e <= 10:
            lr, b1 = _cos(m, i, (e - 5) / 5), _cos(0.85, 0.95, (e - 5) / 5)
        else:
            lr, b1 = _cos(i, lo, (e - 10) / 9), 0.95
        assert opt.param_groups[0]["lr"] == pytest.approx(lr)
        assert opt.param_groups[0]["betas"] == pytest.approx((b1, 0.999))
        opt.step()
        s.step()


def test_one_cycle_errors():
    with pytest.raises(ValueError, match=r"You must define either total_steps OR \(epochs AND steps_per_epoch\)"):
        L.OneCycleLR(_opt(), 1.0)
    with pytest.raises(ValueError, match="Expected positive integer total_steps, but got 0"):
        L.OneCycleLR(_opt(), 1.0, total_steps=0)
    with pytest.raises(ValueError, match="Expected positive integer epochs, but got -1"):
        L.OneCycleLR(_opt(), 1.0, epochs=-1, steps_per_epoch=3)
    with pytest.raises(ValueError, match="Expected float between 0 and 1 pct_start, but got 1.5"):
        L.OneCycleLR(_opt(), 1.0, total_steps=10, pct_start=1.5)
    with pytest.raises(ValueError, match="anneal_strategy must be one of 'cos' or 'linear', instead got exp"):
        L.OneCycleLR(_opt(), 1.0, total_steps=10, anneal_strategy="exp")


def test_sequential_and_chained():
    # PyTorch's documented examples, with lr 1 instead of 0.05
    opt = _opt()
    s = L.SequentialLR(opt, [L.ConstantLR(opt, factor=0.1, total_iters=2), L.ExponentialLR(opt, gamma=0.9)],
                       milestones=[2])
    _check(_run(opt, s), lambda e, b: b * (0.1 if e < 2 else 0.9 ** (e - 2)), rel=1e-11)
    assert s.get_last_lr() == [g["lr"] for g in opt.param_groups]
    opt = _opt()
    s = L.ChainedScheduler([L.ConstantLR(opt, factor=0.1, total_iters=2), L.ExponentialLR(opt, gamma=0.9)])
    _check(_run(opt, s), lambda e, b: b * 0.9 ** e * (0.1 if e < 2 else 1.0), rel=1e-11)
    opt, other = _opt(), _opt()
    with pytest.raises(ValueError, match="Sequential Schedulers expects number of schedulers provided to be one "
                                         "more than the number of milestone points"):
        L.SequentialLR(opt, [L.StepLR(opt, 2), L.StepLR(opt, 3)], milestones=[])
    with pytest.raises(ValueError, match="expects all schedulers to belong to the same optimizer"):
        L.ChainedScheduler([L.StepLR(opt, 2), L.StepLR(other, 3)])
    with pytest.raises(ValueError, match="does not support `ReduceLROnPlateau` scheduler"):
        L.ChainedScheduler([L.StepLR(opt, 2), L.ReduceLROnPlateau(opt)])
    with pytest.raises(ValueError, match="expects at least one scheduler to be chained"):
        L.ChainedScheduler([])


def test_reduce_lr_on_plateau():
    opt = _opt((1.0, 0.5))
    s = L.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=2, threshold=0.1, cooldown=1, min_lr=[0.3, 0.01])
    # rel threshold: better means < best * 0.9
    metrics = [10, 9.5, 9.4, 9.3, 8.0, 8.0, 8.0, 8.0, 8.0, 8.0, 8.0, 8.0]
    want0 = [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.3, 0.3, 0.3, 0.3, 0.3]
    # 9.5, 9.4, 9.3 are not 10% better than 10: 3 bad epochs > patience 2 -> halve, cool down 1 epoch;
    # 8.0 is better than 9.0 (absorbing the cooldown); three more 8.0 -> halve, clipped at min_lr 0.3;
    # the bad epoch in the next cooldown does not count, three more halve group 1 only
    got = []
    for m in metrics:
        s.step(m)
        got.append(opt.param_groups[0]["lr"])
    assert got == pytest.approx(want0)
    assert s.get_last_lr()[1] == pytest.approx(0.5 * 0.5 ** 3)
    opt = _opt((1.0,))
    s = L.ReduceLROnPlateau(opt, mode="max", factor=0.1, patience=0, threshold=1.0, threshold_mode="abs", eps=0.5)
    for m in (1.0, 1.5, 3.0):       # 1.5 is not > 1 + 1; the cut 1 -> 0.1 exceeds eps; the next does not
        s.step(m)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1)
    s.step(3.5)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1)     # 0.1 - 0.01 < eps: not applied
    with pytest.raises(ValueError, match="Factor should be < 1.0."):
        L.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="mode avg is unknown!"):
        L.ReduceLROnPlateau(opt, mode="avg")
    with pytest.raises(ValueError, match="threshold mode pct is unknown!"):
        L.ReduceLROnPlateau(opt, threshold_mode="pct")


def _make(kind, opt):
    return {"step": lambda: L.StepLR(opt, 3, 0.5),
            "multistep": lambda: L.MultiStepLR(opt, [3, 8, 8, 10], 0.5),
            "lambda": lambda: L.LambdaLR(opt, [lambda e: 0.9 ** e, _Halver()]),
            "cos": lambda: L.CosineAnnealingLR(opt, 6, 0.01),
            "warm": lambda: L.CosineAnnealingWarmRestarts(opt, 2, 2),
            "cyclic": lambda: L.CyclicLR(opt, 0.1, 1.0, 3, mode="triangular2"),
            "onecycle": lambda: L.OneCycleLR(opt, 1.0, total_steps=30),
            "seq": lambda: L.SequentialLR(opt, [L.LinearLR(opt, 0.1, total_iters=3), L.ExponentialLR(opt, 0.9)],
                                          [3]),
            "chain": lambda: L.ChainedScheduler([L.ExponentialLR(opt, 0.9), L.MultiStepLR(opt, [9], 0.1)]),
            "plateau": lambda: L.ReduceLROnPlateau(opt, patience=1)}[kind]()


class _Halver:
    """A callable object: its attributes are saved in LambdaLR's state_dict (a function is not)."""

    def __init__(self):
        self.calls = 0

    def __call__(self, e):
        self.calls += 1
        return 0.5 ** (e // 4)


@pytest.mark.parametrize("kind", ["step", "multistep", "lambda", "cos", "warm", "cyclic", "onecycle", "seq",
                                  "chain", "plateau"])
@pytest.mark.parametrize("via", ["pickle", "ttorch.save"])
def test_state_dict_round_trip(kind, via, tmp_path):
    """A scheduler rebuilt from state dicts (pickled, or stored by ttorch.save as plain data)
    continues exactly where the first one was."""
    def step(o, s, i):
        o.step()
        s.step(1.0 + (i % 3 == 0)) if kind == "plateau" else s.step()
    opt = _opt(momentum=0.9)
    s = _make(kind, opt)
    for i in range(7):
        step(opt, s, i)
    sd = s.state_dict()
    assert "optimizer" not in sd
    if via == "pickle":
        sd = pickle.loads(pickle.dumps(sd))
    else:
        ttorch.save(sd, tmp_path / "sched.pt")
        sd = ttorch.load(tmp_path / "sched.pt")
    opt_sd = copy.deepcopy(opt.state_dict())
    opt2 = _opt(momentum=0.9)
    s2 = _make(kind, opt2)
    opt2.load_state_dict(opt_sd)
    s2.load_state_dict(sd)
    assert s2.get_last_lr() == s.get_last_lr()
    if kind == "lambda":
        assert s2.lr_lambdas[1].calls == s.lr_lambdas[1].calls == 8 and sd["lr_lambdas"][0] is None
    for i in range(7, 15):
        step(opt, s, i)
        step(opt2, s2, i)
        assert [g["lr"] for g in opt2.param_groups] == [g["lr"] for g in opt.param_groups]
        assert [g["momentum"] for g in opt2.param_groups] == [g["momentum"] for g in opt.param_groups]


def test_base_state_and_get_lr_warning():
    opt = _opt()
    s = L.StepLR(opt, 2)
    assert s.base_lrs == [1.0, 0.5] and s.last_epoch == 0
    assert [g["initial_lr"] for g in opt.param_groups] == [1.0, 0.5]
    assert s.get_last_lr() == [1.0, 0.5]
    with pytest.warns(UserWarning, match="please use `get_last_lr\\(\\)`"):
        s.get_lr()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.step()
        s.step()
    with pytest.warns(UserWarning, match="The epoch parameter in `scheduler.step\\(\\)` was not necessary"):
        s.step(5)
    assert s.get_last_lr() == pytest.approx([0.01, 0.005])     # the closed form: gamma ** (5 // 2)
    # resuming: last_epoch != -1 needs initial_lr in every group
    with pytest.raises(KeyError, match="param 'initial_lr' is not specified in param_groups\\[0\\] when resuming"):
        L.StepLR(_opt(), 2, last_epoch=3)
    opt = _opt()
    for g in opt.param_groups:
        g["initial_lr"] = g["lr"]
    s = L.ExponentialLR(opt, 0.5, last_epoch=3)       # a resumed scheduler goes on from epoch 4
    assert s.last_epoch == 4
    with pytest.raises(TypeError, match="list is not an Optimizer"):
        L.StepLR([], 2)


def test_step_order_warnings():
    opt = _opt()
    s = L.ExponentialLR(opt, 0.5)
    with pytest.warns(UserWarning, match="Detected call of `lr_scheduler.step\\(\\)` before `optimizer.step\\(\\)`"):
        s.step()
    opt = _opt()
    s = L.ExponentialLR(opt, 0.5)
    opt.step = lambda closure=None: None
    with pytest.warns(UserWarning, match="Seems like `optimizer.step\\(\\)` has been overridden after learning rate"):
        s.step()
    opt = _opt()
    s1, s2 = L.ExponentialLR(opt, 0.5), L.StepLR(opt, 2)      # the second scheduler keeps the one wrapper
    opt.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s1.step()
        s2.step()
    assert "step" not in opt.__getstate__()       # the wrapper is not optimizer state
    opt2 = copy.deepcopy(opt)
    opt2.step()


def test_docstring_examples():
    from ttorch.optim import _cyclic_lr, _plateau
    for mod in (L, _cyclic_lr, _plateau):
        res = doctest.testmod(mod)
        assert res.failed == 0 and res.attempted > 0, mod.__name__
