"""The implicit-GEMM convolution kernels: forward with a fused bias, input gradient (also the
forward of ``conv_transpose``) and weight gradient with a split-K reduction. The op, its host
code, tuning and NumPy fallback live in ``conv.py``."""
import triton
import triton.language as tl


@triton.jit
def _tile(pid, M, N, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, GROUP_M: tl.constexpr):
    # grouped order (as in matmul.py): neighbouring programs share weight tiles in L2
    grid_n = tl.cdiv(N, BLOCK_N)
    width = GROUP_M * grid_n
    first_m = (pid // width) * GROUP_M
    group_m = tl.minimum(tl.cdiv(M, BLOCK_M) - first_m, GROUP_M)
    return first_m + (pid % width) % group_m, (pid % width) // group_m


@triton.jit
def _mac(a, b, acc, ACC: tl.constexpr, PREC: tl.constexpr):
    if PREC == "fma":  # float64 on Tritons whose tl.dot has no fp64
        out = acc + tl.sum(a[:, :, None].to(ACC) * b[None, :, :].to(ACC), axis=1)
    else:
        out = tl.dot(a, b, acc, input_precision=PREC)
    return out


@triton.jit
def _conv_fwd_kernel(x_ptr, w_ptr, b_ptr, y_ptr, C, H, W, OC, OH, OW, M, NG, CG, KH, KW, SH, SW, PH, PW, DH, DW,
                     HAS_B: tl.constexpr, ACC: tl.constexpr, PREC: tl.constexpr, BLOCK_M: tl.constexpr,
                     BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr, TAPS: tl.constexpr):
    pid_m, pid_n = _tile(tl.program_id(0), M, NG, BLOCK_M, BLOCK_N, GROUP_M)
    g = tl.program_id(1)
    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)            # output pixels (n, oh, ow)
    rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)            # output channels of group g
    rk = tl.arange(0, BLOCK_K)                              # input channels of group g
    khw = KH * KW
    hw = H * W
    ohw = OH * OW
    n = rm // ohw
    p = rm % ohw
    ih0 = (p // OW) * SH - PH
    iw0 = (p % OW) * SW - PW
    x_rows = x_ptr + (n.to(tl.int64) * C + g * CG) * hw
    oc = g * NG + rn
    w_cols = w_ptr + oc.to(tl.int64) * (CG * khw)
    m_ok = rm < M
    n_ok = rn < NG
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC)
    if TAPS:
        # taps outside, channels inside: a tap's padding mask and row addresses are vectors, and the
        # tiles gather with one 2-D add (no div/mod per element)
        for r in range(0, khw):
            ih = ih0 + (r // KW) * DH
            iw = iw0 + (r % KW) * DW
            row_ok = m_ok & (ih >= 0) & (ih < H) & (iw >= 0) & (iw < W)
            a_rows = x_rows + ih * W + iw
            for c0 in range(0, CG, BLOCK_K):
                c = c0 + rk
                c_ok = c < CG
                a = tl.load(a_rows[:, None] + (c * hw)[None, :], mask=row_ok[:, None] & c_ok[None, :], other=0.0)
                b = tl.load(w_cols[None, :] + (c * khw + r)[:, None], mask=c_ok[:, None] & n_ok[None, :],
                            other=0.0)
                acc = _mac(a, b, acc, ACC, PREC)
    else:
        # few channels (an RGB input): K runs over (channel, tap) together, as the weight stores
        # them, so a 3-channel 3x3 convolution is one 27-deep step instead of nine 3-deep ones
        for k0 in range(0, CG * khw, BLOCK_K):
            k = k0 + rk
            k_ok = k < CG * khw
            c = k // khw
            r = k % khw
            ih = ih0[:, None] + ((r // KW) * DH)[None, :]
            iw = iw0[:, None] + ((r % KW) * DW)[None, :]
            ok = m_ok[:, None] & k_ok[None, :] & (ih >= 0) & (ih < H) & (iw >= 0) & (iw < W)
            a = tl.load(x_rows[:, None] + (c * hw)[None, :] + ih * W + iw, mask=ok, other=0.0)
            b = tl.load(w_cols[None, :] + k[:, None], mask=k_ok[:, None] & n_ok[None, :], other=0.0)
            acc = _mac(a, b, acc, ACC, PREC)
    if HAS_B:
        acc += tl.load(b_ptr + oc, mask=n_ok, other=0.0).to(ACC)[None, :]
    y_ptrs = y_ptr + (n.to(tl.int64) * OC * ohw + p)[:, None] + (oc * ohw)[None, :]
    tl.store(y_ptrs, acc.to(y_ptr.dtype.element_ty), mask=m_ok[:, None] & n_ok[None, :])


@triton.jit
def _conv_dgrad_kernel(dy_ptr, w_ptr, b_ptr, dx_ptr, C, H, W, OC, OH, OW, M, NG, CG, KH, KW, SH, SW, PH, PW, DH,
                       DW, HAS_B: tl.constexpr, ACC: tl.constexpr, PREC: tl.constexpr, BLOCK_M: tl.constexpr,
                       BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr):
    pid_m, pid_n = _tile(tl.program_id(0), M, CG, BLOCK_M, BLOCK_N, GROUP_M)
    g = tl.program_id(1)
    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)            # input pixels (n, ih, iw)
    rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)            # input channels of group g
    rk = tl.arange(0, BLOCK_K)                              # output channels of group g
    khw = KH * KW
    hw = H * W
    ohw = OH * OW
    n = rm // hw
    q = rm % hw
    th0 = q // W + PH
    tw0 = q % W + PW
    dy_rows = dy_ptr + (n.to(tl.int64) * OC + g * NG) * ohw
    w_cols = w_ptr + (g * NG * CG + rn) * khw               # w[g*NG + o, c, kh, kw]
    m_ok = rm < M
    n_ok = rn < CG
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC)
    for r in range(0, khw):
        th = th0 - (r // KW) * DH                           # oh * SH when this tap reaches (ih, iw)
        tw = tw0 - (r % KW) * DW
        oh = th // SH
        ow = tw // SW
        row_ok = m_ok & (th >= 0) & (tw >= 0) & (th % SH == 0) & (tw % SW == 0) & (oh < OH) & (ow < OW)
        a_rows = dy_rows + oh * OW + ow
        for o0 in range(0, NG, BLOCK_K):
            o = o0 + rk
            o_ok = o < NG
            a = tl.load(a_rows[:, None] + (o * ohw)[None, :], mask=row_ok[:, None] & o_ok[None, :], other=0.0)
            b = tl.load(w_cols[None, :] + (o * CG * khw + r)[:, None], mask=o_ok[:, None] & n_ok[None, :],
                        other=0.0)
            acc = _mac(a, b, acc, ACC, PREC)
    c = g * CG + rn
    if HAS_B:
        acc += tl.load(b_ptr + c, mask=n_ok, other=0.0).to(ACC)[None, :]
    dx_ptrs = dx_ptr + (n.to(tl.int64) * C * hw + q)[:, None] + (c * hw)[None, :]
    tl.store(dx_ptrs, acc.to(dx_ptr.dtype.element_ty), mask=m_ok[:, None] & n_ok[None, :])


@triton.jit
def _conv_wgrad_kernel(x_ptr, dy_ptr, dw_ptr, C, H, W, OC, OH, OW, NB, NG, CG, KH, KW, SH, SW, PH, PW, DH, DW,
                       K_SPLIT, ACC: tl.constexpr, PREC: tl.constexpr, BLOCK_M: tl.constexpr,
                       BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr, TAPS: tl.constexpr):
    # TAPS: one kernel tap per program (grid axis 0 is tiles x taps), so the input tile's padding
    # mask is a vector over K and its addresses one 2-D add. Else (few channels) the N axis runs
    # over (input channel, tap) together, as the weight stores them: 3 channels x 9 taps fill one
    # 32-wide tile instead of nine tiles with 3 live columns each
    khw = KH * KW
    pid = tl.program_id(0)
    if TAPS:
        r = pid % khw
        pid_m, pid_n = _tile(pid // khw, NG, CG, BLOCK_M, BLOCK_N, GROUP_M)
    else:
        pid_m, pid_n = _tile(pid, NG, CG * khw, BLOCK_M, BLOCK_N, GROUP_M)
    g = tl.program_id(1)
    split = tl.program_id(2)
    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)            # output channels of group g
    rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)            # input channels of group g (x taps, not TAPS)
    rk = tl.arange(0, BLOCK_K)                              # (n, oh, ow)
    hw = H * W
    ohw = OH * OW
    dy_rows = dy_ptr + (g * NG + rm) * ohw
    m_ok = rm < NG
    if TAPS:
        x_cols = x_ptr + (g * CG + rn) * hw
        n_ok = rn < CG
        ih0 = (r // KW) * DH - PH
        iw0 = (r % KW) * DW - PW
        col = rn * khw + r                                  # w[o, c, kh, kw] at o * CG * khw + col
    else:
        x_cols = x_ptr + (g * CG + rn // khw) * hw
        n_ok = rn < CG * khw
        ih0 = ((rn % khw) // KW) * DH - PH
        iw0 = ((rn % khw) % KW) * DW - PW
        col = rn
    k_lo = split * K_SPLIT
    k_hi = tl.minimum(k_lo + K_SPLIT, NB * ohw)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC)
    for k0 in range(k_lo, k_hi, BLOCK_K):
        kk = k0 + rk
        k_ok = kk < k_hi
        nb = (kk // ohw).to(tl.int64)
        p = kk % ohw
        a = tl.load(dy_rows[:, None] + (nb * OC * ohw + p)[None, :], mask=m_ok[:, None] & k_ok[None, :], other=0.0)
        if TAPS:
            ih = (p // OW) * SH + ih0
            iw = (p % OW) * SW + iw0
            k_in = k_ok & (ih >= 0) & (ih < H) & (iw >= 0) & (iw < W)
            b = tl.load(x_cols[None, :] + (nb * C * hw + ih * W + iw)[:, None], mask=k_in[:, None] & n_ok[None, :],
                        other=0.0)
        else:
            ih = ((p // OW) * SH)[:, None] + ih0[None, :]
            iw = ((p % OW) * SW)[:, None] + iw0[None, :]
            ok = k_ok[:, None] & n_ok[None, :] & (ih >= 0) & (ih < H) & (iw >= 0) & (iw < W)
            b = tl.load(x_cols[None, :] + (nb * C * hw)[:, None] + ih * W + iw, mask=ok, other=0.0)
        acc = _mac(a, b, acc, ACC, PREC)
    # dw_ptr: (splits, OC, CG, KH, KW), the final weight gradient when there is one split
    dw_ptrs = dw_ptr + split.to(tl.int64) * OC * CG * khw + ((g * NG + rm) * CG * khw)[:, None] + col[None, :]
    tl.store(dw_ptrs, acc.to(dw_ptr.dtype.element_ty), mask=m_ok[:, None] & n_ok[None, :])
