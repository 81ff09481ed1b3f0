"""The harness's output: a Markdown table, the raw results as JSON, and PNG plots of size sweeps."""
import json
import math

from .peaks import percent


def _fmt(v, unit):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if unit == "us":
        return f"{v:,.1f}" if v >= 10 else f"{v:.2f}"
    return f"{v:.4f}" if v < 1 else f"{v:.3f}" if v < 100 else f"{v:,.1f}"


def row_stats(case, times, device_name):
    """Per row: throughput of ttorch and its share of the card's peak."""
    t = times.get("ttorch")
    out = {}
    if t is None or case.group == "host":
        return out
    if case.tokens:
        out["tokens/s"] = case.tokens / (t / 1e3)
    if case.bytes:
        out["GB/s"] = case.bytes / (t / 1e3) / 1e9
        out["% peak"] = percent(device_name, gbps=out["GB/s"])
    if case.flops:
        out["TFLOP/s"] = case.flops / (t / 1e3) / 1e12
        out["% peak"] = percent(device_name, tflops=out["TFLOP/s"], kind=case.kind)
    return out


def markdown(results, frameworks, header):
    """One table per group; times in ms (host rows in µs), ratios ttorch / peer."""
    peers = [f for f in frameworks if f != "ttorch"]
    titles = {"ops": "Kernels (ms per call)", "host": "Host cost (µs per op, synchronised per batch)",
              "e2e": "Training steps (ms per step)"}
    lines = [header, ""]
    for group in ("ops", "host", "e2e"):
        rows = [r for r in results if r["group"] == group]
        if not rows:
            continue
        head = ["case"] + [f"{f}" for f in frameworks] + [f"ttorch/{p}" for p in peers] + \
            ["throughput", "% peak"]
        lines += [f"### {titles[group]}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in rows:
            unit = "us" if group == "host" else "ms"
            t = r["times"]
            cells = [r["name"]] + [_fmt(t.get(f), unit) for f in frameworks]
            cells += [f"{t['ttorch'] / t[p]:.2f}x" if t.get(p) and t.get("ttorch") else "" for p in peers]
            s = r["stats"]
            thr = (f"{s['tokens/s']:,.0f} tok/s" if "tokens/s" in s else f"{s['TFLOP/s']:.2f} TFLOP/s"
                   if "TFLOP/s" in s else f"{s['GB/s']:.1f} GB/s" if "GB/s" in s else "")
            pk = s.get("% peak")
            cells += [thr, f"{pk:.0f}%" if pk is not None else ""]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def write_json(path, meta, results):
    with open(path, "w") as f:
        json.dump({"meta": meta, "results": results}, f, indent=1, default=str)


def plots(results, frameworks, outdir, device_name):
    """One PNG per size sweep: time per call against size, one line per framework. Needs matplotlib;
    returns the paths written (none without it)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    paths = []
    for sweep in sorted({r["sweep"] for r in results if r.get("sweep")}):
        rows = sorted((r for r in results if r.get("sweep") == sweep), key=lambda r: r["size"])
        if len(rows) < 2:
            continue
        fig, ax = plt.subplots(figsize=(6, 4))
        for f in frameworks:
            pts = [(r["size"], r["times"][f]) for r in rows if r["times"].get(f)]
            if pts:
                ax.plot(*zip(*pts), marker="o", label=f)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("size (elements)" if sweep.startswith("add") else "M = N = K")
        ax.set_ylabel("ms per call (lower is better)")
        ax.set_title(f"{sweep} on {device_name}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        path = f"{outdir}/{sweep.replace(' ', '_')}.png"
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
    return paths
