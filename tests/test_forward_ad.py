"""Forward-mode AD (``ttorch.autograd.forward_ad``) and the transforms built on it.

* every op's samples: the tangent of its outputs against float64 central differences (cpu);
* a few compositions on cuda against cpu;
* views and in-place ops (semantics checked by hand against PyTorch 2.13), custom Functions' ``jvp``;
* ``func.jvp``/``jacfwd``/``hessian`` and ``autograd.functional``'s forward strategies against
  reverse mode, forward-over-reverse and reverse-over-forward, PyTorch's error messages.
"""
import doctest

import numpy as np
import pytest

import ttorch
import ttorch.autograd.forward_ad as fwAD
import ttorch.autograd.functional as AF
from ttorch import _dtype as D
from ttorch.func import grad, hessian, jacfwd, jacrev, jvp, linearize
from ttorch.ops import REGISTRY
from ttorch.ops.samples import is_data

from _helpers import make

HAS_CUDA = ttorch.cuda.is_available()
F64 = D.float64


def _tangent(t):
    return fwAD.unpack_dual(t).tangent


def _np(t):
    return t.detach().cpu().numpy()


# ----------------------------------------------------------------------------- every op vs differences
def _outs(r):
    return list(r) if isinstance(r, (tuple, list)) else [r]


def _call(op, sample, arrays, tangents=None):
    args = [make(a, F64, "cpu") if isinstance(a, np.ndarray) else a for a in arrays]
    if tangents is None:
        return _outs(op.public(*args, **sample.kwargs))
    with fwAD.dual_level():
        args = [fwAD.make_dual(x, ttorch.tensor(t)) if t is not None else x for x, t in zip(args, tangents)]
        return [(o, _tangent(o)) for o in _outs(op.public(*args, **sample.kwargs))]


_OPS = sorted(n for n, op in REGISTRY.items() if op.samples is not None and op.public is not None
              and op.backward is not None)


@pytest.mark.parametrize("name", _OPS)
def test_jvp_matches_central_differences(name):
    op = REGISTRY[name]
    rng = np.random.default_rng(3)
    for i, s in enumerate(op.samples()):
        if not s.grad:
            continue
        arrays = [np.array(a, dtype=np.float64) if is_data(a) and a.dtype.kind == "f" else a for a in s.args]
        tangents = [rng.uniform(-1, 1, size=a.shape) if is_data(a) and a.dtype.kind == "f" else None for a in arrays]
        got = _call(op, s, arrays, tangents)
        eps = 1e-6
        plus = _call(op, s, [np.array(a + eps * t) if t is not None else a for a, t in zip(arrays, tangents)])
        minus = _call(op, s, [np.array(a - eps * t) if t is not None else a for a, t in zip(arrays, tangents)])
        k = len(got) if op.grad_outputs is None else op.grad_outputs
        for (o, t), p, m in list(zip(got, plus, minus))[:k]:
            if not o.dtype.is_floating_point:
                assert t is None
                continue
            fd = (_np(p) - _np(m)) / (2 * eps)
            if t is None:       # (a detached output: slogdet's sign)
                assert not np.any(fd), f"{name} sample {i}: no tangent"
                continue
            assert t.shape == o.shape
            np.testing.assert_allclose(_np(t), fd, rtol=1e-5, atol=1e-6, equal_nan=True,
                                       err_msg=f"{name} sample {i}: tangent vs central differences")


