"""Random ops under :func:`ttorch.func.vmap`: PyTorch's ``randomness`` flag, applied at the op.

While ``func`` runs on batched tensors, ``ops.random.VMAP`` is :func:`random_call`: the public random
functions (``rand``, ``randn``, ``randint``, ``randperm``, ``normal``, ``bernoulli``, ``multinomial``,
the ``*_like`` functions, the in-place fills ``uniform_``, ``normal_``, ``bernoulli_``...) and F.dropout's
mask hand their call to it, and it draws as the flag says:

- ``"error"``: PyTorch's error, at the op;
- ``"different"``: one draw of the batched shape (a batch dim before the op's shape), so each sample
  gets its own numbers; a batched input's value is the op's input (``bernoulli(p)``, ``normal(mean)``...);
- ``"same"``: one draw of one sample's shape, broadcast over the batch; PyTorch refuses a batched
  tensor of probabilities or means there, and so does this.

Differences from PyTorch: the numbers of a ``"different"`` draw come from ttorch's generators
(NumPy on cpu, Philox on cuda), not PyTorch's; under nested vmaps a random op reruns the inner vmap per
sample (``Unbatchable``), where the outer flag then applies.
"""
from .._tensor import Tensor
from ._batched import LEVELS, Unbatchable, VmapError, level_of, unwrap, wrap

# the randomness flag of each active vmap level (``LEVELS``'s twin); random calls answered (``_run`` reruns
# a call per sample only when the generators advanced without one: a draw outside these functions)
RANDOMNESS = []
DRAWS = [0]

ERROR = ("vmap: called random operation while in randomness error mode. Please either use the 'same' or "
         "'different' randomness flags on vmap or perform the randomness operation out of vmap")
SAME_BATCHED = ("Vmap does not currently support same randomness with a batched tensor input. Please file an issue "
                "with functorch")
DIFFERENT_INPLACE = ("vmap: Cannot ask for different inplace randomness on an unbatched tensor. This will appear "
                     "like same randomness. If this is necessary for your usage, please file an issue with "
                     "functorch.")

_SIZED = {"rand", "randn", "randint", "normal"}
_LIKE = {"rand_like", "randn_like", "randint_like"}
_INPLACE = {"uniform_", "normal_", "bernoulli_", "random_", "exponential_", "geometric_", "cauchy_", "log_normal_"}


class _Unhooked:
    """The random functions as they are while a rule calls them (their own inner calls too)."""

    def __enter__(self):
        from ..ops import random
        self.hook, random.VMAP = random.VMAP, None

    def __exit__(self, *exc):
        from ..ops import random
        random.VMAP = self.hook


def random_call(fn, args, kwargs):
    """``fn(*args, **kwargs)``, a random function called on the innermost vmap level's batch."""
    if "error" in RANDOMNESS:
        raise VmapError(ERROR)
    if len(LEVELS) > 1:
        raise Unbatchable("vmap: a random op under nested vmaps")
    DRAWS[0] += 1
    level, size, mode = 1, LEVELS[0], RANDOMNESS[0]
    name = fn.__name__
    tensors = [t for t in list(args) + list(kwargs.values()) if isinstance(t, Tensor)]
    batched = any(level_of(t) == level for t in tensors)
    with _Unhooked():
        if name == "_dropout":
            return _dropout(fn, args, mode, level, size)
        if name in _INPLACE:
            return _inplace(fn, args, kwargs, mode, level, size)
        if mode == "same":
            if batched and name not in _LIKE and not (name == "bernoulli" and _p_given(args, kwargs)):
                raise VmapError(SAME_BATCHED)
            return fn(*args, **kwargs)
        if name in _LIKE:
            return wrap(fn(unwrap(args[0], level, size), *args[1:], **kwargs), level)
        if name == "bernoulli":
            return wrap(fn(unwrap(args[0], level, size), *args[1:], **kwargs), level)
        if name == "multinomial":
            return _multinomial(fn, args, kwargs, level, size)
        if name == "normal" and tensors:
            return _normal(fn, args, kwargs, level, size)
        if name in _SIZED and kwargs.get("out") is None:
            return wrap(_sized(fn, args, kwargs, size), level)
        import ttorch       # randperm, ``out=``: one draw per sample
        return wrap(ttorch.stack([fn(*args, **kwargs) for _ in range(size)]), level)


