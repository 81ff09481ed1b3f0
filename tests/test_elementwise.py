"""Elementwise ops: the PyTorch semantics the generated tests (test_ops.py) can't express --
type promotion, rounding modes and signs, NaN propagation, pow's edge cases, subgradients at
kinks, in-place forms, error messages -- and property tests of cpu against the simulated cuda
device over shapes, strides and broadcasting. Expected values come from PyTorch's documented
behaviour or from Python's ``math``, never from ttorch itself."""
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import ttorch
from ttorch import autograd

HAS_CUDA = ttorch.cuda.is_available()
F32_MAX = float(np.finfo(np.float32).max)


def T(data, device="cpu", dtype=None, **kw):
    return ttorch.tensor(data, dtype=dtype, device=device, **kw)


def vals(t):
    return t.detach().cpu().tolist()


def npy(t):
    return t.detach().cpu().numpy()


def same(t, expected, dtype=None):
    """``t`` holds exactly ``expected`` (NaN matches NaN) and, if given, has dtype ``dtype``."""
    if dtype is not None:
        assert t.dtype is dtype, f"dtype {t.dtype}, expected {dtype}"
    np.testing.assert_array_equal(np.asarray(vals(t), dtype=np.float64), np.asarray(expected, dtype=np.float64))


# ----------------------------------------------------------------------------- type promotion
PROMOTION = [
    ("int tensor * 2.5", lambda d: T([1, 2], d) * 2.5, ttorch.float32, [2.5, 5.0]),
    ("float16 + 1.0 stays float16", lambda d: T([1.0, 2.0], d, ttorch.float16) + 1.0, ttorch.float16, [2.0, 3.0]),
    ("uint8 + int8", lambda d: T([200], d, ttorch.uint8) + T([-1], d, ttorch.int8), ttorch.int16, [199]),
    ("bool + bool is or", lambda d: T([True, False, False], d) + T([True, True, False], d), ttorch.bool,
     [True, True, False]),
    ("bool * bool is and", lambda d: T([True, True], d) * T([True, False], d), ttorch.bool, [True, False]),
    ("int / int is true division", lambda d: T([7, -7], d) / T([2, 2], d), ttorch.float32, [3.5, -3.5]),
    ("int32 dims + int64 0-dim", lambda d: T([1, 2], d, ttorch.int32) + T(5, d), ttorch.int32, [6, 7]),
    ("int32 dims + float64 0-dim", lambda d: T([1, 2], d, ttorch.int32) + T(0.5, d, ttorch.float64),
     ttorch.float64, [1.5, 2.5]),
    ("float16 dims + float64 0-dim", lambda d: T([1.0], d, ttorch.float16) + T(1.0, d, ttorch.float64),
     ttorch.float16, [2.0]),
    ("0-dim int32 + 0-dim int64", lambda d: T(1, d, ttorch.int32) + T(1, d), ttorch.int64, 2),
    ("float16 + bfloat16", lambda d: T([1.0], d, ttorch.float16) + T([1.0], d, ttorch.bfloat16), ttorch.float32,
     [2.0]),
    ("int tensor + True", lambda d: T([1, 2], d) + True, ttorch.int64, [2, 3]),
    ("bool tensor + 1", lambda d: T([True], d) + 1, ttorch.int64, [2]),
    ("bool tensor + 1.5", lambda d: T([True], d) + 1.5, ttorch.float32, [2.5]),
    ("uint8 - 3 wraps", lambda d: T([1, 2], d, ttorch.uint8) - 3, ttorch.uint8, [254, 255]),
    ("2 - x", lambda d: 2 - T([1, 5], d), ttorch.int64, [1, -3]),
    ("2 ** int tensor", lambda d: 2 ** T([1, 3], d), ttorch.int64, [2, 8]),
    ("2.5 ** int tensor", lambda d: 2.0 ** T([1, 3], d), ttorch.float32, [2.0, 8.0]),
    ("int tensor ** 2", lambda d: T([2, -3], d) ** 2, ttorch.int64, [4, 9]),
    ("int tensor ** 0.5", lambda d: T([4, 9], d) ** 0.5, ttorch.float32, [2.0, 3.0]),
    ("float16 ** 2", lambda d: T([3.0], d, ttorch.float16) ** 2, ttorch.float16, [9.0]),
    ("exp of int", lambda d: ttorch.exp(T([0], d)), ttorch.float32, [1.0]),
    ("square of bool", lambda d: ttorch.square(T([True, False], d)), ttorch.int64, [1, 0]),
    ("atan2 of ints", lambda d: ttorch.atan2(T([0], d), T([1], d)), ttorch.float32, [0.0]),
    ("compare float with int", lambda d: T([1.0, 2.5], d) > 2, ttorch.bool, [False, True]),
]


@pytest.mark.parametrize("label,fn,dtype,expected", PROMOTION, ids=[p[0] for p in PROMOTION])
def test_promotion(label, fn, dtype, expected, device):
    r = fn(device)
    assert r.device.type == device
    same(r, expected, dtype)


def test_result_type_matches_ops(device):
    a = T([1, 2], device, ttorch.int32)
    for other in (2, 2.5, True, T(3, device), T([1.0], device, ttorch.float16)):
        assert (a * other).dtype is ttorch.result_type(a, other)


