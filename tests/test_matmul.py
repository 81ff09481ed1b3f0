"""matmul family: PyTorch's errors, einsum against np.einsum, addmm/baddbmm scalars, strided and
broadcast operands on cuda, half-precision tolerances, launch paths and the tile heuristic.
(Values, parity and gradients of every sample are generated in test_ops.py.)"""
import types

import numpy as np
import pytest

import ttorch
from ttorch import _dtype as D
from ttorch.ops import gemm as M   # the GEMM kernel family behind every product

from _helpers import close, numeric_grads, to_np

CUDA = ["cuda"] if ttorch.cuda.is_available() else []


def T(a, device="cpu", dtype=None, requires_grad=False):
    a = np.asarray(a)
    if dtype is None and a.dtype.kind == "f":
        dtype = ttorch.float32
    return ttorch.tensor(a, dtype=dtype, device=device, requires_grad=requires_grad)


def R(*shape, seed=0):
    return np.random.default_rng(seed + 7 * len(shape) + sum(shape)).uniform(-1, 1, size=shape)


# ------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("fn,a,b,msg", [
    ("matmul", (2, 3), (4, 5), r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)"),
    ("mm", (2, 3), (4, 5), r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)"),
    ("matmul", (3,), (4, 5), r"mat1 and mat2 shapes cannot be multiplied \(1x3 and 4x5\)"),
    ("matmul", (2, 3, 4), (5, 6), r"mat1 and mat2 shapes cannot be multiplied \(6x4 and 5x6\)"),
    ("matmul", (2, 3, 4), (2, 5, 6), r"Expected size for first two dimensions of batch2 tensor to be: \[2, 4\] "
                                     r"but got: \[2, 5\]\."),
    ("matmul", (3,), (4,), r"inconsistent tensor size, expected tensor \[3\] and src \[4\] to have the same number "
                           r"of elements, but got 3 and 4 elements respectively"),
    ("matmul", (2, 3), (4,), r"size mismatch, got input \(2\), mat \(2x3\), vec \(4\)"),
    ("matmul", (), (3,), r"both arguments to matmul need to be at least 1D, but they are 0D and 1D"),
    ("matmul", (2, 3, 4), (3, 4, 5), r"The size of tensor a \(2\) must match the size of tensor b \(3\)"),
    ("mm", (3,), (3, 2), "self must be a matrix"),
    ("mm", (2, 3), (3,), "mat2 must be a matrix"),
    ("bmm", (2, 3), (2, 3, 4), "batch1 must be a 3D tensor"),
    ("bmm", (2, 3, 4), (3, 4, 5), "batch1 and batch2 must have same number of batches, got 2 and 3"),
    ("bmm", (2, 3, 4), (2, 5, 6), r"Expected size for first two dimensions of batch2 tensor to be: \[2, 4\]"),
    ("dot", (2, 3), (3,), "1D tensors expected, but got 2D and 1D tensors"),
    ("mv", (2, 3), (3, 1), "vector \\+ matrix @ vector expected, got 1, 2, 2"),
    ("outer", (2, 3), (3,), "outer: Expected 1-D argument self, but got 2-D"),
])
def test_shape_errors(fn, a, b, msg):
    with pytest.raises(RuntimeError, match=msg):
        getattr(ttorch, fn)(T(R(*a)), T(R(*b)))


def test_dtype_and_type_errors():
    a32, a64 = T(R(2, 2), dtype=ttorch.float32), T(R(2, 2), dtype=ttorch.float64)
    with pytest.raises(RuntimeError, match="expected mat1 and mat2 to have the same dtype, but got: float != double"):
        a32 @ a64
    with pytest.raises(RuntimeError, match="dot : expected both vectors to have same dtype, but found Float and Double"):
        ttorch.dot(a32[0], a64[0])
    with pytest.raises(RuntimeError, match="expected scalar type Float but found Double"):
        ttorch.bmm(a32[None], a64[None])
    with pytest.raises(TypeError, match=r"matmul\(\): argument 'other' \(position 2\) must be Tensor, not int"):
        ttorch.matmul(a32, 2)
    with pytest.raises(TypeError):
        a32 @ 2
    b = T(np.ones((2, 2), dtype=bool))
    with pytest.raises(RuntimeError, match="\"addmm_impl_cpu_\" not implemented for 'Bool'"):
        b @ b


