"""``ModuleTracker``: which ``nn.Module`` (by its path from the root, "Model.layer1") is running, in the
forward pass and in the backward pass, as PyTorch's ``torch.utils.module_tracker`` tracks it."""
import logging
import weakref

from .. import Tensor
from ..autograd import engine as _engine
from ..autograd.graph import register_multi_grad_hook
from ..nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook

__all__ = ["ModuleTracker"]

logger = logging.getLogger(__name__)


def _flat_tensors(x):
    """The tensors in nested tuples, lists and dict values (PyTorch flattens its pytree)."""
    if isinstance(x, Tensor):
        return [x]
    if isinstance(x, (tuple, list)):
        return [t for v in x for t in _flat_tensors(v)]
    if isinstance(x, dict):
        return [t for v in x.values() for t in _flat_tensors(v)]
    return []


class ModuleTracker:
    """A context manager tracking the ``nn.Module`` hierarchy during execution.

    ``parents`` is the set of the running modules' names ("Global" always among them): the root module
    is named after its class, a submodule after its parent's name and its attribute ("Model.layer1").
    In backward a module is entered when the gradients of its outputs are ready and left when those of
    its inputs are; ``is_bw`` tells whether a backward pass is running. As in PyTorch, backward
    entries stay in ``parents`` until the pass ends when a module's inputs do not require grad.

    Example::

        >>> from ttorch.utils.module_tracker import ModuleTracker
        >>> seen = []
        >>> class Probe(ttorch.nn.Module):
        ...     def forward(self, x):
        ...         seen.append(sorted(tracker.parents))
        ...         return x
        >>> with ModuleTracker() as tracker:
        ...     _ = ttorch.nn.Sequential(Probe())(ttorch.ones(1))
        >>> seen
        [['Global', 'Sequential', 'Sequential.0']]
    """

    def __init__(self):
        self._parents = {"Global"}
        self._known_modules = weakref.WeakKeyDictionary()
        self._seen_modules = weakref.WeakSet()
        self._bw_task = None        # the backward pass that entered modules (PyTorch queues an engine callback)
        self._hooks = []

    @property
    def parents(self):
        # PyTorch resets ``parents`` by a callback at the end of the backward pass that entered a module;
        # here the reset happens at the first look after that pass ended
        if self._bw_task is not None and self._bw_task not in _engine.TASKS:
            self._parents = {"Global"}
            self._bw_task = None
        return self._parents

    @parents.setter
    def parents(self, value):
        self._parents = value

    @property
    def is_bw(self):
        """Whether a backward pass is running."""
        return bool(_engine.TASKS)

    def _get_mod_name(self, mod):
        if mod not in self._known_modules:
            self._known_modules[mod] = type(mod).__name__
        mod_name = self._known_modules[mod]
        if mod not in self._seen_modules:
            for name, submod in mod.named_children():
                self._known_modules[submod] = f"{mod_name}.{name}"
                self._get_mod_name(submod)
            self._seen_modules.add(mod)
        return mod_name

    def _get_append_fn(self, name, is_bw):
        def fn(*args):
            parents = self.parents
            if is_bw and self._bw_task is None and _engine.TASKS:
                self._bw_task = _engine.TASKS[-1]
            if name in parents:
                logger.info("The module hierarchy tracking seems to be broken as this Module was already entered. "
                            "%s during %s", name, "backward" if is_bw else "forward")
            parents.add(name)
        return fn

    def _get_pop_fn(self, name, is_bw):
        def fn(*args):
            parents = self.parents
            if name in parents:
                parents.remove(name)
            else:
                logger.info("The Module hierarchy tracking is confused as we're exiting a Module that was never "
                            "entered. %s during %s", name, "backward" if is_bw else "forward")
        return fn

    def _fw_pre_hook(self, mod, input):
        name = self._get_mod_name(mod)
        self._get_append_fn(name, False)()
        tensors = [a for a in _flat_tensors(input) if a.requires_grad]
        if tensors:
            self._hooks.append(register_multi_grad_hook(tensors, self._get_pop_fn(name, True)))

    def _fw_post_hook(self, mod, input, output):
        name = self._get_mod_name(mod)
        self._get_pop_fn(name, False)()
        tensors = [a for a in _flat_tensors(output) if a.requires_grad]
        if tensors:
            self._hooks.append(register_multi_grad_hook(tensors, self._get_append_fn(name, True)))

    def __enter__(self):
        self._fw_pre_handle = register_module_forward_pre_hook(self._fw_pre_hook)
        self._fw_post_handle = register_module_forward_hook(self._fw_post_hook)
        return self

    def __exit__(self, *args):
        self._fw_pre_handle.remove()
        self._fw_post_handle.remove()
        for hook in self._hooks:
            hook.remove()
        self._hooks.clear()
