"""``vmap``: map a function over a dimension of its inputs (torch.func's vectorizing map).

``func`` runs once, on ``BatchedTensor`` inputs (``_batched.py``): every op finds a batching rule
(``_batch_rules.py``) and runs once on the whole batch, or, without one, runs per sample and stacks.
``grad`` under vmap differentiates per-sample copies of its arguments, so per-sample gradients are one
backward pass. In-place ops write the batched values (``_inplace_rules.py``). Where a batched run cannot
give the per-sample answer (a Tensor method reading storage, forward-mode AD, ``autograd.grad`` of a
batched output...), ``vmap`` runs ``func`` once per sample on slices (the loop this module began as).

Randomness follows PyTorch's flags at each random op (``_random_rules.py``): ``"error"`` raises,
``"different"`` draws the batched shape at once, ``"same"`` draws one sample's and broadcasts it. In the
per-sample loop (and for numbers drawn other than by ttorch's random functions) ``"same"`` replays the
generators' state for every sample, ``"different"`` lets them advance and ``"error"`` raises after a
call that used a default generator.
"""
import functools

import ttorch
from ._pytree import tree_flatten, tree_unflatten, _broadcast_to_and_flatten
from . import _batched, _batch_rules, _inplace_rules, _nn_rules, _random_rules

_batch_rules.RULES, _inplace_rules.RULES, _nn_rules.RULES     # imported for their registrations in ``_batched``

__all__ = ["vmap"]


def _check_randomness_arg(randomness):
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or 'same'. Got {randomness}")


def _get_name(func):
    if hasattr(func, "__name__"):
        return func.__name__
    if isinstance(func, functools.partial):
        return f"functools.partial({_get_name(func.func)}, ...)"
    return repr(func)


def _rng_state():
    """The default generators' states: cpu (NumPy's PCG64) and each cuda generator's Philox counter."""
    from .. import _random
    return (_random.default_generator._np.bit_generator.state,
            {i: (g._seed, g._offset) for i, g in _random._cuda_gens.items()})


def _rng_changed(before):
    from .. import _random
    cpu, cuda = before
    if _random.default_generator._np.bit_generator.state != cpu:
        return True
    # a cuda generator made during the call starts at offset 0: it changed only if it drew numbers
    return any(cuda.get(i, (g._seed, 0)) != (g._seed, g._offset) for i, g in _random._cuda_gens.items())


def _rng_restore(state):
    from .. import _random
    cpu, cuda = state
    _random.default_generator._np.bit_generator.state = cpu
    for i, g in _random._cuda_gens.items():
        g._seed, g._offset = cuda.get(i, (g._seed, 0))


def _process_batched_inputs(in_dims, args, func):
    name = _get_name(func)
    if not isinstance(in_dims, (int, tuple)):
        raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): expected `in_dims` to be int or a "
                         f"(potentially nested) tuple matching the structure of inputs, got: {type(in_dims)}.")
    if len(args) == 0:
        raise ValueError(f"vmap({name})(<inputs>): got no inputs. Maybe you forgot to add inputs, or you are trying "
                         "to vmap over a function with no inputs. The latter is unsupported.")
    flat_args, spec = tree_flatten(args)
    flat_in_dims = _broadcast_to_and_flatten(in_dims, spec)
    if flat_in_dims is None:
        raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): in_dims is not compatible with the "
                         f"structure of `inputs`. in_dims has structure {tree_flatten(in_dims)[1]} but inputs has "
                         f"structure {spec}.")
    for i, (arg, d) in enumerate(zip(flat_args, flat_in_dims)):
        if not isinstance(d, int) and d is not None:
            raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): Got in_dim={d} for an input but "
                             "in_dim must be either an integer dimension or None.")
        if isinstance(d, int) and not isinstance(arg, ttorch.Tensor):
            raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): Got in_dim={d} for an input but the "
                             f"input is of type {type(arg)}. We cannot vmap over non-Tensor arguments, please use "
                             "None as the respective in_dim")
        if d is not None and not -arg.dim() <= d < arg.dim():
            raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): Got in_dim={d} for some input, but "
                             f"that input is a Tensor of dimensionality {arg.dim()} so expected in_dim to satisfy "
                             f"-{arg.dim()} <= in_dim < {arg.dim()}.")
        if d is not None and d < 0:
            flat_in_dims[i] = d % arg.dim()
    sizes = [arg.size(d) for arg, d in zip(flat_args, flat_in_dims) if d is not None]
    if not sizes:
        raise ValueError("vmap: Expected at least one Tensor to vmap over")
    if any(s != sizes[0] for s in sizes):
        raise ValueError(f"vmap: Expected all tensors to have the same size in the mapped dimension, got sizes {sizes} "
                         "for the mapped dimension")
    return sizes[0], flat_in_dims, flat_args, spec


