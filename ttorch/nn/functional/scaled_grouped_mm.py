"""``F.scaled_grouped_mm``: ``F.grouped_mm`` of float8 operands with row-wise decoding scales (MoE layers in
float8), PyTorch 2.13's ``scaled_grouped_mm``.

The scales are ``RowWise``: one per row of ``mat_a`` and one per column of ``mat_b``, per group. With the
groups along ``offs`` (int32 group ends):

* 2D ``mat_a`` (M, K) x 3D ``mat_b`` (G, K, N): ``scale_a`` (M,), ``scale_b`` (G, N); output (M, N).
* 3D (G, M, K) x 2D (K, N): ``scale_a`` (G, M), ``scale_b`` (N,); output (M, N).
* 3D x 3D, no ``offs``: ``scale_a`` (G, M), ``scale_b`` (G, N); output (G, M, N).
* 2D (M, K) x 2D (K, N), groups along K: ``scale_a`` (G * M,), ``scale_b`` (G * N,); output (G, M, N).

ttorch decodes both operands to float32 and runs ``grouped_mm``'s kernel (float32 accumulation, as PyTorch's
float8 kernels), then casts to ``output_dtype`` (bfloat16 by default). PyTorch runs it on sm_90+ GPUs only;
ttorch on every device. Block-wise (MX) recipes and swizzled scales raise ``NotImplementedError``.
"""
from ... import _dtype as D
from ...ops.scaled_mm import ScalingType, SwizzleType

__all__ = ["scaled_grouped_mm"]

_FP8 = ("float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz")


def _one(x, what):
    if isinstance(x, (list, tuple)):
        if len(x) != 1:
            raise NotImplementedError(f"ttorch's scaled_grouped_mm takes one {what} per operand")
        return x[0]
    return x


def scaled_grouped_mm(mat_a, mat_b, scale_a, scale_recipe_a, scale_b, scale_recipe_b, swizzle_a=None,
                      swizzle_b=None, bias=None, offs=None, output_dtype=D.bfloat16, contraction_dim=(),
                      use_fast_accum=False):
    """Grouped ``mat_a @ mat_b`` of float8 operands decoded by row-wise scales (see the module docstring).

    Example::

        >>> import ttorch.nn.functional as F
        >>> a = ttorch.ones(4, 16).to(ttorch.float8_e4m3fn)
        >>> b = ttorch.ones(2, 16, 8).to(ttorch.float8_e4m3fn)
        >>> out = F.scaled_grouped_mm(a, b, ttorch.full((4,), 0.5), F.ScalingType.RowWise,
        ...                           ttorch.ones(2, 8), F.ScalingType.RowWise,
        ...                           offs=ttorch.tensor([1, 4], dtype=ttorch.int32))
        >>> out.dtype, out[:, 0].tolist()
        (ttorch.bfloat16, [8.0, 8.0, 8.0, 8.0])
    """
    from ...ops.grouped_mm import _grouped
    scale_a, scale_b = _one(scale_a, "scale"), _one(scale_b, "scale")
    recipes = (ScalingType(int(_one(scale_recipe_a, "recipe"))), ScalingType(int(_one(scale_recipe_b, "recipe"))))
    if any(r != ScalingType.RowWise for r in recipes):
        raise NotImplementedError(f"ttorch's scaled_grouped_mm runs RowWise scaling only, not {recipes}")
    for s in (swizzle_a, swizzle_b):
        if s not in (None, [], ()) and int(_one(s, "swizzle")) != SwizzleType.NO_SWIZZLE:
            raise NotImplementedError("ttorch's scaled_grouped_mm takes unswizzled scales only")
    if tuple(contraction_dim) not in ((), (-1, -2)):
        raise NotImplementedError("ttorch's scaled_grouped_mm contracts mat_a's last dim with mat_b's "
                                  "second-to-last only")
    for name, t in (("mat_a", mat_a), ("mat_b", mat_b)):
        if str(t.dtype).split(".")[-1] not in _FP8:
            raise RuntimeError(f"Expected {name} to be a float8 matrix, got {t.dtype}")
        if t.ndim not in (2, 3):
            raise RuntimeError(f"{name} has to be 2 or 3d")
    if bias is not None:
        raise RuntimeError("Bias not supported yet")
    if mat_a.shape[-1] != mat_b.shape[-2]:
        raise RuntimeError("contraction dimension of mat_a and mat_b must match")
    if (offs is None) != (mat_a.ndim == 3 and mat_b.ndim == 3):
        raise RuntimeError("Have to provide offsets if there is a 2d matrix, or no offset if both matrices are 3d")
    if offs is not None and offs.dtype is not D.int32:
        raise RuntimeError("Offsets have to be int32")
    a, b = mat_a.to(D.float32), mat_b.to(D.float32)
    sa, sb = scale_a.to(D.float32), scale_b.to(D.float32)
    g = offs.shape[0] if offs is not None else a.shape[0]
    rows = (a.shape[0],) if a.ndim == 2 else (a.shape[0], a.shape[1])       # one scale per row, per group
    cols = (b.shape[-1],) if b.ndim == 2 else (b.shape[0], b.shape[2])
    if (a.ndim, b.ndim) == (2, 2):                                            # groups along K
        rows, cols = (g * a.shape[0],), (g * b.shape[1],)
    want = (rows, cols)
    if tuple(sa.shape) != want[0] or tuple(sb.shape) != want[1]:
        raise RuntimeError(f"scaled_grouped_mm: expected RowWise scales of shapes {list(want[0])} and "
                           f"{list(want[1])}, got {list(sa.shape)} and {list(sb.shape)}")
    if (a.ndim, b.ndim) == (2, 2):                    # per group: diag(sa_g) (A_g B_g) diag(sb_g)
        out = _grouped(a, b, offs)                                                   # (G, M, N)
        out = out * sa.reshape(g, -1, 1) * sb.reshape(g, 1, -1)
    else:
        a = a * sa.unsqueeze(-1)                      # a row's scale: its own
        b = b * (sb.unsqueeze(-2) if b.ndim == 3 else sb)          # a column's scale, per group
        out = _grouped(a, b, offs)
    return out.to(output_dtype or D.bfloat16)
