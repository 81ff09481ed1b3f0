"""``opcheck``: whether an operator's registrations agree with what its kernels do, as far as ttorch can tell.

PyTorch's four tests under the same names, each run for real (ttorch has no FakeTensor, functionalization or
AOT tracing to run them under):

- ``test_schema``: on clones of the inputs, no argument the schema does not mark mutable is changed, the
  outputs match the schema's return types, and a functional op returns no input (nor a view of one).
- ``test_autograd_registration``: some input requires grad, and the op has a way to differentiate it
  (``custom_op`` always has one, whose backward raises until ``register_autograd``; a ``Library`` op needs
  ``register_autograd``, an ``Autograd`` kernel or a ``CompositeImplicitAutograd`` one).
- ``test_faketensor``: the ``register_fake`` function, run on the real inputs, gives outputs of the real kernel's
  shapes (unless it asked ``get_ctx().new_dynamic_size()``), dtypes and devices.
- ``test_aot_dispatch_dynamic``: outputs are the same on a second run; with a registered backward and inputs that
  require grad, backward gives each input a gradient of its shape and dtype, and for float64 inputs ``gradcheck``
  compares it with central differences.
"""
import numpy as np

from .._tensor import Tensor
from ..autograd import grad_mode
from ._dispatch import _tensors, resolve

__all__ = ["opcheck", "OpCheckError", "get_ctx"]

DEFAULT_TEST_UTILS = ("test_schema", "test_autograd_registration", "test_faketensor", "test_aot_dispatch_dynamic")


class OpCheckError(Exception):
    pass


class FakeImplCtx:
    """What ``get_ctx()`` gives a fake function: ``new_dynamic_size`` for outputs whose size depends on data."""

    def __init__(self):
        self.dynamic = False

    def new_dynamic_size(self, *, min=0, max=None):
        """A size known only from the data. ttorch has no symbolic sizes: this returns ``min`` and marks the
        call, so that ``opcheck`` does not compare output shapes."""
        if min < 0:
            raise ValueError(f"ctx.new_dynamic_size(min={min}, ...): expected min to be greater than or equal to 0")
        self.dynamic = True
        return min


_CTX = [None]


def get_ctx():
    """The context of the fake function now running (``FakeImplCtx``); only inside one (run by ``opcheck``)."""
    if _CTX[0] is None:
        raise RuntimeError("torch.library.get_ctx() called outside of a fake impl: ttorch runs fake impls only "
                           "inside opcheck.")
    return _CTX[0]


def _clone(v):
    if isinstance(v, Tensor):
        c = v.detach().clone()
        c.requires_grad_(v.requires_grad)
        return c
    if isinstance(v, (list, tuple)):
        return type(v)(_clone(x) for x in v)
    return v


def _clone_all(args, kwargs):
    return tuple(_clone(a) for a in args), {k: _clone(v) for k, v in kwargs.items()}


def _host(t):
    return t.detach().cpu().numpy().copy()


def _outs(out):
    return list(_tensors([out] if isinstance(out, Tensor) else out if isinstance(out, (list, tuple)) else []))


def _check_returns(op, out):
    rets = op.schema.returns
    if rets == ["()"] or rets == []:
        ok = out is None
    elif rets == ["Tensor"]:
        ok = isinstance(out, Tensor)
    elif rets == ["Tensor[]"]:
        ok = isinstance(out, (list, tuple)) and all(isinstance(t, Tensor) for t in out)
    elif len(rets) > 1 or rets[0].startswith("("):
        ok = isinstance(out, tuple) and len(out) == len(rets)
    else:
        ok = not isinstance(out, Tensor)
    if not ok:
        raise RuntimeError(f"{op.qualname}: the kernel returned {type(out).__name__} but the schema "
                           f"{op.schema} returns {' '.join(rets) or '()'}")


def _test_schema(op, args, kwargs):
    args, kwargs = _clone_all(args, kwargs)
    values = op.schema.bind(op.qualname, args, kwargs)
    before = {a.name: [_host(t) for t in _tensors([values[a.name]])] for a in op.schema.arguments}
    with grad_mode.no_grad():
        out = op(*args, **kwargs)
    for a in op.schema.arguments:
        if a.mutable:
            continue
        for old, t in zip(before[a.name], _tensors([values[a.name]])):
            if not np.array_equal(old, _host(t), equal_nan=True):
                raise RuntimeError(f"Argument {a.name} is not defined as mutable but was mutated")
    _check_returns(op, out)
    if not op.schema.is_mutable:
        ins = {id(t.untyped_storage()) for t in _tensors(values.values())}
        for o in _outs(out):
            if id(o.untyped_storage()) in ins:
                raise RuntimeError(f"{op.qualname}: an output aliases an input, but the schema {op.schema} "
                                   "says no output is an alias of an input")


def _has_autograd(op):
    return op.custom is not None or op.backward is not None or "autograd" in op.kernels or \
        "composite" in op.kernels


def _test_autograd_registration(op, args, kwargs):
    tensors = list(_tensors(list(args) + list(kwargs.values())))
    if not any(t.requires_grad for t in tensors) or _has_autograd(op):
        return
    raise AssertionError(
        f"{op.qualname}: at least one output of this operator has requires_grad=True but the operator does not "
        "have an autograd kernel defined at an autograd key (e.g. DispatchKey::Autograd). This could mean that you "
        "have incorrectly registered an autograd kernel to a non-Autograd DispatchKey, which may lead to silently "
        "incorrect results. If your operator consists of regular ttorch operations, consider not using an "
        "operator at all or registering your operator as CompositeImplicitAutograd (ttorch.library."
        "register_autograd registers a backward formula).")


