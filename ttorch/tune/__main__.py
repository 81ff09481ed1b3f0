"""Tune ttorch's kernels on this GPU and store the winners: ``python -m ttorch.tune``.

    python -m ttorch.tune                 # every registered kernel, full problem sets
    python -m ttorch.tune --op softmax    # one (or a comma-separated few)
    python -m ttorch.tune --quick         # one small problem per kernel (also runs under TRITON_INTERPRET=1)
    python -m ttorch.tune --list          # what can be tuned, and the stored winners

Winners go to the cache file (``TTORCH_TUNE_CACHE`` or ``~/.cache/ttorch/tune.json``), in the section
of this GPU and Triton version; ttorch reads it at import.
"""
import argparse
import sys
import time


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m ttorch.tune", description=__doc__.splitlines()[0])
    ap.add_argument("--op", help="comma-separated kernel names (default: all)")
    ap.add_argument("--quick", action="store_true", help="one small problem per kernel")
    ap.add_argument("--list", action="store_true", help="list tunable kernels and stored winners")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every configuration's time")
    a = ap.parse_args(argv)
    import ttorch  # noqa: F401  (its ops register their Tunables)
    from ttorch import tune
    from ttorch.tune import cache
    names = sorted(tune.registered())
    if a.op:
        wanted = a.op.split(",")
        unknown = [w for w in wanted if w not in names]
        if unknown:
            ap.error(f"unknown kernel(s) {unknown}; tunable: {', '.join(names)}")
        names = wanted
    print(f"cache: {cache.path()}  section: {cache.section_name()}")
    if a.list:
        for n in names:
            t = tune.registered()[n]
            w = tune.winners(n)
            print(f"{n}: {t.doc or ''} ({len(w)} stored bucket(s))")
            for b, c in sorted(w.items(), key=str):
                print(f"    {list(b)}: {c}")
        return 0
    for n in names:
        t0 = time.time()
        # saved after each kernel, so a run cut short keeps what it finished
        best = tune.tune(n, quick=a.quick, save=True, log=print if a.verbose else None)
        for b, (cfg, ms) in sorted(best.items(), key=lambda kv: str(kv[0])):
            print(f"{n} {list(b)}: {cfg}  {ms:.4f} ms")
        print(f"{n}: {len(best)} bucket(s) tuned in {time.time() - t0:.1f} s")
    print(f"wrote {tune.cache_path()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
