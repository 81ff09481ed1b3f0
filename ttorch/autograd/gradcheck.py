"""Finite-difference checks of backward rules: ``gradcheck`` and ``gradgradcheck``, as in PyTorch.

The numerical Jacobian comes from central differences: each element of each input that requires
grad is moved by ``±eps`` in place (under ``no_grad``) and ``func`` is rerun. The analytical one
comes from ``autograd.grad``, one row per output element, computed twice to catch a backward that
is not reentrant. Both are laid out ``(input.numel(), output.numel())`` and compared with
``allclose`` per (output, input) pair. Values are read back to the host, so any device works.
"""
import warnings

import numpy as np

from . import grad_mode
from .engine import grad as _grad


def _modes():
    from . import _gradcheck_modes    # (it imports this module's helpers)
    return _gradcheck_modes


class GradcheckError(RuntimeError):
    """Error raised by :func:`gradcheck` and :func:`gradgradcheck`."""


_FAILED_NONDET_MSG = ("\n\nNOTE: a backward that uses non-deterministic operations (atomic adds, for instance) "
                      "may give slightly different values on each run; pass a small nondet_tol to gradcheck "
                      "or gradgradcheck to allow for it.")


def _is_tensor(x):
    from .._tensor import Tensor
    return isinstance(x, Tensor)


def _as_tuple(x):
    if isinstance(x, tuple):
        return x
    if isinstance(x, list):
        return tuple(x)
    return (x,)


def _differentiable_outputs(x):
    return tuple(o for o in _as_tuple(x) if _is_tensor(o) and o.requires_grad)


def _host(t):
    """A float64 host copy of ``t``'s values (outputs may alias inputs we are about to write)."""
    return np.array(t.detach().cpu().numpy(), dtype=np.float64)


def _as_tensor(a, like):
    from .. import tensor
    return tensor(a, dtype=like.dtype, device=like.device)


def _allclose(a, b, rtol, atol):
    return bool(np.all(np.abs(a - b) <= atol + rtol * np.abs(b)))


def _notallclose_msg(analytical, numerical, output_idx, input_idx, is_forward_ad=False):
    mode = "computed with forward mode " if is_forward_ad else ""
    return (f"Jacobian {mode}mismatch for output {output_idx:d} with respect to input {input_idx:d},\n"
            f"numerical:{numerical}\nanalytical:{analytical}\n")


def _check_inputs(inputs):
    any_requiring_grad = False
    for idx, inp in enumerate(inputs):
        if _is_tensor(inp) and inp.requires_grad:
            if inp.dtype.name != "float64":
                warnings.warn(f"Input #{idx} requires gradient and is not a double precision floating point or "
                              "complex. This check will likely fail if all the inputs are not of double precision "
                              "floating point or complex. ", stacklevel=4)
            if not all(st > 0 or sz <= 1 for st, sz in zip(inp.stride(), inp.shape)):
                raise RuntimeError(f"The {idx}th input has a dimension with stride 0. gradcheck only supports inputs "
                                   "that are non-overlapping to be able to compute the numerical gradients correctly. "
                                   "You should call .contiguous on the input before passing it to gradcheck.")
            any_requiring_grad = True
    if not any_requiring_grad:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but none of the them have "
                         "requires_grad=True.")


class _Perturb:
    """Writes into a checked input in place, as PyTorch does through ``.data``: the version counter
    is restored on exit (the values are too), so graphs that saved the input stay usable."""

    def __init__(self, x):
        self.d = x.detach()
        self.orig = self.d.cpu().numpy().copy()
        self.storage = x.untyped_storage()
        self.version = self.storage.version

    def set(self, pos, value):
        with grad_mode.no_grad():
            self.d[pos] = float(value)

    def set_all(self, values):
        with grad_mode.no_grad():
            self.d.copy_(_as_tensor(values.astype(self.orig.dtype), self.d))

    def restore(self):
        with grad_mode.no_grad():
            self.d.copy_(_as_tensor(self.orig, self.d))
        self.storage.version = self.version


