"""flex_attention's fused kernels on cuda: FlashAttention-2 with the user's mods compiled in.

``_flex_codegen`` turns ``score_mod`` and ``mask_mod`` into ``@triton.jit`` functions (and ``score_mod``'s
derivative with respect to the score); they are pasted with the kernels below into one generated module,
cached by its source. Forward: one program takes ``BLOCK_M`` query rows of head (b, h) and walks only the
key blocks its BlockMask row lists: the partial blocks (``kv_indices``) with ``mask_mod`` applied, then the
full ones (``full_kv_indices``) without it; unlisted blocks cost nothing. Scores are ``q k^T * scale`` in
float32, then ``score_mod``, then the online softmax in log2 units; O is written in the query's dtype and
the logsumexp (natural units, -inf on a row with no key) in float32. The kernel tiles divide the
BlockMask's blocks (tiles of 16 to 64; a BlockMask whose blocks are not multiples of 16 takes the composite).

Backward: a dQ kernel (a query tile's key blocks, as the forward) and a dK/dV kernel (a key tile's query
blocks from the BlockMask's transposed ``q_indices``, one query head a program, a group's heads summed
after: no atomics). A captured tensor that needs a gradient (a learned bias table) gets it from the dQ
kernel, which adds dS' * d score_mod / d value at each load of it by float32 atomics (so its last bits
may vary from run to run, as PyTorch's compiled flex backward's can). The composite of ttorch ops
(``flex_attention._reference``, which materialises the (L, S) scores) is recomputed and differentiated
instead when ``score_mod`` uses an op without a derivative rule (a float ``%``) on the score or on such a
tensor, or the tensor is not contiguous, under ``create_graph``, for a key/value batch of 1 broadcast
over the queries', for a BlockMask without its q tables, and for float32 past head dim 64 (no spill-free
tile: ``_BWD_CONFIGS``); ``_COMPOSITE_BACKWARD`` counts these. ``_flex_aot.aot_check()`` compiles the
kernels of common mods for sm_80 and sm_90 (spills).
"""
import hashlib
import linecache
import re

from ... import _dtype as D
from ...autograd.function import Function
from ...ops._launch import launch, cdiv, next_pow2
from ._flex_codegen import trace_mod, Unsupported
from ._flex_templates import LOG2E, LN2, _floordiv, _pymod, _online, _KERNEL, _BWD_KERNELS, _HEADER


_FALLBACK_REASONS = {}      # reason -> count (flex_attention._FALLBACKS counts them all)
_MODULES = {}       # source hash -> the generated module's namespace


def _mod_source(name, params, lines, res, with_d=False):
    body = "".join(f"    {ln}\n" for is_d, ln in lines if with_d or not is_d)
    return f"@triton.jit\ndef {name}({params}):\n{body}    return {res}\n"


def _cap_params(prefix, caps):
    """The generated function's parameter names for captured tensors ``caps``, and the values to pass."""
    names, values = [], []
    for j, t in enumerate(caps):
        names.append(f"{prefix}{j}")
        values.append(t)
        for d in range(t.dim()):
            names += [f"{prefix}{j}_s{d}", f"{prefix}{j}_n{d}"]
            values += [t.stride(d), t.size(d)]
    return names, values


def _scatter(k, in_range):
    """Site ``k``'s atomics: dS' * d score_mod / d value into its gradient buffer, over the kept pairs (the
    mask spelled out to the tile's shape: the interpreter wants a load or atomic's mask as a block)."""
    mask = f"((tl.zeros_like(ds) == 0.0) & keep{f' & gk{k}' if in_range else ''}) != 0"
    return (f"    if SCATTER:\n        tl.atomic_add(gp{k} + (go{k} + tl.zeros_like(ds).to(tl.int32)), "
            f"ds * gd{k}, mask={mask})\n")


