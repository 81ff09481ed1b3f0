"""``BatchedTensor``: what a function under :func:`ttorch.func.vmap` sees in place of a mapped input.

It holds ``_value``, the underlying tensor with the vmapped dim first (physical dim 0), and ``_level``,
the vmap call it belongs to (nested vmaps: the value of an inner one may be a ``BatchedTensor`` of an
outer one). Its shape, ``dim()``... are the logical ones (one sample's). Ops given one reach ``handle``
through ``Op.__call__``'s ``SUBCLASS_OPS`` table: a batching rule (``_batch_rules.py``) runs the op
once on the values; an op without a rule runs once per sample (slices of dim 0, results stacked), so
it stays correct, and ``FALLBACKS`` counts it by name.

Autograd runs on the values, as for nested tensors: ``requires_grad``, ``grad_fn`` and ``detach`` are
the value's. ``grad`` under vmap differentiates per-sample copies of its arguments (``per_sample``):
the gradient of the values' outputs, summed over the batch, is then each sample's own gradient.

In-place ops write the values (``_inplace_rules.py``: PyTorch's error for batched values written into
an unbatched tensor), and random ops draw as vmap's ``randomness`` flag says (``_random_rules.py``).

Differences from PyTorch: what no batched run can serve (storage reads such as ``.numpy()``, forward-mode
AD of a batched tensor, ``autograd.grad`` of a batched output, a random op under nested vmaps) makes
``vmap`` rerun the function once per sample (``LOOPS`` counts those runs), with the results of that loop.
The batch dim of a value is always its first dim.
"""
import collections
import os
import sys

from .._inner_autograd import AutogradOfInner
from .._tensor import Tensor
from ..ops import _op

# the active vmap calls, innermost last: their batch sizes (a level is its index + 1)
LEVELS = []
# op name -> how many times it ran per sample for lack of a rule (tests read and reset it)
FALLBACKS = collections.Counter()
# how many vmap calls (or chunks) ran the whole function per sample: an error or random op in a batched run
LOOPS = collections.Counter()
RULES = {}      # op name -> rule(op, inputs, attrs, level, batch_size): filled by _batch_rules.py
FAMILY_RULES = {}   # op family -> rule, for ops without a rule of their own


class Unbatchable(Exception):
    """Raised where a batched run cannot give the loop's result; ``vmap`` then runs the loop."""


class VmapError(RuntimeError):
    """PyTorch's errors for what vmap does not allow (``.item()``, data-dependent control flow)."""


class BatchedTensor(AutogradOfInner, Tensor):
    """A tensor batched over vmap level ``_level``: ``_value`` is (B, *logical shape)."""

    _inner = "_value"     # (autograd: that tensor's, ttorch/_inner_autograd.py)

    def __repr__(self):
        return f"BatchedTensor(lvl={self._level}, bdim=0, value=\n{self._value!r}\n)"

    @property
    def _version(self):
        return self._value._version

    def detach(self):
        return wrap(self._value.detach(), self._level)

    def _inplace_from(self, result, opname):     # (ops/inplace.py: an in-place op's result, _inplace_rules.py)
        from ._inplace_rules import write_batched
        return write_batched(self, result, opname)

    def _inplace_into(self, x, opname):     # (ops/inplace.py: this batched result for an unbatched ``x``)
        from ._inplace_rules import write_unbatched
        return write_unbatched(x, self, opname)

    def item(self):
        _refuse(_ITEM)

    def tolist(self):
        _refuse(_ITEM)

    def __bool__(self):
        _refuse(_CONTROL_FLOW)

    def __int__(self):
        _refuse(_ITEM)

    __float__ = __index__ = __int__


_ITEM = ("vmap: It looks like you're calling .item() on a Tensor. We don't support vmap over calling .item() on a "
         "Tensor, please try to rewrite what you're doing with other operations. If error is occurring somewhere "
         "inside PyTorch internals, please file a bug report.")
_CONTROL_FLOW = ("vmap: It looks like you're attempting to use a Tensor in some data-dependent control flow. We don't "
                 "support that yet, please file an issue at https://github.com/pytorch/pytorch/issues .")
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _refuse(msg):
    """PyTorch's error for reading a batched value in the user's code; ttorch's own checks of values
    (bounds, ranges) make vmap run the loop instead, as they worked before batching."""
    if sys._getframe(2).f_code.co_filename.startswith(_PACKAGE):
        raise Unbatchable(msg)
    raise VmapError(msg)


