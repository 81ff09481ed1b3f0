"""PyTorch's other top-level names: ``Tensor.unfold`` (overlapping windows' gradients summed), the aliases
and real-tensor identities of ``ops/aliases.py``, the windows, ``logspace``, ``range`` and
``scalar_tensor`` of ``ops/windows.py`` against NumPy formulas, and the nn ops with ATen's signatures of
``_torch_nn.py`` (argument order, int reductions and modes) against ``nn.functional``."""
import math

import numpy as np
import pytest

import ttorch
import ttorch.nn.functional as F
from ttorch.autograd import gradcheck, gradgradcheck


def t(a, device="cpu", dtype=ttorch.float64, grad=False):
    return ttorch.tensor(np.asarray(a), dtype=dtype, device=device, requires_grad=grad)


def npy(x):
    return x.detach().cpu().numpy()


def test_constants():
    assert (ttorch.pi, ttorch.e, ttorch.inf, ttorch.newaxis) == (math.pi, math.e, math.inf, None)
    assert math.isnan(ttorch.nan)
    assert isinstance(ttorch.float32, ttorch.dtype)         # (ttorch.float is the dtype, not the builtin)


@pytest.mark.parametrize("size,step", [(3, 1), (2, 2), (3, 4), (1, 1), (0, 2)])
def test_unfold_against_numpy(device, size, step):
    a = np.arange(2 * 7 * 3, dtype=np.float64).reshape(2, 7, 3)
    got = t(a, device).unfold(1, size, step)
    n = (7 - size) // step + 1
    want = np.stack([a[:, i * step:i * step + size, :] for i in range(n)], 1).transpose(0, 1, 3, 2)
    assert got.shape == want.shape
    np.testing.assert_array_equal(npy(got), want)
    base = t(a, device)
    assert base.unfold(1, size, step)._base is base              # a view of the same storage
    assert t(5.0, device).unfold(0, 1, 1).tolist() == [5.0]


def test_unfold_gradients_and_errors():
    r = np.random.default_rng(0)
    for step in (1, 2, 3, 5):                                    # overlapping and not
        x = t(r.standard_normal((3, 7, 2)), grad=True)
        assert gradcheck(lambda v: v.unfold(1, 3, step), (x,))
        assert gradgradcheck(lambda v: v.unfold(-2, 3, step).square(), (x,))
    x = t(np.ones(6), grad=True)
    x.unfold(0, 3, 1).sum().backward()                           # each element counted once a window holds it
    assert x.grad.tolist() == [1.0, 2.0, 3.0, 3.0, 2.0, 1.0]
    with pytest.raises(RuntimeError, match="maximum size for tensor at dimension 0 is 10 but size is 11"):
        ttorch.arange(10).unfold(0, 11, 1)
    with pytest.raises(RuntimeError, match="step is 0 but must be > 0"):
        ttorch.arange(10).unfold(0, 3, 0)
    with pytest.raises(RuntimeError, match="size is -1 but must be >= 0"):
        ttorch.arange(10).unfold(0, -1, 1)


