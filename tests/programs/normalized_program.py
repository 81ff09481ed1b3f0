"""A PyTorch program: a classifier whose layers are reparametrized as GAN and vocoder code does it,
spectral normalization (the hook form and the parametrization) and weight normalization, trained with
Adam on two concentric rings; checks the learned layers' spectral norms, the state_dict keys,
a round trip, and removing the reparametrizations. tests/test_pytorch_programs.py runs it with
``import ttorch as torch``."""
import math
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import parametrizations, parametrize

device = sys.argv[1] if len(sys.argv) > 1 else "cpu"
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 200     # fewer for a quick smoke run
torch.manual_seed(0)


def rings(n):
    """n noisy points on two concentric circles: radius 0.5 (class 0) and 1.5 (class 1)."""
    t = torch.rand(n) * (2 * math.pi)
    y = torch.randint(0, 2, (n,))
    r = 0.5 + y.float()
    x = torch.stack([r * torch.cos(t), r * torch.sin(t)], 1)
    return (x + 0.1 * torch.randn(n, 2)).to(device), y.to(device)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.utils.spectral_norm(nn.Linear(2, 64))
        self.fc2 = parametrizations.spectral_norm(nn.Linear(64, 64))
        self.out = parametrizations.weight_norm(nn.Linear(64, 2))

    def forward(self, x):
        x = F.leaky_relu(self.fc1(x), 0.2)
        x = F.leaky_relu(self.fc2(x), 0.2)
        return self.out(x)


def top_singular_value(w, iters=200):
    """The largest singular value by power iteration (no torch.linalg needed), on the cpu."""
    w = w.cpu()
    v = torch.ones(w.shape[1])
    for _ in range(iters):
        v = F.normalize(w.t() @ (w @ v), dim=0)
    return (w @ v).norm().item()


model = Net().to(device)
opt = torch.optim.Adam(model.parameters(), lr=0.05 if steps >= 200 else 0.01)
x, y = rings(256 if steps >= 200 else 16)
first = None
for step in range(steps):
    loss = F.cross_entropy(model(x), y)
    first = loss.item() if first is None else first
    opt.zero_grad()
    loss.backward()
    opt.step()
assert loss.item() < (0.2 if steps >= 200 else first), (first, loss.item())
if steps >= 200:
    xt, yt = rings(256)
    with torch.no_grad():
        accuracy = (model(xt).argmax(1) == yt).float().mean().item()
    assert accuracy >= 0.97, accuracy

# the normalized layers' weights have spectral norm 1 once the power iteration (a step per training-mode
# forward) has caught up with the last update
with torch.no_grad():
    for _ in range(20 if steps >= 200 else 2):
        model(x)
for layer in (model.fc1, model.fc2):
    sigma = top_singular_value(layer.weight.detach())
    assert abs(sigma - 1) < (0.02 if steps >= 200 else 0.5), sigma
g = model.out.parametrizations.weight.original0
assert g.shape == (2, 1)
assert torch.allclose(model.out.weight.norm(dim=1, keepdim=True), g.abs(), atol=1e-5)

state = model.state_dict()
assert list(state) == ["fc1.bias", "fc1.weight_orig", "fc1.weight_u", "fc1.weight_v", "fc2.bias",
                       "fc2.parametrizations.weight.original", "fc2.parametrizations.weight.0._u",
                       "fc2.parametrizations.weight.0._v", "out.bias", "out.parametrizations.weight.original0",
                       "out.parametrizations.weight.original1"], list(state)
clone = Net().to(device)
clone.load_state_dict(state)
model.eval()
clone.eval()
with torch.no_grad():
    before = model(x)
    assert torch.allclose(clone(x), before, atol=1e-5)

# back to plain layers holding the normalized weights: the same function
nn.utils.remove_spectral_norm(model.fc1)
parametrize.remove_parametrizations(model.fc2, "weight")
parametrize.remove_parametrizations(model.out, "weight")
assert type(model.fc2) is nn.Linear and not parametrize.is_parametrized(model.out)
assert [n for n, _ in model.named_parameters()] == ["fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight",
                                                    "out.bias", "out.weight"]
with torch.no_grad():
    assert torch.allclose(model(x), before, atol=1e-5)
print("ok", device)
