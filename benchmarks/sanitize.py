"""A small pass over the kernels, each result checked against the cpu device, for a memory checker:

    PYTHONPATH=. compute-sanitizer --tool memcheck --error-exitcode 1 python3 benchmarks/sanitize.py

Shapes are tiny and ragged (edge masks on every axis) and each kernel path runs once, the paths
only a big problem would take among them (split K, the few-channel convolution loops, the strided
reduction split, float32 attention's transposed copies, TF32's K-major copies): the checker slows
every kernel down a hundredfold. Exit status 1 when a result differs from the cpu device's; the checker's own exit
status when it finds a bad access."""
import sys

import numpy as np

import ttorch
import ttorch.nn.functional as F
from ttorch.ops import attention, gemm, reduction


def _tensors(seed=0):
    """``t(*shape, dtype)``: uniform values in [-1, 1), the same sequence for each device's run."""
    r = np.random.default_rng(seed)
    return lambda *shape, dtype=ttorch.float32: ttorch.tensor(r.uniform(-1, 1, size=shape), dtype=dtype)


def _cases():
    yield "add, strided add, gelu", lambda d, t: (t(33, 17).to(d) + t(17).to(d), t(17, 33).to(d).mT * 2,
                                                 F.gelu(t(45).to(d)))
    yield "split-K addmm float32/float16/float64", lambda d, t: tuple(
        ttorch.addmm(t(19, 10, dtype=dt).to(d), t(19, 300, dtype=dt).to(d), t(300, 10, dtype=dt).to(d), beta=0.5,
                     alpha=-2) for dt in (ttorch.float32, ttorch.float16, ttorch.float64))
    yield "linear with a transposed weight, bias, relu", lambda d, t: (
        ttorch.ops.linear.linear_act(t(37, 24).to(d), t(18, 24).to(d), t(18).to(d), activation="relu"),)
    yield "matmul, batched", lambda d, t: (t(3, 21, 9).to(d) @ t(9, 14).to(d), t(2, 5, 7).to(d) @ t(2, 7, 3).to(d))
    yield "transposing copies by tiles", lambda d, t: (t(37, 45).to(d).t().contiguous(),
                                                       t(3, 20, 33).to(d).transpose(1, 2).contiguous(),
                                                       t(70, 18, dtype=ttorch.float16).to(d).t().contiguous())

    def tf32(d, t):                                   # Hopper: B and a transposed A copied K-major first
        old = ttorch.backends.cuda.matmul.allow_tf32
        ttorch.backends.cuda.matmul.allow_tf32 = True
        try:
            return t(40, 37).to(d) @ t(37, 29).to(d), t(37, 40).to(d).t() @ t(29, 37).to(d).t()
        finally:
            ttorch.backends.cuda.matmul.allow_tf32 = old
    yield "tf32 matmul, K-major copies", tf32

    def conv(d, t):
        out = []
        for cin in (3, 16):                           # the (channel, tap) loops, then taps outside
            x, w = t(2, cin, 9, 7).to(d), t(5, cin, 3, 3).to(d).requires_grad_()
            y = F.conv2d(x, w, padding=1)
            y.sum().backward()
            out += [y, w.grad]
        return tuple(out)
    yield "conv2d forward and weight gradient", conv

    def attn(d, t):
        out = []
        for dt in (ttorch.float32, ttorch.float16):
            q, k, v = (t(1, 2, 37, 24, dtype=dt).to(d).requires_grad_() for _ in range(3))
            o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            o.float().sum().backward()
            out += [o.float(), q.grad.float(), k.grad.float(), v.grad.float()]
        return tuple(out)
    yield "flash attention forward and backward", attn

    def attn_drop(d, t):            # a fixed Philox pair: the same mask on both devices
        q, k, v = (t(1, 2, 37, 24).to(d).requires_grad_() for _ in range(3))
        o = attention.flash_attention(q, k, v, is_causal=True, dropout_p=0.2, philox=(3, 64))[0]
        o.sum().backward()
        return o, q.grad, k.grad, v.grad
    yield "flash attention with dropout", attn_drop
    yield "reductions: strided split, full, softmax", lambda d, t: (t(600, 7).to(d).sum(0), t(4000).to(d).sum(),
                                                                    t(5, 300).to(d).softmax(1))

    def norms(d, t):
        x = t(6, 40).to(d).requires_grad_()
        y = F.layer_norm(x, (40,))
        y.sum().backward()
        img = t(3, 4, 5, 6).to(d).requires_grad_()
        b = F.batch_norm(img, ttorch.zeros(4, device=d), ttorch.ones(4, device=d), training=True)
        p = F.max_pool2d(b, 2)
        p.sum().backward()
        ce = F.cross_entropy(t(7, 11).to(d), ttorch.tensor([0, 3, 10, 2, 1, 5, 9], device=d))
        return y, x.grad, b, p, img.grad, ce
    yield "layer norm, batch norm, max pool, cross entropy", norms


def main():
    attention._T_COPY_MIN_READS = 1                   # tiny shapes take the transposed copies too
    reduction.SPLIT_CHUNK_STRIDED = min(reduction.SPLIT_CHUNK_STRIDED, 64)
    gemm._TF32_K_MAJOR_FROM = 16
    bad = 0
    for name, fn in _cases():
        got = [a.detach().cpu().double().numpy() for a in fn("cuda", _tensors())]
        want = [a.detach().double().numpy() for a in fn("cpu", _tensors())]
        ok = len(got) == len(want) and all(np.allclose(g, w, rtol=2e-2, atol=2e-2) for g, w in zip(got, want))
        bad += not ok
        print(f"{'ok  ' if ok else 'DIFF'} {name}", flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
