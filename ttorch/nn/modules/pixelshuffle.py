"""PixelShuffle / PixelUnshuffle (sub-pixel convolution rearrangements)."""
from .. import functional as F
from .module import Module

__all__ = ["PixelShuffle", "PixelUnshuffle"]


class PixelShuffle(Module):
    r"""Rearranges (*, C * r^2, H, W) into (*, C, H * r, W * r).

    Example::
        >>> import ttorch
        >>> ttorch.nn.PixelShuffle(3)(ttorch.randn(1, 9, 4, 4)).shape
        ttorch.Size([1, 1, 12, 12])
    """
    __constants__ = ["upscale_factor"]

    def __init__(self, upscale_factor):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input):
        return F.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self):
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    r"""Rearranges (*, C, H * r, W * r) into (*, C * r^2, H, W).

    Example::
        >>> import ttorch
        >>> ttorch.nn.PixelUnshuffle(3)(ttorch.randn(1, 1, 12, 12)).shape
        ttorch.Size([1, 9, 4, 4])
    """
    __constants__ = ["downscale_factor"]

    def __init__(self, downscale_factor):
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input):
        return F.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self):
        return f"downscale_factor={self.downscale_factor}"


class ChannelShuffle(Module):
    r"""Shuffles (N, g * c, *) channels read as (g, c) into (c, g) order (``F.channel_shuffle``).

    Example::
        >>> import ttorch
        >>> ttorch.nn.ChannelShuffle(2)(ttorch.arange(4.).reshape(1, 4, 1, 1)).flatten().tolist()
        [0.0, 2.0, 1.0, 3.0]
    """
    __constants__ = ["groups"]

    def __init__(self, groups):
        super().__init__()
        self.groups = groups

    def forward(self, input):
        return F.channel_shuffle(input, self.groups)

    def extra_repr(self):
        return f"groups={self.groups}"
