"""The ``__torch_function__`` protocol in ttorch's own functions, methods, operators and properties, and
``TorchFunctionMode``s (each behaviour checked by hand against PyTorch 2.13: the funcs a handler sees, the result
types, the dispatch order, the errors)."""
import numpy as np
import pytest

import ttorch
import ttorch.nn.functional as F
from ttorch import overrides as O
from ttorch.overrides import TorchFunctionMode, BaseTorchFunctionMode


def _np(t):
    return np.asarray(ttorch.Tensor.tolist(t.detach()), dtype=np.float64) if isinstance(t, ttorch.Tensor) else t


class Logged(ttorch.Tensor):
    calls = []

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        cls.calls.append(func)
        return super().__torch_function__(func, types, args, kwargs)


def _logged(device="cpu", data=(1.0, -2.0, 3.0)):
    return ttorch.tensor(list(data), device=device).as_subclass(Logged)


def test_subclass_sees_functions_methods_operators(device):
    m = _logged(device)
    T = ttorch.Tensor
    cases = [(lambda: ttorch.add(m, 1), ttorch.add, [2, -1, 4]), (lambda: m.add(1), T.add, [2, -1, 4]),
             (lambda: m + 1, T.add, [2, -1, 4]), (lambda: 1 + m, T.add, [2, -1, 4]),
             (lambda: m * 2, T.mul, [2, -4, 6]), (lambda: 1 - m, T.__rsub__, [0, 3, -2]),
             (lambda: -m, T.neg, [-1, 2, -3]), (lambda: F.relu(m), F.relu, [1, 0, 3]), (lambda: m.exp(), T.exp, None)]
    for fn, func, want in cases:
        Logged.calls.clear()
        r = fn()
        assert Logged.calls == [func] and type(r) is Logged
        if want is not None:
            np.testing.assert_allclose(_np(r), want)
    Logged.calls.clear()
    assert type(m.sum()) is Logged and Logged.calls == [T.sum]


def test_subclass_more_results(device):
    m = _logged(device)
    w = ttorch.tensor([[1.0, 2.0, 3.0], [0.5, 0.0, -1.0]], device=device)
    Logged.calls.clear()
    y = F.linear(m, w)
    assert Logged.calls == [F.linear] and type(y) is Logged
    np.testing.assert_allclose(_np(y), _np(w) @ [1, -2, 3])
    Logged.calls.clear()
    assert type(m @ m) is Logged and Logged.calls == [ttorch.Tensor.matmul]
    Logged.calls.clear()
    assert type(m[1]) is Logged and Logged.calls == [ttorch.Tensor.__getitem__]
    assert type(ttorch.cat([m, w[0]])) is Logged and type(ttorch.stack([w[0], m])) is Logged
    assert type(w[0].add(m)) is Logged and type(w[0] * m) is Logged     # a plain tensor's method, a subclass arg
    mx = m.max(0)
    assert type(mx.values) is Logged and type(mx.indices) is Logged and int(mx.indices) == 2
    assert [type(p) for p in m.split(1)] == [Logged] * 3 and [type(p) for p in m] == [Logged] * 3
    Logged.calls.clear()
    assert m.shape == (3,) and len(Logged.calls) == 1 and Logged.calls[0].__name__ == "__get__"
    assert type(m.T) is Logged and m.tolist() == [1.0, -2.0, 3.0]
    r = repr(ttorch.zeros(2, 2, device=device).as_subclass(Logged))
    want = "Logged([[0., 0.],\n        [0., 0.]]" + (", device='cuda:0')" if device == "cuda" else ")")
    assert r == want and f"{m[:1]}".startswith("Logged([1.]")


def test_subclass_in_place_and_autograd():
    m = _logged()
    assert m.add_(1) is m and m.tolist() == [2.0, -1.0, 4.0]
    assert m.requires_grad_() is m and m.requires_grad and m.is_leaf
    w = ttorch.tensor([[1.0, 2.0, 3.0], [0.5, 0.0, -1.0]], requires_grad=True)
    y = F.linear(m, w)
    assert type(y) is Logged and y.grad_fn is not None
    (y * y).sum().backward()        # d/dm sum((w m)^2) = 2 w^T (w m)
    wm = _np(w) @ [2, -1, 4]
    np.testing.assert_allclose(_np(m.grad), 2 * _np(w).T @ wm)
    np.testing.assert_allclose(_np(w.grad), 2 * np.outer(wm, [2, -1, 4]))
    assert type(m.grad) is ttorch.Tensor        # a stored field: not converted (get_default_nowrap_functions)


