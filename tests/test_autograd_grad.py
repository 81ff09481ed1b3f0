"""autograd.grad and backward(inputs=) run only the part of the graph that leads to the inputs."""
import math

import pytest

import ttorch


def test_grad_leaves_the_rest_of_the_graph(device):
    x = ttorch.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    y = x * 2
    g, = ttorch.autograd.grad(y.sin().sum(), y)        # stops at y: x's part is not run nor freed
    assert g.tolist() == pytest.approx([math.cos(v) for v in (2.0, 4.0, 6.0)])
    (y * y).sum().backward()                           # y's graph still has its saved tensors
    assert x.grad.tolist() == [8.0, 16.0, 24.0]        # d(4x^2)/dx


def test_grad_through_a_captured_node_to_another_input(device):
    a = ttorch.tensor([1.0, 2.0], device=device, requires_grad=True)
    b = a * 3
    c = (b * b).sum()
    gb, ga = ttorch.autograd.grad(c, [b, a])
    assert gb.tolist() == [6.0, 12.0] and ga.tolist() == [18.0, 36.0]
    assert a.grad is None


def test_backward_inputs_accumulates_only_there(device):
    a = ttorch.tensor([1.0, 2.0], device=device, requires_grad=True)
    w = ttorch.tensor([3.0, 4.0], device=device, requires_grad=True)
    loss = (a * w).sum()
    loss.backward(inputs=[w], retain_graph=True)
    assert w.grad.tolist() == [1.0, 2.0] and a.grad is None
    loss.backward(inputs=w)
    assert w.grad.tolist() == [2.0, 4.0] and a.grad is None


def test_unreached_input(device):
    a = ttorch.ones(2, device=device, requires_grad=True)
    b = ttorch.ones(2, device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="appears to not have been used in the graph"):
        ttorch.autograd.grad((a * 2).sum(), [a, b])
    ga, gb = ttorch.autograd.grad((a * 2).sum(), [a, b], allow_unused=True)
    assert ga.tolist() == [2.0, 2.0] and gb is None
    ga, gb = ttorch.autograd.grad((a * 2).sum(), [a, b], materialize_grads=True)
    assert gb.tolist() == [0.0, 0.0]
