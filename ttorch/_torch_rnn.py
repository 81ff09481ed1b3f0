"""``ttorch.lstm``, ``gru``, ``rnn_tanh``, ``rnn_relu``: ATen's multi-layer recurrences as functions, the
calls ``nn.LSTM``/``GRU``/``RNN`` make in PyTorch, with its two argument lists::

    lstm(input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first)
    lstm(data, batch_sizes, hx, params, has_biases, num_layers, dropout, train, bidirectional)   # packed

``params`` is the flat weight list in ``nn.LSTM._flat_weights`` order (w_ih, w_hh[, b_ih, b_hh][, w_hr]
per layer and direction); ``hx`` is ``[h0, c0]`` for ``lstm`` (LSTM projections are inferred, as ATen
does, from h0 and c0 differing in size), ``h0`` for the others. ``lstm`` returns ``(output, h_n, c_n)``,
the others ``(output, h_n)``. The packed form takes a packed sequence's ``data`` and ``batch_sizes``
(sorted, hx in sorted order) and returns packed output data. All run ``nn.functional.rnn``'s recurrence.

Example::

    >>> lstm = ttorch.nn.LSTM(3, 4)
    >>> x, h0 = ttorch.randn(5, 2, 3), ttorch.zeros(1, 2, 4)
    >>> out, h, c = ttorch.lstm(x, (h0, h0), lstm._flat_weights, True, 1, 0.0, False, False, False)
    >>> ttorch.allclose(out, lstm(x)[0])
    True
"""
import numpy as np

from ._tensor import Tensor

__all__ = ["lstm", "gru", "rnn_tanh", "rnn_relu"]


def _run(mode, args, kwargs, name):
    from .nn.functional import rnn as _F
    a = list(args)
    is_lstm = mode == "LSTM"
    packed = len(a) > 2 and (isinstance(a[2], Tensor) or (is_lstm and isinstance(a[1], Tensor)))
    if packed:
        keys = ["data", "batch_sizes", "hx", "params", "has_biases", "num_layers", "dropout", "train",
                "bidirectional"]
    else:
        keys = ["input", "hx", "params", "has_biases", "num_layers", "dropout", "train", "bidirectional",
                "batch_first"]
    if len(a) > len(keys):
        raise TypeError(f"{name}() takes {len(keys)} positional arguments but {len(a)} were given")
    v = dict(zip(keys, a))
    for k, val in kwargs.items():
        if k not in keys or k in v:
            raise TypeError(f"{name}() got an unexpected keyword argument '{k}'")
        v[k] = val
    missing = [k for k in keys if k not in v]
    if missing:
        raise TypeError(f"{name}() missing required argument '{missing[0]}'")
    hx = v["hx"]
    if is_lstm:
        if len(hx) != 2:
            raise RuntimeError(f"lstm expects two hidden states, got {len(hx)}")
        hx = (hx[0], hx[1])
        has_proj = hx[0].size(2) != hx[1].size(2)
    else:
        has_proj = False
    params = list(v["params"])
    common = (bool(v["has_biases"]), has_proj, int(v["num_layers"]), float(v["dropout"]), bool(v["train"]),
              bool(v["bidirectional"]))
    if not packed:
        x = v["input"].transpose(0, 1) if v["batch_first"] else v["input"]      # (T, N, H_in)
        out, hidden = _F._rnn(mode, x, hx, params, *common)
        if v["batch_first"]:
            out = out.transpose(0, 1)
    else:
        from .nn.utils.rnn import _packed_to_padded, _padded_to_packed
        data, batch_sizes = v["data"], v["batch_sizes"]
        sizes = np.asarray(batch_sizes.tolist())
        padded = _packed_to_padded(data, batch_sizes)                              # (T, B, H_in)
        mask = Tensor._wrap_np((np.arange(int(sizes[0]))[None, :] < sizes[:, None])[..., None]).to(data.device)
        out, hidden = _F._rnn(mode, padded, hx, params, *common, mask=mask)
        out = _padded_to_packed(out, batch_sizes)
    return (out, hidden[0], hidden[1]) if is_lstm else (out, hidden)


def lstm(*args, **kwargs):
    """LSTM layers over a sequence: ``(output, h_n, c_n)`` (see the module docstring for the arguments)."""
    return _run("LSTM", args, kwargs, "lstm")


def gru(*args, **kwargs):
    """GRU layers over a sequence: ``(output, h_n)``."""
    return _run("GRU", args, kwargs, "gru")


def rnn_tanh(*args, **kwargs):
    """Elman RNN layers with tanh: ``(output, h_n)``."""
    return _run("RNN_TANH", args, kwargs, "rnn_tanh")


def rnn_relu(*args, **kwargs):
    """Elman RNN layers with relu: ``(output, h_n)``."""
    return _run("RNN_RELU", args, kwargs, "rnn_relu")
