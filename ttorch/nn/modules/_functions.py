"""``SyncBatchNorm``'s autograd function: batch statistics and their gradients over a process group.

PyTorch's ``torch/nn/modules/_functions.py`` algorithm in ttorch ops. Forward: every rank computes its
per-channel mean, biased variance and count, all-gathers them (counts may differ, an empty rank sends
zeros) and combines them into the global mean and variance. Backward: every rank reduces ``sum(dy)``
and ``sum(dy * (x - mean))`` locally, all-reduces them, and forms the full batch's input gradient from
the global sums. ``weight``/``bias`` gradients stay local: DDP averages them as it does any parameter's.
Each rank combines the same gathered values in the same order, so the statistics, the running buffers
and the reduced sums are bit-identical on every rank.
"""
from ... import _dtype as D
from ... import distributed as dist
from ...autograd.function import Function
from ...autograd.grad_mode import no_grad
from ...ops import FUNCTIONS as _F

__all__ = ["SyncBatchNorm"]


def _compute_dtype(dtype):
    # half inputs are normalized in float32, as PyTorch's cuda kernels accumulate them
    return D.float32 if dtype in (D.float16, D.bfloat16) else dtype


def _channel_view(t, ndim):
    """A per-channel ``(C,)`` tensor shaped ``(1, C, 1, ...)`` to broadcast against ``(N, C, *)``."""
    return t.reshape((1, -1) + (1,) * (ndim - 2))


class SyncBatchNorm(Function):
    """Batch normalization whose statistics span ``process_group``'s ``world_size`` ranks."""

    @staticmethod
    def forward(ctx, input, weight, bias, running_mean, running_var, eps, momentum, process_group, world_size):
        c, nd = input.shape[1], input.ndim
        cdt = _compute_dtype(input.dtype)
        dims = [0] + list(range(2, nd))
        count = input.numel() // c if c else 0
        x = input.to(cdt)
        if count > 0:
            local = _F["cat"]([x.mean(dim=dims), x.var(dim=dims, correction=0),
                               _F["full"]((1,), float(count), dtype=cdt, device=input.device)])
        else:   # an empty rank still joins the collective: zero statistics with zero weight
            local = _F["zeros"](2 * c + 1, dtype=cdt, device=input.device)
        gathered = [_F["empty_like"](local) for _ in range(world_size)]
        dist.all_gather(gathered, local, group=process_group)
        stats = _F["stack"](gathered)                                  # (W, 2C + 1)
        means, vars_, counts = stats[:, :c], stats[:, c:2 * c], stats[:, 2 * c:]
        n = counts.sum()
        mean = (means * counts).sum(0) / n                             # (C,)
        # Chan's parallel variance: each rank's variance plus its mean's spread around the global mean
        var = ((vars_ + (means - mean) ** 2) * counts).sum(0) / n      # (C,), biased
        invstd = (var + eps).rsqrt()
        if running_mean is not None:
            running_mean.copy_(running_mean.to(cdt) * (1 - momentum) + mean * momentum)
        if running_var is not None:
            # unbiased with the global count, as PyTorch's batch_norm_gather_stats_with_counts
            unbiased = var * (n / (n - 1))
            running_var.copy_(running_var.to(cdt) * (1 - momentum) + unbiased * momentum)
        ctx.save_for_backward(input, weight, mean, invstd)
        ctx.process_group, ctx.count = process_group, n
        y = (x - _channel_view(mean, nd)) * _channel_view(invstd, nd)
        if weight is not None:
            y = y * _channel_view(weight.to(cdt), nd)
        if bias is not None:
            y = y + _channel_view(bias.to(cdt), nd)
        return y.to(input.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        input, weight, mean, invstd = ctx.saved_tensors
        nd, c = input.ndim, input.shape[1]
        cdt = mean.dtype
        dims = [0] + list(range(2, nd))
        grad_input = grad_weight = grad_bias = None
        dy = grad_output.to(cdt)
        xmu = input.to(cdt) - _channel_view(mean, nd)
        if input.numel() > 0:
            sum_dy = dy.sum(dim=dims)
            sum_dy_xmu = (dy * xmu).sum(dim=dims)
        else:   # an empty rank contributes zeros to the reduction its peers wait on
            sum_dy = sum_dy_xmu = _F["zeros"](c, dtype=cdt, device=input.device)
        if ctx.needs_input_grad[0]:
            with no_grad():
                combined = _F["cat"]([sum_dy.detach(), sum_dy_xmu.detach()])
                dist.all_reduce(combined, group=ctx.process_group)
            g_dy, g_dy_xmu = combined[:c], combined[c:]
            scale = invstd if weight is None else invstd * weight.to(cdt)
            grad_input = (dy - _channel_view(g_dy / ctx.count, nd)
                          - xmu * _channel_view(invstd * invstd * g_dy_xmu / ctx.count, nd)) * _channel_view(scale, nd)
            grad_input = grad_input.to(input.dtype)
        # an empty rank's are zeros (PyTorch leaves them None): DDP then reduces every parameter as usual
        if weight is not None and ctx.needs_input_grad[1]:
            grad_weight = (sum_dy_xmu * invstd).to(weight.dtype)
        if weight is not None and ctx.needs_input_grad[2]:
            grad_bias = sum_dy.to(weight.dtype)
        return grad_input, grad_weight, grad_bias, None, None, None, None, None, None

    @staticmethod
    def jvp(ctx, *grad_inputs):
        # forward-mode AD would see local statistics only: refuse it, as PyTorch's (which has no jvp)
        return Function.jvp(ctx, *grad_inputs)
