"""In-place ops on views under autograd (PyTorch's CopySlices and view replay).

Gradients are checked against central differences in float64 on cpu (the forward pass run in
no_grad mode, where in-place writes through views are plain writes) or against hand-computed
values; errors against PyTorch's messages.
"""
import numpy as np
import pytest

import ttorch
from ttorch import autograd

from _helpers import numeric_grads

F64 = ttorch.float64
RNG = np.random.default_rng(7)
A34 = RNG.uniform(-1, 1, size=(3, 4))
W4 = RNG.uniform(-1, 1, size=(4,))
C34 = RNG.uniform(-1, 1, size=(3, 4))


def _t(a, device, requires_grad=False):
    return ttorch.tensor(a, dtype=F64, device=device, requires_grad=requires_grad)


def _autograd(fn, arrays, device):
    ts = [_t(a, device, True) for a in arrays]
    fn(*ts).backward()
    return [t.grad for t in ts]


def _differences(fn, arrays):
    def f(arrs):
        with ttorch.no_grad():
            return fn(*[_t(a, "cpu") for a in arrs]).item()
    return numeric_grads(f, [np.array(a, dtype=np.float64) for a in arrays])


def _check(fn, arrays, device):
    for got, want in zip(_autograd(fn, arrays, device), _differences(fn, arrays)):
        assert got is not None
        np.testing.assert_allclose(got.cpu().numpy(), want, rtol=1e-6, atol=1e-8)


def _loss(a, c=C34):
    return (a * a * _t(c, a.device)).sum()      # not linear: gradients depend on the written values


# ----------------------------------------------------------------------------- the issue's example
def test_example_from_the_issue(device):
    x = ttorch.ones(3, requires_grad=True, device=device)
    a = x * 1
    v = a[:2]
    v.mul_(3)
    assert a.grad_fn.name() == "CopySlices" and v.grad_fn.name() == "AsStridedBackward0"
    assert a.grad_fn.next_functions[0][0].name() == "MulBackward0"        # a's history before the write
    assert v.grad_fn.next_functions[0][0] is a.grad_fn
    assert v._base is a and v._is_view() and a._base is None and not a._is_view()
    a.sum().backward()
    assert x.grad.tolist() == [3.0, 3.0, 1.0] and a.tolist() == [3.0, 3.0, 1.0]


def test_view_of_a_base_outside_the_graph(device):
    w = _t([2.0, 3.0], device, True)
    t = ttorch.zeros(4, dtype=F64, device=device)
    u = t[2:]                                   # made before the write: replayed, now requires grad
    t[1:3].add_(w)
    assert t.grad_fn.name() == "CopySlices" and not t.is_leaf
    assert u.requires_grad and u.grad_fn.name() == "AsStridedBackward0"
    (u * _t([10.0, 100.0], device)).sum().backward()
    assert w.grad.tolist() == [0.0, 10.0]


# ----------------------------------------------------------------------------- several views
def test_multiple_views_of_one_base(device):
    x = ttorch.ones(6, dtype=F64, requires_grad=True, device=device)
    a = x * 1
    v1, v2 = a[:3], a[2:]
    v1.mul_(2)
    assert v2.grad_fn.next_functions[0][0] is a.grad_fn          # the other view sees the new history
    v2.mul_(3)
    assert v1.grad_fn.next_functions[0][0] is a.grad_fn and a.grad_fn.name() == "CopySlices"
    assert a.tolist() == [2.0, 2.0, 6.0, 3.0, 3.0, 3.0] and v1.tolist() == [2.0, 2.0, 6.0]
    v1.sum().backward(retain_graph=True)
    assert x.grad.tolist() == [2.0, 2.0, 6.0, 0.0, 0.0, 0.0]
    x.grad = None
    a.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0, 6.0, 3.0, 3.0, 3.0]


