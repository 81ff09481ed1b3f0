"""An encoder-decoder Transformer in plain PyTorch learns to reverse short digit sequences:
``nn.Transformer`` (batch_first) with a causal target mask from ``generate_square_subsequent_mask``,
source and target key padding masks for variable lengths, teacher forcing while training and a
greedy decoding loop under ``torch.inference_mode`` afterwards, checked against the incremental
decoder run under ``torch.no_grad``. tests/test_pytorch_programs.py runs it with
``import ttorch as torch``; the first argument is the device, the second a number of steps."""
import math
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

device = sys.argv[1] if len(sys.argv) > 1 else "cpu"
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 200
quick = steps < 200
torch.manual_seed(0)
PAD, BOS, EOS, DIGITS = 0, 1, 2, 6          # tokens 3..8 are the digits
VOCAB, MAX_LEN, DIM = 3 + DIGITS, 4, 32


def batch(n):
    """Random digit strings of length 2..MAX_LEN; targets are the reversed strings, BOS ... EOS, padded."""
    lengths = torch.randint(2, MAX_LEN + 1, (n,))
    src = torch.full((n, MAX_LEN), PAD, dtype=torch.long)
    tgt = torch.full((n, MAX_LEN + 2), PAD, dtype=torch.long)
    for i, length in enumerate(lengths.tolist()):
        digits = torch.randint(3, 3 + DIGITS, (length,))
        src[i, :length] = digits
        tgt[i, 0] = BOS
        tgt[i, 1:length + 1] = digits.flip(0)
        tgt[i, length + 1] = EOS
    return src.to(device), tgt.to(device)


class Seq2Seq(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, DIM, padding_idx=PAD)
        self.pos = nn.Embedding(MAX_LEN + 2, DIM)
        self.transformer = nn.Transformer(DIM, nhead=4, num_encoder_layers=1, num_decoder_layers=1,
                                          dim_feedforward=64, dropout=0.0, batch_first=True)
        self.out = nn.Linear(DIM, VOCAB)

    def embed_tokens(self, tokens):
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        return self.embed(tokens) * math.sqrt(DIM) + self.pos(positions)

    def forward(self, src, tgt_in):
        T = tgt_in.shape[1]
        tgt_mask = nn.Transformer.generate_square_subsequent_mask(T, device=src.device)  # (T, T), -inf above
        h = self.transformer(self.embed_tokens(src), self.embed_tokens(tgt_in), tgt_mask=tgt_mask,
                             src_key_padding_mask=src == PAD, tgt_key_padding_mask=tgt_in == PAD,
                             memory_key_padding_mask=src == PAD, tgt_is_causal=True)
        return self.out(h)  # (B, T, VOCAB)

    def greedy(self, src, steps):
        memory = self.transformer.encoder(self.embed_tokens(src), src_key_padding_mask=src == PAD)
        ys = torch.full((src.shape[0], 1), BOS, dtype=torch.long, device=src.device)
        for _ in range(steps):
            mask = nn.Transformer.generate_square_subsequent_mask(ys.shape[1], device=src.device)
            h = self.transformer.decoder(self.embed_tokens(ys), memory, tgt_mask=mask,
                                         memory_key_padding_mask=src == PAD)
            next_token = self.out(h[:, -1]).argmax(-1, keepdim=True)
            ys = torch.cat([ys, next_token], dim=1)
        return ys


mask = nn.Transformer.generate_square_subsequent_mask(3)
assert mask.dtype == torch.float32 and mask[0, 1] == float("-inf") and mask[1, 0] == 0 and mask.diagonal().eq(0).all()

model = Seq2Seq().to(device)
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
losses = []
src, tgt = batch(4)
for step in range(steps):
    if not quick:
        src, tgt = batch(64)
    logits = model(src, tgt[:, :-1])                                   # teacher forcing
    loss = F.cross_entropy(logits.reshape(-1, VOCAB), tgt[:, 1:].reshape(-1), ignore_index=PAD)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
print(f"loss {losses[0]:.3f} -> {losses[-1]:.3f}")
assert all(math.isfinite(v) for v in losses)
if quick:
    assert losses[-1] < losses[0], losses
else:
    assert sum(losses[-10:]) / 10 < 0.3, losses[-10:]

# Padding must not leak: the same source with more trailing padding gives the same decoder output.
model.eval()
src, tgt = batch(2 if quick else 32)
if not quick:                                                          # (the simulated GPU is slow)
    with torch.no_grad():
        short = model(src, tgt[:, :-1])
        longer = model(torch.cat([src, torch.zeros_like(src[:, :2])], dim=1), tgt[:, :-1])
    assert torch.allclose(short, longer, atol=1e-5)
with torch.inference_mode():
    decoded = model.greedy(src, MAX_LEN + 1)
assert decoded.shape == (src.shape[0], MAX_LEN + 2) and not decoded.requires_grad
with torch.no_grad():
    teacher = model(src, decoded[:, :-1]).argmax(-1)                    # one parallel pass reproduces
assert torch.equal(teacher, decoded[:, 1:])                            # the incremental greedy decoding
if not quick:
    keep = tgt != PAD
    accuracy = (decoded == tgt)[keep].float().mean().item()           # tokens up to EOS
    assert accuracy >= 0.9, (accuracy, decoded, tgt)
print("ok", device)