def _eval(func, inputs):
    return [_host(o) for o in _as_tuple(func(*inputs)) if _is_tensor(o)]


def _numerical_jacobians(func, inputs, eps):
    """Per input requiring grad, per tensor output of ``func``: the (n_in, n_out) central differences."""
    res = []
    for x in inputs:
        if not (_is_tensor(x) and x.requires_grad):
            continue
        p = _Perturb(x)
        jac = None
        try:
            for k in range(x.numel()):
                pos = np.unravel_index(k, x.shape) if x.ndim else ()
                base = p.orig[pos]
                p.set(pos, base - eps)
                lo = _eval(func, inputs)
                p.set(pos, base + eps)
                hi = _eval(func, inputs)
                p.set(pos, base)
                if jac is None:
                    jac = [np.zeros((x.numel(), a.size)) for a in lo]
                for j, (a, b) in enumerate(zip(lo, hi)):
                    jac[j][k] = ((b - a) / (2 * eps)).reshape(-1)
        finally:
            p.restore()
        if jac is None:     # an empty input: columns of nothing, one per output
            jac = [np.zeros((0, a.size)) for a in _eval(func, inputs)]
        res.append(jac)
    return res


def _analytical_jacobian(diff_inputs, output, nondet_tol, check_grad_dtypes):
    """Per input requiring grad: the (n_in, n_out) Jacobian of ``output`` from autograd.grad."""
    def rows():
        jac = [np.zeros((x.numel(), output.numel())) for x in diff_inputs]
        types_ok = sizes_ok = True
        for e in range(output.numel()):
            onehot = np.zeros(output.numel())
            onehot[e] = 1
            go = _as_tensor(onehot.reshape(output.shape), output)
            vjps = _grad(output, diff_inputs, go, retain_graph=True, allow_unused=True)
            for i, (v, x) in enumerate(zip(vjps, diff_inputs)):
                if v is None:
                    continue
                if v.dtype is not x.dtype:
                    types_ok = False
                if v.numel() != x.numel():
                    sizes_ok = False
                    continue
                jac[i][:, e] = _host(v).reshape(-1)
        return jac, types_ok, sizes_ok

    jac1, types_ok, sizes_ok = rows()
    jac2, _, _ = rows()
    if not types_ok and check_grad_dtypes:
        raise GradcheckError("Gradient has dtype mismatch")
    if not sizes_ok:
        raise GradcheckError("Analytical gradient has incorrect size")
    for a, b in zip(jac1, jac2):
        if a.size and np.abs(a - b).max() > nondet_tol:
            raise GradcheckError("Backward is not reentrant, i.e., running backward with same input and grad_output "
                                 "multiple times gives different values, although analytical gradient matches "
                                 f"numerical gradient.The tolerance for nondeterminism was {nondet_tol}."
                                 + _FAILED_NONDET_MSG)
    return jac1


def _slow_gradcheck(func, func_out, inputs, outputs, eps, rtol, atol, check_grad_dtypes, nondet_tol,
                    use_forward_ad=False):
    func_out = [o for o in _as_tuple(func_out) if _is_tensor(o)]
    numerical = _numerical_jacobians(func, inputs, eps)     # [input][output]
    if not outputs:     # nothing differentiable: the function must not depend on its inputs
        for per_input in numerical:
            for jac in per_input:
                if np.any(jac != 0):
                    raise GradcheckError("Numerical gradient for function expected to be zero")
        return True
    diff_inputs = [x for x in inputs if _is_tensor(x) and x.requires_grad]
    keep = [j for j, o in enumerate(func_out) if o.requires_grad]
    if use_forward_ad:
        forward = _modes()._forward_jacobians(func, inputs, check_grad_dtypes)     # [input][float output]
        floats = [j for j, o in enumerate(func_out) if _is_float(o)]
        for i, k in enumerate(keep):
            for j, x in enumerate(diff_inputs):
                a, n = forward[j][floats.index(k)], numerical[j][k]
                if not _allclose(a, n, rtol, atol):
                    raise GradcheckError(_notallclose_msg(_as_tensor(a, x), _as_tensor(n, outputs[i]), i, j,
                                                          is_forward_ad=True))
        return True
    for i, o in enumerate(outputs):
        analytical = _analytical_jacobian(diff_inputs, o, nondet_tol, check_grad_dtypes)
        for j, (a, x) in enumerate(zip(analytical, diff_inputs)):
            n = numerical[j][keep[i]]
            if not _allclose(a, n, rtol, atol):
                raise GradcheckError(_notallclose_msg(_as_tensor(a, x), _as_tensor(n, o), i, j))
    return True


