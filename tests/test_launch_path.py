"""The real-GPU host path, checked without a GPU: the launch fast path (``ops/_launch.py``) against
a stand-in for Triton's ``JITFunction``/``CompiledKernel``, and the device-memory cache in front of
``cuMemAllocAsync`` (``cuda/_driver.py``) against a stand-in driver. On a GPU the whole suite runs
through both for real."""
import inspect
import types

import pytest

import ttorch
from ttorch.cuda import _driver
from ttorch.ops import _launch as L

from _helpers import FakeCu, fake_real


# ---------------------------------------------------------------------------- launch fast path
class _Compiled:
    """What ``JITFunction.run`` returns: a compiled kernel with ``run``, ``function``, metadata."""

    def __init__(self, log):
        self.log, self.function, self.packed_metadata = log, object(), object()

    def run(self, gx, gy, gz, stream, function, packed, launch_md, enter, exit_, *args):
        assert function is self.function and packed is self.packed_metadata
        self.log.append(("fast", (gx, gy, gz), stream, args))


class _Kernel:
    """A ``JITFunction`` stand-in over a Python signature; the slow path 'compiles' per Triton key."""

    def __init__(self, fn, constexprs=("BLOCK", "ACT")):
        self.signature = inspect.signature(fn)
        self.params = [types.SimpleNamespace(num=i, is_constexpr=name in constexprs)
                       for i, name in enumerate(self.signature.parameters)]
        self.log, self.compiled = [], {}

    def run(self, *args, **kw):         # JITFunction.run: the fast path steps aside when it is wrapped
        raise AssertionError("the stand-in launches through __getitem__")

    def __getitem__(self, grid):
        def call(*args, **meta):
            bound = self.signature.bind(*args, **{k: v for k, v in meta.items() if k in self.signature.parameters})
            bound.apply_defaults()
            self.log.append(("slow", grid, tuple(bound.arguments.values())))
            return self.compiled.setdefault(len(self.compiled), _Compiled(self.log))
        return call


def _kfn(out, x, n, scale, BLOCK, ACT="none"):
    pass


@pytest.fixture
def fast(monkeypatch):
    monkeypatch.setattr(L, "SIMULATED", False)
    monkeypatch.setattr(L, "_FAST", {})
    monkeypatch.setattr(L, "_FAST_ON", [True])
    monkeypatch.setattr(L, "_JIT_RUN", [_Kernel.run])
    monkeypatch.setattr(L, "_CONSTEXPR_AT", {})
    monkeypatch.setattr(L, "_knobs", types.SimpleNamespace(launch_enter_hook=None, launch_exit_hook=None))
    monkeypatch.setattr(_driver, "backend", lambda: types.SimpleNamespace(context=lambda i: None))


def _tensor(n=8, offset=0):
    t = ttorch.zeros(n + offset)
    return t[offset:] if offset else t


def test_second_launch_skips_the_binder_with_all_arguments_in_order(fast):
    k = _Kernel(_kfn)
    out, x = _tensor(), _tensor()
    for _ in range(3):
        L.launch(k, (4,), out, x, 37, 0.5, BLOCK=128, num_warps=4)
    assert [e[0] for e in k.log] == ["slow", "fast", "fast"]
    # the compiled kernel gets every parameter, defaults included, in signature order, on stream 0,
    # tensors as their addresses
    assert k.log[1] == ("fast", (4, 1, 1), 0, (out.data_ptr(), x.data_ptr(), 37, 0.5, 128, "none"))
    L.launch(k, (2, 3), out, x, 37, 0.5, BLOCK=128, ACT="relu", num_warps=4)   # other constexpr: compile
    L.launch(k, (2, 3), out, x, 37, 0.5, BLOCK=128, ACT="relu", num_warps=4)
    assert k.log[-2][0] == "slow"
    assert k.log[-1] == ("fast", (2, 3, 1), 0, (out.data_ptr(), x.data_ptr(), 37, 0.5, 128, "relu"))


@pytest.mark.parametrize("first, second", [
    (37, 1), (37, 48), (48, 40), (37, 1 << 40), (0.5, 2), (True, 37),       # ints: ==1, %16, i32/i64
])
def test_each_triton_specialization_gets_its_own_kernel(fast, first, second):
    k = _Kernel(_kfn)
    out, x = _tensor(), _tensor()
    L.launch(k, (1,), out, x, first, 0.5, BLOCK=128)
    L.launch(k, (1,), out, x, second, 0.5, BLOCK=128)
    assert [e[0] for e in k.log] == ["slow", "slow"]


def test_same_specialization_shares_the_kernel(fast):
    k = _Kernel(_kfn)
    out, x = _tensor(), _tensor()
    L.launch(k, (1,), out, x, 37, 0.5, BLOCK=128)
    L.launch(k, (1,), out, x, 39, 0.25, BLOCK=128)       # odd ints and any float specialize alike
    assert [e[0] for e in k.log] == ["slow", "fast"]


