"""Mixed precision: ``ttorch.autocast``'s dtype rules (PyTorch's op lists per device),
gradients through casts, ``GradScaler``'s skip/backoff/growth, and ``ttorch.compile``."""
import warnings

import numpy as np
import pytest

import ttorch
import ttorch.nn.functional as F
from ttorch import _dtype as D
from ttorch.ops import _op

from _helpers import close

LOW = {"cpu": ttorch.bfloat16, "cuda": ttorch.float16}


def _t(shape, device, dtype=ttorch.float32, requires_grad=False, seed=0):
    a = np.random.default_rng(seed).uniform(-1, 1, size=shape)
    return ttorch.tensor(a, dtype=dtype, device=device, requires_grad=requires_grad)


def _ref(t):
    return t.detach().cpu().double().numpy()


# ---------------------------------------------------------------------------------------- dtype rules
def test_lower_precision_ops(device):
    low = LOW[device]
    a, b = _t((3, 5), device), _t((5, 4), device, seed=1)
    w, bias = _t((4, 5), device, seed=2), _t((4,), device, seed=3)
    with ttorch.autocast(device):
        c = a @ b
        outs = [c, ttorch.matmul(a, b), ttorch.mm(a, b), a.mm(b), ttorch.bmm(a[None], b[None]),
                ttorch.addmm(bias[:1], a, b), ttorch.baddbmm(bias[None, None, :1], a[None], b[None]),
                F.linear(a, w, bias), F.linear(a.to(low), w, bias)]     # mixed inputs cast first
        q = _t((1, 2, 3, 8), device, seed=4)
        outs.append(F.scaled_dot_product_attention(q, q, q))
    for o in outs:
        assert o.dtype is low
    assert c.requires_grad is False
    close(c, _ref(a) @ _ref(b), low, n=5)
    close(outs[7], _ref(a) @ _ref(w).T + _ref(bias), low, n=5)


def test_float32_ops(device):
    """Softmax, norms, losses, sums: float32 on cuda; on cpu only PyTorch's cpu list (losses, prod)."""
    low = LOW[device]
    x = _t((4, 6), device, dtype=low)
    tgt = ttorch.tensor([0, 1, 2, 5], device=device)
    on_cuda = ttorch.float32 if device == "cuda" else low      # ops only the cuda list names
    with ttorch.autocast(device):
        assert F.cross_entropy(x, tgt).dtype is ttorch.float32
        assert F.nll_loss(x, tgt).dtype is ttorch.float32
        assert F.mse_loss(x, x.detach() * 0).dtype is ttorch.float32
        assert F.l1_loss(x, x * 0).dtype is ttorch.float32
        assert F.binary_cross_entropy_with_logits(x, x * 0).dtype is ttorch.float32
        assert x.prod(1).dtype is ttorch.float32
        assert x.softmax(-1).dtype is on_cuda
        assert F.log_softmax(x, -1).dtype is on_cuda
        assert F.layer_norm(x, (6,)).dtype is on_cuda
        assert F.group_norm(x.reshape(2, 4, 3), 2).dtype is on_cuda
        assert x.sum().dtype is on_cuda
        assert x.exp().dtype is on_cuda
        assert x.log().dtype is on_cuda
        assert (x ** 2).dtype is on_cuda
        assert x.cumsum(0).dtype is on_cuda
        assert x.norm().dtype is on_cuda
    ref = _ref(x)
    with ttorch.autocast(device):
        close(x.softmax(-1), np.exp(ref) / np.exp(ref).sum(-1, keepdims=True), on_cuda, n=6)


def test_promote_ops(device):
    low = LOW[device]
    a, b = _t((2, 3), device, dtype=low), _t((2, 3), device, seed=1)
    with ttorch.autocast(device):
        assert (a + b).dtype is ttorch.float32          # binary ops promote by themselves
        assert (a + a).dtype is low
        assert ttorch.cat([a, b]).dtype is ttorch.float32
        assert ttorch.stack([a, a]).dtype is low
        if device == "cuda":
            assert ttorch.addcmul(a, a, b).dtype is ttorch.float32
            assert ttorch.addcmul(a, a, a).dtype is low
            assert ttorch.atan2(a, b).dtype is ttorch.float32
            assert ttorch.dot(a[0], b[0]).dtype is ttorch.float32


