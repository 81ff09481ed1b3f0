"""``assert_close``: PyTorch's comparison of tensors, NumPy arrays, numbers and their containers.

The inputs are split into pairs as PyTorch does (sequences by position, mappings by key), each
pair is checked (shape, device, dtype, stride, then values) and the first failure raises with
PyTorch's message. Values are compared on the host with NumPy in the pair's promoted dtype, so the
differences printed are the ones PyTorch prints (``float32`` arithmetic for ``float32`` tensors).
"""
import cmath
import collections.abc
import contextlib
import warnings

import numpy as np

from .._tensor import Tensor

__all__ = ["assert_close", "assert_allclose", "default_tolerances"]


def _dtype_precisions():
    import ttorch
    return {ttorch.float16: (0.001, 1e-5), ttorch.bfloat16: (0.016, 1e-5), ttorch.float32: (1.3e-6, 1e-5),
            ttorch.float64: (1e-7, 1e-7), ttorch.complex64: (1.3e-6, 1e-5), ttorch.complex128: (1e-7, 1e-7)}


class _ErrorMeta(Exception):
    """A failure found inside the comparison: its exception type, message and item path."""

    def __init__(self, type, msg, *, id=()):
        super().__init__(msg)
        self.type, self.msg, self.id = type, msg, id

    def to_error(self, msg=None):
        if not isinstance(msg, str):
            generated = self.msg
            if self.id:
                generated += f"\n\nThe failure occurred for item {''.join(str([item]) for item in self.id)}"
            msg = msg(generated) if callable(msg) else generated
        return self.type(msg)


class _Unsupported(Exception):
    """A pair type that cannot take the inputs: the next one is tried."""


def default_tolerances(*inputs, dtype_precisions=None):
    """The loosest ``(rtol, atol)`` of the inputs' dtypes (tensors or dtypes); ``(0, 0)`` for integers."""
    from .._dtype import dtype as _dtype
    dtypes = []
    for input in inputs:
        if isinstance(input, Tensor):
            dtypes.append(input.dtype)
        elif isinstance(input, _dtype):
            dtypes.append(input)
        else:
            raise TypeError(f"Expected a torch.Tensor or a torch.dtype, but got {type(input)} instead.")
    precisions = dtype_precisions or _dtype_precisions()
    rtols, atols = zip(*[precisions.get(d, (0.0, 0.0)) for d in dtypes])
    return max(rtols), max(atols)


def _get_tolerances(*inputs, rtol, atol, id=()):
    if (rtol is None) ^ (atol is None):
        raise _ErrorMeta(ValueError, f"Both 'rtol' and 'atol' must be either specified or omitted, "
                                     f"but got no {'rtol' if rtol is None else 'atol'}.", id=id)
    if rtol is not None:
        return rtol, atol
    return default_tolerances(*inputs)


def _mismatch_msg(*, identifier, extra, abs_diff, abs_diff_idx, atol, rel_diff, rel_diff_idx, rtol):
    equality = rtol == 0 and atol == 0

    def diff_msg(kind, diff, idx, tol):
        msg = f"{kind.title()} difference: {diff}" if idx is None else \
            f"Greatest {kind} difference: {diff} at index {idx}"
        return msg + ("" if equality else f" (up to {tol} allowed)") + "\n"

    msg = f"{identifier} are not {'equal' if equality else 'close'}!\n\n"
    if extra:
        msg += f"{extra.strip()}\n"
    msg += diff_msg("absolute", abs_diff, abs_diff_idx, atol)
    msg += diff_msg("relative", rel_diff, rel_diff_idx, rtol)
    return msg.strip()


def _scalar_mismatch_msg(actual, expected, *, rtol, atol, identifier="Scalars"):
    abs_diff = abs(actual - expected)
    rel_diff = float("inf") if expected == 0 else abs_diff / abs(expected)
    return _mismatch_msg(identifier=identifier, extra=f"Expected {expected} but got {actual}.", abs_diff=abs_diff,
                         abs_diff_idx=None, atol=atol, rel_diff=rel_diff, rel_diff_idx=None, rtol=rtol)


