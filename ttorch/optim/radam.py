"""``RAdam``: Adam with a rectified adaptive learning rate (Liu et al.).

PyTorch's algorithm, step for step (``t`` the step count after its increment)::

    g = -g if maximize
    p = p * (1 - lr * weight_decay) (decoupled)  or  g = g + weight_decay * p
    m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) * g * g
    rho_inf = 2 / (1 - beta2) - 1;  rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)
    rho_t > 5:  p = p - m / (1 - beta1^t) * lr * sqrt(1 - beta2^t) / (sqrt(v) + eps) * rect
    otherwise:  p = p - m / (1 - beta1^t) * lr

``rho_t`` and the rectification ``rect`` depend on the step only: computed on the host, which also
picks the branch; on cuda the rest is one Triton kernel per parameter.
"""
import numpy as np
import triton
import triton.language as tl

from .. import _dtype as D
from ..ops._op import Op
from ._update import (_adam_scalars, _apply, _block, _bump_step, _check_adam_args, _check_float, _grad_,
                      _launch_update, _load_grad, _moments, _moments_, _step_tensor, _store, _update_specs, _value,
                      _zeros_like)
from .optimizer import _FLAG_DEFAULTS, Optimizer

__all__ = ["RAdam"]


@triton.jit
def _radam_kernel(p_ptr, g_ptr, m_ptr, v_ptr, n, weight_decay, decay, w1, beta2, w2, eps, bc1, lr, bc2_sqrt, rect,
                  WEIGHT_DECAY: tl.constexpr, DECOUPLED: tl.constexpr, MAXIMIZE: tl.constexpr,
                  RECTIFY: tl.constexpr, ACC: tl.constexpr, BLOCK: tl.constexpr):
    offs, mask = _block(n, BLOCK)
    p, g = _load_grad(p_ptr, g_ptr, offs, mask, weight_decay, decay, WEIGHT_DECAY, DECOUPLED, MAXIMIZE, ACC)
    m, v = _moments(m_ptr, v_ptr, g, offs, mask, w1, beta2, w2, ACC)
    upd = m / bc1 * lr
    if RECTIFY:
        upd = upd * (bc2_sqrt / (tl.sqrt(v) + eps)) * rect
    _store(p_ptr, p + -1.0 * upd, offs, mask)


def _radam_scalars(beta1, beta2, step):
    """Host-side: ``(bias_correction1, sqrt(bias_correction2), rect or None when rho_t <= 5)``."""
    bc1, bc2 = 1 - beta1 ** step, 1 - beta2 ** step
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * step * (beta2 ** step) / bc2
    rect = None
    if rho_t > 5.0:
        rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
    return bc1, bc2 ** 0.5, rect


def _radam_cpu(p, g, m, v, *, lr, beta1, beta2, eps, weight_decay, decoupled, maximize, step):
    """PyTorch's single-tensor RAdam on host arrays, in place."""
    g = _grad_(p, g, weight_decay=weight_decay, maximize=maximize, lr=lr, decoupled=decoupled)
    _moments_(m, v, g, beta1, beta2)
    bc1, bc2_sqrt, rect = _radam_scalars(beta1, beta2, step)
    upd = m / bc1 * lr
    if rect is not None:
        upd = upd * (bc2_sqrt / (np.sqrt(v) + eps)) * rect
    p += -1.0 * upd


def _radam_cuda(p, g, m, v, *, lr, beta1, beta2, eps, weight_decay, decoupled, maximize, step):
    bc1, bc2_sqrt, rect = _radam_scalars(beta1, beta2, step)
    scalars = [*_adam_scalars(lr, beta1, beta2, eps, weight_decay), bc1, lr, bc2_sqrt, 1.0 if rect is None else rect]
    _launch_update(_radam_kernel, p, g, [m, v], scalars,
                   WEIGHT_DECAY=weight_decay != 0, DECOUPLED=decoupled, MAXIMIZE=maximize, RECTIFY=rect is not None)


def _specs():
    f = dict(WEIGHT_DECAY=False, DECOUPLED=False, MAXIMIZE=False, RECTIFY=True)
    return _update_specs(_radam_kernel, "radam", 2, 10, [
        (D.float32, f), (D.float32, dict(f, RECTIFY=False)),
        (D.float32, dict(WEIGHT_DECAY=True, DECOUPLED=True, MAXIMIZE=True, RECTIFY=True)), (D.bfloat16, f)])


_radam_update = Op("radam_update", cpu=_radam_cpu, cuda=_radam_cuda, kernels=_specs, family="optim",
                   doc="RAdam's in-place update of one parameter (used by ttorch.optim.RAdam)")


class RAdam(Optimizer):
    r"""RAdam (rectified Adam), as ``torch.optim.RAdam``.

    Args:
        params (iterable): parameters or param groups to optimize.
        lr (float, Tensor): learning rate. Default: 1e-3.
        betas (Tuple[float, float]): running-average coefficients. Default: (0.9, 0.999).
        eps (float): added to the denominator. Default: 1e-8.
        weight_decay (float): weight decay (L2 penalty, or decoupled). Default: 0.
        decoupled_weight_decay (bool): AdamW-style decay (RAdamW). Default: False.
        foreach, maximize, capturable, differentiable: as in PyTorch (only ``maximize`` changes
            the update).

    Example::

        >>> w = ttorch.nn.Parameter(ttorch.tensor([1.0]))
        >>> opt = ttorch.optim.RAdam([w], lr=0.1)
        >>> (w * w).sum().backward(); opt.step(); round(w.item(), 4)
        0.8
    """

    _group_defaults = dict(_FLAG_DEFAULTS, capturable=False, decoupled_weight_decay=False)

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False,
                 *, foreach=None, maximize=False, capturable=False, differentiable=False):
        _check_float("learning rate", lr)
        _check_adam_args(eps, betas, weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize, foreach=foreach,
                        capturable=capturable, decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def _init_state(self, p, state, group):
        state["step"] = _step_tensor()
        state["exp_avg"] = _zeros_like(p)
        state["exp_avg_sq"] = _zeros_like(p)

    def _update(self, p, grad, state, group):
        step = _bump_step(state)
        beta1, beta2 = group["betas"]
        _apply(_radam_update, p, grad, [state["exp_avg"], state["exp_avg_sq"]], lr=_value(group["lr"]), beta1=beta1,
               beta2=beta2, eps=group["eps"], weight_decay=group["weight_decay"],
               decoupled=group["decoupled_weight_decay"], maximize=group["maximize"], step=step)


from ._functional import radam  # noqa: E402,F401  (PyTorch's functional form)
__all__.append("radam")
