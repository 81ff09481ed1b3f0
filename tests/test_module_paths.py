"""PyTorch's module paths and top-level names that ported code imports: each is importable and does
what PyTorch's does (values against NumPy / hand-computed references)."""
import importlib
import pickle
import sys
import warnings

import numpy as np
import pytest

import ttorch
import ttorch.nn.functional as F

PATHS = """ttorch.nn.grad ttorch.utils.model_zoo ttorch.functional ttorch.optim.adamw ttorch.return_types ttorch.storage
ttorch.cuda.nvtx ttorch.cuda.random ttorch.cuda.comm ttorch.cuda.amp.autocast_mode ttorch.cuda.amp.grad_scaler
ttorch.cuda.amp.common ttorch.cpu.amp.autocast_mode ttorch.cpu.amp.grad_scaler ttorch.cuda.profiler
ttorch.multiprocessing.pool ttorch.multiprocessing.queue ttorch.multiprocessing.reductions ttorch.profiler.profiler
ttorch.autograd.variable ttorch.autograd.profiler_util ttorch.nn.modules.fold ttorch.nn.modules.utils
ttorch.nn.modules.channelshuffle ttorch.nn.common_types ttorch.nn.parallel.comm ttorch.nn.parallel.parallel_apply
ttorch.nn.parallel.replicate ttorch.nn.parallel.scatter_gather ttorch.utils.weak ttorch.torch_version
ttorch.nn.utils.init""".split()


@pytest.mark.parametrize("path", PATHS)
def test_module_path_imports(path):
    mod = importlib.import_module(path)
    for name in getattr(mod, "__all__", []):
        assert hasattr(mod, name), f"{path}.{name}"


def test_reexports_are_the_same_objects():
    from ttorch.autograd.variable import Variable
    from ttorch.nn.modules.channelshuffle import ChannelShuffle
    from ttorch.nn.modules.fold import Fold, Unfold
    from ttorch.nn.utils.init import skip_init
    from ttorch.optim.adamw import AdamW
    from ttorch.utils.model_zoo import load_url
    assert (Variable, Fold, Unfold, ChannelShuffle, AdamW) == (ttorch.autograd.Variable, ttorch.nn.Fold,
                                                               ttorch.nn.Unfold, ttorch.nn.ChannelShuffle,
                                                               ttorch.optim.AdamW)
    assert skip_init is ttorch.nn.utils.skip_init and load_url is ttorch.hub.load_state_dict_from_url
    assert ttorch.functional.einsum is ttorch.einsum and ttorch.functional.unique is ttorch.unique
    assert ttorch.GradScaler is ttorch.amp.GradScaler
    # as in PyTorch, the attribute is the deprecated function; the module is reached by import
    with pytest.raises(RuntimeError, match="deprecated"):
        ttorch.autograd.variable(1)
    assert sys.modules["ttorch.autograd.variable"].Variable is Variable


# ------------------------------------------------------------------------------- return types
def test_return_types_are_returned_and_behave():
    rt = ttorch.return_types
    x = ttorch.tensor([[1.0, 5.0, 2.0], [3.0, 2.0, 7.0]])
    r = x.max(dim=1)
    assert type(r) is rt.max and isinstance(r, tuple) and r.n_fields == 2
    assert r.values.tolist() == [5.0, 7.0] and r.indices.tolist() == [1, 2]
    assert repr(rt.max((1, 2))) == "ttorch.return_types.max(\nvalues=1,\nindices=2)"
    assert type(pickle.loads(pickle.dumps(r))) is rt.max
    assert rt.sort((1, 2)) == rt.sort(1, 2) == (1, 2)
    with pytest.raises(TypeError):
        rt.topk((1, 2, 3))
    cases = {rt.min: x.min(0), rt.sort: x.sort(), rt.topk: x.topk(2), rt.kthvalue: x.kthvalue(1),
             rt.median: x.median(1), rt.nanmedian: x.nanmedian(1), rt.mode: x.mode(1), rt.aminmax: x.aminmax(),
             rt.cummax: x.cummax(1), rt.cummin: x.cummin(0), rt.frexp: ttorch.frexp(x),
             rt.linalg_slogdet: ttorch.linalg.slogdet(ttorch.eye(2)), rt.slogdet: ttorch.eye(2).slogdet(),
             rt.linalg_qr: ttorch.linalg.qr(ttorch.eye(2)),
             rt.linalg_svd: ttorch.linalg.svd(ttorch.eye(2)), rt.svd: ttorch.svd(ttorch.eye(2)),
             rt.linalg_eigh: ttorch.linalg.eigh(ttorch.eye(2)), rt.linalg_inv_ex: ttorch.linalg.inv_ex(ttorch.eye(2)),
             rt.linalg_cholesky_ex: ttorch.linalg.cholesky_ex(ttorch.eye(2)), rt.geqrf: ttorch.geqrf(ttorch.eye(2)),
             rt.linalg_lu_factor: ttorch.linalg.lu_factor(ttorch.eye(2)), rt.histogram: ttorch.histogram(x, 3)}
    for cls, res in cases.items():
        assert type(res) is cls, (cls, type(res))
    assert ttorch.aminmax(x).max.item() == 7.0
    assert rt.max not in (rt.max_out,) and "max_out" in rt.__all__ and rt.histogramdd in rt.all_return_types


