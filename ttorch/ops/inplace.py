"""In-place ops: ``x.add_(y)`` computes ``add(x, y)`` and writes it into ``x``'s memory.

Writing bumps the version counter shared by ``x`` and its views, so a saved tensor changed
afterwards makes backward raise. When the result is recorded, ``x`` takes its graph node:
it becomes the output of the op, as in PyTorch (views of non-leaves are rebased in the
autograd issue).
"""
from ..autograd import grad_mode
from .._tensor import Tensor
from .elementwise import copy_into


def check_inplace(x, opname):
    if x.is_leaf and x.requires_grad and grad_mode._state["enabled"]:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")


def inplace_from(x, result, opname):
    """Store ``result`` (computed out of place) into ``x``; ``x`` takes its graph node."""
    check_inplace(x, opname)
    if result._shape != x._shape:
        raise RuntimeError(f"{opname}: output with shape {list(x.shape)} doesn't match the broadcast shape "
                           f"{list(result.shape)}")
    if result.dtype is not x.dtype and not _castable(result.dtype, x.dtype):
        from .._dtype import scalar_name
        raise RuntimeError(f"result type {scalar_name(result.dtype)} can't be cast to the desired output type "
                           f"{scalar_name(x.dtype)}")
    if result.grad_fn is not None:
        _keep_original(result.grad_fn, x)
    copy_into(x, result)
    x._bump_version()
    if result.grad_fn is not None:
        node = result.grad_fn
        if result.dtype is not x.dtype:
            with grad_mode.enable_grad():
                node = result.to(x.dtype).grad_fn
        x.grad_fn = node
        x._output_nr = result._output_nr
        x.requires_grad = True
    return x


def _keep_original(node, x):
    """The op that computed the new value of ``x`` saved ``x`` itself for its backward, and ``x``
    is about to be overwritten: give the backward a copy of the old value (``y.mul_(w)`` needs
    the old ``y`` for ``w``'s gradient)."""
    ctx = getattr(node, "_ctx", None)
    inputs = getattr(ctx, "inputs", None)
    if not inputs or not any(t is x for t in inputs):
        return
    with grad_mode.no_grad():
        orig = x.detach().clone()
    ctx._versions = tuple(orig._version if t is x else v for t, v in zip(inputs, ctx._versions))
    ctx.inputs = [orig if t is x else t for t in inputs]


def _castable(src, dst):
    return src._kind <= dst._kind if hasattr(src, "_kind") else True


def make_inplace(fn, name):
    """The in-place method ``name`` for out-of-place function ``fn``."""
    def method(self, *args, **kwargs):
        return inplace_from(self, fn(self, *args, **kwargs), name)
    method.__name__ = name
    method.__doc__ = f"In-place form of ``{fn.__name__}``; returns ``self``."
    return method
