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
from ._update import (_apply, _bump_step, _check_beta, _check_float, _launch_update, _lerp, _lerp_, _step_tensor,
                      _update_specs, _value, _zeros_like)
from .optimizer import Optimizer

__all__ = ["RAdam"]


@triton.jit
def _radam_kernel(p_ptr, g_ptr, m_ptr, v_ptr, n, weight_decay, decay, w1, beta2, w2, eps, bc1, lr, bc2_sqrt, rect,
                  WEIGHT_DECAY: tl.constexpr, DECOUPLED: tl.constexpr, MAXIMIZE: tl.constexpr,
                  RECTIFY: tl.constexpr, ACC: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    p = tl.load(p_ptr + offs, mask=mask).to(ACC)
    g = tl.load(g_ptr + offs, mask=mask).to(ACC)
    if MAXIMIZE:
        g = -g
    if WEIGHT_DECAY:
        if DECOUPLED:
            p = p * decay
        else:
            g = g + weight_decay * p
    m = _lerp(tl.load(m_ptr + offs, mask=mask).to(ACC), g, w1)
    v = tl.load(v_ptr + offs, mask=mask).to(ACC) * beta2 + w2 * g * g
    tl.store(m_ptr + offs, m.to(m_ptr.dtype.element_ty), mask=mask)
    tl.store(v_ptr + offs, v.to(v_ptr.dtype.element_ty), mask=mask)
    upd = m / bc1 * lr
    if RECTIFY:
        upd = upd * (bc2_sqrt / (tl.sqrt(v) + eps)) * rect
    tl.store(p_ptr + offs, (p + -1.0 * upd).to(p_ptr.dtype.element_ty), mask=mask)


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
    if maximize:
        g = -g
    if weight_decay != 0:
        if decoupled:
            p *= 1 - lr * weight_decay
        else:
            g = g + weight_decay * p
    _lerp_(m, g, 1 - beta1)
    v *= beta2
    v += (1 - beta2) * g * g
    bc1, bc2_sqrt, rect = _radam_scalars(beta1, beta2, step)
    upd = m / bc1 * lr
    if rect is not None:
        upd = upd * (bc2_sqrt / (np.sqrt(v) + eps)) * rect
    p += -1.0 * upd


def _radam_cuda(p, g, m, v, *, lr, beta1, beta2, eps, weight_decay, decoupled, maximize, step):
    bc1, bc2_sqrt, rect = _radam_scalars(beta1, beta2, step)
    _launch_update(_radam_kernel, p, g, [m, v], [weight_decay, 1 - lr * weight_decay, 1 - beta1, beta2, 1 - beta2,
                                                 eps, bc1, lr, bc2_sqrt, 1.0 if rect is None else rect],
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

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False,
                 *, foreach=None, maximize=False, capturable=False, differentiable=False):
        _check_float("learning rate", lr)
        _check_float("epsilon value", eps)
        _check_beta(0, betas[0])
        _check_beta(1, betas[1])
        _check_float("weight_decay value", weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize, foreach=foreach,
                        capturable=capturable, decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            for k, v in (("foreach", None), ("maximize", False), ("differentiable", False), ("capturable", False),
                         ("decoupled_weight_decay", False)):
                group.setdefault(k, v)

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
