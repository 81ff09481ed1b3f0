"""Custom ``autograd.Function``s: PyTorch's ctx API (saved tensors, needs_input_grad, dirty and
non-differentiable outputs, materialized grads), outputs, and its error messages."""
import warnings

import numpy as np
import pytest

import ttorch
from ttorch.autograd import Function
from ttorch.autograd.function import FunctionCtx


def _leaf(vals, device, dtype=ttorch.float32):
    return ttorch.tensor(vals, dtype=dtype, device=device, requires_grad=True)


class Exp(Function):
    """The example of PyTorch's docs: saves its output."""

    @staticmethod
    def forward(ctx, i):
        result = i.exp()
        ctx.save_for_backward(result)
        return result

    @staticmethod
    def backward(ctx, grad_output):
        result, = ctx.saved_tensors
        return grad_output * result


class ScaledTanh(Function):
    """``w * tanh(x) + k``: a broadcast weight, a non-tensor argument, inputs saved."""

    @staticmethod
    def forward(ctx, x, w, k):
        ctx.save_for_backward(x, w)
        ctx.k = k
        return w * x.tanh() + k

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        t = x.tanh()
        # w's gradient is left unreduced (broadcast shape): the engine sums it to w's shape
        return g * w * (1 - t * t), g * t, None


class Cube(Function):
    """Separate ``setup_context`` form."""

    @staticmethod
    def forward(x, scale=1.0):
        return x * x * x * scale

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, scale = inputs
        ctx.save_for_backward(x)
        ctx.scale = scale

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * 3 * x * x * ctx.scale, None


# ---------------------------------------------------------------------------------- basics
def test_forward_backward_and_grad_fn(device):
    x = _leaf([0.0, 1.0, -2.0], device)
    y = Exp.apply(x)
    assert type(y.grad_fn).__name__ == "ExpBackward" and y.grad_fn.name() == "ExpBackward"
    assert isinstance(y.grad_fn, ttorch.autograd.Node) and isinstance(y.grad_fn, FunctionCtx)
    assert y.requires_grad and not y.is_leaf
    (nxt, nr), = y.grad_fn.next_functions
    assert nxt.name() == "AccumulateGrad" and nxt.variable is x and nr == 0
    y.backward(ttorch.tensor([1.0, 2.0, 3.0], device=device))
    np.testing.assert_allclose(x.grad.cpu().numpy(), np.exp([0.0, 1.0, -2.0]) * [1, 2, 3], rtol=1e-6)


def test_setup_context_form_and_default_args(device):
    x = _leaf([1.0, -2.0], device)
    y = Cube.apply(x)                       # scale's default is bound, as PyTorch's apply does
    y.sum().backward()
    assert y.grad_fn.name() == "CubeBackward" and y.grad_fn.scale == 1.0
    assert x.grad.tolist() == [3.0, 12.0]
    x.grad = None
    Cube.apply(x, 2.0).sum().backward()
    assert x.grad.tolist() == [6.0, 24.0]


def test_apply_rejects_keyword_arguments():
    x = _leaf([1.0], "cpu")
    with pytest.raises(TypeError, match="apply\\(\\) takes no keyword arguments"):
        ScaledTanh.apply(x, x, k=1.0)
    with pytest.raises(TypeError, match="apply\\(\\) takes no keyword arguments"):
        Cube.apply(x, scale=2.0)


def test_legacy_instance_call_raises():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        fn = Exp()
    with pytest.raises(RuntimeError, match="Legacy autograd function with non-static forward method is deprecated"):
        fn(_leaf([1.0], "cpu"))


def test_forward_runs_without_grad_and_nothing_recorded_when_not_needed(device):
    seen = []

    class Probe(Function):
        @staticmethod
        def forward(ctx, x):
            seen.append(ttorch.is_grad_enabled())
            y = x * 2
            seen.append(y.grad_fn)
            return y

        @staticmethod
        def backward(ctx, g):
            seen.append(ttorch.is_grad_enabled())
            return g * 2

    x = _leaf([1.0], device)
    y = Probe.apply(x)
    assert seen == [False, None] and y.grad_fn.name() == "ProbeBackward"
    y.backward(ttorch.ones(1, device=device))
    assert seen[2] is False and x.grad.tolist() == [2.0]       # backward: grad mode = create_graph
    with ttorch.no_grad():
        z = Probe.apply(x)
    assert z.grad_fn is None and not z.requires_grad
    z = Probe.apply(ttorch.ones(1, device=device))
    assert z.grad_fn is None and not z.requires_grad


