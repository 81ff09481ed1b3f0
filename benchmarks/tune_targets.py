"""Tune the kernels behind the issue's GPU targets, in the order that matters, through
``ttorch.tune``'s Python API (the way a user's tuning script would): a quick pass over every
kernel, then at the benchmark's shapes flash attention (fp16, causal, head dims 64 and 128; fp32 at
the GPT-2-like step's) and the GEMM (bf16 4096^3, the float32 products of the GPT-2-like training
step in their layouts, the other LLM shapes, TF32 4096^3, fp16); the GEMM spaces include the
persistent TMA tiles.
Each kernel's winners are saved as soon as it finishes, so a run cut short keeps what it tuned.

    TTORCH_TUNE_CACHE=/some/tune.json PYTHONPATH=. python benchmarks/tune_targets.py
"""
import time

import ttorch  # noqa: F401  (registers the kernels' Tunables)
from ttorch import tune


def main():
    print(f"cache: {tune.cache_path()}")
    for name in sorted(tune.registered()):
        t0 = time.time()
        best = tune.tune(name, quick=True)
        print(f"{name}: {len(best)} bucket(s) in {time.time() - t0:.1f} s", flush=True)
    # flash attention at the benchmark's shapes (fp16, head dims 64 and 128, causal): forward, dK/dV, dQ
    for kind in ("fwd", "dkdv", "dq"):
        for e in (64, 128):
            t0 = time.time()
            best = tune.tune("flash_attention", problems=[(kind, "float16", 4, 16, 2048, e, True)])
            for b, (cfg, ms) in best.items():
                print(f"flash_attention {list(b)}: {cfg} {ms:.4f} ms ({time.time() - t0:.1f} s)", flush=True)
    # float32 attention at the GPT-2-like step's shape (B 8, 12 heads, T 1024, head dim 64, causal)
    for kind in ("fwd", "dkdv", "dq"):
        t0 = time.time()
        best = tune.tune("flash_attention", problems=[(kind, "float32", 8, 12, 1024, 64, True)])
        for b, (cfg, ms) in best.items():
            print(f"flash_attention {list(b)}: {cfg} {ms:.4f} ms ({time.time() - t0:.1f} s)", flush=True)
    llm = [(4096, 4096, 4096), (4096, 11008, 4096), (4096, 4096, 11008), (8192, 8192, 8192)]
    # the GPT-2-like step's float32 products, each in the layout it runs in: the forward x @ W^T
    # ("nt"), the input gradient dY @ W ("nn") and the weight gradient dY^T @ X ("tn")
    widths = [(2304, 768), (768, 768), (3072, 768), (768, 3072), (50304, 768)]      # (out, in) of each Linear
    gpt2 = [(8192, o, i, "nt") for o, i in widths] + [(8192, i, o, "nn") for o, i in widths] + \
        [(o, i, 8192, "tn") for o, i in widths]
    for dt, prec, shapes in (("bfloat16", "ieee", llm[:1]), ("float32", "ieee", gpt2), ("bfloat16", "ieee", llm[1:]),
                             ("float32", "tf32", llm[:1]), ("float16", "ieee", llm)):
        for m, n, k, *layout in shapes:
            t0 = time.time()
            best = tune.tune("gemm", problems=[(dt, prec, m, n, k, *layout)])
            for b, (cfg, ms) in best.items():
                print(f"gemm {list(b)}: {cfg} {ms:.4f} ms = {2 * m * n * k / ms / 1e9:.0f} TFLOP/s "
                      f"({time.time() - t0:.1f} s)", flush=True)

if __name__ == "__main__":
    main()
