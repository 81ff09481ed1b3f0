"""SyncBatchNorm across processes, DistributedSampler's defaults and the autograd-aware collectives of
``ttorch.distributed.nn.functional``, on a pool of 2 processes started once.

Each rank holds its share of a batch; the results are checked against NumPy on the whole batch in one
process (float64), so "synchronized" means "equal to the single-process computation".
"""

import numpy as np
import pytest

import ttorch
import ttorch.distributed as dist
import ttorch.distributed.nn.functional as dnn
from ttorch import nn

from _distributed_pool import world_fixture

WORLD = 2
TIMEOUT = 120
C = 3
SIZES = (3, 2)      # rank 0 holds 3 samples, rank 1 holds 2: unequal counts on purpose


world = world_fixture(WORLD, TIMEOUT, 30)


# ------------------------------------------------------------------------------------------ SyncBatchNorm
def _batch(shape=(sum(SIZES), C, 4)):
    rng = np.random.default_rng(7)
    x = rng.standard_normal(shape) * 3 + rng.standard_normal((1, shape[1]) + (1,) * (len(shape) - 2))
    return x, rng.standard_normal(shape), 1 + rng.random(shape[1]), rng.standard_normal(shape[1])


def _share(a, rank, sizes=SIZES):
    start = sum(sizes[:rank])
    return a[start:start + sizes[rank]]


def _bn_reference(x, g, w, b, eps=1e-5, momentum=0.1):
    """BatchNorm on the whole batch in float64: output, input/weight/bias grads, running stats."""
    dims = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    n = x.size // x.shape[1]
    mean, var = x.mean(dims), x.var(dims)
    invstd = 1 / np.sqrt(var + eps)
    xhat = (x - mean.reshape(shape)) * invstd.reshape(shape)
    y = xhat * w.reshape(shape) + b.reshape(shape)
    gb, gw = g.sum(dims), (g * xhat).sum(dims)
    gx = (w * invstd).reshape(shape) / n * (n * g - gb.reshape(shape) - xhat * gw.reshape(shape))
    return dict(y=y, gx=gx, gw=gw, gb=gb, rm=momentum * mean, rv=(1 - momentum) + momentum * var * n / (n - 1))


def _sync_bn(rank, device, dtype, sizes):
    x, g, w, b = _batch((sum(sizes), C, 4))
    m = nn.SyncBatchNorm(C).to(device, getattr(ttorch, dtype))
    with ttorch.no_grad():
        m.weight.copy_(ttorch.tensor(w))
        m.bias.copy_(ttorch.tensor(b))
    xs = ttorch.tensor(_share(x, rank, sizes), dtype=getattr(ttorch, dtype), device=device, requires_grad=True)
    y = m(xs)
    (y.double() * ttorch.tensor(_share(g, rank, sizes), device=device)).sum().backward()

    def host(t):
        return t.detach().double().cpu().numpy()
    out = dict(y=host(y), gx=host(xs.grad), gw=host(m.weight.grad), gb=host(m.bias.grad), rm=host(m.running_mean),
               rv=host(m.running_var), nbt=int(m.num_batches_tracked), ydtype=str(y.dtype))
    m.eval()    # eval mode: the (synchronized) running statistics, no collective
    # (ttorch's batch_norm does not take an empty batch in eval mode yet: PyTorch returns it empty)
    out["eval"] = host(m(xs.detach())) if sizes[rank] else None
    return out


