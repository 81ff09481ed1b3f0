"""A PyTorch program: an LSTM and a GRU sequence model each learn whether a sequence of digits has
more 1s than 0s (a task the last hidden state must count for), with torch.optim.Adam and gradient
clipping; both must reach a fixed loss, then survive a state_dict round trip.
tests/test_pytorch_programs.py runs it with ``import ttorch as torch``."""
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

device = sys.argv[1] if len(sys.argv) > 1 else "cpu"
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 120    # fewer for a quick smoke run
full = steps >= 100
batch, seq_len, layers = (32, 12, 2) if full else (4, 3, 1)     # the smoke run stays small on simulated cuda
torch.manual_seed(0)


def batch_of(n):
    x = torch.randint(0, 3, (n, seq_len))                        # tokens 0, 1, 2 (2 is noise)
    y = ((x == 1).sum(1) > (x == 0).sum(1)).long()
    return x.to(device), y.to(device)


class SeqClassifier(nn.Module):
    def __init__(self, cell):
        super().__init__()
        self.embed = nn.Embedding(3, 8)
        self.rnn = cell(8, 16, num_layers=layers, batch_first=True, dropout=0.0)
        self.head = nn.Linear(16, 2)

    def forward(self, x):
        out, _ = self.rnn(self.embed(x))                           # (B, T, 16)
        return self.head(out[:, -1])


for cell in (nn.LSTM, nn.GRU):
    model = SeqClassifier(cell).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for step in range(steps):
        x, y = batch_of(batch)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    x, y = batch_of(256 if full else 8)
    model.eval()
    with torch.no_grad():
        logits = model(x)
        final = F.cross_entropy(logits, y).item()
        acc = (logits.argmax(1) == y).float().mean().item()
    if full:
        assert final < 0.35 and acc > 0.85, (cell.__name__, final, acc)
    clone = SeqClassifier(cell).to(device)
    clone.load_state_dict(model.state_dict())
    clone.eval()
    with torch.no_grad():
        assert torch.equal(clone(x), logits)
    print(f"{cell.__name__}: loss {final:.4f}, accuracy {acc:.3f}")
print(f"ok {device}")
