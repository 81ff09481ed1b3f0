"""Loss functions of ``ttorch.nn.functional``, with PyTorch's signatures, formulas and errors.

Each composes from ttorch ops (``log_softmax`` is a fused Triton op, ``gather``/``where``/``clamp``
elementwise ones), so every loss runs on cpu and cuda and autograd differentiates it, including the
weighted means of ``nll_loss``/``cross_entropy`` and ``ignore_index`` (ignored positions get weight
0, so they contribute neither to the loss nor to the gradient).
"""
import math
import numbers
import warnings

import numpy as np

from ... import ops as _ops
from ... import _dtype as D
from ..._tensor import Tensor
from ...autograd import grad_mode as _grad_mode
from ...autograd.function import Function
from .. import _reduction as _Reduction
from ...ops import _op as _amp_op
from ...cuda import _checks

_BCE_RANGE = _checks.register(lambda v: RuntimeError("all elements of input should be between 0 and 1"))
_NLL_TARGET = _checks.register(lambda v: IndexError(f"Target {v} is out of bounds."))

_U = _ops.FUNCTIONS

__all__ = ["nll_loss", "cross_entropy", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div", "poisson_nll_loss",
           "gaussian_nll_loss", "cosine_embedding_loss", "margin_ranking_loss", "hinge_embedding_loss",
           "soft_margin_loss", "multilabel_soft_margin_loss", "triplet_margin_loss", "multi_margin_loss",
           "multilabel_margin_loss", "triplet_margin_with_distance_loss"]

# PyTorch's ScalarType names, for its "expected scalar type ..." messages
_SCALAR_NAME = {D.float32: "Float", D.float64: "Double", D.float16: "Half", D.bfloat16: "BFloat16",
                D.int64: "Long", D.int32: "Int", D.int16: "Short", D.int8: "Char", D.uint8: "Byte", D.bool: "Bool"}


def _legacy(reduction, size_average, reduce):
    """The reduction to use: the deprecated flags win when given; validated as PyTorch does up front."""
    if size_average is not None or reduce is not None:
        reduction = _Reduction.legacy_get_string(size_average, reduce)
    _Reduction.get_enum(reduction)
    return reduction


def _reduce(loss, reduction):
    if reduction == "none":
        return loss
    return loss.mean() if reduction == "mean" else loss.sum()


def _size_warning(input, target):
    if target.size() != input.size():
        warnings.warn(f"Using a target size ({target.size()}) that is different to the input size ({input.size()}). "
                      "This will likely lead to incorrect results due to broadcasting. "
                      "Please ensure they have the same size.", stacklevel=3)


def _broadcast(*ts):
    shape = _ops.elementwise.broadcast_shapes(*[t.shape for t in ts])
    return [t if tuple(t.shape) == tuple(shape) else t.expand(shape) for t in ts]


def _shape(t):
    return list(t.shape)


# --- classification -------------------------------------------------------------------------------------------

