"""Exact samplers composed of ttorch ops (so they run on cpu and cuda): Poisson, binomial and
standard gamma, with the gamma's reparameterized gradient by implicit differentiation.

Rejection samplers run vectorized rounds over the elements still without a sample: each round
proposes once for each of them, keeps the accepted proposals and goes on with the rest (a host
sync per round, to size the next). Each method accepts with probability above 0.6 (most above
0.9), so a million samples take a handful of rounds, each smaller than the last; ``_MAX_ROUNDS``
is a guard that no run reaches. All arithmetic is float64 (lgamma differences of large counts
need it); results are cast back.
"""
import ttorch
from ttorch.autograd.function import Function, once_differentiable

__all__ = ["poisson", "binomial", "standard_gamma"]

_MAX_ROUNDS = 1000


def _rand(like):
    return ttorch.rand(like.shape, dtype=like.dtype, device=like.device)


def _rejection(params, propose):
    """Samples for flat tensors ``params`` (one length): rounds of ``propose(*pending_params) ->
    (candidate, accepted)`` on the elements still pending, until each has accepted once."""
    out = ttorch.zeros_like(params[0])
    pending = ttorch.arange(params[0].numel(), device=out.device)
    for _ in range(_MAX_ROUNDS):
        if pending.numel() == 0:
            return out
        cand, ok = propose(*(p[pending] for p in params))
        out[pending[ok]] = cand[ok]
        pending = pending[~ok]
    raise RuntimeError("rejection sampler did not finish")


def _split(mask, values, first, second):
    """``first(*values[mask])`` where ``mask``, ``second(*values[~mask])`` elsewhere (flat tensors)."""
    if bool(mask.all()):
        return first(*values)
    if not bool(mask.any()):
        return second(*values)
    out = ttorch.zeros_like(values[0])
    for m, fn in ((mask, first), (~mask, second)):
        idx = m.nonzero().reshape(-1)
        out[idx] = fn(*(v[idx] for v in values))
    return out


def _refine(ok, need, test, *values):
    """``ok`` with ``test(*values[need])`` filled in where ``need``: the costly final test of a
    rejection sampler (lgamma), run only where the cheap squeeze could not decide."""
    idx = need.nonzero().reshape(-1)
    if idx.numel():
        ok = ok.clone()
        ok[idx] = test(*(v[idx] for v in values))
    return ok


def _count_arrivals(gap, limit):
    """The number of arrivals in ``[0, limit]`` of a process with gaps ``gap()`` (fresh draws): a
    Poisson count for exponential gaps, a binomial one for geometric gaps. Loops while any
    element is still counting (as many rounds as the largest count, plus one)."""
    t = ttorch.zeros_like(limit)
    k = ttorch.zeros_like(limit)
    while True:
        t = t + gap()
        inside = t <= limit
        if not bool(inside.any()):
            return k
        k = k + inside.to(k.dtype)


def _poisson_count(lam):
    # arrivals are > 0 almost surely but -log1p(-0) is 0: zero rates are set apart
    k = _count_arrivals(lambda: -ttorch.log1p(-_rand(lam)), lam)
    return ttorch.where(lam == 0, 0.0, k)


def _poisson_ptrs(lam):
    slam, loglam = lam.sqrt(), lam.log()
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    invalpha = 1.1239 + 1.1328 / (b - 3.4)
    vr = 0.9277 - 3.6224 / (b - 2)

    def final(lam, loglam, a, b, invalpha, us, v, k):
        lhs = v.log() + invalpha.log() - (a / (us * us) + b).log()
        return lhs <= -lam + k * loglam - (k + 1).lgamma()

    def propose(lam, loglam, a, b, invalpha, vr):
        u = _rand(lam) - 0.5
        v = _rand(lam)
        us = 0.5 - u.abs()
        k = ((2 * a / us + b) * u + lam + 0.43).floor()
        quick = (us >= 0.07) & (v <= vr)
        bad = (k < 0) | ((us < 0.013) & (v > us))
        return k, _refine(quick, ~quick & ~bad, final, lam, loglam, a, b, invalpha, us, v, k)
    return _rejection([lam, loglam, a, b, invalpha, vr], propose)


def poisson(rate):
    """Poisson samples of ``rate`` (same shape and dtype): for rates below 10, the number of unit-rate
    exponential arrivals in ``[0, rate]``; above, Hörmann's transformed rejection PTRS (1993), whose
    final test uses exact ``lgamma``."""
    lam = rate.detach().double().reshape(-1)
    k = _split(lam < 10, (lam,), _poisson_count, _poisson_ptrs)
    return k.reshape(rate.shape).to(rate.dtype)


def _binomial_count(n, q):
    log1mq = ttorch.log1p(-q)

    def gap():   # trials up to and including the next success: 1 + Geometric(q), inf when q = 0
        return (ttorch.log1p(-_rand(q)) / log1mq).floor() + 1
    return _count_arrivals(gap, n)


