"""Sparse compressed tensors (CSR, CSC, BSR, BSC: ``ttorch/_sparse_compressed.py``, ``sparse/_compressed.py``,
``ops/sparse_compressed_mm.py``), zero-preserving math on sparse values (``sparse/_unary.py``) and more of
sparse COO (``sparse/_coo_more.py``). References are NumPy (float64) and indices written out by hand
(as PyTorch 2.13 prints them)."""
import math
import pickle

import numpy as np
import pytest

import ttorch
import ttorch.nn.functional as F
from ttorch.autograd import gradcheck

D = np.array([[0., 1., 0., 0.], [2., 0., 3., 0.], [0., 0., 0., 0.], [4., 5., 0., 6.]])    # (4, 4), 6 nonzeros
sparse_gradcheck = ttorch.sparse.as_sparse_gradcheck(gradcheck)


def dense(device="cpu", dtype=ttorch.float64, a=D):
    return ttorch.tensor(a, dtype=dtype, device=device)


def host(t):
    t = t.to_dense() if t.layout is not ttorch.strided else t
    return t.detach().cpu().numpy().astype(np.float64)


def ints(t):
    return t.cpu().tolist()


# ------------------------------------------------------------------------------------ layouts and conversions
def test_csr_csc_bsr_bsc_of_a_dense_matrix(device):
    d = dense(device)
    c = d.to_sparse_csr()
    assert c.layout is ttorch.sparse_csr and c.is_sparse_csr and not c.is_sparse and c.device.type == device
    assert ints(c.crow_indices()) == [0, 1, 3, 3, 6] and ints(c.col_indices()) == [1, 0, 2, 0, 1, 3]
    assert c.values().tolist() == [1, 2, 3, 4, 5, 6] and c._nnz() == 6 and c.sparse_dim() == 2 and c.dense_dim() == 0
    s = d.to_sparse_csc()
    assert ints(s.ccol_indices()) == [0, 2, 4, 5, 6] and ints(s.row_indices()) == [1, 3, 0, 3, 1, 3]
    assert s.values().tolist() == [2, 4, 1, 5, 3, 6] and not s.is_sparse_csr
    b = d.to_sparse_bsr((2, 2))         # blocks (0,0), (0,1), (1,0), (1,1): all but none are zero except none
    assert ints(b.crow_indices()) == [0, 2, 4] and ints(b.col_indices()) == [0, 1, 0, 1]
    assert b.values().shape == (4, 2, 2) and b.values()[3].tolist() == [[0, 0], [0, 6]]
    bc = d.to_sparse_bsc((4, 2))
    assert ints(bc.ccol_indices()) == [0, 1, 2] and ints(bc.row_indices()) == [0, 0]
    for t in (c, s, b, bc):
        np.testing.assert_array_equal(host(t), D)
    if device == "cuda":                # (the simulated GPU is slow: the rest runs the same ttorch ops)
        return
    for t in (c, s, b, bc, d.to_sparse_bsr(1), d.to_sparse(layout=ttorch.sparse_bsc, blocksize=(2, 1))):
        np.testing.assert_array_equal(host(t.to_sparse()), D)              # through COO
    for src in (c, s):                  # every conversion between the layouts, and from COO
        for to in (lambda t: t.to_sparse_csr(), lambda t: t.to_sparse_csc(), lambda t: t.to_sparse_bsr((2, 1)),
                   lambda t: t.to_sparse_bsc(2), lambda t: t.to_sparse().to_sparse_csr()):
            np.testing.assert_array_equal(host(to(src)), D)
    assert c.to_sparse_csr() is c and ints(d.to_sparse().to_sparse_csc().row_indices()) == ints(s.row_indices())


