"""A PyTorch program: Gaussian-process regression as GP research code writes it (Cholesky factor, triangular
and Cholesky solves, log-determinants), its kernel's hyperparameters fitted by Adam on the negative log
marginal likelihood, then the posterior mean and variance on test points and consistency checks between
solve, inv, det, slogdet and logdet. tests/test_pytorch_programs.py runs it with ``import ttorch as torch``."""
import math
import sys

import torch

device = sys.argv[1] if len(sys.argv) > 1 else "cpu"
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 60      # fewer for a quick smoke run
torch.manual_seed(0)
dt = torch.float64

n = 30
x = torch.linspace(-3, 3, n, dtype=dt, device=device).unsqueeze(1)           # (n, 1)
y = torch.sin(2 * x).squeeze(1) + 0.05 * torch.randn(n, dtype=dt, device=device)


def rbf(a, b, log_len, log_scale):
    d2 = (a.unsqueeze(1) - b.unsqueeze(0)).pow(2).sum(-1)                   # (n, m)
    return torch.exp(2 * log_scale) * torch.exp(-0.5 * d2 / torch.exp(2 * log_len))


params = {k: torch.tensor(v, dtype=dt, device=device, requires_grad=True)
          for k, v in (("log_len", 0.5), ("log_scale", 0.0), ("log_noise", -1.0))}


def nll():
    k = rbf(x, x, params["log_len"], params["log_scale"])
    k = k + torch.exp(2 * params["log_noise"]) * torch.eye(n, dtype=dt, device=device)
    low = torch.linalg.cholesky(k)
    alpha = torch.cholesky_solve(y.unsqueeze(1), low).squeeze(1)
    return 0.5 * (y @ alpha) + torch.log(torch.diagonal(low)).sum() + 0.5 * n * math.log(2 * math.pi), k, low


opt = torch.optim.Adam(params.values(), lr=0.05)
first = None
for step in range(steps):
    loss, _, _ = nll()
    first = loss.item() if first is None else first
    opt.zero_grad()
    loss.backward()
    opt.step()
loss, k, low = nll()
assert loss.item() < first, (first, loss.item())
if steps >= 60:
    assert loss.item() < -15, loss.item()                      # the noise level found: about 0.05
    assert 0.02 < torch.exp(params["log_noise"]).item() < 0.15, params["log_noise"].item()

# the posterior on test points: mean through two triangular solves, variance through one
with torch.no_grad():
    xs = torch.linspace(-2.5, 2.5, 7, dtype=dt, device=device).unsqueeze(1)
    ks = rbf(xs, x, params["log_len"], params["log_scale"])                  # (7, n)
    v = torch.linalg.solve_triangular(low, ks.T, upper=False)                # L^-1 K(x, xs)
    mean = v.T @ torch.linalg.solve_triangular(low, y.unsqueeze(1), upper=False).squeeze(1)
    var = torch.exp(2 * params["log_scale"]) - (v * v).sum(0)
    if steps >= 60:
        assert (mean - torch.sin(2 * xs).squeeze(1)).abs().max().item() < 0.1
    assert (var > -1e-9).all()

    # the same quantities several ways
    logdet = 2 * torch.log(torch.diagonal(low)).sum()
    sign, logabs = torch.linalg.slogdet(k)
    assert sign.item() == 1.0 and abs(logabs.item() - logdet.item()) < 1e-8
    assert abs(torch.logdet(k).item() - logdet.item()) < 1e-8
    alpha = torch.linalg.solve(k, y)
    assert torch.allclose(alpha, torch.cholesky_solve(y.unsqueeze(1), low).squeeze(1), atol=1e-8)
    assert torch.allclose(torch.linalg.inv(k) @ y, alpha, atol=1e-6)
    small = k[:4, :4]
    assert abs(torch.linalg.det(small).item() - math.exp(torch.logdet(small).item())) < 1e-10
    info = torch.linalg.cholesky_ex(-k).info
    assert info.item() == 1                                     # not positive-definite from the first minor
print("ok", device)
