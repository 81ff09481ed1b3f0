"""The windows of ``torch.signal.windows`` (SciPy's names and parameters; ``M`` positional, the rest
keyword-only). Each is composed of ttorch ops exactly as PyTorch composes it (``linspace`` then ``exp``,
``sin``, ``i0`` or a cosine sum), so it is computed in the requested dtype on the requested device, and with
``requires_grad=True`` the result is a non-leaf with a ``grad_fn`` (its graph leads back to the ``linspace``),
as in PyTorch. Errors are PyTorch's: ``ValueError`` for a negative ``M``, a dtype other than float32/float64, a
non-strided layout or a bad window parameter. ``hann``, ``hamming``, ``general_hamming`` and ``nuttall`` are
``general_cosine`` underneath and name it in their errors, as PyTorch's do.
"""
import math
from collections.abc import Iterable

import ttorch

__all__ = ["bartlett", "blackman", "cosine", "exponential", "gaussian", "general_cosine", "general_hamming",
           "hamming", "hann", "kaiser", "nuttall"]


def _checks(name, M, dtype, layout):
    if M < 0:
        raise ValueError(f"{name} requires non-negative window length, got M={M}")
    if layout is not ttorch.strided:
        raise ValueError(f"{name} is implemented for strided tensors only, got: {layout}")
    if dtype not in (ttorch.float32, ttorch.float64):
        raise ValueError(f"{name} expects float32 or float64 dtypes, got: {dtype}")


def _trivial(M, dtype, layout, device, requires_grad):
    """The windows of length 0 and 1 (a leaf, as PyTorch's ``empty``/``ones`` give), else None."""
    if M == 0:
        return ttorch.empty((0,), dtype=dtype, layout=layout, device=device, requires_grad=requires_grad)
    if M == 1:
        return ttorch.ones((1,), dtype=dtype, layout=layout, device=device, requires_grad=requires_grad)
    return None


def _linspace(start, end, M, dtype, layout, device, requires_grad):
    return ttorch.linspace(start=start, end=end, steps=M, dtype=dtype, layout=layout, device=device,
                           requires_grad=requires_grad)


def exponential(M, *, center=None, tau=1.0, sym=True, dtype=None, layout=ttorch.strided, device=None,
                requires_grad=False):
    """The exponential (Poisson) window ``w_n = exp(-|n - c| / tau)``, ``c`` the centre.

    Args:
        M (int): the window length. center (float, optional): only for ``sym=False``; default ``M / 2``
        (periodic) or ``(M - 1) / 2``. tau (float): the decay, > 0. sym (bool): symmetric (``True``, for
        filter design) or periodic (``False``, for spectral analysis).

    Example::

        >>> import ttorch
        >>> [round(v, 4) for v in ttorch.signal.windows.exponential(3).tolist()]
        [0.3679, 1.0, 0.3679]
    """
    dtype = dtype or ttorch.get_default_dtype()
    _checks("exponential", M, dtype, layout)
    if tau <= 0:
        raise ValueError(f"Tau must be positive, got: {tau} instead.")
    if sym and center is not None:
        raise ValueError("Center must be None for symmetric windows")
    if M == 0:
        return ttorch.empty((0,), dtype=dtype, layout=layout, device=device, requires_grad=requires_grad)
    if center is None:
        center = (M if not sym and M > 1 else M - 1) / 2.0
    k = _linspace(-center / tau, (-center + (M - 1)) / tau, M, dtype, layout, device, requires_grad)
    return ttorch.exp(-ttorch.abs(k))


def cosine(M, *, sym=True, dtype=None, layout=ttorch.strided, device=None, requires_grad=False):
    """The cosine (sine) window ``w_n = sin(pi (n + 0.5) / M)``.

    Example::

        >>> import ttorch
        >>> [round(v, 4) for v in ttorch.signal.windows.cosine(3).tolist()]
        [0.5, 1.0, 0.5]
    """
    dtype = dtype or ttorch.get_default_dtype()
    _checks("cosine", M, dtype, layout)
    if M == 0:
        return ttorch.empty((0,), dtype=dtype, layout=layout, device=device, requires_grad=requires_grad)
    c = math.pi / (M + 1 if not sym and M > 1 else M)
    return ttorch.sin(_linspace(0.5 * c, (0.5 + (M - 1)) * c, M, dtype, layout, device, requires_grad))


