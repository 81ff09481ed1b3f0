"""FullyShardedDataParallel on a pool of 2 processes: training with each sharding strategy (nested units by an
auto-wrap policy, a shared parameter, activation checkpointing inside a unit, mixed precision, no_sync, gradient
clipping) against the same model trained in one process on the whole batch; the gathered parameters freed after
forward; state dicts (full, rank-0 only, local) and summon_full_params' writeback.
"""
import numpy as np
import pytest

import ttorch
from ttorch import nn
from ttorch.distributed.fsdp import (FullyShardedDataParallel as FSDP, FullStateDictConfig, MixedPrecision,
                                     ShardingStrategy, StateDictType)
from ttorch.distributed.fsdp import fully_sharded_data_parallel as fsdp_impl
from ttorch.distributed.fsdp.wrap import ModuleWrapPolicy, size_based_auto_wrap_policy, transformer_auto_wrap_policy
from ttorch.utils.checkpoint import checkpoint

from _distributed_pool import world_fixture

WORLD = 2


world = world_fixture(WORLD, 120, 30)


class Block(nn.Module):
    def __init__(self, d, ckpt=False):
        super().__init__()
        self.fc, self.ckpt = nn.Linear(d, d), ckpt

    def forward(self, x):
        f = lambda x: x + ttorch.tanh(self.fc(x))
        return checkpoint(f, x, use_reentrant=False) if self.ckpt else f(x)


class Net(nn.Module):
    """An embedding tied to the output layer (one parameter in two places), two blocks, an odd-sized head."""

    def __init__(self, ckpt=False):
        super().__init__()
        ttorch.manual_seed(0)
        self.emb = nn.Embedding(7, 5)
        self.blocks = nn.Sequential(Block(5, ckpt), Block(5, ckpt))
        self.out = nn.Linear(5, 7, bias=False)
        self.out.weight = self.emb.weight

    def forward(self, idx):
        return self.out(self.blocks(self.emb(idx)))


def _batch(rank):
    rng = np.random.default_rng(rank)
    return ttorch.tensor(rng.integers(0, 7, (3, 4))), ttorch.tensor(rng.integers(0, 7, (3, 4)))


def _loss(model, idx, tgt):
    return nn.functional.cross_entropy(model(idx).reshape(-1, 7).double(), tgt.reshape(-1))


def _train(model, batches, steps=3, clip=None, accumulate=False):
    opt = ttorch.optim.AdamW(model.parameters(), lr=0.05)
    for _ in range(steps):
        opt.zero_grad()
        if accumulate:                  # every batch but the last under no_sync
            with model.no_sync():
                for b in batches[:-1]:
                    _loss(model, *b).backward()
            _loss(model, *batches[-1]).backward()
        else:
            sum(_loss(model, *b) for b in batches).backward()
        if clip is not None:
            norm = model.clip_grad_norm_(clip) if isinstance(model, FSDP) else \
                nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
    return (float(norm) if clip is not None else None)


def _reference(clip=None, ckpt=False, dtype=ttorch.float64):
    """The model trained in one process: the mean over ranks of each rank's loss is the loss here."""
    model = Net(ckpt).to(dtype)
    opt = ttorch.optim.AdamW(model.parameters(), lr=0.05)
    norm = None
    for _ in range(3):
        opt.zero_grad()
        (sum(_loss(model, *_batch(r)) for r in range(WORLD)) / WORLD).backward()
        if clip is not None:
            norm = float(nn.utils.clip_grad_norm_(model.parameters(), clip))
        opt.step()
    return {k: v.double().numpy() for k, v in model.state_dict().items()}, norm


