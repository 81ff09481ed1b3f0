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


_SPILL_PROBE = """
import os
os.environ["TRITON_INTERPRET"] = "0"
import triton
import triton.language as tl
from ttorch.ops._aot import KernelSpec


@triton.jit
def _scale_by_sum(x_ptr, y_ptr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offs)
    tl.store(y_ptr + offs, x / tl.sum(x, 0))


for block in (8192, 256):
    r = KernelSpec(_scale_by_sum, {"x_ptr": "*fp32", "y_ptr": "*fp32"}, {"BLOCK": block}, num_warps=1,
                   divisible=("x_ptr", "y_ptr")).compile(90)
    print(block, r["regs"], r["stack"], r["spills"])
"""


def test_the_compile_report_counts_ptxas_spill_stores(tmp_path):
    # `python -m ttorch.ops --compile` calls a configuration spilling when ptxas reports spill stores:
    # spilled registers live in the thread's stack frame (cuobjdump's STACK), not in LOCAL, which the
    # report read before (and so called every configuration spill-free). 8192 floats held by one warp
    # cannot stay in registers; 256 can. (ahead of time, no GPU: a process without the interpreter)
    probe = tmp_path / "probe.py"                   # (a file: triton.jit reads the kernel's source)
    probe.write_text(_SPILL_PROBE)
    out = subprocess.run([sys.executable, str(probe)], capture_output=True, text=True, cwd=ROOT, timeout=300,
                         env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr[-2000:]
    rows = {int(b): (int(regs), int(stack), int(spills)) for b, regs, stack, spills in
            (line.split() for line in out.stdout.split("\n") if line.strip())}
    assert rows[8192][2] > 0 and rows[8192][1] > 0
    assert rows[256] == (rows[256][0], 0, 0)


def test_the_compile_report_builds_tma_kernels_for_hopper_only():
    # sm_80 has no TMA: the launch path never runs a TMA kernel there, so the report neither
    # compiles nor counts its spills for sm_80; nor the tiles tuned on Hopper only (they spill on
    # sm_80: gemm.TUNE_SPACE_SM90); every other configuration compiles for both
    import os
    saved = os.environ.get("TRITON_INTERPRET")
    try:
        from ttorch.ops.__main__ import _jobs, _specs_of
    finally:    # (its import drops TRITON_INTERPRET, for AOT: a later simulated launch in this process
        if saved is not None:      # then read interpret mode off and failed in Triton's gluon import)
            os.environ["TRITON_INTERPRET"] = saved
    jobs = _jobs(["addmm"], [80, 90])
    specs = _specs_of("addmm")
    tma = {i for i, s in enumerate(specs) if s.name == "_gemm_tma_kernel"}
    assert tma and len(tma) < len(specs)
    caps = {}
    for _, i, cap, ones in jobs:
        if not ones:
            caps.setdefault(i, set()).add(cap)
    assert all(caps[i] == {90} for i in tma)
    from ttorch.ops import gemm
    tiles = {f"ttorch.float32 {m}x{n}x{k} w{w} s{st} " for m, n, k, _, w, st in gemm.TUNE_SPACE_SM90["float32"]}
    hopper = {i for i, s in enumerate(specs) if i not in tma and s.label.startswith(tuple(tiles))}
    assert hopper and all(caps[i] == {90} for i in hopper)
    assert all(c == {80, 90} for i, c in caps.items() if i not in tma | hopper)