def _kfn_const_dim(out, x, n, E):      # E: tl.constexpr, passed positionally as attention passes its head dim
    pass


def test_positional_constexprs_are_keyed_by_value(fast):
    # 12 and 8 specialize alike as plain ints, but a constexpr is compiled into the kernel: reusing
    # the E=8 kernel for E=12 gave wrong attention outputs on an H100
    k = _Kernel(_kfn_const_dim, constexprs=("E",))
    out, x = _tensor(), _tensor()
    for e in (8, 12, 12, 8):
        L.launch(k, (1,), out, x, 37, e)
    assert [e[0] for e in k.log] == ["slow", "slow", "fast", "fast"]
    assert k.log[2][3][-1] == 12 and k.log[3][3][-1] == 8


def test_a_wrapped_jit_run_takes_tritons_path(fast, monkeypatch):
    k = _Kernel(_kfn)
    out, x = _tensor(), _tensor()
    L.launch(k, (1,), out, x, 37, 0.5, BLOCK=128)
    monkeypatch.setattr(_Kernel, "run", lambda self, *a, **kw: None)    # a test's spy on JITFunction.run
    L.launch(k, (1,), out, x, 37, 0.5, BLOCK=128)
    assert [e[0] for e in k.log] == ["slow", "slow"]


def test_pointer_alignment_and_dtype_are_part_of_the_key(fast):
    k = _Kernel(_kfn)
    out = _tensor()
    L.launch(k, (1,), out, _tensor(), 37, 0.5, BLOCK=128)
    L.launch(k, (1,), out, _tensor(offset=1), 37, 0.5, BLOCK=128)      # 4 bytes in: not 16-aligned
    L.launch(k, (1,), out, _tensor().double(), 37, 0.5, BLOCK=128)
    assert [e[0] for e in k.log] == ["slow", "slow", "slow"]


@pytest.mark.skipif(L._TensorDescriptor is None, reason="this Triton has no host TMA descriptors")
def test_tma_descriptors_take_the_fast_path_keyed_by_dtype_and_block(fast):
    # host TensorDescriptors are unhashable dataclasses: keyed by (dtype, block shape) as Triton
    # specializes them, passed through as they are (the launcher encodes them per call)
    k = _Kernel(_kfn)
    out = _tensor()
    a, h = ttorch.zeros(64, 64), ttorch.zeros(64, 64, dtype=ttorch.float16)
    descs = [L._TensorDescriptor(a, [64, 64], [64, 1], [32, 32]), L._TensorDescriptor(a, [64, 64], [64, 1], [32, 32]),
             L._TensorDescriptor(a, [32, 64], [64, 1], [32, 32]),              # another shape: same kernel
             L._TensorDescriptor(a, [64, 64], [64, 1], [16, 32]),              # another block: its own
             L._TensorDescriptor(h, [64, 64], [64, 1], [32, 32])]              # another dtype: its own
    for d in descs:
        L.launch(k, (1,), out, d, 37, 0.5, BLOCK=128)
    assert [e[0] for e in k.log] == ["slow", "fast", "fast", "slow", "slow"]
    assert k.log[2][3][1] is descs[2]


class _HookChain:                       # Triton 3.6+: hooks live in chains that are never None
    def __init__(self, calls=()):
        self.calls = list(calls)


def test_launch_hooks_and_grid_functions_take_tritons_path(fast, monkeypatch):
    k = _Kernel(_kfn)
    out, x = _tensor(), _tensor()
    L.launch(k, (1,), out, x, 37, 0.5, BLOCK=128)
    L.launch(k, lambda meta: (1,), out, x, 37, 0.5, BLOCK=128)
    for enter, exit_ in ((print, None), (_HookChain([print]), _HookChain()), (_HookChain(), _HookChain([print]))):
        monkeypatch.setattr(L, "_knobs", types.SimpleNamespace(launch_enter_hook=enter, launch_exit_hook=exit_))
        L.launch(k, (1,), out, x, 37, 0.5, BLOCK=128)
    assert [e[0] for e in k.log] == ["slow"] * 5
    monkeypatch.setattr(L, "_knobs", types.SimpleNamespace(launch_enter_hook=_HookChain(),
                                                           launch_exit_hook=_HookChain()))
    L.launch(k, (1,), out, x, 37, 0.5, BLOCK=128)          # empty chains: nobody is listening
    assert k.log[-1][0] == "fast"


class _Launcher:
    """Triton 3.6's ``CudaLauncher`` as the compiled kernel's ``run``: ``launch`` is its C function."""

    def __init__(self, log, scratch=0):
        self.log, self.global_scratch_size, self.profile_scratch_size = log, scratch, 0
        self.launch_cooperative_grid, self.launch_pdl = False, True

    def __call__(self, gx, gy, gz, stream, function, *args):
        self.log.append(("call", (gx, gy, gz), args))

    def launch(self, *args):
        self.log.append(("direct", args))


