"""Recurrent layers (RNN, LSTM, GRU and their cells): outputs against a NumPy re-implementation of
PyTorch's equations (layers, directions, batch_first, proj_size, given states, unbatched), PyTorch's
state-dict keys and shapes, default init, gradcheck, cpu-vs-cuda parity, errors, and two small
sequence models that must train to a fixed loss."""
import math
import warnings

import numpy as np
import pytest

import ttorch
import ttorch.nn as nn
from ttorch.nn.functional import rnn as _Frnn

from _helpers import close

F64 = ttorch.float64


def _np(t):
    return t.detach().cpu().numpy()


# ------------------------------------------------------------------------- NumPy reference (PyTorch's docs)
def _sig(x):
    return 1 / (1 + np.exp(-x))


def _np_cell(mode, x, state, w_ih, w_hh, b_ih, b_hh, w_hr=None):
    """One step for x (N, H_in); state h (N, H_out) or (h, c). Gates sliced by PyTorch's order."""
    b_ih = 0 if b_ih is None else b_ih
    b_hh = 0 if b_hh is None else b_hh
    if mode in ("RNN_TANH", "RNN_RELU"):
        a = x @ w_ih.T + b_ih + state @ w_hh.T + b_hh
        h = np.tanh(a) if mode == "RNN_TANH" else np.maximum(a, 0)
        return h, h
    if mode == "LSTM":
        h, c = state
        H = w_hh.shape[0] // 4
        g_all = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh
        i, f, g, o = (g_all[:, k * H:(k + 1) * H] for k in range(4))
        c = _sig(f) * c + _sig(i) * np.tanh(g)
        h = _sig(o) * np.tanh(c)
        if w_hr is not None:
            h = h @ w_hr.T
        return h, (h, c)
    H = w_hh.shape[0] // 3
    gi, gh = x @ w_ih.T + b_ih, state @ w_hh.T + b_hh
    r = _sig(gi[:, :H] + gh[:, :H])
    z = _sig(gi[:, H:2 * H] + gh[:, H:2 * H])
    n = np.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
    h = (1 - z) * n + z * state
    return h, h


