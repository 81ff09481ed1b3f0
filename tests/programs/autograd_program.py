"""A PyTorch program exercising autograd: higher derivatives, a custom Function checked by
gradcheck, gradient accumulation, tensor hooks and the retain_graph error. It is plain PyTorch
code; tests/test_pytorch_programs.py runs it with ``import torch`` replaced by
``import ttorch as torch``, on every device ttorch has."""
import math
import sys

import torch

device = sys.argv[1] if len(sys.argv) > 1 else "cpu"
f64 = dict(dtype=torch.float64, device=device)

# Third derivative of f(x) = x**4 + sin(x) through autograd.grad(create_graph=True): 24x - cos x.
x = torch.tensor([0.5, -1.2, 2.0], requires_grad=True, **f64)
y = (x ** 4 + torch.sin(x)).sum()
g1, = torch.autograd.grad(y, x, create_graph=True)
g2, = torch.autograd.grad(g1.sum(), x, create_graph=True)
g3, = torch.autograd.grad(g2.sum(), x)
assert torch.allclose(g3, torch.tensor([24 * v - math.cos(v) for v in (0.5, -1.2, 2.0)], **f64)), g3
assert g1.requires_grad and not g3.requires_grad


# A custom Function with a non-tensor argument, checked by gradcheck and gradgradcheck.
class ScaledCube(torch.autograd.Function):
    @staticmethod
    def forward(ctx, inp, scale):
        ctx.save_for_backward(inp)
        ctx.scale = scale
        return inp ** 3 * scale

    @staticmethod
    def backward(ctx, grad_out):
        inp, = ctx.saved_tensors
        return grad_out * 3 * inp ** 2 * ctx.scale, None


torch.manual_seed(0)
a = torch.randn(3, 2, requires_grad=True, **f64)
assert torch.autograd.gradcheck(lambda t: ScaledCube.apply(t, 0.5), (a,))
assert torch.autograd.gradgradcheck(lambda t: ScaledCube.apply(t, 0.5), (a,))
out = ScaledCube.apply(a, 2.0)
assert type(out.grad_fn).__name__ == "ScaledCubeBackward"
out.sum().backward()
assert torch.allclose(a.grad, 6 * a.detach() ** 2)

# Gradient accumulation over two backward calls, then zeroing.
w = torch.tensor([1.0, 2.0, 3.0], requires_grad=True, device=device)
(w * 2).sum().backward()
(w ** 2).sum().backward()
assert torch.equal(w.grad, torch.tensor([4.0, 6.0, 8.0], device=device))  # 2 + 2w
w.grad = None
(w * w * w).sum().backward()
assert torch.equal(w.grad, torch.tensor([3.0, 12.0, 27.0], device=device))

# Tensor hooks: one observes and replaces a leaf's gradient, one edits an intermediate's.
seen = []
v = torch.tensor([1.0, -1.0], requires_grad=True, device=device)
handle = v.register_hook(lambda g: seen.append(g.clone()) or g * 10)
mid = v * 2
mid.retain_grad()
mid.register_hook(lambda g: g + 1)
(mid * 3).sum().backward()
assert torch.equal(seen[0], torch.tensor([8.0, 8.0], device=device))       # (3 + 1) * 2
assert torch.equal(v.grad, torch.tensor([80.0, 80.0], device=device))
assert torch.equal(mid.grad, torch.tensor([4.0, 4.0], device=device))      # retained after hooks
handle.remove()
v.grad = None
(v * 3).sum().backward()
assert torch.equal(v.grad, torch.tensor([3.0, 3.0], device=device)) and len(seen) == 1

# A freed graph can't be walked twice; retain_graph keeps it.
z = (torch.exp(w) * w).sum()
z.backward(retain_graph=True)
z.backward()
try:
    z.backward()
except RuntimeError as e:
    assert "Trying to backward through the graph a second time" in str(e)
else:
    raise AssertionError("second backward through a freed graph did not raise")
print("ok", device)