def test_batched_and_hybrid(device):
    a = np.array([[[1., 0.], [0., 2.]], [[0., 3.], [4., 0.]]])
    c = dense(device, a=a).to_sparse_csr()
    assert c.crow_indices().tolist() == [[0, 1, 2], [0, 1, 2]] and c.col_indices().tolist() == [[0, 1], [1, 0]]
    assert c.values().tolist() == [[1, 2], [3, 4]] and c.shape == (2, 2, 2) and c._nnz() == 2
    np.testing.assert_array_equal(host(c), a)
    np.testing.assert_array_equal(host(c.to_sparse_csc()), a)
    coo = c.to_sparse()
    assert coo.sparse_dim() == 3 and ints(coo.indices()) == [[0, 0, 1, 1], [0, 1, 0, 1], [0, 1, 1, 0]]
    np.testing.assert_array_equal(host(c.transpose(1, 2)), a.transpose(0, 2, 1))
    assert c.transpose(1, 2).layout is ttorch.sparse_csc
    with pytest.raises(RuntimeError, match="Expect the same number of specified elements per batch"):
        dense(device, a=np.array([[[1., 0.], [0., 2.]], [[0., 0.], [4., 0.]]])).to_sparse_csr()
    with pytest.raises(RuntimeError, match=r"got 0\(Batch\) and 1\(Sparse\)"):
        c.transpose(0, 1)
    with pytest.raises(RuntimeError, match="t\\(\\) expects a tensor with <= 2 dimensions, but self is 3D"):
        c.t()
    h = dense(device, a=np.array([[[1., 1.], [0., 0.]], [[0., 0.], [0., 0.]]])).to_sparse_csr(dense_dim=1)
    assert h.dense_dim() == 1 and ints(h.crow_indices()) == [0, 1, 1] and h.values().tolist() == [[1, 1]]
    np.testing.assert_array_equal(host(h), [[[1, 1], [0, 0]], [[0, 0], [0, 0]]])


def test_repr_as_pytorch_prints_it():
    c = dense(dtype=ttorch.float32, a=[[0., 1, 0], [2, 0, 3]]).to_sparse_csr()
    assert repr(c) == ("tensor(crow_indices=tensor([0, 1, 3]),\n       col_indices=tensor([1, 0, 2]),\n"
                       "       values=tensor([1., 2., 3.]), size=(2, 3), nnz=3,\n       layout=ttorch.sparse_csr)")
    assert repr(ttorch.zeros(0, 3).to_sparse_csc()) == (
        "tensor(ccol_indices=tensor([0, 0, 0, 0]),\n       row_indices=tensor([], size=(0,)),\n"
        "       values=tensor([], size=(0,)), size=(0, 3), nnz=0,\n       layout=ttorch.sparse_csc)")
    g = ttorch.tensor([[1., 0], [0, 2]], requires_grad=True).to_sparse_csr()
    assert repr(g).endswith("nnz=2, layout=ttorch.sparse_csr,\n       grad_fn=<ToSparseCsrBackward0>)")
    i = ttorch.tensor([[1, 0], [0, 2]]).to_sparse_bsr(1)
    assert repr(i).endswith("size=(2, 2), nnz=2, layout=ttorch.sparse_bsr)") and "dtype" not in repr(i)


def test_structure_errors_and_metadata():
    c = dense().to_sparse_csr()
    for name, want in (("ccol_indices", "sparse column compressed"), ("indices", "sparse coordinate"),
                       ("coalesce", "sparse coordinate"), ("is_coalesced", "sparse coordinate")):
        with pytest.raises(RuntimeError, match=f"{name} expected {want} tensor layout but got SparseCsr"):
            getattr(c, name)()
    with pytest.raises(RuntimeError, match="crow_indices expected sparse row compressed tensor layout but got Sp"):
        c.to_sparse_csc().crow_indices()
    with pytest.raises(RuntimeError, match="crow_indices expected sparse row compressed tensor layout but got Str"):
        dense().crow_indices()
    with pytest.raises(RuntimeError, match="values expected sparse tensor layout but got Strided"):
        dense().values()
    with pytest.raises(RuntimeError, match="Sparse CSR tensors do not have strides"):
        c.stride()
    with pytest.raises(TypeError, match="can't convert SparseCsr layout tensor to numpy"):
        c.numpy()
    with pytest.raises(RuntimeError, match="Unimplemented backend SparseCsrCPU"):
        c.type()
    with pytest.raises(RuntimeError, match="dense_to_sparse_bsr: tensor sparse size \\(4,4\\) must be divisible by "
                                           "given blocksize \\(3,2\\)"):
        dense().to_sparse_bsr((3, 2))
    with pytest.raises(RuntimeError, match="expected SparseCsr or SparseCsc layout but got SparseBsr"):
        dense().to_sparse_bsr(2).to_sparse_csr()
    with pytest.raises(RuntimeError, match="with blocksize changed from \\[2, 2\\] to \\[1, 1\\] is not supported"):
        dense().to_sparse_bsr(2).to_sparse_bsr(1)
    with pytest.raises(RuntimeError, match="dense_dim argument must be in \\[0,0\\] range, but 3 is given"):
        dense().to_sparse_csr(3)
    assert dense().sparse_dim() == 0 and dense().dense_dim() == 2 and not dense().is_sparse_csr
    d2 = c.to(ttorch.float32)
    assert d2.dtype is ttorch.float32 and d2.layout is ttorch.sparse_csr and c.double() is c
    e = c.clone()
    assert e.layout is c.layout and e._val is not c._val and c.detach().layout is ttorch.sparse_csr
    p = pickle.loads(pickle.dumps(c))
    assert p.layout is ttorch.sparse_csr and ints(p.col_indices()) == ints(c.col_indices())
    np.testing.assert_array_equal(host(p), D)


