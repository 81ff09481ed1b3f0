"""The Triton source of flex_attention's kernels (``_flex_kernels`` pastes the traced mods before it).

``_KERNEL`` is the forward, ``_BWD_KERNELS`` the dQ and dK/dV kernels, as format strings: ``{PARAMS}``
and the ``*CAPS`` fields take the captured tensors' arguments (a pointer, then a stride and a size a
dim). The ``@triton.jit`` helpers here are put in the generated module's namespace.
"""
import triton
import triton.language as tl

LOG2E: tl.constexpr = tl.constexpr(1.4426950408889634)
LN2: tl.constexpr = tl.constexpr(0.6931471805599453)


@triton.jit
def _floordiv(a, b):
    """Python's (and PyTorch's) floor division of integers; Triton's ``//`` truncates toward 0."""
    q = a // b
    return q - (((a % b) != 0) & ((a < 0) != (b < 0))).to(q.dtype)


@triton.jit
def _pymod(a, b):
    """Python's modulo (the divisor's sign); Triton's ``%`` takes the dividend's."""
    r = a % b
    return r + (((r != 0) & ((r < 0) != (b < 0))).to(r.dtype) * b)


@triton.jit
def _online(acc, m_i, l_i, s, v_base, rn, rev, S, s_vn, EV: tl.constexpr, PREC: tl.constexpr):
    """One key tile of the online softmax: ``s`` (BLOCK_M, BLOCK_N) scores in log2 units, -inf where masked."""
    m_new = tl.maximum(m_i, tl.max(s, 1))
    # a row with no key yet keeps m = -inf: shift by 0 there so exp2 gives 0, not NaN
    m_safe = tl.where(m_new == float("-inf"), 0.0, m_new)
    p = tl.exp2(s - m_safe[:, None])
    alpha = tl.exp2(m_i - m_safe)
    l_i = l_i * alpha + tl.sum(p, 1)
    v = tl.load(v_base + rn[:, None] * s_vn + rev[None, :], mask=(rn[:, None] < S) & (rev[None, :] < EV), other=0)
    acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v, input_precision=PREC)
    return acc, m_new, l_i


# The kernel, pasted after the generated mods; {SCAPS}/{MCAPS}: the mods' captured-tensor arguments.
_KERNEL = '''
@triton.jit
def _flex_fwd(Q, K, V, O, LSE, KVN, KVI, FKVN, FKVI, {PARAMS}
              s_qb, s_qh, s_qm, s_kb, s_kh, s_kn, s_vb, s_vh, s_vn, s_ob, s_oh, s_om,
              s_nb, s_nh, s_nq, s_ib, s_ih, s_iq, s_fnb, s_fnh, s_fnq, s_fib, s_fih, s_fiq,
              scale, H, G, L, S,
              E: tl.constexpr, EV: tl.constexpr, BE: tl.constexpr, BEV: tl.constexpr,
              BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, SPARSE_Q: tl.constexpr, SPARSE_KV: tl.constexpr,
              HAS_FULL: tl.constexpr, PREC: tl.constexpr):
    pid_m = tl.program_id(0)
    bh = tl.program_id(1)
    b = bh // H
    h = bh % H
    hk = h // G                                         # grouped-query attention: the key/value head
    b64, h64, hk64 = b.to(tl.int64), h.to(tl.int64), hk.to(tl.int64)   # (offsets past 2**31 elements)
    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    re = tl.arange(0, BE)
    rev = tl.arange(0, BEV)
    q = tl.load(Q + b64 * s_qb + h64 * s_qh + rm[:, None] * s_qm + re[None, :],
                mask=(rm[:, None] < L) & (re[None, :] < E), other=0)
    k_base = K + b64 * s_kb + hk64 * s_kh
    v_base = V + b64 * s_vb + hk64 * s_vh
    qb = (pid_m * BLOCK_M) // SPARSE_Q                  # the BlockMask row (BLOCK_M divides SPARSE_Q)
    q_idx = rm[:, None]
    m_i = tl.full([BLOCK_M], float("-inf"), tl.float32)
    l_i = tl.zeros([BLOCK_M], tl.float32)
    acc = tl.zeros([BLOCK_M, BEV], tl.float32)
    n = tl.load(KVN + b * s_nb + h * s_nh + qb * s_nq)
    for j in range(0, n):                               # partial blocks: mask_mod applies
        lo = tl.load(KVI + b * s_ib + h * s_ih + qb * s_iq + j) * SPARSE_KV
        for start_n in range(lo, tl.minimum(lo + SPARSE_KV, S), BLOCK_N):
            rn = start_n + tl.arange(0, BLOCK_N)
            kv_idx = rn[None, :]
            kt = tl.load(k_base + rn[None, :] * s_kn + re[:, None], mask=(re[:, None] < E) & (kv_idx < S), other=0)
            s = _score_mod(tl.dot(q, kt, input_precision=PREC) * scale, b, h, q_idx, kv_idx{SCAPS})
            keep = (kv_idx < S) & _mask_mod(b, h, q_idx, kv_idx{MCAPS})
            s = tl.where(keep, s * LOG2E, float("-inf"))
            acc, m_i, l_i = _online(acc, m_i, l_i, s, v_base, rn, rev, S, s_vn, EV, PREC)
    if HAS_FULL:                                        # full blocks: no mask work
        n = tl.load(FKVN + b * s_fnb + h * s_fnh + qb * s_fnq)
        for j in range(0, n):
            lo = tl.load(FKVI + b * s_fib + h * s_fih + qb * s_fiq + j) * SPARSE_KV
            for start_n in range(lo, tl.minimum(lo + SPARSE_KV, S), BLOCK_N):
                rn = start_n + tl.arange(0, BLOCK_N)
                kv_idx = rn[None, :]
                kt = tl.load(k_base + rn[None, :] * s_kn + re[:, None], mask=(re[:, None] < E) & (kv_idx < S),
                             other=0)
                s = _score_mod(tl.dot(q, kt, input_precision=PREC) * scale, b, h, q_idx, kv_idx{SCAPS})
                s = tl.where(kv_idx < S, s * LOG2E, float("-inf"))
                acc, m_i, l_i = _online(acc, m_i, l_i, s, v_base, rn, rev, S, s_vn, EV, PREC)
    dead = l_i == 0.0
    l_safe = tl.where(dead, 1.0, l_i)
    out = acc / l_safe[:, None]
    tl.store(O + b64 * s_ob + h64 * s_oh + rm[:, None] * s_om + rev[None, :], out.to(O.dtype.element_ty),
             mask=(rm[:, None] < L) & (rev[None, :] < EV))
    lse = tl.where(dead, float("-inf"), (m_i + tl.log2(l_safe)) * LN2)
    tl.store(LSE + bh * L + rm, lse, mask=rm < L)
'''

