"""``ttorch.version``: ``__version__``, the CUDA version in use (``cuda``), ``git_version``.

``cuda`` is read when first asked for, so importing ttorch never starts the GPU driver: the
CUDA version of the installed ``cuda-bindings`` (``"12.9"``) when a real GPU is usable, else
``None`` (also under ``TRITON_INTERPRET=1``, where no CUDA runs), like a cpu build of PyTorch.
``git_version`` is the checkout's commit (``"Unknown"`` outside a git checkout).
"""
import os
import subprocess

from . import __version__  # noqa: F401

__all__ = ["__version__", "debug", "cuda", "git_version", "hip", "rocm", "xpu"]

debug = False
hip = None
rocm = None
xpu = None


def _git_version():
    """The checkout's commit, or ``"Unknown"`` outside a git checkout (an installed wheel)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return "Unknown"
    sha = out.stdout.strip()
    return sha if out.returncode == 0 and len(sha) == 40 else "Unknown"


def _cuda_version():
    """``"major.minor"`` of the CUDA that ``cuda-bindings`` was made for (as ``torch.version.cuda`` names the
    CUDA PyTorch was built with), else that of the driver; None without a usable GPU."""
    from .cuda import _driver
    if _driver.SIMULATED:
        return None
    try:
        _driver.backend()
        from cuda import bindings
        version = getattr(bindings, "__version__", None)
        if version:
            return ".".join(str(version).split(".")[:2])
        from cuda.bindings import driver
        err, v = driver.cuDriverGetVersion()
        return f"{v // 1000}.{v % 1000 // 10}" if int(err) == 0 else None
    except Exception:   # no bindings, no driver, no device: a cpu-only install
        return None


_lazy = {"cuda": _cuda_version, "git_version": _git_version}


def __getattr__(name):
    if name in _lazy:
        value = _lazy.pop(name)()
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
