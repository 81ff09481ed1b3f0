"""``Rprop``: resilient backpropagation, a per-coordinate step size driven by the gradient's sign.

PyTorch's algorithm, step for step (``g`` the gradient, ``g_prev`` the last one applied, ``s`` the
step sizes, started at ``lr``)::

    g = -g if maximize
    f = etaplus where g * g_prev > 0,  etaminus where < 0,  1 where = 0
    s = clamp(s * f, step_size_min, step_size_max)
    g = 0 where f == etaminus             (a sign change: no move this step)
    p = p - sign(g) * s;  g_prev = g

Written in ttorch ops, so the same code runs on cpu and cuda.
"""
from .. import where
from ._update import _bump_step, _check_float, _step_tensor, _value, _zeros_like
from .optimizer import _FLAG_DEFAULTS, Optimizer

__all__ = ["Rprop"]


class Rprop(Optimizer):
    r"""The resilient backpropagation algorithm, as ``torch.optim.Rprop``.

    Args:
        params (iterable): parameters or param groups to optimize.
        lr (float, Tensor): initial step size of every coordinate. Default: 1e-2.
        etas (Tuple[float, float]): ``(etaminus, etaplus)``, the factors shrinking and growing
            a step size. Default: (0.5, 1.2).
        step_sizes (Tuple[float, float]): the smallest and largest step size. Default: (1e-6, 50).
        maximize (bool): maximize the objective instead of minimizing. Default: False.
        capturable, foreach, differentiable: accepted for compatibility (one code path; the
            update is never differentiable).

    Example::

        >>> w = ttorch.nn.Parameter(ttorch.tensor([1.0, -2.0]))
        >>> opt = ttorch.optim.Rprop([w], lr=0.1)
        >>> for _ in range(2):
        ...     opt.zero_grad(); (w * w).sum().backward(); opt.step()
        >>> [round(v, 4) for v in w.tolist()]
        [0.78, -1.78]
    """

    _group_defaults = dict(_FLAG_DEFAULTS, capturable=False)

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, capturable=False, foreach=None,
                 maximize=False, differentiable=False):
        _check_float("learning rate", lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        defaults = dict(lr=lr, etas=etas, step_sizes=step_sizes, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _init_state(self, p, state, group):
        from ..ops.creation import full
        state["step"] = _step_tensor()
        state["prev"] = _zeros_like(p)
        state["step_size"] = full(p.shape, _value(group["lr"]), dtype=p.dtype, device=p.device)

    def _update(self, p, grad, state, group):
        if grad.is_sparse:
            raise RuntimeError("Rprop does not support sparse gradients")
        etaminus, etaplus = group["etas"]
        step_size_min, step_size_max = group["step_sizes"]
        prev, step_size = state["prev"], state["step_size"]
        _bump_step(state)
        if group["maximize"]:
            grad = grad.neg()
        sign = grad.mul(prev).sign()
        # the factors, set in PyTorch's order (a NaN product keeps its NaN)
        sign = where(sign.gt(0), etaplus, sign)
        sign = where(sign.lt(0), etaminus, sign)
        sign = where(sign.eq(0), 1.0, sign)
        step_size.mul_(sign).clamp_(step_size_min, step_size_max)
        grad = where(sign.eq(etaminus), 0.0, grad)
        p.addcmul_(grad.sign(), step_size, value=-1)
        prev.copy_(grad)


from ._functional import rprop  # noqa: E402,F401  (PyTorch's functional form)
__all__.append("rprop")
