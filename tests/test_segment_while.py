"""``segment_reduce`` (values checked by hand against PyTorch 2.13: empty segments, ``initial``, offsets,
gradients with ties) and the eager ``while_loop``."""
import math

import numpy as np
import pytest

import ttorch

D = [[1.0, 2], [3, 4], [5, 6], [7, 8], [9, 10]]
INF = math.inf
CASES = {   # reduce: (without initial, with initial=1.5), PyTorch's results for lengths [2, 0, 3]
    "sum": ([[4, 6], [0, 0], [21, 24]], [[5.5, 7.5], [1.5, 1.5], [22.5, 25.5]]),
    "mean": ([[2, 3], [math.nan, math.nan], [7, 8]], [[2.75, 3.75], [1.5, 1.5], [7.5, 8.5]]),
    "max": ([[3, 4], [-INF, -INF], [9, 10]], [[3, 4], [1.5, 1.5], [9, 10]]),
    "min": ([[1, 2], [INF, INF], [5, 6]], [[1, 1.5], [1.5, 1.5], [1.5, 1.5]]),
    "prod": ([[3, 8], [1, 1], [315, 480]], [[4.5, 12], [1.5, 1.5], [472.5, 720]]),
}


@pytest.mark.parametrize("reduce", list(CASES))
def test_segment_reduce(device, reduce):
    d, lengths = ttorch.tensor(D, device=device), ttorch.tensor([2, 0, 3], device=device)
    plain, init = CASES[reduce]
    np.testing.assert_array_equal(ttorch.segment_reduce(d, reduce, lengths=lengths).cpu().numpy(), plain)
    np.testing.assert_array_equal(ttorch.segment_reduce(d, reduce, lengths=lengths, initial=1.5).cpu().numpy(), init)
    offsets = ttorch.tensor([0, 2, 2, 5], device=device)
    np.testing.assert_array_equal(ttorch.segment_reduce(d, reduce, offsets=offsets).cpu().numpy(), plain)


def test_segment_reduce_gradients_and_errors():
    x = ttorch.tensor([1.0, 5, 5, 2], requires_grad=True)
    ttorch.segment_reduce(x, "max", lengths=ttorch.tensor([4])).sum().backward()
    assert x.grad.tolist() == [0.0, 0.5, 0.5, 0.0]                  # ties share it
    x = ttorch.tensor(D, requires_grad=True)
    ttorch.segment_reduce(x, "mean", lengths=ttorch.tensor([2, 0, 3]), initial=0.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0.5] * 2] * 2 + [[1 / 3] * 2] * 3)
    d = ttorch.tensor(D)
    with pytest.raises(RuntimeError, match="Expected all rows of lengths along axis to sum to"):
        ttorch.segment_reduce(d, "sum", lengths=ttorch.tensor([2, 2]))
    with pytest.raises(RuntimeError, match="Either lengths or offsets must be defined"):
        ttorch.segment_reduce(d, "sum")
    with pytest.raises(RuntimeError, match="reduce argument must be either"):
        ttorch.segment_reduce(d, "foo", lengths=ttorch.tensor([5]))


def test_while_loop():
    i, x = ttorch.while_loop(lambda i, x: i < 3, lambda i, x: (i + 1, x * 2), (ttorch.tensor(0), ttorch.ones(2)))
    assert int(i) == 3 and x.tolist() == [8.0, 8.0]
    assert int(ttorch.while_loop(lambda i: i < 3, lambda i: i + 1, (ttorch.tensor(0),))) == 3
    assert ttorch.while_loop(lambda i: i < 0, lambda i: (i + 1,), (ttorch.tensor(5),))[0].item() == 5
    with pytest.raises(RuntimeError, match="same number of outputs"):
        ttorch.while_loop(lambda i: i < 3, lambda i: (i + 1, 2), (ttorch.tensor(0),))
