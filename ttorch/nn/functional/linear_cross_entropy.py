"""``linear_cross_entropy``: the cross entropy of ``linear(input, W, b)`` and ``target`` (PyTorch 2.13's),
with a chunked path that never holds the (N, C) logits: for LLM heads, where C (the vocabulary) is far
larger than ``in_features``.

The reference path (``options=None``) is ``cross_entropy(linear(...))``, every feature and higher-order
gradient included. The chunked path (``options`` a ``LinearCrossEntropyOptions``) runs the batch in
chunks under one autograd ``Function``: forward keeps each chunk's per-row loss only; backward
recomputes a chunk's logits, turns them into ``softmax - onehot`` scaled by each row's coefficient
(the upstream gradient, the class weight, the mean's denominator) and accumulates ``dX = dL W`` and
``dW = dL^T X``, ``db = sum dL``. Peak memory is a chunk's logits, not the batch's.

Differs from PyTorch: PyTorch's chunked path computes the gradients during forward and scales them
in backward; this one recomputes the chunk's logits in backward (one more matmul, the same memory),
which gives ``reduction='none'`` the same path. Like PyTorch's, it has no higher-order gradients.
"""
import warnings

import ttorch
from ...autograd.function import Function, once_differentiable


class LinearCrossEntropyOptions:
    """Turns on ``linear_cross_entropy``'s chunked path and configures it.

    Args:
        batch_chunk_size (int, optional): rows a chunk; None: from ``chunking_method``.
        chunking_method (str): ``'aspect_ratio:K'`` (chunks of K * in_features rows) or ``'auto'``
            (``'aspect_ratio:2'``).
        acc_policy (str): the dtype the weight's gradient accumulates in: ``'accurate'`` and
            ``'balanced'`` float32 (float64 for float64), ``'compact'`` the input's; ``'auto'`` balanced.
        acc_dtype (ttorch.dtype, optional): that dtype, given directly.
        allow_retain_graph (bool): accepted for PyTorch's signature (the chunked path keeps no
            precomputed gradients, so backward may run twice).
    """

    def __init__(self, allow_retain_graph=False, batch_chunk_size=None, chunking_method="auto", acc_policy="auto",
                 acc_dtype=None):
        if acc_policy not in ("accurate", "balanced", "compact", "auto"):
            raise ValueError(f"acc_policy must be one of 'accurate', 'balanced', 'compact', 'auto', got {acc_policy!r}")
        if batch_chunk_size is not None and batch_chunk_size <= 0:
            raise ValueError(f"batch_chunk_size must be positive, got {batch_chunk_size}")
        self.allow_retain_graph = allow_retain_graph
        self.batch_chunk_size = batch_chunk_size
        self.chunking_method = chunking_method
        self.acc_policy = acc_policy
        self.acc_dtype = acc_dtype

    def __repr__(self):
        return (f"LinearCrossEntropyOptions(allow_retain_graph={self.allow_retain_graph}, batch_chunk_size="
                f"{self.batch_chunk_size}, chunking_method={self.chunking_method!r}, acc_policy={self.acc_policy!r}, "
                f"acc_dtype={self.acc_dtype})")

    def chunk_rows(self, in_features):
        if self.batch_chunk_size is not None:
            return self.batch_chunk_size
        method = "aspect_ratio:2" if self.chunking_method in (None, "auto") else self.chunking_method
        if not method.startswith("aspect_ratio:"):
            raise ValueError(f"chunking_method must be 'auto' or 'aspect_ratio:K', got {self.chunking_method!r}")
        return max(1, int(float(method.split(":", 1)[1]) * in_features))

    def accumulate_dtype(self, dtype):
        if self.acc_dtype is not None:
            return self.acc_dtype
        if self.acc_policy == "compact":
            return dtype
        return ttorch.float64 if dtype is ttorch.float64 else ttorch.float32


def _chunk_logits(x, weight, bias):
    return ttorch.nn.functional.linear(x, weight, bias)     # (the bias in the GEMM's epilogue on cuda)


class _ChunkedLinearCrossEntropy(Function):
    @staticmethod
    def forward(ctx, x, weight, bias, target, class_weight, ignore_index, reduction, rows, acc):
        losses, denom = [], 0.0
        for s in range(0, x.shape[0], rows):
            z = _chunk_logits(x[s:s + rows], weight, bias)
            losses.append(ttorch.nn.functional.cross_entropy(z, target[s:s + rows], class_weight,
                                                             ignore_index=ignore_index, reduction="none"))
        loss = ttorch.cat(losses) if losses else x.new_zeros(0)
        valid = target != ignore_index
        w_t = valid.to(x.dtype) if class_weight is None else \
            class_weight[target.clamp(0, weight.shape[0] - 1)] * valid.to(x.dtype)
        if reduction == "mean":
            denom = w_t.sum()
            out = loss.sum() / denom
        else:
            out = loss.sum() if reduction == "sum" else loss
        ctx.save_for_backward(x, weight, bias, target, w_t, denom if reduction == "mean" else None)
        ctx.meta = (reduction, rows, acc)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        x, weight, bias, target, w_t, denom = ctx.saved_tensors
        reduction, rows, acc = ctx.meta
        coef = w_t * g if reduction == "none" else w_t * (g / denom if reduction == "mean" else g)
        gx = ttorch.empty_like(x)
        gw = ttorch.zeros(weight.shape, dtype=acc, device=weight.device)
        gb = None if bias is None else ttorch.zeros(bias.shape, dtype=acc, device=bias.device)
        for s in range(0, x.shape[0], rows):
            xc, tc = x[s:s + rows], target[s:s + rows]
            d = ttorch.softmax(_chunk_logits(xc, weight, bias), -1)
            d = d.scatter_add(1, tc.clamp(0, weight.shape[0] - 1).unsqueeze(1), -ttorch.ones_like(d[:, :1]))
            d = d * coef[s:s + rows].unsqueeze(1).to(d.dtype)          # (rows, C): zero where ignored
            gx[s:s + rows] = d @ weight
            gw += (d.t() @ xc).to(acc)
            if gb is not None:
                gb += d.sum(0).to(acc)
        return (gx, gw.to(weight.dtype), None if gb is None else gb.to(bias.dtype)) + (None,) * 6


