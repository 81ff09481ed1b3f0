"""ttorch against PyTorch (when installed) and NumPy (cpu), side by side in one process.

    python -m benchmarks [--device cpu|cuda] [--quick] [--only NAME] [--skip NAME] [--out DIR]

Runs the kernel cases (elementwise, reductions, softmax and norms, cross-entropy, matmul per
dtype over square sizes and LLM shapes, conv2d, causal SDPA), the host cost of tiny ops and
whole training steps (MLP, CNN, GPT-2-like), each framework taking turns in every round. Writes
``results.md`` (the table, also printed), ``results.json`` (raw numbers) and a PNG per size sweep
(when matplotlib is installed) to ``--out`` (default ``benchmarks/out/<device>``). Ctrl-C (SIGINT) stops
after the case in progress and still writes the report of the cases done.
"""
import argparse
import os
import platform
import sys
import time

# One BLAS thread per framework on cpu unless the caller says otherwise (before NumPy loads):
# threads spinning against each other on a small shared machine make the numbers meaningless.
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402

import ttorch  # noqa: E402

from .cases import op_cases, host_cases  # noqa: E402
from .models import e2e_cases  # noqa: E402
from .report import markdown, plots, row_stats, write_json  # noqa: E402
from .timing import CpuTimer, CudaTimer, host_us  # noqa: E402


def _frameworks(dev):
    fws = {"ttorch": ttorch}
    try:
        import torch
        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
        fws["torch"] = torch
    except ImportError:
        pass
    names = list(fws) + (["numpy"] if dev == "cpu" else [])
    return fws, names


def _device_name(dev):
    if dev == "cuda":
        return ttorch.cuda.get_device_name(0)
    return f"cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"


def _syncs(fws, dev):
    if dev != "cuda":
        return {n: (lambda: None) for n in list(fws) + ["numpy"]}
    return {n: m.cuda.synchronize for n, m in fws.items()}


def _matches(case, names):
    return any(o.lower() in f"{case.group} {case.name}".lower() for o in names.split(","))


def run(dev="cpu", quick=False, only=None, log=print, skip=None):
    """Run the cases; a list of result dicts (group, name, times per framework in ms or µs, stats)."""
    fws, names = _frameworks(dev)
    if dev == "cuda":
        if os.environ.get("TRITON_INTERPRET") == "1" or not ttorch.cuda.is_available():
            raise SystemExit("--device cuda needs a real GPU (TRITON_INTERPRET=1 simulates kernels, not timings)")
        timer = CudaTimer(rounds=10 if quick else 20)
    else:
        timer = CpuTimer(target=0.004 if quick else 0.02, rounds=5 if quick else 15)
    cases = op_cases(fws, dev, quick) + host_cases(fws, dev) + e2e_cases(fws, dev, quick)
    if only:
        cases = [c for c in cases if _matches(c, only)]
    if skip:
        cases = [c for c in cases if not _matches(c, skip)]
    device_name = _device_name(dev)
    syncs = _syncs(fws, dev)
    results = []
    try:
        for case in cases:
            results.append(_run_case(case, timer, syncs, quick, device_name, log))
    except KeyboardInterrupt:
        log(f"interrupted: {len(results)} of {len(cases)} cases done")
    return [r for r in results if r], names, device_name


def _run_case(case, timer, syncs, quick, device_name, log):
    """Time one case on every framework that can run it; None when ttorch cannot."""
    fns = {}
    for fw, setup in case.setups.items():
        try:
            f = setup()
            f()
        except Exception as e:       # an op one framework lacks: leave its cell empty
            log(f"  skipping {case.name!r} on {fw}: {type(e).__name__}: {str(e)[:120]}")
            continue
        fns[fw] = f
    if "ttorch" not in fns:
        return None
    if case.group == "host":
        times = host_us(fns, syncs, n=200 if quick else 2000, rounds=3 if quick else 5)
    else:
        times = timer(fns)
    r = dict(group=case.group, name=case.name, times=times, sweep=case.sweep, size=case.size,
             kind=case.kind, bytes=case.bytes, flops=case.flops, tokens=case.tokens)
    r["stats"] = row_stats(case, times, device_name)
    cells = "  ".join(f"{k} {v:.4g}" for k, v in times.items())
    log(f"{case.group:4s} {case.name:55s} {cells} {'µs' if case.group == 'host' else 'ms'}")
    return r


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--quick", action="store_true", help="smaller sizes and fewer rounds")
    p.add_argument("--only", help="comma-separated substrings of case names (or a group: ops, host, e2e)")
    p.add_argument("--skip", help="comma-separated substrings of case names to leave out")
    p.add_argument("--out", help="output folder (default benchmarks/out/<device>)")
    args = p.parse_args(argv)
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(__file__)), "out", args.device)
    os.makedirs(out, exist_ok=True)
    t0 = time.time()
    results, names, device_name = run(args.device, args.quick, args.only, log=lambda s: print(s, file=sys.stderr),
                                        skip=args.skip)
    peers = ", ".join(f"{n} {m.__version__}" for n, m in (("PyTorch", sys.modules.get("torch")),) if m)
    header = (f"## {device_name}: ttorch {ttorch.__version__}, NumPy {np.__version__}, "
              f"{peers or 'PyTorch not installed'}{' (quick)' if args.quick else ''}\n\n"
              "Median over interleaved rounds; ratio < 1 means ttorch is faster.")
    table = markdown(results, names, header)
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(table + "\n")
    meta = dict(device=device_name, quick=args.quick, frameworks=names, seconds=round(time.time() - t0, 1),
                ttorch=ttorch.__version__, numpy=np.__version__, python=platform.python_version())
    write_json(os.path.join(out, "results.json"), meta, results)
    pngs = plots(results, names, out, device_name)
    print(table)
    print(f"wrote {out}/results.md, results.json" + (f" and {len(pngs)} plots" if pngs else _no_plots())
          + f" in {time.time() - t0:.0f} s")


def _no_plots():
    """Why no plot was written: no size sweep of two points ran, or matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return " (no plots: matplotlib not installed; pip install -e \".[bench]\")"
    return " (no plots: no size sweep of two or more sizes ran)"


if __name__ == "__main__":
    main()
