"""Tune the kernels behind the issue's GPU targets, in the order that matters, through
``ttorch.tune``'s Python API (the way a user's tuning script would): a quick pass over every
kernel, then at the benchmark's shapes, in the targets' order: the GEMM at bf16 4096^3 and the LLM
shapes (an H100 call's 85 s ran out before them when they came later), flash attention (fp16, causal,
head dims 64 and 128; with dropout at 64), the float32 products of the GPT-2-like training step in their layouts,
float32 attention at that step's shape, the memory-bound kernels at the harness's sizes, the CNN
step's convolutions, then TF32 4096^3 and fp16; the GEMM spaces include the persistent TMA tiles.
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
    # then by the targets' order (gpu_check.sh gives this script a time limit: what matters first)
    llm = [(4096, 4096, 4096), (4096, 11008, 4096), (4096, 4096, 11008), (8192, 8192, 8192)]
    _gemm("bfloat16", "ieee", llm)          # 4096^3 and the LLM shapes: both targets want tuned tiles
    # flash attention at the benchmark's shapes (fp16, head dims 64 and 128, causal): forward, dK/dV, dQ
    for kind in ("fwd", "dkdv", "dq"):
        for e in (64, 128):
            _tune("flash_attention", (kind, "float16", 4, 16, 2048, e, True), every=True)
    # and with dropout 0.1 at head dim 64 (the harness's row; "+drop" is its own name in the cache)
    for kind in ("fwd", "dkdv", "dq"):
        _tune("flash_attention", (kind, "float16+drop", 4, 16, 2048, 64, True), every=True)
    # the GPT-2-like step's float32 products in the layouts they run in: the forward x @ W^T and the
    # input gradient dY @ W (W copied row-major; from 2048 outputs on, x or dY copied (K, M): "tn",
    # gemm._FMA_M_MAJOR_A_FROM_N) and the weight gradient dY^T @ X ("tn")
    widths = [(2304, 768), (768, 768), (3072, 768), (768, 3072), (50304, 768)]      # (out, in) of each Linear
    lay = lambda n: "tn" if n >= 2048 else "nn"                                    # noqa: E731
    _gemm("float32", "ieee", [(8192, o, i, lay(o)) for o, i in widths] + [(8192, i, o, lay(i)) for o, i in widths]
          + [(o, i, 8192, "tn") for o, i in widths])
    # float32 attention at the GPT-2-like step's shape (B 8, 12 heads, T 1024, head dim 64, causal)
    # on the FMAs and in TF32 x 3 (attention._FP32_DOT: "tf32x3" is its own name in the cache)
    for kind in ("fwd", "dkdv", "dq"):
        for dt in ("float32", "tf32x3"):
            _tune("flash_attention", (kind, dt, 8, 12, 1024, 64, True), every=True)
    # the memory-bound kernels at the harness's sizes (the full sum and cross-entropy stayed at 75-77% of
    # HBM bandwidth, untuned, on the H100; the target is 85%): quick to time, nothing big to compile
    _tune("reduction", ("float32", 1 << 26))
    for kind in ("fwd", "bwd"):
        _tune("cross_entropy", (kind, "float32", 8192, 32768))
        _tune("layer_norm", (kind, "float32", 8192, 8192))
        _tune("softmax", (kind, "float32", 8192, 8192))
    _tune("optim_update", ("AdamW", "float32", 128978944))     # the harness's AdamW step (its total size)
    # the CNN step's two float32 convolutions (batch 128, 3x3, padding 1), on TF32 as PyTorch's default
    # cudnn.allow_tf32 runs them; its first layer needs no dgrad
    for kind, layers in (("fwd", ((128, 3, 32, 32), (128, 32, 16, 64))),
                         ("wgrad", ((128, 3, 32, 32), (128, 32, 16, 64))), ("dgrad", ((128, 32, 16, 64),))):
        for layer in layers:
            _tune("conv2d", (kind, "tf32", *layer))
    _gemm("float32", "tf32", llm[:1])
    _gemm("float16", "ieee", llm)


def _tune(name, problem, every=False):
    """Tune ``name`` on ``problem``; ``every``: log each configuration's time too (flash attention's:
    its default tiles spill registers on sm_90 and the next choice needs their spill-free neighbours'
    times beside them)."""
    t0 = time.time()
    for b, (cfg, ms) in tune.tune(name, problems=[problem], log=print if every else None).items():
        print(f"{name} {list(b)}: {cfg} {ms:.4f} ms ({time.time() - t0:.1f} s)", flush=True)


def _gemm(dt, prec, shapes):
    for m, n, k, *layout in shapes:
        t0 = time.time()
        for b, (cfg, ms) in tune.tune("gemm", problems=[(dt, prec, m, n, k, *layout)]).items():
            print(f"gemm {[*b, *layout]}: {cfg} {ms:.4f} ms = {2 * m * n * k / ms / 1e9:.0f} TFLOP/s "
                  f"({time.time() - t0:.1f} s)", flush=True)


if __name__ == "__main__":
    main()