def test_inplace_on_the_base_replays_its_views(device):
    x = ttorch.ones(3, dtype=F64, requires_grad=True, device=device)
    a = x * 1
    v = a[:2]
    a.mul_(2)
    assert v.grad_fn.name() == "AsStridedBackward0" and v.grad_fn.next_functions[0][0] is a.grad_fn
    v.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0, 0.0]


def test_expanded_view_replayed_sums_its_gradient(device):
    x = _t([1.0, 2.0, 3.0, 4.0], device, True)
    a = x * 1
    e = a.expand(3, 4)                          # stride 0: one element seen three times
    a.mul_(2)
    (e * _t(C34, device)).sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), 2 * C34.sum(0), rtol=1e-12)


def test_non_contiguous_base(device):
    base = ttorch.tensor(A34.T.copy(), dtype=F64, device=device).t().detach()   # (3, 4), strides (1, 3)
    assert not base.is_contiguous() and base._base is None
    w = _t(W4[:3], device, True)
    base[:, 1].mul_(w)
    assert base.grad_fn.name() == "CopySlices"
    _loss(base).backward()
    want = 2 * A34[:, 1] ** 2 * W4[:3] * C34[:, 1]
    np.testing.assert_allclose(w.grad.cpu().numpy(), want, rtol=1e-12)


def test_reshape_that_copies_is_not_a_view(device):
    x = _t(A34, device, True)
    a = x * 1
    r = a.t().reshape(12)                       # not viewable: a copy, as in PyTorch
    assert r._base is None and not r._is_view()
    r.mul_(100)
    assert a.grad_fn.name() == "MulBackward0"
    _loss(a).backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), 2 * A34 * C34, rtol=1e-12)