# ------------------------------------------------------------------------------------- storage
def test_untyped_storage_public_api():
    s = ttorch.UntypedStorage([1, 2, 300])
    assert isinstance(s, ttorch.storage.UntypedStorage) and len(s) == 3 and s.nbytes() == 3
    assert s.tolist() == [1, 2, 44] and s[1] == 2 and s.element_size() == 1 and not s.is_cuda
    view = s[0:2]
    view[0] = 9                                   # a slice shares the bytes
    assert s.tolist()[0] == 9
    c = s.clone()
    c[0] = 5
    assert s[0] == 9 and c[0] == 5
    assert ttorch.UntypedStorage(4).fill_(7).tolist() == [7, 7, 7, 7]
    assert ttorch.UntypedStorage().nbytes() == 0
    assert ttorch.UntypedStorage.from_buffer(b"abc").tolist() == [97, 98, 99]
    t = ttorch.tensor([1.0, 2.0])
    assert isinstance(t.untyped_storage(), ttorch.UntypedStorage) and t.untyped_storage().nbytes() == 8
    assert ttorch.tensor([], dtype=ttorch.uint8).set_(ttorch.UntypedStorage([4, 5])).tolist() == [4, 5]
    assert repr(ttorch.UntypedStorage([1])).endswith("[ttorch.storage.UntypedStorage(device=cpu) of size 1]")
    with pytest.raises(RuntimeError, match="items was of type str"):
        ttorch.UntypedStorage("ab")
    assert ttorch.storage.TypedStorage is ttorch.TypedStorage


def test_untyped_storage_on_cuda():
    if not ttorch.cuda.is_available():
        pytest.skip("no cuda device")
    s = ttorch.UntypedStorage([1, 2, 3], device="cuda")
    assert s.device.type == "cuda" and s.is_cuda and s.tolist() == [1, 2, 3]
    assert s.cpu().tolist() == [1, 2, 3] and ttorch.UntypedStorage([6]).cuda().tolist() == [6]


# ----------------------------------------------------------------------------------------- cuda
def test_nvtx_is_a_noop_off_gpu_with_pytorch_returns():
    nvtx = ttorch.cuda.nvtx
    assert nvtx.range_pop() == -1
    assert nvtx.range_push("a") == 0 and nvtx.range_push("b") == 1
    assert nvtx.range_pop() == 1 and nvtx.range_pop() == 0
    rid = nvtx.range_start("r")
    assert isinstance(rid, int) and nvtx.range_end(rid) is None and nvtx.mark("m") is None

    @nvtx.range("step {}", 1)
    def f():
        return nvtx.range_push("inner")
    assert f() == 1 and nvtx.range_pop() == 0          # the decorator's exit ended the innermost range


def test_cuda_random_and_profiler():
    from ttorch.cuda import random as cr
    assert cr.manual_seed is ttorch.cuda.manual_seed and cr.get_rng_state_all is ttorch.cuda.get_rng_state_all
    with ttorch.cuda.profiler.profile():          # no outside profiler here: start/stop do nothing
        pass
    assert ttorch.cuda.amp.common.amp_definitely_not_available() == (not ttorch.cuda.is_available())


def test_cuda_comm():
    if not ttorch.cuda.is_available():
        pytest.skip("no cuda device")
    from ttorch.cuda import comm
    x = ttorch.arange(10.0).reshape(5, 2)
    (b,) = comm.broadcast(x, [0])
    assert b.device.type == "cuda" and b.tolist() == x.tolist()
    parts = comm.scatter(x, [0, 0], dim=0)
    assert [p.shape[0] for p in parts] == [3, 2] and all(p.device.type == "cuda" for p in parts)
    parts = comm.scatter(x, [0, 0], chunk_sizes=[1, 4])
    assert [p.shape[0] for p in parts] == [1, 4]
    g = comm.gather(list(parts), dim=0, destination="cpu")
    assert g.device.type == "cpu" and g.tolist() == x.tolist()
    s = comm.reduce_add([x.cuda(), x.cuda(), x.cuda()])
    np.testing.assert_array_equal(s.cpu().numpy(), 3 * x.numpy())
    with pytest.raises(ValueError, match="input 1 has invalid size: got 2x2, but expected 5x2"):
        comm.reduce_add([x.cuda(), x[:2].cuda()])
    with pytest.raises(AssertionError, match="input 0 is on CPU"):
        comm.reduce_add([x])
    with pytest.raises(RuntimeError, match="Exactly one of 'devices' and 'out'"):
        comm.broadcast(x)
    out = [ttorch.empty(5, 2, device="cuda")]
    assert comm.broadcast(x, out=out)[0].tolist() == x.tolist()
    (s1, s2) = comm.reduce_add_coalesced([[x.cuda(), x[0].cuda()], [x.cuda(), x[0].cuda()]])
    assert s1.tolist() == (2 * x).tolist() and s2.tolist() == (2 * x[0]).tolist()
    assert ttorch.nn.parallel.comm.scatter is comm.scatter


def test_amp_submodules_warn_as_deprecated():
    from ttorch.cpu.amp.autocast_mode import autocast
    from ttorch.cuda.amp.grad_scaler import GradScaler
    with pytest.warns(FutureWarning, match=r"torch.cpu.amp.autocast\(args...\)` is deprecated"):
        autocast()
    assert issubclass(GradScaler, ttorch.amp.GradScaler) and ttorch.cuda.amp.GradScaler is GradScaler
    assert ttorch.cpu.amp.grad_scaler.GradScaler is ttorch.cpu.amp.GradScaler


# ----------------------------------------------------------------------------------- nn pieces
def _conv_ref_grads(n):
    rs = np.random.RandomState(n)
    shape = {1: (2, 4, 9), 2: (2, 4, 7, 6), 3: (1, 2, 4, 5, 4)}[n]
    x = ttorch.tensor(rs.randn(*shape), requires_grad=True)
    w = ttorch.tensor(rs.randn(*((6, 2) + (3,) * n)) if n < 3 else rs.randn(2, 1, 2, 2, 2), requires_grad=True)
    groups = 2
    kw = dict(stride=2, padding=1, dilation=1, groups=groups)
    y = (F.conv1d, F.conv2d, F.conv3d)[n - 1](x, w, **kw)
    g = ttorch.tensor(rs.randn(*y.shape))
    gx, gw = ttorch.autograd.grad(y, (x, w), g)
    return x, w, g, gx, gw, kw


