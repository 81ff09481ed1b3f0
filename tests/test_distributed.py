"""ttorch.distributed, ttorch.multiprocessing and DistributedDataParallel across real processes.

Most tests run their body on a pool of 3 processes started once (``world``): each rank runs the
named function of this module and returns a value, checked here against NumPy. The tests that need
fresh processes (init methods, spawn's errors, the launcher) start their own.
"""
import datetime
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import ttorch
import ttorch.distributed as dist
import ttorch.multiprocessing as mp
from ttorch import nn

from _distributed_pool import free_port, world_fixture

WORLD = 3
TIMEOUT = 60


world = world_fixture(WORLD, TIMEOUT, 20)


def _inputs(rank, shape=(2, 3), dtype=np.float64):
    """Rank ``rank``'s input: distinct values per rank, the same on every run."""
    return (np.random.default_rng(rank).standard_normal(shape) * 4).astype(dtype)


# ------------------------------------------------------------------------------------------ collectives
_OPS = {"SUM": lambda a: sum(a[1:], a[0].copy()), "PRODUCT": lambda a: a[0] * a[1] * a[2],
        "MIN": lambda a: np.minimum(np.minimum(a[0], a[1]), a[2]),
        "MAX": lambda a: np.maximum(np.maximum(a[0], a[1]), a[2]),
        "AVG": lambda a: (a[0] + a[1] + a[2]) / 3, "BAND": lambda a: a[0] & a[1] & a[2],
        "BOR": lambda a: a[0] | a[1] | a[2], "BXOR": lambda a: a[0] ^ a[1] ^ a[2]}


def _all_reduce_ops(rank):
    res = {}
    for name in _OPS:
        dt = np.float64 if name in ("SUM", "PRODUCT", "MIN", "MAX", "AVG") else np.int64
        x = ttorch.tensor(_inputs(rank, (2, 5), np.float64).astype(dt))
        dist.all_reduce(x, op=getattr(dist.ReduceOp, name))
        res[name] = x.numpy()
    return res


def test_all_reduce_every_op(world):
    got = world.run(_all_reduce_ops)
    for name, ref in _OPS.items():
        dt = np.float64 if name in ("SUM", "PRODUCT", "MIN", "MAX", "AVG") else np.int64
        arrs = [_inputs(r, (2, 5)).astype(dt) for r in range(WORLD)]
        for r in range(WORLD):
            np.testing.assert_allclose(got[r][name], ref(arrs), rtol=1e-12, err_msg=name)
            assert got[r][name].tobytes() == got[0][name].tobytes()   # bit-identical on every rank


def _all_reduce_dtypes(rank):
    out = {}
    for dt in ttorch._dtype.all_dtypes:
        x = ttorch.tensor(_inputs(rank, (7,)) > 0 if dt is ttorch.bool else _inputs(rank, (7,))).to(dt)
        dist.all_reduce(x)
        out[dt.name] = (x.dtype.name, x.numpy().astype(np.complex128 if dt.is_complex else np.float64))
    # a non-contiguous tensor is reduced in place through its strides
    t = ttorch.tensor(_inputs(rank, (3, 4))).t()
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    out["transposed"] = t.numpy().copy()
    return out


def test_all_reduce_every_dtype(world):
    got = world.run(_all_reduce_dtypes)
    for dt in ttorch._dtype.all_dtypes:
        arrs = [(_inputs(r, (7,)) > 0) if dt is ttorch.bool else _inputs(r, (7,)) for r in range(WORLD)]
        arrs = [a.astype(dt.np) for a in arrs]
        ref = arrs[0].copy()
        for a in arrs[1:]:
            ref = (ref + a).astype(dt.np)          # in the dtype, in rank order
        for r in range(WORLD):
            name, val = got[r][dt.name]
            assert name == dt.name
            np.testing.assert_array_equal(val, ref.astype(val.dtype), err_msg=dt.name)
    ref = np.maximum(np.maximum(_inputs(0, (3, 4)), _inputs(1, (3, 4))), _inputs(2, (3, 4))).T
    for r in range(WORLD):
        np.testing.assert_array_equal(got[r]["transposed"], ref)


