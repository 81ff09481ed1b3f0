"""Memory formats (``ttorch/_memory_format.py``): channels-last layouts through ``contiguous``, ``clone``, ``to``,
``empty``, ``Module.to`` and ``is_contiguous``, with PyTorch's strides (checked by hand against PyTorch 2.13),
values and gradients unchanged, on both devices."""
import pickle

import numpy as np
import pytest

import ttorch


def test_names_and_pickling():
    assert repr(ttorch.channels_last) == "ttorch.channels_last" and isinstance(ttorch.preserve_format,
                                                                               ttorch.memory_format)
    assert ttorch.legacy_contiguous_format is ttorch.contiguous_format
    for f in (ttorch.contiguous_format, ttorch.channels_last, ttorch.channels_last_3d, ttorch.preserve_format):
        assert pickle.loads(pickle.dumps(f)) is f


def test_channels_last(device):
    a = np.arange(120.0).reshape(2, 3, 4, 5)
    x = ttorch.tensor(a, device=device, requires_grad=True)
    assert x.is_contiguous(memory_format=ttorch.contiguous_format)
    assert x.is_contiguous(memory_format=ttorch.preserve_format)
    assert not x.is_contiguous(memory_format=ttorch.channels_last)
    y = x.contiguous(memory_format=ttorch.channels_last)
    assert y.stride() == (60, 1, 15, 3) and not y.is_contiguous()
    assert y.is_contiguous(memory_format=ttorch.channels_last)
    np.testing.assert_array_equal(y.detach().cpu().numpy(), a)
    assert y.contiguous(memory_format=ttorch.channels_last) is y
    assert y.clone().stride() == (60, 1, 15, 3)                                      # preserve_format
    assert y.clone(memory_format=ttorch.contiguous_format).stride() == (60, 20, 5, 1)
    assert y.contiguous().stride() == (60, 20, 5, 1)
    assert x.to(memory_format=ttorch.channels_last).stride() == (60, 1, 15, 3)
    (y * ttorch.arange(5.0, device=device)).sum().backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), np.broadcast_to(np.arange(5.0), a.shape))
    with pytest.raises(RuntimeError, match="required rank 4 tensor to use channels_last format"):
        ttorch.ones(2, 3, device=device).contiguous(memory_format=ttorch.channels_last)
    z = ttorch.ones(1, 3, 1, 1, device=device)      # size-1 dims: every format at once, as in PyTorch
    assert z.is_contiguous() and z.is_contiguous(memory_format=ttorch.channels_last)


def test_empty_and_modules(device):
    e = ttorch.empty(2, 3, 4, 5, memory_format=ttorch.channels_last, device=device, requires_grad=True)
    assert e.stride() == (60, 1, 15, 3) and e.is_leaf and e.requires_grad
    assert ttorch.empty(2, 3, 4, 5, 6, memory_format=ttorch.channels_last_3d).stride() == (360, 1, 90, 18, 3)
    m = ttorch.nn.Sequential(ttorch.nn.Conv2d(3, 4, 3), ttorch.nn.Linear(4, 2)).to(device)
    w = m[0].weight.detach().cpu().numpy()
    m.to(memory_format=ttorch.channels_last)
    assert m[0].weight.stride() == (27, 1, 9, 3) and m[1].weight.stride() == (4, 1)     # only the 4-D ones
    np.testing.assert_array_equal(m[0].weight.detach().cpu().numpy(), w)
    x = ttorch.randn(2, 3, 6, 6, device=device).contiguous(memory_format=ttorch.channels_last)
    ref = ttorch.nn.functional.conv2d(x.contiguous(), m[0].weight.contiguous(), m[0].bias)
    np.testing.assert_allclose(m[0](x).detach().cpu().numpy(), ref.detach().cpu().numpy(), rtol=1e-5, atol=1e-5)
    ttorch.nn.utils.convert_conv2d_weight_memory_format(m, ttorch.contiguous_format)
    assert m[0].weight.is_contiguous()
