"""PyTorch API beside the ops: top-level in-place functions, in-place view ops, set_/storage, apply_,
the *_copy view copies, asarray/frombuffer/from_file, native_* helpers and the legacy typed classes.
References are NumPy or hand-computed; expected errors are PyTorch 2.13's."""
import math
import warnings

import numpy as np
import pytest

import ttorch
from ttorch._api_more import _METHODS, _VIEWS

X = np.array([[0.5, -1.5, 2.0], [3.0, -0.25, 1.0]], dtype=np.float32)


def _t(a, device="cpu", **kw):
    return ttorch.tensor(a, device=device, **kw)


def _np(t):
    return t.detach().cpu().numpy()


# ----------------------------------------------------------------------------- top-level in-place forms
@pytest.mark.parametrize("name,ref", [("abs_", np.abs), ("ceil_", np.ceil), ("exp_", np.exp), ("neg_", np.negative),
                                      ("relu_", lambda a: np.maximum(a, 0)), ("trunc_", np.trunc),
                                      ("sigmoid_", lambda a: 1 / (1 + np.exp(-a))), ("square_", np.square),
                                      ("deg2rad_", np.deg2rad), ("frac_", lambda a: a - np.trunc(a))])
def test_toplevel_inplace_unary(device, name, ref):
    x = _t(X, device)
    v = x._version
    out = getattr(ttorch, name)(x)
    assert out is x and x._version > v
    np.testing.assert_allclose(_np(x), ref(X.astype(np.float64)), rtol=1e-6, atol=1e-6)


def test_toplevel_inplace_with_args(device):
    np.testing.assert_allclose(_np(ttorch.clamp_(_t(X, device), -1, 1)), np.clip(X, -1, 1))
    np.testing.assert_allclose(_np(ttorch.clip_(_t(X, device), max=1.0)), np.minimum(X, 1))
    np.testing.assert_allclose(_np(ttorch.fill_(_t(X, device), 2)), np.full_like(X, 2))
    np.testing.assert_allclose(_np(ttorch.ldexp_(_t(X, device), _t([1, 2, 3], device))), X * [2, 4, 8])
    np.testing.assert_array_equal(_np(ttorch.gcd_(_t([4, 6], device), _t([6, 9], device))), [2, 3])
    np.testing.assert_allclose(_np(ttorch.celu_(_t(X, device), 2.0)), np.where(X > 0, X, 2 * np.expm1(X / 2)),
                               rtol=1e-6)
    np.testing.assert_allclose(_np(ttorch.threshold_(_t(X, device), 1.0, -9.0)), np.where(X > 1, X, -9))
    lo, hi = 0.125, 1 / 3
    np.testing.assert_allclose(_np(ttorch.rrelu_(_t(X, device))), np.where(X >= 0, X, X * (lo + hi) / 2), rtol=1e-6)
    np.testing.assert_allclose(_np(ttorch.dropout_(_t(X, device), 0.5, False)), X)
    np.testing.assert_allclose(_np(ttorch.feature_dropout_(_t(X, device), 1.0, True)), 0 * X)
    w = ttorch.ones(3, 2, device=device) * 3
    assert ttorch.embedding_renorm_(w, _t([0, 0, 2], device), 1.0, 2.0) is w
    r = 3 / (3 * math.sqrt(2) + 1e-7)      # rows 0 and 2 rescaled to norm 1 (PyTorch's + 1e-7), row 1 untouched
    np.testing.assert_allclose(_np(w), [[r, r], [3, 3], [r, r]], rtol=1e-6)


def test_toplevel_inplace_names():
    for name in _METHODS:
        assert getattr(ttorch, name) is getattr(ttorch.Tensor, name)
    for name in ("celu_", "selu_", "threshold_", "rrelu_", "dropout_", "alpha_dropout_", "feature_dropout_",
                 "feature_alpha_dropout_", "embedding_renorm_"):
        assert callable(getattr(ttorch, name))


def test_toplevel_inplace_autograd():
    a = ttorch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        ttorch.celu_(a)
    b = a * 2
    ttorch.selu_(b)
    b.sum().backward()
    s, al = 1.0507009873554805, 1.6732632423543772
    ref = 2 * np.where(np.array([2, -4, 6]) > 0, s, s * al * np.exp([2.0, -4.0, 6.0]))
    np.testing.assert_allclose(_np(a.grad), ref, rtol=1e-5)