def _rooted(rank):
    out = {}
    x = ttorch.tensor(_inputs(rank))
    dist.broadcast(x, src=1)
    out["broadcast"] = x.numpy().copy()
    x = ttorch.tensor(_inputs(rank))
    dist.reduce(x, dst=2, op=dist.ReduceOp.SUM)
    out["reduce"] = x.numpy().copy()
    g = [ttorch.zeros(2, 3, dtype=ttorch.float64) for _ in range(WORLD)] if rank == 0 else None
    dist.gather(ttorch.tensor(_inputs(rank)), g, dst=0)
    out["gather"] = None if g is None else [t.numpy() for t in g]
    y = ttorch.zeros(2, 3, dtype=ttorch.float64)
    dist.scatter(y, [ttorch.tensor(_inputs(10 + r)) for r in range(WORLD)] if rank == 1 else None, src=1)
    out["scatter"] = y.numpy()
    return out


def test_broadcast_reduce_gather_scatter(world):
    got = world.run(_rooted)
    total = _inputs(0) + _inputs(1) + _inputs(2)
    for r in range(WORLD):
        np.testing.assert_array_equal(got[r]["broadcast"], _inputs(1))
        # reduce: only dst holds the result, the others keep their input (as PyTorch's gloo)
        np.testing.assert_array_equal(got[r]["reduce"], total if r == 2 else _inputs(r))
        np.testing.assert_array_equal(got[r]["scatter"], _inputs(10 + r))
    for r in range(WORLD):
        np.testing.assert_array_equal(got[0]["gather"][r], _inputs(r))
    assert got[1]["gather"] is None


def _gathers(rank):
    out = {}
    lst = [ttorch.zeros(2, 3, dtype=ttorch.float64) for _ in range(WORLD)]
    dist.all_gather(lst, ttorch.tensor(_inputs(rank)))
    out["all_gather"] = [t.numpy() for t in lst]
    big = ttorch.zeros(WORLD * 2, 3, dtype=ttorch.float64)
    dist.all_gather_into_tensor(big, ttorch.tensor(_inputs(rank)))
    out["into"] = big.numpy()
    o = ttorch.zeros(2, dtype=ttorch.float64)
    dist.reduce_scatter(o, [ttorch.tensor(_inputs(rank, (WORLD, 2))[j]) for j in range(WORLD)])
    out["reduce_scatter"] = o.numpy()
    o = ttorch.zeros(2, dtype=ttorch.float64)
    dist.reduce_scatter_tensor(o, ttorch.tensor(_inputs(rank, (WORLD, 2))), op=dist.ReduceOp.MAX)
    out["reduce_scatter_tensor"] = o.numpy()
    outs = [ttorch.zeros(r + 1, dtype=ttorch.float64) for r in range(WORLD)]
    dist.all_to_all(outs, [ttorch.full((rank + 1,), 10.0 * rank + j, dtype=ttorch.float64) for j in range(WORLD)])
    out["all_to_all"] = [t.numpy() for t in outs]
    # uneven splits: rank r sends j + 1 rows to rank j
    inp = ttorch.arange(6, dtype=ttorch.float64) + 100 * rank
    o = ttorch.zeros(WORLD * (rank + 1), dtype=ttorch.float64)
    dist.all_to_all_single(o, inp, output_split_sizes=[rank + 1] * WORLD, input_split_sizes=[1, 2, 3])
    out["all_to_all_single"] = o.numpy()
    return out