def _check_sync_bn(got, sizes, dtype, rtol, atol):
    x, g, w, b = _batch((sum(sizes), C, 4))
    ref = _bn_reference(x, g, w, b)
    shape = (1, -1, 1)
    for r in range(WORLD):
        o = got[r]
        assert o["ydtype"] == f"ttorch.{dtype}"
        np.testing.assert_allclose(o["y"], _share(ref["y"], r, sizes), rtol=rtol, atol=atol)
        np.testing.assert_allclose(o["gx"], _share(ref["gx"], r, sizes), rtol=rtol, atol=atol)
        # the running statistics are the whole batch's (unbiased with the global count), identical on every rank
        np.testing.assert_allclose(o["rm"], ref["rm"], rtol=rtol, atol=atol)
        np.testing.assert_allclose(o["rv"], ref["rv"], rtol=rtol, atol=atol)
        np.testing.assert_array_equal(o["rm"], got[0]["rm"])
        np.testing.assert_array_equal(o["rv"], got[0]["rv"])
        assert o["nbt"] == 1
        xr = _share(x, r, sizes)
        ev = (xr - ref["rm"].reshape(shape)) / np.sqrt(ref["rv"].reshape(shape) + 1e-5) * w.reshape(shape) + \
            b.reshape(shape)
        if sizes[r]:
            np.testing.assert_allclose(o["eval"], ev, rtol=rtol, atol=atol)
    # weight and bias gradients are each rank's own: their sum is the whole batch's
    np.testing.assert_allclose(sum(o["gw"] for o in got), ref["gw"], rtol=rtol, atol=atol)
    np.testing.assert_allclose(sum(o["gb"] for o in got), ref["gb"], rtol=rtol, atol=atol)
    for r in range(WORLD):
        np.testing.assert_allclose(got[r]["gb"], _share(g, r, sizes).sum((0, 2)), rtol=rtol, atol=atol)


def test_sync_batchnorm_matches_full_batch(world):
    _check_sync_bn(world.run(_sync_bn, "cpu", "float64", SIZES), SIZES, "float64", 1e-10, 1e-10)


def test_sync_batchnorm_float32_and_half(world):
    _check_sync_bn(world.run(_sync_bn, "cpu", "float32", SIZES), SIZES, "float32", 2e-5, 2e-5)
    # half inputs: statistics and gradients in float32, output in float16 (PyTorch's numerics)
    _check_sync_bn(world.run(_sync_bn, "cpu", "float16", SIZES), SIZES, "float16", 1e-2, 1e-2)


def test_sync_batchnorm_empty_rank(world):
    # a rank with no samples still joins the collectives; the statistics are the other rank's alone
    _check_sync_bn(world.run(_sync_bn, "cpu", "float64", (4, 0)), (4, 0), "float64", 1e-10, 1e-10)


@pytest.mark.skipif(not ttorch.cuda.is_available(), reason="no cuda device")
def test_sync_batchnorm_cuda(world):
    _check_sync_bn(world.run(_sync_bn, "cuda", "float32", SIZES), SIZES, "float32", 2e-5, 2e-5)


def _sync_bn_ddp(rank):
    x, g, w, b = _batch((sum(SIZES), C))
    net = nn.SyncBatchNorm.convert_sync_batchnorm(nn.Sequential(nn.BatchNorm1d(C, momentum=None)))
    net = net.double()
    with ttorch.no_grad():
        net[0].weight.copy_(ttorch.tensor(w))
        net[0].bias.copy_(ttorch.tensor(b))
    model = nn.parallel.DistributedDataParallel(net)
    (model(ttorch.tensor(_share(x, rank))) * ttorch.tensor(_share(g, rank))).sum().backward()
    return dict(gw=net[0].weight.grad.numpy(), gb=net[0].bias.grad.numpy(), rm=net[0].running_mean.numpy(),
                rv=net[0].running_var.numpy(), kind=type(net[0]).__name__)


def test_sync_batchnorm_under_ddp(world):
    x, g, w, b = _batch((sum(SIZES), C))
    ref = _bn_reference(x, g, w, b, momentum=1.0)    # momentum=None: the first batch's statistics
    for o in world.run(_sync_bn_ddp):
        assert o["kind"] == "SyncBatchNorm"
        # DDP averages the ranks' gradients: the whole batch's over the world size
        np.testing.assert_allclose(o["gw"], ref["gw"] / WORLD, rtol=1e-10)
        np.testing.assert_allclose(o["gb"], ref["gb"] / WORLD, rtol=1e-10)
        np.testing.assert_allclose(o["rm"], ref["rm"], rtol=1e-10)
        np.testing.assert_allclose(o["rv"], ref["rv"], rtol=1e-10)


def _sync_bn_groups(rank):
    x, g, w, b = _batch()
    xs = ttorch.tensor(_share(x, rank))
    both = dist.new_group([0, 1])
    solos = [dist.new_group([0]), dist.new_group([1])]     # every rank creates every group, in order
    synced = nn.SyncBatchNorm(C, affine=False, track_running_stats=False, process_group=both).double()(xs)
    alone = nn.SyncBatchNorm(C, affine=False, process_group=solos[rank]).double()(xs)
    return synced.numpy(), alone.numpy()


