"""Ahead-of-time compilation of flex_attention's generated kernels, no GPU needed.

``aot_check()`` traces the common mods (causal, sliding window, document mask, alibi, relative bias),
generates their forward, dQ and dK/dV kernels and compiles each at the tiles ``_flex_kernels`` launches
for sm_80 and sm_90, reporting registers and ptxas's spill stores (must be 0). Run it in a process
without the interpreter::

    TRITON_INTERPRET=0 python -c "from ttorch.nn.attention import _flex_aot; _flex_aot.aot_check()"
"""
from ._flex_kernels import generate, _config, _CONFIGS, _BWD_CONFIGS


def _aot_mods():
    """(label, score_mod, mask_mod) of the common patterns; captured tensors on cpu (only traced)."""
    import ttorch as T
    from ._block_mask import noop_mask
    doc = T.zeros(4096, dtype=T.int32)
    slopes = T.ones(16)
    rel = T.zeros(2 * 4096 - 1)

    def causal(b, h, q, kv):
        return q >= kv

    def sliding(b, h, q, kv):
        return (q >= kv) & (q - kv <= 256)

    def document(b, h, q, kv):
        return doc[q] == doc[kv]

    def alibi(s, b, h, q, kv):
        return s + slopes[h] * (kv - q)

    def relative(s, b, h, q, kv):
        return s + rel[q - kv + 4095]

    learned = T.zeros(16, 2 * 4096 - 1, requires_grad=True)      # a learned bias table: the dQ kernel scatters

    def learned_bias(s, b, h, q, kv):
        return s + learned[h, q - kv + 4095]
    ident = (lambda s, b, h, q, kv: s)
    return [("causal", ident, causal), ("sliding_window", ident, sliding), ("document", ident, document),
            ("alibi", alibi, causal), ("relative_bias", relative, noop_mask), ("learned_bias", learned_bias, causal)]


_TABLE_ARGS = ("KVN", "KVI", "FKVN", "FKVI", "QN", "QI", "FQN", "FQI")


def aot_specs(dtypes=("fp16", "bf16", "fp32"), head_dims=(64, 128), kernels=("fwd", "dq", "dkdv")):
    """KernelSpecs of the generated kernels for ``_aot_mods`` x dtypes x head dims, at the tiles
    ``flex_forward`` picks for a 128 x 128 BlockMask."""
    from ...ops._aot import KernelSpec
    ptrs = {"Q": "d", "K": "d", "V": "d", "O": "d", "DO": "d", "DQ": "d", "DK": "d", "DV": "d", "LSE": "*fp32",
            "DELTA": "*fp32", "scale": "fp32"}
    specs = []
    for label, sm, mm in _aot_mods():
        gen = generate(sm, mm, "cpu")
        for which in kernels:
            kernel = gen[which]
            for dt in dtypes:
                for e in head_dims:
                    cfg = _config(dt == "fp32", e, _CONFIGS if which == "fwd" else _BWD_CONFIGS)
                    if cfg is None:         # (this backward takes the composite)
                        continue
                    bm, bn, warps, stages = cfg[:4]
                    sig = {}
                    for name in kernel.arg_names:
                        t = ptrs.get(name, "*i32" if name in _TABLE_ARGS else "i32")
                        sig[name] = "*" + dt if t == "d" else t
                    for name, t in zip(gen["cap_names"], gen["cap_vals"]):
                        if not isinstance(t, int):
                            sig[name] = "*" + {"float32": "fp32", "int32": "i32", "int64": "i64"}[t.dtype.name]
                    for name in kernel.arg_names:
                        if name.startswith("gp"):               # gradient buffers of captured tensors
                            sig[name] = "*fp32"
                    ce = {"E": e, "EV": e, "BE": e, "BEV": e, "BLOCK_M": bm, "BLOCK_N": bn, "SPARSE_Q": 128,
                          "SPARSE_KV": 128, "HAS_FULL": True, "PREC": "ieee"}
                    for k in ce:
                        sig.pop(k, None)
                    specs.append(KernelSpec(kernel, sig, ce, num_warps=warps, num_stages=stages,
                                            label=f"{label} {which} {dt} e{e}", maxnreg=(cfg + (None,))[4]))
    return specs


def aot_check(caps=(80, 90), **kw):
    """Compile ``aot_specs`` for each capability; returns the rows (``spills`` must be 0)."""
    rows = []
    for spec in aot_specs(**kw):
        for cap in caps:
            r = spec.compile(cap)
            rows.append(r)
            print(f"{r['label']:<32} sm_{cap} regs={r['regs']} spills={r['spills']} shared={r['shared']} "
                  f"{r['seconds']}s", flush=True)
    return rows
