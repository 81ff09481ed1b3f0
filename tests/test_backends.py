"""``ttorch.backends``: PyTorch's switches and defaults, the TF32 switch kept in sync with
``set_float32_matmul_precision``, and TF32 reaching the GEMM kernel for float32 products only."""
import numpy as np
import pytest

import ttorch
import ttorch.nn.functional as F
from ttorch import _dtype as D
from ttorch.backends import cuda as bcuda, cudnn
from ttorch.ops import gemm as G

from _helpers import close, to_np

CUDA = ["cuda"] if ttorch.cuda.is_available() else []


@pytest.fixture(autouse=True)
def _restore():
    state = dict(bcuda._state)
    flags = {n: getattr(cudnn, n) for n in ("enabled", "benchmark", "benchmark_limit", "deterministic", "allow_tf32")}
    yield
    bcuda._state.clear()
    bcuda._state.update(state)
    for n, v in flags.items():
        setattr(cudnn, n, v)


@pytest.mark.tf32_default
def test_defaults_are_pytorchs():
    m = ttorch.backends.cuda.matmul
    assert m.allow_tf32 is False
    assert ttorch.get_float32_matmul_precision() == "highest"
    assert m.allow_fp16_reduced_precision_reduction is True
    assert m.allow_bf16_reduced_precision_reduction is True
    assert (cudnn.enabled, cudnn.benchmark, cudnn.deterministic, cudnn.allow_tf32) == (True, False, False, True)
    assert cudnn.benchmark_limit == 10
    assert cudnn.is_available() is False and cudnn.version() is None
    assert ttorch.backends.mps.is_available() is False and ttorch.backends.mps.is_built() is False
    assert ttorch.backends.cuda.is_built() is True


def test_allow_tf32_and_precision_stay_in_sync():
    m = ttorch.backends.cuda.matmul
    m.allow_tf32 = True
    assert ttorch.get_float32_matmul_precision() == "high"
    m.allow_tf32 = False
    assert ttorch.get_float32_matmul_precision() == "highest"
    for p, tf32 in (("medium", True), ("high", True), ("highest", False)):
        ttorch.set_float32_matmul_precision(p)
        assert ttorch.get_float32_matmul_precision() == p
        assert m.allow_tf32 is tf32


def test_bad_precision_and_unknown_attributes():
    ttorch.set_float32_matmul_precision("high")
    with pytest.warns(UserWarning, match="is not one of 'highest', 'high', or 'medium'"):
        ttorch.set_float32_matmul_precision("low")
    assert ttorch.get_float32_matmul_precision() == "high"
    with pytest.raises(TypeError):
        ttorch.set_float32_matmul_precision(1)
    with pytest.raises(AttributeError, match="Unknown attribute allow_tf33"):
        ttorch.backends.cuda.matmul.allow_tf33
    with pytest.raises(AttributeError, match="Unknown attribute allow_tf33"):
        ttorch.backends.cuda.matmul.allow_tf33 = True


@pytest.mark.tf32_default
def test_stored_flags():
    m = ttorch.backends.cuda.matmul
    m.allow_fp16_reduced_precision_reduction = False
    m.allow_bf16_reduced_precision_reduction = False
    assert not m.allow_fp16_reduced_precision_reduction and not m.allow_bf16_reduced_precision_reduction
    assert m.allow_tf32 is False                       # independent of the tf32 switch
    cudnn.benchmark = True
    cudnn.deterministic = True
    assert ttorch.backends.cudnn.benchmark and ttorch.backends.cudnn.deterministic
    with cudnn.flags(enabled=False, allow_tf32=False):
        assert cudnn.enabled is False and cudnn.allow_tf32 is False and cudnn.benchmark is False
    assert cudnn.enabled is True and cudnn.allow_tf32 is True and cudnn.benchmark is True
    bcuda.enable_flash_sdp(False)
    assert bcuda.flash_sdp_enabled() is False and bcuda.math_sdp_enabled() is True


# ------------------------------------------------------------------------------- the kernel
def _spy(monkeypatch):
    seen = []
    real = G.launch
    monkeypatch.setattr(G, "launch", lambda k, g, *a, **m: seen.append(m["PREC"]) or real(k, g, *a, **m))
    return seen


@pytest.mark.parametrize("device", CUDA)
def test_every_float32_gemm_receives_tf32(device, monkeypatch):
    seen = _spy(monkeypatch)
    r = np.random.default_rng(0)
    a, b, c = (ttorch.tensor(r.uniform(-1, 1, size=s), dtype=D.float32, device=device) for s in ((3, 5), (5, 4), (4,)))
    a3 = a.unsqueeze(0)
    calls = [lambda: a @ b, lambda: ttorch.mm(a, b), lambda: ttorch.bmm(a3, b.unsqueeze(0)),
             lambda: ttorch.addmm(c, a, b), lambda: F.linear(a, b.t(), c), lambda: F._linear_act(a, b.t(), c, "gelu")]
    for f in calls:
        f()
    assert seen == ["ieee"] * len(calls)
    seen.clear()
    ttorch.backends.cuda.matmul.allow_tf32 = True
    for f in calls:
        f()
    assert seen == ["tf32"] * len(calls)
    seen.clear()
    ttorch.set_float32_matmul_precision("highest")
    a @ b
    ttorch.set_float32_matmul_precision("medium")
    a @ b
    assert seen == ["ieee", "tf32"]


@pytest.mark.parametrize("device", CUDA)
def test_tf32_only_for_float32(device, monkeypatch):
    ttorch.backends.cuda.matmul.allow_tf32 = True
    seen = _spy(monkeypatch)
    x = ttorch.ones(4, 4, device=device)
    for dt in (D.float16, D.bfloat16, D.float64):
        x.to(dt) @ x.to(dt)
    # float64 runs "fma" (no tl.dot) on Tritons without fp64 dots, such as 3.6: never TF32 either way
    assert seen[:2] == ["ieee"] * 2 and seen[2] in ("ieee", "fma")


@pytest.mark.parametrize("device", CUDA)
def test_tf32_path_runs_and_stays_close(device):
    # the interpreter computes tf32 products in fp32; a GPU rounds inputs to 10 mantissa bits,
    # so the bound is TF32's: ~2^-11 relative per product, growing with sqrt(K)
    r = np.random.default_rng(1)
    a, b = r.uniform(-1, 1, size=(19, 37)), r.uniform(-1, 1, size=(37, 23))
    ttorch.backends.cuda.matmul.allow_tf32 = True
    got = ttorch.tensor(a, dtype=D.float32, device=device) @ ttorch.tensor(b, dtype=D.float32, device=device)
    np.testing.assert_allclose(to_np(got), a @ b, rtol=0, atol=1e-3 * np.sqrt(37))
    x, w = ttorch.tensor(a, device=device, dtype=D.float32), ttorch.tensor(b.T, device=device, dtype=D.float32)
    close(F._linear_act(x, w, None, "relu").cpu(), np.maximum(a @ b, 0), D.float16, 37)


def test_cpu_products_ignore_tf32():
    ttorch.backends.cuda.matmul.allow_tf32 = True
    r = np.random.default_rng(2)
    a, b = r.uniform(-1, 1, size=(5, 7)), r.uniform(-1, 1, size=(7, 3))
    got = ttorch.tensor(a, dtype=D.float32) @ ttorch.tensor(b, dtype=D.float32)
    close(got, (a.astype(np.float32) @ b.astype(np.float32)), D.float32, 7)
