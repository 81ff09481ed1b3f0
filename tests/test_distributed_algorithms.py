"""DDP communication hooks (default, fp16, PowerSGD), ``ttorch.futures``, ``Join`` with uneven inputs,
``ZeroRedundancyOptimizer`` and FSDP's optimizer-state helpers, on a pool of 2 processes started once.

References: each rank's local gradients (``autograd.grad`` on the wrapped module, no reduction) averaged
here, NumPy re-computations of the fp16 and PowerSGD reductions, and the same optimizer run without sharding.
"""
import numpy as np
import pytest

import ttorch
import ttorch.distributed as dist
from ttorch import nn
from ttorch.distributed.algorithms import Join
from ttorch.distributed.algorithms.ddp_comm_hooks import DDPCommHookType, default_hooks, powerSGD_hook as psgd
from ttorch.distributed.fsdp import FullyShardedDataParallel as FSDP
from ttorch.distributed.optim import ZeroRedundancyOptimizer
from ttorch.futures import Future, collect_all, wait_all
from ttorch.nn.parallel import DistributedDataParallel as DDP

from _distributed_pool import world_fixture

WORLD = 2


world = world_fixture(WORLD, 120, 30)


def _net(bias=True):
    ttorch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 6, bias=bias), nn.Tanh(), nn.Linear(6, 3, bias=bias))


def _x(rank, i=0):
    return ttorch.tensor(np.random.default_rng(10 * rank + i).standard_normal((3, 4)), dtype=ttorch.float32)


def _local_grads(module, x):
    """This rank's own gradients (no hook fires: ``autograd.grad`` accumulates nothing)."""
    params = list(module.parameters())
    return [g.numpy().astype(np.float64) for g in ttorch.autograd.grad((module(x) ** 2).sum(), params)]


def _grads(module):
    return [p.grad.numpy().astype(np.float64) for p in module.parameters()]


# ------------------------------------------------------------------------------------------ futures
def test_futures():
    f = Future()
    doubled = f.then(lambda fut: fut.value() * 2)
    seen = []
    f.add_done_callback(lambda fut: seen.append(fut.value()))
    assert not f.done() and not doubled.done()
    f.set_result(3)
    assert doubled.done() and doubled.wait() == 6 and seen == [3]
    with pytest.raises(RuntimeError, match="only be marked completed once"):
        f.set_result(4)
    bad = Future()
    failed = bad.then(lambda fut: 1 / 0)
    bad.set_result(1)
    with pytest.raises(ZeroDivisionError):
        failed.wait()
    err = Future()
    err.set_exception(ValueError("boom"))
    with pytest.raises(ValueError, match="boom"):
        err.then(lambda fut: fut.value()).wait()
    a, b = Future(), Future()
    both = collect_all([a, b])
    a.set_result(1)
    assert not both.done()
    b.set_result(2)
    assert [x.value() for x in both.wait()] == [1, 2] and wait_all([a, b]) == [1, 2]
    assert Future[ttorch.Tensor] is Future


def _async_future(rank):
    t = ttorch.tensor([float(rank + 1)])
    fut = dist.all_reduce(t, async_op=True).get_future()
    chained = fut.then(lambda f: f.value()[0] * 10)
    return chained.wait().tolist(), [v.tolist() for v in fut.value()]


def test_work_future(world):
    for got in world.run(_async_future):
        assert got == ([30.0], [[3.0]])


# ------------------------------------------------------------------------------------------ default hooks
def _hooked(rank, hook_name):
    m = _net()
    d = DDP(m)
    record = []

    def spy(state, bucket):
        views = [g.numpy().copy() for g in bucket.gradients()]
        flat = bucket.buffer().numpy().copy()
        record.append(dict(index=bucket.index(), last=bucket.is_last(),
                           shapes=[tuple(p.shape) for p in bucket.parameters()],
                           views_ok=all(np.array_equal(v.ravel(), flat[o:o + v.size]) for v, o in
                                        zip(views, np.cumsum([0] + [v.size for v in views[:-1]])))))
        return default_hooks.allreduce_hook(state, bucket)
    hooks = {"allreduce": default_hooks.allreduce_hook, "fp16": default_hooks.fp16_compress_hook,
             "fp16_wrap": default_hooks.fp16_compress_wrapper(default_hooks.allreduce_hook), "spy": spy}
    if hook_name == "builtin":
        d._register_builtin_comm_hook(dist.BuiltinCommHookType.FP16_COMPRESS)
    elif hook_name == "by_type":
        DDPCommHookType.FP16_COMPRESS.value(model=d, state=None)
    else:
        d.register_comm_hook(None, hooks[hook_name])
    errors = []
    try:
        d.register_comm_hook(None, default_hooks.allreduce_hook)
    except RuntimeError as e:
        errors.append(str(e))
    out = []
    for i in range(2):
        x = _x(rank, i)
        local = _local_grads(m, x)
        for p in m.parameters():
            p.grad = None
        (d(x) ** 2).sum().backward()
        out.append((local, _grads(m)))
    return dict(out=out, record=record, errors=errors)


