"""Symbolics of ttorch's view, shape, indexing and creation ops.

Sizes may be Python ints or 0-d int64 Values (read from a dynamic shape); ``g.int_list`` turns a mix of both into
the 1-D shape tensors Reshape, Expand, Slice and ConstantOfShape take.
"""
import numpy as np

from .. import _dtype
from ._graph import INT64_MAX, Value, np_dtype, symbolic
from ._symbolic_tensor import out_dtype
from .errors import SymbolicValueError, UnsupportedOperatorError


def _values(x):
    return isinstance(x, Value)


def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (list, tuple)):
        return list(shape[0])
    if len(shape) == 1 and isinstance(shape[0], Value) and shape[0].rank == 1:
        return shape[0]
    return list(shape)


@symbolic("reshape", "view")
def reshape(g, input, *shape, **kw):
    shape = _shape_arg(shape or (kw.get("shape") or kw.get("size"),))
    if not isinstance(shape, Value) and len(shape) == 1 and isinstance(shape[0], _dtype.dtype):
        raise UnsupportedOperatorError("aten::view.dtype", g.opset, None)
    return g.op("Reshape", input, g.int_list(shape))


@symbolic("flatten")
def flatten(g, input, start_dim=0, end_dim=-1):
    r = input.rank
    if r == 0:
        return g.op("Reshape", input, g.int_list([1]))
    s, e = start_dim % r, end_dim % r
    head = [0] * s + [-1]
    if e == r - 1:
        return g.op("Reshape", input, g.int_list(head))
    tail = g.shape(input, e + 1)
    return g.op("Reshape", input, g.op("Concat", g.int_list(head), tail, axis=0))


@symbolic("unflatten")
def unflatten(g, input, dim, sizes):
    d = dim % input.rank
    mid = g.int_list([0] * d + list(sizes))
    if d == input.rank - 1:
        return g.op("Reshape", input, mid)
    return g.op("Reshape", input, g.op("Concat", mid, g.shape(input, d + 1), axis=0))


@symbolic("permute")
def permute(g, input, *dims, **kw):
    dims = _shape_arg(dims or (kw["dims"],))
    return g.op("Transpose", input, perm=[d % input.rank for d in dims])


@symbolic("transpose", "swapaxes", "swapdims")
def transpose(g, input, dim0, dim1):
    perm = list(range(input.rank))
    a, b = dim0 % input.rank, dim1 % input.rank
    perm[a], perm[b] = perm[b], perm[a]
    return input if a == b else g.op("Transpose", input, perm=perm)


@symbolic("t")
def t(g, input):
    return input if input.rank < 2 else g.op("Transpose", input, perm=[1, 0])


@symbolic("unsqueeze")
def unsqueeze(g, input, dim):
    return g.unsqueeze(input, [dim % (input.rank + 1)])


@symbolic("squeeze")
def squeeze(g, input, dim=None):
    if dim is None:
        axes = [i for i, s in enumerate(input.shape) if s == 1]
    else:
        dims = dim if isinstance(dim, (list, tuple)) else [dim]
        axes = [d % max(input.rank, 1) for d in dims if input.rank and input.shape[d] == 1]
    return g.squeeze(input, axes) if axes else input


@symbolic("expand")
def expand(g, input, *sizes, **kw):
    sizes = _shape_arg(sizes or (kw["size"],))
    if isinstance(sizes, Value):
        return g.op("Expand", input, sizes)
    # -1 keeps a dim; ONNX's Expand broadcasts, so 1 does the same
    return g.op("Expand", input, g.int_list([1 if (isinstance(s, int) and s == -1) else s for s in sizes]))


@symbolic("expand_as")
def expand_as(g, input, other):
    return g.op("Expand", input, g.shape(other))


@symbolic("repeat")
def repeat(g, input, *sizes, **kw):
    sizes = _shape_arg(sizes or (kw["repeats"],))
    x = input
    if len(sizes) > input.rank:
        x = g.unsqueeze(x, range(len(sizes) - input.rank))
    return g.op("Tile", x, g.int_list(sizes))


@symbolic("cat", "concat", "concatenate")
def cat(g, tensors, dim=0, **_):
    dt = out_dtype(g)
    tensors = [g.cast(x, dt) for x in tensors if not (x.shape is not None and x.shape == (0,))]
    return tensors[0] if len(tensors) == 1 else g.op("Concat", *tensors, axis=dim)


@symbolic("stack")
def stack(g, tensors, dim=0, **_):
    dt = out_dtype(g)
    axis = dim % (tensors[0].rank + 1)
    return g.op("Concat", *[g.unsqueeze(g.cast(x, dt), [axis]) for x in tensors], axis=axis)


def _split(g, x, sizes, dim):
    if len(sizes) == 1:
        return [x]
    return list(g.op("Split", x, g.const(np.asarray(sizes, np.int64)), outputs=len(sizes), axis=dim))


