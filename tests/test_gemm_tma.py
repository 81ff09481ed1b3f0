"""The persistent TMA GEMM (``gemm._gemm_tma_kernel``), which runs only where a tuned winner names
it: forced here through ``tune.lookup``, it must match NumPy for row-major and transposed B
(``linear``'s weight), the bias and activation epilogue, addmm's alpha/beta, edge tiles and more
tiles than programs; layouts TMA cannot take (misaligned rows, a batch, a transposed A) fall
back to the pointer kernel with the same tile."""
import numpy as np
import pytest

import ttorch
import ttorch.nn.functional as F
from ttorch import _dtype as D, tune
from ttorch.cuda import _driver
from ttorch.ops import gemm

pytestmark = pytest.mark.skipif(not ttorch.cuda.is_available(), reason="no cuda")

TILE = tune.Config({"BLOCK_M": 16, "BLOCK_N": 16, "BLOCK_K": 16, "GROUP_M": 2, "TMA": 1}, num_warps=4, num_stages=1)


@pytest.fixture
def kernels(monkeypatch):
    """Every GEMM takes the TMA tile; returns the kernels launched, in order."""
    real_lookup, real_launch, seen = tune.lookup, gemm.launch, []
    monkeypatch.setattr(gemm.tune, "lookup", lambda name, b: TILE if name == "gemm" else real_lookup(name, b))

    def spy(kernel, grid, *args, **meta):
        seen.append((kernel, grid))
        return real_launch(kernel, grid, *args, **meta)
    monkeypatch.setattr(gemm, "launch", spy)
    return seen


def R(*shape, seed=0):
    return np.random.default_rng(seed + sum(shape)).uniform(-1, 1, size=shape).astype(np.float32)


def cuda(a, dtype=D.float32):
    return ttorch.tensor(a, device="cuda").to(dtype)


TOL = {D.float32: 1e-5, D.float16: 2e-3, D.bfloat16: 2e-2}


@pytest.mark.parametrize("dtype", [D.float32, D.float16, D.bfloat16])
def test_matmul_row_major_b(kernels, dtype):
    a, b = R(37, 24), R(24, 72, seed=1)                  # 3 x 5 tiles of 16: one program per SM, at most 15
    out = cuda(a, dtype) @ cuda(b, dtype)
    sms = _driver.backend().sm_count(0)                  # 4 on the simulated device
    assert kernels == [(gemm._gemm_tma_kernel, (min(15, sms),))]
    ref = cuda(a, dtype).double().cpu().numpy() @ cuda(b, dtype).double().cpu().numpy()
    np.testing.assert_allclose(out.double().cpu().numpy(), ref, rtol=TOL[dtype], atol=TOL[dtype] * 4)


@pytest.mark.parametrize("act", ["none", "relu", "gelu"])
def test_linear_transposed_weight_bias_and_activation(kernels, act):
    from test_linear_fused import np_act
    x, w, bias = R(21, 40), R(33, 40, seed=2), R(33, seed=3)         # W stored (N, K): B read transposed
    out = ttorch.ops.linear.linear_act(cuda(x), cuda(w), cuda(bias), activation=act) if act != "none" else \
        F.linear(cuda(x), cuda(w), cuda(bias))
    assert [k for k, _ in kernels] == [gemm._gemm_tma_kernel]
    ref = np_act(x.astype(np.float64) @ w.T.astype(np.float64) + bias, act)
    np.testing.assert_allclose(out.cpu().numpy(), ref, rtol=1e-5, atol=1e-5)


