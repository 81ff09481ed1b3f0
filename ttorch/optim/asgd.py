"""``ASGD``: averaged stochastic gradient descent (Polyak & Juditsky).

PyTorch's algorithm, step for step (``t`` the step count after its increment; ``eta`` and ``mu``
0-d float32 state tensors, read back as the float32 values they hold)::

    g = -g if maximize;  g = g + weight_decay * p
    p = p * (1 - lambd * eta);  p = p - eta * g
    ax = ax + mu * (p - ax)   (or ax = p while mu == 1)
    eta = lr / (1 + lambd * lr * t) ** alpha;  mu = 1 / max(1, t - t0)

``ax`` is the running average of the iterates, the model to evaluate. Written in ttorch ops, so
the same code runs on cpu and cuda.
"""
from .. import _dtype as D
from .._tensor import Tensor
from ._update import _bump_step, _check_float, _step_tensor, _value, _zeros_like
from .optimizer import _FLAG_DEFAULTS, Optimizer

__all__ = ["ASGD"]


class ASGD(Optimizer):
    r"""Averaged stochastic gradient descent, as ``torch.optim.ASGD``.

    Args:
        params (iterable): parameters or param groups to optimize.
        lr (float, Tensor): learning rate. Default: 1e-2.
        lambd (float): decay term. Default: 1e-4.
        alpha (float): power of the ``eta`` update. Default: 0.75.
        t0 (float): the step at which averaging starts. Default: 1e6.
        weight_decay (float): L2 penalty. Default: 0.
        maximize (bool): maximize the objective instead of minimizing. Default: False.
        foreach, differentiable, capturable: accepted for compatibility (one code path; the
            update is never differentiable).

    Example::

        >>> w = ttorch.nn.Parameter(ttorch.tensor([1.0, -2.0]))
        >>> opt = ttorch.optim.ASGD([w], lr=0.1, t0=2)
        >>> for _ in range(5):
        ...     opt.zero_grad(); (w * w).sum().backward(); opt.step()
        >>> [round(v, 4) for v in w.tolist()], [round(v, 4) for v in opt.state[w]["ax"].tolist()]
        ([0.3277, -0.6553], [0.3686, -0.7372])
    """

    _group_defaults = dict(_FLAG_DEFAULTS, capturable=False)

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, foreach=None,
                 maximize=False, differentiable=False, capturable=False):
        _check_float("learning rate", lr)
        _check_float("weight_decay value", weight_decay)
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def __setstate__(self, state):
        # checkpoints that kept eta and mu as Python numbers load as tensors (PyTorch converts them too)
        super().__setstate__(state)
        from ..ops.creation import full
        for group in self.param_groups:
            for p in group["params"]:
                s = self.state.get(p, {})
                for key in ("eta", "mu"):
                    if key in s and not isinstance(s[key], Tensor):
                        s[key] = full((), s[key], dtype=D.float32, device=p.device)

    def _init_state(self, p, state, group):
        from ..ops.creation import full
        state["step"] = _step_tensor()
        state["eta"] = full((), _value(group["lr"]), dtype=D.float32, device=p.device)
        state["mu"] = full((), 1.0, dtype=D.float32, device=p.device)
        state["ax"] = _zeros_like(p)

    def _update(self, p, grad, state, group):
        if grad.is_sparse:
            raise RuntimeError("ASGD does not support sparse gradients")
        lr, lambd, alpha = _value(group["lr"]), group["lambd"], group["alpha"]
        eta, mu, ax = state["eta"], state["mu"], state["ax"]
        step = _bump_step(state)
        if group["maximize"]:
            grad = grad.neg()
        if group["weight_decay"] != 0:
            grad = grad.add(p, alpha=group["weight_decay"])
        eta_value = eta.item()
        p.mul_(1 - lambd * eta_value)
        p.add_(grad, alpha=-eta_value)
        mu_value = mu.item()
        if mu_value != 1:
            ax.add_(p.sub(ax).mul_(mu_value))
        else:
            ax.copy_(p)
        # the new scalars, rounded to the state's dtype (float32) as PyTorch's copy_ does
        eta.fill_(lr / ((1 + lambd * lr * step) ** alpha))
        mu.fill_(1 / max(1, step - group["t0"]))


from ._functional import asgd  # noqa: E402,F401  (PyTorch's functional form)
__all__.append("asgd")