def _same(col):
    first = col[0]
    if not isinstance(first, ttorch.Tensor):
        return all(c is first or c == first for c in col)
    return all(c is first or (isinstance(c, ttorch.Tensor) and c.shape == first.shape
                              and ttorch.equal(c.detach(), first.detach())) for c in col)


def _flat_out_dims(out0, out_dims, func):
    """``out_dims`` flattened to match the outputs' structure ``tree_flatten(out0)``, or PyTorch's error."""
    name = _get_name(func)
    spec = tree_flatten(out0)[1]

    def incompatible():
        raise ValueError(f"vmap({name}, ..., out_dims={out_dims})(<inputs>): out_dims is not compatible with the "
                         f"structure of `outputs`. out_dims has structure {tree_flatten(out_dims)[1]} but outputs has "
                         f"structure {spec}.")
    if isinstance(out0, ttorch.Tensor):
        if isinstance(out_dims, int) or out_dims is None:
            return [out_dims]
        if isinstance(out_dims, tuple) and len(out_dims) == 1:
            return list(out_dims)
        incompatible()
    flat_out_dims = _broadcast_to_and_flatten(out_dims, spec)
    if flat_out_dims is None:
        incompatible()
    return flat_out_dims


def _stack_outputs(outs, out_dims, func, batch_size):
    name = _get_name(func)
    flat0, spec = tree_flatten(outs[0])
    flat_out_dims = _flat_out_dims(outs[0], out_dims, func)
    flats = []
    for o in outs:
        f, s = tree_flatten(o)
        if s != spec:
            raise ValueError(f"vmap({name}, ...): `{name}` returned outputs of different structures for different "
                             f"samples: {spec} and {s}")
        flats.append(f)
    res = []
    for k, d in enumerate(flat_out_dims):
        col = [f[k] for f in flats]
        if d is None:
            # PyTorch returns an unbatched output as it is; one that varies over the batch is an error
            if not _same(col):
                raise ValueError(f"vmap({name}, ...): `{name}` can not return a BatchedTensor when out_dim is None")
            res.append(col[0])
        elif not isinstance(col[0], ttorch.Tensor):
            raise ValueError(f"vmap({name}, ...): `{name}` must only return Tensors, got type {type(col[0])}. Did you "
                             "mean to set out_dims= to None for output?")
        elif batch_size == 0:       # outputs of a dummy sample (see vmap): only their shapes count
            t = col[0]
            d = d % (t.dim() + 1)
            res.append(ttorch.zeros(t.shape[:d] + (0,) + t.shape[d:], dtype=t.dtype, device=t.device))
        else:
            res.append(ttorch.stack(col, dim=d))
    return tree_unflatten(res, spec)


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    r"""Map ``func`` over dimension ``in_dims`` of its inputs; results are stacked along ``out_dims``.

    One call of ``func`` on the whole batch (batching rules), or one per index on slices where that
    cannot serve (see the module docstring).

    Args:
        func: a function of (nested structures of) Tensors returning (nested structures of) Tensors.
        in_dims (int or tuple): the mapped dimension of each input (None: not mapped), a tuple
            matching the arguments, whose entries may cover nested arguments. Default: 0.
        out_dims (int or tuple): where the mapped dimension goes in each output (None: an output
            that does not vary over the batch). Default: 0.
        randomness (str): ``"error"``, ``"different"`` or ``"same"``, see the module docstring.
        chunk_size (int, optional): samples per call of ``func`` (None: all at once).

    Example::

        >>> from ttorch.func import vmap, grad
        >>> x = ttorch.tensor([[1., 2.], [3., 4.]])
        >>> vmap(ttorch.dot)(x, x)
        tensor([ 5., 25.])
        >>> vmap(grad(lambda w, x: (w * x).sum() ** 2), in_dims=(None, 0))(ttorch.ones(2), x)   # per-sample
        tensor([[ 6., 12.],
                [42., 56.]])
    """
    _check_randomness_arg(randomness)
    if not (chunk_size is None or chunk_size > 0):
        raise ValueError(f"vmap: chunk_size should be None or greater than 0. (got {chunk_size})")

    @functools.wraps(func)
    def wrapped(*args, **kwargs):
        if not isinstance(out_dims, int):
            for d in tree_flatten(out_dims)[0]:
                if not isinstance(d, int):
                    raise ValueError(f"vmap({_get_name(func)}, ..., out_dims={out_dims}): `out_dims` must be an int, "
                                     "None or a python collection of ints representing where in the outputs the "
                                     "vmapped dimension should appear.")
        batch_size, flat_in_dims, flat_args, spec = _process_batched_inputs(in_dims, args, func)
        if not batch_size:
            return _loop(func, 0, flat_in_dims, flat_args, spec, kwargs, out_dims, randomness)
        chunk = chunk_size or batch_size
        results = []
        for start in range(0, batch_size, chunk):
            n = min(chunk, batch_size - start)
            part = flat_args if n == batch_size else \
                [a if d is None else a.narrow(d, start, n) for a, d in zip(flat_args, flat_in_dims)]
            results.append(_run(func, n, flat_in_dims, part, spec, kwargs, out_dims, randomness))
        if len(results) == 1:
            return results[0]
        flat_out_dims = _flat_out_dims(results[0], out_dims, func)
        flats = [tree_flatten(r)[0] for r in results]
        res = [col[0] if d is None else ttorch.cat(col, dim=d)
               for d, col in zip(flat_out_dims, zip(*flats))]
        return tree_unflatten(res, tree_flatten(results[0])[1])
    return wrapped


