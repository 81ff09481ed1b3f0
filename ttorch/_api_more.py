"""Top-level functions PyTorch exports beside its ops: the in-place function forms (``torch.relu_(x)``
is ``x.relu_()``), the ``*_copy`` forms of the view ops, ``asarray``/``frombuffer``/``from_file``, and
small composed functions (``rsub``, ``fill``, ``put``, ``poisson``, ``empty_permuted``...).

``public()`` returns them for ``ttorch/__init__.py`` (called once the Tensor methods are bound).
"""
import numpy as np

from . import _dtype as D
from ._tensor import Tensor

# ``torch.<name>(x, ...)`` is ``x.<name>(...)``
_METHODS = ("abs_ acos_ acosh_ arccos_ arccosh_ arcsin_ arcsinh_ arctan_ arctanh_ asin_ asinh_ atan_ atanh_ ceil_ "
            "clamp_ clamp_max_ clamp_min_ clip_ conj_physical_ cos_ cosh_ deg2rad_ erf_ erfc_ exp2_ exp_ expm1_ "
            "fill_ fix_ floor_ frac_ gcd_ i0_ lcm_ ldexp_ log10_ log1p_ log2_ log_ logit_ nan_to_num_ neg_ negative_ "
            "rad2deg_ reciprocal_ relu_ round_ rsqrt_ sigmoid_ sin_ sinc_ sinh_ sqrt_ square_ tan_ tanh_ trunc_ "
            "xlogy_ zero_ as_strided_ resize_as_ addmv_ detach_ detach is_inference is_distributed").split()


def _slice(input, dim=0, start=None, end=None, step=1):
    return input[(slice(None),) * (dim % max(input.dim(), 1)) + (slice(start, end, step),)]


def _sparse_part(name):
    def part(input):
        if not input.is_sparse:
            kind = "sparse coordinate tensor" if name == "indices" else "sparse tensor"
            raise RuntimeError(f"{name} expected {kind} layout but got Strided")
        return getattr(input, name)()
    return part


def _split_with_sizes(input, split_sizes, dim=0):
    return input.split(list(split_sizes), dim)


# the view each ``<name>_copy`` copies
_VIEWS = {"alias": lambda x: x, "as_strided": Tensor.as_strided, "detach": Tensor.detach,
          "diagonal": Tensor.diagonal, "expand": lambda x, size, *, implicit=False: x.expand(size),
          "indices": _sparse_part("indices"), "values": _sparse_part("values"), "narrow": Tensor.narrow,
          "permute": lambda x, dims: x.permute(dims), "select": Tensor.select, "slice": _slice,
          "split": lambda x, split_size, dim=0: x.split(split_size, dim), "split_with_sizes": _split_with_sizes,
          "squeeze": Tensor.squeeze, "t": Tensor.t, "transpose": Tensor.transpose, "unbind": Tensor.unbind,
          "unfold": Tensor.unfold, "unsqueeze": Tensor.unsqueeze, "view": Tensor.view,
          "view_as_complex": lambda x: _f("view_as_complex")(x),
          "view_as_real": lambda x: _f("view_as_real")(x)}


def _f(name):
    from . import ops
    return ops.FUNCTIONS[name]


def _copy_of(name, view):
    from .ops._op import write_out, EXACT_OUT
    EXACT_OUT[name + "_copy"] = EXACT_OUT["mm"]     # (out= of the result's dtype exactly, as PyTorch's *_copy ops)

    def copy(input, *args, out=None, **kwargs):
        r = view(input, *args, **kwargs)
        if isinstance(r, (tuple, list)):
            if out is None:
                return tuple(o.clone().contiguous() for o in r)
            for o, v in zip(out, r):    # (a list out=: written, and None returned, as PyTorch's)
                write_out(o, v, name + "_copy")
            return None
        return r.clone().contiguous() if out is None else write_out(out, r, name + "_copy")
    copy.__name__ = name + "_copy"
    copy.__doc__ = f"``{name}`` as a new contiguous tensor (no memory shared with ``input``); in the graph."
    return copy


