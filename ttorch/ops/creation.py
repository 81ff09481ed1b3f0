"""Making tensors: from data, filled, ranges. Random creation lives in ``random.py``."""
import builtins
import math

import numpy as np

from .. import _dtype as D, _deterministic as _det
from .._device import CPU, _canonical
from .._layout import strided
from .._tensor import Tensor
from . import _plan, elementwise as _ew
from .elementwise import ew_launch, _identity, scalar_operand


def _size(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    out = []
    for s in size:
        if isinstance(s, Tensor):
            s = int(s.item())
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool):
            raise TypeError(f"empty(): argument 'size' must be tuple of ints, but found element of type "
                            f"{type(s).__name__}")
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {list(size)}")
        out.append(int(s))
    return tuple(out)


def _finish(t, requires_grad):
    if requires_grad:
        t.requires_grad_(True)
    return t


def _infer_dtype(data):
    """PyTorch's dtype for nested Python data: bool < int64 < default float."""
    kind = -1
    stack = [data]
    while stack:
        x = stack.pop()
        if isinstance(x, (list, tuple)):
            stack.extend(x)
        elif isinstance(x, Tensor):
            return None
        elif isinstance(x, (bool, np.bool_)):
            kind = max(kind, 0)
        elif isinstance(x, (int, np.integer)):
            kind = max(kind, 1)
        elif isinstance(x, (float, np.floating)):
            kind = max(kind, 2)
        elif isinstance(x, (complex, np.complexfloating)):
            kind = max(kind, 3)
        else:
            raise TypeError(f"Could not infer dtype of {type(x).__name__}")
    return D._kind_default(kind) if kind >= 0 else D.get_default_dtype()


