"""``Adafactor``: Adam-like steps from a factored second moment (Shazeer & Stern), as PyTorch 2.5+'s.

PyTorch's algorithm, step for step (``t`` the step count after its increment, ``RMS(x)`` the root
mean square ``||x|| / sqrt(numel)``)::

    g = -g if maximize
    w = t ** beta2_decay                      (1 - beta2_t)
    rho = min(lr, 1 / sqrt(t));  alpha = max(eps2, RMS(p)) * rho
    p = p * (1 - lr * weight_decay)
    >= 2-D: R = lerp(R, mean(g*g, dim=-1), w);  C = lerp(C, mean(g*g, dim=-2), w)
            V = (R @ C) / max(mean(R, dim=-2), eps1)          (an outer product per matrix)
    else:   V = lerp(V, g*g, w)
    U = g / sqrt(max(V, eps1^2));  p = p - alpha / max(1, RMS(U) / d) * U

For an ``(..., n, m)`` parameter the state holds ``row_var`` ``(..., n, 1)`` and ``col_var``
``(..., 1, m)`` instead of a full ``variance``. Written in ttorch ops (cpu and cuda).
"""
from .. import finfo, norm
from .._tensor import Tensor
from ._update import _bump_step, _step_tensor, _value, _zeros_like
from .optimizer import Optimizer

__all__ = ["Adafactor"]


class Adafactor(Optimizer):
    r"""Adafactor, as ``torch.optim.Adafactor``: memory sublinear in the size of matrix parameters.

    Args:
        params (iterable): parameters or param groups to optimize.
        lr (float, Tensor): the largest relative step size ``rho``, and the decoupled weight
            decay's scale. Default: 1e-2.
        beta2_decay (float): ``1 - beta2_t = t ** beta2_decay``. Default: -0.8.
        eps (Tuple[float or None, float]): ``eps1`` floors the variance estimate (None: the
            parameter dtype's machine epsilon), ``eps2`` floors the parameter scale.
            Default: (None, 1e-3).
        d (float): clipping threshold of the update's RMS. Default: 1.0.
        weight_decay (float): decoupled weight decay. Default: 0.0.
        maximize (bool): maximize the objective instead of minimizing. Default: False.
        foreach: accepted for compatibility (one code path).

    Example::

        >>> w = ttorch.nn.Parameter(ttorch.tensor([[1.0, -2.0], [0.5, 3.0]]))
        >>> opt = ttorch.optim.Adafactor([w], lr=0.1)
        >>> opt.zero_grad(); (w * w).sum().backward(); opt.step()
        >>> sorted(opt.state[w]), [round(v, 4) for v in w.flatten().tolist()]
        (['col_var', 'row_var', 'step'], [0.7322, -1.8339, 0.4016, 2.8169])
    """

    _group_defaults = dict(foreach=None, maximize=False)

    def __init__(self, params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0, *,
                 foreach=None, maximize=False):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= _value(lr):
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 >= beta2_decay:
            raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
        if eps[0] is not None and not 0.0 <= eps[0]:
            raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
        if not 0.0 <= eps[1]:
            raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
        if not 1.0 <= d:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight_decay should be >= 0 but is: {weight_decay}")
        defaults = dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize)
        super().__init__(params, defaults)

    def _init_state(self, p, state, group):
        from ..ops.creation import zeros
        g = p.grad
        if p.is_complex():
            raise RuntimeError("Adafactor does not support complex parameters")
        state["step"] = _step_tensor()
        if g.dim() > 1:
            row_shape, col_shape = list(g.shape), list(g.shape)
            row_shape[-1] = 1       # (..., n, 1): the mean over the last dim
            col_shape[-2] = 1       # (..., 1, m): the mean over the one before
            state["row_var"] = zeros(row_shape, dtype=g.dtype, device=g.device)
            state["col_var"] = zeros(col_shape, dtype=g.dtype, device=g.device)
        else:
            state["variance"] = _zeros_like(g)

    def step(self, closure=None):
        """Perform a single optimization step (``closure`` re-evaluates the model, optional)."""
        # PyTorch resolves a None eps1 from the dtype of the first parameter updated in a group
        # and keeps it for the group's other parameters: the base step visits them in that order
        self._eps1 = {}
        return super().step(closure)

    def _update(self, p, grad, state, group):
        if grad.is_sparse:
            raise RuntimeError("Adafactor does not support sparse gradients")
        eps1, eps2 = group["eps"]
        if eps1 is None:
            eps1 = self._eps1.setdefault(id(group), finfo(p.dtype).eps)
        lr, d = _value(group["lr"]), group["d"]
        if group["maximize"]:
            grad = grad.neg()
        step = _bump_step(state)
        one_minus_beta2_t = step ** group["beta2_decay"]
        rho_t = min(lr, 1 / (step ** 0.5))
        alpha = max(eps2, p.norm(2).item() / (p.numel() ** 0.5)) * rho_t
        if group["weight_decay"] != 0:
            p.mul_(1 - lr * group["weight_decay"])
        if grad.dim() > 1:
            row_var, col_var = state["row_var"], state["col_var"]
            # mean(g * g) as a squared norm over the count: no g-sized intermediate
            row_mean = norm(grad, dim=-1, keepdim=True).square_().div_(grad.size(-1))    # (..., n, 1)
            row_var.lerp_(row_mean, one_minus_beta2_t)
            col_mean = norm(grad, dim=-2, keepdim=True).square_().div_(grad.size(-2))    # (..., 1, m)
            col_var.lerp_(col_mean, one_minus_beta2_t)
            var_estimate = row_var @ col_var                                              # (..., n, m)
            var_estimate.div_(row_var.mean(dim=-2, keepdim=True).clamp_(min=eps1))
        else:
            variance = state["variance"]
            variance.lerp_(grad * grad, one_minus_beta2_t)
            var_estimate = variance.clone()
        # eps1 squared: the square root follows
        update = var_estimate.clamp_(min=eps1 * eps1).rsqrt_()
        update.mul_(grad)
        denom = max(1.0, update.norm(2).item() / ((update.numel() ** 0.5) * d))
        p.add_(update, alpha=-alpha / denom)
