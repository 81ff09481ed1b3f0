"""``ttorch.testing``: ``assert_close``, ``make_tensor`` and the deprecated ``assert_allclose``.

``FileCheck`` (a TorchScript IR checker) is not provided: ttorch has no TorchScript.
"""
from ._comparison import assert_close, assert_allclose, default_tolerances  # noqa: F401
from ._creation import make_tensor

__all__ = ["assert_close", "make_tensor", "assert_allclose"]