def test_aliases(device):
    a = np.array([[1.0, -2.0, 0.5], [np.inf, -np.inf, np.nan]])
    x = t(a, device)
    np.testing.assert_allclose(npy(ttorch.arctan2(x[0], x[0].flip(0))), np.arctan2(a[0], a[0][::-1]))
    np.testing.assert_array_equal(npy(x.t().ravel()), a.T.ravel())
    np.testing.assert_allclose(npy(ttorch.deg2rad(t([180, 90], device, ttorch.int64))), [math.pi, math.pi / 2])
    np.testing.assert_allclose(npy(x[0].rad2deg()), np.rad2deg(a[0]))
    assert ttorch.deg2rad(ttorch.tensor([1])).dtype is ttorch.get_default_dtype()
    np.testing.assert_array_equal(npy(ttorch.isneginf(x)), np.isneginf(a))
    np.testing.assert_array_equal(npy(x.isposinf()), np.isposinf(a))
    assert not ttorch.isposinf(ttorch.tensor([1, 2])).any().item()
    np.testing.assert_array_equal(npy(ttorch.angle(x)), np.angle(a))
    np.testing.assert_allclose(npy(ttorch.angle(t([-3, 0, 2], device, ttorch.int64))), [math.pi, 0.0, 0.0], rtol=1e-7)
    assert x.positive() is x and x.conj() is x and x.resolve_conj() is x and x.real is x
    assert npy(ttorch.isreal(x)).all() and not ttorch.is_complex(x) and not x.is_conj() and not x.is_neg()
    np.testing.assert_array_equal(npy(x.adjoint()), a.T)
    ones = ttorch.ones(2, 3, device=device)
    assert ones.sum_to_size(3).tolist() == [2.0] * 3 and ones.sum_to_size(2, 1).tolist() == [[3.0], [3.0]]
    assert ones.sum_to_size((1, 3)).tolist() == [[2.0] * 3] and ones.sum_to_size(2, 3) is ones
    assert [p.shape[0] for p in ttorch.split_with_sizes(ttorch.arange(6), [1, 5])] == [1, 5]
    assert [p.tolist() for p in ttorch.arange(5).unsafe_chunk(2)] == [[0, 1, 2], [3, 4]]
    assert ttorch.trapz(t([1.0, 2.0, 3.0], device)).item() == 4.0
    assert ttorch.trapz(t([1.0, 2.0, 3.0], device), t([0.0, 1.0, 3.0], device)).item() == 6.5
    assert t([1.0, 2.0], device).vdot(t([3.0, 4.0], device)).item() == 11.0
    assert t([1.0, 2.0], device).diagflat().tolist() == [[1.0, 0.0], [0.0, 2.0]]
    assert ttorch.is_nonzero(ttorch.tensor([3])) and not ttorch.is_nonzero(ttorch.tensor(0.0))
    assert ttorch.is_same_size(ones, ttorch.zeros(2, 3)) and not ones.is_same_size(ttorch.zeros(3, 2))
    assert ttorch.is_signed(ones) and not ttorch.tensor([1], dtype=ttorch.uint8).is_signed()


def test_alias_gradients_and_errors():
    x = t([1.0, -2.0, 3.0], grad=True)
    assert gradcheck(lambda v: ttorch.deg2rad(v) + v.rad2deg() + v.ravel(), (x,))
    assert gradcheck(lambda v: v.reshape(3, 1).expand(3, 4).sum_to_size(3, 1), (x,))
    ttorch.angle(x).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(RuntimeError, match="imag is not implemented for tensors with non-complex dtypes"):
        x.imag
    with pytest.raises(RuntimeError, match="The `\\+` operator, on a bool tensor is not supported"):
        ttorch.positive(ttorch.tensor([True]))
    with pytest.raises(RuntimeError, match="adjoint\\(\\) is only supported on matrices or batches of matrices. Got "
                                           "1-D tensor"):
        x.adjoint()
    with pytest.raises(RuntimeError, match="Boolean value of Tensor with more than one value is ambiguous"):
        ttorch.is_nonzero(x)
    with pytest.raises(RuntimeError, match="Boolean value of Tensor with no values is ambiguous"):
        ttorch.is_nonzero(ttorch.tensor([]))
    with pytest.raises(RuntimeError, match=r"size \{\[4\]\} is not expandable to size \{\[2, 3\]\}"):
        ttorch.ones(2, 3).sum_to_size(4)


