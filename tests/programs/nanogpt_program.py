"""A tiny nanoGPT (character level) in plain PyTorch: token and position embeddings, pre-norm
blocks of causal self-attention and a GELU MLP, a tied language-model head, cross-entropy, and a
hand-written Adam loop. One attention variant masks the scores by hand with a ``tril`` buffer; the
other calls ``F.scaled_dot_product_attention(is_causal=True)``; both must agree.
tests/test_pytorch_programs.py runs it with ``import torch`` replaced by ``import ttorch as torch``;
the first argument is the device. The simulated GPU is slow, so on cuda it trains fewer steps."""
import math
import sys

import torch

nn, F = torch.nn, torch.nn.functional

device = sys.argv[1] if len(sys.argv) > 1 else "cpu"
torch.manual_seed(0)

text = "to be or not to be, that is the question. " * 4
chars = sorted(set(text))
stoi = {c: i for i, c in enumerate(chars)}
data = torch.tensor([stoi[c] for c in text], dtype=torch.long, device=device)
vocab_size, block_size, n_embd, n_head = len(chars), 8, 16, 2


class CausalSelfAttention(nn.Module):
    def __init__(self, flash):
        super().__init__()
        self.c_attn = nn.Linear(n_embd, 3 * n_embd)
        self.c_proj = nn.Linear(n_embd, n_embd)
        self.flash = flash
        if not flash:
            mask = torch.tril(torch.ones(block_size, block_size)).view(1, 1, block_size, block_size)
            self.register_buffer("bias", mask, persistent=False)

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(n_embd, dim=2)
        k = k.view(B, T, n_head, C // n_head).transpose(1, 2)  # (B, nh, T, hs)
        q = q.view(B, T, n_head, C // n_head).transpose(1, 2)
        v = v.view(B, T, n_head, C // n_head).transpose(1, 2)
        if self.flash:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))  # (B, nh, T, T)
            att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))
            att = F.softmax(att, dim=-1)
            y = att @ v  # (B, nh, T, hs)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)


class Block(nn.Module):
    def __init__(self, flash):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(flash)
        self.ln_2 = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(), nn.Linear(4 * n_embd, n_embd))

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, flash, n_layer=1):
        super().__init__()
        self.wte = nn.Embedding(vocab_size, n_embd)
        self.wpe = nn.Embedding(block_size, n_embd)
        self.h = nn.ModuleList([Block(flash) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embd)
        self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # weight tying
        self.apply(self._init_weights)

    def _init_weights(self, module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            torch.nn.init.zeros_(module.bias)

    def forward(self, idx, targets=None):
        B, T = idx.size()
        pos = torch.arange(0, T, dtype=torch.long, device=idx.device)
        x = self.wte(idx) + self.wpe(pos)  # (B, T, C)
        for block in self.h:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))  # (B, T, vocab)
        if targets is None:
            return logits, None
        return logits, F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


def get_batch(batch_size):
    ix = torch.randint(len(data) - block_size, (batch_size,), device=device)
    x = torch.stack([data[i:i + block_size] for i in ix.tolist()])
    y = torch.stack([data[i + 1:i + 1 + block_size] for i in ix.tolist()])
    return x, y


class Adam:
    """Adam with bias correction, as torch.optim.Adam computes it (no weight decay)."""

    def __init__(self, params, lr=1e-2, betas=(0.9, 0.999), eps=1e-8):
        self.params = list(params)
        self.lr, self.betas, self.eps, self.t = lr, betas, eps, 0
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]

    @torch.no_grad()
    def step(self):
        self.t += 1
        b1, b2 = self.betas
        for p, m, v in zip(self.params, self.m, self.v):
            m.mul_(b1).add_(p.grad, alpha=1 - b1)
            v.mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
            denom = (v / (1 - b2 ** self.t)).sqrt_().add_(self.eps)
            p.addcdiv_(m, denom, value=-self.lr / (1 - b1 ** self.t))

    def zero_grad(self):
        for p in self.params:
            p.grad = None


# The simulated GPU runs a step in tens of seconds: there, check less and train a few steps on one batch.
quick = device != "cpu"

# The two attention variants compute the same function: same weights, same logits.
manual, flash = GPT(flash=False).to(device), GPT(flash=True).to(device)
flash.load_state_dict(manual.state_dict())
assert len(list(manual.parameters())) == len(list(flash.parameters()))  # the tied weight counts once
idx, _ = get_batch(1 if quick else 2)
assert torch.allclose(manual(idx)[0], flash(idx)[0], atol=1e-5)

if not quick:
    # Causality: changing the last token must not change the logits of the earlier positions.
    idx2 = idx.clone()
    idx2[:, -1] = (idx2[:, -1] + 1) % vocab_size
    with torch.no_grad():
        a, b = flash(idx)[0], flash(idx2)[0]
    assert torch.allclose(a[:, :-1], b[:, :-1], atol=1e-6) and not torch.allclose(a[:, -1], b[:, -1])

# Train: the loss starts near log(vocab) and must fall below a fixed threshold (on cuda: fall on one batch).
for model in ([flash] if quick else [manual, flash]):
    torch.manual_seed(1)
    opt = Adam(model.parameters(), lr=2e-2)
    losses = []
    xb, yb = get_batch(1 if quick else 8)
    for step in range(2 if quick else 80):
        if not quick:
            xb, yb = get_batch(8)
        _, loss = model(xb, yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert abs(losses[0] - math.log(vocab_size)) < 0.3, losses[0]
    if quick:
        assert losses[-1] < losses[0] - 0.1, losses
    else:
        assert sum(losses[-10:]) / 10 < 1.4, (model.h[0].attn.flash, losses)
    print(f"flash={model.h[0].attn.flash} loss {losses[0]:.3f} -> {losses[-1]:.3f}")
print("ok", device)
