"""What the harness measures: op kernels, host cost per op, and whole training steps.

A case is written once against PyTorch's API and run with each framework module (``ttorch`` and,
when installed, ``torch``); NumPy gets its own version where it has the op (cpu only). Each case
knows the bytes it moves or the FLOPs it does, so the report can give GB/s or TFLOP/s and the
share of the card's peak.
"""
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Case:
    group: str                      # "ops", "host" or "e2e": the table section
    name: str                       # the row label
    setups: dict                    # framework name -> setup() returning the zero-argument fn to time
    bytes: float = None             # bytes moved per call (memory-bound ops)
    flops: float = None             # FLOPs per call (GEMMs, attention, convolution)
    kind: str = "float32"           # compute kind for the peak: float32, tf32, float16, bfloat16
    sweep: str = None               # plot series this case belongs to (size sweeps)
    size: float = None              # its x value in that plot
    tokens: int = None              # tokens per call (end-to-end steps: tokens/s)
    meta: dict = field(default_factory=dict)


def _each(fws, build):
    """``{fw name: setup}`` for every torch-like framework module."""
    return {n: (lambda m=m: build(m)) for n, m in fws.items()}


def _grad_step(fw, f, *inputs):
    """A fn running ``f`` forward and backward (fresh graph each call). The upstream gradient is made
    once, here: filled in the timed call, it added a pass over the output that the case's byte count
    leaves out (a softmax's or layer_norm's fwd+bwd moves 20 bytes an element, the fill 4 more)."""
    with fw.no_grad():
        g = fw.ones_like(f(*inputs))

    def step():
        for t in inputs:
            t.grad = None
        f(*inputs).backward(g)
    return step


# ------------------------------------------------------------------------------------ ops
def op_cases(fws, dev, quick):
    cuda = dev == "cuda"
    cases = []
    sizes = ([1 << 24] if quick else [1 << 20, 1 << 24, 1 << 26]) if cuda else \
        ([1 << 16] if quick else [1 << 16, 1 << 20])
    for n in sizes:
        def add(fw, n=n):
            a, b = fw.randn(n, device=dev), fw.randn(n, device=dev)
            return lambda: a + b
        setups = _each(fws, add)
        if not cuda:
            a, b = np.random.randn(n).astype(np.float32), np.random.randn(n).astype(np.float32)
            setups["numpy"] = lambda a=a, b=b: (lambda: a + b)
        cases.append(Case("ops", f"add fp32 {n:,}", setups, bytes=12 * n, sweep="add fp32", size=n))

        def gelu(fw, n=n):
            a = fw.randn(n, device=dev)
            return lambda: fw.nn.functional.gelu(a)
        cases.append(Case("ops", f"gelu fp32 {n:,}", _each(fws, gelu), bytes=8 * n))

        # random draws (ttorch on cuda: one Philox draw per 4 elements): a fill writes 4 bytes an element,
        # F.dropout reads x and writes the output and (ttorch) its mask: 12
        def randn(fw, n=n):
            return lambda: fw.randn(n, device=dev)
        cases.append(Case("ops", f"randn fp32 {n:,}", _each(fws, randn), bytes=4 * n))

        def dropout(fw, n=n):
            a = fw.randn(n, device=dev)
            return lambda: fw.nn.functional.dropout(a, 0.1)
        cases.append(Case("ops", f"dropout fp32 {n:,}", _each(fws, dropout), bytes=12 * n))

        def sum_(fw, n=n):
            a = fw.randn(n, device=dev)
            return lambda: a.sum()
        setups = _each(fws, sum_)
        if not cuda:
            setups["numpy"] = lambda a=np.random.randn(n).astype(np.float32): (lambda: a.sum())
        cases.append(Case("ops", f"sum fp32 {n:,}", setups, bytes=4 * n))

    rows, cols = (8192, 8192) if cuda and not quick else (4096, 4096) if cuda else (256, 1024)
    for name, fn in (("softmax", lambda F, x, w: F.softmax(x, -1)),
                     ("layer_norm", lambda F, x, w: F.layer_norm(x, (cols,), w, w)),
                     ("rms_norm", lambda F, x, w: F.rms_norm(x, (cols,), w))):
        def build(fw, fn=fn):
            x, w = fw.randn(rows, cols, device=dev), fw.ones(cols, device=dev)
            return lambda: fn(fw.nn.functional, x, w)

        def build_bw(fw, fn=fn):
            x = fw.randn(rows, cols, device=dev, requires_grad=True)
            w = fw.ones(cols, device=dev, requires_grad=True)
            return _grad_step(fw, lambda x, w: fn(fw.nn.functional, x, w), x, w)
        cases.append(Case("ops", f"{name} fp32 {rows}x{cols}", _each(fws, build), bytes=8 * rows * cols))
        cases.append(Case("ops", f"{name} fwd+bwd fp32 {rows}x{cols}", _each(fws, build_bw),
                          bytes=20 * rows * cols))

    # reductions along a strided dim: softmax over the channels of (B, C, H*W) (a segmentation head's),
    # and a bias gradient's sum over the rows of (tokens, features)
    b, c, hw = (32, 64, 4096) if cuda else (4, 64, 256)

    def softmax_strided(fw):
        x = fw.randn(b, c, hw, device=dev)
        return lambda: fw.nn.functional.softmax(x, 1)
    cases.append(Case("ops", f"softmax dim 1 fp32 {b}x{c}x{hw}", _each(fws, softmax_strided), bytes=8 * b * c * hw))
    tokens, feats = (8192, 3072) if cuda else (1024, 768)

    def sum_rows(fw):
        g = fw.randn(tokens, feats, device=dev)
        return lambda: g.sum(0)
    setups = _each(fws, sum_rows)
    if not cuda:
        setups["numpy"] = lambda g=np.random.randn(tokens, feats).astype(np.float32): (lambda: g.sum(0))
    cases.append(Case("ops", f"sum dim 0 fp32 {tokens}x{feats}", setups, bytes=4 * tokens * feats))
    # a segmentation loss: classes along dim 1 of (B, C, H, W), forward and backward
    sb, sc, sh = (16, 21, 256) if cuda else (2, 21, 32)

    def ce_spatial_bw(fw):
        x = fw.randn(sb, sc, sh, sh, device=dev, requires_grad=True)
        t = fw.randint(0, sc, (sb, sh, sh), device=dev)
        return _grad_step(fw, lambda x: fw.nn.functional.cross_entropy(x, t), x)
    cases.append(Case("ops", f"cross_entropy fwd+bwd fp32 {sb}x{sc}x{sh}x{sh}", _each(fws, ce_spatial_bw),
                      bytes=12 * sb * sc * sh * sh))

    vocab = 32768 if cuda else 4096
    toks = (4096 if quick else 8192) if cuda else 64

    def ce(fw):
        x, t = fw.randn(toks, vocab, device=dev), fw.randint(0, vocab, (toks,), device=dev)
        return lambda: fw.nn.functional.cross_entropy(x, t)

    def ce_bw(fw):
        x, t = fw.randn(toks, vocab, device=dev, requires_grad=True), fw.randint(0, vocab, (toks,), device=dev)
        return _grad_step(fw, lambda x: fw.nn.functional.cross_entropy(x, t), x)
    cases.append(Case("ops", f"cross_entropy fp32 {toks}x{vocab}", _each(fws, ce), bytes=4 * toks * vocab))
    cases.append(Case("ops", f"cross_entropy fwd+bwd fp32 {toks}x{vocab}", _each(fws, ce_bw),
                      bytes=12 * toks * vocab))
    cases += optimizer_cases(fws, dev, quick)
    cases += matmul_cases(fws, dev, quick)
    cases += conv_attention_cases(fws, dev, quick)
    return cases