@pytest.mark.parametrize("periodic", [True, False])
def test_windows(device, periodic):
    for n in (0, 1, 2, 7, 8):
        m = n + 1 if periodic else n
        k = np.arange(m)
        d = max(m - 1, 1)
        want = {"hann": 0.5 - 0.5 * np.cos(2 * np.pi * k / d),
                "hamming": 0.54 - 0.46 * np.cos(2 * np.pi * k / d),
                "blackman": 0.42 - 0.5 * np.cos(2 * np.pi * k / d) + 0.08 * np.cos(4 * np.pi * k / d),
                "bartlett": 1 - np.abs(2 * k / d - 1),
                "kaiser": np.i0(12.0 * np.sqrt(np.clip(1 - (2 * k / d - 1) ** 2, 0, None))) / np.i0(12.0)}
        for name, w in want.items():
            got = getattr(ttorch, name + "_window")(n, periodic, dtype=ttorch.float64, device=device)
            assert got.device.type == device and got.shape == (n,)
            np.testing.assert_allclose(npy(got), np.ones(n) if n <= 1 else w[:n], atol=1e-15, err_msg=name)
    assert ttorch.hamming_window(4, False, alpha=0.5, beta=0.4).dtype is ttorch.float32
    with pytest.raises(RuntimeError, match="hann_window expects floating point dtypes, got: Long"):
        ttorch.hann_window(3, dtype=ttorch.int64)
    with pytest.raises(RuntimeError, match="requires non-negative window_length, got window_length=-1"):
        ttorch.hann_window(-1)


def test_logspace_range_scalar_tensor(device):
    np.testing.assert_allclose(npy(ttorch.logspace(-1, 2, 4, device=device)), [0.1, 1.0, 10.0, 100.0], rtol=1e-6)
    assert ttorch.logspace(0, 3, 4, base=2, dtype=ttorch.int64).tolist() == [1, 2, 4, 8]
    assert ttorch.logspace(0.5, 2, 3, dtype=ttorch.int64).tolist() == [1, 10, 100]   # start and end truncated
    with pytest.warns(UserWarning, match="torch.range is deprecated"):
        r = ttorch.range(1, 4, 0.5, device=device)
    assert r.tolist() == [1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0] and r.dtype is ttorch.float32
    with pytest.warns(UserWarning):
        assert ttorch.range(0, 3, dtype=ttorch.int64).tolist() == [0, 1, 2, 3]
        with pytest.raises(RuntimeError, match="upper bound and lower bound inconsistent with step sign"):
            ttorch.range(4, 1)
    s = ttorch.scalar_tensor(3, device=device)
    assert s.shape == () and s.dtype is ttorch.float32 and s.item() == 3.0
    assert ttorch.scalar_tensor(3, dtype=ttorch.int64).item() == 3


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")
def test_aten_signatures(device):
    r = np.random.default_rng(1)
    x = t(r.standard_normal((2, 3, 6, 6)), device)
    w, b = t(r.standard_normal((3,)), device), t(r.standard_normal((3,)), device)
    rm, rv = t(r.standard_normal(3), device), t(r.uniform(0.5, 2, 3), device)
    # weight-first orders
    np.testing.assert_allclose(npy(ttorch.batch_norm(x, w, b, rm, rv, False, 0.1, 1e-5, True)),
                               npy(F.batch_norm(x, rm, rv, w, b, False, 0.1, 1e-5)))
    np.testing.assert_allclose(npy(ttorch.instance_norm(x, w, b, None, None, True, 0.1, 1e-5, True)),
                               npy(F.instance_norm(x, weight=w, bias=b)))
    np.testing.assert_allclose(npy(ttorch.group_norm(x, 3, w, b)), npy(F.group_norm(x, 3, w, b)))
    table = t(r.standard_normal((5, 4)), device)
    idx = ttorch.tensor([[0, 4], [2, 2]], device=device)
    np.testing.assert_array_equal(npy(ttorch.embedding(table, idx)), npy(table)[npy(idx)])
    assert ttorch.dropout(x, 0.5, False) is x or np.array_equal(npy(ttorch.dropout(x, 0.5, False)), npy(x))
    kept = npy(ttorch.feature_dropout(ttorch.ones(4, 8, 3, 2, dtype=ttorch.float64, device=device), 0.5, True))
    assert set(np.unique(kept)) <= {0.0, 2.0} and (kept == kept[..., :1, :1]).all()     # whole channels
    # int reductions
    p, q = t(r.standard_normal((4, 3)), device).log_softmax(-1), t(r.uniform(0, 1, (4, 3)), device)
    for i, red in enumerate(("none", "mean", "sum")):
        np.testing.assert_allclose(npy(ttorch.kl_div(p, q, i)), npy(F.kl_div(p, q, reduction=red)))
        np.testing.assert_allclose(npy(ttorch.binary_cross_entropy_with_logits(p, q, None, None, i)),
                                   npy(F.binary_cross_entropy_with_logits(p, q, reduction=red)))
        tgt = t([1.0, -1.0, 1.0, -1.0], device)
        np.testing.assert_allclose(npy(ttorch.margin_ranking_loss(p[:, 0], p[:, 1], tgt, 0.1, i)),
                                   npy(F.margin_ranking_loss(p[:, 0], p[:, 1], tgt, 0.1, reduction=red)))
    with pytest.raises(ValueError, match="3 is not a valid value for reduction"):
        ttorch.kl_div(p, q, 3)
    # pooling: ATen's empty stride is the kernel's
    np.testing.assert_array_equal(npy(ttorch.max_pool2d(x, 2)), npy(F.max_pool2d(x, 2)))
    out, ind = ttorch.adaptive_max_pool1d(x[0], 2)
    np.testing.assert_array_equal(npy(ind), npy(F.adaptive_max_pool1d(x[0], 2, return_indices=True)[1]))
    g = t(r.uniform(-1, 1, (2, 3, 4, 2)), device)
    for mode, name in enumerate(("bilinear", "nearest", "bicubic")):
        np.testing.assert_allclose(npy(ttorch.grid_sampler(x, g, mode, 1, True)),
                                   npy(F.grid_sample(x, g, name, "border", align_corners=True)))
    assert ttorch.constant_pad_nd(x, [1, 2], 3.0).shape == (2, 3, 6, 9)