def _p_given(args, kwargs):
    return (args[1] if len(args) > 1 else kwargs.get("p")) is not None


def _sized(fn, args, kwargs, size):
    """``fn`` with a batch dim put before its ``size`` argument."""
    kw = dict(kwargs)
    args = list(args)
    name = fn.__name__
    if "size" in kw:
        kw["size"] = (size,) + tuple(kw["size"])
    elif name in ("rand", "randn"):
        shape = tuple(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list)) else tuple(args)
        args = [(size,) + shape]
    elif name == "normal":
        args[2] = (size,) + tuple(args[2])
    else:       # randint: the size is the last positional argument
        args[-1] = (size,) + tuple(args[-1])
    return fn(*args, **kw)


def _normal(fn, args, kwargs, level, size):
    """``normal`` of tensor means/stds: each expanded to the batched broadcast shape."""
    from ..ops.elementwise import broadcast_shapes
    kwargs = dict(kwargs)
    mean = args[0] if args else kwargs.pop("mean")
    std = args[1] if len(args) > 1 else kwargs.pop("std", 1.0)
    shape = broadcast_shapes(*[tuple(t.shape) for t in (mean, std) if isinstance(t, Tensor)])

    def phys(t):
        if not isinstance(t, Tensor):
            return t
        v = t._value.reshape((size,) + (1,) * (len(shape) - t.dim()) + tuple(t.shape)) if level_of(t) == level else t
        return v.expand((size,) + shape)
    return wrap(fn(phys(mean), phys(std), *args[2:], **kwargs), level)


def _multinomial(fn, args, kwargs, level, size):
    """``multinomial`` of (B, [r,] n) weights: one call on their rows."""
    w = args[0]
    v = unwrap(w, level, size)
    out = fn(v.reshape(-1, v.shape[-1]), *args[1:], **kwargs)
    return wrap(out.reshape(tuple(v.shape[:-1]) + (out.shape[-1],)), level)


def _inplace(fn, args, kwargs, mode, level, size):
    """``uniform_``, ``bernoulli_``...: a batched ``self`` takes one draw of its value's shape
    (``"different"``) or one sample's draw broadcast (``"same"``)."""
    self, rest = args[0], list(args[1:])
    batched_rest = any(level_of(t) == level for t in rest + list(kwargs.values()))
    if level_of(self) != level:
        if batched_rest and mode == "same":
            raise VmapError(SAME_BATCHED)
        if batched_rest:
            from ._inplace_rules import inplace_error
            raise inplace_error(fn.__name__, level)
        if mode == "different":
            raise VmapError(DIFFERENT_INPLACE)
        return fn(self, *rest, **kwargs)
    if mode == "same":
        if batched_rest:
            raise VmapError(SAME_BATCHED)
        one = fn(Tensor._empty(tuple(self.shape), self.dtype, self.device), *rest, **kwargs)
        return self.copy_(one)
    rank = self.dim()

    def phys(t):        # a batched ``p`` of ``bernoulli_``: aligned to the value's dims
        if level_of(t) != level:
            return t
        return t._value.reshape((size,) + (1,) * (rank - t.dim()) + tuple(t.shape))
    fn(self._value, *[phys(t) for t in rest], **{k: phys(v) for k, v in kwargs.items()})
    return self


def _dropout(fn, args, mode, level, size):
    """F.dropout's mask (``nn/functional/linear.py``): one sample's mask for every sample (``"same"``),
    or the dropout of the batched value (``"different"``), whose channels (``feature``) are per sample."""
    input, p, training, inplace, feature, alpha = args
    if mode == "same":
        if inplace or feature or alpha:
            return fn(*args)
        # the mask of ones (as F.dropout draws it on either device), then the batched product
        ones = Tensor._empty(tuple(input.shape), input.dtype, input.device).fill_(1)
        return input * fn(ones, p, training, False, False, False)
    if level_of(input) != level:
        if inplace:
            raise VmapError(DIFFERENT_INPLACE)
    v = unwrap(input, level, size)
    if feature:
        if inplace or input.dim() < 2:
            raise Unbatchable("vmap: in-place feature dropout")
        flat = v.reshape((-1,) + tuple(v.shape[2:]))        # (B * N, C, ...)
        return wrap(fn(flat, p, training, False, feature, alpha).reshape(v.shape), level)
    r = fn(v, p, training, inplace, feature, alpha)
    return input if inplace else wrap(r, level)
