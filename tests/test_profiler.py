"""``ttorch.profiler`` (and the legacy ``ttorch.autograd.profiler``): ops, autograd nodes, user
ranges and kernels recorded with consistent self/total times; PyTorch's schedule semantics; the
table, key averages and Chrome trace; nothing left switched on after the window closes."""
import json

import pytest

import ttorch
from ttorch.ops._op import Op
from ttorch.profiler import ProfilerAction, ProfilerActivity, profile, record_function, schedule

CUDA = ttorch.cuda.is_available()


def _names(prof):
    return [e.name for e in prof.events()]


def test_ops_on_binary_fast_paths_are_recorded():
    # binary ops skip Op.__call__ when nothing is recorded (cpu) or when they write their
    # destination in one kernel (cuda in place): a recording profiler still sees each as its op
    a, b = ttorch.ones(4), ttorch.ones(4)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        a + b
        ttorch.mul(a, 2)
    assert _names(prof) == ["ttorch::add", "ttorch::mul"]
    if CUDA:
        x, y = ttorch.ones(4, device="cuda"), ttorch.ones(4, device="cuda")
        with profile() as prof:
            x.add_(y)
        ops = [e for e in prof.events() if e.name == "ttorch::add"]
        assert len(ops) == 1 and [e.name for e in prof.events() if e.device_type == "cuda"] == \
            ["_ew_contig_kernel[_add]"]


def test_cpu_ops_ranges_and_autograd_nodes():
    x = ttorch.randn(4, 3, requires_grad=True)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        with record_function("forward"):
            y = (x * 2).sum()
        y.backward()
    names = _names(prof)
    assert names[:3] == ["forward", "ttorch::mul", "ttorch::sum"]
    assert "autograd::engine::evaluate_function: MulBackward0" in names
    assert "autograd::engine::evaluate_function: SumBackward0" in names
    fwd = prof.events()[0]
    inner = [e for e in prof.events()[1:3]]
    assert fwd.cpu_time_total >= sum(e.cpu_time_total for e in inner)
    assert fwd.self_cpu_time_total == pytest.approx(fwd.cpu_time_total - sum(e.cpu_time_total for e in inner))
    assert all(e.device_time_total == 0 for e in prof.events())        # no CUDA activity asked for
    avg = {e.key: e for e in prof.key_averages()}
    assert avg["ttorch::mul"].count >= 1 and avg["forward"].count == 1
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=3)
    assert "Self CPU time total" in table and len([r for r in table.splitlines() if "ttorch::" in r or "forward" in r
                                                   or "autograd" in r]) == 3
    with pytest.raises(AttributeError, match="no attribute 'bogus'"):
        prof.key_averages().table(sort_by="bogus")


def test_window_closes_cleanly():
    plain = Op.__call__
    with pytest.raises(ValueError):
        with profile(activities=[ProfilerActivity.CPU]):
            raise ValueError("inside")
    assert Op.__call__ is plain and ttorch._profiling.ACTIVE[0] is None
    with profile(activities=[ProfilerActivity.CPU]):
        with pytest.raises(RuntimeError, match="already enabled"):
            profile(activities=[ProfilerActivity.CPU]).start()
    with record_function("ignored"):                      # no profiler: a no-op
        ttorch.ones(2) + 1


@pytest.mark.skipif(not CUDA, reason="no cuda")
def test_kernels_are_timed_and_credited_to_their_ops(tmp_path):
    a, b = ttorch.randn(64, device="cuda"), ttorch.randn(64, device="cuda")
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA], record_shapes=True) as prof:
        with record_function("work"):
            c = a + b
            (c.relu() * 3).sum()
    ev = prof.events()
    kernels = [e for e in ev if e.device_type == "cuda"]
    assert "_ew_contig_kernel[_add]" in [k.name for k in kernels]
    assert all(k.device_time_total > 0 and k.cpu_time_total == 0 for k in kernels)
    add = next(e for e in ev if e.name == "ttorch::add")
    assert add.input_shapes == ([64], [64])
    assert add.device_time_total == pytest.approx(next(k for k in kernels if k.name == "_ew_contig_kernel[_add]")
                                                  .device_time_total)
    work = next(e for e in ev if e.name == "work")
    assert work.device_time_total == pytest.approx(sum(k.device_time_total for k in kernels))
    table = prof.key_averages().table(sort_by="cuda_time_total")
    assert f"Self CUDA time total" in table
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(str(path))
    trace = json.loads(path.read_text())["traceEvents"]
    assert {t["pid"] for t in trace} == {"cpu", "cuda"} and len(trace) == len(ev)


def test_schedule_records_only_active_steps():
    s = schedule(wait=1, warmup=1, active=2, repeat=1, skip_first=1)
    assert [s(i) for i in range(7)] == [ProfilerAction.NONE, ProfilerAction.NONE, ProfilerAction.WARMUP,
                                        ProfilerAction.RECORD, ProfilerAction.RECORD_AND_SAVE, ProfilerAction.NONE,
                                        ProfilerAction.NONE]
    saved = []
    with profile(activities=[ProfilerActivity.CPU], schedule=s,
                 on_trace_ready=lambda p: saved.append([n for n in _names(p) if n.startswith("step")])) as prof:
        for i in range(7):
            with record_function(f"step{i}"):
                ttorch.ones(2) * i
            prof.step()
    assert saved == [["step3", "step4"]]


def test_record_function_decorator_and_legacy_api():
    @record_function("helper")
    def helper(t):
        return t.exp()

    with ttorch.autograd.profiler.profile() as prof:
        helper(ttorch.ones(3))
    assert _names(prof) == ["helper", "ttorch::exp"]
    assert prof.function_events[0].name == "helper" and prof.self_cpu_time_total > 0
    assert "helper" in prof.table()
    w = ttorch.nn.Parameter(ttorch.ones(3))
    opt = ttorch.optim.SGD([w], lr=0.1)
    w.sum().backward()
    with ttorch.autograd.profiler.profile() as prof:
        opt.step()
    assert prof.function_events[0].name == "Optimizer.step#SGD.step"
    with ttorch.autograd.profiler.profile(enabled=False) as off:
        ttorch.ones(3).exp()
    assert len(off.function_events) == 0
