"""Smaller PyTorch module gaps: selective activation checkpointing, autograd's legacy names and
``allow_mutation_on_saved_tensors``, LDL, geqrf/ormqr, lobpcg, cond, torch.func/nn.utils/utils/optim helpers,
CrossMapLRN2d and the flash-attention registry. References are NumPy (float64) or hand-computed; the LDL
and CrossMapLRN2d values were also checked by hand against PyTorch 2.13."""
import functools
import warnings

import numpy as np
import pytest

import ttorch
from ttorch.ops._op import REGISTRY
from ttorch.utils.checkpoint import (checkpoint, create_selective_checkpoint_contexts, CheckpointPolicy,
                                     SelectiveCheckpointContext, SAC_IGNORED_OPS, DefaultDeviceType)


# ------------------------------------------------------------------------------ selective checkpointing
def _count_calls(name, monkeypatch):
    """Count the runs of op ``name``'s implementations (both devices)."""
    op, n = REGISTRY[name], [0]
    for attr in ("cpu", "cuda", "impl"):
        fn = getattr(op, attr)
        if fn is not None:
            def counting(*a, _fn=fn, **k):
                n[0] += 1
                return _fn(*a, **k)
            monkeypatch.setattr(op, attr, counting)
    if op.plan_state is not None:
        monkeypatch.setattr(op, "plan_state", None)
    return n


def _fn(x, y):
    return ttorch.sigmoid(ttorch.mm(ttorch.mm(x, y), y)) * y


def test_sac_saves_mm_and_matches_plain_gradients(device, monkeypatch):
    rng = np.random.default_rng(0)
    xs, ys = rng.standard_normal((3, 3)), rng.standard_normal((3, 3))
    seen = []

    def policy(ctx, op, *args, **kwargs):
        assert isinstance(ctx, SelectiveCheckpointContext) and ctx.is_recompute is False
        seen.append(op.name)
        return CheckpointPolicy.MUST_SAVE if op.name == "mm" else CheckpointPolicy.PREFER_RECOMPUTE

    x = ttorch.tensor(xs, device=device, requires_grad=True)
    y = ttorch.tensor(ys, device=device, requires_grad=True)
    out = checkpoint(_fn, x, y, use_reentrant=False,
                     context_fn=functools.partial(create_selective_checkpoint_contexts, policy))
    assert seen == ["mm", "mm", "sigmoid", "mul"]
    mm_runs = _count_calls("mm", monkeypatch)
    sig_runs = _count_calls("sigmoid", monkeypatch)
    out.sum().backward()
    assert sig_runs[0] == 1         # recomputed
    assert mm_runs[0] == 4          # the two saved products are not rerun: only mm's backward (2 per product)
    assert seen == ["mm", "mm", "sigmoid", "mul"]      # the policy is not asked again in the recomputation
    gx, gy = x.grad.cpu().numpy(), y.grad.cpu().numpy()
    # reference: plain autograd, no checkpoint
    x2, y2 = ttorch.tensor(xs, requires_grad=True), ttorch.tensor(ys, requires_grad=True)
    _fn(x2, y2).sum().backward()
    np.testing.assert_allclose(gx, x2.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gy, y2.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_sac_plain_checkpoint_recomputes_everything(monkeypatch):
    x, y = ttorch.randn(3, 3, requires_grad=True), ttorch.randn(3, 3, requires_grad=True)
    always = functools.partial(create_selective_checkpoint_contexts, lambda ctx, op, *a, **k: False)
    out = checkpoint(_fn, x, y, use_reentrant=False, context_fn=always)
    mm_runs = _count_calls("mm", monkeypatch)
    out.sum().backward()
    assert mm_runs[0] == 6          # 2 recomputed + 4 in mm's backward


def test_sac_list_form_double_backward_and_mutation_errors():
    x, y = ttorch.randn(3, 3, requires_grad=True), ttorch.randn(3, 3, requires_grad=True)
    for ops in (["mm"], [REGISTRY["mm"]], ["aten::mm"], ["aten.mm.default"]):
        out = checkpoint(_fn, x, y, use_reentrant=False,
                         context_fn=functools.partial(create_selective_checkpoint_contexts, ops))
        out.sum().backward(retain_graph=True)
        with pytest.raises(RuntimeError, match="Trying to backward an extra time"):
            out.sum().backward()
    with pytest.raises(TypeError, match="policy_fn_or_list must be either a function or a list of ops."):
        create_selective_checkpoint_contexts(3)
    with pytest.raises(ValueError, match="Expected op in `op_list` to be an OpOverload"):
        create_selective_checkpoint_contexts([3])

    # a cached output changed in place before the recomputation uses it
    cache = {}

    def fn(x):
        h = ttorch.mm(x, x)
        cache["h"] = h
        return h.sigmoid()
    out = checkpoint(fn, x, use_reentrant=False, context_fn=functools.partial(create_selective_checkpoint_contexts,
                                                                               ["mm"]))
    with ttorch.no_grad():
        cache["h"].add_(1)
    with pytest.raises(RuntimeError, match="Tensor cached during selective activation checkpoint has been mutated"):
        out.sum().backward()


def test_sac_with_views_and_in_place_ops():
    def f(x, w):
        y = x * 2
        y[0].mul_(3)                    # an in-place op on a view: mul's output is modified after it is made
        z = y.view(-1).reshape(2, 3).t() @ w
        z = z.permute(1, 0).expand(2, 2, 3)
        return (z.tanh() * z).sum(0)
    rng = np.random.default_rng(7)
    xs, ws = rng.standard_normal((2, 3)), rng.standard_normal((2, 2))
    x2, w2 = ttorch.tensor(xs, requires_grad=True), ttorch.tensor(ws, requires_grad=True)
    f(x2, w2).sum().backward()
    for saved in (("mm",), ("tanh", "sum"), ("view", "permute", "expand", "as_strided"), ()):
        x, w = ttorch.tensor(xs, requires_grad=True), ttorch.tensor(ws, requires_grad=True)
        ctx_fn = functools.partial(create_selective_checkpoint_contexts, lambda c, op, *a, **k: op.name in saved)
        checkpoint(f, x, w, use_reentrant=False, context_fn=ctx_fn).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), x2.grad.numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(w.grad.numpy(), w2.grad.numpy(), rtol=1e-12, atol=1e-14)
    assert REGISTRY["permute"] in SAC_IGNORED_OPS and REGISTRY["copy_"] in SAC_IGNORED_OPS
    # saving mul, whose output the function then modifies in place, is refused (as PyTorch refuses it)
    x, w = ttorch.tensor(xs, requires_grad=True), ttorch.tensor(ws, requires_grad=True)
    out = checkpoint(f, x, w, use_reentrant=False,
                     context_fn=functools.partial(create_selective_checkpoint_contexts, lambda *a, **k: True))
    with pytest.raises(RuntimeError, match="Tensor cached during selective activation checkpoint has been mutated"):
        out.sum().backward()