def _check_nll(input, target, weight, ignore_index, bounds=True):
    """PyTorch's shape, dtype and bounds checks of ``nll_loss`` (its messages, its error types).
    ``bounds=False``: the kernel checks the class indices itself (no host sync)."""
    if input.dim() < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {input.dim()})")
    if input.dim() != 1 and target.dim() >= 1 and input.shape[0] != target.shape[0]:
        raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target batch_size "
                         f"({target.shape[0]}).")
    if target.dtype not in (D.int64, D.uint8):
        raise RuntimeError("expected target dtype to be Long or Byte, but got "
                           f"{_SCALAR_NAME.get(target.dtype, target.dtype)}")
    c = input.shape[1] if input.dim() > 1 else input.shape[0]
    if input.dim() <= 2:
        if target.dim() > 1:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        if not (input.dim() == 1 and target.dim() == 0) and input.shape[0] != (target.shape[0] if target.dim() else 1):
            raise RuntimeError(f"size mismatch (got input: {_shape(input)}, target: {_shape(target)})")
        if weight is not None and (weight.dim() != 1 or weight.numel() != c):
            raise RuntimeError(f"weight tensor should be defined either for all {c} classes or no classes but got "
                               f"weight tensor of shape: {_shape(weight)}")
    else:
        if input.dim() == 4 and target.dim() != 3:
            raise RuntimeError("only batches of spatial targets supported (3D tensors) but got targets of dimension: "
                               f"{target.dim()}")
        if tuple(target.shape[1:]) != tuple(input.shape[2:]):
            if input.dim() == 4:
                raise RuntimeError(f"size mismatch (got input: {_shape(input)} , target: {_shape(target)}")
            raise RuntimeError(f"Expected target size {[input.shape[0]] + _shape(input)[2:]}, got {_shape(target)}")
        if weight is not None and weight.numel() != c:
            raise RuntimeError("weight tensor should be defined either for all or no classes")
    if weight is not None and weight.requires_grad and _grad_mode._state["enabled"]:
        # PyTorch's nll_loss has no gradient for the class weights, and says so before it runs
        raise RuntimeError(f"The function '{'nll_loss' if input.dim() <= 2 else 'nll_loss2d'}_forward' is not "
                           "differentiable with respect to argument 'weight'. This input cannot have requires_grad "
                           "True.")
    if weight is not None and weight.dtype != input.dtype:     # PyTorch's kernel does not promote the weight
        raise RuntimeError(f"expected scalar type {_SCALAR_NAME.get(input.dtype, input.dtype)} but found "
                           f"{_SCALAR_NAME.get(weight.dtype, weight.dtype)}")
    if not bounds:
        return c
    if target.device.type == "cuda":
        # counted on the device and raised at the next sync, as PyTorch's device assert; the bad
        # index itself is clamped before the gather (``_picked_weights``)
        t = target.detach().to(D.int64)
        _checks.record(_NLL_TARGET, (t != ignore_index) & ((t < 0) | (t >= c)), t)
        return c
    while getattr(target, "_level", None) is not None:      # under vmap (func/_batched.py): every sample's
        target = target._value
    t = target.detach().numpy().reshape(-1).astype(np.int64)
    bad = (t != ignore_index) & ((t < 0) | (t >= c))
    if bad.any():
        raise IndexError(f"Target {t[np.argmax(bad)]} is out of bounds.")
    return c


