"""TorchDispatchMode (utils/_python_dispatch.py), ttorch.ops.aten, ModuleTracker and FlopCounterMode.

FLOP references are PyTorch's formulas written out by hand: 2*m*n*k per product, a convolution's
2 * out pixels * kernel taps * batch * out channels * in channels per group, attention's 4*B*H*L*S*E
forward and 10*B*H*L*S*E backward."""
import doctest

import numpy as np
import pytest

import ttorch
import ttorch.nn.functional as F
from ttorch.ops import _op
from ttorch.utils import _python_dispatch as pd
from ttorch.utils.flop_counter import FlopCounterMode, register_flop_formula
from ttorch.utils.module_tracker import ModuleTracker

aten = ttorch.ops.aten


class Log(pd.TorchDispatchMode):
    def __init__(self, tag=None, sink=None):
        super().__init__()
        self.tag, self.log = tag, (sink if sink is not None else [])
        self.inside = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.log.append((self.tag, str(func)) if self.tag else str(func))
        self.inside.append((pd._get_current_dispatch_mode(), ttorch.is_grad_enabled(), types))
        return func(*args, **(kwargs or {}))


def _flops(fn, **kw):
    with FlopCounterMode(display=False, **kw) as fc:
        fn()
    return fc


# ------------------------------------------------------------------------------ dispatch modes
def test_mode_sees_forward_and_backward_ops(device):
    x = ttorch.randn(5, 3, device=device, requires_grad=True)
    w = ttorch.randn(4, 3, device=device, requires_grad=True)
    with Log() as m:
        y = F.linear(x, w)
        (y * y).sum().backward()
    assert m.log[:3] == ["aten.linear.default", "aten.mul.Tensor", "aten.sum.dim_IntList"]
    # backward: mul's rule (g * y twice, summed), then linear's grad input and grad weight
    assert m.log[3:6] == ["aten.mul.Tensor", "aten.mul.Tensor", "aten.add.Tensor"]
    assert m.log.count("aten.mm.default") == 2
    # the graph is recorded around the mode: gradients are the plain run's
    g = 2 * (x.detach() @ w.detach().T)
    np.testing.assert_allclose(w.grad.cpu().numpy(), (g.T @ x.detach()).cpu().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(x.grad.cpu().numpy(), (g @ w.detach()).cpu().numpy(), rtol=1e-5, atol=1e-5)
    # inside the handler: the mode off, grad mode off, no subclass types
    assert all(mode is None and not grad and types == () for mode, grad, types in m.inside)
    assert _op._dispatch_mode is None and pd._get_current_dispatch_mode_stack() == []


def test_nested_modes_and_disable():
    sink = []
    a, b = ttorch.ones(2, 3), ttorch.ones(3, 2)
    with Log("outer", sink) as outer:
        with Log("inner", sink) as inner:
            assert pd._get_current_dispatch_mode() is inner
            assert pd._get_current_dispatch_mode_stack() == [outer, inner]
            r = ttorch.mm(a, b)
            with pd._disable_current_modes() as old:
                assert old == [outer, inner] and _op._dispatch_mode is None
                ttorch.mm(a, b)
            assert pd._get_current_dispatch_mode() is inner
        ttorch.add(a, 1)
    # the inner handler's func(...) reaches the outer mode; with the modes disabled neither sees the op
    assert sink == [("inner", "aten.mm.default"), ("outer", "aten.mm.default"), ("outer", "aten.add.Tensor")]
    assert inner.inside[0][0] is outer and outer.inside[0][0] is None
    assert r.tolist() == [[3.0, 3.0], [3.0, 3.0]]


def test_mode_may_replace_results_and_return_notimplemented():
    class Zero(pd.TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func == aten.add.Tensor:
                return NotImplemented
            return ttorch.zeros(func(*args, **kwargs).shape)

    x = ttorch.full((2,), 3.0, requires_grad=True)
    with Zero() as mode:
        with pytest.raises(TypeError) as e:
            x + 1
        p = x * x
    assert str(e.value) == ("Multiple dispatch failed for 'ttorch._ops.aten.add.Tensor'; all __torch_dispatch__ "
                            f"handlers returned NotImplemented:\n\n  - mode object {mode!r}\n\nFor more "
                            "information, try re-running with TORCH_LOGS=not_implemented")
    assert pd._get_current_dispatch_mode() is None and p.tolist() == [0.0, 0.0]
    assert p.grad_fn is not None        # recorded around the handler's result
    p.sum().backward()
    assert x.grad.tolist() == [6.0, 6.0]


def test_composites_decompose_and_kwargs_are_copies():
    kept = []

    class Keep(pd.TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kept.append((func, kwargs))
            return func(*args, **kwargs)

    a = ttorch.randn(3, 4, requires_grad=True)
    with Keep():
        ttorch.einsum("ij,jk->ik", a, ttorch.randn(4, 2))
        ttorch.addmm(ttorch.zeros(3, 2), a, ttorch.randn(4, 2), beta=0.5)
    names = [str(f) for f, _ in kept]
    assert "aten.einsum.default" not in names and "aten.mm.default" in names
    f, kw = kept[-1]
    assert f == aten.addmm.default and kw == {"beta": 0.5, "alpha": 1}     # not the graph node's dict


def test_library_operator_reaches_mode():
    @ttorch.library.custom_op("fctest::triple", mutates_args=())
    def triple(x: ttorch.Tensor) -> ttorch.Tensor:
        return x * 3

    with Log() as m:
        y = triple(ttorch.ones(2))
    # (its kernel runs inside the handler, with the mode off: the mul inside is not seen, as in PyTorch)
    assert y.tolist() == [3.0, 3.0] and m.log == ["fctest.triple.default"]


def test_register_torch_dispatch_rule():
    @ttorch.library.custom_op("fctest::ident", mutates_args=())
    def ident(x: ttorch.Tensor) -> ttorch.Tensor:
        return x.clone()

    class Plain(pd.TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            return func(*args, **kwargs)

    class Other(Plain):
        pass

    seen = []

    @ident.register_torch_dispatch(Plain)
    def _(mode, func, types, args, kwargs):
        seen.append((type(mode), str(func)))
        return args[0] + 1

    x = ttorch.ones(2)
    assert ident(x).tolist() == [1.0, 1.0]
    with Plain():
        assert ident(x).tolist() == [2.0, 2.0]
    with Other():       # the rule is for its class only
        assert ident(x).tolist() == [1.0, 1.0]
    assert seen == [(Plain, "fctest.ident.default")]
    with pytest.raises(NotImplementedError, match="__torch_dispatch__ tensor subclasses"):
        ttorch.library.register_torch_dispatch("fctest::ident", ttorch.Tensor, lambda *a: None)
    with pytest.raises(NotImplementedError, match="aten.mm is one of ttorch's own ops"):
        ttorch.library.register_torch_dispatch(aten.mm, Plain, lambda *a: None)


def test_aten_namespace():
    a, b = ttorch.ones(2, 3), ttorch.ones(3, 4)
    assert aten.mm.default(a, b).tolist() == [[3.0] * 4] * 2 and aten.mm(a, b).shape == (2, 4)
    assert aten.mm.default.name() == "aten::mm" and aten.add.Tensor.name() == "aten::add.Tensor"
    assert aten.mm.default.overloadpacket == aten.mm and aten.add.overloads() == ["Tensor"]
    assert str(aten.convolution_backward.default) == "aten.convolution_backward.default"
    assert hash(aten.mm) == hash(aten.mm.default.overloadpacket)
    s = aten.add.Tensor._schema
    assert (s.name, s.overload_name, s.is_mutable) == ("aten::add", "Tensor", False)
    assert aten.copy_.default._schema.is_mutable and aten.mm.default.__module__ == "ttorch._ops.aten"
    with pytest.raises(AttributeError, match="'_OpNamespace' 'aten' object has no attribute 'no_such_op'"):
        aten.no_such_op


def test_docstring_examples():
    from ttorch.utils import flop_counter, module_tracker
    for mod in (pd, flop_counter, module_tracker):
        res = doctest.testmod(mod, extraglobs={"ttorch": ttorch}, optionflags=doctest.ELLIPSIS)
        assert res.failed == 0 and res.attempted > 0, mod.__name__


# ------------------------------------------------------------------------------ module tracking
def test_module_forward_hooks_global():
    from ttorch.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook
    calls = []
    h1 = register_module_forward_pre_hook(lambda m, args: calls.append(("pre", type(m).__name__)))
    h2 = register_module_forward_hook(lambda m, args, out: out * 2)
    try:
        y = ttorch.nn.Identity()(ttorch.ones(1))
    finally:
        h1.remove()
        h2.remove()
    assert calls == [("pre", "Identity")] and y.tolist() == [2.0]
    assert ttorch.nn.Identity()(ttorch.ones(1)).tolist() == [1.0]


def test_module_tracker_forward_and_backward():
    seen = []

    class Probe(ttorch.nn.Module):
        def forward(self, x):
            return _Probe.apply(x)

    class _Probe(ttorch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            seen.append(("fw", sorted(tracker.parents), tracker.is_bw))
            return x * 1

        @staticmethod
        def backward(ctx, g):
            seen.append(("bw", sorted(tracker.parents), tracker.is_bw))
            return g

    model = ttorch.nn.Sequential(ttorch.nn.Linear(2, 2), Probe())
    with ModuleTracker() as tracker:
        model(ttorch.ones(1, 2)).sum().backward()
        after = sorted(tracker.parents)
    assert seen == [("fw", ["Global", "Sequential", "Sequential.1"], False),
                    ("bw", ["Global", "Sequential", "Sequential.1"], True)]
    assert after == ["Global"]


# ------------------------------------------------------------------------------ flop counts
def test_linear_flops_and_module_breakdown(device):
    model = ttorch.nn.Sequential(ttorch.nn.Linear(7, 5), ttorch.nn.ReLU(), ttorch.nn.Linear(5, 3, bias=False))
    model.to(device)
    x = ttorch.randn(2, 4, 7, device=device)            # 8 rows; x needs no grad: no grad input for layer 0
    fc = _flops(lambda: model(x).sum().backward())
    rows = 8
    l0, l2 = 2 * rows * 7 * 5, 2 * rows * 5 * 3
    counts = fc.get_flop_counts()
    assert counts["Sequential.0"] == {aten.addmm: l0, aten.mm: l0}
    assert counts["Sequential.2"] == {aten.mm: 3 * l2}
    assert counts["Sequential"] == counts["Global"] == {aten.addmm: l0, aten.mm: l0 + 3 * l2}
    assert fc.get_total_flops() == 2 * l0 + 3 * l2


def test_matmul_bmm_flops():
    a = ttorch.randn(3, 4, 5, requires_grad=True)
    b = ttorch.randn(3, 5, 6, requires_grad=True)
    fc = _flops(lambda: ttorch.bmm(a, b).sum().backward())
    assert fc.get_flop_counts()["Global"] == {aten.bmm: 3 * (2 * 3 * 4 * 5 * 6)}
    c = ttorch.randn(2, 1, 4, 5)
    d = ttorch.randn(3, 5, 6)
    fc = _flops(lambda: (c @ d, c @ d[0], ttorch.randn(5) @ d[0]))     # bmm over the broadcast batch, mm, mm
    assert fc.get_flop_counts()["Global"] == {aten.bmm: 2 * 6 * 4 * 5 * 6, aten.mm: 2 * 8 * 5 * 6 + 2 * 5 * 6}
    fc = _flops(lambda: ttorch.baddbmm(ttorch.zeros(3, 4, 6), a, b, alpha=2.0))
    assert fc.get_total_flops() == 2 * 3 * 4 * 5 * 6
    # PyTorch's linear on a non-contiguous batch: matmul, folded into one mm only when the weight needs grad
    x = ttorch.randn(4, 2, 5).transpose(0, 1)
    w, bias = ttorch.randn(6, 5), ttorch.randn(6)
    assert _flops(lambda: F.linear(x, w, bias)).get_flop_counts()["Global"] == {aten.bmm: 2 * 8 * 5 * 6}
    w.requires_grad_()
    assert _flops(lambda: F.linear(x, w, bias)).get_flop_counts()["Global"] == {aten.mm: 2 * 8 * 5 * 6}
    assert _flops(lambda: F.linear(x.contiguous(), w, bias)).get_flop_counts()["Global"] == {aten.addmm: 2 * 8 * 5 * 6}


def test_conv_flops(device):
    N, C, H, W, OC, K = 2, 4, 6, 5, 6, 3
    x = ttorch.randn(N, C, H, W, device=device, requires_grad=True)
    w = ttorch.randn(OC, C // 2, K, K, device=device, requires_grad=True)
    fc = _flops(lambda: F.conv2d(x, w, stride=1, padding=1, groups=2).sum().backward())
    fwd = 2 * (H * W) * K * K * N * OC * (C // 2)
    g = fc.get_flop_counts()["Global"]
    # grad input as conv_transpose(grad_out, w); grad weight as conv(x^T, grad_out^T): PyTorch's formula
    # counts the full input channels there (groups not divided out)
    assert g[aten.convolution] == fwd and g[aten.convolution_backward] == fwd + fwd * 2
    # a transposed convolution counts over the input's pixels
    wt = ttorch.randn(C, 3, 2, 2, device=device)
    fc = _flops(lambda: F.conv_transpose2d(x.detach(), wt, stride=2))
    assert fc.get_flop_counts()["Global"] == {aten.convolution: 2 * (H * W) * 4 * N * C * 3}


def test_sdpa_flops():
    B, H, L, S, E = 2, 2, 5, 7, 4
    q = ttorch.randn(B, H, L, E, requires_grad=True)
    k, v = ttorch.randn(B, H, S, E, requires_grad=True), ttorch.randn(B, H, S, E, requires_grad=True)
    fc = _flops(lambda: F.scaled_dot_product_attention(q, k, v).sum().backward())
    assert fc.get_flop_counts()["Global"] == {aten._scaled_dot_product_flash_attention: 4 * B * H * L * S * E,
                                              aten._scaled_dot_product_flash_attention_backward: 10 * B * H * L * S * E}
    mask = ttorch.randn(L, S)
    fc = _flops(lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
    assert fc.get_flop_counts()["Global"] == {aten._scaled_dot_product_efficient_attention: 4 * B * H * L * S * E}


def test_custom_formulas():
    lin = ttorch.nn.Linear(3, 2, bias=False)
    fc = _flops(lambda: lin(ttorch.ones(4, 3)), custom_mapping={aten.mm: lambda a, b, out_shape=None: a[0] * 1000})
    assert fc.get_total_flops() == 4000          # the formula sees PyTorch's mm operands: (4, 3) @ (3, 2)

    @ttorch.library.custom_op("fctest::scale", mutates_args=())
    def scale(x: ttorch.Tensor) -> ttorch.Tensor:
        return x * 2

    @register_flop_formula(ttorch.ops.fctest.scale)
    def _scale_flop(x_shape, out_shape=None, **kwargs):
        return int(np.prod(x_shape))

    fc = _flops(lambda: scale(ttorch.ones(3, 5)))
    assert fc.get_flop_counts()["Global"] == {ttorch.ops.fctest.scale: 15}
    with pytest.raises(RuntimeError, match="duplicate registrations"):
        register_flop_formula(ttorch.ops.fctest.scale)(_scale_flop)
    with pytest.raises(ValueError, match="expected each target to be OpOverloadPacket"):
        register_flop_formula("mm")(_scale_flop)


def test_table_and_display(capsys):
    model = ttorch.nn.Sequential(ttorch.nn.Linear(4, 4))
    with FlopCounterMode(depth=1):
        model(ttorch.ones(2, 4))
        ttorch.mm(ttorch.ones(1, 4), ttorch.ones(4, 1))      # outside any module: "Global" is shown
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["Module            FLOP    % Total",
                     "--------------  ------  ---------",
                     "Global              72    100.00%",
                     " - aten.addmm       64     88.89%",
                     " - aten.mm           8     11.11%",
                     " Sequential         64     88.89%",
                     "  - aten.addmm      64     88.89%"]
    fc = FlopCounterMode(display=False)
    assert fc.get_table().splitlines() == ["Module      FLOP    % Total", "--------  ------  ---------",
                                           "Global         0         0%"]
    lin = ttorch.nn.Linear(800, 1600)
    with FlopCounterMode(display=False) as fc:
        lin(ttorch.ones(3, 800))
    # 7,680,000 FLOPs show as 7680.000K: PyTorch keeps one more digit before the next suffix
    assert fc.get_table().splitlines()[2:] == ["Linear         7680.000K    100.00%",
                                               " - aten.addmm  7680.000K    100.00%"]
    with pytest.warns(UserWarning, match="mods argument is not needed anymore"):
        FlopCounterMode(model, display=False)