def _np_rnn(m, x, hx=None):
    """Reference forward of module ``m`` (float64 NumPy) on batched or unbatched x."""
    mode, L, D = m.mode, m.num_layers, 2 if m.bidirectional else 1
    H, P = m.hidden_size, m.proj_size or m.hidden_size
    batched = x.ndim == 3
    if not batched:
        x = x[:, None] if not m.batch_first else x[None]
    if m.batch_first:
        x = x.transpose(1, 0, 2)
    T, N = x.shape[:2]
    if hx is None:
        hx = (np.zeros((L * D, N, P)), np.zeros((L * D, N, H))) if mode == "LSTM" else np.zeros((L * D, N, P))
    elif not batched:
        hx = tuple(s[:, None] for s in hx) if mode == "LSTM" else hx[:, None]
    hs, cs, inp = [], [], x
    for layer in range(L):
        outs = []
        for d in range(D):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            p = {n: _np(getattr(m, n + sfx)) if getattr(m, n + sfx, None) is not None else None
                 for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")}
            k = layer * D + d
            state = (hx[0][k], hx[1][k]) if mode == "LSTM" else hx[k]
            out = [None] * T
            for t in (range(T - 1, -1, -1) if d else range(T)):
                out[t], state = _np_cell(mode, inp[t], state, p["weight_ih"], p["weight_hh"], p["bias_ih"],
                                         p["bias_hh"], p["weight_hr"])
            outs.append(np.stack(out))
            hs.append(state[0] if mode == "LSTM" else state)
            if mode == "LSTM":
                cs.append(state[1])
        inp = np.concatenate(outs, -1)
    out, h_n = inp, np.stack(hs)
    if m.batch_first:
        out = out.transpose(1, 0, 2)
    if not batched:
        out, h_n = out.squeeze(0 if m.batch_first else 1), h_n[:, 0]
    if mode == "LSTM":
        c_n = np.stack(cs)
        return out, (h_n, c_n if batched else c_n[:, 0])
    return out, h_n


def _make(cls, *args, **kwargs):
    kwargs.setdefault("dtype", F64)
    return cls(*args, **kwargs)


CONFIGS = [  # (num_layers, bidirectional, batch_first, with initial state, batched)
    (1, False, False, False, True),
    (2, True, True, True, True),
    (2, False, False, True, False),
    (1, True, True, False, False),
]


@pytest.mark.parametrize("kind", ["tanh", "relu", "LSTM", "GRU"])
@pytest.mark.parametrize("cfg", CONFIGS)
def test_matches_numpy(kind, cfg):
    L, bidir, bf, given, batched = cfg
    rng = np.random.default_rng(1)
    I, H, T, N = 3, 4, 5, 2
    if kind in ("tanh", "relu"):
        m = _make(nn.RNN, I, H, L, nonlinearity=kind, bidirectional=bidir, batch_first=bf)
    else:
        m = _make(getattr(nn, kind), I, H, num_layers=L, bidirectional=bidir, batch_first=bf)
    D = 2 if bidir else 1
    x = rng.normal(size=((N, T, I) if bf else (T, N, I)) if batched else (T, I))
    sh = (L * D, N, H) if batched else (L * D, H)
    hx = None
    if given:
        hx = (rng.normal(size=sh), rng.normal(size=sh)) if kind == "LSTM" else rng.normal(size=sh)
    t_hx = None if hx is None else (tuple(ttorch.tensor(s) for s in hx) if kind == "LSTM" else ttorch.tensor(hx))
    out, hid = m(ttorch.tensor(x), t_hx)
    e_out, e_hid = _np_rnn(m, x, hx)
    close(out, e_out, F64, msg="output")
    if kind == "LSTM":
        close(hid[0], e_hid[0], F64, msg="h_n")
        close(hid[1], e_hid[1], F64, msg="c_n")
    else:
        close(hid, e_hid, F64, msg="h_n")


@pytest.mark.parametrize("bidir", [False, True])
def test_lstm_proj_size_matches_numpy(bidir):
    rng = np.random.default_rng(2)
    m = _make(nn.LSTM, 3, 5, num_layers=2, proj_size=2, bidirectional=bidir, batch_first=True)
    D = 2 if bidir else 1
    x = rng.normal(size=(2, 4, 3))
    hx = (rng.normal(size=(2 * D, 2, 2)), rng.normal(size=(2 * D, 2, 5)))
    out, (h, c) = m(ttorch.tensor(x), tuple(ttorch.tensor(s) for s in hx))
    assert out.shape == (2, 4, 2 * D) and h.shape == (2 * D, 2, 2) and c.shape == (2 * D, 2, 5)
    e_out, (e_h, e_c) = _np_rnn(m, x, hx)
    close(out, e_out, F64)
    close(h, e_h, F64)
    close(c, e_c, F64)
    out, (h, c) = m(ttorch.tensor(x[0]))  # unbatched, zero states
    e_out, (e_h, e_c) = _np_rnn(m, x[0])
    close(out, e_out, F64)
    close(h, e_h, F64)
    close(c, e_c, F64)


def test_no_bias_matches_numpy():
    rng = np.random.default_rng(3)
    for m in (_make(nn.GRU, 3, 4, 2, bias=False), _make(nn.LSTM, 3, 4, bias=False, bidirectional=True)):
        x = rng.normal(size=(4, 2, 3))
        out, _ = m(ttorch.tensor(x))
        close(out, _np_rnn(m, x)[0], F64)


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cells_match_numpy(name):
    rng = np.random.default_rng(4)
    cell = _make(getattr(nn, name), 3, 4)
    mode = {"RNNCell": "RNN_TANH", "LSTMCell": "LSTM", "GRUCell": "GRU"}[name]
    w = [_np(p) for p in (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)]
    x = rng.normal(size=(2, 3))
    if mode == "LSTM":
        hx = (rng.normal(size=(2, 4)), rng.normal(size=(2, 4)))
        h, c = cell(ttorch.tensor(x), tuple(ttorch.tensor(s) for s in hx))
        e = _np_cell(mode, x, hx, *w)[1]
        close(h, e[0], F64)
        close(c, e[1], F64)
        h1, c1 = cell(ttorch.tensor(x[0]))  # unbatched, zero state
        e = _np_cell(mode, x[:1], (np.zeros((1, 4)), np.zeros((1, 4))), *w)[1]
        assert h1.shape == (4,) and c1.shape == (4,)
        close(h1, e[0][0], F64)
        close(c1, e[1][0], F64)
    else:
        hx = rng.normal(size=(2, 4))
        close(cell(ttorch.tensor(x), ttorch.tensor(hx)), _np_cell(mode, x, hx, *w)[0], F64)
        h1 = cell(ttorch.tensor(x[1]), ttorch.tensor(hx[1]))
        assert h1.shape == (4,)
        close(h1, _np_cell(mode, x[1:], hx[1:], *w)[0][0], F64)
        close(cell(ttorch.tensor(x)), _np_cell(mode, x, np.zeros((2, 4)), *w)[0], F64)
    if name == "RNNCell":
        relu = _make(nn.RNNCell, 3, 4, nonlinearity="relu", bias=False)
        wr = [_np(relu.weight_ih), _np(relu.weight_hh), None, None]
        close(relu(ttorch.tensor(x), ttorch.tensor(hx)), _np_cell("RNN_RELU", x, hx, *wr)[0], F64)


# ---------------------------------------------------------------------------------- state dict / init
def test_state_dict_keys_and_shapes():
    m = nn.LSTM(3, 5, num_layers=2, bidirectional=True, proj_size=2)
    per = lambda sfx, i: [(f"weight_ih{sfx}", (20, i)), (f"weight_hh{sfx}", (20, 2)), (f"bias_ih{sfx}", (20,)),
                          (f"bias_hh{sfx}", (20,)), (f"weight_hr{sfx}", (2, 5))]
    expected = per("_l0", 3) + per("_l0_reverse", 3) + per("_l1", 4) + per("_l1_reverse", 4)
    assert [(k, tuple(v.shape)) for k, v in m.state_dict().items()] == expected
    assert m._flat_weights_names == [k for k, _ in expected]
    assert [len(w) for w in m.all_weights] == [5, 5, 5, 5]

    g = nn.GRU(3, 4, num_layers=2, bias=False)
    assert [(k, tuple(v.shape)) for k, v in g.state_dict().items()] == [
        ("weight_ih_l0", (12, 3)), ("weight_hh_l0", (12, 4)), ("weight_ih_l1", (12, 4)), ("weight_hh_l1", (12, 4))]
    r = nn.RNN(2, 3, bidirectional=True)
    assert [(k, tuple(v.shape)) for k, v in r.state_dict().items()] == [
        ("weight_ih_l0", (3, 2)), ("weight_hh_l0", (3, 3)), ("bias_ih_l0", (3,)), ("bias_hh_l0", (3,)),
        ("weight_ih_l0_reverse", (3, 2)), ("weight_hh_l0_reverse", (3, 3)), ("bias_ih_l0_reverse", (3,)),
        ("bias_hh_l0_reverse", (3,))]
    for cls, g in ((nn.RNNCell, 1), (nn.LSTMCell, 4), (nn.GRUCell, 3)):
        sd = cls(3, 4).state_dict()
        assert [(k, tuple(v.shape)) for k, v in sd.items()] == [
            ("weight_ih", (4 * g, 3)), ("weight_hh", (4 * g, 4)), ("bias_ih", (4 * g,)), ("bias_hh", (4 * g,))]
    c = nn.GRUCell(3, 4, bias=False)
    assert list(c.state_dict()) == ["weight_ih", "weight_hh"] and c.bias_ih is None

    # load_state_dict round trip changes the output
    a, b = nn.GRU(3, 4, dtype=F64), nn.GRU(3, 4, dtype=F64)
    x = ttorch.randn(2, 1, 3, dtype=F64)
    b.load_state_dict(a.state_dict())
    close(b(x)[0], a(x)[0], F64)


def test_default_init_and_repr():
    ttorch.manual_seed(0)
    m = nn.LSTM(8, 100, num_layers=2, proj_size=10)
    bound = 1 / math.sqrt(100)
    for p in m.parameters():  # all of them, weight_hr included, from U(-1/sqrt(H), 1/sqrt(H))
        a = _np(p)
        assert np.abs(a).max() <= bound and np.abs(a).max() > 0.9 * bound
        assert p.requires_grad and p.is_leaf
    assert abs(_np(m.weight_ih_l1).std() - bound / math.sqrt(3)) < 0.05 * bound
    assert nn.GRUCell(2, 3, dtype=F64).weight_hh.dtype is F64
    assert repr(m) == "LSTM(8, 100, proj_size=10, num_layers=2)"
    assert repr(nn.GRU(2, 3, 2, bias=False, batch_first=True, dropout=0.5, bidirectional=True)) == \
        "GRU(2, 3, num_layers=2, bias=False, batch_first=True, dropout=0.5, bidirectional=True)"
    assert repr(nn.RNN(2, 3, nonlinearity="relu")) == "RNN(2, 3)"
    assert repr(nn.RNNCell(2, 3, bias=False, nonlinearity="relu")) == "RNNCell(2, 3, bias=False, nonlinearity=relu)"
    assert repr(nn.LSTMCell(2, 3)) == "LSTMCell(2, 3)"
    r = nn.RNN(2, 3, 2, "relu")  # nonlinearity is the 4th positional argument, as in PyTorch
    assert r.nonlinearity == "relu" and r.mode == "RNN_RELU"


# ------------------------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cell_gradcheck(name):
    cell = _make(getattr(nn, name), 2, 3)
    x = ttorch.randn(2, 2, dtype=F64, requires_grad=True)
    h = ttorch.randn(2, 3, dtype=F64, requires_grad=True)
    ws = [cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh]
    fn = F_CELLS[name]
    if name == "LSTMCell":
        c = ttorch.randn(2, 3, dtype=F64, requires_grad=True)
        assert ttorch.autograd.gradcheck(lambda x, h, c, *w: fn(x, (h, c), *w), (x, h, c, *ws))
    else:
        assert ttorch.autograd.gradcheck(fn, (x, h, *ws))


F_CELLS = {"RNNCell": _Frnn.rnn_tanh_cell, "LSTMCell": _Frnn.lstm_cell, "GRUCell": _Frnn.gru_cell}


def test_module_gradcheck_through_time():
    """Gradients through 2 layers, both directions, the projection and the initial states."""
    m = _make(nn.LSTM, 1, 2, num_layers=2, proj_size=1, bidirectional=True)
    x = ttorch.randn(2, 1, 1, dtype=F64, requires_grad=True)
    h0 = ttorch.randn(4, 1, 1, dtype=F64, requires_grad=True)
    c0 = ttorch.randn(4, 1, 2, dtype=F64, requires_grad=True)
    ws = [getattr(m, n) for n in m._flat_weights_names]

    def f(x, h0, c0, *ws):
        out, (h, c) = _Frnn._rnn("LSTM", x, (h0, c0), list(ws), True, True, 2, 0.0, False, True)
        return out, h, c

    assert ttorch.autograd.gradcheck(f, (x, h0, c0, *ws))


def test_gru_module_gradcheck():
    g = _make(nn.GRU, 2, 2, bidirectional=True, batch_first=True)
    assert ttorch.autograd.gradcheck(lambda x, h: g(x, h), (ttorch.randn(1, 3, 2, dtype=F64, requires_grad=True),
                                                         ttorch.randn(2, 1, 2, dtype=F64, requires_grad=True)))


# ---------------------------------------------------------------------------------- devices / dropout
@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_device_parity(kind, device):
    """Same weights on cpu and on ``device``: same outputs, states and gradients (float32, tiny)."""
    kw = {"proj_size": 2} if kind == "LSTM" else {}
    ref = getattr(nn, kind)(2, 3, bidirectional=True, batch_first=True, **kw)
    m = getattr(nn, kind)(2, 3, bidirectional=True, batch_first=True, **kw)
    m.load_state_dict(ref.state_dict())
    m.to(device)
    x = ttorch.randn(2, 2, 2)  # (N, T, H_in): the interpreter is slow, two steps suffice
    outs = []
    for mod, xx in ((ref, x), (m, x.to(device))):
        out, hid = mod(xx)
        h = hid[0] if kind == "LSTM" else hid
        assert out.device.type == device and h.device.type == device if mod is m else True
        (out.sum() + (h * h).sum()).backward()
        outs.append((out, h, [p.grad for p in mod.parameters()]))
    close(outs[1][0], outs[0][0], ttorch.float32, n=8)
    close(outs[1][1], outs[0][1], ttorch.float32, n=8)
    for g1, g0 in zip(outs[1][2], outs[0][2]):
        close(g1, g0, ttorch.float32, n=16)


def test_dropout_between_layers_train_only():
    rng = np.random.default_rng(5)
    m = _make(nn.GRU, 3, 4, num_layers=2, dropout=1.0)
    x = rng.normal(size=(4, 2, 3))
    out_eval, _ = m.eval()(ttorch.tensor(x))
    close(out_eval, _np_rnn(m, x)[0], F64)  # eval: no dropout
    out_train, h_train = m.train()(ttorch.tensor(x))
    # p = 1 zeroes the second layer's whole input: layer 1 then runs on zeros
    top = _make(nn.GRU, 4, 4)
    top.load_state_dict({k.replace("_l1", "_l0"): v for k, v in m.state_dict().items() if "_l1" in k})
    close(out_train, _np_rnn(top, np.zeros((4, 2, 4)))[0], F64)
    close(h_train[0], _np_rnn(m, x)[1][0], F64)  # the first layer is untouched
    with pytest.warns(UserWarning, match="dropout option adds dropout after all but last recurrent layer"):
        nn.LSTM(2, 3, dropout=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.LSTM(2, 3, num_layers=2, dropout=0.5)


# ------------------------------------------------------------------------------------------------ errors
def test_errors():
    m = nn.RNN(10, 20)
    with pytest.raises(RuntimeError, match=r"input.size\(-1\) must be equal to input_size. Expected 10, got 5"):
        m(ttorch.randn(4, 3, 5))
    with pytest.raises(RuntimeError, match=r"Expected hidden size \(1, 3, 20\), got \[1, 3, 21\]"):
        m(ttorch.randn(4, 3, 10), ttorch.randn(1, 3, 21))
    with pytest.raises(RuntimeError, match="For batched 3-D input, hx should also be 3-D but got 2-D tensor"):
        m(ttorch.randn(4, 3, 10), ttorch.randn(3, 20))
    with pytest.raises(RuntimeError, match="For unbatched 2-D input, hx should also be 2-D but got 3-D tensor"):
        m(ttorch.randn(4, 10), ttorch.randn(1, 1, 20))
    with pytest.raises(ValueError, match="RNN: Expected input to be 2D or 3D, got 4D tensor instead"):
        m(ttorch.randn(1, 4, 3, 10))
    with pytest.raises(ValueError, match=r"RNN input dtype \(ttorch.float64\) does not match weight dtype "
                                         r"\(ttorch.float32\)"):
        m(ttorch.randn(4, 3, 10, dtype=F64))
    lstm = nn.LSTM(10, 20, proj_size=5)
    with pytest.raises(RuntimeError, match=r"Expected hidden\[0\] size \(1, 3, 5\), got \[1, 3, 20\]"):
        lstm(ttorch.randn(4, 3, 10), (ttorch.randn(1, 3, 20), ttorch.randn(1, 3, 20)))
    with pytest.raises(RuntimeError, match=r"Expected hidden\[1\] size \(1, 3, 20\), got \[1, 3, 5\]"):
        lstm(ttorch.randn(4, 3, 10), (ttorch.randn(1, 3, 5), ttorch.randn(1, 3, 5)))
    with pytest.raises(RuntimeError, match=r"hx and cx should also be 3-D but got \(2-D, 3-D\) tensors"):
        lstm(ttorch.randn(4, 3, 10), (ttorch.randn(3, 5), ttorch.randn(1, 3, 20)))
    with pytest.raises(ValueError, match="GRU: Expected input to be 2D or 3D, got 1D instead"):
        nn.GRU(2, 3)(ttorch.randn(2))
    with pytest.raises(TypeError, match="PackedSequence"):
        nn.LSTM(2, 3)((ttorch.randn(3, 2), ttorch.tensor([3])))
    with pytest.raises(ValueError, match="proj_size argument is only supported for LSTM, not RNN or GRU"):
        nn.GRU(2, 3, proj_size=1)
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        nn.LSTM(2, 3, proj_size=3)
    with pytest.raises(ValueError, match="Unknown nonlinearity 'gelu'. Select from 'tanh' or 'relu'."):
        nn.RNN(2, 3, nonlinearity="gelu")
    with pytest.raises(ValueError, match="dropout should be a number in range"):
        nn.GRU(2, 3, dropout=1.5)
    with pytest.raises(ValueError, match="hidden_size must be greater than zero"):
        nn.GRU(2, 0)
    with pytest.raises(TypeError, match="hidden_size should be of type int, got: float"):
        nn.GRU(2, 3.0)
    with pytest.raises(ValueError, match="LSTMCell: Expected input to be 1D or 2D, got 3D instead"):
        nn.LSTMCell(2, 3)(ttorch.randn(1, 1, 2))
    with pytest.raises(RuntimeError, match="input has inconsistent input_size: got 4 expected 2"):
        nn.GRUCell(2, 3)(ttorch.randn(1, 4))
    with pytest.raises(RuntimeError, match="Input batch size 2 doesn't match hidden0 batch size 1"):
        nn.RNNCell(2, 3)(ttorch.randn(2, 2), ttorch.randn(1, 3))
    with pytest.raises(RuntimeError, match=r"hidden1 has inconsistent hidden_size: got 4, expected 3"):
        nn.LSTMCell(2, 3)(ttorch.randn(2, 2), (ttorch.randn(2, 3), ttorch.randn(2, 4)))


# ---------------------------------------------------------------------------------------- convergence
def _train(kind, steps, lr):
    """Many-to-one task: predict a mix of a sequence's mean and its last value from the last hidden
    state, with a hand-written Adam (ttorch.optim does not exist yet)."""
    ttorch.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 5, 2)).astype(np.float32)
    y = x[:, :, :1].mean(1) * 2.0 + x[:, -1, 1:] * 0.5  # (16, 1)
    x, y = ttorch.tensor(x), ttorch.tensor(y)
    rnn, head = getattr(nn, kind)(2, 8, batch_first=True), nn.Linear(8, 1)
    params = list(rnn.parameters()) + list(head.parameters())
    m = [ttorch.zeros_like(p) for p in params]
    v = [ttorch.zeros_like(p) for p in params]
    losses = []
    for step in range(1, steps + 1):
        out, _ = rnn(x)  # (16, 5, 8)
        loss = ((head(out[:, -1]) - y) ** 2).mean()
        for p in params:
            p.grad = None
        loss.backward()
        with ttorch.no_grad():
            for p, mp, vp in zip(params, m, v):
                mp.mul_(0.9).add_(p.grad * 0.1)
                vp.mul_(0.999).add_(p.grad * p.grad * 0.001)
                p.sub_(mp / (1 - 0.9 ** step) / ((vp / (1 - 0.999 ** step)).sqrt() + 1e-8) * lr)
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_sequence_model_trains(kind):
    losses = _train(kind, steps=60, lr=0.05)  # ~3 s each on one cpu core
    assert losses[0] > 0.5 and losses[-1] < 0.01, (losses[0], losses[-1])
