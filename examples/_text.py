"""Character-level text data for the language-model examples (char_gpt.py, lstm_lm.py).

The corpus is the documentation topics that CPython ships in ``pydoc_data.topics`` (about
465,000 characters of English prose and Python code), so the examples need no download.
"""
import ttorch as torch


def load_text():
    """The text of every pydoc topic, in a fixed (sorted) order."""
    from pydoc_data.topics import topics
    return "\n".join(topics[name] for name in sorted(topics))


class CharTokenizer:
    """Maps each distinct character of a text to an integer id, and back."""

    def __init__(self, text):
        self.chars = sorted(set(text))
        self.stoi = {c: i for i, c in enumerate(self.chars)}

    @property
    def vocab_size(self):
        return len(self.chars)

    def encode(self, s):
        return [self.stoi[c] for c in s]

    def decode(self, ids):
        return "".join(self.chars[i] for i in ids)


def load_corpus(val_fraction=0.1):
    """(tokenizer, train ids, val ids): the text as int64 tensors, the last tenth held out."""
    text = load_text()
    tok = CharTokenizer(text)
    data = torch.tensor(tok.encode(text), dtype=torch.long)
    n = int(len(data) * (1 - val_fraction))
    return tok, data[:n], data[n:]


def get_batch(data, block_size, batch_size, device, generator=None):
    """Random windows of the text: inputs (B, T) and the same windows shifted by one (B, T)."""
    ix = torch.randint(len(data) - block_size - 1, (batch_size,), generator=generator).tolist()
    x = torch.stack([data[i:i + block_size] for i in ix])
    y = torch.stack([data[i + 1:i + 1 + block_size] for i in ix])
    return x.to(device), y.to(device)


def add_common_args(parser, steps, lr):
    """The command-line options the text examples share."""
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--steps", type=int, default=steps, help="optimizer steps")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--block-size", type=int, default=32, help="characters per training window")
    parser.add_argument("--lr", type=float, default=lr)
    parser.add_argument("--eval-interval", type=int, default=100)
    parser.add_argument("--eval-iters", type=int, default=10, help="batches averaged per loss estimate")
    parser.add_argument("--sample-tokens", type=int, default=300, help="characters generated at the end")
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--top-k", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1337)
    return parser


@torch.no_grad()
def estimate_loss(loss_fn, splits, block_size, batch_size, eval_iters, device):
    """Mean loss of ``loss_fn(x, y)`` over ``eval_iters`` random batches of each split."""
    out = {}
    for name, data in splits.items():
        losses = [loss_fn(*get_batch(data, block_size, batch_size, device)).item() for _ in range(eval_iters)]
        out[name] = sum(losses) / len(losses)
    return out


def print_sample(model, tok, prompt, args):
    """Generate ``args.sample_tokens`` characters after ``prompt`` and print them between rules."""
    ids = torch.tensor([tok.encode(prompt)], dtype=torch.long, device=args.device)
    sample = model.generate(ids, args.sample_tokens, temperature=args.temperature, top_k=args.top_k)
    print("--- sample ---")
    print(tok.decode(sample[0].tolist()))
    print("--------------")
