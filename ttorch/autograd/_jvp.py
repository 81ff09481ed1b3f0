"""Forward-mode rules: the tangent of an op's outputs from its inputs' tangents.

``propagate`` runs after every op call while a dual level is active (``Op.__call__``). It picks,
per op, the cheapest rule that is exact:

* ``op.jvp`` when the op has one (the table below: views, linear and bilinear ops, softmax);
* elementwise ops (families unary, binary, ternary): their Jacobian is diagonal after broadcasting,
  so the backward rule applied to the (broadcast) tangent is the JVP, one backward per input with
  a tangent;
* any other op: the transpose of its backward rule, which is linear in the output gradient ``u``:
  ``tangent_out = d/du sum_i <backward(u)_i, t_i>`` (the double-backward trick, two backward
  evaluations). Every primitive gets a tangent this way, as far as its backward is differentiable.

Ops with ``impl`` and no backward are compositions: their inner ops gave the tangents already.
A rule runs with the level suspended, so its own ops make no tangents; it runs in the caller's
grad mode, so tangents of inputs that require grad can be differentiated backward.
"""
from .._tensor import Tensor
from . import grad_mode
from . import forward_ad as F
from .engine import _sum_to

_ELEMENTWISE = ("unary", "binary", "ternary")
_CTX_KEYS = frozenset(("inputs", "needs", "_versions", "output", "outputs", "_out_version", "_hooked_outputs",
                       "_packed", "_fw_saved"))


def propagate(op, inputs, attrs, out):
    """Give ``out`` (the outputs of ``op(*inputs, **attrs)``) their tangents."""
    tangents = None
    for i, x in enumerate(inputs):
        if type(x) is Tensor:
            t = F._tangent(x)
            if t is not None:
                if tangents is None:
                    tangents = [None] * len(inputs)
                tangents[i] = t
    if tangents is None:
        return
    if op.impl is not None and op.backward is None:
        return                          # a composition: its inner ops gave the tangents
    if "needs" in attrs:                # recorded: ``Op._record`` adopted the dict as the node's ctx
        attrs = {k: v for k, v in attrs.items() if k not in _CTX_KEYS}
    outs = out if type(out) is tuple else (out,)
    n = len(outs) if op.grad_outputs is None else op.grad_outputs
    if not any(_diff(o) for o in outs[:n]):
        return
    if op.backward is None and op.jvp is None:
        raise NotImplementedError(f"Trying to use forward AD with {op.name} that does not support it because it has "
                                  "not been implemented yet.")
    with F._suspended():
        if op.jvp is not None:
            res = op.jvp(op, inputs, attrs, outs, tangents)
        elif op.family in _ELEMENTWISE and n == 1 and not _complex(inputs, outs):
            res = _elementwise(op, inputs, attrs, outs, tangents)
        else:
            res = _transposed(op, inputs, attrs, outs, tangents)
    for o, t in zip(outs[:n], res):
        if _diff(o):
            if t is None:
                t = _zeros(o)
            elif t._shape != o._shape:
                t = t.expand(o._shape)
            F._set(o, t)
    if op.save_output:
        _tangents_of_saved(outs[0], outs)


def _tangents_of_saved(out, outs):
    """The node just recorded saved a detached copy of its outputs (``Ctx.output``); give it their
    tangents: a backward rule that reads the output (exp, softmax...) run inside the level is then
    differentiated forward too (forward-over-reverse)."""
    node = out.grad_fn
    ctx = getattr(node, "_ctx", None)
    saved = getattr(ctx, "output", None)
    if saved is None and getattr(ctx, "_packed", None) is not None:
        # saved through saved-tensor hooks (autograd/graph.py): the tangents wait beside them for the unpack
        ctx._fw_saved = (F._token, tuple(F._tangent(o) for o in outs))
        return
    if saved is None or saved.__dict__.get("_fw_grad") is not None:
        return
    F._set(saved, F._tangent(out))
    for s, o in zip(getattr(ctx, "outputs", ())[1:], outs[1:]):
        if F._tangent(o) is not None:
            F._set(s, F._tangent(o))


