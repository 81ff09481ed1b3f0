"""``ttorch.utils.hooks``: ``RemovableHandle``, the one handle class every hook registration returns
(module, tensor, autograd node and optimizer hooks), and ``unserializable_hook``.

It needs nothing but ``weakref``, so ``ttorch/_tensor.py`` can make handles before the rest of
ttorch is imported. ``BackwardHook`` (the module full-backward-hook machinery) lives with
``nn.Module`` in ``ttorch/nn/modules/_hooks.py`` and is re-exported here, as PyTorch has it.
"""
import warnings
import weakref
from collections import OrderedDict

__all__ = ["RemovableHandle", "unserializable_hook", "warn_if_has_hooks", "BackwardHook"]


class RemovableHandle:
    """A handle that removes a hook from its dict(s).

    Args:
        hooks_dict (dict): the hooks, keyed by handle ``id``; held weakly.
        extra_dict (dict or list of dict, optional): more dicts to remove the same key from.

    Example::

        >>> from collections import OrderedDict
        >>> hooks = OrderedDict(); h = RemovableHandle(hooks); hooks[h.id] = print
        >>> h.remove(); len(hooks)
        0
    """

    next_id = 0

    def __init__(self, hooks_dict, *, extra_dict=None):
        self.hooks_dict_ref = weakref.ref(hooks_dict)
        self.id = RemovableHandle.next_id
        RemovableHandle.next_id += 1
        self.extra_dict_ref = ()
        if isinstance(extra_dict, dict):
            self.extra_dict_ref = (weakref.ref(extra_dict),)
        elif isinstance(extra_dict, list):
            self.extra_dict_ref = tuple(weakref.ref(d) for d in extra_dict)

    def remove(self):
        hooks_dict = self.hooks_dict_ref()
        if hooks_dict is not None and self.id in hooks_dict:
            del hooks_dict[self.id]
        for ref in self.extra_dict_ref:
            extra = ref()
            if extra is not None and self.id in extra:
                del extra[self.id]

    def __getstate__(self):
        # the dicts themselves: pickled with the module that holds them, they come back shared with it
        return (self.hooks_dict_ref(), self.id, tuple(ref() for ref in self.extra_dict_ref))

    def __setstate__(self, state):
        # a dict that was gone when pickled comes back as a dead reference (PyTorch's rule)
        self.hooks_dict_ref = weakref.ref(OrderedDict() if state[0] is None else state[0])
        self.id = state[1]
        RemovableHandle.next_id = max(RemovableHandle.next_id, self.id + 1)
        self.extra_dict_ref = tuple(weakref.ref(d) for d in (state[2] if len(state) > 2 else ()) if d is not None)

    def __enter__(self):
        return self

    def __exit__(self, type, value, tb):
        self.remove()


def unserializable_hook(f):
    """Mark ``f`` as a hook that is not saved with its tensor, silencing ``warn_if_has_hooks``."""
    f.__torch_unserializable__ = True
    return f


def warn_if_has_hooks(tensor):
    """Warn for each gradient hook of ``tensor`` not marked with ``unserializable_hook`` (hooks are not saved)."""
    hooks = getattr(tensor, "_hooks", None) or {}
    for hook in hooks.values():
        if not hasattr(hook, "__torch_unserializable__"):
            warnings.warn(f"backward hook {hook!r} on tensor will not be serialized.  If this is expected, you can "
                          "decorate the function with @torch.utils.hooks.unserializable_hook to suppress this "
                          "warning", stacklevel=2)


def __getattr__(name):
    if name == "BackwardHook":   # imported late: nn builds on this module
        from ..nn.modules._hooks import BackwardHook
        return BackwardHook
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
