"""Autograd core: when graphs are recorded, the backward engine (iterative, summing partial and
broadcast gradients), grad modes, ``autograd.grad``, saved-tensor version checks and hooks."""
import time
import warnings

import numpy as np
import pytest

import ttorch
from ttorch import autograd


@pytest.fixture(autouse=True)
def _grad_mode_restored():
    yield
    assert ttorch.is_grad_enabled(), "a test left grad mode off"


def _leaf(data, device, dtype=ttorch.float32):
    return ttorch.tensor(data, dtype=dtype, device=device, requires_grad=True)


# ----------------------------------------------------------------------------- recording
def test_records_only_when_needed(device):
    x = ttorch.tensor([1.0, 2.0], device=device)
    y = x * 2
    assert y.grad_fn is None and not y.requires_grad
    w = _leaf([1.0, 2.0], device)
    y = x * w
    assert y.requires_grad and y.grad_fn is not None and y.grad_fn.name() == "MulBackward0"
    assert (w + 1).grad_fn.name() == "AddBackward0" and (w - 1).grad_fn.name() == "SubBackward0"
    assert (w / 2).grad_fn.name() == "DivBackward0"
    with ttorch.no_grad():
        z = w * 2
    assert z.grad_fn is None and not z.requires_grad
    c = w > 1                       # bool results never require grad
    assert c.dtype is ttorch.bool and not c.requires_grad and c.grad_fn is None
    nxt = y.grad_fn.next_functions
    assert nxt[0] is None and nxt[1][0].name() == "AccumulateGrad" and nxt[1][0].variable is w


def test_backward_scalar_and_gradient_argument(device):
    x = _leaf([1.0, 2.0, 3.0], device)
    (x * x).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0, 6.0] and x.grad.device == x.device
    x.grad = None
    y = x * 3
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        y.backward()
    y.backward(ttorch.tensor([1.0, 0.5, 2.0], device=device))
    assert x.grad.tolist() == [3.0, 1.5, 6.0]
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        (x * 3).backward(ttorch.ones(2, device=device))
    s = (x * 2).sum() if hasattr(ttorch.Tensor, "sum") else None
    if s is not None:
        x.grad = None
        s.backward(ttorch.tensor(2.0, device=device))
        assert x.grad.tolist() == [4.0, 4.0, 4.0]


def test_backward_errors():
    with pytest.raises(RuntimeError, match="element 0 of tensors does not require grad and does not have a grad_fn"):
        ttorch.ones(1).backward()
    x = _leaf([1.0], "cpu")
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place operation"):
        x.add_(1)
    with ttorch.no_grad():
        x.add_(1)                   # allowed without grad
    assert x.tolist() == [2.0] and x.grad_fn is None and x.requires_grad
    with pytest.raises(RuntimeError, match="only Tensors of floating point and complex dtype can require gradients"):
        ttorch.tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError, match="only Tensors of floating point"):
        ttorch.tensor([True]).requires_grad_(True)
    ttorch.tensor([1, 2]).requires_grad_(False)          # turning it off is fine
    y = x * 2
    with pytest.raises(RuntimeError, match="you can only change requires_grad flags of leaf variables"):
        y.requires_grad_(False)


def test_long_chain_is_iterative_and_fast():
    """100,000 recorded ops: the engine must not recurse, and stay fast (a few seconds on cpu)."""
    x = ttorch.tensor([1.0], requires_grad=True)
    t0 = time.perf_counter()
    y = x
    for _ in range(100_000):
        y = y * 1.0001
    t1 = time.perf_counter()
    y.backward(ttorch.ones(1))
    t2 = time.perf_counter()
    np.testing.assert_allclose(x.grad.item(), 1.0001 ** 100_000, rtol=5e-3)
    print(f"100,000-op chain: forward {t1 - t0:.2f} s, backward {t2 - t1:.2f} s")
    # generous bound for a loaded 2-core CI machine; typically ~1-2 s each way
    assert t1 - t0 < 60 and t2 - t1 < 60


def test_tensor_used_twice_sums_partial_gradients(device):
    x = _leaf([1.0, -2.0], device)
    y = x * x + x                   # x reaches the root along three edges
    y.backward(ttorch.ones(2, device=device))
    assert x.grad.tolist() == [3.0, -3.0]
    a = _leaf([2.0], device)
    b = a * 3                       # diamond: b feeds two products
    (b * b + b * a).backward(ttorch.ones(1, device=device))
    # d/da (9a^2 + 3a^2) = 24a
    assert a.grad.tolist() == [48.0]


