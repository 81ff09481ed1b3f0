"""GPU diagnostics beyond ``python -m benchmarks``: where the host time of a 1-element op goes
(allocation, Triton's launch, our wrapper) and the elementwise template's block/warps sweep.

    PYTHONPATH=. python benchmarks/gpu_quick.py [--json out.json]
"""
import argparse
import json
import sys

import ttorch

from benchmarks.timing import CudaTimer, host_us


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json")
    args = ap.parse_args()
    timer = CudaTimer()
    rows = []
    n = 1 << 26
    one = ttorch.ones(1, device="cuda")
    sync = {"ttorch": ttorch.cuda.synchronize}
    # where the host time of a 1-element op goes: allocation, the Triton launch, our wrapper
    from ttorch.ops import elementwise as E, binary as B
    import triton.language as tl
    out = ttorch.empty(1, device="cuda")

    def raw():
        E.launch(E._ew_kernel, (1,), out, one, one, None, 1, 0, 0, 1, 1, 1, *([0] * 16), FN=B._add, NIN=2,
                 A_SCALAR=False, B_SCALAR=False, C_SCALAR=False, COMPUTE=tl.float32, CONTIG=True, BLOCK=128,
                 num_warps=4)
    from ttorch.ops import _launch as L

    def triton_path(fn):            # the same call with ttorch's launch fast path off
        def f():
            L._FAST_ON[0] = False
            try:
                fn()
            finally:
                L._FAST_ON[0] = fast
        return f
    fast = L._FAST_ON[0]
    print(f"launch fast path: {'on' if fast else 'off'}")
    for name, fn in (("ttorch.empty(1)", lambda: ttorch.empty(1, device="cuda")),
                     ("launch of _ew_kernel (fast path)", raw),
                     ("launch of _ew_kernel (Triton's JIT call)", triton_path(raw)),
                     ("one + one", lambda: one + one), ("one + one (Triton's JIT call)", triton_path(lambda: one + one)),
                     ("ttorch.add(one, one, out=out)", lambda: ttorch.add(one, one, out=out))):
        h = host_us({"ttorch": fn}, sync)["ttorch"]
        print(f"host µs {name}: {h:.2f}")
        rows.append(dict(case=f"host us {name}", ttorch_us=h))
    # the contiguous elementwise template's block and warps, on a 64M-element add
    x, y = ttorch.ones(n, device="cuda"), ttorch.ones(n, device="cuda")
    z = ttorch.empty(n, device="cuda")
    for blk in (1024, 2048, 4096):
        for w in (4, 8):
            def add():
                E.launch(E._ew_kernel, (-(-n // blk),), z, x, y, None, n, 0, 0, 1, 1, 1, *([0] * 16), FN=B._add,
                         NIN=2, A_SCALAR=False, B_SCALAR=False, C_SCALAR=False, COMPUTE=tl.float32, CONTIG=True,
                         BLOCK=blk, num_warps=w)
            ms = timer({"ttorch": add})["ttorch"]
            print(f"add 64M into preallocated out: BLOCK={blk} warps={w}: {ms:.4f} ms {12 * n / ms / 1e6:.0f} GB/s")
            rows.append(dict(case=f"add64M BLOCK={blk} w={w}", ttorch_ms=ms))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(device=ttorch.cuda.get_device_name(0), rows=rows), f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
