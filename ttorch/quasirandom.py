"""``ttorch.quasirandom.SobolEngine``: scrambled and unscrambled Sobol' sequences, PyTorch's engine.

Up to 21201 dimensions, from the Joe-Kuo direction numbers (``new-joe-kuo-6.21201``, package data in
``ttorch/_data``; ``_data/build_sobol.py`` says how it is made), with PyTorch's algorithm (Bratley and
Fox's recurrence, points in Gray-code order, 30 bits): unscrambled draws equal PyTorch's. Scrambling
(Owen-style linear matrix scrambling plus a digital shift, from ``seed``) follows PyTorch's method, but
its random bits come from ttorch's generator, so scrambled points differ from PyTorch's for one seed.
The engine's state lives on the host; draws are cpu tensors.

Example::

    >>> from ttorch.quasirandom import SobolEngine
    >>> SobolEngine(2).draw(4).tolist()
    [[0.0, 0.0], [0.5, 0.5], [0.75, 0.25], [0.25, 0.75]]
"""
import lzma
import os

import numpy as np

__all__ = ["SobolEngine"]

_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_data", "sobol_new_joe_kuo_6_21201.bin")
_TABLES = []          # [(deg, poly, m bits as a uint8 bit array, bit offset of each dimension)], read once


def _tables():
    if not _TABLES:
        with open(_PATH, "rb") as f:
            raw = f.read()
        n = int(np.frombuffer(raw[:4], "<u4")[0])
        head = lzma.decompress(raw[4:4 + n])
        dims = len(head) // 5
        deg = np.frombuffer(head[:dims], np.uint8).astype(np.int64)
        poly = np.frombuffer(head[dims:], "<u4").astype(np.int64)
        bits = np.unpackbits(np.frombuffer(raw[4 + n:], np.uint8))
        per_dim = deg * (deg - 1) // 2
        per_dim[0] = 0
        offsets = np.concatenate([[0], np.cumsum(per_dim)])
        _TABLES.append((deg, poly, bits, offsets))
    return _TABLES[0]


def _initial_state(dimension, maxbit):
    """The direction numbers v (dimension, maxbit), each scaled to ``maxbit`` bits (ATen's
    ``_sobol_engine_initialize_state_``)."""
    deg, poly, bits, offsets = _tables()
    v = np.zeros((dimension, maxbit), np.int64)
    v[0] = 1
    if dimension > 1:
        s, p = deg[1:dimension], poly[1:dimension]                      # (D-1,)
        widths = np.concatenate([np.arange(k) for k in s])               # m_{j+1}: j bits
        dim_of = np.repeat(np.arange(1, dimension), s)
        col = widths
        start = offsets[dim_of] + np.concatenate([np.concatenate([[0], np.cumsum(np.arange(k))[:-1]]) for k in s])
        val = np.zeros(len(widths), np.int64)
        for k in range(int(widths.max(initial=0))):
            live = k < widths
            val[live] = val[live] * 2 + bits[start[live] + k]
        v[dim_of, col] = val * 2 + 1
        rows = np.arange(1, dimension)
        for j in range(maxbit):                                          # Bratley and Fox, Algorithm 659
            todo = j >= s
            if not todo.any():
                continue
            r, sj, pj = rows[todo], s[todo], p[todo]
            newv = v[r, j - sj]
            for k in range(int(sj.max())):
                use = (k < sj) & (((pj >> np.maximum(sj - 1 - k, 0)) & 1) == 1)
                idx = np.maximum(j - k - 1, 0)
                newv = np.where(use, newv ^ (v[r, idx] << (k + 1)), newv)
            v[r, j] = newv
    return v * (1 << np.arange(maxbit - 1, -1, -1, dtype=np.int64))


def _scramble_state(v, ltm):
    """ATen's ``_sobol_engine_scramble_``: each direction number's bits (low bit first) multiplied over GF(2)
    by a unit lower-triangular matrix ``ltm`` (d, MAXBIT, MAXBIT) whose row p, read as a number with column k
    worth 2^(MAXBIT-1-k), gives bit MAXBIT-1-p of the result."""
    b = v.shape[1]
    ltm = ltm.copy()
    ltm[:, np.arange(b), np.arange(b)] = 1
    ltm_dots = ltm @ (1 << np.arange(b - 1, -1, -1, dtype=np.int64))                      # (d, b)
    weights = 1 << np.arange(b - 1, -1, -1, dtype=np.int64)
    out = np.empty_like(v)
    for lo in range(0, len(v), 512):          # in blocks of dimensions: (block, b, b) bit products
        bits_l = (ltm_dots[lo:lo + 512, :, None] >> np.arange(b)) & 1                        # (d, p, k)
        bits_v = (v[lo:lo + 512, :, None] >> np.arange(b)) & 1                                # (d, j, k)
        out[lo:lo + 512] = (np.einsum("dpk,djk->djp", bits_l, bits_v) % 2) @ weights          # (d, j)
    return out


