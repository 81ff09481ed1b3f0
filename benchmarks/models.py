"""End-to-end cases: one training step (forward, backward, optimizer) of an MLP, a small CNN and a
GPT-2-like transformer, written once in PyTorch's API and built with each framework module."""
from .cases import Case


def _optimizer(fw, params, lr):
    """AdamW when the framework has it; plain SGD under ``no_grad`` otherwise (older ttorch)."""
    optim = getattr(fw, "optim", None)
    if optim is not None and hasattr(optim, "AdamW"):
        opt = optim.AdamW(params, lr=lr)
        return opt.zero_grad, opt.step
    params = list(params)

    def zero():
        for p in params:
            p.grad = None

    def step():
        with fw.no_grad():
            for p in params:
                p -= lr * p.grad
    return zero, step


def _train_step(fw, model, make_batch, loss_fn):
    zero, step = _optimizer(fw, model.parameters(), 1e-4)
    x, y = make_batch()

    def run():
        zero()
        loss_fn(model(x), y).backward()
        step()
    return run


def _mlp(fw, dev, batch, width):
    nn = fw.nn
    fw.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                          nn.Linear(width, 10)).to(dev)
    return _train_step(fw, model, lambda: (fw.randn(batch, 784, device=dev), fw.randint(0, 10, (batch,), device=dev)),
                       nn.functional.cross_entropy)


def _cnn(fw, dev, batch):
    nn = fw.nn
    fw.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(64 * 8 * 8, 10)).to(dev)
    return _train_step(fw, model, lambda: (fw.randn(batch, 3, 32, 32, device=dev),
                                           fw.randint(0, 10, (batch,), device=dev)), nn.functional.cross_entropy)


def _gpt(fw, dev, batch, block, layers, dim, heads, vocab):
    nn, F = fw.nn, fw.nn.functional

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
            self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
            self.fc, self.out = nn.Linear(dim, 4 * dim), nn.Linear(4 * dim, dim)

        def forward(self, x):
            B, T, C = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(dim, dim=2)
            q, k, v = (t.view(B, T, heads, C // heads).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.proj(y.transpose(1, 2).contiguous().view(B, T, C))
            return x + self.out(F.gelu(self.fc(self.ln2(x))))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok, self.pos = nn.Embedding(vocab, dim), nn.Embedding(block, dim)
            self.blocks = nn.ModuleList(Block() for _ in range(layers))
            self.ln, self.head = nn.LayerNorm(dim), nn.Linear(dim, vocab, bias=False)

        def forward(self, idx):
            x = self.tok(idx) + self.pos(fw.arange(idx.shape[1], device=idx.device))
            for b in self.blocks:
                x = b(x)
            return self.head(self.ln(x))

    fw.manual_seed(0)
    model = GPT().to(dev)
    return _train_step(fw, model, lambda: (fw.randint(0, vocab, (batch, block), device=dev),
                                           fw.randint(0, vocab, (batch, block), device=dev)),
                       lambda logits, y: F.cross_entropy(logits.view(-1, vocab), y.view(-1)))


def e2e_cases(fws, dev, quick):
    cuda = dev == "cuda"
    each = lambda build: {n: (lambda m=m: build(m)) for n, m in fws.items()}  # noqa: E731
    mb, mw = (256, 1024) if cuda else (64, 256)
    cb = 128 if cuda else 8
    if cuda:
        g = dict(batch=8, block=1024, layers=4 if quick else 12, dim=768, heads=12, vocab=50304)
    else:
        g = dict(batch=4, block=64, layers=2, dim=128, heads=4, vocab=512)
    label = f"{g['layers']}x{g['dim']}, T={g['block']}, batch {g['batch']}"
    return [Case("e2e", f"MLP step 784-{mw}-{mw}-10, batch {mb}", each(lambda fw: _mlp(fw, dev, mb, mw)), tokens=mb),
            Case("e2e", f"CNN step 2 conv + BN, 32x32, batch {cb}", each(lambda fw: _cnn(fw, dev, cb)), tokens=cb),
            Case("e2e", f"GPT-2-like step {label}", each(lambda fw: _gpt(fw, dev, **g)),
                 tokens=g["batch"] * g["block"])]
