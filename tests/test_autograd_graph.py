"""ttorch.autograd.graph (saved-tensor hooks, nodes, edges, multi-grad hooks), gradcheck's forward-mode
and batched checks, and the repr of dual tensors. Expected counts, orders and messages were read off
PyTorch 2.13 by hand."""
import contextlib

import numpy as np
import pytest

import ttorch
from ttorch.autograd import Function, gradcheck, gradgradcheck
from ttorch.autograd import forward_ad as fwAD
from ttorch.autograd.gradcheck import GradcheckError
from ttorch.autograd.graph import (Node, GradientEdge, get_gradient_edge, increment_version, saved_tensors_hooks,
                                   save_on_cpu, disable_saved_tensors_hooks, register_multi_grad_hook)
from ttorch.ops import _op
from ttorch.utils.checkpoint import checkpoint

F64 = ttorch.float64


def _x(values=(0.5, -1.0, 2.0), device="cpu", dtype=ttorch.float32):
    return ttorch.tensor(list(values), dtype=dtype, device=device, requires_grad=True)


def _logging(log, tag=""):
    return saved_tensors_hooks(lambda t: (log.append("pack" + tag), t)[1],
                               lambda p: (log.append("unpack" + tag), p)[1])


class _Twice(Function):
    """Saves its input and its output; its backward reads ``saved_tensors`` twice."""

    @staticmethod
    def forward(ctx, a):
        o = a * 2
        ctx.save_for_backward(a, o)
        return o

    @staticmethod
    def backward(ctx, g):
        a, o = ctx.saved_tensors
        a, o = ctx.saved_tensors
        return g * 2


# ------------------------------------------------------------------------------ saved-tensor hooks
def test_pack_once_per_saved_tensor_unpack_per_run():
    x, w = _x(), _x((1.5, 2.0, -0.5))
    seen = []
    with saved_tensors_hooks(lambda t: (seen.append(t), t.detach())[1], lambda p: (seen.append("u"), p)[1]):
        y = x.sin()             # saves x
        z = (y * w).sum()       # saves y and w
    assert len(seen) == 3 and seen[0] is x and {id(seen[1]), id(seen[2])} == {id(y), id(w)}
    assert _op._saved_hooks is None     # the hot path's one test is off again
    z.backward()
    assert seen[3:] == ["u"] * 3
    np.testing.assert_allclose(x.grad.numpy(), np.cos(x.detach().numpy()) * w.detach().numpy(), rtol=1e-6)


def test_function_saved_tensors_unpack_on_each_access():
    x = _x()
    seen = []
    with saved_tensors_hooks(lambda t: (seen.append(t), t.detach())[1], lambda p: (seen.append("u"), p)[1]):
        o = _Twice.apply(x)
    assert len(seen) == 2 and seen[0] is x and seen[1] is o and o.grad_fn.name() == "_TwiceBackward"
    o.sum().backward()
    assert seen[2:] == ["u"] * 4        # two tensors, read twice (PyTorch: 4 unpacks)
    np.testing.assert_allclose(x.grad.numpy(), [2, 2, 2])


def test_nested_hooks_innermost_applies_and_hooks_stay_with_the_graph():
    x = _x()
    log = []
    with _logging(log, "_outer"):
        with _logging(log, "_inner"):
            y = x.sin()
        z = y.cos()
    z.sum().backward()      # (the contexts are gone: each saved tensor keeps its own pair)
    assert log == ["pack_inner", "pack_outer", "unpack_outer", "unpack_inner"]


