"""PyTorch's small utility modules: ttorch.jit (eager), ttorch.random, version, types, compiler/_dynamo,
utils.hooks, utils.benchmark and hub (file:// URLs and local hubconf only: no network)."""
import collections
import hashlib
import io
import re
import sys
import typing
import warnings

import numpy as np
import pytest

import ttorch
import ttorch.utils.benchmark as benchmark
from ttorch.utils.hooks import RemovableHandle


# ----------------------------------------------------------------------------------------- jit
class _Net(ttorch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = ttorch.nn.Linear(3, 2)
        self.seen = []

    def forward(self, x):
        self.seen.append(ttorch.jit.is_tracing())
        if x.sum() > 0:            # data-dependent branch: eager keeps both paths
            return self.fc(x)
        return -self.fc(x)


def test_jit_script_and_decorators_run_eagerly():
    @ttorch.jit.script
    def f(x, n: int = 2):
        return x * n

    np.testing.assert_array_equal(f(ttorch.tensor([1., 2.])).numpy(), [2., 4.])
    net = _Net()
    assert ttorch.jit.script(net) is net and not ttorch.jit.is_scripting()
    with pytest.raises(RuntimeError, match="cannot be compiled since it inherits from nn.Module"):
        ttorch.jit.script(_Net)
    with pytest.raises(TypeError, match="is a built-in class"):
        ttorch.jit.script(3)
    for deco in (ttorch.jit.ignore, ttorch.jit.ignore(drop=True), ttorch.jit.unused, ttorch.jit.export,
                 ttorch.jit.script_if_tracing, ttorch.jit.script_method):
        g = deco(lambda x: x + 1)
        assert g(1) == 2
    assert ttorch.jit.annotate(typing.List[int], [3]) == [3]
    assert ttorch.jit.Final is typing.Final
    iface = ttorch.jit.interface(type("I", (), {}))
    assert isinstance(iface, type)
    assert issubclass(ttorch.jit.ScriptModule, ttorch.nn.Module)

    class WithAttr(ttorch.jit.ScriptModule):
        def __init__(self):
            super().__init__()
            self.n = ttorch.jit.Attribute(3, int)

        @ttorch.jit.script_method
        def forward(self, x):
            return x * self.n
    assert WithAttr().n == 3 and WithAttr()(ttorch.tensor(2.)).item() == 6.0
    with pytest.raises(RuntimeError, match="Argument to @torch.jit.ignore must be a bool or a function but got x"):
        ttorch.jit.ignore("x")
    assert ttorch.jit.isinstance([1, 2], typing.List[int]) and not ttorch.jit.isinstance([1, "a"], typing.List[int])
    assert ttorch.jit.isinstance({"a": ttorch.ones(1)}, typing.Dict[str, ttorch.Tensor])
    assert ttorch.jit.isinstance(None, typing.Optional[int]) and ttorch.jit.isinstance((1, "a"), typing.Tuple[int, str])


def test_jit_trace_runs_example_and_checks_outputs():
    net = _Net()
    x = ttorch.tensor([[1., 2., 3.]])
    assert ttorch.jit.trace(net, x) is net and net.seen == [True]
    assert not ttorch.jit.is_tracing()
    # the other branch still works
    np.testing.assert_allclose(net(-x).detach().numpy(), -net.fc(-x).detach().numpy())
    assert ttorch.jit.trace(net, (x,), example_kwarg_inputs=None) is net
    with pytest.raises(RuntimeError, match="Only tensors, lists, tuples of tensors, or dictionary of tensors"):
        ttorch.jit.trace(lambda t: 3, x)
    f = ttorch.jit.trace(lambda a, b: {"s": [a + b]}, (x, x))
    assert f(x, x)["s"][0].shape == (1, 3)
    assert ttorch.jit.trace_module(net, {"forward": x}) is net and net.seen[-1] is True
    with pytest.raises(TypeError):
        ttorch.jit.trace(net, None)
    assert ttorch.jit.trace(lambda a, b: a * b, [x, x])(x, x).shape == (1, 3)     # a list spreads
    assert ttorch.jit.trace(lambda d: d["a"], {"a": x}) is not None                # a dict is one argument
    with pytest.raises(AttributeError, match="trace doesn't support compiling individual module's functions"):
        ttorch.jit.trace(net.forward, x)


def test_jit_fork_wait_future():
    fut = ttorch.jit.fork(lambda a, k: a + k, ttorch.ones(2), k=1)
    assert fut.done()
    np.testing.assert_array_equal(ttorch.jit.wait(fut).numpy(), [2., 2.])
    chained = fut.then(lambda f: f.value() * 3)
    np.testing.assert_array_equal(chained.wait().numpy(), [6., 6.])
    bad = ttorch.jit.fork(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        ttorch.jit.wait(bad)
    f = ttorch.jit.Future()
    with pytest.raises(RuntimeError, match="not completed"):
        f.value()
    f.set_result(5)
    with pytest.raises(RuntimeError, match="only be marked completed once"):
        f.set_result(6)


def test_jit_save_load_freeze(tmp_path):
    net = _Net().eval()
    path = str(tmp_path / "net.pt")
    ttorch.jit.save(net, path, _extra_files={"meta": "v1"})
    extra = {"meta": "", "absent": ""}
    loaded = ttorch.jit.load(path, _extra_files=extra)
    assert extra == {"meta": b"v1", "absent": b""}
    x = ttorch.tensor([[1., -2., 3.]])
    np.testing.assert_array_equal(loaded(x).detach().numpy(), net(x).detach().numpy())
    buf = io.BytesIO()
    ttorch.jit.save(net, buf)
    buf.seek(0)
    assert isinstance(ttorch.jit.load(buf), _Net)
    with pytest.raises(ValueError, match="does not exist"):
        ttorch.jit.load(str(tmp_path / "nope.pt"))
    import zipfile
    with zipfile.ZipFile(tmp_path / "ts.pt", "w") as z:       # what torch.jit.save writes: a zip with code/
        z.writestr("archive/code/__torch__.py", "")
    with pytest.raises(RuntimeError, match="TorchScript archive"):
        ttorch.jit.load(str(tmp_path / "ts.pt"))
    train = _Net()
    with pytest.raises(RuntimeError, match=re.escape("Please call .eval() on your module before freezing.")):
        ttorch.jit.freeze(train)
    assert ttorch.jit.freeze(net) is net
    assert ttorch.jit.optimize_for_inference(train) is train and not train.training


# -------------------------------------------------------------------------------------- random
def test_random_module_names():
    assert ttorch.seed is ttorch.random.seed and ttorch.manual_seed is ttorch.random.manual_seed
    g = ttorch.random.manual_seed(7)
    assert g is ttorch.random.default_generator and ttorch.random.initial_seed() == 7
    s = ttorch.random.seed()
    assert ttorch.initial_seed() == s
    if ttorch.cuda.is_available():
        assert ttorch.cuda.initial_seed() == s          # every device gets the new seed, as in PyTorch
    state = ttorch.random.get_rng_state()
    a = ttorch.rand(4)
    ttorch.random.set_rng_state(state)
    np.testing.assert_array_equal(ttorch.rand(4).numpy(), a.numpy())


def test_fork_rng_restores_cpu_and_cuda():
    cuda = ttorch.cuda.is_available()
    ttorch.manual_seed(3)
    a = ttorch.rand(3)
    c = ttorch.rand(2, device="cuda") if cuda else None
    ttorch.manual_seed(3)
    with ttorch.random.fork_rng():
        ttorch.rand(5)
        if cuda:
            ttorch.rand(4, device="cuda")
    np.testing.assert_array_equal(ttorch.rand(3).numpy(), a.numpy())
    if cuda:
        np.testing.assert_array_equal(ttorch.rand(2, device="cuda").cpu().numpy(), c.cpu().numpy())
    ttorch.manual_seed(3)
    with ttorch.random.fork_rng(devices=[]):          # cpu only
        ttorch.rand(5)
    np.testing.assert_array_equal(ttorch.rand(3).numpy(), a.numpy())
    ttorch.manual_seed(3)
    with ttorch.random.fork_rng(enabled=False):
        ttorch.rand(5)
    assert not np.array_equal(ttorch.rand(3).numpy(), a.numpy())
    with pytest.raises(RuntimeError, match="torch has no module of `xpu`"):
        with ttorch.random.fork_rng(device_type="xpu"):
            pass


# -------------------------------------------------------------------- version, types, compiler
def test_version_and_types():
    assert ttorch.version.__version__ == ttorch.__version__
    assert ttorch.version.debug is False and ttorch.version.hip is None
    assert ttorch.version.cuda is None or re.fullmatch(r"\d+\.\d+", ttorch.version.cuda)
    if ttorch.cuda.is_simulated():
        assert ttorch.version.cuda is None
    gv = ttorch.version.git_version
    assert gv == "Unknown" or re.fullmatch(r"[0-9a-f]{40}", gv)
    assert typing.get_args(ttorch.types.Number) == (int, float, bool)
    assert ttorch.types._Number == (int, float, bool) and ttorch.types._dtype is ttorch.dtype
    assert ttorch.device in typing.get_args(ttorch.types.Device) and type(None) in typing.get_args(ttorch.types.Device)
    assert ttorch.Size in typing.get_args(ttorch.types._size)


def test_compiler_and_dynamo():
    import ttorch._dynamo as dynamo
    assert not ttorch.compiler.is_compiling() and not ttorch.compiler.is_dynamo_compiling()
    assert not ttorch.compiler.is_exporting()
    with dynamo._compiling():
        assert ttorch.compiler.is_compiling() and dynamo.is_compiling()
    assert not dynamo.is_compiling()

    def f(x):
        return x + 1
    g = ttorch.compiler.disable(f)
    assert g(1) == 2 and g._torchdynamo_disable and g.__wrapped__ is f and g.__name__ == "f"
    h = ttorch.compiler.disable(recursive=False)(f)
    assert h(2) == 3 and h._torchdynamo_disable_recursive is False
    net = ttorch.nn.Linear(2, 2)
    assert ttorch.compiler.disable(net) is net            # modules keep their attributes
    assert ttorch.compiler.allow_in_graph(f) is f and ttorch.compiler.assume_constant_result(f) is f
    ttorch.compiler.reset()
    dynamo.reset()
    ttorch.compiler.cudagraph_mark_step_begin()
    assert ttorch.compiler.compile is ttorch.compile

    cfg = dynamo.config
    assert cfg.suppress_errors is False and cfg.cache_size_limit == 8
    cfg.suppress_errors = True
    assert dynamo.config.suppress_errors is True
    cfg.suppress_errors = False
    with pytest.raises(AttributeError, match="config.not_a_setting does not exist"):
        cfg.not_a_setting = 1
    with cfg.patch(verbose=True):
        assert cfg.verbose is True
    assert cfg.verbose is False
    t = ttorch.ones(2, 3)
    dynamo.mark_dynamic(t, 0)
    assert t._dynamo_dynamic_indices == {0}


# ------------------------------------------------------------------------------------- hooks
def test_one_removable_handle_class():
    from ttorch.nn.modules._hooks import RemovableHandle as NnHandle
    assert NnHandle is RemovableHandle
    x = ttorch.ones(2, requires_grad=True)
    h_tensor = x.register_hook(lambda g: g * 2)
    net = ttorch.nn.Linear(2, 2)
    h_mod = net.register_forward_hook(lambda *a: None)
    opt = ttorch.optim.SGD(net.parameters(), lr=0.1)
    h_opt = opt.register_step_pre_hook(lambda *a: None)
    y = x * 3
    h_node = y.grad_fn.register_hook(lambda gi, go: None)
    for h in (h_tensor, h_mod, h_opt, h_node):
        assert type(h) is RemovableHandle
    assert len({h.id for h in (h_tensor, h_mod, h_opt, h_node)}) == 4
    (x * 1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2., 2.])
    h_tensor.remove()
    x.grad = None
    (x * 1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1., 1.])
    hooks = collections.OrderedDict()       # a plain dict cannot be weakly referenced (nor in PyTorch)
    with RemovableHandle(hooks) as h:
        hooks[h.id] = print
    assert hooks == {}


