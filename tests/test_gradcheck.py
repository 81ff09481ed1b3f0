"""gradcheck / gradgradcheck: they pass for correct backward rules, fail (GradcheckError, or False)
for wrong ones, and sweep the second derivatives of the op families on float64."""
import warnings

import numpy as np
import pytest

import ttorch
from ttorch.autograd import gradcheck, gradgradcheck
from ttorch.autograd.gradcheck import GradcheckError
from ttorch.ops._op import REGISTRY

F64 = ttorch.float64


def _t(a, device, requires_grad=True):
    return ttorch.tensor(np.asarray(a, dtype=np.float64), dtype=F64, device=device, requires_grad=requires_grad)


def _rand(shape, device, lo=-1.0, hi=1.0, seed=0):
    rng = np.random.default_rng(seed)
    return _t(rng.uniform(lo, hi, shape), device)


def _away(shape, device, seed=0):
    """Values with |x| in [0.3, 1.2] and distinct magnitudes: away from kinks at 0 and from ties."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    mags = np.linspace(0.3, 1.2, n)
    rng.shuffle(mags)
    return _t((mags * rng.choice([-1.0, 1.0], n)).reshape(shape), device)


def _pos(shape, device, seed=0):
    return _rand(shape, device, 0.5, 1.5, seed)


# ---------------------------------------------------------------- gradcheck itself

def test_passes_for_correct_ops(device):
    x, y = _rand((2, 1), device), _rand((2,), device, seed=1)     # broadcast to (2, 2)
    assert gradcheck(lambda a, b: (a * b).sin() + a.exp() / (1 + b * b), (x, y))
    assert gradcheck(lambda a, b: (a * b).sin() + a.exp() / (1 + b * b), (x, y), fast_mode=True)


def test_inputs_may_hold_non_tensors_and_single_tensor(device):
    x = _rand((3,), device)
    c = _rand((3,), device, seed=1).detach()     # a tensor that does not require grad
    assert gradcheck(lambda a, k, b, s: (a * k + b).pow(2) * s, (x, 3, c, 0.5))
    assert gradcheck(lambda a: a.tanh(), x)
    # several outputs, one not differentiable (integer)
    assert gradcheck(lambda a: (a.exp(), a.argmax(), a * c), (x,))


def _patch_backward(monkeypatch, name, backward):
    monkeypatch.setattr(REGISTRY[name], "backward", backward)


def test_wrong_backward_fails(device, monkeypatch):
    _patch_backward(monkeypatch, "sin", lambda ctx, g: g * ctx.inputs[0].cos() * 1.1)
    x = _t([0.5, -1.5], device)
    with pytest.raises(GradcheckError) as e:
        gradcheck(lambda a: a.sin(), (x,))
    msg = str(e.value)
    assert msg.startswith("Jacobian mismatch for output 0 with respect to input 0,\nnumerical:tensor(")
    assert "\nanalytical:tensor(" in msg
    assert isinstance(e.value, RuntimeError)
    assert gradcheck(lambda a: a.sin(), (x,), raise_exception=False) is False
    assert gradcheck(lambda a: a.sin(), (x,), fast_mode=True, raise_exception=False) is False
    with pytest.raises(GradcheckError, match="computed \nin fast mode"):
        gradcheck(lambda a: a.sin(), (x,), fast_mode=True)


def test_mismatch_names_output_and_input_index(monkeypatch):
    # wrong only for the second differentiable input of the second differentiable output
    _patch_backward(monkeypatch, "mul", lambda ctx, g: (g * ctx.inputs[1], g * ctx.inputs[0] * 2))
    x, y = _rand((2,), "cpu"), _rand((2,), "cpu", seed=1)
    with pytest.raises(GradcheckError, match="^Jacobian mismatch for output 1 with respect to input 1,\n"):
        gradcheck(lambda a, k, b: (a + b, a * b), (x, 7, y))


def test_jacobian_layout_matches_pytorch(monkeypatch):
    # rows: input elements, columns: output elements
    _patch_backward(monkeypatch, "mul", lambda ctx, g: (g * ctx.inputs[1] + 1, None))
    x = _t([1.0, 2.0], "cpu")
    w = _t([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], "cpu", requires_grad=False)
    with pytest.raises(GradcheckError) as e:
        gradcheck(lambda a: a * w, (x,))
    # each column is the (wrong) gradient for one output element: w's entry of that row plus 3
    ana = "analytical:tensor([[4., 3., 6., 3., 8., 3.],\n        [3., 5., 3., 7., 3., 9.]], dtype=ttorch.float64)\n"
    assert str(e.value).endswith(ana)
    assert "numerical:tensor([[1.0000, 0.0000, 3.0000, 0.0000, 5.0000, 0.0000],\n" in str(e.value)


def test_non_reentrant_backward(monkeypatch):
    rng = np.random.default_rng(0)
    _patch_backward(monkeypatch, "sin", lambda ctx, g: g * ctx.inputs[0].cos() * (1 + 1e-9 * rng.random()))
    x = _t([0.5, -1.5], "cpu")
    with pytest.raises(GradcheckError, match="Backward is not reentrant"):
        gradcheck(lambda a: a.sin(), (x,))
    assert gradcheck(lambda a: a.sin(), (x,), nondet_tol=1e-6)


def test_backward_not_multiplied_by_grad_output(monkeypatch):
    # right for one-hot grad_outputs (so the Jacobians agree), wrong for zeros
    _patch_backward(monkeypatch, "sin", lambda ctx, g: g * ctx.inputs[0].cos() + (1 - g.abs().sum()))
    x = _t([0.5, -1.5], "cpu")
    with pytest.raises(GradcheckError, match="backward not multiplied by grad_output"):
        gradcheck(lambda a: a.sin(), (x,))


def test_input_checks():
    x = _t([0.5, -1.5], "cpu")
    with pytest.raises(ValueError, match="at least one input tensor to require gradient"):
        gradcheck(lambda a: a.sin(), (x.detach(),))
    with pytest.raises(RuntimeError, match="The 0th input has a dimension with stride 0"):
        gradcheck(lambda a: a.sin(), (x.detach()[:1].expand(3).requires_grad_(),))
    xf = ttorch.tensor([0.5, -1.5], requires_grad=True)
    with pytest.warns(UserWarning, match="Input #0 requires gradient and is not a double precision"):
        gradcheck(lambda a: a.sin(), (xf,), atol=1e-1, rtol=1e-1, eps=1e-3)


def test_no_differentiable_outputs():
    x = _t([0.5, -1.5, 2.5], "cpu")
    assert gradcheck(lambda a: a.argmax(), (x,))
    assert gradcheck(lambda a: a.detach() * 2, (x,), raise_exception=False) is False


def test_inputs_untouched(device):
    x = _rand((2, 2), device).transpose(0, 1)       # non-contiguous leaf view
    x = x.detach().requires_grad_()
    before, v = x.detach().cpu().numpy().copy(), x._version
    assert gradcheck(lambda a: (a @ a).sum(dim=0), (x,))
    np.testing.assert_array_equal(x.detach().cpu().numpy(), before)
    assert x._version == v


def test_saved_inputs_stay_usable():
    # the graph of the first call saved ``x``; perturbing it must not trip the version check
    x = _t([0.5, -1.5], "cpu")
    assert gradcheck(lambda a: a * a * a, (x,))


def test_non_leaf_and_empty_inputs():
    x = _t([0.5, -1.5], "cpu")
    nl = x * 2
    assert gradcheck(lambda a: a.sin(), (nl,))
    assert gradgradcheck(lambda a: a.sin(), (nl,))
    (nl * nl).sum().backward()      # the graph behind the non-leaf input is still usable
    np.testing.assert_allclose(x.grad.numpy(), 8 * x.detach().numpy())
    e = ttorch.zeros(0, dtype=F64, requires_grad=True)
    assert gradcheck(lambda a, b: (a.sum() + b.sum(), a * 2), (e, x))


def test_forward_ad_supported():
    # (was NotImplementedError before forward-mode AD; the checks themselves: tests/test_autograd_graph.py)
    assert gradcheck(lambda a: a.sin(), (_t([0.5], "cpu"),), check_forward_ad=True)


def test_documented_paths():
    assert ttorch.autograd.gradcheck.GradcheckError is GradcheckError
    assert issubclass(GradcheckError, RuntimeError)
    assert ttorch.autograd.gradcheck.gradgradcheck is gradgradcheck


# ---------------------------------------------------------------- gradgradcheck

def test_gradgradcheck_catches_wrong_double_backward(device, monkeypatch):
    # first derivative right, but computed outside the graph: its own derivative is lost
    _patch_backward(monkeypatch, "sin", lambda ctx, g: g * ctx.inputs[0].detach().cos())
    x = _t([0.5, -1.5], device)
    assert gradcheck(lambda a: a.sin(), (x,))
    with pytest.raises(GradcheckError, match="^Jacobian mismatch for output 0 with respect to input 0"):
        gradgradcheck(lambda a: a.sin(), (x,))
    assert gradgradcheck(lambda a: a.sin(), (x,), raise_exception=False) is False


def test_gradgradcheck_grad_outputs(device):
    x = _rand((1, 2), device)
    go = _rand((1, 2), device, seed=3)
    assert gradgradcheck(lambda a: a.exp() * a, (x,), (go,))
    assert gradgradcheck(lambda a: a.exp() * a, (x,), gen_non_contig_grad_outputs=True)
    assert gradgradcheck(lambda a: (a.exp(), a.sin().sum(dim=1)), (x,))


def _idx(a, device):
    return ttorch.tensor(a, dtype=ttorch.int64, device=device)


# name -> (function, input makers); inputs at interior points (no kinks, no ties)
CASES = {
    # unary
    "exp": (lambda a: a.exp(), [(_rand, (2, 3))]),
    "log": (lambda a: a.log(), [(_pos, (2, 3))]),
    "sqrt": (lambda a: a.sqrt(), [(_pos, (5,))]),
    "rsqrt": (lambda a: a.rsqrt(), [(_pos, (5,))]),
    "reciprocal": (lambda a: a.reciprocal(), [(_pos, (5,))]),
    "sin_cos_tan": (lambda a: a.sin() + a.cos() * a.tan(), [(_rand, (5,))]),
    "tanh_sigmoid": (lambda a: a.tanh() * a.sigmoid(), [(_rand, (5,))]),
    "asin_acos_atan": (lambda a: (a * 0.8).asin() + (a * 0.8).acos() * a.atan(), [(_rand, (5,))]),
    "sinh_cosh": (lambda a: a.sinh() * a.cosh(), [(_rand, (5,))]),
    "asinh_acosh_atanh": (lambda a: a.asinh() + (a * a + 1.5).acosh() + (a * 0.8).atanh(), [(_rand, (5,))]),
    "log1p_expm1_log2_log10": (lambda a: (a + 1.5).log1p() * a.expm1() + a.log2() - a.log10(), [(_pos, (5,))]),
    "exp2_square": (lambda a: a.exp2() * a.square(), [(_rand, (5,))]),
    "erf_erfc": (lambda a: a.erf() * a.erfc(), [(_rand, (5,))]),
    "abs_neg_sign": (lambda a: a.abs() * a.neg() + a.sign() * a, [(_away, (5,))]),
    "relu_family": (lambda a: ttorch.relu(a) * a + ttorch.leaky_relu(a, 0.1) * a + ttorch.elu(a) * a,
                    [(_away, (6,))]),
    "gelu_silu_mish": (lambda a: ttorch.gelu(a) + ttorch.silu(a) * ttorch.mish(a), [(_rand, (5,))]),
    "gelu_tanh": (lambda a: ttorch.gelu(a, approximate="tanh"), [(_rand, (5,))]),
    "softplus_logsigmoid": (lambda a: ttorch.softplus(a) * ttorch.logsigmoid(a), [(_rand, (5,))]),
    "hardtanh_hardswish_selu": (lambda a: ttorch.hardtanh(a * 0.5) * a + ttorch.hardswish(a) + ttorch.selu(a),
                                [(_away, (6,))]),
    # binary
    "add_sub_broadcast": (lambda a, b: (a + b) * (a - b), [(_rand, (2, 3)), (_rand, (3,))]),
    "mul_div": (lambda a, b: a * b / (b * b + 1) + a / b, [(_rand, (2, 3)), (_away, (2, 1))]),
    "pow_tensor_tensor": (lambda a, b: a.pow(b), [(_pos, (2, 3)), (_rand, (2, 3))]),
    "pow_tensor_scalar": (lambda a: a.pow(3) + a.pow(2.5) + a.pow(-1.5), [(_pos, (5,))]),
    "pow_scalar_tensor": (lambda a: ttorch.pow(2.0, a), [(_rand, (5,))]),
    "maximum_minimum": (lambda a, b: ttorch.maximum(a, b) * ttorch.minimum(a, b), [(_away, (5,)), (_rand, (5,))]),
    "atan2_hypot": (lambda a, b: ttorch.atan2(a, b) * ttorch.hypot(a, b), [(_away, (5,)), (_away, (5,))]),
    "where": (lambda a, b: ttorch.where(a > 0, a * a, b.exp() * a), [(_away, (6,)), (_rand, (6,))]),
    "clamp": (lambda a: a.clamp(-0.7, 0.75) * a + a.clamp(min=-0.2) * a.clamp(max=0.25), [(_away, (8,))]),
    "clamp_tensor_bounds": (lambda a, lo: a.clamp(min=lo) * a, [(_away, (6,)), (_rand, (6,))]),
    "lerp_addcmul_addcdiv": (lambda a, b, c: ttorch.lerp(a, b, c) + ttorch.addcmul(a, b, c, value=0.5)
                             + ttorch.addcdiv(a, b, c + 2), [(_rand, (4,)), (_rand, (4,)), (_pos, (4,))]),
    # reductions
    "sum_dims": (lambda a: a.sum(dim=1) * a.sum(), [(_rand, (2, 3))]),
    "mean": (lambda a: a.mean(dim=0, keepdim=True) * a, [(_rand, (2, 3))]),
    "prod": (lambda a: a.prod() + a.prod(dim=1), [(_away, (2, 3))]),
    "amax_amin": (lambda a: a.amax(dim=1) * a.amin(dim=0).sum(), [(_away, (2, 3))]),
    "max_min_dim": (lambda a: a.max(dim=1).values * a.min(), [(_away, (2, 3))]),
    "var_std": (lambda a: a.var(dim=1) + a.std() * a.var(unbiased=False), [(_rand, (2, 3))]),
    "var_mean_std_mean": (lambda a: ttorch.var_mean(a, dim=0)[0] * ttorch.std_mean(a)[1], [(_rand, (2, 3))]),
    "norm": (lambda a: a.norm() + a.norm(p=1) * a.norm(p=3, dim=1).sum() + a.norm(dim=0).sum(), [(_away, (2, 3))]),
    "logsumexp": (lambda a: a.logsumexp(dim=1) * a.logsumexp(dim=0).sum(), [(_rand, (2, 3))]),
    # matmul family
    "mm": (lambda a, b: a.mm(b), [(_rand, (2, 3)), (_rand, (3, 2))]),
    "bmm": (lambda a, b: a.bmm(b), [(_rand, (2, 2, 3)), (_rand, (2, 3, 2))]),
    "matmul_broadcast": (lambda a, b: a @ b, [(_rand, (2, 1, 2, 3)), (_rand, (3, 3, 2))]),
    "matmul_vectors": (lambda a, b, c: (a @ b) * c + (b @ c) @ a, [(_rand, (3,)), (_rand, (3, 2)), (_rand, (2,))]),
    "addmm": (lambda c, a, b: ttorch.addmm(c, a, b, beta=0.5, alpha=2.0), [(_rand, (2,)), (_rand, (2, 3)),
                                                                           (_rand, (3, 2))]),
    "einsum": (lambda a, b: ttorch.einsum("ij,jk->ik", a, b) * ttorch.einsum("ii->", a[:, :2]),
               [(_rand, (2, 3)), (_rand, (3, 2))]),
    "mv_dot_outer": (lambda a, v: ttorch.mv(a, v).dot(v[:2]) * ttorch.outer(v, v), [(_rand, (2, 3)), (_rand, (3,))]),
    # softmax
    "softmax": (lambda a: a.softmax(dim=-1) * a, [(_rand, (2, 3))]),
    "log_softmax": (lambda a: a.log_softmax(dim=0) * a, [(_rand, (2, 3))]),
    # indexing / gather
    "getitem": (lambda a: a[1:, ::2] * a[0, 1] + a[[1, 0, 1]].sum(), [(_rand, (2, 3))]),
    "index_select": (lambda a: a.index_select(1, ttorch.tensor([2, 0, 2], device=a.device)) * a.sum(),
                     [(_rand, (2, 3))]),
    "gather": (lambda a: a.gather(1, ttorch.tensor([[0, 0], [2, 1]], device=a.device)) ** 2, [(_rand, (2, 3))]),
    "take_along_dim": (lambda a: ttorch.take_along_dim(a, ttorch.tensor([[1], [0]], device=a.device), dim=1) * a,
                       [(_rand, (2, 3))]),
    "scatter_add": (lambda a, s: a.scatter_add(1, ttorch.tensor([[0, 2], [1, 1]], device=a.device), s) ** 2,
                    [(_rand, (2, 3)), (_rand, (2, 2))]),
    "index_add": (lambda a, s: a.index_add(0, ttorch.tensor([1, 1], device=a.device), s) ** 2,
                  [(_rand, (2, 3)), (_rand, (2, 3))]),
    "masked": (lambda a: a.masked_fill(a > 0, 2.0) * a + a[a < 0].sum() * a, [(_away, (2, 3))]),
    "movement": (lambda a: a.t().reshape(6).flip(0).unsqueeze(1) * a.permute(1, 0).reshape(1, 6),
                 [(_rand, (2, 3))]),
    "cat_stack": (lambda a, b: ttorch.cat([a, b * a]) * ttorch.stack([a, b]).sum(0).sum(), [(_rand, (3,)),
                                                                                          (_rand, (3,))]),
    # scans
    "cumsum": (lambda a: a.cumsum(dim=1) * a, [(_rand, (2, 3))]),
    "cumprod": (lambda a: a.cumprod(dim=0) * a.cumprod(dim=1), [(_away, (3, 2))]),
}

# the simulated GPU runs each kernel in Python: a few elements per case
CUDA_CASES = {
    "exp_tanh": (lambda a: a.exp() * a.tanh(), [(_rand, (3,))]),
    "pow_tensor_tensor": (lambda a, b: a.pow(b), [(_pos, (2,)), (_rand, (2,))]),
    "where_clamp": (lambda a, b: ttorch.where(a > 0, a * b, b.exp()) + a.clamp(-0.7, 0.75) * a,
                    [(_away, (3,)), (_rand, (3,))]),
    "prod": (lambda a: a.prod(), [(_away, (3,))]),
    "norm_logsumexp": (lambda a: a.norm() * a.logsumexp(0), [(_away, (3,))]),
    "matmul_broadcast": (lambda a, b: a @ b, [(_rand, (2, 1, 2)), (_rand, (2, 1))]),
    "softmax": (lambda a: a.softmax(dim=-1) * a, [(_rand, (3,))]),
    "gather": (lambda a: a.gather(0, ttorch.tensor([2, 0], device=a.device)) ** 2, [(_rand, (3,))]),
    "cumprod": (lambda a: a.cumprod(0), [(_away, (3,))]),
}


def _inputs(table, case, device):
    return tuple(make(shape, device, seed=k) for k, (make, shape) in enumerate(table[case][1]))


@pytest.mark.parametrize("case", sorted(CASES))
def test_gradgradcheck_cpu(case):
    fn = CASES[case][0]
    inputs = _inputs(CASES, case, "cpu")
    assert gradcheck(fn, inputs)
    assert gradgradcheck(fn, inputs)


@pytest.mark.parametrize("case", sorted(CUDA_CASES))
def test_gradgradcheck_cuda(case):
    if not ttorch.cuda.is_available():
        pytest.skip("no cuda")
    fn = CUDA_CASES[case][0]
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="Input #")     # float64 inputs: no precision warning
        assert gradgradcheck(fn, _inputs(CUDA_CASES, case, "cuda"))


class _Cube(ttorch.autograd.Function):
    @staticmethod
    def forward(ctx, x, wrong):
        ctx.save_for_backward(x)
        ctx.wrong = wrong
        return x * x * x

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * 3 * x * x * (1.5 if ctx.wrong else 1.0), None


def test_custom_function(device):
    x = _rand((3,), device)
    assert gradcheck(_Cube.apply, (x, False))
    assert gradgradcheck(_Cube.apply, (x, False))
    assert gradcheck(_Cube.apply, (x, True), raise_exception=False) is False
    with pytest.raises(GradcheckError, match="^Jacobian mismatch for output 0 with respect to input 0,\nnumerical:"):
        gradcheck(_Cube.apply, (x, True))