def test_save_on_cpu_moves_cuda_tensors_to_host():
    def f(x, w):
        return ((x * w).sin() * x).sum()
    x, w = _x(device="cuda"), _x((1.5, 2.0, -0.5), device="cuda")
    f(x, w).backward()
    ref = x.grad.cpu().numpy(), w.grad.cpu().numpy()
    x.grad = w.grad = None
    hooks = save_on_cpu()
    kept = []
    pack = hooks.pack_hook
    hooks.pack_hook = lambda t: (kept.append(pack(t)), kept[-1])[1]
    with hooks:
        y = f(x, w)
    assert kept and all(dev.type == "cuda" and t.device.type == "cpu" for dev, t in kept)
    y.backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), ref[0])
    np.testing.assert_array_equal(w.grad.cpu().numpy(), ref[1])
    assert x.grad.device.type == "cuda"


@pytest.mark.parametrize("hooked", [False, True])
def test_save_on_cpu_frees_the_device_activation(hooked):
    import gc
    import weakref
    x = _x(device="cuda")
    with save_on_cpu() if hooked else contextlib.nullcontext():
        h = x * 2
        y = h.sin().sum()       # saves h
    storage = weakref.ref(h.untyped_storage())
    del h
    gc.collect()
    assert (storage() is None) == hooked     # without hooks the graph holds the cuda activation
    y.backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), 2 * np.cos(2 * x.detach().cpu().numpy()), rtol=1e-6)


def test_disable_saved_tensors_hooks():
    with disable_saved_tensors_hooks("no hooks here"):
        with pytest.raises(RuntimeError, match="^no hooks here$"):
            with save_on_cpu():
                pass
    with saved_tensors_hooks(lambda t: t, lambda p: p):
        with pytest.raises(RuntimeError, match="^already hooked$"):
            with disable_saved_tensors_hooks("already hooked"):
                pass
    log = []
    with _logging(log):         # enabled again
        _x().exp()
    assert log


def test_unpack_must_return_a_tensor():
    x = _x()
    with saved_tensors_hooks(lambda t: 1, lambda p: 5):
        y = x.sin()
    with pytest.raises(TypeError, match="Output of saved tensor unpack_hook expected to be a Tensor but got result "
                                        "of type int"):
        y.sum().backward()


