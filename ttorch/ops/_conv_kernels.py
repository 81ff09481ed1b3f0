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
def _px(v, PIX_FIRST: tl.constexpr):
    # a per-pixel vector as a gathered tile's pixel axis: the tile is (K, pixels), or (pixels, K)
    # where PIX_FIRST, and is handed on as (K, pixels) either way (_gather)
    if PIX_FIRST:
        out = v[:, None]
    else:
        out = v[None, :]
    return out


@triton.jit
def _kx(v, PIX_FIRST: tl.constexpr):
    # a per-K vector as a gathered tile's K axis (the output's channel axis in the stores)
    if PIX_FIRST:
        out = v[None, :]
    else:
        out = v[:, None]
    return out


@triton.jit
def _gather(ptrs, mask, PIX_FIRST: tl.constexpr):
    # Both axes of a gathered tile have contiguity 1, so the compiler's lane order is its tie-break:
    # Triton 3.9 puts the last axis on a warp's lanes, 3.6 the first. The pixel axis is put where
    # this Triton puts lanes (conv.py's _PIX_FIRST), so neighbouring pixels load on neighbouring
    # lanes (stride-1 loads coalesce, a thread holds few pixels' offsets and masks) on both
    a = tl.load(ptrs, mask=mask, other=0.0)
    if PIX_FIRST:
        a = tl.trans(a)
    return a


@triton.jit
def _out(acc, PIX_FIRST: tl.constexpr):
    # the (pixels, channels) accumulator as the output tile _px/_kx index
    if PIX_FIRST:
        out = acc
    else:
        out = tl.trans(acc)
    return out


@triton.jit
def _mac(a_t, b, acc, ACC: tl.constexpr, PREC: tl.constexpr):
    # acc + A @ B, A given transposed (K, M): the gathers load it so, pixels along a warp's lanes
    if PREC == "fma":  # float64 on Tritons whose tl.dot has no fp64: (K, M, N) products summed over K
        out = acc + tl.sum(a_t[:, :, None].to(ACC) * b[:, None, :].to(ACC), axis=0)
    else:
        out = tl.dot(tl.trans(a_t), b, acc, input_precision=PREC)
    return out


