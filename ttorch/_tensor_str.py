"""PyTorch's tensor printing: ``tensor([[1., 2.]], device='cuda:0', requires_grad=True)``.

The rules are PyTorch's (``torch/_tensor_str.py``), applied to a host NumPy copy:

* one format for every element, chosen from the non-zero finite values: integers-as-floats
  print as ``1.``, otherwise ``precision`` decimals, or scientific notation when the values
  span more than 1000x, exceed 1e8 or go below 1e-4 (ints-as-floats: 1000x or 1e8);
* the width is the widest non-zero finite value (nan/inf/0 do not widen the columns);
* more than ``threshold`` elements print ``edgeitems`` per edge around ``...``, and the format
  is chosen from those edge elements only;
* suffixes (device, dtype, grad_fn, requires_grad) wrap to a new line past ``linewidth``.
"""
import math

import numpy as np

from . import _dtype as D

PRINT_OPTS = {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80, "sci_mode": None}

_PROFILES = {"default": dict(precision=4, threshold=1000, edgeitems=3, linewidth=80),
             "short": dict(precision=2, threshold=1000, edgeitems=2, linewidth=80),
             "full": dict(precision=4, threshold=math.inf, edgeitems=3, linewidth=80)}


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None, sci_mode=None):
    """Set how tensors print (PyTorch's options; ``profile`` is "default", "short" or "full").

    Example:
        >>> import ttorch
        >>> ttorch.set_printoptions(precision=2)
        >>> ttorch.tensor([1.2345])
        tensor([1.23])
        >>> ttorch.set_printoptions(profile="default")
    """
    if profile is not None:
        PRINT_OPTS.update(_PROFILES[profile])
    for k, v in (("precision", precision), ("threshold", threshold), ("edgeitems", edgeitems),
                 ("linewidth", linewidth)):
        if v is not None:
            PRINT_OPTS[k] = v
    PRINT_OPTS["sci_mode"] = sci_mode


class _Formatter:
    """One format for all elements of a tensor (``values``: the elements that decide it)."""

    def __init__(self, values, floating):
        self.floating = floating
        self.int_mode = True
        self.sci_mode = False
        self.width = 1
        p = PRINT_OPTS["precision"]
        if not floating:
            for v in values.reshape(-1).tolist():
                self.width = max(self.width, len(str(v)))
            return
        v = values.reshape(-1).astype(np.float64)
        v = v[np.isfinite(v) & (v != 0)]
        if v.size:
            mag = np.abs(v)
            lo, hi = float(mag.min()), float(mag.max())
            self.int_mode = bool(np.all(v == np.ceil(v)))
            wide = hi / lo > 1000.0 or hi > 1.0e8
            if self.int_mode:
                self.sci_mode = wide
                fmt = (lambda x: f"{x:.{p}e}") if wide else (lambda x: f"{x:.0f}.")
            else:
                self.sci_mode = wide or lo < 1.0e-4
                fmt = (lambda x: f"{x:.{p}e}") if self.sci_mode else (lambda x: f"{x:.{p}f}")
            self.width = max(len(fmt(x)) for x in v.tolist())
        if PRINT_OPTS["sci_mode"] is not None:
            self.sci_mode = PRINT_OPTS["sci_mode"]

    def format(self, x):
        if not self.floating:
            s = str(x)
        elif self.sci_mode:
            s = f"{x:.{PRINT_OPTS['precision']}e}"
        elif self.int_mode:
            s = f"{x:.0f}" + ("" if math.isinf(x) or math.isnan(x) else ".")
        else:
            s = f"{x:.{PRINT_OPTS['precision']}f}"
        return s.rjust(self.width)


class _ComplexFormatter:
    """PyTorch's complex format: the real and imaginary parts each formatted as a float tensor of their
    own (``tensor([1.+2.j, 3.-4.j])``); ``width`` counts the ``j``."""

    def __init__(self, values):
        self.re = _Formatter(values.real, True)
        self.im = _Formatter(values.imag, True)
        self.width = self.re.width + self.im.width + 1

    def format(self, x):
        r = self.re.format(x.real)
        i = (self.im.format(x.imag) + "j").lstrip()
        return r + i if i[0] in "+-" else r + "+" + i


