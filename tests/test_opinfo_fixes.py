"""Behaviours PyTorch 2.13's OpInfo samples showed ttorch getting wrong (values, dtypes, errors), each pinned to
PyTorch's result (checked by hand against PyTorch 2.13 on cpu)."""
import numpy as np
import pytest

import ttorch
import ttorch.nn.functional as F


@pytest.mark.parametrize("fn", [ttorch.digamma, ttorch.lgamma, ttorch.erfinv, ttorch.special.ndtri, F.softsign,
                                F.tanhshrink, lambda x: ttorch.polygamma(2, x)])
def test_integer_inputs_promote_to_float(fn):
    x = ttorch.tensor([1, 2])
    got = fn(x)
    assert got.dtype is ttorch.float32
    np.testing.assert_allclose(got.numpy(), fn(x.float()).numpy())


def test_dtype_conversions_take_memory_format():
    x = ttorch.randn(2, 3, 4, 5)
    y = x.half(memory_format=ttorch.channels_last)
    assert y.dtype is ttorch.float16 and y.is_contiguous(memory_format=ttorch.channels_last)
    assert x.bool(memory_format=ttorch.preserve_format).dtype is ttorch.bool
    assert x.cdouble(memory_format=ttorch.contiguous_format).dtype is ttorch.complex128


def test_python2_division_names():
    x = ttorch.tensor([1.0, 2.0])
    assert x.__rdiv__(4).tolist() == [4.0, 2.0] and x.__div__(2).tolist() == [0.5, 1.0]


def test_integer_and_bool_add_products():
    b = ttorch.tensor
    got = ttorch.addr(b([[True, False]]), b([True]), b([False, True]), beta=3, alpha=2)
    assert got.dtype is ttorch.bool and got.tolist() == [[True, True]]
    assert ttorch.addr(b([[True]]), b([True]), b([False]), beta=0).tolist() == [[False]]
    i = ttorch.ones(2, 3, dtype=ttorch.int64)
    got = ttorch.addmv(b([1, 2]), i, b([1, 1, 1]), beta=2.5, alpha=1.5)     # truncated: 2 * input + 1 * mv
    assert got.dtype is ttorch.int64 and got.tolist() == [5, 7]


def test_cummax_of_bool_is_bool():
    v, i = ttorch.cummax(ttorch.tensor([False, True, False]), 0)
    assert v.dtype is ttorch.bool and v.tolist() == [False, True, True] and i.tolist() == [0, 1, 1]


def test_index_select_of_zero_dim_input():
    got = ttorch.index_select(ttorch.tensor(5.0), 0, ttorch.tensor([0]))
    assert got.shape == () and got.item() == 5.0


def test_prelu_zero_dim_input_and_broadcast_shapes_ints():
    assert F.prelu(ttorch.tensor(-2.0), ttorch.tensor([0.5])).item() == -1.0
    assert ttorch.broadcast_shapes(2, (3, 1)) == (3, 2)


def test_nextafter_and_index_fill_value_gradients():
    a = ttorch.tensor([1.0, 2.0], dtype=ttorch.float64, requires_grad=True)
    b = ttorch.tensor([3.0, 0.0], dtype=ttorch.float64, requires_grad=True)
    ga, gb = ttorch.autograd.grad(ttorch.nextafter(a, b).sum(), (a, b))
    assert ga.tolist() == [1.0, 1.0] and gb.tolist() == [0.0, 0.0]
    x = ttorch.tensor([3.0, 4.0], requires_grad=True)
    v = ttorch.tensor(7.0, requires_grad=True)
    y = x.index_fill(0, ttorch.tensor([1]), v)
    gx, gv = ttorch.autograd.grad((y * ttorch.tensor([2.0, 3.0])).sum(), (x, v))
    assert y.tolist() == [3.0, 7.0] and gx.tolist() == [2.0, 0.0] and gv.item() == 3.0


def test_lstsq_drivers_on_a_rank_deficient_matrix():
    A = ttorch.tensor([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0]], dtype=ttorch.float64)
    b = ttorch.ones(2, 1, dtype=ttorch.float64)
    for driver in ("gelsy", "gelsd", "gelss"):
        r = ttorch.linalg.lstsq(A, b, driver=driver)
        # the minimum-norm solution: A^+ b = [1, 2, 3] / 14 * (1 + 2) / 5
        np.testing.assert_allclose(r.solution.numpy().ravel(), np.array([1, 2, 3]) * 3 / 70, rtol=1e-12)
        assert r.rank.item() == 1 and r.residuals.shape == (0,)
        assert r.singular_values.shape == ((0,) if driver == "gelsy" else (2,))
    full = ttorch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 7.0]], dtype=ttorch.float64)
    r = ttorch.linalg.lstsq(full, ttorch.ones(3, 1, dtype=ttorch.float64), driver="gelsd")
    assert r.rank.item() == 2 and r.residuals.shape == (1,)
    assert ttorch.linalg.lstsq(full, ttorch.ones(3, 1, dtype=ttorch.float64), driver="gels").rank.shape == (0,)


