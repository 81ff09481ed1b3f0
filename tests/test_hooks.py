"""Backward hooks: on tensors (``register_hook``, ``register_post_accumulate_grad_hook``) and on
graph nodes (``grad_fn.register_hook`` / ``register_prehook``), for op nodes, custom Functions
and ``AccumulateGrad``, and the order PyTorch runs them in."""
import pytest

import ttorch
from ttorch.autograd import Function


def _leaf(vals, device):
    return ttorch.tensor(vals, device=device, requires_grad=True)


class Scale(Function):
    @staticmethod
    def forward(ctx, x, y, k):
        return x * k + y

    @staticmethod
    def backward(ctx, g):
        return g * 3, g, None


@pytest.mark.parametrize("kind", ["register_hook", "register_prehook"])
def test_node_hook_docs_examples(device, kind):
    # PyTorch's documentation examples: a post-hook replaces grad_inputs, a pre-hook grad_outputs
    a = ttorch.tensor([0.0, 0.0, 0.0], device=device, requires_grad=True)
    b = a.clone()
    assert isinstance(b.grad_fn, ttorch.autograd.Node)
    if kind == "register_hook":
        handle = b.grad_fn.register_hook(lambda gI, gO: (gO[0] * 2,))
    else:
        handle = b.grad_fn.register_prehook(lambda gO: (gO[0] * 2,))
    b.sum().backward(retain_graph=True)
    assert a.grad.tolist() == [2.0, 2.0, 2.0]
    handle.remove()
    a.grad = None
    b.sum().backward(retain_graph=True)
    assert a.grad.tolist() == [1.0, 1.0, 1.0]


def test_node_hooks_on_a_custom_function(device):
    x, y = _leaf([1.0, 2.0], device), ttorch.ones(2, device=device)
    out = Scale.apply(x, y, 5.0)
    seen = {}

    def pre(grad_outputs):
        seen["pre"] = [g.tolist() for g in grad_outputs]
        return (grad_outputs[0] * 10,)

    def post(grad_inputs, grad_outputs):
        # one gradient per tensor input (None for y: it needs none), after the prehook
        seen["post"] = ([None if g is None else g.tolist() for g in grad_inputs], grad_outputs[0].tolist())

    out.grad_fn.register_prehook(pre)
    out.grad_fn.register_hook(post)
    out.backward(ttorch.tensor([1.0, 2.0], device=device))
    assert seen["pre"] == [[1.0, 2.0]]
    assert seen["post"] == ([[30.0, 60.0], None], [10.0, 20.0])
    assert x.grad.tolist() == [30.0, 60.0]


def test_post_hook_replaces_grad_inputs_and_checks_count(device):
    x = _leaf([1.0, 2.0], device)
    w = _leaf([3.0, 4.0], device)
    y = x * w
    y.grad_fn.register_hook(lambda gI, gO: (gI[0], gI[1] * 0))
    y.sum().backward(retain_graph=True)
    assert x.grad.tolist() == [3.0, 4.0] and w.grad.tolist() == [0.0, 0.0]
    y.grad_fn.register_hook(lambda gI, gO: (gI[0],))
    with pytest.raises(TypeError, match=r"has returned an incorrect number of values \(got 1, but expected 2\)"):
        y.sum().backward(retain_graph=True)
    z = x * 2
    z.grad_fn.register_prehook(lambda gO: gO[0])
    with pytest.raises(TypeError, match="expected tuple, but hook returned 'Tensor'"):
        z.sum().backward()


def test_hook_order_tensor_then_node_hooks(device):
    x = _leaf([1.0], device)
    y = x * 2
    order = []
    y.register_hook(lambda g: order.append(("tensor", g.item())) or g * 3)
    y.grad_fn.register_prehook(lambda gO: order.append(("pre", gO[0].item())))
    y.grad_fn.register_hook(lambda gI, gO: order.append(("post", gI[0].item(), gO[0].item())))
    y.retain_grad()
    y.backward(ttorch.ones(1, device=device))
    # PyTorch: tensor pre-hooks, then retain_grad, then the node's pre-hooks, its backward, its post-hooks
    assert order == [("tensor", 1.0), ("pre", 3.0), ("post", 6.0, 3.0)]
    assert y.grad.item() == 3.0 and x.grad.item() == 6.0


def test_accumulate_grad_node_hooks(device):
    x = _leaf([1.0, 2.0], device)
    y = x * 2
    acc = y.grad_fn.next_functions[0][0]
    assert acc.name() == "AccumulateGrad" and acc.variable is x
    order = []
    x.register_hook(lambda g: order.append("tensor") or g + 1)
    acc.register_prehook(lambda gO: order.append(("pre", gO[0].tolist())) or (gO[0] * 10,))
    x.register_post_accumulate_grad_hook(lambda t: order.append(("post_acc", t.grad.tolist())))
    acc.register_hook(lambda gI, gO: order.append(("post", gI, gO[0].tolist())))
    y.sum().backward()
    assert order == ["tensor", ("pre", [3.0, 3.0]), ("post_acc", [30.0, 30.0]), ("post", (), [30.0, 30.0])]
    assert x.grad.tolist() == [30.0, 30.0]


def test_node_hooks_run_in_autograd_grad(device):
    x = _leaf([1.0, 2.0], device)
    y = Scale.apply(x, x, 2.0)
    calls = []
    y.grad_fn.register_hook(lambda gI, gO: calls.append(len(gI)))
    g, = ttorch.autograd.grad(y.sum(), x)
    assert calls == [2] and g.tolist() == [4.0, 4.0]


def test_tensor_hooks_on_function_outputs_and_leaves(device):
    x = _leaf([1.0, 2.0], device)
    y = Scale.apply(x, x, 2.0)
    y.register_hook(lambda g: g * 0.5)              # replaces the gradient flowing into the node
    y.retain_grad()
    y.sum().backward()
    assert y.grad.tolist() == [0.5, 0.5] and x.grad.tolist() == [2.0, 2.0]
    x.grad = None
    h = x.register_hook(lambda g: g * 0 - 1)         # leaf hook: replaces what gets accumulated
    Scale.apply(x, x, 2.0).sum().backward()
    assert x.grad.tolist() == [-1.0, -1.0]
    h.remove()


def test_post_accumulate_grad_hook_as_optimizer_step(device):
    # the documented use: update a parameter as soon as its gradient is ready
    w = _leaf([1.0, -1.0], device)
    lr = 0.25

    def step(p):
        with ttorch.no_grad():
            p -= lr * p.grad
        p.grad = None

    w.register_post_accumulate_grad_hook(step)
    for _ in range(3):
        (w * w).sum().backward()                    # gradient 2w: w <- w * (1 - 2 lr)
    assert w.grad is None and w.tolist() == [0.125, -0.125]
    with pytest.raises(RuntimeError, match="post accumulate grad hooks cannot be registered on non-leaf tensors"):
        (w * 2).register_post_accumulate_grad_hook(step)


def test_tensor_hook_outlives_the_tensor():
    # PyTorch keeps a non-leaf's hooks on its grad_fn: they run though the tensor itself is gone
    x = ttorch.ones(3, requires_grad=True)
    seen = []

    def forward():
        h = x * 2
        h.register_hook(lambda g: seen.append(g.tolist()) or g * 10)
        h.retain_grad()
        return h.sum()
    forward().backward()
    assert seen == [[1.0, 1.0, 1.0]] and x.grad.tolist() == [20.0, 20.0, 20.0]