@symbolic("split")
def split(g, tensor, split_size_or_sections, dim=0):
    # the pieces' sizes are those of the example input
    return _split(g, tensor, [o.shape[dim] for o in g.out], dim)


@symbolic("chunk", "tensor_split")
def chunk(g, input, chunks, dim=0):
    return _split(g, input, [o.shape[dim] for o in g.out], dim)


@symbolic("unbind", "unstack")
def unbind(g, input, dim=0):
    d = dim % input.rank
    return [g.squeeze(p, [d]) for p in _split(g, input, [1] * input.shape[d], d)]


@symbolic("narrow")
def narrow(g, input, dim, start, length):
    end = start + length if not (_values(start) or _values(length)) else g.op("Add", start, length)
    return g.op("Slice", input, g.int_list([start]), g.int_list([end]), g.int_list([dim % input.rank]))


@symbolic("select")
def select(g, input, dim, index):
    return g.op("Gather", input, g.cast(index, _dtype.int64), axis=dim % input.rank)


@symbolic("size")
def size(g, input, dim=None):
    if dim is not None:
        return g.dim(input, dim)
    return tuple(g.dim(input, i) for i in range(input.rank))


@symbolic("numel")
def numel(g, input):
    return g.op("ReduceProd", g.shape(input), keepdims=0)


@symbolic("getattr")
def getattr_(g, obj, name):
    if not isinstance(obj, Value):                   # a named tuple of Values: ``.values``, ``.indices``
        return getattr(obj, name)
    if name == "shape":
        return size(g, obj)
    if name == "T":
        return g.op("Transpose", obj, perm=list(range(obj.rank))[::-1])
    if name == "mT":
        return transpose(g, obj, -2, -1)
    if name in ("data", "real"):
        return obj
    raise SymbolicValueError(f"ONNX export: attribute '{name}' of a traced tensor is not supported", obj)


# ---------------------------------------------------------------------------------------- indexing
@symbolic("getitem")
def getitem(g, input, index):
    if not isinstance(input, Value):                 # a Python sequence of Values: ordinary indexing
        if isinstance(index, Value):
            raise SymbolicValueError("ONNX export: indexing a sequence with a traced value", index)
        return input[index]
    index = index if isinstance(index, tuple) else (index,)
    n_real = sum(1 for i in index if i is not None and i is not Ellipsis
                 and not (isinstance(i, Value) and i.dtype == _dtype.bool))
    if any(isinstance(i, Value) and i.dtype == _dtype.bool for i in index):
        raise UnsupportedOperatorError("aten::index (boolean mask)", g.opset, None)
    if sum(1 for i in index if isinstance(i, list) or (isinstance(i, Value) and i.rank)) > 1:
        # PyTorch broadcasts several index tensors together; one Gather per axis would take their product
        raise UnsupportedOperatorError("aten::index (several tensor indices)", g.opset, None)
    items, axis = [], 0
    for i in index:
        if i is Ellipsis:
            items.append(("ellipsis", axis, input.rank - n_real))
            axis += input.rank - n_real
        elif i is None:
            items.append(("none", None, None))
        else:
            items.append(("slice" if isinstance(i, slice) else "index", axis, i))
            axis += 1
    starts, ends, axes, steps = [], [], [], []
    for kind, ax, i in items:
        if kind == "slice" and i != slice(None):
            step = 1 if i.step is None else i.step
            starts.append(0 if i.start is None else i.start)
            ends.append(INT64_MAX if i.stop is None else i.stop)
            axes.append(ax)
            steps.append(step)
    x = input
    if axes:
        x = g.op("Slice", x, g.int_list(starts), g.int_list(ends), g.int_list(axes), g.int_list(steps))
    # integer and tensor indices, from the last axis back so that earlier axes keep their numbers
    for kind, ax, i in reversed([it for it in items if it[0] == "index"]):
        idx = g.cast(i, _dtype.int64) if isinstance(i, Value) else g.const(np.asarray(i, np.int64))
        x = g.op("Gather", x, idx, axis=ax)
    out_pos, new_axes = 0, []
    for kind, ax, i in items:
        if kind == "none":
            new_axes.append(out_pos)
            out_pos += 1
        elif kind == "slice":
            out_pos += 1
        elif kind == "ellipsis":
            out_pos += i
        else:
            out_pos += i.rank if isinstance(i, Value) else np.ndim(i)
    return g.unsqueeze(x, new_axes) if new_axes else x


# ---------------------------------------------------------------------------------------- creation
def _fill(g, shape, value):
    dt = out_dtype(g)
    npd = np.float32 if dt == _dtype.bfloat16 else None
    arr = np.asarray([value], dtype=npd or np_dtype(dt)[0])
    v = g.op("ConstantOfShape", shape, value=arr)
    return g.cast(Value(v.name, _dtype.float32 if npd else dt), dt) if npd else v


