"""``Adagrad``: per-coordinate learning rates from the sum of squared gradients.

PyTorch's algorithm, step for step (``t`` the step count after its increment)::

    g = -g if maximize;  g = g + weight_decay * p
    clr = lr / (1 + (t - 1) * lr_decay)
    sum = sum + g * g;  p = p - clr * g / (sqrt(sum) + eps)

The state (``step``, ``sum``) is created in the constructor, as PyTorch does. On cuda the update
is one Triton kernel per parameter.
"""
import numpy as np
import triton
import triton.language as tl

from .. import _dtype as D
from ..ops._op import Op
from ._update import (_apply, _block, _bump_step, _check_float, _check_fused_foreach, _grad_, _launch_update, _load,
                      _load_grad, _step_tensor, _store, _update_specs, _value)
from ._sparse_update import adagrad_step
from .optimizer import _FLAG_DEFAULTS, Optimizer

__all__ = ["Adagrad"]


@triton.jit
def _adagrad_kernel(p_ptr, g_ptr, sum_ptr, n, clr, weight_decay, eps,
                    WEIGHT_DECAY: tl.constexpr, MAXIMIZE: tl.constexpr, ACC: tl.constexpr, BLOCK: tl.constexpr):
    offs, mask = _block(n, BLOCK)
    p, g = _load_grad(p_ptr, g_ptr, offs, mask, weight_decay, 1.0, WEIGHT_DECAY, False, MAXIMIZE, ACC)
    s = _load(sum_ptr, offs, mask, ACC) + g * g
    _store(sum_ptr, s, offs, mask)
    _store(p_ptr, p + (-clr * g) / (tl.sqrt(s) + eps), offs, mask)


def _adagrad_cpu(p, g, s, *, lr, lr_decay, weight_decay, eps, maximize, step):
    """PyTorch's single-tensor Adagrad on host arrays, in place."""
    g = _grad_(p, g, weight_decay=weight_decay, maximize=maximize)
    clr = lr / (1 + (step - 1) * lr_decay)
    s += g * g
    p += (-clr * g) / (np.sqrt(s) + eps)


def _adagrad_cuda(p, g, s, *, lr, lr_decay, weight_decay, eps, maximize, step):
    _launch_update(_adagrad_kernel, p, g, [s], [lr / (1 + (step - 1) * lr_decay), weight_decay, eps],
                   WEIGHT_DECAY=weight_decay != 0, MAXIMIZE=maximize)


def _specs():
    return _update_specs(_adagrad_kernel, "adagrad", 1, 3, [
        (D.float32, dict(WEIGHT_DECAY=False, MAXIMIZE=False)), (D.float32, dict(WEIGHT_DECAY=True, MAXIMIZE=True)),
        (D.bfloat16, dict(WEIGHT_DECAY=False, MAXIMIZE=False))])


_adagrad_update = Op("adagrad_update", cpu=_adagrad_cpu, cuda=_adagrad_cuda, kernels=_specs, family="optim",
                     doc="Adagrad's in-place update of one parameter (used by ttorch.optim.Adagrad)")


class Adagrad(Optimizer):
    r"""Adagrad (Duchi et al.), as ``torch.optim.Adagrad``.

    Args:
        params (iterable): parameters or param groups to optimize.
        lr (float, Tensor): learning rate. Default: 1e-2.
        lr_decay (float): learning rate decay. Default: 0.
        weight_decay (float): L2 penalty. Default: 0.
        initial_accumulator_value (float): initial value of the ``sum`` state. Default: 0.
        eps (float): added to the denominator. Default: 1e-10.
        foreach, maximize, differentiable, fused: as in PyTorch (only ``maximize`` changes the update).

    Example::

        >>> w = ttorch.nn.Parameter(ttorch.tensor([1.0]))
        >>> opt = ttorch.optim.Adagrad([w], lr=0.5)
        >>> (w * w).sum().backward(); opt.step(); round(w.item(), 4)
        0.5
    """

    _group_defaults = dict(_FLAG_DEFAULTS, fused=None)

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        _check_float("learning rate", lr)
        _check_float("lr_decay value", lr_decay)
        _check_float("weight_decay value", weight_decay)
        _check_float("initial_accumulator_value value", initial_accumulator_value)
        _check_float("epsilon value", eps)
        _check_fused_foreach(fused, foreach, differentiable)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        from ..ops.creation import full
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state[p]
                state["step"] = _step_tensor()
                state["sum"] = full(p.shape, group["initial_accumulator_value"], dtype=p.dtype, device=p.device)

    def share_memory(self):
        """Accepted for compatibility (no shared-memory tensors here)."""

    def _update(self, p, grad, state, group):
        step = _bump_step(state)
        if grad.is_sparse:      # (an nn.Embedding(sparse=True) weight: its rows only)
            return adagrad_step(p, grad, state, group, _value(group["lr"]), step)
        _apply(_adagrad_update, p, grad, [state["sum"]], lr=_value(group["lr"]), lr_decay=group["lr_decay"],
               weight_decay=group["weight_decay"], eps=group["eps"], maximize=group["maximize"], step=step)


from ._functional import adagrad  # noqa: E402,F401  (PyTorch's functional form)
__all__.append("adagrad")