def _diff(o):
    return o.dtype.is_floating_point or o.dtype.is_complex


def _complex(inputs, outs):
    """Whether complex tensors take part: then an elementwise backward is not its own transpose (its
    2 x 2 real Jacobians are not symmetric for non-holomorphic ops such as abs, real, conj)."""
    return any(type(x) is Tensor and x.dtype.is_complex for x in list(inputs) + list(outs))


def _zeros(o):
    from ..ops.creation import zeros
    return zeros(o._shape, dtype=o.dtype, device=o.device)


def _ctx(op, inputs, attrs, outs, needs):
    """What the backward rule sees, as ``Op._record`` makes it (not recorded anywhere)."""
    from ..ops._op import Ctx
    ctx = Ctx(dict(attrs))
    save = op.save
    ctx.inputs = [x if type(x) is not Tensor or save is None or i in save else None for i, x in enumerate(inputs)]
    ctx.needs = tuple(needs)
    if op.save_output:
        ctx.output = outs[0]
        if op.save_output == "all":
            ctx.outputs = tuple(outs)
    return ctx


def _elementwise(op, inputs, attrs, outs, tangents):
    out = outs[0]
    total = None
    n = len(inputs)
    for i, t in enumerate(tangents):
        if t is None:
            continue
        ctx = _ctx(op, inputs, attrs, outs, [j == i for j in range(n)])
        g = op.backward(ctx, t if t._shape == out._shape else t.expand(out._shape))
        g = g[i] if type(g) is tuple else g
        if g is None:
            continue
        if g._shape != out._shape:      # the rule reduced a broadcast itself: not a plain product
            return _transposed(op, inputs, attrs, outs, tangents)
        total = g if total is None else total + g
    return [total]


def _transposed(op, inputs, attrs, outs, tangents):
    from ..ops.creation import zeros
    from .engine import grad
    n = len(outs) if op.grad_outputs is None else op.grad_outputs
    create = grad_mode._state["enabled"] and any(
        type(x) is Tensor and x.requires_grad for x in list(inputs) + [t for t in tangents if t is not None])
    with grad_mode.enable_grad():
        ctx = _ctx(op, inputs, attrs, outs, [t is not None for t in tangents])
        us = [zeros(o._shape, dtype=o.dtype, device=o.device).requires_grad_() if _diff(o) else None
              for o in outs[:n]]
        gs = op.backward(ctx, *us)
        gs = gs if type(gs) is tuple else (gs,)
        total = None
        for g, x, t in zip(gs, inputs, tangents):
            if g is None or t is None:
                continue
            if g._shape != x._shape:
                g = _sum_to(g, x._shape, op.name)
            # <g, t> in the real inner product of C = R^2: the backward is the real Jacobian's transpose in
            # PyTorch's convention (grad = dL/dRe + i dL/dIm), so d/du <g(u), t> is the Jacobian times t
            term = (g.conj() * t).real.sum() if g.dtype.is_complex or t.dtype.is_complex else (g * t).sum()
            total = term if total is None else total + term
        wanted = [u for u in us if u is not None]
        if total is None or not total.requires_grad:
            return [None] * n
        res = iter(grad(total, wanted, allow_unused=True, create_graph=create))
    return [next(res) if u is not None else None for u in us]


# ----------------------------------------------------------------------------- explicit rules
def _geometric(op, inputs, attrs, outs, tangents):
    """A view op: each output's tangent is the same view of the input's tangent (which has the
    input's layout, see ``forward_ad._set``), so writes through either are seen by both."""
    x, t = inputs[0], tangents[0]
    if t.stride() != x.stride():
        from ..ops.elementwise import copy_into
        t = copy_into(F._like(x, t.dtype), t)
    return [t._view(o._shape, o.stride(), t._offset + o._offset - x._offset) for o in outs]