@triton.jit
def _conv_fwd_kernel(x_ptr, w_ptr, b_ptr, y_ptr, C, H, W, OC, OH, OW, M, NG, CG, KH, KW, SH, SW, PH, PW, DH, DW,
                     HAS_B: tl.constexpr, ACC: tl.constexpr, PREC: tl.constexpr, BLOCK_M: tl.constexpr,
                     BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr, TAPS: tl.constexpr,
                     PIX_FIRST: tl.constexpr):
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
    m_ok = rm < M
    n_ok = rn < NG
    oc = g * NG + rn
    x_rows = (n * C + g * CG) * hw                          # int32: conv.py keeps each launch under 2**31
    w_cols = (g * NG + tl.minimum(rn, NG - 1)) * (CG * khw)  # clamped: B needs no column mask
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC)
    if TAPS:
        # taps outer, channels inner, in one loop (one software pipeline across all taps): a tap's
        # padding mask and row offsets are vectors, and the tiles gather with one 2-D add
        cb = tl.cdiv(CG, BLOCK_K)
        for t in range(0, khw * cb):
            r = t // cb
            c0 = (t - r * cb) * BLOCK_K
            ih = ih0 + (r // KW) * DH
            iw = iw0 + (r % KW) * DW
            row_ok = m_ok & (ih >= 0) & (ih < H) & (iw >= 0) & (iw < W)
            k_ok = rk < CG - c0
            # A^T, (BLOCK_K, BLOCK_M), loaded (BLOCK_M, BLOCK_K) where PIX_FIRST: pixels on a warp's lanes
            a_ok = _kx(k_ok, PIX_FIRST) & _px(row_ok, PIX_FIRST)
            a = _gather(x_ptr + (_px(x_rows + ih * W + iw + c0 * hw, PIX_FIRST) + _kx(rk * hw, PIX_FIRST)), a_ok,
                        PIX_FIRST)
            b = tl.load(w_ptr + ((w_cols + c0 * khw + r)[None, :] + (rk * khw)[:, None]), mask=k_ok[:, None],
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
            ih = _px(ih0, PIX_FIRST) + _kx((r // KW) * DH, PIX_FIRST)
            iw = _px(iw0, PIX_FIRST) + _kx((r % KW) * DW, PIX_FIRST)
            ok = _kx(k_ok, PIX_FIRST) & _px(m_ok, PIX_FIRST) & (ih >= 0) & (ih < H) & (iw >= 0) & (iw < W)
            a = _gather(x_ptr + (_px(x_rows, PIX_FIRST) + _kx(c * hw, PIX_FIRST) + ih * W + iw), ok, PIX_FIRST)
            b = tl.load(w_ptr + (w_cols[None, :] + k[:, None]), mask=k_ok[:, None], other=0.0)
            acc = _mac(a, b, acc, ACC, PREC)
    if HAS_B:
        acc += tl.load(b_ptr + oc, mask=n_ok, other=0.0).to(ACC)[None, :]
    # stored pixel-major too: pixels on the lanes' axis, (BLOCK_N, BLOCK_M) or, PIX_FIRST, (BLOCK_M, BLOCK_N)
    y_offs = _px(n * OC * ohw + p, PIX_FIRST) + _kx(oc * ohw, PIX_FIRST)
    tl.store(y_ptr + y_offs, _out(acc.to(y_ptr.dtype.element_ty), PIX_FIRST),
             mask=_kx(n_ok, PIX_FIRST) & _px(m_ok, PIX_FIRST))


@triton.jit
def _conv_dgrad_kernel(dy_ptr, w_ptr, b_ptr, dx_ptr, C, H, W, OC, OH, OW, M, NG, CG, KH, KW, SH, SW, PH, PW, DH,
                       DW, HAS_B: tl.constexpr, ACC: tl.constexpr, PREC: tl.constexpr, BLOCK_M: tl.constexpr,
                       BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
                       PIX_FIRST: tl.constexpr):
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
    m_ok = rm < M
    n_ok = rn < CG
    c = g * CG + rn
    dy_rows = (n * OC + g * NG) * ohw                       # int32: conv.py keeps each launch under 2**31
    w_cols = (g * NG * CG + tl.minimum(rn, CG - 1)) * khw   # w[g*NG + o, c, kh, kw]; clamped: no column mask
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC)
    ob = tl.cdiv(NG, BLOCK_K)
    for t in range(0, khw * ob):                            # taps outer, channels inner, one pipeline
        r = t // ob
        o0 = (t - r * ob) * BLOCK_K
        th = th0 - (r // KW) * DH                           # oh * SH when this tap reaches (ih, iw)
        tw = tw0 - (r % KW) * DW
        oh = th // SH
        ow = tw // SW
        row_ok = m_ok & (th >= 0) & (tw >= 0) & (th % SH == 0) & (tw % SW == 0) & (oh < OH) & (ow < OW)
        k_ok = rk < NG - o0
        # A^T, (BLOCK_K, BLOCK_M), loaded (BLOCK_M, BLOCK_K) where PIX_FIRST: pixels on a warp's lanes
        a_ok = _kx(k_ok, PIX_FIRST) & _px(row_ok, PIX_FIRST)
        a = _gather(dy_ptr + (_px(dy_rows + oh * OW + ow + o0 * ohw, PIX_FIRST) + _kx(rk * ohw, PIX_FIRST)), a_ok,
                    PIX_FIRST)
        b = tl.load(w_ptr + ((w_cols + o0 * CG * khw + r)[None, :] + (rk * CG * khw)[:, None]),
                    mask=k_ok[:, None], other=0.0)
        acc = _mac(a, b, acc, ACC, PREC)
    if HAS_B:
        acc += tl.load(b_ptr + c, mask=n_ok, other=0.0).to(ACC)[None, :]
    dx_offs = _px(n * C * hw + q, PIX_FIRST) + _kx(c * hw, PIX_FIRST)    # stored pixel-major too
    tl.store(dx_ptr + dx_offs, _out(acc.to(dx_ptr.dtype.element_ty), PIX_FIRST),
             mask=_kx(n_ok, PIX_FIRST) & _px(m_ok, PIX_FIRST))


@triton.jit
def _conv_wgrad_kernel(x_ptr, dy_ptr, dw_ptr, C, H, W, OC, OH, OW, NB, NG, CG, KH, KW, SH, SW, PH, PW, DH, DW,
                       K_SPLIT, ACC: tl.constexpr, PREC: tl.constexpr, BLOCK_M: tl.constexpr,
                       BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr, TAPS: tl.constexpr):
    # TAPS: one kernel tap per program (grid axis 0 is tiles x taps), so the input tile's padding
    # mask is a vector over K and its offsets one 2-D add. Else (few channels) the N axis runs
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
    m_ok = rm < NG
    # int32 offsets (conv.py keeps each launch under 2**31 elements); rows clamped: A needs no row mask
    dy_rows = (g * NG + tl.minimum(rm, NG - 1)) * ohw
    if TAPS:
        n_ok = rn < CG
        x_cols = (g * CG + tl.minimum(rn, CG - 1)) * hw
        ih0 = (r // KW) * DH - PH
        iw0 = (r % KW) * DW - PW
        col = rn * khw + r                                  # w[o, c, kh, kw] at o * CG * khw + col
    else:
        n_ok = rn < CG * khw
        cr = tl.minimum(rn, CG * khw - 1)
        x_cols = (g * CG + cr // khw) * hw
        ih0 = ((cr % khw) // KW) * DH - PH
        iw0 = ((cr % khw) % KW) * DW - PW
        col = rn
    k_lo = split * K_SPLIT
    k_hi = tl.minimum(k_lo + K_SPLIT, NB * ohw)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC)
    for k0 in range(k_lo, k_hi, BLOCK_K):
        kk = k0 + rk
        k_ok = kk < k_hi
        nb = kk // ohw
        p = kk % ohw
        a = tl.load(dy_ptr + (dy_rows[:, None] + (nb * OC * ohw + p)[None, :]), mask=k_ok[None, :], other=0.0)
        # B^T: (BLOCK_N, BLOCK_K), pixels along a warp's lanes (neighbouring pixels, neighbouring input)
        if TAPS:
            ih = (p // OW) * SH + ih0
            iw = (p % OW) * SW + iw0
            k_in = k_ok & (ih >= 0) & (ih < H) & (iw >= 0) & (iw < W)
            b = tl.load(x_ptr + (x_cols[:, None] + (nb * C * hw + ih * W + iw)[None, :]), mask=k_in[None, :],
                        other=0.0)
        else:
            ih = ((p // OW) * SH)[None, :] + ih0[:, None]
            iw = ((p % OW) * SW)[None, :] + iw0[:, None]
            ok = k_ok[None, :] & (ih >= 0) & (ih < H) & (iw >= 0) & (iw < W)
            b = tl.load(x_ptr + (x_cols[:, None] + (nb * C * hw)[None, :] + ih * W + iw), mask=ok, other=0.0)
        acc = _mac(tl.trans(a), tl.trans(b), acc, ACC, PREC)
    # dw_ptr: (splits, OC, CG, KH, KW), the final weight gradient when there is one split
    dw_offs = split * OC * CG * khw + ((g * NG + rm) * CG * khw)[:, None] + col[None, :]
    tl.store(dw_ptr + dw_offs, acc.to(dw_ptr.dtype.element_ty), mask=m_ok[:, None] & n_ok[None, :])