def test_gather_family_and_all_to_all(world):
    got = world.run(_gathers)
    stacked = np.concatenate([_inputs(r) for r in range(WORLD)])
    for r in range(WORLD):
        for j in range(WORLD):
            np.testing.assert_array_equal(got[r]["all_gather"][j], _inputs(j))
            np.testing.assert_array_equal(got[r]["all_to_all"][j], np.full(j + 1, 10.0 * j + r))
        np.testing.assert_array_equal(got[r]["into"], stacked)
        parts = [_inputs(j, (WORLD, 2))[r] for j in range(WORLD)]
        np.testing.assert_allclose(got[r]["reduce_scatter"], parts[0] + parts[1] + parts[2], rtol=1e-15)
        np.testing.assert_array_equal(got[r]["reduce_scatter_tensor"], np.maximum(np.maximum(*parts[:2]), parts[2]))
        offs = [0, 1, 3, 6]
        ref = np.concatenate([np.arange(6.0)[offs[r]:offs[r + 1]] + 100 * j for j in range(WORLD)])
        np.testing.assert_array_equal(got[r]["all_to_all_single"], ref)


def _async_ops(rank):
    x = ttorch.tensor(_inputs(rank))
    w = dist.all_reduce(x, async_op=True)
    y = ttorch.tensor(_inputs(rank))
    w2 = dist.broadcast(y, src=0, async_op=True)
    wb = dist.barrier(async_op=True)
    assert w2.wait() and w.wait() and wb.wait()
    assert w.is_completed() and w.is_success() and w.exception() is None
    fut = w.get_future().then(lambda f: f.value()[0] * 2)
    assert fut.done() and np.array_equal(fut.wait().numpy(), 2 * x.numpy())
    return x.numpy(), y.numpy(), w.result()[0] is x


def test_async_op_work(world):
    got = world.run(_async_ops)
    for x, y, same in got:
        np.testing.assert_allclose(x, _inputs(0) + _inputs(1) + _inputs(2), rtol=1e-15)
        np.testing.assert_array_equal(y, _inputs(0))
        assert same


def _groups(rank):
    g01 = dist.new_group([1, 0])        # every rank calls new_group, members or not
    g2 = dist.new_group([2])
    out = {"ranks": dist.get_process_group_ranks(g01) if g01 != dist.GroupMember.NON_GROUP_MEMBER else None,
           "rank": dist.get_rank(g01), "size": dist.get_world_size(g01), "rank_g2": dist.get_rank(g2)}
    x = ttorch.tensor([float(rank + 1)])
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        res = dist.all_reduce(x, group=g01)  # rank 2 is outside: a warning and no effect (PyTorch's)
    out["x"], out["res"], out["warned"] = x.item(), res, [str(m.message) for m in w]
    if rank < 2:
        out["global_of_1"] = dist.get_global_rank(g01, 1)
        y = ttorch.tensor([float(rank)])
        dist.broadcast(y, src=1, group=g01)
        out["y"] = y.item()
    return out


def test_new_group(world):
    got = world.run(_groups)
    for r in range(2):
        assert got[r]["ranks"] == [0, 1] and got[r]["rank"] == r and got[r]["size"] == 2
        assert got[r]["x"] == 3.0 and got[r]["global_of_1"] == 1 and got[r]["y"] == 1.0
        assert got[r]["rank_g2"] == -1 and got[r]["warned"] == []
    assert got[2]["ranks"] is None and got[2]["rank"] == -1 and got[2]["size"] == -1
    assert got[2]["x"] == 3.0 and got[2]["res"] is None and got[2]["rank_g2"] == 0
    assert got[2]["warned"] == ["Running all_reduce on global rank 2 which does not belong to the given group."]


