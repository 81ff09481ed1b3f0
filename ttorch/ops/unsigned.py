"""uint16, uint32 and uint64 tensors: the ops PyTorch 2.13 runs on them ("limited support").

PyTorch makes, casts, copies, views, joins, indexes, sorts and compares them for equality; it multiplies
and divides them, ANDs, ORs and XORs them, and sums them (into int64); it promotes them with the floating
types only. It has no ``add``, ``sub``, ``neg``, ``lt``, ``max``, ``arange``... for them, and
``uint16 + int64`` is a promotion error (``_dtype.py``). ``Op.__call__`` lets an op take these dtypes
when its name is in ``UINT_OK`` (the kernels and NumPy handle unsigned types themselves) or in
``UINT_IMPL`` (sums through int64; a binary op whose operands promote to a floating type, computed there).
Anything else raises PyTorch's ``"add_stub" not implemented for 'UInt16'``.
"""
from .. import _dtype as D
from .._tensor import Tensor
from ._op import REGISTRY, no_complex, _KERNEL_NAMES

UINT_OK = frozenset({
    "to_device", "to_dtype", "clone", "cat", "stack", "repeat", "copy_", "fill_", "view", "permute", "expand",
    "as_strided", "as_strided_view", "as_strided_view_grad", "copy_slices", "view_scatter", "split",
    "split_with_sizes", "unbind", "mul", "div", "eq", "ne", "bitwise_and", "bitwise_or", "bitwise_xor", "isnan",
    "isinf", "isfinite", "where", "index", "masked_select", "any", "all", "sort", "unique", "exp", "floor"})


def _through_int64(name):
    """Op ``name`` on the int64 values of the unsigned operands (PyTorch's sums of unsigned give int64)."""
    def run(*inputs, **attrs):
        attrs = {k: D.int64 if v in D.uint_dtypes else v for k, v in attrs.items()}
        return REGISTRY[name](*[t.to(D.int64) if type(t) is Tensor and t.dtype in D.uint_dtypes else t
                                for t in inputs], **attrs)
    return run


def _promoted(name):
    """Binary op ``name`` where the operands promote to a floating type (``uint16 + float32``): computed
    there, as any op is; with an unsigned result PyTorch has no kernel and raises."""
    def run(*inputs, **attrs):
        compute = attrs.get("compute")
        if compute is None or compute._limited:
            dt = next(t.dtype for t in inputs if type(t) is Tensor and t.dtype in D.uint_dtypes)
            raise no_complex(_KERNEL_NAMES.get(name, name), dt)
        return REGISTRY[name](*[t.to(compute) if type(t) is Tensor and t.dtype in D.uint_dtypes else t
                                for t in inputs], **attrs)
    return run


UINT_IMPL = {n: _through_int64(n) for n in ("sum", "prod", "cumsum")}
UINT_IMPL.update({n: _promoted(n) for n, op in REGISTRY.items() if op.family == "binary" and n not in UINT_OK})
for _d in D.uint_dtypes:
    _d._ops, _d._impl = UINT_OK, UINT_IMPL

__all__ = []
