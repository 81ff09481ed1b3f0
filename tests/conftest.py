"""Test setup: the cuda device is Triton's interpreter unless TRITON_INTERPRET=0 is set
(on a machine with a GPU). It must be chosen before ttorch's kernels are decorated."""
import os

os.environ.setdefault("TRITON_INTERPRET", "1")
os.environ.setdefault("TRITON_DEFAULT_FP_FUSION", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import ttorch  # noqa: E402

DEVICES = ["cpu"] + (["cuda"] if ttorch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request):
    return request.param


@pytest.fixture(autouse=True)
def _seed():
    ttorch.manual_seed(0)
    np.random.seed(0)


def pytest_configure(config):
    config.addinivalue_line("markers", "tf32_default: keep cudnn.allow_tf32 at PyTorch's default on a real GPU")


@pytest.fixture(autouse=True)
def _full_precision_convolutions(request):
    """On a real GPU, float32 convolutions run with cudnn.allow_tf32 off, as PyTorch's own tests
    run theirs: the tests compare against float64 NumPy at float32 tolerances, and TF32 keeps 10
    mantissa bits. The simulated device computes TF32 products in full float32, so there the
    default (on) stays and every test runs the TF32 path. ``tf32_default`` tests keep it anyway."""
    from ttorch.backends import cudnn
    from ttorch.cuda import _driver
    if _driver.SIMULATED or request.node.get_closest_marker("tf32_default"):
        yield
        return
    old, cudnn.allow_tf32 = cudnn.allow_tf32, False
    try:
        yield
    finally:
        cudnn.allow_tf32 = old


@pytest.fixture(autouse=True)
def _no_plans_unless_asked(request):
    """On a real GPU, recorded launches (``ttorch/ops/_plan.py``) stay off except in the tests of them:
    many tests spy on a module's ``launch`` to see the path taken, and a replay calls the compiled
    kernels' launchers directly. ``test_plans.py`` turns them on and checks them, numerics included."""
    from ttorch.ops import _plan
    if "test_plans" in request.node.nodeid:
        yield
        return
    old, _plan.ENABLED[0] = _plan.ENABLED[0], False
    try:
        yield
    finally:
        _plan.ENABLED[0] = old
