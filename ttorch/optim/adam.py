"""``Adam`` and ``AdamW``: one fused update (AdamW is Adam with decoupled weight decay).

PyTorch's algorithm, step for step (``t`` the step count after its increment)::

    g = -g if maximize
    p = p * (1 - lr * weight_decay) (decoupled)  or  g = g + weight_decay * p
    m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) * g * g
    v_max = max(v_max, v) (amsgrad, used instead of v below)
    p = p - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

The bias corrections are computed on the host from the step count; on cuda the rest is one
Triton kernel for all the parameters of a dtype (``foreach``, the default) or one per parameter.
"""
import numpy as np
import triton
import triton.language as tl

from .. import _dtype as D
from .._tensor import Tensor
from ..ops._many import _col, _many_ptrs
from ..ops._op import Op
from ._update import (_adam_scalars, _apply, _block, _buffer, _bump_step, _check_adam_args, _check_float,
                      _check_fused_foreach, _grad_, _launch_many, _launch_update, _load, _load_grad,
                      _many_eligible, _many_specs, _moments, _moments_, _step_tensor, _store,
                      _update_specs, _value, _zeros_like)
from .optimizer import _FLAG_DEFAULTS, Optimizer

__all__ = ["Adam", "AdamW"]


@triton.jit
def _adam_kernel(p_ptr, g_ptr, m_ptr, v_ptr, vmax_ptr, n, weight_decay, decay, w1, beta2, w2, eps, step_size, bc2_sqrt,
                 WEIGHT_DECAY: tl.constexpr, DECOUPLED: tl.constexpr, AMSGRAD: tl.constexpr, MAXIMIZE: tl.constexpr,
                 ACC: tl.constexpr, BLOCK: tl.constexpr):
    offs, mask = _block(n, BLOCK)
    _adam_body(p_ptr, g_ptr, m_ptr, v_ptr, vmax_ptr, offs, mask, weight_decay, decay, w1, beta2, w2, eps, step_size,
               bc2_sqrt, WEIGHT_DECAY, DECOUPLED, AMSGRAD, MAXIMIZE, ACC)


@triton.jit
def _adam_many_kernel(addr_ptr, sizes_ptr, meta_ptr, weight_decay, decay, w1, beta2, w2, eps, step_size, bc2_sqrt,
                      WEIGHT_DECAY: tl.constexpr, DECOUPLED: tl.constexpr, AMSGRAD: tl.constexpr,
                      MAXIMIZE: tl.constexpr, ELEM: tl.constexpr, ACC: tl.constexpr, BLOCK: tl.constexpr,
                      ALIGNED: tl.constexpr = False):
    # one block of one of many parameters (``_launch_many``): addresses p, g, m, v, vmax; a whole block
    # runs without a mask (with ALIGNED, 16-byte accesses), a parameter's last one with it
    row, offs, mask, whole = _many_ptrs(addr_ptr, sizes_ptr, meta_ptr, 5, ELEM, BLOCK)
    p, g = _col(row, 0, ELEM, ALIGNED), _col(row, 1, ELEM, ALIGNED)
    m, v, vmax = _col(row, 2, ELEM, ALIGNED), _col(row, 3, ELEM, ALIGNED), _col(row, 4, ELEM, ALIGNED)
    if whole:
        _adam_body(p, g, m, v, vmax, offs, None, weight_decay, decay, w1, beta2, w2, eps, step_size, bc2_sqrt,
                   WEIGHT_DECAY, DECOUPLED, AMSGRAD, MAXIMIZE, ACC)
    else:
        _adam_body(p, g, m, v, vmax, offs, mask, weight_decay, decay, w1, beta2, w2, eps, step_size, bc2_sqrt,
                   WEIGHT_DECAY, DECOUPLED, AMSGRAD, MAXIMIZE, ACC)


@triton.jit
def _adam_body(p_ptr, g_ptr, m_ptr, v_ptr, vmax_ptr, offs, mask, weight_decay, decay, w1, beta2, w2, eps, step_size,
               bc2_sqrt, WEIGHT_DECAY: tl.constexpr, DECOUPLED: tl.constexpr, AMSGRAD: tl.constexpr,
               MAXIMIZE: tl.constexpr, ACC: tl.constexpr):
    p, g = _load_grad(p_ptr, g_ptr, offs, mask, weight_decay, decay, WEIGHT_DECAY, DECOUPLED, MAXIMIZE, ACC)
    m, v = _moments(m_ptr, v_ptr, g, offs, mask, w1, beta2, w2, ACC)
    if AMSGRAD:
        v = tl.maximum(_load(vmax_ptr, offs, mask, ACC), v)
        _store(vmax_ptr, v, offs, mask)
    denom = tl.sqrt(v) / bc2_sqrt + eps
    _store(p_ptr, p - (step_size * m) / denom, offs, mask)