def test_broadcast_gradients_reduced_to_input_shape(device):
    x = _leaf([[1.0], [2.0], [3.0]], device)          # (3, 1)
    y = _leaf([[10.0, 20.0, 30.0, 40.0]], device)     # (1, 4)
    z = x * y                                         # (3, 4)
    z.backward(ttorch.ones(3, 4, device=device))
    assert x.grad.shape == (3, 1) and x.grad.tolist() == [[100.0], [100.0], [100.0]]
    assert y.grad.shape == (1, 4) and y.grad.tolist() == [[6.0, 6.0, 6.0, 6.0]]
    v = _leaf([1.0, 2.0], device)                     # (2,) against (3, 2): leading dim summed
    m = _leaf([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]], device)
    (v + m * 0).backward(ttorch.ones(3, 2, device=device))
    assert v.grad.shape == (2,) and v.grad.tolist() == [3.0, 3.0]
    s = _leaf(2.0, device)                            # 0-dim against (2,)
    (s * v).backward(ttorch.ones(2, device=device))
    assert s.grad.shape == () and s.grad.item() == 3.0


def test_grad_dtype_follows_input(device):
    x = _leaf([1.0, 2.0], device, dtype=ttorch.float16)
    y = _leaf([1.0, 2.0], device, dtype=ttorch.float64)
    (x * y).backward(ttorch.ones(2, dtype=ttorch.float64, device=device))
    assert x.grad.dtype is ttorch.float16 and y.grad.dtype is ttorch.float64
    assert x.grad.tolist() == [1.0, 2.0] and y.grad.tolist() == [1.0, 2.0]


def test_accumulation_and_retain_graph(device):
    x = _leaf([1.0, 2.0], device)
    y = x * x
    g = ttorch.ones(2, device=device)
    y.backward(g, retain_graph=True)
    y.backward(g)
    assert x.grad.tolist() == [4.0, 8.0]
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.backward(g)
    x.grad = None
    (x * 5).backward(g)
    assert x.grad.tolist() == [5.0, 5.0]
    # PyTorch frees saved tensors, not nodes: a graph that saved none (a view, a sum) runs again
    x.grad = None
    s = x.view(2)[1:].sum()
    s.backward()
    s.backward()
    assert x.grad.tolist() == [0.0, 2.0]
    with pytest.raises(RuntimeError, match="assigned grad has data of a different size"):
        x.grad = ttorch.ones(3)


def test_grad_modes_as_context_managers():
    x = _leaf([1.0], "cpu")
    assert ttorch.is_grad_enabled()
    with ttorch.no_grad():
        assert not ttorch.is_grad_enabled()
        assert not (x * 2).requires_grad
        with ttorch.enable_grad():
            assert ttorch.is_grad_enabled() and (x * 2).requires_grad
        assert not ttorch.is_grad_enabled()
        with ttorch.set_grad_enabled(True):
            assert (x * 2).requires_grad
    assert ttorch.is_grad_enabled()
    with ttorch.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert ttorch.is_grad_enabled()
    ttorch.set_grad_enabled(False)              # also a plain function call, as in PyTorch
    try:
        assert not ttorch.is_grad_enabled() and not (x * 2).requires_grad
    finally:
        ttorch.set_grad_enabled(True)
    with ttorch.inference_mode():
        assert not (x * 2).requires_grad
    with pytest.raises(ValueError):
        with ttorch.no_grad():
            raise ValueError("restored on error")
    assert ttorch.is_grad_enabled() and autograd.is_grad_enabled()


def test_grad_modes_as_decorators():
    x = _leaf([1.0], "cpu")

    @ttorch.no_grad()
    def f(t):
        return t * 2

    @ttorch.enable_grad()
    def g(t):
        return t * 2

    @ttorch.set_grad_enabled(False)
    def h(t):
        return t * 2

    assert ttorch.is_grad_enabled()             # set_grad_enabled(False) as a decorator leaves the mode alone
    assert not f(x).requires_grad and f.__name__ == "f"
    with ttorch.no_grad():
        assert g(x).requires_grad
    assert not h(x).requires_grad and ttorch.is_grad_enabled()


