"""``ttorch.random``: the default generators' seeds and states, and ``fork_rng``.

Built over ``ttorch/_random.py`` (the generators themselves) and ``ttorch.cuda``'s per-device
Philox generators. As in PyTorch, ``manual_seed`` and ``seed`` set every device's generator.
"""
import contextlib
import warnings

from . import _random
from ._random import default_generator  # noqa: F401  (``torch.random.default_generator``)

__all__ = ["set_rng_state", "get_rng_state", "manual_seed", "seed", "initial_seed", "fork_rng"]


def set_rng_state(new_state):
    """Set the cpu generator's state (a ``uint8`` tensor from ``get_rng_state``)."""
    _random.set_rng_state(new_state)


def get_rng_state():
    """The cpu generator's state as a ``uint8`` tensor."""
    return _random.get_rng_state()


def manual_seed(seed):
    """Seed the cpu and every cuda generator; returns the cpu ``Generator``.

    Example::

        >>> _ = ttorch.random.manual_seed(0)
        >>> a = ttorch.rand(2); _ = ttorch.random.manual_seed(0)
        >>> bool((a == ttorch.rand(2)).all())
        True
    """
    return _random.manual_seed(int(seed))


def seed():
    """Seed every device's generator from fresh entropy, the same seed on all; returns it."""
    s = _random.seed()
    _random.manual_seed(s)   # the cuda generators take the cpu's new seed, as torch.seed does
    return s


def initial_seed():
    """The cpu generator's initial seed."""
    return _random.initial_seed()


_fork_rng_warned_already = False


@contextlib.contextmanager
def fork_rng(devices=None, enabled=True, _caller="fork_rng", _devices_kw="devices", device_type="cuda"):
    """Within the block, draw random numbers freely: the cpu and cuda generators' states come back on exit.

    Args:
        devices (iterable of int, optional): cuda devices whose state to restore; default all of them
            (with a warning when there are several, as in PyTorch).
        enabled (bool): ``False`` makes this a no-op.
        device_type (str): the accelerator's type; only ``"cuda"`` (and ``"meta"``, a no-op) exist here.

    Example::

        >>> with ttorch.random.fork_rng():
        ...     _ = ttorch.rand(3)
    """
    from . import cuda
    if device_type == "meta" or not enabled:
        yield
        return
    if device_type != "cuda":
        raise RuntimeError(f"torch has no module of `{device_type}`, you should register a module by "
                           "`torch._register_device_module`.")
    global _fork_rng_warned_already
    if devices is None:
        num_devices = cuda.device_count()
        if num_devices > 1 and not _fork_rng_warned_already:
            t = device_type.upper()
            warnings.warn(
                f"{t} reports that you have {num_devices} available devices, and you have used {_caller} without "
                f"explicitly specifying which devices are being used. For safety, we initialize *every* {t} device "
                f"by default, which can be quite slow if you have a lot of {t}s. If you know that you are only "
                f"making use of a few {t} devices, set the environment variable {t}_VISIBLE_DEVICES or the "
                f"'{_devices_kw}' keyword argument of {_caller} with the set of devices you are actually using. For "
                f"example, if you are using CPU only, set device.upper()_VISIBLE_DEVICES= or devices=[]; if you are "
                f"using device 0 only, set {t}_VISIBLE_DEVICES=0 or devices=[0].  To initialize all devices and "
                f"suppress this warning, set the '{_devices_kw}' keyword argument to "
                f"`range(torch.{device_type}.device_count())`.", stacklevel=3)
            _fork_rng_warned_already = True
        devices = list(range(num_devices))
    else:
        devices = list(devices)
    cpu_state = get_rng_state()
    device_states = [cuda.get_rng_state(d) for d in devices]
    try:
        yield
    finally:
        set_rng_state(cpu_state)
        for d, state in zip(devices, device_states):
            cuda.set_rng_state(state, d)
