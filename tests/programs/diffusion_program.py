"""A diffusion-style denoiser in plain PyTorch: a two-level UNet (GroupNorm, SiLU, a strided Conv2d
down, ConvTranspose2d and nn.Upsample up, skip concatenations) conditioned on sinusoidal timestep
embeddings, trained to predict the noise added by a cosine noise schedule; an EMA of the weights
through ``torch.optim.swa_utils.AveragedModel`` checked against a manual ``lerp_`` EMA, and
``torch.manual_seed`` / ``torch.Generator`` reproducibility checks. tests/test_pytorch_programs.py
runs it with ``import ttorch as torch``; the first argument is the device, the second a number of steps."""
import copy
import math
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

device = sys.argv[1] if len(sys.argv) > 1 else "cpu"
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 40
quick = steps < 40
torch.manual_seed(0)
T = 100


def timestep_embedding(t, dim):
    """Sinusoidal embeddings of integer timesteps t: (B,) -> (B, dim), as in DDPM."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]  # (B, half)
    return torch.cat([torch.sin(args), torch.cos(args)], dim=-1)


class ResBlock(nn.Module):
    def __init__(self, cin, cout, tdim):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(4, cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.temb = nn.Linear(tdim, cout)
        self.norm2, self.conv2 = nn.GroupNorm(4, cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.temb(temb)[:, :, None, None]  # broadcast over (H, W)
        h = self.conv2(F.silu(self.norm2(h)))
        return h + self.skip(x)


class UNet(nn.Module):
    def __init__(self, c=8, tdim=16):
        super().__init__()
        self.tdim = tdim
        self.time_mlp = nn.Sequential(nn.Linear(tdim, tdim), nn.SiLU(), nn.Linear(tdim, tdim))
        self.inp = nn.Conv2d(1, c, 3, padding=1)
        self.down1 = ResBlock(c, c, tdim)
        self.pool = nn.Conv2d(c, 2 * c, 3, stride=2, padding=1)             # 8x8 -> 4x4
        self.mid = ResBlock(2 * c, 2 * c, tdim)
        self.up_t = nn.ConvTranspose2d(2 * c, c, 2, stride=2)               # 4x4 -> 8x8
        self.up_i = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(2 * c, c, 1))
        self.up1 = ResBlock(2 * c, c, tdim)                                  # after the skip concatenation
        self.out = nn.Sequential(nn.GroupNorm(4, c), nn.SiLU(), nn.Conv2d(c, 1, 3, padding=1))

    def forward(self, x, t):
        temb = self.time_mlp(timestep_embedding(t, self.tdim))
        h1 = self.down1(self.inp(x), temb)                                   # (B, c, 8, 8)
        h2 = self.mid(self.pool(h1), temb)                                   # (B, 2c, 4, 4)
        up = torch.cat([self.up_t(h2) + self.up_i(h2), h1], dim=1)                # skip connection
        return self.out(self.up1(up, temb))                                  # (B, 1, 8, 8)


# The cosine schedule: alpha_bar falls from ~1 to ~0.
steps_t = torch.arange(T + 1, dtype=torch.float64) / T
alpha_bar = (torch.cos((steps_t + 0.008) / 1.008 * math.pi / 2) ** 2)
alpha_bar = (alpha_bar / alpha_bar[0])[1:].float().clamp(min=1e-4).to(device)
assert alpha_bar[0] > 0.99 and alpha_bar[-1] < 1e-3 and (alpha_bar[1:] <= alpha_bar[:-1]).all()

emb = timestep_embedding(torch.tensor([0, 5]), 16)
assert emb.shape == (2, 16) and torch.allclose(emb[0], torch.cat([torch.zeros(8), torch.ones(8)]))
assert abs(emb[1, 0].item() - math.sin(5.0)) < 1e-6


def data(n, generator=None):
    """Images of a bright disk of random radius: a distribution with structure to learn."""
    yy, xx = torch.meshgrid(torch.arange(8.0), torch.arange(8.0), indexing="ij")
    r = torch.rand(n, 1, 1, generator=generator) * 2 + 1.5
    return ((((yy - 3.5) ** 2 + (xx - 3.5) ** 2).sqrt() < r).float() * 2 - 1).unsqueeze(1)


def loss_fn(model, x0, generator=None):
    t = torch.randint(0, T, (x0.shape[0],), device=device, generator=generator)
    noise = torch.randn(x0.shape, device=device, generator=generator)
    a = alpha_bar[t].view(-1, 1, 1, 1)
    xt = a.sqrt() * x0 + (1 - a).sqrt() * noise
    return F.mse_loss(model(xt, t), noise)


# Reproducibility: the same seed, the same model and the same noise; randn_like follows the global seed.
torch.manual_seed(3)
a = UNet()
na = torch.randn_like(torch.empty(2, 3))
torch.manual_seed(3)
b = UNet()
nb = torch.randn_like(torch.empty(2, 3))
assert torch.equal(na, nb) and all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
assert torch.equal(data(4, g1), data(4, g2)) and not torch.equal(data(4, g1), data(4, torch.Generator()))

torch.manual_seed(0)
model = UNet().to(device)
x = torch.randn(2, 1, 8, 8, device=device)
assert model(x, torch.tensor([1, 50], device=device)).shape == x.shape
ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.9))
manual_ema = copy.deepcopy(model)
optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
x0 = data(2 if quick else 32).to(device)
gen = torch.Generator(device=device).manual_seed(1)
repeats = 1 if quick else 4    # the simulated GPU is slow
with torch.no_grad():
    start = sum(loss_fn(model, x0, gen).item() for _ in range(repeats)) / repeats
losses = []
for step in range(steps):
    # (a quick run fits the one batch of noise it is evaluated on; a full run draws fresh noise)
    loss = loss_fn(model, x0, torch.Generator(device=device).manual_seed(1) if quick else None)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    ema.update_parameters(model)
    with torch.no_grad():
        for pe, p in zip(manual_ema.parameters(), model.parameters()):
            pe.lerp_(p, 0.1 if step else 1.0)    # AveragedModel copies the weights on its first update
    losses.append(loss.item())
assert int(ema.n_averaged) == steps
for pe, pm in zip(ema.module.parameters(), manual_ema.parameters()):
    assert torch.allclose(pe, pm, atol=1e-6)
gen = torch.Generator(device=device).manual_seed(1)
with torch.no_grad():
    end = sum(loss_fn(model, x0, gen).item() for _ in range(repeats)) / repeats
    t = torch.tensor([1, 50], device=device)
    assert torch.allclose(ema(x, t), manual_ema(x, t), atol=1e-5)
print(f"loss {start:.3f} -> {end:.3f}")
assert end < start, (start, end)
if not quick:
    assert end < 0.5 * start, (start, end)
print("ok", device)
