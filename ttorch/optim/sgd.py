"""``SGD``: stochastic gradient descent with momentum, dampening, Nesterov and weight decay.

PyTorch's algorithm, step for step (``g`` the gradient, ``b`` the momentum buffer)::

    g = -g if maximize;  g = g + weight_decay * p
    b = g (first step)  or  b = momentum * b + (1 - dampening) * g
    g = g + momentum * b (nesterov)  or  g = b
    p = p - lr * g

On cuda the whole update is one Triton kernel per parameter.
"""
import triton
import triton.language as tl

from .. import _dtype as D
from ..ops._op import Op
from ._update import (_apply, _block, _check_float, _check_fused_foreach, _grad_, _launch_update, _load, _load_grad,
                      _store, _update_specs, _value, _zeros_like)
from ._sparse_update import sgd_step
from .optimizer import _FLAG_DEFAULTS, Optimizer

__all__ = ["SGD"]


@triton.jit
def _sgd_kernel(p_ptr, g_ptr, buf_ptr, n, lr, weight_decay, momentum, alpha,
                WEIGHT_DECAY: tl.constexpr, MOMENTUM: tl.constexpr, FIRST: tl.constexpr, NESTEROV: tl.constexpr,
                MAXIMIZE: tl.constexpr, ACC: tl.constexpr, BLOCK: tl.constexpr):
    offs, mask = _block(n, BLOCK)
    p, g = _load_grad(p_ptr, g_ptr, offs, mask, weight_decay, 1.0, WEIGHT_DECAY, False, MAXIMIZE, ACC)
    if MOMENTUM:
        if FIRST:
            buf = g
        else:
            buf = _load(buf_ptr, offs, mask, ACC) * momentum + alpha * g
        _store(buf_ptr, buf, offs, mask)
        if NESTEROV:
            g = g + momentum * buf
        else:
            g = buf
    _store(p_ptr, p - lr * g, offs, mask)


def _sgd_cpu(p, g, buf, *, lr, weight_decay, momentum, dampening, nesterov, maximize, first):
    """PyTorch's single-tensor SGD on host arrays, in place (``buf`` None when momentum is 0)."""
    g = _grad_(p, g, weight_decay=weight_decay, maximize=maximize)
    if momentum != 0:
        if first:
            buf[...] = g
        else:
            buf *= momentum
            buf += (1 - dampening) * g
        g = g + momentum * buf if nesterov else buf
    p += -lr * g


def _sgd_cuda(p, g, buf, *, lr, weight_decay, momentum, dampening, nesterov, maximize, first):
    _launch_update(_sgd_kernel, p, g, [buf], [lr, weight_decay, momentum, 1 - dampening],
                   WEIGHT_DECAY=weight_decay != 0, MOMENTUM=momentum != 0, FIRST=first, NESTEROV=nesterov,
                   MAXIMIZE=maximize)


def _specs():
    plain = dict(WEIGHT_DECAY=False, MOMENTUM=False, FIRST=False, NESTEROV=False, MAXIMIZE=False)
    mom = dict(WEIGHT_DECAY=True, MOMENTUM=True, FIRST=False, NESTEROV=False, MAXIMIZE=False)
    every = dict(WEIGHT_DECAY=True, MOMENTUM=True, FIRST=True, NESTEROV=True, MAXIMIZE=True)
    return _update_specs(_sgd_kernel, "sgd", 1, 4, [(D.float32, plain), (D.float32, mom), (D.float32, every),
                                                     (D.bfloat16, mom), (D.float16, plain)])


_sgd_update = Op("sgd_update", cpu=_sgd_cpu, cuda=_sgd_cuda, kernels=_specs, family="optim",
                 doc="SGD's in-place update of one parameter (used by ttorch.optim.SGD)")


class SGD(Optimizer):
    r"""Stochastic gradient descent (optionally with momentum), as ``torch.optim.SGD``.

    Args:
        params (iterable): parameters or param groups to optimize.
        lr (float, Tensor): learning rate. Default: 1e-3.
        momentum (float): momentum factor. Default: 0.
        dampening (float): dampening for momentum. Default: 0.
        weight_decay (float): L2 penalty. Default: 0.
        nesterov (bool): Nesterov momentum. Default: False.
        maximize (bool): maximize the objective instead of minimizing. Default: False.
        foreach, differentiable, fused: accepted for compatibility; cuda always runs one fused
            kernel per parameter and the update is never differentiable.

    Example::

        >>> w = ttorch.nn.Parameter(ttorch.tensor([1.0, -2.0]))
        >>> opt = ttorch.optim.SGD([w], lr=0.1, momentum=0.9)
        >>> opt.zero_grad(); (w * w).sum().backward(); opt.step()
        >>> w.detach()
        tensor([ 0.8000, -1.6000])
    """

    _group_defaults = dict(_FLAG_DEFAULTS, nesterov=False, fused=False)

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *, maximize=False,
                 foreach=None, differentiable=False, fused=None):
        _check_float("learning rate", lr)
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        _check_fused_foreach(fused, foreach, differentiable)
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov,
                        maximize=maximize, foreach=foreach, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)

    def _update(self, p, grad, state, group):
        if grad.is_sparse:      # (an nn.Embedding(sparse=True) weight: its rows only)
            return sgd_step(p, grad, state, group, _value(group["lr"]))
        momentum = group["momentum"]
        buf, first = None, False
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = _zeros_like(p)
                first = True
        kw = dict(lr=_value(group["lr"]), weight_decay=group["weight_decay"], momentum=momentum,
                  dampening=group["dampening"], nesterov=group["nesterov"], maximize=group["maximize"], first=first)
        _apply(_sgd_update, p, grad, [buf], **kw)


from ._functional import sgd  # noqa: E402,F401  (PyTorch's functional form)
__all__.append("sgd")