def _p2p(rank):
    out = {}
    nxt, prv = (rank + 1) % WORLD, (rank - 1) % WORLD
    # a ring in which everyone sends first: sends never wait for the matching receive
    dist.send(ttorch.tensor([rank, 10.0 * rank]), nxt)
    y = ttorch.zeros(2)
    out["ring"] = (dist.recv(y, prv), y.tolist())
    # two messages with distinct tags received in the opposite order
    if rank == 0:
        dist.send(ttorch.tensor([1.0]), 1, tag=7)
        dist.send(ttorch.tensor([2.0]), 1, tag=8)
    elif rank == 1:
        a, b = ttorch.zeros(1), ttorch.zeros(1)
        dist.recv(b, 0, tag=8)
        dist.recv(a, 0, tag=7)
        out["tags"] = (a.item(), b.item())
    # irecv posted before isend, waited after; recv from any source
    r_ = ttorch.zeros(3, dtype=ttorch.int64)
    wr = dist.irecv(r_, src=prv)
    ws = dist.isend(ttorch.full((3,), rank, dtype=ttorch.int64), dst=nxt)
    ws.wait()
    wr.wait()
    out["irecv"] = r_.tolist()
    # (a tag of their own: an any-source receive takes whichever message comes first, so it could
    # otherwise take rank 1's next message below before rank 0's arrives, as in MPI and PyTorch)
    if rank == 2:
        z = ttorch.zeros(1)
        out["any"] = sorted((dist.recv(z, tag=5), z.item()) for _ in range(2))
    else:
        dist.send(ttorch.tensor([rank + 0.5]), 2, tag=5)
    ops = [dist.P2POp(dist.isend, ttorch.tensor([float(rank)]), nxt),
           dist.P2POp(dist.irecv, ttorch.zeros(1), prv)]
    for w in dist.batch_isend_irecv(ops):
        w.wait()
    out["batch"] = ops[1].tensor.item()
    return out


def test_send_recv(world):
    got = world.run(_p2p)
    for r in range(WORLD):
        prv = (r - 1) % WORLD
        assert got[r]["ring"] == (prv, [prv, 10.0 * prv])
        assert got[r]["irecv"] == [prv] * 3
        assert got[r]["batch"] == float(prv)
    assert got[1]["tags"] == (1.0, 2.0)
    assert got[2]["any"] == [(0, 0.5), (1, 1.5)]


def _objects(rank):
    out = {}
    objs = [None] * WORLD
    dist.all_gather_object(objs, {"rank": rank, "t": ttorch.tensor([rank, 2.0])})
    out["all_gather"] = [(o["rank"], o["t"].tolist()) for o in objs]
    lst = ["a", 1, None] if rank == 2 else [None, None, None]
    dist.broadcast_object_list(lst, src=2)
    out["broadcast"] = lst
    g = [None] * WORLD if rank == 1 else None
    dist.gather_object(("r", rank), g, dst=1)
    out["gather"] = g
    o = [None]
    dist.scatter_object_list(o, [{"to": j} for j in range(WORLD)] if rank == 0 else None, src=0)
    out["scatter"] = o[0]
    return out


def test_object_collectives(world):
    got = world.run(_objects)
    for r in range(WORLD):
        assert got[r]["all_gather"] == [(j, [float(j), 2.0]) for j in range(WORLD)]
        assert got[r]["broadcast"] == ["a", 1, None]
        assert got[r]["scatter"] == {"to": r}
    assert got[1]["gather"] == [("r", j) for j in range(WORLD)] and got[0]["gather"] is None


def _errors(rank):
    out = {}
    x = ttorch.ones(2 + (rank == 1))    # rank 1's shape differs: every rank sees it and raises
    with pytest.raises(dist.DistBackendError, match=r"rank 1 has shape \[3\]"):
        dist.all_reduce(x)
    with pytest.raises(RuntimeError, match="Cannot use ReduceOp.BAND with non-integral dtype"):
        dist.all_reduce(ttorch.ones(2), op=dist.ReduceOp.BAND)
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long"):
        dist.all_reduce(ttorch.ones(2, dtype=ttorch.int64), op=dist.ReduceOp.AVG)
    with pytest.raises(ValueError, match="Invalid destination rank"):
        dist.send(ttorch.ones(1), rank)
    # a receive nobody answers times out with the group's timeout
    g = dist.new_group([0, 1], timeout=datetime.timedelta(seconds=0.3))
    if rank == 0:
        with pytest.raises(dist.DistBackendError, match="timed out after 300ms"):
            dist.recv(ttorch.zeros(1), 1, group=g)
    # rank 2 skips the monitored barrier: rank 0 names it, rank 1 times out waiting for rank 0
    g = dist.new_group([0, 1, 2])
    dist.barrier()                                  # (rank 0 spent 0.3 s above: start together)
    if rank < 2:
        with pytest.raises(dist.DistBackendError) as e:
            dist.monitored_barrier(group=g, timeout=datetime.timedelta(seconds=1))
        out["monitored"] = str(e.value)
    dist.barrier()
    dist.monitored_barrier(timeout=datetime.timedelta(seconds=5))
    return out