def test_conv_tbc_and_cells():
    r = np.random.default_rng(2)
    x, w, b = r.standard_normal((7, 2, 3)), r.standard_normal((3, 3, 4)), r.standard_normal(4)
    got = npy(ttorch.conv_tbc(t(x), t(w), t(b), 1))
    xp = np.pad(x, ((1, 1), (0, 0), (0, 0)))
    want = np.stack([sum(xp[i + k] @ w[k] for k in range(3)) + b for i in range(7)])
    np.testing.assert_allclose(got, want, rtol=1e-12)
    inp, h, c = t(r.standard_normal((2, 3))), t(r.standard_normal((2, 4))), t(r.standard_normal((2, 4)))
    wih, whh = t(r.standard_normal((16, 3))), t(r.standard_normal((16, 4)))
    h2, c2 = ttorch.lstm_cell(inp, (h, c), wih, whh)
    gates = npy(inp) @ npy(wih).T + npy(h) @ npy(whh).T
    i, f, gg, o = np.split(gates, 4, 1)
    sig = lambda v: 1 / (1 + np.exp(-v))                                       # noqa: E731
    want_c = sig(f) * npy(c) + sig(i) * np.tanh(gg)
    np.testing.assert_allclose(npy(c2), want_c, rtol=1e-12)
    np.testing.assert_allclose(npy(h2), sig(o) * np.tanh(want_c), rtol=1e-12)
    np.testing.assert_allclose(npy(ttorch.rnn_tanh_cell(inp, h, wih[:4], whh[:4])),
                               np.tanh(npy(inp) @ npy(wih[:4]).T + npy(h) @ npy(whh[:4]).T), rtol=1e-12)