# The backward kernels (FlashAttention-2's): P = exp(s' - lse) recomputed from the saved logsumexp (+inf on
# a row with no key: P = 0), dS' = P * (dO V^T - delta) with delta = rowsum(dO * O) - dlse, and the raw
# score's dS = dS' * d score_mod / d score (``_score_mod_grad``). A captured tensor that needs a gradient
# gets dS' * d score_mod / d value at each of its loads (``SCATTER_CODE``: float32 atomics, dQ kernel
# only). dQ walks a query tile's key blocks as the forward does; dK/dV walks a key tile's query blocks (the
# BlockMask's transposed q_indices) for one query head, and the host sums a group's heads (GQA), so dQ, dK
# and dV take no atomics. (A loop over the group's heads inside the kernel held more registers: the SDPA
# kernels' lesson, attention.py.)
_BWD_KERNELS = '''
@triton.jit
def _bwd_tile(q, do, lse2, delta, kt, vt, b, h, q_idx, kv_idx, scale, S{PARAMS_CALL}{GPARAMS_CALL},
              MASKED: tl.constexpr, SCATTER: tl.constexpr, PREC: tl.constexpr):
    s, dmod{SITES} = _score_mod_grad(tl.dot(q, kt, input_precision=PREC) * scale, b, h, q_idx, kv_idx{SCAPS})
    keep = kv_idx < S
    if MASKED:
        keep = keep & _mask_mod(b, h, q_idx, kv_idx{MCAPS})
    p = tl.where(keep, tl.exp2(s * LOG2E - lse2[:, None]), 0.0)
    dp = tl.dot(do, vt, input_precision=PREC)
    ds = tl.where(keep, p * (dp - delta[:, None]), 0.0)     # d loss / d score_mod's output
{SCATTER_CODE}    return p, tl.where(keep, ds * dmod, 0.0)


@triton.jit
def _flex_bwd_dq(Q, K, V, DO, LSE, DELTA, DQ, KVN, KVI, FKVN, FKVI, {PARAMS}{GPARAMS}
                 s_qb, s_qh, s_qm, s_kb, s_kh, s_kn, s_vb, s_vh, s_vn, s_dob, s_doh, s_dom,
                 s_nb, s_nh, s_nq, s_ib, s_ih, s_iq, s_fnb, s_fnh, s_fnq, s_fib, s_fih, s_fiq,
                 scale, H, G, L, S,
                 E: tl.constexpr, EV: tl.constexpr, BE: tl.constexpr, BEV: tl.constexpr,
                 BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, SPARSE_Q: tl.constexpr, SPARSE_KV: tl.constexpr,
                 HAS_FULL: tl.constexpr, PREC: tl.constexpr):
    pid_m = tl.program_id(0)
    bh = tl.program_id(1)
    b = bh // H
    h = bh % H
    hk = h // G
    b64, h64, hk64 = b.to(tl.int64), h.to(tl.int64), hk.to(tl.int64)
    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    re = tl.arange(0, BE)
    rev = tl.arange(0, BEV)
    rows = rm[:, None] < L
    q = tl.load(Q + b64 * s_qb + h64 * s_qh + rm[:, None] * s_qm + re[None, :], mask=rows & (re[None, :] < E), other=0)
    do = tl.load(DO + b64 * s_dob + h64 * s_doh + rm[:, None] * s_dom + rev[None, :], mask=rows & (rev[None, :] < EV),
                 other=0)
    lse = tl.load(LSE + bh * L + rm, mask=rm < L, other=0.0)
    lse2 = tl.where(lse == float("-inf"), float("inf"), lse * LOG2E)
    delta = tl.load(DELTA + bh * L + rm, mask=rm < L, other=0.0)
    k_base = K + b64 * s_kb + hk64 * s_kh
    v_base = V + b64 * s_vb + hk64 * s_vh
    qb = (pid_m * BLOCK_M) // SPARSE_Q
    q_idx = rm[:, None]
    dq = tl.zeros([BLOCK_M, BE], tl.float32)
    n = tl.load(KVN + b * s_nb + h * s_nh + qb * s_nq)
    for j in range(0, n):
        lo = tl.load(KVI + b * s_ib + h * s_ih + qb * s_iq + j) * SPARSE_KV
        for start_n in range(lo, tl.minimum(lo + SPARSE_KV, S), BLOCK_N):
            rn = start_n + tl.arange(0, BLOCK_N)
            kv_idx = rn[None, :]
            kt = tl.load(k_base + kv_idx * s_kn + re[:, None], mask=(re[:, None] < E) & (kv_idx < S), other=0)
            vt = tl.load(v_base + kv_idx * s_vn + rev[:, None], mask=(rev[:, None] < EV) & (kv_idx < S), other=0)
            p, ds = _bwd_tile(q, do, lse2, delta, kt, vt, b, h, q_idx, kv_idx, scale, S{ARGS_CALL}{GARGS}, True,
                              True, PREC)
            dq += tl.dot(ds.to(kt.dtype), tl.trans(kt), input_precision=PREC)
    if HAS_FULL:
        n = tl.load(FKVN + b * s_fnb + h * s_fnh + qb * s_fnq)
        for j in range(0, n):
            lo = tl.load(FKVI + b * s_fib + h * s_fih + qb * s_fiq + j) * SPARSE_KV
            for start_n in range(lo, tl.minimum(lo + SPARSE_KV, S), BLOCK_N):
                rn = start_n + tl.arange(0, BLOCK_N)
                kv_idx = rn[None, :]
                kt = tl.load(k_base + kv_idx * s_kn + re[:, None], mask=(re[:, None] < E) & (kv_idx < S), other=0)
                vt = tl.load(v_base + kv_idx * s_vn + rev[:, None], mask=(rev[:, None] < EV) & (kv_idx < S),
                             other=0)
                p, ds = _bwd_tile(q, do, lse2, delta, kt, vt, b, h, q_idx, kv_idx, scale, S{ARGS_CALL}{GARGS}, False,
                                  True, PREC)
                dq += tl.dot(ds.to(kt.dtype), tl.trans(kt), input_precision=PREC)
    tl.store(DQ + (bh.to(tl.int64) * L + rm[:, None]) * E + re[None, :], (dq * scale).to(DQ.dtype.element_ty),
             mask=rows & (re[None, :] < E))


@triton.jit
def _flex_bwd_dkdv(Q, K, V, DO, LSE, DELTA, DK, DV, QN, QI, FQN, FQI, {PARAMS}{GPARAMS}
                   s_qb, s_qh, s_qm, s_kb, s_kh, s_kn, s_vb, s_vh, s_vn, s_dob, s_doh, s_dom,
                   s_nb, s_nh, s_nq, s_ib, s_ih, s_iq, s_fnb, s_fnh, s_fnq, s_fib, s_fih, s_fiq,
                   scale, H, G, L, S,
                   E: tl.constexpr, EV: tl.constexpr, BE: tl.constexpr, BEV: tl.constexpr,
                   BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, SPARSE_Q: tl.constexpr, SPARSE_KV: tl.constexpr,
                   HAS_FULL: tl.constexpr, PREC: tl.constexpr):
    pid_n = tl.program_id(0)
    bh = tl.program_id(1)                               # a query head: the host sums a group's (GQA)
    b = bh // H
    h = bh % H
    hk = h // G
    b64, h64, hk64 = b.to(tl.int64), h.to(tl.int64), hk.to(tl.int64)
    rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    re = tl.arange(0, BE)
    rev = tl.arange(0, BEV)
    kv_idx = rn[None, :]
    kt = tl.load(K + b64 * s_kb + hk64 * s_kh + kv_idx * s_kn + re[:, None], mask=(re[:, None] < E) & (kv_idx < S),
                 other=0)
    vt = tl.load(V + b64 * s_vb + hk64 * s_vh + kv_idx * s_vn + rev[:, None], mask=(rev[:, None] < EV) & (kv_idx < S),
                 other=0)
    kb = (pid_n * BLOCK_N) // SPARSE_KV                 # the transposed BlockMask's row
    dk = tl.zeros([BLOCK_N, BE], tl.float32)
    dv = tl.zeros([BLOCK_N, BEV], tl.float32)
    q_base = Q + b64 * s_qb + h64 * s_qh
    do_base = DO + b64 * s_dob + h64 * s_doh
    n = tl.load(QN + b * s_nb + h * s_nh + kb * s_nq)
    for j in range(0, n):
        lo = tl.load(QI + b * s_ib + h * s_ih + kb * s_iq + j) * SPARSE_Q
        for start_m in range(lo, tl.minimum(lo + SPARSE_Q, L), BLOCK_M):
            rm = start_m + tl.arange(0, BLOCK_M)
            rows = rm[:, None] < L
            q = tl.load(q_base + rm[:, None] * s_qm + re[None, :], mask=rows & (re[None, :] < E), other=0)
            do = tl.load(do_base + rm[:, None] * s_dom + rev[None, :], mask=rows & (rev[None, :] < EV), other=0)
            lse = tl.load(LSE + bh * L + rm, mask=rm < L, other=float("-inf"))
            lse2 = tl.where(lse == float("-inf"), float("inf"), lse * LOG2E)
            delta = tl.load(DELTA + bh * L + rm, mask=rm < L, other=0.0)
            p, ds = _bwd_tile(q, do, lse2, delta, kt, vt, b, h, rm[:, None], kv_idx, scale, S{ARGS_CALL}{GARGS},
                              True, False, PREC)
            dv += tl.dot(tl.trans(p.to(do.dtype)), do, input_precision=PREC)
            dk += tl.dot(tl.trans(ds.to(q.dtype)), q, input_precision=PREC)
    if HAS_FULL:
        n = tl.load(FQN + b * s_fnb + h * s_fnh + kb * s_fnq)
        for j in range(0, n):
            lo = tl.load(FQI + b * s_fib + h * s_fih + kb * s_fiq + j) * SPARSE_Q
            for start_m in range(lo, tl.minimum(lo + SPARSE_Q, L), BLOCK_M):
                rm = start_m + tl.arange(0, BLOCK_M)
                rows = rm[:, None] < L
                q = tl.load(q_base + rm[:, None] * s_qm + re[None, :], mask=rows & (re[None, :] < E), other=0)
                do = tl.load(do_base + rm[:, None] * s_dom + rev[None, :], mask=rows & (rev[None, :] < EV), other=0)
                lse = tl.load(LSE + bh * L + rm, mask=rm < L, other=float("-inf"))
                lse2 = tl.where(lse == float("-inf"), float("inf"), lse * LOG2E)
                delta = tl.load(DELTA + bh * L + rm, mask=rm < L, other=0.0)
                p, ds = _bwd_tile(q, do, lse2, delta, kt, vt, b, h, rm[:, None], kv_idx, scale, S{ARGS_CALL}{GARGS},
                                  False, False, PREC)
                dv += tl.dot(tl.trans(p.to(do.dtype)), do, input_precision=PREC)
                dk += tl.dot(tl.trans(ds.to(q.dtype)), q, input_precision=PREC)
    out = bh.to(tl.int64) * S + rn[:, None]
    tl.store(DK + out * E + re[None, :], (dk * scale).to(DK.dtype.element_ty),
             mask=(rn[:, None] < S) & (re[None, :] < E))
    tl.store(DV + out * EV + rev[None, :], dv.to(DV.dtype.element_ty), mask=(rn[:, None] < S) & (rev[None, :] < EV))
'''

_HEADER = '''import triton
import triton.language as tl
'''
