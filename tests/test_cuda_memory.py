"""The cuda allocator's statistics and PyTorch's memory and device API over them (``ttorch.cuda.memory``,
``ttorch.cuda``'s queries, ``ttorch.accelerator``, ``ttorch.Stream``/``Event``). The simulated device
runs most; the GPU allocator's bookkeeping runs against a stand-in driver."""
import gc
import importlib.util
import random
import warnings

import numpy as np
import pytest

import ttorch
from ttorch.cuda import _driver, memory as M
from ttorch.cuda._stats import DeviceStats, SMALL

from _helpers import FakeCu, fake_real

cuda = ttorch.cuda
needs_sim = pytest.mark.skipif(not (cuda.is_available() and _driver.SIMULATED), reason="the simulated device")

_STATS = ("allocation", "segment", "active", "inactive_split", "allocated_bytes", "reserved_bytes", "active_bytes",
          "inactive_split_bytes", "requested_bytes")
_KEYS = ({f"{s}.{p}.{m}" for s in _STATS for p in ("all", "large_pool", "small_pool")
          for m in ("current", "peak", "allocated", "freed")}
         | {f"oversize_{s}.{m}" for s in ("allocations", "segments") for m in ("current", "peak", "allocated", "freed")}
         | {"num_alloc_retries", "num_ooms", "max_split_size", "num_sync_all_streams", "num_device_alloc",
            "num_device_free", "num_oom_rejections"})


@pytest.fixture
def clean():
    """A quiet allocator: no garbage waiting, accumulated stats and peaks restarted, no fraction."""
    gc.collect()
    cuda.reset_accumulated_memory_stats()
    cuda.reset_peak_memory_stats()
    yield
    _driver.backend().limit[0] = None
    M._fractions.clear()
    cuda.set_sync_debug_mode(0)


def _s():
    return cuda.memory_stats()


# ----------------------------------------------------------------------------------------- statistics
def test_fold_matches_counting_one_by_one():
    """The log replayed with NumPy gives what counting each alloc and free in turn gives."""
    rng = random.Random(3)
    st = DeviceStats(_driver._size_classes)
    live, ref = [], {p: [[0] * 3, [0] * 3, [0] * 3] for p in ("small_pool", "large_pool", "all")}  # cur, tot, peak
    for step in range(3000):
        if live and rng.random() < 0.45:
            n = live.pop(rng.randrange(len(live)))
            st.log.append(-n)
            sign = -1
        else:
            n = rng.choice([1, 6, 4000, (1 << 20) - 1, 1 << 20, 3 << 20, rng.randrange(1, 5 << 20)])
            live.append(n)
            st.log.append(n)
            sign = 1
        vals = (sign, sign * _driver._size_class(n), sign * n)
        for pool in ("small_pool" if n < SMALL else "large_pool", "all"):
            cur, tot, peak = ref[pool]
            for k, v in enumerate(vals):
                cur[k] += v
                tot[k] += max(v, 0)
                peak[k] = max(peak[k], cur[k])
        if step % 700 == 0:
            st.fold()               # folds at any point give the same result
    nested = st.nested()
    for pool, (cur, tot, peak) in ref.items():
        for k, name in enumerate(("allocation", "allocated_bytes", "requested_bytes")):
            got = nested[name][pool]
            assert (got["current"], got["peak"], got["allocated"], got["freed"]) == \
                (cur[k], peak[k], tot[k], tot[k] - cur[k]), (name, pool)


def test_fold_under_way_leaves_the_log_to_the_next():
    st = DeviceStats(_driver._size_classes)
    st.log.append(100)
    with st.lock:                   # a fold under way (here: ours): the allocator's fold skips
        st.fold(False)
        assert list(st.log) == [100]
    assert st.allocated == 512 and not st.log


@needs_sim
def test_stats_keys_and_order(clean):
    s = _s()
    assert set(s) == _KEYS and list(s) == sorted(s)
    nested = cuda.memory_stats_as_nested_dict()
    assert nested["allocated_bytes"]["all"]["current"] == s["allocated_bytes.all.current"]
    assert s["max_split_size"] == -1
    for k in ("inactive_split", "inactive_split_bytes", "oversize"):      # ttorch never splits blocks
        assert all(v == 0 for key, v in s.items() if key.startswith(k))


