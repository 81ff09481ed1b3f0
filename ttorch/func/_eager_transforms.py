"""``grad``, ``grad_and_value``, ``vjp``, ``jvp``, ``linearize``, ``jacrev``, ``jacfwd``, ``hessian``: torch.func's
transforms.

``jvp``, ``linearize`` and ``jacfwd`` run in forward mode (``autograd.forward_ad``: one dual level); nested inside
another forward transform they fall back to reverse mode (the double-backward trick, and rows),
since one dual level is active at a time, and the outer level's tangents flow through them.

functorch wraps tensors per transform level; here a reverse transform call is one ``autograd.grad`` over
fresh copies of the differentiated arguments, and nesting works because each call records a
graph (``create_graph``) whenever the caller records one. What makes the results behave as
functorch's: an argument that already requires grad (an outer transform's input, a user's leaf)
is replaced by a view of itself, which keeps it connected; one that doesn't is replaced by a new
leaf, and results whose graph reaches no tensor but those new leaves are returned detached
(``_Level.lift``: functorch's ``_undo_create_differentiable``).
"""
import functools

import ttorch
from ..autograd import grad_mode, forward_ad
from ..autograd.engine import AccumulateGrad
from ._pytree import tree_flatten, tree_unflatten, tree_map
from . import _batched

__all__ = ["grad", "grad_and_value", "vjp", "jvp", "linearize", "jacrev", "jacfwd", "hessian"]


class _Level:
    """One transform call: the leaves it made, and whether the caller records a graph."""

    def __init__(self):
        self.outer = grad_mode.is_grad_enabled()
        self.fresh = []     # held so that their ids stay theirs during the call

    def differentiable(self, x):
        if not isinstance(x, ttorch.Tensor):
            raise ValueError(f"Thing passed to transform API must be Tensor, got {type(x)}")
        if x.requires_grad:
            return x.view_as(x)
        x = forward_ad._carry(x, x.detach().requires_grad_())     # (an outer jvp's tangent stays)
        self.fresh.append(x)
        return x

    def _reaches_outer(self, t):
        """Whether ``t``'s graph reaches a leaf this level did not make (iterative walk)."""
        fresh = {id(getattr(x, "_value", x)) for x in self.fresh}     # (a BatchedTensor's value is the leaf)
        if t.grad_fn is None:
            return id(t) not in fresh
        stack, seen = [t.grad_fn], {t.grad_fn}
        while stack:
            node = stack.pop()
            if isinstance(node, AccumulateGrad):
                if id(node.variable) not in fresh:
                    return True
                continue
            for e in node.next_functions:
                if e is not None and e[0] not in seen:
                    seen.add(e[0])
                    stack.append(e[0])
        return False

    def lift(self, tree):
        """Results as the caller sees them: detached unless they depend on the caller's tensors."""
        def one(t):
            if isinstance(t, ttorch.Tensor) and t.requires_grad and (not self.outer or not self._reaches_outer(t)):
                return forward_ad._carry(t, t.detach())
            return t
        return tree_map(one, tree)


def _autograd_grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=True):
    """``autograd.grad`` over the outputs that require grad; zeros for inputs they don't reach."""
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    if not pairs:
        return tuple(ttorch.zeros_like(x) for x in inputs)
    if _batched.LEVELS:
        return _batched.autograd_grad(pairs, inputs, retain_graph, create_graph)
    res = ttorch.autograd.grad([o for o, _ in pairs], inputs, [g for _, g in pairs], retain_graph=retain_graph,
                               create_graph=create_graph, allow_unused=True)
    return tuple(ttorch.zeros_like(x) if g is None else g for g, x in zip(res, inputs))


def _validate_argnum(argnum, num_args):
    if not isinstance(argnum, int):
        raise RuntimeError(f"argnum must be int, got: {type(argnum)}")
    if 0 <= argnum < num_args:
        return argnum
    if -num_args <= argnum < 0:
        return argnum + num_args
    raise RuntimeError(f"Got argnum={argnum}, but only {num_args} positional inputs")