@pytest.mark.parametrize("hook", ["allreduce", "spy", "fp16", "fp16_wrap", "builtin", "by_type"])
def test_default_hooks(world, hook):
    res = world.run(_hooked, hook)
    assert res[0]["errors"] == ["register_comm_hook or register_builtin_comm_hook can only be called once."]
    for step in range(2):
        locals_ = [r["out"][step][0] for r in res]
        for r in res:
            for j, got in enumerate(r["out"][step][1]):
                if hook in ("allreduce", "spy"):
                    want = sum(lg[j] for lg in locals_) / WORLD
                    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
                else:       # each rank's half in float16, summed in float16 (bit for bit)
                    halves = [(lg[j].astype(np.float32).astype(np.float16) / np.float16(2)) for lg in locals_]
                    np.testing.assert_array_equal(got, (halves[0] + halves[1]).astype(np.float64))
    if hook == "spy":
        rec = res[0]["record"]
        assert [(r["index"], r["last"]) for r in rec] == [(0, True), (0, True)]
        # the first backward in parameters() order, then the order the gradients got ready (PyTorch's rebuild)
        assert rec[0]["shapes"] == [(6, 4), (6,), (3, 6), (3,)]
        assert rec[1]["shapes"] == [(3,), (3, 6), (6,), (6, 4)]
        assert all(r["views_ok"] for r in rec)


def test_register_comm_hook_errors():
    with pytest.raises(TypeError, match="must be callable"):
        DDP.register_comm_hook(None, None, 3)


# ------------------------------------------------------------------------------------------ PowerSGD
def _powersgd(rank, rank_, batched, use_ef):
    m = nn.Linear(6, 4, bias=False) if not batched else nn.Linear(3, 2, bias=False)
    with ttorch.no_grad():
        m.weight.copy_(ttorch.linspace(-1, 1, m.weight.numel()).reshape(m.weight.shape))
    d = DDP(m)
    state = psgd.PowerSGDState(None, matrix_approximation_rank=rank_, start_powerSGD_iter=2,
                               min_compression_rate=0.1, use_error_feedback=use_ef, warm_start=use_ef)
    d.register_comm_hook(state, psgd.batched_powerSGD_hook if batched else psgd.powerSGD_hook)
    out = []
    for i in range(3):
        x = ttorch.tensor(np.random.default_rng(7 * rank + i).standard_normal((5, m.in_features)),
                          dtype=ttorch.float32)
        local = _local_grads(m, x)[0]
        m.weight.grad = None
        (d(x) ** 2).sum().backward()
        out.append((local, m.weight.grad.numpy().astype(np.float64)))
    err = state.error_dict.get(0)
    return dict(out=out, iter=state.iter, err=None if err is None else err.numpy().astype(np.float64),
                stats=state.compression_stats())


