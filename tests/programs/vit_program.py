"""A tiny ViT in plain PyTorch: a Conv2d patch embedding, a learned class token and position
embedding, an ``nn.TransformerEncoder`` (batch_first, pre-norm), AdamW with a no-weight-decay
parameter group for biases and norms, a linear-warmup cosine schedule through LambdaLR, gradient
clipping, label smoothing and bfloat16 autocast on cpu; batches come from a Dataset through a
DataLoader with a custom collate_fn. It learns which quadrant of an image holds a bright square.
tests/test_pytorch_programs.py runs it with ``import ttorch as torch``; the first argument is the
device, the second a number of steps (few on the slow simulated GPU)."""
import math
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

device = sys.argv[1] if len(sys.argv) > 1 else "cpu"
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 120
quick = steps < 120
torch.manual_seed(0)


class Quadrants(Dataset):
    """8x8 one-channel images with a bright 2x2 square in one of four quadrants (the label)."""

    def __init__(self, n):
        self.images = torch.randn(n, 1, 8, 8) * 0.2
        self.labels = torch.randint(0, 4, (n,))
        for i in range(n):
            r, c = divmod(int(self.labels[i]), 2)
            self.images[i, 0, 4 * r + 1:4 * r + 3, 4 * c + 1:4 * c + 3] += 2.0

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return {"image": self.images[i], "label": self.labels[i]}


def collate(samples):
    """Dicts of samples -> a batch tuple, as a collate_fn must return it."""
    return torch.stack([s["image"] for s in samples]), torch.tensor([int(s["label"]) for s in samples])


class ViT(nn.Module):
    def __init__(self, dim=16, depth=2, heads=2, patch=4, classes=4):
        super().__init__()
        self.patch_embed = nn.Conv2d(1, dim, kernel_size=patch, stride=patch)
        n_patches = (8 // patch) ** 2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, n_patches + 1, dim) * 0.02)
        layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=2 * dim, dropout=0.0,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)  # (B, N, D)
        cls = self.cls_token.expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], dim=1) + self.pos_embed  # (B, N+1, D)
        x = self.encoder(x)
        return self.head(self.norm(x[:, 0]))


data = Quadrants(128 if not quick else 8)
loader = DataLoader(data, batch_size=16 if not quick else 4, shuffle=True, collate_fn=collate,
                    generator=torch.Generator().manual_seed(0), drop_last=True)
images, labels = next(iter(loader))
assert images.shape == (images.shape[0], 1, 8, 8) and labels.dtype == torch.int64

model = ViT().to(device)
decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embed" not in n and "token" not in n]
no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "embed" not in n and "token" not in n)]
assert len(decay) + len(no_decay) == len(list(model.parameters()))
optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05},
                               {"params": no_decay, "weight_decay": 0.0}], lr=1e-2, betas=(0.9, 0.98))
assert optimizer.param_groups[1]["betas"] == (0.9, 0.98) and optimizer.param_groups[1]["weight_decay"] == 0.0
warmup = max(1, steps // 10)


def lr_lambda(step):
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))


scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)
assert all(abs(lr - 1e-2 / warmup) < 1e-12 for lr in scheduler.get_last_lr())

# Label smoothing: a uniform prediction costs log(classes) whatever the smoothing.
uniform = torch.zeros(2, 4)
assert abs(F.cross_entropy(uniform, torch.tensor([0, 3]), label_smoothing=0.1).item() - math.log(4)) < 1e-6
criterion = nn.CrossEntropyLoss(label_smoothing=0.1)

losses, done, norms = [], 0, []
while done < steps:
    for images, labels in loader:
        if done == steps:
            break
        images, labels = images.to(device), labels.to(device)
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=device == "cpu"):
            logits = model(images)                                     # matmuls and convs in bfloat16
            loss = criterion(logits.float(), labels)
        assert logits.dtype == (torch.bfloat16 if device == "cpu" else torch.float32)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norms.append(float(nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)))
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
        done += 1
after = math.sqrt(sum(p.grad.pow(2).sum().item() for p in model.parameters()))
assert after <= 1.0 + 1e-4 and (norms[-1] > 1.0 or abs(after - norms[-1]) < 1e-4), (after, norms[-1])
assert all(math.isfinite(n) for n in norms)
if not quick:
    assert abs(scheduler.get_last_lr()[0]) < 1e-6                      # cosine decays to zero
    assert sum(losses[-5:]) / 5 < 0.8, losses
    with torch.no_grad():
        model.eval()
        accuracy = (model(data.images.to(device)).argmax(1).cpu() == data.labels).float().mean().item()
    assert accuracy > 0.85, accuracy
else:
    assert all(math.isfinite(v) for v in losses)
print(f"loss {losses[0]:.3f} -> {losses[-1]:.3f}")
print("ok", device)