def test_unserializable_hook_and_warning():
    x = ttorch.ones(2, requires_grad=True)
    x.register_hook(lambda g: g)
    with pytest.warns(UserWarning, match="will not be serialized"):
        ttorch.utils.hooks.warn_if_has_hooks(x)
    y = ttorch.ones(2, requires_grad=True)
    y.register_hook(ttorch.utils.hooks.unserializable_hook(lambda g: g))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ttorch.utils.hooks.warn_if_has_hooks(y)


# --------------------------------------------------------------------------------- benchmark
def _measurements():
    TS, M = benchmark.TaskSpec, benchmark.Measurement
    res = []
    for thr in (1, 2):
        for d, f in (("fwd", 1.0), ("bwd", 2.1)):
            for sl, g in (("small", 1.0), ("big", 3.0)):
                times = [x * f * g * 1e-5 for x in (1.0, 1.02, 0.98, 1.01, 0.99, 1.3)]
                res.append(M(number_per_run=100, raw_times=times,
                             task_spec=TS("f(x)", "x = 1", label="op", sub_label=sl, description=d, num_threads=thr)))
    return res


def test_measurement_statistics_and_repr():
    m = _measurements()[-1]
    t = np.array([x * 2.1 * 3.0 * 1e-5 / 100 for x in (1.0, 1.02, 0.98, 1.01, 0.99, 1.3)])
    assert m.mean == pytest.approx(t.mean(), rel=1e-12) and m.median == pytest.approx(np.median(t), rel=1e-12)
    assert m.iqr == pytest.approx(np.quantile(t, 0.75) - np.quantile(t, 0.25), rel=1e-12)
    assert m.significant_figures == 1 and m.label == "op" and m.num_threads == 2
    # PyTorch 2.13's text for the same measurement, by hand
    assert re.sub(r"<.*? at 0x[0-9a-f]+>", "<M>", repr(m)) == (
        "<M>\nop: big\nbwd\nsetup: x = 1\n  Median: 633.15 ns\n  IQR:    15.75 ns (625.28 to 641.02)\n"
        "  6 measurements, 100 runs per measurement, 2 threads")
    one = benchmark.Measurement(1, [5e-3], benchmark.TaskSpec("g()\nh()", "a = 1\nb = 2"))
    assert re.sub(r"<.*? at 0x[0-9a-f]+>", "<M>", repr(one)) == (
        "<M>\nstmt:\n  g()\n  h()\n\nsetup:\n  a = 1\n  b = 2\n\n  5.00 ms\n  1 measurement, 1 runs , 1 thread")
    assert benchmark.select_unit(2e-7) == ("ns", 1e-9) and benchmark.select_unit(3.0)[0] == "s"
    assert benchmark.trim_sigfig(3.14159, 2) == pytest.approx(3.1)


