"""In-place ops: ``x.add_(y)`` computes ``add(x, y)`` and writes it into ``x``'s memory.

Writing bumps the version counter shared by ``x`` and its views, so a saved tensor changed
afterwards makes backward raise. When the result is recorded, ``x`` takes its graph node:
it becomes the output of the op, as in PyTorch. When ``x`` is a view, its base takes a
``CopySlices`` node instead, and the views of the base are replayed from it
(``autograd/views.py``).
"""
from ..autograd import grad_mode, forward_ad
from ..autograd.views import check_view_inplace, rebase_view, replay_views
from . import _op
from .elementwise import copy_into
from .._tensor import Tensor


def check_inplace(x, opname, requires_grad=None):
    """PyTorch's refusals before writing ``x`` in place; ``requires_grad``: whether any input of
    the op requires grad (default: ``x`` does)."""
    if grad_mode._state["enabled"]:
        if x._base is not None and (x.requires_grad if requires_grad is None else requires_grad):
            check_view_inplace(x)
        if x.is_leaf and x.requires_grad:
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")


def inplace_from(x, result, opname):
    """Store ``result`` (computed out of place) into ``x``; ``x`` takes its graph node."""
    if x.is_nested:     # (ttorch/nested: its values take the result's)
        return x._inplace_from(result, opname)
    if type(x) is not Tensor and hasattr(x, "_inplace_from"):     # a DTensor: its local tensor takes the result's
        return x._inplace_from(result, opname)
    if type(result) is not Tensor and hasattr(result, "_inplace_into"):     # vmap: a batched result, unbatched x
        return result._inplace_into(x, opname)
    if x.dtype.is_complex and opname in ("abs_", "angle_"):     # (PyTorch's refusal: a real result)
        raise RuntimeError(f"In-place {opname[:-1]} is not supported for complex tensors.")
    check_inplace(x, opname, x.requires_grad or result.requires_grad)
    if result._shape != x._shape:
        raise RuntimeError(f"{opname}: output with shape {list(x.shape)} doesn't match the broadcast shape "
                           f"{list(result.shape)}")
    if result.dtype is not x.dtype and not _castable(result.dtype, x.dtype):
        from .._dtype import scalar_name
        raise RuntimeError(f"result type {scalar_name(result.dtype)} can't be cast to the desired output type "
                           f"{scalar_name(x.dtype)}")
    if result.grad_fn is not None and x._base is not None and x._base.dtype is not x.dtype:
        # (CopySlices replays views in the base's own dtype)
        raise RuntimeError(f"{opname}: ttorch does not record in-place ops on a real view (view_as_real, .real, "
                           ".imag) of a complex tensor that requires grad; compute the new value out of place "
                           "(ttorch.complex(re, im)) instead")
    if result.grad_fn is not None:
        _keep_original(result.grad_fn, x)
    copy_into(x, result)
    x._bump_version()
    if _op._forward_ad is not None:
        forward_ad.written(x, result)
    if result.grad_fn is not None:
        if result.dtype is not x.dtype:
            with grad_mode.enable_grad():
                result = result.to(x.dtype)
        if x._base is not None:
            rebase_view(x, result)
            return x
        x.grad_fn = result.grad_fn
        x._output_nr = result._output_nr
        x.requires_grad = True
        if x._views is not None:    # views of x now see the new history
            replay_views(x)
    return x


def fw_tracked(*tensors):
    """Whether a write into ``tensors[0]`` must go through its op (``inplace_from``) for forward AD:
    one of ``tensors`` has a tangent (callers test ``_op._forward_ad`` first: a dual level is on)."""
    return forward_ad.tracks(*tensors)


def _keep_original(node, x):
    """The op that computed the new value of ``x`` saved ``x`` itself for its backward, and ``x``
    is about to be overwritten: give the backward a copy of the old value (``y.mul_(w)`` needs
    the old ``y`` for ``w``'s gradient)."""
    ctx = getattr(node, "_ctx", None)
    inputs = getattr(ctx, "inputs", None)
    if getattr(ctx, "_packed", None) is not None:   # saved through saved-tensor hooks (autograd/graph.py)
        from ..autograd.graph import _repack_original
        return _repack_original(ctx, x)
    if not inputs or not any(t is x for t in inputs):
        return
    orig = x.clone()    # in the graph when x is: a second derivative reaches x's old value
    ctx._versions = tuple(orig._version if t is x else v for t, v in zip(inputs, ctx._versions))
    ctx.inputs = [orig if t is x else t for t in inputs]


def _castable(src, dst):
    return src._kind <= dst._kind if hasattr(src, "_kind") else True


def make_inplace(fn, name):
    """The in-place method ``name`` for out-of-place function ``fn``. Where ``fn`` can write its
    result into ``self`` directly (a binary elementwise op on cuda with nothing to record), it
    does: one kernel instead of computing out of place and copying."""
    into = getattr(fn, "writes_into", False)

    def method(self, *args, **kwargs):
        if into and (args or kwargs) and self.is_cuda and fn(self, *args, out=self, _into=True, **kwargs) is not None:
            return self
        return inplace_from(self, fn(self, *args, **kwargs), name)
    method.__name__ = name
    method.__doc__ = f"In-place form of ``{fn.__name__}``; returns ``self``."
    return method
