"""2-D parallelism on a pool of 4 processes (a 2x2 mesh: dp x tp): PyTorch's recipe ``parallelize_module(model,
mesh["tp"], plan)`` then ``fully_shard(model, mesh=mesh["dp"])``. Parameters become DTensors on the 2-D mesh
(FSDP's placement over dp, the TP placement over tp); trained 3 Adam steps on each dp rank's batch, the model
equals one process trained on both batches (gradients clipped by ``clip_grad_norm_``).
Also DTensor random ops (per rank on a cpu mesh as PyTorch; per-shard Philox offsets on a cuda mesh) and DDP's
buckets (``bucket_cap_mb``, rebuilt buckets, ``find_unused_parameters``, ``static_graph``,
``gradient_as_bucket_view``) against PyTorch 2.13's, iteration by iteration."""
import numpy as np
import pytest

import ttorch
from ttorch import nn
from ttorch.distributed.device_mesh import init_device_mesh
from ttorch.distributed.fsdp import fully_shard
from ttorch.distributed.tensor import Replicate, Shard
from ttorch.distributed.tensor.parallel import ColwiseParallel, RowwiseParallel, parallelize_module
from ttorch.distributed.tensor.placement_types import _StridedShard

from _distributed_pool import world_fixture

WORLD = 4
world = world_fixture(WORLD, 120, 30)


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        ttorch.manual_seed(0)
        # 6 rows: TP shards of 3, cut (2, 1) by FSDP; fc2's 3 rows cut (2, 1), its 6 columns TP shards of 3
        self.fc1, self.fc2 = nn.Linear(5, 6), nn.Linear(6, 3)

    def forward(self, x):
        return self.fc2(ttorch.tanh(self.fc1(x)))


def _batch(dp, n=3):
    rng = np.random.default_rng(dp)
    return ttorch.tensor(rng.standard_normal((n, 5))), ttorch.tensor(rng.standard_normal((n, 3)))


def _loss(model, x, y):
    return ((model(x) - y) ** 2).mean()


def _reference():
    model = MLP().double()
    opt = ttorch.optim.Adam(model.parameters(), lr=0.05)
    losses, norms = [], []
    for _ in range(3):
        opt.zero_grad()
        loss = sum(_loss(model, *_batch(dp)) for dp in range(2)) / 2
        loss.backward()
        losses.append(loss.item())
        norms.append(nn.utils.clip_grad_norm_(model.parameters(), 0.5).item())
        opt.step()
    return losses, norms, {k: v.numpy() for k, v in model.state_dict().items()}


def _train_2d(rank, nested):
    mesh = init_device_mesh("cpu", (2, 2), mesh_dim_names=("dp", "tp"))
    model = MLP().double()
    parallelize_module(model, mesh["tp"], {"fc1": ColwiseParallel(), "fc2": RowwiseParallel()})
    if nested:      # fc1 its own FSDP module: freed after forward, gathered again in backward
        fully_shard(model.fc1, mesh=mesh["dp"])
    fully_shard(model, mesh=mesh["dp"])
    layout = {n: (p.placements, tuple(p.to_local().shape), p.device_mesh.shape)
              for n, p in model.named_parameters()}
    opt = ttorch.optim.Adam(model.parameters(), lr=0.05)
    x, y = _batch(mesh.get_local_rank("dp"))
    losses, norms = [], []
    for _ in range(3):
        opt.zero_grad()
        loss = _loss(model, x, y)
        loss.backward()
        losses.append(loss.item())
        norms.append(nn.utils.clip_grad_norm_(model.parameters(), 0.5).full_tensor().item())
        opt.step()
    grad = model.fc1.weight.grad
    sd = {k: v.full_tensor().numpy() for k, v in model.state_dict().items()}
    fresh = MLP().double().state_dict()
    model.load_state_dict(fresh)        # full tensors into the 2-D layout (the _StridedShard cut last)
    loaded = all(np.array_equal(v.full_tensor().numpy(), fresh[k].numpy()) for k, v in model.state_dict().items())
    return dict(loaded=loaded, layout=layout, coord=mesh.get_coordinate(), losses=losses, norms=norms,
                grad=grad.placements, sd=sd)


