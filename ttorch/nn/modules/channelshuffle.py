"""``ttorch.nn.modules.channelshuffle``: ``ChannelShuffle`` (defined with ``PixelShuffle``)."""
from .pixelshuffle import ChannelShuffle  # noqa: F401

__all__ = ["ChannelShuffle"]
