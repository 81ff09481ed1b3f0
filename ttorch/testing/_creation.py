"""``make_tensor``: random test inputs with PyTorch's value ranges per dtype.

Defaults: integers uniform in [-9, 10), floats and complex parts uniform in [-9, 9), bool in {0, 1};
``low``/``high`` are clamped to what the dtype can hold (integers rounded up, as PyTorch does).
"""
import collections.abc
import functools
import math
import warnings

__all__ = ["make_tensor"]


def make_tensor(*shape, dtype, device, low=None, high=None, requires_grad=False, noncontiguous=False,
                exclude_zero=False, memory_format=None):
    """A tensor of ``shape`` filled with values uniform in ``[low, high)``.

    Args:
        shape: sizes, or one sequence of them.
        dtype, device: of the result (both required, as in PyTorch).
        low, high (float, optional): bounds; default ``-9`` and ``9`` (``10`` for integers, ``[0, 2)`` for bool).
        requires_grad (bool): only for floating and complex dtypes.
        noncontiguous (bool): a strided view (every other element of the last dim) when it has >1 element.
        exclude_zero (bool): zeros become 1 (integers) or ``finfo(dtype).tiny``.
        memory_format: layout of the result (``ttorch.contiguous_format`` and friends where ttorch has them).

    Example::

        >>> ttorch.testing.make_tensor(2, 3, dtype=ttorch.int64, device="cpu").shape
        ttorch.Size([2, 3])
    """
    import ttorch
    integral = {ttorch.uint8, ttorch.int8, ttorch.int16, ttorch.int32, ttorch.int64}
    floating = {ttorch.float16, ttorch.bfloat16, ttorch.float32, ttorch.float64}
    complex_ = {d for d in (getattr(ttorch, "complex64", None), getattr(ttorch, "complex128", None)) if d is not None}

    def modify_low_high(low, high, *, lowest_inclusive, highest_exclusive, default_low, default_high):
        low = default_low if low is None else low
        high = default_high if high is None else high
        if any(isinstance(v, float) and math.isnan(v) for v in (low, high)):
            raise ValueError(f"`low` and `high` cannot be NaN, but got low={low} and high={high}")
        elif low == high and dtype in floating | complex_:
            warnings.warn("Passing `low==high` to `torch.testing.make_tensor` for floating or complex types is "
                          "deprecated since 2.1 and will be removed in 2.3. Use `torch.full(...)` instead.",
                          FutureWarning, stacklevel=3)
        elif low >= high:
            raise ValueError(f"`low` must be less than `high`, but got {low} >= {high}")
        elif high < lowest_inclusive or low >= highest_exclusive:
            raise ValueError(f"The value interval specified by `low` and `high` is [{low}, {high}), "
                             f"but {dtype} only supports [{lowest_inclusive}, {highest_exclusive})")
        low = min(max(low, lowest_inclusive), highest_exclusive)
        high = min(max(high, lowest_inclusive), highest_exclusive)
        if dtype is ttorch.bool or dtype in integral:
            return math.ceil(low), math.ceil(high)
        return low, high

    if len(shape) == 1 and isinstance(shape[0], collections.abc.Sequence):
        shape = shape[0]
    shape = tuple(shape)
    if noncontiguous and memory_format is not None:
        raise ValueError(f"The parameters `noncontiguous` and `memory_format` are mutually exclusive, but got "
                         f"noncontiguous={noncontiguous} and memory_format={memory_format}")
    if requires_grad and (dtype is ttorch.bool or dtype in integral):
        raise ValueError(f"`requires_grad=True` is not supported for boolean and integral dtypes, but got "
                         f"dtype={dtype}")
    noncontiguous = noncontiguous and functools.reduce(lambda x, y: x * y, shape, 1) > 1
    if noncontiguous:
        shape = (*shape[:-1], 2 * shape[-1])   # a view of every other element below

    if dtype is ttorch.bool:
        low, high = modify_low_high(low, high, lowest_inclusive=0, highest_exclusive=2, default_low=0,
                                    default_high=2)
        result = ttorch.randint(low, high, shape, device=device, dtype=dtype)
    elif dtype in integral:
        info = ttorch.iinfo(dtype)
        low, high = modify_low_high(low, high, lowest_inclusive=info.min,
                                    highest_exclusive=info.max + (1 if dtype is not ttorch.int64 else 0),
                                    default_low=-9, default_high=10)
        result = ttorch.randint(low, high, shape, device=device, dtype=dtype)
    elif dtype in floating or dtype in complex_:
        info = ttorch.finfo(dtype)
        low, high = modify_low_high(low, high, lowest_inclusive=info.min, highest_exclusive=info.max,
                                    default_low=-9, default_high=9)
        result = ttorch.empty(shape, device=device, dtype=dtype)
        target = ttorch.view_as_real(result) if dtype in complex_ else result
        if high - low >= info.max:   # the range itself would overflow: draw half of it and double
            target.uniform_(low / 2, high / 2).mul_(2)
        else:
            target.uniform_(low, high)
    else:
        raise TypeError(f"The requested dtype '{dtype}' is not supported by torch.testing.make_tensor(). To "
                        "request support, file an issue at: https://github.com/pytorch/pytorch/issues")

    if noncontiguous:
        result = result[..., 1::2]
    elif memory_format is not None:
        result = result.clone(memory_format=memory_format)
    if exclude_zero:
        result[result == 0] = 1 if (dtype is ttorch.bool or dtype in integral) else ttorch.finfo(dtype).tiny
    if dtype in floating or dtype in complex_:
        result.requires_grad = requires_grad
    return result