def test_errors_between_ranks(world):
    got = world.run(_errors)
    assert "Rank 2 failed to pass monitoredBarrier in 1000 ms" in got[0]["monitored"]
    assert "timed out" in got[1]["monitored"]


def _cuda_tensors(rank):
    if not ttorch.cuda.is_available():
        return None
    x = ttorch.tensor(_inputs(rank, (5,)), dtype=ttorch.float32, device="cuda")
    dist.all_reduce(x, op=dist.ReduceOp.MAX)
    lst = [ttorch.zeros(5, device="cuda") for _ in range(WORLD)]
    dist.all_gather(lst, x)
    return x.device.type, x.cpu().numpy(), lst[2].cpu().numpy()


def test_cuda_tensors_through_host(world):
    got = world.run(_cuda_tensors)
    if got[0] is None:
        pytest.skip("no cuda device (simulated or real) in the children")
    ref = np.maximum(np.maximum(_inputs(0, (5,)), _inputs(1, (5,))), _inputs(2, (5,))).astype(np.float32)
    for dev, x, g in got:
        assert dev == "cuda"
        np.testing.assert_array_equal(x, ref)
        np.testing.assert_array_equal(g, ref)


# ------------------------------------------------------------------------------------------ DDP
def _mlp(seed):
    ttorch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2)).double()


def _data():
    rng = np.random.default_rng(42)
    return rng.standard_normal((6, 4)), rng.standard_normal((6, 2))


def _ddp_train(rank, steps):
    model = nn.parallel.DistributedDataParallel(_mlp(seed=rank))   # rank 0's weights win at construction
    opt = ttorch.optim.SGD(model.parameters(), lr=0.5)
    x, y = _data()
    x, y = ttorch.tensor(x[2 * rank:2 * rank + 2]), ttorch.tensor(y[2 * rank:2 * rank + 2])
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def test_ddp_matches_one_process_on_the_whole_batch(world):
    got = world.run(_ddp_train, 3)
    model = _mlp(seed=0)
    opt = ttorch.optim.SGD(model.parameters(), lr=0.5)
    x, y = map(ttorch.tensor, _data())
    for _ in range(3):
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()
    ref = model.state_dict()
    assert list(got[0]) == ["module." + k for k in ref]
    for k, v in ref.items():
        assert not np.allclose(v.numpy(), _mlp(seed=0).state_dict()[k].numpy())   # it trained
        np.testing.assert_allclose(got[0]["module." + k], v.numpy(), rtol=1e-12, atol=1e-14)
        for r in range(1, WORLD):
            assert got[r]["module." + k].tobytes() == got[0]["module." + k].tobytes()   # identical on all ranks


def _ddp_no_sync(rank):
    net = _mlp(seed=0)
    net.register_buffer("step", ttorch.tensor([float(rank)]))
    model = nn.parallel.DistributedDataParallel(net)
    assert net.step.item() == 0.0                   # buffers come from rank 0 too
    x, y = map(ttorch.tensor, _data())
    with model.no_sync():
        nn.functional.mse_loss(model(x[rank:rank + 1]), y[rank:rank + 1]).backward()
    local = [p.grad.numpy().copy() for p in model.parameters()]
    nn.functional.mse_loss(model(x[3 + rank:4 + rank]), y[3 + rank:4 + rank]).backward()
    return local, [p.grad.numpy().copy() for p in model.parameters()]