@pytest.mark.parametrize("n", [1, 2, 3])
def test_nn_grad_matches_autograd(n):
    x, w, g, gx, gw, kw = _conv_ref_grads(n)
    ng = ttorch.nn.grad
    fin, fw = getattr(ng, f"conv{n}d_input"), getattr(ng, f"conv{n}d_weight")
    np.testing.assert_allclose(fin(x.shape, w.detach(), g, **kw).numpy(), gx.numpy(), atol=1e-12)
    np.testing.assert_allclose(fw(x.detach(), w.shape, g, **kw).numpy(), gw.numpy(), atol=1e-12)


def test_nn_grad_hand_value_and_shape_error():
    # conv1d of x (1,1,3) with w=[1, 2]: dL/dx for g=[1, 1] is [1, 3, 2]
    w = ttorch.tensor([[[1.0, 2.0]]])
    g = ttorch.tensor([[[1.0, 1.0]]])
    assert ttorch.nn.grad.conv1d_input((1, 1, 3), w, g).tolist() == [[[1.0, 3.0, 2.0]]]
    x = ttorch.tensor([[[1.0, 2.0, 4.0]]])
    assert ttorch.nn.grad.conv1d_weight(x, (1, 1, 2), g).tolist() == [[[3.0, 6.0]]]
    with pytest.raises(RuntimeError, match="grad_output has shape"):
        ttorch.nn.grad.conv1d_input((1, 1, 5), w, g)


def test_modules_utils_and_common_types():
    from ttorch.nn.modules.utils import (_list_with_default, _ntuple, _pair, _quadruple, _reverse_repeat_tuple,
                                         _single, _triple, consume_prefix_in_state_dict_if_present)
    assert _single(3) == (3,) and _pair(2) == (2, 2) and _triple([1, 2, 3]) == (1, 2, 3) and _quadruple(0) == (0,) * 4
    assert _ntuple(5)(1) == (1,) * 5 and _reverse_repeat_tuple((1, 2), 2) == (2, 2, 1, 1)
    assert _list_with_default([None, 4], [8, 3, 5, 6]) == [5, 4]
    with pytest.raises(ValueError, match="Input dimension should be at least 3"):
        _list_with_default([None, 4], [1, 2])
    sd = {"module.a": 1, "module.b.c": 2, "d": 3}
    consume_prefix_in_state_dict_if_present(sd, "module.")
    assert sd == {"a": 1, "b.c": 2, "d": 3}
    from ttorch.nn.common_types import _size_2_t, _ratio_any_t  # noqa: F401
    assert int in _size_2_t.__args__


def test_parallel_scatter_gather_replicate_apply():
    from ttorch.nn.parallel import gather, parallel_apply, replicate, scatter
    from ttorch.nn.parallel.scatter_gather import scatter_kwargs
    x = ttorch.arange(10.0, requires_grad=True)
    parts = scatter((x, "tag", {"k": x}), ["cpu", "cpu", "cpu"])
    assert len(parts) == 3 and parts[0][1] == "tag" and [p[0].shape[0] for p in parts] == [4, 4, 2]
    assert parts[2][2]["k"].tolist() == [8.0, 9.0]
    y = gather([p[0] * 2 for p in parts], "cpu")
    y.sum().backward()                                        # gradients flow back through scatter/gather
    assert x.grad.tolist() == [2.0] * 10
    inputs, kwargs = scatter_kwargs((ttorch.ones(4),), {"scale": 2}, ["cpu", "cpu"])
    assert len(inputs) == len(kwargs) == 2 and kwargs[1] == {"scale": 2}
    lin = ttorch.nn.Linear(3, 2)
    reps = replicate(lin, ["cpu", "cpu"])
    assert len(reps) == 2 and reps[0] is not lin and not isinstance(reps[0].weight, ttorch.nn.Parameter)
    outs = parallel_apply(reps, [ttorch.ones(1, 3), (ttorch.ones(2, 3),)])
    assert [o.shape[0] for o in outs] == [1, 2]
    sum(o.sum() for o in outs).backward()
    np.testing.assert_allclose(lin.weight.grad.numpy(), np.full((2, 3), 3.0))
    with pytest.raises(AssertionError, match="number of modules 2 is not equal to the number of inputs 1"):
        parallel_apply(reps, [ttorch.ones(1, 3)])
    d = replicate(lin, ["cpu"], detach=True)[0]
    assert not d.weight.requires_grad
    assert ttorch.nn.parallel.data_parallel(ttorch.nn.Identity(), ttorch.ones(2)).tolist() == [1.0, 1.0]


# -------------------------------------------------------------------------------------- utilities
def test_weak_id_key_dictionary_and_tensor_weakref():
    from ttorch.utils.weak import TensorWeakRef, WeakIdKeyDictionary, WeakIdRef, WeakTensorKeyDictionary
    assert WeakTensorKeyDictionary is WeakIdKeyDictionary
    a, b = ttorch.ones(2), ttorch.ones(2)                      # equal values, different keys
    d = WeakIdKeyDictionary({a: 1})
    d[b] = 2
    assert d[a] == 1 and d[b] == 2 and len(d) == 2 and a in d
    del d[a]
    assert a not in d and list(d) == [b]
    del b
    assert len(d) == 0
    r = TensorWeakRef(a)
    assert r() is a
    assert WeakIdRef(a) == WeakIdRef(a) and hash(WeakIdRef(a)) == id(a)
    with pytest.raises(AssertionError, match="expected torch.Tensor"):
        TensorWeakRef(3)


def test_torch_version_compares_as_a_version():
    from ttorch.torch_version import TorchVersion as V
    assert V("1.10.0a0") > "1.9" and V("2.0") == "2.0.0" and V("2.0") == (2, 0) and V("2.1.0+cu121") > "2.1.0"
    assert V("1.0.dev0") < "1.0a0" < V("1.0b1") and V("1.0rc1") < "1.0" < V("1.0.post1")
    assert V("2.13") >= (2, 13, 0) and not V("2.13") < "2.9" and V("3") != "3.1"
    assert V("parrot") < "pigeon" and isinstance(V("1.0"), str)