def _picked_weights(target, weight, ignore_index, like):
    """``(safe target, per-position weight)``: ignored positions get class 0 and weight 0."""
    target = target.to(D.int64)
    keep = target != ignore_index
    safe = _U["where"](keep, target, 0)
    if safe.device.type == "cuda":     # an out-of-range class (reported at the next sync) reads row 0
        safe = _U["where"]((safe < 0) | (safe >= like.shape[1 if like.dim() > 1 else 0]), 0, safe)
    if weight is None:
        w = keep.to(like.dtype)
    else:
        w = _U["where"](keep, _U["take"](weight.to(like.dtype), safe), 0)
    return safe, w


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    r"""The negative log likelihood loss: ``loss_n = -w[y_n] * input[n, y_n]``, 0 where
    ``y_n == ignore_index``; ``'mean'`` divides the sum by the sum of the weights of the kept targets.

    Shape:
        input: ``(C)``, ``(N, C)`` or ``(N, C, d1, ..., dK)`` log-probabilities;
        target: ``()``, ``(N)`` or ``(N, d1, ..., dK)`` class indices in ``[0, C)``.

    Example::

        >>> x = ttorch.tensor([[-0.5, -1.0], [-2.0, -0.1]])
        >>> F.nll_loss(x, ttorch.tensor([0, 1]))
        tensor(0.3000)
    """
    if _amp_op._autocast is not None:  # ttorch.amp: PyTorch's autocast lists
        return _amp_op._autocast.call("nll_loss", nll_loss, input, target, weight, size_average, ignore_index,
                                      reduce, reduction)
    reduction = _legacy(reduction, size_average, reduce)
    _check_nll(input, target, weight, ignore_index)
    no_batch = input.dim() == 1
    if no_batch:
        input, target = input.unsqueeze(0), target.reshape(1)
    safe, w = _picked_weights(target, weight, ignore_index, input)
    picked = input.gather(1, safe.unsqueeze(1)).squeeze(1)       # (N, d1, ..., dK)
    loss = -picked * w
    if reduction == "none":
        return loss.squeeze(0) if no_batch else loss
    if reduction == "sum":
        return loss.sum()
    acc = D._compute_dtype(input.dtype)     # half types: the sums in float32, as PyTorch accumulates them
    return (loss.to(acc).sum() / w.to(acc).sum()).to(input.dtype)    # 0/0 = nan when every target is ignored


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                  label_smoothing=0.0):
    r"""Cross entropy between the logits ``input`` and ``target``: ``nll_loss(log_softmax(input, 1), target)``
    for class indices, ``-sum_c w_c p_c log_softmax(input)_c`` for class probabilities (a float
    ``target`` shaped as ``input``). ``label_smoothing`` mixes the target with the uniform distribution.

    Args:
        weight (Tensor, optional): a weight per class, shape ``(C)``; with class indices a constant (one
            that requires grad is an error, as in PyTorch).
        ignore_index (int): class-index targets equal to it contribute nothing (mean excludes them).
        reduction (str): ``'none'`` | ``'mean'`` | ``'sum'``.
        label_smoothing (float): in ``[0.0, 1.0]``.

    Shape:
        input: ``(C)``, ``(N, C)`` or ``(N, C, d1, ..., dK)``; target: ``()``, ``(N)``, ``(N, d1, ..., dK)``
        class indices, or input's shape for probabilities.

    Example::

        >>> F.cross_entropy(ttorch.tensor([[2.0, 0.0]]), ttorch.tensor([0]))
        tensor(0.1269)
    """
    if _amp_op._autocast is not None:  # ttorch.amp: PyTorch's autocast lists
        return _amp_op._autocast.call("cross_entropy", cross_entropy, input, target, weight, size_average,
                                      ignore_index, reduce, reduction, label_smoothing)
    reduction = _legacy(reduction, size_average, reduce)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    class_dim = 0 if input.dim() == 1 else 1
    if input.dim() >= 1 and tuple(input.shape) == tuple(target.shape):
        return _cross_entropy_probs(input, target, weight, ignore_index, reduction, label_smoothing, class_dim)
    # the fused op (its NumPy fallback on cpu, one kernel each way on cuda); the cuda kernel checks
    # the class indices itself, reporting at the next sync as PyTorch's device asserts do: no
    # device-to-host copy of the targets on every training step. Class weights with label smoothing
    # (their smoothing term weighs every class) take the composite.
    fused = input.dim() >= 1 and input.dtype.is_floating_point and (weight is None or label_smoothing == 0.0)
    if input.dim() >= 1:
        _check_nll(input, target, weight, ignore_index, bounds=not (fused and input.is_cuda))
    if fused:
        return _fused_cross_entropy(input, target, ignore_index, reduction, label_smoothing, weight)
    logp = _U["log_softmax"](input, class_dim)
    nll = nll_loss(logp, target, weight, ignore_index=ignore_index, reduction=reduction)
    if label_smoothing == 0.0:
        return nll
    c = input.shape[class_dim]
    if weight is not None:
        wshape = [1] * input.dim()
        wshape[class_dim] = c
        smooth = -(logp * weight.to(logp.dtype).reshape(wshape)).sum(class_dim)
    else:
        smooth = -logp.sum(class_dim)
    _, w = _picked_weights(target, weight, ignore_index, logp)
    keep = target != ignore_index
    smooth = _U["where"](keep, smooth, 0)
    if reduction == "mean":
        acc = D._compute_dtype(logp.dtype)      # half types: summed in float32, as nll_loss's mean
        smooth = (smooth.to(acc).sum() / w.to(acc).sum()).to(logp.dtype)
    elif reduction == "sum":
        smooth = smooth.sum()
    return (1 - label_smoothing) * nll + smooth * (label_smoothing / c)


def _fused_cross_entropy(input, target, ignore_index, reduction, label_smoothing=0.0, weight=None):
    """The class-index case: one fused op each way (``ops/cross_entropy.py``); logits ``(N, C, d...)``
    are read in place, their classes along dim 1. Class weights (no label smoothing) scale each
    position's loss by ``weight[t]`` after the fused op, in ops over the positions (not the classes);
    ``'mean'`` then divides by the kept positions' weights, as PyTorch does."""
    from ...ops.cross_entropy import _cross_entropy_rows, _cross_entropy_reduced
    x, t = (input.unsqueeze(0), target.reshape(1)) if input.dim() == 1 else (input, target)
    rows = _cross_entropy_rows(x, t, ignore_index, label_smoothing)   # (2, N * d...), float32 for half inputs
    if weight is not None:
        _, w = _picked_weights(t.reshape(-1), weight, ignore_index, x)     # w[t], 0 where ignored
        w = w.to(rows.dtype)            # summed in float32 for half inputs (as PyTorch's total weight)
        loss = rows[0] * w
        if reduction == "none":
            loss = loss.reshape(target.shape)
        elif reduction == "sum":
            loss = loss.sum()
        else:
            loss = loss.sum() / w.sum()
        return loss.to(input.dtype)
    if reduction == "none":
        loss = rows[0].reshape(target.shape)
    else:                                                         # one kernel each way
        loss = _cross_entropy_reduced(rows, t.reshape(-1), ignore_index, mean=reduction == "mean")
    return loss.to(input.dtype)


