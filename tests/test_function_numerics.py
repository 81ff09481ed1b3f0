"""Custom ``autograd.Function``s, numerically: gradients against float64 central differences and
``gradcheck``, double backward, ``once_differentiable``, anomaly mode, and a model that trains."""
import warnings

import numpy as np
import pytest

import ttorch
from ttorch.autograd import Function
from ttorch.autograd.function import once_differentiable

from test_function import Cube, Exp, ScaledTanh, _leaf


def _central_differences(f, a, eps=1e-6):
    """d sum(f(a) * weights) / da for a float64 NumPy array ``a`` (``f`` returns a float)."""
    g = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        ap, am = a.copy(), a.copy()
        ap[i] += eps
        am[i] -= eps
        g[i] = (f(ap) - f(am)) / (2 * eps)
    return g


def test_gradients_match_central_differences(device):
    rng = np.random.default_rng(0)
    xa, wa = rng.standard_normal((3, 5)), rng.standard_normal((1, 5))   # w broadcasts over rows
    ga = rng.standard_normal((3, 5))

    def value(xv, wv):
        x = ttorch.tensor(xv, dtype=ttorch.float64, device=device)
        w = ttorch.tensor(wv, dtype=ttorch.float64, device=device)
        return float((ScaledTanh.apply(x, w, 0.5).cpu().numpy() * ga).sum())

    x = ttorch.tensor(xa, dtype=ttorch.float64, device=device, requires_grad=True)
    w = ttorch.tensor(wa, dtype=ttorch.float64, device=device, requires_grad=True)
    ScaledTanh.apply(x, w, 0.5).backward(ttorch.tensor(ga, device=device))
    assert w.grad.shape == (1, 5)
    np.testing.assert_allclose(x.grad.cpu().numpy(), _central_differences(lambda v: value(v, wa), xa), rtol=1e-6,
                               atol=1e-8)
    np.testing.assert_allclose(w.grad.cpu().numpy(), _central_differences(lambda v: value(xa, v), wa), rtol=1e-6,
                               atol=1e-8)


def test_gradcheck_on_custom_functions(device):
    gradcheck = ttorch.autograd.gradcheck
    x = ttorch.tensor([[0.3, -0.7], [1.1, 0.2]], dtype=ttorch.float64, device=device, requires_grad=True)
    w = ttorch.tensor([[0.5, -1.5]], dtype=ttorch.float64, device=device, requires_grad=True)
    assert gradcheck(Exp.apply, (x,))
    assert gradcheck(lambda a, b: ScaledTanh.apply(a, b, 2.0), (x, w))
    assert gradcheck(lambda a: Cube.apply(a, 0.5), (x,))
    assert ttorch.autograd.gradgradcheck(Exp.apply, (x,))
    assert ttorch.autograd.gradgradcheck(lambda a: Cube.apply(a, 0.5), (x,))


def test_double_backward_through_custom_backward(device):
    a = np.array([0.3, -0.7, 1.2])
    x = ttorch.tensor(a, dtype=ttorch.float64, device=device, requires_grad=True)
    g, = ttorch.autograd.grad(Cube.apply(x, 2.0).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.detach().cpu().numpy(), 6 * a * a, rtol=1e-12)
    gg, = ttorch.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(gg.cpu().numpy(), 12 * a, rtol=1e-12)
    y = Exp.apply(x)                            # backward reads the saved output: differentiable too
    g, = ttorch.autograd.grad(y.sum(), x, create_graph=True)
    gg, = ttorch.autograd.grad((g * g).sum(), x)
    np.testing.assert_allclose(gg.cpu().numpy(), 2 * np.exp(2 * a), rtol=1e-12)


def test_once_differentiable(device):
    class Square(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @once_differentiable
        def backward(ctx, g):
            x, = ctx.saved_tensors
            assert not ttorch.is_grad_enabled()
            return 2 * x * g

    x = _leaf([1.0, 3.0], device)
    Square.apply(x).sum().backward()
    assert x.grad.tolist() == [2.0, 6.0]
    y = Square.apply(x)
    g, = ttorch.autograd.grad((y * y).sum(), x, create_graph=True)    # grad_output requires grad here
    assert g.tolist() == [4.0, 108.0] and g.requires_grad
    with pytest.raises(RuntimeError, match="trying to differentiate twice a function that was marked with "
                                           "@once_differentiable"):
        g.sum().backward()


def test_anomaly_mode_names_the_function_and_its_forward_line(device):
    class NanGrad(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return g * float("nan")

    x = _leaf([1.0], device)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with ttorch.autograd.detect_anomaly():
            y = NanGrad.apply(x)    # the forward line the warning shows
            with pytest.raises(RuntimeError, match="Function 'NanGradBackward' returned nan values in its 0th "
                                                   "output."):
                y.sum().backward()
    msgs = [str(w.message) for w in caught if "Error detected in NanGradBackward" in str(w.message)]
    assert msgs and "the forward line the warning shows" in msgs[0]


# ---------------------------------------------------------------------------------- in a model
class SoftSign(Function):
    """x / (1 + |x|), written as a Function: the activation of the model below."""

    @staticmethod
    def forward(ctx, x):
        d = 1 + x.abs()
        ctx.save_for_backward(d)
        return x / d

    @staticmethod
    def backward(ctx, g):
        d, = ctx.saved_tensors
        return g / (d * d)


def test_mlp_with_custom_activation_trains(device):
    rng = np.random.default_rng(0)
    xs = rng.uniform(-2, 2, (32, 2))
    ys = np.sin(xs[:, :1]) * np.cos(xs[:, 1:])                # (32, 1)
    X, Y = ttorch.tensor(xs, dtype=ttorch.float32, device=device), ttorch.tensor(ys, dtype=ttorch.float32,
                                                                                  device=device)

    def param(*shape, scale):
        return ttorch.tensor(rng.standard_normal(shape) * scale, dtype=ttorch.float32, device=device,
                             requires_grad=True)

    w1, b1, w2, b2 = param(2, 8, scale=1.0), param(8, scale=0.1), param(8, 1, scale=0.3), param(1, scale=0.0)
    params = [w1, b1, w2, b2]
    losses = []
    for _ in range(40):
        h = SoftSign.apply(X @ w1 + b1)                         # (32, 8)
        loss = ((h @ w2 + b2 - Y) ** 2).mean()
        loss.backward()
        with ttorch.no_grad():
            for p in params:
                p -= 0.5 * p.grad
                p.grad = None
        losses.append(loss.item())
    assert losses[-1] < 0.15 * losses[0] and losses[-1] < 0.03, losses[::10]
