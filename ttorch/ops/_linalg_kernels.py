"""The Triton kernels of ``linalg_solve.py`` and ``linalg_lu.py``: each program holds one matrix of the
batch in registers (a ``BLOCK`` x ``BLOCK`` tile, the identity past the matrix's n rows) and eliminates
column by column, reading rows and columns out of the tile with masked sums (a register tile can't be
indexed)."""
import triton
import triton.language as tl


@triton.jit
def _row(a, rows, k):
    """Row ``k`` of the register tile ``a`` (rows indexed by ``rows``), a vector over its columns."""
    return tl.sum(tl.where(rows[:, None] == k, a, 0.0), axis=0)


@triton.jit
def _col(a, cols, k):
    """Column ``k`` of the register tile ``a``, a vector over its rows."""
    return tl.sum(tl.where(cols[None, :] == k, a, 0.0), axis=1)


@triton.jit
def _rotate_cols(x, cols, p, q, xp, xq, c, s):
    """``x`` with its columns p and q (``xp``, ``xq``) turned by the plane rotation (c, s):
    ``(c xp - s xq, s xp + c xq)``, the Jacobi methods' update."""
    return tl.where(cols[None, :] == p, (c * xp - s * xq)[:, None],
                    tl.where(cols[None, :] == q, (s * xp + c * xq)[:, None], x))


@triton.jit
def _load_square(a_ptr, base, n, s_r, s_c, rows, cols, ACC: tl.constexpr):
    """A's n x n block, the identity past it (pivots there are 1: never chosen, never singular)."""
    inside = (rows[:, None] < n) & (cols[None, :] < n)
    a = tl.load(a_ptr + base + rows[:, None] * s_r + cols[None, :] * s_c, mask=inside, other=0.0).to(ACC)
    return tl.where((rows[:, None] == cols[None, :]) & (rows[:, None] >= n), 1.0, a)


@triton.jit
def _load_rhs(b_ptr, base, n, nrhs, s_r, s_c, rows, rc, ACC: tl.constexpr):
    """B's column block ``rc``, zeros past its n rows and nrhs columns."""
    mask = (rows[:, None] < n) & (rc[None, :] < nrhs)
    return tl.load(b_ptr + base + rows[:, None] * s_r + rc[None, :] * s_c, mask=mask, other=0.0).to(ACC)


@triton.jit
def _solve_kernel(a_ptr, b_ptr, x_ptr, info_ptr, n, nrhs, s_ab, s_ar, s_ac, s_bb, s_br, s_bc, s_xb, s_xr, s_xc,
                  ACC: tl.constexpr, BLOCK: tl.constexpr, BLOCK_R: tl.constexpr):
    # program (matrix, column block of B): Gauss-Jordan on [A | B], partial pivoting; B becomes X
    bat = tl.program_id(0).to(tl.int64)
    rows = tl.arange(0, BLOCK)
    rc = tl.program_id(1) * BLOCK_R + tl.arange(0, BLOCK_R)
    a = _load_square(a_ptr, bat * s_ab, n, s_ar, s_ac, rows, rows, ACC)
    b = _load_rhs(b_ptr, bat * s_bb, n, nrhs, s_br, s_bc, rows, rc, ACC)
    info = tl.program_id(0) * 0
    for k in range(0, n):
        colk = _col(a, rows, k)
        p = tl.argmax(tl.where(rows >= k, tl.abs(colk), -1.0), axis=0)     # the first largest, as LAPACK's
        piv = tl.sum(tl.where(rows == p, colk, 0.0))
        ck = tl.sum(tl.where(rows == k, colk, 0.0))
        info = tl.where(info == 0, tl.where(piv == 0, k + 1, 0), info)      # (no & of scalars: the interpreter)
        ak, ap = _row(a, rows, k), _row(a, rows, p)
        bk, bp = _row(b, rows, k), _row(b, rows, p)
        a = tl.where(rows[:, None] == p, ak[None, :], a)           # rows k and p swapped (k's written below)
        b = tl.where(rows[:, None] == p, bk[None, :], b)
        colk = tl.where(rows == p, ck, colk)
        # the pivot row scaled to 1 at column k; column k eliminated from every other row
        arow, brow = ap / piv, bp / piv
        f = tl.where(rows == k, 0.0, colk)
        a = tl.where(rows[:, None] == k, arow[None, :], a - f[:, None] * arow[None, :])
        b = tl.where(rows[:, None] == k, brow[None, :], b - f[:, None] * brow[None, :])
    tl.store(x_ptr + bat * s_xb + rows[:, None] * s_xr + rc[None, :] * s_xc, b.to(x_ptr.dtype.element_ty),
             mask=(rows[:, None] < n) & (rc[None, :] < nrhs))
    if tl.program_id(1) == 0:
        tl.store(info_ptr + bat, info)


