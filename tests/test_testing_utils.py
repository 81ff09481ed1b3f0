"""ttorch.testing: assert_close's decisions and messages (texts checked by hand against PyTorch 2.13),
make_tensor's ranges per dtype, the deprecated assert_allclose."""
import re
import warnings

import numpy as np
import pytest

import ttorch
from ttorch.testing import assert_close, assert_allclose, make_tensor

T = ttorch.tensor


def _msg(*args, **kwargs):
    with pytest.raises(Exception) as info:
        assert_close(*args, **kwargs)
    return info.type, str(info.value)


def test_message_float32_matches_pytorch():
    typ, msg = _msg(T([1., 2., 3., 4.]), T([1., 2.1, 3., 4.]))
    assert typ is AssertionError
    assert msg == ("Tensor-likes are not close!\n\nMismatched elements: 1 / 4 (25.0%)\n"
                   "Greatest absolute difference: 0.09999990463256836 at index (1,) (up to 1e-05 allowed)\n"
                   "Greatest relative difference: 0.04761900380253792 at index (1,) (up to 1.3e-06 allowed)")


def test_message_integers_equal_and_2d_index():
    _, msg = _msg(T([[1, 2], [3, 4]]), T([[1, 2], [3, 5]]))
    assert msg == ("Tensor-likes are not equal!\n\nMismatched elements: 1 / 4 (25.0%)\n"
                   "Greatest absolute difference: 1 at index (1, 1)\n"
                   "Greatest relative difference: 0.20000000298023224 at index (1, 1)")
    _, msg = _msg(T([1, 2], dtype=ttorch.uint8), T([1, 200], dtype=ttorch.uint8))
    assert "Greatest absolute difference: 198 at index (1,)" in msg       # no uint8 wrap-around
    assert "Greatest relative difference: 0.9900000095367432" in msg


@pytest.mark.parametrize("dtype,b,abs_d,rel_d,rtol", [
    (ttorch.float16, 2.01, "0.009765625", "0.00485992431640625", "0.001"),
    (ttorch.bfloat16, 2.1, "0.09375", "0.044677734375", "0.016"),
    (ttorch.float64, 2.000001, "1.000000000139778e-06", "4.999997500700139e-07", "1e-07"),
])
def test_message_per_dtype(dtype, b, abs_d, rel_d, rtol):
    _, msg = _msg(T([1., 2.], dtype=dtype), T([1., b], dtype=dtype))
    atol = "1e-07" if dtype == ttorch.float64 else "1e-05"
    assert f"Greatest absolute difference: {abs_d} at index (1,) (up to {atol} allowed)" in msg
    assert f"Greatest relative difference: {rel_d} at index (1,) (up to {rtol} allowed)" in msg


@pytest.mark.parametrize("dtype,rtol,atol", [(ttorch.float16, 1e-3, 1e-5), (ttorch.bfloat16, 1.6e-2, 1e-5),
                                             (ttorch.float32, 1.3e-6, 1e-5), (ttorch.float64, 1e-7, 1e-7),
                                             (ttorch.complex64, 1.3e-6, 1e-5), (ttorch.complex128, 1e-7, 1e-7),
                                             (ttorch.int32, 0.0, 0.0), (ttorch.bool, 0.0, 0.0)])
def test_default_tolerances(dtype, rtol, atol):
    assert ttorch.testing.default_tolerances(dtype) == (rtol, atol)
    assert ttorch.testing.default_tolerances(ttorch.zeros(1, dtype=dtype)) == (rtol, atol)


def test_tolerance_boundary_float32_and_float64():
    # inside / outside atol + rtol * |expected| (values exact in both dtypes)
    assert_close(T([100., 200.]), T([100.0001, 200.]))
    with pytest.raises(AssertionError):
        assert_close(T([100., 200.]), T([100.001, 200.]))
    assert_close(T([1.0], dtype=ttorch.float64), T([1.0 + 1.5e-7], dtype=ttorch.float64))
    with pytest.raises(AssertionError):
        assert_close(T([1.0], dtype=ttorch.float64), T([1.0 + 3e-7], dtype=ttorch.float64))
    assert_close(T([1.0]), T([1.1]), rtol=0.2, atol=0.0)


def test_scalars_and_zero_dim():
    _, msg = _msg(T(1.), T(1.5))
    assert msg == ("Scalars are not close!\n\nExpected 1.5 but got 1.0.\nAbsolute difference: 0.5 (up to 1e-05 "
                   "allowed)\nRelative difference: 0.3333333333333333 (up to 1.3e-06 allowed)")
    _, msg = _msg(T(3), T(4))
    assert msg == "Scalars are not equal!\n\nExpected 4 but got 3.\nAbsolute difference: 1\nRelative difference: 0.25"
    _, msg = _msg(1.0, 1.1, rtol=0, atol=0)
    assert msg == ("Scalars are not equal!\n\nExpected 1.1 but got 1.0.\nAbsolute difference: 0.10000000000000009\n"
                   "Relative difference: 0.09090909090909098")
    assert_close(1.0, 1.0 + 1e-8)
    assert_close(2, 2.0, check_dtype=False)
    assert _msg(1, 2.0) == (AssertionError, "The (d)types do not match: <class 'int'> != <class 'float'>.")
    _, msg = _msg(np.float32(1.0), np.float32(1.5))
    assert "(up to 1e-07 allowed)" in msg        # NumPy scalars compare as Python floats (float64 tolerances)


