"""Train a character-level GPT (nanoGPT-style) on the documentation that CPython ships.

Plain PyTorch code run by ttorch (``import ttorch as torch``): token and position embeddings,
pre-norm transformer blocks of causal self-attention (``F.scaled_dot_product_attention``) and a
GELU MLP, a weight-tied head, AdamW with weight decay on matrices only, linear warmup then cosine
decay (``LambdaLR``). Prints the train/val loss as it goes and a generated sample at the end.

    python examples/char_gpt.py                    # cpu, a few minutes on 2 cores
    python examples/char_gpt.py --device cuda --steps 2000 --n-embd 256 --n-layer 6 --block-size 256
"""
import argparse
import math
import sys
import time

import _text
import ttorch as torch
import ttorch.nn as nn
import ttorch.nn.functional as F
from ttorch.optim.lr_scheduler import LambdaLR


class CausalSelfAttention(nn.Module):
    def __init__(self, n_embd, n_head, dropout):
        super().__init__()
        assert n_embd % n_head == 0
        self.c_attn = nn.Linear(n_embd, 3 * n_embd)            # query, key, value in one matmul
        self.c_proj = nn.Linear(n_embd, n_embd)
        self.n_head, self.dropout = n_head, dropout
        self.resid_dropout = nn.Dropout(dropout)

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(C, dim=2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0, is_causal=True)
        y = y.transpose(1, 2).contiguous().view(B, T, C)        # (B, T, C): heads side by side
        return self.resid_dropout(self.c_proj(y))


class Block(nn.Module):
    def __init__(self, n_embd, n_head, dropout):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head, dropout)
        self.ln_2 = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(), nn.Linear(4 * n_embd, n_embd),
                                 nn.Dropout(dropout))

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, vocab_size, block_size, n_layer=2, n_head=4, n_embd=64, dropout=0.0):
        super().__init__()
        self.block_size = block_size
        self.wte = nn.Embedding(vocab_size, n_embd)
        self.wpe = nn.Embedding(block_size, n_embd)
        self.drop = nn.Dropout(dropout)
        self.h = nn.ModuleList([Block(n_embd, n_head, dropout) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embd)
        self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight                   # weight tying
        self.apply(self._init_weights)
        for name, p in self.named_parameters():                 # GPT-2's scaled init of residual projections
            if name.endswith("c_proj.weight") or name.endswith("mlp.2.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * n_layer))

    def _init_weights(self, module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, idx, targets=None):
        B, T = idx.size()
        pos = torch.arange(0, T, dtype=torch.long, device=idx.device)
        x = self.drop(self.wte(idx) + self.wpe(pos))           # (B, T, C)
        for block in self.h:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))                     # (B, T, vocab)
        if targets is None:
            return logits, None
        return logits, F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))

    @torch.no_grad()
    def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None):
        """Extend ``idx`` (B, T) by sampling one character at a time."""
        for _ in range(max_new_tokens):
            idx_cond = idx if idx.size(1) <= self.block_size else idx[:, -self.block_size:]
            logits, _ = self(idx_cond)
            logits = logits[:, -1, :] / temperature            # (B, vocab)
            if top_k is not None:
                v, _ = torch.topk(logits, min(top_k, logits.size(-1)))
                logits[logits < v[:, [-1]]] = -float("inf")
            probs = F.softmax(logits, dim=-1)
            idx = torch.cat((idx, torch.multinomial(probs, num_samples=1)), dim=1)
        return idx


def configure_optimizer(model, lr, weight_decay):
    """AdamW that decays the weight matrices and embeddings, not the biases and LayerNorm gains."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.99))


def main(argv=None):
    parser = _text.add_common_args(argparse.ArgumentParser(description=__doc__.split("\n")[0]), steps=500, lr=1e-2)
    parser.add_argument("--n-layer", type=int, default=2)
    parser.add_argument("--n-head", type=int, default=4)
    parser.add_argument("--n-embd", type=int, default=64)
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--weight-decay", type=float, default=0.1)
    parser.add_argument("--warmup", type=int, default=30, help="steps of linear learning-rate warmup")
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available")

    torch.manual_seed(args.seed)
    tok, train_data, val_data = _text.load_corpus()
    model = GPT(tok.vocab_size, args.block_size, args.n_layer, args.n_head, args.n_embd, args.dropout).to(args.device)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{len(train_data):,} train / {len(val_data):,} val characters, vocab {tok.vocab_size}, "
          f"{n_params / 1e3:.1f}k parameters, device {args.device}")

    optimizer = configure_optimizer(model, args.lr, args.weight_decay)

    def lr_lambda(step):                                        # warmup, then cosine down to a tenth
        if step < args.warmup:
            return (step + 1) / args.warmup
        progress = min(1.0, (step - args.warmup) / max(1, args.steps - args.warmup))
        return 0.1 + 0.45 * (1.0 + math.cos(math.pi * progress))

    scheduler = LambdaLR(optimizer, lr_lambda)
    splits = {"train": train_data, "val": val_data}

    def report(step):
        model.eval()
        losses = _text.estimate_loss(lambda x, y: model(x, y)[1], splits, args.block_size, args.batch_size,
                                     args.eval_iters, args.device)
        model.train()
        print(f"step {step:4d}: train loss {losses['train']:.4f}, val loss {losses['val']:.4f}, "
              f"lr {scheduler.get_last_lr()[0]:.2e}, {time.perf_counter() - start:.1f}s")
        return losses

    start = time.perf_counter()
    for step in range(args.steps):
        if step % args.eval_interval == 0:
            report(step)
        x, y = _text.get_batch(train_data, args.block_size, args.batch_size, args.device)
        _, loss = model(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
    losses = report(args.steps)

    model.eval()
    _text.print_sample(model, tok, "\n", args)
    print(f"final val loss: {losses['val']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
