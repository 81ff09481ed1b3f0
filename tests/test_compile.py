"""ttorch.compile: capture with fx, guards and recompiles, the eager fallback, backends, OptimizedModule, and the
inductor backend's fused elementwise kernels (same values as eager, fewer launches, gradients by recomputation)."""
import numpy as np
import pytest
import triton

import ttorch
import ttorch.nn as nn
import ttorch.nn.functional as F
from ttorch._dynamo import exc
from ttorch._inductor import counters

CUDA = ttorch.cuda.is_available()
cuda_only = pytest.mark.skipif(not CUDA, reason="needs the (simulated) cuda device")


@pytest.fixture
def launches(monkeypatch):
    """Counts kernel launches (a spy on the kernel classes' ``run``: the launcher then takes Triton's path)."""
    n = [0]
    classes = [triton.runtime.jit.JITFunction]
    try:
        from triton.runtime.interpreter import InterpretedFunction
        classes.append(InterpretedFunction)
    except ImportError:
        pass
    for cls in classes:
        orig = cls.run

        def run(self, *a, _orig=orig, **k):
            n[0] += 1
            return _orig(self, *a, **k)
        monkeypatch.setattr(cls, "run", run)
    return n


def gelu_tanh(x):       # 9 elementwise ops
    return 0.5 * x * (1 + ttorch.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)))


def _groups(f):
    """The fused groups of each compiled entry of ``f`` (a compiled function or OptimizedModule)."""
    f = getattr(f, "_compiled", f)
    return [[n.target.group for n in getattr(e, "__self__", e).graph.nodes if hasattr(n.target, "group")]
            for e in f._cache.values() if hasattr(getattr(e, "__self__", e), "graph")]


def _same(a, b):
    assert a.shape == b.shape and a.dtype == b.dtype and a.device == b.device
    np.testing.assert_array_equal(a.detach().cpu().numpy(), b.detach().cpu().numpy())


def test_gelu_chain_is_one_launch_and_bitwise_equal(device, launches):
    x = ttorch.randn(7, 13, device=device)
    want = gelu_tanh(x)
    f = ttorch.compile(gelu_tanh)
    _same(f(x), want)                       # the first call (capture) runs eagerly
    launches[0] = 0
    fused = counters["launches"]
    got = f(x)
    _same(got, want)
    if device == "cuda":
        assert launches[0] == 1 and counters["launches"] == fused + 1
        got = f(x.t())                      # a new shape: compiled again, strided input
        _same(got, gelu_tanh(x.t()))
        _same(f(x.t()), gelu_tanh(x.t()))


@cuda_only
def test_broadcasting_mixed_dtypes_scalars_and_int_ops(launches):
    def f(a, b, c, i, j):
        y = F.relu(a * b + c) - 0.25        # float32 * float16 + int64 (broadcast), a scalar
        k = (i * 3 + j) % 7 - (i > 2).int()  # int64 with int32, comparisons, casts
        h = (b.float() / 3).sigmoid()        # float16 -> float32 (a copy launch) fused
        m = ((a > 0) & (j < 3)) | (c < 0)    # bool
        return y, k, h, m

    a = ttorch.randn(4, 6, device="cuda")
    b = ttorch.randn(6, device="cuda").half()
    c = ttorch.tensor([[1], [-2], [3], [0]], device="cuda")
    i = ttorch.arange(24, device="cuda").reshape(4, 6)
    j = ttorch.arange(6, dtype=ttorch.int32, device="cuda")
    want = f(a, b, c, i, j)
    g = ttorch.compile(f)
    g(a, b, c, i, j)
    launches[0] = 0
    got = g(a, b, c, i, j)
    for w, r in zip(want, got):
        _same(r, w)
    # eager: 4 (y) + 6 (k) + 3 (h) + 5 (m) launches; compiled: one per connected chain (no horizontal fusion),
    # m's j < 3 and c < 0 (other shapes, used by m alone) recomputed at each of its elements
    assert launches[0] == 4 and got[3].dtype == ttorch.bool
    ref = np.maximum(a.cpu().numpy() * b.cpu().numpy().astype(np.float32) + c.cpu().numpy(), 0) - 0.25
    np.testing.assert_allclose(got[0].cpu().numpy(), ref, rtol=1e-6, atol=1e-6)