def test_versions_unchecked_under_hooks_checked_without():
    x = _x()
    with saved_tensors_hooks(lambda t: t.clone(), lambda p: p):     # PyTorch: the hooks own the value
        y = x.exp()
    with ttorch.no_grad():
        y.add_(1)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp(x.detach().numpy()), rtol=1e-6)
    x2 = _x()
    z = x2.sin()
    increment_version(x2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()
    w = _x()
    z = w.sin()
    increment_version([w, x2])
    assert w._version == 1


def test_inplace_op_on_a_saved_tensor_keeps_its_old_value():
    a, b = _x((1., 2.)), _x((3., 4.))
    with saved_tensors_hooks(lambda t: t, lambda p: p):
        y = a * 1
        y.mul_(b)       # b's gradient needs y's value before the multiplication
    y.sum().backward()
    np.testing.assert_allclose(b.grad.numpy(), [1, 2])
    np.testing.assert_allclose(a.grad.numpy(), [3, 4])


def test_non_reentrant_checkpoint_hides_its_saves_from_the_hooks():
    x = _x()
    log = []
    with _logging(log):
        y = checkpoint(lambda a: a.sin().cos(), x, use_reentrant=False)
        z = (y * y).sum()       # the only saves the hooks see (PyTorch adds one for the inputs)
    assert log == ["pack"] * 2
    z.backward()
    assert log == ["pack"] * 2 + ["unpack"] * 2
    v = x.detach().numpy()
    np.testing.assert_allclose(x.grad.numpy(), -2 * np.cos(np.sin(v)) * np.sin(np.sin(v)) * np.cos(v), rtol=1e-5)


def test_forward_over_reverse_under_hooks():
    # the saved tensors' tangents come back with them (PyTorch: the same Hessian-vector product)
    def hvp(hooks):
        x = _x((0.5, -1.0), dtype=F64)
        with fwAD.dual_level():
            with hooks:
                d = fwAD.make_dual(x, ttorch.tensor([1., 0.], dtype=F64))
                y = (d.exp() * d.tanh()).sum()      # exp saves its output, tanh too, mul both inputs
            g, = ttorch.autograd.grad(y, d, create_graph=True)
            return fwAD.unpack_dual(g).tangent.detach().numpy()
    v = 0.5
    t, e = np.tanh(v), np.exp(v)    # d2/dx2 of e^x tanh(x) = e^x (tanh + 2 sech^2 - 2 tanh sech^2)
    ref = e * (t + 2 * (1 - t * t) - 2 * t * (1 - t * t))
    np.testing.assert_allclose(hvp(saved_tensors_hooks(lambda t: t.detach(), lambda p: p)), [ref, 0], rtol=1e-12)
    np.testing.assert_allclose(hvp(save_on_cpu()), [ref, 0], rtol=1e-12)


# ------------------------------------------------------------------------------ nodes and edges
def test_node_api():
    x = _x()
    y = x.sin()
    fn = y.grad_fn
    assert isinstance(fn, Node) and isinstance(_Twice.apply(x).grad_fn, Node)
    assert fn.name() == "SinBackward0"
    acc, nr = fn.next_functions[0]
    assert nr == 0 and acc.name() == "AccumulateGrad" and acc.variable is x
    assert fn.metadata == {}
    fn.metadata["tag"] = 3
    assert y.grad_fn.metadata == {"tag": 3}
    calls = []
    fn.register_prehook(lambda go: calls.append("pre"))
    fn.register_hook(lambda gi, go: calls.append("post"))
    y.sum().backward()
    assert calls == ["pre", "post"]


def test_gradient_edge():
    x = _x((1., 2.))
    h = x * 3
    y = (h * h).sum()
    e = get_gradient_edge(x)
    assert isinstance(e, GradientEdge) and e.node.name() == "AccumulateGrad" and e.output_nr == 0
    assert e.ownership_token is None
    eh = get_gradient_edge(h)
    assert eh.node is h.grad_fn and eh.output_nr == 0
    gh, gx = ttorch.autograd.grad(y, [eh, x], retain_graph=True)
    np.testing.assert_allclose(gh.numpy(), [6, 12])
    np.testing.assert_allclose(gx.numpy(), [18, 36])
    g, = ttorch.autograd.grad(eh, e, grad_outputs=ttorch.ones(2))      # edges as outputs too
    np.testing.assert_allclose(g.numpy(), [3, 3])
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        ttorch.autograd.grad(eh, x)
    with pytest.raises(RuntimeError, match="It is not possible to get the gradient edge for a Tensor that does not "
                                           "require gradients"):
        get_gradient_edge(ttorch.ones(2))


def test_multi_grad_hook_all_and_any():
    a, b, c = _x((1., 1.)), _x((2., 2.)), _x((3., 3.))
    calls = []
    h = register_multi_grad_hook((a, b, c), lambda gs: calls.append([g is not None for g in gs]))
    (a * b).sum().backward()
    (a * 2 + c).sum().backward()
    assert calls == [[True, True, False], [True, False, True]]
    h.remove()
    (a * b).sum().backward()
    assert len(calls) == 2
    calls = []
    h = register_multi_grad_hook((a, c), lambda g: calls.append(g.tolist()), mode="any")
    (a * 2 + c * 3).sum().backward()
    (c * 5).sum().backward()
    assert len(calls) == 2 and calls[0] in ([2.0, 2.0], [3.0, 3.0]) and calls[1] == [5.0, 5.0]
    h.remove()
    with pytest.raises(ValueError, match=r"Expects mode to be one of \('all', 'any'\) but got x"):
        register_multi_grad_hook((a,), print, mode="x")


def test_leaf_hooks_run_for_autograd_grad():
    x = _x((1., 1.))
    h = x * 2
    seen = []
    x.register_hook(lambda g: (seen.append(g.tolist()), g * 10)[1])
    g, = ttorch.autograd.grad((h * 3).sum(), x)
    assert seen == [[6.0, 6.0]] and g.tolist() == [60.0, 60.0]     # (PyTorch: the hook's result is returned)


# ------------------------------------------------------------------------------ gradcheck
class _WrongJvp(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return a.sin()

    @staticmethod
    def backward(ctx, g):
        a, = ctx.saved_tensors
        return g * a.cos()

    @staticmethod
    def jvp(ctx, t):
        return t * 2        # should be t * cos(a)


class _WrongBackward(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        ctx.save_for_forward(a)
        return a.sin()

    @staticmethod
    def backward(ctx, g):
        a, = ctx.saved_tensors
        return g * a.cos() * 1.1

    @staticmethod
    def jvp(ctx, t):
        return t * ctx.saved_tensors[0].cos()


@pytest.mark.parametrize("fast_mode", [False, True])
def test_gradcheck_forward_ad(fast_mode):
    x = _x((0.5, -1.5, 2.0), dtype=F64)
    w = ttorch.tensor([[0.3, 0.1, -0.2], [1.0, 0.5, 0.7]], dtype=F64, requires_grad=True)

    def f(a, b):
        return (b @ a).sin(), a.exp() * 2, (a > 0)
    assert gradcheck(f, (x, w), check_forward_ad=True, fast_mode=fast_mode)
    assert gradcheck(f, (x, w), check_forward_ad=True, check_backward_ad=False, fast_mode=fast_mode)
    assert gradcheck(_WrongJvp.apply, (x,), fast_mode=fast_mode)         # backward alone is right
    with pytest.raises(GradcheckError, match="^Jacobian computed with forward mode mismatch for output 0 with "
                                             "respect to input 0,\nnumerical:"):
        gradcheck(_WrongJvp.apply, (x,), check_forward_ad=True, fast_mode=fast_mode)
    assert not gradcheck(_WrongJvp.apply, (x,), check_forward_ad=True, fast_mode=fast_mode, raise_exception=False)
    with pytest.raises(GradcheckError, match="^Jacobian mismatch for output 0 with respect to input 0,"):
        gradcheck(_WrongBackward.apply, (x,), check_forward_ad=True, fast_mode=fast_mode)
    assert gradcheck(_WrongBackward.apply, (x,), check_forward_ad=True, check_backward_ad=False, fast_mode=fast_mode)


def test_gradcheck_batched_and_fwd_over_rev():
    x = _x((0.5, -1.5), dtype=F64)
    assert gradcheck(lambda a: (a * a).sin(), (x,), check_batched_grad=True, check_forward_ad=True,
                     check_batched_forward_grad=True)
    assert gradgradcheck(lambda a: (a * a).sin(), (x,), check_fwd_over_rev=True)
    with pytest.raises(AssertionError, match="Expected at least one of check_forward_ad or check_backward_ad"):
        gradcheck(lambda a: a, (x,), check_backward_ad=False)


# ------------------------------------------------------------------------------ dual tensors print their tangent
def test_dual_repr():
    with fwAD.dual_level():
        d = fwAD.make_dual(ttorch.tensor([1., 2.]), ttorch.tensor([3., 4.]))
        assert repr(d) == "tensor([1., 2.], tangent=tensor([3., 4.]))"
        assert repr(d * 2) == "tensor([2., 4.], tangent=tensor([6., 8.]))"
        s = fwAD.make_dual(ttorch.tensor(1.), ttorch.tensor(2.))
        assert repr(s) == "tensor(1., tangent=2.0)"
    assert repr(d) == "tensor([1., 2.])"


def test_doctests():
    import doctest
    import sys
    from ttorch.autograd import graph
    for mod in (graph, sys.modules["ttorch.autograd.gradcheck"]):
        res = doctest.testmod(mod, extraglobs={"ttorch": ttorch}, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert res.failed == 0 and res.attempted > 0
