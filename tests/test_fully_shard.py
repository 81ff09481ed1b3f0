"""fully_shard (FSDP2) on a pool of 2 processes: a 2-block model with each block and the root sharded, trained 3 Adam
steps on each rank's half of the batch, against the same model trained in one process on the whole batch; the
gathered parameters freed after forward; gradient accumulation without sync; mixed precision; state dicts.
"""
import numpy as np
import pytest

import ttorch
from ttorch import nn
from ttorch.distributed.fsdp import (CPUOffloadPolicy, FSDPModule, MixedPrecisionPolicy, fully_shard,
                                     register_fsdp_forward_method)
from ttorch.distributed.fsdp import _fully_shard as impl
from ttorch.distributed.tensor import DTensor, Shard

from _distributed_pool import world_fixture

WORLD = 2


world = world_fixture(WORLD, 120, 30)


class Block(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(d, 7), nn.Linear(7, d)       # 7 rows: uneven chunks (4, 3)

    def forward(self, x):
        return x + self.fc2(ttorch.tanh(self.fc1(x)))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        ttorch.manual_seed(0)
        self.inp = nn.Linear(4, 5)
        self.blocks = nn.Sequential(Block(5), Block(5))
        self.head = nn.Linear(5, 3, bias=False)                   # 3 rows: chunks (2, 1)

    def forward(self, x):
        return self.head(self.blocks(self.inp(x)))

    def score(self, x):
        return self(x).sum(-1)


def _batch(rank, n=3):
    rng = np.random.default_rng(rank)
    return ttorch.tensor(rng.standard_normal((n, 4))), ttorch.tensor(rng.standard_normal((n, 3)))


def _loss(model, x, y):
    return ((model(x) - y) ** 2).mean()


def _reference(world=WORLD):
    """The model trained in one process on every rank's batch (``world`` ranks)."""
    model = Net().double()
    opt = ttorch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(3):
        opt.zero_grad()
        (sum(_loss(model, *_batch(r)) for r in range(world)) / world).backward()
        opt.step()
    return {k: v.numpy() for k, v in model.state_dict().items()}


def _shard(model, **kw):
    for b in model.blocks:
        fully_shard(b, **kw)
    return fully_shard(model, **kw)


def _train(rank, mode="whole", mp=None, offload=False, variant=None):
    kw = {"keep": dict(reshard_after_forward=False), "dim1": dict(shard_placement_fn=lambda p: Shard(p.ndim - 1)),
          None: {}}[variant]
    model = _shard(Net().double(), mp_policy=mp or MixedPrecisionPolicy(),
                   **({"offload_policy": CPUOffloadPolicy()} if offload else {}), **kw)
    opt = ttorch.optim.Adam(model.parameters(), lr=0.05)
    x, y = _batch(rank)
    for _ in range(3):
        opt.zero_grad()
        if mode == "whole":
            _loss(model, x, y).backward()
        else:                               # two micro-batches: the first without gradient sync
            model.set_requires_gradient_sync(mode == "halves")
            (_loss(model, x[:2], y[:2]) * 2 / 3).backward()
            model.set_requires_gradient_sync(True)
            (_loss(model, x[2:], y[2:]) / 3).backward()
        opt.step()
    sd = model.state_dict()
    kinds = {k: (type(v).__name__, v.placements, tuple(v.to_local().shape)) for k, v in sd.items()}
    return dict(sd={k: v.full_tensor().double().numpy() for k, v in sd.items()}, kinds=kinds,
                cls=type(model).__name__, live=len(impl._LIVE), grad=type(model.head.weight.grad).__name__)


def test_training_matches_one_process(world):
    want = _reference()
    for rank, got in enumerate(world.run(_train)):
        assert list(got["sd"]) == list(want)
        for k in want:
            np.testing.assert_allclose(got["sd"][k], want[k], rtol=1e-10, atol=1e-12)
        assert got["cls"] == "FSDPNet" and got["live"] == 0 and got["grad"] == "DTensor"
        # Shard(0) with torch.chunk's split: 7 rows -> 4 and 3, 3 rows -> 2 and 1
        assert got["kinds"]["blocks.0.fc1.weight"] == ("DTensor", (Shard(0),), ((4, 3)[rank], 5))
        assert got["kinds"]["head.weight"] == ("DTensor", (Shard(0),), ((2, 1)[rank], 5))


@pytest.mark.parametrize("variant", ["keep", "dim1"])
def test_training_variants(world, variant):
    # kept gathered from forward to backward; sharded along the last dim (5 columns -> 3 and 2)
    want = _reference()
    for rank, got in enumerate(world.run(_train, "whole", None, False, variant)):
        for k in want:
            np.testing.assert_allclose(got["sd"][k], want[k], rtol=1e-10, atol=1e-12)
        assert got["live"] == 0
        if variant == "dim1":
            assert got["kinds"]["head.weight"] == ("DTensor", (Shard(1),), (3, (3, 2)[rank]))


def test_gradient_accumulation_without_sync(world):
    halves = world.run(_train, "halves")
    for got, ref in zip(world.run(_train, "no_sync"), halves):
        for k in ref["sd"]:
            np.testing.assert_allclose(got["sd"][k], ref["sd"][k], rtol=1e-12, atol=1e-14)
        assert got["live"] == 0
    want = _reference()         # the two micro-batches' gradients sum to the whole batch's
    for k in want:
        np.testing.assert_allclose(halves[0]["sd"][k], want[k], rtol=1e-10, atol=1e-12)


def test_mixed_precision_and_offload(world):
    want = _reference()
    mp = MixedPrecisionPolicy(param_dtype=ttorch.float32, reduce_dtype=ttorch.float32)
    for got in world.run(_train, "whole", mp, True):
        for k in want:          # float32 compute, float64 shards: near the float64 training
            np.testing.assert_allclose(got["sd"][k], want[k], rtol=1e-4, atol=1e-5)


def _freed(rank):
    model = _shard(Net().double())
    block = model.blocks[0]
    out = model(_batch(rank)[0])
    during = (len(impl._LIVE), block.__dict__["_fsdp_state"].fulls is None, type(block.fc1.weight).__name__,
              model.__dict__["_fsdp_state"].fulls is not None)     # the root keeps its own (None: not resharded)
    out.sum().backward()
    block.unshard()
    unsharded = (type(block.fc1.weight).__name__, tuple(block.fc1.weight.shape))
    block.reshard()
    return during + (len(impl._LIVE), type(block.fc1.weight).__name__, unsharded,
                     isinstance(model, FSDPModule) and isinstance(model, Net))


def test_gathered_parameters_freed_after_forward(world):
    for live, freed, kind, root_kept, live_after, kind_after, unsharded, is_both in world.run(_freed):
        # between forward and backward only the root's own parameters stay gathered (2 of them: inp, head)
        assert live == 3 and freed and kind == "DTensor" and root_kept
        assert live_after == 0 and kind_after == "DTensor" and is_both
        assert unsharded == ("Tensor", (7, 5))


def _state_and_methods(rank):
    model = _shard(Net().double(), reshard_after_forward=True)
    sd = model.state_dict()
    new = {k: v * 0 + 1 for k, v in sd.items()}
    model.load_state_dict(new)
    after = {k: float(v.full_tensor().sum()) for k, v in model.state_dict().items()}
    register_fsdp_forward_method(model, "score")
    s = model.score(_batch(rank)[0])
    live = len(impl._LIVE)
    mp = Net().double()
    for b in mp.blocks:         # (output_dtype on the root only: a block's would reach the head in float64)
        fully_shard(b, mp_policy=MixedPrecisionPolicy(param_dtype=ttorch.float32))
    fully_shard(mp, mp_policy=MixedPrecisionPolicy(param_dtype=ttorch.float32, output_dtype=ttorch.float64))
    out = mp(_batch(rank)[0])
    ign = Net().double()
    fully_shard(ign, ignored_params={ign.head.weight})
    kinds = (type(ign.head.weight).__name__, type(ign.inp.weight).__name__)
    return after, s.detach().numpy(), _batch(rank)[0].numpy(), live, out.dtype, isinstance(sd["inp.bias"], DTensor), \
        kinds


def test_state_dict_and_methods(world):
    sizes = {k: v.numel() for k, v in Net().state_dict().items()}
    for after, score, x, live, dtype, is_dt, kinds in world.run(_state_and_methods):
        assert after == {k: float(n) for k, n in sizes.items()} and is_dt
        assert kinds == ("Tensor", "DTensor")       # an ignored parameter stays a plain one
        assert live == 0 and dtype == ttorch.float64
        # all-ones parameters: every feature of a row equal, each layer a sum of its inputs plus one
        h = x.sum(1) + 1
        for _ in range(2):
            h = h + 7 * np.tanh(5 * h + 1) + 1
        np.testing.assert_allclose(score, 15 * h, rtol=1e-12)