def test_guards_recompile_on_shape_dtype_requires_grad(device):
    seen = []

    def backend(gm, example_inputs):
        seen.append([tuple(t.shape) for t in example_inputs if isinstance(t, ttorch.Tensor)])
        return gm.forward

    f = ttorch.compile(lambda x, s: x * s + 1, backend=backend)
    x = ttorch.ones(2, 3, device=device)
    assert f(x, 2.0).tolist() == [[3.0] * 3] * 2
    f(x, 2.0)
    assert len(seen) == 1 and seen[0] == [(2, 3)]
    f(ttorch.ones(4, device=device), 2.0)                       # shape
    f(x.double(), 2.0)                                          # dtype
    f(x.clone().requires_grad_(), 2.0)                          # requires_grad
    assert f(x, 3.0).tolist() == [[4.0] * 3] * 2                # a Python number's value
    assert len(seen) == 5
    ttorch.compiler.reset()
    f(x, 2.0)
    assert len(seen) == 6


def test_data_dependent_control_flow_falls_back_or_raises(device):
    def f(x):
        if x.sum() > 0:
            return x * 2
        return x - 1

    x = ttorch.tensor([1.0, 2.0], device=device)
    assert ttorch.compile(f)(x).tolist() == [2.0, 4.0]
    assert ttorch.compile(f)(-x).tolist() == [-2.0, -3.0]
    with pytest.raises(exc.Unsupported) as e:
        ttorch.compile(f, fullgraph=True)(x)
    assert isinstance(e.value, RuntimeError)

    def no_grad_inside(x):      # fx would record the product without its no_grad region: eager
        with ttorch.no_grad():
            y = x * 2
        return y + x

    xr = x.clone().requires_grad_()
    y = ttorch.compile(no_grad_inside)(xr)
    assert y.tolist() == [3.0, 6.0] and y.requires_grad
    y.sum().backward()
    assert xr.grad.tolist() == [1.0, 1.0]
    with pytest.raises(exc.Unsupported, match="grad mode or autocast"):
        ttorch.compile(no_grad_inside, fullgraph=True)(x)

    @ttorch.compile(fullgraph=True)
    def flag(x, square):        # Python values are constants of the trace: branching on them is fine
        return x * x if square else x + 1
    assert flag(x, True).tolist() == [1.0, 4.0] and flag(x, False).tolist() == [2.0, 3.0]


def test_backward_matches_eager(device):
    def f(x, w):
        return F.gelu(x * w + 1, approximate="tanh") * x.sigmoid()

    x0 = ttorch.randn(5, 3, device=device)
    w0 = ttorch.randn(3, device=device)
    g = ttorch.compile(f)
    for call in range(2):       # the capture, then the fused group as an autograd Function
        x, w = x0.clone().requires_grad_(), w0.clone().requires_grad_()
        out = g(x, w)
        xe, we = x0.clone().requires_grad_(), w0.clone().requires_grad_()
        want = f(xe, we)
        _same(out, want)
        gy = ttorch.randn(5, 3, device=device)
        out.backward(gy)
        want.backward(gy)
        np.testing.assert_allclose(x.grad.cpu().numpy(), xe.grad.cpu().numpy(), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(w.grad.cpu().numpy(), we.grad.cpu().numpy(), rtol=1e-6, atol=1e-6)
    if device == "cuda":
        gs = _groups(g)[-1]
        assert len(gs) == 1 and len(gs[0].members) == 5
    x = x0.double().requires_grad_()
    h = ttorch.compile(lambda t: (t * t).tanh() + t)
    h(x)
    assert ttorch.autograd.gradcheck(h, (x,)) and ttorch.autograd.gradgradcheck(h, (x,))


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 16)
        self.proj = nn.Linear(16, 8)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        h = F.gelu(self.fc(x), approximate="tanh")
        return x + self.drop(self.proj(h)) * 0.5


def test_optimized_module(device, launches):
    m = MLP().to(device)
    om = ttorch.compile(m)
    assert type(om).__name__ == "OptimizedModule" and om._orig_mod is m and om.fc is m.fc
    assert list(om.state_dict()) == ["_orig_mod." + k for k in m.state_dict()]
    x = ttorch.randn(3, 8, device=device)
    om.eval()
    want = m(x)
    _same(om(x), want)
    launches[0] = 0
    _same(om(x), want)
    compiled = launches[0]
    launches[0] = 0
    m(x)
    if device == "cuda":
        assert compiled < launches[0]
    om.train()                          # the training flag is guarded: dropout now drops
    y = om(x)
    assert not np.array_equal(y.detach().cpu().numpy(), want.detach().cpu().numpy())
    assert len(om._compiled._cache) == 2