def test_nan_inf_and_equal_nan():
    with pytest.raises(AssertionError):
        assert_close(float("nan"), float("nan"))
    assert_close(float("nan"), float("nan"), equal_nan=True)
    assert_close(T([float("inf"), 1.]), T([float("inf"), 1.]))
    _, msg = _msg(T([float("inf"), 1.]), T([float("-inf"), 1.]))
    assert "Greatest absolute difference: inf at index (0,)" in msg and "relative difference: nan at index (0,)" in msg
    _, msg = _msg(T([1., float("nan")]), T([1.1, float("nan")]))
    assert "Mismatched elements: 2 / 2 (100.0%)" in msg and "absolute difference: nan at index (1,)" in msg
    assert_close(T([1., float("nan")]), T([1., float("nan")]), equal_nan=True)


def test_containers_and_item_path():
    _, msg = _msg([T(1.), {"a": T([1., 2.])}], [T(1.), {"a": T([1., 3.])}])
    assert msg.endswith("\n\nThe failure occurred for item [1]['a']")
    assert "Greatest relative difference: 0.3333333432674408 at index (1,)" in msg
    assert _msg([1, 2], [1, 2, 3]) == (AssertionError, "The length of the sequences mismatch: 2 != 3")
    assert _msg({"a": 1}, {"b": 1}) == (AssertionError, "The keys of the mappings do not match:\nMissing keys in the "
                                                        "actual mapping: ['b']\nAdditional keys in the actual "
                                                        "mapping: ['a']")
    assert_close((T(1.),), [T(1.)])                    # any two sequences pair up
    assert_close({"b": 1, "a": T([1.])}, {"a": T([1.]), "b": 1})
    assert _msg(None, 1) == (AssertionError, "None mismatch: None is not 1")
    assert _msg(True, False) == (AssertionError, "Booleans mismatch: True is not False")
    assert_close(None, None)


def test_numpy_arrays():
    assert_close(np.array([1., 2.]), np.array([1., 2.]))
    _, msg = _msg(np.array([1., 2.]), np.array([1., 2.5]))
    assert "Greatest relative difference: 0.2 at index (1,) (up to 1e-07 allowed)" in msg


def test_type_errors_and_value_errors():
    typ, msg = _msg(T([1.]), [1.])
    assert typ is TypeError and msg == ("No comparison pair was able to handle inputs of type "
                                        "<class 'ttorch._tensor.Tensor'> and <class 'list'>.")
    assert _msg("a", "b")[0] is TypeError
    assert _msg(T([1.]), T([1.]), rtol=None, atol=1e-3) == (
        ValueError, "Both 'rtol' and 'atol' must be either specified or omitted, but got no rtol.")
    assert _msg(1, True)[0] is RuntimeError           # PyTorch's own failure for bool vs int


def test_attribute_checks(device):
    assert _msg(T([1.]), T([1., 2])) == (AssertionError, "The values for attribute 'shape' do not match: "
                                                         "ttorch.Size([1]) != ttorch.Size([2]).")
    assert _msg(T([1.]), T([1.], dtype=ttorch.float64)) == (
        AssertionError, "The values for attribute 'dtype' do not match: ttorch.float32 != ttorch.float64.")
    assert_close(T([1, 2], dtype=ttorch.int32), T([1, 2], dtype=ttorch.int64), check_dtype=False)
    _, msg = _msg(T([1, 2], dtype=ttorch.int32), T([1., 2.5]), check_dtype=False)
    assert "Greatest relative difference: 0.20000000298023224 at index (1,)" in msg
    assert _msg(ttorch.ones(2, 3).t(), ttorch.ones(3, 2), check_stride=True) == (
        AssertionError, "The values for attribute 'stride()' do not match: (1, 3) != (2, 1).")
    assert_close(ttorch.ones(2, 3).t(), ttorch.ones(3, 2))
    if device != "cpu":
        a, b = T([1., 2.]), T([1., 2.], device=device)
        assert _msg(a, b) == (AssertionError, "The values for attribute 'device' do not match: cpu != cuda:0.")
        assert_close(a, b, check_device=False)
        assert_close(b, T([1., 2.], device=device))
        _, msg = _msg(b, T([1., 2.5], device=device))
        assert "Greatest absolute difference: 0.5 at index (1,)" in msg


def test_complex():
    _, msg = _msg(T([1 + 1j, 2]), T([1 + 1j, 2.5]))
    assert "Greatest absolute difference: 0.5 at index (1,) (up to 1e-05 allowed)" in msg
    assert "Greatest relative difference: 0.20000000298023224 at index (1,) (up to 1.3e-06 allowed)" in msg
    assert_close(T([1 + 1j, 2]), T([1 + 1j, 2 + 1e-6j]))