def _isclose(a, e, rtol, atol, equal_nan):
    """``torch.isclose`` on NumPy arrays of one dtype, in that dtype's arithmetic."""
    with np.errstate(invalid="ignore", over="ignore"):
        close = a == e
        if equal_nan and a.dtype.kind in "fcV":
            close |= np.isnan(a) & np.isnan(e)
        if a.dtype.kind == "b" or (rtol == 0 and atol == 0):
            return close
        if a.dtype.kind in "iu":
            a, e = a.astype(np.float64), e.astype(np.float64)
        diff = np.abs(a - e)
        allowed = atol + np.abs(rtol * e)
        return close | (np.isfinite(diff) & (diff <= allowed))


def _tensor_mismatch_msg(a, e, matches, *, rtol, atol, float_dtype):
    n = matches.size
    total = n - int(matches.sum())
    extra = f"Mismatched elements: {total} / {n} ({total / n:.1%})"
    af, ef, mf = a.reshape(-1), e.reshape(-1), matches.reshape(-1)
    if a.dtype.kind in "biu":
        af, ef = af.astype(np.int64), ef.astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        abs_diff = np.abs(af - ef)
        abs_diff[mf] = 0
        # integer true division gives the default float dtype in PyTorch (float32)
        rel_diff = abs_diff / np.abs(ef) if a.dtype.kind not in "iu" else \
            abs_diff.astype(float_dtype) / np.abs(ef).astype(float_dtype)
        rel_diff[mf] = 0

    def argmax(x):   # NaN wins, as in torch.max
        nan = np.isnan(x) if x.dtype.kind in "fcV" else np.zeros(x.shape, bool)
        i = int(np.argmax(nan)) if nan.any() else int(np.argmax(x))
        idx = tuple(int(j) for j in np.unravel_index(i, matches.shape))
        return x[i].item(), idx

    (ad, ai), (rd, ri) = argmax(abs_diff), argmax(rel_diff)
    return _mismatch_msg(identifier="Tensor-likes", extra=extra, abs_diff=ad, abs_diff_idx=ai, atol=atol,
                         rel_diff=rd, rel_diff_idx=ri, rtol=rtol)


class _Pair:
    def __init__(self, actual, expected, *, id=(), **unused):
        self.actual, self.expected, self.id = actual, expected, id

    def _fail(self, type, msg):
        raise _ErrorMeta(type, msg, id=self.id)


class _NonePair(_Pair):
    def __init__(self, actual, expected, **options):
        if not (actual is None or expected is None):
            raise _Unsupported
        super().__init__(actual, expected, **options)

    def compare(self):
        if not (self.actual is None and self.expected is None):
            self._fail(AssertionError, f"None mismatch: {self.actual} is not {self.expected}")


class _BooleanPair(_Pair):
    def __init__(self, actual, expected, *, id=(), **options):
        if not all(isinstance(x, (bool, np.bool_)) for x in (actual, expected)):
            raise _Unsupported
        super().__init__(bool(actual), bool(expected), id=id)

    def compare(self):
        if self.actual is not self.expected:
            self._fail(AssertionError, f"Booleans mismatch: {self.actual} is not {self.expected}")


class _NumberPair(_Pair):
    def __init__(self, actual, expected, *, id=(), rtol=None, atol=None, equal_nan=False, check_dtype=False,
                 **options):
        import ttorch
        if not all(isinstance(x, (int, float, complex, np.number)) for x in (actual, expected)):
            raise _Unsupported
        if any(isinstance(x, (bool, np.bool_)) for x in (actual, expected)):
            # a bool against a number: PyTorch fails inside its NumberPair with this RuntimeError
            raise RuntimeError(f"Originating a NumberPair() at item {''.join(str([item]) for item in id)} with\n\n"
                               f"{type(actual).__name__}(): {actual}\n\nand\n\n{type(expected).__name__}(): "
                               f"{expected}\n\nresulted in the unexpected exception above. If you are a user and "
                               "see this message during normal operation please file an issue at "
                               "https://github.com/pytorch/pytorch/issues. If you are a developer and working on the "
                               "comparison functions, please except the previous error and raise an expressive "
                               "`ErrorMeta` instead.")
        actual, expected = (x.item() if isinstance(x, np.number) else x for x in (actual, expected))
        super().__init__(actual, expected, id=id)
        to_dtype = {int: ttorch.int64, float: ttorch.float64, complex: ttorch.complex128}
        self.rtol, self.atol = _get_tolerances(*[to_dtype[type(x)] for x in (actual, expected)], rtol=rtol,
                                               atol=atol, id=id)
        self.equal_nan, self.check_dtype = equal_nan, check_dtype

    def compare(self):
        a, e = self.actual, self.expected
        if self.check_dtype and type(a) is not type(e):
            self._fail(AssertionError, f"The (d)types do not match: {type(a)} != {type(e)}.")
        if a == e or (self.equal_nan and cmath.isnan(a) and cmath.isnan(e)):
            return
        abs_diff = abs(a - e)
        if cmath.isfinite(abs_diff) and abs_diff <= self.atol + self.rtol * abs(e):
            return
        self._fail(AssertionError, _scalar_mismatch_msg(a, e, rtol=self.rtol, atol=self.atol))


