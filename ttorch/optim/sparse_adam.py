"""``SparseAdam``: Adam for sparse gradients (``nn.Embedding(sparse=True)``), lazily: only the rows a
step's gradient has change, in ``exp_avg``, ``exp_avg_sq`` and the parameter.

PyTorch's formula, step for step, on the rows of the coalesced gradient ``g`` (``t`` the step)::

    m_old, v_old = exp_avg[rows], exp_avg_sq[rows]
    dm = (g - m_old) * (1 - beta1);       exp_avg[rows] += dm
    dv = (g * g - v_old) * (1 - beta2);   exp_avg_sq[rows] += dv
    step_size = lr * sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
    p[rows] += -step_size * ((dm + m_old) / (sqrt(dv + v_old) + eps))

Written in ttorch ops (row gathers and ``index_add_``), so it runs on both devices.
"""
import math

from ._sparse_update import entries, rows_of
from ._update import _value, _zeros_like
from .optimizer import Optimizer

__all__ = ["SparseAdam"]


class SparseAdam(Optimizer):
    r"""Adam for sparse gradients, as ``torch.optim.SparseAdam``: moments and parameters are updated
    on the rows present in each gradient only.

    Args:
        params (iterable): dense parameters (or param groups) whose gradients are sparse.
        lr (float, Tensor): learning rate. Default: 1e-3.
        betas (Tuple[float, float]): the moments' decay rates. Default: (0.9, 0.999).
        eps (float): added to the denominator. Default: 1e-8.
        maximize (bool): maximize the objective instead of minimizing. Default: False.

    Example::

        >>> emb = ttorch.nn.Embedding(4, 2, sparse=True)
        >>> opt = ttorch.optim.SparseAdam(emb.parameters(), lr=0.1)
        >>> before = emb.weight.detach().clone()
        >>> emb(ttorch.tensor([1])).sum().backward(); opt.step()
        >>> (emb.weight.detach() != before).any(1).tolist()
        [False, True, False, False]
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, maximize=False):
        if not 0.0 < lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, maximize=maximize))
        sparse_params, complex_params = [], []
        for index, group in enumerate(self.param_groups):
            for d_index, p in enumerate(group["params"]):
                if p.is_sparse:
                    sparse_params.append([index, d_index])
                if p.is_complex():
                    complex_params.append([index, d_index])
        if sparse_params:
            raise ValueError(f"Sparse params at indices {sparse_params}: SparseAdam requires dense parameter tensors")
        if complex_params:
            raise ValueError(f"Complex params at indices {complex_params}: SparseAdam does not support complex "
                             "parameters")

    def _init_state(self, p, state, group):
        state["step"] = 0
        state["exp_avg"] = _zeros_like(p)
        state["exp_avg_sq"] = _zeros_like(p)

    def _update(self, p, grad, state, group):
        if not grad.is_sparse:
            raise RuntimeError("SparseAdam does not support dense gradients, please consider Adam instead")
        state["step"] += 1
        step = state["step"]
        grad = (-grad if group["maximize"] else grad).coalesce()
        keys, vals = entries(grad)
        if vals.numel() == 0:
            return
        beta1, beta2 = group["betas"]
        sd = grad.sparse_dim()
        exp_avg, exp_avg_sq = rows_of(state["exp_avg"], sd), rows_of(state["exp_avg_sq"], sd)
        old_m = exp_avg.index_select(0, keys)
        dm = (vals - old_m) * (1 - beta1)
        exp_avg.index_add_(0, keys, dm)
        old_v = exp_avg_sq.index_select(0, keys)
        dv = (vals.pow(2) - old_v) * (1 - beta2)
        exp_avg_sq.index_add_(0, keys, dv)
        numer = dm + old_m
        denom = (dv + old_v).sqrt() + group["eps"]
        step_size = _value(group["lr"]) * math.sqrt(1 - beta2 ** step) / (1 - beta1 ** step)
        rows_of(p, sd).index_add_(0, keys, -step_size * (numer / denom))
