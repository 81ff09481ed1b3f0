"""A PyTorch training program: an MLP classifier trained from a DataLoader with Adam under
OneCycleLR, then a checkpoint (model, optimizer and StepLR state dicts) written with torch.save
and read back with torch.load; the reloaded model must give identical outputs and the reloaded
optimizer and scheduler must continue training exactly as the originals do.
tests/test_pytorch_programs.py runs it with ``import ttorch as torch``; the first argument is the
device, the second a number of training steps (few on the slow simulated GPU)."""
import os
import sys
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.optim.lr_scheduler import OneCycleLR, StepLR
from torch.utils.data import DataLoader, TensorDataset

device = sys.argv[1] if len(sys.argv) > 1 else "cpu"
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 120     # fewer for a quick smoke run
quick = steps < 120
torch.manual_seed(0)

# Three classes, each the nearest of three fixed directions: an MLP learns it quickly.
x = torch.randn(256, 4)
y = (x @ torch.randn(4, 3)).argmax(dim=1)
dataset = TensorDataset(x, y)


def loader(seed):
    return DataLoader(dataset, batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(seed))


# A seeded generator fixes the order of the batches; an epoch visits every sample once.
def order(seed):
    ids = DataLoader(TensorDataset(torch.arange(256)), batch_size=32, shuffle=True,
                     generator=torch.Generator().manual_seed(seed))
    return [batch.tolist() for (batch,) in ids]


assert order(1) == order(1) != order(2)
assert len(order(1)) == 8 and sorted(sum(order(1), [])) == list(range(256))
xb, yb = next(iter(loader(1)))
assert torch.equal(xb, x[order(1)[0]]) and torch.equal(yb, y[order(1)[0]])


def make_model():
    return nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 3)).to(device)


def full_loss(model):
    with torch.no_grad():
        return F.cross_entropy(model(x.to(device)), y.to(device)).item()


def train_step(model, optimizer, xb, yb):
    loss = F.cross_entropy(model(xb.to(device)), yb.to(device))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


# Phase 1: Adam under a one-cycle schedule (it cycles Adam's beta1 as momentum).
model = make_model()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
scheduler = OneCycleLR(optimizer, max_lr=0.05, total_steps=steps)
if not quick:                      # (with 3 steps the warmup phase ends before step 0, as in PyTorch)
    assert abs(scheduler.get_last_lr()[0] - 0.05 / 25) < 1e-12               # starts at max_lr / div_factor
    assert optimizer.param_groups[0]["betas"][0] == 0.95                      # and at max_momentum
before, lrs, done = full_loss(model), [], 0
while done < steps:
    for xb, yb in loader(done):
        if done == steps:
            break
        train_step(model, optimizer, xb, yb)
        scheduler.step()
        lrs.append(scheduler.get_last_lr()[0])
        done += 1
after = full_loss(model)
assert after < (0.15 if not quick else before), (before, after)
if not quick:
    assert abs(max(lrs) - 0.05) < 1e-3, max(lrs)                               # up to max_lr,
    assert abs(lrs[-2] - 0.05 / 25 / 1e4) < 1e-12, lrs[-2]                    # down to the final lr
    assert optimizer.param_groups[0]["betas"][0] > 0.94                       # momentum cycled back up

# Phase 2: StepLR, then a checkpoint of everything, written and read back from disk.
for group in optimizer.param_groups:
    group["lr"] = 5e-3                                                        # users set group["lr"] directly
scheduler = StepLR(optimizer, step_size=2, gamma=0.5)
batches = [b for _, b in zip(range(5), loader(7))]
for xb, yb in batches[:2]:
    train_step(model, optimizer, xb, yb)
    scheduler.step()
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "checkpoint.pt")
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "step": 2}, path)
    checkpoint = torch.load(path, map_location="cpu")
assert checkpoint["step"] == 2 and list(checkpoint["model"]) == ["0.weight", "0.bias", "2.weight", "2.bias"]
assert sorted(checkpoint["optimizer"]["state"][0]) == ["exp_avg", "exp_avg_sq", "step"]

clone = make_model()
clone.load_state_dict(checkpoint["model"])
with torch.no_grad():
    assert torch.equal(clone(x.to(device)), model(x.to(device)))
clone_optimizer = torch.optim.Adam(clone.parameters(), lr=1.0)                 # lr comes from the checkpoint
clone_optimizer.load_state_dict(checkpoint["optimizer"])
clone_scheduler = StepLR(clone_optimizer, step_size=2, gamma=0.5)
clone_scheduler.load_state_dict(checkpoint["scheduler"])
assert clone_optimizer.param_groups[0]["lr"] == optimizer.param_groups[0]["lr"] == 2.5e-3

# Both continue on the same batches: the same learning rates (StepLR's closed form) and weights.
for k, (xb, yb) in enumerate(batches[2:], start=3):
    train_step(model, optimizer, xb, yb)
    train_step(clone, clone_optimizer, xb, yb)
    scheduler.step()
    clone_scheduler.step()
    assert scheduler.get_last_lr() == clone_scheduler.get_last_lr() == [5e-3 * 0.5 ** (k // 2)]
    for p, q in zip(model.parameters(), clone.parameters()):
        assert torch.equal(p, q)
print("ok", device)
