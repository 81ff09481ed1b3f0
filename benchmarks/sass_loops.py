"""Static instruction counts of kernels' inner loops, with no GPU: compile an op's AOT configurations
(``Op.specs()``) for one compute capability, disassemble the cubin with the nvdisasm Triton ships,
and count the SASS instructions between each backward branch and its target (a loop body, per
thread and iteration). A proxy for ALU-bound loops only: it says nothing of latency, occupancy or
memory, so it guides a choice that a GPU must then time (benchmarks/gpu_quick.py).

    python -m benchmarks.sass_loops --op flash_attention --label "fwd ttorch.float16 e64 causal dropout" \\
        --cap 90 --set DROP=0 BITS=0

``--set`` overrides constexprs (``warps=``/``stages=``/``maxnreg=`` the launch options). Prints registers, the
ttgir's layout conversions and each loop's instruction count; ``--sass FILE`` writes the disassembly.
"""
import argparse
import ast
import os
import re
import subprocess
import tempfile


def loop_lengths(sass):
    """Instructions in each loop of ``sass`` (nvdisasm text): from a branch's target back up to it."""
    lines = sass.splitlines()
    labels = {}
    for i, ln in enumerate(lines):
        m = re.match(r"\s*(\.L_x_\d+):", ln)
        if m:
            for nxt in lines[i + 1:]:
                a = re.match(r"\s*/\*([0-9a-f]+)\*/", nxt)
                if a:
                    labels[m.group(1)] = int(a.group(1), 16)
                    break
    out = []
    for ln in lines:
        m = re.match(r"\s*/\*([0-9a-f]+)\*/\s+(.*?);", ln)
        t = m and "BRA" in m.group(2) and re.search(r"(\.L_x_\d+)", m.group(2))
        if t and labels.get(t.group(1), 1 << 62) < int(m.group(1), 16):
            out.append((int(m.group(1), 16) - labels[t.group(1)]) // 16 + 1)     # 16 bytes an instruction
    return out


def compile_spec(spec, cap, overrides):
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource
    ce, sig = dict(spec.constexprs), dict(spec.signature)
    ce.update({k: v for k, v in overrides.items() if k not in ("warps", "stages", "maxnreg")})
    if ce.get("BITS", 1) == 0 and "bits_ptr" in sig and "q_ptr" in sig:      # (no mask: q stands in)
        sig["bits_ptr"] = sig["q_ptr"]
    for prm in spec.kernel.params:
        if prm.is_constexpr and prm.has_default and prm.name not in ce:
            ce[prm.name] = prm.default
    sig.update(dict.fromkeys(ce, "constexpr"))
    names = spec.kernel.arg_names
    attrs = {(names.index(a),): [["tt.divisibility", 16]] for a in spec.divisible}
    options = {"num_warps": overrides.get("warps", spec.num_warps), "num_stages": overrides.get("stages",
                                                                                                 spec.num_stages)}
    if "maxnreg" in overrides:
        options["maxnreg"] = overrides["maxnreg"]
    return triton.compile(ASTSource(fn=spec.kernel, signature=sig, constexprs=ce, attrs=attrs),
                          target=GPUTarget("cuda", cap, 32), options=options)


def main(argv=None):
    import triton
    from ttorch.ops import REGISTRY
    from ttorch.ops._aot import resource_usage
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--op", required=True)
    p.add_argument("--label", required=True, help="an AOT configuration's label (python -m ttorch.ops --compile)")
    p.add_argument("--cap", type=int, default=90)
    p.add_argument("--set", nargs="*", default=[], help="NAME=VALUE constexpr (or warps/stages) overrides")
    p.add_argument("--sass", help="also write the whole disassembly to this file")
    a = p.parse_args(argv)
    spec = next(s for s in REGISTRY[a.op].specs() if s.label == a.label)
    over = {k: ast.literal_eval(v) for k, v in (kv.split("=", 1) for kv in a.set)}
    k = compile_spec(spec, a.cap, over)
    nvdisasm = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "nvdisasm")
    with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
        f.write(k.asm["cubin"])
        f.flush()
        sass = subprocess.run([nvdisasm, "-c", f.name], capture_output=True, text=True, check=True).stdout
    if a.sass:
        with open(a.sass, "w") as f:
            f.write(sass)
    u = resource_usage(k.asm["cubin"])
    print(f"{a.label} sm_{a.cap} {over or ''}: registers {u['regs']}, stack {u['stack']}, layout conversions "
          f"{k.asm['ttgir'].count('ttg.convert_layout')}, loops {loop_lengths(sass)} instructions")


if __name__ == "__main__":
    main()
