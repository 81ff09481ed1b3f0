"""A modern decoder-only LM block in plain PyTorch: RMSNorm, rotary position embeddings through
``torch.polar`` / ``view_as_complex`` (checked against the cos/sin form), grouped-query attention
with ``F.scaled_dot_product_attention(enable_gqa=True)`` (checked against ``repeat_interleave``),
a SwiGLU MLP, tied embeddings, ``model.apply(init_fn)``, a KV cache for incremental decoding that
must match the full forward, top-k / multinomial sampling with a seeded generator, and a state_dict
round trip through ``torch.save`` / ``torch.load(weights_only=True)``.
tests/test_pytorch_programs.py runs it with ``import ttorch as torch``; the first argument is the
device, the second a number of training steps."""
import io
import math
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

device = sys.argv[1] if len(sys.argv) > 1 else "cpu"
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 60
quick = steps < 60
torch.manual_seed(0)
VOCAB, DIM, N_HEAD, N_KV, MAX_T = 12, 32, 4, 2, 16
HEAD = DIM // N_HEAD


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.eps, self.weight = eps, nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_freqs(head_dim, T, theta=10000.0):
    """Complex rotations e^{i t w_k}: (T, head_dim // 2)."""
    w = 1.0 / theta ** (torch.arange(0, head_dim, 2).float() / head_dim)
    angles = torch.outer(torch.arange(T).float(), w)
    return torch.polar(torch.ones_like(angles), angles)


def apply_rope(x, freqs):
    """x: (B, nh, T, hs) rotated pairwise by freqs (T, hs // 2), through complex multiplication."""
    xc = torch.view_as_complex(x.float().reshape(*x.shape[:-1], -1, 2))
    return torch.view_as_real(xc * freqs).flatten(-2).type_as(x)


def apply_rope_real(x, freqs):
    """The same rotation written with cos and sin of the interleaved pairs."""
    cos, sin = freqs.real, freqs.imag
    x1, x2 = x[..., 0::2], x[..., 1::2]
    return torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1).flatten(-2)


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.wq = nn.Linear(DIM, N_HEAD * HEAD, bias=False)
        self.wkv = nn.Linear(DIM, 2 * N_KV * HEAD, bias=False)
        self.wo = nn.Linear(N_HEAD * HEAD, DIM, bias=False)

    def forward(self, x, freqs, cache=None, gqa=True):
        B, T, _ = x.shape
        q = self.wq(x).view(B, T, N_HEAD, HEAD).transpose(1, 2)  # (B, nh, T, hs)
        k, v = self.wkv(x).view(B, T, 2, N_KV, HEAD).permute(2, 0, 3, 1, 4)  # each (B, nkv, T, hs)
        q, k = apply_rope(q, freqs), apply_rope(k, freqs)
        if cache is not None:
            if "k" in cache:
                k, v = torch.cat([cache["k"], k], dim=2), torch.cat([cache["v"], v], dim=2)
            cache["k"], cache["v"] = k, v
        causal = cache is None or T > 1
        if gqa:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=True)
        else:
            k, v = k.repeat_interleave(N_HEAD // N_KV, dim=1), v.repeat_interleave(N_HEAD // N_KV, dim=1)
            y = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        return self.wo(y.transpose(1, 2).reshape(B, T, DIM))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn_norm, self.attn = RMSNorm(DIM), Attention()
        self.mlp_norm = RMSNorm(DIM)
        self.w1, self.w3 = nn.Linear(DIM, 64, bias=False), nn.Linear(DIM, 64, bias=False)
        self.w2 = nn.Linear(64, DIM, bias=False)

    def forward(self, x, freqs, cache=None, gqa=True):
        x = x + self.attn(self.attn_norm(x), freqs, cache, gqa)
        h = self.mlp_norm(x)
        return x + self.w2(F.silu(self.w1(h)) * self.w3(h))  # SwiGLU


class LM(nn.Module):
    def __init__(self, n_layer=2):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, DIM)
        self.layers = nn.ModuleList(Block() for _ in range(n_layer))
        self.norm = RMSNorm(DIM)
        self.head = nn.Linear(DIM, VOCAB, bias=False)
        self.head.weight = self.embed.weight                      # tied embeddings
        self.register_buffer("freqs", rope_freqs(HEAD, MAX_T), persistent=False)
        self.apply(self._init)

    @staticmethod
    def _init(module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.05)

    def forward(self, idx, caches=None, start=0, gqa=True):
        x = self.embed(idx)
        freqs = self.freqs[start:start + idx.shape[1]]
        for i, layer in enumerate(self.layers):
            x = layer(x, freqs, None if caches is None else caches[i], gqa)
        return self.head(self.norm(x))