def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad=None):
    """``obj`` (a tensor, NumPy array, DLPack or buffer object, sequence or scalar) as a tensor, sharing its
    memory where dtype and device allow and ``copy`` is not True; ``copy=False`` raises ValueError when it
    cannot share. A tensor keeps its ``requires_grad`` (a copy stays in the graph, as in PyTorch 2.13)
    unless ``requires_grad`` says otherwise."""
    from ._device import _canonical
    from .ops.creation import from_numpy, tensor
    dev = None if device is None else _canonical(device)
    if not isinstance(obj, Tensor) and hasattr(obj, "__dlpack__") and not isinstance(obj, np.ndarray):
        from ._dlpack import from_dlpack
        obj = from_dlpack(obj)
    if isinstance(obj, np.ndarray) or (hasattr(obj, "__array_interface__") and not isinstance(obj, Tensor)):
        obj = from_numpy(np.asarray(obj))
    elif not isinstance(obj, Tensor) and _is_buffer(obj):
        obj = frombuffer(obj, dtype=dtype or D.get_default_dtype())
    if isinstance(obj, Tensor):
        same = (dtype is None or dtype is obj.dtype) and (dev is None or dev == obj.device)
        if copy is False and not same:
            what = (f"dtype '{D.scalar_name(obj.dtype)}' into dtype '{D.scalar_name(dtype)}'"
                    if dtype is not None and dtype is not obj.dtype else f"device '{obj.device}' into '{dev}'")
            raise ValueError(f"can't alias tensor with {what}.")
        out = obj
        if copy or not same:
            out = obj.to(device=dev or obj.device, dtype=dtype or obj.dtype, copy=bool(copy))   # (in the graph)
        if requires_grad is not None and requires_grad != out.requires_grad:
            out = out.detach() if not requires_grad else out.requires_grad_(True)
        return out
    if copy is False:
        raise ValueError("can't alias arbitrary sequence into a tensor.")
    return tensor(obj, dtype=dtype, device=dev, requires_grad=bool(requires_grad))


def _is_buffer(obj):
    try:
        memoryview(obj)
    except TypeError:
        return False
    return True


def frombuffer(buffer, *, dtype, count=-1, offset=0, requires_grad=False):
    """A 1-D cpu tensor over the bytes of ``buffer`` (any object with the buffer protocol) from ``offset``,
    ``count`` elements (-1: all); writes go to the buffer. A read-only buffer is written all the same
    (PyTorch warns of that too)."""
    from .ops.creation import from_numpy
    try:
        mv = memoryview(buffer)
    except TypeError:
        raise ValueError("object does not implement Python buffer protocol.") from None
    n, isz = mv.nbytes, dtype.itemsize
    if n == 0 or count == 0:
        raise ValueError(f"both buffer length ({n}) and count ({count}) must not be 0")
    if offset < 0 or offset >= n:
        raise ValueError(f"offset ({offset} bytes) must be non-negative and no greater than buffer length ({n} bytes) "
                         "minus 1")
    if count < 0:
        if (n - offset) % isz:
            raise ValueError(f"buffer length ({n - offset} bytes) after offset ({offset} bytes) must be a multiple "
                             f"of element size ({isz})")
        count = (n - offset) // isz
    elif offset + count * isz > n:
        raise ValueError(f"requested buffer length ({count} * {isz} bytes) after offset ({offset} bytes) must not "
                         f"be greater than actual buffer length ({n} bytes)")
    a = np.frombuffer(mv.cast("B"), dtype=np.uint8, count=count * isz, offset=offset)
    if not a.flags.writeable:
        a = np.frombuffer(_writable(mv), dtype=np.uint8, count=count * isz, offset=offset)
    t = from_numpy(a.view(dtype.np))
    return t.requires_grad_(True) if requires_grad else t


def _writable(mv):
    """A writable NumPy view of a read-only buffer (PyTorch shares such buffers writable too)."""
    import ctypes
    ptr = np.frombuffer(mv.cast("B"), dtype=np.uint8).__array_interface__["data"][0]
    return (ctypes.c_uint8 * mv.nbytes).from_address(ptr)