def _is_float(o):
    return _is_tensor(o) and (o.dtype.is_floating_point or o.dtype.is_complex)


def _fast_gradcheck(func, func_out, inputs, outputs, eps, rtol, atol, check_grad_dtypes, nondet_tol,
                    use_forward_ad=False):
    """Compare ``v^T J u`` for random unit vectors ``u`` (per input) and ``v`` (per output); with
    forward AD, ``J u`` from one jvp per input against its central difference."""
    if not outputs:
        return _slow_gradcheck(func, func_out, inputs, outputs, eps, rtol, atol, check_grad_dtypes, nondet_tol,
                               use_forward_ad)
    rng = np.random.default_rng(0)     # fixed, as PyTorch's fresh generator: failures reproduce

    def unit(n):
        v = rng.random(n)
        return v / max(np.linalg.norm(v), 1e-300)

    diff_inputs = [x for x in inputs if _is_tensor(x) and x.requires_grad]
    us = [unit(x.numel()) for x in diff_inputs]
    vs = [unit(o.numel()) for o in outputs]
    func_out = [o for o in _as_tuple(func_out) if _is_tensor(o)]
    keep = [j for j, o in enumerate(func_out) if o.requires_grad]
    numerical = []      # [input][output]: v . (J u), or J u with forward AD
    for x, u in zip(diff_inputs, us):
        p = _Perturb(x)
        try:
            p.set_all(p.orig - eps * u.reshape(x.shape))
            lo = _eval(func, inputs)
            p.set_all(p.orig + eps * u.reshape(x.shape))
            hi = _eval(func, inputs)
        finally:
            p.restore()
        ju = [((hi[j] - lo[j]) / (2 * eps)).reshape(-1) for j in keep]
        numerical.append(ju if use_forward_ad else [float(v @ d) for v, d in zip(vs, ju)])
    if use_forward_ad:
        forward = _modes()._forward_jacobians(func, inputs, check_grad_dtypes, all_u=us)
        floats = [j for j, o in enumerate(func_out) if _is_float(o)]
        for i, (o, k) in enumerate(zip(outputs, keep)):
            for j, (x, u) in enumerate(zip(diff_inputs, us)):
                a, n = forward[j][floats.index(k)], numerical[j][i]
                if not _allclose(a, n, rtol, atol * float(u.sum())):
                    raise GradcheckError(_notallclose_msg(_as_tensor(a, x), _as_tensor(n, o), i, j, True)
                                         + _slow_mode_msg(func, inputs, diff_inputs, o, k, j, rtol, atol, eps, True))
        return True
    for i, (o, v) in enumerate(zip(outputs, vs)):
        def vjp():
            gs = _grad(o, diff_inputs, _as_tensor(v.reshape(o.shape), o), retain_graph=True, allow_unused=True)
            return [0.0 if g is None else float(_host(g).reshape(-1) @ u) for g, u in zip(gs, us)]
        a1, a2 = vjp(), vjp()
        if any(abs(p - q) > nondet_tol for p, q in zip(a1, a2)):
            raise GradcheckError("Backward is not reentrant, i.e., running backward with same input and grad_output "
                                 "multiple times gives different values, although analytical gradient matches "
                                 f"numerical gradient.The tolerance for nondeterminism was {nondet_tol}."
                                 + _FAILED_NONDET_MSG)
        for j, (a, x, u) in enumerate(zip(a1, diff_inputs, us)):
            n = numerical[j][i]
            adj_atol = atol * float(u.sum()) * float(v.sum())
            if not _allclose(np.float64(a), np.float64(n), rtol, adj_atol):
                raise GradcheckError(_notallclose_msg(_as_tensor(a, x), _as_tensor(n, o), i, j)
                                     + _slow_mode_msg(func, inputs, diff_inputs, o, keep[i], j, rtol, atol, eps))
    return True