def test_sync_batchnorm_process_group(world):
    # an explicit group of both ranks synchronizes (no running statistics needed); a group of one is local
    x, g, w, b = _batch()
    ones, zeros = np.ones(C), np.zeros(C)
    full = _bn_reference(x, g, ones, zeros)["y"]
    for r, (synced, alone) in enumerate(world.run(_sync_bn_groups)):
        np.testing.assert_allclose(synced, _share(full, r), rtol=1e-10, atol=1e-12)
        xr = _share(x, r)
        np.testing.assert_allclose(alone, _bn_reference(xr, xr, ones, zeros)["y"], rtol=1e-10, atol=1e-12)


def test_sync_batchnorm_local_without_group():
    # no process group: the local batch's statistics (PyTorch's fallback), and PyTorch's errors
    x, g, w, b = _batch()
    m = nn.SyncBatchNorm(C).double()
    y = m(ttorch.tensor(x))
    np.testing.assert_allclose(y.detach().numpy(), _bn_reference(x, g, np.ones(C), np.zeros(C))["y"], rtol=1e-10)
    with pytest.raises(ValueError, match="number of input channels should be non-zero"):
        nn.SyncBatchNorm(0)(ttorch.randn(2, 0))
    with pytest.raises(ValueError, match="expected at least 2D input"):
        nn.SyncBatchNorm(3)(ttorch.randn(3))


# ------------------------------------------------------------------------------------------ sampler
def _sampler(rank):
    s = ttorch.utils.data.DistributedSampler(range(7), seed=3)
    return s.num_replicas, s.rank, list(s)


def test_distributed_sampler_defaults(world):
    got = world.run(_sampler)
    for r in range(WORLD):
        ref = ttorch.utils.data.DistributedSampler(range(7), num_replicas=WORLD, rank=r, seed=3)
        assert got[r] == (WORLD, r, list(ref))
    keys = got[0][2] + got[1][2]
    assert len(keys) == 8 and sorted(set(keys)) == list(range(7))     # one key repeated as padding


def test_distributed_sampler_without_group():
    for kwargs in ({}, {"num_replicas": 2}, {"rank": 0}):
        with pytest.raises(ValueError, match="Default process group has not been initialized"):
            ttorch.utils.data.DistributedSampler(range(5), **kwargs)
    with pytest.raises(ValueError, match=r"Invalid rank 2, rank should be in the interval \[0, 1\]"):
        ttorch.utils.data.DistributedSampler(range(5), num_replicas=2, rank=2)


# ------------------------------------------------------------------------------------------ autograd collectives
def _v(rank, tag, shape=(2, 3)):
    """Rank ``rank``'s values for ``tag`` (inputs and upstream weights), the same in the parent."""
    seed = [rank, sum(map(ord, tag))]
    return np.random.default_rng(seed).standard_normal(shape)


def _t(a):
    return ttorch.tensor(a, requires_grad=True)


