"""``Adam`` and ``AdamW``: one fused update (AdamW is Adam with decoupled weight decay).

PyTorch's algorithm, step for step (``t`` the step count after its increment)::

    g = -g if maximize
    p = p * (1 - lr * weight_decay) (decoupled)  or  g = g + weight_decay * p
    m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) * g * g
    v_max = max(v_max, v) (amsgrad, used instead of v below)
    p = p - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

The bias corrections are computed on the host from the step count; on cuda the rest is one
Triton kernel per parameter.
"""
import numpy as np
import triton
import triton.language as tl

from .. import _dtype as D
from .._tensor import Tensor
from ..ops._op import Op
from ._update import (_apply, _buffer, _bump_step, _check_beta, _check_float, _check_fused_foreach, _launch_update,
                      _lerp, _lerp_, _step_tensor, _update_specs, _value, _zeros_like)
from .optimizer import Optimizer

__all__ = ["Adam", "AdamW"]


@triton.jit
def _adam_kernel(p_ptr, g_ptr, m_ptr, v_ptr, vmax_ptr, n, weight_decay, decay, w1, beta2, w2, eps, step_size, bc2_sqrt,
                 WEIGHT_DECAY: tl.constexpr, DECOUPLED: tl.constexpr, AMSGRAD: tl.constexpr, MAXIMIZE: tl.constexpr,
                 ACC: tl.constexpr, BLOCK: tl.constexpr):
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
    if AMSGRAD:
        v = tl.maximum(tl.load(vmax_ptr + offs, mask=mask).to(ACC), v)
        tl.store(vmax_ptr + offs, v.to(vmax_ptr.dtype.element_ty), mask=mask)
    denom = tl.sqrt(v) / bc2_sqrt + eps
    tl.store(p_ptr + offs, (p + (-step_size * m) / denom).to(p_ptr.dtype.element_ty), mask=mask)


def _scalars(lr, beta1, beta2, step):
    """Host-side bias corrections: ``(step_size, sqrt(bias_correction2))``."""
    return lr / (1 - beta1 ** step), (1 - beta2 ** step) ** 0.5


def _adam_cpu(p, g, m, v, vmax, *, lr, beta1, beta2, eps, weight_decay, decoupled, amsgrad, maximize, step):
    """PyTorch's single-tensor Adam/AdamW on host arrays, in place."""
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
    step_size, bc2_sqrt = _scalars(lr, beta1, beta2, step)
    if amsgrad:
        np.maximum(vmax, v, out=vmax)
        denom = np.sqrt(vmax) / bc2_sqrt + eps
    else:
        denom = np.sqrt(v) / bc2_sqrt + eps
    p += (-step_size * m) / denom


def _adam_cuda(p, g, m, v, vmax, *, lr, beta1, beta2, eps, weight_decay, decoupled, amsgrad, maximize, step):
    step_size, bc2_sqrt = _scalars(lr, beta1, beta2, step)
    _launch_update(_adam_kernel, p, g, [m, v, vmax],
                   [weight_decay, 1 - lr * weight_decay, 1 - beta1, beta2, 1 - beta2, eps, step_size, bc2_sqrt],
                   WEIGHT_DECAY=weight_decay != 0, DECOUPLED=decoupled, AMSGRAD=amsgrad, MAXIMIZE=maximize)


def _specs():
    f = dict(WEIGHT_DECAY=False, DECOUPLED=False, AMSGRAD=False, MAXIMIZE=False)
    return _update_specs(_adam_kernel, "adam", 3, 8, [
        (D.float32, f), (D.float32, dict(f, WEIGHT_DECAY=True, AMSGRAD=True, MAXIMIZE=True)),
        (D.float32, dict(f, WEIGHT_DECAY=True, DECOUPLED=True)),
        (D.bfloat16, dict(f, WEIGHT_DECAY=True, DECOUPLED=True)), (D.float16, f)])


_adam_update = Op("adam_update", cpu=_adam_cpu, cuda=_adam_cuda, kernels=_specs, family="optim",
                  doc="Adam's/AdamW's in-place update of one parameter (used by ttorch.optim.Adam, AdamW)")


class Adam(Optimizer):
    r"""Adam (Kingma & Ba), as ``torch.optim.Adam``.

    Args:
        params (iterable): parameters or param groups to optimize.
        lr (float, Tensor): learning rate. Default: 1e-3.
        betas (Tuple[float, float]): running-average coefficients of the gradient and its square.
            Default: (0.9, 0.999).
        eps (float): added to the denominator. Default: 1e-8.
        weight_decay (float): L2 penalty (decoupled when ``decoupled_weight_decay``). Default: 0.
        amsgrad (bool): the AMSGrad variant. Default: False.
        maximize, decoupled_weight_decay (bool): Default: False.
        foreach, capturable, differentiable, fused: accepted for compatibility; cuda always runs
            one fused kernel per parameter and the step count stays on the host.

    Example::

        >>> w = ttorch.nn.Parameter(ttorch.tensor([1.0, -2.0]))
        >>> opt = ttorch.optim.Adam([w], lr=0.1)
        >>> (w * w).sum().backward(); opt.step(); w.detach()
        tensor([ 0.9000, -1.9000])
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *, foreach=None,
                 maximize=False, capturable=False, differentiable=False, fused=None, decoupled_weight_decay=False):
        _check_float("learning rate", lr)
        if isinstance(lr, Tensor) and foreach and not capturable:
            raise ValueError("lr as a Tensor is not supported for capturable=False and foreach=True")
        _check_float("epsilon value", eps)
        _check_beta(0, betas[0])
        _check_beta(1, betas[1])
        _check_float("weight_decay value", weight_decay)
        _check_fused_foreach(fused, foreach, differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            for k, v in (("amsgrad", False), ("maximize", False), ("foreach", None), ("capturable", False),
                         ("differentiable", False), ("fused", None), ("decoupled_weight_decay", False)):
                group.setdefault(k, v)

    def _init_state(self, p, state, group):
        state["step"] = _step_tensor()
        state["exp_avg"] = _zeros_like(p)
        state["exp_avg_sq"] = _zeros_like(p)
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = _zeros_like(p)

    def _update(self, p, grad, state, group):
        step = _bump_step(state)
        beta1, beta2 = group["betas"]
        vmax = _buffer(state, "max_exp_avg_sq", p, group["amsgrad"])
        _apply(_adam_update, p, grad, [state["exp_avg"], state["exp_avg_sq"], vmax],
               lr=_value(group["lr"]), beta1=beta1, beta2=beta2, eps=group["eps"],
               weight_decay=group["weight_decay"], decoupled=group["decoupled_weight_decay"],
               amsgrad=group["amsgrad"], maximize=group["maximize"], step=step)


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter), as ``torch.optim.AdamW``.

    Takes :class:`Adam`'s arguments; ``weight_decay`` defaults to 1e-2 and always decays the
    parameter directly: ``p = p * (1 - lr * weight_decay)`` before the Adam step.

    Example::

        >>> w = ttorch.nn.Parameter(ttorch.tensor([1.0, -2.0]))
        >>> opt = ttorch.optim.AdamW([w], lr=0.1, weight_decay=0.5)
        >>> (w * w).sum().backward(); opt.step(); w.detach()
        tensor([ 0.8500, -1.8000])
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True