# ------------------------------------------------------------------------------------ constructors
def test_constructors_and_size_inference():
    c = ttorch.sparse_csr_tensor([0, 1, 3], [1, 0, 2], [1., 2., 3.])
    assert c.shape == (2, 3) and c.dtype is ttorch.float32 and c.layout is ttorch.sparse_csr
    np.testing.assert_array_equal(host(c), [[0, 1, 0], [2, 0, 3]])
    s = ttorch.sparse_csc_tensor([0, 1, 2, 3], [1, 0, 1], [2., 1., 3.], (2, 3), dtype=ttorch.float64)
    assert s.dtype is ttorch.float64
    np.testing.assert_array_equal(host(s), [[0, 1, 0], [2, 0, 3]])
    b = ttorch.sparse_bsc_tensor([0, 1], [0], [[[1., 2.], [3., 4.]]])
    assert b.shape == (2, 2)
    np.testing.assert_array_equal(host(b), [[1, 2], [3, 4]])
    g = ttorch.sparse_compressed_tensor([0, 1], [1], [[[1., 2.], [3., 4.]]], (2, 4), layout=ttorch.sparse_bsr,
                                        requires_grad=True, check_invariants=True)
    assert g.requires_grad and g.is_leaf
    np.testing.assert_array_equal(host(g), [[0, 0, 1, 2], [0, 0, 3, 4]])
    i32 = ttorch.tensor([0, 1, 3], dtype=ttorch.int32)
    assert ttorch.sparse_csr_tensor(i32, i32.new_tensor([1, 0, 2]), [1., 2., 3.]).crow_indices().dtype is ttorch.int32


@pytest.mark.parametrize("args, kw, msg", [
    (([0, 1, 3], [1, 0, 2], [1., 2., 3.], (2, 3)), {}, "expected sparse compressed tensor layout but got none"),
    (([0, 1, 3], [1, 0, 2], [1., 2., 3.], (2, 3)), {"layout": ttorch.strided}, "layout but got Strided"),
    (([0, 1, 3.], [1, 0, 2], [1., 2, 3], (2, 3)), {}, "must have the same dtype, bot got Float and Long"),
    (([[0, 1, 3]], [1, 0, 2], [1., 2, 3], (2, 3)), {}, "dimensionalities must be equal but got 2 and 1"),
    (([0, 1, 3], [1, 0, 2], [1., 2, 3], (3,)), {}, "base, and dense dimensionalities \\(=0 \\+ 2 \\+ 0\\) but got 1"),
    (([0, 1, 3, 3], [1, 0, 2], [1., 2, 3], (2, 3)), {}, "number of rows \\+ 1 \\(=3\\), but got 4"),
    (([0, 1, 3], [1, 0, 2], [1., 2], (2, 3)), {}, "nnz \\(=2\\) as defined by values.shape\\[0\\], but got 3"),
    (([0, 1, 3], [1, 2, 0], [1., 2, 3], (2, 3)), {"check_invariants": True}, "are sorted and distinct"),
    (([0, 1, 3], [1, 0, 5], [1., 2, 3], (2, 3)), {"check_invariants": True}, "`0 <= col_indices < ncols`"),
    (([0, 1, 4], [1, 0, 2], [1., 2, 3], (2, 3)), {"check_invariants": True}, "`crow_indices\\[..., -1\\] == nnz`"),
    (([1, 1, 3], [1, 0, 2], [1., 2, 3], (2, 3)), {"check_invariants": True}, "`crow_indices\\[..., 0\\] == 0`"),
    (([0, 4, 4], [0, 1, 2, 0], [1., 2, 3, 4], (2, 3)), {"check_invariants": True}, "crow_indices\\[..., :-1\\] <="),
])
def test_constructor_errors(args, kw, msg):
    if "layout" in kw or not kw.get("check_invariants") and msg.startswith("expected"):
        with pytest.raises(RuntimeError, match=msg):
            ttorch.sparse_compressed_tensor(*args, **kw)
        return
    with pytest.raises(RuntimeError, match=msg):
        ttorch.sparse_csr_tensor(*args, **kw)