def test_compare_tables_match_pytorch():
    assert str(benchmark.Compare(_measurements())) == (
        "[------------- op ------------]\n             |   fwd   |   bwd \n1 threads: --------------------\n"
        "      small  |  100.5  |  211.1\n      big    |  301.5  |  633.1\n2 threads: --------------------\n"
        "      small  |  100.5  |  211.1\n      big    |  301.5  |  633.1\n\nTimes are in nanoseconds (ns).\n")
    c = benchmark.Compare(_measurements())
    c.trim_significant_figures()
    c.highlight_warnings()
    assert str(c) == (
        "[----------- op ----------]\n             |  fwd  |  bwd\n1 threads: ----------------\n"
        "      small  |  100  |  200\n      big    |  300  |  600\n2 threads: ----------------\n"
        "      small  |  100  |  200\n      big    |  300  |  600\n\nTimes are in nanoseconds (ns).\n")
    c.colorize()
    assert "\033[92m" in str(c)
    with pytest.raises(ValueError, match="Expected an instance of `Measurement`"):
        benchmark.Compare([1])


def test_timer_measures_and_syncs_cuda(monkeypatch):
    calls = []
    real_sync = ttorch.cuda.synchronize
    monkeypatch.setattr(ttorch.cuda, "synchronize", lambda *a: (calls.append(1), real_sync(*a)))
    x = ttorch.ones(3)
    t = benchmark.Timer("y = torch.add(x, 1)", setup="z = 0", globals={"x": x}, label="add", description="cpu")
    m = t.timeit(20)
    assert m.number_per_run == 20 and len(m.times) == 1 and m.times[0] > 0
    if ttorch.cuda.is_available():
        assert len(calls) >= 4            # around the warm-up and the timed block
    m = t.blocked_autorange(min_run_time=0.02)
    assert sum(m.raw_times) >= 0.02 and m.median > 0
    m = benchmark.Timer("sum(range(50))").adaptive_autorange(min_run_time=0.01, max_run_time=0.2)
    assert len(m.times) >= 1 and m.mean > 0
    with pytest.raises(ValueError, match="only a `str` stmt"):
        benchmark.Timer(lambda: 1)
    with pytest.raises(NotImplementedError):
        t.repeat()