def test_multiprocessing_modules():
    import multiprocessing
    from multiprocessing.reduction import ForkingPickler
    from ttorch.multiprocessing import pool, queue, reductions
    q = queue.SimpleQueue(ctx=multiprocessing.get_context())
    q.put(ttorch.tensor([1.0, 2.0]))
    assert q.get().tolist() == [1.0, 2.0]
    fn, args = reductions.reduce_tensor(ttorch.tensor([3.0], requires_grad=True))
    t = fn(*args)
    assert t.tolist() == [3.0] and t.requires_grad
    with pytest.raises(RuntimeError, match="Cowardly refusing"):
        reductions.reduce_tensor(ttorch.ones(1, requires_grad=True) * 2)
    fn, args = reductions.reduce_storage(ttorch.UntypedStorage([7, 8]))
    assert fn(*args).tolist() == [7, 8]
    reductions.init_reductions()
    assert pickle.loads(ForkingPickler.dumps(ttorch.nn.Parameter(ttorch.ones(1)))).requires_grad
    assert issubclass(pool.Pool, multiprocessing.pool.Pool) and callable(pool.clean_worker)


def test_profiler_profiler_module():
    import os
    import tempfile
    from ttorch.profiler.profiler import supported_activities, tensorboard_trace_handler
    acts = supported_activities()
    assert ttorch.profiler.ProfilerActivity.CPU in acts
    assert (ttorch.profiler.ProfilerActivity.CUDA in acts) == ttorch.cuda.is_available()
    d = tempfile.mkdtemp()
    handler = tensorboard_trace_handler(d, "w0", use_gzip=True)
    with ttorch.profiler.profile(activities=[ttorch.profiler.ProfilerActivity.CPU]) as p:
        ttorch.ones(2).add(1)
    handler(p)
    (name,) = os.listdir(d)
    assert name.startswith("w0.") and name.endswith(".pt.trace.json.gz")
    from ttorch.autograd.profiler_util import Interval, Kernel, MemRecordsAcc, StringTable
    assert Interval(2, 5).elapsed_us() == 3 and Kernel("k", 0, 1.5).duration == 1.5 and StringTable()["ab"] == "ab"
    acc = MemRecordsAcc([("b", 5), ("a", 1), ("c", 9)])
    assert [r[0] for r in acc.in_interval(1, 5)] == ["a", "b"]


# --------------------------------------------------------------------------------- top-level names
def test_sym_helpers_plain_semantics():
    assert ttorch.sym_int(-2.7) == -2 and ttorch.sym_int(ttorch.tensor(3.7)) == 3
    assert ttorch.sym_float(3) == 3.0 and type(ttorch.sym_float(ttorch.tensor(3))) is float
    assert ttorch.sym_max(3, 2) == 3 and type(ttorch.sym_max(3, 2)) is int
    assert ttorch.sym_max(np.int64(3), 2.0) == 3.0 and type(ttorch.sym_max(3, 2.0)) is float
    assert ttorch.sym_min(3, 2.5) == 2.5 and ttorch.sym_min(1, 2) == 1
    with pytest.raises(AssertionError, match="got <class 'ttorch._tensor.Tensor'>"):
        ttorch.sym_max(ttorch.tensor(1), 2)
    assert ttorch.sym_not(True) is False and ttorch.sym_not(ttorch.tensor(False)) is True
    assert ttorch.sym_ite(False, 1, 2) == 2
    with pytest.raises(AssertionError, match="expected SymBool or bool"):
        ttorch.sym_ite(1, 2, 3)
    with pytest.raises(AssertionError, match="type mismatch"):
        ttorch.sym_ite(True, 1, 2.0)
    assert ttorch.sym_sqrt(4) == 2.0 and ttorch.sym_sum([1, 2.5]) == 3.5 and ttorch.sym_sum(1, 2, 3) == 6
    assert not isinstance(3, ttorch.SymInt) and not isinstance(3.0, (ttorch.SymFloat, ttorch.SymBool))


def test_build_flags_and_threads():
    assert ttorch.has_lapack is True and ttorch.has_spectral is True and ttorch.has_openmp is False
    assert isinstance(ttorch.has_mkl, bool)
    with pytest.warns(UserWarning, match="'has_cuda' is deprecated"):
        assert ttorch.has_cuda == ttorch.backends.cuda.is_built()
    with pytest.warns(UserWarning, match="has_mkldnn"):
        assert ttorch.has_mkldnn is False
    assert ttorch.init_num_threads() is None


def _np_rnn(mode, x, h0, c0, w_ih, w_hh, b_ih, b_hh):
    """One direction, one layer, time-major NumPy reference with PyTorch's gate orders."""
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    h, c, outs = h0, c0, []
    for t in range(x.shape[0]):
        gi, gh = x[t] @ w_ih.T + b_ih, h @ w_hh.T + b_hh
        if mode == "lstm":
            i, f, g, o = np.split(gi + gh, 4, axis=-1)
            c = sig(f) * c + sig(i) * np.tanh(g)
            h = sig(o) * np.tanh(c)
        elif mode == "gru":
            ir, iz, i_n = np.split(gi, 3, axis=-1)
            hr, hz, hn = np.split(gh, 3, axis=-1)
            r, z = sig(ir + hr), sig(iz + hz)
            h = (1 - z) * np.tanh(i_n + r * hn) + z * h
        else:
            h = np.tanh(gi + gh) if mode == "rnn_tanh" else np.maximum(gi + gh, 0)
        outs.append(h)
    return np.stack(outs), h, c