def _scalars(lr, beta1, beta2, step):
    """Host-side bias corrections: ``(step_size, sqrt(bias_correction2))``."""
    return lr / (1 - beta1 ** step), (1 - beta2 ** step) ** 0.5


def _adam_cpu(p, g, m, v, vmax, *, lr, beta1, beta2, eps, weight_decay, decoupled, amsgrad, maximize, step):
    """PyTorch's single-tensor Adam/AdamW on host arrays, in place."""
    g = _grad_(p, g, weight_decay=weight_decay, maximize=maximize, lr=lr, decoupled=decoupled)
    _moments_(m, v, g, beta1, beta2)
    step_size, bc2_sqrt = _scalars(lr, beta1, beta2, step)
    if amsgrad:
        np.maximum(vmax, v, out=vmax)
        denom = np.sqrt(vmax) / bc2_sqrt + eps
    else:
        denom = np.sqrt(v) / bc2_sqrt + eps
    p += (-step_size * m) / denom


def _adam_cuda(p, g, m, v, vmax, *, lr, beta1, beta2, eps, weight_decay, decoupled, amsgrad, maximize, step):
    _launch_update(_adam_kernel, p, g, [m, v, vmax], [*_adam_scalars(lr, beta1, beta2, eps, weight_decay),
                                                      *_scalars(lr, beta1, beta2, step)],
                   WEIGHT_DECAY=weight_decay != 0, DECOUPLED=decoupled, AMSGRAD=amsgrad, MAXIMIZE=maximize)


def _specs():
    f = dict(WEIGHT_DECAY=False, DECOUPLED=False, AMSGRAD=False, MAXIMIZE=False)
    configs = [(D.float32, f), (D.float32, dict(f, WEIGHT_DECAY=True, AMSGRAD=True, MAXIMIZE=True)),
               (D.float32, dict(f, WEIGHT_DECAY=True, DECOUPLED=True)),
               (D.bfloat16, dict(f, WEIGHT_DECAY=True, DECOUPLED=True)), (D.float16, f)]
    return _update_specs(_adam_kernel, "adam", 3, 8, configs) + _many_specs(_adam_many_kernel, "adam", 8, configs)


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
        foreach (bool, optional): on cuda (default None, as True), the parameters of one dtype
            update in one kernel launch; False: one launch per parameter (same results).
        capturable, differentiable, fused: accepted for compatibility; the step count stays on
            the host.

    Example::

        >>> w = ttorch.nn.Parameter(ttorch.tensor([1.0, -2.0]))
        >>> opt = ttorch.optim.Adam([w], lr=0.1)
        >>> (w * w).sum().backward(); opt.step(); w.detach()
        tensor([ 0.9000, -1.9000])
    """

    _group_defaults = dict(_FLAG_DEFAULTS, amsgrad=False, capturable=False, fused=None, decoupled_weight_decay=False)

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *, foreach=None,
                 maximize=False, capturable=False, differentiable=False, fused=None, decoupled_weight_decay=False):
        _check_float("learning rate", lr)
        if isinstance(lr, Tensor) and foreach and not capturable:
            raise ValueError("lr as a Tensor is not supported for capturable=False and foreach=True")
        _check_adam_args(eps, betas, weight_decay)
        _check_fused_foreach(fused, foreach, differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

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

    def _update_many(self, params, group):
        """The cuda parameters of ``group`` (foreach): one launch per (device, dtype, step count)."""
        beta1, beta2 = group["betas"]
        lr, batches = _value(group["lr"]), {}
        for p in params:
            state = self.state[p]
            bufs = (state["exp_avg"], state["exp_avg_sq"], _buffer(state, "max_exp_avg_sq", p, group["amsgrad"]))
            if not _many_eligible(p, p._grad, bufs):
                self._update(p, p._grad, state, group)
                continue
            step = _bump_step(state)
            batches.setdefault((p.device, p.dtype, step), []).append((p, bufs))
        wd = group["weight_decay"]
        for (_, _, step), items in batches.items():
            ps = [p for p, _ in items]
            bufs = list(zip(*[b for _, b in items]))
            _launch_many(_adam_many_kernel, "_adam_kernel", ps, [p._grad for p in ps], bufs,
                         [*_adam_scalars(lr, beta1, beta2, group["eps"], wd), *_scalars(lr, beta1, beta2, step)],
                         WEIGHT_DECAY=wd != 0, DECOUPLED=group["decoupled_weight_decay"],
                         AMSGRAD=group["amsgrad"], MAXIMIZE=group["maximize"])


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



from ._functional import adam  # noqa: E402,F401  (PyTorch's functional form)
__all__.append("adam")