def _linear_in(*positions):
    """An op linear in the inputs at ``positions`` together (the others are indices, dims...): the
    op itself, run on their tangents (zeros where an input has none)."""
    def rule(op, inputs, attrs, outs, tangents):
        args = list(inputs)
        for p in positions:
            if p >= len(args):
                break
            x, t = args[p], tangents[p]
            if t is None:
                t = 0 if type(x) is not Tensor else _zeros(x)
            args[p] = t
        r = op(*args, **attrs)
        return list(r) if type(r) is tuple else [r]
    return rule


def _bilinear(op, inputs, attrs, outs, tangents):
    """``op(a, b)`` bilinear (the products): ``op(ta, b) + op(a, tb)``."""
    a, b = inputs[:2]
    ta, tb = tangents[:2]
    r = op(ta, b, **attrs) if ta is not None else None
    if tb is not None:
        r2 = op(a, tb, **attrs)
        r = r2 if r is None else r + r2
    return [r]


def _linear_layer(op, inputs, attrs, outs, tangents):
    """``linear(x, w, b)``: ``linear(tx, w, tb) + linear(x, tw)`` (the bias's tangent added once)."""
    x, w, b = inputs
    tx, tw, tb = tangents
    r = None
    if tx is not None:
        r, tb = op(tx, w, tb, **attrs), None
    if tw is not None:
        r2 = op(x, tw, tb, **attrs)
        r, tb = (r2 if r is None else r + r2), None
    if tb is not None:
        r = tb.expand(outs[0]._shape)
    return [r]


def _logcumsumexp(op, inputs, attrs, outs, tangents):
    """PyTorch's ``logcumsumexp_jvp``: ``cumsum(e t) / cumsum(e)``, ``e = exp(x - max x)``."""
    x, t, dim = inputs[0], tangents[0], attrs["dim"]
    if x.numel() == 0:
        return [t]
    e = (x - x.amax(dim, keepdim=True)).exp()
    if attrs.get("reverse"):        # (the scan its backward runs: from the end)
        return [(e * t).flip(dim).cumsum(dim).flip(dim) / e.flip(dim).cumsum(dim).flip(dim)]
    return [(e * t).cumsum(dim) / e.cumsum(dim)]


def _softmax(op, inputs, attrs, outs, tangents):
    t, dim = tangents[0], attrs["dim"]
    s = outs[0].exp() if attrs["log"] else outs[0]
    inner = (s * t).sum(dim, keepdim=True)
    return [t - inner if attrs["log"] else s * (t - inner)]


def _as_real(op, inputs, attrs, outs, tangents):
    from ..ops.complex import view_as_real
    t = tangents[0]
    return [view_as_real(t if t.dtype.is_complex else t.to(t.dtype.to_complex()))]


def _as_complex(op, inputs, attrs, outs, tangents):
    from ..ops.complex import view_as_complex, _complex_layout
    return [view_as_complex(_complex_layout(tangents[0]))]


installed = False


def install():
    """Attach the explicit rules to their ops (once, when the first level is entered)."""
    global installed
    installed = True
    from ..ops._op import REGISTRY
    rules = {}
    for name in ("view", "permute", "expand", "as_strided", "unfold", "split", "split_with_sizes", "unbind"):
        rules[name] = _geometric
    for name in ("clone", "to_dtype", "to_device", "sum", "mean", "flip", "roll", "repeat", "tril", "triu",
                 "as_strided_view", "as_strided_view_grad", "view_scatter"):
        rules[name] = _linear_in(0)
    for name in ("cat", "stack"):
        rules[name] = _linear_in(*range(1 << 10))
    rules["copy_"] = rules["fill_"] = rules["copy_slices"] = _linear_in(0, 1)
    rules["index"] = rules["gather"] = rules["index_select"] = _linear_in(0)
    for name in ("matmul", "mm", "bmm", "mv", "dot"):
        rules[name] = _bilinear
    rules["linear"] = _linear_layer
    rules["view_as_real"] = _as_real
    rules["view_as_complex"] = _as_complex
    rules["softmax"] = rules["log_softmax"] = _softmax
    rules["logcumsumexp"] = _logcumsumexp
    for name, rule in rules.items():
        REGISTRY[name].jvp = rule
