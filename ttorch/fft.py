"""``ttorch.fft``: PyTorch's ``torch.fft``. Every transform is ``ops/fft.py``'s ``fft_c2c`` (numpy.fft on
cpu, Triton DFT passes on cuda) on the ``view_as_real`` layout of complex tensors, so gradients of every order
follow from its backward and from the views, pads and slices around it. On cuda a real transform of even
length (``rfft*``, ``irfft*``, ``hfft*``, ``ihfft*``, ``fft`` of a real input, ``stft``) runs at half length
with ``fft_untangle``'s twiddle pass (also an op with its own backward).

Argument handling is PyTorch's: ``n``/``s`` zero-pad or trim the input (``-1`` in ``s`` keeps a size),
``dim`` defaults to the last dim (``fft``), the last two (``fft2``) or all (``fftn``, or the last
``len(s)``), ``norm`` is ``"backward"`` (None), ``"ortho"`` or ``"forward"``; integer inputs promote to the
default float dtype, float32 gives complex64 and float64 complex128; the c2r transforms (``irfft*``,
``hfft*``) default the last transformed size to ``2 * (m - 1)`` and ignore the imaginary parts of the
DC and Nyquist bins.

Differences from PyTorch: float16 and bfloat16 inputs raise ``Unsupported dtype`` on cuda too (PyTorch's
cuda takes them for powers of two into complex32, which ttorch lacks).
"""
import functools

from . import _dtype as D
from ._tensor import Tensor, _wrap_dim
from .ops import _op, fft as _ops
from .ops._op import write_out
from .ops.complex import view_as_complex, view_as_real

__all__ = ["fft", "ifft", "fft2", "ifft2", "fftn", "ifftn", "rfft", "irfft", "rfft2", "irfft2", "rfftn", "irfftn",
           "hfft", "ihfft", "hfft2", "ihfft2", "hfftn", "ihfftn", "fftfreq", "rfftfreq", "fftshift", "ifftshift"]

# ``norm`` -> the scaling of ops.fft (0: none, 1: 1/sqrt(n), 2: 1/n) for forward and inverse transforms
_MODES = {(None, -1): 0, ("backward", -1): 0, ("ortho", -1): 1, ("forward", -1): 2,
          (None, 1): 2, ("backward", 1): 2, ("ortho", 1): 1, ("forward", 1): 0}


# ------------------------------------------------------------------------------- argument handling
def _autocast(fn):
    """``fn`` under ttorch.amp: its inputs cast as PyTorch's autocast lists say for ``fft_<name>`` (cpu
    runs the transforms in float32), and autocast off inside."""
    name = "fft_" + fn.__name__

    @functools.wraps(fn)
    def f(*args, **kwargs):
        if _op._autocast is not None:
            return _op._autocast.call(name, fn, *args, **kwargs)
        return fn(*args, **kwargs)
    return f


def _mode(norm, sign):
    try:
        return _MODES[(norm, sign)]
    except (KeyError, TypeError):
        raise RuntimeError(f'Invalid normalization mode: "{norm}"') from None


