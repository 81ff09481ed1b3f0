"""Project-wide promises: torch is never imported, every op is listed with its parts."""
import pathlib
import re
import subprocess
import sys

import ttorch
from ttorch.ops import REGISTRY

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_import_leaves_torch_out():
    code = "import sys, ttorch; import ttorch.ops; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"


def test_no_torch_import_in_sources():
    pat = re.compile(r"^\s*(import torch|from torch)([. ]|$)", re.M)
    hits = [str(p) for p in (ROOT / "ttorch").rglob("*.py") if pat.search(p.read_text())]
    assert hits == []


def test_every_op_has_its_parts():
    for name, op in REGISTRY.items():
        if op.impl is None:
            assert op.cpu is not None, f"{name} has no NumPy fallback"
            assert op.cuda is not None, f"{name} has no cuda implementation"
            assert op.specs(), f"{name} declares no kernel configurations to compile"


def test_ops_listing_runs():
    out = subprocess.run([sys.executable, "-m", "ttorch.ops"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    for name in REGISTRY:
        assert re.search(rf"\s{re.escape(name)}\s", out.stdout), f"{name} missing from python -m ttorch.ops"


def test_str_of_dtype_is_what_triton_reads():
    assert str(ttorch.float32) == "ttorch.float32"
    assert str(ttorch.bfloat16).rsplit(".", 1)[-1] == "bfloat16"
