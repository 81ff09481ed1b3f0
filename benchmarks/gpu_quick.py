"""ttorch against PyTorch (when installed) on a real GPU: kernel time and host time per op.

Kernel time comes from CUDA events recorded on stream 0 through ``cuda-bindings`` (no torch
needed for ttorch's side), with warm-up, an L2 flush before each timed call and the median
of the repetitions. Host time is the wall-clock cost of issuing a tiny op, synchronised
once per batch. Each case runs ttorch and PyTorch alternately in the same process.

    PYTHONPATH=. python benchmarks/gpu_quick.py            # about a minute on an H100
    PYTHONPATH=. python benchmarks/gpu_quick.py --json out.json
"""
import argparse
import json
import statistics
import sys
import time

import numpy as np

import ttorch

try:
    import torch
except ImportError:
    torch = None

from cuda.bindings import driver as cu


def _ok(res):
    if res[0] != cu.CUresult.CUDA_SUCCESS:
        raise RuntimeError(f"CUDA error {res[0]}")
    return res[1:]


class Timer:
    """Median milliseconds of ``fn()`` by CUDA events on stream 0, flushing L2 before each call."""

    def __init__(self, flush_bytes=256 << 20):
        ttorch.cuda.synchronize()
        self.flush = ttorch.empty(flush_bytes, dtype=ttorch.uint8, device="cuda")
        self.start = [_ok(cu.cuEventCreate(0))[0] for _ in range(2)]

    def __call__(self, fn, reps=20, warmup=3):
        for _ in range(warmup):
            fn()
        times = []
        e0, e1 = self.start
        for _ in range(reps):
            _ok(cu.cuMemsetD8Async(self.flush.data_ptr(), 0, self.flush.numel(), 0))
            _ok(cu.cuEventRecord(e0, 0))
            fn()
            _ok(cu.cuEventRecord(e1, 0))
            _ok(cu.cuEventSynchronize(e1))
            times.append(_ok(cu.cuEventElapsedTime(e0, e1))[0])
        return statistics.median(times)


