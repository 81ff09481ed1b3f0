"""``ttorch.cuda.amp.common``."""
from importlib.util import find_spec

__all__ = ["amp_definitely_not_available"]


def amp_definitely_not_available():
    """True when neither cuda (real or simulated) nor torch_xla is there to run mixed precision on."""
    from ... import cuda
    return not (cuda.is_available() or find_spec("torch_xla"))
