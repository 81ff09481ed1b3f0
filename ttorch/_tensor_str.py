"""PyTorch's tensor printing: ``tensor([[1., 2.]], device='cuda:0', requires_grad=True)``."""
import numpy as np

from . import _dtype as D

PRINT_OPTS = {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80, "sci_mode": None}


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None, sci_mode=None):
    if profile == "default":
        PRINT_OPTS.update(precision=4, threshold=1000, edgeitems=3, linewidth=80)
    elif profile == "short":
        PRINT_OPTS.update(precision=2, threshold=1000, edgeitems=2, linewidth=80)
    elif profile == "full":
        PRINT_OPTS.update(precision=4, threshold=float("inf"), edgeitems=3, linewidth=80)
    for k, v in (("precision", precision), ("threshold", threshold), ("edgeitems", edgeitems),
                 ("linewidth", linewidth)):
        if v is not None:
            PRINT_OPTS[k] = v
    PRINT_OPTS["sci_mode"] = sci_mode


class _Formatter:
    """Chooses one format for all elements, as PyTorch does: ints, floats ending in '.', fixed, or sci."""

    def __init__(self, values, floating):
        self.floating = floating
        self.int_mode = True
        self.sci_mode = False
        self.width = 1
        p = PRINT_OPTS["precision"]
        if not floating:
            self.width = max((len(str(v)) for v in values), default=1)
            return
        finite = values[np.isfinite(values)] if values.size else values
        nonzero = np.abs(finite[finite != 0])
        if values.size == 0:
            return
        if finite.size and np.any(finite != np.ceil(finite)):
            self.int_mode = False
        if nonzero.size:
            mx, mn = float(nonzero.max()), float(nonzero.min())
        else:
            mx = mn = 0.0
        if self.int_mode:
            if nonzero.size and (mx > 1e8):
                self.sci_mode = True
        else:
            if nonzero.size and (mx / mn > 1000.0 or mx > 1e8 or mn < 1e-4):
                self.sci_mode = True
        if PRINT_OPTS["sci_mode"] is not None:
            self.sci_mode = PRINT_OPTS["sci_mode"]
        self.p = p
        self.width = max((len(self._fmt(v)) for v in values.reshape(-1)), default=1)

    def _fmt(self, v):
        if not self.floating:
            return str(v)
        if np.isnan(v):
            return "nan"
        if np.isinf(v):
            return "inf" if v > 0 else "-inf"
        if self.sci_mode:
            return f"{v:.{self.p}e}"
        if self.int_mode:
            return f"{v:.0f}."
        return f"{v:.{self.p}f}"

    def format(self, v):
        return self._fmt(v).rjust(self.width)


def _rec(a, fmt, indent, summarize):
    if a.ndim == 0:
        return fmt.format(a.item())
    edge = PRINT_OPTS["edgeitems"]
    n = a.shape[0]
    idx = list(range(n))
    if summarize and n > 2 * edge:
        idx = list(range(edge)) + [None] + list(range(n - edge, n))
    if a.ndim == 1:
        parts = ["..." if i is None else fmt.format(a[i].item()) for i in idx]
        per_line = max(1, (PRINT_OPTS["linewidth"] - indent) // (fmt.width + 2))
        lines = [", ".join(parts[i:i + per_line]) for i in range(0, len(parts), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    sep = "," + "\n" * (a.ndim - 1) + " " * (indent + 1)
    parts = ["..." if i is None else _rec(a[i], fmt, indent + 1, summarize) for i in idx]
    return "[" + sep.join(parts) + "]"


def _str(t):
    from .autograd import grad_mode
    a = t._host()
    if t.dtype is D.bfloat16 or t.dtype is D.float16:
        a = a.astype(np.float32)
    summarize = a.size > PRINT_OPTS["threshold"]
    suffixes = []
    if t.device.type == "cuda":
        suffixes.append(f"device='{t.device}'")
    if a.size == 0 and a.shape != (0,):
        body = "[]"
        suffixes.append(f"size={tuple(t.shape)}")
    else:
        vals = a.reshape(-1)
        if summarize:
            e = PRINT_OPTS["edgeitems"]
            vals = np.concatenate([vals[:e], vals[-e:]])
        fmt = _Formatter(vals if t.dtype.is_floating_point else vals.tolist(), t.dtype.is_floating_point)
        body = _rec(a, fmt, 7, summarize)
    default_int = t.dtype is D.int64
    default_float = t.dtype is D.get_default_dtype()
    if not (default_float or default_int or t.dtype is D.bool) or (t.numel() == 0 and t.dtype is not D.get_default_dtype()):
        suffixes.append(f"dtype={t.dtype}")
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    return "tensor(" + body + "".join(", " + s for s in suffixes) + ")"
