"""Tensors made from formulas on the host, as ``linspace`` is: the signal windows (``hann_window``,
``hamming_window``, ``blackman_window``, ``bartlett_window``, ``kaiser_window``), ``logspace``, the
deprecated inclusive ``range`` and ``scalar_tensor``. Computed in float64 with NumPy and uploaded in
the requested dtype (PyTorch computes in that dtype: the last bits may differ)."""
import builtins
import math
import warnings

import numpy as np

from .. import _dtype as D
from ._op import write_out
from .creation import _finish, _from_host


def _window(name, window_length, periodic, dtype, device, requires_grad, formula):
    dtype = dtype or D.get_default_dtype()
    if not dtype.is_floating_point:
        raise RuntimeError(f"{name} expects floating point dtypes, got: {D.scalar_name(dtype)}")
    if window_length < 0:
        raise RuntimeError(f"{name} requires non-negative window_length, got window_length={window_length}")
    if window_length <= 1:
        a = np.ones(window_length)
    else:
        n = window_length + 1 if periodic else window_length     # periodic: the symmetric window one longer,
        a = formula(np.arange(n), n)[:window_length]            # its last point dropped
    return _finish(_from_host(a, dtype, device), requires_grad)


def hann_window(window_length, periodic=True, *, dtype=None, layout=None, device=None, requires_grad=False):
    """The Hann window ``0.5 - 0.5 cos(2 pi n / (N - 1))``; ``periodic`` (for spectral analysis) computes
    N + 1 points and drops the last.

    Example::

        >>> import ttorch
        >>> ttorch.hann_window(4).tolist()
        [0.0, 0.5, 1.0, 0.5]
    """
    return _window("hann_window", window_length, periodic, dtype, device, requires_grad,
                   lambda n, N: 0.5 - 0.5 * np.cos(2 * math.pi * n / (N - 1)))


def hamming_window(window_length, periodic=True, alpha=0.54, beta=0.46, *, dtype=None, layout=None, device=None,
                   requires_grad=False):
    """The Hamming window ``alpha - beta cos(2 pi n / (N - 1))``."""
    return _window("hamming_window", window_length, periodic, dtype, device, requires_grad,
                   lambda n, N: alpha - beta * np.cos(2 * math.pi * n / (N - 1)))


def blackman_window(window_length, periodic=True, *, dtype=None, layout=None, device=None, requires_grad=False):
    """The Blackman window ``0.42 - 0.5 cos(2 pi n / (N - 1)) + 0.08 cos(4 pi n / (N - 1))``."""
    def formula(n, N):
        return 0.42 - 0.5 * np.cos(2 * math.pi * n / (N - 1)) + 0.08 * np.cos(4 * math.pi * n / (N - 1))
    return _window("blackman_window", window_length, periodic, dtype, device, requires_grad, formula)


def bartlett_window(window_length, periodic=True, *, dtype=None, layout=None, device=None, requires_grad=False):
    """The Bartlett (triangular) window ``1 - |2 n / (N - 1) - 1|``."""
    return _window("bartlett_window", window_length, periodic, dtype, device, requires_grad,
                   lambda n, N: 1 - np.abs(2 * n / (N - 1) - 1))


def kaiser_window(window_length, periodic=True, beta=12.0, *, dtype=None, layout=None, device=None,
                  requires_grad=False):
    """The Kaiser window ``I0(beta sqrt(1 - (2 n / (N - 1) - 1)^2)) / I0(beta)``."""
    return _window("kaiser_window", window_length, periodic, dtype, device, requires_grad,
                   lambda n, N: np.i0(beta * np.sqrt(np.clip(1 - (2 * n / (N - 1) - 1) ** 2, 0, None))) / np.i0(beta))


def logspace(start, end, steps, base=10.0, *, dtype=None, layout=None, device=None, requires_grad=False, out=None):
    """``steps`` points from ``base ** start`` to ``base ** end``, their exponents evenly spaced (for an
    integer dtype ``start`` and ``end`` are truncated first, as PyTorch does).

    Example::

        >>> import ttorch
        >>> ttorch.logspace(0, 2, 3).tolist()
        [1.0, 10.0, 100.0]
    """
    if out is not None:     # (out's dtype; another one given is PyTorch's error)
        from .creation import _out_dtype
        dtype, device = _out_dtype(dtype, out), out.device
    dtype = dtype or D.get_default_dtype()
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    if not dtype.is_floating_point:     # PyTorch casts start and end, not the exponents, to integers
        start, end = math.trunc(float(start)), math.trunc(float(end))
    e = np.linspace(float(start), float(end), int(steps))
    r = _finish(_from_host(np.power(float(base), e), dtype, device), requires_grad)
    return r if out is None else write_out(out, r, "logspace")


def range(start=0, end=None, step=1, *, dtype=None, layout=None, device=None, requires_grad=False, out=None):
    """Deprecated in PyTorch for ``arange``: ``start`` to ``end`` inclusive, ``step`` apart, in the default
    float dtype unless ``dtype`` is given."""
    warnings.warn("torch.range is deprecated and will be removed in a future release because its behavior is "
                  "inconsistent with Python's range builtin. Instead, use torch.arange, which produces values in "
                  "[start, end).", UserWarning, stacklevel=2)
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    n = int(math.floor((end - start) / step)) + 1
    a = start + step * np.arange(builtins.max(n, 0), dtype=np.float64)
    r = _finish(_from_host(a, dtype or D.get_default_dtype(), device), requires_grad)
    return r if out is None else write_out(out, r, "range")


def scalar_tensor(s, *, dtype=None, layout=None, device=None, requires_grad=False):
    """A 0-d tensor holding ``s``, in the default float dtype unless ``dtype`` is given."""
    return _finish(_from_host(np.asarray(s, np.float64 if not isinstance(s, builtins.bool) else np.bool_),
                              dtype or D.get_default_dtype(), device), requires_grad)


__all__ = ["hann_window", "hamming_window", "blackman_window", "bartlett_window", "kaiser_window", "logspace",
           "range", "scalar_tensor"]