@needs_sim
def test_blocks_pools_and_rounding(clean):
    before = _s()
    a = ttorch.empty(3, dtype=ttorch.float16, device="cuda")        # 6 bytes: an 8-byte block, small pool
    b = ttorch.empty(300000, dtype=ttorch.float32, device="cuda")   # 1.2 MB: large pool
    s = _s()

    def d(key):
        return s[key] - before[key]
    assert d("requested_bytes.small_pool.current") == 6 and d("allocated_bytes.small_pool.current") == 8
    assert d("allocated_bytes.large_pool.current") == 1200000 and d("allocation.all.current") == 2
    assert d("allocated_bytes.all.current") == cuda.memory_allocated() - before["allocated_bytes.all.current"]
    assert s["allocated_bytes.all.current"] == s["active_bytes.all.current"]
    # the simulated device caches nothing: a buffer is its own segment, reserved equals allocated
    assert s["reserved_bytes.all.current"] == s["allocated_bytes.all.current"] == cuda.memory_reserved()
    assert d("segment.large_pool.current") == 1 and d("num_device_alloc") == 2
    del a, b
    gc.collect()
    s = _s()
    assert s["allocated_bytes.all.current"] == before["allocated_bytes.all.current"]
    assert d("allocated_bytes.all.freed") == 1200008 and d("allocation.all.allocated") == 2
    assert s["allocated_bytes.large_pool.peak"] >= 1200000 and d("num_device_free") == 2


@needs_sim
def test_peaks_and_resets(clean):
    base = cuda.memory_allocated()
    x = ttorch.empty(1 << 18, device="cuda")                 # 1 MiB
    del x
    gc.collect()
    y = ttorch.empty(10, device="cuda")
    assert cuda.max_memory_allocated() == base + (1 << 20)
    assert cuda.max_memory_reserved() == base + (1 << 20)
    cuda.reset_peak_memory_stats()
    assert cuda.max_memory_allocated() == cuda.memory_allocated() == base + 40
    cuda.reset_accumulated_memory_stats()
    s = _s()
    assert s["allocation.all.allocated"] == s["allocation.all.freed"] == 0 and s["num_device_alloc"] == 0
    del y
    gc.collect()
    assert _s()["allocation.all.freed"] == 1


