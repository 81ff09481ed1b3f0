"""``ttorch.overrides``: the explicit ``__torch_function__`` protocol that library code drives (checked by hand
against PyTorch 2.13's results for the same calls)."""
import pytest

import ttorch
from ttorch import overrides as O


class Logged:
    calls = []

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        cls.calls.append((O.resolve_name(func), types, len(args), kwargs))
        return "handled"


class Sub(Logged):
    pass


class Declines:
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        return NotImplemented


def test_queries():
    t = ttorch.ones(1)
    assert not O.has_torch_function((t, 2)) and not O.has_torch_function_unary(t)
    assert not O.has_torch_function_variadic(t, t) and O.has_torch_function_variadic(t, Logged())
    assert O.is_tensor_like(t) and O.is_tensor_like(Logged()) and not O.is_tensor_like(3)
    assert ttorch.nn.functional.has_torch_function is O.has_torch_function


def test_handle_and_wrap():
    Logged.calls.clear()
    assert O.handle_torch_function(ttorch.add, (Logged(),), Logged(), 2, alpha=3) == "handled"
    assert Logged.calls == [("ttorch.add", (Logged,), 2, {"alpha": 3})]
    Logged.calls.clear()
    O.handle_torch_function(ttorch.add, (Logged(), Sub()), 1, 2)     # the subclass first, as PyTorch orders them
    assert Logged.calls[0][1] == (Sub, Logged)
    with pytest.raises(TypeError, match="no implementation found for 'ttorch.add'"):
        O.handle_torch_function(ttorch.add, (Declines(),), Declines(), 1)

    @O.wrap_torch_function(lambda x, y: (x, y))
    def f(x, y):
        return x + y
    assert f(1, 2) == 3 and f(Logged(), 2) == "handled"