def test_scatters(device):
    r = np.random.default_rng(3)
    a = r.standard_normal((3, 4))
    x = t(a, device)
    flat = np.arange(a.size).reshape(a.shape)       # each case's view as flat positions of a
    for got, view, src in [
            (lambda s: ttorch.slice_scatter(x, s, 1, 1, 3), lambda m: m[:, 1:3], (3, 2)),
            (lambda s: ttorch.slice_scatter(x, s, 0, step=2), lambda m: m[::2], (2, 4)),
            (lambda s: ttorch.select_scatter(x, s, 1, -1), lambda m: m[:, -1], (3,)),
            (lambda s: ttorch.diagonal_scatter(x, s, 1), lambda m: np.diagonal(m, 1), (3,)),
            (lambda s: ttorch.as_strided_scatter(x, s, (2,), (5,), 1), lambda m: m.reshape(-1)[1:7:5], (2,))]:
        b = r.standard_normal(src)
        want = a.copy()
        want.reshape(-1)[view(flat).reshape(-1)] = b.reshape(-1)
        np.testing.assert_array_equal(npy(got(t(b, device))), want)
    xg, sg = t(a, grad=True), t(r.standard_normal((3, 2)), grad=True)
    assert gradcheck(lambda u, v: ttorch.slice_scatter(u, v, 1, 1, 3), (xg, sg))
    assert gradcheck(lambda u, v: ttorch.diagonal_scatter(u, v[:, 0]), (xg, sg))
    with pytest.raises(RuntimeError, match=r"expected src to have a size equal to the slice of self. src size = "
                                           r"\[3, 3\], slice size = \[3, 2\]"):
        ttorch.slice_scatter(x, ttorch.ones(3, 3, dtype=x.dtype, device=device), 1, 1, 3)


def test_as_strided_scatter_keeps_the_layout_of_its_input(device):
    # the copy keeps input's sizes, strides and storage offset over a copy of its storage (PyTorch's
    # clone_preserve_strides), so the view's arguments address the elements they would in input
    base = ttorch.arange(12.0, device=device)
    x = base[2:]                                                    # storage offset 2
    assert ttorch.as_strided_scatter(x, t([-1.0, -2.0], device), (2,), (1,)).tolist()[:3] == [-1.0, -2.0, 4.0]
    r = ttorch.as_strided_scatter(x, t([-1.0, -2.0], device), (2,), (1,), 3)
    assert r.tolist()[:4] == [2.0, -1.0, -2.0, 5.0] and r.storage_offset() == 2
    x = base.reshape(3, 4)[:, ::2]                                  # not dense: storage index 1 is outside
    r = ttorch.as_strided_scatter(x, t([-1.0, -2.0], device), (2,), (1,), 0)
    assert r.tolist() == [[-1.0, 2.0], [4.0, 6.0], [8.0, 10.0]] and r.stride() == (4, 2)
    x = base[:6].reshape(2, 3).t()                                  # transposed
    r = ttorch.as_strided_scatter(x, t([-1.0, -2.0], device), (2,), (1,), 0)
    assert r.tolist() == [[-1.0, 3.0], [-2.0, 4.0], [2.0, 5.0]] and r.stride() == (1, 3)
    x = base[:3].expand(2, 3)                                       # overlapping: copied contiguous
    assert ttorch.as_strided_scatter(x, t([-1.0, -2.0], device), (2,), (1,), 0).tolist() == \
        [[-1.0, -2.0, 2.0], [0.0, 1.0, 2.0]]
    xg = base[:6].double().reshape(2, 3).t().requires_grad_()
    with pytest.raises(RuntimeError, match="only supported for contiguous inputs"):
        ttorch.as_strided_scatter(xg, ttorch.zeros(2, dtype=xg.dtype, device=device), (2,), (2,), 1)
    xg, sg = t(np.arange(6.0).reshape(2, 3), device, grad=True), t([-1.0, -2.0], device, grad=True)
    assert gradcheck(lambda u, v: ttorch.as_strided_scatter(u, v, (2,), (2,), 1), (xg, sg))