def test_module_compile_in_place(device):
    m = nn.Sequential(nn.Linear(4, 4), nn.Tanh()).to(device)
    x = ttorch.randn(2, 4, device=device)
    want = m(x)
    assert m.compile() is None and m._compiled_call_impl is not None
    _same(m(x), want)
    _same(m(x), want)
    assert list(m.state_dict()) == ["0.weight", "0.bias"]
    om = ttorch.compile(m[0])
    seen = []
    m[0].register_forward_hook(lambda mod, args, out: seen.append(out.shape))
    _same(om(x), m[0](x))           # hooks on the original: its calls run eagerly, with them
    assert seen == [(2, 4), (2, 4)]
    ttorch._dynamo.reset()
    assert all(not c._cache for c in (om._compiled, m._compiled_call_impl))


def test_backends_and_arguments():
    x = ttorch.ones(3)
    got = []
    f = ttorch.compile(lambda a: a.exp() + 1, backend=lambda gm, ex: got.append((gm, ex)) or gm)
    f(x)
    assert len(got) == 1 and isinstance(got[0][0], ttorch.fx.GraphModule) and got[0][1][0] is x
    for b in ("eager", "aot_eager", "inductor"):
        np.testing.assert_allclose(ttorch.compile(lambda a: a * 2, backend=b)(x).numpy(), [2.0] * 3)
    with pytest.raises(exc.InvalidBackend, match="Invalid backend: 'nope'"):
        ttorch.compile(lambda a: a, backend="nope")
    with pytest.raises(RuntimeError, match="Unrecognized mode=fast"):
        ttorch.compile(lambda a: a, mode="fast")
    f = lambda a: a     # noqa: E731
    assert ttorch.compile(f, disable=True) is f


@cuda_only
def test_sum_and_mean_over_the_last_dim_as_epilogues(launches):
    def f(x, b):
        y = (x * 2 + b).tanh()
        return y.sum(-1), (y * y).mean(dim=-1, keepdim=True), y

    def g(x):
        return ttorch.sum((x - 1) ** 2, -1)

    x = ttorch.randn(5, 37, device="cuda")
    b = ttorch.randn(37, device="cuda")
    for fn, args, n in [(f, (x, b), 2), (g, (x.t(),), 1), (g, (x.half(),), 1)]:
        want = fn(*args)
        c = ttorch.compile(fn)
        c(*args)
        launches[0] = 0
        got = c(*args)
        assert launches[0] == n         # f: y.sum runs before y * y, which joins the group: eagerly
        for w, r in zip(want if isinstance(want, tuple) else (want,), got if isinstance(got, tuple) else (got,)):
            assert r.shape == w.shape and r.dtype == w.dtype
            np.testing.assert_allclose(r.float().cpu().numpy(), w.float().cpu().numpy(), rtol=1e-6, atol=1e-6)
        xr, xe = args[0].clone().requires_grad_(), args[0].clone().requires_grad_()
        out, oe = c(xr, *args[1:]), fn(xe, *args[1:])
        (out[0] if isinstance(out, tuple) else out).sum().backward()
        (oe[0] if isinstance(oe, tuple) else oe).sum().backward()
        np.testing.assert_allclose(xr.grad.float().cpu().numpy(), xe.grad.float().cpu().numpy(), rtol=1e-6, atol=1e-6)
    c = ttorch.compile(f)
    c(x, b)
    ref = np.tanh(x.cpu().numpy().astype(np.float64) * 2 + b.cpu().numpy()).sum(-1)
    np.testing.assert_allclose(c(x, b)[0].cpu().numpy(), ref, rtol=1e-5, atol=1e-5)


@cuda_only
def test_inplace_in_graph_is_not_fused_but_correct(launches):
    def f(x, y):
        z = x * 2
        y.add_(1)
        return z + y

    x = ttorch.ones(4, device="cuda")
    g = ttorch.compile(f)
    y1, y2 = ttorch.zeros(4, device="cuda"), ttorch.zeros(4, device="cuda")
    assert g(x, y1).tolist() == [3.0] * 4 and y1.tolist() == [1.0] * 4
    assert g(x, y2).tolist() == [3.0] * 4 and y2.tolist() == [1.0] * 4
    assert _groups(g) == [[]]