def generate(score_mod, mask_mod, device):
    """The kernels for this pair of mods: ``fwd``, and (None when the score_mod has no derivative rule)
    ``dq`` / ``dkdv``, plus ``caps`` (the captured tensors), ``cap_vals`` (their argument values),
    ``cap_names`` (the kernels' names for them) and ``sites`` (the score_mod's loads of captured tensors
    that need a gradient, by index into ``caps``; None when one has no derivative rule). Raises
    ``Unsupported`` for a mod the tracer can't compile."""
    st = trace_mod(score_mod, True, device)
    mt = trace_mod(mask_mod, False, device)
    s_names, s_vals = _cap_params("c", st.caps)
    m_names, m_vals = _cap_params("c", mt.caps)
    src = _HEADER
    src += _mod_source("_score_mod", ", ".join(["score", "b", "h", "q_idx", "kv_idx"] + s_names), st.lines, st.result)
    src += _mod_source("_mask_mod", ", ".join(["b", "h", "q_idx", "kv_idx"] + m_names), mt.lines, mt.result)
    ks = [n.replace("c", "sc", 1) for n in s_names]
    km = [n.replace("c", "mc", 1) for n in m_names]
    # gradient sites: each traced again for the derivative with respect to its loaded value
    site_d, sites = [], [j for j, _, _ in st.sites]
    for k in range(len(st.sites)):
        tk = trace_mod(score_mod, True, device, wrt=k)
        if tk.result_d is None:
            sites = None
            break
        ren = (lambda code, k=k: re.sub(r"\bd(t\d+)\b", rf"g{k}_\1", code))
        site_d.append(([(True, ren(line)) for is_d, line in tk.lines if is_d], ren(tk.result_d)))
    gp = [f"gp{k}" for k in range(len(st.sites))] if sites else []
    fmt = dict(PARAMS="".join(f"{n}, " for n in ks + km), SCAPS="".join(f", {n}" for n in ks),
               MCAPS="".join(f", {n}" for n in km), PARAMS_CALL="".join(f", {n}" for n in ks + km),
               ARGS_CALL="".join(f", {n}" for n in ks + km), GPARAMS="".join(f"{n}, " for n in gp),
               GPARAMS_CALL="".join(f", {n}" for n in gp), GARGS="".join(f", {n}" for n in gp),
               SITES="".join(f", gd{k}, go{k}" + (f", gk{k}" if st.sites[k][2] else "") for k in range(len(gp))),
               SCATTER_CODE="".join(_scatter(k, st.sites[k][2]) for k in range(len(gp))))
    src += _KERNEL.format(**fmt)
    if st.result_d is not None:
        lines = list(st.lines) + [ln for d_lines, _ in site_d for ln in d_lines] if sites else st.lines
        res = f"{st.result}, {st.result_d}"
        if sites:       # each site's (derivative, offset[, in range])
            res += "".join(f", {d}, {o}" + (f", {k}" if k else "") for (_, d), (_, o, k) in zip(site_d, st.sites))
        src += _mod_source("_score_mod_grad", ", ".join(["score", "b", "h", "q_idx", "kv_idx"] + s_names), lines,
                           res, with_d=True)
        src += _BWD_KERNELS.format(**fmt)
    ns = _load_module(src)
    return {"fwd": ns["_flex_fwd"], "dq": ns.get("_flex_bwd_dq"), "dkdv": ns.get("_flex_bwd_dkdv"),
            "caps": st.caps + mt.caps, "cap_vals": s_vals + m_vals, "cap_names": ks + km, "sites": sites,
            "grad_flags": [c.requires_grad for c in st.caps + mt.caps]}


# generate()'s results by (score_mod, mask_mod, device), kept while every object the mods' trace may
# read is the same object: closure cells, defaults, the globals their code names, recursively through
# functions among those (``_reads``). Tracing costs ~0.6 ms a call; the check a few µs. The entry holds
# those objects, so an id can't be reused by a new one meanwhile.
_GEN_CACHE = {}
_GEN_CACHE_MAX = 64
_MISSING = object()


def _reads(fn, out, depth=0):
    """Append to ``out`` what ``fn``'s result may depend on; False where that can't be listed."""
    import types
    code = getattr(fn, "__code__", None)
    if code is None or depth > 4 or not isinstance(fn, types.FunctionType):
        return False
    out.append(fn)
    vals = []
    for c in fn.__closure__ or ():
        try:
            vals.append(c.cell_contents)
        except ValueError:          # an empty cell
            return False
    vals += list(fn.__defaults__ or ()) + list((fn.__kwdefaults__ or {}).values())
    g = fn.__globals__
    vals += [g.get(name, _MISSING) for name in code.co_names]
    for v in vals:
        out.append(v)
        # functions reached through a closure or a global (and_masks' tuple of mods): theirs too
        for f in (v if isinstance(v, (tuple, list)) else (v,)):
            if isinstance(f, types.FunctionType) and not _reads(f, out, depth + 1):
                return False
    return True