def test_needs_input_grad_and_ctx_attributes(device):
    got = {}

    class F(Function):
        @staticmethod
        def forward(ctx, a, b, n, c):
            got["needs"] = ctx.needs_input_grad
            ctx.anything = [n, "text"]
            return a * b * n + c

        @staticmethod
        def backward(ctx, g):
            got["back"] = ctx.needs_input_grad
            got["attr"] = ctx.anything
            return g, None, None, g

    a, b, c = _leaf([1.0], device), ttorch.ones(1, device=device), _leaf([2.0], device)
    y = F.apply(a, b, 3, c)
    assert got["needs"] == (True, False, False, True)
    assert y.grad_fn.anything == [3, "text"]
    assert y.grad_fn.next_functions[1] is None and y.grad_fn.next_functions[2][0].variable is c
    y.sum().backward()
    assert got["back"] == (True, False, False, True) and got["attr"] == [3, "text"]
    assert a.grad.tolist() == [1.0] and c.grad.tolist() == [1.0] and b.grad is None


# ---------------------------------------------------------------------------------- saved tensors
def test_saved_tensor_modified_in_place_raises(device):
    x = _leaf([0.5, 1.5], device)
    a = x * 1
    y = ScaledTanh.apply(a, ttorch.ones(2, device=device), 0.0)
    a.add_(1)
    with pytest.raises(RuntimeError, match="one of the variables needed for gradient computation has been modified "
                                           "by an inplace operation") as e:
        y.sum().backward()
    assert "ScaledTanhBackward" in str(e.value) and "is at version 1; expected version 0 instead" in str(e.value)
    y = Exp.apply(x)
    y.mul_(2)                                   # the saved output itself
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_saved_tensors_freed_after_backward(device):
    x = _leaf([1.0, 2.0], device)
    y = Exp.apply(x)
    y.sum().backward(retain_graph=True)
    y.sum().backward()                          # retained: twice is fine, gradients add up
    np.testing.assert_allclose(x.grad.cpu().numpy(), 2 * np.exp([1.0, 2.0]), rtol=1e-6)
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.sum().backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.grad_fn.saved_tensors


def test_saved_tensors_values_and_none(device):
    class F(Function):
        @staticmethod
        def forward(ctx, x, y):
            out = x + y
            ctx.save_for_backward(x, None, out)
            return out

        @staticmethod
        def backward(ctx, g):
            return g, g

    x, y = _leaf([1.0], device), _leaf([2.0], device)
    out = F.apply(x, y)
    sx, none, sout = out.grad_fn.saved_tensors
    assert sx is x and none is None
    assert sout.grad_fn is out.grad_fn and sout.tolist() == [3.0]   # an output unpacks with its grad_fn

    class Bad(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x, 3)
            return x * 1

    with pytest.raises(TypeError, match="save_for_backward can only save variables, but argument 1 is of type int"):
        Bad.apply(x)


# ---------------------------------------------------------------------------------- outputs
def test_multiple_outputs_and_non_differentiable(device):
    got = []

    class SortLike(Function):
        @staticmethod
        def forward(ctx, x):
            idx = ttorch.argsort(x)
            ctx.mark_non_differentiable(idx)
            ctx.save_for_backward(idx)
            return x * 2, idx, "label"

        @staticmethod
        def backward(ctx, g, g_idx, g_label):
            got.append((g_idx.tolist(), g_label))
            return g * 2

    x = _leaf([3.0, 1.0, 2.0], device)
    y, idx, label = SortLike.apply(x)
    assert label == "label" and idx.dtype == ttorch.int64 and not idx.requires_grad
    assert y.grad_fn is y.grad_fn and y._output_nr == 0
    y.sum().backward()
    assert got == [([0, 0, 0], None)] and x.grad.tolist() == [2.0, 2.0, 2.0]

    class Two(Function):
        @staticmethod
        def forward(ctx, x):
            a, b = x * 2, x * 3
            ctx.mark_non_differentiable(b)
            return a, b

        @staticmethod
        def backward(ctx, ga, gb):
            got.append(gb.tolist())             # materialized zeros for the non-differentiable output
            return ga * 2 + gb

    x.grad = None
    a, b = Two.apply(x)
    assert a.requires_grad and not b.requires_grad and b.grad_fn is None
    a.sum().backward()
    assert got[-1] == [0.0, 0.0, 0.0] and x.grad.tolist() == [2.0, 2.0, 2.0]


def test_set_materialize_grads(device):
    got = []

    class Split(Function):
        @staticmethod
        def forward(ctx, x, materialize):
            ctx.set_materialize_grads(materialize)
            return x * 1, x * 1

        @staticmethod
        def backward(ctx, g1, g2):
            got.append(g2 if g2 is None else g2.tolist())
            return (g1 if g2 is None else g1 + g2), None

    x = _leaf([1.0, 2.0], device)
    a, _ = Split.apply(x, False)
    a.sum().backward()
    a, _ = Split.apply(x, True)
    a.sum().backward()
    assert got == [None, [0.0, 0.0]] and x.grad.tolist() == [2.0, 2.0]


