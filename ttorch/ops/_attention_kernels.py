"""The flash-attention kernels (FlashAttention-2: an online-softmax forward that writes O and the
row logsumexp; a backward of delta, dK/dV per key block and dQ per query block, no atomics; in
float32, dQ may come from the dK/dV kernel instead, by atomics). With ``DROP`` the attention weights
take dropout, its mask drawn from Philox in each kernel (``_kept``), or (``BITS`` 2) read from the bits
``_drop_mask_kernel`` drew once for the forward and backward (``attention._DROP_SAVE``). ``PREC`` is
every product's ``input_precision``: "ieee" (FMAs for float32, ignored by half types) or, for
float32, "tf32x3" (three TF32 tensor-core products: see ``attention._FP32_DOT``).
The op, its host code, tuning and NumPy fallback live in ``attention.py``."""
import triton
import triton.language as tl

LOG2E: tl.constexpr = tl.constexpr(1.4426950408889634)    # the forward keeps its scores in log2 units
LN2: tl.constexpr = tl.constexpr(0.6931471805599453)


@triton.jit
def _keep(m_base, qi, kj, L, S, s_mm, s_mn, MASK: tl.constexpr, CAUSAL: tl.constexpr):
    """Which (query, key) pairs count: keys inside S, not after the query (causal), and kept by a
    boolean mask (``MASK`` 1); ``qi``/``kj`` are the query/key indices, shaped to broadcast against
    the scores (rows x cols in the forward, cols x rows in the dK/dV kernel)."""
    keep = kj < S
    if CAUSAL:
        keep = keep & (kj <= qi)
    if MASK == 1:
        mk = tl.load(m_base + qi * s_mm + kj * s_mn, mask=(qi < L) & (kj < S), other=0)
        keep = keep & (mk != 0)
    return keep


@triton.jit
def _scores(qk, scale, m_base, qi, kj, L, S, s_mm, s_mn, MASK: tl.constexpr, CAUSAL: tl.constexpr):
    """The scores ``qk * scale`` in log2 units (exp2 is one instruction), masked pairs at -inf. An
    additive mask (``MASK`` 2) is in natural units, so it is added before converting; otherwise the
    conversion folds into the one multiply."""
    keep = _keep(m_base, qi, kj, L, S, s_mm, s_mn, MASK, CAUSAL)
    if MASK == 2:
        b = tl.load(m_base + qi * s_mm + kj * s_mn, mask=(qi < L) & (kj < S), other=0).to(tl.float32)
        s = (qk * scale + b) * LOG2E
    else:
        s = qk * (scale * LOG2E)
    return tl.where(keep, s, float("-inf"))


@triton.jit
def _probs(qk, scale, lse2, m_base, qi, kj, L, S, s_mm, s_mn, MASK: tl.constexpr, CAUSAL: tl.constexpr):
    """The backward's P = exp2(scores - LSE) (``lse2``: the rows' LSE in log2 units, +inf for a row
    with no key, broadcast against ``qk``), masked pairs 0. Without an additive mask the multiply and
    the subtraction are one FMA, the mask a select after the exp2."""
    if MASK == 2:
        p = tl.exp2(_scores(qk, scale, m_base, qi, kj, L, S, s_mm, s_mn, MASK, CAUSAL) - lse2)
    else:
        p = tl.where(_keep(m_base, qi, kj, L, S, s_mm, s_mn, MASK, CAUSAL), tl.exp2(qk * (scale * LOG2E) - lse2), 0.0)
    return p