def test_sac_cpu_offload_and_constants():
    x = ttorch.randn(2, 2, requires_grad=True)
    pol = functools.partial(create_selective_checkpoint_contexts,
                            lambda ctx, op, *a, **k: CheckpointPolicy.PREFER_CPU_OFFLOAD)
    checkpoint(lambda t: (t @ t).tanh(), x, use_reentrant=False, context_fn=pol).sum().backward()
    t = x.detach()
    ref = (1 - np.tanh(t.numpy() @ t.numpy()) ** 2)
    np.testing.assert_allclose(x.grad.numpy(), ref @ t.numpy().T + t.numpy().T @ ref, rtol=1e-5, atol=1e-6)
    assert [p.value for p in CheckpointPolicy] == [0, 1, 2, 3, 4, 5]
    prev = DefaultDeviceType.get_device_type()
    DefaultDeviceType.set_device_type("cpu")
    assert DefaultDeviceType.get_device_type() == "cpu"
    DefaultDeviceType.set_device_type(prev)


def test_graph_exec_group_recomputes_once():
    from ttorch.utils.checkpoint import GraphExecGroup
    runs = [0]

    def f(t):
        runs[0] += 1
        y = t * 2
        return y.sin(), y.cos()
    xs = np.array([0.3, -1.2, 2.0])
    for group, expected in ((False, 3), (True, 2)):     # forward + one recomputation per backward call, or one
        runs[0] = 0
        x = ttorch.tensor(xs, requires_grad=True)
        a, b = checkpoint(f, x, use_reentrant=False)
        with GraphExecGroup() if group else warnings.catch_warnings():
            ga, = ttorch.autograd.grad(a.sum(), x, retain_graph=True)
            gb, = ttorch.autograd.grad(b.sum(), x)
        assert runs[0] == expected
        np.testing.assert_allclose(ga.numpy(), 2 * np.cos(2 * xs), rtol=1e-12)
        np.testing.assert_allclose(gb.numpy(), -2 * np.sin(2 * xs), rtol=1e-12)
    with GraphExecGroup():
        with pytest.raises(RuntimeError, match="GraphExecGroup contexts cannot be nested"):
            with GraphExecGroup():
                pass
    assert GraphExecGroup._get_current_group() is None