def gaussian(M, *, std=1.0, sym=True, dtype=None, layout=ttorch.strided, device=None, requires_grad=False):
    """The Gaussian window ``w_n = exp(-(n - (M - 1) / 2)^2 / (2 std^2))``; ``std`` > 0.

    Example::

        >>> import ttorch
        >>> [round(v, 4) for v in ttorch.signal.windows.gaussian(3).tolist()]
        [0.6065, 1.0, 0.6065]
    """
    dtype = dtype or ttorch.get_default_dtype()
    _checks("gaussian", M, dtype, layout)
    if std <= 0:
        raise ValueError(f"Standard deviation must be positive, got: {std} instead.")
    if M == 0:
        return ttorch.empty((0,), dtype=dtype, layout=layout, device=device, requires_grad=requires_grad)
    start = -(M if not sym and M > 1 else M - 1) / 2.0
    c = 1 / (std * math.sqrt(2))
    k = _linspace(start * c, (start + (M - 1)) * c, M, dtype, layout, device, requires_grad)
    return ttorch.exp(-(k ** 2))


def kaiser(M, *, beta=12.0, sym=True, dtype=None, layout=ttorch.strided, device=None, requires_grad=False):
    """The Kaiser window ``w_n = I0(beta sqrt(1 - (2 n / (M - 1) - 1)^2)) / I0(beta)``; ``beta`` >= 0.

    Example::

        >>> import ttorch
        >>> [round(v, 4) for v in ttorch.signal.windows.kaiser(3, beta=1.0).tolist()]
        [0.7898, 1.0, 0.7898]
    """
    dtype = dtype or ttorch.get_default_dtype()
    _checks("kaiser", M, dtype, layout)
    if beta < 0:
        raise ValueError(f"beta must be non-negative, got: {beta} instead.")
    w = _trivial(M, dtype, layout, device, requires_grad)
    if w is not None:
        return w
    # beta in the window's dtype, and the last point clamped to it: beta^2 - k^2 then never rounds below 0
    beta = ttorch.tensor(beta, dtype=dtype, device=device)
    c = 2.0 * beta / (M if not sym else M - 1)
    end = ttorch.minimum(beta, -beta + (M - 1) * c)
    k = _linspace(-beta, end, M, dtype, layout, device, requires_grad)
    return ttorch.i0(ttorch.sqrt(beta * beta - ttorch.pow(k, 2))) / ttorch.i0(beta)


def hamming(M, *, sym=True, dtype=None, layout=ttorch.strided, device=None, requires_grad=False):
    """The Hamming window ``w_n = 0.54 - 0.46 cos(2 pi n / (M - 1))`` (``general_hamming`` with 0.54).

    Example::

        >>> import ttorch
        >>> [round(v, 4) for v in ttorch.signal.windows.hamming(3).tolist()]
        [0.08, 1.0, 0.08]
    """
    return general_hamming(M, sym=sym, dtype=dtype, layout=layout, device=device, requires_grad=requires_grad)


def hann(M, *, sym=True, dtype=None, layout=ttorch.strided, device=None, requires_grad=False):
    """The Hann window ``w_n = 0.5 - 0.5 cos(2 pi n / (M - 1))`` (``general_hamming`` with 0.5).

    Example::

        >>> import ttorch
        >>> [round(v, 4) for v in ttorch.signal.windows.hann(4, sym=False).tolist()]
        [0.0, 0.5, 1.0, 0.5]
    """
    return general_hamming(M, alpha=0.5, sym=sym, dtype=dtype, layout=layout, device=device,
                           requires_grad=requires_grad)