def _need_fake(op):
    """PyTorch's error for an op that needs a fake impl and has none; False when it needs none."""
    if "composite" in op.kernels or op.fake is not None:
        return "composite" not in op.kernels
    if op.schema.returns in (["()"], []):
        return False
    who = op.custom if op.custom is not None else op
    fname = getattr(getattr(op.custom, "_init_fn", None), "__name__", op.name)
    raise RuntimeError(f"There was no fake impl registered for {who}. This is necessary for torch.compile/export/fx "
                       f"tracing to work. Please use `{fname}.register_fake` to add an fake impl.")


def _test_faketensor(op, args, kwargs):
    if not _need_fake(op):
        return
    a1, k1 = _clone_all(args, kwargs)
    with grad_mode.no_grad():
        real = op(*a1, **k1)
    a2, k2 = _clone_all(args, kwargs)
    ctx = _CTX[0] = FakeImplCtx()
    try:
        with grad_mode.no_grad():
            fake = op.fake(*a2, **k2)
    finally:
        _CTX[0] = None
    r, f = _outs(real), _outs(fake)
    if len(r) != len(f):
        raise RuntimeError(f"{op.qualname}: the fake impl returned {len(f)} tensor(s), the kernel {len(r)}")
    for i, (x, y) in enumerate(zip(r, f)):
        if x.dtype != y.dtype or x.device != y.device or (not ctx.dynamic and tuple(x.shape) != tuple(y.shape)):
            raise RuntimeError(f"{op.qualname}: output {i} of the fake impl has shape {tuple(y.shape)}, dtype "
                               f"{y.dtype}, device {y.device}; the kernel's has shape {tuple(x.shape)}, dtype "
                               f"{x.dtype}, device {x.device}")


def _test_aot_dispatch_dynamic(op, args, kwargs, rtol=None, atol=None):
    import ttorch
    _need_fake(op)
    a1, k1 = _clone_all(args, kwargs)
    a2, k2 = _clone_all(args, kwargs)
    with grad_mode.no_grad():
        o1, o2 = _outs(op(*a1, **k1)), _outs(op(*a2, **k2))
    for x, y in zip(o1, o2):
        ttorch.testing.assert_close(x, y, rtol=rtol, atol=atol, equal_nan=True)
    if op.backward is None and "composite" not in op.kernels and "autograd" not in op.kernels:
        return
    a, k = _clone_all(args, kwargs)
    leaves = [t for t in _tensors(list(a) + list(k.values())) if t.requires_grad]
    if not leaves:
        return
    outs = [o for o in _outs(op(*a, **k)) if o.requires_grad]
    if not outs:
        return
    grads = ttorch.autograd.grad(outs, leaves, [ttorch.ones_like(o) for o in outs], allow_unused=True)
    for t, g in zip(leaves, grads):
        if g is not None and (tuple(g.shape) != tuple(t.shape) or g.dtype != t.dtype):
            raise RuntimeError(f"{op.qualname}: backward gave a gradient of shape {tuple(g.shape)} and dtype "
                               f"{g.dtype} for an input of shape {tuple(t.shape)} and dtype {t.dtype}")
    if all(t.dtype == ttorch.float64 for t in leaves):
        a, k = _clone_all(args, kwargs)
        slots = [(i, None) for i, v in enumerate(a) if isinstance(v, Tensor) and v.requires_grad]

        def fn(*ts):
            call = list(a)
            for (i, _), t in zip(slots, ts):
                call[i] = t
            return op(*call, **k)
        if slots:
            ttorch.autograd.gradcheck(fn, tuple(a[i] for i, _ in slots))


_TESTS = {"test_schema": lambda op, a, k, r, t: _test_schema(op, a, k),
          "test_autograd_registration": lambda op, a, k, r, t: _test_autograd_registration(op, a, k),
          "test_faketensor": lambda op, a, k, r, t: _test_faketensor(op, a, k),
          "test_aot_dispatch_dynamic": lambda op, a, k, r, t: _test_aot_dispatch_dynamic(op, a, k, r, t)}


def opcheck(op, args, kwargs=None, *, test_utils=DEFAULT_TEST_UTILS, raise_exception=True, atol=None, rtol=None):
    """Check an operator's registrations against sample arguments (see the module docstring for what each of
    ``test_schema``, ``test_autograd_registration``, ``test_faketensor`` and ``test_aot_dispatch_dynamic`` checks
    in ttorch). Returns ``{test: "SUCCESS" or the exception}``; with ``raise_exception`` the first failure raises
    ``OpCheckError``.

    Example::

        >>> import ttorch
        >>> @ttorch.library.custom_op("doc::neg", mutates_args=())
        ... def neg(x: ttorch.Tensor) -> ttorch.Tensor:
        ...     return -x
        >>> _ = neg.register_fake(lambda x: ttorch.empty_like(x))
        >>> ttorch.library.opcheck(neg, (ttorch.ones(2),), test_utils="test_faketensor")
        {'test_faketensor': 'SUCCESS'}
    """
    kwargs = kwargs or {}
    target = resolve(op)
    if test_utils == "ALL":
        test_utils = tuple(_TESTS)
    if isinstance(test_utils, str):
        test_utils = (test_utils,)
    if not isinstance(test_utils, (tuple, list)) or not set(test_utils).issubset(_TESTS):
        raise ValueError(f"opcheck(op, ..., test_utils={test_utils}), expected test_utils to be subset of "
                         f"{tuple(_TESTS)} but it was not")
    results = {}
    for name in test_utils:
        try:
            _TESTS[name](target, tuple(args), kwargs, rtol, atol)
            results[name] = "SUCCESS"
        except Exception as ex:
            if raise_exception:
                raise OpCheckError(f"opcheck(op, ...): {name} failed with {ex} (scroll up for stack trace)") from ex
            results[name] = ex
    return results
