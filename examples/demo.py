"""ttorch demo: fit y = 3x0 - 2x1 + 0.5 by gradient descent, with autograd, on cpu and on cuda.

On a machine with no NVIDIA GPU the cuda device is Triton's interpreter (the kernels run in
Python over host memory), so the same GPU code path runs everywhere.
"""
import os
import shutil

os.environ.setdefault("TRITON_INTERPRET", "0" if shutil.which("nvidia-smi") else "1")

import ttorch  # noqa: E402


def fit(device, steps=150, lr=0.5):
    ttorch.manual_seed(0)
    t = ttorch.linspace(-1, 1, 32, device=device)
    x = ttorch.stack([t, t * t - 0.3], dim=1)   # (32, 2)
    y = (x * ttorch.tensor([3.0, -2.0], device=device)).sum(dim=1) + 0.5
    w = ttorch.zeros(2, device=device, requires_grad=True)
    b = ttorch.zeros((), device=device, requires_grad=True)
    for _ in range(steps):
        pred = (x * w).sum(dim=1) + b
        loss = ((pred - y) * (pred - y)).sum() / 32
        loss.backward()
        with ttorch.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
        w.grad = None
        b.grad = None
    return loss.item(), w.detach(), b.detach()


if __name__ == "__main__":
    devices = ["cpu"] + (["cuda"] if ttorch.cuda.is_available() else [])
    for d in devices:
        loss, w, b = fit(d)
        name = ttorch.cuda.get_device_name() if d == "cuda" else "numpy"
        print(f"{d:5s} ({name}): loss={loss:.6f} w={w.cpu().tolist()} b={b.item():.4f}")
