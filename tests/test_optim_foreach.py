"""The many-tensor ("foreach") Adam/AdamW update on cuda: the same bits as one launch per
parameter, one launch per (dtype, step count) whatever the number of parameters, and the
fallbacks (non-contiguous parameters, a gradient of another dtype, foreach=False)."""
import numpy as np
import pytest

import ttorch
from ttorch.ops import _launch

pytestmark = pytest.mark.skipif(not ttorch.cuda.is_available(), reason="no cuda")

SHAPES = [(5, 3), (7,), (1100,), (), (2, 2, 3)]


def _same(many, single):
    """Bitwise under the interpreter (the same body, the same NumPy arithmetic); on a GPU the two
    kernels are compiled separately, so allow the last bit."""
    for a, b in zip(many, single):
        if _launch.SIMULATED:
            np.testing.assert_array_equal(a, b)
        else:
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@pytest.fixture
def kernels(monkeypatch):
    seen, real = [], _launch.launch
    monkeypatch.setattr(_launch, "launch", lambda k, g, *a, **m: (seen.append(k.fn.__name__), real(k, g, *a, **m))[1])
    return seen


def _train(opt_cls, foreach, steps=3, skip=None, dtypes=None, transposed=False, **kw):
    ttorch.manual_seed(0)
    ps = []
    for i, s in enumerate(SHAPES):
        t = ttorch.randn(*s, device="cuda", dtype=(dtypes or {}).get(i, ttorch.float32))
        if transposed and i == 0:
            t = ttorch.randn(s[1], s[0], device="cuda").t()      # a non-contiguous parameter
        ps.append(ttorch.nn.Parameter(t))
    opt = opt_cls(ps, lr=0.05, foreach=foreach, **kw)
    for it in range(steps):
        for i, p in enumerate(ps):
            p.grad = None if skip == (it, i) else ttorch.randn(*p.shape, device="cuda", dtype=p.dtype) * (i + 1)
        opt.step()
    return [p.detach().cpu().numpy() for p in ps], opt


@pytest.mark.parametrize("opt_cls,kw", [(ttorch.optim.Adam, {}), (ttorch.optim.AdamW, {}),
                                         (ttorch.optim.Adam, {"weight_decay": 0.1, "amsgrad": True}),
                                         (ttorch.optim.AdamW, {"maximize": True, "amsgrad": True})])
def test_same_bits_as_one_launch_per_parameter(opt_cls, kw, kernels):
    many, opt = _train(opt_cls, None, **kw)
    assert kernels.count("_adam_many_kernel") == 3 and "_adam_kernel" not in kernels
    kernels.clear()
    single, _ = _train(opt_cls, False, **kw)
    assert kernels.count("_adam_kernel") == 3 * len(SHAPES) and "_adam_many_kernel" not in kernels
    _same(many, single)
    assert set(opt.state_dict()["state"][0]) >= {"step", "exp_avg", "exp_avg_sq"}


def test_batches_by_dtype_and_step_and_falls_back(kernels):
    kw = dict(dtypes={1: ttorch.float64}, skip=(0, 2), transposed=True)    # param 2 misses step 0
    many, _ = _train(ttorch.optim.AdamW, True, **kw)
    # step 0: float32 (3 params) and float64 (1); steps 1-2: float32 at step 2 and 1 (param 2), float64
    assert kernels.count("_adam_many_kernel") == 2 + 3 + 3
    assert kernels.count("_adam_kernel") == 3                              # the transposed parameter
    single, _ = _train(ttorch.optim.AdamW, False, **kw)
    _same(many, single)


def test_address_and_size_tables_upload_only_when_they_change(monkeypatch):
    # the many-tensor launch's int64 tables: per shape, the last _TABLES_KEPT sets of values, each in
    # a tensor of its own (small gradients cycle through a few blocks: an MLP's last bias takes three
    # in turn); a new set is written into the least recently used tensor, never into a new one
    from ttorch.ops import _many as U, movement
    monkeypatch.setattr(U, "_TABLES", {})
    uploads = []
    real = movement._upload
    monkeypatch.setattr(movement, "_upload", lambda a, d, out=None: uploads.append((a.shape, out)) or real(a, d, out))
    dev = ttorch.device("cuda")
    sets = [((1, 2, 3), (4, 5, 6 + i)) for i in range(U._TABLES_KEPT + 1)]
    t = U._table(sets[0], dev)
    assert U._table(((1, 2, 3), (4, 5, 6)), dev) is t and uploads == [((2, 3), None)]
    s = U._table((7, 8), dev)                              # another shape: a table of its own
    assert s is not t and s.cpu().numpy().tolist() == [7, 8]
    kept = [t] + [U._table(v, dev) for v in sets[1:-1]]
    assert len({id(k) for k in kept}) == U._TABLES_KEPT and len(uploads) == U._TABLES_KEPT + 1
    for _ in range(2):                                     # a cycle of kept sets: no upload
        for v, k in zip(sets, kept):
            assert U._table(v, dev) is k
    assert len(uploads) == U._TABLES_KEPT + 1
    assert U._table(sets[0], dev) is t                     # (the least recently used is now sets[1])
    new = U._table(sets[-1], dev)                          # one set too many: rewritten in place
    assert new is kept[1] and uploads[-1] == ((2, 3), new)
    assert new.cpu().numpy().tolist() == [list(r) for r in sets[-1]]
    assert U._table(sets[0], dev) is t and t.cpu().numpy().tolist() == [[1, 2, 3], [4, 5, 6]]
    assert len(uploads) == U._TABLES_KEPT + 2


def test_the_kernel_is_told_when_every_address_is_aligned(monkeypatch):
    # _launch_many: ALIGNED (16-byte accesses in whole blocks) only when every parameter, gradient and
    # state address is a multiple of 16; a parameter viewed one element into a buffer turns it off
    from ttorch.optim import _update
    flags, real = [], _launch.launch
    monkeypatch.setattr(_launch, "launch", lambda k, g, *a, **m: (flags.append(m.get("ALIGNED")),
                                                                   real(k, g, *a, **m))[1])

    def run(offset, foreach):
        ttorch.manual_seed(1)
        whole = ttorch.nn.Parameter(ttorch.randn(1100, device="cuda"))
        buf = ttorch.randn(1100 + offset, device="cuda")
        shifted = ttorch.nn.Parameter(buf[offset:])
        opt = ttorch.optim.AdamW([whole, shifted], lr=0.05, foreach=foreach)
        for _ in range(2):
            for i, p in enumerate((whole, shifted)):
                p.grad = ttorch.randn(1100, device="cuda") * (i + 1)
            opt.step()
        return [p.detach().cpu().numpy() for p in (whole, shifted)], shifted.data_ptr() % 16 != 0
    for offset in (0, 1):
        flags.clear()
        many, odd = run(offset, None)
        assert flags == [not odd] * 2 and odd == (offset != 0)
        single, _ = run(offset, False)
        _same(many, single)
    monkeypatch.setattr(_update, "_VECTOR", [False])
    flags.clear()
    run(0, None)
    assert flags == [False, False]