# ----------------------------------------------------------------------------- kinds of in-place ops
CASES = {
    "mul_scalar": lambda x, w: _loss((lambda a: (a[1:, ::2].mul_(3), a)[1])(x * 1)) + w.sum(),
    "mul_tensor": lambda x, w: _loss((lambda a: (a[:, 1].mul_(w[:3]), a)[1])(x * 1)),
    "add_tensor": lambda x, w: _loss((lambda a: (a[1].add_(w * 2), a)[1])(x * 1)),
    "copy_": lambda x, w: _loss((lambda a: (a[0].copy_(w), a)[1])(x * 1)),
    "fill_scalar": lambda x, w: _loss((lambda a: (a[:, 2].fill_(1.5), a)[1])(x * 1)) + w.sum(),
    "fill_tensor": lambda x, w: _loss((lambda a: (a[2, 1:3].fill_(w.sum()), a)[1])(x * 1)),
    "zero_transposed": lambda x, w: _loss((lambda a: (a.t()[1].zero_(), a)[1])(x * 1)) + w.sum(),
    "clamp_": lambda x, w: _loss((lambda a: (a[1:].clamp_(-0.5, 0.5), a)[1])(x * 1)) + w.sum(),
    "exp_diagonal": lambda x, w: _loss((lambda a: (a[:, :3].diagonal().exp_(), a)[1])(x * 1)) + w.sum(),
    "setitem_slice": lambda x, w: _loss((lambda a: (a.__setitem__((slice(1, 3), 1), w[:2]), a)[1])(x * 1)),
    "setitem_index": lambda x, w: _loss((lambda a: (a[1:].__setitem__(([0, 1], [2, 3]), w[:2] * w[2:]), a)[1])(x * 1)),
    "index_put_": lambda x, w: _loss((lambda a: (a.t().index_put_((ttorch.tensor([0, 3], device=a.device),),
                                                                   w[1:] * 3), a)[1])(x * 1)),
    "chained_views": lambda x, w: _loss((lambda a: (a.view(12)[2:10].view(2, 4)[1].sub_(w), a)[1])(x * 1)),
    "select_of_transpose": lambda x, w: _loss((lambda a: (a[1:].t()[2].mul_(w[:2]), a)[1])(x * 1)),
    "two_views": lambda x, w: (lambda a: (a[0].mul_(w), a[:, 0].add_(w[:3]), _loss(a) + (a[1:] ** 3).sum())[2])(x * 1),
    "base_then_view": lambda x, w: (lambda a, v: (a.mul_(w), v.mul_(v), (v * 5).sum() + _loss(a))[2])(
        *(lambda a: (a, a[1]))(x * 1)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradients_match_differences(name, device):
    _check(CASES[name], [A34, W4], device)


def test_setitem_records_copy_slices(device):
    x, w = _t(A34, device, True), _t(W4, device, True)
    a = x * 1
    a[1] = w
    assert a.grad_fn.name() == "CopySlices"
    b = x * 1
    b[[0, 2]] = w
    assert b.grad_fn.name() == "IndexPutBackward0"
    t = ttorch.zeros(3, 4, dtype=F64, device=device)
    t[:, 1:3] = w[:2]                           # a tensor without grad takes a value that requires it
    assert t.grad_fn.name() == "CopySlices"
    (t * _t(C34, device)).sum().backward()
    np.testing.assert_allclose(w.grad.cpu().numpy(), [C34[:, 1].sum(), C34[:, 2].sum(), 0, 0], rtol=1e-12)


# ----------------------------------------------------------------------------- double backward
def _double(x):
    a = x * x
    v = a[1:4]
    v.mul_(x[:3])
    a[0:2].add_(x[3:5] ** 2)
    return (a ** 2 * _t([0.5, -1.0, 2.0, 1.5, -0.3], x.device)).sum()


def _double_no_view(x):
    a = x * x
    a.mul_(x)                                   # the old value of a is saved for x's gradient
    return (a * a).sum()


def _first(fn, xa):
    x = _t(xa, "cpu", True)
    (g,) = autograd.grad(fn(x), x)
    return g.numpy()


@pytest.mark.parametrize("fn", [_double, _double_no_view], ids=["view", "no_view"])
def test_double_backward_through_inplace(fn, device):
    xa = np.array([0.3, -0.7, 1.1, 0.4, -0.9])
    _check(fn, [xa], device)
    x = _t(xa, device, True)
    (g,) = autograd.grad(fn(x), x, create_graph=True)
    assert g.requires_grad
    w = np.array([0.5, -1.0, 2.0, 0.7, 1.3])
    (gg,) = autograd.grad((g * _t(w, device)).sum(), x)
    num = np.zeros(5)
    for i in range(5):
        ap, am = xa.copy(), xa.copy()
        ap[i] += 1e-6
        am[i] -= 1e-6
        num[i] = (_first(fn, ap) - _first(fn, am)) @ w / 2e-6
    np.testing.assert_allclose(gg.cpu().numpy(), num, rtol=1e-5, atol=1e-7)


# ----------------------------------------------------------------------------- errors and no_grad
def test_view_of_a_leaf_errors(device):
    x = ttorch.ones(3, requires_grad=True, device=device)
    with pytest.raises(RuntimeError, match="^a view of a leaf Variable that requires grad is being used in an "
                                           "in-place operation.$"):
        x[:2].mul_(2)
    with pytest.raises(RuntimeError, match="^a view of a leaf Variable that requires grad"):
        x[0] = 1.0
    with pytest.raises(RuntimeError, match="^a leaf Variable that requires grad is being used in an in-place"):
        x.mul_(2)
    with pytest.raises(RuntimeError, match="^a leaf Variable that requires grad is being used in an in-place"):
        x[ttorch.tensor([0], device=device)] = 1.0
    assert x.tolist() == [1.0, 1.0, 1.0] and x._version == 0


def test_inplace_through_views_in_no_grad_mode(device):
    x = ttorch.ones(3, requires_grad=True, device=device)
    with ttorch.no_grad():
        x[:2].mul_(2)
        x[2] = 5.0
        v = x[1:]
        v.add_(1)
    assert x.tolist() == [2.0, 3.0, 6.0] and x.is_leaf and x.grad_fn is None and x._version == 3
    (x * x).sum().backward()
    assert x.grad.tolist() == [4.0, 6.0, 12.0]


NO_GRAD_MSG = ("A view was created in no_grad mode and is being modified inplace with grad mode enabled. Given that "
               "this use case is ambiguous and error-prone, it is forbidden. You can clarify your code by moving both "
               "the view and the inplace either both inside the no_grad block (if you don't want the inplace to be "
               "tracked) or both outside (if you want the inplace to be tracked).")


def test_view_made_in_no_grad_mode_errors(device):
    x = ttorch.ones(3, requires_grad=True, device=device)
    for base in (x * 1, x):
        with ttorch.no_grad():
            v = base[:2]
        assert v.requires_grad and v.grad_fn is None and v.is_leaf     # as in PyTorch
        with pytest.raises(RuntimeError) as e:
            v.mul_(2)
        assert str(e.value) == NO_GRAD_MSG
    plain = ttorch.ones(3, device=device)
    with ttorch.no_grad():
        p = plain[:2]
    p.mul_(2)                                   # nothing requires grad: allowed
    with pytest.raises(RuntimeError) as e:
        p.add_(ttorch.ones(2, device=device, requires_grad=True))
    assert str(e.value) == NO_GRAD_MSG
    a = x * 1
    with ttorch.no_grad():
        v = a[1:]
    (v * 2).sum().backward()                    # v passes no gradient on: x.grad stays None
    assert x.grad is None


MULTI = (" is a view and is being modified inplace. This view is the output of a function that returns multiple "
         "views. Such functions do not allow the output views to be modified inplace. You should replace the "
         "inplace operation by an out-of-place one.")


def test_multi_output_views_error(device):
    x = ttorch.ones(4, 2, requires_grad=True, device=device)
    a = x * 1
    for outs, name in ((a.unbind(), "UnbindBackward0"), (a.split(2), "SplitBackward0"),
                       (a.split([1, 3]), "SplitWithSizesBackward0"), (a.chunk(2), "SplitBackward0"),
                       (a.unbind(1), "UnbindBackward0")):
        for i, o in enumerate(outs):
            with pytest.raises(RuntimeError) as e:
                o.mul_(2)
            assert str(e.value) == f"Output {i} of {name}" + MULTI
    assert a._version == 0
    r0 = a.unbind()[0]
    with pytest.raises(RuntimeError, match="Output 0 of .* is a view and is being modified inplace. This view is the "
                                           "output of a function that returns multiple views"):
        r0[:1].add_(1)                          # a view of such a view inherits the rule
    plain = ttorch.ones(2, 2, device=device)
    p0, p1 = plain.unbind()
    p0.mul_(3)                                  # nothing requires grad: allowed
    assert plain.tolist() == [[3.0, 3.0], [1.0, 1.0]]
    with pytest.raises(RuntimeError, match="^A view was created in no_grad mode and is being modified inplace with "
                                           "grad mode enabled. This view is the output of a function that returns "
                                           "multiple views."):
        p1.add_(ttorch.ones(2, device=device, requires_grad=True))


def test_multi_output_view_fails_after_its_base_changes(device):
    x = ttorch.ones(2, 2, requires_grad=True, device=device)
    a = x * 1
    r0, r1 = a.unbind()
    a.mul_(2)                                   # PyTorch raises when r0's grad_fn is next read
    with pytest.raises(RuntimeError, match="^Output 0 of UnbindBackward0 is a view and its base or another view of "
                                           "its base has been modified inplace. This view is the output of a function "
                                           "that returns multiple views."):
        r0.sum().backward()


def test_overlapping_view_cannot_be_written_with_grad(device):
    x = ttorch.ones(3, requires_grad=True, device=device)
    e = (x * 1).expand(2, 3)
    with pytest.raises(RuntimeError, match="^unsupported operation: more than one element of the written-to tensor "
                                           "refers to a single memory location"):
        e.mul_(2)


# ----------------------------------------------------------------------------- detach and versions
def test_detach_shares_the_version_counter(device):
    x = ttorch.ones(3, requires_grad=True, device=device)
    a = x * 1
    y = a * a                                   # saves a
    d = a.detach()
    assert d._base is None and not d._is_view() and not d.requires_grad
    d.mul_(2)
    assert a._version == d._version == 1 and a.tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_write_through_a_view_trips_the_saved_base(device):
    x = ttorch.ones(3, requires_grad=True, device=device)
    a = x * 1
    y = a * a
    a[1:].mul_(2)
    with pytest.raises(RuntimeError, match="is at version 1; expected version 0 instead"):
        y.sum().backward()


def test_views_report_their_base(device):
    t = ttorch.ones(2, 3, device=device)
    for v in (t[0], t.t(), t.view(6), t.reshape(3, 2), t.diagonal(), t.unsqueeze(0), t.expand(4, 2, 3),
              t.t()[1], t.view(6)[::2]):
        assert v._base is t and v._is_view()
    assert t.clone()._base is None and t._base is None


# ------------------------------------------------------------------------------ writing into self on cuda
def _count_launches(monkeypatch):
    from ttorch.ops import elementwise
    calls = []
    real = elementwise.launch_keyed
    monkeypatch.setattr(elementwise, "launch_keyed", lambda *a: (calls.append(1), real(*a))[1])
    return calls


@pytest.mark.skipif(not ttorch.cuda.is_available(), reason="needs the cuda device (real or simulated)")
def test_binary_inplace_writes_self_in_one_kernel(monkeypatch):
    calls = _count_launches(monkeypatch)
    x = ttorch.tensor(A34, device="cuda")
    w = ttorch.tensor(W4, device="cuda")
    v = x._version
    calls.clear()
    x.add_(w, alpha=2.0).mul_(x)                  # broadcast operand, x read and written element by element
    assert len(calls) == 2 and x._version == v + 2
    np.testing.assert_allclose(x.cpu().numpy(), (A34 + 2 * W4) ** 2, rtol=1e-12)
    calls.clear()
    x -= 1.0
    out = ttorch.empty(3, 4, dtype=F64, device="cuda")
    ttorch.sub(x, w, out=out)
    assert len(calls) == 2
    np.testing.assert_allclose(out.cpu().numpy(), (A34 + 2 * W4) ** 2 - 1 - W4, rtol=1e-12)


@pytest.mark.skipif(not ttorch.cuda.is_available(), reason="needs the cuda device (real or simulated)")
def test_binary_inplace_keeps_its_two_step_path_where_needed(monkeypatch):
    calls = _count_launches(monkeypatch)
    # partially overlapping operand: computed out of place first, as the result must not see its own writes
    y = ttorch.arange(6.0, device="cuda")
    calls.clear()
    y[1:].add_(y[:-1])
    assert len(calls) == 2
    np.testing.assert_array_equal(y.cpu().numpy(), [0, 1, 3, 5, 7, 9])
    # a promoted result (float16 += float32) is computed in float32 and cast
    h = ttorch.full((3,), 0.1, dtype=ttorch.float16, device="cuda")
    h.add_(ttorch.full((3,), 1e-4, device="cuda"))
    assert h.dtype is ttorch.float16
    # recorded ops still build their graph
    a = ttorch.tensor(A34, device="cuda", requires_grad=True)
    b = a * 1.0
    b.mul_(ttorch.tensor(W4, device="cuda"))
    b.sum().backward()
    np.testing.assert_allclose(a.grad.cpu().numpy(), np.broadcast_to(W4, (3, 4)), rtol=1e-12)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        a.add_(1.0)
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        ttorch.zeros(3, 1, device="cuda").add_(ttorch.ones(3, 4, device="cuda"))
