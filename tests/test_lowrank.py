"""``svd_lowrank``/``pca_lowrank`` (randomized low-rank SVD and PCA) against NumPy's SVD on exactly low-rank
matrices, both devices, batches and gradients; the functions PyTorch removed in 1.9 raise its RuntimeError;
``ttorch.utils.dlpack``."""
import numpy as np
import pytest

import ttorch
from ttorch.autograd import gradcheck


def _low_rank(rng, *shape, rank):
    return rng.normal(size=shape[:-1] + (rank,)) @ rng.normal(size=shape[:-2] + (rank, shape[-1]))


@pytest.mark.parametrize("shape", [(20, 12), (9, 15), (2, 11, 7)])
def test_svd_lowrank(device, shape):
    a = _low_rank(np.random.default_rng(0), *shape, rank=3)
    ttorch.manual_seed(0)
    U, S, V = ttorch.svd_lowrank(ttorch.tensor(a, device=device), q=3)
    assert tuple(U.shape) == shape[:-1] + (3,) and tuple(V.shape) == shape[:-2] + (shape[-1], 3)
    np.testing.assert_allclose(S.cpu().numpy(), np.linalg.svd(a, compute_uv=False)[..., :3], rtol=1e-10)
    rec = U @ ttorch.diag_embed(S) @ V.mT
    np.testing.assert_allclose(rec.cpu().numpy(), a, atol=1e-10)
    np.testing.assert_allclose((U.mT @ U).cpu().numpy(), np.broadcast_to(np.eye(3), U.shape[:-2] + (3, 3)),
                               atol=1e-12)


def test_pca_lowrank_and_gradients():
    rng = np.random.default_rng(1)
    a = _low_rank(rng, 15, 8, rank=2) + 3.0
    U, S, V = ttorch.pca_lowrank(ttorch.tensor(a), q=2)
    c = a - a.mean(0)
    np.testing.assert_allclose((U @ ttorch.diag(S) @ V.T).numpy(), c, atol=1e-10)
    with pytest.raises(ValueError, match="must be non-negative integer and not greater than min"):
        ttorch.pca_lowrank(ttorch.tensor(a), q=9)

    def top(x):
        ttorch.manual_seed(0)           # (the same random start at every evaluation)
        return ttorch.svd_lowrank(x, q=2, niter=4)[1]
    x = ttorch.tensor(_low_rank(rng, 7, 5, rank=2) + 0.01 * rng.normal(size=(7, 5)), requires_grad=True)
    assert gradcheck(top, (x,), eps=1e-6, atol=1e-5, rtol=1e-4)


def test_removed_functions_and_dlpack():
    for name in ("eig", "lstsq", "matrix_rank", "solve", "symeig"):
        with pytest.raises(RuntimeError, match="This function was deprecated since version 1.9 and is now removed"):
            getattr(ttorch, name)(ttorch.eye(2))
    with pytest.raises(RuntimeError, match="torch.linalg.solve"):
        ttorch.eye(2).solve(ttorch.eye(2))
    import ttorch.utils.dlpack as dl
    x = ttorch.arange(4.0)
    assert dl.from_dlpack(dl.to_dlpack(x)).tolist() == [0.0, 1.0, 2.0, 3.0] and ttorch.to_dlpack is dl.to_dlpack
