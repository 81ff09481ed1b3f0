"""ttorch.library: custom operators with a user's own Triton kernel (simulated cuda) and a NumPy cpu kernel,
their autograd formulas against gradcheck, mutation, aliasing, Library/define/impl, opcheck and the
``ttorch.ops.<namespace>`` lookup. Schema strings and messages were checked by hand against PyTorch 2.13."""
import typing

import numpy as np
import pytest
import triton
import triton.language as tl

import ttorch
from ttorch import Tensor
from ttorch.library import (Library, custom_op, define, get_ctx, impl, infer_schema, opcheck, register_autograd,
                            register_fake, triton_op, wrap_triton)
from ttorch.library._opcheck import OpCheckError


# --- a user's Triton kernels, written as research code writes them ---------------------------------------
@triton.jit
def _add_kernel(x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=mask) + tl.load(y_ptr + offs, mask=mask), mask=mask)


@triton.jit
def _gate_kernel(x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr):
    """out = x * sigmoid(y), fused"""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    y = tl.load(y_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, x / (1 + tl.exp(-y)), mask=mask)


@triton.autotune(configs=[triton.Config({"BLOCK": 8})], key=["n"])
@triton.jit
def _scale_kernel(x_ptr, out_ptr, n, s, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=mask) * s, mask=mask)


CALLS = {"cpu": 0, "cuda": 0}


@triton_op("tlib::myadd", mutates_args=())
def myadd(x: Tensor, y: Tensor) -> Tensor:
    x, y = x.contiguous(), y.contiguous()
    out = ttorch.empty_like(x)
    n = out.numel()
    wrap_triton(_add_kernel)[(triton.cdiv(n, 16),)](x, y, out, n, BLOCK=16)
    return out


@custom_op("tlib::gate", mutates_args=(), device_types="cuda")
def gate(x: Tensor, y: Tensor) -> Tensor:
    CALLS["cuda"] += 1
    x, y = x.contiguous(), y.contiguous()
    out = ttorch.empty_like(x)
    n = out.numel()
    wrap_triton(_gate_kernel)[lambda meta: (triton.cdiv(n, meta["BLOCK"]),)](x, y, out, n, BLOCK=8)
    return out


@gate.register_kernel("cpu")
def _gate_cpu(x, y):
    CALLS["cpu"] += 1
    return ttorch.from_numpy(x.numpy() / (1 + np.exp(-y.numpy())))


@gate.register_fake
def _gate_fake(x, y):
    return ttorch.empty_like(x)


def _gate_setup(ctx, inputs, output):
    x, y = inputs
    ctx.save_for_backward(x, y)


def _gate_backward(ctx, g):
    x, y = ctx.saved_tensors
    s = ttorch.sigmoid(y)
    return (g * s if ctx.needs_input_grad[0] else None, g * x * s * (1 - s) if ctx.needs_input_grad[1] else None)


gate.register_autograd(_gate_backward, setup_context=_gate_setup)


def _sig(y):
    return 1 / (1 + np.exp(-y))


def test_triton_add_on_cuda():
    x, y = ttorch.randn(37, device="cuda"), ttorch.randn(37, device="cuda")
    for out in (myadd(x, y), ttorch.ops.tlib.myadd(x, y), ttorch.ops.tlib.myadd.default(x, y)):
        assert out.device.type == "cuda"
        np.testing.assert_allclose(out.cpu().numpy(), x.cpu().numpy() + y.cpu().numpy(), rtol=1e-6)
    nc = ttorch.randn(5, 6, device="cuda").t()      # non-contiguous input
    np.testing.assert_allclose(myadd(nc, nc).cpu().numpy(), 2 * nc.cpu().numpy(), rtol=1e-6)


def test_wrap_triton_keywords_and_autotune():
    x = ttorch.randn(20, device="cuda")
    out = ttorch.empty_like(x)
    wrap_triton(_add_kernel)[(2,)](x, y_ptr=x, out_ptr=out, n=20, BLOCK=16)    # tensors by keyword too
    np.testing.assert_allclose(out.cpu().numpy(), 2 * x.cpu().numpy(), rtol=1e-6)
    wrap_triton(_scale_kernel)[lambda meta: (triton.cdiv(20, meta["BLOCK"]),)](x, out, 20, 0.5)
    np.testing.assert_allclose(out.cpu().numpy(), 0.5 * x.cpu().numpy(), rtol=1e-6)