def test_construct_and_make_subclass():
    class Plain(ttorch.Tensor):
        pass
    p = Plain([1.0, 2.0])
    assert type(p) is Plain and p.dtype is ttorch.float32 and type(p + 1) is Plain
    q = ttorch.Tensor._make_subclass(Plain, ttorch.ones(2), True)
    assert type(q) is Plain and q.requires_grad and q.is_leaf
    (q * q).sum().backward()
    np.testing.assert_allclose(_np(q.grad), [2, 2])
    with pytest.raises(TypeError, match="use ttorch.tensor"):
        ttorch.Tensor([1.0])

    class Meta(ttorch.Tensor):      # the pattern of PyTorch's "extending torch" notes
        @staticmethod
        def __new__(cls, x, extra, *args, **kwargs):
            return super().__new__(cls, x, *args, **kwargs)

        def __init__(self, x, extra):
            self.extra = extra
    t = Meta(ttorch.tensor([1.0, 2.0]), "info")
    assert type(t) is Meta and t.extra == "info" and isinstance(t, ttorch.Tensor) and (t * 2).tolist() == [2.0, 4.0]


def test_disable_torch_function():
    m = _logged()
    Logged.calls.clear()
    with ttorch.DisableTorchFunctionSubclass():
        r = [m + 1, ttorch.add(m, 1), F.linear(m, ttorch.ones(2, 3)), m @ m, m.T, m.sum()]
    assert Logged.calls == [] and all(type(x) is ttorch.Tensor for x in r)
    np.testing.assert_allclose(_np(r[2]), [2, 2])
    with ttorch.DisableTorchFunction():
        assert type(m * 2) is ttorch.Tensor and Logged.calls == []
        assert not ttorch._C._is_torch_function_enabled() and ttorch._C._is_torch_function_all_disabled()
    assert ttorch._C.DisableTorchFunctionSubclass is ttorch.DisableTorchFunctionSubclass

    class Off(ttorch.Tensor):
        __torch_function__ = ttorch._C._disabled_torch_function_impl
    o = ttorch.ones(2).as_subclass(Off)
    assert type(o + 1) is ttorch.Tensor and not O.has_torch_function((o,))


class Duck:
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        return ("duck", func, types, len(args))


class Declines:
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        return NotImplemented


def test_duck_typed_object():
    d, t = Duck(), ttorch.ones(2)
    assert ttorch.add(d, 1) == ("duck", ttorch.add, (Duck,), 2)
    assert ttorch.add(t, d)[0] == "duck" and ttorch.mul(2, d)[1] is ttorch.mul
    assert ttorch.exp(d)[1] is ttorch.exp and ttorch.where(d, t, t)[3] == 3 and ttorch.clamp(d, 0, 1)[1] is ttorch.clamp
    with pytest.raises(TypeError, match="Multiple dispatch failed for 'ttorch.add'; all __torch_function__ handlers "
                       "returned NotImplemented:\n\n  - tensor subclass <class '.*Declines'>"):
        ttorch.add(Declines(), 1)
    with pytest.raises(TypeError, match="no implementation found for 'ttorch.add'"):    # the Python-level message
        O.handle_torch_function(ttorch.add, (Declines(),), Declines(), 1)
    with ttorch.DisableTorchFunctionSubclass(), pytest.raises(TypeError, match="must be Tensor, not Duck"):
        ttorch.add(d, 1)


class LogMode(TorchFunctionMode):
    def __init__(self, tag="", log=None):
        self.tag, self.log = tag, [] if log is None else log

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.log.append((self.tag, func.__name__, O._get_current_function_mode()))
        return func(*args, **(kwargs or {}))


def test_mode_logs_and_restores():
    a = ttorch.tensor([1.0, -2.0], requires_grad=True)
    add, shape = ttorch.Tensor.add, ttorch.Tensor.__dict__["shape"]
    with LogMode() as mode:
        assert O._get_current_function_mode() is mode and O.has_torch_function((a,))
        y = F.relu(a * 2) + ttorch.zeros(2)
        _ = a.shape
        y.sum().backward()
    assert [n for _, n, _ in mode.log] == ["mul", "relu", "zeros", "add", "__get__", "sum", "backward"]
    assert all(m is None for _, _, m in mode.log)       # the mode is off while its handler runs
    np.testing.assert_allclose(_np(a.grad), [2, 0])
    assert ttorch.Tensor.add is add and ttorch.Tensor.__dict__["shape"] is shape and not O.has_torch_function((a,))
    assert O._get_current_function_mode() is None and O._get_current_function_mode_stack() == []


