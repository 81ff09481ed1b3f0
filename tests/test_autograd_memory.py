"""Graphs are released as soon as nothing refers to them: by reference counting, with no
cycles left for the garbage collector, and memory stays flat over many training steps."""
import gc
import weakref

import ttorch


def _mlp(device):
    g = ttorch.Generator().manual_seed(0)
    w1 = (ttorch.randn(8, 16, generator=g) * 0.3).to(device).requires_grad_()
    w2 = (ttorch.randn(16, 1, generator=g) * 0.3).to(device).requires_grad_()
    x = ttorch.randn(32, 8, generator=g).to(device)
    y = x[:, :1].sin()

    def step():
        h = (x @ w1).tanh()
        loss = ((h @ w2 - y) ** 2).mean()
        loss.backward()
        with ttorch.no_grad():
            for w in (w1, w2):
                w -= 0.1 * w.grad
                w.grad = None
        return loss
    return step


def test_graph_freed_without_the_garbage_collector(device):
    step = _mlp(device)
    gc.collect()
    gc.disable()
    try:
        for backward in (True, False):
            x = ttorch.ones(3, device=device, requires_grad=True)
            y = (x.exp() * x).tanh().sum()        # exp and tanh save their outputs
            nodes = [weakref.ref(y.grad_fn), weakref.ref(y.grad_fn.next_functions[0][0])]
            if backward:
                y.backward()
            del y
            assert all(n() is None for n in nodes), f"graph kept alive (backward={backward})"
        loss = weakref.ref(step())
        assert loss() is None
    finally:
        gc.enable()


def _rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def test_memory_flat_over_1000_steps():
    step = _mlp("cpu")
    for _ in range(50):
        step()
    gc.collect()
    objects, rss = len(gc.get_objects()), _rss()
    for _ in range(1000):
        step()
    gc.collect()
    grown = len(gc.get_objects()) - objects
    assert grown < 50, f"{grown} more live Python objects after 1000 steps"
    assert _rss() - rss < 32 << 20, f"resident memory grew by {(_rss() - rss) >> 20} MiB"