def test_addmm_errors():
    m1, m2 = T(R(2, 3)), T(R(3, 5))
    with pytest.raises(RuntimeError, match="mat1 must be a matrix, got 1-D tensor"):
        ttorch.addmm(T(R(5)), T(R(3)), m2)
    with pytest.raises(RuntimeError, match=r"The expanded size of the tensor \(5\) must match the existing size \(3\) "
                                           r"at non-singleton dimension 1.  Target sizes: \[2, 5\].  Tensor sizes: \[3\]"):
        ttorch.addmm(T(R(3)), m1, m2)
    with pytest.raises(RuntimeError, match="self and mat2 must have the same dtype"):
        ttorch.addmm(T(R(5), dtype=ttorch.float64), m1, m2)
    with pytest.raises(RuntimeError, match="batch2 must be a 3D tensor"):
        ttorch.baddbmm(T(R(5)), T(R(1, 2, 3)), m2)
    # integer products truncate float scalars, as PyTorch 2.13 does (1 + 0 * 2, 2 + 2 * 2); addr refuses them
    one = T(np.ones((2, 2), np.int64))
    assert ttorch.addmm(one, one, one, alpha=0.5).tolist() == [[1, 1], [1, 1]]
    assert ttorch.baddbmm(one[None], one[None], one[None], beta=2.5, alpha=2.5).tolist() == [[[6, 6], [6, 6]]]
    assert ttorch.addmv(one[0], one, one[0], alpha=2.5).tolist() == [5, 5]
    with pytest.raises(RuntimeError, match="argument alpha must not be a floating point number"):
        ttorch.addr(one, one[0], one[0], alpha=0.5)


# ------------------------------------------------------------------------------- integers
def test_integer_matmul_cpu_and_cuda_error():
    a = np.arange(12, dtype=np.int64).reshape(2, 2, 3) - 5
    b = np.arange(6, dtype=np.int64).reshape(3, 2) * 3 - 4
    r = T(a) @ T(b)
    assert r.dtype is ttorch.int64
    np.testing.assert_array_equal(r.numpy(), a @ b)
    np.testing.assert_array_equal(ttorch.addmm(T(b[:2]), T(a[0]), T(b), beta=2, alpha=3).numpy(),
                                  2 * b[:2] + 3 * (a[0] @ b))
    np.testing.assert_array_equal(ttorch.dot(T(a[0, 0]), T(a[1, 1])).numpy(), a[0, 0] @ a[1, 1])
    for dev in CUDA:   # PyTorch's cuda has no integer GEMM; neither do we
        with pytest.raises(RuntimeError, match="\"addmm_cuda\" not implemented for 'Long'"):
            T(a[0], dev) @ T(b, dev)
        with pytest.raises(RuntimeError, match="\"bmm_cuda\" not implemented for 'Long'"):
            T(a, dev) @ T(b, dev)


# ------------------------------------------------------------------------------- semantics
@pytest.mark.parametrize("device", ["cpu"] + CUDA)
def test_shapes_and_grad_fns(device):
    v, m, b3 = T(R(3), device), T(R(3, 3), device), T(R(2, 3, 3), device)
    assert (v @ v).shape == () and (m @ v).shape == (3,) and (v @ m).shape == (3,) and (v @ b3).shape == (2, 3)
    assert (b3 @ v).shape == (2, 3) and (b3 @ m).shape == (2, 3, 3) and (m @ b3).shape == (2, 3, 3)
    assert v.matmul(v).item() == pytest.approx(float(R(3) @ R(3)))
    x = T(R(3, 3), device, requires_grad=True)
    assert (x @ x).grad_fn.name() == "MmBackward0"
    assert (x[0] @ x[1]).grad_fn.name() == "DotBackward0"
    assert (x @ x[0]).grad_fn.name() == "MvBackward0"
    assert ttorch.bmm(x[None], x[None]).grad_fn.name() == "BmmBackward0"
    assert ttorch.addmm(x, x, x).grad_fn.name() == "AddmmBackward0"


@pytest.mark.parametrize("device", ["cpu"] + CUDA)
def test_out_and_inplace(device):
    a, b = R(3, 4), R(4, 5)
    out = ttorch.empty(0, device=device)
    r = ttorch.matmul(T(a, device), T(b, device), out=out)
    assert r is out and out.shape == (3, 5)
    close(out, a @ b, D.float32, 4)
    c = T(R(3, 5), device)
    c0 = to_np(c).copy()
    c.addmm_(T(a, device), T(b, device), beta=0.5, alpha=2)
    close(c, 0.5 * c0 + 2 * (a @ b), D.float32, 4)
    bb = T(R(2, 3, 5), device)
    b0 = to_np(bb).copy()
    bb.baddbmm_(T(R(2, 3, 4), device), T(R(2, 4, 5), device), alpha=-1)
    close(bb, b0 - R(2, 3, 4) @ R(2, 4, 5), D.float32, 4)
    close(ttorch.outer(T(R(3), device), T(R(2), device)), np.outer(R(3), R(2)), D.float32)
    close(ttorch.ger(T(R(3), device), T(R(2), device)), np.outer(R(3), R(2)), D.float32)


