"""A tiny NumPy interpreter of ONNX graphs (float64 inside) for tests/test_onnx.py: the ops ttorch.onnx emits,
with onnx's reference semantics; graphs come from ``ttorch.onnx._reader.load_model``."""
import itertools
import math

import numpy as np

from ttorch.onnx import _proto as P

_ERF = np.vectorize(math.erf)


def _conv(x, w, b, a):
    n = w.ndim - 2
    strides, dil = a.get("strides", [1] * n), a.get("dilations", [1] * n)
    pads, group = a.get("pads", [0] * 2 * n), a.get("group", 1)
    x = np.pad(x, [(0, 0), (0, 0)] + [(pads[i], pads[i + n]) for i in range(n)])
    k = w.shape[2:]
    out_sp = [(x.shape[2 + i] - dil[i] * (k[i] - 1) - 1) // strides[i] + 1 for i in range(n)]
    N, cout, cin_g = x.shape[0], w.shape[0], w.shape[1]
    y = np.zeros((N, cout, *out_sp))
    per = cout // group
    for gi in range(group):
        xs = x[:, gi * cin_g:(gi + 1) * cin_g]
        ws = w[gi * per:(gi + 1) * per]
        for kk in itertools.product(*[range(s) for s in k]):
            sl = tuple(slice(kk[i] * dil[i], kk[i] * dil[i] + strides[i] * (out_sp[i] - 1) + 1, strides[i])
                       for i in range(n))
            patch = xs[(slice(None), slice(None)) + sl]                      # (N, cin_g, *out)
            y[:, gi * per:(gi + 1) * per] += np.einsum("nc...,oc->no...", patch, ws[(slice(None), slice(None)) + kk])
    if b is not None:
        y += b.reshape((1, -1) + (1,) * n)
    return y


def _pool(x, a, kind):
    n = x.ndim - 2
    k = a["kernel_shape"]
    strides, pads = a.get("strides", [1] * n), a.get("pads", [0] * 2 * n)
    dil = a.get("dilations", [1] * n)
    fill = -np.inf if kind == "max" else 0.0
    xp = np.pad(x, [(0, 0), (0, 0)] + [(pads[i], pads[i + n]) for i in range(n)], constant_values=fill)
    ones = np.pad(np.ones(x.shape[2:]), [(pads[i], pads[i + n]) for i in range(n)])
    out_sp = [(xp.shape[2 + i] - dil[i] * (k[i] - 1) - 1) // strides[i] + 1 for i in range(n)]
    windows, counts = [], []
    for kk in itertools.product(*[range(s) for s in k]):
        sl = tuple(slice(kk[i] * dil[i], kk[i] * dil[i] + strides[i] * (out_sp[i] - 1) + 1, strides[i])
                   for i in range(n))
        windows.append(xp[(slice(None), slice(None)) + sl])
        counts.append(ones[sl])
    if kind == "max":
        return np.max(windows, axis=0)
    total = np.sum(windows, axis=0)
    return total / (np.prod(k) if a.get("count_include_pad", 0) else np.sum(counts, axis=0))


def _axes(ins, a, i=1):
    if len(ins) > i and ins[i] is not None:
        return tuple(int(v) for v in ins[i])
    return tuple(a["axes"]) if "axes" in a else None


def _reduce(fn):
    def r(ins, a):
        axes = _axes(ins, a)
        return fn(ins[0], axis=axes, keepdims=bool(a.get("keepdims", 1)))
    return r


def _layer_norm(x, w, b, a):
    axes = tuple(range(a.get("axis", -1) % x.ndim, x.ndim))
    m = x.mean(axes, keepdims=True)
    v = ((x - m) ** 2).mean(axes, keepdims=True)
    y = (x - m) / np.sqrt(v + a.get("epsilon", 1e-5)) * w
    return y if b is None else y + b


def _slice(x, starts, ends, axes=None, steps=None):
    sl = [slice(None)] * x.ndim
    axes = range(len(starts)) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    for s, e, ax, st in zip(starts, ends, axes, steps):
        sl[int(ax)] = slice(int(s), int(min(e, 2 ** 62)) if e > -2 ** 62 else None, int(st))
    return x[tuple(sl)]


def _pad(x, pads, cv=None, mode="constant"):
    n = x.ndim
    width = [(int(pads[i]), int(pads[i + n])) for i in range(n)]
    if mode == "constant":
        return np.pad(x, width, constant_values=0 if cv is None else cv)
    return np.pad(x, width, mode={"reflect": "reflect", "edge": "edge", "wrap": "wrap"}[mode])


def _split(ins, a):
    x, axis = ins[0], a.get("axis", 0)
    sizes = ins[1] if len(ins) > 1 and ins[1] is not None else None
    idx = np.cumsum(sizes)[:-1]
    return np.split(x, idx, axis=axis)


def _softmax(x, axis):
    e = np.exp(x - x.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


OPS = {
    "Identity": lambda i, a: i[0], "Constant": lambda i, a: a["value"], "Add": lambda i, a: i[0] + i[1],
    "Sub": lambda i, a: i[0] - i[1],
    "Mul": lambda i, a: i[0] * i[1], "Pow": lambda i, a: np.power(i[0], i[1]),
    "Div": lambda i, a: (i[0] / i[1]) if np.issubdtype(i[0].dtype, np.floating) else
    (np.trunc(i[0] / i[1])).astype(i[0].dtype),
    "Mod": lambda i, a: np.fmod(i[0], i[1]) if a.get("fmod") else np.mod(i[0], i[1]),
    "MatMul": lambda i, a: i[0] @ i[1], "Neg": lambda i, a: -i[0], "Abs": lambda i, a: np.abs(i[0]),
    "Sqrt": lambda i, a: np.sqrt(i[0]), "Exp": lambda i, a: np.exp(i[0]), "Log": lambda i, a: np.log(i[0]),
    "Reciprocal": lambda i, a: 1 / i[0], "Floor": lambda i, a: np.floor(i[0]), "Ceil": lambda i, a: np.ceil(i[0]),
    "Sign": lambda i, a: np.sign(i[0]), "Sin": lambda i, a: np.sin(i[0]), "Cos": lambda i, a: np.cos(i[0]),
    "Tanh": lambda i, a: np.tanh(i[0]), "Erf": lambda i, a: _ERF(i[0]), "Round": lambda i, a: np.round(i[0]),
    "Sigmoid": lambda i, a: 1 / (1 + np.exp(-i[0])), "Relu": lambda i, a: np.maximum(i[0], 0),
    "LeakyRelu": lambda i, a: np.where(i[0] > 0, i[0], a.get("alpha", 0.01) * i[0]),
    "Elu": lambda i, a: np.where(i[0] > 0, i[0], a.get("alpha", 1.0) * (np.exp(i[0]) - 1)),
    "Softplus": lambda i, a: np.log1p(np.exp(i[0])),
    "HardSigmoid": lambda i, a: np.clip(a.get("alpha", 0.2) * i[0] + a.get("beta", 0.5), 0, 1),
    "HardSwish": lambda i, a: i[0] * np.clip(i[0] / 6 + 0.5, 0, 1),
    "Max": lambda i, a: np.maximum(i[0], i[1]), "Min": lambda i, a: np.minimum(i[0], i[1]),
    "Clip": lambda i, a: np.clip(i[0], i[1] if len(i) > 1 and i[1] is not None else -np.inf,
                                 i[2] if len(i) > 2 and i[2] is not None else np.inf).astype(i[0].dtype),
    "Softmax": lambda i, a: _softmax(i[0], a.get("axis", -1)),
    "LogSoftmax": lambda i, a: np.log(_softmax(i[0], a.get("axis", -1))),
    "Gemm": lambda i, a: (i[0].T if a.get("transA") else i[0]) @ (i[1].T if a.get("transB") else i[1])
    * a.get("alpha", 1.0) + (a.get("beta", 1.0) * i[2] if len(i) > 2 else 0),
    "Conv": lambda i, a: _conv(i[0], i[1], i[2] if len(i) > 2 else None, a),
    "BatchNormalization": lambda i, a: (i[0] - _c(i[3], i[0])) / np.sqrt(_c(i[4], i[0]) + a.get("epsilon", 1e-5))
    * _c(i[1], i[0]) + _c(i[2], i[0]),
    "LayerNormalization": lambda i, a: _layer_norm(i[0], i[1], i[2] if len(i) > 2 else None, a),
    "MaxPool": lambda i, a: _pool(i[0], a, "max"), "AveragePool": lambda i, a: _pool(i[0], a, "avg"),
    "GlobalAveragePool": lambda i, a: i[0].mean(tuple(range(2, i[0].ndim)), keepdims=True),
    "GlobalMaxPool": lambda i, a: i[0].max(tuple(range(2, i[0].ndim)), keepdims=True),
    "Reshape": lambda i, a: i[0].reshape([i[0].shape[k] if s == 0 else int(s) for k, s in enumerate(i[1])]),
    "Transpose": lambda i, a: np.transpose(i[0], a.get("perm")),
    "Unsqueeze": lambda i, a: np.expand_dims(i[0], tuple(int(v) % (i[0].ndim + len(i[1])) for v in i[1])),
    "Squeeze": lambda i, a: np.squeeze(i[0], _axes(i, a)),
    "Concat": lambda i, a: np.concatenate(i, axis=a["axis"]), "Split": _split,
    "Slice": lambda i, a: _slice(i[0], *i[1:]),
    "Gather": lambda i, a: np.take(i[0], i[1].astype(np.int64), axis=a.get("axis", 0)),
    "Shape": lambda i, a: np.asarray(i[0].shape[a.get("start", 0):a.get("end")], np.int64),
    "Expand": lambda i, a: i[0] * np.ones([int(v) for v in i[1]], i[0].dtype),
    "Tile": lambda i, a: np.tile(i[0], [int(v) for v in i[1]]),
    "Cast": lambda i, a: i[0].astype(np.float64 if a["to"] in (P.FLOAT, P.FLOAT16, P.BFLOAT16)
                                     else P.TO_NUMPY[a["to"]]),
    "Where": lambda i, a: np.where(i[0], i[1], i[2]), "Equal": lambda i, a: i[0] == i[1],
    "Less": lambda i, a: i[0] < i[1], "Greater": lambda i, a: i[0] > i[1],
    "LessOrEqual": lambda i, a: i[0] <= i[1], "GreaterOrEqual": lambda i, a: i[0] >= i[1],
    "Not": lambda i, a: ~i[0], "And": lambda i, a: i[0] & i[1], "Or": lambda i, a: i[0] | i[1],
    "ReduceMean": _reduce(np.mean), "ReduceSum": _reduce(np.sum), "ReduceMax": _reduce(np.max),
    "ReduceMin": _reduce(np.min), "ReduceProd": _reduce(np.prod),
    "ReduceL2": _reduce(lambda x, axis, keepdims: np.sqrt(np.sum(x * x, axis=axis, keepdims=keepdims))),
    "ArgMax": lambda i, a: _keep(np.argmax(i[0], a.get("axis", 0)), a, i[0].ndim),
    "ArgMin": lambda i, a: _keep(np.argmin(i[0], a.get("axis", 0)), a, i[0].ndim),
    "ConstantOfShape": lambda i, a: np.full([int(v) for v in i[0]], a["value"].reshape(-1)[0]),
    "Range": lambda i, a: np.arange(i[0], i[1], i[2]),
    "Trilu": lambda i, a: (np.triu if a.get("upper", 1) else np.tril)(i[0], int(i[1]) if len(i) > 1 else 0),
    "Pad": lambda i, a: _pad(i[0], i[1], i[2] if len(i) > 2 else None, a.get("mode", "constant")),
    "CumSum": lambda i, a: np.cumsum(i[0], axis=int(i[1])),
    "LSTM": lambda i, a: _recurrent(i, a, "LSTM"), "GRU": lambda i, a: _recurrent(i, a, "GRU"),
    "RNN": lambda i, a: _recurrent(i, a, "RNN"), "TopK": lambda i, a: _topk(i, a),
}


def _sig(x):
    return 1 / (1 + np.exp(-x))


def _recurrent(ins, a, kind):
    """ONNX's RNN/GRU/LSTM (layout 0, default activations but RNN's, linear_before_reset for GRU)."""
    x, w, r = ins[0], ins[1], ins[2]
    b = ins[3] if len(ins) > 3 and ins[3] is not None else np.zeros((w.shape[0], 2 * w.shape[1]))
    h_init = ins[5] if len(ins) > 5 and ins[5] is not None else None
    c_init = ins[6] if len(ins) > 6 and ins[6] is not None else None
    hsz, ndir, T, N = a["hidden_size"], w.shape[0], x.shape[0], x.shape[1]
    act = {"Tanh": np.tanh, "Relu": lambda v: np.maximum(v, 0)}[a.get("activations", ["Tanh"])[0]]
    ys, hs, cs = [], [], []
    for d in range(ndir):
        h = np.zeros((N, hsz)) if h_init is None else h_init[d]
        c = np.zeros((N, hsz)) if c_init is None else c_init[d]
        wb, rb = np.split(b[d], 2)
        out = [None] * T
        for t in (range(T) if d == 0 else range(T - 1, -1, -1)):
            gx, gh = x[t] @ w[d].T + wb, h @ r[d].T + rb
            if kind == "LSTM":
                i, o, f, cc = np.split(gx + gh, 4, axis=-1)
                c = _sig(f) * c + _sig(i) * np.tanh(cc)
                h = _sig(o) * np.tanh(c)
            elif kind == "GRU":
                zx, rx, nx = np.split(gx, 3, axis=-1)
                zh, rh, nh = np.split(gh, 3, axis=-1)
                z, rr = _sig(zx + zh), _sig(rx + rh)
                h = (1 - z) * np.tanh(nx + rr * nh) + z * h
            else:
                h = act(gx + gh)
            out[t] = h
        ys.append(np.stack(out))
        hs.append(h)
        cs.append(c)
    res = [np.stack(ys, 1), np.stack(hs), np.stack(cs)]
    return res if kind == "LSTM" else res[:2]


def _topk(ins, a):
    x, k, axis = ins[0], int(ins[1].reshape(-1)[0]), a.get("axis", -1)
    order = np.argsort(-x if a.get("largest", 1) else x, axis=axis, kind="stable")
    idx = np.take(order, np.arange(k), axis=axis)
    return [np.take_along_axis(x, idx, axis=axis), idx.astype(np.int64)]


def _c(p, x):
    return p.reshape((1, -1) + (1,) * (x.ndim - 2))


def _keep(r, a, ndim):
    return np.expand_dims(r, a.get("axis", 0) % ndim) if a.get("keepdims", 1) else r


def run(model, feeds):
    """Run the graph of ``model`` (a ``load_model`` dict) on ``feeds`` ({input name: array}); float64 inside."""
    graph = model["graph"]
    env = {k: (v.astype(np.float64) if np.issubdtype(v.dtype, np.floating) else v)
           for k, v in graph["initializers"].items()}
    for k, v in feeds.items():
        env[k] = v.astype(np.float64) if np.issubdtype(np.asarray(v).dtype, np.floating) else np.asarray(v)
    for node in graph["nodes"]:
        ins = [env[n] if n else None for n in node["inputs"]]
        out = OPS[node["op_type"]](ins, node["attrs"])
        outs = out if isinstance(out, list) else [out]
        for name, value in zip(node["outputs"], outs):
            env[name] = np.asarray(value)
    return [env[o[0]] for o in graph["outputs"]]
