"""``RMSprop``: divide the gradient by a running root mean square (centered and momentum variants).

PyTorch's algorithm, step for step::

    g = -g if maximize;  g = g + weight_decay * p
    s = alpha * s + (1 - alpha) * g * g
    avg = sqrt(s - a * a) with a = lerp(a, g, 1 - alpha) (centered)  or  sqrt(s);  avg = avg + eps
    b = momentum * b + g / avg;  p = p - lr * b     (momentum > 0)
    p = p - lr * g / avg                            (otherwise)

On cuda the whole update is one Triton kernel per parameter.
"""
import numpy as np
import triton
import triton.language as tl

from .. import _dtype as D
from ..ops._op import Op
from ._update import (_apply, _block, _buffer, _bump_step, _check_float, _grad_, _launch_update, _lerp, _lerp_, _load,
                      _load_grad, _step_tensor, _store, _update_specs, _value, _zeros_like)
from .optimizer import _FLAG_DEFAULTS, Optimizer

__all__ = ["RMSprop"]


@triton.jit
def _rmsprop_kernel(p_ptr, g_ptr, s_ptr, a_ptr, b_ptr, n, lr, weight_decay, alpha, w, eps, momentum,
                    WEIGHT_DECAY: tl.constexpr, CENTERED: tl.constexpr, MOMENTUM: tl.constexpr,
                    MAXIMIZE: tl.constexpr, ACC: tl.constexpr, BLOCK: tl.constexpr):
    offs, mask = _block(n, BLOCK)
    p, g = _load_grad(p_ptr, g_ptr, offs, mask, weight_decay, 1.0, WEIGHT_DECAY, False, MAXIMIZE, ACC)
    s = _load(s_ptr, offs, mask, ACC) * alpha + w * g * g
    _store(s_ptr, s, offs, mask)
    if CENTERED:
        a = _lerp(_load(a_ptr, offs, mask, ACC), g, w)
        _store(a_ptr, a, offs, mask)
        avg = tl.sqrt(s + -1.0 * a * a) + eps
    else:
        avg = tl.sqrt(s) + eps
    if MOMENTUM:
        b = _load(b_ptr, offs, mask, ACC) * momentum + g / avg
        _store(b_ptr, b, offs, mask)
        p = p + -lr * b
    else:
        p = p + (-lr * g) / avg
    _store(p_ptr, p, offs, mask)


def _rmsprop_cpu(p, g, s, a, b, *, lr, alpha, eps, weight_decay, momentum, centered, maximize):
    """PyTorch's single-tensor RMSprop on host arrays, in place."""
    g = _grad_(p, g, weight_decay=weight_decay, maximize=maximize)
    s *= alpha
    s += (1 - alpha) * g * g
    if centered:
        _lerp_(a, g, 1 - alpha)
        avg = np.sqrt(s + -1 * a * a)
    else:
        avg = np.sqrt(s)
    avg += eps
    if momentum > 0:
        b *= momentum
        b += g / avg
        p += -lr * b
    else:
        p += (-lr * g) / avg


def _rmsprop_cuda(p, g, s, a, b, *, lr, alpha, eps, weight_decay, momentum, centered, maximize):
    _launch_update(_rmsprop_kernel, p, g, [s, a, b], [lr, weight_decay, alpha, 1 - alpha, eps, momentum],
                   WEIGHT_DECAY=weight_decay != 0, CENTERED=centered, MOMENTUM=momentum > 0, MAXIMIZE=maximize)


def _specs():
    f = dict(WEIGHT_DECAY=False, CENTERED=False, MOMENTUM=False, MAXIMIZE=False)
    return _update_specs(_rmsprop_kernel, "rmsprop", 3, 6, [
        (D.float32, f), (D.float32, dict(WEIGHT_DECAY=True, CENTERED=True, MOMENTUM=True, MAXIMIZE=True)),
        (D.bfloat16, f)])


_rmsprop_update = Op("rmsprop_update", cpu=_rmsprop_cpu, cuda=_rmsprop_cuda, kernels=_specs, family="optim",
                     doc="RMSprop's in-place update of one parameter (used by ttorch.optim.RMSprop)")


class RMSprop(Optimizer):
    r"""RMSprop (Hinton), as ``torch.optim.RMSprop``.

    Args:
        params (iterable): parameters or param groups to optimize.
        lr (float, Tensor): learning rate. Default: 1e-2.
        alpha (float): smoothing constant of the squared-gradient average. Default: 0.99.
        eps (float): added to the denominator. Default: 1e-8.
        weight_decay (float): L2 penalty. Default: 0.
        momentum (float): momentum factor. Default: 0.
        centered (bool): normalize by an estimate of the gradient's variance. Default: False.
        capturable, foreach, maximize, differentiable: as in PyTorch (only ``maximize`` changes
            the update here).

    Example::

        >>> w = ttorch.nn.Parameter(ttorch.tensor([1.0]))
        >>> opt = ttorch.optim.RMSprop([w], lr=0.01)
        >>> (w * w).sum().backward(); opt.step(); round(w.item(), 4)
        0.9
    """

    _group_defaults = dict(_FLAG_DEFAULTS, momentum=0, centered=False, capturable=False)

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        _check_float("learning rate", lr)
        _check_float("epsilon value", eps)
        _check_float("momentum value", momentum)
        _check_float("weight_decay value", weight_decay)
        _check_float("alpha value", alpha)
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered, weight_decay=weight_decay,
                        capturable=capturable, foreach=foreach, maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    def _init_state(self, p, state, group):
        state["step"] = _step_tensor()
        state["square_avg"] = _zeros_like(p)
        if group["momentum"] > 0:
            state["momentum_buffer"] = _zeros_like(p)
        if group["centered"]:
            state["grad_avg"] = _zeros_like(p)

    def _update(self, p, grad, state, group):
        _bump_step(state)
        _apply(_rmsprop_update, p, grad, [state["square_avg"], _buffer(state, "grad_avg", p, group["centered"]),
                                       _buffer(state, "momentum_buffer", p, group["momentum"] > 0)],
               lr=_value(group["lr"]), alpha=group["alpha"], eps=group["eps"], weight_decay=group["weight_decay"],
               momentum=group["momentum"], centered=group["centered"], maximize=group["maximize"])



from ._functional import rmsprop  # noqa: E402,F401  (PyTorch's functional form)
__all__.append("rmsprop")
