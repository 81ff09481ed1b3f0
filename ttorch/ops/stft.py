"""The short-time Fourier transform and its inverse: ``stft``/``istft`` (and the ``Tensor`` methods), composed of
padding, ``unfold`` (overlapping frames as a view), a window product, ``ttorch.fft``'s transforms and, for the
inverse, ``F.fold`` (overlap-add) divided by the summed squared window, as PyTorch's ATen code does. Gradients
follow from the composition on both devices.
"""
import warnings

from .. import _dtype as D
from ._op import _TYPE

__all__ = ["stft", "istft"]


def _describe(t):
    return f"ttorch.{'cuda.' if t.is_cuda else ''}{_TYPE.get(t.dtype.name, t.dtype.name)}"


def _window(window, win_length, n_fft, like):
    """The window zero-padded to ``n_fft`` around its centre (ones when None)."""
    from .creation import ones, zeros
    from .movement import cat
    w = window if window is not None else ones(win_length, dtype=like.dtype.to_real() if like.dtype.is_complex
                                               else like.dtype, device=like.device)
    if win_length < n_fft:
        left = (n_fft - win_length) // 2
        w = cat([zeros(left, dtype=w.dtype, device=w.device), w,
                 zeros(n_fft - win_length - left, dtype=w.dtype, device=w.device)])
    return w


def _pad_signal(x, pad, mode):
    """``x`` (B, L), real or complex, padded by ``pad`` on both sides of its last dim (``F.pad``'s modes)."""
    from ..nn import functional as F
    if x.dtype.is_complex:
        from .complex import complex as _complex
        return _complex(_pad_signal(x.real, pad, mode), _pad_signal(x.imag, pad, mode))
    return F.pad(x.unsqueeze(1), [pad, pad], mode).squeeze(1)