def _fd_check(fn, x, t, eps=1e-6):
    """``fn``'s tangent at ``x`` along ``t`` (float64) against central differences."""
    with fwAD.dual_level():
        outs = [(o, _tangent(o)) for o in _outs(fn(fwAD.make_dual(x, t)))]
    plus, minus = _outs(fn(x + eps * t)), _outs(fn(x - eps * t))
    for (o, tan), p, m in zip(outs, plus, minus):
        np.testing.assert_allclose(_np(tan), (_np(p) - _np(m)) / (2 * eps), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("fn", [
    lambda x: x.view(6, 2), lambda x: x.permute(2, 0, 1), lambda x: x[:, None].expand(2, 4, 3, 2),
    lambda x: x.as_strided((2, 2), (3, 1), 1), lambda x: x.unfold(1, 2, 1), lambda x: x.split(1, 1),
    lambda x: x.split([1, 2], 1), lambda x: x.unbind(2), lambda x: x.chunk(2, 0), lambda x: x.diagonal(0, 1, 2),
    lambda x: x[1, ::2], lambda x: x.T.reshape(-1), lambda x: x.clone(),
    lambda x: ttorch.where(x > 0, x, x.exp()), lambda x: ttorch.where(x > 0, 2.0, x),
    lambda x: x.contiguous().view(-1).cumsum(0),
    lambda x: ttorch.autograd.grad((x.exp()[1:, :2] ** 2).sum(), x, create_graph=True)[0],   # through view_scatter
], ids=lambda f: None)
def test_ops_without_samples(fn):
    x = ttorch.randn(2, 3, 2, dtype=F64)
    t = ttorch.randn(2, 3, 2, dtype=F64)
    if "grad" in fn.__code__.co_names:
        x.requires_grad_()
    _fd_check(fn, x, t)


def test_ttorch_functions_without_jvp():
    # ttorch's own autograd.Functions (custom backward rules) take their tangents from their forward's ops
    from ttorch.utils.checkpoint import checkpoint
    F = ttorch.nn.functional
    idx = ttorch.tensor([[0, 2], [1, 0]])
    w, tw = ttorch.randn(3, 4, dtype=F64), ttorch.randn(3, 4, dtype=F64)
    _fd_check(lambda w: F.embedding(idx, w, padding_idx=1), w, tw)
    p, y = ttorch.rand(5, dtype=F64) * 0.8 + 0.1, ttorch.rand(5, dtype=F64)
    _fd_check(lambda p: F.binary_cross_entropy(p, y), p, ttorch.randn(5, dtype=F64))
    x = ttorch.randn(4, dtype=F64, requires_grad=True)
    _fd_check(lambda x: checkpoint(lambda a: a.sin() * a, x, use_reentrant=True), x, ttorch.randn(4, dtype=F64))
    lin = ttorch.nn.Linear(4, 2).double()
    lin.register_full_backward_hook(lambda *a: None)
    _fd_check(lin, x, ttorch.randn(4, dtype=F64))


def test_dropout_tangent_uses_the_same_mask():
    x, t = ttorch.randn(50, dtype=F64), ttorch.randn(50, dtype=F64)
    with fwAD.dual_level():
        y = ttorch.nn.functional.dropout(fwAD.make_dual(x, t), 0.5)
        kept = _np(y) != 0
        np.testing.assert_allclose(_np(_tangent(y)), np.where(kept, 2 * _np(t), 0))


@pytest.mark.skipif(not HAS_CUDA, reason="no cuda device")
def test_cuda_matches_cpu():
    x, t = ttorch.randn(3, 5), ttorch.randn(3, 5)
    w, tw = ttorch.randn(4, 5), ttorch.randn(4, 5)
    res = []
    for dev in ("cpu", "cuda"):
        with fwAD.dual_level():
            d, dw = fwAD.make_dual(x.to(dev), t.to(dev)), fwAD.make_dual(w.to(dev), tw.to(dev))
            y = ttorch.nn.functional.linear(d.tanh(), dw).log_softmax(1)        # explicit rules
            y = y + ttorch.nn.functional.layer_norm(d, (5,))[:, :4] * d.T[:4].exp().T   # generic, views
            z = d.clone()
            z[1:].mul_(2)                                                     # in place through a view
            z.add_(d.cumprod(1))
            assert _tangent(d.cpu()).device.type == "cpu"                    # across devices
            np.testing.assert_allclose(_np(_tangent(d.cpu() * 2)), 2 * _np(t), rtol=1e-6)
            assert _tangent(y).device.type == dev
            res.append([_tangent(y).cpu(), _tangent(z).cpu()])
    for c, g in zip(*res):
        np.testing.assert_allclose(_np(g), _np(c), rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------------- the API and its errors
def test_levels_and_errors():
    x = ttorch.randn(3)
    with pytest.raises(RuntimeError, match="no level exists, make sure to enter_dual_level"):
        fwAD.make_dual(x, ttorch.ones(3))
    assert fwAD.unpack_dual(x) == (x, None)
    with fwAD.dual_level() as level:
        assert level == 0
        with pytest.raises(RuntimeError, match="Nested forward mode AD is not supported at the moment"):
            fwAD.enter_dual_level()
        with pytest.raises(RuntimeError, match=r"different size .* Tensor is of size \[3\] while the given forward "
                                               r"gradient is of size \[4\]"):
            fwAD.make_dual(x, ttorch.ones(4))
        with pytest.raises(ValueError, match="Expected primal to be floating point or complex, but got: ttorch.int64"):
            fwAD.make_dual(ttorch.arange(3), ttorch.ones(3))
        with pytest.raises(ValueError, match="Expected tangent to be floating point or complex"):
            fwAD.make_dual(x, ttorch.arange(3))
        with pytest.raises(RuntimeError, match="Invalid level given to _make_dual"):
            fwAD.make_dual(x, ttorch.ones(3), level=3)
        d = fwAD.make_dual(x, ttorch.ones(3))
        with pytest.raises(RuntimeError, match="already has a forward gradient at the same level 0"):
            fwAD.make_dual(d, ttorch.ones(3))
        with pytest.raises(RuntimeError, match="Invalid level given to _fw_primal"):
            fwAD.unpack_dual(d, level=1)
        assert d is not x and d._base is x and not d.requires_grad
        u = fwAD.unpack_dual(d)
        assert type(u).__name__ == "UnpackedDualTensor" and u.primal is not d and _tangent(u.primal) is None
        assert np.array_equal(_np(u.primal), _np(x)) and np.array_equal(_np(u.tangent), np.ones(3))
        assert _tangent(d.detach()) is None and _tangent(d.data) is None
        with pytest.raises(RuntimeError, match="not the last one that was created"):
            fwAD.exit_dual_level(level=5)
        assert ttorch.ops._op._forward_ad is not None
    assert ttorch.ops._op._forward_ad is None       # the hot path is back to its one test
    assert fwAD.unpack_dual(d).tangent is None      # tangents die with their level
    with pytest.raises(RuntimeError, match="Dual level must be a positive number"):
        fwAD.exit_dual_level()
    assert fwAD.enter_dual_level() == 0
    assert fwAD.unpack_dual(d).tangent is None and _tangent(d * 2) is None     # nor in the next level
    fwAD.exit_dual_level(level=0)
    with pytest.raises(ZeroDivisionError), fwAD.dual_level():
        1 / 0
    assert ttorch.ops._op._forward_ad is None


def test_what_gets_a_tangent():
    x = ttorch.randn(3, dtype=F64)
    with fwAD.dual_level():
        d = fwAD.make_dual(x, ttorch.tensor([1., 2., 3.], dtype=F64))
        assert _tangent(d > 0) is None and _tangent(d.argmax()) is None       # integer and bool outputs
        assert _tangent(ttorch.zeros_like(d)) is None
        assert not _tangent(ttorch.normal(d, 1.0)).any()       # zero, as PyTorch's (and its gradient)
        with ttorch.no_grad():                      # forward AD ignores grad mode
            np.testing.assert_allclose(_np(_tangent(d.sin())), np.cos(_np(x)) * [1, 2, 3])
        assert _tangent(d.float()).dtype is D.float32 and _tangent(d.contiguous()) is not None
        v = d.sort()
        assert _tangent(v.indices) is None
        np.testing.assert_array_equal(_np(_tangent(v.values)), np.array([1., 2., 3.])[np.argsort(_np(x))])
        # a float64 tangent of a float32 primal stays float64, as in PyTorch
        assert _tangent(fwAD.make_dual(x.float(), ttorch.ones(3, dtype=F64))).dtype is F64
        with pytest.raises(NotImplementedError, match="forward AD with mul_out that does not support it because it "
                                                      "is an out= function"):
            ttorch.mul(d, 3, out=ttorch.empty(3, dtype=F64))
        # an op without a derivative formula
        with pytest.raises(NotImplementedError, match="forward AD with special_bessel_j0 that does not support it"):
            ttorch.special.bessel_j0(d)
        # the tangent of a non-contiguous primal takes its layout
        m = ttorch.randn(3, 2).T
        dm = fwAD.make_dual(m, ttorch.arange(6.).view(2, 3))
        assert _tangent(dm).stride() == m.stride()
        np.testing.assert_array_equal(_np(_tangent(dm.reshape(6))), np.arange(6.))
    with pytest.raises(NotImplementedError):
        with fwAD.dual_level():
            # (complex primals with complex tangents: test_complex_more.py)
            fwAD.make_dual(ttorch.zeros(2), ttorch.zeros(2, dtype=D.complex64))


def test_views_and_inplace():
    with fwAD.dual_level():
        d = fwAD.make_dual(ttorch.randn(3), ttorch.ones(3))
        base = ttorch.zeros(4, 3)
        v = base[1]
        v.copy_(d)                                  # a plain base gets a zero tangent, its view the new one
        np.testing.assert_array_equal(_np(_tangent(base)), [[0] * 3, [1] * 3, [0] * 3, [0] * 3])
        assert _tangent(v)._base is _tangent(base)._base
        b = fwAD.make_dual(ttorch.zeros(2, 3), ttorch.arange(6.).view(2, 3))
        r = b[0]
        np.testing.assert_array_equal(_np(_tangent(r)), [0, 1, 2])
        r.mul_(2)                                   # through the view into the base's tangent
        np.testing.assert_array_equal(_np(_tangent(b)), [[0, 2, 4], [3, 4, 5]])
        late = b[:, 1]                              # a view made after: sees the same tangent
        np.testing.assert_array_equal(_np(_tangent(late)), [2, 4])
        c = ttorch.ones(2, 3)
        c.mul_(b)                                   # a plain tensor takes the tangent of the result
        np.testing.assert_array_equal(_np(_tangent(c)), [[0, 2, 4], [3, 4, 5]])
        q = d.clone()
        q.zero_()
        np.testing.assert_array_equal(_np(_tangent(q)), [0, 0, 0])
        q = d.clone()
        q.fill_(2.)
        np.testing.assert_array_equal(_np(_tangent(q)), [0, 0, 0])
        q = ttorch.zeros(3)
        q[1] = d[0]
        np.testing.assert_array_equal(_np(_tangent(q)), [0, 1, 0])
        q = ttorch.zeros(3)
        q[1:] = 5
        assert _tangent(q) is None
        q = d.clone()
        q[1:] = 5
        np.testing.assert_array_equal(_np(_tangent(q)), [1, 0, 0])
        q = ttorch.zeros(3)
        q[ttorch.tensor([0, 2])] = d[:2]            # advanced indexing: index_put
        np.testing.assert_array_equal(_np(_tangent(q)), [1, 0, 1])
        q = ttorch.randn(3)
        q.copy_(d)
        np.testing.assert_array_equal(_np(_tangent(q)), [1, 1, 1])
        q = d.clone()
        q.copy_(ttorch.ones(3))
        np.testing.assert_array_equal(_np(_tangent(q)), [0, 0, 0])
        q = d.clone()
        q.masked_fill_(ttorch.tensor([True, False, True]), 0.)
        np.testing.assert_array_equal(_np(_tangent(q)), [0, 1, 0])
        w = d.view(3, 1).expand(3, 2).T             # views of views keep following the storage
        np.testing.assert_array_equal(_np(_tangent(w)), np.ones((2, 3)))


# ----------------------------------------------------------------------------- composing with reverse mode
def test_forward_and_reverse_compose():
    ttorch.manual_seed(1)
    x, v = ttorch.randn(4, dtype=F64), ttorch.randn(4, dtype=F64)
    A = ttorch.randn(4, 4, dtype=F64)

    def f(x):
        ln = ttorch.nn.functional.layer_norm(x.view(2, 2), (2,))
        return (ttorch.softmax(A @ x.tanh(), 0).log() * x.exp()).sum() + ln.pow(3).sum()

    H = jacrev(jacrev(f))(x)
    hv = H @ v
    _, fwd_rev = jvp(grad(f), (x,), (v,))                       # forward over reverse
    np.testing.assert_allclose(_np(fwd_rev), _np(hv), rtol=1e-10, atol=1e-12)
    rev_fwd = grad(lambda x: jvp(f, (x,), (v,))[1])(x)           # reverse over forward
    np.testing.assert_allclose(_np(rev_fwd), _np(hv), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(_np(hessian(f)(x)), _np(H), rtol=1e-10, atol=1e-12)
    # jacfwd(jacfwd): the inner one runs in reverse mode under the outer level
    np.testing.assert_allclose(_np(jacfwd(jacfwd(f))(x)), _np(H), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(_np(jacfwd(jacrev(f))(x)), _np(H), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(_np(jacrev(jacfwd(f))(x)), _np(H), rtol=1e-10, atol=1e-12)
    # by hand: the tangent of a gradient, and the gradient of a tangent (a tangent requiring grad)
    p = ttorch.randn(3, dtype=F64, requires_grad=True)
    with fwAD.dual_level():
        dp = fwAD.make_dual(p, ttorch.ones(3, dtype=F64))
        y = (dp * dp).sum()
        g, = ttorch.autograd.grad(y, p)
        np.testing.assert_allclose(_np(_tangent(g)), [2, 2, 2])
        t = ttorch.ones(3, dtype=F64, requires_grad=True)
        e = fwAD.make_dual(ttorch.zeros(3, dtype=F64), t)
        tt = _tangent(e.exp() * 3)
        assert tt.requires_grad
        gt, = ttorch.autograd.grad(tt.sum(), t)
        np.testing.assert_allclose(_np(gt), [3, 3, 3])


def test_custom_function_jvp():
    seen = []

    class MulK(ttorch.autograd.Function):
        @staticmethod
        def forward(ctx, x, y, k):
            ctx.save_for_forward(x, y)
            ctx.k = k
            seen.append(_tangent(x))
            return x * y * k, x + 1

        @staticmethod
        def jvp(ctx, tx, ty, tk):
            x, y = ctx.saved_tensors
            seen.append((tx, ty, tk))
            return (tx * y + x * ty) * ctx.k, tx

        @staticmethod
        def backward(ctx, g1, g2):
            return None, None, None

    class NoJvp(ttorch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    with fwAD.dual_level():
        x = fwAD.make_dual(ttorch.ones(2), ttorch.tensor([1., 2.]))
        y = ttorch.full((2,), 3.)
        a, b = MulK.apply(x, y, 2.)
        np.testing.assert_array_equal(_np(_tangent(a)), [6, 12])
        np.testing.assert_array_equal(_np(_tangent(b)), [1, 2])
        assert seen[0] is None                          # forward sees no tangents
        tx, ty, tk = seen[1]
        assert tk is None and np.array_equal(_np(ty), [0, 0])      # zeros for a tensor without a tangent
        a, b = MulK.apply(y, x, 2.)
        np.testing.assert_array_equal(_np(_tangent(a)), [6, 12])
        np.testing.assert_array_equal(_np(_tangent(b)), [0, 0])
        with pytest.raises(NotImplementedError, match="You must implement the jvp function for custom "
                                                      "autograd.Function to use it with forward mode AD."):
            NoJvp.apply(x)
        assert _tangent(NoJvp.apply(y)) is None         # no input with a tangent: jvp not needed

        class OneTangent(NoJvp):
            @staticmethod
            def forward(ctx, x):
                return x * 2, x * 3

            @staticmethod
            def jvp(ctx, t):
                return t * 2

        with pytest.raises(RuntimeError, match=r"Function's jvp returned an invalid number of forward gradients "
                                               r"\(expected 2 but got 1\)"):
            OneTangent.apply(x)


# ----------------------------------------------------------------------------- transforms
def test_func_jvp():
    x, t = ttorch.randn(3, dtype=F64), ttorch.randn(3, dtype=F64)
    out, jv = jvp(ttorch.sin, (x,), (t,))
    np.testing.assert_allclose(_np(jv), np.cos(_np(x)) * _np(t))
    assert not jv.requires_grad and _tangent(out) is None
    (o1, o2), (j1, j2), aux = jvp(lambda a, b: ((a * b, {"s": b.sum()}), "aux"), (x, t), (t, x), has_aux=True)
    np.testing.assert_allclose(_np(j1), _np(t) * _np(t) + _np(x) * _np(x))
    np.testing.assert_allclose(_np(j2["s"]), _np(x).sum())
    assert aux == "aux"
    _, z = jvp(lambda a: ttorch.arange(3), (x,), (t,))    # outputs that don't depend on the primals: zeros
    assert z.dtype is D.int64 and not z.any()
    msg = "jvp\\(f, primals, tangents\\): "
    with pytest.raises(RuntimeError, match=msg + "Expected primals to be a tuple. E.g. it should be valid"):
        jvp(ttorch.sin, x, t)
    with pytest.raises(RuntimeError, match=msg + "Expected primals and tangents to have the same python structure"):
        jvp(ttorch.sin, (x,), [t])
    with pytest.raises(RuntimeError, match=msg + "Expected primals to contain at least one Tensor."):
        jvp(ttorch.sin, (), ())
    with pytest.raises(RuntimeError, match=msg + "Expected primals to only contain Tensors, got <class 'float'>"):
        jvp(ttorch.sin, (1.,), (t,))
    with pytest.raises(RuntimeError, match=msg + "expected f\\(\\*primals\\) to return only tensors, got unsupported "
                                                 "type <class 'int'>"):
        jvp(lambda a: 3, (x,), (t,))
    with pytest.raises(RuntimeError, match=msg + "output of function f should be a tuple: \\(output, aux\\) if "
                                                 "has_aux is True"):
        jvp(ttorch.sin, (x,), (t,), has_aux=True)
    with pytest.raises(RuntimeError, match="forward gradient that has a different size"):
        jvp(ttorch.sin, (x,), (ttorch.ones(4, dtype=F64),))
    # nested: the inner jvp runs in reverse mode under the outer level
    _, jj = jvp(lambda a: jvp(ttorch.sin, (a,), (ttorch.ones(3, dtype=F64),))[1], (x,), (ttorch.ones(3, dtype=F64),))
    np.testing.assert_allclose(_np(jj), -np.sin(_np(x)))
    assert not jj.requires_grad


def test_linearize():
    x = ttorch.randn(3, dtype=F64)
    out, fn = linearize(lambda a, b: (a * b, a + b), x, x)
    np.testing.assert_allclose(_np(out[0]), _np(x) ** 2)
    j1, j2 = fn(ttorch.ones(3, dtype=F64), ttorch.zeros(3, dtype=F64))
    np.testing.assert_allclose(_np(j1), _np(x))
    np.testing.assert_array_equal(_np(j2), np.ones(3))
    with pytest.raises(RuntimeError, match=r"tangent:0 with shape ttorch.Size\(\[4\]\) in flattened pytree doesn't "
                                           r"match the shape ttorch.Size\(\[3\]\) of the corresponding primal."):
        fn(ttorch.ones(4), ttorch.ones(3))
    with pytest.raises(RuntimeError, match="to have the same argspec as the primals"):
        fn(ttorch.ones(3))


def test_jacfwd_matches_jacrev():
    x, y = ttorch.randn(3, dtype=F64), ttorch.randn(2, 2, dtype=F64)

    def f(a, b):
        return {"p": (a[:2, None] * b).exp(), "q": ttorch.stack([a.sum(), (b @ b).trace()])}

    for argnums in (0, 1, (0, 1)):
        fw, rv = jacfwd(f, argnums)(x, y), jacrev(f, argnums)(x, y)
        for k in ("p", "q"):
            for a, b in zip(fw[k] if isinstance(argnums, tuple) else [fw[k]],
                            rv[k] if isinstance(argnums, tuple) else [rv[k]]):
                assert a.shape == b.shape
                np.testing.assert_allclose(_np(a), _np(b), rtol=1e-12, atol=1e-12)
    j, aux = jacfwd(lambda a: (a.sin(), a.cos()), has_aux=True)(x)
    np.testing.assert_allclose(_np(j), np.diag(np.cos(_np(x))))
    np.testing.assert_allclose(_np(aux), np.cos(_np(x)))
    assert jacfwd(lambda a: a.sin())(ttorch.tensor(2.)).shape == ()
    assert jacfwd(lambda a: a * 2)(ttorch.zeros(0, 3)).shape == (0, 3, 0, 3)
    with pytest.raises(ValueError, match="Thing passed to transform API must be Tensor"):
        jacfwd(lambda a: a)(1.)


def test_autograd_functional_forward_mode():
    x, y = ttorch.randn(3, dtype=F64), ttorch.randn(2, dtype=F64)

    def f(a, b):
        return a.exp() * b.sum(), (a[:2] * b).sin()

    rev = AF.jacobian(f, (x, y))
    fwd = AF.jacobian(f, (x, y), vectorize=True, strategy="forward-mode")
    for A, B in zip(rev, fwd):
        for p, q in zip(A, B):
            np.testing.assert_allclose(_np(q), _np(p), rtol=1e-12, atol=1e-12)
    single = AF.jacobian(ttorch.sin, x, vectorize=True, strategy="forward-mode")
    np.testing.assert_allclose(_np(single), np.diag(np.cos(_np(x))))

    def g(a, b):
        return a.exp().sum() * b.sin().prod()

    h_rev = AF.hessian(g, (x, y))
    h_fwd = AF.hessian(g, (x, y), vectorize=True, outer_jacobian_strategy="forward-mode")
    for A, B in zip(h_rev, h_fwd):
        for p, q in zip(A, B):
            np.testing.assert_allclose(_np(q), _np(p), rtol=1e-12, atol=1e-12)
    assert not x.requires_grad and not y.requires_grad     # the user's inputs are left alone
    with pytest.raises(NotImplementedError, match="only implemented for `vectorize=True`"):
        AF.jacobian(ttorch.sin, x, strategy="forward-mode")


def test_doctests():
    res = doctest.testmod(fwAD, extraglobs={"ttorch": ttorch}, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0 and res.attempted > 0