# Rotary embeddings: complex and real forms agree, and rotations keep norms.
freqs = rope_freqs(HEAD, 5)
assert freqs.dtype == torch.complex64 and freqs.shape == (5, HEAD // 2)
x = torch.randn(2, N_HEAD, 5, HEAD)
assert torch.allclose(apply_rope(x, freqs), apply_rope_real(x, freqs), atol=1e-5)
assert torch.allclose(apply_rope(x, freqs).norm(dim=-1), x.norm(dim=-1), atol=1e-5)
# RMSNorm: unit root mean square.
assert torch.allclose(RMSNorm(DIM)(x.reshape(-1, HEAD).repeat(1, 4)).pow(2).mean(-1), torch.ones(40), atol=1e-4)

model = LM().to(device)
assert model.head.weight is model.embed.weight and len(list(model.parameters())) == 2 * 8 + 2
assert abs(model.embed.weight.std().item() - 0.05) < 0.01
idx = torch.randint(0, VOCAB, (2, 6), device=device)
with torch.no_grad():
    assert torch.allclose(model(idx), model(idx, gqa=False), atol=1e-5)       # enable_gqa == repeat_interleave

# Train on a counting sequence: next token = (token + 1) mod VOCAB.
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.01)
losses = []
for step in range(steps):
    start = torch.randint(0, VOCAB, (8, 1))
    seq = ((start + torch.arange(MAX_T)) % VOCAB).to(device)
    logits = model(seq[:, :-1])
    loss = F.cross_entropy(logits.reshape(-1, VOCAB), seq[:, 1:].reshape(-1))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
print(f"loss {losses[0]:.3f} -> {losses[-1]:.3f}")
assert abs(losses[0] - math.log(VOCAB)) < 0.5 and losses[-1] < losses[0]
if not quick:
    assert losses[-1] < 0.1, losses[-10:]

# KV cache: a prompt then one token at a time gives the logits of the full forward.
model.eval()
prompt = torch.tensor([[3, 4, 5]], device=device)
with torch.no_grad():
    caches = [{} for _ in model.layers]
    out = [model(prompt, caches)[:, -1]]
    tokens = prompt
    for t in range(3):
        nxt = out[-1].argmax(-1, keepdim=True)
        tokens = torch.cat([tokens, nxt], dim=1)
        out.append(model(nxt, caches, start=tokens.shape[1] - 1)[:, -1])
    full = model(tokens)
assert caches[0]["k"].shape == (1, N_KV, 6, HEAD)
for t, o in enumerate(out):
    assert torch.allclose(o, full[:, 2 + t], atol=1e-4)
if not quick:
    assert tokens.tolist() == [[3, 4, 5, 6, 7, 8]]

# Sampling: top-k then multinomial with a seeded generator is reproducible and stays in the top k.
def sample(logits, k, generator):
    values, indices = torch.topk(logits, k, dim=-1)
    probs = F.softmax(values / 0.8, dim=-1)
    choice = torch.multinomial(probs, num_samples=4, replacement=True, generator=generator)
    return torch.gather(indices, -1, choice)


logits = full[:, -1]
draws = [sample(logits, 3, torch.Generator(device=device).manual_seed(5)) for _ in range(2)]
assert torch.equal(draws[0], draws[1]) and draws[0].shape == (1, 4)
assert set(draws[0].flatten().tolist()) <= set(torch.topk(logits, 3).indices.flatten().tolist())

# The state_dict round trip through bytes; weights_only=True loads plain tensors.
buffer = io.BytesIO()
torch.save(model.state_dict(), buffer)
buffer.seek(0)
state = torch.load(buffer, weights_only=True, map_location=device)
assert "freqs" not in state and "head.weight" in state
clone = LM().to(device)
clone.load_state_dict(state)
assert clone.head.weight is clone.embed.weight
with torch.no_grad():
    assert torch.equal(clone(tokens), full)
print("ok", device)
