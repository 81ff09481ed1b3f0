"""``Adadelta``: learning rates from running averages of squared gradients and squared updates.

PyTorch's algorithm, step for step::

    g = -g if maximize;  g = g + weight_decay * p
    v = rho * v + (1 - rho) * g * g
    d = sqrt(u + eps) / sqrt(v + eps) * g
    u = rho * u + (1 - rho) * d * d;  p = p - lr * d

On cuda the whole update is one Triton kernel per parameter.
"""
import numpy as np
import triton
import triton.language as tl

from .. import _dtype as D
from ..ops._op import Op
from ._update import (_apply, _block, _bump_step, _check_float, _grad_, _launch_update, _load, _load_grad,
                      _step_tensor, _store, _update_specs, _value, _zeros_like)
from .optimizer import _FLAG_DEFAULTS, Optimizer

__all__ = ["Adadelta"]


@triton.jit
def _adadelta_kernel(p_ptr, g_ptr, v_ptr, u_ptr, n, lr, weight_decay, rho, w, eps,
                     WEIGHT_DECAY: tl.constexpr, MAXIMIZE: tl.constexpr, ACC: tl.constexpr, BLOCK: tl.constexpr):
    offs, mask = _block(n, BLOCK)
    p, g = _load_grad(p_ptr, g_ptr, offs, mask, weight_decay, 1.0, WEIGHT_DECAY, False, MAXIMIZE, ACC)
    v = _load(v_ptr, offs, mask, ACC) * rho + w * g * g
    u = _load(u_ptr, offs, mask, ACC)
    d = tl.sqrt(u + eps) / tl.sqrt(v + eps) * g
    u = u * rho + w * d * d
    _store(v_ptr, v, offs, mask)
    _store(u_ptr, u, offs, mask)
    _store(p_ptr, p + -lr * d, offs, mask)


def _adadelta_cpu(p, g, v, u, *, lr, rho, eps, weight_decay, maximize):
    """PyTorch's single-tensor Adadelta on host arrays, in place."""
    g = _grad_(p, g, weight_decay=weight_decay, maximize=maximize)
    v *= rho
    v += (1 - rho) * g * g
    std = np.sqrt(v + eps)
    delta = np.sqrt(u + eps)
    delta /= std
    delta *= g
    u *= rho
    u += (1 - rho) * delta * delta
    p += -lr * delta


def _adadelta_cuda(p, g, v, u, *, lr, rho, eps, weight_decay, maximize):
    _launch_update(_adadelta_kernel, p, g, [v, u], [lr, weight_decay, rho, 1 - rho, eps],
                   WEIGHT_DECAY=weight_decay != 0, MAXIMIZE=maximize)


def _specs():
    return _update_specs(_adadelta_kernel, "adadelta", 2, 5, [
        (D.float32, dict(WEIGHT_DECAY=False, MAXIMIZE=False)), (D.float32, dict(WEIGHT_DECAY=True, MAXIMIZE=True)),
        (D.bfloat16, dict(WEIGHT_DECAY=False, MAXIMIZE=False))])


_adadelta_update = Op("adadelta_update", cpu=_adadelta_cpu, cuda=_adadelta_cuda, kernels=_specs, family="optim",
                      doc="Adadelta's in-place update of one parameter (used by ttorch.optim.Adadelta)")


class Adadelta(Optimizer):
    r"""Adadelta (Zeiler), as ``torch.optim.Adadelta``.

    Args:
        params (iterable): parameters or param groups to optimize.
        lr (float, Tensor): coefficient scaling delta before it is applied. Default: 1.0.
        rho (float): running-average coefficient of squared gradients and updates. Default: 0.9.
        eps (float): added inside the square roots. Default: 1e-6.
        weight_decay (float): L2 penalty. Default: 0.
        foreach, capturable, maximize, differentiable: as in PyTorch (only ``maximize`` changes
            the update).

    Example::

        >>> w = ttorch.nn.Parameter(ttorch.tensor([1.0]))
        >>> opt = ttorch.optim.Adadelta([w])
        >>> (w * w).sum().backward(); opt.step(); round(w.item(), 5)
        0.99684
    """

    _group_defaults = dict(_FLAG_DEFAULTS, capturable=False)

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, capturable=False,
                 maximize=False, differentiable=False):
        _check_float("learning rate", lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        _check_float("epsilon value", eps)
        _check_float("weight_decay value", weight_decay)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize, capturable=capturable,
                        foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def _init_state(self, p, state, group):
        state["step"] = _step_tensor()
        state["square_avg"] = _zeros_like(p)
        state["acc_delta"] = _zeros_like(p)

    def _update(self, p, grad, state, group):
        _bump_step(state)
        _apply(_adadelta_update, p, grad, [state["square_avg"], state["acc_delta"]], lr=_value(group["lr"]),
               rho=group["rho"], eps=group["eps"], weight_decay=group["weight_decay"], maximize=group["maximize"])


from ._functional import adadelta  # noqa: E402,F401  (PyTorch's functional form)
__all__.append("adadelta")