class _TensorLikePair(_Pair):
    def __init__(self, actual, expected, *, id=(), allow_subclasses=True, rtol=None, atol=None, equal_nan=False,
                 check_device=True, check_dtype=True, check_layout=True, check_stride=False, **options):
        import ttorch
        if not (isinstance(actual, type(expected)) or isinstance(expected, type(actual))):
            raise _Unsupported
        if not allow_subclasses and type(actual) is not type(expected):
            raise _Unsupported

        def to_tensor(x):
            if isinstance(x, Tensor):
                return x
            try:
                return ttorch.as_tensor(x)
            except Exception:
                raise _Unsupported from None

        actual, expected = to_tensor(actual), to_tensor(expected)
        super().__init__(actual, expected, id=id)
        self.rtol, self.atol = _get_tolerances(actual, expected, rtol=rtol, atol=atol, id=id)
        self.equal_nan, self.check_device, self.check_dtype = equal_nan, check_device, check_dtype
        self.check_layout, self.check_stride = check_layout, check_stride

    def compare(self):
        import ttorch
        a, e = self.actual, self.expected

        def mismatch(name, av, ev):
            self._fail(AssertionError, f"The values for attribute '{name}' do not match: {av} != {ev}.")

        if a.shape != e.shape:
            mismatch("shape", a.shape, e.shape)
        # ttorch tensors are all strided: the layout check has nothing to compare
        if self.check_stride and a.stride() != e.stride():
            mismatch("stride()", a.stride(), e.stride())
        if self.check_device and a.device != e.device:
            mismatch("device", a.device, e.device)
        if self.check_dtype and a.dtype != e.dtype:
            mismatch("dtype", a.dtype, e.dtype)
        if a.dtype != e.dtype:
            dtype = ttorch.promote_types(a.dtype, e.dtype)
            a, e = a.to(dtype), e.to(dtype)
        an, en = (t.detach().cpu().numpy() for t in (a, e))
        matches = _isclose(an, en, self.rtol, self.atol, self.equal_nan)
        if matches.all():
            return
        if an.ndim == 0:
            msg = _scalar_mismatch_msg(an.item(), en.item(), rtol=self.rtol, atol=self.atol)
        else:
            float_dtype = np.dtype(str(ttorch.get_default_dtype()).rsplit(".", 1)[-1])
            msg = _tensor_mismatch_msg(an, en, matches, rtol=self.rtol, atol=self.atol, float_dtype=float_dtype)
        self._fail(AssertionError, msg)