def optimizer_cases(fws, dev, quick, shapes=None):
    """AdamW's step over a model's worth of float32 parameters, each framework's default update (on
    cuda PyTorch's is foreach: several passes; ours one many-tensor launch). It reads the parameter,
    its gradient and both moments and writes the parameter and the moments: 28 bytes a parameter.
    ``shapes``: the parameters' shapes instead of the harness's."""
    cuda = dev == "cuda"
    if shapes is None and cuda:
        shapes = [(4096, 1024), (1024, 4096), (2048, 2048), (1024, 1024)] if quick else \
            [(8192, 4096), (4096, 4096), (4096, 8192), (4096,), (11008, 4096)]
    elif shapes is None:
        shapes = [(256, 64), (64, 256), (64,)] if quick else [(1024, 256), (256, 1024), (512, 512), (256,)]
    n = sum(int(np.prod(s)) for s in shapes)

    def adamw(fw):
        params = [fw.randn(*s, device=dev).requires_grad_() for s in shapes]
        for p in params:
            p.grad = fw.randn(*p.shape, device=dev)
        opt = fw.optim.AdamW(params, lr=1e-4)
        return opt.step
    setups = _each(fws, adamw)
    if not cuda:
        rng = np.random.default_rng(0)
        ps = [rng.standard_normal(s, dtype=np.float32) for s in shapes]
        gs = [rng.standard_normal(s, dtype=np.float32) for s in shapes]
        ms, vs = [np.zeros_like(p) for p in ps], [np.zeros_like(p) for p in ps]

        def numpy_adamw(lr=1e-4, b1=0.9, b2=0.999, eps=1e-8, wd=1e-2, state=[0]):
            state[0] += 1
            c1, c2 = 1 - b1 ** state[0], 1 - b2 ** state[0]
            for p, g, m, v in zip(ps, gs, ms, vs):
                p *= 1 - lr * wd
                m *= b1
                m += (1 - b1) * g
                v *= b2
                v += (1 - b2) * g * g
                p -= (lr / c1) * m / (np.sqrt(v / c2) + eps)
        setups["numpy"] = lambda: numpy_adamw
    return [Case("ops", f"adamw step fp32 {n:,} params, {len(shapes)} tensors", setups, bytes=28 * n)]