def _fsdp_train(rank, strategy, policy, ckpt=False, clip=None, mp=None, batches="whole"):
    policy = {"blocks": ModuleWrapPolicy({Block}), "none": None,
              "size": lambda **kw: size_based_auto_wrap_policy(min_num_params=25, **kw,
                                                               exclude_wrap_modules={nn.Embedding, nn.Linear}),
              "transformer": lambda **kw: transformer_auto_wrap_policy(transformer_layer_cls={Block}, **kw)}[policy]
    model = FSDP(Net(ckpt).double(), sharding_strategy=getattr(ShardingStrategy, strategy), auto_wrap_policy=policy,
                 mixed_precision=mp)
    names = [n for n, _ in model.named_parameters()]
    idx, tgt = _batch(rank)
    split = [(idx[:2], tgt[:2]), (idx[2:], tgt[2:])]
    norm = _train(model, [(idx, tgt)] if batches == "whole" else split, clip=clip, accumulate=batches == "no_sync")
    sd = {k: v.double().numpy() for k, v in model.state_dict().items()}
    return dict(names=names, sd=sd, norm=norm, live=len(fsdp_impl._LIVE), units=len(FSDP.fsdp_modules(model)))


@pytest.mark.parametrize("strategy,policy", [("FULL_SHARD", "blocks"), ("FULL_SHARD", "none"),
                                             ("SHARD_GRAD_OP", "transformer"), ("NO_SHARD", "size")])
def test_training_matches_one_process(world, strategy, policy):
    want, _ = _reference()
    for got in world.run(_fsdp_train, strategy, policy):
        assert list(got["sd"]) == list(want)            # the original names, the tied weight under both
        for k in want:
            np.testing.assert_allclose(got["sd"][k], want[k], rtol=1e-10, atol=1e-12)
        assert got["live"] == 0                         # nothing gathered outlives its backward
    if policy == "blocks":
        assert got["units"] == 3 and got["names"] == [
            "_fsdp_wrapped_module._flat_param", "_fsdp_wrapped_module.blocks.0._fsdp_wrapped_module._flat_param",
            "_fsdp_wrapped_module.blocks.1._fsdp_wrapped_module._flat_param"]


def test_checkpoint_clip_and_no_sync(world):
    want, norm = _reference(clip=0.3, ckpt=True)
    for got in world.run(_fsdp_train, "FULL_SHARD", "blocks", True, 0.3):
        assert got["norm"] == pytest.approx(norm, rel=1e-6)      # (the norm in float32, as PyTorch's FSDP)
        for k in want:
            np.testing.assert_allclose(got["sd"][k], want[k], rtol=1e-6, atol=1e-8)
    # two half-batches: the first's backward under no_sync, the second's synced, against both in one backward
    summed = world.run(_fsdp_train, "FULL_SHARD", "blocks", False, None, None, "halves")
    for got, ref in zip(world.run(_fsdp_train, "FULL_SHARD", "blocks", False, None, None, "no_sync"), summed):
        for k in want:
            np.testing.assert_allclose(got["sd"][k], ref["sd"][k], rtol=1e-12, atol=1e-14)
        assert got["live"] == 0


def test_mixed_precision(world):
    mp = MixedPrecision(param_dtype=ttorch.float32, reduce_dtype=ttorch.float32)
    want, _ = _reference()
    for got in world.run(_fsdp_train, "FULL_SHARD", "blocks", False, None, mp):
        for k in want:                  # float32 compute, float64 shards: near the float64 training
            np.testing.assert_allclose(got["sd"][k], want[k], rtol=1e-4, atol=1e-5)


def _freed_after_forward(rank):
    model = FSDP(Net().double(), auto_wrap_policy=ModuleWrapPolicy({Block}))
    unit = model.blocks[0]
    out = model(_batch(rank)[0])
    during = (len(fsdp_impl._LIVE), unit._full is None, tuple(unit.module.fc.weight.shape),
              unit.module.fc.weight.untyped_storage().nbytes())
    out.sum().backward()
    return during + (len(fsdp_impl._LIVE), float(unit._flat.grad.abs().sum()) > 0)


def test_full_shard_frees_gathered_parameters(world):
    for live, freed, shape, nbytes, live_after, has_grad in world.run(_freed_after_forward):
        # between forward and backward nothing gathered is alive: the saved views went to the hooks; the
        # original parameters keep their shapes over one element of memory
        assert live == 0 and freed and shape == (5, 5) and nbytes == 8 and live_after == 0 and has_grad