@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn_tanh", "rnn_relu"])
def test_torch_rnn_functions_match_numpy(mode):
    rs = np.random.RandomState(1)
    G = {"lstm": 4, "gru": 3}.get(mode, 1)
    H, inp = 3, 2
    x, h0, c0 = rs.randn(4, 2, inp), rs.randn(1, 2, H), rs.randn(1, 2, H)
    ws = [rs.randn(G * H, inp), rs.randn(G * H, H), rs.randn(G * H), rs.randn(G * H)]
    T = ttorch.tensor
    fn = getattr(ttorch, mode)
    hx = (T(h0), T(c0)) if mode == "lstm" else T(h0)
    res = fn(T(x), hx, [T(w) for w in ws], True, 1, 0.0, False, False, False)
    ref_o, ref_h, ref_c = _np_rnn(mode, x, h0[0], c0[0], *ws)
    np.testing.assert_allclose(res[0].numpy(), ref_o, atol=1e-12)
    np.testing.assert_allclose(res[1].numpy()[0], ref_h, atol=1e-12)
    if mode == "lstm":
        np.testing.assert_allclose(res[2].numpy()[0], ref_c, atol=1e-12)
    # batch_first, and the packed form: lengths (4, 2) -> batch_sizes [2, 2, 1, 1]
    res_bf = fn(T(x).transpose(0, 1), hx, [T(w) for w in ws], True, 1, 0.0, False, False, True)
    np.testing.assert_allclose(res_bf[0].transpose(0, 1).numpy(), ref_o, atol=1e-12)
    data = np.concatenate([x[0], x[1], x[2, :1], x[3, :1]])
    hx1 = (T(h0[:, :1]), T(c0[:, :1])) if mode == "lstm" else T(h0[:, :1])
    packed = fn(T(data), ttorch.tensor([2, 2, 1, 1]), T(h0) if mode != "lstm" else (T(h0), T(c0)),
                [T(w) for w in ws], True, 1, 0.0, False, False)
    ref2_o, ref2_h, _ = _np_rnn(mode, x[:2, 1:], h0[0, 1:], c0[0, 1:], *ws)   # the short sequence alone
    np.testing.assert_allclose(packed[0].numpy()[[1, 3]], ref2_o[:, 0], atol=1e-12)
    np.testing.assert_allclose(packed[1].numpy()[0, 1], ref2_h[0], atol=1e-12)
    del hx1


def test_torch_lstm_matches_module_and_arg_errors():
    lstm = ttorch.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    x = ttorch.randn(5, 2, 3)
    h0 = ttorch.zeros(4, 2, 4)
    out, h, c = ttorch.lstm(x, (h0, h0), lstm._flat_weights, True, 2, 0.0, False, True, False)
    ref, (rh, rc) = lstm(x)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), atol=1e-6)
    np.testing.assert_allclose(c.detach().numpy(), rc.detach().numpy(), atol=1e-6)
    with pytest.raises(TypeError, match="missing required argument 'batch_first'"):
        ttorch.gru(x, h0, [], True, 1, 0.0, False, False)


def _bn_data():
    rs = np.random.RandomState(2)
    return rs.randn(4, 3, 5), rs.randn(4, 3, 5), rs.rand(3) + 0.5


def test_batch_norm_sync_functions_match_batch_norm():
    x, dy, w = _bn_data()
    X, DY, W = ttorch.tensor(x), ttorch.tensor(dy), ttorch.tensor(w)
    eps = 1e-5
    mean, invstd = ttorch.batch_norm_stats(X, eps)
    ref_mean, ref_var = x.mean((0, 2)), x.var((0, 2))
    np.testing.assert_allclose(mean.numpy(), ref_mean, atol=1e-12)
    np.testing.assert_allclose(invstd.numpy(), 1 / np.sqrt(ref_var + eps), atol=1e-12)
    y = ttorch.batch_norm_elemt(X, W, None, mean, invstd, eps)
    ref_y = (x - ref_mean[:, None]) / np.sqrt(ref_var[:, None] + eps) * w[:, None]
    np.testing.assert_allclose(y.numpy(), ref_y, atol=1e-12)
    # backward: the two pieces give autograd's batch-norm gradients
    Xg, Wg = ttorch.tensor(x, requires_grad=True), ttorch.tensor(w, requires_grad=True)
    out = F.batch_norm(Xg, None, None, Wg, None, training=True, eps=eps)
    gx, gw = ttorch.autograd.grad(out, (Xg, Wg), DY)
    sum_dy, sum_dy_xmu, grad_w, grad_b = ttorch.batch_norm_backward_reduce(DY, X, mean, invstd, W, True, True, True)
    np.testing.assert_allclose(grad_w.numpy(), gw.numpy(), atol=1e-10)
    np.testing.assert_allclose(grad_b.numpy(), dy.sum((0, 2)), atol=1e-12)
    gin = ttorch.batch_norm_backward_elemt(DY, X, mean, invstd, W, sum_dy, sum_dy_xmu,
                                           ttorch.tensor([20], dtype=ttorch.int32))
    np.testing.assert_allclose(gin.numpy(), gx.numpy(), atol=1e-10)
    assert ttorch.batch_norm_backward_reduce(DY, X, mean, invstd, None, False, False, False) == (None,) * 4


def test_batch_norm_gather_and_update_stats():
    x, _, _ = _bn_data()
    eps, mom = 1e-5, 0.1
    a, b = ttorch.tensor(x[:1]), ttorch.tensor(x[1:])          # two "processes", 5 and 15 elements per channel
    ma, ia = ttorch.batch_norm_stats(a, eps)
    mb, ib = ttorch.batch_norm_stats(b, eps)
    rm, rv = ttorch.zeros(3, dtype=ttorch.float64), ttorch.ones(3, dtype=ttorch.float64)
    m, inv = ttorch.batch_norm_gather_stats_with_counts(a, ttorch.stack([ma, mb]), ttorch.stack([ia, ib]), rm, rv,
                                                        mom, eps, ttorch.tensor([5.0, 15.0], dtype=ttorch.float64))
    np.testing.assert_allclose(m.numpy(), x.mean((0, 2)), atol=1e-12)
    np.testing.assert_allclose(inv.numpy(), 1 / np.sqrt(x.var((0, 2)) + eps), atol=1e-10)
    np.testing.assert_allclose(rm.numpy(), mom * x.mean((0, 2)), atol=1e-12)
    np.testing.assert_allclose(rv.numpy(), (1 - mom) + mom * x.var((0, 2), ddof=1), atol=1e-10)
    m2, _ = ttorch.batch_norm_gather_stats(a, ttorch.stack([ma, ma]), ttorch.stack([ia, ia]), None, None, mom, eps, 5)
    np.testing.assert_allclose(m2.numpy(), ma.numpy(), atol=1e-12)
    rm, rv = ttorch.zeros(3, dtype=ttorch.float64), ttorch.ones(3, dtype=ttorch.float64)
    mean, var = ttorch.batch_norm_update_stats(ttorch.tensor(x), rm, rv, mom)
    np.testing.assert_allclose(var.numpy(), x.var((0, 2)), atol=1e-12)          # biased; running: unbiased
    np.testing.assert_allclose(rv.numpy(), (1 - mom) + mom * x.var((0, 2), ddof=1), atol=1e-12)
    half = ttorch.batch_norm_stats(ttorch.ones(2, 3).half(), eps)
    assert half[0].dtype == ttorch.float32