def test_ddp_no_sync_accumulates_locally(world):
    got = world.run(_ddp_no_sync)
    x, y = map(ttorch.tensor, _data())

    def grads(rows):
        m = _mlp(seed=0)
        for i in rows:
            nn.functional.mse_loss(m(x[i:i + 1]), y[i:i + 1]).backward()
        return [p.grad.numpy() for p in m.parameters()]
    for r in range(WORLD):
        for a, b in zip(got[r][0], grads([r])):
            np.testing.assert_allclose(a, b, rtol=1e-13)
    total = [sum(gs) / WORLD for gs in zip(*[grads([r, 3 + r]) for r in range(WORLD)])]
    for r in range(WORLD):
        for a, b in zip(got[r][1], total):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


class _TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b, self.never = nn.Linear(3, 1), nn.Linear(3, 1), nn.Linear(3, 1)

    def forward(self, x, use_b):
        return self.a(x) + (self.b(x) if use_b else 0)


def _ddp_unused(rank):
    ttorch.manual_seed(0)
    model = nn.parallel.DistributedDataParallel(_TwoHeads(), find_unused_parameters=True)
    x = ttorch.full((2, 3), float(rank + 1))
    model(x, use_b=rank != 1).sum().backward()
    out = {n: (None if p.grad is None else p.grad.numpy().copy()) for n, p in model.module.named_parameters()}
    strict = nn.parallel.DistributedDataParallel(_TwoHeads())
    strict(x, use_b=True).sum().backward()          # `never` gets no gradient: the reduction can't finish
    with pytest.raises(RuntimeError, match="Expected to have finished reduction in the prior iteration"):
        strict(x, use_b=True)
    return out


def test_ddp_find_unused_parameters(world):
    got = world.run(_ddp_unused)
    # d(sum a(x))/dw = 2 * (rank + 1) per input column; b is used by ranks 0 and 2 only
    wa = sum(2.0 * (r + 1) for r in range(WORLD)) / WORLD
    wb = (2.0 * 1 + 2.0 * 3) / WORLD
    for r in range(WORLD):
        np.testing.assert_allclose(got[r]["a.weight"], np.full((1, 3), wa), rtol=1e-6)
        np.testing.assert_allclose(got[r]["b.weight"], np.full((1, 3), wb), rtol=1e-6)
        np.testing.assert_allclose(got[r]["b.bias"], [2.0 * 2 / WORLD], rtol=1e-6)
        assert got[r]["never.weight"] is None and got[r]["never.bias"] is None


def test_data_parallel_runs_the_module():
    m = nn.Linear(3, 2)
    if ttorch.cuda.is_available():
        with pytest.raises(RuntimeError, match="module must have its parameters and buffers on device cuda:0"):
            nn.DataParallel(m)(ttorch.ones(1, 3))
        m = m.to("cuda")
    dp = nn.DataParallel(m)
    assert dp.module is m and list(dp.state_dict()) == ["module.weight", "module.bias"]
    x = ttorch.ones(4, 3)
    out = dp(x)
    np.testing.assert_allclose(out.cpu().detach().numpy(), m(x.to(out.device)).cpu().detach().numpy())
    assert nn.parallel.DataParallel is nn.DataParallel


# ------------------------------------------------------------------------------------------ stores
def _store_semantics(s):
    s.set("a", "1")
    assert s.get("a") == b"1"
    assert s.add("n", 3) == 3 and s.add("n", -1) == 2 and s.get("n") == b"2"
    # compare_set (PyTorch's rule): swap on a match; the current value on a mismatch; a missing key with
    # expected "" is set, with another expected value it is left missing and `expected` is returned
    assert s.compare_set("a", "1", "2") == b"2" and s.get("a") == b"2"
    assert s.compare_set("a", "x", "3") == b"2"
    assert s.compare_set("new", "", "v") == b"v" and s.compare_set("gone", "q", "v") == b"q"
    assert s.check(["a", "n"]) and not s.check(["gone"])
    assert s.delete_key("a") and not s.delete_key("a")
    s.wait(["n"])
    with pytest.raises(dist.DistStoreError):
        s.wait(["missing"], datetime.timedelta(milliseconds=50))