def test_addmm_alpha_beta_and_tf32(kernels, monkeypatch):
    c, a, b = R(19, 20), R(19, 32, seed=4), R(32, 20, seed=5)
    out = ttorch.addmm(cuda(c), cuda(a), cuda(b), beta=0.5, alpha=-2.0)
    np.testing.assert_allclose(out.cpu().numpy(), 0.5 * c - 2.0 * (a @ b), rtol=1e-5, atol=1e-5)
    monkeypatch.setattr(ttorch.backends.cuda.matmul, "allow_tf32", True)
    try:
        out = cuda(a) @ cuda(b)
    finally:
        ttorch.backends.cuda.matmul.allow_tf32 = False
    assert [k for k, _ in kernels] == [gemm._gemm_tma_kernel] * 2
    np.testing.assert_allclose(out.cpu().numpy(), a @ b, rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize("case", ["misaligned rows", "batched", "transposed A"])
def test_layouts_tma_cannot_take_fall_back(kernels, case):
    if case == "misaligned rows":                         # K * 4 bytes is not a multiple of 16
        a, b = R(10, 7), R(7, 12, seed=6)
        ta, tb = cuda(a), cuda(b)
    elif case == "batched":
        a, b = R(3, 10, 16), R(3, 16, 12, seed=7)
        ta, tb = cuda(a), cuda(b)
    else:
        a, b = R(16, 10), R(16, 12, seed=8)
        ta, tb = cuda(a).t(), cuda(b)
        a = a.T
    out = ta @ tb
    assert kernels and all(k is gemm._gemm_kernel for k, _ in kernels)
    np.testing.assert_allclose(out.cpu().numpy(), a @ b, rtol=1e-5, atol=1e-5)


@pytest.mark.skipif(gemm.SIMULATED, reason="the production tiles need a real GPU (the interpreter is too slow)")
@pytest.mark.parametrize("kind", ["half", "tf32"])
def test_every_tma_tile_in_the_tune_space_on_the_gpu(monkeypatch, kind):
    """What the tuner may pick must compute the right product before it is timed (edge tiles,
    both B layouts, more tiles than SMs)."""
    a, b = R(1000, 256), R(256, 1100, seed=9)
    dtype = D.bfloat16 if kind == "half" else D.float32
    ref = cuda(a, dtype).double().cpu().numpy() @ cuda(b, dtype).double().cpu().numpy()
    for t in [t for t in gemm.TUNE_SPACE[kind] if len(t) > 6]:
        monkeypatch.setattr(gemm.tune, "lookup",
                            lambda name, bucket, t=t: gemm._as_config(t) if name == "gemm" else None)
        ttorch.backends.cuda.matmul.allow_tf32 = kind == "tf32"
        try:
            row_major = cuda(a, dtype) @ cuda(b, dtype)
            transposed = F.linear(cuda(a, dtype), cuda(b.T.copy(), dtype))
        finally:
            ttorch.backends.cuda.matmul.allow_tf32 = False
        for out in (row_major, transposed):
            np.testing.assert_allclose(out.double().cpu().numpy(), ref, rtol=2e-2, atol=0.3, err_msg=str(t))


@pytest.mark.parametrize("b_t", [False, True])
def test_flattened_loops(monkeypatch, b_t):
    # TMA field 2: the tile loop and the K loop flattened into one; more tiles than programs, edge
    # tiles, B row-major and stored transposed, a bias
    flat = tune.Config(dict(TILE.kwargs, TMA=2), num_warps=4, num_stages=1)
    real_lookup, real_launch, seen = tune.lookup, gemm.launch, []
    monkeypatch.setattr(gemm.tune, "lookup", lambda name, b: flat if name == "gemm" else real_lookup(name, b))
    monkeypatch.setattr(gemm, "launch", lambda k, g, *a, **m: seen.append((k, m["FLATTEN"]))
                        or real_launch(k, g, *a, **m))
    x, w, bias = R(37, 40), R(72, 40, seed=6), R(72, seed=7)
    wt = cuda(w) if b_t else cuda(np.ascontiguousarray(w.T)).t()
    out = F.linear(cuda(x), wt, cuda(bias))
    assert seen == [(gemm._gemm_tma_kernel, True)]
    np.testing.assert_allclose(out.cpu().numpy(), x.astype(np.float64) @ w.T + bias, rtol=1e-5, atol=1e-5)


@pytest.mark.skipif(gemm._TensorDescriptor is None, reason="this Triton has no host TMA descriptors")
def test_descriptors_built_without_post_init_match_the_constructor():
    # gemm._descriptor skips TensorDescriptor's checks (the caller made them): same fields, same values
    a = ttorch.zeros(64, 48, device="cuda")
    fast = gemm._descriptor(a, [64, 48], [48, 1], [32, 16])
    slow = gemm._TensorDescriptor(a, [64, 48], [48, 1], [32, 16])
    assert type(fast) is type(slow) and vars(fast).keys() == vars(slow).keys()
    assert all(getattr(fast, k) is getattr(slow, k) or getattr(fast, k) == getattr(slow, k) for k in vars(slow))