def test_powerSGD_rank1_matches_numpy(world):
    res = world.run(_powersgd, 1, False, True)
    for step in (0, 1):         # plain all-reduce before start_powerSGD_iter
        want = (res[0]["out"][step][0] + res[1]["out"][step][0]) / 2
        for r in res:
            np.testing.assert_allclose(r["out"][step][1], want, rtol=1e-6, atol=1e-6)
    ms = [r["out"][2][0] for r in res]
    seed = np.random.RandomState(0).randint(1_000_000_000)      # the state's first draw seeds the Qs
    with ttorch.random.fork_rng(devices=[]):
        ttorch.manual_seed(int(seed))
        q = ttorch.randn(1, 6, 1).numpy().astype(np.float64)[0]
    q /= np.linalg.norm(q)
    p = sum(mm @ q for mm in ms)
    p /= np.linalg.norm(p)
    qq = sum(mm.T @ p for mm in ms) / 2
    approx = p @ qq.T
    for r, mm in zip(res, ms):
        np.testing.assert_allclose(r["out"][2][1], approx, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(r["err"], (mm - approx).ravel(), rtol=1e-4, atol=1e-5)   # error feedback
        assert r["iter"] == 3 and r["stats"] == (2.4, 24, 10)     # counted once compression started


@pytest.mark.parametrize("batched", [False, True])
def test_powerSGD_full_rank_is_exact(world, batched):
    # a rank as large as the matrix: P P^T is the projection on its column space, so the result is the mean
    res = world.run(_powersgd, 4 if not batched else 3, batched, False)
    for step in range(3):
        want = (res[0]["out"][step][0] + res[1]["out"][step][0]) / 2
        for r in res:
            np.testing.assert_allclose(r["out"][step][1], want, rtol=1e-4, atol=1e-5)


def test_powerSGD_state_errors():
    with pytest.raises(ValueError, match="Expect `start_powerSGD_iter` > 1"):
        psgd.PowerSGDState(None, start_powerSGD_iter=1)


# ------------------------------------------------------------------------------------------ Join
def _uneven(rank, n_batches, divide, hook, throw=False):
    m = _net()
    d = DDP(m)
    if hook:
        d.register_comm_hook(None, default_hooks.allreduce_hook)
    opt = ttorch.optim.SGD(d.parameters(), lr=0.05)
    out = []
    try:
        with d.join(divide_by_initial_world_size=divide, throw_on_early_termination=throw):
            for i in range(n_batches[rank]):
                x = _x(rank, i)
                local = _local_grads(m, x)
                opt.zero_grad()
                (d(x) ** 2).sum().backward()
                out.append((local, _grads(m)))
                opt.step()
    except RuntimeError as e:
        return str(e)
    return dict(out=out, final=[p.detach().numpy().copy() for p in m.parameters()])


@pytest.mark.parametrize("divide,hook", [(True, False), (False, False), (True, True)])
def test_join_uneven_inputs(world, divide, hook):
    res = world.run(_uneven, (1, 3), divide, hook)
    assert len(res[0]["out"]) == 1 and len(res[1]["out"]) == 3
    for j, got in enumerate(res[1]["out"][0][1]):       # both active: the mean
        np.testing.assert_allclose(got, (res[0]["out"][0][0][j] + res[1]["out"][0][0][j]) / 2, rtol=1e-6, atol=1e-6)
    for local, got in res[1]["out"][1:]:    # rank 0 joined: it adds zeros; the divisor is 2 or the 1 active rank
        for lg, g in zip(local, got):
            np.testing.assert_allclose(g, lg / 2 if divide or hook else lg, rtol=1e-6, atol=1e-6)
    for a, b in zip(res[0]["final"], res[1]["final"]):     # the last joiner's model on every rank
        np.testing.assert_array_equal(a, b)


def test_join_throw_on_early_termination(world):
    res = world.run(_uneven, (1, 3), True, False, True)
    assert res == ["Rank 0 exhausted all inputs.",
                   "Detected at least one rank that exhausted inputs. Throwing across all ranks."]


def test_join_errors():
    with pytest.raises(ValueError, match="requires at least one joinable"):
        Join([])


# ------------------------------------------------------------------------------------------ ZeroRedundancyOptimizer
def _zero(rank, bucket_view):
    def run(use_zero, steps, model=None, opt_state=None):
        m = model or _net()
        d = DDP(m)
        opt = ZeroRedundancyOptimizer(m.parameters(), optimizer_class=ttorch.optim.Adam, lr=0.05,
                                      parameters_as_bucket_view=bucket_view) if use_zero else \
            ttorch.optim.Adam(m.parameters(), lr=0.05)
        if opt_state is not None:
            opt.load_state_dict(opt_state)
        for i in steps:
            opt.zero_grad()
            (d(_x(rank, i)) ** 2).sum().backward()
            opt.step()
        return m, opt
    m_ref, o_ref = run(False, range(3))
    m, o = run(True, range(3))
    local = {id(p) for g in o.optim.param_groups for p in g["params"]}
    owned = [i for i, p in enumerate(m.parameters()) if id(p) in local]
    o.consolidate_state_dict(to=0)
    full = o.state_dict() if rank == 0 else None
    # round trip: 2 steps, save, a fresh model and ZeRO loading both, 1 more step
    m2, o2 = run(True, range(2))
    o2.consolidate_state_dict(to=0)
    box = [o2.state_dict() if rank == 0 else None]
    dist.broadcast_object_list(box, src=0)
    m3 = _net()
    m3.load_state_dict(m2.state_dict())
    m3, _ = run(True, [2], m3, box[0])

    def host(sd):
        return {k: {kk: np.asarray(vv.numpy() if hasattr(vv, "numpy") else vv, np.float64) for kk, vv in v.items()}
                for k, v in sd["state"].items()}
    return dict(ref=[p.detach().numpy() for p in m_ref.parameters()], got=[p.detach().numpy() for p in m.parameters()],
                resumed=[p.detach().numpy() for p in m3.parameters()], owned=owned,
                local_state=len(o.optim.state), full=None if full is None else host(full),
                full_groups=None if full is None else full["param_groups"][0]["params"],
                ref_state=host(o_ref.state_dict()))


@pytest.mark.parametrize("bucket_view", [False, True])
def test_zero_redundancy_optimizer(world, bucket_view):
    res = world.run(_zero, bucket_view)
    # greedy partition, largest first, each to the first rank with the fewest elements: 24 -> 0, 18 -> 1, 6 -> 1
    # (24 each), 3 -> 0
    assert res[0]["owned"] == [0, 3] and res[1]["owned"] == [1, 2]
    assert res[0]["local_state"] == 2 and res[1]["local_state"] == 2
    for r in res:
        for a, b, c in zip(r["got"], r["ref"], r["resumed"]):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
            np.testing.assert_allclose(c, a, rtol=1e-6, atol=1e-6)
    full, ref = res[0]["full"], res[0]["ref_state"]
    assert res[0]["full_groups"] == [0, 1, 2, 3] and sorted(full) == [0, 1, 2, 3]
    for k in ref:
        for kk in ref[k]:
            np.testing.assert_allclose(full[k][kk], ref[k][kk], rtol=1e-6, atol=1e-7)


def _zero_errors(rank):
    m = _net()
    o = ZeroRedundancyOptimizer(m.parameters(), optimizer_class=ttorch.optim.SGD, lr=0.1)
    msgs = []
    try:
        o.state_dict()
    except RuntimeError as e:
        msgs.append(str(e))
    extra = nn.Parameter(ttorch.ones(5))
    o.add_param_group({"params": [extra], "lr": 0.5})
    extra.grad = ttorch.ones(5)
    o.step()
    try:
        ZeroRedundancyOptimizer([], optimizer_class=ttorch.optim.SGD, lr=0.1)
    except ValueError as e:
        msgs.append(str(e))
    return msgs, extra.detach().tolist(), [len(g["params"]) for g in o.optim.param_groups]


def test_zero_add_param_group_and_errors(world):
    res = world.run(_zero_errors)
    for rank, (msgs, extra, local_groups) in enumerate(res):
        assert msgs == ["Optimizer state has not been consolidated on this rank. Please call "
                        f"`consolidate_state_dict(to={rank})` on all ranks beforehand if you meant to save the "
                        "global state.", "ZeroRedundancyOptimizer got an empty parameter list"]
        assert extra == [0.5] * 5           # stepped by its owner (rank 1: 24 elements to rank 0's 27), broadcast
    assert res[0][2] == [2, 0] and res[1][2] == [2, 1]


# ------------------------------------------------------------------------------------------ FSDP optimizer state
def _fsdp_model():
    m = _net()
    m[2] = FSDP(m[2])
    return FSDP(m)


def _fsdp_step(m, o, rank, i):
    o.zero_grad()
    (m(_x(rank, i)) ** 2).sum().backward()
    o.step()


def _fsdp_optim(rank):
    m = _fsdp_model()
    o = ttorch.optim.Adam(m.parameters(), lr=0.05)
    for i in range(3):
        _fsdp_step(m, o, rank, i)
    want = {k: v.numpy() for k, v in m.state_dict().items()}
    m2 = _fsdp_model()
    o2 = ttorch.optim.Adam(m2.parameters(), lr=0.05)
    for i in range(2):
        _fsdp_step(m2, o2, rank, i)
    sd, osd = m2.state_dict(), FSDP.optim_state_dict(m2, o2)
    legacy = FSDP.full_optim_state_dict(m2, o2)         # rank 0 only by default
    shard = FSDP.shard_full_optim_state_dict(osd, m2, optim=o2)
    scattered = FSDP.scatter_full_optim_state_dict(legacy if rank == 0 else None, m2, optim=o2)
    m3 = _fsdp_model()
    o3 = ttorch.optim.Adam(m3.parameters(), lr=0.05)
    m3.load_state_dict(sd)
    FSDP.optim_state_dict_to_load(m3, o3, osd, load_directly=True)
    _fsdp_step(m3, o3, rank, 2)
    got = {k: v.numpy() for k, v in m3.state_dict().items()}

    def host(state):
        return {k: {kk: np.asarray(vv.numpy() if hasattr(vv, "numpy") else vv, np.float64) for kk, vv in v.items()}
                for k, v in state.items()}
    local = host(o2.state_dict()["state"])
    return dict(want=want, got=got, osd=host(osd["state"]), names=osd["param_groups"][0]["params"],
                lr=osd["param_groups"][0]["lr"], legacy=None if not legacy else host(legacy["state"]),
                same_shard=all(np.array_equal(local[i][k], host(s["state"])[i][k]) for s in (shard, scattered)
                               for i in local for k in local[i]))


def test_fsdp_optim_state_dict(world):
    res = world.run(_fsdp_optim)
    # one process, the whole batch: the mean over ranks of each rank's loss, Adam for 2 steps
    m = _net()
    o = ttorch.optim.Adam(m.parameters(), lr=0.05)
    for i in range(2):
        o.zero_grad()
        (sum((m(_x(r, i)) ** 2).sum() for r in range(WORLD)) / WORLD).backward()
        o.step()
    names = [n for n, _ in m.named_parameters()]
    ref = {n: {k: np.asarray(v.numpy() if hasattr(v, "numpy") else v, np.float64) for k, v in s.items()}
           for n, s in zip(names, (o.state[p] for p in m.parameters()))}
    for rank, r in enumerate(res):
        assert r["names"] == names and r["lr"] == 0.05
        assert sorted(r["osd"]) == sorted(names)
        for n in names:
            assert set(r["osd"][n]) == {"step", "exp_avg", "exp_avg_sq"}
            for k in ("step", "exp_avg", "exp_avg_sq"):
                np.testing.assert_allclose(r["osd"][n][k], ref[n][k], rtol=1e-5, atol=1e-7)
        for k in r["want"]:         # 2 steps, save, load into a fresh model and optimizer, 1 step == 3 steps
            np.testing.assert_allclose(r["got"][k], r["want"][k], rtol=1e-6, atol=1e-7)
        assert r["same_shard"]
        assert (r["legacy"] is None) == (rank != 0)
    for n in names:
        np.testing.assert_array_equal(res[0]["legacy"][n]["exp_avg"], res[0]["osd"][n]["exp_avg"])


def _fsdp_hooked(rank, strategy, use_hook):
    from ttorch.distributed.algorithms._comm_hooks import DefaultState, allreduce_hook, reduce_scatter_hook
    from ttorch.distributed.fsdp import ShardingStrategy
    m = _net()
    m[2] = FSDP(m[2], sharding_strategy=getattr(ShardingStrategy, strategy))
    m = FSDP(m, sharding_strategy=getattr(ShardingStrategy, strategy))
    calls = []
    if use_hook:
        base = allreduce_hook if strategy == "NO_SHARD" else reduce_scatter_hook

        def hook(state, *tensors):
            calls.append(len(tensors))
            return base(state, *tensors)
        m.register_comm_hook(DefaultState(dist.group.WORLD), hook)
    o = ttorch.optim.Adam(m.parameters(), lr=0.05)
    for i in range(2):
        _fsdp_step(m, o, rank, i)
    errors = []
    try:
        m.register_comm_hook(None, hook if use_hook else print)
        m[2].register_comm_hook(None, print)
    except AssertionError as e:
        errors.append(str(e))
    return {k: v.numpy() for k, v in m.state_dict().items()}, calls, errors


@pytest.mark.parametrize("strategy", ["FULL_SHARD", "NO_SHARD"])
def test_fsdp_comm_hook(world, strategy):
    plain = world.run(_fsdp_hooked, strategy, False)
    hooked = world.run(_fsdp_hooked, strategy, True)
    for (want, _, err0), (got, calls, err1) in zip(plain, hooked):
        for k in want:
            np.testing.assert_allclose(got[k], want[k], rtol=1e-6, atol=1e-7)
        assert calls == [1 if strategy == "NO_SHARD" else 2] * 4        # 2 units x 2 backwards
        assert err0 == ["register_comm_hook can only be called on a root instance."]
        assert err1 == ["A communication hook is already registered"]


def _join_ddp_zero(rank):
    m = _net()
    d = DDP(m)
    o = ZeroRedundancyOptimizer(m.parameters(), optimizer_class=ttorch.optim.SGD, lr=0.05)
    with Join([d, o]):
        for i in range((1, 3)[rank]):
            o.zero_grad()
            (d(_x(rank, i)) ** 2).sum().backward()
            o.step()
    return [p.detach().numpy() for p in m.parameters()]


def test_join_ddp_and_zero(world):
    a, b = world.run(_join_ddp_zero)        # the joined rank keeps broadcasting its share: no hang, one model
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