def test_device_dispatch(device):
    x = ttorch.randn(3, 5, device=device, dtype=ttorch.float64)
    y = ttorch.randn(3, 5, device=device, dtype=ttorch.float64)
    before = dict(CALLS)
    out = gate(x, y)
    assert CALLS[device] == before[device] + 1 and sum(CALLS.values()) == sum(before.values()) + 1
    assert out.device.type == device and out.dtype == ttorch.float64
    np.testing.assert_allclose(out.cpu().numpy(), x.cpu().numpy() * _sig(y.cpu().numpy()), rtol=1e-12)


def test_autograd_gradcheck(device):
    x = ttorch.randn(2, 3, device=device, dtype=ttorch.float64, requires_grad=True)
    y = ttorch.randn(2, 3, device=device, dtype=ttorch.float64, requires_grad=True)
    out = gate(x, y)
    assert out.requires_grad and type(out.grad_fn).__name__ == "GeneratedBackwardFor_tlib_gate_defaultBackward"
    assert ttorch.autograd.gradcheck(gate, (x, y))
    xn, yn = x.detach().cpu().numpy(), y.detach().cpu().numpy()
    out.sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), _sig(yn), rtol=1e-12)
    np.testing.assert_allclose(y.grad.cpu().numpy(), xn * _sig(yn) * (1 - _sig(yn)), rtol=1e-12)
    y2 = ttorch.randn(2, 3, device=device, dtype=ttorch.float64)     # needs_input_grad reaches the formula
    gate(x, y2).sum().backward()


def test_no_grad_skips_graph():
    x = ttorch.randn(3, requires_grad=True)
    with ttorch.no_grad():
        assert not gate(x, x.detach()).requires_grad


def test_backward_without_formula_raises():
    x = ttorch.randn(4, device="cuda", requires_grad=True)
    out = myadd(x, x)
    assert out.requires_grad
    with pytest.raises(RuntimeError, match="Trying to backward through tlib.myadd.default but no autograd formula"):
        out.sum().backward()


def test_set_kernel_enabled():
    @custom_op("tlib::which", mutates_args=())
    def which(x: Tensor) -> Tensor:
        return ttorch.zeros(1)

    @which.register_kernel("cpu")
    def _(x):
        return ttorch.ones(1)
    x = ttorch.randn(1)
    assert which(x).item() == 1.0
    with which.set_kernel_enabled("cpu", enabled=False):
        assert which(x).item() == 0.0
    assert which(x).item() == 1.0


def test_mutation_bumps_version():
    @custom_op("tlib::numpy_inc", mutates_args={"x"}, device_types="cpu")
    def numpy_inc(x: Tensor, by: float) -> None:
        x.numpy()[...] += by     # writes through NumPy: ttorch sees no in-place op, the op bumps the version
    t = ttorch.zeros(3)
    v = t._version
    assert numpy_inc(t, 2.0) is None
    assert t._version == v + 1 and t.tolist() == [2.0, 2.0, 2.0]
    assert str(ttorch.ops.tlib.numpy_inc.default._schema) == "tlib::numpy_inc(Tensor(a0!) x, float by) -> ()"
    with pytest.raises(RuntimeError, match="Cannot register autograd formula for non-functional operator"):
        numpy_inc.register_autograd(lambda ctx, g: g)
    with pytest.raises(NotImplementedError, match="Could not run 'tlib::numpy_inc' with arguments from the 'CUDA'"):
        numpy_inc(ttorch.zeros(2, device="cuda"), 1.0)


def test_aliasing_error():
    @custom_op("tlib::ident", mutates_args=())
    def ident(x: Tensor) -> Tensor:
        return x.view(-1)
    with pytest.raises(RuntimeError, match=r"ident \(with implementation in .*must not also be an input"):
        ident(ttorch.randn(2))


def test_list_and_kwarg_only_inputs():
    @custom_op("tlib::wsum", mutates_args=())
    def wsum(xs: list[Tensor], w: list[float], *, scale: float = 1.0) -> Tensor:
        return sum(x * c for x, c in zip(xs, w)) * scale

    def setup(ctx, inputs, keyword_only_inputs, output):
        ctx.w, ctx.scale = inputs[1], keyword_only_inputs["scale"]

    def backward(ctx, g):
        assert isinstance(ctx.needs_input_grad[0], list)
        return [g * c * ctx.scale for c in ctx.w], None
    wsum.register_autograd(backward, setup_context=setup)
    assert str(wsum._opoverload._schema) == "tlib::wsum(Tensor[] xs, float[] w, *, float scale=1.0) -> Tensor"
    a = ttorch.randn(3, dtype=ttorch.float64, requires_grad=True)
    b = ttorch.randn(3, dtype=ttorch.float64, requires_grad=True)
    out = wsum([a, b], [2.0, -1.0], scale=0.5)
    np.testing.assert_allclose(out.detach().numpy(), (2 * a.detach().numpy() - b.detach().numpy()) * 0.5)
    out.sum().backward()
    assert a.grad.tolist() == [1.0] * 3 and b.grad.tolist() == [-0.5] * 3
    with pytest.raises(RuntimeError, match="tlib::wsum\\(\\) is missing value for argument 'w'"):
        wsum([a])
    with pytest.raises(RuntimeError, match="expected at most 3 argument\\(s\\) but received 3"):
        wsum([a], [1.0], z=1.0)


