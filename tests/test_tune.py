"""ttorch.tune: the cache file, the CLI under the simulated device, and ops launching stored winners."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import ttorch
from ttorch import tune
from ttorch.tune import cache

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    p = tmp_path / "tune.json"
    monkeypatch.setenv("TTORCH_TUNE_CACHE", str(p))
    tune.load()
    yield p
    monkeypatch.delenv("TTORCH_TUNE_CACHE")
    tune.load()         # forget this test's winners: later tests in the process run the heuristics
    tune.load()


def _toy(name="toy_op"):
    calls = []

    def bench(cfg, n):
        def fn():
            calls.append(cfg.kwargs["BLOCK"])
            # a cost that the timer below reads back: BLOCK 128 is the fastest
        return fn
    t = tune.Tunable(name, configs=lambda b: [tune.Config({"BLOCK": s}, num_warps=w) for s in (64, 128, 256)
                                              for w in (4, 8)],
                     key=lambda n: (tune.bucket(n),), heuristic=lambda b: tune.Config({"BLOCK": 64}),
                     problems=lambda quick: [(100,), (1000,)], bench=bench, doc="a toy")
    return tune.register(t), calls


def test_config_falls_back_to_heuristic_and_tune_picks_fastest(tmp_cache):
    t, calls = _toy()
    assert t.config((128,)) == tune.Config({"BLOCK": 64})

    def timer(fn):
        fn()
        return {64: 3.0, 128: 1.0, 256: 2.0}[calls[-1]]
    best = tune.tune("toy_op", timer=timer)
    assert set(best) == {(128,), (1024,)}
    assert all(cfg.kwargs["BLOCK"] == 128 and ms == 1.0 for cfg, ms in best.values())
    assert t.config((1024,)).kwargs == {"BLOCK": 128}
    assert t.config((4096,)) == tune.Config({"BLOCK": 64})          # an untuned bucket: the heuristic
    data = json.loads(tmp_cache.read_text())
    sect = data["sections"][cache.section_name()]
    assert sect["toy_op"]["[1024]"] == {"kwargs": {"BLOCK": 128}, "num_warps": 4, "num_stages": 3}
    tune.clear()
    assert t.config((1024,)) == tune.Config({"BLOCK": 64})
    tune.load()                                                     # read back from the file
    assert t.config((1024,)).kwargs == {"BLOCK": 128}


def test_failing_configs_are_skipped(tmp_cache):
    def bench(cfg, n):
        if cfg.kwargs["BLOCK"] > 64:
            raise RuntimeError("out of resources: shared memory")
        return lambda: None
    tune.register(tune.Tunable("toy_fail", configs=lambda b: [tune.Config({"BLOCK": s}) for s in (64, 128)],
                               key=lambda n: (n,), heuristic=lambda b: tune.Config({"BLOCK": 32}),
                               problems=lambda q: [(7,)], bench=bench))
    best = tune.tune("toy_fail", timer=lambda fn: 1.0, save=False)
    assert best[(7,)][0].kwargs == {"BLOCK": 64}


def test_other_sections_survive_a_save(tmp_cache):
    cache.write({"NVIDIA H100 | triton 0": {"softmax": {"x": {"kwargs": {}, "num_warps": 4, "num_stages": 3}}}})
    tune.load()
    _toy("toy_keep")
    tune.tune("toy_keep", timer=lambda fn: 1.0)
    sections = cache.read()
    assert "NVIDIA H100 | triton 0" in sections and cache.section_name() in sections


def test_broken_cache_file_is_ignored(tmp_cache):
    tmp_cache.write_text("{not json")
    tune.load()
    assert tune.winners() == {}


def test_softmax_launches_the_stored_winner(tmp_cache, monkeypatch):
    from ttorch.ops import softmax as sm
    seen = []
    real = sm.launch
    monkeypatch.setattr(sm, "launch", lambda k, grid, *a, **kw: (seen.append((grid, kw)), real(k, grid, *a, **kw))[1])
    x = np.random.default_rng(0).standard_normal((6, 10)).astype(np.float32)
    key = sm._tune_key("fwd", ttorch.float32, 10, 1)
    tune._section()["softmax"] = {key: tune.Config({"BLOCK_M": 2}, num_warps=8)}
    tune._resolved.clear()
    y = ttorch.tensor(x, device="cuda").softmax(-1)
    assert seen[-1][0] == (3,) and seen[-1][1]["BLOCK_M"] == 2 and seen[-1][1]["num_warps"] == 8
    e = np.exp(x - x.max(-1, keepdims=True))
    np.testing.assert_allclose(y.cpu().numpy(), e / e.sum(-1, keepdims=True), rtol=1e-5)
    # the backward: its own winner when tuned, else the forward's
    g = ttorch.tensor(np.linspace(-1, 1, 60, dtype=np.float32).reshape(6, 10), device="cuda")
    want = y.cpu().numpy() * (g.cpu().numpy() - (g.cpu().numpy() * y.cpu().numpy()).sum(-1, keepdims=True))
    for bwd_winner, block_m in ((None, 2), (tune.Config({"BLOCK_M": 4}, num_warps=4), 4)):
        if bwd_winner is not None:
            tune._section()["softmax"][sm._tune_key("bwd", ttorch.float32, 10, 1)] = bwd_winner
            tune._resolved.clear()
        dx = sm._softmax_bw(g, y, dim=1, log=False)
        assert seen[-1][1]["BLOCK_M"] == block_m and seen[-1][0] == (6 // block_m + (6 % block_m > 0),)
        np.testing.assert_allclose(dx.cpu().numpy(), want, rtol=1e-5, atol=1e-7)
    y2 = ttorch.tensor(x, device="cuda").softmax(-1)                # the forward keeps its own
    assert seen[-1][1]["BLOCK_M"] == 2 and np.array_equal(y2.cpu().numpy(), y.cpu().numpy())


def test_cli_quick_under_the_interpreter(tmp_path):
    env = dict(os.environ, TTORCH_TUNE_CACHE=str(tmp_path / "t.json"), TRITON_INTERPRET="1")
    r = subprocess.run([sys.executable, "-m", "ttorch.tune", "--quick", "--op", "softmax"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "softmax ['fwd', 'float32', 128, False]" in r.stdout and "wrote" in r.stdout
    assert "softmax ['bwd', 'float32', 128, False]" in r.stdout
    sect = json.loads((tmp_path / "t.json").read_text())["sections"]
    (name, ops), = sect.items()
    assert name.startswith("simulated | triton ") and sorted(ops["softmax"]) == [
        '["bwd", "float32", 128, false]', '["fwd", "float32", 128, false]']
    r = subprocess.run([sys.executable, "-m", "ttorch.tune", "--list"], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0 and "softmax:" in r.stdout and "['bwd', 'float32', 128, False]" in r.stdout


def test_gemm_launches_the_stored_winner(tmp_cache, monkeypatch):
    from ttorch.ops import gemm
    seen = []
    real = gemm.launch
    monkeypatch.setattr(gemm, "launch", lambda k, grid, *a, **kw: (seen.append((grid, kw)), real(k, grid, *a, **kw))[1])
    r = np.random.default_rng(1)
    a, b = r.standard_normal((40, 20)).astype(np.float32), r.standard_normal((20, 24)).astype(np.float32)
    key = gemm._tune_key(ttorch.float32, "ieee", 40, 24, 20)
    assert key == ("float32", "ieee", "nn", 64, 32, 32)
    tune._section()["gemm"] = {key: tune.Config({"BLOCK_M": 32, "BLOCK_N": 16, "BLOCK_K": 16, "GROUP_M": 2},
                                                num_warps=2, num_stages=2)}
    out = ttorch.tensor(a, device="cuda") @ ttorch.tensor(b, device="cuda")
    grid, kw = seen[-1]
    assert grid[0] == 2 * 2 and (kw["BLOCK_M"], kw["BLOCK_N"], kw["BLOCK_K"], kw["num_warps"]) == (32, 16, 16, 2)
    np.testing.assert_allclose(out.cpu().numpy(), a @ b, rtol=1e-5, atol=1e-5)
    seen.clear()
    ttorch.tensor(a[:3], device="cuda") @ ttorch.tensor(b, device="cuda")   # another bucket: the heuristic
    assert seen[-1][1]["BLOCK_M"] == gemm.pick_config(3, 24, 20, 1, ttorch.float32)[0]


def test_gemm_tunes_in_the_layout_asked_for(tmp_cache, monkeypatch):
    from ttorch.ops import gemm
    strides = []
    real = gemm._launch_gemm
    monkeypatch.setattr(gemm, "_launch_gemm", lambda a, b, *r: (strides.append((a.stride(), b.stride())),
                                                                real(a, b, *r))[1])
    best = tune.tune("gemm", problems=[("float32", "ieee", 40, 24, 20, "tn")], save=False)
    assert list(best) == [gemm._tune_key(ttorch.float32, "ieee", 40, 24, 20, "tn")]
    assert strides and all(sa == (1, 40) and sb == (24, 1) for sa, sb in strides)    # A stored (K, M)


def _tiles_launched(monkeypatch, products):
    """The (BLOCK_M, BLOCK_N, BLOCK_K) and the (A, B) strides of the GEMM kernel behind each product;
    nothing is computed (copies of the operands run, the product's launch is recorded instead)."""
    from ttorch.ops import gemm
    seen = []
    real = gemm.launch

    def spy(kernel, grid, *args, **meta):
        if kernel is gemm._gemm_kernel:
            seen.append(((meta["BLOCK_M"], meta["BLOCK_N"], meta["BLOCK_K"]), args[0].stride(), args[1].stride()))
            return None
        return real(kernel, grid, *args, **meta)
    monkeypatch.setattr(gemm, "launch", spy)
    for f in products:
        f()
    return seen


def test_gemm_winners_are_kept_per_layout(tmp_cache, monkeypatch):
    # one M/N/K bucket tuned in two layouts: a product finds the winner of the layout it runs in
    from ttorch.ops import gemm
    f32 = ttorch.float32
    cfg = lambda bm: tune.Config({"BLOCK_M": bm, "BLOCK_N": 16, "BLOCK_K": 16, "GROUP_M": 2}, num_warps=2,  # noqa: E731
                                 num_stages=1)
    tune._section()["gemm"] = {gemm._tune_key(f32, "ieee", 40, 24, 20, "nn"): cfg(16),
                               gemm._tune_key(f32, "ieee", 40, 24, 20, "tn"): cfg(32)}
    a, b, at = (ttorch.randn(*s, device="cuda") for s in ((40, 20), (20, 24), (20, 40)))
    seen = _tiles_launched(monkeypatch, [lambda: a @ b, lambda: at.t() @ b])
    assert [(t[0], sa) for t, sa, _ in seen] == [(16, (20, 1)), (32, (1, 40))]
    # a cache written before layouts were keyed: its winner serves each layout of the bucket
    tune._section()["gemm"] = {("float32", "ieee", 64, 32, 32): cfg(32)}
    seen = _tiles_launched(monkeypatch, [lambda: a @ b, lambda: at.t() @ b])
    assert [t[0] for t, _, _ in seen] == [32, 32]


@pytest.mark.parametrize("prec, hopper, layout, mnk, seen", [
    ("ieee", False, "nt", (1024, 8, 16), "nn"),     # FMA: a (N, K) B from 1024 rows of A on is copied row-major
    ("ieee", False, "nt", (1023, 8, 16), "nt"),
    ("ieee", False, "nn", (128, 2048, 16), "tn"),   # FMA: A copied (K, M) from 2048 columns and 128 rows on
    ("ieee", False, "nn", (128, 2047, 16), "nn"),
    ("ieee", False, "tt", (1024, 2048, 16), "tn"),  # A already (K, M); B copied row-major
    ("tf32", True, "tn", (256, 256, 16), "nt"),     # TF32 on Hopper: both copied K-major
    ("tf32", False, "tn", (256, 256, 16), "tn"),    # not on sm_80
    ("ieee", True, "nt", (4096, 4096, 64), "tn")])  # both FMA rules at once (half types copy nothing)
def test_gemm_tune_key_names_the_layout_the_kernel_reads(prec, hopper, layout, mnk, seen):
    from ttorch.ops import gemm
    assert gemm._seen_layout(ttorch.float32, prec, layout, *mnk, hopper) == seen
    assert gemm._seen_layout(ttorch.bfloat16, "ieee", layout, *mnk, hopper) == layout


def test_gemm_copies_as_its_tune_key_says(tmp_cache, monkeypatch):
    # _launch_gemm copies by the rules _seen_layout reads: the kernel gets the strides the key names
    from ttorch.ops import gemm
    x, w = ttorch.randn(1024, 16, device="cuda"), ttorch.randn(8, 16, device="cuda")
    a, b = ttorch.randn(128, 16, device="cuda"), ttorch.randn(16, 2048, device="cuda")
    seen = _tiles_launched(monkeypatch, [lambda: x @ w.t(), lambda: a @ b])
    assert [(gemm._layout(sa) + gemm._layout(sb)) for _, sa, sb in seen] == [
        gemm._seen_layout(ttorch.float32, "ieee", "nt", 1024, 8, 16, False),
        gemm._seen_layout(ttorch.float32, "ieee", "nn", 128, 2048, 16, False)] == ["nn", "tn"]


def test_every_tunable_runs_quick_under_the_interpreter(tmp_cache):
    for name, t in tune.registered().items():
        if name.startswith("toy"):
            continue
        best = tune.tune(name, quick=True, save=False)
        assert best, name
        for b, (cfg, ms) in best.items():
            assert cfg in t.configs(b) and ms > 0


def test_elementwise_launches_the_stored_winner(tmp_cache, monkeypatch):
    from ttorch.ops import elementwise as E
    seen = []
    real = E.launch_keyed
    monkeypatch.setattr(E, "launch_keyed", lambda k, grid, a, kw, key: (seen.append((grid, kw)),
                                                                       real(k, grid, a, kw, key))[1])
    x = ttorch.arange(300.0, device="cuda")
    tune._section()["elementwise"] = {E._ew_key(4, True, 300): tune.Config({"BLOCK": 128}, num_warps=8)}
    y = x + x
    assert seen[-1][0] == (3,) and seen[-1][1]["BLOCK"] == 128 and seen[-1][1]["num_warps"] == 8
    np.testing.assert_allclose(y.cpu().numpy(), 2 * np.arange(300.0))
    seen.clear()
    x[::2] + x[::2]                                       # strided: another bucket, the heuristic
    assert seen[-1][1]["num_warps"] == 4


def test_tunable_specs_reach_the_aot_compiler():
    from ttorch.ops.__main__ import _specs_of
    specs = _specs_of("tune:elementwise")
    assert {(s.constexprs["BLOCK"], s.num_warps) for s in specs} >= {(4096, 8), (512, 4)}


def test_split_reduction_launches_the_stored_winner(tmp_cache, monkeypatch):
    from ttorch.ops import reduction as R
    monkeypatch.setattr(R, "SPLIT_CHUNK", 64)               # split rows of >= 128 columns, as on a GPU
    seen = []
    real = R.launch
    monkeypatch.setattr(R, "launch", lambda k, grid, *a, **kw: (seen.append((grid, kw)), real(k, grid, *a, **kw))[1])
    x = np.random.default_rng(1).standard_normal(3000).astype(np.float32)
    tune._section()["reduction"] = {R._split_key(ttorch.float32, 3000): tune.Config({"BLOCK_N": 256, "MAX_SPLIT": 8},
                                                                                   num_warps=8)}
    tune._resolved.clear()
    s = ttorch.tensor(x, device="cuda").sum()
    grid, kw = seen[0]              # the split stage: at most 8 programs, chunks of whole 256-wide blocks
    assert grid == (1, 6) and kw["BLOCK_N"] == 256 and kw["num_warps"] == 8        # 3000 = 5 x 512 + 440
    np.testing.assert_allclose(s.item(), x.astype(np.float64).sum(), rtol=1e-5)
    seen.clear()
    tune.clear()
    ttorch.tensor(x, device="cuda").sum()                   # no winner: the heuristic, 4 warps, one-pass width
    assert seen[0][1]["num_warps"] == 4 and seen[0][1]["BLOCK_N"] == R._blocks(1, 3000)[1]


def test_optimizer_update_launches_the_stored_winner(tmp_cache, monkeypatch):
    from ttorch.optim import _update as U
    import ttorch.ops._launch as L
    seen = []
    real = L.launch
    monkeypatch.setattr(L, "launch", lambda k, grid, *a, **kw: (seen.append((grid, kw)), real(k, grid, *a, **kw))[1])
    tune._section()["optim_update"] = {U._tune_key("_adam_kernel", "float32", 3000): tune.Config({"BLOCK": 512},
                                                                                                  num_warps=8)}
    tune._resolved.clear()
    w0 = np.random.default_rng(2).standard_normal(3000).astype(np.float32)
    ps = [ttorch.tensor(w0, device=d, requires_grad=True) for d in ("cuda", "cpu")]
    for p in ps:
        opt = ttorch.optim.Adam([p], lr=0.1)
        for _ in range(2):
            p.grad = p.detach() * 2
            opt.step()
    assert seen[-1][0] == (6,) and seen[-1][1]["BLOCK"] == 512 and seen[-1][1]["num_warps"] == 8
    np.testing.assert_allclose(ps[0].detach().cpu().numpy(), ps[1].detach().numpy(), rtol=1e-5, atol=1e-6)


def test_scan_launches_the_stored_winner(tmp_cache, monkeypatch):
    from ttorch.ops import scan as S
    seen = []
    real = S.launch
    monkeypatch.setattr(S, "launch", lambda k, grid, *a, **kw: (seen.append((grid, kw)), real(k, grid, *a, **kw))[1])
    x = np.random.default_rng(3).standard_normal((10, 70)).astype(np.float32)
    tune._section()["scan"] = {S._tune_key(ttorch.float32, 1, 10, 70): tune.Config({"BLOCK_M": 4, "BLOCK_N": 32},
                                                                                    num_warps=8)}
    tune._resolved.clear()
    y = ttorch.tensor(x, device="cuda").cumsum(1)
    assert seen[-1][0] == (3,) and (seen[-1][1]["BLOCK_M"], seen[-1][1]["BLOCK_N"], seen[-1][1]["num_warps"]) == \
        (4, 32, 8)
    np.testing.assert_allclose(y.cpu().numpy(), np.cumsum(x, 1), rtol=1e-5, atol=1e-5)


def test_batch_norm_launches_the_stored_winners(tmp_cache, monkeypatch):
    from ttorch.ops import batch_norm as bn
    seen = []
    real = bn.launch
    monkeypatch.setattr(bn, "launch", lambda k, grid, *a, **kw: (seen.append((k.__name__, kw)),
                                                                 real(k, grid, *a, **kw))[1])
    tune._section()["batch_norm"] = {
        bn._tune_key("stats", ttorch.float32, 20): tune.Config({"TILE": 512, "CHUNK": 64}, num_warps=8),
        bn._tune_key("apply", ttorch.float32, 20): tune.Config({"TILE": 1024}, num_warps=8)}
    x = ttorch.randn(4, 3, 4, 5, device="cuda")
    y = ttorch.nn.functional.batch_norm(x, None, None, training=True)
    kw = dict(seen)
    assert kw["_bn_partial_kernel"]["num_warps"] == 8 and kw["_bn_partial_kernel"]["BLOCK_S"] == 32
    assert kw["_bn_apply_kernel"]["num_warps"] == 8 and kw["_bn_apply_kernel"]["BLOCK_R"] == 32
    xr = x.cpu().numpy().astype(np.float64)
    want = (xr - xr.mean((0, 2, 3), keepdims=True)) / np.sqrt(xr.var((0, 2, 3), keepdims=True) + 1e-5)
    np.testing.assert_allclose(y.cpu().numpy(), want, rtol=1e-4, atol=1e-5)


import triton  # noqa: E402
import triton.language as tl  # noqa: E402

_TIMED = []


def _bench(fn, **kw):
    _TIMED.append(kw)
    return tune.do_bench(fn, warmup=1, reps=2)


# decorated at import, as ttorch's kernels are (the interpreter or not is read then; a test that sets
# TRITON_INTERPRET for a subprocess must not change what this is)
@triton.autotune(configs=[triton.Config({"BLOCK": 32}), triton.Config({"BLOCK": 64})], key=["n"], do_bench=_bench)
@triton.jit
def _twice(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    tl.store(y_ptr + offs, tl.load(x_ptr + offs, mask=m) * 2, mask=m)


@pytest.mark.skipif(not ttorch.cuda.is_available(), reason="no cuda device (real or simulated)")
def test_the_timer_drives_triton_autotune():
    # ttorch.tune.do_bench (CUDA events on a GPU, the wall clock under the interpreter) as
    # triton.autotune's do_bench: every config timed once, the winner kept, the kernel's result right
    from ttorch.ops._launch import launch
    _TIMED.clear()
    _twice.cache.clear()
    x, y = ttorch.arange(100, dtype=ttorch.float32, device="cuda"), ttorch.empty(100, device="cuda")
    for _ in range(2):                  # the second call launches the kept winner: no timing
        launch(_twice, lambda meta: (triton.cdiv(100, meta["BLOCK"]),), x, y, 100)
    assert len(_TIMED) == 2 and _twice.best_config.kwargs["BLOCK"] in (32, 64)
    np.testing.assert_array_equal(y.cpu().numpy(), np.arange(100, dtype=np.float32) * 2)


def test_a_stored_winner_outside_the_space_is_dropped(tmp_cache):
    # a cache tuned by an earlier release may name a configuration its op no longer offers (taken out
    # because it spilled registers): that bucket falls back to the heuristic, the others keep theirs
    t, _ = _toy("toy_pruned")
    sect = {"[128]": {"kwargs": {"BLOCK": 128}, "num_warps": 8, "num_stages": 3},
            "[1024]": {"kwargs": {"BLOCK": 512}, "num_warps": 8, "num_stages": 3}}
    cache.write({cache.section_name(): {"toy_pruned": sect}})
    tune.load()
    assert t.config((128,)) == tune.Config({"BLOCK": 128}, num_warps=8)
    assert t.config((1024,)) == tune.Config({"BLOCK": 64})
    assert tune.lookup("toy_pruned", (1024,)) is None