@pytest.mark.parametrize("device", ["cpu"] + CUDA)
def test_addmm_beta_zero_ignores_nan(device):
    nan = T(np.full((3, 4), np.nan), device)
    a, b = R(3, 2), R(2, 4)
    close(ttorch.addmm(nan, T(a, device), T(b, device), beta=0, alpha=3), 3 * (a @ b), D.float32, 2)
    bat = T(np.full((2, 3, 4), np.inf), device)
    close(ttorch.baddbmm(bat, T(R(2, 3, 2), device), T(R(2, 2, 4), device), beta=0),
          R(2, 3, 2) @ R(2, 2, 4), D.float32, 2)


@pytest.mark.parametrize("device", CUDA)
def test_float64_alpha_beta_keep_precision(device):
    # alpha/beta go to the kernel as fp32 pairs: 0.1 must not be rounded to fp32's 0.1
    c, a, b = R(5, 6), R(5, 7), R(7, 6)
    f64 = ttorch.float64
    r = ttorch.addmm(T(c, device, f64), T(a, device, f64), T(b, device, f64), beta=0.1, alpha=1 / 3)
    np.testing.assert_allclose(to_np(r), 0.1 * c + (a @ b) / 3, rtol=1e-13, atol=1e-13)


# ------------------------------------------------------------------------------- cuda operands
@pytest.mark.parametrize("device", CUDA)
def test_strided_operands_need_no_copy(device, monkeypatch):
    a, b = R(20, 37), R(37, 19)
    ta = T(np.ascontiguousarray(a.T), device).mT           # (20, 37) with strides (1, 20)
    tb = T(np.ascontiguousarray(b.T), device).mT           # (37, 19) with strides (1, 37)
    big = T(R(3, 40, 19), device)
    sliced = big[1, ::2, :]                                  # row stride 38
    batch = T(R(5, 4), device).expand(3, 5, 4)               # batch stride 0

    def no_copy(*args, **kw):
        raise AssertionError("matmul copied an operand")
    from ttorch.ops import elementwise, movement
    monkeypatch.setattr(elementwise, "ew_launch", no_copy)
    monkeypatch.setattr(movement, "copy_into", no_copy)
    r1 = ta @ tb
    r2 = sliced.mT @ ta.mT[:20, :20]                           # (19, 20) strides (1, 38)
    r3 = batch @ tb[:4]
    monkeypatch.undo()
    close(r1, a @ b, D.float32, 37)
    close(r2, to_np(big)[1, ::2, :].T @ a.T[:20, :20], D.float32, 20)
    close(r3, np.broadcast_to(R(5, 4), (3, 5, 4)) @ b[:4], D.float32, 4)


@pytest.mark.parametrize("device", CUDA)
def test_float32_fma_product_reads_a_transposed_b_row_major(device, monkeypatch):
    # x @ W^T (W stored (N, K)) from _FMA_ROW_MAJOR_B_FROM_M rows on: W is copied row-major and the
    # GEMM gets unit column strides; tf32, half precision and short products read B in place
    from ttorch.ops import movement
    monkeypatch.setattr(M, "_FMA_ROW_MAJOR_B_FROM_M", 16)
    seen, copies = [], []
    real, real_copy = M.launch, movement.copy_into
    monkeypatch.setattr(M, "launch", lambda k, g, *a, **m: seen.append(a[1].stride()) or real(k, g, *a, **m))
    monkeypatch.setattr(movement, "copy_into", lambda *a: copies.append(1) or real_copy(*a))
    x, w, bias = R(20, 24), R(18, 24, seed=1), R(18, seed=2)
    out = ttorch.nn.functional.linear(T(x, device), T(w, device), T(bias, device))
    close(out, x @ w.T + bias, D.float32, 24)
    assert seen == [(18, 1)] and len(copies) == 1           # the row-major copy: strides (N, 1)
    short, xs, ws, xh, wh = T(x[:8], device), T(x, device), T(w, device), T(x, device).half(), T(w, device).half()
    seen.clear(), copies.clear()
    short @ ws.t()                                         # 8 rows: in place
    xh @ wh.t()
    monkeypatch.setattr(ttorch.backends.cuda.matmul, "allow_tf32", True)
    xs @ ws.t()
    assert seen == [(1, 24)] * 3 and copies == []


