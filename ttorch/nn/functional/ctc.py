"""``ctc_loss``: Connectionist Temporal Classification, the alpha recursion in log space written in
ttorch ops (one step per time frame, all samples and label positions at once), so it runs on cpu and
cuda and autograd differentiates it."""
import numpy as np

from ... import ops as _ops
from ... import _dtype as D
from ..._tensor import Tensor
from .. import _reduction as _Reduction

_U = _ops.FUNCTIONS

__all__ = ["ctc_loss"]


_NEG = -1e30    # "log 0" for the alpha recursion: finite, so no 0 * inf reaches the gradient


def _lse3(a, b, c):
    m = _U["maximum"](_U["maximum"](a, b), c)
    return m + ((a - m).exp() + (b - m).exp() + (c - m).exp()).log()


def _host_lengths(x):
    """Lengths as a host int64 array: Python ints and cpu tensors are read in place; a cuda tensor is
    copied back once (PyTorch's ``ctc_loss`` takes its lengths as host ``IntArrayRef``s too)."""
    if isinstance(x, Tensor):
        return x._host().astype(np.int64).reshape(-1)
    return np.asarray(x, dtype=np.int64).reshape(-1)


def _extended_labels(targets, tg_len, blank, device):
    """``(N, 2 * max(tg_len) + 1)`` int64 on ``device``: blank, l1, blank, l2, ..., blank. Built with
    device ops, so the targets are never read back; labels past a sample's length become ``blank``, so
    padding values (which may be anything) never index the gather out of range."""
    N, s_max = tg_len.size, int(tg_len.max()) if tg_len.size else 0
    blanks = _U["full"]((N, 1), blank, dtype=D.int64, device=device)
    if s_max == 0:
        return blanks
    targets = targets.to(device=device, dtype=D.int64)
    valid = np.arange(s_max) < tg_len[:, None]                             # (N, s_max), host
    if targets.dim() == 1:   # concatenated: sample n's j-th label sits at off[n] + j
        off = np.cumsum(tg_len) - tg_len
        labels = targets[_tensor(np.where(valid, off[:, None] + np.arange(s_max), 0), device)]
    else:
        labels = targets[:, :s_max]
    labels = _U["where"](_tensor(valid, device), labels, blank)
    pairs = _U["stack"]([blanks.expand(N, s_max), labels], 2).reshape(N, 2 * s_max)
    return _U["cat"]([pairs, blanks], 1)


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=False):
    r"""Connectionist Temporal Classification loss: ``-log`` of the total probability of every alignment
    of ``targets`` (with blanks and repeats) to ``log_probs``, by the alpha (forward) recursion in
    log space; autograd differentiates the recursion. Its gradient is the exact one with respect to
    ``log_probs``; PyTorch's kernel returns one that equals it only after ``log_softmax``'s backward
    (the usual case: ``log_probs = logits.log_softmax(2)``).

    The lengths are read on the host, as PyTorch does: given as ints or cpu tensors this costs nothing;
    cuda tensors are copied back once each. ``targets`` stays on the device.

    Shape:
        log_probs: ``(T, N, C)`` or ``(T, C)``, log-softmaxed over C; targets: ``(N, S)`` padded or
        ``(sum(target_lengths),)`` concatenated; input_lengths, target_lengths: ``(N,)`` (or ints).
        Output: scalar, or ``(N,)`` with ``reduction='none'``.
    """
    _Reduction.get_enum(reduction)
    unbatched = log_probs.dim() == 2
    if unbatched:
        log_probs = log_probs.unsqueeze(1)
        targets = targets.unsqueeze(0) if targets.dim() == 1 else targets
    T, N, C = log_probs.shape
    in_len = _host_lengths(input_lengths)
    tg_len = _host_lengths(target_lengths)
    if in_len.size != N or tg_len.size != N:
        raise RuntimeError(f"input_lengths must be of size batch_size ({N}) and target_lengths too")
    if (in_len > T).any():
        raise RuntimeError(f"Expected input_lengths to have value at most {T}, but got value {in_len.max()} "
                           "(while checking arguments for ctc_loss_cpu)")
    if targets.dim() == 1 and targets.shape[0] < tg_len.sum():
        raise RuntimeError(f"Expected tensor to have size {tg_len.sum()} at dimension 0, but got size "
                           f"{targets.shape[0]} for argument #2 'targets' (while checking arguments for ctc_loss_cpu)")
    if targets.dim() == 2 and (tg_len > targets.shape[1]).any():
        n = int(np.argmax(tg_len > targets.shape[1]))
        raise RuntimeError(f"Expected tensor to have size at least {tg_len[n]} at dimension 1, but got "
                           f"size {targets.shape[1]} for argument #2 'targets' (while checking arguments for "
                           "ctc_loss_cpu)")
    dev, dt = log_probs.device, log_probs.dtype
    ext = _extended_labels(targets, tg_len, blank, dev)                      # (N, L)
    L = ext.shape[1]
    lp = log_probs.gather(2, ext.unsqueeze(0).expand(T, N, L))               # (T, N, L)
    # s-2 -> s is allowed between two different labels; at blanks ext[s] == ext[s-2] == blank
    skip = _U["cat"]([_U["zeros"]((N, min(L, 2)), dtype=D.bool, device=dev), ext[:, 2:] != ext[:, :-2]], 1)
    neg = _U["full"]((N, L), _NEG, dtype=dt, device=dev)
    start = np.zeros((N, L), bool)
    start[:, :2] = True
    start[:, 1:2] = (tg_len > 0)[:, None]                                 # L may be 1 (no labels at all)
    # the per-step "t < input_length" masks go to the device in one copy; the loop only takes views
    active = _tensor(np.arange(T)[:, None, None] < in_len[:, None], dev)      # (T, N, 1): t < input_length
    alpha = _U["where"](_tensor(start, dev), lp[0], neg) if T else neg
    for t in range(1, T):
        a1 = _U["cat"]([neg[:, :1], alpha[:, :-1]], 1)
        a2 = _U["where"](skip, _U["cat"]([neg[:, :2], alpha[:, :-2]], 1) if L > 2 else neg, neg)
        new = _lse3(alpha, a1, a2) + lp[t]
        alpha = _U["where"](active[t], new, alpha)                           # frozen past input_length
    last = _tensor(2 * tg_len, dev).unsqueeze(1)                       # position L_n - 1
    end1 = alpha.gather(1, last).squeeze(1)
    end2 = _U["where"](_tensor(tg_len > 0, dev), alpha.gather(1, (last - 1).clamp_min(0)).squeeze(1), _NEG)
    m = _U["maximum"](end1, end2)
    total = m + ((end1 - m).exp() + (end2 - m).exp()).log()
    impossible = (total < _NEG / 2) | _tensor(in_len == 0, dev) & _tensor(tg_len > 0, dev)
    loss = _U["where"](impossible, 0.0 if zero_infinity else float("inf"), -total)
    if reduction == "mean":
        return (loss / _tensor(np.maximum(tg_len, 1), dev).to(dt)).mean()
    if reduction == "sum":
        return loss.sum()
    return loss.squeeze(0) if unbatched else loss


def _tensor(a, device):
    return _U["tensor"](a, device=device)