# ------------------------------------------------------------------------------ autograd
def test_allow_mutation_on_saved_tensors():
    graph = ttorch.autograd.graph
    with graph.allow_mutation_on_saved_tensors():
        a = ttorch.ones(2, 3, requires_grad=True)
        b = a.clone()
        out = (b ** 2).sum()
        b.sin_()
        out.backward()
        np.testing.assert_allclose(a.grad.numpy(), np.full((2, 3), 2.0))
        np.testing.assert_allclose(b.detach().numpy(), np.full((2, 3), np.sin(1.0)), rtol=1e-6)
        with pytest.raises(RuntimeError, match="cannot be nested"):
            with graph.allow_mutation_on_saved_tensors():
                pass
    with graph.allow_mutation_on_saved_tensors():
        b = a.clone()
        out = (b ** 2).sum()
        b.sin_()
    with pytest.raises(AssertionError, match="Trying to backward outside"):
        out.backward()
    b = a.clone()
    out = (b ** 2).sum()
    b.sin_()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.backward()


def test_variable_and_switches():
    A = ttorch.autograd
    t = ttorch.ones(2)
    v = A.Variable(t, requires_grad=True)
    assert v.requires_grad and not t.requires_grad and v.is_leaf and v.data_ptr() == t.data_ptr()
    assert type(v) is type(t) and isinstance(t, A.Variable)
    assert A.Variable().shape == (0,)
    w = A.Variable(ttorch.ones(2, requires_grad=True) * 2)
    assert not w.requires_grad and w.grad_fn is None
    with pytest.raises(TypeError, match="Variable data has to be a tensor, but got int"):
        A.Variable(3)
    with pytest.raises(RuntimeError, match=r"torch.autograd.variable\(...\) is deprecated"):
        A.variable(t)
    with pytest.warns(UserWarning, match="volatile was removed"):
        A.Variable(t, volatile=True)
    for switch, state in ((A.set_multithreading_enabled, A._legacy._multithreading),
                          (A.enforce_grad_layout_policy, A._legacy._layout_enforced)):
        with switch(False):
            assert state[0] is False
        assert state[0] is True
        switch(False)               # called as a function: set until set back
        assert state[0] is False
        switch(True)

        @switch(False)
        def f():
            return state[0]
        assert f() is False and state[0] is True


# ------------------------------------------------------------------------------ LDL
def _ldl_reconstruct(LD, piv, herm=False):
    """A from LAPACK's compact lower LDL^T (the ?sytrf convention), by applying the interchanges."""
    n = LD.shape[0]
    cj = np.conj if herm else (lambda z: z)
    A = np.zeros((n, n), LD.dtype)
    k = n - 1
    # build A = P1 L1 ... D ... L1^T P1^T from the last block backward
    blocks = []
    k = 0
    while k < n:
        s = 1 if piv[k] > 0 else 2
        blocks.append((k, s, abs(piv[k]) - 1))
        k += s
    for k, s, kp in reversed(blocks):
        D = LD[k:k + s, k:k + s].copy()
        if s == 2:
            D[0, 1] = cj(D[1, 0])
        M = np.eye(n, dtype=LD.dtype)
        M[k + s:, k:k + s] = LD[k + s:, k:k + s]
        T = np.zeros((n, n), LD.dtype)
        T[k:k + s, k:k + s] = D
        T[k + s:, k + s:] = A[k + s:, k + s:]
        A = M @ T @ cj(M).T
        P = np.eye(n)
        kk = k + s - 1
        P[[kk, kp]] = P[[kp, kk]]
        A = P @ A @ P.T
    return A


@pytest.mark.parametrize("n", [1, 2, 5, 7])
def test_ldl_factor_and_solve(device, n):
    rng = np.random.default_rng(n)
    a = rng.standard_normal((n, n))
    a = a + a.T
    if n > 2:
        a[0, 0] = a[1, 1] = 1e-3        # forces 2x2 pivots
    LD, piv = ttorch.linalg.ldl_factor(ttorch.tensor(a, device=device))
    assert LD.dtype == ttorch.float64 and piv.dtype == ttorch.int32 and LD.device.type == device
    ld, p = LD.cpu().numpy(), piv.cpu().numpy()
    assert np.all(np.triu(ld, 1) == 0)
    np.testing.assert_allclose(_ldl_reconstruct(ld, p), a, atol=1e-10)
    B = rng.standard_normal((n, 3))
    X = ttorch.linalg.ldl_solve(LD, piv, ttorch.tensor(B, device=device))
    np.testing.assert_allclose(X.cpu().numpy(), np.linalg.solve(a, B), rtol=1e-8, atol=1e-9)
    r = ttorch.linalg.ldl_factor_ex(ttorch.tensor(a, device=device))
    assert r._fields == ("LD", "pivots", "info") and int(r.info) == 0


