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