def _collectives(rank):
    out = {}
    x = _t(_v(rank, "ag"))
    ys = dnn.all_gather(x)
    sum((y * ttorch.tensor(_v(rank, f"ag_w{j}"))).sum() for j, y in enumerate(ys)).backward()
    out["all_gather"] = ([y.detach().numpy() for y in ys], x.grad.numpy(), type(ys[0].grad_fn).__name__)

    x = _t(_v(rank, "ar"))
    y = dnn.all_reduce(x)
    (y * ttorch.tensor(_v(rank, "ar_w"))).sum().backward()
    out["all_reduce"] = (y.detach().numpy(), x.grad.numpy())

    xs = [_t(_v(rank, f"rs{j}")) for j in range(WORLD)]
    y = dnn.reduce_scatter(ttorch.empty(2, 3, dtype=ttorch.float64), xs)
    (y * ttorch.tensor(_v(rank, "rs_w"))).sum().backward()
    out["reduce_scatter"] = (y.detach().numpy(), [t.grad.numpy() for t in xs])

    xs = [_t(_v(rank, f"a2a{j}", (j + 1, 2))) for j in range(WORLD)]   # rank j gets j + 1 rows from each
    outs = [ttorch.empty(rank + 1, 2, dtype=ttorch.float64) for _ in range(WORLD)]
    ys = dnn.all_to_all(outs, xs)
    sum((y * ttorch.tensor(_v(rank, f"a2a_w{j}", (rank + 1, 2)))).sum() for j, y in enumerate(ys)).backward()
    out["all_to_all"] = ([y.detach().numpy() for y in ys], [t.grad.numpy() for t in xs])

    # uneven splits: rank 0 sends 1 row to itself and 2 to rank 1; rank 1 sends 3 to rank 0 and 1 to itself
    ins, outs = [(1, 2), (3, 1)][rank], [(1, 3), (2, 1)][rank]
    x = _t(_v(rank, "a2as", (sum(ins), 2)))
    y = dnn.all_to_all_single(ttorch.empty(sum(outs), 2, dtype=ttorch.float64), x, list(outs), list(ins))
    (y * ttorch.tensor(_v(rank, "a2as_w", (sum(outs), 2)))).sum().backward()
    out["all_to_all_single"] = (y.detach().numpy(), x.grad.numpy())

    x = _t(_v(rank, "bc"))
    y = dnn.broadcast(x, src=1)
    (y * ttorch.tensor(_v(rank, "bc_w"))).sum().backward()
    out["broadcast"] = (y.detach().numpy(), x.grad.numpy())

    x = _t(_v(rank, "rd"))
    y = dnn.reduce(x, dst=0)
    (y * ttorch.tensor(_v(rank, "rd_w"))).sum().backward()
    out["reduce"] = (y.detach().numpy(), x.grad.numpy())

    x = _t(_v(rank, "ga"))
    ys = dnn.gather(x, dst=0)
    sum((y * ttorch.tensor(_v(rank, f"ga_w{j}"))).sum() for j, y in enumerate(ys)).backward()
    out["gather"] = ([y.detach().numpy() for y in ys], x.grad.numpy())

    xs = [_t(_v(rank, f"sc{j}")) for j in range(WORLD)]
    y = dnn.scatter(xs, src=0)
    (y * ttorch.tensor(_v(rank, "sc_w"))).sum().backward()
    out["scatter"] = (y.detach().numpy(), [t.grad.numpy() for t in xs])
    return out


def test_autograd_collectives(world):
    got = world.run(_collectives)
    R = range(WORLD)
    for r in R:
        ys, gx, fn = got[r]["all_gather"]
        assert fn == "_AllGatherBackward"
        for j in R:
            np.testing.assert_array_equal(ys[j], _v(j, "ag"))
        # every rank's j-th output is rank j's input: its gradient sums their weights
        np.testing.assert_allclose(gx, sum(_v(s, f"ag_w{r}") for s in R), rtol=1e-12)

        y, gx = got[r]["all_reduce"]
        np.testing.assert_allclose(y, sum(_v(s, "ar") for s in R), rtol=1e-12)
        np.testing.assert_allclose(gx, sum(_v(s, "ar_w") for s in R), rtol=1e-12)

        y, gxs = got[r]["reduce_scatter"]
        np.testing.assert_allclose(y, sum(_v(s, f"rs{r}") for s in R), rtol=1e-12)
        for j in R:     # input j went to rank j's output
            np.testing.assert_allclose(gxs[j], _v(j, "rs_w"), rtol=1e-12)

        ys, gxs = got[r]["all_to_all"]
        for j in R:
            np.testing.assert_array_equal(ys[j], _v(j, f"a2a{r}", (r + 1, 2)))
            np.testing.assert_array_equal(gxs[j], _v(j, f"a2a_w{r}", (j + 1, 2)))

        y, gx = got[r]["broadcast"]
        np.testing.assert_array_equal(y, _v(1, "bc"))
        np.testing.assert_allclose(gx, sum(_v(s, "bc_w") for s in R) if r == 1 else 0, rtol=1e-12)

        y, gx = got[r]["reduce"]
        np.testing.assert_allclose(y, sum(_v(s, "rd") for s in R) if r == 0 else _v(r, "rd"), rtol=1e-12)
        np.testing.assert_array_equal(gx, _v(0, "rd_w"))     # only rank 0's output holds the reduction

        ys, gx = got[r]["gather"]
        for j in R:
            np.testing.assert_array_equal(ys[j], _v(j, "ga") if r == 0 else 0)
        np.testing.assert_array_equal(gx, _v(0, f"ga_w{r}"))

        y, gxs = got[r]["scatter"]
        np.testing.assert_array_equal(y, _v(0, f"sc{r}"))
        for j in R:
            np.testing.assert_array_equal(gxs[j], _v(j, "sc_w") if r == 0 else 0)
    # uneven all_to_all_single: rows travel there, gradients travel back
    x0, x1 = _v(0, "a2as", (3, 2)), _v(1, "a2as", (4, 2))
    np.testing.assert_array_equal(got[0]["all_to_all_single"][0], np.concatenate([x0[:1], x1[:3]]))
    np.testing.assert_array_equal(got[1]["all_to_all_single"][0], np.concatenate([x0[1:], x1[3:]]))
    w0, w1 = _v(0, "a2as_w", (4, 2)), _v(1, "a2as_w", (3, 2))
    np.testing.assert_array_equal(got[0]["all_to_all_single"][1], np.concatenate([w0[:1], w1[:2]]))
    np.testing.assert_array_equal(got[1]["all_to_all_single"][1], np.concatenate([w0[1:], w1[2:]]))