def test_infer_schema():
    def f(x: Tensor, y: float, n: int, b: bool, s: str, d: ttorch.dtype, dev: ttorch.device,
          o: typing.Optional[Tensor], lt: list[Tensor], li: list[int], of: typing.Optional[float] = None, *,
          k: int = 3, st: str = "a", dt: ttorch.dtype = ttorch.float32) -> tuple[Tensor, Tensor]: ...
    assert infer_schema(f, mutates_args={"x", "lt"}) == (
        "(Tensor(a0!) x, float y, SymInt n, bool b, str s, ScalarType d, Device dev, Tensor? o, Tensor(a8!)[] lt, "
        "SymInt[] li, float? of=None, *, SymInt k=3, str st=\"a\", ScalarType dt=float32) -> (Tensor, Tensor)")

    def g(x: Tensor | None, y: "Tensor") -> list[Tensor]: ...
    assert infer_schema(g, mutates_args="unknown", op_name="g") == "g(Tensor(a0!)? x, Tensor(a1!) y) -> Tensor[]"

    def h(x: Tensor) -> tuple[Tensor]: ...
    assert infer_schema(h, mutates_args=()) == "(Tensor x) -> ((Tensor))"

    def bad(x: Tensor, y: int) -> Tensor: ...
    with pytest.raises(ValueError, match="Parameter y is in mutable_args but only Tensors"):
        infer_schema(bad, mutates_args={"y"})
    with pytest.raises(ValueError, match=r"\{'z'\} in mutates_args were not found"):
        infer_schema(bad, mutates_args={"z"})
    with pytest.raises(ValueError, match="Parameter x must have a type annotation"):
        infer_schema(lambda x: x, mutates_args=())
    with pytest.raises(ValueError, match="mutates_args must either be a sequence"):
        infer_schema(bad, mutates_args="bad")


def test_library_define_impl():
    lib = Library("tlib2", "DEF")
    try:
        assert lib.define("scale(Tensor x, float s=2.0) -> Tensor") == "scale"
        lib.impl("scale", lambda x, s: ttorch.from_numpy(x.numpy() * s), "CPU")
        lib.impl("scale", lambda x, s: x * s, "CUDA")
        assert ttorch.ops.tlib2.scale(ttorch.ones(2)).tolist() == [2.0, 2.0]
        assert ttorch.ops.tlib2.scale(ttorch.ones(2, device="cuda"), 3.0).cpu().tolist() == [3.0, 3.0]
        lib.define("cube(Tensor x) -> Tensor")
        lib.impl("cube", lambda x: x * x * x, "CompositeImplicitAutograd")    # differentiated through its ops
        x = ttorch.tensor([2.0], requires_grad=True)
        ttorch.ops.tlib2.cube(x).backward()
        assert x.grad.tolist() == [12.0]
        lib.impl("scale", lambda x, s=2.0: ttorch.empty(5), "Meta")       # a wrong fake: opcheck sees it
        with pytest.raises(OpCheckError, match="test_faketensor failed"):
            opcheck(ttorch.ops.tlib2.scale, (ttorch.ones(2),), test_utils="test_faketensor")
        with pytest.raises(RuntimeError, match="same name and overload name multiple times"):
            lib.define("cube(Tensor x) -> Tensor")
        with pytest.raises(AttributeError, match="'_OpNamespace' 'tlib2' object has no attribute 'nope'"):
            ttorch.ops.tlib2.nope
    finally:
        lib._destroy()
    with pytest.raises(ValueError, match="Unsupported kind: BAD"):
        Library("tlib2", "BAD")
    with pytest.raises(RuntimeError, match="Cannot define an operator in a Library of kind IMPL"):
        Library("tlib2", "IMPL").define("f(Tensor x) -> Tensor")


