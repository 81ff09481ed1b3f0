"""The batch-norm pieces ``nn.SyncBatchNorm`` is built from in PyTorch (ATen's ``batch_norm_stats``,
``batch_norm_gather_stats(_with_counts)``, ``batch_norm_elemt``, ``batch_norm_backward_reduce``,
``batch_norm_backward_elemt``, ``batch_norm_update_stats``), as ttorch ops on any device.

Channels are dim 1; statistics reduce every other dim. ``invstd`` is ``1 / sqrt(var + eps)`` with the
biased variance; running variances get the unbiased one. Statistics are float32 for half inputs (ATen's
accumulate type). PyTorch runs the first six on cuda only (``NotImplementedError`` on cpu); ttorch runs
them everywhere, so a SyncBatchNorm written against them can be tested on the host.

Example::

    >>> x = ttorch.tensor([[1., 2.], [3., 6.]])
    >>> mean, invstd = ttorch.batch_norm_stats(x, 0.0)
    >>> mean.tolist(), invstd.tolist()
    ([2.0, 4.0], [1.0, 0.5])
"""
from . import _dtype as D

__all__ = ["batch_norm_stats", "batch_norm_gather_stats", "batch_norm_gather_stats_with_counts",
           "batch_norm_elemt", "batch_norm_backward_reduce", "batch_norm_backward_elemt", "batch_norm_update_stats"]


def _acc(t):
    return D.float32 if t.dtype in (D.float16, D.bfloat16) else t.dtype


def _dims(x):
    return [d for d in range(x.dim()) if d != 1]


def _bc(v, x):
    """A per-channel vector shaped to broadcast against ``x`` (N, C, ...)."""
    return v.reshape((1, -1) + (1,) * (x.dim() - 2))


def _count(x):
    return x.numel() // x.size(1) if x.size(1) else 0


def batch_norm_stats(input, eps):
    """Per-channel ``(mean, invstd)`` of ``input``."""
    x = input.to(_acc(input))
    mean = x.mean(_dims(x))
    var = (x - _bc(mean, x)).square().mean(_dims(x))
    return mean, (var + eps).rsqrt()


def batch_norm_update_stats(input, running_mean, running_var, momentum):
    """Per-channel ``(mean, biased var)``; ``running_mean``/``running_var`` (if given) move toward the mean
    and the unbiased variance by ``momentum``, in place."""
    x = input.to(_acc(input))
    mean = x.mean(_dims(x))
    var = (x - _bc(mean, x)).square().mean(_dims(x))
    n = _count(x)
    _update_running(running_mean, running_var, mean, var, n, momentum)
    return mean, var


def _update_running(running_mean, running_var, mean, var, n, momentum):
    from .autograd import no_grad
    with no_grad():
        if running_mean is not None:
            running_mean.mul_(1 - momentum).add_(mean.to(running_mean.dtype) * momentum)
        if running_var is not None:
            unbiased = var * (n / (n - 1)) if n > 1 else var
            running_var.mul_(1 - momentum).add_(unbiased.to(running_var.dtype) * momentum)


def batch_norm_gather_stats_with_counts(input, mean, invstd, running_mean, running_var, momentum, eps, counts):
    """Combine per-process statistics: ``mean``/``invstd`` (world, C) over ``counts[i]`` elements each, into
    the global ``(mean, invstd)``; updates the running statistics as ``batch_norm_update_stats``."""
    counts = counts.to(mean.dtype).reshape(-1, 1)                    # (world, 1)
    n = counts.sum()
    g_mean = (mean * counts).sum(0) / n
    var_i = invstd.reciprocal().square() - eps                      # each process's biased variance
    g_var = (counts * (var_i + (mean - g_mean).square())).sum(0) / n
    _update_running(running_mean, running_var, g_mean, g_var, float(n.item()), momentum)
    return g_mean, (g_var + eps).rsqrt()


def batch_norm_gather_stats(input, mean, invstd, running_mean, running_var, momentum, eps, count):
    """``batch_norm_gather_stats_with_counts`` with the same ``count`` (an int) for every process."""
    from .ops.creation import full
    counts = full((mean.size(0),), float(count), dtype=mean.dtype, device=mean.device)
    return batch_norm_gather_stats_with_counts(input, mean, invstd, running_mean, running_var, momentum, eps,
                                               counts)


def batch_norm_elemt(input, weight, bias, mean, invstd, eps, *, out=None):
    """``(input - mean) * invstd * weight + bias`` per channel (``eps`` is already inside ``invstd``)."""
    y = (input - _bc(mean, input)) * _bc(invstd, input)
    if weight is not None:
        y = y * _bc(weight, input)
    if bias is not None:
        y = y + _bc(bias, input)
    y = y.to(input.dtype)
    if out is not None:
        return out.copy_(y)
    return y


def batch_norm_backward_reduce(grad_out, input, mean, invstd, weight, input_g, weight_g, bias_g):
    """Per-channel ``(sum_dy, sum_dy_xmu, grad_weight, grad_bias)``: each None when its flag
    (``input_g`` for the first two) is False."""
    dy, x = grad_out.to(mean.dtype), input.to(mean.dtype)
    dims = _dims(x)
    sum_dy = dy.sum(dims)
    sum_dy_xmu = (dy * (x - _bc(mean, x))).sum(dims)
    grad_weight = (sum_dy_xmu * invstd).to(weight.dtype if weight is not None else mean.dtype) if weight_g else None
    grad_bias = sum_dy.to(weight.dtype if weight is not None else mean.dtype) if bias_g else None
    if not input_g:
        sum_dy = sum_dy_xmu = None
    return sum_dy, sum_dy_xmu, grad_weight, grad_bias


def batch_norm_backward_elemt(grad_out, input, mean, invstd, weight, sum_dy, sum_dy_xmu, count):
    """The input gradient from the global sums: ``(dy - sum_dy/N - (x - mean) invstd^2 sum_dy_xmu/N)
    * invstd * weight`` with ``N = count.sum()`` (``count``: each process's element count)."""
    n = count.to(mean.dtype).sum()
    dy, x = grad_out.to(mean.dtype), input.to(mean.dtype)
    istd = _bc(invstd, x)
    g = dy - _bc(sum_dy / n, x) - (x - _bc(mean, x)) * istd.square() * _bc(sum_dy_xmu / n, x)
    g = g * istd
    if weight is not None:
        g = g * _bc(weight.to(mean.dtype), x)
    return g.to(input.dtype)
