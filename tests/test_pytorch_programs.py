"""PyTorch programs run unchanged with ``import torch`` replaced by ``import ttorch as torch``.

Each file in tests/programs/ is plain PyTorch code that checks its own results with asserts
(it also runs under real PyTorch); the first argument is the device, the second (training
programs) a number of steps: on the simulated cuda device, where every kernel runs in Python,
they train a few steps as a smoke test and the full run is on cpu."""
import pathlib
import re
import sys

import pytest

PROGRAMS = sorted((pathlib.Path(__file__).parent / "programs").glob("*.py"))


def run_with_ttorch(path, *argv, monkeypatch):
    src = path.read_text()
    ported, n = re.subn(r"^import torch$", "import ttorch as torch", src, flags=re.M)
    assert n == 1, "the program must import torch exactly once"
    # and its submodules: import torch.nn as nn -> import ttorch.nn as nn; from torch.x import y
    ported = re.sub(r"^import torch\.(\S+) as ", r"import ttorch.\1 as ", ported, flags=re.M)
    ported = re.sub(r"^from torch([. ])", r"from ttorch\1", ported, flags=re.M)
    monkeypatch.setattr(sys, "argv", [str(path), *argv])
    exec(compile(ported, str(path), "exec"), {"__name__": "__main__"})


QUICK_STEPS = "3"


@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: p.stem)
def test_program(path, device, monkeypatch, capsys):
    args = (device,) if device == "cpu" else (device, QUICK_STEPS)
    run_with_ttorch(path, *args, monkeypatch=monkeypatch)
    assert capsys.readouterr().out.strip().endswith(f"ok {device}")
