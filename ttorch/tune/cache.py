"""The autotuning cache: the winning configuration per (op, shape bucket), one JSON file per user.

The file holds one section per GPU and Triton version (``"NVIDIA H100 80GB HBM3 | triton 3.6.0"``),
since a winner on one card or compiler says nothing about another. Where it lives:
``$TTORCH_TUNE_CACHE`` if set, else ``$XDG_CACHE_HOME/ttorch/tune.json``, else
``~/.cache/ttorch/tune.json``. Writes are atomic (a temporary file renamed over the old one), so a
tuning run killed half way leaves the previous winners in place.
"""
import json
import os
import tempfile

VERSION = 1


def path():
    """Where the cache file is read from and written to."""
    env = os.environ.get("TTORCH_TUNE_CACHE")
    if env:
        return env
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "ttorch", "tune.json")


def read(p=None):
    """The whole file as ``{section: {op: {bucket: config dict}}}``; empty when absent or unreadable
    (a broken cache must never break an import: it only costs speed)."""
    p = p or path()
    try:
        with open(p) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(data.get("sections"), dict):
        return {}
    return data["sections"]


def write(sections, p=None):
    """Replace the file with ``sections``, atomically."""
    p = p or path()
    folder = os.path.dirname(os.path.abspath(p))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tune-", suffix=".json", dir=folder)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump({"version": VERSION, "sections": sections}, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return p


def section_name():
    """This process's section: the GPU's name (``simulated`` under the interpreter) and Triton's version."""
    import triton
    from ..cuda import _driver
    if _driver.SIMULATED:
        gpu = "simulated"
    else:
        try:
            gpu = _driver.backend().device_name(0)
        except RuntimeError:
            gpu = "no-gpu"
    return f"{gpu} | triton {triton.__version__}"
