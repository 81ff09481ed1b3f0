"""ttorch.distributed.checkpoint (DCP) and its state-dict helpers.

Single-process round trips run here; the resharding, FSDP2 and atomicity tests run on a pool of 4 processes
(``world``): a checkpoint saved by ranks 0-1 (``Shard(0)`` over a 2-rank mesh) is loaded by 4 ranks in other
placements and by one process; references are NumPy arrays and an uninterrupted training run.
"""
import os
import warnings

import numpy as np
import pytest

import ttorch
import ttorch.distributed.checkpoint as dcp
from ttorch import nn
from ttorch.distributed.checkpoint.state_dict import (StateDictOptions, get_model_state_dict,
                                                      get_optimizer_state_dict, get_state_dict, set_state_dict)

from _distributed_pool import world_fixture

WORLD = 4
world = world_fixture(WORLD, 120, 60)

pytestmark = pytest.mark.filterwarnings("ignore:torch.distributed is disabled")

_A = np.arange(7 * 3, dtype=np.float32).reshape(7, 3) / 4       # uneven over 2 and 4 ranks
_B = np.linspace(-1, 1, 10).reshape(2, 5)


def _chunk(n, parts, i):
    """Rows of chunk ``i`` of ``n`` split as ``ttorch.chunk`` splits."""
    step = -(-n // parts)
    return slice(min(i * step, n), min((i + 1) * step, n))


# ---------------------------------------------------------------------------------------------- one process
class _Counter:
    """A ``Stateful`` object that is neither a module nor an optimizer."""

    def __init__(self, n):
        self.n = n

    def state_dict(self):
        return {"n": self.n, "t": ttorch.full((2,), float(self.n))}

    def load_state_dict(self, sd):
        self.n = sd["n"]
        assert sd["t"].tolist() == [float(self.n)] * 2


def test_round_trip_one_process(tmp_path):
    model = nn.Linear(3, 2)
    sd = {"model": model, "step": 7, "tup": (1, "b"), "counter": _Counter(5),
          "nested": {"a": ttorch.tensor(_B), "lst": [ttorch.ones(2, dtype=ttorch.int64), "x"]}}
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        md = dcp.save(sd, checkpoint_id=tmp_path)
    assert any("single process" in str(x.message) for x in w)
    assert sorted(os.listdir(tmp_path)) == [".metadata", "__0_0.distcp"]
    assert set(md.state_dict_metadata) == {"model.weight", "model.bias", "step", "nested.a", "nested.lst.0",
                                           "nested.lst.1", "tup", "counter.n", "counter.t"}
    assert md.planner_data["nested.lst.0"] == ("nested", "lst", 0)
    w_md = md.state_dict_metadata["model.weight"]
    assert tuple(w_md.size) == (2, 3) and w_md.properties.dtype == ttorch.float32
    assert [tuple(c.offsets) for c in w_md.chunks] == [(0, 0)]

    model2 = nn.Linear(3, 2)
    weight = model2.weight
    dst = {"model": model2, "step": 0, "nested": {"a": ttorch.zeros(2, 5), "lst": [ttorch.zeros(2, dtype=ttorch.int64),
                                                                                    "y"]},
           "tup": None, "counter": _Counter(0)}
    dcp.load(dst, checkpoint_id=tmp_path)
    assert model2.weight is weight                      # loaded in place
    np.testing.assert_array_equal(model2.weight.detach().numpy(), model.weight.detach().numpy())
    assert dst["step"] == 7 and dst["tup"] == (1, "b") and dst["nested"]["lst"][1] == "x"
    np.testing.assert_array_equal(dst["nested"]["a"].numpy(), _B.astype(np.float32))   # into the given dtype
    assert dst["nested"]["lst"][0].tolist() == [1, 1] and dst["counter"].n == 5


def test_cuda_and_dtypes(tmp_path):
    dcp.save({"h": ttorch.arange(4.0, device="cuda").to(ttorch.bfloat16), "c": ttorch.tensor(_A)},
             checkpoint_id=tmp_path)
    sd = {"h": ttorch.zeros(4, dtype=ttorch.float32), "c": ttorch.zeros(7, 3, dtype=ttorch.float64, device="cuda")}
    dcp.load(sd, checkpoint_id=tmp_path)
    assert sd["h"].tolist() == [0.0, 1.0, 2.0, 3.0] and sd["c"].device.type == "cuda"
    np.testing.assert_array_equal(sd["c"].cpu().numpy(), _A)


def test_load_errors_and_partial_load(tmp_path):
    dcp.save({"a": ttorch.ones(2, 3), "b": 1}, checkpoint_id=tmp_path)
    with pytest.raises(dcp.CheckpointException, match="Missing key in checkpoint state_dict: c."):
        dcp.load({"c": ttorch.ones(1)}, checkpoint_id=tmp_path)
    with pytest.raises(dcp.CheckpointException, match=r"Size mismatch between saved .*\[2, 3\].* for a"):
        dcp.load({"a": ttorch.ones(3)}, checkpoint_id=tmp_path)
    sd = {"a": ttorch.zeros(2, 3), "c": ttorch.zeros(1)}
    dcp.load(sd, checkpoint_id=tmp_path, planner=dcp.DefaultLoadPlanner(allow_partial_load=True))
    assert sd["a"].sum().item() == 6 and sd["c"].item() == 0
    with pytest.raises(RuntimeError, match="`checkpoint_id` must be specified"):
        dcp.save({"a": ttorch.ones(1)})
    with pytest.raises(dcp.CheckpointException, match="Checkpoint already exists"):
        dcp.save({"a": ttorch.ones(1)}, storage_writer=dcp.FileSystemWriter(tmp_path, overwrite=False))


def test_deprecated_async_and_format_utils(tmp_path):
    from ttorch.distributed.checkpoint.format_utils import dcp_to_torch_save, torch_save_to_dcp
    sd = {"w": ttorch.tensor(_B), "meta": {"epoch": 3, "v": ttorch.arange(4)}}
    with pytest.warns(FutureWarning, match="`save_state_dict` is deprecated"):
        dcp.save_state_dict(sd, dcp.FileSystemWriter(tmp_path / "a"), no_dist=True)
    fut = dcp.async_save(sd, checkpoint_id=tmp_path / "b")
    sd["w"].add_(1.0)                                    # after staging: not in the checkpoint
    assert isinstance(fut, ttorch.futures.Future) and isinstance(fut.result(), dcp.Metadata)
    for sub in "ab":
        dst = {"w": ttorch.zeros(2, 5, dtype=ttorch.float64),
               "meta": {"epoch": 0, "v": ttorch.zeros(4, dtype=ttorch.int64)}}
        with pytest.warns(FutureWarning, match="`load_state_dict` is deprecated"):
            dcp.load_state_dict(dst, dcp.FileSystemReader(tmp_path / sub), no_dist=True)
        np.testing.assert_array_equal(dst["w"].numpy(), _B)
        assert dst["meta"]["epoch"] == 3 and dst["meta"]["v"].tolist() == [0, 1, 2, 3]
    dcp_to_torch_save(tmp_path / "a", tmp_path / "full.pt")
    full = ttorch.load(tmp_path / "full.pt", weights_only=False)
    np.testing.assert_array_equal(full["w"].numpy(), _B)
    assert full["meta"]["epoch"] == 3 and full["meta"]["v"].tolist() == [0, 1, 2, 3]
    torch_save_to_dcp(tmp_path / "full.pt", tmp_path / "c")
    dst = {"w": ttorch.zeros(2, 5, dtype=ttorch.float64),
           "meta": {"epoch": 0, "v": ttorch.zeros(4, dtype=ttorch.int64)}}
    dcp.load(dst, checkpoint_id=tmp_path / "c")
    np.testing.assert_array_equal(dst["w"].numpy(), _B)


class _FailingWriter(dcp.FileSystemWriter):
    """Fails at its last item, having written the others (on ranks in ``fail_ranks``)."""

    def __init__(self, path, fail_ranks, rank):
        super().__init__(path)
        self.fail = rank in fail_ranks

    def write_data(self, plan, planner):
        if self.fail:
            orig = planner.resolve_data
            calls = []

            def resolve(item):
                calls.append(item)
                if len(calls) == len(plan.items):
                    raise OSError("disk full")
                return orig(item)
            planner.resolve_data = resolve
        return super().write_data(plan, planner)


def test_failing_writer_keeps_previous_checkpoint(tmp_path):
    dcp.save({"a": ttorch.ones(3), "b": ttorch.zeros(2), "c": 1}, checkpoint_id=tmp_path)
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(dcp.CheckpointException, match="disk full"):
        dcp.save({"a": ttorch.full((3,), 5.0), "b": ttorch.ones(2), "c": 2},
                 storage_writer=_FailingWriter(tmp_path, {0}, 0))
    assert sorted(os.listdir(tmp_path)) == before          # no temporary files left, nothing replaced
    sd = {"a": ttorch.zeros(3), "b": ttorch.ones(2), "c": 0}
    dcp.load(sd, checkpoint_id=tmp_path)
    assert sd["a"].tolist() == [1.0] * 3 and sd["b"].tolist() == [0.0] * 2 and sd["c"] == 1


def test_state_dict_helpers_one_process():
    ttorch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    model[0].bias.requires_grad_(False)
    opt = ttorch.optim.Adam(model.parameters(), lr=0.1)
    msd, osd = get_state_dict(model, opt)
    assert list(msd) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert list(osd["state"]) == ["0.weight", "2.weight", "2.bias"]        # made by a zero step (frozen: none)
    assert osd["state"]["0.weight"]["step"].item() == 1.0
    assert osd["param_groups"][0]["params"] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert list(get_model_state_dict(model, options=StateDictOptions(ignore_frozen_params=True))) == \
        ["0.weight", "2.weight", "2.bias"]
    assert list(get_model_state_dict(model, submodules={model[2]},
                                     options=StateDictOptions(keep_submodule_prefixes=False))) == ["weight", "bias"]
    flat = get_optimizer_state_dict(model, opt, options=StateDictOptions(flatten_optimizer_state_dict=True))
    assert "state.2.bias.exp_avg" in flat and flat["param_groups.0.bias.lr"] == 0.1
    # a flattened optimizer state dict loads back into another optimizer (its lr too)
    x = ttorch.randn(4, 3)
    model(x).sum().backward()
    opt.step()
    opt2 = ttorch.optim.Adam(model.parameters(), lr=0.5)
    set_state_dict(model, opt2, model_state_dict=msd,
                   optim_state_dict=get_optimizer_state_dict(model, opt, options=StateDictOptions(
                       flatten_optimizer_state_dict=True)))
    assert opt2.param_groups[0]["lr"] == 0.1
    for p in model.parameters():
        if p.requires_grad:
            np.testing.assert_array_equal(opt2.state[p]["exp_avg"].numpy(), opt.state[p]["exp_avg"].numpy())
    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: "0.bias"'):
        set_state_dict(model, opt, model_state_dict={"0.weight": ttorch.zeros(2, 3)}, optim_state_dict=osd)


# ---------------------------------------------------------------------------------------------- 4 processes
def _save_two_ranks(rank, path):
    """Ranks 0-1 save a Shard(0) DTensor, a replicated DTensor, a plain tensor and a value; 2-3 idle."""
    from ttorch.distributed.tensor import DeviceMesh, Replicate, Shard, distribute_tensor
    mesh = DeviceMesh("cpu", [0, 1])            # (every rank makes the mesh's group)
    if rank >= 2:
        return None
    sd = {"a": distribute_tensor(ttorch.tensor(_A), mesh, [Shard(0)]),
          "b": {"r": distribute_tensor(ttorch.tensor(_B), mesh, [Replicate()]), "plain": ttorch.arange(3)},
          "v": ["hello", rank * 0]}
    md = dcp.save(sd, checkpoint_id=path, process_group=mesh.get_group())
    return ({k: [(tuple(c.offsets), tuple(c.sizes)) for c in m.chunks] for k, m in md.state_dict_metadata.items()
             if hasattr(m, "chunks")}, sorted(os.listdir(path)))


def _load_resharded(rank, path):
    from ttorch.distributed.tensor import Replicate, Shard, distribute_tensor, init_device_mesh
    mesh = init_device_mesh("cpu", (4,))
    mesh2 = init_device_mesh("cpu", (2, 2))
    z = ttorch.zeros(7, 3)
    sd = {"a": distribute_tensor(z, mesh, [Shard(0)]), "b": {"r": distribute_tensor(ttorch.zeros(2, 5), mesh,
                                                                                     [Shard(1)]),
                                                          "plain": ttorch.zeros(3, dtype=ttorch.int64)}, "v": None}
    dcp.load(sd, checkpoint_id=path)
    sd2 = {"a": distribute_tensor(z, mesh2, [Shard(1), Shard(0)]),
           "b": {"r": distribute_tensor(ttorch.zeros(2, 5), mesh2, [Replicate(), Shard(0)])}}
    dcp.load(sd2, checkpoint_id=path)
    md = dcp.save(sd2, checkpoint_id=path + "_2d")       # and saved again from the 2-D mesh
    chunks = {k: sorted(tuple(c.offsets) for c in m.chunks) for k, m in md.state_dict_metadata.items()}
    return (chunks, sd["a"].to_local().numpy(), sd["b"]["r"].to_local().numpy(), sd["b"]["plain"].tolist(), sd["v"],
            sd2["a"].to_local().numpy(), sd2["b"]["r"].to_local().numpy(), mesh2.get_coordinate())


def test_reshard_2_to_4_to_1(world, tmp_path):
    path = str(tmp_path / "ckpt")
    chunks, files = world.run(_save_two_ranks, path)[0]
    assert chunks["a"] == [((0, 0), (4, 3)), ((4, 0), (3, 3))]
    assert chunks["b.r"] == [((0, 0), (2, 5))] and chunks["b.plain"] == [((0,), (3,))]     # written once
    assert files == [".metadata", "__0_0.distcp", "__1_0.distcp"]
    got = world.run(_load_resharded, path)
    # 4 chunks of "a" (2 x 2 grid) and 2 of "b.r" (its Replicate mesh dim written once)
    assert got[0][0] == {"a": [(0, 0), (0, 2), (4, 0), (4, 2)], "b.r": [(0, 0), (1, 0)]}
    for r, (_, a, br, plain, v, a2, br2, coord) in enumerate(got):
        np.testing.assert_array_equal(a, _A[_chunk(7, 4, r)])
        np.testing.assert_array_equal(br, _B[:, _chunk(5, 4, r)].astype(np.float32))
        assert plain == [0, 1, 2] and v == ["hello", 0]
        i, j = coord
        np.testing.assert_array_equal(a2, _A[_chunk(7, 2, j), _chunk(3, 2, i)])
        np.testing.assert_array_equal(br2, _B[_chunk(2, 2, j)].astype(np.float32))
    # one process, plain tensors, no process group
    sd = {"a": ttorch.zeros(7, 3, dtype=ttorch.float64), "b": {"r": ttorch.zeros(2, 5), "plain": ttorch.zeros(3)}}
    dcp.load(sd, checkpoint_id=path)
    np.testing.assert_array_equal(sd["a"].numpy(), _A)
    np.testing.assert_array_equal(sd["b"]["r"].numpy(), _B.astype(np.float32))
    sd = {"a": ttorch.zeros(7, 3), "b": {"r": ttorch.zeros(2, 5, dtype=ttorch.float64)}}
    dcp.load(sd, checkpoint_id=path + "_2d")
    np.testing.assert_array_equal(sd["a"].numpy(), _A)
    np.testing.assert_array_equal(sd["b"]["r"].numpy(), _B.astype(np.float32))


def _fsdp_model(seed):
    ttorch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(5, 6), nn.Tanh(), nn.Linear(6, 3))
    from ttorch.distributed.fsdp import fully_shard
    fully_shard(model[0])
    fully_shard(model)
    return model


