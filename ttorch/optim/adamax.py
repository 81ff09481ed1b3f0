"""``Adamax``: Adam with the infinity norm of past gradients in the denominator.

PyTorch's algorithm, step for step (``t`` the step count after its increment)::

    g = -g if maximize;  g = g + weight_decay * p
    m = lerp(m, g, 1 - beta1);  u = max(beta2 * u, |g| + eps)
    p = p - (lr / (1 - beta1^t)) * m / u

On cuda the whole update is one Triton kernel per parameter.
"""
import numpy as np
import triton
import triton.language as tl

from .. import _dtype as D
from ..ops._op import Op
from ._update import (_apply, _block, _bump_step, _check_adam_args, _check_float, _grad_, _launch_update, _lerp,
                      _lerp_, _load, _load_grad, _step_tensor, _store, _update_specs, _value, _zeros_like)
from .optimizer import _FLAG_DEFAULTS, Optimizer

__all__ = ["Adamax"]


@triton.jit
def _adamax_kernel(p_ptr, g_ptr, m_ptr, u_ptr, n, weight_decay, w1, beta2, eps, clr,
                   WEIGHT_DECAY: tl.constexpr, MAXIMIZE: tl.constexpr, ACC: tl.constexpr, BLOCK: tl.constexpr):
    offs, mask = _block(n, BLOCK)
    p, g = _load_grad(p_ptr, g_ptr, offs, mask, weight_decay, 1.0, WEIGHT_DECAY, False, MAXIMIZE, ACC)
    m = _lerp(_load(m_ptr, offs, mask, ACC), g, w1)
    u = tl.maximum(_load(u_ptr, offs, mask, ACC) * beta2, tl.abs(g) + eps)
    _store(m_ptr, m, offs, mask)
    _store(u_ptr, u, offs, mask)
    _store(p_ptr, p + (-clr * m) / u, offs, mask)


def _adamax_cpu(p, g, m, u, *, lr, beta1, beta2, eps, weight_decay, maximize, step):
    """PyTorch's single-tensor Adamax on host arrays, in place."""
    g = _grad_(p, g, weight_decay=weight_decay, maximize=maximize)
    _lerp_(m, g, 1 - beta1)
    u *= beta2
    np.maximum(u, np.abs(g) + eps, out=u)
    clr = lr / (1 - beta1 ** step)
    p += (-clr * m) / u


def _adamax_cuda(p, g, m, u, *, lr, beta1, beta2, eps, weight_decay, maximize, step):
    _launch_update(_adamax_kernel, p, g, [m, u], [weight_decay, 1 - beta1, beta2, eps, lr / (1 - beta1 ** step)],
                   WEIGHT_DECAY=weight_decay != 0, MAXIMIZE=maximize)


def _specs():
    return _update_specs(_adamax_kernel, "adamax", 2, 5, [
        (D.float32, dict(WEIGHT_DECAY=False, MAXIMIZE=False)), (D.float32, dict(WEIGHT_DECAY=True, MAXIMIZE=True)),
        (D.bfloat16, dict(WEIGHT_DECAY=False, MAXIMIZE=False))])


_adamax_update = Op("adamax_update", cpu=_adamax_cpu, cuda=_adamax_cuda, kernels=_specs, family="optim",
                    doc="Adamax's in-place update of one parameter (used by ttorch.optim.Adamax)")


class Adamax(Optimizer):
    r"""Adamax (Adam on the infinity norm), as ``torch.optim.Adamax``.

    Args:
        params (iterable): parameters or param groups to optimize.
        lr (float, Tensor): learning rate. Default: 2e-3.
        betas (Tuple[float, float]): running-average coefficients. Default: (0.9, 0.999).
        eps (float): added to the denominator. Default: 1e-8.
        weight_decay (float): L2 penalty. Default: 0.
        foreach, maximize, differentiable, capturable: as in PyTorch (only ``maximize`` changes
            the update).

    Example::

        >>> w = ttorch.nn.Parameter(ttorch.tensor([1.0]))
        >>> opt = ttorch.optim.Adamax([w], lr=0.1)
        >>> (w * w).sum().backward(); opt.step(); round(w.item(), 4)
        0.9
    """

    _group_defaults = dict(_FLAG_DEFAULTS, capturable=False)

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, *,
                 maximize=False, differentiable=False, capturable=False):
        _check_float("learning rate", lr)
        _check_adam_args(eps, betas, weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _init_state(self, p, state, group):
        state["step"] = _step_tensor()
        state["exp_avg"] = _zeros_like(p)
        state["exp_inf"] = _zeros_like(p)

    def _update(self, p, grad, state, group):
        step = _bump_step(state)
        beta1, beta2 = group["betas"]
        _apply(_adamax_update, p, grad, [state["exp_avg"], state["exp_inf"]], lr=_value(group["lr"]), beta1=beta1,
               beta2=beta2, eps=group["eps"], weight_decay=group["weight_decay"], maximize=group["maximize"],
               step=step)


from ._functional import adamax  # noqa: E402,F401  (PyTorch's functional form)
__all__.append("adamax")
