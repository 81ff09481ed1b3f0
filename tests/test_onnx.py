"""ttorch.onnx.export: the written ModelProto is decoded with ttorch.onnx._reader and run by a NumPy
interpreter (tests/_onnx_numpy.py); its outputs must match the model's. No onnx package needed."""
import io
import os

import numpy as np
import pytest

import ttorch
import ttorch.nn as nn
import ttorch.nn.functional as F
from ttorch.onnx import _proto as P
from ttorch.onnx._reader import load_model

from _onnx_numpy import run


def _export(model, args, **kw):
    buf = io.BytesIO()
    ttorch.onnx.export(model, args, buf, **kw)
    return load_model(buf.getvalue())


def _check(model, md, *args, atol=1e-5):
    names = [i[0] for i in md["graph"]["inputs"]]
    feeds = {n: a.numpy() for n, a in zip(names, args)}
    got = run(md, feeds)
    with ttorch.no_grad():
        want = model(*args)
    want = [want] if isinstance(want, ttorch.Tensor) else list(want)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == tuple(w.shape)
        np.testing.assert_allclose(g, w.double().numpy(), atol=atol, rtol=1e-4)


def test_mlp_names_dynamic_batch_and_values():
    m = nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 3), nn.Softmax(-1))
    md = _export(m, (ttorch.randn(2, 4),), input_names=["x"], output_names=["probs"],
                 dynamic_axes={"x": {0: "batch"}, "probs": [0]}, opset_version=17)
    g = md["graph"]
    assert md["opset_import"] == {"": 17} and md["ir_version"] == 8 and md["producer_name"] == "ttorch"
    assert g["inputs"] == [("x", P.FLOAT, ["batch", 4])]
    assert g["outputs"] == [("probs", P.FLOAT, ["probs_dynamic_axes_1", 3])]
    assert set(g["initializers"]) == {"0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"}
    np.testing.assert_array_equal(g["initializers"]["2.bias"], m[2].bias.detach().numpy())
    assert [n["op_type"] for n in g["nodes"]].count("Gemm") == 3
    m.eval()
    for b in (2, 5):                                      # the batch dim is free
        _check(m, md, ttorch.randn(b, 4))


class _CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.c2 = nn.Conv2d(4, 6, 3, stride=2, groups=2, padding="valid")
        self.gn = nn.GroupNorm(3, 6)
        self.c3 = nn.Conv1d(6, 4, 2, padding="same", dilation=2)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn(self.c1(x))), 2, stride=1)
        x = F.silu(self.gn(self.c2(x)))
        x = F.avg_pool2d(x, 2, padding=1, count_include_pad=False)
        y = self.c3(x.flatten(2))                        # (N, 4, L)
        return self.fc(F.adaptive_avg_pool1d(y, 1).flatten(1)), F.dropout(y, 0.5, self.training)


def test_cnn_with_batchnorm_groupnorm_pools():
    m = _CNN()
    m.bn.running_mean.normal_()
    m.bn.running_var.uniform_(0.5, 2.0)
    x = ttorch.randn(2, 3, 9, 9)
    md = _export(m, x)
    ops = {n["op_type"] for n in md["graph"]["nodes"]}
    assert {"Conv", "BatchNormalization", "MaxPool", "AveragePool", "GlobalAveragePool"} <= ops
    assert "Dropout" not in ops and m.training            # exported in eval mode, the mode restored after
    assert {"bn.running_mean", "bn.running_var", "c1.weight"} <= set(md["graph"]["initializers"])
    m.eval()
    _check(m, md, x)


def test_transformer_encoder_layer_dynamic_batch_and_sequence():
    layer = nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16, batch_first=True)
    md = _export(layer, ttorch.randn(2, 3, 8), input_names=["src"],
                 dynamic_axes={"src": {0: "B", 1: "T"}, "output": {0: "B", 1: "T"}})
    assert md["graph"]["inputs"][0][2] == ["B", "T", 8]
    assert md["graph"]["outputs"][0][2] == ["B", "T", 8]
    assert "Shape" in {n["op_type"] for n in md["graph"]["nodes"]}
    layer.eval()
    for b, t in ((2, 3), (3, 5)):
        _check(layer, md, ttorch.randn(b, t, 8), atol=2e-5)


