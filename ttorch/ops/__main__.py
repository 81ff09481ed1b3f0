"""``python -m ttorch.ops``: list every op with its kernels, NumPy fallback, backward rule and tests.

``python -m ttorch.ops --compile 80,90`` compiles every kernel configuration ahead of time
for those compute capabilities (no GPU needed) and prints registers and shared memory per
kernel; each configuration also compiles once more with every integer argument the constexpr 1,
as Triton's launcher specializes it. The exit code is non-zero when any configuration fails.
"""
import argparse
import os
import sys
import traceback
from concurrent.futures import ProcessPoolExecutor

os.environ.pop("TRITON_INTERPRET", None)  # AOT compilation needs JITFunctions, not the interpreter


def _table():
    from ttorch.ops import REGISTRY
    rows = []
    for name, op in sorted(REGISTRY.items(), key=lambda kv: (kv[1].family, kv[0])):
        specs = op.specs()
        kernels = sorted({s.name for s in specs})
        samples = op.samples() if op.samples else []
        if op.impl is not None:
            kern = "(views/composite: no kernel of its own)"
            fallback = "(same code on both devices)"
        else:
            kern = ", ".join(kernels) + f" [{len(specs)} configs]" if specs else "-"
            fallback = "yes" if op.cpu is not None else "-"
        grad = "yes" if op.backward is not None else "-"
        tests = f"{len(samples)} samples" + (" +grad" if op.backward and any(s.grad for s in samples) else "")
        rows.append((op.family, name, kern, fallback, grad, tests if samples else "tests in tests/"))
    return rows


def _specs_of(name):
    """An op's configurations, or (``tune:NAME``) those a Tunable adds for its tuner."""
    if name.startswith("tune:"):
        from ttorch import tune
        return tune.registered()[name[5:]].specs()
    from ttorch.ops import REGISTRY
    return REGISTRY[name].specs()


def _compile_one(args):
    op_name, idx, cap, ones = args
    spec = _specs_of(op_name)[idx]
    if ones:
        spec = spec.with_ones()
    try:
        r = spec.compile(cap)
        r["op"] = op_name
        return r
    except Exception as e:  # report and keep going: every failure is listed
        return {"op": op_name, "kernel": spec.name, "label": spec.label, "cap": cap,
                "error": f"{type(e).__name__}: {str(e).strip().splitlines()[-1] if str(e).strip() else ''}",
                "trace": traceback.format_exc()}


def _jobs(names, caps):
    """``(op, spec index, cap, every int 1)`` for each configuration of each op to compile: each cap
    from the spec's ``min_cap`` up (a TMA kernel: Hopper only), and once with every int argument 1
    per code path; a configuration shared by several ops compiles once."""
    jobs, seen = [], set()
    for name in names:
        for i, s in enumerate(_specs_of(name)):
            key = (s.name, s.label)
            if key in seen:
                continue
            seen.add(key)
            jobs.extend((name, i, c, False) for c in caps if c >= s.min_cap)
            code_path = _code_path(s)
            if code_path not in seen and max(caps) >= s.min_cap:
                seen.add(code_path)
                jobs.append((name, i, max(caps), True))
    return jobs


def _code_path(spec):
    """What decides which lines of a kernel compile: its bool, string and function constexprs
    (dtypes and block sizes change the types and shapes, not the path)."""
    keep = []
    for k, v in sorted(spec.constexprs.items()):
        if isinstance(v, (bool, str)) or v is None:
            keep.append((k, v))
        elif callable(v) or hasattr(v, "fn"):
            keep.append((k, getattr(v, "__name__", None) or getattr(getattr(v, "fn", None), "__name__", repr(v))))
    return ("ints=1", spec.name, tuple(keep))


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m ttorch.ops", description=__doc__.splitlines()[0])
    ap.add_argument("--compile", metavar="CAPS", help="compute capabilities to compile for, e.g. 80,90")
    ap.add_argument("--only", help="only ops whose name contains this")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    a = ap.parse_args(argv)
    import ttorch  # noqa: F401  (registers every op)
    from ttorch.ops import REGISTRY
    if not a.compile:
        rows = _table()
        head = ("family", "op", "Triton kernels", "NumPy fallback", "backward", "tests")
        w = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
        for r in [head] + rows:
            print("  ".join(str(c).ljust(w[i]) for i, c in enumerate(r)).rstrip())
        print(f"\n{len(rows)} ops")
        return 0
    caps = [int(c) for c in a.compile.split(",")]
    from ttorch import tune
    names = sorted(REGISTRY) + sorted(f"tune:{n}" for n, t in tune.registered().items() if t.specs)
    jobs = _jobs([n for n in names if not a.only or a.only in n], caps)
    failures, spills = 0, []
    with ProcessPoolExecutor(max_workers=a.jobs) as ex:
        for r in ex.map(_compile_one, jobs):
            if "error" in r:
                failures += 1
                print(f"FAIL sm_{r['cap']} {r['op']:<20} {r['kernel']} [{r['label']}]: {r['error']}")
                print(r["trace"], file=sys.stderr)
            else:
                # ptxas's "bytes spill stores" (None: a stack frame it did not explain, counted as spills)
                spill = "" if r.get("spills") == 0 else f" SPILLS {r.get('spills')}B (stack {r.get('stack')}B)"
                if spill:
                    spills.append(r)
                frame = f" stack={r['stack']}B" if r.get("stack") and not spill else ""
                print(f"ok   sm_{r['cap']} {r['op']:<20} {r['kernel']:<24} {r['label']:<36} regs={r['regs']} "
                      f"shared={r['shared']} warps={r['num_warps']}{frame}{spill} ({r['seconds']}s)")
    for cap in caps:
        n = sum(r["cap"] == cap for r in spills)
        print(f"sm_{cap}: {n} configuration{'s' if n != 1 else ''} spill registers to local memory")
    print(f"\n{len(jobs) - failures} compiled, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
