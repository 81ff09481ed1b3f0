"""ttorch.utils.checkpoint: checkpointed gradients equal the plain run's (dropout included: the
recomputation replays the RNG state), both variants, PyTorch's warnings and errors."""
import doctest
import gc
import warnings
import weakref

import numpy as np
import pytest

import ttorch
import ttorch.nn as nn
from ttorch.utils import checkpoint as C
from ttorch.utils.checkpoint import checkpoint, checkpoint_sequential, CheckpointError


def _net(device="cpu", width=8):
    ttorch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, width), nn.Dropout(0.5), nn.Tanh(), nn.Linear(width, width), nn.Dropout(0.3),
                         nn.GELU(), nn.Linear(width, 2)).to(device)


def _grads(net, x, run, seed=7):
    """Gradients of x and of the parameters after ``run(net, x)`` from RNG seed ``seed``."""
    net.zero_grad()
    x.grad = None
    ttorch.manual_seed(seed)
    out = run(net, x)
    (out ** 2).sum().backward()
    return [x.grad.cpu().numpy()] + [p.grad.cpu().numpy() for p in net.parameters()]


def _assert_same(a, b):
    assert len(a) == len(b)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


def test_doctests():
    res = doctest.testmod(C, extraglobs={"ttorch": ttorch}, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0 and res.attempted > 0


@pytest.mark.parametrize("use_reentrant", [True, False])
def test_dropout_gradients_equal_the_plain_run(device, use_reentrant):
    net = _net(device, width=4 if device == "cuda" else 8)
    x = ttorch.randn(2, 3, device=device, requires_grad=True)
    plain = _grads(net, x, lambda n, x: n(x))
    _assert_same(plain, _grads(net, x, lambda n, x: checkpoint(n, x, use_reentrant=use_reentrant)))
    # the property is not vacuous: without replaying the RNG state the masks differ
    other = _grads(net, x, lambda n, x: checkpoint(n, x, use_reentrant=use_reentrant, preserve_rng_state=False))
    assert any(not np.array_equal(u, v) for u, v in zip(plain, other))


@pytest.mark.parametrize("use_reentrant", [True, False])
def test_checkpoint_sequential_and_rng_stream(use_reentrant):
    net = _net()
    x = ttorch.randn(4, 3, requires_grad=True)
    plain = _grads(net, x, lambda n, x: n(x))
    after_plain = ttorch.rand(3).tolist()
    seq = _grads(net, x, lambda n, x: checkpoint_sequential(n, 3, x, use_reentrant=use_reentrant))
    # the recomputation in backward leaves the global RNG stream where the plain run left it
    assert ttorch.rand(3).tolist() == after_plain
    _assert_same(plain, seq)


def test_warnings_when_use_reentrant_is_not_passed():
    x = ttorch.ones(2, requires_grad=True)
    with pytest.warns(UserWarning, match="the use_reentrant parameter should be passed explicitly"):
        checkpoint(lambda x: x * 2, x)
    with pytest.warns(UserWarning, match="checkpoint_sequential: the use_reentrant parameter should be passed"):
        checkpoint_sequential([lambda x: x * 2, lambda x: x + 1], 2, x)
    with pytest.warns(UserWarning, match="None of the inputs have requires_grad=True. Gradients will be None"):
        checkpoint(lambda x: x * 2, ttorch.ones(2), use_reentrant=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        checkpoint(lambda x: x * 2, ttorch.ones(2), use_reentrant=False)


def test_reentrant_errors():
    x = ttorch.ones(2, requires_grad=True)
    with pytest.raises(ValueError, match="Unexpected keyword arguments: y"):
        checkpoint(lambda x, y: x, x, y=1, use_reentrant=True)
    with pytest.raises(ValueError, match="Passing `context_fn` or `debug` is only supported when use_reentrant=False"):
        checkpoint(lambda x: x, x, use_reentrant=True, debug=True)
    y = checkpoint(lambda x: x.sin(), x, use_reentrant=True)
    with pytest.raises(RuntimeError, match="When use_reentrant=True, torch.utils.checkpoint is incompatible with"):
        ttorch.autograd.grad(y.sum(), x)
    with pytest.raises(ValueError, match="Unexpected keyword arguments: foo"):
        checkpoint_sequential([lambda x: x], 1, x, use_reentrant=True, foo=1)


def test_non_reentrant_autograd_grad_kwargs_and_parameters_only():
    net = _net()
    params = list(net.parameters())
    x = ttorch.randn(2, 3)      # no input requires grad: parameters still get gradients
    ttorch.manual_seed(5)
    ref = ttorch.autograd.grad(net(x).sum(), params)
    ttorch.manual_seed(5)
    out = checkpoint(net, x, use_reentrant=False)
    assert out.grad_fn.name() == "CheckpointBackward"
    # the node's edges lead straight to the parameters: the forward's intermediates are not kept
    assert {id(e[0].variable) for e in out.grad_fn.next_functions} == {id(p) for p in params}
    for g, r in zip(ttorch.autograd.grad(out.sum(), params), ref):
        np.testing.assert_array_equal(g.numpy(), r.numpy())
    # keyword and nested arguments, non-tensor outputs
    a = ttorch.tensor([1.0, 2.0], requires_grad=True)
    b = ttorch.tensor([3.0, 4.0], requires_grad=True)
    out, tag = checkpoint(lambda d, *, scale: ((d["a"] * d["b"]).sum() * scale, "tag"), {"a": a, "b": b},
                          scale=2.0, use_reentrant=False)
    assert tag == "tag"
    ga, gb = ttorch.autograd.grad(out, (a, b))
    np.testing.assert_array_equal(ga.numpy(), [6.0, 8.0])
    np.testing.assert_array_equal(gb.numpy(), [2.0, 4.0])


def test_non_reentrant_double_backward_and_recompute_count():
    calls = []

    def f(x):
        calls.append(1)
        return (x.sin() * x).sum()
    x = ttorch.tensor([0.3, -1.2, 2.0], dtype=ttorch.float64, requires_grad=True)
    g_ref, = ttorch.autograd.grad(f(x), x, create_graph=True)
    h_ref, = ttorch.autograd.grad(g_ref.sum(), x)
    calls.clear()
    g, = ttorch.autograd.grad(checkpoint(f, x, use_reentrant=False), x, create_graph=True)
    h, = ttorch.autograd.grad(g.sum(), x)
    assert len(calls) == 2      # forward, and one recomputation in backward
    np.testing.assert_allclose(g.detach().numpy(), g_ref.detach().numpy(), rtol=1e-14)
    np.testing.assert_allclose(h.numpy(), h_ref.numpy(), rtol=1e-14)


def test_non_reentrant_keeps_no_intermediates():
    made = []

    def f(x):
        h = x.sin() * x
        made.append(weakref.ref(h.grad_fn))
        return h.exp()
    x = ttorch.tensor([0.5, 1.5], requires_grad=True)
    gc.disable()        # freed by reference counting, as soon as the forward returns
    try:
        out = checkpoint(f, x, use_reentrant=False)
        assert made[0]() is None
    finally:
        gc.enable()
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp(np.sin([0.5, 1.5]) * [0.5, 1.5]) *
                               (np.cos([0.5, 1.5]) * [0.5, 1.5] + np.sin([0.5, 1.5])), rtol=1e-6)


@pytest.mark.parametrize("outer_first", [True, False])
def test_non_reentrant_closed_over_non_leaf(outer_first):
    # w is computed outside with grad and used both inside and outside the checkpoint: the
    # engine must not free its history before the recomputation walks it, whatever the order
    base = ttorch.tensor([1.0, 2.0], dtype=ttorch.float64, requires_grad=True)
    x = ttorch.tensor([3.0, 4.0], dtype=ttorch.float64, requires_grad=True)
    grads = []
    for ck in (False, True):
        base.grad = x.grad = None
        w = base.exp()
        f = lambda x: (x * w).sin()
        y = checkpoint(f, x, use_reentrant=False) if ck else f(x)
        (w.sum() + y.sum() if outer_first else y.sum() + w.sum()).backward()
        grads.append((base.grad.numpy(), x.grad.numpy()))
    for u, v in zip(*grads):        # the same up to the order of the sums (a path through w's node, or not)
        np.testing.assert_allclose(u, v, rtol=1e-13)


def test_nested_checkpoint_and_context_fn():
    log = []

    class Ctx:
        def __init__(self, name):
            self.name = name

        def __enter__(self):
            log.append(self.name)

        def __exit__(self, *exc):
            return False
    net = _net()
    x = ttorch.randn(2, 3, requires_grad=True)
    plain = _grads(net, x, lambda n, x: n(x))
    inner = lambda x: checkpoint(net[3:], x, use_reentrant=False)
    nested = _grads(net, x, lambda n, x: checkpoint(lambda x: inner(net[:3](x)), x, use_reentrant=False,
                                                    context_fn=lambda: (Ctx("forward"), Ctx("recompute"))))
    _assert_same(plain, nested)
    assert log == ["forward", "recompute"]


def test_non_reentrant_errors():
    x = ttorch.ones(2, requires_grad=True)
    with pytest.raises(ValueError, match="determinism_check should be one of \\['default', 'none'\\], but got x"):
        checkpoint(lambda x: x, x, use_reentrant=False, determinism_check="x")
    with pytest.raises(ValueError, match="debug=True is incompatible with non-default context_fn"):
        checkpoint(lambda x: x, x, use_reentrant=False, debug=True, context_fn=lambda: C.noop_context_fn())
    state = []

    def changes_shape(x):
        state.append(1)
        return x.sin() if len(state) == 1 else x[:1].sin()
    with pytest.raises(CheckpointError, match="Recomputed values for the following tensors have different metadata"):
        checkpoint(changes_shape, x, use_reentrant=False).sum().backward()
    state.clear()
    checkpoint(changes_shape, x, use_reentrant=False, determinism_check="none")
    y = x * 1
    out = checkpoint(lambda t: t.sin(), y, use_reentrant=False)
    with ttorch.no_grad():
        y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()
    out = checkpoint(lambda t: t.sin(), x, use_reentrant=False)
    out.sum().backward(retain_graph=True)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.cos(np.ones(2)), rtol=1e-6)
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        out.sum().backward()


def test_no_grad_and_autocast():
    net = _net()
    x = ttorch.randn(2, 3, requires_grad=True)
    with ttorch.no_grad():
        out = checkpoint(net, x, use_reentrant=False)
    assert out.grad_fn is None and not out.requires_grad
    net.eval()

    def autocast(run):
        def fn(n, x):
            with ttorch.autocast("cpu"):        # forward in the region, backward after it, as PyTorch advises
                return run(n, x).float()
        return fn
    plain = _grads(net, x, autocast(lambda n, x: n(x)))
    for use_reentrant in (True, False):
        _assert_same(plain, _grads(net, x, autocast(lambda n, x: checkpoint(n, x, use_reentrant=use_reentrant))))
