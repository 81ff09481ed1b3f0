"""``ttorch.backends.mps``: Apple's Metal backend, which ttorch does not have."""


def is_available():
    """False: ttorch has no MPS device."""
    return False


def is_built():
    """False: ttorch is not built with MPS."""
    return False


__all__ = ["is_available", "is_built"]
