"""Build ``sobol_new_joe_kuo_6_21201.bin`` (run once; the result is package data).

Source: the Joe-Kuo direction numbers ``new-joe-kuo-6.21201`` (https://web.maths.unsw.edu.au/~fkuo/sobol/,
BSD-style licence), as SciPy ships them (``scipy/stats/_sobol_direction_numbers.npz``: ``poly`` with the
leading and trailing 1 bits, ``vinit`` the initial direction numbers m_1..m_s). Format, little-endian:

* uint32: the byte length L of the next part;
* L bytes: LZMA of ``deg`` (uint8 per dimension, s) followed by ``poly`` (uint32 per dimension);
* the rest: the bits of m_1..m_s of dimensions 1.. in order, each odd m_i < 2^i stored as ``m_i >> 1`` in
  i - 1 bits, most significant first (dimension 0 has none: its direction numbers are all 1).

Usage: ``python ttorch/_data/build_sobol.py`` (needs scipy).
"""
import lzma
import os

import numpy as np


def build(out_path):
    import scipy
    src = np.load(os.path.join(os.path.dirname(scipy.__file__), "stats", "_sobol_direction_numbers.npz"))
    poly, vinit = src["poly"].astype(np.int64), src["vinit"].astype(np.int64)
    deg = np.array([int(p).bit_length() - 1 for p in poly])
    bits = []
    for d in range(1, len(poly)):
        for j in range(1, deg[d]):                     # m_1 = 1 always: 0 bits
            bits.append(format(int(vinit[d, j]) >> 1, f"0{j}b"))
    s = "".join(bits)
    s += "0" * (-len(s) % 8)
    head = lzma.compress(deg.astype(np.uint8).tobytes() + poly.astype("<u4").tobytes(), preset=9)
    with open(out_path, "wb") as f:
        f.write(np.uint32(len(head)).astype("<u4").tobytes())
        f.write(head)
        f.write(int(s, 2).to_bytes(len(s) // 8, "big"))


if __name__ == "__main__":
    build(os.path.join(os.path.dirname(os.path.abspath(__file__)), "sobol_new_joe_kuo_6_21201.bin"))