def test_unlisted_and_ineligible_inputs_untouched(device):
    low = LOW[device]
    x = _t((3, 3), device)
    d = _t((3, 3), device, dtype=ttorch.float64)
    i = ttorch.arange(9, device=device).reshape(3, 3)
    with ttorch.autocast(device):
        assert x.relu().dtype is ttorch.float32 and x.mean().dtype is ttorch.float32
        assert (x * 2).dtype is ttorch.float32 and x.tanh().dtype is ttorch.float32
        assert x.to(low).relu().dtype is low and x.to(low).mean().dtype is low
        assert F.avg_pool2d(x.to(low)[None], 2).dtype is low   # one native op in PyTorch: unlisted
        assert (d @ d).dtype is ttorch.float64                  # float64 is never cast
        assert F.cross_entropy(d, ttorch.tensor([0, 1, 2], device=device)).dtype is ttorch.float64
        assert (i + 1).dtype is ttorch.int64
        assert x[i % 3].dtype is ttorch.float32                 # index tensors stay integral
        if device == "cpu":
            assert (i @ i).dtype is ttorch.int64


def test_other_device_untouched():
    other = {"cpu": "cuda", "cuda": "cpu"}
    for dev in ("cpu", "cuda"):
        x = _t((2, 2), other[dev])
        with ttorch.autocast(dev):
            assert (x @ x).dtype is ttorch.float32
            assert ttorch.is_autocast_enabled(dev) and not ttorch.is_autocast_enabled(other[dev])


def test_nesting_enabled_false_and_state(device):
    low = LOW[device]
    x = _t((2, 2), device)
    assert not ttorch.is_autocast_enabled(device) and _op._autocast is None
    with ttorch.autocast(device):
        assert ttorch.is_autocast_enabled(device)
        assert ttorch.get_autocast_dtype(device) is low
        assert ttorch.is_autocast_cpu_enabled() is (device == "cpu")
        assert ttorch.get_autocast_cpu_dtype() is ttorch.bfloat16 and ttorch.get_autocast_gpu_dtype() is ttorch.float16
        with ttorch.autocast(device, enabled=False):
            assert not ttorch.is_autocast_enabled(device)
            assert (x @ x).dtype is ttorch.float32
            with ttorch.autocast(device):
                assert (x @ x).dtype is low
            assert (x @ x).dtype is ttorch.float32
        assert (x @ x).dtype is low
        other = ttorch.float16 if low is ttorch.bfloat16 else ttorch.bfloat16
        with ttorch.autocast(device, dtype=other):
            assert (x @ x).dtype is other and ttorch.get_autocast_dtype(device) is other
        assert ttorch.get_autocast_dtype(device) is low
    assert not ttorch.is_autocast_enabled(device) and _op._autocast is None
    with pytest.raises(ZeroDivisionError):      # an exception inside still restores the state
        with ttorch.autocast(device):
            1 / 0
    assert _op._autocast is None and not ttorch.is_autocast_enabled(device)


def test_decorator_and_aliases(device):
    low = LOW[device]
    x = _t((2, 2), device)

    @ttorch.autocast(device)
    def f(a):
        return a @ a

    @ttorch.amp.autocast(device_type=device)
    def g(a):
        return f(a) @ a     # nested use of the same instance through ``f``

    assert f(x).dtype is low and g(x).dtype is low
    assert (x @ x).dtype is ttorch.float32
    alias = ttorch.cuda.amp.autocast if device == "cuda" else ttorch.cpu.amp.autocast
    with pytest.warns(FutureWarning, match="is deprecated"):
        ctx = alias()
    with ctx:
        assert (x @ x).dtype is low
    assert ttorch.is_autocast_enabled() is False        # no argument: the cuda state
    assert ttorch.is_autocast_available(device)


def test_argument_errors():
    with pytest.raises(ValueError, match="Expected `device_type` of type `str`"):
        ttorch.autocast(ttorch.device("cpu"))
    with pytest.raises(RuntimeError, match="unsupported autocast device_type 'tpu'"):
        ttorch.autocast("tpu")
    with pytest.warns(UserWarning, match="CPU Autocast only supports"):
        ctx = ttorch.autocast("cpu", dtype=ttorch.float64)
    with ctx:
        assert not ttorch.is_autocast_enabled("cpu")


def test_binary_cross_entropy(device):
    p = _t((4,), device).sigmoid()
    with ttorch.autocast(device):
        if device == "cuda":
            with pytest.raises(RuntimeError, match="unsafe to autocast"):
                F.binary_cross_entropy(p, p.detach())
        else:
            assert F.binary_cross_entropy(p.to(ttorch.bfloat16), p).dtype is ttorch.float32