def wrap(value, level):
    """A ``BatchedTensor`` of ``level`` over ``value`` (batch dim first)."""
    t = Tensor.__new__(BatchedTensor)
    t._value = value
    t._level = level
    t._shape = tuple(value.shape[1:])
    t.dtype = value.dtype
    t.device = value.device
    return t


def level_of(t):
    return t._level if type(t) is BatchedTensor else 0


def unwrap(t, level, size=None):
    """``t``'s value with the batch dim of ``level`` first; an unbatched ``t`` gets one of ``size``
    (an expanded view) when ``size`` is given, else is returned as it is."""
    if type(t) is BatchedTensor and t._level == level:
        return t._value
    if size is None or not isinstance(t, Tensor):
        return t
    return t.unsqueeze(0).expand((size,) + tuple(t.shape))


def per_sample(t):
    """``t`` as the innermost vmap level's batched tensor (``grad`` under vmap differentiates these)."""
    level = len(LEVELS)
    if type(t) is BatchedTensor and t._level == level:
        return t
    return wrap(unwrap(t, level, LEVELS[-1]), level)


def handle(op, inputs, attrs):
    """``Op.__call__``'s answer to a batched input: the op's batching rule, or one call per sample."""
    level = max(level_of(t) for t in inputs)
    for v in attrs.values():        # public entry points pass tensors as parameters too (``clamp``'s min)
        if type(v) is BatchedTensor and v._level > level:
            level = v._level
    size = LEVELS[level - 1]
    rule = RULES.get(op.name) or FAMILY_RULES.get(op.family)
    if rule is not None:
        out = rule(op, inputs, attrs, level, size)
        if out is not NotImplemented:
            return out
    return fallback(op, inputs, attrs, level, size)


def fallback(op, inputs, attrs, level, size):
    """The op once per sample: slices of the batched inputs, results stacked (tuples element-wise)."""
    FALLBACKS[op.name] += 1
    public = "_public" in attrs or (op.family in ("unary", "binary", "ternary") and "out_dtype" not in attrs)
    if op.name == "linear" and not attrs:       # F.linear hands a batched weight over with its own parameters
        from ..nn.functional import linear as fn
    elif public:
        from ..ops import FUNCTIONS
        fn = FUNCTIONS[op.name]
        attrs = {k: v for k, v in attrs.items() if not k.startswith("_")}
    else:
        fn = op
    outs = []
    for i in range(size):
        def at(t):
            return t._value.select(0, i) if type(t) is BatchedTensor and t._level == level else t
        outs.append(fn(*[at(t) for t in inputs], **{k: at(v) for k, v in attrs.items()}))
    return stack_results(outs, level)


def stack_results(outs, level):
    import ttorch
    first = outs[0]
    if isinstance(first, (tuple, list)):
        return type(first)(stack_results([o[k] for o in outs], level) for k in range(len(first)))
    if not isinstance(first, Tensor):
        return first
    return wrap(ttorch.stack(list(outs)), level)


_op.SUBCLASS_OPS[BatchedTensor] = handle


def autograd_grad(pairs, inputs, retain_graph, create_graph):
    """``autograd.grad`` of (output, grad_output) ``pairs`` under vmap, on the values: the inputs must be
    batched at the innermost level involved (``per_sample`` copies), so that the values' gradients are
    per sample; zeros where an output does not reach an input."""
    import ttorch
    tensors = [t for p in pairs for t in p if t is not None] + list(inputs)
    level = max(level_of(t) for t in tensors)
    if level == 0:
        return tuple(ttorch.zeros_like(x) if g is None else g for g, x in zip(
            ttorch.autograd.grad([o for o, _ in pairs], inputs, [g for _, g in pairs], retain_graph=retain_graph,
                                 create_graph=create_graph, allow_unused=True), inputs))
    if any(level_of(x) != level for x in inputs) or any(level_of(o) not in (0, level) for o, _ in pairs):
        raise Unbatchable("vmap: gradients with respect to tensors of another vmap level")
    size = LEVELS[level - 1]
    outs = [unwrap(o, level, size) for o, _ in pairs]
    grads = [ttorch.ones_like(o) if g is None else unwrap(g, level, size).expand(o.shape)
             for o, (_, g) in zip(outs, pairs)]
    res = ttorch.autograd.grad(outs, [x._value for x in inputs], grads, retain_graph=retain_graph,
                               create_graph=create_graph, allow_unused=True)
    return tuple(wrap(ttorch.zeros_like(x._value) if g is None else g, level) for g, x in zip(res, inputs))
