"""GPU diagnostics beyond ``python -m benchmarks``: where the host time of a 1-element op goes
(allocation, Triton's launch, our wrapper), and A/B timings of choices made without a GPU.

    PYTHONPATH=. python benchmarks/gpu_quick.py [--json out.json] [--arms prefix,...]
"""
import argparse
import json
import statistics
import sys
import time

import ttorch

from benchmarks.timing import CudaTimer, host_us


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json")
    ap.add_argument("--arms", help="comma-separated prefixes: only the A/B checks with an arm so named")
    args = ap.parse_args()
    timer = CudaTimer()
    rows = []
    if args.arms:
        prefixes = tuple(args.arms.split(","))
        picked = lambda arms: timer(arms) if any(a.startswith(prefixes) for a in arms) else {}   # noqa: E731
        for case, ms in _ab_checks(picked):
            if ms:
                print(f"{case}: " + ", ".join(f"{k} {v:.4f} ms" for k, v in ms.items()), flush=True)
                rows.append(dict(case=case, **{f"{k}_ms": v for k, v in ms.items()}))
        if args.json:
            with open(args.json, "w") as f:
                json.dump(dict(device=ttorch.cuda.get_device_name(0), rows=rows), f, indent=1)
        return
    one = ttorch.ones(1, device="cuda")
    sync = {"ttorch": ttorch.cuda.synchronize}
    # where the host time of a 1-element op goes: allocation, the Triton launch, our wrapper
    from ttorch.ops import elementwise as E, binary as B
    import triton.language as tl
    out = ttorch.empty(1, device="cuda")

    def raw():
        E.launch(E._ew_contig_kernel, (1,), out, one, one, None, 1, 0, 0, FN=B._add, NIN=2, A_SCALAR=False,
                 B_SCALAR=False, C_SCALAR=False, COMPUTE=tl.float32, BLOCK=128, num_warps=4)
    from ttorch.ops import _launch as L

    def triton_path(fn):            # the same call with ttorch's launch fast path off
        def f():
            L._FAST_ON[0] = False
            try:
                fn()
            finally:
                L._FAST_ON[0] = fast
        return f
    fast = L._FAST_ON[0]
    print(f"launch fast path: {'on' if fast else 'off'}")
    for name, fn in (("ttorch.empty(1)", lambda: ttorch.empty(1, device="cuda")),
                     ("launch of _ew_contig_kernel (fast path)", raw),
                     ("launch of _ew_contig_kernel (Triton's JIT call)", triton_path(raw)),
                     ("one + one", lambda: one + one),
                     ("one + one (Triton's JIT call)", triton_path(lambda: one + one)),
                     ("ttorch.add(one, one, out=out)", lambda: ttorch.add(one, one, out=out))):
        h = host_us({"ttorch": fn}, sync)["ttorch"]
        print(f"host µs {name}: {h:.2f}")
        rows.append(dict(case=f"host us {name}", ttorch_us=h))
    if fast:                        # the fast path through CompiledKernel.run, not the C launch behind it
        cls, L._LAUNCHER_CLS[0] = L._LAUNCHER_CLS[0], None
        L._FAST.clear()
        try:
            h = host_us({"ttorch": raw}, sync)["ttorch"]
        finally:
            L._LAUNCHER_CLS[0] = cls
            L._FAST.clear()
        print(f"host µs launch of _ew_contig_kernel (fast path via CompiledKernel.run, direct C launch "
              f"{'on' if cls else 'off'} otherwise): {h:.2f}")
        rows.append(dict(case="host us launch via CompiledKernel.run", ttorch_us=h))
    # the host time of a step split three ways: kernels launched, issued without waiting, Python alone
    for name, us in _host_split(ttorch.cuda.synchronize):
        print(f"host µs {name}: " + ", ".join(f"{k} {v:.1f}" for k, v in us.items()))
        rows.append(dict(case=f"host split {name}", **{f"{k}_us": v for k, v in us.items()}))
    # clip_grad_norm_ over GPT-2-small's 148 gradients: the foreach ops (3 launches) or a norm and a
    # mul_ a gradient
    ps = []
    for shape in [(768,)] * 100 + [(768, 768)] * 24 + [(3072, 768)] * 24:
        p = ttorch.nn.Parameter(ttorch.zeros(*shape, device="cuda"))
        p.grad = ttorch.randn(*shape, device="cuda")
        ps.append(p)
    for fe in (None, False):
        h = host_us({"ttorch": lambda: ttorch.nn.utils.clip_grad_norm_(ps, 1.0, foreach=fe)}, sync, n=20)["ttorch"]
        print(f"host µs clip_grad_norm_ of 148 gradients, foreach={fe}: {h:.1f}")
        rows.append(dict(case=f"host us clip_grad_norm_ 148 gradients foreach={fe}", ttorch_us=h))
    ps.clear()
    # A/B checks of choices made without a GPU (each pair timed interleaved in one timer call)
    for case, ms in _ab_checks(timer):
        print(f"{case}: " + ", ".join(f"{k} {v:.4f} ms" for k, v in ms.items()))
        rows.append(dict(case=case, **{f"{k}_ms": v for k, v in ms.items()}))
    # bf16 4096^3 as the harness times it (one call after an L2 flush: host time past the flush's shows)
    # and back to back (20 calls between two events: the kernel's own pace), and its host time
    a16, b16 = (ttorch.randn(4096, 4096, device="cuda").to(ttorch.bfloat16) for _ in range(2))
    mm = lambda: a16 @ b16                                            # noqa: E731

    def twenty():
        for _ in range(20):
            mm()
    one_ms, twenty_ms = timer({"one": mm, "twenty": twenty}).values()
    print(f"matmul bf16 4096^3: {one_ms:.4f} ms one call after a flush, {twenty_ms / 20:.4f} ms a call back to back")
    rows.append(dict(case="matmul bf16 4096^3", one_ms=one_ms, back_to_back_ms=twenty_ms / 20))
    # the host time of a product, on a 256^3 one (its kernel far shorter than its host path), with the
    # pointer kernel and with the persistent TMA tile (forced as a tuned winner, in this process only)
    from ttorch import tune
    from ttorch.ops import gemm
    s16, t16 = (ttorch.randn(256, 256, device="cuda").to(ttorch.bfloat16) for _ in range(2))
    key = gemm._tune_key(ttorch.bfloat16, "ieee", 256, 256, 256)
    won = tune._section().setdefault("gemm", {})
    for name, cfg in (("pointer kernel", None), ("persistent TMA", gemm._as_config((128, 256, 64, 8, 8, 3, 2)))):
        old = won.pop(key, None)
        if cfg is not None:
            won[key] = cfg
        try:
            h = host_us({"ttorch": lambda: s16 @ t16}, sync, n=500)["ttorch"]
        finally:
            won.pop(key, None)
            if old is not None:
                won[key] = old
        print(f"host µs matmul bf16 256^3, {name}: {h:.2f}")
        rows.append(dict(case=f"host us matmul bf16 256^3 {name}", ttorch_us=h))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(device=ttorch.cuda.get_device_name(0), rows=rows), f, indent=1)


