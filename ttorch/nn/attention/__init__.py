"""``ttorch.nn.attention``: choose the backend of ``F.scaled_dot_product_attention`` (PyTorch's API).

ttorch has two paths: the fused flash-attention op (``ttorch.ops.attention``: Triton kernels on
cuda, NumPy on cpu) and the math path (a composite of ttorch ops, any dtype, dropout included).
``FLASH_ATTENTION``, ``EFFICIENT_ATTENTION`` and ``CUDNN_ATTENTION`` all name the fused op on cuda;
on cpu, as in PyTorch, only ``FLASH_ATTENTION`` and ``MATH`` exist. ``OVERRIDEABLE`` (for
out-of-tree devices) and ``ERROR`` select nothing.
"""
import contextlib
import enum

from ._registry import (register_flash_attention_impl, activate_flash_attention_impl,  # noqa: F401
                        restore_flash_attention_impl, list_flash_attention_impls, current_flash_attention_impl)

__all__ = ["SDPBackend", "sdpa_kernel", "WARN_FOR_UNFUSED_KERNELS", "register_flash_attention_impl",
           "activate_flash_attention_impl", "restore_flash_attention_impl", "list_flash_attention_impls",
           "current_flash_attention_impl"]

# PyTorch warns why the fused kernels were skipped when this is True; ttorch keeps the flag only.
WARN_FOR_UNFUSED_KERNELS = False


class SDPBackend(enum.Enum):
    """The backends of ``scaled_dot_product_attention``, with PyTorch's values.

    Like PyTorch's (a pybind11 enum) a member is not an ``int`` (``SDPBackend.MATH == 0`` is False)
    but converts to one (``int(SDPBackend.MATH) == 0``).
    """
    ERROR = -1
    MATH = 0
    FLASH_ATTENTION = 1
    EFFICIENT_ATTENTION = 2
    CUDNN_ATTENTION = 3
    OVERRIDEABLE = 4

    def __int__(self):
        return self.value


_NAMED = (SDPBackend.CUDNN_ATTENTION, SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH,
          SDPBackend.OVERRIDEABLE)
# Process-wide state, as PyTorch's global context holds it: the enabled backends and the order
# cuda tries them in (PyTorch's default [flash, efficient, math, cudnn, overrideable]).
_enabled = set(_NAMED)
_priority = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH, SDPBackend.CUDNN_ATTENTION,
             SDPBackend.OVERRIDEABLE]


def _cur_sdpa_kernel_backends(with_priority=False):
    """The enabled backends, in PyTorch's name order or (``with_priority``) in priority order."""
    backends = [b for b in _NAMED if b in _enabled]
    return sorted(backends, key=_priority.index) if with_priority else backends


def _sdpa_kernel(backends, set_priority=False):
    global _priority
    _enabled.clear()
    _enabled.update(b for b in _NAMED if b in backends)
    if set_priority:
        user = [b for b in backends if b is not SDPBackend.ERROR]
        _priority = user + [b for b in _priority if b not in user]


def _backend_order(device_type):
    """The backends ``scaled_dot_product_attention`` may try on ``device_type``, first choice first,
    and whether any is enabled there. cpu keeps PyTorch's fixed order (flash, then math)."""
    if device_type == "cuda":
        usable = [b for b in _priority if b is not SDPBackend.OVERRIDEABLE]
    else:
        usable = [SDPBackend.FLASH_ATTENTION, SDPBackend.MATH]
    return [b for b in usable if b in _enabled]


@contextlib.contextmanager
def sdpa_kernel(backends, set_priority=False):
    r"""Context manager (or decorator) that lets ``scaled_dot_product_attention`` use only ``backends``.

    Args:
        backends (SDPBackend or list of SDPBackend): the backends to enable; the others are disabled.
        set_priority (bool): read the list's order as the order to try them in (cuda; cpu always
            tries flash, then math, as PyTorch does).

    On exit the previous set (and priority) comes back. If none of the enabled backends can run a
    call, it raises ``RuntimeError``.

    Example::

        >>> from ttorch.nn.attention import SDPBackend, sdpa_kernel
        >>> q = ttorch.randn(1, 2, 3, 4)
        >>> with sdpa_kernel(SDPBackend.MATH):
        ...     ttorch.nn.functional.scaled_dot_product_attention(q, q, q).shape
        ttorch.Size([1, 2, 3, 4])
    """
    if not isinstance(backends, (list, SDPBackend)):
        raise AssertionError("Backend must be an instance of SDPBackend or a list of SDPBackend instances, got "
                             f"{type(backends).__name__}")
    if isinstance(backends, SDPBackend):
        backends = [backends]
    backends = list(dict.fromkeys(backends))
    previous = _cur_sdpa_kernel_backends(with_priority=set_priority)
    try:
        _sdpa_kernel(backends, set_priority)
        yield {}
    finally:
        _sdpa_kernel(previous, set_priority)
