"""``functionalize`` and ``replace_all_batch_norm_modules_``: PyTorch's ``torch.func`` helpers for programs
that mutate.

``functionalize(f)`` in PyTorch traces ``f`` with its in-place and ``out=`` ops replaced by out-of-place
ones (for compilers and transforms that cannot handle mutation), copying the final values back into
mutated inputs. ttorch's transforms (``grad``, ``vmap``, ``jacrev``...) run eagerly and accept in-place
ops, so the function returned computes the same results by running ``f`` as it is: its outputs are
``f``'s, and inputs ``f`` mutates end mutated, as PyTorch's copy-back leaves them. ``remove`` is checked
as PyTorch checks it; ``"mutations_and_views"`` (PyTorch: views become copies) changes nothing either,
except that returned views of inputs are returned as copies, as PyTorch's ``*_copy`` ops produce.
"""
import functools

from ._pytree import tree_flatten, tree_unflatten

__all__ = ["functionalize", "replace_all_batch_norm_modules_"]


def functionalize(func, *, remove="mutations"):
    """A function computing what ``func`` computes (see the module docstring).

    Args:
        func (Callable): the function.
        remove (str): ``"mutations"`` or ``"mutations_and_views"``.

    Example::

        >>> def f(x):
        ...     y = x.clone()
        ...     y.add_(1)
        ...     return y
        >>> ttorch.func.functionalize(f)(ttorch.zeros(2))
        tensor([1., 1.])
    """
    if remove not in ("mutations", "mutations_and_views"):
        raise RuntimeError(
            f"functionalize(f, remove='mutations'): received invalid argument for remove={remove}. Valid options "
            "are:\n     remove='mutations': all inplace and out= operators will be removed from the program, and "
            "replaced with their out-of-place equivalents.\n     remove='mutations_and_views': In addition to the "
            "above, all aliasing operators {view} will be replaced with their non-aliasing counterparts, "
            "{view}_copy.\n")
    copy_views = remove == "mutations_and_views"

    @functools.wraps(func)
    def wrapped(*args, **kwargs):
        out = func(*args, **kwargs)
        if not copy_views:
            return out
        from .._tensor import Tensor
        leaves, spec = tree_flatten(out)
        return tree_unflatten([t.clone() if isinstance(t, Tensor) and t._base is not None else t for t in leaves],
                              spec)
    return wrapped


def replace_all_batch_norm_modules_(root):
    """In place, make every batch-norm module in ``root`` (itself included) stop tracking running statistics:
    ``running_mean``, ``running_var`` and ``num_batches_tracked`` become None, ``track_running_stats`` False
    (so they normalize with batch statistics, which ``vmap`` over models needs). Returns ``root``.

    Example::

        >>> bn = ttorch.func.replace_all_batch_norm_modules_(ttorch.nn.BatchNorm1d(3))
        >>> bn.running_mean is None, bn.track_running_stats
        (True, False)
    """
    from ..nn.modules.batchnorm import _BatchNorm
    for module in root.modules():
        if isinstance(module, _BatchNorm) and module.track_running_stats:
            module.running_mean = None
            module.running_var = None
            module.num_batches_tracked = None
            module.track_running_stats = False
    return root