def test_functional_module_contents():
    want = ["atleast_1d", "atleast_2d", "atleast_3d", "broadcast_shapes", "broadcast_tensors", "cartesian_prod",
            "block_diag", "cdist", "chain_matmul", "einsum", "istft", "lu", "norm", "meshgrid", "pca_lowrank",
            "split", "stft", "svd_lowrank", "tensordot", "unique", "unique_consecutive", "unravel_index"]
    assert sorted(ttorch.functional.__all__) == sorted(want)
    a, b = ttorch.functional.meshgrid(ttorch.arange(2), ttorch.arange(3), indexing="ij")
    assert a.shape == (2, 3) and b[1].tolist() == [0, 1, 2]



# ------------------------------------------------------------------------------- Tensor methods
def test_tensor_compat_methods():
    x = ttorch.arange(6.0, requires_grad=True)
    with pytest.warns(UserWarning, match="non-inplace resize is deprecated"):
        y = x.resize(2, 3)
    assert y.shape == (2, 3) and y[1].tolist() == [3.0, 4.0, 5.0]
    (y * ttorch.arange(6.0).reshape(2, 3)).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    with pytest.warns(UserWarning, match="non-inplace resize_as is deprecated"):
        assert x.resize_as(ttorch.empty(3, 2)).shape == (3, 2)
    with pytest.warns(UserWarning), pytest.raises(RuntimeError, match=r"requested resize to 5 \(5 elements in total\)"):
        x.resize(5)
    with pytest.warns(UserWarning, match="Variable.volatile is always False"):
        assert x.volatile is False
    with pytest.warns(UserWarning, match="volatile was removed and now has no effect"):
        x.volatile = True
    p, v = ttorch.zeros(2), ttorch.tensor([1.0, 2.0])
    assert p.module_load(v).tolist() == [1.0, 2.0] and p.tolist() == [1.0, 2.0]
    out = ttorch.zeros(2).module_load(v, assign=True)
    assert out.tolist() == [1.0, 2.0] and out is not v
    base = ttorch.arange(12.0).reshape(3, 4)
    inv = base[:, 1:3].slice_inverse(base, 1, 1, 3)
    assert inv.tolist() == base.tolist() and inv.untyped_storage() is base.untyped_storage()
    assert [t.tolist() for t in ttorch.unsafe_split_with_sizes(ttorch.arange(5), [2, 3])] == [[0, 1], [2, 3, 4]]
    nt = ttorch.nested.nested_tensor([ttorch.ones(2, 3), ttorch.ones(1, 3)], layout=ttorch.jagged)
    assert nt.to_padded_tensor(-1.0)[1, 1].tolist() == [-1.0] * 3
    with pytest.raises(RuntimeError, match="expected a nested tensor"):
        ttorch.ones(2).to_padded_tensor(0.0)


# ------------------------------------------------------------------------------------ F functions
def test_conv_tbc_and_native_channel_shuffle():
    rs = np.random.RandomState(3)
    x, w, b = rs.randn(6, 2, 3), rs.randn(3, 3, 4), rs.randn(4)
    out = F.conv_tbc(ttorch.tensor(x), ttorch.tensor(w), ttorch.tensor(b), 1)
    xp = np.pad(x, ((1, 1), (0, 0), (0, 0)))
    ref = np.stack([np.einsum("kbc,kco->bo", xp[t:t + 3], w) for t in range(6)]) + b
    np.testing.assert_allclose(out.numpy(), ref, atol=1e-12)
    assert F.conv_tbc is ttorch.conv_tbc
    with pytest.raises(RuntimeError, match="Input dim 2 \\(input channels\\) is not == dim 1 in the weight tensor"):
        F.conv_tbc(ttorch.tensor(x), ttorch.tensor(w[:, :2]), ttorch.tensor(b))
    with pytest.raises(RuntimeError, match="Bias size must equal dim 2"):
        F.conv_tbc(ttorch.tensor(x), ttorch.tensor(w), ttorch.tensor(b[:2]))
    t = ttorch.arange(8.0).reshape(1, 4, 2)
    assert ttorch.native_channel_shuffle(t, 2)[0, :, 0].tolist() == [0.0, 4.0, 2.0, 6.0]
    assert F.native_channel_shuffle is F.channel_shuffle


def _fp8(a):
    return ttorch.tensor(a, dtype=ttorch.float32).to(ttorch.float8_e4m3fn)