def _issue_us(fn, n, sync, rounds=5):
    """Median µs per call to issue ``n`` calls, not counting the wait for the GPU after them (when the
    GPU keeps up, this is the host's own time; when it falls behind, launches block and it shows)."""
    samples = []
    for _ in range(rounds):
        sync()
        t = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - t) / n * 1e6)
        sync()
    return statistics.median(samples)


def _host_split(sync, small=False):
    """Per case, µs per call: ``synced`` (n calls, then the wait for the GPU: ``host_us``), ``issued``
    (the n calls alone) and ``python`` (the same with every launch a no-op: the launch fast path's
    cached entries swapped for a function that does nothing and the plans made again over them, so
    what remains is ttorch's own Python;
    ``issued - python`` is Triton's C launch and the driver). Tells a host-bound step from a
    GPU-bound one, and what of the host time a faster dispatch could win."""
    from ttorch.ops import _launch as L, _plan
    from benchmarks.models import _mlp, _cnn
    one = ttorch.ones(1, device="cuda")
    x = ttorch.randn(8, 16, device="cuda")
    lin = ttorch.nn.Linear(16, 16).to("cuda")

    def small_fwd_bwd():
        lin(x).relu().sum().backward()
    width, batch = (32, 8) if small else (1024, 256)
    cases = [("one + one", lambda: one + one, 20 if small else 2000),
             ("linear+relu+sum fwd+bwd 8x16", small_fwd_bwd, 5 if small else 200),
             (f"MLP step 784-{width}-{width}-10, batch {batch}", _mlp(ttorch, "cuda", batch, width),
              2 if small else 20)]
    if not small:                       # (its convolutions take minutes on the simulated device)
        cases.append(("CNN step 2 conv + BN, batch 128", _cnn(ttorch, "cuda", 128), 20))

    def noop(*args):
        return None
    out = []
    for name, fn, n in cases:
        fn()
        us = dict(synced=host_us({"ttorch": fn}, {"ttorch": sync}, n=n)["ttorch"], issued=_issue_us(fn, n, sync))
        saved = dict(L._FAST)
        L._FAST.update({k: (noop, head, tail) for k, (run, head, tail) in saved.items()})
        _plan.clear()                   # plans hold launchers of their own: made again, with the no-ops
        try:
            us["python"] = _issue_us(fn, n, sync)
        finally:
            L._FAST.clear()
            L._FAST.update(saved)
            _plan.clear()
        out.append((name, us))
    return out