def test_blocked_constructor_errors_and_global_invariant_switch():
    with pytest.raises(RuntimeError, match="values must have dimensionality > sum of batch and block "):
        ttorch.sparse_bsr_tensor([0, 1], [0], [1.])
    with pytest.raises(RuntimeError, match="tensor shape\\[1\\] \\(=3\\) must be divisible with blocksize\\[1\\]"):
        ttorch.sparse_bsr_tensor([0, 1], [0], [[[1., 2.], [3., 4.]]], (2, 3))
    with pytest.raises(RuntimeError, match="number of column blocks \\+ 1 \\(=3\\), but got 2"):
        ttorch.sparse_bsc_tensor([0, 1], [0], [[[1., 2.], [3., 4.]]], (2, 4))
    with pytest.raises(RuntimeError, match="sparse_csr_tensor: layout must be SparseCsr but got SparseCsc"):
        ttorch.sparse_csr_tensor([0, 1, 3], [1, 0, 2], [1., 2, 3], layout=ttorch.sparse_csc)
    bad = ([0, 1, 3], [1, 2, 0], [1., 2, 3], (2, 3))
    assert not ttorch.sparse.check_sparse_tensor_invariants.is_enabled()
    ttorch.sparse_csr_tensor(*bad)              # not checked by default, as PyTorch
    with ttorch.sparse.check_sparse_tensor_invariants():
        assert ttorch.sparse.check_sparse_tensor_invariants.is_enabled()
        with pytest.raises(RuntimeError, match="sorted and distinct"):
            ttorch.sparse_csr_tensor(*bad)
        with pytest.raises(RuntimeError, match="size is inconsistent with indices"):
            ttorch.sparse_coo_tensor([[0, 5]], [1., 2.], (3,))
        ttorch.sparse_csr_tensor(*bad, check_invariants=False)
    assert not ttorch.sparse.check_sparse_tensor_invariants.is_enabled()


# ------------------------------------------------------------------------------------ products
@pytest.mark.parametrize("layout", ["csr", "csc", "bsr", "bsc"])
def test_products_and_their_gradients(device, layout):
    if device == "cuda" and layout in ("csc", "bsc"):
        pytest.skip("the simulated GPU is slow: CSR and BSR run both orders of entries through the cuda kernels")
    conv = {"csr": lambda t: t.to_sparse_csr(), "csc": lambda t: t.to_sparse_csc(),
            "bsr": lambda t: t.to_sparse_bsr((2, 1)), "bsc": lambda t: t.to_sparse_bsc((1, 2))}[layout]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3))
    c = conv(dense(device))
    xt = dense(device, a=x)
    np.testing.assert_allclose(host(c @ xt), D @ x, atol=1e-12)
    np.testing.assert_allclose(host(ttorch.mm(c, xt)), D @ x, atol=1e-12)
    np.testing.assert_allclose(host(c @ xt[:, 0]), D @ x[:, 0], atol=1e-12)
    np.testing.assert_allclose(host(dense(device, a=x.T) @ c), x.T @ D, atol=1e-12)
    if device == "cpu":
        np.testing.assert_allclose(host(ttorch.addmm(dense(device, a=np.ones((4, 3))), c, xt, beta=0.5, alpha=2)),
                                   0.5 + 2 * D @ x, atol=1e-12)
        np.testing.assert_allclose(host(F.linear(dense(device, a=x.T), c, dense(device, a=np.arange(4.)))),
                                   x.T @ D.T + np.arange(4.), atol=1e-12)
    # mm/@ give the compressed operand a dense gradient, sparse.mm one on its entries (PyTorch's rules)
    cg = conv(dense(device)).requires_grad_()
    xg = xt.clone().requires_grad_()
    w = rng.standard_normal((4, 3))
    ((cg @ xg) * dense(device, a=w)).sum().backward()
    np.testing.assert_allclose(host(cg.grad), w @ x.T, atol=1e-12)
    assert cg.grad.layout is ttorch.strided
    np.testing.assert_allclose(host(xg.grad), D.T @ w, atol=1e-12)
    cs = conv(dense(device)).requires_grad_()
    (ttorch.sparse.mm(cs, xt) * dense(device, a=w)).sum().backward()
    assert cs.grad.layout is cs.layout
    np.testing.assert_allclose(host(cs.grad), (w @ x.T) * pattern(cs), atol=1e-12)


