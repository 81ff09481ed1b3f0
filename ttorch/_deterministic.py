"""Deterministic mode: ``use_deterministic_algorithms``, its debug-mode spelling, and the alert.

One module global, ``MODE``, is what the kernels' hosts read (one attribute read on the hot path):
0 off, 1 on with ``warn_only``, 2 on. While it is on, the cuda ops whose kernels add by atomics in
floating point (their sums' rounding follows the order the atomics land in) take a deterministic
path, and an op with none warns or raises (``alert_not_deterministic``). ``FILL`` is ``MODE and
utils.deterministic.fill_uninitialized_memory``: what ``empty`` reads.

The ops that switch path, and those that alert, are listed in ``use_deterministic_algorithms``.
"""
import warnings

MODE = 0
FILL = False
_fill_uninitialized = [True]


def _set(mode):
    global MODE, FILL
    MODE = mode
    FILL = bool(mode) and _fill_uninitialized[0]


def use_deterministic_algorithms(mode, *, warn_only=False):
    """Sets whether ops must use deterministic algorithms: those that have one switch to it, and those
    that have none raise ``RuntimeError`` (with ``warn_only``, warn instead).

    On cuda these switch path (floating-point dtypes; integer sums are exact in any order):
    ``scatter_add``, ``scatter(reduce='add')``, ``scatter_reduce('sum')``, ``index_add`` (so weighted
    ``bincount`` and ``histc``), ``index_put``/``put_`` with ``accumulate=True``, and the backwards of
    ``gather``, ``index_select``, ``take_along_dim``, ``embedding`` and ``x[idx]``: a stable sort of
    the targets, then each target's terms added in index order (NumPy's ``add.at`` order, the cpu
    path's) instead of by atomics; ``scatter``, ``index_copy`` and ``index_put`` with repeated targets:
    the last value in index order wins (NumPy's); ``scaled_dot_product_attention``'s backward: dQ by its
    own kernel, not by atomics. No other ttorch kernel uses atomics, so what PyTorch makes raise on
    cuda (pooling, interpolation, padding and ``grid_sample`` backwards, ``nll_loss``, ``histc``,
    weighted ``bincount``, ``kthvalue``, ``median``...) runs without an alert here. ``put_`` without
    ``accumulate`` alerts on both devices, as in PyTorch. cpu paths (NumPy) are deterministic.
    ``backends.cudnn.deterministic`` is a separate flag, as in PyTorch. Differs from PyTorch: the
    alert's text ends before PyTorch's request to file an issue with PyTorch.

    Args:
        mode (bool): on or off.
        warn_only (bool): warn instead of raising where no deterministic algorithm exists. Default False.

    Example::

        >>> ttorch.use_deterministic_algorithms(True)
        >>> ttorch.are_deterministic_algorithms_enabled()
        True
        >>> ttorch.use_deterministic_algorithms(False)
    """
    if type(mode) is not bool:
        raise TypeError(f"_set_deterministic_algorithms(): argument 'mode' (position 1) must be bool, not "
                        f"{type(mode).__name__}")
    if type(warn_only) is not bool:
        raise TypeError(f"_set_deterministic_algorithms(): argument 'warn_only' must be bool, not "
                        f"{type(warn_only).__name__}")
    _set((1 if warn_only else 2) if mode else 0)


def are_deterministic_algorithms_enabled():
    """True while deterministic mode is on (``use_deterministic_algorithms(True)``)."""
    return MODE != 0


def is_deterministic_algorithms_warn_only_enabled():
    """True while deterministic mode is on with ``warn_only=True``."""
    return MODE == 1


_DEBUG_NAMES = {"default": 0, "warn": 1, "error": 2}


def set_deterministic_debug_mode(debug_mode):
    """The same switch as ``use_deterministic_algorithms``: ``"default"`` or 0 off, ``"warn"`` or 1 on
    with ``warn_only``, ``"error"`` or 2 on.

    Example::

        >>> ttorch.set_deterministic_debug_mode("warn")
        >>> ttorch.get_deterministic_debug_mode()
        1
        >>> ttorch.set_deterministic_debug_mode(0)
    """
    if isinstance(debug_mode, str):
        if debug_mode not in _DEBUG_NAMES:
            raise RuntimeError(f"invalid value of debug_mode, expected one of `default`, `warn`, `error`, but got "
                               f"{debug_mode}")
        debug_mode = _DEBUG_NAMES[debug_mode]
    elif isinstance(debug_mode, int):
        if debug_mode not in (0, 1, 2):
            raise RuntimeError(f"invalid value of debug_mode, expected 0, 1, or 2, but got {debug_mode}")
        debug_mode = int(debug_mode)
    else:
        raise TypeError(f"debug_mode must be str or int, but got {type(debug_mode)}")
    _set(debug_mode)


def get_deterministic_debug_mode():
    """The current mode as ``set_deterministic_debug_mode`` takes it: 0, 1 (warn) or 2 (error)."""
    return MODE


def alert_not_deterministic(caller):
    """Raise ``RuntimeError`` (or warn, with ``warn_only``) for ``caller``, an op that has no deterministic
    implementation, while deterministic mode is on; nothing while it is off."""
    if MODE == 2:
        raise RuntimeError(f"{caller} does not have a deterministic implementation, but you set "
                           "'torch.use_deterministic_algorithms(True)'. You can turn off determinism just for this "
                           "operation, or you can use the 'warn_only=True' option, if that's acceptable for your "
                           "application.")
    if MODE == 1:
        warnings.warn(f"{caller} does not have a deterministic implementation, but you set "
                      "'torch.use_deterministic_algorithms(True, warn_only=True)'.", UserWarning, stacklevel=3)


def plan_state():
    """The part of an op's ``plan_state`` (``ops/_plan.py``) that says which path its cuda code took."""
    return (MODE != 0,)


def fill_uninitialized(t):
    """Fill ``t``, new memory, as PyTorch does in deterministic mode: NaN (floats; complex: NaN real
    parts), the dtype's max (ints), True (bool)."""
    from .ops.creation import fill_
    from . import _dtype as D
    dt = t.dtype
    if dt.is_floating_point:
        value = float("nan")
    elif getattr(dt, "is_complex", False):     # PyTorch: NaN real parts, zero imaginary ones
        value = complex(float("nan"), 0.0)
    elif dt is D.bool:
        value = True
    else:
        value = D.iinfo(dt).max
    if t.numel():
        fill_(t, value)
    return t


__all__ = ["use_deterministic_algorithms", "are_deterministic_algorithms_enabled",
           "is_deterministic_algorithms_warn_only_enabled", "set_deterministic_debug_mode",
           "get_deterministic_debug_mode"]