@pytest.mark.parametrize("scratch", [0, 256])
def test_triton_36_launcher_is_called_directly(fast, monkeypatch, scratch):
    # with no scratch memory to allocate, the fast path calls the launcher's C function itself:
    # grid, stream 0, function, cooperative and PDL flags, two null scratch buffers, the packed
    # metadata, no launch metadata or hooks, then every argument with the key's constexprs and defaults
    monkeypatch.setattr(L, "_LAUNCHER_CLS", [_Launcher])
    k = _Kernel(_kfn)
    launcher = _Launcher(k.log, scratch)
    real_call = k.__getitem__

    def compile_once(grid):
        def call(*args, **meta):
            c = real_call(grid)(*args, **meta)
            c.run = launcher
            return c
        return call
    monkeypatch.setattr(_Kernel, "__getitem__", lambda self, grid: compile_once(grid))
    out, x = _tensor(), _tensor()
    L.launch(k, (4, 2), out, x, 37, 0.5, BLOCK=128)
    L.launch(k, (4, 2), out, x, 37, 0.25, BLOCK=128)
    compiled = k.compiled[0]
    if scratch:                                           # needs its scratch buffer: Triton's __call__
        assert k.log[-1] == ("call", (4, 2, 1), (compiled.packed_metadata, None, None, None, out.data_ptr(),
                                                 x.data_ptr(), 37, 0.25, 128, "none"))
    else:
        assert k.log[-1] == ("direct", (4, 2, 1, 0, compiled.function, False, True, None, None,
                                        compiled.packed_metadata, None, None, None, out.data_ptr(), x.data_ptr(),
                                        37, 0.25, 128, "none"))


def test_a_caller_key_stands_for_the_meta(fast):
    # launch_keyed: the caller's key replaces meta's items in the fast path's key, so a launch with
    # the same key and arguments hits, and another key compiles
    k = _Kernel(_kfn)
    out, x = _tensor(), _tensor()
    meta = dict(BLOCK=128, num_warps=4)
    L.launch_keyed(k, (1,), (out, x, 37, 0.5), meta, "block128")
    L.launch_keyed(k, (1,), (out, x, 37, 0.5), meta, "block128")
    L.launch_keyed(k, (1,), (out, x, 37, 0.5), dict(BLOCK=64, num_warps=4), "block64")
    assert [e[0] for e in k.log] == ["slow", "fast", "slow"] and k.log[1][3][-2] == 128


def test_fast_path_can_be_turned_off_and_checks_the_installed_triton(monkeypatch):
    monkeypatch.setenv("TTORCH_FAST_LAUNCH", "0")
    assert L._fast_path_supported() is False
    monkeypatch.delenv("TTORCH_FAST_LAUNCH")
    # on only where JITFunction.run's source shows the same final call
    from triton.runtime.jit import JITFunction
    src = " ".join(inspect.getsource(JITFunction.run).split())
    assert L._fast_path_supported() == ("kernel.packed_metadata, launch_metadata," in src)
    # the launcher is called directly only where its __call__ is Triton 3.6's (Triton 3.9's is not)
    from triton.backends.nvidia.driver import CudaLauncher
    call = " ".join(inspect.getsource(CudaLauncher.__call__).split())
    assert (L._launcher_class() is CudaLauncher) == ("self.launch_pdl, global_scratch, profile_scratch, *args)" in call
                                                     and "def __call__(self, gridX, gridY, gridZ, stream, function, "
                                                     "*args):" in call)


# ---------------------------------------------------------------------------- device memory cache
def test_freed_blocks_come_back_without_a_driver_call():
    cu = FakeCu()
    r = fake_real(cu)
    p = r.malloc(100, 0)
    r.free(p, 0, 100)
    assert r.malloc(300, 0) == p                 # the same 512-byte class
    assert r.malloc(600, 0) != p and cu.allocs == [512, 1024]
    assert r.malloc(0, 0) == 0


def test_size_classes_bound_the_waste():
    for n in (1, 511, 512, 513, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, 3 << 20, 10**9):
        c = _driver._size_class(n)
        assert c >= n and c - n < (512 if n < 1 << 20 else 2 << 20)


def test_out_of_memory_releases_the_cache_and_retries():
    cu = FakeCu(fail_at=1)
    r = fake_real(cu)
    p = r.malloc(100, 0)
    r.free(p, 0, 100)
    q = r.malloc(5000, 0)                        # first try fails: the cached block goes back, then retry
    assert q and cu.frees == [p] and not any(r.cached.values())


def test_out_of_memory_with_nothing_cached_raises():
    r = fake_real(FakeCu(fail_at=0))
    with pytest.raises(RuntimeError, match="out of memory"):
        r.malloc(100, 0)