def from_file(filename, shared=None, size=0, *, dtype=None, layout=None, device=None, pin_memory=False):
    """A 1-D tensor of ``size`` elements of ``dtype`` read from the start of ``filename``; with ``shared``
    the tensor maps the file and writes reach it, else it is a private copy."""
    import os
    dtype = dtype or D.get_default_dtype()
    try:
        have = os.path.getsize(filename)
    except OSError as e:
        raise RuntimeError(f"unable to open file <{filename}> in read-only mode: {e.strerror} ({e.errno})") from None
    need = size * dtype.itemsize
    if have < need:
        raise RuntimeError(f"file <{filename}> size <{have}> is smaller than the required mapping size <{need}>")
    if size == 0:
        a = np.empty(0, dtype.np)
    elif shared:
        a = np.asarray(np.memmap(filename, dtype=dtype.np, mode="r+", shape=(size,)))
    else:
        a = np.fromfile(filename, dtype=dtype.np, count=size)
    t = Tensor._wrap_np(a, dtype)
    return t if device is None else t.to(device)


def rsub(input, other, *, alpha=1):
    """``other - alpha * input``."""
    return _f("sub")(other, input, alpha=alpha)


def fill(input, value):
    """A new tensor of ``input``'s shape, dtype and device filled with ``value`` (a number or 0-d tensor)."""
    if isinstance(value, Tensor):
        if value.dim() != 0:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with {value.dim()} "
                               "dimensions.")
        return value.to(device=input.device, dtype=input.dtype).expand(input.shape).clone()
    return _f("full_like")(input, value)


def put(input, index, source, accumulate=False):
    return input.put(index, source, accumulate)


def _with_generator(generator, device, fn):
    """``fn()`` drawing from ``generator`` instead of ``device``'s default one (states swapped)."""
    if generator is None:
        return fn()
    from ._random import generator_for
    default = generator_for(device)
    saved = default.get_state()
    default.set_state(generator.get_state())
    try:
        return fn()
    finally:
        generator.set_state(default.get_state())
        default.set_state(saved)


def poisson(input, generator=None):
    """Samples of Poisson(``input``), elementwise, of ``input``'s float dtype; no gradient."""
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f'"poisson_cpu" not implemented for \'{D.scalar_name(input.dtype)}\'')
    from .distributions.samplers import poisson as _p
    return _with_generator(generator, input.device, lambda: _p(input))


def binomial(count, prob, generator=None):
    """Samples of Binomial(``count``, ``prob``), elementwise; no gradient."""
    if not count.dtype.is_floating_point:
        raise ValueError(f"binomial only supports floating-point dtypes for count, got: {D.scalar_name(count.dtype)}")
    from .distributions.samplers import binomial as _b
    return _with_generator(generator, count.device, lambda: _b(count, prob))


def empty_permuted(size, physical_layout, *, dtype=None, layout=None, device=None, requires_grad=False,
                   pin_memory=False):
    """An uninitialized tensor of shape ``size`` whose dims lie in memory in the order ``physical_layout``
    (outermost first): ``empty_permuted((2, 3, 5, 7), (0, 2, 3, 1))`` is channels-last."""
    from .ops.creation import empty_strided
    size, order = tuple(size), tuple(physical_layout)
    if len(size) != len(order):
        raise RuntimeError(f"Number of dimensions in size does not match the length of the physical_layout; i.e. "
                           f"len(size) = {len(size)} is not equal to len(physical_layout) = {len(order)}")
    if sorted(order) != list(range(len(size))):
        raise RuntimeError("Duplicate dim not allowed")
    stride, acc = [0] * len(size), 1
    for d in reversed(order):
        stride[d] = acc
        acc *= max(size[d], 1)
    return empty_strided(size, stride, dtype=dtype, device=device, requires_grad=requires_grad)


def native_norm(input, p=2, dim=None, keepdim=False, dtype=None):
    """The ``p``-norm of ``input`` (over ``dim``, default all elements). PyTorch runs this op for sparse
    tensors only; ttorch computes it for dense ones too (``linalg.vector_norm``)."""
    from .linalg import vector_norm
    return vector_norm(input, 2 if p is None else p, dim, keepdim, dtype=dtype)