def blackman(M, *, sym=True, dtype=None, layout=ttorch.strided, device=None, requires_grad=False):
    """The Blackman window ``w_n = 0.42 - 0.5 cos(2 pi n / (M - 1)) + 0.08 cos(4 pi n / (M - 1))``.

    Example::

        >>> import ttorch
        >>> [round(v, 4) for v in ttorch.signal.windows.blackman(4, dtype=ttorch.float64).tolist()]
        [-0.0, 0.63, 0.63, -0.0]
    """
    dtype = dtype or ttorch.get_default_dtype()
    _checks("blackman", M, dtype, layout)
    return general_cosine(M, a=[0.42, 0.5, 0.08], sym=sym, dtype=dtype, layout=layout, device=device,
                          requires_grad=requires_grad)


def bartlett(M, *, sym=True, dtype=None, layout=ttorch.strided, device=None, requires_grad=False):
    """The Bartlett (triangular, zero at both ends) window ``w_n = 1 - |2 n / (M - 1) - 1|``.

    Example::

        >>> import ttorch
        >>> ttorch.signal.windows.bartlett(5).tolist()
        [0.0, 0.5, 1.0, 0.5, 0.0]
    """
    dtype = dtype or ttorch.get_default_dtype()
    _checks("bartlett", M, dtype, layout)
    w = _trivial(M, dtype, layout, device, requires_grad)
    if w is not None:
        return w
    c = 2 / (M if not sym else M - 1)
    return 1 - ttorch.abs(_linspace(-1, -1 + (M - 1) * c, M, dtype, layout, device, requires_grad))


def general_cosine(M, *, a, sym=True, dtype=None, layout=ttorch.strided, device=None, requires_grad=False):
    """The generalized cosine window ``w_n = sum_i (-1)^i a_i cos(2 pi i n / (M - 1))``.

    Args:
        M (int): the window length. a (list or tuple of float): the coefficients ``a_i``, not empty.

    Example::

        >>> import ttorch
        >>> ttorch.signal.windows.general_cosine(3, a=[0.5, 0.5]).tolist()
        [0.0, 1.0, 0.0]
    """
    dtype = dtype or ttorch.get_default_dtype()
    _checks("general_cosine", M, dtype, layout)
    w = _trivial(M, dtype, layout, device, requires_grad)
    if w is not None:
        return w
    if not isinstance(a, Iterable):
        raise TypeError("Coefficients must be a list/tuple")
    if not a:
        raise ValueError("Coefficients cannot be empty")
    c = 2 * math.pi / (M if not sym else M - 1)
    k = _linspace(0, (M - 1) * c, M, dtype, layout, device, requires_grad)     # (M,)
    a_i = ttorch.tensor([(-1) ** i * w for i, w in enumerate(a)], device=device, dtype=dtype,
                        requires_grad=requires_grad)
    i = ttorch.arange(a_i.shape[0], dtype=a_i.dtype, device=a_i.device, requires_grad=a_i.requires_grad)
    return (a_i.unsqueeze(-1) * ttorch.cos(i.unsqueeze(-1) * k)).sum(0)     # (len(a), M) summed over a


def general_hamming(M, *, alpha=0.54, sym=True, dtype=None, layout=ttorch.strided, device=None,
                    requires_grad=False):
    """The generalized Hamming window ``w_n = alpha - (1 - alpha) cos(2 pi n / (M - 1))``.

    Example::

        >>> import ttorch
        >>> [round(v, 4) for v in ttorch.signal.windows.general_hamming(3, alpha=0.5).tolist()]
        [0.0, 1.0, 0.0]
    """
    return general_cosine(M, a=[alpha, 1.0 - alpha], sym=sym, dtype=dtype, layout=layout, device=device,
                          requires_grad=requires_grad)


def nuttall(M, *, sym=True, dtype=None, layout=ttorch.strided, device=None, requires_grad=False):
    """Nuttall's minimum 4-term Blackman-Harris window: ``general_cosine`` with
    ``a = [0.3635819, 0.4891775, 0.1365995, 0.0106411]``.

    Example::

        >>> import ttorch
        >>> [round(v, 4) for v in ttorch.signal.windows.nuttall(3).tolist()]
        [0.0004, 1.0, 0.0004]
    """
    return general_cosine(M, a=[0.3635819, 0.4891775, 0.1365995, 0.0106411], sym=sym, dtype=dtype, layout=layout,
                          device=device, requires_grad=requires_grad)
