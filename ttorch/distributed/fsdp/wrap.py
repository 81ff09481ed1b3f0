"""Auto-wrap policies for ``FullyShardedDataParallel``: which submodules become FSDP units of their own.

A policy is called as ``policy(module=m, recurse=r, nonwrapped_numel=n)``: with ``recurse=True`` it says
whether to look inside ``m``, with ``recurse=False`` whether to wrap ``m`` (``n``: the parameters of ``m``
that no unit inside it took). As PyTorch's ``torch.distributed.fsdp.wrap``.
"""
import contextlib
import functools

__all__ = ["always_wrap_policy", "lambda_auto_wrap_policy", "transformer_auto_wrap_policy",
           "size_based_auto_wrap_policy", "enable_wrap", "wrap", "CustomPolicy", "ModuleWrapPolicy"]


def always_wrap_policy(*args, **kwargs):
    return True


def lambda_auto_wrap_policy(module, recurse, nonwrapped_numel, lambda_fn):
    return True if recurse else bool(lambda_fn(module))


def transformer_auto_wrap_policy(module, recurse, nonwrapped_numel, transformer_layer_cls):
    return True if recurse else isinstance(module, tuple(transformer_layer_cls))


def size_based_auto_wrap_policy(module, recurse, nonwrapped_numel, min_num_params=int(1e8),
                                force_leaf_modules=None, exclude_wrap_modules=None):
    from ...nn import ModuleDict, ModuleList, MultiheadAttention
    force_leaf = tuple(force_leaf_modules or {MultiheadAttention})
    exclude = tuple(exclude_wrap_modules or {ModuleList, ModuleDict})
    if recurse:
        return not isinstance(module, force_leaf)
    return nonwrapped_numel >= min_num_params and not isinstance(module, exclude)


size_based_auto_wrap_policy.EXCLUDE_WRAP_MODULES = None     # (PyTorch's attributes: the defaults above)
size_based_auto_wrap_policy.FORCE_LEAF_MODULES = None


class ModuleWrapPolicy:
    """Wrap every submodule that is an instance of one of ``module_classes``."""

    def __init__(self, module_classes):
        self._module_classes = tuple(set(module_classes))

    def __call__(self, module, recurse, *args, **kwargs):
        return True if recurse else isinstance(module, self._module_classes)

    def __repr__(self):
        return super().__repr__() + f"({set(self._module_classes)})"


class CustomPolicy:
    """``lambda_fn(module)`` -> False (leave), True (wrap) or a dict of FSDP keyword arguments for the unit."""

    def __init__(self, lambda_fn):
        self._lambda_fn = lambda_fn

    def __call__(self, module, recurse, *args, **kwargs):
        return True if recurse else self._lambda_fn(module)


_wrap_context = []


@contextlib.contextmanager
def enable_wrap(*, wrapper_cls, **wrapper_kwargs):
    """Within the context, ``wrap(module)`` wraps with ``wrapper_cls(module, **wrapper_kwargs)``."""
    _wrap_context.append((wrapper_cls, wrapper_kwargs))
    try:
        yield
    finally:
        _wrap_context.pop()


def wrap(module, **wrap_overrides):
    """``module`` wrapped as ``enable_wrap`` said (the overrides win); unchanged outside ``enable_wrap``."""
    if not _wrap_context:
        return module
    cls, kwargs = _wrap_context[-1]
    return cls(module, **{**kwargs, **wrap_overrides})


def _partial_policy(policy, **kwargs):
    return functools.partial(policy, **kwargs)