def _from_host(a, dtype, device):
    device = _canonical(device)
    if dtype is not None and a.dtype != dtype.np:
        if dtype in D.float8_dtypes:     # PyTorch's saturation and NaN rules
            from .float8 import np_cast
            a = np_cast(a, dtype)
        else:
            a = a.astype(dtype.np)
    if device.type == "cpu":
        return Tensor._wrap_np(np.array(a, copy=True), dtype)
    from .movement import _upload
    return _upload(a, device)


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new tensor copying ``data`` (nested lists, scalars, NumPy arrays, tensors)."""
    if isinstance(data, Tensor):
        t = data.detach().clone()
        return _finish(t.to(device=device if device is not None else t.device, dtype=dtype or t.dtype), requires_grad)
    if isinstance(data, np.ndarray):
        a = data
        if dtype is None:
            D.from_numpy_dtype(a.dtype)
    else:
        inferred = _infer_dtype(data)
        if inferred is None:  # a list of tensors
            a = np.array([x.tolist() if isinstance(x, Tensor) else x for x in data])
        else:
            a = np.array(data, dtype=(dtype or inferred).np if (dtype or inferred) is not D.bfloat16
                         and (dtype or inferred) not in D.float8_dtypes else np.float32)
            dtype = dtype or inferred
    return _finish(_from_host(a, dtype, device), requires_grad)


def as_tensor(data, dtype=None, device=None):
    """Like ``tensor`` but shares memory with a NumPy array or tensor when it can."""
    if isinstance(data, Tensor):
        return data.to(device=device or data.device, dtype=dtype or data.dtype)
    if isinstance(data, np.ndarray) and _canonical(device).type == "cpu" and \
            (dtype is None or dtype.np == data.dtype):
        return from_numpy(data)
    return tensor(data, dtype=dtype, device=device)


def from_numpy(ndarray):
    """A cpu tensor sharing memory with ``ndarray``: writes through either are seen by both."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    dt = D.from_numpy_dtype(ndarray.dtype)
    isz = ndarray.itemsize
    if any(s < 0 for s in ndarray.strides):
        raise ValueError("At least one stride in the given numpy array is negative, and tensors with negative "
                         "strides are not currently supported. (You can probably work around this by making a "
                         "copy of your array  with array.copy().) ")
    if any(s % isz for s in ndarray.strides):
        raise ValueError("given numpy array strides not a multiple of the element byte size. Copy the numpy array "
                         "to reallocate the memory.")
    if ndarray.flags.c_contiguous:
        return Tensor._wrap_np(ndarray, dt)
    from .._storage import UntypedStorage
    extent = 1 + builtins.sum((n - 1) * s for n, s in zip(ndarray.shape, ndarray.strides)) // isz \
        if ndarray.size else 0
    # the elements from the first (lowest address, strides being >= 0) to the last, as bytes
    flat = np.lib.stride_tricks.as_strided(ndarray, shape=(extent,), strides=(isz,)).view(np.uint8) if extent \
        else np.empty(0, np.uint8)
    st = UntypedStorage(CPU, array=flat)
    return Tensor._make(st, ndarray.shape, tuple(s // isz for s in ndarray.strides), 0, dt)


def empty(*size, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False, memory_format=None,
          out=None):
    if layout is not None and layout is not strided:    # a sparse layout: no entries, as PyTorch's nnz 0
        return zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad, layout=layout)
    if memory_format is not None and memory_format.name.startswith("channels_last"):    # (ttorch/_memory_format.py)
        from .._memory_format import _ORDER
        shape, order = _size(size), _ORDER[memory_format]
        if len(shape) != len(order):
            raise RuntimeError(f"required rank {len(order)} tensor to use {memory_format.name} format")
        stride, n = [0] * len(shape), 1
        for d in reversed(order):       # (fastest dim first: C, then W, H, ..., N)
            stride[d], n = n, n * max(shape[d], 1)
        return empty_strided(shape, stride, dtype=dtype, device=device, requires_grad=requires_grad)
    if out is not None:     # (resized to size, its values kept where they fit, as PyTorch's empty(out=))
        _out_dtype(dtype, out)
        return _into(out, out.resize_(_size(size)), requires_grad)
    dtype = dtype or D.get_default_dtype()
    t = Tensor._empty(_size(size), dtype, _canonical(device))
    if _det.FILL:       # deterministic mode: NaN / the max integer, never what the memory held
        _det.fill_uninitialized(t)
    return _finish(t, requires_grad)


def empty_strided(size, stride, *, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False):
    """A tensor of ``size`` with strides ``stride`` over new memory (``1 + sum((n - 1) * s)``
    elements), uninitialized; in deterministic mode filled as ``empty`` is (``utils.deterministic``).

    Example::

        >>> ttorch.empty_strided((2, 3), (1, 2)).stride()
        (1, 2)
    """
    size, stride = _size((tuple(size),)), tuple(int(s) for s in stride)
    if len(size) != len(stride):
        raise RuntimeError(f"dimensionality of sizes ({len(size)}) must match dimensionality of strides "
                           f"({len(stride)})")
    if any(s < 0 for s in stride):
        raise RuntimeError(f"Storage size calculation overflowed with sizes={list(size)} and strides={list(stride)}")
    extent = 0 if 0 in size else 1 + sum((n - 1) * s for n, s in zip(size, stride))
    buf = Tensor._empty((extent,), dtype or D.get_default_dtype(), _canonical(device))
    if _det.FILL:
        _det.fill_uninitialized(buf)
    return _finish(buf._view(size, stride, 0), requires_grad)


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False, layout=None, out=None, pin_memory=False):
    if out is not None:
        dtype, device = _out_dtype(dtype, out), out.device
        return _into(out, full(size, fill_value, dtype=dtype, device=device), requires_grad, "full")
    if dtype is None:
        dtype = D.result_type_of([], [], [fill_value]) if not isinstance(fill_value, Tensor) else fill_value.dtype
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    t = _filled(_size((size,) if isinstance(size, int) else (tuple(size),)), dtype, _canonical(device), fill_value)
    return _finish(t, requires_grad)


_FILLS = {}         # cuda: (shape, dtype, device, value, its type, -0.0) -> the fill's elementwise.Plan
_plan.OTHERS.append(_FILLS)


