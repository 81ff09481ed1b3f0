"""Anomaly mode: off by default; when on, NaN from a backward rule raises PyTorch's message naming
the node, after a warning that shows the user's forward line."""
import warnings

import numpy as np
import pytest

import ttorch
from ttorch.autograd import detect_anomaly, set_detect_anomaly

F64 = ttorch.float64


@pytest.fixture(autouse=True)
def _anomaly_off():
    yield
    ttorch.set_anomaly_enabled(False)


def _x(device, values=(0.0, 1.0)):
    return ttorch.tensor(list(values), dtype=F64, device=device, requires_grad=True)


def _backward_warnings(fn):
    """Run ``fn``; return (the RuntimeError it raised or None, the warnings' texts)."""
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", category=RuntimeWarning)      # NumPy's 0/0 in the kernels
        err = None
        try:
            fn()
        except RuntimeError as e:
            err = e
    return err, [str(w.message) for w in rec if issubclass(w.category, UserWarning)], rec


def test_off_by_default(device):
    assert ttorch.is_anomaly_enabled() is False
    assert ttorch.is_anomaly_check_nan_enabled() is True
    x = _x(device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        (x.sqrt() * 0).sum().backward()         # no error: the NaN just lands in .grad
    g = x.grad.cpu().numpy()
    assert np.isnan(g[0]) and g[1] == 0


def test_entering_warns():
    with pytest.warns(UserWarning, match="^Anomaly Detection has been enabled. This mode will increase the runtime "
                                         "and should only be enabled for debugging.$"):
        with detect_anomaly():
            assert ttorch.is_anomaly_enabled()
    assert not ttorch.is_anomaly_enabled()


def test_nan_raises_and_shows_forward_line(device):
    x = _x(device)
    with pytest.warns(UserWarning, match="Anomaly Detection"):
        ctx = detect_anomaly()
    with ctx:
        y = x.sqrt()    # the forward line the warning must show
        loss = (y * 0).sum()
        err, msgs, rec = _backward_warnings(loss.backward)
    assert str(err) == "Function 'SqrtBackward0' returned nan values in its 0th output."
    assert len(msgs) == 1
    assert msgs[0].startswith("Error detected in SqrtBackward0. Traceback of forward call that caused the error:\n")
    assert __file__ in msgs[0] and "y = x.sqrt()    # the forward line the warning must show" in msgs[0]
    assert msgs[0].rstrip().endswith("y = x.sqrt()    # the forward line the warning must show")
    # the warning is attributed to the backward() call, as PyTorch's
    w = [r for r in rec if issubclass(r.category, UserWarning)][0]
    assert w.filename == __file__
    assert x.grad is None       # nothing accumulated past the failing node


def test_mul_names_the_output_slot(device):
    x = _x(device, (1.0, 2.0))
    w = ttorch.tensor([np.inf, 1.0], dtype=F64, device=device)
    set_detect_anomaly(True)
    loss = ((w * x) * 0).sum()      # backward: d/dx = 0 * w = nan where w is inf
    err, msgs, _ = _backward_warnings(loss.backward)
    assert str(err) == "Function 'MulBackward0' returned nan values in its 1th output."
    assert "Error detected in MulBackward0" in msgs[0] and "loss = ((w * x) * 0).sum()" in msgs[0]
    loss = ((x * w) * 0).sum()
    err, _, _ = _backward_warnings(loss.backward)
    assert str(err) == "Function 'MulBackward0' returned nan values in its 0th output."


def test_check_nan_false_and_other_errors(device):
    x = _x(device)
    with set_detect_anomaly(True, check_nan=False):
        assert ttorch.is_anomaly_enabled() and not ttorch.is_anomaly_check_nan_enabled()
        y = (x.exp() * 2).sum()
        y.backward()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            (x.sqrt() * 0).sum().backward()     # NaN allowed
        # any error in a backward still shows the forward traceback
        err, msgs, _ = _backward_warnings(y.backward)
        assert "backward through the graph a second time" in str(err)
        assert msgs and msgs[0].startswith("Error detected in ")
        assert "y = (x.exp() * 2).sum()" in msgs[0]
    assert not ttorch.is_anomaly_enabled() and ttorch.is_anomaly_check_nan_enabled()


def test_decorator_and_correct_gradients(device):
    with pytest.warns(UserWarning, match="Anomaly Detection"):
        deco = detect_anomaly()

    @deco
    def run(x):
        assert ttorch.is_anomaly_enabled()
        (x * x).sum().backward()

    x = _x(device, (0.5, -1.5))
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # no warning from a clean backward
        run(x)
    np.testing.assert_allclose(x.grad.cpu().numpy(), [1.0, -3.0])
    assert not ttorch.is_anomaly_enabled()


def test_node_recorded_outside_anomaly_mode():
    x = _x("cpu")
    loss = (x.sqrt() * 0).sum()
    set_detect_anomaly(True)
    err, msgs, _ = _backward_warnings(loss.backward)
    assert str(err) == "Function 'SqrtBackward0' returned nan values in its 0th output."
    assert msgs == ["Error detected in SqrtBackward0. No forward pass information available. Enable detect anomaly "
                    "during forward pass for more information."]


def test_double_backward_shows_parent(device):
    set_detect_anomaly(True)
    x = _x(device)
    y = x.sqrt()
    g, = ttorch.autograd.grad(y.sum(), x, create_graph=True)     # inf at 0: allowed, not NaN
    err, msgs, _ = _backward_warnings(lambda: ttorch.autograd.grad((g * 0).sum(), x))
    assert "returned nan values" in str(err)
    assert "ttorch.autograd.grad(y.sum(), x, create_graph=True)" in msgs[0]
    assert msgs[1].startswith("\n\nPrevious calculation was induced by SqrtBackward0. Traceback of forward call that "
                              "induced the previous calculation:\n")
    assert "y = x.sqrt()" in msgs[1]


class _Log(ttorch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.log()

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g / x


def test_custom_function_node(device):
    set_detect_anomaly(True)
    x = _x(device)
    loss = (_Log.apply(x) * 0).sum()    # 0 * -inf forward; backward 0 / 0
    err, msgs, _ = _backward_warnings(loss.backward)
    assert str(err) == "Function '_LogBackward' returned nan values in its 0th output."
    assert msgs[0].startswith("Error detected in _LogBackward. Traceback of forward call that caused the error:\n")
    assert "loss = (_Log.apply(x) * 0).sum()" in msgs[0]