def test_ldl_known_values_batched_complex_and_errors():
    # LAPACK's dsytrf (and PyTorch 2.13) on this matrix: a 2x2 pivot with rows 1 and 3 swapped
    A = ttorch.tensor([[0., 1, 2], [1, 0, 3], [2, 3, 0]], dtype=ttorch.float64)
    LD, piv = ttorch.linalg.ldl_factor(A)
    np.testing.assert_allclose(LD.numpy(), [[0, 0, 0], [2, 0, 0], [1.5, 0.5, -3]], atol=1e-15)
    assert piv.tolist() == [-3, -3, 3]
    rng = np.random.default_rng(1)
    for herm in (False, True):
        c = rng.standard_normal((2, 4, 4)) + 1j * rng.standard_normal((2, 4, 4))
        c = c + (np.conj(c).transpose(0, 2, 1) if herm else c.transpose(0, 2, 1))
        c[:, 0, 0] = 0.01
        LD, piv = ttorch.linalg.ldl_factor(ttorch.tensor(c), hermitian=herm)
        for i in range(2):
            np.testing.assert_allclose(_ldl_reconstruct(LD.numpy()[i], piv.numpy()[i], herm), c[i], atol=1e-10)
        B = rng.standard_normal((2, 4, 2)) + 0j
        X = ttorch.linalg.ldl_solve(LD, piv, ttorch.tensor(B), hermitian=herm)
        np.testing.assert_allclose(X.numpy(), np.linalg.solve(c, B), atol=1e-10)
    with pytest.raises(RuntimeError, match="A must be batches of square matrices, but they are 2 by 3 matrices"):
        ttorch.linalg.ldl_factor(ttorch.ones(2, 3))
    with pytest.raises(RuntimeError, match="Expected a floating point or complex tensor as input. Got Long"):
        ttorch.linalg.ldl_factor(ttorch.ones(2, 2, dtype=ttorch.int64))
    r = ttorch.linalg.ldl_factor_ex(ttorch.zeros(3, 3))
    assert int(r.info) == 1 and r.pivots.tolist() == [1, 2, 3]
    with pytest.raises(ttorch.linalg.LinAlgError):
        ttorch.linalg.ldl_factor(ttorch.zeros(3, 3))
    LD, piv = ttorch.linalg.ldl_factor(A)
    with pytest.raises(RuntimeError, match="Expected b and A to have the same dtype"):
        ttorch.linalg.ldl_solve(LD, piv, ttorch.ones(3, 2))
    with pytest.raises(RuntimeError, match="each A matrix is 3 by 3 but each b matrix is 4 by 2"):
        ttorch.linalg.ldl_solve(LD, piv, ttorch.ones(4, 2, dtype=ttorch.float64))
    Ag = A.clone().requires_grad_()
    with pytest.raises(RuntimeError, match="derivative for aten::linalg_ldl_factor_ex is not implemented"):
        ttorch.linalg.ldl_factor(Ag)[0].sum().backward()


def test_ldl_solve_gradient():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((4, 4))
    a = a + a.T
    LD, piv = ttorch.linalg.ldl_factor(ttorch.tensor(a))
    B = ttorch.tensor(rng.standard_normal((4, 2)), requires_grad=True)
    assert ttorch.autograd.gradcheck(lambda b: ttorch.linalg.ldl_solve(LD, piv, b), (B,))
    c = rng.standard_normal((3, 3)) + 1j * rng.standard_normal((3, 3))
    for herm in (False, True):
        m = c + (np.conj(c).T if herm else c.T)
        LD, piv = ttorch.linalg.ldl_factor(ttorch.tensor(m), hermitian=herm)
        Bc = ttorch.tensor(rng.standard_normal((3, 2)) + 1j * rng.standard_normal((3, 2)), requires_grad=True)
        assert ttorch.autograd.gradcheck(lambda b: ttorch.linalg.ldl_solve(LD, piv, b, hermitian=herm), (Bc,))