def test_index_reduce_and_nonzero_static(device):
    src = t([[2.0, 3.0], [4.0, 5.0], [6.0, 7.0]], device)
    idx = ttorch.tensor([0, 0, 2], device=device)
    ones = ttorch.ones(3, 2, dtype=ttorch.float64, device=device)
    assert ones.index_reduce(0, idx, src, "prod").tolist() == [[8.0, 15.0], [1.0, 1.0], [6.0, 7.0]]
    assert ones.index_reduce(0, idx, src, "mean", include_self=False).tolist() == [[3.0, 4.0], [1.0, 1.0], [6.0, 7.0]]
    assert ones.index_reduce(0, idx, src, "mean").tolist() == [[7 / 3, 3.0], [1.0, 1.0], [3.5, 4.0]]
    assert ones.index_reduce(1, ttorch.tensor([1, 1], device=device), src.t()[:2].t(), "amax").tolist() == \
        [[1.0, 3.0], [1.0, 5.0], [1.0, 7.0]]
    y = ones.clone()
    assert y.index_reduce_(0, idx, src, "amin") is y and y.tolist() == [[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]]
    with pytest.raises(RuntimeError, match="Expected reduce to be one of prod, mean, amax or amin but got sum"):
        ones.index_reduce(0, idx, src, "sum")
    v = ttorch.tensor([[0, 1], [1, 0]], device=device)
    assert ttorch.nonzero_static(v, size=4, fill_value=-5).tolist() == [[0, 1], [1, 0], [-5, -5], [-5, -5]]
    assert v.nonzero_static(size=1).tolist() == [[0, 1]]


def test_legacy_tensor_methods():
    x = ttorch.zeros(3, 4)
    assert x.new(2, 3).shape == (2, 3) and x.new(ttorch.Size([2])).shape == (2,) and x.new().shape == (0,)
    assert x.new([1, 2]).tolist() == [1.0, 2.0] and x.new((1, 2)).dtype is ttorch.float32
    with pytest.raises(TypeError, match="expected ttorch.float32"):
        x.new(ttorch.tensor([1, 2]))
    y = ttorch.arange(6.0).reshape(2, 3)
    assert y.resize_(3, 2) is y and y.tolist() == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]
    assert y.resize_(2, 2).tolist() == [[0.0, 1.0], [2.0, 3.0]]
    assert y.resize_(5).shape == (5,) and y[:4].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert ttorch.ones(2, 3).resize_as_(ttorch.ones(6)).shape == (6,)
    with pytest.raises(RuntimeError, match="cannot resize variables that require grad"):
        ttorch.ones(2, requires_grad=True).resize_(3)
    assert not x.is_pinned()
    if ttorch.cuda.is_available():
        p = x.pin_memory()
        assert p.is_pinned() and p is not x and p.pin_memory() is p and ttorch.equal(p, x)


def test_default_device():
    if not ttorch.cuda.is_available():
        pytest.skip("needs (simulated) cuda")
    assert ttorch.get_default_device() == ttorch.device("cpu")
    try:
        ttorch.set_default_device("cuda")
        assert ttorch.get_default_device() == ttorch.device("cuda", 0)
        made = [ttorch.zeros(2), ttorch.randn(2), ttorch.tensor([1.0]), ttorch.arange(3), ttorch.full((1,), 2.0),
                ttorch.nn.Linear(2, 3).weight]
        assert all(m.device.type == "cuda" for m in made)
        assert ttorch.zeros(2, device="cpu").device.type == "cpu"
        assert ttorch.as_tensor(np.ones(2)).device.type == "cuda"
    finally:
        ttorch.set_default_device(None)
    assert ttorch.zeros(1).device.type == "cpu" and ttorch.as_tensor(np.ones(2)).device.type == "cpu"
    with ttorch.device("cuda"):                             # a block's default, restored after it
        assert ttorch.ones(1).device.type == "cuda"
        with ttorch.device("cpu"):
            assert ttorch.ones(1).device.type == "cpu"
        assert ttorch.nn.Linear(2, 2).bias.device.type == "cuda"
    assert ttorch.ones(1).device.type == "cpu"