def _ab_checks(timer, small=False):
    """float32 attention with and without its transposed operand copies (attention._T_COPY), and with
    dQ by atomics or by its own kernel (attention._DQ_ATOMIC), at the GPT-2-like step's shape; the
    same for fp16 at the harness's head dim 64 (attention._DQ_ATOMIC_HALF), and with the dK/dV
    kernel's Q and dO (head dim 64), or the dQ kernel's K and V (64 and 128), by TMA
    (attention._BWD_TMA, _DQ_TMA), and with the tiles the H100 tuned before the spill-free rule
    (``spilled_*``, forced: what the spill-free tiles cost or gain); the fp16 forward's K and V by
    pointer loads or TMA (attention._FWD_TMA), and its rows' maxima after scaling
    (``scaled_max``: attention._RAW_MAX off; causal launches take them before); causal grids'
    programs a head after another (``head_order*``: attention._LPT_L2 0) against sections of heads
    longest first; float32
    x @ W^T with and without the row-major copy of W
    (gemm._FMA_ROW_MAJOR_B_FROM_M) and the (K, M) copy of x (gemm._FMA_M_MAJOR_A_FROM_N); a
    3-channel convolution's forward and weight gradient with (channel, tap) as one axis or taps
    outside (conv._taps_outside), on TF32 (PyTorch's default cudnn.allow_tf32) or IEEE FMAs; a
    classifier head's product with and without split K (gemm._split_k); a transposing copy by tiles
    or by the elementwise kernel
    (elementwise._T_MIN); TF32 with a row-major B copied K-major or read in place
    (gemm._TF32_K_MAJOR_FROM, Hopper); untuned large bf16 products in the persistent TMA kernel or
    the plain one (gemm._TMA_TILE); weight gradients over a long K split or whole (gemm._SPLIT_FILL);
    the loops of the cross-entropy forward and backward, a full sum's split stage and layer_norm's
    backward, plain or pipelined (a tuned config's STAGES);
    AdamW's many-tensor update with 16-byte or 4-byte accesses (optim._update._VECTOR); an input
    gradient with 768 columns, its A read row-major or copied (gemm._FMA_M_MAJOR_A_FROM_N).
    ``small``: the same code on toy shapes (the tests run it on the simulated device)."""
    d = 16 if small else 1
    import ttorch.nn.functional as F
    from ttorch.ops import attention, conv, gemm

    def toggled(fn, obj, name, value):
        def f():
            old = getattr(obj, name)
            setattr(obj, name, value)
            try:
                return fn()
            finally:
                setattr(obj, name, old)
        return f
    q, k, v = (ttorch.randn(8 // min(d, 8), 12 // min(d, 12), 1024 // d, 64 // 4 if small else 64, device="cuda",
                            requires_grad=True) for _ in range(3))

    def fwd_():
        with ttorch.no_grad():
            F.scaled_dot_product_attention(q, k, v, is_causal=True)

    def step_():
        F.scaled_dot_product_attention(q, k, v, is_causal=True).sum().backward()
    # the FMA kernels' arms (attention._FP32_DOT "ieee"; the default is "tf32x3")
    sdpa_fwd, sdpa_step = (toggled(f, attention, "_FP32_DOT", ["ieee"]) for f in (fwd_, step_))
    yield "sdpa fp32 causal B8 H12 T1024 D64 fwd", timer(
        {"t_copy": sdpa_fwd, "in_place": toggled(sdpa_fwd, attention, "_T_COPY", [False])})
    # spilled_w4: the H100's tuned winners, 32x32 over 4 warps, which spill on sm_90 (dK/dV 1.5-1.8 KiB a
    # thread): the defaults became the spill-free 8 warps; this arm measures what that costs or gains
    spilled_w4 = {"fwd": (32, 32, 4, 2), "dkdv": (32, 32, 4, 2)}
    yield "... fwd+bwd", timer({"t_copy": sdpa_step, "in_place": toggled(sdpa_step, attention, "_T_COPY", [False]),
                                "dq_kernel": toggled(sdpa_step, attention, "_DQ_ATOMIC", [False]),
                                "spilled_w4": toggled(sdpa_step, attention, "_FORCE", spilled_w4)})
    # the harness's fp16 attention (B 4, 16 heads, T 2048, causal): dQ by its own kernel or by atomics
    # from the dK/dV kernel (attention._DQ_ATOMIC_HALF, off), the dQ kernel in one loop with every mask
    # (dq_one_loop: attention._DQ_SPLIT off), the backward's tiles by TMA; the dK/dV
    # kernel's two switches apply up to head dim 64 (attention._SWITCHED_DKDV_MAX_E), dQ by atomics on
    # Hopper to 128 for these multi-head launches (attention._MHA_DQ_ATOMIC_MAX_E)
    for e in (64, 128):
        qh, kh, vh = (ttorch.randn(4 // min(d, 4), 16 // d, 2048 // (32 if small else 1), e // (8 if small else 1),
                                   device="cuda").to(ttorch.float16).requires_grad_() for _ in range(3))

        def half_step(qh=qh, kh=kh, vh=vh):
            F.scaled_dot_product_attention(qh, kh, vh, is_causal=True).float().sum().backward()
        # spilled_dkdv: the dK/dV tile the H100 tuned before the spill-free rule (head dim 64 32x64 w4: 12-44
        # B a thread; 128 64x64 w8: 140-180 B)
        spilled = {"dkdv": (32, 64, 4, 3) if e == 64 else (64, 64, 8, 2)}
        # mha_old_dkdv: the dK/dV tile a launch looping over a head group takes, the tables' (a multi-head
        # one takes attention._MHA_TILES', untuned: chosen on static counts); equal to the default when tuned
        old = {"dkdv": attention._config("dkdv", e, ttorch.float16, True, sm90=attention._sm90(0))}
        arms = {"dq_kernel_half": half_step, "dq_tma": toggled(half_step, attention, "_DQ_TMA", [True]),
                "spilled_dkdv": toggled(half_step, attention, "_FORCE", spilled),
                "mha_old_dkdv": toggled(half_step, attention, "_FORCE", old),
                "dq_one_loop": toggled(half_step, attention, "_DQ_SPLIT", [False]),
                "head_order": toggled(half_step, attention, "_LPT_L2", [0])}
        if e <= attention._SWITCHED_DKDV_MAX_E or attention._sm90(0) and e <= attention._MHA_DQ_ATOMIC_MAX_E:
            arms.update(atomic_dq_half=toggled(half_step, attention, "_DQ_ATOMIC_HALF", [True]))
        if e <= attention._SWITCHED_DKDV_MAX_E:
            arms.update(dkdv_tma=toggled(half_step, attention, "_BWD_TMA", [True]))
        yield f"sdpa fp16 causal B4 H16 T2048 D{e} fwd+bwd", timer(arms)
    # grouped-query attention (16 query heads, 4 K/V heads; head dim 128, as Llama's): the dK/dV kernel
    # spanning each head group in one loop with _MHA_TILES' tile (attention._GQA_SPAN) or looping over
    # the group's heads with the table's tile
    qg = ttorch.randn(4 // min(d, 4), 16 // min(d, 4), 2048 // (32 if small else 1), 128 // (8 if small else 1),
                      device="cuda").to(ttorch.float16).requires_grad_()
    kg, vg = (ttorch.randn(4 // min(d, 4), 4 // min(d, 4), 2048 // (32 if small else 1), 128 // (8 if small else 1),
                           device="cuda").to(ttorch.float16).requires_grad_() for _ in range(2))

    def gqa_step():
        F.scaled_dot_product_attention(qg, kg, vg, is_causal=True, enable_gqa=True).float().sum().backward()
    yield "sdpa fp16 causal GQA B4 H16 Hkv4 T2048 D128 fwd+bwd", timer(
        {"gqa_span": gqa_step, "gqa_loop": toggled(gqa_step, attention, "_GQA_SPAN", [False]),
         "head_order_gqa": toggled(gqa_step, attention, "_LPT_L2", [0])})
    # the harness's fp16 forward, K and V tiles by pointer loads (cp.async) or by TMA (attention._FWD_TMA)
    for e in (64, 128):
        qf, kf, vf = (ttorch.randn(4 // min(d, 4), 16 // d, 2048 // (32 if small else 1), e // (4 if small else 1),
                                   device="cuda").to(ttorch.float16) for _ in range(3))

        def half_fwd(qf=qf, kf=kf, vf=vf):
            with ttorch.no_grad():
                F.scaled_dot_product_attention(qf, kf, vf, is_causal=True)
        yield f"sdpa fp16 causal B4 H16 T2048 D{e} fwd", timer(
            {"kv_pointers": half_fwd, "kv_tma": toggled(half_fwd, attention, "_FWD_TMA", [True]),
             "scaled_max": toggled(half_fwd, attention, "_RAW_MAX", [False]),
             "head_order_fwd": toggled(half_fwd, attention, "_LPT_L2", [0])})
    x, w = ttorch.randn(8192 // min(d, 4), 768 // d, device="cuda"), ttorch.randn(3072 // d, 768 // d, device="cuda")
    fn = lambda: F.linear(x, w)                                       # noqa: E731
    yield "linear fp32 8192x768 -> 3072 (x @ W^T)", timer(
        {"row_major_copy": fn, "b_in_place": toggled(fn, gemm, "_FMA_ROW_MAJOR_B_FROM_M", 1 << 62),
         "a_in_place": toggled(fn, gemm, "_FMA_M_MAJOR_A_FROM_N", 1 << 62)})
    img = ttorch.randn(128 // d, 3, 32 // (4 if small else 1), 32 // (4 if small else 1), device="cuda")
    wc = ttorch.randn(32, 3, 3, 3, device="cuda", requires_grad=True)

    def conv_step():
        F.conv2d(img, wc, padding=1).sum().backward()
    from ttorch.backends import cudnn
    yield "conv2d fp32 128x3x32x32 -> 32 fwd+wgrad", timer(
        {"flat": conv_step, "taps": toggled(conv_step, conv, "_taps_outside", lambda *a: True),
         "ieee": toggled(conv_step, cudnn, "allow_tf32", False)})
    h, wh = ttorch.randn(128 // d, 4096 // d, device="cuda"), ttorch.randn(10, 4096 // d, device="cuda")
    fn = lambda: F.linear(h, wh)                                      # noqa: E731
    yield "linear fp32 128x4096 -> 10", timer({"split_k": fn, "one_part": toggled(fn, gemm, "_split_k",
                                                                                  lambda *a: None)})
    from ttorch.ops import elementwise
    big = ttorch.randn(8192 // (32 if small else 1), 8192 // (32 if small else 1), device="cuda")
    fn = lambda: big.t().contiguous()                                 # noqa: E731
    yield "copy fp32 8192x8192 transposed (x.t().contiguous())", timer(
        {"tiles": fn, "elementwise": toggled(fn, elementwise, "_T_MIN", 1 << 62)})
    s = 4096 // (16 if small else 1)      # small: still _TF32_K_MAJOR_FROM rows
    ta, tb = ttorch.randn(s, s, device="cuda"), ttorch.randn(s, s, device="cuda")

    def tf32():
        old = ttorch.backends.cuda.matmul.allow_tf32
        ttorch.backends.cuda.matmul.allow_tf32 = True
        try:
            ta @ tb
        finally:
            ttorch.backends.cuda.matmul.allow_tf32 = old
    yield "matmul tf32 4096^3 (B row-major)", timer(
        {"k_major_copy": tf32, "b_row_major": toggled(tf32, gemm, "_TF32_K_MAJOR_FROM", 1 << 62)})
    # untuned large half products on Hopper: the persistent TMA kernel's tile (gemm._TMA_TILE) or the
    # same tile in the plain kernel (CONFIGS[7], the default before)
    for m, n, kk in ((8192, 8192, 8192), (4096, 4096, 11008), (4096, 11008, 4096)):
        m, n, kk = (m // 32, n // 32, kk // 32) if small else (m, n, kk)
        yield f"matmul bf16 {m}x{n}x{kk} untuned tile", timer(
            {t: gemm._tune_bench(gemm._as_config(tile), "bfloat16", "ieee", m, n, kk)
             for t, tile in (("tma_tile", gemm._TMA_TILE), ("plain_tile", gemm.CONFIGS[7]))})
    dy = ttorch.randn(8192 // d, 768 // d, device="cuda")
    for n in (768, 3072):
        xs = ttorch.randn(8192 // d, n // d, device="cuda")
        fn = lambda xs=xs: dy.t() @ xs                                 # noqa: E731
        yield f"weight gradient fp32 768x{n} over 8192 (dY^T @ X)", timer(
            {"split_long_k": fn, "whole_k": toggled(fn, gemm, "_SPLIT_FILL", 0)})
    # the cross-entropy forward's and backward's loops over class blocks at the untuned heuristic's block
    # and warps: plain, or software-pipelined (a tuned STAGES; the H100 ran both at 75-77% of HBM plain)
    from ttorch import tune
    from ttorch.ops import cross_entropy
    logits = ttorch.randn(8192 // (32 if small else 1), 32768 // (32 if small else 1), device="cuda")
    labels = ttorch.randint(0, logits.shape[1], (logits.shape[0],), device="cuda")
    saved = cross_entropy._fwd_cuda(logits, labels, ignore_index=-100)          # (loss, lse) rows
    plain = cross_entropy._tune_heuristic(("fwd", "float32", logits.shape[1]))
    loops = {f"stages_{st}" if st else "plain_loop": tune.Config(dict(plain.kwargs, STAGES=st), num_warps=plain.num_warps)
             for st in (None, 2, 3)}
    yield f"cross_entropy fp32 {logits.shape[0]}x{logits.shape[1]} forward", timer(
        {k: (lambda c=c: cross_entropy._fwd_cuda(logits, labels, ignore_index=-100, cfg=c)) for k, c in loops.items()})
    yield f"cross_entropy fp32 {logits.shape[0]}x{logits.shape[1]} backward", timer(
        {"bwd_" + k: (lambda c=c: cross_entropy._bwd_cuda(saved, logits, saved, labels, ignore_index=-100, cfg=c))
         for k, c in loops.items()})
    # a full sum's split stage at the untuned heuristic's tile, plain or pipelined (76% of HBM on the H100)
    from ttorch.ops import reduction
    n = 1 << (12 if small else 26)
    yield f"sum fp32 {n:,}", timer(
        {f"sum_stages_{st}" if st else "sum_plain_loop":
         reduction._split_bench(tune.Config({"BLOCK_N": 1024, "MAX_SPLIT": 1024, "STAGES": st}, num_warps=4),
                                "float32", n) for st in (None, 2, 3)})
    # layer_norm's backward at the harness's size (68% of HBM forward and backward on the H100): its
    # row loop plain or pipelined, at the untuned heuristic's programs and warps
    from ttorch.ops import layer_norm
    xn, gn, wn = (ttorch.randn(*s, device="cuda") for s in ((8192 // d, 8192 // d), (8192 // d, 8192 // d),
                                                            (8192 // d,)))
    arms, plain = {}, layer_norm._tune_heuristic(("bwd", "float32", 8192 // d))
    for name, stages in (("ln_bwd_plain_loop", None), ("ln_bwd_stages_2", 2)):
        cfg = tune.Config(dict(plain.kwargs, STAGES=stages), num_warps=plain.num_warps)
        arms[name] = (lambda cfg=cfg: layer_norm._bwd_cuda(gn, xn, wn, k=1, eps=1e-5, rms=False, cfg=cfg))
    yield f"layer_norm backward fp32 {xn.shape[0]}x{xn.shape[1]}", timer(arms)
    # AdamW's many-tensor update at the harness's size: 16-byte accesses in whole blocks when every
    # address is aligned (optim._update._VECTOR), or 4-byte ones throughout (the kernel before)
    from benchmarks.cases import optimizer_cases
    from ttorch.optim import _update
    (case,) = optimizer_cases({"ttorch": ttorch}, "cuda", quick=False, shapes=[(40, 24), (100,)] if small else None)
    step = case.setups["ttorch"]()
    yield f"{case.name} (AdamW)", timer(
        {"aligned_vectors": step, "scalar_accesses": toggled(step, _update, "_VECTOR", [False])})
    # the GPT-2-like step's input gradients with 768 columns (dY @ W: qkv, proj and fc): A read row-major
    # (the "nn" products ran at 41-44 TFLOP/s on the H100) or copied (K, M) first, as from 2048 columns
    wq = ttorch.randn(2304 // d, 768 // d, device="cuda")
    dyq = ttorch.randn(8192 // d, 2304 // d, device="cuda")
    fn = lambda: dyq @ wq                                              # noqa: E731
    yield "input gradient fp32 8192x2304 @ 2304x768 (dY @ W)", timer(
        {"a_row_major": toggled(fn, gemm, "_FMA_M_MAJOR_A_FROM_N", 1 << 62),      # (the default at 768)
         "a_copied": toggled(fn, gemm, "_FMA_M_MAJOR_A_FROM_N", 16)})
    # attention dropout (attention._DROP_MODE 4, the default: the mask laid out as the accumulators hold
    # a tile, drawn once by its own kernel and read by the three, _DROP_SAVE) at the harness's fp16
    # shape: against scheme 4 drawn in each kernel, scheme 3 (each kernel's draw moved through shared
    # memory; the default until this arm), the tiles before scheme 4 (dK/dV 32x64 w8 s2 on Hopper, dQ
    # 64x32 w4 s2), dQ by atomics, and no dropout
    qd, kd, vd = (ttorch.randn(4 // min(d, 4), 16 // d, 2048 // (32 if small else 1), 64 // (4 if small else 1),
                               device="cuda").to(ttorch.float16).requires_grad_() for _ in range(3))

    def drop_step(p=0.1):
        F.scaled_dot_product_attention(qd, kd, vd, is_causal=True, dropout_p=p).float().sum().backward()

    def drop_fwd():
        with ttorch.no_grad():
            F.scaled_dot_product_attention(qd, kd, vd, is_causal=True, dropout_p=0.1)
    yield "sdpa fp16 causal dropout 0.1 B4 H16 T2048 D64 fwd+bwd", timer(
        {"drop_default": drop_step, "drop_draw4": toggled(drop_step, attention, "_DROP_SAVE", [False]),
         "drop_scheme3": toggled(drop_step, attention, "_DROP_MODE", [3]),
         "drop_old_tiles": toggled(drop_step, attention, "_FORCE", {"dkdv": (32, 64, 8, 2), "dq": (64, 32, 4, 2)}),
         "drop_dq_atomic": toggled(drop_step, attention, "_DQ_ATOMIC_HALF", [True]),
         "drop_none": lambda: drop_step(0.0)})
    # head dim 128: Hopper's dK/dV with dropout at 16x128 w8 s2 and forward at 128x64 w8 s3
    # (attention._DROP_CONFIGS_SM90, untimed) against the defaults before (16x32 w8 s2, 64x32 w4 s3)
    qe, ke, ve = (ttorch.randn(4 // min(d, 4), 16 // d, 2048 // (32 if small else 1), 128 // (8 if small else 1),
                               device="cuda").to(ttorch.float16).requires_grad_() for _ in range(3))

    def drop_step128():
        F.scaled_dot_product_attention(qe, ke, ve, is_causal=True, dropout_p=0.1).float().sum().backward()
    yield "sdpa fp16 causal dropout 0.1 B4 H16 T2048 D128 fwd+bwd", timer(
        {"drop_d128_default": drop_step128,
         "drop_d128_16x32": toggled(drop_step128, attention, "_FORCE", {"dkdv": (16, 32, 8, 2)}),
         "drop_d128_old_fwd": toggled(drop_step128, attention, "_FORCE", {"fwd": (64, 32, 4, 3)})})
    yield "sdpa fp16 causal dropout 0.1 B4 H16 T2048 D64 fwd (no grad: drawn)", timer(
        {"drop_fwd_default": drop_fwd, "drop_fwd_scheme3": toggled(drop_fwd, attention, "_DROP_MODE", [3])})
    # float32 attention's tiles at the GPT-2-like step's shape (FMA products: the spill-free defaults are
    # 32x32 over 8 warps, 4 accumulators a thread); each kernel's alternative forced alone
    fp32_tiles = {"fp32t_fwd_64x32w4": {"fwd": (64, 32, 4, 2)}, "fp32t_fwd_64x64w4": {"fwd": (64, 64, 4, 2)},
                  "fp32t_fwd_64x64w8": {"fwd": (64, 64, 8, 2)}, "fp32t_dkdv_32x64w4": {"dkdv": (32, 64, 4, 2)},
                  "fp32t_dkdv_64x32w4": {"dkdv": (64, 32, 4, 2)}, "fp32t_dkdv_64x64w8": {"dkdv": (64, 64, 8, 2)}}
    yield "sdpa fp32 causal B8 H12 T1024 D64 fwd+bwd tiles", timer(
        {"fp32t_now": sdpa_step, **{k: toggled(sdpa_step, attention, "_FORCE", f) for k, f in fp32_tiles.items()}})
    # float32 attention's products on the FMAs (attention._FP32_DOT "ieee") or on the tensor cores in
    # three TF32 products ("tf32x3", the default, as PyTorch's float32 memory-efficient kernels), at the
    # GPT-2-like step's shape: the forward alone, then with the backward; in TF32 x 3 also the tiles
    # before Hopper's (_CONFIGS_SM90: forward and dQ 128x32 w8; _MHA_TILES: dK/dV 32x128 w8) and a 16x32
    # w4 dK/dV
    x3 = lambda fn: toggled(fn, attention, "_FP32_DOT", ["tf32x3"])          # noqa: E731
    yield "sdpa fp32 causal B8 H12 T1024 D64 fwd, FMA or TF32 x 3", timer(
        {"fp32x3_fma_fwd": sdpa_fwd, "fp32x3_on_fwd": x3(fwd_),
         "fp32x3_fwd_32x64": x3(toggled(fwd_, attention, "_FORCE", {"fwd": (32, 64, 4, 2)}))})
    yield "sdpa fp32 causal B8 H12 T1024 D64 fwd+bwd, FMA or TF32 x 3", timer(
        {"fp32x3_fma": sdpa_step, "fp32x3_on": x3(step_),
         "fp32x3_dq_32x32": x3(toggled(step_, attention, "_FORCE", {"dq": (32, 32, 4, 2)})),
         "fp32x3_dkdv_16x32": x3(toggled(step_, attention, "_FORCE", {"dkdv": (16, 32, 4, 2)})),
         "fp32x3_dkdv_32x32": x3(toggled(step_, attention, "_FORCE", {"dkdv": (32, 32, 8, 2)}))})
    # a segmentation loss (16 x 21 x 256 x 256, 2^20 rows): its mean over a grid (past _MEAN_ONE rows) or
    # one program, forward and backward
    from ttorch.ops import cross_entropy as ce_ops
    xs = ttorch.randn(16 // min(d, 16), 21, 256 // d, 256 // d, device="cuda", requires_grad=True)
    ts = ttorch.randint(0, 21, (xs.shape[0], xs.shape[2], xs.shape[3]), device="cuda")

    def seg_step():
        F.cross_entropy(xs, ts).backward()
    yield f"cross_entropy fwd+bwd fp32 {'x'.join(map(str, xs.shape))}", timer(
        {"ce_mean_grid": toggled(seg_step, ce_ops, "_MEAN_ONE", 64 if small else ce_ops._MEAN_ONE),
         "ce_mean_one_program": toggled(seg_step, ce_ops, "_MEAN_ONE", 1 << 62)})
    # the persistent TMA tile at 4096^3 in fp16 and bf16 (the first H200 run: fp16, tuned to this tile,
    # 0.1833 ms; bf16, untuned, the same tile, 0.2271 in the harness and 0.204 back to back)
    s4 = 4096 // (16 if small else 1)
    yield f"matmul {s4}^3 TMA tile fp16 and bf16", timer(
        {f"half_{dt}": gemm._tune_bench(gemm._as_config(gemm._TMA_TILE), dt, "ieee", s4, s4, s4)
         for dt in ("float16", "bfloat16")})
    # untuned TF32 products: the heuristic's FMA-sized tile, or the wide tile the H200 tuner chose at
    # 4096^3 (128x256x32 w8 s3, 357 TFLOP/s), plain or persistent TMA
    for m, n, kk in ((8192, 8192, 8192), (4096, 4096, 11008), (2048, 2048, 2048)):
        m, n, kk = (m // 32, n // 32, kk // 32) if small else (m, n, kk)
        heur = gemm.pick_config(m, n, kk, 1, ttorch.float32)
        yield f"matmul tf32 {m}x{n}x{kk} untuned tile", timer(
            {t: gemm._tune_bench(gemm._as_config(tile), "float32", "tf32", m, n, kk)
             for t, tile in (("tf32t_heuristic", heur), ("tf32t_wide", (128, 256, 32, 8, 8, 3)),
                             ("tf32t_wide_tma1", (128, 256, 32, 8, 8, 3, 1)))})


if __name__ == "__main__":
    sys.exit(main())