@pytest.mark.parametrize("nested", [False, True])
def test_fsdp_tp_layout_and_training_match_one_process(world, nested):
    want_losses, want_norms, want = _reference()
    runs = world.run(_train_2d, nested)
    for got in runs:
        dp, tp = got["coord"]
        lay = got["layout"]
        assert lay["fc1.weight"] == ((_StridedShard(0, 2), Shard(0)), ((2, 1)[dp], 5), (2, 2))
        assert lay["fc1.bias"] == ((_StridedShard(0, 2), Shard(0)), ((2, 1)[dp],), (2, 2))
        assert lay["fc2.weight"] == ((Shard(0), Shard(1)), ((2, 1)[dp], 3), (2, 2))
        assert lay["fc2.bias"] == ((Shard(0), Replicate()), ((2, 1)[dp],), (2, 2))
        assert got["grad"] == (_StridedShard(0, 2), Shard(0)) and got["loaded"]
        for k in want:
            np.testing.assert_allclose(got["sd"][k], want[k], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(got["norms"], want_norms, rtol=1e-12)     # clip_grad_norm_ over the 2-D grads
    # ranks 0 and 2 (dp 0 and 1) saw one batch each: the mean of their losses is the one-process loss
    np.testing.assert_allclose(np.mean([runs[0]["losses"], runs[2]["losses"]], axis=0), want_losses, rtol=1e-12)


# ---------------------------------------------------------------------------------------------- random ops
def _random_cpu(rank):
    import warnings
    from ttorch.distributed.tensor import distribute_tensor, rand
    mesh = init_device_mesh("cpu", (WORLD,))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ttorch.manual_seed(0)
        w = distribute_tensor(ttorch.zeros(8, 3), mesh, [Shard(0)])
        nn.init.uniform_(w)
        ttorch.manual_seed(0)
        own = ttorch.empty(2, 3).uniform_()         # PyTorch on cpu: each rank draws its local from its generator
        ttorch.manual_seed(rank)
        r = distribute_tensor(ttorch.ones(4, 3), mesh, [Replicate()], src_data_rank=None)
        d = nn.functional.dropout(r, 0.5)
        try:
            rand(4, 3, device_mesh=mesh)
            err = None
        except AssertionError as e:
            err = type(e)
    return dict(same=w.to_local().numpy().tolist() == own.numpy().tolist(), placements=w.placements,
                mask=d.to_local().numpy(), dplace=d.placements, err=err,
                warned=any("may not have complete support on cpu" in str(c.message) for c in caught))


def test_random_ops_on_cpu_mesh_are_per_rank(world):
    got = world.run(_random_cpu)
    for g in got:
        assert g["same"] and g["placements"] == (Shard(0),) and g["dplace"] == (Replicate(),)
        assert g["err"] is AssertionError and g["warned"]
        assert set(np.unique(g["mask"])) <= {0.0, 2.0}
    assert not np.array_equal(got[0]["mask"], got[1]["mask"])     # each rank's own seed: its own mask


def _random_cuda(rank):
    from ttorch.distributed.tensor import distribute_tensor, randn
    from ttorch.distributed.tensor import _random
    mesh = init_device_mesh("cuda", (2, 2))
    ttorch.manual_seed(rank)       # the tracker syncs every rank to rank 0's state at its first op
    w = distribute_tensor(ttorch.zeros(4, 6, device="cuda"), mesh, [Shard(0), Replicate()], src_data_rank=None)
    nn.init.normal_(w)
    x = randn(4, 6, device_mesh=mesh, placements=[Replicate(), Shard(1)])
    m = nn.functional.dropout(distribute_tensor(ttorch.ones(6, 4, device="cuda"), mesh, [Replicate(), Replicate()],
                                                src_data_rank=None), 0.5)
    after = ttorch.rand(3, device="cuda")           # every rank's offset moved by the whole numel: in step
    start, end = _random._offsets(mesh, [Shard(0), Shard(1)], (5, 6))
    return dict(w=w.to_local().cpu().numpy(), x=x.to_local().cpu().numpy(), m=m.to_local().cpu().numpy(),
                after=after.cpu().numpy(), offsets=(start, end), coord=mesh.get_coordinate())


def test_random_ops_on_cuda_mesh_follow_shards(world):
    got = world.run(_random_cuda)
    by = {tuple(g["coord"]): g for g in got}
    # Shard(0) over mesh dim 0: rows differ between its shards, equal between the replicas along dim 1
    np.testing.assert_array_equal(by[0, 0]["w"], by[0, 1]["w"])
    assert not np.array_equal(by[0, 0]["w"], by[1, 0]["w"])
    np.testing.assert_array_equal(by[0, 0]["x"], by[1, 0]["x"])
    assert not np.array_equal(by[0, 0]["x"], by[0, 1]["x"]) and by[0, 0]["x"].shape == (4, 3)
    for g in got:
        np.testing.assert_array_equal(g["m"], got[0]["m"])         # a replicated mask is the same everywhere
        np.testing.assert_array_equal(g["after"], got[0]["after"])
    # PyTorch's offsets: shard (i, j) of a (5, 6) tensor cut (3, 3): index 2i + j times 9, rounded up to 4
    for g in got:
        i, j = g["coord"]
        assert g["offsets"] == (((2 * i + j) * 9 + 3) // 4 * 4, 32)


# ---------------------------------------------------------------------------------------------- DDP buckets
def _sizes(nbytes, dtypes=None):
    return [ttorch.zeros(n // 4) if dtypes is None or dtypes[i] == 4 else ttorch.zeros(n // 8, dtype=ttorch.float64)
            for i, n in enumerate(nbytes)]


def test_bucket_assignment_matches_pytorch():
    from ttorch.distributed import _compute_bucket_assignment_by_size as assign
    rev = list(reversed(range(4)))
    # (PyTorch 2.13's answers; sizes are taken in the given order, labels from tensor_indices)
    assert assign(_sizes([400] * 4), [1000, 1000], None, rev) == ([[3, 2, 1], [0]], [1000, 1000])
    assert assign(_sizes([400] * 4), [400, 1000], None, rev) == ([[3], [2, 1, 0]], [400, 1000])
    assert assign(_sizes([4000, 400, 400, 400]), [800, 1000], None, rev) == ([[3], [2, 1, 0]], [800, 1000])
    assert assign(_sizes([400] * 6), [800, 1200], None, list(reversed(range(6)))) == \
        ([[5, 4], [3, 2, 1], [0]], [800, 1200, 1200])
    assert assign(_sizes([400] * 4, [4, 8, 4, 8]), [1000, 1000], None, rev) == ([[2, 0], [3, 1]], [1000, 1000])
    ts = _sizes([1200000, 800000, 400, 1600000, 200000, 280000, 24, 2400000], [4] * 6 + [8, 8])
    assert assign(ts, [1048576, 800000]) == ([[0], [1], [2, 3], [4, 5], [6, 7]],
                                            [1048576, 800000, 800000, 800000, 1048576])


class DDPNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b, self.c = nn.Linear(60, 50), nn.Linear(50, 40), nn.Linear(40, 5)
        self.u, self.v = nn.Linear(3, 3), nn.Linear(60, 5)
        with ttorch.no_grad():
            for i, p in enumerate(self.parameters()):
                p.copy_(ttorch.arange(p.numel(), dtype=ttorch.float32).reshape(p.shape).sin() * 0.1 + i * 0.01)
        self.double()

    def forward(self, x, use_v, all_used):
        h = self.c(ttorch.tanh(self.b(ttorch.tanh(self.a(x)))))
        if all_used:
            return h + self.v(x) + self.u(x[:, :3]).sum(-1, keepdim=True)
        return h + self.v(x) if use_v else h


def _ddp_x(rank):
    return (ttorch.arange(120, dtype=ttorch.float64).reshape(2, 60) * (rank + 1)).cos()


_CONFIGS = [dict(bucket_cap_mb=0.01), dict(bucket_cap_mb=0.01, find_unused_parameters=True),
            dict(bucket_cap_mb=0.01, static_graph=True),
            dict(bucket_cap_mb=0.02, find_unused_parameters=True, gradient_as_bucket_view=True)]


def _uses(kw, rank):
    unused = kw.get("find_unused_parameters") or kw.get("static_graph")
    return bool(unused) and rank == 0 and bool(kw.get("find_unused_parameters")), not unused


def _ddp_train(rank, ci):
    import ttorch.distributed as dist
    from ttorch.distributed.algorithms.ddp_comm_hooks import default_hooks
    kw = _CONFIGS[ci]
    m = nn.parallel.DistributedDataParallel(DDPNet(), **kw)
    names = {id(p): n for n, p in m.module.named_parameters()}
    log = []

    def hook(state, bucket):
        # how many gradients were still to come when the bucket went out: > 0 for all but the last bucket
        log.append((bucket.index(), [names[id(p)] for p in bucket.parameters()], bucket.buffer().numel(),
                    len(m._expected) - len(m._ready)))
        return default_hooks.allreduce_hook(dist.group.WORLD, bucket)
    if not kw.get("gradient_as_bucket_view"):
        m.register_comm_hook(None, hook)
    opt = ttorch.optim.SGD(m.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        m(_ddp_x(rank), *_uses(kw, rank)).sum().backward()
        opt.step()
    grads = {n: None if p.grad is None else p.grad.numpy() for n, p in m.module.named_parameters()}
    w = m.module.a.weight.grad
    return dict(log=log, grads=grads, params={n: p.detach().numpy() for n, p in m.module.named_parameters()},
                view=w._base is not None and m.module.c.weight.grad._base is m.module.c.bias.grad._base)


def _ddp_reference(kw):
    model = DDPNet()
    for _ in range(3):
        total = {}
        for r in range(WORLD):
            model.zero_grad()
            model(_ddp_x(r), *_uses(kw, r)).sum().backward()
            for n, p in model.named_parameters():
                if p.grad is not None:
                    total[n] = total.get(n, 0) + p.grad.numpy() / WORLD
        with ttorch.no_grad():
            for n, p in model.named_parameters():
                if n in total:
                    p -= 0.1 * ttorch.tensor(total[n])
    return total, {n: p.detach().numpy() for n, p in model.named_parameters()}


_ALL = ["a.weight", "a.bias", "b.weight", "b.bias", "c.weight", "c.bias", "u.weight", "u.bias", "v.weight", "v.bias"]
_REBUILT = ["u.bias", "u.weight", "v.bias", "v.weight", "c.bias", "c.weight", "b.bias", "b.weight"]
# PyTorch 2.13's buckets, iteration by iteration (index, parameters, numel), from the same model on gloo
_WANT_BUCKETS = {
    0: [(0, _ALL, 5612), (0, _REBUILT, 2562), (1, ["a.bias", "a.weight"], 3050)] + [
        (0, _REBUILT, 2562), (1, ["a.bias", "a.weight"], 3050)],
    1: [(0, ["b.bias", "c.weight", "c.bias", "u.weight", "u.bias", "v.weight", "v.bias"], 562),
        (1, ["a.bias", "b.weight"], 2050), (2, ["a.weight"], 3000)] * 3,
    2: [(0, _ALL, 5612), (0, _ALL, 5612), (0, ["c.bias", "c.weight", "b.bias", "b.weight"], 2245),
        (1, ["a.bias", "a.weight"], 3050), (2, ["u.weight", "u.bias", "v.weight", "v.bias"], 317)],
}


def test_ddp_buckets_follow_pytorch(world):
    for ci, kw in enumerate(_CONFIGS):
        want_grads, want_params = _ddp_reference(kw)
        for got in world.run(_ddp_train, ci):
            for n in _ALL:
                if n in want_grads:
                    np.testing.assert_allclose(got["grads"][n], want_grads[n], rtol=1e-12, atol=1e-14)
                else:       # no rank used it: no gradient, as PyTorch
                    assert got["grads"][n] is None
                np.testing.assert_allclose(got["params"][n], want_params[n], rtol=1e-12, atol=1e-14)
            if ci in _WANT_BUCKETS:
                assert [e[:3] for e in got["log"]] == _WANT_BUCKETS[ci]
                # several buckets: the first went out while backward still had gradients to make
                assert [e for e in got["log"] if e[0] == 0][-1][3] > 0
            assert got["view"] == bool(kw.get("gradient_as_bucket_view"))
