"""AdaptiveLogSoftmaxWithLoss: PyTorch's attributes, state-dict keys and error messages; the full
log-probabilities, the per-target output, the loss and predict against float64 NumPy computed from
the module's weights; gradients by gradcheck and by central differences of the NumPy loss; both devices."""
import doctest

import numpy as np
import pytest

import ttorch
import ttorch.nn as nn
from ttorch.autograd import gradcheck

from _helpers import close, numeric_grads


def _np(t):
    return t.detach().cpu().numpy().astype(np.float64)


def _log_softmax(z):
    z = z - z.max(1, keepdims=True)
    return z - np.log(np.exp(z).sum(1, keepdims=True))


def np_log_prob(x, head_w, head_b, tails, cutoffs):
    """log p(c | x) for every class: the shortlist from the head, cluster i's classes from its tail
    plus the head's log-probability of the cluster."""
    head = _log_softmax(x @ head_w.T + (0 if head_b is None else head_b))
    parts = [head[:, :cutoffs[0]]]
    for i, (w1, w2) in enumerate(tails):
        parts.append(_log_softmax(x @ w1.T @ w2.T) + head[:, cutoffs[0] + i:cutoffs[0] + i + 1])
    return np.concatenate(parts, 1)


def weights(m):
    return (_np(m.head.weight), None if m.head.bias is None else _np(m.head.bias),
            [(_np(a.weight), _np(b.weight)) for a, b in m.tail])


def test_attributes_and_state_dict():
    m = nn.AdaptiveLogSoftmaxWithLoss(16, 20, [4, 10, 15], div_value=2.0, head_bias=True)
    assert (m.shortlist_size, m.n_clusters, m.head_size, m.cutoffs) == (4, 3, 7, [4, 10, 15, 20])
    assert (m.in_features, m.n_classes, m.div_value, m.head_bias) == (16, 20, 2.0, True)
    assert list(m.state_dict()) == ["head.weight", "head.bias"] + [f"tail.{i}.{j}.weight" for i in range(3)
                                                                   for j in range(2)]
    assert [tuple(p.shape) for p in m.tail.parameters()] == [(8, 16), (6, 8), (4, 16), (5, 4), (2, 16), (5, 2)]
    assert isinstance(m.tail, nn.ModuleList) and all(isinstance(t, nn.Sequential) for t in m.tail)
    assert repr(m).startswith("AdaptiveLogSoftmaxWithLoss(\n  (head): Linear(in_features=16, out_features=7, "
                              "bias=True)\n  (tail): ModuleList(\n    (0): Sequential(\n")
    assert nn.AdaptiveLogSoftmaxWithLoss(8, 10, (9,)).head.bias is None
    m.reset_parameters()


@pytest.mark.parametrize("cutoffs,msg", [([], "cutoffs should be a sequence of length larger than 0"),
                                         ([3, 2], "cutoffs should be a sequence of unique, positive integers"),
                                         ([0, 3], "sorted in an increasing order"),
                                         ([3, 10], "between 1 and n_classes-1"),
                                         ([3, 3], "unique"), ([2.5], "integers")])
def test_bad_cutoffs(cutoffs, msg):
    with pytest.raises(ValueError, match=msg):
        nn.AdaptiveLogSoftmaxWithLoss(8, 10, cutoffs)


def test_bad_inputs_and_targets():
    m = nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3, 6], div_value=2.0)
    with pytest.raises(RuntimeError, match=r"Target values should be in \[0, 9\], but values in range \[7, 10\] were "
                                           r"found. "):
        m(ttorch.randn(2, 8), ttorch.tensor([7, 10]))
    with pytest.raises(RuntimeError, match=r"Target values should be in \[0, 9\], but values in range \[-1, 3\]"):
        m(ttorch.randn(2, 8), ttorch.tensor([-1, 3]))
    with pytest.raises(RuntimeError, match="Input and target should have the same size in the batch dimension."):
        m(ttorch.randn(2, 8), ttorch.tensor([1]))
    with pytest.raises(RuntimeError, match=r"1D target tensor expects 2D input tensors, but found inputs with size "
                                           r"ttorch.Size\(\[1, 2, 8\]\)"):
        m(ttorch.randn(1, 2, 8), ttorch.tensor([1]))
    with pytest.raises(RuntimeError, match=r"0D target tensor expects 1D input tensors, but found inputs with size "
                                           r"ttorch.Size\(\[2, 8\]\)"):
        m(ttorch.randn(2, 8), ttorch.tensor(1))
    with pytest.raises(RuntimeError, match="0D or 1D target tensor expected, multi-target not supported"):
        m(ttorch.randn(2, 8), ttorch.tensor([[1], [2]]))


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors")  # the last clusters project to 0 features
@pytest.mark.parametrize("in_f,n_classes,cutoffs,div,head_bias,n", [(8, 10, [3, 6], 2.0, False, 13),
                                                                      (16, 20, [4, 10, 15], 4.0, True, 31),
                                                                      (5, 7, [1], 2.0, True, 1)])