@triton.jit
def _logdet_kernel(a_ptr, logabs_ptr, sign_ptr, det_ptr, n, s_ab, s_ar, s_ac, ACC: tl.constexpr, BLOCK: tl.constexpr):
    # Gaussian elimination with partial pivoting; a zero pivot skips its column's elimination (LAPACK)
    bat = tl.program_id(0).to(tl.int64)
    rows = tl.arange(0, BLOCK)
    a = _load_square(a_ptr, bat * s_ab, n, s_ar, s_ac, rows, rows, ACC)
    logabs = tl.zeros((), ACC)
    sign = tl.full((), 1.0, ACC)
    det = tl.full((), 1.0, ACC)
    for k in range(0, n):
        colk = _col(a, rows, k)
        p = tl.argmax(tl.where(rows >= k, tl.abs(colk), -1.0), axis=0)
        piv = tl.sum(tl.where(rows == p, colk, 0.0))
        ck = tl.sum(tl.where(rows == k, colk, 0.0))
        ak, ap = _row(a, rows, k), _row(a, rows, p)
        a = tl.where(rows[:, None] == p, ak[None, :], a)
        a = tl.where(rows[:, None] == k, ap[None, :], a)
        colk = tl.where(rows == p, ck, tl.where(rows == k, piv, colk))
        swap = tl.where(p != k, -1.0, 1.0)
        sign = sign * swap * tl.where(piv < 0, -1.0, tl.where(piv > 0, 1.0, 0.0))
        det = det * swap * piv
        logabs += tl.log(tl.abs(piv))
        f = tl.where(rows > k, colk * tl.where(piv != 0, 1.0 / piv, 0.0), 0.0)    # LAPACK's getf2 scales so
        a = a - f[:, None] * ap[None, :]
    tl.store(logabs_ptr + bat, logabs.to(logabs_ptr.dtype.element_ty))
    tl.store(sign_ptr + bat, sign.to(sign_ptr.dtype.element_ty))
    tl.store(det_ptr + bat, det.to(det_ptr.dtype.element_ty))


@triton.jit
def _cholesky_kernel(a_ptr, l_ptr, info_ptr, n, s_ab, s_ar, s_ac, s_lb, s_lr, s_lc, UPPER: tl.constexpr,
                     ACC: tl.constexpr, BLOCK: tl.constexpr):
    # right-looking: column k of L from the updated trailing matrix, then its rank-1 update
    bat = tl.program_id(0).to(tl.int64)
    rows = tl.arange(0, BLOCK)
    a = _load_square(a_ptr, bat * s_ab, n, s_ar, s_ac, rows, rows, ACC)
    lower = rows[:, None] >= rows[None, :]
    a = tl.where(lower, a, tl.trans(a))                 # the lower triangle, mirrored: the upper is not read
    low = tl.zeros((BLOCK, BLOCK), ACC)
    info = tl.program_id(0) * 0
    for k in range(0, n):
        colk = _col(a, rows, k)
        akk = tl.sum(tl.where(rows == k, colk, 0.0))
        info = tl.where(info == 0, tl.where(akk > 0, 0, k + 1), info)      # NaN fails akk > 0 too
        d = tl.sqrt(akk)
        lk = tl.where(rows > k, colk / d, 0.0)
        a = a - lk[:, None] * lk[None, :]
        low = tl.where(rows[None, :] == k, tl.where(rows == k, d, lk)[:, None], low)
    inside = (rows[:, None] < n) & (rows[None, :] < n)
    if UPPER:
        low = tl.trans(low)
    tl.store(l_ptr + bat * s_lb + rows[:, None] * s_lr + rows[None, :] * s_lc, low.to(l_ptr.dtype.element_ty),
             mask=inside)
    tl.store(info_ptr + bat, info)