def test_inference_mode_flag_and_names():
    assert not ttorch.is_inference_mode_enabled()
    with ttorch.inference_mode():
        assert ttorch.is_inference_mode_enabled() and not ttorch.is_grad_enabled()
        with ttorch.inference_mode(False):          # PyTorch's guard turns grad mode back on
            assert not ttorch.is_inference_mode_enabled() and ttorch.is_grad_enabled()
        assert ttorch.is_inference_mode_enabled()

    @ttorch.inference_mode()
    def f():
        return ttorch.is_inference_mode_enabled()
    assert f() and not ttorch.is_inference_mode_enabled() and not ttorch.ones(1).is_inference()
    assert ttorch.typename(ttorch.ones(1)) == "ttorch.FloatTensor" and ttorch.typename(3) == "int"
    assert ttorch.get_device(ttorch.ones(1)) == -1


def test_gcd_lcm_nextafter(device):
    r = np.random.default_rng(4)
    a, b = r.integers(-10 ** 12, 10 ** 12, 50), r.integers(-10 ** 6, 10 ** 6, 50)
    a[:3], b[:3] = [0, 0, 7], [0, -5, 0]
    fib = np.array([4660046610375530309, 7540113804746346429])     # Euclid's worst case for int64
    for x, y in ((a, b), (fib[:1], fib[1:])):
        tx, ty = t(x, device, ttorch.int64), t(y, device, ttorch.int64)
        np.testing.assert_array_equal(npy(ttorch.gcd(tx, ty)), np.gcd(x, y))
    small_a, small_b = a % 1000, b % 1000
    np.testing.assert_array_equal(npy(t(small_a, device, ttorch.int32).lcm(t(small_b, device, ttorch.int32))),
                                  np.lcm(small_a, small_b))
    u = t([12, 18], device, ttorch.uint8)
    assert u.gcd_(t([8, 27], device, ttorch.uint8)) is u and u.tolist() == [4, 9]
    with pytest.raises(RuntimeError, match="\"gcd_cpu\" not implemented for 'Float'"):
        ttorch.gcd(ttorch.tensor([1.0]), ttorch.tensor([2.0]))
    with pytest.raises(RuntimeError, match="\"nextafter_cpu\" not implemented for 'Long'"):
        ttorch.nextafter(ttorch.tensor([1]), ttorch.tensor([2]))
    x = t([1.0, 0.0, 0.0, -1.0, 1.0], device, ttorch.float32)
    y = t([2.0, -1.0, 1.0, -2.0, 1.0], device, ttorch.float32)
    got = npy(ttorch.nextafter(x, y))
    np.testing.assert_array_equal(got, np.nextafter(npy(x), npy(y)))
    assert got[1] < 0 < got[2] and got[0] - 1 == np.finfo(np.float32).eps


def test_view_dtype(device):
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    x = t(a, device, ttorch.uint8)
    for dt, npdt in ((ttorch.int16, np.int16), (ttorch.int32, np.int32), (ttorch.bool, np.bool_),
                     (ttorch.int8, np.int8)):
        np.testing.assert_array_equal(npy(x.view(dt)), a.view(npdt))
    f = t([1.0, -2.0, 0.5], device, ttorch.float32)
    bits = f.view(ttorch.int32)
    np.testing.assert_array_equal(npy(bits), np.array([1.0, -2.0, 0.5], np.float32).view(np.int32))
    np.testing.assert_array_equal(npy(f.view(ttorch.float16)), np.array([1.0, -2.0, 0.5], np.float32).view(np.float16))
    bits[0] = 0                                             # a view: writes reach the float tensor
    assert f.tolist() == [0.0, -2.0, 0.5] and bits._base is f
    assert f[1:].view(ttorch.int16).shape == (4,)
    wide = t(np.ones((3, 4)), device, ttorch.float32)[1:]
    assert wide.view(ttorch.float64).shape == (2, 2) and wide.view(ttorch.float64).storage_offset() == 2
    assert not t([1.0], grad=True).view(ttorch.float32).requires_grad        # not differentiable, as PyTorch's
    u = ttorch.arange(12, dtype=ttorch.uint8).reshape(3, 4)
    for bad, msg in ((u[:, :3], "self.size\\(-1\\) must be divisible by 2 to view Byte as Short"),
                     (u[:, 1:3], "self.storage_offset\\(\\) must be divisible by 2"),
                     (u[:, ::2], "self.stride\\(-1\\) must be 1 to view Byte as Short"),
                     (ttorch.tensor(1, dtype=ttorch.uint8), "self.dim\\(\\) cannot be 0 to view Byte as Short")):
        with pytest.raises(RuntimeError, match=msg):
            bad.view(ttorch.int16)