def test_integer_average_pooling_truncates():
    x = ttorch.arange(-8, 8).reshape(1, 1, 4, 4)
    assert F.avg_pool2d(x, 3, padding=1, stride=2).tolist() == [[[[-2, -2], [0, 2]]]]
    assert F.avg_pool2d(x, 3, padding=1, stride=2, count_include_pad=False).tolist() == [[[[-5, -4], [0, 2]]]]
    assert F.avg_pool1d(ttorch.arange(8).reshape(1, 1, 8), 3).tolist() == [[[1, 4]]]


def test_norm_nuc_and_tensorsolve_dims():
    assert abs(ttorch.norm(ttorch.eye(3) * 2, p="nuc").item() - 6.0) < 1e-6
    assert ttorch.norm(ttorch.eye(3).expand(2, 3, 3) * 2, p="nuc", dim=(1, 2)).tolist() == [6.0, 6.0]
    A = ttorch.eye(6, dtype=ttorch.float64).reshape(2, 3, 6)
    assert ttorch.linalg.tensorsolve(A, ttorch.ones(2, 3, dtype=ttorch.float64), dims=(0, 2)).shape == (6,)


def test_empty_batches_and_matrices():
    assert F.unfold(ttorch.zeros(0, 1, 5, 5), 2).shape == (0, 4, 16)
    h, tau = ttorch.geqrf(ttorch.zeros(5, 0))
    assert h.shape == (5, 0) and tau.shape == (0,)
    A = ttorch.zeros(5, 5, 0, requires_grad=True)
    B = ttorch.zeros(0, 5, requires_grad=True)
    ga, gb = ttorch.autograd.grad((A @ B).sum(), (A, B))
    assert ga.shape == (5, 5, 0) and gb.shape == (0, 5)


def test_one_variable_cov_gradient_default_spacing_and_circular_crop():
    assert ttorch.corrcoef(ttorch.tensor([[1.0, 2.0]])).shape == ()
    assert ttorch.cov(ttorch.tensor([[1.0, 2.0, 4.0]])).shape == ()
    g, = ttorch.gradient(ttorch.tensor([1.0, 2.0, 4.0, 8.0]), spacing=None)
    assert g.tolist() == [1.0, 1.5, 3.0, 4.0]
    x = ttorch.arange(16.0).reshape(1, 1, 4, 4)
    # negative pads crop first; the positive ones then wrap within what is left (PyTorch's result)
    assert F.pad(x, (-1, 1, -2, 1), mode="circular").tolist() == \
        [[[[9.0, 10.0, 11.0, 9.0], [13.0, 14.0, 15.0, 13.0], [9.0, 10.0, 11.0, 9.0]]]]


def test_local_response_norm_of_integers_truncates_the_mean():
    x = ttorch.arange(12).reshape(1, 4, 3)
    got = F.local_response_norm(x, 2, beta=0.5, k=1.25)
    # PyTorch: x / (k + alpha * trunc((x_{c-1}^2 + x_c^2) / 2)) ** beta
    sq = np.arange(12).reshape(1, 4, 3) ** 2
    win = sq + np.concatenate([np.zeros((1, 1, 3), np.int64), sq[:, :-1]], 1)
    ref = np.arange(12).reshape(1, 4, 3) / (1.25 + 1e-4 * (win // 2)) ** 0.5
    assert got.dtype is ttorch.float32
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-6)


def test_hash_tensor_and_segment_reduce_names():
    assert ttorch.hash_tensor(ttorch.tensor([1, 2, 3])).item() == 0
    assert ttorch.hash_tensor(ttorch.tensor([1, 2], dtype=ttorch.int8)).item() == 3
    got = ttorch.hash_tensor(ttorch.tensor([[1.0, 2.0], [3.0, 4.0]]), dim=1)
    assert got.dtype is ttorch.uint64 and got.tolist() == [9218868437227405312, 6755399441055744]
    assert ttorch.tensor([1.0, 2.0, 3.0]).hash_tensor().item() == 4609434218613702656
    data = ttorch.tensor([1.0, 2.0, 3.0])
    assert ttorch._segment_reduce(data, "sum", lengths=ttorch.tensor([2, 1])).tolist() == [3.0, 3.0]