def test_multihead_attention_with_weights_and_mask():
    mha = nn.MultiheadAttention(8, 2)

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.mha = mha

        def forward(self, q, kv, mask):
            return self.mha(q, kv, kv, key_padding_mask=mask)

    q, kv = ttorch.randn(3, 2, 8), ttorch.randn(4, 2, 8)
    mask = ttorch.tensor([[False, False, True, False], [False, True, False, False]])
    m = M()
    md = _export(m, (q, kv, mask))
    assert md["graph"]["inputs"][2][1] == P.BOOL
    m.eval()
    _check(m, md, q, kv, mask)


class _Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(11, 8)
        self.ln = nn.LayerNorm(8)
        self.qkv = nn.Linear(8, 24)

    def forward(self, ids):
        h = self.ln(self.emb(ids))
        B, T, C = h.shape
        q, k, v = self.qkv(h).split(C, dim=-1)
        q, k, v = (t.view(B, T, 2, C // 2).transpose(1, 2) for t in (q, k, v))
        o = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, C)
        last = o[:, -1, :] * 2.0 + 1 - o.mean(dim=1) / C ** 0.5
        mask = ids.unsqueeze(-1) > 5
        return last.log_softmax(-1), ttorch.where(mask, h, -h).masked_fill(~mask, 0.25)[:, ::2, 1:7:3]


def test_embedding_attention_slicing_with_dynamic_axes():
    m = _Tiny()
    md = _export(m, ttorch.randint(0, 11, (2, 4)), input_names=["ids"], dynamic_axes={"ids": {0: "B", 1: "T"}})
    ops = [n["op_type"] for n in md["graph"]["nodes"]]
    assert "Gather" in ops and "Trilu" in ops and "Softmax" in ops and "LayerNormalization" in ops
    assert md["graph"]["inputs"][0][1:] == (P.INT64, ["B", "T"])
    for shape in ((2, 4), (3, 7)):
        _check(m, md, ttorch.randint(0, 11, shape))


def test_tensor_ops_opset13_and_18():
    class Ops(nn.Module):
        def forward(self, x):
            a, b = x.chunk(2, dim=-1)
            p, q = ttorch.split(x, [2, 4], dim=2)
            e = ttorch.stack([p.sum(-1), q.amax(-1)], dim=1)
            f = F.pad(x, (1, 2), value=-1.0)[..., 1:-2] + ttorch.arange(6.0)
            g = x.permute(2, 0, 1).contiguous().view(6, -1).t()
            h = x[:, 1:3].unsqueeze(1).expand(-1, 2, -1, -1).flatten(0, 1)
            i = (x.clamp(-0.5, 0.5) ** 2).mean((1, 2), keepdim=True).sqrt() + x.var(-1, keepdim=True)
            j = ttorch.cat([x.max(dim=1).values, x.argmax(1).float(), x.std(1)], dim=-1)
            k = F.hardswish(x) + F.elu(x) + F.relu6(x * 4) + F.leaky_relu(x, 0.2) - x.cumsum(1)
            n = x.unflatten(-1, (2, 3)).transpose(-1, -2).reshape(x.shape[0], -1) // 0.3 % 2.0
            return a * b, e, f, g, h, i, j, k, n, (x > 0).sum(-1), ttorch.tril(ttorch.ones(4, 6)) * x
    m, x = Ops(), ttorch.randn(2, 4, 6)
    for opset in (13, 18):
        md = _export(m, x, opset_version=opset, dynamic_axes={"x": [0]})
        red = next(n for n in md["graph"]["nodes"] if n["op_type"] == "ReduceMean")
        assert ("axes" in red["attrs"]) == (opset < 18)          # axes moved to an input in opset 18
        assert not [k for k in vars(m) if k.startswith("_tensor_constant")]     # the model is left as it was
        _check(m, md, x)
        _check(m, md, ttorch.randn(3, 4, 6))


def test_constant_folding_and_params_as_inputs():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(ttorch.randn(3, 3))

        def forward(self, x):
            return x @ (self.w.t() * 2)

    m, x = M(), ttorch.randn(2, 3)
    folded = _export(m, x)
    assert [n["op_type"] for n in folded["graph"]["nodes"]] == ["MatMul"]
    _check(m, folded, x)
    kept = _export(m, x, do_constant_folding=False)
    assert "Transpose" in [n["op_type"] for n in kept["graph"]["nodes"]]
    _check(m, kept, x)
    no_params = _export(m, x, export_params=False, do_constant_folding=False)
    assert [i[0] for i in no_params["graph"]["inputs"]] == ["x", "w"] and not no_params["graph"]["initializers"]
    as_inputs = _export(m, x, keep_initializers_as_inputs=True, do_constant_folding=False)
    assert [i[0] for i in as_inputs["graph"]["inputs"]] == ["x", "w"] and "w" in as_inputs["graph"]["initializers"]


def test_file_destinations_return_value_and_flag(tmp_path):
    seen = []

    class M(nn.Module):
        def forward(self, x):
            seen.append(ttorch.onnx.is_in_onnx_export())
            return x.relu()

    path = tmp_path / "m.onnx"
    prog = ttorch.onnx.export(M(), (ttorch.randn(2),), str(path))
    assert isinstance(prog, ttorch.onnx.ONNXProgram) and seen == [True]
    assert not ttorch.onnx.is_in_onnx_export()
    assert load_model(str(path))["graph"]["nodes"][0]["op_type"] == "Relu"
    assert os.listdir(tmp_path) == ["m.onnx"]               # the temporary file was renamed away
    assert ttorch.onnx.export(M(), (ttorch.randn(2),), tmp_path / "n.onnx", dynamo=False) is None
    prog.save(tmp_path / "p.onnx")
    assert (tmp_path / "p.onnx").read_bytes() == path.read_bytes()


def test_unsupported_operator_names_the_op():
    class M(nn.Module):
        def forward(self, x):
            return ttorch.unique(x)

    with pytest.raises(ttorch.onnx.errors.UnsupportedOperatorError, match="'aten::unique' to ONNX opset version 20"):
        ttorch.onnx.export(M(), (ttorch.randn(3),), io.BytesIO())
    with pytest.raises(ValueError, match="Unsupported ONNX opset version: 9"):
        ttorch.onnx.export(M(), (ttorch.randn(3),), io.BytesIO(), opset_version=9)


def test_custom_op_symbolic_register_and_unregister():
    def gelu_symbolic(g, input, approximate):
        return g.op("mydomain::FastGelu", input, alpha_f=1.5)

    m, x = nn.GELU(), ttorch.randn(2, 3)
    ttorch.onnx.register_custom_op_symbolic("::gelu", gelu_symbolic, 17)
    try:
        md = _export(m, x, custom_opsets={"mydomain": 2})
        node = md["graph"]["nodes"][0]
        assert (node["op_type"], node["domain"], node["attrs"]) == ("FastGelu", "mydomain", {"alpha": 1.5})
        assert md["opset_import"] == {"": 20, "mydomain": 2}
    finally:
        ttorch.onnx.unregister_custom_op_symbolic("::gelu", 17)
    assert "Erf" in [n["op_type"] for n in _export(m, x)["graph"]["nodes"]]

    @ttorch.onnx.symbolic_helper.parse_args("v", "i", "none")
    def softmax_symbolic(g, input, dim, dtype):        # TorchScript's argument list: (self, dim, dtype)
        assert (input.type().sizes(), input.type().dim(), input.type().scalarType()) == ([2, 3], 2, "Float")
        y = g.op("Softmax", g.op("Cast", input, to_i=ttorch.onnx.TensorProtoDataType.DOUBLE), axis_i=dim)
        return g.op("Cast", y, to_i=ttorch.onnx.TensorProtoDataType.FLOAT)

    ttorch.onnx.register_custom_op_symbolic("aten::softmax", softmax_symbolic, 13)
    try:
        sm = nn.Softmax(dim=1)
        md = _export(sm, x, opset_version=17)
        assert [n["op_type"] for n in md["graph"]["nodes"]] == ["Cast", "Softmax", "Cast"]
        assert md["graph"]["nodes"][1]["attrs"] == {"axis": 1}
        _check(sm, md, x)
    finally:
        ttorch.onnx.unregister_custom_op_symbolic("aten::softmax", 13)
    with pytest.raises(ttorch.onnx.OnnxExporterError, match="must match the format domain::name"):
        ttorch.onnx.register_custom_op_symbolic("gelu", gelu_symbolic, 17)
    with pytest.raises(ValueError, match="onnx domain cannot be modified"):
        ttorch.onnx.register_custom_op_symbolic("onnx::Relu", gelu_symbolic, 17)


def test_lstm_gru_rnn_modules():
    class Seq(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(3, 4, num_layers=2, batch_first=True, bidirectional=True)
            self.gru = nn.GRU(8, 3)
            self.rnn = nn.RNN(3, 2, bias=False)

        def forward(self, x, h0):
            h, (hn, cn) = self.lstm(x)
            y, gh = self.gru(h.transpose(0, 1), h0)
            return self.rnn(y)[0], hn, cn, gh

    m = Seq()
    x, h0 = ttorch.randn(2, 5, 3), ttorch.randn(1, 2, 3)
    md = _export(m, (x, h0), input_names=["x", "h0"], dynamic_axes={"x": [0, 1], "h0": [1]})
    assert [n["op_type"] for n in md["graph"]["nodes"] if n["op_type"] in ("LSTM", "GRU", "RNN")] == \
        ["LSTM", "LSTM", "GRU", "RNN"]
    assert "lstm.W_l1" in md["graph"]["initializers"]
    m.eval()
    _check(m, md, x, h0)
    _check(m, md, ttorch.randn(3, 4, 3), ttorch.randn(1, 3, 3))


class _CausalLM(nn.Module):
    """nanoGPT's attention: sizes read from the input, a causal-mask buffer sliced by them, HF's mask arithmetic."""

    def __init__(self):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(13, 8), nn.Embedding(16, 8)
        self.c_attn, self.head = nn.Linear(8, 24), nn.Linear(8, 13, bias=False)
        self.register_buffer("bias", ttorch.tril(ttorch.ones(16, 16)).view(1, 1, 16, 16))

    def forward(self, idx, attention_mask):
        B, T = idx.size()
        x = self.wte(idx) + self.wpe(ttorch.arange(0, T, dtype=ttorch.long, device=idx.device))
        q, k, v = self.c_attn(x).split(8, dim=2)
        q, k, v = (t.view(*t.size()[:-1], 2, -1).transpose(1, 2) for t in (q, k, v))    # (B, nh, T, hs)
        att = (q @ k.transpose(-2, -1)) * (1.0 / k.size(-1) ** 0.5)
        att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, 8)
        ext = (1.0 - attention_mask[:, :, None].to(x.dtype)) * ttorch.finfo(x.dtype).min
        return self.head(y) + ext


def test_causal_lm_dynamic_batch_and_sequence():
    m = _CausalLM()
    am = ttorch.ones(2, 5, dtype=ttorch.long)
    md = _export(m, (ttorch.randint(0, 13, (2, 5)), am), input_names=["input_ids", "attention_mask"],
                 dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"}})
    assert "bias" in md["graph"]["initializers"]          # sliced in the graph, not frozen at the example's T
    for b, t in ((2, 5), (1, 9)):
        am = ttorch.ones(b, t, dtype=ttorch.long)
        am[0, :2] = 0
        _check(m, md, ttorch.randint(0, 13, (b, t)), am, atol=1e-4)


def test_inplace_ops_kwargs_and_nested_outputs():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin, self.act = nn.Linear(3, 3), nn.ReLU(inplace=True)

        def forward(self, x, *, scale, extra=None):
            y = self.lin(x)
            y.mul_(2)                                      # read back below: the graph must see the new value
            z = self.act(y)
            return {"a": z + y, "b": [x * scale, extra["t"].float()]}

    m, x = M(), ttorch.randn(2, 3)
    kw = {"scale": ttorch.tensor(3.0), "extra": {"t": ttorch.arange(3)}}
    md = _export(m, (x, kw), dynamic_shapes={"x": {0: "n"}})
    g = md["graph"]
    assert [i[0] for i in g["inputs"]] == ["x", "scale", "extra_0"] and g["inputs"][0][2] == ["n", 3]
    assert [o[0] for o in g["outputs"]] == ["output_0", "output_1", "output_2"]
    feeds = {"x": x.numpy(), "scale": kw["scale"].numpy(), "extra_0": kw["extra"]["t"].numpy()}
    got = run(md, feeds)
    with ttorch.no_grad():
        want = m(x, **kw)
    for g_, w in zip(got, [want["a"], want["b"][0], want["b"][1]]):
        np.testing.assert_allclose(g_, w.numpy(), atol=1e-6)


def test_unsupported_method_names_the_op():
    class M(nn.Module):
        def forward(self, x):
            return x.kthvalue(1).values

    with pytest.raises(ttorch.onnx.errors.UnsupportedOperatorError, match="aten::kthvalue"):
        ttorch.onnx.export(M(), (ttorch.randn(3),), io.BytesIO())


def test_indexing_variants():
    class M(nn.Module):
        def forward(self, x, i):
            return (x[:, [0, 2], None], x[..., i, None, 1:], x[1, :, -1], x[None, ..., 0], x[0, ..., None, 1],
                    x[:, 1:, ::2], x.narrow(2, 1, 2), x.select(1, 2), x.index_select(1, i[0]), x.mT,
                    *x.round().sort(-1, descending=True), ttorch.argsort(x.round(), dim=1), x.topk(2, dim=1).values)

    m, x, i = M(), ttorch.randn(2, 3, 4), ttorch.tensor([[0, 1], [2, 2]])
    md = _export(m, (x, i))
    _check(m, md, x, i)

    class Two(nn.Module):
        def forward(self, x, i):
            return x[i, i]
    with pytest.raises(ttorch.onnx.errors.UnsupportedOperatorError, match="several tensor indices"):
        ttorch.onnx.export(Two(), (x, i.clamp(max=1)), io.BytesIO())


def test_autograd_function_symbolic_and_traced_forward():
    class ScaledRelu(ttorch.autograd.Function):
        @staticmethod
        def forward(ctx, x, alpha):
            return x.clamp(min=0) * alpha

        @staticmethod
        def backward(ctx, grad):
            return grad, None

        @staticmethod
        def symbolic(g, x, alpha):
            return g.op("custom::ScaledRelu", x, alpha_f=alpha)

    class Triple(ttorch.autograd.Function):          # no symbolic: its forward is traced through
        @staticmethod
        def forward(ctx, x):
            return x * 3

        @staticmethod
        def backward(ctx, grad):
            return grad * 3

    class M(nn.Module):
        def forward(self, x):
            return ScaledRelu.apply(x, 2.0) + Triple.apply(x)

    md = _export(M(), ttorch.randn(3))
    nodes = md["graph"]["nodes"]
    assert (nodes[0]["op_type"], nodes[0]["domain"], nodes[0]["attrs"]) == ("ScaledRelu", "custom", {"alpha": 2.0})
    assert [n["op_type"] for n in nodes[1:]] == ["Constant", "Mul", "Add"]
    assert md["opset_import"] == {"": 20, "custom": 1}


def test_repeated_and_passthrough_outputs():
    class M(nn.Module):
        def forward(self, x):
            y = x.relu()
            return y, y, x

    m, x = M(), ttorch.tensor([-1.0, 2.0, -3.0])
    md = _export(m, x, output_names=["a", "b"])
    assert [o[0] for o in md["graph"]["outputs"]] == ["a", "b", "output_2"]
    assert [n["op_type"] for n in md["graph"]["nodes"]] == ["Relu", "Identity", "Identity"]
    _check(m, md, x)


def test_rope_gqa_rmsnorm_ops_dynamic():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("inv_freq", 1.0 / (100 ** (ttorch.arange(0, 4, 2).float() / 4)))

        def forward(self, x):                                 # (B, 2 heads, T, 4)
            t = ttorch.arange(x.shape[2], dtype=ttorch.float32)
            freqs = ttorch.outer(t, self.inv_freq)
            emb = ttorch.cat((freqs, freqs), dim=-1)
            rot = ttorch.cat((-x[..., 2:], x[..., :2]), dim=-1)
            y = (x * emb.cos() + rot * emb.sin()).repeat_interleave(2, dim=1)
            return F.rms_norm(y, (4,), eps=1e-6).flip(2), x.flatten().repeat_interleave(2)

    m = M()
    md = _export(m, ttorch.randn(1, 2, 3, 4), dynamic_axes={"x": {0: "B", 2: "T"}})
    for shape in ((1, 2, 3, 4), (2, 2, 5, 4)):
        _check(m, md, ttorch.randn(*shape))


def test_docstring_examples():
    import doctest
    from ttorch.onnx import _api, _graph
    for mod in (_api, _graph):
        res = doctest.testmod(mod, extraglobs={"ttorch": ttorch}, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert res.failed == 0
    assert doctest.testmod(_api, extraglobs={"ttorch": ttorch}).attempted >= 3
