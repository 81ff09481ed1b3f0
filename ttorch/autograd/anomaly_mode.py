"""Anomaly mode: ``detect_anomaly`` and ``set_detect_anomaly``, as in PyTorch.

When on, every recorded node keeps the traceback of the forward call that made it, and the
engine checks each gradient a node returns: the first one holding NaN raises
``RuntimeError("Function 'XBackward0' returned nan values in its 0th output.")``. Before any
error in a node's backward propagates, a warning shows that node's forward traceback (and,
for nodes made by a ``create_graph`` backward, the traceback of the node that induced them).
When off, recording pays for one flag check and the engine for one per backward call.
"""
import functools
import os
import sys
import traceback
import warnings
import weakref

_state = {"enabled": False, "check_nan": True}

# node -> (formatted forward stack, parent node or None); weak, so a freed graph drops its entries
_METADATA = weakref.WeakKeyDictionary()
_running = [None]   # the node whose backward the engine is running (anomaly mode only)

_PKG = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# frames of the op machinery, dropped from the end of a recorded stack: the user's own call
# (or an nn module's) is the last frame shown, as PyTorch's C++ ops show no frames of their own
_INTERNAL = tuple(os.path.join(_PKG, p) for p in ("ops" + os.sep, "autograd" + os.sep, "_operators.py",
                                                   "_tensor.py", "_torch_function.py")) + (
    "<ttorch __torch_function__ trampoline>",)    # (the frames __torch_function__ dispatch adds, once it is on)


def is_anomaly_enabled():
    """Whether anomaly detection is on."""
    return _state["enabled"]


def is_anomaly_check_nan_enabled():
    """Whether anomaly detection checks backward results for NaN."""
    return _state["check_nan"]


def set_anomaly_enabled(enabled, check_nan=True):
    _state["enabled"] = bool(enabled)
    _state["check_nan"] = bool(check_nan)


class detect_anomaly:
    r"""Context manager (and decorator) that turns on anomaly detection for the autograd engine.

    Forward calls made inside record their traceback, so that a failing backward names the
    forward line that created the failing node; if ``check_nan``, a backward rule returning
    NaN raises an error.

    .. warning:: This mode should be enabled only for debugging: the checks slow programs down.

    Example::

        >>> with ttorch.autograd.detect_anomaly():   # doctest: +SKIP
        ...     y = x.sqrt() * 0
        ...     y.sum().backward()
        RuntimeError: Function 'SqrtBackward0' returned nan values in its 0th output.
    """

    def __init__(self, check_nan=True):
        self.prev = is_anomaly_enabled()
        self.check_nan = check_nan
        self.prev_check_nan = is_anomaly_check_nan_enabled()
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime and should only be "
                      "enabled for debugging.", stacklevel=2)

    def __enter__(self):
        set_anomaly_enabled(True, self.check_nan)

    def __exit__(self, *args):
        set_anomaly_enabled(self.prev, self.prev_check_nan)
        return False

    def __call__(self, fn):
        check_nan = self.check_nan

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev, prev_nan = is_anomaly_enabled(), is_anomaly_check_nan_enabled()
            set_anomaly_enabled(True, check_nan)
            try:
                return fn(*args, **kwargs)
            finally:
                set_anomaly_enabled(prev, prev_nan)
        return wrapper


class set_detect_anomaly:
    r"""Turn anomaly detection on or off; as a context manager, restore the previous mode on exit.

    Args:
        mode (bool): turn it on (True) or off (False).
        check_nan (bool): check backward results for NaN. Default: ``True``.
    """

    def __init__(self, mode, check_nan=True):
        self.prev = is_anomaly_enabled()
        self.prev_check_nan = is_anomaly_check_nan_enabled()
        set_anomaly_enabled(mode, check_nan)

    def __enter__(self):
        pass

    def __exit__(self, *args):
        set_anomaly_enabled(self.prev, self.prev_check_nan)
        return False


def _record(node):
    """Keep the forward traceback of a node being recorded (called only when anomaly mode is on)."""
    stack = traceback.extract_stack(sys._getframe(1))
    while stack and stack[-1].filename.startswith(_INTERNAL):
        stack.pop()
    _METADATA[node] = ("".join(stack.format()), _running[0])


def _user_stacklevel():
    """The stacklevel of the first caller outside ttorch's machinery (the ``backward()`` line)."""
    f, level = sys._getframe(2), 2
    while f is not None and f.f_code.co_filename.startswith(_INTERNAL):
        f, level = f.f_back, level + 1
    return level


def _print_stack(node):
    meta = _METADATA.get(node)
    level = _user_stacklevel()
    if meta is None:
        warnings.warn(f"Error detected in {node.name()}. No forward pass information available. Enable detect "
                      "anomaly during forward pass for more information.", stacklevel=level)
        return
    warnings.warn(f"Error detected in {node.name()}. Traceback of forward call that caused the error:\n{meta[0]}",
                  stacklevel=level)
    parent, seen = meta[1], {node}
    while parent is not None and parent not in seen:
        seen.add(parent)
        pmeta = _METADATA.get(parent)
        if pmeta is None:
            break
        warnings.warn(f"\n\nPrevious calculation was induced by {parent.name()}. Traceback of forward call that "
                      f"induced the previous calculation:\n{pmeta[0]}", stacklevel=level)
        parent = pmeta[1]


def _apply(node, grads, create_graph):
    """``node.apply`` under anomaly mode: nodes made meanwhile remember ``node`` as their parent;
    NaN in a returned gradient raises; any error first warns with the forward traceback."""
    prev = _running[0]
    _running[0] = node
    try:
        out = node.apply(grads, create_graph)
        if _state["check_nan"]:
            _check_nan(node, out)
        return out
    except Exception:
        _print_stack(node)
        raise
    finally:
        _running[0] = prev


def _check_nan(node, grads):
    from . import grad_mode
    from ..ops import FUNCTIONS
    with grad_mode.no_grad():
        for i, g in enumerate(grads):
            if g is not None and g.dtype.is_floating_point and bool(FUNCTIONS["isnan"](g).any()):
                raise RuntimeError(f"Function '{node.name()}' returned nan values in its {i}th output.")