def pattern(c):
    """1 where compressed ``c`` stores an element (a whole block for BSR/BSC), else 0."""
    row = c.layout in (ttorch.sparse_csr, ttorch.sparse_bsr)
    ci, pi = (c.crow_indices(), c.col_indices()) if row else (c.ccol_indices(), c.row_indices())
    ones = ttorch.ones_like(c.values().detach())
    return host(ttorch.sparse_compressed_tensor(ci, pi, ones, c.shape, layout=c.layout))


def test_gradcheck_of_products_and_sampled_addmm():
    c = dense().to_sparse_csr().requires_grad_()
    x = dense(a=np.arange(8.).reshape(4, 2) / 7).requires_grad_()
    assert sparse_gradcheck(lambda c, x: ttorch.sparse.mm(c, x), (c, x), masked=True)
    assert sparse_gradcheck(lambda c, x: c @ x, (c, x))
    assert sparse_gradcheck(lambda c: c.to_dense() * 2, (dense().to_sparse_bsr((2, 2)).requires_grad_(),))
    assert sparse_gradcheck(lambda c: c.to_sparse_csc(), (c,))
    a = dense(a=np.arange(12.).reshape(4, 3) / 5).requires_grad_()
    b = dense(a=np.arange(12.).reshape(3, 4) / 3 - 1).requires_grad_()
    assert sparse_gradcheck(lambda c, a, b: ttorch.sparse.sampled_addmm(c, a, b, beta=0.5, alpha=0.1), (c, a, b),
                            masked=True)


def test_sampled_addmm_gradients_cpu_cuda_parity(device):
    rng = np.random.default_rng(2)
    a0, b0, w = rng.standard_normal((4, 3)), rng.standard_normal((3, 4)), rng.standard_normal(6)
    grads = []
    for dev in ("cpu", device):
        c = dense(dev).to_sparse_csr().requires_grad_()
        a, b = dense(dev, a=a0).requires_grad_(), dense(dev, a=b0).requires_grad_()
        out = ttorch.sparse.sampled_addmm(c, a, b, beta=0.5, alpha=0.1)
        (out.values() * dense(dev, a=w)).sum().backward()
        grads.append([host(c.grad), host(a.grad), host(b.grad)])
    g = np.zeros((4, 4))
    g[D != 0] = w                       # the weights at the entries, in row-major (CSR) order
    for got, want in zip(grads[1], [0.5 * g * (D != 0), 0.1 * g @ b0.T, 0.1 * a0.T @ g]):
        np.testing.assert_allclose(got, want, atol=1e-12)
    for got, want in zip(grads[0], grads[1]):
        np.testing.assert_allclose(got, want, atol=1e-12)