def _binomial_btrs(n, q):
    spq = (n * q * (1 - q)).sqrt()
    b = 1.15 + 2.53 * spq
    a = -0.0873 + 0.0248 * b + 0.01 * q
    c = n * q + 0.5
    v_r = 0.92 - 4.2 / b
    alpha = (2.83 + 5.1 / b) * spq
    lpq = (q / (1 - q)).log()
    m = ((n + 1) * q).floor()
    h = (m + 1).lgamma() + (n - m + 1).lgamma()

    def final(n, a, b, alpha, lpq, m, h, us, v, k):
        lhs = (v * alpha / (a / (us * us) + b)).log()
        return lhs <= h - (k + 1).lgamma() - (n - k + 1).lgamma() + (k - m) * lpq

    def propose(n, a, b, c, v_r, alpha, lpq, m, h):
        u = _rand(n) - 0.5
        v = _rand(n)
        us = 0.5 - u.abs()
        k = ((2 * a / us + b) * u + c).floor()
        inside = (k >= 0) & (k <= n)
        quick = inside & (us >= 0.07) & (v <= v_r)
        return k, _refine(quick, inside & ~quick, final, n, a, b, alpha, lpq, m, h, us, v, k)
    return _rejection([n, a, b, c, v_r, alpha, lpq, m, h], propose)


def binomial(total_count, probs):
    """Binomial samples (float, of the broadcast shape of ``total_count`` and ``probs``). With
    ``q = min(p, 1 - p)``: where ``n q < 10``, the number of geometric waiting times that fit in ``n``
    trials; elsewhere Hörmann's BTRS rejection (1993) with exact ``lgamma`` in its final test. Samples
    for ``p > 1/2`` are ``n`` less a sample of ``1 - p``."""
    n, p = ttorch.broadcast_tensors(total_count.detach().double(), probs.detach().double())
    shape = n.shape
    n, p = n.reshape(-1), p.reshape(-1)
    flip = p > 0.5
    q = ttorch.where(flip, 1 - p, p)
    k = _split(n * q < 10, (n, q), _binomial_count, _binomial_btrs)
    return ttorch.where(flip, n - k, k).reshape(shape).to(probs.dtype)


def _gamma_marsaglia_tsang(alpha):
    """Standard gamma samples (float64) by Marsaglia and Tsang (2000), boosted below 1 by
    ``Gamma(alpha) = Gamma(alpha + 1) * U^(1/alpha)``."""
    flat = alpha.reshape(-1)
    a = ttorch.where(flat < 1, flat + 1, flat)

    def propose(a):
        d = a - 1.0 / 3.0
        c = 1.0 / (9.0 * d).sqrt()
        x = ttorch.randn(a.shape, dtype=a.dtype, device=a.device)
        v = (1 + c * x) ** 3
        u = _rand(a)
        v_safe = ttorch.where(v > 0, v, 1.0)
        ok = (v > 0) & (u.log() < 0.5 * x * x + d - d * v_safe + d * v_safe.log())
        return d * v_safe, ok

    g = _rejection([a], propose)
    boost = ttorch.exp(ttorch.log1p(-_rand(a)) / flat)          # U^(1/alpha), U in (0, 1]
    return ttorch.where(flat < 1, g * boost, g).reshape(alpha.shape)


def _gamma_sample_grad(x, alpha):
    """d x / d alpha of a standard gamma sample at fixed CDF level (implicit differentiation):
    ``-dP(alpha, x)/dalpha / p(x)`` with the series ``P = sum_n x^(alpha+n) e^-x / Gamma(alpha+n+1)``,
    which gives ``-x sum_n c_n (log x - digamma(alpha + n + 1))``, ``c_n = x^n Gamma(alpha) /
    Gamma(alpha + n + 1)``: the powers of x and e^-x cancel, c_n and digamma follow by recurrence.
    Terms are summed until a bound of the tail is below 1e-16 of the sum everywhere:
    about ``x - alpha + 9 sqrt(x)`` terms (the cost grows with alpha)."""
    x = x.double().clamp(min=2.2250738585072014e-308)      # the smallest normal float64
    alpha = alpha.double()
    logx = x.log()
    cn = 1.0 / alpha                             # c_0
    psi = alpha.digamma() + 1.0 / alpha          # digamma(alpha + 1)
    total = cn * (logx - psi)
    n = 0
    while True:
        for _ in range(16):
            n += 1
            an = alpha + n
            cn = cn * x / an
            psi = psi + 1.0 / an                 # digamma(alpha + n + 1)
            total = total + cn * (logx - psi)
        # tail past term n: ratios below r = x / (alpha + n + 1), digamma growing by at most j / (alpha + n)
        r = x / (alpha + n + 1)
        gap = (1 - r).clamp(min=1e-300)
        tail = cn * (r / gap * (logx - psi).abs() + r / (gap * gap * (alpha + n)))
        if bool(((r < 1) & (tail <= 1e-16 * total.abs())).all()) or n > 10 ** 6:
            return -x * total


class _StandardGamma(Function):
    """Standard gamma samples whose gradient w.r.t. ``alpha`` is the implicit one (Figurnov et al.,
    2018), as PyTorch's ``_standard_gamma``; PyTorch approximates d x / d alpha, this sums its series."""

    @staticmethod
    def forward(ctx, alpha):
        x = _gamma_marsaglia_tsang(alpha.detach().double())
        x = x.clamp(min=ttorch.finfo(alpha.dtype).tiny).to(alpha.dtype)
        ctx.save_for_backward(x, alpha)
        return x

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        x, alpha = ctx.saved_tensors
        return grad * _gamma_sample_grad(x, alpha).to(grad.dtype)


def standard_gamma(alpha):
    """Samples of Gamma(alpha, 1), of ``alpha``'s shape and dtype, reparameterized: they carry
    gradients w.r.t. ``alpha``."""
    return _StandardGamma.apply(alpha)

