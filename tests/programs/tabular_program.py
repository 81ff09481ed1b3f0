"""A tabular binary classifier in plain PyTorch: ``nn.Embedding`` tables for categorical columns
concatenated with standardized numeric columns, ``BatchNorm1d`` (its running statistics and the
train/eval difference checked by hand), dropout, and an imbalanced target trained with
``BCEWithLogitsLoss(pos_weight=...)`` (checked against its formula), then evaluated with a
threshold under ``model.eval()``. tests/test_pytorch_programs.py runs it with
``import ttorch as torch``; the first argument is the device, the second a number of steps."""
import math
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

device = sys.argv[1] if len(sys.argv) > 1 else "cpu"
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 100
quick = steps < 100
torch.manual_seed(0)

# 512 rows: two categorical columns (7 and 4 levels) and three numeric ones; about 20% positives.
n = 512
cats = torch.stack([torch.randint(0, 7, (n,)), torch.randint(0, 4, (n,))], dim=1)
nums = torch.randn(n, 3) * torch.tensor([1.0, 5.0, 0.1]) + torch.tensor([0.0, 10.0, -1.0])
score = (cats[:, 0] == 3).float() * 2 + (cats[:, 1] == 1).float() * 1.5 + (nums[:, 0] > 0.8).float() * 2
target = (score >= 2).float()
assert 0.1 < target.mean().item() < 0.4
mean, std = nums.mean(0), nums.std(0)
nums = (nums - mean) / std
assert torch.allclose(nums.mean(0), torch.zeros(3), atol=1e-5) and torch.allclose(nums.std(0), torch.ones(3))
cats, nums, target = cats.to(device), nums.to(device), target.to(device)


class TabularNet(nn.Module):
    def __init__(self, cardinalities=(7, 4), emb_dim=3, n_num=3, hidden=16):
        super().__init__()
        self.embeddings = nn.ModuleList(nn.Embedding(c, emb_dim) for c in cardinalities)
        self.bn = nn.BatchNorm1d(n_num)
        self.mlp = nn.Sequential(nn.Linear(emb_dim * len(cardinalities) + n_num, hidden), nn.BatchNorm1d(hidden),
                                 nn.ReLU(), nn.Dropout(0.1), nn.Linear(hidden, 1))

    def forward(self, cats, nums):
        embedded = [emb(cats[:, i]) for i, emb in enumerate(self.embeddings)]
        return self.mlp(torch.cat(embedded + [self.bn(nums)], dim=1)).squeeze(1)  # (B,) logits


# BatchNorm1d by hand: training normalizes with the batch's biased variance and updates the running
# statistics with the unbiased one (momentum 0.1); eval uses the running statistics.
bn = nn.BatchNorm1d(3).to(device)
batch = nums[:8] * 2 + 1
out = bn(batch)
assert torch.allclose(out, (batch - batch.mean(0)) / (batch.var(0, unbiased=False) + bn.eps).sqrt(), atol=1e-5)
assert torch.allclose(bn.running_mean, 0.1 * batch.mean(0), atol=1e-6)
assert torch.allclose(bn.running_var, 0.9 + 0.1 * batch.var(0, unbiased=True), atol=1e-6)
assert bn.num_batches_tracked.item() == 1
bn.eval()
assert torch.allclose(bn(batch), (batch - bn.running_mean) / (bn.running_var + bn.eps).sqrt(), atol=1e-5)

# BCEWithLogitsLoss with pos_weight: -[w * y * log s(x) + (1 - y) * log(1 - s(x))], averaged.
logits, y = torch.tensor([1.5, -0.5, 0.2]), torch.tensor([1.0, 0.0, 1.0])
w = torch.tensor(3.0)
expected = -(w * y * F.logsigmoid(logits) + (1 - y) * F.logsigmoid(-logits)).mean()
assert torch.allclose(nn.BCEWithLogitsLoss(pos_weight=w)(logits, y), expected, atol=1e-6)

model = TabularNet().to(device)
pos_weight = ((1 - target).sum() / target.sum()).reshape(1)                    # negatives per positive
criterion = nn.BCEWithLogitsLoss(pos_weight=pos_weight)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
losses = []
generator = torch.Generator().manual_seed(0)
for step in range(steps):
    idx = torch.randint(0, n, (16 if quick else 64,), generator=generator).to(device)
    loss = criterion(model(cats[idx], nums[idx]), target[idx])
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
print(f"loss {losses[0]:.3f} -> {losses[-1]:.3f}")
assert all(math.isfinite(v) for v in losses)
model.eval()
with torch.no_grad():
    first, second = model(cats[:32], nums[:32]), model(cats[:32], nums[:32])
    assert torch.equal(first, second)                                           # eval: no dropout, no batch stats
    assert torch.allclose(model(cats[:1], nums[:1]), first[:1], atol=1e-5)      # a batch of one works in eval
    predicted = model(cats, nums) > 0
recall = (predicted & (target == 1)).sum().item() / target.sum().item()
accuracy = (predicted == (target == 1)).float().mean().item()
if not quick:
    assert sum(losses[-10:]) / 10 < 0.3, losses[-10:]
    assert recall > 0.9 and accuracy > 0.9, (recall, accuracy)
print("ok", device)
