"""``nn.SyncBatchNorm`` without an initialized process group (the local batch's statistics, as PyTorch's;
across processes: ``test_distributed_nn.py``) and ``convert_sync_batchnorm``: the same outputs, running statistics, parameters (the
same objects) and state-dict keys as the batch norms it replaces."""
import copy

import numpy as np
import pytest

import ttorch
import ttorch.nn as nn


def npy(t):
    return t.detach().cpu().numpy()


def test_convert_and_match_batchnorm(device):
    ttorch.manual_seed(0)
    ref = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(),
                        nn.Sequential(nn.BatchNorm2d(4, affine=False, momentum=0.2))).to(device)
    conv = nn.SyncBatchNorm.convert_sync_batchnorm(copy.deepcopy(ref))
    assert type(conv[1]) is nn.SyncBatchNorm and type(conv[3][0]) is nn.SyncBatchNorm
    assert list(conv.state_dict()) == list(ref.state_dict())
    keep = nn.Sequential(nn.BatchNorm1d(3))
    p = keep[0].weight
    assert nn.SyncBatchNorm.convert_sync_batchnorm(keep)[0].weight is p        # the same parameter object
    x = ttorch.randn(2, 3, 6, 6, device=device)
    for _ in range(2):
        np.testing.assert_allclose(npy(conv(x)), npy(ref(x)), rtol=1e-5, atol=1e-6)
    for k, v in ref.state_dict().items():
        np.testing.assert_allclose(npy(conv.state_dict()[k]), npy(v), rtol=1e-6)
    conv.eval()
    ref.eval()
    np.testing.assert_allclose(npy(conv(x)), npy(ref(x)), rtol=1e-5, atol=1e-6)
    bn = nn.SyncBatchNorm(4).to(device)
    assert bn(ttorch.randn(5, 4, device=device)).shape == (5, 4)          # any (N, C, *)
    with pytest.raises(ValueError, match="expected at least 2D input \\(got 1D input\\)"):
        bn(ttorch.randn(4, device=device))


def test_docstring_examples():
    import doctest
    from ttorch.nn.modules import batchnorm
    res = doctest.testmod(batchnorm, extraglobs={"ttorch": ttorch, "BatchNorm1d": nn.BatchNorm1d,
                                                 "SyncBatchNorm": nn.SyncBatchNorm})
    assert res.failed == 0 and res.attempted > 0
