"""``ttorch.cpu``: the host device, with PyTorch's few device functions and ``ttorch.cpu.amp``."""


def is_available():
    return True


def device_count():
    return 1


def current_device():
    return "cpu"


def synchronize(device=None):
    """Nothing to wait for: cpu ops finish before they return."""


from . import amp  # noqa: E402

__all__ = ["is_available", "device_count", "current_device", "synchronize", "amp"]
