"""``Muon``: momentum SGD whose update is orthogonalised by a Newton-Schulz iteration, for 2-D parameters.

PyTorch's algorithm (2.9+), step for step (``mu`` the momentum, ``(a, b, c)`` the NS coefficients)::

    B = lerp(B, g, 1 - mu)                           (the momentum buffer)
    U = lerp(g, B, mu) if nesterov else B
    X = bfloat16(U), transposed when it has more rows than columns
    X = X / max(||X||_F, eps)
    repeat ns_steps:  A = X @ X^T;  X = a X + (b A + c A @ A) @ X
    p = p * (1 - lr * weight_decay)
    p = p - adjust_lr(lr, shape) * X (transposed back)

``adjust_lr``: ``"original"`` (or None) scales by ``sqrt(max(1, rows / cols))``, ``"match_rms_adamw"``
by ``0.2 * sqrt(max(rows, cols))``. The iteration runs in bfloat16 as in PyTorch. Written in ttorch
ops (matmuls), so the same code runs on cpu and cuda.
"""
import math

from .. import _dtype as D, addmm
from .._tensor import Tensor
from ._update import _value, _zeros_like
from .optimizer import Optimizer

__all__ = ["Muon"]

# Keller Jordan's constants (https://kellerjordan.github.io/posts/muon/), PyTorch's defaults
EPS = 1e-7
DEFAULT_A = 3.4445
DEFAULT_B = -4.7750
DEFAULT_C = 2.0315
DEFAULT_NS_STEPS = 5


def _zeropower_via_newtonschulz(grad, ns_coefficients, ns_steps, eps):
    """A quintic Newton-Schulz iteration towards ``U V^T`` of ``grad = U S V^T``: its slope at zero is
    pushed past convergence, so singular values end roughly in (0.5, 1.5), which trains as well."""
    if ns_steps >= 100:
        raise ValueError("Number of steps must be less than 100 for computational efficiency")
    if len(grad.shape) != 2:
        raise ValueError("Input tensor gradient must be a 2D matrix")
    if len(ns_coefficients) != 3:
        raise ValueError("Coefficients must be a tuple of exactly 3 values")
    a, b, c = ns_coefficients
    x = grad.to(D.bfloat16)
    tall = grad.size(0) > grad.size(1)
    if tall:
        x = x.T                                              # (small, large): the Gram matrix is small
    # the Frobenius norm bounds the spectral norm: singular values start in [0, 1]
    x = x.div(x.norm().clamp(min=eps))
    for _ in range(ns_steps):
        gram = x @ x.T                                       # (small, small)
        gram_update = addmm(gram, gram, gram, beta=b, alpha=c)
        x = addmm(x, gram_update, x, beta=a)
    return x.T if tall else x


def _adjust_lr(lr, adjust_lr_fn, param_shape):
    """The learning rate scaled so that updates of rectangular matrices have a consistent RMS."""
    rows, cols = param_shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        ratio = math.sqrt(max(1, rows / cols))
    elif adjust_lr_fn == "match_rms_adamw":
        ratio = 0.2 * math.sqrt(max(rows, cols))
    else:
        ratio = 1.0
    return lr * ratio


class Muon(Optimizer):
    r"""Muon, as ``torch.optim.Muon``: momentum orthogonalised by Newton-Schulz, for 2-D parameters.

    Biases, embeddings and other non-2-D parameters belong to another optimizer (AdamW).

    Args:
        params (iterable): 2-D parameters or param groups to optimize.
        lr (float, Tensor): learning rate. Default: 1e-3.
        weight_decay (float): decoupled weight decay. Default: 0.1.
        momentum (float): momentum factor. Default: 0.95.
        nesterov (bool): Nesterov momentum. Default: True.
        ns_coefficients (Tuple[float, float, float]): ``(a, b, c)`` of the Newton-Schulz polynomial.
            Default: (3.4445, -4.775, 2.0315).
        eps (float): floor of the norm the update is divided by. Default: 1e-7.
        ns_steps (int): Newton-Schulz iterations (under 100). Default: 5.
        adjust_lr_fn (str or None): ``"original"`` (None) or ``"match_rms_adamw"``. Default: None.

    Example::

        >>> w = ttorch.nn.Parameter(ttorch.tensor([[1.0, -2.0], [0.5, 3.0]]))
        >>> opt = ttorch.optim.Muon([w], lr=0.1)
        >>> opt.zero_grad(); (w * w).sum().backward(); opt.step()
        >>> list(opt.state[w]), [round(v, 4) for v in w.flatten().tolist()]
        (['momentum_buffer'], [0.9068, -1.9415, 0.4423, 2.9055])
    """

    def __init__(self, params, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                 ns_coefficients=(DEFAULT_A, DEFAULT_B, DEFAULT_C), eps=EPS, ns_steps=DEFAULT_NS_STEPS,
                 adjust_lr_fn=None):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= _value(lr):
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 <= momentum:
            raise ValueError(f"momentum should be >= 0 but is: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight decay should be >= 0 but is: {weight_decay}")
        if adjust_lr_fn is not None and adjust_lr_fn not in ["original", "match_rms_adamw"]:
            raise ValueError(f"Adjust learning rate function {adjust_lr_fn} is not supported")
        defaults = dict(lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                        ns_coefficients=ns_coefficients, eps=eps, ns_steps=ns_steps, adjust_lr_fn=adjust_lr_fn)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                if p.ndim != 2:
                    raise ValueError("Muon only supports 2D parameters whereas we found a parameter with size: "
                                     f"{p.size()}")

    def _init_state(self, p, state, group):
        if p.is_complex():
            raise RuntimeError("Muon does not support complex parameters")
        if p.grad.is_sparse:
            raise RuntimeError("Muon does not support sparse gradients")
        state["momentum_buffer"] = _zeros_like(p.grad)

    def _update(self, p, grad, state, group):
        if grad.is_sparse:
            raise RuntimeError("Muon does not support sparse gradients")
        if grad.ndim != 2:
            raise ValueError("Param gradient must be a 2D matrix")
        lr, momentum = _value(group["lr"]), group["momentum"]
        buf = state["momentum_buffer"]
        buf.lerp_(grad, 1 - momentum)
        update = grad.lerp(buf, momentum) if group["nesterov"] else buf
        update = _zeropower_via_newtonschulz(update, group["ns_coefficients"], group["ns_steps"], group["eps"])
        adjusted_lr = _adjust_lr(lr, group["adjust_lr_fn"], p.shape)
        p.mul_(1 - lr * group["weight_decay"])
        p.add_(update, alpha=-adjusted_lr)