def test_against_numpy(in_f, n_classes, cutoffs, div, head_bias, n):
    m = nn.AdaptiveLogSoftmaxWithLoss(in_f, n_classes, cutoffs, div_value=div, head_bias=head_bias,
                                      dtype=ttorch.float64)
    rng = np.random.default_rng(n)
    x = rng.standard_normal((n, in_f)) * 2
    target = rng.integers(0, n_classes, n)
    target[0] = n_classes - 1                       # the last class of the last cluster
    want = np_log_prob(x, *weights(m), m.cutoffs)
    out = m(ttorch.tensor(x), ttorch.tensor(target))
    close(out.output, want[np.arange(n), target], ttorch.float64)
    close(out.loss, -want[np.arange(n), target].mean(), ttorch.float64)
    close(m.log_prob(ttorch.tensor(x)), want, ttorch.float64)
    np.testing.assert_array_equal(m.predict(ttorch.tensor(x)).numpy(), want.argmax(1))
    # unbatched: a 0-d target and output
    one = m(ttorch.tensor(x[0]), ttorch.tensor(target[0]))
    assert one.output.shape == () and one.loss.shape == ()
    close(one.output, want[0, target[0]], ttorch.float64)
    close(one.loss, -want[0, target[0]], ttorch.float64)


def test_predict_branches():
    """All rows in the shortlist, none, and a mix: predict is log_prob's argmax in each case."""
    m = nn.AdaptiveLogSoftmaxWithLoss(4, 6, [2], dtype=ttorch.float64)
    with ttorch.no_grad():
        m.head.weight.copy_(ttorch.tensor([[1.0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]))
    x = np.array([[5.0, 0, 0, 0], [0, 5, 0, 0], [0, 0, 5, 1], [0, 0, 5, -1]])
    want = np_log_prob(x, *weights(m), m.cutoffs).argmax(1)
    for rows in ([0, 1], [2, 3], [0, 2, 1, 3]):
        np.testing.assert_array_equal(m.predict(ttorch.tensor(x[rows])).numpy(), want[rows])
    assert m.predict(ttorch.zeros(0, 4, dtype=ttorch.float64)).shape == (0,)


def test_gradients():
    m = nn.AdaptiveLogSoftmaxWithLoss(6, 9, [2, 5], div_value=2.0, head_bias=True, dtype=ttorch.float64)
    rng = np.random.default_rng(0)
    x = ttorch.tensor(rng.standard_normal((7, 6)), requires_grad=True)
    target = ttorch.tensor([0, 1, 2, 4, 5, 8, 8])
    assert gradcheck(lambda x: m(x, target).output, (x,))
    assert gradcheck(m.log_prob, (x,))
    # the parameters' gradients against central differences of the NumPy loss
    m(x, target).loss.backward()
    params = list(m.parameters())

    def np_loss(arrays):
        hw, hb, a0, b0, a1, b1 = arrays
        lp = np_log_prob(_np(x), hw, hb, [(a0, b0), (a1, b1)], m.cutoffs)
        return -lp[np.arange(7), target.numpy()].mean()

    for p, g in zip(params, numeric_grads(np_loss, [_np(p) for p in params])):
        np.testing.assert_allclose(_np(p.grad), g, rtol=1e-6, atol=1e-8)
    assert all(p.grad.abs().sum().item() > 0 for p in params)


def test_empty_batch():
    m = nn.AdaptiveLogSoftmaxWithLoss(4, 6, [2])
    out = m(ttorch.zeros(0, 4), ttorch.zeros(0, dtype=ttorch.int64))
    assert out.output.shape == (0,) and np.isnan(out.loss.item())
    assert m.log_prob(ttorch.zeros(0, 4)).shape == (0, 6)


def test_on_device(device):
    m = nn.AdaptiveLogSoftmaxWithLoss(6, 9, [2, 5], div_value=2.0, head_bias=True).to(device)
    rng = np.random.default_rng(1)
    x_np = rng.standard_normal((5, 6))
    target = np.array([0, 3, 8, 6, 1])
    x = ttorch.tensor(x_np, dtype=ttorch.float32, device=device, requires_grad=True)
    out = m(x, ttorch.tensor(target, device=device))
    want = np_log_prob(x_np, *weights(m), m.cutoffs)
    assert out.output.device.type == device
    close(out.output, want[np.arange(5), target], ttorch.float32, n=6)
    close(out.loss, -want[np.arange(5), target].mean(), ttorch.float32, n=6)
    close(m.log_prob(x), want, ttorch.float32, n=6)
    np.testing.assert_array_equal(m.predict(x).cpu().numpy(), want.argmax(1))
    out.loss.backward()
    # d loss / d x by central differences of the float64 NumPy loss
    w = weights(m)
    g, = numeric_grads(lambda a: -np_log_prob(a[0], *w, m.cutoffs)[np.arange(5), target].mean(), [x_np])
    close(x.grad, g, ttorch.float32, n=6)


def test_docstring_example():
    from ttorch.nn.modules import adaptive
    res = doctest.testmod(adaptive, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0 and res.attempted > 0
