"""Symbolics of ``nn.RNN``, ``nn.LSTM`` and ``nn.GRU``: one ONNX RNN/LSTM/GRU node per layer.

The tracer records these modules whole (``call_module``); their weights are re-laid out at export time into
ONNX's gate order (LSTM i,o,f,c from PyTorch's i,f,g,o; GRU z,r,h from r,z,n; ``linear_before_reset=1`` is
PyTorch's GRU), so they become new initializers named after the module (``lstm.W_l0``...).
"""
import numpy as np

from ._graph import symbolic, to_numpy
from .errors import UnsupportedOperatorError

_GATES = {"LSTM": ([0, 3, 1, 2], 4), "GRU": ([1, 0, 2], 3), "RNN_TANH": ([0], 1), "RNN_RELU": ([0], 1)}


def _weights(g, m, layer, mode, path):
    order, n = _GATES[mode]
    ws, rs, bs = [], [], []
    for sfx in [""] + (["_reverse"] if m.bidirectional else []):
        w = to_numpy(getattr(m, f"weight_ih_l{layer}{sfx}"))[0]
        r = to_numpy(getattr(m, f"weight_hh_l{layer}{sfx}"))[0]
        h = r.shape[1]
        if m.bias:
            bw = to_numpy(getattr(m, f"bias_ih_l{layer}{sfx}"))[0]
            br = to_numpy(getattr(m, f"bias_hh_l{layer}{sfx}"))[0]
        else:
            bw = br = np.zeros(n * h, w.dtype)
        idx = np.concatenate([np.arange(k * h, (k + 1) * h) for k in order])
        ws.append(w[idx])
        rs.append(r[idx])
        bs.append(np.concatenate([bw[idx], br[idx]]))
    prefix = f"{path}." if path else ""
    return tuple(g.const(np.stack(a), name=g.fresh(f"{prefix}{k}_l{layer}")) for k, a in (("W", ws), ("R", rs),
                                                                                        ("B", bs)))


def _rnn(g, m, input, hx, kind):
    if getattr(m, "proj_size", 0):
        raise UnsupportedOperatorError("aten::lstm (proj_size > 0)", g.opset, None)
    mode = kind if kind != "RNN" else ("RNN_TANH" if m.nonlinearity == "tanh" else "RNN_RELU")
    d = 2 if m.bidirectional else 1
    batched = input.rank == 3
    x = input if batched else g.unsqueeze(input, [1])
    if batched and m.batch_first:
        x = g.op("Transpose", x, perm=[1, 0, 2])                    # (L, N, H_in)
    states = [] if hx is None else (list(hx) if isinstance(hx, (list, tuple)) else [hx])
    if states and not batched:
        states = [g.unsqueeze(s, [1]) for s in states]
    h_n, c_n = [], []
    attrs = {"hidden_size": m.hidden_size, "direction": "bidirectional" if d == 2 else "forward"}
    if mode.startswith("RNN"):
        attrs["activations"] = ["Tanh" if mode == "RNN_TANH" else "Relu"] * d
    if mode == "GRU":
        attrs["linear_before_reset"] = 1
    op_type = {"LSTM": "LSTM", "GRU": "GRU"}.get(mode, "RNN")
    for layer in range(m.num_layers):
        w, r, b = _weights(g, m, layer, mode, g.module_path)
        init = [g.op("Slice", s, g.int_list([layer * d]), g.int_list([(layer + 1) * d]), g.int_list([0]))
                for s in states]
        n_out = 3 if op_type == "LSTM" else 2
        outs = g.op(op_type, x, w, r, b, None, *init, outputs=n_out, **attrs)
        y = g.op("Transpose", outs[0], perm=[0, 2, 1, 3])           # (L, N, D, H)
        x = g.op("Reshape", y, g.int_list([0, 0, -1]))              # (L, N, D*H)
        h_n.append(outs[1])
        if op_type == "LSTM":
            c_n.append(outs[2])
    out = x
    if batched and m.batch_first:
        out = g.op("Transpose", out, perm=[1, 0, 2])
    h = h_n[0] if len(h_n) == 1 else g.op("Concat", *h_n, axis=0)
    c = None if not c_n else (c_n[0] if len(c_n) == 1 else g.op("Concat", *c_n, axis=0))
    if not batched:
        out, h = g.squeeze(out, [1]), g.squeeze(h, [1])
        c = None if c is None else g.squeeze(c, [1])
    return (out, (h, c)) if op_type == "LSTM" else (out, h)


@symbolic("LSTM")
def lstm(g, m, input, hx=None):
    return _rnn(g, m, input, hx, "LSTM")


@symbolic("GRU")
def gru(g, m, input, hx=None):
    return _rnn(g, m, input, hx, "GRU")


@symbolic("RNN")
def rnn(g, m, input, hx=None):
    return _rnn(g, m, input, hx, "RNN")

