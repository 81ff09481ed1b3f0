"""``ctc_loss``: Connectionist Temporal Classification, the alpha recursion in log space written in
ttorch ops (one step per time frame, all samples and label positions at once), so it runs on cpu and
cuda and autograd differentiates it."""
import numpy as np

from ... import ops as _ops
from ..._tensor import Tensor
from .. import _reduction as _Reduction

_U = _ops.FUNCTIONS

__all__ = ["ctc_loss"]


_NEG = -1e30    # "log 0" for the alpha recursion: finite, so no 0 * inf reaches the gradient


def _lse3(a, b, c):
    m = _U["maximum"](_U["maximum"](a, b), c)
    return m + ((a - m).exp() + (b - m).exp() + (c - m).exp()).log()


def _as_lengths(x, device):
    if isinstance(x, Tensor):
        return x.detach().cpu().numpy().astype(np.int64).reshape(-1)
    return np.asarray(x, dtype=np.int64).reshape(-1)


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=False):
    r"""Connectionist Temporal Classification loss: ``-log`` of the total probability of every alignment
    of ``targets`` (with blanks and repeats) to ``log_probs``, by the alpha (forward) recursion in
    log space; autograd differentiates the recursion. Its gradient is the exact one with respect to
    ``log_probs``; PyTorch's kernel returns one that equals it only after ``log_softmax``'s backward
    (the usual case: ``log_probs = logits.log_softmax(2)``).

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
    in_len = _as_lengths(input_lengths, log_probs.device)
    tg_len = _as_lengths(target_lengths, log_probs.device)
    if in_len.size != N or tg_len.size != N:
        raise RuntimeError(f"input_lengths must be of size batch_size ({N}) and target_lengths too")
    if (in_len > T).any():
        raise RuntimeError(f"Expected input_lengths to have value at most {T}, but got value {in_len.max()} "
                           "(while checking arguments for ctc_loss_cpu)")
    tg = targets.detach().cpu().numpy().astype(np.int64)
    s_max = max(int(tg_len.max()) if N else 0, 0)
    padded = np.zeros((N, s_max), np.int64)
    offset = 0
    for n in range(N):
        if tg.ndim == 1:   # concatenated targets
            padded[n, :tg_len[n]] = tg[offset:offset + tg_len[n]]
            offset += tg_len[n]
        else:
            if tg.shape[1] < tg_len[n]:
                raise RuntimeError(f"Expected tensor to have size at least {tg_len[n]} at dimension 1, but got "
                                   f"size {tg.shape[1]} for argument #2 'targets' (while checking arguments for "
                                   "ctc_loss_cpu)")
            padded[n, :tg_len[n]] = tg[n, :tg_len[n]]
    L = 2 * s_max + 1
    ext = np.full((N, L), blank, np.int64)
    ext[:, 1::2] = padded                                                   # blank, l1, blank, l2, ..., blank
    skip = np.zeros((N, L), bool)                                           # s-2 -> s allowed
    skip[:, 3::2] = padded[:, 1:] != padded[:, :-1]
    dev, dt = log_probs.device, log_probs.dtype
    ext_t = _tensor(ext, dev)
    lp = log_probs.gather(2, ext_t.unsqueeze(0).expand(T, N, L))             # (T, N, L)
    skip_t = _tensor(skip, dev)
    neg = _U["full"]((N, L), _NEG, dtype=dt, device=dev)
    start = np.zeros((N, L), bool)
    start[:, :2] = True
    start[:, 1] = tg_len > 0
    alpha = _U["where"](_tensor(start, dev), lp[0], neg) if T else neg
    for t in range(1, T):
        a1 = _U["cat"]([neg[:, :1], alpha[:, :-1]], 1)
        a2 = _U["where"](skip_t, _U["cat"]([neg[:, :2], alpha[:, :-2]], 1) if L > 2 else neg, neg)
        new = _lse3(alpha, a1, a2) + lp[t]
        alpha = _U["where"](_tensor((t < in_len)[:, None], dev), new, alpha)   # frozen past input_length
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