def _summarized(a):
    """The edge elements of ``a`` that printing shows (PyTorch's ``get_summarized_data``)."""
    e = PRINT_OPTS["edgeitems"]
    if a.ndim == 0:
        return a
    if not e:
        return a[(slice(0, 0),) * a.ndim]
    if a.shape[0] > 2 * e:
        a = np.concatenate([a[:e], a[-e:]])
    if a.ndim == 1:
        return a
    return np.stack([_summarized(r) for r in a])


def _vector(a, indent, summarize, fmt):
    e = PRINT_OPTS["edgeitems"]
    per_line = max(1, int(math.floor((PRINT_OPTS["linewidth"] - indent) / (fmt.width + 2))))
    if summarize and not e:
        items = ["..."]
    elif summarize and a.shape[0] > 2 * e:
        items = [fmt.format(x) for x in a[:e].tolist()] + [" ..."] + [fmt.format(x) for x in a[-e:].tolist()]
    else:
        items = [fmt.format(x) for x in a.tolist()]
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _body(a, indent, summarize, fmt):
    if a.ndim == 0:
        return fmt.format(a.item())
    if a.ndim == 1:
        return _vector(a, indent, summarize, fmt)
    e = PRINT_OPTS["edgeitems"]
    n = a.shape[0]
    if summarize and n > 2 * e:
        rows = [_body(a[i], indent + 1, summarize, fmt) for i in range(e)] + ["..."] + \
               [_body(a[i], indent + 1, summarize, fmt) for i in range(n - e, n)]
    else:
        rows = [_body(a[i], indent + 1, summarize, fmt) for i in range(n)]
    return "[" + ("," + "\n" * (a.ndim - 1) + " " * (indent + 1)).join(rows) + "]"


def _add_suffixes(text, suffixes, indent):
    out = [text]
    last = len(text) - text.rfind("\n") + 1
    for s in suffixes:
        if last + len(s) + 2 > PRINT_OPTS["linewidth"]:
            out.append(",\n" + " " * indent + s)
            last = indent + len(s)
        else:
            out.append(", " + s)
            last += len(s) + 2
    return "".join(out) + ")"


def _str(t, tensor_contents=None):
    prefix = "tensor("
    indent = len(prefix)
    suffixes = []
    if t.device.type != "cpu":
        suffixes.append(f"device='{t.device}'")
    numel = t.numel()
    if numel == 0:
        if t.ndim != 1:
            suffixes.append(f"size={tuple(t.shape)}")
        if t.dtype is not D.get_default_dtype():
            suffixes.append(f"dtype={t.dtype}")
        body = "[]"
    else:
        if not PRINT_OPTS["edgeitems"]:
            suffixes.append(f"size={tuple(t.shape)}")
        if t.dtype not in (D.get_default_dtype(), D.int64, D.bool, D._kind_default(3)):
            suffixes.append(f"dtype={t.dtype}")
        a = t._host()
        if t.dtype is D.bfloat16 or t.dtype is D.float16:
            a = a.astype(np.float32)
        summarize = numel > PRINT_OPTS["threshold"]
        shown = _summarized(a) if summarize else a
        fmt = _ComplexFormatter(shown) if t.dtype.is_complex else _Formatter(shown, t.dtype.is_floating_point)
        body = _body(a, indent, summarize, fmt)
    if tensor_contents is not None:
        body = tensor_contents
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    from .autograd import forward_ad
    if forward_ad._token is not None:   # a dual tensor shows its tangent, as in PyTorch (a 0-d one as a number)
        tangent = forward_ad._tangent(t)
        if tangent is not None:
            suffixes.append(f"tangent={tangent}")
    return _add_suffixes(prefix + body, suffixes, indent)
