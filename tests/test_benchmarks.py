"""The benchmark harness runs end to end on cpu and writes its table, JSON and plots."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_harness_quick_cpu(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    r = subprocess.run([sys.executable, "-m", "benchmarks", "--device", "cpu", "--quick", "--only",
                        "add fp32,matmul float32 128,1-element,MLP", "--out", str(tmp_path)],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    table = (tmp_path / "results.md").read_text()
    assert "| add fp32 65,536 |" in table and "ttorch/numpy" in table and "GB/s" in table
    assert "matmul float32 128^3" in table and "TFLOP/s" in table
    assert "1-element add" in table and "tok/s" in table
    data = json.loads((tmp_path / "results.json").read_text())
    rows = {row["name"]: row for row in data["results"]}
    assert rows["add fp32 65,536"]["times"]["ttorch"] > 0 and rows["add fp32 65,536"]["times"]["numpy"] > 0
    assert data["meta"]["device"].startswith("cpu")


def test_peaks_and_report():
    from benchmarks.peaks import peak, percent
    assert peak("NVIDIA H100 80GB HBM3")[0] == 3.35e12
    assert peak("NVIDIA H100 PCIe")[0] == 2.0e12
    assert peak("NVIDIA H200")[0] == 4.8e12
    assert peak("some new card") is None
    assert percent("NVIDIA H200", gbps=2400) == pytest.approx(50.0)
    assert percent("NVIDIA A100-SXM4-80GB", tflops=156, kind="bfloat16") == pytest.approx(50.0)
    from benchmarks.report import markdown
    res = [dict(group="ops", name="x", times={"ttorch": 2.0, "torch": 1.0}, stats={"GB/s": 10.0, "% peak": 5.0})]
    md = markdown(res, ["ttorch", "torch"], "## h")
    assert "| x | 2.000 | 1.000 | 2.00x | 10.0 GB/s | 5% |" in md