def _promote(input, fname, complex_in):
    """PyTorch's ``promote_tensor_fft``: integers to the default float dtype; half types rejected."""
    if type(input) is not Tensor:
        raise TypeError(f"fft_{fname}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    dt = input.dtype
    if dt.is_complex:
        if complex_in is False:
            if fname in ("rfftn", "rfft2"):
                raise RuntimeError(f"rfftn expects a real-valued input tensor, but got {D.scalar_name(dt)}")
            if fname in ("ihfftn", "ihfft2"):
                raise RuntimeError(f"Only supports floating-point dtypes, but found: {D.scalar_name(dt)}")
            raise RuntimeError(f"{fname} expects a real input tensor, but got {D.scalar_name(dt)}")
        return input
    if not dt.is_floating_point:
        input = input.to(D.get_default_dtype())
    elif dt not in (D.float32, D.float64):
        raise RuntimeError(f"Unsupported dtype {D.scalar_name(dt)}")
    return input


def _one_dim(input, n, dim):
    """(dims, sizes) of a 1-D transform: ``dim`` wrapped without accepting a 0-d input."""
    if input.dim() == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    d = _wrap_dim(dim, input.dim())
    n = input.shape[d] if n is None else n
    if n < 1:
        raise RuntimeError(f"Invalid number of data points ({n}) specified")
    return [d], [n]


def _n_dims(input, s, dim):
    """PyTorch's ``canonicalize_fft_shape_and_dim_args``: (dims, sizes) of an n-dim transform."""
    ndim = input.dim()
    dims = None
    if dim is not None:
        dims = [_wrap_dim(d, ndim) for d in ((dim,) if isinstance(dim, int) else dim)]
        if len(set(dims)) != len(dims):
            raise RuntimeError("FFT dims must be unique")
    if s is not None:
        s = list(s)
        if dims is not None and len(dims) != len(s):
            raise RuntimeError("When given, dim and shape arguments must have the same length")
        if len(s) > ndim:
            raise RuntimeError(f"Got shape with {len(s)} values but input tensor only has {ndim} dimensions.")
        if dims is None:
            dims = list(range(ndim - len(s), ndim))
        sizes = [input.shape[d] if n == -1 else n for d, n in zip(dims, s)]
    else:
        dims = list(range(ndim)) if dims is None else dims
        sizes = [input.shape[d] for d in dims]
    for n in sizes:
        if n < 1:
            raise RuntimeError(f"Invalid number of data points ({n}) specified")
    return dims, sizes


def _c2r_sizes(input, dims, sizes, s):
    """The output size of the last c2r dim (``s``'s, else 2 (m - 1)) and the input sizes it reads."""
    last = sizes[-1] if s is not None and list(s)[-1] != -1 else 2 * (input.shape[dims[-1]] - 1)
    if last < 1:
        raise RuntimeError(f"Invalid number of data points ({last}) specified")
    return last, sizes[:-1] + [last // 2 + 1]


def _resize(x, dims, sizes):
    """``x`` zero-padded or trimmed to ``sizes`` along ``dims`` (PyTorch's ``resize_fft_input``)."""
    from .ops.movement import cat
    for d, n in zip(dims, sizes):
        m = x.shape[d]
        if n < m:
            x = x.narrow(d, 0, n)
        elif n > m:
            pad = list(x.shape)
            pad[d] = n - m
            x = cat([x, x.new_zeros(pad)], d)
    return x


def _finish(r, out, fname):
    if out is not None:
        if type(out) is Tensor and out.dtype.is_complex != r.dtype.is_complex:
            want = "complex" if r.dtype.is_complex else "floating point"
            raise RuntimeError(f"{fname} expects a {want} output tensor, but got {D.scalar_name(out.dtype)}")
        return write_out(out, r, fname)
    return r


def _real_layout(x):
    """A real tensor as the (..., 2) layout of a complex one with zero imaginary parts."""
    from .ops.movement import stack
    return stack([x, x.new_zeros(x.shape)], -1)


# ------------------------------------------------------------------------------- the three kinds
def _c2c(fname, input, dims, sizes, norm, sign, out):
    """Complex-to-complex over ``dims`` (a real input embedded with zero imaginary parts)."""
    mode = _mode(norm, sign)
    x = _promote(input, fname, True)
    if x.dtype.is_complex:
        x = _resize(view_as_real(x), dims, sizes)
        r = _ops._c2c(x, dims=tuple(dims), sign=sign, norm=mode) if dims else x.clone()
    else:
        x = _resize(x, dims, sizes)
        r = _ops._r2c(x, dims, sign, mode, onesided=False) if dims else _real_layout(x)
    return _finish(view_as_complex(r), out, fname)


def _r2c(fname, input, dims, sizes, norm, sign, out):
    """Real-to-complex, onesided along the last of ``dims``."""
    mode = _mode(norm, sign)
    if not dims:
        raise RuntimeError(f"{fname} must transform at least one axis")
    x = _resize(_promote(input, fname, False), dims, sizes)
    return _finish(view_as_complex(_ops._r2c(x, dims, sign, mode)), out, fname)


def _c2r(fname, input, dims, sizes, last, norm, sign, out):
    """Complex-to-real of output size ``last`` along the last of ``dims``."""
    mode = _mode(norm, sign)
    if not dims:
        raise RuntimeError(f"{fname} must transform at least one axis")
    x = _promote(input, fname, True)
    x = view_as_real(x) if x.dtype.is_complex else _real_layout(x)
    x = _resize(x, dims, sizes)
    return _finish(_ops._c2r(x, dims, last, sign, mode), out, fname)


# ------------------------------------------------------------------------------- public: complex
@_autocast
def fft(input, n=None, dim=-1, norm=None, *, out=None):
    """The one-dimensional discrete Fourier transform of ``input`` along ``dim``.

    Args:
        input (Tensor): real or complex input.
        n (int, optional): signal length: the input is zero-padded or trimmed to it.
        dim (int): the dim to transform. Default: -1.
        norm (str, optional): ``"forward"`` (scaled by 1/n), ``"backward"`` (none; the default) or
            ``"ortho"`` (1/sqrt(n)).

    Example::

        >>> import ttorch
        >>> ttorch.fft.fft(ttorch.arange(4))
        tensor([ 6.+0.j, -2.+2.j, -2.+0.j, -2.-2.j])
    """
    dims, sizes = _one_dim(input, n, dim)
    return _c2c("fft", input, dims, sizes, norm, -1, out)


@_autocast
def ifft(input, n=None, dim=-1, norm=None, *, out=None):
    """The inverse of ``fft``: scaled by 1/n under the default ``norm="backward"``.

    Example::

        >>> import ttorch
        >>> ttorch.fft.ifft(ttorch.fft.fft(ttorch.tensor([1., 2., 3.]))).real
        tensor([1., 2., 3.])
    """
    dims, sizes = _one_dim(input, n, dim)
    return _c2c("ifft", input, dims, sizes, norm, 1, out)


@_autocast
def fft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    """The 2-dimensional ``fftn``, over the last two dims by default."""
    return fftn(input, s, dim, norm, out=out, _name="fft2")


@_autocast
def ifft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    """The 2-dimensional ``ifftn``, over the last two dims by default."""
    return ifftn(input, s, dim, norm, out=out, _name="ifft2")


@_autocast
def fftn(input, s=None, dim=None, norm=None, *, out=None, _name="fftn"):
    """The N-dimensional discrete Fourier transform: ``fft`` along each of ``dim`` (all dims, or the last
    ``len(s)``, by default), each zero-padded or trimmed to ``s``'s size (``-1``: kept).

    Example::

        >>> import ttorch
        >>> ttorch.fft.fftn(ttorch.ones(2, 2))
        tensor([[4.+0.j, 0.+0.j],
                [0.+0.j, 0.+0.j]])
    """
    dims, sizes = _n_dims(_promote(input, _name, True), s, dim)
    return _c2c(_name, input, dims, sizes, norm, -1, out)


@_autocast
def ifftn(input, s=None, dim=None, norm=None, *, out=None, _name="ifftn"):
    """The inverse of ``fftn``."""
    dims, sizes = _n_dims(_promote(input, _name, True), s, dim)
    return _c2c(_name, input, dims, sizes, norm, 1, out)


# ------------------------------------------------------------------------------- public: real input
@_autocast
def rfft(input, n=None, dim=-1, norm=None, *, out=None):
    """The FFT of a real input: the ``n // 2 + 1`` non-negative frequencies (the rest are their conjugates).

    Example::

        >>> import ttorch
        >>> ttorch.fft.rfft(ttorch.tensor([1., 2., 3., 4.]))
        tensor([10.+0.j, -2.+2.j, -2.+0.j])
    """
    dims, sizes = _one_dim(input, n, dim)
    return _r2c("rfft", input, dims, sizes, norm, -1, out)


@_autocast
def irfft(input, n=None, dim=-1, norm=None, *, out=None):
    """The inverse of ``rfft``: a real signal of length ``n`` (default ``2 * (input.size(dim) - 1)``) from
    its onesided spectrum. The imaginary parts of the zero-frequency (and, for even ``n``, Nyquist) bins
    are ignored.

    Example::

        >>> import ttorch
        >>> ttorch.fft.irfft(ttorch.fft.rfft(ttorch.tensor([1., 2., 3.])), n=3)
        tensor([1., 2., 3.])
    """
    dims, sizes = _c2r_1d(input, n, dim)
    return _c2r("irfft", input, dims, sizes[:-1] + [sizes[-1] // 2 + 1], sizes[-1], norm, 1, out)


def _c2r_1d(input, n, dim):
    if input.dim() == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    d = _wrap_dim(dim, input.dim())
    n = 2 * (input.shape[d] - 1) if n is None else n
    if n < 1:
        raise RuntimeError(f"Invalid number of data points ({n}) specified")
    return [d], [n]


@_autocast
def rfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    """The 2-dimensional ``rfftn``."""
    return rfftn(input, s, dim, norm, out=out, _name="rfft2")


@_autocast
def irfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    """The 2-dimensional ``irfftn``."""
    return irfftn(input, s, dim, norm, out=out, _name="irfft2")


@_autocast
def rfftn(input, s=None, dim=None, norm=None, *, out=None, _name="rfftn"):
    """The N-dimensional FFT of a real input, onesided along the last of ``dim``."""
    x = _promote(input, _name, False)
    dims, sizes = _n_dims(x, s, dim)
    return _r2c(_name, x, dims, sizes, norm, -1, out)


@_autocast
def irfftn(input, s=None, dim=None, norm=None, *, out=None, _name="irfftn"):
    """The inverse of ``rfftn``: real, of size ``s[-1]`` (default ``2 * (m - 1)``) along the last of ``dim``.

    Example::

        >>> import ttorch
        >>> x = ttorch.arange(6.).reshape(2, 3)
        >>> ttorch.fft.irfftn(ttorch.fft.rfftn(x), x.shape)
        tensor([[0., 1., 2.],
                [3., 4., 5.]])
    """
    x = _promote(input, _name, True)
    dims, sizes = _n_dims(x, s, dim)
    last, sizes = _c2r_sizes(x, dims, sizes, s)
    return _c2r(_name, x, dims, sizes, last, norm, 1, out)


# ------------------------------------------------------------------------------- public: Hermitian input
@_autocast
def hfft(input, n=None, dim=-1, norm=None, *, out=None):
    """The FFT of a signal with Hermitian symmetry given by its onesided half: real, of length ``n``
    (default ``2 * (input.size(dim) - 1)``); ``irfft`` with the forward transform's sign and scaling.

    Example::

        >>> import ttorch
        >>> ttorch.fft.hfft(ttorch.fft.ihfft(ttorch.tensor([1., 2., 3., 4.])), n=4)
        tensor([1., 2., 3., 4.])
    """
    dims, sizes = _c2r_1d(input, n, dim)
    return _c2r("hfft", input, dims, sizes[:-1] + [sizes[-1] // 2 + 1], sizes[-1], norm, -1, out)


@_autocast
def ihfft(input, n=None, dim=-1, norm=None, *, out=None):
    """The inverse of ``hfft``: the onesided inverse FFT of a real input (``n // 2 + 1`` bins)."""
    dims, sizes = _one_dim(input, n, dim)
    return _r2c("ihfft", input, dims, sizes, norm, 1, out)


@_autocast
def hfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    """The 2-dimensional ``hfftn``."""
    return hfftn(input, s, dim, norm, out=out, _name="hfft2")


@_autocast
def ihfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    """The 2-dimensional ``ihfftn``."""
    return ihfftn(input, s, dim, norm, out=out, _name="ihfft2")


@_autocast
def hfftn(input, s=None, dim=None, norm=None, *, out=None, _name="hfftn"):
    """The N-dimensional FFT of a Hermitian-symmetric signal given by its half along the last of ``dim``:
    real, of size ``s[-1]`` (default ``2 * (m - 1)``) there."""
    x = _promote(input, _name, True)
    dims, sizes = _n_dims(x, s, dim)
    last, sizes = _c2r_sizes(x, dims, sizes, s)
    return _c2r(_name, x, dims, sizes, last, norm, -1, out)


@_autocast
def ihfftn(input, s=None, dim=None, norm=None, *, out=None, _name="ihfftn"):
    """The inverse of ``hfftn``: the onesided N-dimensional inverse FFT of a real input."""
    x = _promote(input, _name, False)
    dims, sizes = _n_dims(x, s, dim)
    return _r2c(_name, x, dims, sizes, norm, 1, out)


# ------------------------------------------------------------------------------- helpers
def _freq(fname, n, d, count, out, dtype, layout, device, requires_grad):
    from .ops.creation import arange
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"fft_{fname}(): argument 'n' (position 1) must be int, not {type(n).__name__}")
    dt = dtype if dtype is not None else (out.dtype if out is not None else D.get_default_dtype())
    if not (dt.is_floating_point or dt.is_complex):
        raise RuntimeError(f"{fname} requires a floating point or complex dtype")
    if dt.is_complex:
        raise NotImplementedError(f"\"arange_cpu\" not implemented for '{D.scalar_name(dt)}'")
    if n < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {n}: [{n}]")
    k = arange(count(n), dtype=dt, device=device if device is not None else (out.device if out is not None else None))
    if fname == "fftfreq":              # [0, 1, ..., (n - 1) // 2, -(n // 2), ..., -1]
        k = k - (k >= (n + 1) // 2).to(dt) * n
    # PyTorch multiplies by the double 1 / (n d), rounded to the dtype as a scalar operand
    r = k * (1.0 / (n * d)) if n else k
    if out is not None:
        return write_out(out, r, fname)
    return r.requires_grad_(True) if requires_grad else r


def fftfreq(n, d=1.0, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    """The sample frequencies of an ``fft`` of size ``n`` and sample spacing ``d``:
    ``[0, 1, ..., (n - 1) // 2, -(n // 2), ..., -1] / (d n)``.

    Example::

        >>> import ttorch
        >>> ttorch.fft.fftfreq(5, d=0.1)
        tensor([ 0.,  2.,  4., -4., -2.])
    """
    return _freq("fftfreq", n, d, lambda n: n, out, dtype, layout, device, requires_grad)


def rfftfreq(n, d=1.0, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    """The sample frequencies of an ``rfft`` of size ``n``: ``[0, 1, ..., n // 2] / (d n)``.

    Example::

        >>> import ttorch
        >>> ttorch.fft.rfftfreq(4)
        tensor([0.0000, 0.2500, 0.5000])
    """
    return _freq("rfftfreq", n, d, lambda n: n // 2 + 1, out, dtype, layout, device, requires_grad)


def _shift(input, dim, inverse):
    from .ops.movement import roll
    if dim is None:
        dims = list(range(input.dim()))
    else:
        dims = [_wrap_dim(d, input.dim()) for d in ((dim,) if isinstance(dim, int) else dim)]
    if not dims:
        raise RuntimeError("`shifts` required")
    shifts = [(input.shape[d] + inverse) // 2 for d in dims]
    return roll(input, shifts, dims)


def fftshift(input, dim=None):
    """``input`` rolled so the zero frequency sits in the middle of each of ``dim`` (all by default).

    Example::

        >>> import ttorch
        >>> ttorch.fft.fftshift(ttorch.fft.fftfreq(5))
        tensor([-0.4000, -0.2000,  0.0000,  0.2000,  0.4000])
    """
    return _shift(input, dim, 0)


def ifftshift(input, dim=None):
    """The inverse of ``fftshift``."""
    return _shift(input, dim, 1)

