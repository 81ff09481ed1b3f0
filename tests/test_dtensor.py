"""DeviceMesh, DTensor and tensor parallelism on a pool of 2 processes (cpu): meshes and their groups, every
placement transition on 1-D and (1, 2) meshes (values against NumPy, gradients against the hand-derived ones), the
sharding rules of elementwise ops, sum/mean, matmul/linear, view and layer_norm, ops through Replicate, in-place
ops, and a 2-layer MLP in tensor parallel against the same model in one process (outputs, gradients, 3 Adam steps),
SequenceParallel, a column-wise Embedding, distribute_module and PrepareModuleInput.
"""
import numpy as np
import pytest

import ttorch
from ttorch import nn
from ttorch.distributed.device_mesh import DeviceMesh, init_device_mesh
from ttorch.distributed.tensor import DTensor, Partial, Replicate, Shard, distribute_module, distribute_tensor
from ttorch.distributed.tensor.parallel import (ColwiseParallel, PrepareModuleInput, RowwiseParallel,
                                                SequenceParallel, parallelize_module)

from _distributed_pool import world_fixture

WORLD = 2


world = world_fixture(WORLD, 120, 30)


def _x(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _t(a, requires_grad=False):
    return ttorch.tensor(a, requires_grad=requires_grad)


# ------------------------------------------------------------------------------------------------ meshes
def _meshes(rank):
    m1 = init_device_mesh("cpu", (2,))
    m2 = init_device_mesh("cpu", (1, 2), mesh_dim_names=("dp", "tp"))
    tp = m2["tp"]
    return dict(size=m1.size(), ndim=(m1.ndim, m2.ndim), local=m1.get_local_rank(), coord=m2.get_coordinate(),
                sizes=(m2.size(0), m2.size("tp"), m2.size()), group_ranks=m2.get_group("tp").size(),
                dp_group=m2.get_group(0).size(), tp_mesh=(tp.mesh.tolist(), tp.mesh_dim_names, tp.size()),
                tp_local=tp.get_local_rank(), repr=repr(m1), named=repr(m2), names=m2.mesh_dim_names,
                shape=m2.mesh.shape, eq=m1 == DeviceMesh("cpu", [0, 1]))


def test_device_mesh(world):
    for rank, r in enumerate(world.run(_meshes)):
        assert r["size"] == 2 and r["ndim"] == (1, 2) and r["local"] == rank and r["coord"] == [0, rank]
        assert r["sizes"] == (1, 2, 2) and r["group_ranks"] == 2 and r["dp_group"] == 1
        assert r["tp_mesh"] == ([0, 1], ("tp",), 2) and r["tp_local"] == rank and r["eq"]
        assert r["repr"] == "DeviceMesh((2,), 'cpu', stride=(1,))" and r["names"] == ("dp", "tp")
        assert r["named"] == "DeviceMesh((dp=1, tp=2), 'cpu', stride=((), 1))"
        assert tuple(r["shape"]) == (1, 2)


def _mesh_errors(rank):
    out = []
    for f in (lambda: init_device_mesh("cpu", (4,)), lambda: init_device_mesh("cpu", (2,), mesh_dim_names=("a", "b")),
              lambda: init_device_mesh("cpu", (2,))["x"]):
        try:
            f()
            out.append(None)
        except Exception as e:
            out.append(type(e).__name__)
    return out


def test_device_mesh_errors(world):
    assert world.run(_mesh_errors)[0] == ["RuntimeError", "RuntimeError", "RuntimeError"]


# ------------------------------------------------------------------------------------------------ layouts
PLACEMENTS = {"S0": Shard(0), "S1": Shard(1), "R": Replicate(), "P": Partial()}


def _layouts(rank):
    mesh = init_device_mesh("cpu", (2,))
    x = _x(5, 3)        # 5 rows: uneven chunks (3, 2), as ttorch.chunk cuts
    out = {}
    for name, p in PLACEMENTS.items():
        d = distribute_tensor(_t(x), mesh, [p])
        out[name] = (d.to_local().numpy(), d.full_tensor().numpy(), tuple(d.shape), d.placements)
    own = _t(_x(2, 3, seed=rank))           # each rank's own: rank 0's is broadcast, unless src_data_rank=None
    out["src"] = (distribute_tensor(own, mesh, [Replicate()]).to_local().numpy(),
                  distribute_tensor(own, mesh, [Replicate()], src_data_rank=None).to_local().numpy(),
                  distribute_tensor(own, mesh, [Replicate()], src_data_rank=1).to_local().numpy())
    return out


def test_distribute_tensor_layouts(world):
    x = _x(5, 3)
    for rank, r in enumerate(world.run(_layouts)):
        np.testing.assert_allclose(r["S0"][0], x[:3] if rank == 0 else x[3:])
        np.testing.assert_allclose(r["S1"][0], x[:, :2] if rank == 0 else x[:, 2:])
        np.testing.assert_allclose(r["R"][0], x)
        np.testing.assert_allclose(r["P"][0], x / 2)           # PyTorch's partition of a sum: v / n
        for name in PLACEMENTS:
            np.testing.assert_allclose(r[name][1], x, rtol=1e-12)
            assert r[name][2] == (5, 3)
        assert r["S0"][3] == (Shard(0),)
        np.testing.assert_allclose(r["src"][0], _x(2, 3, seed=0))
        np.testing.assert_allclose(r["src"][1], _x(2, 3, seed=rank))
        np.testing.assert_allclose(r["src"][2], _x(2, 3, seed=1))


def _transitions(rank):
    """Every transition: forward value, and the gradient of sum(W * y.full_tensor()) at the source."""
    mesh = init_device_mesh("cpu", (2,))
    x, w = _x(4, 6), _x(4, 6, seed=1)
    out = {}
    for a, pa in PLACEMENTS.items():
        for b, pb in PLACEMENTS.items():
            if b == "P" and a != "P":
                continue            # (PyTorch: "redistributing to Partial is for internal use only!")
            src = distribute_tensor(_t(x), mesh, [pa]).requires_grad_()
            y = src.redistribute(mesh, [pb])
            (y.full_tensor() * _t(w)).sum().backward()
            out[a, b] = (y.to_local().detach().numpy(), y.full_tensor().detach().numpy(),
                         src.grad.full_tensor().numpy(), src.grad.placements)
    return out


def test_redistribute_all_transitions(world):
    x, w = _x(4, 6), _x(4, 6, seed=1)
    local = {"S0": lambda a, r: a[2 * r:2 * r + 2], "S1": lambda a, r: a[:, 3 * r:3 * r + 3], "R": lambda a, r: a}
    for rank, r in enumerate(world.run(_transitions)):
        for (a, b), (loc, full, grad, gp) in r.items():
            np.testing.assert_allclose(full, x, rtol=1e-12, atol=1e-15, err_msg=f"{a}->{b}")
            if b in local:
                np.testing.assert_allclose(loc, local[b](x, rank), rtol=1e-12, atol=1e-15, err_msg=f"{a}->{b}")
            np.testing.assert_allclose(grad, w, rtol=1e-12, err_msg=f"grad {a}->{b}")
            assert gp == ((Replicate(),) if a == "P" else (PLACEMENTS[a],))


def _reversed_mesh(rank):
    """A mesh listing the ranks out of order: chunks follow the mesh's order, not the ranks'."""
    mesh = DeviceMesh("cpu", [1, 0])
    d = distribute_tensor(_t(_x(4, 3)), mesh, [Shard(0)], src_data_rank=0)
    return mesh.get_local_rank(), d.to_local().numpy(), d.full_tensor().numpy()


def test_mesh_out_of_rank_order(world):
    x = _x(4, 3)
    for rank, (local_rank, loc, full) in enumerate(world.run(_reversed_mesh)):
        assert local_rank == 1 - rank
        np.testing.assert_allclose(loc, x[2:] if rank == 0 else x[:2])
        np.testing.assert_allclose(full, x)


def _from_local(rank):
    mesh = init_device_mesh("cpu", (2,))
    loc = _t(_x(2, 3, seed=rank), requires_grad=True)
    d = DTensor.from_local(loc, mesh, [Shard(0)])
    (d.full_tensor() * 3).sum().backward()
    p = DTensor.from_local(_t(_x(2, 3, seed=rank)), mesh, [Partial()])
    with pytest.raises(RuntimeError, match="redistributing to Partial is for internal use only"):
        d.redistribute(mesh, [Partial()])
    return tuple(d.shape), d.full_tensor().detach().numpy(), loc.grad.numpy(), p.full_tensor().numpy(), \
        p.redistribute(mesh, [Shard(1)]).to_local().numpy(), repr(d).startswith("DTensor(local_tensor=")


def test_from_local(world):
    r0, r1 = world.run(_from_local)
    a, b = _x(2, 3, seed=0), _x(2, 3, seed=1)
    for rank, r in enumerate((r0, r1)):
        assert r[0] == (4, 3) and r[5]
        np.testing.assert_allclose(r[1], np.concatenate([a, b]))
        np.testing.assert_allclose(r[2], np.full((2, 3), 3.0))
        np.testing.assert_allclose(r[3], a + b)
        np.testing.assert_allclose(r[4], (a + b)[:, :2] if rank == 0 else (a + b)[:, 2:])


def _two_d(rank):
    """A (1, 2) mesh: placements over both dims, and transitions on each."""
    mesh = init_device_mesh("cpu", (1, 2), mesh_dim_names=("dp", "tp"))
    x = _x(4, 6)
    out = {}
    for a in ([Replicate(), Shard(0)], [Shard(0), Shard(1)], [Shard(1), Shard(1)], [Replicate(), Partial()]):
        d = distribute_tensor(_t(x), mesh, a).requires_grad_()
        for b in ([Shard(1), Shard(0)], [Replicate(), Replicate()], [Replicate(), Shard(1)], [Shard(0), Shard(0)]):
            y = d.redistribute(mesh, b)
            (y.full_tensor() * 2).sum().backward()
            out[str(a), str(b)] = (y.to_local().detach().numpy(), y.full_tensor().detach().numpy())
        out[str(a), "grad"] = d.grad.full_tensor().numpy()
    return out


def test_two_d_mesh(world):
    x = _x(4, 6)
    for rank, r in enumerate(world.run(_two_d)):
        for (a, b), v in r.items():
            if b == "grad":
                np.testing.assert_allclose(v, np.full((4, 6), 8.0), err_msg=a)   # four transitions, each 2
                continue
            np.testing.assert_allclose(v[1], x, rtol=1e-12, err_msg=f"{a}->{b}")
            if b == str([Shard(1), Shard(0)]) or b == str([Shard(0), Shard(0)]):
                np.testing.assert_allclose(v[0], x[2 * rank:2 * rank + 2], err_msg=f"{a}->{b}")


# ------------------------------------------------------------------------------------------------ sharding rules
def _ops(rank):
    mesh = init_device_mesh("cpu", (2,))
    a, b, bias, w = _x(4, 6), _x(4, 6, seed=1), _x(6, seed=2), _x(6, 5, seed=3)
    A = distribute_tensor(_t(a), mesh, [Shard(0)]).requires_grad_()
    B = distribute_tensor(_t(b), mesh, [Shard(0)]).requires_grad_()
    C = distribute_tensor(_t(bias), mesh, [Replicate()]).requires_grad_()
    W = distribute_tensor(_t(w), mesh, [Shard(0)]).requires_grad_()
    A1 = A.redistribute(mesh, [Shard(1)])
    r = {}
    e = ttorch.tanh(A * B + C)                      # Shard(0) everywhere; the bias broadcast along the shard
    r["ew"] = (e.placements, e.full_tensor().detach().numpy())
    s0, s1, m0 = A.sum(0), A.sum(1), A.mean(0)      # over the shard: Partial; else the shard moves
    r["sum"] = (s0.placements, s0.full_tensor().detach().numpy(), s1.placements, s1.full_tensor().detach().numpy(),
                m0.placements, m0.full_tensor().detach().numpy())
    p = A1 @ W                                       # Shard(1) @ Shard(0) -> Partial
    q = ttorch.mm(A, W.redistribute(mesh, [Replicate()]))     # Shard(0) @ Replicate -> Shard(0)
    r["matmul_fn"] = ttorch.matmul(A.redistribute(mesh, [Replicate()]), W.redistribute(mesh, [Shard(1)])).placements
    r["mm"] = (p.placements, p.full_tensor().detach().numpy(), q.placements, q.full_tensor().detach().numpy())
    v = A.view(2, 2, 6)
    r["view"] = (v.placements, v.full_tensor().detach().numpy(), A.t().placements)
    loss = (e.sum() + (p * p).sum() + q.sum() + m0.sum()).full_tensor()
    loss.backward()
    r["grads"] = [t.grad.full_tensor().numpy() for t in (A, B, C, W)]
    r["relu_fallback"] = ttorch.nn.functional.softmax(A, dim=0).placements     # no rule: through Replicate
    return r


def test_sharding_rules(world):
    a, b, bias, w = _x(4, 6), _x(4, 6, seed=1), _x(6, seed=2), _x(6, 5, seed=3)
    e = np.tanh(a * b + bias)
    for r in world.run(_ops):
        assert r["ew"][0] == (Shard(0),)
        np.testing.assert_allclose(r["ew"][1], e, rtol=1e-12)
        assert r["sum"][0] == (Partial(),) and r["sum"][2] == (Shard(0),) and r["sum"][4] == (Partial("avg"),)
        np.testing.assert_allclose(r["sum"][1], a.sum(0), rtol=1e-12)
        np.testing.assert_allclose(r["sum"][3], a.sum(1), rtol=1e-12)
        np.testing.assert_allclose(r["sum"][5], a.mean(0), rtol=1e-12)
        assert r["mm"][0] == (Partial(),) and r["mm"][2] == (Shard(0),) and r["matmul_fn"] == (Shard(1),)
        np.testing.assert_allclose(r["mm"][1], a @ w, rtol=1e-12)
        np.testing.assert_allclose(r["mm"][3], a @ w, rtol=1e-12)
        assert r["view"][0] == (Shard(0),) and r["view"][2] == (Shard(1),)
        np.testing.assert_allclose(r["view"][1], a.reshape(2, 2, 6))
        de = 1 - e ** 2
        p = a @ w
        ga = de * b + 2 * p @ w.T + np.ones((4, 5)) @ w.T + 1 / 4
        gw = 2 * a.T @ p + a.T @ np.ones((4, 5))
        for got, want in zip(r["grads"], (ga, de * a, de.sum(0), gw)):
            np.testing.assert_allclose(got, want, rtol=1e-10)
        assert r["relu_fallback"] == (Replicate(),)


# ------------------------------------------------------------------------------------------------ tensor parallel
class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        ttorch.manual_seed(0)
        self.fc1, self.fc2 = nn.Linear(5, 8).double(), nn.Linear(8, 3).double()

    def forward(self, x):
        return self.fc2(ttorch.relu(self.fc1(x)))


def _tp(rank, style_input):
    mesh = init_device_mesh("cpu", (2,))
    x = _t(_x(4, 5, seed=7))
    ref, tp = MLP(), MLP()
    plan = {"fc1": ColwiseParallel(), "fc2": RowwiseParallel()}
    if style_input:
        plan = {"fc1": ColwiseParallel(use_local_output=False), "fc2": RowwiseParallel(use_local_output=False)}
    parallelize_module(tp, mesh, plan)
    placements = [(n, p.placements) for n, p in tp.named_parameters()]
    res = []
    for model in (ref, tp):
        outs = []
        opt = ttorch.optim.Adam(model.parameters(), lr=0.05)
        for _ in range(3):
            opt.zero_grad()
            y = model(x)
            y = y.full_tensor() if isinstance(y, DTensor) else y
            (y * y).sum().backward()
            outs.append(y.detach().numpy())
            grads = [(p.grad.full_tensor() if isinstance(p.grad, DTensor) else p.grad).numpy()
                     for p in model.parameters()]
            opt.step()
        params = [(p.full_tensor() if isinstance(p, DTensor) else p).detach().numpy() for p in model.parameters()]
        res.append((outs, grads, params))
    return res, placements, isinstance(tp.fc1.weight, nn.Parameter)


@pytest.mark.parametrize("dtensor_io", [False, True])
def test_tensor_parallel_mlp(world, dtensor_io):
    for (ref, tp), placements, is_param in world.run(_tp, dtensor_io):
        assert is_param
        assert placements == [("fc1.weight", (Shard(0),)), ("fc1.bias", (Shard(0),)), ("fc2.weight", (Shard(1),)),
                              ("fc2.bias", (Replicate(),))]
        for a, b in zip(ref, tp):
            for u, v in zip(a, b):
                np.testing.assert_allclose(v, u, rtol=1e-10, atol=1e-12)


def _prepare_input(rank):
    mesh = init_device_mesh("cpu", (2,))
    lin = nn.Linear(6, 2).double()
    seen = []
    distribute_module(lin, mesh)                      # parameters replicated
    PrepareModuleInput(input_layouts=Shard(0), desired_input_layouts=Replicate())._apply(lin, mesh)
    lin.register_forward_pre_hook(lambda m, args: seen.append(args[0].placements))
    x = _t(_x(2, 6, seed=rank))
    y = lin(x)
    return y.placements, y.full_tensor().detach().numpy(), lin.weight.placements, seen, \
        lin.weight.full_tensor().detach().numpy(), lin.bias.full_tensor().detach().numpy()


def test_distribute_module_and_prepare_input(world):
    for r in world.run(_prepare_input):
        assert r[0] == (Replicate(),) and r[2] == (Replicate(),) and r[3] == [(Replicate(),)]
        full = np.concatenate([_x(2, 6, seed=0), _x(2, 6, seed=1)])
        np.testing.assert_allclose(r[1], full @ r[4].T + r[5], rtol=1e-12)


def _sequence_parallel(rank):
    """A LayerNorm under SequenceParallel on (B, T, C) cut along T, then an uneven mean (Partial of a sum / N)."""
    mesh = init_device_mesh("cpu", (2,))
    ttorch.manual_seed(0)
    ln = nn.LayerNorm(4).double()
    with ttorch.no_grad():
        ln.weight.copy_(_t(_x(4, seed=3)))
    parallelize_module(ln, mesh, SequenceParallel())
    x = _t(_x(2, 4, 4, seed=4)[:, 2 * rank:2 * rank + 2], requires_grad=True)     # this rank's half of T
    y = ln(x)
    z = distribute_tensor(_t(_x(5, 2, seed=5)), mesh, [Shard(0)]).mean(0)       # 5 rows: chunks of 3 and 2
    (y.full_tensor() * _t(_x(2, 4, 4, seed=6))).sum().backward()
    return y.placements, y.full_tensor().detach().numpy(), x.grad.numpy(), ln.weight.grad.full_tensor().numpy(), \
        z.placements, z.full_tensor().numpy()


def test_sequence_parallel_layer_norm(world):
    x, w, g = _x(2, 4, 4, seed=4), _x(4, seed=3), _x(2, 4, 4, seed=6)
    mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    xh = (x - mu) / np.sqrt(var + 1e-5)
    gh = g * w
    gx = (gh - gh.mean(-1, keepdims=True) - xh * (gh * xh).mean(-1, keepdims=True)) / np.sqrt(var + 1e-5)
    for rank, r in enumerate(world.run(_sequence_parallel)):
        assert r[0] == (Shard(1),) and r[4] == (Partial(),)
        np.testing.assert_allclose(r[1], xh * w, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(r[2], gx[:, 2 * rank:2 * rank + 2], rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(r[3], (g * xh).sum((0, 1)), rtol=1e-10)
        np.testing.assert_allclose(r[5], _x(5, 2, seed=5).mean(0), rtol=1e-12)


def _inplace(rank):
    mesh = init_device_mesh("cpu", (2,))
    d = distribute_tensor(_t(_x(5, 2)), mesh, [Shard(0)])
    d.mul_(2)
    d += distribute_tensor(_t(np.ones((5, 2))), mesh, [Shard(0)])
    with ttorch.no_grad():
        lin = distribute_module(nn.Linear(2, 2).double(), mesh)
        lin.weight.copy_(distribute_tensor(_t(np.eye(2)), mesh, [Replicate()]))
    return d.placements, tuple(d.to_local().shape), d.full_tensor().numpy(), lin.weight.full_tensor().detach().numpy()


def test_inplace_ops(world):
    for r in world.run(_inplace):
        assert r[0] == (Shard(0),) and r[1] in ((3, 2), (2, 2))
        np.testing.assert_allclose(r[2], 2 * _x(5, 2) + 1)
        np.testing.assert_allclose(r[3], np.eye(2))


def _embedding(rank):
    """An Embedding under ColwiseParallel (weight Shard(1)): outputs and weight gradient against one process."""
    mesh = init_device_mesh("cpu", (2,))
    idx = ttorch.tensor([[0, 3, 6], [2, 2, 5]])
    g = _t(_x(2, 3, 4, seed=8))
    res = []
    for tp in (False, True):
        ttorch.manual_seed(0)
        emb = nn.Embedding(7, 4).double()
        if tp:
            parallelize_module(emb, mesh, ColwiseParallel(output_layouts=Replicate()))
        y = emb(idx)
        (y * g).sum().backward()
        w = emb.weight.grad
        res.append((y.detach().numpy(), (w.full_tensor() if isinstance(w, DTensor) else w).numpy(),
                    getattr(emb.weight, "placements", None)))
    return res


def test_colwise_embedding(world):
    for (ref, tp) in world.run(_embedding):
        assert tp[2] == (Shard(1),)
        np.testing.assert_allclose(tp[0], ref[0], rtol=1e-12)
        np.testing.assert_allclose(tp[1], ref[1], rtol=1e-12)


def _fallback(rank):
    """Ops without a rule (through Replicate) and functions that hand DTensors on: values and a gradient."""
    mesh = init_device_mesh("cpu", (2,))
    x, g = _x(4, 6), _x(4, 6, seed=9)
    e = distribute_tensor(_t(x), mesh, [Shard(1)]).requires_grad_()
    s = ttorch.nn.functional.softmax(e, -1)          # over the sharded dim
    (s.full_tensor() * _t(g)).sum().backward()
    d = distribute_tensor(_t(x), mesh, [Shard(0)])
    w = ttorch.where(d > 0, d, d * 2)
    ce = ttorch.nn.functional.cross_entropy(d, distribute_tensor(ttorch.tensor([0, 1, 5, 3]), mesh, [Shard(0)]))
    c = ttorch.cat([d, d[1:3]])
    z = ttorch.ones_like(d)
    return s.full_tensor().detach().numpy(), e.grad.full_tensor().numpy(), e.grad.placements, \
        w.full_tensor().numpy(), float(ce.full_tensor()), c.full_tensor().numpy(), tuple(c.shape), \
        (type(z).__name__, z.placements, z.full_tensor().numpy())


def test_fallback_ops(world):
    x, g = _x(4, 6), _x(4, 6, seed=9)
    s = np.exp(x - x.max(-1, keepdims=True))
    s /= s.sum(-1, keepdims=True)
    lse = np.log(np.exp(x).sum(-1))
    for r in world.run(_fallback):
        np.testing.assert_allclose(r[0], s, rtol=1e-12)
        np.testing.assert_allclose(r[1], s * (g - (g * s).sum(-1, keepdims=True)), rtol=1e-10, atol=1e-14)
        assert r[2] == (Shard(1),)
        np.testing.assert_allclose(r[3], np.where(x > 0, x, 2 * x))
        np.testing.assert_allclose(r[4], np.mean(lse - x[np.arange(4), [0, 1, 5, 3]]), rtol=1e-12)
        np.testing.assert_allclose(r[5], np.concatenate([x, x[1:3]]))
        assert r[6] == (6, 6)
        assert r[7][:2] == ("DTensor", (Shard(0),))
        np.testing.assert_allclose(r[7][2], np.ones((4, 6)))


def _clip_sgd(rank):
    """clip_grad_norm_ (a norm over DTensor gradients, then in-place scaling) and SGD with momentum, TP vs not."""
    mesh = init_device_mesh("cpu", (2,))
    res = []
    for tp in (False, True):
        ttorch.manual_seed(0)
        m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).double()
        if tp:
            parallelize_module(m, mesh, {"0": ColwiseParallel(), "2": RowwiseParallel()})
        opt = ttorch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
        for _ in range(2):
            opt.zero_grad()
            m(_t(_x(2, 3, seed=10))).pow(2).sum().backward()
            n = nn.utils.clip_grad_norm_(m.parameters(), 0.5)
            opt.step()
        res.append((float(n.full_tensor() if isinstance(n, DTensor) else n),
                    [(p.full_tensor() if isinstance(p, DTensor) else p).detach().numpy() for p in m.parameters()]))
    return res


def test_clip_grad_norm_and_sgd(world):
    for ref, tp in world.run(_clip_sgd):
        assert ref[0] > 0.5
        np.testing.assert_allclose(tp[0], ref[0], rtol=1e-12)
        for a, b in zip(ref[1], tp[1]):
            np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-14)
