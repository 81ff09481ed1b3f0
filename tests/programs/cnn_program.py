"""A PyTorch program: a small CNN with BatchNorm and pooling learns to tell horizontal from
vertical bars, trained with a hand-written SGD-with-momentum loop; eval mode and state_dict
round trip at the end. tests/test_pytorch_programs.py runs it with ``import ttorch as torch``."""
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

device = sys.argv[1] if len(sys.argv) > 1 else "cpu"
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 40     # fewer for a quick smoke run
batch = 32 if steps >= 40 else 4
torch.manual_seed(0)


def bars(n):
    """n 1x8x8 images with a bright horizontal (class 0) or vertical (class 1) bar, plus noise."""
    x = torch.randn(n, 1, 8, 8) * 0.3
    y = torch.randint(0, 2, (n,))
    pos = torch.randint(1, 7, (n,))
    for i in range(n):
        if y[i] == 0:
            x[i, 0, pos[i], :] += 2.0
        else:
            x[i, 0, :, pos[i]] += 2.0
    return x.to(device), y.to(device)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 8, 3, padding=1, bias=False)
        self.pool = nn.MaxPool2d(2)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(8 * 2 * 2, 2))

    def forward(self, x):
        x = self.pool(F.relu(self.bn1(self.conv1(x))))      # (N, 4, 4, 4)
        x = F.adaptive_avg_pool2d(F.relu(self.conv2(x)), 2)  # (N, 8, 2, 2)
        return self.head(x)


model = Net().to(device)
x, y = bars(batch)
velocity = {name: torch.zeros_like(p) for name, p in model.named_parameters()}
first = None
for step in range(steps):
    loss = F.cross_entropy(model(x), y)
    first = loss.item() if first is None else first
    model.zero_grad()
    loss.backward()
    with torch.no_grad():
        for name, p in model.named_parameters():
            velocity[name].mul_(0.9).add_(p.grad)
            p.sub_(0.1 * velocity[name])
assert loss.item() < (0.1 if steps >= 40 else first), (first, loss.item())
assert model.bn1.num_batches_tracked.item() == steps

model.eval()
xt, yt = bars(batch)
with torch.no_grad():
    accuracy = (model(xt).argmax(1) == yt).float().mean().item()
assert accuracy >= 0.9 or steps < 40, accuracy

state = model.state_dict()
assert list(state) == ["conv1.weight", "conv1.bias", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
                       "bn1.num_batches_tracked", "conv2.weight", "head.1.weight", "head.1.bias"]
clone = Net().to(device)
clone.load_state_dict(state)
clone.eval()
with torch.no_grad():
    assert torch.allclose(clone(xt), model(xt))
print("ok", device)
