"""ttorch.fx: tracing, graph printing and code, GraphModule outputs/gradients equal to the eager model's on
both devices, Interpreter, Transformer, replace_pattern, ShapeProp. Expected strings are PyTorch 2.13's."""
import math
import operator
import re

import numpy as np
import pytest

import ttorch
import ttorch.fx as fx
import ttorch.nn as nn
import ttorch.nn.functional as F
from ttorch.fx.passes.shape_prop import ShapeProp
from ttorch.nn.functional import silu as direct_silu     # a global bound to a ttorch function: recorded too


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1, self.l2 = nn.Linear(4, 8), nn.Linear(8, 3)
        self.w = nn.Parameter(ttorch.ones(3) * 0.5)

    def forward(self, x):
        h = F.relu(self.l1(x))
        n = x.shape[0]
        y = self.l2(h).view(n, -1) * self.w + 1
        z = ttorch.cat([y, y], dim=1)
        return z.relu(), ttorch.stack((y, y)).sum(0)


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(12, 5))

    def forward(self, x):
        h = self.pool(F.relu(self.conv(x)))
        a = F.avg_pool2d(h, 1).view(h.size(0), -1)
        return self.head(h) + a.sum(-1, keepdim=True)


class Block(nn.Module):
    def __init__(self, d=8, nh=2):
        super().__init__()
        self.nh = nh
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc = nn.Linear(d, d)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q = q.view(B, T, self.nh, C // self.nh).transpose(1, 2)               # (B, nh, T, hs)
        k = k.view(B, T, self.nh, C // self.nh).transpose(1, 2)
        v = v.view(B, T, self.nh, C // self.nh).transpose(1, 2)
        att = F.softmax(ttorch.matmul(q, k.transpose(-2, -1)) / math.sqrt(C // self.nh), dim=-1)
        y = att @ v + F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(y.transpose(1, 2).contiguous().view(B, T, C))
        h = F.layer_norm(x, (C,), self.ln2.weight, self.ln2.bias)
        return x + F.gelu(self.fc(h))


def _check_same(model, x, device):
    model = model.to(device)
    gm = fx.symbolic_trace(model)
    compile(gm.code, "<gm>", "exec")
    x1 = x.to(device).requires_grad_()
    x2 = x.to(device).requires_grad_()
    out1, out2 = model(x1), gm(x2)
    out1 = out1 if isinstance(out1, tuple) else (out1,)
    out2 = out2 if isinstance(out2, tuple) else (out2,)
    for a, b in zip(out1, out2):
        np.testing.assert_allclose(b.detach().cpu().numpy(), a.detach().cpu().numpy(), rtol=1e-6, atol=1e-6)
    sum(o.sum() for o in out1).backward()
    g_model = {n: p.grad.cpu().numpy() for n, p in model.named_parameters()}
    model.zero_grad()
    sum(o.sum() for o in out2).backward()
    np.testing.assert_allclose(x2.grad.cpu().numpy(), x1.grad.cpu().numpy(), rtol=1e-6, atol=1e-6)
    for n, p in gm.named_parameters():
        np.testing.assert_allclose(p.grad.cpu().numpy(), g_model[n], rtol=1e-6, atol=1e-6)
    return gm


def test_mlp_graph_and_code_as_pytorch(device):
    gm = _check_same(MLP(), ttorch.randn(5, 4), device)
    assert gm.code == (
        "\n\n\ndef forward(self, x):\n"
        "    l1 = self.l1(x)\n"
        "    relu = torch.nn.functional.relu(l1);  l1 = None\n"
        "    getattr_1 = x.shape;  x = None\n"
        "    getitem = getattr_1[0];  getattr_1 = None\n"
        "    l2 = self.l2(relu);  relu = None\n"
        "    view = l2.view(getitem, -1);  l2 = getitem = None\n"
        "    w = self.w\n"
        "    mul = view * w;  view = w = None\n"
        "    add = mul + 1;  mul = None\n"
        "    cat = torch.cat([add, add], dim = 1)\n"
        "    relu_1 = cat.relu();  cat = None\n"
        "    stack = torch.stack((add, add));  add = None\n"
        "    sum_1 = stack.sum(0);  stack = None\n"
        "    return (relu_1, sum_1)\n    ")
    lines = str(gm.graph).split("\n")
    assert lines[0] == "graph():"
    assert lines[3] == ("    %relu : [num_users=1] = call_function[target=torch.nn.functional.relu]"
                        "(args = (%l1,), kwargs = {})")
    assert lines[4] == ("    %getattr_1 : [num_users=1] = call_function[target=builtins.getattr]"
                        "(args = (%x, shape), kwargs = {})")
    assert lines[8] == "    %w : [num_users=1] = get_attr[target=w]"
    assert lines[11] == ("    %cat : [num_users=1] = call_function[target=torch.cat](args = ([%add, %add],), "
                         "kwargs = {dim: 1})")
    assert lines[-1] == "    return (relu_1, sum_1)"
    nodes = list(gm.graph.nodes)
    assert [n.op for n in nodes][:3] == ["placeholder", "call_module", "call_function"]
    assert nodes[2].target is F.relu and nodes[9].target is operator.add and nodes[10].target is ttorch.cat
    assert list(nodes[0].users) == [nodes[1], nodes[3]] and nodes[9].all_input_nodes == [nodes[8]]
    assert sorted(gm.state_dict()) == sorted(MLP().state_dict())


def test_cnn_and_sequential(device):
    gm = _check_same(CNN(), ttorch.randn(2, 2, 4, 4), device)
    targets = [n.target for n in gm.graph.nodes if n.op == "call_module"]
    assert targets == ["conv", "pool", "head.0", "head.1"]       # Sequential is traced through
    assert "getattr(self.head, \"0\")(pool)" in gm.code.replace("head_0 = ", "")


def test_transformer_block(device):
    gm = _check_same(Block(), ttorch.randn(2, 3, 8), device)
    fns = [n.target for n in gm.graph.nodes if n.op == "call_function"]
    assert F.scaled_dot_product_attention in fns and F.layer_norm in fns and ttorch.matmul in fns
    assert operator.matmul in fns and operator.truediv in fns
    # PyTorch 2.13's lines for the same forward (its softmax/layer_norm add their defaults as kwargs)
    for line in ("    getitem_2 = getattr_1[2];  getattr_1 = None",
                 "    split = qkv.split(getitem_2, dim = 2);  qkv = None",
                 "    getitem_5 = split[2];  split = None",
                 "    sqrt = math_sqrt(floordiv_3);  floordiv_3 = None",
                 "    matmul_1 = softmax @ transpose_2;  softmax = None",
                 "    ln2_weight = self.ln2.weight"):
        assert line + "\n" in gm.code


def test_control_flow_errors_restore_namespaces():
    orig_cat, orig_relu, orig_call, orig_getattr = ttorch.cat, F.relu, nn.Module.__call__, nn.Module.__getattr__

    def bad(x):
        y = ttorch.cat([x, x])
        if y.sum() > 0:
            return y
    with pytest.raises(fx.TraceError, match="symbolically traced variables cannot be used as inputs to "
                                            "control flow"):
        fx.symbolic_trace(bad)
    assert ttorch.cat is orig_cat and F.relu is orig_relu and nn.Module.__call__ is orig_call
    with pytest.raises(fx.TraceError, match="Proxy object cannot be iterated"):
        fx.symbolic_trace(lambda x: [a for a in x])
    assert ttorch.cat is orig_cat and nn.Module.__getattr__ is orig_getattr


def my_leaf(x, k):
    return x * k if k > 0 else x     # control flow on a constant: only possible as a leaf


fx.wrap("my_leaf")


def test_wrap_interpreter_and_shapeprop():
    gm = fx.symbolic_trace(lambda x: my_leaf(x, 3) + math.sqrt(4))
    n = [n for n in gm.graph.nodes if n.op == "call_function"]
    assert n[0].target is my_leaf and n[1].target is operator.add
    assert re.search(r"my_leaf = \w*test_fx_my_leaf\(x, 3\)", gm.code)   # PyTorch's <module>_my_leaf
    x = ttorch.randn(3, 2)
    np.testing.assert_allclose(gm(x).numpy(), x.numpy() * 3 + 2, rtol=1e-6)

    seen = []

    class Tap(fx.Interpreter):
        def call_function(self, target, args, kwargs):
            seen.append(target)
            return super().call_function(target, args, kwargs)
    out = Tap(gm).run(x)
    assert seen == [my_leaf, operator.add]
    np.testing.assert_allclose(out.numpy(), x.numpy() * 3 + 2, rtol=1e-6)

    mlp = MLP()
    gm2 = fx.symbolic_trace(mlp)
    ShapeProp(gm2).propagate(ttorch.randn(5, 4))
    meta = {n.name: n.meta.get("tensor_meta") for n in gm2.graph.nodes}
    assert tuple(meta["l1"].shape) == (5, 8) and meta["l1"].dtype == ttorch.float32
    assert meta["l1"].stride == (8, 1) and meta["l1"].requires_grad
    assert meta["getitem"] is None and tuple(meta["cat"].shape) == (5, 6)
    assert [tuple(m.shape) for m in meta["output"]] == [(5, 6), (5, 3)]


def test_transformer_swaps_relu_for_gelu(device):
    class Swap(fx.Transformer):
        def call_function(self, target, args, kwargs):
            if target is F.relu:
                target = F.gelu
            return super().call_function(target, args, kwargs)

        def call_method(self, target, args, kwargs):
            if target == "relu":
                return super().call_function(ttorch.sigmoid, args, kwargs)
            return super().call_method(target, args, kwargs)
    mlp = MLP().to(device)
    new = Swap(fx.symbolic_trace(mlp)).transform()
    new.graph.lint()
    assert "torch.nn.functional.gelu(l1)" in new.code and "torch.sigmoid(cat)" in new.code
    x = ttorch.randn(5, 4, device=device)
    y = mlp.l2(F.gelu(mlp.l1(x))) * mlp.w + 1
    a, b = new(x)
    np.testing.assert_allclose(a.detach().cpu().numpy(), ttorch.cat([y, y], 1).sigmoid().detach().cpu().numpy(),
                               rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(b.detach().cpu().numpy(), (2 * y).detach().cpu().numpy(), rtol=1e-6, atol=1e-6)


def test_replace_pattern():
    def f(x, y):
        a = ttorch.relu(x + y)
        b = ttorch.relu(a + y) * 2
        return a, b        # the first add+relu feeds the output: matched too (its output is the anchor)

    def pattern(u, v):
        return ttorch.relu(u + v)

    def replacement(u, v):
        return ttorch.sigmoid(u - v)
    gm = fx.symbolic_trace(f)
    matches = fx.replace_pattern(gm, pattern, replacement)
    assert len(matches) == 2 and matches[0].anchor.name == "relu"
    gm.graph.lint()
    ops = [n.target for n in gm.graph.nodes if n.op == "call_function"]
    assert ops == [operator.sub, ttorch.sigmoid, operator.sub, ttorch.sigmoid, operator.mul]
    x, y = ttorch.randn(4), ttorch.randn(4)
    a = 1 / (1 + np.exp(-(x.numpy() - y.numpy())))
    b = 2 / (1 + np.exp(-(a - y.numpy())))
    out = gm(x, y)
    np.testing.assert_allclose(out[0].numpy(), a, rtol=1e-6)
    np.testing.assert_allclose(out[1].numpy(), b, rtol=1e-6)


def test_graph_editing():
    g = fx.Graph()
    x = g.placeholder("x")
    r = g.call_function(ttorch.relu, (x,))
    dead = g.call_method("neg", (r,))
    g.output(r)
    assert g.eliminate_dead_code() and dead.name == "neg" and len(g.nodes) == 3
    with g.inserting_after(r):
        s = g.call_function(ttorch.sigmoid, (r,))
    r.replace_all_uses_with(s, delete_user_cb=lambda u: u is not s)
    g.lint()
    gm = fx.GraphModule(nn.Module(), g)
    assert gm.code == ("\n\n\ndef forward(self, x):\n    relu = torch.relu(x);  x = None\n"
                       "    sigmoid = torch.sigmoid(relu);  relu = None\n    return sigmoid\n    ")
    t = ttorch.tensor([-1.0, 2.0])
    np.testing.assert_allclose(gm(t).numpy(), 1 / (1 + np.exp(-np.array([0.0, 2.0]))), rtol=1e-6)
    s.replace_input_with(r, x)
    with pytest.raises(RuntimeError, match="Tried to erase Node x but it still had 2 users in the graph"):
        g.erase_node(x)
    g.erase_node(r)
    gm.recompile()
    assert "torch.sigmoid(x)" in gm.code
    g2 = fx.Graph()
    out = g2.graph_copy(g, {})
    g2.output(out)
    assert str(g2) == str(g)


class Inner(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc, self.w = nn.Linear(3, 3), nn.Parameter(ttorch.ones(3) * 0.5)

    def forward(self, x):
        return direct_silu(self.fc(x)) * self.w


class Outer(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([Inner(), Inner()])
        self.seq = nn.Sequential(nn.ReLU(), nn.Linear(3, 2))
        self.c = ttorch.full((3,), 2.0)          # a plain tensor attribute: copied as a buffer

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        return self.seq(x).softmax(-1), x.T, (x + self.c)[:, 1:], x[..., None]


def test_nested_modules_pickle_copy_and_interpreter(device):
    import copy
    import pickle
    model = Outer().to(device)
    model.c = model.c.to(device)                 # (not a buffer: .to() leaves it, as in PyTorch)
    gm = fx.symbolic_trace(model)
    assert gm.code == (                         # PyTorch 2.13's code for this forward
        '\n\n\ndef forward(self, x):\n    blocks_0_fc = getattr(self.blocks, "0").fc(x);  x = None\n'
        '    silu = torch.nn.functional.silu(blocks_0_fc);  blocks_0_fc = None\n'
        '    blocks_0_w = getattr(self.blocks, "0").w\n'
        '    mul = silu * blocks_0_w;  silu = blocks_0_w = None\n'
        '    blocks_1_fc = getattr(self.blocks, "1").fc(mul);  mul = None\n'
        '    silu_1 = torch.nn.functional.silu(blocks_1_fc);  blocks_1_fc = None\n'
        '    blocks_1_w = getattr(self.blocks, "1").w\n'
        '    mul_1 = silu_1 * blocks_1_w;  silu_1 = blocks_1_w = None\n'
        '    seq_0 = getattr(self.seq, "0")(mul_1)\n    seq_1 = getattr(self.seq, "1")(seq_0);  seq_0 = None\n'
        '    softmax = seq_1.softmax(-1);  seq_1 = None\n    c = self.c\n    add = mul_1 + c;  c = None\n'
        '    getitem = add[(slice(None, None, None), slice(1, None, None))];  add = None\n'
        '    getitem_1 = mul_1[(Ellipsis, None)]\n    getattr_1 = mul_1.T;  mul_1 = None\n'
        '    return (softmax, getattr_1, getitem, getitem_1)\n    ')
    assert sorted(gm.state_dict()) == sorted(list(model.state_dict()) + ["c"])   # as PyTorch's
    assert globals()["direct_silu"] is F.silu
    x = ttorch.randn(2, 3, device=device)
    ref = model(x)
    for other in (copy.deepcopy(gm), pickle.loads(pickle.dumps(gm)), fx.Interpreter(gm)):
        out = other.run(x) if isinstance(other, fx.Interpreter) else other(x)
        assert other is not gm and len(out) == 4
        for a, b in zip(ref, out):
            np.testing.assert_allclose(b.detach().cpu().numpy(), a.detach().cpu().numpy(), rtol=1e-6, atol=1e-6)
    with pytest.raises(RuntimeError, match="While executing %x : \\[num_users=1\\] = placeholder\\[target=x\\]"):
        fx.Interpreter(gm).run()


def test_concrete_args_and_tensor_constant():
    k = ttorch.tensor([1.0, 2.0])

    def f(x, scale=2.0, bias=None):
        y = x * scale + k                         # k: a tensor from outside, kept as _tensor_constant0
        return y if bias is None else y + bias
    gm = fx.symbolic_trace(f, concrete_args={"scale": 3.0, "bias": None})
    assert gm.code == (
        "\n\n\ndef forward(self, x, scale_1 = 2.0, bias_1 = None):\n"
        "    eq = scale_1 == 3.0;  scale_1 = None\n"
        "    _assert = torch.fx._symbolic_trace._assert(eq, 'scale has been specialized to have value 3.0 but got "
        "another value');  eq = _assert = None\n"
        "    _assert_is_none = torch.fx._symbolic_trace._assert_is_none(bias_1, 'bias has been specialized to have "
        "value None but got another value');  bias_1 = _assert_is_none = None\n"
        "    mul = x * 3.0;  x = None\n"
        "    _tensor_constant0 = self._tensor_constant0\n"
        "    add = mul + _tensor_constant0;  mul = _tensor_constant0 = None\n"
        "    return add\n    ")
    x = ttorch.tensor([1.0, 1.0])
    np.testing.assert_allclose(gm(x, 3.0).numpy(), [4.0, 5.0])
    with pytest.raises(AssertionError, match="scale has been specialized to have value 3.0"):
        gm(x)
    assert not gm.graph.eliminate_dead_code()     # the guards are impure


def square(v):
    return v * v


def test_insert_points_move_and_tabular(monkeypatch, capsys):
    gm = fx.symbolic_trace(lambda x: ttorch.relu(x))
    g = gm.graph
    x, relu, out = list(g.nodes)
    with g.inserting_after(relu):
        a = g.call_method("neg", (relu,))
        b = g.call_method("exp", (a,))
    with g.inserting_before(None):
        c = g.call_method("abs", (relu,))
    # PyTorch 2.13 prints exactly this (inserting_after puts each new node right after relu)
    assert str(g) == ("graph():\n    %abs_1 : [num_users=0] = call_method[target=abs](args = (%relu,), kwargs = {})\n"
                      "    %x : [num_users=1] = placeholder[target=x]\n"
                      "    %relu : [num_users=3] = call_function[target=torch.relu](args = (%x,), kwargs = {})\n"
                      "    %exp : [num_users=0] = call_method[target=exp](args = (%neg,), kwargs = {})\n"
                      "    %neg : [num_users=1] = call_method[target=neg](args = (%relu,), kwargs = {})\n"
                      "    return relu")
    with pytest.raises(RuntimeError, match="Argument 'relu' of Node 'abs_1' was used before it has been defined"):
        g.lint()
    b.append(a)                  # move neg after exp... then exp after neg
    a.append(b)
    relu.append(c)
    g.lint()
    assert [n.name for n in g.nodes] == ["x", "relu", "abs_1", "neg", "exp", "output"]
    assert g.eliminate_dead_code() and [n.name for n in g.nodes] == ["x", "relu", "output"]

    monkeypatch.setitem(__import__("sys").modules, "tabulate", None)     # the plain table without tabulate
    g.print_tabular()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["opcode", "name", "target", "args", "kwargs"]
    assert lines[3].split()[:2] == ["call_function", "relu"] and lines[3].split()[-2:] == ["(x,)", "{}"]
    assert "<function relu at 0x" in lines[3]        # the target itself, as PyTorch prints it

    t = fx.Tracer(autowrap_functions=(square,))
    graph = t.trace(lambda v: square(v) + 1)
    gm2 = fx.GraphModule({}, graph)
    assert [n.target for n in graph.nodes][1] is square and re.search(r"square = \w*test_fx_square\(v\)", gm2.code)
    np.testing.assert_allclose(gm2(ttorch.tensor([3.0])).numpy(), [10.0])


fx.wrap("len")


def test_wrap_builtin_and_side_effects():
    gm = fx.symbolic_trace(lambda x: x + len(x))
    assert "    len_1 = len(x)\n    add = x + len_1;  x = len_1 = None\n" in gm.code     # as PyTorch's
    assert gm(ttorch.ones(3)).tolist() == [4.0, 4.0, 4.0] and "len" not in globals()

    def log(v):
        return v
    fx.has_side_effect(log)
    g = fx.Graph()
    x = g.placeholder("x")
    g.call_function(log, (x,))
    g.call_function(operator.neg, (x,))
    g.output(x)
    assert g.eliminate_dead_code() and [n.name for n in g.nodes] == ["x", "log", "output"]
    with pytest.raises(RuntimeError, match="'len' is not supported in symbolic tracing by default"):
        len(fx.Proxy(x))          # (this module wraps ``len``: a bare Proxy still refuses it)