@pytest.mark.parametrize("dtype", [ttorch.float32, ttorch.float64, ttorch.float16])
def test_sampled_addmm_values(device, dtype):
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((4, 37)), rng.standard_normal((37, 4))       # K over one tile of 32
    c = dense(device, dtype).to_sparse_csr()
    out = ttorch.sparse.sampled_addmm(c, dense(device, dtype, a), dense(device, dtype, b), beta=0.5, alpha=0.1)
    assert out.layout is ttorch.sparse_csr and out.dtype is dtype and ints(out.col_indices()) == [1, 0, 2, 0, 1, 3]
    want = (0.5 * D + 0.1 * (a @ b)) * (D != 0)
    tol = {ttorch.float64: 1e-12, ttorch.float32: 1e-5, ttorch.float16: 2e-2}[dtype]
    np.testing.assert_allclose(host(out), want, atol=tol, rtol=tol)
    z = ttorch.sparse.sampled_addmm(c, dense(device, dtype, a), dense(device, dtype, b), beta=0)
    np.testing.assert_allclose(host(z), (a @ b) * (D != 0), atol=tol * 10, rtol=tol)
    with pytest.raises(RuntimeError, match="self.shape\\[-1\\] must match mat2.shape\\[-1\\]"):
        ttorch.sparse.sampled_addmm(c, dense(device, dtype, a), dense(device, dtype, b[:, :3]))
    with pytest.raises(NotImplementedError, match="'aten::sparse_sampled_addmm' with arguments from the 'Sparse"):
        ttorch.sparse.sampled_addmm(dense(device, dtype).to_sparse(), dense(device, dtype, a), dense(device, dtype, b))


# ------------------------------------------------------------------------------------ arithmetic and reductions
def test_scalar_mul_add_transpose_sum(device):
    c = dense(device).to_sparse_csr()
    np.testing.assert_array_equal(host(c * 2), 2 * D)
    np.testing.assert_array_equal(host(3 * c), 3 * D)
    np.testing.assert_array_equal(host(-c), -D)
    np.testing.assert_array_equal(host(c * dense(device)), D * D)
    e = np.eye(4)
    s = c + dense(device, a=e).to_sparse_csr()
    assert s.layout is ttorch.sparse_csr and s._nnz() == 9
    np.testing.assert_array_equal(host(s), D + e)
    np.testing.assert_array_equal(host(c + dense(device)), 2 * D)
    t = c.t()
    assert t.layout is ttorch.sparse_csc and t.shape == (4, 4)
    np.testing.assert_array_equal(host(t), D.T)
    assert dense(device).to_sparse_bsr((2, 1)).t().layout is ttorch.sparse_bsc
    np.testing.assert_array_equal(host(dense(device).to_sparse_bsr((2, 1)).t()), D.T)
    assert float(c.sum()) == D.sum()
    np.testing.assert_array_equal(host(c.sum(1, keepdim=True)), D.sum(1, keepdims=True))
    with pytest.raises(RuntimeError, match="reduction operations on CSR tensors with keepdim=False is unsupported"):
        c.sum(0)
    with pytest.raises(RuntimeError, match="coalesce expected sparse coordinate tensor layout but got SparseCsr"):
        ttorch.sparse.sum(c)
    with pytest.raises(RuntimeError, match="unsupported tensor layout: SparseCsr"):
        c / 2
    np.testing.assert_array_equal(host(ttorch.add(c, c, alpha=2)), 3 * D)
    np.testing.assert_array_equal(host(ttorch.mul(c, 2)), 2 * D)
    z = ttorch.zeros(2, 3, layout=ttorch.sparse_csc, device=device)
    assert z._nnz() == 0 and ints(z.ccol_indices()) == [0, 0, 0, 0] and not host(z).any()
    with pytest.raises(RuntimeError, match="sparse compressed \\(non-block\\) tensor layout but got SparseBsr"):
        ttorch.zeros(2, 2, layout=ttorch.sparse_bsr)
    sq = dense(device).to_sparse_csr().requires_grad_()        # a transpose shares its arrays: CSC on them
    w = np.arange(16.).reshape(4, 4)
    (sq.t().to_dense() * dense(device, a=w)).sum().backward()
    assert sq.grad.layout is ttorch.sparse_csr
    np.testing.assert_array_equal(host(sq.grad), w.T * (D != 0))
    cg = dense(device).to_sparse_csr().requires_grad_()
    ((cg * 3).values() * dense(device, a=np.arange(6.))).sum().backward()
    assert cg.grad.layout is ttorch.sparse_csr and cg.grad.values().tolist() == [0, 3, 6, 9, 12, 15]


