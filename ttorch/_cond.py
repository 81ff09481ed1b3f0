"""``torch.cond(pred, true_fn, false_fn, operands)``: data-dependent control flow as one call.

PyTorch traces both branches with ``torch.compile`` when ``pred`` is a tensor (and checks that they return
the same structure); ttorch runs eagerly and calls only the branch ``pred`` picks, after PyTorch's checks
of the arguments. A Python ``pred`` (bool, int, float) just picks a branch, as in PyTorch's eager path.
Differences: the branch not taken is never run, so its outputs are not compared with the other's, and a
branch returning one of its operands as it is (which PyTorch's tracing refuses as aliasing) is allowed.
"""
from .func._pytree import tree_flatten

__all__ = ["cond", "while_loop"]


def cond(pred, true_fn, false_fn, operands=()):
    """``true_fn(*operands)`` if ``pred`` else ``false_fn(*operands)``.

    Args:
        pred (bool or Tensor): a Python constant or a one-element tensor.
        true_fn, false_fn (Callable): the branches, called with ``*operands``.
        operands (tuple or list): tensors (possibly nested in dicts, lists and tuples).

    Example::

        >>> x = ttorch.ones(3)
        >>> ttorch.cond(x.sum() > 0, lambda x: x + 1, lambda x: x - 1, (x,))
        tensor([2., 2., 2.])
    """
    from ._tensor import Tensor
    if isinstance(pred, (bool, int, float)):
        return true_fn(*operands) if pred else false_fn(*operands)
    if not isinstance(pred, Tensor):
        raise RuntimeError(f"Expected pred to be bool or tensor, but got {pred}.")
    if pred.numel() != 1:
        raise RuntimeError(f"Expected pred to be bool or single-element tensor, but got {pred}.")
    if not callable(true_fn) or not callable(false_fn):
        raise RuntimeError("Expect both branches to be callable.")
    if not isinstance(operands, (tuple, list)) or any(not isinstance(t, Tensor) for t in tree_flatten(operands)[0]):
        raise RuntimeError("Expect operands to be a tuple of possibly nested dict/list/tuple that only consists of "
                           f"tensor leaves, but got {operands}.")
    return true_fn(*operands) if bool(pred.item()) else false_fn(*operands)


def while_loop(cond_fn, body_fn, carried_inputs):
    """``while cond_fn(*carried): carried = body_fn(*carried)``, returned: the last ``body_fn`` result (as it
    returned it), or ``carried_inputs`` when the loop never runs. PyTorch traces it as one higher-order op; ttorch
    runs it eagerly, checking that each ``body_fn`` result has as many leaves as ``carried_inputs``.

    Example::

        >>> import ttorch
        >>> ttorch.while_loop(lambda i, x: i < 3, lambda i, x: (i + 1, x * 2), (ttorch.tensor(0), ttorch.ones(2)))
        (tensor(3), tensor([8., 8.]))
    """
    if not isinstance(carried_inputs, (tuple, list)):
        raise RuntimeError(f"carried_inputs must be a tuple or list, got {type(carried_inputs)}")
    n = len(tree_flatten(carried_inputs)[0])
    out, carried = carried_inputs, tuple(carried_inputs)
    while bool(cond_fn(*carried)):
        out = body_fn(*carried)
        leaves = tree_flatten(out)[0]
        if len(leaves) != n:
            raise RuntimeError(f"Expected body_fn_output and carried_inputs to have same number of outputs but got "
                               f"lhs:{leaves} and rhs:{tree_flatten(carried_inputs)[0]}")
        carried = tuple(out) if isinstance(out, (tuple, list)) else (out,)
    return out
