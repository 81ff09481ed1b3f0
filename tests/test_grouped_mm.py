"""F.grouped_mm: the four operand layouts against NumPy float64 references, their gradients (the op itself on
transposed operands), gradcheck, and PyTorch 2.13's errors (read from it by hand)."""
import numpy as np
import pytest

import ttorch
import ttorch.nn.functional as F
from ttorch.autograd import gradcheck
from ttorch.ops.grouped_mm import _grouped

OFFS = [3, 8, 8, 13]            # an empty group, and rows 13.. past the last offset


def _ref(a, b, offs):
    """Each case by its definition, in float64 (the reference for values and, transposed, gradients)."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    if a.ndim == 3 and b.ndim == 3:
        return a @ b
    bounds = list(zip([0] + list(offs[:-1]), offs))
    if a.ndim == 2 and b.ndim == 3:
        out = np.zeros((a.shape[0], b.shape[2]))
        for g, (s, e) in enumerate(bounds):
            out[s:e] = a[s:e] @ b[g]
    elif a.ndim == 3:
        out = np.zeros((a.shape[1], b.shape[1]))
        for g, (s, e) in enumerate(bounds):
            out[:, s:e] = a[g] @ b[:, s:e]
    else:
        out = np.stack([a[:, s:e] @ b[s:e] for s, e in bounds])
    return out


CASES = {"2dx3d": ((16, 32), (4, 32, 24), OFFS), "3dx3d": ((4, 16, 32), (4, 32, 24), None),
         "3dx2d": ((4, 16, 32), (32, 40), [8, 16, 24, 36]), "2dx2d": ((16, 32), (32, 24), [8, 16, 16, 28])}


def _operands(case, device, dtype=ttorch.float32, seed=0):
    sa, sb, offs = CASES[case]
    r = np.random.default_rng(seed)
    a, b = r.normal(size=sa).astype(np.float32), r.normal(size=sb).astype(np.float32)
    o = None if offs is None else ttorch.tensor(offs, dtype=ttorch.int32, device=device)
    return a, b, (ttorch.tensor(a, dtype=dtype, device=device), ttorch.tensor(b, dtype=dtype, device=device), o)


@pytest.mark.parametrize("case", list(CASES))
def test_values_and_grads(case, device):
    a, b, (ta, tb, o) = _operands(case, device)
    offs = CASES[case][2]
    ta.requires_grad_()
    tb.requires_grad_()
    out = F.grouped_mm(ta, tb, offs=o)
    ref = _ref(a, b, offs)
    assert out.dtype is ttorch.float32 and out.grad_fn.name() == "GroupedMmBackward0"
    np.testing.assert_allclose(out.detach().cpu().numpy(), ref, rtol=1e-5, atol=1e-5)
    g = np.random.default_rng(1).normal(size=ref.shape)
    out.backward(ttorch.tensor(g, dtype=ttorch.float32, device=device))
    # d<out, g>/da and /db by central differences of the float64 reference (it is bilinear: exact up to rounding)
    for t, x, other in ((ta, a, 0), (tb, b, 1)):
        num = np.zeros(x.shape)
        flat = num.reshape(-1)
        for i in range(x.size):
            d = np.zeros(x.size)
            d[i] = 1.0
            d = d.reshape(x.shape)
            up = _ref(x + d, b, offs) if other == 0 else _ref(a, x + d, offs)
            flat[i] = np.sum((up - ref) * g)
        np.testing.assert_allclose(t.grad.cpu().numpy(), num, rtol=1e-4, atol=1e-4)


def test_rows_past_last_offset_are_zero(device):
    a, b, (ta, tb, o) = _operands("2dx3d", device)
    ta.requires_grad_()
    out = F.grouped_mm(ta, tb, offs=o)
    assert np.all(out.detach().cpu().numpy()[13:] == 0)
    out.sum().backward()
    assert np.all(ta.grad.cpu().numpy()[13:] == 0)


def test_half_types(device):
    for dt, tol in ((ttorch.bfloat16, 3e-2), (ttorch.float16, 2e-3)):
        a, b, (ta, tb, o) = _operands("2dx3d", device, dtype=dt)
        out = F.grouped_mm(ta, tb, offs=o)
        assert out.dtype is dt
        ref = _ref(ta.float().cpu().numpy(), tb.float().cpu().numpy(), OFFS)
        np.testing.assert_allclose(out.float().cpu().numpy(), ref, rtol=tol, atol=tol * 8)


def test_gradcheck_and_double_backward():
    """The op itself in float64 (the public function takes float16/bfloat16/float32, as PyTorch's)."""
    r = np.random.default_rng(2)
    offs = ttorch.tensor([2, 2, 5], dtype=ttorch.int32)
    for sa, sb in (((6, 3), (3, 3, 4)), ((4, 5), (5, 2)), ((3, 2, 5), (5, 6)), ((2, 4, 3), (2, 3, 2))):
        a = ttorch.tensor(r.normal(size=sa), dtype=ttorch.float64, requires_grad=True)
        b = ttorch.tensor(r.normal(size=sb), dtype=ttorch.float64, requires_grad=True)
        o = None if len(sa) == 3 and len(sb) == 3 else offs
        assert gradcheck(lambda x, y: _grouped(x, y, o), (a, b))
        ga, = ttorch.autograd.grad(_grouped(a, b, o).square().sum(), (a,), create_graph=True)
        gb, = ttorch.autograd.grad(ga.sum(), (b,))         # second order: the backward is the op again
        assert gb.shape == b.shape and np.isfinite(gb.numpy()).all()


def test_errors(device):
    _, _, (a, b, o) = _operands("2dx3d", device)
    cases = [
        (lambda: F.grouped_mm(a, b), "Have to provide offsets if there is a 2d matrix, or no offset if both "
                                     "matrices are 3d"),
        (lambda: F.grouped_mm(a, b, offs=o.long()), "Offsets have to be int32"),
        (lambda: F.grouped_mm(a, b, offs=o[:3]), "matrix batch sizes have to match"),
        (lambda: F.grouped_mm(a, b, offs=o, bias=b[:, 0]), "Bias not supported yet"),
        (lambda: F.grouped_mm(a, b[:, :16], offs=o), "contraction dimension of mat_a and mat_b must match"),
        (lambda: F.grouped_mm(a, b.double(), offs=o), "Expected mat_b to be Float32, BFloat16 or Float16 matrix, "
                                                      "got Double"),
        (lambda: F.grouped_mm(a.bfloat16(), b, offs=o), "expected m1 and m2 to have the same dtype, but got: "
                                                        "c10::BFloat16 != float"),
        (lambda: F.grouped_mm(a[:, :31].contiguous(), b[:, :31].contiguous(), offs=o),
         "strides should be multiple of 16 bytes"),
        (lambda: F.grouped_mm(a, b, offs=o, out_dtype=ttorch.float16), "Grouped gemm output dtype must match "
                                                                       "`mat_a` dtype"),
        (lambda: F.grouped_mm(a[0], b, offs=o), "mat_a has to be 2 or 3d"),
        (lambda: F.grouped_mm(a.reshape(4, 4, 32), b[:3]), "batched dimension has to match"),
    ]
    for f, msg in cases:
        with pytest.raises(RuntimeError, match="^" + msg.replace("(", r"\(").replace(")", r"\)") + "$"):
            f()
    assert ttorch._grouped_mm(a, b, o).shape == (16, 24)
