"""PyTorch's model tooling on one small MLP, in plain PyTorch: ``torch.export.export`` and its
``module()`` equal to eager, ``torch.onnx.export`` to a BytesIO, ``FlopCounterMode`` totals for a
Linear (2*B*in*out forward, three times that with backward), ``torch.compile`` equal to eager with
equal gradients, activation checkpointing with ``torch.utils.checkpoint`` giving the same gradients,
and per-sample gradients with ``torch.func.functional_call`` + ``vmap(grad(...))`` checked against a
loop of ordinary backward passes. tests/test_pytorch_programs.py runs it with ``import ttorch as torch``;
the first argument is the device."""
import io
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.func import functional_call, grad, vmap
from torch.utils.checkpoint import checkpoint
from torch.utils.flop_counter import FlopCounterMode

device = sys.argv[1] if len(sys.argv) > 1 else "cpu"
torch.manual_seed(0)
B, IN, HID, OUT = 4, 6, 8, 3


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(IN, HID), nn.Linear(HID, OUT)

    def forward(self, x):
        return self.fc2(torch.tanh(self.fc1(x)))


model = MLP().to(device)
x = torch.randn(B, IN, device=device)
y = torch.randint(0, OUT, (B,), device=device)
with torch.no_grad():
    eager = model(x)

# torch.export: the exported program's module computes what the eager model computes.
exported = torch.export.export(model, (x,))
with torch.no_grad():
    assert torch.allclose(exported.module()(x), eager, atol=1e-6)
    x2 = torch.randn(B, IN, device=device)
    assert torch.allclose(exported.module()(x2), model(x2), atol=1e-6)

# torch.onnx: a serialized model in memory.
buffer = io.BytesIO()
torch.onnx.export(model.cpu(), (x.cpu(),), buffer, input_names=["x"], output_names=["logits"], dynamo=False)
model.to(device)
assert buffer.getbuffer().nbytes > 0

# FlopCounterMode: a Linear costs 2*B*in*out flops; its backward twice that (grad input and grad weight).
linear = nn.Linear(IN, OUT).to(device)
with FlopCounterMode(display=False) as counter:
    linear(x)
assert counter.get_total_flops() == 2 * B * IN * OUT, counter.get_total_flops()
with FlopCounterMode(display=False) as counter:
    linear(x).sum().backward()                                  # x needs no gradient: weight's only
assert counter.get_total_flops() == 2 * 2 * B * IN * OUT, counter.get_total_flops()
with FlopCounterMode(display=False) as counter:
    linear(x.clone().requires_grad_()).sum().backward()
assert counter.get_total_flops() == 3 * 2 * B * IN * OUT, counter.get_total_flops()

# torch.compile: same outputs and gradients as eager.
compiled = torch.compile(model)
model.zero_grad()
F.cross_entropy(model(x), y).backward()
eager_grads = [p.grad.clone() for p in model.parameters()]
model.zero_grad()
out = compiled(x)
assert torch.allclose(out, eager, atol=1e-6)
F.cross_entropy(out, y).backward()
for p, g in zip(model.parameters(), eager_grads):
    assert torch.allclose(p.grad, g, atol=1e-6)

# Activation checkpointing: recomputing fc1 in the backward gives the same gradients.
model.zero_grad()
h = checkpoint(lambda t: torch.tanh(model.fc1(t)), x, use_reentrant=False)
F.cross_entropy(model.fc2(h), y).backward()
for p, g in zip(model.parameters(), eager_grads):
    assert torch.allclose(p.grad, g, atol=1e-6)

# Per-sample gradients: vmap over grad of a functional call, against B separate backward passes.
params = {name: p.detach() for name, p in model.named_parameters()}


def sample_loss(params, xi, yi):
    logits = functional_call(model, params, (xi.unsqueeze(0),))
    return F.cross_entropy(logits, yi.unsqueeze(0))


per_sample = vmap(grad(sample_loss), in_dims=(None, 0, 0))(params, x, y)
assert set(per_sample) == set(params) and per_sample["fc1.weight"].shape == (B, HID, IN)
for i in range(B):
    model.zero_grad()
    F.cross_entropy(model(x[i:i + 1]), y[i:i + 1]).backward()
    for name, p in model.named_parameters():
        assert torch.allclose(per_sample[name][i], p.grad, atol=1e-6), name
# the mean of the per-sample gradients is the batch gradient
for (name, p), g in zip(model.named_parameters(), eager_grads):
    assert torch.allclose(per_sample[name].mean(0), g, atol=1e-6)
print("ok", device)
