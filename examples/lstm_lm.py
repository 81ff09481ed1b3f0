"""Train a character-level LSTM language model on the documentation that CPython ships.

Plain PyTorch code run by ttorch (``import ttorch as torch``), in the manner of PyTorch's
word_language_model example: the text is cut into ``batch_size`` parallel streams, the LSTM reads
them ``block_size`` characters at a time and carries its hidden state across chunks (detached:
truncated backpropagation through time), gradients are clipped with ``clip_grad_norm_``, Adam
with ``StepLR``. Prints loss and perplexity, then a sample generated one character at a time.

    python examples/lstm_lm.py                     # cpu, a few minutes on 2 cores
    python examples/lstm_lm.py --device cuda --steps 2000 --hidden-size 512 --num-layers 2
"""
import argparse
import math
import sys
import time

import _text
import ttorch as torch
import ttorch.nn as nn
import ttorch.nn.functional as F
from ttorch.optim.lr_scheduler import StepLR


class LSTMLanguageModel(nn.Module):
    """Embedding, a stacked LSTM, a linear head over the vocabulary."""

    def __init__(self, vocab_size, embed_size=64, hidden_size=256, num_layers=1, dropout=0.0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.lstm = nn.LSTM(embed_size, hidden_size, num_layers, batch_first=True,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, idx, hidden=None):
        x = self.drop(self.embedding(idx))                      # (B, T, E)
        out, hidden = self.lstm(x, hidden)                      # (B, T, H); (h, c) each (layers, B, H)
        return self.head(self.drop(out)), hidden                # (B, T, vocab)

    @torch.no_grad()
    def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None):
        """Extend ``idx`` (B, T): read the prompt once, then feed back one sampled character at a time."""
        logits, hidden = self(idx)
        for _ in range(max_new_tokens):
            logits = logits[:, -1, :] / temperature             # (B, vocab)
            if top_k is not None:
                v, _ = torch.topk(logits, min(top_k, logits.size(-1)))
                logits[logits < v[:, [-1]]] = -float("inf")
            next_id = torch.multinomial(F.softmax(logits, dim=-1), num_samples=1)  # (B, 1)
            idx = torch.cat((idx, next_id), dim=1)
            logits, hidden = self(next_id, hidden)
        return idx


def batchify(data, batch_size, device):
    """Cut a 1-D id tensor into ``batch_size`` contiguous streams: (batch_size, N)."""
    n = len(data) // batch_size
    return data[:n * batch_size].view(batch_size, n).to(device)


def chunks(streams, block_size):
    """Endless (inputs, targets) pairs walking down the streams; ``None`` marks a wrap-around."""
    while True:
        for i in range(0, streams.size(1) - 1 - block_size, block_size):
            yield streams[:, i:i + block_size], streams[:, i + 1:i + 1 + block_size]
        yield None


def loss_of(model, x, y, hidden):
    logits, hidden = model(x, hidden)
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1)), hidden


@torch.no_grad()
def evaluate(model, streams, block_size, max_chunks):
    """Mean loss over the first ``max_chunks`` chunks of the streams, state carried across chunks."""
    model.eval()
    hidden, total, count = None, 0.0, 0
    for pair in chunks(streams, block_size):
        if pair is None or count == max_chunks:
            break
        loss, hidden = loss_of(model, *pair, hidden)
        total, count = total + loss.item(), count + 1
    model.train()
    return total / max(count, 1)


def main(argv=None):
    parser = _text.add_common_args(argparse.ArgumentParser(description=__doc__.split("\n")[0]), steps=200, lr=5e-3)
    parser.add_argument("--embed-size", type=int, default=64)
    parser.add_argument("--hidden-size", type=int, default=256)
    parser.add_argument("--num-layers", type=int, default=1)
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--clip", type=float, default=1.0, help="max gradient norm")
    parser.set_defaults(eval_interval=50)
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available")

    torch.manual_seed(args.seed)
    tok, train_data, val_data = _text.load_corpus()
    train_streams = batchify(train_data, args.batch_size, args.device)
    val_streams = batchify(val_data, args.batch_size, args.device)
    model = LSTMLanguageModel(tok.vocab_size, args.embed_size, args.hidden_size, args.num_layers,
                              args.dropout).to(args.device)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{len(train_data):,} train / {len(val_data):,} val characters, vocab {tok.vocab_size}, "
          f"{n_params / 1e3:.1f}k parameters, device {args.device}")

    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = StepLR(optimizer, step_size=max(1, args.steps // 3), gamma=0.5)

    def report(step, train_loss):
        val = evaluate(model, val_streams, args.block_size, args.eval_iters)
        print(f"step {step:4d}: train loss {train_loss:.4f} (ppl {math.exp(train_loss):6.2f}), "
              f"val loss {val:.4f} (ppl {math.exp(val):6.2f}), lr {scheduler.get_last_lr()[0]:.2e}, "
              f"{time.perf_counter() - start:.1f}s")
        return val

    start = time.perf_counter()
    batches, hidden, running = chunks(train_streams, args.block_size), None, []
    for step in range(1, args.steps + 1):
        pair = next(batches)
        if pair is None:                                        # back at the start of the text
            pair, hidden = next(batches), None
        if hidden is not None:                                  # truncated BPTT: keep the state, not its graph
            hidden = tuple(h.detach() for h in hidden)
        loss, hidden = loss_of(model, *pair, hidden)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        optimizer.step()
        scheduler.step()
        running.append(loss.item())
        if step % args.eval_interval == 0 or step == args.steps:
            val = report(step, sum(running) / len(running))
            running = []

    _text.print_sample(model, tok, "The ", args)
    print(f"final val loss: {val:.4f}, perplexity {math.exp(val):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