# ------------------------------------------------------------------------------ geqrf / ormqr
def test_geqrf_matches_qr(device):
    rng = np.random.default_rng(3)
    for shape in [(4, 3), (3, 5), (2, 3, 3)]:
        A = rng.standard_normal(shape)
        a, tau = ttorch.geqrf(ttorch.tensor(A, device=device))
        assert tuple(tau.shape) == shape[:-2] + (min(shape[-2:]),)
        m = shape[-2]
        eye = np.broadcast_to(np.eye(m), shape[:-2] + (m, m))
        Q = ttorch.ormqr(a, tau, ttorch.tensor(eye, device=device)).cpu().numpy()
        R = np.triu(a.cpu().numpy())
        np.testing.assert_allclose(Q @ R, A, atol=1e-12)
        np.testing.assert_allclose(np.swapaxes(Q, -1, -2) @ Q, eye, atol=1e-12)
    # LAPACK's convention by hand: beta = -sign(a11) ||a||, v = [1, 4 / (3 - beta)], tau = (beta - a11) / beta
    a, tau = ttorch.tensor([[3.], [4.]]).geqrf()
    np.testing.assert_allclose(a.numpy(), [[-5], [0.5]], rtol=1e-6)
    np.testing.assert_allclose(tau.numpy(), [1.6], rtol=1e-6)
    with pytest.raises(RuntimeError, match="torch.geqrf: input must have at least 2 dimensions."):
        ttorch.geqrf(ttorch.ones(3))
    with pytest.raises(NotImplementedError, match="the derivative for 'geqrf' is not implemented."):
        ttorch.geqrf(ttorch.ones(2, 2, requires_grad=True))[0].sum().backward()


def test_ormqr_modes_and_gradients(device):
    rng = np.random.default_rng(4)
    A = rng.standard_normal((4, 3))
    a, tau = ttorch.geqrf(ttorch.tensor(A, device=device))
    Q = ttorch.ormqr(a, tau, ttorch.eye(4, dtype=ttorch.float64, device=device)).cpu().numpy()
    np.testing.assert_allclose(Q @ np.triu(a.cpu().numpy()), A, atol=1e-12)     # Q R = A
    C = rng.standard_normal((4, 2))
    Cr = rng.standard_normal((2, 4))
    for left, tr, c, ref in ((True, False, C, Q @ C), (True, True, C, Q.T @ C), (False, False, Cr, Cr @ Q),
                             (False, True, Cr, Cr @ Q.T)):
        r = ttorch.ormqr(a, tau, ttorch.tensor(c, device=device), left, tr)
        np.testing.assert_allclose(r.cpu().numpy(), ref, atol=1e-12)
    if device == "cpu":     # (the same ttorch ops on cuda: gradcheck there is slow in the interpreter)
        at = a.detach().clone().requires_grad_()
        tt = tau.detach().clone().requires_grad_()
        ct = ttorch.tensor(C, device=device, requires_grad=True)
        assert ttorch.autograd.gradcheck(lambda x, t, c: ttorch.ormqr(x, t, c, True, True), (at, tt, ct))
        assert ttorch.autograd.gradcheck(lambda x, t, c: ttorch.ormqr(x, t, c, False, False), (at, tt, ct.mT))
    with pytest.raises(RuntimeError, match=r"other.shape\[-2\] must be equal to input.shape\[-2\]"):
        ttorch.ormqr(a, tau, ttorch.ones(3, 2, dtype=ttorch.float64, device=device))
    with pytest.raises(RuntimeError, match=r"tau.shape\[-1\] must be equal to min"):
        ttorch.ormqr(a, tau[:2], ttorch.ones(4, 2, dtype=ttorch.float64, device=device))
    with pytest.raises(RuntimeError, match="Expected input and other to have the same dtype"):
        ttorch.ormqr(a, tau, ttorch.ones(4, 2, device=device))


# ------------------------------------------------------------------------------ lobpcg, cond
def test_lobpcg():
    rng = np.random.default_rng(5)
    M = rng.standard_normal((24, 24))
    M = M + M.T
    w, V = np.linalg.eigh(M)
    E, X = ttorch.lobpcg(ttorch.tensor(M), k=3)
    np.testing.assert_allclose(E.numpy(), w[::-1][:3], atol=1e-9)
    np.testing.assert_allclose(np.abs(X.numpy().T @ V[:, ::-1][:, :3]), np.eye(3), atol=1e-6)
    E, X = ttorch.lobpcg(ttorch.tensor(M), k=2, largest=False, n=3)
    np.testing.assert_allclose(E.numpy(), w[:2], atol=1e-9)
    # generalized problem: B = 2 I halves the eigenvalues; X is B-orthonormal
    B = 2 * np.eye(24)
    E, X = ttorch.lobpcg(ttorch.tensor(M), k=1, B=ttorch.tensor(B))
    np.testing.assert_allclose(E.numpy(), w[-1:] / 2, atol=1e-9)
    np.testing.assert_allclose(X.numpy().T @ B @ X.numpy(), [[1.0]], atol=1e-9)
    # batched, with a starting X; and the eigenvalue's gradient x x^T
    Eb, Xb = ttorch.lobpcg(ttorch.tensor(np.stack([M, 2 * M])), X=ttorch.tensor(rng.standard_normal((2, 24, 2))))
    np.testing.assert_allclose(Eb.numpy(), [w[::-1][:2], 2 * w[::-1][:2]], atol=1e-8)
    Mt = ttorch.tensor(M, requires_grad=True)
    ttorch.lobpcg(Mt, k=1)[0].sum().backward()
    np.testing.assert_allclose(Mt.grad.numpy(), np.outer(V[:, -1], V[:, -1]), atol=1e-6)
    steps = []
    ttorch.lobpcg(ttorch.tensor(M), k=1, tracker=lambda wk: steps.append(wk.ivars["istep"]))
    assert steps == list(range(len(steps))) and len(steps) > 1
    with pytest.raises(ValueError, match=r"number of A rows \(=24\) is smaller than 3 x the number of requested "
                                         r"eigenpairs \(=9\)"):
        ttorch.lobpcg(ttorch.tensor(M), k=9)
    with pytest.raises(AssertionError, match="A must be square"):
        ttorch.lobpcg(ttorch.ones(3, 4))


