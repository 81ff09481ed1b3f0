"""A list-scheduling model of a causal attention grid's order (the kernels' ``_lpt``), with no GPU.

Program ``p`` of a causal forward (or dQ) grid takes one query block of one head; block ``i`` of ``n``
(from the top) sees ``i + 1`` key blocks, so its work is ``i + 1`` key blocks plus a fixed cost (Q, O
and the epilogue, ``--fixed`` key blocks' worth). The GPU hands programs to SMs in grid order as
slots free up, up to ``--per-sm`` at once an SM; an SM's programs share its throughput, and a program
alone can use at most ``--alone`` of it (the rest of the SM idles: one program can't hide its own
latencies). The model prints the grid's end time for three orders:

- ``per head``: each head's blocks longest first, heads one after another (the order before
  ``attention._LPT_L2``);
- ``sections``: heads in sections of ``--section``, every head's longest block, then every head's
  next (``_lpt``);
- ``global``: one section of every head.

It is a model, not a measurement: gpu_quick's ``head_order`` arms time the orders on a GPU.

    python -m benchmarks.grid_order --blocks 32 --heads 64 --per-sm 3 --section 32
"""
import argparse


def orders(blocks, heads, section, fixed=1.0):
    """The work (in key blocks) of each program in grid order, for each of the three orders."""
    work = lambda rank: blocks - rank + fixed                                 # noqa: E731  (rank 0: the longest)
    per_head = [work(p % blocks) for p in range(blocks * heads)]
    sections = []
    for s0 in range(0, heads, section):
        g = min(section, heads - s0)
        sections += [work(r // g) for r in range(g * blocks)]
    return {"per head": per_head, "sections": sections, "global": [work(p // heads) for p in range(blocks * heads)]}


def makespan(work, sms, per_sm, alone):
    """When the last program ends: programs start in order on the first free slot; an SM with ``n``
    resident programs advances each at ``min(alone, 1 / n)`` of its throughput."""
    left = [[] for _ in range(sms)]          # each SM's resident programs' remaining work
    queue = list(reversed(work))
    t = 0.0
    for sm in left:
        while len(sm) < per_sm and queue:
            sm.append(queue.pop())
    while any(left):
        rate = [min(alone, 1.0 / len(sm)) if sm else 0.0 for sm in left]
        dt = min(min(sm) / r for sm, r in zip(left, rate) if sm)
        t += dt
        for sm, r in zip(left, rate):
            sm[:] = [w - r * dt for w in sm if w - r * dt > 1e-9]
            while len(sm) < per_sm and queue:
                sm.append(queue.pop())
    return t


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--blocks", type=int, default=32, help="query blocks a head (L / BLOCK_M)")
    p.add_argument("--heads", type=int, default=64, help="batch x heads")
    p.add_argument("--section", type=int, default=32, help="heads a section (attention._sections)")
    p.add_argument("--sms", type=int, default=132)
    p.add_argument("--per-sm", type=int, default=3, help="programs resident an SM")
    p.add_argument("--alone", type=float, default=0.55, help="share of an SM one program uses alone")
    p.add_argument("--fixed", type=float, default=1.0, help="a program's fixed cost, in key blocks")
    a = p.parse_args(argv)
    ends = {name: makespan(w, a.sms, a.per_sm, a.alone)
            for name, w in orders(a.blocks, a.heads, a.section, a.fixed).items()}
    for name, t in ends.items():
        print(f"{name:9s} {t:9.1f}  ({t / ends['per head']:.3f} of per head)")
    return ends


if __name__ == "__main__":
    main()