def _filled(shape, dtype, device, value, into=None):
    """A new ``shape`` tensor of ``value``, or ``into`` (a contiguous, aligned cuda tensor of that shape
    and dtype) filled. On cuda the fill's launch is planned per key as a unary op's is
    (``elementwise.Plan``): ``zeros``, ``ones`` and ``full`` in a training loop (an RNN's zero state;
    autograd's root gradient, ``ones_like(loss)``) and ``zero_()``, ``fill_()`` (gradients zeroed in
    place) skip the fill's own layers (scalar conversion, ``ew_launch``, the fast path's key). The
    value is baked into the plan."""
    if device.type == "cuda":
        # (-0.0 == 0.0, and the two hash alike: the sign of a zero is part of the key)
        key = (shape, dtype, device, value, type(value), value == 0 and math.copysign(1.0, value) < 0)
        plan = _plan.find(_FILLS, key)
        if plan is _plan.SEEN:
            t, plan = _ew.make_plan(lambda: fill_(Tensor._empty(shape, dtype, device) if into is None else into,
                                                  value), (), (None, None, None), {}, fresh=into is None)
            _FILLS[key] = plan or _plan.NO_PLAN
            return t
        if plan is not None:
            t = _ew.run_plan(plan, _ew._Unrecorded, (), device, into)
            if t is not None:
                return t
    return fill_(Tensor._empty(shape, dtype, device) if into is None else into, value)


def fill_(t, value):
    """Fill ``t`` with a scalar in place (no autograd; see ``Tensor.fill_`` for the recorded form)."""
    if isinstance(value, Tensor):
        value = value.item()
    if t.dtype._limited and t.dtype in D.float8_dtypes:     # PyTorch's check and rounding; kernels take bytes
        from .float8 import copy_float8, check_fill
        check_fill(value, t.dtype)
        return copy_float8(t, value)
    if t.device.type == "cpu":
        t._np[...] = value if t.dtype.is_complex or not isinstance(value, complex) else value.real
    elif t.dtype.is_complex:
        from .complex import fill_complex
        fill_complex(t, value)
    else:
        compute = t.dtype if t.dtype is not D.bool else D.int8
        if compute.is_floating_point:
            compute = D.float64 if t.dtype is D.float64 else D.float32
            # a float64 value fp32 can't hold travels as a 0-dim tensor, not an fp32 argument
            value = scalar_operand(float(value), compute, t.device)
        else:
            value = int(value)
        ew_launch(_identity, t, [value], compute)
    return t


def zeros(*size, dtype=None, device=None, requires_grad=False, layout=None, out=None, pin_memory=False):
    if out is not None:
        return _into(out, zeros(*size, dtype=_out_dtype(dtype, out), device=out.device), requires_grad, "zeros")
    if layout is not None and layout is not strided:    # sparse COO: no entries (sparse/_construct.py)
        from ..sparse._construct import sparse_zeros
        return sparse_zeros(_size(size), dtype, device, layout, requires_grad)
    dtype = dtype or D.get_default_dtype()
    device = _canonical(device)
    if dtype._limited and dtype in D.float8_dtypes:     # zero bytes (e8m0's are 2^-127, as PyTorch's)
        return _finish(zeros(*size, dtype=D.uint8, device=device).view(dtype), requires_grad)
    if device.type == "cpu":
        t = Tensor._empty(_size(size), dtype, device)
        t._np.fill(0)
    else:
        t = _filled(_size(size), dtype, device, 0)
    return _finish(t, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False, layout=None, out=None, pin_memory=False):
    if out is not None:
        return _into(out, ones(*size, dtype=_out_dtype(dtype, out), device=out.device), requires_grad, "ones")
    return _finish(full(_size(size), 1, dtype=dtype or D.get_default_dtype(), device=device), requires_grad)


def _like(fn, input, dtype, device, requires_grad, *args):
    if input.is_nested:     # ttorch/nested: its structure over new values
        return input._fresh(_like(fn, input._values, dtype, device, requires_grad, *args))
    if type(input) is not Tensor and hasattr(input, "_local_tensor"):     # a DTensor: its layout over new values
        return input._fresh(_like(fn, input._local_tensor, dtype, device, requires_grad, *args))
    return fn(input._shape, *args, dtype=dtype or input.dtype, device=device or input.device,
              requires_grad=requires_grad)


def empty_like(input, *, dtype=None, device=None, requires_grad=False, layout=None, memory_format=None):
    return _like(lambda s, **k: empty(s, **k), input, dtype, device, requires_grad)


def zeros_like(input, *, dtype=None, device=None, requires_grad=False, layout=None, memory_format=None):
    lay = layout or (None if input.is_nested else input.layout)     # (nested: zeros of its values)
    return _like(lambda s, **k: zeros(s, layout=lay, **k), input, dtype, device, requires_grad)