def generate_cached(score_mod, mask_mod, device):
    """``generate``, cached (see ``_GEN_CACHE``)."""
    key = (id(score_mod), id(mask_mod), str(device))
    deps = []
    ok = _reads(score_mod, deps) and _reads(mask_mod, deps)
    hit = _GEN_CACHE.get(key)
    if ok and hit is not None and len(hit[0]) == len(deps) and all(a is b for a, b in zip(hit[0], deps)) and \
            hit[1]["grad_flags"] == [c.requires_grad for c in hit[1]["caps"]]:
        return hit[1]
    gen = generate(score_mod, mask_mod, device)
    if ok:
        if len(_GEN_CACHE) >= _GEN_CACHE_MAX:
            _GEN_CACHE.pop(next(iter(_GEN_CACHE)))
        _GEN_CACHE[key] = (deps, gen)
    return gen


def _load_module(src):
    """Exec the generated source as a module Triton can read back (``inspect.getsource`` via linecache)."""
    key = hashlib.sha1(src.encode()).hexdigest()[:16]
    ns = _MODULES.get(key)
    if ns is None:
        fname = f"<ttorch-flex-{key}>"
        linecache.cache[fname] = (len(src), None, src.splitlines(True), fname)
        ns = {"__name__": f"ttorch_flex_{key}", "_floordiv": _floordiv, "_pymod": _pymod, "_online": _online,
              "LOG2E": LOG2E, "LN2": LN2}
        exec(compile(src, fname, "exec"), ns)
        ns["__source__"] = src
        _MODULES[key] = ns
    return ns


# (BLOCK_M, BLOCK_N, num_warps, num_stages) most, by (half or float32, head dim bound), chosen by compiling
# the aot_specs patterns (causal, sliding window, document, alibi, relative bias) for sm_80 and sm_90
# with no spills (``_flex_aot.aot_check()``; head dims 64 and 128, Triton 3.9): 4 warps spilled 4-52 B on half 64x64
# forward tiles with a captured table; float32 head dim 128 spilled 0.6-0.7 KiB at 32x16 w4 (sm_90), none
# at 16x16 w8 but with a captured table (24 B, ptxas holding 64 registers) unless the launch sets maxnreg
# 128 (the fifth field; then 82-111 registers, none spilled); 16x16 at 2 and 4 warps spilled 4-808 B
# (sm_90). Untimed on a GPU. float32 products run on the FMAs (input_precision "ieee"), where every
# thread holds whole rows of the reduced dim: the tiles stay small.
_CONFIGS = {("half", 64): (64, 64, 8, 2), ("half", 128): (64, 32, 8, 2), ("half", 256): (32, 32, 8, 1),
            ("fp32", 64): (32, 32, 4, 2), ("fp32", 128): (16, 16, 8, 1, 128), ("fp32", 256): (16, 16, 8, 1, 128)}
# The backward kernels' (one table for dQ and dK/dV, which hold more tiles than the forward): half dQ
# spilled 8-20 B at 32x32 w4 (head dim 64) and 16 B at 32x32 w8 (128) on sm_90; float32 head dim 64
# 16-44 B at 32x32 w8 and 16x16 w4 (ptxas kept 96 registers), none at 16x16 w2. float32 past head dim
# 64 (None) takes the composite: its dK/dV kernel spilled at every tile tried (16x16 to 32x32, 4-8
# warps, "ieee" and "tf32x3": 20 B to 11 KiB).
_BWD_CONFIGS = {("half", 64): (32, 32, 8, 2), ("half", 128): (16, 32, 8, 2), ("half", 256): (16, 16, 8, 1),
                ("fp32", 64): (16, 16, 2, 1), ("fp32", 128): None, ("fp32", 256): None}


