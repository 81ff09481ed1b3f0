"""Compile the kernels ``ttorch.compile`` generates for a few models ahead of time, for sm_80 and sm_90.

    TRITON_INTERPRET=0 PYTHONPATH=. python -m ttorch._inductor.aot_check

A child process (the simulated device) compiles the models (GELU-tanh as 9 ops, a transformer MLP block's
activations, a mixed-dtype broadcast chain, a bfloat16 chain, a mean epilogue) and lists the generated files with the
argument types of their first launch; this process imports each file (real ``JITFunction``s) and builds it
with ``ttorch.ops._aot.KernelSpec`` at the block a GPU launch uses. One line per kernel and capability;
the exit status is 1 where one fails or spills.
"""
import importlib.util
import json
import os
import subprocess
import sys
import tempfile

_CHILD = r'''
import json, ttorch, ttorch.nn as nn, ttorch.nn.functional as F
from ttorch._inductor import codegen

def gelu(x):
    return 0.5 * x * (1 + ttorch.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)))

class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc, self.proj = nn.Linear(8, 32), nn.Linear(32, 8)
    def forward(self, x):
        return x + self.proj(F.gelu(self.fc(x), approximate="tanh")) * 0.5

def mixed(a, b, c):
    return (F.silu(a * b + c) - 0.25).half(), (c * 3 + 1) % 7

x = ttorch.randn(4, 8, device="cuda")
cases = [(ttorch.compile(gelu), (x,)), (ttorch.compile(Block().cuda()), (x,)),
         (ttorch.compile(mixed), (x, ttorch.randn(8, device="cuda").half(),
                                  ttorch.arange(4, device="cuda")[:, None])),
         (ttorch.compile(lambda t: (t * 2).sigmoid() * t), (x.bfloat16().t(),)),
         (ttorch.compile(lambda t, b: ((t + b) ** 2).mean(-1)), (x, ttorch.randn(8, device="cuda")))]
with ttorch.no_grad():
    for f, args in cases:
        f(*args)
        f(*args)
print(json.dumps([[k.path, k.signature] for k in codegen.KERNELS.values()]))
'''


def main():
    with tempfile.TemporaryDirectory(prefix="ttorch_inductor_aot_") as d:
        env = dict(os.environ, TRITON_INTERPRET="1", TTORCH_INDUCTOR_DIR=d)
        r = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, env=env)
        if r.returncode:
            print(r.stderr)
            return 1
        return _compile_all(json.loads(r.stdout.strip().splitlines()[-1]))


def _compile_all(kernels):
    from ..ops._aot import KernelSpec
    from .codegen import red_warps
    bad = 0
    for i, (path, sig) in enumerate(kernels):
        spec = importlib.util.spec_from_file_location(f"ttorch_fused_aot_{i}", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        # (a reduction's kernel takes a row a block: up to 4096, with red_warps' warps)
        red = [(c, b, red_warps(b)) for c in (80, 90) for b in (2048, 4096)] if "r" in sig else []
        for cap, block, warps in [(80, 1024, 4), (90, 1024, 4)] + red:
            try:
                res = KernelSpec(mod.fused_kernel, sig, {"BLOCK": block}, num_warps=warps, label=path).compile(cap)
            except Exception as e:     # report every kernel, then fail
                print(f"FAILED sm_{cap} {os.path.basename(path)}: {type(e).__name__}: {e}")
                bad += 1
                continue
            bad += bool(res["spills"])
            print(f"sm_{cap} {os.path.basename(path)} BLOCK={block} args={len(sig)} regs={res['regs']} "
                  f"spills={res['spills']} {res['seconds']}s")
    print(f"{bad} failed or spilled")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
