"""``ttorch.autograd.profiler``: PyTorch's older profiler API, over ``ttorch.profiler``::

    with ttorch.autograd.profiler.profile(use_cuda=True) as prof:
        model(x).sum().backward()
    print(prof.key_averages().table(sort_by="self_cpu_time_total"))
"""
from ..profiler import EventList, FunctionEvent, FunctionEventAvg, ProfilerActivity, record_function
from ..profiler import profile as _profile

__all__ = ["profile", "record_function", "EventList", "FunctionEvent", "FunctionEventAvg"]


class profile(_profile):
    """The legacy spelling: ``enabled``, ``use_cuda`` / ``use_device="cuda"`` and ``use_cpu`` pick what
    is recorded; ``function_events``, ``table()`` and ``self_cpu_time_total`` read it."""

    def __init__(self, enabled=True, *, use_cuda=False, use_device=None, record_shapes=False, with_flops=False,
                 profile_memory=False, with_stack=False, with_modules=False, use_kineto=False, use_cpu=True,
                 experimental_config=None, acc_events=False, custom_trace_id_callback=None):
        acts = ([ProfilerActivity.CPU] if use_cpu else []) + \
            ([ProfilerActivity.CUDA] if use_cuda or use_device == "cuda" else [])
        super().__init__(activities=acts, record_shapes=record_shapes, acc_events=acc_events)
        self.enabled = enabled

    def __enter__(self):
        return self.start() if self.enabled else self

    @property
    def function_events(self):
        return self.events()

    def table(self, sort_by=None, row_limit=100, header=None, top_level_events_only=False, **kw):
        return self.events().table(sort_by=sort_by, row_limit=row_limit, header=header, **kw)

    @property
    def self_cpu_time_total(self):
        return sum(e.self_cpu_time_total for e in self.events())