def ones_like(input, *, dtype=None, device=None, requires_grad=False, layout=None, memory_format=None):
    return _like(lambda s, **k: ones(s, **k), input, dtype, device, requires_grad)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False, layout=None, memory_format=None):
    return _like(lambda s, v, **k: full(s, v, **k), input, dtype, device, requires_grad, fill_value)


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False, layout=None, out=None):
    """Values from ``start`` to ``end`` (exclusive) by ``step``; int64 for integer arguments (with ``out=``:
    ``out``'s dtype)."""
    if out is not None:
        r = arange(start, end, step, dtype=_out_dtype(dtype, out), device=out.device)
        return _into(out, r, requires_grad, "arange")
    if end is None:
        start, end = 0, start
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    start, end, step = vals
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if any(isinstance(v, complex) for v in vals):     # (PyTorch's errors: no complex ranges)
        raise RuntimeError("value cannot be converted to type double without overflow")
    if dtype is not None and dtype._limited:     # complex, float8, uint16/32/64: no ranges in PyTorch
        dev = "cuda" if device is not None and "cuda" in str(device) else "cpu"
        raise NotImplementedError(f"\"arange_{dev}\" not implemented for '{D.scalar_name(dtype)}'")
    if dtype is None:
        dtype = D.result_type_of([], [], vals)
    n = builtins.max(0, math.ceil((end - start) / step))
    a = start + np.arange(n, dtype=np.float64 if dtype.is_floating_point else np.int64) * step
    return _finish(_from_host(a, dtype, device), requires_grad)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False, layout=None, out=None):
    if out is not None:
        r = linspace(start, end, steps, dtype=_out_dtype(dtype, out), device=out.device)
        return _into(out, r, requires_grad, "linspace")
    if isinstance(start, complex) or isinstance(end, complex) or dtype is not None and dtype.is_complex:
        a = np.linspace(complex(start), complex(end), int(steps))     # (complex ends: the default complex dtype)
        return _finish(_from_host(a, dtype or D.get_default_dtype().to_complex(), device), requires_grad)
    a = np.linspace(float(start), float(end), int(steps))
    return _finish(_from_host(a, dtype or D.get_default_dtype(), device), requires_grad)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False, layout=None, out=None):
    if out is not None:
        return _into(out, eye(n, m, dtype=_out_dtype(dtype, out), device=out.device), requires_grad, "eye")
    a = np.eye(n, n if m is None else m)
    return _finish(_from_host(a, dtype or D.get_default_dtype(), device), requires_grad)

def _out_dtype(dtype, out):
    """A factory's dtype with ``out=``: ``out``'s; another one given explicitly is PyTorch's error."""
    if dtype is not None and dtype is not out.dtype:
        raise RuntimeError(f"dtype {D.scalar_name(dtype)} does not match dtype of out parameter "
                           f"({D.scalar_name(out.dtype)})")
    return out.dtype


def _into(out, r, requires_grad, name=None):
    """``out`` (resized) holding the factory's result ``r``; ``requires_grad`` sets its flag, as PyTorch's."""
    if name is not None:
        from ._op import write_out
        write_out(out, r, name)
    if requires_grad:
        out.requires_grad_(True)
    return out


__all__ = ["tensor", "as_tensor", "from_numpy", "empty", "empty_strided", "full", "zeros", "ones", "empty_like",
           "zeros_like", "ones_like", "full_like", "arange", "linspace", "eye"]
METHODS = {}


# ----------------------------------------------------------------------------- tril, triu
import triton  # noqa: E402
import triton.language as tl  # noqa: E402

from ._launch import launch as _launch, cdiv as _cdiv, next_pow2 as _next_pow2, SIMULATED as _SIMULATED  # noqa: E402
from ._op import Op as _Op, write_out as _write_out  # noqa: E402


@triton.jit
def _tri_kernel(out_ptr, x_ptr, M, N, diag, sxb, sxm, sxn, UPPER: tl.constexpr, BLOCK_M: tl.constexpr,
                BLOCK_N: tl.constexpr):
    # one (BLOCK_M, BLOCK_N) tile of matrix b; the batch rides on grid axis 0 (no 65535 limit)
    b = tl.program_id(0).to(tl.int64)
    rm = (tl.program_id(1) * BLOCK_M + tl.arange(0, BLOCK_M))[:, None]
    rn = (tl.program_id(2) * BLOCK_N + tl.arange(0, BLOCK_N))[None, :]
    inside = (rm < M) & (rn < N)
    if UPPER:
        keep = rn - rm >= diag
    else:
        keep = rn - rm <= diag
    x = tl.load(x_ptr + b * sxb + rm.to(tl.int64) * sxm + rn * sxn, mask=inside & keep, other=0)
    tl.store(out_ptr + b * M * N + rm.to(tl.int64) * N + rn, x, mask=inside)