def _slice_argnums(args, argnums):
    """The differentiated arguments (one, or a tuple for tuple ``argnums``) and the wrapped argnums."""
    if isinstance(argnums, int):
        argnums = _validate_argnum(argnums, len(args))
        return args[argnums], argnums
    if not isinstance(argnums, tuple):
        raise RuntimeError(f"argnums must be int or Tuple[int, ...], got: {type(argnums)}")
    argnums = tuple(_validate_argnum(a, len(args)) for a in argnums)
    if len(argnums) == 0:
        raise RuntimeError("argnums must be non-empty")
    if len(set(argnums)) != len(argnums):
        raise RuntimeError(f"argnums elements must be unique, got {argnums}")
    return tuple(args[i] for i in argnums), argnums


def _prepare(level, args, argnums):
    """Replace the differentiated arguments with differentiable copies; returns
    (new args, flat differentiable tensors, their spec)."""
    diff, argnums = _slice_argnums(args, argnums)
    flat, spec = tree_flatten(diff)
    if _batched.LEVELS:     # under vmap: per-sample copies, whose gradients are per-sample
        flat = [_batched.per_sample(x) if isinstance(x, ttorch.Tensor) else x for x in flat]
    flat = [level.differentiable(x) for x in flat]
    diff = tree_unflatten(flat, spec)
    args = list(args)
    if isinstance(argnums, int):
        args[argnums] = diff
    else:
        for i, d in zip(argnums, diff):
            args[i] = d
    return tuple(args), flat, spec


def _split_aux(output, has_aux, api):
    if not has_aux:
        return output, None
    if not (isinstance(output, tuple) and len(output) == 2):
        raise RuntimeError(f"{api}: output of function f should be a tuple: (output, aux) if has_aux is True")
    return output


def grad_and_value(func, argnums=0, has_aux=False):
    r"""Like :func:`grad`, and returns ``(gradient, value)`` (``(gradient, (value, aux))`` with ``has_aux``).

    Example::

        >>> from ttorch.func import grad_and_value
        >>> g, v = grad_and_value(lambda x: (x ** 2).sum())(ttorch.tensor([1., 2.]))
        >>> g, v
        (tensor([2., 4.]), tensor(5.))
    """
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        level = _Level()
        with grad_mode.enable_grad():
            args, flat, spec = _prepare(level, args, argnums)
            output, aux = _split_aux(func(*args, **kwargs), has_aux, "grad_and_value(f)(*args)")
            if not isinstance(output, ttorch.Tensor):
                raise RuntimeError(f"grad_and_value(f)(*args): Expected f(*args) to return a Tensor, got "
                                   f"{type(output)}")
            if output.dim() != 0:
                raise RuntimeError(f"grad_and_value(f)(*args): Expected f(*args) to return a scalar Tensor, got "
                                   f"tensor with {output.dim()} dims. Maybe you wanted to use the vjp or jacrev "
                                   "APIs instead?")
            grads = _autograd_grad([output], flat, create_graph=level.outer)
        grads, output = level.lift(tree_unflatten(list(grads), spec)), level.lift(output)
        if has_aux:
            return grads, (output, level.lift(aux))
        return grads, output
    return wrapper


