"""``torch.utils.swap_tensors(t1, t2)``: exchange the contents of two tensor objects, keeping their identities
(what ``nn.Module._apply`` does under ``torch.__future__.set_swap_module_params_on_conversion(True)``, so that
optimizers and other holders of a parameter see the converted one).

A ttorch tensor keeps all its state in its ``__dict__`` (no C++ tensor behind it), so swapping the classes
and the dicts swaps everything: data, shape, dtype, device, grad, requires_grad, hooks, views. As in
PyTorch, a graph that already reached one of them through a leaf's ``AccumulateGrad`` is poisoned: running
its backward raises. Difference: PyTorch also refuses a tensor with other references to it (its use count,
which CPython gives ttorch no reliable way to read); ttorch swaps such tensors.
"""
import copyreg
import weakref

__all__ = ["swap_tensors"]


def _poison(t):
    """Make the live ``AccumulateGrad`` of leaf ``t`` (if any) raise when run; the next use of ``t`` in a
    graph gets a new one."""
    node = t._grad_acc() if t.__dict__.get("_grad_acc") is not None else None
    if node is None:
        return

    def error_pre_hook(grad_outputs):
        raise RuntimeError(
            "Trying to execute AccumulateGrad node that was poisoned by swap_tensors this can happen when you try "
            "to run backward on a tensor that was swapped. For a module m with "
            "`torch.__future__.set_swap_module_params_on_conversion(True)` you should not change the device or "
            "dtype of the module (e.g. `m.cpu()` or `m.half()`) between running forward and backward. To resolve "
            "this, please only change the device/dtype before running forward (or after both forward and "
            "backward).")
    node.register_prehook(error_pre_hook)
    t._grad_acc = None


def swap_tensors(t1, t2):
    """Swap the contents of tensors ``t1`` and ``t2``: afterwards ``t1`` is what ``t2`` was, and the other way,
    each keeping its identity (``id``).

    Example::

        >>> a, b = ttorch.ones(2), ttorch.zeros(3)
        >>> ttorch.utils.swap_tensors(a, b)
        >>> a, b
        (tensor([0., 0., 0.]), tensor([1., 1.]))
    """
    if weakref.getweakrefs(t1):
        raise RuntimeError("Cannot swap t1 because it has weakref associated with it")
    if weakref.getweakrefs(t2):
        raise RuntimeError("Cannot swap t2 because it has weakref associated with it")
    if set(copyreg._slotnames(t1.__class__)) != set(copyreg._slotnames(t2.__class__)):
        raise RuntimeError("Cannot swap t1 and t2 if they have different slots")
    _poison(t1)
    _poison(t2)
    t1.__class__, t2.__class__ = t2.__class__, t1.__class__
    t1.__dict__, t2.__dict__ = t2.__dict__, t1.__dict__