def frobenius_norm(input, dim, keepdim=False):
    """``linalg.vector_norm(input, 2, dim, keepdim)`` over at most two dims (deprecated in PyTorch)."""
    import warnings
    from .linalg import vector_norm
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    if len(dims) > 2:
        raise RuntimeError(f"Expected at most 2 dimensions, but got {len(dims)} dimensions instead.")
    warnings.warn("at::frobenius_norm is deprecated and it is just left for JIT compatibility. It will be removed in "
                  "a future PyTorch release. Please use `linalg.vector_norm(A, 2., dim, keepdim)` instead")
    return vector_norm(input, 2, dims, keepdim)


def nuclear_norm(input, dim=None, keepdim=False):
    """The sum of singular values over the matrix dims ``dim`` (default the last two);
    ``nuclear_norm(input, keepdim)`` is also accepted, as PyTorch's overload (deprecated there)."""
    import warnings
    from .linalg import matrix_norm
    if isinstance(dim, bool):
        dim, keepdim = None, dim
    dim = (-2, -1) if dim is None else dim
    warnings.warn("at::nuclear_norm is deprecated and it is just left for JIT compatibility. It will be removed in a "
                  "future PyTorch release. Please use `linalg.matrix_norm(A, 'nuc', dim, keepdim)` instead")
    return matrix_norm(input, "nuc", tuple(dim), keepdim)


_warn_always = [False]


def set_warn_always(b):
    """Ask for warnings that fire once per process to fire every time (kept for PyTorch's API: ttorch's
    warnings go through Python's ``warnings`` module, whose filters decide)."""
    _warn_always[0] = bool(b)


def is_warn_always_enabled():
    return _warn_always[0]


def set_flush_denormal(mode):
    """Returns False: ttorch's cpu math runs in NumPy, which cannot switch the FPU to flush subnormal
    floats to zero (PyTorch returns False on CPUs without that mode too)."""
    return False


def hash_tensor(input, dim=None, *, keepdim=False, mode=0, out=None):
    """The xor of the elements' 64 bits over ``dim`` (all dims when None), as uint64: floats widened to float64
    and integers/bools to int64 first, then read as bits (PyTorch's only hash, ``mode=0``).

    Example::

        >>> import ttorch
        >>> ttorch.hash_tensor(ttorch.tensor([1, 2, 3])).item()
        0
    """
    if mode != 0:
        raise RuntimeError(f"hash_tensor only supports mode=0 (xor_sum), got mode={mode}")
    wide = input.double() if input.dtype.is_floating_point else input.long()
    bits = wide.view(D.int64) if wide.dtype is D.float64 else wide
    nd = bits.ndim
    dims = list(range(nd)) if dim is None else [d % max(nd, 1) for d in ([dim] if isinstance(dim, int) else dim)]
    keep = [d for d in range(nd) if d not in dims]
    x = bits.permute(*keep, *dims).reshape([bits.shape[d] for d in keep] + [-1]) if nd else bits.reshape(1)
    while x.shape[-1] > 1:      # a tree of xors: log2(n) launches, 0 (xor's identity) padding an odd count
        n = x.shape[-1]
        if n % 2:
            x = _cat([x, x.new_zeros(x.shape[:-1] + (1,))], -1)
        x = x[..., : (n + 1) // 2] ^ x[..., (n + 1) // 2:]
    r = x.sum(-1) if x.shape[-1] == 0 else x[..., 0]      # (an empty reduction: 0)
    if keepdim and nd:
        for d in sorted(dims):
            r = r.unsqueeze(d)
    if out is not None:
        from .ops._op import write_out
        return write_out(out, r.view(D.uint64), "hash_tensor")
    return r.view(D.uint64)


Tensor.hash_tensor = hash_tensor


def _cat(tensors, dim):
    from .ops.movement import cat
    return cat(tensors, dim)


def public():
    """The names above, for the ``ttorch`` namespace."""
    out = {n: getattr(Tensor, n) for n in _METHODS}
    out.update({n + "_copy": _copy_of(n, v) for n, v in _VIEWS.items()})
    out.update({n: globals()[n] for n in (
        "asarray", "frombuffer", "from_file", "rsub", "native_norm", "frobenius_norm", "nuclear_norm", "fill", "put",
        "poisson", "binomial", "empty_permuted", "hash_tensor",
        "set_warn_always", "is_warn_always_enabled", "set_flush_denormal")})
    from .func import vmap
    out["vmap"] = vmap
    return out