def matmul_cases(fws, dev, quick):
    cuda = dev == "cuda"
    cases = []
    if cuda:
        kinds = ("float32", "tf32", "float16", "bfloat16")
        squares = (1024, 4096) if quick else (512, 1024, 2048, 4096, 8192)
        llm = [] if quick else [(4096, 4096, 11008), (4096, 11008, 4096)]
    else:
        kinds = ("float32",)
        squares = (128, 256) if quick else (128, 256, 512, 1024)
        llm = []
    shapes = [(s, s, s) for s in squares] + llm
    for kind in kinds:
        for m, k, n in shapes:
            def build(fw, m=m, k=k, n=n, kind=kind):
                dt = getattr(fw, "float32" if kind == "tf32" else kind)
                a, b = fw.randn(m, k, device=dev).to(dt), fw.randn(k, n, device=dev).to(dt)
                tf32 = kind == "tf32"

                def mm():
                    fw.backends.cuda.matmul.allow_tf32 = tf32
                    return a @ b
                return mm if hasattr(fw, "backends") else (lambda: a @ b)
            setups = _each(fws, build)
            if kind == "tf32" and not hasattr(fws.get("ttorch"), "backends"):
                continue                    # no TF32 switch in this ttorch
            if not cuda:
                a, b = np.random.randn(m, k).astype(np.float32), np.random.randn(k, n).astype(np.float32)
                setups["numpy"] = lambda a=a, b=b: (lambda: a @ b)
            square = m == k == n
            label = f"matmul {kind} {m}^3" if square else f"matmul {kind} {m}x{k}x{n}"
            cases.append(Case("ops", label, setups, flops=2 * m * k * n, kind=kind,
                              sweep=f"matmul {kind}" if square else None, size=m if square else None))
    return cases


def conv_attention_cases(fws, dev, quick):
    cuda = dev == "cuda"
    cases = []
    n, c, hw, oc = (32, 64, 56, 64) if cuda else (4, 16, 16, 16)
    kind = "float16" if cuda else "float32"

    def conv(fw):
        dt = getattr(fw, kind)
        x = fw.randn(n, c, hw, hw, device=dev).to(dt)
        w = fw.randn(oc, c, 3, 3, device=dev).to(dt)
        return lambda: fw.nn.functional.conv2d(x, w, padding=1)
    cases.append(Case("ops", f"conv2d {kind} {n}x{c}x{hw}x{hw} -> {oc}, 3x3", _each(fws, conv),
                      flops=2 * n * oc * hw * hw * c * 9, kind=kind))
    b, h, t = (4, 16, 2048 if not quick else 1024) if cuda else (1, 4, 128)
    for d in (64, 128):
        def sdpa(fw, d=d, bw=False, p=0.0):
            dt = getattr(fw, kind)
            q, k, v = (fw.randn(b, h, t, d, device=dev).to(dt).requires_grad_(bw) for _ in range(3))
            f = lambda q, k, v: fw.nn.functional.scaled_dot_product_attention(q, k, v, dropout_p=p,  # noqa: E731
                                                                              is_causal=True)
            return _grad_step(fw, f, q, k, v) if bw else (lambda: f(q, k, v))
        flops = 2 * 2 * b * h * t * t * d / 2          # two GEMMs, half the scores masked
        cases.append(Case("ops", f"sdpa causal {kind} B{b} H{h} T{t} D{d}", _each(fws, sdpa), flops=flops,
                          kind=kind))
        cases.append(Case("ops", f"sdpa causal fwd+bwd {kind} B{b} H{h} T{t} D{d}",
                          _each(fws, lambda fw, d=d: sdpa(fw, d, True)), flops=3.5 * flops, kind=kind))
        if d == 64:     # a training step's attention with dropout (ttorch on cuda: the mask drawn once, kept as bits)
            cases.append(Case("ops", f"sdpa causal dropout 0.1 fwd+bwd {kind} B{b} H{h} T{t} D{d}",
                              _each(fws, lambda fw, d=d: sdpa(fw, d, True, 0.1)), flops=3.5 * flops, kind=kind))
    return cases


# ------------------------------------------------------------------------------------ host cost
def host_cases(fws, dev):
    def one(fw):
        a = fw.ones(1, device=dev)
        return lambda: a + a

    def small_bw(fw):
        x = fw.ones(4, device=dev, requires_grad=True)

        def f():
            x.grad = None
            (x * x).sum().backward()
        return f
    setups = _each(fws, one)
    if dev == "cpu":
        a = np.ones(1, np.float32)
        setups["numpy"] = lambda: (lambda: a + a)
    return [Case("host", "1-element add", setups), Case("host", "(x * x).sum().backward(), 4 elements",
                                                        _each(fws, small_bw))]