def test_input_returned_unchanged_is_an_alias(device):
    class Ident(Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 5

    x = _leaf([1.0, 2.0], device)
    y = Ident.apply(x)
    assert y is not x and y.grad_fn.name() == "IdentBackward" and x.grad_fn is None and x.is_leaf
    assert y.data_ptr() == x.data_ptr() and y.tolist() == [1.0, 2.0]
    y.sum().backward()
    assert x.grad.tolist() == [5.0, 5.0]
    z = ttorch.ones(2, device=device)
    w = Ident.apply(z)                          # no grad needed: still a new tensor, no history
    assert w is not z and w.grad_fn is None and w.data_ptr() == z.data_ptr()


def test_setup_context_rejects_saving_an_input_returned_as_is():
    class Ident(Function):
        @staticmethod
        def forward(x):
            return x

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[0])

        @staticmethod
        def backward(ctx, g):
            return g

    with pytest.raises(RuntimeError, match="A input that has been returned as-is as output is being saved"):
        Ident.apply(_leaf([1.0], "cpu"))


# ---------------------------------------------------------------------------------- in place
class MulInplace(Function):
    @staticmethod
    def forward(ctx, x, k):
        x.mul_(k)
        ctx.mark_dirty(x)
        ctx.k = k
        return x

    @staticmethod
    def backward(ctx, g):
        return g * ctx.k, None


def test_mark_dirty_rebases_the_input(device):
    x = _leaf([1.0, 2.0], device)
    a = x * 1
    v0 = a._version
    out = MulInplace.apply(a, 3.0)
    assert out is a and a.grad_fn.name() == "MulInplaceBackward" and a.tolist() == [3.0, 6.0]
    assert a._version == v0 + 2          # the in-place op and mark_dirty each bump it (as in PyTorch)
    (a * a).sum().backward()
    assert x.grad.tolist() == [18.0, 36.0]      # d/dx (3x)^2 = 18x
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad has been used in an in-place "
                                           "operation."):
        MulInplace.apply(_leaf([1.0], device), 2.0)
    plain = ttorch.ones(2, device=device)       # a leaf that does not require grad is fine
    out = MulInplace.apply(plain, ttorch.ones(2, device=device, requires_grad=True))
    assert out is plain and plain.grad_fn.name() == "MulInplaceBackward"


def test_mark_dirty_must_return_the_input():
    class Bad(Function):
        @staticmethod
        def forward(ctx, x):
            x.add_(1)
            ctx.mark_dirty(x)
            return x * 1

    with pytest.raises(RuntimeError, match="Some elements marked as dirty during the forward method were not "
                                           "returned as output"):
        Bad.apply(_leaf([1.0], "cpu") * 1)


# ---------------------------------------------------------------------------------- gradients returned
def _returning(results):
    class Bad(Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, g):
            return results(g)
    return Bad


def test_wrong_number_or_kind_of_gradients(device):
    x = _leaf([1.0, 2.0, 3.0], device)
    with pytest.raises(RuntimeError, match=r"function BadBackward returned an incorrect number of gradients "
                                           r"\(expected 2, got 1\)"):
        _returning(lambda g: g).apply(x, 2.0).sum().backward()
    with pytest.raises(RuntimeError, match=r"expected 2, got 3"):
        _returning(lambda g: (g, None, g)).apply(x, 2.0).sum().backward()
    with pytest.raises(RuntimeError, match="function BadBackward returned a gradient different than None at "
                                           "position 2, but the corresponding forward input was not a Variable"):
        _returning(lambda g: (g, g)).apply(x, 2.0).sum().backward()
    with pytest.raises(RuntimeError, match=r"Function BadBackward returned an invalid gradient at index 0 - got "
                                           r"\[2\] but expected shape compatible with \[3\]"):
        _returning(lambda g: (g[:2], None)).apply(x, 2.0).sum().backward()
    _returning(lambda g: (g * 2, None, None, None)).apply(x, 2.0).sum().backward()   # extra Nones are dropped
    assert x.grad.tolist() == [2.0, 2.0, 2.0]
    x.grad = None
    _returning(lambda g: (g.double() * 2, None)).apply(x, 2.0).sum().backward()      # cast to the input's dtype
    assert x.grad.dtype == ttorch.float32 and x.grad.tolist() == [2.0, 2.0, 2.0]


def test_unimplemented_backward():
    class NoBackward(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

    with pytest.raises(NotImplementedError, match="You must implement either the backward or vjp method"):
        NoBackward.apply(_leaf([1.0], "cpu")).sum().backward()