@triton.jit
def _kept(seed, bh, d_lo, d_hi, keep_t, rows, key0, S, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
          DROP: tl.constexpr = 1, TRANS: tl.constexpr = False, bits=0, L=0, BITS: tl.constexpr = 0, row0=0):
    """Attention dropout's mask over queries ``rows`` (BLOCK_M) and keys key0 .. key0 + BLOCK_N of head
    ``bh`` (batch * heads + head): True where the pair is kept; ``TRANS``: as (BLOCK_N, BLOCK_M), drawn
    so (the dK/dV kernel's orientation), no transposition after. One Philox4x32 draw, keyed by
    ``seed``, covers 4 adjacent keys of a row (``DROP`` 1, 10 rounds; 2, 7 rounds): counter (row *
    cdiv(S, 4) + key // 4, bh, d_lo, d_hi), key 4c + w kept when word w's top 24 bits are below
    ``keep_t`` (of 2**24); or (``DROP`` 3, 7 rounds) 4 adjacent keys of two rows 2a, 2a + 1: counter
    (a * cdiv(S, 4) + key // 4, ...), row 2a + h takes word w's low (h 0) or high 16 bits, kept below
    ``keep_t`` (of 2**16). The call's offset is in the last two counter words, their top bit set by
    the host: no other kernel's counters reach there. A pair gets the same bits in every kernel and
    tile shape; ``attention._np_kept`` is the NumPy twin. ``key0`` is a multiple of 4, ``rows``
    start at an even row. Scheme 4 (the default): ``_kept4``, drawn, or read from ``_drop_mask_kernel``'s
    bits with ``BITS`` 2; ``row0`` is ``rows``' first."""
    if DROP == 4:
        return _kept4(seed, bh, d_lo, d_hi, keep_t, row0, key0, L, S, BLOCK_M, BLOCK_N, TRANS, bits, BITS)
    ROUNDS: tl.constexpr = 10 if DROP == 1 else 7
    RM: tl.constexpr = BLOCK_M // 2 if DROP == 3 else BLOCK_M        # counter rows
    r = tl.reshape(rows, [RM, BLOCK_M // RM]).max(1) // (BLOCK_M // RM) if DROP == 3 else rows
    g = key0 // 4 + tl.arange(0, BLOCK_N // 4)
    if TRANS:
        c0 = g[:, None] + r[None, :] * tl.cdiv(S, 4)                 # (BN / 4, RM); int32: L * S < 2**31
    else:
        c0 = r[:, None] * tl.cdiv(S, 4) + g[None, :]                 # (RM, BN / 4)
    z = c0 * 0
    r0, r1, r2, r3 = tl.philox(seed, c0, z + bh.to(tl.int32), z + d_lo, z + d_hi, n_rounds=ROUNDS)
    # (.., 2, 2): the outer join is the minor dim, so [.., j, k] is word 2j + k
    w = tl.join(tl.join(r0, r2), tl.join(r1, r3))
    if DROP == 3:
        lo = (w & 0xFFFF).to(tl.int32) < keep_t
        hi = (w >> 16).to(tl.int32) < keep_t
        if TRANS:       # (BN/4, RM, 2, 2) each -> (BN/4, 2, 2, RM, 2) -> (BN, BM)
            kept = tl.reshape(tl.permute(tl.join(lo, hi), (0, 2, 3, 1, 4)), [BLOCK_N, BLOCK_M])
        else:           # (RM, BN/4, 2, 2) each -> (RM, 2, BN/4, 2, 2) -> (BM, BN)
            kept = tl.reshape(tl.permute(tl.join(lo, hi), (0, 4, 1, 2, 3)), [BLOCK_M, BLOCK_N])
    else:
        kept = (w >> 8).to(tl.int32) < keep_t
        if TRANS:
            kept = tl.reshape(tl.permute(kept, (0, 2, 3, 1)), [BLOCK_N, BLOCK_M])
        else:
            kept = tl.reshape(kept, [BLOCK_M, BLOCK_N])
    return kept


@triton.jit
def _words4(seed, bh, d_lo, d_hi, c0):
    """Scheme 4's draws at counters ``c0`` of head ``bh``: Philox4x32-7's four words."""
    z = c0 * 0
    return tl.philox(seed, c0, z + bh.to(tl.int32), z + d_lo, z + d_hi, n_rounds=7)


@triton.jit
def _halves_kept(r, keep_t):
    """Word ``r``'s two pairs: its low (h 0) and high (h 1) 16 bits below ``keep_t`` (of 2**16)."""
    return (r & 0xFFFF).to(tl.int32) < keep_t, (r >> 16).to(tl.int32) < keep_t


@triton.jit
def _bit_set(b, bit):
    """``b`` broadcast over the joined dims of ``bit`` (two), tested against the constant bits there."""
    return (tl.join(b, b) & bit) != 0


@triton.jit
def _kept4(seed, bh, d_lo, d_hi, keep_t, row0, key0, L, S, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
           TRANS: tl.constexpr, bits, BITS: tl.constexpr):
    """Dropout scheme 4 over queries row0 .. row0 + BLOCK_M and keys key0 .. key0 + BLOCK_N (both
    multiples of 16), laid out as the tensor cores' accumulators hold a tile, so that no layout
    conversion stands between the mask and the scores (schemes 1-3 went through shared memory): a
    thread holds rows r, r + 8 and keys 2c, 2c + 1, 2c + 8, 2c + 9 of each 16 x 16 block. Query
    16A + 8h + a and key 16K + 8n + 2c + e take draw (8A + a, 4K + c), counter (8A + a) * CW + 4K + c
    with CW = 4 cdiv(S, 16) (so ``attention._drop_bytes`` counters a head), its word 2n + e's low (h
    0) or high 16 bits (``_halves_kept``). ``BITS`` 2: read from the forward's mask, ``bits``, a byte a
    draw at its counter (bit 4n + 2e + h; ``_drop_mask_kernel``), instead of drawing. ``TRANS``: as
    (BLOCK_N, BLOCK_M), the dK/dV kernel's orientation (its accumulators hold keys as rows)."""
    RT = tl.cdiv(L, 16) * 8                                                      # draw rows, columns: a head's
    CW = tl.cdiv(S, 16) * 4
    R = (row0 // 16 + tl.arange(0, BLOCK_M // 16))[:, None] * 8 + tl.arange(0, 8)[None, :]      # (A, a)
    C = (key0 // 16 + tl.arange(0, BLOCK_N // 16))[:, None] * 4 + tl.arange(0, 4)[None, :]      # (K, c)
    head = bits + bh * RT * CW
    if BITS == 2 and TRANS:     # (K, c, e, A, a): each byte read by the two threads holding e 0 and 1
        c0 = C[:, :, None, None, None] + (R * CW)[None, None, None, :, :] + tl.zeros([1, 1, 2, 1, 1], tl.int32)
        b = tl.load(head + c0, mask=(c0 < RT * CW) & (C < CW)[:, :, None, None, None],
                    other=0).to(tl.int32)
        bit = (c0 * 0 + 1) << (2 * tl.arange(0, 2))[None, None, :, None, None]      # 1 << 2e
        y = tl.join(bit, bit << 4)                                                  # [.., n]: 1 << (2e + 4n)
        m = _bit_set(tl.join(b, b), tl.join(y, y << 1))                            # (K, c, e, A, a, n, h)
        kept = tl.reshape(tl.permute(m, (0, 5, 1, 2, 3, 6, 4)), [BLOCK_N, BLOCK_M])
    else:
        c0 = (R * CW)[:, :, None, None] + C[None, None, :, :]                      # (A, a, K, c)
        if BITS == 2:
            b = tl.load(head + c0, mask=(c0 < RT * CW) & (C < CW)[None, None, :, :],
                        other=0).to(tl.int32)
            one = c0 * 0 + 1
            x = tl.join(tl.join(one, one << 2), tl.join(one << 4, one << 6))         # [.., e, n]: 1 << (2e + 4n)
            b = tl.join(b, b)
            m = _bit_set(tl.join(b, b), tl.join(x, x << 1))                        # (A, a, K, c, e, n, h)
        else:       # word 2n + e's half h
            r0, r1, r2, r3 = _words4(seed, bh, d_lo, d_hi, c0)
            lo, hi = _halves_kept(tl.join(tl.join(r0, r1), tl.join(r2, r3)), keep_t)    # [.., e, n]
            m = tl.join(lo, hi)
        if TRANS:   # (K, n, c, e, A, h, a): drawn as the forward holds it, then moved
            kept = tl.reshape(tl.permute(m, (2, 5, 3, 4, 0, 6, 1)), [BLOCK_N, BLOCK_M])
        else:       # (A, h, a, K, n, c, e)
            kept = tl.reshape(tl.permute(m, (0, 6, 1, 2, 5, 3, 4)), [BLOCK_M, BLOCK_N])
    return kept


@triton.jit
def _bits2(r, keep_t):
    """Word ``r``'s two pairs as bits 0 (h 0) and 1 (h 1): word w = 2n + e goes to bits 2w, 2w + 1."""
    lo, hi = _halves_kept(r, keep_t)
    return lo.to(tl.int32) | (hi.to(tl.int32) << 1)


@triton.jit
def _drop_mask_kernel(bits_ptr, seed, d_lo, d_hi, keep_t, RT, CW, CAUSAL: tl.constexpr, BLOCK_R: tl.constexpr,
                      BLOCK_C: tl.constexpr):
    """Scheme 4's mask for the forward and backward (``_kept4``): head ``program_id(0)``'s (RT, CW)
    draws, a byte each at its counter, pair (n, e, h) of draw (8A + a, 4K + c) in bit 4n + 2e + h.
    Causal: the 16 x 16 blocks wholly after their queries' last key (K > A) are not drawn; no kernel
    reads them."""
    bh = tl.program_id(0).to(tl.int64)
    r = tl.program_id(1) * BLOCK_R + tl.arange(0, BLOCK_R)
    c = tl.program_id(2) * BLOCK_C + tl.arange(0, BLOCK_C)
    c0 = r[:, None] * CW + c[None, :]
    live = (r[:, None] < RT) & (c[None, :] < CW)
    if CAUSAL:
        live = live & (c[None, :] // 4 <= r[:, None] // 8)
    r0, r1, r2, r3 = _words4(seed, bh, d_lo, d_hi, c0)
    byte = _bits2(r0, keep_t) | (_bits2(r1, keep_t) << 2) | (_bits2(r2, keep_t) << 4) | (_bits2(r3, keep_t) << 6)
    tl.store(bits_ptr + bh * RT * CW + c0, byte.to(tl.uint8), mask=live)


@triton.jit
def _head(ptr, b, h, s_b, s_h, TMA: tl.constexpr):
    """Where head ``h`` of batch ``b`` starts: with ``TMA`` its first row in a 2-D descriptor over rows
    (the strides counted in rows), else a pointer."""
    if TMA:
        at = (b * s_b + h * s_h).to(tl.int32)
    else:
        at = ptr + b * s_b + h * s_h
    return at


@triton.jit
def _fwd_block(acc, m_i, l_i, q, k_base, kt_base, v_base, m_base, start_n, rm, re, rev, scale, L, S, s_kn, s_vn,
               s_mm, s_mn, E: tl.constexpr, EV: tl.constexpr, MASK: tl.constexpr, CAUSAL: tl.constexpr,
               EDGE: tl.constexpr, T_COPY: tl.constexpr, BLOCK_N: tl.constexpr, k_desc=None, v_desc=None,
               TMA: tl.constexpr = False, SCALE_POS: tl.constexpr = False, seed=0, bh=0, d_lo=0, d_hi=0, keep_t=0,
               DROP: tl.constexpr = False, PREC: tl.constexpr = "ieee", bits=0, BITS: tl.constexpr = 0, row0=0):
    """One key block of the online softmax. ``EDGE``: the block may hold masked pairs (bounds,
    causal diagonal, an explicit mask); otherwise every score is finite and unmasked. ``SCALE_POS``:
    the scale is positive, so an unmasked block takes its rows' maxima of the raw products (the max
    commutes with a positive scaling, to the rounding) and its exponent is one FMA, ``qk * c - m``:
    one multiply a score fewer than scaling the scores first, on the FP32 units that the softmax
    keeps busy beside the tensor cores. ``T_COPY``:
    K^T is read from its (E, S) copy at ``kt_base`` (see ``attention._T_COPY``). ``TMA``: K and V
    tiles come by TMA from the 2-D descriptors ``k_desc``, ``v_desc`` (rows of the head dim), the
    head's first rows at ``k_base``, ``v_base`` (see ``attention._FWD_TMA``). ``DROP``: P V takes
    the pairs ``_kept`` keeps (the sum ``l`` takes every pair; the caller scales by 1 / keep), read
    from the saved mask ``bits`` with ``BITS`` 2."""
    rn = start_n + tl.arange(0, BLOCK_N)
    kmask = re[:, None] < E
    vmask = rev[None, :] < EV
    if EDGE:
        kmask = kmask & (rn[None, :] < S)
        vmask = vmask & (rn[:, None] < S)
    if TMA:     # rows past the tensor arrive as zeros, columns past E too
        kt = tl.trans(k_desc.load([k_base + start_n, 0]))                                   # (BE, BN)
    elif T_COPY:
        kt = tl.load(kt_base + re[:, None] * S + rn[None, :], mask=kmask, other=0)            # (BE, BN)
    else:
        kt = tl.load(k_base + rn[None, :] * s_kn + re[:, None], mask=kmask, other=0)         # (BE, BN)
    # scores in log2 units (exp2 is one instruction)
    if EDGE:
        s = _scores(tl.dot(q, kt, input_precision=PREC), scale, m_base, rm[:, None], rn[None, :], L, S, s_mm, s_mn,
                    MASK, CAUSAL)
    elif SCALE_POS:
        s = tl.dot(q, kt, input_precision=PREC)                                              # (raw)
    else:
        s = tl.dot(q, kt, input_precision=PREC) * (scale * LOG2E)
    if EDGE:
        m_new = tl.maximum(m_i, tl.max(s, 1))
        # a row with no key yet keeps m = -inf: shift by 0 there so exp2 gives 0, not NaN
        m_safe = tl.where(m_new == float("-inf"), 0.0, m_new)
        p = tl.exp2(s - m_safe[:, None])
    elif SCALE_POS:
        m_new = tl.maximum(m_i, tl.max(s, 1) * (scale * LOG2E))
        m_safe = m_new
        p = tl.exp2(s * (scale * LOG2E) - m_new[:, None])
    else:
        m_new = tl.maximum(m_i, tl.max(s, 1))
        m_safe = m_new
        p = tl.exp2(s - m_new[:, None])
    alpha = tl.exp2(m_i - m_safe)
    l_i = l_i * alpha + tl.sum(p, 1)
    if TMA:
        vv = v_desc.load([v_base + start_n, 0])                                               # (BN, BEV)
        if EDGE:    # rows past S: the next head's (p is 0 there, but 0 * inf would be NaN)
            vv = tl.where(rn[:, None] < S, vv, 0)
    else:
        vv = tl.load(v_base + rn[:, None] * s_vn + rev[None, :], mask=vmask, other=0)        # (BN, BEV)
    if DROP:
        p = tl.where(_kept(seed, bh, d_lo, d_hi, keep_t, rm, start_n, S, rm.shape[0], BLOCK_N, DROP, False, bits, L,
                           BITS, row0), p, 0.0)
    acc = acc * alpha[:, None] + tl.dot(p.to(vv.dtype), vv, input_precision=PREC)
    return acc, m_new, l_i


@triton.jit
def _lpt():
    """A causal grid's (rank, head): the launch's grid is (heads a section, blocks a head, sections)
    (attention._grid: sections of as many heads as keep their K/V, or Q/dO, in L2). The GPU starts
    programs in grid order, x fastest, so inside a section every head's longest block (rank 0) goes
    first, then every head's next longest, and the short blocks of the last section fill the tail
    (heads one after another left it to the last head's long blocks). No division, unlike a flat
    grid's index: the dK/dV kernels sit at 253-255 registers on sm_90."""
    return tl.program_id(1), tl.program_id(2) * tl.num_programs(0) + tl.program_id(0)


@triton.jit
def _query_block(q_ptr, H, GROUP, L, s_qb, s_qh, s_qm, E: tl.constexpr, BLOCK_M: tl.constexpr,
                 BLOCK_E: tl.constexpr, CAUSAL: tl.constexpr, LPT: tl.constexpr):
    """The forward's and dQ's program: one flat grid axis, so the query blocks of a head are
    neighbours and its K/V stay in L2, or (``LPT``, causal) the grid of _lpt. Returns the block
    index, (batch * head), batch, head, K/V head (GQA), the query rows, the head-dim lanes and the
    (BLOCK_M, BLOCK_E) tile of Q. Causal: the last query blocks (the most keys) first."""
    n_m = tl.cdiv(L, BLOCK_M)
    if LPT:         # (unsigned: int64 by zero extension; signed spilled 8 B of a head dim 256 tile on 3.6)
        rank, bh = _lpt()
        pid_m = n_m - 1 - rank
        bu, hu = tl.cast(bh, tl.uint32), tl.cast(H, tl.uint32)
        b, h = tl.cast(bu // hu, tl.int64), tl.cast(bu % hu, tl.int64)
        bh = tl.cast(bu, tl.int64)
    else:
        pid = tl.program_id(0)
        pid_m = pid % n_m
        if CAUSAL:
            pid_m = n_m - 1 - pid_m
        bh = (pid // n_m).to(tl.int64)
        b, h = bh // H, bh % H
    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    re = tl.arange(0, BLOCK_E)
    q = tl.load(q_ptr + b * s_qb + h * s_qh + rm[:, None] * s_qm + re[None, :],
                mask=(rm[:, None] < L) & (re[None, :] < E), other=0)
    return pid_m, bh, b, h, h // GROUP, rm, re, q


@triton.jit
def _unmasked_keys(pid_m, S, MASK: tl.constexpr, CAUSAL: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    """Where query block ``pid_m``'s key blocks that need no mask end (the forward's and dQ's first
    loop): those inside S and, causal, wholly at or before the block's first query; none with a mask."""
    inner = 0
    if MASK == 0:
        inner = S // BLOCK_N * BLOCK_N
        if CAUSAL:
            inner = tl.minimum(inner, (pid_m * BLOCK_M + 1) // BLOCK_N * BLOCK_N)
    return inner


@triton.jit
def _attn_fwd_kernel(q_ptr, k_ptr, kt_ptr, v_ptr, m_ptr, o_ptr, lse_ptr, scale, H, GROUP, L, S, E: tl.constexpr,
                     EV: tl.constexpr, s_qb, s_qh, s_qm, s_kb, s_kh, s_kn, s_vb, s_vh, s_vn, s_mb, s_mh, s_mm, s_mn,
                     s_ob, s_oh, s_om, seed, d_lo, d_hi, keep_t, rkeep, bits_ptr, MASK: tl.constexpr,
                     CAUSAL: tl.constexpr,
                     BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_E: tl.constexpr, BLOCK_EV: tl.constexpr,
                     T_COPY: tl.constexpr, TMA: tl.constexpr = False, SCALE_POS: tl.constexpr = False,
                     DROP: tl.constexpr = False, PREC: tl.constexpr = "ieee", BITS: tl.constexpr = 0,
                     LPT: tl.constexpr = False):
    # LPT: causal, the grid of _lpt (attention._grid); else flat.
    # TMA: k_ptr and v_ptr are 2-D descriptors over rows of the head dim, s_kb, s_kh (s_vb, s_vh)
    # counted in rows; the head's first row is then b * s_kb + hk * s_kh. SCALE_POS: scale > 0, the
    # unmasked blocks' maxima taken before scaling (see _fwd_block; attention._RAW_MAX). DROP: dropout
    # on the weights (seed, d_lo, d_hi, keep_t: see _kept; rkeep = 1 / keep), read from the saved mask at
    # bits_ptr with BITS 2 (attention._DROP_SAVE)
    pid_m, bh, b, h, hk, rm, re, q = _query_block(q_ptr, H, GROUP, L, s_qb, s_qh, s_qm, E, BLOCK_M, BLOCK_E,
                                                  CAUSAL, LPT)
    rev = tl.arange(0, BLOCK_EV)
    k_base, v_base = _head(k_ptr, b, hk, s_kb, s_kh, TMA), _head(v_ptr, b, hk, s_vb, s_vh, TMA)
    kt_base = kt_ptr + (b * (H // GROUP) + hk) * E * S                                  # (B, HKV, E, S) copy
    m_base = m_ptr + b * s_mb + h * s_mh
    m_i = tl.full([BLOCK_M], float("-inf"), tl.float32)
    l_i = tl.zeros([BLOCK_M], tl.float32)
    acc = tl.zeros([BLOCK_M, BLOCK_EV], tl.float32)
    hi = S
    if CAUSAL:  # keys past the block's last query are all masked
        hi = tl.minimum(S, (pid_m + 1) * BLOCK_M)
    # Key blocks inside S and (causal) wholly at or before the block's first query need no mask:
    # they run first, without the bias, the bounds masks or the -inf guards; the rest (the diagonal,
    # the ragged end, any explicit mask) after them.
    inner = _unmasked_keys(pid_m, S, MASK, CAUSAL, BLOCK_M, BLOCK_N)
    for start_n in range(0, inner, BLOCK_N):
        acc, m_i, l_i = _fwd_block(acc, m_i, l_i, q, k_base, kt_base, v_base, m_base, start_n, rm, re, rev, scale, L,
                                   S, s_kn, s_vn, s_mm, s_mn, E, EV, MASK, CAUSAL, False, T_COPY, BLOCK_N, k_ptr, v_ptr,
                                   TMA, SCALE_POS, seed, bh, d_lo, d_hi, keep_t, DROP, PREC, bits_ptr, BITS,
                                   pid_m * BLOCK_M)
    for start_n in range(inner, hi, BLOCK_N):
        acc, m_i, l_i = _fwd_block(acc, m_i, l_i, q, k_base, kt_base, v_base, m_base, start_n, rm, re, rev, scale, L,
                                   S, s_kn, s_vn, s_mm, s_mn, E, EV, MASK, CAUSAL, True, T_COPY, BLOCK_N, k_ptr, v_ptr,
                                   TMA, False, seed, bh, d_lo, d_hi, keep_t, DROP, PREC, bits_ptr, BITS,
                                   pid_m * BLOCK_M)
    dead = l_i == 0.0
    if DROP:
        acc = acc * (rkeep / tl.where(dead, 1.0, l_i))[:, None]
    else:
        acc = acc / tl.where(dead, 1.0, l_i)[:, None]
    lse = tl.where(dead, float("-inf"), m_i * LN2 + tl.log(tl.where(dead, 1.0, l_i)))     # back to natural log
    tl.store(o_ptr + b * s_ob + h * s_oh + rm[:, None] * s_om + rev[None, :], acc.to(o_ptr.dtype.element_ty),
             mask=(rm[:, None] < L) & (rev[None, :] < EV))
    tl.store(lse_ptr + bh * L + rm, lse, mask=rm < L)


@triton.jit
def _attn_bwd_pre_kernel(o_ptr, do_ptr, glse_ptr, lse_ptr, delta_ptr, lse2_ptr, ROWS, H, L, EV, s_ob, s_oh, s_om, s_gb,
                         s_gh, s_gm, HAS_GLSE: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_EV: tl.constexpr):
    # delta = rowsum(dO * O) - dLSE over the (B * H * L) rows; O and dO strided, unit last stride;
    # no dLSE (the usual case: the logsumexp output unused) is zeros. And the rows' LSE in log2 units
    # for the dK/dV and dQ kernels (lse2: their P is exp2 of one FMA, with no multiply a row there),
    # +inf for a row with no key (LSE -inf), so that P = exp2(-inf) = 0 there, not NaN
    rm = (tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)).to(tl.int64)
    rev = tl.arange(0, BLOCK_EV)
    msk = (rm[:, None] < ROWS) & (rev[None, :] < EV)
    b, h, m = rm // (H * L), (rm // L) % H, rm % L
    o = tl.load(o_ptr + (b * s_ob + h * s_oh + m * s_om)[:, None] + rev[None, :], mask=msk, other=0).to(tl.float32)
    do = tl.load(do_ptr + (b * s_gb + h * s_gh + m * s_gm)[:, None] + rev[None, :], mask=msk,
                 other=0).to(tl.float32)
    delta = tl.sum(o * do, 1)
    if HAS_GLSE:
        delta -= tl.load(glse_ptr + rm, mask=rm < ROWS, other=0).to(tl.float32)
    tl.store(delta_ptr + rm, delta, mask=rm < ROWS)
    lse = tl.load(lse_ptr + rm, mask=rm < ROWS, other=0).to(tl.float32)        # (a caller's may be half)
    tl.store(lse2_ptr + rm, tl.where(lse == float("-inf"), float("inf"), lse * LOG2E), mask=rm < ROWS)


@triton.jit
def _load_lse2(lse2_ptr, rows, L):
    """The rows' LSE in log2 units (``_attn_bwd_pre_kernel``'s), +inf past L."""
    return tl.load(lse2_ptr + rows, mask=rows < L, other=float("inf"))


@triton.jit
def _dkdv_block(dk, dv, k, v, q_base, qt_base, do_base, gt_base, m_base, lse_base, delta_base, dq_base, start_m, rn,
                re, rev, scale, L, S, s_qm, s_gm, s_mm, s_mn, s_dqm, E: tl.constexpr, EV: tl.constexpr,
                MASK: tl.constexpr, CAUSAL: tl.constexpr, EDGE: tl.constexpr, T_COPY: tl.constexpr, DQ: tl.constexpr,
                BLOCK_M: tl.constexpr, q_desc=None, do_desc=None, TMA: tl.constexpr = False, seed=0, bh=0, d_lo=0,
                d_hi=0, keep_t=0, rkeep=1.0, key0=0, BLOCK_N: tl.constexpr = 16, DROP: tl.constexpr = False,
                PREC: tl.constexpr = "ieee", bits=0, BITS: tl.constexpr = 0):
    """One query block streaming past the resident keys; ``EDGE`` as in ``_fwd_block``; ``T_COPY``:
    Q^T and dO^T are read from their (E, L) copies at ``qt_base`` and ``gt_base``; ``DQ``: this key
    block's share of dQ = scale * dS K is added into float32 dQ at ``dq_base`` (atomics). ``TMA``: Q
    and dO tiles by TMA from the 2-D descriptors ``q_desc``, ``do_desc``, the head's first rows at
    ``q_base``, ``do_base`` (see ``attention._BWD_TMA``). ``DROP``: the forward's dropout mask
    (``_kept``): dV takes the kept P (scaled by 1 / keep at the store), dP the kept pairs times
    ``rkeep`` = 1 / keep; the resident keys start at ``key0``; with ``BITS`` 2 read from ``bits``."""
    rm = start_m + tl.arange(0, BLOCK_M)
    qmask = re[None, :] < E
    domask = rev[None, :] < EV
    if EDGE:
        qmask = qmask & (rm[:, None] < L)
        domask = domask & (rm[:, None] < L)
    if TMA:     # rows past L: the next head's (P is 0 there, but 0 * inf would be NaN), or zeros
        q = q_desc.load([q_base + start_m, 0])                                                  # (BM, BE)
        do = do_desc.load([do_base + start_m, 0])                                               # (BM, BEV)
        if EDGE:
            q = tl.where(rm[:, None] < L, q, 0)
            do = tl.where(rm[:, None] < L, do, 0)
    else:
        q = tl.load(q_base + rm[:, None] * s_qm + re[None, :], mask=qmask, other=0)             # (BM, BE)
        do = tl.load(do_base + rm[:, None] * s_gm + rev[None, :], mask=domask, other=0)          # (BM, BEV)
    if T_COPY:
        qt = tl.load(qt_base + re[:, None] * L + rm[None, :], mask=tl.trans(qmask), other=0)    # (BE, BM)
    else:
        qt = tl.trans(q)
    # P from the scores and LSE in log2 units, as the forward made them (exp2 is one instruction)
    if EDGE:
        pt = _probs(tl.dot(k, qt, input_precision=PREC), scale, _load_lse2(lse_base, rm, L)[None, :], m_base,
                    rm[None, :], rn[:, None], L, S, s_mm, s_mn, MASK, CAUSAL)                # (BN, BM)
        delta = tl.load(delta_base + rm, mask=rm < L, other=0)
    else:
        st = tl.dot(k, qt, input_precision=PREC) * (scale * LOG2E)                            # (BN, BM)
        pt = tl.exp2(st - tl.load(lse_base + rm)[None, :])
        delta = tl.load(delta_base + rm)
    if T_COPY:
        dot_ = tl.load(gt_base + rev[:, None] * L + rm[None, :], mask=tl.trans(domask), other=0)  # (BEV, BM)
    else:
        dot_ = tl.trans(do)
    if DROP:
        if DROP >= 3:   # drawn as (BN, BM) (scheme 3: a tl.trans of its row pairs cost layout conversions)
            kept = _kept(seed, bh, d_lo, d_hi, keep_t, rm, key0, S, BLOCK_M, BLOCK_N, DROP, True, bits, L, BITS,
                         start_m)
        else:
            kept = tl.trans(_kept(seed, bh, d_lo, d_hi, keep_t, rm, key0, S, BLOCK_M, BLOCK_N, DROP, False, bits, L,
                                  BITS))                                                        # (BN, BM)
        dv += tl.dot(tl.where(kept, pt, 0.0).to(do.dtype), do, input_precision=PREC)
        dpt = tl.where(kept, tl.dot(v, dot_, input_precision=PREC) * rkeep, 0.0)              # (BN, BM)
    else:
        dv += tl.dot(pt.to(do.dtype), do, input_precision=PREC)
        dpt = tl.dot(v, dot_, input_precision=PREC)                                           # (BN, BM)
    dst = pt * (dpt - delta[None, :])
    dk += tl.dot(dst.to(q.dtype), q, input_precision=PREC)
    if DQ:
        dq = tl.dot(tl.trans(dst).to(k.dtype), k, input_precision=PREC) * scale                 # (BM, BE)
        tl.atomic_add(dq_base + rm[:, None] * s_dqm + re[None, :], dq, mask=qmask, sem="relaxed")
    return dk, dv


@triton.jit
def _dq_block(dq, q, do, lse2, delta, k_base, kt_base, v_base, vt_base, m_base, start_n, rm, re, rev, scale, L, S, s_kn,
              s_vn, s_mm, s_mn, E: tl.constexpr, EV: tl.constexpr, MASK: tl.constexpr, CAUSAL: tl.constexpr,
              T_COPY: tl.constexpr, BLOCK_N: tl.constexpr, k_desc=None, v_desc=None, TMA: tl.constexpr = False,
              seed=0, bh=0, d_lo=0, d_hi=0, keep_t=0, rkeep=1.0, DROP: tl.constexpr = False,
              PREC: tl.constexpr = "ieee", bits=0, BITS: tl.constexpr = 0, row0=0, EDGE: tl.constexpr = True):
    """One key block of dQ; ``EDGE`` as in ``_fwd_block`` (without it no mask: keys inside S, none after
    a query); ``lse2`` is the rows' LSE in log2 units (+inf past L: P is 0 there); ``T_COPY``:
    K^T and V^T are read from their (E, S) copies at ``kt_base`` and ``vt_base``. ``TMA``: K and V
    tiles by TMA from ``k_desc``, ``v_desc``, the head's first rows at ``k_base``, ``v_base`` (see
    ``attention._BWD_TMA``). ``DROP``: dP at the pairs ``_kept`` keeps (``BITS`` 2: read from ``bits``),
    times ``rkeep``, else 0."""
    rn = start_n + tl.arange(0, BLOCK_N)
    ktmask = re[:, None] < E
    vtmask = rev[:, None] < EV
    if EDGE:
        ktmask = ktmask & (rn[None, :] < S)
        vtmask = vtmask & (rn[None, :] < S)
    if TMA:     # rows past S: the next head's, zeroed (P is 0 there, but 0 * inf would be NaN)
        k = k_desc.load([k_base + start_n, 0])                                                  # (BN, BE)
        vv = v_desc.load([v_base + start_n, 0])                                                 # (BN, BEV)
        if EDGE:
            k = tl.where(rn[:, None] < S, k, 0)
            vv = tl.where(rn[:, None] < S, vv, 0)
        kt = tl.trans(k)
        vt = tl.trans(vv)                                                                       # (BEV, BN)
    elif T_COPY:
        kt = tl.load(kt_base + re[:, None] * S + rn[None, :], mask=ktmask, other=0)             # (BE, BN)
        vt = tl.load(vt_base + rev[:, None] * S + rn[None, :], mask=vtmask, other=0)           # (BEV, BN)
        k = tl.load(k_base + rn[:, None] * s_kn + re[None, :], mask=tl.trans(ktmask), other=0)  # (BN, BE)
    else:
        kt = tl.load(k_base + rn[None, :] * s_kn + re[:, None], mask=ktmask, other=0)          # (BE, BN)
        vt = tl.load(v_base + rn[None, :] * s_vn + rev[:, None], mask=vtmask, other=0)        # (BEV, BN)
        k = tl.trans(kt)
    if EDGE:
        p = _probs(tl.dot(q, kt, input_precision=PREC), scale, lse2[:, None], m_base, rm[:, None], rn[None, :], L,
                   S, s_mm, s_mn, MASK, CAUSAL)
    else:
        p = tl.exp2(tl.dot(q, kt, input_precision=PREC) * (scale * LOG2E) - lse2[:, None])
    dp = tl.dot(do, vt, input_precision=PREC)
    if DROP:
        dp = tl.where(_kept(seed, bh, d_lo, d_hi, keep_t, rm, start_n, S, rm.shape[0], BLOCK_N, DROP, False, bits,
                            L, BITS, row0), dp * rkeep, 0.0)
    ds = p * (dp - delta[:, None])
    dq += tl.dot(ds.to(kt.dtype), k, input_precision=PREC)
    return dq


@triton.jit
def _dkdv_span(dk, dv, k, v, q_ptr, qt_ptr, do_ptr, gt_ptr, m_ptr, lse_ptr, delta_ptr, dq_ptr, b, hk, H, GROUP, m0, n,
               rn, re, rev, scale, L, S, s_qb, s_qh, s_qm, s_gb, s_gh, s_gm, s_mb, s_mh, s_mm, s_mn, s_dqb, s_dqh,
               s_dqm, E: tl.constexpr, EV: tl.constexpr, MASK: tl.constexpr, CAUSAL: tl.constexpr,
               EDGE: tl.constexpr, T_COPY: tl.constexpr, DQ: tl.constexpr, BLOCK_M: tl.constexpr, TMA: tl.constexpr,
               seed, d_lo, d_hi, keep_t, rkeep, key0, BLOCK_N: tl.constexpr, DROP: tl.constexpr, PREC: tl.constexpr,
               bits_ptr, BITS: tl.constexpr):
    """The ``n`` query blocks from row ``m0`` of each of the ``GROUP`` query heads reading K/V head
    ``hk``, in one loop over (head, block) pairs: a loop over the heads around the block loops held
    far more registers (sm_90, fp16, head dim 64, 32x128 w8 s3: 239 against 140), as many as a
    multi-head launch's, whose launcher makes GROUP the constant 1."""
    g = 0
    start_m = m0
    for _ in range(0, GROUP * n):
        h = hk * GROUP + g
        bh = b * H + h
        dk, dv = _dkdv_block(dk, dv, k, v, _head(q_ptr, b, h, s_qb, s_qh, TMA), qt_ptr + bh * E * L,
                             _head(do_ptr, b, h, s_gb, s_gh, TMA), gt_ptr + bh * EV * L, m_ptr + b * s_mb + h * s_mh,
                             lse_ptr + bh * L, delta_ptr + bh * L, dq_ptr + b * s_dqb + h * s_dqh, start_m, rn, re,
                             rev, scale, L, S, s_qm, s_gm, s_mm, s_mn, s_dqm, E, EV, MASK, CAUSAL, EDGE, T_COPY, DQ,
                             BLOCK_M, q_ptr, do_ptr, TMA, seed, bh, d_lo, d_hi, keep_t, rkeep, key0, BLOCK_N, DROP,
                             PREC, bits_ptr, BITS)
        start_m += BLOCK_M
        wrap = start_m >= m0 + n * BLOCK_M         # the next head's first block
        g = tl.where(wrap, g + 1, g)
        start_m = tl.where(wrap, m0, start_m)
    return dk, dv


@triton.jit
def _attn_bwd_dkdv_kernel(q_ptr, qt_ptr, k_ptr, v_ptr, m_ptr, do_ptr, gt_ptr, lse_ptr, delta_ptr, dk_ptr, dv_ptr,
                          dq_ptr, scale, H, HKV, GROUP, L, S, E: tl.constexpr, EV: tl.constexpr, s_qb, s_qh, s_qm,
                          s_kb, s_kh, s_kn, s_vb, s_vh, s_vn, s_mb, s_mh, s_mm, s_mn, s_gb, s_gh, s_gm, s_dkb, s_dkh,
                          s_dkn, s_dvb, s_dvh, s_dvn, s_dqb, s_dqh, s_dqm, seed, d_lo, d_hi, keep_t, rkeep,
                          bits_ptr, MASK: tl.constexpr, CAUSAL: tl.constexpr,
                          BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_E: tl.constexpr,
                          BLOCK_EV: tl.constexpr, T_COPY: tl.constexpr, DQ: tl.constexpr = False,
                          TMA: tl.constexpr = False, DROP: tl.constexpr = False, PREC: tl.constexpr = "ieee",
                          BITS: tl.constexpr = 0, GQA: tl.constexpr = False, LPT: tl.constexpr = False):
    # TMA: q_ptr and do_ptr are 2-D descriptors over rows of the head dim, s_qb, s_qh (s_gb, s_gh)
    # counted in rows; a head's first row is then b * s_qb + h * s_qh. GQA: a head group, its heads'
    # query blocks in one loop a range (_dkdv_span; attention._GQA_SPAN). lse_ptr: the rows' LSE in log2
    # units, +inf where -inf (_attn_bwd_pre_kernel's lse2), as the dQ kernel's
    n_n = tl.cdiv(S, BLOCK_N)
    if LPT:         # causal, the grid of _lpt: the first key blocks (the most queries) first
        pid_n, bhk = _lpt()
    else:           # (causal too: each head's first key blocks first)
        pid = tl.program_id(0)
        pid_n = pid % n_n
        bhk = pid // n_n
    bhk = bhk.to(tl.int64)
    b, hk = bhk // HKV, bhk % HKV
    rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    re = tl.arange(0, BLOCK_E)
    rev = tl.arange(0, BLOCK_EV)
    k = tl.load(k_ptr + b * s_kb + hk * s_kh + rn[:, None] * s_kn + re[None, :],
                mask=(rn[:, None] < S) & (re[None, :] < E), other=0)                      # (BN, BE)
    v = tl.load(v_ptr + b * s_vb + hk * s_vh + rn[:, None] * s_vn + rev[None, :],
                mask=(rn[:, None] < S) & (rev[None, :] < EV), other=0)                    # (BN, BEV)
    dk = tl.zeros([BLOCK_N, BLOCK_E], tl.float32)
    dv = tl.zeros([BLOCK_N, BLOCK_EV], tl.float32)
    lo = 0
    if CAUSAL:  # queries before this block's first key see none of it
        lo = (pid_n * BLOCK_N) // BLOCK_M * BLOCK_M
    # query blocks that need no mask (inside L, wholly at or after this key block's last key when
    # causal, keys inside S, no explicit mask) run without the bias and bounds masks; float32 takes
    # one loop with every mask: on FMAs its products dwarf the masks, and on Triton 3.6 the three
    # loops' code spilled loop-invariant registers (28-72 B a thread on sm_90); in TF32 x 3 three loops
    # took more registers (64x32 w8 on sm_90: 36 B spilled against none)
    three = MASK == 0 and k.dtype != tl.float32
    mid = L
    l_full = L
    if three:
        l_full = L // BLOCK_M * BLOCK_M
        mid = lo
        if CAUSAL:
            mid = tl.maximum(lo, tl.cdiv(pid_n * BLOCK_N + BLOCK_N - 1, BLOCK_M) * BLOCK_M)
        mid = tl.where((pid_n + 1) * BLOCK_N <= S, tl.minimum(mid, L), L)
    if GQA:     # every query head reading this K/V head, each range's (head, block) pairs in one loop
        dk, dv = _dkdv_span(dk, dv, k, v, q_ptr, qt_ptr, do_ptr, gt_ptr, m_ptr, lse_ptr, delta_ptr, dq_ptr, b, hk, H,
                            GROUP, lo, tl.cdiv(mid - lo, BLOCK_M), rn, re, rev, scale, L, S, s_qb, s_qh, s_qm, s_gb,
                            s_gh, s_gm, s_mb, s_mh, s_mm, s_mn, s_dqb, s_dqh, s_dqm, E, EV, MASK, CAUSAL, True, T_COPY,
                            DQ, BLOCK_M, TMA, seed, d_lo, d_hi, keep_t, rkeep, pid_n * BLOCK_N, BLOCK_N, DROP, PREC,
                            bits_ptr, BITS)
        if three:
            dk, dv = _dkdv_span(dk, dv, k, v, q_ptr, qt_ptr, do_ptr, gt_ptr, m_ptr, lse_ptr, delta_ptr, dq_ptr, b, hk,
                                H, GROUP, mid, tl.cdiv(l_full - mid, BLOCK_M), rn, re, rev, scale, L, S, s_qb, s_qh,
                                s_qm, s_gb, s_gh, s_gm, s_mb, s_mh, s_mm, s_mn, s_dqb, s_dqh, s_dqm, E, EV, MASK,
                                CAUSAL, False, T_COPY, DQ, BLOCK_M, TMA, seed, d_lo, d_hi, keep_t, rkeep,
                                pid_n * BLOCK_N, BLOCK_N, DROP, PREC, bits_ptr, BITS)
            tail = tl.maximum(mid, l_full)
            dk, dv = _dkdv_span(dk, dv, k, v, q_ptr, qt_ptr, do_ptr, gt_ptr, m_ptr, lse_ptr, delta_ptr, dq_ptr, b, hk,
                                H, GROUP, tail, tl.cdiv(L - tail, BLOCK_M), rn, re, rev, scale, L, S, s_qb, s_qh,
                                s_qm, s_gb, s_gh, s_gm, s_mb, s_mh, s_mm, s_mn, s_dqb, s_dqh, s_dqm, E, EV, MASK,
                                CAUSAL, True, T_COPY, DQ, BLOCK_M, TMA, seed, d_lo, d_hi, keep_t, rkeep,
                                pid_n * BLOCK_N, BLOCK_N, DROP, PREC, bits_ptr, BITS)
    else:
        for g in range(0, GROUP):   # (GROUP 1, a multi-head launch: the launcher's constant, no loop)
            h = hk * GROUP + g
            bh = b * H + h
            q_base, do_base = _head(q_ptr, b, h, s_qb, s_qh, TMA), _head(do_ptr, b, h, s_gb, s_gh, TMA)
            qt_base = qt_ptr + bh * E * L                                               # (B, H, E, L) copies
            gt_base = gt_ptr + bh * EV * L
            m_base = m_ptr + b * s_mb + h * s_mh
            dq_base = dq_ptr + b * s_dqb + h * s_dqh
            for start_m in range(lo, mid, BLOCK_M):
                dk, dv = _dkdv_block(dk, dv, k, v, q_base, qt_base, do_base, gt_base, m_base, lse_ptr + bh * L,
                                     delta_ptr + bh * L, dq_base, start_m, rn, re, rev, scale, L, S, s_qm, s_gm, s_mm,
                                     s_mn, s_dqm, E, EV, MASK, CAUSAL, True, T_COPY, DQ, BLOCK_M, q_ptr, do_ptr, TMA,
                                     seed, bh, d_lo, d_hi, keep_t, rkeep, pid_n * BLOCK_N, BLOCK_N, DROP, PREC,
                                     bits_ptr, BITS)
            if three:
                for start_m in range(mid, l_full, BLOCK_M):
                    dk, dv = _dkdv_block(dk, dv, k, v, q_base, qt_base, do_base, gt_base, m_base, lse_ptr + bh * L,
                                         delta_ptr + bh * L, dq_base, start_m, rn, re, rev, scale, L, S, s_qm, s_gm,
                                         s_mm, s_mn, s_dqm, E, EV, MASK, CAUSAL, False, T_COPY, DQ, BLOCK_M, q_ptr,
                                         do_ptr, TMA, seed, bh, d_lo, d_hi, keep_t, rkeep, pid_n * BLOCK_N, BLOCK_N,
                                         DROP, PREC, bits_ptr, BITS)
                for start_m in range(tl.maximum(mid, l_full), L, BLOCK_M):
                    dk, dv = _dkdv_block(dk, dv, k, v, q_base, qt_base, do_base, gt_base, m_base, lse_ptr + bh * L,
                                         delta_ptr + bh * L, dq_base, start_m, rn, re, rev, scale, L, S, s_qm, s_gm,
                                         s_mm, s_mn, s_dqm, E, EV, MASK, CAUSAL, True, T_COPY, DQ, BLOCK_M, q_ptr,
                                         do_ptr, TMA, seed, bh, d_lo, d_hi, keep_t, rkeep, pid_n * BLOCK_N, BLOCK_N,
                                         DROP, PREC, bits_ptr, BITS)
    tl.store(dk_ptr + b * s_dkb + hk * s_dkh + rn[:, None] * s_dkn + re[None, :],
             (dk * scale).to(dk_ptr.dtype.element_ty),
             mask=(rn[:, None] < S) & (re[None, :] < E))
    if DROP:
        dv = dv * rkeep
    tl.store(dv_ptr + b * s_dvb + hk * s_dvh + rn[:, None] * s_dvn + rev[None, :], dv.to(dv_ptr.dtype.element_ty),
             mask=(rn[:, None] < S) & (rev[None, :] < EV))


@triton.jit
def _attn_bwd_dq_kernel(q_ptr, k_ptr, kt_ptr, v_ptr, vt_ptr, m_ptr, do_ptr, lse_ptr, delta_ptr, dq_ptr, scale, H, GROUP,
                        L, S,
                        E: tl.constexpr, EV: tl.constexpr, s_qb, s_qh, s_qm, s_kb, s_kh, s_kn, s_vb, s_vh, s_vn,
                        s_mb, s_mh, s_mm, s_mn, s_gb, s_gh, s_gm, s_dqb, s_dqh, s_dqm, seed, d_lo, d_hi, keep_t, rkeep,
                        bits_ptr, MASK: tl.constexpr,
                        CAUSAL: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                        BLOCK_E: tl.constexpr, BLOCK_EV: tl.constexpr, T_COPY: tl.constexpr,
                        TMA: tl.constexpr = False, DROP: tl.constexpr = False, PREC: tl.constexpr = "ieee",
                        BITS: tl.constexpr = 0, SPLIT: tl.constexpr = False, LPT: tl.constexpr = False):
    # TMA: k_ptr and v_ptr are 2-D descriptors over rows of the head dim, s_kb, s_kh (s_vb, s_vh) in rows;
    # lse_ptr: the rows' LSE in log2 units (_attn_bwd_pre_kernel's lse2). SPLIT: the key blocks that need
    # no mask in a loop of their own, before the rest (attention._DQ_SPLIT)
    pid_m, bh, b, h, hk, rm, re, q = _query_block(q_ptr, H, GROUP, L, s_qb, s_qh, s_qm, E, BLOCK_M, BLOCK_E,
                                                  CAUSAL, LPT)
    rev = tl.arange(0, BLOCK_EV)
    do = tl.load(do_ptr + b * s_gb + h * s_gh + rm[:, None] * s_gm + rev[None, :],
                 mask=(rm[:, None] < L) & (rev[None, :] < EV), other=0)                  # (BM, BEV)
    lse2 = _load_lse2(lse_ptr + bh * L, rm, L)
    delta = tl.load(delta_ptr + bh * L + rm, mask=rm < L, other=0)
    k_base, v_base = _head(k_ptr, b, hk, s_kb, s_kh, TMA), _head(v_ptr, b, hk, s_vb, s_vh, TMA)
    bhk = b * (H // GROUP) + hk                                                         # (B, HKV, E, S) copies
    kt_base = kt_ptr + bhk * E * S
    vt_base = vt_ptr + bhk * EV * S
    m_base = m_ptr + b * s_mb + h * s_mh
    dq = tl.zeros([BLOCK_M, BLOCK_E], tl.float32)
    hi = S
    if CAUSAL:
        hi = tl.minimum(S, (pid_m + 1) * BLOCK_M)
    inner = 0       # (the forward's split)
    if SPLIT:
        inner = _unmasked_keys(pid_m, S, MASK, CAUSAL, BLOCK_M, BLOCK_N)
    for start_n in range(0, inner, BLOCK_N):
        dq = _dq_block(dq, q, do, lse2, delta, k_base, kt_base, v_base, vt_base, m_base, start_n, rm, re, rev, scale,
                       L, S, s_kn, s_vn, s_mm, s_mn, E, EV, MASK, CAUSAL, T_COPY, BLOCK_N, k_ptr, v_ptr, TMA, seed, bh,
                       d_lo, d_hi, keep_t, rkeep, DROP, PREC, bits_ptr, BITS, pid_m * BLOCK_M, False)
    for start_n in range(inner, hi, BLOCK_N):
        dq = _dq_block(dq, q, do, lse2, delta, k_base, kt_base, v_base, vt_base, m_base, start_n, rm, re, rev, scale,
                       L, S, s_kn, s_vn, s_mm, s_mn, E, EV, MASK, CAUSAL, T_COPY, BLOCK_N, k_ptr, v_ptr, TMA, seed, bh,
                       d_lo, d_hi, keep_t, rkeep, DROP, PREC, bits_ptr, BITS, pid_m * BLOCK_M)
    tl.store(dq_ptr + b * s_dqb + h * s_dqh + rm[:, None] * s_dqm + re[None, :],
             (dq * scale).to(dq_ptr.dtype.element_ty),
             mask=(rm[:, None] < L) & (re[None, :] < E))