@triton.jit
def _trsm_kernel(a_ptr, b_ptr, x_ptr, n, nrhs, s_ab, s_ar, s_ac, s_bb, s_br, s_bc, s_xb, s_xr, s_xc,
                 UPPER: tl.constexpr, UNIT: tl.constexpr, ACC: tl.constexpr, BLOCK: tl.constexpr,
                 BLOCK_R: tl.constexpr):
    # A X = B by substitution, row by row from the top (lower A) or the bottom (upper A)
    bat = tl.program_id(0).to(tl.int64)
    rows = tl.arange(0, BLOCK)
    rc = tl.program_id(1) * BLOCK_R + tl.arange(0, BLOCK_R)
    a = _load_square(a_ptr, bat * s_ab, n, s_ar, s_ac, rows, rows, ACC)
    b = _load_rhs(b_ptr, bat * s_bb, n, nrhs, s_br, s_bc, rows, rc, ACC)
    for i in range(0, n):
        if UPPER:
            k = n - 1 - i
        else:
            k = i
        colk = _col(a, rows, k)
        if UNIT:
            xk = _row(b, rows, k)
        else:
            xk = _row(b, rows, k) / tl.sum(tl.where(rows == k, colk, 0.0))
        if UPPER:
            below = rows < k
        else:
            below = rows > k
        # row k solved; its column of A (the triangle's part only) leaves the rows still to solve
        b = tl.where(rows[:, None] == k, xk[None, :], b - tl.where(below, colk, 0.0)[:, None] * xk[None, :])
    tl.store(x_ptr + bat * s_xb + rows[:, None] * s_xr + rc[None, :] * s_xc, b.to(x_ptr.dtype.element_ty),
             mask=(rows[:, None] < n) & (rc[None, :] < nrhs))


@triton.jit
def _eigh_kernel(a_ptr, w_ptr, v_ptr, n, s_ab, s_ar, s_ac, s_vb, s_vr, s_vc, tol, UPPER: tl.constexpr,
                 ACC: tl.constexpr, BLOCK: tl.constexpr, SWEEPS: tl.constexpr):
    # cyclic Jacobi (Golub and Van Loan 8.5): each rotation in the (p, q) plane zeroes A[p, q]; sweeps
    # until the off-diagonal mass is below tol * ||A||^2. V accumulates the rotations (A = V diag(w) V^T)
    bat = tl.program_id(0).to(tl.int64)
    rows = tl.arange(0, BLOCK)
    a = _load_square(a_ptr, bat * s_ab, n, s_ar, s_ac, rows, rows, ACC)
    if UPPER:
        a = tl.where(rows[:, None] <= rows[None, :], a, tl.trans(a))    # the upper triangle, mirrored
    else:
        a = tl.where(rows[:, None] >= rows[None, :], a, tl.trans(a))
    v = tl.where(rows[:, None] == rows[None, :], 1.0, 0.0).to(ACC)
    inside = (rows[:, None] < n) & (rows[None, :] < n)
    norm2 = tl.sum(tl.sum(tl.where(inside, a * a, 0.0), axis=1), axis=0)
    offdiag = inside & (rows[:, None] != rows[None, :])
    # the off-diagonal mass summed itself (norm2 less the diagonal's cancels: it stalled at eps * norm2)
    off = tl.sum(tl.sum(tl.where(offdiag, a * a, 0.0), axis=1), axis=0)
    for _ in range(SWEEPS):
        if off > tol * norm2:
            for p in range(0, n - 1):
                for q in range(p + 1, n):
                    colp, colq = _col(a, rows, p), _col(a, rows, q)
                    apq = tl.sum(tl.where(rows == p, colq, 0.0))
                    app = tl.sum(tl.where(rows == p, colp, 0.0))
                    aqq = tl.sum(tl.where(rows == q, colq, 0.0))
                    # the smaller root t of t^2 + 2 tau t - 1 = 0: |angle| <= pi/4 (G&VL 8.5.2)
                    tau = (aqq - app) / (2.0 * tl.where(apq == 0, 1.0, apq))
                    t = tl.where(tau >= 0, 1.0, -1.0) / (tl.abs(tau) + tl.sqrt(1.0 + tau * tau))
                    t = tl.where(apq == 0, 0.0, t)
                    c = 1.0 / tl.sqrt(1.0 + t * t)
                    s = t * c
                    # A J (columns p, q), then J^T (A J) (rows p, q); V J
                    a = _rotate_cols(a, rows, p, q, colp, colq, c, s)
                    rowp, rowq = _row(a, rows, p), _row(a, rows, q)
                    a = tl.where(rows[:, None] == p, (c * rowp - s * rowq)[None, :],
                                 tl.where(rows[:, None] == q, (s * rowp + c * rowq)[None, :], a))
                    v = _rotate_cols(v, rows, p, q, _col(v, rows, p), _col(v, rows, q), c, s)
            off = tl.sum(tl.sum(tl.where(offdiag, a * a, 0.0), axis=1), axis=0)
    tl.store(w_ptr + bat * n + rows, _diag(a, rows).to(w_ptr.dtype.element_ty), mask=rows < n)
    tl.store(v_ptr + bat * s_vb + rows[:, None] * s_vr + rows[None, :] * s_vc, v.to(v_ptr.dtype.element_ty),
             mask=inside)