@pytest.mark.parametrize("device", CUDA)
def test_float32_fma_product_reads_a_stored_k_by_m(device, monkeypatch):
    # from _FMA_M_MAJOR_A_FROM_N columns (and _FMA_M_MAJOR_A_FROM_M rows) on, a row-major A is copied
    # to (K, M) storage, so the kernel sees A with a unit row stride; with W stored (N, K) as well,
    # linear's forward reads both copies; short or narrow products, TF32 and half read A in place
    from ttorch.ops import movement
    monkeypatch.setattr(M, "_FMA_M_MAJOR_A_FROM_N", 16)
    monkeypatch.setattr(M, "_FMA_M_MAJOR_A_FROM_M", 16)
    monkeypatch.setattr(M, "_FMA_ROW_MAJOR_B_FROM_M", 16)
    seen, copies = [], []
    real, real_copy = M.launch, movement.copy_into
    monkeypatch.setattr(M, "launch", lambda k, g, *a, **m: seen.append((a[0].stride(), a[1].stride()))
                        or real(k, g, *a, **m))
    monkeypatch.setattr(movement, "copy_into", lambda *a: copies.append(1) or real_copy(*a))
    x, w, bias = R(20, 24), R(18, 24, seed=1), R(18, seed=2)
    close(T(x, device) @ T(w.T.copy(), device), x @ w.T, D.float32, 24)
    close(ttorch.nn.functional.linear(T(x, device), T(w, device), T(bias, device)), x @ w.T + bias, D.float32, 24)
    assert seen == [((1, 20), (18, 1))] * 2 and len(copies) == 3
    xs, ws, xh, wh = T(x, device), T(w.T.copy(), device), T(x, device).half(), T(w.T.copy(), device).half()
    seen.clear(), copies.clear()
    xs[:8] @ ws                                                    # 8 rows
    xs @ ws[:, :8]                                                 # 8 columns
    xh @ wh
    monkeypatch.setattr(ttorch.backends.cuda.matmul, "allow_tf32", True)
    xs @ ws
    assert [s[0] for s in seen] == [(24, 1)] * 4 and copies == []


@pytest.mark.parametrize("device", CUDA)
@pytest.mark.parametrize("hopper", [True, False])
def test_tf32_product_on_hopper_reads_k_major_operands(device, hopper, monkeypatch):
    # TF32 on sm_90 from _TF32_K_MAJOR_FROM rows (columns) of the other operand on: a row-major B is
    # copied to (N, K) and a transposed A to (M, K), so the kernel sees unit K strides; sm_80, IEEE
    # float32 and short products read them in place
    from ttorch.ops import movement
    monkeypatch.setattr(M, "_TF32_K_MAJOR_FROM", 16)
    monkeypatch.setattr(M, "_hopper", lambda index: hopper)
    seen, copies = [], []
    real, real_copy = M.launch, movement.copy_into
    monkeypatch.setattr(M, "launch", lambda k, g, *a, **m: seen.append((a[0].stride(), a[1].stride()))
                        or real(k, g, *a, **m))
    monkeypatch.setattr(movement, "copy_into", lambda *a: copies.append(1) or real_copy(*a))
    monkeypatch.setattr(ttorch.backends.cuda.matmul, "allow_tf32", True)
    x, w = R(20, 24), R(24, 18, seed=1)
    xt = T(np.ascontiguousarray(x.T), device).t()                   # (20, 24) stored (24, 20)
    out = xt @ T(w, device)
    np.testing.assert_allclose(to_np(out), x @ w, rtol=2e-3, atol=2e-3)         # TF32: 10-bit mantissas
    assert seen == ([((24, 1), (1, 24))] if hopper else [((1, 20), (18, 1))]) and len(copies) == 2 * hopper
    seen.clear(), copies.clear()
    T(x[:8], device) @ T(w, device)                                 # 8 rows: B in place
    monkeypatch.setattr(ttorch.backends.cuda.matmul, "allow_tf32", False)
    T(x, device) @ T(w, device)                                     # IEEE float32: in place
    assert seen == [((24, 1), (18, 1))] * 2 and copies == []