def _run(func, batch_size, flat_in_dims, flat_args, spec, kwargs, out_dims, randomness):
    """One call of ``func`` on batched inputs; the per-sample loop where that cannot give its result."""
    start = _rng_state()
    draws = _random_rules.DRAWS[0]
    try:
        out = _batched_call(func, batch_size, flat_in_dims, flat_args, spec, kwargs, out_dims, randomness)
    except (_batched.VmapError, _OutputError):
        raise
    except Exception as e:      # an op or Tensor method batching cannot serve: the loop gives the answer
        _batched.LOOPS[type(e).__name__] += 1
        _rng_restore(start)
        return _loop(func, batch_size, flat_in_dims, flat_args, spec, kwargs, out_dims, randomness)
    # random functions drew as the flag says (_random_rules.py); numbers drawn some other way: the loop draws
    # them per sample as each flag wants (or raises)
    if _random_rules.DRAWS[0] == draws and _rng_changed(start):
        _batched.LOOPS["random"] += 1
        _rng_restore(start)
        return _loop(func, batch_size, flat_in_dims, flat_args, spec, kwargs, out_dims, randomness)
    return out


class _OutputError(ValueError):
    """vmap's errors about ``func``'s outputs: raised as they are, not retried by the loop."""


def _batched_call(func, batch_size, flat_in_dims, flat_args, spec, kwargs, out_dims, randomness):
    from ..ops import random
    levels = _batched.LEVELS
    levels.append(batch_size)
    _random_rules.RANDOMNESS.append(randomness)
    hook, random.VMAP = random.VMAP, _random_rules.random_call
    level = len(levels)
    try:
        sample = [a if d is None else _batched.wrap(a if d == 0 else a.movedim(d, 0), level)
                  for a, d in zip(flat_args, flat_in_dims)]
        out = func(*tree_unflatten(sample, spec), **kwargs)
    finally:
        levels.pop()
        _random_rules.RANDOMNESS.pop()
        random.VMAP = hook
    name = _get_name(func)
    flat_out, out_spec = tree_flatten(out)
    res = []
    for o, d in zip(flat_out, _flat_out_dims(out, out_dims, func)):
        batched = type(o) is _batched.BatchedTensor and o._level == level
        if d is None:
            if batched:
                raise _OutputError(f"vmap({name}, ...): `{name}` can not return a BatchedTensor when out_dim is None")
            res.append(o)
        elif not isinstance(o, ttorch.Tensor):
            raise _OutputError(f"vmap({name}, ...): `{name}` must only return Tensors, got type {type(o)}. Did you "
                               "mean to set out_dims= to None for output?")
        else:
            v = o._value if batched else o.unsqueeze(0).expand((batch_size,) + tuple(o.shape))
            res.append(v.movedim(0, d) if d % v.dim() else v)
    return tree_unflatten(res, out_spec)


def _loop(func, batch_size, flat_in_dims, flat_args, spec, kwargs, out_dims, randomness):
    """``func`` once per sample, results stacked along ``out_dims``."""
    outs = []
    start = _rng_state()
    for i in range(max(batch_size, 1)):
        if batch_size:
            sample = [a if d is None else a.select(d, i) for a, d in zip(flat_args, flat_in_dims)]
        else:       # an empty batch: one call on zeros gives the outputs' structure and shapes
            sample = [a if d is None else ttorch.zeros(a.shape[:d] + a.shape[d + 1:], dtype=a.dtype,
                                                       device=a.device) for a, d in zip(flat_args, flat_in_dims)]
        if randomness == "same":
            _rng_restore(start)
        before = _rng_state() if randomness == "error" else None
        outs.append(func(*tree_unflatten(sample, spec), **kwargs))
        if before is not None and _rng_changed(before):
            raise RuntimeError("vmap: called random operation while in randomness error mode. Please either use "
                               "the 'same' or 'different' randomness flags on vmap or perform the randomness "
                               "operation out of vmap")
    return _stack_outputs(outs, out_dims, func, batch_size)