# ------------------------------------------------------------------------------------ unary math on values
UNARY = {
    "abs": (np.abs, np.sign), "neg": (np.negative, lambda x: -np.ones_like(x)), "sin": (np.sin, np.cos),
    "tan": (np.tan, lambda x: 1 / np.cos(x) ** 2), "tanh": (np.tanh, lambda x: 1 - np.tanh(x) ** 2),
    "sinh": (np.sinh, np.cosh), "asin": (np.arcsin, lambda x: 1 / np.sqrt(1 - x * x)),
    "asinh": (np.arcsinh, lambda x: 1 / np.sqrt(1 + x * x)), "atan": (np.arctan, lambda x: 1 / (1 + x * x)),
    "atanh": (np.arctanh, lambda x: 1 / (1 - x * x)), "expm1": (np.expm1, np.exp),
    "log1p": (np.log1p, lambda x: 1 / (1 + x)), "relu": (lambda x: np.maximum(x, 0), lambda x: (x > 0) * 1.),
    "sign": (np.sign, np.zeros_like), "floor": (np.floor, np.zeros_like), "ceil": (np.ceil, np.zeros_like),
    "round": (np.round, np.zeros_like), "trunc": (np.trunc, np.zeros_like),
    "frac": (lambda x: x - np.trunc(x), np.ones_like), "sgn": (np.sign, np.zeros_like),
    "deg2rad": (np.deg2rad, lambda x: np.full_like(x, math.pi / 180)),
    "rad2deg": (np.rad2deg, lambda x: np.full_like(x, 180 / math.pi)),
}
V = np.array([[0., 0.5, 0.], [-0.25, 0., 0.75]])


@pytest.mark.parametrize("name", sorted(UNARY))
def test_zero_preserving_unary_ops_on_values(name):
    f, df = UNARY[name]
    for device in ("cpu",) + (("cuda",) if ttorch.cuda.is_available() and name == "sin" else ()):
        for make in (lambda t: t.to_sparse(), lambda t: t.to_sparse_csr()):
            x = make(dense(device, a=V)).requires_grad_()
            y = getattr(ttorch, name)(x) if hasattr(ttorch, name) else getattr(x, name)()
            assert y.layout is x.layout
            np.testing.assert_allclose(host(y), f(V), atol=1e-12)
            np.testing.assert_allclose(host(getattr(x.detach(), name)()), f(V), atol=1e-12)
            (y.to_dense() * dense(device, a=np.arange(6.).reshape(2, 3))).sum().backward()
            want = df(V) * np.arange(6.).reshape(2, 3) * (V != 0)
            np.testing.assert_allclose(host(x.grad), want, atol=1e-12)
            z = make(dense(device, a=V))
            assert getattr(z, name + "_")() is z
            np.testing.assert_allclose(host(z), f(V), atol=1e-12)


def test_coo_only_ops_pow_and_errors():
    s = dense(a=V).to_sparse()
    np.testing.assert_allclose(host(s.pow(3)), V ** 3)
    np.testing.assert_allclose(host(s ** 2), V ** 2)
    np.testing.assert_allclose(host(ttorch.square(s)), V ** 2)
    np.testing.assert_allclose(host(s / 4), V / 4)
    np.testing.assert_allclose(host(ttorch.add(s, s, alpha=2)), 3 * V)
    np.testing.assert_allclose(host(ttorch.sub(s, s * 2)), -V)
    np.testing.assert_allclose(host(ttorch.div(s, 2)), V / 2)
    np.testing.assert_array_equal(host(ttorch.nan_to_num(dense(a=[[np.nan, 0.]]).to_sparse(), 7.)), [[7., 0.]])
    assert ttorch.isnan(s).dtype is ttorch.bool and ttorch.isnan(s).layout is ttorch.sparse_coo
    with pytest.raises(RuntimeError, match="cannot raise to zeroth power on sparse tensor"):
        s.pow(0)
    with pytest.raises(NotImplementedError, match="'aten::exp' with arguments from the 'SparseCPU' backend"):
        s.exp()
    c = dense(a=V).to_sparse_csr()
    for f in (lambda: c.pow(2), lambda: ttorch.square(c), lambda: c.exp()):
        with pytest.raises(RuntimeError, match="unsupported tensor layout: SparseCsr"):
            f()
    np.testing.assert_allclose(host(c.angle()), np.angle(V) * (V != 0))
    x = dense(a=V).to_sparse().requires_grad_()
    ttorch.sparse.sum(x.pow(3)).backward()
    np.testing.assert_allclose(host(x.grad), 3 * V ** 2)


