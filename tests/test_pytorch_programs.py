"""PyTorch programs run unchanged with ``import torch`` replaced by ``import ttorch as torch``.

Each file in tests/programs/ is plain PyTorch code that checks its own results with asserts
(it also runs under real PyTorch); the first argument is the device."""
import pathlib
import re
import sys

import pytest

PROGRAMS = sorted((pathlib.Path(__file__).parent / "programs").glob("*.py"))


def run_with_ttorch(path, *argv, monkeypatch):
    src = path.read_text()
    ported, n = re.subn(r"^import torch$", "import ttorch as torch", src, flags=re.M)
    assert n == 1, "the program must import torch exactly once"
    monkeypatch.setattr(sys, "argv", [str(path), *argv])
    exec(compile(ported, str(path), "exec"), {"__name__": "__main__"})


@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: p.stem)
def test_program(path, device, monkeypatch, capsys):
    run_with_ttorch(path, device, monkeypatch=monkeypatch)
    assert capsys.readouterr().out.strip().endswith(f"ok {device}")
