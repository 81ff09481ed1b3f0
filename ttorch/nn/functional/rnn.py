"""The recurrences of ``RNN``, ``LSTM`` and ``GRU`` (and their cells) in ttorch ops.

PyTorch keeps these in ATen (``_VF.lstm``, ``torch.lstm_cell``...), not in ``nn.functional``, so
nothing here is exported from ``F``: the modules of ``nn/modules/rnn.py`` import them directly.

Each layer precomputes ``x W_ih^T + b_ih`` for every time step in one GEMM, then runs one
``h W_hh^T + b_hh`` per step; the per-step outputs are stacked. Autograd differentiates the
unrolled graph, so every op here runs on cpu and cuda and needs no backward of its own.
"""
import ttorch

from .linear import dropout, linear

__all__ = []


# -------------------------------------------------------------------------------- one time step
# A step takes the precomputed input projection ``gi`` (N, G), the state and the hidden weights,
# and returns (the layer's output at this step, the new state).
def _rnn_step(act):
    def step(gi, h, w_hh, b_hh, w_hr=None):
        h = act(gi + linear(h, w_hh, b_hh))
        return h, h
    return step


_tanh_step = _rnn_step(ttorch.tanh)
_relu_step = _rnn_step(ttorch.relu)


def _lstm_step(gi, state, w_hh, b_hh, w_hr=None):
    h, c = state
    i, f, g, o = (gi + linear(h, w_hh, b_hh)).chunk(4, -1)  # PyTorch's gate order: i, f, g, o
    c = ttorch.sigmoid(f) * c + ttorch.sigmoid(i) * ttorch.tanh(g)
    h = ttorch.sigmoid(o) * ttorch.tanh(c)
    if w_hr is not None:  # proj_size > 0: h_t = W_hr (o * tanh(c_t))
        h = linear(h, w_hr)
    return h, (h, c)


def _gru_step(gi, h, w_hh, b_hh, w_hr=None):
    gh = linear(h, w_hh, b_hh)
    i_r, i_z, i_n = gi.chunk(3, -1)  # gate order: r, z, n
    h_r, h_z, h_n = gh.chunk(3, -1)
    r = ttorch.sigmoid(i_r + h_r)
    z = ttorch.sigmoid(i_z + h_z)
    n = ttorch.tanh(i_n + r * h_n)  # PyTorch's form: r gates (W_hn h + b_hn), not h
    h = n + z * (h - n)  # (1 - z) * n + z * h
    return h, h


_STEPS = {"RNN_TANH": _tanh_step, "RNN_RELU": _relu_step, "LSTM": _lstm_step, "GRU": _gru_step}


# ------------------------------------------------------------------------------------------ cells
def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    r"""``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)`` for one step; input (N, H_in), hx (N, H)."""
    return _tanh_step(linear(input, w_ih, b_ih), hx, w_hh, b_hh)[0]


def rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    r"""``h' = relu(x W_ih^T + b_ih + h W_hh^T + b_hh)`` for one step."""
    return _relu_step(linear(input, w_ih, b_ih), hx, w_hh, b_hh)[0]


def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    r"""One LSTM step; ``hx`` is ``(h, c)``, returns ``(h', c')``."""
    return _lstm_step(linear(input, w_ih, b_ih), tuple(hx), w_hh, b_hh)[1]


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    r"""One GRU step, with PyTorch's ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``."""
    return _gru_step(linear(input, w_ih, b_ih), hx, w_hh, b_hh)[0]


# ----------------------------------------------------------------------------------- full layers
def _run_direction(step, gi, state, w_hh, b_hh, w_hr, reverse, mask=None):
    """Unroll ``step`` over gi (T, N, G); returns outputs (T, N, H_out) and the final state. ``mask``
    (T, N, 1), packed sequences': a sequence past its length keeps its state and outputs zeros, so the
    final state is each one's at its last step (forward) and the reverse direction starts there."""
    gis = gi.unbind(0)
    masks = None if mask is None else mask.unbind(0)
    outs = [None] * len(gis)
    for t in (reversed(range(len(gis))) if reverse else range(len(gis))):
        out, new = step(gis[t], state, w_hh, b_hh, w_hr)
        if masks is not None:
            live = masks[t]
            new = tuple(ttorch.where(live, a, b) for a, b in zip(new, state)) if isinstance(new, tuple) else \
                ttorch.where(live, new, state)
            out = out * live
        outs[t], state = out, new
    return ttorch.stack(outs, 0), state


def _rnn(mode, input, hx, weights, has_bias, has_proj, num_layers, dropout_p, training, bidirectional, mask=None):
    """Multi-layer (bi)directional recurrence over time-major ``input`` (T, N, H_in).

    ``hx`` is h0 (L*D, N, H_out), or (h0, c0) for LSTM; ``weights`` is the flat list of parameters
    in PyTorch's order (w_ih, w_hh[, b_ih, b_hh][, w_hr] per layer and direction).
    Returns ``(output (T, N, D*H_out), h_n)`` or ``(output, (h_n, c_n))`` for LSTM.
    """
    step = _STEPS[mode]
    is_lstm = mode == "LSTM"
    num_dirs = 2 if bidirectional else 1
    per = 2 + 2 * has_bias + has_proj
    h0s = hx[0].unbind(0) if is_lstm else hx.unbind(0)
    c0s = hx[1].unbind(0) if is_lstm else None
    h_n, c_n = [], []
    layer_input = input
    for layer in range(num_layers):
        outs = []
        for d in range(num_dirs):
            k = layer * num_dirs + d
            w = weights[k * per:(k + 1) * per]
            w_ih, w_hh = w[0], w[1]
            b_ih, b_hh = (w[2], w[3]) if has_bias else (None, None)
            w_hr = w[-1] if has_proj else None
            gi = linear(layer_input, w_ih, b_ih)  # (T, N, G): all steps' input projections in one GEMM
            state = (h0s[k], c0s[k]) if is_lstm else h0s[k]
            out, state = _run_direction(step, gi, state, w_hh, b_hh, w_hr, reverse=d == 1, mask=mask)
            outs.append(out)
            if is_lstm:
                h_n.append(state[0])
                c_n.append(state[1])
            else:
                h_n.append(state)
        layer_input = outs[0] if num_dirs == 1 else ttorch.cat(outs, -1)  # (T, N, D*H_out)
        if dropout_p > 0 and training and layer < num_layers - 1:  # between layers, not after the last
            layer_input = dropout(layer_input, dropout_p, training=True)
    h_n = ttorch.stack(h_n, 0)  # (L*D, N, H_out)
    return (layer_input, (h_n, ttorch.stack(c_n, 0))) if is_lstm else (layer_input, h_n)