@triton.jit
def _diag(a, rows):
    return tl.sum(tl.where(rows[:, None] == rows[None, :], a, 0.0), axis=1)


@triton.jit
def _qr_kernel(a_ptr, q_ptr, r_ptr, m, n, steps, q_cols, r_rows, s_ab, s_ar, s_ac, s_qb, s_qr, s_qc, s_rb, s_rr, s_rc,
               WANT_Q: tl.constexpr, ACC: tl.constexpr, BM: tl.constexpr, BN: tl.constexpr):
    # Householder QR as LAPACK's geqrf/orgqr make it: the reflector of column k maps it to beta e_k with
    # beta = -sign(A[k, k]) * norm, none where the column is already zero below the diagonal (tau = 0)
    bat = tl.program_id(0).to(tl.int64)
    rows = tl.arange(0, BM)
    cols = tl.arange(0, BN)
    inside = (rows[:, None] < m) & (cols[None, :] < n)
    a = tl.load(a_ptr + bat * s_ab + rows[:, None] * s_ar + cols[None, :] * s_ac, mask=inside, other=0.0).to(ACC)
    q = tl.where(rows[:, None] == rows[None, :], 1.0, 0.0).to(ACC)
    for k in range(0, steps):
        x = tl.where(rows >= k, _col(a, cols, k), 0.0)
        alpha = tl.sum(tl.where(rows == k, x, 0.0))
        tail = tl.sum(tl.where(rows > k, x * x, 0.0))
        norm = tl.sqrt(alpha * alpha + tail)
        beta = tl.where(alpha >= 0, -norm, norm)
        v = tl.where(rows == k, alpha - beta, x)
        vtv = tl.sum(v * v)
        scale = tl.where(tail == 0, 0.0, 2.0 / tl.where(vtv == 0, 1.0, vtv))      # H = I - scale v v^T
        w = tl.sum(v[:, None] * a, axis=0)                                       # v^T A
        a = a - (scale * v)[:, None] * w[None, :]
        if WANT_Q:
            qv = tl.sum(q * v[None, :], axis=1)                                  # Q v: Q H = Q - scale (Q v) v^T
            q = q - (scale * qv)[:, None] * v[None, :]
    r = tl.where(rows[:, None] > cols[None, :], 0.0, a)
    tl.store(r_ptr + bat * s_rb + rows[:, None] * s_rr + cols[None, :] * s_rc, r.to(r_ptr.dtype.element_ty),
             mask=(rows[:, None] < r_rows) & (cols[None, :] < n))
    if WANT_Q:
        tl.store(q_ptr + bat * s_qb + rows[:, None] * s_qr + rows[None, :] * s_qc, q.to(q_ptr.dtype.element_ty),
                 mask=(rows[:, None] < m) & (rows[None, :] < q_cols))


@triton.jit
def _svd_kernel(a_ptr, u_ptr, v_ptr, m, n, s_ab, s_ar, s_ac, s_ub, s_ur, s_uc, s_vb, s_vr, s_vc, tol,
                ACC: tl.constexpr, BM: tl.constexpr, BN: tl.constexpr, SWEEPS: tl.constexpr):
    # one-sided Jacobi (Hestenes): rotate pairs of A's columns until they are orthogonal; then A's
    # columns are U's scaled by the singular values and V holds the rotations (A = (A V) V^T). m >= n.
    bat = tl.program_id(0).to(tl.int64)
    rows = tl.arange(0, BM)
    cols = tl.arange(0, BN)
    a = tl.load(a_ptr + bat * s_ab + rows[:, None] * s_ar + cols[None, :] * s_ac,
                mask=(rows[:, None] < m) & (cols[None, :] < n), other=0.0).to(ACC)
    v = tl.where(cols[:, None] == cols[None, :], 1.0, 0.0).to(ACC)
    worst = tl.full((), 1.0, ACC)
    for _ in range(SWEEPS):
        if worst > tol:
            worst = tl.zeros((), ACC)
            for p in range(0, n - 1):
                for q in range(p + 1, n):
                    ap, aq = _col(a, cols, p), _col(a, cols, q)
                    alpha = tl.sum(ap * ap)
                    beta = tl.sum(aq * aq)
                    gamma = tl.sum(ap * aq)
                    scale = tl.sqrt(alpha * beta)
                    off = tl.abs(gamma) / tl.where(scale == 0, 1.0, scale)
                    worst = tl.maximum(worst, off)
                    # the rotation that makes columns p and q orthogonal (the smaller angle)
                    zeta = (beta - alpha) / (2.0 * tl.where(gamma == 0, 1.0, gamma))
                    t = tl.where(zeta >= 0, 1.0, -1.0) / (tl.abs(zeta) + tl.sqrt(1.0 + zeta * zeta))
                    t = tl.where(off > tol, t, 0.0)
                    c = 1.0 / tl.sqrt(1.0 + t * t)
                    s = t * c
                    a = _rotate_cols(a, cols, p, q, ap, aq, c, s)
                    v = _rotate_cols(v, cols, p, q, _col(v, cols, p), _col(v, cols, q), c, s)
    tl.store(u_ptr + bat * s_ub + rows[:, None] * s_ur + cols[None, :] * s_uc, a.to(u_ptr.dtype.element_ty),
             mask=(rows[:, None] < m) & (cols[None, :] < n))
    tl.store(v_ptr + bat * s_vb + cols[:, None] * s_vr + cols[None, :] * s_vc, v.to(v_ptr.dtype.element_ty),
             mask=(cols[:, None] < n) & (cols[None, :] < n))