def _originate_pairs(actual, expected, *, pair_types, id=(), **options):
    seq, mapping = collections.abc.Sequence, collections.abc.Mapping
    if isinstance(actual, seq) and not isinstance(actual, str) and isinstance(expected, seq) \
            and not isinstance(expected, str):
        if len(actual) != len(expected):
            raise _ErrorMeta(AssertionError,
                             f"The length of the sequences mismatch: {len(actual)} != {len(expected)}", id=id)
        pairs = []
        for i in range(len(actual)):
            pairs += _originate_pairs(actual[i], expected[i], pair_types=pair_types, id=(*id, i), **options)
        return pairs
    if isinstance(actual, mapping) and isinstance(expected, mapping):
        ak, ek = set(actual.keys()), set(expected.keys())
        if ak != ek:
            raise _ErrorMeta(AssertionError, f"The keys of the mappings do not match:\n"
                                             f"Missing keys in the actual mapping: {sorted(ek - ak)}\n"
                                             f"Additional keys in the actual mapping: {sorted(ak - ek)}", id=id)
        keys = ak
        with contextlib.suppress(Exception):
            keys = sorted(keys)
        pairs = []
        for k in keys:
            pairs += _originate_pairs(actual[k], expected[k], pair_types=pair_types, id=(*id, k), **options)
        return pairs
    for pair_type in pair_types:
        try:
            return [pair_type(actual, expected, id=id, **options)]
        except _Unsupported:
            continue
    raise _ErrorMeta(TypeError, f"No comparison pair was able to handle inputs of type {type(actual)} "
                                f"and {type(expected)}.", id=id)


def assert_close(actual, expected, *, allow_subclasses=True, rtol=None, atol=None, equal_nan=False,
                 check_device=True, check_dtype=True, check_layout=True, check_stride=False, msg=None):
    """Assert that ``actual`` and ``expected`` are close: ``|actual - expected| <= atol + rtol * |expected|``.

    Tensors, NumPy arrays, numbers, ``None`` and booleans, nested in sequences and mappings, compared
    as PyTorch does. Default tolerances by dtype: float16 1e-3/1e-5, bfloat16 1.6e-2/1e-5, float32
    1.3e-6/1e-5, float64 1e-7/1e-7 (rtol/atol; complex as their float part), 0 otherwise.

    Args:
        msg (str or callable, optional): replaces the generated message; a callable gets it and returns one.

    Raises:
        AssertionError: on a mismatch of values, shape, device, dtype or (with ``check_stride``) strides.
        ValueError: if only one of ``rtol`` and ``atol`` is given.
        TypeError: for inputs no comparison handles (a tensor against a list, strings...).

    Example::

        >>> ttorch.testing.assert_close(ttorch.tensor([1.0, 2.0]), ttorch.tensor([1.0, 2.0 + 1e-6]))
    """
    __tracebackhide__ = True
    try:
        pairs = _originate_pairs(actual, expected, pair_types=(_NonePair, _BooleanPair, _NumberPair, _TensorLikePair),
                                 allow_subclasses=allow_subclasses, rtol=rtol, atol=atol, equal_nan=equal_nan,
                                 check_device=check_device, check_dtype=check_dtype, check_layout=check_layout,
                                 check_stride=check_stride)
    except _ErrorMeta as meta:
        raise meta.to_error() from None
    for pair in pairs:
        try:
            pair.compare()
        except _ErrorMeta as meta:
            raise meta.to_error(msg) from None


def assert_allclose(actual, expected, rtol=None, atol=None, equal_nan=True, msg=""):
    """Deprecated (FutureWarning, as in PyTorch): ``assert_close`` with dtype checks off, NaNs equal and
    looser defaults (float16 1e-3/1e-3, float32 1e-4/1e-5, float64 1e-5/1e-8)."""
    import ttorch
    warnings.warn("`torch.testing.assert_allclose()` is deprecated since 1.12 and will be removed in a future "
                  "release. Please use `torch.testing.assert_close()` instead. You can find detailed upgrade "
                  "instructions in https://github.com/pytorch/pytorch/issues/61844.", FutureWarning, stacklevel=2)
    if not isinstance(actual, Tensor):
        actual = ttorch.tensor(actual)
    if not isinstance(expected, Tensor):
        expected = ttorch.tensor(expected, dtype=actual.dtype)
    if rtol is None and atol is None:
        rtol, atol = default_tolerances(actual, expected, dtype_precisions={
            ttorch.float16: (1e-3, 1e-3), ttorch.float32: (1e-4, 1e-5), ttorch.float64: (1e-5, 1e-8)})
    assert_close(actual, expected, rtol=rtol, atol=atol, equal_nan=equal_nan, check_device=True,
                 check_dtype=False, check_stride=False, msg=msg or None)
