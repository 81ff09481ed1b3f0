"""Gradient clipping: ``clip_grad_norm_`` (by total norm) and ``clip_grad_value_`` (elementwise).

PyTorch's two-step structure: ``get_total_norm`` over the gradients (one norm per tensor, then
the norm of those norms), ``clip_grads_with_norm_`` scaling them in place by
``min(1, max_norm / (total_norm + 1e-6))``, kept as a tensor so no value syncs to the host. As in
PyTorch, both take the foreach ops where they apply (a few launches on cuda whatever the number of
gradients: ``ops/foreach.py``) unless ``foreach=False``.
"""
import functools
import types
import warnings

import ttorch
from ..._tensor import Tensor
from ...autograd import grad_mode
from ...ops.foreach import norm_parts

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_"]


def _no_grad(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with grad_mode.no_grad():
            return fn(*args, **kwargs)
    return wrapper


def _tensor_list(tensors):
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def _check_foreach(tensors, foreach):
    if foreach:
        for t in tensors:
            if t.device.type != "cuda":
                raise RuntimeError(f"foreach=True was passed, but can't use the foreach API on {t.device.type} tensors")


@_no_grad
def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The ``norm_type``-norm of all ``tensors`` together, as if concatenated into one vector.

    ``foreach`` (None: on where it applies, as in PyTorch): the norms of each (device, dtype) group
    in one many-tensor call (``ttorch._foreach_norm``: two launches on cuda), else one norm a tensor.
    """
    # (complex tensors: the norm of their moduli, as PyTorch's vector_norm)
    # (sparse gradients: the norm of their coalesced values; PyTorch 2.13 raises for them)
    tensors = [t.coalesce()._values() if t.is_sparse else t.abs() if t.dtype.is_complex else t
               for t in _tensor_list(tensors)]
    norm_type = float(norm_type)
    if len(tensors) == 0:
        return ttorch.tensor(0.0)
    _check_foreach(tensors, foreach)
    first_device = tensors[0].device
    # the norm of the tensors' norms (equal to the norm of their concatenation)
    if foreach is False:
        norms = [ttorch.norm(t.reshape(-1), norm_type) for t in tensors]
    else:
        norms = [n.reshape(-1) for _, n in norm_parts(tensors, norm_type)]
    if len(norms) == 1:
        total_norm = ttorch.norm(norms[0].to(first_device), norm_type)
    else:
        total_norm = ttorch.norm(ttorch.cat([n.reshape(-1).to(first_device) for n in norms]), norm_type)
    if error_if_nonfinite and bool(total_norm.isnan() | total_norm.isinf()):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so it "
                           "cannot be clipped. To disable this error and scale the gradients by the non-finite norm "
                           "anyway, set `error_if_nonfinite=False`")
    return total_norm


@_no_grad
def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Scale the gradients of ``parameters`` in place by ``min(1, max_norm / (total_norm + 1e-6))``;
    ``foreach`` as in ``get_total_norm`` (``ttorch._foreach_mul_``: one launch a group on cuda)."""
    from ...ops.complex import _fv      # (a complex gradient is scaled as its real view)
    grads = [_fv(p.grad) if p.grad.dtype.is_complex else p.grad for p in _tensor_list(parameters)
             if p.grad is not None]
    if len(grads) == 0:
        return
    _check_foreach(grads, foreach)
    clip_coef = float(max_norm) / (total_norm + 1e-6)
    # clamped rather than branched on: no host sync, and a no-op multiply when already small
    clip_coef_clamped = clip_coef.clamp(max=1.0)
    for g in grads:
        if g.is_sparse:     # scaled one by one (their values), outside the many-tensor call
            g.mul_(clip_coef_clamped.to(g.device))
    grads = [g for g in grads if not g.is_sparse]
    if foreach is False:
        for g in grads:
            g.mul_(clip_coef_clamped.to(g.device))
        return
    for device in dict.fromkeys(g.device for g in grads):
        ttorch._foreach_mul_([g for g in grads if g.device == device], clip_coef_clamped.to(device))


@_no_grad
def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    r"""Clip the gradient norm of an iterable of parameters, in place.

    The norm is computed over all gradients together, as if they were concatenated into one vector.

    Args:
        parameters (Iterable[Tensor] or Tensor): tensors whose gradients are normalized.
        max_norm (float): max norm of the gradients.
        norm_type (float): type of the p-norm; ``inf`` for the infinity norm. Default: 2.0.
        error_if_nonfinite (bool): raise if the total norm is nan or inf. Default: False.
        foreach (bool): the foreach ops (None: where they apply; True: raise where they don't; False:
            one op a gradient).

    Returns:
        Total norm of the gradients (viewed as a single vector), a 0-d tensor.
    """
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    else:
        is_generator = isinstance(parameters, types.GeneratorType)
        parameters = list(parameters)
        if is_generator and len(parameters) == 0:
            warnings.warn("`parameters` is an empty generator, no gradient clipping will occur.", stacklevel=3)
    grads = [p.grad for p in parameters if p.grad is not None]
    total_norm = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total_norm, foreach)
    return total_norm


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Deprecated alias of ``clip_grad_norm_``."""
    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of `torch.nn.utils.clip_grad_norm_`.",
                  FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


@_no_grad
def clip_grad_value_(parameters, clip_value, foreach=None):
    r"""Clamp the gradients of ``parameters`` to ``[-clip_value, clip_value]``, in place.

    Args:
        parameters (Iterable[Tensor] or Tensor): tensors whose gradients are clipped.
        clip_value (float): maximum allowed absolute value of the gradients.
        foreach (bool): accepted for compatibility.
    """
    clip_value = float(clip_value)
    for p in _tensor_list(parameters):
        if p.grad is not None:
            p.grad.clamp_(min=-clip_value, max=clip_value)
