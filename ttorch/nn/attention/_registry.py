"""The registry of flash-attention implementations: PyTorch's ``torch.nn.attention`` functions
``register_flash_attention_impl``, ``activate_flash_attention_impl``, ``restore_flash_attention_impl``,
``list_flash_attention_impls`` and ``current_flash_attention_impl``.

A provider registers a function under a name; activating the name calls it, and it installs its kernels
and may return a handle whose ``remove()`` uninstalls them (``restore`` calls it). PyTorch's functions
register with its dispatcher; in ttorch a provider replaces the implementation of the fused op
``ttorch.ops.REGISTRY["flash_attention"]`` (its ``cuda``/``cpu`` attributes) and its handle puts the
old ones back. ttorch's own Triton flash kernels are the default and are listed as ``"TTORCH_TRITON"``
(activating it changes nothing and leaves ``current_flash_attention_impl()`` at None, the default);
PyTorch's ``"FA3"``/``"FA4"`` wrap CUDA packages built for PyTorch and are not listed.
"""
import logging

__all__ = ["register_flash_attention_impl", "activate_flash_attention_impl", "restore_flash_attention_impl",
           "list_flash_attention_impls", "current_flash_attention_impl"]

logger = logging.getLogger(__name__)

_FLASH_ATTENTION_IMPLS = {}
_FLASH_ATTENTION_ACTIVE = None      # (name, handle) of the activated impl; None: the default


def register_flash_attention_impl(impl, *, register_fn):
    """Register ``register_fn`` (called by ``activate_flash_attention_impl(impl)``; it may return a handle
    with ``remove()``) under the name ``impl``."""
    _FLASH_ATTENTION_IMPLS[impl] = register_fn


def activate_flash_attention_impl(impl):
    """Restore the default, then call the function registered as ``impl``; keep its handle if it returns one.

    Example::

        >>> from ttorch.nn.attention import activate_flash_attention_impl, current_flash_attention_impl
        >>> activate_flash_attention_impl("TTORCH_TRITON")
        >>> print(current_flash_attention_impl())
        None
    """
    global _FLASH_ATTENTION_ACTIVE
    restore_flash_attention_impl(_raise_warn=False)
    register_fn = _FLASH_ATTENTION_IMPLS.get(impl)
    if register_fn is None:
        raise ValueError(f"Unknown flash attention impl '{impl}'. Available implementations: "
                         f"{list_flash_attention_impls()}")
    handle = register_fn()
    if handle is not None:
        _FLASH_ATTENTION_ACTIVE = (impl, handle)


def restore_flash_attention_impl(_raise_warn=True):
    """Remove the activated impl (its handle's ``remove()``), back to ttorch's own kernels."""
    global _FLASH_ATTENTION_ACTIVE
    handle = _FLASH_ATTENTION_ACTIVE[1] if _FLASH_ATTENTION_ACTIVE is not None else None
    if handle is not None:
        handle.remove()
    elif _raise_warn:
        logger.warning("Trying to restore default FA2 impl when no custom impl was activated")
    _FLASH_ATTENTION_ACTIVE = None


def list_flash_attention_impls():
    """The registered names, sorted."""
    return sorted(_FLASH_ATTENTION_IMPLS.keys())


def current_flash_attention_impl():
    """The name of the activated impl, or None (the default)."""
    return _FLASH_ATTENTION_ACTIVE[0] if _FLASH_ATTENTION_ACTIVE is not None else None


# ttorch's own kernels (ops/attention.py) are what runs by default: nothing to install
register_flash_attention_impl("TTORCH_TRITON", register_fn=lambda: None)