def test_mode_overrides_and_nests():
    class Const(BaseTorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            if func is ttorch.add:
                return "overridden"
            return super().__torch_function__(func, types, args, kwargs)
    with Const():
        assert ttorch.add(ttorch.ones(1), 1) == "overridden"
        assert (ttorch.ones(1) * 3).tolist() == [3.0]
        assert ttorch.ones(1) + 1 == "overridden"   # ttorch.Tensor.add is ttorch.add (PyTorch: two functions)
    log = []
    with LogMode("outer", log) as outer, LogMode("inner", log) as inner:
        assert O._get_current_function_mode_stack() == [outer, inner]
        ttorch.ones(1).exp()
    assert log == [("inner", "ones", outer), ("outer", "ones", None), ("inner", "exp", outer), ("outer", "exp", None)]
    m = _logged()
    Logged.calls.clear()
    with LogMode() as mode:
        r = m + 1
        add = ttorch.Tensor.add     # (while a mode is on, Tensor's methods are dispatching wrappers)
    assert type(r) is Logged and mode.log[0][1] == "add" and Logged.calls == [add]      # the mode first


def test_overrides_functions():
    assert ttorch.manual_seed in O.get_ignored_functions() and ttorch.add not in O.get_ignored_functions()
    over = O.get_overridable_functions()
    assert ttorch.add in over[ttorch] and F.relu in over[F] and ttorch.Tensor.add in over[ttorch.Tensor]
    tests = O.get_testing_overrides()
    assert tests[ttorch.add](1, 2) == -1 and tests[ttorch.Tensor.add]() == -1
    assert O.is_tensor_method_or_property(ttorch.Tensor.add) and not O.is_tensor_method_or_property(ttorch.cat)
    assert O.is_tensor_method_or_property(ttorch.Tensor.shape.__get__)
    assert ttorch.Tensor.grad.__get__ in O.get_default_nowrap_functions()
    assert O.resolve_name(ttorch.Tensor.__getitem__) == "ttorch.Tensor.__getitem__"
    assert O.resolve_name(F.relu).endswith("relu")
    assert O.resolve_name(ttorch.Tensor.T.__get__) == "ttorch.Tensor.T.__get__"
    with O.enable_reentrant_dispatch():
        pass


def test_redispatch_function():
    seen = []

    class Hop(ttorch.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            seen.append(func.__name__)
            return O.redispatch_function(func, types, args, kwargs)

    def scaled_mul(a, b):
        if O.has_torch_function((a, b)):
            return O.handle_torch_function(scaled_mul, (a, b), a, b)
        return a * b + 1
    x = ttorch.tensor([3.0]).as_subclass(Hop)
    y = ttorch.tensor([4.0]).as_subclass(Hop)
    r = scaled_mul(x, y)
    assert seen == ["scaled_mul", "mul"] and r.tolist() == [13.0]


def test_dispatch_turns_off_after_modes():
    # a fresh interpreter (this module's subclasses keep dispatch on here): after the last mode exits, every
    # function has its own code back, so the plain-Tensor path runs exactly as before
    import subprocess
    import sys
    code = """
import ttorch, ttorch.nn.functional as F
from ttorch.overrides import BaseTorchFunctionMode
before = (ttorch.add.__code__, F.relu.__code__, ttorch.Tensor.__add__.__code__, ttorch.Tensor.shape.fget.__code__)
with BaseTorchFunctionMode():
    assert ttorch.add.__code__ is not before[0] and (ttorch.ones(2) + 1).tolist() == [2.0, 2.0]
after = (ttorch.add.__code__, F.relu.__code__, ttorch.Tensor.__add__.__code__, ttorch.Tensor.shape.fget.__code__)
assert all(a is b for a, b in zip(before, after)) and not hasattr(ttorch.add, "__wrapped__")
print("ok")
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.stdout.strip() == "ok", r.stderr


def test_docstring_examples():
    import doctest
    res = doctest.testmod(O, extraglobs={"ttorch": ttorch}, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.attempted >= 2 and res.failed == 0
