"""fully_shard on a 2-D mesh (HSDP) with 4 processes: 2 replicas of 2 shards each. Trained 3 Adam steps on each
rank's quarter of the batch, it equals one process trained on the whole batch; parameters are DTensors
(Replicate(), Shard(0)) whose local chunks follow the shard coordinate."""
import numpy as np

import ttorch
from ttorch.distributed.device_mesh import init_device_mesh
from ttorch.distributed.fsdp import fully_shard
from ttorch.distributed.tensor import Replicate, Shard

from _distributed_pool import world_fixture
from test_fully_shard import Net, _batch, _loss, _reference

WORLD = 4
world = world_fixture(WORLD, 120, 30)


def _train(rank):
    mesh = init_device_mesh("cpu", (2, 2), mesh_dim_names=("replicate", "shard"))
    model = Net().double()
    for b in model.blocks:
        fully_shard(b, mesh=mesh)
    fully_shard(model, mesh=mesh)
    opt = ttorch.optim.Adam(model.parameters(), lr=0.05)
    x, y = _batch(rank)
    for _ in range(3):
        opt.zero_grad()
        _loss(model, x, y).backward()
        opt.step()
    sd = model.state_dict()
    w = sd["blocks.0.fc1.weight"]
    return dict(sd={k: v.full_tensor().numpy() for k, v in sd.items()}, placements=w.placements,
                local=tuple(w.to_local().shape), coord=mesh.get_coordinate())


def test_hsdp_training_matches_one_process(world):
    want = _reference(WORLD)
    for got in world.run(_train):
        for k in want:
            np.testing.assert_allclose(got["sd"][k], want[k], rtol=1e-10, atol=1e-12)
        assert got["placements"] == (Replicate(), Shard(0))
        # 7 rows split (4, 3) along the shard coordinate, the same on both replicas
        assert got["local"] == ((4, 3)[got["coord"][1]], 5)