def test_scaled_grouped_mm_matches_grouped_reference():
    rs = np.random.RandomState(4)
    q = lambda *s: np.round(rs.uniform(-4, 4, s) * 2) / 2  # noqa: E731  (exact in float8_e4m3fn)
    RW = F.ScalingType.RowWise
    a, b = q(6, 16), q(2, 16, 8)
    sa, sb = rs.uniform(0.5, 2, 6), rs.uniform(0.5, 2, (2, 8))
    offs = ttorch.tensor([2, 6], dtype=ttorch.int32)
    out = F.scaled_grouped_mm(_fp8(a), _fp8(b), ttorch.tensor(sa, dtype=ttorch.float32), RW,
                              ttorch.tensor(sb, dtype=ttorch.float32), RW, offs=offs, output_dtype=ttorch.float32)
    ref = np.concatenate([(a[:2] * sa[:2, None]) @ (b[0] * sb[0]), (a[2:] * sa[2:, None]) @ (b[1] * sb[1])])
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-5, atol=1e-4)     # float32 scales and sums
    a3 = q(2, 3, 16)
    sa3 = rs.uniform(0.5, 2, (2, 3))
    out = F.scaled_grouped_mm(_fp8(a3), _fp8(b), ttorch.tensor(sa3, dtype=ttorch.float32), RW,
                              ttorch.tensor(sb, dtype=ttorch.float32), RW)
    assert out.dtype == ttorch.bfloat16 and out.shape == (2, 3, 8)
    ref = np.stack([(a3[g] * sa3[g][:, None]) @ (b[g] * sb[g]) for g in range(2)])
    np.testing.assert_allclose(out.float().numpy(), ref, rtol=1e-2, atol=0.05)     # bfloat16 output
    a2, b2 = q(3, 8), q(8, 5)
    koffs = ttorch.tensor([3, 8], dtype=ttorch.int32)
    s_a, s_b = rs.uniform(0.5, 2, 6), rs.uniform(0.5, 2, 10)
    out = F.scaled_grouped_mm(_fp8(a2), _fp8(b2), ttorch.tensor(s_a, dtype=ttorch.float32), RW,
                              ttorch.tensor(s_b, dtype=ttorch.float32), RW, offs=koffs, output_dtype=ttorch.float32)
    ref = np.stack([s_a[3 * g:3 * g + 3, None] * (a2[:, k] @ b2[k]) * s_b[5 * g:5 * g + 5]
                    for g, k in enumerate([slice(0, 3), slice(3, 8)])])
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-5, atol=1e-4)     # float32 scales and sums
    with pytest.raises(NotImplementedError, match="RowWise"):
        F.scaled_grouped_mm(_fp8(a), _fp8(b), ttorch.ones(()), F.ScalingType.TensorWise, ttorch.ones(()),
                            F.ScalingType.TensorWise, offs=offs)
    with pytest.raises(RuntimeError, match="expected RowWise scales of shapes"):
        F.scaled_grouped_mm(_fp8(a), _fp8(b), ttorch.ones(5), RW, ttorch.ones(2, 8), RW, offs=offs)
    with pytest.raises(RuntimeError, match="float8"):
        F.scaled_grouped_mm(ttorch.ones(6, 16), _fp8(b), ttorch.ones(6), RW, ttorch.ones(2, 8), RW, offs=offs)


# ---------------------------------------------------------------------------------- autograd, func
def test_nested_io_function():
    class Mix(ttorch.autograd.NestedIOFunction):
        def forward_extended(self, a, pair):
            self.save_for_backward(a, (pair[1],))
            return a * pair[0], [pair[0] + pair[1]]

        def backward_extended(self, g_prod, g_sum):
            a, (b1,) = self.saved_tensors
            return g_prod * 3.0, (g_prod * a + g_sum[0], g_sum[0])

    a = ttorch.tensor([2.0], requires_grad=True)
    b0 = ttorch.tensor([3.0], requires_grad=True)
    b1 = ttorch.tensor([5.0], requires_grad=True)
    prod, (s,) = Mix()(a, (b0, b1))
    assert prod.tolist() == [6.0] and s.tolist() == [8.0]
    (prod + 10 * s).sum().backward()
    assert a.grad.tolist() == [3.0] and b0.grad.tolist() == [12.0] and b1.grad.tolist() == [10.0]
    with pytest.raises(NotImplementedError):
        ttorch.autograd.NestedIOFunction()(a)


def test_func_debug_unwrap():
    from ttorch.func import debug_unwrap, vmap
    seen = []

    def f(t):
        seen.append((debug_unwrap(t).shape, type(debug_unwrap(t, recurse=False)).__name__))
        return t * 2
    vmap(vmap(f))(ttorch.ones(3, 4, 2))
    assert seen == [((3, 4, 2), "BatchedTensor")]
    x = ttorch.ones(2)
    assert debug_unwrap(x) is x


# -------------------------------------------------------------------------------- cuda extras
def test_cuda_mem_pool_errors_and_external_stream():
    with pytest.raises(NotImplementedError, match="private memory pools"):
        ttorch.cuda.MemPool()
    with pytest.raises(NotImplementedError, match="use_mem_pool"):
        ttorch.cuda.use_mem_pool(None)
    if not ttorch.cuda.is_available():
        pytest.skip("no cuda device")
    s = ttorch.cuda.ExternalStream(0x1234)
    assert s.cuda_stream == 0x1234 and s != ttorch.cuda.current_stream() and s == ttorch.cuda.ExternalStream(0x1234)
    assert isinstance(s, ttorch.cuda.Stream)


def test_cuda_legacy_storage_classes():
    names = ["FloatStorage", "HalfStorage", "LongStorage", "ByteStorage", "BFloat16Storage", "BoolStorage"]
    for n in names:
        cls = getattr(ttorch.cuda, n)
        assert issubclass(cls, ttorch.TypedStorage) and cls is not getattr(ttorch, n)
    assert ttorch.cuda.FloatStorage._dtype == ttorch.float32 and ttorch.cuda.LongStorage._dtype == ttorch.int64
    if not ttorch.cuda.is_available():
        pytest.skip("no cuda device")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = ttorch.cuda.LongStorage([1, 2, 3])
    assert s.device.type == "cuda" and s.tolist() == [1, 2, 3] and s.type() == "ttorch.cuda.LongStorage"


