"""ttorch.nn.attention: SDPBackend, sdpa_kernel's state (nested, decorator, priority) and errors,
and MATH-vs-fused parity of scaled_dot_product_attention in values and gradients on each device."""
import numpy as np
import pytest

import ttorch
import ttorch.nn.functional as F
from ttorch.nn import attention
from ttorch.nn.attention import SDPBackend, sdpa_kernel

from _helpers import to_np

FUSED = (SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.CUDNN_ATTENTION)
ALL = [SDPBackend.CUDNN_ATTENTION, SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH,
       SDPBackend.OVERRIDEABLE]


def test_enum_matches_pytorch():
    assert [(b.name, int(b)) for b in SDPBackend] == [
        ("ERROR", -1), ("MATH", 0), ("FLASH_ATTENTION", 1), ("EFFICIENT_ATTENTION", 2), ("CUDNN_ATTENTION", 3),
        ("OVERRIDEABLE", 4)]
    assert repr(SDPBackend.MATH) == "<SDPBackend.MATH: 0>" and str(SDPBackend.MATH) == "SDPBackend.MATH"
    assert SDPBackend.MATH != 0     # a pybind11 enum in PyTorch: not an int


def test_context_restores_nested_and_decorator():
    assert attention._cur_sdpa_kernel_backends() == ALL
    with sdpa_kernel(SDPBackend.MATH) as ctx:
        assert ctx == {}
        assert attention._cur_sdpa_kernel_backends() == [SDPBackend.MATH]
        with sdpa_kernel([SDPBackend.FLASH_ATTENTION, SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION]):
            assert attention._cur_sdpa_kernel_backends() == [SDPBackend.FLASH_ATTENTION,
                                                             SDPBackend.EFFICIENT_ATTENTION]
        assert attention._cur_sdpa_kernel_backends() == [SDPBackend.MATH]
    assert attention._cur_sdpa_kernel_backends() == ALL

    @sdpa_kernel([SDPBackend.MATH])
    def f():
        return attention._cur_sdpa_kernel_backends()
    assert f() == [SDPBackend.MATH] and f() == [SDPBackend.MATH]
    assert attention._cur_sdpa_kernel_backends() == ALL

    with pytest.raises(ValueError):
        with sdpa_kernel(SDPBackend.MATH):
            raise ValueError
    assert attention._cur_sdpa_kernel_backends() == ALL


def test_set_priority():
    default = list(attention._priority)
    assert [int(b) for b in default] == [1, 2, 0, 3, 4]      # torch._C._get_sdp_priority_order()
    with sdpa_kernel([SDPBackend.MATH, SDPBackend.FLASH_ATTENTION], set_priority=True):
        assert [int(b) for b in attention._priority] == [0, 1, 2, 3, 4]
        assert attention._backend_order("cuda") == [SDPBackend.MATH, SDPBackend.FLASH_ATTENTION]
        assert attention._backend_order("cpu") == [SDPBackend.FLASH_ATTENTION, SDPBackend.MATH]  # cpu: fixed
    assert attention._priority == default


def test_bad_backends_argument():
    with pytest.raises(AssertionError, match="got tuple"):
        with sdpa_kernel((SDPBackend.MATH,)):
            pass
    assert attention._cur_sdpa_kernel_backends() == ALL


def _qkv(device, dtype, shape=(2, 3, 5, 8), seed=0):
    g = np.random.default_rng(seed)
    return [ttorch.tensor(g.standard_normal(shape), dtype=dtype, device=device, requires_grad=True)
            for _ in range(3)]


def _run(backends, q, k, v, **kw):
    with sdpa_kernel(backends):
        out = F.scaled_dot_product_attention(q, k, v, **kw)
    gq, gk, gv = ttorch.autograd.grad((out * out).sum(), (q, k, v))
    return out, (gq, gk, gv)


@pytest.mark.parametrize("kw", [{}, {"is_causal": True}, {"mask": "bool"}, {"mask": "float"}])
def test_math_equals_fused(device, kw):
    kw = dict(kw)
    q, k, v = _qkv(device, ttorch.float32)
    mask = kw.pop("mask", None)
    if mask == "bool":
        kw["attn_mask"] = ttorch.tensor(np.random.default_rng(1).random((5, 5)) > 0.3, device=device)
    elif mask == "float":
        kw["attn_mask"] = ttorch.tensor(np.random.default_rng(1).standard_normal((1, 3, 5, 5)), dtype=ttorch.float32,
                                        device=device)
    ref, gref = _run(SDPBackend.MATH, q, k, v, **kw)
    assert "Matmul" in repr(ref.grad_fn)
    fused = [SDPBackend.FLASH_ATTENTION] if device == "cpu" else FUSED
    for b in fused:
        out, grads = _run(b, q, k, v, **kw)
        assert "FlashAttention" in repr(out.grad_fn)
        np.testing.assert_allclose(to_np(out), to_np(ref), rtol=1e-4, atol=1e-5)
        for a, r in zip(grads, gref):
            np.testing.assert_allclose(to_np(a), to_np(r), rtol=1e-4, atol=1e-4)


def test_math_dropout(device):
    q, k, v = _qkv(device, ttorch.float32)
    ttorch.manual_seed(0)
    with sdpa_kernel(SDPBackend.MATH):
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    assert "Matmul" in repr(out.grad_fn)
    with sdpa_kernel(SDPBackend.MATH):
        assert not np.allclose(to_np(out), to_np(F.scaled_dot_product_attention(q, k, v)))


def test_no_available_kernel(device):
    q, k, v = _qkv(device, ttorch.float64)      # no fused kernel for float64
    with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
        with pytest.raises(RuntimeError, match=r"^No available kernel\.  Aborting execution\.$"):
            F.scaled_dot_product_attention(q, k, v)
    with sdpa_kernel([SDPBackend.FLASH_ATTENTION, SDPBackend.MATH]):
        F.scaled_dot_product_attention(q, k, v)     # falls back to math


def test_no_viable_backend(device):
    q, k, v = _qkv(device, ttorch.float32)
    off = [[], SDPBackend.ERROR, SDPBackend.OVERRIDEABLE] + ([SDPBackend.EFFICIENT_ATTENTION] if device == "cpu" else [])
    for b in off:
        with sdpa_kernel(b):
            with pytest.raises(RuntimeError, match="No viable backend for scaled_dot_product_attention was found"):
                F.scaled_dot_product_attention(q, k, v)
    F.scaled_dot_product_attention(q, k, v)         # restored