def _rightmost_zero(n):
    """The index of the lowest 0 bit of each of ``n`` (the Gray-code bit that changes)."""
    n = np.asarray(n, np.int64)
    out = np.zeros(n.shape, np.int64)
    while True:
        ones = (n & 1) == 1
        if not ones.any():
            return out
        out += ones
        n = np.where(ones, n >> 1, n)


class SobolEngine:
    r"""A generator of Sobol' low-discrepancy points in :math:`[0, 1)^{dimension}`.

    Args:
        dimension (int): the points' dimension, 1 to 21201.
        scramble (bool): scramble the sequence (linear matrix scrambling and a random digital shift).
        seed (int, optional): the scrambling's seed.

    Example::

        >>> e = SobolEngine(3, scramble=True, seed=0)
        >>> e.draw(5).shape
        ttorch.Size([5, 3])
    """
    MAXBIT = 30
    MAXDIM = 21201

    def __init__(self, dimension, scramble=False, seed=None):
        if dimension > self.MAXDIM or dimension < 1:
            raise ValueError(f"Supported range of dimensionality for SobolEngine is [1, {self.MAXDIM}]")
        self.seed = seed
        self.scramble = scramble
        self.dimension = dimension
        self.sobolstate = _initial_state(dimension, self.MAXBIT)
        if not self.scramble:
            self.shift = np.zeros(dimension, np.int64)
        else:
            self._scramble()
        self.quasi = self.shift.copy()
        # PyTorch divides the long state by 2**30 in the default dtype (float32) here
        self._first_point = (self.quasi / 2 ** self.MAXBIT).astype(np.float32).reshape(1, -1)
        self.num_generated = 0

    def _advance(self, n, start):
        """The next ``n`` states after ``self.quasi`` (Gray-code steps ``start``, ``start + 1``...); (n, D)."""
        if n <= 0:
            return np.zeros((0, self.dimension), np.int64)
        cols = _rightmost_zero(np.arange(start, start + n))
        steps = self.sobolstate[:, cols].T                               # (n, D)
        return np.bitwise_xor.accumulate(steps, axis=0) ^ self.quasi

    def _to_tensor(self, ints, dtype):
        from . import _dtype as D
        from ._tensor import Tensor
        dtype = dtype or D.get_default_dtype()
        # ATen copies the integers into the result dtype, then scales by 2**-30 (exact): same rounding
        return Tensor._wrap_np(ints.astype(dtype.np) * dtype.np.type(1.0 / (1 << self.MAXBIT)))

    def draw(self, n=1, out=None, dtype=None):
        """The next ``n`` points, an (n, dimension) tensor of ``dtype`` (the default dtype by default)."""
        from . import _dtype as D
        dtype = dtype or D.get_default_dtype()
        if self.num_generated == 0:
            states = self._advance(n - 1, 0)
            body = self._to_tensor(states, dtype)
            first = self._first_point.astype(dtype.np)
            from ._tensor import Tensor
            from . import cat
            result = Tensor._wrap_np(first) if n == 1 else cat([Tensor._wrap_np(first), body], dim=-2)
        else:
            states = self._advance(n, self.num_generated - 1)
            result = self._to_tensor(states, dtype)
        if len(states):
            self.quasi = states[-1].copy()
        self.num_generated += n
        if out is not None:
            out.resize_as_(result).copy_(result)
            return out
        return result

    def draw_base2(self, m, out=None, dtype=None):
        """The next ``2 ** m`` points; the total drawn must stay a power of 2 (Sobol' balance)."""
        n = 2 ** m
        total_n = self.num_generated + n
        if not (total_n & (total_n - 1) == 0):
            raise ValueError(f"The balance properties of Sobol' points require n to be a power of 2. "
                             f"{self.num_generated} points have been previously generated, then: "
                             f"n={self.num_generated}+2**{m}={total_n}. If you still want to do this, please use "
                             f"'SobolEngine.draw()' instead.")
        return self.draw(n=n, out=out, dtype=dtype)

    def reset(self):
        """Back to the first point."""
        self.quasi = self.shift.copy()
        self.num_generated = 0
        return self

    def fast_forward(self, n):
        """Skip ``n`` points."""
        states = self._advance(n - 1 if self.num_generated == 0 else n,
                               0 if self.num_generated == 0 else self.num_generated - 1)
        if len(states):
            self.quasi = states[-1].copy()
        self.num_generated += n
        return self

    def _scramble(self):
        from . import _random, randint
        g = _random.Generator()
        if self.seed is not None:
            g.manual_seed(self.seed)
        d, b = self.dimension, self.MAXBIT
        shift_ints = randint(2, (d, b), generator=g).numpy().astype(np.int64)
        self.shift = shift_ints @ (1 << np.arange(b, dtype=np.int64))
        ltm = np.tril(randint(2, (d, b, b), generator=g).numpy().astype(np.int64))
        self.sobolstate = _scramble_state(self.sobolstate, ltm)

    def __repr__(self):
        fmt_string = [f"dimension={self.dimension}"]
        if self.scramble:
            fmt_string += ["scramble=True"]
        if self.seed is not None:
            fmt_string += [f"seed={self.seed}"]
        return self.__class__.__name__ + "(" + ", ".join(fmt_string) + ")"