# ------------------------------------------------------------------------------------ more of COO
def test_coo_index_select_select_and_indexing(device):
    s = dense(device).to_sparse()
    idx = ttorch.tensor([3, 1, 3], device=device)
    np.testing.assert_array_equal(host(s.index_select(0, idx)), D[[3, 1, 3]])
    np.testing.assert_array_equal(host(s.index_select(1, idx)), D[:, [3, 1, 3]])
    np.testing.assert_array_equal(host(s.select(0, 3)), D[3])
    np.testing.assert_array_equal(host(s[1]), D[1])
    np.testing.assert_array_equal(host(s[-1]), D[-1])
    assert float(s[3, 1]) == 5.0 and float(s[2, 2]) == 0.0
    with pytest.raises(IndexError, match="select\\(\\): index 9 out of range"):
        s.select(1, 9)
    with pytest.raises(NotImplementedError, match="'aten::as_strided' with arguments from the 'Sparse"):
        s[0:1]
    x = dense(device).to_sparse().requires_grad_()
    y = x.index_select(0, idx)
    assert y.grad_fn.name() == "IndexSelectBackward0"
    (y.to_dense() * dense(device, a=np.arange(12.).reshape(3, 4))).sum().backward()
    g = np.zeros((4, 4))
    np.add.at(g, [3, 1, 3], np.arange(12.).reshape(3, 4))
    np.testing.assert_array_equal(host(x.grad), g * (D != 0))


def test_coo_mask_resize_and_legacy_products():
    d = dense()
    s = d.to_sparse()
    m = dense(a=np.eye(4)).to_sparse()
    np.testing.assert_array_equal(host((d * 2).sparse_mask(s)), 2 * D)
    np.testing.assert_array_equal(host(d.sparse_mask(m)), D * np.eye(4))
    assert d.sparse_mask(d.to_sparse_csr()).layout is ttorch.sparse_csr
    with pytest.raises(NotImplementedError, match="'aten::sparse_mask' with arguments from the 'CPU' backend"):
        d.sparse_mask(d)
    r = s.clone().sparse_resize_((5, 6), 2, 0)
    assert r.shape == (5, 6) and r._nnz() == 6
    with pytest.raises(RuntimeError, match="shrinking the size of sparse dimensions"):
        s.clone().sparse_resize_((3, 4), 2, 0)
    assert s.clone().sparse_resize_and_clear_((2, 2), 2, 0)._nnz() == 0
    x = np.arange(8.).reshape(4, 2)
    xt = dense(a=x)
    np.testing.assert_array_equal(host(ttorch.smm(s, xt)), D @ x)
    assert ttorch.smm(s, xt).is_sparse and ttorch.dsmm(s, xt).layout is ttorch.strided
    h = ttorch.hspmm(s, xt)
    assert h.sparse_dim() == 1 and h.dense_dim() == 1 and ints(h.indices()) == [[0, 1, 3]]
    np.testing.assert_array_equal(host(h), D @ x)
    assert ttorch.hsmm is ttorch.hspmm and ttorch.saddmm is ttorch.sspaddmm
    one = dense(a=np.ones((4, 2))).to_sparse()
    np.testing.assert_array_equal(host(ttorch.sspaddmm(one, s, xt, beta=2, alpha=3)), 2 + 3 * D @ x)
    with pytest.raises(RuntimeError, match="tensor.sspaddmm\\(...\\) can only be called on sparse tensors"):
        ttorch.smm(d, xt)
    with pytest.raises(NotImplementedError, match="'aten::hspmm' with arguments from the 'CPU' backend"):
        ttorch.hspmm(d, xt)


def test_empty_with_a_sparse_layout():
    # PyTorch's empty in a sparse layout has no entries (its compressed indices are uninitialized; ttorch's zero)
    for lay in (ttorch.sparse_coo, ttorch.sparse_csr, ttorch.sparse_csc):
        e = ttorch.empty(2, 3, layout=lay, dtype=ttorch.float64)
        assert e.layout is lay and tuple(e.shape) == (2, 3) and e._nnz() == 0 and e.dtype is ttorch.float64
        assert e.to_dense().tolist() == [[0.0] * 3] * 2
