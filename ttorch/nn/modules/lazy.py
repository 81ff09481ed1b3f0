"""``LazyModuleMixin``: modules whose parameter shapes come from their first input (``LazyLinear``).

Until the first call they hold ``UninitializedParameter`` s and ``UninitializedBuffer`` s; a forward
pre-hook then calls ``initialize_parameters(*args, **kwargs)``, which materializes them and calls
``reset_parameters()``, removes itself and turns the module into ``cls_to_become`` (``Linear``).
"""
import itertools

from ...autograd import grad_mode
from ..parameter import is_lazy

__all__ = ["LazyModuleMixin"]


class LazyModuleMixin:
    r"""A mixin for modules that infer their parameters' shapes from the first input.

    Move or cast a lazy module before its first call (only dtype and device are known until then);
    after it, the module is the regular class and its parameters are regular ``Parameter`` s.
    A state dict holds ``<UninitializedParameter>`` entries; loading initialized values into a lazy
    module materializes its parameters with their shapes, and its first call keeps those values.

    Example::

        >>> import ttorch
        >>> from ttorch import nn
        >>> mlp = nn.Sequential(nn.LazyLinear(4), nn.ReLU(), nn.LazyLinear(1))
        >>> mlp[0]
        LazyLinear(in_features=0, out_features=4, bias=True)
        >>> mlp(ttorch.ones(2, 3)).shape
        ttorch.Size([2, 1])
        >>> mlp[0], mlp[2].weight.shape
        (Linear(in_features=3, out_features=4, bias=True), ttorch.Size([1, 4]))
    """

    cls_to_become = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._load_hook = self._register_load_state_dict_pre_hook(self._lazy_load_hook)
        self._initialize_hook = self.register_forward_pre_hook(self._infer_parameters, with_kwargs=True)

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        # an uninitialized tensor has no data to detach: it is saved as it is
        for name, param in self._parameters.items():
            if param is not None:
                destination[prefix + name] = param if is_lazy(param) or keep_vars else param.detach()
        for name, buf in self._buffers.items():
            if buf is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = buf if is_lazy(buf) or keep_vars else buf.detach()

    def _lazy_load_hook(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs):
        """Materialize the uninitialized tensors that the state dict has values for, with their shapes."""
        for name, param in itertools.chain(self._parameters.items(), self._buffers.items()):
            key = prefix + name
            if key in state_dict and is_lazy(param) and not is_lazy(state_dict[key]):
                with grad_mode.no_grad():
                    param.materialize(state_dict[key].shape)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        # an uninitialized entry loaded into an uninitialized tensor leaves it as it is (PyTorch copies
        # its empty data); set the entry aside, as the base class would ask both for their shapes
        both_lazy = {prefix + name for name, t in itertools.chain(self._parameters.items(), self._buffers.items())
                     if is_lazy(t) and is_lazy(state_dict.get(prefix + name))}
        held = {key: state_dict.pop(key) for key in both_lazy}
        try:
            super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                          error_msgs)
        finally:
            state_dict.update(held)
        missing_keys[:] = [key for key in missing_keys if key not in both_lazy]

    def initialize_parameters(self, *args, **kwargs):
        r"""Initialize parameters according to the input batch properties (each lazy module defines it)."""
        raise NotImplementedError(f"initialize_parameters is not implemented for {self.__class__.__name__}")

    def has_uninitialized_params(self):
        r"""Whether the module still holds uninitialized parameters or buffers."""
        return any(is_lazy(t) for t in itertools.chain(self._parameters.values(), self._buffers.values()))

    def _infer_parameters(self, module, args, kwargs=None):
        """The forward pre-hook: initialize from the first input, then become ``cls_to_become``."""
        module.initialize_parameters(*args, **(kwargs or {}))
        if module.has_uninitialized_params():
            raise RuntimeError(f"module {self._get_name()} has not been fully initialized")
        # removed by id rather than through the handles: a deep copy's handles still point at the
        # original module's hook dicts
        for hooks in (module._forward_pre_hooks, module._forward_pre_hooks_with_kwargs):
            hooks.pop(module._initialize_hook.id, None)
        module._load_state_dict_pre_hooks.pop(module._load_hook.id, None)
        delattr(module, "_initialize_hook")
        delattr(module, "_load_hook")
        if module.cls_to_become is not None:
            module.__class__ = module.cls_to_become