@pytest.mark.parametrize("device", CUDA)
@pytest.mark.parametrize("K", [256, 300])                   # whole parts; a ragged last part
def test_split_k(device, K, monkeypatch):
    # few output tiles, long K: the parts run on the batch axis into a workspace, one kernel sums
    # them and applies alpha/beta/bias/activation; float32, float64 (hi/lo alpha) and float16
    from ttorch.ops.linear import linear_act
    from test_linear_fused import np_act
    kernels = []
    real = M.launch
    a, b, c = R(20, K), R(K, 10, seed=1), R(20, 10, seed=2)
    T(a, device, D.float64) @ T(b, device, D.float64)      # a Triton without fp64 tl.dot: its failed try first
    monkeypatch.setattr(M, "launch", lambda k, g, *a, **m: kernels.append(k) or real(k, g, *a, **m))
    bm, bn, bk = M.pick_config(20, 10, K, 1, D.float32)[:3]
    parts, per = M._split_k(20, 10, K, bm, bn, bk)
    assert parts == -(-K // per) >= 2
    want = [M._gemm_kernel] * (1 if K % per == 0 else 2) + [M._split_k_sum_kernel]
    for dt in (D.float32, D.float64):
        kernels.clear()
        out = ttorch.addmm(T(c, device, dt), T(a, device, dt), T(b, device, dt), beta=0.5, alpha=-1 / 3)
        close(out, 0.5 * c - (a @ b) / 3, dt, K)
        assert kernels == want
    kernels.clear()
    out = linear_act(T(a, device), T(b.T, device), T(c[0], device), activation="gelu")
    close(out, np_act(a @ b + c[0], "gelu"), D.float32, K)
    ah, bh = T(a, device, D.float16), T(b, device, D.float16)
    got = ah @ bh
    assert got.dtype is D.float16 and kernels == want * 2
    close(got, (to_np(ah).astype(np.float64) @ to_np(bh).astype(np.float64)).astype(np.float16), D.float16, K)


def test_split_k_fills_the_gpu_for_long_k():
    # few programs per SM over a long K split into parts of >= _SPLIT_LONG_STEPS K blocks, up to
    # _SPLIT_FILL programs per SM (the GPT-2-like step's weight gradients); wide products don't split
    assert M._split_k(768, 768, 8192, 64, 64, 32) == (3, 86 * 32)          # 144 tiles
    assert M._split_k(768, 3072, 8192, 128, 64, 32) == (2, 4096)           # 288 tiles
    assert M._split_k(2304, 768, 8192, 64, 64, 32) is None                 # 432 tiles: enough
    assert M._split_k(768, 768, 2048, 64, 64, 32) is None                  # 64 K blocks: too short
    assert M._split_k(128, 10, 4096, 32, 32, 32) == (32, 128)              # the few-tiles rule, unchanged


@pytest.mark.parametrize("device", CUDA)
def test_split_k_for_long_k_runs_and_turns_off(device, monkeypatch):
    kernels = []
    real = M.launch
    monkeypatch.setattr(M, "launch", lambda k, g, *a, **m: kernels.append(k) or real(k, g, *a, **m))
    monkeypatch.setattr(M, "_WAVE", 4)                          # 9 tiles of 16x16: below 3 programs per SM
    monkeypatch.setattr(M, "_SPLIT_LONG_STEPS", 2)
    a, b = R(48, 300), R(300, 40, seed=1)
    bm, bn, bk = M.pick_config(48, 40, 300, 1, D.float32)[:3]
    assert M._split_k(48, 40, 300, bm, bn, bk)[0] >= 2              # 2 with the simulated device's 16x16 tiles
    out = T(a, device) @ T(b, device)
    close(out, a @ b, D.float32, 300)
    assert kernels[-1] is M._split_k_sum_kernel
    kernels.clear()
    monkeypatch.setattr(M, "_SPLIT_FILL", 0)
    close(T(a, device) @ T(b, device), a @ b, D.float32, 300)
    assert kernels == [M._gemm_kernel]


@pytest.mark.parametrize("device", CUDA)
def test_batch_paths(device, monkeypatch):
    # folded (batch into M), collapsed batch on grid axis 1, host loop over unmergeable dims,
    # and chunks of grid axis 1
    calls = []
    real = M.launch

    def spy(kernel, grid, *args, **meta):
        calls.append(grid)
        return real(kernel, grid, *args, **meta)
    monkeypatch.setattr(M, "launch", spy)
    a, b = R(2, 3, 5, 4), R(4, 6)
    close(T(a, device) @ T(b, device), a @ b, D.float32, 4)
    bm, bn = M.pick_config(30, 6, 4, 1, D.float32)[:2]
    assert calls == [(-(-30 // bm) * -(-6 // bn), 1)]         # (30, 4) @ (4, 6): one GEMM
    calls.clear()
    a, b = R(2, 1, 3, 4), R(3, 4, 2)
    close(T(a, device) @ T(b, device), a @ b, D.float32, 4)
    assert calls == [(1, 3), (1, 3)]                          # batch (2, 3) doesn't merge: 2 launches
    calls.clear()
    monkeypatch.setattr(M, "_MAX_GRID_Y", 2)
    a, b = R(5, 3, 4), R(5, 4, 2)
    close(T(a, device) @ T(b, device), a @ b, D.float32, 4)
    assert calls == [(1, 2), (1, 2), (1, 1)]


@pytest.mark.parametrize("device", CUDA)
@pytest.mark.parametrize("dtype", [ttorch.float16, ttorch.bfloat16])
def test_half_precision_against_float64(device, dtype):
    # 37x50x29 spans several 16x16 tiles and four K blocks; bf16 goes through the patched tl.dot
    a, b = R(37, 50), R(50, 29)
    ta, tb = T(a, device, dtype), T(b, device, dtype)
    ref = to_np(ta).astype(np.float64) @ to_np(tb).astype(np.float64)
    got = ta @ tb
    assert got.dtype is dtype
    close(got, ref.astype(dtype.np).astype(np.float64), dtype, 50)
    cpu = T(a, "cpu", dtype) @ T(b, "cpu", dtype)
    close(got, cpu, dtype, 50)


@pytest.mark.parametrize("device", CUDA)
def test_tf32_switch(device, monkeypatch):
    seen = []
    real = M.launch
    monkeypatch.setattr(M, "launch", lambda k, g, *a, **m: seen.append(m["PREC"]) or real(k, g, *a, **m))
    x = T(R(4, 4), device)
    x @ x
    monkeypatch.setattr(ttorch.backends.cuda.matmul, "allow_tf32", True)
    x @ x
    x.half() @ x.half()
    assert seen == ["ieee", "tf32", "ieee"]


def test_pick_config_heuristic(monkeypatch):
    monkeypatch.setattr(M, "SIMULATED", False)
    assert M.pick_config(4096, 4096, 4096, 1, D.float16) == M.CONFIGS[0]
    # GPUs with 144 KiB of shared memory a block: 128x256 half tiles for large products only
    assert M.pick_config(4096, 11008, 4096, 1, D.bfloat16, wide=True) == M.CONFIGS[7] == (128, 256, 64, 8, 8, 3)
    assert M.pick_config(768, 768, 64, 1, D.bfloat16, wide=True) == M.CONFIGS[2]
    assert M.pick_config(4096, 4096, 4096, 1, D.float32, wide=True) == M.CONFIGS[1]
    # Hopper: from two waves of 128x256 tiles, one half product takes the persistent TMA kernel's tile
    assert M.pick_config(4096, 4096, 4096, 1, D.bfloat16, wide=True, hopper=True) == (128, 256, 64, 8, 8, 3, 2)
    assert M.pick_config(4096, 11008, 4096, 1, D.float16, wide=True, hopper=True) == M._TMA_TILE
    assert M.pick_config(2048, 2048, 2048, 1, D.bfloat16, wide=True, hopper=True) == M.CONFIGS[7]    # one wave
    assert M.pick_config(4096, 4096, 64, 4, D.bfloat16, wide=True, hopper=True) == M.CONFIGS[7]      # a batch
    assert M.pick_config(2048, 4096, 65536, 1, D.bfloat16, wide=True, hopper=True) == M.CONFIGS[7]   # split K
    assert M.pick_config(4096, 4096, 4096, 1, D.float32, wide=True, hopper=True) == M.CONFIGS[1]
    # TF32 on Hopper, from a wave of 128x256 tiles: the persistent TMA kernel's 128x256x32 tile
    tf32 = dict(wide=True, hopper=True, prec="tf32")
    assert M.pick_config(2048, 2048, 2048, 1, D.float32, **tf32) == M._TF32_TMA_TILE == (128, 256, 32, 8, 8, 3, 1)
    assert M.pick_config(8192, 8192, 8192, 1, D.float32, **tf32) == M._TF32_TMA_TILE
    assert M.pick_config(1024, 2048, 2048, 1, D.float32, **tf32) == M.CONFIGS[1]                 # under a wave
    assert M.pick_config(2048, 2048, 64, 2, D.float32, **tf32) == M.CONFIGS[1]                   # a batch
    assert M.pick_config(4096, 4096, 4096, 1, D.float32, wide=True, prec="tf32") == M.CONFIGS[1]  # not Hopper
    monkeypatch.setattr(M, "_TensorDescriptor", None)       # a Triton without host TMA descriptors
    assert M.pick_config(4096, 4096, 4096, 1, D.bfloat16, wide=True, hopper=True) == M.CONFIGS[7]
    assert M.pick_config(4096, 4096, 4096, 1, D.float32, **tf32) == M.CONFIGS[1]
    for cap, wide in (((8, 0), True), ((8, 6), False), ((8, 9), False), ((9, 0), True)):
        monkeypatch.setattr(M._driver, "backend", lambda cap=cap: types.SimpleNamespace(capability=lambda i: cap))
        assert M._wide_tiles(0) is wide
    assert M.pick_config(4096, 4096, 4096, 1, D.float32) == M.CONFIGS[1]
    assert M.pick_config(768, 768, 64, 1, D.bfloat16) == M.CONFIGS[2]
    assert M.pick_config(100, 30, 8, 2, D.float32) == M.CONFIGS[3]
    assert M.pick_config(64, 64, 64, 1000, D.float64) == M.CONFIGS[4]
    assert M.pick_config(8, 8, 8, 1, D.float64) == M.CONFIGS[5]
    warps = {c[4] for c in M.CONFIGS}
    stages = {c[5] for c in M.CONFIGS}
    assert warps == {4, 8} and stages == {2, 3, 4}


# ------------------------------------------------------------------------------- gradients
def test_double_backward():
    x = T(R(3, 4), dtype=ttorch.float64, requires_grad=True)
    w = T(R(4, 2), dtype=ttorch.float64, requires_grad=True)
    y = x @ w
    (gx,) = ttorch.autograd.grad((y * y).sum(), [x], create_graph=True)
    gx.sum().backward()
    # the gradient of sum(d loss / dx) with respect to x and w, by central differences
    xn, wn = R(3, 4), R(4, 2)

    def f(arrs):
        xx = T(arrs[0], dtype=ttorch.float64, requires_grad=True)
        yy = xx @ T(arrs[1], dtype=ttorch.float64)
        (g,) = ttorch.autograd.grad((yy * yy).sum(), [xx])
        return float(g.sum().item())
    num = numeric_grads(f, [xn.copy(), wn.copy()])
    np.testing.assert_allclose(x.grad.numpy(), num[0], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(w.grad.numpy(), num[1], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("eq,shapes", [("ij,jk->ik", [(3, 4), (4, 2)]), ("ii->i", [(3, 3)]),
                                       ("bn,anm,bm->ba", [(2, 3), (2, 3, 4), (2, 4)]),
                                       ("...ij,...jk", [(2, 3, 2), (1, 2, 3)]), ("i,i->", [(4,), (4,)])])
def test_einsum_gradients(eq, shapes):
    arrays = [R(*s, seed=i) for i, s in enumerate(shapes)]
    ts = [T(a, dtype=ttorch.float64, requires_grad=True) for a in arrays]
    out = ttorch.einsum(eq, *ts)
    w = R(*out.shape, seed=9) if out.ndim else np.float64(0.7)
    (out * T(w, dtype=ttorch.float64)).sum().backward()

    def f(arrs):
        o = ttorch.einsum(eq, *[T(a, dtype=ttorch.float64) for a in arrs])
        return float((o * T(w, dtype=ttorch.float64)).sum().item())
    for t, n in zip(ts, numeric_grads(f, [a.copy() for a in arrays])):
        np.testing.assert_allclose(t.grad.numpy(), n, rtol=1e-6, atol=1e-8)


# ------------------------------------------------------------------------------- einsum
EINSUM = [
    ("ij,jk->ik", [(3, 4), (4, 5)]), ("ij,jk", [(3, 4), (4, 5)]), ("ji,jk->ki", [(4, 3), (4, 5)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]), ("bij,jk->bik", [(2, 3, 4), (4, 5)]),
    ("ii->i", [(4, 4)]), ("ii", [(4, 4)]), ("iij->ji", [(3, 3, 2)]), ("ijij->ij", [(2, 3, 2, 3)]),
    ("ij->ji", [(2, 3)]), ("ij->", [(2, 3)]), ("ij->j", [(2, 3)]), ("i->i", [(5,)]),
    ("i,j->ij", [(3,), (4,)]), ("i,i->", [(5,), (5,)]), ("i,i->i", [(5,), (5,)]), ("ij,ij->i", [(3, 4), (3, 4)]),
    ("ab,cd->", [(2, 3), (4, 5)]), ("ba,ab", [(2, 3), (3, 2)]), ("Ab,bA->A", [(2, 3), (3, 2)]),
    ("...ij,...jk->...ik", [(2, 3, 4), (4, 5)]), ("...ij,...jk", [(2, 1, 3, 4), (5, 4, 2)]),
    ("i...->...", [(3, 2, 4)]), ("...,...", [(2, 3), (3,)]),
    ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]), ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
    ("i,j,k->ijk", [(2,), (3,), (4,)]), ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]),
    ("i , j -> i j", [(2,), (3,)]), ("ij,kj->ik", [(0, 3), (2, 3)]), ("ij,jk->ik", [(3, 0), (0, 2)]),
]


@pytest.mark.parametrize("eq,shapes", EINSUM, ids=[e for e, _ in EINSUM])
def test_einsum_vs_numpy(eq, shapes):
    arrays = [R(*s, seed=i) for i, s in enumerate(shapes)]
    ref = np.einsum(eq.replace(" ", ""), *arrays)
    got = ttorch.einsum(eq, *[T(a, dtype=ttorch.float64) for a in arrays])
    close(got, np.asarray(ref), D.float64, 16)


@pytest.mark.parametrize("device", CUDA)
def test_einsum_cuda(device):
    for eq, shapes in [("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]), ("iij->ji", [(3, 3, 2)]),
                       ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)])]:
        arrays = [R(*s, seed=i) for i, s in enumerate(shapes)]
        close(ttorch.einsum(eq, *[T(a, device) for a in arrays]), np.einsum(eq, *arrays), D.float32, 16)


