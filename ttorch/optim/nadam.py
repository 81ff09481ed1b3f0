"""``NAdam``: Adam with Nesterov momentum (Dozat), with PyTorch's momentum-decay schedule.

PyTorch's algorithm, step for step (``t`` the step count after its increment)::

    g = -g if maximize
    p = p * (1 - lr * weight_decay) (decoupled)  or  g = g + weight_decay * p
    mu = beta1 * (1 - 0.5 * 0.96^(t * momentum_decay)),  mu_next likewise at t + 1
    mu_product = mu_product * mu        (a float32 tensor, as in PyTorch)
    m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) * g * g
    denom = sqrt(v / (1 - beta2^t)) + eps
    p = p - lr * (1 - mu) / (1 - mu_product) * g / denom
    p = p - lr * mu_next / (1 - mu_product * mu_next) * m / denom

The schedule is scalar work on the host; on cuda the rest is one Triton kernel per parameter.
"""
import numpy as np
import triton
import triton.language as tl

from .. import _dtype as D
from .._tensor import Tensor
from ..ops._op import Op
from ._update import (_adam_scalars, _apply, _block, _bump_step, _check_adam_args, _check_float, _grad_,
                      _launch_update, _load_grad, _moments, _moments_, _step_tensor, _store, _update_specs, _value,
                      _zeros_like)
from .optimizer import _FLAG_DEFAULTS, Optimizer

__all__ = ["NAdam"]


@triton.jit
def _nadam_kernel(p_ptr, g_ptr, m_ptr, v_ptr, n, weight_decay, decay, w1, beta2, w2, eps, bc2, c_grad, c_avg,
                  WEIGHT_DECAY: tl.constexpr, DECOUPLED: tl.constexpr, MAXIMIZE: tl.constexpr, ACC: tl.constexpr,
                  BLOCK: tl.constexpr):
    offs, mask = _block(n, BLOCK)
    p, g = _load_grad(p_ptr, g_ptr, offs, mask, weight_decay, decay, WEIGHT_DECAY, DECOUPLED, MAXIMIZE, ACC)
    m, v = _moments(m_ptr, v_ptr, g, offs, mask, w1, beta2, w2, ACC)
    denom = tl.sqrt(v / bc2) + eps
    p = p + (c_grad * g) / denom
    p = p + (c_avg * m) / denom
    _store(p_ptr, p, offs, mask)


def _nadam_scalars(lr, beta1, beta2, momentum_decay, step, mu_product):
    """Host-side schedule: ``(bias_correction2, grad coefficient, exp_avg coefficient)``;
    ``mu_product`` is the state's float32 array, multiplied in place by this step's ``mu``."""
    mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
    mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
    mu_product *= mu
    mp = float(mu_product)
    return 1 - beta2 ** step, -lr * (1.0 - mu) / (1.0 - mp), (-lr * mu_next) / (1.0 - mp * mu_next)


def _nadam_cpu(p, g, m, v, *, lr, beta1, beta2, eps, weight_decay, decoupled, maximize, scalars):
    """PyTorch's single-tensor NAdam on host arrays, in place (``scalars`` from ``_nadam_scalars``)."""
    g = _grad_(p, g, weight_decay=weight_decay, maximize=maximize, lr=lr, decoupled=decoupled)
    bc2, c_grad, c_avg = scalars
    _moments_(m, v, g, beta1, beta2)
    denom = np.sqrt(v / bc2)
    denom += eps
    p += (c_grad * g) / denom
    p += (c_avg * m) / denom


def _nadam_cuda(p, g, m, v, *, lr, beta1, beta2, eps, weight_decay, decoupled, maximize, scalars):
    _launch_update(_nadam_kernel, p, g, [m, v], [*_adam_scalars(lr, beta1, beta2, eps, weight_decay), *scalars],
                   WEIGHT_DECAY=weight_decay != 0, DECOUPLED=decoupled, MAXIMIZE=maximize)


def _specs():
    f = dict(WEIGHT_DECAY=False, DECOUPLED=False, MAXIMIZE=False)
    return _update_specs(_nadam_kernel, "nadam", 2, 9, [
        (D.float32, f), (D.float32, dict(WEIGHT_DECAY=True, DECOUPLED=True, MAXIMIZE=True)),
        (D.float32, dict(f, WEIGHT_DECAY=True)), (D.bfloat16, f)])


_nadam_update = Op("nadam_update", cpu=_nadam_cpu, cuda=_nadam_cuda, kernels=_specs, family="optim",
                   doc="NAdam's in-place update of one parameter (used by ttorch.optim.NAdam)")


class NAdam(Optimizer):
    r"""NAdam (Adam with Nesterov momentum), as ``torch.optim.NAdam``.

    Args:
        params (iterable): parameters or param groups to optimize.
        lr (float, Tensor): learning rate. Default: 2e-3.
        betas (Tuple[float, float]): running-average coefficients. Default: (0.9, 0.999).
        eps (float): added to the denominator. Default: 1e-8.
        weight_decay (float): weight decay (L2 penalty, or decoupled). Default: 0.
        momentum_decay (float): momentum decay. Default: 4e-3.
        decoupled_weight_decay (bool): AdamW-style decay (NAdamW). Default: False.
        foreach, maximize, capturable, differentiable: as in PyTorch (only ``maximize`` changes
            the update).

    Example::

        >>> w = ttorch.nn.Parameter(ttorch.tensor([1.0]))
        >>> opt = ttorch.optim.NAdam([w], lr=0.1)
        >>> (w * w).sum().backward(); opt.step(); round(w.item(), 4)
        0.8944
    """

    _group_defaults = dict(_FLAG_DEFAULTS, capturable=False, decoupled_weight_decay=False)

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        _check_float("learning rate", lr)
        _check_adam_args(eps, betas, weight_decay)
        _check_float("momentum_decay value", momentum_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize, foreach=foreach,
                        capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    def _init_state(self, p, state, group):
        state["step"] = _step_tensor()
        state["mu_product"] = Tensor._wrap_np(np.ones((), np.float32))
        state["exp_avg"] = _zeros_like(p)
        state["exp_avg_sq"] = _zeros_like(p)

    def _update(self, p, grad, state, group):
        step = _bump_step(state)
        beta1, beta2 = group["betas"]
        lr = _value(group["lr"])
        mp = state["mu_product"]
        if mp.device.type != "cpu":
            mp = state["mu_product"] = mp.cpu()
        scalars = _nadam_scalars(lr, beta1, beta2, group["momentum_decay"], step, mp._np)
        mp._bump_version()
        _apply(_nadam_update, p, grad, [state["exp_avg"], state["exp_avg_sq"]], lr=lr, beta1=beta1, beta2=beta2,
               eps=group["eps"], weight_decay=group["weight_decay"], decoupled=group["decoupled_weight_decay"],
               maximize=group["maximize"], scalars=scalars)


from ._functional import nadam  # noqa: E402,F401  (PyTorch's functional form)
__all__.append("nadam")