# ---------------------------------------------------------------------------------------- gradients
def test_gradients_in_leaf_dtypes(device):
    """A float32 MLP under autocast: the graph runs in the low dtype, grads land in float32 and
    match float64 finite-difference-free reference gradients to the low dtype's tolerance."""
    low = LOW[device]
    x = _t((5, 4), device, seed=0)
    w1 = _t((6, 4), device, requires_grad=True, seed=1)
    w2 = _t((3, 6), device, requires_grad=True, seed=2)
    tgt = ttorch.tensor([0, 2, 1, 1, 0], device=device)
    with ttorch.autocast(device):
        h = F.linear(x, w1).relu()
        assert h.dtype is low
        loss = F.cross_entropy(F.linear(h, w2), tgt)
        assert loss.dtype is ttorch.float32
    loss.backward()
    assert w1.grad.dtype is ttorch.float32 and w2.grad.dtype is ttorch.float32
    # float64 reference of the same function
    X, W1, W2 = _ref(x), _ref(w1), _ref(w2)
    H = np.maximum(X @ W1.T, 0)
    Z = H @ W2.T
    P = np.exp(Z - Z.max(1, keepdims=True))
    P /= P.sum(1, keepdims=True)
    G = P.copy()
    G[np.arange(5), tgt.cpu().numpy()] -= 1
    G /= 5
    gW2 = G.T @ H
    gW1 = ((G @ W2) * (H > 0)).T @ X
    close(w2.grad, gW2, D.bfloat16, n=6)
    close(w1.grad, gW1, D.bfloat16, n=6)


def test_backward_inside_region_keeps_forward_dtypes(device):
    w = _t((3, 3), device, requires_grad=True)
    with ttorch.autocast(device):
        y = (w @ w).float().sum()
        y.backward()
        assert w.grad.dtype is ttorch.float32
    close(w.grad, (np.ones((3, 3)) @ _ref(w).T + _ref(w).T @ np.ones((3, 3))), D.bfloat16, n=3)


def test_cast_cache_sees_inplace_updates(device):
    w = _t((2, 2), device, requires_grad=True)
    x = _t((2, 2), device, seed=1)
    with ttorch.autocast(device):
        y1 = x @ w
        with ttorch.no_grad():
            w.mul_(2)
        y2 = x @ w
    close(y2, 2 * _ref(y1), LOW[device], n=2)


def test_custom_fwd_bwd(device):
    seen = {}

    class Square(ttorch.autograd.Function):
        @staticmethod
        @ttorch.amp.custom_fwd(device_type=device, cast_inputs=ttorch.float32)
        def forward(ctx, x):
            seen["fwd"] = (x.dtype, ttorch.is_autocast_enabled(device))
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @ttorch.amp.custom_bwd(device_type=device)
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    x = _t((3,), device, dtype=LOW[device], requires_grad=True)
    with ttorch.autocast(device):
        y = Square.apply(x)
    assert seen["fwd"] == (ttorch.float32, False)
    assert y.dtype is ttorch.float32
    y.sum().backward()
    assert x.grad.dtype is LOW[device]


# ---------------------------------------------------------------------------------------- GradScaler
class _Opt:
    """A duck-typed optimizer: what GradScaler needs (param_groups, step)."""

    def __init__(self, params, lr=0.1):
        self.param_groups = [{"params": list(params), "lr": lr}]
        self.steps = 0

    def step(self, closure=None):
        self.steps += 1
        with ttorch.no_grad():
            for p in self.param_groups[0]["params"]:
                p.sub_(self.param_groups[0]["lr"] * p.grad)
        return "stepped"


def _setup(device, init_scale=8.0, **kw):
    p = ttorch.tensor([1.0, -2.0, 3.0], device=device, requires_grad=True)
    return p, _Opt([p]), ttorch.amp.GradScaler(device, init_scale=init_scale, **kw)


def test_scaler_scale_unscale_step(device):
    p, opt, scaler = _setup(device)
    loss = (p * p).sum()
    scaled = scaler.scale(loss)
    close(scaled, 8.0 * _ref(loss), D.float32)
    a, (b, c) = scaler.scale([loss, (loss, loss * 2)])
    close(c, 16.0 * _ref(loss), D.float32)
    scaled.backward()
    close(p.grad, 16.0 * _ref(p), D.float32)
    scaler.unscale_(opt)
    close(p.grad, 2.0 * _ref(p), D.float32)
    with pytest.raises(RuntimeError, match="unscale_\\(\\) has already been called on this optimizer"):
        scaler.unscale_(opt)
    before = _ref(p)
    assert scaler.step(opt) == "stepped"
    close(p, before - 0.1 * 2 * before, D.float32)
    with pytest.raises(RuntimeError, match="step\\(\\) has already been called since the last update"):
        scaler.step(opt)
    with pytest.raises(RuntimeError, match="unscale_\\(\\) is being called after step"):
        scaler.unscale_(opt)
    scaler.update()
    assert scaler.get_scale() == 8.0 and scaler._get_growth_tracker() == 1


def test_scaler_skips_step_on_inf_and_backs_off(device):
    for bad in (float("inf"), float("nan")):
        p, opt, scaler = _setup(device)
        scaler.scale((p * p).sum()).backward()
        g = p.grad.detach().clone()
        g[1] = bad
        p.grad = g
        before = _ref(p)
        assert scaler.step(opt) is None
        assert opt.steps == 0
        np.testing.assert_array_equal(_ref(p), before)
        scaler.update()
        assert scaler.get_scale() == 4.0 and scaler._get_growth_tracker() == 0


