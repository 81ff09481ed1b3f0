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