def _tri_cpu(a, *, diagonal, upper):
    return np.triu(a, diagonal) if upper else np.tril(a, diagonal)


def _tri_cuda(x, *, diagonal, upper):
    from ..autograd import grad_mode
    out = Tensor._empty(x._shape, x.dtype, x.device)
    if out.numel() == 0:
        return out
    m, n = x._shape[-2:]
    with grad_mode.no_grad():
        x3 = x.reshape(-1, m, n)        # a view unless the batch dims can't merge
    bm, bn = (min(_next_pow2(m), 64), min(_next_pow2(n), 64)) if _SIMULATED else (32, 64)
    diag = builtins.max(-m, builtins.min(diagonal, n))  # same result, fits int32
    _launch(_tri_kernel, (x3._shape[0], _cdiv(m, bm), _cdiv(n, bn)), out, x3, m, n, diag, *x3.stride(),
            UPPER=upper, BLOCK_M=bm, BLOCK_N=bn, num_warps=4)
    return out


def _tri_specs():
    from ._aot import KernelSpec, ptr
    specs = []
    for dt in (D.float32, D.float16, D.bfloat16, D.float64, D.int64, D.bool):
        for upper in (False, True):
            sig = {"out_ptr": ptr(dt), "x_ptr": ptr(dt), "M": "i32", "N": "i32", "diag": "i32", "sxb": "i64",
                   "sxm": "i64", "sxn": "i64"}
            specs.append(KernelSpec(_tri_kernel, sig, {"UPPER": upper, "BLOCK_M": 32, "BLOCK_N": 64},
                                    label=f"{'triu' if upper else 'tril'} {dt}"))
    return specs


def _tri_samples():
    from .samples import Sample, rng
    r = rng("tril")
    cases = [((3, 5), 0), ((5, 3), -1), ((4, 4), 2), ((2, 3, 4), 1), ((2, 1, 3, 3), -2), ((3, 3), -7), ((3, 3), 9),
             ((0, 3), 0), ((1, 1), 0), ((2, 0, 2), 1)]
    return [Sample([r.uniform(-2, 2, size=s)], {"diagonal": d}) for s, d in cases]


def _tri_op(name, upper):
    op = _Op(name, cpu=_tri_cpu, cuda=_tri_cuda, save=(), family="creation", kernels=_tri_specs,
             backward=lambda ctx, g: _tri_op_fn[name](g, ctx.diagonal), samples=_tri_samples,
             dtypes=(D.float32, D.float16, D.bfloat16, D.float64, D.int64, D.bool),
             doc=f"the {'upper' if upper else 'lower'} triangle of the last two dims; zeros elsewhere")

    def fn(input, diagonal=0, *, out=None):
        if input.ndim < 2:
            raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions")
        r = op(input, diagonal=int(diagonal), upper=upper)
        return r if out is None else _write_out(out, r, name)

    def inplace(self, diagonal=0):
        from .inplace import inplace_from
        return inplace_from(self, fn(self, diagonal), name + "_")

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"""``ttorch.{name}(input, diagonal=0)``: the {'upper' if upper else 'lower'} triangular part of the
    matrix (or batch of matrices) ``input``; the other elements are set to 0.

    Elements ``input[..., i, j]`` with ``j - i {'>=' if upper else '<='} diagonal`` are kept.

    Example::

        >>> ttorch.{name}(ttorch.ones(2, 3)).tolist()
        {[[1.0, 1.0, 1.0], [0.0, 1.0, 1.0]] if upper else [[1.0, 0.0, 0.0], [1.0, 1.0, 0.0]]}
    """
    inplace.__name__ = name + "_"
    op.public = fn
    return fn, inplace


_tri_op_fn = {}
tril, tril_ = _tri_op("tril", upper=False)
triu, triu_ = _tri_op("triu", upper=True)
_tri_op_fn.update(tril=tril, triu=triu)

__all__ += ["tril", "triu"]
METHODS.update(tril=tril, triu=triu, tril_=tril_, triu_=triu_)