def _config(dtype_is_fp32, e, table=None):
    bound = 64 if e <= 64 else 128 if e <= 128 else 256
    return (table or _CONFIGS)[("fp32" if dtype_is_fp32 else "half", bound)]


def _tile(sparse, most):
    """The largest power of two <= ``most`` dividing ``sparse`` and >= 16 (tl.dot's least), or None."""
    t = most
    while t >= 16:
        if sparse % t == 0:
            return t
        t //= 2
    return None


def _strides3(t):
    """Strides of a (B, H, rows) block table, 0 on a broadcast (size-1) dim."""
    return [t.stride(i) if t.size(i) > 1 else 0 for i in range(3)]


def _fallback(reason):
    _FALLBACK_REASONS[reason] = _FALLBACK_REASONS.get(reason, 0) + 1
    return None


def flex_forward(query, key, value, score_mod, block_mask, scale, opts):
    """``(out, lse)`` from the fused kernel, differentiable (``_FlexFn``), or None where it can't run
    (float64, mixed dtypes, tiles that don't fit, a mod the tracer can't compile)."""
    if query.dtype not in (D.float16, D.bfloat16, D.float32) or key.dtype != query.dtype or \
            value.dtype != query.dtype:
        return _fallback("dtype")
    B, H, L, E = query.shape
    S, EV = key.size(2), value.size(3)
    if max(E, EV) > 256 or 0 in (B, H, L, S, E, EV) or B * H > 65535:
        return _fallback("shape")
    if key.size(0) != B and key.size(0) != 1:
        return _fallback("shape")
    SQ, SK = block_mask.BLOCK_SIZE
    cm, cn, warps, stages, *maxnreg = _config(query.dtype == D.float32, max(E, EV))
    opts = dict(opts)
    opts.setdefault("num_warps", warps)
    opts.setdefault("num_stages", stages)
    bm = _tile(SQ, int(opts.get("BLOCK_M", cm)))
    bn = _tile(SK, int(opts.get("BLOCK_N", cn)))
    if bm is None or bn is None:
        return _fallback("block size")
    try:
        gen = generate_cached(score_mod, block_mask.mask_mod, query.device)
    except Unsupported:
        return _fallback("untraceable mod")
    from ...autograd import grad_mode
    caps = gen["caps"]
    need = grad_mode.is_grad_enabled() and (query.requires_grad or key.requires_grad or value.requires_grad or
                                            any(c.requires_grad for c in caps))
    bcfg = _config(query.dtype == D.float32, max(E, EV), _BWD_CONFIGS)
    bwd = (_tile(SQ, bcfg[0]), _tile(SK, bcfg[1]), bcfg[2], bcfg[3]) if bcfg is not None else None
    fwd = (bm, bn, int(opts["num_warps"]), int(opts["num_stages"]), maxnreg[0] if maxnreg else None)
    call = _Call(gen, block_mask, scale, fwd, bwd)
    if not need:
        return call.forward(query, key, value)
    return FlexAttention.apply(call, score_mod, query, key, value, *caps)


class FlexAttention(Function):
    """A kernel call as an autograd Function; ``backward``: ``_backward`` (captured tensors get gradients)."""

    @staticmethod
    def forward(ctx, call, score_mod, q, k, v, *caps):
        ctx.call, ctx.score_mod = call, score_mod
        out, lse = call.forward(q, k, v)
        ctx.save_for_backward(q, k, v, out, lse)
        return out, lse

    @staticmethod
    def backward(ctx, dout, dlse):
        return (None, None) + _backward(ctx, dout, dlse, ctx.call, ctx.score_mod)


# Backward calls that ran the composite, by reason (tests read it): a score_mod without a derivative
# rule, a captured tensor that needs a gradient, create_graph, a key/value batch broadcast, no q tables,
# float32 past head dim 64 (see _BWD_CONFIGS).
_COMPOSITE_BACKWARD = {}


