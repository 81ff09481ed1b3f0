"""Post-local SGD pieces (``model_averaging``, ``post_localSGD_hook``, ``PostLocalSGDOptimizer``) on a pool of
2 processes, and ``_apply_optimizer_in_backward`` (no process group needed). References are each rank's
values averaged here."""
import warnings

import numpy as np
import pytest

import ttorch
from ttorch import nn
from ttorch.distributed.algorithms.ddp_comm_hooks import post_localSGD_hook as pl
from ttorch.distributed.algorithms.model_averaging import averagers, utils
from ttorch.distributed.optim import (PostLocalSGDOptimizer, _apply_optimizer_in_backward,
                                      _get_in_backward_optimizers)
from ttorch.nn.parallel import DistributedDataParallel as DDP

from _distributed_pool import world_fixture

world = world_fixture(2, 120, 30)


def _lin(rank):
    lin = nn.Linear(2, 1)
    with ttorch.no_grad():
        lin.weight.copy_(ttorch.tensor([[1.0 + rank, 2.0 - rank]]))
        lin.bias.fill_(float(rank))
    return lin


def _averaging(rank):
    lin = _lin(rank)
    lin(ttorch.ones(1, 2)).sum().backward()
    av = averagers.PeriodicModelAverager(period=2, warmup_steps=1)
    out = []
    for _ in range(4):                       # steps 0..3: averaged at 1 and 3 only
        with ttorch.no_grad():
            lin.weight.add_(float(rank))     # the ranks drift apart between averages
        av.average_parameters(lin.parameters())
        out.append(lin.weight.detach().numpy().tolist())
    opt = PostLocalSGDOptimizer(ttorch.optim.SGD(lin.parameters(), lr=0.0), averagers.PeriodicModelAverager(2))
    opt.step()
    sd = opt.state_dict()
    return out, sd["step"], lin.bias.item()


def test_periodic_model_averager(world):
    res = world.run(_averaging)
    w = {0: np.array([1.0, 2.0]), 1: np.array([2.0, 1.0])}
    expect = {0: [], 1: []}
    for step in range(4):
        w[1] = w[1] + 1.0
        if step >= 1 and (step - 1) % 2 == 0:
            w[0] = w[1] = (w[0] + w[1]) / 2
        for r in (0, 1):
            expect[r].append(w[r].copy())
    for r in (0, 1):
        np.testing.assert_allclose(np.array(res[r][0])[:, 0], np.array(expect[r]), atol=1e-6)
        assert res[r][1] == 1 and res[r][2] == 0.5     # the optimizer's averager ran (step 0) and counted


def _post_local(rank):
    ddp = DDP(_lin(0))
    state = pl.PostLocalSGDState(process_group=None, subgroup=None, start_localSGD_iter=1,
                                 post_local_gradient_allreduce=False)
    ddp.register_comm_hook(state, pl.post_localSGD_hook)
    grads = []
    for i in range(2):
        ddp.zero_grad()
        ddp(ttorch.full((1, 2), float(rank + 1))).sum().backward()
        grads.append(ddp.module.weight.grad.numpy().tolist())
    return grads, state.iter


def test_post_localSGD_hook(world):
    res = world.run(_post_local)
    for r in (0, 1):
        grads, it = res[r]
        assert grads[0] == [[1.5, 1.5]]                 # before start_localSGD_iter: averaged over the world
        assert grads[1] == [[float(r + 1)] * 2]         # after: local only (post_local_gradient_allreduce=False)
        assert it == 1


def test_model_averaging_helpers_and_errors():
    a, b = nn.Parameter(ttorch.ones(1)), nn.Parameter(ttorch.ones(1))
    a.grad = ttorch.ones(1)
    assert utils.get_params_to_average([a, b]) == [a]
    assert utils.get_params_to_average([{"params": [b, a]}]) == [a]
    with pytest.raises(NotImplementedError, match="not supported"):
        utils.get_params_to_average([ttorch.ones(1)])
    with pytest.raises(ValueError, match="positive"):
        averagers.PeriodicModelAverager(0, process_group=object())
    with pytest.raises(ValueError, match="warmup_steps"):
        averagers.PeriodicModelAverager(2, -1, process_group=object())
    with pytest.warns(UserWarning, match="When period is 1"):
        averagers.PeriodicModelAverager(1, process_group=object())


def test_apply_optimizer_in_backward():
    lin = nn.Linear(2, 1)
    with ttorch.no_grad():
        lin.weight.fill_(1.0)
        lin.bias.fill_(0.0)
    _apply_optimizer_in_backward(ttorch.optim.SGD, [lin.weight], {"lr": 0.5})
    _apply_optimizer_in_backward(ttorch.optim.SGD, [lin.bias], {"lr": 0.25, "momentum": 0.9})
    lin(ttorch.tensor([[1.0, 3.0]])).sum().backward()
    assert lin.weight.tolist() == [[0.5, -0.5]] and lin.bias.tolist() == [-0.25]
    assert lin.weight.grad is None and lin.bias.grad is None      # stepped and dropped inside backward
    opts = _get_in_backward_optimizers(lin)
    assert len(opts) == 2 and opts[1].param_groups[0]["momentum"] == 0.9
    _apply_optimizer_in_backward(ttorch.optim.SGD, [lin.weight], {"lr": 1.0}, register_hook=False)
    assert len(lin.weight._in_backward_optimizers) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lin(ttorch.tensor([[1.0, 1.0]])).sum().backward()        # both weight optimizers step: 0.5 + 1.0
    np.testing.assert_allclose(lin.weight.detach().numpy(), [[-1.0, -2.0]])