# ----------------------------------------------------------------------------- in-place view ops
def test_inplace_view_metadata(device):
    x = ttorch.zeros(2, 3, device=device)
    v = x._version
    assert x.t_() is x and tuple(x.shape) == (3, 2) and x.stride() == (1, 3) and x._version == v + 1
    x.unsqueeze_(0)
    assert tuple(x.shape) == (1, 3, 2) and x.stride() == (3, 1, 3)
    x.squeeze_()
    x.transpose_(0, 1)
    x.swapaxes_(0, 1)
    x.swapdims_(1, 0)
    assert tuple(x.shape) == (2, 3) and x.is_contiguous()
    y = ttorch.arange(6.0, device=device)
    y.as_strided_((2, 2), (1, 2), 1)
    np.testing.assert_array_equal(_np(y), [[1, 3], [2, 4]])
    assert tuple(ttorch.ones(1, 3, 1).squeeze_((0, 2)).shape) == (3,)
    with pytest.raises(RuntimeError, match="t_\\(\\) expects a tensor with <= 2 dimensions, but self is 3D"):
        ttorch.ones(2, 2, 2).t_()
    with pytest.raises(IndexError, match="Dimension out of range"):
        ttorch.ones(2, 3).transpose_(0, 2)


def test_inplace_view_autograd():
    a = ttorch.tensor([[1.0, 2, 3], [4, 5, 6]], requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        a.t_()
    b = a * 1
    b.t_()
    b.unsqueeze_(0)
    (b * ttorch.arange(6.0).reshape(1, 3, 2)).sum().backward()
    np.testing.assert_array_equal(_np(a.grad), [[0, 2, 4], [1, 3, 5]])
    a.grad = None
    b = a * 1
    c = b[0]
    c.unsqueeze_(0)
    c.mul_(2)
    assert c._base is b and tuple(c.shape) == (1, 3)
    (b * b).sum().backward()
    np.testing.assert_array_equal(_np(a.grad), [[8, 16, 24], [8, 10, 12]])
    with ttorch.no_grad():
        d = ttorch.ones(2, 3, requires_grad=True)
        d.t_()
    assert tuple(d.shape) == (3, 2) and d.is_leaf


# ----------------------------------------------------------------------------- composed in-place methods
def test_composed_inplace_methods(device):
    m = _t(X, device)
    out = ttorch.ones(2, device=device).addmv_(m, ttorch.ones(3, device=device), beta=2, alpha=0.5)
    np.testing.assert_allclose(_np(out), 2 + 0.5 * X.sum(1), rtol=1e-6)
    out = ttorch.ones(2, 3, device=device).addr_(_t([1.0, 2], device), _t([1.0, 2, 3], device))
    np.testing.assert_allclose(_np(out), 1 + np.outer([1, 2], [1, 2, 3]))
    out = ttorch.ones(2, 2, device=device).addbmm_(ttorch.ones(3, 2, 4, device=device),
                                                    ttorch.ones(3, 4, 2, device=device), alpha=0.5)
    np.testing.assert_allclose(_np(out), np.full((2, 2), 7.0))
    two = ttorch.tensor(2.0, device=device)
    np.testing.assert_allclose(_np(_t(X, device).arctan2_(two)), np.arctan2(X, 2), rtol=1e-6)
    np.testing.assert_allclose(_np(_t(X, device).heaviside_(ttorch.tensor(0.5, device=device))), np.heaviside(X, 0.5))
    np.testing.assert_allclose(_np(_t(X, device).sgn_()), np.sign(X))
    np.testing.assert_allclose(_np(_t(X, device).rad2deg_()), np.rad2deg(X), rtol=1e-6)
    np.testing.assert_allclose(_np(_t([1.0, 2.0], device).polygamma_(1)), [math.pi ** 2 / 6, math.pi ** 2 / 6 - 1],
                               rtol=1e-5)
    r = _t(X, device).renorm_(2, 0, 1.0)
    np.testing.assert_allclose(np.linalg.norm(_np(r), axis=1), [1, 1], rtol=1e-5)
    x64 = _t(X.astype(np.float64), device)
    np.testing.assert_allclose(_np(x64.float_power_(2)), X.astype(np.float64) ** 2)
    with pytest.raises(RuntimeError, match="the base given to float_power_ has dtype Float but the operation's "
                                           "result requires dtype Double"):
        _t(X, device).float_power_(2)
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long"):
        ttorch.ones(2, dtype=ttorch.int64, device=device).deg2rad_()


def test_fill_diagonal_(device):
    z = ttorch.zeros(7, 3, device=device)
    ref = np.zeros((7, 3))
    ref[[0, 1, 2, 4, 5, 6], [0, 1, 2, 0, 1, 2]] = 5
    np.testing.assert_array_equal(_np(z.fill_diagonal_(5, wrap=True)), ref)
    ref[4:] = 0
    np.testing.assert_array_equal(_np(ttorch.zeros(7, 3, device=device).fill_diagonal_(5)), ref)
    np.testing.assert_array_equal(_np(ttorch.zeros(2, 5, device=device).fill_diagonal_(1, wrap=True)),
                                  np.eye(2, 5))
    cube = np.zeros((2, 2, 2))
    cube[0, 0, 0] = cube[1, 1, 1] = 1
    np.testing.assert_array_equal(_np(ttorch.zeros(2, 2, 2, device=device).fill_diagonal_(1)), cube)
    with pytest.raises(RuntimeError, match="all dimensions of input must be of equal length"):
        ttorch.zeros(2, 3, 2).fill_diagonal_(1)
    with pytest.raises(RuntimeError, match="dimensions must larger than 1"):
        ttorch.zeros(3).fill_diagonal_(1)
    a = ttorch.ones(2, 2, requires_grad=True)
    b = a * 3
    b.fill_diagonal_(0)
    b.sum().backward()
    np.testing.assert_array_equal(_np(a.grad), [[0, 3], [3, 0]])


def test_apply_map():
    x = ttorch.arange(6.0).reshape(2, 3)
    v = x._version
    assert x.apply_(lambda e: e * 2) is x and x._version > v
    np.testing.assert_array_equal(_np(x), np.arange(6).reshape(2, 3) * 2)
    x.map_(ttorch.ones(3), lambda a, b: a + b)
    x.map2_(ttorch.ones(3), ttorch.full((2, 3), 2.0), lambda a, b, c: a + b * c)
    np.testing.assert_array_equal(_np(x), np.arange(6).reshape(2, 3) * 2 + 3)
    np.testing.assert_array_equal(_np(ttorch.ones(3, dtype=ttorch.int64).apply_(lambda e: e + 1.7)), [2, 2, 2])
    with pytest.raises(RuntimeError, match=r"Can't call apply_\(\) on Variable that requires grad"):
        ttorch.ones(3, requires_grad=True).apply_(lambda e: e)
    with pytest.raises(TypeError, match="map_\\(\\): argument 'other' \\(position 1\\) must be Tensor, not list"):
        ttorch.ones(3).map_([1, 2, 3], lambda a, b: a)
    with pytest.raises(RuntimeError):
        ttorch.ones(3).map_(ttorch.ones(2), lambda a, b: a)


def test_apply_cpu_only():
    if not ttorch.cuda.is_available():
        pytest.skip("no cuda device")
    with pytest.raises(TypeError, match="apply_ is only implemented on CPU tensors"):
        ttorch.ones(2, device="cuda").apply_(lambda e: e)


# ----------------------------------------------------------------------------- small Tensor methods
def test_small_methods(device):
    x = _t(X, device)
    assert x.new_empty_strided((2, 3), (1, 2)).stride() == (1, 2)
    assert x.output_nr == 0 and ttorch.ones(2, requires_grad=True).unbind()[1].output_nr == 1
    assert x.cfloat().dtype is ttorch.complex64 and x.cdouble().dtype is ttorch.complex128
    with pytest.raises(TypeError, match="complex32"):
        x.chalf()
    assert x.dim_order() == (0, 1)
    assert ttorch.ones(2, 3, 4, device=device).permute(2, 0, 1).dim_order() == (1, 2, 0)
    assert ttorch.ones(2, 3, 5, 7, device=device).transpose(1, 2).dim_order() == (0, 2, 1, 3)
    with pytest.raises(RuntimeError, match="does not have unique dim order"):
        ttorch.ones(1, 2, 3).dim_order(ambiguity_check=True)
    with pytest.raises(TypeError, match="must be a bool or a list of memory formats"):
        x.dim_order(ambiguity_check="x")
    np.testing.assert_allclose(_np(x.prelu(_t([0.25], device))), np.where(X > 0, X, 0.25 * X))
    n = x.narrow_copy(1, 1, 2)
    assert n.is_contiguous() and n.data_ptr() != x.data_ptr()
    np.testing.assert_array_equal(_np(n), X[:, 1:])
    assert x.const_data_ptr() == x.data_ptr()
    flags = ("is_mps", "is_xpu", "is_ipu", "is_mtia", "is_maia", "is_vulkan", "is_mkldnn")
    assert not any(getattr(x, f) for f in flags) and not x.is_distributed() and not ttorch.is_distributed(x)
    assert not ttorch.is_inference(x)
    assert x.share_memory_() is x and not x.is_shared()


def test_set_and_is_set_to(device):
    a = ttorch.ones(2, device=device)
    y = ttorch.zeros(3, device=device)
    assert y.set_(a) is y and y.is_set_to(a) and y._version > 0
    y[0] = 5
    assert _np(a)[0] == 5
    assert a.is_set_to(a.view(2)) and a.is_set_to(a.detach()) and not a.is_set_to(ttorch.ones(2, device=device))
    assert tuple(ttorch.zeros(3, device=device).set_().shape) == (0,)
    st = ttorch.arange(4.0, device=device).untyped_storage()
    np.testing.assert_array_equal(_np(ttorch.zeros(3, device=device).set_(st, 1, (2,), (1,))), [1, 2])
    np.testing.assert_array_equal(_np(ttorch.zeros(3, device=device).set_(st)), [0, 1, 2, 3])
    with pytest.raises(RuntimeError, match="Could not set tensor of type float to a tensor of type long int"):
        ttorch.zeros(3, dtype=ttorch.int64).set_(ttorch.ones(2))
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        ttorch.zeros(3, requires_grad=True).set_(ttorch.ones(2))


def test_storage(device):
    x = ttorch.arange(4.0, device=device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = x[1:].storage()
    assert s.size() == 4 and s.tolist() == [0, 1, 2, 3] and s.dtype is ttorch.float32
    s[0] = 9
    np.testing.assert_array_equal(_np(x), [9, 1, 2, 3])
    assert x.storage_type() is ttorch.FloatStorage and ttorch.is_storage(s) and not ttorch.is_storage(x)
    y = ttorch.zeros(2, device=device).set_(s, 2, (2,))
    np.testing.assert_array_equal(_np(y), [2, 3])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert ttorch.LongStorage([1, 2]).tolist() == [1, 2] and ttorch.FloatStorage(3).size() == 3


def test_record_stream_and_as_subclass():
    with pytest.raises(RuntimeError, match="unknown parameter type"):
        ttorch.ones(2).record_stream(None)

    class Sub(ttorch.Tensor):
        pass
    a = ttorch.ones(2, requires_grad=True)
    s = a.as_subclass(Sub)
    assert type(s) is Sub and not s.is_leaf and s.data_ptr() == a.data_ptr()
    (s * 2).sum().backward()
    np.testing.assert_array_equal(_np(a.grad), [2, 2])
    with pytest.raises(TypeError, match="does not inherit from Tensor"):
        a.as_subclass(int)


# ----------------------------------------------------------------------------- *_copy
def test_view_copies(device):
    a = np.arange(12.0).reshape(3, 4)
    x = _t(a, device)
    assert set(n + "_copy" for n in _VIEWS) <= set(dir(ttorch))
    cases = {"alias_copy": ((), a), "t_copy": ((), a.T), "transpose_copy": ((0, 1), a.T),
             "permute_copy": (((1, 0),), a.T), "diagonal_copy": ((1,), np.diagonal(a, 1)),
             "as_strided_copy": (((2, 2), (1, 2), 1), np.array([[1, 3], [2, 4.0]])),
             "expand_copy": (((2, 3, 4),), np.broadcast_to(a, (2, 3, 4))), "narrow_copy": ((1, 1, 2), a[:, 1:3]),
             "select_copy": ((1, 2), a[:, 2]), "slice_copy": ((1, 1, None, 2), a[:, 1::2]),
             "squeeze_copy": ((), a), "unsqueeze_copy": ((0,), a[None]), "view_copy": (((6, 2),), a.reshape(6, 2)),
             "unfold_copy": ((1, 2, 2), a.reshape(3, 2, 2)), "detach_copy": ((), a)}
    for name, (args, ref) in cases.items():
        out = getattr(ttorch, name)(x, *args)
        assert out.is_contiguous() and out.data_ptr() != x.data_ptr(), name
        np.testing.assert_array_equal(_np(out), ref, err_msg=name)
    parts = ttorch.split_with_sizes_copy(x, [1, 3], 1)
    assert isinstance(parts, tuple) and [tuple(p.shape) for p in parts] == [(3, 1), (3, 3)]
    assert len(ttorch.split_copy(x, 2)) == 2 and len(ttorch.unbind_copy(x, 1)) == 4
    np.testing.assert_array_equal(_np(ttorch.view_as_real_copy(ttorch.view_as_complex_copy(x.reshape(6, 2)))),
                                  a.reshape(6, 2))
    with pytest.raises(RuntimeError, match="values expected sparse tensor layout but got Strided"):
        ttorch.values_copy(x)
    g = ttorch.ones(2, 3, requires_grad=True)
    (ttorch.t_copy(g) * ttorch.arange(6.0).reshape(3, 2)).sum().backward()
    np.testing.assert_array_equal(_np(g.grad), [[0, 2, 4], [1, 3, 5]])


# ----------------------------------------------------------------------------- asarray, frombuffer, from_file
def test_asarray():
    t = ttorch.ones(3)
    assert ttorch.asarray(t) is t and ttorch.asarray(t, dtype=ttorch.float32, copy=False) is t
    with pytest.raises(ValueError, match="can't alias tensor with dtype 'Float' into dtype 'Double'."):
        ttorch.asarray(t, dtype=ttorch.float64, copy=False)
    assert ttorch.asarray(t, copy=True).data_ptr() != t.data_ptr()
    g = ttorch.ones(3, requires_grad=True)
    d = ttorch.asarray(g, requires_grad=False)
    assert ttorch.asarray(g) is g and not d.requires_grad and d.data_ptr() == g.data_ptr()
    c = ttorch.asarray(g, dtype=ttorch.float64)
    assert c.requires_grad and not c.is_leaf
    n = np.ones(5)
    r = ttorch.asarray(n)
    assert r.dtype is ttorch.float64 and np.shares_memory(r.numpy(), n)
    assert np.shares_memory(ttorch.asarray(n[::2]).numpy(), n)
    assert not np.shares_memory(ttorch.asarray(n, dtype=ttorch.float32).numpy(), n)
    assert not np.shares_memory(ttorch.asarray(n, copy=True).numpy(), n)
    with pytest.raises(ValueError, match="can't alias tensor with dtype 'Double' into dtype 'Float'."):
        ttorch.asarray(n, dtype=ttorch.float32, copy=False)
    with pytest.raises(ValueError, match="can't alias arbitrary sequence into a tensor."):
        ttorch.asarray([1, 2], copy=False)
    assert ttorch.asarray([1, 2.5]).dtype is ttorch.float32 and ttorch.asarray(3).dtype is ttorch.int64
    assert ttorch.asarray(b"\x01\x02\x03\x04", dtype=ttorch.int16).tolist() == [513, 1027]
    assert ttorch.asarray([1.0, 2], requires_grad=True).requires_grad


def test_frombuffer_and_from_file(tmp_path):
    b = bytearray(8)
    x = ttorch.frombuffer(b, dtype=ttorch.uint8)
    x[0] = 5
    assert b[0] == 5
    assert ttorch.frombuffer(bytearray(8), dtype=ttorch.int32, count=1, offset=4).tolist() == [0]
    assert ttorch.frombuffer(b"abcd", dtype=ttorch.uint8).tolist() == [97, 98, 99, 100]
    for kw, msg in [({}, r"buffer length \(7 bytes\) after offset \(0 bytes\) must be a multiple of element size"),
                    ({"count": 3}, r"requested buffer length \(3 \* 4 bytes\)"),
                    ({"offset": 9}, r"offset \(9 bytes\) must be non-negative"),
                    ({"count": 0}, r"both buffer length \(7\) and count \(0\) must not be 0")]:
        with pytest.raises(ValueError, match=msg):
            ttorch.frombuffer(bytearray(7), dtype=ttorch.int32, **kw)
    with pytest.raises(ValueError, match="object does not implement Python buffer protocol."):
        ttorch.frombuffer([1, 2], dtype=ttorch.uint8)
    f = str(tmp_path / "f.bin")
    np.arange(4, dtype=np.float32).tofile(f)
    assert ttorch.from_file(f, size=3).tolist() == [0, 1, 2] and ttorch.from_file(f).numel() == 0
    with pytest.raises(RuntimeError, match="is smaller than the required mapping size <20>"):
        ttorch.from_file(f, size=5)
    y = ttorch.from_file(f, shared=False, size=4)
    y[1] = 9
    assert np.fromfile(f, dtype=np.float32).tolist() == [0, 1, 2, 3]
    y = ttorch.from_file(f, shared=True, size=4)
    y[0] = 7
    del y
    assert np.fromfile(f, dtype=np.float32).tolist() == [7, 1, 2, 3]


# ----------------------------------------------------------------------------- small functions
def test_small_functions(device):
    x = _t(X, device)
    np.testing.assert_allclose(_np(ttorch.rsub(x, 3, alpha=2)), 3 - 2 * X)
    np.testing.assert_allclose(_np(ttorch.fill(x, ttorch.tensor(2.5))), np.full_like(X, 2.5))
    with pytest.raises(RuntimeError, match="fill_ only supports 0-dimension value tensor"):
        ttorch.fill(x, ttorch.tensor([2.5]))
    assert ttorch.fill(ttorch.ones(2, dtype=ttorch.int64), 2.7).tolist() == [2, 2]
    p = ttorch.put(x, _t([0, 5], device), _t([-1.0, -2.0], device))
    ref = X.copy().reshape(-1)
    ref[[0, 5]] = [-1, -2]
    np.testing.assert_array_equal(_np(p), ref.reshape(2, 3))
    np.testing.assert_array_equal(_np(x), X)
    assert ttorch.empty_permuted((2, 3, 5, 7), (0, 2, 3, 1), device=device).stride() == (105, 1, 21, 3)
    with pytest.raises(RuntimeError, match="Duplicate dim not allowed"):
        ttorch.empty_permuted((2, 3), (0, 0))
    assert not ttorch.detach(ttorch.ones(2, requires_grad=True) * 2).requires_grad
    np.testing.assert_allclose(_np(ttorch.vmap(lambda r: r.sum())(x)), X.sum(1), rtol=1e-6)


def test_poisson_binomial():
    with pytest.raises(NotImplementedError, match="\"poisson_cpu\" not implemented for 'Long'"):
        ttorch.poisson(ttorch.ones(2, dtype=ttorch.int64))
    with pytest.raises(ValueError, match="binomial only supports floating-point dtypes for count, got: Long"):
        ttorch.binomial(ttorch.ones(2, dtype=ttorch.int64), ttorch.ones(2))
    assert ttorch.poisson(ttorch.zeros(3)).tolist() == [0, 0, 0]
    assert ttorch.binomial(ttorch.full((3,), 5.0), ttorch.tensor([0.0, 1.0, 1.0])).tolist() == [0, 5, 5]
    s = ttorch.poisson(ttorch.full((4000,), 3.0))
    assert abs(s.mean().item() - 3) < 0.15 and bool((s == s.round()).all())
    g1, g2 = ttorch.Generator().manual_seed(3), ttorch.Generator().manual_seed(3)
    r = ttorch.full((50,), 3.0)
    assert ttorch.equal(ttorch.poisson(r, generator=g1), ttorch.poisson(r, generator=g2))
    assert ttorch.equal(ttorch.rrelu(-ttorch.ones(20), training=True, generator=g1),
                        ttorch.rrelu(-ttorch.ones(20), training=True, generator=g2))


def test_native_norm_ops():
    xx = np.array([[[0.5, -1.5, 2.0, 1.0], [3.0, -0.25, 1.0, 0.0]], [[1, 2, 3, 4], [0, 0, 1, 2]]], np.float32)
    x = _t(xx)
    out, mean, rstd = ttorch.native_layer_norm(x, [4], None, None, 1e-5)
    m, v = xx.mean(-1, keepdims=True), xx.var(-1, keepdims=True)
    np.testing.assert_allclose(_np(mean), m, rtol=1e-6)
    np.testing.assert_allclose(_np(rstd), 1 / np.sqrt(v + 1e-5), rtol=1e-5)
    np.testing.assert_allclose(_np(out), (xx - m) / np.sqrt(v + 1e-5), rtol=1e-4, atol=1e-5)
    out, mean, invstd = ttorch.native_batch_norm(x, None, None, ttorch.zeros(2), ttorch.ones(2), True, 0.1, 1e-5)
    np.testing.assert_allclose(_np(mean), xx.mean((0, 2)), rtol=1e-6)
    np.testing.assert_allclose(_np(invstd), 1 / np.sqrt(xx.var((0, 2)) + 1e-5), rtol=1e-5)
    _, m0, v0 = ttorch.native_batch_norm(x, None, None, ttorch.zeros(2), ttorch.ones(2), False, 0.1, 1e-5)
    assert m0.shape == (0,) and v0.shape == (0,)
    _, mean, rstd = ttorch.native_group_norm(x.reshape(2, 4, 2), None, None, 2, 4, 2, 2, 1e-5)
    np.testing.assert_allclose(_np(mean), xx.reshape(2, 2, 4).mean(-1), rtol=1e-6)
    out, mask = ttorch.native_dropout(x, 0.5, False)
    assert mask.dtype is ttorch.bool and bool(mask.all()) and ttorch.equal(out, x)
    out, mask = ttorch.native_dropout(x, 0.5, None)
    np.testing.assert_allclose(_np(out), np.where(_np(mask), 2 * xx, 0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_allclose(_np(ttorch.frobenius_norm(x, (1, 2))), np.sqrt((xx ** 2).sum((1, 2))), rtol=1e-6)
        with pytest.raises(RuntimeError, match="Expected at most 2 dimensions, but got 3 dimensions instead."):
            ttorch.frobenius_norm(x, (0, 1, 2))
        np.testing.assert_allclose(_np(ttorch.nuclear_norm(x)),
                                   np.linalg.svd(xx.astype(np.float64), compute_uv=False).sum(-1), rtol=1e-5)
        assert ttorch.nuclear_norm(x[0], True).shape == (1, 1)
    np.testing.assert_allclose(_np(ttorch.native_norm(x)), np.sqrt((xx ** 2).sum()), rtol=1e-6)


def test_embedding_bag_and_convolution():
    W = ttorch.arange(12.0).reshape(4, 3)
    idx, off = ttorch.tensor([0, 2, 1, 3, 3]), ttorch.tensor([0, 2])
    out, o2b, size, maxi = ttorch.embedding_bag(W, idx, off, False, 2)
    np.testing.assert_array_equal(_np(out), [[6, 7, 8], [9, 10, 11]])
    assert o2b.tolist() == [0, 0, 1, 1, 1] and size.tolist() == [2, 3] and maxi.tolist() == [[2, 2, 2], [3, 3, 3]]
    out, o2b, size, maxi = ttorch.embedding_bag(W, idx, off, False, 1)
    np.testing.assert_array_equal(_np(out), [[3, 4, 5], [7, 8, 9]])
    assert maxi.tolist() == size.tolist() == [2, 3]
    out, o2b, size, _ = ttorch.embedding_bag(W, idx, off, False, 0)
    assert o2b.numel() == 0 and size.tolist() == [0, 0]
    np.testing.assert_array_equal(_np(out), [[6, 8, 10], [21, 24, 27]])
    x = ttorch.arange(6.0).reshape(1, 2, 3)
    y = ttorch.convolution(x, ttorch.ones(3, 2, 2), ttorch.ones(3), [1], [1], [1], False, [0], 1)
    np.testing.assert_array_equal(_np(y), [[[4, 9, 13, 8]] * 3])
    y = ttorch.convolution(x, ttorch.ones(2, 1, 2), None, [2], [0], [1], True, [1], 1)
    np.testing.assert_array_equal(_np(y), [[[3, 3, 5, 5, 7, 7, 0]]])


def test_global_switches():
    assert ttorch.set_flush_denormal(True) is False
    assert not ttorch.is_warn_always_enabled()
    ttorch.set_warn_always(True)
    assert ttorch.is_warn_always_enabled()
    ttorch.set_warn_always(False)


# ----------------------------------------------------------------------------- legacy typed classes
def test_legacy_tensor_types():
    assert ttorch.FloatTensor().shape == (0,)
    t = ttorch.FloatTensor(2, 3)
    assert type(t) is ttorch.Tensor and t.dtype is ttorch.float32 and t.shape == (2, 3)
    assert ttorch.LongTensor([1, 2]).tolist() == [1, 2] and ttorch.FloatTensor(ttorch.Size([2])).shape == (2,)
    assert ttorch.FloatTensor((2, 3)).tolist() == [2, 3]
    for cls, dt in [(ttorch.IntTensor, ttorch.int32), (ttorch.ShortTensor, ttorch.int16), (ttorch.CharTensor,
                    ttorch.int8), (ttorch.ByteTensor, ttorch.uint8), (ttorch.BoolTensor, ttorch.bool),
                    (ttorch.HalfTensor, ttorch.float16), (ttorch.BFloat16Tensor, ttorch.bfloat16),
                    (ttorch.DoubleTensor, ttorch.float64)]:
        assert cls([1]).dtype is dt and isinstance(ttorch.ones(1, dtype=dt), cls)
        assert not isinstance(ttorch.ones(1, dtype=dt), ttorch.FloatTensor)
    one = ttorch.ones(2)
    assert ttorch.FloatTensor(one) is one
    with pytest.raises(TypeError):
        ttorch.FloatTensor(ttorch.ones(2, dtype=ttorch.int64))
    with pytest.raises(RuntimeError, match="legacy constructor expects device type: cpu but device type: cuda"):
        ttorch.FloatTensor(2, device="cuda")
    with pytest.raises(TypeError, match="data must be a sequence"):
        ttorch.FloatTensor(2.5)
    assert not issubclass(ttorch.FloatTensor, ttorch.Tensor) and not isinstance(3, ttorch.FloatTensor)
    assert not isinstance(one, ttorch.cuda.FloatTensor) and ttorch.cuda.FloatTensor.is_cuda
    assert repr(ttorch.FloatTensor) == "<class 'ttorch.FloatTensor'>"
    assert one.type(ttorch.DoubleTensor).dtype is ttorch.float64
    assert one.type("torch.DoubleTensor").dtype is ttorch.float64
    with pytest.raises(ValueError, match="invalid type: 'torch.Foo'"):
        one.type("torch.Foo")
    if ttorch.cuda.is_available():
        c = ttorch.cuda.FloatTensor(2)
        assert c.is_cuda and isinstance(c, ttorch.cuda.FloatTensor) and not isinstance(c, ttorch.FloatTensor)
        assert one.type(ttorch.cuda.DoubleTensor).device.type == "cuda"


def test_set_default_tensor_type():
    with pytest.warns(UserWarning, match="set_default_tensor_type\\(\\) is deprecated"):
        ttorch.set_default_tensor_type(ttorch.DoubleTensor)
    try:
        assert ttorch.get_default_dtype() is ttorch.float64 and ttorch.tensor(1.0).dtype is ttorch.float64
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ttorch.set_default_tensor_type("torch.FloatTensor")
            assert ttorch.get_default_dtype() is ttorch.float32
            with pytest.raises(TypeError, match="only floating-point types are supported as the default type"):
                ttorch.set_default_tensor_type(ttorch.LongTensor)
            with pytest.raises(TypeError, match="invalid type object"):
                ttorch.set_default_tensor_type(ttorch.float64)
    finally:
        ttorch.set_default_dtype(ttorch.float32)
