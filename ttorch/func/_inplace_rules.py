"""In-place ops under :func:`ttorch.func.vmap`: PyTorch's batching rule for writes.

Every in-place method computes its result out of place (a batching rule, or the op per sample) and
hands it to ``ops.inplace.inplace_from``, which asks the tensors involved:

- a batched ``self`` (``BatchedTensor._inplace_from``): its value takes the result's value, the
  result's batch dim first (an unbatched result is broadcast over the batch), so autograd, version
  counters and views of the value behave as for the op written on the whole batch;
- an unbatched ``self`` given a result batched at a vmap level (``BatchedTensor._inplace_into``):
  PyTorch's error, since one tensor cannot hold one value per sample.

Views of batched values are views of the values, also of non-contiguous ones (``_batch_rules._remap``);
one that a rule had to copy (a reshape of a non-contiguous value: ``_copied``) is no view: a write into
it raises ``Unbatchable``, and vmap reruns the function per sample, where the slices are true views.
Difference from PyTorch: writes the function made before such a write then happen again in that loop.
"""
from ._batched import FALLBACKS, LEVELS, RULES, Unbatchable, VmapError, level_of, unwrap, wrap

# PyTorch words its refusal by the op's kernel: the generic in-place arithmetic rule, ops with a rule of
# their own (named as they are), and ops that reach its per-sample fallback (named ``aten::op``, with the level)
_OWN_NAME = {"fill_", "index_add_", "index_fill_", "scatter_add_", "index_put_"}
_ARITHMETIC = {"sub_", "mul_", "div_", "copy_", "masked_fill_", "true_divide_", "floor_divide_"}
_SHAPE_ERROR = {"add_", "__iadd__"}


def inplace_error(opname, level):
    """PyTorch's error for writing a value batched at vmap ``level`` into a tensor not batched there."""
    if opname in _OWN_NAME:
        name, where = opname, "in a vmap"
    elif opname == "bernoulli_":
        name, where = "inplace bernoulli", "in a vmap"
    elif opname in _ARITHMETIC:
        name, where = "inplace arithmetic", "in a vmap"
    else:
        name, where = f"aten::{opname}", f"at level {level}"
    return VmapError(f"vmap: {name}(self, *extra_args) is not possible because there exists a Tensor `other` in "
                     "extra_args that has more elements than `self`. This happened due to `other` being vmapped over "
                     f"but `self` not being vmapped over {where}. Please try to use out-of-place operators instead "
                     f"of {name}. If said operator is being called inside the PyTorch framework, please file a bug "
                     "report instead.")


def _shape_error(self_shape, result_shape, size, batched):
    """PyTorch's shape message (``add_`` into an unbatched tensor, a result larger than a batched ``self``):
    physical shapes, a batched ``self`` padded to the result's rank."""
    res = list(result_shape)
    mine = list(self_shape)
    if batched:
        mine = [size] + [1] * max(len(res) - len(mine), 0) + mine
    return VmapError(f"output with shape {mine} doesn't match the broadcast shape {[size] + res}")


def write_batched(self, result, opname):
    """``self`` (batched) takes ``result``: the result's value is written into ``self``'s value."""
    from ..ops.inplace import inplace_from
    level = self._level
    if level_of(result) > level:
        if opname in _SHAPE_ERROR:
            raise _shape_error(self.shape, result.shape, LEVELS[result._level - 1], False)
        raise inplace_error(opname, result._level)
    if tuple(result.shape) != tuple(self.shape):
        raise _shape_error(self.shape, result.shape, LEVELS[level - 1], True)
    if getattr(self, "_copied", False):
        raise Unbatchable(f"vmap: {opname} into a view whose batched value had to be copied")
    size = LEVELS[level - 1]
    value = unwrap(result, level, size)
    inplace_from(self._value, value, opname)
    return self


def write_unbatched(x, result, opname):
    """An unbatched ``x`` given a batched ``result``: PyTorch raises (``add_``: its shape check)."""
    if opname in _SHAPE_ERROR:
        raise _shape_error(x.shape, result.shape, LEVELS[result._level - 1], False)
    raise inplace_error(opname, result._level)


def _has_index_tensor(key):
    from .._tensor import Tensor
    keys = key if isinstance(key, tuple) else (key,)
    return any(isinstance(k, (Tensor, list)) or hasattr(k, "__array__") for k in keys)


def setitem(self, key, value):
    """``self[key] = value`` with a batched ``self`` or ``value``: a basic key writes through the view it
    selects (``copy_``/``fill_``, whose rules batch); an index tensor writes per sample into a copy, which
    ``self`` then takes (``FALLBACKS["index_put"]`` counts those)."""
    from .._tensor import Tensor
    if not _has_index_tensor(key):
        view = self[key]
        if isinstance(value, Tensor):
            view.copy_(value)
        else:
            view.fill_(value)
        return
    level = max(level_of(self), level_of(value))
    if level_of(self) < level:
        raise inplace_error("index_put_", level)
    size = LEVELS[level - 1]
    FALLBACKS["index_put"] += 1
    out = self._value.clone()
    vv = unwrap(value, level, size) if isinstance(value, Tensor) else None
    for i in range(size):
        out[i][key] = value if vv is None else vv[i]
    self._inplace_from(wrap(out, level), "index_put_")


# ------------------------------------------------------------------------------------ rules of the write ops
def _aligned(t, level, size, rank):
    """``t``'s value with its logical dims padded to ``rank`` after the batch dim (unbatched: as it is)."""
    if level_of(t) != level:
        return t
    return t._value.reshape((size,) + (1,) * (rank - t.dim()) + tuple(t.shape))


def _copy_rule(op, inputs, attrs, level, size):
    """``copy_``/``fill_``'s value (``src`` broadcast to ``self``, in its dtype): the op on the values."""
    x, src = inputs
    xv = unwrap(x, level, size)
    if level_of(src) != level:
        return wrap(op(xv, src, **attrs), level)
    sv = _aligned(src, level, size, x.dim())
    return wrap(op(xv, sv, **attrs) if op.name == "copy_" else sv.to(x.dtype).expand(xv.shape) + 0, level)


RULES["copy_"] = RULES["fill_"] = _copy_rule


def _index_add(op, inputs, attrs, level, size):
    """``index_add`` by an unbatched index: along the values' next dim (``index_add_`` writes it)."""
    x, index, src = inputs
    if level_of(index) == level or x.dim() == 0 or src.dim() != x.dim():
        return NotImplemented
    xv, sv = unwrap(x, level, size), unwrap(src, level, size)
    return wrap(op(xv, index, sv, **dict(attrs, dim=attrs["dim"] % x.dim() + 1, src_shape=tuple(sv.shape))), level)


RULES["index_add"] = _index_add