def _train(model, opt, rank, steps):
    for s in steps:
        g = np.random.default_rng(100 * s + rank)
        x = ttorch.tensor(g.standard_normal((4, 5)).astype(np.float32))
        y = ttorch.tensor(g.standard_normal((4, 3)).astype(np.float32))
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()


def _full_params(model):
    return {k: v.full_tensor().numpy() for k, v in get_model_state_dict(model).items()}


def _fsdp_resume(rank, path):
    model = _fsdp_model(0)
    opt = ttorch.optim.Adam(model.parameters(), lr=0.05)
    _train(model, opt, rank, [0, 1, 2, 3])
    straight = _full_params(model)

    model = _fsdp_model(0)
    opt = ttorch.optim.Adam(model.parameters(), lr=0.05)
    _train(model, opt, rank, [0, 1])
    msd, osd = get_state_dict(model, opt)
    fut = dcp.async_save({"model": msd, "optim": osd}, checkpoint_id=path)
    _train(model, opt, rank, [2])           # (collectives while the save runs in the background)
    fut.result()

    model2 = _fsdp_model(1)                 # other initial values: all must come from the checkpoint
    opt2 = ttorch.optim.Adam(model2.parameters(), lr=0.5)
    msd2, osd2 = get_state_dict(model2, opt2)
    sd = {"model": msd2, "optim": osd2}
    dcp.load(sd, checkpoint_id=path)
    set_state_dict(model2, opt2, model_state_dict=sd["model"], optim_state_dict=sd["optim"])
    _train(model2, opt2, rank, [2, 3])
    resumed = _full_params(model2)
    full = get_model_state_dict(model2, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    full_osd = get_optimizer_state_dict(model2, opt2, options=StateDictOptions(full_state_dict=True,
                                                                               cpu_offload=True))
    # rank 0's full state dicts, broadcast and sharded into a third model and optimizer
    model3 = _fsdp_model(2)
    opt3 = ttorch.optim.Adam(model3.parameters(), lr=0.5)
    bcast = StateDictOptions(full_state_dict=True, broadcast_from_rank0=True)
    set_state_dict(model3, opt3, model_state_dict=full, optim_state_dict=full_osd, options=bcast)
    same_optim = all(np.array_equal(opt3.state[p3]["exp_avg"].to_local().numpy(),
                                    opt2.state[p2]["exp_avg"].to_local().numpy())
                     for p2, p3 in zip(model2.parameters(), model3.parameters()))
    return straight, resumed, sorted(full), opt2.param_groups[0]["lr"], _full_params(model3), same_optim


def test_fsdp2_adam_resume_matches_uninterrupted_run(world, tmp_path):
    path = str(tmp_path / "fsdp")
    got = world.run(_fsdp_resume, path)
    for r, (straight, resumed, full_keys, lr, third, same_optim) in enumerate(got):
        assert straight.keys() == resumed.keys() == third.keys()
        for k in straight:
            np.testing.assert_array_equal(resumed[k], straight[k], err_msg=k)
            np.testing.assert_array_equal(third[k], straight[k], err_msg=k)
        assert same_optim
        assert full_keys == (["0.bias", "0.weight", "2.bias", "2.weight"] if r == 0 else [])
        assert lr == 0.05
    # the sharded checkpoint as plain tensors in one process
    msd = nn.Sequential(nn.Linear(5, 6), nn.Tanh(), nn.Linear(6, 3)).state_dict()
    dcp.load({"model": msd}, checkpoint_id=path)
    assert all(np.isfinite(v.numpy()).all() for v in msd.values())


def _failing_save(rank, path):
    from ttorch.distributed.tensor import Shard, distribute_tensor, init_device_mesh
    mesh = init_device_mesh("cpu", (4,))
    val = lambda c: {"a": distribute_tensor(ttorch.full((8, 2), c), mesh, [Shard(0)]), "n": ttorch.full((3,), c)}
    dcp.save(val(1.0), checkpoint_id=path)
    try:
        dcp.save(val(2.0), storage_writer=_FailingWriter(path, {2}, rank))
        err = None
    except dcp.CheckpointException as e:
        err = (sorted(e.failures), str(e))
    sd = val(0.0)
    dcp.load(sd, checkpoint_id=path)
    return err, sd["a"].to_local().tolist(), sd["n"].tolist(), sorted(os.listdir(path))


def test_failing_writer_on_one_rank(world, tmp_path):
    path = str(tmp_path / "atomic")
    for err, a, n, files in world.run(_failing_save, path):
        assert err[0] == [2] and "disk full" in err[1]
        assert a == [[1.0, 1.0]] * 2 and n == [1.0] * 3
        assert files == [".metadata"] + [f"__{r}_0.distcp" for r in range(4)]


def _wrapped_model(kind, seed):
    ttorch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(5, 6), nn.Tanh(), nn.Linear(6, 3))
    if kind == "ddp":
        return nn.parallel.DistributedDataParallel(net)
    from ttorch.distributed.fsdp import FullyShardedDataParallel
    return FullyShardedDataParallel(net)


