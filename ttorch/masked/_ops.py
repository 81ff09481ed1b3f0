"""``ttorch.masked``'s functional ops: reductions and normalizations that ignore masked-out elements.

Each op replaces the masked-out elements of ``input`` by the identity of its reduction (``sum`` 0,
``prod`` 1, ``amax`` -inf or the dtype's minimum, ...) with ``masked_fill`` and then runs the plain
ttorch op, so it runs on both devices and autograd passes no gradient to masked-out elements.
``mask`` broadcasts to ``input`` (it may have fewer dims, never more); ``mask=None`` keeps every
element. Where every element of a reduction is masked out, mean, var, std and median give nan,
amax -inf, sum 0, as in PyTorch.

Deliberate differences from PyTorch: a ``MaskedTensor`` input given with ``mask=None`` uses its
own mask in every op (PyTorch's ``mean``/``var``/``std`` then count its masked-out elements too);
sparse inputs are not supported (PyTorch takes sparse COO/CSR ``input`` in some of them).
"""
import builtins
import math

from .. import _dtype as D

_SMALL_INTS = (D.uint8, D.bool, D.int8, D.int16, D.int32)


def _t():
    import ttorch
    return ttorch


def _is_mt(x):
    from .maskedtensor import MaskedTensor
    return isinstance(x, MaskedTensor)


def _canonical_dim(dim, ndim):
    """``dim`` (None, an int or a sequence) as a sorted tuple of non-negative dims; () and None mean all."""
    if dim == () or dim is None:
        return tuple(range(ndim))
    ndim = builtins.max(ndim, 1)
    dims = []
    for d in ((dim,) if isinstance(dim, int) else dim):
        if d in dims:
            raise RuntimeError(f"dim={d} appears multiple times in the list of dims")
        if d >= ndim or d < -ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of [{-ndim}, {ndim - 1}], but got {d})")
        dims.append(d % ndim)
    return tuple(sorted(dims))


def _input_mask(input, *args, **kwargs):
    """``mask`` (a keyword) broadcast to ``input``'s shape, as a bool tensor."""
    mask = kwargs.get("mask")
    if mask is None:
        raise ValueError("_input_mask requires explicit mask")
    if mask.shape != input.shape:
        if mask.ndim > input.ndim:
            raise IndexError("_input_mask expected broadcastable mask (got mask dimensionality higher than of the "
                             "input)")
        mask = mask.broadcast_to(input.shape)
    return mask.to(dtype=D.bool)


def _any(mask, dims, keepdim):
    for d in reversed(dims):
        mask = mask.any(dim=d, keepdim=keepdim)
    return mask


def _output_mask(op, input, *args, **kwargs):
    """The mask of the result of masked op ``op`` (a function of this module) on these arguments."""
    name = getattr(op, "__name__", None)
    if name in ("sum", "prod", "amax", "amin", "argmax", "argmin", "mean", "median", "norm", "var", "std",
                "logsumexp"):
        if name == "norm" and args:
            args = args[1:]     # (the ord argument)
        dim = args[0] if args else kwargs.get("dim")
        return _any(_input_mask(input, **kwargs), _canonical_dim(dim, input.ndim), bool(kwargs.get("keepdim", False)))
    if name in ("softmax", "log_softmax", "softmin", "normalize", "cumsum", "cumprod"):
        return _input_mask(input, *args, **kwargs)
    raise ValueError(f"_output_mask expected masked operation (got {type(op).__name__} object)")


def _reduction_identity(op_name, input, *args):
    """The identity of reduction ``op_name`` on ``input``'s dtype, a Python number (None: undefined)."""
    dt = input.dtype
    fp = dt.is_floating_point
    if op_name in ("sum", "cumsum"):
        return 0
    if op_name in ("prod", "cumprod"):
        return 1
    if op_name in ("amax", "argmax", "logaddexp", "logsumexp"):
        if fp:
            return -math.inf
        if dt is not D.bool:
            return D.iinfo(dt).min
    elif op_name in ("amin", "argmin"):
        if fp:
            return math.inf
        if dt is not D.bool:
            return D.iinfo(dt).max
    elif op_name in ("mean", "var", "std"):
        return None
    elif op_name == "norm":
        return math.inf if (args[0] if args else 2) == -math.inf else 0
    elif op_name == "median":
        return math.nan
    raise NotImplementedError(f"identity of {op_name} on {dt} input")