def _slow_mode_msg(func, inputs, diff_inputs, output, out_pos, input_idx, rtol, atol, eps, is_forward_ad=False):
    num = _numerical_jacobians(func, inputs, eps)[input_idx][out_pos]
    if is_forward_ad:
        floats = [j for j, o in enumerate(o for o in _as_tuple(func(*inputs)) if _is_tensor(o)) if _is_float(o)]
        ana = _modes()._forward_jacobians(func, inputs, False)[input_idx][floats.index(out_pos)]
    else:
        ana = _analytical_jacobian(diff_inputs, output, float("inf"), False)[input_idx]
    x = diff_inputs[input_idx]
    msg = ("\nThe above quantities relating the numerical and analytical jacobians are computed \nin fast mode. "
           "Below, we recompute numerical and analytical jacobians in slow mode:\n\n"
           f"Numerical:\n {_as_tensor(num, output)}\nAnalytical:\n{_as_tensor(ana, x)}\n\n"
           f"The max per-element difference (slow mode) is: {np.abs(num - ana).max() if num.size else 0.0}.\n")
    if _allclose(ana, num, rtol, atol):
        msg += ("\nFast gradcheck failed but element-wise differences are small. This means that the\ntest "
                "might've passed in slow_mode! Rerun with `fast_mode=False` to check.")
    return msg


def _test_backward_mul_by_grad_output(outputs, inputs):
    """Zero output gradients must give zero (or no) input gradients of the right type and size."""
    from ..ops.creation import zeros_like
    diff_inputs = [x for x in inputs if _is_tensor(x) and x.requires_grad]
    # retain_graph: the engine also walks (and would free) the graph behind non-leaf inputs
    grads = _grad(outputs, diff_inputs, [zeros_like(o) for o in outputs], retain_graph=True, allow_unused=True)
    for gi, di in zip(grads, diff_inputs):
        if gi is None:
            continue
        if gi.dtype is not di.dtype:
            raise GradcheckError("grad is incorrect type")
        if gi.device != di.device:
            raise GradcheckError("grad is incorrect device")
        if gi.shape != di.shape:
            raise GradcheckError("grad is incorrect size")
        if np.any(_host(gi) != 0):
            raise GradcheckError("backward not multiplied by grad_output")
    return True