# ------------------------------------------------------------------------------------- quasirandom
# reference points: PyTorch 2.13's SobolEngine (checked by hand; the Joe-Kuo direction numbers)
_SOBOL4 = [[0.0, 0.0, 0.0, 0.0], [0.5, 0.5, 0.5, 0.5], [0.75, 0.25, 0.25, 0.25], [0.25, 0.75, 0.75, 0.75],
           [0.375, 0.375, 0.625, 0.875], [0.875, 0.875, 0.125, 0.375], [0.625, 0.125, 0.875, 0.625],
           [0.125, 0.625, 0.375, 0.125]]


def test_sobol_engine_unscrambled_points():
    from ttorch.quasirandom import SobolEngine
    e = SobolEngine(4)
    assert e.draw(1).tolist() == _SOBOL4[:1] and e.draw(7).tolist() == _SOBOL4[1:]
    assert e.reset().draw_base2(3).tolist() == _SOBOL4 and e.num_generated == 8
    with pytest.raises(ValueError, match="require n to be a power of 2"):
        SobolEngine(2).fast_forward(3).draw_base2(1)
    f = SobolEngine(4).fast_forward(5)
    assert f.draw(3, dtype=ttorch.float64).tolist() == _SOBOL4[5:] and f.draw().dtype == ttorch.float32
    big = SobolEngine(21201).fast_forward(1000).draw(2, dtype=ttorch.float64)      # the table's last dimensions
    assert big[:, -4:].tolist() == [[0.4931640625, 0.9150390625, 0.9462890625, 0.0830078125],
                                    [0.9931640625, 0.4150390625, 0.4462890625, 0.5830078125]]
    assert big[:, 5000:5003].tolist() == [[0.0166015625, 0.6533203125, 0.7724609375],
                                          [0.5166015625, 0.1533203125, 0.2724609375]]
    out = ttorch.empty(0)
    assert SobolEngine(4).draw(2, out=out) is out and out.tolist() == _SOBOL4[:2]
    for bad in (0, 21202):
        with pytest.raises(ValueError, match=r"\[1, 21201\]"):
            SobolEngine(bad)


def test_sobol_engine_scrambled():
    from ttorch.quasirandom import SobolEngine
    a = SobolEngine(3, scramble=True, seed=7).draw(64)
    b = SobolEngine(3, scramble=True, seed=7).draw(64)
    assert a.tolist() == b.tolist() and repr(SobolEngine(3, scramble=True, seed=7)) == \
        "SobolEngine(dimension=3, scramble=True, seed=7)"
    x = a.numpy()
    assert x.min() >= 0 and x.max() < 1 and len(np.unique(x[:, 0])) == 64
    # scrambling keeps the (0, m, s)-net property: each of the 8 slabs of width 1/8 holds 8 of 64 points
    for d in range(3):
        np.testing.assert_array_equal(np.bincount((x[:, d] * 8).astype(int), minlength=8), [8] * 8)
    assert SobolEngine(3, scramble=True, seed=8).draw(4).tolist() != a[:4].tolist()


# ------------------------------------------------------------------------- optim functional forms
def _class_vs_functional(cls, fn, cls_kw, fn_kw, lists):
    rs = np.random.RandomState(5)
    p0, grads = rs.randn(3, 2), [rs.randn(3, 2) for _ in range(3)]
    p1 = ttorch.tensor(p0, requires_grad=True)
    opt = cls([p1], **cls_kw)
    for g in grads:
        p1.grad = ttorch.tensor(g)
        opt.step()
    p2 = ttorch.tensor(p0)
    for g in grads:
        fn([p2], [ttorch.tensor(g)], *lists, **fn_kw)
    np.testing.assert_allclose(p2.numpy(), p1.detach().numpy(), atol=1e-14)
    return opt.state[p1]


def test_optim_functional_forms_match_the_classes():
    import ttorch.optim.adam as adam_mod
    import ttorch.optim.adamw as adamw_mod
    import ttorch.optim.rmsprop as rms_mod
    import ttorch.optim.sgd as sgd_mod
    z = lambda: ttorch.zeros(3, 2, dtype=ttorch.float64)  # noqa: E731
    bufs = [None]
    st = _class_vs_functional(ttorch.optim.SGD, sgd_mod.sgd, dict(lr=0.1, momentum=0.9, weight_decay=0.1),
                              dict(lr=0.1, momentum=0.9, weight_decay=0.1, dampening=0.0, nesterov=False,
                                   maximize=False), [bufs])
    np.testing.assert_allclose(bufs[0].numpy(), st["momentum_buffer"].numpy(), atol=1e-14)   # filled in
    steps, m, v, vmax = [ttorch.tensor(0.0)], [z()], [z()], [z()]
    st = _class_vs_functional(ttorch.optim.Adam, adam_mod.adam, dict(lr=0.01, betas=(0.9, 0.99), amsgrad=True),
                              dict(lr=0.01, beta1=0.9, beta2=0.99, amsgrad=True, weight_decay=0.0, eps=1e-8,
                                   maximize=False), [m, v, vmax, steps])
    assert steps[0].item() == 3.0 and np.allclose(m[0].numpy(), st["exp_avg"].numpy())
    _class_vs_functional(ttorch.optim.AdamW, adamw_mod.adamw, dict(lr=0.01, weight_decay=0.1),
                         dict(lr=0.01, beta1=0.9, beta2=0.999, amsgrad=False, weight_decay=0.1, eps=1e-8,
                              maximize=False), [[z()], [z()], [], [ttorch.tensor(0.0)]])
    _class_vs_functional(ttorch.optim.RMSprop, rms_mod.rmsprop, dict(lr=0.01, momentum=0.5, centered=True),
                         dict(lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.5, centered=True),
                         [[z()], [z()], [z()], [ttorch.tensor(0.0)]])
    assert "adamw" in adamw_mod.__all__ and "sgd" in sgd_mod.__all__
    with pytest.raises(NotImplementedError, match="grad_scale"):
        sgd_mod.sgd([z()], [z()], [None], grad_scale=ttorch.ones(()), weight_decay=0.0, momentum=0.0, lr=0.1,
                    dampening=0.0, nesterov=False, maximize=False)