# ----------------------------------------------------------------------------- division, remainder
def test_rounding_modes_with_negatives(device):
    a, b = T([-7, 7, -7, 7, -6, 0], device), T([2, 2, -2, -2, 3, -5], device)
    same(ttorch.div(a, b, rounding_mode="trunc"), [-3, 3, 3, -3, -2, 0], ttorch.int64)
    same(ttorch.div(a, b, rounding_mode="floor"), [-4, 3, 3, -4, -2, 0], ttorch.int64)
    same(ttorch.floor_divide(a, b), [-4, 3, 3, -4, -2, 0], ttorch.int64)
    same(a // b, [-4, 3, 3, -4, -2, 0], ttorch.int64)
    same(ttorch.div(a, b), [-3.5, 3.5, 3.5, -3.5, -2.0, 0.0], ttorch.float32)
    fa, fb = a.double() + 0.5, b.double()
    same(ttorch.div(fa, fb, rounding_mode="trunc"), [-3, 3, 3, -3, -1, 0], ttorch.float64)
    same(ttorch.div(fa, fb, rounding_mode="floor"), [-4, 3, 3, -4, -2, -1], ttorch.float64)
    same(T([-7, 7], device) // 2.0, [-4.0, 3.0], ttorch.float32)
    same(7 // T([-2, 2], device), [-4, 3], ttorch.int64)
    with pytest.raises(RuntimeError, match="rounding_mode"):
        ttorch.div(a, b, rounding_mode="round")


def test_remainder_and_fmod_signs(device):
    a, b = T([-7, 7, -7, 7], device), T([2, 2, -2, -2], device)
    same(ttorch.remainder(a, b), [1, 1, -1, -1], ttorch.int64)   # sign of the divisor, as Python's %
    same(a % b, [1, 1, -1, -1])
    same(ttorch.fmod(a, b), [-1, 1, -1, 1], ttorch.int64)        # sign of the dividend, as C's fmod
    fa = T([-7.5, 7.5, -7.5, 7.5], device)
    same(ttorch.remainder(fa, b), [0.5, 1.5, -1.5, -0.5], ttorch.float32)
    same(ttorch.fmod(fa, b), [-1.5, 1.5, -1.5, 1.5], ttorch.float32)
    same(T([-1], device) % 3, [2])
    same(-1 % T([3], device), [2])
    big = T([1e17], device, ttorch.float64)  # fmod is exact even when the quotient is huge
    same(ttorch.fmod(big, 3.0), [math.fmod(1e17, 3.0)])
    same(ttorch.remainder(big, -3.0), [1e17 % -3.0])


@pytest.mark.parametrize("op", ["trunc", "floor", "floor_divide", "remainder", "fmod"])
def test_integer_division_by_zero(op):
    a, b = T([5, 6]), T([1, 0])
    f = {"trunc": lambda: ttorch.div(a, b, rounding_mode="trunc"),
         "floor": lambda: ttorch.div(a, b, rounding_mode="floor"), "floor_divide": lambda: a // b,
         "remainder": lambda: a % b, "fmod": lambda: ttorch.fmod(a, b)}[op]
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):  # PyTorch's cpu kernels raise
        f()
    if HAS_CUDA:  # a kernel can't raise: cuda returns an unspecified quotient, as PyTorch's does
        a, b = a.cuda(), b.cuda()
        r = f()
        assert r.device.type == "cuda" and r.dtype is ttorch.int64 and vals(r)[0] == (5 if op in (
            "trunc", "floor", "floor_divide") else 0)


def test_true_division_by_zero(device):
    same(T([1, -1, 0], device) / T([0, 0, 0], device), [math.inf, -math.inf, math.nan], ttorch.float32)
    same(T([1.0, -1.0], device) // 0.0, [math.inf, -math.inf])


# ----------------------------------------------------------------------------- NaN, pow, special values
def test_maximum_minimum_propagate_nan(device):
    a, b = T([math.nan, 1.0, 2.0, -math.inf], device), T([0.0, math.nan, 3.0, 1.0], device)
    same(ttorch.maximum(a, b), [math.nan, math.nan, 3.0, 1.0])
    same(ttorch.minimum(a, b), [math.nan, math.nan, 2.0, -math.inf])
    same(ttorch.clamp(T([math.nan, 5.0], device), 0, 1), [math.nan, 1.0])
    same(ttorch.relu(T([math.nan, -1.0], device)), [math.nan, 0.0])
    same(ttorch.hardtanh(T([math.nan, 3.0], device)), [math.nan, 1.0])
    same(ttorch.maximum(T([1, 5], device), T([3, 2], device)), [3, 5], ttorch.int64)


def test_pow_edge_cases(device):
    base, exp = T([2, -1, -1, 1, 0, 3, -2], device), T([-1, -3, -2, -5, 0, 0, 3], device)
    same(base ** exp, [0, -1, 1, 1, 1, 1, -8], ttorch.int64)   # PyTorch's integer powi
    same(T([3], device, ttorch.int32) ** T([20], device, ttorch.int32), [(3 ** 20 + 2 ** 31) % 2 ** 32 - 2 ** 31])
    with pytest.raises(RuntimeError, match="Integers to negative integer powers are not allowed"):
        T([2], device) ** -1
    same(T([2.0], device) ** -1, [0.5])
    same(T([0.0, 0.0, -8.0, 4.0], device) ** T([0.0, -1.0, 1 / 3, 0.5], device), [1.0, math.inf, math.nan, 2.0])
    same(ttorch.pow(2, T([0.5, -1.0], device, ttorch.float64)), [math.sqrt(2), 0.5])


def test_nan_to_num(device):
    x = [math.nan, math.inf, -math.inf, 1.5]
    same(ttorch.nan_to_num(T(x, device)), [0.0, F32_MAX, -F32_MAX, 1.5], ttorch.float32)
    same(ttorch.nan_to_num(T(x, device, ttorch.float16)), [0.0, 65504.0, -65504.0, 1.5], ttorch.float16)
    d = ttorch.nan_to_num(T(x, device, ttorch.float64), nan=0.1, neginf=-2.0)
    same(d, [0.1, np.finfo(np.float64).max, -2.0, 1.5], ttorch.float64)   # float64 values stay exact
    same(ttorch.nan_to_num(T([1, 2], device)), [1, 2], ttorch.int64)
    y = T(x, device)
    assert y.nan_to_num_(posinf=9.0) is y
    same(y, [0.0, 9.0, -F32_MAX, 1.5])


def test_rounding(device):
    same(ttorch.round(T([0.5, 1.5, 2.5, -0.5, -2.5, 0.49999997], device)), [0, 2, 2, 0, -2, 0])  # half to even
    x = T([1.2345, 0.125, -0.375, 1234.5], device, ttorch.float64)
    same(ttorch.round(x, decimals=2), [1.23, 0.12, -0.38, 1234.5])
    same(x.round(decimals=-1), [0.0, 0.0, -0.0, 1230.0])
    same(ttorch.round(T([15.0, 25.0], device), decimals=-1), [20.0, 20.0])
    same(ttorch.round(T([3, -2], device)), [3, -2], ttorch.int64)         # integers unchanged
    same(ttorch.floor(T([7], device, ttorch.int32)), [7], ttorch.int32)
    v = T([-2.5, -0.5, 0.5, 2.7], device)
    same(ttorch.floor(v), [-3, -1, 0, 2])
    same(ttorch.ceil(v), [-2, -0.0, 1, 3])
    same(ttorch.trunc(v), [-2, -0.0, 0, 2])
    np.testing.assert_allclose(vals(ttorch.frac(v)), [-0.5, -0.5, 0.5, 0.7], rtol=1e-6)
    same(ttorch.sign(T([-3.0, 0.0, 2.0, math.nan], device)), [-1, 0, 1, 0])   # sign(NaN) is 0, as PyTorch's


def test_predicates(device):
    x = T([math.nan, math.inf, -math.inf, 0.0, -1.0], device)
    same(ttorch.isnan(x), [1, 0, 0, 0, 0], ttorch.bool)
    same(ttorch.isinf(x), [0, 1, 1, 0, 0], ttorch.bool)
    same(ttorch.isfinite(x), [0, 0, 0, 1, 1], ttorch.bool)
    same(ttorch.logical_not(x), [0, 0, 0, 1, 0], ttorch.bool)
    same(ttorch.isfinite(T([3], device)), [1], ttorch.bool)
    same(ttorch.isinf(T([3], device)), [0], ttorch.bool)


# ----------------------------------------------------------------------------- activations against math
_X = [-3.5, -1.0, -0.25, 0.0, 0.3, 1.0, 2.5, 21.0]


def _phi(x):
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


ACTIVATIONS = [
    ("gelu", lambda t: ttorch.gelu(t), lambda x: x * _phi(x)),
    ("gelu tanh", lambda t: ttorch.gelu(t, approximate="tanh"),
     lambda x: 0.5 * x * (1 + math.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))),
    ("silu", ttorch.silu, lambda x: x / (1 + math.exp(-x))),
    ("mish", ttorch.mish, lambda x: x * math.tanh(math.log1p(math.exp(x)))),
    ("selu", ttorch.selu, lambda x: 1.0507009873554805 * (x if x > 0 else 1.6732632423543772 * math.expm1(x))),
    ("elu", lambda t: ttorch.elu(t, 0.5), lambda x: x if x > 0 else 0.5 * math.expm1(x)),
    ("leaky_relu", lambda t: ttorch.leaky_relu(t, 0.1), lambda x: x if x > 0 else 0.1 * x),
    ("softplus", ttorch.softplus, lambda x: x if x > 20 else math.log1p(math.exp(x))),
    ("softplus beta", lambda t: ttorch.softplus(t, beta=2, threshold=3),
     lambda x: x if 2 * x > 3 else math.log1p(math.exp(2 * x)) / 2),
    ("logsigmoid", ttorch.logsigmoid, lambda x: -math.log1p(math.exp(-x))),
    ("sigmoid", ttorch.sigmoid, lambda x: 1 / (1 + math.exp(-x))),
    ("hardswish", ttorch.hardswish, lambda x: x * min(max(x + 3, 0), 6) / 6),
    ("hardtanh", lambda t: ttorch.hardtanh(t, -0.5, 2.0), lambda x: min(max(x, -0.5), 2.0)),
    ("relu6", ttorch.relu6, lambda x: min(max(x, 0.0), 6.0)),
    ("erf", ttorch.erf, math.erf), ("erfc", ttorch.erfc, math.erfc),
    ("expm1", ttorch.expm1, math.expm1), ("log1p", lambda t: ttorch.log1p(t.abs()), lambda x: math.log1p(abs(x))),
    ("exp2", ttorch.exp2, lambda x: 2.0 ** x), ("rsqrt", lambda t: ttorch.rsqrt(t.abs() + 1),
                                                 lambda x: 1 / math.sqrt(abs(x) + 1)),
    ("atan", ttorch.atan, math.atan), ("asinh", ttorch.asinh, math.asinh), ("cosh", ttorch.cosh, math.cosh),
]


@pytest.mark.parametrize("dtype", [ttorch.float64, ttorch.float32])
@pytest.mark.parametrize("name,fn,ref", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_values(name, fn, ref, dtype, device):
    got = vals(fn(T(_X, device, dtype)))
    rtol, atol = (1e-13, 1e-300) if dtype is ttorch.float64 else (2e-6, 1e-6)
    np.testing.assert_allclose(got, [ref(x) for x in _X], rtol=rtol, atol=atol)


def test_activation_errors():
    with pytest.raises(RuntimeError, match="not implemented for 'Long'"):
        ttorch.gelu(T([1, 2]))
    with pytest.raises(RuntimeError, match="approximate argument must be either none or tanh"):
        ttorch.gelu(T([1.0]), approximate="fast")
    with pytest.raises(RuntimeError, match="unsigned type with negative limits"):
        ttorch.hardtanh(T([1], dtype=ttorch.uint8))
    with pytest.raises(RuntimeError, match="Negation, the `-` operator, on a bool tensor"):
        -T([True])
    with pytest.raises(TypeError, match="unexpected keyword argument 'slope'"):
        ttorch.leaky_relu(T([1.0]), slope=0.2)
    same(ttorch.hardtanh(T([-5, 0, 5]), -1.7, 2.9), [-1, 0, 2], ttorch.int64)  # integer bounds truncate
    same(ttorch.relu(T([-2, 3])), [0, 3], ttorch.int64)


# ----------------------------------------------------------------------------- subgradients
def _grad(fn, x, device, **kw):
    t = T(x, device, ttorch.float64, requires_grad=True)
    fn(t, **kw).sum().backward()
    return vals(t.grad)


def test_subgradients_at_kinks(device):
    assert _grad(ttorch.relu, [0.0, -1.0, 2.0], device) == [0.0, 0.0, 1.0]
    assert _grad(ttorch.abs, [0.0, -1.0, 2.0], device) == [0.0, -1.0, 1.0]
    assert _grad(ttorch.hardtanh, [-1.0, 1.0, 0.5, 2.0], device) == [0.0, 0.0, 1.0, 0.0]  # bounds excluded
    assert _grad(ttorch.relu6, [0.0, 6.0, 3.0], device) == [0.0, 0.0, 1.0]
    assert _grad(lambda t: ttorch.leaky_relu(t, 0.2), [0.0, 1.0], device) == [0.2, 1.0]
    assert _grad(lambda t: ttorch.elu(t, 0.5), [0.0, 1.0], device) == [0.5, 1.0]
    assert _grad(ttorch.hardswish, [-3.0, 3.0, -4.0, 4.0], device) == [-0.5, 1.5, 0.0, 1.0]
    assert _grad(lambda t: ttorch.clamp(t, 0, 1), [0.0, 1.0, 0.5, 2.0, -1.0], device) == [1, 1, 1, 0, 0]
    assert _grad(lambda t: ttorch.clamp(t, min=0), [0.0, -1.0], device) == [1, 0]
    assert _grad(lambda t: ttorch.clamp(t, max=0), [0.0, 1.0], device) == [1, 0]
    assert _grad(ttorch.sign, [0.0, 2.0], device) == [0.0, 0.0]
    assert _grad(ttorch.floor, [1.5], device) == [0.0]
    assert _grad(lambda t: ttorch.nan_to_num(t), [math.nan, math.inf, 2.0], device) == [0.0, 0.0, 1.0]
    a = T([1.0, 2.0, 3.0], device, ttorch.float64, requires_grad=True)
    b = T([1.0, 5.0, 0.0], device, ttorch.float64, requires_grad=True)
    ttorch.maximum(a, b).sum().backward()          # a tie shares the gradient
    assert vals(a.grad) == [0.5, 0.0, 1.0] and vals(b.grad) == [0.5, 1.0, 0.0]


def test_clamp_tensor_bound_gradients(device):
    x = T([0.0, 2.0, 5.0, 1.0], device, ttorch.float64, requires_grad=True)
    lo = T([1.0, 1.0, 1.0, 3.0], device, ttorch.float64, requires_grad=True)
    hi = T([4.0, 4.0, 4.0, 2.0], device, ttorch.float64, requires_grad=True)   # last: min > max
    r = ttorch.clamp(x, lo, hi)
    same(r, [1.0, 2.0, 4.0, 2.0])
    r.sum().backward()
    assert vals(x.grad) == [0, 1, 0, 0] and vals(lo.grad) == [1, 0, 0, 0] and vals(hi.grad) == [0, 0, 1, 1]


def test_pow_gradients_at_zero(device):
    assert _grad(lambda t: t ** 2, [0.0, 3.0], device) == [0.0, 6.0]
    assert _grad(lambda t: t ** 0.0, [0.0], device) == [0.0]                # not 0 * inf
    e = T([2.0, 0.0], device, ttorch.float64, requires_grad=True)
    (T([0.0, 0.0], device, ttorch.float64) ** e).sum().backward()           # d/de 0**e is 0 for e >= 0
    assert vals(e.grad) == [0.0, 0.0]
    e = T([3.0], device, ttorch.float64, requires_grad=True)
    (2 ** e).sum().backward()
    np.testing.assert_allclose(vals(e.grad), [8 * math.log(2)])


def test_double_backward(device):
    x = T([0.3, -1.2], device, ttorch.float64, requires_grad=True)
    g, = autograd.grad(ttorch.sin(x).sum(), x, create_graph=True)
    g2, = autograd.grad(g.sum(), x)
    np.testing.assert_allclose(vals(g2), [-math.sin(0.3), -math.sin(-1.2)])
    g, = autograd.grad(ttorch.gelu(x).sum(), x, create_graph=True)
    g2, = autograd.grad(g.sum(), x)
    np.testing.assert_allclose(vals(g2), [(2 - v * v) * math.exp(-v * v / 2) / math.sqrt(2 * math.pi) for v in
                                          (0.3, -1.2)])


# ----------------------------------------------------------------------------- bitwise, logical, compare
def test_bitwise_and_shifts(device):
    same(T([True, False], device) & T([True, True], device), [True, False], ttorch.bool)
    same(T([True, False], device) ^ True, [False, True], ttorch.bool)
    same(~T([True, False], device), [False, True], ttorch.bool)
    same(~T([0, 5], device), [-1, -6], ttorch.int64)
    same(T([12], device) | 3, [15])
    same(T([1, -8], device, ttorch.int32) << 2, [4, -32], ttorch.int32)
    same(T([1, -8], device, ttorch.int32) >> 1, [0, -4])
    same(T([1, -8], device, ttorch.int32) << T([32, 40], device, ttorch.int32), [0, 0])   # too far: 0
    same(T([8, -8], device, ttorch.int32) >> T([33, 40], device, ttorch.int32), [0, -1])  # sign fill
    same(T([200], device, ttorch.uint8) >> T([9], device, ttorch.uint8), [0])
    with pytest.raises(RuntimeError, match="not implemented for 'Float'"):
        T([1.0], device) & T([1.0], device)


def test_logical_and_comparisons(device):
    same(ttorch.logical_and(T([0.0, 2.0, 3.0], device), T([1.0, 1.0, 0.0], device)), [0, 1, 0], ttorch.bool)
    same(ttorch.logical_or(T([0, 0], device), T([0.0, 0.5], device)), [0, 1], ttorch.bool)
    same(ttorch.logical_xor(T([True, True], device), T([1, 0], device)), [0, 1], ttorch.bool)
    x = T([1, 2, 3], device)
    same(x > 1.5, [0, 1, 1], ttorch.bool)
    same(ttorch.greater_equal(x, 2), [0, 1, 1])
    same(ttorch.less(x, 2), [1, 0, 0])
    same(ttorch.not_equal(x, T([1, 0, 3], device)), [0, 1, 0])
    same(x.eq_(2), [0, 1, 0], ttorch.int64)   # in-place comparison keeps self's dtype


# ----------------------------------------------------------------------------- where, clamp, lerp, addc*
def test_where(device):
    c = T([True, False, True], device)
    same(ttorch.where(c, 1.0, 0), [1.0, 0.0, 1.0], ttorch.float32)
    same(ttorch.where(c, 1, 0), [1, 0, 1], ttorch.int64)
    same(ttorch.where(c, T([1, 2, 3], device, ttorch.int32), 7), [1, 7, 3], ttorch.int32)
    same(ttorch.where(c, T([1, 2, 3], device), 2.5), [1.0, 2.5, 3.0], ttorch.float32)
    same(ttorch.where(T([[True], [False]], device), T([1.0, 2.0, 3.0], device), T([[9.0], [8.0]], device)),
         [[1.0, 2.0, 3.0], [8.0, 8.0, 8.0]])
    same(T([1.0, 2.0, 3.0], device).where(c, T(0.0, device)), [1.0, 0.0, 3.0])
    with pytest.raises(RuntimeError, match="where expected condition to be a boolean tensor, but got a tensor "
                                           "with dtype Float"):
        ttorch.where(T([1.0], device), 1.0, 0.0)
    with pytest.raises(RuntimeError, match=r"where.*\[2\].*\[3\]"):
        ttorch.where(T([True, False], device), T([1.0, 2.0, 3.0], device), 0.0)
    a = T([1.0, 2.0, 3.0], device, requires_grad=True)
    b = T([4.0], device, requires_grad=True)
    ttorch.where(c, a, b).sum().backward()
    assert vals(a.grad) == [1.0, 0.0, 1.0] and vals(b.grad) == [1.0]


def test_clamp_semantics(device):
    same(ttorch.clamp(T([0, 2, 3], device), min=0.5), [0.5, 2.0, 3.0], ttorch.float32)  # promotes
    same(ttorch.clamp(T([0, 2, 3], device), 1, 2), [1, 2, 2], ttorch.int64)
    same(ttorch.clamp(T([-1.0, 0.5, 3.0], device), 1.0, 0.0), [0.0, 0.0, 0.0])            # min > max: max
    same(ttorch.clip(T([[-1.0, 5.0]], device), T([0.0, 1.0], device), T([[2.0], ]).to(device)), [[0.0, 2.0]])
    same(ttorch.clamp_min(T([-1.0, 1.0], device), 0.0), [0.0, 1.0])
    same(T([-1.0, 1.0], device).clamp_max(0.0), [-1.0, 0.0])
    with pytest.raises(RuntimeError, match="At least one of 'min' or 'max' must not be None"):
        ttorch.clamp(T([1.0], device))


def test_lerp_addcmul_addcdiv(device):
    same(ttorch.lerp(T([0.0, 10.0], device), T([10.0, 20.0], device), 0.5), [5.0, 15.0])
    same(ttorch.lerp(T([1e8], device), T([1.0], device), 1.0), [1.0])        # exact at weight 1
    w = T([0.0, 1.0], device, requires_grad=True)
    s = T([1.0, 2.0], device, requires_grad=True)
    ttorch.lerp(s, T([5.0, 7.0], device), w).sum().backward()
    assert vals(w.grad) == [4.0, 5.0] and vals(s.grad) == [1.0, 0.0]
    with pytest.raises(RuntimeError, match="expected dtype float for `end` but got dtype double"):
        ttorch.lerp(T([1.0], device), T([1.0], device, ttorch.float64), 0.5)
    same(ttorch.addcmul(T([1.0], device), T([2.0], device), T([3.0], device), value=0.5), [4.0])
    same(ttorch.addcmul(T([1], device), T([2], device), T([3], device), value=2), [13], ttorch.int64)
    same(ttorch.addcdiv(T([1.0], device), T([3.0], device), T([2.0], device), value=2), [4.0])
    with pytest.raises(RuntimeError, match="Integer division with addcdiv is no longer supported"):
        ttorch.addcdiv(T([1], device), T([3], device), T([2], device))
    x = T([1.0, 2.0], device, ttorch.float64)     # float64 scalars reach the kernel exactly
    np.testing.assert_array_equal(vals(x.addcmul(x, x, value=0.1)), [1.0 + 0.1 * 1.0, 2.0 + 0.1 * 4.0])
    np.testing.assert_array_equal(vals(x * 0.1 + ttorch.add(x, x, alpha=0.1)), [0.1 + 1.1, 0.2 + 2.2])


# ----------------------------------------------------------------------------- in-place forms
def test_inplace_ops(device):
    x = T([1.0, 2.0], device)
    v0 = x._version
    assert x.add_(T([1.0, 1.0], device)) is x and x._version > v0
    same(x, [2.0, 3.0])
    v1 = x._version
    x.mul_(2)
    same(x, [4.0, 6.0])
    assert x._version > v1
    x.clamp_(0, 5)
    same(x, [4.0, 5.0])
    ref = x
    x += T([1.0, 1.0], device)
    assert x is ref
    x -= 1
    x /= 2
    x **= 2
    same(x, [4.0, 6.25])
    x.sub_(T([1.0], device), alpha=2).exp_().log_()
    same(x, [2.0, 4.25])
    base = T([1.0, 2.0, 3.0, 4.0], device)
    view = base.narrow(0, 1, 2)
    view.add_(10)
    same(base, [1.0, 12.0, 13.0, 4.0])
    assert base._version == view._version
    i = T([1, 2], device)
    i += 1
    i //= 2
    same(i, [1, 1], ttorch.int64)
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long"):
        i.add_(1.5)
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        T([1.0, 2.0], device).add_(T([[1.0], [2.0]], device))


def test_inplace_ternary_ops_write_self(device):
    # clamp_, lerp_, addcmul_, addcdiv_ and out= on cuda write their result into the tensor itself (one
    # kernel, no copy back): against NumPy, with broadcast, aliased and scalar operands
    r = np.random.default_rng(7)
    a, b, c = (r.uniform(0.5, 2, size=s).astype(np.float32) for s in ((3, 5), (3, 5), (5,)))
    cases = [
        ("clamp_", lambda x: x.clamp_(0.8, 1.5), np.clip(a, 0.8, 1.5)),
        ("clamp_ tensor bounds", lambda x: x.clamp_(T(c, device) * 0, T(c, device)), np.minimum(np.maximum(a, 0), c)),
        ("clamp_ max only", lambda x: x.clamp_(max=1.1), np.minimum(a, 1.1)),
        ("lerp_ broadcast", lambda x: x.lerp_(T(c, device), 0.25), a + 0.25 * (c - a)),
        ("lerp_ of itself", lambda x: x.lerp_(x * 2, 0.75), a * 2 - a * 0.25),
        ("addcmul_", lambda x: x.addcmul_(T(b, device), T(c, device), value=0.5), a + 0.5 * b * c),
        ("addcdiv_", lambda x: x.addcdiv_(T(b, device), T(c, device), value=-2), a - 2 * b / c),
        ("clamp out=", lambda x: ttorch.clamp(T(b, device), 0.9, 1.2, out=x), np.clip(b, 0.9, 1.2)),
    ]
    for name, f, want in cases:
        x = T(a, device)
        v = x._version
        assert f(x) is x and x._version > v, name
        np.testing.assert_allclose(x.cpu().numpy(), want, rtol=1e-6, atol=1e-6, err_msg=name)
    i = T([1, 7], device)
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long"):
        i.clamp_(0.5, 3.5)
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        T([1.0, 2.0], device).lerp_(T([[1.0], [2.0]], device), 0.5)


def test_inplace_autograd(device):
    w = T([1.0, 2.0], device, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
        w.add_(1)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        w.clamp_(0, 1)
    with ttorch.no_grad():
        w.mul_(2)
    same(w, [2.0, 4.0])
    b = w * 1
    b.mul_(3)
    b.sum().backward()
    assert vals(w.grad) == [3.0, 3.0]
    y = w * 1
    z = y.sin()             # saves y
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


# ----------------------------------------------------------------------------- error messages
def test_broadcast_error_names_op_and_shapes(device):
    with pytest.raises(RuntimeError, match=r"add: The size of tensor a \(3\) must match the size of tensor b "
                                           r"\(4\) at non-singleton dimension 1; shapes \[2, 3\], \[4\]"):
        ttorch.add(ttorch.ones(2, 3, device=device), ttorch.ones(4, device=device))
    with pytest.raises(RuntimeError, match=r"mul.*\[5\], \[2, 3\]"):
        ttorch.ones(5, device=device) * ttorch.ones(2, 3, device=device)
    with pytest.raises(RuntimeError, match=r"clamp.*\[3\]"):
        ttorch.clamp(ttorch.ones(3, device=device), ttorch.ones(2, device=device), ttorch.ones(1, device=device))


def test_alpha_checks():
    with pytest.raises(RuntimeError, match="For integral input tensors, argument alpha must not be a floating"):
        ttorch.add(T([1]), T([2]), alpha=0.5)
    with pytest.raises(RuntimeError, match="Boolean alpha only supported for Boolean results"):
        ttorch.add(T([1.0]), T([2.0]), alpha=True)
    with pytest.raises(RuntimeError, match="Subtraction, the `-` operator, with two bool tensors"):
        T([True]) - T([False])
    same(ttorch.sub(T([10]), T([3]), alpha=2), [4])


@pytest.mark.skipif(not HAS_CUDA, reason="needs the cuda device")
def test_device_mismatch():
    a, b = ttorch.ones(2), ttorch.ones(2, device="cuda")
    for f in (lambda: a + b, lambda: ttorch.maximum(b, a), lambda: ttorch.where(b > 0, a, b),
              lambda: ttorch.lerp(b, a, 0.5)):
        with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
            f()
    r = b + T(2.0)           # a 0-dim cpu tensor may join a cuda op, as in PyTorch
    assert r.device.type == "cuda" and vals(r) == [3.0, 3.0]


# ----------------------------------------------------------------------------- properties: cpu vs cuda
@st.composite
def _operands(draw, n=2):
    """Broadcastable shapes (with 0 and 1 sizes), values, and a layout per operand."""
    out = draw(st.lists(st.integers(0, 4), min_size=0, max_size=3))
    ops = []
    for _ in range(n):
        keep = draw(st.integers(0, len(out)))
        shape = [s if draw(st.booleans()) else 1 for s in out[len(out) - keep:]]
        layout = draw(st.sampled_from(["contig", "transposed", "strided"]))
        seed = draw(st.integers(0, 2 ** 16))
        ops.append((tuple(shape), layout, np.random.default_rng(seed).uniform(-3, 3, size=shape)))
    return ops


def _make(a, layout, device, dtype=ttorch.float32):
    if layout == "transposed" and a.ndim >= 2:
        return T(np.ascontiguousarray(np.swapaxes(a, -1, -2)), device, dtype).transpose(-1, -2)
    if layout == "strided" and a.ndim >= 1:
        big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],))
        big[..., ::2] = a
        t = T(big, device, dtype)
        return t.as_strided(a.shape, t.stride()[:-1] + (2,))
    return T(a, device, dtype)


BINARY = {"add": lambda a, b: a + b, "mul": lambda a, b: a * b, "div": lambda a, b: a / (b.abs() + 0.5),
          "maximum": ttorch.maximum, "remainder": lambda a, b: ttorch.remainder(a, b.abs() + 0.5),
          "atan2": ttorch.atan2, "pow": lambda a, b: a.abs() ** b, "gt": lambda a, b: a > b}
UNARY = {"exp": ttorch.exp, "sigmoid": ttorch.sigmoid, "gelu": ttorch.gelu, "floor": ttorch.floor,
         "neg": ttorch.neg, "tanh": ttorch.tanh}
_SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.skipif(not HAS_CUDA, reason="needs the cuda device")
@pytest.mark.parametrize("name", sorted(BINARY))
@_SETTINGS
@given(ops=_operands(2))
def test_binary_cpu_matches_cuda(name, ops):
    f = BINARY[name]
    (sa, la, a), (sb, lb, b) = ops
    c = f(_make(a, la, "cpu"), _make(b, lb, "cpu"))
    g = f(_make(a, la, "cuda"), _make(b, lb, "cuda"))
    assert g.device.type == "cuda" and g.dtype is c.dtype and g.shape == c.shape == np.broadcast_shapes(sa, sb)
    np.testing.assert_allclose(npy(g), npy(c), rtol=2e-6, atol=1e-6)
    if name == "add":  # and against NumPy, independently of both
        np.testing.assert_array_equal(npy(c), a.astype(np.float32) + b.astype(np.float32))


@pytest.mark.skipif(not HAS_CUDA, reason="needs the cuda device")
@pytest.mark.parametrize("name", sorted(UNARY))
@_SETTINGS
@given(ops=_operands(1))
def test_unary_cpu_matches_cuda(name, ops):
    (sa, la, a), = ops
    c = UNARY[name](_make(a, la, "cpu"))
    out = _make(np.zeros(sa), la, "cuda")       # written through a strided out= as well
    g = UNARY[name](_make(a, la, "cuda"), out=out)
    assert g is out and g.shape == c.shape
    np.testing.assert_allclose(npy(g), npy(c), rtol=2e-6, atol=1e-7)


@pytest.mark.skipif(not HAS_CUDA, reason="needs the cuda device")
@_SETTINGS
@given(ops=_operands(3))
def test_where_and_clamp_cpu_matches_cuda(ops):
    (sc, lc, c), (sx, lx, x), (sy, ly, y) = ops
    for dev_results in [[]]:
        for dev in ("cpu", "cuda"):
            cond = _make(c, lc, dev) > 0
            dev_results.append((ttorch.where(cond, _make(x, lx, dev), _make(y, ly, dev)),
                                ttorch.clamp(_make(x, lx, dev), _make(c, lc, dev), _make(y, ly, dev))))
        (w0, k0), (w1, k1) = dev_results
        assert w1.shape == w0.shape == np.broadcast_shapes(sc, sx, sy)
        np.testing.assert_array_equal(npy(w1), npy(w0))
        np.testing.assert_array_equal(npy(k1), npy(k0))


@pytest.mark.parametrize("dev", ["cpu"] + (["cuda"] if ttorch.cuda.is_available() else []))
def test_relu_backward_special_values(dev):
    """PyTorch's threshold_backward: a NaN input passes its gradient, a clamped one gets 0 even
    for an infinite or NaN gradient."""
    x = ttorch.tensor([float("nan"), -1.0, 0.0, 2.0, -3.0, 5.0], device=dev, requires_grad=True)
    ttorch.relu(x).backward(ttorch.tensor([1.0, 2.0, float("inf"), 4.0, float("nan"), float("-inf")], device=dev))
    np.testing.assert_array_equal(x.grad.cpu().numpy(), [1.0, 0.0, 0.0, 4.0, 0.0, -np.inf])


@pytest.mark.skipif(not HAS_CUDA, reason="needs the cuda device")
@pytest.mark.parametrize("shape, perm, tiled", [
    ((37, 45), (1, 0), True),                  # x.t().contiguous()
    ((3, 20, 33), (0, 2, 1), True),            # a batch of transposes: the batch on grid axis 1
    ((20, 3, 33), (2, 1, 0), True),            # the contiguous dim moves to the front, a middle dim between
    ((2, 3, 17, 19), (0, 1, 3, 2), True),      # attention's (B, H, N, E) -> (B, H, E, N): B and H merge
    ((17, 5), (1, 0), False),                  # a short transposed dim: the elementwise kernel
    ((40, 18, 2), (1, 0, 2), False),           # the contiguous dim stays last: the elementwise kernel
])
@pytest.mark.parametrize("dtype", ["float32", "float16", "int64", "bool"])
def test_transposing_copy_by_tiles(monkeypatch, shape, perm, tiled, dtype):
    """Copies that swap the contiguous dim run ``_transpose_kernel`` tile by tile (small tiles here,
    so the shapes cross their edges); the values match NumPy exactly, and so does a strided output."""
    from ttorch.ops import elementwise as E
    monkeypatch.setattr(E, "_T_BLOCK", 16)
    ran = []
    real = E._transpose
    monkeypatch.setattr(E, "_transpose", lambda d, s: ran.append(real(d, s)) or ran[-1])
    a = (np.random.default_rng(1).standard_normal(shape) * 3).astype(dtype)
    x = ttorch.tensor(a, device="cuda")
    ran.clear()
    y = x.permute(*perm).contiguous()
    assert ran == [tiled]
    np.testing.assert_array_equal(y.cpu().numpy(), a.transpose(perm))
    out = ttorch.zeros(y.shape[:-1] + (y.shape[-1] + 3,), dtype=x.dtype, device="cuda")
    ran.clear()
    out[..., :-3].copy_(x.permute(*perm))          # into rows with a gap after each
    assert ran == [tiled]
    np.testing.assert_array_equal(out[..., :-3].cpu().numpy(), a.transpose(perm))
    assert not out[..., -3:].cpu().numpy().any()