def test_stores(tmp_path):
    h = dist.HashStore()
    _store_semantics(h)
    assert h.num_keys() == 2
    p = dist.PrefixStore("job", h)
    p.set("k", b"v")
    assert h.get("job/k") == b"v" and p.get("k") == b"v"
    h.set_timeout(datetime.timedelta(milliseconds=50))
    with pytest.raises(dist.DistStoreError, match="Wait timeout"):
        h.get("missing")

    f1 = dist.FileStore(str(tmp_path / "fs"), 2)
    f2 = dist.FileStore(str(tmp_path / "fs"), 2)     # a second user of the same file
    _store_semantics(f1)
    assert f2.get("n") == b"2" and f1.num_keys() == 2
    f1.close()
    f2.close()
    assert not (tmp_path / "fs").exists()           # the last user removes the file

    master = dist.TCPStore("127.0.0.1", 0, 2, True, timeout=datetime.timedelta(seconds=5), wait_for_workers=False)
    client = dist.TCPStore("127.0.0.1", master.port, 2, False, timeout=datetime.timedelta(seconds=5))
    try:
        _store_semantics(client)
        assert master.get("n") == b"2"
        # a blocking get on one client is answered by a set from another
        import threading
        threading.Timer(0.1, lambda: master.set("late", b"x")).start()
        assert client.get("late") == b"x"
        client.set_timeout(datetime.timedelta(milliseconds=100))
        with pytest.raises(dist.DistStoreError, match="wait timeout after 100ms, keys: /missing"):
            client.get("missing")
    finally:
        client.close()
        master.close()


# ------------------------------------------------------------------------------------------ setup
def test_errors_before_init():
    msg = "Default process group has not been initialized, please make sure to call init_process_group."
    assert dist.is_available() and not dist.is_initialized()
    for call in (dist.get_rank, dist.get_world_size, lambda: dist.all_reduce(ttorch.ones(1)), dist.barrier,
                 lambda: dist.new_group([0]), dist.destroy_process_group):
        with pytest.raises(ValueError, match=msg):
            call()
    assert dist.Backend("GLOO") == "gloo" and dist.Backend.NCCL == "nccl"
    assert {op.name for op in dist.ReduceOp.RedOpType} == {"SUM", "PRODUCT", "MIN", "MAX", "AVG", "BAND", "BOR",
                                                           "BXOR"}
    with pytest.raises(ValueError, match="environment variable RANK expected"):
        env = {k: os.environ.pop(k) for k in ("RANK", "WORLD_SIZE") if k in os.environ}
        try:
            dist.init_process_group("gloo", init_method="env://")
        finally:
            os.environ.update(env)


def test_world_of_one_in_this_process():
    """A store given directly, in a group of one: every collective is the identity (or a copy)."""
    dist.init_process_group("cpu:gloo,cuda:nccl", store=dist.HashStore(), rank=0, world_size=1)
    try:
        assert dist.get_rank() == 0 and dist.get_world_size() == 1 and dist.group.WORLD is not None
        with pytest.raises(ValueError, match="trying to initialize the default process group twice!"):
            dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
        x = ttorch.tensor([1.5, -2.0])
        dist.all_reduce(x, op=dist.ReduceOp.AVG)
        dist.broadcast(x, 0)
        lst = [ttorch.zeros(2)]
        dist.all_gather(lst, x)
        assert x.tolist() == [1.5, -2.0] and lst[0].tolist() == [1.5, -2.0]
        objs = [None]
        dist.all_gather_object(objs, {"a": 1})
        assert objs == [{"a": 1}]
        assert dist.all_reduce(x, async_op=True).wait() and dist.barrier() is None
        model = nn.parallel.DistributedDataParallel(_mlp(seed=0))
        x, y = map(ttorch.tensor, _data())
        nn.functional.mse_loss(model(x), y).backward()
        ref = _mlp(seed=0)
        nn.functional.mse_loss(ref(x), y).backward()
        for p, q in zip(model.parameters(), ref.parameters()):
            np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())
    finally:
        dist.destroy_process_group()
    assert not dist.is_initialized()