def test_einsum_forms_and_broadcasting():
    a, b = R(2, 3), R(3, 4)
    ref = a @ b
    close(ttorch.einsum("ij,jk->ik", [T(a), T(b)]), ref, D.float32, 3)
    close(ttorch.einsum(T(a), [0, 1], T(b), [1, 2], [0, 2]), ref, D.float32, 3)
    close(ttorch.einsum(T(a), [0, Ellipsis], T(b), [Ellipsis, 2]), np.einsum(a, [0, Ellipsis], b, [Ellipsis, 2]),
          D.float32, 3)
    # a size-1 dim broadcasts against a labelled dim (PyTorch does; NumPy refuses)
    close(ttorch.einsum("ij,ij->ij", T(R(1, 3)), T(R(4, 3))), R(1, 3) * R(4, 3), D.float32)
    close(ttorch.einsum("ij,j->i", T(R(4, 3)), T(R(1))), R(4, 3).sum(1) * R(1)[0], D.float32, 3)
    # ellipsis dims missing from an explicit output are summed (PyTorch; NumPy refuses)
    close(ttorch.einsum("...->", T(a)), a.sum(), D.float32, 6)
    close(ttorch.einsum("i...->i", T(R(2, 3, 4))), R(2, 3, 4).sum((1, 2)), D.float32, 12)
    x = T(a)
    v = ttorch.einsum("ij->ij", x)
    assert v is not x and v.data_ptr() == x.data_ptr()