def _test_undefined_backward_mode(func, inputs):
    """Leaving out one output's gradient at a time (the engine fills in zeros) must work and give zeros."""
    from ..ops.creation import zeros_like
    diff_inputs = [x for x in inputs if _is_tensor(x) and x.requires_grad]
    n = len(_differentiable_outputs(func(*inputs)))
    for skip in range(n if n > 1 else 0):
        outs = [o for k, o in enumerate(_differentiable_outputs(func(*inputs))) if k != skip]
        try:
            grads = _grad(outs, diff_inputs, [zeros_like(o) for o in outs], retain_graph=True, allow_unused=True)
        except RuntimeError as e:
            raise GradcheckError("Expected backward function to handle undefined output grads.") from e
        if any(g is not None and np.any(_host(g) != 0) for g in grads):
            raise GradcheckError("Expected all input grads to be undefined or zero when all output grads are "
                                 "undefined or zero.")
    return True


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, nondet_tol=0.0,
              check_undefined_grad=True, check_grad_dtypes=False, check_batched_grad=False,
              check_batched_forward_grad=False, check_forward_ad=False, check_backward_ad=True, fast_mode=False,
              masked=None):
    r"""Check gradients computed by central differences against those of ``autograd.grad`` for the
    floating-point ``inputs`` with ``requires_grad=True``, with ``allclose(analytical, numerical)``.

    The defaults suit float64 inputs; lower precision will likely fail (a warning says so).
    ``check_forward_ad`` compares the Jacobian built with forward-mode AD (one jvp per input
    element; in ``fast_mode`` one per input) with the numerical one; ``check_backward_ad`` does the
    same for ``autograd.grad``. ``check_batched_grad`` / ``check_batched_forward_grad`` compare
    ``func.vmap`` of the vjp / jvp over two random vectors with the two calls (ttorch's vmap
    loops, so they catch less than PyTorch's). ``masked`` is for sparse inputs and is ignored.

    Args:
        func (function): takes tensor inputs, returns a tensor or a tuple of tensors.
        inputs (tuple of Tensor or Tensor): the inputs to ``func``.
        eps (float): perturbation for finite differences. atol, rtol (float): tolerances.
        raise_exception (bool): raise ``GradcheckError`` on failure (else return False).
        nondet_tol (float): tolerance for backward nondeterminism.
        fast_mode (bool): compare ``v^T J u`` for random ``u``, ``v`` instead of whole Jacobians.

    Returns:
        True if all differences satisfy the allclose condition.

    Example::

        >>> x = ttorch.tensor([0.5, -1.5], dtype=ttorch.float64, requires_grad=True)
        >>> ttorch.autograd.gradcheck(lambda t: (t * t).sin(), (x,))
        True
    """
    assert check_forward_ad or check_backward_ad, \
        "Expected at least one of check_forward_ad or check_backward_ad to be True"
    assert not (check_batched_grad and not check_backward_ad), \
        "Setting check_batched_grad=True requires check_backward_ad to be True"
    assert not (check_batched_forward_grad and not check_forward_ad), \
        "Setting check_batched_forward_grad=True requires check_forward_ad to be True"
    func, inputs = _complex_as_real(func, inputs)     # (complex tensors: checked as their real views)
    try:
        return _gradcheck_helper(func, inputs, eps, atol, rtol, nondet_tol, check_undefined_grad, check_grad_dtypes,
                                 check_batched_grad, check_batched_forward_grad, check_forward_ad, check_backward_ad,
                                 fast_mode)
    except GradcheckError:
        if raise_exception:
            raise
        return False