def _contrastive(rank):
    """A SimCLR-style loss on gathered embeddings, its gradient reaching each rank's own parameters, and
    a second derivative through the gathered tensors (create_graph)."""
    lin = nn.Linear(3, 2).double()
    with ttorch.no_grad():
        lin.weight.copy_(ttorch.tensor(_v(9, "lin_w", (2, 3))))
        lin.bias.zero_()
    z = lin(ttorch.tensor(_v(rank, "emb", (2, 3))))
    z_all = ttorch.cat(dnn.all_gather(z))                      # (W * 2, 2)
    loss = (z @ z_all.t()).logsumexp(dim=1).sum()
    loss.backward()
    x = _t(_v(rank, "hess", (3,)))
    s = ttorch.cat(dnn.all_gather(x))
    (g,) = ttorch.autograd.grad((s ** 3).sum(), x, create_graph=True)
    (h,) = ttorch.autograd.grad(g.sum(), x)
    return lin.weight.grad.numpy(), g.detach().numpy(), h.numpy()


def test_all_gather_contrastive_gradients(world):
    got = world.run(_contrastive)
    w = _v(9, "lin_w", (2, 3))
    xs = [_v(r, "emb", (2, 3)) for r in range(WORLD)]
    z_all = np.concatenate([x @ w.T for x in xs])
    eps = 1e-6

    def total_loss(w):     # the sum of every rank's loss, whose gradient the ranks' grads sum to
        z_all = np.concatenate([x @ w.T for x in xs])
        return sum(np.log(np.exp(x @ w.T @ z_all.T).sum(1)).sum() for x in xs)

    ref = np.zeros_like(w)
    for i in np.ndindex(w.shape):
        d = np.zeros_like(w)
        d[i] = eps
        ref[i] = (total_loss(w + d) - total_loss(w - d)) / (2 * eps)
    assert z_all.shape == (4, 2)
    np.testing.assert_allclose(sum(o[0] for o in got), ref, rtol=1e-6, atol=1e-8)
    for r in range(WORLD):
        # every rank's loss holds every x once: the gradient of their sum is W * 3x^2, its derivative W * 6x
        x = _v(r, "hess", (3,))
        np.testing.assert_allclose(got[r][1], WORLD * 3 * x ** 2, rtol=1e-12)
        np.testing.assert_allclose(got[r][2], WORLD * 6 * x, rtol=1e-12)


def _forward_ad(rank):
    import ttorch.autograd.forward_ad as fwAD
    errors = []
    with fwAD.dual_level():
        x = fwAD.make_dual(ttorch.tensor(_v(rank, "fw", (4, 3))), ttorch.ones(4, 3, dtype=ttorch.float64))
        for fn in (dnn.all_reduce, lambda t: dnn.all_gather(t)[0], nn.SyncBatchNorm(3).double()):
            try:
                fn(x)
            except NotImplementedError as e:
                errors.append(str(e))
    return errors


def test_forward_ad_refused(world):
    # the collectives carry no tangents: forward-mode AD raises (PyTorch's Functions have no jvp either)
    for errors in world.run(_forward_ad):
        assert len(errors) == 3 and all("implement the jvp function" in e for e in errors)