def test_frexp(device):
    vals = np.array([8.0, 0.3, -5.0, 0.0, -0.0, np.inf, -np.inf, np.nan, 2.0 ** -130, 3.0e38, 1.0])
    for dt, npdt in ((ttorch.float32, np.float32), (ttorch.float64, np.float64), (ttorch.float16, np.float16)):
        a = vals.astype(npdt)
        if dt is ttorch.float16:
            a = a[np.abs(a) < 6e4]
        m, e = t(a, device, dt).frexp()
        wm, we = np.frexp(a)
        assert m.dtype is dt and e.dtype is ttorch.int32
        np.testing.assert_array_equal(npy(m), wm)
        finite = np.isfinite(a)
        np.testing.assert_array_equal(npy(e)[finite], we[finite])
        assert (npy(e)[~finite] == 0).all()
    x = t([3.0, -0.1, 40.0], grad=True)
    assert gradcheck(lambda v: ttorch.frexp(v).mantissa, (x,))
    with pytest.raises(RuntimeError, match="only supports floating-point dtypes"):
        ttorch.frexp(ttorch.tensor([1, 2]))


def test_docstring_examples():
    import doctest
    from ttorch.ops import aliases, frexp, views, windows
    for mod in (aliases, frexp, views, windows):
        res = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert res.failed == 0 and res.attempted >= 1, mod.__name__


def test_torch_dropout_errors_are_atens():
    # torch.dropout & co. raise RuntimeError (nn.functional's ValueError); feature dropout needs 2-D in training
    x = ttorch.ones(3, 4)
    for f in (ttorch.dropout, ttorch.alpha_dropout, ttorch.feature_dropout, ttorch.feature_alpha_dropout):
        with pytest.raises(RuntimeError, match="between 0 and 1"):
            f(x, 1.5, True)
    for f in (ttorch.feature_dropout, ttorch.feature_alpha_dropout):
        with pytest.raises(RuntimeError, match="at least 2 dimensions"):
            f(ttorch.ones(5), 0.5, True)
        assert f(ttorch.ones(5), 0.5, False).tolist() == [1.0] * 5


def test_frexp_out_exponent_must_be_int32():
    with pytest.raises(RuntimeError, match="expects exponent to have int dtype"):
        ttorch.frexp(ttorch.tensor([1.0, 2.0]), out=(ttorch.empty(2), ttorch.empty(2, dtype=ttorch.int64)))


def test_review_scatter_dim_int32_index_logspace_int_out():
    # review regressions: slice_scatter checks its dim's range; index_reduce takes int32 indices; an integer
    # logspace truncates start and end (not the exponents); logspace and range write out=
    with pytest.raises(IndexError):
        ttorch.slice_scatter(ttorch.ones(2, 3), ttorch.ones(2, 3), 2)
    x = ttorch.ones(3).index_reduce(0, ttorch.tensor([0, 0], dtype=ttorch.int32), ttorch.tensor([2.0, 3.0]), "prod")
    assert x.tolist() == [6.0, 1.0, 1.0]
    assert ttorch.logspace(0, 3, 5, dtype=ttorch.int64).tolist() == [1, 5, 31, 177, 1000]
    assert ttorch.logspace(-1.5, 2, 4, base=2, dtype=ttorch.int64).tolist() == [0, 1, 2, 4]
    o = ttorch.zeros(3)
    assert ttorch.logspace(0, 2, 3, out=o) is o and o.tolist() == [1.0, 10.0, 100.0]
    o = ttorch.zeros(3)
    with pytest.warns(UserWarning):
        assert ttorch.range(0, 2, out=o) is o and o.tolist() == [0.0, 1.0, 2.0]