@pytest.mark.parametrize("args,msg", [
    (("ij,jk->ik", (2, 3)), "fewer operands were provided than were specified in the equation"),
    (("ij->ij", (2, 3), (3,)), "more operands were provided than specified in the equation"),
    (("ijk->i", (2, 3)), r"the number of subscripts in the equation \(3\) does not match the number of dimensions "
                         r"\(2\) for operand 0 and no ellipsis was given"),
    (("ij...k->i", (2, 3)), r"the number of subscripts in the equation \(3\) is more than the number of dimensions"),
    (("ij->k", (2, 3)), "output subscript k does not appear in the equation for any input operand"),
    (("ij->ii", (2, 3)), "output subscript i appears more than once in the output"),
    (("ii->i", (2, 3)), "subscript i is repeated for operand 0 but the sizes don't match, 2 != 3"),
    (("i1->i", (2, 3)), "invalid subscript given at index 1"),
    (("i,i->i", (2,), (3,)), "operands do not broadcast"),
])
def test_einsum_errors(args, msg):
    eq, *shapes = args
    with pytest.raises(RuntimeError, match=msg):
        ttorch.einsum(eq, *[T(R(*s)) for s in shapes])


@pytest.mark.parametrize("device", CUDA)
def test_float64_without_fp64_dot(device, monkeypatch):
    # Triton 3.6's tl.dot rejects float64: products then take the kernel's broadcast-FMA path
    monkeypatch.setattr(M, "_fp64_dot", [False])
    a, b, c = R(2, 37, 19), R(19, 23), R(23)
    got = ttorch.addmm(T(c, device, D.float64), T(a[0], device, D.float64), T(b, device, D.float64), alpha=0.5)
    np.testing.assert_allclose(to_np(got), c + 0.5 * a[0] @ b, rtol=1e-12)
    np.testing.assert_allclose(to_np(T(a, device, D.float64) @ T(b, device, D.float64)), a @ b, rtol=1e-12)
    monkeypatch.setattr(M, "_fp64_dot", [None])   # unknown: the first product finds out
    np.testing.assert_allclose(to_np(T(a, device, D.float64) @ T(b, device, D.float64)), a @ b, rtol=1e-12)
    assert M._fp64_dot[0] in (True, False)        # True under the interpreter and Triton 3.9, False on 3.6


def test_hopper_only_fma_tile():
    """128x64x32 w8 s3 on the FMAs spilled on sm_80: the tuner tries it on Hopper only, and it
    compiles for sm_90 alone; 128x64x16 w8 s4 (spill-free on both) in the common space."""
    hop = M.TUNE_SPACE_SM90["float32"]
    assert not set(hop) & set(M._space("float32", "ieee", hopper=False))
    assert M._space("float32", "ieee", hopper=True) == M.TUNE_SPACE["float32"] + hop
    assert (128, 64, 16, 8, 8, 4) in M._space("float32", "ieee", hopper=False)
    assert M._space("float32", "tf32", hopper=True) == M.TUNE_SPACE["tf32"]
    labels = {s.label: s.min_cap for s in M._gemm_specs()}
    for bm, bn, bk, _, w, st in hop:
        hit = [cap for label, cap in labels.items() if label.startswith(f"ttorch.float32 {bm}x{bn}x{bk} w{w} s{st} ")
               and label.endswith(" ieee")]
        assert hit and set(hit) == {90}
