"""nn.Module, Parameter/Buffer, containers, Flatten family and nn.utils, against PyTorch's documented behaviour."""
import copy
import math
import pickle
from collections import OrderedDict

import numpy as np
import pytest

import ttorch
import ttorch.nn as nn
from ttorch.nn.utils.rnn import pad_sequence


class Linear(nn.Module):
    """A minimal Linear (the real one belongs to nn/modules/linear.py) with PyTorch's names."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(ttorch.randn(out_features, in_features))
        if bias:
            self.bias = nn.Parameter(ttorch.randn(out_features))
        else:
            self.register_parameter("bias", None)

    def forward(self, x):
        y = x @ self.weight.t()
        return y + self.bias if self.bias is not None else y

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Norm(nn.Module):
    """Parameters plus a persistent and a non-persistent buffer, like BatchNorm."""

    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(ttorch.ones(n))
        self.register_buffer("running_mean", ttorch.zeros(n))
        self.register_buffer("num_batches_tracked", ttorch.tensor(0))
        self.register_buffer("scratch", ttorch.zeros(n), persistent=False)

    def forward(self, x):
        return x * self.weight


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = Linear(2, 3)
        self.norm = Norm(3)
        self.head = nn.Sequential(Linear(3, 3), Linear(3, 1))

    def forward(self, x):
        return self.head(self.norm(self.fc1(x)))


# ---------------------------------------------------------------------- Parameter and Buffer
def test_parameter_basics(device):
    data = ttorch.tensor([1.0, 2.0], device=device)
    p = nn.Parameter(data)
    assert isinstance(p, nn.Parameter) and isinstance(p, ttorch.Tensor)
    assert issubclass(nn.Parameter, ttorch.Tensor)
    assert p.is_leaf and p.requires_grad and p.grad_fn is None
    assert not isinstance(data, nn.Parameter) and not isinstance(p.detach(), nn.Parameter)
    assert not isinstance(p * 2, nn.Parameter)
    assert p.device == data.device
    p.data.mul_(3)  # shares memory with data, as PyTorch's Parameter does
    np.testing.assert_array_equal(data.cpu().numpy(), [3.0, 6.0])
    suffix = ", device='cuda:0'" if device == "cuda" else ""
    assert repr(p) == f"Parameter containing:\ntensor([3., 6.]{suffix}, requires_grad=True)"
    assert not nn.Parameter(ttorch.ones(1), requires_grad=False).requires_grad
    assert nn.Parameter().shape == (0,)
    with pytest.raises(RuntimeError, match="floating point"):
        nn.Parameter(ttorch.tensor([1, 2]))
    # the ops' fast paths see an ordinary tensor
    assert type(p) is ttorch.Tensor
    (p * p).sum().backward()
    np.testing.assert_allclose(p.grad.cpu().numpy(), [6.0, 12.0])


def test_parameter_deepcopy_and_pickle():
    p = nn.Parameter(ttorch.tensor([1.0, 2.0]))
    q = copy.deepcopy(p)
    assert isinstance(q, nn.Parameter) and q.requires_grad and q is not p
    r = pickle.loads(pickle.dumps(p))
    assert isinstance(r, nn.Parameter) and r.requires_grad
    m = copy.deepcopy(Net())
    assert all(isinstance(t, nn.Parameter) for t in m.parameters())


def test_buffer_assignment():
    m = nn.Module()
    m.a = nn.Buffer(ttorch.ones(2))
    m.b = nn.Buffer(ttorch.ones(1), persistent=False)
    assert isinstance(m.a, nn.Buffer) and not isinstance(ttorch.ones(1), nn.Buffer)
    assert [n for n, _ in m.named_buffers()] == ["a", "b"]
    assert list(m.state_dict()) == ["a"]
    m.a = ttorch.zeros(3)  # a registered buffer name takes plain tensors
    assert m._buffers["a"].shape == (3,)
    with pytest.raises(TypeError, match="cannot assign 'int' as buffer 'a'"):
        m.a = 1


# ---------------------------------------------------------------------- registration
def test_registration_and_errors():
    m = nn.Module()
    m.w = nn.Parameter(ttorch.ones(2))
    m.sub = nn.Module()
    m.register_buffer("buf", ttorch.zeros(1))
    m.plain = 3
    assert "w" in m._parameters and "sub" in m._modules and "buf" in m._buffers and "w" not in m.__dict__
    assert m.plain == 3 and m.w is m._parameters["w"]
    with pytest.raises(TypeError, match=r"cannot assign 'ttorch.FloatTensor' as parameter 'w' "
                                        r"\(torch.nn.Parameter or None expected\)"):
        m.w = ttorch.ones(2)
    m.w = None
    assert m.w is None and list(m.parameters()) == []
    with pytest.raises(TypeError, match="cannot assign 'int' as child module 'sub'"):
        m.sub = 1
    with pytest.raises(KeyError, match="attribute 'plain' already exists"):
        m.register_buffer("plain", ttorch.ones(1))
    with pytest.raises(KeyError, match="contain"):
        m.register_parameter("a.b", None)
    with pytest.raises(TypeError, match="is not a Module subclass"):
        m.add_module("x", 3)
    with pytest.raises(ValueError, match="Cannot assign non-leaf Tensor"):
        x = ttorch.ones(1, requires_grad=True) * 2
        x._is_param = True
        m.register_parameter("nl", x)
    with pytest.raises(AttributeError, match="'Module' object has no attribute 'nope'"):
        m.nope

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(ttorch.ones(1))

    with pytest.raises(AttributeError, match=r"cannot assign parameters before Module.__init__\(\) call"):
        Early()
    # reassigning a name moves it between registries
    m.buf = nn.Parameter(ttorch.ones(1))
    assert "buf" in m._parameters and "buf" not in m._buffers
    del m.buf, m.sub, m.plain
    assert "buf" not in m._parameters and "sub" not in m._modules and not hasattr(m, "plain")
    m.register_module("z", nn.Identity())
    assert m.z is m._modules["z"]


def test_forward_missing():
    with pytest.raises(NotImplementedError, match='Module \\[Module\\] is missing the required "forward" function'):
        nn.Module()(1)


def test_naming_and_order():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == [
        "fc1.weight", "fc1.bias", "norm.weight", "head.0.weight", "head.0.bias", "head.1.weight", "head.1.bias"]
    assert [n for n, _ in net.named_buffers()] == ["norm.running_mean", "norm.num_batches_tracked", "norm.scratch"]
    assert [n for n, _ in net.named_modules()] == ["", "fc1", "norm", "head", "head.0", "head.1"]
    assert [n for n, _ in net.named_children()] == ["fc1", "norm", "head"]
    assert [n for n, _ in net.named_parameters(prefix="m", recurse=False)] == []
    assert [n for n, _ in net.fc1.named_parameters(prefix="m")] == ["m.weight", "m.bias"]
    assert len(list(net.modules())) == 6 and len(list(net.children())) == 3
    assert len(list(net.parameters())) == 7 and len(list(net.buffers(recurse=False))) == 0
    # shared submodules and parameters are listed once unless remove_duplicate=False
    shared = Linear(2, 2)
    seq = nn.Sequential(shared, shared)
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias"]
    assert [n for n, _ in seq.named_parameters(remove_duplicate=False)] == [
        "0.weight", "0.bias", "1.weight", "1.bias"]
    assert [n for n, _ in seq.named_modules()] == ["", "0"]
    assert [n for n, _ in seq.named_modules(remove_duplicate=False)] == ["", "0", "1"]
    assert net.get_submodule("head.1") is net.head[1]
    assert net.get_parameter("head.0.bias") is net.head[0].bias
    assert net.get_buffer("norm.running_mean") is net.norm.running_mean
    with pytest.raises(AttributeError, match="Sequential has no attribute `5`"):
        net.get_submodule("head.5")
    with pytest.raises(AttributeError, match="`running_mean` is not an nn.Parameter"):
        net.get_parameter("norm.running_mean")
    with pytest.raises(AttributeError, match="`weight` is not a buffer"):
        net.get_buffer("norm.weight")
    d = dir(net)
    assert "fc1" in d and "forward" in d and "training" in d
    assert "weight" in dir(net.fc1) and "0" not in dir(net.head)


def test_train_eval_apply_requires_grad_zero_grad(device):
    net = Net().to(device)
    assert net.training and net.head[0].training
    assert net.eval() is net and not net.head[1].training and not net.norm.training
    net.train()
    assert net.head[1].training
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        net.train("no")
    order = []
    net.apply(lambda m: order.append(type(m).__name__))
    assert order == ["Linear", "Norm", "Linear", "Linear", "Sequential", "Net"]
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())
    net.requires_grad_()
    net(ttorch.ones(1, 2, device=device)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(float(p.grad.abs().sum()) == 0 for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


# ---------------------------------------------------------------------- state dict
def test_state_dict_round_trip(device):
    net = Net().to(device)
    sd = net.state_dict()
    assert list(sd) == ["fc1.weight", "fc1.bias", "norm.weight", "norm.running_mean", "norm.num_batches_tracked",
                        "head.0.weight", "head.0.bias", "head.1.weight", "head.1.bias"]
    assert isinstance(sd, OrderedDict) and not any(isinstance(v, nn.Parameter) for v in sd.values())
    assert not sd["fc1.weight"].requires_grad
    assert sd["fc1.weight"].data_ptr() == net.fc1.weight.data_ptr()   # detached, shared memory
    assert isinstance(net.state_dict(keep_vars=True)["fc1.weight"], nn.Parameter)
    assert sd._metadata[""] == {"version": 1} and "head.0" in sd._metadata
    other = Net().to(device)
    w_before = other.fc1.weight
    res = other.load_state_dict(sd)
    assert res.missing_keys == [] and res.unexpected_keys == [] and repr(res) == "<All keys matched successfully>"
    assert other.fc1.weight is w_before   # copied in place
    for k, v in other.state_dict().items():
        np.testing.assert_array_equal(v.cpu().numpy(), sd[k].cpu().numpy(), err_msg=k)
    x = ttorch.randn(4, 2, device=device)
    np.testing.assert_allclose(other(x).detach().cpu().numpy(), net(x).detach().cpu().numpy(), rtol=1e-6)


def test_load_state_dict_strict_and_errors():
    net = Net()
    sd = net.state_dict()
    del sd["head.1.bias"]
    sd["head.1.extra"] = ttorch.ones(1)
    sd["ghost.weight"] = ttorch.ones(1)
    with pytest.raises(RuntimeError) as e:
        net.load_state_dict(sd)
    assert str(e.value) == ('Error(s) in loading state_dict for Net:\n\tMissing key(s) in state_dict: "head.1.bias". '
                            '\n\tUnexpected key(s) in state_dict: "ghost.weight", "head.1.extra". ')
    res = net.load_state_dict(sd, strict=False)
    assert res == (["head.1.bias"], ["ghost.weight", "head.1.extra"])   # parents check first
    assert res.missing_keys == ["head.1.bias"]
    lin = Linear(2, 3)
    with pytest.raises(RuntimeError) as e:
        lin.load_state_dict({"weight": ttorch.ones(3, 4), "bias": ttorch.ones(3)})
    assert str(e.value) == ("Error(s) in loading state_dict for Linear:\n\tsize mismatch for weight: copying a param "
                            "with shape ttorch.Size([3, 4]) from checkpoint, the shape in current model is "
                            "ttorch.Size([3, 2]).")
    with pytest.raises(TypeError, match="Expected state_dict to be dict-like"):
        lin.load_state_dict([1])


def test_load_state_dict_assign_and_hooks():
    lin = Linear(2, 3)
    new_w = ttorch.ones(3, 2)
    lin.load_state_dict({"weight": new_w, "bias": ttorch.zeros(3)}, assign=True)
    assert isinstance(lin.weight, nn.Parameter) and lin.weight.requires_grad
    assert lin.weight.data_ptr() == new_w.data_ptr()
    calls = []
    lin.register_load_state_dict_post_hook(lambda m, keys: calls.append(list(keys.missing_keys)))
    lin.register_state_dict_pre_hook(lambda m, prefix, keep_vars: calls.append(prefix))
    lin.load_state_dict({"weight": ttorch.ones(3, 2)}, strict=False)
    lin.state_dict(prefix="p.")
    assert calls == [["bias"], "p."]

    class Extra(nn.Module):
        def __init__(self):
            super().__init__()
            self.v = 0

        def get_extra_state(self):
            return {"v": self.v}

        def set_extra_state(self, state):
            self.v = state["v"]

    m = Extra()
    m.v = 7
    sd = m.state_dict()
    assert sd["_extra_state"] == {"v": 7}
    m2 = Extra()
    m2.load_state_dict(sd)
    assert m2.v == 7


# ---------------------------------------------------------------------- conversions
def test_to_keeps_parameter_identity(device):
    net = Net()
    params = list(net.parameters())
    net(ttorch.ones(1, 2)).sum().backward()
    out = net.to(device)
    assert out is net
    for p, q in zip(params, net.parameters()):
        assert p is q and isinstance(q, nn.Parameter) and q.device.type == device
        assert q.grad.device.type == device and q.requires_grad
    assert net.norm.running_mean.device.type == device
    net.half()
    assert net.fc1.weight.dtype is ttorch.float16 and net.fc1.weight.grad.dtype is ttorch.float16
    assert net.norm.num_batches_tracked.dtype is ttorch.int64   # integer buffers keep their dtype
    assert list(net.parameters())[0] is params[0]
    net.to(ttorch.float64)
    assert net.fc1.bias.dtype is ttorch.float64 and net.norm.running_mean.dtype is ttorch.float64
    net.float().cpu()
    assert net.fc1.weight.dtype is ttorch.float32 and net.fc1.weight.device.type == "cpu"
    net.to(ttorch.zeros(1, dtype=ttorch.bfloat16, device=device), non_blocking=True)
    assert net.fc1.weight.dtype is ttorch.bfloat16 and net.fc1.weight.device.type == device
    net.double().to(device="cpu", dtype=ttorch.float32)
    assert net.fc1.weight.dtype is ttorch.float32 and net.fc1.weight.device.type == "cpu"
    with pytest.raises(TypeError, match="nn.Module.to only accepts floating point or complex dtypes"):
        net.to(ttorch.int32)
    assert net.share_memory() is net and net.compile() is None


def test_cuda_method():
    if not ttorch.cuda.is_available():
        pytest.skip("no cuda")
    net = Net()
    w = net.fc1.weight
    net.cuda()
    assert net.fc1.weight is w and w.is_cuda and net.norm.running_mean.is_cuda
    x = ttorch.randn(2, 2, device="cuda")
    assert net(x).device.type == "cuda"
    net.cpu()
    assert not w.is_cuda


# ---------------------------------------------------------------------- hooks
def test_forward_hooks():
    m = Linear(2, 2)
    log = []
    h1 = m.register_forward_pre_hook(lambda mod, args: (args[0] * 0,))
    h2 = m.register_forward_hook(lambda mod, args, out: out + 100)
    h3 = m.register_forward_hook(lambda mod, args, out: log.append("first"), prepend=True)
    out = m(ttorch.ones(1, 2))
    np.testing.assert_allclose(out.detach().numpy(), m.bias.detach().numpy()[None] + 100, rtol=1e-6)
    assert log == ["first"]
    for h in (h1, h2, h3):
        h.remove()
    out = m(ttorch.ones(1, 2))
    np.testing.assert_allclose(out.detach().numpy(), (m.weight.sum(1) + m.bias).detach().numpy()[None], rtol=1e-6)
    # with_kwargs
    k = Norm(2)
    k.register_forward_pre_hook(lambda mod, args, kwargs: ((args[0] * 2,), kwargs), with_kwargs=True)
    k.register_forward_hook(lambda mod, args, kwargs, out: out - 1, with_kwargs=True)
    np.testing.assert_array_equal(k(ttorch.ones(2)).detach().numpy(), [1.0, 1.0])
    with nn.Module().register_forward_hook(lambda *a: None) as h:
        assert isinstance(h.id, int)


def test_forward_hook_always_call():
    class Boom(nn.Module):
        def forward(self, x):
            raise ValueError("boom")

    m = Boom()
    seen = []
    m.register_forward_hook(lambda mod, args, out: seen.append(out), always_call=True)
    m.register_forward_hook(lambda mod, args, out: seen.append("never"))
    with pytest.raises(ValueError, match="boom"):
        m(1)
    assert seen == [None]


class Scale(nn.Module):
    """y1 = x * w, y2 = 3 * x * z: grads easy to write down."""

    def __init__(self, device):
        super().__init__()
        self.w = nn.Parameter(ttorch.tensor([2.0, 5.0], device=device))

    def forward(self, x, z):
        return x * self.w, 3 * x * z


def test_full_backward_hooks(device):
    m = Scale(device)
    log = []
    m.register_full_backward_pre_hook(lambda mod, go: log.append(("pre", go)))
    m.register_full_backward_hook(lambda mod, gi, go: log.append(("hook", gi, go)))
    x = ttorch.tensor([1.0, 2.0], device=device, requires_grad=True)
    z = ttorch.tensor([4.0, 1.0], device=device, requires_grad=True)
    y1, y2 = m(x, z)
    (y1 * ttorch.tensor([1.0, 10.0], device=device) + y2).sum().backward()
    (_, go_pre), (_, gi, go) = log
    np.testing.assert_array_equal(go_pre[0].cpu().numpy(), [1.0, 10.0])
    np.testing.assert_array_equal(go[1].cpu().numpy(), [1.0, 1.0])
    # grad_input: d/dx = w * g1 + 3 z g2, d/dz = 3 x g2
    np.testing.assert_allclose(gi[0].cpu().numpy(), [2.0 + 12.0, 50.0 + 3.0])
    np.testing.assert_allclose(gi[1].cpu().numpy(), [3.0, 6.0])
    np.testing.assert_allclose(x.grad.cpu().numpy(), [14.0, 53.0])


def test_full_backward_hooks_replace_grads(device):
    m = Scale(device)
    m.register_full_backward_pre_hook(lambda mod, go: (go[0] * 2, go[1]))
    m.register_full_backward_hook(lambda mod, gi, go: (gi[0] + 1, None))
    x = ttorch.tensor([1.0, 2.0], device=device, requires_grad=True)
    z = ttorch.tensor([4.0, 1.0], device=device, requires_grad=True)
    y1, y2 = m(x, z)
    (y1.sum() + y2.sum()).backward()
    # pre-hook doubles grad_output[0]: the parameter sees it too
    np.testing.assert_allclose(m.w.grad.cpu().numpy(), [2.0, 4.0])
    np.testing.assert_allclose(x.grad.cpu().numpy(), [2 * 2.0 + 12.0 + 1, 2 * 5.0 + 3.0 + 1])
    assert z.grad is None


def test_full_backward_hook_inputs_without_grad():
    m = Scale("cpu")
    seen = []
    m.register_full_backward_hook(lambda mod, gi, go: seen.append((gi, go)))
    y1, y2 = m(ttorch.ones(2), ttorch.ones(2))
    y1.sum().backward()
    (gi, go), = seen
    assert gi == (None, None) and go[1] is None
    np.testing.assert_array_equal(go[0].numpy(), [1.0, 1.0])


# ---------------------------------------------------------------------- repr
def test_repr_exact():
    assert repr(nn.Sequential(Linear(2, 3))) == "Sequential(\n  (0): Linear(in_features=2, out_features=3, bias=True)\n)"
    assert repr(Net()) == (
        "Net(\n"
        "  (fc1): Linear(in_features=2, out_features=3, bias=True)\n"
        "  (norm): Norm()\n"
        "  (head): Sequential(\n"
        "    (0): Linear(in_features=3, out_features=3, bias=True)\n"
        "    (1): Linear(in_features=3, out_features=1, bias=True)\n"
        "  )\n"
        ")")
    assert repr(nn.Module()) == "Module()"
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"
    assert repr(nn.Unflatten(1, (2, 5))) == "Unflatten(dim=1, unflattened_size=(2, 5))"
    ml = nn.ModuleList([Linear(2, 2, bias=False), nn.Identity(), nn.Identity(), nn.Identity()])
    ml[0].in_features = 2
    assert repr(ml) == ("ModuleList(\n  (0): Linear(in_features=2, out_features=2, bias=False)\n"
                        "  (1-3): 3 x Identity()\n)")
    assert repr(nn.ModuleList()) == "ModuleList()"
    pl = nn.ParameterList([ttorch.ones(2, 3), nn.Parameter(ttorch.ones(1))])
    assert repr(pl) == ("ParameterList(\n    (0): Parameter containing: [ttorch.float32 of size 2x3]\n"
                        "    (1): Parameter containing: [ttorch.float32 of size 1]\n)")
    pd = nn.ParameterDict({"b": ttorch.ones(2), "a": ttorch.ones(2, 2, dtype=ttorch.float64)})
    assert repr(pd) == ("ParameterDict(\n    (a): Parameter containing: [ttorch.DoubleTensor of size 2x2]\n"
                        "    (b): Parameter containing: [ttorch.FloatTensor of size 2]\n)")

    class Multi(nn.Module):
        def extra_repr(self):
            return "a=1\nb=2"

    assert repr(Multi()) == "Multi(\n  a=1\n  b=2\n)"


# ---------------------------------------------------------------------- containers
def test_sequential():
    a, b, c = Linear(2, 2), nn.Identity(), Linear(2, 2)
    s = nn.Sequential(a, b, c)
    assert len(s) == 3 and s[0] is a and s[-1] is c and list(s) == [a, b, c]
    x = ttorch.randn(3, 2)
    np.testing.assert_allclose(s(x).detach().numpy(), c(a(x)).detach().numpy(), rtol=1e-6)
    sl = s[1:]
    assert isinstance(sl, nn.Sequential) and list(sl._modules) == ["1", "2"] and sl[0] is b
    with pytest.raises(IndexError, match="index 3 is out of range"):
        s[3]
    d = nn.Identity()
    s.append(d)
    assert s[3] is d
    s.insert(1, nn.Flatten())
    assert isinstance(s[1], nn.Flatten) and s[2] is b and len(s) == 5
    assert s.pop(1).__class__ is nn.Flatten and list(s._modules) == ["0", "1", "2", "3"]
    del s[0]
    assert s[0] is b and list(s._modules) == ["0", "1", "2"]
    s.extend([nn.Identity()])
    assert len(s) == 4
    s[0] = a
    assert s[0] is a
    named = nn.Sequential(OrderedDict([("conv", a), ("act", b)]))
    assert named.conv is a and list(named.state_dict()) == ["conv.weight", "conv.bias"]
    assert len(nn.Sequential(a, b) + nn.Sequential(c)) == 3
    assert len(nn.Sequential(a) * 3) == 3
    assert [k for k in nn.Sequential(Linear(1, 1), nn.Identity(), Linear(1, 1)).state_dict()] == [
        "0.weight", "0.bias", "2.weight", "2.bias"]


def test_module_list_and_dict():
    layers = nn.ModuleList([Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3 and len(list(layers.parameters())) == 6
    layers.append(nn.Identity())
    layers.extend([nn.Identity()])
    layers.insert(0, nn.Flatten())
    assert isinstance(layers[0], nn.Flatten) and len(layers) == 6 and isinstance(layers[-1], nn.Identity)
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    del layers[0]
    assert list(layers._modules) == ["0", "1", "2", "3", "4"]
    layers += [nn.Identity()]
    assert len(layers) == 6 and len(layers + nn.ModuleList([nn.Identity()])) == 7
    with pytest.raises(TypeError, match="ModuleList.extend should be called with an iterable"):
        layers.extend(3)
    with pytest.raises(NotImplementedError):
        layers(1)
    md = nn.ModuleDict({"b": Linear(1, 1), "a": nn.Identity()})
    assert list(md.keys()) == ["b", "a"] and "a" in md and len(md) == 2
    md["c"] = nn.Flatten()
    assert [k for k, _ in md.items()] == ["b", "a", "c"] and isinstance(md.pop("c"), nn.Flatten)
    md.update([("d", nn.Identity())])
    assert list(md) == ["b", "a", "d"]
    assert list(md.state_dict()) == ["b.weight", "b.bias"]
    with pytest.raises(ValueError, match="has length 1; 2 is required"):
        md.update([("x",)])
    md.clear()
    assert len(md) == 0


def test_parameter_list_and_dict(device):
    pl = nn.ParameterList([ttorch.ones(2, device=device), nn.Parameter(ttorch.zeros(1, device=device))])
    assert all(isinstance(p, nn.Parameter) for p in pl) and len(pl) == 2
    pl.append(ttorch.ones(3, device=device))
    assert [n for n, _ in pl.named_parameters()] == ["0", "1", "2"] and pl[-1].shape == (3,)
    assert isinstance(pl[0:2], nn.ParameterList) and len(pl[0:2]) == 2
    with pytest.raises(RuntimeError, match="ParameterList should not be called"):
        pl()
    if device == "cuda":
        assert "(cuda:0)]" in repr(pl)
    pd = nn.ParameterDict({"w": ttorch.ones(2, device=device)})
    pd["b"] = ttorch.zeros(1, device=device)
    assert isinstance(pd["b"], nn.Parameter) and list(pd) == ["w", "b"] and "w" in pd
    assert [n for n, _ in pd.named_parameters()] == ["w", "b"]
    assert pd.get("zz") is None and pd.pop("b").shape == (1,) and len(pd) == 1
    with pytest.raises(TypeError, match="not a string"):
        pd[1] = ttorch.ones(1)
    m = nn.Module()
    m.pl = pl
    m.pd = pd
    assert list(m.state_dict()) == ["pl.0", "pl.1", "pl.2", "pd.w"]


def test_flatten_identity_unflatten(device):
    x = ttorch.arange(60.0, device=device).reshape(2, 3, 2, 5)
    assert nn.Identity(3, unused=True)(x) is x
    assert nn.Flatten()(x).shape == (2, 30)
    assert nn.Flatten(0, 2)(x).shape == (12, 5)
    assert nn.Flatten(-2)(x).shape == (2, 3, 10)
    np.testing.assert_array_equal(nn.Flatten()(x).cpu().numpy(), np.arange(60.0).reshape(2, 30))
    assert nn.Unflatten(1, (3, 1))(ttorch.zeros(2, 3, device=device)).shape == (2, 3, 1)
    assert nn.Unflatten(-1, [2, -1])(ttorch.zeros(2, 6, device=device)).shape == (2, 2, 3)
    with pytest.raises(TypeError, match="unflattened_size must be tuple of ints"):
        nn.Unflatten(1, (2, 2.0))


# ---------------------------------------------------------------------- nn.utils
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
def test_clip_grad_norm(device, norm_type):
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    params = []
    for g in grads:
        p = nn.Parameter(ttorch.zeros(*g.shape, device=device))
        p.grad = ttorch.tensor(g, dtype=ttorch.float32, device=device)
        params.append(p)
    params.append(nn.Parameter(ttorch.zeros(2, device=device)))   # no grad: skipped
    flat = np.concatenate([g.reshape(-1) for g in grads])
    ref = np.abs(flat).max() if norm_type == math.inf else (np.abs(flat) ** norm_type).sum() ** (1 / norm_type)
    max_norm = 0.5
    total = nn.utils.clip_grad_norm_(iter(params), max_norm, norm_type=norm_type)
    assert total.ndim == 0 and total.device.type == device
    np.testing.assert_allclose(total.item(), ref, rtol=1e-5)
    coef = min(1.0, max_norm / (ref + 1e-6))
    for p, g in zip(params, grads):
        np.testing.assert_allclose(p.grad.cpu().numpy(), g * coef, rtol=1e-5, atol=1e-7)
    # below the threshold: untouched
    before = params[0].grad.cpu().numpy().copy()
    nn.utils.clip_grad_norm_(params, 1e6, norm_type)
    np.testing.assert_allclose(params[0].grad.cpu().numpy(), before, rtol=1e-6)


def test_clip_grad_norm_edge_cases():
    p = nn.Parameter(ttorch.ones(2))
    p.grad = ttorch.tensor([math.inf, 1.0])
    with pytest.raises(RuntimeError, match="is non-finite, so it cannot be clipped"):
        nn.utils.clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
    assert nn.utils.clip_grad_norm_([], 1.0).item() == 0.0
    with pytest.warns(UserWarning, match="empty generator"):
        nn.utils.clip_grad_norm_((q for q in []), 1.0)
    p.grad = ttorch.tensor([3.0, 4.0])
    assert nn.utils.clip_grad_norm_(p, 1.0).item() == pytest.approx(5.0)
    assert not p.grad.requires_grad


def test_clip_grad_value(device):
    p = nn.Parameter(ttorch.zeros(4, device=device))
    p.grad = ttorch.tensor([-3.0, -0.5, 0.2, 9.0], device=device)
    nn.utils.clip_grad_value_([p], 1.0)
    np.testing.assert_array_equal(p.grad.cpu().numpy(), np.float32([-1.0, -0.5, 0.2, 1.0]))


def test_parameters_vector(device):
    net = Linear(3, 2).to(device)
    vec = nn.utils.parameters_to_vector(net.parameters())
    assert vec.shape == (8,)
    np.testing.assert_array_equal(vec.detach().cpu().numpy()[:6], net.weight.detach().cpu().numpy().reshape(-1))
    w = net.weight
    nn.utils.vector_to_parameters(ttorch.arange(8.0, device=device), net.parameters())
    assert net.weight is w
    np.testing.assert_array_equal(net.weight.detach().cpu().numpy(), np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(net.bias.detach().cpu().numpy(), [6.0, 7.0])
    with pytest.raises(TypeError, match="expected torch.Tensor, but got: list"):
        nn.utils.vector_to_parameters([1.0], net.parameters())


def test_pad_sequence(device):
    a = ttorch.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    b = ttorch.tensor([4.0], device=device)
    c = ttorch.tensor([5.0, 6.0], device=device)
    out = pad_sequence([a, b, c])
    assert out.shape == (3, 3)
    np.testing.assert_array_equal(out.detach().cpu().numpy(), [[1, 4, 5], [2, 0, 6], [3, 0, 0]])
    out = pad_sequence([a, b, c], batch_first=True, padding_value=-1.0)
    np.testing.assert_array_equal(out.detach().cpu().numpy(), [[1, 2, 3], [4, -1, -1], [5, 6, -1]])
    out = pad_sequence([a, b, c], batch_first=True, padding_side="left")
    np.testing.assert_array_equal(out.detach().cpu().numpy(), [[1, 2, 3], [0, 0, 4], [0, 5, 6]])
    (out * ttorch.arange(9.0, device=device).reshape(3, 3)).sum().backward()
    np.testing.assert_array_equal(a.grad.cpu().numpy(), [0.0, 1.0, 2.0])
    trailing = pad_sequence([ttorch.ones(2, 3, device=device), ttorch.ones(1, 3, device=device)])
    assert trailing.shape == (2, 2, 3)
    np.testing.assert_array_equal(trailing.cpu().numpy()[:, 1, 0], [1.0, 0.0])
    with pytest.raises(ValueError, match="Expected padding_side to be one of left or right, but got middle."):
        pad_sequence([a], padding_side="middle")
    seqs = nn.utils.rnn.unpad_sequence(pad_sequence([a, b, c]), ttorch.tensor([3, 1, 2]))
    assert [s.shape[0] for s in seqs] == [3, 1, 2]


def test_module_pickle_and_init_args(device):
    net = Net().to(device)
    back = pickle.loads(pickle.dumps(net))
    assert isinstance(back.fc1.weight, nn.Parameter) and back.fc1.weight.device.type == device
    for (k, v), (k2, v2) in zip(net.state_dict().items(), back.state_dict().items()):
        assert k == k2
        np.testing.assert_array_equal(v.cpu().numpy(), v2.cpu().numpy())
    with pytest.raises(TypeError, match=r"Module.__init__\(\) got an unexpected keyword argument 'x'"):
        nn.Module(x=1)
    with pytest.raises(TypeError, match=r"Module.__init__\(\) takes 1 positional argument but 2 were given"):
        nn.Module(1)
    empty = Linear(2, 2).to_empty(device=device)
    assert empty.weight.device.type == device and empty.weight.shape == (2, 2)
