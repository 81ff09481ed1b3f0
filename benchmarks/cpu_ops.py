"""ttorch on cpu against NumPy (and PyTorch, when it is importable): µs per op.

Each case runs in every framework in interleaved rounds (the order rotates each round), so a
slow moment of the machine hits all of them alike; the table shows the median over rounds
of the time per op inside a round.

    python benchmarks/cpu_ops.py            # full run, about a minute
    python benchmarks/cpu_ops.py --quick    # a few seconds, noisier
"""
import argparse
import gc
import os
import statistics
import sys
import time

# One thread for every framework (before NumPy loads its BLAS): on a small shared machine,
# BLAS threads spinning against each other make the numbers meaningless. Override by
# setting the variables yourself.
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import ttorch  # noqa: E402

try:
    import torch
except ImportError:
    torch = None


def _cases(big):
    """Per case: name and, per framework, a setup returning the zero-argument function to time."""
    n = big
    cases = []

    def add(k):
        def tt():
            a, b = ttorch.ones(k), ttorch.ones(k)
            return lambda: a + b

        def nump():
            a, b = np.ones(k, np.float32), np.ones(k, np.float32)
            return lambda: a + b

        def th():
            a, b = torch.ones(k), torch.ones(k)
            return lambda: a + b
        return {"ttorch": tt, "numpy": nump, "torch": th}

    cases.append(("add, 1 element", add(1)))
    cases.append((f"add, {n:,} elements", add(n)))

    def tt_sum():
        a = ttorch.ones(n)
        return lambda: a.sum()

    def np_sum():
        a = np.ones(n, np.float32)
        return lambda: a.sum()

    def th_sum():
        a = torch.ones(n)
        return lambda: a.sum()

    cases.append((f"sum, {n:,} elements", {"ttorch": tt_sum, "numpy": np_sum, "torch": th_sum}))

    m = 512 if big >= 10 ** 6 else 128
    if hasattr(ttorch, "matmul"):
        def tt_mm():
            a, b = ttorch.ones(m, m), ttorch.ones(m, m)
            return lambda: ttorch.matmul(a, b)

        def np_mm():
            a, b = np.ones((m, m), np.float32), np.ones((m, m), np.float32)
            return lambda: a @ b

        def th_mm():
            a, b = torch.ones(m, m), torch.ones(m, m)
            return lambda: torch.matmul(a, b)

        cases.append((f"matmul {m}x{m} @ {m}x{m}", {"ttorch": tt_mm, "numpy": np_mm, "torch": th_mm}))

    def tt_bw():
        x = ttorch.ones(4, requires_grad=True)

        def f():
            x.grad = None
            (x * x).sum().backward()
        return f

    def th_bw():
        x = torch.ones(4, requires_grad=True)

        def f():
            x.grad = None
            (x * x).sum().backward()
        return f

    # NumPy has no autograd: its column is empty for this row
    cases.append(("(x * x).sum().backward(), 4 elements", {"ttorch": tt_bw, "torch": th_bw}))
    return cases


def _calibrate(f, target):
    """How many calls of ``f`` take about ``target`` seconds."""
    f()
    n = 1
    while True:
        t = time.perf_counter()
        for _ in range(n):
            f()
        dt = time.perf_counter() - t
        if dt >= target / 4 or n >= 1 << 20:
            return max(1, int(n * target / max(dt, 1e-9)))
        n *= 4


def _time(f, number):
    t = time.perf_counter()
    for _ in range(number):
        f()
    return (time.perf_counter() - t) / number


def run(quick=False, frameworks=None):
    """Return rows ``(case, {framework: µs per op})``."""
    big = 10 ** 5 if quick else 10 ** 6
    rounds = 7 if quick else 31
    target = 0.002 if quick else 0.01
    frameworks = frameworks or ["ttorch", "numpy"] + (["torch"] if torch is not None else [])
    rows = []
    for name, impls in _cases(big):
        fns = {}
        for fw in frameworks:
            if fw in impls:
                try:
                    f = impls[fw]()
                    f()
                except Exception as e:  # an op another part of ttorch has not defined yet
                    print(f"skipping {name!r} on {fw}: {type(e).__name__}: {e}", file=sys.stderr)
                    continue
                fns[fw] = f
        if "ttorch" not in fns:
            continue
        numbers = {fw: _calibrate(f, target) for fw, f in fns.items()}
        samples = {fw: [] for fw in fns}
        order = list(fns)
        gc_was = gc.isenabled()
        gc.disable()
        try:
            for r in range(rounds):
                for fw in order[r % len(order):] + order[:r % len(order)]:
                    samples[fw].append(_time(fns[fw], numbers[fw]))
        finally:
            if gc_was:
                gc.enable()
        rows.append((name, {fw: statistics.median(s) * 1e6 for fw, s in samples.items()}))
    return rows


def table(rows, frameworks):
    def cell(v):
        return "" if v is None else (f"{v:,.1f}" if v >= 10 else f"{v:.2f}")

    head = ["op"] + [f"{fw} µs" for fw in frameworks] + [f"ttorch / {fw}" for fw in frameworks if fw != "ttorch"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, res in rows:
        vals = [cell(res.get(fw)) for fw in frameworks]
        ratios = []
        for fw in frameworks:
            if fw == "ttorch":
                continue
            ratios.append(f"{res['ttorch'] / res[fw]:.2f}x" if fw in res and "ttorch" in res else "")
        lines.append("| " + " | ".join([name] + vals + ratios) + " |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer rounds and smaller sizes (a few seconds)")
    args = p.parse_args(argv)
    if torch is not None:
        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    frameworks = ["ttorch", "numpy"] + (["torch"] if torch is not None else [])
    rows = run(args.quick, frameworks)
    print(f"cpu, NumPy {np.__version__}" + (f", PyTorch {torch.__version__} ({torch.get_num_threads()} threads)"
                                           if torch is not None else ", PyTorch not installed") +
          f", ttorch {ttorch.__version__}; median of interleaved rounds\n")
    print(table(rows, frameworks))


if __name__ == "__main__":
    main()