def _gradcheck_helper(func, inputs, eps, atol, rtol, nondet_tol, check_undefined_grad, check_grad_dtypes,
                      check_batched_grad, check_batched_forward_grad, check_forward_ad, check_backward_ad, fast_mode):
    inputs = _as_tuple(inputs)
    _check_inputs(inputs)
    func_out = func(*inputs)
    outputs = _differentiable_outputs(func_out)
    check = _fast_gradcheck if fast_mode else _slow_gradcheck
    if check_backward_ad:
        check(func, func_out, inputs, outputs, eps, rtol, atol, check_grad_dtypes, nondet_tol)
    if check_forward_ad:
        check(func, func_out, inputs, outputs, eps, rtol, atol, check_grad_dtypes, nondet_tol, use_forward_ad=True)
        if check_undefined_grad:
            _modes()._test_undefined_forward_mode(func, inputs)
    if check_batched_forward_grad:
        _modes()._test_batched_grad_forward_ad(func, inputs)
    if not check_backward_ad:
        return True
    if outputs:
        if check_batched_grad:
            for i, o in enumerate(outputs):
                _modes()._test_batched_grad(inputs, o, i)
        _test_backward_mul_by_grad_output(outputs, inputs)
        if check_undefined_grad:
            _test_undefined_backward_mode(func, inputs)
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  gen_non_contig_grad_outputs=False, raise_exception=True, nondet_tol=0.0, check_undefined_grad=True,
                  check_grad_dtypes=False, check_batched_grad=False, check_fwd_over_rev=False,
                  check_rev_over_rev=True, fast_mode=False, masked=False):
    r"""Check second derivatives: :func:`gradcheck` of the map ``(inputs, grad_outputs) -> grad_inputs``
    computed by ``autograd.grad(..., create_graph=True)``.

    Args:
        func (function): takes tensor inputs, returns a tensor or a tuple of tensors.
        inputs (tuple of Tensor or Tensor): the inputs to ``func``.
        grad_outputs (tuple of Tensor or Tensor, optional): gradients of the outputs; by default
            random values in [-1, 1), ``requires_grad=True``, non-contiguous if
            ``gen_non_contig_grad_outputs``.
        Other arguments as in :func:`gradcheck`.

    Example::

        >>> x = ttorch.tensor([0.5, -1.5], dtype=ttorch.float64, requires_grad=True)
        >>> ttorch.autograd.gradgradcheck(lambda t: t.exp() * t, (x,))
        True
    """
    inputs = _as_tuple(inputs)
    if grad_outputs is None:
        outs = _differentiable_outputs(func(*inputs))
        grad_outputs = tuple(_random_like(o, gen_non_contig_grad_outputs) for o in outs)
    else:
        grad_outputs = _as_tuple(grad_outputs)
    n_out = len(grad_outputs)
    diff_in = {i for i, x in enumerate(inputs) if _is_tensor(x) and x.requires_grad}
    diff_go = {i for i, g in enumerate(grad_outputs) if g.requires_grad}

    def new_func(*args):
        ins = tuple(x.requires_grad_() if i in diff_in else x for i, x in enumerate(args[:-n_out]))
        outs = _differentiable_outputs(func(*ins))
        gos = tuple(g.requires_grad_() if i in diff_go else g for i, g in enumerate(args[-n_out:]))
        grads = _grad(outs, [x for i, x in enumerate(ins) if i in diff_in], list(gos), create_graph=True,
                      allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(new_func, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol, raise_exception=raise_exception,
                     nondet_tol=nondet_tol, check_undefined_grad=check_undefined_grad,
                     check_grad_dtypes=check_grad_dtypes, check_batched_grad=check_batched_grad,
                     fast_mode=fast_mode, check_forward_ad=check_fwd_over_rev, check_backward_ad=check_rev_over_rev)


def _random_like(o, noncontig):
    """Uniform in [-1, 1), as PyTorch's ``make_tensor(low=-1, high=1)``; non-contiguous on request."""
    from ..ops import FUNCTIONS
    from .. import _dtype as D
    rand = FUNCTIONS["rand"]
    dtype = o.dtype if o.dtype.is_floating_point else D.float64
    shape = tuple(o.shape)
    with grad_mode.no_grad():
        if noncontig and shape:
            g = (rand(*shape[:-1], shape[-1] * 2, dtype=dtype, device=o.device) * 2 - 1)[..., ::2]
        else:
            g = rand(*shape, dtype=dtype, device=o.device) * 2 - 1
    return g.detach().requires_grad_(True)


def _complex_as_real(func, inputs):
    """``func`` and ``inputs`` with every complex tensor among them (inputs, outputs) replaced by its real
    view (..., 2), as PyTorch's gradcheck checks complex functions: the Jacobian of the realified map,
    which autograd matches exactly when each backward gives the conjugate Wirtinger derivative."""
    from ..ops.complex import view_as_real, view_as_complex
    inputs = _as_tuple(inputs)
    cx = [_is_tensor(x) and x.dtype.is_complex for x in inputs]
    with grad_mode.no_grad():
        outs = _as_tuple(func(*inputs))
    if not any(cx) and not any(_is_tensor(o) and o.dtype.is_complex for o in outs):
        return func, inputs
    real_inputs = tuple(view_as_real(x.detach()).clone().requires_grad_(x.requires_grad) if c else x
                        for x, c in zip(inputs, cx))

    def realified(*xs):
        out = func(*[view_as_complex(x) if c else x for x, c in zip(xs, cx)])
        return tuple(view_as_real(o) if _is_tensor(o) and o.dtype.is_complex else o for o in _as_tuple(out))
    return realified, real_inputs