@symbolic("zeros", "ones")
def zeros(g, *size, **kw):
    return _fill(g, g.int_list(_shape_arg(size or (kw["size"],))), float(g.out.reshape(-1)[0].item())
                 if g.out.numel() else 0)


@symbolic("full")
def full(g, size, fill_value, **_):
    return _fill(g, g.int_list(_shape_arg((size,))), fill_value)


@symbolic("new_zeros", "new_ones", "new_full", "new_empty")
def new_full(g, input, *size, fill_value=None, **kw):
    if fill_value is None and len(size) == 2 and not isinstance(size[1], (list, tuple)) and \
            isinstance(size[0], (list, tuple)):
        size, fill_value = (size[0],), size[1]
    value = fill_value if fill_value is not None else (float(g.out.reshape(-1)[0].item()) if g.out.numel() else 0)
    return _fill(g, g.int_list(_shape_arg(size or (kw["size"],))), value)


@symbolic("zeros_like", "ones_like", "full_like", "empty_like")
def full_like(g, input, fill_value=None, **_):
    value = fill_value if fill_value is not None else (float(g.out.reshape(-1)[0].item()) if g.out.numel() else 0)
    return _fill(g, g.shape(input), value)


@symbolic("arange")
def arange(g, start, end=None, step=1, **_):
    if end is None:
        start, end = 0, start
    dt = out_dtype(g)
    return g.op("Range", *(g.cast(v, dt) for v in (start, end, step)))


def _trilu(upper):
    def fn(g, input, diagonal=0, **_):
        if g.opset < 14:
            raise UnsupportedOperatorError("aten::triu" if upper else "aten::tril", g.opset, 14)
        return g.op("Trilu", input, g.const(np.asarray(diagonal, np.int64)), upper=int(upper))
    return fn


symbolic("triu")(_trilu(True))
symbolic("tril")(_trilu(False))


@symbolic("index_select")
def index_select(g, input, dim, index, **_):
    return g.op("Gather", input, g.cast(index, _dtype.int64), axis=dim % input.rank)


@symbolic("gather")
def gather(g, input, dim, index, **_):
    return g.op("GatherElements", input, g.cast(index, _dtype.int64), axis=dim % input.rank)


@symbolic("topk")
def topk(g, input, k, dim=-1, largest=True, sorted=True, **_):
    return g.op("TopK", input, g.int_list([k]), outputs=2, axis=dim % input.rank, largest=int(bool(largest)),
                sorted=int(bool(sorted)))


@symbolic("one_hot")
def one_hot(g, tensor, num_classes=-1):
    depth = g.out.shape[-1] if num_classes == -1 else num_classes
    return g.op("OneHot", tensor, g.const(np.asarray(depth, np.int64)), g.const(np.asarray([0, 1], np.int64)),
                axis=-1)


@symbolic("flip")
def flip(g, input, *args, dims=None):
    dims = dims if dims is not None else (args[0] if len(args) == 1 and isinstance(args[0], (list, tuple))
                                          else list(args))
    dims = [d % input.rank for d in (dims if isinstance(dims, (list, tuple)) else [dims])]
    n = len(dims)
    return g.op("Slice", input, g.int_list([-1] * n), g.int_list([-INT64_MAX] * n), g.int_list(dims),
                g.int_list([-1] * n))


@symbolic("outer", "ger")
def outer(g, input, vec2, **_):
    dt = out_dtype(g)
    return g.op("Mul", g.unsqueeze(g.cast(input, dt), [1]), g.unsqueeze(g.cast(vec2, dt), [0]))


@symbolic("repeat_interleave")
def repeat_interleave(g, input, repeats=None, dim=None, *, output_size=None):
    if not isinstance(repeats, int):
        raise UnsupportedOperatorError("aten::repeat_interleave (tensor repeats)", g.opset, None)
    x = input if dim is not None else g.op("Reshape", input, g.int_list([-1]))
    d = 0 if dim is None else dim % x.rank if x.rank else 0
    rank = input.rank if dim is not None else 1
    y = g.unsqueeze(x, [d + 1])                                         # (..., n, 1, ...)
    y = g.op("Tile", y, g.int_list([1] * (d + 1) + [repeats] + [1] * (rank - d - 1)))
    # merge the repeated axis into dim d: copy the dims before it, -1 for it, the input's dims after it
    shape = g.op("Concat", g.int_list([0] * d + [-1]), g.shape(x, d + 1), axis=0) if d + 1 < rank \
        else g.int_list([0] * d + [-1])
    return g.op("Reshape", y, shape)


@symbolic("sort")
def sort(g, input, dim=-1, descending=False, stable=False, **_):
    # TopK over the whole axis; ONNX breaks ties by the lower index, as a stable sort does
    d = dim % input.rank
    return g.op("TopK", input, g.int_list([g.dim(input, d)]), outputs=2, axis=d, largest=int(bool(descending)),
                sorted=1)


@symbolic("argsort")
def argsort(g, input, dim=-1, descending=False, stable=False):
    return sort(g, input, dim, descending)[1]