def test_msg_string_and_callable():
    assert _msg(T([1.]), T([1.1]), msg="hey") == (AssertionError, "hey")
    assert _msg(T([1., 2.]), T([1., 3.]), msg=lambda m: "X" + m[:10]) == (AssertionError, "XTensor-lik")


def test_assert_allclose_deprecated():
    with pytest.warns(FutureWarning, match=re.escape("`torch.testing.assert_allclose()` is deprecated")):
        assert_allclose(T([1., float("nan")]), [1.00001, float("nan")])     # NaNs equal, looser float32 rtol
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        with pytest.raises(AssertionError, match=re.escape("(up to 0.0001 allowed)")):
            assert_allclose(T([1., 2.]), T([1., 2.001]))
        assert_allclose(T([1, 2], dtype=ttorch.int32), T([1., 2.]))          # dtypes not checked


_RANGES = [(ttorch.bool, 0, 1), (ttorch.uint8, 0, 9), (ttorch.int8, -9, 9), (ttorch.int16, -9, 9),
           (ttorch.int32, -9, 9), (ttorch.int64, -9, 9), (ttorch.float16, -9, 9), (ttorch.bfloat16, -9, 9),
           (ttorch.float32, -9, 9), (ttorch.float64, -9, 9), (ttorch.complex64, -9, 9)]


@pytest.mark.parametrize("dtype,lo,hi", _RANGES, ids=[str(d) for d, _, _ in _RANGES])
def test_make_tensor_default_ranges(dtype, lo, hi, device):
    t = make_tensor(7, 11, dtype=dtype, device=device)
    assert t.shape == (7, 11) and t.dtype == dtype and t.device.type == device and not t.requires_grad
    a = t.cpu().numpy()
    parts = [a.real, a.imag] if dtype.is_complex else [a.astype(np.float64)]
    for p in parts:
        assert p.min() >= lo and p.max() <= hi
        assert len(np.unique(p)) > 1                        # random, not constant
    if dtype in (ttorch.float32, ttorch.float64):
        assert a.max() < 9                                  # floats: [-9, 9), integers: [-9, 10)


def test_make_tensor_options(device):
    t = make_tensor((4, 5), dtype=ttorch.float32, device=device, noncontiguous=True, requires_grad=True)
    assert t.shape == (4, 5) and t.stride() == (10, 2) and not t.is_contiguous() and t.requires_grad
    assert t.is_leaf
    t = make_tensor(1, dtype=ttorch.float32, device=device, noncontiguous=True)   # one element: stays contiguous
    assert t.is_contiguous()
    t = make_tensor(50, dtype=ttorch.int8, device=device, low=-1, high=1, exclude_zero=True)
    assert set(np.unique(t.cpu().numpy())) <= {-1, 1}
    t = make_tensor(50, dtype=ttorch.uint8, device=device, low=-5, high=2)    # clamped to what uint8 holds
    assert t.cpu().numpy().min() >= 0 and t.cpu().numpy().max() < 2
    t = make_tensor(50, dtype=ttorch.float32, device=device, low=2.5, high=3.0)
    assert (t.cpu().numpy() >= 2.5).all() and (t.cpu().numpy() < 3.0).all()
    t = make_tensor(20, dtype=ttorch.float16, device=device, low=-1e6, high=1e6)   # clamped to finfo.max
    assert np.isfinite(t.cpu().numpy().astype(np.float64)).all()
    assert make_tensor([2, 3], dtype=ttorch.float32, device=device).shape == (2, 3)
    assert make_tensor(dtype=ttorch.float32, device=device).shape == ()


def test_make_tensor_errors():
    mt = make_tensor
    with pytest.raises(ValueError, match=re.escape("`low` must be less than `high`, but got 3 >= 2")):
        mt(3, dtype=ttorch.int8, device="cpu", low=3, high=2)
    with pytest.raises(ValueError, match=re.escape("`low` and `high` cannot be NaN, but got low=nan and high=10")):
        mt(3, dtype=ttorch.int8, device="cpu", low=float("nan"))
    with pytest.raises(ValueError, match=re.escape("is [1000, 2000), but ttorch.int8 only supports [-128, 128)")):
        mt(3, dtype=ttorch.int8, device="cpu", low=1000, high=2000)
    with pytest.raises(ValueError, match="`requires_grad=True` is not supported for boolean and integral dtypes"):
        mt(2, dtype=ttorch.int64, device="cpu", requires_grad=True)
    with pytest.raises(ValueError, match="mutually exclusive"):
        mt(2, dtype=ttorch.float32, device="cpu", noncontiguous=True, memory_format=1)
    with pytest.warns(FutureWarning, match="Passing `low==high`"):
        t = mt(3, dtype=ttorch.float32, device="cpu", low=5, high=5)
    np.testing.assert_array_equal(t.numpy(), np.full(3, 5, np.float32))