def _wrapped_resume(rank, kind, path):
    model = _wrapped_model(kind, 0)
    opt = ttorch.optim.Adam(model.parameters(), lr=0.05)
    _train(model, opt, rank, [0, 1, 2])
    straight = {k: v.numpy() for k, v in get_model_state_dict(model).items()}
    model = _wrapped_model(kind, 0)
    opt = ttorch.optim.Adam(model.parameters(), lr=0.05)
    _train(model, opt, rank, [0, 1])
    opts = StateDictOptions(flatten_optimizer_state_dict=kind == "fsdp1")
    msd, osd = get_state_dict(model, opt, options=opts)
    keys = (list(msd), sorted({k.split(".", 1)[1].rsplit(".", 1)[0] for k in osd if k.startswith("state.")})
            if kind == "fsdp1" else list(osd["state"]))
    dcp.save({"model": msd, "optim": osd}, checkpoint_id=path)
    model2 = _wrapped_model(kind, 1)
    opt2 = ttorch.optim.Adam(model2.parameters(), lr=0.5)
    msd2, osd2 = get_state_dict(model2, opt2, options=opts)
    sd = {"model": msd2, "optim": osd2}
    dcp.load(sd, checkpoint_id=path)
    set_state_dict(model2, opt2, model_state_dict=sd["model"], optim_state_dict=sd["optim"], options=opts)
    _train(model2, opt2, rank, [2])
    return straight, {k: v.numpy() for k, v in get_model_state_dict(model2).items()}, keys


@pytest.mark.parametrize("kind", ["ddp", "fsdp1"])
def test_ddp_and_fsdp1_resume(world, tmp_path, kind):
    names = ["0.weight", "0.bias", "2.weight", "2.bias"]
    for straight, resumed, keys in world.run(_wrapped_resume, kind, str(tmp_path / kind)):
        assert keys == (names, names if kind == "ddp" else sorted(names))     # no "module." / FSDP prefixes
        for k in names:
            np.testing.assert_array_equal(resumed[k], straight[k], err_msg=k)


def test_doctests():
    import doctest
    import importlib
    for name in ("state_dict", "state_dict_saver", "state_dict_loader", "filesystem", "default_planner"):
        mod = importlib.import_module("ttorch.distributed.checkpoint." + name)
        res = doctest.testmod(mod, extraglobs={"ttorch": ttorch}, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert res.failed == 0, mod.__name__
