"""The plan of a length-n DFT on cuda (host only): a sequence of passes chosen by a cost model.

A plan is a tuple of passes ``(kind, r)`` whose sizes multiply to n. ``fft.py`` runs them as a Stockham
sequence (each pass one launch of ``_dft_kernel``, a strided batched DFT of size r with the twiddles of its
level in the epilogue, between ping-pong buffers). ``"dft"`` passes are direct products of size
r <= ``RADIX_MAX``, except a last pass that is a prime above it, or the one pass of a whole-length direct
plan, where those cost least. A ``"bluestein"`` pass, always the last, runs size r as Bluestein's chirp
convolution of a 7-smooth length m >= 2r - 1 (``bluestein_length``); ``(("bluestein", n),)`` is the
whole-length Bluestein transform.

The cost of a pass over n elements is n times a per-element cost, so a plan's cost is n times the sum of
its passes' costs and the best split is a shortest path over the divisors of n (memoised). ``macs`` counts
the complex multiply-adds a plan performs (unpadded), the number reported for a length.
"""
import functools

# The cost model's thresholds, all here. UNTIMED ON A GPU (none was available when they were set): they
# follow the kernel's tile shapes and a rough memory-versus-math balance, and want timing on an A100/H100.
RADIX_MAX = 64          # the largest direct pass inside a multi-pass plan (the kernel's widest row tile)
TILE = 16               # the kernel's smallest row tile and reduction step: radix r costs ceil(r / 16) * 16
#                         products per output along both, so radices 2..15 cost as much as 16 does
PASS_COST = 16          # one pass's loads, twiddle and stores per element, in multiply-add equivalents
BLUESTEIN_ELEMWISE = 8  # Bluestein's chirp products, zero padding and slicing, per element of its length m


def _primes(n):
    """The prime factors of n, with multiplicity, by trial division."""
    out, p = [], 2
    while p * p <= n:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    return out + ([n] if n > 1 else [])


def _pad(r):
    return -(-r // TILE) * TILE


def _dft_cost(r):
    """Per-element cost of a direct pass of size r (tile padding included)."""
    return _pad(r) ** 2 / r + PASS_COST


def _smooth(lo, hi):
    """The 7-smooth numbers in [lo, hi] (their plans need no convolution of their own)."""
    out, p2 = [], 1
    while p2 <= hi:
        p3 = p2
        while p3 <= hi:
            p5 = p3
            while p5 <= hi:
                p7 = p5
                while p7 <= hi:
                    if p7 >= lo:
                        out.append(p7)
                    p7 *= 7
                p5 *= 5
            p3 *= 3
        p2 *= 2
    return out


def _convolution_cost(m):
    return (2 * plan(m)[0] + BLUESTEIN_ELEMWISE) * m


@functools.lru_cache(maxsize=1024)
def bluestein_length(n):
    """m: the length of Bluestein's circular convolution for a length-n DFT, the 7-smooth m >= 2n - 1
    (at most the next power of two) whose two transforms and products cost least."""
    return min(_smooth(2 * n - 1, 1 << (2 * n - 2).bit_length()), key=lambda m: (_convolution_cost(m), m))


def _bluestein_cost(r):
    """Per-element cost of a Bluestein pass of size r: two transforms of length m and the products."""
    return _convolution_cost(bluestein_length(r)) / r + PASS_COST


def _better(a, b):
    return a if (a[0], len(a[1])) < (b[0], len(b[1])) else b


@functools.lru_cache(maxsize=4096)
def _split(n):
    """(cost per element, passes) of the cheapest multi-pass plan for n: radices <= RADIX_MAX, then a last
    pass that is a prime above it (direct) or a Bluestein transform."""
    if n == 1:
        return 0.0, ()
    best = (float("inf"), ())
    if n <= RADIX_MAX or len(_primes(n)) == 1:
        best = (_dft_cost(n), (("dft", n),))
    for r in range(2, min(RADIX_MAX, n - 1) + 1):
        if n % r == 0:
            c, rest = _split(n // r)
            best = _better((_dft_cost(r) + c, (("dft", r),) + rest), best)
    if n > RADIX_MAX and max(_primes(n)) > 7:             # (a 7-smooth length never needs the convolution)
        best = _better((_bluestein_cost(n), (("bluestein", n),)), best)
    return best


def plan(n):
    """(cost per element, passes) of the cheapest plan for length n >= 1: multi-pass, Bluestein, or one
    direct pass of the whole length (which can beat small radices' tile padding: 134 = 2 * 67)."""
    return _better(_split(n), (_dft_cost(n), (("dft", n),))) if n > 1 else (0.0, ())


def macs(n, passes=None):
    """Complex multiply-adds of one length-n transform by ``passes`` (default: its plan), unpadded."""
    passes = plan(n)[1] if passes is None else passes
    total = 0
    for kind, r in passes:
        if kind == "dft":
            total += n * r
        else:       # n / r convolutions: two length-m transforms, the spectrum product and two chirp products
            m = bluestein_length(r)
            total += n // r * (2 * macs(m) + m + 2 * r)
    return total