def stft(input, n_fft, hop_length=None, win_length=None, window=None, center=True, pad_mode="reflect",
         normalized=False, onesided=None, return_complex=None, align_to_window=None):
    """The short-time Fourier transform: FFTs of ``n_fft``-long frames taken every ``hop_length`` samples,
    each multiplied by ``window`` (zero-padded to ``n_fft``; rectangular when None).

    Args:
        input (Tensor): (L,) or (B, L), real or complex.
        n_fft (int): frame length. hop_length (int): default ``n_fft // 4``. win_length (int): default n_fft.
        center (bool): pad ``n_fft // 2`` on both sides (``pad_mode``) so frame t is centred at t * hop.
        normalized (bool): scale by ``n_fft ** -0.5``. onesided (bool): keep ``n_fft // 2 + 1`` bins
            (default for a real input and window). return_complex (bool): required for real inputs.
        align_to_window (bool): with ``center=False``, frames start where the window starts.

    Shape: (B?, n_fft // 2 + 1 or n_fft, 1 + (L' - n_fft) // hop_length), L' the padded length.

    Example::

        >>> import ttorch
        >>> ttorch.stft(ttorch.tensor([1., 2., 3., 4.]), 2, 2, window=ttorch.ones(2), center=False, return_complex=True)
        tensor([[ 3.+0.j,  7.+0.j],
                [-1.+0.j, -1.+0.j]])
    """
    from .. import fft
    from . import _op
    if _op._autocast is not None:       # ttorch.amp: PyTorch's cpu autocast runs stft in float32
        return _op._autocast.call("stft", stft, input, n_fft, hop_length, win_length, window, center, pad_mode,
                                  normalized, onesided, return_complex, align_to_window)
    if center and align_to_window is not None:
        raise RuntimeError("stft align_to_window should only be set when center = false")
    rc = return_complex if return_complex is not None else (
        input.dtype.is_complex or (window is not None and window.dtype.is_complex))
    if not rc:
        if return_complex is None:
            raise RuntimeError("stft requires the return_complex parameter be given for real inputs, and will further "
                               "require that return_complex=True in a future PyTorch release.")
        warnings.warn("stft with return_complex=False is deprecated. In a future pytorch release, stft will return "
                      "complex tensors for all inputs, and return_complex=False will raise an error.")
    x = input
    if center and 1 <= x.dim() <= 3:        # (PyTorch pads up to 3-D inputs before its dim check)
        x = _pad_signal(x.reshape(-1, x.shape[-1]), n_fft // 2, pad_mode).reshape(x.shape[:-1] + (-1,))
    hop = n_fft // 4 if hop_length is None else hop_length
    win = n_fft if win_length is None else win_length
    length = x.shape[-1] if x.dim() else 0

    def fail(msg):
        w = "None" if window is None else f"{_describe(window)}{{{list(window.shape)}}}"
        raise RuntimeError(f"stft({_describe(x)}{list(x.shape)}, n_fft={n_fft}, hop_length={hop}, win_length={win}, "
                           f"window={w}, normalized={int(normalized)}, onesided={onesided}, return_complex={int(rc)}, "
                           f"align_to_window={align_to_window}) : {msg}")
    if not (x.dtype.is_floating_point or x.dtype.is_complex):
        fail("expected a tensor of floating point or complex values")
    if x.dim() not in (1, 2):
        fail("expected a 1D or 2D tensor")
    if n_fft <= 0 or n_fft > length:
        fail(f"expected 0 < n_fft < {length}, but got n_fft={n_fft}")
    if hop <= 0:
        fail(f"expected hop_length > 0, but got hop_length={hop}")
    if win <= 0 or win > n_fft:
        fail(f"expected 0 < win_length <= n_fft, but got win_length={win}")
    if window is not None and (window.dim() != 1 or window.shape[0] != win):
        fail(f"expected a 1D window tensor of size equal to win_length={win}, but got window with size "
             f"{list(window.shape)}")
    if window is None:
        warnings.warn("A window was not provided. A rectangular window will be applied, which is known to cause "
                      "spectral leakage. Other windows such as ttorch.hann_window or ttorch.hamming_window are "
                      "recommended to reduce spectral leakage. To suppress this warning and use a rectangular window, "
                      "explicitly set `window=ttorch.ones(n_fft, device=<device>)`.")
    w = _window(window, win, n_fft, x)
    batched = x.dim() == 2
    x = x if batched else x.unsqueeze(0)
    if align_to_window and win < n_fft:     # frames from where the window starts: the window covers x[0:win]
        from .movement import cat
        left = (n_fft - win) // 2
        x = cat([x.new_zeros((x.shape[0], left)), x, x.new_zeros((x.shape[0], n_fft - win - left))], 1)
    frames = x.unfold(-1, n_fft, hop) * w                     # (B, n_frames, n_fft)
    complex_fft = frames.dtype.is_complex
    one = (not complex_fft) if onesided is None else onesided
    if complex_fft and one:
        raise RuntimeError("Cannot have onesided output if window or input is complex")
    norm = "ortho" if normalized else "backward"
    out = (fft.rfft if one else fft.fft)(frames, dim=-1, norm=norm).transpose(1, 2)   # (B, n_freq, n_frames)
    out = out if batched else out.squeeze(0)
    if not rc:
        from .complex import view_as_real
        return view_as_real(out)
    return out


def istft(input, n_fft, hop_length=None, win_length=None, window=None, center=True, normalized=False,
          onesided=None, length=None, return_complex=False):
    """The inverse of ``stft``: inverse FFTs of the frames, windowed, overlap-added and divided by the summed
    squared window (which must stay above 1e-11 over the kept samples).

    Args:
        input (Tensor): complex, (B?, n_freq, n_frames) as ``stft`` returns it.
        length (int, optional): the output length (trimmed, or zero-padded with a warning).
        return_complex (bool): a complex signal (a two-sided, complex ``input``).
        Others as ``stft``.

    Example::

        >>> import ttorch
        >>> x = ttorch.arange(8.)
        >>> w = ttorch.hann_window(4)
        >>> ttorch.istft(ttorch.stft(x, 4, window=w, return_complex=True), 4, window=w, length=8)
        tensor([0., 1., 2., 3., 4., 5., 6., 7.])
    """
    from .. import fft
    from .creation import ones
    hop = n_fft >> 2 if hop_length is None else hop_length
    win = n_fft if win_length is None else win_length
    if not input.dtype.is_complex:
        raise RuntimeError("istft requires a complex-valued input tensor matching the output from stft with "
                           "return_complex=True.")
    n_frames, fft_size = input.shape[-1], input.shape[-2]
    one = (fft_size != n_fft) if onesided is None else onesided

    def fail(msg, sep=" : "):
        w = "None" if window is None else f"{_describe(window)}{{{list(window.shape)}}}"
        dev = "CUDA" if input.is_cuda else "CPU"
        raise RuntimeError(f"istft({dev}{D.scalar_name(input.dtype)}Type{list(input.shape)}, n_fft={n_fft}, "
                           f"hop_length={hop}, win_length={win}, window={w}, center={int(center)}, "
                           f"normalized={int(normalized)}, onesided={'None' if onesided is None else int(onesided)}, "
                           f"length={length}, return_complex={int(return_complex)}){sep}{msg}")
    if input.numel() == 0:
        fail("input tensor cannot be empty.")
    if input.dim() not in (2, 3):
        fail(f"expected a tensor with 3 or 4 dimensions of complex dtype, but got {input.dim() + 1}")
    if one and n_fft // 2 + 1 != fft_size:
        fail("expected the frequency dimension (3rd to the last) of the input tensor to match n_fft / 2 + 1 when "
             f"onesided=True, but got {fft_size}")
    if not one and n_fft != fft_size:
        fail("expected the frequency dimension (3rd to the last) of the input tensor to match n_fft when "
             f"onesided=False, but got {fft_size}")
    if not 0 < hop <= win:
        fail("expected 0 < hop_length <= win_length")
    if not 0 < win <= n_fft:
        fail("expected 0 < win_length <= n_fft")
    if window is not None and (window.dim() != 1 or window.shape[0] != win):
        fail("Invalid window shape. window has to be 1D and length of `win_length`")
    real_dt = input.dtype.to_real()
    w = _window(window if window is not None else ones(win, dtype=real_dt, device=input.device), win, n_fft, input)
    x = (input if input.dim() == 3 else input.unsqueeze(0)).transpose(1, 2)      # (B, n_frames, n_freq)
    norm = "ortho" if normalized else "backward"
    if return_complex:
        if one:
            raise RuntimeError("Cannot have onesided output if window or input is complex")
        frames = fft.ifft(x, dim=-1, norm=norm)
    else:
        if window is not None and window.dtype.is_complex:
            raise RuntimeError("Complex windows are incompatible with return_complex=False")
        frames = fft.irfft(x if one else x.narrow(-1, 0, n_fft // 2 + 1), n=n_fft, dim=-1, norm=norm)
    frames = frames * w                                                           # (B, n_frames, n_fft)
    total = n_fft + hop * (n_frames - 1)
    y = _overlap_add(frames, total, n_fft, hop)                                   # (B, total)
    env = _overlap_add((w * w).expand(1, n_frames, n_fft), total, n_fft, hop)
    start = n_fft // 2 if center else 0
    end = start + length if length is not None else (total - n_fft // 2 if center else total)
    y, env = y[:, start:end], env[:, start:end]
    if env.numel() and bool((env.abs() < 1e-11).any()):
        fail("1", sep=" window overlap add min: ")
    y = y / env
    y = y if input.dim() == 3 else y.squeeze(0)
    if end > total:
        warnings.warn("The length of signal is shorter than the length parameter. Result is being padded with zeros "
                      "in the tail. Please check your center and hop_length settings.")
        from .movement import cat
        y = cat([y, y.new_zeros(y.shape[:-1] + (end - total,))], -1)
    return y


def _overlap_add(frames, total, n_fft, hop):
    """(B, n_frames, n_fft) frames summed into (B, total) at offsets t * hop (``F.fold``; real and imaginary
    parts as two channels of a complex input)."""
    from ..nn import functional as F
    if frames.dtype.is_complex:
        from .complex import view_as_complex, view_as_real
        r = view_as_real(frames)                                                  # (B, T, n_fft, 2)
        cols = r.permute(0, 3, 2, 1).reshape(r.shape[0], 2 * n_fft, r.shape[1])
        out = F.fold(cols, (1, total), (1, n_fft), stride=(1, hop))              # (B, 2, 1, total)
        return view_as_complex(out[:, :, 0].transpose(1, 2).contiguous())
    out = F.fold(frames.transpose(1, 2), (1, total), (1, n_fft), stride=(1, hop))  # (B, 1, 1, total)
    return out[:, 0, 0]


METHODS = {"stft": stft, "istft": istft}
