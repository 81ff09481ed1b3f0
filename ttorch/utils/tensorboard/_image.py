"""Images for TensorBoard: a minimal PNG encoder (zlib only, no PIL) and PyTorch's layout helpers.

``convert_to_HWC``, ``make_grid`` and ``figure_to_image`` follow ``torch.utils.tensorboard._utils`` so the
pixels written equal PyTorch's; only the PNG bytes differ (PIL picks other row filters and zlib settings),
which decoders do not see.
"""
import struct
import zlib

import numpy as np

__all__ = ["encode_png", "make_grid", "convert_to_HWC", "figure_to_image"]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}      # channels -> gray, gray+alpha, RGB, RGBA


def _chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_png(pixels):
    """PNG bytes of an 8-bit ``(H, W)`` or ``(H, W, C)`` image, C in 1..4 (no interlace, filter 0)."""
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    height, width, channels = pixels.shape
    if channels not in _COLOR_TYPE:
        raise ValueError(f"PNG images have 1 to 4 channels, got {channels}")
    ihdr = struct.pack(">IIBBBBB", width, height, 8, _COLOR_TYPE[channels], 0, 0, 0)
    # each scanline starts with its filter type byte; 0 (None) keeps the encoder trivial
    rows = np.concatenate([np.zeros((height, 1), np.uint8), pixels.reshape(height, width * channels)], axis=1)
    return (_PNG_SIGNATURE + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
            + _chunk(b"IEND", b""))


def make_grid(I, ncols=8):
    """Tile an ``(N, 1 or 3, H, W)`` array into one ``(3, H*rows, W*cols)`` canvas, row-major."""
    if not isinstance(I, np.ndarray):
        raise AssertionError("plugin error, should pass numpy array here")
    if I.shape[1] == 1:
        I = np.concatenate([I, I, I], 1)
    if I.ndim != 4 or I.shape[1] != 3:
        raise AssertionError("Input should be a 4D numpy array with 3 channels")
    nimg, H, W = I.shape[0], I.shape[2], I.shape[3]
    ncols = min(nimg, ncols)
    nrows = int(np.ceil(float(nimg) / ncols))
    canvas = np.zeros((3, H * nrows, W * ncols), dtype=I.dtype)
    for i in range(nimg):
        y, x = divmod(i, ncols)
        canvas[:, y * H:(y + 1) * H, x * W:(x + 1) * W] = I[i]
    return canvas


def convert_to_HWC(tensor, input_format):
    """Reorder a NumPy image to ``(H, W, C)`` from a format string such as "CHW", "HWC", "HW" or "NCHW"."""
    if len(set(input_format)) != len(input_format):
        raise AssertionError(f"You can not use the same dimension shorthand twice. \
            input_format: {input_format}")
    if len(tensor.shape) != len(input_format):
        raise AssertionError(f"size of input tensor and input format are different. \
        tensor shape: {tensor.shape}, input_format: {input_format}")
    input_format = input_format.upper()
    if len(input_format) == 4:
        tensor_NCHW = tensor.transpose([input_format.find(c) for c in "NCHW"])
        return make_grid(tensor_NCHW).transpose(1, 2, 0)
    if len(input_format) == 3:
        tensor_HWC = tensor.transpose([input_format.find(c) for c in "HWC"])
        if tensor_HWC.shape[2] == 1:
            tensor_HWC = np.concatenate([tensor_HWC, tensor_HWC, tensor_HWC], 2)
        return tensor_HWC
    if len(input_format) == 2:
        tensor = tensor.transpose([input_format.find(c) for c in "HW"])
        return np.stack([tensor, tensor, tensor], 2)
    return None         # PyTorch falls through here too; the caller's unpacking then fails


def figure_to_image(figures, close=True):
    """Render a matplotlib figure (or a list of them) to a uint8 ``(3, H, W)`` (or ``(N, 3, H, W)``) array.

    Note that this requires the ``matplotlib`` package.
    """
    import matplotlib.pyplot as plt
    import matplotlib.backends.backend_agg as plt_backend_agg

    def render_to_rgb(figure):
        canvas = plt_backend_agg.FigureCanvasAgg(figure)
        canvas.draw()
        data = np.frombuffer(canvas.buffer_rgba(), dtype=np.uint8)
        w, h = figure.canvas.get_width_height()
        image_chw = np.moveaxis(data.reshape([h, w, 4])[:, :, 0:3], source=2, destination=0)
        if close:
            plt.close(figure)
        return image_chw

    if isinstance(figures, list):
        return np.stack([render_to_rgb(figure) for figure in figures])
    return render_to_rgb(figures)