def grad(func, argnums=0, has_aux=False):
    r"""The gradient transform: ``grad(f)(*args)`` is the gradient of the scalar ``f(*args)``.

    Args:
        func: a function returning a 0-d Tensor (or ``(tensor, aux)`` with ``has_aux``).
        argnums (int or tuple of ints): the arguments to differentiate (each a Tensor or a
            nested dict/list/tuple of Tensors; the gradient has the same structure). Default: 0.
        has_aux (bool): ``func`` returns ``(output, aux)``; ``grad`` then returns ``(gradient, aux)``.

    Composes with itself, :func:`vmap` (per-sample gradients) and the other transforms.

    Example::

        >>> from ttorch.func import grad
        >>> x = ttorch.tensor(0.5)
        >>> round(grad(lambda x: x.sin())(x).item(), 4), round(grad(grad(lambda x: x.sin()))(x).item(), 4)
        (0.8776, -0.4794)
    """
    gv = grad_and_value(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        g, value = gv(*args, **kwargs)
        return (g, value[1]) if has_aux else g
    return wrapper


def _check_outputs(flat_out, api):
    if len(flat_out) == 0:
        raise RuntimeError(f"{api}: Expected f to be a function that has non-empty output (got output = [])")
    for o in flat_out:
        if not isinstance(o, ttorch.Tensor):
            raise RuntimeError(f"{api}: expected f(*primals) to return only tensors, got unsupported type {type(o)}")
        if not (o.is_floating_point() or o.is_complex()):
            raise RuntimeError("vjp(f, ...): All outputs of f must be floating-point or complex Tensors, got Tensor "
                               f"with dtype {o.dtype}")


def vjp(func, *primals, has_aux=False):
    r"""``(func(*primals), vjp_fn)``: ``vjp_fn(cotangents)`` returns the vector-Jacobian products, a
    tuple with one entry per primal. ``cotangents`` has the structure of the output.

    Example::

        >>> from ttorch.func import vjp
        >>> out, vjp_fn = vjp(lambda x: x ** 2, ttorch.tensor([1., 2.]))
        >>> vjp_fn(ttorch.tensor([1., 1.]))
        (tensor([2., 4.]),)
    """
    level = _Level()
    with grad_mode.enable_grad():
        flat, spec = tree_flatten(primals)
        flat = [level.differentiable(x) for x in flat]
        output, aux = _split_aux(func(*tree_unflatten(flat, spec)), has_aux, "vjp(f, *primals)")
        flat_out, out_spec = tree_flatten(output)
        _check_outputs(flat_out, "vjp(f, *primals)")

    def vjp_fn(cotangents, retain_graph=True, create_graph=None):
        if create_graph is None:
            create_graph = grad_mode.is_grad_enabled()
        flat_cot, cot_spec = tree_flatten(cotangents)
        if cot_spec != out_spec:
            raise RuntimeError("Expected pytree structure of cotangents to be the same as pytree structure of outputs "
                               f"to the function. cotangents: {cot_spec}, primal output: {out_spec}")
        res = _autograd_grad(flat_out, flat, flat_cot, retain_graph=retain_graph, create_graph=create_graph)
        return level.lift(tree_unflatten(list(res), spec))

    if has_aux:
        return level.lift(output), vjp_fn, level.lift(aux)
    return level.lift(output), vjp_fn


def jvp(func, primals, tangents, *, strict=False, has_aux=False):
    r"""``(func(*primals), J v)``: the outputs and the Jacobian-vector product with ``tangents``, in
    forward mode (one evaluation of ``func`` on dual tensors).

    Args:
        func: a function of ``primals`` returning a Tensor or a nested structure of Tensors
            (``(output, aux)`` with ``has_aux``).
        primals (tuple): the arguments, Tensors or nested structures of Tensors.
        tangents (tuple): the vector, with the structure and shapes of ``primals``.
        strict (bool): accepted, as PyTorch does, and unused.
        has_aux (bool): ``func`` returns ``(output, aux)``; then ``(output, jvp_out, aux)`` is returned.

    Inside another forward transform (``jacfwd(jacfwd(f))``) it computes ``J v`` in reverse mode
    instead: one dual level is active at a time. Outputs that don't depend on ``primals`` get zeros.

    Example::

        >>> from ttorch.func import jvp
        >>> x = ttorch.tensor([0., 1.])
        >>> out, jv = jvp(ttorch.sin, (x,), (ttorch.tensor([1., 2.]),))
        >>> [round(v, 4) for v in jv.tolist()]
        [1.0, 1.0806]
    """
    api = "jvp(f, primals, tangents)"
    if not isinstance(primals, tuple):
        raise RuntimeError(f"{api}: Expected primals to be a tuple. E.g. it should be valid to call f(*primals).")
    flat_p, p_spec = tree_flatten(primals)
    flat_t, t_spec = tree_flatten(tangents)
    if p_spec != t_spec:
        raise RuntimeError(f"{api}: Expected primals and tangents to have the same python structure. For example, if "
                           "primals is a tuple of 3 tensors, tangents also must be. Got primals with structure "
                           f"{p_spec} and tangents with structure {t_spec}")
    if not flat_p:
        raise RuntimeError(f"{api}: Expected primals to contain at least one Tensor.")
    for what, flat in (("primals", flat_p), ("tangents", flat_t)):
        for x in flat:
            if not isinstance(x, ttorch.Tensor):
                raise RuntimeError(f"{api}: Expected {what} to only contain Tensors, got {type(x)}")
    if forward_ad._token is not None:
        return _jvp_by_vjp(func, flat_p, p_spec, flat_t, has_aux, api)
    with forward_ad.dual_level():
        duals = [forward_ad.make_dual(p, t) for p, t in zip(flat_p, flat_t)]
        output, aux = _split_aux(func(*tree_unflatten(duals, p_spec)), has_aux, api)
        flat_out, out_spec = tree_flatten(output)
        _only_tensors(flat_out, api)
        jv = [forward_ad._tangent_or_zeros(o) for o in flat_out]
    if not (grad_mode.is_grad_enabled() and any(x.requires_grad for x in flat_p + flat_t)):
        jv = [t.detach() for t in jv]       # graphs of inner transforms' own leaves only
    output, jv = tree_unflatten(flat_out, out_spec), tree_unflatten(jv, out_spec)
    return (output, jv, aux) if has_aux else (output, jv)


def linearize(func, *primals):
    r"""``(func(*primals), jvp_fn)``: ``jvp_fn(*tangents)`` is the Jacobian-vector product at ``primals``.

    Differs from PyTorch: ``jvp_fn`` runs ``func`` again in forward mode on each call (PyTorch
    traces it once and replays the linear part), with the same results.

    Example::

        >>> from ttorch.func import linearize
        >>> output, jvp_fn = linearize(lambda x: x.sin(), ttorch.zeros(2))
        >>> jvp_fn(ttorch.ones(2))
        tensor([1., 1.])
    """
    output = func(*primals)
    flat_p, p_spec = tree_flatten(primals)

    def jvp_fn(*tangents):
        flat_t, t_spec = tree_flatten(tangents)
        if t_spec != p_spec:
            raise RuntimeError(f"Expected the tangents {t_spec} to have the same argspec as the primals {p_spec}")
        for i, (p, t) in enumerate(zip(flat_p, flat_t)):
            if t.shape != p.shape:
                raise RuntimeError(f"tangent:{i} with shape {t.shape} in flattened pytree doesn't match the shape "
                                   f"{p.shape} of the corresponding primal.")
        return jvp(func, primals, tangents)[1]
    return output, jvp_fn


def _only_tensors(flat_out, api):
    for o in flat_out:
        if not isinstance(o, ttorch.Tensor):
            raise RuntimeError(f"{api}: expected f(*primals) to return only tensors, got unsupported type {type(o)}")


def _jvp_by_vjp(func, flat_p, p_spec, flat_t, has_aux, api):
    """``jvp`` while a dual level is active: ``J v`` is the gradient, with respect to a dummy ``u``,
    of ``J^T u`` (linear in ``u``); the level's tangents flow through both backward passes."""
    level = _Level()
    with grad_mode.enable_grad():
        flat = [level.differentiable(x) for x in flat_p]
        output, aux = _split_aux(func(*tree_unflatten(flat, p_spec)), has_aux, api)
        flat_out, out_spec = tree_flatten(output)
        _only_tensors(flat_out, api)
        us = [ttorch.zeros_like(o).requires_grad_(o.is_floating_point()) for o in flat_out]
        level.fresh.extend(us)
        jtu = _autograd_grad(flat_out, flat, us, create_graph=True)
        jv = _autograd_grad(list(jtu), us, list(flat_t), create_graph=level.outer)
    output, jv = level.lift(tree_unflatten(flat_out, out_spec)), level.lift(tree_unflatten(list(jv), out_spec))
    return (output, jv, level.lift(aux)) if has_aux else (output, jv)


def _jacobian(api, func, argnums, has_aux, args):
    """Row by row: one backward pass per element of each output."""
    level = _Level()
    with grad_mode.enable_grad():
        args, flat, spec = _prepare(level, args, argnums)
        output, aux = _split_aux(func(*args), has_aux, f"{api}(f, ...)(*args)")
        flat_out, out_spec = tree_flatten(output)
        _check_outputs(flat_out, "vjp(f, *primals)")
        jacs = []
        for o in flat_out:
            rows = [[] for _ in flat]
            row_of = o.reshape(-1)
            for j in range(o.numel()):
                gs = _autograd_grad([row_of[j]], flat, retain_graph=True, create_graph=level.outer)
                for r, g in zip(rows, gs):
                    r.append(g)
            per_input = [ttorch.stack(r).reshape(o.shape + x.shape) if r else
                         ttorch.zeros(o.shape + x.shape, dtype=x.dtype, device=x.device) for r, x in zip(rows, flat)]
            jacs.append(tree_unflatten(per_input, spec))
    jac = level.lift(tree_unflatten(jacs, out_spec))
    return (jac, level.lift(aux)) if has_aux else jac


def jacrev(func, argnums=0, *, has_aux=False, chunk_size=None, _preallocate_and_copy=False):
    r"""The Jacobian of ``func`` with respect to the ``argnums`` arguments, by reverse-mode AD.

    For an output ``o`` and an argument ``x`` the block has shape ``o.shape + x.shape``; nested
    outputs and arguments give nested results (outputs outside, arguments inside). ``chunk_size``
    is checked and otherwise ignored: rows are computed one at a time.

    Example::

        >>> from ttorch.func import jacrev
        >>> jacrev(lambda x: x ** 2)(ttorch.tensor([1., 2.]))
        tensor([[2., 0.],
                [0., 4.]])
    """
    if not (chunk_size is None or chunk_size > 0):
        raise ValueError("jacrev: `chunk_size` should be greater than 0.")

    @functools.wraps(func)
    def wrapper(*args):
        return _jacobian("jacrev", func, argnums, has_aux, args)
    return wrapper


def jacfwd(func, argnums=0, has_aux=False, *, randomness="error"):
    r"""The Jacobian of ``func`` with respect to the ``argnums`` arguments, by forward-mode AD; same
    results and structure as :func:`jacrev`.

    One forward evaluation of ``func`` on dual tensors per element of the differentiated arguments
    (PyTorch batches them with vmap; ``randomness`` is only checked). Inside another forward
    transform it computes in reverse mode, one dual level being active at a time.

    Example::

        >>> from ttorch.func import jacfwd
        >>> jacfwd(lambda x, y: x * y, argnums=(0, 1))(ttorch.tensor([1., 2.]), ttorch.tensor([3., 4.]))[1]
        tensor([[1., 0.],
                [0., 2.]])
    """
    from ._vmap import _check_randomness_arg
    _check_randomness_arg(randomness)

    @functools.wraps(func)
    def wrapper(*args):
        if forward_ad._token is not None:
            return _jacobian("jacfwd", func, argnums, has_aux, args)
        diff, argnums_ = _slice_argnums(args, argnums)
        flat, spec = tree_flatten(diff)
        for x in flat:
            if not isinstance(x, ttorch.Tensor):
                raise ValueError(f"Thing passed to transform API must be Tensor, got {type(x)}")
        found = {}

        def flat_func(*xs):
            new_args = list(args)
            d = tree_unflatten(list(xs), spec)
            if isinstance(argnums_, int):
                new_args[argnums_] = d
            else:
                for i, v in zip(argnums_, d):
                    new_args[i] = v
            output, found["aux"] = _split_aux(func(*new_args), has_aux, "jacfwd(f, ...)(*args)")
            flat_out, found["spec"] = tree_flatten(output)
            _check_outputs(flat_out, "jacfwd(f, ...)(*args)")
            return flat_out

        _, jac = forward_ad._columns(flat_func, flat)
        if not (grad_mode.is_grad_enabled() and any(x.requires_grad for x in flat)):
            jac = [[j.detach() for j in per_input] for per_input in jac]
        jac = tree_unflatten([tree_unflatten(per_input, spec) for per_input in jac], found["spec"])
        return (jac, found["aux"]) if has_aux else jac
    return wrapper


def hessian(func, argnums=0):
    r"""The Hessian of a scalar ``func``: ``jacfwd(jacrev(func, argnums), argnums)`` (forward over reverse).

    Example::

        >>> from ttorch.func import hessian
        >>> A = ttorch.tensor([[1., 2.], [0., 3.]])
        >>> hessian(lambda x: x @ A @ x)(ttorch.ones(2))
        tensor([[2., 2.],
                [2., 6.]])
    """
    return jacfwd(jacrev(func, argnums), argnums)
