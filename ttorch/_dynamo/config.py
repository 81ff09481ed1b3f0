"""``ttorch._dynamo.config``: the settings libraries read or set around ``torch.compile``.

ttorch compiles nothing (``ttorch.compile`` runs the model eagerly), so these only hold their
values; setting a name PyTorch does not have raises ``AttributeError`` as PyTorch's config does,
which catches typos in ported code.
"""
import contextlib
import sys
import types

suppress_errors = False
verbose = False
cache_size_limit = 8
recompile_limit = 8
accumulated_cache_size_limit = 256
accumulated_recompile_limit = 256
capture_scalar_outputs = False
capture_dynamic_output_shape_ops = False
automatic_dynamic_shapes = True
assume_static_by_default = True
optimize_ddp = True
inline_inbuilt_nn_modules = True
force_parameter_static_shapes = True
guard_nn_modules = False
error_on_recompile = False
raise_on_ctx_manager_usage = True
specialize_int = False
allow_unspec_int_on_nn_module = False
skip_nnmodule_hook_guards = True
compiled_autograd = False

_KEYS = frozenset(k for k in dir() if not k.startswith("_") and k not in ("contextlib", "sys", "types"))


@contextlib.contextmanager
def _patch_cm(changes):
    module = sys.modules[__name__]
    old = {k: getattr(module, k) for k in changes}
    for k, v in changes.items():
        setattr(module, k, v)
    try:
        yield
    finally:
        for k, v in old.items():
            setattr(module, k, v)


def patch(arg1=None, arg2=None, **kwargs):
    """Change settings inside a ``with`` block (or a decorated function): ``patch("verbose", True)``,
    ``patch({"verbose": True})`` or ``patch(verbose=True)``."""
    changes = dict(kwargs)
    if isinstance(arg1, str):
        changes[arg1] = arg2
    elif isinstance(arg1, dict):
        changes.update(arg1)
    for k in changes:
        if k not in _KEYS:
            raise AttributeError(f"{__name__}.{k} does not exist")
    return _patch_cm(changes)


class _ConfigModule(types.ModuleType):
    def __setattr__(self, name, value):
        if not name.startswith("_") and name not in _KEYS and name != "patch":
            raise AttributeError(f"{self.__name__}.{name} does not exist")
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _ConfigModule