# --------------------------------------------------------------------------------------- hub
def test_hub_dir(monkeypatch, tmp_path):
    monkeypatch.setattr(ttorch.hub, "_hub_dir", None)
    monkeypatch.setenv("TTORCH_HOME", str(tmp_path / "home"))
    assert ttorch.hub.get_dir() == str(tmp_path / "home" / "hub")
    monkeypatch.delenv("TTORCH_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert ttorch.hub.get_dir() == str(tmp_path / "xdg" / "ttorch" / "hub")
    ttorch.hub.set_dir(str(tmp_path / "mine"))
    assert ttorch.hub.get_dir() == str(tmp_path / "mine")


def test_download_and_load_state_dict_from_url(tmp_path):
    sd = {"w": ttorch.arange(6.).reshape(2, 3), "b": ttorch.tensor([1, 2])}
    src = tmp_path / "src" / "weights.pt"
    src.parent.mkdir()
    ttorch.save(sd, str(src))
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    named = src.parent / f"net-{digest[:8]}.pt"
    named.write_bytes(src.read_bytes())

    dst = tmp_path / "copy.pt"
    ttorch.hub.download_url_to_file(src.as_uri(), str(dst), hash_prefix=digest[:10], progress=False)
    assert dst.read_bytes() == src.read_bytes()
    with pytest.raises(RuntimeError, match=re.escape(f'invalid hash value (expected "ffff", got "{digest}")')):
        ttorch.hub.download_url_to_file(src.as_uri(), str(tmp_path / "bad.pt"), hash_prefix="ffff", progress=False)
    assert not (tmp_path / "bad.pt").exists() and not any(p.name.endswith(".partial") for p in tmp_path.iterdir())

    model_dir = tmp_path / "cache"
    out = ttorch.hub.load_state_dict_from_url(named.as_uri(), model_dir=str(model_dir), progress=False,
                                              check_hash=True)
    np.testing.assert_array_equal(out["w"].numpy(), sd["w"].numpy())
    assert (model_dir / named.name).exists()
    named.unlink()                       # cached: no second download
    out = ttorch.hub.load_state_dict_from_url(named.as_uri(), model_dir=str(model_dir), progress=False)
    np.testing.assert_array_equal(out["b"].numpy(), [1, 2])
    wrong = src.parent / "net-00000000.pt"
    wrong.write_bytes(src.read_bytes())
    with pytest.raises(RuntimeError, match="invalid hash value"):
        ttorch.hub.load_state_dict_from_url(wrong.as_uri(), model_dir=str(model_dir), check_hash=True,
                                            progress=False)
    out = ttorch.hub.load_state_dict_from_url(src.as_uri(), model_dir=str(model_dir), file_name="other.pt",
                                              progress=False)
    assert (model_dir / "other.pt").exists() and set(out) == {"w", "b"}


def test_hub_local_repo(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "helper_mod_for_hub.py").write_text("SCALE = 3\n")
    (repo / "hubconf.py").write_text(
        "dependencies = ['numpy']\n"
        "import ttorch\nfrom helper_mod_for_hub import SCALE\n"
        "def tiny(out_features=2, bias=True):\n    '''A tiny linear model.'''\n"
        "    return ttorch.nn.Linear(SCALE, out_features, bias=bias)\n"
        "def _private():\n    pass\n"
        "NOT_CALLABLE = 1\n")
    m = ttorch.hub.load(str(repo), "tiny", 4, source="local", bias=False)
    assert isinstance(m, ttorch.nn.Linear) and m.weight.shape == (4, 3) and m.bias is None
    assert str(repo) not in sys.path
    with pytest.raises(RuntimeError, match="Cannot find callable nope in hubconf"):
        ttorch.hub.load(str(repo), "nope", source="local")
    with pytest.raises(ValueError, match='Unknown source: "svn"'):
        ttorch.hub.load(str(repo), "tiny", source="svn")
    with pytest.raises(ValueError, match="model should be a string"):
        ttorch.hub.load(str(repo), 3, source="local")
    (repo / "hubconf.py").write_text("dependencies = ['surely_not_installed_pkg_xyz']\ndef tiny():\n    pass\n")
    with pytest.raises(RuntimeError, match="Missing dependencies: surely_not_installed_pkg_xyz"):
        ttorch.hub.load(str(repo), "tiny", source="local")


def test_hub_github_uses_cache_offline(tmp_path, monkeypatch, capsys):
    """A cached owner/repo:ref resolves without network: list and help read its hubconf."""
    monkeypatch.setattr(ttorch.hub, "_hub_dir", str(tmp_path))
    repo = tmp_path / "someone_models_main"
    repo.mkdir()
    (repo / "hubconf.py").write_text("def net():\n    '''Net docs.'''\n    return 1\ndef _hidden():\n    pass\n")
    (tmp_path / "trusted_list").write_text("someone_models\n")
    assert ttorch.hub.list("someone/models:main", skip_validation=True) == ["net"]
    assert ttorch.hub.help("someone/models:main", "net", skip_validation=True) == "Net docs."
    assert ttorch.hub.load("someone/models:main", "net", skip_validation=True) == 1
    assert "Using cache found in" in capsys.readouterr().err


def test_docstring_examples():
    import doctest
    import ttorch.testing._comparison as cmp
    import ttorch.testing._creation as cre
    import ttorch.utils.benchmark.common as bcommon
    import ttorch.utils.benchmark.compare as bcompare
    btimer = sys.modules["ttorch.utils.benchmark.timer"]     # the package's ``timer`` is the clock function
    for mod in (cmp, cre, ttorch.random, ttorch.jit, ttorch.utils.hooks, bcommon, bcompare, btimer):
        res = doctest.testmod(mod, extraglobs={"ttorch": ttorch}, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert res.failed == 0 and res.attempted >= 1, mod.__name__