def _chunked_supported(input, linear_weight, target, linear_bias, reduction, label_smoothing):
    return (reduction in ("mean", "sum", "none") and label_smoothing == 0 and target.dtype is ttorch.int64
            and linear_weight.dim() == 2 and input.dim() in (1, 2)
            and (linear_bias is None or linear_bias.dim() == 1))


def _check_shapes(input, linear_weight, target, linear_bias, ignore_index):
    # PyTorch's checks and messages, before any product
    if input.dim() < 1 or input.dim() > 2:
        raise RuntimeError(f"expected input with dimensionality 1 or 2, got {input.dim()}")
    if linear_weight.dim() < 2:
        raise RuntimeError(f"expected linear_weight with dimensionality at least 2, got {linear_weight.dim()}")
    in_features = input.shape[-1]
    if in_features != linear_weight.shape[-1]:
        raise RuntimeError("expected equal input and linear_weight last dimensions (in_features), "
                           f"got {in_features} and {linear_weight.shape[-1]}, respectively")
    num_classes, out_features = linear_weight.shape[0], tuple(linear_weight.shape[1:-1])
    if linear_bias is not None and tuple(linear_bias.shape) != (num_classes, *out_features):
        raise RuntimeError(f"expected linear_bias shape {(num_classes, *out_features)}, "
                           f"got {tuple(linear_bias.shape)}")
    if out_features and input.dim() == 1:
        raise RuntimeError(f"K-dimensional loss defined by linear_weight shape {tuple(linear_weight.shape)} requires"
                           f" batched input, (N, {in_features}), got unbatched input with shape {tuple(input.shape)}")
    # a target of the logits' shape holds class probabilities, which take no ignore_index
    if tuple(target.shape) == (*input.shape[:-1], num_classes, *out_features) and ignore_index is not None:
        raise RuntimeError("ignore_index cannot be specified when target contains probabilities")


def linear_cross_entropy(input, linear_weight, target, *, linear_bias=None, weight=None, reduction="mean",
                         ignore_index=None, label_smoothing=0.0, options=None):
    """The cross entropy of ``linear(input, linear_weight, linear_bias)`` and ``target``, as
    ``cross_entropy``'s arguments say; ``options`` (a ``LinearCrossEntropyOptions``) turns on the chunked
    path that never holds the whole (N, C) logits (class-index targets, no label smoothing, a (C,) bias;
    others fall back to the reference path with a warning, as PyTorch's do).

    Shape:
        input (N, in_features) or (in_features); linear_weight (C, in_features) or (C, d_1, ..., d_K,
        in_features) for a K-dimensional loss (batched input then); target as ``cross_entropy``'s.

    Example::

        >>> import ttorch, ttorch.nn.functional as F
        >>> x, w = ttorch.ones(3, 2), ttorch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
        >>> t = ttorch.tensor([0, 1, 2])
        >>> a = F.linear_cross_entropy(x, w, t)
        >>> b = F.linear_cross_entropy(x, w, t, options=ttorch.nn.LinearCrossEntropyOptions(batch_chunk_size=2))
        >>> round(a.item(), 4), round(b.item(), 4)
        (1.1953, 1.1953)
    """
    _check_shapes(input, linear_weight, target, linear_bias, ignore_index)
    ii = -100 if ignore_index is None else ignore_index
    if options is not None:
        if _chunked_supported(input, linear_weight, target, linear_bias, reduction, label_smoothing):
            x, t = (input.unsqueeze(0), target.reshape(1)) if input.dim() == 1 else (input, target)
            if t.shape[0] != x.shape[0]:
                raise ValueError(f"Expected input batch_size ({x.shape[0]}) to match target batch_size "
                                 f"({t.shape[0]}).")
            loss = _ChunkedLinearCrossEntropy.apply(x, linear_weight, linear_bias, t, weight, ii, reduction,
                                                    options.chunk_rows(x.shape[-1]),
                                                    options.accumulate_dtype(linear_weight.dtype))
            return loss.reshape(()) if input.dim() == 1 and reduction == "none" else loss
        warnings.warn(f"linear_cross_entropy: ``options`` ignored; chunked path needs reduction in "
                      f"{{'mean','sum','none'}}, label_smoothing == 0, target.dtype == int64, out_features == (). "
                      f"Got reduction={reduction!r}, label_smoothing={label_smoothing}, target.dtype={target.dtype}, "
                      f"out_features={tuple(linear_weight.shape[1:-1])}.", UserWarning, stacklevel=2)
    c, out_features = linear_weight.shape[0], tuple(linear_weight.shape[1:-1])
    logits = ttorch.nn.functional.linear(input, linear_weight.reshape(-1, linear_weight.shape[-1]),
                                         None if linear_bias is None else linear_bias.reshape(-1))
    if out_features:                          # (N, C * prod(d)) -> (N, C, d_1, ..., d_K)
        logits = logits.reshape(input.shape[0], c, *out_features)
    return ttorch.nn.functional.cross_entropy(logits, target, weight, ignore_index=ii, reduction=reduction,
                                              label_smoothing=label_smoothing)


__all__ = ["linear_cross_entropy"]