def _cross_entropy_probs(input, target, weight, ignore_index, reduction, label_smoothing, class_dim):
    if not target.dtype.is_floating_point:
        raise RuntimeError(f"Expected floating point type for target with class probabilities, got "
                           f"{_SCALAR_NAME.get(target.dtype, target.dtype)}")
    if ignore_index >= 0:
        raise RuntimeError("ignore_index is not supported for floating point target")
    c = input.shape[class_dim]
    if weight is not None and (weight.dim() != 1 or weight.numel() != c):
        raise RuntimeError(f"weight tensor should be defined either for all {c} classes or no classes but got "
                           f"weight tensor of shape: {_shape(weight)}")
    logp = _U["log_softmax"](input, class_dim)
    if label_smoothing > 0.0:
        target = target * (1 - label_smoothing) + label_smoothing / c
    prod = logp * target
    if weight is not None:
        wshape = [1] * input.dim()
        wshape[class_dim] = c
        prod = prod * weight.to(logp.dtype).reshape(wshape)
    if reduction == "none":
        return -prod.sum(class_dim)
    if reduction == "sum":
        return -prod.sum()
    n = input.numel() // c
    return -prod.sum() / n if n else -prod.sum() * float("nan")


# --- regression -----------------------------------------------------------------------------------------------

