"""ttorch.export: export -> ExportedProgram -> module()/save/load/unflatten, checked against eager ttorch.

Every exported program must compute what the eager module computes (exactly: the same ops run), lift state
as PyTorch names it, leave the exported module untouched, and guard its inputs with PyTorch's messages.
"""
import copy
import dataclasses
import io
import os

import numpy as np
import pytest

import ttorch
import ttorch.nn as nn
import ttorch.nn.functional as F
from ttorch.export import (AdditionalInputs, Dim, ShapesCollection, dims, draft_export, export, load,
                           register_dataclass, save, unflatten)
from ttorch.export.graph_signature import InputKind, OutputKind
from ttorch.export.exported_program import SpecViolationError
from ttorch.export._trace import GuardOnDataDependentSymNode
from ttorch.export.dynamic_shapes import UserError, ConstraintViolationError


def _eq(a, b):
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(4, 7), nn.Linear(7, 3)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.bn, self.fc = nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3), nn.Linear(3 * 2 * 2, 5)

    def forward(self, x):
        h = F.max_pool2d(F.relu(self.bn(self.conv(x))), 2)
        return self.fc(ttorch.flatten(h, 1))


class Block(nn.Module):
    """A causal self-attention + MLP block (nanoGPT's), sizes read from the input."""

    def __init__(self, C=8, nh=2):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(C), nn.LayerNorm(C)
        self.attn, self.proj = nn.Linear(C, 3 * C), nn.Linear(C, C)
        self.mlp = nn.Sequential(nn.Linear(C, 4 * C), nn.GELU(), nn.Linear(4 * C, C))
        self.nh = nh
        self.register_buffer("mask", ttorch.tril(ttorch.ones(8, 8)).view(1, 1, 8, 8), persistent=False)

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.attn(self.ln1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.nh, C // self.nh).transpose(1, 2) for t in (q, k, v))   # (B, nh, T, hs)
        att = (q @ k.transpose(-2, -1)) * (1.0 / k.size(-1) ** 0.5)
        att = F.softmax(att.masked_fill(self.mask[:, :, :T, :T] == 0, float("-inf")), dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        x = x + self.proj(y)
        return x + self.mlp(self.ln2(x))


def test_mlp_signature_module_and_call():
    ttorch.manual_seed(0)
    m, x = MLP(), ttorch.randn(5, 4)
    ep = export(m, (x,))
    sig = ep.graph_signature
    assert sig.parameters == ("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias")
    assert sig.user_inputs == ("x",) and len(sig.user_outputs) == 1
    assert [n.name for n in ep.graph.nodes if n.op == "placeholder"] == [
        "p_fc1_weight", "p_fc1_bias", "p_fc2_weight", "p_fc2_bias", "x"]
    assert sig.input_specs[0].kind == InputKind.PARAMETER and sig.input_specs[-1].kind == InputKind.USER_INPUT
    assert sig.output_specs[0].kind == OutputKind.USER_OUTPUT
    assert list(ep.state_dict) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert ep.state_dict["fc1.weight"] is m.fc1.weight and ep.example_inputs[0][0] is x
    gm = ep.module()
    assert dict(gm.named_parameters())["fc2.bias"] is m.fc2.bias
    _eq(gm(x), m(x))
    x2 = ttorch.randn(5, 4)
    _eq(gm(x2), m(x2))
    with pytest.raises(RuntimeError, match="Unable to call ExportedProgram directly"):
        ep(x)
    with pytest.raises(NotImplementedError, match=r"Calling eval\(\) is not supported yet."):
        gm.eval()
    ep.validate()
    text = str(ep)
    assert text.startswith("ExportedProgram:") and 'x: "f32[5, 4]"' in text and "p_fc1_weight: PARAMETER" in text


@pytest.mark.parametrize("train", [True, False])
def test_cnn_batchnorm_train_and_eval(train):
    ttorch.manual_seed(1)
    m = CNN().train(train)
    x = ttorch.randn(2, 2, 4, 4)
    before = {k: v.clone() for k, v in m.state_dict().items()}
    ep = export(m, (x,))
    for k, v in m.state_dict().items():      # export ran the module on copies
        _eq(v, before[k])
    assert ep.graph_signature.buffers == ("bn.running_mean", "bn.running_var", "bn.num_batches_tracked")
    ref = copy.deepcopy(m)
    gm = ep.module()
    _eq(gm(x), ref(x))
    for k in ("bn.running_mean", "bn.running_var", "bn.num_batches_tracked"):
        _eq(gm.state_dict()[k], ref.state_dict()[k])
    dec = ep.run_decompositions()
    mutations = {s.target for s in dec.graph_signature.output_specs if s.kind == OutputKind.BUFFER_MUTATION}
    assert mutations == ({"bn.running_mean", "bn.running_var", "bn.num_batches_tracked"} if train else set())
    assert dec.graph_signature.buffers_to_mutate == {f"b_{t.replace('.', '_')}": t for t in mutations}
    dec.validate()
    _eq(dec.module()(x), ref(x))


def test_transformer_block_dynamic_batch():
    ttorch.manual_seed(2)
    blk = Block().eval()
    x = ttorch.randn(3, 5, 8)
    ep = export(blk, (x,), dynamic_shapes={"x": {0: Dim("batch", max=6)}})
    assert [str(v) for v in ep.range_constraints.values()] == ["VR[0, 6]"]
    assert ep.graph_signature.non_persistent_buffers == ("mask",) and "mask" in ep.constants
    assert 'x: "f32[s0, 5, 8]"' in str(ep)
    gm = ep.module()
    for b in (3, 1, 6):
        xb = ttorch.randn(b, 5, 8)
        np.testing.assert_allclose(gm(xb).detach().numpy(), blk(xb).detach().numpy(), rtol=0, atol=0)
    with pytest.raises(AssertionError, match=r"Guard failed: x.size\(\)\[0\] <= 6"):
        gm(ttorch.randn(7, 5, 8))
    with pytest.raises(AssertionError, match=r"Guard failed: x.size\(\)\[1\] == 5"):
        gm(ttorch.randn(3, 4, 8))


def test_kwargs_constants_and_input_guards():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.k = ttorch.tensor([1.0, 2.0])        # a plain tensor attribute: a lifted constant

        def forward(self, x, pair, n, *, mask=None):
            return x * n + pair[0] + pair[1] * self.k + mask + ttorch.ones(2)

    args = (ttorch.randn(2), (ttorch.randn(2), ttorch.randn(2)), 3)
    kw = {"mask": ttorch.randn(2)}
    ep = export(M(), args, kw)
    sig = ep.graph_signature
    assert sig.user_inputs == ("x", "pair_0", "pair_1", "n", "mask")
    assert sig.lifted_tensor_constants == ("k", "lifted_tensor_0")
    assert [n.name for n in ep.graph.nodes if n.op == "placeholder"][:2] == ["c_k", "c_lifted_tensor_0"]
    gm = ep.module()
    _eq(gm(*args, **kw), M()(*args, **kw))
    with pytest.raises(AssertionError, match="Guard failed: n == 3"):
        gm(args[0], args[1], 4, mask=kw["mask"])
    with pytest.raises(ValueError, match="Trying to flatten user inputs with exported input tree spec"):
        gm(args[0], [args[1][0]], 3, mask=kw["mask"])
    with pytest.raises(ValueError, match=r"kwarg keyword mismatch: Got the following keywords \[\] but expected "
                                         r"\['mask'\]"):
        gm(*args)


def test_static_guards_follow_pytorch():
    m = MLP()
    gm = export(m, (ttorch.randn(5, 4),)).module()
    with pytest.raises(AssertionError, match=r"^Guard failed: x.size\(\)\[0\] == 5$"):
        gm(ttorch.randn(6, 4))
    # rank and dtype are not guarded (as in PyTorch 2.13): the ops raise
    with pytest.raises(RuntimeError, match="mat1 and mat2 shapes cannot be multiplied"):
        gm(ttorch.randn(5, 4, 1))
    with pytest.raises(RuntimeError, match="must have the same dtype"):
        gm(ttorch.randn(5, 4, dtype=ttorch.float64))


def test_data_dependent_control_flow_names_the_line():
    class D(nn.Module):
        def forward(self, x):
            if x.sum() > 0:  # the line the error names
                return x + 1
            return x - 1

    with pytest.raises(GuardOnDataDependentSymNode) as info:
        export(D(), (ttorch.randn(3),))
    msg = str(info.value)
    assert "Could not guard on data-dependent expression" in msg
    assert __file__ in msg and "if x.sum() > 0:  # the line the error names" in msg

    class Item(nn.Module):
        def forward(self, x):
            return x * int(x.max().item())

    with pytest.raises(GuardOnDataDependentSymNode):
        export(Item(), (ttorch.randn(3),))
    # draft_export takes the example's branch, reports it and checks it at run time
    ep = draft_export(D(), (ttorch.ones(3),))
    assert not ep._report.successful() and "bool(gt)" in str(ep._report)
    _eq(ep.module()(ttorch.ones(3)), ttorch.full((3,), 2.0))
    with pytest.raises(RuntimeError, match=r"Runtime assertion failed for expression bool\(gt\) == True"):
        ep.module()(-ttorch.ones(3))


def test_python_decision_on_a_dynamic_size_is_checked_at_run_time():
    class Branch(nn.Module):
        def forward(self, x):
            if x.shape[0] > 3:
                return x * 2
            return x + len(x)

    ep = export(Branch(), (ttorch.randn(5, 2),), dynamic_shapes={"x": {0: Dim("b")}})
    gm = ep.module()
    _eq(gm(ttorch.ones(6, 2)), ttorch.full((6, 2), 2.0))
    with pytest.raises(RuntimeError, match=r"Runtime assertion failed for expression bool\(gt\) == True"):
        gm(ttorch.ones(2, 2))
    gm = export(Branch(), (ttorch.randn(2, 2),), dynamic_shapes={"x": {0: Dim("b")}}).module()
    _eq(gm(ttorch.ones(2, 2)), ttorch.full((2, 2), 3.0))
    with pytest.raises(RuntimeError, match=r"int\(sym_size_int\) == 2"):
        gm(ttorch.ones(3, 2))


def test_save_load_round_trip(tmp_path):
    ttorch.manual_seed(3)
    m = CNN().train()
    x = ttorch.randn(2, 2, 4, 4)
    ep = export(m, (x,), dynamic_shapes=({0: Dim.AUTO},))
    buf = io.BytesIO()
    save(ep, buf, extra_files={"note": "hi"})
    buf.seek(0)
    extra = {"note": ""}
    ep2 = load(buf, extra_files=extra)
    assert extra["note"] == "hi"
    assert str(ep2.graph_signature) == str(ep.graph_signature)
    assert [(n.op, n.name) for n in ep2.graph.nodes] == [(n.op, n.name) for n in ep.graph.nodes]
    ep2.validate()
    _eq(ep2.state_dict["bn.num_batches_tracked"], ttorch.tensor(0))   # the archive has the state at export
    ref = copy.deepcopy(m)
    x3 = ttorch.randn(3, 2, 4, 4)
    _eq(ep2.module()(x3), ref(x3))
    _eq(ep2.state_dict["bn.running_var"], ref.bn.running_var)         # the loaded module owns its buffers
    path = tmp_path / "model.pt2"
    save(ep, str(path))
    assert os.listdir(tmp_path) == ["model.pt2"]     # written atomically: no temporary left
    ep3 = load(str(path))
    assert isinstance(ep3.state_dict["conv.weight"], nn.Parameter)
    assert [n for n, _ in unflatten(ep3).named_children()] == ["conv", "bn", "fc"]   # module stacks survive
    _eq(ep3.state_dict["conv.weight"], m.conv.weight)
    with pytest.raises(AssertionError, match="Guard failed"):
        ep3.module()(ttorch.randn(3, 2, 5, 4))
    bad = tmp_path / "bad.pt2"
    import zipfile
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("other", "x")
    with pytest.raises(RuntimeError, match="not an archive written by ttorch.export.save"):
        load(str(bad))


def test_unflatten_rebuilds_the_hierarchy():
    class Inner(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(4, 4), nn.Linear(4, 4)

        def forward(self, x):
            return self.b(self.a(x).relu())

    class Outer(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc, self.head = Inner(), nn.Linear(4, 2)

        def forward(self, x):
            h = self.enc(x)
            return self.head(h), h

    ttorch.manual_seed(4)
    m, x = Outer(), ttorch.randn(3, 4)
    u = unflatten(export(m, (x,)))
    assert type(u).__name__ == "UnflattenedModule"
    assert [n for n, _ in u.named_children()] == ["enc", "head"]
    assert [n for n, _ in u.named_parameters()] == [n for n, _ in m.named_parameters()]
    out, h = u(x)
    ref_out, ref_h = m(x)
    _eq(out, ref_out)
    _eq(h, ref_h)
    _eq(u.enc(x), m.enc(x))          # a submodule runs on its own
    _eq(u.enc.a(x), m.enc.a(x))


def test_dim_api_and_dynamic_shapes_errors():
    assert repr(Dim("batch", min=2, max=10)) == "Dim('batch', max=10)"
    assert repr(Dim("b")) == "Dim('b', min=0)"
    assert repr(Dim.AUTO) == "DimHint(AUTO)" and repr(Dim.DYNAMIC(max=4)) == "DimHint(DYNAMIC, max=4)"
    assert [repr(d) for d in dims("a", "b", max=5)] == ["Dim('a', min=0, max=5)", "Dim('b', min=0, max=5)"]
    with pytest.raises(AssertionError, match="inconsistent"):
        Dim("c", min=5, max=3)

    class Add(nn.Module):
        def forward(self, x, y):
            return x + y

    a, b = ttorch.randn(3, 2), ttorch.randn(3, 2)
    with pytest.raises(UserError, match="top-level keys must be the arg names"):
        export(Add(), (a, b), dynamic_shapes={"x": {0: Dim("n")}, "z": None})
    with pytest.raises(ConstraintViolationError, match="3 not in range"):
        export(Add(), (a, b), dynamic_shapes={"x": {0: Dim("n", max=2)}, "y": None})
    n = Dim("n")
    gm = export(Add(), (a, b), dynamic_shapes={"x": {0: n}, "y": {0: n}}).module()
    assert tuple(gm(ttorch.randn(5, 2), ttorch.randn(5, 2)).shape) == (5, 2)
    with pytest.raises(AssertionError, match=r"Guard failed: y.size\(\)\[0\] == x.size\(\)\[0\]"):
        gm(ttorch.randn(4, 2), ttorch.randn(5, 2))
    sc = ShapesCollection()
    sc[a] = (Dim.DYNAMIC, Dim.STATIC)
    sc[b] = (Dim.DYNAMIC, Dim.STATIC)
    gm = export(Add(), (a, b), dynamic_shapes=sc).module()
    assert tuple(gm(ttorch.randn(6, 2), ttorch.randn(6, 2)).shape) == (6, 2)
    ai = AdditionalInputs()
    ai.add((ttorch.randn(5, 2), ttorch.randn(5, 2)))
    assert ai.dynamic_shapes(Add(), (a, b)) == ((Dim.DYNAMIC, None), (Dim.DYNAMIC, None))
    ep = export(Add(), (a, b), dynamic_shapes=ai)
    ai.verify(ep)
    bad = AdditionalInputs()
    bad.add((ttorch.randn(5, 3), ttorch.randn(5, 3)))
    with pytest.raises(AssertionError, match=r"Guard failed: x.size\(\)\[1\] == 2"):
        bad.verify(ep)


def test_derived_dims():
    class Shift(nn.Module):
        def forward(self, x, y):
            return x[1:] + y

    d = Dim("d", max=10)
    assert repr(d + 1) == "d + 1" and repr(2 * d) == "2*d" and (2 * d + 1).max == 21
    with pytest.raises(NotImplementedError, match="Attempted to negate d"):
        1 - d
    ep = export(Shift(), (ttorch.randn(5), ttorch.randn(4)), dynamic_shapes={"x": {0: d + 1}, "y": {0: d}})
    assert {str(k): str(v) for k, v in ep.range_constraints.items()} == {"s0": "VR[0, 10]", "s0 + 1": "VR[1, 11]"}
    buf = io.BytesIO()
    save(ep, buf)
    buf.seek(0)
    for gm in (ep.module(), load(buf).module()):
        x, y = ttorch.randn(7), ttorch.randn(6)
        _eq(gm(x, y), x[1:] + y)
        with pytest.raises(AssertionError, match=r"Guard failed: -1 \+ x.size\(\)\[0\] == y.size\(\)\[0\]"):
            gm(ttorch.randn(6), ttorch.randn(4))
        with pytest.raises(AssertionError, match=r"Guard failed: x.size\(\)\[0\] <= 11"):
            gm(ttorch.randn(12), ttorch.randn(11))
    with pytest.raises(ConstraintViolationError):
        export(Shift(), (ttorch.randn(5), ttorch.randn(5)), dynamic_shapes={"x": {0: d + 1}, "y": {0: d}})


def test_registered_dataclass_inputs_and_outputs():
    @dataclasses.dataclass
    class Pair:
        a: ttorch.Tensor
        b: ttorch.Tensor

    register_dataclass(Pair)

    class Swap(nn.Module):
        def forward(self, p):
            return Pair(p.b * 2, p.a + 1)

    p = Pair(ttorch.randn(2), ttorch.randn(2))
    ep = export(Swap(), (p,))
    assert ep.graph_signature.user_inputs == ("p_a", "p_b")
    out = ep.module()(p)
    assert isinstance(out, Pair)
    _eq(out.a, p.b * 2)
    _eq(out.b, p.a + 1)


def test_validate_catches_inconsistent_state():
    ep = export(MLP(), (ttorch.randn(2, 4),))
    ep.state_dict["fc1.weight"] = nn.Parameter(ttorch.zeros(3, 3))
    with pytest.raises(SpecViolationError, match="fc1.weight"):
        ep.validate()