def _backward(ctx, dout, dlse, call, score_mod):
    """Gradients of (q, k, v, *caps): the backward kernels where they apply, else the composite
    recomputed and differentiated (see the module's docstring)."""
    from ...autograd import grad_mode, grad as _grad
    from .flex_attention import _reference
    q, k, v, out, lse = ctx.saved_tensors
    caps = call.gen["caps"]
    bmask = call.block_mask
    why = None
    if call.gen["dq"] is None:
        why = "score_mod derivative"
    elif any(c.requires_grad for c in caps) and (call.gen["sites"] is None or
                                                 any(c.requires_grad and not c.is_contiguous() for c in caps)):
        why = "captured tensor needs grad"
    elif grad_mode.is_grad_enabled():
        why = "create_graph"
    elif k.size(0) != q.size(0):
        why = "batch broadcast"
    elif call.bwd is None:
        why = "float32 head dim > 64"
    elif call.bwd[0] is None or call.bwd[1] is None:
        why = "block size"
    elif bmask.q_num_blocks is None or (bmask.full_kv_num_blocks is not None and bmask.full_q_num_blocks is None):
        why = "no q tables"
    if why is None:
        dq, dk, dv, dcaps = call.backward(q, k, v, out, lse, dout, dlse)
        return (dq if q.requires_grad else None, dk if k.requires_grad else None,
                dv if v.requires_grad else None) + tuple(dcaps)
    _COMPOSITE_BACKWARD[why] = _COMPOSITE_BACKWARD.get(why, 0) + 1
    with grad_mode.enable_grad():
        leaves = [t.detach().requires_grad_(t.requires_grad) for t in (q, k, v)]
        o, l_, _ = _reference(*leaves, score_mod, bmask, call.scale)
        # a tensor captured by both mods is an input twice: its gradient goes to the first
        firsts = [c.requires_grad and all(c is not d for d in caps[:i]) for i, c in enumerate(caps)]
        wrt = [t for t in leaves if t.requires_grad] + [c for c, f in zip(caps, firsts) if f]
        outs, gouts = [o], [dout]
        if dlse is not None:
            outs.append(l_)
            gouts.append(dlse)
        got = list(_grad(outs, wrt, gouts, allow_unused=True, create_graph=grad_mode.is_grad_enabled()))
    return tuple(got.pop(0) if f else None for f in [t.requires_grad for t in leaves] + firsts)


def _as3(t):
    return t.reshape((1,) * (3 - t.dim()) + tuple(t.shape))


def _as4(t):
    return t.reshape((1,) * (4 - t.dim()) + tuple(t.shape))