def test_scaler_grows_after_interval(device):
    p, opt, scaler = _setup(device, growth_interval=3)
    for i in range(7):
        opt_loss = scaler.scale((p * p).sum())
        p.grad = None
        opt_loss.backward()
        scaler.step(opt)
        scaler.update()
        assert scaler.get_scale() == (8.0 if i < 2 else 16.0 if i < 5 else 32.0)
    assert opt.steps == 7
    scaler.update(3.0)
    assert scaler.get_scale() == 3.0
    scaler.update(ttorch.tensor(5.0, device=device))
    assert scaler.get_scale() == 5.0


def test_scaler_errors_and_disabled(device):
    p, opt, scaler = _setup(device)
    scaler.scale((p * p).sum()).backward()
    with pytest.raises(RuntimeError, match="Closure use is not currently supported"):
        scaler.step(opt, closure=lambda: None)
    fresh = ttorch.amp.GradScaler(device)
    with pytest.raises(AssertionError, match="_scale is None"):
        fresh.step(opt)
    assert fresh.get_scale() == 2.0 ** 16
    h = ttorch.zeros(2, dtype=ttorch.float16, device=device, requires_grad=True)
    h.grad = ttorch.ones(2, dtype=ttorch.float16, device=device)
    s2 = ttorch.amp.GradScaler(device)
    s2.scale(ttorch.ones((), device=device))
    with pytest.raises(ValueError, match="Attempting to unscale FP16 gradients"):
        s2.unscale_(_Opt([h]))
    off = ttorch.amp.GradScaler(device, enabled=False)
    x = ttorch.ones(2, device=device)
    assert off.scale(x) is x and off.get_scale() == 1.0 and not off.is_enabled()
    assert off.step(opt) == "stepped" and off.state_dict() == {}


def test_scaler_state_dict_round_trip(device):
    p, opt, scaler = _setup(device, init_scale=64.0, growth_interval=5)
    scaler.scale((p * p).sum()).backward()
    scaler.step(opt)
    scaler.update()
    sd = scaler.state_dict()
    assert sd == {"scale": 64.0, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 5,
                  "_growth_tracker": 1}
    other = ttorch.amp.GradScaler(device)
    other.load_state_dict(sd)
    assert other.state_dict() == sd
    assert other.get_scale() == 64.0
    with pytest.raises(RuntimeError, match="The source state dict is empty"):
        other.load_state_dict({})


def test_scaler_with_sgd_and_autocast(device):
    """Mixed-precision training of a least-squares fit with SGD: loss falls, steps are applied."""
    optim = pytest.importorskip("ttorch.optim")
    x = _t((16, 3), device, seed=5)
    w_true = ttorch.tensor([[0.5], [-1.0], [2.0]], device=device)
    y = x @ w_true
    w = ttorch.zeros(3, 1, device=device, requires_grad=True)
    opt = optim.SGD([w], lr=0.3)
    scaler = ttorch.amp.GradScaler(device, init_scale=2.0 ** 10)
    losses = []
    for _ in range(25):
        opt.zero_grad()
        with ttorch.autocast(device):
            loss = F.mse_loss(x @ w, y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        losses.append(loss.item())
    assert losses[-1] < 0.02 * losses[0]


def test_cuda_amp_grad_scaler_alias():
    with pytest.warns(FutureWarning, match="torch.cuda.amp.GradScaler"):
        s = ttorch.cuda.amp.GradScaler(init_scale=4.0)
    assert s.get_scale() == 4.0 and s._device == "cuda"


# ---------------------------------------------------------------------------------------- compile
def test_compile_keeps_results():
    def f(x):
        return x + 1

    assert ttorch.compile(f)(ttorch.tensor(1)).item() == 2
    m = ttorch.nn.Linear(2, 2)
    assert ttorch.compile(m, mode="max-autotune")._orig_mod is m     # (tests/test_compile.py: the compiler)

    @ttorch.compile
    def g(x):
        return x * 2

    @ttorch.compile(fullgraph=True, dynamic=False, backend="inductor")
    def h(x):
        return x * 3

    assert g(ttorch.tensor(2)).item() == 4 and h(ttorch.tensor(2)).item() == 6
    with pytest.raises(RuntimeError, match="Either mode or options"):
        ttorch.compile(f, mode="default", options={})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ttorch.compile(f, disable=True) is f


def test_docstring_examples():
    import doctest
    import ttorch.amp.autocast_mode as am
    import ttorch.amp.grad_scaler as gs
    import ttorch._compile as tc
    for mod in (am, gs, tc):
        res = doctest.testmod(mod, extraglobs={"ttorch": ttorch}, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert res.failed == 0 and res.attempted > 0, mod.__name__