def test_cond():
    x = ttorch.ones(3)
    assert ttorch.cond(ttorch.tensor(True), lambda t: t + 1, lambda t: t - 1, (x,)).tolist() == [2, 2, 2]
    assert ttorch.cond(x.sum() < 0, lambda t: t + 1, lambda t: t - 1, [x]).tolist() == [0, 0, 0]
    assert ttorch.cond(0, lambda: 1, lambda: 2) == 2
    calls = []
    ttorch.cond(True, lambda t: calls.append("t"), lambda t: calls.append("f"), (x,))
    assert calls == ["t"]
    with pytest.raises(RuntimeError, match="Expected pred to be bool or single-element tensor"):
        ttorch.cond(x > 0, lambda t: t, lambda t: t, (x,))
    with pytest.raises(RuntimeError, match="Expected pred to be bool or tensor, but got"):
        ttorch.cond("yes", lambda t: t, lambda t: t, (x,))
    with pytest.raises(RuntimeError, match="Expect both branches to be callable."):
        ttorch.cond(ttorch.tensor(True), 3, lambda t: t, (x,))
    with pytest.raises(RuntimeError, match="Expect operands to be a tuple"):
        ttorch.cond(ttorch.tensor(True), lambda t, s: t, lambda t, s: t, (x, 3))


# ------------------------------------------------------------------------------ func, nn.utils, utils, optim
def test_functionalize_and_batch_norm_replacement():
    def f(x):
        y = x.clone()
        y.add_(1)
        x.mul_(2)
        return y, x[1:]
    x = ttorch.ones(3)
    y, v = ttorch.func.functionalize(f)(x)
    assert y.tolist() == [2, 2, 2] and x.tolist() == [2, 2, 2] and v._base is not None
    _, v = ttorch.func.functionalize(f, remove="mutations_and_views")(x)
    assert v._base is None and v.tolist() == [4, 4]
    with pytest.raises(RuntimeError, match="received invalid argument for remove=foo"):
        ttorch.func.functionalize(f, remove="foo")
    net = ttorch.nn.Sequential(ttorch.nn.BatchNorm1d(3), ttorch.nn.Sequential(ttorch.nn.BatchNorm2d(2)))
    assert ttorch.func.replace_all_batch_norm_modules_(net) is net
    for bn in (net[0], net[1][0]):
        assert bn.running_mean is None and bn.running_var is None and bn.num_batches_tracked is None
        assert bn.track_running_stats is False
    assert list(net.state_dict()) == ["0.weight", "0.bias", "1.0.weight", "1.0.bias"]
    x = ttorch.tensor(np.arange(8.0).reshape(4, 2) @ np.array([[1.0, 0, 2], [0, 1, 1]]))
    out = net[0].eval()(x).detach().numpy()      # batch statistics even in eval mode
    xn = x.numpy()
    np.testing.assert_allclose(out, (xn - xn.mean(0)) / np.sqrt(xn.var(0) + 1e-5), rtol=1e-5)