def _state_dicts(rank):
    model = FSDP(Net().double(), auto_wrap_policy=ModuleWrapPolicy({Block}))
    full = model.state_dict()
    with FSDP.state_dict_type(model, StateDictType.FULL_STATE_DICT, FullStateDictConfig(rank0_only=True)):
        only0 = model.state_dict()
    with FSDP.state_dict_type(model, StateDictType.LOCAL_STATE_DICT):
        local = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        model.load_state_dict(model.state_dict())
    new = {k: v * 0 + 1 for k, v in full.items()}
    model.load_state_dict(new)
    after = {k: float(v.sum()) for k, v in model.state_dict().items()}
    with FSDP.summon_full_params(model), ttorch.no_grad():
        model.blocks[0].fc.bias.add_(1)             # writeback: the change lands in the shards
        inside = tuple(model.blocks[0].module.fc.bias.shape)
    bias = model.state_dict()["blocks.0.fc.bias"].numpy()
    try:
        FSDP.set_state_dict_type(model, StateDictType.SHARDED_STATE_DICT)
        error = None
    except NotImplementedError as e:
        error = str(e)
    return sorted(full), len(only0), local, after, inside, bias, error


def test_state_dicts(world):
    for rank, (names, n0, local, after, inside, bias, error) in enumerate(world.run(_state_dicts)):
        assert names == sorted(Net().state_dict())
        assert n0 == (len(names) if rank == 0 else 0)
        # local: each unit's shard: the root's 35 elements (the tied weight once) padded to 36, half on each rank
        assert local == {"_flat_param": (18,), "blocks.0._flat_param": (15,), "blocks.1._flat_param": (15,)}
        sizes = {k: v.numel() for k, v in Net().state_dict().items()}
        assert after == {k: float(n) for k, n in sizes.items()}
        assert inside == (5,) and bias.tolist() == [2.0] * 5
        assert "SHARDED_STATE_DICT needs DTensor" in error


def _split_tied(rank):
    try:    # the embedding and the output layer, each a unit, would both own the tied weight
        FSDP(Net().double(), auto_wrap_policy=lambda **kw: size_based_auto_wrap_policy(min_num_params=25, **kw))
    except ValueError as e:
        return str(e)


def test_parameter_shared_across_units(world):
    for msg in world.run(_split_tied):
        assert "parameter 'weight' of Linear is already sharded by another FSDP unit" in msg



def _cuda_train(rank, offload):
    from ttorch.distributed.fsdp import CPUOffload
    model = FSDP(Net().double(), auto_wrap_policy=ModuleWrapPolicy({Block}), device_id=0,
                 cpu_offload=CPUOffload(offload_params=offload))
    devices = sorted({p.device.type for p in model.parameters()})
    idx, tgt = _batch(rank)
    _train(model, [(idx.cuda(), tgt.cuda())], steps=1)
    return devices, {k: v.double().cpu().numpy() for k, v in model.state_dict().items()}


@pytest.mark.skipif(not ttorch.cuda.is_available(), reason="no cuda device")
@pytest.mark.parametrize("offload", [False, True])
def test_cuda_and_cpu_offload(world, offload):
    model = Net().double()
    opt = ttorch.optim.AdamW(model.parameters(), lr=0.05)
    (sum(_loss(model, *_batch(r)) for r in range(WORLD)) / WORLD).backward()
    opt.step()
    for devices, sd in world.run(_cuda_train, offload):
        assert devices == (["cpu"] if offload else ["cuda"])     # the shards (and the optimizer's step) live there
        for k, v in model.state_dict().items():     # (Adam's first step is lr * g / (|g| + eps): near-zero
            np.testing.assert_allclose(sd[k], v.numpy(), rtol=1e-5, atol=1e-7)  # gradients' rounding shows)
