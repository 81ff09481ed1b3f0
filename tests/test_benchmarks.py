"""The benchmark harness runs end to end on cpu and writes its table, JSON and plots."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_harness_quick_cpu(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    r = subprocess.run([sys.executable, "-m", "benchmarks", "--device", "cpu", "--quick", "--only",
                        "add fp32,matmul float32 1,matmul float32 2,1-element,MLP,adamw", "--out", str(tmp_path)],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    table = (tmp_path / "results.md").read_text()
    assert "| add fp32 65,536 |" in table and "ttorch/numpy" in table and "GB/s" in table
    assert "matmul float32 128^3" in table and "TFLOP/s" in table
    assert "1-element add" in table and "tok/s" in table
    assert "| adamw step fp32 32,832 params, 3 tensors |" in table       # ttorch's, and NumPy's own update
    data = json.loads((tmp_path / "results.json").read_text())
    rows = {row["name"]: row for row in data["results"]}
    assert rows["add fp32 65,536"]["times"]["ttorch"] > 0 and rows["add fp32 65,536"]["times"]["numpy"] > 0
    adamw = rows["adamw step fp32 32,832 params, 3 tensors"]
    assert adamw["bytes"] == 28 * 32832 and adamw["times"]["ttorch"] > 0 and adamw["times"]["numpy"] > 0
    assert data["meta"]["device"].startswith("cpu")
    # the matmul sweep (128^3, 256^3) is plotted: matplotlib is a dev dependency, so a missing plot fails
    import matplotlib  # noqa: F401
    png = (tmp_path / "matmul_float32.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000


def test_peaks_and_report():
    from benchmarks.peaks import peak, percent
    assert peak("NVIDIA H100 80GB HBM3")[0] == 3.35e12
    assert peak("NVIDIA H100 PCIe")[0] == 2.0e12
    assert peak("NVIDIA H200")[0] == 4.8e12
    assert peak("some new card") is None
    assert percent("NVIDIA H200", gbps=2400) == pytest.approx(50.0)
    assert percent("NVIDIA A100-SXM4-80GB", tflops=156, kind="bfloat16") == pytest.approx(50.0)
    from benchmarks.report import markdown
    res = [dict(group="ops", name="x", times={"ttorch": 2.0, "torch": 1.0}, stats={"GB/s": 10.0, "% peak": 5.0})]
    md = markdown(res, ["ttorch", "torch"], "## h")
    assert "| x | 2.000 | 1.000 | 2.00x | 10.0 GB/s | 5% |" in md


@pytest.mark.skipif(not __import__("ttorch").cuda.is_available(), reason="no cuda device (real or simulated)")
def test_gpu_quick_host_split_swaps_the_launches_back(monkeypatch):
    # the split's "python" column makes every cached launch a no-op for a while: the cache must come
    # back as it was (on a GPU; under the interpreter the cache is empty and the cases just run)
    sys.path.insert(0, ROOT)
    import ttorch
    from benchmarks import gpu_quick
    from ttorch.ops import _launch as L
    before = dict(L._FAST)
    rows = gpu_quick._host_split(ttorch.cuda.synchronize, small=True)
    assert [name.split()[0] for name, _ in rows] == ["one", "linear+relu+sum", "MLP"]
    assert all(set(us) == {"synced", "issued", "python"} and min(us.values()) > 0 for _, us in rows)
    assert all(L._FAST.get(k) == v for k, v in before.items())


@pytest.mark.skipif(not __import__("ttorch").cuda.is_available(), reason="no cuda device (real or simulated)")
@pytest.mark.tf32_default        # (the conv arms: "flat" runs PyTorch's default TF32, "ieee" turns it off)
def test_gpu_quick_ab_checks_run_both_arms(monkeypatch):
    # gpu_quick.py's A/B timings run on a GPU only; here each arm runs once on toy shapes, and each
    # toggle must change the path taken (attention's transposed copies, the FMA product's copies of W
    # and x, the conv loop, split K, the tiled transpose, TF32's K-major copy, the TMA tile)
    sys.path.insert(0, ROOT)
    from benchmarks import gpu_quick
    from ttorch.ops import attention, conv, gemm, elementwise
    log = []
    real_t, real_g, real_c = attention._transposed, gemm.launch, conv.launch
    real_e, real_ek = elementwise.launch, elementwise.launch_keyed
    monkeypatch.setattr(elementwise, "launch", lambda k, g, *a, **m: log.append(k.__name__) or real_e(k, g, *a, **m))
    monkeypatch.setattr(elementwise, "launch_keyed", lambda k, *a: log.append(k.__name__) or real_ek(k, *a))
    monkeypatch.setattr(attention, "_transposed", lambda t: log.append("t_copy") or real_t(t))
    real_a = attention.launch
    monkeypatch.setattr(attention, "launch", lambda k, *a, **m: (k is attention._attn_bwd_dq_kernel
                                                                and log.append("dq")) or (
        k is attention._attn_fwd_kernel and log.append(f"fwd tma={m['TMA']}")) or (
        k is attention._attn_fwd_kernel and m["SCALE_POS"] and log.append("raw max")) or (
        k in (attention._attn_bwd_dkdv_kernel, attention._attn_bwd_dq_kernel) and log.append(
            f"{'dkdv' if k is attention._attn_bwd_dkdv_kernel else 'dq'} tma={m['TMA']}")) or (
        k is attention._attn_bwd_dkdv_kernel and log.append(
            f"dkdv {m['BLOCK_M']}x{m['BLOCK_N']} w{m['num_warps']}")) or (
        k is attention._attn_bwd_dkdv_kernel and log.append(f"gqa={m['GQA']}")) or (
        k is attention._attn_fwd_kernel and log.append(f"fwd {m['BLOCK_M']}x{m['BLOCK_N']} w{m['num_warps']}")) or (
        k is attention._attn_fwd_kernel and log.append(f"drop={m['DROP']}")) or (
        k in (attention._attn_fwd_kernel, attention._attn_bwd_dq_kernel) and m["DROP"] and log.append(
            f"bits={m['BITS']}")) or (
        k is attention._attn_fwd_kernel and log.append(f"prec={m['PREC']}")) or (
        k is attention._attn_bwd_dq_kernel and log.append(f"dq split={m['SPLIT']}")) or (
        k is attention._attn_fwd_kernel and len(a[0]) == 3 and log.append(f"fwd sections={a[0][0]}")) or real_a(
            k, *a, **m))

    def gemm_launch(k, g, *a, **m):
        log.append("split" if k is gemm._split_k_sum_kernel else "tma" if k is gemm._gemm_tma_kernel else
                   f"b{a[1].stride()}")
        if k is gemm._gemm_kernel:
            log.append(f"a{a[0].stride()}")
        return real_g(k, g, *a, **m)
    monkeypatch.setattr(gemm, "launch", gemm_launch)
    monkeypatch.setattr(conv, "launch", lambda k, g, *a, **m: log.append(f"taps={m.get('TAPS')}") or log.append(
        m["PREC"]) or real_c(k, g, *a, **m))
    from ttorch.ops import cross_entropy
    real_ce = cross_entropy.launch
    monkeypatch.setattr(cross_entropy, "launch", lambda k, g, *a, **m: (
        log.append(f"{'fwd' if k is cross_entropy._ce_fwd_kernel else 'bwd'} stages={m['STAGES']}")
        if "STAGES" in m else log.append(k.__name__)) or real_ce(k, g, *a, **m))
    from ttorch.ops import reduction
    real_r = reduction.launch
    monkeypatch.setattr(reduction, "launch", lambda k, g, *a, **m: (
        log.append(f"split stages={m['STAGES']}") if "STAGES" in m else None) or real_r(k, g, *a, **m))
    monkeypatch.setattr(reduction, "SPLIT_CHUNK", 256)          # the toy sum (4096 elements) splits
    from ttorch.ops import layer_norm
    real_ln = layer_norm.launch
    monkeypatch.setattr(layer_norm, "launch", lambda k, g, *a, **m: (
        log.append(f"ln stages={m['STAGES']}") if "STAGES" in m else None) or real_ln(k, g, *a, **m))
    arms = {}

    def timer(fns):
        for name, fn in fns.items():
            log.clear()
            fn()
            arms[name] = set(log)
        return {name: 1.0 for name in fns}
    monkeypatch.setattr(gemm, "_FMA_M_MAJOR_A_FROM_N", 16)      # the toy linear has 192 outputs
    monkeypatch.setattr(attention, "_T_COPY_MIN_READS", 1)     # a real GPU's attention tiles span the toy L
    monkeypatch.setattr(gemm, "_WAVE", 1)                       # toy products split by the long-K rule alone,
    monkeypatch.setattr(gemm, "_SPLIT_FILL", 1 << 20)           # whatever tiles this device picks
    monkeypatch.setattr(gemm, "_SPLIT_LONG_STEPS", 2)
    from ttorch.ops import _launch
    real_l = _launch.launch
    monkeypatch.setattr(_launch, "launch", lambda k, g, *a, **m: (
        log.append(f"aligned={m['ALIGNED']}") if "ALIGNED" in m else None) or real_l(k, g, *a, **m))
    cases = [c for c, _ in gpu_quick._ab_checks(timer, small=True)]
    assert len(cases) == 34 and set(arms) == {"t_copy", "in_place", "row_major_copy", "b_in_place", "a_in_place",
                                             "flat", "taps", "ieee", "split_k", "one_part", "tiles",
                                             "elementwise", "k_major_copy", "b_row_major", "split_long_k", "whole_k",
                                             "dq_kernel", "dq_kernel_half", "atomic_dq_half", "tma_tile",
                                             "plain_tile", "a_row_major", "a_copied", "plain_loop", "stages_2",
                                             "stages_3", "bwd_plain_loop", "bwd_stages_2", "bwd_stages_3",
                                             "sum_plain_loop", "sum_stages_2", "sum_stages_3", "kv_pointers",
                                             "kv_tma", "dkdv_tma", "dq_tma", "aligned_vectors",
                                             "scalar_accesses", "ln_bwd_plain_loop", "ln_bwd_stages_2",
                                             "scaled_max", "spilled_w4", "spilled_dkdv", "mha_old_dkdv", "drop_draw4",
                                             "drop_scheme3", "drop_default", "drop_old_tiles", "drop_none",
                                             "drop_dq_atomic", "drop_d128_default", "drop_d128_16x32",
                                             "drop_d128_old_fwd", "half_float16", "half_bfloat16",
                                             "drop_fwd_scheme3", "drop_fwd_default", "fp32t_now",
                                             "fp32t_fwd_64x32w4", "fp32t_fwd_64x64w4", "fp32t_fwd_64x64w8",
                                             "fp32t_dkdv_32x64w4", "fp32t_dkdv_64x32w4", "fp32t_dkdv_64x64w8",
                                             "ce_mean_grid", "ce_mean_one_program", "tf32t_heuristic",
                                             "tf32t_wide", "tf32t_wide_tma1", "fp32x3_fma_fwd", "fp32x3_on_fwd",
                                             "fp32x3_fwd_32x64", "fp32x3_fma", "fp32x3_on", "fp32x3_dq_32x32",
                                             "fp32x3_dkdv_16x32", "fp32x3_dkdv_32x32", "gqa_span", "gqa_loop",
                                             "dq_one_loop", "head_order", "head_order_fwd", "head_order_gqa"}
    assert "prec=ieee" in arms["fp32x3_fma"] and "prec=ieee" in arms["fp32x3_fma_fwd"]
    assert "prec=tf32x3" in arms["fp32x3_on"] and "dkdv 16x32 w4" in arms["fp32x3_dkdv_16x32"]
    assert "dkdv 32x32 w8" in arms["fp32x3_dkdv_32x32"] and "prec=tf32x3" in arms["fp32x3_dkdv_32x32"]
    assert "fwd 32x64 w4" in arms["fp32x3_fwd_32x64"] and "prec=tf32x3" in arms["fp32x3_fwd_32x64"]
    assert {a for a in arms["aligned_vectors"] if a.startswith("aligned")} == {"aligned=True"}
    assert {a for a in arms["scalar_accesses"] if a.startswith("aligned")} == {"aligned=False"}
    tma = {arm: {a for a in arms[arm] if "tma=" in a and not a.startswith("fwd")}
           for arm in ("dq_kernel_half", "dkdv_tma", "dq_tma")}
    assert tma == {"dq_kernel_half": {"dkdv tma=False", "dq tma=False"},
                   "dkdv_tma": {"dkdv tma=True", "dq tma=False"}, "dq_tma": {"dkdv tma=False", "dq tma=True"}}
    fwd = {arm: {a for a in arms[arm] if "tma" in a or a == "raw max"} for arm in ("kv_pointers", "kv_tma",
                                                                                   "scaled_max")}
    assert fwd == {"kv_pointers": {"fwd tma=False", "raw max"}, "kv_tma": {"fwd tma=True", "raw max"},
                   "scaled_max": {"fwd tma=False"}}
    # the tiles the H100 tuned before the spill-free rule, forced (the last half row is head dim 128)
    assert "dkdv 32x32 w4" in arms["spilled_w4"] and "dkdv 64x64 w8" in arms["spilled_dkdv"]
    assert "dkdv 16x16 w4" in arms["mha_old_dkdv"]      # (the simulated device's tile: as a GQA launch's)
    assert "dq split=True" in arms["dq_kernel_half"] and "dq split=False" in arms["dq_one_loop"]
    assert "dq split=True" not in arms["dq_one_loop"]
    # (the toy GQA forward's 4 query heads fit one section; the other toy rows have one head)
    assert "fwd sections=4" in arms["gqa_span"] and arms["head_order_gqa"] >= {"fwd sections=1", "gqa=True"}
    assert "gqa=True" in arms["gqa_span"] and "gqa=True" not in arms["gqa_loop"] and "gqa=False" in arms["gqa_loop"]
    assert "dkdv 16x32 w8" in arms["drop_d128_16x32"] and "dkdv 16x32 w8" not in arms["drop_d128_default"]
    assert "fwd 64x32 w4" in arms["drop_d128_old_fwd"] and "fwd 64x32 w4" not in arms["drop_d128_default"]
    assert not any(a.startswith("dkdv 64x64") for a in arms["dq_kernel_half"])
    for prefix, kernel in (("", "fwd"), ("bwd_", "bwd"), ("sum_", "split")):
        assert {a for a in arms[f"{prefix}plain_loop"] if "stages" in a} == {f"{kernel} stages=None"}
        for st in (2, 3):
            assert {a for a in arms[f"{prefix}stages_{st}"] if "stages" in a} == {f"{kernel} stages={st}"}
    assert arms["ln_bwd_plain_loop"] == {"ln stages=None"} and arms["ln_bwd_stages_2"] == {"ln stages=2"}
    assert "tma" in arms["tma_tile"] and "tma" not in arms["plain_tile"]   # (the last bf16 case's arms)
    assert "_transpose_kernel" in arms["a_copied"] and "a(1, 512)" in arms["a_copied"]
    assert "_transpose_kernel" not in arms["a_row_major"] and "a(144, 1)" in arms["a_row_major"]
    assert "split" in arms["split_long_k"] and "split" not in arms["whole_k"]
    assert "t_copy" in arms["t_copy"] and "t_copy" not in arms["in_place"] and "dq" not in arms["t_copy"]
    assert "dq" in arms["dq_kernel"]                                     # dQ by atomics unless toggled off
    assert "dq" in arms["dq_kernel_half"] and "dq" not in arms["atomic_dq_half"]
    assert arms["row_major_copy"] == {"_transpose_kernel", "b(192, 1)", "a(1, 2048)"} and "split" in arms["split_k"]
    assert arms["b_in_place"] == {"_transpose_kernel", "b(1, 48)", "a(1, 2048)"}
    assert arms["a_in_place"] == {"_transpose_kernel", "b(192, 1)", "a(48, 1)"}
    assert arms["flat"] >= {"taps=False"} and "taps=False" not in arms["taps"] and "split" not in arms["one_part"]
    assert "tf32" in arms["flat"] and "ieee" not in arms["flat"] and arms["ieee"] >= {"ieee", "taps=False"}
    assert arms["tiles"] == {"_transpose_kernel"} and arms["elementwise"] == {"_ew_kernel"}
    assert arms["k_major_copy"] >= {"_transpose_kernel", "b(1, 256)"} and "b(256, 1)" not in arms["k_major_copy"]
    assert "b(256, 1)" in arms["b_row_major"] and "_transpose_kernel" not in arms["b_row_major"]
    assert attention._T_COPY == [True] and gemm._FMA_ROW_MAJOR_B_FROM_M == 1024 and not conv._taps_outside(3, 9, 32)
    assert elementwise._T_MIN == 16 and gemm._TF32_K_MAJOR_FROM == 256
    drops = {arm: {a for a in arms[arm] if a.startswith(("drop=", "bits="))} for arm in arms if arm.startswith("drop_")}
    assert drops == {"drop_default": {"drop=4", "bits=2"}, "drop_draw4": {"drop=4", "bits=0"},
                     "drop_scheme3": {"drop=3", "bits=0"}, "drop_old_tiles": {"drop=4", "bits=2"},
                     "drop_dq_atomic": {"drop=4", "bits=2"}, "drop_none": {"drop=0"},
                     "drop_fwd_default": {"drop=4", "bits=0"}, "drop_fwd_scheme3": {"drop=3", "bits=0"},
                     "drop_d128_default": {"drop=4", "bits=2"}, "drop_d128_16x32": {"drop=4", "bits=2"},
                     "drop_d128_old_fwd": {"drop=4", "bits=2"}}
    assert "dkdv 32x64 w8" in arms["drop_old_tiles"] and "dkdv 32x64 w8" not in arms["drop_default"]
    assert "dq" in arms["drop_default"] and "dq" not in arms["drop_dq_atomic"]
    assert "tma" in arms["half_float16"] and "tma" in arms["half_bfloat16"]
    assert "dkdv 64x64 w8" in arms["fp32t_dkdv_64x64w8"] and "fwd 64x64 w8" in arms["fp32t_fwd_64x64w8"]
    assert "fwd 16x16 w4" in arms["fp32t_now"] and "fwd 64x32 w4" in arms["fp32t_fwd_64x32w4"]
    assert "_ce_parts_mean_kernel" in arms["ce_mean_grid"] and "_ce_mean_kernel" in arms["ce_mean_one_program"]
    assert "_ce_parts_mean_kernel" not in arms["ce_mean_one_program"]
    assert "tma" in arms["tf32t_wide_tma1"] and "tma" not in arms["tf32t_wide"] | arms["tf32t_heuristic"]
    assert attention._DROP_MODE == [4] and attention._DROP_SAVE == [True] and attention._FORCE == {}


def test_tune_targets_problems_fit_their_kernels(monkeypatch):
    # benchmarks/tune_targets.py runs on a GPU only; here each problem it would tune must give its
    # kernel's bucket and a non-empty space (tune.tune replaced by that check)
    sys.path.insert(0, ROOT)
    from benchmarks import tune_targets
    from ttorch import tune
    seen = []

    def fake(name, quick=False, problems=None, **kw):
        t = tune.registered()[name]
        if problems is None:
            return {}
        out = {}
        for p in problems:
            b = t.key(*p)
            assert t.configs(b), (name, p)
            out[b] = (t.configs(b)[0], 1.0)
            seen.append((name, p))
        return out
    monkeypatch.setattr(tune, "tune", fake)
    tune_targets.main()
    names = [n for n, _ in seen]
    assert names[0] == "gemm" and {"gemm", "flash_attention", "conv2d", "reduction", "cross_entropy", "layer_norm",
                                   "softmax", "optim_update"} == set(names)
    assert ("flash_attention", ("fwd", "float32", 8, 12, 1024, 64, True)) in seen
    assert ("flash_attention", ("fwd", "tf32x3", 8, 12, 1024, 64, True)) in seen
    # AdamW at the harness's total size: the many-tensor launch looks its config up by that
    from benchmarks.cases import optimizer_cases
    (case,) = optimizer_cases({}, "cuda", quick=False)
    assert ("optim_update", ("AdamW", "float32", case.bytes // 28)) in seen


@pytest.mark.skipif(__import__("ttorch").cuda.is_available() and not __import__("ttorch").cuda._driver.SIMULATED,
                    reason="a real GPU: gpu_check.sh runs sanitize.py on it (the interpreter cannot share the machine)")
def test_sanitize_pass_matches_cpu_on_the_simulated_device():
    # benchmarks/sanitize.py is what compute-sanitizer runs on a GPU (gpu_check.sh); here each of its
    # cases runs on the simulated device and must match the cpu device
    env = dict(os.environ, TRITON_INTERPRET="1", PYTHONPATH=ROOT)
    r = subprocess.run([sys.executable, "benchmarks/sanitize.py"], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=300)
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith(("ok", "DIFF"))]
    assert r.returncode == 0 and len(lines) == 11 and all(ln.startswith("ok") for ln in lines), \
        r.stdout + r.stderr[-2000:]


def test_census_compiles_what_a_step_launches():
    # benchmarks/census.py: the MLP step's launches at the GPU sizes (a stand-in device), each compiled
    # as Triton's launcher would specialize it; a unit stride is a constexpr 1, aligned pointers divisible
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    r = subprocess.run([sys.executable, "benchmarks/census.py", "--models", "mlp", "--caps", "90", "--jobs", "1"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, (r.stdout + r.stderr)[-2000:]
    found = int(r.stdout.split(" distinct launches")[0].split()[-1])
    assert found >= 10 and f"{found} compiled, 0 failed" in r.stdout
    assert "sm_90: " in r.stdout and "launched configurations spill" in r.stdout


def test_sass_loops_counts_a_loop_body():
    # benchmarks/sass_loops.py: a compiled configuration's inner loops in SASS instructions (no GPU)
    sys.path.insert(0, ROOT)
    from benchmarks.sass_loops import loop_lengths
    sass = """
        /*0000*/                   MOV R1, c[0x0][0x28] ;
        .L_x_0:
        /*0010*/                   IADD3 R2, R2, 0x1, RZ ;
        /*0020*/                   ISETP.GE.AND P0, PT, R2, 0x10, PT ;
        /*0030*/              @!P0 BRA `(.L_x_0) ;
        /*0040*/                   BRA `(.L_x_1) ;
        .L_x_1:
        /*0050*/                   EXIT ;"""
    assert loop_lengths(sass) == [3]                    # a forward branch is no loop
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    r = subprocess.run([sys.executable, "-m", "benchmarks.sass_loops", "--op", "flash_attention", "--label",
                        "fwd ttorch.float16 e64 causal dropout", "--cap", "80", "--set", "DROP=0", "BITS=0"],
                       cwd=ROOT, env=dict(env, PYTHONPATH=ROOT), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    loops = eval(r.stdout.split("loops ")[1].split(" instructions")[0])
    assert len(loops) == 2 and all(100 < n < 2000 for n in loops), r.stdout     # unmasked and masked key blocks


def test_grid_order_model_against_a_heap_schedule():
    # benchmarks/grid_order.py: with one program an SM using all of it, its event loop is the classic
    # list schedule (each program to the SM that frees first); the three orders hold the same
    # programs; at the harness's fp16 head dim 64 shape the sections end sooner than heads in turn
    import heapq
    sys.path.insert(0, ROOT)
    from benchmarks import grid_order
    for blocks, heads, section in ((4, 2, 2), (5, 3, 2), (7, 5, 3)):
        ways = grid_order.orders(blocks, heads, section, fixed=0.5)
        assert all(sorted(w) == sorted(ways["per head"]) for w in ways.values())
        for w in ways.values():
            free = [0.0] * 3
            for job in w:
                heapq.heappush(free, heapq.heappop(free) + job)
            assert grid_order.makespan(w, 3, 1, 1.0) == pytest.approx(max(free))
    assert grid_order.orders(3, 2, 2, fixed=0)["sections"] == [3, 3, 2, 2, 1, 1]
    assert grid_order.orders(3, 2, 2, fixed=0)["per head"] == [3, 2, 1, 3, 2, 1]
    ends = grid_order.main(["--blocks", "32", "--heads", "64", "--section", "32"])
    assert ends["sections"] < 0.95 * ends["per head"]