def test_nn_utils_helpers():
    from ttorch.nn.utils import parametrize
    perm = ttorch.tensor([2, 0, 3, 1])
    inv = ttorch.nn.utils.rnn.invert_permutation(perm)
    assert inv.tolist() == [1, 3, 0, 2] and ttorch.nn.utils.rnn.invert_permutation(None) is None

    class Double(ttorch.nn.Module):
        def forward(self, X):
            return 2 * X
    a = parametrize.register_parametrization(ttorch.nn.Linear(2, 2), "weight", Double())
    b = parametrize.transfer_parametrizations_and_params(a, ttorch.nn.Linear(2, 2))
    assert b.parametrizations.weight.original is a.parametrizations.weight.original
    np.testing.assert_allclose(b.weight.detach().numpy(), a.weight.detach().numpy())
    c = parametrize.transfer_parametrizations_and_params(a, ttorch.nn.Module(), "weight")
    assert parametrize.is_parametrized(c, "weight") and c.weight.shape == (2, 2)
    plain = ttorch.nn.Linear(2, 2)
    assert parametrize.transfer_parametrizations_and_params(plain, c) is c

    m = ttorch.nn.Sequential(ttorch.nn.Conv2d(2, 3, 3), ttorch.nn.Conv3d(1, 1, 1))
    w2, w3 = m[0].weight, m[1].weight
    before = w2.detach().clone()
    assert ttorch.nn.utils.convert_conv2d_weight_memory_format(m, None) is m
    assert ttorch.nn.utils.convert_conv3d_weight_memory_format(m, None) is m
    assert m[0].weight is w2 and m[1].weight is w3 and bool((w2 == before).all()) and w2.is_contiguous()


def test_cross_map_lrn2d():
    rng = np.random.default_rng(6)
    for size, C in [(3, 6), (4, 7), (5, 3)]:
        x = rng.standard_normal((2, C, 2, 3))
        alpha, beta, k = 0.5, 0.75, 1.5
        # PyTorch's legacy window: channel 0 plus a centred run (channel 0 is never dropped)
        pre = int((size - 1) / 2 + 1)
        M = np.zeros((C, C))
        for c in range(C):
            lo = 0 if c <= pre else c - pre + 1
            M[c, lo:min(c + pre - 1, C - 1) + 1] = 1
            M[c, 0] = 1
        scale = k + alpha / size * np.einsum("nchw,dc->ndhw", x ** 2, M)
        ref = x * scale ** -beta
        xt = ttorch.tensor(x, requires_grad=True)
        m = ttorch.nn.CrossMapLRN2d(size, alpha=alpha, beta=beta, k=k)
        y = m(xt)
        np.testing.assert_allclose(y.detach().numpy(), ref, rtol=1e-12)
        g = rng.standard_normal(x.shape)
        y.backward(ttorch.tensor(g))
        # PyTorch's own backward formula: a centred window of size `size` over g * y / scale
        ipp = int(size - (size - 1) / 2)
        Mb = np.zeros((C, C))
        for c in range(C):
            Mb[c, max(c - ipp, 0):min(c + size - 1 - ipp, C - 1) + 1] = 1
        accum = np.einsum("nchw,dc->ndhw", g * ref / scale, Mb)
        gref = scale ** -beta * g - 2 * alpha * beta / size * x * accum
        np.testing.assert_allclose(xt.grad.numpy(), gref, rtol=1e-10, atol=1e-12)
    assert repr(ttorch.nn.CrossMapLRN2d(3)) == "CrossMapLRN2d(3, alpha=0.0001, beta=0.75, k=1)"
    with pytest.raises(ValueError, match="CrossMapLRN2d: Expected input to be 4D, got 3D instead."):
        ttorch.nn.CrossMapLRN2d(3)(ttorch.ones(2, 3, 4))


def test_container_and_factory_kwargs():
    with pytest.warns(FutureWarning, match="`nn.Container` is deprecated"):
        c = ttorch.nn.Container(a=ttorch.nn.Linear(1, 1))
    assert list(dict(c.named_children())) == ["a"]
    fk = ttorch.nn.factory_kwargs
    assert fk(None) == {} and fk({"dtype": ttorch.float64, "factory_kwargs": {"device": "cpu"}}) == \
        {"device": "cpu", "dtype": ttorch.float64}
    with pytest.raises(TypeError, match="unexpected kwargs"):
        fk({"foo": 1})
    with pytest.raises(TypeError, match="dtype specified twice"):
        fk({"dtype": ttorch.float64, "factory_kwargs": {"dtype": ttorch.float32}})