@needs_sim
def test_many_allocations_fold_exactly(clean):
    base = cuda.memory_allocated()
    for _ in range(DeviceStats.FOLD_AT // 2 + 50):        # more log entries than a fold holds
        ttorch.empty(2, device="cuda")                      # made and freed at once
    keep = [ttorch.empty(2, device="cuda") for _ in range(3)]
    assert cuda.memory_allocated() == base + 24 and cuda.max_memory_allocated() == base + 24
    assert _s()["allocation.all.allocated"] == DeviceStats.FOLD_AT // 2 + 53
    del keep


@needs_sim
def test_deprecated_aliases_warn(clean):
    with pytest.warns(FutureWarning, match="renamed to `torch.cuda.memory_reserved`"):
        assert cuda.memory_cached() == cuda.memory_reserved()
    with pytest.warns(FutureWarning, match="renamed to `torch.cuda.max_memory_reserved`"):
        assert cuda.max_memory_cached() == cuda.max_memory_reserved()
    with pytest.warns(FutureWarning, match="reset_max_memory_allocated now calls"):
        cuda.reset_max_memory_allocated()
    with pytest.warns(FutureWarning, match="reset_max_memory_cached now calls"):
        cuda.reset_max_memory_cached()


def test_summary_layout(monkeypatch):
    flat = M._empty_flat()
    flat.update({"allocated_bytes.all.current": 3 << 30, "allocated_bytes.large_pool.current": (3 << 30) - 5000,
                 "allocated_bytes.small_pool.current": 5000, "allocation.all.peak": 2_000_000, "num_ooms": 2})
    monkeypatch.setattr(M, "memory_stats", lambda device=None: flat)
    text = M.memory_summary(0)
    lines = text.splitlines()
    assert all(len(line) == 77 and line[0] == line[-1] == "|" for line in lines) and len(lines) == 47
    assert lines[1] == "|                  PyTorch CUDA memory summary, device ID 0                 |"
    assert lines[3] == "|            CUDA OOMs: 2            |        cudaMalloc retries: 0         |"
    # the pool rows take the unit the "all" row's value picked (here MiB, so 5000 B shows as 0)
    assert lines[7] == "| Allocated memory      |   3072 MiB |      0 B   |      0 B   |      0 B   |"
    assert lines[9] == "|       from small pool |      0 MiB |      0 B   |      0 B   |      0 B   |"
    # counts of 750 thousand and more show in thousands
    assert lines[27] == "| Allocations           |       0    |    2000 K  |       0    |       0    |"
    short = M.memory_summary(0, abbreviated=True).splitlines()
    assert len(short) == 29 and not any("from large pool" in line for line in short)


@needs_sim
def test_snapshot_segments(clean):
    before = sum(s["allocated_size"] for s in cuda.memory_snapshot())
    x = ttorch.empty(250, device="cuda")
    segs = [s for s in cuda.memory_snapshot() if s["address"] == x.data_ptr()]
    assert len(segs) == 1
    seg = segs[0]
    assert set(seg) == {"device", "address", "total_size", "allocated_size", "active_size", "requested_size", "stream",
                        "segment_type", "segment_pool_id", "is_expandable", "frames", "blocks"}
    assert (seg["total_size"], seg["requested_size"], seg["segment_type"]) == (1000, 1000, "small")
    (blk,) = seg["blocks"]
    assert blk == {"address": x.data_ptr(), "size": 1000, "requested_size": 1000, "state": "active_allocated",
                   "frames": []}
    assert sum(s["allocated_size"] for s in cuda.memory_snapshot()) == before + 1000


@needs_sim
def test_memory_fraction_is_enforced(clean):
    with pytest.raises(TypeError, match="must be `float`"):
        cuda.set_per_process_memory_fraction(1)
    with pytest.raises(ValueError, match="Invalid fraction value: 1.5. Allowed range: 0~1"):
        cuda.set_per_process_memory_fraction(1.5)
    assert cuda.get_per_process_memory_fraction() == 1.0
    total = cuda.get_device_properties(0).total_memory
    before = cuda.memory_allocated()
    frac = (cuda.memory_reserved() + (1 << 20)) / total
    cuda.set_per_process_memory_fraction(frac)
    assert cuda.get_per_process_memory_fraction() == frac
    small = ttorch.empty(1000, device="cuda")           # under the limit
    before = cuda.memory_allocated()
    with pytest.raises(ttorch.OutOfMemoryError,
                       match=r"^CUDA out of memory\. Tried to allocate 2\.00 MiB\. GPU 0 has a total capacity of "
                             r"[\d.]+ GiB of which [\d.]+ (GiB|MiB) is free\. [\d.]+ \w+ allowed; Of the allocated "
                             r"memory [\d.]+ \w+ is allocated by ttorch, and 0 bytes is reserved by ttorch but "
                             r"unallocated\.$"):
        ttorch.empty(1 << 19, device="cuda")
    assert _s()["num_ooms"] == 1 and cuda.memory_allocated() == before   # the failed allocation left no trace
    cuda.set_per_process_memory_fraction(1.0)
    with pytest.raises(cuda.OutOfMemoryError, match=r"Tried to allocate [\d.]+ GiB\. .* allowed; "):
        ttorch.empty(total // 4 + 8, device="cuda")                     # past fraction 1.0: the whole memory
    _driver.backend().limit[0] = None
    with pytest.raises(cuda.OutOfMemoryError, match="Tried to allocate 8388608.00 GiB"):
        ttorch.empty(1 << 50, dtype=ttorch.float64, device="cuda")      # numpy's MemoryError, as the device's
    assert ttorch.empty(1 << 19, device="cuda").numel() == 1 << 19
    del small


@needs_sim
def test_raw_allocations_and_info(clean):
    before = cuda.memory_allocated()
    p = cuda.caching_allocator_alloc(100)
    assert p and cuda.memory_allocated() == before + 104
    cuda.caching_allocator_delete(p)
    assert cuda.memory_allocated() == before
    with pytest.raises(RuntimeError, match="invalid device pointer"):
        cuda.caching_allocator_delete(p)
    with pytest.raises(TypeError, match="Invalid type for stream argument"):
        cuda.caching_allocator_alloc(8, stream="s")
    free, total = cuda.mem_get_info()
    assert 0 < free <= total == cuda.get_device_properties().total_memory
    hs = cuda.host_memory_stats()
    assert hs["allocated_bytes.current"] == 0 and hs["num_host_alloc"] == 0 and list(hs) == sorted(hs)


# ---------------------------------------------------------------- the GPU allocator, stand-in driver
def test_gpu_allocator_counts_blocks_and_segments():
    r = fake_real(FakeCu())
    st = r.stats[0]
    p = r.malloc(1000, 0)
    q = r.malloc(3 << 20, 0)                            # 4 MiB class
    assert (st.allocated, st.reserved) == (1024 + (4 << 20), 1024 + (4 << 20))
    r.free(p, 0, 1000)
    assert (st.allocated, st.reserved) == (4 << 20, 1024 + (4 << 20))     # cached: still reserved
    assert r.malloc(700, 0) == p and st.num_device_alloc == 2               # reused, no driver call
    r.free(p, 0, 700)
    r.free(q, 0, 3 << 20)
    assert r.release_cached(0) and st.reserved == 0 and st.num_device_free == 2
    n = st.nested()
    assert n["segment"]["large_pool"] == {"current": 0, "peak": 1, "allocated": 1, "freed": 1}
    assert n["requested_bytes"]["small_pool"]["allocated"] == 1700
    assert n["allocated_bytes"]["all"]["peak"] == 1024 + (4 << 20)


def test_gpu_allocator_retries_then_raises():
    r = fake_real(FakeCu(fail_at=1))
    p = r.malloc(100, 0)
    r.free(p, 0, 100)
    assert r.malloc(5000, 0) and r.stats[0].num_alloc_retries == 1
    r = fake_real(FakeCu(fail_at=0))
    with pytest.raises(ttorch.cuda.OutOfMemoryError, match=r"Tried to allocate 512 bytes\. GPU 0 has a total "
                                                           r"capacity of 80\.00 GiB of which 1024\.00 MiB is free\."):
        r.malloc(100, 0)
    assert r.stats[0].num_ooms == 1


def test_gpu_allocator_limit_releases_cache_first():
    r = fake_real(FakeCu())
    r.limit[0] = (2 << 20) + (256 << 10)
    p = r.malloc(2 << 20, 0)
    r.free(p, 0, 2 << 20)
    assert r.malloc(1 << 19, 0) and r.stats[0].num_alloc_retries == 1      # the cached 2 MiB went back
    with pytest.raises(ttorch.OutOfMemoryError, match=r"2\.25 MiB allowed; "):
        r.malloc(3 << 20, 0)


def test_gpu_allocator_cache_can_be_turned_off():
    cu = FakeCu()
    r = fake_real(cu)
    p = r.malloc(100, 0)
    r.free(p, 0, 100)
    r.set_caching(False)                    # what was cached goes back, and every free from now on
    assert cu.frees == [p] and r.stats[0].reserved == 0
    q = r.malloc(100, 0)
    r.free(q, 0, 100)
    assert cu.frees == [p, q] and not any(r.cached.values())
    r.set_caching(True)
    q = r.malloc(100, 0)
    r.free(q, 0, 100)
    assert len(cu.frees) == 2 and r.stats[0].reserved == 512
    assert cuda.get_allocator_backend() == "native"
    with cuda.caching_allocator_disabled():
        assert not M._caching[0]
    assert M._caching[0]


# ---------------------------------------------------------------------------------- device queries
@needs_sim
def test_device_queries():
    assert cuda.is_bf16_supported() and cuda.is_bf16_supported(including_emulation=False)
    assert cuda.is_tf32_supported() and cuda.is_initialized()
    assert cuda.get_arch_list() == ["sm_80", "sm_90"]
    assert cuda.get_gencode_flags() == ("-gencode compute=compute_80,code=sm_80 "
                                        "-gencode compute=compute_90,code=sm_90")
    cuda.init()
    gens = cuda.default_generators
    assert len(gens) == cuda.device_count() == 1
    cuda.seed_all()
    assert gens[0].initial_seed() == cuda.initial_seed()
    assert cuda.can_device_access_peer(0, 0) is False
    with pytest.raises(AssertionError, match="Invalid peer device id"):
        cuda.can_device_access_peer(0, 3)
    assert cuda.is_current_stream_capturing() is False


def test_nvml_queries_need_pynvml():
    if importlib.util.find_spec("pynvml") is not None:
        pytest.skip("pynvml is installed")
    for f in (cuda.utilization, cuda.temperature, cuda.power_draw, cuda.clock_rate, cuda.device_memory_used,
              cuda.memory_usage):
        with pytest.raises(ModuleNotFoundError, match="nvidia-ml-py does not seem to be installed"):
            f()
    assert cuda.list_gpu_processes() == "pynvml module not found, please install nvidia-ml-py"


@needs_sim
def test_sync_debug_mode(clean):
    x = ttorch.ones(3, device="cuda")
    with pytest.raises(RuntimeError, match="invalid value of debug_mode"):
        cuda.set_sync_debug_mode("loud")
    cuda.set_sync_debug_mode("warn")
    assert cuda.get_sync_debug_mode() == 1
    with pytest.warns(UserWarning, match="called a synchronizing CUDA operation"):
        x.sum().item()
    cuda.set_sync_debug_mode(2)
    with pytest.raises(RuntimeError, match="called a synchronizing CUDA operation"):
        x.cpu()
    cuda.synchronize()                      # an explicit wait is never reported
    cuda.set_sync_debug_mode("default")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert x.tolist() == [1.0, 1.0, 1.0]


def test_runtime_errors_and_graphs():
    with pytest.raises(RuntimeError, match="no CUDA runtime"):
        cuda.cudart()
    cuda.check_error(0)
    with pytest.raises(cuda.CudaError, match=r"^out of memory \(2\)$"):
        cuda.check_error(2)
    for make in (cuda.CUDAGraph, lambda: cuda.graph(None), lambda: cuda.make_graphed_callables(abs, ()),
                 ttorch.accelerator.Graph):
        with pytest.raises(RuntimeError, match="cannot capture CUDA graphs"):
            make()
    assert issubclass(ttorch.OutOfMemoryError, RuntimeError) and ttorch.OutOfMemoryError is cuda.OutOfMemoryError
    assert issubclass(ttorch.AcceleratorError, RuntimeError) and ttorch.AcceleratorError is cuda.AcceleratorError


# ------------------------------------------------------------------------ accelerator, Stream, Event
@needs_sim
def test_accelerator(clean):
    acc = ttorch.accelerator
    assert acc.current_accelerator() == ttorch.device("cuda") and acc.current_accelerator().index is None
    assert acc.is_available() and acc.device_count() == 1 and acc.current_device_index() == 0
    acc.set_device_index(0)
    acc.set_device_index("cuda:0")
    with pytest.raises(ValueError, match="cpu doesn't match the current accelerator cuda"):
        acc.set_device_index("cpu")
    with pytest.raises(ValueError, match="Expected a torch.device with a specified index or an integer"):
        acc.set_device_index("cuda")
    with pytest.warns(FutureWarning, match="Use `current_device_index` instead"):
        assert acc.current_device_idx() == 0
    with acc.device_index(0):
        assert acc.current_device_index() == 0
    with acc.device_index(None):
        pass
    acc.synchronize()
    s = acc.current_stream()
    assert isinstance(s, ttorch.Stream) and s.device == ttorch.device("cuda", 0)
    acc.set_stream(s)
    x = ttorch.empty(10, device="cuda")
    assert acc.memory_allocated() == cuda.memory_allocated() and acc.max_memory_reserved() == cuda.max_memory_reserved()
    assert acc.memory_stats() == cuda.memory_stats() and acc.get_memory_info(0)[1] == cuda.mem_get_info()[1]
    caps = acc.get_device_capability()
    assert ttorch.float32 in caps["supported_dtypes"] and ttorch.bfloat16 in caps["supported_dtypes"]
    del x


def test_accelerator_absent(monkeypatch):
    monkeypatch.setattr(ttorch.cuda, "is_available", lambda: False)
    acc = ttorch.accelerator
    assert acc.current_accelerator() is None and not acc.is_available() and acc.device_count() == 0
    for f in (acc.current_device_index, acc.synchronize, acc.current_stream):
        with pytest.raises(RuntimeError, match="Cannot access accelerator device when none is available."):
            f()
    assert ttorch.get_device_module() is ttorch.cpu and ttorch.Stream().device_type == "cpu"


@needs_sim
def test_stream_and_event():
    s = ttorch.Stream(device="cuda")
    assert repr(s) == "torch.Stream device_type=cuda, device_index=0, stream_id=0"
    assert s.query() and s == ttorch.Stream() and hash(s) == hash(ttorch.Stream("cuda:0"))
    assert isinstance(cuda.Stream(), ttorch.Stream) and isinstance(cuda.current_stream(), ttorch.Stream)
    with s:
        y = ttorch.ones(4, device="cuda") * 2
    start = s.record_event(ttorch.Event(enable_timing=True))
    end = ttorch.Event("cuda", enable_timing=True)
    end.record(s)
    end.synchronize()
    assert start.elapsed_time(end) >= 0 and end.query() and y.sum().item() == 8.0
    assert repr(end).startswith("torch.Event device_type=cuda, device_index=0, event_flag=1")
    with pytest.raises(ValueError, match="Both events must be recorded"):
        ttorch.Event("cuda").elapsed_time(end)
    c = ttorch.Stream("cpu")
    assert repr(c) == "torch.Stream device_type=cpu, device_index=-1, stream_id=0" and c.query()
    with pytest.raises(RuntimeError, match="Backend doesn't support getting stream native handle."):
        c.native_handle
    with pytest.raises(RuntimeError, match="cpu backend doesn't support events."):
        ttorch.Event("cpu").record()
    assert ttorch.get_device_module("cuda") is cuda and ttorch.get_device_module(ttorch.device("cpu")) is ttorch.cpu
    assert ttorch.get_device_module() is cuda
    with pytest.raises(RuntimeError, match="Invalid value of device '3'"):
        ttorch.get_device_module(3)
    assert np.isfinite(start.elapsed_time(end))