class _Call:
    """One flex_attention call's kernels and launch arguments (shared by its forward and backward)."""

    def __init__(self, gen, block_mask, scale, fwd, bwd):
        self.gen, self.block_mask, self.scale, self.fwd, self.bwd = gen, block_mask, scale, fwd, bwd

    def _tables(self, rows):
        """(num, idx, full num, full idx, HAS_FULL) of the kv (``rows`` "kv") or q lists."""
        bmk = self.block_mask
        num, idx = (bmk.kv_num_blocks, bmk.kv_indices) if rows == "kv" else (bmk.q_num_blocks, bmk.q_indices)
        fnum, fidx = (bmk.full_kv_num_blocks, bmk.full_kv_indices) if rows == "kv" else \
            (bmk.full_q_num_blocks, bmk.full_q_indices)
        num, idx = _as3(num), _as4(idx)
        has_full = fnum is not None
        fnum, fidx = (_as3(fnum), _as4(fidx)) if has_full else (num, idx)
        for t in (idx, fidx):
            if t.stride(-1) != 1:
                raise AssertionError("flex_attention: block index tables need a unit last stride")
        strides = _strides3(num) + _strides3(idx) + _strides3(fnum) + _strides3(fidx)
        return [num, idx, fnum, fidx], strides, has_full

    def _meta(self, E, EV, has_full, tiles):
        SQ, SK = self.block_mask.BLOCK_SIZE
        bm, bn, warps, stages = tiles[:4]
        meta = dict(E=E, EV=EV, BE=max(16, next_pow2(E)), BEV=max(16, next_pow2(EV)), BLOCK_M=bm, BLOCK_N=bn,
                    SPARSE_Q=min(SQ, 1 << 30), SPARSE_KV=min(SK, 1 << 30), HAS_FULL=has_full, PREC="ieee",
                    num_warps=warps, num_stages=stages)
        if len(tiles) > 4 and tiles[4] is not None:
            meta["maxnreg"] = tiles[4]
        return meta

    @staticmethod
    def _inputs(query, key, value):
        q, k, v = (t.detach() for t in (query, key, value))
        q, k, v = (t if t.stride(-1) == 1 else t.contiguous() for t in (q, k, v))
        kst = [k.stride(0) if k.size(0) > 1 else 0, k.stride(1), k.stride(2)]
        vst = [v.stride(0) if v.size(0) > 1 else 0, v.stride(1), v.stride(2)]
        return q, k, v, [q.stride(0), q.stride(1), q.stride(2)] + kst + vst

    def forward(self, query, key, value):
        import ttorch as T
        B, H, L, E = query.shape
        S, EV = key.size(2), value.size(3)
        out = T.empty((B, H, L, EV), dtype=query.dtype, device=query.device)
        lse = T.empty((B, H, L), dtype=D.float32, device=query.device)
        q, k, v, st = self._inputs(query, key, value)
        tables, tst, has_full = self._tables("kv")
        launch(self.gen["fwd"], (cdiv(L, self.fwd[0]), B * H), q, k, v, out, lse, *tables, *self.gen["cap_vals"], *st,
               out.stride(0), out.stride(1), out.stride(2), *tst, float(self.scale), H, H // key.size(1), L, S,
               **self._meta(E, EV, has_full, self.fwd))
        return out, lse

    def backward(self, query, key, value, out, lse, dout, dlse):
        import ttorch as T
        B, H, L, E = query.shape
        Hkv, S, EV = key.size(1), key.size(2), value.size(3)
        do = dout.detach()
        do = do if do.stride(-1) == 1 else do.contiguous()
        delta = (do.float() * out.detach().float()).sum(-1)
        if dlse is not None:
            delta = delta - dlse.detach().float()
        delta = delta.contiguous()
        lse = lse.detach().contiguous()
        q, k, v, st = self._inputs(query, key, value)
        dq = T.empty((B, H, L, E), dtype=query.dtype, device=query.device)
        G = H // Hkv
        # dK/dV per query head, summed over each group on the host (GQA: float32 for the sum)
        dk = T.empty((B, H, S, E), dtype=key.dtype if G == 1 else D.float32, device=key.device)
        dv = T.empty((B, H, S, EV), dtype=value.dtype if G == 1 else D.float32, device=value.device)
        dost = [do.stride(0), do.stride(1), do.stride(2)]
        caps = self.gen["cap_vals"]
        # captured tensors' gradients: float32 buffers the dQ kernel adds into at each load (a site)
        bufs, seen = {}, set()
        for j in self.gen["sites"] or ():
            t = self.gen["caps"][j]
            if id(t) not in seen and t.requires_grad:
                seen.add(id(t))
                bufs[j] = T.zeros(tuple(t.shape), dtype=D.float32, device=t.device)
        owner = {id(self.gen["caps"][j]): j for j in bufs}
        gps = [bufs[owner[id(self.gen["caps"][j])]] for j in self.gen["sites"] or ()]
        caps = list(caps) + gps
        tables, tst, has_full = self._tables("kv")
        launch(self.gen["dq"], (cdiv(L, self.bwd[0]), B * H), q, k, v, do, lse, delta, dq, *tables, *caps, *st,
               *dost, *tst, float(self.scale), H, H // Hkv, L, S, **self._meta(E, EV, has_full, self.bwd))
        tables, tst, has_full = self._tables("q")
        launch(self.gen["dkdv"], (cdiv(S, self.bwd[1]), B * H), q, k, v, do, lse, delta, dk, dv, *tables, *caps,
               *st, *dost, *tst, float(self.scale), H, G, L, S, **self._meta(E, EV, has_full, self.bwd))
        if G > 1:
            dk = dk.view(B, Hkv, G, S, E).sum(2).to(key.dtype)
            dv = dv.view(B, Hkv, G, S, EV).sum(2).to(value.dtype)
        dcaps = [bufs[j].to(t.dtype) if j in bufs else None for j, t in enumerate(self.gen["caps"])]
        return dq, dk, dv, dcaps