def test_define_impl_functions_and_register_autograd():
    define("tlib3::twice", "(Tensor x) -> Tensor")
    impl("tlib3::twice", "default", lambda x: x * 2)
    x = ttorch.tensor([1.0, -3.0], dtype=ttorch.float64, requires_grad=True)
    with pytest.raises(OpCheckError, match="test_autograd_registration failed"):
        opcheck(ttorch.ops.tlib3.twice, (x,))
    register_autograd("tlib3::twice", lambda ctx, g: 2 * g)
    register_fake("tlib3::twice", lambda x: ttorch.empty_like(x))
    assert set(opcheck(ttorch.ops.tlib3.twice.default, (x,)).values()) == {"SUCCESS"}


def test_opcheck(device):
    x = ttorch.randn(2, 3, dtype=ttorch.float64, requires_grad=True, device=device)
    y = ttorch.randn(2, 3, dtype=ttorch.float64, requires_grad=True, device=device)
    assert opcheck(gate, (x, y)) == {k: "SUCCESS" for k in ("test_schema", "test_autograd_registration",
                                                           "test_faketensor", "test_aot_dispatch_dynamic")}
    assert x.grad is None       # opcheck works on clones
    if device == "cuda":        # a triton_op: its own function is its fake impl
        assert set(opcheck(myadd, (x.detach(), y.detach())).values()) == {"SUCCESS"}


def test_opcheck_failures():
    @custom_op("tlib::sneaky", mutates_args=())
    def sneaky(x: Tensor) -> Tensor:
        x.numpy()[...] = 0      # writes an input it did not declare
        return ttorch.ones(3)
    res = opcheck(sneaky, (ttorch.ones(2),), raise_exception=False)
    assert "Argument x is not defined as mutable but was mutated" in str(res["test_schema"])
    assert "There was no fake impl registered for <CustomOpDef(tlib::sneaky)>" in str(res["test_faketensor"])
    assert res["test_autograd_registration"] == "SUCCESS"      # (a custom_op always has an autograd kernel)
    assert "no fake impl" in str(res["test_aot_dispatch_dynamic"])
    sneaky.register_fake(lambda x: ttorch.empty(2))
    with pytest.raises(OpCheckError, match=r"test_faketensor failed with .*shape \(2,\).*shape \(3,\)"):
        opcheck(sneaky, (ttorch.ones(2),), test_utils="test_faketensor")

    @custom_op("tlib::wrong_grad", mutates_args=())
    def wrong_grad(x: Tensor) -> Tensor:
        return x * x
    wrong_grad.register_autograd(lambda ctx, g: g, setup_context=lambda ctx, inputs, output: None)
    with pytest.raises(OpCheckError, match="test_aot_dispatch_dynamic failed"):
        opcheck(wrong_grad, (ttorch.randn(3, dtype=ttorch.float64, requires_grad=True),),
                test_utils=("test_aot_dispatch_dynamic",))


def test_fake_ctx_dynamic_size():
    @custom_op("tlib::positives", mutates_args=())
    def positives(x: Tensor) -> Tensor:
        return ttorch.from_numpy(x.numpy()[x.numpy() > 0].copy())

    @positives.register_fake
    def _(x):
        return x.new_empty(get_ctx().new_dynamic_size())
    assert opcheck(positives, (ttorch.tensor([1.0, -1.0, 2.0]),), test_utils="test_faketensor") == {
        "test_faketensor": "SUCCESS"}
    with pytest.raises(RuntimeError, match="outside of a fake impl"):
        get_ctx()


def test_unsupported_pieces():
    with pytest.raises(NotImplementedError, match="__torch_dispatch__"):
        gate.register_torch_dispatch(object, lambda *a: None)
    with pytest.raises(RuntimeError, match="wrap_triton only works on functions annotated with triton.jit"):
        wrap_triton(lambda x: x)
    with pytest.raises(NotImplementedError, match="custom_op with kwarg-only Tensor args"):
        custom_op("tlib::kwt", lambda x, *, y: x, mutates_args=(), schema="(Tensor x, *, Tensor y) -> Tensor")


def test_ops_namespace_keeps_its_names():
    import types
    assert isinstance(ttorch.ops.linalg, types.ModuleType) and "add" not in dir(ttorch.ops.tlib)
    assert "myadd" in dir(ttorch.ops.tlib) and repr(ttorch.ops.tlib.myadd) == "tlib.myadd"
    with pytest.raises(AttributeError):
        ttorch.ops._no_such_private