def _init_methods(rank, path, ports):
    def check(backend):
        assert dist.is_initialized() and dist.get_rank() == rank and dist.get_world_size() == 2
        assert dist.get_backend() == backend
        x = ttorch.tensor([rank + 1.0])
        dist.all_reduce(x)
        assert x.item() == 3.0
        dist.destroy_process_group()
        assert not dist.is_initialized()

    dist.init_process_group("gloo", init_method=f"file://{path}", rank=rank, world_size=2)
    check("gloo")
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(ports[0]), RANK=str(rank), WORLD_SIZE="2")
    dist.init_process_group()                       # env://, as torchrun sets it
    check("gloo")
    store = dist.TCPStore("127.0.0.1", ports[1], 2, rank == 0, timeout=datetime.timedelta(seconds=20))
    dist.init_process_group("nccl", store=store, rank=rank, world_size=2)
    with pytest.raises(RuntimeError, match="No backend type associated with device type cpu"):
        dist.all_reduce(ttorch.ones(1))             # as PyTorch's nccl: cuda tensors only
    dist.destroy_process_group()


def test_init_methods_in_fresh_processes(tmp_path):
    mp.spawn(_init_methods, args=(str(tmp_path / "rdzv"), (free_port(), free_port())), nprocs=2)
    assert not (tmp_path / "rdzv").exists()


def _fail(rank):
    if rank == 1:
        raise ValueError("boom on rank 1")


def _exit(rank):
    os._exit(3 if rank == 0 else 0)


def test_spawn_reraises_the_child_error():
    with pytest.raises(mp.ProcessRaisedException, match="-- Process 1 terminated with the following error") as e:
        mp.spawn(_fail, nprocs=2)
    assert e.value.error_index == 1 and "ValueError: boom on rank 1" in str(e.value)
    assert "Traceback (most recent call last)" in str(e.value)
    with pytest.raises(mp.ProcessExitedException, match="process 0 terminated with exit code 3") as e:
        mp.spawn(_exit, nprocs=2)
    assert e.value.exit_code == 3
    assert mp.cpu_count() >= 1 and mp.Queue is not None   # (start_processes(join=False) runs the pool)


def test_launcher(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent("""
        import os, sys, ttorch, ttorch.distributed as dist
        dist.init_process_group("gloo")
        x = ttorch.tensor([float(dist.get_rank())])
        dist.all_reduce(x)
        # one write per line: both ranks share the launcher's stdout
        sys.stdout.write(f"rank {os.environ['RANK']} local {os.environ['LOCAL_RANK']} of "
                         f"{dist.get_world_size()}: {x.item()}\\n")
        dist.destroy_process_group()
    """))
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env.pop("TRITON_INTERPRET", None)
    r = subprocess.run([sys.executable, "-m", "ttorch.distributed.run", "--nproc_per_node=2", str(script)],
                       capture_output=True, text=True, env=env, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.splitlines()) == ["rank 0 local 0 of 2: 1.0", "rank 1 local 1 of 2: 1.0"]
    bad = tmp_path / "bad.py"
    bad.write_text("import os, sys, time\nif os.environ['RANK'] == '1': sys.exit(3)\ntime.sleep(30)\n")
    r = subprocess.run([sys.executable, "-m", "ttorch.distributed.run", "--nproc_per_node=2", str(bad)],
                       capture_output=True, text=True, env=env, timeout=TIMEOUT)
    assert r.returncode == 3


def test_doctests():
    import doctest
    import importlib
    for name in ("distributed.store", "distributed.collectives", "multiprocessing.spawn", "nn.parallel.data_parallel"):
        mod = importlib.import_module("ttorch." + name)
        res = doctest.testmod(mod, extraglobs={"ttorch": ttorch}, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert res.failed == 0, mod.__name__