@triton.jit
def _lu_kernel(a_ptr, lu_ptr, piv_ptr, info_ptr, m, n, s_ab, s_ar, s_ac, s_lb, s_lr, s_lc, PIVOT: tl.constexpr,
               ACC: tl.constexpr, BLOCK: tl.constexpr):
    # LAPACK's getf2 on an m x n tile (zeros past it): column k's pivot (the first largest of rows k..m-1),
    # rows k and p swapped, the column below the pivot scaled by its reciprocal (L's column; left as it is
    # when the pivot is zero: LAPACK's info), the trailing block less the rank-1 product
    bat = tl.program_id(0).to(tl.int64)
    rows = tl.arange(0, BLOCK)
    a = tl.load(a_ptr + bat * s_ab + rows[:, None] * s_ar + rows[None, :] * s_ac,
                mask=(rows[:, None] < m) & (rows[None, :] < n), other=0.0).to(ACC)
    steps = tl.minimum(m, n)
    pivots = rows + 1
    info = tl.program_id(0) * 0
    for k in range(0, steps):
        colk = _col(a, rows, k)
        if PIVOT:
            p = tl.argmax(tl.where((rows >= k) & (rows < m), tl.abs(colk), -1.0), axis=0)
        else:
            p = k
        piv = tl.sum(tl.where(rows == p, colk, 0.0))
        ck = tl.sum(tl.where(rows == k, colk, 0.0))
        info = tl.where(info == 0, tl.where(piv == 0, k + 1, 0), info)
        pivots = tl.where(rows == k, p + 1, pivots)
        ak, ap = _row(a, rows, k), _row(a, rows, p)
        a = tl.where(rows[:, None] == p, ak[None, :], a)
        a = tl.where(rows[:, None] == k, ap[None, :], a)
        colk = tl.where(rows == p, ck, tl.where(rows == k, piv, colk))
        low = tl.where(rows > k, colk * tl.where(piv != 0, 1.0 / piv, 1.0), 0.0)
        a = tl.where(rows[None, :] == k, tl.where(rows > k, low, colk)[:, None],
                     tl.where(rows[None, :] > k, a - low[:, None] * ap[None, :], a))
    tl.store(lu_ptr + bat * s_lb + rows[:, None] * s_lr + rows[None, :] * s_lc, a.to(lu_ptr.dtype.element_ty),
             mask=(rows[:, None] < m) & (rows[None, :] < n))
    tl.store(piv_ptr + bat * steps + rows, pivots, mask=rows < steps)
    tl.store(info_ptr + bat, info)


@triton.jit
def _lu_perm_kernel(piv_ptr, perm_ptr, m, steps, s_pb, s_pk, BLOCK: tl.constexpr):
    # LAPACK's pivots (row k swapped with row pivots[k] - 1, in turn) as the permutation they make:
    # row i of P^T A is row perm[i] of A
    bat = tl.program_id(0).to(tl.int64)
    rows = tl.arange(0, BLOCK)
    perm = rows.to(tl.int64)
    for k in range(0, steps):
        p = tl.load(piv_ptr + bat * s_pb + k * s_pk) - 1
        pk = tl.sum(tl.where(rows == k, perm, 0))
        pp = tl.sum(tl.where(rows == p, perm, 0))
        perm = tl.where(rows == k, pp, tl.where(rows == p, pk, perm))
    tl.store(perm_ptr + bat * m + rows, perm, mask=rows < m)