def _weighted(loss, weight, input, reduction, mean_by_weight=True):
    """The optional per-element ``weight`` of mse/l1/huber (PyTorch 2.6+): ``'mean'`` divides by
    ``weight.sum()`` for mse and l1, and takes the plain mean for huber."""
    if weight.size() != input.size():
        raise ValueError("Weights and input must have the same size.")
    loss = loss * weight
    if reduction == "none":
        return loss
    if reduction == "sum" or not mean_by_weight:
        return _reduce(loss, reduction)
    return loss.sum() / weight.sum()


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean squared error ``(input - target) ** 2``, optionally weighted per element."""
    if _amp_op._autocast is not None:  # ttorch.amp: PyTorch's autocast lists
        return _amp_op._autocast.call("mse_loss", mse_loss, input, target, size_average, reduce, reduction, weight)
    _size_warning(input, target)
    if input.dtype.is_complex:      # (the square would be complex: PyTorch has no complex mse)
        from ...ops._op import no_complex
        raise no_complex(f"mse_{input.device.type}", input.dtype)
    reduction = _legacy(reduction, size_average, reduce)
    x, y = _broadcast(input, target)
    loss = (x - y) ** 2
    return _reduce(loss, reduction) if weight is None else _weighted(loss, weight, input, reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean absolute error ``|input - target|``, optionally weighted per element."""
    if _amp_op._autocast is not None:  # ttorch.amp: PyTorch's autocast lists
        return _amp_op._autocast.call("l1_loss", l1_loss, input, target, size_average, reduce, reduction, weight)
    _size_warning(input, target)
    reduction = _legacy(reduction, size_average, reduce)
    x, y = _broadcast(input, target)
    loss = (x - y).abs()
    return _reduce(loss, reduction) if weight is None else _weighted(loss, weight, input, reduction)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """``0.5 d**2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta`` (``d = input - target``);
    ``beta == 0`` is ``l1_loss``."""
    if _amp_op._autocast is not None:  # ttorch.amp: PyTorch's autocast lists
        return _amp_op._autocast.call("smooth_l1_loss", smooth_l1_loss, input, target, size_average, reduce,
                                      reduction, beta)
    _size_warning(input, target)
    reduction = _legacy(reduction, size_average, reduce)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    x, y = _broadcast(input, target)
    d = (x - y).abs()
    if beta == 0.0:
        return _reduce(d, reduction)
    loss = _U["where"](d < beta, 0.5 * d * d / beta, d - 0.5 * beta)
    return _reduce(loss, reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """``0.5 d**2`` where ``|d| <= delta``, else ``delta (|d| - 0.5 delta)``; ``delta`` must be positive."""
    if _amp_op._autocast is not None:  # ttorch.amp: PyTorch's autocast lists
        return _amp_op._autocast.call("huber_loss", huber_loss, input, target, reduction, delta, weight)
    _size_warning(input, target)
    _Reduction.get_enum(reduction)
    if isinstance(delta, Tensor) and delta.dim() == 0 and not delta.is_complex():
        delta = delta.item()        # PyTorch's argument parser takes a 0-dim tensor as a float
    elif not isinstance(delta, numbers.Real):
        raise TypeError(f"huber_loss(): argument 'delta' (position 4) must be float, not {type(delta).__name__}")
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    x, y = _broadcast(input, target)
    d = (x - y).abs()
    loss = _U["where"](d < delta, 0.5 * d * d, delta * (d - 0.5 * delta))
    return _reduce(loss, reduction) if weight is None else _weighted(loss, weight, input, reduction, False)


# --- binary and probabilistic ---------------------------------------------------------------------------------

class _BinaryCrossEntropy(Function):
    """BCE with PyTorch's backward ``w (x - y) / max(x (1 - x), 1e-12)``: finite at ``x`` = 0 or 1,
    where differentiating the clamped logs would give ``0 * inf``."""

    @staticmethod
    def forward(ctx, x, y, w):
        ctx.save_for_backward(x, y, w)
        loss = -(y * x.log().clamp_min(-100) + (1 - y) * (1 - x).log().clamp_min(-100))
        return loss if w is None else loss * w

    @staticmethod
    def backward(ctx, g):
        x, y, w = ctx.saved_tensors
        log_x, log_1mx = x.log().clamp_min(-100), (1 - x).log().clamp_min(-100)
        gx = g * (x - y) / (x * (1 - x)).clamp_min(1e-12)
        gy = g * (log_1mx - log_x)
        if w is None:
            return gx, gy, None
        # PyTorch leaves weight non-differentiable; its gradient is the unweighted loss
        return gx * w, gy * w, -g * (y * log_x + (1 - y) * log_1mx)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    r"""Binary cross entropy of probabilities: ``-w (y log x + (1 - y) log(1 - x))``, each log clamped
    at ``-100`` as PyTorch does. ``input`` must lie in ``[0, 1]`` and have ``target``'s size."""
    if _amp_op._autocast is not None:  # ttorch.amp: PyTorch's autocast lists
        return _amp_op._autocast.call("binary_cross_entropy", binary_cross_entropy, input, target, weight,
                                      size_average, reduce, reduction)
    reduction = _legacy(reduction, size_average, reduce)
    if target.size() != input.size():
        raise ValueError(f"Using a target size ({target.size()}) that is different to the input size "
                         f"({input.size()}) is deprecated. Please ensure they have the same size.")
    if input.is_cuda:   # checked on the device, raised at the next sync (PyTorch's device assert)
        _checks.record(_BCE_RANGE, (input < 0) | (input > 1))
    elif np.any((input.detach().numpy() < 0) | (input.detach().numpy() > 1)):
        raise RuntimeError("all elements of input should be between 0 and 1")
    if weight is not None:
        weight = weight.expand(_ops.elementwise.broadcast_shapes(target.shape, weight.shape))
    return _reduce(_BinaryCrossEntropy.apply(input, target, weight), reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None, reduction="mean",
                                     pos_weight=None):
    r"""``-w (p y log sigmoid(x) + (1 - y) log(1 - sigmoid(x)))`` computed stably from logits as
    ``(1 - y) x - (1 + (p - 1) y) logsigmoid(x)``; ``pos_weight`` ``p`` broadcasts over the classes."""
    if _amp_op._autocast is not None:  # ttorch.amp: PyTorch's autocast lists
        return _amp_op._autocast.call("binary_cross_entropy_with_logits", binary_cross_entropy_with_logits, input,
                                      target, weight, size_average, reduce, reduction, pos_weight)
    reduction = _legacy(reduction, size_average, reduce)
    if target.size() != input.size():
        raise ValueError(f"Target size ({target.size()}) must be the same as input size ({input.size()})")
    log_sig = _U["logsigmoid"](input)
    if pos_weight is not None:
        log_sig = log_sig * ((pos_weight - 1) * target + 1)
    loss = (1 - target) * input - log_sig
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    r"""Kullback-Leibler divergence ``target * (log target - input)`` with ``input`` in log space
    (``target`` too if ``log_target``); ``'batchmean'`` divides the sum by the batch size."""
    if _amp_op._autocast is not None:  # ttorch.amp: PyTorch's autocast lists
        return _amp_op._autocast.call("kl_div", kl_div, input, target, size_average, reduce, reduction, log_target)
    if size_average is not None or reduce is not None:
        reduction = _Reduction.legacy_get_string(size_average, reduce)
    elif reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size."
                      "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
                      "'mean' will be changed to behave the same as 'batchmean' in the next major release.")
    if reduction != "batchmean":
        _Reduction.get_enum(reduction)
    if log_target:
        loss = target.exp() * (target - input)
    else:
        # PyTorch's formula, NaNs included: xlogy(t, t) is 0 at t == 0 but NaN for t < 0, and its
        # gradient with respect to t is NaN at t == 0 (0 / 0), as PyTorch's
        loss = _U["xlogy"](target, target) - target * input
    if reduction == "batchmean":
        out = loss.sum()
        return out / input.shape[0] if input.dim() != 0 else out
    return _reduce(loss, reduction)


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                     reduction="mean"):
    r"""Poisson negative log likelihood: ``exp(input) - target * input`` if ``log_input``, else
    ``input - target * log(input + eps)``; ``full`` adds Stirling's term where ``target > 1``."""
    if _amp_op._autocast is not None:  # ttorch.amp: PyTorch's autocast lists
        return _amp_op._autocast.call("poisson_nll_loss", poisson_nll_loss, input, target, log_input, full,
                                      size_average, eps, reduce, reduction)
    if size_average is not None or reduce is not None:
        reduction = _Reduction.legacy_get_string(size_average, reduce)
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not a valid value for reduction")
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        big = target > 1
        t = _U["where"](big, target, 2.0)      # keeps log() finite where the term is masked out
        stirling = t * t.log() - t + 0.5 * (2 * math.pi * t).log()
        loss = loss + _U["where"](big, stirling, 0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    r"""Gaussian negative log likelihood ``0.5 (log(max(var, eps)) + (input - target)**2 / max(var, eps))``
    (+ ``0.5 log(2 pi)`` if ``full``). ``var`` has input's shape, or one dimension fewer, or input's
    number of dims with one of them of size 1 (one variance shared along it), or is a float."""
    if not isinstance(var, Tensor):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = _U["full"](tuple(input.shape[:-1]) + (1,) if input.dim() else (), float(var), dtype=input.dtype,
                         device=input.device)
    elif bool((var < 0).any()):
        raise ValueError("var has negative entry/entries")
    if var.size() != input.size():
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif input.dim() == var.dim() and sum(v for i, v in zip(input.shape, var.shape) if i != v) == 1:
            pass        # PyTorch's rule: a single mismatched dim, of size 1 in var (any dim, not only the last)
        else:
            raise ValueError("var is of incorrect size")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    # PyTorch clamps in place under no_grad: the gradient passes through the clamp unchanged
    var = var + (var.clamp_min(eps) - var).detach()
    loss = 0.5 * (var.log() + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


# --- margins and embeddings -----------------------------------------------------------------------------------

def cosine_embedding_loss(input1, input2, target, margin=0, size_average=None, reduce=None, reduction="mean"):
    r"""``1 - cos(x1, x2)`` where ``y == 1``, ``max(0, cos(x1, x2) - margin)`` where ``y == -1``."""
    if _amp_op._autocast is not None:  # ttorch.amp: PyTorch's autocast lists
        return _amp_op._autocast.call("cosine_embedding_loss", cosine_embedding_loss, input1, input2, target, margin,
                                      size_average, reduce, reduction)
    reduction = _legacy(reduction, size_average, reduce)
    d = target.dim()
    if d not in (0, 1):
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if d == 1 and not (input1.dim() == 2 and input2.dim() == 2):
        raise RuntimeError(f"1D target tensor expects 2D input tensors, but found inputs with sizes "
                           f"{_shape(input1)} and {_shape(input2)}.")
    if d == 0 and not (input1.dim() == 1 and input2.dim() == 1):
        raise RuntimeError(f"0D target tensor expects 1D input tensors, but found inputs with sizes "
                           f"{_shape(input1)} and {_shape(input2)}.")
    eps = 1e-12
    prod = (input1 * input2).sum(d)
    m1 = (input1 * input1).sum(d) + eps
    m2 = (input2 * input2).sum(d) + eps
    cos = prod / (m1 * m2).sqrt()
    loss = _U["where"](target == 1, 1 - cos, 0) + _U["where"](target == -1, (cos - margin).clamp_min(0), 0)
    return _reduce(loss, reduction)


def margin_ranking_loss(input1, input2, target, margin=0, size_average=None, reduce=None, reduction="mean"):
    r"""``max(0, -y (x1 - x2) + margin)``."""
    if _amp_op._autocast is not None:  # ttorch.amp: PyTorch's autocast lists
        return _amp_op._autocast.call("margin_ranking_loss", margin_ranking_loss, input1, input2, target, margin,
                                      size_average, reduce, reduction)
    reduction = _legacy(reduction, size_average, reduce)
    if input1.dim() != input2.dim() or input1.dim() != target.dim():
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension but got sizes: "
                           f"input1: {input1.size()}, input2: {input2.size()}, target: {target.size()} ")
    return _reduce((-target * (input1 - input2) + margin).clamp_min(0), reduction)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"):
    r"""``x`` where ``y == 1``, ``max(0, margin - x)`` where ``y == -1``."""
    if _amp_op._autocast is not None:  # ttorch.amp: PyTorch's autocast lists
        return _amp_op._autocast.call("hinge_embedding_loss", hinge_embedding_loss, input, target, margin,
                                      size_average, reduce, reduction)
    reduction = _legacy(reduction, size_average, reduce)
    loss = _U["where"](target != 1, (margin - input).clamp_min(0), 0) + _U["where"](target != -1, input, 0)
    return _reduce(loss, reduction)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    r"""Two-class logistic loss ``log(1 + exp(-y x))``."""
    if _amp_op._autocast is not None:  # ttorch.amp: PyTorch's autocast lists
        return _amp_op._autocast.call("soft_margin_loss", soft_margin_loss, input, target, size_average, reduce,
                                      reduction)
    reduction = _legacy(reduction, size_average, reduce)
    return _reduce((1 + (-input * target).exp()).log(), reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    r"""Multi-label one-versus-all logistic loss, averaged over the ``C`` classes:
    ``-mean_c w_c (y_c logsigmoid(x_c) + (1 - y_c) logsigmoid(-x_c))``."""
    if size_average is not None or reduce is not None:
        reduction = _Reduction.legacy_get_string(size_average, reduce)
    loss = -(target * _U["logsigmoid"](input) + (1 - target) * _U["logsigmoid"](-input))
    if weight is not None:
        loss = loss * weight
    class_dim = input.dim() - 1
    loss = loss.sum(class_dim) / input.shape[class_dim]
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    return _reduce(loss, reduction)


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                      reduction="mean"):
    r"""Multi-class hinge loss: per sample ``sum_{i != y} w_y max(0, margin - x_y + x_i)^p / C``
    (``p`` 1 or 2), for input (N, C) or (C,) and class indices ``target`` (N,) or ().

    Example::

        >>> import ttorch, ttorch.nn.functional as F
        >>> round(F.multi_margin_loss(ttorch.tensor([[0.1, 0.2, 0.4, 0.8]]), ttorch.tensor([3])).item(), 4)
        0.325
    """
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    reduction = _legacy(reduction, size_average, reduce)
    if input.dim() > 2:
        raise RuntimeError("Expected non-empty vector or matrix with optional 0-dim batch size, but got: "
                           f"{list(input.shape)}")
    x = input if input.dim() == 2 else input.reshape(1, -1)
    if target.dim() > 1 or target.numel() != x.shape[0]:
        raise RuntimeError("multi_margin_loss: target tensor should be 1-D with size equal to the number of input "
                           f"samples (batch size). Expected target size [{x.shape[0]}], but got "
                           f"{list(target.shape)}. Input has shape {list(input.shape)}.")
    y = target.reshape(-1, 1)
    c = x.shape[1]
    terms = (margin - x.gather(1, y) + x).clamp(min=0)          # (N, C)
    if p == 2:
        terms = terms * terms
    if weight is not None:
        terms = terms * weight.gather(0, y.reshape(-1)).reshape(-1, 1)
    from ...ops.creation import arange
    others = arange(c, device=x.device) != y                     # every class but the target
    loss = (terms * others).sum(1) / c
    return _reduce(loss if input.dim() == 2 else loss.reshape(()), reduction)


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    r"""Multi-label hinge loss: per sample ``sum_{j, i} max(0, 1 - (x[y_j] - x_i)) / C`` over the target
    classes ``y_j`` (the indices in ``target`` before its first -1) and the other classes ``i``. The
    pairs are held as an (N, C, C) tensor.

    Example::

        >>> import ttorch, ttorch.nn.functional as F
        >>> x, y = ttorch.tensor([[0.1, 0.2, 0.4, 0.8]]), ttorch.tensor([[3, 0, -1, 1]])
        >>> round(F.multilabel_margin_loss(x, y).item(), 4)
        0.85
    """
    reduction = _legacy(reduction, size_average, reduce)
    if target.shape != input.shape:
        raise RuntimeError(f"inconsistent target size: {list(target.shape)} for input of size: {list(input.shape)}")
    x = input if input.dim() == 2 else input.reshape(1, -1)
    y = target.reshape(x.shape)
    c = x.shape[1]
    from ...ops.creation import arange
    valid = (y != -1).to(D.int64).cumprod(1).bool()              # the indices before the first -1
    is_target = ((y.unsqueeze(2) == arange(c, device=x.device)) & valid.unsqueeze(2)).any(1)      # (N, C)
    xt = x.gather(1, y.clamp(min=0))                             # x at each listed target
    pairs = (1 - xt.unsqueeze(2) + x.unsqueeze(1)).clamp(min=0)  # (N, j, i)
    loss = (pairs * (valid.unsqueeze(2) & ~is_target.unsqueeze(1))).sum((1, 2)) / c
    return _reduce(loss if input.dim() == 2 else loss.reshape(()), reduction)


def _pairwise_distance(x1, x2, p, eps):
    dim = max(x1.dim(), x2.dim()) - 1
    return _U["norm"](x1 - x2 + eps, p, dim)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, size_average=None,
                        reduce=None, reduction="mean"):
    r"""``max(0, margin + d(a, p) - d(a, n))`` with ``d`` the ``p``-norm pairwise distance; ``swap``
    uses ``min(d(a, n), d(p, n))`` as the negative distance."""
    if _amp_op._autocast is not None:  # ttorch.amp: PyTorch's autocast lists
        return _amp_op._autocast.call("triplet_margin_loss", triplet_margin_loss, anchor, positive, negative, margin,
                                      p, eps, swap, size_average, reduce, reduction)
    reduction = _legacy(reduction, size_average, reduce)
    a, pd, nd = anchor.dim(), positive.dim(), negative.dim()
    if not (a == pd == nd):
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the same number of "
                           f"dimensions, but got: anchor {a}D, positive {pd}D, and negative {nd}D inputs")
    d_pos = _pairwise_distance(anchor, positive, p, eps)
    d_neg = _pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = _U["minimum"](d_neg, _pairwise_distance(positive, negative, p, eps))
    return _reduce((margin + d_pos - d_neg).clamp_min(0), reduction)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None, margin=1.0, swap=False,
                                      reduction="mean"):
    r"""``max(0, margin + d(a, p) - d(a, n))`` with any distance ``d`` (default :func:`pairwise_distance`);
    ``swap`` uses ``min(d(a, n), d(p, n))`` as the negative distance.

    Example::

        >>> import ttorch, ttorch.nn.functional as F
        >>> a, p, n = ttorch.zeros(2, 3), ttorch.ones(2, 3), ttorch.full((2, 3), 2.)
        >>> F.triplet_margin_with_distance_loss(a, p, n, distance_function=lambda x, y: (x - y).abs().sum(-1),
        ...                                     margin=4.0, reduction="none")
        tensor([1., 1.])
    """
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    a, pd, nd = anchor.dim(), positive.dim(), negative.dim()
    if not (a == pd == nd):
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the same number of "
                           f"dimensions, but got: anchor {a}D, positive {pd}D, and negative {nd}D inputs")
    if distance_function is None:
        from .linear import pairwise_distance as distance_function
    d_pos = distance_function(anchor, positive)
    d_neg = distance_function(anchor, negative)
    if swap:
        d_neg = _U["minimum"](d_neg, distance_function(positive, negative))
    return _reduce((margin + d_pos - d_neg).clamp_min(0), reduction)
