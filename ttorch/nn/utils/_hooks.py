"""The forward pre-hooks that reparametrize a module's tensor (weight_norm, spectral_norm, prune): found by
their class and the tensor's name."""


def find_hook(module, cls, name, attr="name"):
    """``(key, hook)`` of ``module``'s forward pre-hook of class ``cls`` acting on ``name``, or ``(None, None)``."""
    for k, hook in module._forward_pre_hooks.items():
        if isinstance(hook, cls) and getattr(hook, attr) == name:
            return k, hook
    return None, None


def remove_hook(module, cls, name, missing, attr="name"):
    """Undo the reparametrization of ``module.<name>`` by its ``cls`` hook (``hook.remove``), or raise
    ValueError(``missing``) where there is none."""
    k, hook = find_hook(module, cls, name, attr)
    if hook is None:
        raise ValueError(missing)
    hook.remove(module)
    del module._forward_pre_hooks[k]
    return module