def test_detach_shares_storage(device):
    x = _leaf([1.0, 2.0], device)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    assert d.untyped_storage() is y.untyped_storage()
    d.add_(1)
    assert y.tolist() == [3.0, 5.0] and y._version == d._version
    xd = x.detach()
    xd.mul_(0)                                 # a detached leaf may be written in place
    assert x.tolist() == [0.0, 0.0]
    assert x.data.untyped_storage() is x.untyped_storage() and not x.data.requires_grad


def test_autograd_grad(device):
    x = _leaf([1.0, 2.0], device)
    w = _leaf([3.0, 4.0], device)
    y = x * x * w
    gx, gw = autograd.grad(y, (x, w), ttorch.ones(2, device=device), retain_graph=True)
    assert gx.tolist() == [6.0, 16.0] and gw.tolist() == [1.0, 4.0]
    assert x.grad is None and w.grad is None           # .grad untouched
    (gx_only,) = autograd.grad(y, [x], ttorch.ones(2, device=device), retain_graph=True)
    assert gx_only.tolist() == [6.0, 16.0]
    assert autograd.grad(y, x, ttorch.ones(2, device=device), retain_graph=True)[0].tolist() == [6.0, 16.0]
    u = _leaf([1.0], device)
    with pytest.raises(RuntimeError, match="appears to not have been used in the graph"):
        autograd.grad(y, [x, u], ttorch.ones(2, device=device), retain_graph=True)
    gx, gu = autograd.grad(y, [x, u], ttorch.ones(2, device=device), allow_unused=True)
    assert gu is None and gx.tolist() == [6.0, 16.0]
    with pytest.raises(RuntimeError, match="does not require grad"):
        autograd.grad(x * 2, [ttorch.ones(1)], ttorch.ones(2, device=device))


def test_autograd_grad_create_graph(device):
    x = _leaf([1.0, 2.0], device)
    y = x * x * x
    (g,) = autograd.grad(y, x, ttorch.ones(2, device=device), create_graph=True)
    assert g.tolist() == [3.0, 12.0] and g.requires_grad
    g.backward(ttorch.ones(2, device=device))
    assert x.grad.tolist() == [6.0, 12.0]              # d2/dx2 x^3 = 6x


def test_backward_inputs_argument():
    x, w = _leaf([1.0], "cpu"), _leaf([2.0], "cpu")
    (x * w).backward(ttorch.ones(1), inputs=[x])
    assert x.grad.tolist() == [2.0] and w.grad is None
    autograd.backward([x * w], [ttorch.ones(1)])
    assert x.grad.tolist() == [4.0] and w.grad.tolist() == [1.0]


def test_inplace_modified_saved_tensor_error(device):
    x = _leaf([1.0, 2.0], device)
    a = x * 1
    b = a * a                                          # saves a
    a.add_(1)
    with pytest.raises(RuntimeError, match="one of the variables needed for gradient computation has been modified "
                                           "by an inplace operation") as e:
        b.backward(ttorch.ones(2, device=device))
    assert "is at version 1; expected version 0 instead" in str(e.value)
    c = x * 1
    d = c + c                                          # add saves nothing: in-place change is fine
    c.mul_(3)
    d.backward(ttorch.ones(2, device=device))
    assert x.grad.tolist() == [2.0, 2.0]               # d was made from c before mul_(3)


def test_inplace_on_nonleaf_records(device):
    x = _leaf([1.0, 2.0], device)
    y = x * 2
    y.mul_(3)
    assert y.grad_fn.name() == "MulBackward0"
    y.backward(ttorch.ones(2, device=device))
    assert x.grad.tolist() == [6.0, 6.0]
    x.grad = None
    w = _leaf([5.0, 7.0], device)
    y = x * 1
    y.mul_(w)                                          # w's gradient needs y's value before the write
    y.backward(ttorch.ones(2, device=device))
    assert w.grad.tolist() == [1.0, 2.0] and x.grad.tolist() == [5.0, 7.0]
    x.grad = None
    v = x * 1
    view = v.select(0, 1)
    view.mul_(4)                                       # through a view: the base sees the write
    assert view._version == v._version == 1 and v.tolist() == [1.0, 8.0]


