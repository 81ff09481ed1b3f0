"""Where one training step's time goes: the benchmark's end-to-end models (``models.py``) under
``ttorch.profiler``, and under ``torch.profiler`` when PyTorch is installed, tables side by side
sorted by device time (kernels and the ops that launched them).

    PYTHONPATH=. python benchmarks/profile_step.py [--model gpt2|mlp|cnn|all] [--layers 12] [--rows 25]
"""
import argparse
import time

from benchmarks import models


def _build(fw, model, dev, layers):
    if model == "gpt2":
        return models._gpt(fw, dev, batch=8, block=1024, layers=layers, dim=768, heads=12, vocab=50304)
    if model == "mlp":
        return models._mlp(fw, dev, 256, 1024)
    return models._cnn(fw, dev, 128)


def profile_one(fw, name, model, dev, layers, rows):
    step = _build(fw, model, dev, layers)
    for _ in range(2):                           # compile, tune lookups, caches
        step()
    fw.cuda.synchronize()
    t = time.perf_counter()
    step()
    fw.cuda.synchronize()
    wall = (time.perf_counter() - t) * 1e3
    prof = fw.profiler.profile(activities=[fw.profiler.ProfilerActivity.CPU, fw.profiler.ProfilerActivity.CUDA])
    with prof:
        step()
        fw.cuda.synchronize()
    print(f"\n## {name}: {model} step, {wall:.1f} ms unprofiled\n")
    print(prof.key_averages().table(sort_by="device_time_total", row_limit=rows))
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows // 2))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="gpt2", choices=("gpt2", "mlp", "cnn", "all"))
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--rows", type=int, default=25)
    ap.add_argument("--device", default="cuda")
    a = ap.parse_args()
    import ttorch
    try:
        import torch
    except ImportError:
        torch = None
    for model in ("gpt2", "cnn", "mlp") if a.model == "all" else (a.model,):
        profile_one(ttorch, "ttorch", model, a.device, a.layers, a.rows)
        if torch is not None:
            profile_one(torch, "torch", model, a.device, a.layers, a.rows)


if __name__ == "__main__":
    main()