def host_us(fn, sync, n=2000, rounds=5):
    """Median wall-clock µs per call of a tiny op, synchronising once per batch of n."""
    best = []
    for _ in range(rounds):
        sync()
        t = time.perf_counter()
        for _ in range(n):
            fn()
        sync()
        best.append((time.perf_counter() - t) / n * 1e6)
    return statistics.median(best)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json")
    args = ap.parse_args()
    timer = Timer()
    rows = []

    def both(name, make_tt, make_th, bytes_=None, flops=None):
        f_tt = make_tt()
        ms_tt = timer(f_tt)
        ms_th = timer(make_th()) if torch is not None else float("nan")
        rows.append(dict(case=name, ttorch_ms=ms_tt, torch_ms=ms_th, ratio=ms_tt / ms_th,
                         gbps=(bytes_ / ms_tt / 1e6) if bytes_ else None,
                         tflops=(flops / ms_tt / 1e9) if flops else None))
        print(f"{name:44s} ttorch {ms_tt:9.4f} ms  torch {ms_th:9.4f} ms  ttorch/torch {ms_tt / ms_th:5.2f}"
              + (f"  {bytes_ / ms_tt / 1e6:7.0f} GB/s" if bytes_ else "")
              + (f"  {flops / ms_tt / 1e9:6.0f} TFLOP/s" if flops else ""), flush=True)

    def pair(shape, dtype="float32", fn=None):
        a = np.random.rand(*shape).astype(np.float32)
        ta = ttorch.tensor(a, device="cuda").to(getattr(ttorch, dtype))
        th = torch.tensor(a, device="cuda").to(getattr(torch, dtype)) if torch is not None else None
        return ta, th

    n = 1 << 26
    x, xt = pair((n,))
    y, yt = pair((n,))
    both(f"add fp32 {n:,}", lambda: (lambda: x + y), lambda: (lambda: xt + yt), bytes_=12 * n)
    both(f"gelu fp32 {n:,}", lambda: (lambda: ttorch.nn_gelu(x)) if hasattr(ttorch, "nn_gelu") else (lambda: ttorch.gelu(x)),
         lambda: (lambda: torch.nn.functional.gelu(xt)), bytes_=8 * n)
    both(f"sum fp32 {n:,}", lambda: (lambda: x.sum()), lambda: (lambda: xt.sum()), bytes_=4 * n)
    r, c = 8192, 8192
    s, st = pair((r, c))
    both(f"softmax fp32 {r}x{c}", lambda: (lambda: s.softmax(-1)), lambda: (lambda: st.softmax(-1)),
         bytes_=8 * r * c)
    for dt in ("float32", "float16", "bfloat16"):
        for m in (1024, 4096):
            a, at = pair((m, m), dt)
            b, bt = pair((m, m), dt)
            both(f"matmul {dt} {m}^3", lambda: (lambda: a @ b), lambda: (lambda: at @ bt), flops=2 * m ** 3)
    # host cost
    one = ttorch.ones(1, device="cuda")
    one_t = torch.ones(1, device="cuda") if torch is not None else None
    h_tt = host_us(lambda: one + one, ttorch.cuda.synchronize)
    h_th = host_us(lambda: one_t + one_t, torch.cuda.synchronize) if torch is not None else float("nan")
    print(f"host µs per 1-element add: ttorch {h_tt:.2f}  torch {h_th:.2f}  ratio {h_tt / h_th:.2f}")
    rows.append(dict(case="host us 1-element add", ttorch_us=h_tt, torch_us=h_th))
    w = ttorch.ones(4, device="cuda", requires_grad=True)

    def fb_tt():
        (w * w).sum().backward()
    if torch is not None:
        wt = torch.ones(4, device="cuda", requires_grad=True)

        def fb_th():
            (wt * wt).sum().backward()
    h_tt = host_us(fb_tt, ttorch.cuda.synchronize, n=300)
    h_th = host_us(fb_th, torch.cuda.synchronize, n=300) if torch is not None else float("nan")
    print(f"host µs per (x*x).sum().backward(), 4 elements: ttorch {h_tt:.1f}  torch {h_th:.1f}  ratio {h_tt / h_th:.2f}")
    rows.append(dict(case="host us (x*x).sum().backward() 4 el", ttorch_us=h_tt, torch_us=h_th))
    # where the host time of a 1-element op goes: allocation, the Triton launch, our wrapper
    from ttorch.ops import elementwise as E, binary as B
    import triton.language as tl
    out = ttorch.empty(1, device="cuda")

    def raw():
        E.launch(E._ew_kernel, (1,), out, one, one, None, 1, 0, 0, 1, 1, 1, *([0] * 16), FN=B._add, NIN=2,
                 A_SCALAR=False, B_SCALAR=False, C_SCALAR=False, COMPUTE=tl.float32, CONTIG=True, BLOCK=128,
                 num_warps=4)
    for name, fn in (("ttorch.empty(1)", lambda: ttorch.empty(1, device="cuda")), ("Triton launch of _ew_kernel", raw),
                     ("ttorch.add(one, one, out=out)", lambda: ttorch.add(one, one, out=out))):
        h = host_us(fn, ttorch.cuda.synchronize)
        print(f"host µs {name}: {h:.2f}")
        rows.append(dict(case=f"host us {name}", ttorch_us=h))
    # the contiguous elementwise template's block and warps, on a 64M-element add
    x, y = ttorch.ones(n, device="cuda"), ttorch.ones(n, device="cuda")
    z = ttorch.empty(n, device="cuda")
    for blk in (1024, 2048, 4096):
        for w in (4, 8):
            ms = timer(lambda: E.launch(E._ew_kernel, (-(-n // blk),), z, x, y, None, n, 0, 0, 1, 1, 1, *([0] * 16),
                                        FN=B._add, NIN=2, A_SCALAR=False, B_SCALAR=False, C_SCALAR=False,
                                        COMPUTE=tl.float32, CONTIG=True, BLOCK=blk, num_warps=w))
            print(f"add 64M into preallocated out: BLOCK={blk} warps={w}: {ms:.4f} ms {12 * n / ms / 1e6:.0f} GB/s")
            rows.append(dict(case=f"add64M BLOCK={blk} w={w}", ttorch_ms=ms))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(device=ttorch.cuda.get_device_name(0), rows=rows), f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
