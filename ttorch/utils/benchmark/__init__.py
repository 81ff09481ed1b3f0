"""``ttorch.utils.benchmark``: ``Timer``, ``Measurement`` and ``Compare``, as in PyTorch.

Import it explicitly (``import ttorch.utils.benchmark``), as PyTorch requires. Python statements
only (no C++ timing, no Callgrind, no fuzzers); cuda is synchronized around each timed block.
"""
from .common import *  # noqa: F401,F403
from .timer import *  # noqa: F401,F403
from .compare import *  # noqa: F401,F403