def test_leaf_hooks(device):
    x = _leaf([1.0, 2.0], device)
    seen = []
    h = x.register_hook(lambda g: seen.append(g.tolist()))
    h2 = x.register_hook(lambda g: g * 10)
    (x * 3).backward(ttorch.ones(2, device=device))
    assert seen == [[3.0, 3.0]] and x.grad.tolist() == [30.0, 30.0]
    h.remove()
    h2.remove()
    x.grad = None
    (x * 3).backward(ttorch.ones(2, device=device))
    assert seen == [[3.0, 3.0]] and x.grad.tolist() == [3.0, 3.0]
    with pytest.raises(RuntimeError, match="cannot register a hook on a tensor that doesn't require gradient"):
        ttorch.ones(1).register_hook(lambda g: g)


def test_nonleaf_hooks(device):
    x = _leaf([1.0, 2.0], device)
    y = x * 2
    seen = []
    y.register_hook(lambda g: seen.append(g.tolist()))
    y.register_hook(lambda g: g * 10)                 # replaces the gradient flowing on
    z = y * y                                         # dz/dy = 2y = [4, 8]
    z.backward(ttorch.ones(2, device=device))
    assert seen == [[4.0, 8.0]]
    assert x.grad.tolist() == [80.0, 160.0]           # 10 * 2y * 2
    # the node holds the hooked tensor weakly: no reference cycle keeps it alive
    import gc
    import weakref
    a = x * 3
    a.register_hook(lambda g: g)
    r = weakref.ref(a)
    b = a + 1                                         # add saves no input
    del a
    gc.collect()
    assert r() is None
    b.backward(ttorch.ones(2, device=device))
    assert x.grad.tolist() == [83.0, 163.0]


def test_retain_grad(device):
    x = _leaf([1.0, 2.0], device)
    y = x * 3
    y.retain_grad()
    assert y.retains_grad and not x.retains_grad
    w = y * 2
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        assert w.grad is None                          # a non-leaf without retain_grad: None, and a warning
    assert any("not a leaf Tensor" in str(r.message) for r in rec)
    (w * y).backward(ttorch.ones(2, device=device))
    # d/dy (2y * y) = 4y = [12, 24]
    assert y.grad.tolist() == [12.0, 24.0] and x.grad.tolist() == [36.0, 72.0]
    x.retain_grad()                                    # a leaf: nothing to do
    with pytest.raises(RuntimeError, match="can't retain_grad on Tensor that has requires_grad=False"):
        ttorch.ones(1).retain_grad()


def test_retain_grad_accumulates_and_sees_hooks():
    x = _leaf([1.0], "cpu")
    y = x * 2
    y.retain_grad()
    y.register_hook(lambda g: g * 5)
    y.backward(ttorch.ones(1), retain_graph=True)
    assert y.grad.tolist() == [5.0] and x.grad.tolist() == [10.0]
    y.backward(ttorch.ones(1))
    assert y.grad.tolist() == [10.0] and x.grad.tolist() == [20.0]


def test_views_backward(device):
    x = _leaf([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], device)
    x.narrow(1, 0, 2).backward(ttorch.ones(2, 2, device=device))
    assert x.grad.tolist() == [[1.0, 1.0, 0.0], [1.0, 1.0, 0.0]]
    x.grad = None
    (x.t() * ttorch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], device=device)).backward(
        ttorch.ones(3, 2, device=device))
    assert x.grad.tolist() == [[1.0, 3.0, 5.0], [2.0, 4.0, 6.0]]
    x.grad = None
    x.unsqueeze(0).expand(4, 2, 3).backward(ttorch.ones(4, 2, 3, device=device))
    assert x.grad.tolist() == [[4.0] * 3] * 2
    x.grad = None
    x.view(6).select(0, 4).backward(ttorch.tensor(1.0, device=device))
    assert x.grad.tolist() == [[0.0, 0.0, 0.0], [0.0, 1.0, 0.0]]


def test_gradient_across_devices():
    x = _leaf([1.0, 2.0], "cpu")
    y = x.cuda() * ttorch.tensor([3.0, 4.0], device="cuda")
    y.backward(ttorch.ones(2, device="cuda"))
    assert x.grad.device.type == "cpu" and x.grad.tolist() == [3.0, 4.0]