def test_swap_tensors_and_set_module():
    a, b = ttorch.ones(2), ttorch.zeros(3)
    ia = id(a)
    ttorch.utils.swap_tensors(a, b)
    assert id(a) == ia and a.tolist() == [0, 0, 0] and b.tolist() == [1, 1]
    p, q = ttorch.nn.Parameter(ttorch.ones(2)), ttorch.zeros(2)
    ttorch.utils.swap_tensors(p, q)
    assert isinstance(q, ttorch.nn.Parameter) and not isinstance(p, ttorch.nn.Parameter) and q.requires_grad
    leaf = ttorch.ones(2, requires_grad=True)
    out = (leaf * 2).sum()
    ttorch.utils.swap_tensors(leaf, ttorch.zeros(2))
    with pytest.raises(RuntimeError, match="poisoned by swap_tensors"):
        out.backward()

    def f():
        pass
    ttorch.utils.set_module(f, "ttorch.nn")
    assert f.__module__ == "ttorch.nn"
    with pytest.raises(TypeError, match="The mod argument should be a string"):
        ttorch.utils.set_module(f, 3)


def test_swap_in_optimizer_params_and_state():
    w = ttorch.nn.Parameter(ttorch.ones(2))
    opt = ttorch.optim.SGD([w], lr=0.5, momentum=0.9)
    with pytest.raises(RuntimeError, match="requires initialized optimizer state"):
        with ttorch.optim.swap_in_optimizer_params_and_state(opt, {"w": w}, opt.state_dict()):
            pass
    (w * w).sum().backward()
    opt.step()                                      # w = 1 - 0.5 * 2 = 0, momentum buffer 2
    copy = w.detach().clone()
    copy.grad = w.grad.clone()
    sd = opt.state_dict()
    sd["param_groups"][0]["lr"] = 0.1
    live_params = opt.param_groups[0]["params"]
    with ttorch.optim.swap_in_optimizer_params_and_state(opt, {"w": copy}, sd):
        assert opt.param_groups[0]["params"][0] is copy and opt.param_groups[0]["lr"] == 0.1
        opt.step()                                  # buf = 0.9 * 2 + 2 = 3.8; copy = 0 - 0.1 * 3.8
    np.testing.assert_allclose(copy.tolist(), [-0.38, -0.38], rtol=1e-6)
    assert w.tolist() == [0, 0] and opt.param_groups[0]["params"] is live_params and opt.param_groups[0]["lr"] == 0.5
    bad = opt.state_dict()
    bad["param_groups"][0]["extra"] = 1
    with pytest.raises(RuntimeError, match=r"Keys only in swap-in: \['extra'\]"):
        with ttorch.optim.swap_in_optimizer_params_and_state(opt, {"w": copy}, bad):
            pass


def test_flash_attention_registry():
    from ttorch.nn import attention as att
    assert "TTORCH_TRITON" in att.list_flash_attention_impls()
    assert att.current_flash_attention_impl() is None
    att.activate_flash_attention_impl("TTORCH_TRITON")
    assert att.current_flash_attention_impl() is None
    op = REGISTRY["flash_attention"]
    original = op.cpu
    events = []

    class Handle:
        def remove(self):
            op.cpu = original
            events.append("removed")

    def install():
        def traced(*a, **k):
            events.append("ran")
            return original(*a, **k)
        op.cpu = traced
        return Handle()
    att.register_flash_attention_impl("TRACED", register_fn=install)
    try:
        assert att.list_flash_attention_impls() == sorted(["TRACED", "TTORCH_TRITON"])
        att.activate_flash_attention_impl("TRACED")
        assert att.current_flash_attention_impl() == "TRACED"
        q = ttorch.randn(1, 1, 4, 8)
        ttorch.nn.functional.scaled_dot_product_attention(q, q, q)
        assert events == ["ran"]
        att.restore_flash_attention_impl()
        assert att.current_flash_attention_impl() is None and op.cpu is original
        assert events[-1] == "removed"
        with pytest.raises(ValueError, match="Unknown flash attention impl 'FA9'"):
            att.activate_flash_attention_impl("FA9")
    finally:
        att._registry._FLASH_ATTENTION_IMPLS.pop("TRACED", None)
        op.cpu = original
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        att.restore_flash_attention_impl(_raise_warn=False)


def test_doctests():
    import doctest
    import importlib
    for name in ("ttorch.utils._selective_checkpoint", "ttorch.autograd._legacy", "ttorch.autograd.graph",
                 "ttorch.ops.ldl", "ttorch.ops.householder", "ttorch._lobpcg", "ttorch._cond",
                 "ttorch.func._functionalize", "ttorch.nn.utils.memory_format", "ttorch.nn.utils.rnn",
                 "ttorch.nn.utils.parametrize", "ttorch.nn.modules.normalization", "ttorch.utils._swap_tensors",
                 "ttorch.optim._stateless", "ttorch.nn.attention._registry", "ttorch.nn"):
        res = doctest.testmod(importlib.import_module(name), extraglobs={"ttorch": ttorch},
                              optionflags=doctest.NORMALIZE_WHITESPACE)
        assert res.failed == 0, name