def _where(mask, input, fill_value):
    """``input`` with the elements where ``mask`` is False set to ``fill_value`` (dtype kept)."""
    return input.masked_fill(mask.logical_not(), fill_value)


def _combine_input_and_mask(op, input, mask, *args):
    """``input``'s data with its masked-out elements set to ``op``'s identity (a MaskedTensor's own mask)."""
    if _is_mt(input):
        input, mask = input._masked_data, input._masked_mask
    if mask is None:
        return input
    name = op if isinstance(op, str) else op.__name__
    return _where(_input_mask(input, mask=mask), input, _reduction_identity(name, input, *args))


def _data_mask(input, mask):
    """(plain data, mask or None): a MaskedTensor's own mask when none is given."""
    if _is_mt(input):
        return input._masked_data, (input._masked_mask if mask is None else mask)
    return input, mask


def _all_dims(dim_):
    return dim_ if dim_ else None


def _int_sum_dtype(input, dtype):
    if dtype is None:
        dtype = D.int64 if input.dtype in _SMALL_INTS else input.dtype
    return dtype


def sum(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    """Sum of the elements of ``input`` where ``mask`` is True (identity 0).

    Args:
        input (Tensor): the input. dim (int or tuple of ints, optional): dims to reduce (all by default).
        keepdim (bool): keep the reduced dims as size 1. dtype: the result's dtype (integers below
        int64 and bool sum as int64). mask (Tensor, optional): True for the elements to include.

    Example::

        >>> ttorch.masked.sum(ttorch.tensor([1., 2., 3.]), mask=ttorch.tensor([True, False, True]))
        tensor(4.)
    """
    dtype = _int_sum_dtype(input, dtype)
    dim_ = _canonical_dim(dim, input.ndim)
    x = _combine_input_and_mask("sum", input, mask)
    return _t().sum(x, _all_dims(dim_), bool(keepdim), dtype=dtype)


def prod(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    """Product of the elements where ``mask`` is True (identity 1); arguments as ``sum``."""
    dtype = _int_sum_dtype(input, dtype)
    dim_ = _canonical_dim(dim, input.ndim)
    r = _combine_input_and_mask("prod", input, mask).to(dtype=dtype)
    for d in reversed(dim_):
        r = r.prod(dim=d, keepdim=bool(keepdim))
    return r


def cumsum(input, dim, *, dtype=None, mask=None):
    """Cumulative sum along ``dim`` with masked-out elements counted as 0."""
    dtype = input.dtype if dtype is None else dtype
    d = _canonical_dim(dim, input.ndim)[0]
    return _t().cumsum(_combine_input_and_mask("sum", input, mask), d, dtype=dtype).to(dtype=dtype)


def cumprod(input, dim, *, dtype=None, mask=None):
    """Cumulative product along ``dim`` with masked-out elements counted as 1."""
    dtype = input.dtype if dtype is None else dtype
    d = _canonical_dim(dim, input.ndim)[0]
    return _t().cumprod(_combine_input_and_mask("prod", input, mask), d, dtype=dtype).to(dtype=dtype)


def amax(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    """Maximum of the elements where ``mask`` is True (identity -inf, or the integer dtype's minimum)."""
    dtype = input.dtype if dtype is None else dtype
    x = _combine_input_and_mask("amax", input, mask)
    return _t().amax(x, _canonical_dim(dim, x.ndim), bool(keepdim)).to(dtype=dtype)


def amin(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    """Minimum of the elements where ``mask`` is True (identity inf, or the integer dtype's maximum)."""
    dtype = input.dtype if dtype is None else dtype
    x = _combine_input_and_mask("amin", input, mask)
    return _t().amin(x, _canonical_dim(dim, x.ndim), bool(keepdim)).to(dtype=dtype)


def argmax(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    """Index of the maximum over the elements where ``mask`` is True. As in PyTorch the result has
    ``input``'s dtype unless ``dtype`` is given (a float tensor of indices for a float input)."""
    dtype = input.dtype if dtype is None else dtype
    x = _combine_input_and_mask("argmax", input, mask)
    return _t().argmax(x, dim, bool(keepdim)).to(dtype=dtype)


def argmin(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    """Index of the minimum over the elements where ``mask`` is True (dtype as ``argmax``)."""
    dtype = input.dtype if dtype is None else dtype
    x = _combine_input_and_mask("argmin", input, mask)
    return _t().argmin(x, dim, bool(keepdim)).to(dtype=dtype)


def _count_total(input, dim, keepdim, dtype, mask):
    """(number of included elements, their sum) over ``dim``."""
    data, mask = _data_mask(input, mask)
    if mask is None:
        ones = _t().ones(data.shape, dtype=D.int64, device=data.device)
        return sum(ones, dim, keepdim=keepdim), sum(data, dim, keepdim=keepdim, dtype=dtype), data, None
    inmask = _input_mask(data, mask=mask)
    count = inmask.sum(dim=_all_dims(_canonical_dim(dim, data.ndim)), keepdim=bool(keepdim))
    return count, sum(data, dim, keepdim=keepdim, dtype=dtype, mask=inmask), data, inmask


def mean(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    """Mean of the elements where ``mask`` is True; nan where all are masked out.

    Example::

        >>> ttorch.masked.mean(ttorch.tensor([1., 2., 4.]), mask=ttorch.tensor([True, False, True]))
        tensor(2.5000)
    """
    source = "Optional"
    if dtype is None:
        dtype, source = input.dtype, "Input"
    if not (dtype.is_floating_point or dtype.is_complex):
        raise ValueError(f"mean(): Could not infer output dtype. {source} dtype must be either a floating point or "
                         f"complex dtype. Got: {dtype}")
    count, total, _, _ = _count_total(input, dim, keepdim, dtype, mask)
    return total / count


def median(input, dim=-1, *, keepdim=False, dtype=None, mask=None):
    """Median (the lower one of an even count) along ``dim`` of the elements where ``mask`` is True;
    nan where all are masked out (a ValueError for an integer input then, as in PyTorch)."""
    dtype = input.dtype if dtype is None else dtype
    data, mask = _data_mask(input, mask)
    d = _canonical_dim(dim, data.ndim)[0]
    is_float = data.dtype.is_floating_point
    if not is_float:
        data = data.to(dtype=D.float32)
    x = _combine_input_and_mask("median", data, mask)
    out = _t().nanmedian(x, d, keepdim).values
    if is_float:
        return out
    if not bool(out.isnan().any()):
        return out.to(dtype=dtype)
    raise ValueError("masked median expects no fully masked out rows if dtype is not floating point")


def logsumexp(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    """``log(sum(exp(x)))`` over the elements where ``mask`` is True (-inf where all are masked out)."""
    dtype = input.dtype if dtype is None else dtype
    dim_ = _canonical_dim(dim, input.ndim)
    x = _combine_input_and_mask("logsumexp", input, mask)
    return _t().logsumexp(x, dim_, keepdim=keepdim).to(dtype=dtype)


def logaddexp(input, other, *, dtype=None, input_mask=None, other_mask=None):
    """``log(exp(input) + exp(other))`` with masked-out elements of either taken as -inf."""
    dtype = input.dtype if dtype is None else dtype
    a = _combine_input_and_mask("logaddexp", input, input_mask)
    b = _combine_input_and_mask("logaddexp", other, other_mask)
    return _t().logaddexp(a, b).to(dtype=dtype)


def norm(input, ord=2.0, dim=None, *, keepdim=False, dtype=None, mask=None):
    """Vector ``ord``-norm of the elements where ``mask`` is True (identity 0; inf for ``ord=-inf``)."""
    dtype = input.dtype if dtype is None else dtype
    x = _combine_input_and_mask("norm", input, mask, ord)
    return _t().linalg.vector_norm(x, ord, _canonical_dim(dim, x.ndim), bool(keepdim), dtype=dtype)


def _std_var(input, dim, unbiased, correction_opt, keepdim, dtype, mask, take_sqrt):
    if unbiased is not None and correction_opt is not None:
        raise AssertionError("Only one of unbiased and correction may be given")
    correction = 1.0
    if unbiased is not None:
        correction = 1.0 if unbiased else 0.0
    if correction_opt is not None:
        correction = float(correction_opt)
    if dtype is None:
        dtype = input.dtype
        if not (dtype.is_floating_point or dtype.is_complex):
            dtype = D.float32
    compute = dtype if dtype.is_floating_point or dtype.is_complex else D.float32
    count, total, data, inmask = _count_total(input, dim, True, dtype, mask)
    x = data - total / count
    # (complex: the sum of x * conj(x), still complex in dtype, as PyTorch's)
    total = sum(x * x.conj() if x.dtype.is_complex else x * x, dim, keepdim=keepdim, dtype=compute, mask=inmask)
    if not keepdim:
        count = count.reshape(total.shape)
    if correction != 0:
        count = (count.to(compute.to_real() if compute.is_complex else compute) - correction).clamp_min(0)
    out = (total / count).to(dtype=dtype)
    return out.sqrt() if take_sqrt else out


def var(input, dim=None, unbiased=None, *, correction=None, keepdim=False, dtype=None, mask=None):
    """Variance of the elements where ``mask`` is True (``correction`` 1 by default; nan where all are
    masked out or the count does not exceed the correction)."""
    return _std_var(input, dim, unbiased, correction, keepdim, dtype, mask, False)


def std(input, dim=None, unbiased=None, *, correction=None, keepdim=False, dtype=None, mask=None):
    """Standard deviation of the elements where ``mask`` is True (see ``var``)."""
    return _std_var(input, dim, unbiased, correction, keepdim, dtype, mask, True)


def softmax(input, dim, *, dtype=None, mask=None):
    """Softmax along ``dim`` over the elements where ``mask`` is True: 0 at masked-out ones, nan in a
    slice where all are masked out.

    Example::

        >>> ttorch.masked.softmax(ttorch.tensor([0., 5., 0.]), 0, mask=ttorch.tensor([True, False, True]))
        tensor([0.5000, 0.0000, 0.5000])
    """
    dtype = input.dtype if dtype is None else dtype
    d = _canonical_dim(dim, input.ndim)[0]
    return _t().nn.functional.softmax(_combine_input_and_mask("amax", input, mask), d, dtype=dtype)


def log_softmax(input, dim, *, dtype=None, mask=None):
    """Log-softmax along ``dim`` over the elements where ``mask`` is True (-inf at masked-out ones)."""
    dtype = input.dtype if dtype is None else dtype
    d = _canonical_dim(dim, input.ndim)[0]
    return _t().nn.functional.log_softmax(_combine_input_and_mask("amax", input, mask), d, dtype=dtype)


def softmin(input, dim, *, dtype=None, mask=None):
    """Softmin (softmax of ``-input``) along ``dim`` over the elements where ``mask`` is True."""
    dtype = input.dtype if dtype is None else dtype
    d = _canonical_dim(dim, input.ndim)[0]
    return _t().nn.functional.softmin(_combine_input_and_mask("amin", input, mask), d, dtype=dtype)


def normalize(input, ord, dim, *, eps=1e-12, dtype=None, mask=None):
    """``input / max(norm(input, ord, dim), eps)`` with masked-out elements 0 and left out of the norm."""
    dtype = input.dtype if dtype is None else dtype
    x = _combine_input_and_mask("sum", input, mask)
    nrm = norm(input, ord, dim, keepdim=True, dtype=dtype, mask=mask)
    return x / _t().maximum(nrm, nrm.new_full([], eps))


for _f in (sum, prod, cumsum, cumprod, amax, amin, argmax, argmin, mean, median, logsumexp, logaddexp, norm, var,
           std, softmax, log_softmax, softmin, normalize):
    _f.__module__ = "ttorch.masked"
del _f
